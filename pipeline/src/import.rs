//! `cobro import`: streams every input file through its mapping, validates each row against the canonical
//! tables, and stages the accepted rows as Parquet. Rejected rows go to `rejects.parquet` (and `rejects.csv`)
//! with file, line, column, value and reason; none is dropped. Staging is replaced as a whole only when the
//! import succeeds, so a failed import leaves the previous staging in place.

pub mod builder;
pub mod index;
pub mod source;
pub mod validate;
pub mod value;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use cobro_domain::money;
use cobro_domain::tables::Table;
use csv::ByteRecord;
use serde::{Deserialize, Serialize};

use cobro_analytics::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::mapping::{CheckedMapping, EmitPlan, InputSpec, Source, TemplatePart};
use crate::parquet_io::WriteParquetError;
use crate::staging;
use builder::{Reject, RejectWriter, TableWriter};
use index::Origin;
use source::RowSource;
use validate::{Outcome, Validator};
use value::Value;

/// Why an import failed as a whole (row-level problems are rejects, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No input files were given.
    #[error(
        "no input files given; pass the ERP export files after the options, e.g. `cobro import --mapping data/mappings/cobro-canonical.toml exports/*.csv`"
    )]
    NoInputs,
    /// A file matches no `[[inputs]]` pattern of the mapping.
    #[error(
        "{path}: the mapping `{mapping}` has no [[inputs]] whose `match` fits this file name (patterns: {patterns}); rename the file or add an input to the mapping"
    )]
    NoMappingFor {
        /// File.
        path: PathBuf,
        /// Mapping name.
        mapping: String,
        /// Patterns the mapping has.
        patterns: String,
    },
    /// The mapping cannot drive this import (it is checked on load, so this means it changed underneath).
    #[error("mapping file {path}: {problem}")]
    InvalidMapping {
        /// Mapping file.
        path: PathBuf,
        /// What is wrong and where.
        problem: String,
    },
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    ReadInput {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path} is empty: expected a header line with the columns {expected}")]
    EmptyFile {
        /// File.
        path: PathBuf,
        /// Columns the mapping reads.
        expected: String,
    },
    /// The header lacks columns the mapping reads.
    #[error(
        "{path}, line 1: wrong header: missing column(s) {missing}\n  expected (by the mapping): {expected}\n  found: {found}\n  fix the export or the column names in the mapping"
    )]
    WrongHeader {
        /// File.
        path: PathBuf,
        /// Missing columns.
        missing: String,
        /// Columns the mapping reads.
        expected: String,
        /// Columns in the file.
        found: String,
    },
    /// The CSV cannot be parsed at all.
    #[error("{path}{}: cannot parse CSV: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    ParseCsv {
        /// File.
        path: PathBuf,
        /// Line, if known.
        line: Option<u64>,
        /// What went wrong.
        message: String,
    },
    /// The JSON cannot be parsed.
    #[error("{path}, line {line}: not valid JSON: {message}; expected an array of objects or one object per line")]
    ParseJson {
        /// File.
        path: PathBuf,
        /// Line.
        line: u64,
        /// What went wrong.
        message: String,
    },
    /// The Parquet cannot be read.
    #[error("{path}: cannot read Parquet: {message}")]
    ReadParquet {
        /// File.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Staging cannot be written.
    #[error("cannot write the staged ledger: {0}")]
    WriteStaging(#[from] WriteParquetError),
    /// Staging directories cannot be managed.
    #[error("cannot prepare the staging directory {path}: {source}")]
    StagingDir {
        /// Directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// An appending import would mix reporting currencies.
    #[error(
        "the staged ledger reports in {staged} but this mapping reports in {given}; an appending import keeps the staged ledger's reporting currency: set reporting_currency = \"{staged}\" in the mapping, or import the full extract without --append"
    )]
    ReportingCurrencyMismatch {
        /// The staged ledger's.
        staged: String,
        /// The mapping's.
        given: String,
    },
    /// Too many rows were refused.
    #[error(
        "{rejected} of {read} rows were rejected ({rate:.2} %), over --max-reject-rate {max:.2} %; nothing was staged.\n  the rejects are in {kept}\n  most common reasons:\n{top}"
    )]
    TooManyRejects {
        /// Rows rejected.
        rejected: u64,
        /// Rows read.
        read: u64,
        /// Reject rate in percent.
        rate: f64,
        /// Threshold in percent.
        max: f64,
        /// Where the rejects were kept.
        kept: PathBuf,
        /// The most common reasons, one per line.
        top: String,
    },
}

/// Row counts of one table.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableCounts {
    /// Rows the inputs offered for the table.
    pub read: u64,
    /// Rows staged.
    pub accepted: u64,
    /// Identical repeats of derived rows, merged.
    pub merged: u64,
    /// Rows refused.
    pub rejected: u64,
}

/// An input file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceFile {
    /// File name.
    pub file: String,
    /// Path as given.
    pub path: String,
    /// Hex sha256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// What an import did; also written as `import.json` in staging.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportManifest {
    /// Version of the staging layout.
    pub schema_version: u32,
    /// Mapping name.
    pub mapping: String,
    /// sha256 of the mapping file.
    pub mapping_sha256: String,
    /// Reporting currency.
    pub reporting_currency: String,
    /// When the import ran.
    pub imported_at: DateTime<Utc>,
    /// The input files.
    pub sources: Vec<SourceFile>,
    /// Counts per table.
    pub tables: BTreeMap<String, TableCounts>,
    /// Σ amount per table, kind and currency, as exact decimals (e.g. `documents.invoice.EUR`).
    pub control_totals: BTreeMap<String, String>,
    /// Rows rejected in all.
    pub rejected: u64,
}

/// Options of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The data directory (staging goes to `<data_dir>/staging`).
    pub data_dir: PathBuf,
    /// Fail when more than this percentage of rows is rejected.
    pub max_reject_rate: Option<f64>,
    /// The import's time, recorded in the manifest.
    pub now: DateTime<Utc>,
    /// Add the inputs to the staged ledger instead of replacing it (`cobro import --append`, the API's ledger
    /// push). The staged tables are read back first, so every reference, duplicate and over-application check
    /// spans the old rows and the new; the earlier rejects are kept.
    pub extend_staged: bool,
}

/// The result of a successful import.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// The manifest written to staging.
    pub manifest: ImportManifest,
    /// The first rejects, for display.
    pub first_rejects: Vec<Reject>,
    /// Where the ledger was staged.
    pub staging_dir: PathBuf,
    /// Counts of this run's inputs alone (with `extend_staged`, the manifest's counts are cumulative).
    pub batch: BTreeMap<String, TableCounts>,
}

/// Progress of a long import, for a progress bar.
pub trait Progress {
    /// A pass over a file starts.
    fn start_file(&mut self, path: &Path, table: &str, bytes: u64);
    /// Rows and bytes done in the current pass.
    fn advance(&mut self, rows: u64, bytes: u64);
    /// The pass ended.
    fn finish_file(&mut self);
}

/// A progress sink that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start_file(&mut self, _: &Path, _: &str, _: u64) {}
    fn advance(&mut self, _: u64, _: u64) {}
    fn finish_file(&mut self) {}
}

/// How many rejects are kept in memory for the summary.
const FIRST_REJECTS: usize = 20;

struct Run {
    validator: Validator,
    rejects: RejectWriter,
    rejects_csv: csv::Writer<std::fs::File>,
    first_rejects: Vec<Reject>,
    reason_counts: BTreeMap<String, u64>,
    counts: BTreeMap<Table, TableCounts>,
    totals: BTreeMap<String, i128>,
}

/// Runs an import.
pub fn import(
    mapping: &CheckedMapping,
    inputs: &[PathBuf],
    opts: &ImportOptions,
    progress: &mut dyn Progress,
) -> Result<ImportSummary, ImportError> {
    if inputs.is_empty() {
        return Err(ImportError::NoInputs);
    }
    let _lock = staging::lock(&opts.data_dir)
        .map_err(|source| ImportError::StagingDir { path: opts.data_dir.join(".staging.lock"), source })?;
    let base = if opts.extend_staged { Base::read(&opts.data_dir)? } else { None };
    if let Some(b) = &base
        && b.manifest.reporting_currency != mapping.reporting_currency.code()
    {
        return Err(ImportError::ReportingCurrencyMismatch {
            staged: b.manifest.reporting_currency.clone(),
            given: mapping.reporting_currency.code().to_owned(),
        });
    }
    let canonical = CheckedMapping::canonical(mapping.reporting_currency);
    // The staged tables come first, read with the canonical mapping; then the inputs with theirs.
    let mut plan: Vec<(&Path, &CheckedMapping, &InputSpec)> = Vec::new();
    let base_files: usize = base.as_ref().map_or(0, |b| b.tables.len());
    for path in base.iter().flat_map(|b| &b.tables) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let spec = canonical.input_for(name).ok_or_else(|| ImportError::InvalidMapping {
            path: canonical.path.clone(),
            problem: format!("no canonical input for the staged file {name}"),
        })?;
        plan.push((path, &canonical, spec));
    }
    for path in inputs {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let spec = mapping.input_for(name).ok_or_else(|| ImportError::NoMappingFor {
            path: path.clone(),
            mapping: mapping.raw.name.clone(),
            patterns: mapping.raw.inputs.iter().map(|i| format!("`{}`", i.pattern)).collect::<Vec<_>>().join(", "),
        })?;
        plan.push((path, mapping, spec));
    }
    let tmp = staging::temp_dir(&opts.data_dir)
        .map_err(|source| ImportError::StagingDir { path: opts.data_dir.clone(), source })?;
    let dir_err = |source: std::io::Error| ImportError::StagingDir { path: tmp.clone(), source };
    let mut rejects_csv =
        csv::Writer::from_path(tmp.join("rejects.csv")).map_err(|e| dir_err(std::io::Error::other(e)))?;
    rejects_csv
        .write_record(["file", "line", "table_name", "column_name", "value", "reason", "raw"])
        .map_err(|e| dir_err(std::io::Error::other(e)))?;
    let mut rejects = RejectWriter::create(&tmp)?;
    if let Some(b) = &base {
        b.carry_rejects(&mut rejects, &mut rejects_csv)?;
    }
    let mut run = Run {
        validator: Validator::new(mapping),
        rejects,
        rejects_csv,
        first_rejects: Vec::new(),
        reason_counts: BTreeMap::new(),
        counts: BTreeMap::new(),
        totals: BTreeMap::new(),
    };
    let mut sources: Vec<Option<SourceFile>> = vec![None; plan.len()];
    let file_ids: Vec<u32> = plan
        .iter()
        .enumerate()
        .map(|(i, (p, _, _))| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            run.validator.add_file(&if i < base_files { format!("the staged ledger's {name}") } else { name })
        })
        .collect();
    let mut first_pass_done = vec![false; plan.len()];
    let mut from_base: BTreeMap<Table, TableCounts> = BTreeMap::new();
    for table in Table::ALL {
        let mut writer = TableWriter::create(&tmp, table)?;
        run.counts.entry(table).or_default();
        for (i, (path, m, spec)) in plan.iter().enumerate() {
            if i == base_files {
                from_base.insert(table, run.counts[&table]);
            }
            run.validator.set_parsing(m);
            for emit in spec.emit.iter().filter(|e| e.table == table.name()) {
                let emit_plan = m
                    .plan_emit(spec, emit)
                    .map_err(|problem| ImportError::InvalidMapping { path: m.path.clone(), problem })?;
                let first = !first_pass_done[i];
                let sha = run.pass(path, spec, &emit_plan, file_ids[i], first, &mut writer, progress)?;
                if first {
                    first_pass_done[i] = true;
                    sources[i] = Some(sha);
                }
            }
        }
        from_base.entry(table).or_insert(run.counts[&table]);
        writer.finish()?;
    }
    // Files that emit nothing for any table were still named: hash them for the record.
    for (i, (path, _, _)) in plan.iter().enumerate() {
        if sources[i].is_none() {
            sources[i] = Some(source_file(path, None)?);
        }
    }
    run.rejects.finish()?;
    run.rejects_csv.flush().map_err(dir_err)?;
    // This run's own counts: what its inputs added on top of the staged rows read back.
    let batch: BTreeMap<String, TableCounts> = run
        .counts
        .iter()
        .map(|(t, c)| {
            let b = from_base.get(t).copied().unwrap_or_default();
            let d = TableCounts {
                read: c.read - b.read,
                accepted: c.accepted - b.accepted,
                merged: c.merged - b.merged,
                rejected: c.rejected - b.rejected,
            };
            (t.name().to_owned(), d)
        })
        .collect();
    let read: u64 = batch.values().map(|c| c.read).sum();
    let rejected: u64 = batch.values().map(|c| c.rejected).sum();
    let mut sources: Vec<SourceFile> = sources.into_iter().skip(base_files).flatten().collect();
    let mut tables = batch.clone();
    let mut mapping_name = mapping.raw.name.clone();
    if let Some(b) = &base {
        for (t, c) in &b.manifest.tables {
            let e = tables.entry(t.clone()).or_default();
            e.read += c.read;
            e.accepted += c.accepted;
            e.merged += c.merged;
            e.rejected += c.rejected;
        }
        sources.splice(0..0, b.manifest.sources.iter().cloned());
        if b.manifest.mapping.split(" + ").all(|m| m != mapping_name) {
            mapping_name = format!("{} + {mapping_name}", b.manifest.mapping);
        } else {
            mapping_name.clone_from(&b.manifest.mapping);
        }
    }
    let manifest = ImportManifest {
        schema_version: staging::SCHEMA_VERSION,
        mapping: mapping_name,
        mapping_sha256: source::sha256_file(&mapping.path).map(|(h, _)| h).unwrap_or_default(),
        reporting_currency: mapping.reporting_currency.code().to_owned(),
        imported_at: opts.now,
        sources,
        tables,
        control_totals: run
            .totals
            .iter()
            .map(|(k, v)| (k.clone(), money::from_stored(*v).normalize().to_string()))
            .collect(),
        rejected: base.as_ref().map_or(0, |b| b.manifest.rejected) + rejected,
    };
    staging::write_manifest(&tmp, &manifest).map_err(dir_err)?;
    if let Some(max) = opts.max_reject_rate {
        let rate = if read == 0 { 0.0 } else { rejected as f64 * 100.0 / read as f64 };
        if rate > max {
            let kept = staging::keep_failed(&opts.data_dir, &tmp, opts.now).map_err(dir_err)?;
            let mut top: Vec<(&String, &u64)> = run.reason_counts.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let top = top.iter().take(5).map(|(r, n)| format!("    {n} × {r}")).collect::<Vec<_>>().join("\n");
            return Err(ImportError::TooManyRejects { rejected, read, rate, max, kept, top });
        }
    }
    let staging_dir = staging::publish(&opts.data_dir, &tmp).map_err(dir_err)?;
    Ok(ImportSummary { manifest, first_rejects: run.first_rejects, staging_dir, batch })
}

/// The staged ledger an appending import starts from.
struct Base {
    manifest: ImportManifest,
    /// The staged table files, in load order.
    tables: Vec<PathBuf>,
    dir: PathBuf,
}

impl Base {
    /// The current staging, or `None` when nothing was imported yet.
    fn read(data_dir: &Path) -> Result<Option<Self>, ImportError> {
        let dir = staging::dir(data_dir);
        let manifest = match staging::read_manifest(data_dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ImportError::StagingDir { path: dir.join("import.json"), source }),
        };
        let tables =
            Table::ALL.iter().map(|t| dir.join(format!("{}.parquet", t.name()))).filter(|p| p.exists()).collect();
        Ok(Some(Self { manifest, tables, dir }))
    }

    /// Copies the earlier rejects into this run's rejects (Parquet and CSV), so that none is lost.
    fn carry_rejects(
        &self,
        parquet: &mut RejectWriter,
        csv_out: &mut csv::Writer<std::fs::File>,
    ) -> Result<(), ImportError> {
        let path = self.dir.join("rejects.parquet");
        if path.exists() {
            let err =
                |e: &dyn std::fmt::Display| ImportError::ReadParquet { path: path.clone(), message: e.to_string() };
            let file =
                std::fs::File::open(&path).map_err(|source| ImportError::ReadInput { path: path.clone(), source })?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build()).map_err(|e| err(&e))?;
            for b in reader {
                parquet.append_batch(&b.map_err(|e| err(&e))?)?;
            }
        }
        let path = self.dir.join("rejects.csv");
        if path.exists() {
            let csv_err =
                |e: csv::Error| ImportError::StagingDir { path: path.clone(), source: std::io::Error::other(e) };
            let mut r = csv::Reader::from_path(&path).map_err(csv_err)?;
            for rec in r.byte_records() {
                csv_out.write_byte_record(&rec.map_err(csv_err)?).map_err(csv_err)?;
            }
        }
        Ok(())
    }
}

fn source_file(path: &Path, sha: Option<(String, u64)>) -> Result<SourceFile, ImportError> {
    let (sha256, bytes) = match sha {
        Some(s) => s,
        None => source::sha256_file(path).map_err(|source| ImportError::ReadInput { path: path.to_owned(), source })?,
    };
    Ok(SourceFile {
        file: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        path: path.display().to_string(),
        sha256,
        bytes,
    })
}

/// Header positions of the columns an emit reads.
struct Resolved {
    when: Option<usize>,
    columns: Vec<ColumnRead>,
}

enum ColumnRead {
    Field(usize),
    Const(String),
    Template(Vec<TemplateRead>),
    Null,
}

enum TemplateRead {
    Text(String),
    Field(usize),
}

fn resolve(src: &RowSource, emit: &EmitPlan) -> Result<Resolved, ImportError> {
    let header = src.header();
    let pos = |name: &str| header.iter().position(|h| h == name);
    let needed = emit.source_columns();
    let missing: Vec<&String> = needed.iter().filter(|c| pos(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(ImportError::WrongHeader {
            path: src.path().to_owned(),
            missing: missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
            expected: needed.join(", "),
            found: header.join(", "),
        });
    }
    let columns = emit
        .columns
        .iter()
        .map(|c| match &c.source {
            Source::Column(name) => ColumnRead::Field(pos(name).unwrap_or(usize::MAX)),
            Source::Const(v) => ColumnRead::Const(v.clone()),
            Source::Template(parts) => ColumnRead::Template(
                parts
                    .iter()
                    .map(|p| match p {
                        TemplatePart::Text(t) => TemplateRead::Text(t.clone()),
                        TemplatePart::Column(name) => TemplateRead::Field(pos(name).unwrap_or(usize::MAX)),
                    })
                    .collect(),
            ),
            Source::Null => ColumnRead::Null,
        })
        .collect();
    Ok(Resolved { when: emit.when.as_deref().and_then(pos), columns })
}

/// A field that failed to decode.
struct DecodeProblem {
    field: usize,
    byte: u8,
    offset: usize,
}

fn field_text(src: &RowSource, record: &ByteRecord, i: usize) -> Result<Option<String>, DecodeProblem> {
    let raw = record.get(i).unwrap_or_default();
    let text = src.decode(raw).map_err(|b| DecodeProblem { field: i, byte: b.byte, offset: b.offset })?;
    let t = text.trim();
    Ok(if t.is_empty() { None } else { Some(t.to_owned()) })
}

fn raw_json(src: &RowSource, record: &ByteRecord) -> String {
    let mut obj = serde_json::Map::new();
    for (i, field) in record.iter().enumerate() {
        let name = src.header().get(i).cloned().unwrap_or_else(|| format!("extra_{}", i + 1));
        obj.insert(name, serde_json::Value::String(String::from_utf8_lossy(field).into_owned()));
    }
    serde_json::Value::Object(obj).to_string()
}

impl Run {
    #[allow(clippy::too_many_arguments)]
    fn pass(
        &mut self,
        path: &Path,
        spec: &InputSpec,
        emit: &EmitPlan,
        file_id: u32,
        first: bool,
        writer: &mut TableWriter,
        progress: &mut dyn Progress,
    ) -> Result<SourceFile, ImportError> {
        let expected = emit.source_columns();
        let mut src = RowSource::open(path, spec, &expected)?;
        let resolved = resolve(&src, emit)?;
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        progress.start_file(path, emit.table.name(), size);
        // A canonical ledger row is 40-80 bytes of text; reserving for size / 64 rows sizes the index once.
        self.validator.reserve(emit.table, usize::try_from(size / 64).unwrap_or(0));
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let formats: Vec<&str> = emit.columns.iter().map(|c| c.date_format.as_str()).collect();
        let width = src.header().len();
        let mut record = ByteRecord::new();
        let mut texts: Vec<Option<String>> = Vec::with_capacity(emit.columns.len());
        let mut rows = 0_u64;
        let table = emit.table;
        while let Some(line) = src.next_row(&mut record)? {
            rows += 1;
            if rows.is_multiple_of(16_384) {
                progress.advance(rows, src.bytes_read());
            }
            let origin = Origin::new(file_id, line);
            // Problems with the row itself are reported once per file, on its first pass.
            if record.len() != width {
                if first {
                    let reason = format!(
                        "malformed line: {} fields but the header has {width}; look for an unquoted delimiter or a missing quote",
                        record.len()
                    );
                    self.count_row_problem(table);
                    self.reject(&src, &record, &file_name, line, table, None, None, reason)?;
                }
                continue;
            }
            if let Some(w) = resolved.when {
                match field_text(&src, &record, w) {
                    Ok(Some(_)) => {}
                    Ok(None) => continue,
                    Err(_) => continue, // reported with the row's other fields below on the first pass
                }
            }
            match self.read_texts(&src, &record, &resolved, emit, &mut texts) {
                Ok(()) => {}
                Err(p) => {
                    if first || !matches!(resolved.columns.get(p.field), Some(ColumnRead::Field(_))) {
                        let column = src.header().get(p.field).cloned();
                        let reason = format!(
                            "byte 0x{:02X} at position {} of column `{}` is not valid UTF-8; the file looks like Windows-1252/Latin-1: set encoding = \"windows-1252\" in the mapping's [[inputs]], or re-export as UTF-8",
                            p.byte,
                            p.offset + 1,
                            column.as_deref().unwrap_or("?")
                        );
                        self.count_row_problem(table);
                        self.reject(&src, &record, &file_name, line, table, column, None, reason)?;
                    }
                    continue;
                }
            }
            let counts = self.counts.entry(table).or_default();
            counts.read += 1;
            let outcome = self
                .validator
                .parse_row(table, &mut texts, &formats)
                .and_then(|mut row| self.validator.check(table, &mut row, origin).map(|o| (o, row)));
            match outcome {
                Ok((Outcome::Accepted, row)) => {
                    self.count_totals(table, &row);
                    self.counts.entry(table).or_default().accepted += 1;
                    writer.append(&row)?;
                }
                Ok((Outcome::Merged, _)) => self.counts.entry(table).or_default().merged += 1,
                Err(p) => {
                    self.counts.entry(table).or_default().rejected += 1;
                    self.reject(
                        &src,
                        &record,
                        &file_name,
                        line,
                        table,
                        p.column.map(str::to_owned),
                        p.value,
                        p.reason,
                    )?;
                }
            }
        }
        progress.advance(rows, src.bytes_read());
        progress.finish_file();
        let sha = src.sha256().map(|h| (h, src.bytes_read()));
        source_file(path, sha)
    }

    fn read_texts(
        &self,
        src: &RowSource,
        record: &ByteRecord,
        resolved: &Resolved,
        emit: &EmitPlan,
        texts: &mut Vec<Option<String>>,
    ) -> Result<(), DecodeProblem> {
        texts.clear();
        for (read, plan) in resolved.columns.iter().zip(&emit.columns) {
            let text = match read {
                ColumnRead::Field(i) => field_text(src, record, *i)?,
                ColumnRead::Const(v) => Some(v.clone()),
                ColumnRead::Template(parts) => {
                    let mut s = String::new();
                    let mut complete = true;
                    for part in parts {
                        match part {
                            TemplateRead::Text(t) => s.push_str(t),
                            TemplateRead::Field(i) => match field_text(src, record, *i)? {
                                Some(v) => s.push_str(&v),
                                None => complete = false,
                            },
                        }
                    }
                    complete.then_some(s)
                }
                ColumnRead::Null => None,
            };
            let text = text.map(|t| plan.map.get(&t).cloned().unwrap_or(t));
            texts.push(text);
        }
        Ok(())
    }

    fn count_row_problem(&mut self, table: Table) {
        let c = self.counts.entry(table).or_default();
        c.read += 1;
        c.rejected += 1;
    }

    fn count_totals(&mut self, table: Table, row: &[Value]) {
        let key = match table {
            Table::Documents => row[2].text().zip(row[5].text()).map(|(k, c)| (format!("documents.{k}.{c}"), 6)),
            Table::Payments => row[3].text().map(|c| (format!("payments.{c}"), 4)),
            Table::Allocations => Some(("allocations".to_owned(), 3)),
            _ => None,
        };
        if let Some((k, i)) = key
            && let Some(m) = row[i].money()
        {
            *self.totals.entry(k).or_default() += m;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reject(
        &mut self,
        src: &RowSource,
        record: &ByteRecord,
        file: &str,
        line: u64,
        table: Table,
        column: Option<String>,
        value: Option<String>,
        reason: String,
    ) -> Result<(), ImportError> {
        let r = Reject {
            file: file.to_owned(),
            line,
            table: table.name(),
            column,
            value,
            reason,
            raw: raw_json(src, record),
        };
        let short = r.reason.split(':').next().unwrap_or_default().to_owned();
        *self.reason_counts.entry(short).or_default() += 1;
        self.rejects.append(&r)?;
        self.rejects_csv
            .write_record([
                r.file.as_str(),
                &r.line.to_string(),
                r.table,
                r.column.as_deref().unwrap_or_default(),
                r.value.as_deref().unwrap_or_default(),
                &r.reason,
                &r.raw,
            ])
            .map_err(|e| ImportError::StagingDir { path: "rejects.csv".into(), source: std::io::Error::other(e) })?;
        if self.first_rejects.len() < FIRST_REJECTS {
            self.first_rejects.push(r);
        }
        Ok(())
    }
}

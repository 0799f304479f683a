//! Golden SQL tests: every `tests/sql/*.slt` file runs through a sqllogictest runner against a snapshot of a
//! hand-made fixture, with the same views the product uses (`analytics/sql/*.sql`).
//!
//! Each file starts with header comments that say what to load:
//!
//! ```text
//! # fixture: data/fixtures/metrics          ledger CSVs in the canonical format (docs/canonical-format.md)
//! # collections: data/fixtures/collections  optional: one <table>.csv per collection table to fill
//! # as-of: 2024-12-31                       the snapshot date
//! # alarms: credit_wait_days=4              optional: alarm thresholds other than the defaults
//! ```
//!
//! The ledger goes through the real `cobro import` and `cobro snapshot`. Collection records come from the
//! operational store, which a fixture does not have, so this runner writes each `<table>.csv` of the collections
//! directory into the snapshot's table of that name (every table of `COLLECTION_TABLES`), with its canonical
//! schema. A CSV names the columns it fills in its header, in any order; the others are null.
//!
//! Cells print as Arrow formats them, NULL as `NULL`. Run one file with `cargo test --test sql -- NAME`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use async_trait::async_trait;
use cobro_analytics::arrow::array::new_null_array;
use cobro_analytics::arrow::datatypes::DataType;
use cobro_analytics::arrow::record_batch::RecordBatch;
use cobro_analytics::arrow::util::display::{ArrayFormatter, FormatOptions};
use cobro_analytics::datafusion::prelude::{CsvReadOptions, SessionContext};
use cobro_analytics::parquet::arrow::ArrowWriter;
use cobro_analytics::sql::{AlarmParams, SqlParams};
use cobro_analytics::{SnapshotSession, schema};
use cobro_domain::tables::COLLECTION_TABLES;
use cobro_domain::{AgeingBuckets, AsOf};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};

const COBRO: &str = env!("CARGO_BIN_EXE_cobro");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What an `.slt` file asks to be loaded: one snapshot per distinct setup.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Setup {
    fixture: String,
    collections: Option<String>,
    as_of: String,
}

/// The header keys: `# key: value` at the start of a line, in the comments before the first record. Prose lines
/// in the header that contain a colon (`#   collections: PAY-6026 ...`) are not settings.
const HEADER_KEYS: &[&str] = &["fixture", "collections", "as-of", "alarms"];

fn read_header(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut fields = BTreeMap::new();
    for line in text.lines().take_while(|l| l.starts_with('#') || l.trim().is_empty()) {
        if let Some((key, value)) = line.strip_prefix("# ").and_then(|rest| rest.split_once(':'))
            && HEADER_KEYS.contains(&key)
        {
            fields.insert(key.to_owned(), value.trim().to_owned());
        }
    }
    Ok(fields)
}

fn read_setup(path: &Path, fields: &BTreeMap<String, String>) -> Result<Setup, String> {
    let need = |key: &str| {
        fields.get(key).cloned().ok_or_else(|| format!("{}: the header has no `# {key}: ...` line", path.display()))
    };
    Ok(Setup { fixture: need("fixture")?, collections: fields.get("collections").cloned(), as_of: need("as-of")? })
}

/// `# alarms: action_days_past_due=90, credit_wait_days=4`: other alarm thresholds than the defaults (the
/// snapshot is the same; only the views' parameters change).
fn read_alarms(path: &Path, fields: &BTreeMap<String, String>) -> Result<AlarmParams, String> {
    let mut alarms = AlarmParams::default();
    let Some(text) = fields.get("alarms") else {
        return Ok(alarms);
    };
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let bad = || format!("{}: `# alarms:` item `{item}` is not NAME=DAYS", path.display());
        let (name, value) = item.split_once('=').ok_or_else(bad)?;
        let days: u32 = value.trim().parse().map_err(|_| bad())?;
        match name.trim() {
            "action_days_past_due" => alarms.action_days_past_due = days,
            "credit_wait_days" => alarms.credit_wait_days = days,
            other => {
                return Err(format!(
                    "{}: `# alarms:` has no `{other}`; use action_days_past_due and credit_wait_days",
                    path.display()
                ));
            }
        }
    }
    Ok(alarms)
}

fn run_cobro(data_dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(COBRO)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .current_dir(ROOT)
        .output()
        .map_err(|e| format!("cannot run cobro: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cobro {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Imports the fixture, builds the snapshot, writes the collection records; returns the snapshot directory.
async fn prepare(setup: &Setup, work: &Path) -> Result<PathBuf, String> {
    // One data directory per setup: the same ledger and date with other collection records is another snapshot.
    let collections = setup.collections.as_deref().unwrap_or("none");
    let data_dir = work.join(format!("{}-{}-{}", setup.fixture, collections, setup.as_of).replace('/', "_"));
    let fixture = Path::new(ROOT).join(&setup.fixture);
    let mut args = vec!["import".to_owned(), "--mapping".to_owned(), "data/mappings/cobro-canonical.toml".to_owned()];
    for table in ["customers", "documents", "payments", "allocations", "fx_rates"] {
        args.push(fixture.join(format!("{table}.csv")).display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_cobro(&data_dir, &args)?;
    run_cobro(&data_dir, &["snapshot", "--as-of", &setup.as_of])?;
    let snap = data_dir.join("snapshots").join(format!("as_of={}", setup.as_of)).join("v=1");
    if let Some(collections) = &setup.collections {
        let dir = Path::new(ROOT).join(collections);
        // A CSV named after no table (a typo) would otherwise be skipped and its records silently missing.
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if path.extension().is_some_and(|x| x == "csv") && !COLLECTION_TABLES.iter().any(|(t, _)| *t == stem) {
                let tables: Vec<&str> = COLLECTION_TABLES.iter().map(|(t, _)| *t).collect();
                return Err(format!(
                    "{}: not a collection table; the tables are {}",
                    path.display(),
                    tables.join(", ")
                ));
            }
        }
        for (table, columns) in COLLECTION_TABLES {
            let csv = dir.join(format!("{table}.csv"));
            if csv.exists() {
                write_collection_table(&csv, &snap.join(format!("{table}.parquet")), table, columns).await?;
            }
        }
    }
    Ok(snap)
}

/// Writes one collection table from a CSV whose header names some of the table's columns, in any order: the
/// columns it leaves out are null (fixtures written before a column existed keep working), and a header name that
/// is not a column of the table is an error, so a typo cannot silently become a null column.
async fn write_collection_table(
    csv: &Path,
    parquet: &Path,
    table: &str,
    columns: &[cobro_domain::tables::ColumnSpec],
) -> Result<(), String> {
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", csv.display());
    let header: Vec<String> = csv::Reader::from_path(csv)
        .and_then(|mut r| r.headers().map(|h| h.iter().map(str::to_owned).collect()))
        .map_err(|e| at(&e))?;
    let mut present = Vec::new();
    for name in &header {
        let Some(spec) = columns.iter().find(|c| c.name == name) else {
            let known: Vec<&str> = columns.iter().map(|c| c.name).collect();
            return Err(at(&format!("`{name}` is not a column of `{table}`; its columns are {}", known.join(", "))));
        };
        present.push(*spec);
    }
    let ctx = SessionContext::new();
    let read_schema = schema::columns_schema(&present);
    let options = CsvReadOptions::new().has_header(true).schema(&read_schema).null_regex(Some("^$".to_owned()));
    let batches = ctx
        .read_csv(csv.display().to_string(), options)
        .await
        .map_err(|e| at(&e))?
        .collect()
        .await
        .map_err(|e| at(&e))?;
    let full = schema::columns_schema(columns);
    let file = std::fs::File::create(parquet).map_err(|e| format!("{}: {e}", parquet.display()))?;
    let mut writer = ArrowWriter::try_new(file, full.clone(), None).map_err(|e| e.to_string())?;
    for batch in &batches {
        let arrays = full
            .fields()
            .iter()
            .map(|f| match batch.column_by_name(f.name()) {
                Some(column) => column.clone(),
                None => new_null_array(f.data_type(), batch.num_rows()),
            })
            .collect();
        let batch = RecordBatch::try_new(full.clone(), arrays).map_err(|e| at(&e))?;
        writer.write(&batch).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(())
}

/// A sqllogictest connection: a session over one snapshot.
struct Db {
    session: SnapshotSession,
}

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

fn column_type(ty: &DataType) -> DefaultColumnType {
    match ty {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt64 => {
            DefaultColumnType::Integer
        }
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => DefaultColumnType::FloatingPoint,
        _ => DefaultColumnType::Text,
    }
}

#[async_trait]
impl AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let df = self.session.sql(sql).await.map_err(|e| DbError(e.to_string()))?;
        let types: Vec<DefaultColumnType> = df.schema().fields().iter().map(|f| column_type(f.data_type())).collect();
        let batches = df.collect().await.map_err(|e| DbError(e.to_string()))?;
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| DbError(e.to_string()))?;
            for row in 0..batch.num_rows() {
                rows.push(formatters.iter().map(|f| f.value(row).to_string()).collect());
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "cobro"
    }
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let dir = Path::new(ROOT).join("tests/sql");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "slt"))
            .collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    files.sort();
    files.retain(|f| filter.as_deref().is_none_or(|name| f.display().to_string().contains(name)));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let work = tempfile::tempdir().expect("temp dir");
    let mut prepared: BTreeMap<Setup, PathBuf> = BTreeMap::new();
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let result: Result<(), String> = runtime.block_on(async {
            let header = read_header(file)?;
            let setup = read_setup(file, &header)?;
            let alarms = read_alarms(file, &header)?;
            let snap = match prepared.get(&setup) {
                Some(dir) => dir.clone(),
                None => {
                    let dir = prepare(&setup, work.path()).await?;
                    prepared.insert(setup.clone(), dir.clone());
                    dir
                }
            };
            let as_of: AsOf = setup.as_of.parse().map_err(|e| format!("{name}: as-of: {e:?}"))?;
            let reporting = std::fs::read_to_string(snap.join("manifest.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|m| m["reporting_currency"].as_str().map(str::to_owned))
                .ok_or_else(|| format!("{name}: no reporting currency in the manifest"))?;
            let params = SqlParams::new(as_of, AgeingBuckets::default(), reporting).with_alarms(alarms);
            let mut runner = Runner::new(move || {
                let (snap, params) = (snap.clone(), params.clone());
                async move {
                    SnapshotSession::open(&snap, params)
                        .await
                        .map(|session| Db { session })
                        .map_err(|e| DbError(e.to_string()))
                }
            });
            runner.run_file_async(file).await.map_err(|e| e.display(false).to_string())
        });
        match result {
            Ok(()) => println!("ok     {name}"),
            Err(e) => {
                println!("FAILED {name}\n{e}");
                failures.push(name);
            }
        }
    }
    println!("\n{} slt files, {} failed", files.len(), failures.len());
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

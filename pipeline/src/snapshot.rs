//! `cobro snapshot`: an immutable, versioned Parquet snapshot of the staged ledger at an as-of date, with the
//! derived `open_items` and a `manifest.json` (sources with sha256, counts, control totals, schema version,
//! knowledge time).
//!
//! Layout: `<data_dir>/snapshots/as_of=YYYY-MM-DD/v=N/`. A snapshot is built in a temporary directory next to
//! its final place, every file and the directory are synced, and then one rename publishes it. Readers only
//! look at `as_of=*/v=*` directories, so they never see half a snapshot, and a crash leaves the earlier
//! versions as they were. Rebuilding from the same staged ledger gives byte-identical data files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use cobro_analytics::arrow::array::{Array, RecordBatch};
use cobro_analytics::arrow::compute::concat_batches;
use cobro_analytics::datafusion::execution::SendableRecordBatchStream;
use cobro_analytics::sql::{self, SqlParams};
use cobro_analytics::{QueryError, SnapshotSession, cells, schema};
use cobro_domain::tables::{COLLECTION_TABLES, TextTable};
use cobro_domain::{AgeingBuckets, AsOf, money};
use serde::{Deserialize, Serialize};
use tokio_stream_shim::next_batch;

use crate::import::{SourceFile, TableCounts};
use crate::parquet_io::{ParquetFile, WriteParquetError};
use crate::{fsutil, staging};

/// Why a snapshot cannot be built or found.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Nothing has been imported.
    #[error("no staged ledger in {data_dir}: run `cobro import --mapping FILE INPUT...` first (or `cobro demo`)")]
    NoStaging {
        /// Data directory.
        data_dir: PathBuf,
    },
    /// No snapshot exists (for that date).
    #[error("no snapshot{} in {data_dir}: build one with `cobro snapshot --as-of YYYY-MM-DD`{}", as_of.map(|a| format!(" as of {a}")).unwrap_or_default(), available)]
    NotFound {
        /// Data directory.
        data_dir: PathBuf,
        /// The date asked for.
        as_of: Option<AsOf>,
        /// The dates that exist, as a sentence.
        available: String,
    },
    /// File-system trouble.
    #[error("snapshot IO failed at {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A table could not be written.
    #[error(transparent)]
    Write(#[from] WriteParquetError),
    /// A derived table could not be computed.
    #[error("cannot compute {table}: {source}")]
    Derive {
        /// Table.
        table: &'static str,
        /// Cause.
        #[source]
        source: QueryError,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io { path: path.to_owned(), source }
}

/// A data file of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DataFile {
    /// Rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
    /// Hex sha256.
    pub sha256: String,
}

/// `manifest.json` of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotManifest {
    /// Layout version.
    pub schema_version: u32,
    /// As-of date.
    pub as_of: AsOf,
    /// Version number within the date.
    pub version: u32,
    /// When this snapshot was built: the knowledge time (what was known, and when).
    pub created_at: DateTime<Utc>,
    /// When the ledger it was built from was imported.
    pub imported_at: DateTime<Utc>,
    /// Mapping used for the import.
    pub mapping: String,
    /// Reporting currency.
    pub reporting_currency: String,
    /// Input files of the import, with sha256.
    pub sources: Vec<SourceFile>,
    /// Import counts per table (read, accepted, merged, rejected).
    pub import_counts: BTreeMap<String, TableCounts>,
    /// The data files.
    pub files: BTreeMap<String, DataFile>,
    /// Control totals: the import's Σ amounts, plus the open balance at the as-of date per currency and in the
    /// reporting currency.
    pub control_totals: BTreeMap<String, String>,
    /// Latest payment received on or before the as-of date (the freshness of the payment feed).
    pub latest_payment_date: Option<String>,
    /// Ageing bucket edges used for `open_items.bucket`.
    pub bucket_edges: Vec<i64>,
}

/// A snapshot on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRef {
    /// As-of date.
    pub as_of: AsOf,
    /// Version.
    pub version: u32,
    /// Directory.
    pub dir: PathBuf,
}

/// Options of a snapshot build.
#[derive(Clone)]
pub struct SnapshotOptions {
    /// Data directory.
    pub data_dir: PathBuf,
    /// As-of date.
    pub as_of: AsOf,
    /// Build time.
    pub now: DateTime<Utc>,
    /// Ageing buckets.
    pub buckets: AgeingBuckets,
    /// The collection records exported from the operational store; a collection table absent here is written
    /// empty, with its schema.
    pub collections: Vec<TextTable>,
    /// Told where the build is, at the start of each step (for a progress display).
    pub progress: Option<Progress>,
}

/// A build's progress: `(step, steps, what the step does)`, called at the start of each step.
pub type Progress = std::sync::Arc<dyn Fn(u32, u32, &str) + Send + Sync>;

/// How many steps a build has.
pub const STEP_COUNT: u32 = 6;

/// The steps of a build, in order, as [`Progress`] names them.
pub const STEPS: [&str; STEP_COUNT as usize] = [
    "copying the staged ledger",
    "writing the collection records",
    "deriving the open items",
    "computing the control totals",
    "checksumming the files",
    "publishing",
];

/// The snapshots directory.
pub fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

/// Stops the process at a named point when `COBRO_FAILPOINT` names it. This is how the tests simulate a crash
/// in the middle of a snapshot; it costs one environment lookup per point.
fn failpoint(name: &str) {
    if std::env::var("COBRO_FAILPOINT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// Every published snapshot, oldest first.
pub fn list(data_dir: &Path) -> Result<Vec<SnapshotRef>, SnapshotError> {
    let root = root(data_dir);
    let mut out = Vec::new();
    let Ok(dates) = fs::read_dir(&root) else {
        return Ok(out);
    };
    for date in dates {
        let date = date.map_err(io(&root))?.path();
        let Some(as_of) = date
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("as_of="))
            .and_then(|d| AsOf::parse(d).ok())
        else {
            continue;
        };
        for v in fs::read_dir(&date).map_err(io(&date))? {
            let dir = v.map_err(io(&date))?.path();
            let version = dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("v="))
                .and_then(|n| n.parse().ok());
            if let Some(version) = version
                && dir.join("manifest.json").is_file()
            {
                out.push(SnapshotRef { as_of, version, dir });
            }
        }
    }
    out.sort_by_key(|s| (s.as_of, s.version));
    Ok(out)
}

/// The snapshot to read: the latest version of `as_of`, or of the latest date.
pub fn resolve(data_dir: &Path, as_of: Option<AsOf>) -> Result<SnapshotRef, SnapshotError> {
    let all = list(data_dir)?;
    let found = all.iter().rev().find(|s| as_of.is_none_or(|a| a == s.as_of)).cloned();
    found.ok_or_else(|| {
        let mut dates: Vec<String> = all.iter().map(|s| s.as_of.to_string()).collect();
        dates.dedup();
        let available = if dates.is_empty() { String::new() } else { format!(" (available: {})", dates.join(", ")) };
        SnapshotError::NotFound { data_dir: data_dir.to_owned(), as_of, available }
    })
}

/// Reads a snapshot's manifest.
pub fn read_manifest(dir: &Path) -> Result<SnapshotManifest, SnapshotError> {
    let path = dir.join("manifest.json");
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    serde_json::from_str(&text).map_err(|e| SnapshotError::Io { path, source: std::io::Error::other(e) })
}

/// The SQL parameters a snapshot's views are rendered with.
pub fn sql_params(manifest: &SnapshotManifest) -> SqlParams {
    SqlParams::new(
        manifest.as_of,
        AgeingBuckets::new(manifest.bucket_edges.clone()).unwrap_or_default(),
        manifest.reporting_currency.clone(),
    )
}

/// Removes temporary directories left by snapshot builds that crashed (their process is gone).
fn clean_stale(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid =
            name.strip_prefix(".tmp-").and_then(|rest| rest.rsplit('-').next()).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && Path::new("/proc").is_dir()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The staged tables copied into every snapshot.
const STAGED: &[&str] = &["customers", "documents", "payments", "allocations", "fx_rates", "rejects"];

/// Builds and publishes a snapshot.
pub async fn build(opts: &SnapshotOptions) -> Result<(SnapshotRef, SnapshotManifest), SnapshotError> {
    let step = |n: u32| {
        if let Some(p) = &opts.progress {
            p(n, STEP_COUNT, STEPS[n as usize - 1]);
        }
    };
    step(1);
    let staged = staging::dir(&opts.data_dir);
    let import = staging::read_manifest(&opts.data_dir)
        .map_err(|_| SnapshotError::NoStaging { data_dir: opts.data_dir.clone() })?;
    let root = root(&opts.data_dir);
    fs::create_dir_all(&root).map_err(io(&root))?;
    clean_stale(&root);
    let tmp = root.join(format!(".tmp-{}-{}", opts.as_of, std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    fs::create_dir(&tmp).map_err(io(&tmp))?;

    for table in STAGED {
        let from = staged.join(format!("{table}.parquet"));
        let to = tmp.join(format!("{table}.parquet"));
        fs::copy(&from, &to).map_err(io(&from))?;
        fs::File::open(&to).and_then(|f| f.sync_all()).map_err(io(&to))?;
    }
    step(2);
    // The collection tables come from the operational store, as known now (the knowledge time in the manifest);
    // the views apply the as-of date to their business dates. A table the store did not hand over is written
    // empty, with its schema, so that the views keep one shape.
    for (table, columns) in COLLECTION_TABLES {
        let path = tmp.join(format!("{table}.parquet"));
        let mut out = ParquetFile::create(&path, schema::columns_schema(columns))?;
        if let Some(t) = opts.collections.iter().find(|t| t.name == *table) {
            let batch = schema::text_table_batch(t).map_err(|message| SnapshotError::Derive {
                table: "collections",
                source: QueryError::Plan { message: format!("operational store export: {message}") },
            })?;
            for start in (0..batch.num_rows()).step_by(WRITE_BATCH_ROWS) {
                out.write(&batch.slice(start, WRITE_BATCH_ROWS.min(batch.num_rows() - start)))?;
            }
        }
        out.finish()?;
    }
    failpoint("snapshot-after-copy");

    step(3);
    let params = SqlParams::new(opts.as_of, opts.buckets.clone(), import.reporting_currency.clone());
    let session = SnapshotSession::open(&tmp, params.clone())
        .await
        .map_err(|source| SnapshotError::Derive { table: "open_items", source })?;
    let derive = |source| SnapshotError::Derive { table: "open_items", source };
    let df = session.template(sql::OPEN_ITEMS).await.map_err(derive)?;
    let schema = df.schema().inner().clone();
    let stream = SnapshotSession::stream(df).await.map_err(derive)?;
    let out = ParquetFile::create(&tmp.join("open_items.parquet"), schema)?;
    write_rebatched(stream, out).await?;
    failpoint("snapshot-mid-write");

    // Control totals and feed freshness, read back from the files just written.
    step(4);
    let session = SnapshotSession::open(&tmp, params).await.map_err(derive)?;
    let mut control_totals = import.control_totals.clone();
    let totals = session
        .collect("SELECT currency, CAST(SUM(balance) AS DECIMAL(38, 4)) AS b, CAST(SUM(balance_rc) AS DECIMAL(38, 4)) AS rc, COUNT(*) AS n, COUNT(*) - COUNT(balance_rc) AS unconverted FROM open_items GROUP BY currency ORDER BY currency")
        .await
        .map_err(derive)?;
    let mut total_rc: i128 = 0;
    // Open items without a rate to the reporting currency are not in the reporting-currency total: say how many,
    // so the total is never read as complete when it is not.
    let mut unconverted: i64 = 0;
    for batch in &totals {
        let cur = cells::strings(batch.column(0)).map_err(derive)?;
        let bal = cells::decimals(batch.column(1), 4).map_err(derive)?;
        let rc = cells::decimals(batch.column(2), 4).map_err(derive)?;
        let n = cells::ints(batch.column(3)).map_err(derive)?;
        let missing = cells::ints(batch.column(4)).map_err(derive)?;
        for i in 0..batch.num_rows() {
            unconverted += missing.value(i);
            control_totals.insert(
                format!("open_items.balance.{}", cur.value(i)),
                money::from_stored(bal.value(i)).normalize().to_string(),
            );
            control_totals.insert(format!("open_items.count.{}", cur.value(i)), n.value(i).to_string());
            if !rc.is_null(i) {
                total_rc += rc.value(i);
            }
        }
    }
    control_totals.insert("open_items.unconverted_count".to_owned(), unconverted.to_string());
    control_totals.insert(
        format!("open_items.balance_rc.{}", import.reporting_currency),
        money::from_stored(total_rc).normalize().to_string(),
    );
    let latest = session
        .collect(&format!(
            "SELECT CAST(MAX(received_date) AS VARCHAR) FROM payments WHERE received_date <= DATE '{}'",
            opts.as_of
        ))
        .await
        .map_err(derive)?;
    let latest_payment_date = match latest.first() {
        Some(b) => {
            let c = cells::strings(b.column(0)).map_err(derive)?;
            (!c.is_empty() && !c.is_null(0)).then(|| c.value(0).to_owned())
        }
        None => None,
    };

    step(5);
    let mut files = BTreeMap::new();
    for table in STAGED.iter().copied().chain(COLLECTION_TABLES.iter().map(|(t, _)| *t)).chain(["open_items"]) {
        let path = tmp.join(format!("{table}.parquet"));
        let (sha256, bytes) = crate::import::source::sha256_file(&path).map_err(io(&path))?;
        let rows = parquet_rows(&path)?;
        files.insert(table.to_owned(), DataFile { rows, bytes, sha256 });
    }
    let mut manifest = SnapshotManifest {
        schema_version: staging::SCHEMA_VERSION,
        as_of: opts.as_of,
        version: 0,
        created_at: opts.now,
        imported_at: import.imported_at,
        mapping: import.mapping.clone(),
        reporting_currency: import.reporting_currency.clone(),
        sources: import.sources.clone(),
        import_counts: import.tables.clone(),
        files,
        control_totals,
        latest_payment_date,
        bucket_edges: opts.buckets.upper_edges().to_vec(),
    };
    let date_dir = root.join(format!("as_of={}", opts.as_of));
    fs::create_dir_all(&date_dir).map_err(io(&date_dir))?;
    fsutil::sync_dir(&root).map_err(io(&root))?;
    failpoint("snapshot-before-publish");
    step(6);
    // Publish under the next free version. The rename fails if another build took that number first
    // (the target is then a non-empty directory), and we move on to the next one.
    let mut version = next_version(&date_dir)?;
    loop {
        manifest.version = version;
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| SnapshotError::Io { path: tmp.clone(), source: std::io::Error::other(e) })?;
        fsutil::write_synced(&tmp.join("manifest.json"), text.as_bytes()).map_err(io(&tmp))?;
        fsutil::sync_dir(&tmp).map_err(io(&tmp))?;
        let target = date_dir.join(format!("v={version}"));
        match fs::rename(&tmp, &target) {
            Ok(()) => {
                fsutil::sync_dir(&date_dir).map_err(io(&date_dir))?;
                return Ok((SnapshotRef { as_of: opts.as_of, version, dir: target }, manifest));
            }
            Err(e) if target.exists() && version < u32::MAX => {
                tracing::debug!("version {version} was taken ({e}); trying the next");
                version += 1;
            }
            Err(e) => return Err(io(&target)(e)),
        }
    }
}

fn next_version(date_dir: &Path) -> Result<u32, SnapshotError> {
    let mut max = 0;
    for e in fs::read_dir(date_dir).map_err(io(date_dir))? {
        let name = e.map_err(io(date_dir))?.file_name();
        if let Some(v) = name.to_str().and_then(|n| n.strip_prefix("v=")).and_then(|n| n.parse::<u32>().ok()) {
            max = max.max(v);
        }
    }
    Ok(max + 1)
}

fn parquet_rows(path: &Path) -> Result<u64, SnapshotError> {
    use cobro_analytics::parquet::file::reader::{FileReader, SerializedFileReader};
    let file = fs::File::open(path).map_err(io(path))?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| SnapshotError::Io { path: path.to_owned(), source: std::io::Error::other(e) })?;
    Ok(u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// Rows per batch handed to the Parquet writer. Fixed, so that page boundaries, and with them the bytes, do not
/// depend on how the query engine happened to split its output.
const WRITE_BATCH_ROWS: usize = 65_536;

async fn write_rebatched(mut stream: SendableRecordBatchStream, mut out: ParquetFile) -> Result<u64, SnapshotError> {
    let schema = stream.schema();
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    let derive = |e: &dyn std::fmt::Display| SnapshotError::Derive {
        table: "open_items",
        source: QueryError::Plan { message: e.to_string() },
    };
    loop {
        let next = next_batch(&mut stream).await.map_err(|e| derive(&e))?;
        let done = next.is_none();
        if let Some(b) = next {
            pending_rows += b.num_rows();
            pending.push(b);
        }
        while pending_rows >= WRITE_BATCH_ROWS || (done && pending_rows > 0) {
            let all = concat_batches(&schema, &pending).map_err(|e| derive(&e))?;
            let take = all.num_rows().min(WRITE_BATCH_ROWS);
            out.write(&all.slice(0, take))?;
            let rest = all.slice(take, all.num_rows() - take);
            pending_rows = rest.num_rows();
            pending = if pending_rows > 0 { vec![rest] } else { Vec::new() };
        }
        if done {
            break;
        }
    }
    Ok(out.finish()?)
}

/// Pulling the next batch off a DataFusion stream without adding a `futures` dependency to this crate.
mod tokio_stream_shim {
    use cobro_analytics::arrow::record_batch::RecordBatch;
    use cobro_analytics::datafusion::error::DataFusionError;
    use cobro_analytics::datafusion::execution::SendableRecordBatchStream;

    /// The next batch, or `None` at the end.
    pub async fn next_batch(stream: &mut SendableRecordBatchStream) -> Result<Option<RecordBatch>, DataFusionError> {
        std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await.transpose()
    }
}

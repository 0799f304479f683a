//! `cobro snapshot`: an immutable, versioned Parquet snapshot of the staged ledger at an as-of date, with the
//! derived `open_items` and a `manifest.json` (sources with sha256, counts, control totals, schema version,
//! knowledge time).
//!
//! Layout: `<root>/as_of=YYYY-MM-DD/v=N/`, where the root is `<data_dir>/snapshots` on the local file system or
//! `s3://bucket/prefix/snapshots` in an S3-compatible object store ([`SnapshotRoot`]). Readers only look at
//! `as_of=*/v=*` directories that have a `manifest.json`, so they never see half a snapshot, and a crash leaves the
//! earlier versions as they were. Rebuilding from the same staged ledger gives byte-identical data files.
//!
//! Publishing differs by root (decision 0004, decision 0015). On the file system a snapshot is built in a
//! temporary directory next to its final place, every file and the directory are synced, and one rename publishes
//! it. An object store has no rename, so a snapshot is built locally and then committed manifest-last: the version
//! is claimed with a conditional create (`_claim.json`, If-None-Match), the data files are uploaded, and the
//! manifest, written last and also conditionally, is what makes the version exist.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use cobro_analytics::arrow::array::{Array, RecordBatch};
use cobro_analytics::arrow::compute::concat_batches;
use cobro_analytics::datafusion::execution::SendableRecordBatchStream;
use cobro_analytics::datafusion::execution::object_store::ObjectStoreUrl;
use cobro_analytics::object_store::{
    self, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart,
};
use cobro_analytics::sql::{self, SqlParams};
use cobro_analytics::{ObjectDir, SnapshotDir};
use cobro_analytics::{QueryError, SnapshotSession, cells, schema};
use cobro_domain::tables::{COLLECTION_TABLES, TextTable};
use cobro_domain::{AgeingBuckets, AsOf, money};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

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
    #[error("no snapshot{} in {root}: build one with `cobro snapshot --as-of YYYY-MM-DD`{}", as_of.map(|a| format!(" as of {a}")).unwrap_or_default(), available)]
    NotFound {
        /// Where snapshots were looked for.
        root: String,
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
    /// An object store refused or failed a request.
    #[error("object store request failed at {place}: {}", describe(cause))]
    Object {
        /// The object's URL.
        place: String,
        /// What the store said (shown condensed: S3's error code and message, and what to do).
        cause: object_store::Error,
    },
    /// `--data-dir` names an object store cobro cannot use.
    #[error("cannot use `{url}` as the data directory: {reason}")]
    Location {
        /// What was given.
        url: String,
        /// Why not, and what to do.
        reason: String,
    },
    /// A manifest cobro cannot read.
    #[error("{place} is not a snapshot manifest cobro can read ({source}): the snapshot is damaged; build a new one")]
    BadManifest {
        /// Where it is (a path or an object URL).
        place: String,
        /// What is wrong with it, with the line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A data file in the store is not the one the manifest lists: changed or damaged after it was published.
    #[error(
        "{place} is not the file the snapshot's manifest lists (expected {expected}, found {found}): it was changed or damaged after the snapshot was published; build a new snapshot, and find out what wrote to the bucket"
    )]
    Tampered {
        /// The object's URL.
        place: String,
        /// Size and sha256 in the manifest.
        expected: String,
        /// Size and sha256 of what the store sent.
        found: String,
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

/// An object store error in a line: S3's own code and message when the store sent them (not its whole XML
/// body), and what to do about it when we know.
fn describe(e: &object_store::Error) -> String {
    let text = e.to_string();
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let rest = &text[text.find(&open)? + open.len()..];
        Some(rest[..rest.find("</")?].to_owned())
    };
    let said = match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => text.lines().next().unwrap_or_default().to_owned(),
    };
    let code = tag("Code").unwrap_or_default();
    let hint = match e {
        object_store::Error::NotImplemented { .. } => {
            " (cobro publishes snapshots with conditional writes, If-None-Match; use a store that supports them, such as AWS S3, MinIO, Cloudflare R2 or moto, and do not set AWS_CONDITIONAL_PUT=disabled)"
        }
        object_store::Error::Unauthenticated { .. } | object_store::Error::PermissionDenied { .. } => {
            " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy)"
        }
        _ if code == "NoSuchBucket" => " (create the bucket, or check its name, AWS_ENDPOINT and AWS_REGION)",
        _ if ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"].contains(&code.as_str()) => {
            " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy)"
        }
        object_store::Error::NotFound { .. } => " (check the bucket name, AWS_ENDPOINT and AWS_REGION)",
        _ => "",
    };
    format!("{said}{hint}")
}

pub(crate) fn object(place: impl std::fmt::Display) -> impl Fn(object_store::Error) -> SnapshotError {
    let place = place.to_string();
    move |cause| SnapshotError::Object { place: place.clone(), cause }
}

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> SnapshotError + '_ {
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

/// A published snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRef {
    /// As-of date.
    pub as_of: AsOf,
    /// Version.
    pub version: u32,
    /// Directory (local or in an object store).
    pub dir: SnapshotDir,
}

/// A version claimed by a build that never published it ([`SnapshotRoot::prune_unfinished`]).
#[derive(Debug, Clone)]
pub struct Unfinished {
    /// Where.
    pub dir: SnapshotDir,
    /// When its build claimed it (`None`: no readable claim).
    pub claimed_at: Option<DateTime<Utc>>,
    /// Objects under it.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Whether they were deleted.
    pub removed: bool,
}

/// Options of a snapshot build.
#[derive(Clone)]
pub struct SnapshotOptions {
    /// Data directory: where the staged ledger is (and, when snapshots go to an object store, where they are
    /// built before the upload).
    pub data_dir: PathBuf,
    /// Where the snapshot is published.
    pub root: SnapshotRoot,
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

/// The snapshots directory of a local data directory.
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

/// Where snapshots are published and found.
#[derive(Debug, Clone)]
pub enum SnapshotRoot {
    /// `<data_dir>/snapshots` on the local file system.
    Local(PathBuf),
    /// `prefix/snapshots` in a bucket of an S3-compatible object store.
    Object(ObjectDir),
}

/// The claim a build puts in a version's directory before it uploads anything there (see [`SnapshotRoot`]).
const CLAIM: &str = "_claim.json";
pub(crate) const MANIFEST: &str = "manifest.json";

impl SnapshotRoot {
    /// The root for `--data-dir`: `s3://bucket/prefix` is an object store, anything else a local directory.
    ///
    /// The S3 client takes its settings from the usual environment variables: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT` (for MinIO, moto or another S3-compatible server) and
    /// `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint.
    pub fn for_data_dir(data_dir: &str) -> Result<Self, SnapshotError> {
        if !is_object_url(data_dir) {
            return Ok(Self::Local(root(Path::new(data_dir))));
        }
        let bad = |reason: String| SnapshotError::Location { url: data_dir.to_owned(), reason };
        let rest = data_dir.strip_prefix("s3://").ok_or_else(|| {
            bad("only S3-compatible object stores are supported: use s3://bucket/prefix or a local path".to_owned())
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("the URL names no bucket: use s3://bucket/prefix".to_owned()));
        }
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| bad(format!("{e}; set AWS_REGION, AWS_ENDPOINT and the credentials in the environment")))?;
        let base = ObjectStoreUrl::parse(format!("s3://{bucket}")).map_err(|e| bad(e.to_string()))?;
        let path = object_store::path::Path::parse(prefix.trim_matches('/'))
            .map_err(|e| bad(format!("the prefix is not a valid object key: {e}")))?
            .join("snapshots");
        Ok(Self::Object(ObjectDir { store: std::sync::Arc::new(store), base, path }))
    }

    /// The `--data-dir` this root came from: the local data directory, or `s3://bucket/prefix`.
    pub fn data_dir(&self) -> String {
        match self {
            Self::Local(root) => root.parent().unwrap_or(root).display().to_string(),
            Self::Object(_) => {
                let url = self.to_string();
                url.strip_suffix("/snapshots").unwrap_or(&url).to_owned()
            }
        }
    }

    /// Every published snapshot, oldest first.
    pub async fn list(&self) -> Result<Vec<SnapshotRef>, SnapshotError> {
        let mut out = Vec::new();
        match self {
            Self::Local(root) => {
                let Ok(dates) = fs::read_dir(root) else {
                    return Ok(out);
                };
                for date in dates {
                    let date = date.map_err(io(root))?.path();
                    let Some(as_of) = date.file_name().and_then(|n| n.to_str()).and_then(parse_date_dir) else {
                        continue;
                    };
                    for v in fs::read_dir(&date).map_err(io(&date))? {
                        let dir = v.map_err(io(&date))?.path();
                        let version = dir.file_name().and_then(|n| n.to_str()).and_then(parse_version_dir);
                        if let Some(version) = version
                            && dir.join(MANIFEST).is_file()
                        {
                            out.push(SnapshotRef { as_of, version, dir: SnapshotDir::Local(dir) });
                        }
                    }
                }
            }
            Self::Object(root) => {
                for (key, _) in root.list().await.map_err(object(self))? {
                    let mut parts = key.split('/');
                    let (Some(date), Some(v), Some(MANIFEST), None) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    if let (Some(as_of), Some(version)) = (parse_date_dir(date), parse_version_dir(v)) {
                        let dir = SnapshotDir::Object(root.child(date).child(v));
                        out.push(SnapshotRef { as_of, version, dir });
                    }
                }
            }
        }
        out.sort_by_key(|s| (s.as_of, s.version));
        Ok(out)
    }

    /// The snapshot to read: the latest version of `as_of`, or of the latest date.
    pub async fn resolve(&self, as_of: Option<AsOf>) -> Result<SnapshotRef, SnapshotError> {
        let all = self.list().await?;
        let found = all.iter().rev().find(|s| as_of.is_none_or(|a| a == s.as_of)).cloned();
        found.ok_or_else(|| {
            let mut dates: Vec<String> = all.iter().map(|s| s.as_of.to_string()).collect();
            dates.dedup();
            let available =
                if dates.is_empty() { String::new() } else { format!(" (available: {})", dates.join(", ")) };
            SnapshotError::NotFound { root: self.to_string(), as_of, available }
        })
    }

    /// Versions a build claimed but never published (it died before its manifest), in an object store: each with
    /// when it was claimed, and whether it was removed. Those claimed longer than `grace` ago are deleted with
    /// everything under them; younger ones are kept, as their build may still be uploading. On a local disk there
    /// is nothing to do (an unfinished build is a temporary directory, removed by the next build).
    pub async fn prune_unfinished(
        &self,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<Vec<Unfinished>, SnapshotError> {
        let Self::Object(root) = self else {
            return Ok(Vec::new());
        };
        let keys = root.list().await.map_err(object(self))?;
        let mut versions: BTreeMap<(String, String), Vec<(String, u64)>> = BTreeMap::new();
        for (key, size) in keys {
            let mut parts = key.splitn(3, '/');
            if let (Some(date), Some(v), Some(name)) = (parts.next(), parts.next(), parts.next())
                && parse_date_dir(date).is_some()
                && parse_version_dir(v).is_some()
            {
                versions.entry((date.to_owned(), v.to_owned())).or_default().push((name.to_owned(), size));
            }
        }
        let mut out = Vec::new();
        for ((date, v), files) in versions {
            if files.iter().any(|(name, _)| name == MANIFEST) {
                continue;
            }
            let dir = root.child(&date).child(&v);
            let claimed_at = match dir.store.get(&dir.key(CLAIM)).await {
                Ok(got) => got
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|j| j["created_at"].as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok())),
                Err(_) => None,
            };
            // Without a readable claim, nobody can say whether a build is still at work there: left alone.
            let removed = claimed_at.is_some_and(|at| now - at > grace);
            if removed {
                for (name, _) in &files {
                    dir.store.delete(&dir.key(name)).await.map_err(object(dir.url_of(name)))?;
                }
            }
            out.push(Unfinished {
                dir: SnapshotDir::Object(dir),
                claimed_at,
                objects: files.len(),
                bytes: files.iter().map(|(_, b)| b).sum(),
                removed,
            });
        }
        Ok(out)
    }

    /// The highest version number used under `as_of` (claimed or published), or 0.
    async fn last_version(&self, as_of: AsOf) -> Result<u32, SnapshotError> {
        let date = format!("as_of={as_of}");
        let names: Vec<String> = match self {
            Self::Local(root) => match fs::read_dir(root.join(&date)) {
                Ok(entries) => entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
                Err(_) => Vec::new(),
            },
            Self::Object(root) => {
                let dir = root.child(&date);
                dir.list()
                    .await
                    .map_err(object(SnapshotDir::Object(dir.clone())))?
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect()
            }
        };
        Ok(names.iter().filter_map(|n| parse_version_dir(n.split('/').next().unwrap_or(n))).max().unwrap_or(0))
    }
}

impl std::fmt::Display for SnapshotRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::Object(o) => write!(f, "{}", SnapshotDir::Object(o.clone())),
        }
    }
}

/// Whether `--data-dir` names an object store (`scheme://...`) rather than a local directory.
pub fn is_object_url(data_dir: &str) -> bool {
    data_dir
        .split_once("://")
        .is_some_and(|(scheme, _)| !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()))
}

pub(crate) fn parse_date_dir(name: &str) -> Option<AsOf> {
    name.strip_prefix("as_of=").and_then(|d| AsOf::parse(d).ok())
}

pub(crate) fn parse_version_dir(name: &str) -> Option<u32> {
    name.strip_prefix("v=").and_then(|n| n.parse().ok())
}

/// Reads a snapshot's manifest.
pub async fn read_manifest(dir: &SnapshotDir) -> Result<SnapshotManifest, SnapshotError> {
    let bytes = match dir {
        SnapshotDir::Local(dir) => {
            let path = dir.join(MANIFEST);
            fs::read(&path).map_err(io(&path))?
        }
        SnapshotDir::Object(o) => {
            let get = o.store.get(&o.key(MANIFEST)).await.map_err(object(o.url_of(MANIFEST)))?;
            get.bytes().await.map_err(object(o.url_of(MANIFEST)))?.to_vec()
        }
    };
    parse_manifest(&bytes, &dir.location_of(MANIFEST))
}

/// A manifest's JSON, read from `place`.
pub(crate) fn parse_manifest(bytes: &[u8], place: &str) -> Result<SnapshotManifest, SnapshotError> {
    serde_json::from_slice(bytes).map_err(|source| SnapshotError::BadManifest { place: place.to_owned(), source })
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
    // Built next to its final place on the file system (one rename publishes it), or in the data directory when
    // it goes to an object store (uploaded from there).
    let build_dir = match &opts.root {
        SnapshotRoot::Local(root) => root.clone(),
        SnapshotRoot::Object(_) => opts.data_dir.join(".snapshot-build"),
    };
    fs::create_dir_all(&build_dir).map_err(io(&build_dir))?;
    clean_stale(&build_dir);
    let tmp = build_dir.join(format!(".tmp-{}-{}", opts.as_of, std::process::id()));
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
    let manifest = SnapshotManifest {
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
    // The first version to try; each publish moves on to the next when another build took it meanwhile.
    let next = opts.root.last_version(opts.as_of).await? + 1;
    match &opts.root {
        SnapshotRoot::Local(root) => publish_local(root, next, &tmp, manifest, &step).await,
        SnapshotRoot::Object(root) => {
            let published = publish_object(root, next, &tmp, manifest, &step).await;
            if published.is_ok() {
                let _ = fs::remove_dir_all(&tmp);
            }
            published
        }
    }
}

/// Publishes the snapshot built in `tmp` under `version` of its date, or the next free one, by one rename. The rename fails
/// if another build took that number first (the target is then a non-empty directory), and we move on to the next.
async fn publish_local(
    root: &Path,
    mut version: u32,
    tmp: &Path,
    mut manifest: SnapshotManifest,
    step: &impl Fn(u32),
) -> Result<(SnapshotRef, SnapshotManifest), SnapshotError> {
    let date_dir = root.join(format!("as_of={}", manifest.as_of));
    fs::create_dir_all(&date_dir).map_err(io(&date_dir))?;
    fsutil::sync_dir(root).map_err(io(root))?;
    failpoint("snapshot-before-publish");
    step(6);
    loop {
        manifest.version = version;
        fsutil::write_synced(&tmp.join(MANIFEST), &manifest_json(&manifest, tmp)?).map_err(io(tmp))?;
        fsutil::sync_dir(tmp).map_err(io(tmp))?;
        let target = date_dir.join(format!("v={version}"));
        match fs::rename(tmp, &target) {
            Ok(()) => {
                fsutil::sync_dir(&date_dir).map_err(io(&date_dir))?;
                let snap = SnapshotRef { as_of: manifest.as_of, version, dir: SnapshotDir::Local(target) };
                return Ok((snap, manifest));
            }
            Err(e) if target.exists() && version < u32::MAX => {
                tracing::debug!("version {version} was taken ({e}); trying the next");
                version += 1;
            }
            Err(e) => return Err(io(&target)(e)),
        }
    }
}

/// Publishes the snapshot built in `tmp` to an object store, manifest last (decision 0015):
/// 1. claim `version` with a conditional create of `v=N/_claim.json` (If-None-Match: `*`); when another build has
///    it, try N+1;
/// 2. upload the data files into `v=N/`, which no other build writes to;
/// 3. create `v=N/manifest.json`, conditionally too. Readers list only versions with a manifest, and a PUT is
///    atomic and read-after-write consistent, so the snapshot appears whole or not at all.
///
/// A build that dies before step 3 leaves a claimed version without a manifest: invisible, and skipped by the
/// next build.
async fn publish_object(
    root: &ObjectDir,
    mut version: u32,
    tmp: &Path,
    mut manifest: SnapshotManifest,
    step: &impl Fn(u32),
) -> Result<(SnapshotRef, SnapshotManifest), SnapshotError> {
    failpoint("snapshot-before-publish");
    step(6);
    let date = root.child(&format!("as_of={}", manifest.as_of));
    let claim = serde_json::json!({
        "created_at": manifest.created_at,
        "pid": std::process::id(),
        "host": std::env::var("HOSTNAME").unwrap_or_default(),
    })
    .to_string();
    let create = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
    let dir = loop {
        let dir = date.child(&format!("v={version}"));
        match dir.store.put_opts(&dir.key(CLAIM), PutPayload::from(claim.clone()), create.clone()).await {
            Ok(_) => break dir,
            Err(object_store::Error::AlreadyExists { .. }) if version < u32::MAX => {
                tracing::debug!("version {version} was claimed by another build; trying the next");
                version += 1;
            }
            Err(e) => return Err(object(dir.url_of(CLAIM))(e)),
        }
    };
    for table in manifest.files.keys() {
        let name = format!("{table}.parquet");
        upload(&dir, &name, &tmp.join(&name)).await?;
    }
    failpoint("snapshot-before-manifest");
    manifest.version = version;
    let text = manifest_json(&manifest, tmp)?;
    dir.store
        .put_opts(&dir.key(MANIFEST), PutPayload::from(text), create)
        .await
        .map_err(object(dir.url_of(MANIFEST)))?;
    Ok((SnapshotRef { as_of: manifest.as_of, version, dir: SnapshotDir::Object(dir) }, manifest))
}

fn manifest_json(manifest: &SnapshotManifest, tmp: &Path) -> Result<Vec<u8>, SnapshotError> {
    serde_json::to_vec_pretty(manifest)
        .map_err(|e| SnapshotError::Io { path: tmp.to_owned(), source: std::io::Error::other(e) })
}

/// Part size of a multipart upload (S3's minimum is 5 MiB); smaller files go in one PUT.
const PART_BYTES: usize = 16 << 20;

/// Uploads a local file to `dir/name`: one PUT when small, a multipart upload when large (a part at a time, a few
/// in flight, so memory stays bounded by a few parts).
async fn upload(dir: &ObjectDir, name: &str, path: &Path) -> Result<(), SnapshotError> {
    use std::io::Read;
    let key = dir.key(name);
    let fail = object(dir.url_of(name));
    let mut file = fs::File::open(path).map_err(io(path))?;
    let size = file.metadata().map_err(io(path))?.len();
    if size <= PART_BYTES as u64 {
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut bytes).map_err(io(path))?;
        dir.store.put(&key, PutPayload::from(bytes)).await.map_err(fail)?;
        return Ok(());
    }
    let mut writer =
        WriteMultipart::new_with_chunk_size(dir.store.put_multipart(&key).await.map_err(&fail)?, PART_BYTES);
    let mut buf = vec![0u8; PART_BYTES];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        writer.wait_for_capacity(4).await.map_err(&fail)?;
        writer.write(&buf[..n]);
    }
    writer.finish().await.map_err(fail)?;
    Ok(())
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
        let next = stream.next().await.transpose().map_err(|e| derive(&e))?;
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

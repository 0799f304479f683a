//! The application context shared by the CLI and the server: where the data is, which configuration files
//! replace the built-in ones, and how to open a snapshot (alone, or with the operational store's live records on
//! top) and the store itself.

use std::path::PathBuf;
use std::sync::Arc;

use cobro_analytics::segments::SegmentRules;
use cobro_analytics::sql::{AlarmParams, SqlParams};
use cobro_analytics::{RecordBatchTable, SnapshotSession, schema};
use cobro_domain::AsOf;
use cobro_domain::tables::TextTable;
use cobro_pipeline::snapshot::{self as snap, SnapshotManifest, SnapshotRef, SnapshotRoot};
use cobro_pipeline::snapshot_cache::SnapshotCache;
use cobro_workflow::{Store, WorkflowConfig};

/// What every command and request may need besides its own arguments.
pub struct Ctx {
    /// The local data directory: the staged ledger, the SQLite store, the file outbox (and the snapshots, unless
    /// [`snapshots`](Self::snapshots) is an object store).
    pub data_dir: PathBuf,
    /// Where snapshots are published and read: `<data_dir>/snapshots`, or a prefix in an object store.
    pub snapshots: SnapshotRoot,
    /// Where snapshots read from an object store are copied and checked before they are queried (`None`: read
    /// the store directly on every query).
    pub snapshot_cache: Option<SnapshotCache>,
    /// `--segments FILE`, when given.
    pub segments: Option<PathBuf>,
    /// `--workflow FILE`, when given.
    pub workflow: Option<PathBuf>,
    /// That file, once read.
    pub workflow_config: std::sync::OnceLock<WorkflowConfig>,
    /// `--templates DIR`, when given.
    pub templates: Option<PathBuf>,
    /// The templates, loaded on first use.
    pub templates_loaded: std::sync::OnceLock<cobro_workflow::templates::Templates>,
    /// `--store URL`, when given.
    pub store: Option<String>,
}

/// A snapshot opened for querying.
pub struct Opened {
    /// Which snapshot.
    pub snap: SnapshotRef,
    /// Its manifest.
    pub manifest: SnapshotManifest,
    /// A session over it, with the views rendered at the snapshot's date.
    pub session: SnapshotSession,
}

impl Ctx {
    /// A context over the local `data_dir`, with snapshots in `snapshots` (read through `snapshot_cache` when they
    /// are in an object store), and optional replacements for the built-in configuration files and store.
    pub fn new(
        data_dir: PathBuf,
        snapshots: SnapshotRoot,
        snapshot_cache: Option<SnapshotCache>,
        segments: Option<PathBuf>,
        workflow: Option<PathBuf>,
        templates: Option<PathBuf>,
        store: Option<String>,
    ) -> Self {
        Self {
            snapshots,
            snapshot_cache,
            data_dir,
            segments,
            workflow,
            workflow_config: std::sync::OnceLock::new(),
            templates,
            templates_loaded: std::sync::OnceLock::new(),
            store,
        }
    }

    /// The SQL parameters of a snapshot, with the segment rules of `--segments` (validated) or the built-in ones.
    pub fn params(&self, manifest: &SnapshotManifest) -> anyhow::Result<SqlParams> {
        // Business days in SQL count in the same company calendar as the workflow's deadlines.
        let mut params = snap::sql_params(manifest).with_calendar(self.workflow()?.calendar.clone());
        if let Some(path) = &self.segments {
            params.rules = Arc::new(SegmentRules::load(path)?);
        }
        Ok(params)
    }

    /// Finds the snapshot of `as_of` (the latest when `None`): where to read it, its manifest, its SQL
    /// parameters. A snapshot in an object store is read from its checked local copy when there is a
    /// [`snapshot_cache`](Self::snapshot_cache).
    pub async fn resolve(&self, as_of: Option<AsOf>) -> anyhow::Result<(SnapshotRef, SnapshotManifest, SqlParams)> {
        let snap = self.snapshots.resolve(as_of).await?;
        let (snap, manifest) = match &self.snapshot_cache {
            Some(cache) => cache.local(&snap).await?,
            None => {
                let manifest = snap::read_manifest(&snap.dir).await?;
                (snap, manifest)
            }
        };
        let params = self.params(&manifest)?;
        Ok((snap, manifest, params))
    }

    /// Resolves and opens the snapshot of `as_of` (the latest when `None`).
    pub async fn open(&self, as_of: Option<AsOf>) -> anyhow::Result<Opened> {
        let (snap, manifest, params) = self.resolve(as_of).await?;
        let session = SnapshotSession::open(&snap.dir, params).await?;
        Ok(Opened { snap, manifest, session })
    }

    /// The workflow configuration of `--workflow` (validated) or the built-in one, read once per command.
    pub fn workflow(&self) -> anyhow::Result<&WorkflowConfig> {
        if let Some(config) = self.workflow_config.get() {
            return Ok(config);
        }
        let config = match &self.workflow {
            Some(path) => WorkflowConfig::load(path)?,
            None => WorkflowConfig::builtin(),
        };
        Ok(self.workflow_config.get_or_init(|| config))
    }

    /// The message templates of `--templates` (checked) or the built-in ones, read once per command.
    pub fn templates(&self) -> anyhow::Result<&cobro_workflow::templates::Templates> {
        if let Some(t) = self.templates_loaded.get() {
            return Ok(t);
        }
        let t = match &self.templates {
            Some(dir) => cobro_workflow::templates::Templates::load_dir(dir)?,
            None => cobro_workflow::templates::Templates::builtin(),
        };
        Ok(self.templates_loaded.get_or_init(|| t))
    }

    /// Whether an operational store exists (a `--store` URL, or the SQLite file in the data dir). Read-only
    /// commands use it only when it does, and never create one.
    pub fn has_store(&self) -> bool {
        self.store.is_some() || self.data_dir.join(cobro_workflow::store::SQLITE_FILE).is_file()
    }

    /// Opens (and on first use creates and migrates) the operational store.
    pub async fn store(&self) -> anyhow::Result<Store> {
        Ok(match &self.store {
            Some(url) => Store::open(url).await?,
            None => Store::open_in(&self.data_dir).await?,
        })
    }

    /// The store's records and the configured objectives and delay reasons as the snapshot's collection tables.
    pub async fn collections(&self, config: &WorkflowConfig) -> anyhow::Result<Vec<TextTable>> {
        if !self.has_store() {
            return Ok(cobro_workflow::export::export(None, config).await?);
        }
        let store = self.store().await?;
        let tables = cobro_workflow::export::export(Some(&store), config).await?;
        store.close().await;
        Ok(tables)
    }

    /// The company's local date at `now` (its configured time zone; UTC when it names none).
    pub fn local_date(&self, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<chrono::NaiveDate> {
        let tz: chrono_tz::Tz = self.workflow()?.company.timezone.parse().unwrap_or(chrono_tz::UTC);
        Ok(now.with_timezone(&tz).date_naive())
    }

    /// The workflow context of a change made by `actor` at `now` (the company's local date at `now`).
    pub fn case_ctx<'a>(
        &'a self,
        store: &'a Store,
        ledger: &'a cobro_workflow::Ledger,
        actor: &'a str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<cobro_workflow::cases::Ctx<'a>> {
        Ok(cobro_workflow::cases::Ctx {
            store,
            config: self.workflow()?,
            ledger,
            templates: self.templates()?,
            actor,
            now,
            on: self.local_date(now)?,
        })
    }

    /// Builds a snapshot of the staged ledger as of `as_of`, with `collections` (the store's records, as
    /// [`collections`](Self::collections) reads them) as its collection tables.
    pub async fn build_snapshot(
        &self,
        as_of: AsOf,
        collections: Vec<TextTable>,
        progress: Option<snap::Progress>,
    ) -> anyhow::Result<(SnapshotRef, SnapshotManifest)> {
        let opts = snap::SnapshotOptions {
            data_dir: self.data_dir.clone(),
            root: self.snapshots.clone(),
            as_of,
            now: cobro_domain::clock::Clock::now(&cobro_domain::clock::SystemClock),
            buckets: cobro_domain::AgeingBuckets::default(),
            collections,
            progress,
        };
        Ok(snap::build(&opts).await?)
    }

    /// Opens the snapshot of `as_of` with the store's live collection records in place of the snapshot's copies:
    /// what the team has recorded since the snapshot was built counts (alarms, work queue, the tick).
    pub async fn open_live(&self, as_of: Option<AsOf>) -> anyhow::Result<Opened> {
        let tables = self.collections(self.workflow()?).await?;
        self.open_live_from(as_of, tables).await
    }

    /// Like [`open_live`](Self::open_live), with the live records already read (from a server's own store pool,
    /// say): `tables` are [`collections`](Self::collections)' output.
    pub async fn open_live_from(&self, as_of: Option<AsOf>, tables: Vec<TextTable>) -> anyhow::Result<Opened> {
        let config = self.workflow()?;
        let (snap, manifest, params) = self.resolve(as_of).await?;
        let params = params.with_alarms(AlarmParams {
            // Both are checked non-negative when the configuration loads.
            action_days_past_due: u32::try_from(config.alarms.action_days_past_due).unwrap_or(u32::MAX),
            credit_wait_days: u32::try_from(config.payment_reports.credit_wait_days).unwrap_or(u32::MAX),
        });
        let mut live = Vec::new();
        for t in tables {
            let batch = schema::text_table_batch(&t).map_err(|m| anyhow::anyhow!("operational store export: {m}"))?;
            live.push(RecordBatchTable { name: t.name.to_owned(), batch });
        }
        let session = SnapshotSession::open_live(&snap.dir, params, live).await?;
        Ok(Opened { snap, manifest, session })
    }
}

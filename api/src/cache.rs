//! Sessions and results kept between requests, so that a work queue or a KPI page is computed once per state of
//! the data, not once per request.
//!
//! A cached session is keyed by the snapshot's directory (a version is immutable) and, for live sessions, by a
//! hash of the operational store's records as exported for the session: the same inputs give the same rows. The
//! export is not repeated on every request: every write through this server bumps a generation, and the hash is
//! taken again when the generation moved or [`RECHECK`] has passed. So a promise recorded through the API shows
//! in the very next queue, and a write by another process (a `cobro case tick` from cron) within `RECHECK`.
//! Concurrent misses on one key wait for one computation (`OnceCell`), which runs on a task of its own so that
//! a request that times out does not throw the work away. Encoded responses are kept too. Only the last few
//! sessions are kept; ad-hoc SQL is never cached.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use cobro_analytics::SnapshotDir;
use cobro_analytics::arrow::array::{Array, AsArray, UInt32Array};
use cobro_analytics::arrow::compute::{cast, take_record_batch};
use cobro_analytics::arrow::datatypes::{DataType, SchemaRef};
use cobro_analytics::arrow::record_batch::RecordBatch;
use cobro_app::{Ctx, Opened};
use cobro_domain::AsOf;
use cobro_workflow::Store;
use tokio::sync::OnceCell;

use crate::problem::ApiError;

/// A value computed once, by whichever request asks first; the others wait for it.
type Once<T> = Arc<OnceCell<Arc<T>>>;

/// How long the store's hash is trusted when no write went through this server.
pub const RECHECK: Duration = Duration::from_secs(2);

/// Sessions kept at most (a snapshot-only and a live one for a couple of dates, and the one before a change).
const KEEP: usize = 6;

/// Rows of one query.
pub struct Rows {
    /// Their schema.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

/// Rows of one query with an index on a key column: one key's rows are taken without a scan.
pub struct Indexed {
    rows: Arc<Rows>,
    index: HashMap<String, Vec<(u32, u32)>>,
}

impl Indexed {
    /// The rows whose key is `key`, in their order in the query.
    pub fn get(&self, key: &str) -> Result<Rows, ApiError> {
        let Some(at) = self.index.get(key) else {
            return Ok(Rows { schema: self.rows.schema.clone(), batches: Vec::new() });
        };
        let mut batches = Vec::new();
        let mut i = 0;
        while i < at.len() {
            // Runs of rows from one batch are taken together.
            let b = at[i].0;
            let mut idx = Vec::new();
            while i < at.len() && at[i].0 == b {
                idx.push(at[i].1);
                i += 1;
            }
            let batch = &self.rows.batches[b as usize];
            batches.push(take_record_batch(batch, &UInt32Array::from(idx)).map_err(|e| ApiError::internal(&e))?);
        }
        Ok(Rows { schema: self.rows.schema.clone(), batches })
    }
}

/// One opened session and what was computed on it.
pub struct Cached {
    /// The session.
    pub opened: Opened,
    results: Mutex<HashMap<String, Once<Rows>>>,
    indexes: Mutex<HashMap<(String, String), Once<Indexed>>>,
    encoded: Mutex<HashMap<String, Bytes>>,
    report: OnceCell<Arc<cobro_app::report::CfoReport>>,
}

impl Cached {
    /// The rows of `sql`, computed once on this session.
    pub async fn rows(self: &Arc<Self>, sql: &str) -> Result<Arc<Rows>, ApiError> {
        let cell = self.results.lock().map_err(|_| poisoned())?.entry(sql.to_owned()).or_default().clone();
        cell.get_or_try_init(|| async { Ok(Arc::new(self.run_detached(sql.to_owned()).await?)) }).await.cloned()
    }

    /// The CFO report of this session, built once (`company` names the company on it).
    pub async fn report(&self, company: &str) -> Result<Arc<cobro_app::report::CfoReport>, ApiError> {
        let r = self.report.get_or_try_init(|| async {
            Ok::<_, ApiError>(Arc::new(cobro_app::report::cfo(&self.opened.session, company).await?))
        });
        r.await.cloned()
    }

    /// A response body kept under `key` (which names the rows and the format), made once by `make`.
    pub fn encoded(&self, key: &str, make: impl FnOnce() -> Result<Vec<u8>, ApiError>) -> Result<Bytes, ApiError> {
        if let Some(b) = self.encoded.lock().map_err(|_| poisoned())?.get(key) {
            return Ok(b.clone());
        }
        let b = Bytes::from(make()?);
        self.encoded.lock().map_err(|_| poisoned())?.insert(key.to_owned(), b.clone());
        Ok(b)
    }

    /// The rows of `sql` indexed by `key_column`: the rows are [`rows`](Self::rows)' own (computed once, shared
    /// with callers that want them all), the index is built once.
    pub async fn indexed(self: &Arc<Self>, sql: &str, key_column: &str) -> Result<Arc<Indexed>, ApiError> {
        let cell = self
            .indexes
            .lock()
            .map_err(|_| poisoned())?
            .entry((sql.to_owned(), key_column.to_owned()))
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let rows = self.rows(sql).await?;
            let col = rows.schema.index_of(key_column).map_err(|e| ApiError::internal(&e))?;
            let mut index: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
            for (b, batch) in rows.batches.iter().enumerate() {
                let keys = cast(batch.column(col), &DataType::Utf8).map_err(|e| ApiError::internal(&e))?;
                let keys = keys.as_string::<i32>();
                for r in 0..keys.len() {
                    if keys.is_valid(r) {
                        let at = (u32::try_from(b).unwrap_or(u32::MAX), u32::try_from(r).unwrap_or(u32::MAX));
                        index.entry(keys.value(r).to_owned()).or_default().push(at);
                    }
                }
            }
            Ok(Arc::new(Indexed { rows, index }))
        })
        .await
        .cloned()
    }

    /// Runs `sql` on a task of its own: a request that gives up (timeout, closed connection) does not cancel it,
    /// and its rows still land in the cache for the next request.
    async fn run_detached(self: &Arc<Self>, sql: String) -> Result<Rows, ApiError> {
        let this = self.clone();
        tokio::spawn(async move { this.run(&sql).await }).await.map_err(|e| ApiError::internal(&e))?
    }

    async fn run(&self, sql: &str) -> Result<Rows, ApiError> {
        let df = self.opened.session.sql(sql).await.map_err(|e| ApiError::internal(&e))?;
        let schema = df.schema().inner().clone();
        let batches = df.collect().await.map_err(|e| ApiError::internal(&e))?;
        Ok(Rows { schema, batches })
    }
}

fn poisoned() -> ApiError {
    ApiError::internal(&"a cache lock was poisoned by a panic")
}

#[derive(Clone, PartialEq, Eq)]
struct Key {
    dir: SnapshotDir,
    live: Option<u64>,
}

/// The store's hash as last taken.
struct Checked {
    at: Instant,
    generation: u64,
    hash: u64,
}

/// A value looked up recently, trusted while nothing was written through this server and [`RECHECK`] has not
/// passed.
struct Recent<T> {
    at: Instant,
    generation: u64,
    value: T,
}

/// The server's sessions.
#[derive(Default)]
pub struct Sessions {
    kept: Mutex<Vec<(Key, Once<Cached>)>>,
    generation: AtomicU64,
    checked: Mutex<Option<Checked>>,
    /// Snapshot directories by requested date (`None`: the latest).
    dirs: Mutex<HashMap<Option<AsOf>, Recent<SnapshotDir>>>,
    /// Authenticated tokens, by the SHA-256 of the token (the token itself is not kept).
    principals: Mutex<HashMap<String, Recent<cobro_workflow::access::Principal>>>,
}

impl Sessions {
    /// The snapshot of `as_of` (the latest when `None`).
    pub async fn open(&self, ctx: &Ctx, as_of: Option<AsOf>) -> Result<Arc<Cached>, ApiError> {
        let key = Key { dir: self.dir(ctx, as_of).await?, live: None };
        self.get(key, || async { Ok(ctx.open(as_of).await?) }).await
    }

    /// Something was written through this server: the next live session looks at the store again.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn fresh<T: Clone>(&self, r: Option<&Recent<T>>) -> Option<T> {
        let generation = self.generation.load(Ordering::SeqCst);
        r.filter(|r| r.generation == generation && r.at.elapsed() < RECHECK).map(|r| r.value.clone())
    }

    fn recent<T>(&self, value: T) -> Recent<T> {
        Recent { at: Instant::now(), generation: self.generation.load(Ordering::SeqCst), value }
    }

    /// The directory of the snapshot of `as_of`, looked up again after a write or [`RECHECK`] (a new version
    /// built by another process shows within it).
    async fn dir(&self, ctx: &Ctx, as_of: Option<AsOf>) -> Result<SnapshotDir, ApiError> {
        if let Some(d) = self.fresh(self.dirs.lock().map_err(|_| poisoned())?.get(&as_of)) {
            return Ok(d);
        }
        let (snap, _, _) = ctx.resolve(as_of).await?;
        let r = self.recent(snap.dir.clone());
        self.dirs.lock().map_err(|_| poisoned())?.insert(as_of, r);
        Ok(snap.dir)
    }

    /// The principal of a bearer token. A known token is remembered for [`RECHECK`] (or until the next write
    /// through this server), so a revocation by `cobro token revoke` takes effect within it; unknown tokens are
    /// looked up every time and not remembered.
    pub async fn principal(
        &self,
        store: &Store,
        token: &str,
    ) -> Result<Option<cobro_workflow::access::Principal>, ApiError> {
        use sha2::{Digest, Sha256};
        let key = hex::encode(Sha256::digest(token.as_bytes()));
        if let Some(p) = self.fresh(self.principals.lock().map_err(|_| poisoned())?.get(&key)) {
            return Ok(Some(p));
        }
        let found = cobro_workflow::access::authenticate(store, token).await?;
        if let Some(p) = &found {
            let r = self.recent(p.clone());
            let mut map = self.principals.lock().map_err(|_| poisoned())?;
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(key, r);
        }
        Ok(found)
    }

    /// The snapshot of `as_of` with the store's live records on top.
    pub async fn open_live(&self, ctx: &Ctx, store: &Store, as_of: Option<AsOf>) -> Result<Arc<Cached>, ApiError> {
        let dir = self.dir(ctx, as_of).await?;
        let config = ctx.workflow()?;
        let generation = self.generation.load(Ordering::SeqCst);
        let trusted = self
            .checked
            .lock()
            .map_err(|_| poisoned())?
            .as_ref()
            .filter(|c| c.generation == generation && c.at.elapsed() < RECHECK)
            .map(|c| c.hash);
        let (hash, tables) = match trusted {
            Some(h) => (h, None),
            None => {
                let tables = cobro_workflow::export::export(Some(store), config).await?;
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for t in &tables {
                    t.name.hash(&mut h);
                    t.rows.hash(&mut h);
                }
                let hash = h.finish();
                *self.checked.lock().map_err(|_| poisoned())? = Some(Checked { at: Instant::now(), generation, hash });
                (hash, Some(tables))
            }
        };
        let key = Key { dir, live: Some(hash) };
        self.get(key, || async {
            let tables = match tables {
                Some(t) => t,
                None => cobro_workflow::export::export(Some(store), config).await?,
            };
            Ok(ctx.open_live_from(as_of, tables).await?)
        })
        .await
    }

    async fn get<F, Fut>(&self, key: Key, open: F) -> Result<Arc<Cached>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Opened, ApiError>>,
    {
        let cell = {
            let mut kept = self.kept.lock().map_err(|_| poisoned())?;
            let cell = match kept.iter().position(|(k, _)| *k == key) {
                Some(i) => kept.remove(i).1,
                None => Arc::default(),
            };
            // Most recently used last; the oldest goes first.
            kept.push((key, cell.clone()));
            if kept.len() > KEEP {
                kept.remove(0);
            }
            cell
        };
        cell.get_or_try_init(|| async {
            let opened = open().await?;
            Ok(Arc::new(Cached {
                opened,
                results: Mutex::default(),
                indexes: Mutex::default(),
                encoded: Mutex::default(),
                report: OnceCell::new(),
            }))
        })
        .await
        .cloned()
    }
}

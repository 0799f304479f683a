//! Sessions and results kept between requests, so that a work queue or a KPI page is computed once per state of
//! the data, not once per request.
//!
//! A cached session is keyed by the snapshot's directory (a version is immutable) and, for live sessions, by a
//! hash of the operational store's records as exported for the session: the same inputs give the same rows, so
//! a hit can never be stale. A promise recorded a second ago changes the hash, and the next request computes
//! the queue again. Concurrent misses on one key wait for one computation (`OnceCell`). Only the last few
//! sessions are kept; ad-hoc SQL is never cached.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    rows: Rows,
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
}

impl Cached {
    /// The rows of `sql`, computed once on this session.
    pub async fn rows(&self, sql: &str) -> Result<Arc<Rows>, ApiError> {
        let cell = self.results.lock().map_err(|_| poisoned())?.entry(sql.to_owned()).or_default().clone();
        cell.get_or_try_init(|| async { Ok(Arc::new(self.run(sql).await?)) }).await.cloned()
    }

    /// The rows of `sql` indexed by `key_column`, computed once on this session.
    pub async fn indexed(&self, sql: &str, key_column: &str) -> Result<Arc<Indexed>, ApiError> {
        let cell = self
            .indexes
            .lock()
            .map_err(|_| poisoned())?
            .entry((sql.to_owned(), key_column.to_owned()))
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let rows = self.run(sql).await?;
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
    dir: PathBuf,
    live: Option<u64>,
}

/// The server's sessions.
#[derive(Default)]
pub struct Sessions {
    kept: Mutex<Vec<(Key, Once<Cached>)>>,
}

impl Sessions {
    /// The snapshot of `as_of` (the latest when `None`).
    pub async fn open(&self, ctx: &Ctx, as_of: Option<AsOf>) -> Result<Arc<Cached>, ApiError> {
        let (snap, _, _) = ctx.resolve(as_of)?;
        let key = Key { dir: snap.dir, live: None };
        self.get(key, || async { Ok(ctx.open(as_of).await?) }).await
    }

    /// The snapshot of `as_of` with the store's live records on top.
    pub async fn open_live(&self, ctx: &Ctx, store: &Store, as_of: Option<AsOf>) -> Result<Arc<Cached>, ApiError> {
        let (snap, _, _) = ctx.resolve(as_of)?;
        let config = ctx.workflow()?;
        let tables = cobro_workflow::export::export(Some(store), config).await?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for t in &tables {
            t.name.hash(&mut h);
            t.rows.hash(&mut h);
        }
        let key = Key { dir: snap.dir, live: Some(h.finish()) };
        self.get(key, || async { Ok(ctx.open_live_from(as_of, tables).await?) }).await
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
            Ok(Arc::new(Cached { opened, results: Mutex::default(), indexes: Mutex::default() }))
        })
        .await
        .cloned()
    }
}

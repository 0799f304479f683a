//! The operational store: collection records in SQLite (a file in the data dir, WAL, migrations) or, with the
//! `postgres` feature, PostgreSQL. One code path through sqlx's `Any` driver, so both run the same migrations
//! and the same statements (`$N` placeholders, portable SQL, dates and money as text).
//!
//! Every write is one transaction whose first statement is a write: SQLite then takes its write lock before
//! reading anything, so a transaction never works from a stale read, and a busy database waits (busy_timeout)
//! instead of failing. Status changes are compare-and-set on `invoice_cases.version`, so of two writers that
//! decided from the same state, one wins and the other gets [`CaseError::Conflict`].

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::error::CaseError;

/// The migrations, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// File name of the embedded SQLite store inside a data directory.
pub const SQLITE_FILE: &str = "collections.db";

/// A connection pool to the operational store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    url: String,
}

/// An open write transaction.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Store {
    /// The SQLite store of a data directory, created and migrated on first use.
    pub async fn open_in(data_dir: &Path) -> Result<Self, CaseError> {
        let fail = |e: std::io::Error| CaseError::Store { url: data_dir.display().to_string(), message: e.to_string() };
        std::fs::create_dir_all(data_dir).map_err(fail)?;
        // Two processes opening a new store at once would both apply the first migration (SQLite has no
        // migration lock in sqlx; PostgreSQL uses an advisory lock). An exclusive file lock, held while the store
        // is opened and migrated, makes the second wait and then find the migrations applied.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join(format!("{SQLITE_FILE}.lock")))
            .map_err(fail)?;
        lock.lock().map_err(fail)?;
        let store = Self::open(&format!("sqlite://{}?mode=rwc", data_dir.join(SQLITE_FILE).display())).await;
        drop(lock);
        store
    }

    /// Opens (and migrates) the store at a URL: `sqlite://PATH?mode=rwc`, or `postgres://...` when built with the
    /// `postgres` feature.
    pub async fn open(url: &str) -> Result<Self, CaseError> {
        sqlx::any::install_default_drivers();
        let shown = redact(url);
        let err = |e: &dyn std::fmt::Display| CaseError::Store { url: shown.clone(), message: e.to_string() };
        if url.starts_with("postgres") && !cfg!(feature = "postgres") {
            return Err(err(&"this cobro was built without PostgreSQL support: rebuild with `--features postgres`"));
        }
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL: readers never block the writer; FULL: a committed change survives a power cut;
                        // busy_timeout: a second writer waits its turn instead of failing at once.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| err(&e))?;
        MIGRATOR.run(&pool).await.map_err(|e| err(&e))?;
        Ok(Self { pool, url: shown })
    }

    /// The URL, without a password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, CaseError> {
        self.pool.begin().await.map_err(|e| self.err(e))
    }

    /// Maps a driver error to a store error that names the store.
    pub fn err(&self, e: sqlx::Error) -> CaseError {
        CaseError::Store { url: self.url.clone(), message: e.to_string() }
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The next value of a named counter, inside the caller's transaction.
pub async fn next_counter(tx: &mut Tx, name: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO counters (name, next_value) VALUES ($1, 1) \
         ON CONFLICT (name) DO UPDATE SET next_value = counters.next_value + 1 RETURNING next_value",
    )
    .bind(name)
    .fetch_one(&mut **tx)
    .await?;
    row.try_get::<i64, _>(0)
}

/// A fresh id `PREFIX-N` (N from the counter named PREFIX).
pub async fn next_id(tx: &mut Tx, prefix: &str) -> Result<String, sqlx::Error> {
    Ok(format!("{prefix}-{}", next_counter(tx, prefix).await?))
}

/// One event to append.
#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    /// Customer.
    pub customer_id: &'a str,
    /// Document changed, if any.
    pub document_id: Option<&'a str>,
    /// Kind (a transition name, or `task_created`, `message_queued`, ...).
    pub kind: &'a str,
    /// Who.
    pub actor: &'a str,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Business date.
    pub on_date: NaiveDate,
    /// Status before.
    pub before: Option<&'a str>,
    /// Status after.
    pub after: Option<&'a str>,
    /// Record it belongs to.
    pub ref_id: Option<&'a str>,
    /// Outcome it belongs to.
    pub outcome_id: Option<&'a str>,
    /// Currency of `amount`.
    pub currency: Option<&'a str>,
    /// Amount concerned (exact decimal text).
    pub amount: Option<String>,
    /// Delay reason code.
    pub delay_reason: Option<&'a str>,
    /// Note.
    pub note: Option<&'a str>,
}

/// Appends an event in the caller's transaction; returns its id.
pub async fn append_event(tx: &mut Tx, e: NewEvent<'_>) -> Result<String, sqlx::Error> {
    let seq = next_counter(tx, "event").await?;
    let id = format!("EV-{seq}");
    sqlx::query(
        "INSERT INTO events (event_id, seq, customer_id, document_id, kind, actor, at, on_date, before_status, \
         after_status, ref_id, outcome_id, currency, amount, delay_reason, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&id)
    .bind(seq)
    .bind(e.customer_id)
    .bind(e.document_id)
    .bind(e.kind)
    .bind(e.actor)
    .bind(instant(e.at))
    .bind(e.on_date.to_string())
    .bind(e.before)
    .bind(e.after)
    .bind(e.ref_id)
    .bind(e.outcome_id)
    .bind(e.currency)
    .bind(e.amount)
    .bind(e.delay_reason)
    .bind(e.note)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Appends an event about a record (a task, a message, a dispute) rather than a document's status.
pub async fn record_event(
    tx: &mut Tx,
    (customer_id, kind, ref_id): (&str, &str, &str),
    (actor, at, on_date): (&str, DateTime<Utc>, NaiveDate),
    note: Option<&str>,
) -> Result<String, sqlx::Error> {
    append_event(
        tx,
        NewEvent { customer_id, kind, actor, at, on_date, ref_id: Some(ref_id), note, ..NewEvent::default() },
    )
    .await
}

/// An instant as stored: RFC 3339, UTC, microseconds.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A text column, or `None`.
pub fn text(row: &AnyRow, col: &str) -> Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<String>, _>(col)
}

/// A required text column.
pub fn req(row: &AnyRow, col: &str) -> Result<String, sqlx::Error> {
    row.try_get::<String, _>(col)
}

/// A stored date.
pub fn date(row: &AnyRow, col: &str) -> Result<NaiveDate, sqlx::Error> {
    let s: String = row.try_get(col)?;
    s.parse().map_err(|e| sqlx::Error::Decode(format!("{col} = `{s}`: {e}").into()))
}

/// Whether a driver error is a busy/locked database (a writer that could not get the lock in time).
pub fn is_busy(e: &sqlx::Error) -> bool {
    let s = e.to_string();
    s.contains("database is locked") || s.contains("SQLITE_BUSY") || s.contains("could not serialize")
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_shown_without_the_password() {
        assert_eq!(super::redact("postgres://cobro:s3cret@db:5432/cobro"), "postgres://cobro:***@db:5432/cobro");
        assert_eq!(super::redact("sqlite:///tmp/x/collections.db?mode=rwc"), "sqlite:///tmp/x/collections.db?mode=rwc");
    }
}

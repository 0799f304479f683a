//! Idempotent requests: a key claimed once (primary key), the response kept for replays. A claim that was never
//! finished (the server died mid-request) can be taken over after [`STALE_AFTER`]; the caller then checks whether
//! the request took effect before running it again.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::error::CaseError;
use crate::store::{self, Store};

/// What to do with a request carrying a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: run the request, then [`finish`].
    Run,
    /// Done before with the same body: answer this again.
    Replay {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
    /// The same key is being run by another request right now.
    InProgress,
    /// Claimed over [`STALE_AFTER`] ago and never finished: now claimed by this request, which must check whether
    /// the first attempt took effect before running again.
    Stale,
    /// The key was used with a different body.
    Mismatch,
}

/// How long an unfinished claim blocks retries (longer than any request may run).
pub const STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// SHA-256 of a request's identity (route and body), hex.
pub fn request_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// Claims `key` for a request whose hash is `hash`.
pub async fn claim(store: &Store, key: &str, hash: &str, now: DateTime<Utc>) -> Result<Claim, CaseError> {
    let won = sqlx::query(
        "INSERT INTO idempotency_keys (idem_key, request_sha256, created_at) VALUES ($1, $2, $3) ON CONFLICT (idem_key) DO NOTHING",
    )
    .bind(key)
    .bind(hash)
    .bind(store::instant(now))
    .execute(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    if won.rows_affected() == 1 {
        return Ok(Claim::Run);
    }
    let (stored, status, body, created): (String, Option<i64>, Option<String>, String) =
        sqlx::query_as("SELECT request_sha256, status, body, created_at FROM idempotency_keys WHERE idem_key = $1")
            .bind(key)
            .fetch_one(store.pool())
            .await
            .map_err(|e| store.err(e))?;
    if stored != hash {
        return Ok(Claim::Mismatch);
    }
    if let Some(s) = status {
        return Ok(Claim::Replay { status: u16::try_from(s).unwrap_or(500), body: body.unwrap_or_default() });
    }
    if created > store::instant(now - STALE_AFTER) {
        return Ok(Claim::InProgress);
    }
    // Take the stale claim over, compare-and-set on its time so that one retry wins.
    let took = sqlx::query(
        "UPDATE idempotency_keys SET created_at = $2 WHERE idem_key = $1 AND status IS NULL AND created_at = $3",
    )
    .bind(key)
    .bind(store::instant(now))
    .bind(&created)
    .execute(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    Ok(if took.rows_affected() == 1 { Claim::Stale } else { Claim::InProgress })
}

/// Keeps the response of a claimed key.
pub async fn finish(store: &Store, key: &str, status: u16, body: &str) -> Result<(), CaseError> {
    sqlx::query("UPDATE idempotency_keys SET status = $2, body = $3 WHERE idem_key = $1")
        .bind(key)
        .bind(i64::from(status))
        .bind(body)
        .execute(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    Ok(())
}

/// Releases a claimed key whose request failed for a reason a retry may not meet (the server's, not the body's).
pub async fn release(store: &Store, key: &str) -> Result<(), CaseError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE idem_key = $1 AND status IS NULL")
        .bind(key)
        .execute(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    Ok(())
}

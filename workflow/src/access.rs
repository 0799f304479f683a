//! Who may use the API (DESIGN §7): bearer tokens with a role, stored hashed, and signed links that let one
//! customer see its own portal.
//!
//! - A token is `cobro_<48 hex characters>` from the operating system's random source, shown once when created.
//!   The store keeps its SHA-256 only. A token is found by its hash, so checking one is a single indexed lookup.
//! - A portal link carries the customer, an expiry and an HMAC-SHA256 of both under a key made on first use and
//!   kept in the store (`settings.portal_key`). Links survive restarts, expire, and cannot be made for another
//!   customer without the key. Checking compares the MACs in constant time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::CaseError;
use crate::store::{self, Store};

/// A role (DESIGN §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including tokens and writes of every kind.
    Admin,
    /// Reports and metrics, every customer; no collection writes.
    Cfo,
    /// Read-only SQL and every read; no writes.
    Analyst,
    /// Their own portfolio: its queue, customers, outcomes, tasks.
    Collector,
    /// The disputes routed to their department.
    Department,
}

impl Role {
    /// Parses `admin`, `cfo`, `analyst`, `collector`, `department`.
    pub fn parse(s: &str) -> Result<Self, CaseError> {
        Ok(match s {
            "admin" => Self::Admin,
            "cfo" => Self::Cfo,
            "analyst" => Self::Analyst,
            "collector" => Self::Collector,
            "department" => Self::Department,
            other => {
                return Err(CaseError::invalid(
                    "--role",
                    format!("`{other}` is not a role; use admin, cfo, analyst, collector or department"),
                ));
            }
        })
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Cfo => "cfo",
            Self::Analyst => "analyst",
            Self::Collector => "collector",
            Self::Department => "department",
        }
    }
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Token id (`TOK-n`), for the logs; never the token.
    pub token_id: String,
    /// Role.
    pub role: Role,
    /// The collector a collector token belongs to.
    pub collector_id: Option<String>,
    /// The department a department token belongs to.
    pub department: Option<String>,
    /// What the token is for.
    pub label: String,
}

/// A token just made: the secret is in here and nowhere else.
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    /// Id.
    pub token_id: String,
    /// The bearer secret, to show once.
    pub token: String,
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, CaseError> {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| CaseError::invalid("random", format!("the operating system's random source failed: {e}")))?;
    Ok(hex::encode(buf))
}

/// Creates a token. A collector token names its collector, a department token its department; the other roles
/// name neither.
pub async fn create_token(
    store: &Store,
    role: Role,
    scope: (Option<&str>, Option<&str>),
    label: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<NewToken, CaseError> {
    let (collector, department) = scope;
    match (role, collector, department) {
        (Role::Collector, Some(_), None) | (Role::Department, None, Some(_)) => {}
        (Role::Collector, ..) => {
            return Err(CaseError::invalid(
                "--collector",
                "a collector token needs --collector ID (and no --department)",
            ));
        }
        (Role::Department, ..) => {
            return Err(CaseError::invalid(
                "--department",
                "a department token needs --department NAME (and no --collector)",
            ));
        }
        (_, None, None) => {}
        _ => {
            return Err(CaseError::invalid(
                "--role",
                format!(
                    "a {} token sees everything its role sees; --collector and --department are for collector and department tokens",
                    role.as_str()
                ),
            ));
        }
    }
    let token = format!("cobro_{}", random_hex(24)?);
    let mut tx = store.begin().await?;
    let id = store::next_id(&mut tx, "TOK").await.map_err(|e| store.err(e))?;
    sqlx::query(
        "INSERT INTO api_tokens (token_id, token_hash, role, collector_id, department, label, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(sha256_hex(&token))
    .bind(role.as_str())
    .bind(collector)
    .bind(department)
    .bind(label)
    .bind(store::instant(now))
    .bind(by)
    .execute(&mut *tx)
    .await
    .map_err(|e| store.err(e))?;
    tx.commit().await.map_err(|e| store.err(e))?;
    Ok(NewToken { token_id: id, token })
}

/// The principal of a bearer token; `None` for an unknown or revoked one.
pub async fn authenticate(store: &Store, token: &str) -> Result<Option<Principal>, CaseError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        token_id: String,
        role: String,
        collector_id: Option<String>,
        department: Option<String>,
        label: String,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT token_id, role, collector_id, department, label FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(sha256_hex(token))
    .fetch_optional(store.pool())
    .await
    .map_err(|e| store.err(e))?;
    row.map(|r| {
        Ok(Principal {
            token_id: r.token_id,
            role: Role::parse(&r.role)?,
            collector_id: r.collector_id,
            department: r.department,
            label: r.label,
        })
    })
    .transpose()
}

/// Revokes a token; an error when there is no such live token.
pub async fn revoke_token(store: &Store, token_id: &str, now: DateTime<Utc>) -> Result<(), CaseError> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE token_id = $1 AND revoked_at IS NULL")
        .bind(token_id)
        .bind(store::instant(now))
        .execute(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    if done.rows_affected() == 0 {
        return Err(CaseError::NotFound { what: "live token", id: token_id.to_owned() });
    }
    Ok(())
}

/// The key that signs portal links, made on first use.
async fn portal_key(store: &Store) -> Result<Vec<u8>, CaseError> {
    let fresh = random_hex(32)?;
    sqlx::query("INSERT INTO settings (name, value) VALUES ('portal_key', $1) ON CONFLICT (name) DO NOTHING")
        .bind(&fresh)
        .execute(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    let key: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = 'portal_key'")
        .fetch_one(store.pool())
        .await
        .map_err(|e| store.err(e))?;
    hex::decode(key).map_err(|e| CaseError::invalid("settings.portal_key", e.to_string()))
}

fn portal_mac(key: &[u8], customer_id: &str, expires: i64) -> Result<Hmac<Sha256>, CaseError> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|e| CaseError::invalid("portal key", e.to_string()))?;
    mac.update(format!("{customer_id}\n{expires}").as_bytes());
    Ok(mac)
}

/// A portal link's query: `customer=…&expires=<unix seconds>&sig=<hex>`.
pub async fn portal_query(store: &Store, customer_id: &str, expires: DateTime<Utc>) -> Result<String, CaseError> {
    let key = portal_key(store).await?;
    let exp = expires.timestamp();
    let sig = hex::encode(portal_mac(&key, customer_id, exp)?.finalize().into_bytes());
    Ok(format!("customer={customer_id}&expires={exp}&sig={sig}"))
}

/// Why a portal link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalRefusal {
    /// Past its expiry.
    Expired,
    /// The signature does not match (altered customer or expiry, or a made-up link).
    BadSignature,
}

/// Checks a portal link at `now`.
pub async fn check_portal(
    store: &Store,
    customer_id: &str,
    expires: i64,
    sig: &str,
    now: DateTime<Utc>,
) -> Result<Result<(), PortalRefusal>, CaseError> {
    let key = portal_key(store).await?;
    let Ok(sig) = hex::decode(sig) else { return Ok(Err(PortalRefusal::BadSignature)) };
    if portal_mac(&key, customer_id, expires)?.verify_slice(&sig).is_err() {
        return Ok(Err(PortalRefusal::BadSignature));
    }
    if expires < now.timestamp() {
        return Ok(Err(PortalRefusal::Expired));
    }
    Ok(Ok(()))
}

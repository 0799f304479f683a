//! `POST /api/v1/ledger/{table}`: the ERP pushes rows (CSV or JSON), made idempotent by `Idempotency-Key`.
//!
//! The key is claimed in the operational store before the rows are staged and the answer is kept with it, so a
//! retry with the same key and body gets the first answer and stages nothing. A claim left unfinished by a crash
//! is taken over after `idempotency::STALE_AFTER`; the batch's file name (which carries the key's hash) and its
//! sha256 are in the staged ledger's sources exactly when the first attempt was published, so the retry checks
//! them instead of staging the rows a second time.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cobro_app::push::PushFormat;
use cobro_domain::clock::{Clock, SystemClock};
use cobro_domain::tables::Table;
use cobro_workflow::access::Role;
use cobro_workflow::idempotency::{self, Claim};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::ApiError;

/// Stages rows of one canonical table (customers, documents, payments, allocations, fx_rates) on top of the
/// staged ledger, sent as canonical CSV (`text/csv`) or a JSON array of objects (`application/json`; money as
/// strings). Every row goes through the same validation as `cobro import`; refused rows are kept with their
/// reason. `Idempotency-Key` is required: a retry with the same key and body gets the first answer and stages
/// nothing again; the same key with another body is refused. The rows count from the next snapshot.
#[utoipa::path(post, path = "/api/v1/ledger/{table}", tag = "ledger",
    params(("table" = String, Path, description = "customers, documents, payments, allocations or fx_rates"),
           ("Idempotency-Key" = String, Header, description = "unique per batch; retries reuse it")),
    request_body(content = String, description = "canonical CSV, or a JSON array of objects",
                 content_type = "text/csv"),
    security(("bearer" = [])),
    responses((status = 201, description = "this batch's rows read, accepted, merged and rejected, with the first rejects"),
              (status = 400, body = crate::problem::Problem, description = "no Idempotency-Key"),
              (status = 409, body = crate::problem::Problem, description = "the same key is being processed"),
              (status = 413, body = crate::problem::Problem), (status = 415, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem, description = "the body is not rows of the table, or the key was used for another body")))]
pub async fn ledger_push(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin], "push ledger rows")?;
    let Some(t) = Table::from_name(&table) else {
        return Err(ApiError::not_found(format!(
            "no ledger table `{table}`; push to customers, documents, payments, allocations or fx_rates"
        )));
    };
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = match ct.split(';').next().unwrap_or_default().trim() {
        "text/csv" => PushFormat::Csv,
        "application/json" => PushFormat::Json,
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("`{other}`: send text/csv (canonical columns) or application/json (an array of objects)"),
            ));
        }
    };
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).filter(|k| !k.trim().is_empty())
    else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "send an Idempotency-Key header (unique per batch, reused on retries) so that a retry never stages rows twice",
        ));
    };
    let label =
        format!("{}-{}", key.chars().take(40).collect::<String>(), &idempotency::request_hash(&[key.as_bytes()])[..8]);
    let key = format!("ledger:{key}");
    let bytes = axum::body::to_bytes(body, s.limits.max_push_bytes).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a push is at most {} bytes; split it into batches", s.limits.max_push_bytes),
        )
    })?;
    let hash = idempotency::request_hash(&[table.as_bytes(), ct.as_bytes(), &bytes]);
    let resumed = match idempotency::claim(&s.store, &key, &hash, SystemClock.now()).await? {
        Claim::Run => false,
        Claim::Stale => true,
        Claim::Replay { status, body } => return Ok(json_answer(status, body, true)),
        Claim::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "in_progress",
                "a request with this Idempotency-Key is being processed; retry in a few seconds",
            ));
        }
        Claim::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different body; use a new key for a new batch",
            ));
        }
    };
    let data_dir = s.ctx.data_dir.clone();
    let now = SystemClock.now();
    let ran = tokio::task::spawn_blocking(move || {
        if resumed && let Some(file) = cobro_app::push::already_staged(&data_dir, t, format, &bytes, &label) {
            return Ok(Err(file));
        }
        cobro_app::push::push(&data_dir, t, format, &bytes, &label, now).map(Ok)
    })
    .await;
    let (status, answer) = match ran {
        Ok(Ok(Ok(summary))) => {
            let c = summary.batch.get(t.name()).copied().unwrap_or_default();
            let rejects: Vec<Value> = summary
                .first_rejects
                .iter()
                .map(|r| json!({"file": r.file, "line": r.line, "column": r.column, "value": r.value, "reason": r.reason}))
                .collect();
            let answer = json!({"table": t.name(), "read": c.read, "accepted": c.accepted, "merged": c.merged,
                                "rejected": c.rejected, "rejects": rejects,
                                "next": "the rows count from the next snapshot (POST /api/v1/snapshots or cobro snapshot)"});
            (StatusCode::CREATED, answer)
        }
        Ok(Ok(Err(file))) => (
            StatusCode::OK,
            json!({"table": t.name(), "already_staged": file,
                   "detail": "an earlier attempt with this key was staged before the server stopped; nothing was staged again"}),
        ),
        // The body itself is wrong: the same body always fails the same way, so the answer is kept for the key.
        Ok(Err(e)) if e.is_client() => {
            let p = ApiError::invalid(e.to_string()).with_code("ledger_rejected");
            (p.status, serde_json::to_value(p.document()).unwrap_or_default())
        }
        Ok(Err(e)) => {
            idempotency::release(&s.store, &key).await?;
            return Err(ApiError::internal(&e));
        }
        Err(join) => {
            idempotency::release(&s.store, &key).await?;
            return Err(ApiError::internal(&join));
        }
    };
    let text = answer.to_string();
    idempotency::finish(&s.store, &key, status.as_u16(), &text).await?;
    Ok(json_answer(status.as_u16(), text, false))
}

fn json_answer(status: u16, body: String, replay: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut r = (status, body).into_response();
    let ct = if status.is_success() { "application/json" } else { "application/problem+json" };
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if replay {
        r.headers_mut().insert("idempotent-replay", HeaderValue::from_static("true"));
    }
    r
}

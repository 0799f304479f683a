//! The handlers: each decodes its input, checks the caller, calls the application layer or a library, and encodes
//! the result. Every one is in the OpenAPI document through its `#[utoipa::path]`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use cobro_analytics::deadline::Overran;
use cobro_app::ledger::load_ledger;
use cobro_app::output::Format;
use cobro_domain::AsOf;
use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::access::{self, Role};
use cobro_workflow::cases::{self, Ctx as CaseCtx, Outcome, OutcomeKind};
use cobro_workflow::views;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Caller, PORTFOLIO, READERS, WORKERS};
use crate::cache::{Cached, Rows};
use crate::problem::ApiError;
use crate::tabular;

type St = State<Arc<AppState>>;

/// A JSON body whose rejections are problem documents.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Body<T>(pub T);

/// A query string whose rejections are problem documents.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Q<T>(pub T);

/// `?as_of=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// Snapshot date (YYYY-MM-DD); the latest snapshot when absent.
    #[param(value_type = Option<String>, example = "2024-12-31")]
    pub as_of: Option<AsOf>,
}

/// `?as_of=&collector=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// Snapshot date (YYYY-MM-DD); the latest snapshot when absent.
    #[param(value_type = Option<String>, example = "2024-12-31")]
    pub as_of: Option<AsOf>,
    /// One collector's queue (a collector token always gets its own).
    pub collector: Option<String>,
    /// Rows to skip (a page's start).
    pub offset: Option<usize>,
    /// Rows to return at most (a page's size); all when absent.
    pub limit: Option<usize>,
}

/// The liveness probe.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "ok", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The snapshots there are.
#[utoipa::path(get, path = "/api/v1/snapshots", tag = "snapshots", security(("bearer" = [])),
    responses((status = 200, description = "as_of dates and versions, newest first")))]
pub async fn snapshots(State(s): St, caller: Caller) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin, Role::Cfo, Role::Analyst, Role::Collector, Role::Department], "list snapshots")?;
    let list = s.ctx.snapshots.list().await.map_err(|e| ApiError::internal(&e))?;
    let rows: Vec<serde_json::Value> =
        list.iter().rev().map(|r| serde_json::json!({ "as_of": r.as_of.to_string(), "version": r.version })).collect();
    Ok(axum::Json(rows).into_response())
}

/// The KPI summary (DSO, BPDSO, ADD, CEI, ...) with definitions and the figures behind them.
#[utoipa::path(get, path = "/api/v1/metrics", tag = "metrics", params(AsOfQuery), security(("bearer" = [])),
    responses((status = 200, description = "one row per metric; JSON, CSV, Arrow or Parquet by Accept"),
              (status = 403, body = crate::problem::Problem)))]
pub async fn metrics(State(s): St, caller: Caller, Q(q): Q<AsOfQuery>, h: HeaderMap) -> Result<Response, ApiError> {
    company_table(&s, &caller, q.as_of, cobro_analytics::sql::METRICS_SUMMARY, &h).await
}

/// A company-wide table for the readers (admin, CFO, analyst): one of cobro's queries over a snapshot.
async fn company_table(
    s: &AppState,
    caller: &Caller,
    as_of: Option<AsOf>,
    template: &str,
    h: &HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(READERS, "read company-wide figures")?;
    let format = tabular::negotiate(h)?;
    let cached = s.sessions.open(&s.ctx, as_of).await?;
    let sql = cached.opened.session.params().render(template);
    let rows = cached.rows(&sql).await?;
    let body =
        cached.encoded(&format!("{format:?}:{sql}"), || tabular::encode(&rows.batches, rows.schema.clone(), format))?;
    Ok(tabular::body_response(body, format))
}

/// `ar_monthly`: sales, collections, receivables and the DSO family per month.
#[utoipa::path(get, path = "/api/v1/ar-monthly", tag = "metrics", params(AsOfQuery), security(("bearer" = [])),
    responses((status = 200, description = "one row per month"), (status = 403, body = crate::problem::Problem)))]
pub async fn ar_monthly(State(s): St, caller: Caller, Q(q): Q<AsOfQuery>, h: HeaderMap) -> Result<Response, ApiError> {
    company_table(&s, &caller, q.as_of, "SELECT * FROM ar_monthly ORDER BY month", &h).await
}

/// Ageing by bucket and currency.
#[utoipa::path(get, path = "/api/v1/ageing", tag = "metrics", params(AsOfQuery), security(("bearer" = [])),
    responses((status = 200, description = "one row per bucket and currency"), (status = 403, body = crate::problem::Problem)))]
pub async fn ageing(State(s): St, caller: Caller, Q(q): Q<AsOfQuery>, h: HeaderMap) -> Result<Response, ApiError> {
    company_table(&s, &caller, q.as_of, "SELECT * FROM ageing ORDER BY bucket_order, currency", &h).await
}

/// The risk-ranked work queue, with the store's live records on top of the snapshot.
#[utoipa::path(get, path = "/api/v1/work-queue", tag = "collections", params(QueueQuery), security(("bearer" = [])),
    responses((status = 200, description = "customers in queue order"), (status = 403, body = crate::problem::Problem)))]
pub async fn work_queue(State(s): St, caller: Caller, Q(q): Q<QueueQuery>, h: HeaderMap) -> Result<Response, ApiError> {
    let format = tabular::negotiate(&h)?;
    let (cached, collector, rows) = queue_rows(&s, &caller, q.collector.as_deref(), q.as_of).await?;
    // The whole queue is computed once per state of the data, a collector's part is taken from it by index, and
    // each page is encoded once.
    let key = format!("queue:{format:?}:{collector:?}:{}:{:?}", q.offset.unwrap_or(0), q.limit);
    let page = page(&rows.batches, q.offset.unwrap_or(0), q.limit.unwrap_or(usize::MAX));
    let body = cached.encoded(&key, || tabular::encode(&page, rows.schema.clone(), format))?;
    Ok(tabular::body_response(body, format))
}

/// The live work queue a caller may see: a collector's own (asking for another's is 403), or one collector's
/// when asked, or everyone's. Returns the session, the collector it was limited to, and the rows in rank order.
pub(crate) async fn queue_rows(
    s: &AppState,
    caller: &Caller,
    asked: Option<&str>,
    as_of: Option<AsOf>,
) -> Result<(Arc<Cached>, Option<String>, Arc<Rows>), ApiError> {
    caller.require(PORTFOLIO, "read a work queue")?;
    let collector = match (caller.own_collector(), asked) {
        (Some(own), Some(asked)) if own != asked => {
            return Err(ApiError::forbidden(format!("a collector token sees its own queue ({own}), not {asked}'s")));
        }
        (Some(own), _) => Some(own.to_owned()),
        (None, asked) => asked.map(str::to_owned),
    };
    let cached = s.sessions.open_live(&s.ctx, &s.store, as_of).await?;
    let queue = cached.indexed(WORK_QUEUE, "collector_id").await?;
    let rows = match &collector {
        Some(c) => Arc::new(queue.get(c)?),
        None => cached.rows(WORK_QUEUE).await?,
    };
    Ok((cached, collector, rows))
}

/// The work queue in rank order.
pub const WORK_QUEUE: &str = "SELECT * FROM work_queue ORDER BY queue_rank";

/// How rows become JSON: [`json_of`] for the API (numbers as numbers), [`text_of`] for pages (every cell as
/// its exact text).
pub(crate) type Enc = fn(&Rows) -> Result<serde_json::Value, ApiError>;

/// Rows as JSON values.
pub(crate) fn json_of(rows: &Rows) -> Result<serde_json::Value, ApiError> {
    let bytes = cobro_app::output::encode(&rows.batches, rows.schema.clone(), Format::Json)
        .map_err(|e| ApiError::internal(&e))?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(&e))
}

/// Rows as JSON objects whose cells are their exact text (decimals as written, not as binary floats), `null`
/// for none: what a page prints.
pub(crate) fn text_of(rows: &Rows) -> Result<serde_json::Value, ApiError> {
    use cobro_analytics::arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default();
    let mut out = Vec::new();
    for b in &rows.batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::internal(&e))?;
        for i in 0..b.num_rows() {
            let mut row = serde_json::Map::new();
            for (f, (field, col)) in formatters.iter().zip(rows.schema.fields().iter().zip(b.columns())) {
                let v = if col.is_null(i) {
                    serde_json::Value::Null
                } else {
                    serde_json::Value::String(f.value(i).to_string())
                };
                row.insert(field.name().clone(), v);
            }
            out.push(serde_json::Value::Object(row));
        }
    }
    Ok(serde_json::Value::Array(out))
}

/// One customer's rows of a table or view, from an index built once per state of the data.
async fn customer_rows(
    cached: &Arc<Cached>,
    table: &str,
    order: &str,
    customer: &str,
    enc: Enc,
) -> Result<serde_json::Value, ApiError> {
    let sql = format!("SELECT * FROM {table} ORDER BY {order}");
    enc(&cached.indexed(&sql, "customer_id").await?.get(customer)?)
}

/// The account card: everything about one customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "collections", params(("id" = String, Path), AsOfQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "customer, open items, ageing, behaviour, segment with reasons, records, timeline"),
              (status = 404, body = crate::problem::Problem)))]
pub async fn account_card(
    State(s): St,
    caller: Caller,
    Path(id): Path<String>,
    Q(q): Q<AsOfQuery>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(card(&s, &caller, &id, q.as_of, json_of).await?).into_response())
}

/// The account card of customer `id` as the caller may see it (a collector: its own customers only).
pub(crate) async fn card(
    s: &AppState,
    caller: &Caller,
    id: &str,
    as_of: Option<AsOf>,
    enc: Enc,
) -> Result<serde_json::Value, ApiError> {
    caller.require(PORTFOLIO, "read an account card")?;
    let cached = s.sessions.open_live(&s.ctx, &s.store, as_of).await?;
    let as_of = cached.opened.manifest.as_of;
    let customer = customer_rows(&cached, "customers", "customer_id", id, enc).await?;
    let Some(customer) = customer.as_array().and_then(|a| a.first()).cloned() else {
        return Err(ApiError::not_found(format!("no customer `{id}` in the snapshot as of {as_of}")));
    };
    if let Some(own) = caller.own_collector()
        && customer["collector_id"].as_str() != Some(own)
    {
        return Err(ApiError::not_found(format!("no customer `{id}` in your portfolio ({own})")));
    }
    let open_items = customer_rows(&cached, "open_items", "customer_id, due_date, document_id", id, enc).await?;
    let ageing = customer_rows(
        &cached,
        "(SELECT customer_id, bucket, currency, COUNT(*) AS open_count, SUM(balance) AS balance FROM open_items \
          GROUP BY customer_id, bucket, currency)",
        "customer_id, bucket, currency",
        id,
        enc,
    )
    .await?;
    let behaviour = customer_rows(&cached, "customer_behaviour", "customer_id", id, enc).await?;
    let segment = customer_rows(&cached, "segments", "customer_id", id, enc).await?;
    let case = views::customer_case(&s.store, id).await?;
    Ok(serde_json::json!({
        "as_of": as_of.to_string(),
        "customer": customer,
        "open_items": open_items,
        "ageing": ageing,
        "behaviour": behaviour.as_array().and_then(|a| a.first()).cloned(),
        "segment": segment.as_array().and_then(|a| a.first()).cloned(),
        "records": case,
    }))
}

/// `POST /api/v1/sql`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One query: SELECT, WITH, EXPLAIN, SHOW or DESCRIBE.
    pub sql: String,
    /// Snapshot date; the latest when absent.
    #[schema(value_type = Option<String>, example = "2024-12-31")]
    pub as_of: Option<AsOf>,
}

/// Read-only SQL over a snapshot, bounded by rows and time.
#[utoipa::path(post, path = "/api/v1/sql", tag = "sql", request_body = SqlRequest, security(("bearer" = [])),
    responses((status = 200, description = "the rows; JSON, CSV, Arrow or Parquet by Accept; header Cobro-Truncated when cut at the row limit"),
              (status = 403, description = "a role without SQL, or a statement that is not a query", body = crate::problem::Problem),
              (status = 400, description = "the query does not plan", body = crate::problem::Problem)))]
pub async fn sql(
    State(s): St,
    caller: Caller,
    h: HeaderMap,
    Body(req): Body<SqlRequest>,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin, Role::Analyst, Role::Cfo], "run SQL")?;
    let format = tabular::negotiate(&h)?;
    let cached = s.sessions.open(&s.ctx, req.as_of).await?;
    let df = cached.opened.session.sql_read_only(&req.sql, s.limits.sql_bounds()).await.map_err(|e| {
        let text = e.to_string();
        if ["DDL not supported", "DML not supported", "Statement not supported"].iter().any(|k| text.contains(k)) {
            ApiError::forbidden(format!("{QUERIES_ONLY}: {text}")).with_code("sql_forbidden")
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "sql_invalid", text)
        }
    })?;
    let limit = s.limits.sql_max_rows;
    let df = df.limit(0, Some(limit + 1)).map_err(|e| ApiError::internal(&e))?;
    let schema = df.schema().inner().clone();
    // The time bound is on the plan (analytics/src/deadline.rs), as over pgwire.
    let batches = df.collect().await.map_err(|e| {
        if let Some(overran) = Overran::of(&e) {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "sql_timeout", overran.to_string())
        } else if e.to_string().contains("Resources exhausted") {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "sql_memory",
                format!(
                    "the query needs more than the {} MB one query may use (sql_memory_mb); aggregate or filter more, or use `cobro sql` locally",
                    s.limits.sql_memory_bytes >> 20
                ),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "sql_invalid", e.to_string())
        }
    })?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let (batches, truncated) = if rows > limit { (page(&batches, 0, limit), true) } else { (batches, false) };
    let mut r = tabular::respond(&batches, schema, format)?;
    if truncated {
        r.headers_mut().insert("cobro-truncated", HeaderValue::from(limit));
    }
    Ok(r)
}

/// What a refused statement is told, over HTTP and over the PostgreSQL wire protocol.
pub(crate) const QUERIES_ONLY: &str = "only queries run here (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE)";

/// Rows `offset..offset + limit` of some batches (zero-copy slices).
pub(crate) fn page(
    batches: &[cobro_analytics::arrow::record_batch::RecordBatch],
    offset: usize,
    limit: usize,
) -> Vec<cobro_analytics::arrow::record_batch::RecordBatch> {
    let (mut skip, mut left) = (offset, limit);
    let mut out = Vec::new();
    for b in batches {
        if left == 0 {
            break;
        }
        if skip >= b.num_rows() {
            skip -= b.num_rows();
            continue;
        }
        let n = (b.num_rows() - skip).min(left);
        out.push(b.slice(skip, n));
        left -= n;
        skip = 0;
    }
    out
}

/// One of seed 003's five contact outcomes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRequest {
    /// Customer.
    pub customer_id: String,
    /// Documents it covers.
    pub documents: Vec<String>,
    /// promise_to_pay, no_commitment, reported_paid, dispute, no_contact.
    pub outcome: String,
    /// promise_to_pay: the promised date.
    #[schema(value_type = Option<String>)]
    pub promised_date: Option<NaiveDate>,
    /// promise_to_pay or dispute: an amount (a decimal string); all the balances when absent.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// no_commitment: days to the follow-up.
    pub follow_up_days: Option<i64>,
    /// reported_paid: the day the customer says it paid.
    #[schema(value_type = Option<String>)]
    pub paid_date: Option<NaiveDate>,
    /// reported_paid: its payment reference.
    pub reference: Option<String>,
    /// dispute: a configured dispute type.
    pub dispute_type: Option<String>,
    /// dispute: an owner other than the department's.
    pub owner: Option<String>,
    /// A configured delay-reason code.
    pub delay_reason: Option<String>,
    /// The collector's note.
    pub note: Option<String>,
    /// The version of each document the caller decided from.
    #[serde(default)]
    pub expected_versions: BTreeMap<String, i64>,
    /// Snapshot whose ledger the documents are checked against; the latest when absent.
    #[schema(value_type = Option<String>)]
    pub as_of: Option<AsOf>,
}

fn need<T>(v: Option<T>, field: &str, outcome: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError::invalid(format!("`{field}` is required for outcome `{outcome}`")))
}

/// Records a contact outcome.
#[utoipa::path(post, path = "/api/v1/outcomes", tag = "collections", request_body = OutcomeRequest, security(("bearer" = [])),
    responses((status = 201, description = "what was recorded"), (status = 409, body = crate::problem::Problem),
              (status = 404, body = crate::problem::Problem), (status = 422, body = crate::problem::Problem)))]
pub async fn outcome(State(s): St, caller: Caller, Body(req): Body<OutcomeRequest>) -> Result<Response, ApiError> {
    let who = caller.require(WORKERS, "record collection outcomes")?.clone();
    let kind = match req.outcome.as_str() {
        "promise_to_pay" => OutcomeKind::PromiseToPay {
            date: need(req.promised_date, "promised_date", &req.outcome)?,
            amount: req.amount,
        },
        "no_commitment" => OutcomeKind::NoCommitment { follow_up_days: req.follow_up_days },
        "reported_paid" => OutcomeKind::ReportedPaid { paid_date: req.paid_date, reference: req.reference.clone() },
        "dispute" => OutcomeKind::Dispute {
            dispute_type: need(req.dispute_type.clone(), "dispute_type", &req.outcome)?,
            amount: req.amount,
            owner: req.owner.clone(),
        },
        "no_contact" => OutcomeKind::NoContact,
        other => {
            return Err(ApiError::invalid(format!(
                "`{other}` is not an outcome; use promise_to_pay, no_commitment, reported_paid, dispute or no_contact"
            )));
        }
    };
    let opened = s.ctx.open(req.as_of).await?;
    let docs: BTreeSet<String> = req.documents.iter().cloned().collect();
    let ledger =
        load_ledger(&opened.session, opened.manifest.as_of.date(), &docs, &BTreeSet::from([req.customer_id.clone()]))
            .await?;
    if let Some(own) = caller.own_collector()
        && ledger.customers.get(&req.customer_id).and_then(|c| c.collector_id.as_deref()) != Some(own)
    {
        return Err(ApiError::not_found(format!("no customer `{}` in your portfolio ({own})", req.customer_id)));
    }
    let o = Outcome {
        customer_id: req.customer_id,
        documents: req.documents,
        kind,
        note: req.note,
        delay_reason: req.delay_reason,
        expect: req.expected_versions,
    };
    let actor = actor_of(&who);
    let rec = cases::record_outcome(&case_ctx(&s, &ledger, &actor)?, &o).await?;
    Ok((StatusCode::CREATED, axum::Json(rec)).into_response())
}

/// A workflow context over `ledger`, acting as `actor`, now (on the company's local date).
fn case_ctx<'a>(s: &'a AppState, ledger: &'a cobro_workflow::Ledger, actor: &'a str) -> Result<CaseCtx<'a>, ApiError> {
    Ok(s.ctx.case_ctx(&s.store, ledger, actor, SystemClock.now())?)
}

/// `?all=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AllQuery {
    /// Resolved ones too.
    #[serde(default)]
    pub all: bool,
}

/// Disputes: a department token sees its department's, a collector its customers'.
#[utoipa::path(get, path = "/api/v1/disputes", tag = "disputes", params(AllQuery), security(("bearer" = [])),
    responses((status = 200, description = "one row per disputed document")))]
pub async fn disputes(State(s): St, caller: Caller, Q(q): Q<AllQuery>) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin, Role::Cfo, Role::Analyst, Role::Collector, Role::Department], "read disputes")?;
    let rows = views::disputes(&s.store, caller.own_department(), caller.own_collector(), q.all).await?;
    Ok(axum::Json(rows).into_response())
}

/// `POST /api/v1/disputes/{id}/resolve`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// credit_note, corrected_invoice or rejected.
    pub resolution: String,
    /// A note.
    pub note: Option<String>,
}

/// Resolves a dispute: its department's owner (department token) or an admin.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/resolve", tag = "disputes", params(("id" = String, Path)),
    request_body = ResolveRequest, security(("bearer" = [])),
    responses((status = 200, description = "what was recorded"), (status = 404, body = crate::problem::Problem)))]
pub async fn resolve_dispute(
    State(s): St,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<ResolveRequest>,
) -> Result<Response, ApiError> {
    let (ledger, actor) = dispute_scope(&s, &caller, &id, "resolve disputes").await?;
    let rec =
        cases::resolve_dispute(&case_ctx(&s, &ledger, &actor)?, &id, &req.resolution, req.note.as_deref()).await?;
    Ok(axum::Json(rec).into_response())
}

/// `POST /api/v1/disputes/{id}/respond`.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RespondRequest {
    /// What the department answered.
    pub note: Option<String>,
}

/// The department's first response to a dispute (the response deadline's clock stops): its department's owner
/// or an admin; once only.
#[utoipa::path(post, path = "/api/v1/disputes/{id}/respond", tag = "disputes", params(("id" = String, Path)),
    request_body = RespondRequest, security(("bearer" = [])),
    responses((status = 200, description = "what was recorded"), (status = 404, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem, description = "already answered, or resolved")))]
pub async fn respond_dispute(
    State(s): St,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<RespondRequest>,
) -> Result<Response, ApiError> {
    let (ledger, actor) = dispute_scope(&s, &caller, &id, "respond to disputes").await?;
    let rec = cases::respond_dispute(&case_ctx(&s, &ledger, &actor)?, &id, req.note.as_deref()).await?;
    Ok(axum::Json(rec).into_response())
}

/// Before a change to dispute `id`: the caller is an admin or the dispute's own department (another department's
/// dispute is a 404). Returns the ledger slice of the dispute's documents and the actor to record.
async fn dispute_scope(
    s: &AppState,
    caller: &Caller,
    id: &str,
    what: &str,
) -> Result<(cobro_workflow::Ledger, String), ApiError> {
    let who = caller.require(&[Role::Admin, Role::Department], what)?.clone();
    let Some(department) = views::record_field(&s.store, "disputes", "dispute_id", id, "department").await? else {
        return Err(ApiError::not_found(format!("no dispute `{id}`")));
    };
    if let Some(dept) = caller.own_department()
        && department.as_deref() != Some(dept)
    {
        return Err(ApiError::not_found(format!("no dispute `{id}` routed to {dept}")));
    }
    let (docs, custs) = cobro_workflow::export::record_documents(&s.store, "disputes", "dispute_id", id).await?;
    let opened = s.ctx.open(None).await?;
    let ledger = load_ledger(&opened.session, opened.manifest.as_of.date(), &docs, &custs).await?;
    Ok((ledger, actor_of(&who)))
}

/// Tasks: a collector's own, a department's own, everyone's for admins.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "collections", params(AllQuery), security(("bearer" = [])),
    responses((status = 200, description = "tasks by due date")))]
pub async fn tasks(State(s): St, caller: Caller, Q(q): Q<AllQuery>) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin, Role::Cfo, Role::Collector, Role::Department], "read tasks")?;
    let rows = views::tasks(&s.store, own_assignee(&s, &caller)?.as_deref(), q.all).await?;
    Ok(axum::Json(rows).into_response())
}

/// Whose tasks a caller's are: a collector's own, a department's owner's (tasks are assigned to people), none
/// (everyone's) for the other roles.
pub(crate) fn own_assignee(s: &AppState, caller: &Caller) -> Result<Option<String>, ApiError> {
    Ok(match caller.0.role {
        Role::Collector => caller.0.collector_id.clone(),
        Role::Department => {
            let dept = caller.0.department.clone().unwrap_or_default();
            Some(s.ctx.workflow()?.departments.get(&dept).map(|d| d.owner.clone()).unwrap_or(dept))
        }
        _ => None,
    })
}

/// `?customer=&expires=&sig=`: a signed portal link.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PortalQuery {
    /// The customer the link is for.
    pub customer: String,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// HMAC-SHA256 of the two, hex.
    pub sig: String,
}

/// The customer portal's statement: that customer's open items, nothing else. No token: the signed link is the
/// credential.
#[utoipa::path(get, path = "/api/v1/portal/statement", tag = "portal", params(PortalQuery),
    responses((status = 200, description = "the customer's name and open items"),
              (status = 403, description = "a link that is expired, altered or for another customer", body = crate::problem::Problem)))]
pub async fn portal_statement(
    State(s): St,
    portal: crate::auth::Portal,
    Q(_q): Q<PortalQuery>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(statement(&s, &portal.customer, json_of).await?).into_response())
}

/// A customer's statement: its name and open items at the latest snapshot, with the store's records on top.
pub(crate) async fn statement(s: &AppState, customer: &str, enc: Enc) -> Result<serde_json::Value, ApiError> {
    let cached = s.sessions.open_live(&s.ctx, &s.store, None).await?;
    let c = customer_rows(&cached, "(SELECT customer_id, name, currency FROM customers)", "customer_id", customer, enc)
        .await?;
    let items = customer_rows(
        &cached,
        "(SELECT customer_id, document_id, kind, issue_date, due_date, currency, amount, balance, days_past_due FROM open_items)",
        "customer_id, due_date, document_id",
        customer,
        enc,
    )
    .await?;
    Ok(serde_json::json!({
        "as_of": cached.opened.manifest.as_of.to_string(),
        "customer": c.as_array().and_then(|a| a.first()).cloned(),
        "open_items": items,
    }))
}

/// Who to record as the actor of a caller's change: the collector or department its token belongs to, else the
/// token's label and id.
pub(crate) fn actor_of(p: &access::Principal) -> String {
    p.collector_id.clone().or_else(|| p.department.clone()).unwrap_or_else(|| format!("{} ({})", p.label, p.token_id))
}

/// `?as_of=&at=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// Snapshot date (YYYY-MM-DD); the latest when absent.
    #[param(value_type = Option<String>, example = "2024-12-31")]
    pub as_of: Option<AsOf>,
    /// The run's instant (RFC 3339); now when absent.
    #[param(value_type = Option<String>, example = "2024-12-31T09:00:00Z")]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The dunning plan, as a dry run: every action and every skip with its reason. Nothing is recorded.
#[utoipa::path(get, path = "/api/v1/dunning/plan", tag = "dunning", params(PlanQuery), security(("bearer" = [])),
    responses((status = 200, description = "{actions, skipped, feed_problem}"), (status = 403, body = crate::problem::Problem)))]
pub async fn dunning_plan(State(s): St, caller: Caller, Q(q): Q<PlanQuery>) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin, Role::Cfo], "preview the dunning plan")?;
    Ok(axum::Json(plan_preview(&s, q.as_of, q.at).await?).into_response())
}

/// The dunning plan as a dry run: `{as_of, at, feed_problem, actions, skipped}`.
pub(crate) async fn plan_preview(
    s: &AppState,
    as_of: Option<AsOf>,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<serde_json::Value, ApiError> {
    let req = cobro_app::dunning::PlanRequest { as_of, at, strategies: None };
    let built = cobro_app::dunning::build(&s.ctx, &req).await?;
    Ok(serde_json::json!({
        "as_of": built.as_of.to_string(),
        "at": built.now,
        "feed_problem": built.feed_problem,
        "actions": built.plan.actions,
        "skipped": built.plan.skipped,
    }))
}

/// `?state=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// Only this state: queued, sending, sent, bounced, failed.
    pub state: Option<String>,
}

/// The outbox: every message with its state, attempts and last error (no bodies).
#[utoipa::path(get, path = "/api/v1/dunning/messages", tag = "dunning", params(MessagesQuery), security(("bearer" = [])),
    responses((status = 200, description = "messages, newest first"), (status = 403, body = crate::problem::Problem)))]
pub async fn dunning_messages(State(s): St, caller: Caller, Q(q): Q<MessagesQuery>) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin, Role::Cfo], "read the outbox")?;
    Ok(axum::Json(views::messages(&s.store, q.state.as_deref()).await?).into_response())
}

/// A bounce reported by the mail or SMS provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BounceRequest {
    /// The message id (`MSG-n`) or the Message-ID it was sent under.
    pub message: String,
    /// What the bounce said (e.g. `550 5.1.1 user unknown`).
    pub reason: String,
}

/// The bounce callback: marks the message bounced, holds the address, and gives the collector a task.
#[utoipa::path(post, path = "/api/v1/dunning/bounces", tag = "dunning", request_body = BounceRequest, security(("bearer" = [])),
    responses((status = 200, description = "what was recorded"), (status = 404, body = crate::problem::Problem),
              (status = 403, body = crate::problem::Problem)))]
pub async fn dunning_bounce(
    State(s): St,
    caller: Caller,
    Body(req): Body<BounceRequest>,
) -> Result<Response, ApiError> {
    let who = caller.require(&[Role::Admin], "report bounces")?.clone();
    if req.reason.trim().is_empty() {
        return Err(ApiError::invalid("`reason`: say what the bounce said"));
    }
    let collector = cobro_app::dunning::collector_of_message(&s.ctx, &s.store, &req.message).await;
    let ledger = cobro_workflow::Ledger::default();
    let actor = actor_of(&who);
    let c = case_ctx(&s, &ledger, &actor)?;
    let rec = cobro_workflow::delivery::bounce(&c, &req.message, &req.reason, collector.as_deref()).await?;
    Ok(axum::Json(rec).into_response())
}

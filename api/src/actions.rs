//! The rest of the API: snapshot builds, segments, alarms, task completion, the dunning approval flow and run,
//! and the customer portal's own actions (download, report a payment, raise a dispute, the message thread).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use cobro_app::ledger::load_ledger;
use cobro_domain::AsOf;
use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::access::Role;
use cobro_workflow::cases::{self, Outcome, OutcomeKind};
use cobro_workflow::{executor, views};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Caller, PORTFOLIO, Portal};
use crate::problem::ApiError;
use crate::routes::{AsOfQuery, Body, Q};
use crate::tabular;

type St = State<Arc<AppState>>;

/// `POST /api/v1/snapshots`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRequest {
    /// As-of date of the snapshot to build.
    #[schema(value_type = String, example = "2024-12-31")]
    pub as_of: AsOf,
}

/// Builds a snapshot of the staged ledger (with the store's records as of now). A new version of the same date
/// replaces the old one for new requests; readers of the old one are not disturbed.
#[utoipa::path(post, path = "/api/v1/snapshots", tag = "snapshots", request_body = SnapshotRequest, security(("bearer" = [])),
    responses((status = 201, description = "the new version, its files and control totals"), (status = 403, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem, description = "nothing staged yet (`nothing_staged`)")))]
pub async fn build_snapshot(
    State(s): St,
    caller: Caller,
    Body(req): Body<SnapshotRequest>,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin], "build snapshots")?;
    Ok((StatusCode::CREATED, axum::Json(snapshot(&s, req.as_of, None).await?)).into_response())
}

/// Builds a snapshot with the store's records as of now: its version, files and control totals. Nothing staged
/// is the caller's to fix (422); anything else is the server's (500).
pub(crate) async fn snapshot(
    s: &AppState,
    as_of: AsOf,
    progress: Option<cobro_pipeline::snapshot::Progress>,
) -> Result<serde_json::Value, ApiError> {
    let tables = cobro_workflow::export::export(Some(&s.store), s.ctx.workflow()?).await?;
    let (snap, manifest) =
        s.ctx.build_snapshot(as_of, tables, progress).await.map_err(|e| match e
            .downcast_ref::<cobro_pipeline::snapshot::SnapshotError>()
        {
            Some(n @ cobro_pipeline::snapshot::SnapshotError::NoStaging { .. }) => {
                ApiError::invalid(n.to_string()).with_code("nothing_staged")
            }
            _ => ApiError::internal(&format!("{e:#}")),
        })?;
    let files: serde_json::Map<String, serde_json::Value> =
        manifest.files.iter().map(|(t, f)| (t.clone(), json!({"rows": f.rows, "bytes": f.bytes}))).collect();
    Ok(json!({"as_of": snap.as_of.to_string(), "version": snap.version, "files": files,
              "control_totals": manifest.control_totals}))
}

/// Risk segments with their reasons: a collector sees its own customers'.
#[utoipa::path(get, path = "/api/v1/segments", tag = "collections", params(AsOfQuery), security(("bearer" = [])),
    responses((status = 200, description = "one row per customer; JSON, CSV, Arrow or Parquet by Accept"), (status = 403, body = crate::problem::Problem)))]
pub async fn segments(State(s): St, caller: Caller, Q(q): Q<AsOfQuery>, h: HeaderMap) -> Result<Response, ApiError> {
    caller.require(PORTFOLIO, "read segments")?;
    let format = tabular::negotiate(&h)?;
    let cached = s.sessions.open_live(&s.ctx, &s.store, q.as_of).await?;
    let sql = "SELECT s.*, c.collector_id FROM segments s JOIN customers c ON c.customer_id = s.customer_id ORDER BY s.customer_id";
    let rows = match caller.own_collector() {
        Some(own) => Arc::new(cached.indexed(sql, "collector_id").await?.get(own)?),
        None => cached.rows(sql).await?,
    };
    tabular::respond(&rows.batches, rows.schema.clone(), format)
}

/// One of the four alarms of seed 003 (action-needed, broken-promises, reported-not-credited, open-disputes):
/// readers see every row, a collector its own, a department its disputes.
#[utoipa::path(get, path = "/api/v1/alarms/{name}", tag = "collections", params(("name" = String, Path), AsOfQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "the alarm's rows; JSON, CSV, Arrow or Parquet by Accept"), (status = 404, body = crate::problem::Problem)))]
pub async fn alarm(
    State(s): St,
    caller: Caller,
    Path(name): Path<String>,
    Q(q): Q<AsOfQuery>,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin, Role::Cfo, Role::Analyst, Role::Collector, Role::Department], "read alarms")?;
    let Some((_, view, _, order)) = cobro_app::alarms::ALARMS.iter().find(|(n, ..)| *n == name) else {
        let names: Vec<&str> = cobro_app::alarms::ALARMS.iter().map(|(n, ..)| *n).collect();
        return Err(ApiError::not_found(format!("no alarm `{name}`; the alarms are {}", names.join(", "))));
    };
    let format = tabular::negotiate(&h)?;
    let cached = s.sessions.open_live(&s.ctx, &s.store, q.as_of).await?;
    let sql = format!("SELECT * FROM {view} {order}");
    let rows = if let Some(own) = caller.own_collector() {
        Arc::new(cached.indexed(&sql, "collector_id").await?.get(own)?)
    } else if let Some(dept) = caller.own_department() {
        if *view != "alarm_open_disputes" {
            return Err(ApiError::forbidden("a department reads the open-disputes alarm only"));
        }
        Arc::new(cached.indexed(&sql, "department").await?.get(dept)?)
    } else {
        cached.rows(&sql).await?
    };
    tabular::respond(&rows.batches, rows.schema.clone(), format)
}

/// `?as_of=&format=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Snapshot date (YYYY-MM-DD); the latest snapshot when absent.
    #[param(value_type = Option<String>, example = "2024-12-31")]
    pub as_of: Option<AsOf>,
    /// `html` (the default: one self-contained page) or `xlsx` (its tables as a workbook, as an attachment).
    pub format: Option<String>,
}

/// The CFO report: one self-contained HTML page (the same as `cobro report`), or its tables as an Excel workbook.
#[utoipa::path(get, path = "/api/v1/reports/cfo", tag = "metrics", params(ReportQuery), security(("bearer" = [])),
    responses((status = 200, description = "text/html: KPI tiles, movement, charts, tables; or the xlsx workbook"),
              (status = 403, body = crate::problem::Problem)))]
pub async fn cfo_report(State(s): St, caller: Caller, Q(q): Q<ReportQuery>) -> Result<Response, ApiError> {
    caller.require(crate::auth::READERS, "read the CFO report")?;
    let cached = s.sessions.open(&s.ctx, q.as_of).await?;
    let report = cached.report(&s.ctx.workflow()?.company.name).await?;
    let (body, ct, ext) = match q.format.as_deref().unwrap_or("html") {
        "html" => (report.html.clone().into_bytes(), "text/html; charset=utf-8", None),
        "xlsx" => (
            cobro_app::report::xlsx(&report).map_err(|e| ApiError::internal(&e))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Some("xlsx"),
        ),
        other => return Err(ApiError::invalid(format!("format `{other}`: use html or xlsx"))),
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Some(ext) = ext
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"cobro-report-{}.{ext}\"", report.as_of))
    {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `POST /api/v1/tasks/{id}/complete`.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// A note for the timeline.
    pub note: Option<String>,
}

/// Marks a task done. Collectors and departments complete their own tasks; another's is a 404.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "collections", params(("id" = String, Path)),
    request_body = NoteRequest, security(("bearer" = [])),
    responses((status = 200, description = "what was recorded"), (status = 404, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem, description = "the task is not open")))]
pub async fn complete_task(
    State(s): St,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<NoteRequest>,
) -> Result<Response, ApiError> {
    let who = caller.require(&[Role::Admin, Role::Collector, Role::Department], "complete tasks")?.clone();
    if let Some(own) = crate::routes::own_assignee(&s, &caller)? {
        let assignee = views::record_field(&s.store, "tasks", "task_id", &id, "assignee").await?;
        if assignee.flatten().as_deref() != Some(own.as_str()) {
            return Err(ApiError::not_found(format!("no task `{id}` assigned to you ({own})")));
        }
    }
    let actor = crate::routes::actor_of(&who);
    let ledger = cobro_workflow::Ledger::default();
    let rec =
        cases::complete_task(&s.ctx.case_ctx(&s.store, &ledger, &actor, SystemClock.now())?, &id, req.note.as_deref())
            .await?;
    Ok(axum::Json(rec).into_response())
}

/// `POST /api/v1/dunning/plans` and `POST /api/v1/dunning/run`.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Snapshot date; the latest when absent.
    #[schema(value_type = Option<String>, example = "2024-12-31")]
    pub as_of: Option<AsOf>,
    /// The run's instant (RFC 3339); now when absent.
    #[schema(value_type = Option<String>, example = "2024-12-31T09:00:00Z")]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// `run` only: the approved plan to keep to (required when `[dunning] approval_required` is on).
    pub plan: Option<String>,
    /// `run` only: record the actions but leave delivery to the outbox worker (`cobro dunning deliver`).
    #[serde(default)]
    pub no_deliver: bool,
}

fn plan_request(r: &RunRequest) -> cobro_app::dunning::PlanRequest {
    cobro_app::dunning::PlanRequest { as_of: r.as_of, at: r.at, strategies: None }
}

/// Saves the plan for approval (four eyes: whoever saves it cannot approve it).
#[utoipa::path(post, path = "/api/v1/dunning/plans", tag = "dunning", request_body = RunRequest, security(("bearer" = [])),
    responses((status = 201, description = "{plan_id, actions, skipped}"), (status = 403, body = crate::problem::Problem)))]
pub async fn save_plan(State(s): St, caller: Caller, Body(req): Body<RunRequest>) -> Result<Response, ApiError> {
    let who = caller.require(&[Role::Admin, Role::Cfo], "save dunning plans")?.clone();
    if req.plan.is_some() || req.no_deliver {
        return Err(ApiError::invalid("`plan` and `no_deliver` belong to POST /api/v1/dunning/run"));
    }
    let built = cobro_app::dunning::build(&s.ctx, &plan_request(&req)).await?;
    let actor = crate::routes::actor_of(&who);
    let id = executor::save_plan(&s.ctx.case_ctx(&s.store, &built.ledger, &actor, built.now)?, &built.plan).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"plan_id": id, "as_of": built.as_of.to_string(), "at": built.now,
                          "actions": built.plan.actions.len(), "skipped": built.plan.skipped.len(),
                          "next": format!("POST /api/v1/dunning/plans/{id}/approve by someone else, then POST /api/v1/dunning/run with plan {id}")})),
    )
        .into_response())
}

/// `POST /api/v1/dunning/plans/{id}/approve`.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// Reject instead of approving.
    #[serde(default)]
    pub reject: bool,
}

/// Approves (or rejects) a saved plan. The one who saved it is refused.
#[utoipa::path(post, path = "/api/v1/dunning/plans/{id}/approve", tag = "dunning", params(("id" = String, Path)),
    request_body = DecideRequest, security(("bearer" = [])),
    responses((status = 200, description = "the plan's new state"), (status = 404, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem, description = "own plan, or not pending")))]
pub async fn approve_plan(
    State(s): St,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<DecideRequest>,
) -> Result<Response, ApiError> {
    let who = caller.require(&[Role::Admin, Role::Cfo], "approve dunning plans")?.clone();
    let actor = crate::routes::actor_of(&who);
    let ledger = cobro_workflow::Ledger::default();
    let saved =
        executor::decide_plan(&s.ctx.case_ctx(&s.store, &ledger, &actor, SystemClock.now())?, &id, !req.reject).await?;
    Ok(axum::Json(json!({"plan_id": saved.plan_id, "state": saved.state, "summary": saved.summary})).into_response())
}

/// Runs dunning: records the plan's actions once (an approved plan's only, when one is named) and delivers
/// through the configured channel.
#[utoipa::path(post, path = "/api/v1/dunning/run", tag = "dunning", request_body = RunRequest, security(("bearer" = [])),
    responses((status = 200, description = "messages queued, tasks created, delivery"), (status = 403, body = crate::problem::Problem),
              (status = 422, body = crate::problem::Problem, description = "approval required, or the plan is not approved")))]
pub async fn run(State(s): St, caller: Caller, Body(req): Body<RunRequest>) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin], "run dunning")?;
    let channel = if req.no_deliver {
        None
    } else {
        let rules = &s.ctx.workflow()?.delivery;
        Some(cobro_workflow::delivery::Channel::open(rules, &Default::default(), &s.ctx.data_dir)?)
    };
    let ran =
        cobro_app::dunning::run(&s.ctx, &s.store, &plan_request(&req), req.plan.as_deref(), channel.as_ref(), None)
            .await
            .map_err(|e| match e.downcast::<cobro_workflow::CaseError>() {
                Ok(c) => ApiError::from(c),
                Err(e) => ApiError::invalid(format!("{e:#}")).with_code("dunning_refused"),
            })?;
    let delivery = ran.delivery.map(|d| {
        json!({"sent": d.sent, "alerts": d.alerts,
               "retrying": d.retrying.iter().map(|(m, e)| json!({"message_id": m, "error": e})).collect::<Vec<_>>(),
               "failed": d.failed.iter().map(|(m, e)| json!({"message_id": m, "error": e})).collect::<Vec<_>>()})
    });
    Ok(axum::Json(json!({
        "as_of": ran.built.as_of.to_string(), "at": ran.built.now,
        "messages": ran.report.messages, "tasks": ran.report.tasks,
        "already_recorded": ran.report.already_recorded, "superseded": ran.report.superseded,
        "held": ran.held.len(), "delivery": delivery,
    }))
    .into_response())
}

// ------------------------------------------------------------------------------------------------------------
// The customer portal: the signed link (`?customer=&expires=&sig=`) is the credential, for that customer only.

/// `?format=csv|html` on top of the link.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DownloadQuery {
    /// `csv` (the default) or `html` (a printable statement, ready to save as PDF).
    pub format: Option<String>,
}

/// The statement as a file: CSV, or a self-contained printable HTML page.
#[utoipa::path(get, path = "/api/v1/portal/statement/download", tag = "portal", params(crate::routes::PortalQuery, DownloadQuery),
    responses((status = 200, description = "text/csv or text/html, as an attachment"), (status = 403, body = crate::problem::Problem)))]
pub async fn portal_download(State(s): St, portal: Portal, Q(q): Q<DownloadQuery>) -> Result<Response, ApiError> {
    let statement = crate::routes::statement(&s, &portal.customer, crate::routes::json_of).await?;
    let items = statement["open_items"].as_array().cloned().unwrap_or_default();
    let cols = ["document_id", "kind", "issue_date", "due_date", "currency", "amount", "balance", "days_past_due"];
    let cell = |v: &serde_json::Value| match v {
        serde_json::Value::String(t) => t.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let (body, ct, ext) = match q.format.as_deref().unwrap_or("csv") {
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let io = |e: csv::Error| ApiError::internal(&e);
            w.write_record(cols).map_err(io)?;
            for it in &items {
                w.write_record(cols.iter().map(|c| cell(&it[*c]))).map_err(io)?;
            }
            (w.into_inner().map_err(|e| ApiError::internal(&e))?, "text/csv; charset=utf-8", "csv")
        }
        "html" => {
            let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            let name = statement["customer"]["name"].as_str().unwrap_or_default();
            let mut html = format!(
                "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Statement {id}</title>\
                 <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:4px 8px}}td.n{{text-align:right}}</style>\
                 <h1>Statement of account</h1><p>{name} ({id}), as of {as_of}</p><table><tr>",
                id = esc(&portal.customer),
                name = esc(name),
                as_of = esc(statement["as_of"].as_str().unwrap_or_default()),
            );
            for c in cols {
                html.push_str(&format!("<th>{}</th>", c.replace('_', " ")));
            }
            html.push_str("</tr>");
            for it in &items {
                html.push_str("<tr>");
                for c in cols {
                    let class = if matches!(c, "amount" | "balance" | "days_past_due") { " class=\"n\"" } else { "" };
                    html.push_str(&format!("<td{class}>{}</td>", esc(&cell(&it[c]))));
                }
                html.push_str("</tr>");
            }
            html.push_str("</table></html>");
            (html.into_bytes(), "text/html; charset=utf-8", "html")
        }
        other => return Err(ApiError::invalid(format!("format `{other}`: use csv or html"))),
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    let disposition = format!("attachment; filename=\"statement-{}.{ext}\"", portal.customer.replace(['"', '\\'], "_"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `POST /api/v1/portal/payment-reports`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalPaymentRequest {
    /// The invoices paid.
    pub documents: Vec<String>,
    /// The day it was paid.
    #[schema(value_type = String)]
    pub paid_date: NaiveDate,
    /// The payment's reference (transfer id).
    pub reference: Option<String>,
    /// A note.
    pub note: Option<String>,
}

/// `POST /api/v1/portal/disputes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalDisputeRequest {
    /// The invoices disputed.
    pub documents: Vec<String>,
    /// One of the configured dispute types.
    pub dispute_type: String,
    /// The amount disputed (one invoice only; the whole balance when absent).
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// What is wrong.
    pub note: Option<String>,
}

/// Records a customer's own outcome on its own open invoices; another customer's invoice is a 404.
async fn portal_outcome(
    s: &AppState,
    customer: &str,
    documents: Vec<String>,
    kind: OutcomeKind,
    note: Option<String>,
) -> Result<Response, ApiError> {
    if documents.is_empty() {
        return Err(ApiError::invalid("name at least one invoice in `documents`"));
    }
    let cached = s.sessions.open(&s.ctx, None).await?;
    let docs: BTreeSet<String> = documents.iter().cloned().collect();
    let ledger = load_ledger(
        &cached.opened.session,
        cached.opened.manifest.as_of.date(),
        &docs,
        &BTreeSet::from([customer.to_owned()]),
    )
    .await?;
    for d in &documents {
        if ledger.documents.get(d).map(|x| x.customer_id.as_str()) != Some(customer) {
            return Err(ApiError::not_found(format!("no invoice `{d}` on your account")));
        }
    }
    let o = Outcome {
        customer_id: customer.to_owned(),
        documents,
        kind,
        note,
        delay_reason: None,
        expect: Default::default(),
    };
    let actor = format!("portal:{customer}");
    let rec = cases::record_outcome(&s.ctx.case_ctx(&s.store, &ledger, &actor, SystemClock.now())?, &o).await?;
    Ok((StatusCode::CREATED, axum::Json(rec)).into_response())
}

/// The customer reports a payment: its invoices wait for the ledger to show it (not chased meanwhile), and the
/// collector is told if it does not appear.
#[utoipa::path(post, path = "/api/v1/portal/payment-reports", tag = "portal", params(crate::routes::PortalQuery),
    request_body = PortalPaymentRequest,
    responses((status = 201, description = "what was recorded"), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)))]
pub async fn portal_payment(
    State(s): St,
    portal: Portal,
    Body(req): Body<PortalPaymentRequest>,
) -> Result<Response, ApiError> {
    let kind = OutcomeKind::ReportedPaid { paid_date: Some(req.paid_date), reference: req.reference };
    portal_outcome(&s, &portal.customer, req.documents, kind, req.note).await
}

/// The customer raises a dispute: routed to the department that owns the type, with its deadline.
#[utoipa::path(post, path = "/api/v1/portal/disputes", tag = "portal", params(crate::routes::PortalQuery),
    request_body = PortalDisputeRequest,
    responses((status = 201, description = "the dispute and where it was routed"), (status = 403, body = crate::problem::Problem), (status = 404, body = crate::problem::Problem)))]
pub async fn portal_dispute(
    State(s): St,
    portal: Portal,
    Body(req): Body<PortalDisputeRequest>,
) -> Result<Response, ApiError> {
    let kind = OutcomeKind::Dispute { dispute_type: req.dispute_type, amount: req.amount, owner: None };
    portal_outcome(&s, &portal.customer, req.documents, kind, req.note).await
}

/// The customer's thread: what we sent and what they wrote, oldest first.
#[utoipa::path(get, path = "/api/v1/portal/messages", tag = "portal", params(crate::routes::PortalQuery),
    responses((status = 200, description = "[{at, direction, subject, body}]"), (status = 403, body = crate::problem::Problem)))]
pub async fn portal_thread(State(s): St, portal: Portal) -> Result<Response, ApiError> {
    Ok(axum::Json(views::customer_thread(&s.store, &portal.customer).await?).into_response())
}

/// `POST /api/v1/portal/messages`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalMessageRequest {
    /// The message (1 to 4000 characters).
    pub text: String,
}

/// The customer writes to us: on the timeline, with a reply task for the collector.
#[utoipa::path(post, path = "/api/v1/portal/messages", tag = "portal", params(crate::routes::PortalQuery),
    request_body = PortalMessageRequest,
    responses((status = 201, description = "recorded, with the collector's task"), (status = 403, body = crate::problem::Problem)))]
pub async fn portal_message(
    State(s): St,
    portal: Portal,
    Body(req): Body<PortalMessageRequest>,
) -> Result<Response, ApiError> {
    let cached = s.sessions.open(&s.ctx, None).await?;
    let ledger = load_ledger(
        &cached.opened.session,
        cached.opened.manifest.as_of.date(),
        &BTreeSet::new(),
        &BTreeSet::from([portal.customer.clone()]),
    )
    .await?;
    let actor = format!("portal:{}", portal.customer);
    let rec = cases::customer_message(
        &s.ctx.case_ctx(&s.store, &ledger, &actor, SystemClock.now())?,
        &portal.customer,
        &req.text,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(rec)).into_response())
}

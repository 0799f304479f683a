//! The web UI (DESIGN §7): server-rendered pages over the same data and checks as the API, with a little vanilla
//! JavaScript for the forms. Nothing is built with Node; the templates, style sheet and script are compiled in.
//!
//! - Log-in takes an API token and keeps it in an HttpOnly, SameSite=Strict cookie. The API accepts that cookie
//!   too, so the pages' forms post JSON to the API itself (one implementation of every change); a change made
//!   with the cookie must carry `x-requested-with: cobro-ui`, which another site's page cannot send.
//! - Pages read through the same functions as the API handlers (`routes::card`, `routes::queue_rows`, ...), with
//!   cells as exact text, so a page shows exactly the decimals the API and the CLI compute.
//! - The customer portal's page takes the signed link as its credential, like the portal API.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cobro_domain::AsOf;
use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::access::{Principal, Role};
use cobro_workflow::views;
use minijinja::{Environment, Value as Tv};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Caller, SESSION_COOKIE, session_cookie};
use crate::problem::ApiError;
use crate::routes::{self, text_of};

type St = State<Arc<AppState>>;

/// How long a log-in lasts.
const SESSION_SECONDS: u32 = 12 * 3600;

/// Rows of the work queue on one page.
const QUEUE_PAGE: usize = 50;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, text) in [
        ("base.html", include_str!("../ui/base.html")),
        ("login.html", include_str!("../ui/login.html")),
        ("error.html", include_str!("../ui/error.html")),
        ("dashboard.html", include_str!("../ui/dashboard.html")),
        ("queue.html", include_str!("../ui/queue.html")),
        ("outcome.html", include_str!("../ui/outcome.html")),
        ("documents.html", include_str!("../ui/documents.html")),
        ("card.html", include_str!("../ui/card.html")),
        ("disputes.html", include_str!("../ui/disputes.html")),
        ("dunning.html", include_str!("../ui/dunning.html")),
        ("sql.html", include_str!("../ui/sql.html")),
        ("portal.html", include_str!("../ui/portal.html")),
    ] {
        // The templates are compiled in and covered by the tests: a syntax error fails every page test.
        if let Err(e) = env.add_template(name, text) {
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env.add_filter("money", money);
    env.add_filter("label", |s: String| s.replace('_', " "));
    env
});

/// `1234.5` → `1,234.50`: money as text, rounded half away from zero to cents, exactly (no binary floats).
fn money(v: Tv) -> String {
    let text = v.to_string();
    let Ok(d) = text.parse::<Decimal>() else { return text };
    let d = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let s = format!("{:.2}", d.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{frac}", if d.is_sign_negative() && !d.is_zero() { "-" } else { "" })
}

fn render(name: &str, ctx: Value) -> Result<Response, ApiError> {
    let t = TEMPLATES.get_template(name).map_err(|e| ApiError::internal(&e))?;
    let html = t.render(Tv::from_serialize(&ctx)).map_err(|e| ApiError::internal(&format!("{e:#}")))?;
    Ok(Html(html).into_response())
}

fn error_page(e: &ApiError, user: Option<&Principal>) -> Response {
    let ctx = json!({
        "title": e.status.canonical_reason().unwrap_or("Error"),
        "status": e.status.as_u16(),
        "code": e.code,
        "detail": e.detail,
        "user": user.map(user_json),
        "nav": user.map(nav).unwrap_or_default(),
    });
    let mut r = render("error.html", ctx).unwrap_or_else(|_| e.detail.clone().into_response());
    *r.status_mut() = e.status;
    r
}

/// The logged-in user of a page: the session cookie's token, checked like a bearer token. Without one (or with
/// a revoked one), the browser goes to the log-in page and comes back after.
pub struct User(pub Caller);

impl FromRequestParts<Arc<AppState>> for User {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path_and_query().map_or("/ui", |p| p.as_str()).to_owned();
        let to_login = || Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response();
        let Some(token) = session_cookie(&parts.headers) else { return Err(to_login()) };
        match state.sessions.principal(&state.store, &token).await {
            Ok(Some(p)) => Ok(Self(Caller(p))),
            Ok(None) => Err(to_login()),
            Err(e) => Err(error_page(&e, None)),
        }
    }
}

/// `s` percent-encoded for a URL's query, as the templates' `urlencode` filter does.
fn urlencode(s: &str) -> String {
    minijinja::filters::urlencode(&Tv::from(s)).unwrap_or_default()
}

fn user_json(p: &Principal) -> Value {
    json!({"label": p.label, "role": p.role.as_str(), "collector_id": p.collector_id, "department": p.department})
}

/// The pages a role may open, in menu order.
fn nav(p: &Principal) -> Vec<Value> {
    let all = [
        ("/ui/dashboard", "Dashboard", crate::auth::READERS),
        ("/ui/queue", "Work queue", crate::auth::PORTFOLIO),
        ("/ui/disputes", "Disputes", &[Role::Admin, Role::Cfo, Role::Analyst, Role::Collector, Role::Department][..]),
        ("/ui/dunning", "Dunning", &[Role::Admin, Role::Cfo][..]),
        ("/ui/sql", "SQL", &[Role::Admin, Role::Cfo, Role::Analyst][..]),
    ];
    all.iter().filter(|(_, _, roles)| roles.contains(&p.role)).map(|(h, l, _)| json!({"href": h, "label": l})).collect()
}

/// A page's context: its title, the current menu entry, the user and the menu, plus `extra`.
fn page_ctx(user: &User, title: &str, current: &str, extra: Value) -> Value {
    let mut ctx = json!({"title": title, "current": current, "user": user_json(&user.0.0), "nav": nav(&user.0.0)});
    if let (Some(c), Value::Object(e)) = (ctx.as_object_mut(), extra) {
        c.extend(e);
    }
    ctx
}

/// Runs a page handler's body, showing its error (403, 404, ...) on the error page with the menu.
async fn page(user: &User, f: impl std::future::Future<Output = Result<Response, ApiError>>) -> Response {
    match f.await {
        Ok(r) => r,
        Err(e) => error_page(&e, Some(&user.0.0)),
    }
}

/// The UI's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/ui", get(home))
        .route("/ui/static/ui.css", get(|| async { asset(&STYLE, "text/css; charset=utf-8") }))
        .route(
            "/ui/static/ui.js",
            get(|| async { asset(include_str!("../ui/ui.js"), "text/javascript; charset=utf-8") }),
        )
        .route("/ui/dashboard", get(dashboard))
        .route("/ui/queue", get(queue))
        .route("/ui/customers/{id}", get(card))
        .route("/ui/customers/{id}/documents", get(documents))
        .route("/ui/disputes", get(disputes))
        .route("/ui/dunning", get(dunning))
        .route("/ui/sql", get(sql))
        .route("/portal", get(portal))
}

static STYLE: LazyLock<String> =
    LazyLock::new(|| format!("{}\n{}", include_str!("../ui/ui.css"), cobro_app::report::STYLE));

fn asset(body: &str, content_type: &'static str) -> Response {
    let mut r = body.to_owned().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only a path on this server is a place to come back to (not `//elsewhere` or `https://...`).
fn local(next: Option<String>) -> Option<String> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
}

async fn login_form(Query(q): Query<Next>) -> Response {
    render("login.html", json!({"title": "Log in", "next": local(q.next)})).unwrap_or_else(|e| error_page(&e, None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(s): St, axum::Form(f): axum::Form<LoginForm>) -> Response {
    let token = f.token.trim();
    let refused = |detail: &str| {
        let mut r = render("login.html", json!({"title": "Log in", "next": local(f.next.clone()), "error": detail}))
            .unwrap_or_else(|e| error_page(&e, None));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r
    };
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return refused("paste the token `cobro token create` printed (it starts with cobro_)");
    }
    match s.sessions.principal(&s.store, token).await {
        Ok(Some(p)) => {
            let to = local(f.next.clone()).unwrap_or_else(|| home_of(&p).to_owned());
            let secure = if s.secure_cookies { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{secure}"
            );
            let mut r = Redirect::to(&to).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => refused("unknown or revoked token"),
        Err(e) => error_page(&e, None),
    }
}

async fn logout() -> Response {
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("cobro_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

fn home_of(p: &Principal) -> &'static str {
    match p.role {
        Role::Collector => "/ui/queue",
        Role::Department => "/ui/disputes",
        _ => "/ui/dashboard",
    }
}

async fn home(user: User) -> Response {
    Redirect::to(home_of(&user.0.0)).into_response()
}

#[derive(Deserialize)]
struct AsOfQ {
    as_of: Option<AsOf>,
}

async fn dashboard(State(s): St, user: User, Query(q): Query<AsOfQ>) -> Response {
    page(&user, async {
        user.0.require(crate::auth::READERS, "open the dashboard")?;
        let dates = snapshot_dates(&s).await?;
        let (body, as_of) = if dates.is_empty() {
            (None, None)
        } else {
            let cached = s.sessions.open(&s.ctx, q.as_of).await?;
            let report = cached.report(&s.ctx.workflow()?.company.name).await?;
            (Some(report.body.clone()), Some(report.as_of.clone()))
        };
        let today = s.ctx.local_date(SystemClock.now())?.to_string();
        render(
            "dashboard.html",
            page_ctx(
                &user,
                "Dashboard",
                "/ui/dashboard",
                json!({"report": body, "as_of": as_of, "dates": dates, "today": today,
                       "can_build": user.0.0.role == Role::Admin}),
            ),
        )
    })
    .await
}

#[derive(Deserialize)]
struct QueueQ {
    as_of: Option<AsOf>,
    collector: Option<String>,
    offset: Option<usize>,
}

/// The dates there are snapshots of, newest first.
async fn snapshot_dates(s: &AppState) -> Result<Vec<String>, ApiError> {
    let list = s.ctx.snapshots.list().await.map_err(|e| ApiError::internal(&e))?;
    let mut dates: Vec<String> = list.iter().rev().map(|r| r.as_of.to_string()).collect();
    dates.dedup();
    Ok(dates)
}

/// What the outcome form offers: dispute types and delay reasons from the workflow configuration.
fn outcome_choices(s: &AppState) -> Result<Value, ApiError> {
    let w = s.ctx.workflow()?;
    let types: Vec<Value> =
        w.dispute_types.iter().map(|(k, t)| json!({"code": k, "label": t.label, "department": t.department})).collect();
    let reasons: Vec<Value> = w.delay_reasons.iter().map(|r| json!({"code": r.code, "label": r.label})).collect();
    Ok(json!({"dispute_types": types, "delay_reasons": reasons}))
}

async fn queue(State(s): St, user: User, Query(q): Query<QueueQ>) -> Response {
    page(&user, async {
        let asked = q.collector.as_deref().filter(|c| !c.is_empty());
        let (cached, collector, rows) = routes::queue_rows(&s, &user.0, asked, q.as_of).await?;
        let total: usize = rows.batches.iter().map(|b| b.num_rows()).sum();
        let offset = q.offset.unwrap_or(0).min(total);
        let shown = routes::page(&rows.batches, offset, QUEUE_PAGE);
        let shown = text_of(&crate::cache::Rows { schema: rows.schema.clone(), batches: shown })?;
        let tasks = views::tasks(&s.store, routes::own_assignee(&s, &user.0)?.as_deref(), false).await?;
        let mine = user.0.0.role == Role::Collector;
        let prev = offset.checked_sub(QUEUE_PAGE).map(|o| o.min(offset));
        // Records count from their own date on: in a snapshot of an earlier day, today's do not show yet.
        let as_of = cached.opened.manifest.as_of.date();
        let stale_days = (s.ctx.local_date(SystemClock.now())? - as_of).num_days();
        let next = (offset + QUEUE_PAGE < total).then_some(offset + QUEUE_PAGE);
        render(
            "queue.html",
            page_ctx(
                &user,
                "Work queue",
                "/ui/queue",
                json!({"rows": shown, "total": total, "offset": offset, "first": offset + 1,
                       "last": (offset + QUEUE_PAGE).min(total), "prev": prev, "next": next,
                       "collector": collector, "as_of": as_of.to_string(), "stale_days": stale_days,
                       "tasks": if mine { json!(tasks) } else { json!([]) },
                       "can_record": crate::auth::WORKERS.contains(&user.0.0.role),
                       "choices": outcome_choices(&s)?}),
            ),
        )
    })
    .await
}

async fn card(State(s): St, user: User, Path(id): Path<String>, Query(q): Query<AsOfQ>) -> Response {
    page(&user, async {
        let card = routes::card(&s, &user.0, &id, q.as_of, text_of).await?;
        let title = card["customer"]["name"].as_str().unwrap_or(&id).to_owned();
        render(
            "card.html",
            page_ctx(
                &user,
                &title,
                "/ui/queue",
                json!({"card": card, "open_totals": totals(&card["open_items"]),
                       "can_record": crate::auth::WORKERS.contains(&user.0.0.role),
                       "choices": outcome_choices(&s)?}),
            ),
        )
    })
    .await
}

/// Open balance per currency of some open items (exact).
fn totals(items: &Value) -> Vec<Value> {
    let mut by: BTreeMap<String, Decimal> = BTreeMap::new();
    for it in items.as_array().into_iter().flatten() {
        let cur = it["currency"].as_str().unwrap_or_default().to_owned();
        let b: Decimal = it["balance"].as_str().and_then(|b| b.parse().ok()).unwrap_or_default();
        *by.entry(cur).or_default() += b;
    }
    by.into_iter().map(|(c, b)| json!({"currency": c, "balance": b.to_string()})).collect()
}

/// The outcome form's invoice list for one customer (a fragment): each open item with its live status, the past
/// due ones that are still chased ticked.
async fn documents(State(s): St, user: User, Path(id): Path<String>) -> Response {
    page(&user, async {
        let card = routes::card(&s, &user.0, &id, None, text_of).await?;
        let live: BTreeMap<String, String> = card["records"]["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d["document_id"].as_str()?.to_owned(), d["status"].as_str()?.to_owned())))
            .collect();
        let items: Vec<Value> = card["open_items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|it| {
                let doc = it["document_id"].as_str().unwrap_or_default();
                let status =
                    live.get(doc).cloned().unwrap_or_else(|| it["status"].as_str().unwrap_or("normal").to_owned());
                let late = it["days_past_due"].as_str().and_then(|d| d.parse::<i64>().ok()).unwrap_or(0) > 0;
                let mut it = it.clone();
                it["live_status"] = json!(status);
                it["checked"] = json!(late && status == "normal");
                it
            })
            .collect();
        render("documents.html", json!({"items": items}))
    })
    .await
}

#[derive(Deserialize)]
struct AllQ {
    #[serde(default)]
    all: bool,
}

async fn disputes(State(s): St, user: User, Query(q): Query<AllQ>) -> Response {
    page(&user, async {
        let c = &user.0;
        c.require(&[Role::Admin, Role::Cfo, Role::Analyst, Role::Collector, Role::Department], "read disputes")?;
        let rows = views::disputes(&s.store, c.own_department(), c.own_collector(), q.all).await?;
        let today = s.ctx.local_date(SystemClock.now())?.to_string();
        let mut board: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        if let Some(d) = c.own_department() {
            board.entry(d.to_owned()).or_default();
        }
        for r in rows {
            let mut v = json!(r);
            let overdue = r.get("resolved_date").is_some_and(Option::is_none)
                && r.get("deadline_date").and_then(|d| d.as_deref()).is_some_and(|d| d < today.as_str());
            v["overdue"] = json!(overdue);
            board.entry(r.get("department").cloned().flatten().unwrap_or_default()).or_default().push(v);
        }
        let columns: Vec<Value> =
            board.into_iter().map(|(d, cards)| json!({"department": d, "cards": cards})).collect();
        let tasks = match c.0.role {
            Role::Department => json!(views::tasks(&s.store, routes::own_assignee(&s, c)?.as_deref(), false).await?),
            _ => json!([]),
        };
        render(
            "disputes.html",
            page_ctx(
                &user,
                "Disputes",
                "/ui/disputes",
                json!({"columns": columns, "all": q.all, "tasks": tasks,
                       "can_resolve": matches!(c.0.role, Role::Admin | Role::Department)}),
            ),
        )
    })
    .await
}

#[derive(Deserialize)]
struct PlanQ {
    as_of: Option<AsOf>,
    at: Option<String>,
}

async fn dunning(State(s): St, user: User, Query(q): Query<PlanQ>) -> Response {
    page(&user, async {
        let who = user.0.require(&[Role::Admin, Role::Cfo], "preview the dunning plan")?;
        let me = routes::actor_of(who);
        let at = match q.at.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(chrono::DateTime::parse_from_rfc3339(a).map(|t| t.to_utc()).map_err(|e| {
                ApiError::invalid(format!("`at`: {a} is not an RFC 3339 instant such as 2024-12-31T09:00:00Z ({e})"))
            })?),
        };
        let preview = routes::plan_preview(&s, q.as_of, at).await?;
        let dates = snapshot_dates(&s).await?;
        // The plan at a glance: actions by step, recipient and template, with totals per currency; skips by reason.
        // (step, recipient, template) → (actions, total per currency)
        type Groups = BTreeMap<(String, String, String), (usize, BTreeMap<String, Decimal>)>;
        let mut groups = Groups::new();
        for a in preview["actions"].as_array().into_iter().flatten() {
            let key = |k: &str| a[k].as_str().map_or_else(|| a[k].to_string(), str::to_owned);
            let g = groups.entry((key("step"), key("to"), key("template"))).or_default();
            g.0 += 1;
            let total: Decimal = a["total"].as_str().and_then(|t| t.parse().ok()).unwrap_or_default();
            *g.1.entry(key("currency")).or_default() += total;
        }
        let summary: Vec<Value> = groups
            .into_iter()
            .map(|((step, to, template), (n, totals))| {
                let totals: Vec<String> = totals.iter().map(|(c, t)| format!("{c} {}", money(Tv::from(t.to_string())))).collect();
                json!({"step": step, "to": to, "template": template, "count": n, "totals": totals.join(", ")})
            })
            .collect();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for k in preview["skipped"].as_array().into_iter().flatten() {
            *reasons.entry(k["reason"].as_str().map_or_else(|| k["reason"].to_string(), str::to_owned)).or_default() += 1;
        }
        let plans = views::plans(&s.store).await?;
        render(
            "dunning.html",
            page_ctx(
                &user,
                "Dunning",
                "/ui/dunning",
                json!({"preview": preview, "summary": summary, "reasons": reasons, "plans": plans, "me": me,
                       "can_run": who.role == Role::Admin, "dates": dates, "at": q.at.filter(|a| !a.trim().is_empty())}),
            ),
        )
    })
    .await
}

async fn sql(State(s): St, user: User) -> Response {
    page(&user, async {
        user.0.require(&[Role::Admin, Role::Cfo, Role::Analyst], "run SQL")?;
        let dates = snapshot_dates(&s).await?;
        let examples = [
            ("DSO family by month", "SELECT month, dso_standard, dso_countback, bpdso, add_days FROM ar_monthly ORDER BY month"),
            ("Ageing", "SELECT bucket, currency, open_count, balance FROM ageing ORDER BY bucket_order, currency"),
            ("Top overdue customers", "SELECT customer_id, SUM(balance_rc) AS overdue FROM open_items WHERE days_past_due > 0 GROUP BY customer_id ORDER BY overdue DESC LIMIT 20"),
            ("Tables", "SHOW TABLES"),
        ];
        render(
            "sql.html",
            page_ctx(
                &user,
                "SQL",
                "/ui/sql",
                json!({"dates": dates, "examples": examples.iter().map(|(l, q)| json!({"label": l, "sql": q})).collect::<Vec<_>>(),
                       "max_rows": s.limits.sql_max_rows}),
            ),
        )
    })
    .await
}

async fn portal(
    State(s): St,
    link: Result<crate::auth::Portal, ApiError>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let run = async {
        let p = link?;
        let statement = routes::statement(&s, &p.customer, text_of).await?;
        let thread = views::customer_thread(&s.store, &p.customer).await?;
        // What the customer has told us about each invoice, in their words.
        let statuses: BTreeMap<String, &str> = cobro_workflow::cases::customer_states(&s.store, &p.customer)
            .await?
            .into_iter()
            .filter_map(|d| {
                let said = match d.status {
                    cobro_workflow::status::Status::Promise => "you promised to pay",
                    cobro_workflow::status::Status::PaymentReported => "you told us it is paid",
                    cobro_workflow::status::Status::Dispute => "in dispute: we are looking into it",
                    cobro_workflow::status::Status::Normal => return None,
                };
                Some((d.document_id, said))
            })
            .collect();
        let types: Vec<Value> =
            s.ctx.workflow()?.dispute_types.iter().map(|(k, t)| json!({"code": k, "label": t.label})).collect();
        // The link's own query string is the credential of the page's forms too.
        let creds = query.unwrap_or_default();
        render(
            "portal.html",
            json!({"title": "Your account", "statement": statement, "thread": thread, "dispute_types": types,
                   "statuses": statuses,
                   "creds": creds, "totals": totals(&statement["open_items"])}),
        )
    };
    match run.await {
        Ok(r) => r,
        Err(e) => error_page(&e, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_rounds_half_away_from_zero_to_cents_and_groups_thousands() {
        let m = |s: &str| money(Tv::from(s));
        assert_eq!(m("1234.5"), "1,234.50");
        assert_eq!(m("4820.0000"), "4,820.00");
        assert_eq!(m("999.995"), "1,000.00");
        assert_eq!(m("-0.005"), "-0.01");
        assert_eq!(m("-0.004"), "0.00");
        assert_eq!(m("-1234567.891"), "-1,234,567.89");
        assert_eq!(m("0"), "0.00");
        assert_eq!(m("n/a"), "n/a");
    }

    #[test]
    fn every_template_parses() {
        for name in [
            "base.html",
            "login.html",
            "error.html",
            "dashboard.html",
            "queue.html",
            "outcome.html",
            "documents.html",
            "card.html",
            "disputes.html",
            "dunning.html",
            "sql.html",
            "portal.html",
        ] {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn only_a_path_on_this_server_is_a_place_to_go_back_to() {
        assert_eq!(local(Some("/ui/queue?offset=50".into())).as_deref(), Some("/ui/queue?offset=50"));
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil.example", "ui/queue"] {
            assert_eq!(local(Some(bad.into())), None, "{bad}");
        }
    }
}

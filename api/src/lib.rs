//! cobro's HTTP API (DESIGN §7): axum under `/api/v1`, bearer tokens with roles, problem+json errors mapped in one
//! place, tabular responses negotiated by `Accept`, and the OpenAPI document generated from the handlers.
//!
//! The handlers are thin: they decode, check the caller, call `cobro-app` or a library, and encode. The same
//! `router(state)` serves `cobro serve` and the tests.

pub mod actions;
pub mod auth;
pub mod cache;
pub mod config;
pub mod jobs;
pub mod pgwire;
pub mod problem;
pub mod push;
pub mod routes;
pub mod tabular;
pub mod ui;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use cobro_app::Ctx;
use cobro_workflow::Store;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::ServerConfig;

/// Limits of the SQL endpoint.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Rows returned at most (the rest are cut, and the response says so).
    pub sql_max_rows: usize,
    /// Seconds a query may run.
    pub sql_timeout_seconds: u64,
    /// Largest ledger push, in bytes.
    pub max_push_bytes: usize,
    /// Memory one SQL query may use, in bytes.
    pub sql_memory_bytes: usize,
}

impl Limits {
    /// The bounds of one SQL query, over HTTP or the PostgreSQL wire protocol alike.
    pub fn sql_bounds(&self) -> cobro_analytics::SqlBounds {
        cobro_analytics::SqlBounds {
            memory_bytes: self.sql_memory_bytes,
            time: Duration::from_secs(self.sql_timeout_seconds),
        }
    }
}

/// What every handler shares.
pub struct AppState {
    /// Where the data is, and the configuration.
    pub ctx: Ctx,
    /// The operational store (one pool for the server's life).
    pub store: Store,
    /// Limits.
    pub limits: Limits,
    /// Sessions and results kept between requests.
    pub sessions: cache::Sessions,
    /// Long actions running or done (snapshot builds).
    pub jobs: jobs::Jobs,
    /// Whether the UI's session cookie is marked Secure (the server is reached over https: `public_url`).
    pub secure_cookies: bool,
}

/// Request ids: a counter per server, `req-<n>`, returned in `x-request-id`.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        format!("req-{n}").parse().ok().map(RequestId::new)
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "cobro", description = "Accounts-receivable collections and DSO analytics"),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The routes and the OpenAPI document that describes them, built from the same list.
fn api() -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    use routes as r;
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(r::healthz))
        .routes(routes!(r::snapshots))
        .routes(routes!(r::metrics))
        .routes(routes!(r::ar_monthly))
        .routes(routes!(r::ageing))
        .routes(routes!(r::work_queue))
        .routes(routes!(r::account_card))
        .routes(routes!(r::sql))
        .routes(routes!(r::outcome))
        .routes(routes!(r::disputes))
        .routes(routes!(r::resolve_dispute))
        .routes(routes!(r::respond_dispute))
        .routes(routes!(r::tasks))
        .routes(routes!(r::portal_statement))
        .routes(routes!(r::dunning_plan))
        .routes(routes!(r::dunning_messages))
        .routes(routes!(r::dunning_bounce))
        .routes(routes!(push::ledger_push))
        .routes(routes!(actions::build_snapshot))
        .routes(routes!(actions::segments))
        .routes(routes!(actions::cfo_report))
        .routes(routes!(actions::alarm))
        .routes(routes!(actions::complete_task))
        .routes(routes!(actions::save_plan))
        .routes(routes!(actions::approve_plan))
        .routes(routes!(actions::run))
        .routes(routes!(actions::portal_download))
        .routes(routes!(actions::portal_payment))
        .routes(routes!(actions::portal_dispute))
        .routes(routes!(actions::portal_thread, actions::portal_message))
        .routes(routes!(jobs::snapshot_job))
        .routes(routes!(jobs::job))
        .split_for_parts()
}

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// The application: every route with its middleware.
pub fn router(state: Arc<AppState>, config: &ServerConfig) -> Router {
    let (routes, doc) = api();
    let doc = Arc::new(doc);
    let request_id = HeaderName::from_static("x-request-id");
    routes
        .merge(ui::routes())
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .fallback(async |uri: axum::http::Uri| {
            problem::ApiError::not_found(format!("no route {uri}; GET /api/v1/openapi.json lists them"))
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), after_writes))
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::map_response(timeout_problem))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(config.request_timeout_seconds),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(request_id, Counter::default()))
}

/// After a request that may have written (anything but GET and HEAD), the next live session looks at the store
/// again.
async fn after_writes(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let writes = !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    let r = next.run(req).await;
    if writes {
        state.sessions.bump();
    }
    r
}

/// The timeout layer's bare 503 as a problem document.
async fn timeout_problem(r: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    if r.status() == StatusCode::SERVICE_UNAVAILABLE && !r.headers().contains_key(axum::http::header::CONTENT_TYPE) {
        return problem::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took longer than request_timeout_seconds; the work goes on and its result is kept, so try again in a little while",
        )
        .into_response();
    }
    r
}

/// Computes what the first requests would otherwise wait for, at start: the latest snapshot's KPIs and the live
/// work queue. Errors (no snapshot yet, say) are logged, not fatal.
pub async fn warm(state: Arc<AppState>) {
    let started = std::time::Instant::now();
    let s = &state;
    let run = async {
        let cached = s.sessions.open(&s.ctx, None).await?;
        cached.rows(&cached.opened.session.params().render(cobro_analytics::sql::METRICS_SUMMARY)).await?;
        let live = s.sessions.open_live(&s.ctx, &s.store, None).await?;
        live.indexed(routes::WORK_QUEUE, "collector_id").await?;
        Ok::<_, problem::ApiError>(())
    };
    match run.await {
        Ok(()) => tracing::info!(ms = started.elapsed().as_millis() as u64, "caches warm"),
        Err(e) => tracing::warn!(error = %e.detail, "could not warm the caches"),
    }
}

/// Serves until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

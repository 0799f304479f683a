//! `cobro serve`, `cobro token`, `cobro portal`: the HTTP API and who may use it.

use std::sync::Arc;

use cobro_api::{AppState, Limits, ServerConfig};
use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::access::{self, Role};

use super::Ctx;
use crate::Done;
use crate::cli::{PortalAction, ServeArgs, TokenAction};

fn server_config(file: Option<&std::path::Path>) -> anyhow::Result<ServerConfig> {
    Ok(ServerConfig::load(file, |k| std::env::var(k).ok())?)
}

pub async fn serve(ctx: Ctx, args: ServeArgs) -> anyhow::Result<Done> {
    let mut config = server_config(args.config.as_deref())?;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    // Configuration errors are found now, not by the first request.
    let tls = match (&args.pgwire, &args.pgwire_tls_cert, &args.pgwire_tls_key) {
        (Some(_), Some(cert), Some(key)) => Some(cobro_api::pgwire::Tls::load(cert, key).map_err(anyhow::Error::msg)?),
        (None, Some(_), _) => anyhow::bail!("--pgwire-tls-cert needs --pgwire ADDR: it is the wire protocol's"),
        _ => None,
    };
    ctx.workflow()?;
    ctx.templates()?;
    let store = ctx.store().await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    // Both listeners are bound before anything is announced: whoever reads the first line may connect to either.
    let pg_listener = match args.pgwire {
        Some(pg) => Some(
            tokio::net::TcpListener::bind(pg)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {pg} (--pgwire): {e}"))?,
        ),
        None => None,
    };
    let limits = Limits {
        sql_max_rows: config.sql_max_rows,
        sql_timeout_seconds: config.sql_timeout_seconds,
        max_push_bytes: config.max_push_bytes,
        sql_memory_bytes: config.sql_memory_mb.saturating_mul(1 << 20),
    };
    let secure_cookies = config.public_url.starts_with("https://");
    let state = Arc::new(AppState {
        ctx,
        store,
        limits,
        sessions: Default::default(),
        jobs: Default::default(),
        secure_cookies,
    });
    let app = cobro_api::router(state.clone(), &config);
    // One Ctrl-C or SIGTERM stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut announce = format!(
        "cobro listening on http://{addr} (web UI at /, API under /api/v1, OpenAPI at /api/v1/openapi.json); Ctrl-C stops it"
    );
    if let Some(pg_listener) = pg_listener {
        let pg_addr = pg_listener.local_addr()?;
        let ssl = if tls.is_some() { "?sslmode=require" } else { "" };
        announce.push_str(&format!(
            "\ncobro pgwire on postgres://{pg_addr}/cobro{ssl} (user: any; password: an admin, cfo or analyst token)"
        ));
        let mut stopped = stopped.clone();
        tokio::spawn(cobro_api::pgwire::serve_pgwire(state.clone(), pg_listener, tls, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
    }
    // One write: a reader that takes the first line and closes the pipe does not make the second one fail.
    out!("{announce}")?;
    // The latest snapshot's KPIs and work queue are computed now, not by the first caller.
    tokio::spawn(cobro_api::warm(state.clone()));
    let shutdown = async move {
        cobro_api::shutdown_signal().await;
        let _ = stop.send(true);
    };
    cobro_api::serve(listener, app, shutdown).await?;
    state.store.close().await;
    out!("stopped")?;
    Ok(Done::Clean)
}

pub async fn token(ctx: &Ctx, action: TokenAction) -> anyhow::Result<Done> {
    let store = ctx.store().await?;
    match action {
        TokenAction::Create { role, collector, department, label } => {
            let role = Role::parse(&role)?;
            let by = super::actor(None);
            let t = access::create_token(
                &store,
                role,
                (collector.as_deref(), department.as_deref()),
                &label,
                &by,
                SystemClock.now(),
            )
            .await?;
            out!("{} ({} token, {label}); it is shown this once, only its hash is kept:", t.token_id, role.as_str())?;
            out!("{}", t.token)?;
        }
        TokenAction::Revoke { token_id } => {
            access::revoke_token(&store, &token_id, SystemClock.now()).await?;
            out!("{token_id} revoked")?;
        }
    }
    store.close().await;
    Ok(Done::Clean)
}

pub async fn portal(ctx: &Ctx, action: PortalAction) -> anyhow::Result<Done> {
    let PortalAction::Link { customer, days, base_url } = action;
    let base = match base_url {
        Some(b) => b,
        None => server_config(None)?.public_url,
    };
    let store = ctx.store().await?;
    let expires = SystemClock.now() + chrono::Duration::days(i64::from(days));
    let q = access::portal_query(&store, &customer, expires).await?;
    store.close().await;
    out!("{}/portal?{q}", base.trim_end_matches('/'))?;
    Ok(Done::Clean)
}

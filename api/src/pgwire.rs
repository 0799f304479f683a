//! `cobro serve --pgwire ADDR`: read-only SQL over the PostgreSQL wire protocol. The password is an API token.
use crate::{AppState, auth::READERS, cache::Cached};
use async_trait::async_trait;
use cobro_analytics::{
    SnapshotSession,
    datafusion::{
        common::ParamValues,
        logical_expr::{LogicalPlan, LogicalPlanBuilder},
        prelude::SessionContext,
        sql::parser::Statement as DfStmt,
        sql::sqlparser::ast::{Set, Statement},
    },
};
use datafusion_postgres::pgwire::tokio::{TlsAcceptor, tokio_rustls};
use datafusion_postgres::pgwire::{
    api::{
        ClientInfo, ConnectionManager, METADATA_USER, PgWireConnectionState, PgWireServerHandlers,
        PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
        auth::{self, DefaultServerParameterProvider, StartupHandler},
        cancel::{CancelHandler, DefaultCancelHandler},
        portal::Format,
        query::{ExtendedQueryHandler, SimpleQueryHandler},
        results::Response,
    },
    error::{ErrorInfo, PgWireError, PgWireResult},
    messages::{PgWireBackendMessage, PgWireFrontendMessage, startup::Authentication},
    types::format::FormatOptions,
};
use datafusion_postgres::{
    DfSessionService, QueryHook,
    arrow_pg::datatypes::df::encode_dataframe,
    datafusion_pg_catalog::{pg_catalog::context::EmptyContextProvider, setup_pg_catalog},
    hooks::{HookClient, set_show::SetShowHook, transactions::TransactionStatementHook},
};
use futures::{Sink, SinkExt};
use std::{fmt::Debug, path::Path, sync::Arc};

fn pg_err(severity: &str, code: &str, msg: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(severity.into(), code.into(), msg)))
}
fn api(e: impl std::error::Error + Send + Sync + 'static) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// Checks the password as an API token. Every error here is FATAL: pgwire answers a non-fatal startup error with
/// ReadyForQuery, which would let an unauthenticated client in.
struct TokenAuth {
    state: Arc<AppState>,
    conns: Arc<ConnectionManager>,
    pids: Arc<RandomPidSecretKeyGenerator>,
    /// Whether the server has a certificate: then a client that did not ask for TLS is refused before it sends its
    /// password (as `hostssl` in PostgreSQL's pg_hba.conf).
    tls: bool,
}

#[async_trait]
impl StartupHandler for TokenAuth {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                if self.tls && !client.is_secure() {
                    return Err(pg_err(
                        "FATAL",
                        "28000",
                        "this server takes connections over TLS only (it would otherwise see your token in clear): connect with sslmode=require or stronger".into(),
                    ));
                }
                auth::protocol_negotiation(client, startup).await?;
                auth::save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword)).await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let token = pwd.into_password()?.password;
                let user = client.metadata().get(METADATA_USER).cloned().unwrap_or_default();
                let p = self
                    .state
                    .sessions
                    .principal(&self.state.store, &token)
                    .await
                    .map_err(|e| pg_err("FATAL", "28000", format!("cannot check the token: {}", e.detail)))?
                    .filter(|p| !user.starts_with("TOK-") || user == p.token_id)
                    .ok_or_else(|| PgWireError::InvalidPassword(user.clone()))?;
                if !READERS.contains(&p.role) {
                    return Err(pg_err(
                        "FATAL",
                        "28000",
                        format!("a {} token may not run SQL (allowed: admin, cfo, analyst)", p.role.as_str()),
                    ));
                }
                let (pid, key) = self.pids.generate(&*client);
                client.set_pid_and_secret_key(pid, key.clone());
                let (handle, guard) = self.conns.register(pid, key);
                client.session_extensions().insert(handle);
                client.session_extensions().insert(guard);
                client.session_extensions().insert(p);
                let mut params = DefaultServerParameterProvider::default();
                (params.is_superuser, params.default_transaction_read_only) = (false, true);
                params.search_path = "snapshot".into();
                auth::finish_authentication(client, &params).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Session settings a client may change: they only shape its own output (Metabase and JDBC send some on connect).
const SETTABLE: &[&str] = &[
    "application_name",
    "extra_float_digits",
    "datestyle",
    "intervalstyle",
    "bytea_output",
    "search_path",
    "client_encoding",
    "client_min_messages",
];

/// Queries only: everything else is planned by DataFusion and refused unless it is a query
/// ([`SnapshotSession::queries_only`], as over HTTP).
struct ReadOnly {
    max_rows: usize,
}

impl ReadOnly {
    /// Statements datafusion-postgres' own hooks answer per connection (SHOW, BEGIN/COMMIT, harmless SETs).
    fn passes(stmt: &Statement) -> bool {
        match stmt {
            Statement::ShowVariable { .. }
            | Statement::ShowStatus { .. }
            | Statement::ShowCatalogs { .. }
            | Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. } => true,
            Statement::Set(Set::SingleAssignment { variable, .. }) => {
                SETTABLE.contains(&variable.to_string().to_lowercase().as_str())
            }
            Statement::Set(
                Set::SetTimeZone { .. } | Set::SetNames { .. } | Set::SetNamesDefault {} | Set::SetTransaction { .. },
            ) => true,
            _ => false,
        }
    }
    async fn plan(&self, stmt: &Statement, ctx: &SessionContext) -> PgWireResult<LogicalPlan> {
        let plan = ctx.state().statement_to_plan(DfStmt::Statement(Box::new(stmt.clone()))).await.map_err(api)?;
        SnapshotSession::queries_only()
            .verify_plan(&plan)
            .map_err(|e| pg_err("ERROR", "25006", format!("{}: {e}", crate::routes::QUERIES_ONLY)))?;
        if !matches!(stmt, Statement::Query(_)) {
            return Ok(plan);
        }
        LogicalPlanBuilder::from(plan).limit(0, Some(self.max_rows)).and_then(|b| b.build()).map_err(api)
    }
}

#[async_trait]
impl QueryHook for ReadOnly {
    async fn handle_simple_query(
        &self,
        stmt: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if Self::passes(stmt) {
            return None;
        }
        Some(
            async {
                let df = ctx.execute_logical_plan(self.plan(stmt, ctx).await?).await.map_err(api)?;
                let opts = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                Ok(Response::Query(encode_dataframe(df, &Format::UnifiedText, Some(opts)).await?))
            }
            .await,
        )
    }
    async fn handle_extended_parse_query(
        &self,
        stmt: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if Self::passes(stmt) { None } else { Some(self.plan(stmt, ctx).await) }
    }
    async fn handle_extended_query(
        &self,
        _: &Statement,
        _: &LogicalPlan,
        _: &ParamValues,
        _: &SessionContext,
        _: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    } // the plan was checked at Parse
}

struct PgHandlers {
    service: Arc<DfSessionService>,
    auth: Arc<TokenAuth>,
    cancel: Arc<DefaultCancelHandler>,
}
impl PgWireServerHandlers for PgHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }
    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.auth.clone()
    }
    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancel.clone()
    }
}

/// At most this many connections; each may use `sql_memory_mb`.
const MAX_CONNECTIONS: usize = 8;

/// The latest snapshot's cached session, and its detached context with the PostgreSQL catalog (set up once per
/// snapshot).
type Base = Arc<tokio::sync::Mutex<Option<(Arc<Cached>, Arc<SessionContext>)>>>;

/// The TLS settings of the wire protocol: a certificate chain and its private key, in PEM files.
pub struct Tls(TlsAcceptor);

impl Tls {
    /// Reads `cert` (the server's certificate first, then its chain) and `key` (PKCS#8, PKCS#1 or SEC1). The errors
    /// name the file and what is wrong with it.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, String> {
        use tokio_rustls::rustls::{
            self, pki_types::CertificateDer, pki_types::PrivateKeyDer, pki_types::pem::PemObject,
        };
        let certs = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?;
        if certs.is_empty() {
            return Err(format!("{} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)", cert.display()));
        }
        let private = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("cannot read the private key {}: {e} (expected a PEM private key)", key.display()))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(certs, private))
            .map_err(|e| format!("cannot use {} with {}: {e}", cert.display(), key.display()))?;
        Ok(Self(TlsAcceptor::from(Arc::new(config))))
    }
}

/// Serves read-only SQL over the PostgreSQL wire protocol on `listener` until `shutdown` resolves: each connection
/// logs in with a token as its password and queries the latest snapshot in a memory pool of its own. With `tls`,
/// connections are encrypted, and one that does not ask for TLS is refused before it logs in.
pub async fn serve_pgwire(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    tls: Option<Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let tls = tls.map(|t| t.0);
    let conns = Arc::new(ConnectionManager::new());
    let pids = Arc::new(RandomPidSecretKeyGenerator::default());
    let base: Base = Default::default();
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! { r = listener.accept() => r, () = &mut shutdown => return Ok(()) };
        // A failed accept (too many open files, say) is one connection lost, not the listener.
        let (socket, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "pgwire: accept failed");
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "pgwire: {MAX_CONNECTIONS} connections already; this one is closed");
            continue;
        };
        let (state, conns, pids, base, tls) = (state.clone(), conns.clone(), pids.clone(), base.clone(), tls.clone());
        tokio::spawn(async move {
            let _permit = permit;
            // The latest snapshot (cached by Sessions); pg_catalog is set up once per snapshot on a detached copy.
            let ctx = async {
                let cached = state.sessions.open(&state.ctx, None).await.map_err(|e| e.detail)?;
                let mut slot = base.lock().await;
                let b = match &*slot {
                    Some((c, b)) if Arc::ptr_eq(c, &cached) => b.clone(),
                    _ => {
                        let b = Arc::new(cached.opened.session.detached_context().map_err(|e| e.to_string())?);
                        setup_pg_catalog(&b, "cobro", EmptyContextProvider).map_err(|e| e.to_string())?;
                        *slot = Some((cached, b.clone()));
                        b
                    }
                };
                SnapshotSession::bounded(&b, state.limits.sql_bounds()).map_err(|e| e.to_string())
            }
            .await;
            let ctx = match ctx {
                Ok(c) => Arc::new(c),
                Err(e) => return tracing::warn!(%peer, "pgwire: {e}"),
            };
            let hooks: Vec<Arc<dyn QueryHook>> = vec![
                Arc::new(ReadOnly { max_rows: state.limits.sql_max_rows }),
                Arc::new(SetShowHook),
                Arc::new(TransactionStatementHook),
            ];
            let handlers = PgHandlers {
                service: Arc::new(DfSessionService::new_with_hooks(ctx, hooks)),
                auth: Arc::new(TokenAuth { state: state.clone(), conns: conns.clone(), pids, tls: tls.is_some() }),
                cancel: Arc::new(DefaultCancelHandler::new(conns)),
            };
            if let Err(e) = datafusion_postgres::pgwire::tokio::process_socket(socket, tls, handlers).await {
                tracing::debug!(%peer, "pgwire connection ended: {e}");
            }
        });
    }
}

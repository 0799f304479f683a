//! A DataFusion session over one snapshot directory: every `<table>.parquet` in it is a table, and the derived
//! views are defined on top at the snapshot's as-of date.

use std::num::NonZeroUsize;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::error::QueryError;
use crate::location::SnapshotDir;
use crate::sql::{self, SqlParams};

/// How much memory one query may hold before sorts and aggregates spill to disk: `COBRO_MEMORY_LIMIT` (`4G`, `512M`,
/// or `off` for no limit), by default half of the machine's memory (decision 0007 §11). `Ok(None)` means no limit.
pub fn memory_limit() -> Result<Option<usize>, QueryError> {
    match std::env::var("COBRO_MEMORY_LIMIT") {
        Ok(text) => parse_memory_limit(&text),
        Err(_) => Ok(half_of_physical_memory()),
    }
}

/// Parses a `COBRO_MEMORY_LIMIT` value.
fn parse_memory_limit(text: &str) -> Result<Option<usize>, QueryError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") || text == "0" {
        return Ok(None);
    }
    let bad = || QueryError::Plan {
        message: format!("COBRO_MEMORY_LIMIT=`{text}` is not a size: use for example 4G, 512M, or off for no limit"),
    };
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: usize = digits.parse().map_err(|_| bad())?;
    let scale: usize = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).map(Some).ok_or_else(bad)
}

/// Half of `MemTotal` in /proc/meminfo; `None` where there is no such file.
fn half_of_physical_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 2 * 1024)
}

/// What one query from someone else may use.
#[derive(Debug, Clone, Copy)]
pub struct SqlBounds {
    /// Memory, in bytes.
    pub memory_bytes: usize,
    /// Time.
    pub time: std::time::Duration,
}

/// A named in-memory table that replaces the snapshot's table of that name.
#[derive(Debug, Clone)]
pub struct RecordBatchTable {
    /// Table name.
    pub name: String,
    /// Its rows.
    pub batch: RecordBatch,
}

/// A runtime whose memory is a fair pool of `bytes`: every spilling operator (sorts, aggregates, sort-merge joins)
/// gets an equal share and spills at it. The greedy pool let the first consumers take it all, and a later sort then
/// failed to reserve room to merge its spills (seen on the 10M segments benchmark, intermittently).
/// With `like`, the new runtime keeps that context's object stores (a snapshot in S3 stays readable).
fn fair_pool_runtime(
    bytes: usize,
    like: Option<&SessionContext>,
) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>, datafusion::error::DataFusionError> {
    let pool = TrackConsumersPool::new(FairSpillPool::new(bytes), NonZeroUsize::MIN.saturating_add(4));
    let mut builder = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(pool));
    if let Some(ctx) = like {
        builder = builder.with_object_store_registry(Arc::clone(&ctx.runtime_env().object_store_registry));
    }
    builder.build_arc()
}

/// A query session over one snapshot.
pub struct SnapshotSession {
    ctx: SessionContext,
    names: Vec<String>,
    params: SqlParams,
}

impl SnapshotSession {
    /// Registers the snapshot's tables and views.
    pub async fn open(dir: impl Into<SnapshotDir>, params: SqlParams) -> Result<Self, QueryError> {
        Self::open_with(dir.into(), params, false, Vec::new()).await
    }

    /// Like [`open`](Self::open), with some tables replaced by in-memory rows before the views are defined: the
    /// operational store's live collection records over the snapshot's ledger (`cobro alarms`, the tick).
    pub async fn open_live(
        dir: impl Into<SnapshotDir>,
        params: SqlParams,
        live: Vec<RecordBatchTable>,
    ) -> Result<Self, QueryError> {
        Self::open_with(dir.into(), params, false, live).await
    }

    /// Like [`open`](Self::open), but for an as-of date earlier than the snapshot's: the tables the snapshot
    /// derived at its own date (`open_items`) are derived again, at `params.as_of`, from the ledger tables.
    pub async fn open_replay(dir: impl Into<SnapshotDir>, params: SqlParams) -> Result<Self, QueryError> {
        Self::open_with(dir.into(), params, true, Vec::new()).await
    }

    async fn open_with(
        dir: SnapshotDir,
        params: SqlParams,
        replay: bool,
        live: Vec<RecordBatchTable>,
    ) -> Result<Self, QueryError> {
        let found = dir.tables().await.map_err(|message| QueryError::OpenSnapshot {
            path: dir.to_string(),
            source: datafusion::error::DataFusionError::Execution(message),
        })?;
        let mut config =
            SessionConfig::new().with_information_schema(true).with_default_catalog_and_schema("cobro", "snapshot");
        let ctx = match memory_limit()? {
            Some(bytes) => {
                // Bounded memory: sorts and aggregates spill to disk, and joins become sort-merge joins, which
                // spill too (hash join build sides cannot).
                config = config.set_bool("datafusion.optimizer.prefer_hash_join", false);
                let runtime = fair_pool_runtime(bytes, None)
                    .map_err(|source| QueryError::OpenSnapshot { path: dir.to_string(), source })?;
                SessionContext::new_with_config_rt(config, runtime)
            }
            None => SessionContext::new_with_config(config),
        };
        ctx.register_udf(crate::udf::RoundHalfEven::udf());
        ctx.register_udf(crate::udf::MonthIndex::udf());
        ctx.register_udf(crate::udf::BusinessDays::udf(&params.calendar));
        ctx.register_udf(crate::udf::CountbackDso::udf());
        let mut names = Vec::new();
        for t in live {
            let table = datafusion::datasource::MemTable::try_new(t.batch.schema(), vec![vec![t.batch]])
                .map_err(|source| QueryError::Execute { source })?;
            ctx.register_table(t.name.as_str(), Arc::new(table)).map_err(|source| QueryError::Execute { source })?;
            names.push(t.name);
        }
        if let SnapshotDir::Object(o) = &dir {
            ctx.register_object_store(o.base.as_ref(), Arc::clone(&o.store));
        }
        for table in &found {
            if (replay && sql::DERIVED_TABLES.contains(&table.as_str())) || names.contains(table) {
                continue;
            }
            let path = dir.location_of(&format!("{table}.parquet"));
            // Collection tables are read with today's schema: a snapshot written before a column was added reads
            // that column as NULL instead of breaking every view over it.
            let current = cobro_domain::tables::COLLECTION_TABLES
                .iter()
                .find(|(name, _)| name == table)
                .map(|(_, columns)| crate::schema::columns_schema(columns));
            let mut options = ParquetReadOptions::default();
            if let Some(schema) = &current {
                options = options.schema(schema);
            }
            ctx.register_parquet(table.as_str(), &path, options)
                .await
                .map_err(|source| QueryError::OpenSnapshot { path, source })?;
            names.push(table.clone());
        }
        let mut session = Self { ctx, names, params };
        for (name, template, needs) in sql::VIEWS {
            if needs.iter().all(|t| session.names.iter().any(|n| n == t)) && !session.names.iter().any(|n| n == name) {
                let ddl = format!("CREATE VIEW {name} AS {}", session.params.render(template));
                session
                    .ctx
                    .sql(&ddl)
                    .await
                    .map_err(|source| QueryError::OpenSnapshot { path: format!("view {name}"), source })?;
                session.names.push((*name).to_owned());
            }
        }
        session.names.sort();
        Ok(session)
    }

    /// The tables and views this session can query.
    pub fn tables(&self) -> &[String] {
        &self.names
    }

    /// The parameters the views were rendered with.
    pub fn params(&self) -> &SqlParams {
        &self.params
    }

    /// Plans a query.
    pub async fn sql(&self, query: &str) -> Result<DataFrame, QueryError> {
        self.ctx.sql(query).await.map_err(|e| QueryError::from_plan(e, &self.names))
    }

    /// Plans a query from someone else (the API's SQL endpoint): queries only. DDL (CREATE, DROP, ...), DML
    /// (INSERT, COPY, ...) and statements (SET, ...) are refused by DataFusion's planner before anything runs. Its
    /// execution is bounded ([`bounded`](Self::bounded)): one analyst's query cannot take the server's memory or
    /// run for ever.
    pub async fn sql_read_only(&self, query: &str, bounds: SqlBounds) -> Result<DataFrame, QueryError> {
        Self::bounded(&self.ctx, bounds)?
            .sql_with_options(query, Self::queries_only())
            .await
            .map_err(|e| QueryError::from_plan(e, &self.names))
    }

    /// What SQL from someone else may be: queries only. DDL (CREATE, DROP, ...), DML (INSERT, COPY, ...) and
    /// statements (SET, ...) are refused by DataFusion's planner before anything runs.
    pub fn queries_only() -> datafusion::execution::context::SQLOptions {
        datafusion::execution::context::SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
    }

    /// This session's tables, views, functions and settings in a catalog list of its own: what is registered on it
    /// (the PostgreSQL catalog of `cobro serve --pgwire`, say) is not seen by this session or its other users.
    pub fn detached_context(&self) -> Result<SessionContext, QueryError> {
        use datafusion::catalog::{
            CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
        };
        let exec = |source| QueryError::Execute { source };
        let schema = self.ctx.catalog("cobro").and_then(|c| c.schema("snapshot")).ok_or_else(|| {
            exec(datafusion::error::DataFusionError::Internal("the session has no cobro.snapshot schema".into()))
        })?;
        let catalog = Arc::new(MemoryCatalogProvider::new());
        catalog.register_schema("snapshot", schema).map_err(exec)?;
        let list = Arc::new(MemoryCatalogProviderList::new());
        list.register_catalog("cobro".to_owned(), catalog);
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(self.ctx.state())
            .with_catalog_list(list)
            .build();
        Ok(SessionContext::new_with_state(state))
    }

    /// `ctx` for one connection's queries: a fair memory pool of `bounds.memory_bytes` of its own (sorts and
    /// aggregates spill to disk at it; a query that still needs more fails with "Resources exhausted"), and every
    /// query stopped with [`Overran`](crate::deadline::Overran) after `bounds.time`.
    pub fn bounded(ctx: &SessionContext, bounds: SqlBounds) -> Result<SessionContext, QueryError> {
        let runtime =
            fair_pool_runtime(bounds.memory_bytes, Some(ctx)).map_err(|source| QueryError::Execute { source })?;
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(ctx.state())
            .with_runtime_env(runtime)
            .with_physical_optimizer_rule(Arc::new(crate::deadline::Deadline { limit: bounds.time }))
            .build();
        Ok(SessionContext::new_with_state(state))
    }

    /// Plans one of cobro's SQL templates, rendered with this session's parameters.
    pub async fn template(&self, template: &str) -> Result<DataFrame, QueryError> {
        self.sql(&self.params.render(template)).await
    }

    /// Runs a query to completion.
    pub async fn collect(&self, query: &str) -> Result<Vec<RecordBatch>, QueryError> {
        self.sql(query).await?.collect().await.map_err(|source| QueryError::Execute { source })
    }

    /// Adds in-memory rows as a table of this session (for example another snapshot's results, to compare).
    pub fn register_batches(
        &mut self,
        name: &str,
        schema: datafusion::arrow::datatypes::SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<(), QueryError> {
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])
            .map_err(|source| QueryError::Execute { source })?;
        self.ctx.register_table(name, Arc::new(table)).map_err(|source| QueryError::Execute { source })?;
        self.names.push(name.to_owned());
        Ok(())
    }

    /// Runs a planned query as a stream of batches, in order.
    pub async fn stream(df: DataFrame) -> Result<SendableRecordBatchStream, QueryError> {
        df.execute_stream().await.map_err(|source| QueryError::Execute { source })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_memory_limit;

    #[test]
    fn memory_limits_parse_with_units_and_can_be_switched_off() {
        assert_eq!(parse_memory_limit("4G").ok(), Some(Some(4 << 30)));
        assert_eq!(parse_memory_limit(" 512m ").ok(), Some(Some(512 << 20)));
        assert_eq!(parse_memory_limit("1000").ok(), Some(Some(1000)));
        assert_eq!(parse_memory_limit("off").ok(), Some(None));
        assert_eq!(parse_memory_limit("0").ok(), Some(None));
        for bad in ["lots", "4T", "G", "-1G", ""] {
            let err = parse_memory_limit(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("is not a size"), "{bad}: {err}");
        }
    }
}

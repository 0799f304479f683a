//! A DataFusion session over one snapshot directory: every `<table>.parquet` in it is a table, and the derived
//! views are defined on top at the snapshot's as-of date.

use std::path::{Path, PathBuf};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::error::QueryError;
use crate::sql::{self, SqlParams};

/// The tables of a snapshot directory, found on disk.
#[derive(Debug, Clone)]
pub struct SnapshotTables {
    dir: PathBuf,
    tables: Vec<String>,
}

impl SnapshotTables {
    /// Lists `<name>.parquet` files in `dir`, sorted by name.
    pub fn scan(dir: &Path) -> std::io::Result<Self> {
        let mut tables = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "parquet")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                tables.push(stem.to_owned());
            }
        }
        tables.sort();
        Ok(Self { dir: dir.to_owned(), tables })
    }
}

/// A query session over one snapshot.
pub struct SnapshotSession {
    ctx: SessionContext,
    names: Vec<String>,
    params: SqlParams,
}

impl SnapshotSession {
    /// Registers the snapshot's tables and views.
    pub async fn open(dir: &Path, params: SqlParams) -> Result<Self, QueryError> {
        let found = SnapshotTables::scan(dir)
            .map_err(|e| QueryError::OpenSnapshot { path: dir.display().to_string(), source: e.into() })?;
        let config =
            SessionConfig::new().with_information_schema(true).with_default_catalog_and_schema("cobro", "snapshot");
        let ctx = SessionContext::new_with_config(config);
        ctx.register_udf(crate::udf::RoundHalfEven::udf());
        ctx.register_udf(crate::udf::MonthIndex::udf());
        ctx.register_udf(crate::udf::BusinessDays::udf());
        ctx.register_udf(crate::udf::CountbackDso::udf());
        let mut names = Vec::new();
        for table in &found.tables {
            let path = found.dir.join(format!("{table}.parquet"));
            ctx.register_parquet(table.as_str(), path.to_string_lossy().as_ref(), ParquetReadOptions::default())
                .await
                .map_err(|source| QueryError::OpenSnapshot { path: path.display().to_string(), source })?;
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

    /// Plans one of cobro's SQL templates, rendered with this session's parameters.
    pub async fn template(&self, template: &str) -> Result<DataFrame, QueryError> {
        self.sql(&self.params.render(template)).await
    }

    /// Runs a query to completion.
    pub async fn collect(&self, query: &str) -> Result<Vec<RecordBatch>, QueryError> {
        self.sql(query).await?.collect().await.map_err(|source| QueryError::Execute { source })
    }

    /// Runs a planned query as a stream of batches, in order.
    pub async fn stream(df: DataFrame) -> Result<SendableRecordBatchStream, QueryError> {
        df.execute_stream().await.map_err(|source| QueryError::Execute { source })
    }
}

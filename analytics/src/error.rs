//! Query errors, phrased for the person who wrote the SQL.

use datafusion::error::DataFusionError;

/// Why a query over a snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The snapshot directory cannot be registered.
    #[error("cannot open the snapshot tables in {path}: {source}")]
    OpenSnapshot {
        /// Snapshot directory.
        path: String,
        /// Cause.
        #[source]
        source: DataFusionError,
    },
    /// The SQL names a table that does not exist.
    #[error("{message}\n  tables in this snapshot: {tables}")]
    UnknownTable {
        /// DataFusion's message, which names the table.
        message: String,
        /// The tables that do exist.
        tables: String,
    },
    /// The SQL is invalid or names a column that does not exist (DataFusion's message names it and lists the
    /// valid fields).
    #[error("{message}")]
    Plan {
        /// DataFusion's message.
        message: String,
    },
    /// The query failed while running.
    #[error("query failed while running: {source}")]
    Execute {
        /// Cause.
        #[source]
        source: DataFusionError,
    },
}

impl QueryError {
    /// Classifies a planning error, adding the list of tables when a table is unknown.
    pub(crate) fn from_plan(err: DataFusionError, tables: &[String]) -> Self {
        let message = strip_prefixes(&err.to_string());
        if message.contains("table") && message.contains("not found") {
            QueryError::UnknownTable { message, tables: tables.join(", ") }
        } else {
            QueryError::Plan { message }
        }
    }
}

/// DataFusion nests "Error during planning: " style prefixes; users need the sentence after them.
fn strip_prefixes(msg: &str) -> String {
    let mut m = msg.trim();
    for prefix in ["Error during planning: ", "SQL error: ", "Schema error: ", "Execution error: "] {
        if let Some(rest) = m.strip_prefix(prefix) {
            m = rest;
        }
    }
    m.to_owned()
}

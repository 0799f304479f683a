//! cobro's query engine: the only crate that names DataFusion. It turns the domain's canonical table specs into
//! Arrow schemas, opens a DataFusion session over one snapshot directory, and owns the metric SQL
//! (`analytics/sql/*.sql`), which the product and the golden tests load from the same files.
//!
//! Must not depend on axum. Other crates reach Arrow, Parquet and DataFusion through the re-exports below, so
//! that their versions cannot drift.

pub mod backtest;
pub mod cells;
pub mod deadline;
pub mod error;
pub mod location;
pub mod schema;
pub mod segments;
pub mod session;
pub mod sql;
pub mod udf;

pub use datafusion;
pub use datafusion::arrow;
pub use datafusion::parquet;
pub use error::QueryError;
pub use location::{ObjectDir, SnapshotDir};
pub use object_store;
pub use session::{RecordBatchTable, SnapshotSession, SqlBounds};

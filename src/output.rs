//! Writing query results to standard output (the encodings are `cobro_app::output`).

use std::io::Write;

use anyhow::Context;
use cobro_analytics::arrow::datatypes::SchemaRef;
use cobro_analytics::arrow::record_batch::RecordBatch;
pub use cobro_app::output::write;

use crate::cli::Format;

/// Writes batches to standard output in a format.
pub fn print(batches: &[RecordBatch], schema: SchemaRef, format: Format) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    write(batches, schema, format, &mut lock)?;
    lock.flush()?;
    Ok(())
}

/// Runs a query and writes its result to standard output.
pub async fn query(session: &cobro_analytics::SnapshotSession, sql: &str, format: Format) -> anyhow::Result<()> {
    let df = session.sql(sql).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await.context("running the query")?;
    print(&batches, schema, format)
}

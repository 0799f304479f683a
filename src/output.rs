//! Writing query results: an aligned table, CSV, JSON (array of objects) or Parquet.

use std::io::Write;

use anyhow::Context;
use cobro_analytics::arrow::datatypes::SchemaRef;
use cobro_analytics::arrow::record_batch::RecordBatch;
use cobro_analytics::arrow::util::pretty::pretty_format_batches;
use cobro_analytics::parquet::arrow::ArrowWriter;

use crate::cli::Format;

/// Writes batches in a format.
pub fn write(batches: &[RecordBatch], schema: SchemaRef, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            if batches.iter().all(|b| b.num_rows() == 0) {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "(no rows; columns: {})", names.join(", "))?;
            } else {
                writeln!(out, "{}", pretty_format_batches(batches)?)?;
            }
        }
        // CSV and JSON are rendered to memory first (the batches are in memory already), so that a write error
        // reaches the caller as the `io::Error` it is, not wrapped in an Arrow error.
        Format::Csv => {
            let mut buf = Vec::new();
            {
                let mut w = cobro_analytics::arrow::csv::WriterBuilder::new().with_header(true).build(&mut buf);
                if batches.is_empty() {
                    w.write(&RecordBatch::new_empty(schema))?;
                }
                for b in batches {
                    w.write(b)?;
                }
            }
            out.write_all(&buf)?;
        }
        Format::Json => {
            let mut buf = Vec::new();
            {
                let mut w = cobro_analytics::arrow::json::ArrayWriter::new(&mut buf);
                let refs: Vec<&RecordBatch> = batches.iter().collect();
                w.write_batches(&refs)?;
                w.finish()?;
            }
            if buf.is_empty() {
                buf.extend_from_slice(b"[]");
            }
            buf.push(b'\n');
            out.write_all(&buf)?;
        }
        Format::Parquet => {
            let mut buf = Vec::new();
            let mut w =
                ArrowWriter::try_new(&mut buf, schema, Some(cobro_pipeline::parquet_io::export_writer_properties()))?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
            out.write_all(&buf).context("writing Parquet output")?;
        }
    }
    Ok(())
}

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

//! Encoding query results for people and programs: an aligned table, CSV, JSON (array of objects), Parquet or
//! Arrow IPC (stream). The CLI writes them to a file or standard output; the API negotiates them by `Accept`.

use std::io::Write;

use anyhow::Context;
use cobro_analytics::arrow::datatypes::SchemaRef;
use cobro_analytics::arrow::record_batch::RecordBatch;
use cobro_analytics::arrow::util::pretty::pretty_format_batches;
use cobro_analytics::parquet::arrow::ArrowWriter;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text table.
    Table,
    /// CSV with a header.
    Csv,
    /// JSON array of objects.
    Json,
    /// Parquet (binary; use --out or redirect).
    Parquet,
    /// Arrow IPC stream (binary; use --out or redirect).
    Arrow,
}

impl Format {
    /// The media type of the encoding.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Table => "text/plain; charset=utf-8",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
            Self::Parquet => "application/vnd.apache.parquet",
            Self::Arrow => "application/vnd.apache.arrow.stream",
        }
    }
}

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
        Format::Arrow => {
            let mut buf = Vec::new();
            {
                let mut w = cobro_analytics::arrow::ipc::writer::StreamWriter::try_new(&mut buf, &schema)?;
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            out.write_all(&buf).context("writing Arrow IPC output")?;
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

/// Batches encoded in memory.
pub fn encode(batches: &[RecordBatch], schema: SchemaRef, format: Format) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    write(batches, schema, format, &mut buf)?;
    Ok(buf)
}

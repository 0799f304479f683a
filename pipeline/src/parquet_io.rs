//! Writing Parquet the same way everywhere, so that the same rows always give the same bytes: fixed writer
//! properties, fixed row-group size, no timestamps in the file.

use std::fs::File;
use std::path::{Path, PathBuf};

use cobro_analytics::arrow::datatypes::SchemaRef;
use cobro_analytics::arrow::record_batch::RecordBatch;
use cobro_analytics::parquet::arrow::ArrowWriter;
use cobro_analytics::parquet::basic::{Compression, ZstdLevel};
use cobro_analytics::parquet::file::properties::{WriterProperties, WriterVersion};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// Why a Parquet file cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {message}")]
pub struct WriteParquetError {
    /// File.
    pub path: PathBuf,
    /// Cause.
    pub message: String,
}

/// The writer properties of snapshot and staging files.
pub fn writer_properties() -> WriterProperties {
    properties(WriterVersion::PARQUET_2_0)
}

fn properties(version: WriterVersion) -> WriterProperties {
    WriterProperties::builder()
        .set_writer_version(version)
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("cobro".to_owned())
        .build()
}

/// Writer properties for query results (`cobro sql --format parquet`): the same, but Parquet 1.0 data pages. Results
/// have wide decimals (`DECIMAL(28, 4)` sums, stored as 12-byte fixed-length arrays), and under 2.0 pages a column
/// whose dictionary grows too large falls back to DELTA_BYTE_ARRAY, which Polars 2.1 cannot read for fixed-length
/// arrays. 1.0 pages fall back to PLAIN, which every reader reads.
pub fn export_writer_properties() -> WriterProperties {
    properties(WriterVersion::PARQUET_1_0)
}

/// A Parquet file written on its own thread: encoding and compression overlap with whatever produces the
/// batches (parsing and validating, in the import). Batches are written in the order they are sent.
pub struct BackgroundParquetFile {
    path: PathBuf,
    sender: Option<std::sync::mpsc::SyncSender<RecordBatch>>,
    handle: Option<std::thread::JoinHandle<Result<u64, WriteParquetError>>>,
}

impl BackgroundParquetFile {
    /// Creates the file and starts its writer thread.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self, WriteParquetError> {
        let mut file = ParquetFile::create(path, schema)?;
        let (sender, receiver) = std::sync::mpsc::sync_channel::<RecordBatch>(4);
        let handle = std::thread::Builder::new()
            .name("parquet-writer".to_owned())
            .spawn(move || {
                for batch in receiver {
                    file.write(&batch)?;
                }
                file.finish()
            })
            .map_err(|e| WriteParquetError { path: path.to_owned(), message: e.to_string() })?;
        Ok(Self { path: path.to_owned(), sender: Some(sender), handle: Some(handle) })
    }

    /// Hands a batch to the writer thread.
    pub fn write(&mut self, batch: RecordBatch) -> Result<(), WriteParquetError> {
        let sent = self.sender.as_ref().map(|s| s.send(batch).is_ok()).unwrap_or(false);
        if sent {
            Ok(())
        } else {
            // The writer stopped early: its error says why.
            self.join().and_then(|_| Err(self.stopped()))
        }
    }

    fn stopped(&self) -> WriteParquetError {
        WriteParquetError { path: self.path.clone(), message: "the writer thread stopped".to_owned() }
    }

    fn join(&mut self) -> Result<u64, WriteParquetError> {
        self.sender = None;
        match self.handle.take() {
            Some(h) => h.join().map_err(|_| self.stopped())?,
            None => Err(self.stopped()),
        }
    }

    /// Waits for every batch to be written and the file synced; returns the row count.
    pub fn finish(mut self) -> Result<u64, WriteParquetError> {
        self.join()
    }
}

/// A Parquet file being written.
pub struct ParquetFile {
    path: PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
}

impl ParquetFile {
    /// Creates the file.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self, WriteParquetError> {
        let err = |e: &dyn std::fmt::Display| WriteParquetError { path: path.to_owned(), message: e.to_string() };
        let file = File::create(path).map_err(|e| err(&e))?;
        let writer = ArrowWriter::try_new(file, schema, Some(writer_properties())).map_err(|e| err(&e))?;
        Ok(Self { path: path.to_owned(), writer, rows: 0 })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), WriteParquetError> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch).map_err(|e| WriteParquetError { path: self.path.clone(), message: e.to_string() })
    }

    /// Finishes the file and syncs it to disk; returns the row count.
    pub fn finish(self) -> Result<u64, WriteParquetError> {
        let path = self.path.clone();
        let err = |e: &dyn std::fmt::Display| WriteParquetError { path: path.clone(), message: e.to_string() };
        let file = self.writer.into_inner().map_err(|e| err(&e))?;
        file.sync_all().map_err(|e| err(&e))?;
        Ok(self.rows)
    }
}

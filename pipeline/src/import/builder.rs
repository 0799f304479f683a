//! Arrow builders for one canonical table, flushed to its staged Parquet file in fixed-size batches.

use std::path::Path;
use std::sync::Arc;

use cobro_analytics::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int32Builder, StringBuilder, UInt64Builder,
};
use cobro_analytics::arrow::datatypes::SchemaRef;
use cobro_analytics::arrow::record_batch::RecordBatch;
use cobro_analytics::schema::{arrow_type, rejects_schema, table_schema};
use cobro_domain::tables::{ColumnType, Table};

use crate::import::value::Value;
use crate::parquet_io::{BackgroundParquetFile, ParquetFile, WriteParquetError};

/// Rows buffered before a batch is written.
const BATCH_ROWS: usize = 65_536;

enum Column {
    Text(StringBuilder),
    Date(Date32Builder),
    Decimal(Decimal128Builder),
    Int(Int32Builder),
    Bool(BooleanBuilder),
}

impl Column {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Text => Column::Text(StringBuilder::new()),
            ColumnType::Date => Column::Date(Date32Builder::new()),
            ColumnType::Money | ColumnType::Rate => {
                Column::Decimal(Decimal128Builder::new().with_data_type(arrow_type(ty)))
            }
            ColumnType::Int => Column::Int(Int32Builder::new()),
            ColumnType::Bool => Column::Bool(BooleanBuilder::new()),
        }
    }

    fn append(&mut self, v: &Value) {
        match (self, v) {
            (Column::Text(b), Value::Text(s)) => b.append_value(s),
            (Column::Date(b), Value::Date(d)) => b.append_value(*d),
            (Column::Decimal(b), Value::Money(m) | Value::Rate(m)) => b.append_value(*m),
            (Column::Int(b), Value::Int(i)) => b.append_value(*i),
            (Column::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Column::Text(b), _) => b.append_null(),
            (Column::Date(b), _) => b.append_null(),
            (Column::Decimal(b), _) => b.append_null(),
            (Column::Int(b), _) => b.append_null(),
            (Column::Bool(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Text(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::Decimal(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Bool(b) => Arc::new(b.finish()),
        }
    }
}

fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch, String> {
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}

/// The staged file of one canonical table.
pub struct TableWriter {
    schema: SchemaRef,
    columns: Vec<Column>,
    buffered: usize,
    file: BackgroundParquetFile,
}

impl TableWriter {
    /// Creates `<dir>/<table>.parquet`.
    pub fn create(dir: &Path, table: Table) -> Result<Self, WriteParquetError> {
        let schema = table_schema(table);
        let file = BackgroundParquetFile::create(&dir.join(format!("{}.parquet", table.name())), schema.clone())?;
        let columns = table.columns().iter().map(|c| Column::new(c.ty)).collect();
        Ok(Self { schema, columns, buffered: 0, file })
    }

    /// Appends one valid row (one value per column, in table order).
    pub fn append(&mut self, row: &[Value]) -> Result<(), WriteParquetError> {
        for (col, v) in self.columns.iter_mut().zip(row) {
            col.append(v);
        }
        self.buffered += 1;
        if self.buffered >= BATCH_ROWS { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), WriteParquetError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays = self.columns.iter_mut().map(Column::finish).collect();
        let b = batch(&self.schema, arrays).map_err(|message| WriteParquetError { path: "batch".into(), message })?;
        self.buffered = 0;
        self.file.write(b)
    }

    /// Writes what is buffered and closes the file; returns the row count.
    pub fn finish(mut self) -> Result<u64, WriteParquetError> {
        self.flush()?;
        self.file.finish()
    }
}

/// One refused row.
#[derive(Debug, Clone)]
pub struct Reject {
    /// Input file name.
    pub file: String,
    /// Line (CSV, NDJSON) or row (JSON array, Parquet) number.
    pub line: u64,
    /// Canonical table the row was for.
    pub table: &'static str,
    /// Canonical column at fault, if one is.
    pub column: Option<String>,
    /// The offending value, as read.
    pub value: Option<String>,
    /// What is wrong and what to do.
    pub reason: String,
    /// The whole input row as a JSON object (header → text), so it can be fixed and sent again.
    pub raw: String,
}

/// The staged `rejects.parquet`.
pub struct RejectWriter {
    schema: SchemaRef,
    file: StringBuilder,
    line: UInt64Builder,
    table: StringBuilder,
    column: StringBuilder,
    value: StringBuilder,
    reason: StringBuilder,
    raw: StringBuilder,
    buffered: usize,
    out: ParquetFile,
}

impl RejectWriter {
    /// Creates `<dir>/rejects.parquet`.
    pub fn create(dir: &Path) -> Result<Self, WriteParquetError> {
        let schema = rejects_schema();
        let out = ParquetFile::create(&dir.join("rejects.parquet"), schema.clone())?;
        Ok(Self {
            schema,
            file: StringBuilder::new(),
            line: UInt64Builder::new(),
            table: StringBuilder::new(),
            column: StringBuilder::new(),
            value: StringBuilder::new(),
            reason: StringBuilder::new(),
            raw: StringBuilder::new(),
            buffered: 0,
            out,
        })
    }

    /// Appends a reject.
    pub fn append(&mut self, r: &Reject) -> Result<(), WriteParquetError> {
        self.file.append_value(&r.file);
        self.line.append_value(r.line);
        self.table.append_value(r.table);
        self.column.append_option(r.column.as_deref());
        self.value.append_option(r.value.as_deref());
        self.reason.append_value(&r.reason);
        self.raw.append_value(&r.raw);
        self.buffered += 1;
        if self.buffered >= BATCH_ROWS { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), WriteParquetError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.table.finish()),
            Arc::new(self.column.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.raw.finish()),
        ];
        let b = batch(&self.schema, arrays)
            .map_err(|message| WriteParquetError { path: "rejects batch".into(), message })?;
        self.buffered = 0;
        self.out.write(&b)
    }

    /// Copies the rejects of an earlier import (a `rejects.parquet` batch) ahead of this run's own.
    pub fn append_batch(&mut self, b: &RecordBatch) -> Result<(), WriteParquetError> {
        self.flush()?;
        let b = RecordBatch::try_new(self.schema.clone(), b.columns().to_vec())
            .map_err(|e| WriteParquetError { path: "rejects of the staged ledger".into(), message: e.to_string() })?;
        self.out.write(&b)
    }

    /// Writes what is buffered and closes the file.
    pub fn finish(mut self) -> Result<u64, WriteParquetError> {
        self.flush()?;
        self.out.finish()
    }
}

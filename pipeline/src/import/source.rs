//! Input files as a stream of raw rows: CSV (any delimiter, UTF-8 or Windows-1252), JSON (array or one object
//! per line) and Parquet all come out as a header plus `ByteRecord`s with their line (or row) number.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use cobro_analytics::arrow::array::{Array, AsArray};
use cobro_analytics::arrow::compute::cast;
use cobro_analytics::arrow::datatypes::DataType;
use cobro_analytics::parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use csv::ByteRecord;
use sha2::{Digest, Sha256};

use crate::import::ImportError;
use crate::mapping::{Encoding, Format, InputSpec};

/// A reader that hashes what passes through it and counts bytes, for the manifest and the progress bar.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Hex sha256 and size of a whole file.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// Where the rows come from.
enum Rows {
    Csv(csv::Reader<HashingReader<BufReader<File>>>),
    Json { rows: std::vec::IntoIter<(u64, ByteRecord)> },
    Parquet { reader: ParquetRecordBatchReader, pending: std::vec::IntoIter<ByteRecord>, row: u64 },
}

/// An open input file.
pub struct RowSource {
    path: PathBuf,
    header: Vec<String>,
    encoding: Encoding,
    rows: Rows,
}

/// A field that is not valid text in the file's encoding.
#[derive(Debug)]
pub struct BadBytes {
    /// The offending byte.
    pub byte: u8,
    /// Its offset within the field.
    pub offset: usize,
}

impl RowSource {
    /// Opens a file as the input spec says. An empty file is an error that lists the expected columns.
    pub fn open(path: &Path, spec: &InputSpec, expected: &[String]) -> Result<Self, ImportError> {
        let read_err = |source: std::io::Error| ImportError::ReadInput { path: path.to_owned(), source };
        let file = File::open(path).map_err(read_err)?;
        if file.metadata().map_err(read_err)?.len() == 0 {
            return Err(ImportError::EmptyFile { path: path.to_owned(), expected: expected.join(", ") });
        }
        let (header, rows) = match spec.format {
            Format::Csv => open_csv(path, file, spec)?,
            Format::Json => open_json(path, file)?,
            Format::Parquet => open_parquet(path, file)?,
        };
        if header.is_empty() || header.iter().all(|h| h.is_empty()) {
            return Err(ImportError::EmptyFile { path: path.to_owned(), expected: expected.join(", ") });
        }
        Ok(Self { path: path.to_owned(), header, encoding: spec.encoding, rows })
    }

    /// The column names of the file.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes read so far (CSV only; other formats report 0).
    pub fn bytes_read(&self) -> u64 {
        match &self.rows {
            Rows::Csv(r) => r.get_ref().bytes,
            _ => 0,
        }
    }

    /// The sha256 of the bytes read so far (the whole file once it is exhausted; CSV only).
    pub fn sha256(&self) -> Option<String> {
        match &self.rows {
            Rows::Csv(r) => Some(hex::encode(r.get_ref().hasher.clone().finalize())),
            _ => None,
        }
    }

    /// Reads the next row into `record`; returns its line (CSV, NDJSON) or row number (JSON array, Parquet).
    pub fn next_row(&mut self, record: &mut ByteRecord) -> Result<Option<u64>, ImportError> {
        match &mut self.rows {
            Rows::Csv(reader) => {
                let more = reader.read_byte_record(record).map_err(|e| csv_error(&self.path, e))?;
                Ok(more.then(|| record.position().map_or(0, |p| p.line())))
            }
            Rows::Json { rows } => Ok(rows.next().map(|(line, r)| {
                *record = r;
                line
            })),
            Rows::Parquet { reader, pending, row } => loop {
                if let Some(r) = pending.next() {
                    *record = r;
                    *row += 1;
                    return Ok(Some(*row));
                }
                match reader.next() {
                    None => return Ok(None),
                    Some(batch) => {
                        let batch = batch.map_err(|e| ImportError::ReadParquet {
                            path: self.path.clone(),
                            message: e.to_string(),
                        })?;
                        *pending = batch_to_records(&batch)
                            .map_err(|message| ImportError::ReadParquet { path: self.path.clone(), message })?
                            .into_iter();
                    }
                }
            },
        }
    }

    /// Decodes one field as text in the file's encoding.
    pub fn decode<'a>(&self, raw: &'a [u8]) -> Result<Cow<'a, str>, BadBytes> {
        match self.encoding {
            Encoding::Utf8 => std::str::from_utf8(raw).map(Cow::Borrowed).map_err(|e| BadBytes {
                byte: raw.get(e.valid_up_to()).copied().unwrap_or(0),
                offset: e.valid_up_to(),
            }),
            Encoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0),
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> ImportError {
    let line = e.position().map(|p| p.line());
    ImportError::ParseCsv { path: path.to_owned(), line, message: e.to_string() }
}

type Opened = (Vec<String>, Rows);

fn open_csv(path: &Path, file: File, spec: &InputSpec) -> Result<Opened, ImportError> {
    let delimiter = u8::try_from(spec.delimiter).map_err(|_| ImportError::ParseCsv {
        path: path.to_owned(),
        line: None,
        message: format!("the delimiter `{}` is not a single-byte character", spec.delimiter),
    })?;
    let hashing = HashingReader { inner: BufReader::with_capacity(1 << 20, file), hasher: Sha256::new(), bytes: 0 };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .buffer_capacity(1 << 20)
        .from_reader(hashing);
    let raw = reader.byte_headers().map_err(|e| csv_error(path, e))?.clone();
    let mut header = Vec::with_capacity(raw.len());
    for (i, field) in raw.iter().enumerate() {
        let text = match spec.encoding {
            Encoding::Utf8 => std::str::from_utf8(field).map(str::to_owned).map_err(|_| ImportError::ParseCsv {
                path: path.to_owned(),
                line: Some(1),
                message: format!("header column {} is not valid UTF-8; set encoding = \"windows-1252\" in the mapping's [[inputs]] if the file comes from an older ERP", i + 1),
            })?,
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(field).0.into_owned(),
        };
        // A UTF-8 byte-order mark sticks to the first name otherwise.
        header.push(text.trim_start_matches('\u{feff}').trim().to_owned());
    }
    Ok((header, Rows::Csv(reader)))
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn open_json(path: &Path, file: File) -> Result<Opened, ImportError> {
    let bad = |line: u64, message: String| ImportError::ParseJson { path: path.to_owned(), line, message };
    let mut objects: Vec<(u64, serde_json::Map<String, serde_json::Value>)> = Vec::new();
    let mut reader = BufReader::new(file);
    let mut first = [0_u8; 1];
    // Peek at the first non-space byte: `[` means one array, anything else one object per line.
    let mut buf = String::new();
    reader.read_to_string(&mut buf).map_err(|source| ImportError::ReadInput { path: path.to_owned(), source })?;
    if let Some(c) = buf.trim_start().bytes().next() {
        first[0] = c;
    }
    if first[0] == b'[' {
        let values: Vec<serde_json::Value> =
            serde_json::from_str(&buf).map_err(|e| bad(e.line() as u64, e.to_string()))?;
        for (i, v) in values.into_iter().enumerate() {
            match v {
                serde_json::Value::Object(o) => objects.push((i as u64 + 1, o)),
                _ => {
                    return Err(bad(0, format!("element {} of the array is not an object", i + 1)));
                }
            }
        }
    } else {
        for (i, line) in buf.as_bytes().lines().enumerate() {
            let line = line.map_err(|source| ImportError::ReadInput { path: path.to_owned(), source })?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(serde_json::Value::Object(o)) => objects.push((i as u64 + 1, o)),
                Ok(_) => {
                    return Err(bad(i as u64 + 1, "the line is not a JSON object".to_owned()));
                }
                Err(e) => return Err(bad(i as u64 + 1, e.to_string())),
            }
        }
    }
    let header: Vec<String> = objects.first().map(|(_, o)| o.keys().cloned().collect()).unwrap_or_default();
    let rows = objects
        .into_iter()
        .map(|(line, o)| {
            let mut r = ByteRecord::new();
            for h in &header {
                r.push_field(o.get(h).map(json_text).unwrap_or_default().as_bytes());
            }
            (line, r)
        })
        .collect::<Vec<_>>();
    Ok((header, Rows::Json { rows: rows.into_iter() }))
}

fn open_parquet(path: &Path, file: File) -> Result<Opened, ImportError> {
    let err = |e: &dyn std::fmt::Display| ImportError::ReadParquet { path: path.to_owned(), message: e.to_string() };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| err(&e))?;
    let header = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    let reader = builder.with_batch_size(8192).build().map_err(|e| err(&e))?;
    Ok((header, Rows::Parquet { reader, pending: Vec::new().into_iter(), row: 0 }))
}

/// Turns an Arrow batch into text records (Arrow's own cast gives ISO dates and exact decimals).
fn batch_to_records(batch: &cobro_analytics::arrow::record_batch::RecordBatch) -> Result<Vec<ByteRecord>, String> {
    let columns = batch
        .columns()
        .iter()
        .map(|c| cast(c, &DataType::Utf8).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut r = ByteRecord::new();
        for c in &columns {
            let s = c.as_string::<i32>();
            r.push_field(if s.is_null(row) { b"" } else { s.value(row).as_bytes() });
        }
        out.push(r);
    }
    Ok(out)
}

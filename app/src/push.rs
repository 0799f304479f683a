//! Ledger push (the API's `POST /api/v1/ledger/{table}`): rows of one canonical table, as CSV or JSON, added to
//! the staged ledger by the same import as `cobro import --append`. Every row goes through the same validation;
//! refused rows are kept with their reason in the staged rejects (and the next snapshot's `rejects` table).
//!
//! The body's shape is checked before anything is staged, so a body that cannot be read as rows of the table is
//! refused as a whole with what and where: unknown columns (a misspelt optional column would otherwise be read
//! as empty), missing required columns, JSON that is not an array of flat objects, and money sent as a JSON
//! number (a float cannot carry every decimal exactly: send `"150.00"`).

use std::path::Path;

use chrono::{DateTime, Utc};
use cobro_domain::Currency;
use cobro_domain::tables::{ColumnType, Table};
use cobro_pipeline::import::{ImportError, ImportOptions, ImportSummary, NoProgress, import};
use cobro_pipeline::mapping::{CheckedMapping, Format};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The body's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFormat {
    /// Canonical CSV with a header line.
    Csv,
    /// A JSON array of objects keyed by canonical column names.
    Json,
}

/// Why a push was not staged.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The body cannot be read as rows of the table: the sender must fix it (HTTP 422).
    #[error("{0}")]
    Body(String),
    /// The import failed.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A temporary file could not be written.
    #[error("cannot stage the pushed rows: {0}")]
    Io(#[from] std::io::Error),
}

impl PushError {
    /// Whether the sender caused it (and the same body would fail the same way).
    pub fn is_client(&self) -> bool {
        match self {
            Self::Body(_) => true,
            Self::Import(e) => matches!(
                e,
                ImportError::ParseCsv { .. }
                    | ImportError::ParseJson { .. }
                    | ImportError::WrongHeader { .. }
                    | ImportError::EmptyFile { .. }
            ),
            Self::Io(_) => false,
        }
    }
}

/// A checked body, ready to stage.
struct Prepared {
    /// The columns it carries.
    columns: Vec<String>,
    /// The file staged (JSON is rewritten one object per line).
    text: Vec<u8>,
    /// Its name, which names the batch in the rejects and the staged ledger's sources.
    file_name: String,
    format: Format,
}

fn prepare(table: Table, format: PushFormat, body: &[u8], label: &str) -> Result<Prepared, PushError> {
    let (columns, text, ext, format) = match format {
        PushFormat::Csv => (csv_header(table, body)?, body.to_vec(), "csv", Format::Csv),
        PushFormat::Json => {
            let (columns, ndjson) = json_rows(table, body)?;
            (columns, ndjson.into_bytes(), "json", Format::Json)
        }
    };
    let missing: Vec<&str> =
        table.columns().iter().filter(|c| c.required && !columns.iter().any(|h| h == c.name)).map(|c| c.name).collect();
    if !missing.is_empty() {
        return Err(PushError::Body(format!(
            "missing required column(s) {} for {}; its columns are {}",
            missing.join(", "),
            table.name(),
            table.column_list()
        )));
    }
    let safe: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(64)
        .collect();
    Ok(Prepared { columns, text, file_name: format!("{}-push-{safe}.{ext}", table.name()), format })
}

/// Stages `body` as rows of `table` on top of the staged ledger. `label` (from the request's idempotency key)
/// names the batch in the rejects' `file` column. Blocking: it runs the import, which re-reads the staged ledger.
pub fn push(
    data_dir: &Path,
    table: Table,
    format: PushFormat,
    body: &[u8],
    label: &str,
    now: DateTime<Utc>,
) -> Result<ImportSummary, PushError> {
    let p = prepare(table, format, body, label)?;
    // The staged ledger's reporting currency stays: a push adds rows, it does not change how they are reported.
    let reporting = cobro_pipeline::staging::read_manifest(data_dir)
        .ok()
        .and_then(|m| Currency::parse(&m.reporting_currency).ok())
        .unwrap_or_else(|| Currency::parse("EUR").expect("EUR is a currency"));
    let mapping = CheckedMapping::canonical_subset(reporting, table, p.format, &p.columns);
    let dir = tempfile::tempdir()?;
    let file = dir.path().join(&p.file_name);
    std::fs::write(&file, &p.text)?;
    let opts = ImportOptions { data_dir: data_dir.to_owned(), max_reject_rate: None, now, extend_staged: true };
    Ok(import(&mapping, &[file], &opts, &mut NoProgress)?)
}

/// Whether this very batch (same name, same bytes) is among the staged ledger's sources: the name of its file
/// when it is. An interrupted request's retry uses it to tell "staged, answer lost" from "never staged".
pub fn already_staged(data_dir: &Path, table: Table, format: PushFormat, body: &[u8], label: &str) -> Option<String> {
    let p = prepare(table, format, body, label).ok()?;
    let sha = hex::encode(Sha256::digest(&p.text));
    let m = cobro_pipeline::staging::read_manifest(data_dir).ok()?;
    m.sources.iter().any(|s| s.file == p.file_name && s.sha256 == sha).then_some(p.file_name)
}

fn unknown_column(table: Table, name: &str, at: &str) -> PushError {
    PushError::Body(format!(
        "unknown column `{name}` {at}; the columns of {} are {}",
        table.name(),
        table.column_list()
    ))
}

/// The header of a CSV body, checked against the table's columns.
fn csv_header(table: Table, body: &[u8]) -> Result<Vec<String>, PushError> {
    let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
    let header = r.headers().map_err(|e| PushError::Body(format!("line 1: cannot read the CSV header: {e}")))?;
    let columns: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    if columns.iter().all(String::is_empty) {
        return Err(PushError::Body(format!(
            "the body is empty: send a header line with the columns of {} ({}) and one line per row",
            table.name(),
            table.column_list()
        )));
    }
    for (i, h) in columns.iter().enumerate() {
        if table.column(h).is_none() {
            return Err(unknown_column(table, h, &format!("in the header (column {})", i + 1)));
        }
        if columns[..i].contains(h) {
            return Err(PushError::Body(format!("column `{h}` appears twice in the header (column {})", i + 1)));
        }
    }
    Ok(columns)
}

/// Checks a JSON body (an array of flat objects) and rewrites it as one object per line with every column any
/// object has, so that each row's line is its position in the array.
fn json_rows(table: Table, body: &[u8]) -> Result<(Vec<String>, String), PushError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| PushError::Body(format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column())))?;
    let Value::Array(items) = value else {
        return Err(PushError::Body(format!(
            "expected a JSON array of {} objects, got {}",
            table.name(),
            kind(&value)
        )));
    };
    let mut columns: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |field: &str| format!("in element {} (field `{field}`)", i + 1);
        let Value::Object(o) = item else {
            return Err(PushError::Body(format!("element {} of the array is {}, not an object", i + 1, kind(item))));
        };
        for (k, v) in o {
            let Some(spec) = table.column(k) else {
                return Err(unknown_column(table, k, &at(k)));
            };
            let ok = match (spec.ty, v) {
                (_, Value::Null | Value::String(_)) => true,
                (ColumnType::Int, Value::Number(n)) => n.is_i64(),
                (ColumnType::Bool, Value::Bool(_)) => true,
                _ => false,
            };
            if !ok {
                let want = match spec.ty {
                    ColumnType::Money | ColumnType::Rate => {
                        "a decimal as a string, e.g. \"150.00\" (a JSON number is a float and may not carry every decimal exactly)"
                    }
                    ColumnType::Date => "a date as a string, YYYY-MM-DD",
                    ColumnType::Int => "a whole number",
                    ColumnType::Bool => "true or false",
                    ColumnType::Text => "a string",
                };
                return Err(PushError::Body(format!("{}: expected {want}, got {}", at(k), kind(v))));
            }
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let mut out = String::new();
    for item in &items {
        let Value::Object(o) = item else { continue };
        let row: serde_json::Map<String, Value> =
            columns.iter().map(|c| (c.clone(), o.get(c).cloned().unwrap_or(Value::Null))).collect();
        out.push_str(&Value::Object(row).to_string());
        out.push('\n');
    }
    Ok((columns, out))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_error(table: Table, format: PushFormat, body: &str) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        match push(
            dir.path(),
            table,
            format,
            body.as_bytes(),
            "t",
            cobro_domain::clock::Clock::now(&cobro_domain::clock::SystemClock),
        ) {
            Err(PushError::Body(m)) => m,
            other => panic!("expected a body error, got {other:?}"),
        }
    }

    #[test]
    fn bodies_that_are_not_rows_of_the_table_are_refused_with_what_and_where() {
        use PushFormat::{Csv, Json};
        let d = Table::Documents;
        let m = body_error(d, Json, r#"[{"document_id": "A"}, {"documnet_id": "B"}]"#);
        assert!(m.starts_with("unknown column `documnet_id` in element 2"), "{m}");
        let m = body_error(d, Json, r#"[{"document_id": "A", "amount": 150.10}]"#);
        assert!(m.contains("element 1 (field `amount`): expected a decimal as a string"), "{m}");
        let m = body_error(d, Json, r#"{"document_id": "A"}"#);
        assert_eq!(m, "expected a JSON array of documents objects, got an object");
        let m = body_error(d, Json, "[{\"document_id\": \"A\",}]");
        assert!(m.starts_with("not valid JSON at line 1, column 22: trailing comma"), "{m}");
        let m = body_error(d, Json, r#"[{"document_id": "A"}]"#);
        assert!(
            m.starts_with("missing required column(s) customer_id, kind, issue_date, due_date, currency, amount"),
            "{m}"
        );
        let m = body_error(d, Csv, "document_id,customer_id,colour\n");
        assert!(m.starts_with("unknown column `colour` in the header (column 3)"), "{m}");
        let m = body_error(Table::Payments, Csv, "");
        assert!(m.starts_with("the body is empty"), "{m}");
    }

    #[test]
    fn a_staged_batch_is_recognised_by_its_name_and_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let customers = "customer_id,name,country,currency,payment_terms_days\nC1,Uno,ES,EUR,30\n";
        assert_eq!(already_staged(d, Table::Customers, PushFormat::Csv, customers.as_bytes(), "k1"), None);
        let s = push(
            d,
            Table::Customers,
            PushFormat::Csv,
            customers.as_bytes(),
            "k1",
            cobro_domain::clock::Clock::now(&cobro_domain::clock::SystemClock),
        )
        .expect("staged");
        assert_eq!(s.batch["customers"].accepted, 1);
        assert_eq!(
            already_staged(d, Table::Customers, PushFormat::Csv, customers.as_bytes(), "k1").as_deref(),
            Some("customers-push-k1.csv")
        );
        assert_eq!(already_staged(d, Table::Customers, PushFormat::Csv, customers.as_bytes(), "k2"), None);
        // A second batch adds to the first: the staged ledger keeps both customers.
        let more = "customer_id,name,country,currency,payment_terms_days\nC2,Dos,ES,EUR,30\n";
        let s = push(
            d,
            Table::Customers,
            PushFormat::Csv,
            more.as_bytes(),
            "k2",
            cobro_domain::clock::Clock::now(&cobro_domain::clock::SystemClock),
        )
        .expect("staged");
        assert_eq!((s.batch["customers"].accepted, s.manifest.tables["customers"].accepted), (1, 2));
    }

    #[test]
    fn json_rows_keep_their_position_and_every_column_any_row_has() {
        let (cols, text) =
            json_rows(Table::Payments, br#"[{"payment_id": "P1"}, {"payment_id": "P2", "reference": "r"}]"#)
                .expect("ok");
        assert_eq!(cols, ["payment_id", "reference"]);
        assert_eq!(text, "{\"payment_id\":\"P1\",\"reference\":null}\n{\"payment_id\":\"P2\",\"reference\":\"r\"}\n");
    }
}

//! Mapping files (TOML, `data/mappings/*.toml`): how an ERP export's files and columns become the canonical
//! tables. A mapping names the input files it applies to (by file-name pattern), the table each emits (one
//! file can emit several: the IBM sample's one row is a customer, a document, a payment and an allocation), and
//! for every canonical column where its value comes from: a source column, a constant, or a template over
//! source columns. Parsing options (date format, decimal separator, encoding, booleans) live at the top level
//! and can be overridden per input or per column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cobro_domain::Currency;
use cobro_domain::tables::Table;
use serde::Deserialize;

/// A mapping file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// A short name, shown in summaries.
    pub name: String,
    /// What this mapping is for.
    #[serde(default)]
    pub description: String,
    /// The currency metrics are reported in (ISO 4217).
    pub reporting_currency: String,
    /// Parsing defaults for every input.
    #[serde(default)]
    pub defaults: Defaults,
    /// The input files this mapping understands.
    #[serde(rename = "inputs")]
    pub inputs: Vec<InputSpec>,
}

/// Parsing options. Every field is optional in the file; [`Defaults::default`] gives the canonical format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// Currency for rows whose currency column is not mapped or empty.
    pub currency: Option<String>,
    /// chrono `strftime` format of dates, e.g. `%Y-%m-%d`, `%m/%d/%Y`, `%d.%m.%Y`.
    pub date_format: String,
    /// Decimal separator: `.` or `,`.
    pub decimal_separator: char,
    /// Thousands separator to ignore, if any (e.g. `.` with decimal `,`).
    pub thousands_separator: Option<char>,
    /// Texts read as true (compared case-insensitively).
    pub true_values: Vec<String>,
    /// Texts read as false (compared case-insensitively).
    pub false_values: Vec<String>,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            currency: None,
            date_format: "%Y-%m-%d".to_owned(),
            decimal_separator: '.',
            thousands_separator: None,
            true_values: ["true", "yes", "y", "1", "si", "sí"].map(String::from).to_vec(),
            false_values: ["false", "no", "n", "0"].map(String::from).to_vec(),
        }
    }
}

/// File formats an input can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Delimited text with a header line.
    #[default]
    Csv,
    /// JSON: an array of objects, or one object per line.
    Json,
    /// Apache Parquet.
    Parquet,
}

/// Text encodings of CSV/JSON inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum Encoding {
    /// UTF-8 (bytes that are not valid UTF-8 reject the row).
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// Windows-1252 / Latin-1, common in older ERP exports.
    #[serde(rename = "windows-1252")]
    Windows1252,
}

/// One kind of input file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// File-name pattern (`*` and `?` wildcards), matched against the file name only.
    #[serde(rename = "match")]
    pub pattern: String,
    /// File format.
    #[serde(default)]
    pub format: Format,
    /// CSV field delimiter.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Text encoding.
    #[serde(default)]
    pub encoding: Encoding,
    /// Date format for this input (overrides the default).
    pub date_format: Option<String>,
    /// The canonical rows each input row emits.
    pub emit: Vec<EmitSpec>,
}

fn default_delimiter() -> char {
    ','
}

/// One canonical row emitted per input row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitSpec {
    /// Canonical table name.
    pub table: String,
    /// Emit only when this source column is not empty (for derived rows, e.g. a payment per settled invoice).
    pub when: Option<String>,
    /// Identical repeated rows are merged instead of rejected as duplicates (for derived master data, e.g. one
    /// customer row per invoice line). Repeats that differ are still rejected.
    #[serde(default)]
    pub dedupe: bool,
    /// Where each canonical column comes from. Unmapped optional columns are null.
    pub columns: BTreeMap<String, ColumnSource>,
}

/// Where a canonical column's value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ColumnSource {
    /// Shorthand: the name of a source column.
    Column(String),
    /// The full form.
    Spec(SourceSpec),
}

/// The full form of a column source: exactly one of `column`, `const` or `template`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// A source column.
    pub column: Option<String>,
    /// A constant value.
    #[serde(rename = "const")]
    pub constant: Option<String>,
    /// A template such as `PAY-{invoiceNumber}`: `{name}` is replaced by that source column's value.
    pub template: Option<String>,
    /// Date format for this column (overrides the input's and the default).
    pub date_format: Option<String>,
    /// Value translation applied to the source text before parsing, e.g. `{ "Yes" = "true" }`.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

/// A problem in a mapping file, named by table and column.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file cannot be read.
    #[error("cannot read mapping file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is invalid or has unknown keys.
    #[error("mapping file {path} is not valid: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// A semantic problem.
    #[error("mapping file {path}: {problem}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// What is wrong and where (input, table, column).
        problem: String,
    },
}

/// A resolved column source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Value of a source column.
    Column(String),
    /// A constant.
    Const(String),
    /// A template: literal text and column references, in order.
    Template(Vec<TemplatePart>),
    /// Not mapped: null.
    Null,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// A source column's value.
    Column(String),
}

/// A canonical column with its resolved source and parsing options.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    /// Index into the table's columns.
    pub index: usize,
    /// Where the value comes from.
    pub source: Source,
    /// Date format, if the column is a date.
    pub date_format: String,
    /// Value translations.
    pub map: BTreeMap<String, String>,
}

/// A checked emit: the table and a plan for each of its columns, in table order.
#[derive(Debug, Clone)]
pub struct EmitPlan {
    /// Target table.
    pub table: Table,
    /// Condition column.
    pub when: Option<String>,
    /// Merge identical repeats.
    pub dedupe: bool,
    /// One plan per canonical column, in the table's column order.
    pub columns: Vec<ColumnPlan>,
}

impl EmitPlan {
    /// Every source column this emit reads.
    pub fn source_columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = self.when.iter().cloned().collect();
        for c in &self.columns {
            match &c.source {
                Source::Column(name) => cols.push(name.clone()),
                Source::Template(parts) => cols.extend(parts.iter().filter_map(|p| match p {
                    TemplatePart::Column(name) => Some(name.clone()),
                    TemplatePart::Text(_) => None,
                })),
                Source::Const(_) | Source::Null => {}
            }
        }
        cols.sort();
        cols.dedup();
        cols
    }
}

/// A checked mapping, ready to drive an import.
#[derive(Debug, Clone)]
pub struct CheckedMapping {
    /// The mapping as written.
    pub raw: Mapping,
    /// Where it was read from.
    pub path: PathBuf,
    /// The reporting currency.
    pub reporting_currency: Currency,
    /// The default currency, if any.
    pub default_currency: Option<Currency>,
}

impl CheckedMapping {
    /// Reads and checks a mapping file.
    pub fn load(path: &Path) -> Result<Self, MappingError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| MappingError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses and checks mapping text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, MappingError> {
        let raw: Mapping =
            toml::from_str(text).map_err(|e| MappingError::Parse { path: path.to_owned(), message: e.to_string() })?;
        let invalid = |problem: String| MappingError::Invalid { path: path.to_owned(), problem };
        let reporting_currency =
            Currency::parse(&raw.reporting_currency).map_err(|e| invalid(format!("reporting_currency: {e}")))?;
        let default_currency = raw
            .defaults
            .currency
            .as_deref()
            .map(Currency::parse)
            .transpose()
            .map_err(|e| invalid(format!("defaults.currency: {e}")))?;
        if !matches!(raw.defaults.decimal_separator, '.' | ',') {
            return Err(invalid(format!(
                "defaults.decimal_separator is `{}`; use `.` or `,`",
                raw.defaults.decimal_separator
            )));
        }
        if raw.inputs.is_empty() {
            return Err(invalid("no [[inputs]]: add one per kind of input file".to_owned()));
        }
        let checked = Self { raw, path: path.to_owned(), reporting_currency, default_currency };
        for (i, input) in checked.raw.inputs.iter().enumerate() {
            if input.emit.is_empty() {
                return Err(invalid(format!(
                    "inputs[{i}] (match `{}`) emits nothing: add [[inputs.emit]]",
                    input.pattern
                )));
            }
            for emit in &input.emit {
                checked.plan_emit(input, emit).map_err(invalid)?;
            }
        }
        Ok(checked)
    }

    /// The canonical format (docs/canonical-format.md) as a mapping: for each table, `<table>*.csv`,
    /// `<table>*.json` and `<table>*.parquet` with the canonical column names. The staged ledger itself is in this
    /// format, which is how an appending import reads it back (`ImportOptions::extend_staged`).
    pub fn canonical(reporting_currency: Currency) -> Self {
        let inputs = [Format::Csv, Format::Json, Format::Parquet]
            .into_iter()
            .flat_map(|f| Table::ALL.map(|t| canonical_input(t, f, None)))
            .collect();
        Self::built_in(reporting_currency, inputs)
    }

    /// The canonical format for one table's file that carries only the columns `present` (the others are null):
    /// how the API reads a ledger push, whose optional columns may be left out.
    pub fn canonical_subset(reporting_currency: Currency, table: Table, format: Format, present: &[String]) -> Self {
        Self::built_in(reporting_currency, vec![canonical_input(table, format, Some(present))])
    }

    fn built_in(reporting_currency: Currency, inputs: Vec<InputSpec>) -> Self {
        let raw = Mapping {
            name: "cobro-canonical".to_owned(),
            description: "canonical tables as CSV, JSON or Parquet".to_owned(),
            reporting_currency: reporting_currency.code().to_owned(),
            defaults: Defaults::default(),
            inputs,
        };
        Self { raw, path: PathBuf::from("built-in canonical mapping"), reporting_currency, default_currency: None }
    }

    /// The input spec a file name matches (the first one, in file order).
    pub fn input_for(&self, file_name: &str) -> Option<&InputSpec> {
        self.raw.inputs.iter().find(|i| glob_match(&i.pattern, file_name))
    }

    /// Resolves an emit into a plan, or says what is wrong with it.
    pub fn plan_emit(&self, input: &InputSpec, emit: &EmitSpec) -> Result<EmitPlan, String> {
        let here = format!("input `{}`, table `{}`", input.pattern, emit.table);
        let table = Table::from_name(&emit.table).ok_or_else(|| {
            format!(
                "input `{}` emits unknown table `{}`; the canonical tables are customers, documents, payments, allocations, fx_rates",
                input.pattern, emit.table
            )
        })?;
        for name in emit.columns.keys() {
            if table.column(name).is_none() {
                return Err(format!("{here}: unknown column `{name}`; the columns are {}", table.column_list()));
            }
        }
        let date_format = input.date_format.clone().unwrap_or_else(|| self.raw.defaults.date_format.clone());
        let mut columns = Vec::new();
        for (index, spec) in table.columns().iter().enumerate() {
            let (source, col_format, map) = match emit.columns.get(spec.name) {
                None => (Source::Null, None, BTreeMap::new()),
                Some(ColumnSource::Column(name)) => (Source::Column(name.clone()), None, BTreeMap::new()),
                Some(ColumnSource::Spec(s)) => {
                    let given = [s.column.is_some(), s.constant.is_some(), s.template.is_some()];
                    if given.iter().filter(|g| **g).count() != 1 {
                        return Err(format!(
                            "{here}, column `{}`: give exactly one of `column`, `const` or `template`",
                            spec.name
                        ));
                    }
                    let source = if let Some(c) = &s.column {
                        Source::Column(c.clone())
                    } else if let Some(c) = &s.constant {
                        Source::Const(c.clone())
                    } else {
                        let t = s.template.as_deref().unwrap_or_default();
                        Source::Template(parse_template(t).map_err(|e| format!("{here}, column `{}`: {e}", spec.name))?)
                    };
                    (source, s.date_format.clone(), s.map.clone())
                }
            };
            let defaults_currency = spec.name == "currency" && self.default_currency.is_some();
            if spec.required && source == Source::Null && !defaults_currency {
                return Err(format!(
                    "{here}: required column `{}` is not mapped ({}); map it to a source column, a const or a template",
                    spec.name, spec.doc
                ));
            }
            columns.push(ColumnPlan {
                index,
                source,
                date_format: col_format.unwrap_or_else(|| date_format.clone()),
                map,
            });
        }
        Ok(EmitPlan { table, when: emit.when.clone(), dedupe: emit.dedupe, columns })
    }
}

/// Splits `PAY-{invoiceNumber}` into text and column references.
fn parse_template(t: &str) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(TemplatePart::Text(rest[..open].to_owned()));
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("template `{t}` has a `{{` without its `}}`"))?;
        let name = &after[..close];
        if name.is_empty() {
            return Err(format!("template `{t}` has an empty `{{}}`; put a source column name inside"));
        }
        parts.push(TemplatePart::Column(name.to_owned()));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_owned()));
    }
    if !parts.iter().any(|p| matches!(p, TemplatePart::Column(_))) {
        return Err(format!("template `{t}` references no column; use `const` for fixed text"));
    }
    Ok(parts)
}

/// The canonical input for `table` in `format`: file `<table>*.<ext>`, each canonical column read from the
/// column of the same name (only those in `present`, when given).
fn canonical_input(table: Table, format: Format, present: Option<&[String]>) -> InputSpec {
    let ext = match format {
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Parquet => "parquet",
    };
    let columns = table
        .columns()
        .iter()
        .filter(|c| present.is_none_or(|p| p.iter().any(|h| h == c.name)))
        .map(|c| (c.name.to_owned(), ColumnSource::Column(c.name.to_owned())))
        .collect();
    InputSpec {
        pattern: format!("{}*.{ext}", table.name()),
        format,
        delimiter: default_delimiter(),
        encoding: Encoding::Utf8,
        date_format: None,
        emit: vec![EmitSpec { table: table.name().to_owned(), when: None, dedupe: false, columns }],
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
reporting_currency = "EUR"
[[inputs]]
match = "docs*.csv"
[[inputs.emit]]
table = "documents"
[inputs.emit.columns]
document_id = "id"
customer_id = "cust"
kind = { const = "invoice" }
issue_date = "issued"
due_date = "due"
currency = "cur"
amount = "amt"
"#;

    fn parse(text: &str) -> Result<CheckedMapping, MappingError> {
        CheckedMapping::parse(text, Path::new("m.toml"))
    }

    #[test]
    fn a_minimal_mapping_loads_and_matches_files_by_pattern() {
        let m = parse(MINIMAL).expect("valid mapping");
        assert!(m.input_for("docs-2024.csv").is_some());
        assert!(m.input_for("payments.csv").is_none());
    }

    #[test]
    fn an_unmapped_required_column_is_named() {
        let text = MINIMAL.replace("amount = \"amt\"\n", "");
        let err = parse(&text).expect_err("amount is required").to_string();
        assert!(err.contains("required column `amount`"), "{err}");
        assert!(err.contains("table `documents`"), "{err}");
    }

    #[test]
    fn an_unknown_canonical_column_lists_the_valid_ones() {
        let text = MINIMAL.replace("amount = \"amt\"", "amount = \"amt\"\ntotal = \"t\"");
        let err = parse(&text).expect_err("unknown column").to_string();
        assert!(err.contains("unknown column `total`") && err.contains("document_id, customer_id"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_currencies_are_refused() {
        assert!(parse(&MINIMAL.replace("name = \"t\"", "name = \"t\"\ncolour = 1")).is_err());
        let err = parse(&MINIMAL.replace("\"EUR\"", "\"EURO\"")).expect_err("bad currency").to_string();
        assert!(err.contains("reporting_currency"), "{err}");
    }

    #[test]
    fn templates_split_into_text_and_columns() {
        assert_eq!(
            parse_template("PAY-{inv}-x").ok(),
            Some(vec![
                TemplatePart::Text("PAY-".into()),
                TemplatePart::Column("inv".into()),
                TemplatePart::Text("-x".into())
            ])
        );
        assert!(parse_template("PAY-{inv").is_err());
        assert!(parse_template("PAY").is_err());
    }

    #[test]
    fn glob_matches_stars_and_question_marks() {
        assert!(glob_match("*.csv", "a.csv"));
        assert!(glob_match("documents*.csv", "documents.csv"));
        assert!(glob_match("fx_??.csv", "fx_01.csv"));
        assert!(!glob_match("*.csv", "a.json"));
    }
}

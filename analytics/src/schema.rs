//! Arrow schemas of the snapshot tables, derived from the domain's table specs.

use std::sync::Arc;

use cobro_domain::tables::{ColumnSpec, ColumnType, RATE_PRECISION, RATE_SCALE, Table, TextTable};
use cobro_domain::{MONEY_PRECISION, MONEY_SCALE};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

/// Arrow type of a canonical logical type.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Date => DataType::Date32,
        ColumnType::Money => money_type(),
        ColumnType::Rate => DataType::Decimal128(RATE_PRECISION, RATE_SCALE as i8),
        ColumnType::Int => DataType::Int32,
        ColumnType::Bool => DataType::Boolean,
    }
}

/// `Decimal128(18, 4)`, the type of every money column.
pub fn money_type() -> DataType {
    DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE as i8)
}

/// The Arrow schema of a canonical table.
pub fn table_schema(table: Table) -> SchemaRef {
    columns_schema(table.columns())
}

/// The Arrow schema of a list of column specs (the canonical tables and the collection tables).
pub fn columns_schema(columns: &[ColumnSpec]) -> SchemaRef {
    let fields: Vec<Field> = columns.iter().map(|c| Field::new(c.name, arrow_type(c.ty), !c.required)).collect();
    Arc::new(Schema::new(fields))
}

/// The schema of `rejects`: every row the import refused, with where and why.
pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, true),
        Field::new("value", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]))
}

/// Builds the Arrow batch of a text table, parsing each cell by its column's type: dates `YYYY-MM-DD`, money and
/// rates as exact decimals, whole numbers, `true`/`false`. A cell that does not parse, or an empty required
/// cell, is an error naming the table, the row and the column: nothing is silently dropped or zeroed.
pub fn text_table_batch(t: &TextTable) -> Result<RecordBatch, String> {
    use datafusion::arrow::array::{
        ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int32Builder, StringBuilder,
    };
    let schema = columns_schema(t.columns);
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(t.columns.len());
    for (i, col) in t.columns.iter().enumerate() {
        let cell = |r: usize| -> Result<Option<&str>, String> {
            let v = t.rows[r].get(i).ok_or_else(|| format!("{}: row {} has no `{}` cell", t.name, r + 1, col.name))?;
            let v = v.as_deref().filter(|s| !s.is_empty());
            if v.is_none() && col.required {
                return Err(format!("{}: row {}: `{}` is required but empty", t.name, r + 1, col.name));
            }
            Ok(v)
        };
        let bad =
            |r: usize, v: &str, what: &str| format!("{}: row {}: `{}` = `{v}` is not {what}", t.name, r + 1, col.name);
        let n = t.rows.len();
        let array: ArrayRef = match col.ty {
            ColumnType::Text => {
                let mut b = StringBuilder::new();
                for r in 0..n {
                    b.append_option(cell(r)?);
                }
                Arc::new(b.finish())
            }
            ColumnType::Date => {
                let mut b = Date32Builder::new();
                for r in 0..n {
                    match cell(r)? {
                        None => b.append_null(),
                        Some(v) => {
                            let d = v.parse::<chrono::NaiveDate>().map_err(|_| bad(r, v, "a date (YYYY-MM-DD)"))?;
                            b.append_value(
                                i32::try_from((d - epoch).num_days()).map_err(|_| bad(r, v, "a date in range"))?,
                            );
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Money | ColumnType::Rate => {
                let (p, s) = if col.ty == ColumnType::Money {
                    (MONEY_PRECISION, MONEY_SCALE)
                } else {
                    (RATE_PRECISION, RATE_SCALE)
                };
                let mut b = Decimal128Builder::new().with_precision_and_scale(p, s as i8).map_err(|e| e.to_string())?;
                for r in 0..n {
                    match cell(r)? {
                        None => b.append_null(),
                        Some(v) => {
                            let mut d =
                                v.parse::<rust_decimal::Decimal>().map_err(|_| bad(r, v, "an exact decimal"))?;
                            if d.scale() > s {
                                return Err(bad(r, v, &format!("a decimal with at most {s} places")));
                            }
                            d.rescale(s);
                            let m = d.mantissa();
                            if m.unsigned_abs() >= 10u128.pow(u32::from(p)) {
                                return Err(bad(r, v, "within the column's range"));
                            }
                            b.append_value(m);
                        }
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Int => {
                let mut b = Int32Builder::new();
                for r in 0..n {
                    match cell(r)? {
                        None => b.append_null(),
                        Some(v) => b.append_value(v.parse::<i32>().map_err(|_| bad(r, v, "a whole number"))?),
                    }
                }
                Arc::new(b.finish())
            }
            ColumnType::Bool => {
                let mut b = BooleanBuilder::new();
                for r in 0..n {
                    match cell(r)? {
                        None => b.append_null(),
                        Some("true" | "1") => b.append_value(true),
                        Some("false" | "0") => b.append_value(false),
                        Some(v) => return Err(bad(r, v, "true or false")),
                    }
                }
                Arc::new(b.finish())
            }
        };
        arrays.push(array);
    }
    RecordBatch::try_new(schema, arrays).map_err(|e| format!("{}: {e}", t.name))
}

#[cfg(test)]
mod tests {
    use cobro_domain::tables::{PROMISES, TextTable};

    #[test]
    fn text_cells_parse_by_type_and_bad_cells_are_named() {
        let row = |amount: &str| {
            ["P-1", "INV-1", "C1", "", "2024-05-01", "2024-05-10", "3", "EUR", amount, "pending", ""]
                .iter()
                .map(|s| Some((*s).to_owned()))
                .collect::<Vec<_>>()
        };
        let t = TextTable { name: "promises", columns: PROMISES, rows: vec![row("100.5")] };
        let b = super::text_table_batch(&t).unwrap();
        assert_eq!(b.num_rows(), 1);
        assert!(b.column(3).is_null(0), "an empty optional cell is null");
        let t = TextTable { name: "promises", columns: PROMISES, rows: vec![row("1O0")] };
        assert_eq!(
            super::text_table_batch(&t).unwrap_err(),
            "promises: row 1: `amount` = `1O0` is not an exact decimal"
        );
    }
}

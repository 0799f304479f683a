//! Arrow schemas of the snapshot tables, derived from the domain's table specs.

use std::sync::Arc;

use cobro_domain::tables::{ColumnSpec, ColumnType, RATE_PRECISION, RATE_SCALE, Table};
use cobro_domain::{MONEY_PRECISION, MONEY_SCALE};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

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

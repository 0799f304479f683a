//! Reading typed values out of query results without panicking on an unexpected Arrow type (DataFusion may
//! hand back `Utf8View` for text, or widen a decimal).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int64Type};

use crate::error::QueryError;

fn cast_err(what: &str, e: impl std::fmt::Display) -> QueryError {
    QueryError::Plan { message: format!("result column is not {what}: {e}") }
}

/// A column as UTF-8 strings.
pub fn strings(col: &ArrayRef) -> Result<StringArray, QueryError> {
    let c = cast(col, &DataType::Utf8).map_err(|e| cast_err("text", e))?;
    Ok(c.as_string::<i32>().clone())
}

/// A column as `Decimal128(38, scale)`.
pub fn decimals(col: &ArrayRef, scale: i8) -> Result<Decimal128Array, QueryError> {
    let c = cast(col, &DataType::Decimal128(38, scale)).map_err(|e| cast_err("a decimal", e))?;
    c.as_primitive_opt::<Decimal128Type>().cloned().ok_or_else(|| cast_err("a decimal", "cast failed"))
}

/// A column as `Int64`.
pub fn ints(col: &ArrayRef) -> Result<Int64Array, QueryError> {
    let c = cast(col, &DataType::Int64).map_err(|e| cast_err("an integer", e))?;
    c.as_primitive_opt::<Int64Type>().cloned().ok_or_else(|| cast_err("an integer", "cast failed"))
}

/// Whether a value is null.
pub fn is_null(a: &dyn Array, i: usize) -> bool {
    a.is_null(i)
}

//! SQL functions cobro adds to DataFusion.
//!
//! `round_half_even(x, places)`: exact banker's rounding of a decimal. Money conversions and interest round
//! half-even to the currency's minor unit (docs/metrics.md); DataFusion's `round` rounds half away from zero,
//! and on decimals it would also go through floating point in some versions. The result keeps `x`'s type.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

/// The `round_half_even` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RoundHalfEven {
    signature: Signature,
}

impl RoundHalfEven {
    /// As a UDF to register.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(Self { signature: Signature::any(2, Volatility::Immutable) })
    }
}

/// Rounds an unscaled decimal at `scale` to `places` decimals, half to even; the result keeps `scale`.
pub fn round_half_even_unscaled(v: i128, scale: i8, places: i64) -> i128 {
    let drop = i64::from(scale) - places;
    if drop <= 0 {
        return v;
    }
    let Some(d) = 10_i128.checked_pow(u32::try_from(drop).unwrap_or(u32::MAX)) else {
        return 0;
    };
    let (q, r) = (v / d, v % d);
    let twice = r.abs() * 2;
    let away = twice > d || (twice == d && q % 2 != 0);
    let q = if away { q + v.signum() } else { q };
    q * d
}

impl ScalarUDFImpl for RoundHalfEven {
    fn name(&self) -> &str {
        "round_half_even"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(t @ DataType::Decimal128(_, _)) => Ok(t.clone()),
            Some(other) => {
                plan_err!("round_half_even takes a DECIMAL, got {other}; CAST it to DECIMAL first")
            }
            None => plan_err!("round_half_even(x, places) takes two arguments"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let places = match args.args.get(1) {
            Some(ColumnarValue::Scalar(s)) => match s.clone().cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(p)) => p,
                _ => return exec_err!("round_half_even: places must be a whole number"),
            },
            _ => return exec_err!("round_half_even: places must be a constant"),
        };
        let Some(x) = args.args.first() else {
            return exec_err!("round_half_even(x, places) takes two arguments");
        };
        let array = x.to_array(args.number_rows)?;
        let DataType::Decimal128(precision, scale) = *array.data_type() else {
            return exec_err!("round_half_even takes a DECIMAL");
        };
        let input = array.as_primitive::<Decimal128Type>();
        let out: Decimal128Array = input.unary(|v| round_half_even_unscaled(v, scale, places));
        let out = out.with_precision_and_scale(precision, scale)?;
        let out: Arc<dyn Array> = Arc::new(out);
        Ok(match x {
            ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?),
            ColumnarValue::Array(_) => ColumnarValue::Array(out),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::round_half_even_unscaled as r;

    #[test]
    fn ties_go_to_the_even_neighbour_and_the_rest_to_the_nearest() {
        // 1127.805 → 1127.80; 3145.925 → 3145.92; 1127.815 → 1127.82 (scale 3 → 2 places)
        assert_eq!(r(1_127_805, 3, 2), 1_127_800);
        assert_eq!(r(3_145_925, 3, 2), 3_145_920);
        assert_eq!(r(1_127_815, 3, 2), 1_127_820);
        assert_eq!(r(1_127_806, 3, 2), 1_127_810);
        assert_eq!(r(-1_127_805, 3, 2), -1_127_800);
        assert_eq!(r(-1_127_815, 3, 2), -1_127_820);
        assert_eq!(r(12_345, 2, 2), 12_345);
    }
}

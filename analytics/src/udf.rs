//! SQL functions cobro adds to DataFusion.
//!
//! - `round_half_even(x, places)`: exact banker's rounding of a decimal. Money conversions and interest round
//!   half-even to the currency's minor unit (docs/metrics.md); DataFusion's `round` rounds half away from zero,
//!   and on decimals it would also go through floating point in some versions. The result keeps `x`'s type.
//! - `month_index(date)`: year × 12 + month − 1, a dense integer per calendar month, so that month ranges can be
//!   generated with `range` and joined on equality.
//! - `countback_dso(ar, sales, days)`: countback DSO of `ar` over the monthly `sales` and `days` lists (oldest
//!   first, ending with the month of `ar`), by [`cobro_domain::metrics::countback_dso`]. The walk is a loop with
//!   state; as a function over the running lists it needs no self-join of the months (a self-join would make
//!   DataFusion compute the whole monthly series twice).
//! - `business_days(start, end)`: the business days d with start < d ≤ end (negative when end < start) in the
//!   session's company calendar: the workflow configuration's weekend and holidays when the CLI opens a snapshot,
//!   Monday to Friday without holidays otherwise (docs/metrics.md).

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use cobro_domain::BusinessCalendar;
use datafusion::arrow::array::{Array, AsArray, Decimal128Array, Int32Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type};
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

/// Days from 0001-01-01 (CE day 1) to 1970-01-01, to turn Arrow's `Date32` into a `NaiveDate`.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

fn date32(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_CE_DAYS)?)
}

/// `year × 12 + month − 1` of a `Date32` value.
pub fn month_index_of(days: i32) -> Option<i64> {
    date32(days).map(|d| i64::from(d.year()) * 12 + i64::from(d.month0()))
}

/// Monday-to-Friday days d with `start < d ≤ end`, as `Date32` day numbers; negative when `end < start`.
pub fn business_days_between(start: i32, end: i32) -> i32 {
    if end < start {
        return -business_days_between(end, start);
    }
    // 1970-01-01 was a Thursday: weekday index (Monday = 0) of day n is (n + 3) mod 7.
    let weekdays_through = |n: i32| -> i32 {
        // Weekdays among days ..= n, counted from an origin Monday far enough back to keep everything positive.
        let shifted = i64::from(n) + 3 + 7 * 400_000;
        let (weeks, rest) = (shifted.div_euclid(7), shifted.rem_euclid(7));
        i32::try_from(weeks * 5 + rest.min(4) + 1).unwrap_or(i32::MAX)
    };
    weekdays_through(end) - weekdays_through(start)
}

/// The `month_index` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MonthIndex {
    signature: Signature,
}

impl MonthIndex {
    /// As a UDF to register.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(Self { signature: Signature::exact(vec![DataType::Date32], Volatility::Immutable) })
    }
}

impl ScalarUDFImpl for MonthIndex {
    fn name(&self) -> &str {
        "month_index"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(x) = args.args.first() else {
            return exec_err!("month_index(date) takes one argument");
        };
        let array = x.to_array(args.number_rows)?;
        let dates = array.as_primitive::<Date32Type>();
        let out: Int64Array = dates.iter().map(|d| d.and_then(month_index_of)).collect();
        scalar_or_array(x, Arc::new(out))
    }
}

/// The `business_days` function, in a company calendar.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BusinessDays {
    signature: Signature,
    /// `None` for Monday to Friday without holidays (counted in constant time).
    calendar: Option<BusinessCalendar>,
}

impl BusinessDays {
    /// As a UDF to register, counting in `calendar` (Monday to Friday with no holidays by default).
    pub fn udf(calendar: &BusinessCalendar) -> ScalarUDF {
        ScalarUDF::from(Self::new(calendar))
    }

    fn new(calendar: &BusinessCalendar) -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Date32, DataType::Date32], Volatility::Immutable),
            calendar: (*calendar != BusinessCalendar::default()).then(|| calendar.clone()),
        }
    }

    fn count(&self, start: i32, end: i32) -> Option<i32> {
        match &self.calendar {
            None => Some(business_days_between(start, end)),
            Some(cal) => i32::try_from(cal.business_days_between(date32(start)?, date32(end)?)).ok(),
        }
    }
}

impl ScalarUDFImpl for BusinessDays {
    fn name(&self) -> &str {
        "business_days"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [start, end] = args.args.as_slice() else {
            return exec_err!("business_days(start, end) takes two dates");
        };
        let (a, b) = (start.to_array(args.number_rows)?, end.to_array(args.number_rows)?);
        let (a, b) = (a.as_primitive::<Date32Type>(), b.as_primitive::<Date32Type>());
        let out: Int32Array = a
            .iter()
            .zip(b.iter())
            .map(|(s, e)| match (s, e) {
                (Some(s), Some(e)) => self.count(s, e),
                _ => None,
            })
            .collect();
        let scalar = matches!((start, end), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
        let out: Arc<dyn Array> = Arc::new(out);
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// The `countback_dso` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CountbackDso {
    signature: Signature,
}

impl CountbackDso {
    /// As a UDF to register.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(Self { signature: Signature::any(3, Volatility::Immutable) })
    }
}

fn decimal_at(array: &dyn Array, i: usize) -> Option<rust_decimal::Decimal> {
    let DataType::Decimal128(_, scale) = *array.data_type() else {
        return None;
    };
    let values = array.as_primitive_opt::<Decimal128Type>()?;
    if values.is_null(i) {
        return None;
    }
    Some(rust_decimal::Decimal::from_i128_with_scale(values.value(i), u32::try_from(scale).ok()?))
}

impl ScalarUDFImpl for CountbackDso {
    fn name(&self) -> &str {
        "countback_dso"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Decimal128(_, _), DataType::List(s), DataType::List(d)]
                if matches!(s.data_type(), DataType::Decimal128(_, _)) && d.data_type().is_integer() =>
            {
                Ok(DataType::Float64)
            }
            other => plan_err!("countback_dso(ar DECIMAL, sales LIST<DECIMAL>, days LIST<INT>), got {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [ar, sales, days] = args.args.as_slice() else {
            return exec_err!("countback_dso(ar, sales, days) takes three arguments");
        };
        let n = args.number_rows;
        let (ar, sales, days) = (ar.to_array(n)?, sales.to_array(n)?, days.to_array(n)?);
        let (sales, days) = (sales.as_list::<i32>(), days.as_list::<i32>());
        let mut out = datafusion::arrow::array::Float64Builder::with_capacity(n);
        for i in 0..n {
            let Some(ar) = decimal_at(ar.as_ref(), i) else {
                out.append_null();
                continue;
            };
            if sales.is_null(i) || days.is_null(i) {
                out.append_null();
                continue;
            }
            let (s, d) = (sales.value(i), days.value(i));
            let d = datafusion::arrow::compute::cast(&d, &DataType::Int64)?;
            let d = d.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let mut history = Vec::with_capacity(s.len());
            for j in 0..s.len().min(d.len()) {
                let Some(month_sales) = decimal_at(s.as_ref(), j) else {
                    return exec_err!("countback_dso: a month has no sales figure");
                };
                let month_days = u32::try_from(d.value(j)).unwrap_or(0);
                history.push(cobro_domain::metrics::MonthSales { sales: month_sales, days: month_days });
            }
            out.append_value(cobro_domain::metrics::countback_dso(ar, &history).days);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

fn scalar_or_array(input: &ColumnarValue, out: Arc<dyn Array>) -> Result<ColumnarValue> {
    Ok(match input {
        ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?),
        ColumnarValue::Array(_) => ColumnarValue::Array(out),
    })
}

#[cfg(test)]
mod tests {
    use super::round_half_even_unscaled as r;
    use super::{business_days_between, month_index_of};

    fn day(y: i32, m: u32, d: u32) -> i32 {
        let date = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("valid test date");
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        i32::try_from((date - epoch).num_days()).expect("fits")
    }

    #[test]
    fn month_index_is_dense_across_year_ends() {
        assert_eq!(month_index_of(day(2024, 1, 1)), Some(2024 * 12));
        assert_eq!(month_index_of(day(2023, 12, 31)), Some(2024 * 12 - 1));
        assert_eq!(month_index_of(day(2024, 2, 29)), Some(2024 * 12 + 1));
        assert_eq!(month_index_of(day(1969, 12, 31)), Some(1969 * 12 + 11));
    }

    #[test]
    fn business_days_count_weekdays_after_the_start_up_to_the_end() {
        // 2024-11-01 is a Friday. Friday → Monday is one business day; Friday → Saturday none.
        assert_eq!(business_days_between(day(2024, 11, 1), day(2024, 11, 4)), 1);
        assert_eq!(business_days_between(day(2024, 11, 1), day(2024, 11, 2)), 0);
        assert_eq!(business_days_between(day(2024, 11, 1), day(2024, 11, 1)), 0);
        // Monday 2024-11-04 → Monday 2024-11-18: two full weeks, 10 business days.
        assert_eq!(business_days_between(day(2024, 11, 4), day(2024, 11, 18)), 10);
        // Saturday → Sunday: 0; Saturday → Monday: 1; Wednesday → next Tuesday: 4.
        assert_eq!(business_days_between(day(2024, 11, 2), day(2024, 11, 3)), 0);
        assert_eq!(business_days_between(day(2024, 11, 2), day(2024, 11, 4)), 1);
        assert_eq!(business_days_between(day(2024, 11, 6), day(2024, 11, 12)), 4);
        assert_eq!(business_days_between(day(2024, 11, 12), day(2024, 11, 6)), -4);
        // Across 1970-01-01 (a Thursday): Wednesday 1969-12-31 → Monday 1970-01-05 = Thu, Fri, Mon.
        assert_eq!(business_days_between(day(1969, 12, 31), day(1970, 1, 5)), 3);
    }

    #[test]
    fn business_days_count_in_the_company_calendar_when_it_has_holidays() {
        use cobro_domain::BusinessCalendar;
        let plain = super::BusinessDays::new(&BusinessCalendar::default());
        let mut cal = BusinessCalendar::default();
        cal.holidays.insert(chrono::NaiveDate::from_ymd_opt(2024, 12, 6).unwrap());
        let spanish = super::BusinessDays::new(&cal);
        let count = |u: &super::BusinessDays, a, b| u.count(a, b);
        // Monday 2024-12-02 → Monday 2024-12-16: 10 weekdays, 9 with Friday 12-06 a holiday.
        assert_eq!(count(&plain, day(2024, 12, 2), day(2024, 12, 16)), Some(10));
        assert_eq!(count(&spanish, day(2024, 12, 2), day(2024, 12, 16)), Some(9));
        assert_eq!(count(&spanish, day(2024, 12, 16), day(2024, 12, 2)), Some(-9));
    }

    #[test]
    fn business_days_agree_with_a_day_by_day_count() {
        use chrono::Datelike;
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        for start in day(2023, 12, 20)..day(2024, 1, 20) {
            for end in start..start + 40 {
                let brute = (start + 1..=end)
                    .filter(|n| {
                        (epoch + chrono::Days::new(u64::try_from(*n).expect("after epoch")))
                            .weekday()
                            .number_from_monday()
                            <= 5
                    })
                    .count();
                assert_eq!(business_days_between(start, end), i32::try_from(brute).expect("small"), "{start}..{end}");
            }
        }
    }

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

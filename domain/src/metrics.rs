//! The DSO family, CEI and late-payment interest as plain functions over exact money: the reference the metric SQL
//! (`analytics/sql/ar_monthly.sql`) is checked against, month by month, on generated ledgers, and the home of the
//! published worked examples (DESIGN §4). docs/metrics.md states every definition.
//!
//! Money is [`Decimal`]; the ratios (days, percentages) are `f64` and unrounded.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// One calendar month of history: its credit sales and its number of days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonthSales {
    /// Credit sales S(m): invoices and debit notes issued in the month.
    pub sales: Decimal,
    /// d(m), days in the month (or days elapsed, for a month-to-date row).
    pub days: u32,
}

fn ratio(num: Decimal, den: Decimal) -> Option<f64> {
    Some(num.to_f64()? / den.to_f64()?)
}

/// Standard DSO over the given months: AR / Σ S × Σ d. `None` when there are fewer than `n` months, or Σ S = 0.
/// `months` are the last `n` months, any order.
pub fn standard_dso(ar: Decimal, months: &[MonthSales], n: usize) -> Option<f64> {
    if n == 0 || months.len() < n {
        return None;
    }
    let window = &months[months.len() - n..];
    let sales: Decimal = window.iter().map(|m| m.sales).sum();
    let days: u32 = window.iter().map(|m| m.days).sum();
    if sales <= Decimal::ZERO {
        return None;
    }
    Some(ratio(ar, sales)? * f64::from(days))
}

/// The result of a countback walk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Countback {
    /// Days of sales that add up to AR.
    pub days: f64,
    /// AR was larger than all the sales on record: the walk ran out of history.
    pub history_exhausted: bool,
}

/// Countback DSO. `history` runs oldest first and ends with the month of the AR figure. Walk back from the last
/// month: if what is left of AR is ≤ 0, stop; if it covers the month's sales, take the whole month; otherwise take
/// the covered fraction of the month and stop. A zero-sales month adds its full days. If the oldest month is
/// consumed and AR is still left, the history is exhausted and the days counted so far are returned.
pub fn countback_dso(ar: Decimal, history: &[MonthSales]) -> Countback {
    let mut rem = ar;
    let mut days = 0.0;
    for month in history.iter().rev() {
        if rem <= Decimal::ZERO {
            return Countback { days, history_exhausted: false };
        }
        if rem >= month.sales {
            rem -= month.sales;
            days += f64::from(month.days);
        } else {
            days += ratio(rem, month.sales).unwrap_or(0.0) * f64::from(month.days);
            return Countback { days, history_exhausted: false };
        }
    }
    Countback { days, history_exhausted: rem > Decimal::ZERO }
}

/// Collection effectiveness index, in percent: (BR + S − ETR) / (BR + S − ECR) × 100 with BR = AR at the start of
/// the month, S = the month's credit sales, ETR = AR at its end, ECR = current AR at its end. `None` when the
/// denominator is ≤ 0 (nothing was collectible).
pub fn cei(begin: Decimal, sales: Decimal, end: Decimal, end_current: Decimal) -> Option<f64> {
    let den = begin + sales - end_current;
    if den <= Decimal::ZERO {
        return None;
    }
    Some(ratio(begin + sales - end, den)? * 100.0)
}

/// Day-count basis of late-payment interest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayCount {
    /// Actual days / 365 (the default).
    Act365,
    /// Actual days / 360.
    Act360,
}

/// Late-payment interest = balance × annual rate × days late / basis, rounded half-even to `minor_units` decimals.
/// `annual_rate` is a fraction (0.08 for 8 %).
pub fn late_interest(
    balance: Decimal,
    annual_rate: Decimal,
    days_late: u32,
    basis: DayCount,
    minor_units: u32,
) -> Decimal {
    let year = match basis {
        DayCount::Act365 => Decimal::from(365),
        DayCount::Act360 => Decimal::from(360),
    };
    (balance * annual_rate * Decimal::from(days_late) / year)
        .round_dp_with_strategy(minor_units, rust_decimal::RoundingStrategy::MidpointNearestEven)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().expect("test decimal")
    }

    fn months(sales: &[&str], days: u32) -> Vec<MonthSales> {
        sales.iter().map(|s| MonthSales { sales: d(s), days }).collect()
    }

    fn r2(x: f64) -> f64 {
        (x * 100.0).round() / 100.0
    }

    #[test]
    fn published_countback_example_is_73_71_days() {
        // AR 212,000; sales 70,000 (M−2), 80,000 (M−1), 100,000 (M); 30-day months:
        // 30 + 30 + 32,000 / 70,000 × 30 = 73.714…
        let cb = countback_dso(d("212000"), &months(&["70000", "80000", "100000"], 30));
        assert_eq!(r2(cb.days), 73.71);
        assert!(!cb.history_exhausted);
        // Walking the other way round would give 78.60: the order matters.
        let wrong = countback_dso(d("212000"), &months(&["100000", "80000", "70000"], 30));
        assert_eq!(r2(wrong.days), 78.60);
    }

    #[test]
    fn published_standard_dso_example_is_30_42_days() {
        // AR 150,000; credit sales 1,800,000 over 365 days: 150,000 / 1,800,000 × 365 = 30.4166…
        let year = [MonthSales { sales: d("1800000"), days: 365 }];
        assert_eq!(standard_dso(d("150000"), &year, 1).map(r2), Some(30.42));
    }

    #[test]
    fn standard_dso_is_undefined_without_enough_history_or_sales() {
        let two = months(&["100", "100"], 30);
        assert_eq!(standard_dso(d("50"), &two, 3), None);
        assert_eq!(standard_dso(d("50"), &months(&["0", "0", "0"], 30), 3), None);
        assert_eq!(standard_dso(d("60"), &months(&["999", "100", "50", "30"], 30), 3).map(r2), Some(30.0));
    }

    #[test]
    fn countback_takes_zero_sales_months_whole_and_flags_exhausted_history() {
        // Zero-sales month M adds its 31 days, then 40 of M−1's 80 → 31 + 15 = 46.
        let h = [MonthSales { sales: d("80"), days: 30 }, MonthSales { sales: d("0"), days: 31 }];
        assert_eq!(countback_dso(d("40"), &h).days, 46.0);
        // AR above all sales on record: every month counted, flag set.
        let cb = countback_dso(d("200"), &h);
        assert_eq!((cb.days, cb.history_exhausted), (61.0, true));
        // AR exactly equal to all sales: every month counted, flag not set.
        let cb = countback_dso(d("80"), &h);
        assert_eq!((cb.days, cb.history_exhausted), (61.0, false));
        assert_eq!(countback_dso(Decimal::ZERO, &h).days, 0.0);
    }

    #[test]
    fn cei_is_null_when_nothing_was_collectible() {
        // The metrics fixture, 2024-12: BR 15,876.36, S 7,849.00, ETR 17,964.88, ECR 7,896.80 → 36.39 %.
        assert_eq!(cei(d("15876.36"), d("7849.00"), d("17964.88"), d("7896.80")).map(r2), Some(36.39));
        assert_eq!(cei(d("0"), d("0"), d("0"), d("0")), None);
    }

    #[test]
    fn late_interest_follows_the_day_count() {
        // 1,000 at 8 % for 30 days: 6.575… → 6.58 (ACT/365) and 6.666… → 6.67 (ACT/360).
        assert_eq!(late_interest(d("1000"), d("0.08"), 30, DayCount::Act365, 2), d("6.58"));
        assert_eq!(late_interest(d("1000"), d("0.08"), 30, DayCount::Act360, 2), d("6.67"));
        // A tie goes to the even cent: 0.125 → 0.12.
        assert_eq!(late_interest(d("365"), d("0.125"), 1, DayCount::Act365, 2), d("0.12"));
    }
}

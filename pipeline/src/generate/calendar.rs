//! Days as integer offsets from the start date, their `YYYY-MM-DD` text, and how many invoices each day gets.

use chrono::{Datelike, Days, NaiveDate};

/// Formats day offsets from a base date. Days inside the precomputed range are a table lookup (the hot
/// path); anything outside falls back to chrono.
pub(crate) struct DateTable {
    base: NaiveDate,
    text: Vec<[u8; 10]>,
}

impl DateTable {
    /// Precomputes the text of `len` days from `base`.
    pub(crate) fn new(base: NaiveDate, len: u32) -> Self {
        let text = base
            .iter_days()
            .take(len as usize)
            .map(|d| {
                let mut out = [0u8; 10];
                let s = d.format("%Y-%m-%d").to_string();
                out.copy_from_slice(&s.as_bytes()[..10]);
                out
            })
            .collect();
        Self { base, text }
    }

    /// The date of a day offset, if it is representable.
    pub(crate) fn date(&self, day: i32) -> Option<NaiveDate> {
        if day >= 0 {
            self.base.checked_add_days(Days::new(u64::from(day.unsigned_abs())))
        } else {
            self.base.checked_sub_days(Days::new(u64::from(day.unsigned_abs())))
        }
    }

    /// Appends the `YYYY-MM-DD` text of a day offset to `out`.
    #[inline]
    pub(crate) fn push(&self, day: i32, out: &mut Vec<u8>) {
        match usize::try_from(day).ok().and_then(|i| self.text.get(i)) {
            Some(t) => out.extend_from_slice(t),
            None => {
                if let Some(d) = self.date(day) {
                    out.extend_from_slice(d.format("%Y-%m-%d").to_string().as_bytes());
                }
            }
        }
    }
}

/// Day of week of an offset, 0 = Monday … 6 = Sunday.
#[inline]
pub(crate) fn weekday(start_weekday: u32, day: i32) -> u32 {
    (i64::from(start_weekday) + i64::from(day)).rem_euclid(7) as u32
}

/// Relative invoicing volume by weekday (Monday first): business days bill, weekends barely.
pub(crate) const WEEKDAY_WEIGHT: [f64; 7] = [1.10, 1.05, 1.00, 1.00, 0.95, 0.12, 0.03];

/// Relative invoicing volume by calendar month (January first): an August and a December dip.
pub(crate) const MONTH_WEIGHT: [f64; 12] = [0.95, 1.00, 1.05, 1.00, 1.05, 1.00, 0.95, 0.80, 1.05, 1.05, 1.05, 0.85];

/// Yearly volume growth: month `m` of the period weighs `(1 + GROWTH)^(m / 12)`.
pub(crate) const YEARLY_GROWTH: f64 = 0.10;

/// Splits `total` invoices over `days` days from `start`, proportional to weekday × month × growth weights.
///
/// Day `d` gets `round(total · W(≤d) / W) − round(total · W(<d) / W)` invoices, so the counts add up to
/// `total` exactly and the split depends only on the configuration.
pub(crate) fn daily_counts(start: NaiveDate, days: u32, total: u64) -> Vec<u64> {
    let start_weekday = start.weekday().num_days_from_monday();
    let weights: Vec<f64> = start
        .iter_days()
        .take(days as usize)
        .enumerate()
        .map(|(i, d)| {
            let months_in = (d.year() - start.year()) * 12 + d.month() as i32 - start.month() as i32;
            let growth = (1.0 + YEARLY_GROWTH).powf(f64::from(months_in) / 12.0);
            let wd = weekday(start_weekday, i as i32) as usize;
            WEEKDAY_WEIGHT[wd] * MONTH_WEIGHT[d.month0() as usize] * growth
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    let mut counts = Vec::with_capacity(weights.len());
    let mut cum_weight = 0.0;
    let mut cum_count = 0u64;
    for (i, w) in weights.iter().enumerate() {
        cum_weight += w;
        let target = if i + 1 == weights.len() { total } else { ((total as f64) * cum_weight / sum).round() as u64 };
        let target = target.clamp(cum_count, total);
        counts.push(target - cum_count);
        cum_count = target;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_counts_add_up_and_favour_weekdays() {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
        let counts = daily_counts(start, 731, 100_000);
        assert_eq!(counts.iter().sum::<u64>(), 100_000);
        // 2024-01-01 is a Monday, 2024-01-07 a Sunday.
        assert!(counts[0] > 10 * counts[6]);
        let first_year: u64 = counts[..366].iter().sum();
        assert!(first_year < 100_000 - first_year, "volume grows");
    }

    #[test]
    fn date_table_formats_inside_and_outside_its_range() {
        let start = NaiveDate::from_ymd_opt(2024, 2, 28).unwrap_or_default();
        let table = DateTable::new(start, 3);
        let mut out = Vec::new();
        for d in [-1, 0, 1, 2, 3] {
            table.push(d, &mut out);
            out.push(b' ');
        }
        assert_eq!(String::from_utf8_lossy(&out), "2024-02-27 2024-02-28 2024-02-29 2024-03-01 2024-03-02 ");
    }
}

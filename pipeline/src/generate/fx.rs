//! fx_rates.csv: a daily rate to EUR for every day of the period, for EUR (always 1), GBP and USD.

use super::GenerateError;
use super::calendar::{DateTable, weekday};
use super::sampling::Stream;
use super::sink::CsvSink;

/// (currency, long-run rate to EUR, daily log-volatility) of the non-reporting currencies, in file order.
const WALKS: [(&[u8], f64, f64); 2] = [(b"GBP", 1.17, 0.0035), (b"USD", 0.92, 0.0045)];
/// Daily pull of the log rate back towards its long-run level (mean reversion).
const REVERSION: f64 = 0.01;

/// Writes `days` days of rates from day 0: a mean-reverting random walk on the log rate that moves on
/// business days and holds over weekends, rounded to 6 decimals. EUR rows carry 1.000000 so a plain join
/// on (date, currency) always finds a rate.
pub(crate) fn write_fx(
    seed: u64,
    days: u32,
    start_weekday: u32,
    dates: &DateTable,
    out: &mut CsvSink<'_>,
) -> Result<(), GenerateError> {
    let mut s = Stream::new(seed, "fx");
    let mut log_rates = WALKS.map(|(_, level, _)| level.ln());
    for day in 0..days as i32 {
        if day > 0 && weekday(start_weekday, day) < 5 {
            for (x, (_, level, vol)) in log_rates.iter_mut().zip(WALKS) {
                *x += REVERSION * (level.ln() - *x) + vol * s.normal();
            }
        }
        out.date(dates, day);
        out.raw(b",EUR,1.000000");
        out.end_row()?;
        for (x, (code, _, _)) in log_rates.iter().zip(WALKS) {
            out.date(dates, day);
            out.sep();
            out.raw(code);
            out.sep();
            out.fixed((x.exp() * 1e6).round() as u64, 6);
            out.end_row()?;
        }
    }
    Ok(())
}

//! Typed parsing of one text field: dates, exact decimals, booleans and integers, with messages that say what
//! was expected.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Days from 0001-01-01 (CE) to 1970-01-01, to store dates as Arrow `Date32` (days since the Unix epoch).
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// A date as Arrow `Date32`.
pub fn date32(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// The inverse of [`date32`].
pub fn from_date32(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_FROM_CE)
}

/// Parses a date with a chrono format. The ISO format takes a fast path.
pub fn parse_date(text: &str, format: &str) -> Result<NaiveDate, String> {
    let parsed = if format == "%Y-%m-%d" { parse_iso_date(text) } else { None };
    parsed
        .or_else(|| NaiveDate::parse_from_str(text, format).ok())
        .ok_or_else(|| format!("`{text}` is not a date in the format `{format}` ({})", describe_format(format)))
}

/// `YYYY-MM-DD` without going through chrono's format machinery.
fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &[u8]| s.iter().try_fold(0_u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')));
    let y = i32::try_from(num(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(y, num(&b[5..7])?, num(&b[8..10])?)
}

/// An example for a date format, for messages.
fn describe_format(format: &str) -> String {
    NaiveDate::from_ymd_opt(2024, 6, 30).map(|d| format!("for example {}", d.format(format))).unwrap_or_default()
}

/// Parses an exact decimal with the given separators. Accepts a leading sign and, when a thousands separator is
/// configured, groups of three digits.
pub fn parse_decimal(text: &str, decimal_sep: char, thousands_sep: Option<char>) -> Result<Decimal, String> {
    // Fast path, no allocation: plain `-123.45` with `.` as the decimal separator.
    if decimal_sep == '.'
        && thousands_sep.is_none()
        && is_plain_decimal(text)
        && let Ok(d) = Decimal::from_str_exact(text)
    {
        return Ok(d);
    }
    let bad = |why: &str| {
        let sep = match thousands_sep {
            Some(t) => format!("decimal separator `{decimal_sep}`, thousands separator `{t}`"),
            None => format!("decimal separator `{decimal_sep}`, no thousands separator"),
        };
        format!("`{text}` is not a decimal number ({why}; this mapping expects {sep}, e.g. 1234{decimal_sep}56)")
    };
    let mut normal = String::with_capacity(text.len());
    let mut seen_decimal = false;
    for (i, c) in text.chars().enumerate() {
        if c == decimal_sep {
            if seen_decimal {
                return Err(bad("two decimal separators"));
            }
            seen_decimal = true;
            normal.push('.');
        } else if Some(c) == thousands_sep && !seen_decimal {
            continue;
        } else if c.is_ascii_digit() || ((c == '-' || c == '+') && i == 0) {
            normal.push(c);
        } else {
            return Err(bad(&format!("unexpected character `{c}`")));
        }
    }
    if !normal.bytes().any(|b| b.is_ascii_digit()) {
        return Err(bad("no digits"));
    }
    normal.parse::<Decimal>().map_err(|_| bad("too many digits"))
}

/// Digits with at most one `.` and an optional leading sign.
fn is_plain_decimal(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut dots = 0;
    !digits.is_empty()
        && digits.bytes().all(|b| {
            dots += usize::from(b == b'.');
            b.is_ascii_digit() || b == b'.'
        })
        && dots <= 1
        && digits.bytes().any(|b| b.is_ascii_digit())
}

/// Parses a boolean against the configured true and false texts.
pub fn parse_bool(text: &str, true_values: &[String], false_values: &[String]) -> Result<bool, String> {
    if true_values.iter().any(|t| t.eq_ignore_ascii_case(text)) {
        Ok(true)
    } else if false_values.iter().any(|f| f.eq_ignore_ascii_case(text)) {
        Ok(false)
    } else {
        Err(format!(
            "`{text}` is not a yes/no value (true: {}; false: {}); add it to true_values or false_values in the mapping",
            true_values.join(", "),
            false_values.join(", ")
        ))
    }
}

/// Parses a whole number.
pub fn parse_int(text: &str) -> Result<i32, String> {
    text.parse::<i32>().map_err(|_| format!("`{text}` is not a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_in_the_mapping_format_and_errors_show_an_example() {
        let d = parse_date("1/2/2013", "%m/%d/%Y").expect("US date");
        assert_eq!(d.to_string(), "2013-01-02");
        assert_eq!(parse_date("2024-02-29", "%Y-%m-%d").map(|d| d.to_string()), Ok("2024-02-29".into()));
        let err = parse_date("2023-02-29", "%Y-%m-%d").expect_err("no leap day in 2023");
        assert!(err.contains("for example 2024-06-30"), "{err}");
        assert!(parse_date("13/31/2013", "%m/%d/%Y").is_err());
    }

    #[test]
    fn date32_counts_days_from_the_unix_epoch() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 2).expect("date");
        assert_eq!(date32(epoch), 1);
        assert_eq!(from_date32(1), Some(epoch));
    }

    #[test]
    fn decimals_respect_the_configured_separators() {
        assert_eq!(parse_decimal("1234.56", '.', None), Ok(Decimal::new(123456, 2)));
        assert_eq!(parse_decimal("1.234,56", ',', Some('.')), Ok(Decimal::new(123456, 2)));
        assert_eq!(parse_decimal("-5", '.', None), Ok(Decimal::new(-5, 0)));
        let err = parse_decimal("12,50", '.', None).expect_err("comma is not the separator");
        assert!(err.contains("unexpected character `,`"), "{err}");
        assert!(parse_decimal("1.2.3", '.', None).is_err());
        assert!(parse_decimal("abc", '.', None).is_err());
        assert!(parse_decimal("-", '.', None).is_err());
    }

    #[test]
    fn booleans_use_the_configured_words() {
        let t = vec!["Yes".to_owned()];
        let f = vec!["No".to_owned()];
        assert_eq!(parse_bool("yes", &t, &f), Ok(true));
        assert_eq!(parse_bool("NO", &t, &f), Ok(false));
        assert!(parse_bool("maybe", &t, &f).is_err());
    }
}

//! The as-of date every metric, snapshot and plan is computed at.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A calendar date at whose end-of-day figures are computed (DESIGN §2.1: a document is open at the end of D).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AsOf(NaiveDate);

/// Why a string is not an as-of date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a date in YYYY-MM-DD form (for example 2024-06-30)")]
pub struct AsOfError {
    /// The text that was given.
    pub value: String,
}

impl AsOf {
    /// Wraps a date.
    pub fn new(date: NaiveDate) -> Self {
        Self(date)
    }

    /// Parses `YYYY-MM-DD`, strictly (no time, no other separators).
    pub fn parse(raw: &str) -> Result<Self, AsOfError> {
        let err = || AsOfError { value: raw.to_owned() };
        if raw.len() != 10 {
            return Err(err());
        }
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").map(Self).map_err(|_| err())
    }

    /// The date.
    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The last day of the as-of date's month.
    pub fn month_end(self) -> NaiveDate {
        month_end(self.0)
    }
}

/// The last day of `date`'s month.
pub fn month_end(date: NaiveDate) -> NaiveDate {
    let (y, m) = if date.month() == 12 { (date.year() + 1, 1) } else { (date.year(), date.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).and_then(|first| first.pred_opt()).unwrap_or(NaiveDate::MAX)
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for AsOf {
    type Err = AsOfError;
    fn from_str(s: &str) -> Result<Self, AsOfError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AsOf {
    type Error = AsOfError;
    fn try_from(s: String) -> Result<Self, AsOfError> {
        Self::parse(&s)
    }
}

impl From<AsOf> for String {
    fn from(a: AsOf) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_parses_iso_dates_only() {
        assert_eq!(AsOf::parse("2024-06-30").map(|a| a.to_string()), Ok("2024-06-30".to_owned()));
        assert!(AsOf::parse("2024-6-30").is_err());
        assert!(AsOf::parse("30/06/2024").is_err());
        assert!(AsOf::parse("2024-02-30").is_err());
    }

    #[test]
    fn month_end_handles_february_and_december() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert_eq!(month_end(d("2024-02-10")), d("2024-02-29"));
        assert_eq!(month_end(d("2023-02-01")), d("2023-02-28"));
        assert_eq!(month_end(d("2024-12-31")), d("2024-12-31"));
    }
}

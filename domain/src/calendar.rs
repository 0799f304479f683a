//! Business-day calendars: which weekdays are the weekend, and which dates are public holidays. Dispute deadlines,
//! response targets, reminders and "call back the next business day" all count in the company's calendar.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A company's working calendar.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessCalendar {
    /// Days of the week nobody works (by default Saturday and Sunday).
    #[serde(default = "default_weekend", with = "weekday_names")]
    pub weekend: Vec<Weekday>,
    /// Public holidays.
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
}

fn default_weekend() -> Vec<Weekday> {
    vec![Weekday::Sat, Weekday::Sun]
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        Self { weekend: default_weekend(), holidays: BTreeSet::new() }
    }
}

impl BusinessCalendar {
    /// Whether `d` is a working day.
    pub fn is_business_day(&self, d: NaiveDate) -> bool {
        !self.weekend.contains(&d.weekday()) && !self.holidays.contains(&d)
    }

    /// The date `n` business days after `start` (`n` = 0 gives `start` itself; negative `n` counts back).
    /// Every weekday being a weekend is refused when the calendar is loaded, so this always ends.
    pub fn add_business_days(&self, start: NaiveDate, n: i64) -> NaiveDate {
        let mut d = start;
        let mut left = n.unsigned_abs();
        while left > 0 {
            d = if n > 0 { d + Days::new(1) } else { d - Days::new(1) };
            if self.is_business_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// The first business day strictly after `d`.
    pub fn next_business_day(&self, d: NaiveDate) -> NaiveDate {
        self.add_business_days(d, 1)
    }

    /// Business days d with `start` < d ≤ `end` (negative when `end` is before `start`).
    pub fn business_days_between(&self, start: NaiveDate, end: NaiveDate) -> i64 {
        if end < start {
            return -self.business_days_between(end, start);
        }
        start.iter_days().skip(1).take_while(|d| *d <= end).filter(|d| self.is_business_day(*d)).count() as i64
    }

    /// Refuses a calendar with no working day in the week.
    pub fn validate(&self) -> Result<(), String> {
        let mut days: Vec<u32> = self.weekend.iter().map(Weekday::num_days_from_monday).collect();
        days.sort_unstable();
        days.dedup();
        if days.len() == 7 {
            return Err("the weekend covers every day of the week: there would be no business day".into());
        }
        Ok(())
    }
}

/// Weekdays as lower-case three-letter names in TOML (`["sat", "sun"]`).
mod weekday_names {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(days.iter().map(|d| d.to_string().to_lowercase()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names
            .iter()
            .map(|n| {
                n.parse::<Weekday>().map_err(|_| {
                    D::Error::custom(format!("`{n}` is not a weekday (use mon, tue, wed, thu, fri, sat, sun)"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn counts_skip_weekends_and_holidays() {
        let mut cal = BusinessCalendar::default();
        // 2024-12-20 is a Friday; + 1 business day is Monday 12-23.
        assert_eq!(cal.next_business_day(d("2024-12-20")), d("2024-12-23"));
        cal.holidays.insert(d("2024-12-25"));
        // Mon 12-23 + 3 business days: Tue 24, (Wed 25 holiday), Thu 26, Fri 27.
        assert_eq!(cal.add_business_days(d("2024-12-23"), 3), d("2024-12-27"));
        assert_eq!(cal.business_days_between(d("2024-12-23"), d("2024-12-27")), 3);
        assert_eq!(cal.business_days_between(d("2024-12-27"), d("2024-12-23")), -3);
        assert_eq!(cal.add_business_days(d("2024-12-27"), -3), d("2024-12-23"));
        assert_eq!(cal.add_business_days(d("2024-12-21"), 0), d("2024-12-21"));
    }

    #[test]
    fn a_week_without_working_days_is_refused() {
        let cal = BusinessCalendar {
            weekend: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
            holidays: BTreeSet::new(),
        };
        assert!(cal.validate().is_err());
        assert!(BusinessCalendar::default().validate().is_ok());
    }
}

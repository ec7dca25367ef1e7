//! Calendar dates for numbering periods: a plain proleptic Gregorian `Date`, read from a
//! document's own date (a BSON datetime, shifted to the business's UTC offset, or an ISO
//! `YYYY-MM-DD` string), and the fiscal year it falls in.

use std::fmt;

use bson::Bson;

use crate::error::{Error, Result};

/// A calendar date (no time, no zone): the day a document belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

const MS_PER_DAY: i64 = 86_400_000;

impl Date {
    /// A date, checked: `Date::new(2025, 4, 1)` is 1 April 2025.
    ///
    /// ```
    /// # use dupkey_atomic::Date;
    /// assert!(Date::new(2024, 2, 29).is_ok());
    /// assert!(Date::new(2025, 2, 29).is_err());
    /// ```
    pub fn new(year: i32, month: u32, day: u32) -> Result<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month as u8).into() {
            return Err(Error::InvalidDate(format!(
                "{year:04}-{month:02}-{day:02} does not exist"
            )));
        }
        Ok(Date {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    /// The UTC calendar day of a BSON datetime.
    pub fn from_datetime(dt: bson::DateTime) -> Date {
        Self::from_datetime_with_offset(dt, 0)
    }

    /// The calendar day of a BSON datetime at a fixed UTC offset in minutes (`330` for India,
    /// `-300` for New York in winter). An invoice stamped 31 March 20:00 UTC belongs to
    /// 1 April in India, and so to the next fiscal year there.
    pub fn from_datetime_with_offset(dt: bson::DateTime, offset_minutes: i32) -> Date {
        let ms = dt.timestamp_millis() + i64::from(offset_minutes) * 60_000;
        Self::from_days(ms.div_euclid(MS_PER_DAY))
    }

    /// Today in UTC, from the clock. Prefer the document's own date: a back-dated document
    /// must be numbered in its own period.
    pub fn today_utc() -> Date {
        Self::from_datetime(bson::DateTime::now())
    }

    /// Reads a date out of a BSON value: a datetime (shifted by `offset_minutes`), or a
    /// string starting with `YYYY-MM-DD`.
    pub fn from_bson(value: &Bson, offset_minutes: i32) -> Result<Date> {
        match value {
            Bson::DateTime(dt) => Ok(Self::from_datetime_with_offset(*dt, offset_minutes)),
            Bson::String(s) => Self::parse_iso(s),
            other => Err(Error::InvalidDate(format!(
                "expected a date or a \"YYYY-MM-DD\" string, found {other}"
            ))),
        }
    }

    /// Parses the `YYYY-MM-DD` at the start of `s` (an ISO date or datetime).
    pub fn parse_iso(s: &str) -> Result<Date> {
        let bad = || Error::InvalidDate(format!("{s:?} does not start with YYYY-MM-DD"));
        let b = s.as_bytes();
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32> {
            let part = s.get(r).ok_or_else(bad)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let year = num(0..4)?;
        Date::new(year as i32, num(5..7)?, num(8..10)?)
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn month(&self) -> u32 {
        self.month.into()
    }

    pub fn day(&self) -> u32 {
        self.day.into()
    }

    /// The year the fiscal year containing this date starts in, for a fiscal year starting on
    /// the first of `start_month`: with April, 2025-04-01 and 2026-03-31 both give 2025.
    pub fn fiscal_year_start(&self, start_month: u32) -> i32 {
        if start_month <= 1 || u32::from(self.month) >= start_month {
            self.year
        } else {
            self.year - 1
        }
    }

    /// Day number since 1970-01-01 to civil date (days-to-civil over 400-year eras).
    fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: year as i32,
            month,
            day,
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(ms: i64) -> bson::DateTime {
        bson::DateTime::from_millis(ms)
    }

    #[test]
    fn epoch_and_known_days() {
        assert_eq!(Date::from_datetime(dt(0)).to_string(), "1970-01-01");
        assert_eq!(Date::from_datetime(dt(-1)).to_string(), "1969-12-31");
        // 2025-04-01T00:00:00Z
        assert_eq!(
            Date::from_datetime(dt(1_743_465_600_000)).to_string(),
            "2025-04-01"
        );
        // 2000-02-29T12:00:00Z
        assert_eq!(
            Date::from_datetime(dt(951_825_600_000)).to_string(),
            "2000-02-29"
        );
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let mut d = Date::new(1900, 1, 1).unwrap_or_else(|e| panic!("{e}"));
        let first = -25_567; // 1900-01-01
        for n in first..first + 146_097 {
            let got = Date::from_days(n);
            assert_eq!(got, d, "day {n}");
            // advance
            d = if u32::from(d.day) < days_in_month(d.year, d.month).into() {
                Date {
                    day: d.day + 1,
                    ..d
                }
            } else if d.month < 12 {
                Date {
                    month: d.month + 1,
                    day: 1,
                    ..d
                }
            } else {
                Date {
                    year: d.year + 1,
                    month: 1,
                    day: 1,
                }
            };
        }
    }

    #[test]
    fn offsets_move_the_day() {
        // 2026-03-31T20:00:00Z is already 1 April in India (UTC+5:30).
        let t = dt(1_774_987_200_000);
        assert_eq!(Date::from_datetime(t).to_string(), "2026-03-31");
        assert_eq!(
            Date::from_datetime_with_offset(t, 330).to_string(),
            "2026-04-01"
        );
    }

    #[test]
    fn fiscal_years() {
        let d = |y, m, dd| Date::new(y, m, dd).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d(2025, 4, 1).fiscal_year_start(4), 2025);
        assert_eq!(d(2026, 3, 31).fiscal_year_start(4), 2025);
        assert_eq!(d(2025, 3, 31).fiscal_year_start(4), 2024);
        assert_eq!(d(2025, 1, 1).fiscal_year_start(1), 2025);
        assert_eq!(d(2025, 6, 30).fiscal_year_start(7), 2024);
        assert_eq!(d(2025, 7, 1).fiscal_year_start(7), 2025);
    }

    #[test]
    fn parsing() {
        assert_eq!(
            Date::parse_iso("2025-04-01T10:00:00Z")
                .map(|d| d.to_string())
                .ok(),
            Some("2025-04-01".to_string())
        );
        assert!(Date::parse_iso("2025-4-1").is_err());
        assert!(Date::parse_iso("2025-13-01").is_err());
        assert!(Date::from_bson(&Bson::Int32(3), 0).is_err());
    }
}

//! Errors over time, for a log's report: counts per minute of the timestamps as the log wrote
//! them, made coarser (hours, then days) when a log spans too many minutes, so memory stays
//! bounded however long the log.

use std::collections::BTreeMap;

/// How many buckets a timeline keeps before it makes them coarser.
pub const MAX_BUCKETS: usize = 2_000;

/// The width of a timeline's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Unit {
    #[default]
    Minute,
    Hour,
    Day,
}

impl Unit {
    /// Characters of `YYYY-MM-DD HH:MM` a bucket's label keeps.
    fn width(self) -> usize {
        match self {
            Unit::Minute => 16,
            Unit::Hour => 13,
            Unit::Day => 10,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
        }
    }
}

/// Counts per bucket, labelled `YYYY-MM-DD HH:MM` (minutes), `YYYY-MM-DD HH` (hours) or
/// `YYYY-MM-DD` (days), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    unit: Unit,
    buckets: BTreeMap<String, u64>,
    /// Sightings whose timestamp gives no calendar date and time (`May  1 12:00:00`).
    pub undated: u64,
}

impl Timeline {
    /// Counts one sighting at `timestamp`, as the log wrote it.
    pub fn add(&mut self, timestamp: &str) {
        let Some(minute) = minute_of(timestamp) else {
            self.undated += 1;
            return;
        };
        let label = minute[..self.unit.width()].to_string();
        *self.buckets.entry(label).or_insert(0) += 1;
        while self.buckets.len() > MAX_BUCKETS && self.unit < Unit::Day {
            self.coarsen();
        }
    }

    fn coarsen(&mut self) {
        self.unit = match self.unit {
            Unit::Minute => Unit::Hour,
            _ => Unit::Day,
        };
        let width = self.unit.width();
        let mut coarse = BTreeMap::new();
        for (label, n) in std::mem::take(&mut self.buckets) {
            *coarse.entry(label[..width].to_string()).or_insert(0) += n;
        }
        self.buckets = coarse;
    }

    pub fn unit(&self) -> Unit {
        self.unit
    }

    /// The buckets in time order: label and count.
    pub fn buckets(&self) -> impl Iterator<Item = (&str, u64)> {
        self.buckets.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// `YYYY-MM-DD HH:MM` of a timestamp that starts with an ISO 8601 date and time (`T` or a
/// space between them), else `None`.
fn minute_of(timestamp: &str) -> Option<String> {
    let b = timestamp.trim().as_bytes();
    if b.len() < 16 {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    let shape = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16);
    if !shape {
        return None;
    }
    let text = std::str::from_utf8(&b[..16]).ok()?;
    Some(format!("{} {}", &text[..10], &text[11..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_minute_whatever_the_separator() {
        let mut t = Timeline::default();
        for ts in [
            "2024-05-01T10:00:59.999Z",
            "2024-05-01 10:00:01,123",
            "2024-05-01T10:01:00+00:00",
            "May  1 10:00:00",
        ] {
            t.add(ts);
        }
        let buckets: Vec<(&str, u64)> = t.buckets().collect();
        assert_eq!(buckets, [("2024-05-01 10:00", 2), ("2024-05-01 10:01", 1)]);
        assert_eq!(t.undated, 1);
        assert_eq!(t.unit(), Unit::Minute);
    }

    #[test]
    fn a_long_log_is_counted_in_coarser_buckets() {
        let mut t = Timeline::default();
        // three days, one sighting every minute: 4,320 minutes, 72 hours
        for day in 1..=3 {
            for hour in 0..24 {
                for minute in 0..60 {
                    t.add(&format!("2024-05-0{day}T{hour:02}:{minute:02}:00Z"));
                }
            }
        }
        assert_eq!(t.unit(), Unit::Hour);
        assert_eq!(t.buckets().count(), 72);
        assert!(t.buckets().all(|(_, n)| n == 60));
        assert_eq!(t.buckets().next(), Some(("2024-05-01 00", 60)));
    }
}

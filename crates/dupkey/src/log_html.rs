//! `dupkey explain --log --format html`: a log's duplicate-key errors as one page: errors over
//! time per index (the spike after a deploy is what a reader looks for), the top indexes and
//! keys, then a card per index with its first and last sighting, its diagnosis and its fix.

use std::fmt::Write as _;

use dupkey_e11000::timeline::Unit;
use dupkey_e11000::{LiveFacts, LogGroup, LogReport, diagnose, shell_value};

use crate::html::{
    Bar, bar_chart, chart, escape, fix_block, page, table, thousands, tiles, time_bars,
};

/// At most this many bars in a chart over time; longer ranges take wider buckets.
const MAX_BARS: i64 = 120;
/// Bucket widths, in minutes, a chart over time may take.
const STEPS: [i64; 14] = [
    1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 10_080, 43_200,
];
/// Indexes charted over time one by one; the rest are summed.
const CHARTED_GROUPS: usize = 6;

pub fn log_page(
    source: &str,
    report: &LogReport,
    facts: &[Option<LiveFacts>],
    notes: &[String],
) -> String {
    let mut body = tiles(&[
        (
            thousands(report.errors),
            if report.errors == 1 {
                "duplicate-key error"
            } else {
                "duplicate-key errors"
            },
        ),
        (
            thousands(report.groups.len() as u64),
            if report.groups.len() == 1 {
                "index"
            } else {
                "indexes"
            },
        ),
        (
            thousands(report.lines),
            if report.lines == 1 {
                "line read"
            } else {
                "lines read"
            },
        ),
    ]);
    if report.errors == 0 {
        body.push_str("<p class=\"clean\" id=\"clean\">No duplicate-key errors in this log.</p>");
    }
    let mut order: Vec<usize> = (0..report.groups.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(report.groups[i].count));
    body.push_str(&over_time(report, &order));
    body.push_str(&top_charts(report, &order));
    if !order.is_empty() {
        body.push_str("<h2>Each index</h2>");
    }
    for &i in &order {
        body.push_str(&group_card(
            i,
            &report.groups[i],
            facts.get(i).and_then(Option::as_ref),
        ));
    }
    if !notes.is_empty() {
        body.push_str("<h2>Notes</h2><ul class=\"note\">");
        for n in notes {
            let _ = write!(body, "<li>{}</li>", escape(n));
        }
        body.push_str("</ul>");
    }
    let subtitle = format!(
        "{source}: {} duplicate-key {} on {} {}",
        thousands(report.errors),
        if report.errors == 1 {
            "error"
        } else {
            "errors"
        },
        report.groups.len(),
        if report.groups.len() == 1 {
            "index"
        } else {
            "indexes"
        }
    );
    page("dupkey explain --log", &subtitle, &body)
}

fn group_name(g: &LogGroup) -> String {
    let ns = match (&g.database, &g.collection) {
        (Some(d), Some(c)) => format!("{d}.{c}"),
        (None, Some(c)) => c.clone(),
        _ => "(namespace not in the message)".into(),
    };
    format!(
        "{ns} {}",
        g.index.as_deref().unwrap_or("(index not in the message)")
    )
}

/// Minutes since 1970 of a bucket label (`YYYY-MM-DD`, `YYYY-MM-DD HH`, `YYYY-MM-DD HH:MM`).
fn label_minutes(label: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| label.get(r).and_then(|t| t.parse::<i64>().ok());
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let hour = num(11..13).unwrap_or(0);
    let minute = num(14..16).unwrap_or(0);
    Some(days_from_civil(y, m, d) * 1440 + hour * 60 + minute)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The label of a minute count, as wide as `unit` shows.
fn minutes_label(minutes: i64, unit: Unit) -> String {
    let days = minutes.div_euclid(1440);
    let rest = minutes.rem_euclid(1440);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    match unit {
        Unit::Day => format!("{y:04}-{m:02}-{d:02}"),
        Unit::Hour => format!("{y:04}-{m:02}-{d:02} {:02}:00", rest / 60),
        Unit::Minute => format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", rest / 60, rest % 60),
    }
}

fn unit_minutes(unit: Unit) -> i64 {
    match unit {
        Unit::Minute => 1,
        Unit::Hour => 60,
        Unit::Day => 1440,
    }
}

/// Every group's sightings on one time axis: the coarsest unit any group needed, the whole
/// range with empty buckets filled, at most [`MAX_BARS`] bars.
struct Axis {
    start: i64,
    step: i64,
    bars: usize,
    unit: Unit,
}

impl Axis {
    fn of(groups: &[&LogGroup]) -> Option<Axis> {
        let unit = groups.iter().map(|g| g.timeline.unit()).max()?;
        let width = unit_minutes(unit);
        let mut range: Option<(i64, i64)> = None;
        for g in groups {
            for (label, _) in g.timeline.buckets() {
                let Some(m) = label_minutes(label) else {
                    continue;
                };
                let m = m - m.rem_euclid(width);
                range = Some(range.map_or((m, m), |(a, b)| (a.min(m), b.max(m))));
            }
        }
        let (start, end) = range?;
        let span = end - start + width;
        let step = STEPS
            .into_iter()
            .find(|&s| s >= width && (span + s - 1) / s <= MAX_BARS)
            .unwrap_or_else(|| ((span + MAX_BARS - 1) / MAX_BARS).max(width));
        let start = start - start.rem_euclid(step);
        let unit = match step {
            s if s % 1440 == 0 => Unit::Day,
            s if s % 60 == 0 => Unit::Hour,
            _ => Unit::Minute,
        };
        Some(Axis {
            start,
            step,
            bars: usize::try_from((end - start) / step + 1).unwrap_or(1),
            unit,
        })
    }

    fn series(&self, groups: &[&LogGroup]) -> Vec<(String, u64)> {
        let mut counts = vec![0u64; self.bars];
        for g in groups {
            for (label, n) in g.timeline.buckets() {
                let Some(m) = label_minutes(label) else {
                    continue;
                };
                let i = usize::try_from((m - self.start).div_euclid(self.step)).unwrap_or(0);
                if let Some(c) = counts.get_mut(i.min(self.bars - 1)) {
                    *c += n;
                }
            }
        }
        counts
            .into_iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    minutes_label(self.start + self.step * i as i64, self.unit),
                    n,
                )
            })
            .collect()
    }
}

fn over_time(report: &LogReport, order: &[usize]) -> String {
    let all: Vec<&LogGroup> = order.iter().map(|&i| &report.groups[i]).collect();
    let Some(axis) = Axis::of(&all) else {
        return String::new();
    };
    let bucket = match (axis.step, axis.unit) {
        (1, _) => "minute".to_string(),
        (60, _) => "hour".to_string(),
        (1440, _) => "day".to_string(),
        (s, _) if s % 1440 == 0 => format!("{} days", s / 1440),
        (s, _) if s % 60 == 0 => format!("{} hours", s / 60),
        (s, _) => format!("{s} minutes"),
    };
    let mut out = String::from("<h2>Over time</h2>");
    out.push_str(&chart(
        "chart-over-time",
        "Every index",
        &format!("Duplicate-key errors per {bucket}, from the log's own timestamps (as written)."),
        &time_bars(&axis.series(&all)),
    ));
    for (n, g) in all.iter().take(CHARTED_GROUPS).enumerate() {
        if g.timeline.is_empty() {
            continue;
        }
        out.push_str(&chart(
            &format!("chart-over-time-{n}"),
            &group_name(g),
            &format!("{} errors, per {bucket}.", thousands(g.count)),
            &time_bars(&axis.series(&[g])),
        ));
    }
    if all.len() > CHARTED_GROUPS {
        let rest = &all[CHARTED_GROUPS..];
        let total: u64 = rest.iter().map(|g| g.count).sum();
        out.push_str(&chart(
            "chart-over-time-rest",
            &format!("The other {} indexes", rest.len()),
            &format!("{} errors, per {bucket}.", thousands(total)),
            &time_bars(&axis.series(rest)),
        ));
    }
    out
}

fn top_charts(report: &LogReport, order: &[usize]) -> String {
    if order.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2>Top indexes and keys</h2>");
    let bars: Vec<Bar> = order
        .iter()
        .take(15)
        .map(|&i| {
            let g = &report.groups[i];
            Bar {
                label: group_name(g),
                value: g.count as f64,
                value_text: format!("{} ({} keys)", thousands(g.count), g.distinct_keys),
                reference: None,
                alert: false,
            }
        })
        .collect();
    out.push_str(&chart(
        "chart-top-indexes",
        "Errors per index",
        "The indexes that refused the most writes.",
        &bar_chart(&bars, None, None),
    ));
    let mut keys: Vec<(u64, String)> = report
        .groups
        .iter()
        .flat_map(|g| {
            g.entries.iter().map(move |e| {
                let key = e.error.key.as_ref().map_or_else(
                    || "(key not in the message)".to_string(),
                    |k| {
                        k.iter()
                            .map(|(n, v)| format!("{n}: {}", shell_value(v)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                );
                (
                    e.count,
                    format!("{} {{ {key} }}", g.index.as_deref().unwrap_or("?")),
                )
            })
        })
        .collect();
    keys.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let bars: Vec<Bar> = keys
        .into_iter()
        .take(10)
        .map(|(n, label)| Bar {
            label,
            value: n as f64,
            value_text: thousands(n),
            reference: None,
            alert: false,
        })
        .collect();
    out.push_str(&chart(
        "chart-top-keys",
        "The most frequent keys",
        "The keys refused most often, with their index.",
        &bar_chart(&bars, None, None),
    ));
    out
}

fn group_card(i: usize, g: &LogGroup, facts: Option<&LiveFacts>) -> String {
    let Some(first) = g.entries.first() else {
        return String::new();
    };
    let d = diagnose(&first.error, facts);
    let seen = match (&g.first_seen, &g.last_seen) {
        (Some(a), Some(b)) if a != b => format!("first {a}, last {b}"),
        (Some(a), _) => format!("at {a}"),
        _ => "no timestamps".into(),
    };
    let confirmed = if d.confirmed {
        " · confirmed on the live database"
    } else {
        ""
    };
    let mut out = format!(
        "<article class=\"card error\" id=\"group-{i}\" data-group>\
         <h3><span class=\"badge error\">{cause}</span><span class=\"code\">{name}</span></h3>\
         <div class=\"where\">{count} errors · {keys} distinct keys · {seen}{confirmed}</div>\
         <p>{summary}</p>",
        cause = escape(d.cause.as_str()),
        name = escape(&group_name(g)),
        count = thousands(g.count),
        keys = g.distinct_keys,
        seen = escape(&seen),
        summary = escape(&d.summary),
    );
    for (n, fix) in d.fixes.iter().enumerate() {
        let (prose, commands) = fix.split_once('\n').unwrap_or((fix, ""));
        let _ = write!(out, "<p><b>Fix {}.</b> {}</p>", n + 1, escape(prose));
        if !commands.is_empty() {
            out.push_str(&fix_block(commands));
        }
    }
    let mut top: Vec<_> = g.entries.iter().collect();
    top.sort_by_key(|e| std::cmp::Reverse(e.count));
    let rows: Vec<Vec<String>> = top
        .iter()
        .take(10)
        .map(|e| {
            let key = e.error.key.as_ref().map_or_else(String::new, |k| {
                k.iter()
                    .map(|(n, v)| format!("{n}: {}", shell_value(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            vec![
                format!("{{ {key} }}"),
                thousands(e.count),
                e.first_seen.clone().unwrap_or_default(),
                e.first_line.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &format!("keys-{i}"),
        &["key", "errors", "first seen", "first line"],
        &rows,
    ));
    out.push_str("</article>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_minutes_round_trip() {
        for label in [
            "1970-01-01 00:00",
            "2024-02-29 23:59",
            "2025-03-01 00:01",
            "1999-12-31 12:30",
        ] {
            let m = label_minutes(label).unwrap();
            assert_eq!(minutes_label(m, Unit::Minute), label);
        }
        assert_eq!(label_minutes("1970-01-02").unwrap(), 1440);
        assert_eq!(minutes_label(90, Unit::Hour), "1970-01-01 01:00");
    }
}

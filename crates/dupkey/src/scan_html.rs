//! `dupkey scan --format html`: the scan's report as one page, a summary per database and
//! severity, charts of what the scan measured, then a card per finding with its fix.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dupkey_scan::overview::Overview;
use dupkey_scan::{Finding, Report, Severity};

use crate::html::{Bar, bar_chart, chart, escape, fix_block, page, table, thousands, tiles};

pub fn scan_page(source: &str, r: &Report, skipped: &[String], invalid: u64) -> String {
    let errors = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = r.findings.len() - errors;
    let mut body = String::new();
    body.push_str(&tiles(&[
        (
            thousands(r.collections as u64),
            &plural(r.collections, "collection"),
        ),
        (thousands(r.documents), &plural_u64(r.documents, "document")),
        (errors.to_string(), &plural(errors, "error")),
        (warnings.to_string(), &plural(warnings, "warning")),
        (r.suppressed.len().to_string(), "accepted in dupkey.toml"),
    ]));
    body.push_str("<h2>By database</h2>");
    body.push_str(&databases(r));
    body.push_str(&charts(&r.overview));
    body.push_str("<h2>Findings</h2>");
    if r.findings.is_empty() {
        body.push_str("<p class=\"clean\" id=\"clean\">Clean: no duplicate-key hazards found.</p>");
    }
    for (i, f) in r.findings.iter().enumerate() {
        body.push_str(&card(i, f));
    }
    let notes: Vec<String> = r
        .notes
        .iter()
        .chain(skipped)
        .cloned()
        .chain(r.unused_allows.iter().map(|a| {
            format!(
                "the [[allow]] {} in dupkey.toml matched no finding; remove it",
                a.describe()
            )
        }))
        .chain((invalid > 0).then(|| {
            format!(
                "{invalid} {} skipped (--skip-invalid)",
                plural_u64(invalid, "invalid record")
            )
        }))
        .collect();
    if !notes.is_empty() {
        body.push_str("<h2>Notes</h2><ul class=\"note\">");
        for n in notes {
            let _ = write!(body, "<li>{}</li>", escape(&n));
        }
        body.push_str("</ul>");
    }
    let subtitle = format!(
        "{source}: {errors} {}, {warnings} {} in {} {}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        r.collections,
        plural(r.collections, "collection")
    );
    page("dupkey scan", &subtitle, &body)
}

fn plural(n: usize, one: &str) -> String {
    plural_u64(n as u64, one)
}

fn plural_u64(n: u64, one: &str) -> String {
    if n == 1 {
        one.to_string()
    } else {
        format!("{one}s")
    }
}

/// Findings per database and severity.
fn databases(r: &Report) -> String {
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for f in &r.findings {
        let db = f.namespace.split('.').next().unwrap_or_default();
        let entry = per.entry(db).or_default();
        match f.severity {
            Severity::Error => entry.0 += 1,
            Severity::Warning => entry.1 += 1,
        }
    }
    if per.is_empty() {
        return "<p class=\"clean\">No findings in any database.</p>".into();
    }
    let rows: Vec<Vec<String>> = per
        .into_iter()
        .map(|(db, (e, w))| vec![db.to_string(), e.to_string(), w.to_string()])
        .collect();
    table("databases", &["database", "errors", "warnings"], &rows)
}

fn charts(o: &Overview) -> String {
    let mut out = String::new();
    let nulls: Vec<Bar> = o
        .unique_indexes
        .iter()
        .map(|s| {
            let share = if s.indexed == 0 {
                0.0
            } else {
                s.null_key as f64 / s.indexed as f64
            };
            Bar {
                label: format!("{} {}", s.namespace, s.index),
                value: share * 100.0,
                value_text: format!(
                    "{:.1}% ({} of {})",
                    share * 100.0,
                    thousands(s.null_key),
                    thousands(s.indexed)
                ),
                reference: None,
                alert: s.null_key > 0,
            }
        })
        .collect();
    if !nulls.is_empty() || !o.counters.is_empty() || !o.groups.is_empty() {
        out.push_str("<h2>Charts</h2>");
    }
    if !nulls.is_empty() {
        out.push_str(&chart(
            "chart-null-share",
            "Documents under a null key, per unique index",
            "The share of the documents each unique index holds whose key is null or missing (red where there are any): the index admits one such document, and the next insert without the key fails.",
            &bar_chart(&nulls, Some(100.0), None),
        ));
    }
    if !o.counters.is_empty() {
        let bars: Vec<Bar> = o
            .counters
            .iter()
            .map(|c| Bar {
                label: format!(
                    "{} → {}{}",
                    c.counter,
                    c.feeds,
                    c.prefix
                        .as_ref()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default()
                ),
                value: c.value as f64,
                value_text: format!("counter {}", c.value),
                reference: Some((c.max_used as f64, format!("largest used {}", c.max_used))),
                alert: c.value < c.max_used,
            })
            .collect();
        out.push_str(&chart(
            "chart-counters",
            "Counters against the numbers already used",
            "Per counter and number prefix (fiscal period included): the counter's value and the largest number the field already holds (grey). A counter below its grey bar (drawn red) hands out numbers that are taken.",
            &bar_chart(&bars, None, Some(("counter value", "largest number used"))),
        ));
    }
    if !o.groups.is_empty() {
        let bars: Vec<Bar> = o
            .groups
            .iter()
            .map(|g| {
                let largest = g.sizes.first().copied().unwrap_or(0);
                let total: u64 = g.sizes.iter().sum();
                Bar {
                    label: format!("{} {}", g.namespace, g.place),
                    value: g.sizes.len() as f64,
                    value_text: format!(
                        "{} {} ({} documents, largest {largest})",
                        g.sizes.len(),
                        plural(g.sizes.len(), "group"),
                        thousands(total),
                    ),
                    reference: Some((
                        largest as f64,
                        format!("largest group: {largest} documents"),
                    )),
                    alert: true,
                }
            })
            .collect();
        out.push_str(&chart(
            "chart-groups",
            "Duplicate groups per index and identifier field",
            "How many groups of documents share a key under each index, or a value in each identifier-like field, and the size of the largest group (grey).",
            &bar_chart(&bars, None, Some(("groups", "largest group"))),
        ));
    }
    out
}

fn card(i: usize, f: &Finding) -> String {
    let severity = f.severity.as_str();
    let mut place = Vec::new();
    place.push(format!("namespace {}", f.namespace));
    if let Some(ix) = &f.index {
        place.push(format!("index {ix}"));
    }
    if let Some(field) = &f.field {
        place.push(format!("field {field}"));
    }
    let mut out = format!(
        "<article class=\"card {severity}\" id=\"finding-{i}\" data-finding data-code=\"{code}\">\
         <h3><span class=\"badge {severity}\">{severity}</span><span class=\"code\">{code}</span>{name}</h3>\
         <div class=\"where\">{place}</div><p>{message}</p>",
        code = escape(f.code),
        name = escape(f.name),
        place = escape(&place.join(" · ")),
        message = escape(&f.message),
    );
    if !f.samples.is_empty() {
        let _ = write!(
            out,
            "<p class=\"samples\">count {} · sample _id: {}</p>",
            thousands(f.count),
            escape(&crate::scan::sample_ids(f))
        );
    }
    out.push_str(&fix_block(&f.fix));
    out.push_str("</article>");
    out
}

//! Self-contained HTML pages for reports people share: one file, its CSS, script and charts
//! inline (charts are SVG drawn here), nothing fetched when it is opened, readable printed.
//! The pages for `scan` and `explain --log` are built from the same parts.

use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --fg: #1d2330; --muted: #5c6577; --line: #dfe3ea; --bg: #f6f7f9; --card: #fff;
  --err: #c0342b; --warn: #b86e00; --ok: #2f7d4f; --bar: #3b6fd8; --bar2: #9aa8bf; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { background: #1d2330; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c9cfdb; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h2 { font-size: 18px; margin: 32px 0 12px; }
h3 { font-size: 15px; margin: 0 0 8px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 18px; min-width: 140px; }
.tile b { display: block; font-size: 24px; }
.tile span { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; background: var(--card); width: 100%; }
th, td { border: 1px solid var(--line); padding: 6px 10px; text-align: left; }
th { background: #eef1f5; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.chart { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 18px; margin-bottom: 16px; break-inside: avoid; }
.chart p { margin: 0 0 8px; color: var(--muted); font-size: 13px; }
.card { background: var(--card); border: 1px solid var(--line); border-left: 5px solid var(--warn);
  border-radius: 8px; padding: 14px 18px; margin-bottom: 14px; break-inside: avoid; }
.card.error { border-left-color: var(--err); }
.badge { display: inline-block; border-radius: 4px; padding: 0 7px; font-size: 12px;
  font-weight: 700; color: #fff; background: var(--warn); text-transform: uppercase; }
.badge.error { background: var(--err); }
.code { font-weight: 700; margin: 0 6px; }
.where { color: var(--muted); font-size: 13px; }
.samples { font-size: 13px; color: var(--muted); word-break: break-all; }
pre { background: #f1f3f6; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
  overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: 6px 0 0;
  font: 13px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.fix { position: relative; }
.copy { position: absolute; top: 6px; right: 6px; font-size: 12px; padding: 2px 8px;
  border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
.note { color: var(--muted); }
.clean { color: var(--ok); font-weight: 600; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg .muted { fill: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; }
@media print {
  body { background: #fff; font-size: 12px; }
  header { background: #fff; color: #000; border-bottom: 2px solid #000; padding: 8px 0; }
  header p { color: #333; }
  main { padding: 0; max-width: none; }
  .copy { display: none; }
  .card, .chart, .tile { border-color: #999; }
  pre { white-space: pre-wrap; }
}
"#;

/// Copies a fix to the clipboard; where the clipboard is refused (a page opened from disk in some
/// browsers), selects the text so Ctrl+C takes it.
const SCRIPT: &str = r#"
document.querySelectorAll('button.copy').forEach(function (button) {
  button.addEventListener('click', function () {
    var code = button.parentElement.querySelector('code');
    var done = function () { button.textContent = 'Copied'; setTimeout(function () { button.textContent = 'Copy'; }, 1500); };
    var select = function () { var r = document.createRange(); r.selectNodeContents(code);
      var s = window.getSelection(); s.removeAllRanges(); s.addRange(r); button.textContent = 'Selected'; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(code.textContent).then(done, select);
    } else { select(); }
  });
});
"#;

/// A whole page: `title` in the header, `subtitle` under it, `body` as the main content.
pub fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>{t}</h1><p>{s}</p></header>\n<main>\n{body}\n\
         <footer>Made by dupkey {v}. This page is self-contained: it loads nothing from the network.</footer>\n\
         </main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        t = escape(title),
        s = escape(subtitle),
        v = env!("CARGO_PKG_VERSION"),
    )
}

/// Summary tiles: (value, label).
pub fn tiles(items: &[(String, &str)]) -> String {
    let mut out = String::from("<div class=\"tiles\">");
    for (value, label) in items {
        let _ = write!(
            out,
            "<div class=\"tile\"><b>{}</b><span>{}</span></div>",
            escape(value),
            escape(label)
        );
    }
    out.push_str("</div>");
    out
}

/// A table; cells that parse as numbers are right-aligned.
pub fn table(id: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table id=\"{}\"><thead><tr>", escape(id));
    for h in head {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let numeric = !cell.is_empty() && cell.chars().all(|c| c.is_ascii_digit() || c == ',');
            let class = if numeric { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A fix (mongosh commands) with a copy button.
pub fn fix_block(commands: &str) -> String {
    format!(
        "<div class=\"fix\"><button class=\"copy\" type=\"button\">Copy</button><pre><code>{}</code></pre></div>",
        escape(commands)
    )
}

/// A chart in its box, with an id the browser tests look for and a line saying how to read it.
pub fn chart(id: &str, title: &str, how_to_read: &str, svg: &str) -> String {
    format!(
        "<section class=\"chart\" id=\"{}\" data-chart><h3>{}</h3><p>{}</p>{svg}</section>",
        escape(id),
        escape(title),
        escape(how_to_read)
    )
}

/// One row of a horizontal bar chart: a label and one or two values (the second drawn as a
/// thinner bar under the first, for "value against reference" charts).
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub value_text: String,
    pub reference: Option<(f64, String)>,
    /// Drawn red: the bar shows a hazard (a counter behind, documents under a null key).
    pub alert: bool,
}

const LABEL_WIDTH: f64 = 330.0;
const BAR_AREA: f64 = 420.0;

/// Horizontal bars scaled to `max` (the largest value when `None`).
pub fn bar_chart(bars: &[Bar], max: Option<f64>, legend: Option<(&str, &str)>) -> String {
    let max = max
        .unwrap_or_else(|| {
            bars.iter()
                .flat_map(|b| [b.value, b.reference.as_ref().map_or(0.0, |r| r.0)])
                .fold(0.0, f64::max)
        })
        .max(1e-9);
    let row = if bars.iter().any(|b| b.reference.is_some()) {
        34.0
    } else {
        22.0
    };
    let legend_height = if legend.is_some() { 22.0 } else { 0.0 };
    let height = legend_height + row * bars.len() as f64 + 4.0;
    let width = LABEL_WIDTH + BAR_AREA + 190.0;
    let mut svg = format!(
        "<svg role=\"img\" width=\"100%\" viewBox=\"0 0 {width} {height}\" preserveAspectRatio=\"xMinYMin meet\">"
    );
    if let Some((first, second)) = legend {
        let _ = write!(
            svg,
            "<rect x=\"{LABEL_WIDTH}\" y=\"4\" width=\"12\" height=\"10\" fill=\"#3b6fd8\"/><text x=\"{}\" y=\"13\">{}</text>\
             <rect x=\"{}\" y=\"4\" width=\"12\" height=\"10\" fill=\"#9aa8bf\"/><text x=\"{}\" y=\"13\">{}</text>",
            LABEL_WIDTH + 16.0,
            escape(first),
            LABEL_WIDTH + 200.0,
            LABEL_WIDTH + 216.0,
            escape(second)
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let y = legend_height + row * i as f64;
        let w = (b.value / max * BAR_AREA).clamp(0.0, BAR_AREA);
        let _ = write!(
            svg,
            "<g data-bar><title>{label}: {vt}</title><text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{short}</text>\
             <rect x=\"{LABEL_WIDTH}\" y=\"{y1}\" width=\"{w:.1}\" height=\"14\" fill=\"{fill}\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\">{vt}</text>",
            label = escape(&b.label),
            short = escape(&shorten(&b.label, 48)),
            vt = escape(&b.value_text),
            lx = LABEL_WIDTH - 8.0,
            ty = y + 13.0,
            y1 = y + 2.0,
            vx = LABEL_WIDTH + w + 6.0,
            fill = if b.alert { "#c0342b" } else { "#3b6fd8" },
        );
        if let Some((r, text)) = &b.reference {
            let rw = (r / max * BAR_AREA).clamp(0.0, BAR_AREA);
            let _ = write!(
                svg,
                "<rect x=\"{LABEL_WIDTH}\" y=\"{y2}\" width=\"{rw:.1}\" height=\"9\" fill=\"#9aa8bf\"/>\
                 <text class=\"muted\" x=\"{rx:.1}\" y=\"{ty2}\">{t}</text>",
                y2 = y + 18.0,
                rx = LABEL_WIDTH + rw + 6.0,
                ty2 = y + 26.0,
                t = escape(text),
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical bars over time: one bar per bucket, a label under the first, middle and last.
pub fn time_bars(buckets: &[(String, u64)]) -> String {
    let width = 860.0;
    let height = 170.0;
    let plot = 130.0;
    let n = buckets.len().max(1) as f64;
    let max = buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let step = (width - 60.0) / n;
    let mut svg = format!(
        "<svg role=\"img\" width=\"100%\" viewBox=\"0 0 {width} {height}\" preserveAspectRatio=\"xMinYMin meet\">\
         <text class=\"muted\" x=\"0\" y=\"12\">{}</text>\
         <line x1=\"50\" y1=\"{plot}\" x2=\"{width}\" y2=\"{plot}\" stroke=\"#dfe3ea\"/>",
        max as u64
    );
    for (i, (label, count)) in buckets.iter().enumerate() {
        let h = *count as f64 / max * (plot - 20.0);
        let x = 50.0 + step * i as f64;
        let _ = write!(
            svg,
            "<g data-bar><title>{l}: {count}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#3b6fd8\"/></g>",
            l = escape(label),
            y = plot - h,
            w = (step - 1.0).max(1.0),
        );
    }
    let last = buckets.len().saturating_sub(1);
    for i in [0, last / 2, last] {
        if let Some((label, _)) = buckets.get(i) {
            let x = 50.0 + step * i as f64;
            let anchor = if i == last && last > 0 {
                "end"
            } else {
                "start"
            };
            let _ = write!(
                svg,
                "<text class=\"muted\" x=\"{x:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                plot + 18.0,
                escape(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_data_cannot_become_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let block = fix_block("db.users.find({ name: \"</code><img src=x>\" })");
        assert!(!block.contains("<img"));
        let bars = bar_chart(
            &[Bar {
                label: "<b>".into(),
                value: 1.0,
                value_text: "1".into(),
                reference: None,
                alert: false,
            }],
            None,
            None,
        );
        assert!(!bars.contains("<b>"));
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn bars_scale_to_the_largest_value_and_stay_inside_the_chart() {
        let bars = [
            Bar {
                label: "a".into(),
                value: 10.0,
                value_text: "10".into(),
                reference: Some((20.0, "20".into())),
                alert: true,
            },
            Bar {
                label: "b".into(),
                value: 5.0,
                value_text: "5".into(),
                reference: None,
                alert: false,
            },
        ];
        let svg = bar_chart(&bars, None, Some(("value", "reference")));
        assert_eq!(svg.matches("data-bar").count(), 2);
        assert!(svg.contains("width=\"210.0\""), "{svg}");
        assert!(svg.contains("width=\"420.0\""), "{svg}");
        assert_eq!(svg.matches("#c0342b").count(), 1, "one bar in alert");
    }
}

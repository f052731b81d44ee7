//! Distributions of a measure as an inline SVG histogram: equal bins from the smallest value
//! to the largest, each bar stacked by the value of one field (its most frequent values,
//! the rest as "other").

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::util::text::escape_markup;

/// Colours of the groups (none is a colour of an SWC type, so that a picture of the page
/// tells thumbnails from charts).
const PALETTE: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#edc948", "#76b7b2", "#9c755f",
];
const OTHER: &str = "#bab0ac";
const BINS: usize = 20;
const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 150.0;

/// The groups of a field: its most frequent values (at most 6), in order of frequency.
pub(crate) fn top_groups<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    by_count
        .into_iter()
        .take(PALETTE.len())
        .map(|(v, _)| v.to_string())
        .collect()
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// One chart: `values` are (measure, group index or `None` for "other").
pub(crate) fn histogram(title: &str, values: &[(f64, Option<usize>)], groups: usize) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<figure class=\"histogram\"><figcaption>{}</figcaption>",
        escape_markup(title)
    );
    let lo = values.iter().map(|v| v.0).fold(f64::INFINITY, f64::min);
    let hi = values.iter().map(|v| v.0).fold(f64::NEG_INFINITY, f64::max);
    if !(lo.is_finite() && hi.is_finite()) {
        out.push_str("<p class=\"empty\">no values</p></figure>");
        return out;
    }
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    // counts[bin][group]; the last group slot is "other".
    let mut counts = vec![vec![0usize; groups + 1]; BINS];
    for &(v, g) in values {
        let bin = (((v - lo) / span) * BINS as f64).floor() as usize;
        let bin = bin.min(BINS - 1);
        if let Some(slot) = counts
            .get_mut(bin)
            .and_then(|b| b.get_mut(g.unwrap_or(groups).min(groups)))
        {
            *slot += 1;
        }
    }
    let tallest = counts
        .iter()
        .map(|b| b.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (left, bottom, top) = (34.0, HEIGHT - 18.0, 6.0);
    let bar_w = (WIDTH - left - 4.0) / BINS as f64;
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" \
         font-size=\"10\" font-family=\"sans-serif\">"
    );
    for (b, bin) in counts.iter().enumerate() {
        let x = left + b as f64 * bar_w;
        let mut y = bottom;
        for (g, &n) in bin.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let h = n as f64 / tallest as f64 * (bottom - top);
            y -= h;
            let colour = PALETTE
                .get(g)
                .filter(|_| g < groups)
                .copied()
                .unwrap_or(OTHER);
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{colour}\"><title>{n}</title></rect>",
                (bar_w - 1.0).max(0.5)
            );
        }
    }
    let _ = write!(
        out,
        "<path d=\"M{left} {top}V{bottom}H{}\" stroke=\"#444\" fill=\"none\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{tallest}</text>\
         <text x=\"{left}\" y=\"{}\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text></svg></figure>",
        WIDTH - 4.0,
        left - 3.0,
        top + 8.0,
        HEIGHT - 4.0,
        fmt(lo),
        WIDTH - 4.0,
        HEIGHT - 4.0,
        fmt(hi)
    );
    out
}

/// The legend shared by the charts.
pub(crate) fn legend(field: &str, groups: &[String], has_other: bool) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<p class=\"legend\">by <b>{}</b>: ",
        escape_markup(field)
    );
    for (g, name) in groups.iter().enumerate() {
        let colour = PALETTE.get(g).copied().unwrap_or(OTHER);
        let shown = if name.is_empty() { "(none)" } else { name };
        let _ = write!(
            out,
            "<span class=\"swatch\" style=\"background:{colour}\"></span>{} ",
            escape_markup(shown)
        );
    }
    if has_other {
        let _ = write!(
            out,
            "<span class=\"swatch\" style=\"background:{OTHER}\"></span>other"
        );
    }
    out.push_str("</p>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_add_up() {
        let values = [(1.0, Some(0)), (1.0, Some(1)), (10.0, None), (5.5, Some(0))];
        let svg = histogram("t", &values, 2);
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains(">2</text>"), "{svg}"); // the tallest bin holds 2
        assert!(histogram("t", &[], 2).contains("no values"));
        let top = top_groups(["a", "b", "b", "c", "b", "a"].into_iter());
        assert_eq!(top, ["b", "a", "c"]);
    }
}

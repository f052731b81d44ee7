//! Colours and names of SWC types: NeuroM's colours for the standard types, distinct ones for
//! the others.

/// Custom types (5 and above, negative ones) past NeuroM's orange for 5: each its own colour.
const CUSTOM: [&str; 10] = [
    "#8b4513", "#00a0a8", "#9acd32", "#ff1493", "#808080", "#daa520", "#4682b4", "#800000",
    "#2e8b57", "#c71585",
];

/// The colour of a type, as `#rrggbb`. NeuroM's `TREE_COLOR`: soma black, axon blue, basal
/// dendrite red, apical dendrite purple, undefined green, 5 orange. NeuroM draws every custom
/// type orange; here each other type gets its own colour, so that the legend can name it.
pub(crate) fn colour(kind: i32) -> String {
    match kind {
        1 => "#000000".into(),
        2 => "#0000ff".into(),
        3 => "#ff0000".into(),
        4 => "#800080".into(),
        0 => "#008000".into(),
        5 => "#ffa500".into(),
        k if k > 5 => {
            let slot = i64::from(k) - 6;
            match usize::try_from(slot).ok().and_then(|s| CUSTOM.get(s)) {
                Some(c) => (*c).to_string(),
                None => hue(slot),
            }
        }
        // Negative types (refused by MorphIO, but readable): hues of their own.
        k => hue(i64::from(k)),
    }
}

/// A saturated colour of hue `n × 137.5°` (mid lightness), distinct for nearby `n`.
fn hue(n: i64) -> String {
    let h = (n as f64 * 137.507_764).rem_euclid(360.0) / 60.0;
    let x = 1.0 - (h.rem_euclid(2.0) - 1.0).abs();
    let (r, g, b) = match h as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    // 75% of full intensity: readable on white.
    let c = |v: f64| (v * 191.0).round() as u8;
    format!("#{:02x}{:02x}{:02x}", c(r), c(g), c(b))
}

/// The name of a type for the legend.
pub(crate) fn name(kind: i32) -> String {
    match kind {
        0 => "undefined (0)".into(),
        1 => "soma".into(),
        2 => "axon".into(),
        3 => "basal dendrite".into(),
        4 => "apical dendrite".into(),
        k => format!("type {k}"),
    }
}

/// Drawing (and legend) order: axon first (wide and thin), dendrites over it, soma last.
pub(crate) fn order(kind: i32) -> (u8, i32) {
    match kind {
        2 => (0, 0),
        3 => (1, 0),
        4 => (2, 0),
        1 => (4, 0),
        k => (3, k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_have_distinct_colours() {
        let kinds: Vec<i32> = (-30..=60).collect();
        let mut seen = std::collections::HashSet::new();
        for k in &kinds {
            let c = colour(*k);
            assert_eq!(c.len(), 7, "{c}");
            assert!(seen.insert(c.clone()), "type {k} repeats {c}");
        }
        assert_eq!(colour(3), "#ff0000");
        assert_eq!(name(4), "apical dendrite");
        assert_eq!(name(7), "type 7");
    }
}

//! "Did you mean": the closest valid names or values to a mistyped one.

/// Up to five candidates closest to `wanted`: case-insensitive equality first, then
/// prefix/substring matches, then by edit distance (within about half the word).
pub(crate) fn closest(wanted: &str, candidates: &[String]) -> Vec<String> {
    let w = wanted.to_lowercase();
    let limit = (w.chars().count() / 2).max(3);
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .filter_map(|c| {
            let l = c.to_lowercase();
            let score = if l == w {
                0
            } else if l.starts_with(&w) || w.starts_with(&l) || l.contains(&w) {
                1
            } else {
                let d = levenshtein(&w, &l);
                if d > limit {
                    return None;
                }
                1 + d
            };
            Some((score, c))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(5).map(|(_, c)| c.clone()).collect()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_rank_close_names_first() {
        let fields: Vec<String> = ["species", "strain", "stain", "brain_region", "cell_type"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(closest("specie", &fields)[0], "species");
        assert_eq!(closest("Brain_Region", &fields)[0], "brain_region");
        assert!(closest("zzzzzzzzzzzz", &fields).is_empty());
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}

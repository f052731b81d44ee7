//! Which points of a neurite repeat an earlier one: NeuroM's overlapping points at tolerance
//! 0, and the duplicates that `np.unique` drops before the flatness check.

/// A point's coordinates as a key: -0 is 0; NaN never equals anything.
fn key(p: [f32; 3]) -> Option<[u32; 3]> {
    if p.iter().any(|v| v.is_nan()) {
        return None;
    }
    Some(p.map(|v| if v == 0.0 { 0 } else { v.to_bits() }))
}

fn hash(k: [u32; 3]) -> u64 {
    let [a, b, c] = k.map(u64::from);
    let h = (a | (b << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ c;
    let h = h.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    h ^ (h >> 29)
}

const EMPTY: u32 = u32::MAX;

/// For every point equal to an earlier one: `(the first point with its coordinates, it)`,
/// in the order of the later points.
///
/// An open-addressing table of point indices: a few nanoseconds a point. The keys come from
/// a file, so when they collide far more than chance would have them (a file made to), the
/// table gives up for a sort, which is never worse than `n log n`.
pub(super) fn repeats(points: &[[f32; 3]]) -> Vec<(u32, u32)> {
    let budget = points.len().saturating_mul(8).saturating_add(64);
    by_table(points, budget).unwrap_or_else(|| by_sorting(points))
}

/// The table, or `None` once it has probed `budget` slots more than one a point.
fn by_table(points: &[[f32; 3]], mut budget: usize) -> Option<Vec<(u32, u32)>> {
    let n = u32::try_from(points.len()).ok().filter(|&n| n != EMPTY)?;
    let size = (n as usize).saturating_mul(2).next_power_of_two().max(16);
    let mask = size - 1;
    let mut slots = vec![EMPTY; size];
    let mut out = Vec::new();
    for (i, &p) in (0u32..).zip(points) {
        let Some(k) = key(p) else { continue };
        let mut at = (hash(k) as usize) & mask;
        loop {
            let slot = slots.get_mut(at)?;
            if *slot == EMPTY {
                *slot = i;
                break;
            }
            let first = *slot;
            if points.get(first as usize).and_then(|&q| key(q)) == Some(k) {
                out.push((first, i));
                break;
            }
            budget = budget.checked_sub(1)?;
            at = (at + 1) & mask;
        }
    }
    Some(out)
}

/// The same by sorting the keys.
fn by_sorting(points: &[[f32; 3]]) -> Vec<(u32, u32)> {
    let mut keyed: Vec<([u32; 3], u32)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, &p)| Some((key(p)?, u32::try_from(i).ok()?)))
        .collect();
    keyed.sort_unstable();
    let mut out: Vec<(u32, u32)> = keyed
        .chunk_by(|a, b| a.0 == b.0)
        .flat_map(|group| {
            let first = group.first().map_or(0, |g| g.1);
            group.iter().skip(1).map(move |&(_, i)| (first, i))
        })
        .collect();
    out.sort_unstable_by_key(|&(_, later)| later);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_name_the_first_and_ignore_nan() {
        let p = [
            [1.0, 2.0, 3.0],
            [0.0, 0.0, 0.0],
            [1.0, 2.0, 3.0],
            [-0.0, 0.0, -0.0],
            [f32::NAN, 0.0, 0.0],
            [f32::NAN, 0.0, 0.0],
            [1.0, 2.0, 3.0],
        ];
        let expected = vec![(0, 2), (1, 3), (0, 6)];
        assert_eq!(repeats(&p), expected);
        assert_eq!(by_sorting(&p), expected);
    }

    #[test]
    fn the_table_gives_up_on_collisions_and_the_sort_agrees() {
        // Many points, a third of them repeats: the table and the sort agree, and without
        // a budget for collisions the table gives up.

        let points: Vec<[f32; 3]> = (0..30_000u32)
            .map(|i| {
                let v = (i % 20_000) as f32;
                [v, v * 0.5, -v]
            })
            .collect();
        let table = repeats(&points);
        assert_eq!(table.len(), 10_000);
        assert_eq!(table, by_sorting(&points));
        assert_eq!(by_table(&points, 0), None);
    }
}

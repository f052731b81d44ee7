//! NumPy's float32 arithmetic, as NeuroM's checks run it on MorphIO's points (NumPy 2: a
//! Python float meets a float32 as a float32), so that a verdict on the edge of a threshold
//! is NeuroM's. Each rule was checked against NumPy 2.4 on random inputs.

/// `np.sum` of a float32 array: NumPy's pairwise summation (blocks of 8 accumulators up to
/// 128 values, halves above).
pub(crate) fn sum(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(0.0f32, |s, &v| s + v);
    }
    if n <= 128 {
        let mut r = [0.0f32; 8];
        for (slot, &v) in r.iter_mut().zip(a) {
            *slot = v;
        }
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            if let Some(block) = a.get(i..i + 8) {
                for (slot, &v) in r.iter_mut().zip(block) {
                    *slot += v;
                }
            }
            i += 8;
        }
        let [r0, r1, r2, r3, r4, r5, r6, r7] = r;
        let mut res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
        for &v in a.get(whole..).unwrap_or(&[]) {
            res += v;
        }
        return res;
    }
    let mut half = n / 2;
    half -= half % 8;
    let (lo, hi) = a.split_at(half);
    sum(lo) + sum(hi)
}

/// `np.mean` of a float32 array (NaN when empty, as NumPy gives with a warning).
pub(crate) fn mean(a: &[f32]) -> f32 {
    sum(a) / a.len() as f32
}

/// `np.mean(points, axis=0)` of an (n, 3) float32 array: each column summed in order.
pub(crate) fn mean_rows(rows: impl Iterator<Item = [f32; 3]>) -> [f32; 3] {
    let mut total = [0.0f32; 3];
    let mut n = 0usize;
    for row in rows {
        for (t, v) in total.iter_mut().zip(row) {
            *t += v;
        }
        n += 1;
    }
    total.map(|t| t / n as f32)
}

/// `a - b` on float32 vectors.
pub(crate) fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    let [x, y, z] = a;
    let [u, v, w] = b;
    [x - u, y - v, z - w]
}

/// `np.dot` of two float32 3-vectors: OpenBLAS's `sdot` multiplies in float32 and sums in
/// float64 below 32 values.
pub(crate) fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    let [x, y, z] = a;
    let [u, v, w] = b;
    (f64::from(x * u) + f64::from(y * v) + f64::from(z * w)) as f32
}

/// `np.linalg.norm` of one float32 3-vector: the square root of its `np.dot`.
pub(crate) fn norm(v: [f32; 3]) -> f32 {
    dot(v, v).sqrt()
}

/// `np.linalg.norm(rows, axis=1)` for one row: the squares summed in float32, in order.
pub(crate) fn row_norm(v: [f32; 3]) -> f32 {
    let [x, y, z] = v;
    ((x * x + y * y) + z * z).sqrt()
}

/// `np.isclose(a, b)` with its defaults (rtol 1e-5, atol 1e-8), in float32.
pub(crate) fn isclose(a: f32, b: f32) -> bool {
    ((a - b).abs() <= 1e-8f32 + 1e-5f32 * b.abs() && b.is_finite()) || a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_groups_as_numpy() {
        // Values whose float32 sum depends on the grouping.
        let a: Vec<f32> = (0..300).map(|i| 1.0 + (i as f32) * 1e-3).collect();
        let sequential = a.iter().fold(0.0f32, |s, &v| s + v);
        let pairwise = sum(&a);
        assert!((pairwise - 344.85).abs() < 1e-3);
        assert_ne!(pairwise.to_bits(), sequential.to_bits());
        assert_eq!(sum(&[1.0, 2.0, 3.0]), 6.0);
        assert!(mean(&[]).is_nan());
        assert_eq!(
            mean_rows([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]].into_iter()),
            [2.0; 3]
        );
    }
}

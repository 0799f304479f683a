//! Seeded random streams and the few samplers the generator needs, written out so that every distribution is
//! visible in one place (the crate does not use `rand_distr`). All draws go through [`Stream`].

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// One named, independently seeded random stream.
///
/// The 32-byte ChaCha seed is `sha256("cobro-generate/v1" ‖ name ‖ seed_le)`, so each part of the ledger
/// (customers, invoices, fx) has its own stream: asking for more invoices never changes the customers, and
/// the seed derivation does not depend on `rand`'s own `seed_from_u64` expansion.
pub(crate) struct Stream {
    rng: ChaCha8Rng,
    /// The second normal of the last polar-method pair, kept for the next call.
    spare_normal: Option<f64>,
}

impl Stream {
    pub(crate) fn new(seed: u64, name: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"cobro-generate/v1\0");
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(seed.to_le_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        Self { rng: ChaCha8Rng::from_seed(digest), spare_normal: None }
    }

    /// 64 uniformly random bits.
    #[inline]
    pub(crate) fn bits(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform on [0, 1).
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// Uniform on (0, 1]: safe to take the logarithm of, or to raise to a negative power.
    #[inline]
    pub(crate) fn unit_open0(&mut self) -> f64 {
        1.0 - self.rng.random::<f64>()
    }

    /// Uniform on [lo, hi).
    #[inline]
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// `true` with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform integer in `lo..=hi` (`lo <= hi`).
    #[inline]
    pub(crate) fn int(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    /// Uniform index in `0..n` (`n > 0`).
    #[inline]
    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// Picks an index by weight from a small table (linear scan; tables here have ≤ 10 entries).
    pub(crate) fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut u = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if u < *w {
                return i;
            }
            u -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// Standard normal, by Marsaglia's polar method (the rejection form of Box–Muller: no trigonometry,
    /// about 1.27 pairs of uniforms per pair of normals). The second normal of each pair is cached.
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.unit() - 1.0;
            let v = 2.0 * self.unit() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let factor = (-2.0 * s.ln() / s).sqrt();
                self.spare_normal = Some(v * factor);
                return u * factor;
            }
        }
    }

    /// Lognormal with the given median (`exp(mu)`) and log-scale `sigma`: `median · exp(sigma · Z)`.
    #[inline]
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Pareto (type I) with scale 1 and shape `alpha`, by inverse CDF: `U^(-1/alpha)`, U on (0, 1].
    #[inline]
    pub(crate) fn pareto(&mut self, alpha: f64) -> f64 {
        self.unit_open0().powf(-1.0 / alpha)
    }

    /// Exponential with the given mean, by inverse CDF: `-mean · ln U`, U on (0, 1].
    #[inline]
    pub(crate) fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.unit_open0().ln()
    }
}

/// Walker's alias table (Vose's construction): O(n) to build, O(1) and one 64-bit draw per sample, 8 bytes
/// per entry kept side by side so that a draw touches one cache line. Used to pick the customer of each
/// invoice from Pareto weights.
pub(crate) struct AliasTable {
    /// (keep threshold as a fraction of 2^32, alias index) per slot.
    slots: Vec<(u32, u32)>,
}

impl AliasTable {
    /// Builds the table. `weights` must be non-empty, finite and positive, with fewer than 2^32 entries
    /// (the caller checks the customer count).
    pub(crate) fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut prob: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) = (0..n as u32).partition(|&i| prob[i as usize] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            alias[s as usize] = l;
            let rest = prob[l as usize] + prob[s as usize] - 1.0;
            prob[l as usize] = rest;
            if rest < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left is 1 up to rounding error (and its alias is itself).
        for i in small.into_iter().chain(large) {
            prob[i as usize] = 1.0;
        }
        let slots = prob
            .iter()
            .zip(alias)
            .map(|(p, a)| (((p * 4_294_967_296.0).round() as u64).min(u64::from(u32::MAX)) as u32, a))
            .collect();
        Self { slots }
    }

    /// Draws an index with probability proportional to its weight. The high 32 bits of one draw pick the
    /// slot by multiply-and-shift (bias below n / 2^32), the low 32 bits decide slot or alias.
    #[inline]
    pub(crate) fn sample(&self, stream: &mut Stream) -> usize {
        let r = stream.bits();
        let slot = (((r >> 32) * self.slots.len() as u64) >> 32) as usize;
        let (keep, alias) = self.slots[slot];
        if (r as u32) < keep { slot } else { alias as usize }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_bits(seed: u64, name: &str) -> Vec<u64> {
        let mut s = Stream::new(seed, name);
        (0..4).map(|_| s.bits()).collect()
    }

    #[test]
    fn named_streams_are_reproducible_and_independent() {
        assert_eq!(first_bits(7, "customers"), first_bits(7, "customers"));
        assert_ne!(first_bits(7, "customers"), first_bits(7, "invoices"));
        assert_ne!(first_bits(7, "customers"), first_bits(8, "customers"));
    }

    #[test]
    fn polar_normal_has_mean_zero_and_unit_variance() {
        let mut s = Stream::new(1, "normal");
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn pareto_with_alpha_1_16_gives_the_top_fifth_about_eighty_percent() {
        let mut s = Stream::new(3, "pareto");
        let mut xs: Vec<f64> = (0..200_000).map(|_| s.pareto(1.16)).collect();
        xs.sort_by(|a, b| b.total_cmp(a));
        let total: f64 = xs.iter().sum();
        let top: f64 = xs[..xs.len() / 5].iter().sum();
        let share = top / total;
        // The sample share of an infinite-variance law converges slowly; 80 % is the population value.
        assert!((0.65..0.92).contains(&share), "top-20 % share {share}");
    }

    #[test]
    fn alias_table_draws_in_proportion_to_weights() {
        let table = AliasTable::new(&[1.0, 2.0, 0.0001, 6.9999]);
        let mut s = Stream::new(5, "alias");
        let mut counts = [0u32; 4];
        let n = 100_000;
        for _ in 0..n {
            counts[table.sample(&mut s)] += 1;
        }
        let share = |i: usize| f64::from(counts[i]) / f64::from(n);
        assert!((share(0) - 0.1).abs() < 0.01);
        assert!((share(1) - 0.2).abs() < 0.01);
        assert!(share(2) < 0.001);
        assert!((share(3) - 0.7).abs() < 0.01);
    }
}

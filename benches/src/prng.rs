//! A tiny deterministic PRNG (splitmix64), so generated data depends only on the seed.

/// splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, full period, good mixing.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// A generator for one (seed, copy, row) triple: independent of how rows are batched.
    pub fn for_row(seed: u64, copy: u64, row: u64) -> Self {
        let mut s = SplitMix64::new(seed ^ 0x6A09_E667_F3BC_C908);
        let a = s.next_u64() ^ copy.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let b = SplitMix64::new(a).next_u64() ^ row.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        SplitMix64::new(b)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the tiny modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_first_values() {
        // Reference values of splitmix64 seeded with 1234567.
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
    }

    #[test]
    fn rows_differ_and_repeat() {
        let a = SplitMix64::for_row(7, 1, 2).next_u64();
        assert_eq!(a, SplitMix64::for_row(7, 1, 2).next_u64());
        assert_ne!(a, SplitMix64::for_row(7, 1, 3).next_u64());
        assert_ne!(a, SplitMix64::for_row(7, 2, 2).next_u64());
        assert_ne!(a, SplitMix64::for_row(8, 1, 2).next_u64());
    }
}

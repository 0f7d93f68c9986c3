//! `adl-sim`: what each ADL policy does to traders in a crash. The market is the program's
//! own state on the accounts' real layouts, changed only by the program's transitions
//! (`exchange`); the simulator chooses when keepers and liquidators act. Policies: the
//! program's ranked queue, pro-rata and leverage drain; baselines: Binance's documented
//! ranking and the min-max haircut/equity optimum.

pub mod exchange;
pub mod metrics;
pub mod policy;
pub mod scenario;
pub mod soak;
pub mod waves;

/// Deterministic pseudo-random numbers (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

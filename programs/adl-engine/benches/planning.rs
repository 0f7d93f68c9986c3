//! Keeper-side planning and program-side queue costs at 100,000 positions on one side.
//! Host wall time (release profile); median of repeated runs. Run:
//!
//!     cargo bench -p adl-engine --bench planning
//!
//! Results are recorded in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use adl_engine::adl::{drain_optimum, RankWalk};
use adl_engine::math;
use adl_engine::rank::rank_side;
use adl_engine::state::*;
use anchor_lang::prelude::Pubkey;

const N: usize = 100_000;
const PRICE: u64 = 100_000_000;

/// Deterministic pseudo-random numbers (64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// `N` long positions: sizes 0.1–10, entries 80–120, margins 5–50 % of notional.
fn book() -> Vec<PositionSlot> {
    let mut r = Lcg(42);
    (0..N)
        .map(|i| {
            let base = (1 + r.next() % 100) as i64 * 100_000_000;
            let entry = 80_000_000 + r.next() % 40_000_000;
            let cost = (base as i128 * entry as i128 / 1_000_000_000) as i64;
            let margin = cost * (5 + (r.next() % 46) as i64) / 100;
            PositionSlot {
                owner: Pubkey::new_from_array([(i % 251) as u8; 32]),
                base,
                cost_basis: cost,
                margin,
                open_seq: i as u64,
                status: SLOT_OPEN,
                ..PositionSlot::default()
            }
        })
        .collect()
}

fn arrays(slots: &[PositionSlot]) -> (Vec<QueueEntry>, Vec<QueueEntry>) {
    let mut lev = Vec::with_capacity(N);
    let mut ent = Vec::with_capacity(N);
    for (i, s) in slots.iter().enumerate() {
        let (_, l, e) = s.queue_entries(i as u32).unwrap_or_default();
        lev.push(l);
        ent.push(e);
    }
    // The program's exact order: stored key, exact key fraction, age.
    adl_engine::state::sort_by_leverage(&mut lev, slots);
    ent.sort_unstable();
    (lev, ent)
}

fn bench(name: &str, runs: usize, mut f: impl FnMut() -> usize) {
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut out = 0;
    for _ in 0..runs {
        let t = Instant::now();
        out = black_box(f());
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{name:<46} median {:>10.3} ms   min {:>10.3} ms   ({runs} runs, result {out})",
        times[runs / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}

fn main() {
    let slots = book();
    let (lev, _) = arrays(&slots);
    let get = |s: u32| slots.get(s as usize);
    // An event against the long side: 30 average positions' worth, at a price most are in profit.
    let remaining = 150 * 1_000_000_000u64;
    let exec_price = 112_000_000;

    bench("plan ranked ADL batch (24 fills), 100k side", 50, || {
        let mut w = RankWalk::fresh(&lev, get, 0, exec_price, remaining);
        let mut n = 0;
        while n < 24 && w.next_fill().is_some() {
            n += 1;
        }
        w.reads
    });
    bench("liquidation scan at the oracle, 100k positions", 20, || {
        slots
            .iter()
            .filter(|p| {
                let eq = p.equity(0, 90_000_000).unwrap_or(0);
                let mm = math::margin_requirement(p.base, 90_000_000, 500).unwrap_or(0);
                math::is_liquidatable(eq, mm)
            })
            .count()
    });
    let bytes: Vec<u8> = bytemuck::cast_slice(&slots).to_vec();
    bench("decode 100k slots from account bytes", 20, || {
        let n = core::mem::size_of::<PositionSlot>();
        (0..N)
            .map(|i| bytemuck::pod_read_unaligned::<PositionSlot>(&bytes[i * n..(i + 1) * n]))
            .filter(|s| s.is_open())
            .count()
    });
    bench("queue view: rank, tier, lights of 100k", 10, || {
        rank_side(&lev, get, PRICE, u64::MAX).len()
    });
    bench(
        "leverage drain in one pass (region, level, cuts), 100k side",
        5,
        || {
            drain_optimum(&lev, get, 0, exec_price, exec_price, remaining)
                .map(|(level, cuts)| level as usize + cuts.len())
                .unwrap_or(0)
        },
    );
    let mut arr = lev.clone();
    let mut k = 0usize;
    bench("re-index one position (search + shift), 100k", 200, || {
        // Move an entry from near the tail to the head and back: the worst-case shift.
        let len = arr.len();
        let i = len - 1 - (k % 100);
        k += 1;
        let old = arr[i];
        let new = QueueEntry {
            key: i64::MIN + 1,
            order: old.order,
        };
        let j = arr.partition_point(|x| *x < new);
        arr.copy_within(j..i, j + 1);
        arr[j] = new;
        let back = arr.partition_point(|x| *x < old);
        arr.copy_within(1..back, 0);
        arr[back - 1] = old;
        j
    });
}

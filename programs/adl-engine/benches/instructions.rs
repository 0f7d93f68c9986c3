//! Program work per instruction against book size: the same code the handlers run
//! (`engine::MarketState`), on in-memory account buffers, release profile, host time.
//! Run:
//!
//!     cargo bench -p adl-engine --features cost-meter --bench instructions
//!
//! Results are recorded in docs/BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

use adl_engine::adl::RankWalk;
use adl_engine::engine::MarketState;
use adl_engine::state::*;
use adl_engine::testkit::{empty, user, Bufs, ONE};

const P100: u64 = 100_000_000;

/// The market buffers of `adl_engine::testkit` with this bench's fund parameters; `with`
/// also hands the fund to the closure.
struct Buffers(Bufs);

impl Buffers {
    fn new(capacity: usize) -> Self {
        let mut b = empty(capacity);
        b.market.params.liquidation_fee_to_fund_bps = 5_000;
        b.market.params.max_insurance_per_event = u64::MAX;
        b.market.params.adl_deadline_slots = 300;
        b.users.clear();
        Buffers(b)
    }

    fn with<R>(
        &mut self,
        f: impl FnOnce(&mut MarketState, &mut Vec<UserAccount>, &mut InsuranceFund) -> R,
    ) -> R {
        let mut fund = self.0.fund;
        let r = self.0.with(|st, users| f(st, users, &mut fund));
        self.0.fund = fund;
        r
    }
}

fn new_user(i: usize) -> UserAccount {
    user(i)
}

fn trade(
    st: &mut MarketState,
    users: &mut [UserAccount],
    taker: usize,
    maker: usize,
    base: i64,
    price: u64,
    margin: u64,
) {
    let n = (base.unsigned_abs() as u128 * price as u128 / 1_000_000_000) as u64;
    let (a, b) = if taker < maker {
        let (x, y) = users.split_at_mut(maker);
        (&mut x[taker], &mut y[0])
    } else {
        let (x, y) = users.split_at_mut(taker);
        (&mut y[0], &mut x[maker])
    };
    st.fill_user(a, base, n, margin, 5, price)
        .unwrap_or_else(|e| panic!("{e}"));
    st.fill_user(b, -base, n, margin, 2, price)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A book of `n` positions: n/2 longs and n/2 shorts of 0.1–5.0 at 95–105, 10–30 % margin.
fn filled(n: usize, capacity: usize) -> Buffers {
    let mut b = Buffers::new(capacity);
    b.0.users = (0..n).map(new_user).collect();
    b.with(|st, users, _| {
        for k in 0..n / 2 {
            let size = (1 + (k * 7919) % 50) as i64 * ONE / 10;
            let px = 95_000_000 + ((k * 104_729) % 10_000_000) as u64;
            let notional = size as u64 / 1_000 * px / 1_000_000;
            let margin = notional * (11 + (k % 21) as u64) / 100;
            trade(st, users, 2 * k, 2 * k + 1, size, px, margin);
        }
    });
    b
}

fn main() {
    println!(
        "{:>7} | {:>12} | {:>12} | {:>12} | {:>16} | {:>12}",
        "book", "trade (2 fills)", "liquidate", "start_adl", "ADL per fill", "entries/fill"
    );
    for n in [100usize, 1_000, 10_000, 60_000] {
        // trade: a new taker opens against a new maker (two inserts), 200 times.
        let mut b = filled(n, n + 400);
        let extra = b.0.users.len();
        b.0.users.extend((0..400).map(|i| new_user(extra + i)));
        let t = Instant::now();
        b.with(|st, users, _| {
            for k in 0..200 {
                trade(
                    st,
                    users,
                    extra + 2 * k,
                    extra + 2 * k + 1,
                    ONE / 2,
                    P100,
                    10_000_000,
                );
            }
        });
        let per_trade = t.elapsed().as_secs_f64() * 1e6 / 200.0;

        // liquidate: at 80 many longs are below maintenance (not all bankrupt); 50 takeovers
        // of non-bankrupt positions by one liquidator.
        let mut b = filled(n, n + 10);
        let liq = b.0.users.len();
        b.0.users.push(new_user(liq));
        b.0.fund.balance = u64::MAX / 4;
        let (count, secs) = b.with(|st, users, fund| {
            let price = 92_000_000;
            let targets: Vec<(u32, usize)> = (0..users.len() - 1)
                .filter_map(|u| {
                    let s = users[u].position_slot(&st.key)?;
                    let p = st.book.slot(s).ok()?;
                    let eq = p.equity(0, price).ok()?;
                    let mm = adl_engine::math::margin_requirement(p.base, price, 500).ok()?;
                    (p.base > 0 && eq < mm && eq >= 0).then_some((s, u))
                })
                .take(50)
                .collect();
            let t = Instant::now();
            for &(s, u) in &targets {
                let (a, b) = users.split_at_mut(liq);
                st.liquidate(
                    s,
                    &mut a[u],
                    &mut b[0],
                    fund,
                    u64::MAX,
                    10_000_000_000,
                    price,
                )
                .unwrap_or_else(|e| panic!("{e}"));
            }
            (targets.len(), t.elapsed().as_secs_f64())
        });
        let per_liq = if count > 0 {
            secs * 1e6 / count as f64
        } else {
            f64::NAN
        };

        // start_adl, then auto_deleverage: a bankrupt short at 130 with an empty fund.
        let mut b = filled(n, n + 10);
        let (start_us, fill_us, reads) = b.with(|st, users, fund| {
            let price = 130_000_000;
            let target = (0..users.len()).find_map(|u| {
                let s = users[u].position_slot(&st.key)?;
                let p = st.book.slot(s).ok()?;
                (p.base < 0 && p.equity(0, price).ok()? < 0).then_some((s, u))
            });
            let Some((s, u)) = target else {
                return (f64::NAN, f64::NAN, 0.0);
            };
            let t = Instant::now();
            st.start_adl(s, &mut users[u], fund, price, 1)
                .unwrap_or_else(|e| panic!("{e}"));
            let start_us = t.elapsed().as_secs_f64() * 1e6;
            let ev = st.market.adl_events[0];
            let t = Instant::now();
            let proof: Vec<u32> = {
                let len = st.long_queue.len();
                let slots = &*st.book.slots;
                let mut walk = RankWalk::resume(
                    &st.long_queue.by_leverage[..len],
                    |i| slots.get(i as usize),
                    0,
                    ev.exec_price,
                    &st.market.adl_walks[0],
                    ev.walk_flags,
                    ev.base_remaining,
                    ADL_WALK_CAP,
                );
                std::iter::from_fn(|| walk.next_fill())
                    .map(|p| p.slot)
                    .collect()
            };
            let (fills, reads) = st
                .auto_deleverage(0, &proof)
                .unwrap_or_else(|e| panic!("{e}"));
            let per_fill = t.elapsed().as_secs_f64() * 1e6 / fills.len().max(1) as f64;
            (start_us, per_fill, reads as f64 / fills.len().max(1) as f64)
        });
        black_box(&b.0.market);
        println!(
            "{n:>7} | {per_trade:>9.1} µs | {per_liq:>9.1} µs | {start_us:>9.1} µs | {fill_us:>13.1} µs | {reads:>12.1}"
        );
    }
}

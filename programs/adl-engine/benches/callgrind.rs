//! One handler on one book, run once between markers so Valgrind's callgrind counts exactly
//! its instructions. Driven by `python3 scripts/callgrind.py`, which runs
//!
//!     valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*' \
//!         <this bench> <handler> <positions>
//!
//! and writes the table in docs/BENCHMARKS.md. The book (built outside the measurement)
//! holds `positions` longs — sizes 0.1–10, entries 80–120, margins 5–50 % of notional, or
//! for `adl_progress` a block of tier-2 longs ahead of the tier-1 ones, for `drain_*` half at
//! 10x and half at 2x (a drain to 5x: one measuring step, one applying step) — and one
//! bankrupt short. Prints one JSON line with the cost meter's counts.

use std::hint::black_box;

use adl_engine::meter;
use adl_engine::testkit::*;

/// Everything callgrind counts happens inside this function.
#[inline(never)]
fn measured<R>(f: impl FnOnce() -> R) -> R {
    black_box(f())
}

fn book(n: usize) -> Vec<Long> {
    let mut longs = random_longs(n - 1, 0x9E37_79B9_7F4A_7C15);
    // Slot n − 1: below maintenance at 98, not bankrupt (the liquidation target).
    longs.push((ONE, px(100), 5_500_000));
    longs
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let handler = args.get(1).map(String::as_str).unwrap_or("trade");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let drain = handler.starts_with("drain_");
    let mut b = if drain {
        // Half the book at 10x, half at 2x; the drain takes the 10x half to 5x.
        let mut longs: Vec<Long> = vec![(ONE, px(100), 10 * USD); n / 2];
        longs.extend(vec![(ONE, px(100), 50 * USD); n - n / 2]);
        let mut b = market(&longs, (n as i64 / 4) * ONE, px(100), 4);
        b.market.adl_mode = adl_engine::state::ADL_MODE_LEVERAGE_DRAIN;
        b
    } else if handler == "adl_progress" {
        let mut longs: Vec<Long> = vec![(ONE, px(110), 33 * USD); n / 2];
        longs.extend(vec![(ONE, px(90), 45 * USD); n - n / 2]);
        market(&longs, 30 * ONE, px(100), 4)
    } else {
        market(&book(n), 150 * ONE, px(112), 4)
    };
    let mut fills = 0usize;
    let mut reads = 0usize;
    match handler {
        "trade" => b.with(|st, _| {
            let (mut taker, mut maker) = (user(n + 10), user(n + 11));
            meter::reset();
            measured(|| {
                st.fill_user(&mut taker, ONE, px(100), 20 * USD as u64, 5, px(100))
                    .unwrap();
                st.fill_user(&mut maker, -ONE, px(100), 20 * USD as u64, 2, px(100))
                    .unwrap();
            });
        }),
        "add_margin" => b.with(|st, _| {
            let slot = (n / 2) as u32;
            meter::reset();
            measured(|| {
                st.modify(slot, |p, m| {
                    p.settle_funding(m.cumulative_funding, &mut m.funding_pool)?;
                    p.margin += USD;
                    Ok(())
                })
                .unwrap();
            });
        }),
        "liquidate" => {
            let mut fund = b.fund;
            b.with(|st, _| {
                let target = (n - 1) as u32;
                let mut owner = user(n);
                owner.add_position(st.key, target).unwrap();
                let mut liq = user(n + 10);
                meter::reset();
                measured(|| {
                    st.liquidate(
                        target,
                        &mut owner,
                        &mut liq,
                        &mut fund,
                        u64::MAX,
                        20 * USD as u64,
                        px(98),
                    )
                    .unwrap();
                });
            });
        }
        "start_adl" => {
            meter::reset();
            measured(|| start(&mut b));
        }
        "auto_deleverage_next" => {
            // The event's second transaction: the first one's cursors are saved.
            start(&mut b);
            b.with(|st, _| {
                let (slots, _) = keeper_plan(st, 0, 24);
                st.auto_deleverage(0, &slots).unwrap();
                let (slots, _) = keeper_plan(st, 0, 24);
                meter::reset();
                let (f, r) = measured(|| st.auto_deleverage(0, &slots).unwrap());
                fills = f.len();
                reads = r;
            });
        }
        "auto_deleverage" | "adl_progress" => {
            start(&mut b);
            b.with(|st, _| {
                let (slots, _) = keeper_plan(st, 0, 24);
                meter::reset();
                let (f, r) = measured(|| st.auto_deleverage(0, &slots).unwrap());
                fills = f.len();
                reads = r;
            });
        }
        "drain_measure" | "drain_apply" => {
            start(&mut b);
            b.with(|st, _| {
                st.drain_begin(0).unwrap();
                if handler == "drain_apply" {
                    while st.market.adl_drains[0].phase != adl_engine::state::DRAIN_APPLYING {
                        st.drain_step(0).unwrap();
                    }
                }
                meter::reset();
                let step = measured(|| st.drain_step(0).unwrap());
                fills = step.fills.len();
                reads = step.reads;
            });
        }
        other => panic!("unknown handler {other}"),
    }
    let c = meter::counts();
    println!(
        "{{\"handler\":\"{handler}\",\"n\":{n},\"fills\":{fills},\"walk_reads\":{reads},\"entries_read\":{},\"slots_read\":{},\"elements_moved\":{},\"memmove_entries\":{}}}",
        c.entries_read, c.slots_read, c.elements_moved, c.memmove_entries
    );
}

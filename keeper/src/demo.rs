//! `adl-keeper demo`: an exchange on the in-process bank — oracle, market, twenty funded
//! traders with positions of different leverage — and both sides' ADL queues.

use std::fmt::Write;

use adl_engine::state::{SIDE_LONG, SIDE_SHORT};

use crate::fixture::{price, Fixture, BASE, USDC};
use crate::invariants;
use crate::view::format_queue;

/// Leverage (whole x) each of the ten long/short pairs opens at.
const PAIR_LEVERAGE: [u64; 10] = [2, 9, 4, 7, 3, 8, 5, 6, 2, 9];

/// Runs the demo and returns its printed report.
pub async fn run() -> Result<String, String> {
    let mut out = String::new();
    let mut f = Fixture::new(price(100)).await;
    let _ = writeln!(out, "exchange {} (collateral mint {})", f.exchange, f.mint);
    let m = f.add_market(1024).await;
    let _ = writeln!(
        out,
        "market {} — book {} (1024 slots), long queue {}, short queue {}",
        m.market, m.book, m.long_queue, m.short_queue
    );
    for _ in 0..20 {
        f.add_user(10_000 * USDC, 10_000 * USDC).await;
    }
    let _ = writeln!(out, "20 traders funded with 10,000 USDC each\n");
    // Ten pairs: trader k goes long against trader k+10, size 1–10 base units, at a price
    // inside the oracle band, each side margined for the pair's leverage.
    for (k, lev) in PAIR_LEVERAGE.iter().enumerate() {
        let size = (k as i64 + 1) * BASE / 2;
        let px = price(100) - 500_000 + (k as u64) * 100_000;
        let notional = (size as u64 / 1_000) * px / 1_000_000;
        let margin = notional / lev;
        f.trade(0, k, k + 10, size, px, margin, margin)
            .await
            .map_err(|e| format!("trade {k}: {e}"))?;
        invariants::check_all(&f.snapshot().await).map_err(|e| format!("after trade {k}: {e}"))?;
        let _ = writeln!(
            out,
            "trader {k:>2} long / trader {:>2} short {:>5.1} base at {:.2}, margin {:.2} USDC each ({lev}x)",
            k + 10,
            size as f64 / BASE as f64,
            px as f64 / 1e6,
            margin as f64 / 1e6
        );
    }
    // A partial close, a margin top-up and a flip, so the queues show re-indexed positions.
    f.trade(0, 19, 1, BASE, price(100), 0, 0)
        .await
        .map_err(|e| format!("reduce: {e}"))?;
    let ix = crate::client::add_margin(&f.exchange, &m, &f.users[3].key(), 150 * USDC);
    f.send_as(&[ix], &[3])
        .await
        .map_err(|e| format!("add_margin: {e}"))?;
    f.trade(0, 4, 14, -(6 * BASE), price(100), 100 * USDC, 100 * USDC)
        .await
        .map_err(|e| format!("flip: {e}"))?;
    let _ = writeln!(out, "trader 19 buys back 1.0 from trader 1 (closing it); trader 3 adds 150 USDC margin; trader 4 sells 6.0 to trader 14 (both flip, 100 USDC new margin each)\n");
    f.set_price(0, price(104), 10_000)
        .await
        .map_err(|e| format!("oracle: {e}"))?;
    let s = f.snapshot().await;
    invariants::check_all(&s)?;
    let snap = &s.markets[0];
    let p = snap.oracle.price;
    out.push_str(&format_queue(snap, SIDE_LONG, p));
    out.push('\n');
    out.push_str(&format_queue(snap, SIDE_SHORT, p));
    let c = invariants::conservation(&s);
    let _ = writeln!(
        out,
        "\nconservation: vault {} = free {} + margins {} + payouts {} + fees {} + funding {} + sink {} - cost bases {} -> {}",
        c.vault,
        c.free_collateral,
        c.margins,
        c.adl_payouts,
        c.fee_pools,
        c.funding_pools,
        c.rounding_sinks,
        c.cost_bases,
        if c.vault == c.accounted() { "exact" } else { "MISMATCH" }
    );
    let _ = writeln!(
        out,
        "open interest: long {} = short {} base atoms; queues consistent",
        snap.market.open_interest_long, snap.market.open_interest_short
    );
    Ok(out)
}

//! `adl-demo`: an exchange on the in-process bank — oracle, market, twenty funded
//! traders with positions of different leverage — and both sides' ADL queues; then a crash
//! that the keeper resolves.

use std::fmt::Write;

use adl_engine::state::{EVENT_DONE, SIDE_LONG, SIDE_SHORT};

use crate::chain::BankChain;
use crate::fixture::{price, Fixture, BASE, USDC};
use adl_client::accounts::MarketSnapshot;
use adl_client::invariants;
use adl_client::ix;
use adl_keeper::keeper::{tick, KeeperConfig, Work};
use adl_keeper::view::format_queue;

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
    let ix = adl_client::ix::add_margin(&f.exchange, &m, &f.users[3].key(), 150 * USDC);
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
    crash(&mut f, &mut out).await?;
    let s = f.snapshot().await;
    invariants::check_all(&s)?;
    let snap = &s.markets[0];
    let c = invariants::conservation(&s);
    let _ = writeln!(
        out,
        "\nconservation: vault {} = free {} + margins {} + payouts {} + escrow {} + fund {} + fees {} + funding {} + sink {} - cost bases {} -> {}",
        c.vault,
        c.free_collateral,
        c.margins,
        c.adl_payouts,
        c.adl_escrow,
        c.insurance_fund,
        c.fee_pools,
        c.funding_pools,
        c.rounding_sinks,
        c.cost_bases,
        if c.vault == c.accounted() { "exact" } else { "MISMATCH" }
    );
    let claims = invariants::claims(&s)?;
    let backed = invariants::check_funding_backed(snap)?;
    let _ = writeln!(
        out,
        "solvency: vault {} covers every claim {} (funding pool backed, {} atoms of rounding to spare) -> solvent",
        s.vault_balance, claims, backed
    );
    let _ = writeln!(
        out,
        "open interest: long {} = short {} base atoms; queues consistent",
        snap.market.open_interest_long, snap.market.open_interest_short
    );
    Ok(out)
}

fn usdc(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:06}", v.abs() / 1_000_000, v.abs() % 1_000_000)
}

/// The crash: a staker funds the insurance fund, the price falls to 92 then to 78, and the
/// keeper — the same code as `adl-keeper run`, over the in-process bank — resolves it one
/// transaction at a time: liquidations, a bankruptcy the fund pays, bankruptcies it cannot
/// pay (ADL in rank order), payout claims.
async fn crash(f: &mut Fixture, out: &mut String) -> Result<(), String> {
    let staker = f.add_user(1_000 * USDC, 0).await;
    f.stake(staker, 10 * USDC)
        .await
        .map_err(|e| format!("stake: {e}"))?;
    let m = f.markets[0];
    f.bank
        .send(&[ix::sweep_fees(&f.exchange, &m.market)], &[])
        .await
        .map_err(|e| format!("sweep: {e}"))?;
    let keeper = f.add_user(20_000 * USDC, 20_000 * USDC).await;
    let _ = writeln!(
        out,
        "\n== crash ==\ninsurance fund: 10 USDC staked + swept fees = {} USDC; the keeper {} has 20,000 USDC to take over positions",
        usdc(f.fund().await.balance as i128),
        f.users[keeper].key()
    );
    let cfg = KeeperConfig::new(f.exchange);
    let kp = f.users[keeper].kp.insecure_clone();
    let mut claims = 0;
    for px in [92u64, 78] {
        f.set_price(0, price(px), 0)
            .await
            .map_err(|e| format!("oracle: {e}"))?;
        let _ = writeln!(out, "\noracle -> {px}.00");
        let chain = BankChain::new(f, kp.insecure_clone());
        loop {
            let before = chain.fixture().await.market_snapshot(0).await;
            let report = tick(&chain, &cfg, 1).await.map_err(|e| e.to_string())?;
            let Some((_, work)) = report.actions.first().cloned() else {
                break;
            };
            let mut g = chain.fixture().await;
            let after = g.market_snapshot(0).await;
            let fund = g.fund().await.balance;
            describe(out, &before, &after, &work, fund, &mut claims);
            invariants::check_all(&g.snapshot().await)?;
        }
    }
    let _ = writeln!(
        out,
        "\n{claims} ADL payouts claimed by the keeper into the owners' free collateral"
    );
    Ok(())
}

/// One line (or table) per keeper transaction.
fn describe(
    out: &mut String,
    before: &MarketSnapshot,
    after: &MarketSnapshot,
    work: &Work,
    fund: u64,
    claims: &mut usize,
) {
    let price = before.oracle.price;
    let f = before.market.cumulative_funding;
    let eq = |slot: u32| {
        before.book.slots[slot as usize]
            .equity(f, price)
            .unwrap_or(0)
    };
    match work {
        Work::Liquidate { slot, .. } => {
            let e = eq(*slot);
            let _ = writeln!(
                out,
                "  keeper liquidates slot {slot:>3} (equity {} USDC){}; fund now {} USDC",
                usdc(e),
                if e < 0 {
                    ", deficit paid by the fund"
                } else {
                    ""
                },
                usdc(fund as i128)
            );
        }
        Work::Flag { slot } => {
            let _ = writeln!(
                out,
                "  keeper flags slot {slot:>3} bankrupt (equity {} USDC): more than the fund can pay",
                usdc(eq(*slot))
            );
        }
        Work::StartAdl { slot, .. } => {
            if let Some((index, ev)) = after.active_events().max_by_key(|(_, e)| e.id) {
                let _ = writeln!(
                    out,
                    "  slot {slot:>3} bankrupt (equity {} USDC), the fund cannot cover it: ADL event {} — fund paid {} USDC, {} base at P_exec {}",
                    usdc(eq(*slot)),
                    ev.id,
                    usdc(ev.fund_paid as i128),
                    usdc(ev.base_remaining as i128 / 1_000),
                    usdc(ev.exec_price as i128)
                );
                let side = if ev.side == SIDE_LONG {
                    SIDE_SHORT
                } else {
                    SIDE_LONG
                };
                out.push_str("  counterparty queue at P_exec:\n");
                for line in format_queue(after, side, ev.exec_price).lines() {
                    let _ = writeln!(out, "    {line}");
                }
                let _ = index;
            }
        }
        Work::Ranked { index, slots, .. } => {
            let ev = before.market.adl_events[*index];
            for p in before.next_adl_counterparties(*index, slots.len()) {
                let owner = before.book.slots[p.slot as usize].owner;
                let _ = writeln!(
                    out,
                    "  ADL fill: slot {:>3} ({}) tier {} closes {} base at {} -> realized PnL {} + margin {} = payout {} USDC",
                    p.slot,
                    owner,
                    p.tier,
                    usdc(p.base as i128 / 1_000),
                    usdc(ev.exec_price as i128),
                    usdc(p.outcome.realized_pnl),
                    usdc(p.outcome.margin_released as i128),
                    usdc(p.outcome.to_free as i128)
                );
            }
            let ev = after.market.adl_events[*index];
            let _ = writeln!(
                out,
                "  event {}: {} base left, status {}; rounding sink {} atoms",
                ev.id,
                usdc(ev.base_remaining as i128 / 1_000),
                if ev.status == EVENT_DONE {
                    "done"
                } else {
                    "active"
                },
                after.market.rounding_sink
            );
        }
        Work::Claim { owner } => {
            *claims += 1;
            let _ = writeln!(out, "  keeper claims the ADL payout of {owner}");
        }
        other => {
            let _ = writeln!(out, "  keeper: {other:?}");
        }
    }
}

//! `adl-keeper demo`: an exchange on the in-process bank — oracle, market, twenty funded
//! traders with positions of different leverage — and both sides' ADL queues.

use std::fmt::Write;

use adl_engine::state::{EVENT_DONE, SIDE_LONG, SIDE_SHORT};

use crate::client;
use crate::fixture::{code, custom_error, price, Fixture, BASE, USDC};
use crate::invariants;
use crate::view::format_queue;
use adl_engine::error::AdlError;

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
    crash(&mut f, &mut out).await?;
    let s = f.snapshot().await;
    invariants::check_all(&s)?;
    let snap = &s.markets[0];
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

fn usdc(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:06}", v.abs() / 1_000_000, v.abs() % 1_000_000)
}

/// The crash: a staker funds the insurance fund, the price falls to 92 (liquidations), then
/// to 78 (bankruptcies the fund cannot cover: ADL against the shorts in rank order).
async fn crash(f: &mut Fixture, out: &mut String) -> Result<(), String> {
    let staker = f.add_user(1_000 * USDC, 0).await;
    f.stake(staker, 10 * USDC)
        .await
        .map_err(|e| format!("stake: {e}"))?;
    let m = f.markets[0];
    f.bank
        .send(&[client::sweep_fees(&f.exchange, &m.market)], &[])
        .await
        .map_err(|e| format!("sweep: {e}"))?;
    let liquidator = f.add_user(20_000 * USDC, 20_000 * USDC).await;
    let _ = writeln!(
        out,
        "\n== crash ==\ninsurance fund: 10 USDC staked + swept fees = {} USDC",
        usdc(f.fund().await.balance as i128)
    );
    for px in [92u64, 78] {
        f.set_price(0, price(px), 0)
            .await
            .map_err(|e| format!("oracle: {e}"))?;
        let _ = writeln!(out, "\noracle -> {px}.00");
        let snap = f.market_snapshot(0).await;
        let mut work: Vec<(u32, anchor_lang::prelude::Pubkey, i128)> = vec![];
        for (slot, p) in snap.book.open_slots() {
            let eq = p
                .equity(snap.market.cumulative_funding, price(px))
                .map_err(|e| e.to_string())?;
            let mm =
                adl_engine::math::margin_requirement(p.base, price(px), snap.market.params.mmr_bps)
                    .map_err(|e| e.to_string())?;
            if adl_engine::math::is_liquidatable(eq, mm) && p.owner != f.users[liquidator].key() {
                work.push((slot, p.owner, eq));
            }
        }
        for (slot, owner, eq) in work {
            let notional = snap.book.slots[slot as usize].base.unsigned_abs() / 1_000 * px;
            let ix = client::liquidate(
                &f.exchange,
                &m,
                &owner,
                &f.users[liquidator].key(),
                slot,
                u64::MAX,
                notional,
            );
            match f.send_as(&[ix], &[liquidator]).await {
                Ok(()) => {
                    let _ = writeln!(
                        out,
                        "  liquidated slot {slot:>3} (equity {} USDC){}; fund now {} USDC",
                        usdc(eq),
                        if eq < 0 {
                            ", deficit paid by the fund"
                        } else {
                            ""
                        },
                        usdc(f.fund().await.balance as i128)
                    );
                }
                Err(e) if custom_error(&e) == Some(code(AdlError::InsufficientInsurance)) => {
                    let ix = client::start_adl(&f.exchange, &m, &owner, slot);
                    f.bank
                        .send(&[ix], &[])
                        .await
                        .map_err(|e| format!("start_adl: {e}"))?;
                    let snap = f.market_snapshot(0).await;
                    let (index, ev) = snap
                        .active_events()
                        .max_by_key(|(_, e)| e.id)
                        .ok_or("no event started")?;
                    let _ = writeln!(
                        out,
                        "  slot {slot:>3} bankrupt (equity {} USDC), the fund cannot cover it: ADL event {} — fund paid {} USDC, {} base at P_exec {}",
                        usdc(eq),
                        ev.id,
                        usdc(ev.fund_paid as i128),
                        usdc(ev.base_remaining as i128 / 1_000),
                        usdc(ev.exec_price as i128)
                    );
                    adl(f, out, index).await?;
                }
                Err(e) => return Err(format!("liquidate slot {slot}: {e}")),
            }
            invariants::check_all(&f.snapshot().await)?;
        }
    }
    // Everyone's payouts are claimed (permissionless).
    let snap = f.market_snapshot(0).await;
    let owners: Vec<_> = snap
        .allocated_slots()
        .filter(|(_, p)| p.adl_payout > 0)
        .map(|(_, p)| p.owner)
        .collect();
    for owner in &owners {
        let ix = client::claim_adl_payout(&f.exchange, &m, owner);
        f.bank
            .send(&[ix], &[])
            .await
            .map_err(|e| format!("claim: {e}"))?;
    }
    let _ = writeln!(
        out,
        "\n{} ADL payouts claimed into the owners' free collateral",
        owners.len()
    );
    Ok(())
}

/// Runs one ranked ADL event to the end as a keeper would: the next counterparties from the
/// program's own rank walk, submitted as the proof.
async fn adl(f: &mut Fixture, out: &mut String, index: usize) -> Result<(), String> {
    let m = f.markets[0];
    let snap = f.market_snapshot(0).await;
    let ev = snap.market.adl_events[index];
    let side = if ev.side == SIDE_LONG {
        SIDE_SHORT
    } else {
        SIDE_LONG
    };
    out.push_str("  counterparty queue before:\n");
    for line in format_queue(&snap, side, ev.exec_price).lines() {
        let _ = writeln!(out, "    {line}");
    }
    let plan = snap.next_adl_counterparties(index, 8);
    let slots: Vec<u32> = plan.iter().map(|p| p.slot).collect();
    let ix = client::auto_deleverage(&f.exchange, &m, index as u8, ev.id, slots);
    f.bank
        .send(&[ix], &[])
        .await
        .map_err(|e| format!("auto_deleverage: {e}"))?;
    for p in &plan {
        let owner = snap.book.slots[p.slot as usize].owner;
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
    let snap = f.market_snapshot(0).await;
    let ev = snap.market.adl_events[index];
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
        snap.market.rounding_sink
    );
    out.push_str("  counterparty queue after:\n");
    for line in format_queue(&snap, side, ev.exec_price).lines() {
        let _ = writeln!(out, "    {line}");
    }
    Ok(())
}

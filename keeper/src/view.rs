//! The ADL queue as a trader sees it: rank, tier, size, entry, leverage, PnL, lights and
//! size ahead at the current oracle price. Computed with the program crate's `rank` and
//! `math`; this module only formats.

use adl_engine::math;
use adl_engine::rank::{rank_side, RankedPosition};
use adl_engine::state::*;
use anchor_lang::prelude::Pubkey;
use std::fmt::Write;

use adl_client::accounts::MarketSnapshot;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueRow {
    pub ranked: RankedPosition,
    pub owner: Pubkey,
    pub base: i64,
    pub entry_price: i64,
    pub margin: i64,
    /// Unrealized PnL at the price, quote atoms (funding included).
    pub pnl: i128,
    /// Effective leverage, bps (`None`: equity ≤ 0).
    pub leverage_bps: Option<u64>,
}

/// The rows of one side's queue at `price`.
pub fn queue_rows(m: &MarketSnapshot, side: u8, price: u64) -> Vec<QueueRow> {
    let q = m.queue(side);
    let oi = if side == SIDE_LONG {
        m.market.open_interest_long
    } else {
        m.market.open_interest_short
    };
    let f = m.market.cumulative_funding;
    rank_side(&q.by_leverage, |s| m.book.slots.get(s as usize), price, oi)
        .into_iter()
        .filter_map(|r| {
            let p = m.book.slots.get(r.slot as usize)?;
            let eq = p.equity(f, price).ok()?;
            Some(QueueRow {
                ranked: r,
                owner: p.owner,
                base: p.base,
                entry_price: math::entry_price(p.base, p.cost_basis).ok()?,
                margin: p.margin,
                pnl: eq - p.margin as i128,
                leverage_bps: math::leverage_bps(p.base, price, eq).ok()?,
            })
        })
        .collect()
}

fn fixed(v: i128, decimals: u32) -> String {
    let scale = 10i128.pow(decimals);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.abs();
    format!(
        "{sign}{}.{:0width$}",
        a / scale,
        a % scale,
        width = decimals as usize
    )
}

/// A text table of one side's queue.
pub fn format_queue(m: &MarketSnapshot, side: u8, price: u64) -> String {
    let rows = queue_rows(m, side, price);
    let oi = if side == SIDE_LONG {
        m.market.open_interest_long
    } else {
        m.market.open_interest_short
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} queue at price {} ({} positions, open interest {} base)",
        if side == SIDE_LONG { "LONG" } else { "SHORT" },
        fixed(price as i128, 6),
        rows.len(),
        fixed(oi as i128, 9)
    );
    let _ = writeln!(
        out,
        "{:>4} {:>4}  {:<44} {:>14} {:>12} {:>9} {:>14} {:<6} {:>7}",
        "rank", "tier", "owner", "size", "entry", "leverage", "pnl", "lights", "ahead%"
    );
    for r in rows {
        let lev = r
            .leverage_bps
            .map(|l| format!("{}x", fixed(l as i128 / 100, 2)))
            .unwrap_or_else(|| "inf".into());
        let lights: String = (1..=5)
            .map(|i| if i <= r.ranked.lights { '#' } else { '.' })
            .collect();
        let ahead_pct = if oi == 0 {
            0
        } else {
            (r.ranked.size_ahead as u128 * 10_000 / oi as u128) as i128
        };
        let _ = writeln!(
            out,
            "{:>4} {:>4}  {:<44} {:>14} {:>12} {:>9} {:>14} {:<6} {:>7}",
            r.ranked.rank,
            r.ranked.tier,
            r.owner.to_string(),
            fixed(r.base as i128, 9),
            fixed(r.entry_price as i128, 6),
            lev,
            fixed(r.pnl, 6),
            lights,
            fixed(ahead_pct, 2)
        );
    }
    out
}

/// What `adl-keeper queue` prints: the market's queue tables for `sides`, loaded through any
/// chain at the market's oracle price.
pub async fn queue_report<C: adl_client::chain::Chain>(
    chain: &C,
    exchange: &Pubkey,
    market: u16,
    sides: &[u8],
) -> Result<String, Box<dyn std::error::Error>> {
    let view = crate::keeper::load(chain, exchange).await?;
    let (_, snap) = view.markets.get(market as usize).ok_or_else(|| {
        crate::config::ConfigError(format!("the exchange has no market {market}"))
    })?;
    let mut out = String::new();
    for &side in sides {
        out.push_str(&format_queue(snap, side, snap.oracle.price));
        out.push('\n');
    }
    Ok(out)
}

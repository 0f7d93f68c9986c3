//! The spec's invariant checkers (§6), run on decoded account state after every step of the
//! integration and property tests and printed by the demo.

use std::collections::{BTreeMap, BTreeSet};

use adl_engine::state::*;
use anchor_lang::prelude::Pubkey;

use crate::accounts::MarketSnapshot;

/// Everything the checkers read: the vault balance, all user accounts and all markets of
/// one exchange.
#[derive(Clone, Debug)]
pub struct ExchangeSnapshot {
    pub vault_balance: u64,
    /// The exchange's insurance fund, once created.
    pub fund: Option<InsuranceFund>,
    pub users: Vec<UserAccount>,
    pub markets: Vec<MarketSnapshot>,
}

/// The terms of the conservation equation, in quote atoms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conservation {
    pub vault: i128,
    pub free_collateral: i128,
    pub margins: i128,
    pub adl_payouts: i128,
    /// Cash held by active ADL events' escrows.
    pub adl_escrow: i128,
    pub insurance_fund: i128,
    pub fee_pools: i128,
    pub funding_pools: i128,
    pub rounding_sinks: i128,
    pub cost_bases: i128,
}

impl Conservation {
    /// Right-hand side: `Σfree + Σmargin + Σpayouts + escrow + fund + fees + funding + sinks −
    /// ΣB_q` (escrowed positions' cost bases included).
    pub fn accounted(&self) -> i128 {
        self.free_collateral
            + self.margins
            + self.adl_payouts
            + self.adl_escrow
            + self.insurance_fund
            + self.fee_pools
            + self.funding_pools
            + self.rounding_sinks
            - self.cost_bases
    }
}

pub fn conservation(s: &ExchangeSnapshot) -> Conservation {
    let mut c = Conservation {
        vault: s.vault_balance as i128,
        free_collateral: s.users.iter().map(|u| u.free_collateral as i128).sum(),
        insurance_fund: s.fund.map(|f| f.balance as i128).unwrap_or(0),
        ..Conservation::default()
    };
    for m in &s.markets {
        for (_, p) in m.allocated_slots() {
            c.margins += p.margin as i128;
            c.adl_payouts += p.adl_payout as i128;
            c.cost_bases += p.cost_basis as i128;
        }
        for (_, e) in m.active_events() {
            c.adl_escrow += e.escrow_cash as i128;
            c.cost_bases += e.escrow_cost as i128;
        }
        c.fee_pools += m.market.fee_pool as i128;
        c.funding_pools += m.market.funding_pool as i128;
        c.rounding_sinks += m.market.rounding_sink as i128;
    }
    c
}

/// Invariant 1: the vault holds exactly what the accounts say, to the atom.
pub fn check_conservation(s: &ExchangeSnapshot) -> Result<(), String> {
    let c = conservation(s);
    if c.vault != c.accounted() {
        return Err(format!(
            "conservation: vault {} != accounted {} ({c:?})",
            c.vault,
            c.accounted()
        ));
    }
    Ok(())
}

/// Invariant 7, solvency, part 1: the funding pool is backed. `pool + Σ owed ≥ 0`, where
/// `owed` is what every open position still owes at the current index (`funding_owed`,
/// rounded against the position; ADL escrows settle at every funding update and owe nothing
/// between them). Exact funding is zero-sum over balanced open interest, and every rounding
/// goes to the pool, so the sum is the pool's accumulated rounding: never negative. A pool
/// that paid out funding nobody owed (an escrow that skipped its share) makes it negative.
pub fn check_funding_backed(m: &MarketSnapshot) -> Result<i128, String> {
    let f = m.market.cumulative_funding;
    let mut owed = 0i128;
    for (i, p) in m.book.open_slots() {
        owed += adl_engine::math::funding_owed(p.base, f, p.funding_snapshot)
            .map_err(|e| format!("slot {i}: funding overflow {e:?}"))?;
    }
    let backed = m.market.funding_pool as i128 + owed;
    if backed < 0 {
        return Err(format!(
            "solvency: funding pool {} but open positions owe {owed}: {} atoms of funding unbacked",
            m.market.funding_pool, -backed
        ));
    }
    Ok(backed)
}

/// What the exchange owes if every claim were paid at once, in quote atoms: free
/// collateral, each position's margin settled at the current index, unclaimed payouts,
/// escrow cash, the insurance fund and the fee pools, less the open positions' cost bases
/// (their unrealized PnL, which nets to the same amount at every price because open
/// interest is balanced).
pub fn claims(s: &ExchangeSnapshot) -> Result<i128, String> {
    let mut c: i128 = s.users.iter().map(|u| u.free_collateral as i128).sum();
    c += s.fund.map(|f| f.balance as i128).unwrap_or(0);
    for m in &s.markets {
        let f = m.market.cumulative_funding;
        for (i, p) in m.allocated_slots() {
            let owed = if p.is_open() {
                adl_engine::math::funding_owed(p.base, f, p.funding_snapshot)
                    .map_err(|e| format!("slot {i}: funding overflow {e:?}"))?
            } else {
                0
            };
            c += p.margin as i128 - owed + p.adl_payout as i128 - p.cost_basis as i128;
        }
        for (_, e) in m.active_events() {
            c += e.escrow_cash as i128 - e.escrow_cost as i128;
        }
        c += m.market.fee_pool as i128;
    }
    Ok(c)
}

/// Invariant 7, solvency, part 2: the vault's token balance covers every claim at once.
pub fn check_solvency(s: &ExchangeSnapshot) -> Result<(), String> {
    for m in &s.markets {
        check_funding_backed(m)?;
    }
    let c = claims(s)?;
    if (s.vault_balance as i128) < c {
        return Err(format!(
            "solvency: vault {} < claims {c} (short {})",
            s.vault_balance,
            c - s.vault_balance as i128
        ));
    }
    Ok(())
}

/// The insurance fund's earnings still vesting never exceed its balance (a loss larger than
/// the vested part takes what vests), so the value of shares is never above the fund.
pub fn check_fund_vesting(s: &ExchangeSnapshot) -> Result<(), String> {
    if let Some(f) = &s.fund {
        let locked = f.vesting as u128 + f.unvested_new as u128;
        if locked > f.balance as u128 {
            return Err(format!(
                "fund: {locked} atoms vesting but balance {}",
                f.balance
            ));
        }
        if f.total_shares == 0 && f.vesting > 0 {
            return Err(format!(
                "fund: {} atoms vesting with no shares outstanding",
                f.vesting
            ));
        }
    }
    Ok(())
}

/// `Market::worst_long_key` / `worst_short_key` (what unstaking reads to see a bankruptcy in
/// O(1)) equal the rank keys at the heads of the sides' `by_leverage`.
pub fn check_worst_keys(m: &MarketSnapshot) -> Result<(), String> {
    let long = m
        .long_queue
        .by_leverage
        .first()
        .map_or(i64::MIN, |e| e.key.saturating_neg());
    let short = m
        .short_queue
        .by_leverage
        .first()
        .map_or(i64::MAX, |e| e.key);
    if (m.market.worst_long_key, m.market.worst_short_key) != (long, short) {
        return Err(format!(
            "worst keys ({}, {}) but queue heads ({long}, {short})",
            m.market.worst_long_key, m.market.worst_short_key
        ));
    }
    Ok(())
}

/// Invariant 2: long open interest equals short open interest, and both equal the sums of
/// the book's positions plus the active ADL events' escrowed sizes.
pub fn check_open_interest(m: &MarketSnapshot) -> Result<(), String> {
    let (mut long, mut short) = (0u128, 0u128);
    for (_, p) in m.book.open_slots() {
        if p.base > 0 {
            long += p.base as u128;
        } else {
            short += p.base.unsigned_abs() as u128;
        }
    }
    for (_, e) in m.active_events() {
        if e.side == SIDE_LONG {
            long += e.base_remaining as u128;
        } else {
            short += e.base_remaining as u128;
        }
    }
    let mk = &m.market;
    if long != mk.open_interest_long as u128 || short != mk.open_interest_short as u128 {
        return Err(format!(
            "open interest: book long {long} short {short}, market long {} short {}",
            mk.open_interest_long, mk.open_interest_short
        ));
    }
    if mk.open_interest_long != mk.open_interest_short {
        return Err(format!(
            "open interest unbalanced: long {} short {}",
            mk.open_interest_long, mk.open_interest_short
        ));
    }
    Ok(())
}

/// Invariant 3: every open slot appears exactly once in each array of its side, with keys
/// equal to those computed from its fields; the arrays are strictly sorted; nothing else is
/// there. Also checks the book's counters and free list.
pub fn check_queues(m: &MarketSnapshot) -> Result<(), String> {
    let mut expected: [BTreeMap<u32, (QueueEntry, QueueEntry)>; 2] =
        [BTreeMap::new(), BTreeMap::new()];
    for (i, p) in m.book.open_slots() {
        let (side, lev, ent) = p.queue_entries(i).map_err(|e| format!("slot {i}: {e}"))?;
        expected[side as usize].insert(i, (lev, ent));
    }
    let open = m.allocated_slots().count() as u32;
    if open != m.book.header.num_open || open != m.market.num_positions {
        return Err(format!(
            "book counts: {open} allocated slots, header {}, market {}",
            m.book.header.num_open, m.market.num_positions
        ));
    }
    for side in [SIDE_LONG, SIDE_SHORT] {
        let q = m.queue(side);
        let exp = &expected[side as usize];
        if q.header.side != side || q.header.market != m.key {
            return Err(format!("queue side {side}: wrong header"));
        }
        if q.header.len as usize != exp.len() {
            return Err(format!(
                "queue side {side}: len {} but {} open positions",
                q.header.len,
                exp.len()
            ));
        }
        for (name, arr, pick) in [
            ("by_leverage", &q.by_leverage, 0usize),
            ("by_entry", &q.by_entry, 1usize),
        ] {
            // `by_leverage` in the exact order (stored key, exact key fraction, age);
            // `by_entry` by stored key and age.
            let frac_of = |s: u32| m.book.slots.get(s as usize).and_then(|p| p.key_frac().ok());
            let ord = ExactOrder {
                is_long: side == SIDE_LONG,
                frac_of: &frac_of,
            };
            for w in arr.windows(2) {
                let before = if pick == 0 {
                    ord.cmp_entries(&w[0], &w[1]).is_lt()
                } else {
                    w[0] < w[1]
                };
                if !before {
                    return Err(format!(
                        "queue side {side} {name}: not strictly sorted at {w:?}"
                    ));
                }
            }
            let mut seen = BTreeSet::new();
            for e in arr.iter() {
                let slot = e.slot();
                let Some(want) = exp.get(&slot) else {
                    return Err(format!("queue side {side} {name}: entry for slot {slot} that is not open on this side"));
                };
                let want = if pick == 0 { want.0 } else { want.1 };
                if *e != want {
                    return Err(format!(
                        "queue side {side} {name}: slot {slot} entry {e:?}, fields say {want:?}"
                    ));
                }
                if !seen.insert(slot) {
                    return Err(format!("queue side {side} {name}: slot {slot} twice"));
                }
            }
        }
    }
    // Free list: every listed slot is free, no cycles.
    let mut cur = m.book.header.free_head;
    let mut steps = 0usize;
    while cur != NIL {
        let s = m
            .book
            .slots
            .get(cur as usize)
            .ok_or_else(|| format!("free list points past high water: {cur}"))?;
        if s.status != SLOT_FREE {
            return Err(format!("free list holds open slot {cur}"));
        }
        cur = s.next_free;
        steps += 1;
        if steps > m.book.slots.len() {
            return Err("free list has a cycle".into());
        }
    }
    Ok(())
}

/// User references: every open slot is referenced by exactly its owner's account, and every
/// reference points at an open slot of that owner.
pub fn check_user_refs(s: &ExchangeSnapshot) -> Result<(), String> {
    let mut refs: BTreeSet<(Pubkey, u32)> = BTreeSet::new();
    for u in &s.users {
        let mut n = 0u8;
        for r in u.positions.iter().filter(|r| r.slot != NIL) {
            n += 1;
            let m = s
                .markets
                .iter()
                .find(|m| m.key == r.market)
                .ok_or_else(|| format!("user {} references unknown market", u.owner))?;
            let p = m.book.slots.get(r.slot as usize).ok_or_else(|| {
                format!(
                    "user {} references slot {} past high water",
                    u.owner, r.slot
                )
            })?;
            if !p.is_allocated() || p.owner != u.owner {
                return Err(format!(
                    "user {} references slot {} that is not its position",
                    u.owner, r.slot
                ));
            }
            refs.insert((r.market, r.slot));
        }
        if n != u.num_positions {
            return Err(format!(
                "user {}: num_positions {} but {n} references",
                u.owner, u.num_positions
            ));
        }
    }
    for m in &s.markets {
        for (i, _) in m.allocated_slots() {
            if !refs.contains(&(m.key, i)) {
                return Err(format!(
                    "open slot {i} of market {} has no user reference",
                    m.key
                ));
            }
        }
    }
    Ok(())
}

/// Bankruptcy flags: the market's count of flagged positions equals the allocated slots
/// that carry a flag (unstaking relies on it to see a pending loss).
pub fn check_flags(m: &MarketSnapshot) -> Result<(), String> {
    let n = m
        .allocated_slots()
        .filter(|(_, p)| p.bankrupt_since_slot != 0)
        .count();
    if n != m.market.flagged_positions as usize {
        return Err(format!(
            "flags: {n} flagged slots but market counts {}",
            m.market.flagged_positions
        ));
    }
    Ok(())
}

/// Pro-rata bookkeeping: each active pro-rata event's pending counter equals the number of
/// slots that still owe it (none escaped, none applied twice).
pub fn check_pro_rata(m: &MarketSnapshot) -> Result<(), String> {
    for (i, e) in m.active_events() {
        if e.mode != ADL_MODE_PRO_RATA {
            continue;
        }
        let owing = m.pending_pro_rata_slots(i).len();
        if owing != e.pending as usize {
            return Err(format!(
                "pro-rata event {}: pending {} but {owing} slots owe it",
                e.id, e.pending
            ));
        }
    }
    Ok(())
}

/// All invariants of spec §6 that apply to the current instruction set.
pub fn check_all(s: &ExchangeSnapshot) -> Result<(), String> {
    check_conservation(s)?;
    check_solvency(s)?;
    check_fund_vesting(s)?;
    for m in &s.markets {
        check_open_interest(m)?;
        check_queues(m)?;
        check_pro_rata(m)?;
        check_flags(m)?;
        check_worst_keys(m)?;
    }
    check_user_refs(s)
}

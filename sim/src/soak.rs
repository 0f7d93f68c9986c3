//! Adversarial soak of the ADL event lifecycle on the engine's own transitions, in memory
//! (`testkit` buffers with the accounts' real layouts): honest traders, a keeper and an
//! attacker act in random order on one market, and after **every** operation the invariants
//! are checked by code written here, independently of the program's:
//!
//! - conservation (the sum of every balance is constant: nothing enters or leaves) and
//!   solvency (the funding pool backs what open positions still owe);
//! - open interest balanced and equal to the book plus escrows; both queue arrays exactly the
//!   open positions of their side, sorted in exact leverage order;
//! - pro-rata bookkeeping (each event's `pending` is the number of slots that owe it);
//! - every ranked event's progress: no position ranked ahead of a cursor is takeable in its
//!   tier, and none anywhere in a tier that is done;
//! - every drain's progress: while measuring or trimming, its sums equal a recount over the
//!   positions before its cursor; while applying, nothing in front of its cursor has more
//!   cut left than one fill's rounding;
//! - `P_exec` moved by exactly the funding applied since the event started, and each escrow's
//!   exact equity at `P_exec` is at least minus its carried funding over-payment and never
//!   below its start;
//! - every ranked fill — the keeper's and those an instruction makes for a position that
//!   arrived ahead of a cursor — is the definition's next counterparty at that moment
//!   (brute force over the whole side, exact rational arithmetic);
//! - every event ends (done), and its honest keeper transactions stay within the bound of
//!   docs/adl.md ("Liveness: the bound"):
//!   `T ≤ ⌈(2n·(1 + r) + k + L)/cap⌉ + ⌈k/batch⌉ + ⌈P/crank⌉ + ⌈k/32⌉ + 4` per event, with `n`
//!   the counterparty side's size at the start, `r ≤ 2` the walk's fresh starts, `k` its fills,
//!   `L` the positions that entered the side or were moved behind a walk's cursor while it
//!   ran, `P` the pro-rata obligations.
//!
//! The attacker's moves: margin toggles (remove then add in one transaction, around each
//! keeper transaction), minimum-size positions at high leverage, self-trades between its own
//! accounts that leave minimum remainders, funding cranks between every pair of
//! transactions, the deadline fallback whenever it is allowed, and mode changes. An
//! operation that fails is rolled back, as a transaction is.

use std::collections::BTreeMap;

use adl_engine::adl;
use adl_engine::engine::MarketState;
use adl_engine::instructions::TradeArgs;
use adl_engine::math;
use adl_engine::meter;
use adl_engine::state::*;
use adl_engine::testkit::{self, px, Bufs, Pending, ONE, USD};
use anchor_lang::prelude::Pubkey;

use crate::Rng;

/// What to run.
#[derive(Clone, Debug)]
pub struct SoakConfig {
    pub seed: u64,
    /// Operations (each one emulated instruction, or two for a margin toggle).
    pub ops: u64,
    /// Honest traders (the attacker has `attackers` more accounts).
    pub traders: usize,
    pub attackers: usize,
    /// Walk read cap per transaction (`ADL_WALK_CAP` on chain; small here so that capped
    /// transactions and saved progress are exercised on small books).
    pub cap: usize,
    /// The keeper's fills per `auto_deleverage`.
    pub batch: usize,
    /// Slots per pro-rata crank.
    pub crank: usize,
    /// Check every invariant after every operation (false: only at event ends).
    pub check_every_op: bool,
}

impl Default for SoakConfig {
    fn default() -> Self {
        SoakConfig {
            seed: 1,
            ops: 20_000,
            traders: 150,
            attackers: 60,
            cap: 8,
            batch: 2,
            crank: 8,
            check_every_op: true,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SoakReport {
    pub ops: u64,
    pub rejected: u64,
    pub attacker_ops: u64,
    pub keeper_txs: u64,
    pub events_started: u64,
    pub events_done: u64,
    /// Events started per mode (ranked, pro-rata, drain).
    pub events_by_mode: [u64; 3],
    pub keeper_fills: u64,
    pub arrival_fills: u64,
    pub pro_rata_applied: u64,
    pub drain_reductions: u64,
    pub drains_abandoned: u64,
    pub fallbacks: u64,
    pub funding_cranks: u64,
    pub liquidations: u64,
    pub landings: u64,
    /// Ranked keeper transactions, those with no fill (progress only), and walk reads.
    pub ranked_txs: u64,
    pub progress_only_txs: u64,
    pub walk_reads: u64,
    pub checks: u64,
    /// Largest honest keeper transactions of one event, and that event's bound.
    pub max_event_txs: (u64, u64),
    /// Events that ended with nothing eligible left on the counterparty side while size
    /// remained, and were finished later by positions that became eligible.
    pub starved_waits: u64,
}

#[derive(Clone, Debug, Default)]
struct EventStats {
    n: u64,
    txs: u64,
    reads: u64,
    fills: u64,
    landings: u64,
    obligations: u64,
    exec_expected: u64,
    /// The escrow's exact equity plus its prepaid funding at the start, when negative (only a
    /// short escrow whose `P_exec` sits at its one-atom floor: `math::adl_exec_price`); never
    /// lower afterwards.
    escrow_floor: i128,
    /// The walk's fresh starts (the event came back to ranked from pro-rata or a drain).
    restarts: u64,
    mode: u8,
}

struct World {
    cfg: SoakConfig,
    b: Bufs,
    rng: Rng,
    oracle: u64,
    now: u64,
    /// Index of the first attacker account in `b.users`; the liquidator is the last user.
    attackers: usize,
    liquidator: usize,
    total: i128,
    stats: BTreeMap<u64, EventStats>,
    report: SoakReport,
}

const BASE: i128 = 1_000_000_000;

/// Exact equity ×BASE with exact funding (independent of `math`).
fn eq_scaled(p: &PositionSlot, f: i64, price: u64) -> i128 {
    p.margin as i128 * BASE - p.base as i128 * (f as i128 - p.funding_snapshot as i128)
        + p.base as i128 * price as i128
        - p.cost_basis as i128 * BASE
}

/// Rank key `K = (B − C)·BASE/q − F_i` as a rational (numerator, denominator > 0).
fn rank_key(p: &PositionSlot) -> (i128, i128) {
    let q = p.base as i128;
    let n = (p.cost_basis as i128 - p.margin as i128) * BASE - p.funding_snapshot as i128 * q;
    if q > 0 {
        (n, q)
    } else {
        (-n, -q)
    }
}

/// Whether `a` ranks ahead of `b` in `by_leverage` (most leveraged first, then older).
fn ahead(a: &PositionSlot, sa: u32, b: &PositionSlot, sb: u32) -> bool {
    let (na, da) = rank_key(a);
    let (nb, db) = rank_key(b);
    let (x, y) = (na * db, nb * da);
    if x != y {
        return if a.base > 0 { x > y } else { x < y };
    }
    (a.open_seq, sa) < (b.open_seq, sb)
}

/// The definition of the next counterparty of event `i`: the eligible position of the lowest
/// tier, most leveraged first — by brute force over the book.
fn definition_next(st: &MarketState, i: usize) -> Option<u32> {
    let ev = st.market.adl_events[i];
    let tp = st.market.adl_walks[i].tier_price_or(ev.exec_price);
    let f = st.market.cumulative_funding;
    let mut best: Option<(u8, u32)> = None;
    for s in 0..st.book.header.high_water {
        let p = st.book.slot(s).unwrap();
        if !p.is_open() || p.side() == ev.side || eq_scaled(p, f, ev.exec_price) < BASE {
            continue;
        }
        let tier = if p.base as i128 * tp as i128 > p.cost_basis as i128 * BASE {
            1
        } else {
            2
        };
        let better = match best {
            None => true,
            Some((bt, bs)) => {
                tier < bt || (tier == bt && ahead(p, s, st.book.slot(bs).unwrap(), bs))
            }
        };
        if better {
            best = Some((tier, s));
        }
    }
    best.map(|b| b.1)
}

/// Takeable in tier `t` of event `i` (independent of `adl::takeable`).
fn takeable(st: &MarketState, i: usize, p: &PositionSlot, t: u8) -> bool {
    let ev = st.market.adl_events[i];
    let tp = st.market.adl_walks[i].tier_price_or(ev.exec_price);
    if !p.is_open() || p.side() == ev.side {
        return false;
    }
    let tier = if p.base as i128 * tp as i128 > p.cost_basis as i128 * BASE {
        1
    } else {
        2
    };
    tier == t && eq_scaled(p, st.market.cumulative_funding, ev.exec_price) >= BASE
}

fn cp_side(ev: &AdlEvent) -> u8 {
    if ev.side == SIDE_LONG {
        SIDE_SHORT
    } else {
        SIDE_LONG
    }
}

impl World {
    fn new(cfg: SoakConfig) -> World {
        meter::set_walk_cap(Some(cfg.cap));
        let users = cfg.traders + cfg.attackers + 1;
        let mut b = testkit::empty(users * 2 + 8);
        b.market.params.max_funding_rate_bps = 50;
        b.market.params.funding_period_slots = 100;
        b.market.params.oracle_band_bps = 500;
        b.market.params.adl_deadline_slots = 40;
        b.market.params.taker_fee_bps = 5;
        b.market.params.maker_fee_bps = 2;
        b.market.params.liquidation_fee_to_fund_bps = 5_000;
        b.users = (0..users).map(testkit::user).collect();
        let mut w = World {
            rng: Rng::new(cfg.seed),
            oracle: px(100),
            now: 10,
            attackers: cfg.traders,
            liquidator: users - 1,
            total: 0,
            stats: BTreeMap::new(),
            report: SoakReport::default(),
            cfg,
            b,
        };
        w.total = w.accounted();
        // An opening book: every trader and attacker trades once with a neighbour.
        for u in 0..w.liquidator.saturating_sub(1) {
            let size = (w.rng.range(1, 40) as i64) * ONE / 10;
            let margin = w.rng.range(12, 45);
            w.trade(u, u + 1, size, w.oracle, margin, margin);
        }
        w
    }

    /// Σ of every balance (quote atoms): constant, since nothing enters or leaves.
    fn accounted(&self) -> i128 {
        let mut t: i128 = self.b.users.iter().map(|u| u.free_collateral as i128).sum();
        t += self.b.fund.balance as i128;
        let m = &self.b.market;
        t += m.funding_pool as i128 + m.fee_pool as i128 + m.rounding_sink as i128;
        for e in m.adl_events.iter().filter(|e| e.status == EVENT_ACTIVE) {
            t += e.escrow_cash as i128 - e.escrow_cost as i128;
        }
        let mut b = self.b.clone();
        b.with_raw(|st, _, _| {
            for s in 0..st.book.header.high_water {
                let p = st.book.slot(s).unwrap();
                if p.status != SLOT_FREE {
                    t += p.margin as i128 + p.adl_payout as i128 - p.cost_basis as i128;
                }
            }
        });
        t
    }

    /// Runs one operation as a transaction: rolled back if it fails; then `finish`, with
    /// every arrival checked against the definition first.
    fn tx(
        &mut self,
        keeper_event: Option<u64>,
        involved: &[usize],
        f: impl FnOnce(
            &mut MarketState,
            &mut Vec<UserAccount>,
            &mut InsuranceFund,
            &mut World2,
        ) -> anchor_lang::Result<()>,
    ) -> bool {
        let backup = self.b.clone();
        let before_idx = self.walk_positions(involved);
        let mut w2 = World2::default();
        let (r, pending) = self
            .b
            .with_raw(|st, users, fund| f(st, users, fund, &mut w2));
        let ok = r.is_ok() && self.finish_checked(pending).is_ok();
        if !ok {
            self.b = backup;
            self.report.rejected += 1;
            return false;
        }
        for d in w2.funding {
            for (_, s) in self.stats.iter_mut() {
                s.exec_expected = (s.exec_expected as i128 + d as i128) as u64;
            }
        }
        self.count_landings(&before_idx, keeper_event);
        self.reap();
        true
    }

    /// Ends the tracked events that are no longer active (an event can end in any
    /// instruction: an arrival's fill, an obligation applied on touch).
    fn reap(&mut self) {
        for ev in self.b.market.adl_events.iter() {
            if ev.status != EVENT_ACTIVE {
                continue;
            }
            if let Some(s) = self.stats.get_mut(&ev.id) {
                if ev.mode != s.mode && ev.mode == ADL_MODE_RANKED_QUEUE {
                    s.restarts += 1;
                }
                if ev.mode == ADL_MODE_PRO_RATA && s.mode != ADL_MODE_PRO_RATA {
                    s.obligations += ev.pending as u64;
                }
                s.mode = ev.mode;
            }
        }
        let ids: Vec<u64> = self.stats.keys().copied().collect();
        for id in ids {
            let active = self
                .b
                .market
                .adl_events
                .iter()
                .any(|e| e.id == id && e.status == EVENT_ACTIVE);
            if !active {
                self.end_event(id, usize::MAX);
            }
        }
    }

    /// `finish`, each arrival first compared with the definition on a copy.
    fn finish_checked(&mut self, pending: Pending) -> anchor_lang::Result<()> {
        let mut copy = self.b.clone();
        let done = self.b.finish(pending)?;
        for (i, f) in &done.fills {
            let want = copy.with_raw(|st, _, _| definition_next(st, *i)).0;
            assert_eq!(
                want,
                Some(f.slot),
                "arrival fill is not the definition's next"
            );
            copy.with_raw(|st, _, _| st.apply_adl_fills(*i, &[*f]).unwrap());
            self.report.arrival_fills += 1;
        }
        self.report.drain_reductions += done.drains.len() as u64;
        Ok(())
    }

    /// For each active ranked event: the involved users' slots and whether each was ahead of
    /// the event's cursors before the operation.
    fn walk_positions(&mut self, involved: &[usize]) -> Vec<(usize, u32, [bool; 2])> {
        let slots: Vec<u32> = involved
            .iter()
            .filter_map(|&u| {
                self.b.users[u].position_slot(&Pubkey::new_from_array(testkit::MARKET))
            })
            .collect();
        let mut out = vec![];
        self.b.with_raw(|st, _, _| {
            for (i, ev) in st.market.adl_events.iter().enumerate() {
                if ev.status != EVENT_ACTIVE || ev.mode != ADL_MODE_RANKED_QUEUE {
                    continue;
                }
                for &s in &slots {
                    let p = st.book.slot(s).unwrap();
                    if p.is_open() && p.side() != ev.side {
                        let idx = st.lev_index(s).unwrap();
                        let c = st.market.adl_walks[i].cursor;
                        out.push((i, s, [idx < c[0] as usize, idx < c[1] as usize]));
                    }
                }
            }
        });
        out
    }

    /// Positions of others moved from ahead of a ranked walk's cursor to behind it (the walk
    /// will read them again): the `L` of the bound.
    fn count_landings(&mut self, before: &[(usize, u32, [bool; 2])], keeper_event: Option<u64>) {
        let mut hits = vec![];
        self.b.with_raw(|st, _, _| {
            for &(i, s, was) in before {
                let ev = st.market.adl_events[i];
                if ev.status != EVENT_ACTIVE || Some(ev.id) == keeper_event {
                    continue;
                }
                let p = st.book.slot(s).unwrap();
                if !p.is_open() || p.side() == ev.side {
                    continue;
                }
                let idx = st.lev_index(s).unwrap();
                let c = st.market.adl_walks[i].cursor;
                if (was[0] && idx >= c[0] as usize) || (was[1] && idx >= c[1] as usize) {
                    hits.push(ev.id);
                }
            }
        });
        for id in hits {
            self.report.landings += 1;
            if let Some(s) = self.stats.get_mut(&id) {
                s.landings += 1;
            }
        }
    }

    fn trade(
        &mut self,
        taker: usize,
        maker: usize,
        size: i64,
        price: u64,
        tm: u64,
        mm: u64,
    ) -> bool {
        let oracle = self.oracle;
        let now = self.now;
        let notional = (size.unsigned_abs() as u128 * price as u128 / ONE as u128) as u64;
        let args = TradeArgs {
            taker_base: size,
            price,
            taker_margin: notional * tm / 100,
            maker_margin: notional * mm / 100,
        };
        let new_side_entries = self.side_counts();
        let ok = self.tx(None, &[taker, maker], |st, users, _, w2| {
            let mut t = users[taker];
            let mut m = users[maker];
            st.price = Some(oracle);
            // A trade brings the funding index up to its slot first (`crank_funding`): that
            // funding moves every escrow's P_exec like a crank does.
            let f0 = st.market.cumulative_funding;
            st.trade(&mut t, &mut m, &args, oracle, now)?;
            let d = st.market.cumulative_funding - f0;
            if d != 0 {
                w2.funding.push(d);
            }
            users[taker] = t;
            users[maker] = m;
            Ok(())
        });
        if ok {
            // Positions that entered a counterparty side while an event runs are new reads.
            let after = self.side_counts();
            let entered = [
                after[0].saturating_sub(new_side_entries[0]),
                after[1].saturating_sub(new_side_entries[1]),
            ];
            for ev in self.b.market.adl_events.iter() {
                if ev.status == EVENT_ACTIVE {
                    if let Some(s) = self.stats.get_mut(&ev.id) {
                        s.landings += entered[cp_side(ev) as usize];
                    }
                }
            }
        }
        ok
    }

    fn side_counts(&mut self) -> [u64; 2] {
        self.b
            .with_raw(|st, _, _| [st.long_queue.len() as u64, st.short_queue.len() as u64])
            .0
    }

    // ----- honest traders -----

    fn honest_trade(&mut self) {
        let a = self.rng.range(0, self.attackers as u64) as usize;
        let mut b = self.rng.range(0, self.attackers as u64) as usize;
        if a == b {
            b = (b + 1) % self.attackers;
        }
        let size = (self.rng.range(1, 30) as i64) * ONE / 10
            * if self.rng.range(0, 2) == 0 { 1 } else { -1 };
        let band = self.rng.range(0, 200);
        let price = self.oracle * (10_000 - 100 + band) / 10_000;
        let (tm, mm) = (self.rng.range(11, 40), self.rng.range(11, 40));
        self.trade(a, b, size, price, tm, mm);
    }

    fn oracle_move(&mut self) {
        let r = self.rng.range(0, 100);
        let bps = if r < 4 {
            // A crash or a squeeze.
            self.rng.range(600, 2_000) as i64 * if self.rng.range(0, 2) == 0 { -1 } else { 1 }
        } else {
            self.rng.range(0, 300) as i64 - 150
        };
        let p = (self.oracle as i128 * (10_000 + bps) as i128 / 10_000) as u64;
        self.oracle = p.clamp(px(40), px(250));
    }

    // ----- the attacker -----

    fn attacker(&self, k: usize) -> usize {
        self.attackers + k % self.cfg.attackers
    }

    /// Free collateral an attacker may take out of its position: what initial margin at the
    /// oracle allows (and at most its margin), or `None` without a position.
    fn removable(&mut self, u: usize) -> Option<u64> {
        let slot = self.b.users[u].position_slot(&Pubkey::new_from_array(testkit::MARKET))?;
        let oracle = self.oracle;
        self.b
            .clone()
            .with_raw(|st, _, _| {
                let p = st.book.slot(slot).ok()?;
                if !p.is_open() {
                    return None;
                }
                let eq = p.equity(st.market.cumulative_funding, oracle).ok()?;
                let im = math::margin_requirement(p.base, oracle, st.market.params.imr_bps).ok()?;
                let free = (eq - im).min(p.margin as i128 - 1);
                (free > 0).then_some(free as u64)
            })
            .0
    }

    fn change_margin(&mut self, u: usize, delta: i64) -> bool {
        let oracle = self.oracle;
        self.tx(None, &[u], |st, users, _, _| {
            let mut user = users[u];
            st.price = Some(oracle);
            st.change_margin(&mut user, delta, oracle)?;
            users[u] = user;
            Ok(())
        })
    }

    /// Remove as much margin as initial margin allows, then add it back: two instructions
    /// in one transaction (the position jumps ahead in the queue and back).
    fn margin_toggle(&mut self) {
        let k = self.rng.range(0, 1_000) as usize;
        let u = self.attacker(k);
        self.report.attacker_ops += 1;
        let Some(amount) = self.removable(u) else {
            return;
        };
        if self.change_margin(u, -(amount as i64)) {
            self.change_margin(u, amount as i64);
        }
    }

    /// One side of a toggle alone: margin out (ahead in the queue) or in (behind).
    fn margin_move(&mut self, out: bool) {
        let k = self.rng.range(0, 1_000) as usize;
        let u = self.attacker(k);
        self.report.attacker_ops += 1;
        if out {
            if let Some(amount) = self.removable(u) {
                self.change_margin(u, -(amount as i64));
            }
        } else {
            let amount = self.rng.range(1, 200) * USD as u64;
            self.change_margin(u, amount as i64);
        }
    }

    /// A minimum-size position at high leverage between two attacker accounts, at the band's
    /// edge; or a self-trade that leaves one of them a minimum remainder.
    fn dust_or_self_trade(&mut self) {
        let k = self.rng.range(0, 1_000) as usize;
        let a = self.attacker(k);
        let j = self.rng.range(1, 6) as usize;
        let b = self.attacker(k + j);
        if a == b {
            return;
        }
        let min = self.b.market.params.min_position_base as i64;
        let size = match self.rng.range(0, 3) {
            0 => min,
            1 => {
                // Leave `a` a minimum remainder.
                let cur = self.b.users[a]
                    .position_slot(&Pubkey::new_from_array(testkit::MARKET))
                    .map(|s| {
                        self.b
                            .clone()
                            .with_raw(|st, _, _| st.book.slot(s).map(|p| p.base).unwrap_or(0))
                            .0
                    })
                    .unwrap_or(0);
                if cur.abs() > 2 * min {
                    -(cur - cur.signum() * min)
                } else {
                    min
                }
            }
            _ => -min * self.rng.range(1, 20) as i64,
        };
        let edge = if size > 0 { 10_000 + 499 } else { 10_000 - 499 };
        let price = self.oracle * edge / 10_000;
        self.trade(a, b, size, price, 11, 11);
        self.report.attacker_ops += 1;
    }

    /// `update_funding` between transactions: any delta within the rate bound of a period.
    fn funding_crank(&mut self) {
        let bound = (self.oracle as i128 * self.b.market.params.max_funding_rate_bps as i128
            / 10_000) as i64;
        let delta = self.rng.range(0, 2 * bound as u64 + 1) as i64 - bound;
        let ok = self.tx(None, &[], |st, _, _, w2| {
            adl_engine::engine::apply_funding(st.market, delta)?;
            w2.funding.push(delta);
            Ok(())
        });
        if ok {
            self.report.funding_cranks += 1;
        }
    }

    /// The deadline fallback, whenever it is allowed (and the program refuses it otherwise).
    fn try_fallback(&mut self) {
        let now = self.now;
        for i in 0..ADL_EVENT_RING {
            let ev = self.b.market.adl_events[i];
            if ev.status != EVENT_ACTIVE || ev.mode == ADL_MODE_PRO_RATA || now <= ev.deadline_slot
            {
                continue;
            }
            let ok = self.tx(None, &[], |st, _, _, _| {
                // The handler's body (`adl_switch_to_pro_rata`).
                let ev = st.market.adl_events[i];
                if ev.walk_flags & WALK_FALLBACK_USED != 0 {
                    return Err(adl_engine::error::AdlError::AdlFallbackUsed.into());
                }
                st.market.adl_events[i].walk_flags |= WALK_FALLBACK_USED;
                st.market.adl_drains[i] = AdlDrain::default();
                st.begin_pro_rata(i)
            });
            if ok {
                self.report.fallbacks += 1;
            }
        }
        self.report.attacker_ops += 1;
    }

    // ----- the keeper -----

    /// One keeper transaction: event work first (oldest event), then liquidations and ADL
    /// starts, then payout claims.
    fn keeper(&mut self) {
        let mut events: Vec<(u64, usize)> = self
            .b
            .market
            .adl_events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.status == EVENT_ACTIVE)
            .map(|(i, e)| (e.id, i))
            .collect();
        events.sort_unstable();
        for (id, i) in events {
            if self.event_tx(id, i) {
                return;
            }
        }
        if self.liquidate_or_start() {
            return;
        }
        self.claim();
    }

    fn event_tx(&mut self, id: u64, i: usize) -> bool {
        let ev = self.b.market.adl_events[i];
        if ev.mode != ADL_MODE_PRO_RATA && self.b.market.pro_rata_pending(ev.side) {
            return false;
        }
        let sent = match ev.mode {
            ADL_MODE_PRO_RATA => self.pro_rata_tx(id, i),
            ADL_MODE_LEVERAGE_DRAIN => self.drain_tx(id, i),
            _ => self.ranked_tx(id, i),
        };
        if sent {
            self.report.keeper_txs += 1;
            if let Some(s) = self.stats.get_mut(&id) {
                s.txs += 1;
            }
            self.end_event(id, i);
        }
        sent
    }

    fn ranked_tx(&mut self, id: u64, i: usize) -> bool {
        let batch = self.cfg.batch;
        let (plan, capped) = self
            .b
            .clone()
            .with_raw(|st, _, _| testkit::keeper_plan(st, i, batch))
            .0;
        if plan.is_empty() && !capped {
            return false;
        }
        // The definition, fill by fill, on a copy.
        let mut copy = self.b.clone();
        let mut want = vec![];
        let mut expected_reads = 0;
        let ok = self.tx(Some(id), &[], |st, _, _, _| {
            let (fills, reads) = st.auto_deleverage(i, &plan)?;
            want = fills;
            expected_reads = reads;
            Ok(())
        });
        assert!(ok, "the keeper's ranked transaction was refused");
        for f in &want {
            let next = copy.with_raw(|st, _, _| definition_next(st, i)).0;
            assert_eq!(
                next,
                Some(f.slot),
                "keeper fill is not the definition's next"
            );
            copy.with_raw(|st, _, _| st.apply_adl_fills(i, &[*f]).unwrap());
        }
        assert!(expected_reads <= self.cfg.cap);
        self.report.keeper_fills += want.len() as u64;
        self.report.ranked_txs += 1;
        self.report.walk_reads += expected_reads as u64;
        if want.is_empty() {
            self.report.progress_only_txs += 1;
        }
        if let Some(s) = self.stats.get_mut(&id) {
            s.fills += want.len() as u64;
            s.reads += expected_reads as u64;
        }
        true
    }

    fn pro_rata_tx(&mut self, _id: u64, i: usize) -> bool {
        let crank = self.cfg.crank;
        let slots: Vec<u32> = self
            .b
            .clone()
            .with_raw(|st, _, _| {
                let ev = st.market.adl_events[i];
                (0..st.book.header.high_water)
                    .filter(|&s| {
                        adl_engine::engine::obligation_pending(&ev, st.book.slot(s).unwrap())
                    })
                    .take(crank)
                    .collect()
            })
            .0;
        if slots.is_empty() {
            return false;
        }
        let n = slots.len() as u64;
        let ok = self.tx(None, &[], |st, _, _, _| {
            for &s in &slots {
                st.apply_obligations(s)?;
            }
            Ok(())
        });
        assert!(ok, "the keeper's pro-rata crank was refused");
        self.report.pro_rata_applied += n;
        true
    }

    fn drain_tx(&mut self, id: u64, i: usize) -> bool {
        let idle = self.b.market.adl_drains[i].phase == DRAIN_IDLE;
        let mut step = None;
        let ok = self.tx(Some(id), &[], |st, _, _, _| {
            if idle {
                st.drain_begin(i)
            } else {
                step = Some(st.drain_step(i)?);
                Ok(())
            }
        });
        assert!(ok, "the keeper's drain transaction was refused");
        if let Some(step) = step {
            // One read over the cap at most: the check before a drain's level is fixed.
            assert!(step.reads <= self.cfg.cap + 1 && step.fills.len() <= ADL_DRAIN_BATCH);
            self.report.drain_reductions += step.fills.len() as u64;
            if step.abandoned {
                self.report.drains_abandoned += 1;
            }
            if let Some(s) = self.stats.get_mut(&id) {
                s.reads += step.reads as u64;
                s.fills += step.fills.len() as u64;
            }
        }
        true
    }

    fn liquidate_or_start(&mut self) -> bool {
        let oracle = self.oracle;
        let now = self.now;
        let liq = self.liquidator;
        // The first liquidatable position, bankrupt ones first.
        let target = self
            .b
            .clone()
            .with_raw(|st, _, _| {
                let f = st.market.cumulative_funding;
                let mut best: Option<(bool, u32)> = None;
                for s in 0..st.book.header.high_water {
                    let p = st.book.slot(s).unwrap();
                    if !p.is_open() {
                        continue;
                    }
                    let eq = p.equity(f, oracle).unwrap();
                    let mm =
                        math::margin_requirement(p.base, oracle, st.market.params.mmr_bps).unwrap();
                    if math::is_liquidatable(eq, mm) {
                        let bankrupt = math::is_bankrupt(eq);
                        if best.is_none_or(|b| bankrupt && !b.0) {
                            best = Some((bankrupt, s));
                        }
                    }
                }
                best
            })
            .0;
        let Some((bankrupt, slot)) = target else {
            return false;
        };
        let owner_user = self
            .b
            .users
            .iter()
            .position(|u| u.position_slot(&Pubkey::new_from_array(testkit::MARKET)) == Some(slot))
            .expect("owner");
        if owner_user == liq {
            return false;
        }
        let mut started = None;
        let ok = if bankrupt {
            // The fund is empty: the bankruptcy goes to ADL.
            self.tx(None, &[owner_user], |st, users, fund, _| {
                let mut u = users[owner_user];
                st.price = Some(oracle);
                let ev = st.start_adl(slot, &mut u, fund, oracle, now)?;
                users[owner_user] = u;
                started = Some(ev);
                Ok(())
            })
        } else {
            self.tx(None, &[owner_user, liq], |st, users, fund, _| {
                let mut u = users[owner_user];
                let mut l = users[liq];
                st.price = Some(oracle);
                let size = st.book.slot(slot)?.base.unsigned_abs();
                let notional = (size as u128 * oracle as u128 / ONE as u128) as u64;
                st.liquidate(slot, &mut u, &mut l, fund, size, notional / 5, oracle)?;
                users[owner_user] = u;
                users[liq] = l;
                Ok(())
            })
        };
        if !ok {
            return false;
        }
        self.report.keeper_txs += 1;
        if let Some(ev) = started {
            self.report.events_started += 1;
            self.report.events_by_mode[ev.mode as usize] += 1;
            let n = self.side_counts()[cp_side(&ev) as usize];
            let pending = if ev.mode == ADL_MODE_PRO_RATA {
                self.b
                    .market
                    .adl_events
                    .iter()
                    .find(|e| e.id == ev.id)
                    .map(|e| e.pending as u64)
                    .unwrap_or(0)
            } else {
                0
            };
            self.stats.insert(
                ev.id,
                EventStats {
                    n,
                    obligations: pending,
                    exec_expected: ev.exec_price,
                    escrow_floor: {
                        let q = ev.base_remaining as i128;
                        let q = if ev.side == SIDE_LONG { q } else { -q };
                        (ev.escrow_cash as i128 * BASE + q * ev.exec_price as i128
                            - ev.escrow_cost as i128 * BASE
                            + ev.funding_prepaid as i128)
                            .min(0)
                    },
                    mode: ev.mode,
                    ..EventStats::default()
                },
            );
            let idx = self
                .b
                .market
                .adl_events
                .iter()
                .position(|e| e.id == ev.id)
                .unwrap();
            self.end_event(ev.id, idx);
        } else {
            self.report.liquidations += 1;
        }
        true
    }

    fn claim(&mut self) {
        let who: Vec<usize> = (0..self.b.users.len())
            .filter(|&u| {
                let Some(s) =
                    self.b.users[u].position_slot(&Pubkey::new_from_array(testkit::MARKET))
                else {
                    return false;
                };
                self.b
                    .clone()
                    .with_raw(|st, _, _| {
                        let p = st.book.slot(s).unwrap();
                        p.status == SLOT_ADL_CLOSED || p.adl_payout > 0
                    })
                    .0
            })
            .take(1)
            .collect();
        for u in who {
            self.tx(None, &[u], |st, users, _, _| {
                let mut user = users[u];
                st.settle_payout(&mut user)?;
                users[u] = user;
                Ok(())
            });
            self.report.keeper_txs += 1;
        }
    }

    /// When event `id` (ring index `i`) is done: its keeper transactions against the bound.
    fn end_event(&mut self, id: u64, _i: usize) {
        if self
            .b
            .market
            .adl_events
            .iter()
            .any(|e| e.id == id && e.status == EVENT_ACTIVE)
        {
            return;
        }
        let Some(s) = self.stats.remove(&id) else {
            return;
        };
        self.report.events_done += 1;
        let cap = self.cfg.cap as u64;
        let batch = self.cfg.batch as u64;
        let bound = (2 * s.n * (1 + s.restarts) + s.fills + s.landings).div_ceil(cap)
            + s.fills.div_ceil(batch)
            + s.obligations.div_ceil(self.cfg.crank as u64)
            + s.fills.div_ceil(ADL_DRAIN_BATCH as u64)
            + 4;
        assert!(
            s.restarts <= 2,
            "event {id}: the walk restarted {} times",
            s.restarts
        );
        assert!(
            s.txs <= bound,
            "event {id}: {} keeper transactions, bound {bound} ({s:?})",
            s.txs
        );
        if s.txs > self.report.max_event_txs.0 {
            self.report.max_event_txs = (s.txs, bound);
        }
    }

    // ----- invariants -----

    fn check(&mut self) {
        self.report.checks += 1;
        assert_eq!(self.accounted(), self.total, "conservation");
        let stats = self.stats.clone();
        let mut b = self.b.clone();
        b.with_raw(|st, _, _| {
            let m = &*st.market;
            let f = m.cumulative_funding;
            // Funding pool backed.
            let mut owed = 0i128;
            let (mut long, mut short) = (0u128, 0u128);
            let mut open = [vec![], vec![]];
            for s in 0..st.book.header.high_water {
                let p = st.book.slot(s).unwrap();
                if p.is_open() {
                    owed += math::funding_owed(p.base, f, p.funding_snapshot).unwrap();
                    if p.base > 0 {
                        long += p.base as u128;
                    } else {
                        short += p.base.unsigned_abs() as u128;
                    }
                    open[p.side() as usize].push(s);
                }
            }
            assert!(m.funding_pool as i128 + owed >= 0, "funding pool unbacked");
            for (i, e) in m.adl_events.iter().enumerate() {
                if e.status != EVENT_ACTIVE {
                    continue;
                }
                if e.side == SIDE_LONG {
                    long += e.base_remaining as u128;
                } else {
                    short += e.base_remaining as u128;
                }
                // P_exec moved by exactly the funding applied since the start.
                if let Some(s) = stats.get(&e.id) {
                    assert_eq!(e.exec_price, s.exec_expected, "P_exec of event {}", e.id);
                }
                // Escrow exact equity at P_exec ≥ −prepaid.
                let q = if e.side == SIDE_LONG {
                    e.base_remaining as i128
                } else {
                    -(e.base_remaining as i128)
                };
                let eq = e.escrow_cash as i128 * BASE + q * e.exec_price as i128
                    - e.escrow_cost as i128 * BASE;
                let floor = stats.get(&e.id).map_or(0, |s| s.escrow_floor);
                assert!(
                    eq + e.funding_prepaid as i128 >= floor,
                    "escrow of event {} short: eq {eq} (floor {floor}) {e:?}",
                    e.id
                );
                // Pro-rata bookkeeping.
                if e.mode == ADL_MODE_PRO_RATA {
                    let owing = (0..st.book.header.high_water)
                        .filter(|&s| {
                            adl_engine::engine::obligation_pending(e, st.book.slot(s).unwrap())
                        })
                        .count();
                    assert_eq!(
                        owing, e.pending as usize,
                        "pro-rata pending of event {}",
                        e.id
                    );
                }
                // Ranked progress.
                if e.mode == ADL_MODE_RANKED_QUEUE {
                    let side = cp_side(e);
                    let q = st.queue(side);
                    let w = m.adl_walks[i];
                    for t in 0..2usize {
                        let done = e.walk_flags & [WALK_TIER1_DONE, WALK_TIER2_DONE][t] != 0;
                        let upto = if done { q.len() } else { w.cursor[t] as usize };
                        for ent in &q.by_leverage[..upto.min(q.len())] {
                            let p = st.book.slot(ent.slot()).unwrap();
                            assert!(
                                !takeable(st, i, p, t as u8 + 1),
                                "event {}: slot {} takeable in tier {} ahead of the cursor",
                                e.id,
                                ent.slot(),
                                t + 1
                            );
                        }
                    }
                }
                // Drain progress.
                if e.mode == ADL_MODE_LEVERAGE_DRAIN {
                    let d = m.adl_drains[i];
                    let side = cp_side(e);
                    let q = st.queue(side);
                    let c = (d.cursor as usize).min(q.len());
                    if d.phase == DRAIN_MEASURING || d.phase == DRAIN_TRIMMING {
                        // The sums are those of the eligible prefix before the cursor.
                        let (mut sb, mut se) = (0u64, 0u64);
                        for ent in &q.by_leverage[..c] {
                            let p = st.book.slot(ent.slot()).unwrap();
                            if let Some((s, eq)) = adl::drain_terms(p, f, e.exec_price).unwrap() {
                                sb += s;
                                se += eq;
                            }
                        }
                        assert_eq!(
                            (sb, se),
                            (d.sum_base, d.sum_equity),
                            "drain sums of event {}",
                            e.id
                        );
                    } else if d.phase == DRAIN_APPLYING {
                        // Nothing in front of the cursor has a cut left beyond one fill's
                        // rounding (3 atoms of drain equity): no position escaped the drain.
                        assert!(d.cursor <= d.end && d.end as usize <= q.len());
                        let per_atom = (d.level_bps as u128 * 1_000_000_000)
                            .div_ceil(d.price as u128 * 10_000);
                        for ent in &q.by_leverage[..c] {
                            let p = st.book.slot(ent.slot()).unwrap();
                            let cut = match adl::drain_terms(p, f, e.exec_price).unwrap() {
                                Some((s, eq)) => {
                                    adl::drain_cut(s, eq, d.level_bps, d.price).unwrap()
                                }
                                None => 0,
                            };
                            assert!(
                                cut as u128 <= 3 * per_atom + 1,
                                "event {}: slot {} in front of the drain's cursor with a cut \
                                 of {cut} left",
                                e.id,
                                ent.slot()
                            );
                        }
                    }
                }
            }
            assert_eq!(long, m.open_interest_long as u128, "long open interest");
            assert_eq!(short, m.open_interest_short as u128, "short open interest");
            assert_eq!(long, short, "open interest balance");
            // Queues: exactly the open positions of each side, in exact order.
            for side in [SIDE_LONG, SIDE_SHORT] {
                let q = st.queue(side);
                let arr = &q.by_leverage[..q.len()];
                assert_eq!(arr.len(), open[side as usize].len(), "queue length");
                for w in arr.windows(2) {
                    let (a, b) = (w[0].slot(), w[1].slot());
                    assert!(
                        ahead(st.book.slot(a).unwrap(), a, st.book.slot(b).unwrap(), b),
                        "by_leverage out of order"
                    );
                }
                for ent in arr {
                    let p = st.book.slot(ent.slot()).unwrap();
                    assert_eq!(p.queue_entries(ent.slot()).unwrap().1, *ent);
                }
            }
        });
    }

    fn step(&mut self) {
        self.now += 1;
        self.report.ops += 1;
        let r = self.rng.range(0, 100);
        match r {
            0..=17 => self.honest_trade(),
            18..=23 => self.oracle_move(),
            24..=35 => self.keeper(),
            36..=49 => self.margin_toggle(),
            50..=55 => self.margin_move(true),
            56..=61 => self.margin_move(false),
            62..=71 => self.dust_or_self_trade(),
            72..=85 => self.funding_crank(),
            86..=97 => self.try_fallback(),
            _ => {
                // The admin changes the policy of future events.
                self.b.market.adl_mode = self.rng.range(0, 3) as u8;
            }
        }
        if self.cfg.check_every_op {
            self.check();
        }
    }
}

/// Extra outputs of an operation's body.
#[derive(Default)]
pub struct World2 {
    funding: Vec<i64>,
}

/// Runs the soak; panics on the first violated invariant (with the seed in the message of
/// the caller). Returns what happened.
pub fn run(cfg: SoakConfig) -> SoakReport {
    let ops = cfg.ops;
    let mut w = World::new(cfg);
    w.check();
    for _ in 0..ops {
        w.step();
    }
    // Drain: the keeper alone, prices held, until every event is done.
    let mut guard = 0;
    while w.b.market.any_event_active() {
        guard += 1;
        assert!(
            guard < 200_000,
            "events never end: {:?}",
            w.b.market.adl_events
        );
        w.now += 1;
        let before = w.report.keeper_txs;
        w.keeper();
        if w.report.keeper_txs == before {
            // Nothing the keeper can do: the fallback (once), or a starved event waiting for
            // eligible size — the honest traders bring it.
            w.try_fallback();
            w.honest_trade();
            w.report.starved_waits += 1;
        }
        if w.cfg.check_every_op {
            w.check();
        }
    }
    w.check();
    meter::set_walk_cap(None);
    w.report
}

//! The simulated exchange: one market on the accounts' real layouts (`adl_engine::testkit`
//! buffers), changed only through the program's own state transitions — the `MarketState`
//! methods the instruction handlers run once their accounts are loaded: `liquidate`,
//! `engine::flag_bankrupt`, `start_adl`, `auto_deleverage` (with the keeper's rank proof),
//! `apply_obligations` (the pro-rata crank), `drain_begin` + `drain_step`, `begin_pro_rata`
//! (the deadline fallback) and `engine::apply_funding`. The simulator decides only *when*
//! each permissionless transaction is sent and by whom, as keepers and liquidators would.
//!
//! One exception, by design: the PnL%×leverage baseline is not a program policy. Its events
//! are ranked-mode events of the program whose fills are chosen in the baseline's order and
//! applied with `apply_adl_fills` (the program would reject that proof); everything else —
//! the escrow, `P_exec`, the fill arithmetic, eligibility, the queues — is the program's.

use std::collections::HashMap;

use adl_engine::adl::{self, PlannedFill};
use adl_engine::engine::{self, MarketState};
use adl_engine::error::AdlError;
use adl_engine::math;
use adl_engine::state::*;
use adl_engine::testkit::{self, Bufs};
use anchor_lang::prelude::Pubkey;

/// Slots per simulated step (about one minute at 400 ms per slot).
pub const SLOTS_PER_STEP: u64 = 150;
/// Largest number of position slots one transaction can list: a 1,232-byte transaction with
/// one signature (65), a header and six account keys (3 + 1 + 6·32), a blockhash (32), the
/// program index, account indices and instruction data before the list (≈ 40 bytes) leaves
/// room for about 230 four-byte slots; 200 keeps a margin.
pub const MAX_SLOTS_PER_TX: usize = 200;

/// How the simulated market allocates ADL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocation {
    /// One of the program's modes (`ADL_MODE_*`), run exactly as on chain.
    Program(u8),
    /// Baseline: Binance's documented ADL ranking (its "LeveragePnL": unrealized-profit share
    /// of the position's collateral times the margin ratio's leverage), applied to ranked
    /// events in place of the program's rank proof.
    BinanceLeveragePnl,
    /// Fairness optimum: each event's size spread so that the largest haircut / equity is
    /// smallest (`min_max_sizes`), applied like the baseline.
    MinMaxPct,
}

/// Market and actor parameters of one run.
#[derive(Clone, Debug)]
pub struct Config {
    pub imr_bps: u32,
    pub mmr_bps: u32,
    pub liquidation_fee_bps: u32,
    pub liquidation_fee_to_fund_bps: u32,
    /// Per-event cap on what the fund pays, quote atoms.
    pub max_insurance_per_event: u64,
    pub grace_slots: u64,
    pub deadline_slots: u64,
    pub allocation: Allocation,
    /// Liquidators and the collateral each can post, quote atoms.
    pub liquidators: usize,
    pub liquidator_capacity: u64,
    /// Counterparties per `auto_deleverage` transaction.
    pub fills_per_tx: usize,
    /// Slots per pro-rata crank transaction.
    pub slots_per_crank_tx: usize,
}

/// Counts of transactions and keeper work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Work {
    pub liquidations: u64,
    pub flags: u64,
    pub adl_starts: u64,
    pub adl_txs: u64,
    pub crank_txs: u64,
    pub drain_txs: u64,
    pub fallbacks: u64,
    /// Entries the ranked walks read (`auto_deleverage`'s count).
    pub walk_reads: u64,
    /// Largest number of slots one ADL transaction had to list.
    pub max_tx_slots: usize,
    /// Drains whose slot list exceeded `MAX_SLOTS_PER_TX` (they could not be sent as one
    /// transaction on chain; the simulator applies them and counts them here).
    pub oversized_txs: u64,
    /// The program's cost meter over every simulated transaction.
    pub entries_read: u64,
    pub memmove_entries: u64,
}

/// One ADL reduction of a trader's position, valued at the oracle price of the moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub user: usize,
    pub base: u64,
    /// What the trader gave up against a close at the oracle price: its value (free
    /// collateral + pending payout + equity at the oracle) before minus after, quote atoms.
    pub haircut: i128,
    /// The position's equity at the oracle price just before the reduction.
    pub equity_before: i128,
}

pub struct Exchange {
    pub bufs: Bufs,
    pub fund: InsuranceFund,
    pub cfg: Config,
    pub now: u64,
    owners: HashMap<Pubkey, usize>,
    /// Indices into `bufs.users` of the liquidators.
    pub liquidators: Vec<usize>,
    pub work: Work,
    pub hits: Vec<Hit>,
    /// Base atoms closed by liquidations (signed: + a long taken over, − a short).
    pub liquidated_flow: i128,
}

fn is(e: &anchor_lang::error::Error, code: AdlError) -> bool {
    *e == anchor_lang::error::Error::from(code)
}

impl Exchange {
    /// A market holding `longs` and `shorts` (`(size, entry price, margin)`, atoms) as users
    /// 1..=n (owner index `i + 1` for the `i`-th position, longs first), an insurance fund of
    /// `fund` quote atoms, and the liquidators after the traders.
    pub fn new(longs: &[testkit::Long], shorts: &[testkit::Long], fund: u64, cfg: Config) -> Self {
        let n = longs.len() + shorts.len();
        let mut bufs = testkit::two_sided_with_spare(longs, shorts, cfg.liquidators);
        let p = &mut bufs.market.params;
        p.imr_bps = cfg.imr_bps;
        p.mmr_bps = cfg.mmr_bps;
        p.liquidation_fee_bps = cfg.liquidation_fee_bps;
        p.liquidation_fee_to_fund_bps = cfg.liquidation_fee_to_fund_bps;
        p.max_insurance_per_event = cfg.max_insurance_per_event;
        p.bankruptcy_grace_slots = cfg.grace_slots;
        p.adl_deadline_slots = cfg.deadline_slots;
        bufs.market.adl_mode = match cfg.allocation {
            Allocation::Program(m) => m,
            Allocation::BinanceLeveragePnl | Allocation::MinMaxPct => ADL_MODE_RANKED_QUEUE,
        };
        let key = Pubkey::new_from_array(testkit::MARKET);
        let mut users = vec![testkit::user(0)];
        let mut owners = HashMap::new();
        for i in 0..n {
            let mut u = testkit::user(i + 1);
            u.free_collateral = 0;
            u.add_position(key, i as u32).expect("one market");
            owners.insert(u.owner, i + 1);
            users.push(u);
        }
        let mut liquidators = vec![];
        for k in 0..cfg.liquidators {
            let mut u = testkit::user(n + 1 + k);
            u.free_collateral = cfg.liquidator_capacity;
            owners.insert(u.owner, users.len());
            liquidators.push(users.len());
            users.push(u);
        }
        bufs.users = users;
        let mut f = bufs.fund;
        f.balance = fund;
        Exchange {
            bufs,
            fund: f,
            cfg,
            now: 1,
            owners,
            liquidators,
            work: Work::default(),
            hits: vec![],
            liquidated_flow: 0,
        }
    }
}

/// A trader's value at `price`: free collateral, pending ADL payout and the equity of its
/// position in the market (0 without one), quote atoms; and that equity.
fn value(st: &MarketState, users: &[UserAccount], user: usize, price: u64) -> (i128, i128) {
    let u = &users[user];
    let mut v = u.free_collateral as i128;
    let mut eq = 0;
    if let Some(slot) = u.position_slot(&st.key) {
        if let Ok(p) = st.book.slot(slot) {
            eq = p
                .equity(st.market.cumulative_funding, price)
                .expect("equity fits");
            v += p.adl_payout as i128 + eq;
        }
    }
    (v, eq)
}

/// Counterparty side of an event.
fn cp_side(ev: &AdlEvent) -> u8 {
    if ev.side == SIDE_LONG {
        SIDE_SHORT
    } else {
        SIDE_LONG
    }
}

fn queue_slots(st: &MarketState, side: u8) -> Vec<u32> {
    let q = st.queue(side);
    q.by_leverage[..q.len()].iter().map(|e| e.slot()).collect()
}

impl Exchange {
    fn with<R>(
        &mut self,
        price: Option<u64>,
        f: impl FnOnce(&mut MarketState, &mut Vec<UserAccount>, &mut InsuranceFund, &mut Work) -> R,
    ) -> R {
        let fund = &mut self.fund;
        let work = &mut self.work;
        self.bufs.with(|st, users| {
            st.price = price;
            adl_engine::meter::reset();
            let r = f(st, users, fund, work);
            let c = adl_engine::meter::counts();
            work.entries_read += c.entries_read;
            work.memmove_entries += c.memmove_entries;
            r
        })
    }

    /// The user index of a position's owner.
    pub fn owner_of(&self, owner: &Pubkey) -> usize {
        self.owners[owner]
    }

    /// A user's value and position equity at `price` (see `Hit::haircut`).
    pub fn value_of(&mut self, user: usize, price: u64) -> (i128, i128) {
        self.bufs.with(|st, users| value(st, users, user, price))
    }

    /// Runs `f` (which changes the positions of `slots`) and records one `Hit` per owner whose
    /// position it reduced, valued at `price`.
    fn record_hits(
        &mut self,
        slots: &[u32],
        price: u64,
        f: impl FnOnce(&mut MarketState, &mut Vec<UserAccount>, &mut InsuranceFund, &mut Work),
    ) {
        let owners = &self.owners;
        let fund = &mut self.fund;
        let work = &mut self.work;
        let hits = &mut self.hits;
        self.bufs.with(|st, users| {
            let mut before = Vec::with_capacity(slots.len());
            for &s in slots {
                let p = *st.book.slot(s).expect("slot");
                let user = owners[&p.owner];
                let (v, eq) = value(st, users, user, price);
                before.push((s, user, p.base.unsigned_abs(), v, eq));
            }
            adl_engine::meter::reset();
            f(st, users, fund, work);
            let c = adl_engine::meter::counts();
            work.entries_read += c.entries_read;
            work.memmove_entries += c.memmove_entries;
            for (s, user, base_before, v, eq) in before {
                let p = st.book.slot(s).expect("slot");
                let base_after = if p.owner == users[user].owner {
                    p.base.unsigned_abs()
                } else {
                    0
                };
                if base_after < base_before {
                    let (v_after, _) = value(st, users, user, price);
                    hits.push(Hit {
                        user,
                        base: base_before - base_after,
                        haircut: v - v_after,
                        equity_before: eq,
                    });
                }
            }
        });
    }

    /// The margin a liquidator must post to take over `delta` (its side) for `notional` at
    /// `price` and meet initial margin (0 when the takeover reduces its position and leaves
    /// it solvent); `None` when it cannot.
    fn takeover_margin(
        st: &MarketState,
        liq: &UserAccount,
        delta: i64,
        notional: u64,
        price: u64,
    ) -> Option<u64> {
        let funding = st.market.cumulative_funding;
        let mut a = match liq.position_slot(&st.key) {
            Some(s) => {
                let p = st.book.slot(s).ok()?;
                if !p.is_open() {
                    return None;
                }
                let f = math::funding_owed(p.base, funding, p.funding_snapshot).ok()?;
                math::PositionAmounts {
                    base: p.base,
                    cost_basis: p.cost_basis,
                    margin: math::to_i64(p.margin as i128 - f).ok()?,
                }
            }
            None => math::PositionAmounts::default(),
        };
        let out = math::apply_fill(&mut a, delta, notional).ok()?;
        let eq = math::equity(a.base, a.cost_basis, a.margin, 0, 0, price).ok()?;
        if a.base == 0 {
            return Some(0);
        }
        if !out.risk_increasing {
            return (!math::is_bankrupt(eq)).then_some(0);
        }
        let im = math::margin_requirement(a.base, price, st.market.params.imr_bps).ok()?;
        let need = (im - eq).max(0);
        (need <= liq.free_collateral as i128).then_some(need as u64)
    }

    /// One liquidation round at `price` over every open position in slot order: pending
    /// pro-rata obligations applied first (as any touch does); below maintenance, the first
    /// liquidator with the collateral takes the whole position over at the oracle price (the
    /// fund paying a bankrupt one's deficit and the liquidator's fee share, within the
    /// per-event cap); a bankrupt position is flagged, and goes to ADL when the fund cannot
    /// pay or its grace is over. Returns the positions acted on and the signed liquidated
    /// notional (+ longs taken over), quote atoms.
    pub fn liquidation_round(&mut self, price: u64) -> (usize, i128) {
        let now = self.now;
        let liquidators = self.liquidators.clone();
        let owners = self.owners.clone();
        let candidates: Vec<u32> = self.bufs.with(|st, _| {
            let funding = st.market.cumulative_funding;
            let mmr = st.market.params.mmr_bps;
            (0..st.book.header.high_water)
                .filter(|&i| {
                    let Ok(p) = st.book.slot(i) else { return false };
                    p.is_open()
                        && match (
                            p.equity(funding, price),
                            math::margin_requirement(p.base, price, mmr),
                        ) {
                            (Ok(eq), Ok(mm)) => math::is_liquidatable(eq, mm),
                            _ => false,
                        }
                })
                .collect()
        });
        let mut acted = 0;
        let mut flow = 0i128;
        for slot in candidates {
            // Pending pro-rata obligations first (a crank; recorded as ADL reductions): of
            // the position, and of the liquidators who may take it over.
            let mut touch = vec![slot];
            let key = Pubkey::new_from_array(testkit::MARKET);
            for &k in &liquidators {
                if let Some(s) = self.bufs.users[k].position_slot(&key) {
                    touch.push(s);
                }
            }
            self.crank_slots(&touch, price);
            let (a, f) = self.with(Some(price), |st, users, fund, work| {
                let pos = *st.book.slot(slot).expect("slot");
                if !pos.is_open() {
                    return (0, 0);
                }
                let params = st.market.params;
                let eq = pos
                    .equity(st.market.cumulative_funding, price)
                    .expect("equity");
                let mm = math::margin_requirement(pos.base, price, params.mmr_bps).expect("mm");
                if !math::is_liquidatable(eq, mm) {
                    return (0, 0);
                }
                let owner = owners[&pos.owner];
                let bankrupt = math::is_bankrupt(eq);
                if bankrupt && pos.bankrupt_since_slot == 0 {
                    let (market, book) = (&mut *st.market, &mut st.book);
                    engine::flag_bankrupt(market, book.slot_mut(slot).expect("slot"), price, now)
                        .expect("flag");
                    work.flags += 1;
                }
                let size = pos.base.unsigned_abs();
                let is_long = pos.base > 0;
                let notional = math::close_notional(is_long, size, price).expect("notional");
                let fee = math::fee(notional, params.liquidation_fee_bps).expect("fee");
                let (_, to_liq) =
                    math::split_fee(fee, params.liquidation_fee_to_fund_bps).expect("split");
                let fund_ok = !bankrupt
                    || fund.available(params.max_insurance_per_event) as i128
                        >= -eq + to_liq as i128;
                let delta = if is_long { size as i64 } else { -(size as i64) };
                let taker = if fund_ok {
                    liquidators.iter().copied().find_map(|k| {
                        if k == owner {
                            return None;
                        }
                        Self::takeover_margin(st, &users[k], delta, notional, price).map(|m| (k, m))
                    })
                } else {
                    None
                };
                if let Some((k, margin)) = taker {
                    let (mut a, mut b) = (users[owner], users[k]);
                    match st.liquidate(slot, &mut a, &mut b, fund, size, margin, price) {
                        Ok(_) => {
                            users[owner] = a;
                            users[k] = b;
                            work.liquidations += 1;
                            let n = notional as i128;
                            return (1, if is_long { n } else { -n });
                        }
                        Err(e)
                            if is(&e, AdlError::NotLiquidatable)
                                || is(&e, AdlError::InsufficientInsurance) =>
                        {
                            users[owner] = a;
                        }
                        Err(e) => panic!("liquidate slot {slot}: {e}"),
                    }
                }
                if bankrupt {
                    let mut a = users[owner];
                    let r = st.start_adl(slot, &mut a, fund, price, now);
                    users[owner] = a;
                    match r {
                        Ok(_) => {
                            work.adl_starts += 1;
                            return (1, 0);
                        }
                        Err(e)
                            if is(&e, AdlError::InsuranceCanCover)
                                || is(&e, AdlError::AdlEventRingFull)
                                || is(&e, AdlError::NotBankrupt) => {}
                        Err(e) => panic!("start_adl slot {slot}: {e}"),
                    }
                }
                (0, 0)
            });
            acted += a;
            flow += f;
        }
        (acted, flow)
    }

    /// Applies the pending pro-rata obligations of those of `slots` that owe any, as one
    /// crank transaction, recording the reductions.
    fn crank_slots(&mut self, slots: &[u32], price: u64) {
        let owing: Vec<u32> = self.bufs.with(|st, _| {
            slots
                .iter()
                .copied()
                .filter(|&s| {
                    st.book.slot(s).is_ok_and(|p| {
                        st.market
                            .adl_events
                            .iter()
                            .any(|e| engine::obligation_pending(e, p))
                    })
                })
                .collect()
        });
        if owing.is_empty() {
            return;
        }
        self.record_hits(&owing, price, |st, _, _, work| {
            for &s in &owing {
                st.apply_obligations(s).expect("obligation applies");
            }
            work.crank_txs += 1;
        });
    }
}

/// Binance's documented ADL ranking score of an isolated position at the mark `price`
/// ("LeveragePnL"): `PnL% = max(0, unrealized profit) / max(1 USD, wallet balance)` times
/// `margin ratio = maintenance margin / (wallet balance + unrealized profit)` (0 when that
/// sum is not positive), the wallet balance being the position's margin after funding.
pub fn binance_score(pos: &PositionSlot, funding: i64, price: u64, mmr_bps: u32) -> f64 {
    let Ok(f) = math::funding_owed(pos.base, funding, pos.funding_snapshot) else {
        return 0.0;
    };
    let wallet = pos.margin as f64 - f as f64;
    let Ok(value) = math::position_value(pos.base, price) else {
        return 0.0;
    };
    let upnl = value as f64 - pos.cost_basis as f64;
    let total = wallet + upnl;
    if total <= 0.0 {
        return 0.0;
    }
    let mm = math::margin_requirement(pos.base, price, mmr_bps).unwrap_or(0) as f64;
    upnl.max(0.0) / wallet.max(1e6) * (mm / total)
}

/// The min-max allocation of `q` base atoms over eligible counterparties: every fill closes
/// at `P_exec`, so a winner gives up the same amount per unit closed, and the largest
/// haircut / equity is smallest when each closes in proportion to its equity at the oracle
/// (`r_i = min(|q_i|, λ·E_i)`, λ by bisection; water-filling). Returns (slot, size) pairs.
pub fn min_max_sizes(cands: &[(u32, u64, i128)], q: u64) -> Vec<(u32, u64)> {
    let total: u128 = cands.iter().map(|c| c.1 as u128).sum();
    if total <= q as u128 {
        return cands.iter().map(|c| (c.0, c.1)).collect();
    }
    // sizes(λ) = Σ min(|q_i|, floor(λ·E_i)), λ as a fraction `num / 2^40` per quote atom.
    let sizes = |lam: u128| -> Vec<(u32, u64)> {
        cands
            .iter()
            .map(|&(s, cap, eq)| {
                let r = (lam * eq.max(0) as u128) >> 40;
                (s, r.min(cap as u128) as u64)
            })
            .collect()
    };
    let sum = |v: &[(u32, u64)]| v.iter().map(|x| x.1 as u128).sum::<u128>();
    let (mut lo, mut hi) = (0u128, 1u128 << 80);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if sum(&sizes(mid)) <= q as u128 {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut out = sizes(lo);
    // The floors leave a few atoms: one more each from the largest equities down.
    let mut left = q as u128 - sum(&out);
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cands[i].2));
    for i in order {
        if left == 0 {
            break;
        }
        if out[i].1 < cands[i].1 {
            out[i].1 += 1;
            left -= 1;
        }
    }
    out.retain(|x| x.1 > 0);
    out
}

impl Exchange {
    /// One ranked `auto_deleverage` transaction of event `index`: the keeper's plan (the
    /// program's walk from the saved cursors, at most `fills_per_tx` fills) submitted as the
    /// rank proof. False when there is nothing to fill and the walk is not capped.
    fn ranked_tx(&mut self, index: usize, price: u64) -> bool {
        let per_tx = self.cfg.fills_per_tx;
        let (slots, capped) = self
            .bufs
            .with(|st, _| testkit::keeper_plan(st, index, per_tx));
        if slots.is_empty() && !capped {
            return false;
        }
        self.record_hits(&slots, price, |st, _, _, work| {
            let (fills, reads) = st
                .auto_deleverage(index, &slots)
                .unwrap_or_else(|e| panic!("the keeper's proof is the program's walk: {e}"));
            assert_eq!(fills.len(), slots.len());
            work.adl_txs += 1;
            work.walk_reads += reads as u64;
            work.max_tx_slots = work.max_tx_slots.max(slots.len());
        });
        true
    }

    /// A baseline's fills for the whole remaining size of event `index`, applied with the
    /// program's `apply_adl_fills` (transactions counted as `fills_per_tx` fills each).
    fn baseline_fills(&mut self, index: usize, price: u64) -> bool {
        let alloc = self.cfg.allocation;
        let mmr = self.cfg.mmr_bps;
        let fills: Vec<PlannedFill> = self.bufs.with(|st, _| {
            let ev = st.market.adl_events[index];
            let funding = st.market.cumulative_funding;
            let slots = queue_slots(st, cp_side(&ev));
            let mut out = vec![];
            let mut remaining = ev.base_remaining;
            match alloc {
                Allocation::BinanceLeveragePnl => {
                    let mut scored: Vec<(f64, u32)> = slots
                        .iter()
                        .map(|&s| {
                            let p = st.book.slot(s).expect("slot");
                            (binance_score(p, funding, price, mmr), s)
                        })
                        .collect();
                    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                    for (_, s) in scored {
                        if remaining == 0 {
                            break;
                        }
                        let p = st.book.slot(s).expect("slot");
                        if let Ok(f) = adl::plan_fill(s, p, funding, ev.exec_price, remaining) {
                            remaining -= f.base;
                            out.push(f);
                        }
                    }
                }
                Allocation::Program(_) => unreachable!("program modes run on chain paths"),
                Allocation::MinMaxPct => {
                    // Eligible: a full close at P_exec leaves non-negative equity.
                    let cands: Vec<(u32, u64, i128)> = slots
                        .iter()
                        .filter_map(|&s| {
                            let p = st.book.slot(s).ok()?;
                            let size = p.base.unsigned_abs();
                            adl::plan_fill(s, p, funding, ev.exec_price, size).ok()?;
                            Some((s, size, p.equity(funding, price).ok()?))
                        })
                        .collect();
                    for (s, r) in min_max_sizes(&cands, remaining) {
                        let p = st.book.slot(s).expect("slot");
                        if let Ok(f) = adl::plan_fill(s, p, funding, ev.exec_price, r) {
                            out.push(f);
                        }
                    }
                }
            }
            out
        });
        if fills.is_empty() {
            return false;
        }
        let slots: Vec<u32> = fills.iter().map(|f| f.slot).collect();
        let per_tx = self.cfg.fills_per_tx.max(1);
        self.record_hits(&slots, price, |st, _, _, work| {
            // One fill per call: `apply_adl_fills` re-indexes one partial fill per batch (the
            // ranked walk's last), and a baseline may leave many partial.
            for f in &fills {
                st.apply_adl_fills(index, std::slice::from_ref(f))
                    .expect("baseline fills apply");
            }
            work.adl_txs += fills.len().div_ceil(per_tx) as u64;
            work.max_tx_slots = work.max_tx_slots.max(per_tx.min(fills.len()));
        });
        true
    }

    /// Pro-rata crank of event `index`: every counterparty that still owes it, in
    /// transactions of `slots_per_crank_tx` slots (`apply_obligations` per slot).
    fn crank(&mut self, index: usize, price: u64) -> bool {
        let pending: Vec<u32> = self.bufs.with(|st, _| {
            let ev = st.market.adl_events[index];
            queue_slots(st, cp_side(&ev))
                .into_iter()
                .filter(|&s| {
                    st.book
                        .slot(s)
                        .map(|p| engine::obligation_pending(&ev, p))
                        .unwrap_or(false)
                })
                .collect()
        });
        if pending.is_empty() {
            return false;
        }
        for chunk in pending.chunks(self.cfg.slots_per_crank_tx.max(1)) {
            self.record_hits(chunk, price, |st, _, _, work| {
                for &s in chunk {
                    st.apply_obligations(s).expect("obligation applies");
                }
                work.crank_txs += 1;
                work.max_tx_slots = work.max_tx_slots.max(chunk.len());
            });
        }
        true
    }

    /// One transaction of the leverage drain of event `index`, as the keeper sends it: it
    /// begins the drain (the program finds the level) or takes the next step of the drain in
    /// progress (`MarketState::drain_step`, the handler's body): at most
    /// `ADL_DRAIN_READ_CAP` entries read measuring, `ADL_WALK_CAP` applying, and
    /// `ADL_DRAIN_BATCH` positions reduced. A transaction lists no slots (the program walks the queue); the
    /// positions it reduced are counted as its size. Always progresses.
    fn drain(&mut self, index: usize, price: u64) -> bool {
        if self.bufs.market.adl_drains[index].phase == DRAIN_IDLE {
            self.bufs.with(|st, _| {
                st.drain_begin(index).expect("drain begins");
            });
            self.work.drain_txs += 1;
            return true;
        }
        // The positions this step can reach: the region from its cursor.
        let candidates: Vec<u32> = {
            let d = self.bufs.market.adl_drains[index];
            let ev = self.bufs.market.adl_events[index];
            let side = cp_side(&ev);
            if d.phase == DRAIN_APPLYING {
                self.bufs.with(|st, _| {
                    let q = st.queue(side);
                    let from = d.cursor as usize;
                    let to = (d.end as usize).min(from + ADL_WALK_CAP).min(q.len());
                    q.by_leverage[from..to].iter().map(|e| e.slot()).collect()
                })
            } else {
                Vec::new()
            }
        };
        self.record_hits(&candidates, price, |st, _, _, work| {
            let step = st.drain_step(index).expect("drain step");
            work.drain_txs += 1;
            work.max_tx_slots = work.max_tx_slots.max(step.fills.len());
            if step.fills.len() > MAX_SLOTS_PER_TX {
                work.oversized_txs += 1;
            }
        });
        true
    }

    /// Keeper work on every active event at `price`, then the deadline fallback
    /// (`begin_pro_rata`, the `adl_switch_to_pro_rata` handler's body) for events that
    /// cannot progress after their deadline — once per event. Returns the actions taken.
    pub fn adl_round(&mut self, price: u64, switched: &mut Vec<u64>) -> usize {
        let mut acted = 0;
        for index in 0..ADL_EVENT_RING {
            loop {
                let ev = self.bufs.market.adl_events[index];
                if ev.status != EVENT_ACTIVE {
                    break;
                }
                let blocked =
                    ev.mode != ADL_MODE_PRO_RATA && self.bufs.market.pro_rata_pending(ev.side);
                let progressed = if blocked {
                    false
                } else {
                    match (ev.mode, self.cfg.allocation) {
                        (ADL_MODE_PRO_RATA, _) => self.crank(index, price),
                        (ADL_MODE_LEVERAGE_DRAIN, _) => self.drain(index, price),
                        (_, Allocation::Program(_)) => self.ranked_tx(index, price),
                        _ => self.baseline_fills(index, price),
                    }
                };
                if progressed {
                    acted += 1;
                    continue;
                }
                let ev = self.bufs.market.adl_events[index];
                if ev.status == EVENT_ACTIVE
                    && ev.mode != ADL_MODE_PRO_RATA
                    && self.now > ev.deadline_slot
                    && !switched.contains(&ev.id)
                {
                    switched.push(ev.id);
                    self.with(None, |st, _, _, work| {
                        st.begin_pro_rata(index).expect("fallback");
                        work.fallbacks += 1;
                    });
                    acted += 1;
                    continue;
                }
                break;
            }
        }
        acted
    }
}

impl Exchange {
    /// Everything the exchange owes or holds, quote atoms: free collateral, pending payouts,
    /// the fund, the market's pools and sink, and `margin − cost basis` of every position and
    /// active escrow. With both sides' sizes equal (every fill has two sides) this is what
    /// all equities add up to at any price, so every transition must leave it unchanged.
    pub fn total_value(&mut self) -> i128 {
        let fund = self.fund.balance as i128;
        self.bufs.with(|st, users| {
            let m = &st.market;
            let mut v =
                fund + m.funding_pool as i128 + m.fee_pool as i128 + m.rounding_sink as i128;
            v += users
                .iter()
                .map(|u| u.free_collateral as i128)
                .sum::<i128>();
            for i in 0..st.book.header.high_water {
                let p = st.book.slot(i).expect("slot");
                if p.is_allocated() {
                    v += p.margin as i128 - p.cost_basis as i128 + p.adl_payout as i128;
                }
            }
            for e in m.adl_events.iter().filter(|e| e.status == EVENT_ACTIVE) {
                v += e.escrow_cash as i128 - e.escrow_cost as i128;
            }
            v
        })
    }

    /// Signed size of every position and active escrow (zero when every fill had two sides).
    pub fn net_size(&mut self) -> i128 {
        self.bufs.with(|st, _| {
            let mut n = 0i128;
            for i in 0..st.book.header.high_water {
                let p = st.book.slot(i).expect("slot");
                if p.is_open() {
                    n += p.base as i128;
                }
            }
            for e in st
                .market
                .adl_events
                .iter()
                .filter(|e| e.status == EVENT_ACTIVE)
            {
                let q = e.base_remaining as i128;
                n += if e.side == SIDE_LONG { q } else { -q };
            }
            n
        })
    }

    /// Both queues hold exactly the open positions of their side, each entry as the position
    /// computes it, in the program's exact order; open interest matches the book plus escrows.
    pub fn check_queues(&mut self) -> Result<(), String> {
        self.bufs.with(|st, _| {
            for side in [SIDE_LONG, SIDE_SHORT] {
                let (lev, ent) = {
                    let q = st.queue(side);
                    (
                        q.by_leverage[..q.len()].to_vec(),
                        q.by_entry[..q.len()].to_vec(),
                    )
                };
                let mut want_lev = vec![];
                let mut want_ent = vec![];
                let mut oi = 0u64;
                for i in 0..st.book.header.high_water {
                    let p = st.book.slot(i).map_err(|e| e.to_string())?;
                    if p.is_open() && p.side() == side {
                        let (_, l, e) = p.queue_entries(i).map_err(|e| e.to_string())?;
                        want_lev.push(l);
                        want_ent.push(e);
                        oi += p.base.unsigned_abs();
                    }
                }
                testkit::exact_sort(st, side, &mut want_lev);
                want_ent.sort_unstable();
                if lev != want_lev {
                    return Err(format!("side {side}: by_leverage differs from the book"));
                }
                if ent != want_ent {
                    return Err(format!("side {side}: by_entry differs from the book"));
                }
                let escrow: u64 = st
                    .market
                    .adl_events
                    .iter()
                    .filter(|e| e.status == EVENT_ACTIVE && e.side == side)
                    .map(|e| e.base_remaining)
                    .sum();
                let m_oi = if side == SIDE_LONG {
                    st.market.open_interest_long
                } else {
                    st.market.open_interest_short
                };
                if m_oi != oi + escrow {
                    return Err(format!(
                        "side {side}: open interest {m_oi} != {oi} + {escrow}"
                    ));
                }
            }
            Ok(())
        })
    }
}

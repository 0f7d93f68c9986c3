//! Book builders for tests and benches (`cost-meter` builds only): a market on in-memory
//! buffers with the accounts' real layouts, driven by the handlers' own `MarketState` code.
//! Books are written slot by slot and their queue arrays sorted once (inserting 100,000
//! positions one by one would shift megabytes per insert and say nothing about ADL).
#![allow(clippy::unwrap_used, clippy::panic, clippy::missing_panics_doc)]

use anchor_lang::prelude::Pubkey;
use bytemuck::Zeroable;

use crate::adl::RankWalk;
use crate::engine::MarketState;
use crate::state::*;

pub const ONE: i64 = 1_000_000_000;
pub const USD: i64 = 1_000_000;
pub const fn px(units: u64) -> u64 {
    units * 1_000_000
}
pub const MARKET: [u8; 32] = [9; 32];

/// A long: (base atoms, entry price atoms, margin quote atoms).
pub type Long = (i64, u64, i64);

/// The market state over the buffers' bytes.
fn state<'a>(
    market: &'a mut Market,
    book: &'a mut [u64],
    long: &'a mut [u64],
    short: &'a mut [u64],
) -> MarketState<'a> {
    MarketState {
        key: Pubkey::new_from_array(MARKET),
        market,
        book: book_mut(bytemuck::cast_slice_mut(book)).unwrap(),
        long_queue: queue_mut(bytemuck::cast_slice_mut(long)).unwrap(),
        short_queue: queue_mut(bytemuck::cast_slice_mut(short)).unwrap(),
        price: None,
        payouts_paused: false,
        arrivals: Vec::new(),
        drain_arrivals: Vec::new(),
        drain_dues: Vec::new(),
    }
}

/// Arrivals recorded by a `Bufs::with_raw` call, for `Bufs::finish`.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    pub arrivals: Vec<(usize, u32)>,
    pub drain_arrivals: Vec<(usize, u32)>,
    pub drain_dues: Vec<(usize, crate::adl::DrainFill)>,
}

#[derive(Clone)]
pub struct Bufs {
    pub market: Market,
    pub book: Vec<u64>,
    pub long: Vec<u64>,
    pub short: Vec<u64>,
    pub users: Vec<UserAccount>,
    pub fund: InsuranceFund,
    /// Arrivals filled at the end of `with` calls (`MarketState::finish`), in order.
    pub served: Vec<(usize, crate::adl::PlannedFill)>,
    /// Drain reductions of positions that left a drain's region (`MarketState::finish`).
    pub drained: Vec<(usize, crate::adl::DrainFill)>,
}

pub fn user(i: usize) -> UserAccount {
    let mut u = UserAccount::zeroed();
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    u.owner = Pubkey::new_from_array(key);
    u.free_collateral = 1_000_000 * USD as u64;
    for r in u.positions.iter_mut() {
        r.slot = u32::MAX;
    }
    u
}

impl Bufs {
    /// Runs `f` on the market state without what instructions do last (`finish`), and
    /// returns the arrivals it recorded: callers that check arrivals against a definition
    /// (on a copy) then call `finish` themselves.
    pub fn with_raw<R>(
        &mut self,
        f: impl FnOnce(&mut MarketState, &mut Vec<UserAccount>, &mut InsuranceFund) -> R,
    ) -> (R, Pending) {
        let mut st = state(
            &mut self.market,
            &mut self.book,
            &mut self.long,
            &mut self.short,
        );
        let r = f(&mut st, &mut self.users, &mut self.fund);
        let pending = Pending {
            arrivals: core::mem::take(&mut st.arrivals),
            drain_arrivals: core::mem::take(&mut st.drain_arrivals),
            drain_dues: core::mem::take(&mut st.drain_dues),
        };
        (r, pending)
    }

    /// What instructions do last (`MarketState::finish`) for the arrivals of a `with_raw`.
    pub fn finish(&mut self, pending: Pending) -> anchor_lang::Result<crate::engine::Finished> {
        let mut st = state(
            &mut self.market,
            &mut self.book,
            &mut self.long,
            &mut self.short,
        );
        st.arrivals = pending.arrivals;
        st.drain_arrivals = pending.drain_arrivals;
        st.drain_dues = pending.drain_dues;
        st.finish()
    }

    pub fn with<R>(&mut self, f: impl FnOnce(&mut MarketState, &mut Vec<UserAccount>) -> R) -> R {
        let book = book_mut(bytemuck::cast_slice_mut(&mut self.book)).unwrap();
        let long_queue = queue_mut(bytemuck::cast_slice_mut(&mut self.long)).unwrap();
        let short_queue = queue_mut(bytemuck::cast_slice_mut(&mut self.short)).unwrap();
        let mut st = MarketState {
            key: Pubkey::new_from_array(MARKET),
            market: &mut self.market,
            book,
            long_queue,
            short_queue,
            price: None,
            payouts_paused: false,
            arrivals: Vec::new(),
            drain_arrivals: Vec::new(),
            drain_dues: Vec::new(),
        };
        let r = f(&mut st, &mut self.users);
        // As every instruction does last (`instructions::with_market_state`).
        let done = st.finish().unwrap();
        self.served.extend(done.fills);
        self.drained.extend(done.drains);
        r
    }
}

/// Sorts `by_leverage` entries of `side` into the program's exact order (key, exact key
/// fraction, age), reading the positions from the book.
pub fn exact_sort(st: &MarketState, side: u8, lev: &mut [QueueEntry]) {
    let book = &st.book;
    let frac_of = |s: u32| book.slot(s).ok().and_then(|p| p.key_frac().ok());
    ExactOrder {
        is_long: side == SIDE_LONG,
        frac_of: &frac_of,
    }
    .sort(lev);
}

/// `n` longs of the benches' random book (xorshift from `seed`): sizes 0.1–10, entries
/// 80–120, margins 5–50 % of notional.
pub fn random_longs(n: usize, seed: u64) -> Vec<Long> {
    let mut x = seed.max(1);
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    (0..n)
        .map(|_| {
            let base = (1 + rnd(100) as i64) * ONE / 10;
            let entry = px(80) + rnd(40_000_000);
            let notional = (base as i128 * entry as i128 / ONE as i128) as i64;
            (base, entry, notional * (5 + rnd(46) as i64) / 100)
        })
        .collect()
}

/// Empty buffers for a market of `capacity` positions (risk parameters of the tests: 10x
/// initial, 20x maintenance, minimum size 0.001).
pub fn empty(capacity: usize) -> Bufs {
    let words = |len: usize| vec![0u64; len.div_ceil(8)];
    let mut m = Market::zeroed();
    m.params.imr_bps = 1_000;
    m.params.mmr_bps = 500;
    m.params.liquidation_fee_bps = 100;
    m.params.adl_deadline_slots = 1_000;
    m.params.min_trade_base = 1_000_000;
    m.params.min_position_base = 1_000_000;
    let mut b = Bufs {
        market: m,
        book: words(PositionBook::space(capacity)),
        long: words(AdlQueue::space(capacity)),
        short: words(AdlQueue::space(capacity)),
        users: vec![user(0)],
        fund: InsuranceFund::zeroed(),
        served: Vec::new(),
        drained: Vec::new(),
    };
    {
        let bb: &mut [u8] = bytemuck::cast_slice_mut(&mut b.book);
        let h: &mut PositionBook = bytemuck::from_bytes_mut(&mut bb[8..BOOK_SLOTS_OFFSET]);
        h.capacity = capacity as u32;
        h.free_head = NIL;
        for (q, side) in [(&mut b.long, SIDE_LONG), (&mut b.short, SIDE_SHORT)] {
            let qb: &mut [u8] = bytemuck::cast_slice_mut(q);
            let h: &mut AdlQueue = bytemuck::from_bytes_mut(&mut qb[8..QUEUE_ARRAYS_OFFSET]);
            h.capacity = capacity as u32;
            h.side = side;
        }
    }
    b
}

/// A market holding `longs` then `shorts` (each `(size, entry, margin)` with a positive
/// size), oldest first, each side's arrays sorted once; owners `user(i + 1)`.
pub fn two_sided(longs: &[Long], shorts: &[Long]) -> Bufs {
    two_sided_with_spare(longs, shorts, 0)
}

/// `two_sided` with `spare` free slots after the positions.
pub fn two_sided_with_spare(longs: &[Long], shorts: &[Long], spare: usize) -> Bufs {
    let mut b = empty(longs.len() + shorts.len() + spare);
    b.with(|st, _| {
        let mut sides = [(vec![], vec![], 0u64), (vec![], vec![], 0u64)];
        let all = longs
            .iter()
            .map(|&l| (l, 1i64))
            .chain(shorts.iter().map(|&l| (l, -1i64)));
        for (i, ((size, entry, margin), sign)) in all.enumerate() {
            let s = st
                .book
                .allocate(user(i + 1).owner, i as u64, i as u64)
                .unwrap();
            let p = st.book.slot_mut(s).unwrap();
            p.base = sign * size;
            p.cost_basis = (p.base as i128 * entry as i128 / ONE as i128) as i64;
            p.margin = margin;
            let (side, l, e) = p.queue_entries(s).unwrap();
            let t = &mut sides[side as usize];
            t.0.push(l);
            t.1.push(e);
            t.2 += size as u64;
        }
        for (side, (mut lev, mut ent, oi)) in sides.into_iter().enumerate() {
            exact_sort(st, side as u8, &mut lev);
            ent.sort_unstable();
            let q = if side as u8 == SIDE_LONG {
                st.market.open_interest_long = oi;
                &mut st.long_queue
            } else {
                st.market.open_interest_short = oi;
                &mut st.short_queue
            };
            q.by_leverage[..lev.len()].copy_from_slice(&lev);
            q.by_entry[..ent.len()].copy_from_slice(&ent);
            q.header.len = lev.len() as u32;
        }
        let n = (longs.len() + shorts.len()) as u64;
        st.market.num_positions = n as u32;
        st.market.next_position_seq = n;
        st.market.touch_seq = n;
    });
    b
}

impl Bufs {
    /// The accounts' bytes as the chain holds them (discriminators set): market, book, long
    /// queue, short queue.
    pub fn account_bytes(&self) -> [Vec<u8>; 4] {
        use anchor_lang::Discriminator;
        let mut market = Market::DISCRIMINATOR.to_vec();
        market.extend_from_slice(bytemuck::bytes_of(&self.market));
        let cap = PositionBook::capacity_for_len(self.book.len() * 8);
        let with = |words: &Vec<u64>, disc: &[u8], len: usize| {
            let mut v: Vec<u8> = bytemuck::cast_slice(words).to_vec();
            v.truncate(len);
            v[..8].copy_from_slice(disc);
            v
        };
        [
            market,
            with(
                &self.book,
                PositionBook::DISCRIMINATOR,
                PositionBook::space(cap),
            ),
            with(&self.long, AdlQueue::DISCRIMINATOR, AdlQueue::space(cap)),
            with(&self.short, AdlQueue::DISCRIMINATOR, AdlQueue::space(cap)),
        ]
    }
}

/// A market with `longs` (slots 0..n, oldest first) and one short of `short_base` base
/// atoms at entry 80 whose bankruptcy price is `p_exec` (slot n, owned by user 0), plus
/// `spare` free slots. The fund is empty, so ADL starts at once at `p_exec`.
pub fn market(longs: &[Long], short_base: i64, p_exec: u64, spare: usize) -> Bufs {
    let capacity = longs.len() + 1 + spare;
    let mut b = empty(capacity);
    let n = longs.len();
    b.with(|st, users| {
        let mut lev = Vec::with_capacity(n);
        let mut ent = Vec::with_capacity(n);
        let mut oi = 0u64;
        for (i, &(base, entry, margin)) in longs.iter().enumerate() {
            let s = st
                .book
                .allocate(user(i + 1).owner, i as u64, i as u64)
                .unwrap();
            let p = st.book.slot_mut(s).unwrap();
            p.base = base;
            p.cost_basis = (base as i128 * entry as i128 / ONE as i128) as i64;
            p.margin = margin;
            let (_, l, e) = p.queue_entries(s).unwrap();
            lev.push(l);
            ent.push(e);
            oi += base as u64;
        }
        exact_sort(st, SIDE_LONG, &mut lev);
        ent.sort_unstable();
        st.long_queue.by_leverage[..n].copy_from_slice(&lev);
        st.long_queue.by_entry[..n].copy_from_slice(&ent);
        st.long_queue.header.len = n as u32;
        // The short: entry 80, margin (p_exec − 80) per unit.
        let s = st
            .book
            .allocate(users[0].owner, n as u64, n as u64)
            .unwrap();
        users[0].add_position(st.key, s).unwrap();
        let p = st.book.slot_mut(s).unwrap();
        p.base = -short_base;
        p.cost_basis = -(short_base as i128 * px(80) as i128 / ONE as i128) as i64;
        p.margin = (short_base as i128 * (p_exec - px(80)) as i128 / ONE as i128) as i64;
        let (_, l, e) = p.queue_entries(s).unwrap();
        let frac = p.key_frac().unwrap();
        st.with_queue(SIDE_SHORT, &[], |q, o| q.insert((l, frac), e, o))
            .unwrap();
        st.market.open_interest_long = oi;
        st.market.open_interest_short = short_base as u64;
        st.market.num_positions = n as u32 + 1;
        st.market.next_position_seq = n as u64 + 1;
        st.market.touch_seq = n as u64 + 1;
    });
    b
}

/// Starts the event at oracle 130 (the short is bankrupt, the fund empty): event 0.
pub fn start(b: &mut Bufs) -> AdlEvent {
    let n = b.market.num_positions - 1;
    let mut fund = b.fund;
    let ev = b.with(|st, users| {
        st.start_adl(n, &mut users[0], &mut fund, px(130), 1)
            .unwrap()
    });
    b.fund = fund;
    ev
}

/// What a keeper submits: the program's walk from the saved cursors over the event's
/// counterparty side, at most `max` fills; and whether the walk stopped at its cap.
pub fn keeper_plan(st: &MarketState, index: usize, max: usize) -> (Vec<u32>, bool) {
    let ev = st.market.adl_events[index];
    let q = st.queue(if ev.side == SIDE_LONG {
        SIDE_SHORT
    } else {
        SIDE_LONG
    });
    let book = &*st.book.slots;
    let mut walk = RankWalk::resume(
        &q.by_leverage[..q.len()],
        |s| book.get(s as usize),
        st.market.cumulative_funding,
        ev.exec_price,
        &st.market.adl_walks[index],
        ev.walk_flags,
        ev.base_remaining,
        crate::engine::walk_cap(),
    );
    let mut out = vec![];
    while out.len() < max {
        match walk.next_fill() {
            Some(p) => out.push(p.slot),
            None => break,
        }
    }
    (out, walk.capped)
}

/// A trade between accounts `taker` and `maker` of `b.users` of `base` at `premium_bps` off
/// `oracle`, each side moving `margin_pct` % of the notional into its position (0: none).
/// Returns the trade price, or the trade's error (the users are written back either way).
pub fn trade_off_oracle(
    b: &mut Bufs,
    (taker, maker): (usize, usize),
    base: i64,
    premium_bps: i64,
    margin_pct: u64,
    (oracle, now): (u64, u64),
) -> anchor_lang::Result<u64> {
    let price = (oracle as i128 * (10_000 + premium_bps as i128) / 10_000) as u64;
    let notional = (base.unsigned_abs() as u128 * price as u128 / ONE as u128) as u64;
    let margin = notional * margin_pct / 100;
    let args = crate::instructions::TradeArgs {
        taker_base: base,
        price,
        taker_margin: margin,
        maker_margin: margin,
    };
    b.with(|st, users| {
        let (mut t, mut m) = (users[taker], users[maker]);
        st.price = Some(oracle);
        let r = st.trade(&mut t, &mut m, &args, oracle, now);
        users[taker] = t;
        users[maker] = m;
        r.map(|_| price)
    })
}

/// Free collateral plus position equity at `price` (funding settled exactly as the program
/// rounds it) of `accounts` of `b.users`.
pub fn value_at(b: &mut Bufs, accounts: &[usize], price: u64) -> i128 {
    let f = b.market.cumulative_funding;
    let key = Pubkey::new_from_array(MARKET);
    let users = b.users.clone();
    b.with(|st, _| {
        accounts
            .iter()
            .map(|&i| {
                let u = &users[i];
                let eq = match u.position_slot(&key) {
                    Some(s) => st.book.slot(s).unwrap().equity(f, price).unwrap(),
                    None => 0,
                };
                u.free_collateral as i128 + eq
            })
            .sum()
    })
}

/// An empty insurance fund with these unstake and vesting parameters.
pub fn insurance_fund(cooldown: u64, window: u64, vest: u64) -> InsuranceFund {
    let mut f = InsuranceFund::zeroed();
    f.unstake_cooldown_slots = cooldown;
    f.unstake_window_slots = window;
    f.fee_vest_slots = vest;
    f
}

/// A stake account with nothing staked.
pub fn stake_account() -> InsuranceStake {
    InsuranceStake {
        fund: Pubkey::default(),
        staker: Pubkey::default(),
        shares: 0,
        epoch: 0,
        pending_shares: 0,
        pending_value: 0,
        request_slot: 0,
        bump: 0,
        checked_markets: 0,
        check_start_slot: 0,
    }
}

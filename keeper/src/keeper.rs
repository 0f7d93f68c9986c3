//! The keeper's work: load an exchange's state through a `Chain`, then liquidate, flag
//! bankruptcies, start ADL events, run them in their mode, crank funding and claim payouts.
//! Every decision is recomputed from fresh state (idempotent). A refused transaction is
//! judged on fresh state too: when that state no longer calls for the same work, another
//! keeper (or the owner) did it first — a lost race, counted and re-planned, not an error;
//! when it still does, the market waits for the next tick. A transaction whose blockhash
//! expired unconfirmed did not land; the keeper re-plans from fresh state.

use adl_engine::math;
use adl_engine::state::*;
use anchor_lang::prelude::Pubkey;
use tracing::{debug, info, warn};

use adl_client::accounts::{
    read_borsh, read_oracle, read_zero_copy, BookSnapshot, MarketSnapshot, QueueSnapshot,
};
use adl_client::chain::{Chain, ChainError};
use adl_client::ix::{self, MarketAccounts};

use crate::budget;
use crate::metrics::Metrics;

/// Keeper settings (from flags, environment or a config file).
#[derive(Clone, Debug)]
pub struct KeeperConfig {
    pub exchange: Pubkey,
    /// Most ADL fills (or pro-rata slots) per transaction: a transaction carries at most
    /// 1,232 bytes (each listed slot is 4) and 1.4M compute units; 24 keeps a wide margin on
    /// both (see docs/keeper.md).
    pub max_fills_per_tx: usize,
    /// Margin the keeper posts when it takes over a position, bps of the notional.
    pub liquidation_margin_bps: u64,
    pub crank_funding: bool,
    /// Claim ADL payouts into their owners' free collateral (permissionless; owners and
    /// frontends can claim themselves).
    pub claim_payouts: bool,
    /// Sweep a market's trading fees into the insurance fund once they reach this many
    /// quote atoms (0: never). Swept fees vest into share value over the fund's
    /// `fee_vest_slots`, so sweeping often keeps stakers' earnings current.
    pub sweep_min_fees: u64,
    /// Margin over the simulated compute units, percent (`budget::limit`).
    pub cu_margin_pct: u32,
    /// Percentile of recent prioritization fees to pay (0–100).
    pub priority_fee_percentile: u8,
    /// Most the keeper pays per compute unit, micro-lamports.
    pub max_priority_fee: u64,
}

impl KeeperConfig {
    pub fn new(exchange: Pubkey) -> Self {
        KeeperConfig {
            exchange,
            max_fills_per_tx: 24,
            liquidation_margin_bps: 2_500,
            crank_funding: true,
            claim_payouts: true,
            sweep_min_fees: 1_000_000,
            cu_margin_pct: 20,
            priority_fee_percentile: 75,
            max_priority_fee: 100_000,
        }
    }
}

/// An exchange's state as the keeper sees it.
#[derive(Clone, Debug)]
pub struct ExchangeView {
    pub exchange: Exchange,
    pub fund: Option<InsuranceFund>,
    pub markets: Vec<(MarketAccounts, MarketSnapshot)>,
    pub slot: u64,
}

#[derive(Debug)]
pub enum KeeperError {
    Chain(ChainError),
    Missing(String),
}

impl std::fmt::Display for KeeperError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeeperError::Chain(e) => write!(f, "{e}"),
            KeeperError::Missing(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for KeeperError {}

impl From<ChainError> for KeeperError {
    fn from(e: ChainError) -> Self {
        KeeperError::Chain(e)
    }
}

fn missing(what: &str, key: &Pubkey) -> KeeperError {
    KeeperError::Missing(format!("{what} {key} not found or not decodable"))
}

/// Loads the exchange, its fund and every market with its oracle, book and queues, in two
/// batched reads.
pub async fn load<C: Chain>(chain: &C, exchange: &Pubkey) -> Result<ExchangeView, KeeperError> {
    let fund_key = ix::insurance_fund_pda(exchange);
    let first = chain.accounts(&[*exchange, fund_key]).await?;
    let ex: Exchange = first[0]
        .as_ref()
        .and_then(|a| read_borsh(&a.data))
        .ok_or_else(|| missing("exchange", exchange))?;
    let fund: Option<InsuranceFund> = first[1].as_ref().and_then(|a| read_zero_copy(&a.data));
    let market_keys: Vec<Pubkey> = (0..ex.market_count)
        .map(|i| ix::market_pda(exchange, i))
        .collect();
    let markets_raw = chain.accounts(&market_keys).await?;
    let mut headers = Vec::with_capacity(market_keys.len());
    for (k, a) in market_keys.iter().zip(markets_raw) {
        let m: Market = a
            .as_ref()
            .and_then(|a| read_zero_copy(&a.data))
            .ok_or_else(|| missing("market", k))?;
        headers.push((*k, m));
    }
    let mut keys = Vec::with_capacity(headers.len() * 4);
    for (_, m) in &headers {
        keys.extend([m.oracle, m.book, m.long_queue, m.short_queue]);
    }
    let raw = chain.accounts(&keys).await?;
    let mut markets = Vec::with_capacity(headers.len());
    for (i, (key, m)) in headers.into_iter().enumerate() {
        let get = |j: usize| {
            raw[i * 4 + j]
                .as_ref()
                .map(|a| a.data.as_slice())
                .unwrap_or(&[])
        };
        let accounts = MarketAccounts {
            market: key,
            oracle: m.oracle,
            book: m.book,
            long_queue: m.long_queue,
            short_queue: m.short_queue,
        };
        let (oracle, oracle_publish_time) =
            read_oracle(&m, get(0)).ok_or_else(|| missing("oracle", &m.oracle))?;
        let snap = MarketSnapshot {
            key,
            market: m,
            oracle,
            oracle_publish_time,
            book: BookSnapshot::decode(get(1)).ok_or_else(|| missing("book", &m.book))?,
            long_queue: QueueSnapshot::decode(get(2))
                .ok_or_else(|| missing("queue", &m.long_queue))?,
            short_queue: QueueSnapshot::decode(get(3))
                .ok_or_else(|| missing("queue", &m.short_queue))?,
        };
        markets.push((accounts, snap));
    }
    Ok(ExchangeView {
        exchange: ex,
        fund,
        markets,
        slot: chain.slot().await?,
    })
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub funding: usize,
    pub liquidations: usize,
    pub flags: usize,
    pub adl_started: usize,
    pub adl_fills: usize,
    pub pro_rata_slots: usize,
    pub drains: usize,
    pub switches: usize,
    pub claims: usize,
    pub sweeps: usize,
    /// Transactions refused while fresh state still called for them (`Outcome::Refused`).
    pub rejected: usize,
    /// Transactions refused because the work was already done or the state moved
    /// (`Outcome::LostRace`).
    pub lost_races: usize,
    /// Transactions whose blockhash expired unconfirmed (`Outcome::Expired`).
    pub expired: usize,
    /// Each transaction that went through, in order, with the market it touched.
    pub actions: Vec<(Pubkey, Work)>,
    /// Every transaction the tick sent, with what became of it.
    pub attempts: Vec<(Pubkey, Work, Outcome)>,
    /// The compute-unit limit and price each of those transactions carried.
    pub budgets: Vec<(u32, u64)>,
}

impl TickReport {
    /// Whether the tick changed anything.
    pub fn acted(&self) -> bool {
        self.funding
            + self.liquidations
            + self.flags
            + self.adl_started
            + self.adl_fills
            + self.pro_rata_slots
            + self.drains
            + self.switches
            + self.claims
            + self.sweeps
            > 0
    }
}

/// What became of one transaction the keeper sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted and confirmed.
    Sent,
    /// Refused, and fresh state no longer calls for this work: another keeper (or the owner)
    /// did it first, or the state moved under the plan. Counted, not an error; re-planned.
    LostRace,
    /// The blockhash expired before confirmation: the transaction did not land and cannot;
    /// re-planned from fresh state.
    Expired,
    /// Refused while fresh state still calls for exactly this work: the market is passed
    /// over until the next tick.
    Refused,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Sent,
        Outcome::LostRace,
        Outcome::Expired,
        Outcome::Refused,
    ];

    /// Its label in reports and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::LostRace => "lost_race",
            Outcome::Expired => "expired",
            Outcome::Refused => "refused",
        }
    }
}

/// One unit of work found in a view (and, once done, reported in `TickReport::actions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    Funding,
    Liquidate {
        slot: u32,
        owner: Pubkey,
        margin: u64,
    },
    Flag {
        slot: u32,
    },
    StartAdl {
        slot: u32,
        owner: Pubkey,
    },
    Ranked {
        index: usize,
        id: u64,
        slots: Vec<u32>,
        /// Queue entries the program's walk will read (at most `ADL_WALK_CAP`).
        reads: usize,
    },
    ProRata {
        index: usize,
        id: u64,
        slots: Vec<u32>,
    },
    /// Start a drain (`begin`) or continue the one in progress.
    Drain {
        index: usize,
        id: u64,
        begin: bool,
    },
    Switch {
        index: usize,
        id: u64,
    },
    Claim {
        owner: Pubkey,
    },
    /// Move the market's fee pool into the insurance fund.
    Sweep,
}

/// What a tick passes over when it plans: work refused while fresh state still called for
/// it (this slot, this owner, this proof — not the whole market), and the events whose
/// ranked proof lost a race.
#[derive(Clone, Debug, Default)]
struct Passed {
    refused: Vec<Work>,
    lost_ranked: Vec<u64>,
}

impl Work {
    /// Whether `other` is the same piece of work: equal, except that a liquidation is the
    /// same whatever margin it posts (the margin follows the price, which anyone can move
    /// between a refusal and the re-check).
    pub fn same_item(&self, other: &Work) -> bool {
        match (self, other) {
            (
                Work::Liquidate { slot, owner, .. },
                Work::Liquidate {
                    slot: s2,
                    owner: o2,
                    ..
                },
            ) => slot == s2 && owner == o2,
            _ => self == other,
        }
    }

    /// Every kind's label, in `kind` order.
    pub const KINDS: [&'static str; 10] = [
        "funding",
        "liquidate",
        "flag",
        "start_adl",
        "ranked",
        "pro_rata",
        "drain",
        "switch",
        "claim",
        "sweep",
    ];

    /// Its kind's label in reports and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Work::Funding => "funding",
            Work::Liquidate { .. } => "liquidate",
            Work::Flag { .. } => "flag",
            Work::StartAdl { .. } => "start_adl",
            Work::Ranked { .. } => "ranked",
            Work::ProRata { .. } => "pro_rata",
            Work::Drain { .. } => "drain",
            Work::Switch { .. } => "switch",
            Work::Claim { .. } => "claim",
            Work::Sweep => "sweep",
        }
    }
}

/// The next piece of work in one market, in priority order: resolve events, then
/// bankruptcies and liquidations, then claims, funding and fee sweeps.
fn next_work(
    view: &ExchangeView,
    snap: &MarketSnapshot,
    cfg: &KeeperConfig,
    keeper: &Pubkey,
    passed: &Passed,
) -> Option<Work> {
    let m = &snap.market;
    // Work refused this tick is passed over (the next piece is offered instead).
    let offer = |w: Work| (!passed.refused.iter().any(|r| r.same_item(&w))).then_some(w);
    let price = snap.oracle.price;
    // Events, oldest first.
    let mut events: Vec<(usize, &AdlEvent)> = snap.active_events().collect();
    events.sort_by_key(|(_, e)| e.id);
    for (index, ev) in events {
        let past_deadline = view.slot > ev.deadline_slot;
        match ev.mode {
            ADL_MODE_PRO_RATA => {
                let mut slots = snap.pending_pro_rata_slots(index);
                if !slots.is_empty() {
                    slots.truncate(cfg.max_fills_per_tx);
                    if let Some(w) = offer(Work::ProRata {
                        index,
                        id: ev.id,
                        slots,
                    }) {
                        return Some(w);
                    }
                }
            }
            // Ranked walks and drains wait for pro-rata obligations on their side
            // (`ProRataPending`): crank those first (the pro-rata event comes in this loop).
            _ if m.pro_rata_pending(ev.side) => {}
            ADL_MODE_LEVERAGE_DRAIN => {
                // Begin, or step the drain in progress: the program finds the level, every
                // step is bounded and the drain ends (done, or handed to the ranked walk when
                // the whole side cannot cover the event).
                if let Some(w) = offer(Work::Drain {
                    index,
                    id: ev.id,
                    begin: m.adl_drains[index].phase == DRAIN_IDLE,
                }) {
                    return Some(w);
                }
            }
            _ => {
                // Exactly the program's walk from the event's cursors, within its cap: when
                // the cap stops it before any fill, an empty proof saves the progress.
                // Past the deadline, once a proof for this event lost a race in this tick
                // (state moved under it: ranks toggled between plan and landing), the
                // program's liveness fallback instead: pro-rata cannot be front-run that way.
                if past_deadline
                    && ev.walk_flags & WALK_FALLBACK_USED == 0
                    && passed.lost_ranked.contains(&ev.id)
                {
                    if let Some(w) = offer(Work::Switch { index, id: ev.id }) {
                        return Some(w);
                    }
                }
                let plan = snap.adl_plan(index, cfg.max_fills_per_tx);
                if !plan.fills.is_empty() || plan.capped {
                    if let Some(w) = offer(Work::Ranked {
                        index,
                        id: ev.id,
                        slots: plan.fills.iter().map(|p| p.slot).collect(),
                        reads: plan.reads,
                    }) {
                        return Some(w);
                    }
                }
                if past_deadline && ev.walk_flags & WALK_FALLBACK_USED == 0 {
                    if let Some(w) = offer(Work::Switch { index, id: ev.id }) {
                        return Some(w);
                    }
                }
            }
        }
    }
    // Positions at the oracle price.
    let fund_available = view
        .fund
        .map(|f| f.available(m.params.max_insurance_per_event))
        .unwrap_or(0);
    let own_base = snap
        .book
        .open_slots()
        .find(|(_, q)| q.owner == *keeper)
        .map(|(_, q)| q.base);
    for (slot, p) in snap.book.open_slots() {
        if p.owner == *keeper {
            continue;
        }
        let Ok(eq) = p.equity(m.cumulative_funding, price) else {
            continue;
        };
        let Ok(mm) = math::margin_requirement(p.base, price, m.params.mmr_bps) else {
            continue;
        };
        if !math::is_liquidatable(eq, mm) {
            if p.bankrupt_since_slot != 0 {
                if let Some(w) = offer(Work::Flag { slot }) {
                    return Some(w);
                } // recovered: clear the stamp
            }
            continue;
        }
        let notional =
            math::close_notional(p.base > 0, p.base.unsigned_abs(), price).unwrap_or(u64::MAX);
        // A takeover that closes the keeper's own position posts no margin (the program
        // refuses margin for a flat position: `NoOpenPosition`).
        let margin = if own_base.is_some_and(|b| b.checked_add(p.base) == Some(0)) {
            0
        } else {
            (notional as u128 * cfg.liquidation_margin_bps as u128 / 10_000) as u64
        };
        if math::is_bankrupt(eq) {
            let fee = math::fee(notional, m.params.liquidation_fee_bps).unwrap_or(u64::MAX);
            let (_, to_liq) =
                math::split_fee(fee, m.params.liquidation_fee_to_fund_bps).unwrap_or((0, fee));
            let need = (-eq) as u128 + to_liq as u128;
            if need <= fund_available as u128 {
                if let Some(w) = offer(Work::Liquidate {
                    slot,
                    owner: p.owner,
                    margin,
                }) {
                    return Some(w);
                }
            }
            if p.bankrupt_since_slot == 0 {
                if let Some(w) = offer(Work::Flag { slot }) {
                    return Some(w);
                }
            }
            // The fund covers the loss but not the liquidator's share: the program leaves the
            // position to liquidators for the grace period and starts ADL only after it
            // (`InsuranceCanCover`), while the stamp is in its window (after it,
            // `BankruptcyStampExpired`: flagging again starts a new grace period).
            if (-eq) as u128 <= fund_available as u128 {
                let grace = m.params.bankruptcy_grace_slots;
                if adl_engine::engine::stamp_expired(p.bankrupt_since_slot, grace, view.slot) {
                    if let Some(w) = offer(Work::Flag { slot }) {
                        return Some(w);
                    }
                }
                if view.slot < p.bankrupt_since_slot.saturating_add(grace) {
                    continue;
                }
            }
            if let Some(w) = offer(Work::StartAdl {
                slot,
                owner: p.owner,
            }) {
                return Some(w);
            }
        }
        if let Some(w) = offer(Work::Liquidate {
            slot,
            owner: p.owner,
            margin,
        }) {
            return Some(w);
        }
    }
    // Payouts waiting in slots.
    if let Some((_, p)) = snap
        .allocated_slots()
        .filter(|_| cfg.claim_payouts)
        .find(|(_, p)| p.status == SLOT_ADL_CLOSED || p.adl_payout > 0)
    {
        if let Some(w) = offer(Work::Claim { owner: p.owner }) {
            return Some(w);
        }
    }
    if cfg.crank_funding && view.slot >= m.last_funding_slot + m.params.funding_period_slots {
        if let Some(w) = offer(Work::Funding) {
            return Some(w);
        }
    }
    if cfg.sweep_min_fees > 0 && view.fund.is_some() && m.fee_pool >= cfg.sweep_min_fees {
        if let Some(w) = offer(Work::Sweep) {
            return Some(w);
        }
    }
    None
}

/// Most expired transactions in one tick before the tick gives up with the error (the
/// caller backs off): a node that confirms nothing should not be hammered.
pub const MAX_EXPIRED_PER_TICK: usize = 3;

/// Most lost races in one market per tick before the market is passed over until the next
/// tick: a market whose state keeps moving under the keeper (an actor trading against every
/// plan) cannot hold the keeper's whole tick while other markets wait.
pub const MAX_LOST_RACES_PER_MARKET: usize = 3;

/// Whether fresh state still calls for `work` in `market` (a refusal is then the keeper's
/// own problem, not a lost race).
async fn still_needed<C: Chain>(
    chain: &C,
    cfg: &KeeperConfig,
    keeper: &Pubkey,
    market: &Pubkey,
    work: &Work,
    passed: &Passed,
) -> Result<bool, KeeperError> {
    let view = load(chain, &cfg.exchange).await?;
    Ok(view
        .markets
        .iter()
        .find(|(a, _)| a.market == *market)
        .and_then(|(_, snap)| next_work(&view, snap, cfg, keeper, passed))
        .is_some_and(|w| w.same_item(work)))
}

/// Runs work until the exchange needs nothing more (or `max_steps` transactions), reloading
/// state after every transaction. Returns what was done.
pub async fn tick<C: Chain>(
    chain: &C,
    cfg: &KeeperConfig,
    max_steps: usize,
) -> Result<TickReport, KeeperError> {
    let mut report = TickReport::default();
    tick_into(chain, cfg, max_steps, &mut report).await?;
    Ok(report)
}

/// `tick`, recording into `report` as it goes: a tick that ends in an error still reports
/// every transaction it sent before (`keep` counts them in the metrics).
pub async fn tick_into<C: Chain>(
    chain: &C,
    cfg: &KeeperConfig,
    max_steps: usize,
    report: &mut TickReport,
) -> Result<(), KeeperError> {
    let keeper = chain.keeper();
    // Work refused this tick is passed over until the next tick — that piece of work, not
    // its market, so one transaction that keeps failing (a position shaped to make the
    // keeper's own instruction fail, one too big for the keeper's collateral) cannot stop
    // the rest of the market's work or any other market's. A market that lost
    // MAX_LOST_RACES_PER_MARKET races (state moved under every plan) waits for the next tick.
    let mut passed: std::collections::BTreeMap<Pubkey, Passed> = Default::default();
    let mut parked: Vec<Pubkey> = Vec::new();
    let none = Passed::default();
    for _ in 0..max_steps {
        let view = load(chain, &cfg.exchange).await?;
        let mut found = None;
        for (accounts, snap) in &view.markets {
            if parked.contains(&accounts.market) {
                continue;
            }
            let skip = passed.get(&accounts.market).unwrap_or(&none);
            if let Some(w) = next_work(&view, snap, cfg, &keeper, skip) {
                found = Some((*accounts, w));
                break;
            }
        }
        let Some((m, work)) = found else { break };
        let ex = cfg.exchange;
        let ix = match &work {
            Work::Funding => ix::update_funding(&ex, &m),
            Work::Liquidate {
                slot,
                owner,
                margin,
            } => ix::liquidate(&ex, &m, owner, &keeper, *slot, u64::MAX, *margin),
            Work::Flag { slot } => ix::flag_bankrupt(&ex, &m, *slot),
            Work::StartAdl { slot, owner } => ix::start_adl(&ex, &m, owner, *slot),
            Work::Ranked {
                index,
                id,
                slots,
                reads,
            } => {
                debug!(
                    event = id,
                    fills = slots.len(),
                    reads,
                    cap = ADL_WALK_CAP,
                    "auto_deleverage: expected work"
                );
                ix::auto_deleverage(&ex, &m, *index as u8, *id, slots.clone())
            }
            Work::ProRata { index, id, slots } => {
                ix::apply_pro_rata(&ex, &m, *index as u8, *id, slots.clone())
            }
            Work::Drain { index, id, begin } => {
                if *begin {
                    ix::adl_drain_begin(&ex, &m, *index as u8, *id)
                } else {
                    ix::adl_drain_step(&ex, &m, *index as u8, *id)
                }
            }
            Work::Switch { index, id } => ix::adl_switch_to_pro_rata(&ex, &m, *index as u8, *id),
            Work::Claim { owner } => ix::claim_adl_payout(&ex, &m, owner),
            Work::Sweep => ix::sweep_fees(&ex, &m.market),
        };
        let writable: Vec<Pubkey> = ix
            .accounts
            .iter()
            .filter(|a| a.is_writable)
            .map(|a| a.pubkey)
            .collect();
        let fee = budget::price(
            chain.recent_fees(&writable).await?,
            cfg.priority_fee_percentile,
            cfg.max_priority_fee,
        );
        let probe = budget::instructions(budget::MAX_UNITS, fee);
        let simulated = chain
            .simulate_units(&[probe[0].clone(), probe[1].clone(), ix.clone()])
            .await?;
        let units = budget::limit(&work, simulated, cfg.cu_margin_pct);
        let [set_limit, set_price] = budget::instructions(units, fee);
        let outcome = match chain.send(&[set_limit, set_price, ix]).await {
            Ok(()) => Outcome::Sent,
            Err(ChainError::Expired(e)) => {
                warn!(?work, error = %e, "blockhash expired unconfirmed; re-planning");
                Outcome::Expired
            }
            Err(e @ ChainError::Transport(_)) => return Err(e.into()),
            Err(e @ ChainError::Rejected { .. }) => {
                let skip = passed.get(&m.market).unwrap_or(&none);
                if still_needed(chain, cfg, &keeper, &m.market, &work, skip).await? {
                    warn!(?work, error = %e, "rejected; the market waits for the next tick");
                    Outcome::Refused
                } else {
                    debug!(?work, error = %e, "lost a race: the work was done or the state moved");
                    Outcome::LostRace
                }
            }
        };
        report.attempts.push((m.market, work.clone(), outcome));
        match outcome {
            Outcome::Sent => {
                debug!(?work, units, fee, "done");
                report.actions.push((m.market, work.clone()));
                report.budgets.push((units, fee));
                match work {
                    Work::Funding => report.funding += 1,
                    Work::Liquidate { .. } => report.liquidations += 1,
                    Work::Flag { .. } => report.flags += 1,
                    Work::StartAdl { .. } => report.adl_started += 1,
                    Work::Ranked { slots, .. } => report.adl_fills += slots.len(),
                    Work::ProRata { slots, .. } => report.pro_rata_slots += slots.len(),
                    Work::Drain { .. } => report.drains += 1,
                    Work::Switch { .. } => report.switches += 1,
                    Work::Claim { .. } => report.claims += 1,
                    Work::Sweep => report.sweeps += 1,
                }
            }
            Outcome::LostRace => {
                report.lost_races += 1;
                if let Work::Ranked { id, .. } = work {
                    passed.entry(m.market).or_default().lost_ranked.push(id);
                }
                let lost = report
                    .attempts
                    .iter()
                    .filter(|(k, _, o)| *k == m.market && *o == Outcome::LostRace)
                    .count();
                if lost >= MAX_LOST_RACES_PER_MARKET {
                    parked.push(m.market);
                }
            }
            Outcome::Expired => {
                report.expired += 1;
                if report.expired >= MAX_EXPIRED_PER_TICK {
                    return Err(ChainError::Expired(format!(
                        "{} transactions expired unconfirmed in one tick",
                        report.expired
                    ))
                    .into());
                }
            }
            Outcome::Refused => {
                report.rejected += 1;
                passed.entry(m.market).or_default().refused.push(work);
            }
        }
    }
    if report.acted() {
        info!(?report, "tick");
    }
    Ok(())
}

/// The keeper's loop: a tick of at most `max_steps` transactions every `interval` (doubled
/// after each chain error, up to 30 s) until `stop` turns true, or once. Every tick is
/// counted in `metrics`. Only a keeper error that is not the chain's ends the loop.
pub async fn keep<C: Chain>(
    chain: &C,
    cfg: &KeeperConfig,
    max_steps: usize,
    interval: std::time::Duration,
    metrics: &Metrics,
    once: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), KeeperError> {
    let mut backoff = interval;
    loop {
        let mut r = TickReport::default();
        let result = tick_into(chain, cfg, max_steps, &mut r).await;
        // Every transaction the tick sent counts, also when it ended in an error.
        metrics.record_tick(&r);
        match result {
            Ok(()) => backoff = interval,
            Err(KeeperError::Chain(e)) => {
                metrics.record_tick_error();
                warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "chain error");
                backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
            }
            Err(e) => return Err(e),
        }
        if once || *stop.borrow() {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

//! Prometheus metrics for `adl-keeper serve` (`GET /metrics`, text exposition format 0.0.4):
//! the keeper's work by kind — found, sent, lost races, expired, refused — its ticks, every
//! chain call with its latency by method (`Metered` wraps any `Chain`), the last slot seen,
//! and each market's queue depth per side with its active ADL events.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use adl_client::chain::{Chain, ChainError};
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use solana_account::Account;
use solana_keypair::Keypair;

use crate::keeper::{ExchangeView, Outcome, TickReport, Work};

/// Calls of one chain method.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Calls {
    pub count: u64,
    pub errors: u64,
    pub seconds: f64,
}

/// One market's gauges from the last view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarketGauges {
    pub index: u16,
    pub long_depth: u64,
    pub short_depth: u64,
    pub active_events: u64,
}

#[derive(Default)]
struct Inner {
    /// (work kind, outcome) → transactions.
    work: BTreeMap<(&'static str, &'static str), u64>,
    ticks: u64,
    tick_errors: u64,
    rpc: BTreeMap<&'static str, Calls>,
    last_slot: u64,
    markets: BTreeMap<Pubkey, MarketGauges>,
}

/// Counters and gauges, shared by the keeper loop, the refresher and the HTTP handler.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain counters: still readable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a tick (also one that ended in an error) and its transactions by kind and
    /// outcome.
    pub fn record_tick(&self, report: &TickReport) {
        let mut g = self.lock();
        g.ticks += 1;
        for (_, work, outcome) in &report.attempts {
            *g.work.entry((work.kind(), outcome.name())).or_default() += 1;
        }
    }

    /// Counts a tick that ended in an error (the caller backs off); `record_tick` counted it
    /// and its transactions already.
    pub fn record_tick_error(&self) {
        self.lock().tick_errors += 1;
    }

    /// Records the slot and each market's queue depths and active events from a view.
    pub fn observe_view(&self, v: &ExchangeView) {
        let mut g = self.lock();
        g.last_slot = g.last_slot.max(v.slot);
        for (a, s) in &v.markets {
            g.markets.insert(
                a.market,
                MarketGauges {
                    index: s.market.market_index,
                    long_depth: s.long_queue.header.len as u64,
                    short_depth: s.short_queue.header.len as u64,
                    active_events: s.active_events().count() as u64,
                },
            );
        }
    }

    fn record_call(&self, method: &'static str, started: Instant, ok: bool) {
        let mut g = self.lock();
        let c = g.rpc.entry(method).or_default();
        c.count += 1;
        c.errors += u64::from(!ok);
        c.seconds += started.elapsed().as_secs_f64();
    }

    fn record_slot(&self, slot: u64) {
        let mut g = self.lock();
        g.last_slot = g.last_slot.max(slot);
    }

    /// Transactions of `kind` with `outcome` so far.
    pub fn work(&self, kind: &str, outcome: Outcome) -> u64 {
        let g = self.lock();
        g.work
            .iter()
            .filter(|((k, o), _)| *k == kind && *o == outcome.name())
            .map(|(_, n)| *n)
            .sum()
    }

    /// Calls of a chain method so far.
    pub fn calls(&self, method: &str) -> Calls {
        self.lock()
            .rpc
            .iter()
            .find(|(m, _)| **m == method)
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }

    /// The metrics in Prometheus' text format. Every work kind and outcome is listed (0 until
    /// it happens), so a dashboard's series exist from the first scrape.
    pub fn render(&self) -> String {
        let g = self.lock();
        let mut o = String::new();
        let count = |kind: &str, outcome: Outcome| -> u64 {
            g.work
                .iter()
                .filter(|((k, o), _)| *k == kind && *o == outcome.name())
                .map(|(_, n)| *n)
                .sum()
        };
        let family = |o: &mut String, name: &str, help: &str, f: &dyn Fn(&str) -> u64| {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} counter");
            for kind in Work::KINDS {
                let _ = writeln!(o, "{name}{{kind=\"{kind}\"}} {}", f(kind));
            }
        };
        family(
            &mut o,
            "adl_keeper_work_found_total",
            "Transactions the keeper planned, by kind of work.",
            &|k| Outcome::ALL.iter().map(|x| count(k, *x)).sum(),
        );
        family(
            &mut o,
            "adl_keeper_work_sent_total",
            "Transactions accepted and confirmed, by kind of work.",
            &|k| count(k, Outcome::Sent),
        );
        family(
            &mut o,
            "adl_keeper_work_failed_total",
            "Transactions refused while fresh state still called for them, by kind of work.",
            &|k| count(k, Outcome::Refused),
        );
        family(
            &mut o,
            "adl_keeper_lost_races_total",
            "Transactions refused because the work was already done or the state moved, by kind of work.",
            &|k| count(k, Outcome::LostRace),
        );
        family(
            &mut o,
            "adl_keeper_work_expired_total",
            "Transactions whose blockhash expired unconfirmed, by kind of work.",
            &|k| count(k, Outcome::Expired),
        );
        let _ = writeln!(o, "# HELP adl_keeper_ticks_total Keeper ticks completed.");
        let _ = writeln!(o, "# TYPE adl_keeper_ticks_total counter");
        let _ = writeln!(o, "adl_keeper_ticks_total {}", g.ticks);
        let _ = writeln!(
            o,
            "# HELP adl_keeper_tick_errors_total Keeper ticks ended by a chain error."
        );
        let _ = writeln!(o, "# TYPE adl_keeper_tick_errors_total counter");
        let _ = writeln!(o, "adl_keeper_tick_errors_total {}", g.tick_errors);
        let _ = writeln!(
            o,
            "# HELP adl_rpc_requests_total Chain calls, by method (one call may batch several RPC requests)."
        );
        let _ = writeln!(o, "# TYPE adl_rpc_requests_total counter");
        for (m, c) in &g.rpc {
            let _ = writeln!(o, "adl_rpc_requests_total{{method=\"{m}\"}} {}", c.count);
        }
        let _ = writeln!(
            o,
            "# HELP adl_rpc_errors_total Chain calls that failed, by method."
        );
        let _ = writeln!(o, "# TYPE adl_rpc_errors_total counter");
        for (m, c) in &g.rpc {
            let _ = writeln!(o, "adl_rpc_errors_total{{method=\"{m}\"}} {}", c.errors);
        }
        let _ = writeln!(
            o,
            "# HELP adl_rpc_latency_seconds Chain call latency, by method (a send includes its confirmation)."
        );
        let _ = writeln!(o, "# TYPE adl_rpc_latency_seconds summary");
        for (m, c) in &g.rpc {
            let _ = writeln!(
                o,
                "adl_rpc_latency_seconds_sum{{method=\"{m}\"}} {:.6}",
                c.seconds
            );
            let _ = writeln!(
                o,
                "adl_rpc_latency_seconds_count{{method=\"{m}\"}} {}",
                c.count
            );
        }
        let _ = writeln!(o, "# HELP adl_last_slot The newest slot seen.");
        let _ = writeln!(o, "# TYPE adl_last_slot gauge");
        let _ = writeln!(o, "adl_last_slot {}", g.last_slot);
        let _ = writeln!(
            o,
            "# HELP adl_queue_depth Positions in a market's ADL queue, by side."
        );
        let _ = writeln!(o, "# TYPE adl_queue_depth gauge");
        for (k, m) in &g.markets {
            for (side, d) in [("long", m.long_depth), ("short", m.short_depth)] {
                let _ = writeln!(
                    o,
                    "adl_queue_depth{{market=\"{k}\",index=\"{}\",side=\"{side}\"}} {d}",
                    m.index
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP adl_active_adl_events ADL events in progress in a market."
        );
        let _ = writeln!(o, "# TYPE adl_active_adl_events gauge");
        for (k, m) in &g.markets {
            let _ = writeln!(
                o,
                "adl_active_adl_events{{market=\"{k}\",index=\"{}\"}} {}",
                m.index, m.active_events
            );
        }
        o
    }
}

/// A `Chain` that times and counts every call into `Metrics`.
pub struct Metered<C> {
    pub inner: C,
    pub metrics: Arc<Metrics>,
}

impl<C> Metered<C> {
    pub fn new(inner: C, metrics: Arc<Metrics>) -> Self {
        Metered { inner, metrics }
    }

    fn done<T>(
        &self,
        method: &'static str,
        started: Instant,
        r: Result<T, ChainError>,
    ) -> Result<T, ChainError> {
        self.metrics.record_call(method, started, r.is_ok());
        r
    }
}

impl<C: Chain> Chain for Metered<C> {
    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        let t = Instant::now();
        let r = self.inner.accounts(keys).await;
        self.done("getMultipleAccounts", t, r)
    }

    async fn send_with(&self, ixs: &[Instruction], extra: &[&Keypair]) -> Result<(), ChainError> {
        let t = Instant::now();
        let r = self.inner.send_with(ixs, extra).await;
        self.done("sendTransaction", t, r)
    }

    async fn rent_exempt(&self, len: usize) -> Result<u64, ChainError> {
        let t = Instant::now();
        let r = self.inner.rent_exempt(len).await;
        self.done("getMinimumBalanceForRentExemption", t, r)
    }

    fn keeper(&self) -> Pubkey {
        self.inner.keeper()
    }

    async fn slot(&self) -> Result<u64, ChainError> {
        let t = Instant::now();
        let r = self.inner.slot().await;
        if let Ok(s) = r {
            self.metrics.record_slot(s);
        }
        self.done("getSlot", t, r)
    }

    async fn simulate_units(&self, ixs: &[Instruction]) -> Result<Option<u64>, ChainError> {
        let t = Instant::now();
        let r = self.inner.simulate_units(ixs).await;
        self.done("simulateTransaction", t, r)
    }

    async fn recent_fees(&self, writable: &[Pubkey]) -> Result<Vec<u64>, ChainError> {
        let t = Instant::now();
        let r = self.inner.recent_fees(writable).await;
        self.done("getRecentPrioritizationFees", t, r)
    }
}

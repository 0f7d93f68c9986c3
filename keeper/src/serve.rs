//! `adl-keeper serve`: the ADL queue over HTTP (JSON) and a server-sent-events stream of
//! alerts — a position entering the top quintile of its queue, an ADL event starting, an ADL
//! fill against an owner. A refresher task reloads the exchange through the `Chain`.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use adl_engine::state::*;
use anchor_lang::prelude::Pubkey;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch, Notify, RwLock};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};
use tracing::warn;

use crate::keeper::{load, ExchangeView};
use crate::metrics::Metrics;
use crate::view::queue_rows;
use adl_client::chain::Chain;

/// An alert pushed to subscribers.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Alert {
    TopQuintile {
        market: String,
        owner: String,
        slot: u32,
        rank: u32,
    },
    EventStarted {
        market: String,
        event_id: u64,
        side: String,
        base: u64,
        exec_price: u64,
    },
    Fill {
        market: String,
        owner: String,
        slot: u32,
        payout: u64,
    },
}

pub struct ServeState {
    pub view: RwLock<Option<ExchangeView>>,
    pub alerts: broadcast::Sender<Alert>,
    /// Wakes the refresher before its next interval (an account changed).
    pub wake: Notify,
    /// What `GET /metrics` reports: the refresher's views and chain calls, and the keeper's
    /// work when `serve` runs the keeper too.
    pub metrics: Arc<Metrics>,
}

impl ServeState {
    pub fn new() -> Arc<Self> {
        let (alerts, _) = broadcast::channel(1024);
        Arc::new(ServeState {
            view: RwLock::new(None),
            alerts,
            wake: Notify::new(),
            metrics: Arc::new(Metrics::new()),
        })
    }
}

fn side_name(side: u8) -> String {
    if side == SIDE_LONG { "long" } else { "short" }.to_string()
}

#[derive(Serialize)]
struct MarketJson {
    index: u16,
    market: String,
    oracle_price: u64,
    open_interest_long: u64,
    open_interest_short: u64,
    cumulative_funding: i64,
    positions: u32,
    adl_mode: u8,
    active_events: usize,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub struct QueueRowJson {
    pub rank: u32,
    pub tier: u8,
    pub slot: u32,
    pub owner: String,
    pub base: i64,
    pub entry_price: i64,
    pub leverage_bps: Option<u64>,
    pub pnl: i64,
    pub lights: u8,
    pub size_ahead: u64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub struct PositionJson {
    pub market: String,
    pub side: String,
    pub row: QueueRowJson,
    pub adl_payout: u64,
}

#[derive(Serialize)]
struct EventJson {
    market: String,
    index: usize,
    id: u64,
    side: String,
    mode: u8,
    base_total: u64,
    base_remaining: u64,
    exec_price: u64,
    fund_paid: u64,
    deadline_slot: u64,
}

#[derive(Deserialize)]
pub struct SideQuery {
    side: Option<String>,
}

fn rows_json(snap: &adl_client::accounts::MarketSnapshot, side: u8) -> Vec<QueueRowJson> {
    queue_rows(snap, side, snap.oracle.price)
        .into_iter()
        .map(|r| QueueRowJson {
            rank: r.ranked.rank,
            tier: r.ranked.tier,
            slot: r.ranked.slot,
            owner: r.owner.to_string(),
            base: r.base,
            entry_price: r.entry_price,
            leverage_bps: r.leverage_bps,
            pnl: adl_engine::math::saturate_i64(r.pnl),
            lights: r.ranked.lights,
            size_ahead: r.ranked.size_ahead,
        })
        .collect()
}

fn not_ready() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "state not loaded yet").into_response()
}

async fn markets(State(st): State<Arc<ServeState>>) -> Response {
    let v = st.view.read().await;
    let Some(v) = v.as_ref() else {
        return not_ready();
    };
    let out: Vec<MarketJson> = v
        .markets
        .iter()
        .map(|(_, s)| MarketJson {
            index: s.market.market_index,
            market: s.key.to_string(),
            oracle_price: s.oracle.price,
            open_interest_long: s.market.open_interest_long,
            open_interest_short: s.market.open_interest_short,
            cumulative_funding: s.market.cumulative_funding,
            positions: s.market.num_positions,
            adl_mode: s.market.adl_mode,
            active_events: s.active_events().count(),
        })
        .collect();
    Json(out).into_response()
}

async fn queue(
    State(st): State<Arc<ServeState>>,
    Path(index): Path<usize>,
    Query(q): Query<SideQuery>,
) -> Response {
    let side = match q.side.as_deref() {
        None | Some("long") => SIDE_LONG,
        Some("short") => SIDE_SHORT,
        Some(other) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("side must be long or short, not {other}"),
            )
                .into_response()
        }
    };
    let v = st.view.read().await;
    let Some(v) = v.as_ref() else {
        return not_ready();
    };
    match v.markets.get(index) {
        Some((_, s)) => Json(rows_json(s, side)).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no market {index}")).into_response(),
    }
}

async fn positions(State(st): State<Arc<ServeState>>, Path(owner): Path<String>) -> Response {
    let Ok(owner_key) = owner.parse::<Pubkey>() else {
        return (
            StatusCode::BAD_REQUEST,
            format!("not a public key: {owner}"),
        )
            .into_response();
    };
    let v = st.view.read().await;
    let Some(v) = v.as_ref() else {
        return not_ready();
    };
    let mut out = vec![];
    for (_, s) in &v.markets {
        for side in [SIDE_LONG, SIDE_SHORT] {
            for row in rows_json(s, side) {
                if row.owner == owner {
                    let payout = s
                        .book
                        .slots
                        .get(row.slot as usize)
                        .map(|p| p.adl_payout)
                        .unwrap_or(0);
                    out.push(PositionJson {
                        market: s.key.to_string(),
                        side: side_name(side),
                        row,
                        adl_payout: payout,
                    });
                }
            }
        }
        let _ = owner_key;
    }
    Json(out).into_response()
}

async fn events(State(st): State<Arc<ServeState>>) -> Response {
    let v = st.view.read().await;
    let Some(v) = v.as_ref() else {
        return not_ready();
    };
    let mut out = vec![];
    for (_, s) in &v.markets {
        for (index, e) in s.active_events() {
            out.push(EventJson {
                market: s.key.to_string(),
                index,
                id: e.id,
                side: side_name(e.side),
                mode: e.mode,
                base_total: e.base_total,
                base_remaining: e.base_remaining,
                exec_price: e.exec_price,
                fund_paid: e.fund_paid,
                deadline_slot: e.deadline_slot,
            });
        }
    }
    Json(out).into_response()
}

async fn alerts(
    State(st): State<Arc<ServeState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(st.alerts.subscribe()).filter_map(|a| {
        let a = a.ok()?;
        Some(Ok(Event::default()
            .json_data(&a)
            .unwrap_or_else(|_| Event::default().data("{}"))))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

async fn health() -> &'static str {
    "ok"
}

async fn metrics(State(st): State<Arc<ServeState>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.render(),
    )
        .into_response()
}

pub fn router(state: Arc<ServeState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/markets", get(markets))
        .route("/markets/{index}/queue", get(queue))
        .route("/owners/{owner}/positions", get(positions))
        .route("/events", get(events))
        .route("/alerts", get(alerts))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// What the refresher remembers between loads to detect alerts.
#[derive(Default)]
pub struct AlertTracker {
    lights: BTreeMap<(Pubkey, u32), u8>,
    payouts: BTreeMap<(Pubkey, u32), u64>,
    seen_events: BTreeSet<(Pubkey, u64)>,
    primed: bool,
}

impl AlertTracker {
    /// Alerts between the previous view and `v`. The first view only primes the tracker.
    pub fn diff(&mut self, v: &ExchangeView) -> Vec<Alert> {
        let mut out = vec![];
        let mut lights = BTreeMap::new();
        let mut payouts = BTreeMap::new();
        for (_, s) in &v.markets {
            for side in [SIDE_LONG, SIDE_SHORT] {
                for r in queue_rows(s, side, s.oracle.price) {
                    let key = (s.key, r.ranked.slot);
                    if r.ranked.lights == 5 && self.primed && self.lights.get(&key) != Some(&5) {
                        out.push(Alert::TopQuintile {
                            market: s.key.to_string(),
                            owner: r.owner.to_string(),
                            slot: r.ranked.slot,
                            rank: r.ranked.rank,
                        });
                    }
                    lights.insert(key, r.ranked.lights);
                }
            }
            for (slot, p) in s.allocated_slots() {
                let key = (s.key, slot);
                let before = self.payouts.get(&key).copied().unwrap_or(0);
                if self.primed && p.adl_payout > before {
                    out.push(Alert::Fill {
                        market: s.key.to_string(),
                        owner: p.owner.to_string(),
                        slot,
                        payout: p.adl_payout,
                    });
                }
                payouts.insert(key, p.adl_payout);
            }
            for (_, e) in s.active_events() {
                if self.seen_events.insert((s.key, e.id)) && self.primed {
                    out.push(Alert::EventStarted {
                        market: s.key.to_string(),
                        event_id: e.id,
                        side: side_name(e.side),
                        base: e.base_total,
                        exec_price: e.exec_price,
                    });
                }
            }
        }
        self.lights = lights;
        self.payouts = payouts;
        self.primed = true;
        out
    }
}

/// Reloads the exchange every `every`, and at once when `state.wake` is notified (see
/// `watch_accounts`), and publishes the view and its alerts, until `shutdown` turns true.
pub async fn refresher<C: Chain>(
    chain: &C,
    exchange: Pubkey,
    state: Arc<ServeState>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tracker = AlertTracker::default();
    loop {
        match load(chain, &exchange).await {
            Ok(v) => {
                state.metrics.observe_view(&v);
                for a in tracker.diff(&v) {
                    let _ = state.alerts.send(a);
                }
                *state.view.write().await = Some(v);
            }
            Err(e) => warn!(error = %e, "refresh failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = state.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// The accounts whose changes `serve` follows: each market with its book and both queues.
pub fn watched_accounts(v: &ExchangeView) -> Vec<Pubkey> {
    v.markets
        .iter()
        .flat_map(|(m, _)| [m.market, m.book, m.long_queue, m.short_queue])
        .collect()
}

/// Subscribes to `keys` over pubsub (`accountSubscribe`, confirmed, no data: a 100,000-slot
/// book is 10 MB) and wakes the refresher on every notification, so alerts follow the chain
/// within a confirmation instead of a polling interval. Returns when the connection ends.
pub async fn watch_accounts(
    pubsub_url: &str,
    keys: &[Pubkey],
    state: Arc<ServeState>,
) -> Result<(), String> {
    use solana_account_decoder_client_types::{UiAccountEncoding, UiDataSliceConfig};
    use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
    use solana_rpc_client_types::config::RpcAccountInfoConfig;
    let client = PubsubClient::new(pubsub_url)
        .await
        .map_err(|e| format!("pubsub {pubsub_url}: {e}"))?;
    let config = RpcAccountInfoConfig {
        encoding: Some(UiAccountEncoding::Base64),
        data_slice: Some(UiDataSliceConfig {
            offset: 0,
            length: 0,
        }),
        commitment: Some(solana_commitment_config::CommitmentConfig::confirmed()),
        min_context_slot: None,
    };
    let mut streams = Vec::with_capacity(keys.len());
    for k in keys {
        let (s, _unsubscribe) = client
            .account_subscribe(k, Some(config.clone()))
            .await
            .map_err(|e| format!("accountSubscribe {k}: {e}"))?;
        streams.push(s);
    }
    let mut all = futures_util::stream::select_all(streams);
    while all.next().await.is_some() {
        state.wake.notify_one();
    }
    Err("pubsub connection closed".into())
}

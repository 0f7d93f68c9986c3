//! adl-engine through a real JSON-RPC node: one embedded validator (`adl-localnet`, agave's
//! validator in this process, adl-engine as a native builtin, SPL Token as BPF) shared by the
//! stages below, each a real client talking HTTP JSON-RPC:
//!
//! - the keeper's tick loop (the code of `adl-keeper run`) over `RpcChain` resolves a crash —
//!   liquidations, a bankruptcy the fund pays, ADL events filled in rank order, payout
//!   claims — with every invariant checker run on state read over RPC after each
//!   transaction;
//! - the `adl-keeper serve` binary, reloading only when pubsub reports an account change
//!   (its polling interval is 10 minutes), streams the crash's `event_started` and `fill`
//!   alerts over SSE;
//! - the `adl-keeper queue` binary prints over RPC exactly the queue tables computed from the
//!   accounts read over RPC;
//! - `migrations/deploy.sh localnet` bootstraps a second exchange against the node (deploy
//!   step skipped: the program is pre-registered);
//! - two keepers race through one crash on a book `populate` opened (`--traders`): both make
//!   progress, a transaction that lost its race is counted, no proof is accepted twice, every
//!   event completes, the invariant checkers pass after every transaction;
//! - a transaction on an unknown blockhash is reported as expired;
//! - JSON-RPC and pubsub listen on loopback only.
//!
//! The stages share one validator (start ~5 s, 1.6 GiB); they run in one test in order.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use adl_client::bootstrap::Bootstrapped;
use adl_client::chain::{Chain, RpcChain};
use adl_client::invariants;
use adl_client::ix::{self, TradeArgs};
use adl_engine::state::{EVENT_DONE, EVENT_EMPTY, SIDE_LONG, SIDE_SHORT};
use adl_keeper::budget;
use adl_keeper::keeper::{tick, KeeperConfig, Outcome, TickReport, Work};
use adl_localnet::{
    add_trader, bootstrap, chain, fund, populate, snapshot, Localnet, LocalnetConfig, Trader,
};
use anchor_lang::prelude::Pubkey;
use solana_keypair::Keypair;
use solana_signer::Signer;

const USDC: u64 = 1_000_000;
const BASE: i64 = 1_000_000_000;

fn price(whole: u64) -> u64 {
    whole * 1_000_000
}

/// A binary of this workspace, built by `cargo test --workspace` next to this test's
/// directory (`target/<profile>/`).
fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "{} not built: run `cargo test --workspace` (or `cargo build -p adl-keeper`) first",
        p.display()
    );
    p
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

#[test]
fn adl_engine_through_real_json_rpc() {
    let t = Instant::now();
    let net = Localnet::start(&LocalnetConfig {
        ticks_per_slot: 16,
        ..LocalnetConfig::default()
    })
    .expect("the localnet starts");
    println!("localnet up in {:?} at {}", t.elapsed(), net.rpc_url());
    rpc_listens_on_loopback_only(&net);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let t = Instant::now();
        let (boot, owners) = keeper_resolves_a_crash_over_rpc(&net).await;
        println!("crash resolved over RPC in {:?}", t.elapsed());
        let t = Instant::now();
        keeper_queue_binary_reads_over_rpc(&net, &boot, &owners).await;
        println!("queue over RPC in {:?}", t.elapsed());
        let t = Instant::now();
        two_keepers_race_through_a_crash(&net).await;
        println!("two keepers through a crash in {:?}", t.elapsed());
        an_unknown_blockhash_is_an_expiry(&net).await;
    });
    let t = Instant::now();
    deploy_script_bootstraps_on_localnet(&net, &rt);
    println!("deploy.sh localnet in {:?}", t.elapsed());
    // The test's own client connections close before the validator stops.
    drop(rt);
    let ledger = net.ledger().to_path_buf();
    let t = Instant::now();
    net.stop();
    println!("validator stopped in {:?}", t.elapsed());
    assert!(!ledger.exists(), "the ledger is removed on stop");
}

/// The RPC and pubsub ports are bound to 127.0.0.1, not to every interface.
fn rpc_listens_on_loopback_only(net: &Localnet) {
    let port = |url: &str| -> u16 {
        url.rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .expect("port in url")
    };
    let tcp = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    for p in [port(&net.rpc_url()), port(&net.pubsub_url())] {
        let listening: Vec<&str> = tcp
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && f[3] == "0A" && f[1].ends_with(&format!(":{p:04X}"))
            })
            .collect();
        assert!(!listening.is_empty(), "nothing listens on port {p}");
        for l in listening {
            let local = l.split_whitespace().nth(1).unwrap_or_default();
            assert!(
                local.starts_with("0100007F:"),
                "port {p} bound to {local}, not 127.0.0.1"
            );
        }
    }
}

/// The test as the oracle's pusher: `px` on `boot`'s oracle, signed by the admin.
async fn push_price(admin: &RpcChain, admin_kp: &Keypair, boot: &Bootstrapped, px: u64) {
    admin
        .send(&[ix::set_oracle_price(
            &admin_kp.pubkey(),
            &boot.exchange,
            &boot.oracle,
            px,
            0,
        )])
        .await
        .expect("oracle push");
}

async fn check(admin: &RpcChain, boot: &Bootstrapped, owners: &[Pubkey], step: &str) {
    let s = snapshot(admin, &boot.exchange, owners)
        .await
        .unwrap_or_else(|e| panic!("{step}: snapshot over RPC: {e}"));
    invariants::check_all(&s).unwrap_or_else(|e| panic!("{step}: invariant broken: {e}"));
}

/// Leverage (whole x) each long/short pair opens at.
const PAIR_LEVERAGE: [u64; 6] = [2, 9, 4, 7, 3, 8];

/// Six pairs of traders, a staker, a keeper with collateral; the price falls to 92 then 78
/// and the keeper's tick loop over `RpcChain` resolves everything one transaction at a time.
async fn keeper_resolves_a_crash_over_rpc(net: &Localnet) -> (Bootstrapped, Vec<Pubkey>) {
    let admin_kp = Keypair::new();
    fund(net, &admin_kp, 100).await.expect("fund admin");
    let boot = bootstrap(net, &admin_kp, price(100), &[64])
        .await
        .expect("bootstrap over RPC");
    let admin = chain(net, &admin_kp);
    let m = boot.markets[0];
    let n = PAIR_LEVERAGE.len();
    let mut traders: Vec<Trader> = Vec::new();
    for _ in 0..2 * n {
        traders.push(
            add_trader(&admin, &boot, 10_000 * USDC, 10_000 * USDC)
                .await
                .expect("trader"),
        );
    }
    let staker = add_trader(&admin, &boot, 1_000 * USDC, 0)
        .await
        .expect("staker");
    let keeper = add_trader(&admin, &boot, 20_000 * USDC, 20_000 * USDC)
        .await
        .expect("keeper");
    let mut owners: Vec<Pubkey> = traders.iter().map(Trader::key).collect();
    owners.push(staker.key());
    owners.push(keeper.key());
    check(&admin, &boot, &owners, "after the deposits").await;
    for (k, lev) in PAIR_LEVERAGE.iter().enumerate() {
        let size = (k as i64 + 1) * BASE / 2;
        let px = price(100) - 500_000 + (k as u64) * 100_000;
        let notional = (size as u64 / 1_000) * px / 1_000_000;
        let margin = notional / lev;
        let (long, short) = (&traders[k], &traders[k + n]);
        let trade = ix::trade(
            &boot.exchange,
            &m,
            &long.key(),
            &short.key(),
            TradeArgs {
                taker_base: size,
                price: px,
                taker_margin: margin,
                maker_margin: margin,
            },
        );
        admin
            .send_with(&[trade], &[&long.kp, &short.kp])
            .await
            .unwrap_or_else(|e| panic!("trade {k}: {e}"));
        check(&admin, &boot, &owners, &format!("after trade {k}")).await;
    }
    // The staker funds the insurance fund with 10 USDC and the fees are swept into it.
    admin
        .send_with(
            &[
                ix::if_create_stake(&staker.key(), &boot.exchange),
                ix::if_stake(&staker.key(), &boot.exchange, &staker.token, 10 * USDC),
            ],
            &[&staker.kp],
        )
        .await
        .expect("stake");
    admin
        .send(&[ix::sweep_fees(&boot.exchange, &m.market)])
        .await
        .expect("sweep");
    check(&admin, &boot, &owners, "after stake and sweep").await;

    // `adl-keeper serve` (the binary) with a 10-minute reload interval: after its first load,
    // only pubsub account notifications can make it reload, so every alert it sends during
    // the crash proves the subscription path.
    let serve = Serve::start(net, &boot.exchange).await;

    let cfg = KeeperConfig::new(boot.exchange);
    let kchain = chain(net, &keeper.kp);
    let mut done = Vec::new();
    for px in [92u64, 78] {
        for step in 0.. {
            assert!(step < 200, "the keeper did not finish at {px}");
            // The test is the oracle's pusher: a fresh price before each keeper transaction.
            push_price(&admin, &admin_kp, &boot, price(px)).await;
            let report = tick(&kchain, &cfg, 1).await.expect("keeper tick over RPC");
            assert_eq!(report.rejected, 0, "a keeper transaction was rejected");
            check(
                &admin,
                &boot,
                &owners,
                &format!("after keeper step {step} at {px}"),
            )
            .await;
            let Some((_, work)) = report.actions.first().cloned() else {
                break;
            };
            done.push(work);
        }
    }
    let count = |f: fn(&Work) -> bool| done.iter().filter(|w| f(w)).count();
    let liquidations = count(|w| matches!(w, Work::Liquidate { .. }));
    let starts = count(|w| matches!(w, Work::StartAdl { .. }));
    let fills = count(|w| matches!(w, Work::Ranked { .. }));
    let claims = count(|w| matches!(w, Work::Claim { .. }));
    println!(
        "keeper over RPC: {} transactions — {liquidations} liquidations, {starts} ADL starts, {fills} ranked fill txs, {claims} claims",
        done.len()
    );
    assert!(liquidations >= 1, "no liquidation: {done:?}");
    assert!(starts >= 1, "no ADL event: {done:?}");
    assert!(fills >= 1, "no ADL fill: {done:?}");
    assert!(claims >= 1, "no payout claimed: {done:?}");
    let s = snapshot(&admin, &boot.exchange, &owners)
        .await
        .expect("final snapshot");
    let snap = &s.markets[0];
    let events: Vec<_> = snap
        .market
        .adl_events
        .iter()
        .filter(|e| e.status != EVENT_EMPTY)
        .collect();
    assert_eq!(
        events.len() as u64,
        snap.market.next_event_id,
        "every event the market opened is recorded"
    );
    assert_eq!(
        events.len(),
        starts,
        "one event per start_adl the keeper sent"
    );
    for ev in &events {
        assert_eq!(ev.status, EVENT_DONE, "event {} left open: {ev:?}", ev.id);
        assert_eq!(ev.base_remaining, 0, "event {} not fully filled", ev.id);
    }
    assert_eq!(
        snap.market.open_interest_long, snap.market.open_interest_short,
        "open interest balanced after the crash"
    );
    // The alerts `serve` streamed: the event start with its id, and fills against the
    // winning side (the shorts) with positive payouts.
    let shorts: Vec<String> = traders[n..].iter().map(|t| t.key().to_string()).collect();
    let event_ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    let alerts = serve
        .wait_for(|a| {
            a.iter().any(|x| x["type"] == "event_started") && a.iter().any(|x| x["type"] == "fill")
        })
        .await;
    let started: Vec<u64> = alerts
        .iter()
        .filter(|a| a["type"] == "event_started")
        .filter_map(|a| a["event_id"].as_u64())
        .collect();
    assert!(
        !started.is_empty() && started.iter().all(|id| event_ids.contains(id)),
        "event_started alerts {started:?} name the events {event_ids:?}"
    );
    for f in alerts.iter().filter(|a| a["type"] == "fill") {
        let owner = f["owner"].as_str().unwrap_or_default().to_string();
        assert!(shorts.contains(&owner), "fill against a short: {f}");
        assert!(
            f["payout"].as_u64().unwrap_or(0) > 0,
            "fill with a payout: {f}"
        );
    }
    println!(
        "serve streamed {} alerts over SSE from pubsub-triggered reloads",
        alerts.len()
    );
    // Its /metrics: queue depths as the chain has them (once its view caught up), the
    // chain calls it made, no keeper work (it runs none without --keep).
    let depth = |side: &str| {
        format!(
            "adl_queue_depth{{market=\"{}\",index=\"0\",side=\"{side}\"}}",
            m.market
        )
    };
    let want = (
        snap.long_queue.header.len as f64,
        snap.short_queue.header.len as f64,
    );
    let t = Instant::now();
    let metrics = loop {
        let got = serve.metrics().await;
        if (
            got.get(&depth("long")).copied(),
            got.get(&depth("short")).copied(),
        ) == (Some(want.0), Some(want.1))
            || t.elapsed().as_secs() > 20
        {
            break got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(metrics.get(&depth("long")), Some(&want.0), "{metrics:?}");
    assert_eq!(metrics.get(&depth("short")), Some(&want.1), "{metrics:?}");
    assert!(metrics["adl_last_slot"] > 0.0);
    assert!(metrics["adl_rpc_requests_total{method=\"getMultipleAccounts\"}"] >= 3.0);
    assert_eq!(metrics["adl_keeper_ticks_total"], 0.0);
    assert_eq!(
        metrics["adl_keeper_work_sent_total{kind=\"liquidate\"}"],
        0.0
    );
    drop(serve);
    (boot, owners)
}

/// A running `adl-keeper serve` and the alerts read from its SSE stream.
struct Serve {
    child: std::process::Child,
    base: String,
    alerts: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Serve {
    async fn start(net: &Localnet, exchange: &Pubkey) -> Serve {
        Self::start_with(net, exchange, &[]).await
    }

    /// `serve` with `extra` flags (`--keep --keypair …` runs the keeper in it too).
    async fn start_with(net: &Localnet, exchange: &Pubkey, extra: &[String]) -> Serve {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(workspace_bin("adl-keeper"))
            .args([
                "serve",
                "--rpc-url",
                &net.rpc_url(),
                "--pubsub-url",
                &net.pubsub_url(),
                "--exchange",
                &exchange.to_string(),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--refresh-ms",
                "600000",
            ])
            .args(extra)
            .env_remove("ADL_KEEPER_CONFIG")
            .spawn()
            .expect("adl-keeper serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let t = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/markets")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(t.elapsed().as_secs() < 30, "serve not up in 30 s");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let alerts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = alerts.clone();
        let resp = http
            .get(format!("{base}/alerts"))
            .send()
            .await
            .expect("alerts stream");
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut body = resp.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(i) = buf.find('\n') {
                    let line = buf[..i].trim_end().to_string();
                    buf.drain(..=i);
                    if let Some(json) = line.strip_prefix("data:") {
                        if let Ok(v) = serde_json::from_str(json.trim()) {
                            sink.lock().unwrap_or_else(|e| e.into_inner()).push(v);
                        }
                    }
                }
            }
        });
        // Let the subscriptions settle before the chain changes.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        Serve {
            child,
            base,
            alerts,
        }
    }

    /// `GET /metrics`: each series with its value.
    async fn metrics(&self) -> std::collections::BTreeMap<String, f64> {
        let r = reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("GET /metrics");
        assert_eq!(r.status().as_u16(), 200);
        let body = r.text().await.expect("metrics body");
        body.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').expect("series value");
                (k.to_string(), v.parse().expect("a number"))
            })
            .collect()
    }

    /// The alerts so far once `done` holds for them (at most 20 s).
    async fn wait_for(
        &self,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let t = Instant::now();
        loop {
            let got = self
                .alerts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if done(&got) || t.elapsed().as_secs() >= 20 {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `adl-keeper queue` (the binary, over HTTP JSON-RPC) prints exactly the tables computed from
/// the market's accounts read over RPC.
async fn keeper_queue_binary_reads_over_rpc(
    net: &Localnet,
    boot: &Bootstrapped,
    owners: &[Pubkey],
) {
    let admin = RpcChain::new(&net.rpc_url(), Keypair::new());
    let s = snapshot(&admin, &boot.exchange, owners)
        .await
        .expect("snapshot");
    let snap = &s.markets[0];
    let mut expected = String::new();
    for side in [SIDE_LONG, SIDE_SHORT] {
        expected.push_str(&adl_keeper::view::format_queue(
            snap,
            side,
            snap.oracle.price,
        ));
        expected.push('\n');
    }
    let out = Command::new(workspace_bin("adl-keeper"))
        .args([
            "queue",
            "--rpc-url",
            &net.rpc_url(),
            "--exchange",
            &boot.exchange.to_string(),
            "--side",
            "both",
        ])
        .env_remove("ADL_KEEPER_CONFIG")
        .output()
        .expect("adl-keeper runs");
    assert!(
        out.status.success(),
        "adl-keeper queue failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed, expected);
    assert!(
        printed.lines().count() > 4,
        "the queue tables have rows: {printed}"
    );
}

/// `migrations/deploy.sh localnet` against the embedded node: the deploy step is skipped
/// (`ADL_SKIP_DEPLOY=1`, the program is registered natively), the bootstrap runs through the
/// `adl-keeper` binary and creates an exchange with one market.
fn deploy_script_bootstraps_on_localnet(net: &Localnet, rt: &tokio::runtime::Runtime) {
    let dir = net.ledger().join("deploy-test");
    std::fs::create_dir_all(&dir).expect("dir");
    let kp_path = dir.join("admin.json");
    let admin = adl_localnet::load_or_create_keypair(&kp_path).expect("keypair");
    rt.block_on(fund(net, &admin, 10)).expect("fund");
    let out = Command::new("bash")
        .arg(repo_root().join("migrations/deploy.sh"))
        .args(["localnet", "--capacity", "32"])
        .env("ADL_SKIP_DEPLOY", "1")
        .env("ADL_RPC_URL", net.rpc_url())
        .env("ADL_KEYPAIR", &kp_path)
        .env("ADL_KEEPER_BIN", workspace_bin("adl-keeper"))
        .output()
        .expect("deploy.sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "deploy.sh failed: {stdout}\n{stderr}");
    assert!(
        stdout.contains("deploy skipped"),
        "deploy.sh says it skipped the deploy: {stdout}"
    );
    let exchange = ix::exchange_pda(&admin.pubkey());
    let chain = RpcChain::new(&net.rpc_url(), Keypair::new());
    let view = rt
        .block_on(adl_keeper::keeper::load(&chain, &exchange))
        .expect("the exchange deploy.sh created is readable over RPC");
    assert_eq!(view.exchange.market_count, 1);
    assert_eq!(view.markets[0].1.book.header.capacity, 32);
}

/// A keeper's chain for the race: every send waits for the submission lock, and once it is
/// confirmed the invariant checkers run on state read over RPC before the lock is released —
/// so they see the state after every transaction of either keeper, and nothing lands between
/// a transaction and its check. Planning (loads, simulation, fee reads) is not serialized:
/// both keepers plan from the same state and race to submit.
struct Checked<'a> {
    inner: RpcChain,
    lock: &'a tokio::sync::Mutex<()>,
    reader: &'a RpcChain,
    exchange: Pubkey,
    owners: &'a [Pubkey],
}

impl Chain for Checked<'_> {
    async fn accounts(
        &self,
        keys: &[Pubkey],
    ) -> Result<Vec<Option<solana_account::Account>>, adl_client::chain::ChainError> {
        self.inner.accounts(keys).await
    }

    async fn send_with(
        &self,
        ixs: &[anchor_lang::solana_program::instruction::Instruction],
        extra: &[&Keypair],
    ) -> Result<(), adl_client::chain::ChainError> {
        let _turn = self.lock.lock().await;
        let r = self.inner.send_with(ixs, extra).await;
        if r.is_ok() {
            let s = snapshot(self.reader, &self.exchange, self.owners)
                .await
                .unwrap_or_else(|e| panic!("snapshot over RPC: {e}"));
            invariants::check_all(&s).unwrap_or_else(|e| {
                panic!(
                    "invariant broken after a transaction of {}: {e}",
                    self.inner.keeper()
                )
            });
        }
        r
    }

    async fn rent_exempt(&self, len: usize) -> Result<u64, adl_client::chain::ChainError> {
        self.inner.rent_exempt(len).await
    }

    fn keeper(&self) -> Pubkey {
        self.inner.keeper()
    }

    async fn slot(&self) -> Result<u64, adl_client::chain::ChainError> {
        self.inner.slot().await
    }

    async fn simulate_units(
        &self,
        ixs: &[anchor_lang::solana_program::instruction::Instruction],
    ) -> Result<Option<u64>, adl_client::chain::ChainError> {
        self.inner.simulate_units(ixs).await
    }

    async fn recent_fees(
        &self,
        writable: &[Pubkey],
    ) -> Result<Vec<u64>, adl_client::chain::ChainError> {
        self.inner.recent_fees(writable).await
    }
}

/// Two keepers, each with its own keypair and collateral, race through one crash (100 → 92
/// → 78) on the book `adl-localnet --traders 12` opens. Between rounds the test pushes a fresh
/// price; in each round both keepers tick at once (at most 4 transactions each).
async fn two_keepers_race_through_a_crash(net: &Localnet) {
    let admin_kp = Keypair::new();
    fund(net, &admin_kp, 100).await.expect("fund admin");
    let boot = bootstrap(net, &admin_kp, price(100), &[64])
        .await
        .expect("bootstrap");
    let pop = populate(net, &admin_kp, &boot, price(100), 6)
        .await
        .expect("populate");
    let admin = chain(net, &admin_kp);
    // The second keeper: its own keypair and 20,000 USDC.
    let second = add_trader(&admin, &boot, 20_000 * USDC, 20_000 * USDC)
        .await
        .expect("second keeper");
    let mut owners = pop.owners(&admin_kp.pubkey());
    owners.push(second.key());
    check(&admin, &boot, &owners, "after populate").await;
    let s = snapshot(&admin, &boot.exchange, &owners).await.unwrap();
    assert_eq!(
        (
            s.markets[0].long_queue.header.len,
            s.markets[0].short_queue.header.len
        ),
        (6, 6),
        "populate opens six longs against six shorts"
    );
    let lock = tokio::sync::Mutex::new(());
    let keepers = [
        Checked {
            inner: chain(net, &admin_kp),
            lock: &lock,
            reader: &admin,
            exchange: boot.exchange,
            owners: &owners,
        },
        Checked {
            inner: chain(net, &second.kp),
            lock: &lock,
            reader: &admin,
            exchange: boot.exchange,
            owners: &owners,
        },
    ];
    let cfg = KeeperConfig::new(boot.exchange);
    let mut totals = [TickReport::default(), TickReport::default()];
    for px in [92u64, 78] {
        let mut quiet = 0;
        for round in 0.. {
            assert!(round < 400, "the keepers did not finish at {px}");
            {
                let _turn = lock.lock().await;
                push_price(&admin, &admin_kp, &boot, price(px)).await;
            }
            let (a, b) = tokio::join!(tick(&keepers[0], &cfg, 4), tick(&keepers[1], &cfg, 4));
            let (a, b) = (a.expect("keeper A"), b.expect("keeper B"));
            let idle = a.attempts.is_empty() && b.attempts.is_empty();
            for (t, r) in totals.iter_mut().zip([a, b]) {
                t.lost_races += r.lost_races;
                t.rejected += r.rejected;
                t.expired += r.expired;
                t.attempts.extend(r.attempts);
                t.actions.extend(r.actions);
                t.budgets.extend(r.budgets);
            }
            // Done once nothing is left: no active event, no payout waiting, nobody
            // liquidatable but the keepers (the bankruptcy grace can leave a round idle with
            // work still ahead).
            let s = snapshot(&admin, &boot.exchange, &owners).await.unwrap();
            let m = &s.markets[0];
            let keeper_keys = [admin_kp.pubkey(), second.key()];
            let settled = m.active_events().count() == 0
                && m.allocated_slots()
                    .all(|(_, p)| p.status == adl_engine::state::SLOT_OPEN && p.adl_payout == 0)
                && m.book.open_slots().all(|(_, p)| {
                    keeper_keys.contains(&p.owner)
                        || p.equity(m.market.cumulative_funding, price(px))
                            .map(|eq| {
                                eq >= adl_engine::math::margin_requirement(
                                    p.base,
                                    price(px),
                                    m.market.params.mmr_bps,
                                )
                                .unwrap_or(i128::MAX)
                            })
                            .unwrap_or(false)
                });
            quiet = if idle { quiet + 1 } else { 0 };
            if settled && quiet >= 2 {
                break;
            }
            if idle {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
    let s = snapshot(&admin, &boot.exchange, &owners).await.unwrap();
    let m = &s.markets[0];
    let events: Vec<_> = m
        .market
        .adl_events
        .iter()
        .filter(|e| e.status != EVENT_EMPTY)
        .collect();
    assert!(!events.is_empty(), "the crash needed ADL");
    for ev in &events {
        assert_eq!(ev.status, EVENT_DONE, "event {} left open", ev.id);
        assert_eq!(ev.base_remaining, 0, "event {} not fully filled", ev.id);
    }
    assert_eq!(m.market.open_interest_long, m.market.open_interest_short);
    let sent = |t: &TickReport| t.attempts.iter().filter(|a| a.2 == Outcome::Sent).count();
    let all_sent: Vec<&(Pubkey, Work, Outcome)> = totals
        .iter()
        .flat_map(|t| t.attempts.iter())
        .filter(|a| a.2 == Outcome::Sent)
        .collect();
    // No proof accepted twice: the fills of the ranked proofs accepted from either keeper
    // add up, event by event, to the fills the program recorded; one start per event; each
    // liquidation of a position once.
    for ev in &events {
        let accepted: u32 = all_sent
            .iter()
            .map(|a| match &a.1 {
                Work::Ranked { id, slots, .. } if *id == ev.id => slots.len() as u32,
                _ => 0,
            })
            .sum();
        assert_eq!(
            accepted, ev.fills,
            "event {}: proofs accepted vs fills",
            ev.id
        );
    }
    let starts = all_sent
        .iter()
        .filter(|a| matches!(a.1, Work::StartAdl { .. }))
        .count();
    assert_eq!(
        starts as u64, m.market.next_event_id,
        "one accepted start per event"
    );
    let mut liquidated: Vec<(u32, Pubkey)> = all_sent
        .iter()
        .filter_map(|a| match a.1 {
            Work::Liquidate { slot, owner, .. } => Some((slot, owner)),
            _ => None,
        })
        .collect();
    let n = liquidated.len();
    liquidated.sort();
    liquidated.dedup();
    assert_eq!(liquidated.len(), n, "a position liquidated twice");
    for (i, t) in totals.iter().enumerate() {
        assert!(sent(t) >= 1, "keeper {i} made no progress: {t:?}");
        assert_eq!(
            t.rejected, 0,
            "keeper {i}: a refusal that was not a race: {t:?}"
        );
        assert_eq!(t.expired, 0, "keeper {i}: {t:?}");
        assert_eq!(t.budgets.len(), sent(t));
        for ((_, w), (units, fee)) in t.actions.iter().zip(&t.budgets) {
            assert!(
                *units >= budget::table_units(w) && *units <= budget::MAX_UNITS,
                "{w:?}: {units}"
            );
            assert!(*fee <= cfg.max_priority_fee);
        }
    }
    let lost: usize = totals.iter().map(|t| t.lost_races).sum();
    assert!(
        lost >= 1,
        "two keepers planning from the same state never raced"
    );
    for (i, t) in totals.iter().enumerate() {
        let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
        for a in t.attempts.iter().filter(|a| a.2 == Outcome::Sent) {
            *kinds.entry(a.1.kind()).or_default() += 1;
        }
        println!(
            "keeper {i}: {} sent {kinds:?}, {} lost races; compute-unit limits {:?}, prices {:?}",
            sent(t),
            t.lost_races,
            t.budgets.iter().map(|b| b.0).collect::<Vec<_>>(),
            t.budgets
                .iter()
                .map(|b| b.1)
                .collect::<std::collections::BTreeSet<_>>()
        );
    }
    println!(
        "race: {} events, {} fills, {} liquidations, {lost} lost races",
        events.len(),
        events.iter().map(|e| e.fills).sum::<u32>(),
        n
    );

    // `adl-keeper serve --keep`: the keeper in the serving process, its work in /metrics.
    // The next funding period comes due; its crank shows as sent, the chain agrees.
    let dir = std::env::temp_dir().join(format!("adl-serve-keep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("keeper.json");
    std::fs::write(
        &key_file,
        serde_json::to_string(&second.kp.to_bytes().to_vec()).unwrap(),
    )
    .unwrap();
    let funded_before = m.market.last_funding_slot;
    push_price(&admin, &admin_kp, &boot, price(78)).await;
    let serve = Serve::start_with(
        net,
        &boot.exchange,
        &[
            "--keep".into(),
            "--keypair".into(),
            key_file.display().to_string(),
            "--interval-ms".into(),
            "200".into(),
        ],
    )
    .await;
    let t = Instant::now();
    let metrics = loop {
        let got = serve.metrics().await;
        if got["adl_keeper_work_sent_total{kind=\"funding\"}"] >= 1.0 || t.elapsed().as_secs() > 60
        {
            break got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        metrics["adl_keeper_work_sent_total{kind=\"funding\"}"] >= 1.0,
        "{metrics:?}"
    );
    assert!(metrics["adl_keeper_ticks_total"] >= 1.0);
    assert!(metrics["adl_rpc_requests_total{method=\"sendTransaction\"}"] >= 1.0);
    let after = snapshot(&admin, &boot.exchange, &owners).await.unwrap();
    assert!(
        after.markets[0].market.last_funding_slot > funded_before,
        "the chain shows the crank serve --keep reported"
    );
    check(&admin, &boot, &owners, "after serve --keep").await;
}

/// A transaction built on a blockhash the node does not know is reported as `Expired` (it
/// cannot land), not as a program rejection or transport trouble.
async fn an_unknown_blockhash_is_an_expiry(net: &Localnet) {
    let kp = Keypair::new();
    fund(net, &kp, 1).await.expect("fund");
    let c = chain(net, &kp);
    let ix = solana_system_interface::instruction::transfer(
        &kp.pubkey(),
        &Pubkey::new_unique(),
        1_000_000,
    );
    let err = c
        .send_with_blockhash(
            std::slice::from_ref(&ix),
            &[],
            adl_client::chain::Blockhash::new_unique(),
        )
        .await
        .expect_err("an unknown blockhash cannot land");
    assert!(
        matches!(err, adl_client::chain::ChainError::Expired(_)),
        "{err}"
    );
    // The same transfer on a fresh blockhash lands.
    c.send(&[ix]).await.expect("a fresh blockhash lands");
}

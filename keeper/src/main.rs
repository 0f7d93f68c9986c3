//! `adl-keeper`: command-line entry point.

use std::path::PathBuf;
use std::process::ExitCode;

use adl_client::chain::{Chain, RpcChain};
use adl_engine::state::{SIDE_LONG, SIDE_SHORT};
use adl_keeper::config::{self, ConfigError, FileConfig, Settings};
use adl_keeper::keeper::keep;
use adl_keeper::metrics::Metered;
use clap::{Args, Parser, Subcommand};
use tracing::{info, warn};

#[derive(Parser)]
#[command(
    name = "adl-keeper",
    version,
    about = "Keeper and tools for the adl-engine program"
)]
struct Cli {
    /// TOML config file (keys as the long flags, with underscores).
    #[arg(long, global = true, env = "ADL_KEEPER_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct Common {
    /// JSON-RPC endpoint of the cluster.
    #[arg(long, env = "ADL_KEEPER_RPC_URL")]
    rpc_url: Option<String>,
    /// The exchange account (base58).
    #[arg(long, env = "ADL_KEEPER_EXCHANGE")]
    exchange: Option<String>,
}

/// The keeper's own settings (`run`, and `serve --keep`).
#[derive(Args, Clone, Default)]
struct KeeperFlags {
    /// Keypair file of the keeper (fee payer and liquidator; needs a funded user account).
    #[arg(long, env = "ADL_KEEPER_KEYPAIR")]
    keypair: Option<PathBuf>,
    /// Pause between ticks, milliseconds.
    #[arg(long, env = "ADL_KEEPER_INTERVAL_MS")]
    interval_ms: Option<u64>,
    /// Most ADL fills or pro-rata slots per transaction.
    #[arg(long, env = "ADL_KEEPER_MAX_FILLS_PER_TX")]
    max_fills_per_tx: Option<usize>,
    /// Margin posted when taking over a position, bps of its notional.
    #[arg(long, env = "ADL_KEEPER_LIQUIDATION_MARGIN_BPS")]
    liquidation_margin_bps: Option<u64>,
    /// Do not crank funding.
    #[arg(long)]
    no_funding: bool,
    /// Do not claim ADL payouts (leave them to their owners or frontends).
    #[arg(long)]
    no_claims: bool,
    /// Sweep a market's fees into the insurance fund once they reach this many quote
    /// atoms (0: never).
    #[arg(long, env = "ADL_KEEPER_SWEEP_MIN_FEES")]
    sweep_min_fees: Option<u64>,
    /// Compute-unit limit: simulated units plus this margin, percent (never below the
    /// per-instruction table, at most 1.4M).
    #[arg(long, env = "ADL_KEEPER_CU_MARGIN_PCT")]
    cu_margin_pct: Option<u32>,
    /// Priority fee: this percentile (0–100) of the recent prioritization fees paid for
    /// the accounts the transaction writes.
    #[arg(long, env = "ADL_KEEPER_PRIORITY_FEE_PERCENTILE")]
    priority_fee_percentile: Option<u8>,
    /// Most the keeper pays per compute unit, micro-lamports.
    #[arg(long, env = "ADL_KEEPER_MAX_PRIORITY_FEE")]
    max_priority_fee: Option<u64>,
}

impl KeeperFlags {
    fn overrides(self, common: Common) -> FileConfig {
        FileConfig {
            rpc_url: common.rpc_url,
            exchange: common.exchange,
            keypair: self.keypair,
            interval_ms: self.interval_ms,
            max_fills_per_tx: self.max_fills_per_tx,
            liquidation_margin_bps: self.liquidation_margin_bps,
            crank_funding: self.no_funding.then_some(false),
            claim_payouts: self.no_claims.then_some(false),
            sweep_min_fees: self.sweep_min_fees,
            cu_margin_pct: self.cu_margin_pct,
            priority_fee_percentile: self.priority_fee_percentile,
            max_priority_fee: self.max_priority_fee,
            ..FileConfig::default()
        }
    }
}

#[derive(Subcommand)]
enum PriceCommand {
    /// Push a price to a market's test oracle, signed by the oracle authority (the exchange
    /// admin on localnet and devnet bootstraps). Markets on Pyth ignore it.
    Set {
        #[command(flatten)]
        common: Common,
        /// The price, in whole quote units (for example 78 or 78.25).
        price: String,
        /// Oracle authority keypair file (the admin keypair `adl-localnet` prints).
        #[arg(long, env = "ADL_KEEPER_KEYPAIR")]
        keypair: Option<PathBuf>,
        /// Market index whose oracle to set.
        #[arg(long, default_value_t = 0)]
        market: u16,
        /// Confidence interval, in whole quote units.
        #[arg(long, default_value = "0")]
        confidence: String,
    },
}

/// Whole quote units with up to six decimals ("78", "78.25") to price atoms (1e6 = 1.0).
fn parse_price(s: &str) -> Result<u64, ConfigError> {
    let bad = || ConfigError(format!("not a price (whole units, up to 6 decimals): {s}"));
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || frac.len() > 6
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let w: u64 = whole.parse().map_err(|_| bad())?;
    let f: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().map_err(|_| bad())?
    };
    w.checked_mul(1_000_000)
        .and_then(|a| a.checked_add(f))
        .ok_or_else(bad)
}

#[derive(Subcommand)]
enum Command {
    /// Keep an exchange healthy: liquidate, start and run ADL events, crank funding and
    /// pro-rata obligations, claim payouts.
    Run {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        keeper: KeeperFlags,
        /// Run one tick and exit.
        #[arg(long)]
        once: bool,
    },
    /// Print a market's ADL queue (rank, tier, owner, size, entry, leverage, PnL, lights).
    Queue {
        #[command(flatten)]
        common: Common,
        /// Market index.
        #[arg(long, default_value_t = 0)]
        market: u16,
        /// long, short or both.
        #[arg(long, default_value = "both")]
        side: String,
    },
    /// Create (or complete) an exchange on a cluster: mint (optional), exchange, insurance
    /// fund, oracle and markets with their large accounts. Re-running skips what exists.
    Bootstrap {
        #[command(flatten)]
        common: Common,
        /// Admin keypair file (pays, becomes the exchange admin and oracle authority).
        #[arg(long, env = "ADL_KEEPER_KEYPAIR")]
        keypair: Option<PathBuf>,
        /// Existing collateral mint (6 decimals); without it a new mint is created with the
        /// admin as mint authority (localnet/devnet).
        #[arg(long)]
        mint: Option<String>,
        /// Initial oracle price, price atoms (1e6 = 1.0).
        #[arg(long, default_value_t = 100_000_000)]
        oracle_price: u64,
        /// Book capacity of each market (repeat for several markets).
        #[arg(long = "capacity", default_values_t = [4_096usize])]
        capacities: Vec<usize>,
        /// Insurance unstake cooldown, slots.
        #[arg(long, default_value_t = 9_000)]
        unstake_cooldown_slots: u64,
        /// Insurance unstake window after the cooldown, slots.
        #[arg(long, default_value_t = 9_000)]
        unstake_window_slots: u64,
        /// Slots over which the insurance fund's earnings (swept fees, liquidation shares)
        /// vest into the value of shares.
        #[arg(long, default_value_t = 9_000)]
        fee_vest_slots: u64,
        /// Pyth feed id (64 hex digits): every market reads this feed.
        #[arg(long)]
        pyth_feed: Option<String>,
        /// Pyth `PriceUpdateV2` account to read, base58; default: the feed's sponsored
        /// price-feed account (push oracle, shard 0).
        #[arg(long, requires = "pyth_feed")]
        pyth_account: Option<String>,
        /// Oldest accepted Pyth publish time, seconds.
        #[arg(long, default_value_t = 60)]
        pyth_max_age_secs: u64,
    },
    /// Serve markets, queues, positions and events over HTTP, and alerts as server-sent events.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on.
        #[arg(long, env = "ADL_KEEPER_LISTEN")]
        listen: Option<String>,
        /// Reload interval, milliseconds (account changes reported over pubsub reload at once).
        #[arg(long, env = "ADL_KEEPER_REFRESH_MS")]
        refresh_ms: Option<u64>,
        /// Websocket (pubsub) endpoint; default: the RPC URL's host, port + 1.
        #[arg(long, env = "ADL_KEEPER_PUBSUB_URL")]
        pubsub_url: Option<String>,
        /// Also run the keeper in this process (needs its keypair), with its work in
        /// `/metrics`.
        #[arg(long)]
        keep: bool,
        #[command(flatten)]
        keeper: KeeperFlags,
    },
    /// The test oracle's price.
    #[command(subcommand)]
    Price(PriceCommand),
}

fn settings(file: &Option<PathBuf>, over: FileConfig) -> Result<Settings, ConfigError> {
    let file = match file {
        Some(p) => config::read_file(p)?,
        None => FileConfig::default(),
    };
    config::resolve(over, file)
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Run {
            common,
            keeper,
            once,
        } => {
            let s = settings(&cli.config, keeper.overrides(common))?;
            let chain = keeper_chain(&s)?;
            info!(keeper = %chain.keeper(), exchange = %s.keeper.exchange, rpc = %s.rpc_url, "keeper starting");
            let metrics = adl_keeper::metrics::Metrics::new();
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                info!("shutting down");
                let _ = stop_tx.send(true);
            });
            keep(&chain, &s.keeper, 64, s.interval, &metrics, once, stop_rx).await?;
        }
        Command::Bootstrap {
            common,
            keypair,
            mint,
            oracle_price,
            capacities,
            unstake_cooldown_slots,
            unstake_window_slots,
            fee_vest_slots,
            pyth_feed,
            pyth_account,
            pyth_max_age_secs,
        } => {
            let rpc_url = match (&common.rpc_url, &cli.config) {
                (Some(u), _) => u.clone(),
                (None, Some(p)) => config::read_file(p)?
                    .rpc_url
                    .unwrap_or_else(|| config::DEFAULT_RPC_URL.into()),
                (None, None) => config::DEFAULT_RPC_URL.into(),
            };
            let path = keypair.ok_or_else(|| {
                ConfigError("missing keypair: give --keypair or ADL_KEEPER_KEYPAIR".into())
            })?;
            let mint =
                match mint {
                    Some(m) => Some(m.parse().map_err(|_| {
                        ConfigError(format!("mint is not a base58 public key: {m}"))
                    })?),
                    None => None,
                };
            let too_big = |c: usize| {
                c == 0
                    || adl_engine::state::PositionBook::space(c)
                        > adl_engine::state::MAX_ACCOUNT_LEN
            };
            if capacities.iter().any(|&c| too_big(c)) {
                return Err(ConfigError(
                    "each --capacity must be 1..=100000 (the book must fit 10 MiB)".into(),
                )
                .into());
            }
            let chain = RpcChain::new(&rpc_url, config::read_keypair(&path)?);
            let plan = adl_client::bootstrap::BootstrapPlan {
                mint,
                oracle_price,
                unstake_cooldown_slots,
                unstake_window_slots,
                fee_vest_slots,
                market_capacities: capacities,
                params: adl_client::bootstrap::default_params(),
                pyth: match pyth_feed {
                    Some(f) => {
                        let feed_id =
                            adl_client::bootstrap::parse_feed_id(&f).ok_or_else(|| {
                                ConfigError(format!("--pyth-feed is not 64 hex digits: {f}"))
                            })?;
                        let account = match pyth_account {
                            Some(a) => a.parse().map_err(|_| {
                                ConfigError(format!(
                                    "--pyth-account is not a base58 public key: {a}"
                                ))
                            })?,
                            None => adl_client::bootstrap::sponsored_feed_account(0, &feed_id),
                        };
                        Some(adl_client::bootstrap::PythSource {
                            feed_id,
                            account,
                            max_age_secs: pyth_max_age_secs,
                        })
                    }
                    None => None,
                },
            };
            let done = adl_client::bootstrap::bootstrap(&chain, &plan).await?;
            println!(
                "exchange {}\nmint {}\ninsurance_fund {}\noracle {}",
                done.exchange, done.mint, done.fund, done.oracle
            );
            if let Some(p) = plan.pyth {
                println!("pyth_account {}", p.account);
            }
            for (i, m) in done.markets.iter().enumerate() {
                println!(
                    "market[{i}] {} book {} long_queue {} short_queue {}",
                    m.market, m.book, m.long_queue, m.short_queue
                );
            }
        }
        Command::Queue {
            common,
            market,
            side,
        } => {
            let s = settings(
                &cli.config,
                FileConfig {
                    rpc_url: common.rpc_url,
                    exchange: common.exchange,
                    ..FileConfig::default()
                },
            )?;
            let sides = match side.as_str() {
                "long" => vec![SIDE_LONG],
                "short" => vec![SIDE_SHORT],
                "both" => vec![SIDE_LONG, SIDE_SHORT],
                other => {
                    return Err(ConfigError(format!(
                        "side must be long, short or both, not {other}"
                    ))
                    .into())
                }
            };
            let chain = RpcChain::new(&s.rpc_url, solana_keypair::Keypair::new());
            print!(
                "{}",
                adl_keeper::view::queue_report(&chain, &s.keeper.exchange, market, &sides).await?
            );
        }
        Command::Serve {
            common,
            listen,
            refresh_ms,
            pubsub_url,
            keep: with_keeper,
            keeper,
        } => {
            let s = settings(
                &cli.config,
                FileConfig {
                    listen,
                    refresh_ms,
                    pubsub_url,
                    ..keeper.overrides(common)
                },
            )?;
            let state = adl_keeper::serve::ServeState::new();
            let chain = Metered::new(
                RpcChain::new(&s.rpc_url, solana_keypair::Keypair::new()),
                state.metrics.clone(),
            );
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let exchange = s.keeper.exchange;
            let (st, every) = (state.clone(), s.refresh);
            // Account changes over pubsub wake the refresher; without pubsub it polls.
            let keys = match adl_keeper::keeper::load(&chain, &exchange).await {
                Ok(v) => adl_keeper::serve::watched_accounts(&v),
                Err(_) => Vec::new(),
            };
            let (st_watch, ws) = (state.clone(), s.pubsub_url.clone());
            let watcher = tokio::spawn(async move {
                if keys.is_empty() {
                    return;
                }
                if let Err(e) = adl_keeper::serve::watch_accounts(&ws, &keys, st_watch).await {
                    warn!(error = %e, "no account subscriptions; polling only");
                }
            });
            let refresher = tokio::spawn(async move {
                adl_keeper::serve::refresher(&chain, exchange, st, every, stop_rx).await;
            });
            // With --keep, the keeper's loop in the same process, its work in /metrics.
            let keeper_task = if with_keeper {
                let kchain = Metered::new(keeper_chain(&s)?, state.metrics.clone());
                info!(keeper = %kchain.keeper(), exchange = %s.keeper.exchange, "keeper starting");
                let (cfg, interval, metrics) =
                    (s.keeper.clone(), s.interval, state.metrics.clone());
                let stop = stop_tx.subscribe();
                Some(tokio::spawn(async move {
                    if let Err(e) = keep(&kchain, &cfg, 64, interval, &metrics, false, stop).await {
                        warn!(error = %e, "keeper stopped");
                    }
                }))
            } else {
                None
            };
            let listener = tokio::net::TcpListener::bind(s.listen).await?;
            info!(listen = %s.listen, "serving");
            axum::serve(listener, adl_keeper::serve::router(state))
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
            let _ = stop_tx.send(true);
            watcher.abort();
            let _ = refresher.await;
            if let Some(k) = keeper_task {
                let _ = k.await;
            }
        }
        Command::Price(PriceCommand::Set {
            common,
            price,
            keypair,
            market,
            confidence,
        }) => {
            let price = parse_price(&price)?;
            let confidence = parse_price(&confidence)?;
            let s = settings(
                &cli.config,
                FileConfig {
                    rpc_url: common.rpc_url,
                    exchange: common.exchange,
                    keypair,
                    ..FileConfig::default()
                },
            )?;
            let chain = keeper_chain(&s)?;
            let exchange = s.keeper.exchange;
            let view = adl_keeper::keeper::load(&chain, &exchange).await?;
            let (_, snap) = view
                .markets
                .iter()
                .find(|(_, m)| m.market.market_index == market)
                .ok_or_else(|| ConfigError(format!("no market {market} in exchange {exchange}")))?;
            let oracle = snap.market.oracle;
            chain
                .send(&[adl_client::ix::set_oracle_price(
                    &chain.keeper(),
                    &exchange,
                    &oracle,
                    price,
                    confidence,
                )])
                .await?;
            let after = adl_keeper::keeper::load(&chain, &exchange).await?;
            let now = after
                .markets
                .iter()
                .find(|(_, m)| m.market.market_index == market)
                .map(|(_, m)| m.oracle.price)
                .unwrap_or_default();
            println!(
                "market {market} oracle {oracle} price {}.{:06}",
                now / 1_000_000,
                now % 1_000_000
            );
        }
    }
    Ok(())
}

/// The keeper's chain: its keypair (flag, environment or file) pays and signs.
fn keeper_chain(s: &Settings) -> Result<RpcChain, ConfigError> {
    let path = s.keypair.clone().ok_or_else(|| {
        ConfigError(
            "missing keypair: give --keypair, ADL_KEEPER_KEYPAIR, or `keypair` in the config file"
                .into(),
        )
    })?;
    Ok(RpcChain::new(&s.rpc_url, config::read_keypair(&path)?))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // By default the keeper's own messages only (and errors of everything else).
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "error,adl_keeper=info");
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("adl-keeper: {e}");
            ExitCode::FAILURE
        }
    }
}

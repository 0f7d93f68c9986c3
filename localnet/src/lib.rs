//! A real Solana validator (agave's `solana-test-validator` crate) in this process: JSON-RPC and
//! pubsub on loopback, the SPL programs in genesis, and adl-engine registered as a native
//! builtin — or, with `program_so`, a real SBF build of it loaded by the upgradeable loader.
//!
//! No SBF binary can be built on every machine, so by default the program runs natively, as
//! on the in-process bank: its account id is put in genesis (owned by the native loader,
//! executable, data = the name) and a registrar thread adds the builtin to every bank in
//! `bank_forks`, oldest first, and to each new bank as it appears (a child copies its
//! parent's builtin list; the program cache is shared). Native CPI (the SPL Token transfers)
//! goes through solana-program-test's process-wide syscall stubs, installed once by starting
//! one in-process bank.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use adl_client::accounts::read_zero_copy;
use adl_client::bootstrap::{default_params, BootstrapPlan, Bootstrapped};
use adl_client::chain::{Chain, ChainError, RpcChain};
use adl_client::invariants::ExchangeSnapshot;
use adl_client::ix;
use adl_engine::state::UserAccount;
use anchor_lang::prelude::Pubkey;
use solana_account::{Account, AccountSharedData};
use solana_keypair::Keypair;
use solana_program_runtime::invoke_context::BuiltinFunctionWithContext;
use solana_program_runtime::loaded_programs::ProgramCacheEntry;
use solana_runtime::bank_forks::BankForks;
use solana_signer::Signer;
use solana_test_validator::{TestValidator, TestValidatorGenesis, UpgradeableProgramInfo};

/// The builtin's name (the program account's data).
pub const PROGRAM_NAME: &str = "adl_engine";

/// How to start.
#[derive(Clone, Debug)]
pub struct LocalnetConfig {
    /// Address JSON-RPC, pubsub, gossip and the TPU bind to.
    pub bind: IpAddr,
    /// JSON-RPC port (pubsub is the next one); `None`: free ports from `port_range`.
    pub rpc_port: Option<u16>,
    /// Ports the validator's sockets take (at least 25 wide); `None`: a range derived from
    /// the process id in 20,000–44,999.
    pub port_range: Option<(u16, u16)>,
    /// Ledger directory; `None`: a new directory under the system temp dir. Removed when the
    /// localnet stops unless `keep_ledger`.
    pub ledger: Option<PathBuf>,
    pub keep_ledger: bool,
    /// A real SBF build of adl-engine to load instead of the native builtin.
    pub program_so: Option<PathBuf>,
    /// Ticks per slot (64 on a real cluster, 400 ms slots). Fewer ticks give shorter slots
    /// and faster confirmation; the tests use 16 (100 ms slots).
    pub ticks_per_slot: u64,
}

impl Default for LocalnetConfig {
    fn default() -> Self {
        LocalnetConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            rpc_port: None,
            port_range: None,
            ledger: None,
            keep_ledger: false,
            program_so: None,
            ticks_per_slot: 64,
        }
    }
}

/// A running validator. Dropping it stops the validator and removes its ledger.
pub struct Localnet {
    validator: Option<TestValidator>,
    /// Genesis mint: holds the cluster's SOL.
    mint: Keypair,
    ledger: PathBuf,
    keep_ledger: bool,
    stop: Arc<AtomicBool>,
    registrar: Option<JoinHandle<()>>,
    pub native: bool,
}

/// The default port range of this process: 25 ports chosen by the pid, so that concurrent
/// test processes rarely meet.
fn default_port_range() -> (u16, u16) {
    let slot = (std::process::id() % 1_000) as u16;
    let start = 20_000 + slot * 25;
    (start, start + 25)
}

/// Installs solana-program-test's syscall stubs (native CPI) by starting one in-process bank,
/// once per process.
fn install_native_cpi() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Its own thread and runtime: callers may already be inside a runtime.
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async {
                let _ctx = adl_harness::bank::program_test().start_with_context().await;
            });
        })
        .join()
        .expect("in-process bank for the syscall stubs");
    });
}

fn builtin() -> ProgramCacheEntry {
    let f: Option<BuiltinFunctionWithContext> =
        solana_program_test::processor!(adl_harness::bank::process_instruction);
    ProgramCacheEntry::new_builtin(0, PROGRAM_NAME.len(), f.expect("processor"))
}

/// Adds the builtin to every bank of `forks` whose slot is not in `done`, oldest first, and
/// records those slots (`done` keeps only slots still in `forks`). Adding it again to a bank
/// that inherited it from its parent changes nothing (the account exists; the cache entry is
/// replaced by an equal one). Returns how many banks it was added to.
pub fn register_on_new_banks(forks: &RwLock<BankForks>, done: &mut HashSet<u64>) -> usize {
    let mut banks: Vec<_> = {
        let f = forks.read().unwrap_or_else(|e| e.into_inner());
        f.banks()
            .values()
            .map(|b| b.clone_without_scheduler())
            .collect()
    };
    banks.sort_by_key(|b| b.slot());
    let mut added = 0;
    for b in &banks {
        if !done.contains(&b.slot()) {
            b.add_builtin(adl_engine::ID, PROGRAM_NAME, builtin());
            done.insert(b.slot());
            added += 1;
        }
    }
    done.retain(|s| banks.iter().any(|b| b.slot() == *s));
    added
}

#[derive(Debug)]
pub struct LocalnetError(pub String);

impl std::fmt::Display for LocalnetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LocalnetError {}

impl Localnet {
    /// Starts the validator and waits until it serves JSON-RPC with adl-engine executable.
    /// Blocking: from async code call it in `spawn_blocking` (or a thread).
    pub fn start(cfg: &LocalnetConfig) -> Result<Localnet, LocalnetError> {
        let native = cfg.program_so.is_none();
        if native {
            install_native_cpi();
        }
        let ledger = match &cfg.ledger {
            Some(p) => p.clone(),
            None => temp_ledger(),
        };
        let mut g = TestValidatorGenesis::default();
        let ports = cfg.port_range.unwrap_or_else(default_port_range);
        // Transaction history on, as `solana-test-validator` has it: `getSignaturesForAddress`
        // and `getTransaction` answer (the viewer's activity list reads them). Set before
        // `faucet_addr`, which writes into the same config.
        g.rpc_config(solana_rpc::rpc::JsonRpcConfig {
            enable_rpc_transaction_history: true,
            ..solana_rpc::rpc::JsonRpcConfig::default_for_test()
        });
        g.ledger_path(&ledger)
            .bind_ip_addr(cfg.bind)
            .gossip_host(cfg.bind)
            .faucet_addr(None)
            .port_range(ports)
            // Gossip inside the range too: its default port is fixed, so two validators on
            // one machine would collide on it whatever their ranges.
            .gossip_port(ports.0)
            .ticks_per_slot(cfg.ticks_per_slot);
        if let Some(p) = cfg.rpc_port {
            g.rpc_port(p);
        }
        match &cfg.program_so {
            None => {
                g.add_account(
                    adl_engine::ID,
                    AccountSharedData::from(Account {
                        lamports: 1_000_000_000,
                        data: PROGRAM_NAME.as_bytes().to_vec(),
                        owner: solana_sdk_ids::native_loader::id(),
                        executable: true,
                        rent_epoch: 0,
                    }),
                );
            }
            Some(so) => {
                if !so.is_file() {
                    return Err(LocalnetError(format!(
                        "--program-so {}: no such file",
                        so.display()
                    )));
                }
                g.add_upgradeable_programs_with_path(&[UpgradeableProgramInfo {
                    program_id: adl_engine::ID,
                    loader: solana_sdk_ids::bpf_loader_upgradeable::id(),
                    upgrade_authority: Pubkey::default(),
                    program_path: so.clone(),
                }]);
            }
        }
        // `start` panics on a failed start; the message is the validator's.
        let (validator, mint) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.start())).map_err(|e| {
                let _ = std::fs::remove_dir_all(&ledger);
                LocalnetError(panic_text(&e))
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut net = Localnet {
            validator: Some(validator),
            mint,
            ledger,
            keep_ledger: cfg.keep_ledger,
            stop: stop.clone(),
            registrar: None,
            native,
        };
        if native {
            // Register on every bank now, then keep registering on banks that appear; ready
            // once a bank created after the first pass (a child of registered banks) exists.
            let forks = net.validator().bank_forks();
            let mut done = HashSet::new();
            register_on_new_banks(&forks, &mut done);
            let first = done.iter().copied().max().unwrap_or(0);
            let (tx, rx) = std::sync::mpsc::channel::<u64>();
            net.registrar = Some(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    register_on_new_banks(&forks, &mut done);
                    let _ = tx.send(done.iter().copied().max().unwrap_or(0));
                    std::thread::sleep(Duration::from_millis(10));
                }
            }));
            let t = Instant::now();
            loop {
                match rx.recv_timeout(Duration::from_secs(30)) {
                    Ok(newest) if newest > first + 1 => break,
                    Ok(_) if t.elapsed() < Duration::from_secs(30) => continue,
                    _ => {
                        return Err(LocalnetError(
                            "no new bank with adl-engine registered within 30 s".into(),
                        ))
                    }
                }
            }
        }
        Ok(net)
    }
}

fn panic_text(e: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = e.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "the validator failed to start".into()
    }
}

/// A fresh ledger directory under the system temp dir.
fn temp_ledger() -> PathBuf {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "adl-localnet-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

impl Localnet {
    pub fn rpc_url(&self) -> String {
        self.validator().rpc_url()
    }

    pub fn pubsub_url(&self) -> String {
        self.validator().rpc_pubsub_url()
    }

    fn validator(&self) -> &TestValidator {
        self.validator.as_ref().expect("running")
    }

    /// The genesis mint keypair (holds the cluster's SOL).
    pub fn mint(&self) -> &Keypair {
        &self.mint
    }

    pub fn ledger(&self) -> &Path {
        &self.ledger
    }

    /// Stops the validator and removes the ledger (unless kept).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.registrar.take() {
            let _ = h.join();
        }
        drop(self.validator.take());
        if !self.keep_ledger {
            let _ = std::fs::remove_dir_all(&self.ledger);
        }
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Reads a keypair file (Solana CLI format), or creates one there when the file does not exist.
pub fn load_or_create_keypair(path: &Path) -> Result<Keypair, LocalnetError> {
    if path.exists() {
        return adl_keeper::config::read_keypair(path).map_err(|e| LocalnetError(e.to_string()));
    }
    let kp = Keypair::new();
    let bytes: Vec<u8> = kp.to_bytes().to_vec();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| LocalnetError(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(
        path,
        serde_json::to_string(&bytes).map_err(|e| LocalnetError(e.to_string()))?,
    )
    .map_err(|e| LocalnetError(format!("cannot write {}: {e}", path.display())))?;
    Ok(kp)
}

/// An `RpcChain` on this localnet paying with `payer`.
pub fn chain(net: &Localnet, payer: &Keypair) -> RpcChain {
    RpcChain::new(&net.rpc_url(), payer.insecure_clone())
}

/// Sends `sol` SOL from the genesis mint to `to`.
pub async fn fund(net: &Localnet, to: &Keypair, sol: u64) -> Result<(), ChainError> {
    let from = chain(net, net.mint());
    from.send(&[solana_system_interface::instruction::transfer(
        &net.mint().pubkey(),
        &to.pubkey(),
        sol * 1_000_000_000,
    )])
    .await
}

/// Creates an exchange with `admin` as admin, oracle and mint authority: a new collateral mint,
/// the insurance fund, a pushed oracle at `oracle_price` and one market per capacity, with
/// the default parameters.
pub async fn bootstrap(
    net: &Localnet,
    admin: &Keypair,
    oracle_price: u64,
    capacities: &[usize],
) -> Result<Bootstrapped, ChainError> {
    let plan = BootstrapPlan {
        mint: None,
        oracle_price,
        unstake_cooldown_slots: 9_000,
        unstake_window_slots: 9_000,
        fee_vest_slots: 9_000,
        market_capacities: capacities.to_vec(),
        params: default_params(),
        pyth: None,
    };
    adl_client::bootstrap::bootstrap(&chain(net, admin), &plan).await
}

/// What a started localnet prints and writes to `--ready-file`.
#[derive(Clone, Debug)]
pub struct ReadyInfo {
    pub rpc_url: String,
    pub pubsub_url: String,
    pub keypair: PathBuf,
    pub admin: Pubkey,
    pub native: bool,
    pub ledger: PathBuf,
    pub exchange: Option<Bootstrapped>,
    /// Traders `populate` created (`--traders`), longs then shorts.
    pub traders: Vec<Pubkey>,
}

impl ReadyInfo {
    pub fn new(net: &Localnet, keypair: &Path, boot: Option<&Bootstrapped>) -> Self {
        let admin = adl_keeper::config::read_keypair(keypair)
            .map(|k| k.pubkey())
            .unwrap_or_default();
        ReadyInfo {
            rpc_url: net.rpc_url(),
            pubsub_url: net.pubsub_url(),
            keypair: keypair.to_path_buf(),
            admin,
            native: net.native,
            ledger: net.ledger().to_path_buf(),
            exchange: boot.cloned(),
            traders: Vec::new(),
        }
    }

    /// Human-readable summary.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let how = if self.native {
            "native builtin"
        } else {
            "SBF binary (upgradeable loader)"
        };
        s += &format!("JSON-RPC   {}\n", self.rpc_url);
        s += &format!("pubsub     {}\n", self.pubsub_url);
        s += &format!("program    {} ({how})\n", adl_engine::ID);
        s += &format!(
            "admin      {} (keypair {})\n",
            self.admin,
            self.keypair.display()
        );
        s += &format!("ledger     {}\n", self.ledger.display());
        if let Some(b) = &self.exchange {
            s += &format!("exchange   {}\n", b.exchange);
            s += &format!(
                "mint       {} (6 decimals, admin is mint authority)\n",
                b.mint
            );
            s += &format!("fund       {}\n", b.fund);
            s += &format!("oracle     {}\n", b.oracle);
            for (i, m) in b.markets.iter().enumerate() {
                s += &format!(
                    "market {i}   {} book {} long queue {} short queue {}\n",
                    m.market, m.book, m.long_queue, m.short_queue
                );
            }
            if !self.traders.is_empty() {
                s += &format!(
                    "traders    {} with open positions ({} long, {} short); the admin holds 20,000 USDC as the keeper\n",
                    self.traders.len(),
                    self.traders.len() / 2,
                    self.traders.len() / 2
                );
            }
            let common = format!(
                "--rpc-url {} --exchange {} --keypair {}",
                self.rpc_url,
                b.exchange,
                self.keypair.display()
            );
            s += &format!("\nkeeper:  cargo run -p adl-keeper -- run {common}\n");
            s += &format!("price:   cargo run -p adl-keeper -- price set 78 {common}\n");
            if let Some(m) = b.markets.first() {
                s += &format!(
                    "viewer:  cd app && npm ci && npm run build && npx vite preview\n         http://127.0.0.1:4173/?rpc={}&market={}\n",
                    self.rpc_url, m.market
                );
            }
        }
        s += "ready — Ctrl-C stops the validator\n";
        s
    }

    /// The same as JSON.
    pub fn json(&self) -> String {
        let markets: Vec<serde_json::Value> = self
            .exchange
            .iter()
            .flat_map(|b| b.markets.iter())
            .map(|m| {
                serde_json::json!({
                    "market": m.market.to_string(),
                    "oracle": m.oracle.to_string(),
                    "book": m.book.to_string(),
                    "long_queue": m.long_queue.to_string(),
                    "short_queue": m.short_queue.to_string(),
                })
            })
            .collect();
        let b = self.exchange.as_ref();
        serde_json::json!({
            "rpc_url": self.rpc_url,
            "pubsub_url": self.pubsub_url,
            "program_id": adl_engine::ID.to_string(),
            "native": self.native,
            "admin": self.admin.to_string(),
            "keypair": self.keypair.display().to_string(),
            "ledger": self.ledger.display().to_string(),
            "exchange": b.map(|b| b.exchange.to_string()),
            "mint": b.map(|b| b.mint.to_string()),
            "fund": b.map(|b| b.fund.to_string()),
            "oracle": b.map(|b| b.oracle.to_string()),
            "markets": markets,
            "traders": self.traders.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

/// A funded trader created over RPC: wallet keypair and its collateral token account.
pub struct Trader {
    pub kp: Keypair,
    pub token: Pubkey,
}

impl Trader {
    pub fn key(&self) -> Pubkey {
        self.kp.pubkey()
    }
}

/// Creates a trader in one transaction paid by `admin` (the mint authority): 0.1 SOL, a
/// token account holding `tokens` collateral atoms, a user account with `deposit` of them
/// deposited (a real SPL Token transfer by the program).
pub async fn add_trader(
    admin: &RpcChain,
    boot: &Bootstrapped,
    tokens: u64,
    deposit: u64,
) -> Result<Trader, ChainError> {
    use anchor_spl::token::spl_token;
    use solana_program_pack::Pack;
    let kp = Keypair::new();
    let token = Keypair::new();
    let payer = admin.keeper();
    let rent = admin.rent_exempt(spl_token::state::Account::LEN).await?;
    let ixs = ix::new_trader(
        &ix::NewTrader {
            payer,
            owner: kp.pubkey(),
            token: token.pubkey(),
            mint: boot.mint,
            mint_authority: payer,
            exchange: boot.exchange,
        },
        rent,
        tokens,
        deposit,
    );
    admin.send_with(&ixs, &[&kp, &token]).await?;
    Ok(Trader {
        kp,
        token: token.pubkey(),
    })
}

/// Everything the invariant checkers read, over `chain`: the vault's token balance, the
/// fund, every market with its oracle, book and queues, and the user accounts of `owners`
/// (conservation needs all of them: pass every owner that has a user account).
pub async fn snapshot<C: Chain>(
    chain: &C,
    exchange: &Pubkey,
    owners: &[Pubkey],
) -> Result<ExchangeSnapshot, String> {
    use anchor_spl::token::spl_token;
    use solana_program_pack::Pack;
    let view = adl_keeper::keeper::load(chain, exchange)
        .await
        .map_err(|e| e.to_string())?;
    let mut keys = vec![ix::vault_pda(exchange)];
    keys.extend(owners.iter().map(|o| ix::user_pda(exchange, o)));
    let got = chain.accounts(&keys).await.map_err(|e| e.to_string())?;
    let vault_balance = got[0]
        .as_ref()
        .and_then(|a| spl_token::state::Account::unpack(&a.data).ok())
        .map(|a| a.amount)
        .ok_or("vault missing")?;
    let mut users = Vec::with_capacity(owners.len());
    for (o, a) in owners.iter().zip(&got[1..]) {
        let u: UserAccount = a
            .as_ref()
            .and_then(|a| read_zero_copy(&a.data))
            .ok_or_else(|| format!("user account of {o} missing"))?;
        users.push(u);
    }
    Ok(ExchangeSnapshot {
        vault_balance,
        fund: view.fund,
        users,
        markets: view.markets.into_iter().map(|(_, s)| s).collect(),
    })
}

/// Leverage (whole x) of each long/short pair `populate` opens, in turn.
pub const PAIR_LEVERAGE: [u64; 6] = [2, 9, 4, 7, 3, 8];

/// Collateral each populated trader deposits, quote atoms (10,000 USDC).
pub const TRADER_DEPOSIT: u64 = 10_000_000_000;

/// Collateral the admin deposits as the keeper, quote atoms (20,000 USDC).
pub const KEEPER_DEPOSIT: u64 = 20_000_000_000;

/// What `populate` created.
pub struct Population {
    /// Longs then shorts: pair `k` is `traders[k]` against `traders[k + n/2]`.
    pub traders: Vec<Trader>,
    pub staker: Trader,
    /// The admin's own collateral token account (its user account holds `KEEPER_DEPOSIT`).
    pub admin_token: Pubkey,
}

impl Population {
    /// Every owner with a user account: the traders, the staker and the admin.
    pub fn owners(&self, admin: &Pubkey) -> Vec<Pubkey> {
        let mut o: Vec<Pubkey> = self.traders.iter().map(Trader::key).collect();
        o.push(self.staker.key());
        o.push(*admin);
        o
    }
}

/// A book to watch on market 0: `pairs` longs against `pairs` shorts, each with 10,000 USDC
/// deposited; pair `k` trades `(k mod 6 + 1) × 0.5` base at the oracle price − 0.5 + 0.1·(k mod
/// 6), both sides at `PAIR_LEVERAGE[k mod 6]`. The admin gets its own user account with
/// 20,000 USDC (the keeper command `adl-localnet` prints signs with the admin keypair, so
/// the keeper can take positions over); a staker puts 10 USDC in the insurance fund and the
/// trading fees are swept in — a fund thin enough that a crash needs ADL.
pub async fn populate(
    net: &Localnet,
    admin: &Keypair,
    boot: &Bootstrapped,
    oracle_price: u64,
    pairs: usize,
) -> Result<Population, ChainError> {
    use anchor_spl::token::spl_token;
    use solana_program_pack::Pack;
    let a = chain(net, admin);
    let m = boot.markets[0];
    // The admin's own account: the payer owns it, so the token account is the only extra
    // signer.
    let admin_token = Keypair::new();
    let rent = a.rent_exempt(spl_token::state::Account::LEN).await?;
    let mut own = ix::new_trader(
        &ix::NewTrader {
            payer: admin.pubkey(),
            owner: admin.pubkey(),
            token: admin_token.pubkey(),
            mint: boot.mint,
            mint_authority: admin.pubkey(),
            exchange: boot.exchange,
        },
        rent,
        KEEPER_DEPOSIT,
        KEEPER_DEPOSIT,
    );
    own.remove(0); // the SOL transfer to the owner: the payer is the owner
    a.send_with(&own, &[&admin_token]).await?;
    let mut traders = Vec::with_capacity(2 * pairs);
    for _ in 0..2 * pairs {
        traders.push(add_trader(&a, boot, TRADER_DEPOSIT, TRADER_DEPOSIT).await?);
    }
    for k in 0..pairs {
        let j = k % PAIR_LEVERAGE.len();
        let size = (j as i64 + 1) * 500_000_000;
        let px = oracle_price.saturating_sub(500_000) + j as u64 * 100_000;
        let notional = (size as u64 / 1_000) * px / 1_000_000;
        let margin = notional / PAIR_LEVERAGE[j];
        let (long, short) = (&traders[k], &traders[k + pairs]);
        a.send_with(
            &[ix::trade(
                &boot.exchange,
                &m,
                &long.key(),
                &short.key(),
                ix::TradeArgs {
                    taker_base: size,
                    price: px,
                    taker_margin: margin,
                    maker_margin: margin,
                },
            )],
            &[&long.kp, &short.kp],
        )
        .await?;
    }
    let staker = add_trader(&a, boot, 1_000_000_000, 0).await?;
    a.send_with(
        &[
            ix::if_create_stake(&staker.key(), &boot.exchange),
            ix::if_stake(&staker.key(), &boot.exchange, &staker.token, 10_000_000),
        ],
        &[&staker.kp],
    )
    .await?;
    a.send(&[ix::sweep_fees(&boot.exchange, &m.market)]).await?;
    Ok(Population {
        traders,
        staker,
        admin_token: admin_token.pubkey(),
    })
}

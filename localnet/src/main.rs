//! `adl-localnet`: a real validator on this machine with adl-engine and an exchange, in one
//! command. JSON-RPC and pubsub on loopback; runs until Ctrl-C and removes its ledger.

use std::path::PathBuf;

use adl_localnet::{fund, Localnet, LocalnetConfig};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "adl-localnet",
    about = "A Solana validator in one process with adl-engine (native, or --program-so) and a bootstrapped exchange"
)]
struct Cli {
    /// Address JSON-RPC, pubsub and the validator's sockets bind to.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// JSON-RPC port; pubsub listens on the next port.
    #[arg(long, default_value_t = 8899)]
    rpc_port: u16,
    /// Ports of the validator's other sockets, FIRST-LAST (at least 25).
    #[arg(long, value_parser = parse_range)]
    port_range: Option<(u16, u16)>,
    /// Ledger directory (default: a new temporary directory).
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Keep the ledger on exit.
    #[arg(long)]
    keep_ledger: bool,
    /// Load this SBF build of adl-engine (`anchor build` output) instead of the native program.
    #[arg(long)]
    program_so: Option<PathBuf>,
    /// Admin keypair (Solana CLI format): read if the file exists, else created there. It is
    /// funded with 1,000 SOL and becomes the exchange admin, oracle and mint authority.
    /// Default: admin.json in the ledger directory.
    #[arg(long)]
    keypair: Option<PathBuf>,
    /// Start the validator only; create no exchange.
    #[arg(long)]
    no_bootstrap: bool,
    /// Book capacity of each market to create (repeat for several markets).
    #[arg(long = "capacity", default_values_t = [1_024usize])]
    capacities: Vec<usize>,
    /// Initial oracle price, price atoms (1e6 = 1.0).
    #[arg(long, default_value_t = 100_000_000)]
    oracle_price: u64,
    /// Ticks per slot: 64 gives 400 ms slots like a real cluster; fewer give faster slots.
    #[arg(long, default_value_t = 64)]
    ticks_per_slot: u64,
    /// Open a book to watch on market 0: this many traders (even), half long and half short
    /// at 2x–9x, the admin's own user account with 20,000 USDC (it signs as the keeper), and
    /// a thin insurance fund (10 USDC staked plus the fees).
    #[arg(long, default_value_t = 0, value_parser = parse_traders)]
    traders: usize,
    /// Write the addresses as JSON to this file once everything is ready.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("port range must be FIRST-LAST: {s}"))?;
    let a: u16 = a.parse().map_err(|_| format!("bad port: {a}"))?;
    let b: u16 = b.parse().map_err(|_| format!("bad port: {b}"))?;
    if b < a.saturating_add(25) {
        return Err(format!("port range {s} is narrower than 25 ports"));
    }
    Ok((a, b))
}

fn parse_traders(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("--traders must be a number: {s}"))?;
    if !n.is_multiple_of(2) || n > 1_000 {
        return Err(format!(
            "--traders must be even (half long, half short) and at most 1000: {n}"
        ));
    }
    Ok(n)
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("adl-localnet: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let cfg = LocalnetConfig {
        bind: cli.bind,
        rpc_port: Some(cli.rpc_port),
        port_range: cli.port_range,
        ledger: cli.ledger.clone(),
        keep_ledger: cli.keep_ledger,
        program_so: cli.program_so.clone(),
        ticks_per_slot: cli.ticks_per_slot,
    };
    if cli.traders > 0 {
        if cli.no_bootstrap {
            return Err("--traders needs an exchange: drop --no-bootstrap".into());
        }
        if cli.capacities[0] < cli.traders + 8 {
            return Err(format!(
                "--traders {} needs a first market of capacity at least {} (--capacity)",
                cli.traders,
                cli.traders + 8
            )
            .into());
        }
    }
    if let Some(so) = &cli.program_so {
        if !so.is_file() {
            return Err(format!("--program-so {}: no such file", so.display()).into());
        }
    }
    let net = Localnet::start(&cfg)?;
    // Starting the in-process bank for the syscall stubs resets the global logger; ours
    // comes after it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let keypair_path = cli
        .keypair
        .clone()
        .unwrap_or_else(|| net.ledger().join("admin.json"));
    let admin = adl_localnet::load_or_create_keypair(&keypair_path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let info = rt.block_on(async {
        fund(&net, &admin, 1_000).await?;
        let boot = if cli.no_bootstrap {
            None
        } else {
            Some(adl_localnet::bootstrap(&net, &admin, cli.oracle_price, &cli.capacities).await?)
        };
        let mut info = adl_localnet::ReadyInfo::new(&net, &keypair_path, boot.as_ref());
        if let (Some(b), true) = (&boot, cli.traders > 0) {
            let pop =
                adl_localnet::populate(&net, &admin, b, cli.oracle_price, cli.traders / 2).await?;
            info.traders = pop.traders.iter().map(|t| t.key()).collect();
        }
        Ok::<_, Box<dyn std::error::Error>>(info)
    })?;
    print!("{}", info.text());
    if let Some(p) = &cli.ready_file {
        std::fs::write(p, info.json())?;
    }
    // Ctrl-C or SIGTERM: stop the validator and remove the ledger.
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok::<_, std::io::Error>(())
    })?;
    // Our own RPC connections close before the validator stops.
    drop(rt);
    let ledger = net.ledger().to_path_buf();
    let keep = cli.keep_ledger;
    net.stop();
    if keep {
        println!("stopped; ledger kept at {}", ledger.display());
    } else {
        println!("stopped; ledger {} removed", ledger.display());
    }
    Ok(())
}

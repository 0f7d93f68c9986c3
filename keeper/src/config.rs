//! Keeper configuration: command-line flags, then `ADL_KEEPER_*` environment variables
//! (both through clap), then a TOML file (`--config`), then defaults. Every problem is a
//! `ConfigError` that says which setting and where it can be given.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anchor_lang::prelude::Pubkey;
use serde::Deserialize;
use solana_keypair::Keypair;

use crate::keeper::KeeperConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The config file's keys (all optional; unknown keys are an error).
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub rpc_url: Option<String>,
    pub keypair: Option<PathBuf>,
    pub exchange: Option<String>,
    pub interval_ms: Option<u64>,
    pub max_fills_per_tx: Option<usize>,
    pub liquidation_margin_bps: Option<u64>,
    pub crank_funding: Option<bool>,
    pub claim_payouts: Option<bool>,
    pub sweep_min_fees: Option<u64>,
    pub cu_margin_pct: Option<u32>,
    pub priority_fee_percentile: Option<u8>,
    pub max_priority_fee: Option<u64>,
    pub listen: Option<String>,
    pub refresh_ms: Option<u64>,
    pub pubsub_url: Option<String>,
}

/// Values given by flags or environment (they win over the file).
pub type Overrides = FileConfig;

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rpc_url: String,
    pub keypair: Option<PathBuf>,
    pub keeper: KeeperConfig,
    pub interval: Duration,
    pub listen: SocketAddr,
    pub refresh: Duration,
    /// Websocket endpoint `serve` subscribes to (account changes wake the refresher).
    pub pubsub_url: String,
}

/// The pubsub endpoint of a JSON-RPC URL: ws(s) on the same host, port + 1 when the URL has
/// a port (a validator's default), the same host and path otherwise (hosted RPC).
pub fn pubsub_url_for(rpc_url: &str) -> String {
    let (scheme, rest) = match rpc_url.split_once("://") {
        Some(("https", r)) => ("wss", r),
        Some((_, r)) => ("ws", r),
        None => ("ws", rpc_url),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => match port.parse::<u16>() {
            Ok(p) => format!("{host}:{}", p.saturating_add(1)),
            Err(_) => authority.to_string(),
        },
        _ => authority.to_string(),
    };
    format!("{scheme}://{authority}{path}")
}

pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8899";

pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))
}

/// Merges flags/environment over the file and checks every value.
pub fn resolve(over: Overrides, file: FileConfig) -> Result<Settings, ConfigError> {
    let exchange = over.exchange.or(file.exchange).ok_or_else(|| {
        ConfigError("missing exchange: give --exchange, ADL_KEEPER_EXCHANGE, or `exchange` in the config file".into())
    })?;
    let exchange: Pubkey = exchange
        .parse()
        .map_err(|_| ConfigError(format!("exchange is not a base58 public key: {exchange}")))?;
    let mut keeper = KeeperConfig::new(exchange);
    if let Some(n) = over.max_fills_per_tx.or(file.max_fills_per_tx) {
        if n == 0 || n > 200 {
            return Err(ConfigError(format!(
                "max_fills_per_tx must be 1..=200, not {n}"
            )));
        }
        keeper.max_fills_per_tx = n;
    }
    if let Some(bps) = over.liquidation_margin_bps.or(file.liquidation_margin_bps) {
        if bps == 0 || bps > 10_000 {
            return Err(ConfigError(format!(
                "liquidation_margin_bps must be 1..=10000, not {bps}"
            )));
        }
        keeper.liquidation_margin_bps = bps;
    }
    if let Some(f) = over.crank_funding.or(file.crank_funding) {
        keeper.crank_funding = f;
    }
    if let Some(c) = over.claim_payouts.or(file.claim_payouts) {
        keeper.claim_payouts = c;
    }
    if let Some(s) = over.sweep_min_fees.or(file.sweep_min_fees) {
        keeper.sweep_min_fees = s;
    }
    if let Some(m) = over.cu_margin_pct.or(file.cu_margin_pct) {
        if m > 1_000 {
            return Err(ConfigError(format!(
                "cu_margin_pct must be 0..=1000, not {m}"
            )));
        }
        keeper.cu_margin_pct = m;
    }
    if let Some(p) = over
        .priority_fee_percentile
        .or(file.priority_fee_percentile)
    {
        if p > 100 {
            return Err(ConfigError(format!(
                "priority_fee_percentile must be 0..=100, not {p}"
            )));
        }
        keeper.priority_fee_percentile = p;
    }
    if let Some(c) = over.max_priority_fee.or(file.max_priority_fee) {
        keeper.max_priority_fee = c;
    }
    let listen = over
        .listen
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8787".into());
    let listen: SocketAddr = listen
        .parse()
        .map_err(|_| ConfigError(format!("listen is not an address:port: {listen}")))?;
    let interval_ms = over.interval_ms.or(file.interval_ms).unwrap_or(400);
    let refresh_ms = over.refresh_ms.or(file.refresh_ms).unwrap_or(1_000);
    if interval_ms == 0 || refresh_ms == 0 {
        return Err(ConfigError(
            "interval_ms and refresh_ms must be positive".into(),
        ));
    }
    let rpc_url = over
        .rpc_url
        .or(file.rpc_url)
        .unwrap_or_else(|| DEFAULT_RPC_URL.into());
    let pubsub_url = over
        .pubsub_url
        .or(file.pubsub_url)
        .unwrap_or_else(|| pubsub_url_for(&rpc_url));
    Ok(Settings {
        pubsub_url,
        rpc_url,
        keypair: over.keypair.or(file.keypair),
        keeper,
        interval: Duration::from_millis(interval_ms),
        listen,
        refresh: Duration::from_millis(refresh_ms),
    })
}

/// Reads a keypair file in the Solana CLI format (a JSON array of 64 bytes).
pub fn read_keypair(path: &Path) -> Result<Keypair, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read keypair file {}: {e}", path.display())))?;
    let bytes: Vec<u8> = serde_json::from_str(&text).map_err(|e| {
        ConfigError(format!(
            "keypair file {} is not a JSON byte array: {e}",
            path.display()
        ))
    })?;
    Keypair::try_from(bytes.as_slice()).map_err(|e| {
        ConfigError(format!(
            "keypair file {} does not hold a keypair: {e}",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EX: &str = "KjuyTdtAs4kMGVGwToUzNncKg313ANnZpV5Tm3B2bSx";

    fn with_exchange() -> Overrides {
        Overrides {
            exchange: Some(EX.into()),
            ..Overrides::default()
        }
    }

    #[test]
    fn pubsub_url_follows_the_rpc_url() {
        assert_eq!(
            pubsub_url_for("http://127.0.0.1:8899"),
            "ws://127.0.0.1:8900/"
        );
        assert_eq!(
            pubsub_url_for("https://api.devnet.solana.com"),
            "wss://api.devnet.solana.com/"
        );
        assert_eq!(pubsub_url_for("http://[::1]:8899/"), "ws://[::1]:8900/");
        assert_eq!(pubsub_url_for("http://[::1]/rpc"), "ws://[::1]/rpc");
    }

    #[test]
    fn flags_win_over_file_and_defaults_fill_the_rest() {
        let file = FileConfig {
            rpc_url: Some("http://127.0.0.1:9000".into()),
            max_fills_per_tx: Some(10),
            exchange: Some("11111111111111111111111111111111".into()),
            ..FileConfig::default()
        };
        let s = resolve(
            Overrides {
                max_fills_per_tx: Some(5),
                ..with_exchange()
            },
            file,
        )
        .unwrap();
        assert_eq!(s.keeper.exchange.to_string(), EX);
        assert_eq!(s.keeper.max_fills_per_tx, 5);
        assert_eq!(s.rpc_url, "http://127.0.0.1:9000");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8787");
        assert_eq!(s.interval, Duration::from_millis(400));
    }

    #[test]
    fn bad_configuration_is_named() {
        let err = |o: Overrides, f: FileConfig| resolve(o, f).unwrap_err().0;
        assert!(err(Overrides::default(), FileConfig::default()).starts_with("missing exchange"));
        assert!(err(
            Overrides {
                exchange: Some("nope".into()),
                ..Overrides::default()
            },
            FileConfig::default()
        )
        .contains("not a base58 public key"));
        assert!(err(
            Overrides {
                max_fills_per_tx: Some(0),
                ..with_exchange()
            },
            FileConfig::default()
        )
        .contains("max_fills_per_tx must be 1..=200"));
        assert!(err(
            Overrides {
                listen: Some("localhost".into()),
                ..with_exchange()
            },
            FileConfig::default()
        )
        .contains("listen is not an address:port"));
        assert!(err(
            Overrides {
                liquidation_margin_bps: Some(20_000),
                ..with_exchange()
            },
            FileConfig::default()
        )
        .contains("liquidation_margin_bps"));
    }

    #[test]
    fn config_file_errors() {
        let dir = std::env::temp_dir().join(format!("adl-keeper-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let unknown = dir.join("unknown.toml");
        std::fs::write(&unknown, "exchange = \"x\"\nrpc = \"y\"\n").unwrap();
        let e = read_file(&unknown).unwrap_err().0;
        assert!(e.contains("unknown field `rpc`"), "{e}");
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            format!("exchange = \"{EX}\"\nmax_fills_per_tx = 7\n"),
        )
        .unwrap();
        let f = read_file(&good).unwrap();
        assert_eq!(
            resolve(Overrides::default(), f)
                .unwrap()
                .keeper
                .max_fills_per_tx,
            7
        );
        assert!(read_file(&dir.join("missing.toml"))
            .unwrap_err()
            .0
            .starts_with("cannot read config file"));
        let kp = dir.join("kp.json");
        std::fs::write(&kp, "[1,2,3]").unwrap();
        assert!(read_keypair(&kp)
            .unwrap_err()
            .0
            .contains("does not hold a keypair"));
        std::fs::write(&kp, "not json").unwrap();
        assert!(read_keypair(&kp)
            .unwrap_err()
            .0
            .contains("not a JSON byte array"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

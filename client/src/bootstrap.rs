//! `adl-keeper bootstrap`: creates (or completes) an exchange on a cluster — collateral mint
//! (optional, for localnet/devnet), exchange and vault, insurance fund, pushed oracle, and
//! markets with their client-created book and queues. Each step is skipped when its account
//! already exists, so the bootstrap can be re-run. `migrations/deploy.sh` calls it after
//! `anchor deploy`.

use adl_engine::state::*;
use anchor_lang::prelude::Pubkey;
use anchor_spl::token::spl_token;
use solana_keypair::Keypair;
use solana_program_pack::Pack;
use solana_signer::Signer;
use tracing::info;

use crate::chain::{Chain, ChainError};
use crate::ix::{self, MarketAccounts, MarketParamsArgs};

/// What to create.
#[derive(Clone, Debug)]
pub struct BootstrapPlan {
    /// An existing collateral mint (6 decimals); `None` creates one with the admin as mint
    /// authority.
    pub mint: Option<Pubkey>,
    pub oracle_price: u64,
    pub unstake_cooldown_slots: u64,
    /// Slots after the cooldown during which an unstake request may be executed.
    pub unstake_window_slots: u64,
    /// Slots over which the insurance fund's earnings vest into the value of shares.
    pub fee_vest_slots: u64,
    /// Book capacity of each market to create (one entry per market).
    pub market_capacities: Vec<usize>,
    pub params: MarketParamsArgs,
    /// Point every market at this Pyth price account instead of the pushed oracle (devnet,
    /// mainnet). The pushed oracle is still created: `init_market` starts on it.
    pub pyth: Option<PythSource>,
}

/// A Pyth `PriceUpdateV2` account a market reads (e.g. a sponsored price-feed account).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PythSource {
    pub feed_id: [u8; 32],
    pub account: Pubkey,
    /// Oldest accepted `publish_time`, seconds.
    pub max_age_secs: u64,
}

/// The Pyth push-oracle ("sponsored price feed") account of a feed on shard `shard`: the PDA
/// `[shard u16 LE, feed_id]` of the push-oracle program `pythWSnswVUd12oZpeFP8e9CVaEqJg25g1Vtc2biRsT`,
/// which Pyth keeps updated on devnet and mainnet.
pub fn sponsored_feed_account(shard: u16, feed_id: &[u8; 32]) -> Pubkey {
    Pubkey::find_program_address(&[&shard.to_le_bytes(), feed_id], &pyth_push_oracle_id()).0
}

/// The Pyth push-oracle program id.
pub fn pyth_push_oracle_id() -> Pubkey {
    "pythWSnswVUd12oZpeFP8e9CVaEqJg25g1Vtc2biRsT"
        .parse()
        .unwrap_or_default()
}

/// Parses a 32-byte Pyth feed id given as 64 hex digits (with or without `0x`).
pub fn parse_feed_id(s: &str) -> Option<[u8; 32]> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.len() != 64 || !h.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What exists after the bootstrap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bootstrapped {
    pub exchange: Pubkey,
    pub mint: Pubkey,
    pub fund: Pubkey,
    pub oracle: Pubkey,
    pub markets: Vec<MarketAccounts>,
}

/// Smallest trade and position of the default parameters: 0.001 base units (at a price of
/// 100 a notional of 0.1, whose fee at 2 bps is 20 atoms: no trade is free).
pub const MIN_TRADE_BASE: u64 = 1_000_000;

/// Market parameters used when none are given: 10x initial, 20x maintenance.
pub fn default_params() -> MarketParamsArgs {
    MarketParamsArgs {
        imr_bps: 1_000,
        mmr_bps: 500,
        taker_fee_bps: 5,
        maker_fee_bps: 2,
        liquidation_fee_bps: 100,
        liquidation_fee_to_fund_bps: 5_000,
        oracle_band_bps: 500,
        max_oracle_conf_bps: 200,
        max_oracle_staleness_slots: 150,
        max_insurance_per_event: 1_000_000 * 1_000_000,
        bankruptcy_grace_slots: 50,
        adl_deadline_slots: 300,
        funding_period_slots: 100,
        max_funding_rate_bps: 50,
        min_trade_base: MIN_TRADE_BASE,
        min_position_base: MIN_TRADE_BASE,
    }
}

async fn exists<C: Chain>(chain: &C, key: &Pubkey) -> Result<bool, ChainError> {
    Ok(chain.accounts(&[*key]).await?[0].is_some())
}

pub async fn bootstrap<C: Chain>(
    chain: &C,
    plan: &BootstrapPlan,
) -> Result<Bootstrapped, ChainError> {
    let admin = chain.keeper();
    let exchange = ix::exchange_pda(&admin);
    let mint = match (plan.mint, exists(chain, &exchange).await?) {
        (_, true) => {
            let data = chain.accounts(&[exchange]).await?[0]
                .clone()
                .map(|a| a.data)
                .unwrap_or_default();
            crate::accounts::read_borsh::<Exchange>(&data)
                .ok_or_else(|| {
                    ChainError::Transport(format!("exchange {exchange} is not decodable"))
                })?
                .collateral_mint
        }
        (Some(m), false) => m,
        (None, false) => {
            let kp = Keypair::new();
            let rent = chain.rent_exempt(spl_token::state::Mint::LEN).await?;
            chain
                .send_with(
                    &[
                        ix::token::create_token_account(
                            &admin,
                            &kp.pubkey(),
                            rent,
                            spl_token::state::Mint::LEN,
                        ),
                        ix::token::initialize_mint(&kp.pubkey(), &admin, 6),
                    ],
                    &[&kp],
                )
                .await?;
            info!(mint = %kp.pubkey(), "created collateral mint");
            kp.pubkey()
        }
    };
    if !exists(chain, &exchange).await? {
        chain.send(&[ix::init_exchange(&admin, &mint)]).await?;
        info!(%exchange, "created exchange");
    }
    let fund = ix::insurance_fund_pda(&exchange);
    if !exists(chain, &fund).await? {
        chain
            .send(&[ix::init_insurance_fund(
                &admin,
                &exchange,
                plan.unstake_cooldown_slots,
                plan.unstake_window_slots,
                plan.fee_vest_slots,
            )])
            .await?;
        info!(%fund, "created insurance fund");
    }
    let oracle = ix::oracle_pda(&exchange, 0);
    if !exists(chain, &oracle).await? {
        chain
            .send(&[ix::init_oracle(
                &admin,
                &exchange,
                0,
                &admin,
                plan.oracle_price,
                0,
            )])
            .await?;
        info!(%oracle, "created oracle (authority: admin)");
    }
    let mut markets = vec![];
    for (index, &capacity) in plan.market_capacities.iter().enumerate() {
        let market = ix::market_pda(&exchange, index as u16);
        if exists(chain, &market).await? {
            let data = chain.accounts(&[market]).await?[0]
                .clone()
                .map(|a| a.data)
                .unwrap_or_default();
            let m: Market = crate::accounts::read_zero_copy(&data).ok_or_else(|| {
                ChainError::Transport(format!("market {market} is not decodable"))
            })?;
            markets.push(MarketAccounts {
                market,
                oracle: m.oracle,
                book: m.book,
                long_queue: m.long_queue,
                short_queue: m.short_queue,
            });
            continue;
        }
        let (book_len, q_len) = (PositionBook::space(capacity), AdlQueue::space(capacity));
        let (book_rent, q_rent) = (
            chain.rent_exempt(book_len).await?,
            chain.rent_exempt(q_len).await?,
        );
        let (ixs, kps, m) = ix::new_market(
            &admin,
            &exchange,
            market,
            oracle,
            (book_len, book_rent),
            (q_len, q_rent),
            plan.params,
        );
        chain.send_with(&ixs, &[&kps[0], &kps[1], &kps[2]]).await?;
        info!(%market, capacity, "created market");
        markets.push(m);
    }
    if let Some(p) = plan.pyth {
        let keys: Vec<Pubkey> = markets.iter().map(|m| m.market).collect();
        let headers = chain.accounts(&keys).await?;
        for (m, raw) in markets.iter_mut().zip(headers) {
            let data = raw.map(|a| a.data).unwrap_or_default();
            let h: Market = crate::accounts::read_zero_copy(&data).ok_or_else(|| {
                ChainError::Transport(format!("market {} is not decodable", m.market))
            })?;
            let set = h.oracle_kind == ORACLE_KIND_PYTH
                && h.oracle == p.account
                && h.oracle_feed_id == p.feed_id
                && h.max_oracle_age_secs == p.max_age_secs;
            if !set {
                let cfg = ix::OracleConfig {
                    kind: ORACLE_KIND_PYTH,
                    feed_id: p.feed_id,
                    max_age_secs: p.max_age_secs,
                };
                chain
                    .send(&[ix::set_market_oracle(
                        &admin, &exchange, &m.market, &p.account, cfg,
                    )])
                    .await?;
                info!(market = %m.market, account = %p.account, "market reads the Pyth account");
            }
            m.oracle = p.account;
        }
    }
    Ok(Bootstrapped {
        exchange,
        mint,
        fund,
        oracle,
        markets,
    })
}

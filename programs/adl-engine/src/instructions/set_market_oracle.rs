use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::events::MarketOracleSet;
use crate::state::*;

/// Which oracle a market reads (`set_market_oracle`).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OracleConfig {
    /// `ORACLE_KIND_PUSHED` or `ORACLE_KIND_PYTH`.
    pub kind: u8,
    /// Pyth: the feed id the `PriceUpdateV2` account must carry (ignored for pushed).
    pub feed_id: [u8; 32],
    /// Pyth: the oldest accepted `publish_time`, seconds before the clock (> 0).
    pub max_age_secs: u64,
}

#[derive(Accounts)]
pub struct SetMarketOracle<'info> {
    pub admin: Signer<'info>,
    #[account(has_one = admin @ AdlError::Unauthorized)]
    pub exchange: Box<Account<'info, Exchange>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: the oracle account the market will read, checked for its kind below (owner,
    /// data, exchange or feed id and verification level).
    pub oracle: UncheckedAccount<'info>,
}

/// Points a market at a pushed `Oracle` of its exchange or at a Pyth `PriceUpdateV2`
/// account (admin only, and only while no ADL event is active: an event's `P_exec` and
/// counterparties were decided on the old oracle). The account is checked as every price
/// read checks it, except for age and confidence (a feed may be quiet at configuration time).
pub fn handle_set_market_oracle(ctx: Context<SetMarketOracle>, cfg: OracleConfig) -> Result<()> {
    let a = &ctx.accounts;
    let mut m = a.market.load_mut()?;
    require_keys_eq!(m.exchange, a.exchange.key(), AdlError::ExchangeMismatch);
    require!(!m.any_event_active(), AdlError::AdlEventActive);
    let info = a.oracle.to_account_info();
    match cfg.kind {
        ORACLE_KIND_PUSHED => {
            load_pushed(&info, &a.exchange.key())?;
            m.oracle_feed_id = [0; 32];
            m.max_oracle_age_secs = 0;
        }
        ORACLE_KIND_PYTH => {
            require!(
                cfg.max_age_secs > 0 && cfg.feed_id != [0; 32],
                AdlError::InvalidMarketParams
            );
            load_pyth(&info, &cfg.feed_id)?;
            m.oracle_feed_id = cfg.feed_id;
            m.max_oracle_age_secs = cfg.max_age_secs;
        }
        _ => return err!(AdlError::InvalidMarketParams),
    }
    m.oracle = info.key();
    m.oracle_kind = cfg.kind;
    emit!(MarketOracleSet {
        market: a.market.key(),
        oracle: info.key(),
        kind: cfg.kind,
        feed_id: m.oracle_feed_id,
    });
    Ok(())
}

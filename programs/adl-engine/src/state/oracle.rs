use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::math;

/// Test/devnet price oracle pushed by an authority. Seeds: `["oracle", exchange, index u16 LE]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct Oracle {
    pub exchange: Pubkey,
    /// Key allowed to push prices.
    pub authority: Pubkey,
    /// Price: quote atoms per whole base unit (`PRICE_PRECISION` = 1e6).
    pub price: u64,
    /// Confidence interval half-width, same unit as `price`.
    pub confidence: u64,
    /// Slot at which `price` was published.
    pub publish_slot: u64,
    pub index: u16,
    pub bump: u8,
    pub reserved: [u8; 32],
}

impl Oracle {
    pub const SEED: &'static [u8] = b"oracle";

    /// The one place oracle freshness and confidence are checked. Returns the price.
    pub fn checked_price(
        &self,
        current_slot: u64,
        max_staleness_slots: u64,
        max_conf_bps: u32,
    ) -> Result<u64> {
        require!(self.price > 0, AdlError::InvalidOraclePrice);
        let age = current_slot.saturating_sub(self.publish_slot);
        require!(age <= max_staleness_slots, AdlError::StaleOracle);
        require!(
            math::confidence_ok(self.price, self.confidence, max_conf_bps)?,
            AdlError::OracleConfidenceTooWide
        );
        Ok(self.price)
    }
}

/// Kinds of oracle a market can read (`Market::oracle_kind`): the authority-pushed `Oracle`
/// above (localnet, tests), or a Pyth pull-oracle `PriceUpdateV2` account written by the Pyth
/// Solana Receiver program (devnet, mainnet).
pub const ORACLE_KIND_PUSHED: u8 = 0;
pub const ORACLE_KIND_PYTH: u8 = 1;

/// Pyth's account types, for clients and tests (serialized with the SDK's own code).
pub use pyth_solana_receiver_sdk::price_update::{
    PriceFeedMessage, PriceUpdateV2, VerificationLevel,
};

/// The Pyth Solana Receiver program, owner of every `PriceUpdateV2` account.
pub const PYTH_RECEIVER_ID: Pubkey = pyth_solana_receiver_sdk::ID;

/// Pyth exponents accepted: `price · 10^exponent` with `exponent` in this range (real feeds
/// use −5 … −10). Outside it the conversion could overflow or lose the price entirely.
pub const PYTH_MIN_EXPONENT: i32 = -18;
pub const PYTH_MAX_EXPONENT: i32 = 0;

/// A Pyth price in the program's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PythPrice {
    /// Price atoms (`PRICE_PRECISION`), rounded toward zero.
    pub price: u64,
    /// Confidence half-width in price atoms, rounded up (never narrower than published).
    pub confidence: u64,
    /// Unix time the price was published.
    pub publish_time: i64,
}

/// Converts a Pyth `(price, conf, exponent)` to price atoms: `price·10^(exponent+6)`.
/// A finer exponent than 1e-6 divides: the price rounds toward zero (at most one price atom,
/// 1e-6 quote per base unit, far inside any accepted confidence interval) and the confidence
/// rounds up, so the confidence check never passes on rounding. Errors:
/// `OracleExponentOutOfRange`, `InvalidOraclePrice` (price ≤ 0, or 0 after conversion).
pub fn pyth_to_price_atoms(price: i64, conf: u64, exponent: i32) -> Result<(u64, u64)> {
    require!(
        (PYTH_MIN_EXPONENT..=PYTH_MAX_EXPONENT).contains(&exponent),
        AdlError::OracleExponentOutOfRange
    );
    require!(price > 0, AdlError::InvalidOraclePrice);
    // PRICE_PRECISION is 10^6: shift = exponent + 6.
    let shift = exponent + 6;
    let (p, c) = if shift >= 0 {
        let f = 10i128.pow(shift as u32);
        (math::mul(price as i128, f)?, math::mul(conf as i128, f)?)
    } else {
        let d = 10i128.pow((-shift) as u32);
        (
            math::div_floor(price as i128, d)?,
            math::div_ceil(conf as i128, d)?,
        )
    };
    let p = math::to_u64(p)?;
    require!(p > 0, AdlError::InvalidOraclePrice);
    Ok((p, math::to_u64(c)?))
}

/// Reads a Pyth `PriceUpdateV2` account without judging its age or confidence: the owner
/// must be the Pyth Receiver (`OracleWrongOwner`), the data a `PriceUpdateV2`
/// (`InvalidOracleAccount`), fully Wormhole-verified (`OracleNotFullyVerified`: a partially
/// verified update needs fewer guardians to collude), and for `feed_id`
/// (`OracleFeedMismatch`).
pub fn load_pyth(
    info: &AccountInfo,
    feed_id: &[u8; 32],
) -> Result<pyth_solana_receiver_sdk::price_update::PriceFeedMessage> {
    use pyth_solana_receiver_sdk::price_update::{PriceUpdateV2, VerificationLevel};
    require_keys_eq!(*info.owner, PYTH_RECEIVER_ID, AdlError::OracleWrongOwner);
    let data = info.try_borrow_data()?;
    let update = PriceUpdateV2::try_deserialize(&mut &data[..])
        .map_err(|_| error!(AdlError::InvalidOracleAccount))?;
    require!(
        update.verification_level == VerificationLevel::Full,
        AdlError::OracleNotFullyVerified
    );
    require!(
        update.price_message.feed_id == *feed_id,
        AdlError::OracleFeedMismatch
    );
    Ok(update.price_message)
}

/// How far in the future a Pyth `publish_time` may lie and still count as age 0, seconds. The
/// cluster clock trails wall time by a second or more, so a genuine update posted at once can
/// carry a publish time after it; refusing it (as before) made liquidation, `flag_bankrupt`
/// and `start_adl` fail with `StaleOracle` until the clock caught up — and anyone can post such
/// an update to a sponsored feed. Further in the future is refused (`StaleOracle`).
pub const PYTH_MAX_FUTURE_SECS: i64 = 10;

/// The one place a Pyth price is judged: `load_pyth`, then age (`publish_time` no older than
/// `max_age_secs` before `now_unix`; up to `PYTH_MAX_FUTURE_SECS` after it counts as age 0,
/// further is refused: `StaleOracle`), the conversion
/// (`pyth_to_price_atoms`), and the confidence (`OracleConfidenceTooWide`).
pub fn checked_pyth_price(
    info: &AccountInfo,
    feed_id: &[u8; 32],
    max_age_secs: u64,
    max_conf_bps: u32,
    now_unix: i64,
) -> Result<PythPrice> {
    let m = load_pyth(info, feed_id)?;
    check_pyth_message(&m, max_age_secs, max_conf_bps, now_unix)
}

/// Age, conversion and confidence of a Pyth price message (shared with off-chain readers).
pub fn check_pyth_message(
    m: &pyth_solana_receiver_sdk::price_update::PriceFeedMessage,
    max_age_secs: u64,
    max_conf_bps: u32,
    now_unix: i64,
) -> Result<PythPrice> {
    let age = (now_unix as i128) - (m.publish_time as i128);
    require!(
        age >= -(PYTH_MAX_FUTURE_SECS as i128) && age <= max_age_secs as i128,
        AdlError::StaleOracle
    );
    let (price, confidence) = pyth_to_price_atoms(m.price, m.conf, m.exponent)?;
    require!(
        math::confidence_ok(price, confidence, max_conf_bps)?,
        AdlError::OracleConfidenceTooWide
    );
    Ok(PythPrice {
        price,
        confidence,
        publish_time: m.publish_time,
    })
}

/// Reads a pushed `Oracle` of `exchange`: owned by this program (`OracleWrongOwner`), an
/// `Oracle` account (`InvalidOracleAccount`), of this exchange (`OracleMismatch`).
pub fn load_pushed(info: &AccountInfo, exchange: &Pubkey) -> Result<Oracle> {
    require_keys_eq!(*info.owner, crate::ID, AdlError::OracleWrongOwner);
    let data = info.try_borrow_data()?;
    let o = Oracle::try_deserialize(&mut &data[..])
        .map_err(|_| error!(AdlError::InvalidOracleAccount))?;
    require_keys_eq!(o.exchange, *exchange, AdlError::OracleMismatch);
    Ok(o)
}

/// Checks a market against its exchange and oracle account and returns the fresh oracle
/// price — the one function every instruction that reads a price goes through. The account
/// must be the market's (`OracleMismatch`); then by kind: the pushed `Oracle` (owned by this
/// program; age in slots) or a Pyth `PriceUpdateV2` (`checked_pyth_price`; age in seconds).
pub fn checked_oracle_price(
    market: &crate::state::Market,
    exchange: &Pubkey,
    oracle: &AccountInfo,
) -> Result<u64> {
    require_keys_eq!(market.exchange, *exchange, AdlError::ExchangeMismatch);
    require_keys_eq!(market.oracle, oracle.key(), AdlError::OracleMismatch);
    let clock = Clock::get()?;
    match market.oracle_kind {
        ORACLE_KIND_PUSHED => load_pushed(oracle, exchange)?.checked_price(
            clock.slot,
            market.params.max_oracle_staleness_slots,
            market.params.max_oracle_conf_bps,
        ),
        ORACLE_KIND_PYTH => Ok(checked_pyth_price(
            oracle,
            &market.oracle_feed_id,
            market.max_oracle_age_secs,
            market.params.max_oracle_conf_bps,
            clock.unix_timestamp,
        )?
        .price),
        _ => err!(AdlError::InvalidOracleAccount),
    }
}

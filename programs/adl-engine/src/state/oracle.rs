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

/// Kinds of oracle a market can read. v1 reads only the pushed test oracle.
pub const ORACLE_KIND_PUSHED: u8 = 0;

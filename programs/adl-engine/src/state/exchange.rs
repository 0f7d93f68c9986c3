use anchor_lang::prelude::*;

use crate::error::AdlError;

/// Seeds: `["exchange", admin]`. The collateral vault is the token account PDA
/// `["vault", exchange]`, owned by the exchange PDA.
#[account]
#[derive(InitSpace, Debug)]
pub struct Exchange {
    /// Admin: creates oracles and markets, sets parameters and pause bits.
    pub admin: Pubkey,
    /// Collateral mint (6 decimals in v1).
    pub collateral_mint: Pubkey,
    /// Collateral vault (SPL token account, authority = this exchange PDA).
    pub vault: Pubkey,
    /// One bit per instruction (`PauseBit`); a set bit pauses it.
    pub paused: u64,
    /// Number of markets created (the next market's index).
    pub market_count: u16,
    /// Number of oracles created (the next oracle's index).
    pub oracle_count: u16,
    pub bump: u8,
    pub vault_bump: u8,
    pub reserved: [u8; 64],
}

/// Most markets an exchange may have: unstaking checks every market (in pages, within
/// `UNSTAKE_CHECK_SLOTS`), so their number is bounded (tested at the limit).
pub const MAX_MARKETS: u16 = 128;

impl Exchange {
    pub const SEED: &'static [u8] = b"exchange";
    pub const VAULT_SEED: &'static [u8] = b"vault";

    /// The one place pause bits are checked.
    pub fn is_paused(&self, bit: PauseBit) -> bool {
        self.paused & bit.mask() != 0
    }

    pub fn check_not_paused(&self, bit: PauseBit) -> Result<()> {
        require!(self.paused & bit.mask() == 0, AdlError::InstructionPaused);
        Ok(())
    }
}

/// Instructions that can be paused, one bit each in `Exchange::paused`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PauseBit {
    Deposit = 0,
    Withdraw = 1,
    Trade = 2,
    AddMargin = 3,
    RemoveMargin = 4,
    CreateUser = 5,
    SetOraclePrice = 6,
    Liquidate = 7,
    StartAdl = 8,
    AutoDeleverage = 9,
    Stake = 10,
    Unstake = 11,
    ClaimPayout = 12,
    UpdateFunding = 13,
}

impl PauseBit {
    pub const fn mask(self) -> u64 {
        1u64 << (self as u8)
    }
}

use anchor_lang::prelude::*;
use core::mem::{align_of, size_of};

use crate::error::AdlError;
use crate::state::position::NIL;

/// Positions one user can hold at once (one per market, isolated margin).
pub const MAX_USER_POSITIONS: usize = 16;

/// A user's reference to one of its open slots.
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UserPositionRef {
    pub market: Pubkey,
    /// Slot index in the market's book (`NIL`: unused entry).
    pub slot: u32,
    pub padding: u32,
}

/// A trader's collateral account. Seeds: `["user", exchange, owner]`.
///
/// ABI: `owner` @8, `exchange` @40, `free_collateral` @72, `bump` @80, `num_positions` @81,
/// `positions` @88 (16 × 40 bytes: `market` @+0, `slot` @+32).
#[account(zero_copy)]
#[derive(Debug)]
pub struct UserAccount {
    pub owner: Pubkey,
    pub exchange: Pubkey,
    /// Collateral not committed to any position, quote atoms.
    pub free_collateral: u64,
    pub bump: u8,
    pub num_positions: u8,
    pub padding: [u8; 6],
    pub positions: [UserPositionRef; MAX_USER_POSITIONS],
    pub reserved: [u64; 8],
}

const _: () = assert!(size_of::<UserAccount>() == 784);
const _: () = assert!(align_of::<UserAccount>() == 8);

impl UserAccount {
    pub const SEED: &'static [u8] = b"user";

    /// The user's slot in `market`, if it has an open position there.
    pub fn position_slot(&self, market: &Pubkey) -> Option<u32> {
        self.positions
            .iter()
            .find(|r| r.slot != NIL && r.market == *market)
            .map(|r| r.slot)
    }

    pub fn add_position(&mut self, market: Pubkey, slot: u32) -> Result<()> {
        let r = self
            .positions
            .iter_mut()
            .find(|r| r.slot == NIL)
            .ok_or(AdlError::UserPositionsFull)?;
        r.market = market;
        r.slot = slot;
        self.num_positions += 1;
        Ok(())
    }

    pub fn remove_position(&mut self, market: &Pubkey) -> Result<()> {
        let r = self
            .positions
            .iter_mut()
            .find(|r| r.slot != NIL && r.market == *market)
            .ok_or(AdlError::NoOpenPosition)?;
        *r = UserPositionRef {
            slot: NIL,
            ..UserPositionRef::default()
        };
        self.num_positions -= 1;
        Ok(())
    }

    pub fn credit(&mut self, amount: u64) -> Result<()> {
        self.free_collateral = self
            .free_collateral
            .checked_add(amount)
            .ok_or(AdlError::MathOverflow)?;
        Ok(())
    }

    pub fn debit(&mut self, amount: u64) -> Result<()> {
        self.free_collateral = self
            .free_collateral
            .checked_sub(amount)
            .ok_or(AdlError::InsufficientCollateral)?;
        Ok(())
    }
}

use anchor_lang::prelude::*;
use core::mem::{align_of, size_of};

use crate::error::AdlError;
use crate::math;

/// The exchange's insurance fund. Seeds: `["insurance", exchange]`. Its money is held in the
/// exchange's collateral vault; `balance` is the fund's share of it (one vault keeps every
/// flow — fees, liquidation shares, bankruptcy payments — a bookkeeping entry, with no token
/// transfer and no extra accounts in liquidations).
///
/// ABI: `exchange` @8, `balance` @40, `total_shares` @48, `unstake_cooldown_slots` @56,
/// `total_paid` @64, `total_earned` @72, `share_epoch` @80, `unstake_window_slots` @96.
#[account(zero_copy)]
#[derive(Debug)]
pub struct InsuranceFund {
    pub exchange: Pubkey,
    /// Quote atoms the fund holds.
    pub balance: u64,
    /// Stakers' shares outstanding.
    pub total_shares: u64,
    /// Slots an unstake request waits.
    pub unstake_cooldown_slots: u64,
    /// Paid out to bankruptcies and liquidators, quote atoms.
    pub total_paid: u64,
    /// Received from fees and liquidation shares, quote atoms.
    pub total_earned: u64,
    /// Incremented when a loss takes the balance to zero — or the share price below
    /// `1/WIPE_FACTOR` of the first-stake price — with shares outstanding: shares of earlier
    /// epochs are worth nothing (what little is left stays in the fund).
    pub share_epoch: u64,
    pub bump: u8,
    pub padding: [u8; 7],
    /// Slots after the cooldown during which a request may be executed; later it has
    /// expired and must be made again (a request is no free option on future losses).
    pub unstake_window_slots: u64,
    pub reserved: [u64; 15],
}

const _: () = assert!(size_of::<InsuranceFund>() == 216);
const _: () = assert!(align_of::<InsuranceFund>() == 8);

impl InsuranceFund {
    pub const SEED: &'static [u8] = b"insurance";

    /// What the fund can pay for one event: `min(balance, cap)`.
    pub fn available(&self, cap: u64) -> u64 {
        self.balance.min(cap)
    }

    /// Pays `amount` out of the fund (the one place the balance decreases for losses).
    pub fn pay(&mut self, amount: u64) -> Result<()> {
        self.balance = math::sub_u64(self.balance, amount, AdlError::InsufficientInsurance)?;
        self.total_paid = math::add_u64(self.total_paid, amount)?;
        if self.total_shares > 0
            && (self.balance == 0 || math::shares_wiped(self.total_shares, self.balance))
        {
            self.total_shares = 0;
            self.share_epoch = math::add_u64(self.share_epoch, 1)?;
        }
        Ok(())
    }

    /// Receives fees or a liquidation share.
    pub fn earn(&mut self, amount: u64) -> Result<()> {
        self.balance = math::add_u64(self.balance, amount)?;
        self.total_earned = math::add_u64(self.total_earned, amount)?;
        Ok(())
    }
}

/// A staker's position in the fund. Seeds: `["stake", fund, staker]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct InsuranceStake {
    pub fund: Pubkey,
    pub staker: Pubkey,
    pub shares: u64,
    /// `InsuranceFund::share_epoch` the shares belong to.
    pub epoch: u64,
    /// Shares of the pending unstake request (0: none).
    pub pending_shares: u64,
    /// Value of those shares when requested, quote atoms.
    pub pending_value: u64,
    /// Slot of the request.
    pub request_slot: u64,
    pub bump: u8,
}

impl InsuranceStake {
    pub const SEED: &'static [u8] = b"stake";

    /// Drops shares of a past epoch (the fund was emptied by losses since).
    pub fn sync_epoch(&mut self, fund: &InsuranceFund) {
        if self.epoch != fund.share_epoch {
            self.epoch = fund.share_epoch;
            self.shares = 0;
            self.pending_shares = 0;
            self.pending_value = 0;
            self.request_slot = 0;
        }
    }
}

use anchor_lang::prelude::*;
use core::mem::{align_of, size_of};

use crate::error::AdlError;
use crate::math;

/// The exchange's insurance fund. Seeds: `["insurance", exchange]`. Its money is held in the
/// exchange's collateral vault; `balance` is the fund's share of it (one vault keeps every
/// flow — fees, liquidation shares, bankruptcy payments — a bookkeeping entry, with no token
/// transfer and no extra accounts in liquidations).
///
/// Earnings vest: what the fund earns (swept trading fees, liquidation shares) is part of
/// `balance` at once — it pays bankruptcies at once, and a new stake pays for it — but reaches
/// what a leaving staker is paid only linearly over `fee_vest_slots` (`exit_balance`). Fees
/// swept before a stake never reach it; fees waiting in a pool when it stakes reach it only as
/// they vest (docs/adl.md, "Insurance fund").
///
/// ABI: `exchange` @8, `balance` @40, `total_shares` @48, `unstake_cooldown_slots` @56,
/// `total_paid` @64, `total_earned` @72, `share_epoch` @80, `unstake_window_slots` @96,
/// `fee_vest_slots` @104, `vesting` @112, `vest_slot` @120, `unvested_new` @128,
/// `vest_end` @136.
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
    /// Slots over which an earning vests into the value of shares (> 0).
    pub fee_vest_slots: u64,
    /// Earnings still vesting as of `vest_slot`, quote atoms: they vest linearly over
    /// `fee_vest_slots` from `vest_slot`.
    pub vesting: u64,
    /// Slot from which `vesting` vests.
    pub vest_slot: u64,
    /// Earned since the last vesting update (`settle_vesting`): none of it has vested yet;
    /// it starts vesting at the next update (every stake, unstake and sweep makes one).
    pub unvested_new: u64,
    /// Slot at which `vesting` has fully vested.
    pub vest_end: u64,
    pub reserved: [u64; 10],
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
        // A loss takes the vested part first (the value of shares falls at once: no staker
        // can leave ahead of it); only a loss larger than that reaches what is still vesting.
        let over = (self.vesting + self.unvested_new).saturating_sub(self.balance);
        let from_new = over.min(self.unvested_new);
        self.unvested_new -= from_new;
        self.vesting -= over - from_new;
        self.total_paid = math::add_u64(self.total_paid, amount)?;
        if self.total_shares > 0
            && (self.balance == 0 || math::shares_wiped(self.total_shares, self.balance))
        {
            self.total_shares = 0;
            self.share_epoch = math::add_u64(self.share_epoch, 1)?;
            // No shares left to vest to: what was vesting is fund capital now.
            self.vesting = 0;
            self.unvested_new = 0;
        }
        Ok(())
    }

    /// Receives fees or a liquidation share: part of `balance` at once, vesting into the
    /// value of shares from the next `settle_vesting`.
    pub fn earn(&mut self, amount: u64) -> Result<()> {
        self.balance = math::add_u64(self.balance, amount)?;
        self.total_earned = math::add_u64(self.total_earned, amount)?;
        self.unvested_new = math::add_u64(self.unvested_new, amount)?;
        Ok(())
    }

    /// Earnings not yet vested at `now`, quote atoms, rounded up (against the staker who
    /// leaves): the vesting remainder plus everything earned since the last update.
    pub fn locked(&self, now: u64) -> Result<u64> {
        let v = math::vesting_left(self.vesting, self.vest_slot, self.vest_end, now, true)?;
        Ok(math::add_u64(v, self.unvested_new)?)
    }

    /// What a leaving staker's shares are worth at `now`: `balance` less what has not vested
    /// (zero if a loss took more than the vested part).
    pub fn exit_balance(&self, now: u64) -> Result<u64> {
        Ok(self.balance.saturating_sub(self.locked(now)?))
    }

    /// Starts the earnings since the last update vesting at `now`: they and what is left of
    /// the schedule (rounded down) vest together linearly over `fee_vest_slots` from `now` —
    /// a line above the sum of the separate schedules, so no earning ever vests faster than
    /// linearly over `fee_vest_slots` from when it was earned (what is left is slowed, and only
    /// a real earning can do that). Nothing new: no change (an empty sweep cannot restart the
    /// schedule). With no shares outstanding there is no staker to vest to: earnings become
    /// fund capital at once (held by the virtual shares).
    pub fn settle_vesting(&mut self, now: u64) -> Result<()> {
        if self.total_shares == 0 {
            self.vesting = 0;
            self.unvested_new = 0;
            self.vest_slot = now;
            self.vest_end = now;
            return Ok(());
        }
        if self.unvested_new == 0 {
            return Ok(());
        }
        let rest = math::vesting_left(self.vesting, self.vest_slot, self.vest_end, now, false)?;
        self.vesting = math::add_u64(rest, self.unvested_new)?;
        self.unvested_new = 0;
        self.vest_slot = now;
        self.vest_end = now.saturating_add(self.fee_vest_slots);
        Ok(())
    }

    /// `if_stake`'s bookkeeping: mints shares for `amount` priced on the whole balance —
    /// earnings still vesting included, so a new stake pays for them and cannot dilute the
    /// stakers who earned them. Returns the shares minted.
    pub fn stake(&mut self, stake: &mut InsuranceStake, amount: u64, now: u64) -> Result<u64> {
        stake.sync_epoch(self);
        self.settle_vesting(now)?;
        let shares = math::shares_for_stake(amount, self.total_shares, self.balance)?;
        require!(shares > 0, AdlError::ZeroAmount);
        self.balance = math::add_u64(self.balance, amount)?;
        self.total_shares = math::add_u64(self.total_shares, shares)?;
        stake.shares = math::add_u64(stake.shares, shares)?;
        Ok(shares)
    }

    /// `if_request_unstake`'s bookkeeping: records the request and the shares' value now on
    /// the vested balance. Returns that value.
    pub fn request_unstake(
        &self,
        stake: &mut InsuranceStake,
        shares: u64,
        now: u64,
    ) -> Result<u64> {
        stake.sync_epoch(self);
        require!(stake.pending_shares == 0, AdlError::UnstakeAlreadyPending);
        require!(shares <= stake.shares, AdlError::InsufficientShares);
        let value = math::shares_value(shares, self.total_shares, self.exit_balance(now)?)?;
        stake.pending_shares = shares;
        stake.pending_value = value;
        stake.request_slot = now;
        Ok(value)
    }

    /// `if_unstake`'s bookkeeping: after the cooldown and within the window, retires the
    /// requested shares and pays `min(value at request, value now)` (both on the vested
    /// balance); the difference stays with the remaining stakers. Returns (shares, paid).
    pub fn unstake(&mut self, stake: &mut InsuranceStake, now: u64) -> Result<(u64, u64)> {
        stake.sync_epoch(self);
        let shares = stake.pending_shares;
        require!(shares > 0, AdlError::NoUnstakePending);
        let opens = stake
            .request_slot
            .saturating_add(self.unstake_cooldown_slots);
        require!(now >= opens, AdlError::UnstakeCooldownActive);
        require!(
            now <= opens.saturating_add(self.unstake_window_slots),
            AdlError::UnstakeWindowExpired
        );
        self.settle_vesting(now)?;
        let now_value = math::shares_value(shares, self.total_shares, self.exit_balance(now)?)?;
        let pay = stake.pending_value.min(now_value);
        self.balance = math::sub_u64(self.balance, pay, AdlError::InsufficientInsurance)?;
        self.total_shares = math::sub_u64(self.total_shares, shares, AdlError::InsufficientShares)?;
        // The last staker left: what was still vesting is fund capital now (the next stake
        // pays for it).
        self.settle_vesting(now)?;
        stake.shares = math::sub_u64(stake.shares, shares, AdlError::InsufficientShares)?;
        stake.pending_shares = 0;
        stake.pending_value = 0;
        stake.request_slot = 0;
        Ok((shares, pay))
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
    /// Markets checked for losses (`if_check_markets`) in the current round, from index 0.
    pub checked_markets: u16,
    /// Slot of the current round's first check; a round older than `UNSTAKE_CHECK_SLOTS`
    /// starts again from market 0.
    pub check_start_slot: u64,
}

/// Slots within which every market must be checked before an unstake: losses that became
/// visible after a market's check and before the unstake are at most this old (plus the
/// oracle's accepted age).
pub const UNSTAKE_CHECK_SLOTS: u64 = 64;

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

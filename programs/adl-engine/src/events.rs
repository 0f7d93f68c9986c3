//! One event per state change. Amounts in quote atoms, sizes in base atoms, prices in price
//! atoms, as in the accounts.

use anchor_lang::prelude::*;

#[event]
pub struct ExchangeInitialized {
    pub exchange: Pubkey,
    pub admin: Pubkey,
    pub collateral_mint: Pubkey,
    pub vault: Pubkey,
}

#[event]
pub struct PauseBitsSet {
    pub exchange: Pubkey,
    pub paused: u64,
}

#[event]
pub struct OracleInitialized {
    pub oracle: Pubkey,
    pub authority: Pubkey,
    pub index: u16,
}

#[event]
pub struct OraclePriceSet {
    pub oracle: Pubkey,
    pub price: u64,
    pub confidence: u64,
    pub publish_slot: u64,
}

#[event]
pub struct MarketInitialized {
    pub market: Pubkey,
    pub market_index: u16,
    pub oracle: Pubkey,
    pub book: Pubkey,
    pub long_queue: Pubkey,
    pub short_queue: Pubkey,
    pub capacity: u32,
}

#[event]
pub struct MarketParamsUpdated {
    pub market: Pubkey,
}

#[event]
pub struct UserCreated {
    pub user: Pubkey,
    pub owner: Pubkey,
}

#[event]
pub struct CollateralDeposited {
    pub owner: Pubkey,
    pub amount: u64,
    pub free_collateral: u64,
}

#[event]
pub struct CollateralWithdrawn {
    pub owner: Pubkey,
    pub amount: u64,
    pub free_collateral: u64,
}

#[event]
pub struct TradeFilled {
    pub market: Pubkey,
    pub taker: Pubkey,
    pub maker: Pubkey,
    /// Signed size for the taker (positive: taker buys).
    pub taker_base: i64,
    pub price: u64,
    pub notional: u64,
    pub taker_fee: u64,
    pub maker_fee: u64,
    pub taker_slot: u32,
    pub maker_slot: u32,
    pub taker_realized_pnl: i64,
    pub maker_realized_pnl: i64,
}

#[event]
pub struct MarginChanged {
    pub market: Pubkey,
    pub owner: Pubkey,
    pub slot: u32,
    /// Signed change of the position's margin.
    pub delta: i64,
    pub margin: i64,
}

#[event]
pub struct InsuranceFundInitialized {
    pub fund: Pubkey,
    pub unstake_cooldown_slots: u64,
    pub unstake_window_slots: u64,
    pub fee_vest_slots: u64,
}

#[event]
pub struct Staked {
    pub fund: Pubkey,
    pub staker: Pubkey,
    pub amount: u64,
    pub shares: u64,
}

#[event]
pub struct UnstakeRequested {
    pub staker: Pubkey,
    pub shares: u64,
    /// Value of the shares at the request, quote atoms (the most the staker can receive).
    pub value: u64,
    pub slot: u64,
}

#[event]
pub struct UnstakeCancelled {
    pub staker: Pubkey,
}

#[event]
pub struct Unstaked {
    pub staker: Pubkey,
    pub shares: u64,
    pub paid: u64,
}

#[event]
pub struct FeesSwept {
    pub market: Pubkey,
    pub amount: u64,
}

#[event]
pub struct Liquidated {
    pub market: Pubkey,
    pub slot: u32,
    pub owner: Pubkey,
    pub liquidator: Pubkey,
    pub base: u64,
    pub price: u64,
    pub fee: u64,
    pub fee_to_fund: u64,
    pub fund_paid: u64,
    pub bankrupt: bool,
}

#[event]
pub struct BankruptcyFlagged {
    pub market: Pubkey,
    pub slot: u32,
    /// 0 when the flag was cleared (the position recovered).
    pub since_slot: u64,
}

#[event]
pub struct AdlStarted {
    pub market: Pubkey,
    pub event_id: u64,
    pub owner: Pubkey,
    pub side: u8,
    pub base: u64,
    pub exec_price: u64,
    pub oracle_price: u64,
    pub fund_paid: u64,
}

#[event]
pub struct AdlFilled {
    pub market: Pubkey,
    pub event_id: u64,
    pub slot: u32,
    pub owner: Pubkey,
    pub base: u64,
    pub notional: u64,
    pub payout: u64,
    pub tier: u8,
}

#[event]
pub struct AdlPayoutClaimed {
    pub market: Pubkey,
    pub owner: Pubkey,
    pub amount: u64,
}

#[event]
pub struct FundingUpdated {
    pub market: Pubkey,
    /// Change of the cumulative funding index, price atoms (positive: longs pay).
    pub delta: i64,
    pub cumulative_funding: i64,
    pub mark_price: u64,
    pub oracle_price: u64,
    pub elapsed_slots: u64,
}

#[event]
pub struct AdlModeSet {
    pub market: Pubkey,
    pub mode: u8,
}

#[event]
pub struct ProRataApplied {
    pub market: Pubkey,
    pub event_id: u64,
    /// Obligations applied (listed slots that no longer owed are passed over).
    pub slots: u32,
    pub base_remaining: u64,
    pub pending: u32,
}

#[event]
pub struct AdlSwitchedToProRata {
    pub market: Pubkey,
    pub event_id: u64,
    pub base_remaining: u64,
}

/// One transaction of a leverage drain (`adl_drain_begin`, `adl_drain_step`).
#[event]
pub struct AdlDrained {
    pub market: Pubkey,
    pub event_id: u64,
    /// Leverage level the positions are reduced to, bps.
    pub level_bps: u64,
    /// `DRAIN_*` phase after the transaction (`DRAIN_IDLE` once finished or abandoned).
    pub phase: u8,
    /// Positions measured above the level in this transaction.
    pub measured: u32,
    /// Positions reduced in this transaction.
    pub positions: u32,
    /// The level was checked in this transaction and did not fit: the event continues in
    /// rank order.
    pub abandoned: bool,
    pub base_remaining: u64,
}

/// A position reduced by a leverage drain (in an `adl_drain_step`, or by the instruction that
/// moved it out of the drain's region above its level).
#[event]
pub struct AdlDrainFilled {
    pub market: Pubkey,
    pub event_id: u64,
    pub slot: u32,
    pub base: u64,
    pub notional: u64,
}

/// A market's oracle changed (`set_market_oracle`).
#[event]
pub struct MarketOracleSet {
    pub market: Pubkey,
    pub oracle: Pubkey,
    /// `ORACLE_KIND_*`.
    pub kind: u8,
    /// Pyth feed id (zero for the pushed oracle).
    pub feed_id: [u8; 32],
}

//! adl-engine: an isolated-margin perpetuals risk engine whose core is verified automated
//! deleveraging. `lib.rs` only dispatches; see `instructions/` (one file per instruction),
//! `state/` (account layouts and their methods), `engine` (position changes and queue
//! re-indexing) and `math` (every formula).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Anchor's macros expand to code that trips these lints.
#![allow(unexpected_cfgs, clippy::result_large_err, deprecated)]

use anchor_lang::prelude::*;

pub mod adl;
pub mod engine;
pub mod error;
pub mod events;
pub mod instructions;
pub mod math;
pub mod meter;
pub mod rank;
pub mod state;
#[cfg(any(test, feature = "cost-meter"))]
pub mod testkit;

use instructions::*;
use state::MarketParamsArgs;

declare_id!("KjuyTdtAs4kMGVGwToUzNncKg313ANnZpV5Tm3B2bSx");

#[program]
pub mod adl_engine {
    use super::*;

    pub fn init_exchange(ctx: Context<InitExchange>) -> Result<()> {
        handle_init_exchange(ctx)
    }

    pub fn set_paused(ctx: Context<SetPaused>, paused: u64) -> Result<()> {
        handle_set_paused(ctx, paused)
    }

    pub fn init_oracle(
        ctx: Context<InitOracle>,
        authority: Pubkey,
        price: u64,
        confidence: u64,
    ) -> Result<()> {
        handle_init_oracle(ctx, authority, price, confidence)
    }

    pub fn set_oracle_price(
        ctx: Context<SetOraclePrice>,
        price: u64,
        confidence: u64,
    ) -> Result<()> {
        handle_set_oracle_price(ctx, price, confidence)
    }

    pub fn init_market(ctx: Context<InitMarket>, params: MarketParamsArgs) -> Result<()> {
        handle_init_market(ctx, params)
    }

    pub fn set_market_oracle(ctx: Context<SetMarketOracle>, cfg: OracleConfig) -> Result<()> {
        instructions::set_market_oracle::handle_set_market_oracle(ctx, cfg)
    }

    pub fn update_market_params(
        ctx: Context<UpdateMarketParams>,
        params: MarketParamsArgs,
    ) -> Result<()> {
        handle_update_market_params(ctx, params)
    }

    pub fn create_user(ctx: Context<CreateUser>) -> Result<()> {
        handle_create_user(ctx)
    }

    pub fn deposit(ctx: Context<Deposit>, amount: u64) -> Result<()> {
        handle_deposit(ctx, amount)
    }

    pub fn withdraw(ctx: Context<Withdraw>, amount: u64) -> Result<()> {
        handle_withdraw(ctx, amount)
    }

    pub fn trade(ctx: Context<Trade>, args: TradeArgs) -> Result<()> {
        handle_trade(ctx, args)
    }

    pub fn add_margin(ctx: Context<ChangeMargin>, amount: u64) -> Result<()> {
        handle_add_margin(ctx, amount)
    }

    pub fn remove_margin(ctx: Context<ChangeMargin>, amount: u64) -> Result<()> {
        handle_remove_margin(ctx, amount)
    }

    pub fn init_insurance_fund(
        ctx: Context<InitInsuranceFund>,
        unstake_cooldown_slots: u64,
        unstake_window_slots: u64,
        fee_vest_slots: u64,
    ) -> Result<()> {
        handle_init_insurance_fund(
            ctx,
            unstake_cooldown_slots,
            unstake_window_slots,
            fee_vest_slots,
        )
    }

    pub fn if_create_stake(ctx: Context<CreateStake>) -> Result<()> {
        handle_create_stake(ctx)
    }

    pub fn if_stake(ctx: Context<StakeOp>, amount: u64) -> Result<()> {
        handle_if_stake(ctx, amount)
    }

    pub fn if_request_unstake(ctx: Context<StakeOp>, shares: u64) -> Result<()> {
        handle_if_request_unstake(ctx, shares)
    }

    pub fn if_cancel_unstake(ctx: Context<StakeOp>) -> Result<()> {
        handle_if_cancel_unstake(ctx)
    }

    pub fn if_unstake(ctx: Context<StakeOp>) -> Result<()> {
        handle_if_unstake(ctx)
    }

    pub fn if_check_markets(ctx: Context<CheckMarkets>) -> Result<()> {
        handle_if_check_markets(ctx)
    }

    pub fn sweep_fees(ctx: Context<SweepFees>) -> Result<()> {
        handle_sweep_fees(ctx)
    }

    pub fn liquidate(ctx: Context<Liquidate>, slot: u32, base: u64, margin: u64) -> Result<()> {
        handle_liquidate(ctx, slot, base, margin)
    }

    pub fn flag_bankrupt(ctx: Context<FlagBankrupt>, slot: u32) -> Result<()> {
        handle_flag_bankrupt(ctx, slot)
    }

    pub fn start_adl(ctx: Context<StartAdl>, slot: u32) -> Result<()> {
        handle_start_adl(ctx, slot)
    }

    pub fn auto_deleverage(
        ctx: Context<AutoDeleverage>,
        event_index: u8,
        event_id: u64,
        proof: RankProof,
    ) -> Result<()> {
        handle_auto_deleverage(ctx, event_index, event_id, proof)
    }

    pub fn claim_adl_payout(ctx: Context<ClaimAdlPayout>) -> Result<()> {
        handle_claim_adl_payout(ctx)
    }

    pub fn update_funding(ctx: Context<UpdateFunding>) -> Result<()> {
        handle_update_funding(ctx)
    }

    pub fn set_adl_mode(ctx: Context<SetAdlMode>, mode: u8) -> Result<()> {
        handle_set_adl_mode(ctx, mode)
    }

    pub fn apply_pro_rata(
        ctx: Context<AdlEventCrank>,
        event_index: u8,
        event_id: u64,
        slots: Vec<u32>,
    ) -> Result<()> {
        handle_apply_pro_rata(ctx, event_index, event_id, slots)
    }

    pub fn adl_drain_begin(
        ctx: Context<AdlEventCrank>,
        event_index: u8,
        event_id: u64,
    ) -> Result<()> {
        handle_adl_drain_begin(ctx, event_index, event_id)
    }

    pub fn adl_drain_step(
        ctx: Context<AdlEventCrank>,
        event_index: u8,
        event_id: u64,
    ) -> Result<()> {
        handle_adl_drain_step(ctx, event_index, event_id)
    }

    pub fn adl_switch_to_pro_rata(
        ctx: Context<AdlEventCrank>,
        event_index: u8,
        event_id: u64,
    ) -> Result<()> {
        handle_adl_switch_to_pro_rata(ctx, event_index, event_id)
    }
}

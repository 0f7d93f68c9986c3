//! adl-engine: an isolated-margin perpetuals risk engine whose core is verified automated
//! deleveraging. `lib.rs` only dispatches; see `instructions/` (one file per instruction),
//! `state/` (account layouts and their methods), `engine` (position changes and queue
//! re-indexing) and `math` (every formula).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Anchor's macros expand to code that trips these lints.
#![allow(unexpected_cfgs, clippy::result_large_err, deprecated)]

use anchor_lang::prelude::*;

pub mod engine;
pub mod error;
pub mod events;
pub mod instructions;
pub mod math;
pub mod rank;
pub mod state;

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
}

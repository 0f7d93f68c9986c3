//! PDAs and instruction builders for every adl-engine instruction.

use adl_engine::state::*;
use adl_engine::{accounts as acc, instruction as ix};
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::{AccountMeta, Instruction};
use anchor_lang::{InstructionData, ToAccountMetas};
use anchor_spl::token::spl_token;
use solana_program_pack::Pack;

pub use adl_engine::instructions::{OracleConfig, TradeArgs};
pub use adl_engine::state::MarketParamsArgs;

pub const PROGRAM_ID: Pubkey = adl_engine::ID;

fn system_program() -> Pubkey {
    anchor_lang::system_program::ID
}

pub fn exchange_pda(admin: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[Exchange::SEED, admin.as_ref()], &PROGRAM_ID).0
}

pub fn vault_pda(exchange: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[Exchange::VAULT_SEED, exchange.as_ref()], &PROGRAM_ID).0
}

pub fn oracle_pda(exchange: &Pubkey, index: u16) -> Pubkey {
    Pubkey::find_program_address(
        &[Oracle::SEED, exchange.as_ref(), &index.to_le_bytes()],
        &PROGRAM_ID,
    )
    .0
}

pub fn market_pda(exchange: &Pubkey, index: u16) -> Pubkey {
    Pubkey::find_program_address(
        &[Market::SEED, exchange.as_ref(), &index.to_le_bytes()],
        &PROGRAM_ID,
    )
    .0
}

pub fn user_pda(exchange: &Pubkey, owner: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[UserAccount::SEED, exchange.as_ref(), owner.as_ref()],
        &PROGRAM_ID,
    )
    .0
}

fn build(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: PROGRAM_ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

pub fn init_exchange(admin: &Pubkey, mint: &Pubkey) -> Instruction {
    let exchange = exchange_pda(admin);
    build(
        acc::InitExchange {
            admin: *admin,
            exchange,
            collateral_mint: *mint,
            vault: vault_pda(&exchange),
            token_program: spl_token::ID,
            system_program: system_program(),
        },
        ix::InitExchange {},
    )
}

pub fn set_paused(admin: &Pubkey, exchange: &Pubkey, paused: u64) -> Instruction {
    build(
        acc::SetPaused {
            admin: *admin,
            exchange: *exchange,
        },
        ix::SetPaused { paused },
    )
}

pub fn init_oracle(
    admin: &Pubkey,
    exchange: &Pubkey,
    index: u16,
    authority: &Pubkey,
    price: u64,
    confidence: u64,
) -> Instruction {
    build(
        acc::InitOracle {
            admin: *admin,
            exchange: *exchange,
            oracle: oracle_pda(exchange, index),
            system_program: system_program(),
        },
        ix::InitOracle {
            authority: *authority,
            price,
            confidence,
        },
    )
}

pub fn set_oracle_price(
    authority: &Pubkey,
    exchange: &Pubkey,
    oracle: &Pubkey,
    price: u64,
    confidence: u64,
) -> Instruction {
    build(
        acc::SetOraclePrice {
            authority: *authority,
            exchange: *exchange,
            oracle: *oracle,
        },
        ix::SetOraclePrice { price, confidence },
    )
}

/// The large accounts of a market, created by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketAccounts {
    pub market: Pubkey,
    pub oracle: Pubkey,
    pub book: Pubkey,
    pub long_queue: Pubkey,
    pub short_queue: Pubkey,
}

pub fn create_account(payer: &Pubkey, new: &Pubkey, lamports: u64, space: usize) -> Instruction {
    solana_system_interface::instruction::create_account(
        payer,
        new,
        lamports,
        space as u64,
        &PROGRAM_ID,
    )
}

/// A new market's instructions: its three large accounts (book of `book.0` bytes holding
/// `book.1` lamports, queues of `queue.0` bytes holding `queue.1` each) created under fresh
/// keypairs, then `init_market`. Returns the instructions, the keypairs that must sign, and
/// the market's accounts.
pub fn new_market(
    admin: &Pubkey,
    exchange: &Pubkey,
    market: Pubkey,
    oracle: Pubkey,
    book: (usize, u64),
    queue: (usize, u64),
    params: MarketParamsArgs,
) -> (
    Vec<Instruction>,
    [solana_keypair::Keypair; 3],
    MarketAccounts,
) {
    use solana_signer::Signer;
    let kps = [
        solana_keypair::Keypair::new(),
        solana_keypair::Keypair::new(),
        solana_keypair::Keypair::new(),
    ];
    let m = MarketAccounts {
        market,
        oracle,
        book: kps[0].pubkey(),
        long_queue: kps[1].pubkey(),
        short_queue: kps[2].pubkey(),
    };
    let ixs = vec![
        create_account(admin, &m.book, book.1, book.0),
        create_account(admin, &m.long_queue, queue.1, queue.0),
        create_account(admin, &m.short_queue, queue.1, queue.0),
        init_market(admin, exchange, &m, params),
    ];
    (ixs, kps, m)
}

pub fn init_market(
    admin: &Pubkey,
    exchange: &Pubkey,
    m: &MarketAccounts,
    params: MarketParamsArgs,
) -> Instruction {
    build(
        acc::InitMarket {
            admin: *admin,
            exchange: *exchange,
            oracle: m.oracle,
            market: m.market,
            book: m.book,
            long_queue: m.long_queue,
            short_queue: m.short_queue,
            system_program: system_program(),
        },
        ix::InitMarket { params },
    )
}

pub fn update_market_params(
    admin: &Pubkey,
    exchange: &Pubkey,
    market: &Pubkey,
    params: MarketParamsArgs,
) -> Instruction {
    build(
        acc::UpdateMarketParams {
            admin: *admin,
            exchange: *exchange,
            market: *market,
        },
        ix::UpdateMarketParams { params },
    )
}

/// Points a market at an oracle account: the exchange's pushed `Oracle` or a Pyth
/// `PriceUpdateV2` account (`cfg.kind`), admin only, no ADL event active.
pub fn set_market_oracle(
    admin: &Pubkey,
    exchange: &Pubkey,
    market: &Pubkey,
    oracle: &Pubkey,
    cfg: OracleConfig,
) -> Instruction {
    build(
        acc::SetMarketOracle {
            admin: *admin,
            exchange: *exchange,
            market: *market,
            oracle: *oracle,
        },
        ix::SetMarketOracle { cfg },
    )
}

/// Who takes part in setting up a trader (`new_trader`).
pub struct NewTrader {
    /// Pays the SOL and the token account's rent.
    pub payer: Pubkey,
    pub owner: Pubkey,
    /// The new collateral token account (a fresh keypair: it signs).
    pub token: Pubkey,
    pub mint: Pubkey,
    pub mint_authority: Pubkey,
    pub exchange: Pubkey,
}

/// One transaction that sets up a trader: 0.1 SOL to the owner, a token account holding
/// `tokens` collateral atoms (minted), the owner's user account, and `deposit` of the tokens
/// deposited. Signers: payer, owner, token account, and the mint authority when `tokens > 0`.
pub fn new_trader(t: &NewTrader, token_rent: u64, tokens: u64, deposit: u64) -> Vec<Instruction> {
    let mut ixs = vec![
        solana_system_interface::instruction::transfer(&t.payer, &t.owner, 100_000_000),
        token::create_token_account(
            &t.payer,
            &t.token,
            token_rent,
            spl_token::state::Account::LEN,
        ),
        token::initialize_account(&t.token, &t.mint, &t.owner),
        create_user(&t.owner, &t.exchange),
    ];
    if tokens > 0 {
        ixs.push(token::mint_to(&t.mint, &t.token, &t.mint_authority, tokens));
    }
    if deposit > 0 {
        ixs.push(self::deposit(&t.owner, &t.exchange, &t.token, deposit));
    }
    ixs
}

pub fn create_user(owner: &Pubkey, exchange: &Pubkey) -> Instruction {
    build(
        acc::CreateUser {
            owner: *owner,
            exchange: *exchange,
            user: user_pda(exchange, owner),
            system_program: system_program(),
        },
        ix::CreateUser {},
    )
}

pub fn deposit(
    owner: &Pubkey,
    exchange: &Pubkey,
    owner_token: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        acc::Deposit {
            owner: *owner,
            exchange: *exchange,
            user: user_pda(exchange, owner),
            vault: vault_pda(exchange),
            owner_token: *owner_token,
            token_program: spl_token::ID,
        },
        ix::Deposit { amount },
    )
}

pub fn withdraw(
    owner: &Pubkey,
    exchange: &Pubkey,
    destination: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        acc::Withdraw {
            owner: *owner,
            exchange: *exchange,
            user: user_pda(exchange, owner),
            vault: vault_pda(exchange),
            destination: *destination,
            token_program: spl_token::ID,
        },
        ix::Withdraw { amount },
    )
}

pub fn trade(
    exchange: &Pubkey,
    m: &MarketAccounts,
    taker: &Pubkey,
    maker: &Pubkey,
    args: TradeArgs,
) -> Instruction {
    build(
        acc::Trade {
            exchange: *exchange,
            market: m.market,
            oracle: m.oracle,
            book: m.book,
            long_queue: m.long_queue,
            short_queue: m.short_queue,
            taker_user: user_pda(exchange, taker),
            taker: *taker,
            maker_user: user_pda(exchange, maker),
            maker: *maker,
        },
        ix::Trade { args },
    )
}

fn change_margin_accounts(
    exchange: &Pubkey,
    m: &MarketAccounts,
    owner: &Pubkey,
) -> acc::ChangeMargin {
    acc::ChangeMargin {
        exchange: *exchange,
        market: m.market,
        oracle: m.oracle,
        book: m.book,
        long_queue: m.long_queue,
        short_queue: m.short_queue,
        user: user_pda(exchange, owner),
        owner: *owner,
    }
}

pub fn add_margin(
    exchange: &Pubkey,
    m: &MarketAccounts,
    owner: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        change_margin_accounts(exchange, m, owner),
        ix::AddMargin { amount },
    )
}

pub fn remove_margin(
    exchange: &Pubkey,
    m: &MarketAccounts,
    owner: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        change_margin_accounts(exchange, m, owner),
        ix::RemoveMargin { amount },
    )
}

/// SPL Token instructions used to set up collateral.
pub mod token {
    use super::*;

    pub fn initialize_mint(mint: &Pubkey, authority: &Pubkey, decimals: u8) -> Instruction {
        spl_token::instruction::initialize_mint2(&spl_token::ID, mint, authority, None, decimals)
            .unwrap_or_else(|e| unreachable!("static arguments: {e}"))
    }

    pub fn initialize_account(account: &Pubkey, mint: &Pubkey, owner: &Pubkey) -> Instruction {
        spl_token::instruction::initialize_account3(&spl_token::ID, account, mint, owner)
            .unwrap_or_else(|e| unreachable!("static arguments: {e}"))
    }

    pub fn mint_to(mint: &Pubkey, to: &Pubkey, authority: &Pubkey, amount: u64) -> Instruction {
        spl_token::instruction::mint_to(&spl_token::ID, mint, to, authority, &[], amount)
            .unwrap_or_else(|e| unreachable!("static arguments: {e}"))
    }

    pub fn create_token_account(
        payer: &Pubkey,
        account: &Pubkey,
        lamports: u64,
        space: usize,
    ) -> Instruction {
        solana_system_interface::instruction::create_account(
            payer,
            account,
            lamports,
            space as u64,
            &spl_token::ID,
        )
    }
}

pub use adl_engine::instructions::RankProof;

pub fn insurance_fund_pda(exchange: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[InsuranceFund::SEED, exchange.as_ref()], &PROGRAM_ID).0
}

pub fn stake_pda(fund: &Pubkey, staker: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[InsuranceStake::SEED, fund.as_ref(), staker.as_ref()],
        &PROGRAM_ID,
    )
    .0
}

pub fn init_insurance_fund(
    admin: &Pubkey,
    exchange: &Pubkey,
    unstake_cooldown_slots: u64,
    unstake_window_slots: u64,
    fee_vest_slots: u64,
) -> Instruction {
    build(
        acc::InitInsuranceFund {
            admin: *admin,
            exchange: *exchange,
            fund: insurance_fund_pda(exchange),
            system_program: system_program(),
        },
        ix::InitInsuranceFund {
            unstake_cooldown_slots,
            unstake_window_slots,
            fee_vest_slots,
        },
    )
}

pub fn if_create_stake(staker: &Pubkey, exchange: &Pubkey) -> Instruction {
    let fund = insurance_fund_pda(exchange);
    build(
        acc::CreateStake {
            staker: *staker,
            fund,
            stake: stake_pda(&fund, staker),
            system_program: system_program(),
        },
        ix::IfCreateStake {},
    )
}

fn stake_op(staker: &Pubkey, exchange: &Pubkey, staker_token: &Pubkey) -> acc::StakeOp {
    let fund = insurance_fund_pda(exchange);
    acc::StakeOp {
        staker: *staker,
        exchange: *exchange,
        fund,
        stake: stake_pda(&fund, staker),
        vault: vault_pda(exchange),
        staker_token: *staker_token,
        token_program: spl_token::ID,
    }
}

pub fn if_stake(
    staker: &Pubkey,
    exchange: &Pubkey,
    staker_token: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        stake_op(staker, exchange, staker_token),
        ix::IfStake { amount },
    )
}

pub fn if_request_unstake(
    staker: &Pubkey,
    exchange: &Pubkey,
    staker_token: &Pubkey,
    shares: u64,
) -> Instruction {
    build(
        stake_op(staker, exchange, staker_token),
        ix::IfRequestUnstake { shares },
    )
}

pub fn if_cancel_unstake(staker: &Pubkey, exchange: &Pubkey, staker_token: &Pubkey) -> Instruction {
    build(
        stake_op(staker, exchange, staker_token),
        ix::IfCancelUnstake {},
    )
}

/// Executes a pending unstake request. `markets` are all markets of the exchange in index
/// order (the program checks that none holds a position flagged bankrupt).
pub fn if_unstake(
    staker: &Pubkey,
    exchange: &Pubkey,
    staker_token: &Pubkey,
    markets: &[MarketAccounts],
) -> Instruction {
    let mut ix = build(stake_op(staker, exchange, staker_token), ix::IfUnstake {});
    ix.accounts.extend(market_pairs(markets));
    ix
}

/// `(market, oracle)` pairs, read-only, as `if_check_markets` and `if_unstake` take them.
fn market_pairs(markets: &[MarketAccounts]) -> impl Iterator<Item = AccountMeta> + '_ {
    markets.iter().flat_map(|m| {
        [
            AccountMeta::new_readonly(m.market, false),
            AccountMeta::new_readonly(m.oracle, false),
        ]
    })
}

/// An unstake for an exchange with any number of markets, in order, one instruction per
/// transaction: `if_check_markets` pages of at most `per_tx` markets, then `if_unstake` with
/// the rest (at most `per_tx`). Send them within `UNSTAKE_CHECK_SLOTS` of the first. 12 pairs
/// fit every such transaction the staker pays for (13 `if_check_markets`, 12 `if_unstake`;
/// measured in `tests/program/staking.rs`).
pub fn unstake_in_pages(
    staker: &Pubkey,
    exchange: &Pubkey,
    staker_token: &Pubkey,
    markets: &[MarketAccounts],
    per_tx: usize,
) -> Vec<Instruction> {
    let per_tx = per_tx.max(1);
    let mut out = Vec::new();
    let mut rest = markets;
    while rest.len() > per_tx {
        out.push(if_check_markets(staker, exchange, &rest[..per_tx]));
        rest = &rest[per_tx..];
    }
    out.push(if_unstake(staker, exchange, staker_token, rest));
    out
}

/// Checks the next markets (continuing the stake's round) for losses before an unstake.
pub fn if_check_markets(
    staker: &Pubkey,
    exchange: &Pubkey,
    markets: &[MarketAccounts],
) -> Instruction {
    let fund = insurance_fund_pda(exchange);
    let mut ix = build(
        acc::CheckMarkets {
            staker: *staker,
            exchange: *exchange,
            fund,
            stake: stake_pda(&fund, staker),
        },
        ix::IfCheckMarkets {},
    );
    ix.accounts.extend(market_pairs(markets));
    ix
}

pub fn sweep_fees(exchange: &Pubkey, market: &Pubkey) -> Instruction {
    build(
        acc::SweepFees {
            exchange: *exchange,
            market: *market,
            fund: insurance_fund_pda(exchange),
        },
        ix::SweepFees {},
    )
}

#[allow(clippy::too_many_arguments)]
pub fn liquidate(
    exchange: &Pubkey,
    m: &MarketAccounts,
    owner: &Pubkey,
    liquidator: &Pubkey,
    slot: u32,
    base: u64,
    margin: u64,
) -> Instruction {
    build(
        acc::Liquidate {
            exchange: *exchange,
            market: m.market,
            oracle: m.oracle,
            book: m.book,
            long_queue: m.long_queue,
            short_queue: m.short_queue,
            fund: insurance_fund_pda(exchange),
            liquidatee_user: user_pda(exchange, owner),
            liquidator_user: user_pda(exchange, liquidator),
            liquidator: *liquidator,
        },
        ix::Liquidate { slot, base, margin },
    )
}

pub fn flag_bankrupt(exchange: &Pubkey, m: &MarketAccounts, slot: u32) -> Instruction {
    build(
        acc::FlagBankrupt {
            exchange: *exchange,
            market: m.market,
            oracle: m.oracle,
            book: m.book,
        },
        ix::FlagBankrupt { slot },
    )
}

pub fn start_adl(exchange: &Pubkey, m: &MarketAccounts, owner: &Pubkey, slot: u32) -> Instruction {
    build(
        acc::StartAdl {
            exchange: *exchange,
            market: m.market,
            oracle: m.oracle,
            book: m.book,
            long_queue: m.long_queue,
            short_queue: m.short_queue,
            fund: insurance_fund_pda(exchange),
            user: user_pda(exchange, owner),
        },
        ix::StartAdl { slot },
    )
}

pub fn auto_deleverage(
    exchange: &Pubkey,
    m: &MarketAccounts,
    event_index: u8,
    event_id: u64,
    slots: Vec<u32>,
) -> Instruction {
    build(
        acc::AutoDeleverage {
            exchange: *exchange,
            market: m.market,
            book: m.book,
            long_queue: m.long_queue,
            short_queue: m.short_queue,
        },
        ix::AutoDeleverage {
            event_index,
            event_id,
            proof: RankProof { slots },
        },
    )
}

pub fn claim_adl_payout(exchange: &Pubkey, m: &MarketAccounts, owner: &Pubkey) -> Instruction {
    build(
        acc::ClaimAdlPayout {
            exchange: *exchange,
            market: m.market,
            book: m.book,
            long_queue: m.long_queue,
            short_queue: m.short_queue,
            user: user_pda(exchange, owner),
        },
        ix::ClaimAdlPayout {},
    )
}

pub fn update_funding(exchange: &Pubkey, m: &MarketAccounts) -> Instruction {
    build(
        acc::UpdateFunding {
            exchange: *exchange,
            market: m.market,
            oracle: m.oracle,
        },
        ix::UpdateFunding {},
    )
}

pub fn set_adl_mode(admin: &Pubkey, exchange: &Pubkey, market: &Pubkey, mode: u8) -> Instruction {
    build(
        acc::SetAdlMode {
            admin: *admin,
            exchange: *exchange,
            market: *market,
        },
        ix::SetAdlMode { mode },
    )
}

fn event_crank(exchange: &Pubkey, m: &MarketAccounts) -> acc::AdlEventCrank {
    acc::AdlEventCrank {
        exchange: *exchange,
        market: m.market,
        book: m.book,
        long_queue: m.long_queue,
        short_queue: m.short_queue,
    }
}

pub fn apply_pro_rata(
    exchange: &Pubkey,
    m: &MarketAccounts,
    event_index: u8,
    event_id: u64,
    slots: Vec<u32>,
) -> Instruction {
    build(
        event_crank(exchange, m),
        ix::ApplyProRata {
            event_index,
            event_id,
            slots,
        },
    )
}

pub fn adl_switch_to_pro_rata(
    exchange: &Pubkey,
    m: &MarketAccounts,
    event_index: u8,
    event_id: u64,
) -> Instruction {
    build(
        event_crank(exchange, m),
        ix::AdlSwitchToProRata {
            event_index,
            event_id,
        },
    )
}

/// Starts a leverage drain of event `event_index` (the program finds its region and level).
pub fn adl_drain_begin(
    exchange: &Pubkey,
    m: &MarketAccounts,
    event_index: u8,
    event_id: u64,
) -> Instruction {
    build(
        event_crank(exchange, m),
        ix::AdlDrainBegin {
            event_index,
            event_id,
        },
    )
}

/// One transaction of a leverage drain in progress (measuring or applying).
pub fn adl_drain_step(
    exchange: &Pubkey,
    m: &MarketAccounts,
    event_index: u8,
    event_id: u64,
) -> Instruction {
    build(
        event_crank(exchange, m),
        ix::AdlDrainStep {
            event_index,
            event_id,
        },
    )
}

//! A ready exchange on the in-process bank: collateral mint, exchange, oracle, markets and
//! funded users. The demo and the integration tests build on it.

use adl_engine::state::*;
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use anchor_spl::token::spl_token;
use solana_instruction_error::InstructionError;
use solana_keypair::Keypair;
use solana_program_pack::Pack;
use solana_program_test::BanksClientError;
use solana_signer::Signer;

use adl_client::accounts::{
    read_borsh, read_oracle, read_zero_copy, BookSnapshot, MarketSnapshot, QueueSnapshot,
};
pub use adl_client::chain::code;

use crate::bank::Bank;
use adl_client::invariants::{self, ExchangeSnapshot};
use adl_client::ix::{self, MarketAccounts, MarketParamsArgs, TradeArgs};

/// One whole collateral unit (USDC-like, 6 decimals).
pub const USDC: u64 = 1_000_000;
/// One whole base unit.
pub const BASE: i64 = 1_000_000_000;
/// Price of one whole base unit in quote atoms for `dollars`.
pub const fn price(dollars: u64) -> u64 {
    dollars * 1_000_000
}

/// Unstake cooldown of the fixture's insurance fund, slots.
pub const UNSTAKE_COOLDOWN_SLOTS: u64 = 100;

/// Unstake window of the fixture's insurance fund (after the cooldown), slots.
pub const UNSTAKE_WINDOW_SLOTS: u64 = 200;

/// Slots over which the fixture's insurance fund's earnings vest into share value.
pub const FEE_VEST_SLOTS: u64 = 100;

/// Parameters used by the demo and most tests: 10x initial, 20x maintenance.
pub fn default_params() -> MarketParamsArgs {
    adl_client::bootstrap::default_params()
}

pub struct User {
    pub kp: Keypair,
    pub token: Pubkey,
}

impl User {
    pub fn key(&self) -> Pubkey {
        self.kp.pubkey()
    }
}

pub struct Fixture {
    pub bank: Bank,
    pub admin: Keypair,
    pub mint: Pubkey,
    pub mint_authority: Keypair,
    pub exchange: Pubkey,
    pub oracle_authority: Keypair,
    pub oracles: Vec<Pubkey>,
    pub markets: Vec<MarketAccounts>,
    pub users: Vec<User>,
}

/// The program's custom error code in a failed transaction, if any.
pub fn custom_error(err: &BanksClientError) -> Option<u32> {
    use solana_transaction_error::TransactionError;
    let tx_err = match err {
        BanksClientError::TransactionError(e) => e,
        BanksClientError::SimulationError { err, .. } => err,
        _ => return None,
    };
    match tx_err {
        TransactionError::InstructionError(_, InstructionError::Custom(c)) => Some(*c),
        _ => None,
    }
}

impl Fixture {
    /// Bank, mint, exchange and one oracle at `oracle_price`; no market yet.
    pub async fn new(oracle_price: u64) -> Fixture {
        let mut bank = Bank::start().await;
        let admin = bank.payer().insecure_clone();
        let mint_kp = Keypair::new();
        let mint_authority = Keypair::new();
        let rent = bank.rent_exempt(spl_token::state::Mint::LEN).await;
        bank.send(
            &[
                ix::token::create_token_account(
                    &admin.pubkey(),
                    &mint_kp.pubkey(),
                    rent,
                    spl_token::state::Mint::LEN,
                ),
                ix::token::initialize_mint(&mint_kp.pubkey(), &mint_authority.pubkey(), 6),
                ix::init_exchange(&admin.pubkey(), &mint_kp.pubkey()),
            ],
            &[&mint_kp],
        )
        .await
        .unwrap_or_else(|e| panic!("exchange setup failed: {e}"));
        let exchange = ix::exchange_pda(&admin.pubkey());
        let mut f = Fixture {
            bank,
            admin,
            mint: mint_kp.pubkey(),
            mint_authority,
            exchange,
            oracle_authority: Keypair::new(),
            oracles: vec![],
            markets: vec![],
            users: vec![],
        };
        f.add_oracle(oracle_price).await;
        let ix = ix::init_insurance_fund(
            &f.admin.pubkey(),
            &f.exchange,
            UNSTAKE_COOLDOWN_SLOTS,
            UNSTAKE_WINDOW_SLOTS,
            FEE_VEST_SLOTS,
        );
        f.bank
            .send(&[ix], &[])
            .await
            .unwrap_or_else(|e| panic!("insurance fund setup failed: {e}"));
        f
    }

    pub fn admin_key(&self) -> Pubkey {
        self.admin.pubkey()
    }

    pub fn fund_key(&self) -> Pubkey {
        ix::insurance_fund_pda(&self.exchange)
    }

    pub async fn fund(&mut self) -> InsuranceFund {
        let key = self.fund_key();
        let data = self.bank.data(&key).await;
        read_zero_copy(&data).unwrap_or_else(|| panic!("insurance fund missing"))
    }

    pub async fn stake_account(&mut self, user: usize) -> Option<InsuranceStake> {
        let key = ix::stake_pda(&self.fund_key(), &self.users[user].key());
        let data = self.bank.data(&key).await;
        read_borsh(&data)
    }

    /// `user` creates its stake account (first time) and stakes `amount` from its wallet.
    pub async fn stake(&mut self, user: usize, amount: u64) -> Result<(), BanksClientError> {
        let mut ixs = vec![];
        if self.stake_account(user).await.is_none() {
            ixs.push(ix::if_create_stake(&self.users[user].key(), &self.exchange));
        }
        ixs.push(ix::if_stake(
            &self.users[user].key(),
            &self.exchange,
            &self.users[user].token,
            amount,
        ));
        self.send_as(&ixs, &[user]).await
    }

    /// The slot of `user`'s position in `market`.
    pub async fn slot_of(&mut self, market: usize, user: usize) -> Option<u32> {
        let key = self.markets[market].market;
        self.user_account(user).await.position_slot(&key)
    }

    pub async fn add_oracle(&mut self, oracle_price: u64) -> Pubkey {
        let index = self.oracles.len() as u16;
        let ix = ix::init_oracle(
            &self.admin.pubkey(),
            &self.exchange,
            index,
            &self.oracle_authority.pubkey(),
            oracle_price,
            0,
        );
        self.bank
            .send(&[ix], &[])
            .await
            .unwrap_or_else(|e| panic!("init_oracle failed: {e}"));
        let key = ix::oracle_pda(&self.exchange, index);
        self.oracles.push(key);
        key
    }

    /// The instructions that create a market whose book holds `capacity` positions and
    /// whose queues hold `queue_capacity` each, with fresh keypairs for the large accounts.
    pub async fn market_instructions(
        &mut self,
        oracle: Pubkey,
        capacity: usize,
        queue_capacity: usize,
        params: MarketParamsArgs,
    ) -> (Vec<Instruction>, [Keypair; 3], MarketAccounts) {
        let admin = self.admin.pubkey();
        let market = ix::market_pda(&self.exchange, self.markets.len() as u16);
        let book_len = PositionBook::space(capacity);
        let q_len = AdlQueue::space(queue_capacity);
        let book_rent = self.bank.rent_exempt(book_len).await;
        let q_rent = self.bank.rent_exempt(q_len).await;
        let (ixs, kps, m) = ix::new_market(
            &admin,
            &self.exchange,
            market,
            oracle,
            (book_len, book_rent),
            (q_len, q_rent),
            params,
        );
        (ixs, kps, m)
    }

    pub async fn try_add_market(
        &mut self,
        capacity: usize,
        params: MarketParamsArgs,
    ) -> Result<MarketAccounts, BanksClientError> {
        let oracle = self.oracles[0];
        let (ixs, kps, m) = self
            .market_instructions(oracle, capacity, capacity, params)
            .await;
        self.bank.send(&ixs, &[&kps[0], &kps[1], &kps[2]]).await?;
        self.markets.push(m);
        Ok(m)
    }

    pub async fn add_market(&mut self, capacity: usize) -> MarketAccounts {
        self.try_add_market(capacity, default_params())
            .await
            .unwrap_or_else(|e| panic!("init_market failed: {e}"))
    }

    /// Creates a funded user: SOL for rent, a token account holding `tokens`, a user account
    /// with `deposit` of it deposited. Returns the user's index.
    pub async fn add_user(&mut self, tokens: u64, deposit: u64) -> usize {
        let kp = Keypair::new();
        let token = Keypair::new();
        let payer = self.admin.pubkey();
        let rent = self.bank.rent_exempt(spl_token::state::Account::LEN).await;
        let ixs = ix::new_trader(
            &ix::NewTrader {
                payer,
                owner: kp.pubkey(),
                token: token.pubkey(),
                mint: self.mint,
                mint_authority: self.mint_authority.pubkey(),
                exchange: self.exchange,
            },
            rent,
            tokens,
            deposit,
        );
        let mint_authority = self.mint_authority.insecure_clone();
        self.bank
            .send(&ixs, &[&kp, &token, &mint_authority])
            .await
            .unwrap_or_else(|e| panic!("user setup failed: {e}"));
        self.users.push(User {
            kp,
            token: token.pubkey(),
        });
        self.users.len() - 1
    }

    /// Sends `ixs` signed by the listed users (the payer signs always).
    pub async fn send_as(
        &mut self,
        ixs: &[Instruction],
        users: &[usize],
    ) -> Result<(), BanksClientError> {
        let kps: Vec<Keypair> = users
            .iter()
            .map(|&u| self.users[u].kp.insecure_clone())
            .collect();
        let refs: Vec<&Keypair> = kps.iter().collect();
        self.bank.send(ixs, &refs).await
    }

    /// The `trade` instruction between two fixture users (not sent).
    #[allow(clippy::too_many_arguments)]
    pub fn trade_ix(
        &self,
        market: usize,
        taker: usize,
        maker: usize,
        taker_base: i64,
        price: u64,
        taker_margin: u64,
        maker_margin: u64,
    ) -> Instruction {
        ix::trade(
            &self.exchange,
            &self.markets[market],
            &self.users[taker].key(),
            &self.users[maker].key(),
            TradeArgs {
                taker_base,
                price,
                taker_margin,
                maker_margin,
            },
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn trade(
        &mut self,
        market: usize,
        taker: usize,
        maker: usize,
        taker_base: i64,
        price: u64,
        taker_margin: u64,
        maker_margin: u64,
    ) -> Result<(), BanksClientError> {
        let ix = self.trade_ix(
            market,
            taker,
            maker,
            taker_base,
            price,
            taker_margin,
            maker_margin,
        );
        self.send_as(&[ix], &[taker, maker]).await
    }

    pub async fn set_price(
        &mut self,
        oracle: usize,
        p: u64,
        confidence: u64,
    ) -> Result<(), BanksClientError> {
        let ix = ix::set_oracle_price(
            &self.oracle_authority.pubkey(),
            &self.exchange,
            &self.oracles[oracle],
            p,
            confidence,
        );
        let auth = self.oracle_authority.insecure_clone();
        self.bank.send(&[ix], &[&auth]).await
    }

    /// `liquidator` takes over `base` atoms (all, when bankrupt) of `owner`'s position in
    /// `market`, posting `margin` (signed and sent by the liquidator).
    pub async fn liquidate(
        &mut self,
        market: usize,
        owner: usize,
        liquidator: usize,
        base: u64,
        margin: u64,
    ) -> Result<(), BanksClientError> {
        let slot = self
            .slot_of(market, owner)
            .await
            .ok_or(BanksClientError::ClientError("owner has no position"))?;
        let ix = ix::liquidate(
            &self.exchange,
            &self.markets[market],
            &self.users[owner].key(),
            &self.users[liquidator].key(),
            slot,
            base,
            margin,
        );
        self.send_as(&[ix], &[liquidator]).await
    }

    /// Points market `market` at `oracle` (`set_market_oracle`, signed by the admin) and, on
    /// success, makes the fixture's instructions pass that account.
    pub async fn set_market_oracle(
        &mut self,
        market: usize,
        oracle: Pubkey,
        cfg: ix::OracleConfig,
    ) -> Result<(), BanksClientError> {
        let admin = self.admin.insecure_clone();
        let ix = ix::set_market_oracle(
            &admin.pubkey(),
            &self.exchange,
            &self.markets[market].market,
            &oracle,
            cfg,
        );
        self.bank.send(&[ix], &[&admin]).await?;
        self.markets[market].oracle = oracle;
        Ok(())
    }

    /// Writes a Pyth `PriceUpdateV2` account (serialized by the Pyth SDK's own code, with its
    /// discriminator) at `key`, owned by `owner` (the Pyth receiver for a real one) — what the
    /// receiver program leaves after posting a verified update.
    pub fn put_pyth_update(&mut self, key: &Pubkey, update: &PriceUpdateV2, owner: &Pubkey) {
        let mut data = Vec::with_capacity(PriceUpdateV2::LEN);
        anchor_lang::AccountSerialize::try_serialize(update, &mut data)
            .unwrap_or_else(|e| panic!("serialize PriceUpdateV2: {e}"));
        let account = solana_account::Account {
            lamports: 10_000_000,
            data,
            owner: *owner,
            executable: false,
            rent_epoch: 0,
        };
        self.bank.ctx.set_account(key, &account.into());
    }

    /// The bank's clock: (slot, unix timestamp).
    pub async fn clock(&mut self) -> (u64, i64) {
        let c: anchor_lang::prelude::Clock = self
            .bank
            .ctx
            .banks_client
            .get_sysvar()
            .await
            .unwrap_or_else(|e| panic!("clock: {e}"));
        (c.slot, c.unix_timestamp)
    }

    pub async fn user_account(&mut self, user: usize) -> UserAccount {
        let key = ix::user_pda(&self.exchange, &self.users[user].key());
        let data = self.bank.data(&key).await;
        read_zero_copy(&data).unwrap_or_else(|| panic!("user account {user} missing"))
    }

    pub async fn token_balance(&mut self, account: &Pubkey) -> u64 {
        let data = self.bank.data(account).await;
        spl_token::state::Account::unpack(&data)
            .map(|a| a.amount)
            .unwrap_or(0)
    }

    pub async fn market_snapshot(&mut self, market: usize) -> MarketSnapshot {
        let m = self.markets[market];
        let market_data = self.bank.data(&m.market).await;
        let header: Market =
            read_zero_copy(&market_data).unwrap_or_else(|| panic!("market {market} missing"));
        let oracle_data = self.bank.data(&header.oracle).await;
        let book_data = self.bank.data(&m.book).await;
        let long_data = self.bank.data(&m.long_queue).await;
        let short_data = self.bank.data(&m.short_queue).await;
        let (oracle, oracle_publish_time) =
            read_oracle(&header, &oracle_data).unwrap_or_else(|| panic!("oracle missing"));
        MarketSnapshot {
            key: m.market,
            market: header,
            oracle,
            oracle_publish_time,
            book: BookSnapshot::decode(&book_data).unwrap_or_else(|| panic!("book missing")),
            long_queue: QueueSnapshot::decode(&long_data)
                .unwrap_or_else(|| panic!("long queue missing")),
            short_queue: QueueSnapshot::decode(&short_data)
                .unwrap_or_else(|| panic!("short queue missing")),
        }
    }

    pub async fn snapshot(&mut self) -> ExchangeSnapshot {
        let vault = ix::vault_pda(&self.exchange);
        let vault_balance = self.token_balance(&vault).await;
        let mut users = Vec::with_capacity(self.users.len());
        for u in 0..self.users.len() {
            users.push(self.user_account(u).await);
        }
        let mut markets = Vec::with_capacity(self.markets.len());
        for m in 0..self.markets.len() {
            markets.push(self.market_snapshot(m).await);
        }
        let fund = Some(self.fund().await);
        ExchangeSnapshot {
            vault_balance,
            fund,
            users,
            markets,
        }
    }

    /// Runs every invariant checker on the current state.
    pub async fn check_invariants(&mut self) -> Result<ExchangeSnapshot, String> {
        let s = self.snapshot().await;
        invariants::check_all(&s)?;
        Ok(s)
    }
}

//! An in-process bank with the program registered as a native processor and the real SPL
//! Token program (BPF) that solana-program-test ships.

use anchor_lang::prelude::{AccountInfo, Pubkey};
use anchor_lang::solana_program::entrypoint::ProgramResult;
use anchor_lang::solana_program::instruction::Instruction;
use solana_account::Account;
use solana_keypair::Keypair;
use solana_program_test::{processor, BanksClientError, ProgramTest, ProgramTestContext};
use solana_signer::Signer;
use solana_transaction::Transaction;

/// Anchor's `entry` ties every input to one lifetime; the native processor hands them with
/// independent ones. The data lives for the whole call, so widening is sound.
pub fn process_instruction<'a, 'b, 'c, 'd>(
    program_id: &'a Pubkey,
    accounts: &'b [AccountInfo<'c>],
    data: &'d [u8],
) -> ProgramResult {
    // SAFETY: all three borrows outlive this call; only the lifetime parameter changes.
    let accounts =
        unsafe { core::mem::transmute::<&'b [AccountInfo<'c>], &'c [AccountInfo<'c>]>(accounts) };
    let program_id = unsafe { core::mem::transmute::<&'a Pubkey, &'c Pubkey>(program_id) };
    let data = unsafe { core::mem::transmute::<&'d [u8], &'c [u8]>(data) };
    adl_engine::entry(program_id, accounts, data)
}

/// Path of a real SBF build of the program to test instead of the native processor.
pub const SBF_ENV: &str = "ADL_ENGINE_SO";

/// A `ProgramTest` with adl-engine registered natively — or, when `ADL_ENGINE_SO` names an
/// SBF binary (`anchor build` / `cargo build-sbf` output), that binary loaded by the BPF
/// loader, so the same tests run the program as deployed and meter real compute units.
pub fn program_test() -> ProgramTest {
    let mut pt = match std::env::var(SBF_ENV) {
        Ok(path) if !path.is_empty() => {
            let elf = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{SBF_ENV}={path}: cannot read the SBF binary: {e}"));
            let mut pt = ProgramTest::default();
            pt.prefer_bpf(true);
            let loader: Pubkey = "BPFLoader2111111111111111111111111111111111"
                .parse()
                .unwrap_or_default();
            pt.add_account(
                adl_engine::ID,
                Account {
                    lamports: 1_000_000_000_000,
                    data: elf,
                    owner: loader,
                    executable: true,
                    rent_epoch: 0,
                },
            );
            pt
        }
        _ => {
            let mut pt = ProgramTest::new(
                "adl_engine",
                adl_engine::ID,
                processor!(process_instruction),
            );
            pt.prefer_bpf(false);
            pt
        }
    };
    pt.set_compute_max_units(1_400_000);
    pt
}

/// Whether the tests run a real SBF binary (`ADL_ENGINE_SO`).
pub fn sbf() -> bool {
    std::env::var(SBF_ENV).is_ok_and(|p| !p.is_empty())
}

/// A running in-process bank.
pub struct Bank {
    pub ctx: ProgramTestContext,
    nonce: u64,
    /// Compute units of the last transaction (SBF runs only, `ADL_ENGINE_SO`).
    pub last_compute_units: Option<u64>,
}

impl Bank {
    pub async fn start() -> Self {
        Self::start_with(program_test()).await
    }

    pub async fn start_with(pt: ProgramTest) -> Self {
        let ctx = pt.start_with_context().await;
        Bank {
            ctx,
            nonce: 0,
            last_compute_units: None,
        }
    }

    pub fn payer(&self) -> &Keypair {
        &self.ctx.payer
    }

    pub fn payer_key(&self) -> Pubkey {
        self.ctx.payer.pubkey()
    }

    /// Sends one transaction paid by the bank's payer, signed with the latest blockhash. A
    /// compute-unit-price instruction with a running counter makes every transaction unique,
    /// so identical instructions can be sent twice within one blockhash (a loaded-accounts
    /// limit instead when the instructions set their own price).
    pub async fn send(
        &mut self,
        ixs: &[Instruction],
        signers: &[&Keypair],
    ) -> Result<(), BanksClientError> {
        self.nonce += 1;
        let mut all = Vec::with_capacity(ixs.len() + 1);
        use solana_compute_budget_interface::ComputeBudgetInstruction as Budget;
        let budget_id = Budget::set_compute_unit_price(0).program_id;
        if ixs.iter().any(|ix| ix.program_id == budget_id) {
            // The sender sets its own compute-unit price (the keeper does): make the
            // transaction unique with the loaded-accounts limit instead (64 MiB less the
            // counter, far above what any test loads).
            all.push(Budget::set_loaded_accounts_data_size_limit(
                64 * 1024 * 1024 - (self.nonce % 1_000_000) as u32,
            ));
        } else {
            all.push(Budget::set_compute_unit_price(self.nonce));
        }
        all.extend_from_slice(ixs);
        let payer = self.ctx.payer.insecure_clone();
        let mut keys: Vec<&Keypair> = vec![&payer];
        // Only the keys the instructions ask to sign (an extra signer is a signing error).
        let wanted: Vec<Pubkey> = ixs
            .iter()
            .flat_map(|ix| ix.accounts.iter().filter(|m| m.is_signer).map(|m| m.pubkey))
            .collect();
        for s in signers {
            let k = s.pubkey();
            if k != payer.pubkey() && wanted.contains(&k) && !keys.iter().any(|x| x.pubkey() == k) {
                keys.push(s);
            }
        }
        // The bank registers a new blockhash every few milliseconds and old ones expire:
        // always sign with a fresh one.
        if let Ok(h) = self.ctx.banks_client.get_latest_blockhash().await {
            self.ctx.last_blockhash = h;
        }
        let blockhash = self.ctx.last_blockhash;
        let tx = Transaction::new_signed_with_payer(&all, Some(&payer.pubkey()), &keys, blockhash);
        if !sbf() {
            return self.ctx.banks_client.process_transaction(tx).await;
        }
        // SBF: report the compute units each transaction consumed (natively nothing is
        // metered, so there is nothing to report).
        let r = self
            .ctx
            .banks_client
            .process_transaction_with_metadata(tx)
            .await?;
        let units = r.metadata.map(|m| m.compute_units_consumed);
        self.last_compute_units = units;
        eprintln!("compute units: {units:?} ({} instructions)", ixs.len());
        r.result.map_err(BanksClientError::TransactionError)
    }

    pub async fn account(&mut self, key: &Pubkey) -> Option<Account> {
        self.ctx.banks_client.get_account(*key).await.ok().flatten()
    }

    pub async fn data(&mut self, key: &Pubkey) -> Vec<u8> {
        self.account(key).await.map(|a| a.data).unwrap_or_default()
    }

    pub async fn slot(&mut self) -> u64 {
        self.ctx.banks_client.get_root_slot().await.unwrap_or(0)
    }

    /// Advances the bank by `slots` slots.
    pub async fn warp(&mut self, slots: u64) {
        let now = self.slot().await;
        // warp_to_slot only fails for a slot in the past.
        let _ = self.ctx.warp_to_slot(now + slots.max(1));
        if let Ok(h) = self.ctx.banks_client.get_latest_blockhash().await {
            self.ctx.last_blockhash = h;
        }
    }

    pub async fn rent_exempt(&mut self, len: usize) -> u64 {
        let rent = self.ctx.banks_client.get_rent().await.unwrap_or_default();
        rent.minimum_balance(len)
    }
}

//! `BankChain`: the keeper's `Chain` over the in-process bank of a `Fixture`.

use adl_client::chain::{Chain, ChainError};
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use solana_account::Account;
use solana_keypair::Keypair;
use solana_signer::Signer;
use tokio::sync::Mutex;

use crate::fixture::Fixture;

/// The in-process bank of a `Fixture` (BanksClient), for the demo and the tests: the
/// keeper signs as `keeper`, the bank's payer pays fees. The fixture stays usable by the
/// test through `fixture()` between keeper calls.
pub struct BankChain<'a> {
    fixture: Mutex<&'a mut Fixture>,
    keeper: Keypair,
}

impl<'a> BankChain<'a> {
    pub fn new(fixture: &'a mut Fixture, keeper: Keypair) -> Self {
        BankChain {
            fixture: Mutex::new(fixture),
            keeper,
        }
    }

    /// The fixture, for the test's own steps.
    pub async fn fixture(&self) -> tokio::sync::MutexGuard<'_, &'a mut Fixture> {
        self.fixture.lock().await
    }
}

impl Chain for BankChain<'_> {
    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        let mut f = self.fixture.lock().await;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(f.bank.account(k).await);
        }
        Ok(out)
    }

    async fn send_with(&self, ixs: &[Instruction], extra: &[&Keypair]) -> Result<(), ChainError> {
        let mut f = self.fixture.lock().await;
        let mut signers: Vec<&Keypair> = vec![&self.keeper];
        signers.extend_from_slice(extra);
        f.bank
            .send(ixs, &signers)
            .await
            .map_err(|e| ChainError::Rejected {
                code: crate::fixture::custom_error(&e),
                message: e.to_string(),
            })
    }

    fn keeper(&self) -> Pubkey {
        self.keeper.pubkey()
    }

    async fn slot(&self) -> Result<u64, ChainError> {
        Ok(self.fixture.lock().await.bank.slot().await)
    }

    async fn rent_exempt(&self, len: usize) -> Result<u64, ChainError> {
        Ok(self.fixture.lock().await.bank.rent_exempt(len).await)
    }
}

//! One chain-access trait for the keeper, with two implementations: `RpcChain` (the async
//! Solana RPC client, for real clusters, here) and `BankChain` (the in-process bank, for the
//! demo and the tests, in `adl-harness`). Everything above this module is the same code for
//! both.

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use solana_account::Account;
use solana_keypair::Keypair;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;
use solana_transaction::Transaction;

/// The blockhash type transactions are built on.
pub use solana_transaction::Hash as Blockhash;

/// A chain error, with whether the program rejected the transaction (and its custom code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// The program (or runtime) rejected the transaction; `code` is the custom error code.
    Rejected { code: Option<u32>, message: String },
    /// Transport or node trouble: worth retrying with backoff.
    Transport(String),
    /// The transaction's blockhash expired before it was confirmed: it did not land and can
    /// no longer land, so the caller re-plans from fresh state.
    Expired(String),
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainError::Rejected { code, message } => write!(f, "rejected ({code:?}): {message}"),
            ChainError::Transport(m) => write!(f, "transport: {m}"),
            ChainError::Expired(m) => write!(f, "expired: {m}"),
        }
    }
}

impl std::error::Error for ChainError {}

/// What the keeper needs from a chain.
#[allow(async_fn_in_trait)]
pub trait Chain {
    /// Accounts by key, in order (`None`: no such account). Implementations batch.
    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError>;
    /// Sends one transaction signed by the keeper (fee payer).
    async fn send(&self, ixs: &[Instruction]) -> Result<(), ChainError> {
        self.send_with(ixs, &[]).await
    }
    /// Sends one transaction signed by the keeper and `extra` signers (new accounts).
    async fn send_with(&self, ixs: &[Instruction], extra: &[&Keypair]) -> Result<(), ChainError>;
    /// Lamports that make an account of `len` bytes rent-exempt.
    async fn rent_exempt(&self, len: usize) -> Result<u64, ChainError>;
    /// The keeper's key (fee payer, liquidator).
    fn keeper(&self) -> Pubkey;
    /// Current slot.
    async fn slot(&self) -> Result<u64, ChainError>;
    /// Compute units a transaction of `ixs` would consume, by simulation (`None`: the chain
    /// cannot say, or the simulation failed — the send will report why).
    async fn simulate_units(&self, _ixs: &[Instruction]) -> Result<Option<u64>, ChainError> {
        Ok(None)
    }
    /// Recent prioritization fees (micro-lamports per compute unit) paid by transactions
    /// that wrote `writable` (empty: no data).
    async fn recent_fees(&self, _writable: &[Pubkey]) -> Result<Vec<u64>, ChainError> {
        Ok(Vec::new())
    }
}

/// A Solana cluster over JSON-RPC.
pub struct RpcChain {
    pub client: RpcClient,
    pub payer: Keypair,
}

/// Largest `getMultipleAccounts` request.
const RPC_BATCH: usize = 100;

fn custom_code_from_text(text: &str) -> Option<u32> {
    // "custom program error: 0x1784"
    let i = text.find("custom program error: 0x")?;
    let hex: String = text[i + 24..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    u32::from_str_radix(&hex, 16).ok()
}

/// What a failed `send_and_confirm_transaction` means, from the RPC client's message: a
/// program error with its custom code; another rejection (runtime, preflight); an expired
/// blockhash — unknown to the node at preflight, or passed while the client waited for the
/// confirmation ("unable to confirm transaction"); else transport trouble.
pub fn classify_send_error(text: String) -> ChainError {
    if let Some(code) = custom_code_from_text(&text) {
        return ChainError::Rejected {
            code: Some(code),
            message: text,
        };
    }
    if text.contains("Blockhash not found")
        || text.contains("BlockhashNotFound")
        || text.contains("unable to confirm transaction")
        || text.contains("block height exceeded")
    {
        return ChainError::Expired(text);
    }
    if text.contains("Transaction simulation failed")
        || text.contains("Error processing Instruction")
    {
        return ChainError::Rejected {
            code: None,
            message: text,
        };
    }
    ChainError::Transport(text)
}

impl RpcChain {
    pub fn new(url: &str, payer: Keypair) -> Self {
        let client = RpcClient::new_with_commitment(
            url.to_string(),
            solana_commitment_config::CommitmentConfig::confirmed(),
        );
        RpcChain { client, payer }
    }
}

impl RpcChain {
    /// Sends and confirms one transaction built on `blockhash` (`send_with` uses the latest).
    pub async fn send_with_blockhash(
        &self,
        ixs: &[Instruction],
        extra: &[&Keypair],
        blockhash: Blockhash,
    ) -> Result<(), ChainError> {
        let mut signers: Vec<&Keypair> = vec![&self.payer];
        signers.extend_from_slice(extra);
        let tx = Transaction::new_signed_with_payer(
            ixs,
            Some(&self.payer.pubkey()),
            &signers,
            blockhash,
        );
        match self.client.send_and_confirm_transaction(&tx).await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify_send_error(e.to_string())),
        }
    }
}

impl Chain for RpcChain {
    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(RPC_BATCH) {
            let got = self
                .client
                .get_multiple_accounts(chunk)
                .await
                .map_err(|e| ChainError::Transport(e.to_string()))?;
            out.extend(got);
        }
        Ok(out)
    }

    async fn send_with(&self, ixs: &[Instruction], extra: &[&Keypair]) -> Result<(), ChainError> {
        let blockhash = self
            .client
            .get_latest_blockhash()
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))?;
        self.send_with_blockhash(ixs, extra, blockhash).await
    }

    async fn rent_exempt(&self, len: usize) -> Result<u64, ChainError> {
        self.client
            .get_minimum_balance_for_rent_exemption(len)
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))
    }

    fn keeper(&self) -> Pubkey {
        self.payer.pubkey()
    }

    async fn simulate_units(&self, ixs: &[Instruction]) -> Result<Option<u64>, ChainError> {
        let blockhash = self
            .client
            .get_latest_blockhash()
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))?;
        let tx = Transaction::new_signed_with_payer(
            ixs,
            Some(&self.payer.pubkey()),
            &[&self.payer],
            blockhash,
        );
        let r = self
            .client
            .simulate_transaction(&tx)
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))?;
        Ok(match r.value.err {
            Some(_) => None,
            None => r.value.units_consumed,
        })
    }

    async fn recent_fees(&self, writable: &[Pubkey]) -> Result<Vec<u64>, ChainError> {
        let fees = self
            .client
            .get_recent_prioritization_fees(writable)
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))?;
        Ok(fees.into_iter().map(|f| f.prioritization_fee).collect())
    }

    async fn slot(&self) -> Result<u64, ChainError> {
        self.client
            .get_slot()
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))
    }
}

/// The custom error code a program error has on chain (Anchor's offset added).
pub fn code(e: adl_engine::error::AdlError) -> u32 {
    e as u32 + anchor_lang::error::ERROR_CODE_OFFSET
}

//! Transaction-size limits of the keeper's batches, measured by serializing real signed
//! transactions (1,232 bytes is Solana's packet limit), and account sizes and rent per
//! market capacity. The numbers are printed for docs/BENCHMARKS.md.

use adl_client::ix;
use adl_engine::state::*;
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;
use solana_keypair::Keypair;
use solana_signer::Signer;
use solana_transaction::Transaction;

const PACKET: usize = 1_232;

fn size(ixs: &[Instruction], payer: &Keypair) -> usize {
    let tx = Transaction::new_signed_with_payer(
        ixs,
        Some(&payer.pubkey()),
        &[payer],
        solana_hash::Hash::default(),
    );
    bincode::serialize(&tx).unwrap().len()
}

/// Largest `k` for which `build(k)` (with a compute-budget instruction, as the keeper sends)
/// fits one packet.
fn max_fitting(payer: &Keypair, build: impl Fn(usize) -> Instruction) -> usize {
    let budget = solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_limit(
        1_400_000,
    );
    let mut k = 0;
    while size(&[budget.clone(), build(k + 1)], payer) <= PACKET {
        k += 1;
    }
    k
}

#[test]
fn batch_sizes_fit_a_packet() {
    let payer = Keypair::new();
    let m = ix::MarketAccounts {
        market: Pubkey::new_unique(),
        oracle: Pubkey::new_unique(),
        book: Pubkey::new_unique(),
        long_queue: Pubkey::new_unique(),
        short_queue: Pubkey::new_unique(),
    };
    let ex = Pubkey::new_unique();
    let ranked = max_fitting(&payer, |k| {
        ix::auto_deleverage(&ex, &m, 0, 7, (0..k as u32).collect())
    });
    let pro_rata = max_fitting(&payer, |k| {
        ix::apply_pro_rata(&ex, &m, 0, 7, (0..k as u32).collect())
    });
    println!("slots per transaction: auto_deleverage {ranked}, apply_pro_rata {pro_rata}");
    // Each listed slot is 4 bytes; the keeper's default batch (24) fits with a wide margin.
    assert!(ranked >= 200 && pro_rata >= 200);
    // A drain lists no slots at all (the program walks the queue), whatever the book.
    let step = ix::adl_drain_step(&ex, &m, 0, 7);
    let begin = ix::adl_drain_begin(&ex, &m, 0, 7);
    assert!(size(&[step], &payer) < 400 && size(&[begin], &payer) < 400);
    assert!(ranked >= adl_keeper::keeper::KeeperConfig::new(ex).max_fills_per_tx);
    // One more slot than the maximum does not fit.
    let budget = solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_limit(
        1_400_000,
    );
    assert!(
        size(
            &[
                budget,
                ix::auto_deleverage(&ex, &m, 0, 7, (0..=ranked as u32).collect())
            ],
            &payer
        ) > PACKET
    );
}

#[test]
fn account_sizes_and_rent_per_capacity() {
    // Rent-exempt minimum: (128 + len) × 3,480 lamports/byte-year × 2 years.
    let rent = |len: usize| (128 + len as u64) * 3_480 * 2;
    println!("capacity | book bytes | queue bytes (each) | total bytes | rent-exempt SOL");
    for cap in [100usize, 1_000, 10_000, 60_000, 100_000] {
        let (b, q) = (PositionBook::space(cap), AdlQueue::space(cap));
        let total = b + 2 * q;
        println!(
            "{cap} | {b} | {q} | {total} | {:.3}",
            (rent(b) + 2 * rent(q)) as f64 / 1e9
        );
        assert!(b <= MAX_ACCOUNT_LEN && q <= MAX_ACCOUNT_LEN);
    }
    // Per position: one 104-byte slot and two 16-byte entries in each array of its side's
    // queue (queues are sized for the whole book on each side): 104 + 2·2·16 = 168 bytes.
    assert_eq!(POSITION_SLOT_LEN + 2 * 2 * QUEUE_ENTRY_LEN, 168);
}

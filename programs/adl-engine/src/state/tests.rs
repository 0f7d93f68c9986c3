//! Book and queue views on plain byte buffers: the defensive errors no transaction can
//! reach, and a property test of the sorted arrays against a model.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::error::AdlError;
use anchor_lang::prelude::*;
use std::collections::BTreeSet;

/// An 8-aligned buffer holding a queue of `cap` entries per array.
fn queue_buffer(cap: usize) -> Vec<u64> {
    let mut words = vec![0u64; AdlQueue::space(cap).div_ceil(8)];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    let h: &mut AdlQueue =
        bytemuck::from_bytes_mut(&mut bytes[DISCRIMINATOR_LEN..QUEUE_ARRAYS_OFFSET]);
    h.capacity = cap as u32;
    words
}

fn err_of<T>(r: Result<T>) -> Option<u32> {
    match r {
        Err(anchor_lang::error::Error::AnchorError(e)) => Some(e.error_code_number),
        _ => None,
    }
}

fn code(e: AdlError) -> Option<u32> {
    Some(e as u32 + anchor_lang::error::ERROR_CODE_OFFSET)
}

#[test]
fn corrupt_account_on_short_or_misaligned_data() {
    let mut words = queue_buffer(4);
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    assert_eq!(
        err_of(queue_mut(&mut bytes[..20])),
        code(AdlError::CorruptAccount)
    );
    // Shifted by one byte: the header is no longer 8-aligned.
    let len = bytes.len();
    assert_eq!(
        err_of(queue_mut(&mut bytes[1..len])),
        code(AdlError::CorruptAccount)
    );
    let mut book = vec![0u64; PositionBook::space(2).div_ceil(8)];
    let b: &mut [u8] = bytemuck::cast_slice_mut(&mut book);
    assert_eq!(
        err_of(book_mut(&mut b[..50])),
        code(AdlError::CorruptAccount)
    );
    // A header that claims more slots than the data holds.
    let h: &mut PositionBook =
        bytemuck::from_bytes_mut(&mut b[DISCRIMINATOR_LEN..BOOK_SLOTS_OFFSET]);
    h.capacity = 3;
    assert_eq!(err_of(book_mut(b)), code(AdlError::CorruptAccount));
}

#[test]
fn queue_full_and_queue_corrupt() {
    let mut words = queue_buffer(2);
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    let mut q = queue_mut(bytes).unwrap();
    let e = |k: i64, o: u64| QueueEntry { key: k, order: o };
    let z = crate::math::KeyFrac::default();
    let ord = ExactOrder::by_key_and_age(true);
    q.insert((e(1, 1), z), e(1, 1), &ord).unwrap();
    q.insert((e(2, 2), z), e(2, 2), &ord).unwrap();
    assert_eq!(
        err_of(q.insert((e(3, 3), z), e(3, 3), &ord)),
        code(AdlError::QueueFull)
    );
    assert_eq!(
        err_of(q.remove((e(9, 9), z), e(9, 9), &ord)),
        code(AdlError::QueueCorrupt)
    );
    assert_eq!(
        err_of(q.reposition(((e(9, 9), z), e(9, 9)), ((e(1, 9), z), e(1, 9)), &ord)),
        code(AdlError::QueueCorrupt)
    );
}

#[test]
fn book_allocates_then_reuses_freed_slots() {
    let mut words = vec![0u64; PositionBook::space(3).div_ceil(8)];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    {
        let h: &mut PositionBook =
            bytemuck::from_bytes_mut(&mut bytes[DISCRIMINATOR_LEN..BOOK_SLOTS_OFFSET]);
        h.capacity = 3;
        h.free_head = NIL;
    }
    let mut b = book_mut(bytes).unwrap();
    let owner = Pubkey::new_unique();
    assert_eq!(b.allocate(owner, 0, 1).unwrap(), 0);
    assert_eq!(b.allocate(owner, 1, 1).unwrap(), 1);
    assert_eq!(b.allocate(owner, 2, 1).unwrap(), 2);
    assert_eq!(err_of(b.allocate(owner, 3, 1)), code(AdlError::BookFull));
    b.release(1).unwrap();
    b.release(0).unwrap();
    assert_eq!(err_of(b.release(0)), code(AdlError::SlotNotOpen));
    assert_eq!(b.allocate(owner, 4, 1).unwrap(), 0);
    assert_eq!(b.allocate(owner, 5, 1).unwrap(), 1);
    assert_eq!(b.header.num_open, 3);
    assert_eq!(b.slot(1).unwrap().open_seq, 5);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(i64),
        Remove(usize),
        Move(usize, i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (-20i64..20).prop_map(Op::Insert),
            any::<usize>().prop_map(Op::Remove),
            (any::<usize>(), -20i64..20).prop_map(|(i, k)| Op::Move(i, k)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// Insert, remove and reposition keep both arrays equal to a sorted model set
        /// (keys collide often, so the order tie-break is exercised).
        #[test]
        fn sorted_arrays_match_model(ops in prop::collection::vec(op(), 1..80)) {
            let cap = 64;
            let mut words = queue_buffer(cap);
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
            let mut q = queue_mut(bytes).unwrap();
            let mut model: BTreeSet<QueueEntry> = BTreeSet::new();
            let mut next = 0u64;
            let z = crate::math::KeyFrac::default();
            let ord = ExactOrder::by_key_and_age(false);
            for op in ops {
                match op {
                    Op::Insert(k) => {
                        let e = QueueEntry { key: k, order: next };
                        next += 1;
                        let r = q.insert((e, z), e, &ord);
                        if model.len() < cap {
                            prop_assert!(r.is_ok());
                            model.insert(e);
                        } else {
                            prop_assert!(r.is_err());
                        }
                    }
                    Op::Remove(i) if !model.is_empty() => {
                        let e = *model.iter().nth(i % model.len()).unwrap();
                        q.remove((e, z), e, &ord).unwrap();
                        model.remove(&e);
                    }
                    Op::Move(i, k) if !model.is_empty() => {
                        let old = *model.iter().nth(i % model.len()).unwrap();
                        let new = QueueEntry { key: k, order: old.order };
                        q.reposition(((old, z), old), ((new, z), new), &ord).unwrap();
                        model.remove(&old);
                        model.insert(new);
                    }
                    _ => {}
                }
                let want: Vec<QueueEntry> = model.iter().copied().collect();
                prop_assert_eq!(&q.by_leverage[..q.len()], &want[..]);
                prop_assert_eq!(&q.by_entry[..q.len()], &want[..]);
            }
        }
    }
}

/// The documented ABI offsets (account data, discriminator at 0) that keepers and
/// frontends filter and decode on.
#[test]
fn documented_offsets() {
    use core::mem::offset_of;
    let d = DISCRIMINATOR_LEN;
    assert_eq!(d + offset_of!(Market, exchange), 8);
    assert_eq!(d + offset_of!(Market, oracle), 40);
    assert_eq!(d + offset_of!(Market, book), 72);
    assert_eq!(d + offset_of!(Market, long_queue), 104);
    assert_eq!(d + offset_of!(Market, short_queue), 136);
    assert_eq!(d + offset_of!(Market, params), 168);
    assert_eq!(d + offset_of!(Market, open_interest_long), 264);
    assert_eq!(d + offset_of!(Market, open_interest_short), 272);
    assert_eq!(d + offset_of!(Market, cumulative_funding), 280);
    assert_eq!(d + offset_of!(Market, funding_pool), 288);
    assert_eq!(d + offset_of!(Market, fee_pool), 296);
    assert_eq!(d + offset_of!(Market, rounding_sink), 304);
    assert_eq!(d + offset_of!(Market, next_position_seq), 312);
    assert_eq!(d + offset_of!(Market, last_funding_slot), 320);
    assert_eq!(d + offset_of!(Market, num_positions), 328);
    assert_eq!(d + offset_of!(Market, market_index), 332);
    assert_eq!(d + offset_of!(Market, bump), 334);
    assert_eq!(d + offset_of!(Market, adl_mode), 335);
    assert_eq!(d + offset_of!(Market, oracle_kind), 336);
    assert_eq!(d + offset_of!(Market, next_event_id), 344);
    assert_eq!(d + offset_of!(Market, adl_events), 352);
    assert_eq!(offset_of!(AdlEvent, owner), 0);
    assert_eq!(offset_of!(AdlEvent, id), 32);
    assert_eq!(offset_of!(AdlEvent, base_remaining), 48);
    assert_eq!(offset_of!(AdlEvent, exec_price), 56);
    assert_eq!(offset_of!(AdlEvent, escrow_cash), 104);
    assert_eq!(offset_of!(AdlEvent, side), 112);
    assert_eq!(offset_of!(AdlEvent, status), 113);
    assert_eq!(offset_of!(AdlEvent, mode), 114);
    assert_eq!(offset_of!(AdlEvent, fills), 116);
    assert_eq!(offset_of!(AdlEvent, start_pos_seq), 120);
    assert_eq!(offset_of!(AdlEvent, start_touch_seq), 128);
    assert_eq!(offset_of!(AdlEvent, pro_rata_base), 136);
    assert_eq!(offset_of!(AdlEvent, pro_rata_oi), 144);
    assert_eq!(offset_of!(AdlEvent, pending), 152);
    assert_eq!(offset_of!(AdlEvent, walk_flags), 115);
    assert_eq!(offset_of!(AdlEvent, funding_prepaid), 156);
    assert_eq!(offset_of!(AdlDrain, level_bps), 0);
    assert_eq!(offset_of!(AdlDrain, sum_base), 16);
    assert_eq!(offset_of!(AdlDrain, sum_equity), 24);
    assert_eq!(offset_of!(AdlDrain, cursor), 32);
    assert_eq!(offset_of!(AdlDrain, end), 36);
    assert_eq!(offset_of!(AdlDrain, passes), 44);
    assert_eq!(offset_of!(AdlDrain, phase), 46);
    assert_eq!(offset_of!(AdlDrain, flags), 47);
    assert_eq!(d + offset_of!(Market, mark_price), 1632);
    assert_eq!(d + offset_of!(Market, touch_seq), 1640);
    assert_eq!(d + offset_of!(Market, funding_window), 1648);
    assert_eq!(d + offset_of!(Market, premium_since_slot), 1656);
    assert_eq!(d + offset_of!(Market, window_notional), 1664);
    assert_eq!(d + offset_of!(Market, premium_acc), 1672);
    assert_eq!(d + offset_of!(Market, funding_carry), 1680);
    assert_eq!(d + offset_of!(Market, flagged_positions), 1688);
    assert_eq!(d + offset_of!(Market, adl_walks), 1696);
    assert_eq!(d + offset_of!(Market, max_oracle_age_secs), 1824);
    assert_eq!(d + offset_of!(Market, oracle_feed_id), 1832);
    assert_eq!(d + offset_of!(Market, adl_drains), 1864);
    assert_eq!(d + offset_of!(Market, window_premium), 2376);
    assert_eq!(d + offset_of!(Market, prev_window_premium), 2384);
    assert_eq!(d + offset_of!(Market, prev_window_notional), 2392);
    assert_eq!(d + offset_of!(Market, worst_long_key), 2400);
    assert_eq!(d + offset_of!(Market, worst_short_key), 2408);
    assert_eq!(d + offset_of!(Market, reserved), 2416);
    assert_eq!(
        d + offset_of!(Market, params) + offset_of!(MarketParams, min_trade_base),
        248
    );
    assert_eq!(
        d + offset_of!(Market, params) + offset_of!(MarketParams, min_position_base),
        256
    );
    assert_eq!(d + offset_of!(InsuranceFund, balance), 40);
    assert_eq!(d + offset_of!(InsuranceFund, total_shares), 48);
    assert_eq!(d + offset_of!(InsuranceFund, share_epoch), 80);
    assert_eq!(d + offset_of!(InsuranceFund, unstake_window_slots), 96);
    assert_eq!(d + offset_of!(InsuranceFund, fee_vest_slots), 104);
    assert_eq!(d + offset_of!(InsuranceFund, vesting), 112);
    assert_eq!(d + offset_of!(InsuranceFund, vest_slot), 120);
    assert_eq!(d + offset_of!(InsuranceFund, unvested_new), 128);
    assert_eq!(d + offset_of!(UserAccount, owner), 8);
    assert_eq!(d + offset_of!(UserAccount, exchange), 40);
    assert_eq!(d + offset_of!(UserAccount, free_collateral), 72);
    assert_eq!(d + offset_of!(UserAccount, num_positions), 81);
    assert_eq!(d + offset_of!(UserAccount, positions), 88);
    assert_eq!(d + offset_of!(PositionBook, market), 8);
    assert_eq!(d + offset_of!(PositionBook, capacity), 40);
    assert_eq!(d + offset_of!(PositionBook, high_water), 52);
    assert_eq!(BOOK_SLOTS_OFFSET, 104);
    assert_eq!(d + offset_of!(AdlQueue, market), 8);
    assert_eq!(d + offset_of!(AdlQueue, capacity), 40);
    assert_eq!(d + offset_of!(AdlQueue, len), 44);
    assert_eq!(d + offset_of!(AdlQueue, side), 48);
    assert_eq!(QUEUE_ARRAYS_OFFSET, 96);
    assert_eq!(offset_of!(PositionSlot, owner), 0);
    assert_eq!(offset_of!(PositionSlot, base), 32);
    assert_eq!(offset_of!(PositionSlot, cost_basis), 40);
    assert_eq!(offset_of!(PositionSlot, margin), 48);
    assert_eq!(offset_of!(PositionSlot, funding_snapshot), 56);
    assert_eq!(offset_of!(PositionSlot, adl_payout), 64);
    assert_eq!(offset_of!(PositionSlot, open_seq), 72);
    assert_eq!(offset_of!(PositionSlot, last_touch_seq), 80);
    assert_eq!(offset_of!(PositionSlot, bankrupt_since_slot), 88);
    assert_eq!(offset_of!(PositionSlot, status), 96);
    assert_eq!(offset_of!(PositionSlot, next_free), 100);
    // 100,000 positions fit one account.
    assert!(PositionBook::space(100_000) <= MAX_ACCOUNT_LEN);
}

/// A batch of 24 fills at the head of a 100,000-entry queue removes its entries with binary
/// searches and one memmove per kept run — no element loop over the array (the earlier merge
/// walk read and wrote every entry after the first removed one: ~100,000 per array).
#[test]
fn compaction_of_a_batch_at_the_head_moves_runs_not_elements() {
    let n = 100_000usize;
    let mut words = queue_buffer(n);
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    let mut q = queue_mut(bytes).unwrap();
    for i in 0..n {
        let e = QueueEntry {
            key: i as i64,
            order: i as u64,
        };
        q.by_leverage[i] = e;
        q.by_entry[i] = QueueEntry {
            key: -(i as i64),
            order: i as u64,
        };
    }
    q.by_entry[..n].sort();
    q.header.len = n as u32;
    // Remove 24 entries: the first 20, and 4 spread over the array.
    let gone: Vec<usize> = (0..20).chain([1_000, 30_000, 60_000, 99_999]).collect();
    let lev: Vec<QueueEntry> = gone.iter().map(|&i| q.by_leverage[i]).collect();
    let ent: Vec<QueueEntry> = gone
        .iter()
        .map(|&i| QueueEntry {
            key: -(i as i64),
            order: i as u64,
        })
        .collect();
    crate::meter::reset();
    let z = crate::math::KeyFrac::default();
    let lev = lev.into_iter().map(|e| (e, z)).collect();
    q.remove_many(lev, ent, &ExactOrder::by_key_and_age(true))
        .unwrap();
    let c = crate::meter::counts();
    // No element loop; 24 binary searches of ⌈log₂(100,001)⌉ = 17 reads per array.
    assert_eq!(c.elements_moved, 0);
    assert_eq!(c.entries_read, 2 * 24 * 17);
    // The kept runs after the first removed entry move once: n − 24 − 0 per array… minus
    // the entries before the first removal (none here).
    assert_eq!(c.memmove_entries, 2 * (n as u64 - 24));
    // Exactly the kept entries remain, in order, and the tail is zeroed.
    let gone_set: BTreeSet<usize> = gone.iter().copied().collect();
    let kept: Vec<QueueEntry> = (0..n)
        .filter(|i| !gone_set.contains(i))
        .map(|i| QueueEntry {
            key: i as i64,
            order: i as u64,
        })
        .collect();
    assert_eq!(q.len(), n - 24);
    assert_eq!(&q.by_leverage[..n - 24], &kept[..]);
    assert!(q.by_leverage[n - 24..n]
        .iter()
        .all(|e| *e == QueueEntry::default()));
    let mut kept_ent: Vec<QueueEntry> = (0..n)
        .filter(|i| !gone_set.contains(i))
        .map(|i| QueueEntry {
            key: -(i as i64),
            order: i as u64,
        })
        .collect();
    kept_ent.sort();
    assert_eq!(&q.by_entry[..n - 24], &kept_ent[..]);
}

/// `value · 10^shift` by decimal digits (not the program's arithmetic): appended zeros, or
/// dropped digits rounded down (`ceil` = false) or up.
fn decimal_shift(v: u128, shift: i32, ceil: bool) -> u128 {
    let s = v.to_string();
    if shift >= 0 {
        return format!("{s}{}", "0".repeat(shift as usize))
            .parse()
            .unwrap();
    }
    let drop = (-shift) as usize;
    let (keep, dropped) = if s.len() > drop {
        s.split_at(s.len() - drop)
    } else {
        ("0", s.as_str())
    };
    let kept: u128 = keep.parse().unwrap();
    if ceil && dropped.chars().any(|c| c != '0') {
        kept + 1
    } else {
        kept
    }
}

/// Pyth prices convert to price atoms exactly to the atom for exponents −4 … −10 (price
/// toward zero, confidence up), checked against decimal digit shifting; out-of-range
/// exponents, non-positive prices and prices below one atom are refused by name.
#[test]
fn pyth_exponents_convert_exactly() {
    let prices = [
        1i64,
        7,
        99_999,
        123_456_789,
        98_765_432_101,
        4_000_000_000_000_000,
        i64::MAX,
    ];
    let confs = [0u64, 1, 999, 123_456, 10_000_001];
    for exp in -10..=-4 {
        for &p in &prices {
            for &c in &confs {
                let want_p = decimal_shift(p as u128, exp + 6, false);
                let want_c = decimal_shift(c as u128, exp + 6, true);
                let got = pyth_to_price_atoms(p, c, exp);
                if want_p > u64::MAX as u128 || want_c > u64::MAX as u128 {
                    assert!(got.is_err(), "{p}e{exp}");
                } else if want_p == 0 {
                    assert_eq!(
                        got.unwrap_err(),
                        crate::error::AdlError::InvalidOraclePrice.into()
                    );
                } else {
                    assert_eq!(got.unwrap(), (want_p as u64, want_c as u64), "{p}e{exp}");
                }
            }
        }
    }
    // 123.45678901 at −8 → 123.456789 (the 01 dropped); its confidence 0.00000001 → 1 atom.
    assert_eq!(
        pyth_to_price_atoms(123_4567_8901, 1, -8).unwrap(),
        (123_456_789, 1)
    );
    for e in [-19, -30, 1, 5] {
        assert_eq!(
            pyth_to_price_atoms(100, 1, e).unwrap_err(),
            crate::error::AdlError::OracleExponentOutOfRange.into()
        );
    }
    for p in [0, -1, i64::MIN] {
        assert_eq!(
            pyth_to_price_atoms(p, 1, -8).unwrap_err(),
            crate::error::AdlError::InvalidOraclePrice.into()
        );
    }
}

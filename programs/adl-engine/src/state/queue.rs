use anchor_lang::prelude::*;
use core::cmp::Ordering;
use core::mem::{align_of, size_of};

use crate::error::AdlError;
use crate::math::{self, KeyFrac};
use crate::state::DISCRIMINATOR_LEN;

/// One entry of a sorted queue array. Arrays are ascending by `(key, order)`.
/// `order` = `open_seq << 24 | slot`: older positions first on equal keys, and the entry
/// names its slot (`math::slot_of_order`).
#[zero_copy]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct QueueEntry {
    pub key: i64,
    pub order: u64,
}

const _: () = assert!(size_of::<QueueEntry>() == 16);

impl QueueEntry {
    pub fn slot(&self) -> u32 {
        math::slot_of_order(self.order)
    }
}

impl PartialOrd for QueueEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for QueueEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.key, self.order).cmp(&(other.key, other.order))
    }
}

/// Header of one side's ADL queue. Two sorted arrays follow it, each `capacity` entries:
/// `by_leverage` (key: `math::leverage_sort_key`, most leveraged first) at
/// `QUEUE_ARRAYS_OFFSET`, then `by_entry` (key: `math::entry_sort_key`, most profitable
/// first) at `QUEUE_ARRAYS_OFFSET + 16·capacity`. Both hold exactly the side's open positions
/// in `[0, len)`.
///
/// ABI: `market` @8, `capacity` @40, `len` @44, `side` @48, arrays from @96.
#[account(zero_copy)]
#[derive(Debug)]
pub struct AdlQueue {
    pub market: Pubkey,
    pub capacity: u32,
    /// Entries in use in each array (= open positions on this side).
    pub len: u32,
    /// `SIDE_LONG` or `SIDE_SHORT`.
    pub side: u8,
    pub padding: [u8; 7],
    pub reserved: [u64; 5],
    /// `by_leverage` then `by_entry` follow the header (`capacity` entries each); this
    /// zero-length marker names their type for the IDL and takes no space.
    pub entries: [QueueEntry; 0],
}

const _: () = assert!(size_of::<AdlQueue>() == 88);
const _: () = assert!(align_of::<AdlQueue>() == 8);

pub const QUEUE_ARRAYS_OFFSET: usize = DISCRIMINATOR_LEN + size_of::<AdlQueue>();
pub const QUEUE_ENTRY_LEN: usize = size_of::<QueueEntry>();

impl AdlQueue {
    pub const fn space(capacity: usize) -> usize {
        QUEUE_ARRAYS_OFFSET + 2 * capacity * QUEUE_ENTRY_LEN
    }

    pub const fn capacity_for_len(len: usize) -> usize {
        if len < QUEUE_ARRAYS_OFFSET {
            0
        } else {
            (len - QUEUE_ARRAYS_OFFSET) / (2 * QUEUE_ENTRY_LEN)
        }
    }
}

/// How `by_leverage` orders entries with equal stored keys: exactly, by the part of the rank
/// key the stored key rounds away (`math::rank_key_frac`, read from the positions), then by
/// age — so the array order is the exact leverage order. Longs: a larger fraction is a larger
/// exact `K`, more leveraged, first; shorts: a smaller one first. Only entries whose stored
/// key equals the one searched for have their fraction read: a search reads at most
/// ⌈log₂ n⌉ extra slots, and none when keys differ.
pub struct ExactOrder<'a> {
    pub is_long: bool,
    /// The fraction of a slot's position as its entry stands in the array (a position that
    /// changed and is not yet re-indexed must give its old value).
    pub frac_of: &'a dyn Fn(u32) -> Option<KeyFrac>,
}

/// One `by_leverage` entry with its exact key fraction.
pub type LevEntry = (QueueEntry, KeyFrac);

fn zero_frac(_: u32) -> Option<KeyFrac> {
    Some(KeyFrac::default())
}

impl ExactOrder<'_> {
    /// An order by stored key and age only (every fraction zero): for arrays whose entries
    /// have no positions behind them (tests of the array mechanics).
    pub fn by_key_and_age(is_long: bool) -> ExactOrder<'static> {
        ExactOrder {
            is_long,
            frac_of: &zero_frac,
        }
    }

    /// Order of array entry `x` against the entry `t` whose fraction is `ft`.
    pub fn cmp(&self, x: &QueueEntry, t: &QueueEntry, ft: KeyFrac) -> Ordering {
        x.key.cmp(&t.key).then_with(|| {
            crate::meter::slot(1);
            let fx = (self.frac_of)(x.slot()).unwrap_or_default();
            let c = math::frac_cmp(fx, ft);
            let c = if self.is_long { c.reverse() } else { c };
            c.then(x.order.cmp(&t.order))
        })
    }

    /// Order of two array entries.
    pub fn cmp_entries(&self, a: &QueueEntry, b: &QueueEntry) -> Ordering {
        if a.key != b.key {
            return a.key.cmp(&b.key);
        }
        let fb = (self.frac_of)(b.slot()).unwrap_or_default();
        self.cmp(a, b, fb)
    }

    /// Sorts entries into this order (books built outside the program: tests, benches).
    pub fn sort(&self, entries: &mut [QueueEntry]) {
        entries.sort_by(|a, b| self.cmp_entries(a, b));
    }
}

/// Sorts one side's `by_leverage` entries into the program's order, the positions read from
/// `slots` by slot index (simulator, benches, tests).
pub fn sort_by_leverage(entries: &mut [QueueEntry], slots: &[crate::state::PositionSlot]) {
    let is_long = entries
        .first()
        .and_then(|e| slots.get(e.slot() as usize))
        .is_some_and(|p| p.base > 0);
    let frac_of = |s: u32| slots.get(s as usize).and_then(|p| p.key_frac().ok());
    ExactOrder {
        is_long,
        frac_of: &frac_of,
    }
    .sort(entries);
}

/// Mutable view of a queue account.
pub struct QueueMut<'a> {
    pub header: &'a mut AdlQueue,
    pub by_leverage: &'a mut [QueueEntry],
    pub by_entry: &'a mut [QueueEntry],
}

pub fn queue_mut(data: &mut [u8]) -> Result<QueueMut<'_>> {
    require!(data.len() >= QUEUE_ARRAYS_OFFSET, AdlError::CorruptAccount);
    let (head, tail) = data.split_at_mut(QUEUE_ARRAYS_OFFSET);
    let header: &mut AdlQueue = bytemuck::try_from_bytes_mut(&mut head[DISCRIMINATOR_LEN..])
        .map_err(|_| AdlError::CorruptAccount)?;
    let cap = header.capacity as usize;
    require!(
        tail.len() >= 2 * cap * QUEUE_ENTRY_LEN,
        AdlError::CorruptAccount
    );
    let all: &mut [QueueEntry] =
        bytemuck::try_cast_slice_mut(&mut tail[..2 * cap * QUEUE_ENTRY_LEN])
            .map_err(|_| AdlError::CorruptAccount)?;
    let (by_leverage, by_entry) = all.split_at_mut(cap);
    Ok(QueueMut {
        header,
        by_leverage,
        by_entry,
    })
}

impl QueueMut<'_> {
    pub fn len(&self) -> usize {
        self.header.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.header.len == 0
    }

    /// Inserts an open position's two entries. Returns the new entry's index in
    /// `by_leverage` (ADL walk cursors are kept valid from it).
    pub fn insert(&mut self, lev: LevEntry, ent: QueueEntry, ord: &ExactOrder) -> Result<usize> {
        let len = self.len();
        require!(len < self.header.capacity as usize, AdlError::QueueFull);
        let at = lev_position(self.by_leverage, len, lev, ord);
        shift_in(self.by_leverage, len, at, lev.0);
        let j = sorted_position(self.by_entry, len, ent);
        shift_in(self.by_entry, len, j, ent);
        self.header.len += 1;
        Ok(at)
    }

    /// Removes a position's two entries (`lev` with the fraction its entry was placed by).
    /// Returns the removed entry's index in `by_leverage`.
    pub fn remove(&mut self, lev: LevEntry, ent: QueueEntry, ord: &ExactOrder) -> Result<usize> {
        let len = self.len();
        let at = lev_find(self.by_leverage, len, lev, ord).ok_or(AdlError::QueueCorrupt)?;
        shift_out(self.by_leverage, len, at);
        let j = sorted_find(self.by_entry, len, ent).ok_or(AdlError::QueueCorrupt)?;
        shift_out(self.by_entry, len, j);
        self.header.len -= 1;
        Ok(at)
    }

    /// Removes several positions' entries with one compaction pass per array. Returns the
    /// removed entries' indices in `by_leverage` before the removal, in the order given.
    pub fn remove_many(
        &mut self,
        lev: Vec<LevEntry>,
        ent: Vec<QueueEntry>,
        ord: &ExactOrder,
    ) -> Result<Vec<usize>> {
        if lev.is_empty() {
            return Ok(Vec::new());
        }
        let len = self.len();
        let mut at = Vec::with_capacity(lev.len());
        for e in &lev {
            at.push(lev_find(self.by_leverage, len, *e, ord).ok_or(AdlError::QueueCorrupt)?);
        }
        let mut at_ent = Vec::with_capacity(ent.len());
        for e in &ent {
            at_ent.push(sorted_find(self.by_entry, len, *e).ok_or(AdlError::QueueCorrupt)?);
        }
        compact(self.by_leverage, len, at.clone())?;
        compact(self.by_entry, len, at_ent)?;
        self.header.len -= lev.len() as u32;
        Ok(at)
    }

    /// Re-indexes a position whose keys changed: one binary search and one shift per array.
    /// Returns the move in `by_leverage` as a removal at `.0` followed by an insertion at
    /// `.1` (an index of the array without the entry).
    pub fn reposition(
        &mut self,
        old: (LevEntry, QueueEntry),
        new: (LevEntry, QueueEntry),
        ord: &ExactOrder,
    ) -> Result<(usize, usize)> {
        let len = self.len();
        let i = lev_find(self.by_leverage, len, old.0, ord).ok_or(AdlError::QueueCorrupt)?;
        let j = lev_position(self.by_leverage, len, new.0, ord);
        let moved = shift_move(self.by_leverage, len, i, j, new.0 .0);
        let i = sorted_find(self.by_entry, len, old.1).ok_or(AdlError::QueueCorrupt)?;
        let j = sorted_position(self.by_entry, len, new.1);
        shift_move(self.by_entry, len, i, j, new.1);
        Ok(moved)
    }
}

/// Position of `e` in the exactly ordered prefix `by_leverage[..len]`, if present.
pub fn lev_find(arr: &[QueueEntry], len: usize, e: LevEntry, ord: &ExactOrder) -> Option<usize> {
    crate::meter::search(len);
    arr[..len].binary_search_by(|x| ord.cmp(x, &e.0, e.1)).ok()
}

/// Index of the first entry of `by_leverage[..len]` not ordered before `e`.
fn lev_position(arr: &[QueueEntry], len: usize, e: LevEntry, ord: &ExactOrder) -> usize {
    crate::meter::search(len);
    arr[..len].partition_point(|x| ord.cmp(x, &e.0, e.1) == Ordering::Less)
}

/// Position of `e` in the sorted prefix `arr[..len]`, if present.
pub fn sorted_find(arr: &[QueueEntry], len: usize, e: QueueEntry) -> Option<usize> {
    crate::meter::search(len);
    arr[..len].binary_search(&e).ok()
}

/// Index of the first entry of `arr[..len]` not below `e`.
fn sorted_position(arr: &[QueueEntry], len: usize, e: QueueEntry) -> usize {
    crate::meter::search(len);
    arr[..len].partition_point(|x| *x < e)
}

/// Inserts `e` at `j` with one shift of the tail.
fn shift_in(arr: &mut [QueueEntry], len: usize, j: usize, e: QueueEntry) {
    arr.copy_within(j..len, j + 1);
    crate::meter::memmove(len - j);
    arr[j] = e;
}

/// Removes the entry at `i` with one shift of the tail.
fn shift_out(arr: &mut [QueueEntry], len: usize, i: usize) {
    arr.copy_within(i + 1..len, i);
    crate::meter::memmove(len - i - 1);
    arr[len - 1] = QueueEntry::default();
}

/// Drops the entries at the indices `gone` of `arr[..len]`: every run of kept entries
/// between two removed ones moves left in one `copy_within` (a memmove on SBF), and the `k`
/// freed entries at the end are zeroed. Work: `k + 1` memmoves of the kept runs (bytes moved:
/// the entries after the first removed one), no element loop over the array. Returns the
/// indices ascending.
fn compact(arr: &mut [QueueEntry], len: usize, mut gone: Vec<usize>) -> Result<Vec<usize>> {
    gone.sort_unstable();
    let k = gone.len();
    if k == 0 {
        return Ok(gone);
    }
    for g in 0..k {
        // The run after this removed entry, up to the next removed one (or the end), moves
        // left by the number of entries removed so far (g + 1).
        let i = gone[g];
        let end = gone.get(g + 1).copied().unwrap_or(len);
        // Distinct removals inside the array only.
        require!(end > i && i < len, AdlError::QueueCorrupt);
        arr.copy_within(i + 1..end, i - g);
        crate::meter::memmove(end - i - 1);
    }
    arr[len - k..len].fill(QueueEntry::default());
    Ok(gone)
}

/// Moves the entry at `i` to the place `j` found for `new` (in the array still holding the
/// old entry) with a single shift of the entries between. Returns (index the old entry
/// left, index `new` took once the old entry was gone).
fn shift_move(
    arr: &mut [QueueEntry],
    _len: usize,
    i: usize,
    j: usize,
    new: QueueEntry,
) -> (usize, usize) {
    if j <= i {
        arr.copy_within(j..i, j + 1);
        crate::meter::memmove(i - j);
        arr[j] = new;
        (i, j)
    } else {
        arr.copy_within(i + 1..j, i);
        crate::meter::memmove(j - i - 1);
        arr[j - 1] = new;
        (i, j - 1)
    }
}

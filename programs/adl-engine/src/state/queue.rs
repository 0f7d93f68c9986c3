use anchor_lang::prelude::*;
use core::cmp::Ordering;
use core::mem::{align_of, size_of};

use crate::error::AdlError;
use crate::math;
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
    pub fn insert(&mut self, lev: QueueEntry, ent: QueueEntry) -> Result<usize> {
        let len = self.len();
        require!(len < self.header.capacity as usize, AdlError::QueueFull);
        let at = sorted_insert(self.by_leverage, len, lev);
        sorted_insert(self.by_entry, len, ent);
        self.header.len += 1;
        Ok(at)
    }

    /// Removes a position's two entries. Returns the removed entry's index in `by_leverage`.
    pub fn remove(&mut self, lev: QueueEntry, ent: QueueEntry) -> Result<usize> {
        let len = self.len();
        let at = sorted_remove(self.by_leverage, len, lev)?;
        sorted_remove(self.by_entry, len, ent)?;
        self.header.len -= 1;
        Ok(at)
    }

    /// Removes several positions' entries with one compaction pass per array. Returns the
    /// removed entries' indices in `by_leverage` before the removal, ascending.
    pub fn remove_many(
        &mut self,
        mut lev: Vec<QueueEntry>,
        mut ent: Vec<QueueEntry>,
    ) -> Result<Vec<usize>> {
        if lev.is_empty() {
            return Ok(Vec::new());
        }
        lev.sort_unstable();
        ent.sort_unstable();
        let len = self.len();
        let at = compact(self.by_leverage, len, &lev)?;
        compact(self.by_entry, len, &ent)?;
        self.header.len -= lev.len() as u32;
        Ok(at)
    }

    /// Re-indexes a position whose keys changed: one binary search and one shift per array.
    /// Returns the move in `by_leverage` as a removal at `.0` followed by an insertion at
    /// `.1` (an index of the array without the entry).
    pub fn reposition(
        &mut self,
        old: (QueueEntry, QueueEntry),
        new: (QueueEntry, QueueEntry),
    ) -> Result<(usize, usize)> {
        let len = self.len();
        let moved = sorted_move(self.by_leverage, len, old.0, new.0)?;
        sorted_move(self.by_entry, len, old.1, new.1)?;
        Ok(moved)
    }
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

fn sorted_insert(arr: &mut [QueueEntry], len: usize, e: QueueEntry) -> usize {
    let j = sorted_position(arr, len, e);
    arr.copy_within(j..len, j + 1);
    crate::meter::memmove(len - j);
    arr[j] = e;
    j
}

fn sorted_remove(arr: &mut [QueueEntry], len: usize, e: QueueEntry) -> Result<usize> {
    let i = sorted_find(arr, len, e).ok_or(AdlError::QueueCorrupt)?;
    arr.copy_within(i + 1..len, i);
    crate::meter::memmove(len - i - 1);
    arr[len - 1] = QueueEntry::default();
    Ok(i)
}

/// Drops the sorted entries `gone` from `arr[..len]`: each is found by binary search, then
/// every run of kept entries between two removed ones moves left in one `copy_within`
/// (a memmove on SBF), and the `k` freed entries at the end are zeroed. Work: `k` binary
/// searches, `k + 1` memmoves of the kept runs (bytes moved: the entries after the first
/// removed one), no element loop over the array.
fn compact(arr: &mut [QueueEntry], len: usize, gone: &[QueueEntry]) -> Result<Vec<usize>> {
    let k = gone.len();
    let Some(first) = gone.first() else {
        return Ok(Vec::new());
    };
    let mut i = sorted_find(arr, len, *first).ok_or(AdlError::QueueCorrupt)?;
    let mut at = Vec::with_capacity(k);
    for g in 0..k {
        at.push(i);
        // The run after this removed entry, up to the next removed one (or the end), moves
        // left by the number of entries removed so far (g + 1). Everything before the next
        // removed entry is smaller than it, so the binary search stays valid while runs move.
        let end = match gone.get(g + 1) {
            Some(next) => sorted_find(arr, len, *next).ok_or(AdlError::QueueCorrupt)?,
            None => len,
        };
        // Sorted, distinct removals only.
        require!(end > i, AdlError::QueueCorrupt);
        arr.copy_within(i + 1..end, i - g);
        crate::meter::memmove(end - i - 1);
        i = end;
    }
    arr[len - k..len].fill(QueueEntry::default());
    Ok(at)
}

/// Moves entry `old` to the sorted place of `new` with a single shift of the entries between.
/// Returns (index `old` left, index `new` took once `old` was gone).
fn sorted_move(
    arr: &mut [QueueEntry],
    len: usize,
    old: QueueEntry,
    new: QueueEntry,
) -> Result<(usize, usize)> {
    let i = sorted_find(arr, len, old).ok_or(AdlError::QueueCorrupt)?;
    let j = sorted_position(arr, len, new);
    if j <= i {
        arr.copy_within(j..i, j + 1);
        crate::meter::memmove(i - j);
        arr[j] = new;
        Ok((i, j))
    } else {
        arr.copy_within(i + 1..j, i);
        crate::meter::memmove(j - i - 1);
        arr[j - 1] = new;
        Ok((i, j - 1))
    }
}

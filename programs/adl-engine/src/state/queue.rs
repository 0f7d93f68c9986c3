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

    /// Inserts an open position's two entries.
    pub fn insert(&mut self, lev: QueueEntry, ent: QueueEntry) -> Result<()> {
        let len = self.len();
        require!(len < self.header.capacity as usize, AdlError::QueueFull);
        sorted_insert(self.by_leverage, len, lev);
        sorted_insert(self.by_entry, len, ent);
        self.header.len += 1;
        Ok(())
    }

    /// Removes a position's two entries.
    pub fn remove(&mut self, lev: QueueEntry, ent: QueueEntry) -> Result<()> {
        let len = self.len();
        sorted_remove(self.by_leverage, len, lev)?;
        sorted_remove(self.by_entry, len, ent)?;
        self.header.len -= 1;
        Ok(())
    }

    /// Removes several positions' entries with one compaction pass per array.
    pub fn remove_many(
        &mut self,
        mut lev: Vec<QueueEntry>,
        mut ent: Vec<QueueEntry>,
    ) -> Result<()> {
        if lev.is_empty() {
            return Ok(());
        }
        lev.sort_unstable();
        ent.sort_unstable();
        let len = self.len();
        compact(self.by_leverage, len, &lev)?;
        compact(self.by_entry, len, &ent)?;
        self.header.len -= lev.len() as u32;
        Ok(())
    }

    /// Re-indexes a position whose keys changed: one binary search and one shift per array.
    pub fn reposition(
        &mut self,
        old: (QueueEntry, QueueEntry),
        new: (QueueEntry, QueueEntry),
    ) -> Result<()> {
        let len = self.len();
        sorted_move(self.by_leverage, len, old.0, new.0)?;
        sorted_move(self.by_entry, len, old.1, new.1)
    }
}

/// Position of `e` in the sorted prefix `arr[..len]`, if present.
pub fn sorted_find(arr: &[QueueEntry], len: usize, e: QueueEntry) -> Option<usize> {
    arr[..len].binary_search(&e).ok()
}

fn sorted_insert(arr: &mut [QueueEntry], len: usize, e: QueueEntry) {
    let j = arr[..len].partition_point(|x| *x < e);
    arr.copy_within(j..len, j + 1);
    arr[j] = e;
}

fn sorted_remove(arr: &mut [QueueEntry], len: usize, e: QueueEntry) -> Result<()> {
    let i = sorted_find(arr, len, e).ok_or(AdlError::QueueCorrupt)?;
    arr.copy_within(i + 1..len, i);
    arr[len - 1] = QueueEntry::default();
    Ok(())
}

/// Drops the sorted entries `gone` from `arr[..len]` in one pass (merge walk).
fn compact(arr: &mut [QueueEntry], len: usize, gone: &[QueueEntry]) -> Result<()> {
    let first = sorted_find(arr, len, gone[0]).ok_or(AdlError::QueueCorrupt)?;
    let mut w = first;
    let mut g = 0;
    for r in first..len {
        if g < gone.len() && arr[r] == gone[g] {
            g += 1;
        } else {
            arr[w] = arr[r];
            w += 1;
        }
    }
    require!(g == gone.len(), AdlError::QueueCorrupt);
    for e in arr[w..len].iter_mut() {
        *e = QueueEntry::default();
    }
    Ok(())
}

/// Moves entry `old` to the sorted place of `new` with a single shift of the entries between.
fn sorted_move(arr: &mut [QueueEntry], len: usize, old: QueueEntry, new: QueueEntry) -> Result<()> {
    let i = sorted_find(arr, len, old).ok_or(AdlError::QueueCorrupt)?;
    let j = arr[..len].partition_point(|x| *x < new);
    if j <= i {
        arr.copy_within(j..i, j + 1);
        arr[j] = new;
    } else {
        arr.copy_within(i + 1..j, i);
        arr[j - 1] = new;
    }
    Ok(())
}

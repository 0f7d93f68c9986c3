use anchor_lang::prelude::*;
use core::mem::{align_of, size_of};

use crate::error::AdlError;
use crate::state::position::{PositionSlot, NIL, SLOT_FREE, SLOT_OPEN};
use crate::state::DISCRIMINATOR_LEN;

/// Header of a market's position book. The account is created by the client (system
/// `create_account`, any size) and initialised by `init_market`; the slots follow the header
/// and their number — the capacity — is derived from the account size.
///
/// ABI: `market` @8, `capacity` @40, `num_open` @44, `free_head` @48, `high_water` @52,
/// slots start at `BOOK_SLOTS_OFFSET` (104), `PositionSlot::LEN` (104) bytes each.
#[account(zero_copy)]
#[derive(Debug)]
pub struct PositionBook {
    pub market: Pubkey,
    /// Number of slots the account holds.
    pub capacity: u32,
    /// Open positions.
    pub num_open: u32,
    /// Head of the free list of released slots (`NIL`: empty).
    pub free_head: u32,
    /// Slots `[0, high_water)` have been used at least once; the rest were never used.
    pub high_water: u32,
    pub reserved: [u64; 6],
    /// The slots follow the header (`capacity` of them); this zero-length marker names
    /// their type for the IDL and takes no space.
    pub slots: [PositionSlot; 0],
}

const _: () = assert!(size_of::<PositionBook>() == 96);
const _: () = assert!(align_of::<PositionBook>() == 8);

/// Offset of slot 0 in the account data.
pub const BOOK_SLOTS_OFFSET: usize = DISCRIMINATOR_LEN + size_of::<PositionBook>();
pub const POSITION_SLOT_LEN: usize = size_of::<PositionSlot>();
/// Solana's account size limit.
pub const MAX_ACCOUNT_LEN: usize = 10 * 1024 * 1024;

impl PositionBook {
    /// Account size for `capacity` slots.
    pub const fn space(capacity: usize) -> usize {
        BOOK_SLOTS_OFFSET + capacity * POSITION_SLOT_LEN
    }

    /// Capacity of an account of `len` bytes (0 if too small).
    pub const fn capacity_for_len(len: usize) -> usize {
        if len < BOOK_SLOTS_OFFSET {
            0
        } else {
            (len - BOOK_SLOTS_OFFSET) / POSITION_SLOT_LEN
        }
    }
}

/// Mutable view of a book account: header and slots.
pub struct BookMut<'a> {
    pub header: &'a mut PositionBook,
    pub slots: &'a mut [PositionSlot],
}

/// Splits a book account's data (discriminator already checked by Anchor) into header and
/// slots. Fails with `CorruptAccount` on misaligned data.
pub fn book_mut(data: &mut [u8]) -> Result<BookMut<'_>> {
    require!(data.len() >= BOOK_SLOTS_OFFSET, AdlError::CorruptAccount);
    let (head, tail) = data.split_at_mut(BOOK_SLOTS_OFFSET);
    let header: &mut PositionBook = bytemuck::try_from_bytes_mut(&mut head[DISCRIMINATOR_LEN..])
        .map_err(|_| AdlError::CorruptAccount)?;
    let cap = header.capacity as usize;
    require!(
        tail.len() >= cap * POSITION_SLOT_LEN,
        AdlError::CorruptAccount
    );
    let slots: &mut [PositionSlot] =
        bytemuck::try_cast_slice_mut(&mut tail[..cap * POSITION_SLOT_LEN])
            .map_err(|_| AdlError::CorruptAccount)?;
    Ok(BookMut { header, slots })
}

impl BookMut<'_> {
    pub fn slot(&self, index: u32) -> Result<&PositionSlot> {
        self.slots
            .get(index as usize)
            .ok_or_else(|| error!(AdlError::SlotNotOpen))
    }

    pub fn slot_mut(&mut self, index: u32) -> Result<&mut PositionSlot> {
        self.slots
            .get_mut(index as usize)
            .ok_or_else(|| error!(AdlError::SlotNotOpen))
    }

    /// Takes a free slot (free list first, then never-used slots) and marks it open for
    /// `owner`. The caller sets the position's fields.
    pub fn allocate(&mut self, owner: Pubkey, open_seq: u64, touch_seq: u64) -> Result<u32> {
        let index = if self.header.free_head != NIL {
            let i = self.header.free_head;
            self.header.free_head = self.slot(i)?.next_free;
            i
        } else {
            require!(
                self.header.high_water < self.header.capacity,
                AdlError::BookFull
            );
            let i = self.header.high_water;
            self.header.high_water += 1;
            i
        };
        let s = self.slot_mut(index)?;
        *s = PositionSlot {
            owner,
            open_seq,
            last_touch_seq: touch_seq,
            status: SLOT_OPEN,
            next_free: NIL,
            ..PositionSlot::default()
        };
        self.header.num_open = self
            .header
            .num_open
            .checked_add(1)
            .ok_or(AdlError::MathOverflow)?;
        Ok(index)
    }

    /// Returns a closed slot to the free list.
    pub fn release(&mut self, index: u32) -> Result<()> {
        let head = self.header.free_head;
        let s = self.slot_mut(index)?;
        require!(s.status != SLOT_FREE, AdlError::SlotNotOpen);
        *s = PositionSlot {
            status: SLOT_FREE,
            next_free: head,
            ..PositionSlot::default()
        };
        self.header.free_head = index;
        self.header.num_open = self
            .header
            .num_open
            .checked_sub(1)
            .ok_or(AdlError::MathOverflow)?;
        Ok(())
    }
}

//! Cost meter: counts the work an instruction does, so tests and benches can assert budgets
//! that do not depend on host time. Compiled in only with the `cost-meter` feature (tests and
//! benches; always in the crate's own unit tests); otherwise every call is an empty inline
//! function and the program is unchanged.
//!
//! Counted: queue entries read by walks and searches (`entries_read`), position slots read
//! by the ADL walk (`slots_read`), entries moved one by one in element loops
//! (`elements_moved`), and entries moved by `copy_within` (`memmove_entries`; a memmove
//! syscall on SBF, about one compute unit per 250 bytes, i.e. per ~16 entries).

/// Counters since the last `reset` (per thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub entries_read: u64,
    pub slots_read: u64,
    pub elements_moved: u64,
    pub memmove_entries: u64,
}

#[cfg(any(test, feature = "cost-meter"))]
mod imp {
    use super::Counts;
    use std::cell::Cell;

    thread_local! {
        static COUNTS: Cell<Counts> = const { Cell::new(Counts {
            entries_read: 0,
            slots_read: 0,
            elements_moved: 0,
            memmove_entries: 0,
        }) };
    }

    pub fn update(f: impl FnOnce(&mut Counts)) {
        COUNTS.with(|c| {
            let mut v = c.get();
            f(&mut v);
            c.set(v);
        });
    }

    pub fn get() -> Counts {
        COUNTS.with(|c| c.get())
    }
}

/// `n` queue entries read.
#[inline(always)]
pub fn read(_n: usize) {
    #[cfg(any(test, feature = "cost-meter"))]
    imp::update(|c| c.entries_read += _n as u64);
}

/// A binary search over `len` entries: `⌈log₂(len + 1)⌉` entries read.
#[inline(always)]
pub fn search(_len: usize) {
    #[cfg(any(test, feature = "cost-meter"))]
    imp::update(|c| c.entries_read += (usize::BITS - _len.leading_zeros()) as u64);
}

/// `n` position slots read.
#[inline(always)]
pub fn slot(_n: usize) {
    #[cfg(any(test, feature = "cost-meter"))]
    imp::update(|c| c.slots_read += _n as u64);
}

/// `n` entries moved one at a time by an element loop.
#[inline(always)]
pub fn element_moves(_n: usize) {
    #[cfg(any(test, feature = "cost-meter"))]
    imp::update(|c| c.elements_moved += _n as u64);
}

/// `n` entries moved by one `copy_within` (memmove).
#[inline(always)]
pub fn memmove(_n: usize) {
    #[cfg(any(test, feature = "cost-meter"))]
    imp::update(|c| c.memmove_entries += _n as u64);
}

/// The counters now (all zero without the `cost-meter` feature).
pub fn counts() -> Counts {
    #[cfg(any(test, feature = "cost-meter"))]
    {
        imp::get()
    }
    #[cfg(not(any(test, feature = "cost-meter")))]
    {
        Counts::default()
    }
}

/// Resets the counters of this thread.
pub fn reset() {
    #[cfg(any(test, feature = "cost-meter"))]
    imp::update(|c| *c = Counts::default());
}

#[cfg(any(test, feature = "cost-meter"))]
thread_local! {
    static WALK_CAP: std::cell::Cell<usize> = const { std::cell::Cell::new(crate::state::ADL_WALK_CAP) };
}

/// Tests and the soak run (`cost-meter` builds only) may lower the per-transaction read cap
/// of ADL walks and drains (`engine::walk_cap`) to exercise capped transactions on small
/// books; `None` restores `ADL_WALK_CAP`. A deployed build always uses `ADL_WALK_CAP`.
#[cfg(any(test, feature = "cost-meter"))]
pub fn set_walk_cap(cap: Option<usize>) {
    WALK_CAP.with(|c| c.set(cap.unwrap_or(crate::state::ADL_WALK_CAP)));
}

/// The read cap in force (`ADL_WALK_CAP` unless a test lowered it).
#[inline(always)]
pub fn walk_cap() -> usize {
    #[cfg(any(test, feature = "cost-meter"))]
    {
        WALK_CAP.with(|c| c.get())
    }
    #[cfg(not(any(test, feature = "cost-meter")))]
    {
        crate::state::ADL_WALK_CAP
    }
}

//! Account layouts and the state methods that change them.
//!
//! Zero-copy accounts are `repr(C)`, bytemuck `Pod`, 8-byte aligned, with named padding and
//! `reserved` bytes; compile-time asserts pin their size and alignment. No `u128`/`i128`
//! fields (their alignment differs between x86-64 and SBF). Offsets in comments are from the
//! start of the account data (the 8-byte discriminator is at offset 0).

pub mod book;
pub mod exchange;
pub mod insurance;
pub mod market;
pub mod oracle;
pub mod position;
pub mod queue;
pub mod user;

pub use book::*;
pub use exchange::*;
pub use insurance::*;
pub use market::*;
pub use oracle::*;
pub use position::*;
pub use queue::*;
pub use user::*;

/// Size of Anchor's account discriminator.
pub const DISCRIMINATOR_LEN: usize = 8;

/// Sides of a market.
pub const SIDE_LONG: u8 = 0;
pub const SIDE_SHORT: u8 = 1;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod insurance_tests;

//! ADL policies' pure logic, shared by the program (to verify claims), the keeper (to make
//! them), the simulator and the tests: no Anchor accounts, only queue arrays and slots.
//!
//! - `fill`: eligibility at `P_exec`, tiers, the dry-run of one counterparty fill, pro-rata
//!   shares;
//! - `walk`: the ranked walk over `by_leverage` with saved cursors and the rank proof;
//! - `drain`: the leverage drain's per-position classes and cuts, its level and optimum.

pub mod drain;
pub mod fill;
pub mod walk;

#[cfg(test)]
mod tests;

pub use drain::*;
pub use fill::*;
pub use walk::*;

//! Client side of adl-engine, with no bank or validator linked: instruction builders (`ix`),
//! account decoders (`accounts`), the chain trait the keeper runs on and its JSON-RPC
//! implementation (`chain`), the exchange bootstrap (`bootstrap`) and the invariant checkers
//! (`invariants`). All formulas come from the program crate.
#![allow(deprecated)]

pub mod accounts;
pub mod bootstrap;
pub mod chain;
pub mod invariants;
pub mod ix;

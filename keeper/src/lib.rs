//! Off-chain side of adl-engine: instruction builders, account decoders, the invariant
//! checkers, the ADL queue view, and an in-process bank (solana-program-test) that runs the
//! program natively for the demo and the tests. All formulas come from the program crate.
#![allow(deprecated)]

pub mod accounts;
pub mod bank;
pub mod bootstrap;
pub mod chain;
pub mod client;
pub mod config;
pub mod demo;
pub mod fixture;
pub mod invariants;
pub mod keeper;
pub mod serve;
pub mod view;

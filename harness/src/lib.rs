//! adl-engine on an in-process Solana bank: the program runs natively inside
//! solana-program-test's bank with the real SPL Token program (`bank`), a test fixture that
//! builds exchanges, markets and traders through the program's instructions (`fixture`), the
//! keeper's `Chain` over that bank (`chain::BankChain`), and the demo (`demo`).
#![allow(deprecated)]

pub mod bank;
pub mod chain;
pub mod demo;
pub mod fixture;

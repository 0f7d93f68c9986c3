//! Integration tests: the program runs natively in a solana-program-test bank with the real
//! SPL Token program. Invariants are checked after every state-changing step.
#![allow(deprecated)]

mod adl;
mod bootstrap;
mod capacity;
mod demo;
mod drain;
mod errors;
mod exploits;
mod funding;
mod golden;
mod hardening;
mod keeper;
mod limits;
mod liquidation;
mod pro_rata;
mod prop;
mod pyth;
mod security;
mod trading;

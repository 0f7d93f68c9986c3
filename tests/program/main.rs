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
mod keeper_attacks;
mod limits;
mod liquidation;
mod liveness;
mod pro_rata;
mod prop;
mod pyth;
mod security;
mod staking;
mod trading;

/// Where the golden files the TypeScript tests read are written: `golden/` in cargo's real
/// target directory (`CARGO_TARGET_DIR`, `build.target-dir` or `target/`), which is where
/// cargo puts this test's scratch directory (`CARGO_TARGET_TMPDIR` = `<target>/tmp`).
/// `app/test-support/paths.mjs` resolves the same directory with `cargo metadata`.
pub fn golden_dir() -> std::path::PathBuf {
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("golden")
}

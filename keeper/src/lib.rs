//! The keeper: its loop (`keeper`: liquidations, ADL starts and fills, cranks, claims, each
//! transaction with its compute budget, `budget`), the
//! HTTP API, event stream and Prometheus metrics (`serve`, `metrics`), the queue view (`view`) and configuration (`config`),
//! over any `adl_client::chain::Chain`. The keeper links no bank or validator.
#![allow(deprecated)]

pub mod budget;
pub mod config;
pub mod keeper;
pub mod metrics;
pub mod serve;
pub mod view;

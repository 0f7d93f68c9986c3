//! `adl-demo`: the program on an in-process bank — twenty traders, both ADL queues, then a
//! crash the keeper resolves (liquidations, the fund exhausted, ADL in rank order, payouts,
//! conservation). Prints its report.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // The in-process bank logs every transaction (and its accounts database its
    // housekeeping) unless told otherwise: the report is the output, so errors only.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "error");
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    match adl_harness::demo::run().await {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("adl-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `adl-keeper`: command-line entry point.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "adl-keeper",
    version,
    about = "Keeper and tools for the adl-engine program"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the program on an in-process bank: exchange, market, twenty traders, both ADL queues.
    Demo,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // The in-process bank logs every transaction at debug level unless told otherwise.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "error");
    }
    match cli.command {
        Command::Demo => match adl_keeper::demo::run().await {
            Ok(report) => print!("{report}"),
            Err(e) => {
                eprintln!("demo failed: {e}");
                std::process::exit(1);
            }
        },
    }
}

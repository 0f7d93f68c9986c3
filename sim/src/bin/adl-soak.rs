//! The long adversarial run of the ADL lifecycle at engine speed (docs/reliability.md):
//!
//! ```sh
//! cargo run -p adl-sim --release --bin adl-soak -- --ops 1000000 --seeds 1
//! ```
//!
//! Every invariant of `adl_sim::soak` is checked after every operation; the first violation
//! panics with the seed. Prints what ran.

use std::time::Instant;

use adl_sim::soak::{run, SoakConfig};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

fn main() {
    let ops = arg("--ops", 1_000_000);
    let seeds = arg("--seeds", 1);
    let first = arg("--seed", 1);
    let cap = arg("--cap", 24) as usize;
    for seed in first..first + seeds {
        let t = Instant::now();
        let r = run(SoakConfig {
            seed,
            ops,
            cap,
            ..SoakConfig::default()
        });
        println!(
            "seed {seed}: {} operations in {:.1} s (cap {cap}); {r:#?}",
            r.ops,
            t.elapsed().as_secs_f64()
        );
    }
}

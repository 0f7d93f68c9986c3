//! The binary's own errors for bad configuration: exit code 1 and a message naming the
//! setting.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_adl-keeper"))
        .args(args)
        .env_remove("ADL_KEEPER_EXCHANGE")
        .env_remove("ADL_KEEPER_CONFIG")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_configuration_fails_clearly() {
    let (code, err) = run(&["queue"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("missing exchange: give --exchange, ADL_KEEPER_EXCHANGE"),
        "{err}"
    );
    let (code, err) = run(&["run", "--exchange", "notakey"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("exchange is not a base58 public key: notakey"),
        "{err}"
    );
    let (code, err) = run(&[
        "run",
        "--exchange",
        "KjuyTdtAs4kMGVGwToUzNncKg313ANnZpV5Tm3B2bSx",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("missing keypair"), "{err}");
    let (code, err) = run(&["--config", "/nonexistent/keeper.toml", "serve"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot read config file /nonexistent/keeper.toml"),
        "{err}"
    );
    let (code, err) = run(&[
        "queue",
        "--exchange",
        "KjuyTdtAs4kMGVGwToUzNncKg313ANnZpV5Tm3B2bSx",
        "--side",
        "up",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("side must be long, short or both"), "{err}");
    // clap itself rejects unknown subcommands with its usage error (exit code 2).
    let (code, err) = run(&["fly"]);
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand"), "{err}");
}

//! The binary's own errors for bad flags: exit code 1 (or clap's 2) and a message naming the
//! flag, before any validator starts.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_adl-localnet"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_flags_fail_clearly() {
    let (code, err) = run(&["--program-so", "/nonexistent/adl_engine.so"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--program-so /nonexistent/adl_engine.so: no such file"),
        "{err}"
    );
    let (code, err) = run(&["--port-range", "30000-30010"]);
    assert_eq!(code, 2);
    assert!(err.contains("narrower than 25 ports"), "{err}");
    let (code, err) = run(&["--port-range", "30000"]);
    assert_eq!(code, 2);
    assert!(err.contains("port range must be FIRST-LAST"), "{err}");
    let (code, err) = run(&["--bind", "localhost:1"]);
    assert_eq!(code, 2);
    assert!(err.contains("--bind"), "{err}");
    let (code, err) = run(&["--traders", "3"]);
    assert_eq!(code, 2);
    assert!(err.contains("--traders must be even"), "{err}");
    let (code, err) = run(&["--traders", "12", "--no-bootstrap"]);
    assert_eq!(code, 1);
    assert!(err.contains("--traders needs an exchange"), "{err}");
    let (code, err) = run(&["--traders", "12", "--capacity", "16"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--traders 12 needs a first market of capacity at least 20"),
        "{err}"
    );
}

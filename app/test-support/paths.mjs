// Where cargo puts its build output, resolved the way cargo does: `cargo metadata`'s
// `target_directory` honours CARGO_TARGET_DIR, `build.target-dir` in any cargo config and
// the default `<workspace>/target`. The Rust tests write their golden files to
// `<target>/golden` (tests/program/main.rs, golden_dir) and `cargo test --workspace` builds
// the workspace binaries into `<target>/debug`. ADL_TARGET_DIR overrides (scripts/test-all.sh
// sets it once for every npm step).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the nearest directory above this file holding Anchor.toml. */
export function repoRoot() {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "Anchor.toml"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("repository root (Anchor.toml) not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

let cached;

/** Cargo's target directory for this workspace. */
export function targetDir() {
  if (process.env.ADL_TARGET_DIR) return process.env.ADL_TARGET_DIR;
  if (cached === undefined) {
    const out = execFileSync("cargo", ["metadata", "--format-version", "1", "--no-deps", "--offline"], {
      cwd: repoRoot(),
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    cached = JSON.parse(out).target_directory;
  }
  return cached;
}

/** A golden file written by the Rust tests. */
export function goldenPath(name) {
  return join(targetDir(), "golden", name);
}

/** A workspace binary built by `cargo test --workspace` (debug profile). */
export function workspaceBin(name) {
  return join(targetDir(), "debug", name);
}

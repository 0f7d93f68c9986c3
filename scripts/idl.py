#!/usr/bin/env python3
"""Builds the program's IDL on the host with Anchor's `idl-build` feature and writes
idl/adl_engine.json; with --check, fails if the committed file differs.

It runs the same `cargo test __anchor_private_print_idl --features idl-build` that
`anchor idl build` runs and assembles the printed pieces the same way (module paths
shortened where unambiguous, sections sorted by name). It never selects a toolchain: the
repository's Rust toolchain is used as is.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = os.path.join(ROOT, "programs", "adl-engine")
OUT = os.path.join(ROOT, "idl", "adl_engine.json")


def build() -> dict:
    env = dict(os.environ)
    env.pop("RUSTUP_TOOLCHAIN", None)
    env.update(
        ANCHOR_IDL_BUILD_NO_DOCS="FALSE",
        ANCHOR_IDL_BUILD_RESOLUTION="TRUE",
        ANCHOR_IDL_BUILD_SKIP_LINT="FALSE",
        ANCHOR_IDL_BUILD_PROGRAM_PATH=PROGRAM,
    )
    out = subprocess.run(
        ["cargo", "test", "-p", "adl-engine", "--lib", "__anchor_private_print_idl",
         "--features", "idl-build", "--", "--show-output", "--quiet"],
        cwd=PROGRAM, env=env, stdout=subprocess.PIPE, check=True, text=True,
    ).stdout
    address, constants, events, errors, types, program = "", [], [], [], {}, None
    state, buf = None, []
    for line in out.splitlines():
        if state is None:
            m = re.fullmatch(r"--- IDL begin (address|const|event|errors|program) ---", line)
            if m:
                state, buf = m.group(1), []
            continue
        if state == "address":
            address = re.sub(r"[^0-9A-Za-z]", "", line)
            state = None
            continue
        if line == f"--- IDL end {state} ---":
            piece = json.loads("\n".join(buf))
            if state == "const":
                constants.append(piece)
            elif state == "event":
                events.append(piece["event"])
                for t in piece["types"]:
                    types[t["name"]] = t
            elif state == "errors":
                errors = piece
            else:
                program = piece
            state = None
            continue
        buf.append(line)
    if program is None:
        sys.exit("idl: the program's IDL piece was not printed")
    for t in program.get("types", []):
        types[t["name"]] = t
    program.update(address=address, constants=constants, events=events, errors=errors,
                   types=list(types.values()))
    return sort(shorten_paths(program))


def shorten_paths(idl: dict) -> dict:
    text = json.dumps(idl)
    for m in re.finditer(r'"(\w+::)+(\w+)"', json.dumps(idl)):
        path, name = m.group(0), m.group(2)
        replaced = text.replace(path, f'"{name}"')
        if not re.search(rf'"(\w+::)+{name}"', replaced):
            text = replaced
    return json.loads(text)


def sort(idl: dict) -> dict:
    for key in ("accounts", "constants", "events", "instructions", "types"):
        if key in idl:
            idl[key] = sorted(idl[key], key=lambda x: x["name"])
    order = ["address", "metadata", "docs", "instructions", "accounts", "events", "errors",
             "types", "constants"]
    return {k: idl[k] for k in order if k in idl and idl[k] != []}


def main() -> None:
    text = json.dumps(build(), indent=2) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                sys.exit("idl/adl_engine.json is stale: run `python3 scripts/idl.py` and commit it")
        print("idl/adl_engine.json is fresh")
        return
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()

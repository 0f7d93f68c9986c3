#!/usr/bin/env python3
"""Instruction counts per handler under Valgrind's callgrind (deterministic; x86-64
instructions are a proxy for SBF compute units, not a measurement of them).

    python3 scripts/callgrind.py            # prints the Markdown table of docs/BENCHMARKS.md

Needs valgrind (Debian `valgrind`). Builds `benches/callgrind.rs` with the bench profile and
the `cost-meter` feature, then runs each handler once per book size between the bench's
`measured` markers."""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANDLERS = ["trade", "add_margin", "liquidate", "start_adl", "auto_deleverage",
            "auto_deleverage_next", "adl_progress", "drain_measure", "drain_apply"]
SIZES = [1_000, 10_000, 100_000]


def build():
    out = subprocess.run(
        ["cargo", "bench", "-p", "adl-engine", "--bench", "callgrind", "--features",
         "cost-meter", "--no-run", "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "callgrind" \
                and m.get("executable"):
            return m["executable"]
    sys.exit("callgrind bench not built")


def run(exe, handler, n):
    with tempfile.TemporaryDirectory() as d:
        outf = os.path.join(d, "cg.out")
        p = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={outf}",
             "--collect-atstart=no", "--toggle-collect=*measured*", exe, handler, str(n)],
            check=True, capture_output=True, text=True)
        meter = json.loads(p.stdout.strip().splitlines()[-1])
        total = None
        with open(outf) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
        ann = subprocess.run(["callgrind_annotate", "--inclusive=no", outf],
                             check=True, capture_output=True, text=True).stdout
        mem = 0
        for line in ann.splitlines():
            if re.search(r"mem(move|cpy|set)", line):
                m = re.match(r"\s*([\d,]+)", line)
                if m:
                    mem += int(m.group(1).replace(",", ""))
        return total, mem, meter


def main():
    exe = build()
    rows = {}
    for h in HANDLERS:
        for n in SIZES:
            rows[(h, n)] = run(exe, h, n)
            t, mem, m = rows[(h, n)]
            print(f"{h} {n}: {t} instructions ({mem} in memmove/memcpy/memset) {m}",
                  file=sys.stderr)
    print("| handler | positions | instructions | of which memmove/memcpy | other instructions"
          " | other per fill | memmove bytes | fills | walk reads | entries read |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for h in HANDLERS:
        for n in SIZES:
            t, mem, m = rows[(h, n)]
            other = t - mem
            per_fill = f"{other // m['fills']:,}" if m["fills"] else "–"
            print(f"| {h} | {n:,} | {t:,} | {mem:,} | {other:,} | {per_fill} |"
                  f" {16 * m['memmove_entries']:,} | {m['fills']} | {m['walk_reads']:,} |"
                  f" {m['entries_read']:,} |")
    print()
    print("| handler | other instructions, 100k / 1k |")
    print("|---|---:|")
    for h in HANDLERS:
        a = rows[(h, SIZES[0])]
        z = rows[(h, SIZES[-1])]
        print(f"| {h} | {(z[0] - z[1]) / max(1, a[0] - a[1]):.2f} |")


if __name__ == "__main__":
    main()

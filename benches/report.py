#!/usr/bin/env python3
"""Prints the table of BENCHMARKS.md from criterion's last run.

Usage: python3 benches/report.py [TARGET_DIR]   (default: $CARGO_TARGET_DIR
or ./target). Reads TARGET_DIR/criterion/**/new/{benchmark,estimates}.json,
so run the benches first (see BENCHMARKS.md). Ratios are taken between
benches of the same run of the same bench binary.
"""
import glob
import json
import os
import sys

# bench id -> (baseline id, kind, limit): "ratio" means at most `limit`
# times the baseline's time per message; "gbps" at least `limit` GB/s.
TARGETS = {
    "decode/client/responses": ("decode/baseline_memchr_per_line/responses", "ratio", 2.5),
    "decode/server/requests": ("decode/baseline_memchr_per_line/requests", "ratio", 4.0),
    "decode/server/requests_owned": ("decode/baseline_memchr_per_line/requests", "ratio", None),
    "decode/decoder/requests": ("decode/baseline_memchr_per_line/requests", "ratio", None),
    "decode/floor_shared_texts/requests": ("decode/baseline_memchr_per_line/requests", "ratio", None),
    "decode/server/huge_2kib_chunks": (None, "gbps", 2.0),
    "decode/server/huge_2mib_2kib_chunks": (None, "gbps", 2.0),
}

# Heap allocations per message in steady state, as tests/alloc.rs checks
# them (see BENCHMARKS.md for the one case that allocates per buffer).
ALLOCS = {
    "decode/client/responses": "0",
    "decode/server/requests": "0",
    "decode/server/requests_owned": "0 ¹",
    "decode/decoder/requests": "0",
    "decode/server/huge_2kib_chunks": "buffer growth ²",
    "decode/server/huge_2mib_2kib_chunks": "buffer growth ²",
    "scaling/server_huge/512kib_2kib_chunks": "buffer growth ²",
    "encode/client/set_job": "0",
    "encode/client/requests": "0",
    "session/pipelined_roundtrip": "0",
}


def load(root):
    out = {}
    for est in glob.glob(f"{root}/**/new/estimates.json", recursive=True):
        d = os.path.dirname(est)
        bench = json.load(open(os.path.join(d, "benchmark.json")))
        median = json.load(open(est))["median"]["point_estimate"]  # ns
        tp = (bench.get("throughput") or {}).get("ElementsAndBytes") or {}
        out[bench["full_id"]] = (median, tp.get("elements"), tp.get("bytes"))
    return out


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target")
    runs = load(os.path.join(root, "criterion"))
    print("| bench | median | per message | throughput | same-run baseline | ratio | target | met | allocations per message |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for bid in sorted(runs):
        median, elements, nbytes = runs[bid]
        per = median / elements if elements else None
        gbps = nbytes / median if nbytes else None
        base, kind, limit = TARGETS.get(bid, (None, None, None))
        ratio = target = met = "—"
        base_cell = "—"
        if base and base in runs:
            b_med, b_el, _ = runs[base]
            b_per = b_med / b_el
            r = per / b_per
            ratio = f"{r:.2f}×"
            base_cell = f"`{base.split('/', 1)[1]}` {b_per:.2f} ns"
            if kind == "ratio" and limit:
                target = f"≤ {limit}×"
                met = "yes" if r <= limit else "no"
        if kind == "gbps":
            target = f"≥ {limit} GB/s"
            met = "yes" if gbps >= limit else "no"
        per_cell = (f"{per:.1f} ns" if per < 1e4 else fmt_time(per)) if per else "—"
        tp_cell = f"{gbps:.2f} GB/s" if gbps else "—"
        allocs = ALLOCS.get(bid, "0" if bid.startswith("scaling/client") else "—")
        print(f"| `{bid}` | {fmt_time(median)} | {per_cell} | {tp_cell} | {base_cell} | {ratio} "
              f"| {target} | {met} | {allocs} |")
    small = runs.get("decode/server/huge_2mib_2kib_chunks")
    large = runs.get("decode/server/huge_2kib_chunks")
    if small and large:
        r = large[0] / (4 * small[0])
        verdict = "yes" if r <= 1.10 else "no"
        print(f"\nLinearity: 8 MiB takes {r:.3f} × (4 × the 2 MiB time); "
              f"target ≤ 1.10: {verdict}.")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Measures `kairoi-cli --json bench` against the reference Kairoi server
# (../shared/reference-server) and draws the charts of BENCHMARKS.md from
# it with cli/examples/bench_charts.rs. Release builds.
#
# The reference server's cost per SET grows with its store, and more for
# a job it already holds (it removes the old entry from its ordered
# vector with a pass over the whole vector). So:
#
# - the charted sweeps run each connection count on a fresh server
#   (`bench --connections C`, every job new to it), the order of the
#   counts alternating from sweep to sweep (odd sweeps ascending, even
#   ones descending): OUT_DIR/runs/fresh-N-up.jsonl, fresh-N-down.jsonl;
# - then one sweep in each order in one process on one fresh server, as
#   `bench --connections 1,2,4,8` runs it, where every row after the
#   first reschedules the jobs the first one set:
#   OUT_DIR/runs/one-server-up.jsonl, one-server-down.jsonl.
#
# The load average before each run goes to OUT_DIR/runs/load.txt.
#
#   cli/scripts/bench-charts.sh [OUT_DIR] [JOBS] [SWEEPS] [CONNECTIONS]
#   cli/scripts/bench-charts.sh docs/charts 50000 4 1,2,4,8
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-docs/charts} jobs=${2:-50000} sweeps=${3:-4} connections=${4:-1,2,4,8}
reference=../shared/reference-server
[ -x "$reference/build.sh" ] || { echo "needs $reference (see cli/README.md)" >&2; exit 1; }
bin=$("$reference/build.sh" | tail -n 1)
cargo build -q --release -p kairoi-cli --bin kairoi-cli --example bench_charts
cli=target/release/kairoi-cli charts=target/release/examples/bench_charts
descending=$(tr ',' '\n' <<< "$connections" | tac | paste -sd, -)
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
port=15760
mkdir -p "$out/runs"
rm -f "$out"/runs/*.jsonl "$out/runs/load.txt"

# Starts a fresh reference server on $port, with an empty database.
up() {
    local dir
    dir=$(mktemp -d -p "$work")
    pid=$("$reference/run.sh" "$bin" "$port" "$dir")
    for _ in $(seq 100); do
        (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "the reference server did not start: $(cat "$dir/server.log")" >&2
    return 1
}

# Stops it, and waits for its port to be free.
down() {
    kill "$pid"
    pid=
    for _ in $(seq 100); do
        (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 0
        sleep 0.1
    done
}

# One bench of $2 (a count or a list) on a fresh server, its rows
# appended to the file $1.
bench() {
    up
    echo "$(basename "$1" .jsonl) --connections $2: $(uptime)" | tee -a "$out/runs/load.txt" >&2
    "$cli" --addr "127.0.0.1:$port" --json bench --jobs "$jobs" --connections "$2" >> "$1"
    down
}

for sweep in $(seq "$sweeps"); do
    if [ $((sweep % 2)) -eq 1 ]; then order=$connections name=fresh-$sweep-up; else order=$descending name=fresh-$sweep-down; fi
    for count in ${order//,/ }; do
        bench "$out/runs/$name.jsonl" "$count"
    done
done
bench "$out/runs/one-server-up.jsonl" "$connections"
bench "$out/runs/one-server-down.jsonl" "$descending"
"$charts" "$out" "$out"/runs/fresh-*.jsonl

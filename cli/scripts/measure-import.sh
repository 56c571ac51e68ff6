#!/usr/bin/env bash
# Measures `kairoi-cli import` end to end next to raw pipelined sockets
# (examples/raw_pipeline.rs) in the same run, against a fresh server for
# every command: `kairoi-cli serve` (the TestServer), and the reference
# Kairoi server when ../shared/reference-server is present. The order
# alternates from round to round. Whole-process wall times.
#
#   cli/scripts/measure-import.sh [JOBS] [ROUNDS] [CONNECTIONS] [test|reference|both]
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${1:-100000} rounds=${2:-3} connections=${3:-1} which=${4:-both}
cargo build -q --release -p kairoi-cli --bin kairoi-cli --example raw_pipeline
cli=target/release/kairoi-cli raw=target/release/examples/raw_pipeline
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
awk -v n="$jobs" 'BEGIN { for (i = 0; i < n; i++) printf "{\"job\": \"imp.%d\", \"at\": \"2030-01-01 08:00:00\"}\n", i }' > "$work/jobs.jsonl"

# Starts a fresh server of kind $1; sets $addr and pushes its PID.
start() {
    if [ "$1" = test ]; then
        "$cli" serve --listen 127.0.0.1:0 > "$work/serve.out" 2>&1 &
        pids+=($!)
        for _ in $(seq 100); do
            addr=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$work/serve.out")
            [ -n "$addr" ] && return 0
            sleep 0.05
        done
    else
        local port=15750 dir
        dir=$(mktemp -d -p "$work")
        pids+=("$(../shared/reference-server/run.sh "$bin" "$port" "$dir")")
        addr=127.0.0.1:$port
        for _ in $(seq 100); do
            (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
            sleep 0.1
        done
    fi
    echo "the $1 server did not start" >&2
    return 1
}

stop() {
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
}

# Runs one command against a fresh server; prints its jobs per second,
# and fails unless every job ended OK.
measure() {
    local kind=$1 what=$2 t0 t1
    start "$kind"
    t0=$(date +%s.%N)
    if [ "$what" = import ]; then
        "$cli" --addr "$addr" -q import --connections "$connections" "$work/jobs.jsonl" ||
            { echo "import: not every job ended OK" >&2; exit 1; }
    else
        "$raw" "$addr" "$jobs" "$connections" 1024 > "$work/raw.out"
        grep -q " $jobs OK\$" "$work/raw.out" || { cat "$work/raw.out" >&2; exit 1; }
    fi
    t1=$(date +%s.%N)
    stop
    awk -v a="$t0" -v b="$t1" -v n="$jobs" 'BEGIN { printf "%.0f", n / (b - a) }'
}

kinds=()
[ "$which" != reference ] && kinds+=(test)
if [ "$which" != test ] && [ -x ../shared/reference-server/build.sh ]; then
    bin=$(../shared/reference-server/build.sh | tail -n 1)
    kinds+=(reference)
fi
echo "jobs=$jobs connections=$connections rounds=$rounds (jobs/s, whole process)"
for kind in "${kinds[@]}"; do
    for round in $(seq "$rounds"); do
        if [ $((round % 2)) -eq 1 ]; then
            i=$(measure "$kind" import); r=$(measure "$kind" raw)
        else
            r=$(measure "$kind" raw); i=$(measure "$kind" import)
        fi
        awk -v k="$kind" -v n="$round" -v i="$i" -v r="$r" \
            'BEGIN { printf "%s round %d: import %d, raw sockets %d, ratio %.3f\n", k, n, i, r, i / r }'
    done
done

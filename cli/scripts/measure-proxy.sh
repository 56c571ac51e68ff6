#!/usr/bin/env bash
# Measures `kairoi-cli proxy` in front of three `kairoi-cli serve`
# (TestServers): the proxy process's CPU time (user + system, from
# /proc/PID/stat) per request forwarded, and the rate of `kairoi-cli bench`
# through it next to the same bench over the three servers directly, in
# alternating rounds of the same run. Release builds.
#
#   cli/scripts/measure-proxy.sh [JOBS] [ROUNDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${1:-100000} rounds=${2:-3} connections=${3:-2}
cargo build -q --release -p kairoi-cli --bin kairoi-cli
cli=target/release/kairoi-cli
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

# Starts `$cli $@` in the background, waits for its `listening on ADDR`
# line; sets $addr and $pid.
start() {
    local out="$work/$RANDOM.out"
    "$cli" "$@" > "$out" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 200); do
        addr=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$out")
        [ -n "$addr" ] && return 0
        sleep 0.05
    done
    echo "no listening line from $*: $(cat "$out")" >&2
    exit 1
}

list=""
for name in a b c; do
    start serve --listen 127.0.0.1:0
    list="$list${list:+,}$name=$addr"
done
start --addr "$list" proxy --listen 127.0.0.1:0 --connections "$connections"
proxy=$addr proxy_pid=$pid
ticks=$(getconf CLK_TCK)

# The proxy's CPU time so far, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$proxy_pid/stat"; }
# The jobs per second of one bench.
rate() { "$cli" --json --addr "$1" bench --jobs "$jobs" --connections "$2" | sed -n 's/.*"jobs_per_second":\([0-9.]*\).*/\1/p'; }

total_cpu=0
for round in $(seq "$rounds"); do
    for turn in 0 1; do
        if [ $(( (round + turn) % 2 )) -eq 0 ]; then
            r=$(rate "$list" "$connections")
            echo "round $round: the sharded client directly ($connections connections to each): $r jobs/s"
        else
            before=$(cpu)
            r=$(rate "$proxy" $((3 * connections)))
            used=$(( $(cpu) - before ))
            total_cpu=$((total_cpu + used))
            echo "round $round: through the proxy ($((3 * connections)) connections to it): $r jobs/s;" \
                "proxy CPU $(awk -v t="$used" -v k="$ticks" -v n="$jobs" 'BEGIN { printf "%.2f µs", t / k * 1e6 / n }') per request"
        fi
    done
done
awk -v t="$total_cpu" -v k="$ticks" -v n="$((jobs * rounds))" \
    'BEGIN { printf "proxy CPU time per request, over %d requests: %.2f µs\n", n, t / k * 1e6 / n }'

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The broker's memory with its L1 full and many idle clients.
#
#   tests/bench/run-rss.sh [BUILD]
# Environment (all optional):
#   L1_SIZE=64m         the broker's l1_size
#   KEYS=400000         keys stored (VALUE_SIZE bytes each), read twice
#                       and more so that the L1 fills
#   VALUE_SIZE=200 CLIENTS=1000 CONTEXTS=128 DURATION=10
#
# Starts redis-server and cachebrokerd (l1_size, the benchmark namespace
# opted in) in a temp dir, stores the keys, reads them with cb_bench's
# Gets for DURATION seconds (64 in flight, evenly), then holds CLIENTS
# idle connections open and prints the broker's RSS at each step beside
# the L1's bytes and entries (Metrics). The goal of issue #15: RSS with
# the L1 full and 1,000 idle clients at most l1_size + 32 MiB.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'bench: %s\n' "$*" >&2; }
# shellcheck source=common.sh
. "$here/common.sh"
bench_build_dir "${1:-}"
L1_SIZE=${L1_SIZE:-64m}
KEYS=${KEYS:-400000}
VALUE_SIZE=${VALUE_SIZE:-200}
CLIENTS=${CLIENTS:-1000}
CONTEXTS=${CONTEXTS:-128}
DURATION=${DURATION:-10}
BROKER_REDIS_CONNECTIONS=2
NS=bench

tmp=$(mktemp -d /tmp/cbrss.XXXXXX)
pids=()
cleanup() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

start_redis
pids+=("$redis_pid")
broker_url="ipc://$tmp/broker.sock"
{
	bench_broker_conf "$CONTEXTS" 127.0.0.1
	printf '[broker]\nl1_size = %s\nmax_connections = 0\n' "$L1_SIZE"
	printf '[namespace %s]\nl1 = yes\n' "$NS"
} >"$tmp/broker.conf"
run_broker "$tmp/broker.conf"
pids+=("$broker_pid")

# rss: the broker's resident set in KiB.
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$broker_pid/status"; }

# report STEP: one line of the table.
report() {
	local m
	m=$("$CLI" -u "$broker_url" --json metrics |
		/usr/bin/python3 -c 'import json, sys
l1 = json.load(sys.stdin)["l1"]
print(l1["bytes"], l1["entries"])')
	# shellcheck disable=SC2086 # two words: bytes, entries
	printf '%-28s %10d %12s %10s\n' "$1" "$(($(rss) / 1024))" $m
}

printf '%-28s %10s %12s %10s\n' step "RSS MiB" "L1 bytes" "L1 entries"
report "started"
"$CB_BENCH" preset --url "$broker_url" --namespace "$NS" --key k \
	--keys "$KEYS" --value-size "$VALUE_SIZE" >/dev/null
report "$KEYS keys stored"
"$CB_BENCH" load --url "$broker_url" --mode get --engine aio \
	--concurrency 64 --duration "$DURATION" --warmup 0 --namespace "$NS" \
	--key k --keys "$KEYS" --value-size "$VALUE_SIZE" >/dev/null
report "read ${DURATION}s (L1 full)"
"$CB_BENCH" idle "$broker_url" "$CLIENTS" 5 >"$tmp/idle.out" &
idle=$!
for _ in $(seq 50); do
	grep -q connected "$tmp/idle.out" 2>/dev/null && break
	sleep 0.1
done
grep -q connected "$tmp/idle.out" || die "the idle clients did not connect"
sleep 1
report "+ $CLIENTS idle clients"
wait "$idle"
echo "l1_size $L1_SIZE; goal: RSS <= l1_size + 32 MiB"

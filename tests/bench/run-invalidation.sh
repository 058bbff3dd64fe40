#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The warming and invalidation benchmark: Warm of 10,000 keys, the lag
# from a database commit to the key's eviction, InvalidatePattern of
# 100,000 keys against a PING loop.
#
#   tests/bench/run-invalidation.sh [BUILD]   BUILD: the build dir (or
#                                             $BUILD, default "build")
# Environment (all optional):
#   WARM_KEYS=10000          ids the warm strategies list
#   WARM_CONCURRENCY="2 8"   one warm row per [warm] concurrency
#   DB_CONNECTIONS=8         the broker's [database] connections
#   LAG_UPDATES=1000         UPDATEs timed from commit to eviction
#   PATTERN_KEYS=100000      keys in the namespace invalidated (and as many
#                            in the one that must stay)
#   SCAN_COUNTS="1000 100 10000"  one pattern row per [redis] scan_count
#   IDLE=2                   seconds of the idle PING loop before each
#   PING_GAP_US=100          pause between two PINGs of the loop
#   REPEAT=3                 runs of each warm and pattern row (in turns;
#                            the table shows the run with the median time)
#   ROWS="warm lag pattern"  which groups of rows to run
#   KEEP=1                   keep the temp dir (logs, configs, raw results)
#   MARKDOWN=FILE            also write the table as Markdown to FILE
#
# Starts, in a temp dir and on free loopback ports: redis-server, a private
# PostgreSQL with tests/bench/fetch-schema.sql and inval-schema.sql (a
# trigger that NOTIFYs every UPDATE), and cachebrokerd with the bench.item
# resource, an event rule, warm strategies and notify_channel; for the
# pattern rows, one broker per scan_count. Prints one table and stops
# everything. Exits non-zero when a row could not be measured or failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'bench-invalidation: %s\n' "$*" >&2; }
# shellcheck source=common.sh
. "$here/common.sh"
bench_build_dir "${1:-}"
WARM_KEYS=${WARM_KEYS:-10000}
WARM_CONCURRENCY=${WARM_CONCURRENCY:-2 8}
DB_CONNECTIONS=${DB_CONNECTIONS:-8}
LAG_UPDATES=${LAG_UPDATES:-1000}
PATTERN_KEYS=${PATTERN_KEYS:-100000}
SCAN_COUNTS=${SCAN_COUNTS:-1000 100 10000}
IDLE=${IDLE:-2}
PING_GAP_US=${PING_GAP_US:-100}
REPEAT=${REPEAT:-3}
ROWS=${ROWS:-warm lag pattern}

CB_INVAL=$BUILD/tests/bench/cb_inval_bench

# The resource's loader (a point query by primary key) and the write whose
# commit must evict its key.
# shellcheck disable=SC2016 # $1 is the statement's parameter
POINT_SQL='SELECT row_to_json(i)::text FROM bench.items i WHERE i.id = $1'
# shellcheck disable=SC2016
UPDATE_SQL='UPDATE bench.items SET stock = stock + 1 WHERE id = $1'
LAG_FIRST=20001 # ids the warm rows do not touch
CHANNEL=cb_bench

want() { [[ " $ROWS " == *" $1 "* ]]; }

need_built "$CB_BENCH" "$CB_INVAL" "$BROKERD" "$CLI"
need_cmds redis-server redis-cli
need_pg

bench_tmp cbinval

pg_conninfo() {
	printf 'host=127.0.0.1 port=%s dbname=bench user=%s' "$pg_port" \
		"$PG_USER"
}

# broker_conf SCAN_COUNT [db]: the broker's config; with "db", the
# database, the resource, the event rule and one warm strategy per
# WARM_CONCURRENCY.
broker_conf() {
	local c
	cat <<-EOF
		[broker]
		listen = $broker_url
		http =
		max_deadline = 10m
		[redis]
		host = 127.0.0.1
		port = $redis_port
		connections = 2
		scan_count = $1
	EOF
	[[ ${2:-} == db ]] || return 0
	cat <<-EOF
		[database]
		conninfo = $(pg_conninfo) application_name=cachebrokerd
		connections = $DB_CONNECTIONS
		statement_timeout = 5s
		notify_channel = $CHANNEL
		[resource bench.item]
		key = bench:item:{id}
		param = id int
		sql = $POINT_SQL
		ttl = 1h
		[event items.updated]
		param = id int
		invalidate = bench:item:{id}
	EOF
	for c in $WARM_CONCURRENCY; do
		cat <<-EOF
			[warm items-c$c]
			resource = bench.item
			sql = SELECT id FROM bench.items WHERE id <= $WARM_KEYS ORDER BY id
			startup = no
			concurrency = $c
		EOF
	done
}

# listening: the broker's LISTEN connection is up.
listening() {
	[[ $(psql_db bench -c "SELECT count(*) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN%'") -ge 1 ]]
}

# lag ARGS...: the lag command against the main broker.
lag() {
	"$CB_INVAL" lag --url "$broker_url" --redis "127.0.0.1:$redis_port" \
		--pg "$(pg_conninfo)" --sql "$UPDATE_SQL" --resource bench.item \
		--param id --key-prefix bench:item: "$@"
}

# --- the run ---------------------------------------------------------------

log "temp dir $tmp"
start_redis || die "redis-server did not start"
start_pg 100 || die "PostgreSQL did not start"
log "PostgreSQL on port $pg_port: loading the schema"
load_schema "$here/fetch-schema.sql" "$here/inval-schema.sql" || {
	cat "$tmp/schema.log" >&2 || true
	die "the schema did not load"
}

if want warm || want lag; then
	broker_conf 1000 db >"$tmp/broker.conf"
	run_broker "$tmp/broker.conf" || die "cachebrokerd did not start"
	wait_for 15 listening || die "the broker does not LISTEN"
	# Warm-up, not measured: connections, prepared statements, and the
	# notification path end to end (which also waits out the flush of
	# what the event rules cover that follows the first LISTEN).
	log "warm-up"
	for try in $(seq 20); do
		if lag --first 30001 --keys 20 >"$tmp/res/warm-up.log" 2>&1; then
			break
		fi
		((try < 20)) || die "commits do not evict (see $tmp/res/warm-up.log)"
		sleep 0.5
	done
	"$CB_INVAL" warm --url "$broker_url" \
		--strategy "items-c${WARM_CONCURRENCY##* }" >/dev/null ||
		die "the warm-up's Warm failed"
fi

# 1. Warm: the same 10,000 ids at each concurrency, from an empty Redis;
# the concurrencies take turns, REPEAT times.
if want warm; then
	for _ in $(seq "$REPEAT"); do
		for c in $WARM_CONCURRENCY; do
			flush_redis
			run_row "warm-c$c" "$CB_INVAL" warm \
				--url "$broker_url" --strategy "items-c$c" \
				--expect "$WARM_KEYS"
		done
	done
fi

# 2. Commit to eviction, one row at a time.
if want lag; then
	flush_redis
	run_row commit-to-evict lag --first "$LAG_FIRST" --keys "$LAG_UPDATES"
fi
stop_broker || failed=1

# 3. InvalidatePattern(pat, "*") of PATTERN_KEYS keys, PATTERN_KEYS more
# in keep; a broker of its own for each scan_count. The scan_counts take
# turns, REPEAT times.
if want pattern; then
	for _ in $(seq "$REPEAT"); do
		for sc in $SCAN_COUNTS; do
			flush_redis
			broker_conf "$sc" >"$tmp/pattern-$sc.conf"
			if ! run_broker "$tmp/pattern-$sc.conf"; then
				row_fail "pattern-scan$sc" "the broker did not start"
				continue
			fi
			run_row "pattern-scan$sc" "$CB_INVAL" pattern \
				--url "$broker_url" \
				--redis "127.0.0.1:$redis_port" --namespace pat \
				--keep keep --keys "$PATTERN_KEYS" --idle "$IDLE" \
				--ping-gap-us "$PING_GAP_US" \
				--pid broker="$broker_pid" --pid redis="$redis_pid"
			stop_broker || failed=1
		done
	done
fi

# --- the table -------------------------------------------------------------

title="cachebroker warming and invalidation benchmark"
title+=", $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, code $(bench_rev)"
title+="; redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/')"
title+=", PostgreSQL $(psql_db bench -c 'SHOW server_version' | cut -d' ' -f1)"
bench_table "$title" "$here/inval-table.awk"

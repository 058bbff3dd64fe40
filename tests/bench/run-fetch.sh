#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The read-through benchmark: Fetch hit vs miss, the stampede, Zipf.
#
#   tests/bench/run-fetch.sh [BUILD]      BUILD: the build dir (or $BUILD,
#                                         default "build")
# Environment (all optional):
#   POINT_MISSES=1000       cold point keys fetched one after another
#   LIST_MISSES=300         cold 1,000-row lists fetched one after another
#   HITS=3000               hits per resource (over the keys just loaded)
#   WORKERS=500             stampede: calls released at once on one key
#   STAMPEDE_REPEAT=5       stampede runs (the table shows the median)
#   NAIVE=1                 0: no naive cache-aside stampede rows
#   ZIPF_REQUESTS=1000000   per Zipf pass
#   ZIPF_CONCURRENCY=64     Fetches in flight during the Zipf passes
#   ZIPF_ENGINE=aio         aio (nng contexts) or threads (libcachebroker)
#   ZIPF_EXPONENT=1.0 ZIPF_SEED=1
#   ZIPF_WARM=1             0: skip the second (warm) Zipf pass
#   ROWS="latency stampede zipf"  which groups of rows to run
#   BROKER_REDIS_CONNECTIONS=2  the broker's [redis] connections
#   KEEP=1                  keep the temp dir (logs, configs, raw results)
#   MARKDOWN=FILE           also write the table as Markdown to FILE
#
# Starts, in a temp dir and on free loopback ports: redis-server, a private
# PostgreSQL (initdb and pg_ctl as the postgres user; pg_stat_statements,
# trust authentication, 127.0.0.1 only) with tests/bench/fetch-schema.sql,
# and cachebrokerd with two read-through resources on it. Runs every row,
# counting each row's database queries on the database side
# (pg_stat_statements), prints one table and stops everything. Exits
# non-zero when a row could not be measured or had failed requests;
# missed targets only say MISSED.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'bench-fetch: %s\n' "$*" >&2; }
# shellcheck source=common.sh
. "$here/common.sh"
bench_build_dir "${1:-}"
POINT_MISSES=${POINT_MISSES:-1000}
LIST_MISSES=${LIST_MISSES:-300}
HITS=${HITS:-3000}
WORKERS=${WORKERS:-500}
STAMPEDE_REPEAT=${STAMPEDE_REPEAT:-5}
NAIVE=${NAIVE:-1}
BROKER_REDIS_CONNECTIONS=${BROKER_REDIS_CONNECTIONS:-2}
ZIPF_KEYS=100000 # the rows of bench.items
ZIPF_REQUESTS=${ZIPF_REQUESTS:-1000000}
ZIPF_CONCURRENCY=${ZIPF_CONCURRENCY:-64}
ZIPF_ENGINE=${ZIPF_ENGINE:-aio}
ZIPF_EXPONENT=${ZIPF_EXPONENT:-1.0}
ZIPF_SEED=${ZIPF_SEED:-1}
ZIPF_WARM=${ZIPF_WARM:-1}
ROWS=${ROWS:-latency stampede zipf}

CB_FETCH=$BUILD/tests/bench/cb_fetch_bench

# The two resources' loaders; the naive client runs the same SQL.
# shellcheck disable=SC2016 # $1 is the loader's parameter
POINT_SQL='SELECT row_to_json(i)::text FROM bench.items i WHERE i.id = $1'
LIST_SQL='SELECT json_agg(i ORDER BY i.id)::text FROM bench.items i'
# shellcheck disable=SC2016
LIST_SQL+=' WHERE i.id BETWEEN $1 AND $1 + 999'
TTL_MS=3600000 # 1h, the resources' ttl

want() { [[ " $ROWS " == *" $1 "* ]]; }

need_built "$CB_BENCH" "$CB_FETCH" "$BROKERD" "$CLI"
need_cmds redis-server redis-cli redis-benchmark
need_pg

# The naive stampede holds a Redis and a PostgreSQL socket per worker.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

bench_tmp cbfetch

# probe_fetch: one Fetch (its output in $tmp/probe.log).
probe_fetch() {
	"$CB_FETCH" latency --url "$broker_url" --resource bench.item \
		--param id --first 100000 --keys 1 --expect any \
		>"$tmp/probe.log" 2>&1
}

start_broker() {
	# Contexts above WORKERS: the whole stampede is inside the broker
	# at once rather than queued in the socket.
	cat >"$tmp/broker.conf" <<-EOF
		[broker]
		listen = $broker_url
		http =
		contexts = $((WORKERS + 524))
		[redis]
		host = 127.0.0.1
		port = $redis_port
		connections = $BROKER_REDIS_CONNECTIONS
		[database]
		conninfo = host=127.0.0.1 port=$pg_port dbname=bench user=$PG_USER application_name=cachebrokerd
		connections = 4
		statement_timeout = 5s
		[resource bench.item]
		key = bench:item:{id}
		param = id int
		sql = $POINT_SQL
		ttl = 1h
		[resource bench.list]
		key = bench:list:{start}
		param = start int
		sql = $LIST_SQL
		ttl = 1h
	EOF
	# Ready: Health answers, and a Fetch goes through to the database
	# (the loader connections come up after the listener).
	run_broker "$tmp/broker.conf" || return 1
	if ! wait_for 15 probe_fetch; then
		log "cachebrokerd did not load; the last Fetch said:"
		cat "$tmp/probe.log" >&2 || true
		return 1
	fi
}

# --- rows ------------------------------------------------------------------
#
# Each row is one line of name=value pairs in $results: cb_fetch_bench's,
# plus queries= (the database's count) and note= when something failed.

# server_pids: --pid arguments for the broker, Redis and the broker's
# database backends (their CPU is the server side's).
server_pids() {
	local pid n=0
	printf -- '--pid broker=%s --pid redis=%s' "$broker_pid" "$redis_pid"
	for pid in $(psql_db bench -c "SELECT pid FROM pg_stat_activity
		WHERE application_name = 'cachebrokerd' ORDER BY pid"); do
		n=$((n + 1))
		printf -- ' --pid pg%d=%s' "$n" "$pid"
	done
}

# misses: Redis' keyspace_misses so far.
misses() {
	redis-cli -p "$redis_port" info stats | tr -d '\r' |
		awk -F: '$1 == "keyspace_misses" { print $2 }'
}

# redis_get ROW KEY N: N GETs of KEY straight from Redis, one at a time
# (redis-benchmark): what reading the value costs without the broker.
redis_get() {
	local row=$1 key=$2 n=$3 out m0 m1 bytes
	log "$row"
	bytes=$(redis-cli -p "$redis_port" strlen "$key")
	m0=$(misses)
	out=$(redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 1 -n "$n" \
		--csv GET "$key" 2>"$tmp/res/$row.err") || true
	m1=$(misses)
	# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
	awk -F'"' -v row="$row" -v n="$n" -v b="$bytes" -v m="$((m1 - m0))" '
		$2 ~ /^GET/ {
			printf "row=%s concurrency=1 count=%d errors=%d " \
			    "rps=%s p50_us=%.1f p99_us=%.1f hits=%d " \
			    "value_bytes=%d", row, n, m, $4, $10 * 1000,
			    $14 * 1000, n - m, b
			if (m > 0) printf " note=%d_GETs_missed", m
			printf "\n"
			found = 1
		}
		END { if (!found) printf "row=%s note=redis-benchmark_failed\n", row }
	' <<<"$out" >>"$results"
	if grep -q "row=$row .*note=" "$results"; then
		failed=1
	fi
}

# --- the run ---------------------------------------------------------------

log "temp dir $tmp"
start_redis || die "redis-server did not start"
# Connections for the naive stampede's workers, the broker and psql.
start_pg $((WORKERS + 50)) || die "PostgreSQL did not start"
log "PostgreSQL on port $pg_port: loading $here/fetch-schema.sql"
load_schema "$here/fetch-schema.sql" || {
	cat "$tmp/schema.log" >&2 || true
	die "the schema did not load"
}
start_broker || die "cachebrokerd did not start"
read -r -a pids <<<"$(server_pids)"

latency() { "$CB_FETCH" latency --url "$broker_url" "${pids[@]}" "$@"; }
point() { latency --resource bench.item --param id "$@"; }
list() { latency --resource bench.list --param start "$@"; }

# Warm-up, not measured: connections, prepared statements, the table in
# PostgreSQL's buffers, on keys no row below uses.
log "warm-up"
point --first 95001 --keys 200 --expect miss >/dev/null 2>&1 || true
point --first 95001 --keys 200 --requests 1000 --expect hit \
	>/dev/null 2>&1 || true
list --first 90001 --step 100 --keys 20 --expect miss >/dev/null 2>&1 || true
psql_db bench -c 'SELECT count(*) FROM bench.items' >/dev/null

# 1. Hit vs miss at concurrency 1: cold keys each time, then the same keys
# warm. List starts 97 apart: every list is a key of its own.
if want latency; then
	run_row point-miss point --first 1 --keys "$POINT_MISSES" \
		--expect miss
	run_row point-hit point --first 1 --keys "$POINT_MISSES" \
		--requests "$HITS" --expect hit
	run_row list-miss list --first 1 --step 97 --keys "$LIST_MISSES" \
		--expect miss
	run_row list-hit list --first 1 --step 97 --keys "$LIST_MISSES" \
		--requests "$HITS" --expect hit
	redis_get list-redis-get bench:list:1 "$HITS"
fi

# 2. The stampede: WORKERS calls of one cold key released at once, through
# the broker, then the naive client on another cold key.
stampede() {
	local res=$1 param=$2 sql=$3 value=$4 naive_value=$5
	flush_redis
	run_row "stampede-$res-broker" "$CB_FETCH" stampede \
		--url "$broker_url" --resource "bench.$res" --param "$param" \
		--value "$value" --workers "$WORKERS" --timeout 60000
	[[ $NAIVE == 1 ]] || return 0
	run_row "stampede-$res-naive" "$CB_FETCH" stampede --naive \
		--redis "127.0.0.1:$redis_port" \
		--pg "host=127.0.0.1 port=$pg_port dbname=bench user=$PG_USER" \
		--sql "$sql" --key "bench:$res:$naive_value" \
		--ttl-ms "$TTL_MS" --value "$naive_value" --workers "$WORKERS"
}
if want stampede; then
	for rep in $(seq "$STAMPEDE_REPEAT"); do
		stampede item id "$POINT_SQL" $((77000 + rep)) $((78000 + rep))
		stampede list start "$LIST_SQL" $((50000 + rep)) \
			$((60000 + rep))
	done
fi

# 3. Zipf over every item, from an empty cache; then a second pass of a
# new sequence over the cache the first one left (steady state).
zipf() {
	"$CB_FETCH" zipf --url "$broker_url" --resource bench.item --param id \
		--keys "$ZIPF_KEYS" --requests "$ZIPF_REQUESTS" \
		--exponent "$ZIPF_EXPONENT" --concurrency "$ZIPF_CONCURRENCY" \
		--engine "$ZIPF_ENGINE" "${pids[@]}" "$@"
}
if want zipf; then
	flush_redis
	run_row zipf-cold zipf --seed "$ZIPF_SEED"
	if [[ $ZIPF_WARM == 1 ]]; then
		run_row zipf-warm zipf --seed "$((ZIPF_SEED + 1))" \
			--after-seed "$ZIPF_SEED"
	fi
fi

# --- the table -------------------------------------------------------------

rev=$(bench_rev)
title="cachebroker read-through benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
title+=", $(nproc) CPUs, code $rev; Zipf($ZIPF_EXPONENT) over $ZIPF_KEYS keys"
title+=", $ZIPF_REQUESTS requests per pass, $ZIPF_CONCURRENCY in flight"
title+=" ($ZIPF_ENGINE); stampede of $WORKERS, $STAMPEDE_REPEAT runs"
bench_table "$title" "$here/fetch-table.awk"

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
root=$(cd "$here/../.." && pwd)

BUILD=${1:-${BUILD:-build}}
if [[ ! -d $BUILD && -d $root/$BUILD ]]; then
	BUILD=$root/$BUILD
fi
BUILD=$(cd "$BUILD" && pwd)
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

CB_BENCH=$BUILD/tests/bench/cb_bench
CB_FETCH=$BUILD/tests/bench/cb_fetch_bench
BROKERD=$BUILD/broker/cachebrokerd
CLI=$BUILD/clients/cli/cachebroker
PG_USER=postgres

# The two resources' loaders; the naive client runs the same SQL.
POINT_SQL='SELECT row_to_json(i)::text FROM bench.items i WHERE i.id = $1'
LIST_SQL='SELECT json_agg(i ORDER BY i.id)::text FROM bench.items i'
LIST_SQL+=' WHERE i.id BETWEEN $1 AND $1 + 999'
TTL_MS=3600000 # 1h, the resources' ttl

log() { printf 'bench-fetch: %s\n' "$*" >&2; }
want() { [[ " $ROWS " == *" $1 "* ]]; }
die() { log "$*"; exit 1; }

for tool in "$CB_BENCH" "$CB_FETCH" "$BROKERD" "$CLI"; do
	[[ -x $tool ]] || die "$tool not built (cmake --build $BUILD)"
done
for tool in redis-server redis-cli redis-benchmark psql pg_config runuser; do
	command -v "$tool" >/dev/null ||
		die "$tool not found (apt-get install redis-server postgresql)"
done
PG_BIN=$(pg_config --bindir)
[[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] ||
	die "no initdb/pg_ctl in $PG_BIN"
id "$PG_USER" >/dev/null 2>&1 || die "there is no user $PG_USER"

# The naive stampede holds a Redis and a PostgreSQL socket per worker.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

tmp=$(mktemp -d /tmp/cbfetch.XXXXXX)
chmod 711 "$tmp" # the postgres user must reach $tmp/pg
mkdir "$tmp/pg" "$tmp/res"
chown "$PG_USER:" "$tmp/pg"
results=$tmp/res/results
: >"$results"
failed=0
redis_pid=
broker_pid=
pg_up=0

# as_pg CMD...: run CMD as the postgres user (we are root).
as_pg() {
	if ((EUID == 0)); then
		runuser -u "$PG_USER" -- "$@"
	else
		"$@"
	fi
}

# stop_pid PID: SIGTERM, up to 15 s, then SIGKILL; the exit status goes to
# $stopped ("gone" if it had already been reaped).
stopped=
stop_pid() {
	local pid=$1
	stopped=0
	kill -TERM "$pid" 2>/dev/null || { stopped=gone; return 0; }
	for _ in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || stopped=$?
}

cleanup() {
	local rc=$?
	# The broker first, then what it talks to.
	if [[ -n $broker_pid ]]; then
		stop_pid "$broker_pid"
		if [[ $stopped != 0 ]]; then
			log "cachebrokerd exited with status $stopped on SIGTERM"
			rc=1
		fi
	fi
	if ((pg_up)); then
		as_pg "$PG_BIN/pg_ctl" -D "$tmp/pg/data" -m fast -w -t 60 \
			stop >>"$tmp/pg/tools.log" 2>&1 ||
			log "pg_ctl stop failed (see $tmp/pg/tools.log)"
	fi
	if [[ -n $redis_pid ]]; then
		stop_pid "$redis_pid"
	fi
	if [[ ${KEEP:-0} == 1 || $rc != 0 ]]; then
		log "logs, configs and raw results kept in $tmp"
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS COMMAND...: retry COMMAND every 0.1 s until it succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	while ((n-- > 0)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# --- servers ---------------------------------------------------------------

redis_port=
start_redis() {
	local try
	for try in 1 2 3; do
		redis_port=$("$CB_BENCH" free-port)
		cat >"$tmp/redis.conf" <<-EOF
			bind 127.0.0.1
			port $redis_port
			dir $tmp
			logfile $tmp/redis.log
			save ""
			appendonly no
			daemonize no
		EOF
		redis-server "$tmp/redis.conf" &
		redis_pid=$!
		if wait_for 5 redis-cli -p "$redis_port" ping; then
			return 0
		fi
		stop_pid "$redis_pid"
		redis_pid=
		log "redis-server on port $redis_port did not start (try $try)"
	done
	tail -n 20 "$tmp/redis.log" >&2 || true
	return 1
}

pg_port=
start_pg() {
	local try opts
	as_pg "$PG_BIN/initdb" -D "$tmp/pg/data" -U "$PG_USER" -A trust \
		-E UTF8 --no-sync >"$tmp/pg/tools.log" 2>&1 || {
		tail -n 20 "$tmp/pg/tools.log" >&2
		return 1
	}
	for try in 1 2 3; do
		pg_port=$("$CB_BENCH" free-port)
		# fsync off: the data is made again every run. Connections for
		# the naive stampede's workers, the broker and psql.
		opts="-p $pg_port -k $tmp/pg -c listen_addresses=127.0.0.1"
		opts+=" -c shared_preload_libraries=pg_stat_statements"
		opts+=" -c max_connections=$((WORKERS + 50))"
		opts+=" -c fsync=off -c synchronous_commit=off"
		opts+=" -c full_page_writes=off"
		if as_pg "$PG_BIN/pg_ctl" -D "$tmp/pg/data" \
			-l "$tmp/pg/server.log" -o "$opts" -w -t 60 start \
			>>"$tmp/pg/tools.log" 2>&1; then
			pg_up=1
			return 0
		fi
		log "PostgreSQL did not start on port $pg_port (try $try)"
	done
	tail -n 20 "$tmp/pg/server.log" >&2 || true
	return 1
}

# psql_db DB ARGS...: psql as postgres over TCP, unaligned, quiet.
psql_db() {
	local db=$1
	shift
	psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" \
		-U "$PG_USER" -d "$db" "$@"
}

load_schema() {
	psql_db postgres -c 'CREATE DATABASE bench' &&
		psql_db bench -f "$here/fetch-schema.sql" \
			>"$tmp/schema.log" 2>&1
}

broker_url="ipc://$tmp/broker.sock"

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
	if ! "$BROKERD" -t -c "$tmp/broker.conf" >"$tmp/broker-t.log" 2>&1; then
		cat "$tmp/broker-t.log" >&2
		return 1
	fi
	"$BROKERD" -c "$tmp/broker.conf" >"$tmp/broker.log" 2>&1 &
	broker_pid=$!
	# Ready: Health answers, and a Fetch goes through to the database
	# (the loader connections come up after the listener).
	if ! "$CB_BENCH" wait-ready --url "$broker_url" --timeout 15000 >&2 ||
		! wait_for 15 probe_fetch; then
		log "cachebrokerd did not come up; the last Fetch said:"
		cat "$tmp/probe.log" >&2 || true
		log "its log:"
		tail -n 30 "$tmp/broker.log" >&2 || true
		return 1
	fi
}

# --- rows ------------------------------------------------------------------
#
# Each row is one line of name=value pairs in $results: cb_fetch_bench's,
# plus queries= (the database's count) and note= when something failed.

# The statements that read bench.items, whoever sent them, except the
# naive workers' warm-up (fetch_naive.c) and this count itself.
COUNT_SQL="SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
	WHERE query LIKE '%bench.items%' AND query NOT LIKE '%warm_up%'
	AND query NOT LIKE '%pg_stat_statements%'"

pg_reset() { psql_db bench -c 'SELECT pg_stat_statements_reset()' >/dev/null; }
pg_queries() { psql_db bench -c "$COUNT_SQL"; }

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

# broker_counts: "LOADS COALESCED" of namespace bench so far, from the
# broker's own Metrics (a cross-check of the database's count).
broker_counts() {
	"$CLI" -u "$broker_url" --json metrics 2>/dev/null |
		grep -o '"namespace":"bench",[^}]*' |
		sed -E 's/.*"loads":([0-9]+).*"coalesced":([0-9]+).*/\1 \2/'
}

# row_fail ROW WHY: a row that has no figures.
row_fail() {
	printf 'row=%s note=%s\n' "$1" "${2// /_}" >>"$results"
	failed=1
}

# run_row ROW CMD...: reset the query counter, run CMD (a cb_fetch_bench
# command printing one line), add the queries the database saw meanwhile.
run_row() {
	local row=$1 line rc=0 q l0=0 c0=0 l1 c1
	shift
	log "$row"
	read -r l0 c0 <<<"$(broker_counts)" || true
	if ! pg_reset; then
		row_fail "$row" "pg_stat_statements_reset failed"
		return
	fi
	line=$("$@" --label "$row" 2>>"$tmp/res/$row.err") || rc=$?
	q=$(pg_queries) || q=
	if read -r l1 c1 <<<"$(broker_counts)" && [[ -n $l1 ]]; then
		line+=" broker_loads=$((l1 - ${l0:-0}))"
		line+=" coalesced=$((c1 - ${c0:-0}))"
	fi
	if [[ -z $line ]]; then
		cat "$tmp/res/$row.err" >&2 || true
		row_fail "$row" "no result (cb_fetch_bench exit $rc)"
		return
	fi
	if ((rc != 0)); then
		cat "$tmp/res/$row.err" >&2 || true
		line+=" note=REQUESTS_FAILED"
		failed=1
	fi
	if [[ -n $q ]]; then
		line+=" queries=$q"
	else
		line+=" note=query_count_failed"
		failed=1
	fi
	printf '%s\n' "$line" >>"$results"
}

flush_redis() { redis-cli -p "$redis_port" flushall >/dev/null; }

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

t_start=$(date +%s)
log "temp dir $tmp"
start_redis || die "redis-server did not start"
start_pg || die "PostgreSQL did not start"
log "PostgreSQL on port $pg_port: loading $here/fetch-schema.sql"
load_schema || {
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

rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain -- broker clients proto \
	2>/dev/null) ]]; then
	rev+=" + uncommitted changes"
fi
title="cachebroker read-through benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
title+=", $(nproc) CPUs, code $rev; Zipf($ZIPF_EXPONENT) over $ZIPF_KEYS keys"
title+=", $ZIPF_REQUESTS requests per pass, $ZIPF_CONCURRENCY in flight"
title+=" ($ZIPF_ENGINE); stampede of $WORKERS, $STAMPEDE_REPEAT runs"
echo
echo "$title"
awk -f "$here/fetch-table.awk" "$results"
if [[ -n ${MARKDOWN:-} ]]; then
	{
		echo "$title"
		echo
		awk -v md=1 -f "$here/fetch-table.awk" "$results"
	} >"$MARKDOWN"
fi
log "done in $(($(date +%s) - t_start)) s"

if ((failed)); then
	log "SOME MEASUREMENTS FAILED: see the notes column"
	exit 1
fi

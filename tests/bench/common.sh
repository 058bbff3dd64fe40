# SPDX-License-Identifier: MIT
# What the benchmark scripts share: the build directory, a private
# redis-server and PostgreSQL in a temporary directory on free loopback
# ports, cachebrokerd, the database's query count, stopping everything on
# exit, and printing the table. Sourced.
#
# The sourcing script defines log (one line on stderr), then calls, in
# this order: bench_build_dir "${1:-}", need_built, need_cmds, need_pg
# (if it uses PostgreSQL), bench_tmp PREFIX. From then on an EXIT trap
# stops whatever was started: the broker ($broker_pid, which must exit 0
# on SIGTERM), PostgreSQL, Redis; it keeps $tmp when the run failed or
# KEEP=1. (run.sh, which starts its own servers, takes only
# bench_build_dir, load_defaults, wait_for, bench_broker_conf and the
# repeated rows of cb_bench load.)
# shellcheck shell=bash

PG_USER=postgres

die() {
	log "$*"
	exit 1
}

# load_defaults REPEAT CONCURRENCY ENGINES: the knobs of the repeated
# rows of cb_bench load (below) from the environment, else DURATION 5,
# WARMUP 1 and these.
load_defaults() {
	DURATION=${DURATION:-5}
	WARMUP=${WARMUP:-1}
	REPEAT=${REPEAT:-$1}
	CONCURRENCY=${CONCURRENCY:-$2}
	ENGINES=${ENGINES:-$3}
}

# bench_build_dir ARG: BUILD from ARG, $BUILD or "build" (relative to the
# work tree if need be), and the programs in it.
bench_build_dir() {
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	root=$(cd "$here/../.." && pwd)
	BUILD=${1:-${BUILD:-build}}
	if [[ ! -d $BUILD && -d $root/$BUILD ]]; then
		BUILD=$root/$BUILD
	fi
	BUILD=$(cd "$BUILD" && pwd)
	CB_BENCH=$BUILD/tests/bench/cb_bench
	BROKERD=$BUILD/broker/cachebrokerd
	CLI=$BUILD/clients/cli/cachebroker
}

# need_built FILE...: programs of the build that must exist.
need_built() {
	local tool
	for tool in "$@"; do
		[[ -x $tool ]] || die "$tool not built (cmake --build $BUILD)"
	done
}

# need_cmds CMD...: commands that must be on the PATH.
need_cmds() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null ||
			die "$tool not found (apt-get install redis-server postgresql)"
	done
}

# need_pg: initdb and pg_ctl (PG_BIN) and the postgres user.
need_pg() {
	need_cmds psql pg_config runuser
	PG_BIN=$(pg_config --bindir)
	[[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] ||
		die "no initdb/pg_ctl in $PG_BIN"
	id "$PG_USER" >/dev/null 2>&1 || die "there is no user $PG_USER"
}

# bench_tmp PREFIX: the temporary directory ($tmp: pg/, res/, the raw
# $results), the broker's URL in it ($broker_url) and the traps that clean
# up.
bench_tmp() {
	tmp=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 711 "$tmp" # the postgres user must reach $tmp/pg
	mkdir "$tmp/pg" "$tmp/res"
	if id "$PG_USER" >/dev/null 2>&1; then
		chown "$PG_USER:" "$tmp/pg"
	fi
	results=$tmp/res/results
	broker_url="ipc://$tmp/broker.sock"
	: >"$results"
	failed=0
	t_start=$(date +%s)
	redis_pid=
	broker_pid=
	pg_up=0
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

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
	kill -TERM "$pid" 2>/dev/null || {
		stopped=gone
		return 0
	}
	for _ in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || stopped=$?
}

# stop_broker: SIGTERM to $broker_pid; fails unless it exited 0.
stop_broker() {
	local pid=$broker_pid
	[[ -n $pid ]] || return 0
	broker_pid=
	stop_pid "$pid"
	if [[ $stopped != 0 ]]; then
		log "cachebrokerd exited with status $stopped on SIGTERM"
		return 1
	fi
}

bench_cleanup() {
	local rc=$?
	# The broker first, then what it talks to.
	stop_broker || rc=1
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

# start_redis [LINE...]: a private redis-server on a free port
# ($redis_port, $redis_pid; no persistence), LINEs added to its config.
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
		if (($# > 0)); then
			printf '%s\n' "$@" >>"$tmp/redis.conf"
		fi
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

# start_pg MAX_CONNECTIONS
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
		# fsync off: the data is made again every run.
		opts="-p $pg_port -k $tmp/pg -c listen_addresses=127.0.0.1"
		opts+=" -c shared_preload_libraries=pg_stat_statements"
		opts+=" -c max_connections=$1"
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

# load_schema FILE...: database bench, made from the files in turn.
load_schema() {
	local f
	psql_db postgres -c 'CREATE DATABASE bench' || return 1
	for f in "$@"; do
		psql_db bench -f "$f" >>"$tmp/schema.log" 2>&1 || return 1
	done
}

# bench_broker_conf CONTEXTS REDIS_HOST: a broker's config on stdout: on
# $broker_url with CONTEXTS contexts, in front of REDIS_HOST:$redis_port
# with $BROKER_REDIS_CONNECTIONS connections.
bench_broker_conf() {
	cat <<-EOF
		[broker]
		listen = $broker_url
		http =
		contexts = $1
		[redis]
		host = $2
		port = $redis_port
		connections = $BROKER_REDIS_CONNECTIONS
	EOF
}

# run_broker CONF: check CONF (-t), start cachebrokerd on it ($broker_pid,
# its output in CONF's name with .log) and wait until Health answers on
# $broker_url.
run_broker() {
	local conf=$1
	if ! "$BROKERD" -t -c "$conf" >"${conf%.conf}-t.log" 2>&1; then
		cat "${conf%.conf}-t.log" >&2
		return 1
	fi
	"$BROKERD" -c "$conf" >"${conf%.conf}.log" 2>&1 &
	broker_pid=$!
	if ! "$CB_BENCH" wait-ready --url "$broker_url" --timeout 15000 >&2; then
		log "cachebrokerd did not come up; its log:"
		tail -n 30 "${conf%.conf}.log" >&2 || true
		return 1
	fi
}

flush_redis() { redis-cli -p "$redis_port" flushall >/dev/null; }

# --- rows ------------------------------------------------------------------

# The statements that read bench.items, whoever sent them, except the
# naive workers' warm-up (fetch_naive.c) and this count itself.
COUNT_SQL="SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
	WHERE query LIKE '%bench.items%' AND query NOT LIKE '%warm_up%'
	AND query NOT LIKE '%pg_stat_statements%'"

pg_reset() { psql_db bench -c 'SELECT pg_stat_statements_reset()' >/dev/null; }
pg_queries() { psql_db bench -c "$COUNT_SQL"; }

# row_fail ROW WHY: a row that has no figures.
row_fail() {
	printf 'row=%s note=%s\n' "$1" "${2// /_}" >>"$results"
	failed=1
}

# broker_counts: "LOADS COALESCED" of namespace bench so far, from the
# broker's own Metrics (a cross-check of the database's count).
broker_counts() {
	"$CLI" -u "$broker_url" --json metrics 2>/dev/null |
		grep -o '"namespace":"bench",[^}]*' |
		sed -E 's/.*"loads":([0-9]+).*"coalesced":([0-9]+).*/\1 \2/'
}

# run_row ROW CMD...: reset the query counter, run CMD (a command of a
# benchmark program printing one line), add the queries the database saw
# meanwhile and the broker's loads of namespace bench.
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
		row_fail "$row" "no result (${1##*/} exit $rc)"
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

# --- repeated rows of cb_bench load ----------------------------------------
#
# A row is a TARGET (echo/aio, revoked/threads, ...) at a concurrency C,
# run REPEAT times. Each run is one file, "$(rowfile TARGET C).$rep": a
# line of name=value pairs (cb_bench's format) with target= in front and
# note= when something went wrong. pick_median turns the runs into the
# row. Used by run.sh and run-auth.sh; they set DURATION, WARMUP, REPEAT,
# rep and tmp (with a res/ directory).

# rowfile TARGET C: where the row is kept.
rowfile() { printf '%s/res/%s.%s' "$tmp" "${1//\//-}" "$2"; }

# pick_median TARGET C: the row's run with the median req/s becomes the row.
pick_median() {
	local base bad
	base=$(rowfile "$1" "$2")
	compgen -G "$base.*" >/dev/null || return 0
	bad=$(cat "$base".* | grep -c ' note=' || true)
	cat "$base".* | awk '
		{
			r = 0
			for (i = 1; i <= NF; i++)
				if ($i ~ /^rps=/)
					r = substr($i, 5) + 0
			print r "\t" $0
		}' | sort -g | awk -F'\t' -v runs="$REPEAT" -v bad="$bad" '
		{ line[NR] = $2 }
		END {
			l = line[int((NR + 1) / 2)]
			if (bad > 0 && l !~ / note=/)
				l = l " note=" bad "_of_" runs "_runs_failed"
			print l
		}' >"$base"
}

# median_rows TARGET...: each TARGET's rows, one per concurrency of
# $CONCURRENCY, each its median run (pick_median), on stdout. With
# ROW_HOOK set (a function name), "$ROW_HOOK TARGET C" may add to a row's
# file first.
median_rows() {
	local target c f
	for target in "$@"; do
		for c in $CONCURRENCY; do
			pick_median "$target" "$c"
			if [[ -n ${ROW_HOOK:-} ]]; then
				"$ROW_HOOK" "$target" "$c"
			fi
			f=$(rowfile "$target" "$c")
			if [[ -f $f ]]; then
				cat "$f"
			fi
		done
	done
}

# target_fail TARGET C WHY: a run that has no figures.
# shellcheck disable=SC2154 # rep: the caller's run number
target_fail() {
	printf 'target=%s concurrency=%s note=%s\n' "$1" "$2" "${3// /_}" \
		>"$(rowfile "$1" "$2").$rep"
	failed=1
}

# measure_nng TARGET C ARG...: one `cb_bench load` run of TARGET at
# concurrency C; ARGs say the rest (--url, --mode, --engine, --pid, ...).
# shellcheck disable=SC2154 # rep: the caller's run number
measure_nng() {
	local target=$1 c=$2 line rc=0
	shift 2
	log "$target at $c, run $rep of $REPEAT: ${DURATION}s"
	line=$("$CB_BENCH" load --concurrency "$c" --duration "$DURATION" \
		--warmup "$WARMUP" "$@") || rc=$?
	if [[ -z $line ]]; then
		target_fail "$target" "$c" "no result (cb_bench exit $rc)"
		return
	fi
	if ((rc != 0)); then
		line+=" note=REQUESTS_FAILED"
		failed=1
	fi
	printf 'target=%s %s\n' "$target" "$line" \
		>"$(rowfile "$target" "$c").$rep"
}

# bench_rev: the commit the build is of, and whether the daemon's or the
# clients' sources differ from it.
bench_rev() {
	local rev
	rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n $(git -C "$root" status --porcelain -- broker clients proto \
		2>/dev/null) ]]; then
		rev+=" + uncommitted changes"
	fi
	printf '%s\n' "$rev"
}

# bench_table TITLE AWK [AWKARG...]: print the results through the awk
# program (and as Markdown to $MARKDOWN); then exit non-zero if a row
# failed.
bench_table() {
	local title=$1 prog=$2
	shift 2
	echo
	echo "$title"
	awk "$@" -f "$prog" "$results"
	if [[ -n ${MARKDOWN:-} ]]; then
		{
			echo "$title"
			echo
			awk -v md=1 "$@" -f "$prog" "$results"
		} >"$MARKDOWN"
	fi
	log "done in $(($(date +%s) - t_start)) s"
	if ((failed)); then
		log "SOME MEASUREMENTS FAILED: see the notes column"
		exit 1
	fi
}

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark: nng echo ceiling, broker Get hits, Redis and twemproxy GET.
#
#   tests/bench/run.sh [BUILD]            BUILD: the build dir (or $BUILD,
#                                         default "build")
# Environment (all optional):
#   DURATION=5              seconds measured per row
#   WARMUP=1                seconds run before each row, not measured
#   REPEAT=1                runs per row; the table shows the median by
#                           req/s (echo and broker runs alternate)
#   CONCURRENCY="1 16 64"   requests in flight
#   ENGINES="threads aio"   load-generator engines for the nng rows
#   TARGETS="echo broker broker-l1 redis twemproxy"   (broker-l1: a
#                           second broker with its L1 on for the key's
#                           namespace; also: rawecho, a raw rep0
#                           socket driven by one thread through RECVFD)
#   VALUE_SIZE=100 CONTEXTS=128 BENCH_NS=bench BENCH_KEY=hit
#   KEYS=1 ZIPF=0           the broker rows' Gets go to KEYS keys
#                           (BENCH_KEY:0 ..), by Zipf(ZIPF) rank if ZIPF > 0,
#                           else evenly (the Redis rows read one key)
#   MANY=1                  10: the broker rows send GetMany of 10 keys
#                           (BENCH_KEY:0..9), the Redis rows MGET of the
#                           same keys (keys/s = req/s x 10)
#   KEEP=1                  keep the temp dir (logs, configs, raw results)
#   MARKDOWN=FILE           also write the table as Markdown to FILE
#   RESULTS=FILE            also copy the rows (key=value lines) to FILE,
#                           what tests/bench/plot draws
#
# Starts, in a temp dir and on free loopback ports: redis-server,
# nutcracker in front of it, cb_bench's echo server and cachebrokerd; runs
# every row; prints one table; stops everything. Exits non-zero when a row
# could not be measured or had failed requests.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'bench: %s\n' "$*" >&2; }
# shellcheck source=common.sh
. "$here/common.sh"
bench_build_dir "${1:-}"
load_defaults 1 "1 16 64" "threads aio"
TARGETS=${TARGETS:-echo broker broker-l1 redis twemproxy}
L1_SIZE=${L1_SIZE:-64m}
VALUE_SIZE=${VALUE_SIZE:-100}
CONTEXTS=${CONTEXTS:-128}
BROKER_REDIS=${BROKER_REDIS:-tcp}
BROKER_REDIS_CONNECTIONS=${BROKER_REDIS_CONNECTIONS:-2}
BENCH_NS=${BENCH_NS:-bench}
BENCH_KEY=${BENCH_KEY:-hit}
MANY=${MANY:-1}
KEYS=${KEYS:-1}
ZIPF=${ZIPF:-0}
get_mode='get'
many_args=()
zipf_args=()
if ((KEYS > 1)); then
	((MANY == 1)) || die "KEYS and MANY do not go together"
	many_args=(--keys "$KEYS")
fi
if [[ $ZIPF != 0 ]]; then
	zipf_args=(--zipf "$ZIPF")
fi
redis_cmd=(-t get)
redis_test=GET
if ((MANY > 1)); then
	((MANY == 10)) || die "MANY is 1 or 10 (cb_bench's getmany)"
	get_mode=getmany
	many_args=(--keys "$MANY")
	redis_cmd=(MGET)
	for ((i = 0; i < MANY; i++)); do
		redis_cmd+=("$BENCH_NS:$BENCH_KEY:$i")
	done
	redis_test=${redis_cmd[*]}
fi

TCK=$(getconf CLK_TCK)

want() { [[ " $TARGETS " == *" $1 "* ]]; }

[[ -x $CB_BENCH ]] ||
	die "$CB_BENCH not built (cmake --build $BUILD --target cb_bench)"
for tool in redis-server redis-cli redis-benchmark; do
	command -v "$tool" >/dev/null ||
		die "$tool not found (apt-get install redis-server)"
done
if want twemproxy; then
	command -v nutcracker >/dev/null ||
		die "nutcracker not found (apt-get install nutcracker)"
fi

tmp=$(mktemp -d /tmp/cbbench.XXXXXX)
mkdir "$tmp/res"
pids=()
failed=0
declare -A broker_urls broker_pids

cleanup() {
	local rc=$? pid i st
	# Newest first: the broker before the Redis it talks to.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid=${pids[i]}
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		st=0
		wait "$pid" 2>/dev/null || st=$?
		if [[ " ${broker_pids[*]} " == *" $pid "* && $st != 0 ]]; then
			log "cachebrokerd exited with status $st on SIGTERM"
		fi
	done
	if [[ ${KEEP:-0} == 1 || $rc != 0 ]]; then
		log "logs, configs and raw results kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cpu_us PID: CPU time (user + system) PID has used so far, in µs.
cpu_us() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
	s=${s##*) }
	awk -v t="$TCK" '{ printf "%d\n", ($12 + $13) * 1000000 / t }' <<<"$s"
}

# csw PID: context switches PID's threads have made so far.
csw() {
	cat "/proc/$1/task/"*/status 2>/dev/null |
		awk '/ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

value=$(head -c "$VALUE_SIZE" /dev/zero | tr '\0' v)

# --- servers ---------------------------------------------------------------

twem_port=
twem_pid=
start_twemproxy() {
	local stats_port
	twem_port=$("$CB_BENCH" free-port)
	stats_port=$("$CB_BENCH" free-port)
	cat >"$tmp/nutcracker.yml" <<-EOF
		bench:
		  listen: 127.0.0.1:$twem_port
		  redis: true
		  hash: fnv1a_64
		  distribution: ketama
		  auto_eject_hosts: false
		  timeout: 5000
		  servers:
		   - 127.0.0.1:$redis_port:1
	EOF
	nutcracker -c "$tmp/nutcracker.yml" -s "$stats_port" -a 127.0.0.1 \
		-p "$tmp/nutcracker.pid" -o "$tmp/nutcracker.log" &
	twem_pid=$!
	pids+=("$twem_pid")
	if ! wait_for 5 redis-cli -p "$twem_port" ping; then
		tail -n 20 "$tmp/nutcracker.log" >&2 || true
		return 1
	fi
}

# The echo servers, by target: echo (contexts) and rawecho (one thread
# on a raw socket). A started one has its pid in echo_pid[TARGET].
declare -A echo_pid
echo_url() { printf 'ipc://%s/%s.sock' "$tmp" "$1"; }

# start_echo TARGET: starts that echo server, or says why it did not.
start_echo() {
	local t=$1 args
	case $t in
	echo) args=(echo-server "$(echo_url "$t")" "$CONTEXTS") ;;
	rawecho) args=(raw-echo-server "$(echo_url "$t")") ;;
	esac
	"$CB_BENCH" "${args[@]}" >"$tmp/$t.log" 2>&1 &
	pids+=("$!")
	if wait_for 5 test -S "$tmp/$t.sock"; then
		echo_pid[$t]=${pids[-1]}
	else
		log "$t server did not start"
		cat "$tmp/$t.log" >&2 || true
	fi
}

# start_broker NAME [CONF...]: cachebrokerd on ipc://$tmp/NAME.sock (its
# url and pid in broker_urls[NAME] and broker_pids[NAME]) with the bench
# config plus CONF lines, and the benchmark key stored through it.
start_broker() {
	local name=$1 host=127.0.0.1 broker_url
	shift
	if [[ $BROKER_REDIS == unix ]]; then
		host=$tmp/redis.sock
	fi
	broker_url="ipc://$tmp/$name.sock"
	{
		bench_broker_conf "$CONTEXTS" "$host"
		printf '%s\n' "$@"
	} >"$tmp/$name.conf"
	"$BROKERD" -c "$tmp/$name.conf" >"$tmp/$name.log" 2>&1 &
	broker_urls[$name]=$broker_url
	broker_pids[$name]=$!
	pids+=("$!")
	if ! "$CB_BENCH" wait-ready --url "$broker_url" --timeout 15000 >&2 ||
		! "$CB_BENCH" preset --url "$broker_url" --mode "$get_mode" \
			--namespace "$BENCH_NS" --key "$BENCH_KEY" \
			--value-size "$VALUE_SIZE" "${many_args[@]}" >&2; then
		log "cachebrokerd ($name) did not come up; its log:"
		tail -n 30 "$tmp/$name.log" >&2 || true
		return 1
	fi
}

# l1_coherent URL: whether the broker's L1 serves (Redis tracks its keys).
l1_coherent() {
	"$CLI" -u "$1" --json health | grep -q '"l1_coherent": *true'
}

# --- rows ------------------------------------------------------------------
#
# Each run of a row is one file in $tmp/res (common.sh: rowfile,
# measure_nng, median_rows).

rep=1

# measure_get TARGET MODE ENGINE C URL PIDSPEC...: one cb_bench load run
# of Gets of the benchmark key (or of their bytes, echoed).
measure_get() {
	local target=$1 mode=$2 engine=$3 c=$4 url=$5
	shift 5
	measure_nng "$target" "$c" --url "$url" --mode "$mode" \
		--engine "$engine" --value-size "$VALUE_SIZE" \
		--namespace "$BENCH_NS" --key "$BENCH_KEY" "$@"
}

# misses PORT: Redis' keyspace_misses so far.
misses() {
	redis-cli -p "$redis_port" info stats | tr -d '\r' |
		awk -F: '$1 == "keyspace_misses" { print $2 }'
}

# measure_redis TARGET PORT C SERVER_PID...: redis-benchmark GET through
# PORT. A first, short run estimates the rate and warms up; the second
# is sized to last about DURATION seconds.
measure_redis() {
	local target=$1 port=$2 c=$3 out rps n m0 m1 t err pid
	local -a c0 c1 s0 s1
	shift 3
	log "$target at $c, run $rep of $REPEAT: ${DURATION}s"
	out=$(redis-benchmark -h 127.0.0.1 -p "$port" -d "$VALUE_SIZE" \
		-c "$c" -n 5000 --csv "${redis_cmd[@]}" \
		2>"$tmp/$target.$c.err") || true
	rps=$(awk -F'"' -v t="$redis_test" '$2 == t { print $4 }' <<<"$out")
	if [[ -z $rps ]]; then
		target_fail "$target" "$c" "redis-benchmark failed"
		return
	fi
	n=$(awk -v r="$rps" -v d="$DURATION" \
		'BEGIN { n = int(r * d); print (n < 10000 ? 10000 : n) }')
	m0=$(misses)
	for pid in "$@"; do
		c0+=("$(cpu_us "$pid")")
		s0+=("$(csw "$pid")")
	done
	# `times` in the same subshell reports redis-benchmark's CPU.
	out=$({
		redis-benchmark -h 127.0.0.1 -p "$port" \
			-d "$VALUE_SIZE" -c "$c" -n "$n" --csv \
			"${redis_cmd[@]}" 2>"$tmp/$target.$c.err"
		times
	}) || true
	for pid in "$@"; do
		c1+=("$(cpu_us "$pid")")
		s1+=("$(csw "$pid")")
	done
	m1=$(misses)
	err=
	if grep -qi 'error' "$tmp/$target.$c.err"; then
		err="redis-benchmark reported errors"
	elif [[ $m0 != "$m1" ]]; then
		err="$((m1 - m0)) GETs missed"
	fi
	t=$(tail -n 1 <<<"$out")
	awk -F'"' -v target="$target" -v c="$c" -v n="$n" -v t="$t" \
		-v c0="${c0[*]}" -v c1="${c1[*]}" -v s0="${s0[*]}" \
		-v s1="${s1[*]}" -v err="${err// /_}" -v test="$redis_test" '
		function secs(s,   a) {
			split(s, a, /[ms]/)
			return a[1] * 60 + a[2]
		}
		$2 == test {
			split(t, tt, " ")
			gen = (secs(tt[1]) + secs(tt[2])) * 1e6 / n
			k = split(c0, a, " "); split(c1, b, " ")
			split(s0, x, " "); split(s1, y, " ")
			srv = 0
			sw = 0
			for (i = 1; i <= k; i++) {
				srv += (b[i] - a[i]) / n
				sw += (y[i] - x[i]) / n
			}
			printf "target=%s concurrency=%s count=%d errors=%d " \
			    "rps=%s p50_us=%.1f p99_us=%.1f mean_us=%.1f " \
			    "gen_cpu_us=%.2f srv_cpu_us=%.2f srv_csw=%.2f",
			    target, c, n, err != "", $4, $10 * 1000, $14 * 1000,
			    $6 * 1000, gen, srv, sw
			if (err != "") printf " note=%s", err
			printf "\n"
		}' <<<"$out" >"$(rowfile "$target" "$c").$rep"
	if [[ ! -s $(rowfile "$target" "$c").$rep ]]; then
		target_fail "$target" "$c" "redis-benchmark printed no GET line"
	elif [[ -n $err ]]; then
		failed=1
	fi
}

# --- the run ---------------------------------------------------------------

log "temp dir $tmp; ${DURATION}s per row after ${WARMUP}s of warm-up"
start_redis "unixsocket $tmp/redis.sock" "unixsocketperm 700" ||
	die "redis-server did not start"
pids+=("$redis_pid")
redis-cli -p "$redis_port" set 'key:__rand_int__' "$value" >/dev/null
have_twem=0
if want twemproxy; then
	if start_twemproxy; then
		have_twem=1
	else
		log "nutcracker did not start"
	fi
fi
for t in echo rawecho; do
	if want "$t"; then
		start_echo "$t"
	fi
done
declare -A broker_why
for b in broker broker-l1; do
	want "$b" || continue
	extra=()
	if [[ $b == broker-l1 ]]; then
		extra=("l1_size = $L1_SIZE" "[namespace $BENCH_NS]" "l1 = yes")
		extra=("[broker]" "${extra[@]}")
	fi
	if [[ ! -x $BROKERD ]]; then
		broker_why[$b]="cachebrokerd not built"
	elif ! start_broker "$b" "${extra[@]}"; then
		broker_why[$b]="cachebrokerd did not start"
	elif [[ $b == broker-l1 ]] &&
		! wait_for 10 l1_coherent "${broker_urls[$b]}"; then
		broker_why[$b]="its L1 never became coherent"
	fi
done

# measure_pair ENGINE C: the echo row, then the raw echo row (if asked
# for), then the broker row, back to back so that all see the same
# machine.
measure_pair() {
	local engine=$1 c=$2 t
	for t in echo rawecho; do
		want "$t" || continue
		if [[ -n ${echo_pid[$t]:-} ]]; then
			measure_get "$t/$engine" echo "$engine" "$c" \
				"$(echo_url "$t")" --pid "$t=${echo_pid[$t]}"
		else
			target_fail "$t/$engine" "$c" "$t server did not start"
		fi
	done
	for t in broker broker-l1; do
		want "$t" || continue
		if [[ -z ${broker_why[$t]:-} ]]; then
			measure_get "$t/$engine" "$get_mode" "$engine" "$c" \
				"${broker_urls[$t]}" --pid "broker=${broker_pids[$t]}" \
				--pid "redis=$redis_pid" "${many_args[@]}" \
				"${zipf_args[@]}"
		else
			target_fail "$t/$engine" "$c" "${broker_why[$t]}"
		fi
	done
}

# measure_redis_pair C: redis-benchmark direct, then through twemproxy.
measure_redis_pair() {
	local c=$1
	if want redis; then
		measure_redis redis "$redis_port" "$c" "$redis_pid"
	fi
	if want twemproxy; then
		if ((have_twem)); then
			measure_redis twemproxy "$twem_port" "$c" "$twem_pid" \
				"$redis_pid"
		else
			target_fail twemproxy "$c" "nutcracker did not start"
		fi
	fi
}

for c in $CONCURRENCY; do
	for rep in $(seq "$REPEAT"); do
		for engine in $ENGINES; do
			measure_pair "$engine" "$c"
		done
	done
done
for c in $CONCURRENCY; do
	for rep in $(seq "$REPEAT"); do
		measure_redis_pair "$c"
	done
done

# --- the table -------------------------------------------------------------

order=()
for engine in $ENGINES; do
	order+=("echo/$engine" "rawecho/$engine" "broker/$engine"
		"broker-l1/$engine")
done
median_rows "${order[@]}" redis twemproxy >"$tmp/results"
if [[ -n ${RESULTS:-} ]]; then
	cp "$tmp/results" "$RESULTS"
fi

title="cachebroker benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
title+=", ${DURATION}s per row (median of $REPEAT), value $VALUE_SIZE bytes"
title+=", $CONTEXTS contexts"
if ((MANY > 1)); then
	title+=", GetMany and MGET of $MANY keys"
fi
if ((KEYS > 1)); then
	title+=", the broker's Gets over $KEYS keys"
	[[ $ZIPF == 0 ]] || title+=" by Zipf($ZIPF)"
fi
echo
echo "$title"
# rawecho rows get ratios against echo too; the targets are the broker's.
cmp='^(broker|broker-l1|rawecho)/'
awk -v maxc="${CONCURRENCY##* }" -v cmp="$cmp" -v targ='^broker(-l1)?/' \
	-f "$here/table.awk" "$tmp/results"
if [[ -n ${MARKDOWN:-} ]]; then
	{
		echo "$title"
		echo
		awk -v maxc="${CONCURRENCY##* }" -v md=1 -v cmp="$cmp" \
			-v targ='^broker(-l1)?/' -f "$here/table.awk" "$tmp/results"
	} >"$MARKDOWN"
fi

if ((failed)); then
	log "SOME MEASUREMENTS FAILED: see the notes column"
	exit 1
fi

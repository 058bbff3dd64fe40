#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The AuthService benchmark: IsTokenRevoked and CheckRateLimit beside Get.
#
#   tests/bench/run-auth.sh [BUILD]       BUILD: the build dir (or $BUILD,
#                                         default "build")
# Environment (all optional):
#   DURATION=5              seconds measured per row
#   WARMUP=1                seconds run before each row, not measured
#   REPEAT=5                runs per row, in turns: the table shows the
#                           run with the median req/s, and the median of
#                           each run's ratios to the Get run before it
#   CONCURRENCY=64          requests in flight (the targets: the last one)
#   ENGINES="aio threads"   load-generator engines (as in run.sh)
#   ROWS="get revoked ratelimit ratelimit-hot"
#   KEYS=10000              Get: keys users:profile:0..KEYS-1, all set
#   TOKENS=100000 USERS=10000 REVOKED_EVERY=100
#                           IsTokenRevoked: token i of user i % USERS;
#                           every REVOKED_EVERY-th token revoked, and
#                           every token of every REVOKED_EVERY-th user
#   SUBJECTS=10000 RATE_LIMIT=1000 RATE_WINDOW_MS=0
#                           CheckRateLimit over SUBJECTS subjects (0: the
#                           broker's default window, 15 min)
#   HOT_LIMIT=100 HOT_WINDOW_MS=1000
#                           ratelimit-hot: one subject, mostly denied
#   VALUE_SIZE=100 CONTEXTS=128 BROKER_REDIS_CONNECTIONS=2
#   KEEP=1                  keep the temp dir (logs, configs, raw results)
#   MARKDOWN=FILE           also write the table as Markdown to FILE
#
# Starts, in a temp dir and on free loopback ports: redis-server and
# cachebrokerd. Stores the Get keys and the revocations, runs every row
# (cb_bench load, the broker's and Redis' CPU sampled, Redis' per-command
# times from INFO commandstats), prints one table with each call's ratios
# to Get and stops everything. Exits non-zero when a row could not be
# measured or had failed requests; missed targets only say MISSED.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'bench-auth: %s\n' "$*" >&2; }
# shellcheck source=common.sh
. "$here/common.sh"
bench_build_dir "${1:-}"
load_defaults 5 64 "aio threads"
ROWS=${ROWS:-get revoked ratelimit ratelimit-hot}
KEYS=${KEYS:-10000}
TOKENS=${TOKENS:-100000}
USERS=${USERS:-10000}
REVOKED_EVERY=${REVOKED_EVERY:-100}
SUBJECTS=${SUBJECTS:-10000}
RATE_LIMIT=${RATE_LIMIT:-1000}
RATE_WINDOW_MS=${RATE_WINDOW_MS:-0}
HOT_LIMIT=${HOT_LIMIT:-100}
HOT_WINDOW_MS=${HOT_WINDOW_MS:-1000}
VALUE_SIZE=${VALUE_SIZE:-100}
CONTEXTS=${CONTEXTS:-128}
BROKER_REDIS_CONNECTIONS=${BROKER_REDIS_CONNECTIONS:-2}

# The targets: each call within 1.3x of a Get (run-auth.sh's section of
# docs/performance.md says why these three).
TARGET=1.3

need_built "$CB_BENCH" "$BROKERD"
need_cmds redis-server redis-cli

bench_tmp cbauth

# row_args ROW: the row's own cb_bench arguments, into $args (the preset
# stores what the get and revoked rows read).
args=()
row_args() {
	case $1 in
	get)
		args=(--mode get --namespace users --key profile --keys "$KEYS"
			--value-size "$VALUE_SIZE") ;;
	revoked)
		args=(--mode revoked --keys "$TOKENS" --users "$USERS"
			--revoked-every "$REVOKED_EVERY") ;;
	ratelimit)
		args=(--mode ratelimit --key login --keys "$SUBJECTS"
			--limit "$RATE_LIMIT" --window "$RATE_WINDOW_MS") ;;
	ratelimit-hot)
		args=(--mode ratelimit --key login:hot --limit "$HOT_LIMIT"
			--window "$HOT_WINDOW_MS") ;;
	*) die "unknown row $1 (ROWS)" ;;
	esac
}

# redis_cmds: "name:calls:µs per call,..." of the commands Redis ran since
# the last CONFIG RESETSTAT, most calls first, without the script's own.
redis_cmds() {
	redis-cli -p "$redis_port" info commandstats | tr -d '\r' |
		awk -F'[:,=]' '/^cmdstat_/ && $1 !~ /config|info|\|/ {
			print $3 "\t" substr($1, 9) ":" $3 ":" $7
		}' | sort -rn | cut -f2 | paste -sd, -
}

# auth_row ROW ENGINE C: one run of ROW; Redis' command times appended.
auth_row() {
	local row=$1 engine=$2 c=$3 f cmds
	row_args "$row"
	redis-cli -p "$redis_port" config resetstat >/dev/null
	measure_nng "$row/$engine" "$c" --url "$broker_url" \
		--engine "$engine" "${args[@]}" \
		--pid "broker=$broker_pid" --pid "redis=$redis_pid"
	f="$(rowfile "$row/$engine" "$c").$rep"
	cmds=$(redis_cmds) || cmds=
	if [[ -n $cmds ]]; then
		sed -i "1s/\$/ redis_cmds=$cmds/" "$f"
	fi
}

# paired ROW/ENGINE C: the row's ratios to Get, run by run: each run
# against the get run just before it (the same turn, the same engine), so
# that both saw the same machine. The medians go into the row's line (and
# the table) as rps_ratio, p99_ratio and cpu_ratio, each run's CPU ratio
# as cpu_runs.
paired() {
	local t=$1 c=$2 r a b
	[[ $t != get/* && -f $(rowfile "$t" "$c") ]] || return 0
	for r in $(seq "$REPEAT"); do
		a=$(rowfile "$t" "$c").$r
		b=$(rowfile "get/${t#*/}" "$c").$r
		if [[ -f $a && -f $b ]]; then
			printf '%s\t%s\n' "$(cat "$a")" "$(cat "$b")"
		fi
	done | awk -F'\t' '
		function get(s, k,   i, n, kv) {
			n = split(s, kv, " ")
			for (i = 1; i <= n; i++)
				if (index(kv[i], k "=") == 1)
					return substr(kv[i], length(k) + 2)
			return ""
		}
		function median(v, n,   i, j, t) {
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
					t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
				}
			return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		}
		$0 !~ / note=/ && get($2, "srv_cpu_us") > 0 && get($2, "rps") > 0 {
			n++
			rr[n] = get($1, "rps") / get($2, "rps")
			pr[n] = get($1, "p99_us") / get($2, "p99_us")
			cr[n] = get($1, "srv_cpu_us") / get($2, "srv_cpu_us")
			runs = runs (n > 1 ? "/" : "") sprintf("%.2f", cr[n])
		}
		END {
			if (n > 0)
				printf " rps_ratio=%.2f p99_ratio=%.2f cpu_ratio=%.2f" \
				    " cpu_runs=%s\n", median(rr, n), median(pr, n),
				    median(cr, n), runs
		}' >"$tmp/paired"
	if [[ -s $tmp/paired ]]; then
		sed -i "1s|\$|$(cat "$tmp/paired")|" "$(rowfile "$t" "$c")"
	fi
}

# --- the run ---------------------------------------------------------------

log "temp dir $tmp; ${DURATION}s per row after ${WARMUP}s of warm-up"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
start_redis || die "redis-server did not start"
bench_broker_conf "$CONTEXTS" 127.0.0.1 >"$tmp/broker.conf"
run_broker "$tmp/broker.conf" || die "cachebrokerd did not start"
for row in $ROWS; do
	row_args "$row" # checks the names before anything runs
done
for row in get revoked; do
	row_args "$row"
	"$CB_BENCH" preset --url "$broker_url" "${args[@]}" >&2 ||
		die "the preset of the $row rows failed"
done

rep=1
for c in $CONCURRENCY; do
	for rep in $(seq "$REPEAT"); do
		for engine in $ENGINES; do
			for row in $ROWS; do
				auth_row "$row" "$engine" "$c"
			done
		done
	done
done

order=()
for engine in $ENGINES; do
	for row in $ROWS; do
		order+=("$row/$engine")
	done
done
ROW_HOOK=paired median_rows "${order[@]}" >"$results"

# --- the table -------------------------------------------------------------

rev=$(bench_rev)
title="cachebroker AuthService benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
title+=", $(nproc) CPUs, code $rev, load average $load0 at the start"
title+="; ${DURATION}s per row (median of $REPEAT); Get of $KEYS keys"
title+=", IsTokenRevoked of $TOKENS tokens of $USERS users"
title+=", CheckRateLimit of $SUBJECTS subjects (limit $RATE_LIMIT per "
if ((RATE_WINDOW_MS == 0)); then
	title+="the default window, 15 min"
else
	title+="$RATE_WINDOW_MS ms"
fi
title+=") and of one (limit $HOT_LIMIT per $HOT_WINDOW_MS ms)"
bench_table "$title" "$here/table.awk" -v maxc="${CONCURRENCY##* }" \
	-v base=get -v cmp=. -v rps_min="$(awk -v t=$TARGET \
	'BEGIN { printf "%.2f", 1 / t }')" -v p99_max=$TARGET \
	-v cpu_max=$TARGET -v parts="broker redis"

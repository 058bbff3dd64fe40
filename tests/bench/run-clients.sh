#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The clients' benchmark: Fetch hits through the C, Python and Node clients.
#
#   tests/bench/run-clients.sh [BUILD]    BUILD: the build dir (or $BUILD,
#                                         default "build")
# Environment (all optional):
#   CONCURRENCY=16     callers sharing one client, in every program
#   SECONDS=5          length of each run
#   REPEAT=3           runs per language; the table shows the median
#   LANGS="c python node"  which clients, in this order
#   TRANSPORT=ipc      ipc or tcp: the broker URL the programs use
#
# One broker for every run, started by cbh-run (tests/harness/run.c) with
# tests/conformance's policy: a fresh Redis, PostgreSQL with
# tests/conformance/schema.sql, cachebrokerd with broker.conf. Each
# language's program (cb_client_bench, clients/python/bench.py,
# clients/node/dist/bench.js or dist/src/bench.js) fetches conf.user
# user_id=1 once, then for SECONDS with CONCURRENCY callers, and prints
# one RESULT line. The runs are interleaved (c python node, c python
# node, ...) so that a machine that slows down halfway does not favour
# one language. A program that is not there is reported as "not built"
# and skipped. Exits non-zero when a run failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'bench-clients: %s\n' "$*" >&2; }

# Bash counts SECONDS up from whatever it was given: read it before any
# time passes, and only if it came from the environment.
if [[ ${1:-} != --inner ]]; then
	CB_SECONDS=$(printenv SECONDS || echo 5)
	export CB_SECONDS
fi

# shellcheck source=common.sh
. "$here/common.sh"

CONCURRENCY=${CONCURRENCY:-16}
REPEAT=${REPEAT:-3}
LANGS=${LANGS:-c python node}
TRANSPORT=${TRANSPORT:-ipc}
RESOURCE=conf.user
PARAM=user_id=1

# --- inside cbh-run: the broker is up, CACHEBROKER_URL names it -----------

# program LANG: the command line of LANG's benchmark, empty if not built.
program() {
	case $1 in
	c)
		[[ -x $BUILD/tests/bench/cb_client_bench ]] &&
			echo "$BUILD/tests/bench/cb_client_bench"
		;;
	python)
		[[ -f $root/clients/python/bench.py && -x /usr/bin/python3 ]] &&
			echo "/usr/bin/python3 $root/clients/python/bench.py"
		;;
	node)
		# dist/bench.js, or where a tsc rootDir of "." puts it.
		local js
		for js in dist/bench.js dist/src/bench.js; do
			if [[ -f $root/clients/node/$js ]] &&
				command -v node >/dev/null; then
				echo "node $root/clients/node/$js"
				break
			fi
		done
		;;
	esac
	return 0
}

# measure LANG REP URL: one run; its RESULT line (or a note) goes to
# $results with rep= in front.
measure() {
	local lang=$1 rep=$2 url=$3 cmd line rc=0
	cmd=$(program "$lang")
	log "$lang, run $rep of $REPEAT: $CONCURRENCY callers, ${CB_SECONDS}s"
	# shellcheck disable=SC2086 # cmd is a program and its script
	line=$(PYTHONPATH=$BUILD/clients/python${PYTHONPATH:+:$PYTHONPATH} \
		$cmd --url "$url" --concurrency "$CONCURRENCY" \
		--seconds "$CB_SECONDS" --resource "$RESOURCE" \
		--param "$PARAM" 2>>"$tmp/$lang.err" | grep '^RESULT ' |
		tail -n 1) || rc=$?
	if [[ -z $line ]]; then
		tail -n 20 "$tmp/$lang.err" >&2 || true
		printf 'rep=%s lang=%s note=no_result\n' "$rep" "$lang" \
			>>"$results"
		failed=1
		return
	fi
	if ((rc != 0)); then
		line+=" note=exit_$rc"
		failed=1
	fi
	printf 'rep=%s %s\n' "$rep" "${line#RESULT }" >>"$results"
}

inner() {
	local url lang rep built=()
	case $TRANSPORT in
	ipc) url=$CACHEBROKER_URL ;;
	tcp) url=$CACHEBROKER_TCP_URL ;;
	*) die "TRANSPORT must be ipc or tcp, not $TRANSPORT" ;;
	esac
	tmp=$(mktemp -d /tmp/cbclients.XXXXXX)
	results=$tmp/results
	failed=0
	: >"$results"
	for lang in $LANGS; do
		if [[ -n $(program "$lang") ]]; then
			built+=("$lang")
		else
			log "$lang: not built, skipped"
			printf 'rep=0 lang=%s note=not_built\n' "$lang" \
				>>"$results"
		fi
	done
	for rep in $(seq "$REPEAT"); do
		for lang in "${built[@]}"; do
			measure "$lang" "$rep" "$url"
		done
	done
	echo
	echo "Fetch hit ($RESOURCE $PARAM) per client: $CONCURRENCY callers on" \
		"one client, ${CB_SECONDS}s runs, median of $REPEAT, $TRANSPORT"
	awk -v langs="$LANGS" '
		function field(line, name,    i, n, kv) {
			n = split(line, kv, " ")
			for (i = 1; i <= n; i++)
				if (index(kv[i], name "=") == 1)
					return substr(kv[i], length(name) + 2)
			return ""
		}
		{
			l = field($0, "lang")
			if (field($0, "note") == "not_built") {
				absent[l] = 1
				next
			}
			tried[l]++
			if (field($0, "note") != "")
				bad[l]++
			if (field($0, "rps") == "")
				next
			runs[l]++
			line[l, runs[l]] = $0
		}
		END {
			printf "%-8s %11s %12s %10s %10s %6s  %s\n", "client",
			    "concurrency", "req/s", "p50 us", "p99 us", "vs C",
			    "note"
			n = split(langs, order, " ")
			# Each language: its run with the median req/s.
			for (k = 1; k <= n; k++) {
				l = order[k]
				for (i = 1; i <= runs[l]; i++)
					for (j = i + 1; j <= runs[l]; j++)
						if (field(line[l, j], "rps") + 0 < \
						    field(line[l, i], "rps") + 0) {
							t = line[l, i]
							line[l, i] = line[l, j]
							line[l, j] = t
						}
				if (runs[l] > 0)
					med[l] = line[l, int((runs[l] + 1) / 2)]
			}
			for (k = 1; k <= n; k++) {
				l = order[k]
				if (absent[l]) {
					printf "%-8s %s\n", l, "not built"
					continue
				}
				if (runs[l] == 0) {
					printf "%-8s %s\n", l, "no result: see above"
					continue
				}
				m = med[l]
				ratio = "-"
				if ("c" in med && field(med["c"], "rps") + 0 > 0)
					ratio = sprintf("%.2f", field(m, "rps") / \
					    field(med["c"], "rps"))
				note = bad[l] ? bad[l] " of " tried[l] " runs failed" : ""
				row = sprintf("%-8s %11s %12.0f %10.0f %10.0f %6s  %s",
				    l, field(m, "concurrency"), field(m, "rps"),
				    field(m, "p50_us"), field(m, "p99_us"), ratio,
				    note)
				sub(/ +$/, "", row)
				print row
			}
		}' "$results"
	if ((failed)); then
		log "SOME RUNS FAILED; their output is in $tmp"
		exit 1
	fi
	rm -rf "$tmp"
}

if [[ ${1:-} == --inner ]]; then
	bench_build_dir "${2:-}"
	inner
	exit 0
fi

# --- outside: start the broker around the inner part ----------------------

bench_build_dir "${1:-}"
CBH_RUN=$BUILD/tests/harness/cbh-run
need_built "$CBH_RUN" "$BROKERD"
rc=0
"$CBH_RUN" --pg "$root/tests/conformance/schema.sql" \
	--config "$root/tests/conformance/broker.conf" \
	-- "$here/run-clients.sh" --inner "$BUILD" || rc=$?
if ((rc == 77)); then
	log "PostgreSQL is not installed: nothing measured"
fi
exit "$rc"

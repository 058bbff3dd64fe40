# SPDX-License-Identifier: MIT
# Prints run-invalidation.sh's results (one line of name=value pairs per
# run of a row) as one table.
#
#   awk [-v md=1] -f inval-table.awk RESULTS
#
# md=1: Markdown. Rows: warm-cN (a Warm at concurrency N), commit-to-evict
# (the lag), pattern-scanN (InvalidatePattern with scan_count N). A row
# that ran several times is shown by its run with the median time; the
# notes list every run's time (and, for a pattern row, longest PING).

function num(v, fmt) {
	return v == "" ? "-" : sprintf(fmt, v)
}

# ms V: V µs as milliseconds.
function ms(v) {
	return v == "" ? "-" : sprintf("%.2f", v / 1000)
}

# pair A B: "A / B" of two µs figures, in ms.
function pair(a, b) {
	return a == "" ? "-" : ms(a) " / " ms(b)
}

# fields LINE: its name=value pairs into f[].
function fields(line,   nf, fl, i, eq) {
	delete f
	nf = split(line, fl, " ")
	for (i = 1; i <= nf; i++) {
		eq = index(fl[i], "=")
		f[substr(fl[i], 1, eq - 1)] = substr(fl[i], eq + 1)
	}
}

# Every run's line, and its time (µs) to find the median by.
{
	fields($0)
	r = f["row"]
	if (!(r in runs))
		order[++m] = r
	k = ++runs[r]
	raw[r, k] = $0
	t[r, k] = f["wall_us"] != "" ? f["wall_us"] + 0 : \
	    (f["wall_s"] != "" ? f["wall_s"] * 1e6 : -1)
	ping[r, k] = f["ping_max_us"]
	if (f["note"] != "")
		bad[r]++
}

# median R: the index of R's run whose time has the middle rank (ties by
# order); its times, in order, go to times[R].
function median(r,   i, j, below, want) {
	want = int((runs[r] + 1) / 2)
	for (i = 1; i <= runs[r]; i++) {
		times[r] = times[r] (i > 1 ? ", " : "") \
		    (t[r, i] < 0 ? "?" : sprintf("%.0f", t[r, i] / 1000))
		if (ping[r, i] != "")
			pings[r] = pings[r] (i > 1 ? ", " : "") \
			    sprintf("%.1f", ping[r, i] / 1000)
	}
	for (i = 1; i <= runs[r]; i++) {
		below = 0
		for (j = 1; j <= runs[r]; j++)
			if (t[r, j] < t[r, i] || (t[r, j] == t[r, i] && j < i))
				below++
		if (below + 1 == want)
			return i
	}
	return 1
}

# row R LINE: one row of the table, n, from one run's line.
function row(r, line,   note, extra) {
	fields(line)
	n++
	name[n] = r
	q[n] = f["queries"]
	note = f["note"]
	gsub(/_/, " ", note)
	if (f["errors"] + 0 > 0)
		note = note (note != "" ? "; " : "") f["errors"] " errors"
	extra = ""
	if (r ~ /^warm-c/) {
		set[n] = "concurrency " substr(r, 7)
		cnt[n] = f["keys"]
		wall[n] = f["wall_us"]
		rate[n] = f["keys_per_s"]
		if (f["keys"] != "")
			extra = sprintf("broker's duration %d ms; %d keys, " \
			    "%d not found; broker: %s loads, %s coalesced",
			    f["duration_ms"], f["keys"], f["not_found"],
			    f["broker_loads"], f["coalesced"])
	} else if (r ~ /^commit/) {
		set[n] = "1 at a time"
		cnt[n] = f["count"]
		if (f["wall_s"] != "") {
			wall[n] = f["wall_s"] * 1e6
			rate[n] = f["count"] / f["wall_s"]
		}
		p50[n] = f["p50_us"]
		p99[n] = f["p99_us"]
		mx[n] = f["max_us"]
		if (f["count"] != "")
			extra = sprintf("Fetch, EXISTS, UPDATE, wait for the " \
			    "del event; commit round trip p50 %s ms, p99 %s ms; " \
			    "%d of %d already evicted when the commit returned; " \
			    "queries: each UPDATE + each key's load " \
			    "(broker: %s loads)", ms(f["commit_p50_us"]),
			    ms(f["commit_p99_us"]), f["early"], f["count"],
			    f["broker_loads"])
	} else if (r ~ /^pattern-scan/) {
		set[n] = "scan_count " substr(r, 13)
		cnt[n] = f["deleted"]
		wall[n] = f["wall_us"]
		rate[n] = f["keys_per_s"]
		if (f["ping_count"] != "") {
			idle[n] = pair(f["ping_idle_p99_us"],
			    f["ping_idle_max_us"])
			run[n] = pair(f["ping_p99_us"], f["ping_max_us"])
			lat[n] = f["lat_idle_max_ms"] " / " f["lat_max_ms"]
			extra = sprintf("%d of %d keys of keep kept, %d of " \
			    "pat left; %d / %d PINGs (idle / during); latency " \
			    "events (name:samples:max ms) idle %s, during %s; " \
			    "Redis ran %d SCANs in %.0f ms and %d UNLINKs in " \
			    "%.0f ms; CPU during: broker %s ms, Redis %s ms; " \
			    "SetMany fill of both %.1f s", f["kept"], f["keys"],
			    f["left"], f["ping_idle_count"], f["ping_count"],
			    f["lat_idle_events"], f["lat_events"],
			    f["scan_calls"], f["scan_ms"], f["unlink_calls"],
			    f["unlink_ms"], f["cpu_ms_broker"],
			    f["cpu_ms_redis"], f["fill_s"])
		}
	}
	if (runs[r] > 1) {
		extra = extra sprintf("; median of %d runs, times %s ms",
		    runs[r], times[r])
		if (pings[r] != "")
			extra = extra sprintf(", longest PING %s ms", pings[r])
	}
	if (bad[r] > 0 && f["note"] == "")
		note = note bad[r] " of " runs[r] " runs failed"
	notes[n] = extra (extra != "" && note != "" ? "; " : "") note
}

END {
	for (k = 1; k <= m; k++)
		row(order[k], raw[order[k], median(order[k])])
	if (md) {
		print "| row | setting | n | time ms | per s | db queries " \
		    "| p50 ms | p99 ms | max ms | PING p99 / max ms, idle " \
		    "| PING p99 / max ms, during | Redis latency max ms, " \
		    "idle / during | notes |"
		print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
		fmt = "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s " \
		    "| %s | %s | %s |\n"
	} else {
		print "row               setting              n   time ms" \
		    "     per s  queries  p50 ms  p99 ms  max ms  PING idle ms" \
		    "  PING during   Redis lat  notes"
		print "                                                  " \
		    "                                     p99 / max     p99 / " \
		    "max    idle / run"
		fmt = "%-17s %-14s %8s %9s %9s %8s %7s %7s %7s %13s %13s " \
		    "%11s  %s\n"
	}
	for (i = 1; i <= n; i++)
		printf fmt, name[i], set[i], num(cnt[i], "%d"),
		    num(wall[i] == "" ? "" : wall[i] / 1000, "%.1f"),
		    num(rate[i], "%.0f"), num(q[i], "%d"), ms(p50[i]),
		    ms(p99[i]), ms(mx[i]), idle[i] == "" ? "-" : idle[i],
		    run[i] == "" ? "-" : run[i], lat[i] == "" ? "-" : lat[i],
		    notes[i]
}

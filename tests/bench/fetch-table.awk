# SPDX-License-Identifier: MIT
# Prints run-fetch.sh's results (one line of name=value pairs per row) as a
# table, then the targets.
#
#   awk [-v md=1] -f fetch-table.awk RESULTS
#
# md=1: Markdown. Rows: point-miss, point-hit, list-miss, list-hit,
# stampede-{item,list}-{broker,naive}, zipf-cold, zipf-warm. A row that
# ran several times (the stampede) shows its run with the median number
# of queries; the notes list every run's.

# Collect every run's line; a row run several times (the stampede) is
# shown by its run with the median query count, with every run's count.
{
	split($1, kv, "=")
	r = kv[2]
	if (!(r in runs))
		order[++m] = r
	runs[r]++
	raw[r, runs[r]] = $0
	qv[r, runs[r]] = ""
	for (i = 1; i <= NF; i++)
		if ($i ~ /^queries=/)
			qv[r, runs[r]] = substr($i, 9) + 0
		else if ($i ~ /^note=/)
			bad[r]++
}

# parse LINE: one row of the table from one run's line.
function parse(line,   nf, fl, i, eq, r, err, extra) {
	delete f
	nf = split(line, fl, " ")
	for (i = 1; i <= nf; i++) {
		eq = index(fl[i], "=")
		f[substr(fl[i], 1, eq - 1)] = substr(fl[i], eq + 1)
	}
	n++
	r = f["row"]
	name[n] = r
	row[r] = n
	conc[n] = f["concurrency"]
	p50[n] = f["p50_us"]
	p99[n] = f["p99_us"]
	srv[n] = f["srv_cpu_us"]
	q[n] = f["queries"]
	note[n] = f["note"]
	gsub(/_/, " ", note[n])
	err = f["errors"] + 0
	if (r ~ /^zipf/) {
		reqs[n] = f["requests"]
		rps[n] = f["rps"]
		hr[n] = f["hit_rate"]
		distinct[n] = f["distinct"]
		newk[n] = f["new_keys"] != "" ? f["new_keys"] : f["distinct"]
		extra = sprintf("%d distinct keys", f["distinct"])
		if (f["new_keys"] != "")
			extra = extra sprintf(", %d not asked for by the " \
			    "pass before", f["new_keys"])
		extra = extra sprintf("; broker: %s loads, %s coalesced",
		    f["broker_loads"], f["coalesced"])
	} else if (r ~ /^stampede/) {
		reqs[n] = f["concurrency"]
		rps[n] = ""
		if (f["count"] != "" && f["count"] > 0) {
			if (r ~ /naive$/)
				hr[n] = f["get_hit"] / f["count"]
			else
				hr[n] = f["cache"] / f["count"]
		}
		if (r ~ /naive$/)
			extra = sprintf("%d GETs missed, each did SELECT + SET" \
			    " (p50 GET %.1f ms, SELECT %.1f ms, SET %.1f ms);" \
			    " calls left over %.1f ms, last answer at %.1f ms",
			    f["get_miss"], f["get_p50_us"] / 1000,
			    f["select_p50_us"] / 1000, f["set_p50_us"] / 1000,
			    f["spread_us"] / 1000, f["wall_us"] / 1000)
		else
			extra = sprintf("%d answered by the load (broker: %s " \
			    "loads, %s coalesced), %d from Redis; calls left " \
			    "over %.1f ms, last answer at %.1f ms", f["loader"],
			    f["broker_loads"], f["coalesced"], f["cache"],
			    f["spread_us"] / 1000, f["wall_us"] / 1000)
		if (f["count"] == "")
			extra = ""
	} else {
		reqs[n] = f["count"] + err
		rps[n] = f["rps"]
		if (f["count"] != "" && f["count"] > 0)
			hr[n] = f["hits"] / f["count"]
		extra = f["value_bytes"] != "" ? \
		    sprintf("values of %d bytes", f["value_bytes"]) : ""
		if (r ~ /redis-get$/)
			extra = extra "; a GET of a list-hit value straight " \
			    "from Redis (redis-benchmark), no broker: for " \
			    "comparison"
	}
	if (reqs[n] + 0 > 0 && q[n] != "")
		qpr[n] = q[n] / reqs[n]
	if (err > 0)
		note[n] = note[n] " (" err " errors)"
	if (runs[r] > 1)
		extra = extra sprintf("; queries in each of %d runs: %s",
		    runs[r], allq[r])
	if (bad[r] > 0 && f["note"] == "")
		note[n] = note[n] bad[r] " of " runs[r] " runs failed"
	note[n] = extra (extra != "" && note[n] != "" ? "; " : "") note[n]
}

function num(v, fmt) {
	return v == "" ? "-" : sprintf(fmt, v)
}

function pct(v) {
	return v == "" ? "-" : sprintf("%.1f%%", v * 100)
}

function verdict(ok) {
	return ok ? "met" : "MISSED"
}

# speed A: how many times the list miss' p50 is A's p50 (A a hit row).
function speed(a,   i, j) {
	i = row[a]
	j = row["list-miss"]
	if (i == "" || j == "" || p50[i] + 0 <= 0 || p50[j] == "")
		return ""
	return p50[j] / p50[i]
}

function hit_check(a,   s) {
	s = speed(a)
	if (s == "")
		return sprintf("%s: not measured (MISSED)", a)
	return sprintf("%s %.1fx (%s)", a, s, verdict(s >= 20))
}

# stampede_check RES: the broker must query once in every run.
function stampede_check(res,   b, v, rb, rv) {
	rb = "stampede-" res "-broker"
	rv = "stampede-" res "-naive"
	b = row[rb]
	v = row[rv]
	return sprintf("stampede of %s on one cold bench.%s key: broker " \
	    "%s (target 1: %s); naive cache-aside client %s",
	    b == "" ? "?" : conc[b], res,
	    b == "" ? "not measured" : allq[rb] \
	    (allq[rb] == "1" ? " query" : " queries"),
	    verdict(b != "" && maxq[rb] != "?" && maxq[rb] + 0 == 1),
	    v == "" ? "not measured" : allq[rv] " queries")
}

function zipf_check(a,   i) {
	i = row[a]
	if (i == "" || qpr[i] == "")
		return sprintf("%s: not measured (MISSED)", a)
	return sprintf("%s: %.4f database queries per request (target <= " \
	    "0.05: %s), hit rate %s, %.0f req/s; floor: %d keys no " \
	    "earlier request asked for / %d requests = %.4f",
	    a, qpr[i], verdict(qpr[i] <= 0.05), pct(hr[i]), rps[i],
	    newk[i], reqs[i], reqs[i] > 0 ? newk[i] / reqs[i] : 0)
}

END {
	for (k = 1; k <= m; k++) {
		r = order[k]
		# Insertion sort of the runs by queries; the median's line.
		delete idx
		for (i = 1; i <= runs[r]; i++) {
			idx[i] = i
			allq[r] = allq[r] (i > 1 ? ", " : "") \
			    (qv[r, i] == "" ? "?" : qv[r, i])
			if (qv[r, i] == "" || qv[r, i] + 0 > maxq[r] + 0)
				maxq[r] = qv[r, i] == "" ? "?" : qv[r, i]
		}
		for (i = 2; i <= runs[r]; i++)
			for (j = i; j > 1 && qv[r, idx[j - 1]] + 0 > \
			    qv[r, idx[j]] + 0; j--) {
				t = idx[j]
				idx[j] = idx[j - 1]
				idx[j - 1] = t
			}
		parse(raw[r, idx[int((runs[r] + 1) / 2)]])
	}
	if (md) {
		print "| row | conc | requests | p50 µs | p99 µs | req/s " \
		    "| db queries | queries/req | hit rate | srv CPU µs/req " \
		    "| notes |"
		print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
		fmt = "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s " \
		    "| %s |\n"
	} else {
		# Literal: some awks count bytes in printf widths; µ is two.
		print "row                    conc  requests    p50 µs    p99 µs" \
		    "     req/s   queries  queries/req  hit rate   srv CPU  notes"
		print "                                                        " \
		    "                                            µs/req"
		fmt = "%-21s %5s %9s %9s %9s %9s %9s %12s %9s %9s  %s\n"
	}
	for (i = 1; i <= n; i++)
		printf fmt, name[i], num(conc[i], "%d"), num(reqs[i], "%d"),
		    num(p50[i], "%.0f"), num(p99[i], "%.0f"),
		    num(rps[i], "%.0f"), num(q[i], "%d"),
		    num(qpr[i], "%.4f"), pct(hr[i]), num(srv[i], "%.1f"),
		    note[i]
	b = md ? "- " : "  "
	printf "\nTargets:\n%s", md ? "\n" : ""
	printf "%shit >= 20x faster than a list miss (p50 against p50): " \
	    "%s; %s\n", b, hit_check("point-hit"), hit_check("list-hit")
	printf "%s%s\n", b, stampede_check("item")
	printf "%s%s\n", b, stampede_check("list")
	printf "%s%s\n", b, zipf_check("zipf-cold")
	if (row["zipf-warm"] != "")
		printf "%s%s\n", b, zipf_check("zipf-warm")
}

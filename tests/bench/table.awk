# SPDX-License-Identifier: MIT
# Prints the rows of run.sh or run-auth.sh (one line of name=value pairs
# each, cb_bench's format) as a table, then the targets.
#
#   awk -v maxc=64 [-v md=1] [-v base=echo] [-v cmp='^broker/'] [-v targ=RE]
#       [-v rps_min=0.8] [-v p99_max=3] [-v cpu_max=N] [-v parts='A B']
#       -f table.awk RESULTS
#
# maxc: the concurrency the targets are checked at; md=1: Markdown.
# A row whose target is X/ENGINE and matches cmp is compared with the row
# base/ENGINE of the same concurrency: rps/base = its req/s / base's,
# p99/base likewise; with cpu_max, also cpu/base = its server CPU per
# request / base's (run-auth.sh: the cost of a call against a Get's).
# Ratios the line gives (rps_ratio, p99_ratio, cpu_ratio: run-auth.sh's
# medians of run-by-run ratios) are shown instead.
# parts: processes whose CPU per request gets a column of its own
# (cb_bench's cpu_us_NAME).
# targ: which of the compared rows the targets are checked for (default:
# all of them, cmp).

BEGIN {
	if (base == "")
		base = "echo"
	if (cmp == "")
		cmp = "^broker/"
	if (targ == "")
		targ = cmp
	if (rps_min == "")
		rps_min = 0.8
	if (p99_max == "")
		p99_max = 3
	nsplit = split(parts, procs, " ")
}

{
	delete f
	for (i = 1; i <= NF; i++) {
		eq = index($i, "=")
		f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
	}
	n++
	tgt[n] = f["target"]
	conc[n] = f["concurrency"]
	rps[n] = f["rps"]
	p50[n] = f["p50_us"]
	p99[n] = f["p99_us"]
	srv[n] = f["srv_cpu_us"]
	gen[n] = f["gen_cpu_us"]
	srvsw[n] = f["srv_csw"]
	gensw[n] = f["gen_csw"]
	for (k = 1; k <= nsplit; k++)
		part[n, k] = f["cpu_us_" procs[k]]
	given[n, "rps"] = f["rps_ratio"]
	given[n, "p99"] = f["p99_ratio"]
	given[n, "cpu"] = f["cpu_ratio"]
	note[n] = join(join(outcome(f), redis_cmds(f["redis_cmds"])),
	    f["note"])
	if (f["cpu_runs"] != "") {
		gsub(/\//, ", ", f["cpu_runs"])
		note[n] = join(note[n], "cpu/" base " run by run: " \
		    f["cpu_runs"])
	}
	gsub(/_/, " ", note[n])
	if (f["errors"] + 0 > 0)
		note[n] = note[n] " (" f["errors"] " errors)"
	row[tgt[n] "@" conc[n]] = n
	if (length(tgt[n]) > wide)
		wide = length(tgt[n])
}

# outcome F: what the answers said, when not all the same by design.
function outcome(f,   c) {
	c = f["count"] + 0
	if (c <= 0)
		return ""
	if (f["revoked"] != "")
		return sprintf("%.1f%% revoked", 100 * f["revoked"] / c)
	if (f["allowed"] != "")
		return sprintf("%.1f%% allowed", 100 * f["allowed"] / c)
	return ""
}

# redis_cmds S: "get:CALLS:USEC,pttl:..." (Redis' INFO commandstats over
# the run) as "; Redis µs/call: GET 0.61, PTTL 0.42".
function redis_cmds(s,   k, i, a, out) {
	if (s == "")
		return ""
	k = split(s, cmds, ",")
	for (i = 1; i <= k; i++) {
		split(cmds[i], a, ":")
		out = out (i > 1 ? ", " : "") toupper(a[1]) " " a[3]
	}
	return "Redis µs/call: " out
}

# join A B: A and B with "; " between them, if both are there.
function join(a, b) {
	return a == "" ? b : b == "" ? a : a "; " b
}

function num(v, fmt) {
	return v == "" ? "-" : sprintf(fmt, v)
}

function ratio(a, b) {
	return (a == "" || b + 0 <= 0) ? "" : sprintf("%.2f", a / b)
}

# pad S W: S right-aligned in W columns (µ counts as one, in any awk).
function pad(s, w,   v) {
	v = s
	gsub(/µ/, "u", v)
	while (length(v) < w) {
		s = " " s
		v = " " v
	}
	return s
}

# verdict OK: "met" or "MISSED".
function verdict(ok) {
	return ok ? "met" : "MISSED"
}

# check I RR PR CR: one line saying whether row I meets the targets.
function check(i, rr, pr, cr,   s, ok, all) {
	ok = rr != "" && rr + 0 >= rps_min
	all = ok
	s = sprintf("%s at %s: req/s %sx %s (target >= %s: %s)", tgt[i],
	    conc[i], rr, base, rps_min, verdict(ok))
	ok = pr != "" && pr + 0 <= p99_max
	all = all && ok
	s = s sprintf(", p99 %sx %s (target <= %s: %s)", pr, base, p99_max,
	    verdict(ok))
	if (cpu_max != "") {
		ok = cr != "" && cr + 0 <= cpu_max
		all = all && ok
		s = s sprintf(", server CPU %sx %s (target <= %s: %s): %s", cr,
		    base, cpu_max, verdict(ok), all ? "MET" : "MISSED")
	}
	return s
}

# header: the column names, and the columns' widths in w[].
function header(   top, bot, sep, k, name) {
	ncol = 0
	col("target", "", wide, "l")
	col("conc", "", 5)
	col("req/s", "", 10)
	col("p50 µs", "", 9)
	col("p99 µs", "", 9)
	col("rps/" base, "", 9)
	col("p99/" base, "", 9)
	if (cpu_max != "")
		col("cpu/" base, "", 9)
	col("srv CPU", "µs/req", 8)
	for (k = 1; k <= nsplit; k++)
		col(procs[k] " CPU", "µs/req", 8)
	col("gen CPU", "µs/req", 8)
	col("srv csw", "/req", 8)
	col("gen csw", "/req", 8)
	if (md) {
		for (k = 1; k <= ncol; k++) {
			name = cname[k] (csub[k] ~ /^\// ? "" : " ") csub[k]
			sub(/ $/, "", name)
			top = top "| " name " "
			sep = sep (k <= 1 ? "|---" : "|--:")
		}
		print top "| notes |"
		print sep "|---|"
		return
	}
	for (k = 1; k <= ncol; k++) {
		if (calign[k] == "l") {
			top = top sprintf("%-" cw[k] "s", cname[k])
			bot = bot sprintf("%" cw[k] "s", "")
		} else {
			top = top " " pad(cname[k], cw[k])
			bot = bot " " pad(csub[k], cw[k])
		}
	}
	print top "  notes"
	print bot
}

function col(name, sub_, width, align) {
	ncol++
	cname[ncol] = name
	csub[ncol] = sub_
	cw[ncol] = width < length(name) ? length(name) : width
	calign[ncol] = align
}

END {
	header()
	for (i = 1; i <= n; i++) {
		rr = ""
		pr = ""
		cr = ""
		if (tgt[i] ~ cmp && tgt[i] ~ /\// && tgt[i] !~ "^" base "/") {
			e = tgt[i]
			sub(/^[^\/]*/, base, e)
			j = row[e "@" conc[i]]
			if (given[i, "rps"] != "") {
				rr = given[i, "rps"]
				pr = given[i, "p99"]
				cr = given[i, "cpu"]
			} else if (j != "") {
				rr = ratio(rps[i], rps[j])
				pr = ratio(p99[i], p99[j])
				cr = ratio(srv[i], srv[j])
			}
			if (conc[i] == maxc && rr != "" && tgt[i] ~ targ)
				checks = checks (md ? "- " : "  ") \
				    check(i, rr, pr, cr) "\n"
		}
		k = 0
		v[++k] = tgt[i]
		v[++k] = conc[i]
		v[++k] = num(rps[i], "%.0f")
		v[++k] = num(p50[i], "%.0f")
		v[++k] = num(p99[i], "%.0f")
		v[++k] = rr == "" ? "-" : rr
		v[++k] = pr == "" ? "-" : pr
		if (cpu_max != "")
			v[++k] = cr == "" ? "-" : cr
		v[++k] = num(srv[i], "%.1f")
		for (m = 1; m <= nsplit; m++)
			v[++k] = num(part[i, m], "%.1f")
		v[++k] = num(gen[i], "%.1f")
		v[++k] = num(srvsw[i], "%.2f")
		v[++k] = num(gensw[i], "%.2f")
		line = ""
		for (m = 1; m <= k; m++) {
			if (md)
				line = line "| " v[m] " "
			else if (m == 1)
				line = sprintf("%-" cw[m] "s", v[m])
			else
				line = line " " sprintf("%" cw[m] "s", v[m])
		}
		print line (md ? "| " note[i] " |" : "  " note[i])
	}
	if (checks != "")
		printf "\nTargets at %s concurrent:\n%s%s", maxc,
		    md ? "\n" : "", checks
}

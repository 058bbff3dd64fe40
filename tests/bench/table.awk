# SPDX-License-Identifier: MIT
# Prints run.sh's results (one line of name=value pairs per row) as a table.
#
#   awk -v maxc=64 [-v md=1] -f table.awk RESULTS
#
# maxc: the concurrency the targets are checked at; md=1: Markdown.
# A broker/ENGINE row is compared with the echo/ENGINE row of the same
# concurrency: rps/echo = broker req/s / echo req/s, p99/echo likewise.

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
	note[n] = f["note"]
	gsub(/_/, " ", note[n])
	if (f["errors"] + 0 > 0)
		note[n] = note[n] " (" f["errors"] " errors)"
	row[tgt[n] "@" conc[n]] = n
}

function num(v, fmt) {
	return v == "" ? "-" : sprintf(fmt, v)
}

function ratio(a, b) {
	return (a == "" || b + 0 <= 0) ? "" : sprintf("%.2f", a / b)
}

# check RR PR TARGET C: one line saying whether the targets are met.
function check(rr, pr, t, c) {
	return sprintf("%s at %s: req/s %sx echo (target >= 0.8: %s), " \
	    "p99 %sx echo (target <= 3: %s)", t, c, rr,
	    rr + 0 >= 0.8 ? "met" : "MISSED", pr,
	    pr != "" && pr + 0 <= 3 ? "met" : "MISSED")
}

END {
	if (md) {
		print "| target | conc | req/s | p50 µs | p99 µs | rps/echo " \
		    "| p99/echo | srv CPU µs/req | gen CPU µs/req " \
		    "| srv csw/req | gen csw/req | notes |"
		print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
	} else {
		# Literal: some awks count bytes in printf widths; µ is two.
		print "target            conc      req/s    p50 µs    p99 µs" \
		    "  rps/echo  p99/echo  srv CPU  gen CPU" \
		    "  srv csw  gen csw  notes"
		print "                                                    " \
		    "                      µs/req   µs/req      /req     /req"
	}
	for (i = 1; i <= n; i++) {
		rr = ""
		pr = ""
		if (tgt[i] ~ /^broker\//) {
			e = tgt[i]
			sub(/^broker/, "echo", e)
			j = row[e "@" conc[i]]
			if (j != "") {
				rr = ratio(rps[i], rps[j])
				pr = ratio(p99[i], p99[j])
			}
			if (conc[i] == maxc && rr != "")
				checks = checks (md ? "- " : "  ") \
				    check(rr, pr, tgt[i], conc[i]) "\n"
		}
		if (md)
			fmt = "| %s | %s | %s | %s | %s | %s | %s | %s | %s " \
			    "| %s | %s | %s |\n"
		else
			fmt = "%-16s %5s %10s %9s %9s %9s %9s" \
			    " %8s %8s %8s %8s  %s\n"
		printf fmt, tgt[i], conc[i], num(rps[i], "%.0f"),
		    num(p50[i], "%.0f"), num(p99[i], "%.0f"),
		    rr == "" ? "-" : rr, pr == "" ? "-" : pr,
		    num(srv[i], "%.1f"), num(gen[i], "%.1f"),
		    num(srvsw[i], "%.2f"), num(gensw[i], "%.2f"), note[i]
	}
	if (checks != "")
		printf "\nTargets at %s concurrent:\n%s%s", maxc,
		    md ? "\n" : "", checks
}

# SPDX-License-Identifier: MIT
# The Python side of the three clients' Fetch-hit benchmark.
"""Fetch-hit benchmark of the Python client.

    bench.py --url URL --concurrency N --seconds S \\
        --resource R --param NAME=VALUE [--param NAME=VALUE]...

The same program as tests/bench/client_bench.c (C) and the Node client's
bench: one Fetch first, so that every timed one is a hit; then N threads
share one Client, each calling fetch back to back for S seconds. Prints
exactly one line,

    RESULT lang=python concurrency=N requests=R seconds=S rps=X p50_us=Y p99_us=Z

(R: calls answered OK; rps: R over the wall time from the start until the
last call returned; p50 and p99 of the OK calls' measured latencies) and
exits 0, or 2 when some call failed (the first failure on stderr, the line
still printed), 1 when it could not start.

Threads share the GIL: this measures what one Python process gets from
one client, which is what a service written in Python would see.
"""

import argparse
import os
import sys
import threading
import time

# Next to this file are the package's sources, without the message classes
# protoc generates at build time: take the package from PYTHONPATH (the
# build tree) or from where it is installed. The build tree has a copy of
# this file next to the complete package, which needs neither.
_HERE = os.path.dirname(os.path.abspath(__file__))
if not os.path.exists(os.path.join(_HERE, "cachebroker", "v1",
                                   "envelope_pb2.py")):
    sys.path[:] = [p for p in sys.path
                   if os.path.abspath(p or os.curdir) != _HERE]

import cachebroker  # noqa: E402  (after the sys.path fix above)

TIMEOUT_MS = 5000


def positive(kind, lo, hi):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(
                "%s is not within %s..%s" % (text, lo, hi))
        return v
    return parse


def param(text):
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise argparse.ArgumentTypeError("%r is not NAME=VALUE" % text)
    return name, value


def percentile(sorted_ns, p):
    """The nearest-rank p-th percentile of sorted latencies, in µs."""
    if not sorted_ns:
        return 0.0
    rank = max(1, -(-len(sorted_ns) * p // 100))  # ceil
    return sorted_ns[rank - 1] / 1000.0


class Run:
    """What the callers share."""

    def __init__(self, client, resource, params, concurrency):
        self.client = client
        self.resource = resource
        self.params = params
        self.go = threading.Barrier(concurrency + 1)
        self.end = 0.0          # perf_counter time to stop at
        self.lock = threading.Lock()
        self.failures = 0

    def fetch(self):
        try:
            self.client.fetch(resource=self.resource, params=self.params)
            return True
        except cachebroker.Error as e:
            with self.lock:
                self.failures += 1
                first = self.failures == 1
            if first:
                sys.stderr.write("bench.py: Fetch %s: %s\n"
                                 % (self.resource, e))
            return False

    def caller(self, out):
        # Local names: attribute look-ups cost more than the timer.
        now = time.perf_counter_ns
        fetch = self.fetch
        self.go.wait()
        end_ns = int(self.end * 1e9)
        while now() < end_ns:
            t0 = now()
            if fetch():
                out.append(now() - t0)


def main(argv):
    ap = argparse.ArgumentParser(
        prog="bench.py", description="Fetch-hit benchmark (Python client)")
    ap.add_argument("--url", default=os.environ.get("CACHEBROKER_URL"))
    ap.add_argument("--concurrency", type=positive(int, 1, 4096),
                    default=16)
    ap.add_argument("--seconds", default="5")
    ap.add_argument("--resource", required=True)
    ap.add_argument("--param", type=param, action="append", default=[])
    args = ap.parse_args(argv[1:])
    try:
        seconds = positive(float, 0.1, 3600)(args.seconds)
    except argparse.ArgumentTypeError as e:
        ap.error("--seconds: %s" % e)
    if not args.url:
        ap.error("--url (or $CACHEBROKER_URL) is required")

    try:
        client = cachebroker.Client(args.url, timeout_ms=TIMEOUT_MS)
    except cachebroker.Error as e:
        sys.stderr.write("bench.py: %s: %s\n" % (args.url, e))
        return 1
    with client:
        run = Run(client, args.resource, dict(args.param), args.concurrency)
        # The first call loads the key: every timed one is a hit.
        if not run.fetch():
            return 1
        run.failures = 0
        results = [[] for _ in range(args.concurrency)]
        threads = [threading.Thread(target=run.caller, args=(out,))
                   for out in results]
        for t in threads:
            t.start()
        # The callers read run.end after the barrier, which orders it.
        start = time.perf_counter()
        run.end = start + seconds
        run.go.wait()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start

    lat = sorted(ns for out in results for ns in out)
    print("RESULT lang=python concurrency=%d requests=%d seconds=%s "
          "rps=%.1f p50_us=%.1f p99_us=%.1f"
          % (args.concurrency, len(lat), args.seconds,
             len(lat) / elapsed if elapsed > 0 else 0.0,
             percentile(lat, 50), percentile(lat, 99)))
    sys.stdout.flush()
    return 2 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

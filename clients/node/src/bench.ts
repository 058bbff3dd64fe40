// SPDX-License-Identifier: MIT
// The Node side of the three clients' Fetch-hit benchmark.
//
//   node dist/bench.js --url URL --concurrency N --seconds S \
//       --resource R --param NAME=VALUE [--param NAME=VALUE]...
//
// The same program as tests/bench/client_bench.c (C) and
// clients/python/bench.py: one Fetch first, so that every timed one is a
// hit; then N async callers share one Client, each calling fetch back to
// back for S seconds, all of them in flight at once on its one
// connection. Prints exactly one line,
//
//   RESULT lang=node concurrency=N requests=R seconds=S rps=X p50_us=Y p99_us=Z
//
// (R: calls answered OK; rps: R over the wall time from the start until
// the last call returned; p50 and p99 of the OK calls' latencies, nearest
// rank) and exits 0, or 2 when some call failed (the first failure on
// stderr, the line still printed), 1 when it could not start.
//
// One event loop runs every caller: this measures what one Node process
// gets from one client, which is what a service written for Node sees.
import { parseArgs } from "node:util";

import { Client } from "./client.js";
import { CacheBrokerError } from "./status.js";

const TIMEOUT_MS = 5000;

function usage(why: string): never {
  process.stderr.write(`bench.js: ${why}\n` +
    "usage: bench.js --url URL --concurrency N --seconds S " +
    "--resource R --param NAME=VALUE...\n");
  process.exit(1);
}

function number(name: string, text: string | undefined, dflt: number,
    lo: number, hi: number, integer: boolean): number {
  if (text === undefined) {
    return dflt;
  }
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v) || v < lo || v > hi ||
      (integer && !Number.isInteger(v))) {
    usage(`--${name}: ${text} is not within ${lo}..${hi}`);
  }
  return v;
}

/** percentile: the nearest-rank p-th percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) {
    return 0;
  }
  const rank = Math.max(1, Math.ceil((sorted.length * p) / 100));
  return sorted[rank - 1] as number;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        url: { type: "string" },
        concurrency: { type: "string" },
        seconds: { type: "string" },
        resource: { type: "string" },
        param: { type: "string", multiple: true },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    usage((e as Error).message);
  }
  const url = args.url ?? process.env["CACHEBROKER_URL"];
  if (url === undefined || url === "") {
    usage("--url (or $CACHEBROKER_URL) is required");
  }
  if (args.resource === undefined) {
    usage("--resource is required");
  }
  const concurrency = number("concurrency", args.concurrency, 16, 1, 4096,
    true);
  const secondsArg = args.seconds ?? "5";
  const seconds = number("seconds", secondsArg, 5, 0.1, 3600, false);
  const params: Record<string, string> = {};
  for (const p of args.param ?? []) {
    const eq = p.indexOf("=");
    if (eq < 1) {
      usage(`--param: "${p}" is not NAME=VALUE`);
    }
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }

  let client: Client;
  try {
    client = new Client({ url, timeoutMs: TIMEOUT_MS });
  } catch (e) {
    process.stderr.write(`bench.js: ${url}: ${(e as Error).message}\n`);
    return 1;
  }
  const req = { resource: args.resource, params };
  let failures = 0;
  const fetch = async (): Promise<boolean> => {
    try {
      await client.fetch(req);
      return true;
    } catch (e) {
      if (!(e instanceof CacheBrokerError)) {
        throw e;
      }
      if (++failures === 1) {
        process.stderr.write(`bench.js: Fetch ${req.resource}: ` +
          `${e.codeName}: ${e.message}\n`);
      }
      return false;
    }
  };

  // The first call loads the key: every timed one is a hit.
  if (!(await fetch())) {
    await client.close();
    return 1;
  }
  failures = 0;

  const lat: number[][] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  const caller = async (out: number[]): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      if (await fetch()) {
        out.push(performance.now() - t0);
      }
    }
  };
  const callers = [];
  for (let i = 0; i < concurrency; i++) {
    const out: number[] = [];
    lat.push(out);
    callers.push(caller(out));
  }
  await Promise.all(callers);
  const elapsed = (performance.now() - start) / 1000;
  await client.close();

  const all = Float64Array.from(lat.flat()).sort();
  const us = (ms: number): string => (ms * 1000).toFixed(1);
  process.stdout.write(
    `RESULT lang=node concurrency=${concurrency} requests=${all.length} ` +
      `seconds=${secondsArg} ` +
      `rps=${(elapsed > 0 ? all.length / elapsed : 0).toFixed(1)} ` +
      `p50_us=${us(percentile(all, 50))} p99_us=${us(percentile(all, 99))}\n`);
  return failures > 0 ? 2 : 0;
}

process.exitCode = await main();

// SPDX-License-Identifier: MIT
// reports service: the dashboard and the per-period reports, read through the broker.
//
// Replaces the reports service's own cache-aside code (getOrSet) on
// reports:performance:{technicianId}:{period},
// reports:analytics:{type}:{period} and reports:dashboard, with a TTL it
// chose by period kind (real-time 5 min, daily 1 h, historical 24 h):
// every caller that missed an expired report ran its query. The broker
// keeps the keys and the by-period TTL rule, runs one
// query however many callers miss together, and warms the dashboard and
// the current reports at start-up: resources reports.dashboard,
// reports.performance and reports.analytics in
// examples/workflow/cachebroker.conf.
import { Client, FetchSource, NotFoundError } from "@cachebroker/client";

export type Period = "realtime" | "daily" | "historical";
export type AnalyticsType = "status" | "completion" | "durations" |
  "technicians";

/** A report and where it came from, for the response's headers. */
export interface Report<T> {
  data: T;
  /** Served from the cache (not loaded by this call). */
  cached: boolean;
  /** How much longer the cached copy lives, in ms. */
  ttlMs: number;
}

const utf8 = new TextDecoder();

async function report<T>(
  client: Client,
  resource: string,
  params: Record<string, string> = {},
): Promise<Report<T> | null> {
  try {
    // Reports can take a while to compute on a miss: a longer deadline
    // than the client's 5 s default.
    const r = await client.fetch({ resource, params }, { timeoutMs: 15_000 });
    return {
      data: JSON.parse(utf8.decode(r.value)) as T,
      cached: r.source === FetchSource.CACHE,
      ttlMs: Number(r.ttlMs),
    };
  } catch (e) {
    if (e instanceof NotFoundError) {
      return null;
    }
    throw e;
  }
}

/** dashboard returns the operations dashboard (5 min). */
export async function dashboard(client: Client):
    Promise<Report<Record<string, unknown>>> {
  const r = await report<Record<string, unknown>>(client,
    "reports.dashboard");
  if (r === null) {
    throw new Error("reports.dashboard has no row");
  }
  return r;
}

/** performance returns a technician's performance in a period, or null
 * when there is no such technician. */
export function performance(
  client: Client,
  technicianId: number,
  period: Period,
): Promise<Report<unknown> | null> {
  return report(client, "reports.performance", {
    technician_id: String(technicianId),
    period,
  });
}

/** analytics returns one analytics report in a period. */
export function analytics(
  client: Client,
  type: AnalyticsType,
  period: Period,
): Promise<Report<unknown> | null> {
  return report(client, "reports.analytics", { type, period });
}

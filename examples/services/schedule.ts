// SPDX-License-Identifier: MIT
// schedule service: a technician's day, today's board and a week, and the invalidation after a change.
//
// Replaces the schedule service's own cache-aside code (getOrSet) on
// schedules:technician:{id}:date:{date}, with a TTL the service chose
// from the date (past 24 h, today 30 min, future 2 h), and its own
// deletes after a change: that day, schedules:today, the cached weeks and
// the technician's week that the users service shows. The broker now
// does all of it: resources
// schedules.technician_date (its by-date TTL rule), schedules.today and
// schedules.week, event schedules.changed in
// examples/workflow/cachebroker.conf.
import { Client, NotFoundError } from "@cachebroker/client";

/** One slot of a technician's day; task is null when the slot is free. */
export interface Slot {
  slot: number;
  starts_at: string;
  ends_at: string;
  task: {
    id: number;
    order_id: number;
    kind: string;
    title: string;
    status: string;
  } | null;
}

/** A technician's day as schedules.technician_date returns it. */
export interface TechnicianDay {
  technician_id: number;
  date: string;
  status: "working" | "off" | "leave" | "unscheduled";
  shift_start: string | null;
  shift_end: string | null;
  slots: Slot[];
}

const utf8 = new TextDecoder();

/** isoDate formats a day as the loaders' date parameters want it. */
export function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * technicianDay returns one technician's day, or null when there is no
 * such technician.
 */
export async function technicianDay(
  client: Client,
  technicianId: number,
  day: Date,
): Promise<TechnicianDay | null> {
  try {
    const r = await client.fetch({
      resource: "schedules.technician_date",
      params: { id: String(technicianId), date: isoDate(day) },
    });
    return JSON.parse(utf8.decode(r.value)) as TechnicianDay;
  } catch (e) {
    if (e instanceof NotFoundError) {
      return null;
    }
    throw e;
  }
}

/** todaysBoard returns today's board: every technician working today. */
export async function todaysBoard(client: Client): Promise<unknown> {
  const r = await client.fetch({ resource: "schedules.today" });
  return JSON.parse(utf8.decode(r.value));
}

/** week returns the seven days from startDate for every technician. */
export async function week(client: Client, startDate: Date):
    Promise<unknown> {
  const r = await client.fetch({
    resource: "schedules.week",
    params: { start_date: isoDate(startDate) },
  });
  return JSON.parse(utf8.decode(r.value));
}

/**
 * scheduleChanged is called after a booking, a cancellation or a shift
 * change of one technician's day has been committed: the day, the
 * technician's week, today's board, every cached week and the dashboard
 * are invalidated before this resolves. It returns how many keys went.
 */
export async function scheduleChanged(
  client: Client,
  technicianId: number,
  day: Date,
): Promise<bigint> {
  const r = await client.publish({
    event: "schedules.changed",
    params: { technician_id: String(technicianId), date: isoDate(day) },
  });
  return r.keysInvalidated;
}

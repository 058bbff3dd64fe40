// SPDX-License-Identifier: MIT
// tasks service: an order with its tasks, a technician's open tasks, and the invalidation after a task change.
//
// Replaces the tasks service's own cache-aside code (getOrSet) on
// tasks:order:{orderId} (30 min), tasks:technician:{id}:active,
// tasks:status:{status} and tasks:recent (5 min), and its own deletes of
// them after a task changed. The broker now owns them: resources
// tasks.order, tasks.technician_active, tasks.status, tasks.recent and
// events tasks.changed and tasks.unassigned_changed in
// examples/workflow/cachebroker.conf, whose patterns it sweeps with SCAN
// and UNLINK.
import { Client, NotFoundError, replyInfo } from "@cachebroker/client";

/** An order as tasks.order returns it. */
export interface Order {
  id: number;
  status: string;
  priority: "low" | "normal" | "high" | "urgent";
  title: string;
  address: string;
  created_at: string;
  updated_at: string;
  customer: { id: number; name: string; email: string; phone: string | null };
  tasks: {
    id: number;
    technician_id: number | null;
    kind: string;
    title: string;
    status: string;
    estimated_minutes: number;
    scheduled_start: string | null;
    started_at: string | null;
    completed_at: string | null;
    cancelled_at: string | null;
    duration_min: number | null;
  }[];
}

const utf8 = new TextDecoder();

/**
 * getOrder returns an order with its customer and tasks, or null, and
 * whether the cache had it (for the service's X-Cache response header).
 */
export async function getOrder(
  client: Client,
  orderId: number,
): Promise<{ order: Order | null; cache: string }> {
  try {
    const r = await client.fetch({
      resource: "tasks.order",
      params: { order_id: String(orderId) },
    });
    return {
      order: JSON.parse(utf8.decode(r.value)) as Order,
      cache: replyInfo(r)?.xCache ?? "",
    };
  } catch (e) {
    if (e instanceof NotFoundError) {
      return { order: null, cache: "miss" };
    }
    throw e;
  }
}

/** activeTasks returns a technician's assigned and in-progress tasks. */
export async function activeTasks(
  client: Client,
  technicianId: number,
): Promise<unknown[]> {
  const r = await client.fetch({
    resource: "tasks.technician_active",
    params: { id: String(technicianId) },
  });
  return JSON.parse(utf8.decode(r.value)) as unknown[];
}

/**
 * taskChanged is called after a task's change is committed. A pending
 * task has no technician, and has its own event, since tasks.changed
 * names the technician's keys.
 */
export async function taskChanged(
  client: Client,
  orderId: number,
  technicianId: number | null,
): Promise<void> {
  if (technicianId === null) {
    await client.publish({
      event: "tasks.unassigned_changed",
      params: { order_id: String(orderId) },
    });
    return;
  }
  await client.publish({
    event: "tasks.changed",
    params: {
      order_id: String(orderId),
      technician_id: String(technicianId),
    },
  });
}

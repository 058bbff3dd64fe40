// SPDX-License-Identifier: MIT
// users service: profile and list reads, and the invalidation after an update, through the broker.
//
// Replaces the users service's own cache-aside code (its copy of the
// shared cache library's getOrSet):
//
//   const hit = await redis.get(`users:profile:${id}`);
//   if (hit) return JSON.parse(hit);
//   const row = await db.query("SELECT ... FROM users WHERE id = $1", [id]);
//   await redis.set(`users:profile:${id}`, JSON.stringify(row), "PX", 3600000);
//
// and, after an update, its own DEL of the profile and of users:all-users.
//
// The broker now owns the keys, the loader SQL, the TTLs (profile 1 h, the
// list 5 min) and what users.updated invalidates: resources users.profile
// and users.all_users, event users.updated in
// examples/workflow/cachebroker.conf.
import {
  Client,
  NotFoundError,
  UnavailableError,
  newRequestId,
} from "@cachebroker/client";

/** A row of workflow.users as the users.profile loader returns it. */
export interface UserProfile {
  id: number;
  email: string;
  first_name: string;
  last_name: string;
  role: "admin" | "dispatcher" | "technician" | "customer";
  active: boolean;
  phone: string | null;
  region: string | null;
  skills: string[] | null;
  created_at: string;
  updated_at: string;
}

/** An entry of users.all_users: the short form of every user. */
export interface UserSummary {
  id: number;
  name: string;
  role: UserProfile["role"];
  active: boolean;
}

const utf8 = new TextDecoder();

/**
 * getProfile returns a user's profile, or null when there is no such user
 * (the broker remembers that for 30 s, so a flood of lookups of a bad id
 * does not reach the database).
 */
export async function getProfile(
  client: Client,
  userId: number,
): Promise<UserProfile | null> {
  try {
    const r = await client.fetch({
      resource: "users.profile",
      params: { user_id: String(userId) },
    });
    return JSON.parse(utf8.decode(r.value)) as UserProfile;
  } catch (e) {
    if (e instanceof NotFoundError) {
      return null;
    }
    throw e;
  }
}

/** listUsers returns every user in id order, in short form. */
export async function listUsers(client: Client): Promise<UserSummary[]> {
  const r = await client.fetch({ resource: "users.all_users" });
  return JSON.parse(utf8.decode(r.value)) as UserSummary[];
}

/**
 * profileUpdated is called after the service has committed an update of
 * a user. The database's trigger sends the same event over NOTIFY, but
 * asynchronously; publishing it here means the answer to the update
 * leaves only once the profile, the lists and the dashboard are gone from
 * the cache, so the caller's next read sees its own write. A lost
 * connection is retried once with the same request_id: the broker applies
 * the event once however many times it arrives.
 */
export async function profileUpdated(
  client: Client,
  userId: number,
): Promise<void> {
  const call = { event: "users.updated", params: { user_id: String(userId) } };
  const requestId = newRequestId();
  try {
    await client.publish(call, { requestId });
  } catch (e) {
    if (!(e instanceof UnavailableError)) {
      throw e;
    }
    await client.publish(call, { requestId });
  }
}

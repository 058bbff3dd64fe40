// SPDX-License-Identifier: MIT
// Every method once against the live broker (cbh-run), over IPC and over TCP.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  Client,
  FetchSource,
  replyInfo,
  RevokedBy,
  ServingStatus,
  SetCondition,
} from "@cachebroker/client";
import { liveUrl, uniq } from "./helpers.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const nowS = (): bigint => BigInt(Math.floor(Date.now() / 1000));

for (const kind of ["ipc", "tcp"] as const) {
  describe(`every method over ${kind}`, () => {
    let c: Client;
    // Names of this run only: the broker is shared by every test file.
    const ns = `node-${kind}-${uniq()}`;

    before(() => {
      c = new Client({
        url: liveUrl(kind === "ipc" ? "CACHEBROKER_URL" : "CACHEBROKER_TCP_URL"),
      });
      assert.ok(c.url.startsWith(`${kind}://`), c.url);
    });
    after(() => c.close());

    test("set and get, with TTL and x-cache", async () => {
      const s = await c.set({ namespace: ns, key: "a", value: enc("hi"),
        ttlMs: 60_000n });
      assert.equal(s.stored, true);
      const g = await c.get({ namespace: ns, key: "a" });
      assert.equal(g.found, true);
      assert.equal(dec(g.value), "hi");
      assert.ok(g.ttlMs > 50_000n && g.ttlMs <= 60_000n, `ttl ${g.ttlMs}`);
      assert.equal(replyInfo(g)?.xCache, "hit");

      const miss = await c.get({ namespace: ns, key: "absent" });
      assert.equal(miss.found, false);
      assert.equal(miss.value.length, 0);
      assert.equal(replyInfo(miss)?.xCache, "miss");
    });

    test("set conditions", async () => {
      const nx = await c.set({ namespace: ns, key: "a", value: enc("other"),
        condition: SetCondition.IF_ABSENT });
      assert.equal(nx.stored, false);
      const xx = await c.set({ namespace: ns, key: "nope", value: enc("x"),
        condition: SetCondition.IF_PRESENT });
      assert.equal(xx.stored, false);
      const g = await c.get({ namespace: ns, key: "a" });
      assert.equal(dec(g.value), "hi");
    });

    test("setMany and getMany", async () => {
      const s = await c.setMany({ namespace: ns, entries: [
        { key: "m1", value: enc("one") },
        { key: "m2", value: enc("two"), ttlMs: 30_000n },
      ] });
      assert.equal(s.stored, 2);
      const g = await c.getMany({ namespace: ns, keys: ["m2", "none", "m1"] });
      assert.deepEqual(
        g.entries.map((e) => [e.key, e.found, dec(e.value)]),
        [["m2", true, "two"], ["none", false, ""], ["m1", true, "one"]]);
    });

    test("increment and expire", async () => {
      assert.equal((await c.increment({ namespace: ns, key: "n", delta: 5n }))
        .value, 5n);
      assert.equal((await c.increment({ namespace: ns, key: "n", delta: -7n }))
        .value, -2n);
      assert.equal((await c.expire({ namespace: ns, key: "n", ttlMs: 10_000n }))
        .updated, true);
      const g = await c.get({ namespace: ns, key: "n" });
      assert.equal(dec(g.value), "-2");
      assert.ok(g.ttlMs > 0n && g.ttlMs <= 10_000n);
      assert.equal((await c.expire({ namespace: ns, key: "gone",
        ttlMs: 1000n })).updated, false);
    });

    test("delete and invalidatePattern", async () => {
      await c.setMany({ namespace: ns, entries: [
        { key: "p:1", value: enc("1") }, { key: "p:2", value: enc("2") },
        { key: "q:1", value: enc("3") },
      ] });
      assert.equal((await c.delete({ namespace: ns, keys: ["m1", "m2",
        "never"] })).deleted, 2);
      assert.equal((await c.invalidatePattern({ namespace: ns,
        pattern: "p:*" })).deleted, 2n);
      const g = await c.getMany({ namespace: ns, keys: ["p:1", "q:1"] });
      assert.deepEqual(g.entries.map((e) => e.found), [false, true]);
    });

    test("fetch: loader, then cache; publish invalidates", async () => {
      // Each transport fetches its own user so that the first is a miss.
      const id = kind === "ipc" ? "7" : "8";
      const first = await c.fetch({ resource: "conf.user",
        params: { user_id: id }, refresh: true });
      assert.equal(first.source, FetchSource.LOADER);
      assert.equal(replyInfo(first)?.xCache, "miss");
      assert.equal(first.key, `conf:user:${id}`);
      assert.deepEqual(JSON.parse(dec(first.value)),
        { id: Number(id), name: `user ${id}` });

      const second = await c.fetch({ resource: "conf.user",
        params: { user_id: id } });
      assert.equal(second.source, FetchSource.CACHE);
      assert.equal(replyInfo(second)?.xCache, "hit");
      assert.ok(second.ttlMs > 0n && second.ttlMs <= 3_960_000n);

      const pub = await c.publish({ event: "conf.user_updated",
        params: { user_id: id } });
      assert.ok(pub.keysInvalidated >= 1n, `${pub.keysInvalidated}`);
      const third = await c.fetch({ resource: "conf.user",
        params: { user_id: id } });
      assert.equal(third.source, FetchSource.LOADER);
    });

    test("warm", async () => {
      const w = await c.warm({ strategies: ["conf.users"] },
        { timeoutMs: 30_000 });
      assert.equal(w.results.length, 1);
      const r = w.results[0];
      assert.equal(r?.strategy, "conf.users");
      assert.equal(r?.keys, 5n);
      assert.equal(r?.errors, 0n);
      assert.equal(r?.error, "");
      const f = await c.fetch({ resource: "conf.user",
        params: { user_id: "3" } });
      assert.equal(f.source, FetchSource.CACHE);
    });

    test("token revocation", async () => {
      const tok = `tok-${uniq()}`;
      const user = `u-${uniq()}`;
      const r = await c.revokeToken({ tokenId: tok,
        expiresAt: nowS() + 600n });
      assert.ok(r.ttlMs > 590_000n && r.ttlMs <= 600_000n, `${r.ttlMs}`);
      const byToken = await c.isTokenRevoked({ tokenId: tok, userId: user,
        issuedAt: nowS() - 10n });
      assert.equal(byToken.revoked, true);
      assert.equal(byToken.by, RevokedBy.TOKEN);

      const other = `tok-${uniq()}`;
      const before = await c.isTokenRevoked({ tokenId: other, userId: user,
        issuedAt: nowS() - 10n });
      assert.deepEqual([before.revoked, before.by], [false, RevokedBy.NONE]);
      const u = await c.revokeUserTokens({ userId: user,
        issuedBefore: nowS() });
      assert.equal(u.ok, true);
      assert.ok(u.ttlMs > 0n);
      const byUser = await c.isTokenRevoked({ tokenId: other, userId: user,
        issuedAt: nowS() - 10n });
      assert.deepEqual([byUser.revoked, byUser.by], [true, RevokedBy.USER]);
    });

    test("sessions", async () => {
      const user = `s-${uniq()}`;
      const put = await c.putSession({ userId: user, data: enc("{\"r\":1}"),
        ttlMs: 60_000n });
      assert.equal(put.ttlMs, 60_000n);
      const got = await c.getSession({ userId: user });
      assert.equal(got.found, true);
      assert.equal(dec(got.data), "{\"r\":1}");
      assert.ok(got.ttlMs > 50_000n && got.ttlMs <= 60_000n);
      const touched = await c.touchSession({ userId: user,
        ttlMs: 600_000n });
      assert.equal(touched.found, true);
      assert.ok((await c.getSession({ userId: user })).ttlMs > 500_000n);
      assert.equal((await c.deleteSession({ userId: user })).found, true);
      assert.equal((await c.getSession({ userId: user })).found, false);
      assert.equal((await c.deleteSession({ userId: user })).found, false);
      assert.equal((await c.touchSession({ userId: user })).found, false);
    });

    test("rate limit", async () => {
      const subject = `login:${uniq()}`;
      const req = { subject, limit: 2, windowMs: 60_000n };
      const a = await c.checkRateLimit(req);
      const b = await c.checkRateLimit(req);
      const d = await c.checkRateLimit(req);
      assert.deepEqual([a.allowed, b.allowed, d.allowed], [true, true, false]);
      assert.equal(a.remaining, 1n);
      assert.equal(d.remaining, 0n);
      assert.ok(d.retryAfterMs > 0n && d.retryAfterMs <= 30_000n,
        `retry after ${d.retryAfterMs}`);
      assert.equal(d.decidedWithoutRedis, false);
    });

    test("health, metrics, resetStats", async () => {
      await c.get({ namespace: ns, key: "a" });
      const m = await c.metrics();
      const get = m.methods.find((x) =>
        x.method === "/cachebroker.v1.CacheService/Get");
      assert.ok(get !== undefined && get.count >= 1n, "Get counted");
      assert.ok(m.namespaces.some((x) => x.namespace === ns && x.hits >= 1n),
        "namespace hits counted");
      assert.ok(m.keyCount > 0n);

      assert.equal((await c.resetStats()).ok, true);
      const h = await c.health();
      assert.equal(h.status, ServingStatus.SERVING);
      assert.equal(h.redis?.connected, true);
      assert.equal(h.database?.connected, true);
      assert.equal(h.hits, 0n);
      assert.match(h.version, /^\d+\.\d+\.\d+/);
    });
  });
}

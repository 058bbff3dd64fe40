// SPDX-License-Identifier: MIT
// The SP transport against hand-written peers: bytes, ids, deadlines, lost and dead brokers.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";

import {
  CancelledError,
  Client,
  DeadlineExceededError,
  GetRequestSchema,
  HealthResponseSchema,
  ResourceExhaustedError,
  UnavailableError,
} from "@cachebroker/client";
import {
  FakeBroker,
  freeClosedPort,
  tempDir,
  timed,
  type SeenRequest,
} from "./helpers.js";

const REQ0_HEADER = "0053500000300000";

function healthReply(req: SeenRequest, version: string): void {
  req.conn.reply(req.id, {
    status: { code: 0 },
    payload: toBinary(HealthResponseSchema,
      create(HealthResponseSchema, { version })),
  });
}

for (const kind of ["tcp", "ipc"] as const) {
  describe(`wire format over ${kind}`, () => {
    let dir: ReturnType<typeof tempDir>;
    let fake: FakeBroker;

    before(async () => {
      dir = tempDir();
      fake = await FakeBroker.start(
        kind === "ipc" ? { sockPath: join(dir.path, "b.sock") } : {});
    });
    after(async () => {
      await fake.stop();
      dir.cleanup();
    });

    test("SP header, frame, request id, envelope fields", async () => {
      fake.handler = (r) => healthReply(r, `v-${r.envelope.requestId}`);
      const c = new Client({ url: fake.url, timeoutMs: 1234 });
      const h1 = await c.health();
      const h2 = await c.health({}, { requestId: "my-id-1",
        timeoutMs: 4321, metadata: { authorization: "Bearer t" } });
      await c.close();

      assert.equal(fake.conns.length, 1, "one connection for two calls");
      assert.equal(fake.conns[0]?.header?.toString("hex"), REQ0_HEADER);
      const [r1, r2] = fake.requests;
      assert.ok(r1 !== undefined && r2 !== undefined);
      for (const r of [r1, r2]) {
        assert.ok((r.id & 0x80000000) !== 0, "request id has the high bit");
        assert.equal(r.envelope.method, "/cachebroker.v1.AdminService/Health");
      }
      assert.notEqual(r1.id, r2.id);
      assert.match(r1.envelope.requestId, /^[0-9a-f]{32}$/);
      assert.equal(r2.envelope.requestId, "my-id-1");
      assert.ok(r1.envelope.deadlineMs <= 1234 && r1.envelope.deadlineMs > 1000,
        `deadline_ms ${r1.envelope.deadlineMs}`);
      assert.ok(r2.envelope.deadlineMs <= 4321 && r2.envelope.deadlineMs > 4000);
      assert.deepEqual(r2.envelope.metadata, { authorization: "Bearer t" });
      // Each reply reached the call whose id it carried.
      assert.equal(h1.version, `v-${r1.envelope.requestId}`);
      assert.equal(h2.version, "v-my-id-1");
    });

    test("fresh request ids differ on every call", async () => {
      fake.requests.length = 0;
      fake.handler = (r) => FakeBroker.ok(r);
      const c = new Client({ url: fake.url });
      for (let i = 0; i < 20; i++) {
        await c.resetStats();
      }
      await c.close();
      const ids = new Set(fake.requests.map((r) => r.envelope.requestId));
      assert.equal(ids.size, 20);
    });

    test("100 replies in reverse order reach their own callers", async () => {
      const held: SeenRequest[] = [];
      fake.handler = (r) => {
        held.push(r);
        if (held.length === 100) {
          for (const h of held.reverse()) {
            const key = fromBinary(GetRequestSchema, h.envelope.payload).key;
            healthReply(h, key);
          }
        }
      };
      const c = new Client({ url: fake.url });
      // Health's reply is used to carry back the key each caller sent.
      const calls = Array.from({ length: 100 }, (_, i) =>
        c.call("CacheService/Get",
          toBinary(GetRequestSchema,
            create(GetRequestSchema, { namespace: "n", key: `k${i}` }))));
      const replies = await Promise.all(calls);
      await c.close();
      replies.forEach((r, i) => {
        assert.equal(fromBinary(HealthResponseSchema, r.payload).version,
          `k${i}`);
      });
    });
  });
}

describe("deadlines and failures", () => {
  let fake: FakeBroker;
  before(async () => {
    fake = await FakeBroker.start();
  });
  after(async () => {
    await fake.stop();
  });

  test("no reply: DeadlineExceeded at the deadline; a late reply is dropped",
    async () => {
      const held: SeenRequest[] = [];
      fake.handler = (r) => held.push(r);
      const c = new Client({ url: fake.url });
      const { ms, error } = await timed(() => c.health({}, { timeoutMs: 200 }));
      assert.ok(error instanceof DeadlineExceededError, String(error));
      assert.equal(error.code, 4);
      assert.equal(error.codeName, "DEADLINE_EXCEEDED");
      assert.match(error.message, /no reply within 200 ms/);
      assert.equal(error.requestId, held[0]?.envelope.requestId);
      assert.ok(ms >= 190 && ms < 1500, `took ${ms} ms`);

      // The late reply to the first call must not answer the second.
      fake.handler = (r) => {
        const late = held[0] as SeenRequest;
        healthReply(late, "late");
        healthReply(r, "second");
      };
      const h = await c.health();
      assert.equal(h.version, "second");
      await c.close();
    });

  test("oversized request: ResourceExhausted at once, nothing sent",
    async () => {
      const before = fake.conns.length;
      const bytes = fake.bytesReceived;
      const c = new Client({ url: fake.url, maxMessageSize: 1000 });
      const { ms, error } = await timed(() =>
        c.set({ namespace: "n", key: "k", value: new Uint8Array(2000) }));
      assert.ok(error instanceof ResourceExhaustedError, String(error));
      assert.equal(error.code, 8);
      assert.match(error.message, /exceeds the limit of 1000 bytes/);
      // Against the 5 s deadline: it did not wait for anything.
      assert.ok(ms < 500, `took ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(fake.conns.length, before, "no connection was made");
      assert.equal(fake.bytesReceived, bytes, "no byte was sent");

      // Just under the limit goes through.
      fake.handler = (r) => FakeBroker.ok(r);
      await c.set({ namespace: "n", key: "k", value: new Uint8Array(900) });
      await c.close();
    });

  test("default maxMessageSize is 1 MiB", async () => {
    const c = new Client({ url: fake.url });
    assert.equal(c.maxMessageSize, 1 << 20);
    const { error } = await timed(() =>
      c.set({ namespace: "n", key: "k", value: new Uint8Array(1 << 20) }));
    assert.ok(error instanceof ResourceExhaustedError, String(error));
    await c.close();
  });

  test("a reply over maxReplySize closes the connection", async () => {
    fake.handler = (r) => {
      const h = Buffer.alloc(8);
      h.writeBigUInt64BE(10n << 20n);
      r.conn.socket.write(h);
    };
    const c = new Client({ url: fake.url, maxReplySize: 1 << 20 });
    const { error } = await timed(() => c.health());
    assert.ok(error instanceof UnavailableError, String(error));
    assert.match(error.message, /over the limit of 1048576 bytes/);
    const conn = fake.conns[fake.conns.length - 1];
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(conn?.socket.destroyed || conn?.socket.readableEnded,
      "the client closed its end");
    await c.close();
  });

  test("close() fails calls in flight and later calls with Cancelled",
    async () => {
      fake.handler = () => {};
      const c = new Client({ url: fake.url });
      const p = c.health();
      await new Promise((r) => setTimeout(r, 50));
      await c.close();
      const { ms, error } = await timed(() => p);
      assert.ok(error instanceof CancelledError, String(error));
      assert.ok(ms < 1000, `took ${ms} ms`);
      const later = await timed(() => c.health());
      assert.ok(later.error instanceof CancelledError);
      assert.match((later.error as Error).message, /client closed/);
    });
});

for (const kind of ["tcp", "ipc"] as const) {
  test(`connection dropped mid-call over ${kind}: Unavailable, then reconnect`,
    async (t) => {
      const dir = tempDir();
      t.after(dir.cleanup);
      const fake = await FakeBroker.start(
        kind === "ipc" ? { sockPath: join(dir.path, "drop.sock") } : {});
      t.after(() => fake.stop());
      fake.handler = (r) => r.conn.socket.destroy();
      const c = new Client({ url: fake.url, timeoutMs: 5000 });
      t.after(() => c.close());
      const { ms, error } = await timed(() => c.health());
      assert.ok(error instanceof UnavailableError, String(error));
      assert.ok(error.message.startsWith(`connection to ${fake.url} lost`),
        error.message);
      assert.equal(error.requestId, fake.requests[0]?.envelope.requestId);
      // Failed by the loss, not by the 5 s deadline.
      assert.ok(ms < 2500, `took ${ms} ms: not failed at once`);

      fake.handler = (r) => healthReply(r, "again");
      const h = await c.health();
      assert.equal(h.version, "again");
      assert.equal(fake.conns.length, 2, "a second connection");
    });
}

describe("peers that are not a rep0 broker", () => {
  test("a req0 peer is refused with a clear message", async (t) => {
    const fake = await FakeBroker.start();
    t.after(() => fake.stop());
    fake.spHeader = Buffer.from(REQ0_HEADER, "hex");
    const c = new Client({ url: fake.url, timeoutMs: 300 });
    const { ms, error } = await timed(() => c.health());
    assert.ok(error instanceof UnavailableError, String(error));
    assert.match(error.message, /SP protocol 0x30, not 0x31/);
    assert.ok(ms >= 290 && ms < 1500, `took ${ms} ms`);
    await c.close();
  });

  test("a non-SP server is refused", async (t) => {
    const fake = await FakeBroker.start();
    t.after(() => fake.stop());
    fake.spHeader = Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n");
    const c = new Client({ url: fake.url, timeoutMs: 300 });
    const { error } = await timed(() => c.health());
    assert.ok(error instanceof UnavailableError, String(error));
    assert.match(error.message, /not an SP peer/);
    await c.close();
  });
});

describe("no broker", () => {
  test("a peer that never sends its SP header: Unavailable at the deadline",
    async (t) => {
      const fake = await FakeBroker.start();
      t.after(() => fake.stop());
      fake.spHeader = null;
      const c = new Client({ url: fake.url, timeoutMs: 300 });
      const { ms, error } = await timed(() => c.health());
      assert.ok(error instanceof UnavailableError, String(error));
      assert.match(error.message,
        /within 300 ms \((no SP handshake|still connecting)/);
      assert.ok(ms >= 290 && ms < 1500, `took ${ms} ms`);
      assert.equal(fake.requests.length, 0);
      await c.close();
    });

  test("close() ends calls still waiting for a connection", async (t) => {
    const silent = await FakeBroker.start();
    t.after(() => silent.stop());
    silent.spHeader = null;
    const dir = tempDir();
    t.after(dir.cleanup);
    for (const url of [silent.url, `ipc://${join(dir.path, "none.sock")}`]) {
      const c = new Client({ url, timeoutMs: 5000 });
      const call = timed(() => c.health());
      await new Promise((r) => setTimeout(r, 150));
      await c.close();
      const { ms, error } = await call;
      assert.ok(error instanceof CancelledError, `${url}: ${String(error)}`);
      assert.ok(ms < 1500, `${url}: took ${ms} ms`);
    }
  });

  test("ipc path nobody listens on: Unavailable within the deadline",
    async (t) => {
      const dir = tempDir();
      t.after(dir.cleanup);
      const url = `ipc://${join(dir.path, "nobody.sock")}`;
      const c = new Client({ url, timeoutMs: 400 });
      const { ms, error } = await timed(() => c.health());
      assert.ok(error instanceof UnavailableError, String(error));
      assert.equal(error.code, 14);
      assert.equal(error.codeName, "UNAVAILABLE");
      assert.ok(error.message.includes(`no connection to ${url} within 400 ms`),
        error.message);
      assert.match(error.message, /ENOENT/);
      assert.ok(ms >= 390 && ms < 1500, `took ${ms} ms`);
      await c.close();
    });

  test("closed TCP port: Unavailable within the deadline", async () => {
    const url = `tcp://127.0.0.1:${await freeClosedPort()}`;
    const c = new Client({ url, timeoutMs: 300 });
    const { ms, error } = await timed(() => c.health({}, { timeoutMs: 250 }));
    assert.ok(error instanceof UnavailableError, String(error));
    assert.match(error.message, /within 250 ms.*ECONNREFUSED/);
    assert.ok(ms >= 240 && ms < 1500, `took ${ms} ms`);
    await c.close();
  });

  test("a broker that comes up during the call is found", async (t) => {
    const dir = tempDir();
    t.after(dir.cleanup);
    const sock = join(dir.path, "late.sock");
    const c = new Client({ url: `ipc://${sock}`, timeoutMs: 3000 });
    const call = timed(() => c.health());
    await new Promise((r) => setTimeout(r, 300));
    const fake = await FakeBroker.start({ sockPath: sock });
    t.after(() => fake.stop());
    fake.handler = (r) => healthReply(r, "late broker");
    const { ms, error } = await call;
    assert.equal(error, undefined);
    assert.ok(ms >= 290 && ms < 2000, `took ${ms} ms`);
    await c.close();
  });
});

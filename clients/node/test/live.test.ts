// SPDX-License-Identifier: MIT
// The client against the live broker: typed errors, deadlines, sizes, concurrency, lost connections.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";

import {
  CacheBrokerError,
  Client,
  DeadlineExceededError,
  FailedPreconditionError,
  FetchSource,
  GetRequestSchema,
  GetResponseSchema,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
  UnimplementedError,
} from "@cachebroker/client";
import { liveUrl, TcpProxy, timed, uniq } from "./helpers.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function assertError<T extends CacheBrokerError>(
  error: unknown,
  cls: new (...a: never[]) => T,
  code: number,
  codeName: string,
  message: RegExp,
): asserts error is T {
  assert.ok(error instanceof cls, `want ${cls.name}, got ${String(error)}`);
  assert.ok(error instanceof CacheBrokerError);
  assert.equal(error.code, code);
  assert.equal(error.codeName, codeName);
  assert.match(error.message, message);
}

describe("errors from the broker", () => {
  let c: Client;
  const ns = `node-err-${uniq()}`;
  before(() => {
    c = new Client({ url: liveUrl("CACHEBROKER_URL") });
  });
  after(() => c.close());

  test("bad namespace: InvalidArgumentError", async () => {
    const { error } = await timed(() => c.get({ namespace: "Bad NS",
      key: "k" }));
    assertError(error, InvalidArgumentError, 3, "INVALID_ARGUMENT",
      /namespace/);
    assert.match(String(error.requestId), /^[0-9a-f]{32}$/);
  });

  test("unknown resource and missing row", async () => {
    const unknown = await timed(() => c.fetch({ resource: "conf.nope",
      params: {} }));
    assertError(unknown.error, InvalidArgumentError, 3, "INVALID_ARGUMENT",
      /conf\.nope/);
    const missing = await timed(() => c.fetch({ resource: "conf.user",
      params: { user_id: "999" } }));
    assertError(missing.error, NotFoundError, 5, "NOT_FOUND", /./);
  });

  test("increment of a non-integer: FailedPreconditionError", async () => {
    await c.set({ namespace: ns, key: "text", value: enc("abc") });
    const { error } = await timed(() => c.increment({ namespace: ns,
      key: "text", delta: 1n }));
    assertError(error, FailedPreconditionError, 9, "FAILED_PRECONDITION",
      /./);
  });

  test("unknown method and malformed payload through call()", async () => {
    const unknown = await timed(() =>
      c.call("CacheService/NoSuchMethod", new Uint8Array()));
    assertError(unknown.error, UnimplementedError, 12, "UNIMPLEMENTED",
      /NoSuchMethod/);
    const bad = await timed(() =>
      c.call("/cachebroker.v1.CacheService/Get",
        new Uint8Array([0x0a, 0xff, 0xff, 0xff])));
    assertError(bad.error, InvalidArgumentError, 3, "INVALID_ARGUMENT", /./);
  });

  test("call() returns raw bytes and metadata", async () => {
    await c.set({ namespace: ns, key: "raw", value: enc("bytes") });
    const r = await c.call("CacheService/Get", toBinary(GetRequestSchema,
      create(GetRequestSchema, { namespace: ns, key: "raw" })));
    assert.equal(r.xCache, "hit");
    assert.equal(r.metadata["x-cache"], "hit");
    assert.match(r.requestId, /^[0-9a-f]{32}$/);
    const g = fromBinary(GetResponseSchema, r.payload);
    assert.equal(dec(g.value), "bytes");
  });

  test("a value over the broker's max_value_size: its ResourceExhausted",
    async () => {
      // 100 KiB: under the client's 1 MiB, over broker.conf's 64k.
      const { error } = await timed(() => c.set({ namespace: ns, key: "big",
        value: new Uint8Array(100 << 10) }));
      assertError(error, ResourceExhaustedError, 8, "RESOURCE_EXHAUSTED",
        /./);
    });

  test("a request over maxMessageSize never reaches the broker", async () => {
    const count = async (): Promise<bigint> =>
      (await c.metrics()).methods.find((m) =>
        m.method === "/cachebroker.v1.CacheService/Set")?.count ?? 0n;
    const before = await count();
    const { ms, error } = await timed(() => c.set({ namespace: ns,
      key: "huge", value: new Uint8Array(2 << 20) }));
    assertError(error, ResourceExhaustedError, 8, "RESOURCE_EXHAUSTED",
      /exceeds the limit of 1048576 bytes/);
    assert.ok(ms < 1000, `took ${ms} ms`);
    assert.equal(await count(), before, "the broker counted no Set");
  });

  test("deadline: a slow loader gives DeadlineExceededError in time",
    async () => {
      const { ms, error } = await timed(() => c.fetch(
        { resource: "conf.slow", params: { user_id: "1" }, refresh: true },
        { timeoutMs: 300 }));
      assertError(error, DeadlineExceededError, 4, "DEADLINE_EXCEEDED", /./);
      // Answered at the deadline, not when the 1 s query ended.
      assert.ok(ms >= 250 && ms < 950, `took ${ms} ms`);
    });

  test("a request_id makes a mutation apply once", async () => {
    const id = `node-${uniq()}${uniq()}`;
    const a = await c.increment({ namespace: ns, key: "once", delta: 1n },
      { requestId: id });
    const b = await c.increment({ namespace: ns, key: "once", delta: 1n },
      { requestId: id });
    assert.equal(a.value, 1n);
    assert.equal(b.value, 1n);
    const d = await c.increment({ namespace: ns, key: "once", delta: 1n });
    assert.equal(d.value, 2n);
  });
});

describe("concurrency", () => {
  test("100 concurrent calls on one client, answered out of order",
    async () => {
      const c = new Client({ url: liveUrl("CACHEBROKER_URL") });
      const ns = `node-conc-${uniq()}`;
      await c.setMany({ namespace: ns, entries: Array.from({ length: 99 },
        (_, i) => ({ key: `k${i}`, value: enc(`value ${i}`) })) });

      const done: string[] = [];
      // The slow fetch goes first and takes a second in PostgreSQL; the
      // 99 gets sent after it must not wait for it.
      const slow = c.fetch({ resource: "conf.slow",
        params: { user_id: String(1000 + Math.floor(Math.random() * 1e6)) },
        refresh: true }).then((f) => {
        done.push("slow");
        return f;
      });
      const gets = Array.from({ length: 99 }, (_, i) =>
        c.get({ namespace: ns, key: `k${i}` }).then((g) => {
          done.push(`k${i}`);
          return g;
        }));
      const [f, ...got] = await Promise.all([slow, ...gets]);
      got.forEach((g, i) => {
        assert.equal(g.found, true);
        assert.equal(dec(g.value), `value ${i}`);
      });
      assert.equal(f.source, FetchSource.LOADER);
      assert.equal(done.length, 100);
      assert.equal(done[99], "slow", "the slow call finished last");
      await c.close();
    });
});

describe("lost connection to the live broker", () => {
  test("cut mid-call: Unavailable at once, the next call reconnects",
    async (t) => {
      const proxy = await TcpProxy.start(liveUrl("CACHEBROKER_TCP_URL"));
      t.after(() => proxy.stop());
      const c = new Client({ url: proxy.url, timeoutMs: 5000 });
      t.after(() => c.close());
      assert.equal((await c.health()).version.length > 0, true);

      const call = timed(() => c.fetch({ resource: "conf.slow",
        params: { user_id: "3" }, refresh: true }));
      await new Promise((r) => setTimeout(r, 200));
      proxy.cut();
      const { ms, error } = await call;
      assertError(error, UnavailableError, 14, "UNAVAILABLE", /lost/);
      // Failed by the cut, not by the 5 s deadline.
      assert.ok(ms < 2500, `took ${ms} ms`);

      const h = await c.health();
      assert.ok(h.version.length > 0);
      assert.ok(proxy.sockets.length >= 2, "a new connection was made");
    });
});

describe("tls+tcp://", () => {
  // cbh-run --tls: a listener whose certificate names "localhost" and
  // that requires client certificates; CACHEBROKER_TLS_CA, _CERT, _KEY and
  // _SERVER_NAME in the environment, and CBH_TLS_DIR with a certificate
  // from a CA the broker does not know (stranger.pem, stranger.key).
  const refused = async (c: Client): Promise<void> => {
    try {
      const { ms, error } = await timed(() => c.health({}));
      assertError(error, UnavailableError, 14, "UNAVAILABLE", /./);
      assert.ok(ms < 800 + 500, `failed after ${ms} ms`);
    } finally {
      c.close();
    }
  };

  // The calls that succeed come first: with nng 1.5, handshakes that
  // fail can leave a TLS listener not serving (docs/configuration.md).
  test("calls go through, the CA and name from the environment",
    async () => {
      const c = new Client({ url: liveUrl("CACHEBROKER_TLS_URL") });
      try {
        const ns = `node-tls-${uniq()}`;
        await c.set({ namespace: ns, key: "k", value: enc("over tls") });
        const r = await c.get({ namespace: ns, key: "k" });
        assert.equal(dec(r.value), "over tls");
      } finally {
        c.close();
      }
    });

  test("a client certificate is required, from the broker's CA",
    async () => {
      const url = liveUrl("CACHEBROKER_TLS_URL");
      const saved = [process.env["CACHEBROKER_TLS_CERT"],
        process.env["CACHEBROKER_TLS_KEY"]];
      delete process.env["CACHEBROKER_TLS_CERT"];
      delete process.env["CACHEBROKER_TLS_KEY"];
      let none: Client;
      try {
        none = new Client({ url, timeoutMs: 800 });
      } finally {
        process.env["CACHEBROKER_TLS_CERT"] = saved[0];
        process.env["CACHEBROKER_TLS_KEY"] = saved[1];
      }
      await refused(none);
      const dir = process.env["CBH_TLS_DIR"] ?? "";
      await refused(new Client({ url, timeoutMs: 800,
        tls: { certFile: `${dir}/stranger.pem`,
          keyFile: `${dir}/stranger.key` } }));
    });

  test("a certificate for another name: UnavailableError in time",
    async () => {
      const c = new Client({ url: liveUrl("CACHEBROKER_TLS_URL"),
        tls: { serverName: "broker.example" }, timeoutMs: 800 });
      try {
        const { ms, error } = await timed(() => c.health({}));
        assertError(error, UnavailableError, 14, "UNAVAILABLE",
          /broker\.example|certificate|altnames/i);
        assert.ok(ms < 800 + 500, `failed after ${ms} ms`);
      } finally {
        c.close();
      }
    });

  test("a key without its certificate, a bad key: InvalidArgumentError",
    () => {
      const url = liveUrl("CACHEBROKER_TLS_URL");
      const dir = process.env["CBH_TLS_DIR"] ?? "";
      const saved = process.env["CACHEBROKER_TLS_CERT"];
      delete process.env["CACHEBROKER_TLS_CERT"];
      try {
        assert.throws(() => new Client({ url }),
          (e: unknown) => e instanceof InvalidArgumentError &&
            /its key/.test(e.message));
      } finally {
        process.env["CACHEBROKER_TLS_CERT"] = saved;
      }
      // A certificate with another certificate's key.
      assert.throws(() => new Client({ url,
        tls: { certFile: `${dir}/client.pem`,
          keyFile: `${dir}/stranger.key` } }),
      (e: unknown) => e instanceof InvalidArgumentError &&
        /TLS settings/.test(e.message));
    });

  test("no CA: InvalidArgumentError when the client is made", () => {
    const saved = process.env["CACHEBROKER_TLS_CA"];
    delete process.env["CACHEBROKER_TLS_CA"];
    try {
      assert.throws(() => new Client({ url: liveUrl("CACHEBROKER_TLS_URL") }),
        (e: unknown) => e instanceof InvalidArgumentError &&
          /CACHEBROKER_TLS_CA/.test(e.message));
    } finally {
      process.env["CACHEBROKER_TLS_CA"] = saved;
    }
  });
});

// SPDX-License-Identifier: MIT
// Test servers: a hand-written rep0 peer, a TCP proxy, and the live broker's URLs.
//
// FakeBroker parses the client's bytes with its own code, not the
// client's FrameReader, so that the two cannot agree on a mistake.
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  create,
  fromBinary,
  toBinary,
  type MessageInitShape,
} from "@bufbuild/protobuf";

import {
  RequestSchema,
  ResponseSchema,
  type Request,
} from "@cachebroker/client";

/**
 * liveUrl returns the broker URL that cbh-run exported, and fails the
 * test with a clear message when it is not there: these tests talk to a
 * real broker, Redis and PostgreSQL.
 */
export function liveUrl(
    name: "CACHEBROKER_URL" | "CACHEBROKER_TCP_URL" | "CACHEBROKER_TLS_URL"):
    string {
  const v = process.env[name];
  if (v === undefined || v === "") {
    throw new Error(`${name} is not set: run the tests under cbh-run ` +
      "(ctest -R node_client, or build/tests/harness/cbh-run --pg " +
      "tests/conformance/schema.sql --config tests/conformance/broker.conf " +
      "--tls -- npm --prefix clients/node test)");
  }
  return v;
}

/** uniq returns a short random lower-case suffix for names and keys. */
export function uniq(): string {
  return Math.random().toString(36).slice(2, 10);
}

/** A temporary directory for IPC sockets, removed by cleanup(). */
export function tempDir(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), "cbnode-"));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** freeClosedPort returns a loopback port that nothing listens on. */
export async function freeClosedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** One request as FakeBroker saw it on the wire. */
export interface SeenRequest {
  conn: FakeConn;
  /** The 32-bit request id in front of the body. */
  id: number;
  envelope: Request;
}

/** One accepted connection of FakeBroker. */
export class FakeConn {
  /** The first 8 bytes the client sent. */
  header: Buffer | null = null;
  private buf = Buffer.alloc(0);

  constructor(readonly socket: Socket, private readonly ipc: boolean,
      private readonly onFrame: (c: FakeConn, frame: Buffer) => void) {}

  feed(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.header === null) {
      if (this.buf.length < 8) {
        return;
      }
      this.header = this.buf.subarray(0, 8);
      this.buf = this.buf.subarray(8);
    }
    const hl = this.ipc ? 9 : 8;
    while (this.buf.length >= hl) {
      if (this.ipc && this.buf[0] !== 1) {
        throw new Error(`IPC message type ${this.buf[0]}`);
      }
      const len = Number(this.buf.readBigUInt64BE(this.ipc ? 1 : 0));
      if (this.buf.length < hl + len) {
        return;
      }
      const frame = this.buf.subarray(hl, hl + len);
      this.buf = this.buf.subarray(hl + len);
      this.onFrame(this, frame);
    }
  }

  /** send writes a raw frame body with this transport's prefix. */
  sendFrame(body: Buffer): void {
    const hl = this.ipc ? 9 : 8;
    const h = Buffer.alloc(hl);
    if (this.ipc) {
      h[0] = 1;
    }
    h.writeBigUInt64BE(BigInt(body.length), this.ipc ? 1 : 0);
    this.socket.write(Buffer.concat([h, body]));
  }

  /** reply answers request id with a Response. */
  reply(id: number, resp: MessageInitShape<typeof ResponseSchema>): void {
    const body = toBinary(ResponseSchema, create(ResponseSchema, resp));
    const idb = Buffer.alloc(4);
    idb.writeUInt32BE(id);
    this.sendFrame(Buffer.concat([idb, body]));
  }
}

export type FakeHandler = (req: SeenRequest) => void;

/**
 * FakeBroker is a minimal rep0 peer on TCP or IPC: it sends the SP header
 * it is told to (rep0 by default), records what it receives, and hands
 * each request to the test's handler, which answers, stays silent or
 * drops the connection.
 */
export class FakeBroker {
  readonly conns: FakeConn[] = [];
  readonly requests: SeenRequest[] = [];
  bytesReceived = 0;
  /** The header sent on accept; null sends nothing. */
  spHeader: Buffer | null = Buffer.from([0, 0x53, 0x50, 0, 0, 0x31, 0, 0]);
  handler: FakeHandler = () => {};
  url = "";
  private server: Server;

  private constructor(private readonly ipc: boolean) {
    this.server = createServer((s) => {
      const c = new FakeConn(s, ipc, (conn, frame) => {
        const id = frame.readUInt32BE(0);
        const envelope = fromBinary(RequestSchema, frame.subarray(4));
        const seen = { conn, id, envelope };
        this.requests.push(seen);
        this.handler(seen);
      });
      this.conns.push(c);
      s.on("data", (d: Buffer) => {
        this.bytesReceived += d.length;
        c.feed(d);
      });
      s.on("error", () => {});
      if (this.spHeader !== null) {
        s.write(this.spHeader);
      }
    });
  }

  /** start listens on a free loopback port, or on sockPath for IPC. */
  static async start(opts: { sockPath?: string } = {}): Promise<FakeBroker> {
    const ipc = opts.sockPath !== undefined;
    const f = new FakeBroker(ipc);
    await new Promise<void>((resolve) => {
      if (ipc) {
        f.server.listen(opts.sockPath, resolve);
      } else {
        f.server.listen(0, "127.0.0.1", resolve);
      }
    });
    f.url = ipc ? `ipc://${opts.sockPath}` :
      `tcp://127.0.0.1:${(f.server.address() as { port: number }).port}`;
    return f;
  }

  /** ok answers a request with OK and an empty payload. */
  static ok(req: SeenRequest, metadata: Record<string, string> = {}): void {
    req.conn.reply(req.id, { status: { code: 0 }, metadata });
  }

  async stop(): Promise<void> {
    for (const c of this.conns) {
      c.socket.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * TcpProxy forwards loopback connections to a broker's TCP listener, so a
 * test can cut a live connection in the middle of a call.
 */
export class TcpProxy {
  readonly sockets: Socket[] = [];
  url = "";
  private server: Server;

  private constructor(target: { host: string; port: number }) {
    this.server = createServer((down) => {
      const up = connect(target.port, target.host);
      down.pipe(up);
      up.pipe(down);
      const end = (): void => {
        down.destroy();
        up.destroy();
      };
      down.on("error", end);
      up.on("error", end);
      down.on("close", end);
      up.on("close", end);
      this.sockets.push(down, up);
    });
  }

  static async start(targetUrl: string): Promise<TcpProxy> {
    const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(targetUrl);
    if (m === null) {
      throw new Error(`not a tcp URL: ${targetUrl}`);
    }
    const p = new TcpProxy({ host: m[1] as string, port: Number(m[2]) });
    await new Promise<void>((r) => p.server.listen(0, "127.0.0.1", r));
    p.url = `tcp://127.0.0.1:${(p.server.address() as { port: number }).port}`;
    return p;
  }

  /** cut destroys every connection made through the proxy so far. */
  cut(): void {
    for (const s of this.sockets.splice(0)) {
      s.destroy();
    }
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** timed runs f and returns how long it took to settle, and its error. */
export async function timed(f: () => Promise<unknown>):
    Promise<{ ms: number; error: unknown }> {
  const t0 = performance.now();
  let error: unknown = undefined;
  try {
    await f();
  } catch (e) {
    error = e;
  }
  return { ms: performance.now() - t0, error };
}

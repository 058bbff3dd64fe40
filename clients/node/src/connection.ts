// SPDX-License-Identifier: MIT
// One req0 connection to a broker: handshake, requests in flight by id, replies.
//
//   Connection.open ──► net.connect (tls.connect for tls+tcp://) ──► send
//   our SP header ──► check rep0's
//        │                                                   (fail: reject)
//        ▼ open
//   request(): id ◄── next free id (high bit set); frame out in one write;
//              pending[id] = {resolve, reject, deadline timer}
//   data ──► FrameReader ──► frame ──► pending[id] ──► resolve(Response bytes)
//                                      (unknown id: a reply that came after
//                                       its deadline; dropped)
//   close/error/bad frame ──► every pending call fails UNAVAILABLE
//
// The socket is unref'd: an idle client never keeps the process alive, and
// a call in flight does through its deadline timer.
import { connect, type Socket } from "node:net";
import {
  checkServerIdentity,
  connect as tlsConnect,
  type SecureContext,
} from "node:tls";

import {
  encodeRequest,
  FrameError,
  FrameReader,
  PROTO_REP0,
  PROTO_REQ0,
  REQUEST_ID_END,
  spHeader,
} from "./sp.js";
import {
  CacheBrokerError,
  Code,
  statusError,
} from "./status.js";
import type { Endpoint } from "./url.js";

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (err: CacheBrokerError) => void;
  timer: NodeJS.Timeout;
  requestId: string;
}

/**
 * DialTimeout: a dial ran out of its caller's time. It says less about the
 * broker than the failure of the attempt before it, which callers keep.
 */
export class DialTimeout extends Error {}

/** What a tls+tcp:// connection is made with (Client reads the files). */
export interface TlsFiles {
  /** The CA, the client certificate and key, parsed once. */
  context: SecureContext;
  /** SNI: a host name, or undefined for an IP address. */
  servername: string | undefined;
  /** The name the broker's certificate must carry. */
  checkName: string;
}

export interface ConnectionOptions {
  /** For a tls+tcp:// endpoint. */
  tls?: TlsFiles | undefined;
  /** Largest reply frame accepted; a larger one closes the connection. */
  maxReplySize: number;
  /** How long connecting and the SP handshake may take. */
  timeoutMs: number;
}

export class Connection {
  private readonly pending = new Map<number, Pending>();
  private readonly reader: FrameReader;
  private nextId: number;
  private failure: CacheBrokerError | null = null;

  private constructor(
    private readonly ep: Endpoint,
    private readonly socket: Socket,
    maxReplySize: number,
  ) {
    // The id counter starts anywhere, as nng's does, so that a broker
    // never sees a new connection reuse the ids of the one before.
    this.nextId = Math.floor(Math.random() * 0x7fffffff);
    this.reader = new FrameReader(ep.ipc, PROTO_REP0, maxReplySize);
  }

  /**
   * open connects and exchanges SP headers. It resolves once the peer has
   * shown itself a rep0, or rejects with UnavailableError (refused, no
   * such socket, not a rep0 peer) or DialTimeout (not done within
   * timeoutMs).
   */
  static open(ep: Endpoint, opts: ConnectionOptions): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const t = opts.tls;
      if (ep.tls && t === undefined) {
        throw new Error(`${ep.url}: no TLS settings`);
      }
      const socket: Socket = t !== undefined
        ? tlsConnect({
          host: ep.connect.host,
          port: ep.connect.port,
          secureContext: t.context,
          servername: t.servername,
          rejectUnauthorized: true,
          checkServerIdentity: (_host, cert) =>
            checkServerIdentity(t.checkName, cert),
        })
        : connect(ep.connect);
      socket.unref();
      socket.setNoDelay(true);
      const conn = new Connection(ep, socket, opts.maxReplySize);
      let settled = false;
      let timedOut = false;
      const fail = (why: string): void => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          socket.destroy();
          reject(timedOut ? new DialTimeout(why) :
            statusError(Code.UNAVAILABLE, why));
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        fail(`no SP handshake within ${opts.timeoutMs} ms`);
      }, opts.timeoutMs);
      // Over TLS, the SP header goes once the handshake is done (and
      // the broker's certificate checked).
      socket.once(ep.tls ? "secureConnect" : "connect",
        () => socket.write(spHeader(PROTO_REQ0)));
      socket.on("error", (err: NodeJS.ErrnoException) => {
        if (!settled) {
          // EACCES/EPERM: the IPC socket file's permissions refused us.
          const what = err.code === "EACCES" || err.code === "EPERM" ?
            "permission denied" : err.code;
          fail(what !== undefined ? `${what} (${err.message})` :
            err.message);
        } else {
          conn.lost(err.code ?? err.message);
        }
      });
      socket.on("close", () => {
        if (!settled) {
          fail("closed during the SP handshake");
        } else {
          conn.lost("closed by the broker");
        }
      });
      socket.on("data", (chunk: Buffer) => {
        let got;
        try {
          got = conn.reader.push(chunk);
        } catch (e) {
          const why = e instanceof FrameError ? e.message : String(e);
          if (!settled) {
            fail(why);
          } else {
            conn.lost(why);
          }
          return;
        }
        if (got.header && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve(conn);
        }
        for (const frame of got.frames) {
          conn.reply(frame);
        }
      });
    });
  }

  /** isOpen: requests can still be sent on this connection. */
  get isOpen(): boolean {
    return this.failure === null;
  }

  /** inFlight: requests sent and not yet answered or timed out. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * request sends one envelope and resolves with the Response bytes, or
   * rejects: DeadlineExceededError when no reply comes within waitMs
   * (timeoutMs names the call's whole budget in the message),
   * UnavailableError when the connection is lost first.
   */
  request(
    envelope: Uint8Array,
    waitMs: number,
    timeoutMs: number,
    requestId: string,
  ): Promise<Buffer> {
    if (this.failure !== null) {
      return Promise.reject(statusError(this.failure.code,
        this.failure.message, { requestId }));
    }
    const id = this.allocId();
    const frame = encodeRequest(this.ep.ipc, id, envelope);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(statusError(
          Code.DEADLINE_EXCEEDED,
          `no reply within ${timeoutMs} ms`,
          { requestId },
        ));
      }, waitMs);
      this.pending.set(id, { resolve, reject, timer, requestId });
      this.socket.write(frame);
    });
  }

  /**
   * close ends the connection; calls in flight fail with err (the client
   * passes CancelledError when it is closed).
   */
  close(err: CacheBrokerError): void {
    this.fail(err);
  }

  private allocId(): number {
    // 2^31 ids: a collision with a call still in flight needs as many
    // calls in flight, but skip it rather than misdeliver.
    do {
      this.nextId = (this.nextId + 1) & 0x7fffffff;
    } while (this.pending.has((this.nextId | REQUEST_ID_END) >>> 0));
    return (this.nextId | REQUEST_ID_END) >>> 0;
  }

  private reply(frame: Buffer): void {
    if (frame.length < 4) {
      this.lost(`a reply of ${frame.length} bytes has no request id`);
      return;
    }
    const id = frame.readUInt32BE(0);
    if ((id & REQUEST_ID_END) === 0) {
      // A backtrace longer than our own id: the peer relayed through a
      // device we did not go through. Not a reply of ours.
      this.lost(`a reply with backtrace word 0x${id.toString(16)}`);
      return;
    }
    const p = this.pending.get(id);
    if (p === undefined) {
      return;
    }
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(frame.subarray(4));
  }

  private lost(why: string): void {
    this.fail(statusError(
      Code.UNAVAILABLE,
      `connection to ${this.ep.url} lost: ${why}`,
    ));
  }

  private fail(err: CacheBrokerError): void {
    if (this.failure !== null) {
      return;
    }
    this.failure = err;
    this.socket.destroy();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) {
      clearTimeout(p.timer);
      // The request may have reached the broker: the error carries the
      // call's request id so that a retry of a mutation applies once.
      p.reject(statusError(err.code, err.message, {
        requestId: p.requestId,
      }));
    }
  }
}

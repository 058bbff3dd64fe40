// SPDX-License-Identifier: MIT
// Client: one promise-returning method per RPC over one lazily opened connection.
//
//   client.get(init, opts)            typed: init ─► GetRequest bytes
//     └─► exchange(method, payload)   envelope with deadline_ms, request_id
//           │ too big: RESOURCE_EXHAUSTED, nothing sent, nothing dialled
//           │ connection(): reuse, or dial with backoff until the
//           │   deadline (UNAVAILABLE: the request never left)
//           │ Connection.request: DEADLINE_EXCEEDED, or UNAVAILABLE if
//           │   the connection is lost with the call in flight
//           ▼
//         Response: non-OK status ─► CacheBrokerError subclass
//     ◄── GetResponse (its metadata: replyInfo(resp))
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { createSecureContext } from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";

import {
  create,
  fromBinary,
  toBinary,
  type DescMethod,
  type DescMessage,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";

import { Connection, DialTimeout, type TlsFiles } from "./connection.js";
import {
  RequestSchema,
  ResponseSchema,
} from "./gen/cachebroker/v1/envelope_pb.js";
import {
  fullMethodName,
  METHODS,
  type MethodName,
  type MethodTable,
} from "./methods.js";
import {
  CacheBrokerError,
  Code,
  statusError,
  type ErrorDetails,
} from "./status.js";
import { parseUrl, type Endpoint } from "./url.js";

/** The broker's URL when neither the options nor CACHEBROKER_URL name one. */
export const DEFAULT_URL = "ipc:///run/cachebroker/cachebroker.sock";

/** The full names of methods start with this. */
export const METHOD_PREFIX = "/cachebroker.v1.";

/**
 * TLS for a tls+tcp:// URL, as libcachebroker's cb_tls_opts: PEM files.
 * Each one left out comes from its CACHEBROKER_TLS_* variable.
 */
export interface TlsOptions {
  /** The CAs the broker's certificate must chain to (CACHEBROKER_TLS_CA).
   * Required: there is no unchecked TLS. */
  caFile?: string;
  /** The client's certificate and key, for a broker that asks for one
   * (CACHEBROKER_TLS_CERT, CACHEBROKER_TLS_KEY). */
  certFile?: string;
  keyFile?: string;
  /** The key's password (CACHEBROKER_TLS_KEY_PASSWORD). */
  keyPassword?: string;
  /** The name the broker's certificate must carry; default
   * CACHEBROKER_TLS_SERVER_NAME, else the URL's host. */
  serverName?: string;
}

export interface ClientOptions {
  /** ipc:///path, tcp://host:port or tls+tcp://host:port; default
   * $CACHEBROKER_URL, else DEFAULT_URL. */
  url?: string;
  /** For a tls+tcp:// URL; see TlsOptions. */
  tls?: TlsOptions;
  /** Each call's deadline unless the call gives its own; default 5000. */
  timeoutMs?: number;
  /** Largest request envelope sent, in bytes; default 1 MiB. A larger
   * one fails with ResourceExhaustedError without being sent. */
  maxMessageSize?: number;
  /** Largest reply accepted, in bytes; default 64 MiB. A larger one
   * closes the connection (its calls fail with UnavailableError). */
  maxReplySize?: number;
  /** Metadata sent with every call ("authorization", ...). */
  metadata?: Record<string, string>;
}

export interface CallOptions {
  /** This call's deadline in ms, sent as deadline_ms; 0 or absent: the
   * client's timeoutMs. */
  timeoutMs?: number;
  /** The request_id; absent: a fresh random one. Give a mutating call's
   * retry the id of the first attempt and the broker applies it once. */
  requestId?: string;
  /** Metadata for this call, over the client's. */
  metadata?: Record<string, string>;
}

/** What a reply carried besides its message. */
export interface ReplyInfo {
  /** The reply's metadata. */
  metadata: Record<string, string>;
  /** metadata["x-cache"]: hit, miss, stale or degraded (Get, Fetch). */
  xCache: string | undefined;
  /** The request_id the call was sent with. */
  requestId: string;
}

/** The generic call's answer: the method's response bytes and the rest. */
export interface RawReply extends ReplyInfo {
  payload: Uint8Array;
}

/** One typed call per method of MethodTable. */
export type TypedCalls = {
  [K in MethodName]: (
    request?: MessageInitShape<MethodTable[K]["input"]>,
    opts?: CallOptions,
  ) => Promise<MessageShape<MethodTable[K]["output"]>>;
};

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_MESSAGE = 1 << 20;
const DEFAULT_MAX_REPLY = 64 << 20;
// setTimeout cannot wait longer; deadline_ms (uint32) could.
const MAX_TIMEOUT_MS = 0x7fffffff;
// Redial pauses: short at first, so that a broker that is starting is
// found at once, then no busier than nng's own redial.
const BACKOFF_FIRST_MS = 10;
const BACKOFF_MAX_MS = 500;

const replies = new WeakMap<object, ReplyInfo>();

/**
 * replyInfo returns the metadata of the reply that a typed call returned
 * resp from ("x-cache" of Get and Fetch), or undefined for a message that
 * no call returned.
 */
export function replyInfo(resp: Message): ReplyInfo | undefined {
  return replies.get(resp);
}

// Request ids come from a pool of random bytes: one getrandom call per
// 256 ids instead of one per call.
const idPool = Buffer.alloc(16 * 256);
let idNext = idPool.length;

/** newRequestId returns 32 random hex characters. */
export function newRequestId(): string {
  if (idNext >= idPool.length) {
    randomFillSync(idPool);
    idNext = 0;
  }
  idNext += 16;
  return idPool.toString("hex", idNext - 16, idNext);
}

function positiveInt(name: string, v: number | undefined, dflt: number,
    max: number): number {
  if (v === undefined || v === 0) {
    return dflt;
  }
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw statusError(Code.INVALID_ARGUMENT,
      `${name} must be an integer from 1 to ${max}, not ${v}`);
  }
  return v;
}

/** tlsFiles reads and parses what a tls+tcp:// connection needs, once:
 * a bad file, key or password is InvalidArgumentError here, not a dial
 * that fails until the deadline. */
function tlsFiles(url: string, host: string | undefined,
    o: TlsOptions = {}): TlsFiles {
  const env = (name: string): string | undefined =>
    process.env[name] || undefined;
  const caFile = o.caFile ?? env("CACHEBROKER_TLS_CA");
  const certFile = o.certFile ?? env("CACHEBROKER_TLS_CERT");
  const keyFile = o.keyFile ?? env("CACHEBROKER_TLS_KEY");
  const name = o.serverName ?? env("CACHEBROKER_TLS_SERVER_NAME") ?? host;
  if (caFile === undefined) {
    throw statusError(Code.INVALID_ARGUMENT,
      `${url} needs the CAs to check the broker's certificate with: ` +
        "tls.caFile or CACHEBROKER_TLS_CA");
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw statusError(Code.INVALID_ARGUMENT,
      "a client certificate needs its key, and a key its certificate");
  }
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw statusError(Code.INVALID_ARGUMENT,
        `${what} ${file}: ${errorText(e)}`);
    }
  };
  let context;
  try {
    context = createSecureContext({
      ca: read("CA file", caFile),
      cert: certFile !== undefined ? read("certificate", certFile) :
        undefined,
      key: keyFile !== undefined ? read("key", keyFile) : undefined,
      passphrase: o.keyPassword ?? env("CACHEBROKER_TLS_KEY_PASSWORD"),
      minVersion: "TLSv1.2",
    });
  } catch (e) {
    if (e instanceof CacheBrokerError) {
      throw e;
    }
    throw statusError(Code.INVALID_ARGUMENT,
      `${url}: TLS settings: ${errorText(e)}`);
  }
  return {
    context,
    // SNI takes host names only; the identity check takes either.
    servername: name !== undefined && isIP(name) === 0 ? name : undefined,
    checkName: name ?? "",
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// The typed methods: this interface merges into the class below, whose
// prototype gets one function per METHODS entry at the end of this file.
export interface Client extends TypedCalls {}

/**
 * Client talks to one broker. Connecting is lazy: the first call dials,
 * and a call made while no broker is reachable keeps redialling until its
 * deadline. Any number of calls may be in flight at once on the one
 * connection. Idle, it does not keep the process alive; close() ends it.
 */
export class Client {
  readonly url: string;
  readonly timeoutMs: number;
  readonly maxMessageSize: number;
  readonly maxReplySize: number;
  private readonly ep: Endpoint;
  private readonly tls: TlsFiles | undefined;
  private readonly metadata: Record<string, string>;
  private conn: Connection | null = null;
  private dialing: Promise<Connection> | null = null;
  private closed = false;
  private readonly closing = new AbortController();

  /** Throws InvalidArgumentError for a bad URL or option. */
  constructor(opts: ClientOptions = {}) {
    this.url = opts.url ?? (process.env["CACHEBROKER_URL"] || DEFAULT_URL);
    this.ep = parseUrl(this.url);
    this.tls = this.ep.tls
      ? tlsFiles(this.url, this.ep.connect.host, opts.tls)
      : undefined;
    this.timeoutMs = positiveInt("timeoutMs", opts.timeoutMs,
      DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
    this.maxMessageSize = positiveInt("maxMessageSize", opts.maxMessageSize,
      DEFAULT_MAX_MESSAGE, Number.MAX_SAFE_INTEGER);
    this.maxReplySize = positiveInt("maxReplySize", opts.maxReplySize,
      DEFAULT_MAX_REPLY, Number.MAX_SAFE_INTEGER);
    this.metadata = { ...opts.metadata };
  }

  /**
   * call sends payload, already serialized, as method: a full name
   * ("/cachebroker.v1.CacheService/Get") or one relative to
   * "/cachebroker.v1." ("CacheService/Get"). It resolves with the raw
   * response payload and the reply's metadata, and rejects with a
   * CacheBrokerError for every non-OK status, like the typed calls. For
   * methods this client does not know, and payloads it cannot build.
   */
  call(method: string, payload: Uint8Array,
      opts: CallOptions = {}): Promise<RawReply> {
    const full = method.startsWith("/") ? method : METHOD_PREFIX + method;
    return this.exchange(full, payload, opts);
  }

  /**
   * close ends the connection. Calls in flight, and those waiting for a
   * connection, fail with CancelledError; so does every later call.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.closing.abort();
      this.conn?.close(statusError(Code.CANCELLED, "client closed"));
      this.conn = null;
    }
    return Promise.resolve();
  }

  /** invoke is the body of every typed method. */
  protected async invoke<I extends DescMessage, O extends DescMessage>(
    m: DescMethod & { input: I; output: O },
    request: MessageInitShape<I> | undefined,
    opts: CallOptions = {},
  ): Promise<MessageShape<O>> {
    let payload: Uint8Array;
    try {
      payload = toBinary(m.input, create(m.input, request));
    } catch (e) {
      throw statusError(Code.INVALID_ARGUMENT,
        `bad ${m.input.name}: ${errorText(e)}`,
        opts.requestId !== undefined ? { requestId: opts.requestId } : {});
    }
    const raw = await this.exchange(fullMethodName(m), payload, opts);
    let resp: MessageShape<O>;
    try {
      resp = fromBinary(m.output, raw.payload);
    } catch {
      throw statusError(Code.INTERNAL,
        `undecodable ${m.output.name} (${raw.payload.length} bytes)`,
        { requestId: raw.requestId, metadata: raw.metadata });
    }
    replies.set(resp, {
      metadata: raw.metadata,
      xCache: raw.xCache,
      requestId: raw.requestId,
    });
    return resp;
  }

  private async exchange(method: string, payload: Uint8Array,
      opts: CallOptions): Promise<RawReply> {
    const requestId = opts.requestId ?? newRequestId();
    const details: ErrorDetails = { requestId };
    if (this.closed) {
      throw statusError(Code.CANCELLED, "client closed", details);
    }
    let timeoutMs: number;
    try {
      timeoutMs = positiveInt("timeoutMs", opts.timeoutMs, this.timeoutMs,
        MAX_TIMEOUT_MS);
    } catch (e) {
      throw statusError(Code.INVALID_ARGUMENT, errorText(e), details);
    }
    const deadline = performance.now() + timeoutMs;
    const metadata = opts.metadata !== undefined ?
      { ...this.metadata, ...opts.metadata } : this.metadata;
    const envelope = (budget: number): Uint8Array =>
      toBinary(RequestSchema, create(RequestSchema, {
        method,
        payload,
        deadlineMs: budget,
        metadata,
        requestId,
      }));

    let env = envelope(timeoutMs);
    if (env.length > this.maxMessageSize) {
      throw statusError(Code.RESOURCE_EXHAUSTED,
        `request of ${env.length} bytes exceeds the limit of ` +
          `${this.maxMessageSize} bytes`, details);
    }
    const conn = await this.connection(deadline, timeoutMs, details);
    // The broker's clock starts when the request arrives: send what is
    // left of the budget, not what the caller first gave.
    const left = Math.ceil(deadline - performance.now());
    if (left <= 0) {
      throw statusError(Code.UNAVAILABLE,
        `no connection to ${this.url} within ${timeoutMs} ms`, details);
    }
    if (left < timeoutMs) {
      env = envelope(left);
    }
    const body = await conn.request(env, left, timeoutMs, requestId);

    let resp;
    try {
      resp = fromBinary(ResponseSchema, body);
    } catch {
      throw statusError(Code.INTERNAL,
        `undecodable reply envelope (${body.length} bytes)`, details);
    }
    const code = resp.status?.code ?? 0;
    if (code !== Code.OK) {
      throw statusError(code, resp.status?.message ?? "",
        { requestId, metadata: resp.metadata });
    }
    return {
      payload: resp.payload,
      metadata: resp.metadata,
      xCache: resp.metadata["x-cache"],
      requestId,
    };
  }

  /**
   * connection returns the open connection, dialling until deadline if
   * there is none. All callers waiting at once share one dial. Failing
   * here means the request never left: UnavailableError, safe to retry.
   */
  private async connection(deadline: number, timeoutMs: number,
      details: ErrorDetails): Promise<Connection> {
    let backoff = BACKOFF_FIRST_MS;
    let why = "";
    for (;;) {
      if (this.closed) {
        throw statusError(Code.CANCELLED, "client closed", details);
      }
      if (this.conn !== null && this.conn.isOpen) {
        return this.conn;
      }
      let left = deadline - performance.now();
      if (left <= 0) {
        throw statusError(Code.UNAVAILABLE,
          `no connection to ${this.url} within ${timeoutMs} ms` +
            (why !== "" ? ` (${why})` : ""), details);
      }
      try {
        return await this.waitFor(this.dial(left), left);
      } catch (e) {
        if (this.closed) {
          throw statusError(Code.CANCELLED, "client closed", details);
        }
        if (!(e instanceof DialTimeout) || why === "") {
          why = errorText(e);
        }
      }
      left = deadline - performance.now();
      if (left > 0) {
        try {
          await sleep(Math.min(backoff, left), undefined,
            { signal: this.closing.signal });
        } catch {
          // Aborted by close(): the loop's first test answers.
        }
      }
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  private dial(budget: number): Promise<Connection> {
    if (this.dialing === null) {
      this.dialing = Connection.open(this.ep, {
        tls: this.tls,
        maxReplySize: this.maxReplySize,
        timeoutMs: Math.max(1, Math.ceil(budget)),
      }).then((c) => {
        this.dialing = null;
        if (this.closed) {
          c.close(statusError(Code.CANCELLED, "client closed"));
        } else {
          this.conn = c;
        }
        return c;
      }, (e: unknown) => {
        this.dialing = null;
        throw e;
      });
    }
    return this.dialing;
  }

  // A shared dial may have been started by a caller with more time: wait
  // for it no longer than this caller's own budget.
  // close() ends the wait at once.
  private waitFor<T>(p: Promise<T>, ms: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const signal = this.closing.signal;
      const onClose = (): void => {
        clearTimeout(timer);
        reject(statusError(Code.CANCELLED, "client closed"));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onClose);
        reject(new DialTimeout(`still connecting after ${Math.round(ms)} ms`));
      }, ms);
      signal.addEventListener("abort", onClose, { once: true });
      p.then((v) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onClose);
        resolve(v);
      }, (e: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onClose);
        reject(e);
      });
    });
  }
}

// invoke is protected: reachable here, not part of the public surface.
interface Invoker {
  invoke(m: DescMethod, request: object | undefined,
    opts: CallOptions | undefined): Promise<Message>;
}

for (const [name, m] of Object.entries(METHODS) as [string, DescMethod][]) {
  Object.defineProperty(Client.prototype, name, {
    value: function (this: Client, request?: object, opts?: CallOptions) {
      return (this as unknown as Invoker).invoke(m, request, opts);
    },
    writable: true,
    configurable: true,
  });
}

// SPDX-License-Identifier: MIT
// The TypeScript client's conformance runner: vectors.json against a live broker.
//
// usage: node dist/test/conformance.js [VECTORS.json]
//        (default: $CB_CONFORMANCE_VECTORS, else tests/conformance/vectors.json
//        of this repository)
//
// Runs every case of the file (format: tests/conformance/README.md) on one
// Client of $CACHEBROKER_URL, as cbh-run starts it:
//
//   step ─► "request": JSON ─fromJson─► message ─► client.<method>() ─┐
//        └► "payload_base64": bytes ─► client.call() ─────────────────┤
//                                                                     ▼
//   expect ◄─ match ◄─ proto3 JSON (defaults in) ◄─toJson─ response / error
//
// The typed calls come from the client's METHODS table, so a method added
// to the .proto files is callable here without a change. A method of the
// table that no step calls counts as a failure: a method without a vector
// is one the three clients may disagree on.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

import {
  fromBinary,
  fromJson,
  toJson,
  type DescMethod,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";

import {
  CacheBrokerError,
  Client,
  findMethod,
  fullMethodName,
  METHOD_PREFIX,
  METHODS,
  replyInfo,
  type CallOptions,
} from "@cachebroker/client";
import { expand, match, type Json } from "./match.js";

const LANG = "node";
const STEP_KEYS = ["call", "request", "payload_base64", "deadline_ms",
  "request_id", "sleep_ms", "expect"];
const EXPECT_KEYS = ["code", "message_contains", "response", "x_cache"];
const CASE_KEYS = ["name", "steps"];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** What one call came back with. */
interface Outcome {
  codeName: string;
  message: string;
  /** metadata x-cache, "" when absent. */
  xCache: string;
  /** OK with a known method: the response as proto3 JSON. */
  response?: JsonValue;
}

type Obj = { [k: string]: Json };

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** StepError: the step (or case) is wrong, or its outcome is. */
class StepError extends Error {}

function onlyKeys(o: Obj, allowed: string[], what: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new StepError(`unknown ${what} key '${k}'`);
    }
  }
}

function uint(o: Obj, key: string): number {
  const v = o[key];
  if (v === undefined) {
    return 0;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 ||
      v > 0xffffffff) {
    throw new StepError(`${key} is not a non-negative integer`);
  }
  return v;
}

function renderJson(m: DescMethod, resp: Message): JsonValue {
  return toJson(m.output, resp as never, {
    useProtoFieldName: true,
    alwaysEmitImplicit: true,
  });
}

function failed(e: unknown): Outcome {
  if (e instanceof CacheBrokerError) {
    return {
      codeName: e.codeName,
      message: e.message,
      xCache: e.metadata["x-cache"] ?? "",
    };
  }
  throw e;
}

async function typedRun(client: Client, m: DescMethod, request: Json,
    opts: CallOptions): Promise<Outcome> {
  let msg: Message;
  try {
    msg = fromJson(m.input, expand(request) as JsonValue);
  } catch (e) {
    throw new StepError(`request: ${e instanceof Error ? e.message : e}`);
  }
  const call = (client as unknown as Record<string,
    (r: Message, o: CallOptions) => Promise<Message>>)[m.localName];
  if (call === undefined) {
    throw new StepError(`no typed call ${m.localName}`);
  }
  let resp: Message;
  try {
    resp = await call.call(client, msg, opts);
  } catch (e) {
    return failed(e);
  }
  return {
    codeName: "OK",
    message: "",
    xCache: replyInfo(resp)?.xCache ?? "",
    response: renderJson(m, resp),
  };
}

async function rawRun(client: Client, call: string, m: DescMethod | undefined,
    payloadB64: string, opts: CallOptions): Promise<Outcome> {
  if (!BASE64.test(payloadB64)) {
    throw new StepError("payload_base64 is not base64");
  }
  let raw;
  try {
    raw = await client.call(call, Buffer.from(payloadB64, "base64"), opts);
  } catch (e) {
    return failed(e);
  }
  const out: Outcome = { codeName: "OK", message: "", xCache: raw.xCache ?? "" };
  if (m !== undefined) {
    let resp: Message;
    try {
      resp = fromBinary(m.output, raw.payload);
    } catch {
      throw new StepError(`the reply's payload is not a ${m.output.name}`);
    }
    out.response = renderJson(m, resp);
  }
  return out;
}

function check(expect: Obj, o: Outcome): void {
  onlyKeys(expect, EXPECT_KEYS, "expect");
  const code = expect["code"];
  if (typeof code !== "string") {
    throw new StepError("expect has no code");
  }
  if (o.codeName !== code) {
    throw new StepError(`got ${o.codeName} (${o.message}), want ${code}`);
  }
  const sub = expect["message_contains"];
  if (sub !== undefined &&
      (typeof sub !== "string" || !o.message.includes(sub))) {
    throw new StepError(
      `message "${o.message}" does not contain "${String(sub)}"`);
  }
  const xc = expect["x_cache"];
  if (xc !== undefined && xc !== o.xCache) {
    throw new StepError(`x-cache "${o.xCache}", want "${String(xc)}"`);
  }
  if (expect["response"] !== undefined) {
    if (o.codeName !== "OK" || o.response === undefined) {
      throw new StepError(
        "a response is expected only with code OK and a known method");
    }
    const why = match(expect["response"], o.response, "response");
    if (why !== null) {
      const shown = JSON.stringify(o.response);
      throw new StepError(`${why} (response: ${shown.slice(0, 400)})`);
    }
  }
}

async function stepRun(client: Client, step: Json): Promise<void> {
  if (!isObject(step)) {
    throw new StepError("a step must be an object");
  }
  onlyKeys(step, STEP_KEYS, "step");
  const call = step["call"];
  const raw = step["payload_base64"];
  const request = step["request"];
  const expect = step["expect"];
  const rid = step["request_id"];
  if (typeof call !== "string" || !isObject(expect) ||
      (raw !== undefined && request !== undefined) ||
      (raw !== undefined && typeof raw !== "string") ||
      (rid !== undefined && typeof rid !== "string")) {
    throw new StepError("a step needs call, expect, and at most one of " +
      "request and payload_base64 (strings where they are text)");
  }
  const opts: CallOptions = { timeoutMs: uint(step, "deadline_ms") };
  if (rid !== undefined) {
    opts.requestId = rid;
  }
  const pause = uint(step, "sleep_ms");
  if (pause > 0) {
    await sleep(pause);
  }
  const m = findMethod(call);
  let o: Outcome;
  if (raw !== undefined) {
    o = await rawRun(client, call, m, raw, opts);
  } else if (m === undefined) {
    throw new StepError(`no typed call for ${call}`);
  } else {
    o = await typedRun(client, m, request ?? {}, opts);
  }
  check(expect, o);
}

/** caseRun runs one case's steps up to the first that fails. */
async function caseRun(client: Client, c: Json,
    counts: { steps: number }): Promise<boolean> {
  const name = isObject(c) && typeof c["name"] === "string" ?
    c["name"] : "(unnamed)";
  if (!isObject(c) || typeof c["name"] !== "string" ||
      !Array.isArray(c["steps"])) {
    console.log(`FAIL ${name}: step 0: a case needs name and steps`);
    return false;
  }
  try {
    onlyKeys(c, CASE_KEYS, "case");
  } catch (e) {
    console.log(`FAIL ${name}: step 0: ${(e as Error).message}`);
    return false;
  }
  const steps = c["steps"];
  // The steps after a failed one build on it: they are not run.
  for (let j = 0; j < steps.length; j++) {
    counts.steps++;
    try {
      await stepRun(client, steps[j] as Json);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      console.log(`FAIL ${name}: step ${j + 1}: ${why}`);
      return false;
    }
  }
  console.log(`ok ${name}`);
  return true;
}

/** uncovered names on stderr and counts the methods no step calls. */
function uncovered(cases: Json[]): number {
  const used = new Set<string>();
  for (const c of cases) {
    const steps = isObject(c) ? c["steps"] : undefined;
    for (const s of Array.isArray(steps) ? steps : []) {
      const call = isObject(s) ? s["call"] : undefined;
      const m = typeof call === "string" ? findMethod(call) : undefined;
      if (m !== undefined) {
        used.add(fullMethodName(m));
      }
    }
  }
  let n = 0;
  for (const m of Object.values(METHODS) as DescMethod[]) {
    const full = fullMethodName(m);
    if (!used.has(full)) {
      console.error(`conformance: no step calls ${full.slice(METHOD_PREFIX.length)}`);
      n++;
    }
  }
  return n;
}

function vectorsPath(): string {
  const arg = process.argv[2] ?? process.env["CB_CONFORMANCE_VECTORS"];
  if (arg !== undefined && arg !== "") {
    // npm runs scripts in the package's directory; a relative path is
    // meant from where npm was started.
    return resolve(process.env["INIT_CWD"] ?? process.cwd(), arg);
  }
  // dist/test/conformance.js → the repository's tests/conformance.
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, "../../../../tests/conformance/vectors.json");
}

async function main(): Promise<number> {
  const path = vectorsPath();
  let cases: Json[];
  try {
    const doc = JSON.parse(readFileSync(path, "utf8")) as Json;
    if (!isObject(doc) || !Array.isArray(doc["cases"])) {
      throw new Error("no \"cases\" list");
    }
    cases = doc["cases"];
  } catch (e) {
    console.error(`conformance: ${path}: ${(e as Error).message}`);
    return 1;
  }
  const url = process.env["CACHEBROKER_URL"];
  if (url === undefined || url === "") {
    console.error("conformance: CACHEBROKER_URL is not set");
    return 1;
  }
  const client = new Client({ url });
  const counts = { steps: 0 };
  let nFailed = uncovered(cases);
  for (const c of cases) {
    if (!(await caseRun(client, c, counts))) {
      nFailed++;
    }
  }
  await client.close();
  console.log(`conformance (${LANG}): ${cases.length} cases, ` +
    `${counts.steps} steps, ${nFailed} failed`);
  return nFailed === 0 ? 0 : 1;
}

process.exitCode = await main();

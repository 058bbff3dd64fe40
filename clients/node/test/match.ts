// SPDX-License-Identifier: MIT
// Conformance vectors: request placeholders and the response matching rules.
//
// Both follow tests/conformance/README.md ("Format" and "Matching a
// response"), which every language's runner implements alike.

export type Json =
  | null
  | boolean
  | number
  | string
  | Json[]
  | { [k: string]: Json };

function isObject(v: unknown): v is { [k: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? "undefined";
  return s.length > 180 ? `${s.slice(0, 177)}...` : s;
}

// A JSON number, or a decimal string as proto3 JSON writes 64-bit
// integers. Integers stay exact as bigint; anything else is a double.
type Num = bigint | number;

const DECIMAL = /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;
const INTEGER = /^-?[0-9]+$/;

function numberOf(v: unknown, strings: boolean): Num | undefined {
  if (typeof v === "number") {
    return Number.isInteger(v) ? BigInt(v) : v;
  }
  if (strings && typeof v === "string" && DECIMAL.test(v)) {
    return INTEGER.test(v) ? BigInt(v) : Number(v);
  }
  return undefined;
}

function cmp(a: Num, b: Num): number {
  if (typeof a === "bigint" && typeof b === "bigint") {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const x = Number(a);
  const y = Number(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function rangeOf(want: { [k: string]: Json }): [Num, Num] | undefined {
  const keys = Object.keys(want);
  const r = want["$range"];
  if (keys.length !== 1 || !Array.isArray(r) || r.length !== 2) {
    return undefined;
  }
  const lo = numberOf(r[0], false);
  const hi = numberOf(r[1], false);
  return lo !== undefined && hi !== undefined ? [lo, hi] : undefined;
}

/**
 * match returns null when got matches want, else why not, naming the
 * path ("response.entries[1].found") where they part.
 */
export function match(want: Json, got: unknown, path: string): string | null {
  const differ = (): string =>
    `${path}: got ${show(got)}, want ${show(want)}`;
  if (isObject(want)) {
    const range = rangeOf(want);
    if (range !== undefined) {
      const v = numberOf(got, true);
      if (v === undefined || cmp(v, range[0]) < 0 || cmp(v, range[1]) > 0) {
        return `${path}: got ${show(got)}, want a number in ` +
          `[${range[0]}, ${range[1]}]`;
      }
      return null;
    }
    if (!isObject(got)) {
      return differ();
    }
    for (const [k, w] of Object.entries(want)) {
      if (!Object.prototype.hasOwnProperty.call(got, k)) {
        return `${path}.${k}: missing`;
      }
      const why = match(w, got[k], `${path}.${k}`);
      if (why !== null) {
        return why;
      }
    }
    return null;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      return differ();
    }
    for (let i = 0; i < want.length; i++) {
      const why = match(want[i] as Json, got[i], `${path}[${i}]`);
      if (why !== null) {
        return why;
      }
    }
    return null;
  }
  if (typeof want === "number") {
    const w = numberOf(want, false) as Num;
    const v = numberOf(got, true);
    return v !== undefined && cmp(v, w) === 0 ? null : differ();
  }
  return got === want ? null : differ();
}

const MAX_REPEAT = 16 << 20;

/**
 * expand returns request with its placeholders replaced:
 * {"$repeat": [S, N]} by S repeated N times, {"$now_plus_s": N} by the
 * Unix time in whole seconds plus N. Throws Error on a malformed one.
 */
export function expand(request: Json, nowMs: number = Date.now()): Json {
  if (Array.isArray(request)) {
    return request.map((v) => expand(v, nowMs));
  }
  if (!isObject(request)) {
    return request;
  }
  const keys = Object.keys(request);
  if (keys.length === 1 && keys[0] === "$repeat") {
    const r = request["$repeat"];
    if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== "string" ||
        typeof r[1] !== "number" || !Number.isInteger(r[1]) || r[1] < 0 ||
        r[0].length * r[1] > MAX_REPEAT) {
      throw new Error(`bad $repeat ${show(r)}: want [STRING, N], ` +
        `at most ${MAX_REPEAT} characters`);
    }
    return r[0].repeat(r[1]);
  }
  if (keys.length === 1 && keys[0] === "$now_plus_s") {
    const n = request["$now_plus_s"];
    if (typeof n !== "number" || !Number.isInteger(n)) {
      throw new Error(`bad $now_plus_s ${show(n)}: want an integer`);
    }
    return Math.floor(nowMs / 1000) + n;
  }
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(request)) {
    out[k] = expand(v, nowMs);
  }
  return out;
}

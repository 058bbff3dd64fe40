// SPDX-License-Identifier: MIT
// The conformance matcher and placeholders, on their own (no broker).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { expand, match } from "./match.js";

describe("match", () => {
  test("objects: every expected key, extra actual keys allowed", () => {
    assert.equal(match({ a: 1 }, { a: 1, b: 2 }, "r"), null);
    assert.equal(match({ a: 1, c: 3 }, { a: 1 }, "r"), "r.c: missing");
    assert.equal(match({ a: { b: true } }, { a: { b: false } }, "r"),
      "r.a.b: got false, want true");
    assert.notEqual(match({ a: 1 }, [1], "r"), null);
    assert.notEqual(match({}, null, "r"), null);
  });

  test("arrays: same length, element by element", () => {
    assert.equal(match([1, { k: "x" }], [1, { k: "x", v: 2 }], "r"), null);
    assert.equal(match([1, 2], [1, 2, 3], "r"), "r: got [1,2,3], want [1,2]");
    assert.equal(match([{ k: "x" }], [{ k: "y" }], "r"),
      "r[0].k: got \"y\", want \"x\"");
  });

  test("numbers match numbers and decimal strings exactly", () => {
    assert.equal(match(5, 5, "r"), null);
    assert.equal(match(5, "5", "r"), null);
    assert.equal(match(-2, "-2", "r"), null);
    assert.notEqual(match(5, "6", "r"), null);
    assert.notEqual(match(5, "5x", "r"), null);
    assert.notEqual(match(5, true, "r"), null);
    // Decimal strings of 64-bit values beyond 2^53 compare as integers.
    assert.equal(match({ $range: [0, 10] }, "9007199254740993", "r"),
      "r: got \"9007199254740993\", want a number in [0, 10]");
    assert.equal(match({ $range: [0, 18446744073709551615] },
      "18446744073709551615", "r"), null);
    assert.equal(match(0.5, 0.5, "r"), null);
  });

  test("$range", () => {
    const want = { $range: [1, 60000] };
    assert.equal(match(want, "59999", "r"), null);
    assert.equal(match(want, 1, "r"), null);
    assert.equal(match(want, 60000, "r"), null);
    assert.equal(match(want, "0", "r"),
      "r: got \"0\", want a number in [1, 60000]");
    assert.notEqual(match(want, 60001, "r"), null);
    assert.notEqual(match(want, "x", "r"), null);
    // Not a range: an object with another key too is matched as one.
    assert.equal(match({ $range: [1, 2], x: 1 }, 1, "r"),
      "r: got 1, want {\"$range\":[1,2],\"x\":1}");
  });

  test("strings, booleans and null are exact", () => {
    assert.equal(match("aGk=", "aGk=", "r"), null);
    assert.notEqual(match("aGk=", "aGk", "r"), null);
    assert.notEqual(match("1", 1, "r"), null);
    assert.equal(match(false, false, "r"), null);
    assert.notEqual(match(false, 0, "r"), null);
    assert.equal(match(null, null, "r"), null);
    assert.notEqual(match(null, undefined, "r"), null);
  });
});

describe("expand", () => {
  test("$repeat", () => {
    assert.deepEqual(expand({ key: "k", value: { $repeat: ["QUFB", 3] } }),
      { key: "k", value: "QUFBQUFBQUFB" });
    assert.deepEqual(expand({ keys: [{ $repeat: ["ab", 2] }, "c"] }),
      { keys: ["abab", "c"] });
    assert.deepEqual(expand({ v: { $repeat: ["x", 0] } }), { v: "" });
    assert.throws(() => expand({ v: { $repeat: ["x", -1] } }), /\$repeat/);
    assert.throws(() => expand({ v: { $repeat: ["xx", 9 << 20] } }),
      /at most/);
  });

  test("$now_plus_s", () => {
    const now = 1_700_000_000_999;
    assert.deepEqual(expand({ expires_at: { $now_plus_s: 600 } }, now),
      { expires_at: 1_700_000_600 });
    assert.deepEqual(expand({ issued_at: { $now_plus_s: -10 } }, now),
      { issued_at: 1_699_999_990 });
    assert.throws(() => expand({ t: { $now_plus_s: "1" } }), /\$now_plus_s/);
  });

  test("other objects are left as they are", () => {
    assert.deepEqual(expand({ params: { user_id: "1" }, n: 1 }),
      { params: { user_id: "1" }, n: 1 });
  });
});

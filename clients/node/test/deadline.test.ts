// SPDX-License-Identifier: MIT
// The client against the live broker: per-call deadlines around a stopped broker, refused sockets.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { Client, DeadlineExceededError } from "@cachebroker/client";
import { liveUrl, timed } from "./helpers.js";

function brokerPid(): number {
  const v = process.env["CBH_BROKER_PID"];
  if (v === undefined || v === "") {
    throw new Error("CBH_BROKER_PID is not set: run the tests under cbh-run");
  }
  return Number(v);
}

// Both halves of the issue the C and Python clients had (an nng aio keeps
// the timeout of its first operation): this client keeps a timer per call,
// and these tests keep it that way.
describe("every call gets its own deadline", () => {
  test("a long call after a short one gets its whole deadline", async () => {
    const c = new Client({ url: liveUrl("CACHEBROKER_URL"), timeoutMs: 5000 });
    try {
      await c.health({}, { timeoutMs: 200 });
      process.kill(brokerPid(), "SIGSTOP");
      const thaw = setTimeout(() => process.kill(brokerPid(), "SIGCONT"),
        1000);
      try {
        // Answered after about a second: within 5000 ms.
        await c.health({}, { timeoutMs: 5000 });
      } finally {
        clearTimeout(thaw);
        process.kill(brokerPid(), "SIGCONT");
      }
    } finally {
      await c.close();
    }
  });

  test("a short call after a long one ends at its own deadline",
    async () => {
      const c = new Client({ url: liveUrl("CACHEBROKER_URL"),
        timeoutMs: 5000 });
      try {
        await c.health({}, { timeoutMs: 5000 });
        process.kill(brokerPid(), "SIGSTOP");
        let r;
        try {
          r = await timed(() => c.health({}, { timeoutMs: 200 }));
        } finally {
          process.kill(brokerPid(), "SIGCONT");
        }
        assert.ok(r.error instanceof DeadlineExceededError,
          `want DeadlineExceededError, got ${String(r.error)}`);
        assert.ok(r.ms < 2500,
          `a 200 ms call after a 5000 ms one took ${r.ms} ms`);
      } finally {
        await c.close();
      }
    });
});

describe("a connect the IPC socket's permissions refuse", () => {
  test("says permission denied", (t) => {
    if (process.geteuid === undefined || process.geteuid() !== 0) {
      t.skip("needs root to run as another user");
      return;
    }
    const url = liveUrl("CACHEBROKER_URL");
    // Let nobody reach the socket's directory; the socket stays 0660.
    for (let d = dirname(url.slice("ipc://".length)); d !== "/" && d !== ".";
      d = dirname(d)) {
      const st = statSync(d);
      if (st.uid === 0 && (st.mode & 0o001) === 0) {
        chmodSync(d, (st.mode & 0o7777) | 0o001);
      }
    }
    const index = fileURLToPath(new URL("../index.js", import.meta.url));
    const code = `
      const { Client } = await import(${JSON.stringify(index)});
      const c = new Client({ url: ${JSON.stringify(url)}, timeoutMs: 1000 });
      try { await c.health({}); } catch (e) { console.log(e.message); }
      await c.close();`;
    const out = execFileSync("runuser", ["-u", "nobody", "--",
      process.execPath, "--input-type=module", "-e", code],
    { encoding: "utf8", timeout: 60000 });
    assert.match(out, /permission denied/);
  });
});

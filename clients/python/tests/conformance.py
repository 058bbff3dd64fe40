# SPDX-License-Identifier: MIT
# The Python runner of tests/conformance/vectors.json (format: its README.md).
"""Run the conformance vectors through the Python client.

    conformance.py VECTORS.json

against the broker at $CACHEBROKER_URL (cbh-run starts one with
tests/conformance/broker.conf). Every step goes through the client's typed
method for its call, or through Client.call for payload_base64. Prints
"ok NAME" or "FAIL NAME: step N: why" per case, then the summary line, and
exits 1 if anything failed, as tests/conformance/README.md says.
"""

import base64
import binascii
import json
import os
import re
import sys
import time

from google.protobuf import json_format

import cachebroker
from cachebroker.v1 import admin_pb2
from cachebroker.v1 import auth_pb2
from cachebroker.v1 import cache_pb2
from cachebroker.v1 import event_pb2
from cachebroker.v1 import warm_pb2

LANG = "python"
CASE_KEYS = ("name", "steps")
STEP_KEYS = ("call", "request", "payload_base64", "deadline_ms",
             "request_id", "sleep_ms", "expect")
EXPECT_KEYS = ("code", "message_contains", "response", "x_cache")
UINT32_MAX = 2**32 - 1
REPEAT_MAX = 16 << 20  # bytes of text a $repeat may make
SHOW_MAX = 400         # characters of a response shown on a mismatch

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")


class StepError(Exception):
    """A step that failed; its text is the "why" of the FAIL line."""


def show(value):
    text = json.dumps(value, separators=(",", ":"))
    if len(text) > SHOW_MAX:
        text = text[:SHOW_MAX] + "..."
    return text


# --- the method table against the .proto services ---------------------

def check_methods():
    """Both ways: every method of the services has a typed call, every
    typed call is a method of the services with the same messages. A
    method the client cannot call is as much a conformance failure as a
    wrong vector."""
    ok = True
    services = {}
    for mod in (cache_pb2, warm_pb2, event_pb2, auth_pb2, admin_pb2):
        for svc in mod.DESCRIPTOR.services_by_name.values():
            for md in svc.methods:
                services["%s/%s" % (svc.name, md.name)] = md
    for m in cachebroker.METHODS:
        md = services.get(m.call_name)
        if (md is None
                or md.input_type is not m.request.DESCRIPTOR
                or md.output_type is not m.response.DESCRIPTOR):
            sys.stderr.write(
                "conformance: %s: no such method in the services, or "
                "other messages\n" % m.call_name)
            ok = False
    for call in services:
        if cachebroker.method(call) is None:
            sys.stderr.write(
                "conformance: %s has no typed call in cachebroker.METHODS\n"
                % call)
            ok = False
    return ok


def uncovered(cases):
    """The number of RPCs no step of the file calls, each named on
    stderr."""
    used = set()
    for case in cases:
        steps = case.get("steps") if isinstance(case, dict) else None
        if not isinstance(steps, list):
            continue
        for step in steps:
            call = step.get("call") if isinstance(step, dict) else None
            m = cachebroker.method(call) if isinstance(call, str) else None
            if m is not None and "/" in call:
                used.add(m.name)
    n = 0
    for m in cachebroker.METHODS:
        if m.name not in used:
            sys.stderr.write("conformance: no step calls %s\n"
                             % m.call_name)
            n += 1
    return n


# --- requests -------------------------------------------------------------

def expand(value):
    """The request with its placeholders ($repeat, $now_plus_s) replaced."""
    if isinstance(value, list):
        return [expand(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and "$repeat" in value:
        arg = value["$repeat"]
        if (not isinstance(arg, list) or len(arg) != 2
                or not isinstance(arg[0], str) or not is_int(arg[1])
                or arg[1] < 0):
            raise StepError("request: $repeat takes [string, count]")
        s, n = arg
        if len(s) * n > REPEAT_MAX:
            raise StepError("request: $repeat makes over %d bytes"
                            % REPEAT_MAX)
        return s * n
    if len(value) == 1 and "$now_plus_s" in value:
        n = value["$now_plus_s"]
        if not is_int(n):
            raise StepError("request: $now_plus_s takes an integer")
        return int(time.time()) + n
    return {k: expand(v) for k, v in value.items()}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def get_uint(step, key):
    v = step.get(key, 0)
    if not is_int(v) or v < 0 or v > UINT32_MAX:
        raise StepError("%s is not a non-negative integer" % key)
    return v


# --- outcomes ---------------------------------------------------------------

class Outcome:
    """What one call gave: status name, message, x-cache, and the
    response as proto3 JSON (None unless OK with a known method)."""

    def __init__(self):
        self.code = "OK"
        self.message = ""
        self.x_cache = ""
        self.response = None

    def fail(self, err):
        self.code = err.code_name
        self.message = err.message
        self.x_cache = err.metadata.get("x-cache", "")

    def ok(self, resp, metadata):
        self.x_cache = metadata.get("x-cache", "")
        if resp is not None:
            self.response = json_format.MessageToDict(
                resp,
                preserving_proto_field_name=True,
                including_default_value_fields=True,
            )


def run_typed(client, m, request, deadline, request_id):
    req = m.request()
    try:
        json_format.ParseDict(request if request is not None else {}, req)
    except json_format.ParseError as e:
        raise StepError("request: %s" % e) from None
    out = Outcome()
    md = {}
    try:
        resp = getattr(client, m.name)(
            req, timeout_ms=deadline, request_id=request_id, metadata=md)
    except cachebroker.Error as e:
        out.fail(e)
    else:
        out.ok(resp, md)
    return out


def run_raw(client, call, m, payload_b64, deadline, request_id):
    if not isinstance(payload_b64, str):
        raise StepError("payload_base64 is not base64")
    try:
        payload = base64.b64decode(payload_b64, validate=True)
    except (binascii.Error, ValueError):
        raise StepError("payload_base64 is not base64") from None
    out = Outcome()
    try:
        reply = client.call(cachebroker.METHOD_PREFIX + call, payload,
                            timeout_ms=deadline, request_id=request_id)
    except cachebroker.Error as e:
        out.fail(e)
        return out
    resp = None
    if m is not None:
        resp = m.response()
        try:
            resp.ParseFromString(reply.payload)
        except Exception:
            raise StepError("the reply payload is not a %s"
                            % m.response.DESCRIPTOR.full_name) from None
    out.ok(resp, reply.metadata)
    return out


# --- matching ---------------------------------------------------------------

def number_of(v):
    """v as a number, if it is one or a decimal string; else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and _DECIMAL.match(v):
        return int(v) if re.match(r"-?[0-9]+\Z", v) else float(v)
    return None


def is_range(want):
    if not (isinstance(want, dict) and len(want) == 1 and "$range" in want):
        return None
    r = want["$range"]
    if (isinstance(r, list) and len(r) == 2
            and all(number_of(x) is not None and not isinstance(x, str)
                    for x in r)):
        return r
    return None


def same_number(w, g):
    # Integers exactly (int64 values exceed a double's 53 bits).
    if isinstance(w, int) and isinstance(g, int):
        return w == g
    return float(w) == float(g)


def match(want, got, path):
    """None when got matches want (README.md, "Matching a response"),
    else the first difference, named by its path."""
    if want is None:
        return None if got is None else (
            "%s: got %s, want null" % (path, show(got)))
    if got is None:
        return "%s: got null, want %s" % (path, show(want))
    rng = is_range(want)
    if rng is not None:
        g = number_of(got)
        if g is None or not (rng[0] <= g <= rng[1]):
            return "%s: got %s, want %s" % (path, show(got), show(want))
        return None
    if isinstance(want, dict):
        if isinstance(got, dict):
            for key, wv in want.items():
                sub = "%s.%s" % (path, key)
                if key not in got:
                    return "%s: missing" % sub
                why = match(wv, got[key], sub)
                if why:
                    return why
            return None
    elif isinstance(want, list):
        if isinstance(got, list) and len(got) == len(want):
            for i, (wv, gv) in enumerate(zip(want, got)):
                why = match(wv, gv, "%s[%d]" % (path, i))
                if why:
                    return why
            return None
    elif isinstance(want, bool):
        if isinstance(got, bool) and got == want:
            return None
    elif isinstance(want, (int, float)):
        g = number_of(got)
        if g is not None and same_number(want, g):
            return None
    elif isinstance(want, str):
        if isinstance(got, str) and got == want:
            return None
    return "%s: got %s, want %s" % (path, show(got), show(want))


def only_keys(obj, allowed, what):
    for key in obj:
        if key not in allowed:
            raise StepError("unknown %s key '%s'" % (what, key))


def check(expect, out):
    only_keys(expect, EXPECT_KEYS, "expect")
    code = expect.get("code")
    if not isinstance(code, str):
        raise StepError("expect has no code")
    if out.code != code:
        raise StepError("got %s (%s), want %s"
                        % (out.code, out.message, code))
    sub = expect.get("message_contains")
    if sub is not None and sub not in out.message:
        raise StepError("message \"%s\" does not contain \"%s\""
                        % (out.message, sub))
    xc = expect.get("x_cache")
    if xc is not None and xc != out.x_cache:
        raise StepError("x-cache \"%s\", want \"%s\"" % (out.x_cache, xc))
    if "response" in expect:
        if out.code != "OK" or out.response is None:
            raise StepError("a response is expected only with code OK "
                            "and a known method")
        why = match(expect["response"], out.response, "response")
        if why:
            raise StepError("%s (response: %s)" % (why, show(out.response)))


# --- steps and cases --------------------------------------------------------

def run_step(client, step):
    if not isinstance(step, dict):
        raise StepError("a step must be an object")
    only_keys(step, STEP_KEYS, "step")
    call = step.get("call")
    expect = step.get("expect")
    request = step.get("request")
    raw = step.get("payload_base64")
    if (not isinstance(call, str) or not isinstance(expect, dict)
            or (raw is not None and request is not None)):
        raise StepError("a step needs call, expect, and at most one of "
                        "request and payload_base64")
    if request is not None and not isinstance(request, dict):
        raise StepError("request: not an object")
    deadline = get_uint(step, "deadline_ms") or None
    sleep_ms = get_uint(step, "sleep_ms")
    request_id = step.get("request_id")
    if request_id is not None and not isinstance(request_id, str):
        raise StepError("request_id is not a string")
    if request is not None:
        request = expand(request)
    if sleep_ms:
        time.sleep(sleep_ms / 1000.0)

    # Only "Service/Method" names a typed call: method() would also take
    # a Python name such as "get".
    m = cachebroker.method(call) if "/" in call else None
    if raw is not None:
        out = run_raw(client, call, m, raw, deadline, request_id)
    elif m is None:
        raise StepError("no typed call for %s" % call)
    else:
        out = run_typed(client, m, request, deadline, request_id)
    check(expect, out)


def run_case(client, case):
    """Run a case's steps up to the first that fails and print its line.
    Returns (passed, steps run)."""
    name = case.get("name") if isinstance(case, dict) else None
    if not isinstance(name, str):
        name = None
    why = None
    if name is None or not isinstance(case.get("steps"), list):
        why = "a case needs name and steps"
    else:
        try:
            only_keys(case, CASE_KEYS, "case")
        except StepError as e:
            why = str(e)
    if why is not None:
        print("FAIL %s: step 0: %s" % (name or "(unnamed)", why))
        return False, 0
    run = 0
    for i, step in enumerate(case["steps"], 1):
        run += 1
        try:
            run_step(client, step)
        except StepError as e:
            why = str(e)
        except Exception as e:  # a client bug: report it, go on
            why = "%s: %s" % (type(e).__name__, e)
        if why is not None:
            # One line per case, whatever the text had.
            why = why.replace("\n", " ")
            print("FAIL %s: step %d: %s" % (name, i, why))
            return False, run
    print("ok %s" % name)
    return True, run


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s VECTORS.json\n" % argv[0])
        return 2
    if not check_methods():
        return 1
    try:
        with open(argv[1], encoding="utf-8") as f:
            doc = json.load(f)
        cases = doc["cases"]
        if not isinstance(cases, list):
            raise ValueError('"cases" is not a list')
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.stderr.write("conformance: %s: %s\n" % (argv[1], e))
        return 1
    url = os.environ.get("CACHEBROKER_URL")
    if not url:
        sys.stderr.write("conformance: CACHEBROKER_URL is not set\n")
        return 1

    # A method no vector calls is one the clients may disagree on: it
    # counts as a failure, so that the summary and the status agree.
    failed = uncovered(cases)
    steps = 0
    with cachebroker.Client(url) as client:
        for case in cases:
            ok, n = run_case(client, case)
            steps += n
            if not ok:
                failed += 1
            sys.stdout.flush()
    print("conformance (%s): %d cases, %d steps, %d failed"
          % (LANG, len(cases), steps, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

# SPDX-License-Identifier: MIT
# The Python client against a live broker, Redis and PostgreSQL (cbh-run).
"""Tests of the cachebroker package through a real broker socket.

Run under cbh-run with the conformance policy (tests/conformance/), which
exports CACHEBROKER_URL and CACHEBROKER_TCP_URL:

    cbh-run --pg tests/conformance/schema.sql \\
        --config tests/conformance/broker.conf -- \\
        /usr/bin/python3 -m unittest -v test_client

with PYTHONPATH=<build>/clients/python. The broker is fresh, but each
test uses keys of its own so that the order of the tests does not matter.
"""

import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from unittest import mock

import cachebroker
from cachebroker import errors
from cachebroker.v1 import admin_pb2
from cachebroker.v1 import auth_pb2
from cachebroker.v1 import cache_pb2
from cachebroker.v1 import event_pb2
from cachebroker.v1 import warm_pb2

NS = "pyclient"
# Time a call may take past its deadline: thread wake-ups on a busy
# two-core machine, not slack in the client.
MARGIN_S = 0.5


def setUpModule():
    if not os.environ.get("CACHEBROKER_URL"):
        raise unittest.SkipTest(
            "CACHEBROKER_URL is not set: run under cbh-run"
        )


def fresh(prefix="k"):
    """A key no other test uses."""
    return "%s:%s" % (prefix, uuid.uuid4().hex[:12])


def connected(client):
    """client, after one call: see ContextManagerTest for why every client
    of the live broker makes a call before it is closed."""
    client.health()
    return client


class BrokerTest(unittest.TestCase):
    """One client on $CACHEBROKER_URL per test, closed afterwards."""

    def setUp(self):
        self.c = cachebroker.Client()
        self.addCleanup(self.c.close)
        connected(self.c)

    def elapsed(self, fn, *args, **kwargs):
        t = time.monotonic()
        try:
            fn(*args, **kwargs)
        except cachebroker.Error as e:
            return time.monotonic() - t, e
        self.fail("%s did not raise" % getattr(fn, "__name__", fn))


class MethodTableTest(unittest.TestCase):
    """The table the typed methods come from matches the .proto files."""

    def test_every_rpc_once(self):
        expected = {}
        for mod in (cache_pb2, warm_pb2, event_pb2, auth_pb2, admin_pb2):
            for svc in mod.DESCRIPTOR.services_by_name.values():
                for m in svc.methods:
                    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", m.name).lower()
                    expected[snake] = (
                        svc.name, m.name, m.input_type.full_name,
                        m.output_type.full_name,
                    )
        actual = {
            m.name: (
                m.service, m.method, m.request.DESCRIPTOR.full_name,
                m.response.DESCRIPTOR.full_name,
            )
            for m in cachebroker.METHODS
        }
        self.assertEqual(len(actual), len(cachebroker.METHODS))
        self.assertEqual(actual, expected)
        self.assertEqual(len(actual), 22)

    def test_client_has_a_method_per_rpc(self):
        for m in cachebroker.METHODS:
            fn = getattr(cachebroker.Client, m.name)
            self.assertEqual(fn.__name__, m.name)
            self.assertIn(m.full_name, fn.__doc__)

    def test_names(self):
        m = cachebroker.method("CacheService/Get")
        self.assertIs(m, cachebroker.method("get"))
        self.assertIs(
            m, cachebroker.method("/cachebroker.v1.CacheService/Get"))
        self.assertIsNone(cachebroker.method("CacheService/Nope"))
        self.assertEqual(
            cachebroker.full_method_name("AdminService/Health"),
            "/cachebroker.v1.AdminService/Health",
        )
        self.assertEqual(
            cachebroker.full_method_name("/x.Y/Z"), "/x.Y/Z"
        )

    def test_status_names(self):
        self.assertEqual(cachebroker.status_name(3), "INVALID_ARGUMENT")
        self.assertEqual(cachebroker.status_name(99), "UNKNOWN")
        self.assertEqual(cachebroker.status_code("UNAVAILABLE"), 14)
        self.assertRaises(ValueError, cachebroker.status_code, "NOPE")
        classes = {
            cls.code: cls for cls in cachebroker.Error.__subclasses__()
        }
        self.assertEqual(sorted(classes), list(range(1, 17)))
        for code, cls in classes.items():
            e = errors.error_for(code, "why")
            self.assertIs(type(e), cls)
            self.assertEqual(e.code_name, cachebroker.status_name(code))
        e = errors.error_for(42, "odd")
        self.assertIsInstance(e, cachebroker.Unknown)
        self.assertEqual(e.code, errors.UNKNOWN)
        self.assertIn("42", e.message)

    def test_request_ids(self):
        ids = {cachebroker.new_request_id() for _ in range(1000)}
        self.assertEqual(len(ids), 1000)
        for i in ids:
            self.assertRegex(i, r"^[0-9a-f]{32}$")


class CacheServiceTest(BrokerTest):
    def test_set_get(self):
        key = fresh()
        md = {}
        r = self.c.set(namespace=NS, key=key, value=b"v1", ttl_ms=60000)
        self.assertTrue(r.stored)
        r = self.c.get(namespace=NS, key=key, metadata=md)
        self.assertIsInstance(r, cache_pb2.GetResponse)
        self.assertTrue(r.found)
        self.assertEqual(r.value, b"v1")
        self.assertTrue(0 < r.ttl_ms <= 60000, r.ttl_ms)
        self.assertEqual(md.get("x-cache"), "hit")

        r = self.c.get(namespace=NS, key=fresh(), metadata=md)
        self.assertFalse(r.found)
        self.assertEqual(r.value, b"")
        self.assertEqual(r.ttl_ms, 0)
        self.assertEqual(md.get("x-cache"), "miss")

    def test_request_message_or_fields(self):
        key = fresh()
        req = cache_pb2.SetRequest(namespace=NS, key=key, value=b"m")
        self.assertTrue(self.c.set(req).stored)
        r = self.c.get(cache_pb2.GetRequest(namespace=NS, key=key))
        self.assertEqual((r.found, r.value, r.ttl_ms), (True, b"m", -1))
        with self.assertRaises(TypeError):
            self.c.get(cache_pb2.GetRequest(namespace=NS), key=key)
        with self.assertRaises(TypeError):
            self.c.get(cache_pb2.SetRequest(namespace=NS, key=key))
        with self.assertRaises(ValueError):
            self.c.get(namespace=NS, no_such_field=1)

    def test_set_conditions(self):
        key = fresh()
        r = self.c.set(
            namespace=NS, key=key, value=b"a",
            condition=cache_pb2.SET_CONDITION_IF_PRESENT,
        )
        self.assertFalse(r.stored)
        self.assertFalse(self.c.get(namespace=NS, key=key).found)
        r = self.c.set(
            namespace=NS, key=key, value=b"a",
            condition="SET_CONDITION_IF_ABSENT",
        )
        self.assertTrue(r.stored)
        r = self.c.set(
            namespace=NS, key=key, value=b"b",
            condition="SET_CONDITION_IF_ABSENT",
        )
        self.assertFalse(r.stored)
        self.assertEqual(self.c.get(namespace=NS, key=key).value, b"a")
        r = self.c.set(
            namespace=NS, key=key, value=b"c",
            condition="SET_CONDITION_IF_PRESENT",
        )
        self.assertTrue(r.stored)
        self.assertEqual(self.c.get(namespace=NS, key=key).value, b"c")

    def test_set_many_get_many(self):
        keys = [fresh() for _ in range(3)]
        r = self.c.set_many(
            namespace=NS,
            entries=[
                cache_pb2.SetManyEntry(key=keys[0], value=b"0"),
                {"key": keys[1], "value": b"1", "ttl_ms": 30000},
            ],
        )
        self.assertEqual(r.stored, 2)
        r = self.c.get_many(namespace=NS, keys=[keys[1], keys[2], keys[0]])
        got = [(e.key, e.found, e.value) for e in r.entries]
        self.assertEqual(
            got,
            [(keys[1], True, b"1"), (keys[2], False, b""),
             (keys[0], True, b"0")],
        )
        self.assertTrue(0 < self.c.get(namespace=NS, key=keys[1]).ttl_ms
                        <= 30000)

    def test_delete(self):
        keys = [fresh() for _ in range(3)]
        for k in keys[:2]:
            self.c.set(namespace=NS, key=k, value=b"x")
        r = self.c.delete(namespace=NS, keys=keys)
        self.assertEqual(r.deleted, 2)
        for k in keys:
            self.assertFalse(self.c.get(namespace=NS, key=k).found)
        self.assertEqual(self.c.delete(namespace=NS, keys=keys).deleted, 0)

    def test_invalidate_pattern(self):
        tag = uuid.uuid4().hex[:8]
        for k in ("p%s:1" % tag, "p%s:2" % tag, "q%s:1" % tag):
            self.c.set(namespace=NS, key=k, value=b"x")
        r = self.c.invalidate_pattern(namespace=NS, pattern="p%s:*" % tag)
        self.assertEqual(r.deleted, 2)
        self.assertFalse(self.c.get(namespace=NS, key="p%s:1" % tag).found)
        self.assertTrue(self.c.get(namespace=NS, key="q%s:1" % tag).found)

    def test_increment(self):
        key = fresh("ctr")
        r = self.c.increment(namespace=NS, key=key, delta=5, ttl_ms=60000)
        self.assertEqual(r.value, 5)
        r = self.c.increment(namespace=NS, key=key, delta=-7)
        self.assertEqual(r.value, -2)
        g = self.c.get(namespace=NS, key=key)
        self.assertEqual(g.value, b"-2")
        self.assertTrue(0 < g.ttl_ms <= 60000, g.ttl_ms)

    def test_expire(self):
        key = fresh()
        self.c.set(namespace=NS, key=key, value=b"x", ttl_ms=60000)
        self.assertTrue(self.c.expire(namespace=NS, key=key, ttl_ms=-1)
                        .updated)
        self.assertEqual(self.c.get(namespace=NS, key=key).ttl_ms, -1)
        self.assertTrue(self.c.expire(namespace=NS, key=key, ttl_ms=5000)
                        .updated)
        self.assertTrue(0 < self.c.get(namespace=NS, key=key).ttl_ms
                        <= 5000)
        self.assertFalse(self.c.expire(namespace=NS, key=fresh(),
                                       ttl_ms=5000).updated)

    def test_fetch_read_through(self):
        md = {}
        self.c.delete(namespace="conf", keys=["user:13"])
        r = self.c.fetch(resource="conf.user", params={"user_id": "13"},
                         metadata=md)
        self.assertEqual(r.source, cache_pb2.FETCH_SOURCE_LOADER)
        self.assertEqual(md.get("x-cache"), "miss")
        self.assertEqual(r.key, "conf:user:13")
        self.assertEqual(json.loads(r.value), {"id": 13, "name": "user 13"})
        self.assertTrue(r.ttl_ms > 0)

        r2 = self.c.fetch(resource="conf.user", params={"user_id": "13"},
                          metadata=md)
        self.assertEqual(r2.source, cache_pb2.FETCH_SOURCE_CACHE)
        self.assertEqual(md.get("x-cache"), "hit")
        self.assertEqual(r2.value, r.value)
        # The stored value is readable as a plain key.
        g = self.c.get(namespace="conf", key="user:13")
        self.assertEqual(g.value, r.value)

        r3 = self.c.fetch(resource="conf.user", params={"user_id": "13"},
                          refresh=True, metadata=md)
        self.assertEqual(r3.source, cache_pb2.FETCH_SOURCE_LOADER)


class OtherServicesTest(BrokerTest):
    def test_publish(self):
        self.c.fetch(resource="conf.user", params={"user_id": "17"})
        self.c.set(namespace="conf", key="list:a", value=b"1")
        self.c.set(namespace="conf", key="list:b", value=b"1")
        r = self.c.publish(event="conf.user_updated",
                           params={"user_id": "17"})
        self.assertIsInstance(r, event_pb2.PublishResponse)
        self.assertEqual(r.keys_invalidated, 3)
        for k in ("user:17", "list:a", "list:b"):
            self.assertFalse(self.c.get(namespace="conf", key=k).found, k)
        with self.assertRaises(cachebroker.InvalidArgument):
            self.c.publish(event="conf.no_such_event", params={})

    def test_warm(self):
        self.c.delete(namespace="conf", keys=["user:2", "user:5"])
        r = self.c.warm(strategies=["conf.users"], timeout_ms=30000)
        self.assertEqual(len(r.results), 1)
        res = r.results[0]
        self.assertEqual(res.strategy, "conf.users")
        self.assertEqual((res.keys, res.errors, res.error), (5, 0, ""))
        for uid in (2, 5):
            g = self.c.get(namespace="conf", key="user:%d" % uid)
            self.assertEqual(json.loads(g.value)["id"], uid)
        with self.assertRaises(cachebroker.InvalidArgument):
            self.c.warm(strategies=["conf.nope"])

    def test_token_revocation(self):
        now = int(time.time())
        tok, user = fresh("tok"), fresh("user")
        r = self.c.revoke_token(token_id=tok, expires_at=now + 600)
        self.assertTrue(590000 <= r.ttl_ms <= 600000, r.ttl_ms)
        r = self.c.is_token_revoked(token_id=tok, user_id=user,
                                    issued_at=now)
        self.assertEqual((r.revoked, r.by),
                         (True, auth_pb2.REVOKED_BY_TOKEN))
        other = fresh("tok")
        r = self.c.is_token_revoked(token_id=other, user_id=user,
                                    issued_at=now - 60)
        self.assertEqual((r.revoked, r.by),
                         (False, auth_pb2.REVOKED_BY_NONE))

        r = self.c.revoke_user_tokens(user_id=user, issued_before=now)
        self.assertTrue(r.ok)
        self.assertTrue(r.ttl_ms > 0)
        r = self.c.is_token_revoked(token_id=other, user_id=user,
                                    issued_at=now - 60)
        self.assertEqual((r.revoked, r.by),
                         (True, auth_pb2.REVOKED_BY_USER))
        r = self.c.is_token_revoked(token_id=other, user_id=user,
                                    issued_at=now + 1)
        self.assertFalse(r.revoked)

    def test_sessions(self):
        user = fresh("user")
        r = self.c.put_session(user_id=user, data=b'{"a":1}', ttl_ms=60000)
        self.assertEqual(r.ttl_ms, 60000)
        r = self.c.get_session(user_id=user)
        self.assertEqual((r.found, r.data), (True, b'{"a":1}'))
        self.assertTrue(0 < r.ttl_ms <= 60000)
        r = self.c.touch_session(user_id=user, ttl_ms=120000)
        self.assertTrue(r.found)
        self.assertTrue(60000 < self.c.get_session(user_id=user).ttl_ms
                        <= 120000)
        self.assertTrue(self.c.delete_session(user_id=user).found)
        self.assertFalse(self.c.get_session(user_id=user).found)
        self.assertFalse(self.c.delete_session(user_id=user).found)
        self.assertFalse(self.c.touch_session(user_id=user).found)

    def test_rate_limit(self):
        subj = fresh("ip")
        seen = []
        for _ in range(4):
            r = self.c.check_rate_limit(subject=subj, limit=3,
                                        window_ms=60000)
            seen.append((r.allowed, r.remaining))
        self.assertEqual(seen, [(True, 2), (True, 1), (True, 0),
                                (False, 0)])
        self.assertTrue(0 < r.retry_after_ms <= 20000, r.retry_after_ms)
        self.assertFalse(r.decided_without_redis)

    def test_health(self):
        r = self.c.health()
        self.assertIsInstance(r, admin_pb2.HealthResponse)
        self.assertEqual(r.status, admin_pb2.SERVING_STATUS_SERVING)
        self.assertTrue(r.redis.connected)
        self.assertTrue(r.database.connected)
        self.assertEqual(r.version, cachebroker.__version__)

    def test_metrics_and_reset_stats(self):
        # Counters are the broker's: nothing else may run meanwhile, which
        # unittest's one-test-at-a-time order gives.
        self.assertTrue(self.c.reset_stats().ok)
        h = self.c.health()
        self.assertEqual((h.hits, h.misses), (0, 0))
        key = fresh()
        self.c.set(namespace=NS, key=key, value=b"x")
        for _ in range(3):
            self.c.get(namespace=NS, key=key)
        self.c.get(namespace=NS, key=fresh())
        m = self.c.metrics()
        self.assertIsInstance(m, admin_pb2.MetricsResponse)
        counts = {x.method: x.count for x in m.methods}
        self.assertEqual(counts.get("/cachebroker.v1.CacheService/Get"), 4)
        self.assertEqual(counts.get("/cachebroker.v1.CacheService/Set"), 1)
        ns = {x.namespace: x for x in m.namespaces}
        self.assertEqual((ns[NS].hits, ns[NS].misses), (3, 1))
        self.assertTrue(m.key_count >= 1)
        h = self.c.health()
        self.assertEqual((h.hits, h.misses), (3, 1))
        self.assertTrue(self.c.reset_stats().ok)
        self.assertEqual(self.c.health().hits, 0)


class ErrorTest(BrokerTest):
    def test_invalid_argument(self):
        _, e = self.elapsed(self.c.get, namespace="Bad NS", key="x")
        self.assertIs(type(e), cachebroker.InvalidArgument)
        self.assertEqual((e.code, e.code_name), (3, "INVALID_ARGUMENT"))
        self.assertIn("namespace", e.message)
        self.assertEqual(str(e), "INVALID_ARGUMENT: " + e.message)

    def test_not_found(self):
        md = {}
        with self.assertRaises(cachebroker.NotFound) as cm:
            self.c.fetch(resource="conf.user", params={"user_id": "999"},
                         metadata=md)
        self.assertEqual((cm.exception.code, cm.exception.code_name),
                         (5, "NOT_FOUND"))
        self.assertIn("conf:user:999", cm.exception.message)

    def test_unimplemented_through_call(self):
        with self.assertRaises(cachebroker.Unimplemented) as cm:
            self.c.call("CacheService/NoSuchMethod", b"")
        self.assertEqual(cm.exception.code, 12)
        self.assertIn("/cachebroker.v1.CacheService/NoSuchMethod",
                      cm.exception.message)

    def test_generic_call(self):
        key = fresh()
        self.c.set(namespace=NS, key=key, value=b"raw")
        payload = cache_pb2.GetRequest(namespace=NS, key=key)
        for name in ("CacheService/Get", "/cachebroker.v1.CacheService/Get"):
            reply = self.c.call(name, payload.SerializeToString())
            self.assertIsInstance(reply, cachebroker.RawReply)
            resp = cache_pb2.GetResponse.FromString(reply.payload)
            self.assertEqual(resp.value, b"raw")
            self.assertEqual(reply.metadata.get("x-cache"), "hit")
        # Not a GetRequest: field 1 with wire type 7 does not exist.
        with self.assertRaises(cachebroker.InvalidArgument):
            self.c.call("CacheService/Get", b"\x0f\xff\xff")

    def test_broker_deadline(self):
        # conf.slow sleeps 1 s in PostgreSQL; the broker answers at the
        # deadline it was sent.
        dt, e = self.elapsed(self.c.fetch, resource="conf.slow",
                             params={"user_id": "1"}, refresh=True,
                             timeout_ms=300)
        self.assertIsInstance(e, cachebroker.DeadlineExceeded)
        self.assertEqual(e.code_name, "DEADLINE_EXCEEDED")
        self.assertLessEqual(dt, 0.3 + MARGIN_S)

    def test_broker_resource_exhausted(self):
        # Over the broker's max_value_size (64k) but under the client's
        # 1 MiB: the broker says no, with its own message.
        with self.assertRaises(cachebroker.ResourceExhausted) as cm:
            self.c.set(namespace=NS, key=fresh(), value=b"x" * 100000)
        self.assertNotIn("exceeds the limit", cm.exception.message)


class LimitTest(BrokerTest):
    def set_count(self):
        m = self.c.metrics()
        for x in m.methods:
            if x.method == "/cachebroker.v1.CacheService/Set":
                return x.count
        return 0

    def test_oversized_request_is_not_sent(self):
        small = connected(cachebroker.Client(max_message_size=4096))
        self.addCleanup(small.close)
        key = fresh()
        before = self.set_count()
        # 8000 bytes: within the broker's limits, so only the client's own
        # check can stop it.
        dt, e = self.elapsed(small.set, namespace=NS, key=key,
                             value=b"x" * 8000, timeout_ms=5000)
        self.assertIs(type(e), cachebroker.ResourceExhausted)
        self.assertEqual(e.code, 8)
        self.assertIn("exceeds the limit of 4096 bytes", e.message)
        self.assertLess(dt, 0.25)
        self.assertFalse(self.c.get(namespace=NS, key=key).found)
        self.assertEqual(self.set_count(), before)
        # The same client still works for what fits.
        self.assertTrue(small.set(namespace=NS, key=key, value=b"x" * 100)
                        .stored)
        self.assertEqual(self.set_count(), before + 1)

    def test_oversized_raw_call(self):
        small = connected(cachebroker.Client(max_message_size=100))
        self.addCleanup(small.close)
        with self.assertRaises(cachebroker.ResourceExhausted):
            small.call("CacheService/Get", b"\x00" * 101)
        # Payload under the limit, envelope over it.
        with self.assertRaises(cachebroker.ResourceExhausted):
            small.call("CacheService/Get", b"\x00" * 90)

    def test_reply_over_max_reply_size(self):
        key = fresh()
        self.c.set(namespace=NS, key=key, value=b"v" * 4000)
        # Over TCP: nng drops the connection at the oversized reply and
        # redials, and a close during that handshake on IPC would hit
        # nanomsg/nng#1518 (see ContextManagerTest).
        url = os.environ.get("CACHEBROKER_TCP_URL")
        if not url:
            self.skipTest("CACHEBROKER_TCP_URL is not set")
        small = cachebroker.Client(url, max_reply_size=1000, timeout_ms=500)
        self.addCleanup(small.close)
        dt, e = self.elapsed(small.get, namespace=NS, key=key)
        self.assertIsInstance(e, cachebroker.DeadlineExceeded)
        self.assertLessEqual(dt, 0.5 + MARGIN_S)


class SilentPeer:
    """A TCP peer that completes nng's SP handshake as a rep0 socket and
    then reads requests without ever answering."""

    # 0, 'S', 'P', 0, protocol (rep0 = 0x31, big-endian), 0, 0.
    HEADER = b"\x00SP\x00\x00\x31\x00\x00"

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        self.received = 0
        self.conns = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            self.conns.append(conn)
            conn.sendall(self.HEADER)
            threading.Thread(target=self.drain, args=(conn,),
                             daemon=True).start()

    def drain(self, conn):
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.received += len(data)

    def close(self):
        self.lsock.close()
        for conn in self.conns:
            conn.close()


class DeadBrokerTest(unittest.TestCase):
    TIMEOUT_MS = 400

    def check_unavailable(self, url):
        t = time.monotonic()
        c = cachebroker.Client(url, timeout_ms=self.TIMEOUT_MS)
        self.addCleanup(c.close)
        # The dial does not wait for a broker.
        self.assertLess(time.monotonic() - t, 0.2)
        t = time.monotonic()
        with self.assertRaises(cachebroker.Unavailable) as cm:
            c.health()
        dt = time.monotonic() - t
        self.assertEqual(cm.exception.code, 14)
        self.assertIn(url, cm.exception.message)
        self.assertGreaterEqual(dt, self.TIMEOUT_MS / 1000.0 - 0.05)
        self.assertLessEqual(dt, self.TIMEOUT_MS / 1000.0 + MARGIN_S)

    def test_ipc_nobody_listens(self):
        d = tempfile.mkdtemp(prefix="cbpy-")
        self.addCleanup(os.rmdir, d)
        self.check_unavailable("ipc://%s/nobody.sock" % d)

    def test_tcp_closed_port(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.check_unavailable("tcp://127.0.0.1:%d" % port)

    def test_no_reply_is_deadline_exceeded(self):
        peer = SilentPeer()
        self.addCleanup(peer.close)
        c = cachebroker.Client("tcp://127.0.0.1:%d" % peer.port,
                               timeout_ms=self.TIMEOUT_MS)
        self.addCleanup(c.close)
        t = time.monotonic()
        with self.assertRaises(cachebroker.DeadlineExceeded) as cm:
            c.get(namespace=NS, key="x")
        dt = time.monotonic() - t
        self.assertIn("no reply within %d ms" % self.TIMEOUT_MS,
                      cm.exception.message)
        self.assertLessEqual(dt, self.TIMEOUT_MS / 1000.0 + MARGIN_S)
        # It was sent (the handshake's 8 bytes, then the request), once:
        # the resend timer lies past the deadline.
        time.sleep(0.2)
        self.assertGreater(peer.received, 8 + 20)

    def test_bad_url(self):
        with self.assertRaises(cachebroker.InvalidArgument):
            cachebroker.Client("nosuchtransport://x")



class TlsTest(unittest.TestCase):
    """cbh-run --tls: a tls+tcp:// listener whose certificate names
    localhost and that requires client certificates, with
    CACHEBROKER_TLS_CA, _CERT, _KEY and _SERVER_NAME exported, and
    CBH_TLS_DIR holding a certificate from a CA the broker does not know
    (stranger.pem, stranger.key)."""

    def setUp(self):
        self.url = os.environ.get("CACHEBROKER_TLS_URL")
        if not self.url:
            self.skipTest("CACHEBROKER_TLS_URL is not set (cbh-run --tls)")

    # First (unittest sorts by name): with nng 1.5, handshakes that fail
    # can leave a TLS listener not serving (docs/configuration.md).
    def test_0_calls_with_the_environment_ca(self):
        key = fresh()
        with cachebroker.Client(self.url) as c:
            self.assertTrue(c.set(namespace=NS, key=key, value=b"tls").stored)
            self.assertEqual(c.get(namespace=NS, key=key).value, b"tls")

    def test_another_name_is_not_talked_to(self):
        tls = cachebroker.TlsOptions(server_name="broker.example")
        with cachebroker.Client(self.url, timeout_ms=800, tls=tls) as c:
            t0 = time.monotonic()
            with self.assertRaises(cachebroker.Unavailable):
                c.health()
            self.assertLess(time.monotonic() - t0, 0.8 + MARGIN_S)

    def _refused(self, client):
        t0 = time.monotonic()
        with self.assertRaises(cachebroker.Unavailable):
            client.health()
        self.assertLess(time.monotonic() - t0, 0.8 + MARGIN_S)

    def test_client_certificate_required(self):
        saved = {k: os.environ.pop(k) for k in
                 ("CACHEBROKER_TLS_CERT", "CACHEBROKER_TLS_KEY")}
        try:
            with cachebroker.Client(self.url, timeout_ms=800) as c:
                self._refused(c)
        finally:
            os.environ.update(saved)
        d = os.environ["CBH_TLS_DIR"]
        stranger = cachebroker.TlsOptions(
            cert_file=os.path.join(d, "stranger.pem"),
            key_file=os.path.join(d, "stranger.key"))
        with cachebroker.Client(self.url, timeout_ms=800,
                                tls=stranger) as c:
            self._refused(c)

    def test_no_ca_is_refused_when_made(self):
        saved = os.environ.pop("CACHEBROKER_TLS_CA")
        try:
            with self.assertRaisesRegex(cachebroker.InvalidArgument,
                                        "CACHEBROKER_TLS_CA"):
                cachebroker.Client(self.url)
        finally:
            os.environ["CACHEBROKER_TLS_CA"] = saved


class TransportTest(unittest.TestCase):
    def test_tcp_url(self):
        url = os.environ.get("CACHEBROKER_TCP_URL")
        if not url:
            self.skipTest("CACHEBROKER_TCP_URL is not set")
        self.assertTrue(url.startswith("tcp://"))
        key = fresh()
        with cachebroker.Client(url) as tcp, cachebroker.Client() as ipc:
            self.assertEqual(tcp.url, url)
            self.assertTrue(tcp.set(namespace=NS, key=key, value=b"t")
                            .stored)
            self.assertEqual(ipc.get(namespace=NS, key=key).value, b"t")
            self.assertEqual(tcp.health().status,
                             admin_pb2.SERVING_STATUS_SERVING)

    def test_default_url(self):
        with cachebroker.Client() as c:
            self.assertEqual(c.url, os.environ["CACHEBROKER_URL"])
            # A call before the close: see ContextManagerTest.
            c.health()
        env = dict(os.environ)
        env.pop("CACHEBROKER_URL")
        with mock.patch.dict(os.environ, env, clear=True):
            with cachebroker.Client() as c:
                self.assertEqual(c.url, cachebroker.DEFAULT_URL)
                self.assertEqual(
                    c.url, "ipc:///run/cachebroker/cachebroker.sock")


class RequestIdTest(BrokerTest):
    def test_same_id_applies_once(self):
        key = fresh("ctr")
        rid = cachebroker.new_request_id()
        a = self.c.increment(namespace=NS, key=key, delta=5, request_id=rid)
        b = self.c.increment(namespace=NS, key=key, delta=5, request_id=rid)
        self.assertEqual((a.value, b.value), (5, 5))
        self.assertEqual(self.c.get(namespace=NS, key=key).value, b"5")

    def test_fresh_id_per_call(self):
        key = fresh("ctr")
        a = self.c.increment(namespace=NS, key=key, delta=5)
        b = self.c.increment(namespace=NS, key=key, delta=5)
        self.assertEqual((a.value, b.value), (5, 10))

    def test_raw_call_request_id(self):
        key = fresh("ctr")
        req = cache_pb2.IncrementRequest(namespace=NS, key=key, delta=2)
        for _ in range(3):
            self.c.call("CacheService/Increment", req.SerializeToString(),
                        request_id="py-" + key)
        self.assertEqual(self.c.get(namespace=NS, key=key).value, b"2")


class ThreadTest(BrokerTest):
    def test_many_threads_one_client(self):
        threads, rounds = 8, 50
        counter = fresh("ctr")
        failures = []

        def work(i):
            try:
                for n in range(rounds):
                    key = "t%d:%s" % (i, counter)
                    val = b"%d-%d" % (i, n)
                    self.c.set(namespace=NS, key=key, value=val)
                    got = self.c.get(namespace=NS, key=key).value
                    if got != val:
                        failures.append((i, n, got))
                    self.c.increment(namespace=NS, key=counter, delta=1)
            except Exception as e:  # reported below, not lost in a thread
                failures.append((i, repr(e)))

        ts = [threading.Thread(target=work, args=(i,))
              for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(failures, [])
        self.assertEqual(self.c.get(namespace=NS, key=counter).value,
                         b"%d" % (threads * rounds))

    def test_calls_overlap(self):
        # Four 1 s loads on two database connections: about 2 s when the
        # client lets the calls run at once, 4 s if it serialized them.
        results, failures = [], []

        def slow(uid):
            try:
                r = self.c.fetch(resource="conf.slow",
                                 params={"user_id": str(uid)},
                                 refresh=True, timeout_ms=10000)
                results.append(r.value)
            except Exception as e:
                failures.append(repr(e))

        t = time.monotonic()
        ts = [threading.Thread(target=slow, args=(100 + i,))
              for i in range(4)]
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        dt = time.monotonic() - t
        self.assertEqual(failures, [])
        self.assertEqual(sorted(results),
                         [b"100", b"101", b"102", b"103"])
        self.assertLess(dt, 3.5)

    def test_close_while_calls_run(self):
        c = connected(cachebroker.Client())
        self.addCleanup(c.close)
        caught = []

        def slow():
            try:
                c.fetch(resource="conf.slow", params={"user_id": "7"},
                        refresh=True, timeout_ms=5000)
            except cachebroker.Error as e:
                caught.append(e)

        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.3)
        t = time.monotonic()
        c.close()
        th.join(2)
        self.assertFalse(th.is_alive())
        self.assertLess(time.monotonic() - t, 1.0)
        self.assertEqual(len(caught), 1)
        self.assertIsInstance(caught[0], cachebroker.Cancelled)


def broker_pid():
    return int(os.environ["CBH_BROKER_PID"])


class DeadlineReuseTest(unittest.TestCase):
    """A pooled context keeps its nng aio between calls: every call must
    still get its own deadline (nng 1.5 fixes an aio's timeout at its
    first operation)."""

    def test_short_then_long(self):
        # The short call is the first on its context.
        with cachebroker.Client(timeout_ms=5000) as c:
            c.health(timeout_ms=200)
            os.kill(broker_pid(), signal.SIGSTOP)
            thaw = threading.Timer(
                1.0, os.kill, (broker_pid(), signal.SIGCONT))
            thaw.start()
            try:
                # Answered after about a second: within 5000 ms.
                c.health(timeout_ms=5000)
            finally:
                thaw.join()

    def test_long_then_short(self):
        with connected(cachebroker.Client(timeout_ms=5000)) as c:
            c.health(timeout_ms=5000)
            os.kill(broker_pid(), signal.SIGSTOP)
            t = time.monotonic()
            try:
                with self.assertRaises(cachebroker.DeadlineExceeded):
                    c.health(timeout_ms=200)
                took = time.monotonic() - t
            finally:
                os.kill(broker_pid(), signal.SIGCONT)
            self.assertLess(took, 2.5, "a 200 ms call after a 5000 ms one")


class ConcurrentCloseTest(unittest.TestCase):
    """Clients whose calls timed out close at once while the broker's late
    replies come in. nng 1.5.2 can then hang in nng_close for good
    (docs/reliability.md); close() and the garbage collector's __del__
    must return all the same."""

    CLIENTS = 6
    ROUNDS = 100
    HUNG_S = 30

    def test_close_at_once(self):
        self._run(lambda c: c.close())

    def test_collected_at_once(self):
        self._run(None)

    def _run(self, close):
        pid = broker_pid()
        start = threading.Barrier(self.CLIENTS)
        timed = threading.Barrier(self.CLIENTS)
        closed = threading.Semaphore(0)
        failed = []

        def worker():
            for _ in range(self.ROUNDS):
                c = cachebroker.Client(timeout_ms=5000)
                try:
                    c.health()
                except errors.Error as e:
                    failed.append(e)
                if start.wait() == 0:
                    os.kill(pid, signal.SIGSTOP)
                start.wait()
                try:
                    c.health(timeout_ms=200)
                except cachebroker.DeadlineExceeded:
                    pass
                except errors.Error as e:
                    failed.append(e)
                if timed.wait() == 0:
                    os.kill(pid, signal.SIGCONT)
                if close is not None:
                    close(c)
                else:
                    del c
                    gc.collect()
                closed.release()

        threads = [threading.Thread(target=worker, daemon=True)
                   for _ in range(self.CLIENTS)]
        for t in threads:
            t.start()
        try:
            for n in range(self.CLIENTS * self.ROUNDS):
                self.assertTrue(
                    closed.acquire(timeout=self.HUNG_S),
                    "close %d of %d did not return within %d s"
                    % (n + 1, self.CLIENTS * self.ROUNDS, self.HUNG_S))
        finally:
            os.kill(pid, signal.SIGCONT)
        for t in threads:
            t.join()
        self.assertEqual(failed, [])


class PermissionTest(unittest.TestCase):
    """A connect the IPC socket's permissions refuse says so."""

    def test_permission_denied(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run as another user")
        url = os.environ["CACHEBROKER_URL"]
        path = url[len("ipc://"):]
        d = os.path.dirname(path)
        while d not in ("", "/"):
            st = os.stat(d)
            if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
                os.chmod(d, (st.st_mode & 0o7777) | 0o001)
            d = os.path.dirname(d)
        code = (
            "import cachebroker\n"
            "try:\n"
            "    cachebroker.Client(timeout_ms=1000).health()\n"
            "except cachebroker.Unavailable as e:\n"
            "    print(e.message)\n"
        )
        env = dict(os.environ)
        out = subprocess.run(
            ["runuser", "-u", "nobody", "--", sys.executable, "-c", code],
            env=env, capture_output=True, text=True, timeout=60)
        self.assertIn("permission denied", out.stdout + out.stderr)


class ContextManagerTest(unittest.TestCase):
    # Every client here makes a call before it closes. nng 1.5.2 (Debian
    # 12's) has a bug, nanomsg/nng#1518: an IPC connection closed while
    # the broker is still in nng's handshake stops the broker's IPC
    # listener for good. A client closed right after it was opened would
    # hit it and take the broker down for every later test.

    def test_with_closes(self):
        with cachebroker.Client() as c:
            self.assertFalse(c.closed)
            self.assertEqual(c.health().status,
                             admin_pb2.SERVING_STATUS_SERVING)
        self.assertTrue(c.closed)
        with self.assertRaises(cachebroker.Cancelled) as cm:
            c.health()
        self.assertEqual(cm.exception.message, "client closed")
        c.close()  # idempotent

    def test_with_closes_on_exception(self):
        with self.assertRaises(KeyError):
            with cachebroker.Client() as c:
                c.health()
                raise KeyError("x")
        self.assertTrue(c.closed)


if __name__ == "__main__":
    unittest.main()

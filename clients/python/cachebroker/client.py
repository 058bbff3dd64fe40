# SPDX-License-Identifier: MIT
# Client: one blocking, thread-safe call per RPC over an nng req0 socket.
"""The cachebroker client.

    Client.<method>(request | **fields)          typed call, one per RPC
      |  request message -> payload bytes         (fields: built here)
      v
    Client.call(method, payload)                  generic call
      |  envelope: Request{method, payload, deadline_ms, request_id}
      |  (over max_message_size: ResourceExhausted, nothing sent)
      |  _exchange: send + recv on a pooled nng context
      |  (send timeout: Unavailable, the request never left;
      |   recv timeout: DeadlineExceeded)
      v
    Response{status, payload, metadata}
      |  status != OK: raise errors.<Code>
      v
    RawReply(payload, metadata)  ->  typed call: response message

The behaviour follows the C client (clients/c/README.md): the dial never
waits, every call has a deadline that is also sent to the broker, a fresh
request id per call, nng's resend timer past the deadline.
"""

import collections
import math
import os
import secrets
import threading
import time

from google.protobuf.message import DecodeError

from . import _nng
from . import errors
from .v1 import admin_pb2
from .v1 import auth_pb2
from .v1 import cache_pb2
from .v1 import envelope_pb2
from .v1 import event_pb2
from .v1 import warm_pb2

DEFAULT_URL = "ipc:///run/cachebroker/cachebroker.sock"
METHOD_PREFIX = "/cachebroker.v1."
DEFAULT_TIMEOUT_MS = 5000
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20
DEFAULT_MAX_REPLY_SIZE = 64 << 20

# The resend timer fires this long after the deadline, i.e. never within
# a call; see _exchange.
_RESEND_SLACK_MS = 1000
_MAX_TIMEOUT_MS = _nng.DURATION_MAX - _RESEND_SLACK_MS
# Idle contexts kept for reuse; opening one costs more CPU than a cached
# round trip.
_MAX_IDLE_SLOTS = 64
# The longest close() waits for nng_close; see _close_bounded.
_CLOSE_WAIT_S = 2.0
_close_stuck = False  # a close of this process timed out


class Method(
    collections.namedtuple(
        "Method", "name service method request response"
    )
):
    """One RPC: the Python method name, its service and method, and its
    request and response message classes."""

    __slots__ = ()

    @property
    def call_name(self):
        """"CacheService/Get", as in the conformance vectors."""
        return "%s/%s" % (self.service, self.method)

    @property
    def full_name(self):
        """"/cachebroker.v1.CacheService/Get", as on the wire."""
        return METHOD_PREFIX + self.call_name


# Every RPC of proto/cachebroker/v1, once. Client gets one method per row.
METHODS = tuple(
    Method(*row)
    for row in (
        ("get", "CacheService", "Get",
         cache_pb2.GetRequest, cache_pb2.GetResponse),
        ("get_many", "CacheService", "GetMany",
         cache_pb2.GetManyRequest, cache_pb2.GetManyResponse),
        ("set", "CacheService", "Set",
         cache_pb2.SetRequest, cache_pb2.SetResponse),
        ("set_many", "CacheService", "SetMany",
         cache_pb2.SetManyRequest, cache_pb2.SetManyResponse),
        ("delete", "CacheService", "Delete",
         cache_pb2.DeleteRequest, cache_pb2.DeleteResponse),
        ("invalidate_pattern", "CacheService", "InvalidatePattern",
         cache_pb2.InvalidatePatternRequest,
         cache_pb2.InvalidatePatternResponse),
        ("increment", "CacheService", "Increment",
         cache_pb2.IncrementRequest, cache_pb2.IncrementResponse),
        ("expire", "CacheService", "Expire",
         cache_pb2.ExpireRequest, cache_pb2.ExpireResponse),
        ("fetch", "CacheService", "Fetch",
         cache_pb2.FetchRequest, cache_pb2.FetchResponse),
        ("warm", "WarmService", "Warm",
         warm_pb2.WarmRequest, warm_pb2.WarmResponse),
        ("publish", "EventService", "Publish",
         event_pb2.PublishRequest, event_pb2.PublishResponse),
        ("revoke_token", "AuthService", "RevokeToken",
         auth_pb2.RevokeTokenRequest, auth_pb2.RevokeTokenResponse),
        ("revoke_user_tokens", "AuthService", "RevokeUserTokens",
         auth_pb2.RevokeUserTokensRequest,
         auth_pb2.RevokeUserTokensResponse),
        ("is_token_revoked", "AuthService", "IsTokenRevoked",
         auth_pb2.IsTokenRevokedRequest, auth_pb2.IsTokenRevokedResponse),
        ("put_session", "AuthService", "PutSession",
         auth_pb2.PutSessionRequest, auth_pb2.PutSessionResponse),
        ("get_session", "AuthService", "GetSession",
         auth_pb2.GetSessionRequest, auth_pb2.GetSessionResponse),
        ("delete_session", "AuthService", "DeleteSession",
         auth_pb2.DeleteSessionRequest, auth_pb2.DeleteSessionResponse),
        ("touch_session", "AuthService", "TouchSession",
         auth_pb2.TouchSessionRequest, auth_pb2.TouchSessionResponse),
        ("check_rate_limit", "AuthService", "CheckRateLimit",
         auth_pb2.CheckRateLimitRequest, auth_pb2.CheckRateLimitResponse),
        ("health", "AdminService", "Health",
         admin_pb2.HealthRequest, admin_pb2.HealthResponse),
        ("metrics", "AdminService", "Metrics",
         admin_pb2.MetricsRequest, admin_pb2.MetricsResponse),
        ("reset_stats", "AdminService", "ResetStats",
         admin_pb2.ResetStatsRequest, admin_pb2.ResetStatsResponse),
    )
)

_BY_NAME = {m.name: m for m in METHODS}
_BY_FULL_NAME = {m.full_name: m for m in METHODS}


def method(name):
    """The Method for a Python name ("get"), a short name
    ("CacheService/Get") or a full one ("/cachebroker.v1.CacheService/Get");
    None if no RPC has that name."""
    m = _BY_NAME.get(name)
    if m is None:
        m = _BY_FULL_NAME.get(full_method_name(name))
    return m


def full_method_name(name):
    """The wire name of a method: "/cachebroker.v1.CacheService/Get" for
    "CacheService/Get"; a name starting with "/" is taken as it is."""
    if name.startswith("/"):
        return name
    if name.startswith(METHOD_PREFIX[1:]):
        return "/" + name
    return METHOD_PREFIX + name


def new_request_id():
    """A fresh request id: 128 random bits as 32 hex characters.

    os.urandom underneath, not a seeded generator: a forked child must
    not repeat its parent's ids, or the broker would take the child's
    mutating call for a retry of the parent's and not apply it.
    """
    return secrets.token_hex(16)


class RawReply(collections.namedtuple("RawReply", "payload metadata")):
    """What Client.call returns: the response payload (bytes) and the
    reply metadata (a dict, e.g. {"x-cache": "hit"})."""

    __slots__ = ()


class TlsOptions(collections.namedtuple(
        "TlsOptions",
        "ca_file cert_file key_file key_password server_name",
        defaults=(None, None, None, None, None))):
    """TLS for a tls+tcp:// URL, as libcachebroker's cb_tls_opts: PEM file
    paths. A field left None comes from its CACHEBROKER_TLS_* variable
    (CA, CERT, KEY, KEY_PASSWORD, SERVER_NAME). ca_file is required: the
    broker's certificate is always checked, and must name server_name
    (default: the URL's host; nng's TLS matches DNS names only)."""

    __slots__ = ()


def _tls_settings(url, tls):
    """The TLS settings of url: tls's, else the environment's."""
    tls = tls or TlsOptions()

    def pick(value, var):
        return value if value is not None else (os.environ.get(var) or None)

    ca = pick(tls.ca_file, "CACHEBROKER_TLS_CA")
    cert = pick(tls.cert_file, "CACHEBROKER_TLS_CERT")
    key = pick(tls.key_file, "CACHEBROKER_TLS_KEY")
    password = pick(tls.key_password, "CACHEBROKER_TLS_KEY_PASSWORD")
    name = pick(tls.server_name, "CACHEBROKER_TLS_SERVER_NAME")
    if ca is None:
        raise errors.InvalidArgument(
            "%s needs the CAs to check the broker's certificate with: "
            "tls=TlsOptions(ca_file=...) or CACHEBROKER_TLS_CA" % url)
    if name is None:
        hostport = url[len("tls+tcp://"):]
        name = (hostport[1:hostport.find("]")] if hostport.startswith("[")
                else hostport.rpartition(":")[0])
    pems = []
    for what, path in (("certificate", cert), ("key", key)):
        if path is None:
            pems.append(None)
            continue
        try:
            with open(path, "rb") as f:
                pems.append(f.read())
        except OSError as e:
            raise errors.InvalidArgument(
                "%s %s: %s" % (what, path, e.strerror)) from None
    if (pems[0] is None) != (pems[1] is None):
        raise errors.InvalidArgument(
            "a client certificate needs its key, and a key its certificate")
    return ca, name, pems[0], pems[1], password


class Client:
    """A connection to one broker, shared by any number of threads.

    url: an nng URL (ipc:///path, tcp://host:port, tls+tcp://host:port);
    None means $CACHEBROKER_URL, else
    ipc:///run/cachebroker/cachebroker.sock.
    tls: TlsOptions for a tls+tcp:// URL (None: from the environment).
    A TLS URL without a CA raises InvalidArgument.
    timeout_ms: the default deadline of a call, sent to the broker too.
    max_message_size: the largest request envelope sent; a larger one
    raises ResourceExhausted at once, and nothing is sent.
    max_reply_size: the largest reply accepted; a larger one makes nng
    drop the connection, so that call ends in DeadlineExceeded.

    The constructor never waits for the broker: nng dials in the
    background, and a call waits for a connection within its deadline.
    A URL nng cannot use raises InvalidArgument.
    """

    methods = METHODS

    def __init__(
        self,
        url=None,
        timeout_ms=DEFAULT_TIMEOUT_MS,
        max_message_size=DEFAULT_MAX_MESSAGE_SIZE,
        max_reply_size=DEFAULT_MAX_REPLY_SIZE,
        tls=None,
    ):
        self._sock = None
        self._closed = True
        if url is None:
            url = os.environ.get("CACHEBROKER_URL") or DEFAULT_URL
        self.url = url
        tls_settings = (_tls_settings(url, tls)
                        if url.startswith("tls+tcp://") else None)
        self.timeout_ms = _timeout(timeout_ms, DEFAULT_TIMEOUT_MS)
        if max_message_size <= 0 or max_reply_size <= 0:
            raise ValueError("message size limits must be positive")
        self.max_message_size = max_message_size
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0      # calls between _enter and _leave
        self._slots = []      # idle contexts, under _lock

        try:
            self._sock = _nng.req0_open()
        except _nng.NngError as e:
            raise errors.Internal(str(e)) from None
        try:
            _nng.socket_set_size(
                self._sock, _nng.OPT_RECVMAXSZ, max_reply_size
            )
            # Non-blocking: a broker that is not up yet is dialed again
            # and again in the background.
            if tls_settings is not None:
                _nng.dial_tls(self._sock, url, _nng.FLAG_NONBLOCK,
                              *tls_settings)
            else:
                _nng.dial(self._sock, url, _nng.FLAG_NONBLOCK)
        except _nng.NngError as e:
            _nng.close(self._sock)
            self._sock = None
            if (e.rv in (_nng.EADDRINVAL, _nng.EINVAL, _nng.ENOTSUP)
                    or (e.phase.startswith("tls")
                        and e.rv != _nng.ENOMEM)):
                raise errors.InvalidArgument(
                    "cannot dial %s: %s" % (url, e)
                ) from None
            raise errors.Unavailable(
                "cannot dial %s: %s" % (url, _nng.strerror(e.rv))
            ) from None
        self._closed = False

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return "<cachebroker.Client %s %s>" % (self.url, state)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Late in interpreter shutdown the module globals may be gone.
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self):
        return self._closed

    def close(self):
        """Close the socket. Calls running on other threads end with
        Cancelled; close waits for them to leave. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._sock is None:
            return
        # Wakes every call waiting on a context with ECLOSED (nng does
        # that before it waits for the connections, so calls leave even
        # when the close itself does not finish in time).
        _close_bounded(self._sock)
        with self._lock:
            while self._active > 0:
                self._idle.wait()
            slots, self._slots = self._slots, []
        for slot in slots:
            slot.free()

    def call(self, method, payload, *, timeout_ms=None, request_id=None):
        """Send payload (bytes) as the request of method and return the
        reply as RawReply(payload, metadata).

        method is a full name ("/cachebroker.v1.CacheService/Get") or a
        short one ("CacheService/Get"); it need not be known to this
        client. timeout_ms: None or 0, the client's; request_id: None, a
        fresh one. A non-OK status raises the errors.Error subclass for
        its code.
        """
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError("payload must be bytes")
        return self._exchange(
            full_method_name(method), bytes(payload), timeout_ms,
            request_id,
        )

    def invoke(
        self, method, request=None, *, timeout_ms=None, request_id=None,
        metadata=None, **fields
    ):
        """The typed call of method (a Method, or any name method()
        knows) with request or fields; what every per-RPC method runs."""
        m = method if isinstance(method, Method) else _lookup(method)
        if request is None:
            request = m.request(**fields)
        elif fields:
            raise TypeError(
                "%s: pass a request message or fields, not both" % m.name
            )
        elif not isinstance(request, m.request):
            raise TypeError(
                "%s takes a %s, not %s"
                % (m.name, m.request.DESCRIPTOR.full_name,
                   type(request).__name__)
            )
        if metadata is not None:
            metadata.clear()
        try:
            reply = self._exchange(
                m.full_name, request.SerializeToString(), timeout_ms,
                request_id,
            )
        except errors.Error as e:
            if metadata is not None:
                metadata.update(e.metadata)
            raise
        if metadata is not None:
            metadata.update(reply.metadata)
        resp = m.response()
        try:
            resp.ParseFromString(reply.payload)
        except DecodeError:
            raise errors.Internal(
                "undecodable %s (%d bytes)"
                % (m.response.DESCRIPTOR.full_name, len(reply.payload)),
                reply.metadata,
            ) from None
        return resp

    # --- one exchange -------------------------------------------------

    def _exchange(self, full_name, payload, timeout_ms, request_id):
        timeout = _timeout(timeout_ms, self.timeout_ms)
        if len(payload) > self.max_message_size:
            raise self._too_big(len(payload))
        if request_id is None:
            request_id = new_request_id()
        elif not isinstance(request_id, str):
            raise TypeError("request_id must be a str")
        env = envelope_pb2.Request(
            method=full_name,
            payload=payload,
            deadline_ms=timeout,
            request_id=request_id,
        )
        data = env.SerializeToString()
        if len(data) > self.max_message_size:
            raise self._too_big(len(data))

        data = self._roundtrip(data, timeout)

        reply = envelope_pb2.Response()
        try:
            reply.ParseFromString(data)
        except DecodeError:
            raise errors.Internal(
                "undecodable reply envelope (%d bytes)" % len(data)
            ) from None
        md = dict(reply.metadata)
        code = reply.status.code
        if code != errors.OK:
            raise errors.error_for(code, reply.status.message, md)
        return RawReply(reply.payload, md)

    def _too_big(self, size):
        return errors.ResourceExhausted(
            "request of %d bytes exceeds the limit of %d bytes"
            % (size, self.max_message_size)
        )

    def _roundtrip(self, data, timeout):
        """Send data on a context of its own and return the reply's bytes,
        never waiting past timeout ms in total."""
        deadline = time.monotonic() + timeout / 1000.0
        self._enter()
        slot = None
        try:
            try:
                slot = self._slot_get()
                if slot.timeout != timeout:
                    # The resend timer must not fire within the call: nng
                    # would send the request again behind the caller's
                    # back. After a lost connection nng still resends it
                    # on the next one; the request id makes that safe.
                    slot.set_ms(
                        _nng.OPT_REQ_RESENDTIME, timeout + _RESEND_SLACK_MS
                    )
                    slot.timeout = timeout
                slot.send(data, timeout)
                left = math.ceil((deadline - time.monotonic()) * 1000.0)
                if left <= 0:
                    raise _nng.NngError(_nng.ETIMEDOUT, "recv")
                return slot.recv(left)
            except _nng.NngError as e:
                raise self._nng_error(e, timeout) from None
        finally:
            if slot is not None:
                self._slot_put(slot)
            self._leave()

    def _nng_error(self, e, timeout):
        """Translate an nng failure, once, here. A timeout means different
        things in each half: while sending no connection was ready, so
        the request never left and a retry is safe (Unavailable); while
        receiving, the broker has it and did not answer in time."""
        if e.rv == _nng.ETIMEDOUT:
            if e.phase == "send":
                why = _ipc_refusal(self.url)
                return errors.Unavailable(
                    "no connection to %s within %d ms%s"
                    % (self.url, timeout, ": " + why if why else "")
                )
            return errors.DeadlineExceeded(
                "no reply within %d ms" % timeout
            )
        if e.rv == _nng.ECLOSED and self._closed:
            return errors.Cancelled("client closed")
        if e.rv == _nng.ECANCELED:
            return errors.Cancelled(str(e))
        if e.rv == _nng.ENOMEM:
            return errors.ResourceExhausted(str(e))
        if e.rv in (_nng.EINVAL, _nng.ESTATE, _nng.ENOTSUP):
            return errors.Internal(str(e))
        # Refused, reset, shut, I/O errors: the broker cannot be reached.
        return errors.Unavailable(str(e))

    # --- calls in flight and the context pool ------------------------

    def _enter(self):
        with self._lock:
            if self._closed:
                raise errors.Cancelled("client closed")
            self._active += 1

    def _leave(self):
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._closed:
                self._idle.notify_all()

    def _slot_get(self):
        with self._lock:
            if self._slots:
                return self._slots.pop()
        return _nng.Slot(self._sock)

    def _slot_put(self, slot):
        with self._lock:
            if not self._closed and len(self._slots) < _MAX_IDLE_SLOTS:
                self._slots.append(slot)
                return
        slot.free()


def _close_bounded(sock):
    """nng_close, waiting at most _CLOSE_WAIT_S.

    nng 1.5.2 can lose a pipe's receive when the pipe closes while a
    message is arriving; its one reaper thread then waits for it forever,
    and so does every nng_close of the process. The close runs on a
    daemon thread; after the wait (at once, once a close of the process
    has timed out: the reaper is stuck for good) the socket is left to
    nng, still closing.
    """
    global _close_stuck
    t = threading.Thread(target=_nng.close, args=(sock,), daemon=True,
                         name="cachebroker-close")
    try:
        t.start()
    except RuntimeError:
        # No thread to spare (or interpreter shutdown): close here.
        _nng.close(sock)
        return
    t.join(0 if _close_stuck else _CLOSE_WAIT_S)
    if t.is_alive():
        _close_stuck = True


def _ipc_refusal(url):
    """Why an ipc:// socket file refuses a connection, or None: nng 1.5
    redials in the background and keeps each attempt's error to itself,
    so the path is checked as connect(2) checks it (effective ids)."""
    if not url.startswith("ipc://"):
        return None
    path = url[len("ipc://"):]
    try:
        os.stat(path)
    except PermissionError:
        return "permission denied"
    except FileNotFoundError:
        return "no such socket file"
    except OSError:
        return None
    eff = os.access in os.supports_effective_ids
    if os.access(path, os.W_OK, effective_ids=eff):
        return None
    return "permission denied"


def _lookup(name):
    m = method(name)
    if m is None:
        raise ValueError("no RPC named %r" % (name,))
    return m


def _timeout(timeout_ms, default):
    """A call's deadline in ms: None or 0 mean default; nng durations are
    int32, leave room for the resend slack."""
    if timeout_ms is None or timeout_ms == 0:
        return default
    if timeout_ms < 0:
        raise ValueError("timeout_ms must not be negative")
    return min(int(timeout_ms), _MAX_TIMEOUT_MS)


def _typed(m):
    def rpc(
        self, request=None, /, *, timeout_ms=None, request_id=None,
        metadata=None, **fields
    ):
        return self.invoke(
            m, request, timeout_ms=timeout_ms, request_id=request_id,
            metadata=metadata, **fields
        )

    rpc.__name__ = m.name
    rpc.__qualname__ = "Client." + m.name
    rpc.__doc__ = (
        "%s: takes a %s (or its fields as keywords), returns a %s.\n\n"
        "Keyword-only: timeout_ms (None: the client's), request_id "
        "(None: a fresh one),\nmetadata (a dict, filled with the "
        "reply's metadata, e.g. x-cache).\nA non-OK status raises its "
        "cachebroker.Error subclass."
        % (m.full_name, m.request.DESCRIPTOR.full_name,
           m.response.DESCRIPTOR.full_name)
    )
    return rpc


for _m in METHODS:
    setattr(Client, _m.name, _typed(_m))
del _m

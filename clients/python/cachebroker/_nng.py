# SPDX-License-Identifier: MIT
# The slice of nng 1.5 (libnng.so.1) the client needs, through ctypes.
"""ctypes bindings for the nng functions the client calls.

Only what a req0 client needs is declared, each with its exact C signature
from nng 1.5.2's <nng/nng.h>, <nng/protocol/reqrep0/req.h> and
<nng/supplemental/tls/tls.h>. nng's ids
(nng_socket, nng_ctx) are one-member structs passed by value, so they are
ctypes Structures here too: passing a bare uint32 would work on x86-64 by
accident of the calling convention, not by contract.

ctypes releases the GIL around every foreign call, so a thread blocked in
nng_aio_wait does not stop the others.
"""

import ctypes
import ctypes.util

# nng_errno_enum, the codes the client tells apart.
EINTR = 1
ENOMEM = 2
EINVAL = 3
ETIMEDOUT = 5
ECONNREFUSED = 6
ECLOSED = 7
ENOTSUP = 9
ESTATE = 11
EADDRINVAL = 15
ECANCELED = 20

FLAG_NONBLOCK = 2

OPT_RECVMAXSZ = b"recv-size-max"
OPT_RECVTIMEO = b"recv-timeout"
OPT_SENDTIMEO = b"send-timeout"
OPT_REQ_RESENDTIME = b"req:resend-time"
OPT_TLS_CONFIG = b"tls-config"

# nng_tls_mode and nng_tls_auth_mode.
TLS_MODE_CLIENT = 0
TLS_AUTH_MODE_REQUIRED = 2

# nng_duration is int32 milliseconds.
DURATION_MAX = 2**31 - 1


class Socket(ctypes.Structure):
    """nng_socket: typedef struct nng_socket_s { uint32_t id; }."""

    _fields_ = [("id", ctypes.c_uint32)]


class Dialer(ctypes.Structure):
    """nng_dialer: typedef struct nng_dialer_s { uint32_t id; }."""

    _fields_ = [("id", ctypes.c_uint32)]


class Ctx(ctypes.Structure):
    """nng_ctx: typedef struct nng_ctx_s { uint32_t id; }."""

    _fields_ = [("id", ctypes.c_uint32)]


class NngError(Exception):
    """A non-zero nng return value, with the phase that produced it."""

    def __init__(self, rv, phase):
        super().__init__("%s: %s" % (phase, strerror(rv)))
        self.rv = rv
        self.phase = phase


def _load():
    # The runtime soname first: Debian ships libnng.so (the unversioned
    # link) only with libnng-dev.
    names = ["libnng.so.1", ctypes.util.find_library("nng"), "libnng.so"]
    err = None
    for name in names:
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            err = e
    raise ImportError("cachebroker needs nng 1.x (libnng.so.1): %s" % err)


_lib = _load()

_p = ctypes.c_void_p
_int = ctypes.c_int
_dur = ctypes.c_int32
_size = ctypes.c_size_t
_str = ctypes.c_char_p

# (name, restype, argtypes), as in nng.h.
_SIGNATURES = [
    ("nng_req0_open", _int, [ctypes.POINTER(Socket)]),
    ("nng_close", _int, [Socket]),
    ("nng_socket_set_size", _int, [Socket, _str, _size]),
    ("nng_socket_set_ms", _int, [Socket, _str, _dur]),
    # The dialer out-parameter is optional (NULL).
    ("nng_dial", _int, [Socket, _str, _p, _int]),
    ("nng_ctx_open", _int, [ctypes.POINTER(Ctx), Socket]),
    ("nng_ctx_close", _int, [Ctx]),
    ("nng_ctx_set_ms", _int, [Ctx, _str, _dur]),
    ("nng_ctx_send", None, [Ctx, _p]),
    ("nng_ctx_recv", None, [Ctx, _p]),
    # The callback is always NULL here: calls wait with nng_aio_wait.
    ("nng_aio_alloc", _int, [ctypes.POINTER(_p), _p, _p]),
    ("nng_aio_free", None, [_p]),
    ("nng_aio_wait", None, [_p]),
    ("nng_aio_result", _int, [_p]),
    ("nng_aio_set_timeout", None, [_p, _dur]),
    ("nng_aio_set_msg", None, [_p, _p]),
    ("nng_aio_get_msg", _p, [_p]),
    ("nng_msg_alloc", _int, [ctypes.POINTER(_p), _size]),
    ("nng_msg_free", None, [_p]),
    ("nng_msg_body", _p, [_p]),
    ("nng_msg_len", _size, [_p]),
    ("nng_strerror", _str, [_int]),
    ("nng_dialer_create", _int, [ctypes.POINTER(Dialer), Socket, _str]),
    ("nng_dialer_set_ptr", _int, [Dialer, _str, _p]),
    ("nng_dialer_start", _int, [Dialer, _int]),
    ("nng_dialer_close", _int, [Dialer]),
    ("nng_tls_config_alloc", _int, [ctypes.POINTER(_p), _int]),
    ("nng_tls_config_free", None, [_p]),
    ("nng_tls_config_auth_mode", _int, [_p, _int]),
    ("nng_tls_config_ca_file", _int, [_p, _str]),
    ("nng_tls_config_server_name", _int, [_p, _str]),
    ("nng_tls_config_own_cert", _int, [_p, _str, _str, _str]),
]

for _name, _res, _args in _SIGNATURES:
    _fn = getattr(_lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args
del _name, _res, _args, _fn


def strerror(rv):
    """nng_strerror's text for an nng error code."""
    return _lib.nng_strerror(rv).decode("utf-8", "replace")


def _check(rv, phase):
    if rv != 0:
        raise NngError(rv, phase)


def req0_open():
    """Open a req0 socket; the caller closes it with close()."""
    sock = Socket()
    _check(_lib.nng_req0_open(ctypes.byref(sock)), "open")
    return sock


def close(sock):
    """Close a socket: every call waiting on one of its contexts ends
    with ECLOSED."""
    _lib.nng_close(sock)


def socket_set_size(sock, opt, value):
    _check(_lib.nng_socket_set_size(sock, opt, value), "setopt")


def dial(sock, url, flags):
    _check(_lib.nng_dial(sock, url.encode("utf-8"), None, flags), "dial")


def dial_tls(sock, url, flags, ca_file, server_name, cert=None, key=None,
             password=None):
    """Dial a tls+tcp:// url: the broker's certificate must chain to
    ca_file (a path) and name server_name; cert and key (PEM bytes) are
    the client's own, for a broker that asks for one."""
    cfg = _p()
    _check(_lib.nng_tls_config_alloc(ctypes.byref(cfg), TLS_MODE_CLIENT),
           "tls")
    try:
        _check(_lib.nng_tls_config_auth_mode(cfg, TLS_AUTH_MODE_REQUIRED),
               "tls")
        _check(_lib.nng_tls_config_ca_file(cfg, ca_file.encode("utf-8")),
               "tls ca")
        _check(_lib.nng_tls_config_server_name(
            cfg, server_name.encode("utf-8")), "tls server name")
        if cert is not None:
            _check(_lib.nng_tls_config_own_cert(
                cfg, cert, key,
                password.encode("utf-8") if password else None),
                "tls certificate")
        d = Dialer()
        _check(_lib.nng_dialer_create(ctypes.byref(d), sock,
                                      url.encode("utf-8")), "dial")
        rv = _lib.nng_dialer_set_ptr(d, OPT_TLS_CONFIG, cfg)
        if rv == 0:
            rv = _lib.nng_dialer_start(d, flags)
        if rv != 0:
            _lib.nng_dialer_close(d)
            raise NngError(rv, "dial")
    finally:
        # The dialer holds its own reference.
        _lib.nng_tls_config_free(cfg)


class Slot:
    """One nng context and its aio: the unit a call runs on.

    Not thread-safe: one call at a time owns a slot (the client's pool
    hands it out). free() must not run while a call is in wait().
    """

    __slots__ = ("ctx", "aio", "timeout")

    def __init__(self, sock):
        self.ctx = Ctx()
        self.aio = None
        self.timeout = None  # the deadline its options were set for
        _check(_lib.nng_ctx_open(ctypes.byref(self.ctx), sock), "open")
        aio = _p()
        rv = _lib.nng_aio_alloc(ctypes.byref(aio), None, None)
        if rv != 0:
            _lib.nng_ctx_close(self.ctx)
            raise NngError(rv, "open")
        self.aio = aio

    def set_ms(self, opt, ms):
        _check(_lib.nng_ctx_set_ms(self.ctx, opt, ms), "setopt")

    def send(self, data, timeout):
        """Send data as one message; blocks up to timeout ms."""
        msg = _p()
        _check(_lib.nng_msg_alloc(ctypes.byref(msg), len(data)), "send")
        if data:
            ctypes.memmove(_lib.nng_msg_body(msg), data, len(data))
        # The timeout goes on the aio, for this operation: nng 1.5 copies
        # a context's send/recv timeout into an aio only on the aio's
        # first operation, and a pooled aio would keep that call's.
        _lib.nng_aio_set_timeout(self.aio, timeout)
        _lib.nng_aio_set_msg(self.aio, msg)
        _lib.nng_ctx_send(self.ctx, self.aio)
        _lib.nng_aio_wait(self.aio)
        rv = _lib.nng_aio_result(self.aio)
        if rv != 0:
            # A send that failed leaves the message with us.
            left = _lib.nng_aio_get_msg(self.aio)
            if left:
                _lib.nng_msg_free(left)
            _lib.nng_aio_set_msg(self.aio, None)
            raise NngError(rv, "send")

    def recv(self, timeout):
        """Receive one message's bytes; blocks up to timeout ms."""
        _lib.nng_aio_set_timeout(self.aio, timeout)
        _lib.nng_ctx_recv(self.ctx, self.aio)
        _lib.nng_aio_wait(self.aio)
        rv = _lib.nng_aio_result(self.aio)
        if rv != 0:
            raise NngError(rv, "recv")
        msg = _lib.nng_aio_get_msg(self.aio)
        _lib.nng_aio_set_msg(self.aio, None)
        try:
            n = _lib.nng_msg_len(msg)
            return ctypes.string_at(_lib.nng_msg_body(msg), n) if n else b""
        finally:
            _lib.nng_msg_free(msg)

    def free(self):
        if self.aio is not None:
            _lib.nng_aio_free(self.aio)
            self.aio = None
            _lib.nng_ctx_close(self.ctx)

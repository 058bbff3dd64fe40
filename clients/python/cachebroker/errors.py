# SPDX-License-Identifier: MIT
# Status codes (gRPC numbering, as on the wire) and one exception per code.
"""Status codes and the exceptions a call raises for them.

Every non-OK outcome of a call, whether the broker's answer or the client's
own (no broker, a request too large), raises a subclass of Error whose
code is the wire's gRPC number. Catch Error for any failure, or a subclass
for one code:

    try:
        c.get(namespace="users", key="profile:42")
    except cachebroker.Unavailable:
        ...   # the request never reached a broker: safe to retry
"""

OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16

# Index = code, as cb_status_str in the C client.
_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)


def status_name(code):
    """The gRPC name of a code ("INVALID_ARGUMENT"); "UNKNOWN" outside
    0..16."""
    if isinstance(code, int) and 0 <= code < len(_NAMES):
        return _NAMES[code]
    return "UNKNOWN"


def status_code(name):
    """The code of a gRPC status name; ValueError for an unknown name."""
    try:
        return _NAMES.index(name)
    except ValueError:
        raise ValueError("unknown status name %r" % (name,)) from None


class Error(Exception):
    """A call that did not end with OK.

    code is the gRPC status number, code_name its name, message the
    broker's (or the client's) explanation, and metadata the reply's
    metadata (empty when no reply came).
    """

    code = UNKNOWN

    def __init__(self, message="", metadata=None):
        super().__init__(message)
        self.message = message
        self.metadata = dict(metadata) if metadata else {}

    @property
    def code_name(self):
        return status_name(self.code)

    def __str__(self):
        if self.message:
            return "%s: %s" % (self.code_name, self.message)
        return self.code_name

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.message)


class Cancelled(Error):
    code = CANCELLED


class Unknown(Error):
    code = UNKNOWN


class InvalidArgument(Error):
    code = INVALID_ARGUMENT


class DeadlineExceeded(Error):
    code = DEADLINE_EXCEEDED


class NotFound(Error):
    code = NOT_FOUND


class AlreadyExists(Error):
    code = ALREADY_EXISTS


class PermissionDenied(Error):
    code = PERMISSION_DENIED


class ResourceExhausted(Error):
    code = RESOURCE_EXHAUSTED


class FailedPrecondition(Error):
    code = FAILED_PRECONDITION


class Aborted(Error):
    code = ABORTED


class OutOfRange(Error):
    code = OUT_OF_RANGE


class Unimplemented(Error):
    code = UNIMPLEMENTED


class Internal(Error):
    code = INTERNAL


class Unavailable(Error):
    code = UNAVAILABLE


class DataLoss(Error):
    code = DATA_LOSS


class Unauthenticated(Error):
    code = UNAUTHENTICATED


_BY_CODE = {cls.code: cls for cls in Error.__subclasses__()}


def error_for(code, message, metadata=None):
    """The exception for a status code. A code outside gRPC's 1..16 is
    reported as Unknown, naming the number it had."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return Unknown("status code %d: %s" % (code, message), metadata)
    return cls(message, metadata)

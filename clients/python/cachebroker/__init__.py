# SPDX-License-Identifier: MIT
# cachebroker: the Python client of cachebrokerd.
"""The Python client of cachebrokerd.

    import cachebroker

    with cachebroker.Client() as c:       # $CACHEBROKER_URL or the default
        r = c.get(namespace="users", key="profile:42")
        if r.found:
            print(r.value)

One method per RPC (Client.methods lists them), a generic Client.call for
raw payloads, and one exception class per status code. The message classes
are in cachebroker.v1 (generated from proto/cachebroker/v1 at build time).
See clients/python/README.md.
"""

from .errors import (
    Aborted,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    Error,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
    status_code,
    status_name,
)
from .client import (
    DEFAULT_URL,
    METHOD_PREFIX,
    METHODS,
    Client,
    Method,
    RawReply,
    TlsOptions,
    full_method_name,
    method,
    new_request_id,
)

__version__ = "0.1.0"

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "Client",
    "DEFAULT_URL",
    "DataLoss",
    "DeadlineExceeded",
    "Error",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "METHOD_PREFIX",
    "METHODS",
    "Method",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "RawReply",
    "TlsOptions",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "full_method_name",
    "method",
    "new_request_id",
    "status_code",
    "status_name",
]

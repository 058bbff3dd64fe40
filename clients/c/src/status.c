/* SPDX-License-Identifier: MIT */
/* cb_status names, shared by the client library and the daemon. */
#include <cachebroker/cachebroker.h>

static const char *const status_names[CB_STATUS_MAX + 1] = {
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
};

const char *
cb_status_str(int code)
{
	if (code < 0 || code > CB_STATUS_MAX) {
		return "UNKNOWN";
	}
	return status_names[code];
}

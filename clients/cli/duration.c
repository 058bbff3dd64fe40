/* SPDX-License-Identifier: MIT */
/* Durations on the command line ("30m", "1h30m", "500") and in output. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "units.h"

bool
cli_duration_parse(const char *s, int64_t *ms)
{
	uint64_t v;

	/* The daemon's grammar (units.h), a bare number being milliseconds. */
	if (cbd_duration_parse(s, CBD_DURATION_BARE_MS, &v) != 0 ||
	    v > INT64_MAX) {
		return false;
	}
	*ms = (int64_t) v;
	return true;
}

void
cli_duration_format(char *buf, size_t size, uint64_t seconds)
{
	uint64_t d = seconds / 86400;
	uint64_t h = (seconds / 3600) % 24;
	uint64_t m = (seconds / 60) % 60;
	uint64_t s = seconds % 60;

	if (d > 0) {
		(void) snprintf(buf, size,
		    "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m %" PRIu64 "s", d,
		    h, m, s);
	} else if (h > 0) {
		(void) snprintf(buf, size,
		    "%" PRIu64 "h %" PRIu64 "m %" PRIu64 "s", h, m, s);
	} else if (m > 0) {
		(void) snprintf(buf, size, "%" PRIu64 "m %" PRIu64 "s", m, s);
	} else {
		(void) snprintf(buf, size, "%" PRIu64 "s", s);
	}
}

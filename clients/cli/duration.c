/* SPDX-License-Identifier: MIT */
/* Durations on the command line ("30m", "1h30m", "500") and in output. */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *suffix;
	int64_t     ms;
} units[] = {
	/* "ms" before "m", so that the longest suffix wins. */
	{ "ms", 1 },
	{ "s", INT64_C(1000) },
	{ "m", INT64_C(60) * 1000 },
	{ "h", INT64_C(60) * 60 * 1000 },
	{ "d", INT64_C(24) * 60 * 60 * 1000 },
};

bool
cli_duration_parse(const char *s, int64_t *ms)
{
	int64_t total = 0;
	bool    bare  = true;
	size_t  i;

	if (s == NULL || *s == '\0') {
		return false;
	}
	while (*s != '\0') {
		int64_t n = 0, unit = 0;

		if (!isdigit((unsigned char) *s)) {
			return false;
		}
		while (isdigit((unsigned char) *s)) {
			if (n > (INT64_MAX - (*s - '0')) / 10) {
				return false;
			}
			n = n * 10 + (*s++ - '0');
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t len = strlen(units[i].suffix);

			if (strncmp(s, units[i].suffix, len) == 0) {
				unit = units[i].ms;
				s += len;
				break;
			}
		}
		if (unit == 0) {
			/* A bare number is milliseconds, but only alone:
			 * "1h30" is a typo, not 1 h 30 ms. */
			if (*s != '\0' || !bare) {
				return false;
			}
			unit = 1;
		}
		bare = false;
		if (n > (INT64_MAX - total) / unit) {
			return false;
		}
		total += n * unit;
	}
	*ms = total;
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

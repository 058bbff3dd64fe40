/* SPDX-License-Identifier: MIT */
/* The value syntaxes of durations and sizes (daemon and command line). */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *suffix;
	uint64_t    ms;
} units[] = {
	/* "ms" before "m", so that the longest suffix wins. */
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60000 },
	{ "h", 3600000 },
	{ "d", 86400000 },
};

int
cbd_duration_parse(const char *s, int bare, uint64_t *ms)
{
	uint64_t total = 0;
	int      first = 1;

	if (s == NULL || *s == '\0') {
		return -1;
	}
	while (*s != '\0') {
		uint64_t n    = 0;
		uint64_t unit = 0;

		if (!isdigit((unsigned char) *s)) {
			return -1;
		}
		while (isdigit((unsigned char) *s)) {
			if (n > (UINT64_MAX - (uint64_t) (*s - '0')) / 10) {
				return -1;
			}
			n = n * 10 + (uint64_t) (*s++ - '0');
		}
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t len = strlen(units[i].suffix);
			if (strncmp(s, units[i].suffix, len) == 0) {
				unit = units[i].ms;
				s += len;
				break;
			}
		}
		if (unit == 0) {
			/* A bare number, which only stands alone. */
			if (*s != '\0' || !first ||
			    (bare == CBD_DURATION_BARE_ZERO && n != 0)) {
				return -1;
			}
			unit = 1;
		}
		first = 0;
		if (n > (UINT64_MAX - total) / unit) {
			return -1;
		}
		total += n * unit;
	}
	*ms = total;
	return 0;
}

int
cbd_parse_duration_ms(const char *s, uint64_t *out)
{
	return cbd_duration_parse(s, CBD_DURATION_BARE_ZERO, out);
}

int
cbd_parse_size(const char *s, size_t *out)
{
	char              *end;
	unsigned long long v;
	unsigned long long mult = 1;

	if (!isdigit((unsigned char) s[0])) {
		return -1;
	}
	errno = 0;
	v     = strtoull(s, &end, 10);
	if (errno != 0) {
		return -1;
	}
	if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kb") == 0) {
		mult = 1024ull;
	} else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mb") == 0) {
		mult = 1024ull * 1024;
	} else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gb") == 0) {
		mult = 1024ull * 1024 * 1024;
	} else if (*end != '\0') {
		return -1;
	}
	if (v > SIZE_MAX / mult) {
		return -1;
	}
	*out = (size_t) (v * mult);
	return 0;
}

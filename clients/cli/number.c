/* SPDX-License-Identifier: MIT */
/* Whole numbers on the command line: DELTA, LIMIT, --count, Unix times. */
#include <errno.h>
#include <stdlib.h>

#include "cli.h"

bool
cli_int64_parse(const char *s, int64_t *out)
{
	char     *end;
	long long v;

	errno = 0;
	v     = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		return false;
	}
	*out = (int64_t) v;
	return true;
}

bool
cli_count_parse(const char *s, uint64_t *out)
{
	char              *end;
	unsigned long long v;

	if (*s < '1' || *s > '9') {
		return false;
	}
	errno = 0;
	v     = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		return false;
	}
	*out = (uint64_t) v;
	return true;
}

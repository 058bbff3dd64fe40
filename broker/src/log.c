/* SPDX-License-Identifier: MIT */
/* Logging: one line per event on stderr with a journald priority prefix. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Set by the loop (a reload), read by every thread that logs. */
static atomic_int log_level = CBD_LOG_INFO;

static const char *
log_name(int level)
{
	switch (level) {
	case CBD_LOG_ERROR:
		return "error";
	case CBD_LOG_WARNING:
		return "warning";
	case CBD_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void
cbd_log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int
cbd_log_level_parse(const char *name)
{
	static const int levels[] = { CBD_LOG_ERROR, CBD_LOG_WARNING,
		CBD_LOG_INFO, CBD_LOG_DEBUG };
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(name, log_name(levels[i])) == 0) {
			return levels[i];
		}
	}
	return -1;
}

void
cbd_log(int level, const char *fmt, ...)
{
	char    line[1024];
	int     n;
	va_list ap;

	if (level > atomic_load_explicit(&log_level, memory_order_relaxed)) {
		return;
	}
	n = snprintf(line, sizeof(line), "<%d>%s: ", level, log_name(level));
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
	va_end(ap);
	if (n > (int) sizeof(line) - 2) {
		n = (int) sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* One write per line keeps lines whole when threads log at once. */
	if (write(STDERR_FILENO, line, (size_t) n) < 0) {
		return;
	}
}

/* SPDX-License-Identifier: MIT */
/* Logging: one logfmt line per event on stderr, journald priority first. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/*
 * The line is logfmt: "<6>ts=... level=info component=redis msg=\"...\"".
 * The "<N>" prefix is journald's priority; the timestamp is left out when
 * stderr goes to the journal (JOURNAL_STREAM is set), which stamps lines
 * itself. A message "word: text" names its component (redis, database,
 * journal, ...). msg is quoted and escaped, so a client's key that ends
 * up in a message cannot forge a line or a field.
 */
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static int            log_stamped; /* no JOURNAL_STREAM: write ts= */

static void
log_init(void)
{
	log_stamped = getenv("JOURNAL_STREAM") == NULL;
}

static size_t
log_header(char *line, size_t cap, int level)
{
	struct timespec ts;
	struct tm       tm;
	size_t          n;

	(void) pthread_once(&log_once, log_init);
	n = (size_t) snprintf(line, cap, "<%d>", level);
	if (log_stamped) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n += strftime(line + n, cap - n, "ts=%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t) snprintf(
		    line + n, cap - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	}
	n +=
	    (size_t) snprintf(line + n, cap - n, "level=%s ", log_name(level));
	return n;
}

/* log_component returns the length of a leading "word: " (a lower-case
 * word), or 0. */
static size_t
log_component(const char *msg)
{
	size_t i = 0;

	while ((msg[i] >= 'a' && msg[i] <= 'z') || msg[i] == '_') {
		i++;
	}
	return i > 0 && msg[i] == ':' && msg[i + 1] == ' ' ? i : 0;
}

/* log_quoted appends msg, escaped, between quotes; returns the new
 * length, at most cap - 2 (room for the newline). */
static size_t
log_quoted(char *line, size_t n, size_t cap, const char *msg)
{
	if (n + 2 < cap) {
		line[n++] = '"';
	}
	for (; *msg != '\0' && n + 4 < cap; msg++) {
		unsigned char c = (unsigned char) *msg;
		if (c == '"' || c == '\\') {
			line[n++] = '\\';
			line[n++] = (char) c;
		} else if (c == '\n') {
			line[n++] = '\\';
			line[n++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			n +=
			    (size_t) snprintf(line + n, cap - n, "\\x%02x", c);
		} else {
			line[n++] = (char) c;
		}
	}
	line[n++] = '"';
	return n;
}

void
cbd_log(int level, const char *fmt, ...)
{
	char    msg[1024];
	char    line[1400];
	size_t  n;
	size_t  comp;
	va_list ap;

	if (level > atomic_load_explicit(&log_level, memory_order_relaxed)) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = log_header(line, sizeof(line), level);
	if ((comp = log_component(msg)) > 0) {
		n += (size_t) snprintf(line + n, sizeof(line) - n,
		    "component=%.*s ", (int) comp, msg);
		comp += 2;
	}
	n         = log_quoted(line,
	            n + (size_t) snprintf(line + n, sizeof(line) - n, "msg="),
	            sizeof(line) - 1, msg + comp);
	line[n++] = '\n';
	/* One write per line keeps lines whole when threads log at once. */
	if (write(STDERR_FILENO, line, n) < 0) {
		return;
	}
}

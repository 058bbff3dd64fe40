/* SPDX-License-Identifier: MIT */
/* The error collector: every "file:line: message" of a configuration. */
#ifndef CBD_ERRORS_H
#define CBD_ERRORS_H

#include <stddef.h>

/* cbd_errors collects "file:line: message" lines so that every error of a
 * configuration is reported, not only the first. Zeroed storage is an
 * empty collector. */
typedef struct cbd_errors {
	char  *text; /* NUL-terminated, lines separated by newlines */
	size_t len;  /* bytes used, without the NUL */
	int    count;
} cbd_errors;

/* cbd_errors_add appends one error line ("file: message" when line is 0).
 * Out of memory drops the text but still counts the error. */
void cbd_errors_add(cbd_errors *e, const char *file, int line, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* cbd_errors_fini frees the text. NULL-safe. */
void cbd_errors_fini(cbd_errors *e);

#endif /* CBD_ERRORS_H */

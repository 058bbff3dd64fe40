/* SPDX-License-Identifier: MIT */
/* The error collector: every "file:line: message" of a configuration. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cbd_errors_add(cbd_errors *e, const char *file, int line, const char *fmt, ...)
{
	char    msg[512];
	int     n;
	va_list ap;
	char   *grown;

	e->count++;
	if (line > 0) {
		n = snprintf(msg, sizeof(msg), "%s:%d: ", file, line);
	} else {
		n = snprintf(msg, sizeof(msg), "%s: ", file);
	}
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t) n, fmt, ap);
	va_end(ap);

	n     = (int) strlen(msg);
	grown = realloc(e->text, e->len + (size_t) n + 2);
	if (grown == NULL) {
		return;
	}
	e->text = grown;
	memcpy(e->text + e->len, msg, (size_t) n);
	e->len += (size_t) n;
	e->text[e->len++] = '\n';
	e->text[e->len]   = '\0';
}

void
cbd_errors_fini(cbd_errors *e)
{
	if (e == NULL) {
		return;
	}
	free(e->text);
	e->text  = NULL;
	e->len   = 0;
	e->count = 0;
}

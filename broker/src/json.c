/* SPDX-License-Identifier: MIT */
/* The one JSON shape the broker reads: a notification's payload. */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A cursor over the input and the output arena. */
typedef struct jp {
	const char *p;
	const char *end;
	char       *out;
	size_t      used;
	size_t      cap;
	char       *why;
	size_t      whylen;
} jp;

static int
fail(jp *j, const char *what)
{
	snprintf(
	    j->why, j->whylen, "payload is not the expected JSON: %s", what);
	return -1;
}

static void
ws(jp *j)
{
	while (j->p < j->end &&
	    (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' ||
	        *j->p == '\r')) {
		j->p++;
	}
}

static int
expect(jp *j, char c)
{
	ws(j);
	if (j->p == j->end || *j->p != c) {
		char what[32];
		snprintf(what, sizeof(what), "expected '%c'", c);
		return fail(j, what);
	}
	j->p++;
	return 0;
}

static int
put(jp *j, const char *bytes, size_t n)
{
	if (j->used + n + 1 > j->cap) {
		return fail(j, "too long");
	}
	memcpy(j->out + j->used, bytes, n);
	j->used += n;
	return 0;
}

static int
hex4(jp *j, uint32_t *v)
{
	*v = 0;
	if (j->end - j->p < 4) {
		return fail(j, "short \\u escape");
	}
	for (int i = 0; i < 4; i++) {
		char c = *j->p++;
		*v <<= 4;
		if (c >= '0' && c <= '9') {
			*v |= (uint32_t) (c - '0');
		} else if (c >= 'a' && c <= 'f') {
			*v |= (uint32_t) (c - 'a' + 10);
		} else if (c >= 'A' && c <= 'F') {
			*v |= (uint32_t) (c - 'A' + 10);
		} else {
			return fail(j, "bad \\u escape");
		}
	}
	return 0;
}

/* put_utf8 writes code point cp (from a \u escape) as UTF-8. */
static int
put_utf8(jp *j, uint32_t cp)
{
	char   b[4];
	size_t n;

	if (cp == 0) {
		return fail(j, "\\u0000 in a string");
	}
	if (cp < 0x80) {
		b[0] = (char) cp;
		n    = 1;
	} else if (cp < 0x800) {
		b[0] = (char) (0xC0 | (cp >> 6));
		b[1] = (char) (0x80 | (cp & 0x3F));
		n    = 2;
	} else if (cp < 0x10000) {
		b[0] = (char) (0xE0 | (cp >> 12));
		b[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char) (0x80 | (cp & 0x3F));
		n    = 3;
	} else {
		b[0] = (char) (0xF0 | (cp >> 18));
		b[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char) (0x80 | (cp & 0x3F));
		n    = 4;
	}
	return put(j, b, n);
}

static int
escape(jp *j)
{
	static const char from[] = "\"\\/bfnrt";
	static const char to[]   = "\"\\/\b\f\n\r\t";
	const char       *at;
	uint32_t          cp;
	uint32_t          lo;

	if (j->p == j->end) {
		return fail(j, "unterminated string");
	}
	if (*j->p != 'u') {
		if ((at = strchr(from, *j->p)) == NULL || *j->p == '\0') {
			return fail(j, "bad escape");
		}
		j->p++;
		return put(j, &to[at - from], 1);
	}
	j->p++;
	if (hex4(j, &cp) != 0) {
		return -1;
	}
	if (cp >= 0xDC00 && cp <= 0xDFFF) {
		return fail(j, "lone low surrogate");
	}
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') {
			return fail(j, "lone high surrogate");
		}
		j->p += 2;
		if (hex4(j, &lo) != 0) {
			return -1;
		}
		if (lo < 0xDC00 || lo > 0xDFFF) {
			return fail(j, "bad surrogate pair");
		}
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	return put_utf8(j, cp);
}

/* string reads a JSON string into the arena; *s points at it. */
static int
string(jp *j, const char **s)
{
	size_t start;

	if (expect(j, '"') != 0) {
		return -1;
	}
	start = j->used;
	for (;;) {
		char c;
		if (j->p == j->end) {
			return fail(j, "unterminated string");
		}
		c = *j->p++;
		if (c == '"') {
			break;
		}
		if ((unsigned char) c < 0x20) {
			return fail(j, "control character in a string");
		}
		if (c == '\\' ? escape(j) != 0 : put(j, &c, 1) != 0) {
			return -1;
		}
	}
	if (put(j, "", 1) != 0) {
		return -1;
	}
	*s = j->out + start;
	return 0;
}

/* scalar reads a parameter value: a string, a number or a boolean. */
static int
scalar(jp *j, const char **s)
{
	const char *start;
	size_t      at;

	ws(j);
	if (j->p < j->end && *j->p == '"') {
		return string(j, s);
	}
	start = j->p;
	if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
		j->p += 4;
	} else if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
		j->p += 5;
	} else {
		/* A number, by JSON's grammar (its text is kept). */
		if (j->p < j->end && *j->p == '-') {
			j->p++;
		}
		if (j->p == j->end || *j->p < '0' || *j->p > '9') {
			return fail(j,
			    "a parameter must be a string, a number "
			    "or a boolean");
		}
		if (*j->p == '0') {
			j->p++;
		} else {
			while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
				j->p++;
			}
		}
		if (j->p < j->end && *j->p == '.') {
			j->p++;
			if (j->p == j->end || *j->p < '0' || *j->p > '9') {
				return fail(j, "bad number");
			}
			while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
				j->p++;
			}
		}
		if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
			j->p++;
			if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
				j->p++;
			}
			if (j->p == j->end || *j->p < '0' || *j->p > '9') {
				return fail(j, "bad number");
			}
			while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
				j->p++;
			}
		}
	}
	at = j->used;
	if (put(j, start, (size_t) (j->p - start)) != 0 ||
	    put(j, "", 1) != 0) {
		return -1;
	}
	*s = j->out + at;
	return 0;
}

/* more reads ',' (1) or the closing c (0) of an object. */
static int
more(jp *j, char c)
{
	ws(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		return 1;
	}
	return expect(j, c) == 0 ? 0 : -1;
}

static int
params(jp *j, const char **names, const char **vals, size_t max, size_t *n)
{
	int next;

	if (expect(j, '{') != 0) {
		return -1;
	}
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	do {
		const char *name;
		if (string(j, &name) != 0 || expect(j, ':') != 0) {
			return -1;
		}
		for (size_t i = 0; i < *n; i++) {
			if (strcmp(names[i], name) == 0) {
				return fail(j, "a parameter is given twice");
			}
		}
		if (*n == max) {
			return fail(j, "too many parameters");
		}
		names[*n] = name;
		if (scalar(j, &vals[*n]) != 0) {
			return -1;
		}
		(*n)++;
	} while ((next = more(j, '}')) == 1);
	return next;
}

cb_status
cbd_json_event(const char *text, size_t len, char *out, size_t cap,
    const char **event, const char **names, const char **vals, size_t max,
    size_t *n, char *why, size_t whylen)
{
	jp  j      = { text, text + len, out, 0, cap, why, whylen };
	int seen_p = 0;
	int next;

	*event = NULL;
	*n     = 0;
	if (expect(&j, '{') != 0) {
		return CB_INVALID_ARGUMENT;
	}
	do {
		const char *field;
		if (string(&j, &field) != 0 || expect(&j, ':') != 0) {
			return CB_INVALID_ARGUMENT;
		}
		if (strcmp(field, "event") == 0 && *event == NULL) {
			if (string(&j, event) != 0) {
				return CB_INVALID_ARGUMENT;
			}
		} else if (strcmp(field, "params") == 0 && !seen_p) {
			seen_p = 1;
			if (params(&j, names, vals, max, n) != 0) {
				return CB_INVALID_ARGUMENT;
			}
		} else {
			fail(&j, "only \"event\" and \"params\", once each");
			return CB_INVALID_ARGUMENT;
		}
	} while ((next = more(&j, '}')) == 1);
	if (next != 0) {
		return CB_INVALID_ARGUMENT;
	}
	ws(&j);
	if (j.p != j.end) {
		fail(&j, "text after the object");
		return CB_INVALID_ARGUMENT;
	}
	if (*event == NULL) {
		fail(&j, "no \"event\"");
		return CB_INVALID_ARGUMENT;
	}
	return CB_OK;
}

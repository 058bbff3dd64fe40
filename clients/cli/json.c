/* SPDX-License-Identifier: MIT */
/* A small streaming JSON writer: escaping, UTF-8 checks and base64. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "cli.h"

/*
 * utf8_seq returns the length of the well-formed UTF-8 sequence at s (1 to
 * 4), or 0 when there is none: a stray continuation byte, a truncated or
 * overlong sequence, a surrogate, or a code point past U+10FFFF.
 */
static size_t
utf8_seq(const uint8_t *s, size_t len)
{
	uint8_t c = s[0];
	size_t  n, i;
	uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

	if (c < 0x80) {
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n  = 3;
		lo = (c == 0xe0) ? 0xa0 : 0x80; /* no overlongs */
		hi = (c == 0xed) ? 0x9f : 0xbf; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n  = 4;
		lo = (c == 0xf0) ? 0x90 : 0x80; /* no overlongs */
		hi = (c == 0xf4) ? 0x8f : 0xbf; /* nothing past U+10FFFF */
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi) {
		return 0;
	}
	for (i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf) {
			return 0;
		}
	}
	return n;
}

static bool
utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_seq(s + i, len - i)) == 0) {
			return false;
		}
		i += n;
	}
	return true;
}

/* put_escaped writes bytes as a JSON string; bytes that are not UTF-8 come
 * out as U+FFFD (callers that must keep them use base64). */
static void
put_escaped(FILE *f, const uint8_t *s, size_t len)
{
	size_t i = 0, n;

	putc('"', f);
	while (i < len) {
		uint8_t c = s[i];

		if ((n = utf8_seq(s + i, len - i)) == 0) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		if (n > 1) {
			fwrite(s + i, 1, n, f);
			i += n;
			continue;
		}
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				fprintf(f, "\\u%04x", (unsigned) c);
			} else {
				putc(c, f);
			}
			break;
		}
		i++;
	}
	putc('"', f);
}

static void
put_base64(FILE *f, const uint8_t *s, size_t len)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t   i;
	uint32_t v;

	putc('"', f);
	for (i = 0; i + 2 < len; i += 3) {
		v = ((uint32_t) s[i] << 16) | ((uint32_t) s[i + 1] << 8) |
		    s[i + 2];
		putc(b64[(v >> 18) & 63], f);
		putc(b64[(v >> 12) & 63], f);
		putc(b64[(v >> 6) & 63], f);
		putc(b64[v & 63], f);
	}
	if (len - i == 1) {
		v = (uint32_t) s[i] << 16;
		putc(b64[(v >> 18) & 63], f);
		putc(b64[(v >> 12) & 63], f);
		fputs("==", f);
	} else if (len - i == 2) {
		v = ((uint32_t) s[i] << 16) | ((uint32_t) s[i + 1] << 8);
		putc(b64[(v >> 18) & 63], f);
		putc(b64[(v >> 12) & 63], f);
		putc(b64[(v >> 6) & 63], f);
		putc('=', f);
	}
	putc('"', f);
}

/* sep writes the comma that goes before a member or element, if any. */
static void
sep(struct cli_json *j)
{
	unsigned d;

	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth == 0) {
		return;
	}
	/* Deeper than CLI_JSON_DEPTH is a programmer error; share a slot. */
	d = j->depth <= CLI_JSON_DEPTH ? j->depth - 1 : CLI_JSON_DEPTH - 1;
	if (j->more[d]) {
		putc(',', j->f);
	}
	j->more[d] = true;
}

static void
open_container(struct cli_json *j, int c)
{
	sep(j);
	putc(c, j->f);
	if (j->depth < CLI_JSON_DEPTH) {
		j->more[j->depth] = false;
	}
	j->depth++;
}

static void
close_container(struct cli_json *j, int c)
{
	if (j->depth > 0) {
		j->depth--;
	}
	putc(c, j->f);
}

void
cli_json_init(struct cli_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

void
cli_json_begin_object(struct cli_json *j)
{
	open_container(j, '{');
}

void
cli_json_end_object(struct cli_json *j)
{
	close_container(j, '}');
}

void
cli_json_begin_array(struct cli_json *j)
{
	open_container(j, '[');
}

void
cli_json_end_array(struct cli_json *j)
{
	close_container(j, ']');
}

void
cli_json_key(struct cli_json *j, const char *key)
{
	sep(j);
	put_escaped(j->f, (const uint8_t *) key, strlen(key));
	putc(':', j->f);
	j->after_key = true;
}

void
cli_json_string(struct cli_json *j, const char *s)
{
	sep(j);
	put_escaped(j->f, (const uint8_t *) s, strlen(s));
}

void
cli_json_bool(struct cli_json *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->f);
}

void
cli_json_int(struct cli_json *j, int64_t v)
{
	sep(j);
	fprintf(j->f, "%" PRId64, v);
}

void
cli_json_uint(struct cli_json *j, uint64_t v)
{
	sep(j);
	fprintf(j->f, "%" PRIu64, v);
}

void
cli_json_double(struct cli_json *j, double v)
{
	sep(j);
	/* JSON has no NaN or infinity. */
	if (!isfinite(v)) {
		fputs("null", j->f);
		return;
	}
	fprintf(j->f, "%.15g", v);
}

void
cli_json_value(
    struct cli_json *j, const char *name, const uint8_t *data, size_t len)
{
	char key[64];

	if (data == NULL) {
		len = 0;
	}
	if (len == 0 || utf8_valid(data, len)) {
		cli_json_key(j, name);
		sep(j);
		put_escaped(j->f, data, len);
		return;
	}
	(void) snprintf(key, sizeof(key), "%s_base64", name);
	cli_json_key(j, key);
	sep(j);
	put_base64(j->f, data, len);
}

void
cli_json_end(struct cli_json *j)
{
	while (j->depth > 0) {
		cli_json_end_object(j);
	}
	putc('\n', j->f);
}

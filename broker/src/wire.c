/* SPDX-License-Identifier: MIT */
/* Strings on the wire: UTF-8 without NUL in every string field. */
#include "wire.h"

#include <stdio.h>
#include <string.h>

/* Our messages nest three deep at most; a wire that claims more is not
 * one of them. */
#define WIRE_MAX_DEPTH 16
#define WIRE_MAX_PATH 128

/* The protobuf wire types. */
enum {
	WT_VARINT = 0,
	WT_I64    = 1,
	WT_LEN    = 2,
	WT_I32    = 5,
};

/* cont says whether c is a continuation byte, 10xxxxxx. */
static int
cont(uint8_t c)
{
	return (c & 0xc0) == 0x80;
}

enum cbd_wire_text
cbd_wire_utf8(const uint8_t *s, size_t n, size_t *at)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t  k; /* continuation bytes */
		uint8_t lo = 0x80;
		uint8_t hi = 0xbf; /* bounds of the second byte */

		if (c == 0) {
			if (at != NULL) {
				*at = i;
			}
			return CBD_WIRE_TEXT_NUL;
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			k  = 2;
			lo = c == 0xe0 ? 0xa0 : 0x80; /* overlong */
			hi = c == 0xed ? 0x9f : 0xbf; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			k  = 3;
			lo = c == 0xf0 ? 0x90 : 0x80; /* overlong */
			hi = c == 0xf4 ? 0x8f : 0xbf; /* past U+10FFFF */
		} else {
			/* 0x80-0xc1: a stray continuation or an overlong
			 * two-byte form; 0xf5-0xff: never UTF-8. */
			goto bad;
		}
		if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi) {
			goto bad;
		}
		for (size_t j = 2; j <= k; j++) {
			if (!cont(s[i + j])) {
				goto bad;
			}
		}
		i += k + 1;
	}
	return CBD_WIRE_TEXT_OK;
bad:
	if (at != NULL) {
		*at = i;
	}
	return CBD_WIRE_TEXT_BAD;
}

/* A walk: the reason goes into why, the field path into path. */
typedef struct wire_walk {
	char  *why;
	size_t whylen;
	char   path[WIRE_MAX_PATH]; /* "params.value" */
	size_t plen;
	int    malformed; /* the bytes are no message */
} wire_walk;

/* varint reads one varint at *p (before end); -1 if it is cut off or
 * longer than ten bytes. */
static int
varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		uint8_t b;
		if (*p >= end) {
			return -1;
		}
		b = *(*p)++;
		v |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

static cb_status walk(wire_walk *w, const ProtobufCMessageDescriptor *desc,
    const uint8_t *p, const uint8_t *end, int depth);

/* field_text checks a string field's n bytes at s. */
static cb_status
field_text(wire_walk *w, const uint8_t *s, size_t n)
{
	size_t at = 0;

	switch (cbd_wire_utf8(s, n, &at)) {
	case CBD_WIRE_TEXT_OK:
		return CB_OK;
	case CBD_WIRE_TEXT_NUL:
		snprintf(w->why, w->whylen, "field %s: NUL byte at byte %zu",
		    w->path, at);
		return CB_INVALID_ARGUMENT;
	case CBD_WIRE_TEXT_BAD:
		break;
	}
	snprintf(
	    w->why, w->whylen, "field %s: not UTF-8 at byte %zu", w->path, at);
	return CB_INVALID_ARGUMENT;
}

/* field_len handles a length-delimited field f (NULL: unknown). */
static cb_status
field_len(wire_walk *w, const ProtobufCFieldDescriptor *f, const uint8_t *s,
    size_t n, int depth)
{
	size_t    plen = w->plen;
	size_t    name;
	cb_status rv;

	if (f == NULL ||
	    (f->type != PROTOBUF_C_TYPE_STRING &&
	        f->type != PROTOBUF_C_TYPE_MESSAGE)) {
		return CB_OK;
	}
	/* The path grows by ".name" (cut short if it must be). */
	name = strlen(f->name);
	if (plen + 1 + name < sizeof(w->path)) {
		if (plen > 0) {
			w->path[w->plen++] = '.';
		}
		memcpy(w->path + w->plen, f->name, name + 1);
		w->plen += name;
	}
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		rv = field_text(w, s, n);
	} else {
		rv = walk(w, f->descriptor, s, s + n, depth + 1);
	}
	w->plen          = plen;
	w->path[w->plen] = '\0';
	return rv;
}

static cb_status
walk(wire_walk *w, const ProtobufCMessageDescriptor *desc, const uint8_t *p,
    const uint8_t *end, int depth)
{
	if (depth > WIRE_MAX_DEPTH) {
		w->malformed = 1;
		return CB_INVALID_ARGUMENT;
	}
	while (p < end) {
		uint64_t                        tag;
		uint64_t                        n;
		uint64_t                        num;
		cb_status                       rv;
		const ProtobufCFieldDescriptor *f;

		if (varint(&p, end, &tag) != 0 || (num = tag >> 3) == 0 ||
		    num > UINT32_MAX) {
			w->malformed = 1;
			return CB_INVALID_ARGUMENT;
		}
		switch (tag & 7) {
		case WT_VARINT:
			if (varint(&p, end, &n) != 0) {
				w->malformed = 1;
				return CB_INVALID_ARGUMENT;
			}
			break;
		case WT_I64:
		case WT_I32:
			n = (tag & 7) == WT_I64 ? 8 : 4;
			if ((uint64_t) (end - p) < n) {
				w->malformed = 1;
				return CB_INVALID_ARGUMENT;
			}
			p += n;
			break;
		case WT_LEN:
			if (varint(&p, end, &n) != 0 ||
			    n > (uint64_t) (end - p)) {
				w->malformed = 1;
				return CB_INVALID_ARGUMENT;
			}
			f = protobuf_c_message_descriptor_get_field(
			    desc, (unsigned) num);
			if ((rv = field_len(w, f, p, (size_t) n, depth)) !=
			    CB_OK) {
				return rv;
			}
			p += n;
			break;
		default:
			/* Groups (3, 4) are proto2's, and 6, 7 none at all. */
			w->malformed = 1;
			return CB_INVALID_ARGUMENT;
		}
	}
	return CB_OK;
}

cb_status
cbd_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
    size_t len, const char *what, char *why, size_t whylen)
{
	char      inner[256];
	wire_walk w = { .why = inner, .whylen = sizeof(inner) };
	cb_status rv;

	if ((rv = walk(&w, desc, buf, buf + len, 0)) == CB_OK) {
		return CB_OK;
	}
	if (w.malformed) {
		snprintf(
		    why, whylen, "%s is not a %s message", what, desc->name);
	} else {
		snprintf(why, whylen, "%s %s", what, inner);
	}
	return rv;
}

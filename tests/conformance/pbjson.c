/* SPDX-License-Identifier: MIT */
/* proto3 JSON to and from protobuf-c messages, driven by their descriptors. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pbjson.h"

#define REPEAT_MAX (16u << 20) /* the longest $repeat expansion */
#define PATH_MAX_LEN 256       /* "entries[3].value", for messages */

/* The member of msg that a field descriptor's offset names. */
#define MEMBER(type, msg, off) ((type *) (void *) ((char *) (msg) + (off)))

/* ---- base64 --------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
pbjson_base64_encode(const uint8_t *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	char *o   = out;

	if (out == NULL) {
		return (NULL);
	}
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t) data[i] << 16;
		if (i + 1 < len) {
			v |= (uint32_t) data[i + 1] << 8;
		}
		if (i + 2 < len) {
			v |= data[i + 2];
		}
		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ =
		    (char) (i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=');
		*o++ = (char) (i + 2 < len ? b64_alphabet[v & 63] : '=');
	}
	*o = '\0';
	return (out);
}

/* b64_value accepts both alphabets: proto3 JSON parsers do. */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return (c - 'A');
	}
	if (c >= 'a' && c <= 'z') {
		return (c - 'a' + 26);
	}
	if (c >= '0' && c <= '9') {
		return (c - '0' + 52);
	}
	if (c == '+' || c == '-') {
		return (62);
	}
	if (c == '/' || c == '_') {
		return (63);
	}
	return (-1);
}

int
pbjson_base64_decode(const char *s, uint8_t **out, size_t *len)
{
	size_t   n    = strlen(s);
	size_t   pad  = 0;
	uint32_t acc  = 0;
	int      bits = 0;
	uint8_t *buf;
	uint8_t *o;

	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0)) {
		return (-1);
	}
	if ((buf = malloc(n * 3 / 4 + 1)) == NULL) {
		return (-1);
	}
	o = buf;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(s[i]);
		if (v < 0) {
			free(buf);
			return (-1);
		}
		acc = ((acc << 6) | (uint32_t) v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (uint8_t) (acc >> bits);
		}
	}
	*out = buf;
	*len = (size_t) (o - buf);
	return (0);
}

/* ---- JSON to message ------------------------------------------------ */

/*
 * path_join writes path, sep, name and end into out (PATH_MAX_LEN bytes),
 * for error messages: "entries[3].value". A longer path is cut.
 */
static void
path_join(char *out, const char *path, const char *sep, const char *name,
    const char *end)
{
	const char *parts[] = { path, sep, name, end };
	size_t      n       = 0;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		for (const char *p = parts[i]; *p != '\0'; p++) {
			if (n + 1 < PATH_MAX_LEN) {
				out[n++] = *p;
			}
		}
	}
	out[n] = '\0';
}

static int msg_from_json(const ProtobufCMessageDescriptor *desc,
    json_object *in, const char *path, ProtobufCMessage **out, char *why,
    size_t whylen);

static int
fail(char *why, size_t whylen, const char *path, const char *what)
{
	snprintf(why, whylen, "field '%s': %s", path, what);
	return (-1);
}

static bool
is_integer_type(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return (true);
	default:
		return (false);
	}
}

static bool
is_signed_type(ProtobufCType t)
{
	return (t == PROTOBUF_C_TYPE_INT32 || t == PROTOBUF_C_TYPE_SINT32 ||
	    t == PROTOBUF_C_TYPE_SFIXED32 || t == PROTOBUF_C_TYPE_INT64 ||
	    t == PROTOBUF_C_TYPE_SINT64 || t == PROTOBUF_C_TYPE_SFIXED64);
}

/*
 * The placeholder an object stands for: {"$repeat": [s, n]} or
 * {"$now_plus_s": n}, else NULL.
 */
static const char *
placeholder(json_object *v, json_object **arg)
{
	struct json_object_iterator it;

	if (!json_object_is_type(v, json_type_object) ||
	    json_object_object_length(v) != 1) {
		return (NULL);
	}
	it = json_object_iter_begin(v);
	if (strcmp(json_object_iter_peek_name(&it), "$repeat") != 0 &&
	    strcmp(json_object_iter_peek_name(&it), "$now_plus_s") != 0) {
		return (NULL);
	}
	*arg = json_object_iter_peek_value(&it);
	return (json_object_iter_peek_name(&it));
}

/*
 * resolve replaces a placeholder by the plain JSON value it stands for,
 * in *tmp (the caller puts it), checking that it suits the field.
 */
static int
resolve(const ProtobufCFieldDescriptor *f, json_object **v, json_object **tmp,
    const char *path, char *why, size_t whylen)
{
	json_object *arg = NULL;
	const char  *ph  = placeholder(*v, &arg);

	if (ph == NULL || f->type == PROTOBUF_C_TYPE_MESSAGE) {
		return (0);
	}
	if (strcmp(ph, "$now_plus_s") == 0) {
		if (!is_integer_type(f->type) ||
		    !json_object_is_type(arg, json_type_int)) {
			return (fail(why, whylen, path,
			    "$now_plus_s needs an integer field and an "
			    "integer"));
		}
		*tmp = json_object_new_int64(
		    (int64_t) time(NULL) + json_object_get_int64(arg));
	} else {
		json_object *s;
		json_object *n;
		size_t       slen;
		int64_t      count;
		char        *text;

		if ((f->type != PROTOBUF_C_TYPE_STRING &&
		        f->type != PROTOBUF_C_TYPE_BYTES) ||
		    !json_object_is_type(arg, json_type_array) ||
		    json_object_array_length(arg) != 2 ||
		    !json_object_is_type(s = json_object_array_get_idx(arg, 0),
		        json_type_string) ||
		    !json_object_is_type(n = json_object_array_get_idx(arg, 1),
		        json_type_int)) {
			return (fail(why, whylen, path,
			    "$repeat needs a string or bytes field and "
			    "[string, count]"));
		}
		slen  = (size_t) json_object_get_string_len(s);
		count = json_object_get_int64(n);
		if (count < 0 ||
		    (slen > 0 && (uint64_t) count > REPEAT_MAX / slen)) {
			return (fail(
			    why, whylen, path, "$repeat count out of range"));
		}
		if ((text = malloc(slen * (size_t) count + 1)) == NULL) {
			return (fail(why, whylen, path, "out of memory"));
		}
		for (int64_t i = 0; i < count; i++) {
			memcpy(text + (size_t) i * slen,
			    json_object_get_string(s), slen);
		}
		text[slen * (size_t) count] = '\0';
		*tmp                        = json_object_new_string_len(
		                           text, (int) (slen * (size_t) count));
		free(text);
	}
	if (*tmp == NULL) {
		return (fail(why, whylen, path, "out of memory"));
	}
	*v = *tmp;
	return (0);
}

/* json_int reads an integer given as a number or a decimal string. */
static int
json_int(json_object *v, bool is_signed, int64_t *s, uint64_t *u)
{
	const char *str;
	char       *end;

	switch (json_object_get_type(v)) {
	case json_type_int:
		*s = json_object_get_int64(v);
		/* json-c keeps values over INT64_MAX as unsigned. */
		*u = *s >= 0 ? json_object_get_uint64(v) : 0;
		return (is_signed
		        ? (*s == INT64_MAX && *u > INT64_MAX ? -1 : 0)
		        : (*s < 0 ? -1 : 0));
	case json_type_double: {
		double d = json_object_get_double(v);
		if (d != trunc(d) || d < -9.2e18 || d > 1.8e19 ||
		    (!is_signed && d < 0)) {
			return (-1);
		}
		*s = d < 9.2e18 ? (int64_t) d : INT64_MAX;
		*u = d >= 0 ? (uint64_t) d : 0;
		return (0);
	}
	case json_type_string:
		str = json_object_get_string(v);
		if (!isdigit((unsigned char) str[0]) &&
		    !(is_signed && str[0] == '-' &&
		        isdigit((unsigned char) str[1]))) {
			return (-1);
		}
		errno = 0;
		if (is_signed) {
			*s = strtoll(str, &end, 10);
			*u = *s >= 0 ? (uint64_t) *s : 0;
		} else {
			*u = strtoull(str, &end, 10);
			*s = *u <= INT64_MAX ? (int64_t) *u : INT64_MAX;
		}
		return (errno != 0 || *end != '\0' ? -1 : 0);
	default:
		return (-1);
	}
}

static int
json_double(json_object *v, double *d)
{
	const char *str;
	char       *end;

	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
		*d = json_object_get_double(v);
		return (0);
	case json_type_string:
		str = json_object_get_string(v);
		if (strcmp(str, "NaN") == 0) {
			*d = NAN;
		} else if (strcmp(str, "Infinity") == 0) {
			*d = INFINITY;
		} else if (strcmp(str, "-Infinity") == 0) {
			*d = -INFINITY;
		} else {
			*d = strtod(str, &end);
			if (*str == '\0' || *end != '\0') {
				return (-1);
			}
		}
		return (0);
	default:
		return (-1);
	}
}

/* set_value stores one JSON value (not a list) of field f at dst. */
static int
set_value(const ProtobufCFieldDescriptor *f, json_object *v, void *dst,
    const char *path, char *why, size_t whylen)
{
	json_object *tmp = NULL;
	int64_t      s   = 0; /* json_int sets them for the integer types */
	uint64_t     u   = 0;
	double       d;
	int          rv = 0;

	if (resolve(f, &v, &tmp, path, why, whylen) != 0) {
		return (-1);
	}
	if (is_integer_type(f->type) &&
	    json_int(v, is_signed_type(f->type), &s, &u) != 0) {
		rv = fail(why, whylen, path, "not an integer in range");
		goto done;
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (s < INT32_MIN || s > INT32_MAX) {
			rv = fail(why, whylen, path, "out of int32 range");
		}
		*(int32_t *) dst = (int32_t) s;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (u > UINT32_MAX) {
			rv = fail(why, whylen, path, "out of uint32 range");
		}
		*(uint32_t *) dst = (uint32_t) u;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		*(int64_t *) dst = s;
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *) dst = u;
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		if (json_double(v, &d) != 0) {
			rv = fail(why, whylen, path, "not a number");
		} else if (f->type == PROTOBUF_C_TYPE_FLOAT) {
			*(float *) dst = (float) d;
		} else {
			*(double *) dst = d;
		}
		break;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_object_is_type(v, json_type_boolean)) {
			rv = fail(why, whylen, path, "not true or false");
		} else {
			*(protobuf_c_boolean *) dst =
			    json_object_get_boolean(v);
		}
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = NULL;
		if (json_object_is_type(v, json_type_string)) {
			ev = protobuf_c_enum_descriptor_get_value_by_name(
			    f->descriptor, json_object_get_string(v));
		}
		if (ev != NULL) {
			*(int *) dst = ev->value;
		} else if (json_object_is_type(v, json_type_int) &&
		    json_int(v, true, &s, &u) == 0 && s >= INT32_MIN &&
		    s <= INT32_MAX) {
			/* proto3 enums are open: any number goes. */
			*(int *) dst = (int) s;
		} else {
			rv =
			    fail(why, whylen, path, "not a value of the enum");
		}
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		char *str;
		if (!json_object_is_type(v, json_type_string)) {
			rv = fail(why, whylen, path, "not a string");
		} else if ((str = strdup(json_object_get_string(v))) == NULL) {
			rv = fail(why, whylen, path, "out of memory");
		} else {
			*(char **) dst = str;
		}
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *b = dst;
		uint8_t             *data;
		size_t               len;
		if (!json_object_is_type(v, json_type_string) ||
		    pbjson_base64_decode(
		        json_object_get_string(v), &data, &len) != 0) {
			rv = fail(why, whylen, path, "not base64");
		} else {
			b->data = data;
			b->len  = len;
		}
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage *m;
		if (msg_from_json(f->descriptor, v, path, &m, why, whylen) !=
		    0) {
			rv = -1;
		} else {
			*(ProtobufCMessage **) dst = m;
		}
		break;
	}
	default:
		rv = fail(why, whylen, path, "unsupported field type");
		break;
	}
done:
	json_object_put(tmp);
	return (rv);
}

static size_t
elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return (sizeof(int32_t));
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return (sizeof(int64_t));
	case PROTOBUF_C_TYPE_FLOAT:
		return (sizeof(float));
	case PROTOBUF_C_TYPE_DOUBLE:
		return (sizeof(double));
	case PROTOBUF_C_TYPE_BOOL:
		return (sizeof(protobuf_c_boolean));
	case PROTOBUF_C_TYPE_ENUM:
		return (sizeof(int));
	case PROTOBUF_C_TYPE_STRING:
		return (sizeof(char *));
	case PROTOBUF_C_TYPE_BYTES:
		return (sizeof(ProtobufCBinaryData));
	case PROTOBUF_C_TYPE_MESSAGE:
		return (sizeof(ProtobufCMessage *));
	}
	return (0);
}

/*
 * is_map says whether f is a map field: protobuf compiles map<K, V> name
 * into "repeated NameEntry name", NameEntry being a nested message with
 * key = 1 and value = 2, and protobuf-c keeps no option saying so.
 */
static bool
is_map(const ProtobufCMessageDescriptor *parent,
    const ProtobufCFieldDescriptor      *f)
{
	const ProtobufCMessageDescriptor *e = f->descriptor;
	char                              want[PATH_MAX_LEN];
	size_t                            n;
	bool                              up = true;

	if (f->label != PROTOBUF_C_LABEL_REPEATED ||
	    f->type != PROTOBUF_C_TYPE_MESSAGE || e->n_fields != 2 ||
	    e->fields[0].id != 1 || strcmp(e->fields[0].name, "key") != 0 ||
	    e->fields[1].id != 2 || strcmp(e->fields[1].name, "value") != 0) {
		return (false);
	}
	n = (size_t) snprintf(want, sizeof(want), "%s.", parent->name);
	for (const char *p = f->name; *p != '\0' && n + 7 < sizeof(want);
	     p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		want[n++] = (char) (up ? toupper((unsigned char) *p) : *p);
		up        = false;
	}
	snprintf(want + n, sizeof(want) - n, "Entry");
	return (strcmp(e->name, want) == 0);
}

static int
set_map(const ProtobufCMessageDescriptor *desc,
    const ProtobufCFieldDescriptor *f, ProtobufCMessage *m, json_object *v,
    const char *path, char *why, size_t whylen)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	size_t                            n;
	ProtobufCMessage                **arr;
	size_t                            i = 0;

	(void) desc;
	if (!json_object_is_type(v, json_type_object)) {
		return (fail(why, whylen, path, "a map needs an object"));
	}
	n = (size_t) json_object_object_length(v);
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
	if ((arr = calloc(n > 0 ? n : 1, sizeof(*arr))) == NULL) {
		return (fail(why, whylen, path, "out of memory"));
	}
	/* Set at once, so that freeing m frees what is built so far. */
	*MEMBER(size_t, m, f->quantifier_offset)   = n;
	*MEMBER(ProtobufCMessage **, m, f->offset) = arr;
	json_object_object_foreach(v, key, val)
	{
		json_object *k;
		char         sub[PATH_MAX_LEN];
		int          rv;

		if ((arr[i] = malloc(ed->sizeof_message)) == NULL) {
			return (fail(why, whylen, path, "out of memory"));
		}
		ed->message_init(arr[i]);
		path_join(sub, path, "[", key, "]");
		if ((k = json_object_new_string(key)) == NULL) {
			return (fail(why, whylen, path, "out of memory"));
		}
		rv = set_value(&ed->fields[0], k,
		    MEMBER(void, arr[i], ed->fields[0].offset), sub, why,
		    whylen);
		json_object_put(k);
		if (rv != 0 ||
		    set_value(&ed->fields[1], val,
		        MEMBER(void, arr[i], ed->fields[1].offset), sub, why,
		        whylen) != 0) {
			return (-1);
		}
		i++;
	}
	return (0);
}

static int
set_repeated(const ProtobufCFieldDescriptor *f, ProtobufCMessage *m,
    json_object *v, const char *path, char *why, size_t whylen)
{
	size_t n;
	size_t size = elem_size(f->type);
	char  *arr;

	if (!json_object_is_type(v, json_type_array)) {
		return (
		    fail(why, whylen, path, "a repeated field needs a list"));
	}
	n = json_object_array_length(v);
	if ((arr = calloc(n > 0 ? n : 1, size)) == NULL) {
		return (fail(why, whylen, path, "out of memory"));
	}
	*MEMBER(size_t, m, f->quantifier_offset) = n;
	*MEMBER(void *, m, f->offset)            = arr;
	for (size_t i = 0; i < n; i++) {
		char sub[PATH_MAX_LEN];
		char idx[24];
		snprintf(idx, sizeof(idx), "%zu", i);
		path_join(sub, path, "[", idx, "]");
		if (set_value(f, json_object_array_get_idx(v, i),
		        arr + i * size, sub, why, whylen) != 0) {
			return (-1);
		}
	}
	return (0);
}

static int
set_field(const ProtobufCMessageDescriptor *desc,
    const ProtobufCFieldDescriptor *f, ProtobufCMessage *m, json_object *v,
    const char *path, char *why, size_t whylen)
{
	if (v == NULL) {
		return (0); /* null: the default */
	}
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		return (is_map(desc, f)
		        ? set_map(desc, f, m, v, path, why, whylen)
		        : set_repeated(f, m, v, path, why, whylen));
	}
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
		uint32_t *which = MEMBER(uint32_t, m, f->quantifier_offset);
		/* One union: a second member would overwrite the first. */
		if (*which != 0 && *which != f->id) {
			return (fail(why, whylen, path,
			    "another member of its oneof "
			    "is set"));
		}
		if (set_value(f, v, MEMBER(void, m, f->offset), path, why,
		        whylen) != 0) {
			return (-1);
		}
		*which = f->id;
		return (0);
	}
	if (set_value(f, v, MEMBER(void, m, f->offset), path, why, whylen) !=
	    0) {
		return (-1);
	}
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
	    f->type != PROTOBUF_C_TYPE_STRING &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE) {
		*MEMBER(protobuf_c_boolean, m, f->quantifier_offset) = 1;
	}
	return (0);
}

static int
msg_from_json(const ProtobufCMessageDescriptor *desc, json_object *in,
    const char *path, ProtobufCMessage **out, char *why, size_t whylen)
{
	ProtobufCMessage *m;

	if (in != NULL && !json_object_is_type(in, json_type_object)) {
		return (fail(why, whylen, path[0] != '\0' ? path : "(request)",
		    "a message needs an object"));
	}
	if ((m = malloc(desc->sizeof_message)) == NULL) {
		return (fail(why, whylen, path, "out of memory"));
	}
	desc->message_init(m);
	if (in != NULL) {
		json_object_object_foreach(in, key, val)
		{
			const ProtobufCFieldDescriptor *f =
			    protobuf_c_message_descriptor_get_field_by_name(
			        desc, key);
			char sub[PATH_MAX_LEN];

			path_join(
			    sub, path, path[0] != '\0' ? "." : "", key, "");
			if (f == NULL) {
				fail(why, whylen, sub, "no such field in ");
				snprintf(why + strlen(why),
				    whylen - strlen(why), "%s", desc->name);
				goto bad;
			}
			if (set_field(desc, f, m, val, sub, why, whylen) !=
			    0) {
				goto bad;
			}
		}
	}
	*out = m;
	return (0);
bad:
	protobuf_c_message_free_unpacked(m, NULL);
	return (-1);
}

int
pbjson_to_message(const ProtobufCMessageDescriptor *desc, json_object *in,
    ProtobufCMessage **out, char *why, size_t whylen)
{
	return (msg_from_json(desc, in, "", out, why, whylen));
}

/* ---- message to JSON ------------------------------------------------ */

static json_object *
int64_json(int64_t v)
{
	char buf[32];

	/* proto3 JSON: 64-bit integers are strings (JavaScript's numbers
	 * are doubles). */
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return (json_object_new_string(buf));
}

static json_object *
uint64_json(uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return (json_object_new_string(buf));
}

static json_object *
double_json(double d)
{
	if (isnan(d)) {
		return (json_object_new_string("NaN"));
	}
	if (isinf(d)) {
		return (
		    json_object_new_string(d > 0 ? "Infinity" : "-Infinity"));
	}
	return (json_object_new_double(d));
}

static json_object *
value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return (json_object_new_int(*(const int32_t *) p));
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return (json_object_new_int64(*(const uint32_t *) p));
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return (int64_json(*(const int64_t *) p));
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return (uint64_json(*(const uint64_t *) p));
	case PROTOBUF_C_TYPE_FLOAT:
		return (double_json(*(const float *) p));
	case PROTOBUF_C_TYPE_DOUBLE:
		return (double_json(*(const double *) p));
	case PROTOBUF_C_TYPE_BOOL:
		return (
		    json_object_new_boolean(*(const protobuf_c_boolean *) p));
	case PROTOBUF_C_TYPE_ENUM: {
		int                       v = *(const int *) p;
		const ProtobufCEnumValue *ev =
		    protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		return (ev != NULL ? json_object_new_string(ev->name)
		                   : json_object_new_int(v));
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) p;
		return (json_object_new_string(s != NULL ? s : ""));
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		char        *text = pbjson_base64_encode(b->data, b->len);
		json_object *j;
		if (text == NULL) {
			return (NULL);
		}
		j = json_object_new_string(text);
		free(text);
		return (j);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *) p;
		return (m != NULL ? pbjson_from_message(m) : NULL);
	}
	}
	return (NULL);
}

static json_object *
map_json(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	size_t n = *MEMBER(const size_t, m, f->quantifier_offset);
	ProtobufCMessage *const *arr =
	    *MEMBER(ProtobufCMessage * *const, m, f->offset);
	json_object *obj = json_object_new_object();

	for (size_t i = 0; obj != NULL && i < n; i++) {
		json_object *k = value_json(&ed->fields[0],
		    MEMBER(const void, arr[i], ed->fields[0].offset));
		json_object *v = value_json(&ed->fields[1],
		    MEMBER(const void, arr[i], ed->fields[1].offset));
		/* JSON keys are strings whatever the key type. */
		if (k != NULL) {
			json_object_object_add(
			    obj, json_object_get_string(k), v);
		} else {
			json_object_put(v);
		}
		json_object_put(k);
	}
	return (obj);
}

json_object *
pbjson_from_message(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	json_object                      *obj  = json_object_new_object();

	for (unsigned i = 0; obj != NULL && i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const void  *p = MEMBER(const void, msg, f->offset);
		json_object *v;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if (is_map(desc, f)) {
				v = map_json(f, msg);
			} else {
				size_t n = *MEMBER(
				    const size_t, msg, f->quantifier_offset);
				const char *arr  = *(const char *const *) p;
				size_t      size = elem_size(f->type);
				v                = json_object_new_array();
				for (size_t j = 0; v != NULL && j < n; j++) {
					json_object_array_add(
					    v, value_json(f, arr + j * size));
				}
			}
		} else if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			if (*MEMBER(const uint32_t, msg,
			        f->quantifier_offset) != f->id) {
				continue;
			}
			v = value_json(f, p);
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (*(ProtobufCMessage *const *) p == NULL) {
				continue;
			}
			v = value_json(f, p);
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
		    f->type != PROTOBUF_C_TYPE_STRING &&
		    !*MEMBER(
		        const protobuf_c_boolean, msg, f->quantifier_offset)) {
			continue;
		} else {
			v = value_json(f, p);
		}
		if (v == NULL) {
			json_object_put(obj);
			return (NULL);
		}
		json_object_object_add(obj, f->name, v);
	}
	return (obj);
}

/* SPDX-License-Identifier: MIT */
/* Fuzz target: the command-line client's JSON writer (clients/cli/json.c),
 * checked against json-c as the reader: whatever bytes it is given, it
 * writes one well-formed JSON object whose members read back as written. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "pbjson.h"

/* NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* CHECK fails the run: a finding. */
#define CHECK(cond)                       \
	do {                              \
		if (!(cond)) {            \
			__builtin_trap(); \
		}                         \
	} while (0)

/* write_all writes data through every kind of member the writer has: the
 * bytes as a value (text or base64), their part before any NUL as a key
 * and a string, numbers made of their first bytes, nesting. */
static char *
write_all(const uint8_t *data, size_t size, const char *text, int64_t i,
    double d, size_t *len)
{
	char           *out = NULL;
	FILE           *f   = open_memstream(&out, len);
	struct cli_json j;

	CHECK(f != NULL);
	cli_json_init(&j, f);
	cli_json_begin_object(&j);
	cli_json_value(&j, "value", data, size);
	cli_json_key(&j, "text");
	cli_json_string(&j, text);
	cli_json_key(&j, "n");
	cli_json_int(&j, i);
	cli_json_key(&j, "u");
	cli_json_uint(&j, (uint64_t) i);
	cli_json_key(&j, "d");
	cli_json_double(&j, d);
	cli_json_key(&j, "list");
	cli_json_begin_array(&j);
	cli_json_bool(&j, (i & 1) != 0);
	cli_json_begin_object(&j);
	cli_json_key(&j, text); /* any text as a key */
	cli_json_int(&j, -1);
	cli_json_end_object(&j);
	cli_json_end_array(&j);
	cli_json_end(&j);
	CHECK(fclose(f) == 0);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char                   *text = malloc(size + 1);
	char                   *out;
	size_t                  len = 0;
	int64_t                 i   = 0;
	double                  d   = 0;
	struct json_tokener    *tok;
	json_object            *root;
	json_object            *v;
	enum json_tokener_error err;

	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	memcpy(&i, data, size < sizeof(i) ? size : sizeof(i));
	memcpy(&d, data, size < sizeof(d) ? size : sizeof(d));
	out = write_all(data, size, text, i, d, &len);

	/* One line: the object, then a newline. */
	CHECK(len > 0 && out[len - 1] == '\n');
	tok = json_tokener_new();
	CHECK(tok != NULL);
	json_tokener_set_flags(
	    tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, out, (int) len - 1);
	err  = json_tokener_get_error(tok);
	CHECK(root != NULL && err == json_tokener_success);
	CHECK(json_tokener_get_parse_end(tok) == len - 1); /* nothing after */
	json_tokener_free(tok);

	/* The bytes come back exactly: as text when they are UTF-8 (json-c
	 * checked that), else through base64. */
	if (json_object_object_get_ex(root, "value", &v)) {
		CHECK(json_object_is_type(v, json_type_string));
		CHECK((size_t) json_object_get_string_len(v) == size);
		CHECK(memcmp(json_object_get_string(v), data, size) == 0);
	} else {
		uint8_t *raw;
		size_t   n;
		CHECK(json_object_object_get_ex(root, "value_base64", &v));
		CHECK(pbjson_base64_decode(
		          json_object_get_string(v), &raw, &n) == 0);
		CHECK(n == size && memcmp(raw, data, size) == 0);
		free(raw);
	}
	CHECK(json_object_object_get_ex(root, "n", &v) &&
	    json_object_get_int64(v) == i);
	CHECK(json_object_object_get_ex(root, "u", &v) &&
	    json_object_get_uint64(v) == (uint64_t) i);
	CHECK(json_object_object_get_ex(root, "d", &v));
	CHECK(isfinite(d) ? json_object_is_type(v, json_type_double) ||
	            json_object_is_type(v, json_type_int)
	                  : json_object_is_type(v, json_type_null));
	CHECK(json_object_object_get_ex(root, "list", &v) &&
	    json_object_array_length(v) == 2);
	json_object_put(root);
	free(out);
	free(text);
	return 0;
}

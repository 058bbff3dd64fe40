/* SPDX-License-Identifier: MIT */
/* Unit tests of wire.c: UTF-8 without NUL in every string field, on
 * hand-built wire bytes, and through cbd_router_decode. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "envelope.h"
#include "router.h"
#include "test_main.h"
#include "wire.h"

static char why[256];

#define BYTES(s) (const uint8_t *) (s), sizeof(s) - 1

START_TEST(test_utf8_good)
{
	static const char *const good[] = {
		"", "a", "profile:42", "caf\xc3\xa9", /* U+00E9 */
		"\xc2\x80",         /* U+0080, the first two-byte */
		"\xdf\xbf",         /* U+07FF */
		"\xe0\xa0\x80",     /* U+0800, the first three-byte */
		"\xe2\x82\xac",     /* U+20AC */
		"\xed\x9f\xbf",     /* U+D7FF, below the surrogates */
		"\xee\x80\x80",     /* U+E000, above them */
		"\xef\xbf\xbf",     /* U+FFFF */
		"\xf0\x90\x80\x80", /* U+10000, the first four-byte */
		"\xf0\x9f\x98\x80", /* U+1F600 */
		"\xf4\x8f\xbf\xbf", /* U+10FFFF, the last */
		"\x7f",             /* DEL is UTF-8 (keys.c refuses it) */
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		size_t at = 99;
		ck_assert_msg(cbd_wire_utf8((const uint8_t *) good[i],
		                  strlen(good[i]), &at) == CBD_WIRE_TEXT_OK,
		    "good #%zu refused at %zu", i, at);
	}
}
END_TEST

START_TEST(test_utf8_bad)
{
	static const struct {
		const char *s;
		size_t      at; /* where the bad sequence starts */
	} bad[] = {
		{ "\x80", 0 },                 /* a lone continuation */
		{ "a\xbf", 1 },                /* another */
		{ "\xc0\x80", 0 },             /* overlong U+0000 */
		{ "\xc0\xaf", 0 },             /* overlong '/' */
		{ "\xc1\xbf", 0 },             /* overlong U+007F */
		{ "\xe0\x80\x80", 0 },         /* overlong three-byte */
		{ "\xe0\x9f\xbf", 0 },         /* overlong U+07FF */
		{ "\xed\xa0\x80", 0 },         /* U+D800, a surrogate */
		{ "x\xed\xbf\xbf", 1 },        /* U+DFFF */
		{ "\xf0\x80\x80\x80", 0 },     /* overlong four-byte */
		{ "\xf0\x8f\xbf\xbf", 0 },     /* overlong U+FFFF */
		{ "\xf4\x90\x80\x80", 0 },     /* U+110000 */
		{ "\xf5\x80\x80\x80", 0 },     /* past it */
		{ "\xf8\x88\x80\x80\x80", 0 }, /* five bytes */
		{ "\xfe", 0 }, { "\xff", 0 }, { "ab\xc3", 2 }, /* cut off */
		{ "\xe2\x82", 0 },                             /* cut off */
		{ "\xf0\x9f\x98", 0 },                         /* cut off */
		{ "\xc3\x28", 0 }, /* not a continuation */
		{ "a\xe2\x28\xa1", 1 }, { "\xe2\x82\x28", 0 }, /* third byte */
		{ "\xf0\x9f\x28\x80", 0 }, /* third of four */
		{ "\xf0\x9f\x98\x28", 0 }, /* fourth */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t at = 99;
		ck_assert_msg(cbd_wire_utf8((const uint8_t *) bad[i].s,
		                  strlen(bad[i].s), &at) == CBD_WIRE_TEXT_BAD,
		    "bad #%zu accepted", i);
		ck_assert_msg(at == bad[i].at, "bad #%zu: at %zu, want %zu", i,
		    at, bad[i].at);
	}
}
END_TEST

START_TEST(test_utf8_nul)
{
	size_t at = 99;

	ck_assert_int_eq(
	    cbd_wire_utf8((const uint8_t *) "\0", 1, &at), CBD_WIRE_TEXT_NUL);
	ck_assert_uint_eq(at, 0);
	ck_assert_int_eq(
	    cbd_wire_utf8(BYTES("profile:42\0x"), &at), CBD_WIRE_TEXT_NUL);
	ck_assert_uint_eq(at, 10);
	/* The first problem wins. */
	ck_assert_int_eq(
	    cbd_wire_utf8(BYTES("\xff\0"), &at), CBD_WIRE_TEXT_BAD);
	ck_assert_int_eq(
	    cbd_wire_utf8(BYTES("a\0\xff"), &at), CBD_WIRE_TEXT_NUL);
	ck_assert_uint_eq(at, 1);
}
END_TEST

/* What protobuf-c 1.4 does on its own: unpacks a NUL-cut string and
 * bytes that are no UTF-8 without a word. The reason for wire.c. */
START_TEST(test_protobuf_c_lets_them_through)
{
	/* GetRequest { namespace "users", key "profile:42\0x" } */
	static const uint8_t nul[] = { 0x0a, 5, 'u', 's', 'e', 'r', 's', 0x12,
		12, 'p', 'r', 'o', 'f', 'i', 'l', 'e', ':', '4', '2', 0, 'x' };
	static const uint8_t ff[]  = { 0x0a, 5, 'u', 's', 'e', 'r', 's', 0x12,
		 2, 'k', 0xff };
	Cachebroker__V1__GetRequest *r;

	r = cachebroker__v1__get_request__unpack(NULL, sizeof(nul), nul);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->key, "profile:42");
	cachebroker__v1__get_request__free_unpacked(r, NULL);
	r = cachebroker__v1__get_request__unpack(NULL, sizeof(ff), ff);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->key, "k\xff");
	cachebroker__v1__get_request__free_unpacked(r, NULL);

	ck_assert_int_eq(
	    cbd_wire_check(&cachebroker__v1__get_request__descriptor, nul,
	        sizeof(nul), "payload", why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	ck_assert_str_eq(why, "payload field key: NUL byte at byte 10");
	ck_assert_int_eq(
	    cbd_wire_check(&cachebroker__v1__get_request__descriptor, ff,
	        sizeof(ff), "payload", why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	ck_assert_str_eq(why, "payload field key: not UTF-8 at byte 1");
}
END_TEST

static cb_status
check(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n)
{
	why[0] = '\0';
	return cbd_wire_check(d, b, n, "payload", why, sizeof(why));
}

START_TEST(test_nested)
{
	const ProtobufCMessageDescriptor *fetch =
	    &cachebroker__v1__fetch_request__descriptor;
	const ProtobufCMessageDescriptor *many =
	    &cachebroker__v1__set_many_request__descriptor;
	/* FetchRequest { resource "u.p", params { "id": "4\0" } } */
	static const uint8_t map_value[] = { 0x0a, 3, 'u', '.', 'p', 0x12, 8,
		0x0a, 2, 'i', 'd', 0x12, 2, '4', 0 };
	static const uint8_t map_key[]   = { 0x12, 8, 0x0a, 2, 'i', 0xc0, 0x12,
		  2, '4', '2' };
	static const uint8_t map_good[]  = { 0x12, 8, 0x0a, 2, 'i', 'd', 0x12,
		 2, '4', '2', 0x18, 1 };
	/* SetManyRequest { namespace "n", entries { key "a", value "\0\xff",
	 * ttl_ms 5 }, entries { key "b\xed\xa0\x80" } } */
	static const uint8_t entries[] = { 0x0a, 1, 'n', 0x12, 9, 0x0a, 1, 'a',
		0x12, 2, 0, 0xff, 0x18, 5, 0x12, 6, 0x0a, 4, 'b', 0xed, 0xa0,
		0x80 };
	/* GetManyRequest { keys "a", keys "b\0" } */
	static const uint8_t repeated[] = { 0x12, 1, 'a', 0x12, 2, 'b', 0 };

	ck_assert_int_eq(check(fetch, BYTES("")), CB_OK);
	ck_assert_int_eq(
	    check(fetch, map_value, sizeof(map_value)), CB_INVALID_ARGUMENT);
	ck_assert_str_eq(
	    why, "payload field params.value: NUL byte at byte 1");
	ck_assert_int_eq(
	    check(fetch, map_key, sizeof(map_key)), CB_INVALID_ARGUMENT);
	ck_assert_str_eq(why, "payload field params.key: not UTF-8 at byte 1");
	ck_assert_int_eq(check(fetch, map_good, sizeof(map_good)), CB_OK);
	/* The value is bytes: opaque. The second key is a surrogate. */
	ck_assert_int_eq(
	    check(many, entries, sizeof(entries)), CB_INVALID_ARGUMENT);
	ck_assert_str_eq(
	    why, "payload field entries.key: not UTF-8 at byte 1");
	ck_assert_int_eq(check(many, entries, 14), CB_OK);
	ck_assert_int_eq(check(&cachebroker__v1__get_many_request__descriptor,
	                     repeated, sizeof(repeated)),
	    CB_INVALID_ARGUMENT);
	ck_assert_str_eq(why, "payload field keys: NUL byte at byte 1");
}
END_TEST

START_TEST(test_skipped_and_malformed)
{
	const ProtobufCMessageDescriptor *get =
	    &cachebroker__v1__get_request__descriptor;
	/* Unknown fields are not looked into, whatever their type; fixed
	 * and varint fields are stepped over. */
	static const uint8_t unknown[] = { 0x7a, 2, 0, 0xff, 0x78, 0x80, 0x01,
		0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x7d, 1, 2, 3, 4, 0x0a, 1, 'u' };
	static const struct {
		const char *what;
		uint8_t     b[8];
		size_t      n;
	} malformed[] = {
		{ "cut-off tag", { 0x80 }, 1 },
		{ "field 0", { 0x02, 0 }, 2 },
		{ "length past the end", { 0x0a, 5, 'a' }, 3 },
		{ "cut-off varint", { 0x18, 0xff }, 2 },
		{ "cut-off fixed64", { 0x19, 1, 2 }, 3 },
		{ "cut-off fixed32", { 0x1d, 1 }, 2 },
		{ "a group", { 0x1b, 0x1c }, 2 },
		{ "wire type 7", { 0x0f, 0 }, 2 },
		{ "a varint that never ends",
		    { 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 8 },
	};

	ck_assert_int_eq(check(get, unknown, sizeof(unknown)), CB_OK);
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		ck_assert_msg(check(get, malformed[i].b, malformed[i].n) ==
		        CB_INVALID_ARGUMENT,
		    "%s accepted", malformed[i].what);
		ck_assert_str_eq(
		    why, "payload is not a cachebroker.v1.GetRequest message");
	}
}
END_TEST

/* pack_env packs an envelope around payload; bytes of the result equal to
 * '~' become sub (the wire keeps its lengths). */
static uint8_t *
pack_env(const char *method, const char *id, const ProtobufCMessage *payload,
    char sub, size_t *len)
{
	Cachebroker__V1__Request env = CACHEBROKER__V1__REQUEST__INIT;
	uint8_t                  pbuf[256];
	uint8_t                 *buf;

	env.method     = (char *) method;
	env.request_id = (char *) id;
	if (payload != NULL) {
		env.payload.len  = protobuf_c_message_pack(payload, pbuf);
		env.payload.data = pbuf;
	}
	*len = cachebroker__v1__request__get_packed_size(&env);
	buf  = malloc(*len);
	ck_assert_ptr_nonnull(buf);
	cachebroker__v1__request__pack(&env, buf);
	for (size_t i = 0; i < *len; i++) {
		if (buf[i] == '~') {
			buf[i] = (uint8_t) sub;
		}
	}
	return buf;
}

START_TEST(test_router_decode)
{
	cbd_config                  cfg  = { 0 };
	cbd_errors                  errs = { 0 };
	cbd_policy                 *pol  = NULL;
	Cachebroker__V1__Request   *env  = NULL;
	const cbd_method           *m    = NULL;
	ProtobufCMessage           *in   = NULL;
	Cachebroker__V1__GetRequest get  = CACHEBROKER__V1__GET_REQUEST__INIT;
	uint8_t                    *buf;
	size_t                      len;

	ck_assert_int_eq(cbd_config_load_string(&cfg, "t", "", &errs), CB_OK);
	ck_assert_int_eq(cbd_policy_alloc(&pol, &cfg, NULL), CB_OK);
	get.namespace_ = "users";
	get.key        = "profile:42~x";

	/* As sent: fine. */
	buf = pack_env(
	    CB_METHOD_PREFIX "CacheService/Get", "id", &get.base, '~', &len);
	ck_assert_int_eq(cbd_router_decode(&pol->limits, NULL, buf, len, &env,
	                     &m, &in, why, sizeof(why)),
	    CB_OK);
	protobuf_c_message_free_unpacked(in, NULL);
	cbd_envelope_free(env);
	free(buf);

	/* A NUL in the key. */
	buf = pack_env(
	    CB_METHOD_PREFIX "CacheService/Get", "id", &get.base, '\0', &len);
	ck_assert_int_eq(cbd_router_decode(&pol->limits, NULL, buf, len, &env,
	                     &m, &in, why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	ck_assert_str_eq(why, "payload field key: NUL byte at byte 10");
	free(buf);

	/* A NUL after the method's name: not ResetStats. */
	buf = pack_env(CB_METHOD_PREFIX "AdminService/ResetStats~", "id", NULL,
	    '\0', &len);
	ck_assert_int_eq(cbd_router_decode(&pol->limits, NULL, buf, len, &env,
	                     &m, &in, why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	ck_assert_str_eq(why, "request field method: NUL byte at byte 39");

	/* And in the request_id, not UTF-8. */
	free(buf);
	buf = pack_env(CB_METHOD_PREFIX "AdminService/Health", "id~", NULL,
	    (char) 0xff, &len);
	ck_assert_int_eq(cbd_router_decode(&pol->limits, NULL, buf, len, &env,
	                     &m, &in, why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	ck_assert_str_eq(why, "request field request_id: not UTF-8 at byte 2");
	free(buf);
	cbd_policy_rele(pol);
}
END_TEST

static Suite *
wire_suite(void)
{
	Suite *s  = suite_create("wire");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, test_utf8_good);
	tcase_add_test(tc, test_utf8_bad);
	tcase_add_test(tc, test_utf8_nul);
	tcase_add_test(tc, test_protobuf_c_lets_them_through);
	tcase_add_test(tc, test_nested);
	tcase_add_test(tc, test_skipped_and_malformed);
	tcase_add_test(tc, test_router_decode);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(wire_suite)

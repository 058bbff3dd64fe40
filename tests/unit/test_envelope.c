/* SPDX-License-Identifier: MIT */
/* Unit tests of envelope.c and router.c: decoding requests, packing
 * responses, finding methods. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "router.h"
#include "test_main.h"

static char why[128];

/* pack_request packs a Request into a malloc'd buffer. */
static uint8_t *
pack_request(const char *method, const char *id, size_t *len)
{
	Cachebroker__V1__Request req = CACHEBROKER__V1__REQUEST__INIT;
	uint8_t                 *buf;

	req.method      = (char *) method;
	req.request_id  = (char *) id;
	req.deadline_ms = 250;
	*len            = cachebroker__v1__request__get_packed_size(&req);
	buf             = malloc(*len + 1);
	cachebroker__v1__request__pack(&req, buf);
	return buf;
}

START_TEST(test_decode_good)
{
	size_t   len;
	uint8_t *buf =
	    pack_request("/cachebroker.v1.CacheService/Get", "abc", &len);
	Cachebroker__V1__Request *env = NULL;

	ck_assert_int_eq(
	    cbd_envelope_decode(buf, len, &env, why, sizeof(why)), CB_OK);
	ck_assert_str_eq(env->method, "/cachebroker.v1.CacheService/Get");
	ck_assert_str_eq(env->request_id, "abc");
	ck_assert_uint_eq(env->deadline_ms, 250);
	cbd_envelope_free(env);
	free(buf);
}
END_TEST

START_TEST(test_decode_bad)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	/* field 1 (string) claiming 100 bytes, giving 2 */
	static const uint8_t      truncated[] = { 0x0a, 0x64, 'a', 'b' };
	Cachebroker__V1__Request *env         = (void *) 0x1;
	size_t                    len;
	uint8_t                  *buf;

	ck_assert_int_eq(cbd_envelope_decode(
	                     garbage, sizeof(garbage), &env, why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(cbd_envelope_decode(truncated, sizeof(truncated),
	                     &env, why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	/* Empty bytes decode as an empty Request, which names no method. */
	ck_assert_int_eq(cbd_envelope_decode("", 0, &env, why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(why, "no method"));
	buf = pack_request("", "x", &len);
	ck_assert_int_eq(cbd_envelope_decode(buf, len, &env, why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	free(buf);
	/* *out untouched on failure */
	ck_assert_ptr_eq(env, (void *) 0x1);
}
END_TEST

START_TEST(test_pack_response)
{
	nng_msg                   *msg;
	Cachebroker__V1__Response *rsp;

	ck_assert_int_eq(
	    cbd_envelope_pack(&msg, CB_OK, NULL, "xyz", 3, "hit"), CB_OK);
	rsp = cachebroker__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	ck_assert_ptr_nonnull(rsp);
	ck_assert_int_eq(rsp->status->code, 0);
	ck_assert_uint_eq(rsp->payload.len, 3);
	ck_assert_mem_eq(rsp->payload.data, "xyz", 3);
	ck_assert_uint_eq(rsp->n_metadata, 1);
	ck_assert_str_eq(rsp->metadata[0]->key, "x-cache");
	ck_assert_str_eq(rsp->metadata[0]->value, "hit");
	cachebroker__v1__response__free_unpacked(rsp, NULL);
	nng_msg_free(msg);

	/* An error carries its message and never a payload. */
	ck_assert_int_eq(
	    cbd_envelope_pack(&msg, CB_NOT_FOUND, "gone", "xyz", 3, NULL),
	    CB_OK);
	rsp = cachebroker__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	ck_assert_int_eq(rsp->status->code, CB_NOT_FOUND);
	ck_assert_str_eq(rsp->status->message, "gone");
	ck_assert_uint_eq(rsp->payload.len, 0);
	ck_assert_uint_eq(rsp->n_metadata, 0);
	cachebroker__v1__response__free_unpacked(rsp, NULL);
	nng_msg_free(msg);
}
END_TEST

START_TEST(test_printable)
{
	char out[8];

	cbd_envelope_method_printable(out, sizeof(out), "a\nb\x01zzzzzzzz");
	ck_assert_str_eq(out, "a?b?zzz");
}
END_TEST

START_TEST(test_router)
{
	const cbd_method *m;

	m = cbd_router_lookup("/cachebroker.v1.CacheService/Get");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->id, CBD_M_CACHE_GET);
	ck_assert_ptr_eq(m->in, &cachebroker__v1__get_request__descriptor);
	ck_assert_int_eq(m->mutating, 0);
	m = cbd_router_lookup("/cachebroker.v1.CacheService/Increment");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->mutating, 1);
	ck_assert_ptr_null(
	    cbd_router_lookup("/cachebroker.v1.CacheService/get"));
	ck_assert_ptr_null(cbd_router_lookup("CacheService/Get"));
	ck_assert_ptr_null(cbd_router_lookup(""));
	ck_assert_str_eq(cbd_router_name(CBD_METHOD_UNKNOWN), "unknown");
	/* Every row: its name resolves to itself, its request type is named
	 * after the method. */
	for (int i = 0; i < CBD_METHOD_COUNT; i++) {
		const char *slash = strrchr(cbd_methods[i].name, '/');
		char        want[96];
		ck_assert_ptr_eq(
		    cbd_router_lookup(cbd_methods[i].name), &cbd_methods[i]);
		ck_assert_int_eq(cbd_methods[i].id, i);
		snprintf(want, sizeof(want), "%sRequest", slash + 1);
		ck_assert_str_eq(cbd_methods[i].in->short_name, want);
	}
}
END_TEST

static Suite *
envelope_suite(void)
{
	Suite *s  = suite_create("envelope");
	TCase *tc = tcase_create("envelope");

	tcase_add_test(tc, test_decode_good);
	tcase_add_test(tc, test_decode_bad);
	tcase_add_test(tc, test_pack_response);
	tcase_add_test(tc, test_printable);
	tcase_add_test(tc, test_router);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(envelope_suite)

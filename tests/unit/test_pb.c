/* SPDX-License-Identifier: MIT */
/* Unit tests of cbd_pb_str_set: string fields of hand-built messages,
 * from protobuf-c's static default to heap copies and back to free. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cachebroker/cachebroker.h>

#include "pb.h"
#include "test_main.h"

/* A field still holding the static default is replaced without freeing
 * it (free() of it aborts; ASan reports it), and the copy is freed by
 * free_unpacked like any field it unpacked itself. */
START_TEST(test_replace_default)
{
	Cachebroker__V1__BackendHealth *h = malloc(sizeof(*h));

	ck_assert_ptr_nonnull(h);
	cachebroker__v1__backend_health__init(h);
	ck_assert_ptr_eq(h->error, protobuf_c_empty_string);
	ck_assert_int_eq(cbd_pb_str_set(&h->error, "first"), 0);
	ck_assert_str_eq(h->error, "first");
	ck_assert_ptr_ne(h->error, protobuf_c_empty_string);
	/* A heap value is freed when replaced (LeakSanitizer checks). */
	ck_assert_int_eq(cbd_pb_str_set(&h->error, "second"), 0);
	ck_assert_str_eq(h->error, "second");
	ck_assert_int_eq(cbd_pb_str_set(&h->error, NULL), 0);
	ck_assert_str_eq(h->error, "");
	protobuf_c_message_free_unpacked(&h->base, NULL);
}
END_TEST

START_TEST(test_setn)
{
	Cachebroker__V1__BackendHealth h =
	    CACHEBROKER__V1__BACKEND_HEALTH__INIT;

	ck_assert_int_eq(cbd_pb_str_setn(&h.error, "used_memory:1", 11), 0);
	ck_assert_str_eq(h.error, "used_memory");
	ck_assert_int_eq(cbd_pb_str_setn(&h.error, "x", 0), 0);
	ck_assert_str_eq(h.error, "");
	free(h.error);
}
END_TEST

/* A NULL field (a message built field by field) is only set. */
START_TEST(test_null_field)
{
	char *field = NULL;

	ck_assert_int_eq(cbd_pb_str_set(&field, "v"), 0);
	ck_assert_str_eq(field, "v");
	free(field);
}
END_TEST

static Suite *
pb_suite(void)
{
	Suite *s  = suite_create("pb");
	TCase *tc = tcase_create("pb");

	tcase_add_test(tc, test_replace_default);
	tcase_add_test(tc, test_setn);
	tcase_add_test(tc, test_null_field);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(pb_suite)

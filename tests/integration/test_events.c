/* SPDX-License-Identifier: MIT */
/* EventService/Publish: event rules invalidate keys and patterns. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "it.h"

static const char policy[] = "[event users.updated]\n"
                             "param = user_id int\n"
                             "invalidate = users:profile:{user_id}\n"
                             "invalidate = users:all-users\n"
                             "[event technicians.changed]\n"
                             "param = id int\n"
                             "invalidate = users:technician:{id}:*\n"
                             "invalidate = schedules:technician:{id}:*\n"
                             "invalidate = users:all-technicians\n";

static void
setup(void)
{
	it_setup_config(policy);
}

CBH_TEST(test_keys)
{
	uint64_t  n = 0;
	cb_result res;

	it_set_str("users", "profile:42", "a");
	it_set_str("users", "profile:43", "b");
	it_set_str("users", "all-users", "c");
	IT_ASSERT_CODE(it_publish("users.updated", "user_id", "42", &n, &res),
	    CB_OK, &res);
	ck_assert_uint_eq(n, 2);
	ck_assert(!it_exists("users:profile:42"));
	ck_assert(!it_exists("users:all-users"));
	ck_assert(it_exists("users:profile:43"));
	/* Again: nothing left to remove, still OK. */
	IT_ASSERT_CODE(it_publish("users.updated", "user_id", "42", &n, &res),
	    CB_OK, &res);
	ck_assert_uint_eq(n, 0);
}
END_TEST

CBH_TEST(test_patterns_across_namespaces)
{
	uint64_t  n = 0;
	cb_result res;

	it_set_str("users", "technician:7:schedule", "a");
	it_set_str("users", "technician:7:active", "b");
	it_set_str("users", "technician:70:schedule", "keep");
	it_set_str("schedules", "technician:7:date:2026-11-26", "c");
	it_set_str("schedules", "technician:8:date:2026-11-26", "keep");
	it_set_str("users", "all-technicians", "d");
	IT_ASSERT_CODE(it_publish("technicians.changed", "id", "7", &n, &res),
	    CB_OK, &res);
	ck_assert_uint_eq(n, 4);
	ck_assert(!it_exists("users:technician:7:schedule"));
	ck_assert(!it_exists("schedules:technician:7:date:2026-11-26"));
	ck_assert(!it_exists("users:all-technicians"));
	/* "technician:7:*" is not "technician:7*". */
	ck_assert(it_exists("users:technician:70:schedule"));
	ck_assert(it_exists("schedules:technician:8:date:2026-11-26"));
	/* The namespace counters saw them. */
	Cachebroker__V1__MetricsResponse *m     = it_metrics();
	uint64_t                          total = 0;
	for (size_t i = 0; i < m->n_namespaces; i++) {
		total += m->namespaces[i]->invalidations;
	}
	cb_message_free(m);
	ck_assert_uint_eq(total, 4);
}
END_TEST

CBH_TEST(test_bad_requests)
{
	cb_result res;

	it_set_str("users", "profile:1", "sentinel");
	IT_ASSERT_CODE(it_publish("users.nope", "user_id", "1", NULL, &res),
	    CB_INVALID_ARGUMENT, &res);
	IT_ASSERT_CODE(it_publish("users.updated", NULL, NULL, NULL, &res),
	    CB_INVALID_ARGUMENT, &res);
	IT_ASSERT_CODE(it_publish("users.updated", "id", "1", NULL, &res),
	    CB_INVALID_ARGUMENT, &res);
	IT_ASSERT_CODE(it_publish("users.updated", "user_id", "x", NULL, &res),
	    CB_INVALID_ARGUMENT, &res);
	/* A value cannot widen a key into a pattern. */
	IT_ASSERT_CODE(
	    it_publish("technicians.changed", "id", "*", NULL, &res),
	    CB_INVALID_ARGUMENT, &res);
	it_get_str("users", "profile:1", "sentinel");
}
END_TEST

CBH_TEST(test_redis_down)
{
	cb_result res;
	int64_t   t0;

	if (cbh_redis_external(it_env->redis)) {
		return;
	}
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGTERM), 0);
	for (int i = 0; i < 50; i++) {
		Cachebroker__V1__HealthResponse *h  = it_health();
		bool                             up = h->redis->connected;
		cb_message_free(h);
		if (!up) {
			break;
		}
		cbh_sleep_ms(100);
	}
	/* Not reported as done: the caller must know. */
	t0 = cbh_now_ms();
	IT_ASSERT_CODE(it_publish("users.updated", "user_id", "1", NULL, &res),
	    CB_UNAVAILABLE, &res);
	ck_assert_int_lt(cbh_now_ms() - t0, 1000);
}
END_TEST

CBH_TEST(test_cli)
{
	char out[256];

	it_set_str("users", "profile:5", "x");
	ck_assert_int_eq(
	    it_cli("publish users.updated user_id=5", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "1\n");
	ck_assert(!it_exists("users:profile:5"));
	ck_assert_int_eq(
	    it_cli("--json publish users.updated user_id=5", out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "{\"keys_invalidated\":0}\n");
	/* Usage and broker errors have their exit codes. */
	ck_assert_int_eq(
	    it_cli("publish users.updated user_id", out, sizeof(out)), 2);
	ck_assert_int_eq(
	    it_cli("publish users.nope 2>/dev/null", out, sizeof(out)), 3);
}
END_TEST

static Suite *
events_suite(void)
{
	Suite *s  = suite_create("events");
	TCase *tc = tcase_create("events");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, it_teardown);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_patterns_across_namespaces);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_redis_down);
	tcase_add_test(tc, test_cli);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(events_suite());
}

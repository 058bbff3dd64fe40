/* SPDX-License-Identifier: MIT */
/* Unit tests of stats.c: method counters, percentiles, namespace bound. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "test_main.h"

static cbd_stats *s;

static void
setup(void)
{
	s = malloc(sizeof(*s));
	cbd_stats_init(s);
}

static void
teardown(void)
{
	free(s);
}

START_TEST(test_method_counters)
{
	cbd_method_stats *m = &s->methods[CBD_M_CACHE_GET];

	for (int i = 0; i < 98; i++) {
		cbd_stats_record_call(s, CBD_M_CACHE_GET, CB_OK, 100);
	}
	cbd_stats_record_call(s, CBD_M_CACHE_GET, CB_NOT_FOUND, 5000);
	cbd_stats_record_call(s, CBD_M_CACHE_GET, CB_UNAVAILABLE, 9000);
	ck_assert_uint_eq(atomic_load(&m->count), 100);
	ck_assert_uint_eq(cbd_stats_errors(m), 2);
	ck_assert_uint_eq(atomic_load(&m->lat_max_us), 9000);
	ck_assert_uint_eq(atomic_load(&m->lat_sum_us), 98 * 100 + 14000);
	/* 100 us falls in [64, 128): reported as the bucket's top. */
	ck_assert_uint_eq(cbd_stats_percentile(m, 50), 128);
	ck_assert_uint_eq(cbd_stats_percentile(m, 99), 8192);
	ck_assert_uint_eq(cbd_stats_percentile(m, 100), 16384);
	ck_assert_uint_eq(
	    cbd_stats_percentile(&s->methods[CBD_M_CACHE_SET], 50), 0);
}
END_TEST

START_TEST(test_namespaces_bounded)
{
	char          name[16];
	uint64_t      hits, misses;
	cbd_ns_stats *a = cbd_stats_ns(s, "users");

	a->hits   = 3;
	a->misses = 1;
	ck_assert_ptr_eq(cbd_stats_ns(s, "users"), a);
	for (int i = 0; i < CBD_MAX_NS_STATS + 10; i++) {
		snprintf(name, sizeof(name), "ns%d", i);
		cbd_stats_ns(s, name)->hits++;
	}
	ck_assert_uint_eq(s->n_ns, CBD_MAX_NS_STATS);
	ck_assert_str_eq(cbd_stats_ns(s, "another")->name, "_other");
	cbd_stats_totals(s, &hits, &misses);
	ck_assert_uint_eq(hits, 3 + CBD_MAX_NS_STATS + 10);
	ck_assert_uint_eq(misses, 1);
	ck_assert(cbd_stats_hit_rate(3, 1) == 0.75);
	ck_assert(cbd_stats_hit_rate(0, 0) == 0.0);
}
END_TEST

START_TEST(test_reset)
{
	cbd_stats_ns(s, "users")->hits = 5;
	cbd_stats_record_call(s, CBD_METHOD_UNKNOWN, CB_UNIMPLEMENTED, 10);
	cbd_stats_reset(s);
	ck_assert_uint_eq(s->n_ns, 0);
	ck_assert_uint_eq(
	    atomic_load(&s->methods[CBD_METHOD_UNKNOWN].count), 0);
	ck_assert_uint_eq(cbd_stats_ns(s, "users")->hits, 0);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *su = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_method_counters);
	tcase_add_test(tc, test_namespaces_bounded);
	tcase_add_test(tc, test_reset);
	suite_add_tcase(su, tc);
	return su;
}

CBT_MAIN(stats_suite)

/* SPDX-License-Identifier: MIT */
/* Unit tests of l1.c: coherence gate, fill tokens, TTLs, the byte bound,
 * admission against a scan. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l1.h"
#include "test_main.h"

#define SEC 1000000ull
#define MB ((size_t) 1024 * 1024)

/* fill stores key = value through a token taken just before. */
static void
fill(cbd_l1 *l1, const char *key, const char *value, uint64_t now,
    int64_t redis_ttl_ms)
{
	uint64_t t = cbd_l1_token(l1, key);

	cbd_l1_fill(
	    l1, t, key, value, strlen(value), now, 60000, redis_ttl_ms);
}

/* has says whether key is served, with value when given. */
static int
has(cbd_l1 *l1, const char *key, const char *value, uint64_t now)
{
	cbd_l1_hit hit;
	int        ok;

	if (!cbd_l1_get(l1, key, now, &hit)) {
		return 0;
	}
	ok = value == NULL ||
	    (hit.len == strlen(value) &&
	        memcmp(hit.value, value, hit.len) == 0);
	free(hit.value);
	return ok;
}

START_TEST(test_serves_only_when_coherent)
{
	cbd_l1      *l1;
	cbd_l1_stats st;

	ck_assert_int_eq(cbd_l1_alloc(&l1, MB), CB_OK);
	/* Not coherent: no token, nothing stored, nothing served. */
	ck_assert_uint_eq(cbd_l1_token(l1, "ns:a"), 0);
	fill(l1, "ns:a", "1", 0, -1);
	ck_assert(!has(l1, "ns:a", NULL, 0));
	cbd_l1_set_coherent(l1, 1);
	fill(l1, "ns:a", "1", 0, -1);
	ck_assert(has(l1, "ns:a", "1", 1));
	/* Losing coherence empties it. */
	cbd_l1_set_coherent(l1, 0);
	cbd_l1_set_coherent(l1, 1);
	ck_assert(!has(l1, "ns:a", NULL, 2));
	cbd_l1_stats_get(l1, &st);
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert_uint_ge(st.clears, 1);
	/* Counters go back to zero; what it holds stays. */
	fill(l1, "ns:b", "2", 0, -1);
	ck_assert(has(l1, "ns:b", "2", 1));
	cbd_l1_stats_reset(l1);
	cbd_l1_stats_get(l1, &st);
	ck_assert_uint_eq(st.hits, 0);
	ck_assert_uint_eq(st.fills, 0);
	ck_assert_uint_eq(st.clears, 0);
	ck_assert_uint_eq(st.entries, 1);
	cbd_l1_free(l1);
}
END_TEST

START_TEST(test_invalidation_cancels_fill_in_flight)
{
	cbd_l1      *l1;
	cbd_l1_stats st;
	uint64_t     t;

	ck_assert_int_eq(cbd_l1_alloc(&l1, MB), CB_OK);
	cbd_l1_set_coherent(l1, 1);
	/* GET sent, the key changes, the old value's reply arrives. */
	t = cbd_l1_token(l1, "ns:k");
	cbd_l1_invalidate(l1, "ns:k");
	cbd_l1_fill(l1, t, "ns:k", "old", 3, 0, 60000, -1);
	ck_assert(!has(l1, "ns:k", NULL, 1));
	/* A clearing cancels every fill; so does a coherence restart. */
	t = cbd_l1_token(l1, "ns:k");
	cbd_l1_clear(l1);
	cbd_l1_fill(l1, t, "ns:k", "old", 3, 0, 60000, -1);
	t = cbd_l1_token(l1, "ns:k");
	cbd_l1_invalidate_prefix(l1, "ns:");
	cbd_l1_fill(l1, t, "ns:k", "old", 3, 0, 60000, -1);
	ck_assert(!has(l1, "ns:k", NULL, 1));
	cbd_l1_stats_get(l1, &st);
	ck_assert_uint_eq(st.cancelled, 3);
	/* An unrelated key's token still holds. */
	t = cbd_l1_token(l1, "ns:k");
	cbd_l1_invalidate(l1, "other:x");
	cbd_l1_fill(l1, t, "ns:k", "new", 3, 0, 60000, -1);
	ck_assert(has(l1, "ns:k", "new", 1));
	/* A stored key goes on its invalidation. */
	cbd_l1_invalidate(l1, "ns:k");
	ck_assert(!has(l1, "ns:k", NULL, 1));
	cbd_l1_free(l1);
}
END_TEST

START_TEST(test_prefix_invalidation)
{
	cbd_l1 *l1;

	ck_assert_int_eq(cbd_l1_alloc(&l1, MB), CB_OK);
	cbd_l1_set_coherent(l1, 1);
	fill(l1, "users:1", "a", 0, -1);
	fill(l1, "users:2", "b", 0, -1);
	fill(l1, "tasks:1", "c", 0, -1);
	cbd_l1_invalidate_prefix(l1, "users:");
	ck_assert(!has(l1, "users:1", NULL, 1));
	ck_assert(!has(l1, "users:2", NULL, 1));
	ck_assert(has(l1, "tasks:1", "c", 1));
	cbd_l1_free(l1);
}
END_TEST

START_TEST(test_never_outlives_redis_ttl)
{
	cbd_l1    *l1;
	cbd_l1_hit hit;
	uint64_t   t;

	ck_assert_int_eq(cbd_l1_alloc(&l1, MB), CB_OK);
	cbd_l1_set_coherent(l1, 1);
	/* Redis has 2 s left, L1 would keep it 60 s. */
	fill(l1, "ns:a", "1", 10 * SEC, 2000);
	ck_assert(cbd_l1_get(l1, "ns:a", 11 * SEC, &hit));
	ck_assert_int_eq(hit.ttl_ms, 1000);
	free(hit.value);
	ck_assert(!has(l1, "ns:a", NULL, 12 * SEC));
	/* No Redis TTL: L1's own bound, and ttl_ms -1. */
	t = cbd_l1_token(l1, "ns:b");
	cbd_l1_fill(l1, t, "ns:b", "2", 1, 10 * SEC, 5000, -1);
	ck_assert(cbd_l1_get(l1, "ns:b", 14 * SEC, &hit));
	ck_assert_int_eq(hit.ttl_ms, -1);
	free(hit.value);
	ck_assert(!has(l1, "ns:b", NULL, 15 * SEC));
	/* Expired in Redis already (-2) or about to: not stored. */
	t = cbd_l1_token(l1, "ns:c");
	cbd_l1_fill(l1, t, "ns:c", "3", 1, 0, 5000, -2);
	ck_assert(!has(l1, "ns:c", NULL, 0));
	cbd_l1_free(l1);
}
END_TEST

/* A scan of keys read once, ten times L1's size, neither breaks the bound
 * nor pushes out keys that are read often. */
START_TEST(test_bound_and_scan_resistance)
{
	cbd_l1      *l1;
	cbd_l1_stats st;
	char         key[64];
	char         value[1024];
	int          hot_served = 0;

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	ck_assert_int_eq(cbd_l1_alloc(&l1, MB), CB_OK);
	cbd_l1_set_coherent(l1, 1);
	/* 200 hot keys (about a fifth of L1), each asked for a few times. */
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 200; i++) {
			snprintf(key, sizeof(key), "ns:hot:%d", i);
			if (!has(l1, key, NULL, 0)) {
				fill(l1, key, value, 0, -1);
			}
		}
	}
	/* The scan: 10 MB of keys, each missed and filled once. */
	for (int i = 0; i < 10 * 1024; i++) {
		snprintf(key, sizeof(key), "ns:scan:%d", i);
		if (!has(l1, key, NULL, 0)) {
			fill(l1, key, value, 0, -1);
		}
		cbd_l1_stats_get(l1, &st);
		ck_assert_uint_le(st.bytes, MB);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "ns:hot:%d", i);
		hot_served += has(l1, key, value, 0);
	}
	cbd_l1_stats_get(l1, &st);
	ck_assert_msg(
	    hot_served >= 190, "only %d of 200 hot keys kept", hot_served);
	ck_assert_uint_gt(st.refusals, 0);
	cbd_l1_free(l1);
}
END_TEST

static Suite *
l1_suite(void)
{
	Suite *s  = suite_create("l1");
	TCase *tc = tcase_create("l1");

	tcase_add_test(tc, test_serves_only_when_coherent);
	tcase_add_test(tc, test_invalidation_cancels_fill_in_flight);
	tcase_add_test(tc, test_prefix_invalidation);
	tcase_add_test(tc, test_never_outlives_redis_ttl);
	tcase_add_test(tc, test_bound_and_scan_resistance);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(l1_suite)

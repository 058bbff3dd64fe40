/* SPDX-License-Identifier: MIT */
/* The L1: hits from memory, kept coherent by Redis' tracking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "it.h"

/* now_us is the monotonic clock in microseconds. */
static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define NS "l1ns"     /* opted in */
#define OTHER "plain" /* not opted in */

static bool default_mode; /* l1_tracking = default in this test case */

static void
setup_l1(void)
{
	default_mode = false;
	it_setup_config("[broker]\n"
	                "l1_size = 8m\n"
	                "l1_max_ttl = 30s\n"
	                "[namespace " NS "]\n"
	                "l1 = yes\n");
}

static void
setup_l1_default(void)
{
	default_mode = true;
	it_setup_config("[broker]\n"
	                "l1_size = 8m\n"
	                "l1_max_ttl = 30s\n"
	                "l1_tracking = default\n"
	                "[namespace " NS "]\n"
	                "l1 = yes\n");
}

static void
setup_small(void)
{
	it_setup_config("[broker]\n"
	                "l1_size = 1m\n"
	                "[namespace " NS "]\n"
	                "l1 = yes\n");
}

/* l1 returns the L1's metrics (cb_message_free the holder *m). */
static const Cachebroker__V1__L1Metrics *
l1(Cachebroker__V1__MetricsResponse **m)
{
	*m = it_metrics();
	ck_assert_ptr_nonnull((*m)->l1);
	return (*m)->l1;
}

/* wait_coherent waits (at most 10 s) until Health says the L1 serves
 * (want) or not. */
static void
wait_coherent(bool want)
{
	int64_t until = cbh_now_ms() + 10000;

	for (;;) {
		Cachebroker__V1__HealthResponse *h  = it_health();
		bool                             on = h->l1_coherent;
		ck_assert(h->l1_enabled);
		cb_message_free(h);
		if (on == want) {
			return;
		}
		ck_assert_msg(
		    cbh_now_ms() < until, "L1 coherent never became %d", want);
		usleep(20 * 1000);
	}
}

static uint64_t
l1_hits(void)
{
	Cachebroker__V1__MetricsResponse *m;
	uint64_t                          n = l1(&m)->hits;

	cb_message_free(m);
	return n;
}

/* A second Get of a key comes from the L1, with the value, and the time
 * it has left in Redis. */
CBH_TEST(test_second_get_is_an_l1_hit)
{
	Cachebroker__V1__MetricsResponse *m;
	Cachebroker__V1__GetResponse     *r;
	uint64_t                          before;

	wait_coherent(true);
	ck_assert_int_eq(
	    it_set(NS, "k", "v1", 2, 60000,
	        CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS, NULL),
	    CB_OK);
	before = l1_hits();
	it_get_str(NS, "k", "v1"); /* from Redis; fills */
	ck_assert_uint_eq(l1_hits(), before);
	ck_assert_int_eq(it_get(NS, "k", &r), CB_OK);
	ck_assert(r->found);
	ck_assert_mem_eq(r->value.data, "v1", 2);
	ck_assert_int_gt(r->ttl_ms, 60000 - IT_TTL_SLACK_MS);
	ck_assert_int_le(r->ttl_ms, 60000);
	cb_message_free(r);
	ck_assert_uint_eq(l1_hits(), before + 1);
	/* A namespace that did not opt in never fills. */
	it_set_str(OTHER, "k", "x");
	it_get_str(OTHER, "k", "x");
	it_get_str(OTHER, "k", "x");
	ck_assert_uint_eq(l1(&m)->fills, 1);
	cb_message_free(m);
	ck_assert_uint_eq(l1_hits(), before + 1);
}

/* get_many reads keys of NS with one GetMany and asserts the values. */
static void
get_many(size_t n, char **keys, const char *const *values)
{
	Cachebroker__V1__GetManyRequest req =
	    CACHEBROKER__V1__GET_MANY_REQUEST__INIT;
	Cachebroker__V1__GetManyResponse *resp = NULL;
	cb_result                         res;

	req.namespace_ = NS;
	req.keys       = keys;
	req.n_keys     = n;
	IT_ASSERT_CODE(
	    cb_cache_get_many(it_env->client, &req, &resp, NULL, &res), CB_OK,
	    &res);
	ck_assert_uint_eq(resp->n_entries, n);
	for (size_t i = 0; i < n; i++) {
		const Cachebroker__V1__GetManyEntry *e = resp->entries[i];
		ck_assert_str_eq(e->key, keys[i]);
		if (values[i] == NULL) {
			ck_assert(!e->found);
			continue;
		}
		ck_assert_msg(e->found, "%s not found", keys[i]);
		ck_assert_uint_eq(e->value.len, strlen(values[i]));
		ck_assert_mem_eq(e->value.data, values[i], e->value.len);
	}
	cb_message_free(resp);
}

/* A GetMany whose keys the L1 holds, all of them, is answered from it;
 * one that misses a key reads them all from Redis, and fills the L1. */
CBH_TEST(test_get_many_from_l1)
{
	Cachebroker__V1__MetricsResponse *m;
	char                             *keys[]   = { "ga", "gb", "gc" };
	const char                       *values[] = { "A", "B", NULL };
	uint64_t                          hits, fills;

	wait_coherent(true);
	ck_assert_int_eq(
	    it_set(NS, "ga", "A", 1, 60000,
	        CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS, NULL),
	    CB_OK);
	it_set_str(NS, "gb", "B");
	fills = l1(&m)->fills;
	cb_message_free(m);
	get_many(2, keys, values); /* from Redis: fills both */
	ck_assert_uint_eq(l1(&m)->fills, fills + 2);
	cb_message_free(m);
	hits = l1_hits();
	get_many(2, keys, values); /* from the L1 */
	ck_assert_uint_eq(l1_hits(), hits + 2);
	/* A missing key: from Redis, right. */
	get_many(3, keys, values);
	/* Changed behind the broker's back: never the old value once the
	 * invalidation is in; the broker's own write at once. */
	it_set_str(NS, "gb", "B2");
	values[1] = "B2";
	get_many(2, keys, values);
	{
		Cachebroker__V1__GetResponse *r;
		ck_assert_int_eq(it_get(NS, "ga", &r), CB_OK);
		ck_assert_int_gt(r->ttl_ms, 60000 - IT_TTL_SLACK_MS);
		cb_message_free(r);
	}
}

/* fill_and_hit reads ns/key until a read comes from the L1 (the
 * invalidation of a write just made may still be on its way and cancel a
 * fill, or drop it). */
static void
fill_and_hit(const char *key, const char *value)
{
	uint64_t before;

	for (int tries = 0;; tries++) {
		it_get_str(NS, key, value);
		before = l1_hits();
		it_get_str(NS, key, value);
		if (l1_hits() == before + 1) {
			return;
		}
		ck_assert_msg(tries < 50, "%s: never an L1 hit", key);
		usleep(2000);
	}
}

#define ROUNDS 200

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a;
	int64_t y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/*
 * A write straight to Redis (not through the broker) is never served from
 * the L1 once its invalidation arrived: after Metrics counts the message,
 * the very next Get has the new value. The window from the write to the
 * first new value is printed (p50, p99, max over ROUNDS writes).
 */
CBH_TEST(test_outside_write_invalidates)
{
	Cachebroker__V1__MetricsResponse *m;
	int64_t                           win[ROUNDS];
	char                              old[32], now[32];

	wait_coherent(true);
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t msgs;
		int64_t  t0;

		snprintf(old, sizeof(old), "old-%d", i);
		snprintf(now, sizeof(now), "new-%d", i);
		it_set_str(NS, "outside", old);
		fill_and_hit("outside", old);
		msgs = l1(&m)->tracking_messages;
		cb_message_free(m);
		t0 = now_us();
		it_redis_ok("SET " NS ":outside %s", now);
		/* Until the message arrives the old value may still come;
		 * after it, never. */
		for (;;) {
			Cachebroker__V1__GetResponse *r;
			bool                          arrived;
			arrived = l1(&m)->tracking_messages > msgs;
			cb_message_free(m);
			ck_assert_int_eq(it_get(NS, "outside", &r), CB_OK);
			ck_assert(r->found);
			if (r->value.len == strlen(now) &&
			    memcmp(r->value.data, now, r->value.len) == 0) {
				cb_message_free(r);
				break;
			}
			cb_message_free(r);
			ck_assert_msg(!arrived,
			    "round %d: old value served after the "
			    "invalidation arrived",
			    i);
			ck_assert_msg(now_us() - t0 < 5000000,
			    "round %d: no invalidation in 5 s", i);
		}
		win[i] = now_us() - t0;
	}
	qsort(win, ROUNDS, sizeof(*win), cmp_i64);
	printf("l1: outside write to first new value over %d writes: "
	       "p50 %lld us, p99 %lld us, max %lld us\n",
	    ROUNDS, (long long) win[ROUNDS / 2],
	    (long long) win[ROUNDS * 99 / 100], (long long) win[ROUNDS - 1]);
	ck_assert_uint_ge(l1(&m)->invalidations, ROUNDS);
	cb_message_free(m);
}

/* The broker's own writes drop the L1 before they answer: the next Get
 * sees them at once, whatever the tracking message does. */
CBH_TEST(test_broker_writes_drop_before_answer)
{
	Cachebroker__V1__GetResponse *r;
	char                         *keys[] = { "w" };
	cb_result                     res;

	wait_coherent(true);
	it_set_str(NS, "w", "1");
	fill_and_hit("w", "1");
	it_set_str(NS, "w", "2");
	it_get_str(NS, "w", "2");
	fill_and_hit("w", "2");
	IT_ASSERT_CODE(it_delete(NS, keys, 1, NULL, NULL, &res), CB_OK, &res);
	ck_assert_int_eq(it_get(NS, "w", &r), CB_OK);
	ck_assert(!r->found);
	cb_message_free(r);
	/* Increment. */
	it_set_str(NS, "n", "5");
	fill_and_hit("n", "5");
	{
		Cachebroker__V1__IncrementRequest req =
		    CACHEBROKER__V1__INCREMENT_REQUEST__INIT;
		Cachebroker__V1__IncrementResponse *ir = NULL;
		req.namespace_                         = NS;
		req.key                                = "n";
		req.delta                              = 2;
		IT_ASSERT_CODE(
		    cb_cache_increment(it_env->client, &req, &ir, NULL, &res),
		    CB_OK, &res);
		cb_message_free(ir);
	}
	it_get_str(NS, "n", "7");
	/* InvalidatePattern. */
	fill_and_hit("n", "7");
	{
		Cachebroker__V1__InvalidatePatternRequest req =
		    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
		Cachebroker__V1__InvalidatePatternResponse *pr = NULL;
		req.namespace_                                 = NS;
		req.pattern                                    = "n*";
		IT_ASSERT_CODE(cb_cache_invalidate_pattern(
		                   it_env->client, &req, &pr, NULL, &res),
		    CB_OK, &res);
		cb_message_free(pr);
	}
	ck_assert_int_eq(it_get(NS, "n", &r), CB_OK);
	ck_assert(!r->found);
	cb_message_free(r);
}

/* Losing tracking (its connections killed) empties the L1 and keeps it
 * off until tracking is back; a flush empties it too. */
CBH_TEST(test_tracking_loss_and_flush_empty_l1)
{
	Cachebroker__V1__MetricsResponse *m;
	uint64_t                          clears;
	long long                         killed;
	int64_t                           until;

	wait_coherent(true);
	it_set_str(NS, "t", "1");
	fill_and_hit("t", "1");
	clears = l1(&m)->clears;
	cb_message_free(m);
	/* The subscriber is the only Pub/Sub client. Tracking comes back
	 * after the reconnect backoff (100 ms here): poll the clearing,
	 * not the short time off. */
	killed = it_redis_int("CLIENT KILL TYPE pubsub");
	ck_assert_int_ge(killed, 1);
	until = cbh_now_ms() + 5000;
	while (l1(&m)->clears == clears) {
		cb_message_free(m);
		ck_assert_msg(cbh_now_ms() < until, "L1 not emptied in 5 s");
		usleep(5 * 1000);
	}
	cb_message_free(m);
	/* Emptied: the next Get comes from Redis, changed behind its back
	 * while tracking was down. */
	it_redis_ok("SET " NS ":t 2");
	it_get_str(NS, "t", "2");
	wait_coherent(true);
	fill_and_hit("t", "2");
	it_redis_ok("FLUSHALL");
	{
		Cachebroker__V1__GetResponse *r;
		until = cbh_now_ms() + 5000;
		for (;;) {
			ck_assert_int_eq(it_get(NS, "t", &r), CB_OK);
			if (!r->found) {
				cb_message_free(r);
				break;
			}
			cb_message_free(r);
			ck_assert_msg(cbh_now_ms() < until,
			    "still served 5 s after FLUSHALL");
			usleep(1000);
		}
	}
	ck_assert_uint_eq(l1(&m)->entries, 0);
	cb_message_free(m);
	if (!default_mode) {
		return;
	}
	/* Default mode: a pool connection lost takes what it read out of
	 * tracking, so the L1 is emptied. */
	it_set_str(NS, "t", "3");
	fill_and_hit("t", "3");
	clears = l1(&m)->clears;
	cb_message_free(m);
	ck_assert_int_ge(it_redis_int("CLIENT KILL TYPE normal"), 1);
	until = cbh_now_ms() + 5000;
	while (l1(&m)->clears == clears) {
		cb_message_free(m);
		ck_assert_msg(cbh_now_ms() < until, "L1 not emptied in 5 s");
		usleep(5 * 1000);
	}
	cb_message_free(m);
	ck_assert(it_wait_redis_connected(true, 10000));
	it_get_str(NS, "t", "3");
}

#define CANARY_KEYS 40
#define CANARY_CALLS 1500

/* canary_get reads c:i with a deadline of ms and checks what comes back:
 * a value is always c:i's own ("c:i@version"), never older than
 * min_version, and none at all when none may exist (min_version < 0). */
static void
canary_get(int i, int64_t min_version, uint32_t ms)
{
	Cachebroker__V1__GetRequest   req = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__GetResponse *r   = NULL;
	cb_callopts                   o   = { .timeout_ms = ms };
	cb_result                     res;
	char                          key[16];
	char                          want[24];
	char                          got[64];
	cb_status                     st;
	long long                     v;

	snprintf(key, sizeof(key), "c:%d", i);
	snprintf(want, sizeof(want), "c:%d@", i);
	req.namespace_ = NS;
	req.key        = key;
	st             = cb_cache_get(it_env->client, &req, &r, &o, &res);
	if (st != CB_OK) {
		/* A deadline this short, or Redis away: no answer is fine. */
		ck_assert_msg(
		    st == CB_DEADLINE_EXCEEDED || st == CB_UNAVAILABLE,
		    "%s: %s (%s)", key, cb_status_str(st), res.message);
		return;
	}
	if (r->found) {
		ck_assert_msg(min_version >= 0,
		    "%s: found after Redis lost it (an L1 leftover)", key);
		snprintf(got, sizeof(got), "%.*s", (int) r->value.len,
		    (const char *) r->value.data);
		ck_assert_msg(strncmp(got, want, strlen(want)) == 0,
		    "%s: got another key's value '%s'", key, got);
		v = strtoll(got + strlen(want), NULL, 10);
		ck_assert_msg(v >= min_version, "%s: version %lld, wrote %lld",
		    key, v, (long long) min_version);
	}
	cb_message_free(r);
}

/* canary_set writes c:i = "c:i@version" through the broker; UNAVAILABLE
 * (Redis just restarted: a connection still coming back) is retried for
 * up to 5 s. */
static void
canary_set(int i, int64_t version)
{
	char      key[16];
	char      value[48];
	int64_t   until = cbh_now_ms() + 5000;
	cb_status st;

	snprintf(key, sizeof(key), "c:%d", i);
	snprintf(value, sizeof(value), "c:%d@%lld", i, (long long) version);
	while ((st = it_set(NS, key, value, strlen(value), 0,
	            CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS,
	            NULL)) == CB_UNAVAILABLE &&
	    cbh_now_ms() < until) {
		usleep(20 * 1000);
	}
	ck_assert_msg(st == CB_OK, "Set %s: %s", key, cb_status_str(st));
}

/*
 * The desync canary through the L1: values embed their key and a version.
 * Random short deadlines (late replies must never reach the next call),
 * writes through the broker (read at once), writes behind its back, and a
 * Redis restart that loses every key (nothing may then come from the L1).
 */
CBH_TEST(test_canary_through_l1)
{
	Cachebroker__V1__MetricsResponse *m;
	int64_t                           version[CANARY_KEYS];
	uint64_t                          x = 42;
	uint64_t                          hits;

	if (!it_need_own_redis()) {
		return;
	}
	wait_coherent(true);
	hits = l1_hits();
	for (int i = 0; i < CANARY_KEYS; i++) {
		version[i] = 0;
		canary_set(i, 0);
	}
	for (int n = 0; n < CANARY_CALLS; n++) {
		int      i;
		uint32_t ms;

		x  = x * 6364136223846793005ull + 1442695040888963407ull;
		i  = (int) ((x >> 33) % CANARY_KEYS);
		ms = 1 + (uint32_t) ((x >> 20) % 50);
		if (n == CANARY_CALLS / 2) {
			/* Redis restarts empty: whatever the L1 held is gone
			 * with it. */
			ck_assert_int_eq(cbh_redis_stop(it_env->redis, 0), 0);
			for (int k = 0; k < CANARY_KEYS; k++) {
				canary_get(k, -1, 200);
			}
			ck_assert_int_eq(cbh_redis_restart(it_env->redis), 0);
			it_redis_reconnect();
			for (int k = 0; k < CANARY_KEYS; k++) {
				canary_get(k, -1, 2000);
			}
			wait_coherent(true);
			ck_assert(it_wait_redis_connected(true, 10000));
			for (int k = 0; k < CANARY_KEYS; k++) {
				canary_get(k, -1, 2000);
				canary_set(k, ++version[k]);
			}
		}
		switch ((x >> 50) % 8) {
		case 0:
			canary_set(i, ++version[i]);
			break;
		case 1:
			/* Behind the broker's back: only the key's own
			 * values may come back, old or new. */
			it_redis_ok("SET " NS ":c:%d c:%d@%lld", i, i,
			    (long long) ++version[i]);
			canary_get(i, 0, ms);
			break;
		default:
			canary_get(i, version[i] > 0 ? version[i] - 1 : 0, ms);
			break;
		}
	}
	/* The L1 took part. */
	ck_assert_uint_gt(l1(&m)->hits, hits + 100);
	cb_message_free(m);
}

#define UNREAD 100

/*
 * What Redis reports: in BCAST mode every write under the namespace's
 * prefix, read or not; in default mode only the keys the broker read.
 * UNREAD keys never read are written, then one key that was read; once
 * that one's message is in (they arrive in order), the count says which.
 */
CBH_TEST(test_messages_by_mode)
{
	Cachebroker__V1__MetricsResponse *m;
	uint64_t                          before, after;
	int64_t                           until;

	wait_coherent(true);
	it_set_str(NS, "read", "1");
	fill_and_hit("read", "1");
	before = l1(&m)->tracking_messages;
	cb_message_free(m);
	for (int i = 0; i < UNREAD; i++) {
		it_redis_ok("SET " NS ":unread:%d x", i);
	}
	it_redis_ok("SET " NS ":read 2");
	until = cbh_now_ms() + 5000;
	for (;;) {
		Cachebroker__V1__GetResponse *r;
		bool                          fresh;
		ck_assert_int_eq(it_get(NS, "read", &r), CB_OK);
		fresh =
		    r->found && r->value.len == 1 && r->value.data[0] == '2';
		cb_message_free(r);
		if (fresh) {
			break;
		}
		ck_assert_msg(cbh_now_ms() < until, "no invalidation in 5 s");
		usleep(1000);
	}
	after = l1(&m)->tracking_messages;
	cb_message_free(m);
	printf("l1 (%s): %llu messages for %d unread keys and 1 read one\n",
	    default_mode ? "default" : "bcast",
	    (unsigned long long) (after - before), UNREAD);
	if (default_mode) {
		ck_assert_uint_le(after - before, 1);
	} else {
		ck_assert_uint_ge(after - before, UNREAD + 1);
	}
}

/* A scan of ten times the L1's size never takes it past l1_size. */
CBH_TEST(test_bound_under_scan)
{
	Cachebroker__V1__MetricsResponse *m;
	const Cachebroker__V1__L1Metrics *l;
	static char                       value[4096];
	char                              key[32];
	uint64_t                          most = 0;

	memset(value, 's', sizeof(value));
	wait_coherent(true);
	for (int i = 0; i < 2560; i++) {
		Cachebroker__V1__GetResponse *r;
		snprintf(key, sizeof(key), "scan:%d", i);
		ck_assert_int_eq(
		    it_set(NS, key, value, sizeof(value), 0,
		        CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS,
		        NULL),
		    CB_OK);
		ck_assert_int_eq(it_get(NS, key, &r), CB_OK);
		ck_assert(r->found);
		cb_message_free(r);
		if (i % 64 == 0) {
			l    = l1(&m);
			most = l->bytes > most ? l->bytes : most;
			cb_message_free(m);
		}
	}
	l = l1(&m);
	ck_assert_uint_le(most, (uint64_t) 1024 * 1024);
	ck_assert_uint_le(l->bytes, l->max_bytes);
	ck_assert_uint_eq(l->max_bytes, (uint64_t) 1024 * 1024);
	ck_assert_uint_gt(l->fills, 0);
	ck_assert_uint_gt(l->admission_refusals, 0);
	cb_message_free(m);
}

static Suite *
l1_suite(void)
{
	static const struct {
		const char *name;
		void (*setup)(void);
	} modes[] = {
		{ "l1", setup_l1 },                 /* l1_tracking = bcast */
		{ "l1_default", setup_l1_default }, /* l1_tracking = default */
	};
	Suite *s = suite_create("l1");
	TCase *tc;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		tc = it_tcase_with(modes[i].name, modes[i].setup);
		tcase_add_test(tc, test_second_get_is_an_l1_hit);
		tcase_add_test(tc, test_get_many_from_l1);
		tcase_add_test(tc, test_outside_write_invalidates);
		tcase_add_test(tc, test_broker_writes_drop_before_answer);
		tcase_add_test(tc, test_tracking_loss_and_flush_empty_l1);
		tcase_add_test(tc, test_canary_through_l1);
		tcase_add_test(tc, test_messages_by_mode);
		suite_add_tcase(s, tc);
	}
	tc = it_tcase_with("small", setup_small);
	tcase_add_test(tc, test_bound_under_scan);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(l1_suite()));
}

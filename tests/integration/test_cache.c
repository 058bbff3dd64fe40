/* SPDX-License-Identifier: MIT */
/* CacheService through the real socket, broker and Redis: every method. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "it.h"

#define ALWAYS CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS
#define IF_ABSENT CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_IF_ABSENT
#define IF_PRESENT CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_IF_PRESENT
#define UNSPECIFIED CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_UNSPECIFIED

static cb_status
get_many(const char *ns, char **keys, size_t n,
    Cachebroker__V1__GetManyResponse **resp, cb_result *res)
{
	Cachebroker__V1__GetManyRequest req =
	    CACHEBROKER__V1__GET_MANY_REQUEST__INIT;

	req.namespace_ = (char *) ns;
	req.keys       = keys;
	req.n_keys     = n;
	return (cb_cache_get_many(it_env->client, &req, resp, NULL, res));
}

static cb_status
increment(const char *ns, const char *key, int64_t delta, int64_t ttl_ms,
    const char *request_id, int64_t *value, cb_result *res)
{
	Cachebroker__V1__IncrementRequest req =
	    CACHEBROKER__V1__INCREMENT_REQUEST__INIT;
	Cachebroker__V1__IncrementResponse *resp = NULL;
	cb_callopts                         co = { .request_id = request_id };
	cb_status                           st;

	req.namespace_ = (char *) ns;
	req.key        = (char *) key;
	req.delta      = delta;
	req.ttl_ms     = ttl_ms;
	st = cb_cache_increment(it_env->client, &req, &resp, &co, res);
	if (st == CB_OK) {
		*value = resp->value;
		cb_message_free(resp);
	}
	return (st);
}

static cb_status
expire(const char *ns, const char *key, int64_t ttl_ms, bool *updated,
    cb_result *res)
{
	Cachebroker__V1__ExpireRequest req =
	    CACHEBROKER__V1__EXPIRE_REQUEST__INIT;
	Cachebroker__V1__ExpireResponse *resp = NULL;
	cb_status                        st;

	req.namespace_ = (char *) ns;
	req.key        = (char *) key;
	req.ttl_ms     = ttl_ms;
	st = cb_cache_expire(it_env->client, &req, &resp, NULL, res);
	if (st == CB_OK) {
		*updated = resp->updated;
		cb_message_free(resp);
	}
	return (st);
}

static cb_status
invalidate(const char *ns, const char *pattern, uint64_t *deleted,
    uint32_t timeout_ms, cb_result *res)
{
	Cachebroker__V1__InvalidatePatternRequest req =
	    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
	Cachebroker__V1__InvalidatePatternResponse *resp = NULL;
	cb_callopts co = { .timeout_ms = timeout_ms };
	cb_status   st;

	req.namespace_ = (char *) ns;
	req.pattern    = (char *) pattern;
	st =
	    cb_cache_invalidate_pattern(it_env->client, &req, &resp, &co, res);
	if (st == CB_OK) {
		*deleted = resp->deleted;
		cb_message_free(resp);
	}
	return (st);
}

/* ---------------------------------------------------------------- */

CBH_TEST(test_get_set_binary)
{
	uint8_t                       value[600];
	Cachebroker__V1__GetResponse *resp   = NULL;
	bool                          stored = false;
	char                         *raw;
	size_t                        len;

	/* Every byte value, NULs among them, twice over. */
	for (size_t i = 0; i < sizeof(value); i++) {
		value[i] = (uint8_t) (i * 7);
	}
	value[0] = value[1] = value[sizeof(value) - 1] = 0;
	ck_assert_int_eq(it_set("users", "profile:42", value, sizeof(value), 0,
	                     ALWAYS, &stored),
	    CB_OK);
	ck_assert(stored);

	ck_assert_int_eq(it_get("users", "profile:42", &resp), CB_OK);
	ck_assert(resp->found);
	ck_assert_uint_eq(resp->value.len, sizeof(value));
	ck_assert_mem_eq(resp->value.data, value, sizeof(value));
	ck_assert_int_eq(resp->ttl_ms, -1);
	cb_message_free(resp);

	/* Stored under the documented key scheme, byte for byte. */
	raw = it_redis_get("users:profile:42", &len);
	ck_assert_ptr_nonnull(raw);
	ck_assert_uint_eq(len, sizeof(value));
	ck_assert_mem_eq(raw, value, sizeof(value));
	free(raw);
	ck_assert_int_eq(it_redis_int("DBSIZE"), 1);

	/* An empty value is a value. */
	ck_assert_int_eq(
	    it_set("users", "empty", "", 0, 0, ALWAYS, &stored), CB_OK);
	ck_assert_int_eq(it_get("users", "empty", &resp), CB_OK);
	ck_assert(resp->found);
	ck_assert_uint_eq(resp->value.len, 0);
	cb_message_free(resp);
	ck_assert(it_exists("users:empty"));
}

CBH_TEST(test_get_missing)
{
	Cachebroker__V1__GetResponse *resp = NULL;

	ck_assert_int_eq(it_get("users", "profile:404", &resp), CB_OK);
	ck_assert(!resp->found);
	ck_assert_uint_eq(resp->value.len, 0);
	ck_assert_int_eq(resp->ttl_ms, 0);
	cb_message_free(resp);
	/* A read creates nothing. */
	ck_assert_int_eq(it_redis_int("DBSIZE"), 0);
}

CBH_TEST(test_set_ttl)
{
	Cachebroker__V1__GetResponse *resp   = NULL;
	bool                          stored = false;
	long long                     pttl;

	ck_assert_int_eq(
	    it_set("users", "s:1", "v", 1, 60000, ALWAYS, &stored), CB_OK);
	ck_assert(stored);
	it_assert_ttl_near("users:s:1", 60000);
	pttl = it_pttl("users:s:1");

	ck_assert_int_eq(it_get("users", "s:1", &resp), CB_OK);
	ck_assert(resp->found);
	ck_assert_msg(
	    resp->ttl_ms > pttl - 1000 && resp->ttl_ms <= pttl + 1000,
	    "Get ttl_ms = %lld, PTTL = %lld", (long long) resp->ttl_ms, pttl);
	cb_message_free(resp);

	/* A short TTL really expires. */
	ck_assert_int_eq(
	    it_set("users", "s:2", "v", 1, 150, ALWAYS, &stored), CB_OK);
	ck_assert(it_exists("users:s:2"));
	for (int64_t end = cbh_now_ms() + 3000;
	     it_exists("users:s:2") && cbh_now_ms() < end;) {
		cbh_sleep_ms(20);
	}
	ck_assert(!it_exists("users:s:2"));
	ck_assert_int_eq(it_get("users", "s:2", &resp), CB_OK);
	ck_assert(!resp->found);
	cb_message_free(resp);
}

CBH_TEST(test_set_no_ttl)
{
	Cachebroker__V1__GetResponse *resp   = NULL;
	bool                          stored = false;

	ck_assert_int_eq(
	    it_set("users", "n", "v", 1, 0, ALWAYS, &stored), CB_OK);
	ck_assert(stored);
	ck_assert_int_eq(it_pttl("users:n"), -1);
	ck_assert_int_eq(it_get("users", "n", &resp), CB_OK);
	ck_assert(resp->found);
	ck_assert_int_eq(resp->ttl_ms, -1);
	cb_message_free(resp);

	/* Overwriting a key that has a TTL with ttl 0 removes the TTL. */
	ck_assert_int_eq(
	    it_set("users", "n", "v", 1, 30000, ALWAYS, &stored), CB_OK);
	it_assert_ttl_near("users:n", 30000);
	ck_assert_int_eq(
	    it_set("users", "n", "w", 1, 0, ALWAYS, &stored), CB_OK);
	ck_assert_int_eq(it_pttl("users:n"), -1);
	it_get_str("users", "n", "w");
}

CBH_TEST(test_set_if_absent)
{
	bool  stored = false;
	char *raw;

	ck_assert_int_eq(
	    it_set("users", "nx", "first", 5, 0, IF_ABSENT, &stored), CB_OK);
	ck_assert(stored);
	stored = true;
	ck_assert_int_eq(
	    it_set("users", "nx", "second", 6, 0, IF_ABSENT, &stored), CB_OK);
	ck_assert(!stored);
	raw = it_redis_get("users:nx", NULL);
	ck_assert_str_eq(raw, "first");
	free(raw);

	/* A refused write leaves the TTL alone too. */
	ck_assert_int_eq(
	    it_set("users", "nx", "third", 5, 20000, IF_ABSENT, &stored),
	    CB_OK);
	ck_assert(!stored);
	ck_assert_int_eq(it_pttl("users:nx"), -1);

	/* With a TTL on a fresh key. */
	ck_assert_int_eq(
	    it_set("users", "nx2", "x", 1, 20000, IF_ABSENT, &stored), CB_OK);
	ck_assert(stored);
	it_assert_ttl_near("users:nx2", 20000);
}

CBH_TEST(test_set_if_present)
{
	bool  stored = true;
	char *raw;

	ck_assert_int_eq(
	    it_set("users", "xx", "first", 5, 0, IF_PRESENT, &stored), CB_OK);
	ck_assert(!stored);
	ck_assert(!it_exists("users:xx"));

	it_redis_ok("SET users:xx old");
	stored = false;
	ck_assert_int_eq(
	    it_set("users", "xx", "new", 3, 20000, IF_PRESENT, &stored),
	    CB_OK);
	ck_assert(stored);
	raw = it_redis_get("users:xx", NULL);
	ck_assert_str_eq(raw, "new");
	free(raw);
	it_assert_ttl_near("users:xx", 20000);
}

CBH_TEST(test_set_condition_unspecified)
{
	bool stored = false;

	/* The zero value means ALWAYS: it overwrites. */
	it_redis_ok("SET users:u old");
	ck_assert_int_eq(
	    it_set("users", "u", "new", 3, 0, UNSPECIFIED, &stored), CB_OK);
	ck_assert(stored);
	it_get_str("users", "u", "new");
}

CBH_TEST(test_get_many)
{
	char *keys[]                           = { "a", "b", "c", "a", "z:9" };
	Cachebroker__V1__GetManyResponse *resp = NULL;
	cb_result                         res;
	cb_status                         st;
	static const uint8_t              bin[] = { 'x', 0, 'y', 0 };

	it_redis_ok("SET users:a %b", bin, sizeof(bin));
	it_redis_ok("SET users:c cval");
	it_redis_ok("SET users2:b other-namespace");
	ck_assert_int_eq(get_many("users", keys, 5, &resp, &res), CB_OK);
	ck_assert_uint_eq(resp->n_entries, 5);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_str_eq(resp->entries[i]->key, keys[i]);
	}
	ck_assert(resp->entries[0]->found);
	ck_assert_uint_eq(resp->entries[0]->value.len, sizeof(bin));
	ck_assert_mem_eq(resp->entries[0]->value.data, bin, sizeof(bin));
	ck_assert(!resp->entries[1]->found);
	ck_assert_uint_eq(resp->entries[1]->value.len, 0);
	ck_assert(resp->entries[2]->found);
	ck_assert_uint_eq(resp->entries[2]->value.len, 4);
	ck_assert_mem_eq(resp->entries[2]->value.data, "cval", 4);
	ck_assert(resp->entries[3]->found);
	ck_assert_uint_eq(resp->entries[3]->value.len, sizeof(bin));
	ck_assert(!resp->entries[4]->found);
	cb_message_free(resp);

	/* No keys: no entries, or a refusal (MGET takes at least one key);
	 * the contract says neither, so both are accepted. */
	resp = NULL;
	st   = get_many("users", NULL, 0, &resp, &res);
	ck_assert_msg(st == CB_OK || st == CB_INVALID_ARGUMENT,
	    "GetMany of no keys: %s (%s)", cb_status_str(st), res.message);
	if (st == CB_OK) {
		ck_assert_uint_eq(resp->n_entries, 0);
		cb_message_free(resp);
	}
}

CBH_TEST(test_set_many)
{
	Cachebroker__V1__SetManyRequest req =
	    CACHEBROKER__V1__SET_MANY_REQUEST__INIT;
	Cachebroker__V1__SetManyResponse *resp = NULL;
	Cachebroker__V1__SetManyEntry     e[3];
	Cachebroker__V1__SetManyEntry    *ep[3];
	static const int64_t              ttls[3] = { 0, 30000, 90000 };
	cb_result                         res;
	char                             *raw;

	for (int i = 0; i < 3; i++) {
		static const char *const k[] = { "m:0", "m:1", "m:2" };
		static const char *const v[] = { "zero", "one", "two" };
		cachebroker__v1__set_many_entry__init(&e[i]);
		e[i].key        = (char *) k[i];
		e[i].value.data = (uint8_t *) v[i];
		e[i].value.len  = strlen(v[i]);
		e[i].ttl_ms     = ttls[i];
		ep[i]           = &e[i];
	}
	it_redis_ok("SET users:m:0 old EX 100");
	req.namespace_ = "users";
	req.entries    = ep;
	req.n_entries  = 3;
	ck_assert_int_eq(
	    cb_cache_set_many(it_env->client, &req, &resp, NULL, &res), CB_OK);
	ck_assert_uint_eq(resp->stored, 3);
	cb_message_free(resp);

	raw = it_redis_get("users:m:0", NULL);
	ck_assert_str_eq(raw, "zero");
	free(raw);
	raw = it_redis_get("users:m:2", NULL);
	ck_assert_str_eq(raw, "two");
	free(raw);
	ck_assert_int_eq(it_pttl("users:m:0"), -1);
	it_assert_ttl_near("users:m:1", 30000);
	it_assert_ttl_near("users:m:2", 90000);
	it_get_str("users", "m:1", "one");
}

CBH_TEST(test_delete)
{
	char     *keys[]  = { "d:1", "d:2", "d:missing", "d:1" };
	uint32_t  deleted = 99;
	cb_result res;

	it_redis_ok("SET users:d:1 a");
	it_redis_ok("SET users:d:2 b");
	it_redis_ok("SET users2:d:1 neighbour");
	ck_assert_int_eq(
	    it_delete("users", keys, 3, &deleted, NULL, &res), CB_OK);
	ck_assert_uint_eq(deleted, 2);
	ck_assert(!it_exists("users:d:1"));
	ck_assert(!it_exists("users:d:2"));
	ck_assert(it_exists("users2:d:1"));

	/* Nothing left to delete; a key named twice counts once. */
	it_redis_ok("SET users:d:1 a");
	ck_assert_int_eq(
	    it_delete("users", keys, 4, &deleted, NULL, &res), CB_OK);
	ck_assert_uint_eq(deleted, 1);
	ck_assert_int_eq(
	    it_delete("users", keys, 4, &deleted, NULL, &res), CB_OK);
	ck_assert_uint_eq(deleted, 0);
}

CBH_TEST(test_increment)
{
	int64_t   v = 0;
	cb_result res;
	char     *raw;

	/* A new counter starts at delta. */
	ck_assert_int_eq(increment("tasks", "c", 5, 0, NULL, &v, &res), CB_OK);
	ck_assert_int_eq(v, 5);
	ck_assert_int_eq(
	    increment("tasks", "c", -7, 0, NULL, &v, &res), CB_OK);
	ck_assert_int_eq(v, -2);
	ck_assert_int_eq(increment("tasks", "c", 0, 0, NULL, &v, &res), CB_OK);
	ck_assert_int_eq(v, -2);
	raw = it_redis_get("tasks:c", NULL);
	ck_assert_str_eq(raw, "-2");
	free(raw);
	ck_assert_int_eq(it_pttl("tasks:c"), -1);

	/* Large deltas are 64-bit. */
	ck_assert_int_eq(
	    increment("tasks", "big", 4000000000LL, 0, NULL, &v, &res), CB_OK);
	ck_assert_int_eq(v, 4000000000LL);
	/* Exactly, past 2^53 (where a double would round) to INT64_MAX. */
	ck_assert_int_eq(
	    increment("tasks", "huge", 9007199254740993LL, 0, NULL, &v, &res),
	    CB_OK);
	ck_assert_int_eq(v, 9007199254740993LL);
	ck_assert_int_eq(
	    increment("tasks", "huge", INT64_MAX - v, 0, NULL, &v, &res),
	    CB_OK);
	ck_assert_int_eq(v, INT64_MAX);
	IT_ASSERT_CODE(increment("tasks", "huge", 1, 0, NULL, &v, &res),
	    CB_OUT_OF_RANGE, &res);

	/* An existing integer written by someone else. */
	it_redis_ok("SET tasks:ext 41");
	ck_assert_int_eq(
	    increment("tasks", "ext", 1, 0, NULL, &v, &res), CB_OK);
	ck_assert_int_eq(v, 42);
}

CBH_TEST(test_increment_ttl)
{
	int64_t   v = 0;
	cb_result res;

	/* A new counter gets the TTL. */
	ck_assert_int_eq(
	    increment("tasks", "t", 1, 60000, NULL, &v, &res), CB_OK);
	ck_assert_int_eq(v, 1);
	it_assert_ttl_near("tasks:t", 60000);

	/* A counter that has a TTL keeps it. */
	ck_assert_int_eq(
	    increment("tasks", "t", 1, 10000, NULL, &v, &res), CB_OK);
	ck_assert_int_eq(v, 2);
	ck_assert_msg(it_pttl("tasks:t") > 10000,
	    "the counter's TTL was replaced: PTTL %lld", it_pttl("tasks:t"));
	it_assert_ttl_near("tasks:t", 60000);

	/* ttl 0 leaves it too. */
	ck_assert_int_eq(increment("tasks", "t", 1, 0, NULL, &v, &res), CB_OK);
	it_assert_ttl_near("tasks:t", 60000);

	/* A counter without a TTL gets one. */
	it_redis_ok("SET tasks:p 7");
	ck_assert_int_eq(
	    increment("tasks", "p", 1, 30000, NULL, &v, &res), CB_OK);
	ck_assert_int_eq(v, 8);
	it_assert_ttl_near("tasks:p", 30000);
}

CBH_TEST(test_increment_not_integer)
{
	int64_t   v = 12345;
	cb_result res;
	cb_status st;
	char     *raw;

	it_redis_ok("SET tasks:s abc");
	st = increment("tasks", "s", 1, 0, NULL, &v, &res);
	ck_assert_msg(st != CB_OK, "Increment of \"abc\" answered OK (%lld)",
	    (long long) v);
	/* Not a transport failure: the broker answered with a reason. */
	ck_assert_msg(st != CB_DEADLINE_EXCEEDED && st != CB_UNAVAILABLE &&
	        st != CB_INTERNAL && st != CB_UNKNOWN,
	    "Increment of \"abc\": %s (%s)", cb_status_str(st), res.message);
	ck_assert_int_eq(v, 12345);
	raw = it_redis_get("tasks:s", NULL);
	ck_assert_str_eq(raw, "abc");
	free(raw);

	/* A float is not an integer either; the broker goes on serving. */
	it_redis_ok("SET tasks:f 1.5");
	ck_assert_int_ne(increment("tasks", "f", 1, 0, NULL, &v, &res), CB_OK);
	raw = it_redis_get("tasks:f", NULL);
	ck_assert_str_eq(raw, "1.5");
	free(raw);
	cb_message_free(it_health());
}

CBH_TEST(test_expire)
{
	bool      updated = false;
	cb_result res;

	it_redis_ok("SET users:e v");
	ck_assert_int_eq(expire("users", "e", 30000, &updated, &res), CB_OK);
	ck_assert(updated);
	it_assert_ttl_near("users:e", 30000);

	/* -1 removes the expiry. */
	updated = false;
	ck_assert_int_eq(expire("users", "e", -1, &updated, &res), CB_OK);
	ck_assert(updated);
	ck_assert_int_eq(it_pttl("users:e"), -1);
	ck_assert(it_exists("users:e"));

	/* A missing key is not updated, and not created. */
	updated = true;
	ck_assert_int_eq(
	    expire("users", "nope", 30000, &updated, &res), CB_OK);
	ck_assert(!updated);
	updated = true;
	ck_assert_int_eq(expire("users", "nope", -1, &updated, &res), CB_OK);
	ck_assert(!updated);
	ck_assert(!it_exists("users:nope"));
}

CBH_TEST(test_invalidate_pattern)
{
	uint64_t  deleted = 99;
	cb_result res;

	it_redis_ok("SET users:profile:1 a");
	it_redis_ok("SET users:profile:2 b");
	it_redis_ok("SET users:settings:1 c");
	it_redis_ok("SET users2:profile:1 neighbour");
	it_redis_ok("SET usersx:profile:1 neighbour");
	it_redis_ok("SET profile:1 outside");

	ck_assert_int_eq(
	    invalidate("users", "profile:*", &deleted, 0, &res), CB_OK);
	ck_assert_uint_eq(deleted, 2);
	ck_assert(!it_exists("users:profile:1"));
	ck_assert(!it_exists("users:profile:2"));
	ck_assert(it_exists("users:settings:1"));
	ck_assert(it_exists("users2:profile:1"));
	ck_assert(it_exists("usersx:profile:1"));
	ck_assert(it_exists("profile:1"));

	/* Nothing matches: 0. */
	ck_assert_int_eq(
	    invalidate("users", "profile:*", &deleted, 0, &res), CB_OK);
	ck_assert_uint_eq(deleted, 0);

	/* ? and [] are globs too, inside the namespace. */
	it_redis_ok("SET users:k1 a");
	it_redis_ok("SET users:k2 a");
	it_redis_ok("SET users:k33 a");
	ck_assert_int_eq(invalidate("users", "k?", &deleted, 0, &res), CB_OK);
	ck_assert_uint_eq(deleted, 2);
	ck_assert(it_exists("users:k33"));
}

CBH_TEST(test_invalidate_neighbours)
{
	uint64_t  deleted = 99;
	cb_result res;

	it_redis_ok("SET users:a 1");
	it_redis_ok("SET users:b:c 1");
	it_redis_ok("SET users2:a 1");
	it_redis_ok("SET usersx:a 1");
	it_redis_ok("SET users 1");
	it_redis_ok("SET user:a 1");
	it_redis_ok("SET other:users:a 1");

	/* "*" is everything in users, and nothing of its neighbours. */
	ck_assert_int_eq(invalidate("users", "*", &deleted, 0, &res), CB_OK);
	ck_assert_uint_eq(deleted, 2);
	ck_assert(!it_exists("users:a"));
	ck_assert(!it_exists("users:b:c"));
	ck_assert(it_exists("users2:a"));
	ck_assert(it_exists("usersx:a"));
	ck_assert(it_exists("users"));
	ck_assert(it_exists("user:a"));
	ck_assert(it_exists("other:users:a"));
	ck_assert_int_eq(it_redis_int("DBSIZE"), 5);

	/* And the other way round. */
	ck_assert_int_eq(invalidate("users2", "*", &deleted, 0, &res), CB_OK);
	ck_assert_uint_eq(deleted, 1);
	ck_assert(it_exists("usersx:a"));
	ck_assert_int_eq(it_redis_int("DBSIZE"), 4);
}

CBH_TEST(test_invalidate_many)
{
	enum { N = 5000, NEIGH = 200 };
	uint64_t  deleted = 0;
	cb_result res;
	cb_status st;
	int64_t   t0;

	/* Pipelined straight into Redis. */
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(redisAppendCommand(it_env->rc,
		                     "SET users:item:%d v%d", i, i),
		    REDIS_OK);
	}
	for (int i = 0; i < NEIGH; i++) {
		ck_assert_int_eq(
		    redisAppendCommand(it_env->rc, "SET users2:item:%d v", i),
		    REDIS_OK);
		ck_assert_int_eq(
		    redisAppendCommand(it_env->rc, "SET users:keep:%d v", i),
		    REDIS_OK);
	}
	for (int i = 0; i < N + 2 * NEIGH; i++) {
		void *reply = NULL;
		ck_assert_int_eq(redisGetReply(it_env->rc, &reply), REDIS_OK);
		freeReplyObject(reply);
	}
	ck_assert_int_eq(it_redis_int("DBSIZE"), N + 2 * NEIGH);

	t0 = cbh_now_ms();
	st = invalidate("users", "item:*", &deleted, 30000, &res);
	IT_ASSERT_CODE(st, CB_OK, &res);
	ck_assert_uint_eq(deleted, N);
	cbh_log("InvalidatePattern of %d keys took %lld ms", N,
	    (long long) (cbh_now_ms() - t0));
	ck_assert_int_eq(it_redis_int("DBSIZE"), (intmax_t) 2 * NEIGH);
	ck_assert(it_exists("users2:item:0"));
	ck_assert(it_exists("users:keep:0"));
	ck_assert(!it_exists("users:item:0"));
	ck_assert(!it_exists("users:item:4999"));
}

CBH_TEST(test_request_id_increment)
{
	int64_t   v1 = 0;
	int64_t   v2 = 0;
	cb_result res;
	char     *raw;

	ck_assert_int_eq(
	    increment("tasks", "once", 1, 0, "rid-1", &v1, &res), CB_OK);
	ck_assert_int_eq(
	    increment("tasks", "once", 1, 0, "rid-1", &v2, &res), CB_OK);
	ck_assert_int_eq(v1, 1);
	ck_assert_int_eq(v2, 1);
	raw = it_redis_get("tasks:once", NULL);
	ck_assert_str_eq(raw, "1");
	free(raw);

	/* Another id is another call. */
	ck_assert_int_eq(
	    increment("tasks", "once", 1, 0, "rid-2", &v2, &res), CB_OK);
	ck_assert_int_eq(v2, 2);
	/* And no id at all (the client makes a fresh one each time). */
	ck_assert_int_eq(
	    increment("tasks", "once", 1, 0, NULL, &v2, &res), CB_OK);
	ck_assert_int_eq(
	    increment("tasks", "once", 1, 0, NULL, &v2, &res), CB_OK);
	ck_assert_int_eq(v2, 4);
	raw = it_redis_get("tasks:once", NULL);
	ck_assert_str_eq(raw, "4");
	free(raw);
}

CBH_TEST(test_request_id_delete)
{
	char       *keys[]  = { "d" };
	uint32_t    deleted = 0;
	cb_callopts co      = { .request_id = "del-1" };
	cb_result   res;

	it_redis_ok("SET users:d v");
	ck_assert_int_eq(
	    it_delete("users", keys, 1, &deleted, &co, &res), CB_OK);
	ck_assert_uint_eq(deleted, 1);
	/* Someone writes the key again; the replayed Delete must not touch
	 * it, and answers as the first time. */
	it_redis_ok("SET users:d w");
	deleted = 0;
	ck_assert_int_eq(
	    it_delete("users", keys, 1, &deleted, &co, &res), CB_OK);
	ck_assert_uint_eq(deleted, 1);
	ck_assert(it_exists("users:d"));
}

/* ---- key_prefix ---- */

static void
setup_prefix(void)
{
	it_setup_config("[redis]\nkey_prefix = app:\n");
}

CBH_TEST(test_prefix_keys)
{
	char                             *keys[]  = { "p:1", "p:2" };
	uint32_t                          deleted = 0;
	uint64_t                          n       = 0;
	int64_t                           v       = 0;
	bool                              updated = false;
	cb_result                         res;
	Cachebroker__V1__GetManyResponse *gm = NULL;

	it_set_str("users", "p:1", "one");
	ck_assert(it_exists("app:users:p:1"));
	ck_assert(!it_exists("users:p:1"));
	it_get_str("users", "p:1", "one");

	/* Keys outside the prefix are invisible to the broker. */
	it_redis_ok("SET users:p:2 unprefixed");
	it_redis_ok("SET app:users:p:2 two");
	ck_assert_int_eq(get_many("users", keys, 2, &gm, &res), CB_OK);
	ck_assert_uint_eq(gm->n_entries, 2);
	ck_assert(gm->entries[1]->found);
	ck_assert_mem_eq(gm->entries[1]->value.data, "two", 3);
	cb_message_free(gm);

	ck_assert_int_eq(
	    increment("users", "cnt", 3, 0, NULL, &v, &res), CB_OK);
	ck_assert(it_exists("app:users:cnt"));
	ck_assert_int_eq(expire("users", "cnt", 20000, &updated, &res), CB_OK);
	ck_assert(updated);
	it_assert_ttl_near("app:users:cnt", 20000);

	/* Invalidation stays inside prefix and namespace. */
	it_redis_ok("SET app:users2:p:1 neighbour");
	it_redis_ok("SET other:users:p:1 foreign");
	ck_assert_int_eq(invalidate("users", "p:*", &n, 0, &res), CB_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert(!it_exists("app:users:p:1"));
	ck_assert(!it_exists("app:users:p:2"));
	ck_assert(it_exists("users:p:2"));
	ck_assert(it_exists("app:users2:p:1"));
	ck_assert(it_exists("other:users:p:1"));
	ck_assert(it_exists("app:users:cnt"));

	keys[0] = "cnt";
	ck_assert_int_eq(
	    it_delete("users", keys, 2, &deleted, NULL, &res), CB_OK);
	ck_assert_uint_eq(deleted, 1);
	ck_assert(!it_exists("app:users:cnt"));
	ck_assert(it_exists("users:p:2"));
}

/* ---- db ---- */

static void
setup_db3(void)
{
	it_setup_config("[redis]\ndb = 3\n");
}

CBH_TEST(test_db_select)
{
	it_set_str("users", "in-db3", "x");
	ck_assert(!it_exists("users:in-db3"));
	it_redis_ok("SELECT 3");
	ck_assert(it_exists("users:in-db3"));
	it_redis_ok("SELECT 0");
	it_get_str("users", "in-db3", "x");
}

/* ---- max_ttl ---- */

#define DAY_MS 86400000LL
#define HOURS2_MS 7200000LL /* setup_max_ttl's max_ttl */

/*
 * ttl_round calls every method that takes a TTL with ttl_ms (for
 * CheckRateLimit, window_ms) and asserts each answers want; with OK, that
 * the key got that TTL, otherwise that nothing was written.
 */
static void
ttl_round(int64_t ttl_ms, cb_status want, const char *what)
{
	Cachebroker__V1__SetManyEntry e =
	    CACHEBROKER__V1__SET_MANY_ENTRY__INIT;
	Cachebroker__V1__SetManyEntry  *ep[1] = { &e };
	Cachebroker__V1__SetManyRequest sm =
	    CACHEBROKER__V1__SET_MANY_REQUEST__INIT;
	Cachebroker__V1__SetManyResponse  *smr = NULL;
	Cachebroker__V1__PutSessionRequest ps =
	    CACHEBROKER__V1__PUT_SESSION_REQUEST__INIT;
	Cachebroker__V1__PutSessionResponse *psr = NULL;
	Cachebroker__V1__TouchSessionRequest ts =
	    CACHEBROKER__V1__TOUCH_SESSION_REQUEST__INIT;
	Cachebroker__V1__TouchSessionResponse *tsr = NULL;
	Cachebroker__V1__CheckRateLimitRequest rl =
	    CACHEBROKER__V1__CHECK_RATE_LIMIT_REQUEST__INIT;
	Cachebroker__V1__CheckRateLimitResponse *rlr = NULL;
	const char *const        keys[]  = { "ttl:set", "ttl:many", "ttl:incr",
		        "ttl:exp", "auth:session:ttl-u", "auth:rate-limit:ttl-s" };
	static const char *const names[] = { "Set", "SetMany", "Increment",
		"Expire", "PutSession", "TouchSession", "CheckRateLimit" };
	cb_status                st[7];
	cb_result                res[7];
	int64_t                  v;
	bool                     updated;
	char                     bad[1024] = "";

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		it_redis_int("DEL %s", keys[i]);
	}
	it_redis_ok("SET ttl:exp v");
	it_redis_ok("SET auth:session:ttl-t s PX 60000");
	st[0]             = it_set("ttl", "set", "v", 1, ttl_ms, ALWAYS, NULL);
	res[0].message[0] = '\0';
	e.key             = "many";
	e.value.data      = (uint8_t *) "v";
	e.value.len       = 1;
	e.ttl_ms          = ttl_ms;
	sm.namespace_     = "ttl";
	sm.entries        = ep;
	sm.n_entries      = 1;
	st[1] = cb_cache_set_many(it_env->client, &sm, &smr, NULL, &res[1]);
	cb_message_free(smr);
	st[2]        = increment("ttl", "incr", 1, ttl_ms, NULL, &v, &res[2]);
	st[3]        = expire("ttl", "exp", ttl_ms, &updated, &res[3]);
	ps.user_id   = "ttl-u";
	ps.data.data = (uint8_t *) "d";
	ps.data.len  = 1;
	ps.ttl_ms    = ttl_ms;
	st[4] = cb_auth_put_session(it_env->client, &ps, &psr, NULL, &res[4]);
	cb_message_free(psr);
	ts.user_id = "ttl-t";
	ts.ttl_ms  = ttl_ms;
	st[5] =
	    cb_auth_touch_session(it_env->client, &ts, &tsr, NULL, &res[5]);
	cb_message_free(tsr);
	rl.subject   = "ttl-s";
	rl.limit     = 10;
	rl.window_ms = ttl_ms;
	st[6] =
	    cb_auth_check_rate_limit(it_env->client, &rl, &rlr, NULL, &res[6]);
	cb_message_free(rlr);
	for (size_t i = 0; i < 7; i++) {
		size_t n = strlen(bad);
		if (st[i] != want) {
			snprintf(bad + n, sizeof(bad) - n, "%s got %s (%s); ",
			    names[i], cb_status_str(st[i]),
			    i == 0 ? "" : res[i].message);
		}
	}
	ck_assert_msg(bad[0] == '\0', "with %s, want %s: %s", what,
	    cb_status_str(want), bad);
	if (want == CB_OK) {
		it_assert_ttl_near("ttl:set", ttl_ms);
		it_assert_ttl_near("ttl:many", ttl_ms);
		it_assert_ttl_near("ttl:incr", ttl_ms);
		it_assert_ttl_near("ttl:exp", ttl_ms);
		it_assert_ttl_near("auth:session:ttl-u", ttl_ms);
		it_assert_ttl_near("auth:session:ttl-t", ttl_ms);
		ck_assert(it_exists("auth:rate-limit:ttl-s"));
	} else {
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			ck_assert_msg(!it_exists(keys[i]) ||
			        strcmp(keys[i], "ttl:exp") == 0,
			    "%s with %s: %s was written", names[i], what,
			    keys[i]);
		}
		ck_assert_int_eq(it_pttl("ttl:exp"), -1);
		ck_assert_int_le(it_pttl("auth:session:ttl-t"), 60000);
	}
}

/* TTLs past max_ttl (366 days by default) are INVALID_ARGUMENT, not
 * INTERNAL from Redis or a key that outlives the operator's bound. */
CBH_TEST(test_ttl_bounds)
{
	ttl_round(INT64_C(1) << 62, CB_INVALID_ARGUMENT, "ttl 2^62");
	ttl_round(INT64_MAX, CB_INVALID_ARGUMENT, "ttl 2^63-1");
	ttl_round(366 * DAY_MS + 1, CB_INVALID_ARGUMENT, "ttl max_ttl + 1");
	ttl_round(366 * DAY_MS, CB_OK, "ttl max_ttl");
	ttl_round(60000, CB_OK, "ttl 1 min");
}

static void
setup_max_ttl(void)
{
	it_setup_config("[policy]\nmax_ttl = 2h\n"
	                "[auth]\nmax_token_lifetime = 2h\nsession_ttl = 1h\n");
}

/* A configured max_ttl; RevokeToken's TTL (expires_at - now) is held to
 * it too, refused rather than cut short (a shorter blacklist entry would
 * let the token back in). */
CBH_TEST(test_ttl_bounds_configured)
{
	Cachebroker__V1__RevokeTokenRequest rt =
	    CACHEBROKER__V1__REVOKE_TOKEN_REQUEST__INIT;
	Cachebroker__V1__RevokeTokenResponse *rtr = NULL;
	cb_result                             res;
	cb_status                             st;

	ttl_round(HOURS2_MS + 1, CB_INVALID_ARGUMENT, "ttl max_ttl + 1");
	ttl_round(HOURS2_MS, CB_OK, "ttl max_ttl");
	/* Within max_token_lifetime and its 5 minutes of clock skew, but
	 * past max_ttl. */
	rt.token_id   = "tok";
	rt.expires_at = (int64_t) time(NULL) + HOURS2_MS / 1000 + 120;
	st = cb_auth_revoke_token(it_env->client, &rt, &rtr, NULL, &res);
	IT_ASSERT_CODE(st, CB_INVALID_ARGUMENT, &res);
	ck_assert(!it_exists("auth:blacklist:tok"));
	rt.expires_at = (int64_t) time(NULL) + HOURS2_MS / 1000 - 60;
	st = cb_auth_revoke_token(it_env->client, &rt, &rtr, NULL, &res);
	IT_ASSERT_CODE(st, CB_OK, &res);
	cb_message_free(rtr);
	ck_assert(it_exists("auth:blacklist:tok"));
}

/* Increment's script goes by EVALSHA once Redis has it, and is sent
 * whole again when Redis forgot it (SCRIPT FLUSH, a restart). */
CBH_TEST(test_increment_script_survives_flush)
{
	int64_t   v = 0;
	cb_result res;

	it_redis_ok("CONFIG RESETSTAT");
	IT_ASSERT_CODE(
	    increment("tasks", "s", 1, 0, NULL, &v, &res), CB_OK, &res);
	IT_ASSERT_CODE(
	    increment("tasks", "s", 1, 0, NULL, &v, &res), CB_OK, &res);
	IT_ASSERT_CODE(
	    increment("tasks", "s", 1, 0, NULL, &v, &res), CB_OK, &res);
	ck_assert_int_eq(v, 3);
	/* The first went as EVAL (with SCRIPT LOAD ahead of it); the next
	 * ones by digest. */
	ck_assert_int_ge(
	    it_info_stat("commandstats", "cmdstat_evalsha", "calls"), 1);
	ck_assert_int_le(
	    it_info_stat("commandstats", "cmdstat_eval", "calls"), 1);
	ck_assert_int_eq(
	    it_info_stat("errorstats", "errorstat_NOSCRIPT", "count"), 0);

	it_redis_ok("SCRIPT FLUSH");
	IT_ASSERT_CODE(
	    increment("tasks", "s", 10, 60000, NULL, &v, &res), CB_OK, &res);
	ck_assert_int_eq(v, 13);
	ck_assert_int_eq(
	    it_info_stat("errorstats", "errorstat_NOSCRIPT", "count"), 1);
	it_assert_ttl_near("tasks:s", 60000);
	IT_ASSERT_CODE(
	    increment("tasks", "s", 1, 0, NULL, &v, &res), CB_OK, &res);
	ck_assert_int_eq(v, 14);
}
END_TEST

static Suite *
cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc;

	tc = it_tcase("cache");
	tcase_add_test(tc, test_get_set_binary);
	tcase_add_test(tc, test_get_missing);
	tcase_add_test(tc, test_set_ttl);
	tcase_add_test(tc, test_set_no_ttl);
	tcase_add_test(tc, test_set_if_absent);
	tcase_add_test(tc, test_set_if_present);
	tcase_add_test(tc, test_set_condition_unspecified);
	tcase_add_test(tc, test_get_many);
	tcase_add_test(tc, test_set_many);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_increment);
	tcase_add_test(tc, test_increment_ttl);
	tcase_add_test(tc, test_increment_not_integer);
	tcase_add_test(tc, test_expire);
	tcase_add_test(tc, test_invalidate_pattern);
	tcase_add_test(tc, test_invalidate_neighbours);
	tcase_add_test(tc, test_invalidate_many);
	tcase_add_test(tc, test_ttl_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("max_ttl");
	tcase_add_checked_fixture(tc, setup_max_ttl, it_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ttl_bounds_configured);
	suite_add_tcase(s, tc);

	tc = it_tcase("scripts");
	tcase_add_test(tc, test_increment_script_survives_flush);
	suite_add_tcase(s, tc);

	tc = it_tcase("request_id");
	tcase_add_test(tc, test_request_id_increment);
	tcase_add_test(tc, test_request_id_delete);
	suite_add_tcase(s, tc);

	tc = tcase_create("key_prefix");
	tcase_add_checked_fixture(tc, setup_prefix, it_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_prefix_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("db");
	tcase_add_checked_fixture(tc, setup_db3, it_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_db_select);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(cache_suite()));
}

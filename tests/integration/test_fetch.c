/* SPDX-License-Identifier: MIT */
/* Read-through: CacheService/Fetch against a real PostgreSQL and Redis. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "it.h"

#define DEGRADED CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_DEGRADED
#define FROM_CACHE CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE
#define FROM_LOADER CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_LOADER

/* One PostgreSQL for the whole suite: initdb costs seconds. */
static cbh_pg *pg;

/*
 * The loaders call functions that count their calls in "calls", so that
 * tests can count database queries, and sleep for delay.seconds, so that
 * tests can hold a load in flight.
 */
static const char schema[] =
    "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);"
    "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 500) g;"
    "CREATE TABLE calls (n int NOT NULL);"
    "INSERT INTO calls VALUES (0);"
    "CREATE TABLE delay (seconds float NOT NULL);"
    "INSERT INTO delay VALUES (0);"
    "CREATE FUNCTION profile(uid int) RETURNS text AS $$ BEGIN"
    "  UPDATE calls SET n = n + 1;"
    "  PERFORM pg_sleep((SELECT seconds FROM delay));"
    "  RETURN (SELECT row_to_json(u)::text FROM users u WHERE u.id = uid);"
    " END $$ LANGUAGE plpgsql;";

static const char policy[] =
    "[broker]\n"
    "default_deadline = 10s\n"
    "[database]\n"
    "conninfo = %s\n"
    "connections = 4\n"
    "statement_timeout = 800ms\n"
    "[resource users.profile]\n"
    "key = users:profile:{user_id}\n"
    "param = user_id int\n"
    "sql = SELECT profile($1)\n"
    "ttl = 1h\n"
    "negative_ttl = 30s\n"
    "[resource users.echo]\n"
    "key = users:echo:{q}\n"
    "param = q text\n"
    "sql = SELECT json_build_object('q', $1::text)::text\n"
    "ttl = 1m\n"
    "[resource users.slow]\n"
    "key = users:slow:{user_id}\n"
    "param = user_id int\n"
    "sql = SELECT pg_sleep(5)::text || $1\n"
    "ttl = 1m\n"
    "[resource users.stale]\n"
    "key = users:stale:{user_id}\n"
    "param = user_id int\n"
    "sql = SELECT profile($1)\n"
    "ttl = 1s\n"
    "stale_if_error = 1m\n"
    "[resource users.hot]\n"
    "key = users:hot:{user_id}\n"
    "param = user_id int\n"
    "sql = SELECT profile($1)\n"
    "ttl = 2s\n"
    "early_refresh = 10\n"
    "[resource schedules.day]\n"
    "key = schedules:day:{date}\n"
    "param = date date\n"
    "sql = SELECT json_build_object('d', $1::date)::text\n"
    "ttl = by-date {date} past 24h today 30m future 2h\n"
    "[resource reports.perf]\n"
    "key = reports:perf:{period}\n"
    "param = period text\n"
    "sql = SELECT json_build_object('p', $1::text)::text\n"
    "ttl = by-period {period} realtime 5m daily 1h historical 24h\n";

static void
pg_sql(const char *sql)
{
	it_pg_sql(pg, sql);
}

static long
pg_long(const char *sql)
{
	return it_pg_long(pg, sql);
}

static long
calls(void)
{
	return pg_long("SELECT n FROM calls");
}

static void
suite_setup(void)
{
	if (!cbh_pg_available()) {
		return;
	}
	ck_assert_int_eq(cbh_pg_start(&pg), 0);
	pg_sql(schema);
}

static void
suite_teardown(void)
{
	cbh_pg_free(pg);
	pg = NULL;
}

static void
setup(void)
{
	char conf[8192];

	if (pg == NULL) {
		it_setup();
		return;
	}
	pg_sql("UPDATE calls SET n = 0; UPDATE delay SET seconds = 0;");
	snprintf(conf, sizeof(conf), policy, cbh_pg_conninfo(pg));
	it_setup_config(conf);
}

static bool
need_pg(void)
{
	if (pg == NULL) {
		cbh_skip("PostgreSQL (initdb, pg_ctl, user postgres) is not "
		         "installed");
		return false;
	}
	return true;
}

typedef struct fetch_call {
	const char                     *resource;
	const char                     *name;
	const char                     *value;
	bool                            refresh;
	uint32_t                        timeout_ms;
	cb_status                       st;
	cb_result                       res;
	Cachebroker__V1__FetchResponse *resp;
	pthread_t                       tid;
} fetch_call;

#define FETCH(r, n, v)                                     \
	(fetch_call)                                       \
	{                                                  \
		.resource = (r), .name = (n), .value = (v) \
	}

static cb_status
fetch(fetch_call *f)
{
	Cachebroker__V1__FetchRequest req =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry e =
	    CACHEBROKER__V1__FETCH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry *ep[1] = { &e };
	cb_callopts co = { .timeout_ms = f->timeout_ms };

	req.resource = (char *) f->resource;
	e.key        = (char *) f->name;
	e.value      = (char *) f->value;
	req.n_params = f->name != NULL ? 1 : 0;
	req.params   = ep;
	req.refresh  = f->refresh;
	f->resp      = NULL;
	f->st = cb_cache_fetch(it_env->client, &req, &f->resp, &co, &f->res);
	return f->st;
}

static void *
fetch_thread(void *arg)
{
	fetch((fetch_call *) arg);
	return NULL;
}

/* assert_value checks a fetched value (bytes, not NUL-terminated). */
static void
assert_value(const fetch_call *f, const char *want)
{
	ck_assert_msg(f->resp->value.len == strlen(want) &&
	        memcmp(f->resp->value.data, want, strlen(want)) == 0,
	    "got '%.*s', want '%s'", (int) f->resp->value.len,
	    (const char *) f->resp->value.data, want);
}

static void
fetch_done(fetch_call *f)
{
	cb_message_free(f->resp);
	f->resp = NULL;
}

CBH_TEST(test_miss_then_hit)
{
	fetch_call f = FETCH("users.profile", "user_id", "42");
	long long  ttl;

	if (!need_pg()) {
		return;
	}
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	ck_assert_int_eq(f.resp->source, FROM_LOADER);
	ck_assert_str_eq(f.res.x_cache, "miss");
	ck_assert_str_eq(f.resp->key, "users:profile:42");
	assert_value(&f, "{\"id\":42,\"name\":\"user 42\"}");
	/* Stored with the resource's TTL, give or take the 10% jitter. */
	ttl = it_pttl("users:profile:42");
	ck_assert_msg(
	    ttl > 3240000 - 2000 && ttl <= 3960000, "pttl %lld", ttl);
	ck_assert_int_eq(f.resp->ttl_ms > 3240000 - 2000, 1);
	fetch_done(&f);

	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	ck_assert_int_eq(f.resp->source, FROM_CACHE);
	ck_assert_str_eq(f.res.x_cache, "hit");
	assert_value(&f, "{\"id\":42,\"name\":\"user 42\"}");
	fetch_done(&f);
	ck_assert_int_eq(calls(), 1);
}
END_TEST

CBH_TEST(test_not_found_is_cached)
{
	fetch_call f = FETCH("users.profile", "user_id", "9999");
	Cachebroker__V1__GetResponse *g = NULL;
	long long                     ttl;

	if (!need_pg()) {
		return;
	}
	IT_ASSERT_CODE(fetch(&f), CB_NOT_FOUND, &f.res);
	IT_ASSERT_CODE(fetch(&f), CB_NOT_FOUND, &f.res);
	/* The second answer came from the negative entry. */
	ck_assert_int_eq(calls(), 1);
	ttl = it_pttl("users:profile:9999");
	ck_assert_msg(ttl > 0 && ttl <= 30000, "pttl %lld", ttl);
	/* Get does not see the marker as a value. */
	ck_assert_int_eq(it_get("users", "profile:9999", &g), CB_OK);
	ck_assert_int_eq(g->found, 0);
	cb_message_free(g);
	/* A refresh looks again. */
	pg_sql("INSERT INTO users VALUES (9999, 'late')");
	f.refresh = true;
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	assert_value(&f, "{\"id\":9999,\"name\":\"late\"}");
	fetch_done(&f);
	f.refresh = false;
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	ck_assert_int_eq(f.resp->source, FROM_CACHE);
	fetch_done(&f);
	ck_assert_int_eq(calls(), 2);
	pg_sql("DELETE FROM users WHERE id = 9999");
}
END_TEST

#define STAMPEDE 200

CBH_TEST(test_single_flight)
{
	static fetch_call fs[STAMPEDE];
	int               from_loader = 0;

	if (!need_pg()) {
		return;
	}
	pg_sql("UPDATE delay SET seconds = 0.5");
	for (int i = 0; i < STAMPEDE; i++) {
		fs[i] = FETCH("users.profile", "user_id", "7");
		ck_assert_int_eq(
		    pthread_create(&fs[i].tid, NULL, fetch_thread, &fs[i]), 0);
	}
	for (int i = 0; i < STAMPEDE; i++) {
		ck_assert_int_eq(pthread_join(fs[i].tid, NULL), 0);
	}
	for (int i = 0; i < STAMPEDE; i++) {
		IT_ASSERT_CODE(fs[i].st, CB_OK, &fs[i].res);
		assert_value(&fs[i], "{\"id\":7,\"name\":\"user 7\"}");
		from_loader += fs[i].resp->source == FROM_LOADER;
		fetch_done(&fs[i]);
	}
	/* However many missed, one query ran. */
	ck_assert_int_eq(calls(), 1);
	ck_assert_int_ge(from_loader, 1);
}
END_TEST

CBH_TEST(test_invalidation_during_load_is_not_stored)
{
	fetch_call f = FETCH("users.profile", "user_id", "8");
	Cachebroker__V1__DeleteRequest d =
	    CACHEBROKER__V1__DELETE_REQUEST__INIT;
	Cachebroker__V1__DeleteResponse *dr     = NULL;
	char                            *keys[] = { "profile:8" };
	cb_result                        res;

	if (!need_pg()) {
		return;
	}
	pg_sql("UPDATE delay SET seconds = 0.5");
	ck_assert_int_eq(pthread_create(&f.tid, NULL, fetch_thread, &f), 0);
	cbh_sleep_ms(200); /* the load is running */
	/* A writer changes the row and invalidates the key. */
	pg_sql("UPDATE users SET name = 'renamed' WHERE id = 8");
	d.namespace_ = "users";
	d.n_keys     = 1;
	d.keys       = keys;
	IT_ASSERT_CODE(
	    cb_cache_delete(it_env->client, &d, &dr, NULL, &res), CB_OK, &res);
	cb_message_free(dr);
	ck_assert_int_eq(pthread_join(f.tid, NULL), 0);
	IT_ASSERT_CODE(f.st, CB_OK, &f.res);
	fetch_done(&f);
	/* What the load read may predate the change: it was not stored. */
	ck_assert(!it_exists("users:profile:8"));
	pg_sql("UPDATE delay SET seconds = 0");
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	assert_value(&f, "{\"id\":8,\"name\":\"renamed\"}");
	fetch_done(&f);
	pg_sql("UPDATE users SET name = 'user 8' WHERE id = 8");
}
END_TEST

CBH_TEST(test_redis_down_answers_from_database)
{
	fetch_call f = FETCH("users.profile", "user_id", "9");
	Cachebroker__V1__HealthResponse *h;

	if (!need_pg() || cbh_redis_external(it_env->redis)) {
		return;
	}
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGTERM), 0);
	for (int i = 0; i < 50; i++) {
		h = it_health();
		if (!h->redis->connected) {
			cb_message_free(h);
			break;
		}
		cb_message_free(h);
		cbh_sleep_ms(100);
	}
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	ck_assert_str_eq(f.res.x_cache, "degraded");
	ck_assert_int_eq(f.resp->source, FROM_LOADER);
	ck_assert_int_eq(f.resp->ttl_ms, 0);
	fetch_done(&f);
	h = it_health();
	ck_assert_int_eq(h->status, DEGRADED);
	ck_assert_int_eq(h->database->connected, 1);
	cb_message_free(h);
}
END_TEST

CBH_TEST(test_statement_timeout)
{
	fetch_call f  = FETCH("users.slow", "user_id", "1");
	int64_t    t0 = cbh_now_ms();

	if (!need_pg()) {
		return;
	}
	IT_ASSERT_CODE(fetch(&f), CB_DEADLINE_EXCEEDED, &f.res);
	ck_assert_msg(cbh_now_ms() - t0 < 3000, "took %lld ms",
	    (long long) (cbh_now_ms() - t0));
	ck_assert(!it_exists("users:slow:1"));

	/* A failed load is not remembered: the next Fetch loads again. */
	pg_sql("UPDATE delay SET seconds = 1.5");
	f = FETCH("users.profile", "user_id", "14");
	IT_ASSERT_CODE(fetch(&f), CB_DEADLINE_EXCEEDED, &f.res);
	pg_sql("UPDATE delay SET seconds = 0");
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	ck_assert_int_eq(f.resp->source, FROM_LOADER);
	fetch_done(&f);
}
END_TEST

CBH_TEST(test_parameters_are_data)
{
	fetch_call f = FETCH("users.echo", "q", "x');DROP_TABLE_users;--");

	if (!need_pg()) {
		return;
	}
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	assert_value(&f, "{\"q\" : \"x');DROP_TABLE_users;--\"}");
	fetch_done(&f);
	f.value = "1;DELETE FROM users";
	IT_ASSERT_CODE(fetch(&f), CB_INVALID_ARGUMENT, &f.res);
	ck_assert_int_eq(pg_long("SELECT count(*) FROM users"), 500);
}
END_TEST

CBH_TEST(test_bad_requests)
{
	fetch_call f = FETCH("users.nope", "user_id", "1");

	if (!need_pg()) {
		return;
	}
	IT_ASSERT_CODE(fetch(&f), CB_INVALID_ARGUMENT, &f.res);
	f = FETCH("users.profile", "id", "1");
	IT_ASSERT_CODE(fetch(&f), CB_INVALID_ARGUMENT, &f.res);
	f = FETCH("users.profile", NULL, NULL);
	IT_ASSERT_CODE(fetch(&f), CB_INVALID_ARGUMENT, &f.res);
	f = FETCH("users.profile", "user_id", "4x");
	IT_ASSERT_CODE(fetch(&f), CB_INVALID_ARGUMENT, &f.res);
	ck_assert_int_eq(calls(), 0);
}
END_TEST

/* raw_fetch sends Fetch of resource with user_id = value through a raw
 * envelope whose one '~' becomes sub (the client library could not send
 * a NUL: protobuf-c packs strings up to their first one). */
static int
raw_fetch(const char *resource, const char *value, char sub)
{
	Cachebroker__V1__FetchRequest req =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry e =
	    CACHEBROKER__V1__FETCH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry *ep[1] = { &e };
	Cachebroker__V1__Response                  *resp  = NULL;
	nng_socket                                  s;
	uint8_t                                    *buf;
	uint8_t                                    *tilde;
	size_t                                      len;
	int                                         code;

	req.resource = (char *) resource;
	e.key        = "user_id";
	e.value      = (char *) value;
	req.params   = ep;
	req.n_params = 1;
	ck_assert_int_eq(cbh_raw_pack(IT_METHOD("CacheService/Fetch"),
	                     &req.base, 5000, NULL, &buf, &len),
	    0);
	ck_assert_ptr_nonnull(tilde = memchr(buf, '~', len));
	*tilde = (uint8_t) sub;
	ck_assert_int_eq(
	    cbh_raw_open(&s, cbh_broker_url(it_env->broker), 10000), 0);
	ck_assert_int_eq(cbh_raw_call(s, buf, len, &resp), 0);
	nng_close(s);
	free(buf);
	code = resp->status != NULL ? resp->status->code : 0;
	cachebroker__v1__response__free_unpacked(resp, NULL);
	return code;
}

/* user_id = "42\0junk" was cut to "42" after the check and loaded user
 * 42; bytes that are not UTF-8 never reach the database either. */
CBH_TEST(test_nul_in_params)
{
	static const char subs[] = { '\0', (char) 0xff };

	if (!need_pg()) {
		return;
	}
	for (size_t i = 0; i < sizeof(subs); i++) {
		int code = raw_fetch("users.profile", "42~junk", subs[i]);
		ck_assert_msg(code == CB_INVALID_ARGUMENT,
		    "user_id 42, byte 0x%02x, junk: got %s", subs[i] & 0xff,
		    cb_status_str(code));
		code = raw_fetch("users.echo", "x~", subs[i]);
		ck_assert_msg(code == CB_INVALID_ARGUMENT,
		    "echo x, byte 0x%02x: got %s", subs[i] & 0xff,
		    cb_status_str(code));
	}
	ck_assert_int_eq(calls(), 0);
	ck_assert(!it_exists("users:profile:42"));
	ck_assert_int_eq(it_redis_int("DBSIZE"), 0);
}
END_TEST

CBH_TEST(test_cli_fetch)
{
	char out[512];

	if (!need_pg()) {
		return;
	}
	ck_assert_int_eq(
	    it_cli("fetch users.profile user_id=21", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"id\":21,\"name\":\"user 21\"}\n");
	ck_assert_int_eq(
	    it_cli("--json fetch users.profile user_id=21", out, sizeof(out)),
	    0);
	ck_assert_ptr_nonnull(strstr(out, "\"source\":\"cache\""));
	ck_assert_int_eq(it_cli("fetch users.profile user_id=9998 2>/dev/null",
	                     out, sizeof(out)),
	    1);
	ck_assert_int_eq(it_cli("--json fetch users.profile user_id=21 "
	                        "--refresh",
	                     out, sizeof(out)),
	    0);
	ck_assert_ptr_nonnull(strstr(out, "\"source\":\"loader\""));
}
END_TEST

/* ttl_near asserts a PTTL within the 10% jitter of want_ms. */
static void
ttl_near(const char *key, long long want_ms)
{
	long long ttl = it_pttl(key);

	ck_assert_msg(
	    ttl > want_ms * 9 / 10 - 2000 && ttl <= want_ms * 11 / 10,
	    "%s: pttl %lld, want about %lld", key, ttl, want_ms);
}

CBH_TEST(test_ttl_rules)
{
	fetch_call  f = FETCH("schedules.day", "date", NULL);
	char        day[3][16];
	time_t      now        = time(NULL);
	long long   want[3]    = { 86400000, 1800000, 7200000 };
	const char *periods[3] = { "realtime", "daily", "historical" };
	long long   pwant[3]   = { 300000, 3600000, 86400000 };
	char        key[64];

	if (!need_pg()) {
		return;
	}
	/* Yesterday, today and tomorrow in the broker's zone (UTC). */
	for (int i = 0; i < 3; i++) {
		time_t    t = now + (time_t) (i - 1) * 86400;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(day[i], sizeof(day[i]), "%Y-%m-%d", &tm);
		f.value = day[i];
		IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
		fetch_done(&f);
		snprintf(key, sizeof(key), "schedules:day:%s", day[i]);
		ttl_near(key, want[i]);
	}
	for (int i = 0; i < 3; i++) {
		f = FETCH("reports.perf", "period", periods[i]);
		IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
		fetch_done(&f);
		snprintf(key, sizeof(key), "reports:perf:%s", periods[i]);
		ttl_near(key, pwant[i]);
	}
	f = FETCH("reports.perf", "period", "weekly");
	IT_ASSERT_CODE(fetch(&f), CB_INVALID_ARGUMENT, &f.res);
}
END_TEST

CBH_TEST(test_early_refresh)
{
	fetch_call f = FETCH("users.hot", "user_id", "11");
	int64_t    t0;

	if (!need_pg()) {
		return;
	}
	pg_sql("UPDATE delay SET seconds = 0.3");
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	fetch_done(&f);
	ck_assert_int_eq(calls(), 1);
	/* Hits for longer than the TTL: the loads run ahead of expiry, so
	 * every one of them is a hit. */
	t0 = cbh_now_ms();
	while (cbh_now_ms() - t0 < 3500) {
		IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
		ck_assert_msg(f.resp->source == FROM_CACHE,
		    "a miss after %lld ms", (long long) (cbh_now_ms() - t0));
		fetch_done(&f);
		cbh_sleep_ms(50);
	}
	ck_assert_int_ge(calls(), 2);
}
END_TEST

/* Stops PostgreSQL: the last test of the suite that needs it running is
 * the one before; it is started again at the end. */
CBH_TEST(test_stale_if_error)
{
	fetch_call f = FETCH("users.stale", "user_id", "12");
	long long  ttl;

	if (!need_pg()) {
		return;
	}
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	ck_assert_int_le(f.resp->ttl_ms, 1100);
	fetch_done(&f);
	/* Kept past its TTL for the stale window. */
	ttl = it_pttl("users:stale:12");
	ck_assert_msg(ttl > 55000, "pttl %lld", ttl);
	cbh_sleep_ms(1300); /* expired (1 s + 10% jitter) */
	ck_assert_int_eq(cbh_pg_stop(pg), 0);
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	ck_assert_int_eq(
	    f.resp->source, CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_STALE);
	ck_assert_str_eq(f.res.x_cache, "stale");
	assert_value(&f, "{\"id\":12,\"name\":\"user 12\"}");
	fetch_done(&f);
	/* Without a stale value, the failure shows. */
	f = FETCH("users.profile", "user_id", "13");
	ck_assert_int_eq(fetch(&f), CB_UNAVAILABLE);
	ck_assert_int_eq(cbh_pg_restart(pg), 0);
}
END_TEST

static Suite *
fetch_suite(void)
{
	Suite *s = suite_create("fetch");
	/* Not it_tcase: its fixture starts the servers without our policy. */
	TCase *tc = tcase_create("fetch");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, setup, it_teardown);
	tcase_add_test(tc, test_miss_then_hit);
	tcase_add_test(tc, test_not_found_is_cached);
	tcase_add_test(tc, test_single_flight);
	tcase_add_test(tc, test_invalidation_during_load_is_not_stored);
	tcase_add_test(tc, test_redis_down_answers_from_database);
	tcase_add_test(tc, test_statement_timeout);
	tcase_add_test(tc, test_parameters_are_data);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_nul_in_params);
	tcase_add_test(tc, test_ttl_rules);
	tcase_add_test(tc, test_cli_fetch);
	tcase_add_test(tc, test_early_refresh);
	tcase_add_test(tc, test_stale_if_error);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(fetch_suite());
}

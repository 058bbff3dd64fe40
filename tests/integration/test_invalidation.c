/* SPDX-License-Identifier: MIT */
/* Invalidation that survives failures, and warming: the journal (Redis
 * away), PostgreSQL NOTIFY (and its lost notifications), warm strategies.
 * Real Redis, real PostgreSQL, the real socket. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "it.h"

/* users: what the loader reads; a trigger notifies every write. calls:
 * how many loads ran. */
static const char schema[] =
    "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);"
    "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 200) g;"
    "CREATE TABLE calls (n int NOT NULL);"
    "INSERT INTO calls VALUES (0);"
    "CREATE FUNCTION profile(uid int) RETURNS text AS $$ BEGIN"
    "  UPDATE calls SET n = n + 1;"
    "  RETURN (SELECT row_to_json(u)::text FROM users u WHERE u.id = uid);"
    " END $$ LANGUAGE plpgsql;"
    "CREATE FUNCTION users_notify() RETURNS trigger AS $$ BEGIN"
    "  PERFORM pg_notify('cb_test', json_build_object('event',"
    "    'users.updated', 'params',"
    "    json_build_object('user_id', COALESCE(NEW.id, OLD.id)))::text);"
    "  RETURN NULL;"
    " END $$ LANGUAGE plpgsql;"
    "CREATE TRIGGER users_notify AFTER INSERT OR UPDATE OR DELETE ON users"
    "  FOR EACH ROW EXECUTE FUNCTION users_notify();";

static const char policy[] =
    "[broker]\n"
    "default_deadline = 5s\n"
    "[redis]\n"
    "reconnect_min = %s\n"
    "reconnect_max = %s\n"
    "journal_size = %d\n"
    "[database]\n"
    "conninfo = %s\n"
    "connections = 2\n"
    "notify_channel = cb_test\n"
    "[resource users.profile]\n"
    "key = users:profile:{user_id}\n"
    "param = user_id int\n"
    "sql = SELECT profile($1)\n"
    "ttl = 1h\n"
    "[event users.updated]\n"
    "param = user_id int\n"
    "invalidate = users:profile:{user_id}\n"
    "invalidate = users:all\n"
    "[warm users.first-fifty]\n"
    "resource = users.profile\n"
    "sql = SELECT id AS user_id FROM users WHERE id <= 50\n"
    "startup = %s\n"
    "concurrency = 4\n"
    "[warm broken]\n"
    "resource = users.profile\n"
    "sql = SELECT no_such_column FROM users\n"
    "startup = no\n"
    "[warm wrong-columns]\n"
    "resource = users.profile\n"
    "sql = SELECT id FROM users\n"
    "startup = no\n";

static void
suite_setup(void)
{
	it_pg_start(schema);
}

/* Redis that keeps what it had across a restart, so that a value an
 * invalidation missed is really there when Redis comes back. */
static const cbh_redis_opts durable = {
	.config = "appendonly yes\nappendfsync always\n",
};

/* wait_journal_empty polls Metrics until nothing waits for Redis. */
static void
wait_journal_empty(void)
{
	for (int i = 0; i < 100; i++) {
		Cachebroker__V1__MetricsResponse *m = it_metrics();
		uint64_t                          n = m->journal_items;
		cb_message_free(m);
		if (n == 0) {
			return;
		}
		cbh_sleep_ms(50);
	}
	ck_abort_msg("the journal did not empty within 5 s");
}

/* start_with runs the servers with the policy: the reconnect backoff (of
 * Redis and the database), journal_size, startup of a warm strategy. */
static void
start_with(const char *reconnect_min, const char *reconnect_max,
    int journal_size, const char *startup)
{
	char            conf[4096];
	cbh_broker_opts bo = { .config = conf };
	cbh_env_opts    eo = { .broker = &bo, .redis = &durable };

	snprintf(conf, sizeof(conf), policy, reconnect_min, reconnect_max,
	    journal_size, cbh_pg_conninfo(it_pg), startup);
	it_pg_sql(it_pg, "UPDATE calls SET n = 0");
	it_env = NULL;
	ck_assert_msg(cbh_env_start(&it_env, &eo) == 0,
	    "could not start Redis and the broker (see above)");
	/* The first LISTEN invalidates what the event rules cover, and
	 * blocks their namespaces until that is done: wait for both (an
	 * empty journal alone may be the one before LISTEN began). */
	it_wait_listening();
}

static void
start(int journal_size, const char *startup)
{
	start_with("50ms", "200ms", journal_size, startup);
}

static cb_status
fetch_profile(const char *id, Cachebroker__V1__FetchResponse **resp)
{
	Cachebroker__V1__FetchRequest req =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry e =
	    CACHEBROKER__V1__FETCH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry *ep[1] = { &e };
	cb_result                                   res;

	req.resource = "users.profile";
	e.key        = "user_id";
	e.value      = (char *) id;
	req.n_params = 1;
	req.params   = ep;
	*resp        = NULL;
	return cb_cache_fetch(it_env->client, &req, resp, NULL, &res);
}

/* kill_redis stops Redis hard: nothing of what follows reaches it. */
static void
kill_redis(void)
{
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGKILL), 0);
}

/* aof_has says whether the stopped Redis' append-only file (appendfsync
 * always) holds a command naming key. */
static bool
aof_has(const char *key)
{
	char  path[600];
	char *text = NULL;
	bool  found;

	snprintf(path, sizeof(path),
	    "%s/appendonlydir/appendonly.aof.1.incr.aof",
	    cbh_redis_dir(it_env->redis));
	ck_assert_msg(cbh_file_read(path, &text, NULL) == 0, "read %s", path);
	found = strstr(text, key) != NULL;
	free(text);
	return found;
}

static void
restart_redis(void)
{
	ck_assert_int_eq(cbh_redis_restart(it_env->redis), 0);
	it_redis_reconnect();
}

/*
 * A Delete and a Publish while Redis is down answer UNAVAILABLE at once;
 * Redis comes back with the old values (it persisted them); the broker
 * never serves them: reads of the namespace fail until the journal is
 * applied, then the values are gone.
 */
CBH_TEST(test_journal_replays_before_reads)
{
	char                             *keys[] = { "profile:1" };
	cb_result                         res;
	cb_status                         st;
	int64_t                           t0;
	Cachebroker__V1__GetResponse     *get;
	Cachebroker__V1__MetricsResponse *m;

	if (!it_need_pg()) {
		return;
	}
	start(1000, "no");
	it_set_str("users", "profile:1", "old-1");
	it_set_str("users", "profile:2", "old-2");
	it_set_str("tasks", "recent", "kept");
	kill_redis();

	t0 = cbh_now_ms();
	st = it_delete("users", keys, 1, NULL, NULL, &res);
	IT_ASSERT_CODE(st, CB_UNAVAILABLE, &res);
	st = it_publish("users.updated", "user_id", "2", NULL, &res);
	IT_ASSERT_CODE(st, CB_UNAVAILABLE, &res);
	ck_assert_int_lt(cbh_now_ms() - t0, 1000);

	/* The scenario is real: the old values are in the append-only file
	 * that the restarted Redis loads. (Checked in the file: once Redis
	 * is up, the broker may replay its journal before the test looks.) */
	ck_assert(aof_has("users:profile:1"));
	ck_assert(aof_has("users:profile:2"));
	/* Both wait in the journal. (Not "a read after the restart answers
	 * UNAVAILABLE": the broker may reconnect and replay before the test
	 * reads.) */
	m = it_metrics();
	ck_assert_uint_ge(m->journal_items, 2);
	cb_message_free(m);
	restart_redis();
	/* From now on, a read answers UNAVAILABLE or NOT_FOUND, never the
	 * old value. */
	for (int i = 0; i < 200; i++) {
		get = NULL;
		st  = it_get("users", "profile:1", &get);
		if (st == CB_OK) {
			ck_assert_msg(!get->found,
			    "served the value that an "
			    "invalidation removed");
			cb_message_free(get);
			break;
		}
		ck_assert_int_eq(st, CB_UNAVAILABLE);
		cbh_sleep_ms(20);
	}
	wait_journal_empty();
	ck_assert(!it_exists("users:profile:1"));
	ck_assert(!it_exists("users:profile:2"));
	ck_assert(!it_exists("users:all"));
	/* Another namespace was never blocked nor touched. */
	it_get_str("tasks", "recent", "kept");
}

/* A journal too small for what failed flushes the namespace whole. */
CBH_TEST(test_journal_overflow_flushes_namespace)
{
	char     *keys[] = { "a", "b", "c", "d", "e" };
	cb_result res;

	if (!it_need_pg()) {
		return;
	}
	start(2, "no");
	it_set_str("users", "a", "1");
	it_set_str("users", "unrelated", "2");
	it_set_str("tasks", "other", "3");
	kill_redis();
	IT_ASSERT_CODE(it_delete("users", keys, 5, NULL, NULL, &res),
	    CB_UNAVAILABLE, &res);
	restart_redis();
	/* Not "users:unrelated still exists" here: the broker may already
	 * have reconnected and replayed. That Redis kept its data is shown
	 * by tasks:other below. */
	wait_journal_empty();
	/* Flushed whole: even keys nobody named. */
	ck_assert(!it_exists("users:a"));
	ck_assert(!it_exists("users:unrelated"));
	ck_assert(it_exists("tasks:other"));
}

/* wait_gone polls Redis until key is gone, at most 3 s. */
static void
wait_gone(const char *key)
{
	for (int i = 0; i < 150 && it_exists(key); i++) {
		cbh_sleep_ms(20);
	}
	ck_assert_msg(!it_exists(key), "%s was not invalidated", key);
}

/* A write through SQL, by any program, invalidates through NOTIFY. */
CBH_TEST(test_notify_invalidates)
{
	Cachebroker__V1__FetchResponse   *f;
	Cachebroker__V1__MetricsResponse *m;

	if (!it_need_pg()) {
		return;
	}
	start(1000, "no");
	ck_assert_int_eq(fetch_profile("7", &f), CB_OK);
	cb_message_free(f);
	ck_assert(it_exists("users:profile:7"));
	it_pg_sql(it_pg, "UPDATE users SET name = 'renamed' WHERE id = 7");
	wait_gone("users:profile:7");
	ck_assert_int_eq(fetch_profile("7", &f), CB_OK);
	ck_assert_ptr_nonnull(strstr((char *) f->value.data, "renamed"));
	cb_message_free(f);
	/* Cached again. (A Fetch that ran while the sweep was finishing is
	 * answered but not stored: the stale-set guard. Fetch until one
	 * stores.) */
	for (int i = 0; i < 50 && !it_exists("users:profile:7"); i++) {
		cbh_sleep_ms(20);
		ck_assert_int_eq(fetch_profile("7", &f), CB_OK);
		cb_message_free(f);
	}
	ck_assert(it_exists("users:profile:7"));
	/* A payload that is not an event is counted, not applied. */
	it_pg_sql(it_pg, "SELECT pg_notify('cb_test', 'not json')");
	for (int i = 0; i < 100; i++) {
		m = it_metrics();
		if (m->notification_errors > 0) {
			break;
		}
		cb_message_free(m);
		m = NULL;
		cbh_sleep_ms(20);
	}
	ck_assert_ptr_nonnull(m);
	ck_assert(m->notify_listening);
	ck_assert_uint_ge(m->notifications, 2);
	cb_message_free(m);
	ck_assert(it_exists("users:profile:7"));
	/* The catch-up when LISTEN started blocked 'users' until applied:
	 * normal work, said at info; a warning is for a failed sweep. */
	ck_assert_int_ge(it_log_count("level=info component=journal "
	                              "msg=\"'users' has invalidations"),
	    1);
	ck_assert_int_eq(it_log_count("level=warning component=journal"), 0);
}

/* A writer that renames users 100..119 in a loop, by SQL, as any
 * program would, until told to stop. */
typedef struct writer {
	atomic_int stop;
	long       writes;
	pthread_t  tid;
} writer;

static void *
writer_run(void *arg)
{
	writer *w = arg;
	PGconn *c = PQconnectdb(cbh_pg_conninfo(it_pg));
	char    sql[128];

	while (PQstatus(c) == CONNECTION_OK && !atomic_load(&w->stop)) {
		snprintf(sql, sizeof(sql),
		    "UPDATE users SET name = 'v%ld' WHERE id = %ld", w->writes,
		    100 + w->writes % 20);
		PQclear(PQexec(c, sql));
		w->writes++;
	}
	PQfinish(c);
	return NULL;
}

/* fetch_matches_db says whether Fetch of id answers the name the
 * database has now. */
static bool
fetch_matches_db(long id)
{
	Cachebroker__V1__FetchResponse *f;
	char                            ids[16];
	char                            sql[96];
	char                            want[64];
	bool                            same;
	PGconn   *c = PQconnectdb(cbh_pg_conninfo(it_pg));
	PGresult *r;

	snprintf(
	    sql, sizeof(sql), "SELECT name FROM users WHERE id = %ld", id);
	r = PQexec(c, sql);
	ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(want, sizeof(want), "\"%s\"", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	snprintf(ids, sizeof(ids), "%ld", id);
	ck_assert_int_eq(fetch_profile(ids, &f), CB_OK);
	same = strstr((char *) f->value.data, want) != NULL;
	cb_message_free(f);
	return same;
}

/*
 * The LISTEN connection is killed while writes go on, and the writes stop
 * before it is back: the notifications of the last write of every user
 * are lost. Yet after the reconnect no stale value is served, because
 * the broker invalidates everything the rules cover.
 */
CBH_TEST(test_notify_reconnect_invalidates_covered)
{
	Cachebroker__V1__FetchResponse *f;
	writer                          w = { 0 };
	char                            sql[128];
	long                            killed;

	if (!it_need_pg()) {
		return;
	}
	/* Reconnects wait 0.5 to 1 s: writes go on in that gap. */
	start_with("1s", "2s", 1000, "no");
	ck_assert_int_eq(pthread_create(&w.tid, NULL, writer_run, &w), 0);
	cbh_sleep_ms(200);
	killed = it_pg_long(it_pg,
	    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	    "WHERE query LIKE 'LISTEN%'");
	ck_assert_int_eq(killed, 1);
	/* In the gap: users 150..169 are cached, then written; nobody
	 * hears of those writes. */
	for (long i = 150; i < 170; i++) {
		snprintf(sql, sizeof(sql), "%ld", i);
		ck_assert_int_eq(fetch_profile(sql, &f), CB_OK);
		cb_message_free(f);
		snprintf(sql, sizeof(sql),
		    "UPDATE users SET name = 'in the gap' WHERE id = %ld", i);
		it_pg_sql(it_pg, sql);
	}
	atomic_store(&w.stop, 1);
	pthread_join(w.tid, NULL);
	ck_assert_int_gt(w.writes, 20);
	it_wait_listening();
	/* Allow the last writes' notifications to arrive (a few ms). */
	for (long i = 100; i < 170; i = i == 119 ? 150 : i + 1) {
		int tries = 0;
		while (!fetch_matches_db(i) && ++tries < 50) {
			cbh_sleep_ms(20);
		}
		ck_assert_msg(tries < 50, "user %ld: stale value served", i);
	}
}

static Cachebroker__V1__WarmResponse *
warm(char **names, size_t n)
{
	Cachebroker__V1__WarmRequest req = CACHEBROKER__V1__WARM_REQUEST__INIT;
	Cachebroker__V1__WarmResponse *resp = NULL;
	cb_callopts                    co   = { .timeout_ms = 20000 };
	cb_result                      res;
	cb_status                      st;

	req.strategies   = names;
	req.n_strategies = n;
	st = cb_warm_warm(it_env->client, &req, &resp, &co, &res);
	IT_ASSERT_CODE(st, CB_OK, &res);
	return resp;
}

/* Warm loads every row once per run, stores with the TTL rule; a broken
 * strategy reports its error without stopping the others. */
CBH_TEST(test_warm_counts_and_errors)
{
	Cachebroker__V1__WarmResponse *w;
	char                          *one[] = { "users.first-fifty" };
	long long                      pttl;

	if (!it_need_pg()) {
		return;
	}
	start(1000, "no");
	w = warm(NULL, 0);
	ck_assert_uint_eq(w->n_results, 3);
	ck_assert_str_eq(w->results[0]->strategy, "users.first-fifty");
	ck_assert_uint_eq(w->results[0]->keys, 50);
	ck_assert_uint_eq(w->results[0]->errors, 0);
	ck_assert_str_eq(w->results[0]->error, "");
	ck_assert_str_eq(w->results[1]->strategy, "broken");
	ck_assert_ptr_nonnull(strstr(w->results[1]->error, "listing query"));
	ck_assert_str_eq(w->results[2]->strategy, "wrong-columns");
	ck_assert_ptr_nonnull(strstr(w->results[2]->error, "user_id"));
	cb_message_free(w);
	ck_assert_int_eq(it_count_keys("users:profile:*"), 50);
	pttl = it_pttl("users:profile:50");
	/* 1h with the ±10% jitter. */
	ck_assert_int_gt(pttl, 3000000);
	ck_assert_int_le(pttl, 3960000);
	ck_assert_int_eq(it_pg_long(it_pg, "SELECT n FROM calls"), 50);

	/* Idempotent: the same keys again, nothing else. */
	w = warm(one, 1);
	ck_assert_uint_eq(w->n_results, 1);
	ck_assert_uint_eq(w->results[0]->keys, 50);
	cb_message_free(w);
	ck_assert_int_eq(it_count_keys("users:profile:*"), 50);
	ck_assert_int_eq(it_pg_long(it_pg, "SELECT n FROM calls"), 100);
}

/* Start-up warming runs once the broker serves, and shows in metrics,
 * the log and the CLI's table. */
CBH_TEST(test_warm_at_startup)
{
	Cachebroker__V1__MetricsResponse *m = NULL;
	static char                       out[65536];

	if (!it_need_pg()) {
		return;
	}
	start(1000, "yes");
	for (int i = 0; i < 250; i++) {
		m = it_metrics();
		if (m->n_warm == 3 && m->warm[0]->runs == 1) {
			break;
		}
		cb_message_free(m);
		m = NULL;
		cbh_sleep_ms(20);
	}
	ck_assert_msg(m != NULL, "start-up warming did not finish in 5 s");
	ck_assert_str_eq(m->warm[0]->strategy, "users.first-fifty");
	ck_assert_uint_eq(m->warm[0]->last->keys, 50);
	ck_assert_uint_eq(m->warm[1]->runs, 0); /* startup = no */
	cb_message_free(m);
	ck_assert_int_eq(it_count_keys("users:profile:*"), 50);

	ck_assert_int_eq(
	    it_cli("warm users.first-fifty", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "STRATEGY") != NULL &&
	        strstr(out, "users.first-fifty") != NULL &&
	        strstr(out, " 50 ") != NULL,
	    "%s", out);
	ck_assert_int_eq(it_cli("metrics --json", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out,
	                  "\"warm\":[{\"strategy\":\"users.first-fifty\""
	                  ",\"runs\":2") != NULL,
	    "%s", out);
	ck_assert_int_eq(it_cli("metrics", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "WARM STRATEGY") != NULL &&
	        strstr(out, "notify:    listening") != NULL,
	    "%s", out);
	ck_assert_int_eq(it_cli("warm broken", out, sizeof(out)), 3);
	ck_assert_int_eq(it_cli("warm nosuch", out, sizeof(out)), 3);
}

static Suite *
invalidation_suite(void)
{
	Suite *s  = suite_create("invalidation");
	TCase *tc = tcase_create("invalidation");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, suite_setup, it_pg_stop);
	tcase_add_checked_fixture(tc, NULL, it_teardown);
	tcase_add_test(tc, test_journal_replays_before_reads);
	tcase_add_test(tc, test_journal_overflow_flushes_namespace);
	tcase_add_test(tc, test_notify_invalidates);
	tcase_add_test(tc, test_notify_reconnect_invalidates_covered);
	tcase_add_test(tc, test_warm_counts_and_errors);
	tcase_add_test(tc, test_warm_at_startup);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(invalidation_suite());
}

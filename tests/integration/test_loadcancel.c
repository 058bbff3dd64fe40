/* SPDX-License-Identifier: MIT */
/* Abandoned loads: a Fetch whose deadline passes cancels its query. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "it.h"

/*
 * The loader of lk.row reads a table the test locks from its own
 * connection: the query waits for the lock, up to the 30 s
 * statement_timeout. free.echo reads no table.
 */
static const char schema[] =
    "CREATE TABLE locked (id int PRIMARY KEY, v text NOT NULL);"
    "INSERT INTO locked SELECT g, 'row ' || g FROM generate_series(1, 9) g;";

/* Two loader connections: three abandoned loads would hold both (and
 * queue the third) for 30 s if nobody cancelled them. */
static const char policy[] =
    "[broker]\n"
    "default_deadline = 10s\n"
    "max_deadline = 60s\n"
    "[database]\n"
    "connections = 2\n"
    "statement_timeout = 30s\n"
    "[resource lk.row]\n"
    "key = lk:row:{id}\n"
    "param = id int\n"
    "sql = SELECT json_build_object('v', v)::text FROM locked WHERE id = $1\n"
    "ttl = 1h\n"
    "negative_ttl = 1h\n"
    "[resource free.echo]\n"
    "key = free:echo:{q}\n"
    "param = q text\n"
    "sql = SELECT json_build_object('q', $1::text)::text\n"
    "ttl = 1h\n";

/* Abandoned Fetches: more than the pool has connections. */
#define ABANDONED 3

/* The longest the broker's queries may stay after the last answer. */
#define GONE_MS 100

static void
suite_setup(void)
{
	it_pg_start(schema);
}

static void
setup(void)
{
	it_setup_pg(policy);
}

typedef struct fetch_call {
	const char                     *resource;
	const char                     *name;
	char                            value[32];
	uint32_t                        timeout_ms;
	cb_status                       st;
	cb_result                       res;
	Cachebroker__V1__FetchResponse *resp;
	int64_t                         answered_ms;
	pthread_t                       tid;
} fetch_call;

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
	e.value      = f->value;
	req.n_params = 1;
	req.params   = ep;
	f->resp      = NULL;
	f->st = cb_cache_fetch(it_env->client, &req, &f->resp, &co, &f->res);
	f->answered_ms = cbh_now_ms();
	return f->st;
}

static void *
fetch_thread(void *arg)
{
	fetch((fetch_call *) arg);
	return NULL;
}

/* locker_open takes an exclusive lock on the loader's table, held by an
 * open transaction on a connection of its own. */
static PGconn *
locker_open(void)
{
	PGconn   *c = PQconnectdb(cbh_pg_conninfo(it_pg));
	PGresult *res;

	ck_assert_msg(
	    PQstatus(c) == CONNECTION_OK, "locker: %s", PQerrorMessage(c));
	res = PQexec(c, "BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE");
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "lock: %s",
	    PQresultErrorMessage(res));
	PQclear(res);
	return c;
}

static void
locker_close(PGconn *c)
{
	PGresult *res = PQexec(c, "COMMIT");

	PQclear(res);
	PQfinish(c);
}

/* broker_queries counts the broker's queries on the locked table that
 * are running (the poller's own query and the locker's excluded). */
static long
broker_queries(int locker_pid)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
	    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
	    "AND pid NOT IN (pg_backend_pid(), %d) "
	    "AND query LIKE '%%FROM locked%%'",
	    locker_pid);
	return it_pg_long(it_pg, sql);
}

/* wait_gone polls until the broker runs no query on the locked table;
 * returns the milliseconds since since, or -1 after 5 s. */
static int64_t
wait_gone(int locker_pid, int64_t since)
{
	int64_t t0 = cbh_now_ms();

	while (cbh_now_ms() - t0 < 5000) {
		if (broker_queries(locker_pid) == 0) {
			return cbh_now_ms() - since;
		}
		cbh_sleep_ms(5);
	}
	return -1;
}

static uint64_t
ns_cancelled(const char *ns)
{
	Cachebroker__V1__MetricsResponse *m = it_metrics();
	uint64_t                          n = 0;

	for (size_t i = 0; i < m->n_namespaces; i++) {
		if (strcmp(m->namespaces[i]->namespace_, ns) == 0) {
			n = m->namespaces[i]->loads_cancelled;
		}
	}
	cb_message_free(m);
	return n;
}

CBH_TEST(test_abandoned_load_is_cancelled)
{
	static fetch_call fs[ABANDONED];
	fetch_call        echo = { .resource = "free.echo",
		       .name                 = "q",
		       .value                = "after",
		       .timeout_ms           = 2000 };
	PGconn           *locker;
	int               locker_pid;
	int64_t           answered = 0;
	int64_t           gone_ms;

	if (!it_need_pg()) {
		return;
	}
	locker     = locker_open();
	locker_pid = PQbackendPID(locker);
	for (int i = 0; i < ABANDONED; i++) {
		fs[i] = (fetch_call) {
			.resource = "lk.row", .name = "id", .timeout_ms = 200
		};
		snprintf(fs[i].value, sizeof(fs[i].value), "%d", i + 1);
		ck_assert_int_eq(
		    pthread_create(&fs[i].tid, NULL, fetch_thread, &fs[i]), 0);
	}
	for (int i = 0; i < ABANDONED; i++) {
		ck_assert_int_eq(pthread_join(fs[i].tid, NULL), 0);
		IT_ASSERT_CODE(fs[i].st, CB_DEADLINE_EXCEEDED, &fs[i].res);
		answered = fs[i].answered_ms > answered ? fs[i].answered_ms
		                                        : answered;
	}
	/* Nobody waits for those loads any more: their queries go. */
	gone_ms = wait_gone(locker_pid, answered);
	cbh_log("abandoned queries gone %lld ms after the last answer",
	    (long long) gone_ms);
	ck_assert_msg(gone_ms >= 0,
	    "the broker's queries still run %lld ms after their callers "
	    "were answered",
	    (long long) (cbh_now_ms() - answered));
	ck_assert_msg(gone_ms <= GONE_MS,
	    "the broker's queries ran %lld ms after the last answer",
	    (long long) gone_ms);

	/* The connections serve other work while the lock is still held. */
	IT_ASSERT_CODE(fetch(&echo), CB_OK, &echo.res);
	ck_assert_int_eq((int) echo.resp->value.len, 15);
	cb_message_free(echo.resp);

	/* A cancelled load is not a "no row": nothing was cached, nor
	 * logged as an error; it is counted. */
	for (int i = 0; i < ABANDONED; i++) {
		char key[32];
		snprintf(key, sizeof(key), "lk:row:%s", fs[i].value);
		ck_assert_msg(!it_exists(key), "%s was cached", key);
	}
	ck_assert_int_eq(it_log_count("57014"), 0);
	ck_assert_int_eq(it_log_count("canceling statement"), 0);
	ck_assert_int_eq(ns_cancelled("lk"), ABANDONED);

	/* Once the lock goes, the same keys load on the same connections. */
	locker_close(locker);
	for (int i = 0; i < ABANDONED; i++) {
		fs[i].timeout_ms = 5000;
		IT_ASSERT_CODE(fetch(&fs[i]), CB_OK, &fs[i].res);
		cb_message_free(fs[i].resp);
	}
	ck_assert_int_eq(ns_cancelled("lk"), ABANDONED);
}
END_TEST

/* A load that a waiter still waits for is not cancelled when another
 * waiter of the same flight gives up. */
CBH_TEST(test_load_with_waiters_runs_on)
{
	fetch_call short_call = { .resource = "lk.row",
		.name                       = "id",
		.value                      = "5",
		.timeout_ms                 = 200 };
	fetch_call long_call  = { .resource = "lk.row",
		 .name                      = "id",
		 .value                     = "5",
		 .timeout_ms                = 10000 };
	PGconn    *locker;

	if (!it_need_pg()) {
		return;
	}
	locker = locker_open();
	ck_assert_int_eq(
	    pthread_create(&long_call.tid, NULL, fetch_thread, &long_call), 0);
	cbh_sleep_ms(100); /* the load is running: the next one joins it */
	IT_ASSERT_CODE(
	    fetch(&short_call), CB_DEADLINE_EXCEEDED, &short_call.res);
	cbh_sleep_ms(300);
	locker_close(locker);
	ck_assert_int_eq(pthread_join(long_call.tid, NULL), 0);
	IT_ASSERT_CODE(long_call.st, CB_OK, &long_call.res);
	ck_assert_int_eq(long_call.resp->source,
	    CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_LOADER);
	cb_message_free(long_call.resp);
	ck_assert(it_exists("lk:row:5"));
	ck_assert_int_eq(ns_cancelled("lk"), 0);
}
END_TEST

/* Rounds of abandon-then-serve in test_cancel_then_next_query. */
#define ROUNDS 20

/*
 * A statement already prepared is cancelled while it runs (the first
 * test cancels PREPAREs: they wait for the lock too), and the query the
 * connection runs right after is served, not cancelled in its place.
 */
CBH_TEST(test_cancel_then_next_query)
{
	fetch_call f    = { .resource = "lk.row",
		   .name              = "id",
		   .value             = "9",
		   .timeout_ms        = 5000 };
	fetch_call echo = {
		.resource = "free.echo", .name = "q", .timeout_ms = 5000
	};
	PGconn *locker;
	int     locker_pid;
	int64_t gone_ms;

	if (!it_need_pg()) {
		return;
	}
	/* Prepared on the first connection, which takes the next query. */
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	cb_message_free(f.resp);
	locker     = locker_open();
	locker_pid = PQbackendPID(locker);
	for (int i = 0; i < ROUNDS; i++) {
		f.timeout_ms = 100;
		/* Never cached: a cancelled load stores nothing. */
		snprintf(f.value, sizeof(f.value), "%d", 1 + i % 8);
		IT_ASSERT_CODE(fetch(&f), CB_DEADLINE_EXCEEDED, &f.res);
		snprintf(echo.value, sizeof(echo.value), "r%d", i);
		IT_ASSERT_CODE(fetch(&echo), CB_OK, &echo.res);
		cb_message_free(echo.resp);
	}
	gone_ms = wait_gone(locker_pid, cbh_now_ms());
	ck_assert_msg(gone_ms >= 0, "abandoned queries still run");
	locker_close(locker);
	ck_assert_int_eq(ns_cancelled("lk"), ROUNDS);
	ck_assert_int_eq(it_log_count("level=error"), 0);
	f.timeout_ms = 5000;
	IT_ASSERT_CODE(fetch(&f), CB_OK, &f.res);
	cb_message_free(f.resp);
}
END_TEST

static Suite *
loadcancel_suite(void)
{
	Suite *s  = suite_create("loadcancel");
	TCase *tc = tcase_create("loadcancel");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, suite_setup, it_pg_stop);
	tcase_add_checked_fixture(tc, setup, it_teardown);
	tcase_add_test(tc, test_abandoned_load_is_cancelled);
	tcase_add_test(tc, test_load_with_waiters_runs_on);
	tcase_add_test(tc, test_cancel_then_next_query);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(loadcancel_suite());
}

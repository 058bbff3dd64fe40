/* SPDX-License-Identifier: MIT */
/* SIGHUP: the policy swapped live under load, a bad file rejected whole. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "it.h"

/* Load threads, and the ids their Fetches and Publishes cycle through;
 * the tests read ids above IDS_LOADED as never loaded before. The
 * Publishes invalidate another namespace than the Fetches read: every
 * invalidation of a namespace keeps the loads that began before it from
 * storing (the stale-set guard), and the tests read what was stored. */
#define LOADERS 4
#define IDS_LOADED 200

static const char schema[] =
    "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);"
    "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 500) g;";

/* What the broker starts with (it_setup_pg adds the conninfo). */
static const char policy[] =
    "[broker]\n"
    "default_deadline = 20s\n"
    "[database]\n"
    "connections = 3\n"
    "[resource users.profile]\n"
    "key = users:profile:{user_id}\n"
    "param = user_id int\n"
    "sql = SELECT row_to_json(u)::text FROM users u WHERE u.id = $1\n"
    "ttl = 1h\n"
    "[event users.updated]\n"
    "param = user_id int\n"
    "invalidate = users:profile:{user_id}\n"
    "[event audit.updated]\n"
    "param = user_id int\n"
    "invalidate = audit:user:{user_id}\n";

/*
 * The first reload: a changed TTL rule and SQL (a new statement for the
 * database pool), a new resource and a new event rule, a changed
 * statement_timeout, and a changed listener, which needs a restart.
 * %d is that listener's port.
 */
static const char change[] =
    "[broker]\n"
    "listen = tcp://127.0.0.1:%d\n"
    "[database]\n"
    "statement_timeout = 3s\n"
    "[resource users.profile]\n"
    "sql = SELECT (SELECT row_to_json(u)::text FROM users u WHERE u.id = "
    "$1)\n"
    "ttl = 3h\n"
    "[resource users.name]\n"
    "key = users:name:{user_id}\n"
    "param = user_id int\n"
    "sql = SELECT json_build_object('name', name)::text FROM users "
    "WHERE id = $1\n"
    "ttl = 10m\n"
    "[event users.renamed]\n"
    "param = user_id int\n"
    "invalidate = users:name:{user_id}\n";

/* The second reload: three errors, each on its own line. */
static const char broken[] = "[broker]\n"
                             "max_key_size = lots\n"
                             "[resource users.broken]\n"
                             "key = users:broken:{id}\n"
                             "param = id int\n"
                             "sql = SELECT $1::text\n"
                             "ttl = 5 minutes\n"
                             "[event users.nothing]\n"
                             "param = x int\n";

/* ---- The load: Get, Fetch and Publish from several threads ---- */

static struct {
	pthread_t       tid[LOADERS];
	atomic_bool     stop;
	atomic_long     calls[3]; /* Get, Fetch, Publish */
	atomic_long     failed;
	pthread_mutex_t mtx; /* protects first */
	char            first[400];
} load = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static void
load_failed(const char *what, const cb_result *res)
{
	if (atomic_fetch_add(&load.failed, 1) == 0) {
		pthread_mutex_lock(&load.mtx);
		snprintf(load.first, sizeof(load.first), "%s: %s: %s", what,
		    cb_status_str(res->code), res->message);
		pthread_mutex_unlock(&load.mtx);
	}
}

/* fetch_one calls Fetch of resource with user_id id. */
static cb_status
fetch_one(const char *resource, int id, Cachebroker__V1__FetchResponse **out,
    cb_result *res)
{
	Cachebroker__V1__FetchRequest req =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry e =
	    CACHEBROKER__V1__FETCH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry *ep[1] = { &e };
	Cachebroker__V1__FetchResponse             *resp  = NULL;
	char                                        v[16];
	cb_status                                   st;

	snprintf(v, sizeof(v), "%d", id);
	req.resource = (char *) resource;
	e.key        = "user_id";
	e.value      = v;
	req.n_params = 1;
	req.params   = ep;
	st           = cb_cache_fetch(it_env->client, &req, &resp, NULL, res);
	if (out != NULL && st == CB_OK) {
		*out = resp;
	} else {
		cb_message_free(resp);
	}
	return st;
}

static void *
load_thread(void *arg)
{
	long      n = (long) (intptr_t) arg;
	char      key[32];
	char      id[16];
	cb_result res;

	snprintf(key, sizeof(key), "k%ld", n);
	for (long i = 0; !atomic_load(&load.stop); i++) {
		Cachebroker__V1__GetRequest get =
		    CACHEBROKER__V1__GET_REQUEST__INIT;
		Cachebroker__V1__GetResponse *gr = NULL;
		int uid = (int) ((i * LOADERS + n) % IDS_LOADED) + 1;

		switch (i % 3) {
		case 0:
			get.namespace_ = "load";
			get.key        = key;
			if (cb_cache_get(it_env->client, &get, &gr, NULL,
			        &res) != CB_OK ||
			    !gr->found) {
				load_failed("Get", &res);
			}
			cb_message_free(gr);
			break;
		case 1:
			if (fetch_one("users.profile", uid, NULL, &res) !=
			    CB_OK) {
				load_failed("Fetch", &res);
			}
			break;
		default:
			snprintf(id, sizeof(id), "%d", uid);
			if (it_publish("audit.updated", "user_id", id, NULL,
			        &res) != CB_OK) {
				load_failed("Publish", &res);
			}
			break;
		}
		atomic_fetch_add(&load.calls[i % 3], 1);
	}
	return NULL;
}

static void
load_start(void)
{
	char key[32];

	atomic_store(&load.stop, false);
	atomic_store(&load.failed, 0);
	for (int i = 0; i < 3; i++) {
		atomic_store(&load.calls[i], 0);
	}
	load.first[0] = '\0';
	for (long n = 0; n < LOADERS; n++) {
		snprintf(key, sizeof(key), "k%ld", n);
		it_set_str("load", key, "v");
	}
	for (long n = 0; n < LOADERS; n++) {
		ck_assert_int_eq(pthread_create(&load.tid[n], NULL,
		                     load_thread, (void *) (intptr_t) n),
		    0);
	}
}

/* load_stop ends the load and asserts that not one call failed and that
 * every kind of call ran throughout. */
static void
load_stop(void)
{
	atomic_store(&load.stop, true);
	for (int n = 0; n < LOADERS; n++) {
		pthread_join(load.tid[n], NULL);
	}
	cbh_log("load: %ld Get, %ld Fetch, %ld Publish, %ld failed",
	    atomic_load(&load.calls[0]), atomic_load(&load.calls[1]),
	    atomic_load(&load.calls[2]), atomic_load(&load.failed));
	ck_assert_msg(atomic_load(&load.failed) == 0,
	    "%ld calls failed during the reloads; the first: %s",
	    atomic_load(&load.failed), load.first);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(atomic_load(&load.calls[i]) >= 30,
		    "only %ld calls of kind %d ran",
		    atomic_load(&load.calls[i]), i);
	}
}

/* ---- The broker's configuration file and log ---- */

/* config_rewrite merges extra into the broker's configuration file. */
static void
config_rewrite(const char *extra)
{
	const char *path   = cbh_broker_config(it_env->broker);
	char       *text   = NULL;
	char       *merged = NULL;

	ck_assert_int_eq(cbh_file_read(path, &text, NULL), 0);
	ck_assert_int_eq(cbh_config_merge(&merged, text, extra), 0);
	ck_assert_int_eq(cbh_file_write(path, merged), 0);
	free(text);
	free(merged);
}

/* line_of is the number of the first line of the configuration file that
 * is exactly want. */
static int
line_of(const char *want)
{
	char  *text = NULL;
	int    n    = 1;
	size_t wlen = strlen(want);

	ck_assert_int_eq(
	    cbh_file_read(cbh_broker_config(it_env->broker), &text, NULL), 0);
	for (const char *l = text; *l != '\0'; n++) {
		const char *end = strchr(l, '\n');
		size_t      len = end != NULL ? (size_t) (end - l) : strlen(l);
		if (len == wlen && memcmp(l, want, len) == 0) {
			free(text);
			return n;
		}
		if (end == NULL) {
			break;
		}
		l = end + 1;
	}
	free(text);
	ck_abort_msg("no line '%s' in the configuration", want);
	return -1;
}

/* reload sends SIGHUP and waits until the log has one more line with
 * done in it than before. */
static void
reload(const char *done)
{
	int     before = it_log_count(done);
	int64_t t0     = cbh_now_ms();

	ck_assert_int_eq(cbh_broker_signal(it_env->broker, SIGHUP), 0);
	while (it_log_count(done) == before) {
		ck_assert_msg(cbh_now_ms() - t0 < 10000,
		    "no '%s' in the log 10 s after SIGHUP", done);
		cbh_sleep_ms(20);
	}
}

/* tcp_refused says whether nothing listens on 127.0.0.1:port. */
static bool
tcp_refused(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	int                rv;

	ck_assert_int_ge(fd, 0);
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rv                 = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
	close(fd);
	return rv != 0 && errno == ECONNREFUSED;
}

/* assert_profile_ttl fetches a users.profile nobody loaded before and
 * asserts that it was stored with a TTL between lo and hi ms. */
static void
assert_profile_ttl(int id, long long lo, long long hi)
{
	cb_result res;
	char      key[48];
	long long ttl;

	IT_ASSERT_CODE(
	    fetch_one("users.profile", id, NULL, &res), CB_OK, &res);
	snprintf(key, sizeof(key), "users:profile:%d", id);
	ttl = it_pttl(key);
	ck_assert_msg(ttl >= lo && ttl <= hi,
	    "%s has a TTL of %lld ms, want %lld .. %lld", key, ttl, lo, hi);
}

/* assert_name fetches users.name of id, which must say "user <id>". */
static void
assert_name(int id)
{
	Cachebroker__V1__FetchResponse *resp = NULL;
	cb_result                       res;
	char                            want[32];

	IT_ASSERT_CODE(fetch_one("users.name", id, &resp, &res), CB_OK, &res);
	snprintf(want, sizeof(want), "\"user %d\"", id);
	ck_assert_msg(memmem(resp->value.data, resp->value.len, want,
	                  strlen(want)) != NULL,
	    "users.name %d is '%.*s'", id, (int) resp->value.len,
	    (const char *) resp->value.data);
	cb_message_free(resp);
}

/* ---------------------------------------------------------------- */

#define HOUR_MS 3600000ll

CBH_TEST(test_reload_under_load)
{
	char      extra[sizeof(change) + 16];
	char      want[512];
	cb_result res;
	uint64_t  count = 0;
	int       port;
	int       lines[3];

	if (!it_need_pg()) {
		return;
	}
	/* Before: 1h ± 10% jitter, and no users.name. */
	assert_profile_ttl(
	    IDS_LOADED + 1, HOUR_MS * 8 / 10, HOUR_MS * 11 / 10);
	IT_ASSERT_CODE(
	    fetch_one("users.name", 1, NULL, &res), CB_INVALID_ARGUMENT, &res);
	load_start();
	cbh_sleep_ms(300);

	/* A valid change: in effect for the calls that follow. */
	ck_assert_int_eq(cbh_free_port(&port), 0);
	snprintf(extra, sizeof(extra), change, port);
	config_rewrite(extra);
	reload("policy generation 2 in effect");
	snprintf(want, sizeof(want), "listen: changed; restart to apply");
	ck_assert_int_eq(it_log_count(want), 1);
	ck_assert_msg(
	    tcp_refused(port), "the listener of the reloaded file was opened");
	assert_profile_ttl(
	    IDS_LOADED + 2, HOUR_MS * 27 / 10, HOUR_MS * 33 / 10);
	assert_name(7);
	IT_ASSERT_CODE(
	    it_publish("users.renamed", "user_id", "7", &count, &res), CB_OK,
	    &res);
	ck_assert_uint_eq(count, 1); /* users:name:7, fetched above */
	cbh_sleep_ms(300);

	/* An invalid file: every error logged with its line, nothing
	 * changes. */
	config_rewrite(broken);
	lines[0] = line_of("max_key_size = lots");
	lines[1] = line_of("ttl = 5 minutes");
	lines[2] = line_of("[event users.nothing]");
	reload("the configuration in effect is unchanged");
	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "component=reload msg=\"%s:%d: ",
		    cbh_broker_config(it_env->broker), lines[i]);
		ck_assert_msg(
		    it_log_count(want) == 1, "no log line '%s'", want);
	}
	snprintf(want, sizeof(want),
	    "component=reload msg=\"%s: 3 errors; the configuration in "
	    "effect is unchanged (policy generation 2)\"",
	    cbh_broker_config(it_env->broker));
	ck_assert_msg(it_log_count(want) == 1, "no summary line '%s'", want);
	assert_profile_ttl(
	    IDS_LOADED + 3, HOUR_MS * 27 / 10, HOUR_MS * 33 / 10);
	assert_name(8);
	IT_ASSERT_CODE(fetch_one("users.broken", 1, NULL, &res),
	    CB_INVALID_ARGUMENT, &res);
	cbh_sleep_ms(300);
	load_stop();
}

/* Settings that reload live reach nng's threads too: a lower
 * max_key_size refuses a key that was fine before, a lower max_ttl a
 * TTL. */
CBH_TEST(test_reload_limits)
{
	const Cachebroker__V1__SetCondition always =
	    CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS;
	const int64_t day_ms = 86400000;
	char          key[200];

	memset(key, 'a', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	ck_assert_int_eq(
	    it_set("limits", key, "v", 1, 0, always, NULL), CB_OK);
	ck_assert_int_eq(
	    it_set("limits", "day", "v", 1, day_ms + 1, always, NULL), CB_OK);
	config_rewrite("[broker]\nmax_key_size = 100\n"
	               "[policy]\nmax_ttl = 1d\n");
	reload("policy generation 2 in effect");
	ck_assert_int_eq(it_set("limits", key, "v", 1, 0, always, NULL),
	    CB_RESOURCE_EXHAUSTED);
	it_set_str("limits", "short", "v");
	ck_assert_int_eq(
	    it_set("limits", "day", "v", 1, day_ms + 1, always, NULL),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    it_set("limits", "day", "v", 1, day_ms, always, NULL), CB_OK);
	/* No setting of this file needs a restart. */
	ck_assert_int_eq(it_log_count("restart to apply"), 0);
}

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

static Suite *
reload_suite(void)
{
	Suite *s  = suite_create("reload");
	TCase *tc = it_tcase_with("reload", setup);

	tcase_add_unchecked_fixture(tc, suite_setup, it_pg_stop);
	tcase_add_test(tc, test_reload_under_load);
	tcase_add_test(tc, test_reload_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(reload_suite());
}

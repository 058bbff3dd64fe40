/* SPDX-License-Identifier: MIT */
/* The invalidation feed: pub0 messages for Delete, patterns and events. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "it.h"

/* A prefix, so that the tests see keys without it on the feed. */
static const char policy[] = "[redis]\n"
                             "key_prefix = app:\n"
                             "[event technicians.changed]\n"
                             "param = id int\n"
                             "invalidate = users:technician:{id}:*\n"
                             "invalidate = schedules:technician:{id}:*\n"
                             "invalidate = users:all-technicians\n";

/* The key each subscriber's first message is about (see feed_sync). */
#define PROBE_KEY "feed-probe"

/* How long a subscriber may take to connect, and a message to come. */
#define CONNECT_MS 10000
#define MESSAGE_MS 5000

/* Long enough for a message that was published to have arrived. */
#define QUIET_MS 500

static char *feed_dir;      /* the test's directory for the socket */
static char  feed_url[512]; /* ipc://feed_dir/feed.sock */

static void
setup(void)
{
	char config[2048];

	ck_assert_int_eq(cbh_tmpdir_create(&feed_dir, "feed"), 0);
	snprintf(feed_url, sizeof(feed_url), "ipc://%s/feed.sock", feed_dir);
	snprintf(config, sizeof(config), "[broker]\nfeed = %s\n%s", feed_url,
	    policy);
	it_setup_config(config);
}

static void
teardown(void)
{
	int rv;

	it_teardown();
	rv = cbh_tmpdir_remove(feed_dir);
	free(feed_dir);
	feed_dir = NULL;
	ck_assert_int_eq(rv, 0);
}

/* ---- calls ---- */

static cb_status
del(const char *ns, const char *const *keys, size_t n)
{
	Cachebroker__V1__DeleteRequest req =
	    CACHEBROKER__V1__DELETE_REQUEST__INIT;
	Cachebroker__V1__DeleteResponse *resp = NULL;
	cb_result                        res;
	cb_status                        st;

	req.namespace_ = (char *) ns;
	req.keys       = (char **) keys;
	req.n_keys     = n;
	st = cb_cache_delete(it_env->client, &req, &resp, NULL, &res);
	cb_message_free(resp);
	return st;
}

static cb_status
del1(const char *ns, const char *key)
{
	return del(ns, &key, 1);
}

static cb_status
invalidate(const char *ns, const char *pattern)
{
	Cachebroker__V1__InvalidatePatternRequest req =
	    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
	Cachebroker__V1__InvalidatePatternResponse *resp = NULL;
	cb_result                                   res;
	cb_status                                   st;

	req.namespace_ = (char *) ns;
	req.pattern    = (char *) pattern;
	st             = cb_cache_invalidate_pattern(
	                it_env->client, &req, &resp, NULL, &res);
	cb_message_free(resp);
	return st;
}

/* ---- subscribers ---- */

static bool
is_probe(const Cachebroker__V1__Invalidation *inv)
{
	return inv->n_keys == 1 && strcmp(inv->keys[0], PROBE_KEY) == 0;
}

/* feed_open subscribes to ns (NULL: everything). */
static cb_feed *
feed_open(const char *ns)
{
	cb_feed *f = NULL;

	ck_assert_int_eq(
	    cb_feed_open(&f, feed_url, &ns, ns != NULL ? 1 : 0), CB_OK);
	return f;
}

/*
 * feed_sync waits until f is connected. pub/sub drops what is published
 * before a subscriber's connection is up, so rather than sleep, it deletes
 * the probe key of ns until the probe's message comes through.
 */
static void
feed_sync(cb_feed *f, const char *ns)
{
	int64_t                        end = cbh_now_ms() + CONNECT_MS;
	Cachebroker__V1__Invalidation *inv;
	cb_status                      st;

	while (cbh_now_ms() < end) {
		ck_assert_int_eq(del1(ns, PROBE_KEY), CB_OK);
		st = cb_feed_recv(f, &inv, 100);
		if (st == CB_DEADLINE_EXCEEDED) {
			continue;
		}
		ck_assert_int_eq(st, CB_OK);
		if (is_probe(inv)) {
			cb_message_free(inv);
			return;
		}
		cb_message_free(inv);
	}
	ck_abort_msg(
	    "the subscriber did not connect within %d ms", CONNECT_MS);
}

/* feed_next returns the next message that is not a probe (a late probe
 * of feed_sync may still be queued), or NULL after timeout_ms. */
static Cachebroker__V1__Invalidation *
feed_next(cb_feed *f, int timeout_ms)
{
	int64_t                        end = cbh_now_ms() + timeout_ms;
	Cachebroker__V1__Invalidation *inv;
	cb_status                      st;
	int64_t                        left;

	while ((left = end - cbh_now_ms()) > 0) {
		st = cb_feed_recv(f, &inv, (int) left);
		if (st == CB_DEADLINE_EXCEEDED) {
			break;
		}
		ck_assert_msg(
		    st == CB_OK, "cb_feed_recv: %s", cb_status_str(st));
		if (!is_probe(inv)) {
			return inv;
		}
		cb_message_free(inv);
	}
	return NULL;
}

/* feed_expect asserts the next message: its namespace, its keys and
 * patterns as one comma-separated string each, its count. */
static void
feed_expect(cb_feed *f, const char *ns, const char *keys, const char *patterns,
    uint64_t removed)
{
	Cachebroker__V1__Invalidation *inv = feed_next(f, MESSAGE_MS);
	char                           got[2][512];
	char *const                   *lists[2];
	size_t                         counts[2];

	ck_assert_msg(inv != NULL, "no message about %s", ns);
	lists[0]  = inv->keys;
	counts[0] = inv->n_keys;
	lists[1]  = inv->patterns;
	counts[1] = inv->n_patterns;
	for (int l = 0; l < 2; l++) {
		got[l][0] = '\0';
		for (size_t i = 0; i < counts[l]; i++) {
			size_t len = strlen(got[l]);
			snprintf(got[l] + len, sizeof(got[l]) - len, "%s%s",
			    i > 0 ? "," : "", lists[l][i]);
		}
	}
	ck_assert_str_eq(inv->namespace_, ns);
	ck_assert_str_eq(got[0], keys);
	ck_assert_str_eq(got[1], patterns);
	ck_assert_uint_eq(inv->keys_removed, removed);
	cb_message_free(inv);
}

/* feed_quiet asserts that nothing (but probes) arrives for QUIET_MS. */
static void
feed_quiet(cb_feed *f)
{
	Cachebroker__V1__Invalidation *inv = feed_next(f, QUIET_MS);

	ck_assert_msg(inv == NULL, "unexpected message about %s",
	    inv != NULL ? inv->namespace_ : "");
}

/* ---------------------------------------------------------------- */

CBH_TEST(test_delete)
{
	static const char *const keys[] = { "profile:1", "profile:2",
		"profile:3" };
	cb_feed                 *f      = feed_open(NULL);

	feed_sync(f, "users");
	it_set_str("users", "profile:1", "a");
	it_set_str("users", "profile:2", "b");
	/* One message for the call; profile:3 did not exist. */
	ck_assert_int_eq(del("users", keys, 3), CB_OK);
	feed_expect(f, "users", "profile:1,profile:2,profile:3", "", 2);
	/* Nothing left to remove: still announced, with its count. */
	ck_assert_int_eq(del("users", keys, 2), CB_OK);
	feed_expect(f, "users", "profile:1,profile:2", "", 0);
	feed_quiet(f);
	cb_feed_close(f);
}
END_TEST

/* Each namespace numbers its messages from 1; every message names the
 * broker's start, so that a subscriber can tell a gap from a restart. */
CBH_TEST(test_sequence_numbers)
{
	static const char *const       k[] = { "k" };
	cb_feed                       *f   = feed_open(NULL);
	Cachebroker__V1__Invalidation *inv;
	uint64_t                       start;
	struct timespec                now;
	uint64_t                       now_ms;

	feed_sync(f, "users"); /* numbers "users" only */
	for (uint64_t want = 1; want <= 3; want++) {
		ck_assert_int_eq(del("seqns", k, 1), CB_OK);
		ck_assert_ptr_nonnull(inv = feed_next(f, MESSAGE_MS));
		ck_assert_str_eq(inv->namespace_, "seqns");
		ck_assert_uint_eq(inv->seq, want);
		if (want == 1) {
			start = inv->broker_start_ms;
		}
		ck_assert_uint_eq(inv->broker_start_ms, start);
		cb_message_free(inv);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	now_ms =
	    (uint64_t) now.tv_sec * 1000u + (uint64_t) now.tv_nsec / 1000000u;
	ck_assert_msg(start <= now_ms && now_ms - start < 600000,
	    "broker_start_ms %llu, now %llu", (unsigned long long) start,
	    (unsigned long long) now_ms);
	/* Another namespace has numbers of its own; "users" goes on. */
	ck_assert_int_eq(del("other", k, 1), CB_OK);
	ck_assert_ptr_nonnull(inv = feed_next(f, MESSAGE_MS));
	ck_assert_str_eq(inv->namespace_, "other");
	ck_assert_uint_eq(inv->seq, 1);
	cb_message_free(inv);
	cb_feed_close(f);
}
END_TEST

CBH_TEST(test_pattern)
{
	cb_feed *f = feed_open(NULL);

	feed_sync(f, "users");
	it_set_str("users", "technician:7:schedule", "a");
	it_set_str("users", "technician:7:active", "b");
	it_set_str("users", "technician:70:schedule", "keep");
	ck_assert_int_eq(invalidate("users", "technician:7:*"), CB_OK);
	feed_expect(f, "users", "", "technician:7:*", 2);
	it_get_str("users", "technician:70:schedule", "keep");
	cb_feed_close(f);
}
END_TEST

CBH_TEST(test_event_per_namespace)
{
	cb_feed  *f = feed_open(NULL);
	cb_result res;

	feed_sync(f, "users");
	it_set_str("users", "technician:7:schedule", "a");
	it_set_str("users", "all-technicians", "b");
	it_set_str("schedules", "technician:7:date:2026-11-26", "c");
	it_set_str("schedules", "technician:7:date:2026-11-27", "d");
	ck_assert_int_eq(
	    it_publish("technicians.changed", "id", "7", NULL, &res), CB_OK);
	/* One message per namespace, in the order of the rule. */
	feed_expect(f, "users", "all-technicians", "technician:7:*", 2);
	feed_expect(f, "schedules", "", "technician:7:*", 2);
	feed_quiet(f);
	cb_feed_close(f);
}
END_TEST

CBH_TEST(test_namespace_filter)
{
	cb_feed *users = feed_open("users");
	cb_feed *all   = feed_open(NULL);

	feed_sync(users, "users");
	feed_sync(all, "tasks");
	ck_assert_int_eq(del1("users2", "a"), CB_OK);
	ck_assert_int_eq(del1("tasks", "b"), CB_OK);
	ck_assert_int_eq(del1("users", "c"), CB_OK);
	/* "users\0" is not a prefix of "users2\0". */
	feed_expect(users, "users", "c", "", 0);
	feed_quiet(users);
	/* The others were published: the catch-all subscriber saw them. */
	feed_expect(all, "users2", "a", "", 0);
	feed_expect(all, "tasks", "b", "", 0);
	feed_expect(all, "users", "c", "", 0);
	cb_feed_close(users);
	cb_feed_close(all);
}
END_TEST

CBH_TEST(test_wire_format)
{
	nng_socket                     s;
	nng_msg                       *msg;
	Cachebroker__V1__Invalidation *inv;
	const uint8_t                 *body;
	int64_t                        end = cbh_now_ms() + CONNECT_MS;
	struct stat                    sb;
	int                            rv;

	/* "<ns>\0" + packed Invalidation, as docs/protocol.md says. */
	ck_assert_int_eq(nng_sub0_open(&s), 0);
	ck_assert_int_eq(
	    nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "tasks\0", 6), 0);
	ck_assert_int_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 100), 0);
	ck_assert_int_eq(nng_dial(s, feed_url, NULL, NNG_FLAG_NONBLOCK), 0);
	do {
		ck_assert_msg(
		    cbh_now_ms() < end, "no message on %s", feed_url);
		ck_assert_int_eq(del1("tasks", "order:9"), CB_OK);
		rv = nng_recvmsg(s, &msg, 0);
	} while (rv == NNG_ETIMEDOUT);
	ck_assert_int_eq(rv, 0);
	body = nng_msg_body(msg);
	ck_assert_uint_gt(nng_msg_len(msg), 6);
	ck_assert_mem_eq(body, "tasks\0", 6);
	inv = cachebroker__v1__invalidation__unpack(
	    NULL, nng_msg_len(msg) - 6, body + 6);
	ck_assert_ptr_nonnull(inv);
	ck_assert_str_eq(inv->namespace_, "tasks");
	ck_assert_uint_eq(inv->n_keys, 1);
	ck_assert_str_eq(inv->keys[0], "order:9");
	cb_message_free(inv);
	nng_msg_free(msg);
	nng_close(s);
	/* The socket file has the listeners' ipc_mode (the harness's). */
	ck_assert_int_eq(stat(feed_url + strlen("ipc://"), &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0660);
}
END_TEST

/* ---- the CLI ---- */

/* The CLI subscribes on its own: until it is connected, invalidations
 * are lost. This thread keeps making one until the CLI has printed. */
static atomic_int cli_done;

static void *
cli_feeder(void *arg)
{
	Cachebroker__V1__SetRequest   req = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__SetResponse *resp = NULL;
	cb_result                     res;

	(void) arg;
	req.namespace_ = "users";
	req.key        = "k";
	req.value.data = (uint8_t *) "v";
	req.value.len  = 1;
	while (!atomic_load(&cli_done)) {
		/* No Check assertions off the test's thread: the test
		 * checks what the CLI printed. */
		if (cb_cache_set(it_env->client, &req, &resp, NULL, &res) ==
		    CB_OK) {
			cb_message_free(resp);
			resp = NULL;
		}
		(void) del1("users", "k");
		cbh_sleep_ms(50);
	}
	return NULL;
}

/* cli_watch runs "cachebroker ARGS" (a watch that ends by itself) while
 * users/k is set and deleted over and over; returns its exit code. */
static int
cli_watch(const char *args, char *out, size_t cap)
{
	pthread_t th;
	int       rc;

	atomic_store(&cli_done, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, cli_feeder, NULL), 0);
	rc = it_cli(args, out, cap);
	atomic_store(&cli_done, 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	return rc;
}

CBH_TEST(test_cli_watch)
{
	char               args[1024];
	char               out[512];
	unsigned long long seq   = 0;
	unsigned long long start = 0;

	snprintf(args, sizeof(args),
	    "watch --count 1 --json --feed '%s' users", feed_url);
	ck_assert_int_eq(cli_watch(args, out, sizeof(out)), 0);
	/* (seq counts the feeder's earlier deletes too: any number.) */
	ck_assert_msg(sscanf(out,
	                  "{\"namespace\":\"users\",\"keys\":[\"k\"],"
	                  "\"patterns\":[],\"keys_removed\":1,\"seq\":%llu,"
	                  "\"broker_start_ms\":%llu}\n",
	                  &seq, &start) == 2 &&
	        seq >= 1 && start > 0,
	    "watch --json printed: %s", out);
	/* Text, and the URL from the environment. */
	setenv("CACHEBROKER_FEED_URL", feed_url, 1);
	ck_assert_int_eq(
	    cli_watch("watch --count 2 users tasks", out, sizeof(out)), 0);
	unsetenv("CACHEBROKER_FEED_URL");
	ck_assert_str_eq(
	    out, "users keys=k removed=1\nusers keys=k removed=1\n");
	/* Usage errors. */
	ck_assert_int_eq(it_cli("watch --count 0 2>/dev/null", out, 8), 2);
	ck_assert_int_eq(
	    it_cli("get users k --count 1 2>/dev/null", out, 8), 2);
	ck_assert_int_eq(
	    it_cli("watch --feed http://x 2>/dev/null", out, sizeof(out)), 3);
}
END_TEST

CBH_TEST(test_cli_stops_on_signal)
{
	char args[1024];
	char out[64];

	/* SIGTERM ends a watch with exit status 0 (it_cli's shell runs the
	 * line: the CLI in the background, then the signal). */
	snprintf(args, sizeof(args),
	    "watch --feed '%s' & pid=$!; sleep 1; kill -TERM $pid; "
	    "wait $pid; echo rc=$?",
	    feed_url);
	ck_assert_int_eq(it_cli(args, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "rc=0\n");
}
END_TEST

/* ---- failures ---- */

CBH_TEST(test_failed_is_not_announced)
{
	cb_feed  *f;
	cb_result res;

	if (cbh_redis_external(it_env->redis)) {
		cbh_skip("stops Redis, and CB_TEST_REDIS names a server the "
		         "tests must not stop");
		return;
	}
	f = feed_open(NULL);
	feed_sync(f, "users");
	/* Redis is gone once this returns: every call below fails, either
	 * at once or mid-sweep when its connection breaks. */
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGTERM), 0);
	ck_assert_int_ne(del1("users", "profile:1"), CB_OK);
	ck_assert_int_ne(invalidate("users", "technician:7:*"), CB_OK);
	ck_assert_int_ne(
	    it_publish("technicians.changed", "id", "7", NULL, &res), CB_OK);
	feed_quiet(f);
	cb_feed_close(f);
}
END_TEST

CBH_TEST(test_redis_error_is_not_announced)
{
	cb_feed *f;

	if (cbh_redis_external(it_env->redis)) {
		cbh_skip(
		    "changes Redis's ACL, and CB_TEST_REDIS names a server "
		    "the tests must not change");
		return;
	}
	f = feed_open(NULL);
	feed_sync(f, "users");
	it_set_str("users", "technician:7:a", "a");
	it_set_str("users", "profile:1", "b");
	/* Redis is up, but refuses UNLINK: the sweeps end in an error. */
	it_redis_ok("ACL SETUSER default -unlink");
	ck_assert_int_ne(del1("users", "profile:1"), CB_OK);
	ck_assert_int_ne(invalidate("users", "technician:7:*"), CB_OK);
	feed_quiet(f);
	it_redis_ok("ACL SETUSER default +unlink");
	cb_feed_close(f);
}
END_TEST

static Suite *
feed_suite(void)
{
	Suite *s  = suite_create("feed");
	TCase *tc = tcase_create("feed");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_sequence_numbers);
	tcase_add_test(tc, test_pattern);
	tcase_add_test(tc, test_event_per_namespace);
	tcase_add_test(tc, test_namespace_filter);
	tcase_add_test(tc, test_wire_format);
	tcase_add_test(tc, test_cli_watch);
	tcase_add_test(tc, test_cli_stops_on_signal);
	tcase_add_test(tc, test_failed_is_not_announced);
	tcase_add_test(tc, test_redis_error_is_not_announced);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(feed_suite());
}

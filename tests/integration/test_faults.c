/* SPDX-License-Identifier: MIT */
/* Faults: a paused Redis, a dead Redis, and SIGTERM while calls are open. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"

#define SERVING CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING
#define DEGRADED CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_DEGRADED

/* From the harness's config: command_timeout, reconnect_max. */
#define COMMAND_TIMEOUT_MS 2000
#define RECONNECT_MAX_MS 1000

/* The broker's budget to notice that Redis went away. */
#define NOTICE_MS 3000

static cb_status
get_timed(const char *ns, const char *key, uint32_t timeout_ms,
    int64_t *elapsed_ms, cb_result *res)
{
	Cachebroker__V1__GetRequest   req = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__GetResponse *resp = NULL;
	cb_callopts                   co   = { .timeout_ms = timeout_ms };
	int64_t                       t0   = cbh_now_ms();
	cb_status                     st;

	req.namespace_ = (char *) ns;
	req.key        = (char *) key;
	st             = cb_cache_get(it_env->client, &req, &resp, &co, res);
	*elapsed_ms    = cbh_now_ms() - t0;
	cb_message_free(resp);
	return (st);
}

static cb_status
set_timed(const char *ns, const char *key, uint32_t timeout_ms,
    int64_t *elapsed_ms, cb_result *res)
{
	Cachebroker__V1__SetRequest   req = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__SetResponse *resp = NULL;
	cb_callopts                   co   = { .timeout_ms = timeout_ms };
	int64_t                       t0   = cbh_now_ms();
	cb_status                     st;

	req.namespace_ = (char *) ns;
	req.key        = (char *) key;
	req.value.data = (uint8_t *) "v";
	req.value.len  = 1;
	st             = cb_cache_set(it_env->client, &req, &resp, &co, res);
	*elapsed_ms    = cbh_now_ms() - t0;
	cb_message_free(resp);
	return (st);
}

/* Polls Get until it answers OK or limit_ms passes; returns the time it
 * took, or -1. */
static int64_t
wait_get_ok(const char *ns, const char *key, int limit_ms)
{
	int64_t   t0 = cbh_now_ms();
	int64_t   el;
	cb_result res;
	cb_status st = CB_UNKNOWN;

	while (cbh_now_ms() - t0 < limit_ms) {
		if ((st = get_timed(ns, key, 1000, &el, &res)) == CB_OK) {
			return (cbh_now_ms() - t0);
		}
		cbh_sleep_ms(50);
	}
	cbh_log("Get still failing after %d ms: %s (%s)", limit_ms,
	    cb_status_str(st), res.message);
	return (-1);
}

/* ---------------------------------------------------------------- */

CBH_TEST(test_deadline_redis_paused)
{
	Cachebroker__V1__GetRequest req  = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__Response  *resp = NULL;
	nng_socket                  s;
	uint8_t                    *buf;
	size_t                      len;
	int64_t                     t_pause, t0, el, took;
	cb_result                   res;
	cb_status                   st;

	it_set_str("users", "k", "v");
	req.namespace_ = "users";
	req.key        = "k";
	ck_assert_int_eq(cbh_raw_pack(IT_METHOD("CacheService/Get"), &req.base,
	                     300, NULL, &buf, &len),
	    0);
	ck_assert_int_eq(
	    cbh_raw_open(&s, cbh_broker_url(it_env->broker), 5000), 0);

	it_redis_ok("CLIENT PAUSE 3000 ALL");
	t_pause = cbh_now_ms();

	/* The broker itself answers DEADLINE_EXCEEDED at the deadline (our
	 * own socket would wait 5 s). */
	t0 = cbh_now_ms();
	ck_assert_int_eq(cbh_raw_call(s, buf, len, &resp), 0);
	el = cbh_now_ms() - t0;
	ck_assert_ptr_nonnull(resp->status);
	ck_assert_msg(resp->status->code == CB_DEADLINE_EXCEEDED,
	    "Get with Redis paused: %s (%s), want DEADLINE_EXCEEDED",
	    cb_status_str(resp->status->code), resp->status->message);
	ck_assert_msg(
	    el < 1000, "DEADLINE_EXCEEDED after %lld ms", (long long) el);
	cachebroker__v1__response__free_unpacked(resp, NULL);
	nng_close(s);
	free(buf);

	/* And through the client library. */
	st = get_timed("users", "k", 300, &el, &res);
	IT_ASSERT_CODE(st, CB_DEADLINE_EXCEEDED, &res);
	ck_assert_msg(
	    el < 1000, "DEADLINE_EXCEEDED after %lld ms", (long long) el);
	ck_assert_msg(cbh_now_ms() - t_pause < 3000,
	    "the test itself was too slow to observe the pause");

	/* Once the pause is over the broker serves again, on connections
	 * it may have had to replace. */
	took = wait_get_ok(
	    "users", "k", 3000 + COMMAND_TIMEOUT_MS + RECONNECT_MAX_MS + 5000);
	ck_assert_msg(took >= 0, "the broker did not recover from the pause");
	cbh_log("served again %lld ms after the pause began",
	    (long long) (cbh_now_ms() - t_pause));
	it_get_str("users", "k", "v");
	it_set_str("users", "k2", "v2");
	ck_assert(it_exists("users:k2"));
}

/* Redis goes away (by sig), calls fail fast, Redis comes back. */
static void
redis_down_and_back(int sig)
{
	Cachebroker__V1__HealthResponse *h;
	cb_result                        res;
	cb_status                        st;
	int64_t                          el, took;

	it_set_str("users", "k", "v");
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, sig), 0);
	ck_assert_msg(it_wait_redis_connected(false, NOTICE_MS),
	    "Health still says Redis is connected %d ms after it stopped",
	    NOTICE_MS);

	/* Fast UNAVAILABLE, well inside a 3 s deadline. */
	st = get_timed("users", "k", 3000, &el, &res);
	IT_ASSERT_CODE(st, CB_UNAVAILABLE, &res);
	ck_assert_msg(
	    el < 1000, "Get: UNAVAILABLE after %lld ms", (long long) el);
	st = set_timed("users", "k", 3000, &el, &res);
	IT_ASSERT_CODE(st, CB_UNAVAILABLE, &res);
	ck_assert_msg(
	    el < 1000, "Set: UNAVAILABLE after %lld ms", (long long) el);

	h = it_health();
	ck_assert_int_eq(h->status, DEGRADED);
	ck_assert_ptr_nonnull(h->redis);
	ck_assert(!h->redis->connected);
	ck_assert_uint_gt(strlen(h->redis->error), 0);
	cb_message_free(h);

	/* Back on the same port; no broker restart. */
	ck_assert_int_eq(cbh_redis_restart(it_env->redis), 0);
	took = wait_get_ok("users", "k", 10000);
	ck_assert_msg(took >= 0, "the broker did not reconnect to Redis");
	cbh_log(
	    "serving again %lld ms after Redis restarted", (long long) took);
	it_set_str("users", "k", "again");
	it_get_str("users", "k", "again");
	ck_assert_msg(it_wait_redis_connected(true, 5000),
	    "Health does not see Redis again");
	h = it_health();
	ck_assert_int_eq(h->status, SERVING);
	cb_message_free(h);
	/* Our own connection died with the old server. */
	redisFree(it_env->rc);
	it_env->rc = NULL;
	ck_assert_int_eq(cbh_redis_connect(it_env->redis, 0, &it_env->rc), 0);
	ck_assert(it_exists("users:k"));
}

CBH_TEST(test_redis_stopped)
{
	if (it_need_own_redis()) {
		redis_down_and_back(SIGTERM);
	}
}

CBH_TEST(test_redis_killed)
{
	if (it_need_own_redis()) {
		redis_down_and_back(SIGKILL);
	}
}

/* A call waiting on Redis when the connection drops is answered at once,
 * not at its deadline. */
typedef struct call {
	pthread_t tid;
	uint32_t  timeout_ms;
	cb_status st;
	int64_t   elapsed;
	cb_result res;
} call;

static void *
call_get(void *arg)
{
	call *c = arg;

	c->st = get_timed("users", "k", c->timeout_ms, &c->elapsed, &c->res);
	return (NULL);
}

CBH_TEST(test_redis_dies_during_call)
{
	call c = { .timeout_ms = 5000 };

	if (!it_need_own_redis()) {
		return;
	}
	it_set_str("users", "k", "v");
	it_redis_ok("CLIENT PAUSE 10000 ALL");
	ck_assert_int_eq(pthread_create(&c.tid, NULL, call_get, &c), 0);
	cbh_sleep_ms(300); /* the Get is now waiting on Redis */
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGKILL), 0);
	ck_assert_int_eq(pthread_join(c.tid, NULL), 0);
	IT_ASSERT_CODE(c.st, CB_UNAVAILABLE, &c.res);
	ck_assert_msg(c.elapsed < 2000,
	    "Get answered %lld ms after it started (Redis died at ~300)",
	    (long long) c.elapsed);
	/* Leave Redis running for the teardown's sake. */
	ck_assert_int_eq(cbh_redis_restart(it_env->redis), 0);
}

CBH_TEST(test_sigterm_idle)
{
	int64_t t0 = cbh_now_ms();

	it_set_str("users", "k", "v");
	ck_assert_int_eq(cbh_broker_signal(it_env->broker, SIGTERM), 0);
	ck_assert_int_eq(cbh_broker_wait(it_env->broker, 20000), 0);
	/* Nothing in flight: no reason to wait out drain_timeout. */
	ck_assert_msg(cbh_now_ms() - t0 < 5000, "exit took %lld ms",
	    (long long) (cbh_now_ms() - t0));
}

CBH_TEST(test_sigterm_drains)
{
	call    c = { .timeout_ms = 8000 };
	int64_t t0;

	it_set_str("users", "k", "v");
	it_redis_ok("CLIENT PAUSE 1500 ALL");
	t0 = cbh_now_ms();
	ck_assert_int_eq(pthread_create(&c.tid, NULL, call_get, &c), 0);
	cbh_sleep_ms(300); /* the Get is in flight, waiting on Redis */
	ck_assert_int_eq(cbh_broker_signal(it_env->broker, SIGTERM), 0);
	ck_assert_int_eq(pthread_join(c.tid, NULL), 0);
	/* Drained: the call in flight got its real answer. */
	IT_ASSERT_CODE(c.st, CB_OK, &c.res);
	ck_assert_int_eq(cbh_broker_wait(it_env->broker, 20000), 0);
	ck_assert_msg(cbh_now_ms() - t0 < 10000, "drain took %lld ms",
	    (long long) (cbh_now_ms() - t0));
}

CBH_TEST(test_sigterm_redis_down)
{
	if (!it_need_own_redis()) {
		return;
	}
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGTERM), 0);
	ck_assert(it_wait_redis_connected(false, NOTICE_MS));
	/* The teardown stops the broker, which must still exit 0. */
}

static Suite *
faults_suite(void)
{
	Suite *s  = suite_create("faults");
	TCase *tc = it_tcase("faults");

	tcase_add_test(tc, test_deadline_redis_paused);
	tcase_add_test(tc, test_redis_stopped);
	tcase_add_test(tc, test_redis_killed);
	tcase_add_test(tc, test_redis_dies_during_call);
	tcase_add_test(tc, test_sigterm_idle);
	tcase_add_test(tc, test_sigterm_drains);
	tcase_add_test(tc, test_sigterm_redis_down);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(faults_suite()));
}

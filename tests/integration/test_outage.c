/* SPDX-License-Identifier: MIT */
/* Health, Metrics and the HTTP endpoints while Redis is frozen or dead. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"

#define SERVING CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING
#define DEGRADED CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_DEGRADED

/* From the harness's config: [redis] command_timeout. */
#define COMMAND_TIMEOUT_MS 2000

/* The calls' own deadline: past the command timeout, so that the broker,
 * not the deadline, decides what a stalled Redis gives. */
#define CALL_TIMEOUT_MS 10000

/* How long Redis may take to be seen again after SIGCONT or a restart
 * (a reconnect backoff of up to 1 s, slow machines, sanitizers). */
#define RECOVER_MS 15000

static int  http_port;
static char http_conf[128];

static void
setup_http(void)
{
	ck_assert_int_eq(cbh_free_port(&http_port), 0);
	snprintf(http_conf, sizeof(http_conf),
	    "[broker]\nhttp = http://127.0.0.1:%d\n", http_port);
	it_setup_config(http_conf);
}

/* One admin call on its own thread (no Check asserts off the main one). */
typedef struct call {
	pthread_t                         tid;
	bool                              metrics; /* else Health */
	cb_status                         st;
	cb_result                         res;
	Cachebroker__V1__HealthResponse  *health;
	Cachebroker__V1__MetricsResponse *m;
} call;

static void *
call_run(void *arg)
{
	call       *c  = arg;
	cb_callopts co = { .timeout_ms = CALL_TIMEOUT_MS };

	if (c->metrics) {
		Cachebroker__V1__MetricsRequest req =
		    CACHEBROKER__V1__METRICS_REQUEST__INIT;
		c->st = cb_admin_metrics(
		    it_env->client, &req, &c->m, &co, &c->res);
	} else {
		Cachebroker__V1__HealthRequest req =
		    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
		c->st = cb_admin_health(
		    it_env->client, &req, &c->health, &co, &c->res);
	}
	return (NULL);
}

static void
call_start(call *c, bool metrics)
{
	memset(c, 0, sizeof(*c));
	c->metrics = metrics;
	ck_assert_int_eq(pthread_create(&c->tid, NULL, call_run, c), 0);
}

/* call_join waits for the call and asserts that the broker lived
 * through it and answered OK. */
static void
call_join(call *c, const char *what)
{
	ck_assert_int_eq(pthread_join(c->tid, NULL), 0);
	ck_assert_msg(cbh_broker_alive(it_env->broker),
	    "the broker died during %s (the call got %s: %s)", what,
	    cb_status_str(c->st), c->res.message);
	ck_assert_msg(c->st == CB_OK, "%s: %s (%s), want OK", what,
	    cb_status_str(c->st), c->res.message);
}

/* A Health that says Redis is down, with a reason. */
static void
assert_degraded(const Cachebroker__V1__HealthResponse *h)
{
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(h->status, DEGRADED);
	ck_assert_ptr_nonnull(h->redis);
	ck_assert(!h->redis->connected);
	ck_assert_msg(h->redis->error != NULL && h->redis->error[0] != '\0',
	    "Health gives no reason why Redis is down");
}

/* A Metrics with the broker's own counters (the users Get the test made)
 * and nothing from Redis: key_count -1, empty INFO sections. */
static void
assert_metrics_without_redis(const Cachebroker__V1__MetricsResponse *m)
{
	bool users = false;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->key_count, -1);
	ck_assert_ptr_nonnull(m->redis);
	ck_assert_uint_eq(m->redis->n_memory, 0);
	ck_assert_uint_eq(m->redis->n_stats, 0);
	ck_assert_uint_eq(m->redis->n_keyspace, 0);
	ck_assert_ptr_nonnull(m->redis_pool);
	ck_assert_uint_eq(m->redis_pool->connections, 2);
	ck_assert_uint_gt(m->n_methods, 0);
	for (size_t i = 0; i < m->n_namespaces; i++) {
		users |= strcmp(m->namespaces[i]->namespace_, "users") == 0 &&
		    m->namespaces[i]->hits >= 1;
	}
	ck_assert_msg(users, "Metrics lost the broker's namespace counters");
	ck_assert_ptr_nonnull(m->version);
	ck_assert_str_eq(m->version, CB_TEST_VERSION);
}

/* Thaws Redis and waits until Health says SERVING again. */
static void
thaw_and_wait_serving(void)
{
	Cachebroker__V1__HealthResponse *h;

	ck_assert_int_eq(cbh_redis_signal(it_env->redis, SIGCONT), 0);
	ck_assert_msg(it_wait_redis_connected(true, RECOVER_MS),
	    "Health does not see Redis %d ms after SIGCONT", RECOVER_MS);
	h = it_health();
	ck_assert_int_eq(h->status, SERVING);
	ck_assert_str_eq(h->redis->error, "");
	cb_message_free(h);
}

/* ---------------------------------------------------------------- */

/* Health's PING is in flight when Redis freezes: the connection is
 * dropped at command_timeout and Health answers DEGRADED with why. */
CBH_TEST(test_health_redis_frozen)
{
	call c;
	char out[4096];
	int  rc;

	if (!it_need_own_redis()) {
		return;
	}
	it_set_str("users", "k", "v");
	it_get_str("users", "k", "v");
	ck_assert_int_eq(cbh_redis_signal(it_env->redis, SIGSTOP), 0);

	call_start(&c, false);
	call_join(&c, "a Health call with Redis frozen");
	assert_degraded(c.health);
	cbh_log("Health with Redis frozen: redis error \"%s\"",
	    c.health->redis->error);
	cb_message_free(c.health);

	/* The CLI, as an operator would: the other connection's PING is
	 * now the one in flight. DEGRADED is still "the broker is up". */
	rc = it_cli("--timeout 10s health", out, sizeof(out));
	ck_assert_msg(cbh_broker_alive(it_env->broker),
	    "the broker died during `cachebroker health` with Redis frozen");
	ck_assert_msg(rc == 0, "cachebroker health: exit %d\n%s", rc, out);
	ck_assert_msg(strstr(out, "DEGRADED") != NULL, "%s", out);

	/* Past another command timeout (the other connection's PING, the
	 * reconnects' handshakes): still there, still answering. */
	cbh_sleep_ms(COMMAND_TIMEOUT_MS + 1000);
	call_start(&c, false);
	call_join(&c, "a second Health call with Redis frozen");
	assert_degraded(c.health);
	cb_message_free(c.health);
	call_start(&c, true);
	call_join(&c, "a Metrics call with Redis frozen");
	assert_metrics_without_redis(c.m);
	cb_message_free(c.m);
	ck_assert(cbh_broker_alive(it_env->broker));

	thaw_and_wait_serving();
}

/* /readyz and /metrics submit Health (and Metrics) themselves: the same
 * PING in flight, through the HTTP server. */
CBH_TEST(test_scrapes_redis_frozen)
{
	char   *body;
	int     status = 0;
	int64_t until;

	if (!it_need_own_redis()) {
		return;
	}
	it_set_str("users", "k", "v");
	it_get_str("users", "k", "v");
	ck_assert_int_eq(cbh_redis_signal(it_env->redis, SIGSTOP), 0);

	status = it_http_get(http_port, "/readyz", &body);
	ck_assert_msg(cbh_broker_alive(it_env->broker),
	    "the broker died during /readyz with Redis frozen");
	ck_assert_int_eq(status, 503);
	ck_assert_msg(strstr(body, "redis down") != NULL, "body: %s", body);
	free(body);

	status = it_http_get(http_port, "/metrics", &body);
	ck_assert_msg(cbh_broker_alive(it_env->broker),
	    "the broker died during /metrics with Redis frozen");
	ck_assert_msg(status == 200, "/metrics: %d %s", status, body);
	ck_assert_double_eq(
	    it_prom_sample(body, "cachebroker_backend_up{backend=\"redis\"}"),
	    0);
	ck_assert_double_eq(it_prom_sample(body, "cachebroker_serving"), 0);
	/* The key count is unknown: no sample, rather than a made-up 0. */
	ck_assert_msg(strstr(body, "cachebroker_redis_keys") == NULL,
	    "a key count while Redis is frozen");
	ck_assert_msg(
	    strstr(body, "cachebroker_redis_memory_used_bytes") == NULL,
	    "Redis memory while Redis is frozen");
	ck_assert_double_eq(
	    it_prom_sample(
	        body, "cachebroker_pool_connections{backend=\"redis\"}"),
	    2);
	ck_assert_msg(
	    it_prom_sample(body,
	        "cachebroker_cache_hits_total{namespace=\"users\"}") >= 1,
	    "/metrics lost the namespace counters:\n%s", body);
	free(body);

	cbh_sleep_ms(COMMAND_TIMEOUT_MS + 1000);
	ck_assert(cbh_broker_alive(it_env->broker));
	ck_assert_int_eq(it_http_get(http_port, "/livez", &body), 200);
	free(body);

	thaw_and_wait_serving();
	until = cbh_now_ms() + RECOVER_MS;
	while (cbh_now_ms() < until) {
		status = it_http_get(http_port, "/readyz", &body);
		free(body);
		if (status == 200) {
			break;
		}
		cbh_sleep_ms(100);
	}
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(it_http_get(http_port, "/metrics", &body), 200);
	ck_assert_double_ge(it_prom_sample(body, "cachebroker_redis_keys"), 1);
	free(body);
}

/* Metrics' INFO and DBSIZE are in flight when Redis freezes. */
CBH_TEST(test_metrics_redis_frozen)
{
	Cachebroker__V1__MetricsResponse *m;
	call                              c;

	if (!it_need_own_redis()) {
		return;
	}
	it_set_str("users", "k", "v");
	it_get_str("users", "k", "v");
	ck_assert_int_eq(cbh_redis_signal(it_env->redis, SIGSTOP), 0);

	call_start(&c, true);
	call_join(&c, "a Metrics call with Redis frozen");
	assert_metrics_without_redis(c.m);
	cb_message_free(c.m);

	thaw_and_wait_serving();
	m = it_metrics();
	ck_assert_int_ge(m->key_count, 1);
	ck_assert_uint_gt(m->redis->n_memory, 0);
	cb_message_free(m);
}

/* Redis dies while Metrics waits on it, then stays away. */
CBH_TEST(test_metrics_redis_killed)
{
	Cachebroker__V1__MetricsResponse *m;
	call                              c;

	if (!it_need_own_redis()) {
		return;
	}
	it_set_str("users", "k", "v");
	it_get_str("users", "k", "v");
	it_redis_ok("CLIENT PAUSE 10000 ALL");
	call_start(&c, true);
	cbh_sleep_ms(300); /* Metrics now waits on Redis */
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGKILL), 0);
	call_join(&c, "a Metrics call when Redis was killed");
	assert_metrics_without_redis(c.m);
	cb_message_free(c.m);

	/* No connection at all now. */
	ck_assert(it_wait_redis_connected(false, RECOVER_MS));
	m = it_metrics();
	assert_metrics_without_redis(m);
	ck_assert_uint_eq(m->redis_pool->ready, 0);
	cb_message_free(m);

	ck_assert_int_eq(cbh_redis_restart(it_env->redis), 0);
	it_redis_reconnect();
	ck_assert_msg(it_wait_redis_connected(true, RECOVER_MS),
	    "Health does not see Redis again");
	m = it_metrics();
	ck_assert_int_ge(m->key_count, 0);
	cb_message_free(m);
}

static Suite *
outage_suite(void)
{
	Suite *s   = suite_create("outage");
	TCase *tc  = it_tcase("outage");
	TCase *web = it_tcase_with("outage-http", setup_http);

	tcase_add_test(tc, test_health_redis_frozen);
	tcase_add_test(tc, test_metrics_redis_frozen);
	tcase_add_test(tc, test_metrics_redis_killed);
	tcase_add_test(web, test_scrapes_redis_frozen);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, web);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(outage_suite()));
}

/* SPDX-License-Identifier: MIT */
/* The HTTP endpoints: /livez, /readyz, /metrics through promtool. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"

static int  http_port;
static char http_conf[128];

/* http_get GETs path on the broker's HTTP port (it_http_get). */
static int
http_get(const char *path, char **body)
{
	return it_http_get(http_port, path, body);
}

static void
setup(void)
{
	ck_assert_int_eq(cbh_free_port(&http_port), 0);
	snprintf(http_conf, sizeof(http_conf),
	    "[broker]\nhttp = http://127.0.0.1:%d\n", http_port);
	it_setup_config(http_conf);
}

/* promtool_check runs `promtool check metrics` on a scrape; false when
 * promtool is not installed (reported as skipped). */
static bool
promtool_check(const char *text)
{
	char   path[512];
	char   cmd[1100];
	char   out[4096] = "";
	FILE  *p;
	size_t got;
	int    rc;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		cbh_skip("promtool (Debian package prometheus) is not "
		         "installed: the exposition format is not checked");
		return false;
	}
	snprintf(path, sizeof(path), "%s/scrape.txt",
	    cbh_broker_dir(it_env->broker));
	ck_assert_int_eq(cbh_file_write(path, text), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1", path);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	got      = fread(out, 1, sizeof(out) - 1, p);
	out[got] = '\0';
	rc       = pclose(p);
	ck_assert_msg(rc == 0, "promtool check metrics failed:\n%s", out);
	/* Lint problems are printed, yet exit 0 in some versions. */
	ck_assert_msg(out[0] == '\0', "promtool check metrics:\n%s", out);
	return true;
}

CBH_TEST(test_livez_readyz)
{
	char *body;

	ck_assert_int_eq(http_get("/livez", &body), 200);
	ck_assert_str_eq(body, "ok\n");
	free(body);
	ck_assert_int_eq(http_get("/readyz", &body), 200);
	free(body);
	ck_assert_int_eq(http_get("/healthz", &body), 200);
	free(body);
	ck_assert_int_eq(http_get("/nothing-here", &body), 404);
	free(body);
}

CBH_TEST(test_metrics_match_admin_metrics)
{
	Cachebroker__V1__GetResponse     *g;
	Cachebroker__V1__MetricsResponse *m;
	char                             *text;
	double                            v;
	double                            health;

	it_set_str("users", "a", "1");
	it_get_str("users", "a", "1");
	IT_ASSERT_CODE(it_get("users", "missing", &g), CB_OK,
	    &(cb_result) { .message = "" });
	cb_message_free(g);
	ck_assert_int_eq(http_get("/metrics", &text), 200);
	promtool_check(text);

	ck_assert_double_eq(it_prom_sample(text,
	                        "cachebroker_requests_total{method="
	                        "\"CacheService/Get\",code=\"OK\"}"),
	    2);
	ck_assert_double_eq(it_prom_sample(text,
	                        "cachebroker_requests_total{method="
	                        "\"CacheService/Set\",code=\"OK\"}"),
	    1);
	ck_assert_double_eq(it_prom_sample(text,
	                        "cachebroker_request_duration_seconds_count{"
	                        "method=\"CacheService/Get\"}"),
	    2);
	ck_assert_double_eq(it_prom_sample(text,
	                        "cachebroker_request_duration_seconds_bucket{"
	                        "method=\"CacheService/Get\",le=\"+Inf\"}"),
	    2);
	ck_assert_double_eq(
	    it_prom_sample(
	        text, "cachebroker_cache_hits_total{namespace=\"users\"}"),
	    1);
	ck_assert_double_eq(
	    it_prom_sample(
	        text, "cachebroker_cache_misses_total{namespace=\"users\"}"),
	    1);
	ck_assert_double_eq(
	    it_prom_sample(text, "cachebroker_backend_up{backend=\"redis\"}"),
	    1);
	ck_assert_double_eq(it_prom_sample(text, "cachebroker_serving"), 1);
	ck_assert_double_eq(it_prom_sample(text, "cachebroker_redis_keys"), 1);
	ck_assert_double_eq(it_prom_sample(text, "cachebroker_contexts"), 16);
	v = it_prom_sample(
	    text, "cachebroker_build_info{version=\"" CB_TEST_VERSION "\"}");
	ck_assert_double_eq(v, 1);
	/* A scrape runs Health and Metrics inside the broker, but they are
	 * not counted as calls: a second scrape sees the same counts. */
	health = it_prom_sample(text,
	    "cachebroker_requests_total{method=\"AdminService/Health\","
	    "code=\"OK\"}");
	free(text);
	ck_assert_int_eq(http_get("/metrics", &text), 200);
	ck_assert_double_eq(it_prom_sample(text,
	                        "cachebroker_requests_total{method="
	                        "\"AdminService/Health\",code=\"OK\"}"),
	    health);
	ck_assert_double_eq(it_prom_sample(text,
	                        "cachebroker_requests_total{method="
	                        "\"AdminService/Metrics\",code=\"OK\"}"),
	    -1);
	free(text);

	/* AdminService/Metrics reports the same counters. */
	m = it_metrics();
	ck_assert_ptr_nonnull(m->redis_pool);
	ck_assert_uint_eq(m->redis_pool->connections, 2);
	ck_assert_uint_eq(m->contexts, 16);
	ck_assert_str_eq(m->version, CB_TEST_VERSION);
	for (size_t i = 0; i < m->n_methods; i++) {
		const Cachebroker__V1__MethodMetrics *mm  = m->methods[i];
		uint64_t                              sum = 0;
		if (strcmp(mm->method, IT_METHOD("CacheService/Get")) != 0) {
			continue;
		}
		ck_assert_uint_eq(mm->n_codes, 1);
		ck_assert_str_eq(mm->codes[0]->key, "OK");
		ck_assert_uint_eq(mm->codes[0]->value, 2);
		for (size_t b = 0; b < mm->n_latency_buckets; b++) {
			sum += mm->latency_buckets[b];
		}
		ck_assert_uint_eq(sum, 2);
	}
	cb_message_free(m);
}

CBH_TEST(test_error_codes_counted)
{
	cb_status                     st;
	cb_result                     res;
	Cachebroker__V1__GetRequest   req = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__GetResponse *resp = NULL;
	char                         *text;

	req.namespace_ = "Bad Namespace";
	req.key        = "k";
	st             = cb_cache_get(it_env->client, &req, &resp, NULL, &res);
	IT_ASSERT_CODE(st, CB_INVALID_ARGUMENT, &res);
	ck_assert_int_eq(http_get("/metrics", &text), 200);
	ck_assert_double_eq(
	    it_prom_sample(text,
	        "cachebroker_requests_total{method="
	        "\"CacheService/Get\",code=\"INVALID_ARGUMENT\"}"),
	    1);
	free(text);
}

CBH_TEST(test_readyz_follows_redis)
{
	char   *body;
	int     status = 0;
	int64_t until;

	if (!it_need_own_redis()) {
		return;
	}
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGTERM), 0);
	until = cbh_now_ms() + 10000;
	while (cbh_now_ms() < until) {
		status = http_get("/readyz", &body);
		if (status == 503) {
			break;
		}
		free(body);
		cbh_sleep_ms(100);
	}
	ck_assert_int_eq(status, 503);
	ck_assert_msg(strstr(body, "redis down") != NULL, "body: %s", body);
	free(body);
	/* Liveness is about the broker, not its backends. */
	ck_assert_int_eq(http_get("/livez", &body), 200);
	free(body);
	ck_assert_int_eq(http_get("/metrics", &body), 200);
	ck_assert_double_eq(
	    it_prom_sample(body, "cachebroker_backend_up{backend=\"redis\"}"),
	    0);
	ck_assert_double_eq(it_prom_sample(body, "cachebroker_serving"), 0);
	free(body);

	ck_assert_int_eq(cbh_redis_restart(it_env->redis), 0);
	it_redis_reconnect();
	until = cbh_now_ms() + 10000;
	while (cbh_now_ms() < until) {
		status = http_get("/readyz", &body);
		free(body);
		if (status == 200) {
			break;
		}
		cbh_sleep_ms(100);
	}
	ck_assert_int_eq(status, 200);
}

typedef struct call {
	pthread_t tid;
	cb_status st;
	cb_result res;
} call;

static void *
call_get(void *arg)
{
	call                         *c   = arg;
	Cachebroker__V1__GetRequest   req = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__GetResponse *resp = NULL;
	cb_callopts                   opts = { .timeout_ms = 8000 };

	req.namespace_ = "users";
	req.key        = "k";
	c->st = cb_cache_get(it_env->client, &req, &resp, &opts, &c->res);
	cb_message_free(resp);
	return (NULL);
}

CBH_TEST(test_readyz_draining)
{
	call  c = { 0 };
	char *body;

	it_set_str("users", "k", "v");
	it_redis_ok("CLIENT PAUSE 1500 ALL");
	ck_assert_int_eq(pthread_create(&c.tid, NULL, call_get, &c), 0);
	cbh_sleep_ms(300); /* the Get is in flight, waiting on Redis */
	ck_assert_int_eq(cbh_broker_signal(it_env->broker, SIGTERM), 0);
	cbh_sleep_ms(100);
	ck_assert_int_eq(http_get("/readyz", &body), 503);
	ck_assert_str_eq(body, "not ready: draining\n");
	free(body);
	ck_assert_int_eq(http_get("/metrics", &body), 200);
	/* (The scrape waits for Redis' PING like the Get: in_flight is 0 by
	 * the time it is rendered.) */
	ck_assert_double_eq(it_prom_sample(body, "cachebroker_draining"), 1);
	free(body);
	ck_assert_int_eq(pthread_join(c.tid, NULL), 0);
	IT_ASSERT_CODE(c.st, CB_OK, &c.res);
	ck_assert_int_eq(cbh_broker_wait(it_env->broker, 20000), 0);
}

CBH_TEST(test_http_config_errors)
{
	static const char *const args[] = { "-t", "-c", NULL, NULL };
	const char              *argv[4];
	char                     path[512];
	char                    *err = NULL;
	int                      code;

	snprintf(
	    path, sizeof(path), "%s/bad.conf", cbh_broker_dir(it_env->broker));
	ck_assert_int_eq(cbh_file_write(path,
	                     "[broker]\n"
	                     "http = ftp://127.0.0.1:1\n"),
	    0);
	memcpy(argv, args, sizeof(args));
	argv[2] = path;
	ck_assert_int_eq(
	    cbh_daemon_run(argv, NULL, 10000, &code, NULL, &err), 0);
	ck_assert_int_eq(code, CBH_EXIT_CONFIG);
	ck_assert_msg(strstr(err, "bad.conf:2:") != NULL &&
	        strstr(err, "http://HOST:PORT") != NULL,
	    "stderr: %s", err);
	free(err);
}

CBH_TEST(test_http_port_in_use)
{
	cbh_broker     *b;
	cbh_broker_opts opts = { .config = http_conf, .no_wait = true };

	/* it_env's broker holds the port: a second one must not start. */
	ck_assert_int_eq(cbh_broker_start(&b, it_env->redis, &opts), 0);
	ck_assert_int_ne(cbh_broker_wait(b, 10000), 0);
	ck_assert(!cbh_broker_alive(b));
	cbh_broker_free(b);
}

static Suite *
http_suite(void)
{
	Suite *s  = suite_create("http");
	TCase *tc = it_tcase_with("http", setup);

	tcase_add_test(tc, test_livez_readyz);
	tcase_add_test(tc, test_metrics_match_admin_metrics);
	tcase_add_test(tc, test_error_codes_counted);
	tcase_add_test(tc, test_readyz_follows_redis);
	tcase_add_test(tc, test_readyz_draining);
	tcase_add_test(tc, test_http_config_errors);
	tcase_add_test(tc, test_http_port_in_use);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(http_suite()));
}

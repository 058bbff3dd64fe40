/* SPDX-License-Identifier: MIT */
/* Unit tests of prom.c: families, histogram buckets, labels, escaping. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "test_main.h"

#define SERVING CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING

static Cachebroker__V1__HealthResponse            h;
static Cachebroker__V1__BackendHealth             redis_h, db_h;
static Cachebroker__V1__MetricsResponse           m;
static Cachebroker__V1__MethodMetrics             get, *methods[1];
static Cachebroker__V1__MethodMetrics__CodesEntry ok, nf, *codes[2];
static Cachebroker__V1__NamespaceMetrics          users, *nss[1];
static Cachebroker__V1__WarmMetrics               wm, *warms[1];
static Cachebroker__V1__WarmResult                last;
static Cachebroker__V1__PoolMetrics               rpool;
static uint64_t                                   buckets[28];
static Cachebroker__V1__L1Metrics                 l1;
static char                                      *text;

static void
setup(void)
{
	size_t len;

	cachebroker__v1__health_response__init(&h);
	cachebroker__v1__backend_health__init(&redis_h);
	cachebroker__v1__backend_health__init(&db_h);
	h.status           = SERVING;
	h.redis            = &redis_h;
	h.database         = &db_h;
	redis_h.connected  = 1;
	redis_h.latency_us = 250;

	cachebroker__v1__metrics_response__init(&m);
	m.version  = "1.2.3";
	m.contexts = 64;
	cachebroker__v1__pool_metrics__init(&rpool);
	rpool.connections = 4;
	rpool.ready       = 3;
	m.redis_pool      = &rpool;

	cachebroker__v1__method_metrics__init(&get);
	get.method = CB_METHOD_PREFIX "CacheService/Get";
	get.count  = 10;
	memset(buckets, 0, sizeof(buckets));
	buckets[3]            = 1; /* 4..7 µs */
	buckets[4]            = 2; /* 8..15 µs: still under 16 µs */
	buckets[5]            = 3; /* 16..31 µs */
	buckets[27]           = 4; /* the rest */
	get.latency_buckets   = buckets;
	get.n_latency_buckets = 28;
	get.latency_sum_us    = 2500000;
	cachebroker__v1__method_metrics__codes_entry__init(&ok);
	cachebroker__v1__method_metrics__codes_entry__init(&nf);
	ok.key      = "OK";
	ok.value    = 9;
	nf.key      = "NOT_FOUND";
	nf.value    = 1;
	codes[0]    = &ok;
	codes[1]    = &nf;
	get.codes   = codes;
	get.n_codes = 2;
	methods[0]  = &get;
	m.methods   = methods;
	m.n_methods = 1;

	cachebroker__v1__namespace_metrics__init(&users);
	users.namespace_ = "users";
	users.hits       = 7;
	users.misses     = 3;
	nss[0]           = &users;
	m.namespaces     = nss;
	m.n_namespaces   = 1;

	cachebroker__v1__warm_metrics__init(&wm);
	cachebroker__v1__warm_result__init(&last);
	wm.strategy      = "odd \"name\"\\";
	wm.runs          = 2;
	last.duration_ms = 1500;
	wm.last          = &last;
	warms[0]         = &wm;
	m.warm           = warms;
	m.n_warm         = 1;
	m.key_count      = -1;

	cachebroker__v1__l1_metrics__init(&l1);
	l1.enabled   = 1;
	l1.coherent  = 1;
	l1.hits      = 41;
	l1.bytes     = 1024;
	l1.max_bytes = 65536;
	m.l1         = &l1;

	text = NULL;
	ck_assert_int_eq(cbd_prom_render(&h, &m, &text, &len), 0);
	ck_assert_uint_eq(strlen(text), len);
}

static void
teardown(void)
{
	free(text);
}

/* has says whether text holds line as a whole line. */
static int
has(const char *line)
{
	size_t      n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n') {
			return 1;
		}
		p += n;
	}
	return 0;
}

#define CK_LINE(l) ck_assert_msg(has(l), "missing line: %s", l)

START_TEST(test_histogram_is_cumulative)
{
	const char *b = "cachebroker_request_duration_seconds_bucket{method="
	                "\"CacheService/Get\",";

	CK_LINE("# TYPE cachebroker_request_duration_seconds histogram");
	/* le=16 µs takes buckets 0..4 (under 2^4 µs): 1 + 2. */
	ck_assert(strstr(text, b) != NULL);
	CK_LINE("cachebroker_request_duration_seconds_bucket{method="
	        "\"CacheService/Get\",le=\"1.6e-05\"} 3");
	CK_LINE("cachebroker_request_duration_seconds_bucket{method="
	        "\"CacheService/Get\",le=\"6.4e-05\"} 6");
	CK_LINE("cachebroker_request_duration_seconds_bucket{method="
	        "\"CacheService/Get\",le=\"16.777216\"} 6");
	CK_LINE("cachebroker_request_duration_seconds_bucket{method="
	        "\"CacheService/Get\",le=\"+Inf\"} 10");
	CK_LINE("cachebroker_request_duration_seconds_sum{method="
	        "\"CacheService/Get\"} 2.5");
	CK_LINE("cachebroker_request_duration_seconds_count{method="
	        "\"CacheService/Get\"} 10");
}
END_TEST

START_TEST(test_counters_and_labels)
{
	CK_LINE("cachebroker_requests_total{method=\"CacheService/"
	        "Get\",code=\"OK\"} 9");
	CK_LINE("cachebroker_requests_total{method=\"CacheService/"
	        "Get\",code=\"NOT_FOUND\"} 1");
	CK_LINE("cachebroker_cache_hits_total{namespace=\"users\"} 7");
	CK_LINE("cachebroker_cache_misses_total{namespace=\"users\"} 3");
	CK_LINE("cachebroker_build_info{version=\"1.2.3\"} 1");
	CK_LINE("cachebroker_serving 1");
	CK_LINE("cachebroker_contexts 64");
	CK_LINE("cachebroker_backend_up{backend=\"redis\"} 1");
	CK_LINE(
	    "cachebroker_backend_latency_seconds{backend=\"redis\"} 0.00025");
	CK_LINE("cachebroker_pool_connections{backend=\"redis\"} 4");
	CK_LINE("cachebroker_pool_ready_connections{backend=\"redis\"} 3");
	/* Label values are escaped. */
	CK_LINE("cachebroker_warm_runs_total{strategy=\"odd "
	        "\\\"name\\\"\\\\\"} 2");
	CK_LINE("cachebroker_warm_last_duration_seconds{strategy=\"odd "
	        "\\\"name\\\"\\\\\"} 1.5");
	/* The L1's. */
	CK_LINE("cachebroker_l1_coherent 1");
	CK_LINE("cachebroker_l1_hits_total 41");
	CK_LINE("cachebroker_l1_bytes 1024");
	CK_LINE("cachebroker_l1_max_bytes 65536");
	CK_LINE("cachebroker_l1_evictions_total 0");
}
END_TEST

START_TEST(test_absent_things_have_no_series)
{
	/* No [database]: no database series; Redis' DBSIZE unknown. */
	ck_assert_ptr_null(strstr(text, "backend=\"database\""));
	ck_assert_ptr_null(strstr(text, "cachebroker_redis_keys "));
	ck_assert_ptr_null(
	    strstr(text, "cachebroker_redis_memory_used_bytes "));
}
END_TEST

START_TEST(test_each_family_once)
{
	const char *p = text;
	int         n = 0;

	while ((p = strstr(p, "# TYPE cachebroker_requests_total ")) != NULL) {
		n++;
		p++;
	}
	ck_assert_int_eq(n, 1);
}
END_TEST

static Suite *
prom_suite(void)
{
	Suite *s  = suite_create("prom");
	TCase *tc = tcase_create("render");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_histogram_is_cumulative);
	tcase_add_test(tc, test_counters_and_labels);
	tcase_add_test(tc, test_absent_things_have_no_series);
	tcase_add_test(tc, test_each_family_once);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(prom_suite)

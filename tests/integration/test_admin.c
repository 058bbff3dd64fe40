/* SPDX-License-Identifier: MIT */
/* AdminService through the real broker: Health, Metrics, ResetStats. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "it.h"

#define HEALTH_SERVING CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING

static void
get_expect(const char *ns, const char *key, bool found)
{
	Cachebroker__V1__GetResponse *resp = NULL;

	ck_assert_int_eq(it_get(ns, key, &resp), CB_OK);
	ck_assert_int_eq(resp->found, found);
	cb_message_free(resp);
}

static const Cachebroker__V1__NamespaceMetrics *
find_ns(const Cachebroker__V1__MetricsResponse *m, const char *ns)
{
	for (size_t i = 0; i < m->n_namespaces; i++) {
		if (strcmp(m->namespaces[i]->namespace_, ns) == 0) {
			return (m->namespaces[i]);
		}
	}
	return (NULL);
}

static const Cachebroker__V1__MethodMetrics *
find_method(const Cachebroker__V1__MetricsResponse *m, const char *name)
{
	for (size_t i = 0; i < m->n_methods; i++) {
		if (strcmp(m->methods[i]->method, name) == 0) {
			return (m->methods[i]);
		}
	}
	return (NULL);
}

/* The count of a method, 0 when it is not listed. */
static uint64_t
method_count(const Cachebroker__V1__MetricsResponse *m, const char *name)
{
	const Cachebroker__V1__MethodMetrics *mm = find_method(m, name);

	return (mm != NULL ? mm->count : 0);
}

/* Looks up key in one of RedisInfo's maps (n entries of key/value). */
#define INFO_FIND(entries, n, k, out)                               \
	do {                                                        \
		(out) = NULL;                                       \
		for (size_t i_ = 0; i_ < (n); i_++) {               \
			if (strcmp((entries)[i_]->key, (k)) == 0) { \
				(out) = (entries)[i_]->value;       \
			}                                           \
		}                                                   \
	} while (0)

CBH_TEST(test_health)
{
	Cachebroker__V1__HealthResponse *h = it_health();
	uint64_t                         up0;

	ck_assert_int_eq(h->status, HEALTH_SERVING);
	ck_assert_ptr_nonnull(h->redis);
	ck_assert(h->redis->connected);
	ck_assert_int_gt(h->redis->latency_us, 0);
	ck_assert_str_eq(h->redis->error, "");
	ck_assert_ptr_nonnull(h->version);
	ck_assert_uint_gt(strlen(h->version), 0);
	ck_assert_uint_eq(h->hits, 0);
	ck_assert_uint_eq(h->misses, 0);
	ck_assert(h->hit_rate == 0.0);
	up0 = h->uptime_s;
	ck_assert_uint_lt(up0, 60);
	cb_message_free(h);

	/* Uptime counts seconds. */
	for (int64_t end = cbh_now_ms() + 3500;;) {
		h = it_health();
		if (h->uptime_s > up0 || cbh_now_ms() > end) {
			break;
		}
		cb_message_free(h);
		cbh_sleep_ms(100);
	}
	ck_assert_uint_gt(h->uptime_s, up0);
	cb_message_free(h);
}

CBH_TEST(test_hits_misses)
{
	Cachebroker__V1__HealthResponse *h;

	it_set_str("users", "k", "v");
	for (int i = 0; i < 3; i++) {
		get_expect("users", "k", true);
	}
	get_expect("users", "nope", false);
	get_expect("tasks", "nope", false);

	h = it_health();
	ck_assert_uint_eq(h->hits, 3);
	ck_assert_uint_eq(h->misses, 2);
	ck_assert_msg(
	    fabs(h->hit_rate - 0.6) < 1e-9, "hit_rate = %f", h->hit_rate);
	cb_message_free(h);
}

CBH_TEST(test_metrics)
{
	Cachebroker__V1__MetricsResponse        *m;
	const Cachebroker__V1__NamespaceMetrics *ns;
	const Cachebroker__V1__MethodMetrics    *get;
	const char                              *v;
	long long                                dbsize;

	it_set_str("users", "a", "1");
	it_set_str("users", "b", "2");
	it_set_str("tasks", "t", "3");
	it_redis_ok("SET raw:key 4");
	get_expect("users", "a", true);
	get_expect("users", "b", true);
	get_expect("users", "zz", false);
	get_expect("tasks", "zz", false);

	m      = it_metrics();
	dbsize = it_redis_int("DBSIZE");
	ck_assert_int_eq(dbsize, 4);
	ck_assert_int_eq(m->key_count, dbsize);

	/* Redis' own INFO fields, as Redis names them. */
	ck_assert_ptr_nonnull(m->redis);
	ck_assert_uint_gt(m->redis->n_memory, 0);
	ck_assert_uint_gt(m->redis->n_stats, 0);
	ck_assert_uint_gt(m->redis->n_keyspace, 0);
	INFO_FIND(m->redis->memory, m->redis->n_memory, "used_memory", v);
	ck_assert_msg(v != NULL && atoll(v) > 0, "used_memory missing");
	INFO_FIND(
	    m->redis->stats, m->redis->n_stats, "total_commands_processed", v);
	ck_assert_msg(
	    v != NULL && atoll(v) > 0, "total_commands_processed missing");
	INFO_FIND(m->redis->keyspace, m->redis->n_keyspace, "db0", v);
	ck_assert_msg(v != NULL && strstr(v, "keys=4") != NULL,
	    "keyspace db0 = %s, want keys=4,...", v != NULL ? v : "(none)");

	/* Per namespace. */
	ns = find_ns(m, "users");
	ck_assert_msg(ns != NULL, "no metrics for namespace users");
	ck_assert_uint_eq(ns->hits, 2);
	ck_assert_uint_eq(ns->misses, 1);
	ck_assert_msg(fabs(ns->hit_rate - 2.0 / 3.0) < 1e-9, "hit_rate %f",
	    ns->hit_rate);
	ns = find_ns(m, "tasks");
	ck_assert_msg(ns != NULL, "no metrics for namespace tasks");
	ck_assert_uint_eq(ns->hits, 0);
	ck_assert_uint_eq(ns->misses, 1);
	ck_assert(ns->hit_rate == 0.0);

	/* Per method. */
	get = find_method(m, IT_METHOD("CacheService/Get"));
	ck_assert_msg(get != NULL, "no metrics for Get");
	ck_assert_uint_eq(get->count, 4);
	ck_assert_uint_eq(get->errors, 0);
	ck_assert_uint_gt(get->latency_avg_us, 0);
	ck_assert_uint_gt(get->latency_max_us, 0);
	ck_assert_uint_le(get->latency_p50_us, get->latency_max_us);
	ck_assert_uint_le(get->latency_p99_us, get->latency_max_us);
	ck_assert_uint_eq(method_count(m, IT_METHOD("CacheService/Set")), 3);
	ck_assert_uint_eq(
	    method_count(m, IT_METHOD("CacheService/Delete")), 0);
	ck_assert_uint_le(m->in_flight, 1);
	cb_message_free(m);
}

CBH_TEST(test_method_errors)
{
	Cachebroker__V1__MetricsResponse     *m;
	const Cachebroker__V1__MethodMetrics *mm;
	Cachebroker__V1__GetResponse         *resp = NULL;
	Cachebroker__V1__GetRequest req = CACHEBROKER__V1__GET_REQUEST__INIT;
	ProtobufCMessage           *out = NULL;
	cb_result                   res;

	/* One Get refused (bad namespace), one call of no method. */
	ck_assert_int_eq(
	    it_get("Bad Namespace", "k", &resp), CB_INVALID_ARGUMENT);
	get_expect("users", "k", false);
	req.namespace_ = "users";
	req.key        = "k";
	ck_assert_int_eq(
	    cb_client_call(it_env->client,
	        IT_METHOD("CacheService/NoSuchMethod"), &req.base,
	        &cachebroker__v1__get_response__descriptor, &out, NULL, &res),
	    CB_UNIMPLEMENTED);

	m  = it_metrics();
	mm = find_method(m, IT_METHOD("CacheService/Get"));
	ck_assert_msg(mm != NULL, "no metrics for Get");
	ck_assert_uint_eq(mm->count, 2);
	ck_assert_uint_eq(mm->errors, 1);
	mm = find_method(m, "unknown");
	ck_assert_msg(mm != NULL, "no metrics for method \"unknown\"");
	ck_assert_uint_eq(mm->count, 1);
	ck_assert_uint_eq(mm->errors, 1);
	cb_message_free(m);
}

CBH_TEST(test_reset_stats)
{
	Cachebroker__V1__ResetStatsRequest req =
	    CACHEBROKER__V1__RESET_STATS_REQUEST__INIT;
	Cachebroker__V1__ResetStatsResponse     *resp = NULL;
	Cachebroker__V1__HealthResponse         *h;
	Cachebroker__V1__MetricsResponse        *m;
	const Cachebroker__V1__NamespaceMetrics *ns;
	cb_result                                res;

	it_set_str("users", "k", "v");
	get_expect("users", "k", true);
	get_expect("users", "nope", false);
	h = it_health();
	ck_assert_uint_eq(h->hits, 1);
	ck_assert_uint_eq(h->misses, 1);
	cb_message_free(h);

	ck_assert_int_eq(
	    cb_admin_reset_stats(it_env->client, &req, &resp, NULL, &res),
	    CB_OK);
	ck_assert(resp->ok);
	cb_message_free(resp);

	h = it_health();
	ck_assert_uint_eq(h->hits, 0);
	ck_assert_uint_eq(h->misses, 0);
	ck_assert(h->hit_rate == 0.0);
	cb_message_free(h);
	m  = it_metrics();
	ns = find_ns(m, "users");
	if (ns != NULL) {
		ck_assert_uint_eq(ns->hits, 0);
		ck_assert_uint_eq(ns->misses, 0);
	}
	ck_assert_uint_eq(method_count(m, IT_METHOD("CacheService/Get")), 0);
	ck_assert_uint_eq(method_count(m, IT_METHOD("CacheService/Set")), 0);
	cb_message_free(m);

	/* Counting starts again, and the data was not touched. */
	get_expect("users", "k", true);
	h = it_health();
	ck_assert_uint_eq(h->hits, 1);
	ck_assert_uint_eq(h->misses, 0);
	cb_message_free(h);
}

static Suite *
admin_suite(void)
{
	Suite *s  = suite_create("admin");
	TCase *tc = it_tcase("admin");

	tcase_add_test(tc, test_health);
	tcase_add_test(tc, test_hits_misses);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_method_errors);
	tcase_add_test(tc, test_reset_stats);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(admin_suite()));
}

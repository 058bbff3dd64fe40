/* SPDX-License-Identifier: MIT */
/* The AdminService commands: health, metrics, reset-stats. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static const char *
serving_name(Cachebroker__V1__ServingStatus s)
{
	switch (s) {
	case CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING:
		return "SERVING";
	case CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_DEGRADED:
		return "DEGRADED";
	case CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_NOT_SERVING:
		return "NOT_SERVING";
	default:
		return "UNSPECIFIED";
	}
}

static void
json_backend(struct cli_json *j, const char *name,
    const Cachebroker__V1__BackendHealth *b)
{
	if (b == NULL) {
		return;
	}
	cli_json_key(j, name);
	cli_json_begin_object(j);
	cli_json_key(j, "connected");
	cli_json_bool(j, b->connected);
	cli_json_key(j, "latency_us");
	cli_json_int(j, b->latency_us);
	cli_json_key(j, "error");
	cli_json_string(j, b->error);
	cli_json_end_object(j);
}

static void
text_backend(const char *label, const Cachebroker__V1__BackendHealth *b)
{
	if (b == NULL) {
		printf("%-10s unknown\n", label);
	} else if (b->connected) {
		printf("%-10s connected, latency %" PRId64 " us\n", label,
		    b->latency_us);
	} else if (b->error[0] != '\0') {
		printf("%-10s disconnected (%s)\n", label, b->error);
	} else {
		printf("%-10s disconnected\n", label);
	}
}

static void
health_json(const Cachebroker__V1__HealthResponse *h)
{
	struct cli_json j;

	cli_json_init(&j, stdout);
	cli_json_begin_object(&j);
	cli_json_key(&j, "status");
	cli_json_string(&j, serving_name(h->status));
	json_backend(&j, "redis", h->redis);
	json_backend(&j, "database", h->database);
	cli_json_key(&j, "uptime_s");
	cli_json_uint(&j, h->uptime_s);
	cli_json_key(&j, "version");
	cli_json_string(&j, h->version);
	cli_json_key(&j, "hits");
	cli_json_uint(&j, h->hits);
	cli_json_key(&j, "misses");
	cli_json_uint(&j, h->misses);
	cli_json_key(&j, "hit_rate");
	cli_json_double(&j, h->hit_rate);
	cli_json_key(&j, "l1_enabled");
	cli_json_bool(&j, h->l1_enabled);
	cli_json_key(&j, "l1_coherent");
	cli_json_bool(&j, h->l1_coherent);
	cli_json_end(&j);
}

static void
health_text(const Cachebroker__V1__HealthResponse *h)
{
	char up[64];

	cli_duration_format(up, sizeof(up), h->uptime_s);
	printf("%-10s %s\n", "status:", serving_name(h->status));
	text_backend("redis:", h->redis);
	if (h->database != NULL) {
		text_backend("database:", h->database);
	}
	printf("%-10s %s\n", "uptime:", up);
	printf("%-10s %s\n", "version:", h->version);
	printf("%-10s %" PRIu64 "\n", "hits:", h->hits);
	printf("%-10s %" PRIu64 "\n", "misses:", h->misses);
	printf("%-10s %.1f%%\n", "hit rate:", h->hit_rate * 100.0);
	if (h->l1_enabled) {
		printf("%-10s %s\n", "l1:",
		    h->l1_coherent ? "on" : "off (waiting for tracking)");
	}
}

int
cli_cmd_health(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__HealthRequest req =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__HealthResponse *resp = NULL;
	cb_result                        res;
	cb_status                        st;
	int                              rc;

	(void) argc;
	(void) argv;
	st = cb_admin_health(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	if (cli->json) {
		health_json(resp);
	} else {
		health_text(resp);
	}
	/* A probe can use the exit code: a broker that answers, even
	 * degraded, is up; one that says it cannot serve is not. */
	switch (resp->status) {
	case CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING:
	case CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_DEGRADED:
		rc = CLI_EXIT_OK;
		break;
	default:
		rc = cli_fail(CB_UNAVAILABLE, "broker is not serving");
		break;
	}

out:
	cb_message_free(resp);
	return rc;
}

/*
 * A map<string,string> arrives as an array of entries with key and value.
 * The three RedisInfo maps share that layout but not a type, hence macros
 * rather than one function and a cast.
 */
#define JSON_MAP(j, name, entries, n)                             \
	do {                                                      \
		size_t k_;                                        \
                                                                  \
		cli_json_key(j, name);                            \
		cli_json_begin_object(j);                         \
		for (k_ = 0; k_ < (n); k_++) {                    \
			cli_json_key(j, (entries)[k_]->key);      \
			cli_json_string(j, (entries)[k_]->value); \
		}                                                 \
		cli_json_end_object(j);                           \
	} while (0)

#define TEXT_MAP(title, entries, n)                                \
	do {                                                       \
		size_t k_;                                         \
                                                                   \
		if ((n) > 0) {                                     \
			printf("\n%s:\n", title);                  \
		}                                                  \
		for (k_ = 0; k_ < (n); k_++) {                     \
			printf("  %-32s %s\n", (entries)[k_]->key, \
			    (entries)[k_]->value);                 \
		}                                                  \
	} while (0)

/* json_pool writes a backend pool's sizes; nothing for an absent one. */
static void
json_pool(struct cli_json *j, const char *name,
    const Cachebroker__V1__PoolMetrics *p)
{
	if (p == NULL) {
		return;
	}
	cli_json_key(j, name);
	cli_json_begin_object(j);
	cli_json_key(j, "connections");
	cli_json_uint(j, p->connections);
	cli_json_key(j, "ready");
	cli_json_uint(j, p->ready);
	cli_json_end_object(j);
}

/* json_l1 writes the L1's counters as "l1": {...}. */
static void
json_l1(struct cli_json *j, const Cachebroker__V1__L1Metrics *l)
{
	const struct {
		const char *name;
		uint64_t    v;
	} f[] = {
		{ "hits", l->hits },
		{ "misses", l->misses },
		{ "fills", l->fills },
		{ "evictions", l->evictions },
		{ "invalidations", l->invalidations },
		{ "admission_refusals", l->admission_refusals },
		{ "fills_cancelled", l->fills_cancelled },
		{ "clears", l->clears },
		{ "bytes", l->bytes },
		{ "entries", l->entries },
		{ "max_bytes", l->max_bytes },
		{ "tracking_messages", l->tracking_messages },
	};

	cli_json_key(j, "l1");
	cli_json_begin_object(j);
	cli_json_key(j, "enabled");
	cli_json_bool(j, l->enabled);
	cli_json_key(j, "coherent");
	cli_json_bool(j, l->coherent);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		cli_json_key(j, f[i].name);
		cli_json_uint(j, f[i].v);
	}
	cli_json_end_object(j);
}

static void
metrics_json(const Cachebroker__V1__MetricsResponse *m)
{
	struct cli_json j;
	size_t          i;

	cli_json_init(&j, stdout);
	cli_json_begin_object(&j);
	cli_json_key(&j, "version");
	cli_json_string(&j, m->version);
	cli_json_key(&j, "uptime_s");
	cli_json_uint(&j, m->uptime_s);
	cli_json_key(&j, "in_flight");
	cli_json_uint(&j, m->in_flight);
	cli_json_key(&j, "contexts");
	cli_json_uint(&j, m->contexts);
	cli_json_key(&j, "draining");
	cli_json_bool(&j, m->draining);
	cli_json_key(&j, "listener_restarts");
	cli_json_uint(&j, m->listener_restarts);
	json_pool(&j, "redis_pool", m->redis_pool);
	json_pool(&j, "database_pool", m->database_pool);
	cli_json_key(&j, "key_count");
	cli_json_int(&j, m->key_count);
	cli_json_key(&j, "namespaces");
	cli_json_begin_array(&j);
	for (i = 0; i < m->n_namespaces; i++) {
		const Cachebroker__V1__NamespaceMetrics *n = m->namespaces[i];

		cli_json_begin_object(&j);
		cli_json_key(&j, "namespace");
		cli_json_string(&j, n->namespace_);
		cli_json_key(&j, "hits");
		cli_json_uint(&j, n->hits);
		cli_json_key(&j, "misses");
		cli_json_uint(&j, n->misses);
		cli_json_key(&j, "hit_rate");
		cli_json_double(&j, n->hit_rate);
		cli_json_key(&j, "loads");
		cli_json_uint(&j, n->loads);
		cli_json_key(&j, "load_errors");
		cli_json_uint(&j, n->load_errors);
		cli_json_key(&j, "coalesced");
		cli_json_uint(&j, n->coalesced);
		cli_json_key(&j, "invalidations");
		cli_json_uint(&j, n->invalidations);
		cli_json_key(&j, "stale_serves");
		cli_json_uint(&j, n->stale_serves);
		cli_json_key(&j, "loads_cancelled");
		cli_json_uint(&j, n->loads_cancelled);
		cli_json_end_object(&j);
	}
	cli_json_end_array(&j);
	cli_json_key(&j, "methods");
	cli_json_begin_array(&j);
	for (i = 0; i < m->n_methods; i++) {
		const Cachebroker__V1__MethodMetrics *mm = m->methods[i];

		cli_json_begin_object(&j);
		cli_json_key(&j, "method");
		cli_json_string(&j, mm->method);
		cli_json_key(&j, "count");
		cli_json_uint(&j, mm->count);
		cli_json_key(&j, "errors");
		cli_json_uint(&j, mm->errors);
		cli_json_key(&j, "latency_avg_us");
		cli_json_uint(&j, mm->latency_avg_us);
		cli_json_key(&j, "latency_p50_us");
		cli_json_uint(&j, mm->latency_p50_us);
		cli_json_key(&j, "latency_p99_us");
		cli_json_uint(&j, mm->latency_p99_us);
		cli_json_key(&j, "latency_max_us");
		cli_json_uint(&j, mm->latency_max_us);
		cli_json_key(&j, "latency_sum_us");
		cli_json_uint(&j, mm->latency_sum_us);
		cli_json_key(&j, "latency_buckets");
		cli_json_begin_array(&j);
		for (size_t b = 0; b < mm->n_latency_buckets; b++) {
			cli_json_uint(&j, mm->latency_buckets[b]);
		}
		cli_json_end_array(&j);
		cli_json_key(&j, "codes");
		cli_json_begin_object(&j);
		for (size_t c = 0; c < mm->n_codes; c++) {
			cli_json_key(&j, mm->codes[c]->key);
			cli_json_uint(&j, mm->codes[c]->value);
		}
		cli_json_end_object(&j);
		cli_json_end_object(&j);
	}
	cli_json_end_array(&j);
	cli_json_key(&j, "warm");
	cli_json_begin_array(&j);
	for (i = 0; i < m->n_warm; i++) {
		const Cachebroker__V1__WarmMetrics *w = m->warm[i];

		cli_json_begin_object(&j);
		cli_json_key(&j, "strategy");
		cli_json_string(&j, w->strategy);
		cli_json_key(&j, "runs");
		cli_json_uint(&j, w->runs);
		cli_json_key(&j, "running");
		cli_json_bool(&j, w->running);
		cli_json_key(&j, "keys_total");
		cli_json_uint(&j, w->keys_total);
		cli_json_key(&j, "errors_total");
		cli_json_uint(&j, w->errors_total);
		if (w->last != NULL && w->runs > 0) {
			cli_json_key(&j, "last");
			cli_json_warm_result(&j, w->last);
		}
		cli_json_end_object(&j);
	}
	cli_json_end_array(&j);
	cli_json_key(&j, "journal_items");
	cli_json_uint(&j, m->journal_items);
	cli_json_key(&j, "journal_namespaces");
	cli_json_uint(&j, m->journal_namespaces);
	cli_json_key(&j, "notify_listening");
	cli_json_bool(&j, m->notify_listening);
	cli_json_key(&j, "notifications");
	cli_json_uint(&j, m->notifications);
	cli_json_key(&j, "notification_errors");
	cli_json_uint(&j, m->notification_errors);
	if (m->l1 != NULL) {
		json_l1(&j, m->l1);
	}
	if (m->redis != NULL) {
		cli_json_key(&j, "redis");
		cli_json_begin_object(&j);
		JSON_MAP(&j, "memory", m->redis->memory, m->redis->n_memory);
		JSON_MAP(&j, "stats", m->redis->stats, m->redis->n_stats);
		JSON_MAP(
		    &j, "keyspace", m->redis->keyspace, m->redis->n_keyspace);
		cli_json_end_object(&j);
	}
	cli_json_end(&j);
}

static void
metrics_text(const Cachebroker__V1__MetricsResponse *m)
{
	const Cachebroker__V1__L1Metrics *l1 = m->l1;
	char                              up[64];
	size_t                            i;

	cli_duration_format(up, sizeof(up), m->uptime_s);
	printf("%-10s %s\n", "uptime:", up);
	printf("%-10s %" PRIu64 "\n", "in flight:", m->in_flight);
	printf("%-10s %" PRId64 "\n", "keys:", m->key_count);
	printf("%-10s %" PRIu64 " records, %" PRIu64 " namespaces blocked\n",
	    "journal:", m->journal_items, m->journal_namespaces);
	printf("%-10s %s, %" PRIu64 " received, %" PRIu64 " rejected\n",
	    "notify:", m->notify_listening ? "listening" : "not listening",
	    m->notifications, m->notification_errors);
	if (l1 != NULL) {
		printf("%-10s %s, %" PRIu64 " entries, %" PRIu64 " of %" PRIu64
		       " bytes, %" PRIu64 " hits, %" PRIu64 " misses\n",
		    "l1:", l1->coherent ? "on" : "off", l1->entries, l1->bytes,
		    l1->max_bytes, l1->hits, l1->misses);
	}

	if (m->n_namespaces > 0) {
		printf("\n%-12s %7s %7s %6s %6s %6s %6s %6s %7s\n",
		    "NAMESPACE", "HITS", "MISSES", "HIT%", "LOADS", "ERRORS",
		    "COALES", "STALE", "INVALID");
	}
	for (i = 0; i < m->n_namespaces; i++) {
		const Cachebroker__V1__NamespaceMetrics *n = m->namespaces[i];

		printf("%-12s %7" PRIu64 " %7" PRIu64 " %5.1f%% %6" PRIu64
		       " %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %7" PRIu64
		       "\n",
		    n->namespace_, n->hits, n->misses, n->hit_rate * 100.0,
		    n->loads, n->load_errors, n->coalesced, n->stale_serves,
		    n->invalidations);
	}

	if (m->n_warm > 0) {
		printf("\n%-28s %5s %8s %7s %9s %7s\n", "WARM STRATEGY",
		    "RUNS", "KEYS", "ERRORS", "LAST KEYS", "LAST MS");
	}
	for (i = 0; i < m->n_warm; i++) {
		const Cachebroker__V1__WarmMetrics *w = m->warm[i];
		uint64_t lk = w->last != NULL ? w->last->keys : 0;
		uint64_t lm = w->last != NULL ? w->last->duration_ms : 0;

		printf("%-28s %5" PRIu64 " %8" PRIu64 " %7" PRIu64 " %9" PRIu64
		       " %7" PRIu64 "%s\n",
		    w->strategy, w->runs, w->keys_total, w->errors_total, lk,
		    lm, w->running ? "  (running)" : "");
	}

	/* Methods without the package prefix, so that a line fits in 80
	 * columns: "CacheService/Get". */
	if (m->n_methods > 0) {
		printf("\n%-30s %8s %7s %7s %7s %7s %7s\n", "METHOD", "COUNT",
		    "ERRORS", "AVG us", "P50 us", "P99 us", "MAX us");
	}
	for (i = 0; i < m->n_methods; i++) {
		const Cachebroker__V1__MethodMetrics *mm   = m->methods[i];
		const char                           *name = mm->method;

		if (strncmp(name, CB_METHOD_PREFIX,
		        strlen(CB_METHOD_PREFIX)) == 0) {
			name += strlen(CB_METHOD_PREFIX);
		}
		printf("%-30s %8" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64
		       " %7" PRIu64 " %7" PRIu64 "\n",
		    name, mm->count, mm->errors, mm->latency_avg_us,
		    mm->latency_p50_us, mm->latency_p99_us,
		    mm->latency_max_us);
	}

	if (m->redis != NULL) {
		TEXT_MAP("redis memory", m->redis->memory, m->redis->n_memory);
		TEXT_MAP("redis stats", m->redis->stats, m->redis->n_stats);
		TEXT_MAP("redis keyspace", m->redis->keyspace,
		    m->redis->n_keyspace);
	}
}

int
cli_cmd_metrics(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__MetricsRequest req =
	    CACHEBROKER__V1__METRICS_REQUEST__INIT;
	Cachebroker__V1__MetricsResponse *resp = NULL;
	cb_result                         res;
	cb_status                         st;
	int                               rc;

	(void) argc;
	(void) argv;
	st = cb_admin_metrics(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	if (cli->json) {
		metrics_json(resp);
	} else {
		metrics_text(resp);
	}
	rc = CLI_EXIT_OK;

out:
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_reset_stats(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__ResetStatsRequest req =
	    CACHEBROKER__V1__RESET_STATS_REQUEST__INIT;
	Cachebroker__V1__ResetStatsResponse *resp = NULL;
	cb_result                            res;
	cb_status                            st;
	int                                  rc;

	(void) argc;
	(void) argv;
	st = cb_admin_reset_stats(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	if (cli->json) {
		struct cli_json j;

		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "ok");
		cli_json_bool(&j, resp->ok);
		cli_json_end(&j);
	}
	rc = resp->ok ? CLI_EXIT_OK
	              : cli_fail(CB_INTERNAL, "the broker did not reset");

out:
	cb_message_free(resp);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/* Health and Metrics answers rendered in Prometheus' text format. */
#include "prom.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVING CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING

/*
 * The latency histogram's le bounds: every second power of two of the
 * broker's buckets (bucket i counts calls under 2^i µs), 16 µs to 16.8 s.
 * Finer bounds would multiply the series by method for little gain.
 */
#define LE_FIRST 4
#define LE_LAST 24
#define LE_STEP 2

/* A family of samples: one HELP and TYPE, then its lines. */
static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* label_value writes s with Prometheus' escapes (\\, \", \n). */
static void
label_value(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"') {
			fputc('\\', f);
			fputc(*s, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
		} else {
			fputc(*s, f);
		}
	}
}

/* The method label: "CacheService/Get" rather than the full name. */
static const char *
short_method(const char *full)
{
	return strncmp(full, CB_METHOD_PREFIX, strlen(CB_METHOD_PREFIX)) == 0
	    ? full + strlen(CB_METHOD_PREFIX)
	    : full;
}

static void
sample1(
    FILE *f, const char *name, const char *label, const char *value, double v)
{
	fprintf(f, "%s{%s=\"", name, label);
	label_value(f, value);
	fprintf(f, "\"} %.15g\n", v);
}

static void
render_methods(FILE *f, const Cachebroker__V1__MetricsResponse *m)
{
	const char *dur = "cachebroker_request_duration_seconds";

	family(f, "cachebroker_requests_total", "counter",
	    "Requests answered, by method and status code.");
	for (size_t i = 0; i < m->n_methods; i++) {
		const Cachebroker__V1__MethodMetrics *mm = m->methods[i];
		for (size_t c = 0; c < mm->n_codes; c++) {
			fputs("cachebroker_requests_total{method=\"", f);
			label_value(f, short_method(mm->method));
			fputs("\",code=\"", f);
			label_value(f, mm->codes[c]->key);
			fprintf(f, "\"} %llu\n",
			    (unsigned long long) mm->codes[c]->value);
		}
	}
	family(f, dur, "histogram",
	    "Time from a request's arrival to its answer, by method.");
	for (size_t i = 0; i < m->n_methods; i++) {
		const Cachebroker__V1__MethodMetrics *mm  = m->methods[i];
		unsigned long long                    cum = 0;
		size_t                                b   = 0;

		for (int le = LE_FIRST; le <= LE_LAST; le += LE_STEP) {
			for (; b < mm->n_latency_buckets && b <= (size_t) le;
			     b++) {
				cum += mm->latency_buckets[b];
			}
			fprintf(f, "%s_bucket{method=\"", dur);
			label_value(f, short_method(mm->method));
			fprintf(f, "\",le=\"%.9g\"} %llu\n",
			    (double) (1ull << le) / 1e6, cum);
		}
		fprintf(f, "%s_bucket{method=\"", dur);
		label_value(f, short_method(mm->method));
		fprintf(f, "\",le=\"+Inf\"} %llu\n",
		    (unsigned long long) mm->count);
		sample1(f, "cachebroker_request_duration_seconds_sum",
		    "method", short_method(mm->method),
		    (double) mm->latency_sum_us / 1e6);
		fprintf(f, "%s_count{method=\"", dur);
		label_value(f, short_method(mm->method));
		fprintf(f, "\"} %llu\n", (unsigned long long) mm->count);
	}
}

/* The per-namespace counters, one family each. */
static const struct {
	const char *name;
	const char *help;
	size_t      off; /* uint64_t in NamespaceMetrics */
} ns_counters[] = {
	{ "cachebroker_cache_hits_total", "Reads that found a value.",
	    offsetof(Cachebroker__V1__NamespaceMetrics, hits) },
	{ "cachebroker_cache_misses_total", "Reads that found no value.",
	    offsetof(Cachebroker__V1__NamespaceMetrics, misses) },
	{ "cachebroker_loads_total", "Read-through loads from the database.",
	    offsetof(Cachebroker__V1__NamespaceMetrics, loads) },
	{ "cachebroker_load_errors_total", "Loads that failed.",
	    offsetof(Cachebroker__V1__NamespaceMetrics, load_errors) },
	{ "cachebroker_coalesced_waiters_total",
	    "Fetches served by another request's load (single-flight).",
	    offsetof(Cachebroker__V1__NamespaceMetrics, coalesced) },
	{ "cachebroker_loads_cancelled_total",
	    "Loads cancelled because no caller waited for them any more.",
	    offsetof(Cachebroker__V1__NamespaceMetrics, loads_cancelled) },
	{ "cachebroker_stale_serves_total",
	    "Expired values served because the database failed.",
	    offsetof(Cachebroker__V1__NamespaceMetrics, stale_serves) },
	{ "cachebroker_invalidations_total",
	    "Keys removed by Delete, InvalidatePattern and events.",
	    offsetof(Cachebroker__V1__NamespaceMetrics, invalidations) },
};

static void
render_namespaces(FILE *f, const Cachebroker__V1__MetricsResponse *m)
{
	for (size_t k = 0; k < sizeof(ns_counters) / sizeof(ns_counters[0]);
	     k++) {
		family(f, ns_counters[k].name, "counter", ns_counters[k].help);
		for (size_t i = 0; i < m->n_namespaces; i++) {
			const char *base = (const char *) m->namespaces[i];
			uint64_t    v;
			memcpy(&v, base + ns_counters[k].off, sizeof(v));
			sample1(f, ns_counters[k].name, "namespace",
			    m->namespaces[i]->namespace_, (double) v);
		}
	}
}

static void
render_backends(FILE *f, const Cachebroker__V1__HealthResponse *h,
    const Cachebroker__V1__MetricsResponse *m)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{ "cachebroker_backend_up",
		    "1 when the backend answered its latest probe." },
		{ "cachebroker_backend_latency_seconds",
		    "Round trip of the latest probe (PING, or a query)." },
		{ "cachebroker_pool_connections",
		    "Connections configured per backend." },
		{ "cachebroker_pool_ready_connections",
		    "Connections ready for commands now." },
	};
	const struct {
		const char                           *name;
		const Cachebroker__V1__BackendHealth *bh;
		const Cachebroker__V1__PoolMetrics   *pool;
	} b[] = {
		{ "redis", h->redis, m->redis_pool },
		{ "database", h->database, m->database_pool },
	};
	/* Without [database] Health still reports it (not connected): that
	 * is a configuration, not an outage, so it gets no series. */
	size_t nb = m->database_pool != NULL ? 2 : 1;

	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		family(f, fams[k].name, "gauge", fams[k].help);
		for (size_t i = 0; i < nb; i++) {
			int    up = b[i].bh != NULL && b[i].bh->connected;
			double v;

			if ((k == 1 && !up) || (k >= 2 && b[i].pool == NULL)) {
				continue; /* unknown: no sample */
			}
			v = k == 0   ? up
			    : k == 1 ? (double) b[i].bh->latency_us / 1e6
			    : k == 2 ? b[i].pool->connections
			             : b[i].pool->ready;
			sample1(f, fams[k].name, "backend", b[i].name, v);
		}
	}
}

/* single writes a whole family of one unlabelled sample. */
static void
single(FILE *f, const char *name, const char *type, const char *help, double v)
{
	family(f, name, type, help);
	fprintf(f, "%s %.15g\n", name, v);
}

/* redis_memory finds INFO memory's used_memory; -1 when absent. */
/* prom_l1 renders the L1's counters. */
static void
prom_l1(FILE *f, const Cachebroker__V1__L1Metrics *l)
{
	const struct {
		const char *name;
		const char *type;
		const char *help;
		double      v;
	} rows[] = {
		{ "cachebroker_l1_coherent", "gauge",
		    "1 when Redis tracks the L1's keys and the L1 serves.",
		    l->coherent },
		{ "cachebroker_l1_hits_total", "counter",
		    "Keys answered from the L1.", (double) l->hits },
		{ "cachebroker_l1_misses_total", "counter",
		    "L1 lookups that found nothing.", (double) l->misses },
		{ "cachebroker_l1_fills_total", "counter",
		    "Values stored in the L1.", (double) l->fills },
		{ "cachebroker_l1_evictions_total", "counter",
		    "L1 entries pushed out for room.", (double) l->evictions },
		{ "cachebroker_l1_invalidations_total", "counter",
		    "L1 entries dropped because their key changed.",
		    (double) l->invalidations },
		{ "cachebroker_l1_admission_refusals_total", "counter",
		    "L1 fills refused by admission or size.",
		    (double) l->admission_refusals },
		{ "cachebroker_l1_fills_cancelled_total", "counter",
		    "L1 fills cancelled: their key changed during the GET.",
		    (double) l->fills_cancelled },
		{ "cachebroker_l1_clears_total", "counter",
		    "Times the L1 was emptied (tracking lost, flush).",
		    (double) l->clears },
		{ "cachebroker_l1_bytes", "gauge", "Bytes the L1 holds.",
		    (double) l->bytes },
		{ "cachebroker_l1_max_bytes", "gauge", "l1_size.",
		    (double) l->max_bytes },
		{ "cachebroker_l1_entries", "gauge", "Entries the L1 holds.",
		    (double) l->entries },
		{ "cachebroker_l1_tracking_messages_total", "counter",
		    "Invalidation messages received from Redis.",
		    (double) l->tracking_messages },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		single(f, rows[i].name, rows[i].type, rows[i].help, rows[i].v);
	}
}

static double
redis_memory(const Cachebroker__V1__MetricsResponse *m)
{
	if (m->redis == NULL) {
		return -1;
	}
	for (size_t i = 0; i < m->redis->n_memory; i++) {
		if (strcmp(m->redis->memory[i]->key, "used_memory") == 0) {
			return strtod(m->redis->memory[i]->value, NULL);
		}
	}
	return -1;
}

static void
render_state(FILE *f, const Cachebroker__V1__HealthResponse *h,
    const Cachebroker__V1__MetricsResponse *m)
{
	double mem = redis_memory(m);

	family(f, "cachebroker_build_info", "gauge",
	    "The running broker's version; always 1.");
	sample1(f, "cachebroker_build_info", "version",
	    m->version != NULL ? m->version : "", 1);
	single(f, "cachebroker_uptime_seconds", "gauge",
	    "Seconds since start.", (double) m->uptime_s);
	single(f, "cachebroker_serving", "gauge",
	    "1 when Health says SERVING: every backend reachable.",
	    h->status == SERVING);
	single(f, "cachebroker_draining", "gauge",
	    "1 once SIGTERM was received: new requests are refused.",
	    m->draining);
	single(f, "cachebroker_requests_in_flight", "gauge",
	    "Requests received and not answered yet.", (double) m->in_flight);
	single(f, "cachebroker_contexts", "gauge",
	    "nng contexts: the most requests served at once.", m->contexts);
	single(f, "cachebroker_journal_items", "gauge",
	    "Invalidations waiting for Redis to come back.",
	    (double) m->journal_items);
	single(f, "cachebroker_journal_namespaces", "gauge",
	    "Namespaces not read from the cache until their journal is "
	    "applied.",
	    (double) m->journal_namespaces);
	single(f, "cachebroker_notify_listening", "gauge",
	    "1 when the LISTEN connection for notify_channel is listening.",
	    m->notify_listening);
	single(f, "cachebroker_listener_restarts_total", "counter",
	    "IPC listeners found accepting nothing and re-created.",
	    (double) m->listener_restarts);
	single(f, "cachebroker_requests_rejected_total", "counter",
	    "Requests refused: their connection had "
	    "max_connection_requests in flight.",
	    (double) m->requests_rejected);
	single(f, "cachebroker_replies_dropped_total", "counter",
	    "Replies their connection did not take in time.",
	    (double) m->replies_dropped);
	single(f, "cachebroker_connections_closed_total", "counter",
	    "Connections closed for not reading their replies.",
	    (double) m->connections_closed);
	single(f, "cachebroker_connections_refused_total", "counter",
	    "Connections refused: their listener had max_connections.",
	    (double) m->connections_refused);
	if (m->l1 != NULL) {
		prom_l1(f, m->l1);
	}
	single(f, "cachebroker_notifications_total", "counter",
	    "Database notifications received.", (double) m->notifications);
	single(f, "cachebroker_notification_errors_total", "counter",
	    "Notifications that could not be applied.",
	    (double) m->notification_errors);
	/* -1 is "unknown" (Redis down or stalled): no sample rather than
	 * a made-up 0, which would look like a flushed database. */
	if (m->key_count >= 0) {
		single(f, "cachebroker_redis_keys", "gauge",
		    "Keys in the broker's Redis database (DBSIZE).",
		    (double) m->key_count);
	}
	if (mem >= 0) {
		single(f, "cachebroker_redis_memory_used_bytes", "gauge",
		    "Redis' used_memory (INFO memory).", mem);
	}
}

/* The value of family k (in render_warm's order) for one strategy. */
static double
warm_value(const Cachebroker__V1__WarmMetrics *w, size_t k)
{
	switch (k) {
	case 0:
		return (double) w->runs;
	case 1:
		return (double) w->keys_total;
	case 2:
		return (double) w->errors_total;
	case 3:
		return w->running;
	default:
		return w->last != NULL ? (double) w->last->duration_ms / 1e3
		                       : 0;
	}
}

static void
render_warm(FILE *f, const Cachebroker__V1__MetricsResponse *m)
{
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{ "cachebroker_warm_runs_total", "counter",
		    "Warm runs finished, by strategy." },
		{ "cachebroker_warm_keys_total", "counter",
		    "Keys stored by warming, by strategy." },
		{ "cachebroker_warm_errors_total", "counter",
		    "Rows that warming could not load or store." },
		{ "cachebroker_warm_running", "gauge",
		    "1 while a run of the strategy is going on." },
		{ "cachebroker_warm_last_duration_seconds", "gauge",
		    "How long the strategy's last run took." },
	};

	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		family(f, fams[k].name, fams[k].type, fams[k].help);
		for (size_t i = 0; i < m->n_warm; i++) {
			const Cachebroker__V1__WarmMetrics *w = m->warm[i];
			sample1(f, fams[k].name, "strategy", w->strategy,
			    warm_value(w, k));
		}
	}
}

int
cbd_prom_render(const Cachebroker__V1__HealthResponse *h,
    const Cachebroker__V1__MetricsResponse *m, char **out, size_t *len)
{
	char  *buf = NULL;
	size_t n   = 0;
	FILE  *f   = open_memstream(&buf, &n);

	if (f == NULL) {
		return -1;
	}
	render_state(f, h, m);
	render_backends(f, h, m);
	render_methods(f, m);
	render_namespaces(f, m);
	render_warm(f, m);
	if (ferror(f) != 0) {
		fclose(f);
		free(buf);
		return -1;
	}
	if (fclose(f) != 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

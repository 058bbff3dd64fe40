/* SPDX-License-Identifier: MIT */
/* AdminService: Health, Metrics, ResetStats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>

#include "db_pool.h"
#include "conns.h"
#include "ipcguard.h"
#include "journal.h"
#include "l1.h"
#include "notify.h"
#include "pb.h"
#include "redis_pool.h"
#include "request.h"
#include "stats.h"
#include "tracking.h"
#include "svc.h"
#include "warm.h"

cb_status
cbd_admin_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	(void) lim;
	(void) cfg;
	(void) in;
	(void) why;
	(void) whylen;
	return CB_OK;
}

/* Health: a PING measures Redis' latency; no ready connection, or a PING
 * that fails or gets no reply within [redis] command_timeout, means
 * DEGRADED with the reason in redis.error (the broker itself still
 * answers). */

static void
health_fill(cbd_req *req, Cachebroker__V1__HealthResponse *h)
{
	cbd_env *env = cbd_svc_env(req);
	uint64_t hits;
	uint64_t misses;

	cbd_stats_totals(req->host->stats, &hits, &misses);
	if (env->l1 != NULL) {
		cbd_l1_stats ls;
		cbd_l1_stats_get(env->l1, &ls);
		hits += ls.hits;
		h->l1_enabled  = 1;
		h->l1_coherent = ls.coherent != 0;
	}
	h->uptime_s = (cbd_now_us() - env->start_us) / 1000000u;
	h->hits     = hits;
	h->misses   = misses;
	h->hit_rate = cbd_stats_hit_rate(hits, misses);
}

static void
health_pong(void *arg, uint64_t tag, redisReply *r)
{
	int                              ok;
	cbd_req                         *req = cbd_svc_reply(arg, tag, r, &ok);
	Cachebroker__V1__HealthResponse *h;

	if (req == NULL) {
		return;
	}
	h = (void *) req->op.resp;
	if (ok) {
		h->redis->connected = 1;
		h->redis->latency_us =
		    (int64_t) (cbd_now_us() - req->op.t0_us);
		/* Serving needs every configured backend. */
		if (cbd_svc_env(req)->db == NULL || h->database->connected) {
			h->status =
			    CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING;
		}
	} else {
		char why[sizeof(req->op.msg) + 2 + 160];
		char lost[160];

		/* A dropped connection (reply NULL) says why in the pool. */
		cbd_redis_last_error(
		    cbd_svc_env(req)->redis, lost, sizeof(lost));
		snprintf(why, sizeof(why), "%s%s%s", req->op.msg,
		    r == NULL && lost[0] != '\0' ? ": " : "",
		    r == NULL ? lost : "");
		/* Out of memory for the text: still DEGRADED. */
		(void) cbd_pb_str_set(&h->redis->error, why);
		/* A failed PING is news about Redis, not a failed Health. */
		req->op.code = CB_OK;
	}
	cbd_svc_done(req);
}

void
cbd_admin_health_run(cbd_req *req)
{
	Cachebroker__V1__HealthResponse *h;
	cbd_redis_conn                  *c;
	cbd_cmd                          cmd;
	char                             err[160];

	h = cbd_svc_alloc(req, &cachebroker__v1__health_response__descriptor);
	if (h == NULL) {
		return;
	}
	h->redis    = malloc(sizeof(*h->redis));
	h->database = malloc(sizeof(*h->database));
	if (h->redis == NULL || h->database == NULL ||
	    cbd_pb_str_set(&h->version, CBD_VERSION) != 0) {
		free(h->redis);
		free(h->database);
		h->redis = h->database = NULL;
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	cachebroker__v1__backend_health__init(h->redis);
	cachebroker__v1__backend_health__init(h->database);
	/* The error texts are best effort: without memory for them the
	 * status still tells. */
	if (cbd_svc_env(req)->db == NULL) {
		(void) cbd_pb_str_set(
		    &h->database->error, "no database configured");
	} else if (cbd_db_ready_count(cbd_svc_env(req)->db) > 0) {
		h->database->connected = 1;
		h->database->latency_us =
		    (int64_t) cbd_db_latency_us(cbd_svc_env(req)->db);
	} else {
		cbd_db_last_error(cbd_svc_env(req)->db, err, sizeof(err));
		(void) cbd_pb_str_set(&h->database->error,
		    err[0] != '\0' ? err : "no connection ready");
	}
	health_fill(req, h);
	h->status = CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_DEGRADED;

	if ((c = cbd_redis_pick(cbd_svc_env(req)->redis)) == NULL) {
		cbd_redis_last_error(
		    cbd_svc_env(req)->redis, err, sizeof(err));
		(void) cbd_pb_str_set(&h->redis->error,
		    err[0] != '\0' ? err : "no connection ready");
		cbd_svc_done(req);
		return;
	}
	if (cbd_svc_cmd(req, &cmd, 1, 0) != 0) {
		return;
	}
	cbd_cmd_str(&cmd, "PING");
	req->op.t0_us = cbd_now_us();
	(void) cbd_svc_send(req, c, health_pong, 0, &cmd);
}

/*
 * Metrics: INFO memory, INFO stats, INFO keyspace and DBSIZE, pipelined;
 * the broker's own counters are added when the last reply is in. Metrics
 * answers OK whatever Redis does: with no ready connection, or when any
 * of the four fails or gets no reply within [redis] command_timeout (the
 * pool drops the connection), it answers with the broker's counters,
 * empty Redis sections and key_count -1 ("unknown"), never with half of
 * what Redis said. op.count is 1 once a Redis reply failed.
 */

enum { SUB_MEMORY, SUB_STATS, SUB_KEYSPACE, SUB_DBSIZE };

/* info_parse turns INFO text ("field:value" lines, "#" headers) into map
 * entries of the given type, appended to *entries. Returns -1 on OOM. */
static int
info_parse(const char *text, const ProtobufCMessageDescriptor *desc, size_t *n,
    void ***entries)
{
	const ProtobufCFieldDescriptor *fk   = &desc->fields[0];
	const ProtobufCFieldDescriptor *fv   = &desc->fields[1];
	const char                     *line = text;

	while (*line != '\0') {
		const char *eol = strpbrk(line, "\r\n");
		const char *colon;
		size_t      len =
                    eol != NULL ? (size_t) (eol - line) : strlen(line);
		void            **grown;
		ProtobufCMessage *e;

		colon = memchr(line, ':', len);
		if (line[0] != '#' && colon != NULL) {
			if ((grown = realloc(*entries,
			         (*n + 1) * sizeof(void *))) == NULL) {
				return -1;
			}
			*entries = grown;
			if ((e = malloc(desc->sizeof_message)) == NULL) {
				return -1;
			}
			protobuf_c_message_init(desc, e);
			(*entries)[(*n)++] = e;
			if (cbd_pb_str_setn(
			        (char **) (void *) ((char *) e + fk->offset),
			        line, (size_t) (colon - line)) != 0 ||
			    cbd_pb_str_setn(
			        (char **) (void *) ((char *) e + fv->offset),
			        colon + 1,
			        len - (size_t) (colon - line) - 1) != 0) {
				return -1;
			}
		}
		line += len;
		while (*line == '\r' || *line == '\n') {
			line++;
		}
	}
	return 0;
}

/* metrics_warm adds the record of each warm strategy of pol. */
static int
metrics_warm(const cbd_policy *pol, Cachebroker__V1__MetricsResponse *m)
{
	const cbd_config *cfg = pol->cfg;

	if ((m->warm = calloc(cfg->n_warms + 1, sizeof(void *))) == NULL) {
		return -1;
	}
	for (size_t i = 0; i < cfg->n_warms; i++) {
		const cbd_warm_stats         *st = &pol->warm_stats[i];
		Cachebroker__V1__WarmMetrics *wm = malloc(sizeof(*wm));
		Cachebroker__V1__WarmResult  *last;

		if (wm == NULL) {
			return -1;
		}
		cachebroker__v1__warm_metrics__init(wm);
		m->warm[m->n_warm++] = wm;
		if (cbd_pb_str_set(&wm->strategy, cfg->warms[i].name) != 0 ||
		    (last = malloc(sizeof(*last))) == NULL) {
			return -1;
		}
		cachebroker__v1__warm_result__init(last);
		wm->last         = last;
		wm->runs         = st->runs;
		wm->keys_total   = st->keys_total;
		wm->errors_total = st->errors_total;
		wm->running      = st->running > 0;
		if (cbd_pb_str_set(&last->strategy, cfg->warms[i].name) != 0 ||
		    cbd_warm_result_copy(last, &st->last) != 0) {
			return -1;
		}
	}
	return 0;
}

/* metrics_method_detail adds a method's calls by status and its latency
 * histogram, the numbers /metrics renders as Prometheus series. */
static int
metrics_method_detail(
    const cbd_method_stats *ms, Cachebroker__V1__MethodMetrics *mm)
{
	mm->latency_sum_us = atomic_load(&ms->lat_sum_us);
	mm->latency_buckets =
	    calloc(CBD_LAT_BUCKETS, sizeof(*mm->latency_buckets));
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
	mm->codes = calloc(CB_STATUS_MAX + 1, sizeof(*mm->codes));
	if (mm->latency_buckets == NULL || mm->codes == NULL) {
		return -1;
	}
	mm->n_latency_buckets = CBD_LAT_BUCKETS;
	for (int b = 0; b < CBD_LAT_BUCKETS; b++) {
		mm->latency_buckets[b] = atomic_load(&ms->lat[b]);
	}
	for (int c = 0; c <= CB_STATUS_MAX; c++) {
		Cachebroker__V1__MethodMetrics__CodesEntry *e;
		uint64_t n = atomic_load(&ms->codes[c]);
		if (n == 0) {
			continue;
		}
		if ((e = malloc(sizeof(*e))) == NULL) {
			return -1;
		}
		cachebroker__v1__method_metrics__codes_entry__init(e);
		mm->codes[mm->n_codes++] = e;
		if (cbd_pb_str_set(&e->key, cb_status_str(c)) != 0) {
			return -1;
		}
		e->value = n;
	}
	return 0;
}

static Cachebroker__V1__PoolMetrics *
pool_alloc(uint32_t connections, size_t ready)
{
	Cachebroker__V1__PoolMetrics *p = malloc(sizeof(*p));

	if (p != NULL) {
		cachebroker__v1__pool_metrics__init(p);
		p->connections = connections;
		p->ready       = (uint32_t) ready;
	}
	return p;
}

/* metrics_l1 adds the L1's counters. */
static int
metrics_l1(const cbd_env *env, Cachebroker__V1__MetricsResponse *m)
{
	Cachebroker__V1__L1Metrics *l = malloc(sizeof(*l));
	cbd_l1_stats                ls;

	if (l == NULL) {
		return -1;
	}
	cachebroker__v1__l1_metrics__init(l);
	cbd_l1_stats_get(env->l1, &ls);
	l->enabled            = 1;
	l->coherent           = ls.coherent != 0;
	l->hits               = ls.hits;
	l->misses             = ls.misses;
	l->fills              = ls.fills;
	l->evictions          = ls.evictions;
	l->invalidations      = ls.invalidations;
	l->admission_refusals = ls.refusals;
	l->fills_cancelled    = ls.cancelled;
	l->clears             = ls.clears;
	l->bytes              = ls.bytes;
	l->entries            = ls.entries;
	l->max_bytes          = ls.max_bytes;
	l->tracking_messages  = cbd_tracking_messages(env->tracking);
	m->l1                 = l;
	return 0;
}

/* metrics_pools adds the broker's identity, capacity and backend pools. */
static int
metrics_pools(const cbd_env *env, Cachebroker__V1__MetricsResponse *m)
{
	m->contexts          = env->contexts;
	m->draining          = atomic_load(&env->host->draining) != 0;
	m->listener_restarts = cbd_ipcguard_restarts(env->ipcguard);
	if (env->conns != NULL) {
		cbd_conns_stats cs;
		cbd_conns_stats_get(env->conns, &cs);
		m->requests_rejected   = cs.rejected;
		m->replies_dropped     = cs.dropped;
		m->connections_closed  = cs.closed;
		m->connections_refused = cs.refused;
	}
	if (env->l1 != NULL && metrics_l1(env, m) != 0) {
		return -1;
	}
	if (cbd_pb_str_set(&m->version, CBD_VERSION) != 0 ||
	    (m->redis_pool = pool_alloc(env->cfg->redis.connections,
	         cbd_redis_ready_count(env->redis))) == NULL) {
		return -1;
	}
	if (env->db != NULL &&
	    (m->database_pool = pool_alloc(env->cfg->db.connections,
	         cbd_db_ready_count(env->db))) == NULL) {
		return -1;
	}
	return 0;
}

static int
metrics_counters(cbd_req *req, Cachebroker__V1__MetricsResponse *m)
{
	cbd_env   *env  = cbd_svc_env(req);
	cbd_stats *s    = req->host->stats;
	size_t     n_ns = s->n_ns + (s->ns[CBD_MAX_NS_STATS].name[0] != '\0');

	m->uptime_s  = (cbd_now_us() - env->start_us) / 1000000u;
	m->in_flight = atomic_load(&req->host->in_flight);
	if ((m->namespaces = calloc(n_ns + 1, sizeof(void *))) == NULL ||
	    (m->methods = calloc(CBD_METHOD_COUNT + 1, sizeof(void *))) ==
	        NULL) {
		return -1;
	}
	for (size_t i = 0; i <= CBD_MAX_NS_STATS; i++) {
		const cbd_ns_stats                *ns = &s->ns[i];
		Cachebroker__V1__NamespaceMetrics *nm;
		if (ns->name[0] == '\0' ||
		    (i >= s->n_ns && i < CBD_MAX_NS_STATS)) {
			continue;
		}
		if ((nm = malloc(sizeof(*nm))) == NULL) {
			return -1;
		}
		cachebroker__v1__namespace_metrics__init(nm);
		m->namespaces[m->n_namespaces++] = nm;
		if (cbd_pb_str_set(&nm->namespace_, ns->name) != 0) {
			return -1;
		}
		nm->hits            = ns->hits;
		nm->misses          = ns->misses;
		nm->hit_rate        = cbd_stats_hit_rate(ns->hits, ns->misses);
		nm->loads           = ns->loads;
		nm->load_errors     = ns->load_errors;
		nm->coalesced       = ns->coalesced;
		nm->invalidations   = ns->invalidations;
		nm->stale_serves    = ns->stale_serves;
		nm->loads_cancelled = ns->loads_cancelled;
	}
	for (int i = 0; i <= CBD_METHOD_COUNT; i++) {
		const cbd_method_stats         *ms = &s->methods[i];
		Cachebroker__V1__MethodMetrics *mm;
		uint64_t count = atomic_load(&ms->count);
		if (count == 0) {
			continue;
		}
		if ((mm = malloc(sizeof(*mm))) == NULL) {
			return -1;
		}
		cachebroker__v1__method_metrics__init(mm);
		m->methods[m->n_methods++] = mm;
		if (cbd_pb_str_set(&mm->method, cbd_router_name(i)) != 0) {
			return -1;
		}
		mm->count          = count;
		mm->errors         = cbd_stats_errors(ms);
		mm->latency_avg_us = atomic_load(&ms->lat_sum_us) / count;
		mm->latency_max_us = atomic_load(&ms->lat_max_us);
		/* Bucket bounds may overshoot the worst call seen. */
		mm->latency_p50_us =
		    MIN(cbd_stats_percentile(ms, 50), mm->latency_max_us);
		mm->latency_p99_us =
		    MIN(cbd_stats_percentile(ms, 99), mm->latency_max_us);
		if (metrics_method_detail(ms, mm) != 0) {
			return -1;
		}
	}
	if (metrics_pools(env, m) != 0) {
		return -1;
	}
	m->journal_items      = cbd_journal_items(env->journal);
	m->journal_namespaces = cbd_journal_namespaces(env->journal);
	m->notify_listening   = env->db != NULL && env->notify != NULL &&
	    cbd_db_listening(env->db);
	m->notifications       = cbd_notify_count(env->notify);
	m->notification_errors = cbd_notify_errors(env->notify);
	return metrics_warm(req->pol, m);
}

/* metrics_forget_redis empties what Redis said: its INFO sections and
 * the key count. */
static void
metrics_forget_redis(Cachebroker__V1__MetricsResponse *m)
{
	Cachebroker__V1__RedisInfo *ri = m->redis;
	struct {
		size_t *n;
		void ***v;
	} sec[] = {
		{ &ri->n_memory, (void ***) &ri->memory },
		{ &ri->n_stats, (void ***) &ri->stats },
		{ &ri->n_keyspace, (void ***) &ri->keyspace },
	};

	for (size_t i = 0; i < sizeof(sec) / sizeof(sec[0]); i++) {
		for (size_t k = 0; k < *sec[i].n; k++) {
			protobuf_c_message_free_unpacked((*sec[i].v)[k], NULL);
		}
		free(*sec[i].v);
		*sec[i].v = NULL;
		*sec[i].n = 0;
	}
	m->key_count = -1;
}

/* metrics_finish answers once no Redis reply is due. */
static void
metrics_finish(cbd_req *req)
{
	Cachebroker__V1__MetricsResponse *m = (void *) req->op.resp;

	if (req->op.count != 0) {
		metrics_forget_redis(m);
	}
	if (req->op.code == CB_OK && metrics_counters(req, m) != 0) {
		cbd_svc_fail_oom(req);
	}
	cbd_svc_done(req);
}

static void
metrics_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_svc_reply(arg, tag, r, &ok);
	Cachebroker__V1__MetricsResponse *m;
	Cachebroker__V1__RedisInfo       *ri;
	int                               rv = 0;

	if (req == NULL) {
		return;
	}
	m  = (void *) req->op.resp;
	ri = m->redis;
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		/* cbd_svc_reply took this for the op's failure: for Metrics
		 * it is only news that Redis' part is unknown. */
		req->op.count = 1;
		if (req->op.code != CB_RESOURCE_EXHAUSTED) {
			req->op.code = CB_OK;
		}
	} else if (ok && r->type == REDIS_REPLY_STRING) {
		switch ((uint32_t) tag) {
		case SUB_MEMORY:
			rv = info_parse(r->str,
			    &cachebroker__v1__redis_info__memory_entry__descriptor,
			    &ri->n_memory, (void ***) &ri->memory);
			break;
		case SUB_STATS:
			rv = info_parse(r->str,
			    &cachebroker__v1__redis_info__stats_entry__descriptor,
			    &ri->n_stats, (void ***) &ri->stats);
			break;
		case SUB_KEYSPACE:
			rv = info_parse(r->str,
			    &cachebroker__v1__redis_info__keyspace_entry__descriptor,
			    &ri->n_keyspace, (void ***) &ri->keyspace);
			break;
		default:
			break;
		}
	} else if (ok && r->type == REDIS_REPLY_INTEGER) {
		m->key_count = r->integer;
	}
	if (rv != 0) {
		cbd_svc_fail_oom(req);
	}
	if (req->op.pending == 0) {
		metrics_finish(req);
	}
}

/* metrics_send sends cmd (and frees it), counting it in op.pending; a
 * connection that cannot take it is Redis' part failing, not Metrics. */
static void
metrics_send(cbd_req *req, cbd_redis_conn *c, uint32_t sub, cbd_cmd *cmd)
{
	if (cbd_redis_send(c, metrics_cb, req, cbd_req_tag(req, sub),
	        cmd->argc, cmd->argv, cmd->lens) == 0) {
		req->op.pending++;
	} else {
		req->op.count = 1;
	}
	cbd_cmd_fini(cmd);
}

void
cbd_admin_metrics_run(cbd_req *req)
{
	static const char *const          sections[] = { "memory", "stats",
		         "keyspace" };
	Cachebroker__V1__MetricsResponse *m;
	cbd_redis_conn                   *c;
	cbd_cmd                           cmd;

	m = cbd_svc_alloc(req, &cachebroker__v1__metrics_response__descriptor);
	if (m == NULL) {
		return;
	}
	if ((m->redis = malloc(sizeof(*m->redis))) == NULL) {
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	cachebroker__v1__redis_info__init(m->redis);
	m->key_count = -1;
	if ((c = cbd_redis_pick(cbd_svc_env(req)->redis)) == NULL) {
		metrics_finish(req);
		return;
	}
	for (uint32_t i = 0; i < 4 && req->op.count == 0; i++) {
		if (cbd_cmd_init(&cmd, 2, 0) != 0) {
			cbd_svc_fail_oom(req);
			break;
		}
		if (i < 3) {
			cbd_cmd_str(&cmd, "INFO");
			cbd_cmd_str(&cmd, sections[i]);
		} else {
			cbd_cmd_str(&cmd, "DBSIZE");
		}
		metrics_send(req, c, SUB_MEMORY + i, &cmd);
	}
	if (req->op.pending == 0) {
		metrics_finish(req);
	}
}

void
cbd_admin_reset_stats_run(cbd_req *req)
{
	Cachebroker__V1__ResetStatsResponse *r;

	r = cbd_svc_alloc(
	    req, &cachebroker__v1__reset_stats_response__descriptor);
	if (r == NULL) {
		return;
	}
	cbd_stats_reset(req->host->stats);
	if (cbd_svc_env(req)->l1 != NULL) {
		cbd_l1_stats_reset(cbd_svc_env(req)->l1);
	}
	r->ok = 1;
	cbd_svc_done(req);
}

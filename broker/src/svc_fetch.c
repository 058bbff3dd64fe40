/* SPDX-License-Identifier: MIT */
/* CacheService/Fetch: read-through of a policy resource. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "cmd.h"
#include "journal.h"
#include "keys.h"
#include "loader.h"
#include "pb.h"
#include "policy.h"
#include "redis_pool.h"
#include "request.h"
#include "svc.h"
#include "stats.h"

/* Keys of resources are at most this long (template plus values). */
#define FETCH_MAX_KEY 1024

/* fetch_bind resolves the resource and its parameters. */
static cb_status
fetch_bind(const cbd_config *cfg, const Cachebroker__V1__FetchRequest *in,
    const cbd_resource **rp, const char *values[CBD_MAX_PARAMS], char *key,
    uint64_t *ttl_ms, char *why, size_t whylen)
{
	const cbd_resource *r = cbd_config_resource(cfg, in->resource);
	const char         *names[CBD_MAX_PARAMS];
	const char         *vals[CBD_MAX_PARAMS];

	if (r == NULL) {
		/* Spelled out so that clang-tidy sees *rp set on OK. */
		(void) cbd_svc_unknown("resource", in->resource, why, whylen);
		return CB_INVALID_ARGUMENT;
	}
	CBD_CHECK(cbd_svc_params((void *const *) in->params, in->n_params,
	    names, vals, why, whylen));
	CBD_CHECK(cbd_resource_bind(r, in->n_params, names, vals, values, key,
	    FETCH_MAX_KEY, why, whylen));
	CBD_CHECK(cbd_resource_ttl_ms(r, values, 0, ttl_ms, why, whylen));
	*rp = r;
	return CB_OK;
}

cb_status
cbd_cache_fetch_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__FetchRequest *r = (const void *) in;
	const cbd_resource                  *res;
	const char                          *names[CBD_MAX_PARAMS];
	const char                          *values[CBD_MAX_PARAMS];
	char                                 key[FETCH_MAX_KEY];
	uint64_t                             ttl;

	(void) lim;
	if (cfg == NULL) {
		/* The resource is the policy's: run binds it. */
		return cbd_svc_params((void *const *) r->params, r->n_params,
		    names, values, why, whylen);
	}
	return fetch_bind(cfg, r, &res, values, key, &ttl, why, whylen);
}

/* today_ymd is today's date as YYYYMMDD in the configured time zone
 * (the process' TZ, set from [policy] time_zone at start). */
static int
today_ymd(void)
{
	time_t    now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 +
	    tm.tm_mday;
}

/*
 * A Fetch's state, made once when it runs: its response (first, so that
 * op.resp owns and frees the whole) and its binding, the resource and
 * parameters resolved once in the request's policy. What Redis said is
 * kept here until both of its replies are in.
 */
typedef struct fetch_state {
	Cachebroker__V1__FetchResponse resp; /* first: op.resp */
	cbd_load ld;           /* the binding; ld.key is resp.key */
	int      found;        /* GET found a value */
	int      redis_failed; /* GET failed */
} fetch_state;

static fetch_state *
fetch_of(const cbd_req *req)
{
	return (fetch_state *) (void *) req->op.resp;
}

/* fetch_loaded answers a Fetch with what its load gave: the loader's
 * done function. */
static void
fetch_loaded(cbd_req *req, const cbd_loaded *res)
{
	fetch_state *st = fetch_of(req);

	req->x_cache = res->x_cache;
	if (res->code != CB_OK) {
		cbd_req_finish(req, res->code, res->msg, NULL);
		return;
	}
	if (res->value == NULL) {
		cbd_req_fail(req, CB_NOT_FOUND, "%s: not found", st->resp.key);
		return;
	}
	/* A stale value may be the one already here: copy first. */
	{
		uint8_t *data = malloc(res->len + 1);
		if (data == NULL) {
			cbd_req_fail(req, CB_RESOURCE_EXHAUSTED,
			    "broker out of memory");
			return;
		}
		memcpy(data, res->value, res->len);
		free(st->resp.value.data);
		st->resp.value.data = data;
		st->resp.value.len  = res->len;
	}
	st->resp.source = res->stale
	    ? CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_STALE
	    : CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_LOADER;
	st->resp.ttl_ms = (int64_t) res->ttl_ms;
	cbd_svc_done(req);
}

/* fetch_load hands the request to the loader with today's TTL; stale
 * (may be NULL) is served if the database fails. */
static void
fetch_load(cbd_req *req, int degraded, const void *stale, size_t stale_len)
{
	fetch_state *st = fetch_of(req);
	char         why[160];
	cb_status    rv;

	if ((rv = cbd_resource_ttl_ms(st->ld.r, st->ld.values, today_ymd(),
	         &st->ld.ttl_ms, why, sizeof(why))) != CB_OK) {
		cbd_req_finish(req, rv, why, NULL);
		return;
	}
	st->ld.degraded  = degraded;
	st->ld.stale     = stale;
	st->ld.stale_len = stale_len;
	cbd_loader_fetch(cbd_svc_env(req)->loader, req, &st->ld);
}

/*
 * early_refresh decides, for a hit with ttl_left_ms to go, whether to
 * reload it now in the background (XFetch, Vattani et al., VLDB 2015):
 * with delta the time a load takes, reload when
 * -delta * beta * ln(U) >= time left, U uniform in (0, 1]: rarely while
 * the value is young, almost surely in its last few load-times, so that
 * hot keys are refreshed before they expire instead of all missing at
 * once.
 */
static void
early_refresh(cbd_req *req, int64_t ttl_left_ms)
{
	fetch_state        *st = fetch_of(req);
	const cbd_resource *r  = st->ld.r;
	uint64_t            delta_us =
	    req->pol->load_us[cbd_policy_resource_index(req->pol, r)];
	double   u;
	cbd_load ld;
	char     why[160];

	if (r->early_beta <= 0 || delta_us == 0) {
		return;
	}
	u = ((double) cbd_random32() + 1.0) / 4294967296.0;
	if (-(double) delta_us / 1000.0 * r->early_beta * log(u) <
	    (double) ttl_left_ms) {
		return;
	}
	ld       = st->ld;
	ld.stale = NULL;
	if (cbd_resource_ttl_ms(r, ld.values, today_ymd(), &ld.ttl_ms, why,
	        sizeof(why)) == CB_OK) {
		cbd_loader_fetch(cbd_svc_env(req)->loader, NULL, &ld);
	}
}

/* fetch_cached decides, once GET and PTTL are in: a hit, a miss (load),
 * or a value in its stale window (load, serving it if the load fails). */
static void
fetch_cached(cbd_req *req)
{
	fetch_state        *st  = fetch_of(req);
	const cbd_resource *res = st->ld.r;
	cbd_ns_stats       *ns  = cbd_stats_ns(req->host->stats, res->ns);

	if (req->op.code != CB_OK) {
		cbd_svc_done(req);
		return;
	}
	if (!st->found) {
		ns->misses++;
		fetch_load(req, st->redis_failed, NULL, 0);
		return;
	}
	if (res->stale_ms > 0) {
		/* The last stale_ms of the Redis TTL are the stale window. */
		if (st->resp.ttl_ms <= (int64_t) res->stale_ms) {
			ns->misses++;
			fetch_load(
			    req, 0, st->resp.value.data, st->resp.value.len);
			return;
		}
		st->resp.ttl_ms -= (int64_t) res->stale_ms;
	}
	ns->hits++;
	req->x_cache = "hit";
	if (st->resp.value.len == CBD_NEGATIVE_LEN &&
	    memcmp(st->resp.value.data, CBD_NEGATIVE_VALUE,
	        CBD_NEGATIVE_LEN) == 0) {
		cbd_req_fail(req, CB_NOT_FOUND, "%s: not found", st->resp.key);
		return;
	}
	st->resp.source = CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE;
	early_refresh(req, st->resp.ttl_ms);
	cbd_svc_done(req);
}

/* Replies of the cache lookup: tag 0 is GET, 1 is PTTL. A failed GET is
 * not the request's failure: the value is loaded (and not stored). */
static void
fetch_cached_cb(void *arg, uint64_t tag, redisReply *r)
{
	cbd_req     *req = cbd_req_current(arg, tag);
	fetch_state *st;

	if (req == NULL) {
		return;
	}
	req->op.pending--;
	st = fetch_of(req);
	if ((uint32_t) tag == 1) {
		if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
			st->resp.ttl_ms = r->integer > 0 ? r->integer : 0;
		}
	} else if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		st->redis_failed = 1;
	} else if (r->type == REDIS_REPLY_STRING) {
		if ((st->resp.value.data = malloc(r->len + 1)) == NULL) {
			cbd_svc_fail_oom(req);
		} else {
			memcpy(st->resp.value.data, r->str, r->len);
			st->resp.value.len = r->len;
			st->found          = 1;
		}
	}
	if (req->op.pending == 0) {
		fetch_cached(req);
	}
}

/* fetch_start makes the request's state and binds it once; NULL after
 * answering. */
static fetch_state *
fetch_start(cbd_req *req)
{
	const Cachebroker__V1__FetchRequest *in = (const void *) req->in;
	fetch_state                         *st;
	char                                 key[FETCH_MAX_KEY];
	char                                 why[160];
	cb_status                            rv;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return NULL;
	}
	cachebroker__v1__fetch_response__init(&st->resp);
	req->op.resp = &st->resp.base;
	/* The policy is the request's: nng's thread did not see it. */
	if ((rv = fetch_bind(cbd_req_config(req), in, &st->ld.r, st->ld.values,
	         key, &st->ld.ttl_ms, why, sizeof(why))) != CB_OK) {
		cbd_req_finish(req, rv, why, NULL);
		return NULL;
	}
	if (cbd_pb_str_set(&st->resp.key, key) != 0) {
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return NULL;
	}
	st->ld.key  = st->resp.key;
	st->ld.pol  = req->pol;
	st->ld.done = fetch_loaded;
	return st;
}

void
cbd_cache_fetch_run(cbd_req *req)
{
	const Cachebroker__V1__FetchRequest *in  = (const void *) req->in;
	const cbd_config                    *cfg = cbd_req_config(req);
	cbd_env                             *env = cbd_svc_env(req);
	fetch_state                         *st;
	const cbd_resource                  *r;
	const char                          *key;
	cbd_redis_conn                      *c;
	cbd_cmd                              cmd;
	size_t                               nslen;

	if ((st = fetch_start(req)) == NULL) {
		return;
	}
	r   = st->ld.r;
	key = st->ld.key;
	if (cbd_journal_blocks(env->journal, r->ns)) {
		/* Invalidations of r->ns wait for Redis: what it holds may
		 * be stale. Answer from the database, store nothing. */
		fetch_load(req, 1, NULL, 0);
		return;
	}
	if (in->refresh) {
		fetch_load(req, cbd_redis_pick(env->redis) == NULL, NULL, 0);
		return;
	}
	if ((c = cbd_redis_pick_key(env->redis, cbd_keys_hash(key))) == NULL) {
		/* Redis is down: answer from the database. */
		fetch_load(req, 1, NULL, 0);
		return;
	}
	nslen = strlen(r->ns);
	for (uint32_t sub = 0; sub < 2; sub++) {
		if (cbd_svc_cmd(req, &cmd, 2,
		        cbd_cmd_key_size(cfg->redis.key_prefix, r->ns,
		            key + nslen + 1)) != 0) {
			return;
		}
		cbd_cmd_str(&cmd, sub == 0 ? "GET" : "PTTL");
		cbd_cmd_key(
		    &cmd, cfg->redis.key_prefix, r->ns, key + nslen + 1);
		if (cbd_svc_send(req, c, fetch_cached_cb, sub, &cmd) != 0) {
			return;
		}
	}
}

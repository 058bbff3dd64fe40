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
	CBD_CHECK(cbd_policy_bind(r, in->n_params, names, vals, values, key,
	    FETCH_MAX_KEY, why, whylen));
	CBD_CHECK(cbd_policy_ttl_ms(r, values, 0, ttl_ms, why, whylen));
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

/* fetch_prepare binds the request for the loader, with today's TTL. */
static cb_status
fetch_prepare(cbd_req *req, cbd_load *ld, char *key, char *why, size_t whylen)
{
	const Cachebroker__V1__FetchRequest *in = (const void *) req->in;

	memset(ld, 0, sizeof(*ld));
	ld->key = key;
	ld->pol = req->pol;
	CBD_CHECK(fetch_bind(req->pol->cfg, in, &ld->r, ld->values, key,
	    &ld->ttl_ms, why, whylen));
	return cbd_policy_ttl_ms(
	    ld->r, ld->values, today_ymd(), &ld->ttl_ms, why, whylen);
}

/* fetch_load hands the request to the loader; stale (may be NULL) is
 * served if the database fails. */
static void
fetch_load(cbd_req *req, int degraded, const void *stale, size_t stale_len)
{
	cbd_load  ld;
	char      key[FETCH_MAX_KEY];
	char      why[160];
	cb_status rv;

	if ((rv = fetch_prepare(req, &ld, key, why, sizeof(why))) != CB_OK) {
		cbd_req_finish(req, rv, why, NULL);
		return;
	}
	ld.degraded  = degraded;
	ld.stale     = stale;
	ld.stale_len = stale_len;
	cbd_loader_fetch(cbd_svc_env(req)->loader, req, &ld);
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
early_refresh(cbd_req *req, const cbd_resource *r, int64_t ttl_left_ms)
{
	cbd_loader *l = cbd_svc_env(req)->loader;
	uint64_t    delta_us =
	    req->pol->load_us[cbd_policy_resource_index(req->pol, r)];
	double   u;
	cbd_load ld;
	char     key[FETCH_MAX_KEY];
	char     why[160];

	if (r->early_beta <= 0 || delta_us == 0) {
		return;
	}
	u = ((double) cbd_random32() + 1.0) / 4294967296.0;
	if (-(double) delta_us / 1000.0 * r->early_beta * log(u) <
	    (double) ttl_left_ms) {
		return;
	}
	if (fetch_prepare(req, &ld, key, why, sizeof(why)) == CB_OK) {
		cbd_loader_fetch(l, NULL, &ld);
	}
}

static void
fetch_cached_cb(void *arg, uint64_t tag, redisReply *r)
{
	cbd_req                             *req = cbd_req_current(arg, tag);
	const Cachebroker__V1__FetchRequest *in;
	Cachebroker__V1__FetchResponse      *resp;
	cbd_ns_stats                        *ns;
	const cbd_resource                  *res;

	if (req == NULL) {
		return;
	}
	req->op.pending--;
	resp = (void *) req->op.resp;
	if ((uint32_t) tag == 1) {
		if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
			resp->ttl_ms = r->integer > 0 ? r->integer : 0;
		}
		if (req->op.pending > 0) {
			return;
		}
	}
	if ((uint32_t) tag == 0 && r != NULL &&
	    r->type == REDIS_REPLY_STRING) {
		if ((resp->value.data = malloc(r->len + 1)) == NULL) {
			cbd_svc_fail_oom(req);
		} else {
			memcpy(resp->value.data, r->str, r->len);
			resp->value.len = r->len;
			req->op.count   = 1; /* found */
		}
	} else if ((uint32_t) tag == 0 &&
	    (r == NULL || r->type == REDIS_REPLY_ERROR)) {
		req->op.count = 2; /* Redis failed: load, do not store */
	}
	if (req->op.pending > 0) {
		return;
	}
	in = (const void *) req->in;
	/* run found the resource in the request's policy, which the request
	 * holds until it is answered. */
	res = cbd_config_resource(req->pol->cfg, in->resource);
	ns  = cbd_stats_ns(req->host->stats, res->ns);
	if (req->op.code != CB_OK) {
		cbd_svc_done(req);
		return;
	}
	if (req->op.count != 1) {
		ns->misses++;
		fetch_load(req, req->op.count == 2, NULL, 0);
		return;
	}
	if (res->stale_ms > 0) {
		/* The last stale_ms of the Redis TTL are the stale window. */
		if (resp->ttl_ms <= (int64_t) res->stale_ms) {
			ns->misses++;
			fetch_load(req, 0, resp->value.data, resp->value.len);
			return;
		}
		resp->ttl_ms -= (int64_t) res->stale_ms;
	}
	ns->hits++;
	req->x_cache = "hit";
	if (resp->value.data != NULL && resp->value.len == CBD_NEGATIVE_LEN &&
	    memcmp(resp->value.data, CBD_NEGATIVE_VALUE, CBD_NEGATIVE_LEN) ==
	        0) {
		cbd_req_fail(req, CB_NOT_FOUND, "%s: not found", resp->key);
		return;
	}
	resp->source = CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE;
	early_refresh(req, res, resp->ttl_ms);
	cbd_svc_done(req);
}

void
cbd_cache_fetch_run(cbd_req *req)
{
	const Cachebroker__V1__FetchRequest *in  = (const void *) req->in;
	const cbd_config                    *cfg = cbd_req_config(req);
	const cbd_resource                  *r   = NULL;
	cb_status                            rv;
	const char                          *values[CBD_MAX_PARAMS];
	char                                 key[FETCH_MAX_KEY];
	char                                 why[160];
	uint64_t                             ttl;
	cbd_redis_conn                      *c;
	Cachebroker__V1__FetchResponse      *resp;
	cbd_cmd                              cmd;
	size_t                               nslen;

	/* The policy is the request's: nng's thread did not see it. */
	if ((rv = fetch_bind(req->pol->cfg, in, &r, values, key, &ttl, why,
	         sizeof(why))) != CB_OK) {
		cbd_req_finish(req, rv, why, NULL);
		return;
	}
	if (cbd_journal_blocks(cbd_svc_env(req)->journal, r->ns)) {
		/* Invalidations of r->ns wait for Redis: what it holds may
		 * be stale. Answer from the database, store nothing. */
		fetch_load(req, 1, NULL, 0);
		return;
	}
	if (in->refresh) {
		fetch_load(req,
		    cbd_redis_pick(cbd_svc_env(req)->redis) == NULL, NULL, 0);
		return;
	}
	if ((c = cbd_redis_pick_key(
	         cbd_svc_env(req)->redis, cbd_keys_hash(key))) == NULL) {
		/* Redis is down: answer from the database. */
		fetch_load(req, 1, NULL, 0);
		return;
	}
	resp =
	    cbd_svc_alloc(req, &cachebroker__v1__fetch_response__descriptor);
	if (resp == NULL) {
		return;
	}
	if (cbd_pb_str_set(&resp->key, key) != 0) {
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
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

/* SPDX-License-Identifier: MIT */
/* The L1 as the methods see it: a namespace's Redis keys in it, fill
 * tokens and fills, drops, and the fronts that answer Get and GetMany
 * from it on nng's thread. */
#include "svc_l1.h"

#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "l1.h"
#include "loop.h"
#include "request.h"

char *
cbd_svc_l1_key(const cbd_req *req, const char *ns, const char *key, char *buf)
{
	const char *prefix = cbd_svc_env(req)->cfg->redis.key_prefix;
	size_t      need   = strlen(prefix) + strlen(ns) + strlen(key) + 2;
	char       *k      = need <= CBD_SVC_L1_KEY ? buf : malloc(need);

	if (k != NULL) {
		(void) cbd_keys_join(k, need, prefix, ns, key);
	}
	return k;
}

void
cbd_svc_l1_tokens(cbd_req *req, const char *ns, size_t n, char *const *keys)
{
	cbd_env *env = cbd_svc_env(req);
	char     buf[CBD_SVC_L1_KEY];
	char    *k;

	if (env->l1 == NULL || cbd_config_l1_ttl_ms(env->cfg, ns) == 0 ||
	    (req->op.l1_tokens = calloc(n, sizeof(uint64_t))) == NULL) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if ((k = cbd_svc_l1_key(req, ns, keys[i], buf)) != NULL) {
			req->op.l1_tokens[i] = cbd_l1_token(env->l1, k);
			if (k != buf) {
				free(k);
			}
		}
	}
}

void
cbd_svc_l1_fill(cbd_req *req, const char *ns, size_t i, const char *key,
    const void *value, size_t len, int64_t redis_ttl_ms)
{
	cbd_env *env = cbd_svc_env(req);
	char     buf[CBD_SVC_L1_KEY];
	char    *k;

	if (req->op.l1_tokens == NULL || req->op.l1_tokens[i] == 0 ||
	    (k = cbd_svc_l1_key(req, ns, key, buf)) == NULL) {
		return;
	}
	cbd_l1_fill(env->l1, req->op.l1_tokens[i], k, value, len, cbd_now_us(),
	    cbd_config_l1_ttl_ms(env->cfg, ns), redis_ttl_ms);
	if (k != buf) {
		free(k);
	}
}

void
cbd_svc_l1_drop(cbd_req *req, const char *ns, const char *key)
{
	struct cbd_l1 *l1 = cbd_svc_env(req)->l1;
	char           buf[CBD_SVC_L1_KEY];
	char          *k;

	if (l1 == NULL) {
		return;
	}
	if ((k = cbd_svc_l1_key(req, ns, key, buf)) == NULL) {
		cbd_l1_clear(l1); /* cannot name it: none may stay stale */
		return;
	}
	cbd_l1_invalidate(l1, k);
	if (k != buf) {
		free(k);
	}
}

int
cbd_svc_l1_get(cbd_req *req, const char *ns, const char *key, cbd_l1_hit *hit)
{
	cbd_env *env = cbd_svc_env(req);
	char     buf[CBD_SVC_L1_KEY];
	char    *k;
	int      found;

	if (env->l1 == NULL || cbd_config_l1_ttl_ms(env->cfg, ns) == 0 ||
	    (k = cbd_svc_l1_key(req, ns, key, buf)) == NULL) {
		return 0;
	}
	found = cbd_l1_get(env->l1, k, cbd_now_us(), hit);
	if (k != buf) {
		free(k);
	}
	return found;
}

/*
 * cbd_cache_get_front answers a Get whose key the L1 holds, on nng's
 * thread (router.h); anything else goes to get_run, which fills the L1
 * with what Redis returns.
 */
int
cbd_cache_get_front(cbd_req *req)
{
	const Cachebroker__V1__GetRequest *in = (const void *) req->in;
	Cachebroker__V1__GetResponse       resp =
	    CACHEBROKER__V1__GET_RESPONSE__INIT;
	uint8_t    out[512];
	uint8_t   *p = out;
	cbd_l1_hit hit;
	size_t     len;

	if (!cbd_svc_l1_get(req, in->namespace_, in->key, &hit)) {
		return 0;
	}
	resp.found      = 1;
	resp.value.data = hit.value;
	resp.value.len  = hit.len;
	resp.ttl_ms     = hit.ttl_ms;
	len = cachebroker__v1__get_response__get_packed_size(&resp);
	if (len > sizeof(out) && (p = malloc(len)) == NULL) {
		free(hit.value);
		return 0; /* the loop's path may still manage */
	}
	cachebroker__v1__get_response__pack(&resp, p);
	free(hit.value);
	cbd_req_answer_front(req, "hit", p, len);
	if (p != out) {
		free(p);
	}
	return 1;
}

/*
 * cbd_cache_get_many_front answers a GetMany whose keys the L1 holds, all
 * of them, on nng's thread; if one is missing, get_many_run reads them
 * all from Redis (and fills the L1).
 */
int
cbd_cache_get_many_front(cbd_req *req)
{
	const Cachebroker__V1__GetManyRequest *in  = (const void *) req->in;
	cbd_env                               *env = cbd_svc_env(req);
	Cachebroker__V1__GetManyResponse       resp =
	    CACHEBROKER__V1__GET_MANY_RESPONSE__INIT;
	Cachebroker__V1__GetManyEntry  *es;
	Cachebroker__V1__GetManyEntry **ptrs;
	uint8_t                        *p = NULL;
	size_t                          n = 0;
	size_t                          len;
	int                             all;
	int                             answered = 0;

	if (env->l1 == NULL ||
	    cbd_config_l1_ttl_ms(env->cfg, in->namespace_) == 0) {
		return 0; /* no allocation for a namespace without L1 */
	}
	es = calloc(in->n_keys, sizeof(*es));
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
	ptrs = calloc(in->n_keys, sizeof(*ptrs));
	all  = es != NULL && ptrs != NULL;
	for (; all && n < in->n_keys; n++) {
		cbd_l1_hit hit;

		all = cbd_svc_l1_get(req, in->namespace_, in->keys[n], &hit);
		if (!all) {
			break;
		}
		cachebroker__v1__get_many_entry__init(&es[n]);
		es[n].key        = in->keys[n];
		es[n].found      = 1;
		es[n].value.data = hit.value;
		es[n].value.len  = hit.len;
		ptrs[n]          = &es[n];
	}
	if (all) {
		resp.entries   = ptrs;
		resp.n_entries = n;
		len =
		    cachebroker__v1__get_many_response__get_packed_size(&resp);
		if ((p = malloc(len > 0 ? len : 1)) != NULL) {
			cachebroker__v1__get_many_response__pack(&resp, p);
			cbd_req_answer_front(req, "hit", p, len);
			answered = 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(es[i].value.data);
	}
	free(es);
	free(ptrs);
	free(p);
	return answered;
}

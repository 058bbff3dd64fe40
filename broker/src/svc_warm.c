/* SPDX-License-Identifier: MIT */
/* WarmService/Warm: run warm strategies and report each one's result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb.h"
#include "request.h"
#include "svc.h"
#include "warm.h"

typedef struct warm_call warm_call;

/* What one strategy's done callback gets. */
typedef struct warm_slot {
	warm_call *call;
	size_t     i; /* index in resp->results */
} warm_slot;

/* One Warm call: its strategies run at once; the last one answers. The
 * call outlives its request if the deadline answers that first. */
struct warm_call {
	cbd_req                       *req;
	uint64_t                       tag; /* req's answer still due? */
	size_t                         left;
	Cachebroker__V1__WarmResponse *resp;
	warm_slot                     *slots;
};

static void
call_free(warm_call *call)
{
	if (call->resp != NULL) {
		protobuf_c_message_free_unpacked(&call->resp->base, NULL);
	}
	free(call->slots);
	free(call);
}

cb_status
cbd_warm_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__WarmRequest *r = (const void *) in;

	(void) lim;
	/* Without cfg (nng's thread) run finds the strategies. */
	for (size_t i = 0; cfg != NULL && i < r->n_strategies; i++) {
		if (cbd_config_warm(cfg, r->strategies[i]) == NULL) {
			return cbd_svc_unknown(
			    "warm strategy", r->strategies[i], why, whylen);
		}
	}
	return CB_OK;
}

static void
strategy_done(void *arg, const cbd_warm_result *res)
{
	warm_slot                   *slot = arg;
	warm_call                   *call = slot->call;
	Cachebroker__V1__WarmResult *out  = call->resp->results[slot->i];
	cbd_req                     *req;

	/* Out of memory for the error text: the counts still go. */
	(void) cbd_warm_result_copy(out, res);
	if (--call->left > 0) {
		return;
	}
	if ((req = cbd_req_current(call->req, call->tag)) != NULL) {
		cbd_req_finish(req, CB_OK, NULL, &call->resp->base);
		call->resp = NULL; /* finish took it */
	}
	call_free(call);
}

/* call_alloc builds the response with one result per strategy. */
static warm_call *
call_alloc(cbd_req *req, const cbd_warm **ws, size_t n)
{
	warm_call *call = calloc(1, sizeof(*call));

	if (call == NULL) {
		return NULL;
	}
	if ((call->resp = malloc(sizeof(*call->resp))) == NULL ||
	    (call->slots = calloc(n + 1, sizeof(*call->slots))) == NULL) {
		free(call->resp);
		call->resp = NULL;
		call_free(call);
		return NULL;
	}
	cachebroker__v1__warm_response__init(call->resp);
	if (n > 0 &&
	    (call->resp->results = calloc(n, sizeof(void *))) == NULL) {
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		Cachebroker__V1__WarmResult *r = malloc(sizeof(*r));
		if (r == NULL) {
			goto fail;
		}
		cachebroker__v1__warm_result__init(r);
		call->resp->results[call->resp->n_results++] = r;
		if (cbd_pb_str_set(&r->strategy, ws[i]->name) != 0) {
			goto fail;
		}
		call->slots[i].call = call;
		call->slots[i].i    = i;
	}
	call->req  = req;
	call->tag  = cbd_req_tag(req, 0);
	call->left = n;
	return call;
fail:
	call_free(call);
	return NULL;
}

void
cbd_warm_run(cbd_req *req)
{
	const Cachebroker__V1__WarmRequest *in  = (const void *) req->in;
	const cbd_config                   *cfg = cbd_req_config(req);
	size_t n = in->n_strategies > 0 ? in->n_strategies : cfg->n_warms;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
	const cbd_warm **ws = calloc(n + 1, sizeof(*ws));
	warm_call       *call;
	char             why[160];

	for (size_t i = 0; ws != NULL && i < n; i++) {
		ws[i] = in->n_strategies > 0
		    ? cbd_config_warm(cfg, in->strategies[i])
		    : &cfg->warms[i];
		if (ws[i] == NULL) {
			/* The request's policy has no such strategy. */
			free(ws);
			cbd_req_finish(req,
			    cbd_svc_unknown("warm strategy", in->strategies[i],
			        why, sizeof(why)),
			    why, NULL);
			return;
		}
	}
	if (ws == NULL || (call = call_alloc(req, ws, n)) == NULL) {
		free(ws);
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	if (n == 0) {
		cbd_req_finish(req, CB_OK, NULL, &call->resp->base);
		call->resp = NULL;
		call_free(call);
	}
	for (size_t i = 0; i < n; i++) {
		cbd_warmer_start(cbd_svc_env(req)->warmer, req->pol, ws[i],
		    strategy_done, &call->slots[i]);
	}
	free(ws);
}

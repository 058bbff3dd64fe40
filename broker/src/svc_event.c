/* SPDX-License-Identifier: MIT */
/* EventService/Publish: invalidation by event rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invalidate.h"
#include "policy.h"
#include "request.h"
#include "svc.h"

/* Expanded targets are at most this long. */
#define EVENT_MAX_TARGET 1024

static cb_status
event_bind(const cbd_config *cfg, const Cachebroker__V1__PublishRequest *in,
    const cbd_event **ep, const char *values[CBD_MAX_PARAMS], char *why,
    size_t whylen)
{
	const cbd_event *e = cbd_config_event(cfg, in->event);
	const char      *names[CBD_MAX_PARAMS];
	const char      *vals[CBD_MAX_PARAMS];

	if (e == NULL) {
		/* Spelled out so that clang-tidy sees *ep set on OK. */
		(void) cbd_svc_unknown("event", in->event, why, whylen);
		return CB_INVALID_ARGUMENT;
	}
	CBD_CHECK(cbd_svc_params((void *const *) in->params, in->n_params,
	    names, vals, why, whylen));
	*ep = e;
	return cbd_rule_bind_params(e->name, e->params, e->n_params,
	    in->n_params, names, vals, values, why, whylen);
}

cb_status
cbd_event_publish_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__PublishRequest *r = (const void *) in;
	const cbd_event                       *e;
	const char                            *names[CBD_MAX_PARAMS];
	const char                            *values[CBD_MAX_PARAMS];

	(void) lim;
	if (cfg == NULL) {
		/* The rule is the policy's: run binds it. */
		return cbd_svc_params((void *const *) r->params, r->n_params,
		    names, values, why, whylen);
	}
	return event_bind(cfg, r, &e, values, why, whylen);
}

static void
published(cbd_req *req)
{
	((Cachebroker__V1__PublishResponse *) (void *) req->op.resp)
	    ->keys_invalidated = req->op.count;
	cbd_svc_done(req);
}

void
cbd_event_publish_run(cbd_req *req)
{
	const cbd_config *cfg = cbd_req_config(req);
	const cbd_event  *e   = NULL;
	cb_status         bound;
	const char       *values[CBD_MAX_PARAMS];
	char              why[160];
	char              target[EVENT_MAX_TARGET];
	cbd_sweep        *s;

	/* The policy is the request's: nng's thread did not see it. */
	if ((bound = event_bind(cbd_req_config(req), (const void *) req->in,
	         &e, values, why, sizeof(why))) != CB_OK) {
		cbd_req_finish(req, bound, why, NULL);
		return;
	}
	if ((s = cbd_sweep_alloc()) == NULL) {
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	for (size_t t = 0; t < e->n_targets; t++) {
		char *rest;
		int   rv;
		if (cbd_rule_expand(e->targets[t], e->params, e->n_params,
		        values, target, sizeof(target)) != CB_OK) {
			cbd_sweep_free(s);
			cbd_req_fail(req, CB_RESOURCE_EXHAUSTED,
			    "invalidation target too long");
			return;
		}
		/* "<ns>:<rest>": the check at load made sure of the colon. */
		rest    = strchr(target, ':');
		*rest++ = '\0';
		rv      = strpbrk(rest, "*?[") != NULL
		         ? cbd_sweep_pattern(s, cfg->redis.key_prefix, target, rest)
		         : cbd_sweep_key(s, cfg->redis.key_prefix, target, rest);
		if (rv != 0) {
			cbd_sweep_free(s);
			cbd_req_fail(req, CB_RESOURCE_EXHAUSTED,
			    "broker out of memory");
			return;
		}
	}
	if (cbd_svc_alloc(
	        req, &cachebroker__v1__publish_response__descriptor) == NULL) {
		cbd_sweep_free(s);
		return;
	}
	cbd_sweep_run(req, s, published);
}

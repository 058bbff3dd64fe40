/* SPDX-License-Identifier: MIT */
/* Shared machinery of the service handlers: replies, errors, sends. */
#include "svc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "journal.h"
#include "policy.h"
#include "request.h"

cbd_req *
cbd_svc_reply(void *arg, uint64_t tag, redisReply *r, int *ok)
{
	cbd_req  *req = cbd_req_current(arg, tag);
	cb_status code;
	char      msg[sizeof(req->op.msg)];

	*ok = 0;
	if (req == NULL) {
		return NULL;
	}
	req->op.pending--;
	code = cbd_redis_reply_status(r, msg, sizeof(msg));
	if (code != CB_OK) {
		if (req->op.code == CB_OK) {
			req->op.code = code;
			memcpy(req->op.msg, msg, sizeof(msg));
		}
		return req;
	}
	*ok = req->op.code == CB_OK;
	return req;
}

void
cbd_svc_done(cbd_req *req)
{
	ProtobufCMessage *resp;

	if (req->op.pending > 0) {
		return;
	}
	if (req->op.code != CB_OK) {
		cbd_req_finish(req, req->op.code, req->op.msg, NULL);
		return;
	}
	resp         = req->op.resp;
	req->op.resp = NULL;
	cbd_req_finish(req, CB_OK, NULL, resp);
}

cbd_redis_conn *
cbd_svc_conn(cbd_req *req)
{
	cbd_redis_conn *c = cbd_redis_pick(cbd_svc_env(req)->redis);
	char            err[160];

	if (c == NULL) {
		cbd_redis_last_error(
		    cbd_svc_env(req)->redis, err, sizeof(err));
		cbd_req_fail(req, CB_UNAVAILABLE, "redis unavailable%s%s",
		    err[0] != '\0' ? ": " : "", err);
	}
	return c;
}

int
cbd_svc_send(cbd_req *req, cbd_redis_conn *c, cbd_redis_fn *fn, uint32_t sub,
    cbd_cmd *cmd)
{
	int rv = cbd_redis_send(c, fn, req, cbd_req_tag(req, sub), cmd->argc,
	    cmd->argv, cmd->lens);
	cbd_cmd_fini(cmd);
	if (rv != 0) {
		if (req->op.pending == 0) {
			cbd_req_fail(req, CB_UNAVAILABLE,
			    "redis connection not writable");
		} else {
			/* Replies already due will finish it with an error. */
			req->op.code = CB_UNAVAILABLE;
			snprintf(req->op.msg, sizeof(req->op.msg),
			    "redis connection not writable");
		}
		return -1;
	}
	req->op.pending++;
	return 0;
}

void *
cbd_svc_alloc(cbd_req *req, const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = malloc(desc->sizeof_message);

	if (m == NULL) {
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return NULL;
	}
	protobuf_c_message_init(desc, m);
	req->op.resp = m;
	return m;
}

int
cbd_svc_cmd(cbd_req *req, cbd_cmd *cmd, int nargs, size_t arena)
{
	if (cbd_cmd_init(cmd, nargs, arena) != 0) {
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return -1;
	}
	return 0;
}

int
cbd_svc_blocked(cbd_req *req, const char *ns)
{
	if (!cbd_journal_blocks(cbd_svc_env(req)->journal, ns)) {
		return 0;
	}
	cbd_req_fail(req, CB_UNAVAILABLE,
	    "namespace '%s' has invalidations waiting for Redis; it is not "
	    "read from the cache until they are applied",
	    ns);
	return 1;
}

void
cbd_svc_fail_oom(cbd_req *req)
{
	if (req->op.code == CB_OK) {
		req->op.code = CB_RESOURCE_EXHAUSTED;
		snprintf(
		    req->op.msg, sizeof(req->op.msg), "broker out of memory");
	}
}

cb_status
cbd_svc_params(void *const *entries, size_t n, const char **names,
    const char **vals, char *why, size_t whylen)
{
	if (n > CBD_MAX_PARAMS) {
		snprintf(why, whylen, "too many parameters (at most %d)",
		    CBD_MAX_PARAMS);
		return CB_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < n; i++) {
		const ProtobufCMessage         *e = entries[i];
		const ProtobufCFieldDescriptor *f = e->descriptor->fields;
		names[i] = *(char *const *) (const void *) ((const char *) e +
		    f[0].offset);
		vals[i]  = *(char *const *) (const void *) ((const char *) e +
                    f[1].offset);
	}
	return CB_OK;
}

cb_status
cbd_svc_unknown(const char *what, const char *name, char *why, size_t whylen)
{
	char printable[65];

	cbd_envelope_method_printable(printable, sizeof(printable), name);
	snprintf(why, whylen, "unknown %s '%s'", what, printable);
	return CB_INVALID_ARGUMENT;
}

cb_status
cbd_svc_check_ttl(const cbd_limits *lim, const char *field, int64_t ttl_ms,
    char *why, size_t whylen)
{
	if (ttl_ms > 0 && (uint64_t) ttl_ms > lim->max_ttl_ms) {
		snprintf(why, whylen,
		    "%s %" PRId64 " is longer than max_ttl (%" PRIu64 " ms)",
		    field, ttl_ms, lim->max_ttl_ms);
		return CB_INVALID_ARGUMENT;
	}
	return CB_OK;
}

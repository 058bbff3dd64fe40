/* SPDX-License-Identifier: MIT */
/* One request's life: receive, decode, check, hand to the loop, answer. */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conns.h"
#include "dedupe.h"
#include "envelope.h"
#include "invalidate.h"
#include "listener.h"
#include "loader.h"
#include "log.h"
#include "loop.h"
#include "server.h"
#include "stats.h"

/* Replies up to this size are packed on the stack. */
#define REQ_STACK_PAYLOAD 2048

static void req_aio_cb(void *arg);
static void req_deadline_cb(evutil_socket_t fd, short what, void *arg);

/* What an internal request has instead of an nng context. */
typedef struct cbd_req_internal {
	cbd_req_done_fn *done; /* gets the answer */
	void            *arg;
	unsigned         flags; /* CBD_SUBMIT_* */
	cbd_req         *all;   /* every internal request of the server */
} cbd_req_internal;

cb_status
cbd_req_alloc(cbd_req **out, cbd_server *srv, nng_socket sock, uint32_t index)
{
	cbd_req *req;

	if ((req = calloc(1, sizeof(*req))) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	req->srv   = srv;
	req->index = index;
	if (nng_aio_alloc(&req->aio, req_aio_cb, req) != 0) {
		goto fail;
	}
	if (nng_ctx_open(&req->ctx, sock) != 0) {
		goto fail;
	}
	if ((req->timer = evtimer_new(srv->base, req_deadline_cb, req)) ==
	    NULL) {
		goto fail;
	}
	*out = req;
	return CB_OK;
fail:
	cbd_req_free(req);
	return CB_RESOURCE_EXHAUSTED;
}

/* req_reset frees what the last request owned. */
static void
req_reset(cbd_req *req)
{
	if (req->in != NULL) {
		protobuf_c_message_free_unpacked(req->in, NULL);
		req->in = NULL;
	}
	cbd_envelope_free(req->env);
	req->env = NULL;
	if (req->op.resp != NULL) {
		protobuf_c_message_free_unpacked(req->op.resp, NULL);
	}
	cbd_sweep_free(req->op.sweep);
	memset(&req->op, 0, sizeof(req->op));
	req->method  = NULL;
	req->x_cache = NULL;
	/* Only the loop takes a hold, and only the loop answers a request
	 * that has one (WORK), so this runs on the loop when pol is set. */
	cbd_policy_rele(req->pol);
	req->pol = NULL;
}

void
cbd_req_free(cbd_req *req)
{
	if (req == NULL) {
		return;
	}
	if (req->aio != NULL) {
		nng_aio_stop(req->aio);
	}
	if (req->state == CBD_REQ_SEND && req->aio != NULL) {
		nng_msg_free(nng_aio_get_msg(req->aio));
	}
	if (req->ctx.id != 0) {
		nng_ctx_close(req->ctx);
	}
	if (req->aio != NULL) {
		nng_aio_free(req->aio);
	}
	if (req->timer != NULL) {
		event_free(req->timer);
	}
	req_reset(req);
	free(req->internal);
	free(req);
}

static void
req_recv(cbd_req *req)
{
	req->state       = CBD_REQ_RECV;
	req->pipe        = 0;
	req->qlen        = 0;
	req->shed        = 0;
	req->deadline_us = 0;
	/* An aio keeps the timeout of its last operation (the send's). */
	nng_aio_set_timeout(req->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(req->ctx, req->aio);
}

/* req_close_pipe closes the connection pipe (its queued replies complete
 * as sent, which frees their contexts). nng's thread. */
static void
req_close_pipe(uint32_t pipe, const char *why)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;

	p.id = pipe;
	cbd_log_warning("closing connection %u: %s", (unsigned) pipe, why);
	(void) nng_pipe_close(p);
}

void
cbd_req_transmit(cbd_req *req)
{
	cbd_server  *srv  = req->srv;
	uint64_t     now  = cbd_now_us();
	nng_duration wait = CBD_REQ_SEND_FLOOR_MS;

	if (req->shed) {
		/* Refused for holding too much: only if the connection takes
		 * it at once, or the refusal would hold a context too. */
		wait = NNG_DURATION_ZERO;
	} else if (req->deadline_us > now &&
	    (req->deadline_us - now) / 1000 > CBD_REQ_SEND_FLOOR_MS) {
		uint64_t left = (req->deadline_us - now) / 1000;
		wait = left > INT32_MAX ? INT32_MAX : (nng_duration) left;
	}
	nng_aio_set_timeout(req->aio, wait);
	if (req->pipe != 0) {
		req->qlen = nng_msg_len(nng_aio_get_msg(req->aio));
		if (cbd_conns_queue(srv->conns, req->pipe, req->qlen)) {
			req_close_pipe(req->pipe,
			    "its unread replies exceed "
			    "max_connection_reply_bytes");
		}
	}
	nng_ctx_send(req->ctx, req->aio);
}

void
cbd_req_start(cbd_req *req)
{
	req_recv(req);
}

/*
 * req_send packs and sends the reply and records the call. Called by the
 * current owner: nng's callback for early errors, the loop otherwise.
 */
static void
req_send(cbd_req *req, cb_status code, const char *message,
    const void *payload, size_t plen)
{
	cbd_server *srv = req->srv;
	nng_msg    *msg;
	int id = req->method != NULL ? req->method->id : CBD_METHOD_UNKNOWN;

	if (req->internal != NULL) {
		cbd_req_done_fn *done = req->internal->done;
		void            *arg  = req->internal->arg;
		/* Idle before the callback, which may submit again. */
		req_reset(req);
		req->state         = CBD_REQ_IDLE;
		req->next          = srv->idle_internal;
		srv->idle_internal = req;
		done(arg, code, message, payload, plen);
		return;
	}
	cbd_stats_record_call(
	    &srv->stats, id, code, cbd_now_us() - req->t_start_us);
	if (cbd_envelope_pack(&msg, code, message, payload, plen,
	        code == CB_OK ? req->x_cache : NULL) != CB_OK &&
	    cbd_envelope_pack(&msg, CB_RESOURCE_EXHAUSTED,
	        "broker out of memory", NULL, 0, NULL) != CB_OK) {
		/* Not even an error fits: drop it; the caller's deadline
		 * answers for us. */
		req_reset(req);
		if (req->pipe != 0) {
			(void) cbd_conns_rele(srv->conns, req->pipe, 0, 1, 0);
		}
		atomic_fetch_sub(&srv->in_flight, 1);
		req_recv(req);
		return;
	}
	req_reset(req);
	nng_aio_set_msg(req->aio, msg);
	if (req->state == CBD_REQ_WORK) {
		req->state = CBD_REQ_SEND;
		cbd_listener_send(srv, req);
		return;
	}
	req->state = CBD_REQ_SEND;
	cbd_req_transmit(req);
}

/* req_reject answers from nng's thread, before the loop saw the request. */
static void
req_reject(cbd_req *req, cb_status code, const char *why)
{
	req_send(req, code, why, NULL, 0);
}

static uint64_t
req_deadline_ms(const cbd_limits *lim, uint32_t asked)
{
	if (asked == 0) {
		return lim->default_deadline_ms;
	}
	return asked < lim->max_deadline_ms ? asked : lim->max_deadline_ms;
}

/* req_received decodes, routes and checks a request on nng's thread, then
 * hands it to the loop or answers it at once. Takes ownership of msg. */
static void
req_received(cbd_req *req, nng_msg *msg)
{
	cbd_server *srv = req->srv;
	size_t      len = nng_msg_len(msg);
	cbd_limits  lim;
	char        why[256];
	cb_status   rv;

	req->t_start_us = cbd_now_us();
	req->pipe       = nng_msg_get_pipe(msg).id;
	atomic_fetch_add(&srv->in_flight, 1);
	if (req->pipe != 0 && cbd_conns_hold(srv->conns, req->pipe)) {
		nng_msg_free(msg);
		req->shed = 1;
		req_reject(req, CB_RESOURCE_EXHAUSTED,
		    "too many requests in flight on this connection");
		return;
	}
	if (atomic_load(&srv->draining)) {
		nng_msg_free(msg);
		req_reject(req, CB_UNAVAILABLE, "broker is shutting down");
		return;
	}
	/* The limits in effect; the policy itself is the loop's (run). */
	cbd_limits_read(&srv->limits, &lim);
	rv = cbd_router_decode(&lim, NULL, nng_msg_body(msg), len, &req->env,
	    &req->method, &req->in, why, sizeof(why));
	nng_msg_free(msg);
	if (rv != CB_OK) {
		req_reject(req, rv, why);
		return;
	}
	req->deadline_us = req->t_start_us +
	    req_deadline_ms(&lim, req->env->deadline_ms) * 1000u;
	req->state = CBD_REQ_WORK;
	cbd_loop_post(&srv->loop, req);
}

static void
req_aio_cb(void *arg)
{
	cbd_req *req = arg;
	int      rv  = nng_aio_result(req->aio);

	switch (req->state) {
	case CBD_REQ_RECV:
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			req->state = CBD_REQ_IDLE;
			return;
		}
		if (rv != 0) {
			/* A broken pipe or a message nng refused: nothing
			 * to answer; wait for the next request. */
			req_recv(req);
			return;
		}
		req_received(req, nng_aio_get_msg(req->aio));
		return;
	case CBD_REQ_SEND:
		if (rv != 0) {
			/* Not taken by the connection (it timed out, or the
			 * socket closed); the message is still ours. */
			nng_msg_free(nng_aio_get_msg(req->aio));
			nng_aio_set_msg(req->aio, NULL);
		}
		/* A reply that waited its whole deadline for a connection
		 * means a client that does not read: close it, which also
		 * frees the contexts of its other queued replies. */
		if (req->pipe != 0 &&
		    cbd_conns_rele(req->srv->conns, req->pipe, req->qlen,
		        rv != 0 && rv != NNG_ECLOSED,
		        rv == NNG_ETIMEDOUT && !req->shed)) {
			req_close_pipe(req->pipe,
			    "a reply waited out its deadline unread");
		}
		req->pipe = 0;
		atomic_fetch_sub(&req->srv->in_flight, 1);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			req->state = CBD_REQ_IDLE;
			return;
		}
		req_recv(req);
		return;
	default:
		return;
	}
}

/*
 * req_complete answers req and every request waiting on its request_id
 * with the same result. payload stays the caller's.
 */
static void
req_complete(cbd_req *req, cb_status code, const char *message,
    const void *payload, size_t plen)
{
	cbd_server *srv     = req->srv;
	cbd_req    *waiters = NULL;

	evtimer_del(req->timer);
	req->gen++;
	if (req->flight != NULL) {
		cbd_loader_unwait(req);
	}
	if (req->waiting != NULL) {
		cbd_dedupe_unwait(req->waiting, req);
		req->waiting = NULL;
	}
	if (req->dedupe != NULL) {
		waiters = cbd_dedupe_complete(srv->dedupe, req->dedupe, code,
		    payload, plen, cbd_now_us());
		req->dedupe = NULL;
	}
	req_send(req, code, message, payload, plen);
	while (waiters != NULL) {
		cbd_req *w = waiters;
		waiters    = w->next;
		w->next    = NULL;
		w->waiting = NULL;
		req_complete(w, code, message, payload, plen);
	}
}

void
cbd_req_finish(
    cbd_req *req, cb_status code, const char *message, ProtobufCMessage *resp)
{
	uint8_t  stack[REQ_STACK_PAYLOAD];
	uint8_t *buf = stack;
	size_t   len = 0;
	char     msgcopy[sizeof(req->op.msg)];

	/* message may live in req->op, which the answer resets. */
	snprintf(msgcopy, sizeof(msgcopy), "%s", message ? message : "");
	if (code == CB_OK && resp != NULL) {
		len = protobuf_c_message_get_packed_size(resp);
		if (len > sizeof(stack) && (buf = malloc(len)) == NULL) {
			code = CB_RESOURCE_EXHAUSTED;
			snprintf(
			    msgcopy, sizeof(msgcopy), "broker out of memory");
			buf = stack;
			len = 0;
		} else {
			protobuf_c_message_pack(resp, buf);
		}
	}
	if (resp != NULL) {
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	req_complete(req, code, msgcopy, buf, len);
	if (buf != stack) {
		free(buf);
	}
}

void
cbd_req_fail(cbd_req *req, cb_status code, const char *fmt, ...)
{
	char    msg[sizeof(req->op.msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cbd_req_finish(req, code, msg, NULL);
}

static void
req_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	cbd_req *req = arg;

	(void) fd;
	(void) what;
	cbd_req_fail(req, CB_DEADLINE_EXCEEDED,
	    "deadline exceeded after %llu ms",
	    (unsigned long long) ((cbd_now_us() - req->t_start_us) / 1000));
}

void
cbd_req_run(cbd_req *req, void *arg)
{
	cbd_server    *srv = arg;
	uint64_t       now = cbd_now_us();
	uint64_t       left;
	struct timeval tv;
	const uint8_t *stored;
	size_t         stored_len;

	if (req->pol == NULL) {
		/* A client's request runs on the policy in effect now. */
		req->pol = cbd_policy_hold(srv->policy);
	}
	if (now >= req->deadline_us) {
		cbd_req_fail(req, CB_DEADLINE_EXCEEDED,
		    "deadline exceeded before the request was served");
		return;
	}
	left       = req->deadline_us - now;
	tv.tv_sec  = (time_t) (left / 1000000u);
	tv.tv_usec = (suseconds_t) (left % 1000000u);
	evtimer_add(req->timer, &tv);

	if (req->method->mutating && req->env->request_id[0] != '\0') {
		switch (cbd_dedupe_begin(
		    srv->dedupe, req, now, &stored, &stored_len)) {
		case CBD_DEDUPE_REPLAY:
			req_complete(req, CB_OK, NULL, stored, stored_len);
			return;
		case CBD_DEDUPE_WAIT:
			return; /* answered with the first one's result */
		default:
			break;
		}
	}
	req->method->run(req);
}

/* internal_get takes an idle internal request or makes one. */
static cbd_req *
internal_get(cbd_server *srv)
{
	cbd_req *req = srv->idle_internal;

	if (req != NULL) {
		srv->idle_internal = req->next;
		req->next          = NULL;
		return req;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL ||
	    (req->internal = calloc(1, sizeof(*req->internal))) == NULL ||
	    (req->timer = evtimer_new(srv->base, req_deadline_cb, req)) ==
	        NULL) {
		if (req != NULL) {
			free(req->internal);
		}
		free(req);
		return NULL;
	}
	req->srv           = srv;
	req->index         = UINT32_MAX;
	req->internal->all = srv->all_internal;
	srv->all_internal  = req;
	return req;
}

/* internal_encode packs payload into a Request envelope for method. */
static uint8_t *
internal_encode(int method, const ProtobufCMessage *payload,
    uint64_t deadline_ms, size_t *len)
{
	Cachebroker__V1__Request env = CACHEBROKER__V1__REQUEST__INIT;
	size_t   plen = protobuf_c_message_get_packed_size(payload);
	uint8_t *pbuf = malloc(plen + 1);
	uint8_t *ebuf = NULL;

	if (pbuf != NULL) {
		protobuf_c_message_pack(payload, pbuf);
		env.method       = (char *) cbd_methods[method].name;
		env.payload.data = pbuf;
		env.payload.len  = plen;
		env.deadline_ms  = deadline_ms > UINT32_MAX
		     ? UINT32_MAX
		     : (uint32_t) deadline_ms;
		*len = protobuf_c_message_get_packed_size(&env.base);
		if ((ebuf = malloc(*len + 1)) != NULL) {
			protobuf_c_message_pack(&env.base, ebuf);
		}
	}
	free(pbuf);
	return ebuf;
}

cb_status
cbd_req_submit(cbd_server *srv, cbd_policy *pol, int method,
    const ProtobufCMessage *payload, uint64_t deadline_ms, unsigned flags,
    cbd_req_done_fn *done, void *arg, char *why, size_t whylen)
{
	cbd_req  *req;
	uint8_t  *buf;
	size_t    len = 0;
	cb_status rv;

	if ((buf = internal_encode(method, payload, deadline_ms, &len)) ==
	        NULL ||
	    (req = internal_get(srv)) == NULL) {
		free(buf);
		snprintf(why, whylen, "broker out of memory");
		return CB_RESOURCE_EXHAUSTED;
	}
	if (pol == NULL) {
		pol = srv->policy;
	}
	/* On the loop: checked whole, against the policy it will run on. */
	rv = cbd_router_decode(&pol->limits, pol->cfg, buf, len, &req->env,
	    &req->method, &req->in, why, whylen);
	free(buf);
	if (rv != CB_OK) {
		req->method        = NULL;
		req->next          = srv->idle_internal;
		srv->idle_internal = req;
		return rv;
	}
	req->internal->done  = done;
	req->internal->arg   = arg;
	req->internal->flags = flags;
	req->pol             = cbd_policy_hold(pol);
	req->t_start_us      = cbd_now_us();
	req->deadline_us     = req->t_start_us + deadline_ms * 1000u;
	req->state           = CBD_REQ_WORK;
	/* Through the inbox: done never runs inside this call. */
	cbd_loop_post(&srv->loop, req);
	return CB_OK;
}

int
cbd_req_journaled(const cbd_req *req)
{
	return req->internal == NULL ||
	    (req->internal->flags & CBD_SUBMIT_REPLAY) == 0;
}

void
cbd_req_internal_cancel(cbd_server *srv)
{
	for (cbd_req *req = srv->all_internal; req != NULL;
	     req          = req->internal->all) {
		if (req->state == CBD_REQ_WORK) {
			/* Its callback runs now, while its owner exists. */
			cbd_req_fail(
			    req, CB_UNAVAILABLE, "broker shutting down");
		}
	}
}

void
cbd_req_internal_free(cbd_server *srv)
{
	cbd_req *req = srv->all_internal;

	while (req != NULL) {
		cbd_req *next = req->internal->all;
		cbd_req_free(req);
		req = next;
	}
	srv->all_internal  = NULL;
	srv->idle_internal = NULL;
}

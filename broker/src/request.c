/* SPDX-License-Identifier: MIT */
/* One request's life: receive, decode, check, hand to the loop, answer. */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conns.h"
#include "envelope.h"
#include "log.h"
#include "loop.h"
#include "outbox.h"
#include "policy.h"
#include "stats.h"

/* Replies up to this size are packed on the stack. */
#define REQ_STACK_PAYLOAD 2048

static void req_aio_cb(void *arg);
static void req_deadline_cb(evutil_socket_t fd, short what, void *arg);
static void req_run_job(cbd_job *job);
static void req_send_job(cbd_job *job);

/* What an internal request has instead of an nng context. */
typedef struct cbd_req_internal {
	cbd_req_done_fn *done; /* gets the answer */
	void            *arg;
	unsigned         flags; /* CBD_SUBMIT_* */
	cbd_req         *all;   /* every internal request of the server */
} cbd_req_internal;

cb_status
cbd_req_alloc(
    cbd_req **out, cbd_req_host *host, nng_socket sock, uint32_t index)
{
	cbd_req *req;

	if ((req = calloc(1, sizeof(*req))) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	req->host  = host;
	req->index = index;
	if (nng_aio_alloc(&req->aio, req_aio_cb, req) != 0) {
		goto fail;
	}
	if (nng_ctx_open(&req->ctx, sock) != 0) {
		goto fail;
	}
	if ((req->timer = evtimer_new(host->base, req_deadline_cb, req)) ==
	    NULL) {
		goto fail;
	}
	*out = req;
	return CB_OK;
fail:
	cbd_req_free(req);
	return CB_RESOURCE_EXHAUSTED;
}

/* req_unpark runs the park cleanup of a request answered or dropped
 * while parked. */
static void
req_unpark(cbd_req *req)
{
	cbd_req_cancel_fn *fn = req->park_fn;

	if (fn != NULL) {
		req->park_fn = NULL;
		fn(req, req->park_arg);
		req->park_arg = NULL;
	}
}

/* req_reset frees what the last request owned. */
static void
req_reset(cbd_req *req)
{
	req_unpark(req);
	req->watch_fn  = NULL;
	req->watch_arg = NULL;
	if (req->in != NULL) {
		protobuf_c_message_free_unpacked(req->in, NULL);
		req->in = NULL;
	}
	cbd_envelope_free(req->env);
	req->env = NULL;
	if (req->op.resp != NULL) {
		protobuf_c_message_free_unpacked(req->op.resp, NULL);
	}
	free(req->op.l1_tokens);
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

/*
 * req_transmit hands req's reply (on its aio) to nng_ctx_send with the
 * time it may wait for its connection, and counts it queued there; a
 * connection over its reply bytes is closed. nng's thread: the outbox or
 * the request's own callback.
 */
static void
req_transmit(cbd_req *req)
{
	cbd_req_host *host = req->host;
	uint64_t      now  = cbd_now_us();
	nng_duration  wait = CBD_REQ_SEND_FLOOR_MS;

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
		cbd_conns_queue(host->conns, req->pipe, req->qlen, now);
	}
	nng_ctx_send(req->ctx, req->aio);
}

void
cbd_req_start(cbd_req *req)
{
	req_recv(req);
}

/* The outbox's job: send the reply on nng's thread. */
static void
req_send_job(cbd_job *job)
{
	req_transmit((cbd_req *) (void *) job);
}

/*
 * req_send packs and sends the reply and records the call. Called by the
 * current owner: nng's callback for early errors, the loop otherwise.
 */
static void
req_send(cbd_req *req, cb_status code, const char *message,
    const void *payload, size_t plen)
{
	cbd_req_host *host = req->host;
	nng_msg      *msg;
	int id = req->method != NULL ? req->method->id : CBD_METHOD_UNKNOWN;

	if (req->internal != NULL) {
		cbd_req_done_fn *done = req->internal->done;
		void            *arg  = req->internal->arg;
		/* Idle before the callback, which may submit again. */
		req_reset(req);
		req->state          = CBD_REQ_IDLE;
		req->next           = host->idle_internal;
		host->idle_internal = req;
		done(arg, code, message, payload, plen);
		return;
	}
	cbd_stats_record_call(
	    host->stats, id, code, cbd_now_us() - req->t_start_us);
	if (cbd_envelope_pack(&msg, code, message, payload, plen,
	        code == CB_OK ? req->x_cache : NULL) != CB_OK &&
	    cbd_envelope_pack(&msg, CB_RESOURCE_EXHAUSTED,
	        "broker out of memory", NULL, 0, NULL) != CB_OK) {
		/* Not even an error fits: drop it; the caller's deadline
		 * answers for us. */
		req_reset(req);
		if (req->pipe != 0) {
			cbd_conns_rele(
			    host->conns, req->pipe, 0, 1, 0, cbd_now_us());
		}
		atomic_fetch_sub(&host->in_flight, 1);
		req_recv(req);
		return;
	}
	req_reset(req);
	nng_aio_set_msg(req->aio, msg);
	if (req->state == CBD_REQ_WORK) {
		req->state  = CBD_REQ_SEND;
		req->job.fn = req_send_job;
		cbd_outbox_push(host->outbox, &req->job);
		return;
	}
	req->state = CBD_REQ_SEND;
	req_transmit(req);
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
	cbd_req_host *host = req->host;
	size_t        len  = nng_msg_len(msg);
	cbd_limits    lim;
	char          why[256];
	cb_status     rv;

	req->t_start_us = cbd_now_us();
	req->pipe       = nng_msg_get_pipe(msg).id;
	atomic_fetch_add(&host->in_flight, 1);
	if (req->pipe != 0 && cbd_conns_hold(host->conns, req->pipe)) {
		nng_msg_free(msg);
		req->shed = 1;
		req_reject(req, CB_RESOURCE_EXHAUSTED,
		    "too many requests in flight on this connection");
		return;
	}
	if (atomic_load(&host->draining)) {
		nng_msg_free(msg);
		req_reject(req, CB_UNAVAILABLE, "broker is shutting down");
		return;
	}
	/* The limits in effect; the policy itself is the loop's (run). */
	cbd_limits_read(host->limits, &lim);
	rv = cbd_router_decode(&lim, NULL, nng_msg_body(msg), len, &req->env,
	    &req->method, &req->in, why, sizeof(why));
	nng_msg_free(msg);
	if (rv != CB_OK) {
		req_reject(req, rv, why);
		return;
	}
	req->deadline_us = req->t_start_us +
	    req_deadline_ms(&lim, req->env->deadline_ms) * 1000u;
	if (req->method->front != NULL && req->method->front(req)) {
		return; /* answered from memory, on this thread */
	}
	req->state  = CBD_REQ_WORK;
	req->job.fn = req_run_job;
	cbd_loop_call(host->loop, &req->job);
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
		 * means a client that does not read: it is closed, which
		 * also frees the contexts of its other queued replies. */
		if (req->pipe != 0) {
			cbd_conns_rele(req->host->conns, req->pipe, req->qlen,
			    rv != 0 && rv != NNG_ECLOSED,
			    rv == NNG_ETIMEDOUT && !req->shed, cbd_now_us());
		}
		req->pipe = 0;
		atomic_fetch_sub(&req->host->in_flight, 1);
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
 * req_complete answers req: stops its deadline, ends its park, tells its
 * watcher, sends. payload stays the caller's.
 */
static void
req_complete(cbd_req *req, cb_status code, const char *message,
    const void *payload, size_t plen)
{
	cbd_req_watch_fn *watch = req->watch_fn;

	evtimer_del(req->timer);
	req->gen++;
	req_unpark(req);
	if (watch != NULL) {
		req->watch_fn = NULL;
		watch(req, req->watch_arg, code, message, payload, plen);
		req->watch_arg = NULL;
	}
	req_send(req, code, message, payload, plen);
}

void
cbd_req_answer(cbd_req *req, cb_status code, const char *message,
    const void *payload, size_t plen)
{
	req_complete(req, code, message, payload, plen);
}

void
cbd_req_answer_front(
    cbd_req *req, const char *x_cache, const void *payload, size_t plen)
{
	req->x_cache = x_cache;
	req_send(req, CB_OK, NULL, payload, plen);
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

void
cbd_req_park(cbd_req *req, cbd_req_cancel_fn *fn, void *arg)
{
	req->park_fn  = fn;
	req->park_arg = arg;
}

void
cbd_req_unpark(cbd_req *req)
{
	req->park_fn  = NULL;
	req->park_arg = NULL;
}

void
cbd_req_watch(cbd_req *req, cbd_req_watch_fn *fn, void *arg)
{
	req->watch_fn  = fn;
	req->watch_arg = arg;
}

const cbd_config *
cbd_req_config(const cbd_req *req)
{
	return req->pol->cfg;
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

/* req_run_job is the loop's inbox job: takes a policy hold, arms the
 * deadline and dispatches. Loop thread. */
static void
req_run_job(cbd_job *job)
{
	cbd_req       *req  = (cbd_req *) (void *) job;
	cbd_req_host  *host = req->host;
	uint64_t       now  = cbd_now_us();
	uint64_t       left;
	struct timeval tv;

	if (req->pol == NULL) {
		/* A client's request runs on the policy in effect now. */
		req->pol = cbd_policy_hold(host->policy);
	}
	if (atomic_load(&host->closing)) {
		/* Posted as the loop stopped: answered, never run. */
		cbd_req_fail(req, CB_UNAVAILABLE, "broker shutting down");
		return;
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
	host->dispatch(req, host->dispatch_arg);
}

/* internal_get takes an idle internal request or makes one. */
static cbd_req *
internal_get(cbd_req_host *host)
{
	cbd_req *req = host->idle_internal;

	if (req != NULL) {
		host->idle_internal = req->next;
		req->next           = NULL;
		return req;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL ||
	    (req->internal = calloc(1, sizeof(*req->internal))) == NULL ||
	    (req->timer = evtimer_new(host->base, req_deadline_cb, req)) ==
	        NULL) {
		if (req != NULL) {
			free(req->internal);
		}
		free(req);
		return NULL;
	}
	req->host          = host;
	req->index         = UINT32_MAX;
	req->internal->all = host->all_internal;
	host->all_internal = req;
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
cbd_req_submit(cbd_req_host *host, cbd_policy *pol, int method,
    const ProtobufCMessage *payload, uint64_t deadline_ms, unsigned flags,
    cbd_req_done_fn *done, void *arg, char *why, size_t whylen)
{
	cbd_req  *req;
	uint8_t  *buf;
	size_t    len = 0;
	cb_status rv;

	if ((buf = internal_encode(method, payload, deadline_ms, &len)) ==
	        NULL ||
	    (req = internal_get(host)) == NULL) {
		free(buf);
		snprintf(why, whylen, "broker out of memory");
		return CB_RESOURCE_EXHAUSTED;
	}
	if (pol == NULL) {
		pol = host->policy;
	}
	/* On the loop: checked whole, against the policy it will run on. */
	rv = cbd_router_decode(&pol->limits, pol->cfg, buf, len, &req->env,
	    &req->method, &req->in, why, whylen);
	free(buf);
	if (rv != CB_OK) {
		req->method         = NULL;
		req->next           = host->idle_internal;
		host->idle_internal = req;
		return rv;
	}
	req->internal->done  = done;
	req->internal->arg   = arg;
	req->internal->flags = flags;
	req->pol             = cbd_policy_hold(pol);
	req->t_start_us      = cbd_now_us();
	req->deadline_us     = req->t_start_us + deadline_ms * 1000u;
	req->state           = CBD_REQ_WORK;
	req->job.fn          = req_run_job;
	/* Through the inbox: done never runs inside this call. */
	cbd_loop_call(host->loop, &req->job);
	return CB_OK;
}

int
cbd_req_journaled(const cbd_req *req)
{
	return req->internal == NULL ||
	    (req->internal->flags & CBD_SUBMIT_REPLAY) == 0;
}

void
cbd_req_internal_cancel(cbd_req_host *host)
{
	for (cbd_req *req = host->all_internal; req != NULL;
	     req          = req->internal->all) {
		if (req->state == CBD_REQ_WORK) {
			/* Its callback runs now, while its owner exists. */
			cbd_req_fail(
			    req, CB_UNAVAILABLE, "broker shutting down");
		}
	}
}

void
cbd_req_internal_free(cbd_req_host *host)
{
	cbd_req *req = host->all_internal;

	while (req != NULL) {
		cbd_req *next = req->internal->all;
		cbd_req_free(req);
		req = next;
	}
	host->all_internal  = NULL;
	host->idle_internal = NULL;
}

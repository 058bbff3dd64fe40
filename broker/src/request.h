/* SPDX-License-Identifier: MIT */
/* One request's life: receive, decode, check, hand to the loop, answer. */
#ifndef CBD_REQUEST_H
#define CBD_REQUEST_H

#include <stdint.h>

#include <nng/nng.h>

#include <cachebroker/cachebroker.h>

#include "router.h"

typedef struct cbd_server       cbd_server;
typedef struct cbd_dedupe_entry cbd_dedupe_entry;
typedef struct cbd_policy       cbd_policy;
struct event;

/*
 * Each nng context is one cbd_req, reused for request after request:
 *
 *         nng thread                       loop thread
 *   ┌──► RECV ── bad envelope, unknown method, bad payload, failed check
 *   │     │        └───────────────────────────► SEND (answered at once)
 *   │     │ decoded and checked
 *   │     └─ cbd_loop_post ─────────────────► WORK: deadline timer armed,
 *   │                                          dedupe, method->run(),
 *   │                                          Redis replies ...
 *   │                                          cbd_req_finish()
 *   │                                            gen++, timer stopped
 *   │   SEND ◄──────────── nng_ctx_send ───────┘
 *   └── send done (a failed send frees its message)
 *
 * Whoever holds the state owns the request: nng's callback in RECV and
 * SEND, the loop thread in WORK. In WORK the request holds the policy it
 * runs on (pol: the one in effect when the loop took it, or for an
 * internal request when it was submitted) until it is answered, so a
 * reload meanwhile does not change its rules. gen counts answers, so that a
 * Redis reply arriving after its request was answered (deadline) is recognised
 * and dropped: backend calls carry the gen they were made under.
 */
typedef enum cbd_req_state {
	CBD_REQ_IDLE = 0, /* no receive posted (closing) */
	CBD_REQ_RECV,     /* waiting for a request */
	CBD_REQ_WORK,     /* owned by the loop thread */
	CBD_REQ_SEND,     /* reply being sent */
} cbd_req_state;

/* Scratch space of the running method, reset for every request. */
typedef struct cbd_op {
	int               pending;  /* backend replies still expected */
	cb_status         code;     /* first failure seen, or CB_OK */
	char              msg[160]; /* its message */
	ProtobufCMessage *resp;     /* response being built (heap, owned) */
	uint64_t          count;    /* accumulator: stored, deleted, ... */
	uint64_t          t0_us;    /* when a timed backend call left */
	struct cbd_sweep *sweep;    /* invalidation running (owned) */
} cbd_op;

struct cbd_req {
	cbd_server               *srv;         /* back pointer */
	nng_ctx                   ctx;         /* this request's nng context */
	nng_aio                  *aio;         /* its aio: recv and send */
	cbd_req_state             state;       /* who owns it, see above */
	uint32_t                  gen;         /* answers so far */
	uint32_t                  index;       /* slot in the server's array */
	const cbd_method         *method;      /* NULL until routed */
	Cachebroker__V1__Request *env;         /* decoded envelope (owned) */
	ProtobufCMessage         *in;          /* decoded payload (owned) */
	uint64_t                  t_start_us;  /* received at */
	uint64_t                  deadline_us; /* must be answered by */
	struct event             *timer;    /* deadline timer, loop thread */
	cbd_req                  *next;     /* inbox or waiter list link */
	cbd_dedupe_entry         *dedupe;   /* request_id entry it completes */
	cbd_dedupe_entry         *waiting;  /* entry whose result it awaits */
	struct cbd_flight        *flight;   /* load whose result it awaits */
	cbd_policy               *pol;      /* WORK: its policy (held) */
	const char               *x_cache;  /* reply metadata, static */
	uint32_t                  pipe;     /* connection it came in on */
	size_t                    qlen;     /* reply bytes counted queued */
	int                       shed;     /* over its connection's limit */
	cbd_op                    op;       /* method scratch */
	struct cbd_req_internal  *internal; /* NULL: a client's request */
};

/* cbd_req_alloc creates the request of one context (nng_ctx_open on sock
 * and its aio) and its deadline timer on the server's event base. */
CB_NODISCARD cb_status cbd_req_alloc(
    cbd_req **out, cbd_server *srv, nng_socket sock, uint32_t index);

/* cbd_req_free stops and frees a request: waits for its aio callback.
 * NULL-safe. Call only after the socket is closed. */
void cbd_req_free(cbd_req *req);

/* cbd_req_start posts the first receive. */
void cbd_req_start(cbd_req *req);

/*
 * A reply waits in nng for its connection at most the request's remaining
 * deadline, and at least this long (early errors have no deadline yet).
 */
#define CBD_REQ_SEND_FLOOR_MS 100

/*
 * cbd_req_transmit hands req's reply (on its aio) to nng_ctx_send with
 * the time it may wait for its connection, and counts it queued there;
 * a connection over its reply bytes is closed. nng's thread: the outbox
 * or the request's own callback.
 */
void cbd_req_transmit(cbd_req *req);

/* cbd_req_run is the loop's inbox callback: arms the deadline, applies
 * request_id dedupe and calls the method. Loop thread. */
void cbd_req_run(cbd_req *req, void *arg);

/*
 * cbd_req_finish answers a request in WORK: code, message (NULL for none,
 * copied) and, for CB_OK, resp (the method's response, heap-built, freed
 * here: ownership always moves). Stops the deadline timer, completes
 * request_id waiters, records stats, sends. Loop thread.
 */
void cbd_req_finish(
    cbd_req *req, cb_status code, const char *message, ProtobufCMessage *resp);

/* cbd_req_fail is cbd_req_finish with a formatted message. */
void cbd_req_fail(cbd_req *req, cb_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Backend calls carry (req, tag): tag holds req->gen in its high 32 bits
 * and a caller-chosen number in the low ones. cbd_req_tag makes one;
 * cbd_req_current returns the request if the tag is still current, NULL
 * if the request was answered since (the reply is late: drop it).
 */
static inline uint64_t
cbd_req_tag(const cbd_req *req, uint32_t sub)
{
	return ((uint64_t) req->gen << 32) | sub;
}

static inline cbd_req *
cbd_req_current(void *arg, uint64_t tag)
{
	cbd_req *req = arg;
	/* gen only changes on the loop thread, where replies arrive. */
	return (uint32_t) (tag >> 32) == req->gen ? req : NULL;
}

/*
 * Internal requests: work the broker starts by itself (warming, NOTIFY,
 * replaying the invalidation journal) runs through the same methods as a
 * client's request, encoded, decoded and checked the same way, but its
 * answer goes to a callback instead of a socket. They do not count as
 * in flight for the drain, nor in the per-method statistics.
 */
typedef void cbd_req_done_fn(void *arg, cb_status code, const char *message,
    const void *payload, size_t plen);

/* Flags of cbd_req_submit. */
#define CBD_SUBMIT_REPLAY 1u /* the journal replays it: keeps its own copy */

/*
 * cbd_req_submit runs method (an enum cbd_method_id) with payload on the
 * loop, later (never inside this call), with a deadline of deadline_ms,
 * on pol (NULL: the policy in effect), which it holds until answered;
 * done(arg, ...) gets the answer exactly once: code, message and, for
 * CB_OK, the packed response. Returns INVALID_ARGUMENT (with why) when the
 * method's check refuses the payload (against pol, whole), RESOURCE_EXHAUSTED
 * when out of memory; done is then not called. Loop thread.
 */
CB_NODISCARD cb_status cbd_req_submit(cbd_server *srv, cbd_policy *pol,
    int method, const ProtobufCMessage *payload, uint64_t deadline_ms,
    unsigned flags, cbd_req_done_fn *done, void *arg, char *why,
    size_t whylen);

/* cbd_req_journaled says whether an invalidation of req that fails goes
 * to the journal: yes, unless the journal itself is replaying it. */
int cbd_req_journaled(const cbd_req *req);

/* cbd_req_internal_cancel answers every internal request still in WORK
 * with UNAVAILABLE ("broker shutting down"), so that their callbacks
 * run. Loop thread, at close, after the pools completed their work and
 * before the callbacks' owners (warmer, journal) are freed. */
void cbd_req_internal_cancel(cbd_server *srv);

/* cbd_req_internal_free frees every internal request of srv, idle or
 * not. Loop thread, at close, after cbd_req_internal_cancel. */
void cbd_req_internal_free(cbd_server *srv);

#endif /* CBD_REQUEST_H */

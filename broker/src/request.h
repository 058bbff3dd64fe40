/* SPDX-License-Identifier: MIT */
/* One request's life: receive, decode, check, hand to the loop, answer. */
#ifndef CBD_REQUEST_H
#define CBD_REQUEST_H

#include <stdatomic.h>
#include <stdint.h>

#include <nng/nng.h>

#include <cachebroker/cachebroker.h>

#include "loop.h"
#include "router.h"
#include "stats.h"

typedef struct cbd_policy     cbd_policy;
typedef struct cbd_limits_pub cbd_limits_pub;
typedef struct cbd_outbox     cbd_outbox;
struct cbd_conns;
struct cbd_env;
struct event;
struct event_base;

/*
 * Each nng context is one cbd_req, reused for request after request:
 *
 *         nng thread                       loop thread
 *   ┌──► RECV ── bad envelope, unknown method, bad payload, failed check
 *   │     │        └───────────────────────────► SEND (answered at once)
 *   │     │ decoded and checked
 *   │     └─ cbd_loop_call ─────────────────► WORK: deadline timer armed,
 *   │                                          host->dispatch (request_id
 *   │                                          dedupe, method->run()),
 *   │                                          Redis replies ...
 *   │                                          cbd_req_finish()
 *   │                                            gen++, timer stopped,
 *   │                                            park cleanup, watcher
 *   │   SEND ◄── nng_ctx_send ◄── outbox ◄─────┘
 *   └── send done (a failed send frees its message)
 *
 * Whoever holds the state owns the request: nng's callback in RECV and
 * SEND, the loop thread in WORK. In WORK the request holds the policy it
 * runs on (pol: the one in effect when the loop took it, or for an
 * internal request when it was submitted) until it is answered, so a
 * reload meanwhile does not change its rules. gen counts answers, so that a
 * Redis reply arriving after its request was answered (deadline) is recognised
 * and dropped: backend calls carry the gen they were made under.
 *
 * The core knows no feature. A feature that makes a request wait on its
 * own structure (a load in flight, a request_id entry, a sweep) parks it
 * with a cleanup, as nng's aio cancel does: if the request is answered
 * (deadline, drain) or dropped while parked, the cleanup unlinks it. A
 * feature that needs the answer itself (the request_id table) watches it.
 */
typedef enum cbd_req_state {
	CBD_REQ_IDLE = 0, /* no receive posted (closing) */
	CBD_REQ_RECV,     /* waiting for a request */
	CBD_REQ_WORK,     /* owned by the loop thread */
	CBD_REQ_SEND,     /* reply being sent */
} cbd_req_state;

typedef struct cbd_req cbd_req;

/* A park's cleanup: req is answered or dropped while parked. */
typedef void cbd_req_cancel_fn(cbd_req *req, void *arg);

/* A watcher: req is being answered with (code, message, payload). */
typedef void cbd_req_watch_fn(cbd_req *req, void *arg, cb_status code,
    const char *message, const void *payload, size_t plen);

/* The step between the core and the method: arg is host->dispatch_arg. */
typedef void cbd_req_dispatch_fn(cbd_req *req, void *arg);

/*
 * What the requests of one server share: the core's view of the server,
 * in the server's storage. The server fills it before the first request;
 * after that only the fields marked so change.
 */
typedef struct cbd_req_host {
	struct event_base   *base;     /* deadline timers */
	cbd_loop            *loop;     /* the loop's inbox */
	cbd_outbox          *outbox;   /* replies for nng to send */
	struct cbd_conns    *conns;    /* per-connection bounds (conns.h) */
	cbd_stats           *stats;    /* per-method counters */
	cbd_limits_pub      *limits;   /* for nng's threads */
	cbd_policy          *policy;   /* in effect; loop thread, changes */
	cbd_req_dispatch_fn *dispatch; /* runs a request in WORK */
	void                *dispatch_arg;
	struct cbd_env      *env;           /* what the methods use (svc.h) */
	atomic_int           draining;      /* SIGTERM seen: refuse new work */
	atomic_int           closing;       /* the loop stopped: refuse all */
	atomic_uint          in_flight;     /* received, not yet sent */
	cbd_req             *all_internal;  /* internal requests, loop */
	cbd_req             *idle_internal; /* those not in WORK */
} cbd_req_host;

/* Scratch space of the running method, reset for every request. */
typedef struct cbd_op {
	int               pending;   /* backend replies still expected */
	cb_status         code;      /* first failure seen, or CB_OK */
	char              msg[160];  /* its message */
	ProtobufCMessage *resp;      /* response being built (heap, owned) */
	uint64_t          count;     /* accumulator: stored, deleted, ... */
	uint64_t          t0_us;     /* when a timed backend call left */
	void             *task;      /* the method's own state (a sweep) */
	uint64_t         *l1_tokens; /* L1 fill tokens (l1.h), one per key
	                              * read; NULL: no fill. Freed with it */
} cbd_op;

struct cbd_req {
	cbd_job                   job;         /* inbox or outbox node */
	cbd_req_host             *host;        /* what it shares */
	nng_ctx                   ctx;         /* this request's nng context */
	nng_aio                  *aio;         /* its aio: recv and send */
	cbd_req_state             state;       /* who owns it, see above */
	uint32_t                  gen;         /* answers so far */
	uint32_t                  index;       /* slot in the listener */
	const cbd_method         *method;      /* NULL until routed */
	Cachebroker__V1__Request *env;         /* decoded envelope (owned) */
	ProtobufCMessage         *in;          /* decoded payload (owned) */
	uint64_t                  t_start_us;  /* received at */
	uint64_t                  deadline_us; /* must be answered by */
	struct event             *timer;   /* deadline timer, loop thread */
	cbd_req                  *next;    /* link of whoever parked it */
	cbd_req_cancel_fn        *park_fn; /* parked: its cleanup */
	void                     *park_arg;
	cbd_req_watch_fn         *watch_fn; /* watched: told the answer */
	void                     *watch_arg;
	cbd_policy               *pol;      /* WORK: its policy (held) */
	const char               *x_cache;  /* reply metadata, static */
	uint32_t                  pipe;     /* connection it came in on */
	size_t                    qlen;     /* reply bytes counted queued */
	int                       shed;     /* over its connection's limit */
	cbd_op                    op;       /* method scratch */
	struct cbd_req_internal  *internal; /* NULL: a client's request */
};

/* cbd_req_alloc creates the request of one context (nng_ctx_open on sock
 * and its aio) and its deadline timer on the host's event base. */
CB_NODISCARD cb_status cbd_req_alloc(
    cbd_req **out, cbd_req_host *host, nng_socket sock, uint32_t index);

/* cbd_req_free stops and frees a request: waits for its aio callback;
 * a parked request's cleanup runs first. NULL-safe. Call only after the
 * socket is closed. */
void cbd_req_free(cbd_req *req);

/* cbd_req_start posts the first receive. */
void cbd_req_start(cbd_req *req);

/*
 * A reply waits in nng for its connection at most the request's remaining
 * deadline, and at least this long (early errors have no deadline yet).
 */
#define CBD_REQ_SEND_FLOOR_MS 100

/* cbd_req_config is the configuration a request runs on: its policy's
 * (the settings a reload cannot change keep their running values there).
 * Loop thread, WORK. */
const struct cbd_config *cbd_req_config(const cbd_req *req);

/*
 * cbd_req_finish answers a request in WORK: code, message (NULL for none,
 * copied) and, for CB_OK, resp (the method's response, heap-built, freed
 * here: ownership always moves). Stops the deadline timer, runs the park
 * cleanup, tells the watcher, records stats, sends. Loop thread.
 */
void cbd_req_finish(
    cbd_req *req, cb_status code, const char *message, ProtobufCMessage *resp);

/* cbd_req_fail is cbd_req_finish with a formatted message. */
void cbd_req_fail(cbd_req *req, cb_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cbd_req_answer is cbd_req_finish with the response already packed
 * (payload stays the caller's): for an answer shared by several
 * requests. Loop thread, WORK. */
void cbd_req_answer(cbd_req *req, cb_status code, const char *message,
    const void *payload, size_t plen);

/* cbd_req_answer_front answers OK with payload (the caller's) from a
 * method's front (router.h), on nng's thread, before the loop saw req;
 * x_cache is the reply's metadata (static). */
void cbd_req_answer_front(
    cbd_req *req, const char *x_cache, const void *payload, size_t plen);

/*
 * cbd_req_park: req, in WORK, now waits on the caller's structure (linked
 * by req->next, or through arg). If req is answered (its deadline, the
 * drain) or dropped before cbd_req_unpark, fn(req, arg) runs first, on the
 * loop thread, to unlink it or end what waits. One park at a time. Loop
 * thread.
 */
void cbd_req_park(cbd_req *req, cbd_req_cancel_fn *fn, void *arg);

/* cbd_req_list_remove unlinks req from the list at *head (linked by
 * next), if it is there: what a park cleanup does for a plain list. */
static inline void
cbd_req_list_remove(cbd_req **head, cbd_req *req)
{
	while (*head != NULL && *head != req) {
		head = &(*head)->next;
	}
	if (*head != NULL) {
		*head = req->next;
	}
	req->next = NULL;
}

/* cbd_req_unpark: the caller took req off its structure itself (to answer
 * it); the cleanup will not run. Loop thread. */
void cbd_req_unpark(cbd_req *req);

/* cbd_req_watch: fn(req, arg, ...) runs once when req is answered, with
 * the answer, before it leaves (not when it is dropped). One watcher at a
 * time. Loop thread, WORK. */
void cbd_req_watch(cbd_req *req, cbd_req_watch_fn *fn, void *arg);

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
CB_NODISCARD cb_status cbd_req_submit(cbd_req_host *host, cbd_policy *pol,
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
void cbd_req_internal_cancel(cbd_req_host *host);

/* cbd_req_internal_free frees every internal request of host, idle or
 * not. Loop thread, at close, after cbd_req_internal_cancel. */
void cbd_req_internal_free(cbd_req_host *host);

#endif /* CBD_REQUEST_H */

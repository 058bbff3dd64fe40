/* SPDX-License-Identifier: MIT */
/* Per-connection bounds: requests held and reply bytes queued per pipe. */
#include "conns.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"

/*
 * One slot per connection that holds a request. Linear probing; a removed
 * slot is re-filled by shifting the run after it back (no tombstones), so
 * a lookup stops at the first empty slot.
 */
typedef struct slot {
	uint32_t    pipe;     /* nng pipe id; 0: empty */
	uint32_t    held;     /* requests received, not yet sent */
	size_t      queued;   /* reply bytes handed to nng, not yet written */
	const char *why;      /* marked for closing: the reason; else NULL */
	uint64_t    quiet_us; /* marked: when it last took a reply */
	int         closed;   /* nng_pipe_close called */
} slot;

/* At most this many closes per cron; the rest wait for the next. */
#define CONNS_CLOSES 16

/* Connections per listener: few listeners (a re-created IPC listener is
 * a new one while the old one's connections end). */
#define CONNS_LISTENERS 64

typedef struct lcount {
	uint32_t lid; /* nng listener id; 0: free */
	uint32_t n;   /* its connections */
} lcount;

struct cbd_conns {
	pthread_mutex_t    mtx;
	lcount             lis[CONNS_LISTENERS]; /* under mtx */
	uint32_t           max_conns; /* per listener; 0: no limit */
	cbd_conns_seen_fn *seen;      /* under mtx */
	void              *seen_arg;
	slot              *slots;    /* size a power of two, > 2 × contexts */
	uint32_t           mask;     /* size - 1 */
	uint32_t           max_held; /* requests per connection */
	size_t             max_bytes; /* queued reply bytes; 0: no limit */
	cbd_conns_stats    stats;     /* under mtx */
};

cb_status
cbd_conns_alloc(cbd_conns **out, uint32_t contexts, uint32_t max_in_flight,
    size_t max_reply_bytes)
{
	cbd_conns *c;
	uint32_t   size = 16;

	while (size < 2u * contexts + 1u) {
		size <<= 1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	if ((c->slots = calloc(size, sizeof(*c->slots))) == NULL ||
	    pthread_mutex_init(&c->mtx, NULL) != 0) {
		free(c->slots);
		free(c);
		return CB_RESOURCE_EXHAUSTED;
	}
	c->mask      = size - 1;
	c->max_held  = max_in_flight;
	c->max_bytes = max_reply_bytes;
	*out         = c;
	return CB_OK;
}

void
cbd_conns_free(cbd_conns *c)
{
	if (c == NULL) {
		return;
	}
	pthread_mutex_destroy(&c->mtx);
	free(c->slots);
	free(c);
}

static uint32_t
conns_hash(uint32_t pipe)
{
	/* nng numbers pipes consecutively: spread them. */
	return pipe * 2654435761u;
}

/* conns_find returns pipe's slot, or the empty one where it would go.
 * Caller holds mtx. */
static slot *
conns_find(cbd_conns *c, uint32_t pipe)
{
	uint32_t i = conns_hash(pipe) & c->mask;

	while (c->slots[i].pipe != 0 && c->slots[i].pipe != pipe) {
		i = (i + 1) & c->mask;
	}
	return &c->slots[i];
}

/* conns_remove empties s and moves back the entries of its run that
 * could not sit in their home slot. Caller holds mtx. */
static void
conns_remove(cbd_conns *c, slot *s)
{
	uint32_t hole = (uint32_t) (s - c->slots);
	uint32_t i    = hole;

	for (;;) {
		uint32_t home;

		i = (i + 1) & c->mask;
		if (c->slots[i].pipe == 0) {
			break;
		}
		home = conns_hash(c->slots[i].pipe) & c->mask;
		/* Movable when home is not cyclically in (hole, i]. */
		if (((i - home) & c->mask) >= ((i - hole) & c->mask)) {
			c->slots[hole] = c->slots[i];
			hole           = i;
		}
	}
	c->slots[hole] = (slot) { 0 };
}

int
cbd_conns_hold(cbd_conns *c, uint32_t pipe)
{
	slot *s;
	int   over;

	pthread_mutex_lock(&c->mtx);
	s = conns_find(c, pipe);
	if (s->pipe == 0) {
		*s = (slot) { .pipe = pipe };
	}
	s->held++;
	over = s->held > c->max_held;
	if (over) {
		c->stats.rejected++;
	}
	pthread_mutex_unlock(&c->mtx);
	return over;
}

/* conns_mark marks s for closing for why, unless it is already. Caller
 * holds mtx. */
static void
conns_mark(slot *s, const char *why, uint64_t now_us)
{
	if (s->why == NULL) {
		s->why      = why;
		s->quiet_us = now_us;
	}
}

void
cbd_conns_queue(cbd_conns *c, uint32_t pipe, size_t len, uint64_t now_us)
{
	slot *s;

	pthread_mutex_lock(&c->mtx);
	s = conns_find(c, pipe);
	if (s->pipe != 0) {
		s->queued += len;
		if (c->max_bytes != 0 && s->queued > c->max_bytes) {
			conns_mark(s,
			    "its unread replies exceed "
			    "max_connection_reply_bytes",
			    now_us);
		}
	}
	pthread_mutex_unlock(&c->mtx);
}

void
cbd_conns_rele(cbd_conns *c, uint32_t pipe, size_t qlen, int dropped,
    int timed_out, uint64_t now_us)
{
	slot *s;

	pthread_mutex_lock(&c->mtx);
	if (dropped) {
		c->stats.dropped++;
	}
	s = conns_find(c, pipe);
	if (s->pipe != 0) {
		if (timed_out) {
			conns_mark(s, "a reply waited out its deadline unread",
			    now_us);
		} else if (!dropped && qlen != 0) {
			s->quiet_us = now_us; /* it took one */
		}
		s->queued -= qlen < s->queued ? qlen : s->queued;
		/* One marked stays until the cron closed it. */
		if (--s->held == 0 && (s->why == NULL || s->closed)) {
			conns_remove(c, s);
		}
	}
	pthread_mutex_unlock(&c->mtx);
}

void
cbd_conns_cron(cbd_conns *c, uint64_t now_us)
{
	struct {
		uint32_t    pipe;
		const char *why;
	} due[CONNS_CLOSES];
	size_t n = 0;

	pthread_mutex_lock(&c->mtx);
	for (uint32_t i = 0; i <= c->mask && n < CONNS_CLOSES; i++) {
		slot *s = &c->slots[i];

		if (s->pipe != 0 && s->why != NULL && !s->closed &&
		    now_us - s->quiet_us >= CBD_CONNS_QUIET_US) {
			s->closed = 1;
			c->stats.closed++;
			due[n].pipe  = s->pipe;
			due[n++].why = s->why;
		}
	}
	/* Apart from the scan: a removal moves entries back. */
	for (size_t i = 0; i < n; i++) {
		slot *s = conns_find(c, due[i].pipe);

		if (s->held == 0) {
			conns_remove(c, s);
		}
	}
	pthread_mutex_unlock(&c->mtx);
	for (size_t i = 0; i < n; i++) {
		nng_pipe p = NNG_PIPE_INITIALIZER;

		p.id = due[i].pipe;
		cbd_log_warning("closing connection %u: %s",
		    (unsigned) due[i].pipe, due[i].why);
		/* Its queued replies complete as sent, which frees their
		 * contexts. */
		(void) nng_pipe_close(p);
	}
}

/* conns_listener finds lid's counter, or (add) a free one; NULL if
 * none. Caller holds mtx. */
static lcount *
conns_listener(cbd_conns *c, uint32_t lid, int add)
{
	lcount *free_slot = NULL;

	for (size_t i = 0; i < CONNS_LISTENERS; i++) {
		if (c->lis[i].lid == lid) {
			return &c->lis[i];
		}
		if (c->lis[i].lid == 0 && free_slot == NULL) {
			free_slot = &c->lis[i];
		}
	}
	if (add && free_slot != NULL) {
		*free_slot = (lcount) { .lid = lid };
		return free_slot;
	}
	return NULL;
}

/*
 * conns_pipe_cb runs on nng's thread for each connection a listener hands
 * the socket (ADD_PRE: before the protocol sees it) and when it ends
 * (REM_POST, also for one refused here). A refused connection has done
 * the SP handshake and is closed at once.
 */
static void
conns_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	cbd_conns         *c   = arg;
	uint32_t           lid = nng_pipe_listener(p).id;
	cbd_conns_seen_fn *seen;
	void              *seen_arg;
	lcount            *l;
	uint64_t           refused = 0;

	if (lid == 0) {
		return;
	}
	pthread_mutex_lock(&c->mtx);
	seen     = c->seen;
	seen_arg = c->seen_arg;
	l        = conns_listener(c, lid, ev == NNG_PIPE_EV_ADD_PRE);
	if (ev == NNG_PIPE_EV_ADD_PRE && l != NULL) {
		l->n++;
		if (c->max_conns != 0 && l->n > c->max_conns) {
			refused = ++c->stats.refused;
		}
	} else if (ev == NNG_PIPE_EV_REM_POST && l != NULL && --l->n == 0) {
		l->lid = 0;
	}
	pthread_mutex_unlock(&c->mtx);
	if (ev != NNG_PIPE_EV_ADD_PRE) {
		return;
	}
	if (refused != 0) {
		/* The first, then one in 1024: a flood must not flood the
		 * log too. */
		if (refused % 1024 == 1) {
			cbd_log_warning(
			    "refusing connections: a listener "
			    "has max_connections (%u) (%llu so far)",
			    (unsigned) c->max_conns,
			    (unsigned long long) refused);
		}
		(void) nng_pipe_close(p);
	}
	if (seen != NULL) {
		seen(seen_arg, lid);
	}
}

cb_status
cbd_conns_watch(cbd_conns *c, nng_socket sock, uint32_t max_per_listener)
{
	c->max_conns = max_per_listener;
	if (nng_pipe_notify(sock, NNG_PIPE_EV_ADD_PRE, conns_pipe_cb, c) !=
	        0 ||
	    nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, conns_pipe_cb, c) !=
	        0) {
		return CB_INTERNAL;
	}
	return CB_OK;
}

void
cbd_conns_seen(cbd_conns *c, cbd_conns_seen_fn *seen, void *arg)
{
	pthread_mutex_lock(&c->mtx);
	c->seen     = seen;
	c->seen_arg = arg;
	pthread_mutex_unlock(&c->mtx);
}

void
cbd_conns_stats_get(cbd_conns *c, cbd_conns_stats *out)
{
	pthread_mutex_lock(&c->mtx);
	*out = c->stats;
	pthread_mutex_unlock(&c->mtx);
}

uint32_t
cbd_conns_limit(const cbd_conns *c)
{
	return c->max_held;
}

/* SPDX-License-Identifier: MIT */
/* The invalidation feed: a pub0 socket announcing applied invalidations. */
#include "feed.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "ipcguard.h"
#include "keys.h"
#include "listener.h"
#include "log.h"

/*
 *   sweep_finish (invalidate.c, loop thread), code OK
 *     └► one Invalidation per namespace ─► cbd_feed_publish
 *          "<ns>\0" + packed message ─► nng_sendmsg(NONBLOCK)
 *            └► pub0: one queue per subscriber, oldest dropped when full
 *
 * The topic is the namespace and a NUL, so that a subscription to
 * "users\0" matches neither "users2" nor anything else.
 */

/* Messages queued per subscriber before pub0 drops the oldest: room for
 * a burst of invalidations while a subscriber is briefly busy. */
#define FEED_SENDBUF 1024

/* Namespaces numbered (Invalidation.seq): a bound, as for the
 * statistics, so that clients inventing namespaces cannot grow it. */
#define FEED_MAX_NS 4096

/* Slots of the namespace table: at most half of them used. */
#define FEED_SLOTS ((size_t) 2 * FEED_MAX_NS)

/* One numbered namespace: open addressing, never removed. */
typedef struct feed_ns {
	char    *name; /* NULL: free slot */
	uint64_t seq;  /* last number sent */
} feed_ns;

struct cbd_feed {
	nng_socket   sock;     /* pub0 */
	nng_listener listener; /* on cfg->feed */
	uint64_t     failed;   /* sends that failed, loop thread */
	uint64_t     start_ms; /* wall clock at open: broker_start_ms */
	feed_ns     *ns;       /* FEED_SLOTS slots, loop thread */
	size_t       n_ns;     /* used */
};

/* feed_next returns the next number of namespace name, 0 when the table
 * is full or out of memory. Loop thread. */
static uint64_t
feed_next(cbd_feed *f, const char *name)
{
	size_t cap = FEED_SLOTS;

	for (size_t i = cbd_keys_hash(name) % cap;; i = (i + 1) % cap) {
		feed_ns *e = &f->ns[i];
		if (e->name == NULL) {
			if (f->n_ns >= FEED_MAX_NS ||
			    (e->name = strdup(name)) == NULL) {
				return 0;
			}
			f->n_ns++;
		} else if (strcmp(e->name, name) != 0) {
			continue;
		}
		return ++e->seq;
	}
}

cb_status
cbd_feed_open(cbd_feed **out, const cbd_config *cfg, nng_tls_config *tls)
{
	cbd_feed       *f;
	cb_status       st;
	int             rv;
	struct timespec now;

	if (cfg->feed == NULL || cfg->feed[0] == '\0') {
		*out = NULL;
		return CB_OK;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->ns = calloc(FEED_SLOTS, sizeof(*f->ns))) == NULL) {
		free(f);
		return CB_RESOURCE_EXHAUSTED;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	f->start_ms =
	    (uint64_t) now.tv_sec * 1000u + (uint64_t) now.tv_nsec / 1000000u;
	if ((rv = nng_pub0_open(&f->sock)) != 0) {
		cbd_log_error(
		    "nng: cannot open a pub0 socket: %s", nng_strerror(rv));
		free(f->ns);
		free(f);
		return CB_INTERNAL;
	}
	if ((rv = nng_socket_set_int(
	         f->sock, NNG_OPT_SENDBUF, FEED_SENDBUF)) != 0) {
		cbd_log_error(
		    "feed: cannot set the send buffer: %s", nng_strerror(rv));
		st = CB_INTERNAL;
		goto fail;
	}
	if ((st = cbd_listener_listen(f->sock, cfg->feed, cfg->ipc_mode, tls,
	         &f->listener)) != CB_OK) {
		goto fail;
	}
	*out = f;
	return CB_OK;
fail:
	cbd_feed_close(f);
	return st;
}

void
cbd_feed_publish(cbd_feed *f, const Cachebroker__V1__Invalidation *inv)
{
	Cachebroker__V1__Invalidation m; /* inv, numbered */
	size_t                        nslen;
	size_t                        len;
	nng_msg                      *msg;
	int                           rv;

	if (f == NULL) {
		return;
	}
	m                 = *inv;
	m.seq             = feed_next(f, inv->namespace_);
	m.broker_start_ms = f->start_ms;
	inv               = &m;
	nslen             = strlen(inv->namespace_);
	len               = protobuf_c_message_get_packed_size(&inv->base);
	if ((rv = nng_msg_alloc(&msg, nslen + 1 + len)) != 0) {
		goto fail;
	}
	memcpy(nng_msg_body(msg), inv->namespace_, nslen + 1);
	(void) protobuf_c_message_pack(
	    &inv->base, (uint8_t *) nng_msg_body(msg) + nslen + 1);
	/* pub0 never blocks a sender; NONBLOCK says so all the same. */
	if ((rv = nng_sendmsg(f->sock, msg, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(msg); /* still ours after a failed send */
		goto fail;
	}
	return;
fail:
	/* Log the first failure and then every 1000th: a broken feed must
	 * not flood the log with a line per invalidation. */
	if (f->failed++ % 1000 == 0) {
		cbd_log_warning("feed: cannot publish an invalidation of %s: "
		                "%s (%llu failed so far)",
		    inv->namespace_, nng_strerror(rv),
		    (unsigned long long) f->failed);
	}
}

/* The guard's probe: a subscriber (pub0's peer) that subscribes to
 * nothing, so it never receives. */
static int
feed_probe_open(nng_socket *s)
{
	return nng_sub0_open(s);
}

cb_status
cbd_feed_guard(cbd_feed *f, cbd_ipcguard *g, const cbd_config *cfg)
{
	if (f == NULL) {
		return CB_OK;
	}
	return cbd_ipcguard_watch(g, f->sock, &f->listener, cfg->feed,
	    cfg->ipc_mode, feed_probe_open);
}

void
cbd_feed_close(cbd_feed *f)
{
	if (f == NULL) {
		return;
	}
	/* Closing the socket closes its listener and connections. */
	if (f->sock.id != 0) {
		(void) nng_close(f->sock);
	}
	for (size_t i = 0; i < FEED_SLOTS; i++) {
		free(f->ns[i].name);
	}
	free(f->ns);
	free(f);
}

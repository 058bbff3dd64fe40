/* SPDX-License-Identifier: MIT */
/* Client lifecycle: open and dial the req0 socket, close it, free replies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "client.h"

#ifndef CB_VERSION_STRING
#define CB_VERSION_STRING "0.0.0"
#endif

cb_status
cbc_dial_status(int rv)
{
	switch (rv) {
	case NNG_EADDRINVAL:
	case NNG_EINVAL:
	case NNG_ENOTSUP:
		return CB_INVALID_ARGUMENT;
	case NNG_ENOMEM:
		return CB_RESOURCE_EXHAUSTED;
	default:
		return CB_UNAVAILABLE;
	}
}

cb_status
cb_client_open(cb_client **out, const char *url, const cb_client_opts *opts)
{
	return cb_client_open_tls(out, url, opts, NULL);
}

cb_status
cb_client_open_tls(cb_client **out, const char *url,
    const cb_client_opts *opts, const cb_tls_opts *tls)
{
	cb_client *c        = NULL;
	bool       sync_ok  = false;
	bool       sock_ok  = false;
	size_t     maxreply = CB_DEFAULT_MAX_REPLY;
	cb_status  st;
	int        rv;

	if (out == NULL) {
		return CB_INVALID_ARGUMENT;
	}
	if (url == NULL) {
		url = getenv("CACHEBROKER_URL");
		if (url == NULL || *url == '\0') {
			url = CB_DEFAULT_URL;
		}
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		st = CB_RESOURCE_EXHAUSTED;
		goto fail;
	}
	if ((c->url = strdup(url)) == NULL) {
		st = CB_RESOURCE_EXHAUSTED;
		goto fail;
	}
	c->timeout_ms  = CB_DEFAULT_TIMEOUT_MS;
	c->max_message = CB_DEFAULT_MAX_MESSAGE;
	if (opts != NULL && opts->timeout_ms != 0) {
		c->timeout_ms = opts->timeout_ms;
	}
	if (opts != NULL && opts->max_message_size != 0) {
		c->max_message = opts->max_message_size;
	}
	if (opts != NULL && opts->max_reply_size != 0) {
		maxreply = opts->max_reply_size;
	}
	/* nng durations are int32 milliseconds; leave room for the slack. */
	if (c->timeout_ms > (uint32_t) INT32_MAX - CB_RESEND_SLACK_MS) {
		c->timeout_ms = (uint32_t) INT32_MAX - CB_RESEND_SLACK_MS;
	}

	if (pthread_mutex_init(&c->mtx, NULL) != 0) {
		st = CB_RESOURCE_EXHAUSTED;
		goto fail;
	}
	if (pthread_cond_init(&c->idle, NULL) != 0) {
		pthread_mutex_destroy(&c->mtx);
		st = CB_RESOURCE_EXHAUSTED;
		goto fail;
	}
	sync_ok = true;

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		st = (rv == NNG_ENOMEM) ? CB_RESOURCE_EXHAUSTED : CB_INTERNAL;
		goto fail;
	}
	sock_ok = true;
	/* A reply larger than this closes the connection (nng's rule). */
	if (nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, maxreply) != 0) {
		st = CB_INTERNAL;
		goto fail;
	}
	/* Non-blocking: a broker that is not up yet is dialed again and
	 * again in the background, and calls wait for it (within their
	 * deadline) instead of failing here. */
	if ((st = cbc_dial(c->sock, url, tls)) != CB_OK) {
		goto fail;
	}
	*out = c;
	return CB_OK;

fail:
	if (c != NULL) {
		if (sock_ok) {
			(void) nng_close(c->sock);
		}
		if (sync_ok) {
			pthread_cond_destroy(&c->idle);
			pthread_mutex_destroy(&c->mtx);
		}
		free(c->url);
		free(c);
	}
	return st;
}

/*
 * Bounded nng_close. nng 1.5.2 can lose a pipe's receive when the pipe is
 * closed while a message is arriving (the transport resubmits its read on
 * a stopped aio, which nng drops silently): its one reaper thread then
 * waits for that receive forever, and every nng_close in the process
 * waits for the reaper. So nng_close runs on a thread of its own, and
 * cb_client_close waits for it at most CB_CLOSE_WAIT_MS; after that (or
 * once any close of the process has timed out: the reaper is stuck for
 * good) the socket is left to nng, still closing, and the client is freed.
 */
typedef struct cbc_closer {
	nng_socket      sock;
	pthread_mutex_t mtx;
	pthread_cond_t  done_cv; /* CLOCK_MONOTONIC */
	bool            done;    /* nng_close returned */
	unsigned        refs;    /* the closing thread and the waiter */
} cbc_closer;

static bool cbc_close_stuck; /* a close timed out; atomic */

static void
closer_rele(cbc_closer *cl)
{
	unsigned refs;

	pthread_mutex_lock(&cl->mtx);
	refs = --cl->refs;
	pthread_mutex_unlock(&cl->mtx);
	if (refs == 0) {
		pthread_cond_destroy(&cl->done_cv);
		pthread_mutex_destroy(&cl->mtx);
		free(cl);
	}
}

static void *
closer_main(void *arg)
{
	cbc_closer *cl = arg;

	(void) nng_close(cl->sock);
	pthread_mutex_lock(&cl->mtx);
	cl->done = true;
	pthread_cond_broadcast(&cl->done_cv);
	pthread_mutex_unlock(&cl->mtx);
	closer_rele(cl);
	return NULL;
}

/* close_bounded closes sock, waiting at most CB_CLOSE_WAIT_MS. Returns
 * whether nng_close returned; if not, it goes on in the background. */
static bool
close_bounded(nng_socket sock)
{
	cbc_closer        *cl;
	pthread_condattr_t ca;
	pthread_attr_t     ta;
	pthread_t          thr;
	struct timespec    until;
	bool               done;
	int                rv;

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		goto inline_close;
	}
	cl->sock = sock;
	cl->refs = 2;
	if (pthread_condattr_init(&ca) != 0) {
		free(cl);
		goto inline_close;
	}
	(void) pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rv = pthread_cond_init(&cl->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rv != 0) {
		free(cl);
		goto inline_close;
	}
	pthread_mutex_init(&cl->mtx, NULL);
	if (pthread_attr_init(&ta) != 0) {
		cl->refs = 1;
		closer_rele(cl);
		goto inline_close;
	}
	(void) pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	rv = pthread_create(&thr, &ta, closer_main, cl);
	pthread_attr_destroy(&ta);
	if (rv != 0) {
		cl->refs = 1;
		closer_rele(cl);
		goto inline_close;
	}

	clock_gettime(CLOCK_MONOTONIC, &until);
	if (!__atomic_load_n(&cbc_close_stuck, __ATOMIC_RELAXED)) {
		until.tv_sec += CB_CLOSE_WAIT_MS / 1000;
		until.tv_nsec += (long) (CB_CLOSE_WAIT_MS % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&cl->mtx);
	rv = 0;
	while (!cl->done && rv != ETIMEDOUT) {
		rv = pthread_cond_timedwait(&cl->done_cv, &cl->mtx, &until);
	}
	done = cl->done;
	pthread_mutex_unlock(&cl->mtx);
	closer_rele(cl);
	if (!done) {
		__atomic_store_n(&cbc_close_stuck, true, __ATOMIC_RELAXED);
	}
	return done;

inline_close:
	/* No thread to spare: close here, unbounded, as nng does. */
	(void) nng_close(sock);
	return true;
}

void
cb_client_close(cb_client *c)
{
	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&c->mtx);
	c->closing = true;
	pthread_mutex_unlock(&c->mtx);

	/* Wakes every call waiting on one of the socket's contexts with
	 * NNG_ECLOSED; they see closing and report CANCELLED. nng does
	 * that before it waits for the connections, so calls leave even
	 * when the close itself does not finish in time. */
	(void) close_bounded(c->sock);

	pthread_mutex_lock(&c->mtx);
	while (c->active > 0) {
		pthread_cond_wait(&c->idle, &c->mtx);
	}
	pthread_mutex_unlock(&c->mtx);

	while (c->idle_slots != NULL) {
		cbc_slot *slot = c->idle_slots;
		c->idle_slots  = slot->next;
		cbc_slot_free(slot);
	}
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->mtx);
	free(c->url);
	free(c);
}

void
cbc_slot_free(cbc_slot *slot)
{
	if (slot == NULL) {
		return;
	}
	if (slot->aio != NULL) {
		nng_aio_free(slot->aio);
	}
	(void) nng_ctx_close(slot->ctx);
	free(slot);
}

int
cbc_slot_get(cb_client *c, cbc_slot **out)
{
	cbc_slot *slot;
	int       rv;

	pthread_mutex_lock(&c->mtx);
	if ((slot = c->idle_slots) != NULL) {
		c->idle_slots = slot->next;
		c->n_idle--;
	}
	pthread_mutex_unlock(&c->mtx);
	if (slot == NULL) {
		if ((slot = calloc(1, sizeof(*slot))) == NULL) {
			return NNG_ENOMEM;
		}
		if ((rv = nng_ctx_open(&slot->ctx, c->sock)) != 0) {
			free(slot);
			return rv;
		}
		if ((rv = nng_aio_alloc(&slot->aio, NULL, NULL)) != 0) {
			cbc_slot_free(slot);
			return rv;
		}
	}
	*out = slot;
	return 0;
}

void
cbc_slot_put(cb_client *c, cbc_slot *slot)
{
	pthread_mutex_lock(&c->mtx);
	if (!c->closing && c->n_idle < CB_MAX_IDLE_SLOTS) {
		slot->next    = c->idle_slots;
		c->idle_slots = slot;
		c->n_idle++;
		slot = NULL;
	}
	pthread_mutex_unlock(&c->mtx);
	cbc_slot_free(slot);
}

bool
cbc_client_enter(cb_client *c)
{
	bool ok;

	pthread_mutex_lock(&c->mtx);
	ok = !c->closing;
	if (ok) {
		c->active++;
	}
	pthread_mutex_unlock(&c->mtx);
	return ok;
}

void
cbc_client_leave(cb_client *c)
{
	pthread_mutex_lock(&c->mtx);
	if (--c->active == 0 && c->closing) {
		pthread_cond_broadcast(&c->idle);
	}
	pthread_mutex_unlock(&c->mtx);
}

bool
cbc_client_is_closing(cb_client *c)
{
	bool closing;

	pthread_mutex_lock(&c->mtx);
	closing = c->closing;
	pthread_mutex_unlock(&c->mtx);
	return closing;
}

void
cb_message_free(void *msg)
{
	if (msg != NULL) {
		protobuf_c_message_free_unpacked(msg, NULL);
	}
}

const char *
cb_version(void)
{
	return CB_VERSION_STRING;
}

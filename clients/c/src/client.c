/* SPDX-License-Identifier: MIT */
/* Client lifecycle: open and dial the req0 socket, close it, free replies. */
#include <stdlib.h>
#include <string.h>

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
	 * NNG_ECLOSED; they see closing and report CANCELLED. */
	(void) nng_close(c->sock);

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

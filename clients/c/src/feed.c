/* SPDX-License-Identifier: MIT */
/* The invalidation feed: a sub0 socket, its topics, decoding messages. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "client.h"

/*
 * A feed message is "<namespace>\0" followed by a packed Invalidation.
 * The namespace and its NUL are the pub/sub topic: subscribing to
 * "users\0" (6 bytes) matches "users" and not "users2"; the empty topic
 * matches everything.
 */
struct cb_feed {
	nng_socket sock; /* sub0, dialed without blocking */
	nng_aio   *aio;  /* for receives with a timeout */
};

/* feed_nng_status translates an nng error of the feed's socket. */
static cb_status
feed_nng_status(int rv)
{
	return rv == NNG_ETIMEDOUT ? CB_DEADLINE_EXCEEDED
	                           : cbc_dial_status(rv);
}

cb_status
cb_feed_open(
    cb_feed **out, const char *url, const char *const *namespaces, size_t n)
{
	return cb_feed_open_tls(out, url, namespaces, n, NULL);
}

cb_status
cb_feed_open_tls(cb_feed **out, const char *url, const char *const *namespaces,
    size_t n, const cb_tls_opts *tls)
{
	cb_feed  *f = NULL;
	cb_status st;
	int       rv;

	if (out == NULL || (n > 0 && namespaces == NULL)) {
		return CB_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < n; i++) {
		if (namespaces[i] == NULL || namespaces[i][0] == '\0') {
			return CB_INVALID_ARGUMENT;
		}
	}
	if (url == NULL) {
		url = getenv("CACHEBROKER_FEED_URL");
		if (url == NULL || *url == '\0') {
			url = CB_DEFAULT_FEED_URL;
		}
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	if ((rv = nng_sub0_open(&f->sock)) != 0) {
		free(f);
		return rv == NNG_ENOMEM ? CB_RESOURCE_EXHAUSTED : CB_INTERNAL;
	}
	if ((rv = nng_aio_alloc(&f->aio, NULL, NULL)) != 0 ||
	    (rv = nng_socket_set_size(
	         f->sock, NNG_OPT_RECVMAXSZ, CB_DEFAULT_MAX_REPLY)) != 0) {
		st = feed_nng_status(rv);
		goto fail;
	}
	/* Subscribe before dialing, so that nothing arrives unfiltered. A
	 * namespace's topic includes its NUL: it ends where the namespace
	 * does. The empty topic matches every message. */
	rv = 0;
	if (n == 0) {
		rv = nng_socket_set(f->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	}
	for (size_t i = 0; rv == 0 && i < n; i++) {
		rv = nng_socket_set(f->sock, NNG_OPT_SUB_SUBSCRIBE,
		    namespaces[i], strlen(namespaces[i]) + 1);
	}
	if (rv != 0) {
		st = feed_nng_status(rv);
		goto fail;
	}
	/* Non-blocking, as in cb_client_open: nng redials until the broker
	 * is there. */
	if ((st = cbc_dial(f->sock, url, tls)) != CB_OK) {
		goto fail;
	}
	*out = f;
	return CB_OK;

fail:
	cb_feed_close(f);
	return st;
}

/*
 * feed_decode splits a message into its topic and Invalidation. NULL when
 * it is not a feed message: no NUL, a body that does not decode, or a
 * namespace other than the topic's.
 */
static Cachebroker__V1__Invalidation *
feed_decode(const uint8_t *body, size_t len)
{
	const uint8_t                 *nul = memchr(body, '\0', len);
	Cachebroker__V1__Invalidation *inv;
	size_t                         nslen;

	if (nul == NULL) {
		return NULL;
	}
	nslen = (size_t) (nul - body);
	if ((inv = cachebroker__v1__invalidation__unpack(
	         NULL, len - nslen - 1, nul + 1)) == NULL) {
		return NULL;
	}
	if (strlen(inv->namespace_) != nslen ||
	    memcmp(inv->namespace_, body, nslen) != 0) {
		cb_message_free(inv);
		return NULL;
	}
	return inv;
}

cb_status
cb_feed_recv(cb_feed *f, Cachebroker__V1__Invalidation **out, int timeout_ms)
{
	Cachebroker__V1__Invalidation *inv;
	nng_msg                       *msg;
	int                            rv;

	if (f == NULL || out == NULL) {
		return CB_INVALID_ARGUMENT;
	}
	nng_aio_set_timeout(
	    f->aio, timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
	nng_recv_aio(f->sock, f->aio);
	nng_aio_wait(f->aio);
	if ((rv = nng_aio_result(f->aio)) != 0) {
		return feed_nng_status(rv);
	}
	msg = nng_aio_get_msg(f->aio);
	inv = feed_decode(nng_msg_body(msg), nng_msg_len(msg));
	nng_msg_free(msg);
	if (inv == NULL) {
		return CB_INVALID_ARGUMENT;
	}
	*out = inv;
	return CB_OK;
}

void
cb_feed_close(cb_feed *f)
{
	if (f == NULL) {
		return;
	}
	/* Closing the socket ends its dialer and connections. */
	if (f->sock.id != 0) {
		(void) nng_close(f->sock);
	}
	if (f->aio != NULL) {
		nng_aio_free(f->aio);
	}
	free(f);
}

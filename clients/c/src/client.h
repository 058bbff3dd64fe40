/* SPDX-License-Identifier: MIT */
/* Private state of libcachebroker, shared by its source files. */
#ifndef CB_CLIENT_PRIVATE_H
#define CB_CLIENT_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include <cachebroker/cachebroker.h>

/* Private functions stay out of the shared library's dynamic symbols. */
#if defined(__GNUC__)
#define CBC_HIDDEN __attribute__((visibility("hidden")))
#else
#define CBC_HIDDEN
#endif

#define CB_DEFAULT_TIMEOUT_MS 5000u
#define CB_DEFAULT_MAX_MESSAGE ((size_t) 1 << 20) /* 1 MiB */
#define CB_DEFAULT_MAX_REPLY ((size_t) 64 << 20)  /* 64 MiB */
#define CB_RESEND_SLACK_MS 1000 /* resend timer past deadline */
#define CB_REQUEST_ID_LEN 32    /* hex characters */
#define CB_CLOSE_WAIT_MS 2000   /* longest cb_client_close waits for nng */

/* A context and its aio, kept between calls: opening and closing them
 * costs more than a cached round trip's worth of CPU. */
typedef struct cbc_slot {
	nng_ctx          ctx;
	nng_aio         *aio;
	struct cbc_slot *next; /* free list */
} cbc_slot;

#define CB_MAX_IDLE_SLOTS 64 /* more idle contexts than this are closed */

/*
 * A client is one req0 socket. Calls run on their own nng contexts, so the
 * only shared mutable state is the count of calls in flight, which lets
 * cb_client_close wait for them before it frees the client.
 */
struct cb_client {
	nng_socket      sock;        /* req0, dialed without blocking */
	char           *url;         /* what it dials, for messages */
	uint32_t        timeout_ms;  /* default per-call deadline */
	size_t          max_message; /* largest envelope we send */
	pthread_mutex_t mtx;         /* protects active and closing */
	pthread_cond_t  idle;        /* signalled when active drops to 0 */
	unsigned        active;      /* calls between enter and leave */
	bool            closing;     /* cb_client_close has begun */
	cbc_slot       *idle_slots;  /* reusable contexts, under mtx */
	unsigned        n_idle;      /* how many */
};

/*
 * cbc_client_enter registers a call on c. It returns false when the client
 * is closing (the call must then fail with CANCELLED). Thread: any.
 */
CBC_HIDDEN bool cbc_client_enter(cb_client *c);

/* cbc_client_leave ends a call registered by cbc_client_enter. */
CBC_HIDDEN void cbc_client_leave(cb_client *c);

/* cbc_slot_get takes an idle context or opens one; NNG error on failure.
 * cbc_slot_put returns it (or closes it when enough are idle). */
CBC_HIDDEN int  cbc_slot_get(cb_client *c, cbc_slot **out);
CBC_HIDDEN void cbc_slot_put(cb_client *c, cbc_slot *slot);

/* cbc_slot_free closes a slot's context and frees it. */
CBC_HIDDEN void cbc_slot_free(cbc_slot *slot);

/*
 * cbc_dial_status translates an error of nng_dial (or of setting up the
 * socket before it). With NNG_FLAG_NONBLOCK the dial itself never fails
 * for an absent broker, only for a URL nng cannot use: a bad address, or a
 * transport this build of nng lacks (INVALID_ARGUMENT).
 */
CBC_HIDDEN cb_status cbc_dial_status(int rv);

/*
 * cbc_dial dials url on sock without blocking. A tls+tcp:// URL gets the
 * client side of TLS from tls, each setting it leaves NULL (or all, when
 * tls is NULL) from its CACHEBROKER_TLS_* variable: the broker's
 * certificate must chain to ca_file (there
 * is no unchecked TLS) and carry server_name (default: the URL's host).
 * INVALID_ARGUMENT for a bad URL, a missing CA, or a file that cannot be
 * read or used.
 */
CBC_HIDDEN cb_status cbc_dial(
    nng_socket sock, const char *url, const cb_tls_opts *tls);

/* cbc_client_is_closing says whether cb_client_close has begun on c. */
CBC_HIDDEN bool cbc_client_is_closing(cb_client *c);

/*
 * cbc_request_id_fill writes a fresh request id, CB_REQUEST_ID_LEN hex
 * characters and a NUL, into buf. Ids are random (getrandom), so they are
 * unique across threads, processes and forks. Never blocks after boot.
 * Thread: any.
 */
CBC_HIDDEN void cbc_request_id_fill(char buf[CB_REQUEST_ID_LEN + 1]);

#endif /* CB_CLIENT_PRIVATE_H */

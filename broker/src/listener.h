/* SPDX-License-Identifier: MIT */
/* The nng side: the rep0 socket, its listeners and its contexts. */
#ifndef CBD_LISTENER_H
#define CBD_LISTENER_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <cachebroker/cachebroker.h>

#include "config.h"

typedef struct cbd_config   cbd_config;
typedef struct cbd_errors   cbd_errors;
typedef struct cbd_req      cbd_req;
typedef struct cbd_req_host cbd_req_host;
struct cbd_conns;

/*
 * The request side of nng: the rep0 socket, its listeners, the
 * per-connection bounds and one request per context. Its storage is the
 * caller's (the server's); it owns what it points to.
 */
typedef struct cbd_listener {
	nng_socket        sock; /* rep0 */
	nng_listener      listeners[CBD_MAX_LISTENERS];
	size_t            n_listeners;
	nng_tls_config   *tls;   /* tls+tcp:// listeners'; NULL: none */
	struct cbd_conns *conns; /* per-connection bounds (conns.h) */
	cbd_req         **reqs;  /* one per context */
	uint32_t          n_reqs;
} cbd_listener;

/*
 * cbd_listener_open opens the rep0 socket with its size limit, starts one
 * listener per configured URL (IPC sockets get cfg.ipc_mode), sets
 * host->conns and creates cfg.contexts requests of host. Receives are not
 * posted yet: see cbd_listener_start. nng errors are logged here with
 * their URL. On failure, cbd_listener_close undoes what was done.
 */
CB_NODISCARD cb_status cbd_listener_open(
    cbd_listener *ls, const cbd_config *cfg, cbd_req_host *host);

/*
 * cbd_listener_listen starts a listener of sock on url; an IPC socket file
 * gets ipc_mode, a tls+tcp:// listener the TLS config tls (the listener
 * takes its own reference). The socket owns the listener (nng_close
 * closes it). nng errors are logged here with their URL and come back as
 * UNAVAILABLE. Main thread, at start. Also used for the feed's pub0
 * socket.
 */
CB_NODISCARD cb_status cbd_listener_listen(nng_socket sock, const char *url,
    int ipc_mode, nng_tls_config *tls, nng_listener *l);

/*
 * cbd_listener_tls_config builds the server side of TLS from cfg's tls_*
 * settings into *out (the caller frees it with nng_tls_config_free): it
 * reads and parses the certificate, the key and the client CAs. On
 * failure it returns -1 with the setting at fault and why in why. Also
 * what -t and the start check a configuration with.
 */
int cbd_listener_tls_config(
    const cbd_config *cfg, nng_tls_config **out, char *why, size_t cap);

/*
 * cbd_listener_tls_check adds an error to errs, and returns -1, when cfg
 * has a TLS listener and cbd_listener_tls_config cannot build its config:
 * what -t and the start say about TLS files before anything opens.
 */
int cbd_listener_tls_check(const cbd_config *cfg, cbd_errors *errs);

/* cbd_listener_start posts every context's first receive. */
void cbd_listener_start(cbd_listener *ls);

/* The least max_connection_requests = 0 (auto) gives a connection. */
#define CBD_CONN_MIN_AUTO 64

/* cbd_listener_conn_limit is the requests one connection may have in
 * flight: max_connection_requests, or for 0 three quarters of contexts
 * (at least CBD_CONN_MIN_AUTO). Over it, a request is refused with
 * RESOURCE_EXHAUSTED. */
uint32_t cbd_listener_conn_limit(const cbd_config *cfg);

/* cbd_listener_close closes the socket and frees the contexts (waiting
 * for their callbacks), the bounds and the TLS config. Main thread, after
 * the outbox stopped. */
void cbd_listener_close(cbd_listener *ls);

#endif /* CBD_LISTENER_H */

/* SPDX-License-Identifier: MIT */
/* The nng side: the rep0 socket, its listeners and its contexts. */
#include "listener.h"

#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "log.h"
#include "request.h"
#include "server.h"

cb_status
cbd_listener_open(cbd_server *srv)
{
	const cbd_config *cfg = &srv->cfg;
	int               rv;

	if ((rv = nng_rep0_open(&srv->sock)) != 0) {
		cbd_log_error(
		    "nng: cannot open a rep0 socket: %s", nng_strerror(rv));
		return CB_INTERNAL;
	}
	/*
	 * nng drops a message over RECVMAXSZ by closing the connection, and
	 * the caller hears nothing. So nng's limit is twice ours: a request
	 * between the two gets a RESOURCE_EXHAUSTED reply, and only a
	 * grossly oversized one costs the sender its connection.
	 */
	rv = nng_socket_set_size(
	    srv->sock, NNG_OPT_RECVMAXSZ, cfg->max_message_size * 2);
	if (rv != 0) {
		cbd_log_error(
		    "nng: cannot set the size limit: %s", nng_strerror(rv));
		return CB_INTERNAL;
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		const char   *url = cfg->listen[i];
		nng_listener *l   = &srv->listeners[i];

		if ((rv = nng_listener_create(l, srv->sock, url)) != 0) {
			cbd_log_error("listen %s: %s", url, nng_strerror(rv));
			return CB_UNAVAILABLE;
		}
		srv->n_listeners++;
		if (strncmp(url, "ipc://", 6) == 0 &&
		    (rv = nng_listener_set_int(
		         *l, NNG_OPT_IPC_PERMISSIONS, cfg->ipc_mode)) != 0) {
			cbd_log_error("listen %s: cannot set mode %o: %s", url,
			    (unsigned) cfg->ipc_mode, nng_strerror(rv));
			return CB_UNAVAILABLE;
		}
		if ((rv = nng_listener_start(*l, 0)) != 0) {
			cbd_log_error("listen %s: %s", url, nng_strerror(rv));
			return CB_UNAVAILABLE;
		}
		cbd_log_info("listening on %s", url);
	}
	srv->reqs = calloc(cfg->contexts, sizeof(*srv->reqs));
	if (srv->reqs == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	for (uint32_t i = 0; i < cfg->contexts; i++) {
		if (cbd_req_alloc(&srv->reqs[i], srv, srv->sock, i) != CB_OK) {
			cbd_log_error("nng: cannot create context %u", i);
			return CB_RESOURCE_EXHAUSTED;
		}
		srv->n_reqs++;
	}
	return CB_OK;
}

void
cbd_listener_start(cbd_server *srv)
{
	for (uint32_t i = 0; i < srv->n_reqs; i++) {
		cbd_req_start(srv->reqs[i]);
	}
}

void
cbd_listener_close(cbd_server *srv)
{
	/* Closing the socket closes its listeners and connections. */
	if (srv->sock.id != 0) {
		nng_close(srv->sock);
	}
	for (uint32_t i = 0; i < srv->n_reqs; i++) {
		cbd_req_free(srv->reqs[i]);
	}
	free(srv->reqs);
	srv->reqs   = NULL;
	srv->n_reqs = 0;
}

/* SPDX-License-Identifier: MIT */
/* The nng side: the rep0 socket, its listeners and its contexts. */
#include "listener.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include "conns.h"
#include "log.h"
#include "pem.h"
#include "request.h"

int
cbd_listener_tls_config(
    const cbd_config *cfg, nng_tls_config **out, char *why, size_t cap)
{
	static const nng_tls_auth_mode modes[] = {
		[CBD_TLS_AUTH_NONE]     = NNG_TLS_AUTH_MODE_NONE,
		[CBD_TLS_AUTH_REQUIRED] = NNG_TLS_AUTH_MODE_REQUIRED,
	};
	const char     *pass = cfg->tls_key_password;
	nng_tls_config *tls;
	char           *cert = NULL;
	char           *key  = NULL;
	int             rv;

	if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_SERVER)) != 0) {
		snprintf(why, cap, "TLS: %s", nng_strerror(rv));
		return -1;
	}
	rv = -1;
	if (cbc_pem_read(cfg->tls_cert, &cert) != 0) {
		snprintf(why, cap, "tls_cert: cannot read %s: %s",
		    cfg->tls_cert, strerror(errno));
	} else if (cbc_pem_read(cfg->tls_key, &key) != 0) {
		snprintf(why, cap, "tls_key: cannot read %s: %s", cfg->tls_key,
		    strerror(errno));
	} else if ((rv = nng_tls_config_own_cert(
	                tls, cert, key, pass[0] != '\0' ? pass : NULL)) != 0) {
		snprintf(why, cap,
		    "tls_cert %s with tls_key %s: %s (not a PEM certificate "
		    "and its key, or the wrong tls_key_password)",
		    cfg->tls_cert, cfg->tls_key, nng_strerror(rv));
	} else if (cfg->tls_ca[0] != '\0' &&
	    (rv = nng_tls_config_ca_file(tls, cfg->tls_ca)) != 0) {
		snprintf(
		    why, cap, "tls_ca %s: %s", cfg->tls_ca, nng_strerror(rv));
	} else if ((rv = nng_tls_config_auth_mode(
	                tls, modes[cfg->tls_client_auth])) != 0) {
		snprintf(why, cap, "tls_client_auth: %s", nng_strerror(rv));
	}
	cbc_pem_free(key);
	cbc_pem_free(cert);
	if (rv != 0) {
		nng_tls_config_free(tls);
		return -1;
	}
	*out = tls;
	return 0;
}

int
cbd_listener_tls_check(const cbd_config *cfg, cbd_errors *errs)
{
	nng_tls_config *tls;
	char            why[512];

	if (cbd_config_tls_url(cfg) == NULL) {
		return 0;
	}
	if (cbd_listener_tls_config(cfg, &tls, why, sizeof(why)) != 0) {
		cbd_errors_add(errs, cfg->path, 0, "%s", why);
		return -1;
	}
	nng_tls_config_free(tls);
	return 0;
}

cb_status
cbd_listener_listen(nng_socket sock, const char *url, int ipc_mode,
    nng_tls_config *tls, nng_listener *l)
{
	int rv;

	if ((rv = nng_listener_create(l, sock, url)) != 0) {
		cbd_log_error("listen %s: %s", url, nng_strerror(rv));
		return CB_UNAVAILABLE;
	}
	if (strncmp(url, "tls+tcp://", 10) == 0 &&
	    (rv = nng_listener_set_ptr(*l, NNG_OPT_TLS_CONFIG, tls)) != 0) {
		cbd_log_error("listen %s: TLS: %s", url, nng_strerror(rv));
		return CB_UNAVAILABLE;
	}
	if (strncmp(url, "ipc://", 6) == 0 &&
	    (rv = nng_listener_set_int(
	         *l, NNG_OPT_IPC_PERMISSIONS, ipc_mode)) != 0) {
		cbd_log_error("listen %s: cannot set mode %o: %s", url,
		    (unsigned) ipc_mode, nng_strerror(rv));
		return CB_UNAVAILABLE;
	}
	if ((rv = nng_listener_start(*l, 0)) != 0) {
		cbd_log_error("listen %s: %s", url, nng_strerror(rv));
		return CB_UNAVAILABLE;
	}
	cbd_log_info("listening on %s", url);
	return CB_OK;
}

cb_status
cbd_listener_open(cbd_listener *ls, const cbd_config *cfg, cbd_req_host *host)
{
	int rv;

	memset(ls, 0, sizeof(*ls));
	if ((rv = nng_rep0_open(&ls->sock)) != 0) {
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
	    ls->sock, NNG_OPT_RECVMAXSZ, cfg->max_message_size * 2);
	if (rv != 0) {
		cbd_log_error(
		    "nng: cannot set the size limit: %s", nng_strerror(rv));
		return CB_INTERNAL;
	}
	/* One TLS config for every tls+tcp:// listener, the feed's too. */
	if (cbd_config_tls_url(cfg) != NULL) {
		char why[512];
		if (cbd_listener_tls_config(cfg, &ls->tls, why, sizeof(why)) !=
		    0) {
			cbd_log_error("TLS: %s", why);
			return CB_UNAVAILABLE;
		}
	}
	/* Before the listeners: it counts their connections. */
	if (cbd_conns_alloc(&ls->conns, cfg->contexts,
	        cbd_listener_conn_limit(cfg),
	        cfg->conn_reply_bytes) != CB_OK ||
	    cbd_conns_watch(ls->conns, ls->sock, cfg->max_connections) !=
	        CB_OK) {
		return CB_RESOURCE_EXHAUSTED;
	}
	host->conns = ls->conns;
	for (size_t i = 0; i < cfg->n_listen; i++) {
		cb_status st = cbd_listener_listen(ls->sock, cfg->listen[i],
		    cfg->ipc_mode, ls->tls, &ls->listeners[i]);
		if (st != CB_OK) {
			return st;
		}
		ls->n_listeners++;
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
	ls->reqs = calloc(cfg->contexts, sizeof(*ls->reqs));
	if (ls->reqs == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	for (uint32_t i = 0; i < cfg->contexts; i++) {
		if (cbd_req_alloc(&ls->reqs[i], host, ls->sock, i) != CB_OK) {
			cbd_log_error("nng: cannot create context %u", i);
			return CB_RESOURCE_EXHAUSTED;
		}
		ls->n_reqs++;
	}
	return CB_OK;
}

void
cbd_listener_start(cbd_listener *ls)
{
	for (uint32_t i = 0; i < ls->n_reqs; i++) {
		cbd_req_start(ls->reqs[i]);
	}
}

void
cbd_listener_close(cbd_listener *ls)
{
	/* Closing the socket closes its listeners and connections. */
	if (ls->sock.id != 0) {
		nng_close(ls->sock);
		ls->sock.id = 0;
	}
	for (uint32_t i = 0; i < ls->n_reqs; i++) {
		cbd_req_free(ls->reqs[i]);
	}
	free(ls->reqs);
	ls->reqs   = NULL;
	ls->n_reqs = 0;
	/* After the contexts: their callbacks count in it. */
	cbd_conns_free(ls->conns);
	ls->conns = NULL;
	if (ls->tls != NULL) {
		nng_tls_config_free(ls->tls); /* the listeners had their own */
		ls->tls = NULL;
	}
}

uint32_t
cbd_listener_conn_limit(const cbd_config *cfg)
{
	uint32_t most = cfg->contexts - cfg->contexts / 4;

	if (cfg->conn_requests != 0) {
		return cfg->conn_requests;
	}
	/*
	 * Three quarters of the contexts, never below what one client
	 * commonly pipelines (benchmarks run 64 callers on one socket). Not
	 * tighter: a reply counts until nng's send callback ran, which can
	 * be after the client read it and sent its next request, so a client
	 * that keeps exactly N in flight is briefly seen with more. At half
	 * the contexts (64 of 128) the benchmark's 64 callers were refused
	 * a few times a run.
	 */
	return most > CBD_CONN_MIN_AUTO ? most : CBD_CONN_MIN_AUTO;
}

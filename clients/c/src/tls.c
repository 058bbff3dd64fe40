/* SPDX-License-Identifier: MIT */
/* Dialing: plain, or the client side of TLS for tls+tcp:// URLs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "client.h"
#include "pem.h"

/* or_env returns v, or when it is NULL or empty the variable name; NULL
 * when that is unset or empty too. */
static const char *
or_env(const char *v, const char *name)
{
	if (v == NULL || *v == '\0') {
		v = getenv(name);
	}
	return v != NULL && *v != '\0' ? v : NULL;
}

/* url_host copies the host of "tls+tcp://HOST:PORT" (brackets of an IPv6
 * address removed) into buf; -1 when there is none or it does not fit. */
static int
url_host(const char *url, char *buf, size_t cap)
{
	const char *h = strstr(url, "://");
	const char *end;
	size_t      len;

	if (h == NULL) {
		return -1;
	}
	h += 3;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = strrchr(h, ':');
	}
	if (end == NULL || end == h || (len = (size_t) (end - h)) >= cap) {
		return -1;
	}
	memcpy(buf, h, len);
	buf[len] = '\0';
	return 0;
}

/* tls_config builds the client side of TLS for url from t. */
static cb_status
tls_config(nng_tls_config **out, const char *url, const cb_tls_opts *t)
{
	nng_tls_config *cfg;
	char            host[256];
	char           *cert = NULL;
	char           *key  = NULL;
	cb_status       st   = CB_OK;
	int             rv;

	/* A broker whose certificate is not checked could be anyone. */
	if (t->ca_file == NULL || t->ca_file[0] == '\0') {
		return CB_INVALID_ARGUMENT;
	}
	if (t->server_name == NULL && url_host(url, host, sizeof(host)) != 0) {
		return CB_INVALID_ARGUMENT;
	}
	/* A certificate needs its key, and a key its certificate. */
	if ((t->cert_file == NULL) != (t->key_file == NULL)) {
		return CB_INVALID_ARGUMENT;
	}
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0) {
		return cbc_dial_status(rv);
	}
	if (nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED) != 0 ||
	    nng_tls_config_ca_file(cfg, t->ca_file) != 0 ||
	    nng_tls_config_server_name(
	        cfg, t->server_name != NULL ? t->server_name : host) != 0) {
		st = CB_INVALID_ARGUMENT;
	} else if (t->cert_file != NULL) {
		if (cbc_pem_read(t->cert_file, &cert) != 0 ||
		    cbc_pem_read(t->key_file, &key) != 0 ||
		    nng_tls_config_own_cert(cfg, cert, key,
		        t->key_password != NULL && t->key_password[0] != '\0'
		            ? t->key_password
		            : NULL) != 0) {
			st = CB_INVALID_ARGUMENT;
		}
	}
	cbc_pem_free(key);
	cbc_pem_free(cert);
	if (st != CB_OK) {
		nng_tls_config_free(cfg);
		return st;
	}
	*out = cfg;
	return CB_OK;
}

cb_status
cbc_dial(nng_socket sock, const char *url, const cb_tls_opts *tls)
{
	const cb_tls_opts none = { 0 };
	nng_tls_config   *cfg  = NULL;
	nng_dialer        d;
	cb_tls_opts       t;
	cb_status         st;
	int               rv;

	if (strncmp(url, "tls+tcp://", 10) != 0) {
		rv = nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK);
		return rv == 0 ? CB_OK : cbc_dial_status(rv);
	}
	/* Each setting not given comes from its variable, as in the
	 * Python and TypeScript clients. */
	if (tls == NULL) {
		tls = &none;
	}
	t = (cb_tls_opts) {
		.ca_file   = or_env(tls->ca_file, "CACHEBROKER_TLS_CA"),
		.cert_file = or_env(tls->cert_file, "CACHEBROKER_TLS_CERT"),
		.key_file  = or_env(tls->key_file, "CACHEBROKER_TLS_KEY"),
		.key_password =
		    or_env(tls->key_password, "CACHEBROKER_TLS_KEY_PASSWORD"),
		.server_name =
		    or_env(tls->server_name, "CACHEBROKER_TLS_SERVER_NAME"),
	};
	if ((st = tls_config(&cfg, url, &t)) != CB_OK) {
		return st;
	}
	if ((rv = nng_dialer_create(&d, sock, url)) != 0) {
		nng_tls_config_free(cfg);
		return cbc_dial_status(rv);
	}
	rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg); /* the dialer holds its own reference */
	/* Non-blocking, as for the other transports. */
	if (rv != 0 || (rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		(void) nng_dialer_close(d);
		return cbc_dial_status(rv);
	}
	return CB_OK;
}

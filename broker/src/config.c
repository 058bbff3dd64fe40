/* SPDX-License-Identifier: MIT */
/* The configuration: its keys, their values and defaults, the checks of
 * a whole file, and lookups. Reading is config_read.c, reload pinning
 * config_pin.c. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_int.h"
#include "log.h"
#include "str.h"

const config_key cbd_config_keys[CBD_CONFIG_N_KEYS] = {
	{ "broker", "listen", K_LISTEN, 0, 0, 0 },
	{ "broker", "ipc_mode", K_MODE, OFF(ipc_mode), 0, 0777 },
	{ "broker", "feed", K_URL, OFF(feed), 0, 0 },
	{ "broker", "http", K_HTTP, OFF(http), 0, 0 },
	{ "broker", "tls_cert", K_STR, OFF(tls_cert), 0, 0 },
	{ "broker", "tls_key", K_STR, OFF(tls_key), 0, 0 },
	{ "broker", "tls_key_password", K_STR, OFF(tls_key_password), 0, 0 },
	{ "broker", "tls_ca", K_STR, OFF(tls_ca), 0, 0 },
	{ "broker", "tls_client_auth", K_TLSAUTH, OFF(tls_client_auth), 0, 0 },
	{ "broker", "contexts", K_UINT32, OFF(contexts), 1, 65536 },
	{ "broker", "max_connections", K_UINT32, OFF(max_connections), 0,
	    10000000 },
	{ "broker", "max_connection_requests", K_UINT32, OFF(conn_requests), 0,
	    65536 },
	{ "broker", "max_connection_reply_bytes", K_SIZE,
	    OFF(conn_reply_bytes), 0, (uint64_t) 1 << 40 },
	{ "broker", "max_message_size", K_SIZE, OFF(max_message_size), 1024,
	    256u << 20 },
	{ "broker", "max_key_size", K_SIZE, OFF(max_key_size), 1, 65536 },
	{ "broker", "max_value_size", K_SIZE, OFF(max_value_size), 1,
	    256u << 20 },
	{ "broker", "max_batch_keys", K_UINT32, OFF(max_batch_keys), 1,
	    1000000 },
	{ "broker", "default_deadline", K_DURATION, OFF(default_deadline_ms),
	    1, 3600000 },
	{ "broker", "max_deadline", K_DURATION, OFF(max_deadline_ms), 1,
	    3600000 },
	{ "broker", "dedupe_window", K_DURATION, OFF(dedupe_window_ms), 0,
	    86400000 },
	{ "broker", "dedupe_entries", K_UINT32, OFF(dedupe_entries), 0,
	    10000000 },
	{ "broker", "drain_timeout", K_DURATION, OFF(drain_timeout_ms), 0,
	    3600000 },
	{ "broker", "log_level", K_LOGLEVEL, OFF(log_level), 0, 0 },
	{ "broker", "l1_size", K_SIZE, OFF(l1_size), 0, (uint64_t) 1 << 40 },
	{ "broker", "l1_max_ttl", K_DURATION, OFF(l1_max_ttl_ms), 1,
	    86400000 },
	{ "broker", "l1_tracking", K_TRACKING, OFF(l1_tracking), 0, 0 },
	{ "auth", "max_token_lifetime", K_DURATION,
	    OFF(auth.max_token_lifetime_ms), 1000, 366 * 86400000ull },
	{ "auth", "session_ttl", K_DURATION, OFF(auth.session_ttl_ms), 1000,
	    366 * 86400000ull },
	{ "auth", "rate_limit_window", K_DURATION,
	    OFF(auth.rate_limit_window_ms), 1, 366 * 86400000ull },
	{ "auth", "revocation_when_down", K_FAILOPEN,
	    OFF(auth.revocation_fail_open), 0, 0 },
	{ "auth", "rate_limit_when_down", K_FAILOPEN,
	    OFF(auth.rate_limit_fail_open), 0, 0 },
	{ "redis", "host", K_STR, OFF(redis.host), 0, 0 },
	{ "redis", "port", K_INT, OFF(redis.port), 1, 65535 },
	{ "redis", "password", K_STR, OFF(redis.password), 0, 0 },
	{ "redis", "db", K_INT, OFF(redis.db), 0, 1000000 },
	{ "redis", "connections", K_UINT32, OFF(redis.connections), 1, 64 },
	{ "redis", "connect_timeout", K_DURATION,
	    OFF(redis.connect_timeout_ms), 1, 600000 },
	{ "redis", "command_timeout", K_DURATION,
	    OFF(redis.command_timeout_ms), 1, 600000 },
	{ "redis", "reconnect_min", K_DURATION, OFF(redis.reconnect_min_ms), 1,
	    600000 },
	{ "redis", "reconnect_max", K_DURATION, OFF(redis.reconnect_max_ms), 1,
	    3600000 },
	{ "redis", "key_prefix", K_STR, OFF(redis.key_prefix), 0, 0 },
	{ "redis", "scan_count", K_UINT32, OFF(redis.scan_count), 1, 100000 },
	{ "redis", "journal_size", K_UINT32, OFF(redis.journal_size), 1,
	    100000000 },
	{ "database", "conninfo", K_STR, OFF(db.conninfo), 0, 0 },
	{ "database", "connections", K_UINT32, OFF(db.connections), 1, 64 },
	{ "database", "connect_timeout", K_DURATION,
	    OFF(db.connect_timeout_ms), 1, 600000 },
	{ "database", "statement_timeout", K_DURATION,
	    OFF(db.statement_timeout_ms), 1, 3600000 },
	{ "database", "notify_channel", K_STR, OFF(db.notify_channel), 0, 0 },
	{ "policy", "time_zone", K_STR, OFF(time_zone), 0, 0 },
	{ "policy", "max_ttl", K_DURATION, OFF(max_ttl_ms), 1000,
	    CBD_MAX_TTL_CEILING_MS },
};

static int
parse_number(const char *s, int base, unsigned long long *out)
{
	char              *end;
	unsigned long long v;

	if (!isdigit((unsigned char) s[0])) {
		return -1;
	}
	errno = 0;
	v     = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0') {
		return -1;
	}
	*out = v;
	return 0;
}

/* check_listen_url accepts the transports the broker serves. */
static const char *
check_listen_url(const char *url)
{
	if (strncmp(url, "ipc://", 6) == 0) {
		return url[6] == '\0' ? "ipc:// URL has no path" : NULL;
	}
	if (strncmp(url, "tcp://", 6) == 0) {
		return strchr(url + 6, ':') == NULL
		    ? "tcp:// URL needs HOST:PORT"
		    : NULL;
	}
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		return strchr(url + 10, ':') == NULL
		    ? "tls+tcp:// URL needs HOST:PORT"
		    : NULL;
	}
	return "listener URL must start with ipc://, tcp:// or tls+tcp://";
}

/* is_tls says whether url is a TLS listener's. */
static int
is_tls(const char *url)
{
	return strncmp(url, "tls+tcp://", 10) == 0;
}

const char *
cbd_config_tls_url(const cbd_config *cfg)
{
	const char *url = is_tls(cfg->feed) ? cfg->feed : NULL;

	for (size_t i = 0; url == NULL && i < cfg->n_listen; i++) {
		url = is_tls(cfg->listen[i]) ? cfg->listen[i] : NULL;
	}
	return url;
}

/*
 * check_tls: a tls+tcp:// listener (the feed's included) needs tls_cert
 * and tls_key; asking clients for certificates needs tls_ca to check them
 * against. (The files themselves: cbd_listener_tls_check.)
 */
static void
check_tls(const cbd_config *cfg, const char *f, cbd_errors *errs)
{
	const char *url = cbd_config_tls_url(cfg);

	if (url == NULL) {
		return;
	}
	if (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0') {
		cbd_errors_add(errs, f, 0,
		    "%s needs tls_cert and tls_key in [broker]", url);
	}
	if (cfg->tls_client_auth == CBD_TLS_AUTH_REQUIRED &&
	    cfg->tls_ca[0] == '\0') {
		cbd_errors_add(errs, f, 0,
		    "tls_client_auth = required needs tls_ca, the CAs that "
		    "client certificates are checked against");
	}
}

/* check_http_url accepts http://HOST:PORT (the HTTP endpoints' own paths
 * are fixed: a path in the URL would only mislead). */
static const char *
check_http_url(const char *url)
{
	const char *hp = url + 7;
	const char *colon;

	if (strncmp(url, "http://", 7) != 0) {
		return "http must be http://HOST:PORT, or empty for none";
	}
	if ((colon = strrchr(hp, ':')) == NULL || colon == hp ||
	    colon[1] == '\0') {
		return "http:// URL needs HOST:PORT";
	}
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return "http:// URL needs HOST:PORT, without a path";
		}
	}
	return NULL;
}

static int
add_listener(cbd_config *cfg, const char *url, const char **why)
{
	char *copy;

	if ((*why = check_listen_url(url)) != NULL) {
		return -1;
	}
	if (cfg->n_listen >= CBD_MAX_LISTENERS) {
		*why = "too many listeners (at most 16)";
		return -1;
	}
	if ((copy = strdup(url)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	cfg->listen[cfg->n_listen++] = copy;
	return 0;
}

const char *
cbd_config_set_value(cbd_config *cfg, const config_key *k, const char *value)
{
	char              *base = (char *) cfg + k->off;
	unsigned long long n;
	uint64_t           ms;
	size_t             sz;
	int                lvl;
	const char        *why;

	switch (k->type) {
	case K_STR:
		return cbd_strset((char **) (void *) base, value) == 0
		    ? NULL
		    : "out of memory";
	case K_LISTEN:
		return add_listener(cfg, value, &why) == 0 ? NULL : why;
	case K_URL:
	case K_HTTP:
		if (*value != '\0' &&
		    (why = k->type == K_URL ? check_listen_url(value)
		                            : check_http_url(value)) != NULL) {
			return why;
		}
		return cbd_strset((char **) (void *) base, value) == 0
		    ? NULL
		    : "out of memory";
	case K_UINT32:
	case K_INT:
		if (parse_number(value, 10, &n) != 0) {
			return "not a whole number";
		}
		if (n < k->min || n > k->max) {
			return "out of range";
		}
		if (k->type == K_UINT32) {
			*(uint32_t *) (void *) base = (uint32_t) n;
		} else {
			*(int *) (void *) base = (int) n;
		}
		return NULL;
	case K_MODE:
		if (parse_number(value, 8, &n) != 0 || n > k->max) {
			return "not an octal file mode like 0660";
		}
		*(int *) (void *) base = (int) n;
		return NULL;
	case K_DURATION:
		if (cbd_parse_duration_ms(value, &ms) != 0) {
			return "not a duration (a number with a unit: ms, s, "
			       "m, h or d, like 30m)";
		}
		if (ms < k->min || ms > k->max) {
			return "duration out of range";
		}
		*(uint64_t *) (void *) base = ms;
		return NULL;
	case K_SIZE:
		if (cbd_parse_size(value, &sz) != 0) {
			return "not a size (bytes, or a number with k, m or "
			       "g)";
		}
		if (sz < k->min || sz > k->max) {
			return "size out of range";
		}
		*(size_t *) (void *) base = sz;
		return NULL;
	case K_LOGLEVEL:
		if ((lvl = cbd_log_level_parse(value)) < 0) {
			return "not a log level (debug, info, warning, error)";
		}
		*(int *) (void *) base = lvl;
		return NULL;
	case K_FAILOPEN:
		if (strcmp(value, "fail-open") != 0 &&
		    strcmp(value, "fail-closed") != 0) {
			return "not fail-open or fail-closed";
		}
		*(int *) (void *) base = strcmp(value, "fail-open") == 0;
		return NULL;
	case K_TRACKING:
		if (strcmp(value, "bcast") == 0) {
			*(int *) (void *) base = CBD_L1_TRACKING_BCAST;
		} else if (strcmp(value, "default") == 0) {
			*(int *) (void *) base = CBD_L1_TRACKING_DEFAULT;
		} else {
			return "not bcast or default";
		}
		return NULL;
	case K_TLSAUTH:
		if (strcmp(value, "none") == 0) {
			*(int *) (void *) base = CBD_TLS_AUTH_NONE;
		} else if (strcmp(value, "required") == 0) {
			*(int *) (void *) base = CBD_TLS_AUTH_REQUIRED;
		} else if (strcmp(value, "optional") == 0) {
			/* nng's optional mode lets a certificate that fails
			 * the check through: it would only look safe. */
			return "optional is not offered: a certificate that "
			       "fails the check would still be let in; use "
			       "none or required";
		} else {
			return "not none or required";
		}
		return NULL;
	}
	return "internal: unknown key type";
}

int
cbd_config_defaults(cbd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ipc_mode                   = 0660;
	cfg->contexts                   = 256;
	cfg->max_message_size           = 1u << 20;
	cfg->max_connections            = 10000;
	cfg->conn_reply_bytes           = 64u << 20;
	cfg->max_key_size               = 512;
	cfg->max_value_size             = 512u << 10;
	cfg->max_batch_keys             = 1000;
	cfg->default_deadline_ms        = 5000;
	cfg->max_deadline_ms            = 60000;
	cfg->dedupe_window_ms           = 60000;
	cfg->dedupe_entries             = 100000;
	cfg->l1_max_ttl_ms              = 30000;
	cfg->drain_timeout_ms           = 10000;
	cfg->log_level                  = CBD_LOG_INFO;
	cfg->redis.port                 = 6379;
	cfg->redis.db                   = 0;
	cfg->redis.connections          = 2;
	cfg->redis.connect_timeout_ms   = 1000;
	cfg->redis.command_timeout_ms   = 2000;
	cfg->redis.reconnect_min_ms     = 100;
	cfg->redis.reconnect_max_ms     = 5000;
	cfg->redis.scan_count           = 1000;
	cfg->redis.journal_size         = 100000;
	cfg->max_ttl_ms                 = CBD_DEFAULT_MAX_TTL_MS;
	cfg->auth.max_token_lifetime_ms = 86400000;
	cfg->auth.session_ttl_ms        = 86400000;
	cfg->auth.rate_limit_window_ms  = (uint64_t) 15 * 60000;
	cfg->auth.revocation_fail_open  = 0;
	cfg->auth.rate_limit_fail_open  = 1;
	cfg->db.connections             = 4;
	cfg->db.connect_timeout_ms      = 2000;
	cfg->db.statement_timeout_ms    = 2000;
	if (cbd_strset(&cfg->redis.host, "127.0.0.1") != 0 ||
	    cbd_strset(&cfg->db.conninfo, "") != 0 ||
	    cbd_strset(&cfg->db.notify_channel, "") != 0 ||
	    cbd_strset(&cfg->feed, "") != 0 ||
	    cbd_strset(&cfg->http, CBD_DEFAULT_HTTP) != 0 ||
	    cbd_strset(&cfg->tls_cert, "") != 0 ||
	    cbd_strset(&cfg->tls_key, "") != 0 ||
	    cbd_strset(&cfg->tls_key_password, "") != 0 ||
	    cbd_strset(&cfg->tls_ca, "") != 0 ||
	    cbd_strset(&cfg->time_zone, "UTC") != 0 ||
	    cbd_strset(&cfg->redis.password, "") != 0 ||
	    cbd_strset(&cfg->redis.key_prefix, "") != 0) {
		return -1;
	}
	return 0;
}

void
cbd_config_env(cbd_config *cfg, cbd_errors *errs)
{
	const char        *v;
	unsigned long long port;

	if ((v = getenv("REDIS_HOST")) != NULL && *v != '\0') {
		if (cbd_strset(&cfg->redis.host, v) != 0) {
			cbd_errors_add(errs, "REDIS_HOST", 0, "out of memory");
		}
	}
	if ((v = getenv("REDIS_PORT")) != NULL && *v != '\0') {
		if (parse_number(v, 10, &port) != 0 || port < 1 ||
		    port > 65535) {
			cbd_errors_add(errs, "REDIS_PORT", 0,
			    "'%s' is not a TCP port", v);
		} else {
			cfg->redis.port = (int) port;
		}
	}
	if ((v = getenv("REDIS_PASSWORD")) != NULL) {
		if (cbd_strset(&cfg->redis.password, v) != 0) {
			cbd_errors_add(
			    errs, "REDIS_PASSWORD", 0, "out of memory");
		}
	}
}

/* warm_check resolves a strategy's resource and checks it is whole. */
static void
warm_check(cbd_config *cfg, cbd_warm *w, const char *f, cbd_errors *errs)
{
	const cbd_resource *r;

	if (w->resource == NULL || w->sql == NULL) {
		cbd_errors_add(errs, f, w->line,
		    "warm strategy '%s' needs resource and sql", w->name);
		return;
	}
	if ((r = cbd_config_resource(cfg, w->resource)) == NULL) {
		cbd_errors_add(errs, f, w->resource_line,
		    "resource '%s' is not declared", w->resource);
		return;
	}
	w->res = (size_t) (r - cfg->resources);
}

/* check_channel: a LISTEN channel is a plain lower-case identifier (the
 * triggers' pg_notify must name it the same way) and needs a database. */
static void
check_channel(cbd_config *cfg, cbd_errors *errs)
{
	const char *c = cfg->db.notify_channel;
	size_t      n = strlen(c);

	if (n == 0) {
		return;
	}
	if (!cfg->db.enabled || n > 63 ||
	    strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789_") != n ||
	    isdigit((unsigned char) c[0])) {
		cbd_errors_add(errs, cfg->path, 0,
		    "notify_channel '%s' must be a lower-case identifier "
		    "(a-z, 0-9, _; at most 63) in a [database] section",
		    c);
	}
}

/* config_check validates what single keys cannot: relations and chars. */
void
cbd_config_check_whole(cbd_config *cfg, cbd_errors *errs)
{
	const char *f = cfg->path;
	char        zone[4096];

	for (size_t i = 0; i < cfg->n_resources; i++) {
		cbd_resource_check(&cfg->resources[i], f, errs);
	}
	for (size_t i = 0; i < cfg->n_events; i++) {
		cbd_event_check(&cfg->events[i], f, errs);
	}
	for (size_t i = 0; i < cfg->n_warms; i++) {
		warm_check(cfg, &cfg->warms[i], f, errs);
	}
	check_channel(cfg, errs);
	if (cfg->n_resources > 0 && !cfg->db.enabled) {
		cbd_errors_add(errs, f, cfg->resources[0].line,
		    "resources need a [database] section");
	}
	/* The zone must exist: a typo would silently mean UTC. */
	snprintf(zone, sizeof(zone), "/usr/share/zoneinfo/%s", cfg->time_zone);
	if (strcmp(cfg->time_zone, "UTC") != 0 &&
	    (strstr(cfg->time_zone, "..") != NULL ||
	        access(zone, R_OK) != 0)) {
		cbd_errors_add(errs, f, 0,
		    "time_zone '%s' is not a known zone", cfg->time_zone);
	}

	if (cfg->n_listen == 0) {
		const char *why;
		if (add_listener(cfg, CB_DEFAULT_URL, &why) != 0) {
			cbd_errors_add(errs, f, 0, "%s", why);
		}
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		if (strcmp(cfg->feed, cfg->listen[i]) == 0) {
			cbd_errors_add(errs, f, 0,
			    "feed %s is also a listener", cfg->feed);
		}
	}
	if (cfg->default_deadline_ms > cfg->max_deadline_ms) {
		cbd_errors_add(errs, f, 0,
		    "default_deadline is longer than max_deadline");
	}
	if (cfg->redis.reconnect_min_ms > cfg->redis.reconnect_max_ms) {
		cbd_errors_add(
		    errs, f, 0, "reconnect_min is longer than reconnect_max");
	}
	if (cfg->max_value_size + cfg->max_key_size > cfg->max_message_size) {
		cbd_errors_add(errs, f, 0,
		    "max_value_size plus max_key_size exceed "
		    "max_message_size");
	}
	if (cfg->redis.host[0] == '\0') {
		cbd_errors_add(errs, f, 0, "redis host is empty");
	}
	/* The prefix is part of every SCAN pattern: it must not be a glob. */
	for (const char *c = cfg->redis.key_prefix; *c != '\0'; c++) {
		if (strchr("*?[]\\", *c) != NULL ||
		    iscntrl((unsigned char) *c) || *c == ' ') {
			cbd_errors_add(errs, f, 0,
			    "key_prefix must not contain glob characters, "
			    "spaces or control characters");
			break;
		}
	}
}

cb_status
cbd_config_check_tls(const cbd_config *cfg, cbd_errors *errs)
{
	int before = errs->count;

	check_tls(cfg, cfg->path, errs);
	return errs->count == before ? CB_OK : CB_INVALID_ARGUMENT;
}

cb_status
cbd_config_set_listeners(
    cbd_config *cfg, char *const *urls, size_t n, cbd_errors *errs)
{
	const char *why;
	size_t      i;

	for (i = 0; i < n; i++) {
		if ((why = check_listen_url(urls[i])) != NULL) {
			cbd_errors_add(errs, "-l", 0, "%s: %s", urls[i], why);
			return CB_INVALID_ARGUMENT;
		}
	}
	for (i = 0; i < cfg->n_listen; i++) {
		free(cfg->listen[i]);
		cfg->listen[i] = NULL;
	}
	cfg->n_listen   = 0;
	cfg->listen_cli = 1;
	for (i = 0; i < n; i++) {
		if (add_listener(cfg, urls[i], &why) != 0) {
			cbd_errors_add(errs, "-l", 0, "%s: %s", urls[i], why);
			return CB_INVALID_ARGUMENT;
		}
	}
	return CB_OK;
}

void
cbd_config_fini(cbd_config *cfg)
{
	if (cfg == NULL) {
		return;
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		free(cfg->listen[i]);
	}
	free(cfg->path);
	free(cfg->feed);
	free(cfg->http);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_key_password);
	free(cfg->tls_ca);
	free(cfg->redis.host);
	free(cfg->redis.password);
	free(cfg->redis.key_prefix);
	free(cfg->db.conninfo);
	free(cfg->time_zone);
	for (size_t i = 0; i < cfg->n_resources; i++) {
		cbd_resource_fini(&cfg->resources[i]);
	}
	free(cfg->resources);
	for (size_t i = 0; i < cfg->n_events; i++) {
		cbd_event_fini(&cfg->events[i]);
	}
	free(cfg->events);
	for (size_t i = 0; i < cfg->n_warms; i++) {
		cbd_warm_fini(&cfg->warms[i]);
	}
	free(cfg->warms);
	for (size_t i = 0; i < cfg->n_namespaces; i++) {
		cbd_nsconf_fini(&cfg->namespaces[i]);
	}
	free(cfg->namespaces);
	free(cfg->db.notify_channel);
	memset(cfg, 0, sizeof(*cfg));
}

const cbd_nsconf *
cbd_config_namespace(const cbd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_namespaces; i++) {
		if (strcmp(cfg->namespaces[i].name, name) == 0) {
			return &cfg->namespaces[i];
		}
	}
	return NULL;
}

uint64_t
cbd_config_l1_ttl_ms(const cbd_config *cfg, const char *ns)
{
	const cbd_nsconf *n = cbd_config_namespace(cfg, ns);

	if (cfg->l1_size == 0 || n == NULL || !n->l1) {
		return 0;
	}
	return n->l1_max_ttl_ms != 0 ? n->l1_max_ttl_ms : cfg->l1_max_ttl_ms;
}

const cbd_resource *
cbd_config_resource(const cbd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_resources; i++) {
		if (strcmp(cfg->resources[i].name, name) == 0) {
			return &cfg->resources[i];
		}
	}
	return NULL;
}

const cbd_event *
cbd_config_event(const cbd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_events; i++) {
		if (strcmp(cfg->events[i].name, name) == 0) {
			return &cfg->events[i];
		}
	}
	return NULL;
}

const cbd_warm *
cbd_config_warm(const cbd_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_warms; i++) {
		if (strcmp(cfg->warms[i].name, name) == 0) {
			return &cfg->warms[i];
		}
	}
	return NULL;
}

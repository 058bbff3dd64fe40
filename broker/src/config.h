/* SPDX-License-Identifier: MIT */
/* The configuration file: INI parsing, validation, defaults. */
#ifndef CBD_CONFIG_H
#define CBD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

#include "errors.h"
#include "rules.h"
#include "units.h"

#define CBD_DEFAULT_CONFIG "/etc/cachebroker/cachebroker.conf"
#define CBD_MAX_LISTENERS 16
#define CBD_DEFAULT_HTTP "http://127.0.0.1:9180"

/* The Redis section. Strings are heap copies owned by the config. */
typedef struct cbd_redis_config {
	char    *host;               /* host name or address */
	int      port;               /* TCP port */
	char    *password;           /* AUTH password, "" for none */
	int      db;                 /* SELECT index */
	uint32_t connections;        /* async connections in the pool */
	uint64_t connect_timeout_ms; /* connect + handshake budget */
	uint64_t command_timeout_ms; /* no reply for this long: discard */
	uint64_t reconnect_min_ms;   /* first backoff delay */
	uint64_t reconnect_max_ms;   /* backoff ceiling */
	char    *key_prefix;         /* prepended to every key */
	uint32_t scan_count;         /* SCAN COUNT and UNLINK batch size */
	uint32_t journal_size;       /* failed invalidations kept for replay */
} cbd_redis_config;

/* The [database] section. */
typedef struct cbd_db_config {
	int      enabled;              /* the section is present */
	char    *conninfo;             /* libpq; PG* variables fill gaps */
	uint32_t connections;          /* loader connections */
	uint64_t connect_timeout_ms;   /* connect + prepare budget */
	uint64_t statement_timeout_ms; /* per loader query */
	char    *notify_channel;       /* LISTEN on it ("": do not) */
} cbd_db_config;

/* The [auth] section: AuthService's lifetimes and Redis-down policies. */
typedef struct cbd_auth_config {
	uint64_t max_token_lifetime_ms; /* how long a watermark is kept */
	uint64_t session_ttl_ms;        /* sessions' default TTL */
	uint64_t rate_limit_window_ms;  /* CheckRateLimit's default window */
	int      revocation_fail_open;  /* Redis down: "not revoked" (1) */
	int      rate_limit_fail_open;  /* Redis down: allowed (1) */
} cbd_auth_config;

/* [broker] tls_client_auth: whether TLS clients show a certificate. */
enum {
	CBD_TLS_AUTH_NONE,     /* not asked for */
	CBD_TLS_AUTH_REQUIRED, /* required, and checked against tls_ca */
};

/* [broker] l1_tracking: how Redis tells the broker what changed. */
enum {
	CBD_L1_TRACKING_BCAST, /* every write under the namespaces' prefixes */
	CBD_L1_TRACKING_DEFAULT, /* the keys the pool's connections read */
};

/* A whole configuration: immutable once loaded. Which settings a reload
 * may change: cbd_config_pin. */
typedef struct cbd_config {
	char            *path;                      /* file it came from */
	char            *listen[CBD_MAX_LISTENERS]; /* listener URLs */
	size_t           n_listen;                  /* how many */
	int              listen_cli;                /* listen came from -l */
	int              ipc_mode;         /* mode of IPC socket files */
	char            *feed;             /* pub0 URL; "": no feed */
	char            *http;             /* /metrics, /readyz; "": none */
	char            *tls_cert;         /* PEM chain for tls+tcp:// */
	char            *tls_key;          /* its PEM private key */
	char            *tls_key_password; /* "": the key is not encrypted */
	char            *tls_ca;           /* PEM CAs of client certificates */
	int              tls_client_auth;  /* CBD_TLS_AUTH_* */
	uint32_t         contexts;         /* nng contexts = max in flight */
	uint32_t         conn_requests;    /* per connection; 0: auto */
	size_t           conn_reply_bytes; /* unread; 0: no limit */
	uint32_t         max_connections;  /* per listener; 0: no limit */
	size_t           max_message_size; /* largest request accepted */
	size_t           max_key_size;     /* largest key in a namespace */
	size_t           max_value_size;   /* largest value stored */
	uint32_t         max_batch_keys;   /* keys or entries per batch */
	uint64_t         default_deadline_ms; /* for deadline_ms == 0 */
	uint64_t         max_deadline_ms;     /* longer deadlines are cut */
	uint64_t         dedupe_window_ms;    /* request_id replay window */
	uint32_t         dedupe_entries;      /* request ids remembered */
	uint64_t         drain_timeout_ms;    /* SIGTERM: wait for in-flight */
	int              log_level;           /* CBD_LOG_* */
	cbd_redis_config redis;               /* [redis] */
	cbd_db_config    db;                  /* [database] */
	cbd_auth_config  auth;                /* [auth] */
	char            *time_zone;           /* [policy]: for by-date TTLs */
	uint64_t         max_ttl_ms; /* [policy]: longest TTL asked or set */
	cbd_event       *events;     /* [event NAME] sections */
	size_t           n_events;
	cbd_resource    *resources; /* [resource NAME] sections */
	size_t           n_resources;
	cbd_warm        *warms; /* [warm NAME] sections */
	size_t           n_warms;
	size_t           l1_size;       /* L1 bytes; 0: no L1 */
	uint64_t         l1_max_ttl_ms; /* an L1 entry's longest life */
	int              l1_tracking;   /* CBD_L1_TRACKING_* */
	cbd_nsconf      *namespaces;    /* [namespace NAME]; kept by the */
	size_t           n_namespaces;  /* settings side (cbd_config_split) */
} cbd_config;

/* cbd_config_event finds an event rule by name; NULL if none. */
const cbd_event *cbd_config_event(const cbd_config *cfg, const char *name);

/* cbd_config_warm finds a warm strategy by name; NULL if none. */
const cbd_warm *cbd_config_warm(const cbd_config *cfg, const char *name);

/* cbd_config_namespace finds a [namespace NAME]; NULL if none. */
const cbd_nsconf *cbd_config_namespace(
    const cbd_config *cfg, const char *name);

/* cbd_config_l1_ttl_ms is how long L1 may keep a key of namespace ns:
 * 0 when L1 is off or ns is not opted in. */
uint64_t cbd_config_l1_ttl_ms(const cbd_config *cfg, const char *ns);

/* cbd_config_resource finds a resource by name; NULL if none. */
const cbd_resource *cbd_config_resource(
    const cbd_config *cfg, const char *name);

/*
 * cbd_config_load parses and validates path, applies REDIS_HOST,
 * REDIS_PORT and REDIS_PASSWORD from the environment, and on success fills
 * *cfg (caller's storage; free with cbd_config_fini). On failure returns
 * INVALID_ARGUMENT (or NOT_FOUND when the file cannot be opened), *cfg is
 * left untouched, and every problem is in errs. Thread: any.
 */
CB_NODISCARD cb_status cbd_config_load(
    cbd_config *cfg, const char *path, cbd_errors *errs);

/* cbd_config_load_string is cbd_config_load on text in memory; name is
 * used in error messages. For tests. */
CB_NODISCARD cb_status cbd_config_load_string(
    cbd_config *cfg, const char *name, const char *text, cbd_errors *errs);

/* cbd_config_tls_url returns a tls+tcp:// URL that cfg listens on (the
 * feed's included), or NULL when there is none. */
const char *cbd_config_tls_url(const cbd_config *cfg);

/* cbd_config_check_tls checks that cfg's TLS listeners have the settings
 * they need, once the listeners are final (after -l; a reload keeps the
 * running ones and their settings). Errors go to errs; INVALID_ARGUMENT
 * if any. */
CB_NODISCARD cb_status cbd_config_check_tls(
    const cbd_config *cfg, cbd_errors *errs);

/* cbd_config_set_listeners replaces the listener list (the -l option).
 * Returns INVALID_ARGUMENT if there are too many or a URL is bad. */
CB_NODISCARD cb_status cbd_config_set_listeners(
    cbd_config *cfg, char *const *urls, size_t n, cbd_errors *errs);

/*
 * cbd_config_pin prepares next, a configuration loaded to replace running
 * (SIGHUP), for a live swap: every setting that cannot change while the
 * broker runs (listeners unless they came from -l, ipc_mode, feed,
 * contexts, max_message_size, the dedupe table, all of [redis], the
 * [database] connection settings) gets its running value back, and each
 * one that differed adds "[section] key: changed; restart to apply" to
 * notes. What the running values make invalid in next goes to errs, as
 * does running out of memory. Thread: any.
 */
void cbd_config_pin(cbd_config *next, const cbd_config *running,
    cbd_errors *notes, cbd_errors *errs);

/*
 * cbd_config_split moves the sections of cfg (resources, events, warm
 * strategies) into *out, a whole configuration with copies of every other
 * setting; cfg keeps its settings and has no sections left. -1 when out of
 * memory (cfg is then unchanged, *out untouched).
 */
int cbd_config_split(cbd_config *cfg, cbd_config *out);

/* cbd_config_fini frees what the config owns. NULL-safe and idempotent. */
void cbd_config_fini(cbd_config *cfg);

#endif /* CBD_CONFIG_H */

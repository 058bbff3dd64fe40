/* SPDX-License-Identifier: MIT */
/* The configuration file: INI parsing, validation, defaults. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "log.h"

/*
 * Debian's libinih reads at most INI_MAX_LINE - 1 characters of a line and
 * treats the rest as a new line, without an error. We feed it through our
 * own reader, which sees whole lines: it reports long lines and syntax
 * errors itself (with their line numbers, which inih would only give for
 * the first error) and hands inih only lines it can parse.
 */
#define CONFIG_MAX_LINE 4096

enum key_type {
	K_STR,      /* char * */
	K_UINT32,   /* uint32_t within [min, max] */
	K_INT,      /* int within [min, max] */
	K_DURATION, /* uint64_t milliseconds within [min, max] */
	K_SIZE,     /* size_t bytes within [min, max] */
	K_MODE,     /* int, octal file mode */
	K_LOGLEVEL, /* int, CBD_LOG_* */
	K_FAILOPEN, /* int: 1 for fail-open, 0 for fail-closed */
	K_LISTEN,   /* appended to cfg->listen */
	K_URL,      /* char *, a listener URL or "" */
	K_HTTP,     /* char *, http://HOST:PORT or "" */
	K_TLSAUTH,  /* int, CBD_TLS_AUTH_* */
};

typedef struct config_key {
	const char   *section; /* [section] */
	const char   *name;    /* key */
	enum key_type type;    /* how the value is parsed */
	size_t        off;     /* where it goes in cbd_config */
	uint64_t      min;     /* bounds for numbers */
	uint64_t      max;
} config_key;

#define OFF(field) offsetof(cbd_config, field)

static const config_key config_keys[] = {
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

/* Sections named "resource NAME" are handled by policy.c. */
#define RESOURCE_SECTION "resource "
#define EVENT_SECTION "event "
#define WARM_SECTION "warm "

#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* Parser state shared by the reader and the handler. */
typedef struct config_parse {
	cbd_config *cfg;
	cbd_errors *errs;
	const char *file;          /* name for messages */
	FILE       *fp;            /* source, or NULL for text */
	const char *text;          /* source when fp is NULL */
	int         line;          /* line being parsed, 1-based */
	bool        bad_section;   /* current section is unknown */
	bool        sql_open;      /* the last key line was a resource's sql */
	bool        continued;     /* this line continues the last value */
	uint8_t     seen[N_KEYS];  /* scalar keys already set */
	int         lines[N_KEYS]; /* where each was set (0: default) */
} config_parse;

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

int
cbd_config_strset(char **slot, const char *value)
{
	char *copy = strdup(value);
	if (copy == NULL) {
		return -1;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

/* set_value parses value for key into cfg; returns an error text or NULL. */
static const char *
set_value(cbd_config *cfg, const config_key *k, const char *value)
{
	char              *base = (char *) cfg + k->off;
	unsigned long long n;
	uint64_t           ms;
	size_t             sz;
	int                lvl;
	const char        *why;

	switch (k->type) {
	case K_STR:
		return cbd_config_strset((char **) (void *) base, value) == 0
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
		return cbd_config_strset((char **) (void *) base, value) == 0
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

static int
config_handler(
    void *user, const char *section, const char *name, const char *value)
{
	config_parse *p = user;
	const char   *why;
	int           known_section = 0;

	if (p->bad_section) {
		return 1; /* reported once, at the section header */
	}
	if (strncmp(section, RESOURCE_SECTION, strlen(RESOURCE_SECTION)) ==
	    0) {
		cbd_resource *r = &p->cfg->resources[p->cfg->n_resources - 1];
		cbd_resource_set(
		    r, name, value, p->continued, p->file, p->line, p->errs);
		return 1;
	}
	if (strncmp(section, EVENT_SECTION, strlen(EVENT_SECTION)) == 0) {
		cbd_event *e = &p->cfg->events[p->cfg->n_events - 1];
		cbd_event_set(e, name, value, p->file, p->line, p->errs);
		return 1;
	}
	if (strncmp(section, WARM_SECTION, strlen(WARM_SECTION)) == 0) {
		cbd_warm *w = &p->cfg->warms[p->cfg->n_warms - 1];
		cbd_warm_set(
		    w, name, value, p->continued, p->file, p->line, p->errs);
		return 1;
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		const config_key *k = &config_keys[i];
		if (strcmp(k->section, section) != 0) {
			continue;
		}
		known_section = 1;
		if (strcmp(k->name, name) != 0) {
			continue;
		}
		if (k->type != K_LISTEN && p->seen[i]) {
			cbd_errors_add(p->errs, p->file, p->line,
			    "'%s' is set twice in [%s]", name, section);
			return 1;
		}
		p->seen[i]  = 1;
		p->lines[i] = p->line;
		if ((why = set_value(p->cfg, k, value)) != NULL) {
			cbd_errors_add(p->errs, p->file, p->line,
			    "%s = '%s': %s", name,
			    k->type == K_STR ? "..." : value, why);
		}
		return 1;
	}
	if (!known_section) {
		cbd_errors_add(p->errs, p->file, p->line,
		    "key '%s' is outside any known section", name);
	} else {
		cbd_errors_add(p->errs, p->file, p->line,
		    "unknown key '%s' in [%s]", name, section);
	}
	return 1;
}

/* read_line gets one whole line (without its newline) into buf; returns
 * its length, or -1 at the end. Lines longer than the buffer are consumed
 * whole and reported by a length past cap. */
static long
read_line(config_parse *p, char *buf, size_t cap)
{
	size_t len = 0;
	int    c;

	if (p->fp == NULL && *p->text == '\0') {
		return -1;
	}
	for (;;) {
		if (p->fp != NULL) {
			c = fgetc(p->fp);
		} else {
			c = *p->text == '\0' ? EOF
			                     : (unsigned char) *p->text++;
		}
		if (c == EOF) {
			if (len == 0 && p->fp != NULL) {
				return -1;
			}
			break;
		}
		if (c == '\n') {
			break;
		}
		if (len + 1 < cap) {
			buf[len] = (char) c;
		}
		len++;
	}
	buf[len + 1 < cap ? len : cap - 1] = '\0';
	return (long) len;
}

/*
 * section_add appends a zeroed element of size bytes to the array *arr of
 * *n (a named section: its name and line are the element's first two
 * fields, char *name then int line). -1 after reporting, if out of memory.
 */
static void *
section_add(
    config_parse *p, void **arr, size_t *n, size_t size, const char *name)
{
	char *grown = realloc(*arr, (*n + 1) * size);
	char *elem;

	if (grown == NULL) {
		cbd_errors_add(p->errs, p->file, p->line, "out of memory");
		return NULL;
	}
	*arr = grown;
	elem = grown + *n * size;
	memset(elem, 0, size);
	if ((*(char **) (void *) elem = strdup(name)) == NULL) {
		cbd_errors_add(p->errs, p->file, p->line, "out of memory");
		return NULL;
	}
	(*n)++;
	return elem;
}

/* event_open starts an [event NAME] section. */
static int
event_open(config_parse *p, const char *name)
{
	cbd_config *cfg = p->cfg;
	cbd_event  *e;

	if (cbd_config_event(cfg, name) != NULL) {
		cbd_errors_add(p->errs, p->file, p->line,
		    "event '%s' is declared twice", name);
		return -1;
	}
	if ((e = section_add(p, (void **) &cfg->events, &cfg->n_events,
	         sizeof(*e), name)) == NULL) {
		return -1;
	}
	e->line = p->line;
	return 0;
}

/* warm_open starts a [warm NAME] section. */
static int
warm_open(config_parse *p, const char *name)
{
	cbd_config *cfg = p->cfg;
	cbd_warm   *w;

	if (cbd_config_warm(cfg, name) != NULL) {
		cbd_errors_add(p->errs, p->file, p->line,
		    "warm strategy '%s' is declared twice", name);
		return -1;
	}
	if ((w = section_add(p, (void **) &cfg->warms, &cfg->n_warms,
	         sizeof(*w), name)) == NULL) {
		return -1;
	}
	w->line        = p->line;
	w->startup     = 1;
	w->concurrency = 2;
	return 0;
}

/* resource_open starts a [resource NAME] section. */
static int
resource_open(config_parse *p, const char *name)
{
	cbd_config   *cfg = p->cfg;
	cbd_resource *grown;
	cbd_resource *r;
	const char   *dot;

	for (size_t i = 0; i < cfg->n_resources; i++) {
		if (strcmp(cfg->resources[i].name, name) == 0) {
			cbd_errors_add(p->errs, p->file, p->line,
			    "resource '%s' is declared twice (first at line "
			    "%d)",
			    name, cfg->resources[i].line);
			return -1;
		}
	}
	grown =
	    realloc(cfg->resources, (cfg->n_resources + 1) * sizeof(*grown));
	if (grown == NULL) {
		cbd_errors_add(p->errs, p->file, p->line, "out of memory");
		return -1;
	}
	cfg->resources = grown;
	r              = &cfg->resources[cfg->n_resources];
	memset(r, 0, sizeof(*r));
	dot     = strchr(name, '.');
	r->line = p->line;
	r->name = strdup(name);
	r->ns   = strndup(name, dot != NULL ? (size_t) (dot - name) : 0);
	r->negative_ttl_ms = 0;
	r->max_value_size  = cfg->max_value_size;
	if (r->name == NULL || r->ns == NULL) {
		cbd_resource_fini(r);
		cbd_errors_add(p->errs, p->file, p->line, "out of memory");
		return -1;
	}
	cfg->n_resources++;
	return 0;
}

static int
known_section(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strcmp(config_keys[i].section, name) == 0) {
			return 1;
		}
	}
	return 0;
}

/*
 * config_reader feeds inih one line at a time. It checks each line's
 * syntax first so that every error is reported with its line number; an
 * erroneous line reaches inih as an empty one.
 */
static char *
config_reader(char *str, int num, void *stream)
{
	config_parse *p = stream;
	char          line[CONFIG_MAX_LINE];
	long          len;
	char         *s;
	char         *end;

	if ((len = read_line(p, line, sizeof(line))) < 0) {
		return NULL;
	}
	p->line++;
	str[0]       = '\0';
	p->continued = 0;
	if (len >= num - 1) {
		cbd_errors_add(p->errs, p->file, p->line,
		    "line is %ld characters long, the limit is %d", len,
		    num - 2);
		return str;
	}
	s = line;
	while (*s != '\0' && isspace((unsigned char) *s)) {
		s++;
	}
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1])) {
		*--end = '\0';
	}
	if (*s == '\0' || *s == ';' || *s == '#') {
		return str;
	}
	if (s > line && p->sql_open && !p->bad_section) {
		/* An indented line continues a resource's sql: inih passes it
		 * to the handler under the previous key. */
		p->continued = 1;
		snprintf(str, (size_t) num, " %s\n", s);
		return str;
	}
	p->sql_open = 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (close == NULL || close[1] != '\0') {
			cbd_errors_add(p->errs, p->file, p->line,
			    "malformed section header '%s'", s);
			p->bad_section = 1;
			return str;
		}
		*close = '\0';
		if (strncmp(s + 1, RESOURCE_SECTION,
		        strlen(RESOURCE_SECTION)) == 0) {
			p->bad_section =
			    resource_open(
			        p, s + 1 + strlen(RESOURCE_SECTION)) != 0;
		} else if (strncmp(s + 1, EVENT_SECTION,
		               strlen(EVENT_SECTION)) == 0) {
			p->bad_section =
			    event_open(p, s + 1 + strlen(EVENT_SECTION)) != 0;
		} else if (strncmp(s + 1, WARM_SECTION,
		               strlen(WARM_SECTION)) == 0) {
			p->bad_section =
			    warm_open(p, s + 1 + strlen(WARM_SECTION)) != 0;
		} else {
			p->bad_section = !known_section(s + 1);
			/* An empty [database] means: libpq's defaults and
			 * PG* variables. */
			if (strcmp(s + 1, "database") == 0) {
				p->cfg->db.enabled = 1;
			}
			if (p->bad_section) {
				cbd_errors_add(p->errs, p->file, p->line,
				    "unknown section [%s]", s + 1);
			}
		}
		*close = ']';
	} else if (strchr(s, '=') == NULL) {
		cbd_errors_add(p->errs, p->file, p->line,
		    "expected 'name = value', got '%.40s'", s);
		return str;
	} else {
		size_t n    = strcspn(s, " \t=");
		p->sql_open = n == 3 && strncmp(s, "sql", 3) == 0;
	}
	/* Leading white space would make inih continue the previous value. */
	snprintf(str, (size_t) num, "%s\n", s);
	return str;
}

static int
config_defaults(cbd_config *cfg)
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
	if (cbd_config_strset(&cfg->redis.host, "127.0.0.1") != 0 ||
	    cbd_config_strset(&cfg->db.conninfo, "") != 0 ||
	    cbd_config_strset(&cfg->db.notify_channel, "") != 0 ||
	    cbd_config_strset(&cfg->feed, "") != 0 ||
	    cbd_config_strset(&cfg->http, CBD_DEFAULT_HTTP) != 0 ||
	    cbd_config_strset(&cfg->tls_cert, "") != 0 ||
	    cbd_config_strset(&cfg->tls_key, "") != 0 ||
	    cbd_config_strset(&cfg->tls_key_password, "") != 0 ||
	    cbd_config_strset(&cfg->tls_ca, "") != 0 ||
	    cbd_config_strset(&cfg->time_zone, "UTC") != 0 ||
	    cbd_config_strset(&cfg->redis.password, "") != 0 ||
	    cbd_config_strset(&cfg->redis.key_prefix, "") != 0) {
		return -1;
	}
	return 0;
}

/* config_env applies REDIS_HOST, REDIS_PORT and REDIS_PASSWORD. */
static void
config_env(cbd_config *cfg, cbd_errors *errs)
{
	const char        *v;
	unsigned long long port;

	if ((v = getenv("REDIS_HOST")) != NULL && *v != '\0') {
		if (cbd_config_strset(&cfg->redis.host, v) != 0) {
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
		if (cbd_config_strset(&cfg->redis.password, v) != 0) {
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
static void
config_check(cbd_config *cfg, cbd_errors *errs)
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

/* key_line is where [section] name was set, 0 if it has its default. */
static int
key_line(const config_parse *p, const char *section, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0) {
			return p->lines[i];
		}
	}
	return 0;
}

/* over_max_ttl reports a duration named what (set at line; 0: its
 * default, reported at max_ttl's line) over max_ttl. */
static void
over_max_ttl(const config_parse *p, int line, const char *what, uint64_t ms)
{
	const cbd_config *cfg = p->cfg;

	if (ms > cfg->max_ttl_ms) {
		cbd_errors_add(p->errs, p->file,
		    line != 0 ? line : key_line(p, "policy", "max_ttl"),
		    "%s (%llu ms%s) is longer than [policy] max_ttl (%llu ms)",
		    what, (unsigned long long) ms,
		    line != 0 ? "" : ", its default",
		    (unsigned long long) cfg->max_ttl_ms);
	}
}

/*
 * check_ttls: no TTL the configuration sets may exceed max_ttl, the bound
 * every request's TTL is held to (the [auth] durations become TTLs of
 * the auth namespace's keys). Wherever in the file max_ttl is set.
 */
static void
check_ttls(const config_parse *p)
{
	const cbd_config *cfg = p->cfg;
	static const struct {
		const char *name;
		size_t      off;
	} auth[] = {
		{ "session_ttl", OFF(auth.session_ttl_ms) },
		{ "rate_limit_window", OFF(auth.rate_limit_window_ms) },
		{ "max_token_lifetime", OFF(auth.max_token_lifetime_ms) },
	};

	for (size_t i = 0; i < sizeof(auth) / sizeof(auth[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "[auth] %s", auth[i].name);
		over_max_ttl(p, key_line(p, "auth", auth[i].name), what,
		    *(const uint64_t *) (const void *) ((const char *) cfg +
		        auth[i].off));
	}
	for (size_t i = 0; i < cfg->n_resources; i++) {
		const cbd_resource *r       = &cfg->resources[i];
		const cbd_ttl_rule *t       = &r->ttl;
		uint64_t            longest = t->ms;
		if (t->kind == CBD_TTL_BY_DATE) {
			longest = t->past_ms > t->today_ms ? t->past_ms
			                                   : t->today_ms;
			longest =
			    t->future_ms > longest ? t->future_ms : longest;
		}
		for (size_t k = 0;
		     t->kind == CBD_TTL_BY_PERIOD && k < t->n_periods; k++) {
			longest = t->period_ms[k] > longest ? t->period_ms[k]
			                                    : longest;
		}
		over_max_ttl(p, r->ttl_line, "ttl", longest);
		over_max_ttl(
		    p, r->negative_line, "negative_ttl", r->negative_ttl_ms);
		over_max_ttl(p, r->stale_line, "stale_if_error", r->stale_ms);
	}
}

static cb_status
config_load(cbd_config *cfg, config_parse *p)
{
	cbd_config tmp;
	int        before = p->errs->count;

	if (config_defaults(&tmp) != 0 ||
	    (tmp.path = strdup(p->file)) == NULL) {
		cbd_config_fini(&tmp);
		cbd_errors_add(p->errs, p->file, 0, "out of memory");
		return CB_RESOURCE_EXHAUSTED;
	}
	p->cfg = &tmp;
	/* Errors are collected by the reader and handler; inih itself sees
	 * only well-formed lines, so its return value adds nothing. */
	(void) ini_parse_stream(config_reader, p, config_handler, p);
	config_env(&tmp, p->errs);
	config_check(&tmp, p->errs);
	check_ttls(p);
	if (p->errs->count > before) {
		cbd_config_fini(&tmp);
		return CB_INVALID_ARGUMENT;
	}
	*cfg = tmp;
	return CB_OK;
}

cb_status
cbd_config_load(cbd_config *cfg, const char *path, cbd_errors *errs)
{
	config_parse p = { .errs = errs, .file = path };
	cb_status    rv;

	if ((p.fp = fopen(path, "r")) == NULL) {
		cbd_errors_add(
		    errs, path, 0, "cannot open: %s", strerror(errno));
		return CB_NOT_FOUND;
	}
	rv = config_load(cfg, &p);
	fclose(p.fp);
	return rv;
}

cb_status
cbd_config_load_string(
    cbd_config *cfg, const char *name, const char *text, cbd_errors *errs)
{
	config_parse p = { .errs = errs, .file = name, .text = text };
	return config_load(cfg, &p);
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

/* Settings a running broker cannot take on: its sockets, its tables and
 * its backend connections are made from them once, at start. */
static const char *const restart_only[] = {
	"broker listen",
	"broker ipc_mode",
	"broker feed",
	"broker http",
	"broker tls_cert",
	"broker tls_key",
	"broker tls_key_password",
	"broker tls_ca",
	"broker tls_client_auth",
	"broker contexts",
	"broker max_message_size",
	"broker max_connections",
	"broker max_connection_requests",
	"broker max_connection_reply_bytes",
	"broker dedupe_window",
	"broker dedupe_entries",
	"redis *",
	"database conninfo",
	"database connections",
	"database connect_timeout",
	"database notify_channel",
};

static int
is_restart_only(const config_key *k)
{
	size_t sl = strlen(k->section);

	for (size_t i = 0; i < sizeof(restart_only) / sizeof(*restart_only);
	     i++) {
		const char *r = restart_only[i];
		if (strncmp(r, k->section, sl) == 0 && r[sl] == ' ' &&
		    (strcmp(r + sl + 1, "*") == 0 ||
		        strcmp(r + sl + 1, k->name) == 0)) {
			return 1;
		}
	}
	return 0;
}

/* pin_listeners gives next running's listeners; 1 if they differed. */
static int
pin_listeners(cbd_config *next, const cbd_config *running, int *oom)
{
	cbd_errors errs   = { 0 };
	int        differ = next->n_listen != running->n_listen;

	for (size_t i = 0; !differ && i < next->n_listen; i++) {
		differ = strcmp(next->listen[i], running->listen[i]) != 0;
	}
	/* The running URLs were checked: only memory can fail here. */
	if (differ &&
	    cbd_config_set_listeners(
	        next, running->listen, running->n_listen, &errs) != CB_OK) {
		*oom = 1;
	}
	cbd_errors_fini(&errs);
	next->listen_cli = running->listen_cli;
	/* The -l list replaces the file's: a change there is no change. */
	return differ && !running->listen_cli;
}

/* pin_value gives next running's value of k; 1 if they differed. */
static int
pin_value(
    cbd_config *next, const cbd_config *running, const config_key *k, int *oom)
{
	char       *to   = (char *) next + k->off;
	const char *from = (const char *) running + k->off;
	size_t      size = 0;

	switch (k->type) {
	case K_LISTEN:
		return pin_listeners(next, running, oom);
	case K_STR:
	case K_URL:
	case K_HTTP:
		if (strcmp(*(char **) (void *) to,
		        *(char *const *) (const void *) from) == 0) {
			return 0;
		}
		if (cbd_config_strset((char **) (void *) to,
		        *(char *const *) (const void *) from) != 0) {
			*oom = 1;
		}
		return 1;
	case K_UINT32:
		size = sizeof(uint32_t);
		break;
	case K_INT:
	case K_MODE:
	case K_LOGLEVEL:
	case K_FAILOPEN:
	case K_TLSAUTH:
		size = sizeof(int);
		break;
	case K_DURATION:
		size = sizeof(uint64_t);
		break;
	case K_SIZE:
		size = sizeof(size_t);
		break;
	}
	if (memcmp(to, from, size) == 0) {
		return 0;
	}
	memcpy(to, from, size);
	return 1;
}

void
cbd_config_pin(cbd_config *next, const cbd_config *running, cbd_errors *notes,
    cbd_errors *errs)
{
	const char *f   = next->path;
	int         oom = 0;

	for (size_t i = 0; i < N_KEYS; i++) {
		const config_key *k = &config_keys[i];
		if (is_restart_only(k) && pin_value(next, running, k, &oom)) {
			cbd_errors_add(notes, f, 0,
			    "[%s] %s: changed; restart to apply", k->section,
			    k->name);
		}
	}
	if (next->db.enabled != running->db.enabled) {
		cbd_errors_add(notes, f, 0, "[database]: %s; restart to apply",
		    next->db.enabled ? "added" : "removed");
		next->db.enabled = running->db.enabled;
	}
	if (oom) {
		cbd_errors_add(errs, f, 0, "out of memory");
	}
	/* What config_check saw with the file's values, again with the
	 * running ones. */
	if (next->max_value_size + next->max_key_size >
	    next->max_message_size) {
		cbd_errors_add(errs, f, 0,
		    "max_value_size plus max_key_size exceed max_message_size "
		    "in effect (%zu; it changes only with a restart)",
		    next->max_message_size);
	}
	if (next->n_resources > 0 && !next->db.enabled) {
		cbd_errors_add(errs, f, next->resources[0].line,
		    "resources need a [database] section, and the broker "
		    "runs without one (it is added only with a restart)");
	}
}

int
cbd_config_split(cbd_config *cfg, cbd_config *out)
{
	cbd_config c = *cfg;
	int        failed;

	/* Strings first, with nothing shared: a failure frees only them. */
	c.resources   = NULL;
	c.n_resources = 0;
	c.events      = NULL;
	c.n_events    = 0;
	c.warms       = NULL;
	c.n_warms     = 0;
	c.n_listen    = 0;
	failed        = (c.path = strdup(cfg->path)) == NULL;
	for (size_t i = 0; !failed && i < cfg->n_listen; i++) {
		failed = (c.listen[i] = strdup(cfg->listen[i])) == NULL;
		c.n_listen += !failed;
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		const config_key *k = &config_keys[i];
		char            **slot;
		if (k->type != K_STR && k->type != K_URL &&
		    k->type != K_HTTP) {
			continue;
		}
		slot  = (char **) (void *) ((char *) &c + k->off);
		*slot = failed ? NULL : strdup(*slot);
		failed |= *slot == NULL;
	}
	if (failed) {
		cbd_config_fini(&c);
		return -1;
	}
	c.resources      = cfg->resources;
	c.n_resources    = cfg->n_resources;
	c.events         = cfg->events;
	c.n_events       = cfg->n_events;
	c.warms          = cfg->warms;
	c.n_warms        = cfg->n_warms;
	cfg->resources   = NULL;
	cfg->n_resources = 0;
	cfg->events      = NULL;
	cfg->n_events    = 0;
	cfg->warms       = NULL;
	cfg->n_warms     = 0;
	*out             = c;
	return 0;
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
	free(cfg->db.notify_channel);
	memset(cfg, 0, sizeof(*cfg));
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

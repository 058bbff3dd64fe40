/* SPDX-License-Identifier: MIT */
/* Reading a configuration file: lines, sections, keys, every error at
 * its file:line. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "keys.h"

/* Lines are read whole (up to this much is kept) and refused past
 * CONFIG_MAX_CHARS characters, the limit the INI files of this project
 * have always had (docs/configuration.md). */
#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_CHARS 198

/* Parser state shared by the reader and the handler. */
typedef struct config_parse {
	cbd_config *cfg;
	cbd_errors *errs;
	const char *file;        /* name for messages */
	FILE       *fp;          /* source, or NULL for text */
	const char *text;        /* source when fp is NULL */
	int         line;        /* line being parsed, 1-based */
	bool        bad_section; /* current section is unknown */
	bool        sql_open;    /* the last key line was a resource's sql */
	bool        continued;   /* this line continues the last value */
	uint8_t     seen[CBD_CONFIG_N_KEYS]; /* scalar keys already set */
	int  lines[CBD_CONFIG_N_KEYS]; /* where each was set (0: default) */
	char section[CONFIG_MAX_CHARS + 1];   /* the one in effect */
	char prev_name[CONFIG_MAX_CHARS + 1]; /* the last key set */
} config_parse;

/* config_handler applies one "name = value" of section. */
static void
config_handler(
    config_parse *p, const char *section, const char *name, const char *value)
{
	const char *why;
	int         known_section = 0;

	if (p->bad_section) {
		return; /* reported once, at the section header */
	}
	if (strncmp(section, RESOURCE_SECTION, strlen(RESOURCE_SECTION)) ==
	    0) {
		cbd_resource *r = &p->cfg->resources[p->cfg->n_resources - 1];
		cbd_resource_set(
		    r, name, value, p->continued, p->file, p->line, p->errs);
		return;
	}
	if (strncmp(section, EVENT_SECTION, strlen(EVENT_SECTION)) == 0) {
		cbd_event *e = &p->cfg->events[p->cfg->n_events - 1];
		cbd_event_set(e, name, value, p->file, p->line, p->errs);
		return;
	}
	if (strncmp(section, NAMESPACE_SECTION, strlen(NAMESPACE_SECTION)) ==
	    0) {
		cbd_nsconf *n = &p->cfg->namespaces[p->cfg->n_namespaces - 1];
		cbd_nsconf_set(n, name, value, p->file, p->line, p->errs);
		return;
	}
	if (strncmp(section, WARM_SECTION, strlen(WARM_SECTION)) == 0) {
		cbd_warm *w = &p->cfg->warms[p->cfg->n_warms - 1];
		cbd_warm_set(
		    w, name, value, p->continued, p->file, p->line, p->errs);
		return;
	}
	for (size_t i = 0; i < CBD_CONFIG_N_KEYS; i++) {
		const config_key *k = &cbd_config_keys[i];
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
			return;
		}
		p->seen[i]  = 1;
		p->lines[i] = p->line;
		if ((why = cbd_config_set_value(p->cfg, k, value)) != NULL) {
			cbd_errors_add(p->errs, p->file, p->line,
			    "%s = '%s': %s", name,
			    k->type == K_STR ? "..." : value, why);
		}
		return;
	}
	if (!known_section) {
		cbd_errors_add(p->errs, p->file, p->line,
		    "key '%s' is outside any known section", name);
	} else {
		cbd_errors_add(p->errs, p->file, p->line,
		    "unknown key '%s' in [%s]", name, section);
	}
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

/* namespace_open starts a [namespace NAME] section. */
static int
namespace_open(config_parse *p, const char *name)
{
	cbd_config *cfg = p->cfg;
	cbd_nsconf *n;
	char        why[160];

	if (cbd_keys_check_namespace(name, why, sizeof(why)) != CB_OK) {
		cbd_errors_add(p->errs, p->file, p->line, "%s", why);
		return -1;
	}
	if (cbd_config_namespace(cfg, name) != NULL) {
		cbd_errors_add(p->errs, p->file, p->line,
		    "namespace '%s' is declared twice", name);
		return -1;
	}
	if ((n = section_add(p, (void **) &cfg->namespaces, &cfg->n_namespaces,
	         sizeof(*n), name)) == NULL) {
		return -1;
	}
	n->line = p->line;
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
	for (size_t i = 0; i < CBD_CONFIG_N_KEYS; i++) {
		if (strcmp(cbd_config_keys[i].section, name) == 0) {
			return 1;
		}
	}
	return 0;
}

/* rtrim cuts white space off the end of s. */
static void
rtrim(char *s)
{
	char *end = s + strlen(s);

	while (end > s && isspace((unsigned char) end[-1])) {
		*--end = '\0';
	}
}

/* cut_comment ends s at an inline comment: a ';' after white space. */
static void
cut_comment(char *s)
{
	for (char *c = s; *c != '\0'; c++) {
		if (*c == ';' && c > s && isspace((unsigned char) c[-1])) {
			*c = '\0';
			break;
		}
	}
}

/* section_line handles "[name]" (s, trimmed, starts with '['). */
static void
section_line(config_parse *p, char *s)
{
	char *close = strchr(s, ']');
	char *name  = s + 1;

	p->prev_name[0] = '\0';
	if (close == NULL || close[1] != '\0') {
		cbd_errors_add(p->errs, p->file, p->line,
		    "malformed section header '%s'", s);
		p->bad_section = 1;
		return;
	}
	*close = '\0';
	if (strncmp(name, RESOURCE_SECTION, strlen(RESOURCE_SECTION)) == 0) {
		p->bad_section =
		    resource_open(p, name + strlen(RESOURCE_SECTION)) != 0;
	} else if (strncmp(name, EVENT_SECTION, strlen(EVENT_SECTION)) == 0) {
		p->bad_section =
		    event_open(p, name + strlen(EVENT_SECTION)) != 0;
	} else if (strncmp(name, WARM_SECTION, strlen(WARM_SECTION)) == 0) {
		p->bad_section =
		    warm_open(p, name + strlen(WARM_SECTION)) != 0;
	} else if (strncmp(name, NAMESPACE_SECTION,
	               strlen(NAMESPACE_SECTION)) == 0) {
		p->bad_section =
		    namespace_open(p, name + strlen(NAMESPACE_SECTION)) != 0;
	} else {
		p->bad_section = !known_section(name);
		/* An empty [database] means: libpq's defaults and PG*
		 * variables. */
		if (strcmp(name, "database") == 0) {
			p->cfg->db.enabled = 1;
		}
		if (p->bad_section) {
			cbd_errors_add(p->errs, p->file, p->line,
			    "unknown section [%s]", name);
		}
	}
	snprintf(p->section, sizeof(p->section), "%s", name);
}

/*
 * config_line parses one line (len characters, whatever fit in line):
 * blank, a comment (';' or '#' first), a section header, "name = value"
 * (split at the first '='; a ';' after white space starts a comment), or an
 * indented line continuing a resource's or strategy's sql. Every error is
 * reported at its line, and parsing goes on.
 */
static void
config_line(config_parse *p, char *line, long len)
{
	char *s = line;
	char *sep;
	char *value;

	p->line++;
	p->continued = 0;
	if (len > CONFIG_MAX_CHARS) {
		cbd_errors_add(p->errs, p->file, p->line,
		    "line is %ld characters long, the limit is %d", len,
		    CONFIG_MAX_CHARS);
		return;
	}
	while (*s != '\0' && isspace((unsigned char) *s)) {
		s++;
	}
	rtrim(s);
	if (*s == '\0' || *s == ';' || *s == '#') {
		return;
	}
	if (s > line && p->sql_open && !p->bad_section) {
		/* An indented line continues the sql above it. */
		cut_comment(s);
		rtrim(s);
		p->continued = 1;
		config_handler(p, p->section, p->prev_name, s);
		return;
	}
	p->sql_open = 0;
	if (*s == '[') {
		section_line(p, s);
		return;
	}
	/* The name ends at the first '=', unless a comment starts before. */
	for (sep = s; *sep != '\0' && *sep != '=' &&
	     !(*sep == ';' && sep > s && isspace((unsigned char) sep[-1]));
	     sep++) { }
	if (*sep != '=') {
		cbd_errors_add(p->errs, p->file, p->line,
		    "expected 'name = value', got '%.40s'", s);
		return;
	}
	*sep  = '\0';
	value = sep + 1;
	rtrim(s);
	while (*value != '\0' && isspace((unsigned char) *value)) {
		value++;
	}
	cut_comment(value);
	rtrim(value);
	snprintf(p->prev_name, sizeof(p->prev_name), "%s", s);
	p->sql_open = strcmp(s, "sql") == 0;
	config_handler(p, p->section, s, value);
}

/* key_line is where [section] name was set, 0 if it has its default. */
static int
key_line(const config_parse *p, const char *section, const char *name)
{
	for (size_t i = 0; i < CBD_CONFIG_N_KEYS; i++) {
		if (strcmp(cbd_config_keys[i].section, section) == 0 &&
		    strcmp(cbd_config_keys[i].name, name) == 0) {
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
	char       line[CONFIG_MAX_LINE];
	long       len;

	if (cbd_config_defaults(&tmp) != 0 ||
	    (tmp.path = strdup(p->file)) == NULL) {
		cbd_config_fini(&tmp);
		cbd_errors_add(p->errs, p->file, 0, "out of memory");
		return CB_RESOURCE_EXHAUSTED;
	}
	p->cfg = &tmp;
	while ((len = read_line(p, line, sizeof(line))) >= 0) {
		config_line(p, line, len);
	}
	cbd_config_env(&tmp, p->errs);
	cbd_config_check_whole(&tmp, p->errs);
	check_ttls(p);
	p->cfg = NULL; /* tmp is this frame's */
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

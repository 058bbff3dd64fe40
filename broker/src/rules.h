/* SPDX-License-Identifier: MIT */
/* The rules of the policy: [resource], [event] and [warm] sections
 * (parameters, key templates, TTL rules), parsed, checked and applied. */
#ifndef CBD_RULES_H
#define CBD_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

#include "errors.h"

#define CBD_MAX_PARAMS 8

/* [policy] max_ttl: its default (a year, a leap one included: as long as
 * the [auth] durations may be) and how high it may be set (a century:
 * far below what a Redis PX or PEXPIRE overflows at). */
#define CBD_DEFAULT_MAX_TTL_MS (366 * 86400000ull)
#define CBD_MAX_TTL_CEILING_MS (36525 * 86400000ull)
#define CBD_MAX_PERIODS 8

typedef enum cbd_param_type {
	CBD_PARAM_INT,  /* optional '-' and digits, fits int64 */
	CBD_PARAM_TEXT, /* key-safe text: no spaces, controls or globs */
	CBD_PARAM_DATE, /* YYYY-MM-DD */
} cbd_param_type;

typedef struct cbd_param {
	char          *name; /* as in {name} and FetchRequest.params */
	cbd_param_type type;
} cbd_param;

typedef enum cbd_ttl_kind {
	CBD_TTL_CONST,     /* ms */
	CBD_TTL_BY_DATE,   /* past_ms / today_ms / future_ms by a date */
	CBD_TTL_BY_PERIOD, /* period_ms[i] for the value period_names[i] */
} cbd_ttl_kind;

typedef struct cbd_ttl_rule {
	cbd_ttl_kind kind;
	uint64_t     ms;        /* CONST */
	int          param;     /* parameter the rule reads */
	uint64_t     past_ms;   /* BY_DATE: date before today */
	uint64_t     today_ms;  /* BY_DATE: today */
	uint64_t     future_ms; /* BY_DATE: after today */
	size_t       n_periods; /* BY_PERIOD */
	char        *period_names[CBD_MAX_PERIODS];
	uint64_t     period_ms[CBD_MAX_PERIODS];
} cbd_ttl_rule;

/* One read-through family. Strings are owned. */
typedef struct cbd_resource {
	char        *name;     /* "users.profile" */
	char        *ns;       /* "users" */
	int          line;     /* its section header, for messages */
	int          key_line; /* where each key was set (0: not set) */
	int          sql_line;
	int          ttl_line;
	char        *key;                    /* "users:profile:{user_id}" */
	cbd_param    params[CBD_MAX_PARAMS]; /* $1.. in order */
	size_t       n_params;
	char        *sql; /* one row, one column: the JSON text */
	cbd_ttl_rule ttl;
	uint64_t     negative_ttl_ms; /* 0: not-found is not cached */
	int          negative_line;   /* where it was set (0: not set) */
	uint64_t     stale_ms;        /* stale_if_error window, 0: off */
	int          stale_line;      /* where it was set (0: not set) */
	double       early_beta;      /* XFetch beta, 0: no early refresh */
	size_t       max_value_size;  /* larger values are refused */
} cbd_resource;

/* An event rule: what EventService/Publish of NAME invalidates. */
#define CBD_MAX_TARGETS 16

typedef struct cbd_event {
	char     *name;                   /* "users.updated" */
	int       line;                   /* its section header */
	cbd_param params[CBD_MAX_PARAMS]; /* in declaration order */
	size_t    n_params;
	char     *targets[CBD_MAX_TARGETS]; /* "users:profile:{user_id}" */
	int       target_lines[CBD_MAX_TARGETS];
	size_t    n_targets;
} cbd_event;

/*
 * A warm strategy: SQL listing parameter rows for a resource; each row is
 * loaded through the resource's loader and stored with its TTL rule.
 * Columns are matched to the resource's parameters by name.
 */
typedef struct cbd_warm {
	char    *name;          /* "schedules.next-week" */
	int      line;          /* its section header */
	char    *resource;      /* "schedules.technician-day" */
	int      resource_line; /* where resource was set */
	size_t   res;           /* its index in cfg->resources (checked) */
	char    *sql;           /* rows of parameters */
	int      sql_line;
	int      startup;     /* run when the broker starts (default yes) */
	uint32_t concurrency; /* loads at a time (default 2) */
} cbd_warm;

/*
 * A namespace's own settings ([namespace NAME]): whether its keys may be
 * kept in the broker's L1, and for how long at most. Read at start: the
 * L1 serves on nng's threads from the configuration the broker started
 * with.
 */
typedef struct cbd_nsconf {
	char    *name;          /* "users" */
	int      line;          /* its section header */
	int      l1;            /* l1 = yes */
	uint64_t l1_max_ttl_ms; /* 0: [broker] l1_max_ttl */
} cbd_nsconf;

/* cbd_nsconf_set applies "name = value" of [namespace NAME]. */
void cbd_nsconf_set(cbd_nsconf *n, const char *name, const char *value,
    const char *file, int line, cbd_errors *errs);

/* cbd_nsconf_fini frees a namespace's strings. NULL-safe. */
void cbd_nsconf_fini(cbd_nsconf *n);

/* cbd_warm_set applies "name = value" of [warm NAME] (continued: an
 * indented continuation of sql). */
void cbd_warm_set(cbd_warm *w, const char *name, const char *value,
    int continued, const char *file, int line, cbd_errors *errs);

/* cbd_warm_fini frees a strategy's strings. NULL-safe. */
void cbd_warm_fini(cbd_warm *w);

/* cbd_event_set applies "name = value" of [event NAME] (param, or
 * invalidate: a key template or, with * ? [, a pattern template). */
void cbd_event_set(cbd_event *e, const char *name, const char *value,
    const char *file, int line, cbd_errors *errs);

/* cbd_event_check validates an event rule as a whole. */
void cbd_event_check(const cbd_event *e, const char *file, cbd_errors *errs);

/* cbd_event_fini frees an event's strings. NULL-safe. */
void cbd_event_fini(cbd_event *e);

/*
 * cbd_resource_set applies "name = value" of the section [resource NAME] to
 * r (continued: an indented continuation line of the previous key).
 * Errors go to errs as file:line. Thread: any (config loading).
 */
void cbd_resource_set(cbd_resource *r, const char *name, const char *value,
    int continued, const char *file, int line, cbd_errors *errs);

/* cbd_resource_check validates a parsed resource as a whole: name, key
 * template against parameters, SQL placeholders, required keys. */
void cbd_resource_check(
    const cbd_resource *r, const char *file, cbd_errors *errs);

/* cbd_resource_fini frees a resource's strings. NULL-safe. */
void cbd_resource_fini(cbd_resource *r);

/*
 * cbd_resource_bind checks the caller's parameters (names and values
 * given as n pairs) against the resource, and fills values[] in $n order
 * and the Redis key (without the broker's prefix) into key (cap bytes).
 * Unknown, missing or malformed parameters give INVALID_ARGUMENT with a
 * reason. Pure; any thread.
 */
CB_NODISCARD cb_status cbd_resource_bind(const cbd_resource *r, size_t n,
    const char *const *names, const char *const *vals,
    const char *values[CBD_MAX_PARAMS], char *key, size_t cap, char *why,
    size_t whylen);

/* cbd_rule_bind_params checks n (names, vals) pairs against the
 * declared params (what names the owner in messages) and fills values[]
 * in declaration order. INVALID_ARGUMENT with a reason otherwise. */
CB_NODISCARD cb_status cbd_rule_bind_params(const char *what,
    const cbd_param *params, size_t np, size_t n, const char *const *names,
    const char *const *vals, const char *values[CBD_MAX_PARAMS], char *why,
    size_t whylen);

/* cbd_rule_expand writes template tpl with each {param} replaced by its
 * bound value into out (cap bytes); RESOURCE_EXHAUSTED if too long. The
 * template was checked at load: every {param} is declared. */
CB_NODISCARD cb_status cbd_rule_expand(const char *tpl,
    const cbd_param *params, size_t np,
    const char *const values[CBD_MAX_PARAMS], char *out, size_t cap);

/*
 * cbd_resource_ttl_ms computes the TTL of a value of r loaded with values
 * (as bound), "today" being today_ymd (YYYYMMDD in the configured zone),
 * before jitter. 0 means: do not store (a by-period value that names no
 * known period gives INVALID_ARGUMENT instead).
 */
CB_NODISCARD cb_status cbd_resource_ttl_ms(const cbd_resource *r,
    const char *const values[CBD_MAX_PARAMS], int today_ymd, uint64_t *ttl_ms,
    char *why, size_t whylen);

/* cbd_rule_jitter spreads ttl_ms by up to ±10% using r (any 32 random
 * bits), so that keys written together do not expire together. */
uint64_t cbd_rule_jitter(uint64_t ttl_ms, uint32_t r);

#endif /* CBD_RULES_H */

/* SPDX-License-Identifier: MIT */
/* The rules of the policy: [resource], [event] and [warm] sections
 * (parameters, key templates, TTL rules), parsed, checked and applied. */
#include "rules.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "str.h"
#include "units.h"

/* append_str joins a continuation line to a value with one space. */
static int
append_str(char **slot, const char *more)
{
	size_t a     = *slot != NULL ? strlen(*slot) : 0;
	size_t b     = strlen(more);
	char  *grown = realloc(*slot, a + b + 2);

	if (grown == NULL) {
		return -1;
	}
	if (a > 0) {
		grown[a++] = ' ';
	}
	memcpy(grown + a, more, b + 1);
	*slot = grown;
	return 0;
}

static int
find_in(const cbd_param *params, size_t np, const char *name, size_t len)
{
	for (size_t i = 0; i < np; i++) {
		if (strlen(params[i].name) == len &&
		    strncmp(params[i].name, name, len) == 0) {
			return (int) i;
		}
	}
	return -1;
}

static int
find_param(const cbd_resource *r, const char *name, size_t len)
{
	return find_in(r->params, r->n_params, name, len);
}

/* param_add parses "NAME TYPE" into params[*np]; an error text or NULL. */
static const char *
param_add(cbd_param *params, size_t *np, const char *value)
{
	char           name[64];
	char           type[16];
	cbd_param_type t;
	int            n;

	if (sscanf(value, "%63s %15s %n", name, type, &n) != 2 ||
	    value[n] != '\0') {
		return "expected 'param = NAME TYPE' (TYPE: int, text, date)";
	}
	if (strcmp(type, "int") == 0) {
		t = CBD_PARAM_INT;
	} else if (strcmp(type, "text") == 0) {
		t = CBD_PARAM_TEXT;
	} else if (strcmp(type, "date") == 0) {
		t = CBD_PARAM_DATE;
	} else {
		return "unknown parameter type (int, text, date)";
	}
	for (const char *c = name; *c != '\0'; c++) {
		if (!islower((unsigned char) *c) &&
		    !isdigit((unsigned char) *c) && *c != '_') {
			return "parameter names are [a-z0-9_]";
		}
	}
	if (find_in(params, *np, name, strlen(name)) >= 0) {
		return "parameter declared twice";
	}
	if (*np == CBD_MAX_PARAMS) {
		return "too many parameters (at most 8)";
	}
	if ((params[*np].name = strdup(name)) == NULL) {
		return "out of memory";
	}
	params[(*np)++].type = t;
	return NULL;
}

/* rule_param reads "{name}" and resolves it; -1 if absent or unknown. */
static int
rule_param(const cbd_resource *r, const char *word)
{
	size_t n = strlen(word);

	if (n < 3 || word[0] != '{' || word[n - 1] != '}') {
		return -1;
	}
	return find_param(r, word + 1, n - 2);
}

/*
 * set_ttl parses the ttl value:
 *   30m
 *   by-date {param} past 24h today 30m future 2h
 *   by-period {param} WORD DURATION [WORD DURATION]...
 */
static const char *
set_ttl(cbd_resource *r, const char *value)
{
	char          buf[512];
	char         *words[2 + 2 * CBD_MAX_PERIODS + 1];
	size_t        n = 0;
	char         *save;
	cbd_ttl_rule *t   = &r->ttl;
	size_t        len = strlen(value);

	if (len >= sizeof(buf)) {
		return "ttl rule too long";
	}
	memcpy(buf, value, len + 1);
	for (char *w = strtok_r(buf, " \t", &save); w != NULL;
	     w       = strtok_r(NULL, " \t", &save)) {
		if (n == sizeof(words) / sizeof(words[0])) {
			return "ttl rule has too many words";
		}
		words[n++] = w;
	}
	if (n == 1) {
		if (cbd_parse_duration_ms(words[0], &t->ms) != 0 ||
		    t->ms == 0) {
			return "not a duration (like 30m), by-date or "
			       "by-period";
		}
		t->kind = CBD_TTL_CONST;
		return NULL;
	}
	if (n < 2 || (n % 2) != 0) {
		return "expected 'by-date {param} past D today D future D' or "
		       "'by-period {param} NAME D ...'";
	}
	if ((t->param = rule_param(r, words[1])) < 0) {
		return "the rule's {param} is not a declared parameter "
		       "(declare "
		       "params before ttl)";
	}
	if (strcmp(words[0], "by-date") == 0) {
		uint64_t   *slots[3] = { &t->past_ms, &t->today_ms,
			  &t->future_ms };
		const char *names[3] = { "past", "today", "future" };
		if (n != 8 || r->params[t->param].type != CBD_PARAM_DATE) {
			return "by-date takes a date parameter and past, "
			       "today "
			       "and future durations";
		}
		for (int i = 0; i < 3; i++) {
			if (strcmp(words[2 + 2 * i], names[i]) != 0 ||
			    cbd_parse_duration_ms(
			        words[3 + 2 * i], slots[i]) != 0) {
				return "expected 'past D today D future D'";
			}
		}
		t->kind = CBD_TTL_BY_DATE;
		return NULL;
	}
	if (strcmp(words[0], "by-period") == 0) {
		for (size_t i = 2; i < n; i += 2) {
			size_t k = t->n_periods;
			if (cbd_parse_duration_ms(
			        words[i + 1], &t->period_ms[k]) != 0) {
				return "expected a duration after each period "
				       "name";
			}
			if ((t->period_names[k] = strdup(words[i])) == NULL) {
				return "out of memory";
			}
			t->n_periods++;
		}
		t->kind = CBD_TTL_BY_PERIOD;
		return NULL;
	}
	return "unknown ttl rule (a duration, by-date or by-period)";
}

/* sql_continue appends an indented continuation line to *sql. */
static void
sql_continue(char **sql, const char *name, const char *value, const char *file,
    int line, cbd_errors *errs)
{
	if (strcmp(name, "sql") != 0) {
		cbd_errors_add(errs, file, line,
		    "only sql may continue on indented lines");
	} else if (append_str(sql, value) != 0) {
		cbd_errors_add(errs, file, line, "out of memory");
	}
}

/* set_once stores value into *slot unless *set_line says it was set. */
static const char *
set_once(
    char **slot, int *set_line, const char *name, const char *value, int line)
{
	const char *why = NULL;

	(void) name;
	if (*set_line) {
		why = "set twice";
	} else if (cbd_strset(slot, value) != 0) {
		why = "out of memory";
	}
	*set_line = line;
	return why;
}

void
cbd_resource_set(cbd_resource *r, const char *name, const char *value,
    int continued, const char *file, int line, cbd_errors *errs)
{
	const char *why = NULL;
	size_t      sz;

	if (continued) {
		sql_continue(&r->sql, name, value, file, line, errs);
		return;
	}
	if (strcmp(name, "key") == 0) {
		why = set_once(&r->key, &r->key_line, name, value, line);
	} else if (strcmp(name, "param") == 0) {
		why = param_add(r->params, &r->n_params, value);
	} else if (strcmp(name, "sql") == 0) {
		why = set_once(&r->sql, &r->sql_line, name, value, line);
	} else if (strcmp(name, "ttl") == 0) {
		why = r->ttl_line ? "'ttl' is set twice" : set_ttl(r, value);
		r->ttl_line = line;
	} else if (strcmp(name, "negative_ttl") == 0) {
		r->negative_line = line;
		if (cbd_parse_duration_ms(value, &r->negative_ttl_ms) != 0) {
			why = "not a duration (like 30s; 0 for none)";
		}
	} else if (strcmp(name, "stale_if_error") == 0) {
		r->stale_line = line;
		if (cbd_parse_duration_ms(value, &r->stale_ms) != 0) {
			why = "not a duration (like 10m; 0 for off)";
		}
	} else if (strcmp(name, "early_refresh") == 0) {
		char *end;
		r->early_beta = strtod(value, &end);
		if (*end != '\0' || end == value || r->early_beta < 0 ||
		    r->early_beta > 10) {
			why = "not a number from 0 (off) to 10 (XFetch beta, "
			      "1 is usual)";
		}
	} else if (strcmp(name, "max_value_size") == 0) {
		if (cbd_parse_size(value, &sz) != 0 || sz == 0) {
			why = "not a size (like 256k)";
		} else {
			r->max_value_size = sz;
		}
	} else {
		cbd_errors_add(errs, file, line,
		    "unknown key '%s' in [resource %s]", name, r->name);
		return;
	}
	if (why != NULL) {
		cbd_errors_add(errs, file, line, "%s: %s", name, why);
	}
}

/* sql_uses reports which $n placeholders the SQL mentions (bit n-1) and
 * the highest n, outside quoted strings and identifiers. */
static uint32_t
sql_uses(const char *sql, unsigned *max)
{
	uint32_t used  = 0;
	char     quote = 0;

	*max = 0;
	for (const char *c = sql; *c != '\0'; c++) {
		if (quote != 0) {
			if (*c == quote) {
				quote = 0;
			}
			continue;
		}
		if (*c == '\'' || *c == '"') {
			quote = *c;
			continue;
		}
		if (*c == '$' && isdigit((unsigned char) c[1])) {
			unsigned n = (unsigned) strtoul(c + 1, NULL, 10);
			if (n > *max) {
				*max = n;
			}
			if (n >= 1 && n <= 32) {
				used |= 1u << (n - 1);
			}
		}
	}
	return used;
}

static void
check_template(const cbd_resource *r, const char *file, cbd_errors *errs)
{
	const char *k     = r->key;
	uint32_t    seen  = 0;
	size_t      nslen = strlen(r->ns);
	char        why[128];

	if (strncmp(k, r->ns, nslen) != 0 || k[nslen] != ':' ||
	    k[nslen + 1] == '\0') {
		cbd_errors_add(errs, file, r->key_line,
		    "key '%s' must start with the namespace '%s:'", k, r->ns);
		return;
	}
	for (const char *c = k; *c != '\0'; c++) {
		if (*c == '{') {
			const char *end = strchr(c, '}');
			int         i;
			if (end == NULL ||
			    (i = find_param(
			         r, c + 1, (size_t) (end - c - 1))) < 0) {
				cbd_errors_add(errs, file, r->key_line,
				    "key names a parameter that is not "
				    "declared "
				    "with 'param': %.*s",
				    end != NULL ? (int) (end - c + 1) : 8, c);
				return;
			}
			seen |= 1u << i;
			c = end;
		} else if (*c == '}' || *c == '*' || *c == '?' || *c == '[' ||
		    *c == ']' || *c == '\\' || *c == ' ' ||
		    iscntrl((unsigned char) *c)) {
			cbd_errors_add(errs, file, r->key_line,
			    "key contains '%c', which keys may not", *c);
			return;
		}
	}
	for (size_t i = 0; i < r->n_params; i++) {
		if (!(seen & (1u << i))) {
			cbd_errors_add(errs, file, r->key_line,
			    "parameter '%s' is not in the key: two values "
			    "would "
			    "share one cache entry",
			    r->params[i].name);
		}
	}
	(void) why;
}

void
cbd_resource_check(const cbd_resource *r, const char *file, cbd_errors *errs)
{
	const char *dot = strchr(r->name, '.');
	char        why[128];
	unsigned    max;
	uint32_t    used;

	if (dot == NULL || dot[1] == '\0') {
		cbd_errors_add(errs, file, r->line,
		    "resource name '%s' must be <namespace>.<name>", r->name);
		return;
	}
	if (cbd_keys_check_namespace(r->ns, why, sizeof(why)) != CB_OK) {
		cbd_errors_add(
		    errs, file, r->line, "resource '%s': %s", r->name, why);
		return;
	}
	if (r->key == NULL || r->sql == NULL || !r->ttl_line) {
		cbd_errors_add(errs, file, r->line,
		    "resource '%s' needs key, sql and ttl", r->name);
		return;
	}
	check_template(r, file, errs);
	used = sql_uses(r->sql, &max);
	if (max > r->n_params) {
		cbd_errors_add(errs, file, r->sql_line,
		    "sql uses $%u but only %zu parameters are declared", max,
		    r->n_params);
	}
	for (size_t i = 0; i < r->n_params; i++) {
		if (!(used & (1u << i))) {
			cbd_errors_add(errs, file, r->sql_line,
			    "sql does not use parameter '%s' ($%zu)",
			    r->params[i].name, i + 1);
		}
	}
}

void
cbd_resource_fini(cbd_resource *r)
{
	if (r == NULL) {
		return;
	}
	free(r->name);
	free(r->ns);
	free(r->key);
	free(r->sql);
	for (size_t i = 0; i < r->n_params; i++) {
		free(r->params[i].name);
	}
	for (size_t i = 0; i < r->ttl.n_periods; i++) {
		free(r->ttl.period_names[i]);
	}
	memset(r, 0, sizeof(*r));
}

static int
valid_int(const char *s)
{
	char     *end;
	long long v;

	if (*s == '\0' || isspace((unsigned char) *s)) {
		return 0;
	}
	errno = 0;
	v     = strtoll(s, &end, 10);
	(void) v;
	return errno == 0 && *end == '\0';
}

static int
valid_date(const char *s, int *ymd)
{
	int y, m, d, n = 0;

	if (strlen(s) != 10 ||
	    sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    m < 1 || m > 12 || d < 1 || d > 31 || s[4] != '-' || s[7] != '-') {
		return 0;
	}
	*ymd = y * 10000 + m * 100 + d;
	return 1;
}

cb_status
cbd_rule_bind_params(const char *what, const cbd_param *params, size_t np,
    size_t n, const char *const *names, const char *const *vals,
    const char *values[CBD_MAX_PARAMS], char *why, size_t whylen)
{
	const char *got[CBD_MAX_PARAMS] = { 0 };
	int         ymd;

	for (size_t i = 0; i < n; i++) {
		int p = find_in(params, np, names[i], strlen(names[i]));
		if (p < 0) {
			snprintf(why, whylen, "%s takes no parameter '%.40s'",
			    what, names[i]);
			return CB_INVALID_ARGUMENT;
		}
		got[p] = vals[i];
	}
	for (size_t i = 0; i < np; i++) {
		const cbd_param *p = &params[i];
		const char      *v = got[i];
		char             kwhy[96];
		if (v == NULL) {
			snprintf(why, whylen, "%s needs parameter '%s'", what,
			    p->name);
			return CB_INVALID_ARGUMENT;
		}
		if ((p->type == CBD_PARAM_INT && !valid_int(v)) ||
		    (p->type == CBD_PARAM_DATE && !valid_date(v, &ymd))) {
			snprintf(why, whylen, "parameter '%s' is not a%s",
			    p->name,
			    p->type == CBD_PARAM_INT ? "n integer"
			                             : " date (YYYY-MM-DD)");
			return CB_INVALID_ARGUMENT;
		}
		/* The value becomes part of a key: the key rules apply. */
		if (cbd_keys_check_key(v, 256, kwhy, sizeof(kwhy)) != CB_OK) {
			snprintf(
			    why, whylen, "parameter '%s': %s", p->name, kwhy);
			return CB_INVALID_ARGUMENT;
		}
		values[i] = v;
	}
	return CB_OK;
}

cb_status
cbd_rule_expand(const char *tpl, const cbd_param *params, size_t np,
    const char *const values[CBD_MAX_PARAMS], char *out, size_t cap)
{
	size_t len = 0;

	for (const char *c = tpl; *c != '\0'; c++) {
		const char *piece = c;
		size_t      plen  = 1;
		if (*c == '{') {
			const char *end = strchr(c, '}');
			int         i =
			    find_in(params, np, c + 1, (size_t) (end - c - 1));
			piece = values[i];
			plen  = strlen(piece);
			c     = end;
		}
		if (len + plen + 1 > cap) {
			return CB_RESOURCE_EXHAUSTED;
		}
		memcpy(out + len, piece, plen);
		len += plen;
	}
	out[len] = '\0';
	return CB_OK;
}

cb_status
cbd_resource_bind(const cbd_resource *r, size_t n, const char *const *names,
    const char *const *vals, const char *values[CBD_MAX_PARAMS], char *key,
    size_t cap, char *why, size_t whylen)
{
	cb_status rv = cbd_rule_bind_params(r->name, r->params, r->n_params, n,
	    names, vals, values, why, whylen);

	if (rv != CB_OK) {
		return rv;
	}
	if (cbd_rule_expand(
	        r->key, r->params, r->n_params, values, key, cap) != CB_OK) {
		snprintf(why, whylen, "key too long");
		return CB_RESOURCE_EXHAUSTED;
	}
	return CB_OK;
}

cb_status
cbd_resource_ttl_ms(const cbd_resource *r,
    const char *const values[CBD_MAX_PARAMS], int today_ymd, uint64_t *ttl_ms,
    char *why, size_t whylen)
{
	const cbd_ttl_rule *t = &r->ttl;
	int                 ymd;

	switch (t->kind) {
	case CBD_TTL_CONST:
		*ttl_ms = t->ms;
		return CB_OK;
	case CBD_TTL_BY_DATE:
		if (!valid_date(values[t->param], &ymd)) {
			snprintf(why, whylen, "not a date");
			return CB_INVALID_ARGUMENT;
		}
		*ttl_ms = ymd < today_ymd ? t->past_ms
		    : ymd == today_ymd    ? t->today_ms
		                          : t->future_ms;
		return CB_OK;
	case CBD_TTL_BY_PERIOD:
		for (size_t i = 0; i < t->n_periods; i++) {
			if (strcmp(values[t->param], t->period_names[i]) ==
			    0) {
				*ttl_ms = t->period_ms[i];
				return CB_OK;
			}
		}
		snprintf(why, whylen, "'%s' is not a known %s",
		    values[t->param], r->params[t->param].name);
		return CB_INVALID_ARGUMENT;
	}
	return CB_INTERNAL;
}

uint64_t
cbd_rule_jitter(uint64_t ttl_ms, uint32_t r)
{
	uint64_t span = ttl_ms / 5; /* 20%: from -10% to +10% */

	if (span == 0) {
		return ttl_ms;
	}
	return ttl_ms - ttl_ms / 10 + (uint64_t) r % (span + 1);
}

void
cbd_event_set(cbd_event *e, const char *name, const char *value,
    const char *file, int line, cbd_errors *errs)
{
	const char *why = NULL;

	if (strcmp(name, "param") == 0) {
		why = param_add(e->params, &e->n_params, value);
	} else if (strcmp(name, "invalidate") == 0) {
		if (e->n_targets == CBD_MAX_TARGETS) {
			why = "too many invalidate lines (at most 16)";
		} else if ((e->targets[e->n_targets] = strdup(value)) ==
		    NULL) {
			why = "out of memory";
		} else {
			e->target_lines[e->n_targets++] = line;
		}
	} else {
		cbd_errors_add(errs, file, line,
		    "unknown key '%s' in [event %s]", name, e->name);
		return;
	}
	if (why != NULL) {
		cbd_errors_add(errs, file, line, "%s: %s", name, why);
	}
}

/* check_target validates one invalidate template: "<ns>:<rest>", its
 * {params} declared, no character a key or pattern may not have. */
static int
check_target(const cbd_event *e, size_t t, uint32_t *used, const char *file,
    cbd_errors *errs)
{
	const char *tpl   = e->targets[t];
	const char *colon = strchr(tpl, ':');
	char        ns[CBD_MAX_NAMESPACE + 2];
	char        why[128];
	int         line = e->target_lines[t];

	if (colon == NULL || colon[1] == '\0' ||
	    (size_t) (colon - tpl) > CBD_MAX_NAMESPACE) {
		cbd_errors_add(errs, file, line,
		    "invalidate '%s' must be <namespace>:<key or pattern>",
		    tpl);
		return -1;
	}
	snprintf(ns, sizeof(ns), "%.*s", (int) (colon - tpl), tpl);
	if (cbd_keys_check_namespace(ns, why, sizeof(why)) != CB_OK) {
		cbd_errors_add(
		    errs, file, line, "invalidate '%s': %s", tpl, why);
		return -1;
	}
	for (const char *c = colon + 1; *c != '\0'; c++) {
		if (*c == '{') {
			const char *end = strchr(c, '}');
			int         i;
			if (end == NULL ||
			    (i = find_in(e->params, e->n_params, c + 1,
			         (size_t) (end - c - 1))) < 0) {
				cbd_errors_add(errs, file, line,
				    "invalidate '%s' names a parameter that "
				    "is not "
				    "declared with 'param'",
				    tpl);
				return -1;
			}
			*used |= 1u << i;
			c = end;
		} else if (*c == '}' || *c == ' ' || *c == '\\' ||
		    iscntrl((unsigned char) *c)) {
			cbd_errors_add(errs, file, line,
			    "invalidate '%s' contains '%c'", tpl, *c);
			return -1;
		}
	}
	return 0;
}

void
cbd_event_check(const cbd_event *e, const char *file, cbd_errors *errs)
{
	uint32_t used = 0;

	for (const char *c = e->name; *c != '\0'; c++) {
		if (!islower((unsigned char) *c) &&
		    !isdigit((unsigned char) *c) && *c != '.' && *c != '_' &&
		    *c != '-') {
			cbd_errors_add(errs, file, e->line,
			    "event name '%s' may contain only a-z, 0-9, '.', "
			    "'_' "
			    "and '-'",
			    e->name);
			return;
		}
	}
	if (e->n_targets == 0) {
		cbd_errors_add(errs, file, e->line,
		    "event '%s' invalidates nothing (add invalidate lines)",
		    e->name);
		return;
	}
	for (size_t t = 0; t < e->n_targets; t++) {
		if (check_target(e, t, &used, file, errs) != 0) {
			return;
		}
	}
	for (size_t i = 0; i < e->n_params; i++) {
		if (!(used & (1u << i))) {
			cbd_errors_add(errs, file, e->line,
			    "event '%s': parameter '%s' is not used by any "
			    "invalidate line",
			    e->name, e->params[i].name);
		}
	}
}

void
cbd_event_fini(cbd_event *e)
{
	if (e == NULL) {
		return;
	}
	free(e->name);
	for (size_t i = 0; i < e->n_params; i++) {
		free(e->params[i].name);
	}
	for (size_t i = 0; i < e->n_targets; i++) {
		free(e->targets[i]);
	}
	memset(e, 0, sizeof(*e));
}

void
cbd_warm_set(cbd_warm *w, const char *name, const char *value, int continued,
    const char *file, int line, cbd_errors *errs)
{
	const char   *why = NULL;
	unsigned long n;
	char         *end;

	if (continued) {
		sql_continue(&w->sql, name, value, file, line, errs);
		return;
	}
	if (strcmp(name, "resource") == 0) {
		why = set_once(
		    &w->resource, &w->resource_line, name, value, line);
	} else if (strcmp(name, "sql") == 0) {
		why = set_once(&w->sql, &w->sql_line, name, value, line);
	} else if (strcmp(name, "startup") == 0) {
		if (strcmp(value, "yes") == 0) {
			w->startup = 1;
		} else if (strcmp(value, "no") == 0) {
			w->startup = 0;
		} else {
			why = "not yes or no";
		}
	} else if (strcmp(name, "concurrency") == 0) {
		n = strtoul(value, &end, 10);
		if (*value < '0' || *value > '9' || *end != '\0' || n < 1 ||
		    n > 64) {
			why = "not a number from 1 to 64";
		} else {
			w->concurrency = (uint32_t) n;
		}
	} else {
		cbd_errors_add(errs, file, line,
		    "unknown key '%s' in [warm %s]", name, w->name);
		return;
	}
	if (why != NULL) {
		cbd_errors_add(errs, file, line, "%s: %s", name, why);
	}
}

void
cbd_nsconf_set(cbd_nsconf *n, const char *name, const char *value,
    const char *file, int line, cbd_errors *errs)
{
	const char *why = NULL;
	uint64_t    ms;

	if (strcmp(name, "l1") == 0) {
		if (strcmp(value, "yes") == 0) {
			n->l1 = 1;
		} else if (strcmp(value, "no") == 0) {
			n->l1 = 0;
		} else {
			why = "not yes or no";
		}
	} else if (strcmp(name, "l1_max_ttl") == 0) {
		if (cbd_parse_duration_ms(value, &ms) != 0) {
			why = "not a duration (e.g. 30s, 5m)";
		} else if (ms < 1 || ms > 86400000) {
			why = "must be from 1ms to 24h";
		} else {
			n->l1_max_ttl_ms = ms;
		}
	} else {
		cbd_errors_add(errs, file, line,
		    "unknown key '%s' in [namespace %s]", name, n->name);
		return;
	}
	if (why != NULL) {
		cbd_errors_add(
		    errs, file, line, "%s = '%s': %s", name, value, why);
	}
}

void
cbd_nsconf_fini(cbd_nsconf *n)
{
	if (n == NULL) {
		return;
	}
	free(n->name);
	memset(n, 0, sizeof(*n));
}

void
cbd_warm_fini(cbd_warm *w)
{
	if (w == NULL) {
		return;
	}
	free(w->name);
	free(w->resource);
	free(w->sql);
	memset(w, 0, sizeof(*w));
}

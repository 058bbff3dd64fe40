/* SPDX-License-Identifier: MIT */
/* Database-driven invalidation: notifications applied like Publish. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "json.h"
#include "log.h"
#include "policy.h"
#include "request.h"
#include "router.h"

/* PostgreSQL's payloads are under 8000 bytes. */
#define NOTIFY_MAX_PAYLOAD 8192
#define NOTIFY_DEADLINE_MS 30000
#define NOTIFY_MAX_TARGET 1024

struct cbd_notify {
	cbd_req_host *host;     /* events run as its requests */
	cbd_journal  *journal;  /* plans what Redis missed */
	int           listened; /* at least once */
	uint64_t      count;
	uint64_t      errors;
};

cb_status
cbd_notify_alloc(cbd_notify **out, cbd_req_host *host, cbd_journal *journal)
{
	cbd_notify *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	n->host    = host;
	n->journal = journal;
	*out       = n;
	return CB_OK;
}

void
cbd_notify_free(cbd_notify *n)
{
	free(n);
}

int
cbd_notify_settled(const cbd_notify *n)
{
	return n == NULL || n->listened;
}

uint64_t
cbd_notify_count(const cbd_notify *n)
{
	return n != NULL ? n->count : 0;
}

uint64_t
cbd_notify_errors(const cbd_notify *n)
{
	return n != NULL ? n->errors : 0;
}

static void
published(void *arg, cb_status code, const char *message, const void *payload,
    size_t plen)
{
	(void) arg;
	(void) payload;
	(void) plen;
	/* A failed sweep is in the journal already; nothing is lost. */
	if (code != CB_OK) {
		cbd_log_debug(
		    "notify: publish: %s: %s", cb_status_str(code), message);
	}
}

void
cbd_notify_received(void *arg, const char *channel, const char *payload)
{
	cbd_notify                     *n   = arg;
	size_t                          len = strlen(payload);
	char                            out[NOTIFY_MAX_PAYLOAD];
	char                            why[200];
	const char                     *event;
	const char                     *names[CBD_MAX_PARAMS];
	const char                     *vals[CBD_MAX_PARAMS];
	size_t                          np;
	Cachebroker__V1__PublishRequest in =
	    CACHEBROKER__V1__PUBLISH_REQUEST__INIT;
	Cachebroker__V1__PublishRequest__ParamsEntry  entries[CBD_MAX_PARAMS];
	Cachebroker__V1__PublishRequest__ParamsEntry *ptrs[CBD_MAX_PARAMS];

	(void) channel;
	n->count++;
	if (len >= sizeof(out) ||
	    cbd_json_event(payload, len, out, sizeof(out), &event, names, vals,
	        CBD_MAX_PARAMS, &np, why, sizeof(why)) != CB_OK) {
		if (len >= sizeof(out)) {
			snprintf(why, sizeof(why), "payload too long");
		}
		n->errors++;
		cbd_log_warning("notify: ignored: %s: '%.80s'", why, payload);
		return;
	}
	for (size_t i = 0; i < np; i++) {
		cachebroker__v1__publish_request__params_entry__init(
		    &entries[i]);
		entries[i].key   = (char *) names[i];
		entries[i].value = (char *) vals[i];
		ptrs[i]          = &entries[i];
	}
	in.event    = (char *) event;
	in.params   = ptrs;
	in.n_params = np;
	if (cbd_req_submit(n->host, NULL, CBD_M_EVENT_PUBLISH, &in.base,
	        NOTIFY_DEADLINE_MS, 0, published, n, why,
	        sizeof(why)) != CB_OK) {
		n->errors++;
		cbd_log_warning("notify: ignored '%.80s': %s", payload, why);
	}
}

/* cover writes target template tpl with every {param} as '*': the
 * pattern of everything the rule could invalidate. */
static void
cover(const char *tpl, char *out, size_t cap)
{
	size_t len = 0;

	for (const char *c = tpl; *c != '\0' && len + 2 < cap; c++) {
		if (*c == '{') {
			c = strchr(c, '}'); /* checked at load */
			if (len == 0 || out[len - 1] != '*') {
				out[len++] = '*';
			}
			continue;
		}
		out[len++] = *c;
	}
	out[len] = '\0';
}

void
cbd_notify_listening(void *arg)
{
	cbd_notify       *n   = arg;
	const cbd_config *cfg = n->host->policy->cfg; /* the rules in effect */
	char              pat[NOTIFY_MAX_TARGET];
	size_t            count = 0;

	for (size_t e = 0; e < cfg->n_events; e++) {
		for (size_t t = 0; t < cfg->events[e].n_targets; t++) {
			char *rest;
			cover(cfg->events[e].targets[t], pat, sizeof(pat));
			rest    = strchr(pat, ':'); /* checked at load */
			*rest++ = '\0';
			cbd_journal_plan(n->journal, pat, rest,
			    strpbrk(rest, "*?[") != NULL);
			count++;
		}
	}
	cbd_log_info("notify: %s on '%s': invalidating what the %zu event "
	             "rules cover (%zu targets) before reading it from the "
	             "cache",
	    n->listened ? "listening again" : "listening",
	    cfg->db.notify_channel, cfg->n_events, count);
	n->listened = 1;
}

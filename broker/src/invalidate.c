/* SPDX-License-Identifier: MIT */
/* Invalidation: removing keys and glob patterns from Redis for a request. */
#include "invalidate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "feed.h"
#include "journal.h"
#include "keys.h"
#include "l1.h"
#include "loader.h"
#include "log.h"
#include "redis_pool.h"
#include "request.h"
#include "stats.h"
#include "svc.h"
#include "svc_l1.h"

/*
 * A sweep is a list of items, run in order:
 *
 *   keys of one namespace ──► UNLINK k1 k2 ...        (one round trip)
 *   pattern               ──► SCAN cursor MATCH p COUNT n
 *                               └► UNLINK what it found that really starts
 *                                  with "<prefix><ns>:" ─► next SCAN ... 0
 *
 * Each step is one short command: Redis is never blocked for long (KEYS
 * would be). A request whose deadline passes is answered meanwhile and the
 * sweep stops at its next reply (the caller was told DEADLINE_EXCEEDED,
 * so it knows the job is not confirmed).
 */
typedef struct sweep_item {
	char     ns[CBD_MAX_NAMESPACE + 1]; /* whose keys */
	char    *text;                      /* full key or full pattern */
	size_t   lit;                       /* "<prefix><ns>:" length */
	int      pattern;                   /* 1: a glob */
	uint64_t removed;                   /* keys removed: see counted */
} sweep_item;

struct cbd_sweep {
	sweep_item        *items;
	size_t             n;
	size_t             cap;
	size_t             next;       /* first item not yet run */
	size_t             group_end;  /* keys: end of the UNLINK group */
	char               cursor[24]; /* pattern: SCAN cursor */
	cbd_sweep_done_fn *done;
	cbd_journal       *journal; /* where it goes if it fails (or NULL) */
	int                ok;      /* finished with every step done */
};

cbd_sweep *
cbd_sweep_alloc(void)
{
	return calloc(1, sizeof(cbd_sweep));
}

void
cbd_sweep_free(cbd_sweep *s)
{
	if (s == NULL) {
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		free(s->items[i].text);
	}
	free(s->items);
	free(s);
}

static int
sweep_add(cbd_sweep *s, const char *prefix, const char *ns, const char *tail,
    int pattern)
{
	size_t      size = strlen(prefix) + strlen(ns) + strlen(tail) + 2;
	sweep_item *it;

	if (s->n == s->cap) {
		size_t      cap   = s->cap == 0 ? 8 : s->cap * 2;
		sweep_item *grown = realloc(s->items, cap * sizeof(*grown));
		if (grown == NULL) {
			return -1;
		}
		s->items = grown;
		s->cap   = cap;
	}
	it = &s->items[s->n];
	memset(it, 0, sizeof(*it));
	if ((it->text = malloc(size)) == NULL) {
		return -1;
	}
	(void) cbd_keys_join(it->text, size, prefix, ns, tail);
	snprintf(it->ns, sizeof(it->ns), "%s", ns);
	it->lit     = strlen(prefix) + strlen(ns) + 1;
	it->pattern = pattern;
	s->n++;
	return 0;
}

int
cbd_sweep_key(
    cbd_sweep *s, const char *prefix, const char *ns, const char *key)
{
	return sweep_add(s, prefix, ns, key, 0);
}

int
cbd_sweep_pattern(
    cbd_sweep *s, const char *prefix, const char *ns, const char *pattern)
{
	return sweep_add(s, prefix, ns, pattern, 1);
}

static void sweep_next(cbd_req *req);

/* sweep_of is the sweep req runs. */
static cbd_sweep *
sweep_of(const cbd_req *req)
{
	return req->op.task;
}

/* sweep_l1_drop drops what the sweep named from the L1, done or not:
 * its keys, and for a pattern the whole namespace. */
static void
sweep_l1_drop(cbd_req *req, const cbd_sweep *s)
{
	cbd_l1 *l1 = cbd_svc_env(req)->l1;
	char    lit[CBD_SVC_L1_KEY];

	for (size_t i = 0; l1 != NULL && i < s->n; i++) {
		const sweep_item *it = &s->items[i];
		if (!it->pattern) {
			cbd_l1_invalidate(l1, it->text);
		} else if (it->lit < sizeof(lit)) {
			memcpy(lit, it->text, it->lit);
			lit[it->lit] = '\0';
			cbd_l1_invalidate_prefix(l1, lit);
		} else {
			cbd_l1_clear(l1);
		}
	}
}

/*
 * sweep_end is the sweep's park cleanup: it runs when its request is
 * answered, whatever answered it (the sweep's end, its deadline, the
 * drain). A sweep that did not finish (Redis down, deadline, error) is
 * not forgotten: the journal applies it when Redis is back. Then the
 * sweep is freed.
 */
static void
sweep_end(cbd_req *req, void *arg)
{
	cbd_sweep *s = arg;

	req->op.task = NULL;
	sweep_l1_drop(req, s);
	for (size_t i = 0; s->journal != NULL && !s->ok && i < s->n; i++) {
		cbd_journal_add(s->journal, s->items[i].ns,
		    s->items[i].text + s->items[i].lit, s->items[i].pattern);
	}
	cbd_sweep_free(s);
}

/* counted adds what an UNLINK removed to the request, to its item (for a
 * group of keys, the first) and to the namespace's counters. */
static void
counted(cbd_req *req, sweep_item *it, redisReply *r)
{
	if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
		req->op.count += (uint64_t) r->integer;
		it->removed += (uint64_t) r->integer;
		cbd_stats_ns(req->host->stats, it->ns)->invalidations +=
		    (uint64_t) r->integer;
	}
}

/*
 * sweep_feed announces a sweep that succeeded on the invalidation feed:
 * one message per namespace, with that namespace's keys and patterns
 * (without "<prefix><ns>:") and the keys removed under them. It runs
 * before the answer, so a caller told OK knows the news has been sent.
 */
static void
sweep_feed(cbd_req *req)
{
	cbd_sweep                    *s    = sweep_of(req);
	struct cbd_feed              *feed = cbd_svc_env(req)->feed;
	Cachebroker__V1__Invalidation inv;
	char                        **names;
	size_t                        i, j;

	if (feed == NULL || req->op.code != CB_OK || s->n == 0) {
		return;
	}
	/* One array: keys in the first half, patterns in the second. */
	if ((names = malloc(2 * s->n * sizeof(*names))) == NULL) {
		cbd_log_warning("feed: out of memory, an invalidation of %s "
		                "was not announced",
		    s->items[0].ns);
		return;
	}
	for (i = 0; i < s->n; i++) {
		for (j = 0;
		     j < i && strcmp(s->items[j].ns, s->items[i].ns) != 0;
		     j++) { }
		if (j < i) {
			continue; /* its namespace went out already */
		}
		cachebroker__v1__invalidation__init(&inv);
		inv.namespace_ = s->items[i].ns;
		inv.keys       = names;
		inv.patterns   = names + s->n;
		for (j = i; j < s->n; j++) {
			sweep_item *it = &s->items[j];
			if (strcmp(it->ns, s->items[i].ns) != 0) {
				continue;
			}
			if (it->pattern) {
				inv.patterns[inv.n_patterns++] =
				    it->text + it->lit;
			} else {
				inv.keys[inv.n_keys++] = it->text + it->lit;
			}
			inv.keys_removed += it->removed;
		}
		cbd_feed_publish(feed, &inv);
	}
	free(names);
}

static void
sweep_finish(cbd_req *req)
{
	sweep_of(req)->ok = req->op.code == CB_OK;
	sweep_feed(req);
	sweep_of(req)->done(req);
}

/* keys_cb: an UNLINK of keys; unlink_cb: an UNLINK of a SCAN batch. */
static void
keys_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_svc_reply(arg, tag, r, &ok);

	if (req == NULL) {
		return;
	}
	if (ok) {
		counted(req, &sweep_of(req)->items[(uint32_t) tag], r);
	}
	if (req->op.code != CB_OK) {
		sweep_finish(req);
		return;
	}
	sweep_next(req);
}

static void scan_step(cbd_req *req);

static void
unlink_cb(void *arg, uint64_t tag, redisReply *r)
{
	int        ok;
	cbd_req   *req = cbd_svc_reply(arg, tag, r, &ok);
	cbd_sweep *s;

	if (req == NULL) {
		return;
	}
	s = sweep_of(req);
	if (ok) {
		counted(req, &s->items[s->next], r);
	}
	if (req->op.code != CB_OK) {
		sweep_finish(req);
	} else if (strcmp(s->cursor, "0") == 0) {
		s->next++;
		sweep_next(req);
	} else {
		scan_step(req);
	}
}

/* scan_unlink sends UNLINK for the keys of a SCAN batch that really are
 * inside the namespace; returns 1 if it sent one, 0 if there was nothing,
 * -1 if the request was answered. */
static int
scan_unlink(cbd_req *req, const sweep_item *it, redisReply *keys)
{
	cbd_redis_conn *c;
	cbd_cmd         cmd;
	size_t          n = 0;

	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < keys->elements; i++) {
			redisReply *k = keys->element[i];
			if (k->type != REDIS_REPLY_STRING ||
			    k->len < it->lit ||
			    memcmp(k->str, it->text, it->lit) != 0) {
				continue;
			}
			if (pass == 0) {
				n++;
			} else {
				cbd_cmd_arg(&cmd, k->str, k->len);
			}
		}
		if (pass == 0) {
			if (n == 0) {
				return 0;
			}
			if ((c = cbd_svc_conn(req)) == NULL ||
			    cbd_svc_cmd(req, &cmd, (int) n + 1, 0) != 0) {
				return -1;
			}
			cbd_cmd_str(&cmd, "UNLINK");
		}
	}
	/* hiredis copies the arguments: the SCAN reply may go after this. */
	return cbd_svc_send(req, c, unlink_cb, 1, &cmd) == 0 ? 1 : -1;
}

static void
scan_cb(void *arg, uint64_t tag, redisReply *r)
{
	int        ok;
	cbd_req   *req = cbd_svc_reply(arg, tag, r, &ok);
	cbd_sweep *s;

	if (req == NULL) {
		return;
	}
	s = sweep_of(req);
	if (ok &&
	    (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	        r->element[0]->type != REDIS_REPLY_STRING ||
	        r->element[0]->len >= sizeof(s->cursor) ||
	        r->element[1]->type != REDIS_REPLY_ARRAY)) {
		req->op.code = CB_INTERNAL;
		snprintf(
		    req->op.msg, sizeof(req->op.msg), "unexpected SCAN reply");
		ok = 0;
	}
	if (!ok) {
		sweep_finish(req);
		return;
	}
	memcpy(s->cursor, r->element[0]->str, r->element[0]->len);
	s->cursor[r->element[0]->len] = '\0';
	if (scan_unlink(req, &s->items[s->next], r->element[1]) != 0) {
		return; /* unlink_cb goes on, or the request was answered */
	}
	if (strcmp(s->cursor, "0") == 0) {
		s->next++;
		sweep_next(req);
		return;
	}
	scan_step(req);
}

static void
scan_step(cbd_req *req)
{
	cbd_sweep      *s = sweep_of(req);
	cbd_redis_conn *c;
	cbd_cmd         cmd;

	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_cmd(req, &cmd, 6, CBD_CMD_INT_SIZE) != 0) {
		return;
	}
	cbd_cmd_str(&cmd, "SCAN");
	cbd_cmd_str(&cmd, s->cursor);
	cbd_cmd_str(&cmd, "MATCH");
	cbd_cmd_str(&cmd, s->items[s->next].text);
	cbd_cmd_str(&cmd, "COUNT");
	cbd_cmd_int(&cmd, cbd_req_config(req)->redis.scan_count);
	(void) cbd_svc_send(req, c, scan_cb, 0, &cmd);
}

/* sweep_next runs the item at s->next: a group of keys of one namespace,
 * or a pattern; at the end, done. */
static void
sweep_next(cbd_req *req)
{
	cbd_sweep      *s = sweep_of(req);
	cbd_redis_conn *c;
	cbd_cmd         cmd;
	size_t          end;

	if (s->next == s->n) {
		sweep_finish(req);
		return;
	}
	if (s->items[s->next].pattern) {
		strcpy(s->cursor, "0");
		scan_step(req);
		return;
	}
	for (end = s->next; end < s->n && !s->items[end].pattern &&
	     strcmp(s->items[end].ns, s->items[s->next].ns) == 0;
	     end++) { }
	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_cmd(req, &cmd, (int) (end - s->next) + 1, 0) != 0) {
		return;
	}
	cbd_cmd_str(&cmd, "UNLINK");
	for (size_t i = s->next; i < end; i++) {
		cbd_cmd_str(&cmd, s->items[i].text);
	}
	/* The tag names the group's first item, for its namespace. */
	if (cbd_svc_send(req, c, keys_cb, (uint32_t) s->next, &cmd) == 0) {
		s->next = end;
	}
}

void
cbd_sweep_run(cbd_req *req, cbd_sweep *s, cbd_sweep_done_fn *done)
{
	cbd_env *env = cbd_svc_env(req);

	req->op.task = s;
	cbd_req_park(req, sweep_end, s);
	s->done    = done;
	s->journal = cbd_req_journaled(req) ? env->journal : NULL;
	for (size_t i = 0; i < s->n; i++) {
		if (i == 0 ||
		    strcmp(s->items[i].ns, s->items[i - 1].ns) != 0) {
			cbd_loader_invalidated(env->loader, s->items[i].ns);
		}
	}
	sweep_next(req);
}

/* SPDX-License-Identifier: MIT */
/* The invalidation journal: invalidations that did not reach Redis. */
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "loop.h"
#include "redis_pool.h"
#include "request.h"
#include "router.h"

/* Keys per replayed Delete, and how long a replay may take. */
#define REPLAY_KEYS 256
#define REPLAY_DEADLINE_MS 60000
/* After a failed replay, wait this long before the next round. */
#define REPLAY_PAUSE_US 500000

typedef struct strv {
	char **v;
	size_t n;
	size_t cap;
} strv;

/* One namespace's records. Lives while it has records or replays out. */
typedef struct jentry {
	struct jentry *next;
	char           ns[CBD_MAX_NAMESPACE + 1];
	strv           keys;
	strv           patterns;
	int            flush;     /* all of ns: covers keys and patterns */
	unsigned       replaying; /* replay requests not yet answered */
} jentry;

/* One replay request: what it carries, to put back if it fails. */
typedef struct jbatch {
	cbd_journal *j;
	jentry      *e;
	strv         keys;    /* a Delete */
	char        *pattern; /* or an InvalidatePattern ("*": flush) */
} jbatch;

struct cbd_journal {
	cbd_req_host   *host;  /* replays run as its requests */
	cbd_redis_pool *redis; /* replays wait for it */
	jentry         *head;
	size_t          items; /* records waiting (not those out for replay) */
	size_t          max;
	uint64_t        pause_until_us;
};

static void
strv_clear(strv *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i]);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
strv_push(strv *s, const char *text)
{
	char *copy;

	if (s->n == s->cap) {
		size_t cap   = s->cap == 0 ? 8 : s->cap * 2;
		char **grown = realloc(s->v, cap * sizeof(*grown));
		if (grown == NULL) {
			return -1;
		}
		s->v   = grown;
		s->cap = cap;
	}
	if ((copy = strdup(text)) == NULL) {
		return -1;
	}
	s->v[s->n++] = copy;
	return 0;
}

cb_status
cbd_journal_alloc(cbd_journal **out, cbd_req_host *host, cbd_redis_pool *redis,
    size_t max_items)
{
	cbd_journal *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	j->host  = host;
	j->redis = redis;
	j->max   = max_items;
	*out     = j;
	return CB_OK;
}

static void
entry_free(jentry *e)
{
	strv_clear(&e->keys);
	strv_clear(&e->patterns);
	free(e);
}

void
cbd_journal_free(cbd_journal *j)
{
	if (j == NULL) {
		return;
	}
	while (j->head != NULL) {
		jentry *e = j->head;
		j->head   = e->next;
		entry_free(e);
	}
	free(j);
}

static jentry *
entry_find(const cbd_journal *j, const char *ns)
{
	for (jentry *e = j->head; e != NULL; e = e->next) {
		if (strcmp(e->ns, ns) == 0) {
			return e;
		}
	}
	return NULL;
}

/* entry_get finds or creates the entry of ns, saying so at level when it
 * creates one; NULL (logged) when out of memory: there is nothing to hold
 * the record in, and no block either. */
static jentry *
entry_get(cbd_journal *j, const char *ns, int level)
{
	jentry *e = entry_find(j, ns);

	if (e != NULL) {
		return e;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		cbd_log_error(
		    "journal: out of memory: an invalidation of '%s' "
		    "is lost",
		    ns);
		return NULL;
	}
	snprintf(e->ns, sizeof(e->ns), "%s", ns);
	e->next = j->head;
	j->head = e;
	cbd_log(level,
	    "journal: '%s' has invalidations to apply; it is not read from "
	    "the cache until they are",
	    ns);
	return e;
}

/* entry_flush turns e's records into one "flush the namespace". */
static void
entry_flush(cbd_journal *j, jentry *e)
{
	j->items -= e->keys.n + e->patterns.n + (size_t) e->flush;
	strv_clear(&e->keys);
	strv_clear(&e->patterns);
	e->flush = 1;
	j->items++;
}

void
cbd_journal_flush(cbd_journal *j, const char *ns)
{
	jentry *e = entry_get(j, ns, CBD_LOG_WARNING);

	if (e != NULL && !e->flush) {
		entry_flush(j, e);
	}
}

/* journal_add: cbd_journal_add, saying at level that ns is blocked. */
static void
journal_add(
    cbd_journal *j, const char *ns, const char *tail, int pattern, int level)
{
	jentry *e = entry_get(j, ns, level);
	strv   *s;

	if (e == NULL || e->flush) {
		return; /* lost (logged), or already covered */
	}
	s = pattern ? &e->patterns : &e->keys;
	if (pattern) {
		for (size_t i = 0; i < s->n; i++) {
			if (strcmp(s->v[i], tail) == 0) {
				return;
			}
		}
	}
	if (j->items >= j->max || strv_push(s, tail) != 0) {
		cbd_log_warning("journal: full (%zu records): '%s' will be "
		                "flushed whole instead",
		    j->items, ns);
		entry_flush(j, e);
		return;
	}
	j->items++;
}

void
cbd_journal_add(cbd_journal *j, const char *ns, const char *tail, int pattern)
{
	journal_add(j, ns, tail, pattern, CBD_LOG_WARNING);
}

void
cbd_journal_plan(cbd_journal *j, const char *ns, const char *tail, int pattern)
{
	journal_add(j, ns, tail, pattern, CBD_LOG_INFO);
}

int
cbd_journal_blocks(const cbd_journal *j, const char *ns)
{
	return j->head != NULL && entry_find(j, ns) != NULL;
}

size_t
cbd_journal_items(const cbd_journal *j)
{
	size_t n = j->items;

	for (const jentry *e = j->head; e != NULL; e = e->next) {
		n += e->replaying;
	}
	return n;
}

size_t
cbd_journal_namespaces(const cbd_journal *j)
{
	size_t n = 0;

	for (const jentry *e = j->head; e != NULL; e = e->next) {
		n++;
	}
	return n;
}

static void
entry_maybe_done(cbd_journal *j, jentry *e)
{
	jentry **pp;

	if (e->replaying > 0 || e->flush || e->keys.n > 0 ||
	    e->patterns.n > 0) {
		return;
	}
	for (pp = &j->head; *pp != e; pp = &(*pp)->next) { }
	*pp = e->next;
	cbd_log_info(
	    "journal: '%s' applied; reading it from the cache again", e->ns);
	entry_free(e);
}

static void
batch_free(jbatch *b)
{
	strv_clear(&b->keys);
	free(b->pattern);
	free(b);
}

static void
replay_done(void *arg, cb_status code, const char *message,
    const void *payload, size_t plen)
{
	jbatch      *b = arg;
	cbd_journal *j = b->j;
	jentry      *e = b->e;

	(void) payload;
	(void) plen;
	e->replaying--;
	if (code != CB_OK) {
		/* Put it back; the next round tries again. */
		cbd_log_debug("journal: replay of '%s' failed: %s: %s", e->ns,
		    cb_status_str(code), message);
		if (b->pattern != NULL && strcmp(b->pattern, "*") == 0) {
			cbd_journal_flush(j, e->ns);
		} else if (b->pattern != NULL) {
			cbd_journal_add(j, e->ns, b->pattern, 1);
		}
		for (size_t i = 0; i < b->keys.n; i++) {
			cbd_journal_add(j, e->ns, b->keys.v[i], 0);
		}
		j->pause_until_us = cbd_now_us() + REPLAY_PAUSE_US;
	}
	batch_free(b);
	entry_maybe_done(j, e);
}

/* replay_submit sends one batch; on failure its records go back. */
static void
replay_submit(cbd_journal *j, jbatch *b)
{
	Cachebroker__V1__DeleteRequest del =
	    CACHEBROKER__V1__DELETE_REQUEST__INIT;
	Cachebroker__V1__InvalidatePatternRequest pat =
	    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
	const ProtobufCMessage *in;
	int                     method;
	char                    why[160];
	cb_status               rv;

	if (b->pattern != NULL) {
		pat.namespace_ = b->e->ns;
		pat.pattern    = b->pattern;
		in             = &pat.base;
		method         = CBD_M_CACHE_INVALIDATE_PATTERN;
	} else {
		del.namespace_ = b->e->ns;
		del.keys       = b->keys.v;
		del.n_keys     = b->keys.n;
		in             = &del.base;
		method         = CBD_M_CACHE_DELETE;
	}
	b->e->replaying++;
	rv = cbd_req_submit(j->host, NULL, method, in, REPLAY_DEADLINE_MS,
	    CBD_SUBMIT_REPLAY, replay_done, b, why, sizeof(why));
	if (rv == CB_OK) {
		return;
	}
	if (rv == CB_INVALID_ARGUMENT && b->pattern != NULL &&
	    strcmp(b->pattern, "*") == 0) {
		/* Only the namespace itself can fail a flush, and namespace
		 * rules do not change: it can never be applied. */
		cbd_log_error(
		    "journal: dropping a record of '%s': %s", b->e->ns, why);
		b->e->replaying--;
		batch_free(b);
		return;
	}
	if (rv == CB_INVALID_ARGUMENT || rv == CB_RESOURCE_EXHAUSTED) {
		/* Records passed the checks of their time; limits lowered
		 * since by a reload (max_key_size, max_batch_keys) may refuse
		 * them now. A flush of the namespace covers them and passes.
		 */
		cbd_log_warning("journal: '%s': %s; flushing the namespace "
		                "instead",
		    b->e->ns, why);
		cbd_journal_flush(j, b->e->ns);
	}
	replay_done(b, rv, why, NULL, 0);
}

/* entry_replay moves e's records into replay batches. */
static void
entry_replay(cbd_journal *j, jentry *e)
{
	strv    keys     = e->keys;
	strv    patterns = e->patterns;
	int     flush    = e->flush;
	size_t  at       = 0;
	jbatch *b;

	memset(&e->keys, 0, sizeof(e->keys));
	memset(&e->patterns, 0, sizeof(e->patterns));
	e->flush = 0;
	j->items -= keys.n + patterns.n + (size_t) flush;
	if (flush && strv_push(&patterns, "*") != 0) {
		cbd_journal_flush(j, e->ns); /* back; retried later */
	}
	e->replaying++; /* hold e while batches start */
	for (size_t i = 0; i < patterns.n; i++) { /* flush: only "*" */
		if ((b = calloc(1, sizeof(*b))) == NULL) {
			cbd_journal_add(j, e->ns, patterns.v[i], 1);
			continue;
		}
		b->j          = j;
		b->e          = e;
		b->pattern    = patterns.v[i];
		patterns.v[i] = NULL;
		replay_submit(j, b);
	}
	while (!flush && at < keys.n) {
		size_t n =
		    keys.n - at < REPLAY_KEYS ? keys.n - at : REPLAY_KEYS;
		if ((b = calloc(1, sizeof(*b))) == NULL ||
		    (b->keys.v = calloc(n, sizeof(char *))) == NULL) {
			free(b);
			for (; at < keys.n; at++) {
				cbd_journal_add(j, e->ns, keys.v[at], 0);
			}
			break;
		}
		b->j = j;
		b->e = e;
		memcpy(b->keys.v, keys.v + at, n * sizeof(char *));
		memset(keys.v + at, 0, n * sizeof(char *));
		b->keys.n = b->keys.cap = n;
		at += n;
		replay_submit(j, b);
	}
	strv_clear(&keys);
	strv_clear(&patterns);
	e->replaying--;
	entry_maybe_done(j, e);
}

void
cbd_journal_cron(cbd_journal *j)
{
	jentry *e;
	jentry *next;

	if (j->items == 0 || cbd_now_us() < j->pause_until_us ||
	    cbd_redis_ready_count(j->redis) == 0) {
		return;
	}
	for (e = j->head; e != NULL; e = next) {
		next = e->next; /* e may be freed */
		if (e->replaying == 0) {
			entry_replay(j, e);
		}
	}
}

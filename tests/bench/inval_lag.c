/* SPDX-License-Identifier: MIT */
/* The commit-to-evict lag: UPDATE a cached row, time its key's removal. */
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bench.h"
#include "fetch.h"
#include "hist.h"
#include "inval.h"

/*
 * For each value v = first, first + 1, ...:
 *
 *   Fetch R{P=v} (libcachebroker) ──► EXISTS key is 1 (the key is cached)
 *   UPDATE ... $1 = v (libpq, autocommit) ──► t_commit: PQexecParams
 *       returned, the row is committed
 *          trigger ─NOTIFY─► broker (LISTEN) ─event rule─► UNLINK key
 *          Redis ─"del" keyspace notification─► our subscription: t_del
 *   lag = t_del - t_commit; then EXISTS key is 0
 *
 * Keyspace notifications rather than a loop of EXISTS: a poll loop is one
 * more client keeping Redis busy while the broker's UNLINK waits its turn
 * (on two cores it also takes CPU from the broker and PostgreSQL), and it
 * resolves no better than its own round trip. Redis publishes the "del"
 * when it runs the UNLINK; this process waits in read() on an otherwise
 * idle connection and takes the time when the event arrives. An event
 * that is already there when the commit returns (the broker beat
 * PostgreSQL's answer to us) is counted as "early"; its lag is the time
 * it takes us to read it.
 */

/*
 * The events: E (keyevent channels, one per event, the key as message), g
 * (generic commands: DEL, UNLINK, and the EXPIRE of a SET with PX). Only
 * the del channel is subscribed to: the expire that each Fetch's store
 * makes is never sent to us.
 */
#define LAG_EVENTS "Eg"

typedef struct lag_run {
	const ib_opts *o;
	fb_opts        fo;               /* the Fetch: url, resource, param */
	cb_client     *client;           /* the broker */
	redisContext  *data;             /* EXISTS, CONFIG */
	redisContext  *sub;              /* subscribed to del events */
	PGconn        *pg;               /* the writer */
	char           saved_events[64]; /* notify-keyspace-events before */
	bool           events_set;       /* ours is in force */
	bench_hist     lag;              /* commit to del */
	bench_hist     commit;           /* the UPDATE's round trip */
	uint64_t       early;            /* dels there before the commit */
	uint64_t       errors;
	char           first_err[IB_ERR_MAX];
} lag_run;

/* lag_fail counts a failed step and keeps the first reason. */
static void
lag_fail(lag_run *l, const char *why)
{
	if (l->errors++ == 0) {
		(void) snprintf(l->first_err, sizeof(l->first_err), "%s", why);
	}
}

/* lag_expect checks that EXISTS key is want (1 or 0); otherwise it counts
 * a failure and returns -1. when says what came before. */
static int
lag_expect(lag_run *l, const char *key, long long want, const char *when)
{
	char        err[IB_ERR_MAX];
	redisReply *r =
	    ib_redis_cmd(l->data, err, sizeof(err), "EXISTS %s", key);
	long long got;

	if (r == NULL) {
		lag_fail(l, err);
		return (-1);
	}
	got = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
	if (got == want) {
		return (0);
	}
	(void) snprintf(err, sizeof(err), "EXISTS %s is %lld %s, not %lld",
	    key, got, when, want);
	lag_fail(l, err);
	return (-1);
}

/*
 * lag_open connects everything, turns keyspace notifications on (saving
 * the setting) and subscribes to the del events. 0 or -1.
 */
static int
lag_open(lag_run *l)
{
	const ib_opts *o = l->o;
	char           err[IB_ERR_MAX];
	redisReply    *r;

	if (bench_client_open(&l->client, o->url, o->timeout_ms) != 0 ||
	    ib_redis_open(o->redis, &l->data) != 0 ||
	    ib_redis_open(o->redis, &l->sub) != 0) {
		return (-1);
	}
	l->pg = PQconnectdb(o->pg);
	if (PQstatus(l->pg) != CONNECTION_OK) {
		fprintf(stderr, "cb_inval_bench: postgres: %s",
		    PQerrorMessage(l->pg));
		return (-1);
	}
	r = ib_redis_cmd(
	    l->data, err, sizeof(err), "CONFIG GET notify-keyspace-events");
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		fprintf(stderr, "cb_inval_bench: %s\n",
		    r == NULL ? err : "CONFIG GET: unexpected reply");
		freeReplyObject(r);
		return (-1);
	}
	(void) snprintf(l->saved_events, sizeof(l->saved_events), "%s",
	    r->element[1]->str);
	freeReplyObject(r);
	r = ib_redis_cmd(l->data, err, sizeof(err),
	    "CONFIG SET notify-keyspace-events %s", LAG_EVENTS);
	if (r == NULL) {
		goto fail;
	}
	freeReplyObject(r);
	l->events_set = true;
	r             = ib_redis_cmd(
	                l->sub, err, sizeof(err), "PSUBSCRIBE __keyevent@*__:del");
	if (r == NULL) {
		goto fail;
	}
	freeReplyObject(r);
	return (0);
fail:
	fprintf(stderr, "cb_inval_bench: %s\n", err);
	return (-1);
}

static void
lag_close(lag_run *l)
{
	char        err[IB_ERR_MAX];
	redisReply *r;

	if (l->events_set) {
		r = ib_redis_cmd(l->data, err, sizeof(err),
		    "CONFIG SET notify-keyspace-events %s", l->saved_events);
		freeReplyObject(r);
	}
	if (l->data != NULL) {
		redisFree(l->data);
	}
	if (l->sub != NULL) {
		redisFree(l->sub);
	}
	PQfinish(l->pg);
	cb_client_close(l->client);
}

/*
 * lag_wait_del reads the subscription until the "del" of key arrives
 * (other keys' events are passed over). 0, or -1 and err: the connection
 * failed or nothing came within its 10 s timeout, and it is unusable.
 */
static int
lag_wait_del(lag_run *l, const char *key, char *err, size_t errlen)
{
	size_t klen = strlen(key);

	for (;;) {
		redisReply *r = NULL;
		int         hit;

		if (redisGetReply(l->sub, (void **) &r) != REDIS_OK) {
			(void) snprintf(err, errlen,
			    "del events: %s (no del of %s)", l->sub->errstr,
			    key);
			return (-1);
		}
		/* pmessage, pattern, "__keyevent@N__:del", the key */
		hit = r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
		    r->element[3]->type == REDIS_REPLY_STRING &&
		    r->element[3]->len == klen &&
		    memcmp(r->element[3]->str, key, klen) == 0;
		freeReplyObject(r);
		if (hit) {
			return (0);
		}
	}
}

/* lag_one runs one value: Fetch, check, UPDATE, wait. -1 when the
 * subscription is lost (the run cannot go on). */
static int
lag_one(lag_run *l, int64_t v)
{
	const ib_opts *o = l->o;
	char           key[256];
	char           num[24];
	const char    *vals[] = { num };
	char           err[IB_ERR_MAX];
	struct pollfd  pfd = { .fd = l->sub->fd, .events = POLLIN };
	PGresult      *res;
	uint64_t       t0, t_commit, t_del;
	size_t         len;
	int            src;
	int            ok;

	(void) snprintf(key, sizeof(key), "%s%" PRId64, o->key_prefix, v);
	(void) snprintf(num, sizeof(num), "%" PRId64, v);
	if (fb_fetch(l->client, &l->fo, v, &src, &len, err, sizeof(err)) !=
	    0) {
		lag_fail(l, err);
		return (0);
	}
	if (lag_expect(l, key, 1, "after a Fetch") != 0) {
		return (0);
	}
	t0       = bench_now_ns();
	res      = PQexecParams(l->pg, o->sql, 1, NULL, vals, NULL, NULL, 0);
	t_commit = bench_now_ns();
	ok       = PQresultStatus(res) == PGRES_COMMAND_OK &&
	    strcmp(PQcmdTuples(res), "1") == 0;
	if (!ok) {
		(void) snprintf(err, sizeof(err), "UPDATE $1=%s: %s %s", num,
		    PQcmdTuples(res), PQresultErrorMessage(res));
	}
	PQclear(res);
	if (!ok) {
		lag_fail(l, err);
		return (0);
	}
	if (poll(&pfd, 1, 0) > 0) {
		l->early++;
	}
	if (lag_wait_del(l, key, err, sizeof(err)) != 0) {
		lag_fail(l, err);
		return (-1);
	}
	t_del = bench_now_ns();
	bench_hist_add(&l->lag, t_del - t_commit);
	bench_hist_add(&l->commit, t_commit - t0);
	(void) lag_expect(l, key, 0, "after its del");
	return (0);
}

int
ib_lag_run(const ib_opts *o)
{
	lag_run *l;
	uint64_t t0;
	double   wall_s;
	int      code = 1;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		fprintf(stderr, "cb_inval_bench: out of memory\n");
		return (1);
	}
	l->o             = o;
	l->fo.url        = o->url;
	l->fo.resource   = o->resource;
	l->fo.param      = o->param;
	l->fo.timeout_ms = o->timeout_ms;
	bench_hist_init(&l->lag);
	bench_hist_init(&l->commit);
	if (lag_open(l) != 0) {
		goto out;
	}
	t0 = bench_now_ns();
	for (int64_t i = 0; i < o->keys; i++) {
		if (lag_one(l, o->first + i) != 0) {
			break;
		}
	}
	wall_s = (double) (bench_now_ns() - t0) / 1e9;
	printf("row=%s concurrency=1 errors=%" PRIu64, o->label, l->errors);
	bench_hist_print(&l->lag);
	printf(" commit_p50_us=%.1f commit_p99_us=%.1f early=%" PRIu64
	       " wall_s=%.3f\n",
	    (double) bench_hist_percentile(&l->commit, 50) / 1e3,
	    (double) bench_hist_percentile(&l->commit, 99) / 1e3, l->early,
	    wall_s);
	(void) fflush(stdout);
	code = 0;
	if (l->errors > 0 || l->lag.count != (uint64_t) o->keys) {
		fprintf(stderr,
		    "cb_inval_bench: *** %s: %" PRIu64 " FAILED, %" PRIu64
		    " of %" PRId64 " timed; first failure: %s ***\n",
		    o->label, l->errors, l->lag.count, o->keys,
		    l->first_err[0] ? l->first_err : "(none)");
		code = 2;
	}
out:
	lag_close(l);
	free(l);
	return (code);
}

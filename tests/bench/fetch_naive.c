/* SPDX-License-Identifier: MIT */
/* The naive cache-aside client of the stampede: what getOrSet used to do. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include "bench.h"
#include "fetch.h"

/*
 * Each worker is one service thread with its own Redis connection and its
 * own PostgreSQL connection (both opened before the release), doing what
 * the services' getOrSet did before the broker:
 *
 *   GET key ──hit──► done
 *      │ nil
 *      ▼
 *   SELECT (the resource's SQL, $1 = value) ──► SET key value PX ttl
 *
 * Nothing tells one worker that another is already loading the key, so
 * every worker whose GET comes before the first SET queries the database.
 */

typedef struct naive_target {
	char host[256]; /* Redis host */
	int  port;      /* Redis port */
} naive_target;

typedef struct naive_conn {
	redisContext *redis; /* this worker's Redis connection */
	PGconn       *pg;    /* this worker's database connection */
} naive_conn;

/* chomp cuts the trailing newline libpq puts on its messages. */
static const char *
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
		s[--n] = '\0';
	}
	return (s);
}

/*
 * naive_warm runs a query over the same table and functions once on the
 * new connection, as a pooled connection of a running service would have
 * long ago: a fresh backend's first statement loads the catalog caches,
 * which would otherwise be timed. The query is wrapped (another queryid,
 * its text names warm_up) and asks for a key that has no rows, so
 * run-fetch.sh counts only the SELECTs of the stampede itself.
 */
static int
naive_warm(fb_stampede_worker *w, naive_conn *nc)
{
	const char *vals[] = { "-1000000" };
	PGresult   *res;
	char       *sql;
	int         rv = 0;

	if (asprintf(&sql, "SELECT count(*) AS warm_up FROM (%s) AS warm_up",
	        w->o->sql) < 0) {
		(void) snprintf(w->err, sizeof(w->err), "out of memory");
		return (-1);
	}
	res = PQexecParams(nc->pg, sql, 1, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		(void) snprintf(w->err, sizeof(w->err), "warm-up: %s",
		    chomp(PQerrorMessage(nc->pg)));
		rv = -1;
	}
	PQclear(res);
	free(sql);
	return (rv);
}

static int
naive_setup(fb_stampede_worker *w)
{
	const naive_target *t  = w->shared;
	struct timeval      tv = { 10, 0 };
	naive_conn         *nc;

	if ((nc = calloc(1, sizeof(*nc))) == NULL) {
		(void) snprintf(w->err, sizeof(w->err), "out of memory");
		return (-1);
	}
	w->own    = nc;
	nc->redis = redisConnectWithTimeout(t->host, t->port, tv);
	if (nc->redis == NULL || nc->redis->err != 0) {
		(void) snprintf(w->err, sizeof(w->err), "redis %s:%d: %s",
		    t->host, t->port,
		    nc->redis ? nc->redis->errstr : "out of memory");
		return (-1);
	}
	(void) redisSetTimeout(nc->redis, tv);
	nc->pg = PQconnectdb(w->o->pg);
	if (nc->pg == NULL || PQstatus(nc->pg) != CONNECTION_OK) {
		(void) snprintf(w->err, sizeof(w->err), "postgres: %s",
		    nc->pg ? chomp(PQerrorMessage(nc->pg)) : "out of memory");
		return (-1);
	}
	return (naive_warm(w, nc));
}

/* naive_load is the miss path: SELECT, then SET. 0, or -1 and w->err. */
static int
naive_load(fb_stampede_worker *w, naive_conn *nc, const char *num)
{
	const fb_opts *o      = w->o;
	const char    *vals[] = { num };
	PGresult      *res;
	redisReply    *r;
	const char    *val;
	int            len;
	int            rv = -1;

	res = PQexecParams(nc->pg, o->sql, 1, NULL, vals, NULL, NULL, 0);
	w->t_select = bench_now_ns();
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		(void) snprintf(w->err, sizeof(w->err), "SELECT: %s",
		    chomp(PQerrorMessage(nc->pg)));
		goto out;
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 1 ||
	    PQgetisnull(res, 0, 0)) {
		(void) snprintf(
		    w->err, sizeof(w->err), "SELECT $1=%s: no value", num);
		goto out;
	}
	val = PQgetvalue(res, 0, 0);
	len = PQgetlength(res, 0, 0);
	if (len < 2 || (val[0] != '{' && val[0] != '[')) {
		(void) snprintf(w->err, sizeof(w->err),
		    "SELECT $1=%s: %d bytes that are not JSON text", num, len);
		goto out;
	}
	r = redisCommand(nc->redis, "SET %s %b PX %" PRId64, o->key, val,
	    (size_t) len, o->ttl_ms);
	if (r == NULL || r->type != REDIS_REPLY_STATUS) {
		(void) snprintf(w->err, sizeof(w->err), "SET: %s",
		    r == NULL                          ? nc->redis->errstr
		        : r->type == REDIS_REPLY_ERROR ? r->str
		                                       : "unexpected reply");
	} else {
		rv = 0;
	}
	freeReplyObject(r);
out:
	PQclear(res);
	return (rv);
}

static void
naive_call(fb_stampede_worker *w)
{
	naive_conn *nc = w->own;
	redisReply *r;
	char        num[24];

	(void) snprintf(num, sizeof(num), "%" PRId64, w->o->value);
	w->t_start = bench_now_ns();
	r          = redisCommand(nc->redis, "GET %s", w->o->key);
	w->t_get   = bench_now_ns();
	if (r == NULL) {
		(void) snprintf(
		    w->err, sizeof(w->err), "GET: %s", nc->redis->errstr);
		w->failed = true;
	} else if (r->type == REDIS_REPLY_NIL) {
		w->miss   = true;
		w->failed = naive_load(w, nc, num) != 0;
	} else if (r->type != REDIS_REPLY_STRING) {
		(void) snprintf(w->err, sizeof(w->err), "GET: %s",
		    r->type == REDIS_REPLY_ERROR ? r->str
		                                 : "unexpected reply");
		w->failed = true;
	}
	freeReplyObject(r);
	w->t_end = bench_now_ns();
}

static void
naive_teardown(fb_stampede_worker *w)
{
	naive_conn *nc = w->own;

	if (nc == NULL) {
		return;
	}
	if (nc->redis != NULL) {
		redisFree(nc->redis);
	}
	PQfinish(nc->pg); /* NULL-safe */
	free(nc);
	w->own = NULL;
}

static const fb_stampede_ops naive_ops = {
	.setup    = naive_setup,
	.call     = naive_call,
	.teardown = naive_teardown,
};

int
fb_naive_stampede(const fb_opts *o)
{
	naive_target t;

	memset(&t, 0, sizeof(t));
	if (bench_parse_hostport(o->redis, t.host, sizeof(t.host), &t.port) !=
	    0) {
		fprintf(stderr, "cb_fetch_bench: bad --redis: %s\n", o->redis);
		return (1);
	}
	return (fb_stampede_run(o, &naive_ops, &t));
}

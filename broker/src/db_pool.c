/* SPDX-License-Identifier: MIT */
/* The database pool: non-blocking libpq connections on the backend loop. */
#include "db_pool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <event2/event.h>

#include "backoff.h"
#include "db_cancel.h"
#include "keys.h"
#include "log.h"
#include "loop.h"

/*
 * A connection slot lives as long as the pool; its PGconn comes and goes:
 *
 *   DEAD ─timer─► CONNECTING ─PQconnectPoll OK─► (SETUP: LISTEN only) ─►
 *    ▲               │                             │
 *    │               └────── failure, timeout ─────┤
 *    └──────────── failure, stuck query ◄── IDLE ⇄ BUSY
 *                                            ▲      │ abandoned query
 *                          cancel delivered  │      ▼ ended, its cancel
 *                                            └─ CANCELLING  not yet sent
 *
 * A connection runs one query at a time; queries wait in a bounded FIFO
 * for an idle one. Failures are translated here, once: the client hears a
 * code and a short message, the log gets libpq's words.
 *
 * Statements: the pool numbers every distinct loader SQL it is given
 * (cbd_db_statement) and never forgets one; statement k is "s<k>" on
 * every connection. A query carries its statement number and the
 * statement_timeout of the policy it was made under, and BUSY runs up to
 * three commands for it, one at a time (libpq runs one per connection):
 *
 *   BUSY: SET statement_timeout (if the connection's differs)
 *         ─► PREPARE s<k> (if not yet on this connection) ─► the query
 *
 * So a reload needs nothing from the connections: a changed SQL is a new
 * number, prepared where it is first used; a query of the old policy
 * still names its old statement, and a reconnected connection prepares
 * whichever it meets. A failing PREPARE fails its query only.
 *
 * Abandoned queries (cbd_db_abandon: nobody waits for the result any
 * more): a queued one is unlinked and freed. A running one loses its
 * callback, and the cancel request for the command on the server (the
 * query, or a PREPARE, which waits for the same locks) goes to the
 * canceller thread (PQcancel blocks); no further step is sent. The
 * connection is reused only when both the query's end and the cancel's
 * delivery were seen (CANCELLING waits for the latter): a cancel that
 * reached the server after the query had ended anyway would otherwise
 * cancel the next query. PostgreSQL ignores a cancel that arrives while
 * the backend waits for a command, and libpq's PQcancel returns only when
 * the server has signalled the backend, so the next query is safe.
 */
enum conn_state {
	DB_DEAD,
	DB_CONNECTING,
	DB_SETUP,
	DB_IDLE,
	DB_BUSY,
	DB_CANCELLING
};

/* What a BUSY connection waits for. */
enum busy_step { STEP_TIMEOUT, STEP_PREPARE, STEP_QUERY };

/* Queries waiting for a connection: at most this many. */
#define DB_QUEUE_MAX 4096

/* Distinct statements since start: at most this many (each reload that
 * changes a resource's SQL adds one). */
#define DB_MAX_STATEMENTS 65536

typedef struct cbd_db_handle db_query;

struct cbd_db_handle {
	db_query       *next;
	size_t          res; /* statement "s<res>", or a listing's tag */
	const char     *sql; /* text run unprepared (rows), or NULL */
	uint64_t        timeout_ms; /* its statement_timeout */
	size_t          n;
	char           *values[CBD_MAX_PARAMS];
	cbd_db_fn      *fn;   /* first value of the first row, or: */
	cbd_db_rows_fn *rows; /* the whole result */
	void           *arg;
	int             abandoned; /* nobody waits: fn, rows, arg gone */
};

typedef struct db_conn {
	cbd_db_pool    *pool;
	PGconn         *pg; /* NULL when DEAD */
	enum conn_state state;
	unsigned        index;      /* for logs */
	int             listen;     /* the LISTEN connection: no queries */
	unsigned        attempts;   /* failures since last ready */
	size_t          step;       /* SETUP: statements sent so far */
	enum busy_step  busy;       /* BUSY: what was sent */
	uint64_t        since_us;   /* state or step entered */
	uint64_t        timeout_ms; /* statement_timeout set, 0: none yet */
	uint8_t        *prepared;   /* [k]: s<k> is prepared here */
	struct event   *ev;         /* socket readiness */
	struct event   *retry;      /* reconnect timer */
	db_query       *query;      /* running (BUSY) */
	uint64_t        gen;        /* PGconn count: matches cancels */
	int             cancelling; /* a cancel request is not yet sent */
} db_conn;

/* A loader statement, numbered by its place in the pool's table. */
typedef struct db_stmt {
	char    *sql;
	size_t   n_params;
	uint64_t hash; /* of sql, to find it again */
} db_stmt;

struct cbd_db_pool {
	const cbd_config    *cfg;
	struct event_base   *base;
	db_conn             *conns;
	size_t               n;
	db_query            *head; /* waiting queries */
	db_query            *tail;
	size_t               queued;
	db_stmt             *stmts; /* every statement given, by number */
	size_t               n_stmts;
	size_t               cap_stmts; /* of stmts and each prepared[] */
	int                  closing;
	uint64_t             latency_us;
	char                 error[160];
	cbd_db_notify_fn    *notify; /* the LISTEN connection's callbacks */
	cbd_db_listening_fn *listening;
	void                *notify_arg;
	cbd_db_canceller    *canceller; /* sends cancel requests */
};

static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void conn_connect(db_conn *c);

static void pool_error(cbd_db_pool *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
pool_error(cbd_db_pool *p, const char *fmt, ...)
{
	va_list ap;
	size_t  n;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	/* libpq's messages span lines and end with one: make them one
	 * log line. */
	n = strlen(p->error);
	while (n > 0 && (p->error[n - 1] == '\n' || p->error[n - 1] == ' ')) {
		p->error[--n] = '\0';
	}
	for (char *c = p->error; *c != '\0'; c++) {
		if (*c == '\n' || *c == '\t') {
			*c = ' ';
		}
	}
}

static void
query_free(db_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->values[i]);
	}
	free(q);
}

static void
query_done(db_query *q, cb_status code, const char *msg, const char *value,
    size_t len)
{
	if (q->rows != NULL) {
		q->rows(q->arg, code, msg, NULL);
	} else {
		q->fn(q->arg, code, msg, value, len);
	}
	query_free(q);
}

/* conn_watch (re)arms the socket event for what libpq waits for. */
static void
conn_watch(db_conn *c, short what)
{
	if (c->ev != NULL) {
		event_free(c->ev);
	}
	c->ev = event_new(c->pool->base, PQsocket(c->pg), what, conn_io_cb, c);
	if (c->ev != NULL) {
		event_add(c->ev, NULL);
	}
}

static void
conn_schedule(db_conn *c)
{
	const cbd_config *cfg = c->pool->cfg;

	/* The database backs off like Redis: [redis] reconnect_min/max. */
	if (!c->pool->closing) {
		cbd_backoff_arm(c->retry, cfg->redis.reconnect_min_ms,
		    cfg->redis.reconnect_max_ms, &c->attempts);
	}
}

/* conn_drop discards the connection; its running query fails. */
static void
conn_drop(db_conn *c, const char *why)
{
	db_query *q         = c->query;
	int       was_ready = c->state == DB_IDLE || c->state == DB_BUSY ||
	    c->state == DB_CANCELLING;

	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->state      = DB_DEAD;
	c->query      = NULL;
	c->timeout_ms = 0;
	c->gen++; /* a cancel still being sent is not for the next PGconn */
	c->cancelling = 0;
	if (c->prepared != NULL) {
		memset(c->prepared, 0, c->pool->cap_stmts);
	}
	if (was_ready && !c->pool->closing) {
		cbd_log_warning("database: %s connection %u lost: %s",
		    c->listen ? "LISTEN" : "loader", c->index, why);
	}
	if (q != NULL && q->abandoned) {
		query_free(q);
	} else if (q != NULL) {
		query_done(
		    q, CB_UNAVAILABLE, "database connection lost", NULL, 0);
	}
	conn_schedule(c);
}

static void pool_dispatch(cbd_db_pool *p);

/* conn_step sends the next command the running query needs (see the
 * top). Returns 0 when libpq could not send it: the connection is then
 * broken, and the caller drops it. */
static int
conn_step(db_conn *c)
{
	db_query *q = c->query;
	char      buf[64];
	int       ok;

	c->since_us = cbd_now_us();
	snprintf(buf, sizeof(buf), "s%zu", q->res);
	if (c->timeout_ms != q->timeout_ms) {
		c->busy = STEP_TIMEOUT;
		snprintf(buf, sizeof(buf), "SET statement_timeout = %llu",
		    (unsigned long long) q->timeout_ms);
		ok = PQsendQuery(c->pg, buf);
	} else if (q->sql == NULL && !c->prepared[q->res]) {
		const db_stmt *st = &c->pool->stmts[q->res];
		c->busy           = STEP_PREPARE;
		ok                = PQsendPrepare(
		                   c->pg, buf, st->sql, (int) st->n_params, NULL);
	} else if (q->sql != NULL) {
		c->busy = STEP_QUERY;
		ok      = PQsendQueryParams(
		         c->pg, q->sql, 0, NULL, NULL, NULL, NULL, 0);
	} else {
		c->busy = STEP_QUERY;
		ok      = PQsendQueryPrepared(c->pg, buf, (int) q->n,
		         (const char *const *) q->values, NULL, NULL, 0);
	}
	if (!ok) {
		pool_error(c->pool, "send: %s", PQerrorMessage(c->pg));
		return 0;
	}
	conn_watch(c, PQflush(c->pg) == 1 ? EV_WRITE : EV_READ);
	return 1;
}

/*
 * conn_send runs q on the idle connection c. When its first command
 * cannot even be sent, the connection is dropped and q goes back to the
 * head of the queue, for another connection or for the cron to fail: a
 * query is never completed inside the cbd_db_query or cbd_db_rows call
 * that queued it (their callers link their own state after the call).
 */
static void
conn_send(db_conn *c, db_query *q)
{
	c->query = q;
	c->state = DB_BUSY;
	if (!conn_step(c)) {
		c->query      = NULL;
		q->next       = c->pool->head;
		c->pool->head = q;
		if (c->pool->tail == NULL) {
			c->pool->tail = q;
		}
		c->pool->queued++;
		conn_drop(c, c->pool->error);
	}
}

static void
conn_ready(db_conn *c)
{
	c->state          = DB_IDLE;
	c->attempts       = 0;
	c->pool->error[0] = '\0';
	conn_watch(c, EV_READ); /* to notice a server that goes away */
	if (c->listen) {
		c->pool->listening(c->pool->notify_arg);
		return;
	}
	pool_dispatch(c->pool);
}

/* listen_send sends LISTEN with the channel as a quoted identifier. */
static int
listen_send(db_conn *c)
{
	char *id = PQescapeIdentifier(c->pg, c->pool->cfg->db.notify_channel,
	    strlen(c->pool->cfg->db.notify_channel));
	char *sql;
	int   ok = 0;

	if (id != NULL && (sql = malloc(strlen(id) + 8)) != NULL) {
		snprintf(sql, strlen(id) + 8, "LISTEN %s", id);
		ok = PQsendQuery(c->pg, sql);
		free(sql);
	}
	PQfreemem(id);
	return ok;
}

/* conn_notifies hands every notification received to the pool's
 * callback. */
static void
conn_notifies(db_conn *c)
{
	PGnotify *n;

	while ((n = PQnotifies(c->pg)) != NULL) {
		c->pool->notify(c->pool->notify_arg, n->relname, n->extra);
		PQfreemem(n);
	}
}

/* setup_next sends LISTEN on the LISTEN connection, then makes it
 * ready. */
static void
setup_next(db_conn *c)
{
	const cbd_config *cfg = c->pool->cfg;

	if (c->step > 0) {
		cbd_log_info("database: listening on channel '%s'",
		    cfg->db.notify_channel);
		conn_ready(c);
		return;
	}
	c->step++;
	if (!listen_send(c)) {
		pool_error(c->pool, "setup: %s", PQerrorMessage(c->pg));
		conn_drop(c, c->pool->error);
		return;
	}
	conn_watch(c, PQflush(c->pg) == 1 ? EV_WRITE : EV_READ);
}

/* result_status maps a failed result to a client status and message. */
static cb_status
result_status(const PGresult *res, const char **msg)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (state != NULL && strcmp(state, "57014") == 0) {
		*msg = "database statement timeout";
		return CB_DEADLINE_EXCEEDED;
	}
	if (state != NULL &&
	    (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	        strncmp(state, "53", 2) == 0)) {
		*msg = "database unavailable";
		return CB_UNAVAILABLE;
	}
	if (state != NULL && strncmp(state, "22", 2) == 0) {
		*msg = "parameter rejected by the database";
		return CB_INVALID_ARGUMENT;
	}
	*msg = "loader failed";
	return CB_INTERNAL;
}

/* conn_release makes c take queries again after an abandoned one, once
 * its cancel request was delivered. */
static void
conn_release(db_conn *c)
{
	conn_watch(c, EV_READ);
	if (c->cancelling) {
		c->state    = DB_CANCELLING;
		c->since_us = cbd_now_us();
		return;
	}
	c->state = DB_IDLE;
	pool_dispatch(c->pool);
}

/* pool_cancelled hears from the canceller that the cancel request of
 * connection slot was sent. */
static void
pool_cancelled(void *arg, size_t slot, uint64_t gen, int ok, const char *err)
{
	cbd_db_pool *p = arg;
	db_conn     *c = &p->conns[slot];

	if (c->gen != gen || !c->cancelling) {
		return; /* that PGconn was dropped meanwhile */
	}
	c->cancelling = 0;
	cbd_log_debug("database: connection %u: cancel request %s", c->index,
	    ok ? "delivered" : "failed");
	if (!ok) {
		/* The query runs until it ends or statement_timeout. */
		pool_error(p, "%s", err);
		cbd_log_warning("database: connection %u: cancel request "
		                "failed: %s",
		    c->index, p->error);
	}
	if (c->state == DB_CANCELLING) {
		c->state = DB_IDLE;
		pool_dispatch(p);
	}
}

/* conn_cancel asks the server to cancel what c runs. */
static void
conn_cancel(db_conn *c)
{
	PGcancel *pc = PQgetCancel(c->pg);

	if (pc == NULL ||
	    cbd_db_canceller_post(c->pool->canceller, pc, c->index, c->gen) !=
	        CB_OK) {
		/* Out of memory: the query runs until statement_timeout. */
		PQfreeCancel(pc);
		cbd_log_warning("database: connection %u: cannot cancel an "
		                "abandoned query",
		    c->index);
		return;
	}
	c->cancelling = 1;
	cbd_log_debug("database: connection %u: cancelling an abandoned query",
	    c->index);
}

/* conn_results reads every result of the command that just finished. */
static void
conn_results(db_conn *c)
{
	PGresult *res;
	PGresult *first = NULL;

	while ((res = PQgetResult(c->pg)) != NULL) {
		if (first == NULL) {
			first = res;
		} else {
			PQclear(res);
		}
	}
	if (c->state == DB_SETUP) {
		if (first == NULL ||
		    PQresultStatus(first) != PGRES_COMMAND_OK) {
			pool_error(c->pool, "setup: %s",
			    first != NULL ? PQresultErrorMessage(first)
			                  : "no result");
			cbd_log_error("database: connection %u: %s", c->index,
			    c->pool->error);
			PQclear(first);
			conn_drop(c, c->pool->error);
			return;
		}
		PQclear(first);
		setup_next(c);
		return;
	}
	if (c->state == DB_BUSY && c->busy != STEP_QUERY && first != NULL &&
	    PQresultStatus(first) == PGRES_COMMAND_OK) {
		if (c->busy == STEP_TIMEOUT) {
			c->timeout_ms = c->query->timeout_ms;
		} else {
			c->prepared[c->query->res] = 1;
		}
		PQclear(first);
		first = NULL;
		if (!c->query->abandoned) {
			if (!conn_step(c)) {
				conn_drop(c, c->pool->error);
			}
			return;
		}
	}
	if (c->state == DB_BUSY && c->query->abandoned) {
		/* Nobody waits: what it ended with (57014 after the cancel,
		 * a row that came first, or whatever failed) goes unseen. */
		query_free(c->query);
		c->query = NULL;
		PQclear(first);
		conn_release(c);
		return;
	}
	if (c->state == DB_BUSY) {
		db_query   *q   = c->query;
		const char *msg = NULL;

		c->query            = NULL;
		c->state            = DB_IDLE;
		c->pool->latency_us = cbd_now_us() - c->since_us;
		if (c->busy != STEP_QUERY) {
			/* A failed SET or PREPARE fails this query only. */
			cb_status code = first != NULL
			    ? result_status(first, &msg)
			    : CB_UNAVAILABLE;
			cbd_log_warning(
			    "database: %s of statement s%zu failed: "
			    "%s",
			    c->busy == STEP_PREPARE ? "PREPARE" : "SET",
			    q->res,
			    first != NULL ? PQresultErrorMessage(first)
			                  : PQerrorMessage(c->pg));
			query_done(q, code, msg, NULL, 0);
		} else if (q->rows != NULL && first != NULL &&
		    PQresultStatus(first) == PGRES_TUPLES_OK) {
			q->rows(q->arg, CB_OK, NULL, first);
			query_free(q);
		} else if (first != NULL &&
		    PQresultStatus(first) == PGRES_TUPLES_OK) {
			int has = PQntuples(first) > 0 &&
			    PQnfields(first) > 0 && !PQgetisnull(first, 0, 0);
			query_done(q, CB_OK, NULL,
			    has ? PQgetvalue(first, 0, 0) : NULL,
			    has ? (size_t) PQgetlength(first, 0, 0) : 0);
		} else {
			cb_status code = first != NULL
			    ? result_status(first, &msg)
			    : CB_UNAVAILABLE;
			cbd_log_warning("database: %s query %s%zu failed: %s",
			    q->sql != NULL ? "warm" : "resource",
			    q->sql != NULL ? "w" : "s", q->res,
			    first != NULL ? PQresultErrorMessage(first)
			                  : PQerrorMessage(c->pg));
			query_done(q, code,
			    msg != NULL ? msg : "database error", NULL, 0);
		}
		PQclear(first);
		conn_watch(c, EV_READ);
		pool_dispatch(c->pool);
		return;
	}
	PQclear(first);
}

static void
conn_poll_connect(db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		conn_watch(c, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		conn_watch(c, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		PQsetnonblocking(c->pg, 1);
		c->since_us = cbd_now_us();
		if (!c->listen) {
			/* Statements are prepared where first used. */
			cbd_log_info(
			    "database: connection %u ready", c->index);
			conn_ready(c);
			return;
		}
		c->state = DB_SETUP;
		c->step  = 0;
		setup_next(c);
		return;
	default:
		pool_error(c->pool, "connect: %s", PQerrorMessage(c->pg));
		cbd_log_debug(
		    "database: connection %u: %s", c->index, c->pool->error);
		conn_drop(c, c->pool->error);
		return;
	}
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	db_conn *c = arg;

	(void) fd;
	if (c->state == DB_CONNECTING) {
		conn_poll_connect(c);
		return;
	}
	if (what & EV_WRITE) {
		int rv = PQflush(c->pg);
		if (rv < 0) {
			pool_error(
			    c->pool, "write: %s", PQerrorMessage(c->pg));
			conn_drop(c, c->pool->error);
			return;
		}
		conn_watch(c, rv == 1 ? EV_WRITE : EV_READ);
		return;
	}
	if (!PQconsumeInput(c->pg)) {
		pool_error(c->pool, "read: %s", PQerrorMessage(c->pg));
		conn_drop(c, c->pool->error);
		return;
	}
	if (c->state == DB_IDLE || c->state == DB_CANCELLING) {
		/* Nothing was asked: the server closed, sent a notice or,
		 * to the LISTEN connection, notifications. */
		if (PQstatus(c->pg) != CONNECTION_OK) {
			pool_error(
			    c->pool, "%s", "server closed the connection");
			conn_drop(c, c->pool->error);
			return;
		}
		if (c->listen) {
			conn_notifies(c);
		}
		conn_watch(c, EV_READ); /* the event fires once */
		return;
	}
	if (!PQisBusy(c->pg)) {
		conn_results(c);
		return;
	}
	conn_watch(c, EV_READ);
}

static void
conn_connect(db_conn *c)
{
	const cbd_config *cfg = c->pool->cfg;
	char              timeout[32];
	const char *keys[] = { "dbname", "connect_timeout", "application_name",
		NULL };
	const char *vals[] = { cfg->db.conninfo, timeout, "cachebrokerd",
		NULL };

	snprintf(timeout, sizeof(timeout), "%llu",
	    (unsigned long long) (cfg->db.connect_timeout_ms + 999) / 1000);
	/* expand_dbname: the first value is a whole conninfo; PG*
	 * variables fill what it leaves out. */
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		pool_error(c->pool, "connect: %s",
		    c->pg != NULL ? PQerrorMessage(c->pg) : "out of memory");
		if (c->pg != NULL) {
			PQfinish(c->pg);
			c->pg = NULL;
		}
		conn_schedule(c);
		return;
	}
	c->state    = DB_CONNECTING;
	c->since_us = cbd_now_us();
	conn_watch(c, EV_WRITE);
}

static void
conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	conn_connect(arg);
}

static void
pool_dispatch(cbd_db_pool *p)
{
	for (size_t i = 0; i < p->n && p->head != NULL; i++) {
		db_conn *c = &p->conns[i];
		if (c->state == DB_IDLE && !c->listen) {
			db_query *q = p->head;
			p->head     = q->next;
			if (p->head == NULL) {
				p->tail = NULL;
			}
			p->queued--;
			q->next = NULL;
			conn_send(c, q);
		}
	}
}

cb_status
cbd_db_pool_open(cbd_db_pool **out, struct event_base *base,
    const cbd_config *cfg, cbd_db_notify_fn *notify,
    cbd_db_listening_fn *listening, void *arg)
{
	cbd_db_pool *p;
	/* One more connection, the last, listens when a channel is set. */
	size_t n = cfg->db.connections + (cfg->db.notify_channel[0] != '\0');

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->conns = calloc(n, sizeof(*p->conns))) == NULL) {
		free(p);
		return CB_RESOURCE_EXHAUSTED;
	}
	p->cfg        = cfg;
	p->base       = base;
	p->n          = n;
	p->notify     = notify;
	p->listening  = listening;
	p->notify_arg = arg;
	for (size_t i = 0; i < p->n; i++) {
		db_conn *c = &p->conns[i];
		c->pool    = p;
		c->index   = (unsigned) i;
		c->listen  = i == cfg->db.connections;
		if ((c->retry = evtimer_new(base, conn_retry_cb, c)) == NULL) {
			cbd_db_pool_close(p);
			return CB_RESOURCE_EXHAUSTED;
		}
	}
	/* One cancel at a time per connection. */
	if (cbd_db_canceller_start(
	        &p->canceller, base, n, pool_cancelled, p) != CB_OK) {
		cbd_db_pool_close(p);
		return CB_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < p->n; i++) {
		conn_connect(&p->conns[i]);
	}
	*out = p;
	return CB_OK;
}

void
cbd_db_pool_close(cbd_db_pool *p)
{
	db_query *q;

	if (p == NULL) {
		return;
	}
	p->closing = 1;
	/* First: no cancel is reported to a connection being dropped. */
	cbd_db_canceller_stop(p->canceller);
	for (size_t i = 0; i < p->n; i++) {
		conn_drop(&p->conns[i], "broker shutting down");
		if (p->conns[i].retry != NULL) {
			event_free(p->conns[i].retry);
		}
	}
	while ((q = p->head) != NULL) {
		p->head = q->next;
		query_done(q, CB_UNAVAILABLE, "broker shutting down", NULL, 0);
	}
	p->tail = NULL;
	for (size_t i = 0; i < p->n; i++) {
		free(p->conns[i].prepared);
	}
	for (size_t i = 0; i < p->n_stmts; i++) {
		free(p->stmts[i].sql);
	}
	free(p->stmts);
	free(p->conns);
	free(p);
}

/* stmts_grow makes room for one more statement, in the table and in
 * every connection's prepared[]. */
static int
stmts_grow(cbd_db_pool *p)
{
	size_t   cap = p->cap_stmts > 0 ? p->cap_stmts * 2 : 16;
	db_stmt *grown;

	if (p->n_stmts < p->cap_stmts) {
		return 0;
	}
	if (p->n_stmts >= DB_MAX_STATEMENTS ||
	    (grown = realloc(p->stmts, cap * sizeof(*grown))) == NULL) {
		return -1;
	}
	p->stmts = grown;
	for (size_t i = 0; i < p->n; i++) {
		uint8_t *prep = realloc(p->conns[i].prepared, cap);
		if (prep == NULL) {
			return -1; /* the sizes grown so far stay usable */
		}
		memset(prep + p->cap_stmts, 0, cap - p->cap_stmts);
		p->conns[i].prepared = prep;
	}
	p->cap_stmts = cap;
	return 0;
}

cb_status
cbd_db_statement(cbd_db_pool *p, const char *sql, size_t n_params, size_t *id)
{
	uint64_t h = cbd_keys_hash(sql);
	db_stmt *st;

	for (size_t i = 0; i < p->n_stmts; i++) {
		if (p->stmts[i].hash == h &&
		    p->stmts[i].n_params == n_params &&
		    strcmp(p->stmts[i].sql, sql) == 0) {
			*id = i;
			return CB_OK;
		}
	}
	if (stmts_grow(p) != 0) {
		return CB_RESOURCE_EXHAUSTED;
	}
	st = &p->stmts[p->n_stmts];
	if ((st->sql = strdup(sql)) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	st->n_params = n_params;
	st->hash     = h;
	*id          = p->n_stmts++;
	return CB_OK;
}

/* query_new makes a query, or NULL when it cannot be queued (*rv). */
static db_query *
query_new(cbd_db_pool *p, cb_status *rv)
{
	db_query *q = NULL;

	*rv = CB_OK;
	if (cbd_db_ready_count(p) == 0) {
		*rv = CB_UNAVAILABLE;
	} else if (p->queued >= DB_QUEUE_MAX ||
	    (q = calloc(1, sizeof(*q))) == NULL) {
		*rv = CB_RESOURCE_EXHAUSTED;
	}
	return q;
}

static void pool_enqueue(cbd_db_pool *p, db_query *q);

cb_status
cbd_db_query(cbd_db_pool *p, size_t stmt, uint64_t timeout_ms,
    const char *const *values, size_t n, cbd_db_fn *fn, void *arg,
    cbd_db_handle **h)
{
	cb_status rv;
	db_query *q = query_new(p, &rv);

	if (q == NULL) {
		return rv;
	}
	q->res        = stmt;
	q->timeout_ms = timeout_ms;
	q->fn         = fn;
	q->arg        = arg;
	for (size_t i = 0; i < n; i++) {
		if ((q->values[i] = strdup(values[i])) == NULL) {
			query_free(q);
			return CB_RESOURCE_EXHAUSTED;
		}
		q->n++;
	}
	if (h != NULL) {
		*h = q;
	}
	pool_enqueue(p, q);
	return CB_OK;
}

void
cbd_db_abandon(cbd_db_pool *p, cbd_db_handle *h)
{
	db_query *prev = NULL;

	h->abandoned = 1;
	h->fn        = NULL;
	h->rows      = NULL;
	h->arg       = NULL;
	for (size_t i = 0; i < p->n; i++) {
		db_conn *c = &p->conns[i];
		if (c->state == DB_BUSY && c->query == h) {
			/* Whatever step it is at: a PREPARE waits for the
			 * same locks as the query. Nothing is sent after
			 * this step (conn_results). */
			if (!c->cancelling) {
				conn_cancel(c);
			}
			return;
		}
	}
	/* Still queued: it goes unsent. */
	for (db_query *q = p->head; q != NULL; prev = q, q = q->next) {
		if (q == h) {
			if (prev == NULL) {
				p->head = q->next;
			} else {
				prev->next = q->next;
			}
			if (p->tail == q) {
				p->tail = prev;
			}
			p->queued--;
			query_free(q);
			return;
		}
	}
}

cb_status
cbd_db_rows(cbd_db_pool *p, size_t tag, const char *sql, uint64_t timeout_ms,
    cbd_db_rows_fn *fn, void *arg)
{
	cb_status rv;
	db_query *q = query_new(p, &rv);

	if (q == NULL) {
		return rv;
	}
	q->timeout_ms = timeout_ms;
	q->res        = tag;
	q->sql        = sql;
	q->rows       = fn;
	q->arg        = arg;
	pool_enqueue(p, q);
	return CB_OK;
}

static void
pool_enqueue(cbd_db_pool *p, db_query *q)
{
	if (p->tail == NULL) {
		p->head = q;
	} else {
		p->tail->next = q;
	}
	p->tail = q;
	p->queued++;
	pool_dispatch(p);
}

void
cbd_db_cron(cbd_db_pool *p)
{
	const cbd_config *cfg = p->cfg;
	uint64_t          now = cbd_now_us();

	for (size_t i = 0; i < p->n; i++) {
		db_conn *c  = &p->conns[i];
		uint64_t ms = (now - c->since_us) / 1000;

		if ((c->state == DB_CONNECTING || c->state == DB_SETUP) &&
		    ms > cfg->db.connect_timeout_ms) {
			pool_error(p, "connect timed out after %llu ms",
			    (unsigned long long) ms);
			conn_drop(c, p->error);
		} else if (c->state == DB_BUSY &&
		    ms > c->query->timeout_ms + 1000) {
			/* statement_timeout did not answer: the server or
			 * the network is gone. */
			pool_error(p, "no answer for %llu ms",
			    (unsigned long long) ms);
			conn_drop(c, p->error);
		} else if (c->state == DB_CANCELLING &&
		    ms > cfg->db.connect_timeout_ms) {
			/* The cancel request is not delivered: a late one
			 * could hit the next query. */
			pool_error(p, "cancel request not sent after %llu ms",
			    (unsigned long long) ms);
			conn_drop(c, p->error);
		}
	}
	/* Queries cannot wait for a database that has no connection. */
	if (cbd_db_ready_count(p) == 0) {
		db_query *q;
		while ((q = p->head) != NULL) {
			p->head = q->next;
			p->queued--;
			query_done(q, CB_UNAVAILABLE, "database unavailable",
			    NULL, 0);
		}
		p->tail = NULL;
	}
}

size_t
cbd_db_ready_count(const cbd_db_pool *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++) {
		n += !p->conns[i].listen &&
		    (p->conns[i].state == DB_IDLE ||
		        p->conns[i].state == DB_BUSY ||
		        p->conns[i].state == DB_CANCELLING);
	}
	return n;
}

int
cbd_db_listening(const cbd_db_pool *p)
{
	const db_conn *c = &p->conns[p->n - 1];

	return c->listen && c->state == DB_IDLE;
}

uint64_t
cbd_db_latency_us(const cbd_db_pool *p)
{
	return p->latency_us;
}

void
cbd_db_last_error(const cbd_db_pool *p, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", p->error);
}

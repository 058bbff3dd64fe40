/* SPDX-License-Identifier: MIT */
/* What the database pool's two files share: the connection and query
 * structures and the calls between the pool (db_pool.c) and a
 * connection's state machine (db_conn.c). Only they include it. */
#ifndef CBD_DB_POOL_INT_H
#define CBD_DB_POOL_INT_H

#include <stdint.h>

#include <event2/util.h>
#include <libpq-fe.h>

#include <cachebroker/cachebroker.h>

#include "db_cancel.h"
#include "db_pool.h"

struct event;

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

/* db_pool.c: the pool's side. */

/* cbd_db_pool_error records the pool's last error (for Health) and logs
 * it. */
void cbd_db_pool_error(cbd_db_pool *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cbd_db_query_free frees a query and its copied values. */
void cbd_db_query_free(db_query *q);

/* cbd_db_query_done gives a query its outcome (once; not when abandoned)
 * and frees it. */
void cbd_db_query_done(db_query *q, cb_status code, const char *msg,
    const char *value, size_t len);

/* cbd_db_pool_dispatch hands waiting queries to idle connections. */
void cbd_db_pool_dispatch(cbd_db_pool *p);

/* db_conn.c: one connection's state machine. */

/* cbd_db_conn_connect starts connecting a DEAD slot. */
void cbd_db_conn_connect(db_conn *c);

/* cbd_db_conn_retry_cb is a slot's reconnect timer (arg: the slot). */
void cbd_db_conn_retry_cb(evutil_socket_t fd, short what, void *arg);

/* cbd_db_conn_drop closes a connection (its running query fails with
 * why) and schedules its reconnect. */
void cbd_db_conn_drop(db_conn *c, const char *why);

/* cbd_db_conn_send runs q on the IDLE connection c. */
void cbd_db_conn_send(db_conn *c, db_query *q);

/* cbd_db_conn_cancel sends the running query's cancel request to the
 * canceller (its result will be discarded). */
void cbd_db_conn_cancel(db_conn *c);

/* cbd_db_pool_cancelled is the canceller's completion: the cancel of
 * connection slot (of PGconn generation gen) was sent, or failed. */
void cbd_db_pool_cancelled(
    void *arg, size_t slot, uint64_t gen, int ok, const char *err);

#endif /* CBD_DB_POOL_INT_H */

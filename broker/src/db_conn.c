/* SPDX-License-Identifier: MIT */
/* A database connection's state machine: connect, set up, run one query
 * at a time (timeout, PREPARE, the query), cancel, drop, reconnect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "backoff.h"
#include "db_pool_int.h"
#include "log.h"
#include "loop.h"

static void conn_io_cb(evutil_socket_t fd, short what, void *arg);

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

/* cbd_db_conn_drop discards the connection; its running query fails. */
void
cbd_db_conn_drop(db_conn *c, const char *why)
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
		cbd_db_query_free(q);
	} else if (q != NULL) {
		cbd_db_query_done(
		    q, CB_UNAVAILABLE, "database connection lost", NULL, 0);
	}
	conn_schedule(c);
}

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
		cbd_db_pool_error(c->pool, "send: %s", PQerrorMessage(c->pg));
		return 0;
	}
	conn_watch(c, PQflush(c->pg) == 1 ? EV_WRITE : EV_READ);
	return 1;
}

/*
 * cbd_db_conn_send runs q on the idle connection c. When its first command
 * cannot even be sent, the connection is dropped and q goes back to the
 * head of the queue, for another connection or for the cron to fail: a
 * query is never completed inside the cbd_db_query or cbd_db_rows call
 * that queued it (their callers link their own state after the call).
 */
void
cbd_db_conn_send(db_conn *c, db_query *q)
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
		cbd_db_conn_drop(c, c->pool->error);
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
	cbd_db_pool_dispatch(c->pool);
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
		cbd_db_pool_error(c->pool, "setup: %s", PQerrorMessage(c->pg));
		cbd_db_conn_drop(c, c->pool->error);
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
	cbd_db_pool_dispatch(c->pool);
}

/* cbd_db_pool_cancelled hears from the canceller that the cancel request of
 * connection slot was sent. */
void
cbd_db_pool_cancelled(
    void *arg, size_t slot, uint64_t gen, int ok, const char *err)
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
		cbd_db_pool_error(p, "%s", err);
		cbd_log_warning("database: connection %u: cancel request "
		                "failed: %s",
		    c->index, p->error);
	}
	if (c->state == DB_CANCELLING) {
		c->state = DB_IDLE;
		cbd_db_pool_dispatch(p);
	}
}

/* cbd_db_conn_cancel asks the server to cancel what c runs. */
void
cbd_db_conn_cancel(db_conn *c)
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
			cbd_db_pool_error(c->pool, "setup: %s",
			    first != NULL ? PQresultErrorMessage(first)
			                  : "no result");
			cbd_log_error("database: connection %u: %s", c->index,
			    c->pool->error);
			PQclear(first);
			cbd_db_conn_drop(c, c->pool->error);
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
				cbd_db_conn_drop(c, c->pool->error);
			}
			return;
		}
	}
	if (c->state == DB_BUSY && c->query->abandoned) {
		/* Nobody waits: what it ended with (57014 after the cancel,
		 * a row that came first, or whatever failed) goes unseen. */
		cbd_db_query_free(c->query);
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
			cbd_db_query_done(q, code, msg, NULL, 0);
		} else if (q->rows != NULL && first != NULL &&
		    PQresultStatus(first) == PGRES_TUPLES_OK) {
			q->rows(q->arg, CB_OK, NULL, first);
			cbd_db_query_free(q);
		} else if (first != NULL &&
		    PQresultStatus(first) == PGRES_TUPLES_OK) {
			int has = PQntuples(first) > 0 &&
			    PQnfields(first) > 0 && !PQgetisnull(first, 0, 0);
			cbd_db_query_done(q, CB_OK, NULL,
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
			cbd_db_query_done(q, code,
			    msg != NULL ? msg : "database error", NULL, 0);
		}
		PQclear(first);
		conn_watch(c, EV_READ);
		cbd_db_pool_dispatch(c->pool);
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
		cbd_db_pool_error(
		    c->pool, "connect: %s", PQerrorMessage(c->pg));
		cbd_log_debug(
		    "database: connection %u: %s", c->index, c->pool->error);
		cbd_db_conn_drop(c, c->pool->error);
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
			cbd_db_pool_error(
			    c->pool, "write: %s", PQerrorMessage(c->pg));
			cbd_db_conn_drop(c, c->pool->error);
			return;
		}
		conn_watch(c, rv == 1 ? EV_WRITE : EV_READ);
		return;
	}
	if (!PQconsumeInput(c->pg)) {
		cbd_db_pool_error(c->pool, "read: %s", PQerrorMessage(c->pg));
		cbd_db_conn_drop(c, c->pool->error);
		return;
	}
	if (c->state == DB_IDLE || c->state == DB_CANCELLING) {
		/* Nothing was asked: the server closed, sent a notice or,
		 * to the LISTEN connection, notifications. */
		if (PQstatus(c->pg) != CONNECTION_OK) {
			cbd_db_pool_error(
			    c->pool, "%s", "server closed the connection");
			cbd_db_conn_drop(c, c->pool->error);
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

void
cbd_db_conn_connect(db_conn *c)
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
		cbd_db_pool_error(c->pool, "connect: %s",
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

void
cbd_db_conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	cbd_db_conn_connect(arg);
}

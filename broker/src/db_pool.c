/* SPDX-License-Identifier: MIT */
/* The database pool: non-blocking libpq connections on the backend loop;
 * the statements, the query queue, abandoning, the cron. A connection's
 * own steps are db_conn.c; the design is described in db_int.h. */
#include "db_pool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <event2/event.h>

#include "backoff.h"
#include "db_pool_int.h"
#include "keys.h"
#include "log.h"
#include "loop.h"

void
cbd_db_pool_error(cbd_db_pool *p, const char *fmt, ...)
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

void
cbd_db_query_free(db_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->values[i]);
	}
	free(q);
}

void
cbd_db_query_done(db_query *q, cb_status code, const char *msg,
    const char *value, size_t len)
{
	if (q->rows != NULL) {
		q->rows(q->arg, code, msg, NULL);
	} else {
		q->fn(q->arg, code, msg, value, len);
	}
	cbd_db_query_free(q);
}

/* conn_watch (re)arms the socket event for what libpq waits for. */
void
cbd_db_pool_dispatch(cbd_db_pool *p)
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
			cbd_db_conn_send(c, q);
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
		if ((c->retry = evtimer_new(base, cbd_db_conn_retry_cb, c)) ==
		    NULL) {
			cbd_db_pool_close(p);
			return CB_RESOURCE_EXHAUSTED;
		}
	}
	/* One cancel at a time per connection. */
	if (cbd_db_canceller_start(
	        &p->canceller, base, n, cbd_db_pool_cancelled, p) != CB_OK) {
		cbd_db_pool_close(p);
		return CB_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < p->n; i++) {
		cbd_db_conn_connect(&p->conns[i]);
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
		cbd_db_conn_drop(&p->conns[i], "broker shutting down");
		if (p->conns[i].retry != NULL) {
			event_free(p->conns[i].retry);
		}
	}
	while ((q = p->head) != NULL) {
		p->head = q->next;
		cbd_db_query_done(
		    q, CB_UNAVAILABLE, "broker shutting down", NULL, 0);
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
			cbd_db_query_free(q);
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
				cbd_db_conn_cancel(c);
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
			cbd_db_query_free(q);
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
	cbd_db_pool_dispatch(p);
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
			cbd_db_pool_error(p, "connect timed out after %llu ms",
			    (unsigned long long) ms);
			cbd_db_conn_drop(c, p->error);
		} else if (c->state == DB_BUSY &&
		    ms > c->query->timeout_ms + 1000) {
			/* statement_timeout did not answer: the server or
			 * the network is gone. */
			cbd_db_pool_error(p, "no answer for %llu ms",
			    (unsigned long long) ms);
			cbd_db_conn_drop(c, p->error);
		} else if (c->state == DB_CANCELLING &&
		    ms > cfg->db.connect_timeout_ms) {
			/* The cancel request is not delivered: a late one
			 * could hit the next query. */
			cbd_db_pool_error(p,
			    "cancel request not sent after %llu ms",
			    (unsigned long long) ms);
			cbd_db_conn_drop(c, p->error);
		}
	}
	/* Queries cannot wait for a database that has no connection. */
	if (cbd_db_ready_count(p) == 0) {
		db_query *q;
		while ((q = p->head) != NULL) {
			p->head = q->next;
			p->queued--;
			cbd_db_query_done(q, CB_UNAVAILABLE,
			    "database unavailable", NULL, 0);
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

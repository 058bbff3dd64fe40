/* SPDX-License-Identifier: MIT */
/* The database pool: non-blocking libpq connections on the backend loop,
 * each loader statement prepared on a connection where it is first used. */
#ifndef CBD_DB_POOL_H
#define CBD_DB_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include <cachebroker/cachebroker.h>

#include "config.h"

struct event_base;
typedef struct cbd_db_pool   cbd_db_pool;
typedef struct cbd_db_handle cbd_db_handle; /* a query, until fn runs */

/*
 * A query's completion, exactly once: code OK with the first result row's
 * first column in value (NULL with len 0 when there was no row or it was
 * NULL), or a failure code with a short message for clients (details are
 * logged here, never sent: they may contain SQL). value is valid only
 * during the call. Loop thread.
 */
typedef void cbd_db_fn(
    void *arg, cb_status code, const char *msg, const char *value, size_t len);

/* A whole result (rows of a warm strategy): res is valid only during the
 * call, NULL when code is not OK. Loop thread. */
typedef void cbd_db_rows_fn(
    void *arg, cb_status code, const char *msg, const PGresult *res);

/* A notification on the LISTEN connection; payload "" when none. */
typedef void cbd_db_notify_fn(
    void *arg, const char *channel, const char *payload);

/* The LISTEN connection is (again) listening: notifications sent while it
 * was not are lost. */
typedef void cbd_db_listening_fn(void *arg);

/*
 * cbd_db_pool_open starts cfg->db.connections connections (never blocks
 * on the network: a database that is down only means no connection is
 * ready yet). A connection takes queries once connected; it sets each
 * query's statement_timeout and prepares its statement as needed. With
 * cfg->db.notify_channel set, one more connection LISTENs on it and
 * calls notify for each notification and listening each time it
 * (re)starts listening. Starts the canceller thread (db_cancel.h), which
 * close stops. cfg must outlive the pool. Loop thread.
 */
CB_NODISCARD cb_status cbd_db_pool_open(cbd_db_pool **out,
    struct event_base *base, const cbd_config *cfg, cbd_db_notify_fn *notify,
    cbd_db_listening_fn *listening, void *arg);

/* cbd_db_pool_close drops every connection; queued and running queries
 * complete with UNAVAILABLE, now. NULL-safe. Loop thread. */
void cbd_db_pool_close(cbd_db_pool *p);

/*
 * cbd_db_statement gives the number of the loader statement sql with
 * n_params parameters ($1..), adding it to the pool's table if it is new
 * (the same text always gets the same number). Numbers stay valid as
 * long as the pool: a policy that is replaced keeps its statements.
 * RESOURCE_EXHAUSTED when out of memory or past 65536 statements. Loop
 * thread.
 */
CB_NODISCARD cb_status cbd_db_statement(
    cbd_db_pool *p, const char *sql, size_t n_params, size_t *id);

/*
 * cbd_db_query runs statement stmt (from cbd_db_statement) with values
 * ($1.. as text; they are copied) and statement_timeout timeout_ms on an
 * idle connection, or queues it (bounded). Returns OK when fn will be
 * called later, with *h (when h is not NULL) naming the query for
 * cbd_db_abandon until fn runs; UNAVAILABLE when no connection is ready,
 * RESOURCE_EXHAUSTED when the queue is full (fn is then not called).
 * Values are sent as parameters of a prepared statement, never spliced
 * into SQL. Loop thread.
 */
CB_NODISCARD cb_status cbd_db_query(cbd_db_pool *p, size_t stmt,
    uint64_t timeout_ms, const char *const *values, size_t n, cbd_db_fn *fn,
    void *arg, cbd_db_handle **h);

/*
 * cbd_db_abandon withdraws query h (from cbd_db_query, whose fn has not
 * run): fn is never called for it, and its arg may go right away. A query
 * still queued is dropped unsent. A running one is cancelled on the server
 * (libpq's cancel request, sent by the canceller thread: the loop never
 * blocks); its connection takes other work once the server has ended the
 * query and the cancel request was delivered (so that it cannot hit the
 * next query). What the query ends with (57014, or a row that came
 * first) is discarded, neither logged nor counted as an error. Loop
 * thread.
 */
void cbd_db_abandon(cbd_db_pool *p, cbd_db_handle *h);

/*
 * cbd_db_rows runs sql (no parameters, not prepared: a broken statement
 * fails only itself) with statement_timeout timeout_ms on an idle
 * connection, or queues it, and gives fn the whole result. sql must stay
 * valid until fn runs. tag names it in logs ("w<tag>"). Returns like
 * cbd_db_query. Loop thread.
 */
CB_NODISCARD cb_status cbd_db_rows(cbd_db_pool *p, size_t tag, const char *sql,
    uint64_t timeout_ms, cbd_db_rows_fn *fn, void *arg);

/* cbd_db_listening says whether the LISTEN connection is listening. */
int cbd_db_listening(const cbd_db_pool *p);

/* cbd_db_cron discards connections stuck past their timeouts (a cancel
 * request not delivered within connect_timeout included). */
void cbd_db_cron(cbd_db_pool *p);

/* cbd_db_ready_count is how many connections can take queries. */
size_t cbd_db_ready_count(const cbd_db_pool *p);

/* cbd_db_latency_us is the round trip of the latest query, 0 if none. */
uint64_t cbd_db_latency_us(const cbd_db_pool *p);

/* cbd_db_last_error copies the latest connection error ("" if none). */
void cbd_db_last_error(const cbd_db_pool *p, char *buf, size_t cap);

#endif /* CBD_DB_POOL_H */

/* SPDX-License-Identifier: MIT */
/* Per-connection bounds: requests held and reply bytes queued per pipe. */
#ifndef CBD_CONNS_H
#define CBD_CONNS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include <cachebroker/cachebroker.h>

/*
 * Why: rep0 keeps a reply that its connection cannot take yet on that
 * connection's send queue, and the context with it. A client that
 * pipelines requests and never reads its replies would so pin every
 * context, and every other client would time out. This table counts, per
 * connection (nng pipe id), the requests received from it and not yet
 * sent (held), and the bytes of replies handed to nng and not yet written
 * (queued), so that the listener can refuse a connection more than its
 * share and close one that does not read.
 *
 * An entry is made by the first hold of a pipe and removed when its last
 * request is sent, so no pipe callback is needed: at most one entry per
 * context exists, and the table (open addressing, sized from contexts)
 * never fills. Any thread: one mutex, held for a few instructions; never
 * blocks otherwise.
 */
typedef struct cbd_conns cbd_conns;

/* What the table counted since start (Metrics, /metrics). */
typedef struct cbd_conns_stats {
	uint64_t rejected; /* requests over the in-flight limit */
	uint64_t dropped;  /* replies never written (timeout, closed) */
	uint64_t closed;   /* connections closed for not reading */
	uint64_t refused;  /* connections over max_connections */
} cbd_conns_stats;

/*
 * cbd_conns_alloc makes a table for contexts requests at most, with
 * max_in_flight requests per connection and max_reply_bytes of queued
 * replies per connection (0: no byte limit). Main thread.
 */
CB_NODISCARD cb_status cbd_conns_alloc(cbd_conns **out, uint32_t contexts,
    uint32_t max_in_flight, size_t max_reply_bytes);

/* cbd_conns_free frees the table. NULL-safe. */
void cbd_conns_free(cbd_conns *c);

/*
 * cbd_conns_hold counts a request received from pipe (its id). Returns 1
 * when the connection now holds more than its in-flight limit (the caller
 * refuses the request; the hold is taken either way and counted as a
 * rejection), 0 otherwise. Every hold is undone by one cbd_conns_rele.
 */
int cbd_conns_hold(cbd_conns *c, uint32_t pipe);

/*
 * cbd_conns_queue counts len bytes of a reply about to be handed to nng
 * for pipe; a connection whose queued bytes now exceed the limit is
 * marked for closing (see cbd_conns_cron).
 */
void cbd_conns_queue(cbd_conns *c, uint32_t pipe, size_t len, uint64_t now_us);

/*
 * cbd_conns_rele undoes a hold of pipe whose reply (queued bytes qlen, 0
 * if it never was handed to nng) is sent or dropped. dropped says the
 * reply was not written (counted); one that timed out (timed_out) marks
 * the connection for closing.
 */
void cbd_conns_rele(cbd_conns *c, uint32_t pipe, size_t qlen, int dropped,
    int timed_out, uint64_t now_us);

/*
 * A connection marked for closing is closed once it took no reply for
 * this long. Not at once: nng 1.5 loses a connection closed between a
 * partial write's completion and its continuation (the continuation
 * fails silently, and the reaper then waits for that write forever, so no
 * connection closed afterwards is ever released and the socket cannot
 * close). A connection that has taken nothing for a while is not writing.
 */
#define CBD_CONNS_QUIET_US ((uint64_t) 200 * 1000)

/*
 * cbd_conns_cron closes (nng_pipe_close), logs and counts the connections
 * marked for closing that took no reply for CBD_CONNS_QUIET_US. The loop's
 * cron.
 */
void cbd_conns_cron(cbd_conns *c, uint64_t now_us);

/*
 * cbd_conns_watch counts the connections of each listener of sock and
 * closes a new one past max_per_listener (0: no limit): it takes sock's
 * NNG_PIPE_EV_ADD_PRE and NNG_PIPE_EV_REM_POST notifications (nng keeps
 * one callback per event; the IPC guard has ADD_POST, see cbd_conns_seen).
 * Main thread, before sock's listeners start. c must outlive sock (nng_close
 * returns after the last notification).
 */
CB_NODISCARD cb_status cbd_conns_watch(
    cbd_conns *c, nng_socket sock, uint32_t max_per_listener);

/* What cbd_conns_seen calls: a connection came in through listener lid
 * (refused or not). nng's thread. */
typedef void cbd_conns_seen_fn(void *arg, uint32_t lid);

/*
 * cbd_conns_seen makes every new connection reported to seen(arg, lid),
 * also one refused for max_connections before it reached the socket: the
 * IPC guard counts that as a listener alive. Main thread, once arg is
 * ready for nng's threads.
 */
void cbd_conns_seen(cbd_conns *c, cbd_conns_seen_fn *seen, void *arg);

/* cbd_conns_stats copies the counters. Any thread. */
void cbd_conns_stats_get(cbd_conns *c, cbd_conns_stats *out);

/* cbd_conns_limit is the in-flight limit per connection in effect. */
uint32_t cbd_conns_limit(const cbd_conns *c);

#endif /* CBD_CONNS_H */

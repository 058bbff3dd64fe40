/* SPDX-License-Identifier: MIT */
/* The Redis pool: a few hiredis async connections on the backend loop,
 * pipelining the commands of many requests; reconnects with backoff. */
#ifndef CBD_REDIS_POOL_H
#define CBD_REDIS_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include <cachebroker/cachebroker.h>

#include "config.h"

struct event_base;
typedef struct cbd_redis_pool cbd_redis_pool;
typedef struct cbd_redis_conn cbd_redis_conn;

/*
 * A command's completion: reply is hiredis' reply, valid only during the
 * call (copy what you keep), or NULL when the connection was lost or
 * discarded before the reply came. arg and tag are what was sent.
 */
typedef void cbd_redis_fn(void *arg, uint64_t tag, redisReply *reply);

/*
 * cbd_redis_pool_open creates cfg->connections connections on base and
 * starts connecting them (never blocks on the network: a Redis that is
 * down only means no connection is ready yet). cfg must outlive the pool.
 * Loop thread.
 */
CB_NODISCARD cb_status cbd_redis_pool_open(cbd_redis_pool **out,
    struct event_base *base, const cbd_redis_config *cfg);

/* cbd_redis_pool_close drops every connection (pending commands complete
 * with a NULL reply, now) and frees the pool. NULL-safe. Loop thread. */
void cbd_redis_pool_close(cbd_redis_pool *p);

/* cbd_redis_pick returns a ready connection, round-robin, or NULL if none
 * is: callers answer UNAVAILABLE at once rather than wait. Loop thread. */
cbd_redis_conn *cbd_redis_pick(cbd_redis_pool *p);

/*
 * cbd_redis_send queues one command on c; fn runs exactly once, later
 * (never inside this call). Returns 0, or -1 if c cannot take commands
 * (then fn is not called). The command is written when the loop next
 * polls, together with every other command queued meanwhile. Loop thread.
 */
int cbd_redis_send(cbd_redis_conn *c, cbd_redis_fn *fn, void *arg,
    uint64_t tag, int argc, const char **argv, const size_t *argvlen);

/* cbd_redis_cron discards connections that made no progress for
 * command_timeout (or did not connect within connect_timeout). Call it
 * often (every 100 ms). Loop thread. */
void cbd_redis_cron(cbd_redis_pool *p);

/*
 * cbd_redis_pick_key returns the connection that commands about one key
 * (by its hash) always use while it is ready, else any ready one, else
 * NULL. Commands on one connection are answered in order: Fetch's GET and
 * the loader's SET of a key share one, so a GET sent before the SET is
 * answered while the load is still there to join. Loop thread.
 */
cbd_redis_conn *cbd_redis_pick_key(cbd_redis_pool *p, uint64_t hash);

/* What cbd_redis_pool_track calls when every ready connection answered
 * (ok: all of them turned tracking on). */
typedef void cbd_redis_track_fn(void *arg, int ok);

/*
 * cbd_redis_pool_track turns Redis' client-side caching on for every
 * connection (CLIENT TRACKING on REDIRECT id): Redis then tells client id
 * about each key a connection read once it changes. Connections made later
 * do it in their handshake, before they are ready. done(arg, ok) runs when
 * the ready ones have answered (at once if none is ready); a later call
 * replaces an earlier one's done. Loop thread.
 */
void cbd_redis_pool_track(
    cbd_redis_pool *p, long long id, cbd_redis_track_fn *done, void *arg);

/* cbd_redis_pool_on_lost makes the pool call fn(arg) whenever a ready
 * connection is lost (what it read is no longer tracked). Loop thread. */
void cbd_redis_pool_on_lost(
    cbd_redis_pool *p, void (*fn)(void *arg), void *arg);

/* cbd_redis_ready_count is how many connections are ready. */
size_t cbd_redis_ready_count(const cbd_redis_pool *p);

/* cbd_redis_last_error copies the latest connection error ("" if none). */
void cbd_redis_last_error(const cbd_redis_pool *p, char *buf, size_t cap);

/*
 * cbd_redis_reply_status maps a reply to a status: NULL → UNAVAILABLE,
 * an error reply → FAILED_PRECONDITION (wrong type, not an integer),
 * OUT_OF_RANGE (overflow), RESOURCE_EXHAUSTED (OOM), UNAVAILABLE (loading,
 * busy, read-only, auth) or INTERNAL; anything else → OK. Writes a short
 * message for clients into msg.
 */
cb_status cbd_redis_reply_status(
    const redisReply *reply, char *msg, size_t msglen);

#endif /* CBD_REDIS_POOL_H */

/* SPDX-License-Identifier: MIT */
/* Keeping the L1 coherent: Redis' client-side caching invalidations. */
#ifndef CBD_TRACKING_H
#define CBD_TRACKING_H

#include <stddef.h>

#include <cachebroker/cachebroker.h>

#include "config.h"
#include "l1.h"

struct event_base;
struct cbd_redis_pool;

/*
 * Why: L1 may serve a value only while Redis tells the broker about every
 * change to it, whoever makes the change. Two connections of their own:
 *
 *   sub:  CLIENT ID ─► id;  SUBSCRIBE __redis__:invalidate
 *   ctl:  CLIENT TRACKING on REDIRECT id BCAST PREFIX p1 PREFIX p2 ...
 *
 * (p: "<key_prefix><ns>:" of each namespace with l1 = yes). From ctl's
 * "OK" on, Redis publishes on sub the keys of every write under those
 * prefixes (from any client), and nil for FLUSHDB/FLUSHALL. Each key is
 * dropped from L1; nil empties it. L1 is coherent only while both
 * connections are up and tracking is on: losing either (Redis restart,
 * network, CLIENT KILL) empties L1 and keeps it off until both are back,
 * with the pool's reconnect backoff. RESP2 and hiredis 0.14: the pushes
 * arrive as Pub/Sub messages. Loop thread.
 *
 * l1_tracking = default instead: no ctl; every connection of the Redis
 * pool turns tracking on with REDIRECT to sub (cbd_redis_pool_track), so
 * Redis reports only the keys the broker read, whatever their namespace.
 * A pool connection lost takes what it read out of tracking: L1 is
 * emptied (and stays on).
 */
typedef struct cbd_tracking cbd_tracking;

/*
 * cbd_tracking_open starts tracking for l1, on base, with cfg's Redis
 * settings, for the prefixes (n of them, copied), in BCAST mode; with a
 * pool, in default mode on its connections (prefixes unused). Connects at
 * once and again after every loss.
 */
CB_NODISCARD cb_status cbd_tracking_open(cbd_tracking **out,
    struct event_base *base, const cbd_redis_config *cfg, cbd_l1 *l1,
    const char *const *prefixes, size_t n, struct cbd_redis_pool *pool);

/* cbd_tracking_close drops the connections (L1 goes off) and frees it.
 * NULL-safe. */
void cbd_tracking_close(cbd_tracking *t);

/* cbd_tracking_on says whether tracking is on (L1 coherent). */
int cbd_tracking_on(const cbd_tracking *t);

/* cbd_tracking_messages counts the invalidation messages received. */
uint64_t cbd_tracking_messages(const cbd_tracking *t);

#endif /* CBD_TRACKING_H */

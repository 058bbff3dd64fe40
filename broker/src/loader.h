/* SPDX-License-Identifier: MIT */
/* Read-through loads with single-flight: however many Fetches miss one
 * key at once, one database query runs and all of them get its result. */
#ifndef CBD_LOADER_H
#define CBD_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

#include "policy.h"

typedef struct cbd_req        cbd_req;
typedef struct cbd_db_pool    cbd_db_pool;
typedef struct cbd_redis_pool cbd_redis_pool;
typedef struct cbd_stats      cbd_stats;
typedef struct cbd_loader     cbd_loader;
typedef struct cbd_flight     cbd_flight;

/* What a loader stores for "no row", for negative_ttl: a value no loader
 * returns (loaders return JSON text, which has no NUL). Get and Fetch
 * report it as not found. */
#define CBD_NEGATIVE_VALUE "\0cachebroker:not-found"
#define CBD_NEGATIVE_LEN (sizeof(CBD_NEGATIVE_VALUE) - 1)

/* cbd_loader_alloc makes the flight table: loads query db (NULL: none,
 * Fetch misses answer UNAVAILABLE), are stored in redis and counted in
 * stats, none of which it owns. Loop thread. */
CB_NODISCARD cb_status cbd_loader_alloc(cbd_loader **out, cbd_db_pool *db,
    cbd_redis_pool *redis, cbd_stats *stats);

/* cbd_loader_free frees it. NULL-safe; no flight may be running (close
 * the database pool first: it completes them). */
void cbd_loader_free(cbd_loader *l);

/* What a load gives each request that waited for it. */
typedef struct cbd_loaded {
	cb_status   code;    /* the load's outcome */
	const char *msg;     /* why, when code is not OK */
	const char *value;   /* OK: the value; NULL: no row (not found) */
	size_t      len;     /* its size */
	uint64_t    ttl_ms;  /* what it is stored for; 0: not stored */
	int         stale;   /* value is the expired one (database failed) */
	const char *x_cache; /* "miss", "degraded" or "stale" */
} cbd_loaded;

/* cbd_load_done_fn answers req with what its load gave (the caller's
 * storage, valid during the call). Loop thread. */
typedef void cbd_load_done_fn(cbd_req *req, const cbd_loaded *res);

/* What to load: a resource bound to its parameters. */
typedef struct cbd_load {
	cbd_policy         *pol; /* r's policy (the caller holds it) */
	const cbd_resource *r;
	const char         *values[CBD_MAX_PARAMS]; /* $1.. */
	const char         *key;                    /* without key_prefix */
	uint64_t            ttl_ms;                 /* before jitter */
	int                 degraded;  /* Redis is down: do not store */
	const void         *stale;     /* expired value to serve if the */
	size_t              stale_len; /* database fails (NULL: none) */
	cbd_load_done_fn   *done;      /* answers each waiting request */
} cbd_load;

/*
 * cbd_loader_fetch makes req wait for the loaded value of ld->key: it
 * joins the load of that key in flight or starts one (ld is copied). A
 * degraded load is not stored ("degraded"). When the database fails and
 * a stale value is known, the waiters get it (stale, "stale"). Each
 * waiting request gets ld->done(req, result) once, which answers it; a
 * request answered meanwhile (its deadline) leaves the load. With req
 * NULL it starts a load nobody waits for (early refresh), unless one is
 * in flight. A load coalesces only with loads of the same policy
 * (generation): after a reload, a key's SQL or TTL rule may differ. The
 * load holds ld->pol until it is done, and records its time in the
 * policy's load_us (the average early refresh reads). Loop thread.
 */
void cbd_loader_fetch(cbd_loader *l, cbd_req *req, const cbd_load *ld);

/*
 * cbd_loader_invalidated records that keys of namespace ns are being
 * invalidated: loads that started before will not store what they load
 * (the stale-set guard), so the cache never holds a value older than an
 * invalidation that was answered OK. Loop thread.
 */
void cbd_loader_invalidated(cbd_loader *l, const char *ns);

#endif /* CBD_LOADER_H */

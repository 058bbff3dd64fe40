/* SPDX-License-Identifier: MIT */
/* Warming: running warm strategies, at start-up and on WarmService/Warm. */
#ifndef CBD_WARM_H
#define CBD_WARM_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

#include "policy.h"

typedef struct cbd_warmer     cbd_warmer;
typedef struct cbd_req_host   cbd_req_host;
typedef struct cbd_db_pool    cbd_db_pool;
typedef struct cbd_redis_pool cbd_redis_pool;
typedef struct cbd_journal    cbd_journal;
typedef struct cbd_notify     cbd_notify;

/* What the warmer uses; it owns none of it. */
typedef struct cbd_warm_deps {
	cbd_req_host *host;       /* runs Fetches as its requests; the drain,
	                           * the policy in effect, timers */
	cbd_db_pool    *db;       /* rows to warm; NULL: no database */
	cbd_redis_pool *redis;    /* start-up waits for it */
	cbd_journal    *journal;  /* ... for its invalidations to be applied */
	cbd_notify     *notify;   /* ... and for NOTIFY to have settled */
	uint64_t        start_us; /* the broker's start, monotonic */
} cbd_warm_deps;

typedef void cbd_warm_done_fn(void *arg, const cbd_warm_result *res);

/* cbd_warmer_alloc makes a warmer with deps (copied); its start-up
 * strategies are those of the policy in effect. Loop thread. */
CB_NODISCARD cb_status cbd_warmer_alloc(
    cbd_warmer **out, const cbd_warm_deps *deps);

/* cbd_warmer_free ends the runs still going (their done gets "broker
 * shutting down") and frees the warmer. NULL-safe. Loop thread. */
void cbd_warmer_free(cbd_warmer *wm);

/*
 * cbd_warmer_start runs strategy w of pol: its SQL lists rows, each row
 * is a Fetch with refresh of the strategy's resource (an internal request
 * on pol, which the run holds until it ends), at most w->concurrency at a
 * time. done(arg, result) is called once, later, never inside this call.
 * Loop thread.
 */
void cbd_warmer_start(cbd_warmer *wm, cbd_policy *pol, const cbd_warm *w,
    cbd_warm_done_fn *done, void *arg);

/* cbd_warmer_cron starts the start-up strategies once, when the broker
 * can warm: the database and Redis are ready, the journal is empty and,
 * with a notify channel, the LISTEN connection has listened (its first
 * flush would undo the warming). Loop thread. */
void cbd_warmer_cron(cbd_warmer *wm);

/* cbd_warm_result_copy writes res's counts and error into out (a
 * WarmResult whose strategy the caller sets); -1 when out of memory for
 * the error text. */
int cbd_warm_result_copy(
    Cachebroker__V1__WarmResult *out, const cbd_warm_result *res);

#endif /* CBD_WARM_H */

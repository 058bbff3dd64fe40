/* SPDX-License-Identifier: MIT */
/* The invalidation journal: invalidations that did not reach Redis, kept
 * and applied when it is back, before the cache is read again. */
#ifndef CBD_JOURNAL_H
#define CBD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

typedef struct cbd_req_host   cbd_req_host;
typedef struct cbd_redis_pool cbd_redis_pool;
typedef struct cbd_journal    cbd_journal;

/*
 * An invalidation that fails (Redis down, connection lost, deadline
 * passed, Redis refused) is answered with an error and recorded here,
 * key by key and pattern by pattern, per namespace. Until a namespace's
 * records are applied, nothing of it is read from the cache: Get and
 * GetMany answer UNAVAILABLE, Fetch loads from the database without
 * storing. So a value that an earlier invalidation removed, or tried to,
 * is never served again.
 *
 *   sweep fails ──► add(ns, key|pattern) ──► ns blocked
 *   cron: Redis ready ──► Delete / InvalidatePattern per ns (internal)
 *         all OK ──► ns unblocked      one fails ──► kept, retried later
 *
 * Bounded: past max_items records, a namespace's records are replaced by
 * "flush the namespace" (pattern "*"), which covers them all.
 */

/* cbd_journal_alloc makes an empty journal of at most max_items. */
CB_NODISCARD cb_status cbd_journal_alloc(cbd_journal **out, cbd_req_host *host,
    cbd_redis_pool *redis, size_t max_items);

/* cbd_journal_free frees it. NULL-safe. */
void cbd_journal_free(cbd_journal *j);

/* cbd_journal_add records that key (pattern 0) or pattern (1) of ns,
 * without the key prefix, may still be in Redis. Loop thread. */
void cbd_journal_add(
    cbd_journal *j, const char *ns, const char *tail, int pattern);

/* cbd_journal_plan is cbd_journal_add for an invalidation that is part of
 * normal work rather than a failure (NOTIFY's catch-up when LISTEN
 * starts): the namespace's block is logged at info, not as a warning. */
void cbd_journal_plan(
    cbd_journal *j, const char *ns, const char *tail, int pattern);

/* cbd_journal_flush records that all of ns must go (used when a source of
 * invalidations may have lost some, like a dropped LISTEN). */
void cbd_journal_flush(cbd_journal *j, const char *ns);

/* cbd_journal_blocks says whether reads of ns must not come from the
 * cache now. Loop thread. */
int cbd_journal_blocks(const cbd_journal *j, const char *ns);

/* cbd_journal_cron replays what is pending when Redis is ready (at most
 * one round at a time, with a pause after a failed one). Loop thread. */
void cbd_journal_cron(cbd_journal *j);

/* Gauges: records waiting or being replayed; namespaces blocked. */
size_t cbd_journal_items(const cbd_journal *j);
size_t cbd_journal_namespaces(const cbd_journal *j);

#endif /* CBD_JOURNAL_H */

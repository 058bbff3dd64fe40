/* SPDX-License-Identifier: MIT */
/* Database-driven invalidation: notifications on the LISTEN connection
 * are applied like EventService/Publish. */
#ifndef CBD_NOTIFY_H
#define CBD_NOTIFY_H

#include <stdint.h>

#include <cachebroker/cachebroker.h>

typedef struct cbd_req_host cbd_req_host;
typedef struct cbd_journal  cbd_journal;
typedef struct cbd_notify   cbd_notify;

/*
 *   trigger: pg_notify('cachebroker', '{"event":"users.updated",
 *                                       "params":{"user_id":42}}')
 *   LISTEN connection (db_pool.c) ──► cbd_notify_received
 *       ──► JSON ──► internal EventService/Publish ──► sweep
 *           (Redis down: the sweep's keys go to the journal)
 *
 * NOTIFY has no replay: whenever the LISTEN connection (re)starts
 * listening, what arrived meanwhile is lost. So each time, every target
 * of every event rule, with its {params} as '*', goes to the journal as
 * a pattern: those namespaces are not read from the cache until the
 * patterns are applied.
 */

/* cbd_notify_alloc makes the receiver: events run as internal requests
 * of host, under the policy in effect; what Redis may have missed is
 * planned in journal. Loop thread. */
CB_NODISCARD cb_status cbd_notify_alloc(
    cbd_notify **out, cbd_req_host *host, cbd_journal *journal);

/* cbd_notify_free frees it. NULL-safe. */
void cbd_notify_free(cbd_notify *n);

/* Callbacks for the database pool (cbd_db_notify_fn and
 * cbd_db_listening_fn); arg is the cbd_notify. */
void cbd_notify_received(void *arg, const char *channel, const char *payload);
void cbd_notify_listening(void *arg);

/* cbd_notify_settled: no channel is configured (n NULL), or it has
 * listened at least once. */
int cbd_notify_settled(const cbd_notify *n);

/* Counters: notifications received, and those not applied (a bad
 * payload or an event the policy does not know). */
uint64_t cbd_notify_count(const cbd_notify *n);
uint64_t cbd_notify_errors(const cbd_notify *n);

#endif /* CBD_NOTIFY_H */

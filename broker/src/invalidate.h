/* SPDX-License-Identifier: MIT */
/* Invalidation: removing keys and glob patterns from Redis for a request
 * (Delete, InvalidatePattern, EventService/Publish). */
#ifndef CBD_INVALIDATE_H
#define CBD_INVALIDATE_H

#include <stddef.h>

#include <cachebroker/cachebroker.h>

typedef struct cbd_req   cbd_req;
typedef struct cbd_sweep cbd_sweep;

/* Called when a sweep is over: op.count holds the keys removed, op.code
 * and op.msg the first failure (if any). */
typedef void cbd_sweep_done_fn(cbd_req *req);

/* cbd_sweep_alloc makes an empty plan; NULL when out of memory. */
cbd_sweep *cbd_sweep_alloc(void);

/* cbd_sweep_free frees a plan not handed to cbd_sweep_run. NULL-safe. */
void cbd_sweep_free(cbd_sweep *s);

/* cbd_sweep_key adds the key "<prefix><ns>:<key>"; -1 when out of
 * memory. Keys of one namespace added in a row go out as one UNLINK. */
int cbd_sweep_key(
    cbd_sweep *s, const char *prefix, const char *ns, const char *key);

/* cbd_sweep_pattern adds the glob "<prefix><ns>:<pattern>"; it can only
 * remove keys that start with "<prefix><ns>:". -1 when out of memory. */
int cbd_sweep_pattern(
    cbd_sweep *s, const char *prefix, const char *ns, const char *pattern);

/*
 * cbd_sweep_run takes ownership of s and runs it for req: it tells the
 * loader that each namespace is being invalidated (loads already running
 * will not store), UNLINKs the keys, then SCANs (COUNT scan_count) and
 * UNLINKs each pattern's keys, a batch at a time, so that Redis is never
 * blocked long. Counts invalidations per namespace. Calls done at the end,
 * or answers UNAVAILABLE itself when Redis is not there. The sweep is
 * parked on req (request.h): when req is answered, by done or anything
 * else, what did not finish goes to the journal (unless the journal is
 * replaying it) and the sweep is freed. Loop thread.
 */
void cbd_sweep_run(cbd_req *req, cbd_sweep *s, cbd_sweep_done_fn *done);

#endif /* CBD_INVALIDATE_H */

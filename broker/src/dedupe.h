/* SPDX-License-Identifier: MIT */
/* request_id replay protection: a mutating call seen twice is applied once. */
#ifndef CBD_DEDUPE_H
#define CBD_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

typedef struct cbd_dedupe       cbd_dedupe;
typedef struct cbd_dedupe_entry cbd_dedupe_entry;

/*
 * The table remembers (method, request_id) of mutating calls for a window.
 * A repeat of a call still running waits for its result; a repeat of a
 * call that succeeded gets the stored reply without touching Redis; a call
 * that failed is forgotten so that its retry is applied. Memory is bounded
 * by the entry count; when full, the oldest finished entry goes. It knows
 * no request: dispatch.c applies it to them. Loop thread only.
 */
enum cbd_dedupe_verdict {
	CBD_DEDUPE_NEW,    /* first sight: run it; *entry is its entry */
	CBD_DEDUPE_WAIT,   /* same call is running: *entry is its entry */
	CBD_DEDUPE_REPLAY, /* same call succeeded: answer with *payload */
	CBD_DEDUPE_SKIP,   /* table full of running calls: just run it */
};

/* cbd_dedupe_alloc makes a table of at most cap entries kept window_us. */
CB_NODISCARD cb_status cbd_dedupe_alloc(
    cbd_dedupe **out, uint32_t cap, uint64_t window_us);

/* cbd_dedupe_free frees the table. NULL-safe; no one may wait on it. */
void cbd_dedupe_free(cbd_dedupe *d);

/* cbd_dedupe_begin looks (method, id) up. For REPLAY, *payload and *len
 * point into the table, valid until the next call on it. */
enum cbd_dedupe_verdict cbd_dedupe_begin(cbd_dedupe *d, int method,
    const char *id, uint64_t now_us, cbd_dedupe_entry **entry,
    const uint8_t **payload, size_t *len);

/* cbd_dedupe_waiters is the head of the caller's list of repeats waiting
 * on a running entry (NULL: none): the table keeps it, never reads it. */
void **cbd_dedupe_waiters(cbd_dedupe_entry *e);

/* cbd_dedupe_complete records the outcome of the entry's call: its
 * payload is copied when code is OK; otherwise the entry is dropped (a
 * retry runs again). The caller took the waiters first. */
void cbd_dedupe_complete(cbd_dedupe *d, cbd_dedupe_entry *e, cb_status code,
    const void *payload, size_t len, uint64_t now_us);

/* cbd_dedupe_expire drops finished entries older than the window. */
void cbd_dedupe_expire(cbd_dedupe *d, uint64_t now_us);

/* cbd_dedupe_count is the number of entries held. */
size_t cbd_dedupe_count(const cbd_dedupe *d);

#endif /* CBD_DEDUPE_H */

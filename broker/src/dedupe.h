/* SPDX-License-Identifier: MIT */
/* request_id replay protection: a mutating call seen twice is applied once. */
#ifndef CBD_DEDUPE_H
#define CBD_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

typedef struct cbd_req          cbd_req;
typedef struct cbd_dedupe       cbd_dedupe;
typedef struct cbd_dedupe_entry cbd_dedupe_entry;

/*
 * The table remembers (method, request_id) of mutating calls for a window.
 * A repeat of a call still running waits for its result; a repeat of a
 * call that succeeded gets the stored reply without touching Redis; a call
 * that failed is forgotten so that its retry is applied. Memory is bounded
 * by the entry count; when full, the oldest finished entry goes. Loop
 * thread only.
 */
enum cbd_dedupe_verdict {
	CBD_DEDUPE_NEW,    /* first sight: run it; req->dedupe is set */
	CBD_DEDUPE_WAIT,   /* same call is running: req parked on it */
	CBD_DEDUPE_REPLAY, /* same call succeeded: answer with *payload */
	CBD_DEDUPE_SKIP,   /* table full of running calls: just run it */
};

/* cbd_dedupe_alloc makes a table of at most cap entries kept window_us. */
CB_NODISCARD cb_status cbd_dedupe_alloc(
    cbd_dedupe **out, uint32_t cap, uint64_t window_us);

/* cbd_dedupe_free frees the table. NULL-safe; no request may wait. */
void cbd_dedupe_free(cbd_dedupe *d);

/* cbd_dedupe_begin looks req up (by req->method and its request_id).
 * For REPLAY, *payload and *len point into the table, valid until the
 * next call on it. */
enum cbd_dedupe_verdict cbd_dedupe_begin(cbd_dedupe *d, cbd_req *req,
    uint64_t now_us, const uint8_t **payload, size_t *len);

/* cbd_dedupe_complete records the outcome of the entry's call (payload
 * copied when code is OK; otherwise the entry is dropped) and returns the
 * list of waiting requests (linked by next), which the caller answers. */
cbd_req *cbd_dedupe_complete(cbd_dedupe *d, cbd_dedupe_entry *e,
    cb_status code, const void *payload, size_t len, uint64_t now_us);

/* cbd_dedupe_unwait removes a waiting request (its deadline passed). */
void cbd_dedupe_unwait(cbd_dedupe_entry *e, cbd_req *req);

/* cbd_dedupe_expire drops finished entries older than the window. */
void cbd_dedupe_expire(cbd_dedupe *d, uint64_t now_us);

/* cbd_dedupe_count is the number of entries held. */
size_t cbd_dedupe_count(const cbd_dedupe *d);

#endif /* CBD_DEDUPE_H */

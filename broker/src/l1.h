/* SPDX-License-Identifier: MIT */
/* The L1: a bounded copy of hot Redis values in the broker's memory. */
#ifndef CBD_L1_H
#define CBD_L1_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

/*
 * Why: a hit through the broker crosses nng's threads, the loop thread and
 * Redis; a hit in L1 is answered on the thread that received it. L1 knows
 * Redis keys (prefix included) and their values, nothing about requests.
 *
 * Bounded by bytes (each entry costs its key, its value and a fixed
 * overhead). Sixteen shards, each with its own mutex (held for a lookup
 * and one copy of the value), LRU list and frequency sketch: a new key
 * that needs room is admitted only if it was asked for more often than
 * each entry it would evict (TinyLFU, as Caffeine and Ristretto do), so a
 * scan of keys read once does not push out hot ones.
 *
 * Coherence is the caller's (tracking.c): L1 serves nothing until it is
 * told it is coherent, and is emptied when it is not. A fill carries a
 * token taken before its GET left: an invalidation of that key (or any
 * clearing) since then cancels it, as the invalidation and the GET's
 * reply travel on different connections.
 *
 * Any thread; never blocks except on a shard's mutex.
 */
typedef struct cbd_l1 cbd_l1;

/* What L1 counted since start, and holds now. */
typedef struct cbd_l1_stats {
	uint64_t hits;
	uint64_t misses;        /* looked up while coherent, not found */
	uint64_t fills;         /* entries stored */
	uint64_t evictions;     /* entries pushed out for room */
	uint64_t invalidations; /* entries dropped for a change */
	uint64_t refusals;      /* fills refused by admission or size */
	uint64_t cancelled;     /* fills cancelled by an invalidation */
	uint64_t clears;        /* times emptied (coherence lost, flush) */
	uint64_t bytes;         /* held now */
	uint64_t entries;       /* held now */
	uint64_t max_bytes;
	int      coherent;
} cbd_l1_stats;

/* A hit: a copy of the value (malloc'd, the caller frees it) and the
 * time it has left in Redis (-1: none). */
typedef struct cbd_l1_hit {
	uint8_t *value;
	size_t   len;
	int64_t  ttl_ms;
} cbd_l1_hit;

/* cbd_l1_alloc makes an L1 of at most max_bytes (> 0), not coherent. */
CB_NODISCARD cb_status cbd_l1_alloc(cbd_l1 **out, size_t max_bytes);

/* cbd_l1_free frees it. NULL-safe; no other thread may use it. */
void cbd_l1_free(cbd_l1 *l1);

/* cbd_l1_set_coherent: on, L1 serves and takes fills whose token is
 * taken from now on; off, it is emptied and serves nothing. */
void cbd_l1_set_coherent(cbd_l1 *l1, int on);

/* cbd_l1_coherent says whether L1 serves. */
int cbd_l1_coherent(const cbd_l1 *l1);

/* cbd_l1_get copies key's value into *hit and returns 1 if L1 holds it
 * fresh (and is coherent); 0 otherwise. Either way the key's frequency
 * counts. */
int cbd_l1_get(cbd_l1 *l1, const char *key, uint64_t now_us, cbd_l1_hit *hit);

/* cbd_l1_token is what a fill of key needs: take it before the GET that
 * reads the value is sent. 0 when L1 is not coherent (the fill will not
 * be stored). */
uint64_t cbd_l1_token(cbd_l1 *l1, const char *key);

/*
 * cbd_l1_fill stores key's value read by the GET that token was taken for,
 * for at most ttl_ms (> 0) and never past redis_ttl_ms (-1: none), unless
 * key was invalidated or L1 cleared since, admission refuses it, or it is
 * too large.
 */
void cbd_l1_fill(cbd_l1 *l1, uint64_t token, const char *key,
    const void *value, size_t len, uint64_t now_us, uint64_t ttl_ms,
    int64_t redis_ttl_ms);

/* cbd_l1_invalidate drops key and cancels its fills in flight. */
void cbd_l1_invalidate(cbd_l1 *l1, const char *key);

/* cbd_l1_invalidate_prefix drops every key that starts with prefix and
 * cancels every fill in flight. */
void cbd_l1_invalidate_prefix(cbd_l1 *l1, const char *prefix);

/* cbd_l1_clear empties L1 and cancels every fill in flight. */
void cbd_l1_clear(cbd_l1 *l1);

/* cbd_l1_stats_get copies the counters. */
void cbd_l1_stats_get(cbd_l1 *l1, cbd_l1_stats *out);

/* cbd_l1_stats_reset sets the counters back to zero (not what it holds:
 * bytes and entries). */
void cbd_l1_stats_reset(cbd_l1 *l1);

/* What one entry costs beside its key and value (for the docs and the
 * tests of the bound). */
#define CBD_L1_ENTRY_OVERHEAD 96

#endif /* CBD_L1_H */

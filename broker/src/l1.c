/* SPDX-License-Identifier: MIT */
/* The L1: sharded, bounded by bytes, LRU with TinyLFU admission. */
#include "l1.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

#define SHARDS 16      /* a power of two; the hash's top bits pick one */
#define STRIPES 4096   /* fill-cancel counters; the hash's low bits */
#define SKETCH_ROWS 4  /* count-min rows */
#define COUNT_MAX 15   /* a counter saturates here (4 bits' worth) */
#define MIN_BUCKETS 64 /* per shard, at first */

typedef struct entry {
	struct entry *chain; /* bucket */
	struct entry *prev;  /* LRU: toward the head (most recent) */
	struct entry *next;  /* toward the tail (next victim) */
	uint64_t      hash;
	uint64_t      expire_us;       /* L1's own */
	uint64_t      redis_expire_us; /* 0: no expiry in Redis */
	size_t        klen;
	size_t        vlen;
	size_t        cost;
	char          data[]; /* key, NUL, value */
} entry;

typedef struct shard {
	pthread_mutex_t mtx; /* a leaf lock */
	entry         **buckets;
	uint32_t        mask; /* buckets - 1 */
	size_t          n;
	entry          *head; /* most recently used */
	entry          *tail; /* next victim */
	size_t          bytes;
	size_t          budget;
	uint8_t        *sketch; /* SKETCH_ROWS rows of smask + 1 */
	uint32_t        smask;
	uint32_t        adds;     /* since the last halving */
	uint32_t        reset_at; /* halve the counters then */
	/* Counters, under mtx. */
	uint64_t hits;
	uint64_t misses;
	uint64_t fills;
	uint64_t evictions;
	uint64_t invalidations;
	uint64_t refusals;
	uint64_t cancelled;
} shard;

struct cbd_l1 {
	shard            shards[SHARDS];
	_Atomic uint32_t stripes[STRIPES];
	_Atomic uint32_t epoch; /* bumped by every clearing; never 0 */
	atomic_int       coherent;
	_Atomic uint64_t clears;
	size_t           max_bytes;
};

/* key_hash is FNV-1a with a final mix: FNV's top bits, which pick the
 * shard, barely change between keys that differ at their end. */
static uint64_t
key_hash(const char *key)
{
	uint64_t h = cbd_keys_hash(key);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static shard *
shard_of(cbd_l1 *l1, uint64_t hash)
{
	return &l1->shards[hash >> 60];
}

static uint32_t
stripe_of(uint64_t hash)
{
	return (uint32_t) (hash & (STRIPES - 1));
}

static uint32_t
bucket_of(const shard *s, uint64_t hash)
{
	return (uint32_t) (hash >> 16) & s->mask;
}

static uint32_t
next_pow2(size_t v, uint32_t lo, uint32_t hi)
{
	uint32_t n = lo;

	while (n < v && n < hi) {
		n <<= 1;
	}
	return n;
}

/* The frequency sketch: count-min, SKETCH_ROWS rows, saturating. */

static uint32_t
sketch_index(const shard *s, uint64_t hash, int row)
{
	static const uint64_t seeds[SKETCH_ROWS] = { 0x9e3779b97f4a7c15ull,
		0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull,
		0xd6e8feb86659fd93ull };
	uint64_t              h = (hash ^ (hash >> 29)) * seeds[row];

	return (uint32_t) (h >> 32) & s->smask;
}

static void
sketch_add(shard *s, uint64_t hash)
{
	for (int r = 0; r < SKETCH_ROWS; r++) {
		uint8_t *c = &s->sketch[(size_t) r * (s->smask + 1) +
		    sketch_index(s, hash, r)];
		if (*c < COUNT_MAX) {
			(*c)++;
		}
	}
	if (++s->adds >= s->reset_at) {
		/* Age: recent use counts more than old use. */
		for (size_t i = 0; i < (size_t) SKETCH_ROWS * (s->smask + 1);
		     i++) {
			s->sketch[i] >>= 1;
		}
		s->adds /= 2;
	}
}

static unsigned
sketch_estimate(const shard *s, uint64_t hash)
{
	unsigned min = COUNT_MAX;

	for (int r = 0; r < SKETCH_ROWS; r++) {
		unsigned c = s->sketch[(size_t) r * (s->smask + 1) +
		    sketch_index(s, hash, r)];
		if (c < min) {
			min = c;
		}
	}
	return min;
}

/* Entries. Caller holds the shard's mutex. */

static entry *
find(shard *s, uint64_t hash, const char *key, size_t klen)
{
	entry *e = s->buckets[bucket_of(s, hash)];

	while (e != NULL &&
	    (e->hash != hash || e->klen != klen ||
	        memcmp(e->data, key, klen) != 0)) {
		e = e->chain;
	}
	return e;
}

static void
lru_unlink(shard *s, entry *e)
{
	if (e->prev != NULL) {
		e->prev->next = e->next;
	} else {
		s->head = e->next;
	}
	if (e->next != NULL) {
		e->next->prev = e->prev;
	} else {
		s->tail = e->prev;
	}
	e->prev = e->next = NULL;
}

static void
lru_push(shard *s, entry *e)
{
	e->prev = NULL;
	e->next = s->head;
	if (s->head != NULL) {
		s->head->prev = e;
	} else {
		s->tail = e;
	}
	s->head = e;
}

static void
remove_entry(shard *s, entry *e)
{
	entry **pp = &s->buckets[bucket_of(s, e->hash)];

	while (*pp != e) {
		pp = &(*pp)->chain;
	}
	*pp = e->chain;
	lru_unlink(s, e);
	s->bytes -= e->cost;
	s->n--;
	free(e);
}

/* grow doubles the buckets when they hold more than one entry each;
 * keeps the old ones if memory is short. */
static void
grow(shard *s)
{
	uint32_t size = (s->mask + 1) * 2;
	entry  **b;

	if (s->n <= s->mask + 1) {
		return;
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
	if ((b = calloc(size, sizeof(*b))) == NULL) {
		return;
	}
	for (uint32_t i = 0; i <= s->mask; i++) {
		entry *e = s->buckets[i];
		while (e != NULL) {
			entry   *next = e->chain;
			uint32_t j = (uint32_t) (e->hash >> 16) & (size - 1);
			e->chain   = b[j];
			b[j]       = e;
			e          = next;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->mask    = size - 1;
}

/* L1. */

cb_status
cbd_l1_alloc(cbd_l1 **out, size_t max_bytes)
{
	cbd_l1 *l1 = calloc(1, sizeof(*l1));
	size_t  i;

	if (l1 == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	l1->max_bytes = max_bytes;
	atomic_init(&l1->epoch, 1);
	atomic_init(&l1->coherent, 0);
	for (i = 0; i < SHARDS; i++) {
		shard *s = &l1->shards[i];

		s->budget = max_bytes / SHARDS;
		s->mask   = MIN_BUCKETS - 1;
		/* About one counter per 128 bytes of budget. */
		s->smask    = next_pow2(s->budget / 128, 256, 1u << 20) - 1;
		s->reset_at = 10 * (s->smask + 1);
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointers */
		s->buckets = calloc(MIN_BUCKETS, sizeof(*s->buckets));
		s->sketch  = calloc(SKETCH_ROWS, (size_t) s->smask + 1);
		if (s->buckets == NULL || s->sketch == NULL ||
		    pthread_mutex_init(&s->mtx, NULL) != 0) {
			free(s->buckets);
			free(s->sketch);
			break;
		}
	}
	if (i < SHARDS) {
		while (i-- > 0) {
			pthread_mutex_destroy(&l1->shards[i].mtx);
			free(l1->shards[i].buckets);
			free(l1->shards[i].sketch);
		}
		free(l1);
		return CB_RESOURCE_EXHAUSTED;
	}
	*out = l1;
	return CB_OK;
}

void
cbd_l1_free(cbd_l1 *l1)
{
	if (l1 == NULL) {
		return;
	}
	for (size_t i = 0; i < SHARDS; i++) {
		shard *s = &l1->shards[i];

		while (s->head != NULL) {
			remove_entry(s, s->head);
		}
		pthread_mutex_destroy(&s->mtx);
		free(s->buckets);
		free(s->sketch);
	}
	free(l1);
}

/* empty drops every entry whose key starts with prefix (NULL: all) and
 * cancels every fill in flight. */
static void
empty(cbd_l1 *l1, const char *prefix)
{
	size_t plen = prefix != NULL ? strlen(prefix) : 0;

	atomic_fetch_add(&l1->epoch, 1);
	for (size_t i = 0; i < SHARDS; i++) {
		shard *s = &l1->shards[i];
		entry *e;

		pthread_mutex_lock(&s->mtx);
		e = s->head;
		while (e != NULL) {
			entry *next = e->next;
			if (prefix == NULL ||
			    (e->klen >= plen &&
			        memcmp(e->data, prefix, plen) == 0)) {
				remove_entry(s, e);
				if (prefix != NULL) {
					s->invalidations++;
				}
			}
			e = next;
		}
		pthread_mutex_unlock(&s->mtx);
	}
}

void
cbd_l1_set_coherent(cbd_l1 *l1, int on)
{
	if (on) {
		/* Fills whose GET left before this are not covered. */
		atomic_fetch_add(&l1->epoch, 1);
		atomic_store(&l1->coherent, 1);
		return;
	}
	atomic_store(&l1->coherent, 0);
	cbd_l1_clear(l1);
}

int
cbd_l1_coherent(const cbd_l1 *l1)
{
	return atomic_load(&l1->coherent);
}

int
cbd_l1_get(cbd_l1 *l1, const char *key, uint64_t now_us, cbd_l1_hit *hit)
{
	uint64_t hash;
	size_t   klen;
	shard   *s;
	entry   *e;
	int      found = 0;

	if (!atomic_load_explicit(&l1->coherent, memory_order_acquire)) {
		return 0;
	}
	hash = key_hash(key);
	klen = strlen(key);
	s    = shard_of(l1, hash);
	pthread_mutex_lock(&s->mtx);
	sketch_add(s, hash);
	e = find(s, hash, key, klen);
	if (e != NULL && e->expire_us <= now_us) {
		remove_entry(s, e);
		e = NULL;
	}
	if (e != NULL && (hit->value = malloc(e->vlen + 1)) != NULL) {
		memcpy(hit->value, e->data + e->klen + 1, e->vlen);
		hit->len = e->vlen;
		if (e->redis_expire_us == 0) {
			hit->ttl_ms = -1;
		} else {
			hit->ttl_ms = e->redis_expire_us > now_us
			    ? (int64_t) ((e->redis_expire_us - now_us) / 1000)
			    : 0;
		}
		lru_unlink(s, e);
		lru_push(s, e);
		s->hits++;
		found = 1;
	} else {
		s->misses++;
	}
	pthread_mutex_unlock(&s->mtx);
	return found;
}

uint64_t
cbd_l1_token(cbd_l1 *l1, const char *key)
{
	uint64_t hash = key_hash(key);
	uint64_t epoch;

	if (!atomic_load_explicit(&l1->coherent, memory_order_acquire)) {
		return 0;
	}
	epoch = atomic_load(&l1->epoch);
	return (epoch << 32) | atomic_load(&l1->stripes[stripe_of(hash)]);
}

/* admit makes room for cost bytes in s for a key of hash: expired
 * entries go first; a live victim goes only if the key was asked for
 * more often. Returns false if it does not fit. */
static bool
admit(shard *s, uint64_t hash, size_t cost, uint64_t now_us)
{
	bool compared = false;

	while (s->bytes + cost > s->budget && s->tail != NULL) {
		entry *v = s->tail;

		if (v->expire_us > now_us) {
			if (!compared &&
			    sketch_estimate(s, hash) <=
			        sketch_estimate(s, v->hash)) {
				return false;
			}
			compared = true;
			s->evictions++;
		}
		remove_entry(s, v);
	}
	return s->bytes + cost <= s->budget;
}

void
cbd_l1_fill(cbd_l1 *l1, uint64_t token, const char *key, const void *value,
    size_t len, uint64_t now_us, uint64_t ttl_ms, int64_t redis_ttl_ms)
{
	uint64_t hash;
	size_t   klen;
	size_t   cost;
	uint64_t expire;
	shard   *s;
	entry   *e;

	if (token == 0 || ttl_ms == 0 || redis_ttl_ms == 0 ||
	    redis_ttl_ms < -1) {
		return;
	}
	hash   = key_hash(key);
	klen   = strlen(key);
	cost   = CBD_L1_ENTRY_OVERHEAD + klen + 1 + len;
	expire = now_us + ttl_ms * 1000;
	if (redis_ttl_ms > 0 &&
	    now_us + (uint64_t) redis_ttl_ms * 1000 < expire) {
		expire = now_us + (uint64_t) redis_ttl_ms * 1000;
	}
	s = shard_of(l1, hash);
	pthread_mutex_lock(&s->mtx);
	if ((uint32_t) (token >> 32) != atomic_load(&l1->epoch) ||
	    (uint32_t) token != atomic_load(&l1->stripes[stripe_of(hash)])) {
		s->cancelled++;
		goto out;
	}
	if ((e = find(s, hash, key, klen)) != NULL) {
		remove_entry(s, e);
	}
	/* One value may take an eighth of a shard at most. */
	if (cost > s->budget / 8 || !admit(s, hash, cost, now_us) ||
	    (e = malloc(sizeof(*e) + klen + 1 + len)) == NULL) {
		s->refusals++;
		goto out;
	}
	e->hash      = hash;
	e->expire_us = expire;
	e->redis_expire_us =
	    redis_ttl_ms > 0 ? now_us + (uint64_t) redis_ttl_ms * 1000 : 0;
	e->klen = klen;
	e->vlen = len;
	e->cost = cost;
	memcpy(e->data, key, klen + 1);
	if (len > 0) {
		memcpy(e->data + klen + 1, value, len);
	}
	e->chain                       = s->buckets[bucket_of(s, hash)];
	s->buckets[bucket_of(s, hash)] = e;
	lru_push(s, e);
	s->bytes += cost;
	s->n++;
	s->fills++;
	grow(s);
out:
	pthread_mutex_unlock(&s->mtx);
}

void
cbd_l1_invalidate(cbd_l1 *l1, const char *key)
{
	uint64_t hash = key_hash(key);
	shard   *s    = shard_of(l1, hash);
	entry   *e;

	/* Before the lookup: a fill that checks its token after this sees
	 * it changed. */
	atomic_fetch_add(&l1->stripes[stripe_of(hash)], 1);
	pthread_mutex_lock(&s->mtx);
	if ((e = find(s, hash, key, strlen(key))) != NULL) {
		remove_entry(s, e);
		s->invalidations++;
	}
	pthread_mutex_unlock(&s->mtx);
}

void
cbd_l1_invalidate_prefix(cbd_l1 *l1, const char *prefix)
{
	empty(l1, prefix);
}

void
cbd_l1_clear(cbd_l1 *l1)
{
	atomic_fetch_add(&l1->clears, 1);
	empty(l1, NULL);
}

void
cbd_l1_stats_reset(cbd_l1 *l1)
{
	for (size_t i = 0; i < SHARDS; i++) {
		shard *s = &l1->shards[i];

		pthread_mutex_lock(&s->mtx);
		s->hits = s->misses = s->fills = s->evictions = 0;
		s->invalidations = s->refusals = s->cancelled = 0;
		pthread_mutex_unlock(&s->mtx);
	}
	atomic_store(&l1->clears, 0);
}

void
cbd_l1_stats_get(cbd_l1 *l1, cbd_l1_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < SHARDS; i++) {
		shard *s = &l1->shards[i];

		pthread_mutex_lock(&s->mtx);
		out->hits += s->hits;
		out->misses += s->misses;
		out->fills += s->fills;
		out->evictions += s->evictions;
		out->invalidations += s->invalidations;
		out->refusals += s->refusals;
		out->cancelled += s->cancelled;
		out->bytes += s->bytes;
		out->entries += s->n;
		pthread_mutex_unlock(&s->mtx);
	}
	out->clears    = atomic_load(&l1->clears);
	out->max_bytes = l1->max_bytes;
	out->coherent  = atomic_load(&l1->coherent);
}

/* SPDX-License-Identifier: MIT */
/* request_id replay protection: a mutating call seen twice is applied once. */
#include "dedupe.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

/* Longer request ids are not remembered (the call still runs). */
#define DEDUPE_MAX_ID 128

struct cbd_dedupe_entry {
	TAILQ_ENTRY(cbd_dedupe_entry) age;       /* oldest first */
	cbd_dedupe_entry *chain;                 /* hash bucket link */
	uint64_t          hash;                  /* of method and id */
	int               method;                /* method id */
	int               done;                  /* result stored */
	uint64_t          born_us;               /* finished at, or started */
	void             *waiters;               /* the caller's: repeats */
	uint8_t          *payload;               /* stored reply (heap) */
	size_t            len;                   /* its size */
	char              id[DEDUPE_MAX_ID + 1]; /* request_id */
};

struct cbd_dedupe {
	cbd_dedupe_entry **buckets; /* power-of-two hash table */
	size_t             mask;    /* buckets - 1 */
	size_t             count;   /* entries held */
	size_t             cap;     /* at most */
	uint64_t           window_us;
	TAILQ_HEAD(, cbd_dedupe_entry) ages;
};

static uint64_t
dedupe_hash(int method, const char *id)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t) method;
	for (; *id != '\0'; id++) {
		h ^= (unsigned char) *id;
		h *= 1099511628211ull;
	}
	return h;
}

cb_status
cbd_dedupe_alloc(cbd_dedupe **out, uint32_t cap, uint64_t window_us)
{
	cbd_dedupe *d;
	size_t      n = 16;

	while (n < (size_t) cap && n < (1u << 24)) {
		n <<= 1;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
	if ((d->buckets = calloc(n, sizeof(*d->buckets))) == NULL) {
		free(d);
		return CB_RESOURCE_EXHAUSTED;
	}
	d->mask      = n - 1;
	d->cap       = cap;
	d->window_us = window_us;
	TAILQ_INIT(&d->ages);
	*out = d;
	return CB_OK;
}

static void
dedupe_remove(cbd_dedupe *d, cbd_dedupe_entry *e)
{
	cbd_dedupe_entry **pp = &d->buckets[e->hash & d->mask];

	while (*pp != e) {
		pp = &(*pp)->chain;
	}
	*pp = e->chain;
	TAILQ_REMOVE(&d->ages, e, age);
	d->count--;
	free(e->payload);
	free(e);
}

void
cbd_dedupe_free(cbd_dedupe *d)
{
	cbd_dedupe_entry *e;

	if (d == NULL) {
		return;
	}
	while ((e = TAILQ_FIRST(&d->ages)) != NULL) {
		dedupe_remove(d, e);
	}
	free(d->buckets);
	free(d);
}

enum cbd_dedupe_verdict
cbd_dedupe_begin(cbd_dedupe *d, int method, const char *id, uint64_t now_us,
    cbd_dedupe_entry **entry, const uint8_t **payload, size_t *len)
{
	size_t            idlen = strlen(id);
	uint64_t          h;
	cbd_dedupe_entry *e;
	cbd_dedupe_entry *oldest;

	if (d->cap == 0 || idlen > DEDUPE_MAX_ID) {
		return CBD_DEDUPE_SKIP;
	}
	cbd_dedupe_expire(d, now_us);
	h = dedupe_hash(method, id);
	for (e = d->buckets[h & d->mask]; e != NULL; e = e->chain) {
		if (e->hash == h && e->method == method &&
		    strcmp(e->id, id) == 0) {
			break;
		}
	}
	if (e != NULL && e->done) {
		*payload = e->payload;
		*len     = e->len;
		return CBD_DEDUPE_REPLAY;
	}
	if (e != NULL) {
		*entry = e;
		return CBD_DEDUPE_WAIT;
	}
	if (d->count >= d->cap) {
		oldest = TAILQ_FIRST(&d->ages);
		if (oldest == NULL || !oldest->done) {
			return CBD_DEDUPE_SKIP;
		}
		dedupe_remove(d, oldest);
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		return CBD_DEDUPE_SKIP;
	}
	e->hash    = h;
	e->method  = method;
	e->born_us = now_us;
	memcpy(e->id, id, idlen + 1);
	e->chain                = d->buckets[h & d->mask];
	d->buckets[h & d->mask] = e;
	TAILQ_INSERT_TAIL(&d->ages, e, age);
	d->count++;
	*entry = e;
	return CBD_DEDUPE_NEW;
}

void **
cbd_dedupe_waiters(cbd_dedupe_entry *e)
{
	return &e->waiters;
}

void
cbd_dedupe_complete(cbd_dedupe *d, cbd_dedupe_entry *e, cb_status code,
    const void *payload, size_t len, uint64_t now_us)
{
	if (code != CB_OK || (len > 0 && (e->payload = malloc(len)) == NULL)) {
		dedupe_remove(d, e);
		return;
	}
	if (len > 0) {
		memcpy(e->payload, payload, len);
	}
	e->len  = len;
	e->done = 1;
	/* Age from completion: a finished entry moves to the young end. */
	e->born_us = now_us;
	TAILQ_REMOVE(&d->ages, e, age);
	TAILQ_INSERT_TAIL(&d->ages, e, age);
}

void
cbd_dedupe_expire(cbd_dedupe *d, uint64_t now_us)
{
	cbd_dedupe_entry *e;

	while ((e = TAILQ_FIRST(&d->ages)) != NULL && e->done &&
	    now_us - e->born_us > d->window_us) {
		dedupe_remove(d, e);
	}
}

size_t
cbd_dedupe_count(const cbd_dedupe *d)
{
	return d->count;
}

/* SPDX-License-Identifier: MIT */
/* The Zipf run: a precomputed key sequence, C Fetches in flight. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cachebroker/v1/cache.pb-c.h>
#include <nng/nng.h>

#include "bench.h"
#include "fetch.h"
#include "loadgen.h"

/*
 * The sequence is made before the run (zipf.c); request i fetches
 * key seq[i]. Workers take the next i from one atomic counter, so the
 * broker sees the sequence in order, give or take the C in flight. Every
 * request counts: the run starts with whatever the cache holds (empty,
 * for the cold pass) and ends when the last answer is in. The engines,
 * threads (libcachebroker's Fetch) or aio (Fetch envelopes packed here),
 * are loadgen.c's; an answer's class is its FetchSource.
 */

/* The main thread reports progress this often (s). */
#define ZL_PROGRESS_S 10

typedef struct zl_run {
	const fb_opts  *o;    /* what to do */
	const uint32_t *keys; /* the sequence, o->requests long */
	atomic_llong    next; /* index of the next request to start */
	uint64_t       *seq;  /* per worker: requests started (ids) */
} zl_run;

/* zl_take returns the index of the next request, or -1 when the sequence
 * is used up. */
static int64_t
zl_take(zl_run *z)
{
	long long i = atomic_fetch_add(&z->next, 1);

	return (i < z->o->requests ? (int64_t) i : -1);
}

/* zl_pack packs the Fetch envelope of worker w's next key. */
static int
zl_pack(void *arg, int w, nng_msg **out, char *err, size_t errlen)
{
	zl_run                       *z = arg;
	Cachebroker__V1__FetchRequest req;
	fb_params                     p;
	int64_t                       i;
	int                           rv;

	if ((i = zl_take(z)) < 0) {
		return (0);
	}
	fb_request_init(&req, &p, z->o, (int64_t) z->keys[i]);
	if ((rv = bench_envelope_pack(out, FB_FETCH_METHOD, &req.base,
	         ((uint64_t) w << 40) | z->seq[w]++, 0xfe7c4u)) != 0) {
		(void) snprintf(err, errlen, "pack: %s", nng_strerror(rv));
		return (-1);
	}
	return (1);
}

/* zl_check checks a reply: an OK Response carrying a FetchResponse with
 * a value; its class is the answer's source. */
static int
zl_check(void *arg, int w, nng_msg *msg, int *source, char *err, size_t errlen)
{
	ProtobufCMessage *m;
	int               rv;

	(void) arg;
	(void) w;
	if (bench_envelope_unpack(nng_msg_body(msg), nng_msg_len(msg),
	        &cachebroker__v1__fetch_response__descriptor, &m, err,
	        errlen) != 0) {
		return (-1);
	}
	rv = fb_check((const void *) m, source, err, errlen);
	protobuf_c_message_free_unpacked(m, NULL);
	return (rv);
}

/* zl_call is one Fetch through libcachebroker (threads engine). */
static int
zl_call(void *arg, int w, cb_client *c, int *source, char *err, size_t errlen)
{
	zl_run *z = arg;
	size_t  len;
	int64_t i;

	(void) w;
	if ((i = zl_take(z)) < 0) {
		return (0);
	}
	*source = 0;
	return (fb_fetch(c, z->o, (int64_t) z->keys[i], source, &len, err,
	            errlen) != 0
	        ? -1
	        : 1);
}

/* zl_progress says how far the run is, on stderr. */
static void
zl_progress(loadgen *g, void *arg)
{
	const zl_run *z = arg;

	fprintf(stderr, "cb_fetch_bench: %s: %llu of %" PRId64 " answered\n",
	    z->o->label, (unsigned long long) loadgen_done(g), z->o->requests);
}

/*
 * zl_new_keys counts the different keys of the sequence (keys, with
 * distinct different ones) that the pass before it (o->after_seed, same
 * length and key space) did not ask for: the loads a cache that kept
 * everything from that pass cannot avoid.
 */
static int
zl_new_keys(
    const fb_opts *o, const uint32_t *keys, int64_t distinct, int64_t *out)
{
	uint32_t *prev;
	uint8_t  *seen;
	int64_t   unused;
	int64_t   old = 0;

	if (bench_zipf_alloc(&prev, o->requests, o->keys, o->exponent,
	        o->after_seed, &unused) != 0) {
		return (-1);
	}
	if ((seen = calloc((size_t) o->keys / 8 + 1, 1)) == NULL) {
		free(prev);
		return (-1);
	}
	for (int64_t i = 0; i < o->requests; i++) {
		uint32_t k = prev[i] - 1;

		seen[k / 8] |= (uint8_t) (1u << (k % 8));
	}
	/* Count each key of this pass once: clear its bit when seen. */
	for (int64_t i = 0; i < o->requests; i++) {
		uint32_t k = keys[i] - 1;

		if (seen[k / 8] & (1u << (k % 8))) {
			seen[k / 8] &= (uint8_t) ~(1u << (k % 8));
			old++;
		}
	}
	free(prev);
	free(seen);
	*out = distinct - old;
	return (0);
}

int
fb_zipf_run(const fb_opts *o)
{
	zl_run          z;
	loadgen        *g        = NULL;
	loadgen_result *res      = NULL;
	uint32_t       *keys     = NULL;
	int64_t         distinct = 0;
	int64_t         new_keys = -1;
	fb_sample       s0;
	fb_sample       s1;
	uint64_t        t0;
	uint64_t        t1;
	uint64_t        answered;
	uint64_t       *by_source;
	int             started = 0;
	int             code    = 1;
	double          wall;
	loadgen_opts    lo   = { .who = "cb_fetch_bench",
		     .url             = o->url,
		     .concurrency     = o->concurrency,
		     .aio             = o->aio,
		     .client          = true,
		     .timeout_ms      = (uint32_t) o->timeout_ms,
		     /* Answers of 1,000-row lists are large: accept what the
		      * broker can send. */
		     .recv_max = 64u << 20 };
	loadgen_work    work = {
		   .pack = zl_pack, .check = zl_check, .call = zl_call, .arg = &z
	};

	memset(&z, 0, sizeof(z));
	z.o = o;
	atomic_init(&z.next, 0);
	z.seq = calloc((size_t) o->concurrency, sizeof(*z.seq));
	res   = malloc(sizeof(*res));
	if (z.seq == NULL || res == NULL ||
	    bench_zipf_alloc(&keys, o->requests, o->keys, o->exponent, o->seed,
	        &distinct) != 0) {
		fprintf(stderr, "cb_fetch_bench: out of memory\n");
		goto out;
	}
	z.keys = keys;
	if (o->has_after && zl_new_keys(o, keys, distinct, &new_keys) != 0) {
		fprintf(stderr, "cb_fetch_bench: out of memory\n");
		goto out;
	}
	if (loadgen_open(&g, &lo, &work) != 0) {
		goto out;
	}

	fb_sample_take(o, &s0);
	t0      = bench_now_ns();
	started = loadgen_start(g);
	loadgen_wait(g, started, 0, ZL_PROGRESS_S, zl_progress, &z);
	t1 = bench_now_ns();
	fb_sample_take(o, &s1);
	if (started != o->concurrency) {
		goto out;
	}

	loadgen_result_get(g, res);
	by_source = res->tags;
	answered  = res->hist.count;
	wall      = (double) (t1 - t0) / 1e9;
	printf("row=%s concurrency=%d engine=%s requests=%" PRId64
	       " errors=%" PRIu64,
	    o->label, o->concurrency, o->aio ? "aio" : "threads", o->requests,
	    res->errors);
	bench_hist_print(&res->hist);
	printf(" rps=%.1f wall_s=%.3f hits=%" PRIu64 " misses=%" PRIu64
	       " stale=%" PRIu64 " hit_rate=%.4f distinct=%" PRId64
	       " keys=%" PRId64 " exponent=%g seed=%" PRIu64,
	    (double) answered / wall, wall,
	    by_source[CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE],
	    by_source[CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_LOADER],
	    by_source[CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_STALE],
	    answered
	        ? (double) by_source
	                [CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE] /
	            (double) answered
	        : 0.0,
	    distinct, o->keys, o->exponent, o->seed);
	if (new_keys >= 0) {
		printf(" new_keys=%" PRId64, new_keys);
	}
	fb_print_costs(o, &s0, &s1, answered);
	printf("\n");
	(void) fflush(stdout);
	if (res->errors > 0 || answered != (uint64_t) o->requests) {
		fprintf(stderr,
		    "cb_fetch_bench: *** %s: %" PRIu64 " REQUESTS FAILED, "
		    "%" PRIu64 " answered; first failure: %s ***\n",
		    o->label, res->errors, answered,
		    res->first_err[0] ? res->first_err : "(none)");
		code = 2;
	} else {
		code = 0;
	}
out:
	loadgen_close(g);
	free(z.seq);
	free(res);
	free(keys);
	return (code);
}

/* SPDX-License-Identifier: MIT */
/* The Zipf run: a precomputed key sequence, C Fetches in flight. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cachebroker/v1/cache.pb-c.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench.h"
#include "fetch.h"

/*
 * The sequence is made before the run (fetch_zipf.c); request i fetches
 * key seq[i]. Workers take the next i from one atomic counter, so the
 * broker sees the sequence in order, give or take the C in flight. Every
 * request counts: the run starts with whatever the cache holds (empty,
 * for the cold pass) and ends when the last answer is in.
 *
 * Engines, as in load.c:
 *
 *   THREADS  worker = thread: take i, cb_cache_fetch, record, ...
 *            (libcachebroker, one shared client)
 *
 *   AIO      worker = req0 context + aio, a callback state machine on
 *            nng's threads, sending Fetch envelopes packed here:
 *
 *              zl_next --send--> W_SEND --sent--> W_RECV --reply--+
 *                 ^                                               |
 *                 +-------------------- record -------------------+
 *
 *            and W_IDLE once the sequence is used up.
 */

enum { W_IDLE, W_SEND, W_RECV };

/* The main thread reports progress this often (s). */
#define ZL_PROGRESS_S 10

typedef struct zl_run zl_run;

typedef struct zl_worker {
	zl_run    *z;            /* the run */
	int        idx;          /* 0 .. concurrency-1 */
	pthread_t  thread;       /* THREADS engine */
	nng_ctx    ctx;          /* AIO engine: its req0 context */
	nng_aio   *aio;          /* AIO engine: its aio */
	int        state;        /* AIO engine: W_IDLE, W_SEND or W_RECV */
	uint64_t   seq;          /* requests started, keeps ids unique */
	uint64_t   t_start;      /* when the request in flight started */
	uint64_t   errors;       /* failed requests */
	uint64_t   by_source[4]; /* answers per FetchSource */
	bench_hist hist;         /* latencies of the answers */
} zl_worker;

struct zl_run {
	const fb_opts  *o;         /* what to do */
	const uint32_t *keys;      /* the sequence, o->requests long */
	atomic_llong    next;      /* index of the next request to start */
	atomic_llong    done;      /* requests answered (progress) */
	nng_socket      sock;      /* AIO engine */
	bool            sock_open; /* sock needs closing */
	cb_client      *client;    /* THREADS engine */
	zl_worker      *workers;   /* concurrency of them */
	pthread_mutex_t mtx;       /* protects busy, first_err */
	pthread_cond_t  cv;        /* signalled when busy reaches 0 */
	int             busy;      /* workers not yet idle */
	atomic_bool     have_err;  /* first_err is set */
	char            first_err[FB_ERR_MAX]; /* the first failure */
};

/* zl_fail counts a failed request of w and keeps the first reason. */
static void
zl_fail(zl_worker *w, const char *why)
{
	zl_run *z = w->z;

	w->errors++;
	if (atomic_load_explicit(&z->have_err, memory_order_relaxed)) {
		return;
	}
	pthread_mutex_lock(&z->mtx);
	if (!atomic_load(&z->have_err)) {
		(void) snprintf(z->first_err, sizeof(z->first_err), "%s", why);
		atomic_store(&z->have_err, true);
	}
	pthread_mutex_unlock(&z->mtx);
}

/* zl_record counts one answer of w, taken at t1, from source. */
static void
zl_record(zl_worker *w, int source, uint64_t t1)
{
	bench_hist_add(&w->hist, t1 - w->t_start);
	if (source >= 0 && source < 4) {
		w->by_source[source]++;
	}
	atomic_fetch_add_explicit(&w->z->done, 1, memory_order_relaxed);
}

/* zl_take returns the index of w's next request, or -1 when the sequence
 * is used up. */
static int64_t
zl_take(zl_run *z)
{
	long long i = atomic_fetch_add(&z->next, 1);

	return (i < z->o->requests ? (int64_t) i : -1);
}

/* zl_idle parks a worker for good and tells the main thread. */
static void
zl_idle(zl_worker *w)
{
	zl_run *z = w->z;

	w->state = W_IDLE;
	pthread_mutex_lock(&z->mtx);
	if (--z->busy == 0) {
		pthread_cond_broadcast(&z->cv);
	}
	pthread_mutex_unlock(&z->mtx);
}

/* --- THREADS engine ---------------------------------------------------- */

static void *
zl_thread(void *arg)
{
	zl_worker *w = arg;
	zl_run    *z = w->z;
	char       err[FB_ERR_MAX];
	int64_t    i;

	while ((i = zl_take(z)) >= 0) {
		size_t len;
		int    src = 0;

		w->t_start = bench_now_ns();
		if (fb_fetch(z->client, z->o, (int64_t) z->keys[i], &src, &len,
		        err, sizeof(err)) != 0) {
			zl_fail(w, err);
			atomic_fetch_add(&z->done, 1);
			continue;
		}
		zl_record(w, src, bench_now_ns());
	}
	zl_idle(w);
	return (NULL);
}

/* --- AIO engine -------------------------------------------------------- */

/* zl_pack packs the Fetch envelope of key into a new message (*out, the
 * caller's on success). Returns 0 or an nng error. */
static int
zl_pack(zl_worker *w, int64_t key, nng_msg **out)
{
	Cachebroker__V1__FetchRequest req;
	fb_params                     p;

	fb_request_init(&req, &p, w->z->o, key);
	return (bench_envelope_pack(out, FB_FETCH_METHOD, &req.base,
	    ((uint64_t) w->idx << 40) | w->seq++, 0xfe7c4u));
}

/* zl_unpack checks a reply: an OK Response carrying a FetchResponse with
 * a value. 0 and *source, or -1 and err. */
static int
zl_unpack(nng_msg *msg, int *source, char *err, size_t errlen)
{
	ProtobufCMessage *m;
	int               rv;

	if (bench_envelope_unpack(nng_msg_body(msg), nng_msg_len(msg),
	        &cachebroker__v1__fetch_response__descriptor, &m, err,
	        errlen) != 0) {
		return (-1);
	}
	rv = fb_check((const void *) m, source, err, errlen);
	protobuf_c_message_free_unpacked(m, NULL);
	return (rv);
}

/* zl_next starts w's next request, or parks w: when the sequence is used
 * up or the socket is gone (rv of the last operation). */
static void
zl_next(zl_worker *w, int last_rv)
{
	nng_msg *msg;
	char     err[64];
	int64_t  i;
	int      rv;

	if (last_rv == NNG_ECLOSED || last_rv == NNG_ECANCELED ||
	    (i = zl_take(w->z)) < 0) {
		zl_idle(w);
		return;
	}
	if ((rv = zl_pack(w, (int64_t) w->z->keys[i], &msg)) != 0) {
		(void) snprintf(
		    err, sizeof(err), "pack: %s", nng_strerror(rv));
		zl_fail(w, err);
		zl_idle(w);
		return;
	}
	w->state   = W_SEND;
	w->t_start = bench_now_ns();
	nng_aio_set_msg(w->aio, msg);
	nng_ctx_send(w->ctx, w->aio);
}

/* zl_cb runs on nng's threads; one worker's callbacks never overlap, so
 * its counters and histogram need no lock. */
static void
zl_cb(void *arg)
{
	zl_worker *w = arg;
	nng_msg   *msg;
	char       err[FB_ERR_MAX];
	uint64_t   t1;
	int        src = 0;
	int        rv;

	switch (w->state) {
	case W_SEND:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			nng_msg_free(nng_aio_get_msg(w->aio));
			nng_aio_set_msg(w->aio, NULL);
			(void) snprintf(
			    err, sizeof(err), "send: %s", nng_strerror(rv));
			zl_fail(w, err);
			atomic_fetch_add(&w->z->done, 1);
			zl_next(w, rv);
			return;
		}
		w->state = W_RECV;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	case W_RECV:
		t1 = bench_now_ns();
		if ((rv = nng_aio_result(w->aio)) != 0) {
			(void) snprintf(
			    err, sizeof(err), "recv: %s", nng_strerror(rv));
			zl_fail(w, err);
			atomic_fetch_add(&w->z->done, 1);
			zl_next(w, rv);
			return;
		}
		msg = nng_aio_get_msg(w->aio);
		nng_aio_set_msg(w->aio, NULL);
		if (zl_unpack(msg, &src, err, sizeof(err)) != 0) {
			zl_fail(w, err);
			atomic_fetch_add(&w->z->done, 1);
		} else {
			zl_record(w, src, t1);
		}
		nng_msg_free(msg);
		zl_next(w, 0);
		return;
	default:
		return;
	}
}

/* --- the run ----------------------------------------------------------- */

/* zl_open connects what the run sends through. */
static int
zl_open(zl_run *z)
{
	const fb_opts *o = z->o;
	cb_client_opts copts;
	cb_status      rc;
	int            rv;

	if (!o->aio) {
		memset(&copts, 0, sizeof(copts));
		copts.timeout_ms = o->timeout_ms;
		if ((rc = cb_client_open(&z->client, o->url, &copts)) !=
		    CB_OK) {
			fprintf(stderr,
			    "cb_fetch_bench: cb_client_open %s: %s\n", o->url,
			    cb_status_str((int) rc));
			return (-1);
		}
		return (0);
	}
	if ((rv = nng_req0_open(&z->sock)) != 0) {
		fprintf(
		    stderr, "cb_fetch_bench: req0: %s\n", nng_strerror(rv));
		return (-1);
	}
	z->sock_open = true;
	/* Answers of 1,000-row lists are large; accept what the broker can
	 * send. */
	(void) nng_socket_set_size(z->sock, NNG_OPT_RECVMAXSZ, 64u << 20);
	if ((rv = nng_dial(z->sock, o->url, NULL, 0)) != 0) {
		fprintf(stderr, "cb_fetch_bench: dial %s: %s\n", o->url,
		    nng_strerror(rv));
		return (-1);
	}
	for (int i = 0; i < o->concurrency; i++) {
		zl_worker *w = &z->workers[i];

		if ((rv = nng_aio_alloc(&w->aio, zl_cb, w)) != 0 ||
		    (rv = nng_ctx_open(&w->ctx, z->sock)) != 0) {
			fprintf(stderr, "cb_fetch_bench: aio/ctx: %s\n",
			    nng_strerror(rv));
			return (-1);
		}
		nng_aio_set_timeout(w->aio, (nng_duration) o->timeout_ms);
	}
	return (0);
}

/* zl_close undoes zl_open; the workers are idle. */
static void
zl_close(zl_run *z)
{
	if (z->sock_open) {
		(void) nng_close(z->sock);
	}
	for (int i = 0; z->workers != NULL && i < z->o->concurrency; i++) {
		nng_aio_free(z->workers[i].aio); /* NULL-safe, waits */
	}
	cb_client_close(z->client);
}

/* zl_start sets every worker going; returns how many were started. */
static int
zl_start(zl_run *z)
{
	const fb_opts *o = z->o;
	int            rv;

	pthread_mutex_lock(&z->mtx);
	z->busy = o->concurrency;
	pthread_mutex_unlock(&z->mtx);
	if (o->aio) {
		for (int i = 0; i < o->concurrency; i++) {
			zl_next(&z->workers[i], 0);
		}
		return (o->concurrency);
	}
	for (int i = 0; i < o->concurrency; i++) {
		rv = pthread_create(
		    &z->workers[i].thread, NULL, zl_thread, &z->workers[i]);
		if (rv != 0) {
			fprintf(stderr, "cb_fetch_bench: pthread_create: %s\n",
			    strerror(rv));
			/* The ones not started will never go idle. */
			pthread_mutex_lock(&z->mtx);
			z->busy -= o->concurrency - i;
			pthread_mutex_unlock(&z->mtx);
			atomic_store(&z->next, (long long) o->requests);
			return (i);
		}
	}
	return (o->concurrency);
}

/* zl_wait waits until every worker is idle, saying how far the run is
 * every ZL_PROGRESS_S seconds on stderr. */
static void
zl_wait(zl_run *z, int started)
{
	struct timespec until;

	pthread_mutex_lock(&z->mtx);
	while (z->busy > 0) {
		(void) clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ZL_PROGRESS_S;
		if (pthread_cond_timedwait(&z->cv, &z->mtx, &until) != 0 &&
		    z->busy > 0) {
			fprintf(stderr,
			    "cb_fetch_bench: %s: %lld of %" PRId64
			    " answered\n",
			    z->o->label, (long long) atomic_load(&z->done),
			    z->o->requests);
		}
	}
	pthread_mutex_unlock(&z->mtx);
	if (!z->o->aio) {
		for (int i = 0; i < started; i++) {
			(void) pthread_join(z->workers[i].thread, NULL);
		}
	}
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

	if (fb_zipf_alloc(&prev, o->requests, o->keys, o->exponent,
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
	zl_run      z;
	bench_hist *all          = NULL;
	uint32_t   *keys         = NULL;
	int64_t     distinct     = 0;
	int64_t     new_keys     = -1;
	uint64_t    errors       = 0;
	uint64_t    by_source[4] = { 0, 0, 0, 0 };
	fb_sample   s0;
	fb_sample   s1;
	uint64_t    t0;
	uint64_t    t1;
	uint64_t    answered;
	int         started = 0;
	int         code    = 1;
	double      wall;

	memset(&z, 0, sizeof(z));
	z.o = o;
	atomic_init(&z.next, 0);
	atomic_init(&z.done, 0);
	atomic_init(&z.have_err, false);
	pthread_mutex_init(&z.mtx, NULL);
	pthread_cond_init(&z.cv, NULL);
	z.workers = calloc((size_t) o->concurrency, sizeof(*z.workers));
	all       = malloc(sizeof(*all));
	if (z.workers == NULL || all == NULL ||
	    fb_zipf_alloc(&keys, o->requests, o->keys, o->exponent, o->seed,
	        &distinct) != 0) {
		fprintf(stderr, "cb_fetch_bench: out of memory\n");
		goto out;
	}
	z.keys = keys;
	if (o->has_after && zl_new_keys(o, keys, distinct, &new_keys) != 0) {
		fprintf(stderr, "cb_fetch_bench: out of memory\n");
		goto out;
	}
	for (int i = 0; i < o->concurrency; i++) {
		z.workers[i].z   = &z;
		z.workers[i].idx = i;
		bench_hist_init(&z.workers[i].hist);
	}
	if (zl_open(&z) != 0) {
		goto out;
	}

	fb_sample_take(o, &s0);
	t0      = bench_now_ns();
	started = zl_start(&z);
	zl_wait(&z, started);
	t1 = bench_now_ns();
	fb_sample_take(o, &s1);
	if (started != o->concurrency) {
		goto out;
	}

	bench_hist_init(all);
	for (int i = 0; i < o->concurrency; i++) {
		bench_hist_merge(all, &z.workers[i].hist);
		errors += z.workers[i].errors;
		for (int s = 0; s < 4; s++) {
			by_source[s] += z.workers[i].by_source[s];
		}
	}
	answered = all->count;
	wall     = (double) (t1 - t0) / 1e9;
	printf("row=%s concurrency=%d engine=%s requests=%" PRId64
	       " errors=%" PRIu64,
	    o->label, o->concurrency, o->aio ? "aio" : "threads", o->requests,
	    errors);
	bench_hist_print(all);
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
	if (errors > 0 || answered != (uint64_t) o->requests) {
		fprintf(stderr,
		    "cb_fetch_bench: *** %s: %" PRIu64 " REQUESTS FAILED, "
		    "%" PRIu64 " answered; first failure: %s ***\n",
		    o->label, errors, answered,
		    z.first_err[0] ? z.first_err : "(none)");
		code = 2;
	} else {
		code = 0;
	}
out:
	zl_close(&z);
	pthread_cond_destroy(&z.cv);
	pthread_mutex_destroy(&z.mtx);
	free(z.workers);
	free(all);
	free(keys);
	return (code);
}

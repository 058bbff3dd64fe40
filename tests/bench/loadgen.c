/* SPDX-License-Identifier: MIT */
/* The one load generator of the benchmarks (loadgen.h). */
#include "loadgen.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/protocol/reqrep0/req.h>

#include "bench.h"

/*
 * Engines:
 *
 *   THREADS  worker i is a thread: call, record, call, record, ... through
 *            the shared libcachebroker client (work.call), or raw: its
 *            own req0 context + aio, nng_aio_wait (work.pack, .check)
 *
 *   AIO      worker i is a req0 context whose aio callback runs on nng's
 *            threads, sending what work.pack made:
 *
 *              lg_next --send--> W_SEND --sent--> W_RECV --reply--+
 *                 ^                                               |
 *                 +-------------------- record -------------------+
 *
 *            and W_IDLE once the work says there is no more.
 *
 * A worker's counters and histogram are its own (its calls never
 * overlap); the run sums them at the end.
 */

enum { W_IDLE, W_SEND, W_RECV };

typedef struct lg_worker {
	loadgen   *g;       /* the run */
	int        idx;     /* 0 .. concurrency-1 */
	pthread_t  thread;  /* THREADS engine */
	nng_ctx    ctx;     /* raw requests: its req0 context */
	nng_aio   *aio;     /* its aio; a callback only in the AIO engine */
	int        state;   /* AIO engine: W_IDLE, W_SEND or W_RECV */
	uint64_t   t_start; /* when the request in flight started */
	uint64_t   errors;  /* failed requests */
	uint64_t   tags[LOADGEN_TAGS]; /* recorded answers per class */
	bench_hist hist;               /* latencies of recorded answers */
} lg_worker;

struct loadgen {
	loadgen_opts    o;
	loadgen_work    work;
	nng_socket      sock;      /* raw requests */
	bool            sock_open; /* sock needs closing */
	cb_client      *client;    /* THREADS engine with a client */
	lg_worker      *workers;   /* concurrency of them */
	pthread_mutex_t mtx;       /* protects busy, first_err */
	pthread_cond_t  cv;        /* signalled when busy reaches 0 */
	int             busy;      /* workers not yet stopped */
	atomic_ullong   done;      /* requests answered or failed */
	atomic_bool     have_err;  /* first_err is set */
	char            first_err[LOADGEN_ERR_MAX];
};

/* lg_fail counts a failed request of w and keeps the first reason. */
static void
lg_fail(lg_worker *w, const char *why)
{
	loadgen *g = w->g;

	w->errors++;
	atomic_fetch_add_explicit(&g->done, 1, memory_order_relaxed);
	if (atomic_load_explicit(&g->have_err, memory_order_relaxed)) {
		return;
	}
	pthread_mutex_lock(&g->mtx);
	if (!atomic_load(&g->have_err)) {
		(void) snprintf(g->first_err, sizeof(g->first_err), "%s", why);
		atomic_store(&g->have_err, true);
	}
	pthread_mutex_unlock(&g->mtx);
}

/* lg_aio_result is the result of w's aio; a failure is counted, and a
 * failed send's message (still w's) freed. */
static int
lg_aio_result(lg_worker *w, bool send)
{
	char err[64];
	int  rv = nng_aio_result(w->aio);

	if (rv != 0) {
		if (send) {
			nng_msg_free(nng_aio_get_msg(w->aio));
			nng_aio_set_msg(w->aio, NULL);
		}
		(void) snprintf(err, sizeof(err), "%s: %s",
		    send ? "send" : "recv", nng_strerror(rv));
		lg_fail(w, err);
	}
	return rv;
}

/* lg_record counts an answer of w, taken at t1, of class tag. */
static void
lg_record(lg_worker *w, int tag, uint64_t t1)
{
	loadgen *g = w->g;

	atomic_fetch_add_explicit(&g->done, 1, memory_order_relaxed);
	if (g->work.measured != NULL && !g->work.measured(g->work.arg)) {
		return;
	}
	bench_hist_add(&w->hist, t1 - w->t_start);
	if (tag >= 0 && tag < LOADGEN_TAGS) {
		w->tags[tag]++;
	}
}

/* lg_stopped tells the main thread that w is done for good. */
static void
lg_stopped(lg_worker *w)
{
	loadgen *g = w->g;

	w->state = W_IDLE;
	pthread_mutex_lock(&g->mtx);
	if (--g->busy == 0) {
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->mtx);
}

/* lg_check hands a reply to the work and frees it. */
static void
lg_check(lg_worker *w, nng_msg *msg, uint64_t t1)
{
	char err[LOADGEN_ERR_MAX];
	int  tag = -1;

	if (w->g->work.check(
	        w->g->work.arg, w->idx, msg, &tag, err, sizeof(err)) != 0) {
		lg_fail(w, err);
	} else {
		lg_record(w, tag, t1);
	}
	nng_msg_free(msg);
}

/* lg_raw is one blocking raw request (THREADS engine without a client):
 * 1 done (answered or failed), 0 no more work. */
static int
lg_raw(lg_worker *w)
{
	char     err[LOADGEN_ERR_MAX];
	nng_msg *msg = NULL;
	int      rv;

	if ((rv = w->g->work.pack(
	         w->g->work.arg, w->idx, &msg, err, sizeof(err))) <= 0) {
		if (rv < 0) {
			lg_fail(w, err);
		}
		return 0;
	}
	w->t_start = bench_now_ns();
	nng_aio_set_msg(w->aio, msg);
	nng_ctx_send(w->ctx, w->aio);
	nng_aio_wait(w->aio);
	if (lg_aio_result(w, true) != 0) {
		return 1;
	}
	nng_ctx_recv(w->ctx, w->aio);
	nng_aio_wait(w->aio);
	if (lg_aio_result(w, false) != 0) {
		return 1;
	}
	msg = nng_aio_get_msg(w->aio);
	nng_aio_set_msg(w->aio, NULL);
	lg_check(w, msg, bench_now_ns());
	return 1;
}

static void *
lg_thread(void *arg)
{
	lg_worker *w = arg;
	loadgen   *g = w->g;
	char       err[LOADGEN_ERR_MAX];
	int        tag;
	int        rv;

	for (;;) {
		if (g->client == NULL) {
			if (lg_raw(w) == 0) {
				break;
			}
			continue;
		}
		tag        = -1;
		w->t_start = bench_now_ns();
		rv         = g->work.call(
		            g->work.arg, w->idx, g->client, &tag, err, sizeof(err));
		if (rv == 0) {
			break;
		}
		if (rv < 0) {
			lg_fail(w, err);
		} else {
			lg_record(w, tag, bench_now_ns());
		}
	}
	lg_stopped(w);
	return (NULL);
}

/* lg_next starts w's next request, or stops w: when the work is over or
 * the socket is gone (rv of the last operation). */
static void
lg_next(lg_worker *w, int last_rv)
{
	loadgen *g   = w->g;
	nng_msg *msg = NULL;
	char     err[LOADGEN_ERR_MAX];
	int      rv;

	if (last_rv == NNG_ECLOSED || last_rv == NNG_ECANCELED) {
		lg_stopped(w);
		return;
	}
	if ((rv = g->work.pack(g->work.arg, w->idx, &msg, err, sizeof(err))) <=
	    0) {
		if (rv < 0) {
			lg_fail(w, err);
		}
		lg_stopped(w);
		return;
	}
	w->state   = W_SEND;
	w->t_start = bench_now_ns();
	nng_aio_set_msg(w->aio, msg);
	nng_ctx_send(w->ctx, w->aio);
}

static void
lg_cb(void *arg)
{
	lg_worker *w = arg;
	uint64_t   t1;
	nng_msg   *msg;
	int        rv;

	switch (w->state) {
	case W_SEND:
		if ((rv = lg_aio_result(w, true)) != 0) {
			lg_next(w, rv);
			return;
		}
		w->state = W_RECV;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	case W_RECV:
		t1 = bench_now_ns();
		if ((rv = lg_aio_result(w, false)) != 0) {
			lg_next(w, rv);
			return;
		}
		msg = nng_aio_get_msg(w->aio);
		nng_aio_set_msg(w->aio, NULL);
		lg_check(w, msg, t1);
		lg_next(w, 0);
		return;
	default:
		return;
	}
}

/* lg_connect opens the client, or the socket with its contexts. */
static int
lg_connect(loadgen *g)
{
	const loadgen_opts *o = &g->o;
	cb_client_opts      copts;
	cb_status           rc;
	int                 rv;

	if (!o->aio && o->client) {
		memset(&copts, 0, sizeof(copts));
		copts.timeout_ms = o->timeout_ms;
		if ((rc = cb_client_open(&g->client, o->url, &copts)) !=
		    CB_OK) {
			fprintf(stderr, "%s: cb_client_open %s: %s\n", o->who,
			    o->url, cb_status_str((int) rc));
			return (-1);
		}
		return (0);
	}
	if ((rv = nng_req0_open(&g->sock)) != 0) {
		fprintf(stderr, "%s: req0: %s\n", o->who, nng_strerror(rv));
		return (-1);
	}
	g->sock_open = true;
	if (o->recv_max > 0) {
		(void) nng_socket_set_size(
		    g->sock, NNG_OPT_RECVMAXSZ, o->recv_max);
	}
	/* Dial synchronously: no server there is a setup error, not a run
	 * of timeouts. */
	if ((rv = nng_dial(g->sock, o->url, NULL, 0)) != 0) {
		fprintf(stderr, "%s: dial %s: %s\n", o->who, o->url,
		    nng_strerror(rv));
		return (-1);
	}
	for (int i = 0; i < o->concurrency; i++) {
		lg_worker *w = &g->workers[i];

		if ((rv = nng_aio_alloc(&w->aio, o->aio ? lg_cb : NULL, w)) !=
		        0 ||
		    (rv = nng_ctx_open(&w->ctx, g->sock)) != 0) {
			fprintf(stderr, "%s: aio/ctx: %s\n", o->who,
			    nng_strerror(rv));
			return (-1);
		}
		nng_aio_set_timeout(w->aio, (nng_duration) o->timeout_ms);
	}
	return (0);
}

int
loadgen_open(loadgen **out, const loadgen_opts *o, const loadgen_work *work)
{
	loadgen *g = calloc(1, sizeof(*g));

	if (g == NULL ||
	    (g->workers = calloc(
	         (size_t) o->concurrency, sizeof(*g->workers))) == NULL) {
		fprintf(stderr, "%s: out of memory\n", o->who);
		free(g);
		return (-1);
	}
	g->o    = *o;
	g->work = *work;
	atomic_init(&g->done, 0);
	atomic_init(&g->have_err, false);
	pthread_mutex_init(&g->mtx, NULL);
	pthread_cond_init(&g->cv, NULL);
	for (int i = 0; i < o->concurrency; i++) {
		g->workers[i].g   = g;
		g->workers[i].idx = i;
		bench_hist_init(&g->workers[i].hist);
	}
	*out = g;
	if (lg_connect(g) != 0) {
		loadgen_close(g);
		*out = NULL;
		return (-1);
	}
	return (0);
}

int
loadgen_start(loadgen *g)
{
	int n = g->o.concurrency;
	int rv;

	pthread_mutex_lock(&g->mtx);
	g->busy = n;
	pthread_mutex_unlock(&g->mtx);
	if (g->o.aio) {
		for (int i = 0; i < n; i++) {
			lg_next(&g->workers[i], 0);
		}
		return (n);
	}
	for (int i = 0; i < n; i++) {
		rv = pthread_create(
		    &g->workers[i].thread, NULL, lg_thread, &g->workers[i]);
		if (rv != 0) {
			fprintf(stderr, "%s: pthread_create: %s\n", g->o.who,
			    strerror(rv));
			/* The ones not started will never stop. */
			pthread_mutex_lock(&g->mtx);
			g->busy -= n - i;
			pthread_mutex_unlock(&g->mtx);
			return (i);
		}
	}
	return (n);
}

uint64_t
loadgen_done(loadgen *g)
{
	return (atomic_load(&g->done));
}

/* lg_deadline is now + s as an absolute CLOCK_REALTIME time. */
static struct timespec
lg_deadline(double s)
{
	struct timespec t;

	(void) clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += (time_t) s;
	t.tv_nsec += (long) ((s - (double) (time_t) s) * 1e9);
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return (t);
}

void
loadgen_wait(loadgen *g, int started, double limit_s, double progress_s,
    void (*progress)(loadgen *g, void *arg), void *arg)
{
	uint64_t end =
	    limit_s > 0 ? bench_now_ns() + (uint64_t) (limit_s * 1e9) : 0;
	struct timespec until;

	pthread_mutex_lock(&g->mtx);
	while (g->busy > 0) {
		double step = progress != NULL ? progress_s : 1.0;
		if (end != 0 && bench_now_ns() >= end) {
			/* Close the socket: what is in flight ends now. */
			pthread_mutex_unlock(&g->mtx);
			if (g->sock_open) {
				(void) nng_close(g->sock);
				g->sock_open = false;
			}
			pthread_mutex_lock(&g->mtx);
			end = 0;
			continue;
		}
		until = lg_deadline(step);
		if (pthread_cond_timedwait(&g->cv, &g->mtx, &until) != 0 &&
		    g->busy > 0 && progress != NULL) {
			pthread_mutex_unlock(&g->mtx);
			progress(g, arg);
			pthread_mutex_lock(&g->mtx);
		}
	}
	pthread_mutex_unlock(&g->mtx);
	if (!g->o.aio) {
		for (int i = 0; i < started; i++) {
			(void) pthread_join(g->workers[i].thread, NULL);
		}
	}
}

void
loadgen_result_get(loadgen *g, loadgen_result *r)
{
	memset(r, 0, sizeof(*r));
	bench_hist_init(&r->hist);
	for (int i = 0; i < g->o.concurrency; i++) {
		bench_hist_merge(&r->hist, &g->workers[i].hist);
		r->errors += g->workers[i].errors;
		for (int t = 0; t < LOADGEN_TAGS; t++) {
			r->tags[t] += g->workers[i].tags[t];
		}
	}
	(void) snprintf(
	    r->first_err, sizeof(r->first_err), "%s", g->first_err);
}

void
loadgen_close(loadgen *g)
{
	if (g == NULL) {
		return;
	}
	if (g->sock_open) {
		(void) nng_close(g->sock);
	}
	for (int i = 0; g->workers != NULL && i < g->o.concurrency; i++) {
		nng_aio_free(g->workers[i].aio); /* NULL-safe, waits */
	}
	cb_client_close(g->client);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mtx);
	free(g->workers);
	free(g);
}

/* SPDX-License-Identifier: MIT */
/* The load generator: C requests in flight, their latencies, one line. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cachebroker/cachebroker.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench.h"
#include "hist.h"

/*
 * A run has three phases; the main thread moves it along, the workers
 * read it after every request:
 *
 *   WARMUP --(warmup_s)--> MEASURE --(duration_s)--> STOP
 *
 * A request is measured when it completes during MEASURE, whenever it
 * started: that counts completions per second in the window, which is the
 * throughput, and keeps requests straddling a boundary out of neither
 * figure for long (at most one per worker).
 *
 * Engines (bench.h):
 *
 *   THREADS  worker i is a thread: call, record, call, record, ...
 *            echo:   its own req0 context + aio, nng_aio_wait
 *            others: the mode's call (call.c) on the one shared
 *                    cb_client (libcachebroker)
 *
 *   AIO      worker i is a req0 context, sending the mode's envelopes
 *            packed here, whose aio callback is
 *
 *              load_next --send--> W_SEND --sent--> W_RECV --reply--+
 *                  ^                                                |
 *                  +--------------------- record -------------------+
 *
 *            and goes W_IDLE instead of sending once the phase is STOP.
 */

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };

enum { W_IDLE, W_SEND, W_RECV };

/* Room for what an echo request sent, to compare the reply with. */
#define LOAD_SENT_MAX 512

/* Room for the reason of a failure (cb_result.message and some). */
#define LOAD_ERR_MAX 512

typedef struct load load;

typedef struct load_worker {
	load      *l;        /* the run */
	int        idx;      /* 0 .. concurrency-1 */
	pthread_t  thread;   /* THREADS engine */
	nng_ctx    ctx;      /* req0 context (all but lib calls) */
	nng_aio   *aio;      /* its aio; callback only in the AIO engine */
	int        state;    /* AIO engine: W_IDLE, W_SEND or W_RECV */
	uint64_t   seq;      /* requests started, keeps ids unique */
	uint64_t   t_start;  /* when the request in flight started */
	bench_call call;     /* the request in flight */
	size_t     sent_len; /* echo: length of what was sent */
	uint8_t    sent[LOAD_SENT_MAX]; /* echo: what was sent */
	uint64_t   errors;              /* failed requests, every phase */
	uint64_t   yes;  /* measured answers found, revoked, allowed */
	bench_hist hist; /* latencies of measured requests */
} load_worker;

struct load {
	const bench_load_opts *o;         /* what to do */
	uint64_t               id_tag;    /* request ids' half of this run */
	atomic_int             phase;     /* PHASE_* */
	nng_socket             sock;      /* req0, unless lib calls */
	bool                   sock_open; /* sock needs closing */
	cb_client             *client;    /* lib calls only */
	load_worker           *workers;   /* concurrency of them */
	pthread_mutex_t        mtx;       /* protects busy, first_err */
	pthread_cond_t         cv;        /* signalled when busy drops */
	int                    busy;      /* AIO workers not yet idle */
	atomic_bool            have_err;  /* first_err is set */
	char                   first_err[LOAD_ERR_MAX]; /* the first failure */
};

static int
load_phase(load *l)
{
	return (atomic_load_explicit(&l->phase, memory_order_acquire));
}

/* load_fail counts a failed request of w and keeps the first reason. */
static void
load_fail(load_worker *w, const char *why)
{
	load *l = w->l;

	w->errors++;
	if (atomic_load_explicit(&l->have_err, memory_order_relaxed)) {
		return;
	}
	pthread_mutex_lock(&l->mtx);
	if (!atomic_load(&l->have_err)) {
		(void) snprintf(l->first_err, sizeof(l->first_err), "%s", why);
		atomic_store(&l->have_err, true);
	}
	pthread_mutex_unlock(&l->mtx);
}

/* load_call makes w's next request, of a key picked for it; returns the
 * number that makes its request id unique. */
static uint64_t
load_call(load_worker *w)
{
	const bench_load_opts *o = w->l->o;

	bench_call_init(&w->call, o, bench_call_pick(o, w->idx, w->seq));
	return (((uint64_t) w->idx << 40) | w->seq++);
}

/* load_request builds w's next raw request: the mode's envelope; for the
 * echo server a Get's, so both carry the same bytes. */
static int
load_request(load_worker *w, nng_msg **out)
{
	const bench_load_opts *o   = w->l->o;
	uint64_t               seq = load_call(w);
	nng_msg               *msg;
	int                    rv;

	rv = bench_envelope_pack(&msg, bench_kinds[o->mode].method,
	    &w->call.req.base, seq, w->l->id_tag);
	if (rv != 0) {
		return (rv);
	}
	if (o->mode == BENCH_MODE_ECHO) {
		w->sent_len = nng_msg_len(msg);
		if (w->sent_len <= sizeof(w->sent)) {
			memcpy(w->sent, nng_msg_body(msg), w->sent_len);
		}
	}
	*out = msg;
	return (0);
}

/* load_check says whether msg is the right reply to w's last request,
 * and (*yes) whether it found, revoked or allowed. */
static int
load_check(load_worker *w, nng_msg *msg, bool *yes, char *err, size_t errlen)
{
	const bench_load_opts *o   = w->l->o;
	size_t                 len = nng_msg_len(msg);
	ProtobufCMessage      *m;
	int                    rv;

	*yes = false;
	if (o->mode != BENCH_MODE_ECHO) {
		if (bench_envelope_unpack(nng_msg_body(msg), len,
		        bench_kinds[o->mode].resp, &m, err, errlen) != 0) {
			return (-1);
		}
		rv = bench_call_check(o, &w->call, m, yes, err, errlen);
		protobuf_c_message_free_unpacked(m, NULL);
		return (rv);
	}
	if (len != w->sent_len ||
	    (len <= sizeof(w->sent) &&
	        memcmp(nng_msg_body(msg), w->sent, len) != 0)) {
		(void) snprintf(err, errlen,
		    "echo reply of %zu bytes differs from the %zu sent", len,
		    w->sent_len);
		return (-1);
	}
	return (0);
}

/* load_call_raw is one blocking raw request (THREADS engine, echo). */
static int
load_call_raw(load_worker *w, bool *yes, char *err, size_t errlen)
{
	nng_msg *msg;
	int      rv;

	if ((rv = load_request(w, &msg)) != 0) {
		(void) snprintf(err, errlen, "pack: %s", nng_strerror(rv));
		return (-1);
	}
	nng_aio_set_msg(w->aio, msg);
	nng_ctx_send(w->ctx, w->aio);
	nng_aio_wait(w->aio);
	if ((rv = nng_aio_result(w->aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(w->aio));
		nng_aio_set_msg(w->aio, NULL);
		(void) snprintf(err, errlen, "send: %s", nng_strerror(rv));
		return (-1);
	}
	nng_ctx_recv(w->ctx, w->aio);
	nng_aio_wait(w->aio);
	if ((rv = nng_aio_result(w->aio)) != 0) {
		(void) snprintf(err, errlen, "recv: %s", nng_strerror(rv));
		return (-1);
	}
	msg = nng_aio_get_msg(w->aio);
	nng_aio_set_msg(w->aio, NULL);
	rv = load_check(w, msg, yes, err, errlen);
	nng_msg_free(msg);
	return (rv);
}

static void *
load_thread(void *arg)
{
	load_worker *w = arg;
	load        *l = w->l;
	char         err[LOAD_ERR_MAX];
	uint64_t     t0;
	uint64_t     t1;
	bool         yes;
	int          rv;

	while (load_phase(l) != PHASE_STOP) {
		t0 = bench_now_ns();
		if (l->client != NULL) {
			(void) load_call(w);
			rv = bench_call_run(
			    l->client, l->o, &w->call, &yes, err, sizeof(err));
		} else {
			rv = load_call_raw(w, &yes, err, sizeof(err));
		}
		t1 = bench_now_ns();
		if (rv != 0) {
			load_fail(w, err);
		} else if (load_phase(l) == PHASE_MEASURE) {
			bench_hist_add(&w->hist, t1 - t0);
			w->yes += yes;
		}
	}
	return (NULL);
}

/* load_idle parks an AIO worker for good and tells the main thread. */
static void
load_idle(load_worker *w)
{
	load *l = w->l;

	w->state = W_IDLE;
	pthread_mutex_lock(&l->mtx);
	if (--l->busy == 0) {
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mtx);
}

/* load_next starts w's next request, or parks it: when the run is over or
 * the socket is gone (rv of the last operation). */
static void
load_next(load_worker *w, int last_rv)
{
	nng_msg *msg;
	char     err[64];
	int      rv;

	if (load_phase(w->l) == PHASE_STOP || last_rv == NNG_ECLOSED ||
	    last_rv == NNG_ECANCELED) {
		load_idle(w);
		return;
	}
	if ((rv = load_request(w, &msg)) != 0) {
		(void) snprintf(
		    err, sizeof(err), "pack: %s", nng_strerror(rv));
		load_fail(w, err);
		load_idle(w);
		return;
	}
	w->state   = W_SEND;
	w->t_start = bench_now_ns();
	nng_aio_set_msg(w->aio, msg);
	nng_ctx_send(w->ctx, w->aio);
}

/* load_cb runs on nng's threads; one worker's callbacks never overlap,
 * so its counters and histogram need no lock. */
static void
load_cb(void *arg)
{
	load_worker *w = arg;
	nng_msg     *msg;
	char         err[LOAD_ERR_MAX];
	uint64_t     t1;
	bool         yes;
	int          rv;

	switch (w->state) {
	case W_SEND:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			nng_msg_free(nng_aio_get_msg(w->aio));
			nng_aio_set_msg(w->aio, NULL);
			(void) snprintf(
			    err, sizeof(err), "send: %s", nng_strerror(rv));
			load_fail(w, err);
			load_next(w, rv);
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
			load_fail(w, err);
			load_next(w, rv);
			return;
		}
		msg = nng_aio_get_msg(w->aio);
		nng_aio_set_msg(w->aio, NULL);
		if (load_check(w, msg, &yes, err, sizeof(err)) != 0) {
			load_fail(w, err);
		} else if (load_phase(w->l) == PHASE_MEASURE) {
			bench_hist_add(&w->hist, t1 - w->t_start);
			w->yes += yes;
		}
		nng_msg_free(msg);
		load_next(w, 0);
		return;
	default:
		return;
	}
}

static void
load_sleep(double s)
{
	struct timespec ts;

	ts.tv_sec  = (time_t) s;
	ts.tv_nsec = (long) ((s - (double) ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0) { }
}

/* load_open connects what the run sends through: the shared client (lib
 * calls) or a req0 socket and one context + aio per worker. */
static int
load_open(load *l)
{
	const bench_load_opts *o = l->o;
	cb_client_opts         copts;
	cb_status              rc;
	int                    rv;

	if (o->mode != BENCH_MODE_ECHO && o->engine == BENCH_ENGINE_THREADS) {
		memset(&copts, 0, sizeof(copts));
		copts.timeout_ms = o->timeout_ms;
		if ((rc = cb_client_open(&l->client, o->url, &copts)) !=
		    CB_OK) {
			fprintf(stderr, "cb_bench: cb_client_open %s: %s\n",
			    o->url, cb_status_str((int) rc));
			return (-1);
		}
		return (0);
	}
	if ((rv = nng_req0_open(&l->sock)) != 0) {
		fprintf(stderr, "cb_bench: req0: %s\n", nng_strerror(rv));
		return (-1);
	}
	l->sock_open = true;
	/* Dial synchronously: no server there is a setup error, not a run
	 * of timeouts. */
	if ((rv = nng_dial(l->sock, o->url, NULL, 0)) != 0) {
		fprintf(stderr, "cb_bench: dial %s: %s\n", o->url,
		    nng_strerror(rv));
		return (-1);
	}
	for (int i = 0; i < o->concurrency; i++) {
		load_worker *w = &l->workers[i];

		rv = nng_aio_alloc(&w->aio,
		    o->engine == BENCH_ENGINE_AIO ? load_cb : NULL, w);
		if (rv != 0) {
			fprintf(
			    stderr, "cb_bench: aio: %s\n", nng_strerror(rv));
			return (-1);
		}
		nng_aio_set_timeout(w->aio, (nng_duration) o->timeout_ms);
		if ((rv = nng_ctx_open(&w->ctx, l->sock)) != 0) {
			fprintf(
			    stderr, "cb_bench: ctx: %s\n", nng_strerror(rv));
			return (-1);
		}
	}
	return (0);
}

/* load_close undoes load_open; the workers are stopped. */
static void
load_close(load *l)
{
	if (l->sock_open) {
		(void) nng_close(l->sock);
	}
	for (int i = 0; l->workers != NULL && i < l->o->concurrency; i++) {
		nng_aio_free(l->workers[i].aio); /* NULL-safe, waits */
	}
	cb_client_close(l->client);
}

/* load_start sets every worker going; returns how many were started. */
static int
load_start(load *l)
{
	const bench_load_opts *o = l->o;
	int                    rv;

	if (o->engine == BENCH_ENGINE_AIO) {
		pthread_mutex_lock(&l->mtx);
		l->busy = o->concurrency;
		pthread_mutex_unlock(&l->mtx);
		for (int i = 0; i < o->concurrency; i++) {
			load_next(&l->workers[i], 0);
		}
		return (o->concurrency);
	}
	for (int i = 0; i < o->concurrency; i++) {
		rv = pthread_create(
		    &l->workers[i].thread, NULL, load_thread, &l->workers[i]);
		if (rv != 0) {
			fprintf(stderr, "cb_bench: pthread_create: %s\n",
			    strerror(rv));
			return (i);
		}
	}
	return (o->concurrency);
}

/* load_join waits for the started workers to finish their last request;
 * the phase is STOP. */
static void
load_join(load *l, int started)
{
	struct timespec until;

	if (l->o->engine == BENCH_ENGINE_THREADS) {
		for (int i = 0; i < started; i++) {
			(void) pthread_join(l->workers[i].thread, NULL);
		}
		return;
	}
	/* Every request in flight ends within its timeout; close the socket
	 * if one somehow does not. */
	(void) clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t) (l->o->timeout_ms / 1000 + 2);
	pthread_mutex_lock(&l->mtx);
	while (l->busy > 0) {
		if (pthread_cond_timedwait(&l->cv, &l->mtx, &until) != 0) {
			break;
		}
	}
	pthread_mutex_unlock(&l->mtx);
	if (l->sock_open) {
		(void) nng_close(l->sock);
		l->sock_open = false;
	}
}

static const char *
load_engine_name(bench_engine e)
{
	return (e == BENCH_ENGINE_AIO ? "aio" : "threads");
}

static double
load_us(uint64_t ns)
{
	return ((double) ns / 1000.0);
}

/*
 * What the run samples at both ends of its window, per process: slot 0 is
 * this one (the load generator), slot i + 1 the i-th --pid (a server).
 * On this kind of machine a context switch costs tens of µs, so switches
 * per request explain much of the CPU per request.
 */
typedef struct load_sample {
	int64_t cpu_us[BENCH_MAX_PIDS + 1]; /* CPU time used so far */
	int64_t csw[BENCH_MAX_PIDS + 1];    /* context switches so far */
} load_sample;

static void
load_sample_take(const bench_load_opts *o, load_sample *s)
{
	s->cpu_us[0] = bench_proc_cpu_us(0);
	s->csw[0]    = bench_proc_csw(0);
	for (int i = 0; i < o->npids; i++) {
		s->cpu_us[i + 1] = bench_proc_cpu_us(o->pids[i]);
		s->csw[i + 1]    = bench_proc_csw(o->pids[i]);
	}
}

/* load_per_req writes (b - a) / count as " name=value" when both ends
 * were read, and adds it to *sum; otherwise it clears *ok. */
static void
load_per_req(const char *name, const char *suffix, int64_t a, int64_t b,
    uint64_t count, double *sum, bool *ok)
{
	double v;

	if (a < 0 || b < 0 || count == 0) {
		*ok = false;
		return;
	}
	v = (double) (b - a) / (double) count;
	*sum += v;
	printf(" %s%s=%.2f", name, suffix, v);
}

/* load_print_costs prints CPU µs and context switches per request of the
 * generator (gen_), of each server process (cpu_us_NAME, csw_NAME) and of
 * all servers together (srv_). */
static void
load_print_costs(const bench_load_opts *o, const load_sample *s0,
    const load_sample *s1, uint64_t count)
{
	double cpu    = 0;
	double csw    = 0;
	double unused = 0;
	bool   cpu_ok = true;
	bool   csw_ok = true;
	bool   ok     = true;

	load_per_req("gen_cpu_us", "", s0->cpu_us[0], s1->cpu_us[0], count,
	    &unused, &ok);
	load_per_req(
	    "gen_csw", "", s0->csw[0], s1->csw[0], count, &unused, &ok);
	for (int i = 1; i <= o->npids; i++) {
		load_per_req("cpu_us_", o->pid_names[i - 1], s0->cpu_us[i],
		    s1->cpu_us[i], count, &cpu, &cpu_ok);
		load_per_req("csw_", o->pid_names[i - 1], s0->csw[i],
		    s1->csw[i], count, &csw, &csw_ok);
	}
	if (o->npids > 0 && cpu_ok) {
		printf(" srv_cpu_us=%.2f", cpu);
	}
	if (o->npids > 0 && csw_ok) {
		printf(" srv_csw=%.2f", csw);
	}
}

int
bench_load_run(const bench_load_opts *o)
{
	load        l;
	bench_hist *all    = NULL;
	nng_msg    *sample = NULL;
	uint64_t    errors = 0;
	uint64_t    yes    = 0;
	uint64_t    seed;
	bench_call  call;
	load_sample s0;
	load_sample s1;
	uint64_t    t0      = 0;
	uint64_t    t1      = 0;
	size_t      req_len = 0;
	int         started = 0;
	int         code    = 1;
	double      window;

	memset(&l, 0, sizeof(l));
	memset(&s0, 0, sizeof(s0));
	memset(&s1, 0, sizeof(s1));
	l.o = o;
	/* Request ids unique across runs too: the broker remembers a
	 * mutating call's id (CheckRateLimit's) and replays its answer. */
	seed     = bench_now_ns() ^ ((uint64_t) getpid() << 32);
	l.id_tag = bench_splitmix64(&seed);
	atomic_init(&l.phase, PHASE_WARMUP);
	atomic_init(&l.have_err, false);
	pthread_mutex_init(&l.mtx, NULL);
	pthread_cond_init(&l.cv, NULL);
	l.workers = calloc((size_t) o->concurrency, sizeof(*l.workers));
	all       = malloc(sizeof(*all));
	if (l.workers == NULL || all == NULL) {
		fprintf(stderr, "cb_bench: out of memory\n");
		goto out;
	}
	for (int i = 0; i < o->concurrency; i++) {
		l.workers[i].l   = &l;
		l.workers[i].idx = i;
		bench_hist_init(&l.workers[i].hist);
	}
	/* The size of one packed envelope (echo: always the same). */
	bench_call_init(&call, o, 0);
	if (bench_envelope_pack(&sample, bench_kinds[o->mode].method,
	        &call.req.base, 0, l.id_tag) == 0) {
		req_len = nng_msg_len(sample);
		nng_msg_free(sample);
	}
	if (load_open(&l) != 0) {
		goto out;
	}

	started = load_start(&l);
	if (started == o->concurrency) {
		load_sleep(o->warmup_s);
		load_sample_take(o, &s0);
		t0 = bench_now_ns();
		atomic_store(&l.phase, PHASE_MEASURE);
		load_sleep(o->duration_s);
		atomic_store(&l.phase, PHASE_STOP);
		t1 = bench_now_ns();
		load_sample_take(o, &s1);
	}
	atomic_store(&l.phase, PHASE_STOP);
	load_join(&l, started);
	if (started != o->concurrency) {
		goto out;
	}

	bench_hist_init(all);
	for (int i = 0; i < o->concurrency; i++) {
		bench_hist_merge(all, &l.workers[i].hist);
		errors += l.workers[i].errors;
		yes += l.workers[i].yes;
	}
	window = (double) (t1 - t0) / 1e9;
	printf("mode=%s engine=%s concurrency=%d duration_s=%.3f "
	       "count=%" PRIu64 " errors=%" PRIu64 " rps=%.1f p50_us=%.1f "
	       "p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
	       "mean_us=%.1f req_bytes=%zu",
	    bench_kinds[o->mode].name, load_engine_name(o->engine),
	    o->concurrency, window, all->count, errors,
	    (double) all->count / window,
	    load_us(bench_hist_percentile(all, 50)),
	    load_us(bench_hist_percentile(all, 90)),
	    load_us(bench_hist_percentile(all, 99)),
	    load_us(bench_hist_percentile(all, 99.9)), load_us(all->max_ns),
	    all->count ? load_us(all->sum_ns / all->count) : 0.0, req_len);
	if (o->mode != BENCH_MODE_ECHO) {
		printf(" %s=%" PRIu64, bench_kinds[o->mode].outcome, yes);
	}
	load_print_costs(o, &s0, &s1, all->count);
	printf("\n");
	(void) fflush(stdout);

	if (errors > 0 || all->count == 0) {
		fprintf(stderr,
		    "cb_bench: *** %s/%s at %d: %" PRIu64 " REQUESTS FAILED, "
		    "%" PRIu64 " measured; first failure: %s ***\n",
		    bench_kinds[o->mode].name, load_engine_name(o->engine),
		    o->concurrency, errors, all->count,
		    l.first_err[0] ? l.first_err
		                   : "(none: nothing completed)");
		code = 2;
	} else {
		code = 0;
	}
out:
	load_close(&l);
	pthread_cond_destroy(&l.cv);
	pthread_mutex_destroy(&l.mtx);
	free(l.workers);
	free(all);
	return (code);
}

/* SPDX-License-Identifier: MIT */
/* cb_bench load: C requests of a mode in flight, their latencies, one
 * line. */
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

#include "bench.h"
#include "hist.h"
#include "loadgen.h"

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
 * The engines, threads or aio, are loadgen.c's, shared with the other
 * benchmarks: this file says what a worker sends (the mode's envelope, or
 * the mode's call through libcachebroker on the threads engine) and how
 * an answer is checked; echo goes raw on both engines.
 */

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };

/* Room for what an echo request sent, to compare the reply with. */
#define LOAD_SENT_MAX 512

/* What each worker's requests need: the load generator (loadgen.c) calls
 * the callbacks below with the worker's index, one call at a time. */
typedef struct load_worker {
	uint64_t   seq;      /* requests started, keeps ids unique */
	bench_call call;     /* the request in flight */
	size_t     sent_len; /* echo: length of what was sent */
	uint8_t    sent[LOAD_SENT_MAX]; /* echo: what was sent */
} load_worker;

typedef struct load {
	const bench_load_opts *o;       /* what to do */
	uint64_t               id_tag;  /* request ids' half of this run */
	atomic_int             phase;   /* PHASE_* */
	load_worker           *workers; /* concurrency of them */
} load;

static int
load_phase(load *l)
{
	return (atomic_load_explicit(&l->phase, memory_order_acquire));
}

/* load_call makes w's next request, of a key picked for it; returns the
 * number that makes its request id unique. */
static uint64_t
load_call(load *l, int i)
{
	load_worker *w = &l->workers[i];

	bench_call_init(&w->call, l->o, bench_call_pick(l->o, i, w->seq));
	return (((uint64_t) i << 40) | w->seq++);
}

/* load_pack builds worker i's next raw request: the mode's envelope; for
 * the echo server a Get's, so both carry the same bytes. None once the
 * phase is STOP. */
static int
load_pack(void *arg, int i, nng_msg **out, char *err, size_t errlen)
{
	load        *l = arg;
	load_worker *w = &l->workers[i];
	uint64_t     seq;
	nng_msg     *msg;
	int          rv;

	if (load_phase(l) == PHASE_STOP) {
		return (0);
	}
	seq = load_call(l, i);
	if ((rv = bench_envelope_pack(&msg, bench_kinds[l->o->mode].method,
	         &w->call.req.base, seq, l->id_tag)) != 0) {
		(void) snprintf(err, errlen, "pack: %s", nng_strerror(rv));
		return (-1);
	}
	if (l->o->mode == BENCH_MODE_ECHO) {
		w->sent_len = nng_msg_len(msg);
		if (w->sent_len <= sizeof(w->sent)) {
			memcpy(w->sent, nng_msg_body(msg), w->sent_len);
		}
	}
	*out = msg;
	return (1);
}

/* load_check says whether msg is the right reply to worker i's last
 * request, and (tag 1) whether it found, revoked or allowed. */
static int
load_check(void *arg, int i, nng_msg *msg, int *tag, char *err, size_t errlen)
{
	load                  *l   = arg;
	load_worker           *w   = &l->workers[i];
	const bench_load_opts *o   = l->o;
	size_t                 len = nng_msg_len(msg);
	ProtobufCMessage      *m;
	bool                   yes = false;
	int                    rv;

	*tag = 0;
	if (o->mode != BENCH_MODE_ECHO) {
		if (bench_envelope_unpack(nng_msg_body(msg), len,
		        bench_kinds[o->mode].resp, &m, err, errlen) != 0) {
			return (-1);
		}
		rv = bench_call_check(o, &w->call, m, &yes, err, errlen);
		protobuf_c_message_free_unpacked(m, NULL);
		*tag = yes ? 1 : 0;
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

/* load_lib_call is one call of the mode through libcachebroker (THREADS
 * engine). */
static int
load_lib_call(
    void *arg, int i, cb_client *c, int *tag, char *err, size_t errlen)
{
	load *l   = arg;
	bool  yes = false;

	if (load_phase(l) == PHASE_STOP) {
		return (0);
	}
	(void) load_call(l, i);
	if (bench_call_run(c, l->o, &l->workers[i].call, &yes, err, errlen) !=
	    0) {
		return (-1);
	}
	*tag = yes ? 1 : 0;
	return (1);
}

/* load_measured: answers count only in the measured window. */
static bool
load_measured(void *arg)
{
	return (load_phase(arg) == PHASE_MEASURE);
}

static void
load_sleep(double s)
{
	struct timespec ts;

	ts.tv_sec  = (time_t) s;
	ts.tv_nsec = (long) ((s - (double) ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0) { }
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
	load            l;
	loadgen        *g      = NULL;
	loadgen_result *res    = NULL;
	nng_msg        *sample = NULL;
	uint64_t        seed;
	bench_call      call;
	load_sample     s0;
	load_sample     s1;
	uint64_t        t0      = 0;
	uint64_t        t1      = 0;
	size_t          req_len = 0;
	int             started = 0;
	int             code    = 1;
	double          window;
	bench_hist     *all;
	loadgen_opts    lo   = { .who = "cb_bench",
		     .url             = o->url,
		     .concurrency     = o->concurrency,
		     .aio             = o->engine == BENCH_ENGINE_AIO,
		     .client          = o->mode != BENCH_MODE_ECHO,
		     .timeout_ms      = o->timeout_ms };
	loadgen_work    work = { .pack = load_pack,
		   .check              = load_check,
		   .call               = load_lib_call,
		   .measured           = load_measured,
		   .arg                = &l };

	memset(&l, 0, sizeof(l));
	memset(&s0, 0, sizeof(s0));
	memset(&s1, 0, sizeof(s1));
	l.o = o;
	/* Request ids unique across runs too: the broker remembers a
	 * mutating call's id (CheckRateLimit's) and replays its answer. */
	seed     = bench_now_ns() ^ ((uint64_t) getpid() << 32);
	l.id_tag = bench_splitmix64(&seed);
	atomic_init(&l.phase, PHASE_WARMUP);
	l.workers = calloc((size_t) o->concurrency, sizeof(*l.workers));
	res       = malloc(sizeof(*res));
	if (l.workers == NULL || res == NULL) {
		fprintf(stderr, "cb_bench: out of memory\n");
		goto out;
	}
	/* The size of one packed envelope (echo: always the same). */
	bench_call_init(&call, o, 0);
	if (bench_envelope_pack(&sample, bench_kinds[o->mode].method,
	        &call.req.base, 0, l.id_tag) == 0) {
		req_len = nng_msg_len(sample);
		nng_msg_free(sample);
	}
	if (loadgen_open(&g, &lo, &work) != 0) {
		goto out;
	}

	started = loadgen_start(g);
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
	/* Every request in flight ends within its timeout; the socket is
	 * closed if one somehow does not. */
	loadgen_wait(g, started, o->timeout_ms / 1000.0 + 2, 0, NULL, NULL);
	if (started != o->concurrency) {
		goto out;
	}

	loadgen_result_get(g, res);
	all    = &res->hist;
	window = (double) (t1 - t0) / 1e9;
	printf("mode=%s engine=%s concurrency=%d duration_s=%.3f "
	       "count=%" PRIu64 " errors=%" PRIu64 " rps=%.1f p50_us=%.1f "
	       "p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
	       "mean_us=%.1f req_bytes=%zu",
	    bench_kinds[o->mode].name, load_engine_name(o->engine),
	    o->concurrency, window, all->count, res->errors,
	    (double) all->count / window,
	    load_us(bench_hist_percentile(all, 50)),
	    load_us(bench_hist_percentile(all, 90)),
	    load_us(bench_hist_percentile(all, 99)),
	    load_us(bench_hist_percentile(all, 99.9)), load_us(all->max_ns),
	    all->count ? load_us(all->sum_ns / all->count) : 0.0, req_len);
	if (o->mode != BENCH_MODE_ECHO) {
		printf(" %s=%" PRIu64, bench_kinds[o->mode].outcome,
		    res->tags[1]);
	}
	load_print_costs(o, &s0, &s1, all->count);
	printf("\n");
	(void) fflush(stdout);

	if (res->errors > 0 || all->count == 0) {
		fprintf(stderr,
		    "cb_bench: *** %s/%s at %d: %" PRIu64 " REQUESTS FAILED, "
		    "%" PRIu64 " measured; first failure: %s ***\n",
		    bench_kinds[o->mode].name, load_engine_name(o->engine),
		    o->concurrency, res->errors, all->count,
		    res->first_err[0] ? res->first_err
		                      : "(none: nothing completed)");
		code = 2;
	} else {
		code = 0;
	}
out:
	loadgen_close(g);
	free(l.workers);
	free(res);
	return (code);
}

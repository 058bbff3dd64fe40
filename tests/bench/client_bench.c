/* SPDX-License-Identifier: MIT */
/* cb_client_bench: the C side of the three clients' Fetch-hit benchmark. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cachebroker/cachebroker.h>

#include "bench.h"
#include "hist.h"

/*
 *   cb_client_bench --url URL --concurrency N --seconds S
 *       --resource R --param NAME=VALUE [--param NAME=VALUE]...
 *
 * The same program exists for the Python and the Node client
 * (clients/python/bench.py, clients/node/dist/bench.js) and
 * tests/bench/run-clients.sh compares the three: one Fetch first, so that
 * every timed one is a hit; then N threads share one cb_client, each
 * calling cb_cache_fetch back to back for S seconds. It prints exactly
 * one line,
 *
 *   RESULT lang=c concurrency=N requests=R seconds=S rps=X p50_us=Y
 *   p99_us=Z
 *
 * (R: calls answered OK; rps: R over the wall time from the start until
 * the last call returned) and exits 0, or 2 when some call failed (the
 * first failure on stderr, the line still printed), 1 when it could not
 * start.
 */

#define MAX_PARAMS 8
#define TIMEOUT_MS 5000

typedef struct opts {
	const char *url;
	const char *resource;
	int         concurrency;
	double      seconds;
	const char *seconds_arg; /* as given, for the RESULT line */
	Cachebroker__V1__FetchRequest__ParamsEntry  params[MAX_PARAMS];
	Cachebroker__V1__FetchRequest__ParamsEntry *plist[MAX_PARAMS];
	size_t                                      n_params;
} opts;

/* What the callers share. */
typedef struct run {
	cb_client                    *client;
	Cachebroker__V1__FetchRequest req;      /* read-only once started */
	pthread_barrier_t             go;       /* the callers and main */
	uint64_t                      end_ns;   /* stop calling after this */
	atomic_uint_fast64_t          failures; /* calls not OK */
	atomic_flag                   reported; /* first failure printed */
} run;

typedef struct caller {
	run       *r;
	bench_hist hist; /* OK calls' latencies; merged after the run */
} caller;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: cb_client_bench --url URL --concurrency N --seconds S\n"
	    "           --resource R --param NAME=VALUE "
	    "[--param NAME=VALUE]...\n");
}

static void
parse(int argc, char **argv, opts *o)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "resource", required_argument, NULL, 'r' },
		{ "param", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->url         = getenv("CACHEBROKER_URL");
	o->concurrency = 16;
	o->seconds     = 5;
	o->seconds_arg = "5";
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			o->url = optarg;
			break;
		case 'c':
			o->concurrency = (int) bench_parse_num(
			    "--concurrency", optarg, 1, 4096);
			break;
		case 's':
			o->seconds =
			    bench_parse_num("--seconds", optarg, 0.1, 3600);
			o->seconds_arg = optarg;
			break;
		case 'r':
			o->resource = optarg;
			break;
		case 'p': {
			char *eq = strchr(optarg, '=');
			Cachebroker__V1__FetchRequest__ParamsEntry *e;
			if (eq == NULL || eq == optarg ||
			    o->n_params == MAX_PARAMS) {
				fprintf(stderr,
				    "cb_client_bench: bad --param %s "
				    "(NAME=VALUE, "
				    "at most %d)\n",
				    optarg, MAX_PARAMS);
				exit(1);
			}
			e = &o->params[o->n_params];
			cachebroker__v1__fetch_request__params_entry__init(e);
			*eq                     = '\0';
			e->key                  = optarg;
			e->value                = eq + 1;
			o->plist[o->n_params++] = e;
			break;
		}
		default:
			usage();
			exit(1);
		}
	}
	if (optind != argc || o->url == NULL || o->resource == NULL) {
		usage();
		exit(1);
	}
}

/* fetch_once makes one call; it says why on stderr the first time one
 * fails. */
static bool
fetch_once(run *r)
{
	Cachebroker__V1__FetchResponse *resp = NULL;
	cb_result                       res;
	cb_status                       st;

	st = cb_cache_fetch(r->client, &r->req, &resp, NULL, &res);
	if (st != CB_OK) {
		atomic_fetch_add(&r->failures, 1);
		if (!atomic_flag_test_and_set(&r->reported)) {
			fprintf(stderr, "cb_client_bench: Fetch %s: %s: %s\n",
			    r->req.resource, cb_status_str((int) st),
			    res.message);
		}
		return (false);
	}
	cb_message_free(resp);
	return (true);
}

static void *
caller_main(void *arg)
{
	caller *c = arg;
	run    *r = c->r;

	pthread_barrier_wait(&r->go);
	while (bench_now_ns() < r->end_ns) {
		uint64_t t0 = bench_now_ns();
		if (fetch_once(r)) {
			bench_hist_add(&c->hist, bench_now_ns() - t0);
		}
	}
	return (NULL);
}

int
main(int argc, char **argv)
{
	opts       o;
	run        r;
	caller    *callers;
	pthread_t *threads;
	bench_hist all;
	uint64_t   start;
	double     elapsed;

	parse(argc, argv, &o);
	memset(&r, 0, sizeof(r));
	atomic_init(&r.failures, 0);
	atomic_flag_clear(&r.reported);
	cachebroker__v1__fetch_request__init(&r.req);
	r.req.resource = (char *) o.resource;
	r.req.params   = o.plist;
	r.req.n_params = o.n_params;

	if (bench_client_open(&r.client, o.url, TIMEOUT_MS) != 0) {
		return (1);
	}
	/* The first call loads the key: every timed one is a hit. */
	if (!fetch_once(&r)) {
		cb_client_close(r.client);
		return (1);
	}
	callers = calloc((size_t) o.concurrency, sizeof(*callers));
	threads = calloc((size_t) o.concurrency, sizeof(*threads));
	if (callers == NULL || threads == NULL ||
	    pthread_barrier_init(&r.go, NULL, (unsigned) o.concurrency + 1) !=
	        0) {
		fprintf(stderr, "cb_client_bench: out of memory\n");
		free(callers);
		free(threads);
		cb_client_close(r.client);
		return (1);
	}
	for (int i = 0; i < o.concurrency; i++) {
		callers[i].r = &r;
		bench_hist_init(&callers[i].hist);
		if (pthread_create(
		        &threads[i], NULL, caller_main, &callers[i]) != 0) {
			fprintf(stderr, "cb_client_bench: pthread_create\n");
			/* The barrier waits for every party: no way on. */
			exit(1);
		}
	}
	/* The callers read end_ns after the barrier, which orders it. */
	start    = bench_now_ns();
	r.end_ns = start + (uint64_t) (o.seconds * 1e9);
	pthread_barrier_wait(&r.go);
	bench_hist_init(&all);
	for (int i = 0; i < o.concurrency; i++) {
		pthread_join(threads[i], NULL);
		bench_hist_merge(&all, &callers[i].hist);
	}
	elapsed = (double) (bench_now_ns() - start) / 1e9;

	printf("RESULT lang=c concurrency=%d requests=%llu seconds=%s "
	       "rps=%.1f p50_us=%.1f p99_us=%.1f\n",
	    o.concurrency, (unsigned long long) all.count, o.seconds_arg,
	    elapsed > 0 ? (double) all.count / elapsed : 0.0,
	    (double) bench_hist_percentile(&all, 50) / 1000.0,
	    (double) bench_hist_percentile(&all, 99) / 1000.0);
	fflush(stdout);

	pthread_barrier_destroy(&r.go);
	cb_client_close(r.client);
	free(callers);
	free(threads);
	return (atomic_load(&r.failures) > 0 ? 2 : 0);
}

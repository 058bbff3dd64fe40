/* SPDX-License-Identifier: MIT */
/* cb_fetch_bench: the read-through benchmark's load generator. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cachebroker/cachebroker.h>

#include "bench.h"
#include "fetch.h"

/*
 *   cb_fetch_bench latency  --url URL --resource R --param P --first N
 *       [--step N] --keys N [--requests N] --expect miss|hit|any
 *   cb_fetch_bench stampede --url URL --resource R --param P --value N
 *       [--workers W]
 *   cb_fetch_bench stampede --naive --redis HOST:PORT --pg CONNINFO
 *       --sql SQL --key KEY --ttl-ms MS --value N [--workers W]
 *   cb_fetch_bench zipf     --url URL --resource R --param P --keys K
 *       --requests N [--exponent S] [--seed N] [--concurrency C]
 *       [--engine aio|threads] [--after-seed N]
 *   common: [--timeout MS] [--label NAME] [--pid NAME=PID]...
 *
 * Each prints one line of name=value pairs (cb_bench's format) and exits
 * 0 when every request succeeded, 2 when some failed (the first failure
 * on stderr), 1 when the run could not start.
 */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: cb_fetch_bench latency --url URL --resource R "
	    "--param P --first N [--step N]\n"
	    "           --keys N [--requests N] --expect miss|hit|any\n"
	    "       cb_fetch_bench stampede --url URL --resource R "
	    "--param P --value N [--workers W]\n"
	    "       cb_fetch_bench stampede --naive --redis HOST:PORT "
	    "--pg CONNINFO --sql SQL\n"
	    "           --key KEY --ttl-ms MS --value N [--workers W]\n"
	    "       cb_fetch_bench zipf --url URL --resource R --param P "
	    "--keys K --requests N\n"
	    "           [--exponent S] [--seed N] [--concurrency C] "
	    "[--engine aio|threads]\n"
	    "           [--after-seed N]\n"
	    "  common: [--timeout MS] [--label NAME] [--pid NAME=PID]...\n");
}

enum {
	OPT_URL = 256,
	OPT_RESOURCE,
	OPT_PARAM,
	OPT_FIRST,
	OPT_STEP,
	OPT_KEYS,
	OPT_REQUESTS,
	OPT_VALUE,
	OPT_EXPECT,
	OPT_CONC,
	OPT_WORKERS,
	OPT_ENGINE,
	OPT_EXPONENT,
	OPT_SEED,
	OPT_AFTER_SEED,
	OPT_TIMEOUT,
	OPT_LABEL,
	OPT_NAIVE,
	OPT_REDIS,
	OPT_PG,
	OPT_SQL,
	OPT_KEY,
	OPT_TTL,
	OPT_PID,
};

static const struct option long_opts[] = {
	{ "url", required_argument, NULL, OPT_URL },
	{ "resource", required_argument, NULL, OPT_RESOURCE },
	{ "param", required_argument, NULL, OPT_PARAM },
	{ "first", required_argument, NULL, OPT_FIRST },
	{ "step", required_argument, NULL, OPT_STEP },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "requests", required_argument, NULL, OPT_REQUESTS },
	{ "value", required_argument, NULL, OPT_VALUE },
	{ "expect", required_argument, NULL, OPT_EXPECT },
	{ "concurrency", required_argument, NULL, OPT_CONC },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "exponent", required_argument, NULL, OPT_EXPONENT },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "after-seed", required_argument, NULL, OPT_AFTER_SEED },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "naive", no_argument, NULL, OPT_NAIVE },
	{ "redis", required_argument, NULL, OPT_REDIS },
	{ "pg", required_argument, NULL, OPT_PG },
	{ "sql", required_argument, NULL, OPT_SQL },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "ttl-ms", required_argument, NULL, OPT_TTL },
	{ "pid", required_argument, NULL, OPT_PID },
	{ NULL, 0, NULL, 0 },
};

/* parse_pid adds one --pid NAME=PID to o. */
static void
parse_pid(fb_opts *o, char *arg)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg || o->npids == FB_MAX_PIDS) {
		fprintf(stderr, "cb_fetch_bench: bad --pid: %s\n", arg);
		exit(1);
	}
	*eq                    = '\0';
	o->pid_names[o->npids] = arg;
	o->pids[o->npids++] =
	    (pid_t) bench_parse_num("pid", eq + 1, 1, 1 << 22);
}

/* parse_opts fills o from argv (after the command); exits on a bad one. */
static void
parse_opts(int argc, char **argv, fb_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->step        = 1;
	o->expect      = CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE;
	o->concurrency = 64;
	o->workers     = 500;
	o->aio         = true;
	o->exponent    = 1.0;
	o->seed        = 1;
	o->timeout_ms  = 5000;
	o->label       = "fetch";
	o->ttl_ms      = 3600000;
	optind         = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_RESOURCE:
			o->resource = optarg;
			break;
		case OPT_PARAM:
			o->param = optarg;
			break;
		case OPT_FIRST:
			o->first = (int64_t) bench_parse_num(
			    "first", optarg, 0, 1e15);
			break;
		case OPT_STEP:
			o->step =
			    (int64_t) bench_parse_num("step", optarg, 1, 1e12);
			break;
		case OPT_KEYS:
			o->keys =
			    (int64_t) bench_parse_num("keys", optarg, 1, 1e9);
			break;
		case OPT_REQUESTS:
			o->requests = (int64_t) bench_parse_num(
			    "requests", optarg, 1, 1e10);
			break;
		case OPT_VALUE:
			o->value = (int64_t) bench_parse_num(
			    "value", optarg, 0, 1e15);
			break;
		case OPT_EXPECT:
			if (strcmp(optarg, "miss") == 0) {
				o->expect =
				    CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_LOADER;
			} else if (strcmp(optarg, "hit") == 0) {
				o->expect =
				    CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE;
			} else if (strcmp(optarg, "any") == 0) {
				o->expect = FB_EXPECT_ANY;
			} else {
				fprintf(stderr,
				    "cb_fetch_bench: bad --expect: %s\n",
				    optarg);
				exit(1);
			}
			break;
		case OPT_CONC:
			o->concurrency = (int) bench_parse_num(
			    "concurrency", optarg, 1, 4096);
			break;
		case OPT_WORKERS:
			o->workers =
			    (int) bench_parse_num("workers", optarg, 1, 4096);
			break;
		case OPT_ENGINE:
			if (strcmp(optarg, "aio") == 0) {
				o->aio = true;
			} else if (strcmp(optarg, "threads") == 0) {
				o->aio = false;
			} else {
				fprintf(stderr,
				    "cb_fetch_bench: bad engine: %s\n",
				    optarg);
				exit(1);
			}
			break;
		case OPT_EXPONENT:
			o->exponent =
			    bench_parse_num("exponent", optarg, 0.01, 10);
			break;
		case OPT_SEED:
			o->seed = (uint64_t) bench_parse_num(
			    "seed", optarg, 0, 1e15);
			break;
		case OPT_AFTER_SEED:
			o->after_seed = (uint64_t) bench_parse_num(
			    "after-seed", optarg, 0, 1e15);
			o->has_after = true;
			break;
		case OPT_TIMEOUT:
			o->timeout_ms = (uint32_t) bench_parse_num(
			    "timeout", optarg, 1, 600000);
			break;
		case OPT_LABEL:
			o->label = optarg;
			break;
		case OPT_NAIVE:
			o->naive = true;
			break;
		case OPT_REDIS:
			o->redis = optarg;
			break;
		case OPT_PG:
			o->pg = optarg;
			break;
		case OPT_SQL:
			o->sql = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_TTL:
			o->ttl_ms = (int64_t) bench_parse_num(
			    "ttl-ms", optarg, 1, 1e12);
			break;
		case OPT_PID:
			parse_pid(o, optarg);
			break;
		default:
			usage();
			exit(1);
		}
	}
	if (optind != argc) {
		usage();
		exit(1);
	}
}

/* require exits with the usage when a needed option is missing. */
static void
require(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "cb_fetch_bench: %s is required\n", what);
		usage();
		exit(1);
	}
}

/* --- shared helpers -------------------------------------------------- */

const char *
fb_source_name(int source)
{
	switch (source) {
	case CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE:
		return ("cache");
	case CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_LOADER:
		return ("loader");
	case CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_STALE:
		return ("stale");
	default:
		return ("unspecified");
	}
}

static double
us(uint64_t ns)
{
	return ((double) ns / 1000.0);
}

void
fb_sample_take(const fb_opts *o, fb_sample *s)
{
	s->cpu_us[0] = bench_proc_cpu_us(0);
	s->csw[0]    = bench_proc_csw(0);
	for (int i = 0; i < o->npids; i++) {
		s->cpu_us[i + 1] = bench_proc_cpu_us(o->pids[i]);
		s->csw[i + 1]    = bench_proc_csw(o->pids[i]);
	}
}

/* per_req prints (b - a) / count as " NAMESUFFIX=v" when both ends were
 * read, and adds it to *sum; otherwise it clears *ok. */
static void
per_req(const char *name, const char *suffix, int64_t a, int64_t b,
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

void
fb_print_costs(
    const fb_opts *o, const fb_sample *s0, const fb_sample *s1, uint64_t count)
{
	double cpu    = 0;
	double csw    = 0;
	double unused = 0;
	bool   cpu_ok = true;
	bool   csw_ok = true;
	bool   ok     = true;

	per_req("gen_cpu_us", "", s0->cpu_us[0], s1->cpu_us[0], count, &unused,
	    &ok);
	per_req("gen_csw", "", s0->csw[0], s1->csw[0], count, &unused, &ok);
	for (int i = 1; i <= o->npids; i++) {
		per_req("cpu_us_", o->pid_names[i - 1], s0->cpu_us[i],
		    s1->cpu_us[i], count, &cpu, &cpu_ok);
		per_req("csw_", o->pid_names[i - 1], s0->csw[i], s1->csw[i],
		    count, &csw, &csw_ok);
	}
	if (o->npids > 0 && cpu_ok) {
		printf(" srv_cpu_us=%.2f", cpu);
	}
	if (o->npids > 0 && csw_ok) {
		printf(" srv_csw=%.2f", csw);
	}
}

/* --- latency --------------------------------------------------------- */

/*
 * cmd_latency: o->requests Fetches, one at a time, of the values first,
 * first + step, ... (o->keys of them, then again from the first). Every
 * answer must come from o->expect (unless it is FB_EXPECT_ANY): a miss
 * run uses keys nobody has fetched, a hit run the keys a miss run has
 * just loaded.
 */
static int
cmd_latency(const fb_opts *o)
{
	cb_client  *c = NULL;
	bench_hist *h;
	fb_sample   s0;
	fb_sample   s1;
	char        err[FB_ERR_MAX];
	char        first_err[FB_ERR_MAX] = "";
	uint64_t    errors                = 0;
	uint64_t    bytes                 = 0;
	uint64_t    hits                  = 0;
	uint64_t    t0;
	uint64_t    t1;
	uint64_t    ta;
	double      wall;
	int64_t     n = o->requests > 0 ? o->requests : o->keys;

	if ((h = malloc(sizeof(*h))) == NULL) {
		fprintf(stderr, "cb_fetch_bench: out of memory\n");
		return (1);
	}
	bench_hist_init(h);
	if (bench_client_open(&c, o->url, o->timeout_ms) != 0) {
		free(h);
		return (1);
	}
	fb_sample_take(o, &s0);
	ta = bench_now_ns();
	for (int64_t i = 0; i < n; i++) {
		int64_t v   = o->first + (i % o->keys) * o->step;
		size_t  len = 0;
		int     src = 0;
		int     rv;

		t0 = bench_now_ns();
		rv = fb_fetch(c, o, v, &src, &len, err, sizeof(err));
		t1 = bench_now_ns();
		if (rv == 0 && o->expect != FB_EXPECT_ANY &&
		    src != o->expect) {
			(void) snprintf(err, sizeof(err),
			    "%s %s=%" PRId64 ": answered from %s, not %s",
			    o->resource, o->param, v, fb_source_name(src),
			    fb_source_name(o->expect));
			rv = -1;
		}
		if (rv != 0) {
			if (errors++ == 0) {
				memcpy(first_err, err, sizeof(err));
			}
			continue;
		}
		bench_hist_add(h, t1 - t0);
		bytes += len;
		if (src == CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE) {
			hits++;
		}
	}
	wall = (double) (bench_now_ns() - ta) / 1e9;
	fb_sample_take(o, &s1);
	cb_client_close(c);

	printf("row=%s concurrency=1 errors=%" PRIu64, o->label, errors);
	bench_hist_print(h);
	printf(" rps=%.1f hits=%" PRIu64 " misses=%" PRIu64
	       " value_bytes=%.0f",
	    (double) h->count / wall, hits, h->count - hits,
	    h->count ? (double) bytes / (double) h->count : 0.0);
	fb_print_costs(o, &s0, &s1, h->count);
	printf("\n");
	(void) fflush(stdout);
	free(h);
	if (errors > 0) {
		fprintf(stderr,
		    "cb_fetch_bench: *** %s: %" PRIu64 " REQUESTS FAILED; "
		    "first failure: %s ***\n",
		    o->label, errors, first_err);
		return (2);
	}
	return (0);
}

/* --- stampede -------------------------------------------------------- */

/* stampede_thread: set up, wait at the gate with the others, call. */
static void *
stampede_thread(void *arg)
{
	fb_stampede_worker *w = arg;
	fb_gate            *g = w->gate;

	w->ready = w->ops->setup(w) == 0;
	if (!w->ready) {
		w->failed = true;
	}
	pthread_mutex_lock(&g->mtx);
	g->waiting++;
	pthread_cond_signal(&g->ready);
	pthread_mutex_unlock(&g->mtx);
	(void) pthread_rwlock_rdlock(&g->gate); /* until the release */
	(void) pthread_rwlock_unlock(&g->gate);
	if (w->ready) {
		w->ops->call(w);
	}
	w->ops->teardown(w);
	return (NULL);
}

/*
 * naive_breakdown prints where the naive workers' time went: the GET of
 * every worker, the SELECT and the SET of those that missed (p50, p99).
 */
static void
naive_breakdown(const fb_stampede_worker *w, int n)
{
	static const char *names[] = { "get", "select", "set" };
	bench_hist        *h[3];

	for (int k = 0; k < 3; k++) {
		if ((h[k] = malloc(sizeof(*h[k]))) == NULL) {
			for (int j = 0; j < k; j++) {
				free(h[j]);
			}
			return;
		}
		bench_hist_init(h[k]);
	}
	for (int i = 0; i < n; i++) {
		if (w[i].failed) {
			continue;
		}
		bench_hist_add(h[0], w[i].t_get - w[i].t_start);
		if (w[i].miss) {
			bench_hist_add(h[1], w[i].t_select - w[i].t_get);
			bench_hist_add(h[2], w[i].t_end - w[i].t_select);
		}
	}
	for (int k = 0; k < 3; k++) {
		printf(" %s_p50_us=%.1f %s_p99_us=%.1f", names[k],
		    us(bench_hist_percentile(h[k], 50)), names[k],
		    us(bench_hist_percentile(h[k], 99)));
		free(h[k]);
	}
}

int
fb_stampede_run(const fb_opts *o, const fb_stampede_ops *ops, void *shared)
{
	fb_stampede_worker *w;
	fb_gate             g;
	pthread_attr_t      attr;
	bench_hist         *h;
	uint64_t            first        = UINT64_MAX;
	uint64_t            last_start   = 0;
	uint64_t            last_end     = 0;
	uint64_t            errors       = 0;
	int                 by_source[4] = { 0, 0, 0, 0 };
	int                 misses       = 0;
	int                 started      = 0;
	int                 code         = 1;
	const char         *first_err    = NULL;

	w = calloc((size_t) o->workers, sizeof(*w));
	h = malloc(sizeof(*h));
	if (w == NULL || h == NULL) {
		fprintf(stderr, "cb_fetch_bench: out of memory\n");
		free(w);
		free(h);
		return (1);
	}
	bench_hist_init(h);
	memset(&g, 0, sizeof(g));
	pthread_rwlock_init(&g.gate, NULL);
	pthread_mutex_init(&g.mtx, NULL);
	pthread_cond_init(&g.ready, NULL);
	(void) pthread_rwlock_wrlock(&g.gate);
	/* Hundreds of threads: small stacks (libpq and hiredis need little).
	 */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t) 512 * 1024);
	for (int i = 0; i < o->workers; i++) {
		int rv;

		w[i].o      = o;
		w[i].ops    = ops;
		w[i].gate   = &g;
		w[i].shared = shared;
		rv          = pthread_create(
		             &w[i].thread, &attr, stampede_thread, &w[i]);
		if (rv != 0) {
			fprintf(stderr, "cb_fetch_bench: pthread_create: %s\n",
			    strerror(rv));
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	/* Every worker is at the gate (set up, or failed to): release. */
	pthread_mutex_lock(&g.mtx);
	while (g.waiting < started) {
		pthread_cond_wait(&g.ready, &g.mtx);
	}
	pthread_mutex_unlock(&g.mtx);
	(void) pthread_rwlock_unlock(&g.gate);
	for (int i = 0; i < started; i++) {
		(void) pthread_join(w[i].thread, NULL);
	}
	if (started != o->workers) {
		goto out;
	}

	for (int i = 0; i < started; i++) {
		if (w[i].failed) {
			if (errors++ == 0) {
				first_err = w[i].err;
			}
			continue;
		}
		bench_hist_add(h, w[i].t_end - w[i].t_start);
		if (w[i].t_start < first) {
			first = w[i].t_start;
		}
		if (w[i].t_start > last_start) {
			last_start = w[i].t_start;
		}
		if (w[i].t_end > last_end) {
			last_end = w[i].t_end;
		}
		if (w[i].source >= 0 && w[i].source < 4) {
			by_source[w[i].source]++;
		}
		misses += w[i].miss;
	}
	printf("row=%s concurrency=%d errors=%" PRIu64, o->label, o->workers,
	    errors);
	bench_hist_print(h);
	if (h->count > 0) {
		printf(" spread_us=%.1f wall_us=%.1f", us(last_start - first),
		    us(last_end - first));
	}
	if (o->naive) {
		printf(" get_miss=%d get_hit=%d", misses,
		    (int) h->count - misses);
		naive_breakdown(w, started);
	} else {
		printf(" loader=%d cache=%d stale=%d",
		    by_source
		        [CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_LOADER],
		    by_source
		        [CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_CACHE],
		    by_source
		        [CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_STALE]);
	}
	printf("\n");
	(void) fflush(stdout);
	code = 0;
	if (errors > 0) {
		fprintf(stderr,
		    "cb_fetch_bench: *** %s: %" PRIu64 " of %d FAILED; "
		    "first failure: %s ***\n",
		    o->label, errors, o->workers, first_err);
		code = 2;
	}
out:
	pthread_cond_destroy(&g.ready);
	pthread_mutex_destroy(&g.mtx);
	pthread_rwlock_destroy(&g.gate);
	free(w);
	free(h);
	return (code);
}

static int
broker_setup(fb_stampede_worker *w)
{
	(void) w;
	return (0);
}

static void
broker_call(fb_stampede_worker *w)
{
	size_t len;

	w->t_start = bench_now_ns();
	w->failed  = fb_fetch(w->shared, w->o, w->o->value, &w->source, &len,
	                 w->err, sizeof(w->err)) != 0;
	w->t_end   = bench_now_ns();
}

static void
broker_teardown(fb_stampede_worker *w)
{
	(void) w;
}

static const fb_stampede_ops broker_ops = {
	.setup    = broker_setup,
	.call     = broker_call,
	.teardown = broker_teardown,
};

/* cmd_stampede: o->workers Fetches of one cold key, all at once, through
 * one shared libcachebroker client (a service's thread pool). */
static int
cmd_stampede(const fb_opts *o)
{
	cb_client *c = NULL;
	int        code;

	if (o->naive) {
		return (fb_naive_stampede(o));
	}
	if (bench_client_open(&c, o->url, o->timeout_ms) != 0) {
		return (1);
	}
	code = fb_stampede_run(o, &broker_ops, c);
	cb_client_close(c);
	return (code);
}

/* raise_nofile lifts the soft limit of open files to the hard one: the
 * naive stampede holds two sockets per worker. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void) setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	fb_opts     o;
	const char *cmd;

	if (argc < 2) {
		usage();
		return (1);
	}
	cmd = argv[1];
	argc--;
	argv++;
	parse_opts(argc, argv, &o);
	raise_nofile();
	if (strcmp(cmd, "latency") == 0) {
		require(o.url != NULL, "--url");
		require(o.resource != NULL && o.param != NULL,
		    "--resource and --param");
		require(o.keys > 0, "--keys");
		return (cmd_latency(&o));
	}
	if (strcmp(cmd, "stampede") == 0) {
		if (o.naive) {
			require(o.redis != NULL && o.pg != NULL &&
			        o.sql != NULL && o.key != NULL,
			    "--redis, --pg, --sql and --key");
		} else {
			require(o.url != NULL, "--url");
			require(o.resource != NULL && o.param != NULL,
			    "--resource and --param");
		}
		return (cmd_stampede(&o));
	}
	if (strcmp(cmd, "zipf") == 0) {
		require(o.url != NULL, "--url");
		require(o.resource != NULL && o.param != NULL,
		    "--resource and --param");
		require(o.keys > 0 && o.requests > 0, "--keys and --requests");
		return (fb_zipf_run(&o));
	}
	usage();
	return (1);
}

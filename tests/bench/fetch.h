/* SPDX-License-Identifier: MIT */
/* cb_fetch_bench: what its modules (main, load, zipf, naive) share. */
#ifndef CB_BENCH_FETCH_H
#define CB_BENCH_FETCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cachebroker/cachebroker.h>

#include "hist.h"

/*
 * The read-through benchmark drives CacheService/Fetch of resources with
 * one integer parameter (bench.item id=N, bench.list start=N), so a key
 * is a resource, a parameter name and a number.
 *
 *   latency   concurrency 1, one call after another through
 *             libcachebroker; every reply must come from where the
 *             caller expects (LOADER for a cold key, CACHE for a warm one)
 *   stampede  W threads released at once on one cold key: through the
 *             broker (libcachebroker) or as the naive cache-aside client
 *             (hiredis GET, libpq SELECT on a miss, SET)
 *   zipf      a precomputed Zipf sequence of keys, C requests in flight
 *             (aio contexts or threads)
 *
 * The database queries are counted by run-fetch.sh on the database side
 * (pg_stat_statements), never here.
 */

#define FB_FETCH_METHOD "/cachebroker.v1.CacheService/Fetch"

#define FB_MAX_PIDS 16

/* fb_opts.expect of a latency run that takes answers from anywhere. */
#define FB_EXPECT_ANY (-1)

/* Room for the reason of a failure. */
#define FB_ERR_MAX 512

/* Options of every command; each uses the fields it needs. */
typedef struct fb_opts {
	const char *url;         /* the broker */
	const char *resource;    /* "bench.item" */
	const char *param;       /* its parameter: "id" */
	int64_t     first;       /* latency: first value */
	int64_t     step;        /* latency: distance between values */
	int64_t     keys;        /* latency: values used; zipf: key space */
	int64_t     requests;    /* latency, zipf: requests in all */
	int64_t     value;       /* stampede: the one cold value */
	int         expect;      /* latency: FetchSource of every reply */
	int         concurrency; /* zipf: requests in flight */
	int         workers;     /* stampede: threads released at once */
	bool        aio;         /* zipf: aio engine (else threads) */
	double      exponent;    /* zipf: s */
	uint64_t    seed;        /* zipf: of the sequence */
	uint64_t    after_seed;  /* zipf: seed of the pass before, if any */
	bool        has_after;   /* zipf: after_seed is set */
	uint32_t    timeout_ms;  /* per request */
	const char *label;       /* printed as row= */
	bool        naive;       /* stampede: the cache-aside client */
	const char *redis;       /* naive: HOST:PORT */
	const char *pg;          /* naive: libpq conninfo */
	const char *sql;         /* naive: the SELECT, $1 the value */
	const char *key;         /* naive: the Redis key */
	int64_t     ttl_ms;      /* naive: PX of its SET */
	int         npids;       /* processes whose CPU to report */
	pid_t       pids[FB_MAX_PIDS];      /* their ids */
	const char *pid_names[FB_MAX_PIDS]; /* their names in the output */
} fb_opts;

/* fb_params is one Fetch's parameter as libcachebroker and the packer
 * take it; fb_request_init points a request at the storage in p. */
typedef struct fb_params {
	Cachebroker__V1__FetchRequest__ParamsEntry  entry;   /* name=value */
	Cachebroker__V1__FetchRequest__ParamsEntry *list[1]; /* &entry */
	char                                        num[24]; /* value text */
} fb_params;

/*
 * fb_request_init fills req (caller's storage) for a Fetch of
 * o->resource with o->param = value, using p for the parameter. req
 * borrows from o and p; neither may move while req is used.
 */
void fb_request_init(Cachebroker__V1__FetchRequest *req, fb_params *p,
    const fb_opts *o, int64_t value);

/*
 * fb_check says whether a Fetch answer is a value (non-empty JSON text);
 * on failure it returns -1 and writes why into err. *source (not NULL)
 * gets the answer's FetchSource.
 */
int fb_check(const Cachebroker__V1__FetchResponse *resp, int *source,
    char *err, size_t errlen);

/*
 * fb_fetch performs one Fetch of o->resource with o->param = value through
 * c (libcachebroker; blocks): 0 and *source when the answer is a value,
 * -1 and err otherwise. *len gets the value's length.
 */
int fb_fetch(cb_client *c, const fb_opts *o, int64_t value, int *source,
    size_t *len, char *err, size_t errlen);

/* fb_source_name: "cache", "loader", "stale" or "unspecified". */
const char *fb_source_name(int source);

/* The CPU and context switches of this process (slot 0) and of every
 * o->pids[i] (slot i + 1), sampled at both ends of a window. */
typedef struct fb_sample {
	int64_t cpu_us[FB_MAX_PIDS + 1]; /* CPU time used so far */
	int64_t csw[FB_MAX_PIDS + 1];    /* context switches so far */
} fb_sample;

/* fb_sample_take reads every clock of s now. */
void fb_sample_take(const fb_opts *o, fb_sample *s);

/* fb_print_costs prints the CPU µs and switches per request between s0
 * and s1: gen_cpu_us, gen_csw, cpu_us_NAME, csw_NAME, srv_cpu_us, srv_csw
 * (the --pid processes together), as cb_bench load does. */
void fb_print_costs(const fb_opts *o, const fb_sample *s0, const fb_sample *s1,
    uint64_t count);

/* fb_zipf_run performs the zipf command: o->requests Fetches of the
 * precomputed sequence, o->concurrency in flight. Prints one line;
 * returns 0 if every request succeeded, 2 if some failed, 1 if the run
 * could not be set up. Blocks until every request is answered. */
int fb_zipf_run(const fb_opts *o);

/*
 * A stampede: n workers, each a thread that gets ready (connects), waits
 * at a barrier with the others, and, once all are released at the same
 * moment, makes its one call.
 */
typedef struct fb_stampede_worker fb_stampede_worker;

/*
 * Where the workers wait to be released together. The main thread holds
 * the write lock of gate until every worker is ready; each worker then
 * blocks taking it for reading, so that one unlock wakes them all at once
 * (a condition variable would wake them one mutex hand-off at a time).
 */
typedef struct fb_gate {
	pthread_rwlock_t gate;    /* write-locked until the release */
	pthread_mutex_t  mtx;     /* protects waiting */
	pthread_cond_t   ready;   /* signalled when a worker is ready */
	int              waiting; /* workers ready (or failed) */
} fb_gate;

typedef struct fb_stampede_ops {
	/* setup runs on the worker's thread before the release; 0 or -1
	 * (with w->err set). */
	int (*setup)(fb_stampede_worker *w);
	/* call is the one timed call; it sets w->failed and w->err, and
	 * w->source or w->miss. */
	void (*call)(fb_stampede_worker *w);
	/* teardown runs on the worker's thread after the call (or after a
	 * failed setup). */
	void (*teardown)(fb_stampede_worker *w);
} fb_stampede_ops;

/* The state and outcome of one stampede worker; the main thread reads it
 * after joining the worker. */
struct fb_stampede_worker {
	const fb_opts         *o;        /* what to do */
	const fb_stampede_ops *ops;      /* how */
	fb_gate               *gate;     /* shared by every worker */
	pthread_t              thread;   /* the worker */
	void                  *shared;   /* broker: the one cb_client */
	void                  *own;      /* naive: its connections */
	uint64_t               t_start;  /* when its call started (ns) */
	uint64_t               t_end;    /* when it was answered (ns) */
	uint64_t               t_get;    /* naive: when its GET returned */
	uint64_t               t_select; /* naive: when its SELECT returned */
	int                    source; /* broker: FetchSource of the answer */
	bool                   miss;   /* naive: its GET missed, it queried */
	bool                   ready;  /* setup succeeded */
	bool                   failed; /* setup or call failed */
	char                   err[FB_ERR_MAX]; /* why */
};

/*
 * fb_stampede_run starts o->workers threads running ops, releases them
 * together once every one is set up, joins them and prints one line:
 * count, errors, the latency figures, spread_us (from the first call to
 * the last call's start), wall_us (from the first call to the last
 * answer), and loader=/cache= (broker) or get_miss=/get_hit= (naive).
 * shared is given to every worker. Returns 0 when every call succeeded,
 * 2 when some failed, 1 when the run could not be set up. Blocks.
 */
int fb_stampede_run(
    const fb_opts *o, const fb_stampede_ops *ops, void *shared);

/* fb_naive_stampede performs the stampede command with the naive
 * cache-aside client (fb_stampede_run's output and exit codes). */
int fb_naive_stampede(const fb_opts *o);

#endif /* CB_BENCH_FETCH_H */

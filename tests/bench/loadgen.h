/* SPDX-License-Identifier: MIT */
/* The one load generator of the benchmarks: C workers, each keeping one
 * request in flight, on threads or on nng's aio callbacks. */
#ifndef CB_BENCH_LOADGEN_H
#define CB_BENCH_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>
#include <nng/nng.h>

#include "hist.h"

/* Answers can be counted in this many classes (found, a FetchSource). */
#define LOADGEN_TAGS 4

/* Room for the reason of a failure. */
#define LOADGEN_ERR_MAX 512

/*
 * What a run sends: the caller's callbacks, called with arg and the
 * worker's index (0 .. concurrency-1). One worker's calls never overlap.
 *
 *   pack      the worker's next request as an envelope to send raw:
 *             1 and *out, 0 when the worker has no more work (it stops),
 *             -1 and err when it cannot be made (counted as a failure;
 *             the worker stops)
 *   check     the reply to the worker's last packed request: 0 and *tag
 *             (an answer class, -1: none), or -1 and err
 *   call      THREADS engine with a client: one whole blocking call; 1
 *             and *tag, 0 no more work, -1 and err (failed, go on)
 *   measured  whether an answer now is recorded (a measured window);
 *             NULL: every answer is
 */
typedef struct loadgen_work {
	int (*pack)(void *arg, int w, nng_msg **out, char *err, size_t errlen);
	int (*check)(void *arg, int w, nng_msg *reply, int *tag, char *err,
	    size_t errlen);
	int (*call)(void *arg, int w, cb_client *c, int *tag, char *err,
	    size_t errlen);
	bool (*measured)(void *arg);
	void *arg;
} loadgen_work;

typedef struct loadgen_opts {
	const char *who;         /* program name, for messages */
	const char *url;         /* where to send */
	int         concurrency; /* workers */
	bool        aio;         /* AIO engine, else THREADS */
	bool        client;      /* THREADS: calls through libcachebroker
	                          * (work.call), else raw (pack, check) */
	uint32_t timeout_ms;     /* per request */
	size_t   recv_max;       /* largest reply taken; 0: nng's default */
} loadgen_opts;

/* What a run gave, summed over its workers. */
typedef struct loadgen_result {
	bench_hist hist;               /* latencies of recorded answers */
	uint64_t   errors;             /* failed requests */
	uint64_t   tags[LOADGEN_TAGS]; /* recorded answers per class */
	char       first_err[LOADGEN_ERR_MAX]; /* the first failure */
} loadgen_result;

typedef struct loadgen loadgen;

/* loadgen_open connects (a client, or a req0 socket with one context and
 * aio per worker); -1 after saying why on stderr. */
int loadgen_open(loadgen **out, const loadgen_opts *o, const loadgen_work *w);

/* loadgen_start sets the workers going; returns how many started. */
int loadgen_start(loadgen *g);

/* loadgen_done is the number of requests answered or failed so far. */
uint64_t loadgen_done(loadgen *g);

/*
 * loadgen_wait waits until every started worker has stopped (its work
 * said no more), at most limit_s seconds (0: no limit), calling progress
 * every progress_s seconds meanwhile (NULL: none); past the limit the
 * socket is closed, which ends the requests still in flight.
 */
void loadgen_wait(loadgen *g, int started, double limit_s, double progress_s,
    void (*progress)(loadgen *g, void *arg), void *arg);

/* loadgen_result sums the workers' figures into *r. After loadgen_wait. */
void loadgen_result_get(loadgen *g, loadgen_result *r);

/* loadgen_close frees the run. NULL-safe. */
void loadgen_close(loadgen *g);

#endif /* CB_BENCH_LOADGEN_H */

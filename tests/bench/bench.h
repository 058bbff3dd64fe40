/* SPDX-License-Identifier: MIT */
/* cb_bench: what its modules (echo, load, envelope, proc) share. */
#ifndef CB_BENCH_BENCH_H
#define CB_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cachebroker/cachebroker.h>
#include <nng/nng.h>

/* The method a Get travels under, as libcachebroker names it. */
#define BENCH_GET_METHOD "/cachebroker.v1.CacheService/Get"

/* Length of the request ids the benchmark puts in its envelopes; the same
 * as libcachebroker's (16 random bytes in hex). */
#define BENCH_REQUEST_ID_LEN 32

/* What one load run sends. */
typedef enum bench_mode {
	BENCH_MODE_ECHO, /* raw nng req to an echo server */
	BENCH_MODE_GET,  /* CacheService/Get of one key known to be set */
} bench_mode;

/*
 * How the load generator keeps its requests in flight. Both modes use the
 * same engine in one run, so their figures compare.
 *
 *   THREADS  concurrency threads, each one blocking call after another
 *            (the only way libcachebroker can be driven: its calls block)
 *   AIO      concurrency nng contexts, each an aio state machine run by
 *            nng's own threads; Get sends envelopes packed here instead
 *            of going through libcachebroker
 */
typedef enum bench_engine {
	BENCH_ENGINE_THREADS,
	BENCH_ENGINE_AIO,
} bench_engine;

#define BENCH_MAX_PIDS 8

/* Options of one load run (cb_bench load). */
typedef struct bench_load_opts {
	const char  *url;         /* broker or echo server */
	bench_mode   mode;        /* echo or get */
	bench_engine engine;      /* threads or aio */
	int          concurrency; /* requests in flight */
	double       duration_s;  /* measured window */
	double       warmup_s;    /* run before the window, not measured */
	size_t       value_size;  /* expected length of the value (get) */
	const char  *ns;          /* namespace of the key (get) */
	const char  *key;         /* the key (get) */
	uint32_t     timeout_ms;  /* per request */
	int          npids;       /* other processes whose CPU to report */
	pid_t        pids[BENCH_MAX_PIDS];      /* their ids */
	const char  *pid_names[BENCH_MAX_PIDS]; /* their names in the output */
} bench_load_opts;

/*
 * bench_load_run performs one load run and prints its one result line on
 * stdout. Returns 0 when every request succeeded, 2 when some failed
 * (after saying so on stderr), 1 when the run could not be set up.
 * Blocks for warmup_s + duration_s and a little more.
 */
int bench_load_run(const bench_load_opts *o);

/*
 * bench_echo_serve listens on url with a rep0 socket and ncontexts
 * contexts, each sending back what it receives, until SIGTERM or SIGINT.
 * Returns a process exit code. Blocks.
 */
int bench_echo_serve(const char *url, int ncontexts);

/*
 * bench_envelope_get packs a Request envelope carrying a Get of ns/key
 * into a new nng message (*out, owned by the caller on success). seq
 * makes the request id unique. Returns 0 or an nng error.
 */
int bench_envelope_get(
    nng_msg **out, const char *ns, const char *key, uint64_t seq);

/*
 * bench_envelope_check_get checks that a reply (body of len bytes) is an
 * OK Response whose GetResponse found a value of value_size bytes. On
 * failure it returns -1 and writes why into err (errlen bytes).
 */
int bench_envelope_check_get(
    const void *body, size_t len, size_t value_size, char *err, size_t errlen);

/* Used by every benchmark program (common.c, proc.c, hist.c): */

/* bench_parse_num reads a number in [min, max] from s, the value of the
 * option what; otherwise it says so on stderr and exits 1. */
double bench_parse_num(
    const char *what, const char *s, double min, double max);

/*
 * bench_client_open opens libcachebroker on url (timeout_ms per call) and
 * makes one Health call, so that the connection is up before anything is
 * timed. 0 and *out (the caller closes it), or -1 after saying why on
 * stderr. Blocks.
 */
int bench_client_open(cb_client **out, const char *url, uint32_t timeout_ms);

/* bench_parse_hostport splits "HOST:PORT" into host (hostlen bytes) and
 * *port; 0, or -1 when s is not that. */
int bench_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* bench_now_ns returns CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* bench_proc_cpu_us returns the CPU time (user + system) that process pid
 * has used so far in microseconds, or -1 if it cannot be read. pid 0 means
 * this process. */
int64_t bench_proc_cpu_us(pid_t pid);

/* bench_proc_csw returns how many context switches (voluntary and not)
 * the live threads of process pid have made so far, or -1 if it cannot
 * be read. pid 0 means this process. Threads that have exited are not
 * counted, so sample a process whose threads live for the whole run. */
int64_t bench_proc_csw(pid_t pid);

#endif /* CB_BENCH_BENCH_H */

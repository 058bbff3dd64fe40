/* SPDX-License-Identifier: MIT */
/* cb_inval_bench: what its modules (main and warm, lag, pattern) share. */
#ifndef CB_BENCH_INVAL_H
#define CB_BENCH_INVAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

/*
 * The invalidation benchmark's load generator. Each command prints one
 * line of name=value pairs (cb_bench's format):
 *
 *   warm     one WarmService/Warm of one strategy: its keys, the broker's
 *            duration, the wall time around the call
 *   lag      for each of N rows: Fetch its key (cached, checked in
 *            Redis), UPDATE the row (libpq, autocommit), then time from
 *            the commit returning to the key's "del" keyspace notification
 *   pattern  fill a namespace and a second one (SetMany), then
 *            InvalidatePattern(ns, "*") while a PING loop on its own
 *            connection times Redis; the same loop idle just before; Redis'
 *            LATENCY LATEST of both phases; what is left of each namespace
 *
 * Database queries are counted by run-invalidation.sh on the database
 * side (pg_stat_statements), never here.
 */

#define IB_MAX_PIDS 4

/* Room for the reason of a failure. */
#define IB_ERR_MAX 512

/* Options of every command; each uses the fields it needs. */
typedef struct ib_opts {
	const char *url;         /* the broker */
	const char *label;       /* printed as row= */
	uint32_t    timeout_ms;  /* per call */
	const char *strategy;    /* warm: its name */
	int64_t     expect;      /* warm: keys it must store (0: any) */
	const char *redis;       /* lag, pattern: HOST:PORT */
	const char *pg;          /* lag: libpq conninfo */
	const char *sql;         /* lag: the UPDATE, $1 the value */
	const char *resource;    /* lag: "bench.item" */
	const char *param;       /* lag: its parameter, "id" */
	const char *key_prefix;  /* lag: "bench:item:", the key less value */
	int64_t     first;       /* lag: first value */
	int64_t     keys;        /* lag: values; pattern: keys per namespace */
	const char *ns;          /* pattern: the namespace invalidated */
	const char *keep;        /* pattern: the namespace that must stay */
	size_t      value_size;  /* pattern: bytes per value */
	uint32_t    batch;       /* pattern: entries per SetMany */
	double      idle_s;      /* pattern: the PING loop's idle phase */
	uint32_t    ping_gap_us; /* pattern: pause between two PINGs */
	int         npids;       /* processes whose CPU to report */
	pid_t       pids[IB_MAX_PIDS];      /* their ids */
	const char *pid_names[IB_MAX_PIDS]; /* their names in the output */
} ib_opts;

/*
 * ib_redis_open connects to hostport ("HOST:PORT") with a 10 s connect
 * and I/O timeout. 0 and *out (the caller frees it: redisFree), or -1
 * after saying why on stderr.
 */
int ib_redis_open(const char *hostport, redisContext **out);

/*
 * ib_redis_cmd runs a command on rc; a reply that is missing or an error
 * writes why into err and gives NULL. The caller frees a reply.
 */
redisReply *ib_redis_cmd(
    redisContext *rc, char *err, size_t errlen, const char *fmt, ...);

/* ib_lag_run and ib_pattern_run perform those commands: they print one
 * line and return 0 when every step succeeded, 2 when some failed (the
 * first failure on stderr), 1 when the run could not start. Block. */
int ib_lag_run(const ib_opts *o);
int ib_pattern_run(const ib_opts *o);

#endif /* CB_BENCH_INVAL_H */

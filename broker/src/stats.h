/* SPDX-License-Identifier: MIT */
/* Counters: calls and latency per method, hits and misses per namespace. */
#ifndef CBD_STATS_H
#define CBD_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

#include "keys.h"
#include "router.h"

/* Latency histogram: bucket i counts calls under 2^i microseconds
 * (the last bucket takes the rest). */
#define CBD_LAT_BUCKETS 28

/* Per-method counters, updated from any thread without locks. */
typedef struct cbd_method_stats {
	atomic_uint_fast64_t count;                    /* calls answered */
	atomic_uint_fast64_t codes[CB_STATUS_MAX + 1]; /* by status code */
	atomic_uint_fast64_t lat_sum_us;               /* total latency */
	atomic_uint_fast64_t lat_max_us;               /* worst latency */
	atomic_uint_fast64_t lat[CBD_LAT_BUCKETS];     /* histogram */
} cbd_method_stats;

/* Per-namespace counters, loop thread only. */
typedef struct cbd_ns_stats {
	char     name[CBD_MAX_NAMESPACE + 1]; /* the namespace */
	uint64_t hits;                        /* reads that found a value */
	uint64_t misses;                      /* reads that did not */
	uint64_t loads;                       /* loader runs (read-through) */
	uint64_t load_errors;                 /* failed loader runs */
	uint64_t coalesced;       /* waiters served by another's load */
	uint64_t invalidations;   /* keys removed by Delete or patterns */
	uint64_t stale_serves;    /* expired values served (stale-if-error) */
	uint64_t loads_cancelled; /* loads nobody waited for any more */
} cbd_ns_stats;

/* Namespaces beyond this many are counted together under "_other", so a
 * client inventing namespaces cannot grow the table without bound. */
#define CBD_MAX_NS_STATS 256

typedef struct cbd_stats {
	cbd_method_stats methods[CBD_METHOD_COUNT + 1]; /* by method id */
	cbd_ns_stats     ns[CBD_MAX_NS_STATS + 1];      /* + "_other" */
	size_t           n_ns;                          /* used */
} cbd_stats;

/* cbd_stats_init zeroes the counters (caller's storage). */
void cbd_stats_init(cbd_stats *s);

/* cbd_stats_record_call counts one answered call. Any thread. */
void cbd_stats_record_call(
    cbd_stats *s, int method, cb_status code, uint64_t latency_us);

/* cbd_stats_ns finds or adds a namespace's counters. Loop thread. */
cbd_ns_stats *cbd_stats_ns(cbd_stats *s, const char *ns);

/* cbd_stats_totals sums hits and misses over all namespaces. Loop thread. */
void cbd_stats_totals(const cbd_stats *s, uint64_t *hits, uint64_t *misses);

/* cbd_stats_percentile estimates the p-th percentile (0..100) of a
 * method's latency from its histogram, in microseconds. */
uint64_t cbd_stats_percentile(const cbd_method_stats *m, double p);

/* cbd_stats_errors is the calls of m answered with a non-OK code. */
uint64_t cbd_stats_errors(const cbd_method_stats *m);

/* cbd_stats_reset zeroes everything. Loop thread (method counters may
 * race with a call being recorded: that call lands either side). */
void cbd_stats_reset(cbd_stats *s);

/* cbd_stats_hit_rate is hits / (hits + misses), 0 when both are 0. */
double cbd_stats_hit_rate(uint64_t hits, uint64_t misses);

#endif /* CBD_STATS_H */

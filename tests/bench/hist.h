/* SPDX-License-Identifier: MIT */
/* Latency histogram of the benchmark: log-linear buckets, mergeable. */
#ifndef CB_BENCH_HIST_H
#define CB_BENCH_HIST_H

#include <stdint.h>

/*
 * Values are nanoseconds. Below 256 ns every value has its own bucket;
 * above, each power of two is cut into 128 buckets, so a percentile read
 * back is within 0.8% of the true sample. 4352 buckets cover 2^40 ns
 * (18 minutes); larger values land in the last bucket.
 */
#define BENCH_HIST_SUB 128u
#define BENCH_HIST_BUCKETS (34 * BENCH_HIST_SUB)

typedef struct bench_hist {
	uint64_t count;                      /* samples recorded */
	uint64_t sum_ns;                     /* their sum, for the mean */
	uint64_t max_ns;                     /* the largest sample */
	uint64_t bucket[BENCH_HIST_BUCKETS]; /* samples per bucket */
} bench_hist;

/* bench_hist_init empties h (caller's storage). */
void bench_hist_init(bench_hist *h);

/* bench_hist_add records one sample of ns nanoseconds. Not thread-safe:
 * give each thread its own histogram and merge them afterwards. */
void bench_hist_add(bench_hist *h, uint64_t ns);

/* bench_hist_merge adds every sample of src to dst. */
void bench_hist_merge(bench_hist *dst, const bench_hist *src);

/* bench_hist_percentile returns the value (ns) below which pct percent of
 * the samples fall (the midpoint of that sample's bucket), 0 when h is
 * empty. pct is in (0, 100]. */
uint64_t bench_hist_percentile(const bench_hist *h, double pct);

/* bench_hist_print prints " count=... p50_us=... p90_us=... p99_us=...
 * p999_us=... max_us=... mean_us=..." of h on stdout (a part of a result
 * line of name=value pairs). */
void bench_hist_print(const bench_hist *h);

#endif /* CB_BENCH_HIST_H */

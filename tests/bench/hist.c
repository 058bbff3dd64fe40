/* SPDX-License-Identifier: MIT */
/* Latency histogram of the benchmark: log-linear buckets, mergeable. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hist.h"

/*
 * Bucket layout (SUB = 128):
 *
 *   value v            bucket
 *   0 .. 255           v
 *   2^b .. 2^(b+1)-1   (b - 7) * SUB + (v >> (b - 7)),  b >= 8
 *
 * v >> (b - 7) is in [128, 256), so each power of two gets SUB buckets and
 * the ranges follow each other without a gap.
 */

static unsigned
hist_index(uint64_t v)
{
	unsigned b;
	unsigned shift;
	unsigned idx;

	if (v < (uint64_t) (2 * BENCH_HIST_SUB)) {
		return ((unsigned) v);
	}
	b     = 63u - (unsigned) __builtin_clzll(v);
	shift = b - 7;
	idx   = shift * BENCH_HIST_SUB + (unsigned) (v >> shift);
	if (idx >= BENCH_HIST_BUCKETS) {
		idx = BENCH_HIST_BUCKETS - 1;
	}
	return (idx);
}

/* hist_value is the midpoint of bucket idx, the inverse of hist_index. */
static uint64_t
hist_value(unsigned idx)
{
	unsigned shift;
	uint64_t low;

	if (idx < 2 * BENCH_HIST_SUB) {
		return (idx);
	}
	shift = idx / BENCH_HIST_SUB - 1;
	low   = (uint64_t) (idx - shift * BENCH_HIST_SUB) << shift;
	return (low + ((1ull << shift) >> 1));
}

void
bench_hist_init(bench_hist *h)
{
	memset(h, 0, sizeof(*h));
}

void
bench_hist_add(bench_hist *h, uint64_t ns)
{
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns) {
		h->max_ns = ns;
	}
	h->bucket[hist_index(ns)]++;
}

void
bench_hist_merge(bench_hist *dst, const bench_hist *src)
{
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns) {
		dst->max_ns = src->max_ns;
	}
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		dst->bucket[i] += src->bucket[i];
	}
}

uint64_t
bench_hist_percentile(const bench_hist *h, double pct)
{
	uint64_t rank;
	uint64_t seen = 0;

	if (h->count == 0) {
		return (0);
	}
	/* The sample of rank ceil(pct% of count), counting from 1. */
	rank = (uint64_t) ((double) h->count * pct / 100.0);
	if ((double) rank < (double) h->count * pct / 100.0) {
		rank++;
	}
	if (rank < 1) {
		rank = 1;
	}
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t v = hist_value(i);
			/* The midpoint may overshoot the largest sample. */
			return (v > h->max_ns ? h->max_ns : v);
		}
	}
	return (h->max_ns);
}

/* us: nanoseconds as microseconds, for printing. */
static double
us(uint64_t ns)
{
	return ((double) ns / 1000.0);
}

void
bench_hist_print(const bench_hist *h)
{
	printf(" count=%" PRIu64 " p50_us=%.1f p90_us=%.1f p99_us=%.1f "
	       "p999_us=%.1f max_us=%.1f mean_us=%.1f",
	    h->count, us(bench_hist_percentile(h, 50)),
	    us(bench_hist_percentile(h, 90)), us(bench_hist_percentile(h, 99)),
	    us(bench_hist_percentile(h, 99.9)), us(h->max_ns),
	    h->count ? us(h->sum_ns / h->count) : 0.0);
}

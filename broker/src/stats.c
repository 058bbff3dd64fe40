/* SPDX-License-Identifier: MIT */
/* Counters: calls and latency per method, hits and misses per namespace. */
#include "stats.h"

#include <string.h>

void
cbd_stats_init(cbd_stats *s)
{
	memset(s, 0, sizeof(*s));
}

static int
lat_bucket(uint64_t us)
{
	int b = 0;
	while (b < CBD_LAT_BUCKETS - 1 && us >= (1ull << b)) {
		b++;
	}
	return b;
}

void
cbd_stats_record_call(
    cbd_stats *s, int method, cb_status code, uint64_t latency_us)
{
	cbd_method_stats *m = &s->methods[method];
	uint_fast64_t     max;

	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
	if ((unsigned) code <= CB_STATUS_MAX) {
		atomic_fetch_add_explicit(
		    &m->codes[code], 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(
	    &m->lat_sum_us, latency_us, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &m->lat[lat_bucket(latency_us)], 1, memory_order_relaxed);
	max = atomic_load_explicit(&m->lat_max_us, memory_order_relaxed);
	while (latency_us > max &&
	    !atomic_compare_exchange_weak_explicit(&m->lat_max_us, &max,
	        latency_us, memory_order_relaxed, memory_order_relaxed)) { }
}

cbd_ns_stats *
cbd_stats_ns(cbd_stats *s, const char *ns)
{
	for (size_t i = 0; i < s->n_ns; i++) {
		if (strcmp(s->ns[i].name, ns) == 0) {
			return &s->ns[i];
		}
	}
	if (s->n_ns < CBD_MAX_NS_STATS) {
		cbd_ns_stats *n = &s->ns[s->n_ns++];
		memset(n, 0, sizeof(*n));
		strncpy(n->name, ns, CBD_MAX_NAMESPACE);
		return n;
	}
	strcpy(s->ns[CBD_MAX_NS_STATS].name, "_other");
	return &s->ns[CBD_MAX_NS_STATS];
}

void
cbd_stats_totals(const cbd_stats *s, uint64_t *hits, uint64_t *misses)
{
	uint64_t h = 0;
	uint64_t m = 0;

	for (size_t i = 0; i < s->n_ns; i++) {
		h += s->ns[i].hits;
		m += s->ns[i].misses;
	}
	h += s->ns[CBD_MAX_NS_STATS].hits;
	m += s->ns[CBD_MAX_NS_STATS].misses;
	*hits   = h;
	*misses = m;
}

uint64_t
cbd_stats_percentile(const cbd_method_stats *m, double p)
{
	uint64_t counts[CBD_LAT_BUCKETS];
	uint64_t total = 0;
	uint64_t seen  = 0;
	uint64_t want;

	for (int i = 0; i < CBD_LAT_BUCKETS; i++) {
		counts[i] =
		    atomic_load_explicit(&m->lat[i], memory_order_relaxed);
		total += counts[i];
	}
	if (total == 0) {
		return 0;
	}
	want = (uint64_t) ((double) total * p / 100.0);
	if (want == 0) {
		want = 1;
	}
	for (int i = 0; i < CBD_LAT_BUCKETS; i++) {
		seen += counts[i];
		if (seen >= want) {
			/* The bucket's upper bound: never flatters. */
			return 1ull << i;
		}
	}
	return 1ull << (CBD_LAT_BUCKETS - 1);
}

uint64_t
cbd_stats_errors(const cbd_method_stats *m)
{
	uint64_t n = 0;

	for (int c = 0; c <= CB_STATUS_MAX; c++) {
		n += c == CB_OK ? 0 : atomic_load(&m->codes[c]);
	}
	return n;
}

void
cbd_stats_reset(cbd_stats *s)
{
	for (int i = 0; i <= CBD_METHOD_COUNT; i++) {
		cbd_method_stats *m = &s->methods[i];
		atomic_store(&m->count, 0);
		atomic_store(&m->lat_sum_us, 0);
		atomic_store(&m->lat_max_us, 0);
		for (int b = 0; b < CBD_LAT_BUCKETS; b++) {
			atomic_store(&m->lat[b], 0);
		}
		for (int c = 0; c <= CB_STATUS_MAX; c++) {
			atomic_store(&m->codes[c], 0);
		}
	}
	memset(s->ns, 0, sizeof(s->ns));
	s->n_ns = 0;
}

double
cbd_stats_hit_rate(uint64_t hits, uint64_t misses)
{
	if (hits + misses == 0) {
		return 0.0;
	}
	return (double) hits / (double) (hits + misses);
}

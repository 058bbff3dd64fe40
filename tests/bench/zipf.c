/* SPDX-License-Identifier: MIT */
/* Zipf key sequences of the benchmarks, from a fixed seed. */
#include <math.h>
#include <stdlib.h>

#include "bench.h"

/*
 * P(rank r) = r^-s / H(k, s), r = 1..k. The cumulative table
 *
 *   cdf[i] = P(1) + ... + P(i + 1),   cdf[k - 1] = 1
 *
 * turns a uniform u in [0, 1) into the smallest rank whose cdf exceeds it
 * (inversion, by binary search: exact for any s, 17 steps for 100,000
 * keys). The uniform numbers come from xoshiro256** seeded with
 * splitmix64, so a seed names one sequence on every machine.
 */

typedef struct rng {
	uint64_t s[4];
} rng;

static uint64_t
rotl(uint64_t x, int k)
{
	return ((x << k) | (x >> (64 - k)));
}

static void
rng_seed(rng *g, uint64_t seed)
{
	for (int i = 0; i < 4; i++) {
		g->s[i] = bench_splitmix64(&seed);
	}
}

/* rng_next is xoshiro256** (Blackman and Vigna). */
static uint64_t
rng_next(rng *g)
{
	uint64_t *s      = g->s;
	uint64_t  result = rotl(s[1] * 5, 7) * 9;
	uint64_t  t      = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return (result);
}

/* rng_unit is uniform in [0, 1): the top 53 bits. */
static double
rng_unit(rng *g)
{
	return ((double) (rng_next(g) >> 11) * 0x1.0p-53);
}

/* zipf_weight is r^-s, the unnormalised probability of rank r. */
static double
zipf_weight(int64_t r, double s)
{
	return (s == 1.0 ? 1.0 / (double) r : pow((double) r, -s));
}

int
bench_zipf_alloc(uint32_t **out, int64_t n, int64_t k, double s, uint64_t seed,
    int64_t *distinct)
{
	double   *cdf;
	uint32_t *seq;
	uint8_t  *seen;
	double    sum = 0;
	int64_t   d   = 0;
	rng       g;

	cdf  = malloc((size_t) k * sizeof(*cdf));
	seq  = malloc((size_t) n * sizeof(*seq));
	seen = calloc((size_t) k / 8 + 1, 1);
	if (cdf == NULL || seq == NULL || seen == NULL) {
		free(cdf);
		free(seq);
		free(seen);
		return (-1);
	}
	for (int64_t r = 1; r <= k; r++) {
		sum += zipf_weight(r, s);
		cdf[r - 1] = sum;
	}
	for (int64_t i = 0; i < k; i++) {
		cdf[i] /= sum;
	}
	cdf[k - 1] = 1.0; /* u < 1 always finds a rank */
	rng_seed(&g, seed);
	for (int64_t i = 0; i < n; i++) {
		double  u  = rng_unit(&g);
		int64_t lo = 0;
		int64_t hi = k - 1;

		/* The smallest index with u < cdf[index]. */
		while (lo < hi) {
			int64_t mid = lo + (hi - lo) / 2;

			if (u < cdf[mid]) {
				hi = mid;
			} else {
				lo = mid + 1;
			}
		}
		seq[i] = (uint32_t) (lo + 1);
		if ((seen[lo / 8] & (1u << (lo % 8))) == 0) {
			seen[lo / 8] |= (uint8_t) (1u << (lo % 8));
			d++;
		}
	}
	free(cdf);
	free(seen);
	*out      = seq;
	*distinct = d;
	return (0);
}

/* SPDX-License-Identifier: MIT */
/* The value syntaxes of durations and sizes, shared by the daemon's
 * configuration and the command-line client. */
#ifndef CBD_UNITS_H
#define CBD_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A duration is one or more <digits><unit> terms, summed, the unit one of
 * ms, s, m, h, d: "500ms", "30m", "1h30m", "1d12h". A bare number has no
 * unit: the configuration refuses it but for "0" (cbd_parse_duration_ms);
 * the command line reads it alone as milliseconds ("1h30" is refused, a
 * typo rather than 1 h 30 ms). Overflow is refused. Pure; any thread.
 */
#define CBD_DURATION_BARE_ZERO 0 /* a bare number: only "0" */
#define CBD_DURATION_BARE_MS 1   /* a bare number alone: milliseconds */

/* cbd_duration_parse reads s into *ms (bare: CBD_DURATION_BARE_*); 0 on
 * success, -1 with *ms untouched otherwise. */
int cbd_duration_parse(const char *s, int bare, uint64_t *ms);

/* cbd_parse_duration_ms is cbd_duration_parse as the configuration reads
 * it (CBD_DURATION_BARE_ZERO). */
int cbd_parse_duration_ms(const char *s, uint64_t *out);

/* cbd_parse_size reads bytes, or a number with k, m or g (kb, mb, gb;
 * any case; powers of 1024). 0 on success, -1 with *out untouched. */
int cbd_parse_size(const char *s, size_t *out);

#endif /* CBD_UNITS_H */

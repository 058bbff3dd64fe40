/* SPDX-License-Identifier: MIT */
/* Reconnect backoff, and the random numbers that jitter it and TTLs. */
#ifndef CBD_BACKOFF_H
#define CBD_BACKOFF_H

#include <stdint.h>

struct event;

/* cbd_random32 returns 32 random bits (getrandom; the clock if that
 * fails). Not for secrets. Any thread. */
uint32_t cbd_random32(void);

/*
 * cbd_backoff_arm arms timer for the next reconnect attempt: min_ms
 * doubled per earlier failed attempt, at most max_ms, then drawn at random
 * from its upper half, so that connections (and brokers) that lost a
 * server together do not come back in lockstep. Counts the attempt in
 * *attempts (the caller zeroes it on success). Loop thread.
 */
void cbd_backoff_arm(
    struct event *timer, uint64_t min_ms, uint64_t max_ms, unsigned *attempts);

#endif /* CBD_BACKOFF_H */

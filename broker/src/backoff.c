/* SPDX-License-Identifier: MIT */
/* Reconnect backoff, and the random numbers that jitter it and TTLs. */
#include "backoff.h"

#include <sys/random.h>

#include <event2/event.h>

#include "loop.h"

uint32_t
cbd_random32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
		r = (uint32_t) cbd_now_us();
	}
	return r;
}

void
cbd_backoff_arm(
    struct event *timer, uint64_t min_ms, uint64_t max_ms, unsigned *attempts)
{
	uint64_t       ms = min_ms;
	struct timeval tv;

	for (unsigned i = 0; i < *attempts && ms < max_ms; i++) {
		ms *= 2;
	}
	if (ms > max_ms) {
		ms = max_ms;
	}
	ms = ms / 2 + (ms / 2 > 0 ? cbd_random32() % (ms / 2 + 1) : 0);
	(*attempts)++;
	tv.tv_sec  = (time_t) (ms / 1000);
	tv.tv_usec = (suseconds_t) ((ms % 1000) * 1000);
	evtimer_add(timer, &tv);
}

/* SPDX-License-Identifier: MIT */
/* Request ids: 128 random bits as 32 hex characters, one per call. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

#include "client.h"

/*
 * Why getrandom on every call rather than a seeded generator: a seed copied
 * by fork() would make parent and child repeat each other's ids, and the
 * broker applies a mutating call seen twice with one id only once. One
 * 16-byte getrandom costs well under a microsecond, noise next to the round
 * trip it labels. The fallback below only runs where getrandom does not
 * (seccomp filters, ancient kernels).
 */

static pthread_once_t       fallback_once = PTHREAD_ONCE_INIT;
static uint64_t             fallback_seed[2];
static atomic_uint_fast64_t fallback_ctr;

/* splitmix64's finalizer: a bijection, so distinct inputs stay distinct. */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
fallback_init(void)
{
	struct timespec ts;
	uint64_t        t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ((uint64_t) ts.tv_sec * UINT64_C(1000000000)) +
	    (uint64_t) ts.tv_nsec;
	fallback_seed[0] = mix64(t ^ ((uint64_t) getpid() << 32));
	fallback_seed[1] = mix64(t + (uint64_t) (uintptr_t) &fallback_ctr);
}

/* fallback_fill: the seed mixed with a process-wide counter. getpid() is
 * folded in on every call so that a forked child diverges. */
static void
fallback_fill(uint8_t out[16])
{
	uint64_t n, a, b;

	pthread_once(&fallback_once, fallback_init);
	n = atomic_fetch_add(&fallback_ctr, 1);
	a = mix64(fallback_seed[0] + n);
	b = mix64(fallback_seed[1] ^ ((uint64_t) getpid() << 40) ^ n);
	memcpy(out, &a, sizeof(a));
	memcpy(out + 8, &b, sizeof(b));
}

static void
random_fill(uint8_t out[16])
{
	size_t  got = 0;
	ssize_t n;

	while (got < 16) {
		n = getrandom(out + got, 16 - got, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			fallback_fill(out);
			return;
		}
		got += (size_t) n;
	}
}

void
cbc_request_id_fill(char buf[CB_REQUEST_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t           raw[CB_REQUEST_ID_LEN / 2];
	size_t            i;

	random_fill(raw);
	for (i = 0; i < sizeof(raw); i++) {
		buf[2 * i]     = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	buf[CB_REQUEST_ID_LEN] = '\0';
}

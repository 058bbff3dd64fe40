/* SPDX-License-Identifier: MIT */
/* The backend loop's inbox: a mutex queue of requests plus an eventfd
 * wake-up, drained on the libevent loop that owns the backends. */
#ifndef CBD_LOOP_H
#define CBD_LOOP_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <cachebroker/cachebroker.h>

struct event_base;
struct event;
typedef struct cbd_req cbd_req;

/*
 *   nng thread                          loop thread
 *   ----------                          -----------
 *   lock; append req; was_empty?; unlock
 *   if was_empty: write(eventfd) ──────► read(eventfd)
 *                                        lock; take the whole list; unlock
 *                                        run each (its Redis commands are
 *                                        buffered, then written in one go)
 *
 * Only the producer that finds the queue empty writes the eventfd, so a
 * burst of requests costs one wake-up, and their commands share one write
 * per Redis connection: that is where pipelining comes from.
 */
typedef void cbd_loop_fn(cbd_req *req, void *arg);

/* A job: any other work handed to the loop thread (the HTTP endpoints'),
 * in the caller's storage, queued behind requests posted before it. */
typedef struct cbd_job cbd_job;
typedef void           cbd_job_fn(cbd_job *job);
struct cbd_job {
	cbd_job_fn *fn;   /* runs on the loop thread */
	cbd_job    *next; /* in the inbox */
};

typedef struct cbd_loop {
	struct event_base *base; /* not owned */
	struct event      *ev;   /* read event on efd */
	int                efd;  /* eventfd */
	pthread_mutex_t    mtx;  /* protects head, tail */
	cbd_req           *head; /* FIFO of posted requests */
	cbd_req           *tail;
	cbd_job           *jobs; /* FIFO of posted jobs */
	cbd_job           *jobs_tail;
	cbd_loop_fn       *fn;  /* called for each request, loop thread */
	void              *arg; /* passed to fn */
} cbd_loop;

/* cbd_loop_init prepares the inbox on base (caller's storage). */
CB_NODISCARD cb_status cbd_loop_init(
    cbd_loop *l, struct event_base *base, cbd_loop_fn *fn, void *arg);

/* cbd_loop_fini frees the inbox; requests still queued are dropped (the
 * caller has stopped the producers). NULL-safe. */
void cbd_loop_fini(cbd_loop *l);

/* cbd_loop_post hands req to the loop thread. Never blocks for long
 * (a mutex held for a pointer swap). Any thread; ownership of req moves
 * to the loop. */
void cbd_loop_post(cbd_loop *l, cbd_req *req);

/* cbd_loop_call hands job to the loop thread, which runs job->fn(job)
 * once. Any thread; the job's storage must live until fn runs. */
void cbd_loop_call(cbd_loop *l, cbd_job *job);

/* cbd_loop_run_jobs runs the jobs posted so far, on the calling thread:
 * at close, once the loop no longer runs, so that every job's owner gets
 * its answer. Loop thread (or its successor at close). */
void cbd_loop_run_jobs(cbd_loop *l);

/* cbd_now_us is the monotonic clock in microseconds. */
static inline uint64_t
cbd_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

#endif /* CBD_LOOP_H */

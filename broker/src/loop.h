/* SPDX-License-Identifier: MIT */
/* The backend loop's inbox: a mutex queue of jobs plus an eventfd
 * wake-up, drained on the libevent loop that owns the backends. */
#ifndef CBD_LOOP_H
#define CBD_LOOP_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <cachebroker/cachebroker.h>

struct event_base;
struct event;

/*
 * A job is one piece of work handed to a thread, in its owner's storage:
 * a request (request.h embeds one), an HTTP scrape. The same node serves
 * the loop's inbox and the outbox (outbox.h); it is in at most one queue.
 */
typedef struct cbd_job cbd_job;
typedef void           cbd_job_fn(cbd_job *job);
struct cbd_job {
	cbd_job_fn *fn;   /* runs on the thread that takes the job */
	cbd_job    *next; /* in the queue */
};

/*
 *   nng thread                          loop thread
 *   ----------                          -----------
 *   lock; append job; was_empty?; unlock
 *   if was_empty: write(eventfd) ──────► read(eventfd)
 *                                        lock; take the whole list; unlock
 *                                        run each (its Redis commands are
 *                                        buffered, then written in one go)
 *
 * Only the producer that finds the queue empty writes the eventfd, so a
 * burst of requests costs one wake-up, and their commands share one write
 * per Redis connection: that is where pipelining comes from. Jobs run in
 * the order they were posted.
 */
typedef struct cbd_loop {
	struct event_base *base; /* not owned */
	struct event      *ev;   /* read event on efd */
	int                efd;  /* eventfd */
	pthread_mutex_t    mtx;  /* protects head, tail; a leaf lock */
	cbd_job           *head; /* FIFO of posted jobs */
	cbd_job           *tail;
} cbd_loop;

/* cbd_loop_init prepares the inbox on base (caller's storage). */
CB_NODISCARD cb_status cbd_loop_init(cbd_loop *l, struct event_base *base);

/* cbd_loop_fini frees the inbox; jobs still queued are dropped (the
 * caller has stopped the producers and run them). NULL-safe. */
void cbd_loop_fini(cbd_loop *l);

/* cbd_loop_call hands job to the loop thread, which runs job->fn(job)
 * once. Never blocks for long (a mutex held for a pointer swap). Any
 * thread; the job's storage must live until fn runs. */
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

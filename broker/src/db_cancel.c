/* SPDX-License-Identifier: MIT */
/* The canceller: libpq's blocking PQcancel on a thread of its own. */
#include "db_cancel.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

/*
 *   loop thread                           canceller thread
 *   -----------                           ----------------
 *   PQgetCancel (copies, never blocks)
 *   lock; append to todo; signal; unlock ─► wakes; takes one job
 *                                          PQcancel: connects, sends the
 *                                          key, waits for the server to
 *                                          close (blocks: ms, or longer
 *                                          when the server is gone)
 *   read(eventfd) ◄──────────────────────── lock; append to done;
 *   lock; take done; unlock                  write(eventfd) if it was
 *   done(slot, gen, ok) per job              empty; unlock
 *
 * The same shape as the loop's inbox (mutex queue plus eventfd), the
 * other way round. The thread touches only the shared part below, never
 * the pool: so stop can leave a thread stuck in PQcancel behind, and the
 * thread frees the shared part when it ends.
 */
typedef struct cancel_job {
	struct cancel_job *next;
	PGcancel          *cancel; /* NULL once sent */
	size_t             slot;
	uint64_t           gen;
	int                ok;
	char               err[256];
} cancel_job;

/* What the loop thread and the canceller share, under mtx. */
typedef struct cancel_shared {
	pthread_mutex_t mtx;
	pthread_cond_t  work;  /* todo or stop */
	pthread_cond_t  ended; /* running went 0 */
	cancel_job     *todo;  /* FIFO, to send */
	cancel_job     *todo_tail;
	cancel_job     *done; /* FIFO, sent, to report */
	cancel_job     *done_tail;
	size_t          jobs;    /* todo + being sent + done */
	int             efd;     /* eventfd: done went non-empty */
	int             stop;    /* set by stop */
	int             running; /* the thread has not ended */
	int             orphan;  /* stop left: the thread frees this */
} cancel_shared;

struct cbd_db_canceller {
	cancel_shared       *s;
	pthread_t            tid;
	struct event        *ev; /* read event on s->efd */
	size_t               max;
	cbd_db_cancelled_fn *done;
	void                *arg;
};

static void
jobs_free(cancel_job *j)
{
	while (j != NULL) {
		cancel_job *next = j->next;
		PQfreeCancel(j->cancel);
		free(j);
		j = next;
	}
}

static void
shared_free(cancel_shared *s)
{
	jobs_free(s->todo);
	jobs_free(s->done);
	if (s->efd >= 0) {
		close(s->efd);
	}
	pthread_cond_destroy(&s->ended);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

static void *
cancel_main(void *arg)
{
	cancel_shared *s = arg;
	int            orphan;

	pthread_mutex_lock(&s->mtx);
	while (!s->stop) {
		cancel_job *j   = s->todo;
		uint64_t    one = 1;

		if (j == NULL) {
			pthread_cond_wait(&s->work, &s->mtx);
			continue;
		}
		s->todo = j->next;
		if (s->todo == NULL) {
			s->todo_tail = NULL;
		}
		j->next = NULL;
		pthread_mutex_unlock(&s->mtx);

		j->ok = PQcancel(j->cancel, j->err, (int) sizeof(j->err));
		PQfreeCancel(j->cancel);
		j->cancel = NULL;

		pthread_mutex_lock(&s->mtx);
		if (s->done == NULL) {
			s->done = j;
			/* The counter cannot overflow: the loop reads it. */
			(void) !write(s->efd, &one, sizeof(one));
		} else {
			s->done_tail->next = j;
		}
		s->done_tail = j;
	}
	s->running = 0;
	orphan     = s->orphan;
	pthread_cond_broadcast(&s->ended);
	pthread_mutex_unlock(&s->mtx);
	if (orphan) {
		shared_free(s);
	}
	return NULL;
}

/* canceller_wake reports every cancel sent so far, on the loop thread. */
static void
canceller_wake(evutil_socket_t fd, short what, void *arg)
{
	cbd_db_canceller *c = arg;
	cancel_shared    *s = c->s;
	cancel_job       *j;
	uint64_t          n;

	(void) what;
	(void) !read(fd, &n, sizeof(n));
	pthread_mutex_lock(&s->mtx);
	j       = s->done;
	s->done = s->done_tail = NULL;
	for (cancel_job *k = j; k != NULL; k = k->next) {
		s->jobs--;
	}
	pthread_mutex_unlock(&s->mtx);
	while (j != NULL) {
		cancel_job *next = j->next;
		c->done(c->arg, j->slot, j->gen, j->ok, j->err);
		free(j);
		j = next;
	}
}

cb_status
cbd_db_canceller_start(cbd_db_canceller **out, struct event_base *base,
    size_t max, cbd_db_cancelled_fn *done, void *arg)
{
	cbd_db_canceller  *c = calloc(1, sizeof(*c));
	cancel_shared     *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	sigset_t           all;
	sigset_t           old;
	int                rv;

	if (c == NULL || s == NULL) {
		free(c);
		free(s);
		return CB_RESOURCE_EXHAUSTED;
	}
	c->s    = s;
	c->max  = max;
	c->done = done;
	c->arg  = arg;
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ended, &ca);
	pthread_condattr_destroy(&ca);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0 ||
	    (c->ev = event_new(base, s->efd, EV_READ | EV_PERSIST,
	         canceller_wake, c)) == NULL ||
	    event_add(c->ev, NULL) != 0) {
		goto fail;
	}
	/* Signals are the loop's: the thread takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	s->running = 1;
	rv         = pthread_create(&c->tid, NULL, cancel_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rv != 0) {
		s->running = 0;
		cbd_log_error(
		    "database: cannot start the canceller: %s", strerror(rv));
		goto fail;
	}
	*out = c;
	return CB_OK;

fail:
	if (c->ev != NULL) {
		event_free(c->ev);
	}
	shared_free(s);
	free(c);
	return CB_RESOURCE_EXHAUSTED;
}

void
cbd_db_canceller_stop(cbd_db_canceller *c)
{
	cancel_shared  *s;
	struct timespec until;
	int             left;

	if (c == NULL) {
		return;
	}
	s = c->s;
	event_free(c->ev);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&s->mtx);
	s->stop = 1;
	jobs_free(s->todo);
	s->todo = s->todo_tail = NULL;
	pthread_cond_signal(&s->work);
	while (s->running &&
	    pthread_cond_timedwait(&s->ended, &s->mtx, &until) != ETIMEDOUT) {
	}
	left      = s->running;
	s->orphan = left;
	pthread_mutex_unlock(&s->mtx);
	if (left) {
		cbd_log_warning("database: a cancel request is still being "
		                "sent; not waiting for it");
		pthread_detach(c->tid);
	} else {
		pthread_join(c->tid, NULL);
		shared_free(s);
	}
	free(c);
}

cb_status
cbd_db_canceller_post(
    cbd_db_canceller *c, PGcancel *cancel, size_t slot, uint64_t gen)
{
	cancel_shared *s = c->s;
	cancel_job    *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	j->cancel = cancel;
	j->slot   = slot;
	j->gen    = gen;
	pthread_mutex_lock(&s->mtx);
	if (s->jobs >= c->max) {
		pthread_mutex_unlock(&s->mtx);
		free(j);
		return CB_RESOURCE_EXHAUSTED;
	}
	s->jobs++;
	if (s->todo_tail == NULL) {
		s->todo = j;
	} else {
		s->todo_tail->next = j;
	}
	s->todo_tail = j;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mtx);
	return CB_OK;
}

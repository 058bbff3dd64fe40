/* SPDX-License-Identifier: MIT */
/* The backend loop's inbox: mutex queue plus eventfd wake-up. */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

/* loop_take empties the inbox: one lock per wake-up. */
static cbd_job *
loop_take(cbd_loop *l)
{
	cbd_job *list;

	pthread_mutex_lock(&l->mtx);
	list    = l->head;
	l->head = l->tail = NULL;
	pthread_mutex_unlock(&l->mtx);
	return list;
}

/* loop_jobs runs a list of jobs taken from the inbox. */
static void
loop_jobs(cbd_job *list)
{
	while (list != NULL) {
		cbd_job *job = list;
		list         = job->next;
		job->next    = NULL;
		job->fn(job);
	}
}

static void
loop_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	cbd_loop *l = arg;
	uint64_t  n;

	(void) what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
		cbd_log_error("loop: eventfd read: %s", strerror(errno));
	}
	loop_jobs(loop_take(l));
}

void
cbd_loop_run_jobs(cbd_loop *l)
{
	loop_jobs(loop_take(l));
}

cb_status
cbd_loop_init(cbd_loop *l, struct event_base *base)
{
	memset(l, 0, sizeof(*l));
	l->efd  = -1;
	l->base = base;
	if (pthread_mutex_init(&l->mtx, NULL) != 0) {
		return CB_INTERNAL;
	}
	if ((l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		goto fail;
	}
	l->ev = event_new(base, l->efd, EV_READ | EV_PERSIST, loop_wake_cb, l);
	if (l->ev == NULL || event_add(l->ev, NULL) != 0) {
		goto fail;
	}
	return CB_OK;
fail:
	cbd_log_error("loop: cannot set up the wake-up: %s", strerror(errno));
	cbd_loop_fini(l);
	return CB_INTERNAL;
}

void
cbd_loop_fini(cbd_loop *l)
{
	if (l == NULL || l->base == NULL) {
		return;
	}
	if (l->ev != NULL) {
		event_free(l->ev);
	}
	if (l->efd >= 0) {
		close(l->efd);
	}
	pthread_mutex_destroy(&l->mtx);
	memset(l, 0, sizeof(*l));
	l->efd = -1;
}

/* loop_wake writes the eventfd for a producer that found the inbox
 * empty: a burst of posts costs one wake-up. */
static void
loop_wake(cbd_loop *l)
{
	uint64_t one = 1;

	if (write(l->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		cbd_log_error("loop: eventfd write: %s", strerror(errno));
	}
}

void
cbd_loop_call(cbd_loop *l, cbd_job *job)
{
	int was_empty;

	job->next = NULL;
	pthread_mutex_lock(&l->mtx);
	was_empty = l->head == NULL;
	if (l->head == NULL) {
		l->head = job;
	} else {
		l->tail->next = job;
	}
	l->tail = job;
	pthread_mutex_unlock(&l->mtx);
	if (was_empty) {
		loop_wake(l);
	}
}

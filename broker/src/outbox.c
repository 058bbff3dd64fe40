/* SPDX-License-Identifier: MIT */
/* The outbox: replies the loop finished, handed to nng's threads. */
#include "outbox.h"

#include <pthread.h>
#include <stdlib.h>

struct cbd_outbox {
	pthread_mutex_t mtx;  /* protects head, tail, busy; a leaf lock */
	cbd_job        *head; /* FIFO of jobs for nng's thread */
	cbd_job        *tail;
	int             busy;    /* aio scheduled or running */
	int             stopped; /* closing: push runs the job at once */
	nng_aio        *aio;     /* runs the jobs on nng's thread */
};

/* outbox_cb runs every queued job, until none is left. */
static void
outbox_cb(void *arg)
{
	cbd_outbox *o = arg;
	cbd_job    *list;

	for (;;) {
		pthread_mutex_lock(&o->mtx);
		list    = o->head;
		o->head = o->tail = NULL;
		if (list == NULL) {
			o->busy = 0;
		}
		pthread_mutex_unlock(&o->mtx);
		if (list == NULL) {
			return;
		}
		while (list != NULL) {
			cbd_job *job = list;
			list         = job->next;
			job->next    = NULL;
			job->fn(job);
		}
	}
}

cb_status
cbd_outbox_alloc(cbd_outbox **out)
{
	cbd_outbox *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	if (pthread_mutex_init(&o->mtx, NULL) != 0) {
		free(o);
		return CB_RESOURCE_EXHAUSTED;
	}
	if (nng_aio_alloc(&o->aio, outbox_cb, o) != 0) {
		pthread_mutex_destroy(&o->mtx);
		free(o);
		return CB_RESOURCE_EXHAUSTED;
	}
	*out = o;
	return CB_OK;
}

void
cbd_outbox_push(cbd_outbox *o, cbd_job *job)
{
	int start;

	job->next = NULL;
	pthread_mutex_lock(&o->mtx);
	if (o->stopped) {
		pthread_mutex_unlock(&o->mtx);
		job->fn(job); /* closing: the send fails at once */
		return;
	}
	if (o->head == NULL) {
		o->head = job;
	} else {
		o->tail->next = job;
	}
	o->tail = job;
	start   = !o->busy;
	o->busy = 1;
	pthread_mutex_unlock(&o->mtx);
	/* A stopped aio runs nothing: cbd_outbox_stop runs what is left. */
	if (start && nng_aio_begin(o->aio)) {
		nng_aio_finish(o->aio, 0);
	}
}

void
cbd_outbox_stop(cbd_outbox *o)
{
	if (o == NULL) {
		return;
	}
	nng_aio_stop(o->aio);
	pthread_mutex_lock(&o->mtx);
	o->stopped = 1;
	pthread_mutex_unlock(&o->mtx);
	outbox_cb(o); /* replies queued too late fail on send */
}

void
cbd_outbox_free(cbd_outbox *o)
{
	if (o == NULL) {
		return;
	}
	nng_aio_free(o->aio);
	pthread_mutex_destroy(&o->mtx);
	free(o);
}

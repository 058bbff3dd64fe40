/* SPDX-License-Identifier: MIT */
/* The echo server: the nng req/rep ceiling the broker is measured against. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "bench.h"

/*
 * The shape of nng's demo/async/server.c without its sleep: each context
 * is one aio running this loop on nng's threads.
 *
 *        +------+  recv done   +------+
 *   ---->| RECV |------------->| SEND |
 *        +------+<-------------+------+
 *           |       send done     |
 *           | closed              | closed
 *           v                     v
 *                   DONE
 *
 * The reply is the request message itself, unchanged.
 */

typedef struct echo_work {
	enum { ECHO_RECV, ECHO_SEND, ECHO_DONE } state; /* where the loop is */
	nng_aio *aio;     /* the context's only aio */
	nng_ctx  ctx;     /* its rep0 context */
	uint64_t replies; /* replies sent; only the callback touches it */
} echo_work;

static void
echo_cb(void *arg)
{
	echo_work *w = arg;
	nng_msg   *msg;
	int        rv;

	switch (w->state) {
	case ECHO_RECV:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
				w->state = ECHO_DONE;
				return;
			}
			/* A broken pipe or the like: serve the next one. */
			nng_ctx_recv(w->ctx, w->aio);
			return;
		}
		msg = nng_aio_get_msg(w->aio);
		nng_aio_set_msg(w->aio, msg);
		w->state = ECHO_SEND;
		nng_ctx_send(w->ctx, w->aio);
		return;
	case ECHO_SEND:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			/* The message is still ours: take it back from the
			 * aio (demo/async/server.c frees the wrong one). */
			nng_msg_free(nng_aio_get_msg(w->aio));
			nng_aio_set_msg(w->aio, NULL);
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
				w->state = ECHO_DONE;
				return;
			}
		} else {
			w->replies++;
		}
		w->state = ECHO_RECV;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	case ECHO_DONE:
		return;
	}
}

int
bench_echo_serve(const char *url, int ncontexts)
{
	nng_socket sock;
	echo_work *works = NULL;
	sigset_t   sigs;
	uint64_t   replies = 0;
	int        sig;
	int        rv;
	int        code   = 1;
	int        opened = 0;

	/* Block the stop signals before nng starts its threads, so that they
	 * inherit the mask and sigwait below is the only taker. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	if ((rv = pthread_sigmask(SIG_BLOCK, &sigs, NULL)) != 0) {
		fprintf(stderr, "echo-server: sigmask: %d\n", rv);
		return (1);
	}
	if ((rv = nng_rep0_open(&sock)) != 0) {
		fprintf(stderr, "echo-server: rep0: %s\n", nng_strerror(rv));
		return (1);
	}
	if ((works = calloc((size_t) ncontexts, sizeof(*works))) == NULL) {
		fprintf(stderr, "echo-server: out of memory\n");
		goto out;
	}
	for (opened = 0; opened < ncontexts; opened++) {
		echo_work *w = &works[opened];

		if ((rv = nng_aio_alloc(&w->aio, echo_cb, w)) != 0) {
			fprintf(stderr, "echo-server: aio: %s\n",
			    nng_strerror(rv));
			goto out;
		}
		if ((rv = nng_ctx_open(&w->ctx, sock)) != 0) {
			nng_aio_free(w->aio);
			fprintf(stderr, "echo-server: ctx: %s\n",
			    nng_strerror(rv));
			goto out;
		}
	}
	if ((rv = nng_listen(sock, url, NULL, 0)) != 0) {
		fprintf(stderr, "echo-server: listen %s: %s\n", url,
		    nng_strerror(rv));
		goto out;
	}
	for (int i = 0; i < ncontexts; i++) {
		works[i].state = ECHO_RECV;
		nng_ctx_recv(works[i].ctx, works[i].aio);
	}
	printf(
	    "echo-server listening on %s with %d contexts\n", url, ncontexts);
	(void) fflush(stdout);

	if ((rv = sigwait(&sigs, &sig)) != 0) {
		fprintf(stderr, "echo-server: sigwait: %d\n", rv);
		goto out;
	}
	code = 0;
out:
	/* Closing the socket completes every pending aio with ECLOSED; stop
	 * then waits for each callback to have returned. */
	(void) nng_close(sock);
	for (int i = 0; i < opened; i++) {
		nng_aio_stop(works[i].aio);
		replies += works[i].replies;
		nng_aio_free(works[i].aio);
	}
	free(works);
	if (code == 0) {
		fprintf(stderr, "echo-server: stopped after %llu replies\n",
		    (unsigned long long) replies);
	}
	return (code);
}

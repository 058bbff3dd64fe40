/* SPDX-License-Identifier: MIT */
/* The echo servers: the nng req/rep ceiling the broker is measured against. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "bench.h"

/* The raw server's queue depths, and the most requests it takes per
 * wake-up. */
#define RAW_ECHO_BATCH 1024

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

/*
 * The raw echo server: the other way to serve rep0. One thread owns a raw
 * rep0 socket and waits in poll(2) on NNG_OPT_RECVFD, the way an event
 * loop would drive it; each wake-up takes every request already queued
 * (non-blocking receives) and sends each one back, its backtrace header
 * unchanged, from the same thread. No callback of ours runs on nng's
 * threads. run.sh's rawecho row compares this with the contexts above.
 */
int
bench_raw_echo_serve(const char *url)
{
	nng_socket    sock;
	sigset_t      sigs;
	struct pollfd fds[2];
	uint64_t      replies = 0;
	int           rv;
	int           code = 1;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	if ((rv = pthread_sigmask(SIG_BLOCK, &sigs, NULL)) != 0) {
		fprintf(stderr, "raw-echo-server: sigmask: %d\n", rv);
		return (1);
	}
	fds[1].fd     = signalfd(-1, &sigs, SFD_CLOEXEC);
	fds[1].events = POLLIN;
	if (fds[1].fd < 0) {
		perror("raw-echo-server: signalfd");
		return (1);
	}
	if ((rv = nng_rep0_open_raw(&sock)) != 0) {
		fprintf(
		    stderr, "raw-echo-server: rep0: %s\n", nng_strerror(rv));
		close(fds[1].fd);
		return (1);
	}
	/* Deep queues both ways, so that nng never stalls a connection for
	 * want of room (the contexts server has 128 contexts). */
	if ((rv = nng_socket_set_int(sock, NNG_OPT_RECVBUF, RAW_ECHO_BATCH)) !=
	        0 ||
	    (rv = nng_socket_set_int(sock, NNG_OPT_SENDBUF, RAW_ECHO_BATCH)) !=
	        0 ||
	    (rv = nng_socket_get_int(sock, NNG_OPT_RECVFD, &fds[0].fd)) != 0) {
		fprintf(stderr, "raw-echo-server: options: %s\n",
		    nng_strerror(rv));
		goto out;
	}
	fds[0].events = POLLIN;
	if ((rv = nng_listen(sock, url, NULL, 0)) != 0) {
		fprintf(stderr, "raw-echo-server: listen %s: %s\n", url,
		    nng_strerror(rv));
		goto out;
	}
	printf("raw-echo-server listening on %s\n", url);
	(void) fflush(stdout);

	for (;;) {
		nng_msg *batch[RAW_ECHO_BATCH];
		int      n = 0;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			perror("raw-echo-server: poll");
			goto out;
		}
		if (fds[1].revents != 0) {
			break;
		}
		while (n < RAW_ECHO_BATCH &&
		    nng_recvmsg(sock, &batch[n], NNG_FLAG_NONBLOCK) == 0) {
			n++;
		}
		for (int i = 0; i < n; i++) {
			/* Blocking: a full send queue waits, never drops. */
			if (nng_sendmsg(sock, batch[i], 0) != 0) {
				nng_msg_free(batch[i]);
			} else {
				replies++;
			}
		}
	}
	code = 0;
out:
	(void) nng_close(sock);
	close(fds[1].fd);
	if (code == 0) {
		fprintf(stderr,
		    "raw-echo-server: stopped after %llu replies\n",
		    (unsigned long long) replies);
	}
	return (code);
}

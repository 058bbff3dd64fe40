/* SPDX-License-Identifier: MIT */
/* The server: owns everything, starts it, runs the loop, drains, stops. */
#ifndef CBD_SERVER_H
#define CBD_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <cachebroker/cachebroker.h>

#include "config.h"
#include "listener.h"
#include "loop.h"
#include "policy.h"
#include "request.h"
#include "sdnotify.h"
#include "stats.h"
#include "svc.h"

struct event_base;
struct event;
typedef struct cbd_outbox cbd_outbox;

#ifndef CBD_VERSION
#define CBD_VERSION "0.0.0"
#endif

/*
 * Threads:
 *  - the main thread runs the libevent loop: it owns the Redis pool, the
 *    dedupe table, the namespace counters, the policy in effect and the
 *    holds on it, and every request in WORK, and handles signals
 *    (libevent turns them into loop events; SIGHUP reloads);
 *  - nng's threads run the context callbacks: receive, decode, check,
 *    post to the loop, or answer bad input at once; they touch only their
 *    own request, the restart-only settings of cfg, the published limits
 *    and atomic counters. They never see a cbd_policy.
 *
 * The server is the only module that knows every other: it creates each
 * with the collaborators it needs (host for the request core, env for the
 * methods, a few pointers for the rest), and frees them in order.
 */
typedef struct cbd_server {
	cbd_config         cfg;      /* as started, immutable; see policy */
	struct event_base *base;     /* the backend loop */
	cbd_loop           loop;     /* inbox from nng's threads */
	cbd_outbox        *outbox;   /* replies for nng's threads */
	cbd_req_host       host;     /* what the requests share */
	cbd_env            env;      /* the modules, what the methods use */
	cbd_listener       ls;       /* rep0 socket, contexts */
	struct cbd_http   *http;     /* NULL: no HTTP endpoints */
	cbd_stats          stats;    /* see stats.h for threads */
	uint64_t           start_us; /* monotonic start time */
	uint64_t           drain_until_us; /* give up waiting then */
	struct event      *cron;           /* 100 ms housekeeping */
	struct event      *signals[3];     /* SIGTERM, SIGINT, SIGHUP */
	cbd_sdnotify       sd;             /* loop thread: systemd */
	/* cfg's restart-only settings (cbd_config_pin) are in effect for
	 * the server's life; everything else is host.policy's (a hold). */
	cbd_limits_pub limits; /* the policy's limits, for nng's threads */
	char           reload_note[64]; /* loop: last reload, STATUS= */
} cbd_server;

/*
 * cbd_server_open takes ownership of cfg (moved: the caller's copy is
 * emptied), creates the loop, the Redis pool and the listeners, and posts
 * every context's first receive. On failure everything is undone and the
 * error is logged. Main thread.
 */
CB_NODISCARD cb_status cbd_server_open(cbd_server **out, cbd_config *cfg);

/* cbd_server_run runs the loop until SIGTERM/SIGINT and the drain are
 * done; SIGHUP reloads the configuration file meanwhile (cbd_config_pin
 * says what a reload can change). Returns the process exit code (0).
 * Main thread. */
int cbd_server_run(cbd_server *srv);

/* cbd_server_close stops nng, the pool and the loop and frees all.
 * NULL-safe. Main thread, after cbd_server_run returned (or instead). */
void cbd_server_close(cbd_server *srv);

#endif /* CBD_SERVER_H */

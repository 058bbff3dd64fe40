/* SPDX-License-Identifier: MIT */
/* The HTTP endpoints: /metrics (Prometheus), /livez, /readyz. */
#ifndef CBD_HTTP_H
#define CBD_HTTP_H

#include <cachebroker/cachebroker.h>

typedef struct cbd_req_host cbd_req_host;
typedef struct cbd_http     cbd_http;

/*
 * nng's HTTP server, on [broker] http:
 *
 *   GET /livez    200 "ok" once the loop thread ran the request: a loop
 *                 that is stuck makes it hang, which a probe's timeout
 *                 turns into a failure
 *   GET /readyz   200 when Health says SERVING (Redis and, if configured,
 *                 the database reachable), 503 otherwise and while
 *                 draining; /healthz is the same
 *   GET /metrics  Health and Metrics in Prometheus' text format (prom.h)
 *
 *   nng HTTP thread                loop thread
 *   ---------------                -----------
 *   handler: closing? 503 ───────► (nothing)
 *   else cbd_loop_call(job) ─────► job: internal Health (and Metrics)
 *                                  request, as a client's would run
 *   response sent ◄── nng_aio_finish ── done: render, answer
 *
 * The loop thread builds every answer: the counters it reads are its
 * own. Internal requests do not count in the per-method statistics.
 */

/* cbd_http_open starts the server on addr ([broker] http; nothing when
 * empty); scrapes run as internal requests of host, and /readyz names
 * the database when has_db. A bad address or a port in use is logged and
 * fails the start. Main thread, before the loop runs. */
CB_NODISCARD cb_status cbd_http_open(
    cbd_http **out, const char *addr, cbd_req_host *host, int has_db);

/* cbd_http_quiesce makes the endpoints answer 503 at once from now on:
 * no scrape reaches the loop after it returns, so the loop's jobs run
 * next finish the last ones. At close, before the pools and the internal
 * requests go away. NULL-safe. */
void cbd_http_quiesce(cbd_http *h);

/* cbd_http_close stops the server (waiting for its connections) and
 * frees it; call cbd_http_quiesce first. NULL-safe. Main thread. */
void cbd_http_close(cbd_http *h);

#endif /* CBD_HTTP_H */

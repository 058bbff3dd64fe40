/* SPDX-License-Identifier: MIT */
/* The invalidation feed: a pub0 socket announcing applied invalidations. */
#ifndef CBD_FEED_H
#define CBD_FEED_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <cachebroker/cachebroker.h>

#include "config.h"

typedef struct cbd_ipcguard cbd_ipcguard;
typedef struct cbd_feed     cbd_feed;

/*
 * cbd_feed_open opens a pub0 socket and listens on cfg->feed (an IPC
 * socket file gets cfg->ipc_mode, a tls+tcp:// feed tls). With no feed
 * configured it succeeds and sets *out to NULL: every other function accepts
 * that. On success *out owns the socket (cbd_feed_close). nng errors are
 * logged here. Main thread, at start.
 */
CB_NODISCARD cb_status cbd_feed_open(
    cbd_feed **out, const cbd_config *cfg, nng_tls_config *tls);

/*
 * cbd_feed_publish sends inv as one feed message: its namespace, a NUL
 * byte, then inv packed. It never blocks: pub0 queues a bounded number of
 * messages per subscriber and drops the oldest when one falls behind. A
 * failure is logged and otherwise ignored (the invalidation itself is
 * done). NULL-safe in f. Borrows inv. Loop thread.
 */
void cbd_feed_publish(cbd_feed *f, const Cachebroker__V1__Invalidation *inv);

/* cbd_feed_guard puts the feed's listener under g's watch (ipcguard.h).
 * NULL-safe in f. Main thread, at start. */
CB_NODISCARD cb_status cbd_feed_guard(
    cbd_feed *f, cbd_ipcguard *g, const cbd_config *cfg);

/* cbd_feed_close closes the socket (and its connections) and frees f.
 * NULL-safe. Main thread, after the loop stopped. */
void cbd_feed_close(cbd_feed *f);

#endif /* CBD_FEED_H */

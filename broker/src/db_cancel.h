/* SPDX-License-Identifier: MIT */
/* The canceller: one thread that sends libpq's blocking cancel requests
 * for the database pool, so that the loop thread never waits on one. */
#ifndef CBD_DB_CANCEL_H
#define CBD_DB_CANCEL_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include <cachebroker/cachebroker.h>

struct event_base;
typedef struct cbd_db_canceller cbd_db_canceller;

/*
 * The cancel request of connection slot (as it was in generation gen)
 * was delivered (ok: the server accepted it and signalled the backend)
 * or not (err says why). Loop thread, from the canceller's wake-up.
 */
typedef void cbd_db_cancelled_fn(
    void *arg, size_t slot, uint64_t gen, int ok, const char *err);

/*
 * cbd_db_canceller_start starts the thread. At most max cancels are
 * outstanding at once (queued, being sent, or not yet reported): the pool
 * has one per connection. done runs on base's loop thread. Loop thread.
 */
CB_NODISCARD cb_status cbd_db_canceller_start(cbd_db_canceller **out,
    struct event_base *base, size_t max, cbd_db_cancelled_fn *done, void *arg);

/*
 * cbd_db_canceller_stop drops the cancels not yet sent, and waits up to a
 * second for the one being sent (libpq 15's PQcancel has no timeout of
 * its own: against a server that does not answer it can take the
 * kernel's connect timeout). A thread still sending then is left to
 * finish alone and free what it shares. done is not called again.
 * NULL-safe. Loop thread.
 */
void cbd_db_canceller_stop(cbd_db_canceller *c);

/*
 * cbd_db_canceller_post queues a cancel request for connection slot:
 * takes ownership of cancel (from PQgetCancel) on OK, and done will be
 * called once for it; RESOURCE_EXHAUSTED when max are outstanding (the
 * caller still owns cancel). Never blocks for long. Loop thread.
 */
CB_NODISCARD cb_status cbd_db_canceller_post(
    cbd_db_canceller *c, PGcancel *cancel, size_t slot, uint64_t gen);

#endif /* CBD_DB_CANCEL_H */

/* SPDX-License-Identifier: MIT */
/* The outbox: replies the loop finished, handed to nng's threads in
 * batches. */
#ifndef CBD_OUTBOX_H
#define CBD_OUTBOX_H

#include <nng/nng.h>

#include <cachebroker/cachebroker.h>

#include "loop.h"

/*
 *   loop thread                          one of nng's threads
 *   -----------                          --------------------
 *   lock; append job; busy? ; unlock
 *   if not busy: nng_aio_finish ───────► lock; take the list; unlock
 *                                        run each job (nng_ctx_send)
 *                                        ... until the list stays empty
 *
 * Replies finished together leave together: one hand-off to nng for the
 * whole batch, rather than one nng_ctx_send per reply from the loop, each
 * of which would wake one of nng's sleeping threads to complete it.
 */
typedef struct cbd_outbox cbd_outbox;

/* cbd_outbox_alloc makes an empty outbox. */
CB_NODISCARD cb_status cbd_outbox_alloc(cbd_outbox **out);

/* cbd_outbox_push queues job, whose fn runs on one of nng's threads
 * (or at close on the closing thread). Loop thread. */
void cbd_outbox_push(cbd_outbox *o, cbd_job *job);

/* cbd_outbox_stop stops the hand-off and runs what is queued on the
 * calling thread; what is pushed later runs at once. Main thread, at
 * close, before the socket closes. NULL-safe. */
void cbd_outbox_stop(cbd_outbox *o);

/* cbd_outbox_free frees a stopped outbox. NULL-safe. */
void cbd_outbox_free(cbd_outbox *o);

#endif /* CBD_OUTBOX_H */

/* SPDX-License-Identifier: MIT */
/* Dispatch: the step between the request core and a method. */
#ifndef CBD_DISPATCH_H
#define CBD_DISPATCH_H

typedef struct cbd_req cbd_req;

/*
 * cbd_dispatch is the server's dispatch step (request.h's host->dispatch,
 * arg the request_id table, dedupe.h): a mutating call with a request_id
 * seen before is answered with the first one's result (replayed, or once
 * the first one is answered; a repeat is parked on the entry meanwhile),
 * anything else runs its method. Loop thread, WORK.
 */
void cbd_dispatch(cbd_req *req, void *arg);

#endif /* CBD_DISPATCH_H */

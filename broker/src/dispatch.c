/* SPDX-License-Identifier: MIT */
/* Dispatch: request_id dedupe, then the method. */
#include "dispatch.h"

#include <stddef.h>

#include "dedupe.h"
#include "loop.h"
#include "request.h"

/* dispatch_unwait is a repeat's park cleanup: its deadline passed. */
static void
dispatch_unwait(cbd_req *req, void *arg)
{
	cbd_req_list_remove((cbd_req **) cbd_dedupe_waiters(arg), req);
}

/* dispatch_done is the first call's watcher: it records the outcome and
 * answers every repeat waiting on it with the same result. */
static void
dispatch_done(cbd_req *req, void *arg, cb_status code, const char *message,
    const void *payload, size_t len)
{
	cbd_dedupe_entry *e       = arg;
	void            **head    = cbd_dedupe_waiters(e);
	cbd_req          *waiters = *head;

	*head = NULL;
	/* The table is the dispatch step's argument. */
	cbd_dedupe_complete(
	    req->host->dispatch_arg, e, code, payload, len, cbd_now_us());
	while (waiters != NULL) {
		cbd_req *w = waiters;
		waiters    = w->next;
		w->next    = NULL;
		cbd_req_unpark(w);
		cbd_req_answer(w, code, message, payload, len);
	}
}

void
cbd_dispatch(cbd_req *req, void *arg)
{
	cbd_dedupe       *d = arg;
	cbd_dedupe_entry *e = NULL;
	const uint8_t    *stored;
	size_t            stored_len;
	void            **head;

	if (!req->method->mutating || req->env->request_id[0] == '\0') {
		req->method->run(req);
		return;
	}
	switch (cbd_dedupe_begin(d, req->method->id, req->env->request_id,
	    cbd_now_us(), &e, &stored, &stored_len)) {
	case CBD_DEDUPE_REPLAY:
		cbd_req_answer(req, CB_OK, NULL, stored, stored_len);
		return;
	case CBD_DEDUPE_WAIT:
		/* Answered with the first one's result. */
		head      = cbd_dedupe_waiters(e);
		req->next = *head;
		*head     = req;
		cbd_req_park(req, dispatch_unwait, e);
		return;
	case CBD_DEDUPE_NEW:
		cbd_req_watch(req, dispatch_done, e);
		break;
	default:
		break;
	}
	req->method->run(req);
}

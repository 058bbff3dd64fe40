/* SPDX-License-Identifier: MIT */
/* The typed calls, one per RPC, generated from CB_CLIENT_METHODS. */
#include "client.h"

/*
 * Each typed call checks req (so that &req->base is never taken of NULL)
 * and hands a local pointer to cb_client_call, which stores into *resp only
 * on OK, keeping the caller's pointer untouched on failure.
 */
/* NOLINTBEGIN(bugprone-macro-parentheses): REQ and RESP are types */
#define CB_DEFINE_CALL(suffix, svc, meth, REQ, RESP, rdesc)              \
	cb_status cb_##suffix(cb_client *c, const REQ *req, RESP **resp, \
	    const cb_callopts *opts, cb_result *res)                     \
	{                                                                \
		ProtobufCMessage *m = NULL;                              \
		cb_status         st;                                    \
                                                                         \
		if (req == NULL || resp == NULL) {                       \
			return cb_client_call(c,                         \
			    CB_METHOD_PREFIX svc "/" meth, NULL,         \
			    &rdesc##__descriptor, NULL, opts, res);      \
		}                                                        \
		st = cb_client_call(c, CB_METHOD_PREFIX svc "/" meth,    \
		    &req->base, &rdesc##__descriptor, &m, opts, res);    \
		if (st == CB_OK) {                                       \
			*resp = (RESP *) m;                              \
		}                                                        \
		return st;                                               \
	}
/* NOLINTEND(bugprone-macro-parentheses) */

CB_CLIENT_METHODS(CB_DEFINE_CALL)

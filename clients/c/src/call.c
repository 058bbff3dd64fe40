/* SPDX-License-Identifier: MIT */
/* One RPC: pack the envelope, exchange it on a pooled nng context, unpack. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "client.h"

/*
 *   cb_client_call
 *     |  envelope_pack     req -> payload -> Request -> nng_msg
 *     |                    (too big: RESOURCE_EXHAUSTED, nothing sent)
 *     |  call_exchange     send, recv on a pooled context
 *     |                    (send timeout: UNAVAILABLE, the request never
 *     |                     left; recv timeout: DEADLINE_EXCEEDED)
 *     |  reply_unpack      Response -> status; payload -> *resp
 *     v
 *   cb_status, *resp (OK only), res
 */

static void result_set(cb_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
result_set(cb_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res == NULL) {
		return;
	}
	va_start(ap, fmt);
	(void) vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

static void
result_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		n = size - 1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * ipc_refusal says why an ipc:// URL got no connection when the socket
 * file is what refuses it: nng 1.5 redials in the background and keeps
 * the error of each attempt to itself, so the client checks the path the
 * way connect(2) does (search on every directory, write on the socket,
 * effective ids). Returns NULL when the file looks usable (no broker
 * behind it, or not yet).
 */
static const char *
ipc_refusal(const char *url)
{
	static const char prefix[] = "ipc://";

	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0) {
		return NULL;
	}
	if (faccessat(AT_FDCWD, url + sizeof(prefix) - 1, W_OK, AT_EACCESS) ==
	    0) {
		return NULL;
	}
	switch (errno) {
	case EACCES:
	case EPERM:
		return "permission denied";
	case ENOENT:
		return "no such socket file";
	default:
		return NULL;
	}
}

/*
 * nng_status translates an nng error once, here. phase says which half of
 * the exchange failed, because a timeout means different things in each:
 * while sending, no connection to a broker was ready, so the request was
 * never delivered and retrying is safe (UNAVAILABLE); while receiving, the
 * broker has it and did not answer in time (DEADLINE_EXCEEDED).
 */
static cb_status
nng_status(cb_client *c, int rv, const char *phase, uint32_t timeout_ms,
    cb_result *res)
{
	bool sending = strcmp(phase, "send") == 0;

	switch (rv) {
	case NNG_ETIMEDOUT:
		if (sending) {
			const char *why = ipc_refusal(c->url);

			result_set(res, "no connection to %s within %u ms%s%s",
			    c->url, (unsigned) timeout_ms,
			    why != NULL ? ": " : "", why != NULL ? why : "");
			return CB_UNAVAILABLE;
		}
		result_set(
		    res, "no reply within %u ms", (unsigned) timeout_ms);
		return CB_DEADLINE_EXCEEDED;
	case NNG_ECLOSED:
		if (cbc_client_is_closing(c)) {
			result_set(res, "client closed");
			return CB_CANCELLED;
		}
		break;
	case NNG_ECANCELED:
		result_set(res, "%s: %s", phase, nng_strerror(rv));
		return CB_CANCELLED;
	case NNG_ENOMEM:
		result_set(res, "%s: %s", phase, nng_strerror(rv));
		return CB_RESOURCE_EXHAUSTED;
	case NNG_EINVAL:
	case NNG_ESTATE:
	case NNG_ENOTSUP:
		result_set(res, "%s: %s", phase, nng_strerror(rv));
		return CB_INTERNAL;
	default:
		break;
	}
	/* Connection refused, reset or shut, closed socket, I/O errors,
	 * TLS or peer failures: the broker cannot be reached. */
	result_set(res, "%s: %s", phase, nng_strerror(rv));
	return CB_UNAVAILABLE;
}

static cb_status
too_big(cb_result *res, size_t size, size_t limit)
{
	result_set(res, "request of %zu bytes exceeds the limit of %zu bytes",
	    size, limit);
	return CB_RESOURCE_EXHAUSTED;
}

/*
 * envelope_pack serializes req into a Request envelope in a new nng
 * message. On OK, *msgp owns it. Nothing is allocated for a request that
 * exceeds the client's max_message.
 */
static cb_status
envelope_pack(cb_client *c, const char *method, const ProtobufCMessage *req,
    uint32_t timeout_ms, const cb_callopts *opts, nng_msg **msgp,
    cb_result *res)
{
	Cachebroker__V1__Request env = CACHEBROKER__V1__REQUEST__INIT;
	char                     id[CB_REQUEST_ID_LEN + 1];
	uint8_t                 *payload = NULL;
	nng_msg                 *msg     = NULL;
	size_t                   plen, elen;
	cb_status                st;

	plen = protobuf_c_message_get_packed_size(req);
	if (plen > c->max_message) {
		st = too_big(res, plen, c->max_message);
		goto out;
	}
	if ((payload = malloc(plen > 0 ? plen : 1)) == NULL) {
		result_set(res, "out of memory packing %zu bytes", plen);
		st = CB_RESOURCE_EXHAUSTED;
		goto out;
	}
	(void) protobuf_c_message_pack(req, payload);

	if (opts != NULL && opts->request_id != NULL) {
		env.request_id = (char *) opts->request_id;
	} else {
		cbc_request_id_fill(id);
		env.request_id = id;
	}
	env.method       = (char *) method;
	env.payload.data = payload;
	env.payload.len  = plen;
	env.deadline_ms  = timeout_ms;

	elen = cachebroker__v1__request__get_packed_size(&env);
	if (elen > c->max_message) {
		st = too_big(res, elen, c->max_message);
		goto out;
	}
	if (nng_msg_alloc(&msg, elen) != 0) {
		result_set(res, "out of memory packing %zu bytes", elen);
		st = CB_RESOURCE_EXHAUSTED;
		goto out;
	}
	(void) cachebroker__v1__request__pack(&env, nng_msg_body(msg));
	*msgp = msg;
	st    = CB_OK;

out:
	free(payload);
	return st;
}

/*
 * call_exchange sends *msgp on a context of its own and waits for the
 * reply, never past timeout_ms in total. On OK, *msgp is the reply. In
 * every case the caller frees whatever *msgp holds afterwards (the request
 * if it never reached nng, the reply, or NULL).
 */
static cb_status
call_exchange(
    cb_client *c, uint32_t timeout_ms, nng_msg **msgp, cb_result *res)
{
	cbc_slot *slot = NULL;
	nng_ctx   ctx;
	nng_aio  *aio;
	nng_time  deadline;
	nng_time  now;
	cb_status st;
	int       rv;

	deadline = nng_clock() + timeout_ms;
	if ((rv = cbc_slot_get(c, &slot)) != 0) {
		st = nng_status(c, rv, "open", timeout_ms, res);
		goto out;
	}
	ctx = slot->ctx;
	aio = slot->aio;
	/* The resend timer must not fire within the call: nng would send
	 * the request again behind the caller's back, and the broker would
	 * have to discard the copy. A lost connection still makes nng
	 * resend on the next one; the request id makes that safe. A reused
	 * context drops whatever its last call left unanswered when it
	 * sends. */
	if ((rv = nng_ctx_set_ms(ctx, NNG_OPT_REQ_RESENDTIME,
	         (nng_duration) timeout_ms + CB_RESEND_SLACK_MS)) != 0) {
		st = nng_status(c, rv, "setopt", timeout_ms, res);
		goto out;
	}

	/* Each operation gets its timeout on the aio itself. The context's
	 * NNG_OPT_SENDTIMEO/RECVTIMEO would not do: nng 1.5 copies them
	 * into an aio only while the aio's timeout is still
	 * NNG_DURATION_DEFAULT, i.e. on its first operation, and a pooled
	 * aio would keep the deadline of the call that first used it. */
	nng_aio_set_timeout(aio, (nng_duration) timeout_ms);
	nng_aio_set_msg(aio, *msgp);
	*msgp = NULL;
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		/* On failure the message is still ours, back on the aio. */
		if (nng_aio_get_msg(aio) != NULL) {
			nng_msg_free(nng_aio_get_msg(aio));
			nng_aio_set_msg(aio, NULL);
		}
		st = nng_status(c, rv, "send", timeout_ms, res);
		goto out;
	}

	/* What is left of the budget is the receive timeout. */
	now = nng_clock();
	if (now >= deadline) {
		st = nng_status(c, NNG_ETIMEDOUT, "recv", timeout_ms, res);
		goto out;
	}
	nng_aio_set_timeout(aio, (nng_duration) (deadline - now));
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		st = nng_status(c, rv, "recv", timeout_ms, res);
		goto out;
	}
	*msgp = nng_aio_get_msg(aio);
	nng_aio_set_msg(aio, NULL);
	st = CB_OK;

out:
	if (slot != NULL) {
		cbc_slot_put(c, slot);
	}
	return st;
}

/*
 * reply_unpack decodes a Response. On OK, *out is the method's response,
 * owned by the caller; for a non-OK status, that status is returned with
 * its message in res.
 */
static cb_status
reply_unpack(nng_msg *msg, const ProtobufCMessageDescriptor *resp_desc,
    ProtobufCMessage **out, cb_result *res)
{
	Cachebroker__V1__Response *reply;
	ProtobufCMessage          *m;
	cb_status                  st;
	int32_t                    code;
	size_t                     i;

	reply = cachebroker__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	if (reply == NULL) {
		result_set(res, "undecodable reply envelope (%zu bytes)",
		    nng_msg_len(msg));
		st = CB_INTERNAL;
		goto out;
	}
	for (i = 0; i < reply->n_metadata && res != NULL; i++) {
		if (strcmp(reply->metadata[i]->key, "x-cache") == 0) {
			result_copy(res->x_cache, sizeof(res->x_cache),
			    reply->metadata[i]->value);
		}
	}

	code = reply->status != NULL ? reply->status->code : 0;
	if (code != 0) {
		if (code > 0 && code <= CB_STATUS_MAX) {
			st = (cb_status) code;
			result_set(res, "%s", reply->status->message);
		} else {
			st = CB_UNKNOWN;
			result_set(res, "status code %d: %s", (int) code,
			    reply->status->message);
		}
		goto out;
	}

	m = protobuf_c_message_unpack(
	    resp_desc, NULL, reply->payload.len, reply->payload.data);
	if (m == NULL) {
		result_set(res, "undecodable %s (%zu bytes)", resp_desc->name,
		    reply->payload.len);
		st = CB_INTERNAL;
		goto out;
	}
	*out = m;
	st   = CB_OK;

out:
	if (reply != NULL) {
		cachebroker__v1__response__free_unpacked(reply, NULL);
	}
	return st;
}

cb_status
cb_client_call(cb_client *c, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
    const cb_callopts *opts, cb_result *res)
{
	ProtobufCMessage *out     = NULL;
	nng_msg          *msg     = NULL;
	bool              entered = false;
	uint32_t          timeout_ms;
	cb_status         st;

	if (res != NULL) {
		memset(res, 0, sizeof(*res));
	}
	if (c == NULL || method == NULL || req == NULL || resp_desc == NULL ||
	    resp == NULL) {
		result_set(res, "NULL client, method, request or response");
		st = CB_INVALID_ARGUMENT;
		goto out;
	}
	if (!cbc_client_enter(c)) {
		result_set(res, "client closed");
		st = CB_CANCELLED;
		goto out;
	}
	entered = true;

	timeout_ms = c->timeout_ms;
	if (opts != NULL && opts->timeout_ms != 0) {
		timeout_ms = opts->timeout_ms;
		if (timeout_ms > (uint32_t) INT32_MAX - CB_RESEND_SLACK_MS) {
			timeout_ms = (uint32_t) INT32_MAX - CB_RESEND_SLACK_MS;
		}
	}

	st = envelope_pack(c, method, req, timeout_ms, opts, &msg, res);
	if (st != CB_OK) {
		goto out;
	}
	if ((st = call_exchange(c, timeout_ms, &msg, res)) != CB_OK) {
		goto out;
	}
	if ((st = reply_unpack(msg, resp_desc, &out, res)) != CB_OK) {
		goto out;
	}
	*resp = out;

out:
	if (msg != NULL) {
		nng_msg_free(msg);
	}
	if (entered) {
		cbc_client_leave(c);
	}
	if (res != NULL) {
		res->code = st;
	}
	return st;
}

/* SPDX-License-Identifier: MIT */
/* Raw nng req0 calls, for envelopes the client library would never send. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"

int
cbh_raw_open(nng_socket *s, const char *url, int timeout_ms)
{
	nng_socket sock;
	int        rv;

	if ((rv = nng_req0_open(&sock)) != 0) {
		cbh_log("nng_req0_open: %s", nng_strerror(rv));
		return (-1);
	}
	if ((rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, timeout_ms)) !=
	        0 ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, timeout_ms)) !=
	        0 ||
	    (rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 0)) != 0) {
		cbh_log("nng options: %s", nng_strerror(rv));
		nng_close(sock);
		return (-1);
	}
	/* In the background: the first send waits for the connection. */
	if ((rv = nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		cbh_log("nng_dial %s: %s", url, nng_strerror(rv));
		nng_close(sock);
		return (-1);
	}
	*s = sock;
	return (0);
}

int
cbh_raw_call(nng_socket s, const void *buf, size_t len,
    Cachebroker__V1__Response **resp)
{
	nng_msg                   *msg;
	Cachebroker__V1__Response *r;
	int                        rv;

	if ((rv = nng_msg_alloc(&msg, 0)) != 0 ||
	    (rv = nng_msg_append(msg, buf, len)) != 0) {
		cbh_log("nng_msg: %s", nng_strerror(rv));
		return (-1);
	}
	if ((rv = nng_sendmsg(s, msg, 0)) != 0) {
		nng_msg_free(msg);
		cbh_log("send %zu bytes: %s", len, nng_strerror(rv));
		return (-1);
	}
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0) {
		cbh_log("no reply to %zu bytes: %s", len, nng_strerror(rv));
		return (-1);
	}
	r = cachebroker__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	if (r == NULL) {
		cbh_log("the reply (%zu bytes) is not a Response",
		    nng_msg_len(msg));
		nng_msg_free(msg);
		return (-1);
	}
	nng_msg_free(msg);
	*resp = r;
	return (0);
}

int
cbh_raw_pack(const char *method, const ProtobufCMessage *msg,
    uint32_t deadline_ms, const char *request_id, uint8_t **buf, size_t *len)
{
	Cachebroker__V1__Request env     = CACHEBROKER__V1__REQUEST__INIT;
	uint8_t                 *payload = NULL;
	uint8_t                 *out;
	size_t                   n;

	if (msg != NULL) {
		n = protobuf_c_message_get_packed_size(msg);
		if ((payload = malloc(n > 0 ? n : 1)) == NULL) {
			cbh_log("out of memory");
			return (-1);
		}
		env.payload.len  = protobuf_c_message_pack(msg, payload);
		env.payload.data = payload;
	}
	env.method      = (char *) method;
	env.deadline_ms = deadline_ms;
	if (request_id != NULL) {
		env.request_id = (char *) request_id;
	}
	n = cachebroker__v1__request__get_packed_size(&env);
	if ((out = malloc(n > 0 ? n : 1)) == NULL) {
		free(payload);
		cbh_log("out of memory");
		return (-1);
	}
	*len = cachebroker__v1__request__pack(&env, out);
	*buf = out;
	free(payload);
	return (0);
}

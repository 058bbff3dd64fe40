/* SPDX-License-Identifier: MIT */
/* The envelopes the benchmarks pack themselves; unpacking the replies. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cachebroker/cachebroker.h>
#include <cachebroker/v1/envelope.pb-c.h>

#include "bench.h"

/* Deadline the envelopes carry: libcachebroker's default timeout. */
#define ENVELOPE_DEADLINE_MS 5000

/* Big enough for any envelope of sane names and keys. */
#define ENVELOPE_MAX 1024

int
bench_envelope_pack(nng_msg **out, const char *method,
    const ProtobufCMessage *payload, uint64_t seq, uint64_t tag)
{
	Cachebroker__V1__Request env = CACHEBROKER__V1__REQUEST__INIT;
	uint8_t                  body[ENVELOPE_MAX];
	uint8_t                  buf[ENVELOPE_MAX];
	char                     id[BENCH_REQUEST_ID_LEN + 1];
	size_t                   len;
	nng_msg                 *msg;
	int                      rv;

	if (protobuf_c_message_get_packed_size(payload) > sizeof(body)) {
		return (NNG_EMSGSIZE);
	}
	env.method       = (char *) method;
	env.payload.data = body;
	env.payload.len  = protobuf_c_message_pack(payload, body);
	env.deadline_ms  = ENVELOPE_DEADLINE_MS;
	/* Unique per call like libcachebroker's, and just as long. */
	(void) snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, seq, tag);
	env.request_id = id;
	if (cachebroker__v1__request__get_packed_size(&env) > sizeof(buf)) {
		return (NNG_EMSGSIZE);
	}
	len = cachebroker__v1__request__pack(&env, buf);
	if ((rv = nng_msg_alloc(&msg, 0)) != 0) {
		return (rv);
	}
	if ((rv = nng_msg_append(msg, buf, len)) != 0) {
		nng_msg_free(msg);
		return (rv);
	}
	*out = msg;
	return (0);
}

int
bench_envelope_unpack(const void *body, size_t len,
    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, char *err,
    size_t errlen)
{
	Cachebroker__V1__Response *resp;
	ProtobufCMessage          *m  = NULL;
	int                        rv = -1;

	resp = cachebroker__v1__response__unpack(NULL, len, body);
	if (resp == NULL) {
		(void) snprintf(err, errlen, "undecodable Response");
		return (-1);
	}
	if (resp->status != NULL && resp->status->code != 0) {
		(void) snprintf(err, errlen, "status %s: %s",
		    cb_status_str((int) resp->status->code),
		    resp->status->message ? resp->status->message : "");
		goto out;
	}
	m = protobuf_c_message_unpack(
	    desc, NULL, resp->payload.len, resp->payload.data);
	if (m == NULL) {
		(void) snprintf(err, errlen, "undecodable %s", desc->name);
		goto out;
	}
	*out = m;
	rv   = 0;
out:
	cachebroker__v1__response__free_unpacked(resp, NULL);
	return (rv);
}

/* SPDX-License-Identifier: MIT */
/* The wire envelope: decoding Requests and packing Responses. */
#include "envelope.h"

#include <stdio.h>
#include <string.h>

#include "wire.h"

cb_status
cbd_envelope_decode(const void *buf, size_t len,
    Cachebroker__V1__Request **out, char *why, size_t whylen)
{
	Cachebroker__V1__Request *env;

	env = cachebroker__v1__request__unpack(NULL, len, buf);
	if (env == NULL) {
		snprintf(why, whylen,
		    "request is not a cachebroker.v1.Request message");
		return CB_INVALID_ARGUMENT;
	}
	/* The method, request_id and metadata: protobuf-c would have cut
	 * them at a NUL (the method "…/ResetStats\0x" ran ResetStats). */
	if (cbd_wire_check(&cachebroker__v1__request__descriptor, buf, len,
	        "request", why, whylen) != CB_OK) {
		cachebroker__v1__request__free_unpacked(env, NULL);
		return CB_INVALID_ARGUMENT;
	}
	if (env->method == NULL || env->method[0] == '\0') {
		cachebroker__v1__request__free_unpacked(env, NULL);
		snprintf(why, whylen, "request names no method");
		return CB_INVALID_ARGUMENT;
	}
	*out = env;
	return CB_OK;
}

void
cbd_envelope_free(Cachebroker__V1__Request *env)
{
	if (env != NULL) {
		cachebroker__v1__request__free_unpacked(env, NULL);
	}
}

cb_status
cbd_envelope_pack(nng_msg **out, cb_status code, const char *message,
    const void *payload, size_t plen, const char *x_cache)
{
	Cachebroker__V1__Response rsp = CACHEBROKER__V1__RESPONSE__INIT;
	Cachebroker__V1__Status   st  = CACHEBROKER__V1__STATUS__INIT;
	Cachebroker__V1__Response__MetadataEntry md =
	    CACHEBROKER__V1__RESPONSE__METADATA_ENTRY__INIT;
	Cachebroker__V1__Response__MetadataEntry *mdp[1] = { &md };
	nng_msg                                  *msg;
	size_t                                    size;

	st.code    = (int32_t) code;
	st.message = (char *) (message != NULL ? message : "");
	rsp.status = &st;
	if (code == CB_OK && plen > 0) {
		rsp.payload.data = (uint8_t *) payload;
		rsp.payload.len  = plen;
	}
	if (x_cache != NULL) {
		md.key         = "x-cache";
		md.value       = (char *) x_cache;
		rsp.n_metadata = 1;
		rsp.metadata   = mdp;
	}
	size = cachebroker__v1__response__get_packed_size(&rsp);
	if (nng_msg_alloc(&msg, size) != 0) {
		return CB_RESOURCE_EXHAUSTED;
	}
	cachebroker__v1__response__pack(&rsp, nng_msg_body(msg));
	*out = msg;
	return CB_OK;
}

void
cbd_envelope_method_printable(char *dst, size_t cap, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < cap && name[i] != '\0'; i++) {
		unsigned char c = (unsigned char) name[i];
		dst[i]          = (char) ((c < 0x20 || c >= 0x7f) ? '?' : c);
	}
	dst[i] = '\0';
}

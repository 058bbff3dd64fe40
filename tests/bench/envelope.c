/* SPDX-License-Identifier: MIT */
/* The Get envelope the benchmark sends itself, and the check of its reply. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cachebroker/v1/cache.pb-c.h>
#include <cachebroker/v1/envelope.pb-c.h>

#include "bench.h"

/* Deadline the envelopes carry: libcachebroker's default timeout. */
#define ENVELOPE_DEADLINE_MS 5000

/* Big enough for any envelope of a sane namespace and key. */
#define ENVELOPE_MAX 1024

int
bench_envelope_get(
    nng_msg **out, const char *ns, const char *key, uint64_t seq)
{
	Cachebroker__V1__GetRequest get = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__Request    env = CACHEBROKER__V1__REQUEST__INIT;
	uint8_t                     payload[ENVELOPE_MAX];
	uint8_t                     buf[ENVELOPE_MAX];
	char                        id[BENCH_REQUEST_ID_LEN + 1];
	size_t                      len;
	nng_msg                    *msg;
	int                         rv;

	get.namespace_ = (char *) ns;
	get.key        = (char *) key;
	if (cachebroker__v1__get_request__get_packed_size(&get) >
	    sizeof(payload)) {
		return (NNG_EMSGSIZE);
	}
	env.method       = BENCH_GET_METHOD;
	env.payload.data = payload;
	env.payload.len  = cachebroker__v1__get_request__pack(&get, payload);
	env.deadline_ms  = ENVELOPE_DEADLINE_MS;
	/* Unique per call like libcachebroker's, and just as long. */
	(void) snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, seq,
	    (uint64_t) 0xcb0bead5u);
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
bench_envelope_check_get(
    const void *body, size_t len, size_t value_size, char *err, size_t errlen)
{
	Cachebroker__V1__Response    *resp;
	Cachebroker__V1__GetResponse *get = NULL;
	int                           rv  = -1;

	resp = cachebroker__v1__response__unpack(NULL, len, body);
	if (resp == NULL) {
		(void) snprintf(err, errlen, "undecodable Response");
		return (-1);
	}
	if (resp->status != NULL && resp->status->code != 0) {
		(void) snprintf(err, errlen, "status %d: %s",
		    (int) resp->status->code,
		    resp->status->message ? resp->status->message : "");
		goto out;
	}
	get = cachebroker__v1__get_response__unpack(
	    NULL, resp->payload.len, resp->payload.data);
	if (get == NULL) {
		(void) snprintf(err, errlen, "undecodable GetResponse");
		goto out;
	}
	if (!get->found) {
		(void) snprintf(err, errlen, "miss: the key is not set");
		goto out;
	}
	if (get->value.len != value_size) {
		(void) snprintf(err, errlen, "value of %zu bytes, not %zu",
		    get->value.len, value_size);
		goto out;
	}
	rv = 0;
out:
	if (get != NULL) {
		cachebroker__v1__get_response__free_unpacked(get, NULL);
	}
	cachebroker__v1__response__free_unpacked(resp, NULL);
	return (rv);
}

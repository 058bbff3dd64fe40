/* SPDX-License-Identifier: MIT */
/* The wire envelope: decoding Requests and packing Responses. */
#ifndef CBD_ENVELOPE_H
#define CBD_ENVELOPE_H

#include <stddef.h>

#include <nng/nng.h>

#include <cachebroker/cachebroker.h>

/*
 * cbd_envelope_decode unpacks a Request from buf. On success *out is owned
 * by the caller (free with cbd_envelope_free). An undecodable buffer, a
 * string field with a NUL or bytes that are not UTF-8 (cbd_wire_check) or
 * a Request without a method gives INVALID_ARGUMENT with a reason. Any
 * thread.
 */
CB_NODISCARD cb_status cbd_envelope_decode(const void *buf, size_t len,
    Cachebroker__V1__Request **out, char *why, size_t whylen);

/* cbd_envelope_free frees a decoded Request. NULL-safe. */
void cbd_envelope_free(Cachebroker__V1__Request *env);

/*
 * cbd_envelope_pack builds a Response with code, message (NULL: none),
 * payload (only sent with CB_OK) and an optional "x-cache" value into a new
 * nng message *out, owned by the caller. Returns RESOURCE_EXHAUSTED when
 * out of memory. Any thread.
 */
CB_NODISCARD cb_status cbd_envelope_pack(nng_msg **out, cb_status code,
    const char *message, const void *payload, size_t plen,
    const char *x_cache);

/* cbd_envelope_method_printable copies a method name for messages and
 * logs: at most cap - 1 bytes, control characters replaced by '?'. */
void cbd_envelope_method_printable(char *dst, size_t cap, const char *name);

#endif /* CBD_ENVELOPE_H */

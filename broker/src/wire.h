/* SPDX-License-Identifier: MIT */
/* Strings on the wire: every string field of a packed message is UTF-8
 * without NUL bytes, checked against the message's descriptor. */
#ifndef CBD_WIRE_H
#define CBD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

/* What cbd_wire_utf8 finds. */
enum cbd_wire_text {
	CBD_WIRE_TEXT_OK,  /* UTF-8, no NUL */
	CBD_WIRE_TEXT_NUL, /* a 0x00 byte */
	CBD_WIRE_TEXT_BAD, /* not UTF-8 (RFC 3629) */
};

/*
 * cbd_wire_utf8 checks n bytes at s: UTF-8 as RFC 3629 has it (no
 * overlong forms, no surrogates, nothing past U+10FFFF) and no NUL. On a
 * problem *at (optional) is the offset of the first byte of the offending
 * sequence. Pure; any thread.
 */
enum cbd_wire_text cbd_wire_utf8(const uint8_t *s, size_t n, size_t *at);

/*
 * cbd_wire_check walks the packed message buf (len bytes) of type desc
 * and checks every string field with cbd_wire_utf8, in nested messages,
 * repeated fields and maps too; bytes fields and unknown fields are left
 * alone. protobuf-c (1.4) hands strings over NUL-terminated and does not
 * look at their encoding: a NUL inside one would silently cut it short
 * after this broker checked it. What names the message in the reason
 * ("payload"): "payload field params.value: NUL byte at byte 2". Bytes
 * that are no protobuf message give INVALID_ARGUMENT too. Pure; any
 * thread.
 */
CB_NODISCARD cb_status cbd_wire_check(const ProtobufCMessageDescriptor *desc,
    const uint8_t *buf, size_t len, const char *what, char *why,
    size_t whylen);

#endif /* CBD_WIRE_H */

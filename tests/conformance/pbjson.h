/* SPDX-License-Identifier: MIT */
/* Any protobuf-c message to and from proto3 JSON, through its descriptor. */
#ifndef CB_CONFORMANCE_PBJSON_H
#define CB_CONFORMANCE_PBJSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>

/*
 * The conformance runner reads requests and renders responses of every
 * method without knowing their types: the generated descriptors say
 * where each field lives in the C struct (offset), how many a repeated
 * one holds (quantifier_offset), and what it is.
 *
 *   JSON object ──pbjson_to_message──► ProtobufCMessage (heap, malloc)
 *   ProtobufCMessage ──pbjson_from_message──► JSON object (defaults in)
 *
 * The JSON side is the proto3 JSON mapping with the .proto field names:
 * 64-bit integers as numbers or decimal strings (rendered as strings),
 * bytes as standard padded base64, enums by name, map fields as objects.
 * Requests may also use the vector file's two placeholders
 * (tests/conformance/README.md): {"$repeat": [s, n]} for a string or
 * bytes field, and {"$now_plus_s": n} for an integer field.
 *
 * Nothing here is thread-safe; nothing keeps state between calls.
 */

/*
 * pbjson_to_message builds a message of type desc from the JSON object in
 * (NULL: the empty message). On success it returns 0 and *out is a heap
 * message the caller frees with protobuf_c_message_free_unpacked(*out,
 * NULL). On failure it returns -1, writes why (naming the field), and
 * leaves *out untouched: an unknown field, a value of the wrong JSON type
 * or out of the field's range, bad base64, an unknown enum name.
 */
int pbjson_to_message(const ProtobufCMessageDescriptor *desc, json_object *in,
    ProtobufCMessage **out, char *why, size_t whylen);

/*
 * pbjson_from_message renders msg as a JSON object in which every field
 * appears, with its default value when unset (empty repeated fields as
 * [], maps as {}), except unset message fields and unset fields with
 * presence (proto3 optional, oneof members), which are left out. The
 * caller owns the result (json_object_put); NULL when out of memory.
 */
json_object *pbjson_from_message(const ProtobufCMessage *msg);

/*
 * pbjson_base64_decode decodes standard or URL-safe base64, padded or
 * not. On success *out is a heap buffer (never NULL, even when empty)
 * that the caller frees, *len its length.
 */
int pbjson_base64_decode(const char *s, uint8_t **out, size_t *len);

/* pbjson_base64_encode returns standard padded base64 of data, on the
 * heap (caller frees), or NULL when out of memory. */
char *pbjson_base64_encode(const uint8_t *data, size_t len);

#endif /* CB_CONFORMANCE_PBJSON_H */

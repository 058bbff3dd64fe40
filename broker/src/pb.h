/* SPDX-License-Identifier: MIT */
/* Filling protobuf-c messages by hand: setting their string fields. */
#ifndef CBD_PB_H
#define CBD_PB_H

#include <stddef.h>

/*
 * A message the broker builds itself (made with its _init function or
 * protobuf_c_message_init, freed with protobuf_c_message_free_unpacked)
 * starts with every string field pointing at protobuf-c's static
 * protobuf_c_empty_string. free_unpacked knows to skip it; free() does
 * not: freeing that default is an invalid free that aborts the process.
 * So the string fields of such messages are set only through these, never
 * by strdup and free of their own.
 */

/*
 * cbd_pb_str_set makes *field a heap copy of s (NULL: ""), and frees what
 * *field held unless that is NULL or protobuf-c's static default. On out
 * of memory it returns -1 and leaves *field untouched; 0 otherwise. The
 * message owns the copy. Any thread (the caller owns the message).
 */
int cbd_pb_str_set(char **field, const char *s);

/* cbd_pb_str_setn is cbd_pb_str_set of the len bytes at s (not
 * NUL-terminated), with a NUL added. */
int cbd_pb_str_setn(char **field, const char *s, size_t len);

#endif /* CBD_PB_H */

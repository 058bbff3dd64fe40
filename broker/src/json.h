/* SPDX-License-Identifier: MIT */
/* The one JSON shape the broker reads: a notification's payload. */
#ifndef CBD_JSON_H
#define CBD_JSON_H

#include <stddef.h>

#include <cachebroker/cachebroker.h>

/*
 * cbd_json_event parses text (len bytes) of the form
 *
 *   {"event": "users.updated", "params": {"user_id": 42, "kind": "x"}}
 *
 * ("params" optional; its values strings, numbers or booleans, given as
 * their text) into *event and up to max (names[i], vals[i]) pairs, *n of
 * them. The strings are written, unescaped and NUL-terminated, into out
 * (cap bytes; len + 1 always suffices). Anything else (other fields,
 * nesting, null, duplicate names, \u0000, bad UTF-16 escapes, trailing
 * text) gives INVALID_ARGUMENT with a reason in why. Pure; any thread.
 */
CB_NODISCARD cb_status cbd_json_event(const char *text, size_t len, char *out,
    size_t cap, const char **event, const char **names, const char **vals,
    size_t max, size_t *n, char *why, size_t whylen);

#endif /* CBD_JSON_H */

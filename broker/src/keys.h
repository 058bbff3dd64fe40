/* SPDX-License-Identifier: MIT */
/* Key rules: namespaces, keys and patterns, and the Redis names built
 * from them ("[prefix]<namespace>:<key>"). */
#ifndef CBD_KEYS_H
#define CBD_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

#define CBD_MAX_NAMESPACE 64

/*
 * cbd_keys_check_namespace accepts [a-z][a-z0-9_-]* of at most
 * CBD_MAX_NAMESPACE bytes. On failure returns INVALID_ARGUMENT and writes a
 * short reason into why. Pure; any thread.
 */
CB_NODISCARD cb_status cbd_keys_check_namespace(
    const char *ns, char *why, size_t whylen);

/*
 * cbd_keys_check_key accepts a non-empty key of at most max bytes with no
 * control characters, spaces or glob characters (* ? [ ] \). Too long gives
 * RESOURCE_EXHAUSTED, anything else INVALID_ARGUMENT, with a reason.
 */
CB_NODISCARD cb_status cbd_keys_check_key(
    const char *key, size_t max, char *why, size_t whylen);

/*
 * cbd_keys_check_pattern accepts a non-empty glob of at most max bytes with
 * no control characters or spaces and no trailing lone backslash. The
 * pattern is matched after "<namespace>:", so it can only ever match keys
 * of its own namespace.
 */
CB_NODISCARD cb_status cbd_keys_check_pattern(
    const char *pattern, size_t max, char *why, size_t whylen);

/*
 * cbd_keys_join writes prefix, ns, ':' and key into buf (cap bytes, NUL
 * terminated) and returns the length, or 0 if it does not fit.
 */
size_t cbd_keys_join(char *buf, size_t cap, const char *prefix, const char *ns,
    const char *key);

/* cbd_keys_hash is FNV-1a of a key: for tables and connection choice,
 * not for security. */
uint64_t cbd_keys_hash(const char *s);

#endif /* CBD_KEYS_H */

/* SPDX-License-Identifier: MIT */
/* Key rules: namespaces, keys and patterns, and their Redis names. */
#include "keys.h"

#include <stdio.h>
#include <string.h>

static int
is_lower_alpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

cb_status
cbd_keys_check_namespace(const char *ns, char *why, size_t whylen)
{
	size_t n = strlen(ns);

	if (n == 0) {
		snprintf(why, whylen, "namespace is empty");
		return CB_INVALID_ARGUMENT;
	}
	if (n > CBD_MAX_NAMESPACE) {
		snprintf(why, whylen, "namespace is longer than %d bytes",
		    CBD_MAX_NAMESPACE);
		return CB_INVALID_ARGUMENT;
	}
	if (!is_lower_alpha(ns[0])) {
		snprintf(why, whylen,
		    "namespace must start with a lower-case letter");
		return CB_INVALID_ARGUMENT;
	}
	for (size_t i = 1; i < n; i++) {
		char c = ns[i];
		if (!is_lower_alpha(c) && !is_digit(c) && c != '_' &&
		    c != '-') {
			snprintf(why, whylen,
			    "namespace may contain only a-z, 0-9, '_' and "
			    "'-'");
			return CB_INVALID_ARGUMENT;
		}
	}
	return CB_OK;
}

/* check_chars rejects control characters and spaces: they would make a
 * key ambiguous in logs and in redis-cli, and nobody means them. */
static cb_status
check_chars(
    const char *what, const char *s, size_t n, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			snprintf(why, whylen,
			    "%s contains a control character or space at "
			    "byte %zu",
			    what, i);
			return CB_INVALID_ARGUMENT;
		}
	}
	return CB_OK;
}

cb_status
cbd_keys_check_key(const char *key, size_t max, char *why, size_t whylen)
{
	size_t n = strlen(key);

	if (n == 0) {
		snprintf(why, whylen, "key is empty");
		return CB_INVALID_ARGUMENT;
	}
	if (n > max) {
		snprintf(
		    why, whylen, "key is %zu bytes, the limit is %zu", n, max);
		return CB_RESOURCE_EXHAUSTED;
	}
	if (check_chars("key", key, n, why, whylen) != CB_OK) {
		return CB_INVALID_ARGUMENT;
	}
	/* A key with glob characters could not be invalidated exactly by a
	 * pattern, and may be a pattern sent to the wrong method. */
	if (strpbrk(key, "*?[]\\") != NULL) {
		snprintf(
		    why, whylen, "key contains a glob character (* ? [ ] \\)");
		return CB_INVALID_ARGUMENT;
	}
	return CB_OK;
}

cb_status
cbd_keys_check_pattern(
    const char *pattern, size_t max, char *why, size_t whylen)
{
	size_t n           = strlen(pattern);
	size_t backslashes = 0;

	if (n == 0) {
		snprintf(why, whylen, "pattern is empty");
		return CB_INVALID_ARGUMENT;
	}
	if (n > max) {
		snprintf(why, whylen, "pattern is %zu bytes, the limit is %zu",
		    n, max);
		return CB_RESOURCE_EXHAUSTED;
	}
	if (check_chars("pattern", pattern, n, why, whylen) != CB_OK) {
		return CB_INVALID_ARGUMENT;
	}
	/* An odd run of backslashes at the end escapes nothing: reject it
	 * rather than guess what Redis' matcher makes of it. */
	while (backslashes < n && pattern[n - 1 - backslashes] == '\\') {
		backslashes++;
	}
	if (backslashes % 2 == 1) {
		snprintf(why, whylen, "pattern ends with a lone backslash");
		return CB_INVALID_ARGUMENT;
	}
	return CB_OK;
}

size_t
cbd_keys_join(
    char *buf, size_t cap, const char *prefix, const char *ns, const char *key)
{
	size_t lp    = strlen(prefix);
	size_t ln    = strlen(ns);
	size_t lk    = strlen(key);
	size_t total = lp + ln + 1 + lk;

	if (total + 1 > cap) {
		return 0;
	}
	memcpy(buf, prefix, lp);
	memcpy(buf + lp, ns, ln);
	buf[lp + ln] = ':';
	memcpy(buf + lp + ln + 1, key, lk);
	buf[total] = '\0';
	return total;
}

uint64_t
cbd_keys_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char) *s;
		h *= 1099511628211ull;
	}
	return h;
}

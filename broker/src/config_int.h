/* SPDX-License-Identifier: MIT */
/* What the files of the configuration reader share: the key table and
 * the steps of a load. Only config*.c include it. */
#ifndef CBD_CONFIG_INT_H
#define CBD_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum key_type {
	K_STR,      /* char * */
	K_UINT32,   /* uint32_t within [min, max] */
	K_INT,      /* int within [min, max] */
	K_DURATION, /* uint64_t milliseconds within [min, max] */
	K_SIZE,     /* size_t bytes within [min, max] */
	K_MODE,     /* int, octal file mode */
	K_LOGLEVEL, /* int, CBD_LOG_* */
	K_FAILOPEN, /* int: 1 for fail-open, 0 for fail-closed */
	K_LISTEN,   /* appended to cfg->listen */
	K_URL,      /* char *, a listener URL or "" */
	K_HTTP,     /* char *, http://HOST:PORT or "" */
	K_TLSAUTH,  /* int, CBD_TLS_AUTH_* */
	K_TRACKING, /* int, CBD_L1_TRACKING_* */
};

typedef struct config_key {
	const char   *section; /* [section] */
	const char   *name;    /* key */
	enum key_type type;    /* how the value is parsed */
	size_t        off;     /* where it goes in cbd_config */
	uint64_t      min;     /* bounds for numbers */
	uint64_t      max;
} config_key;

#define OFF(field) offsetof(cbd_config, field)

/* The [section] keys of the file, in the order docs/configuration.md
 * lists them (config.c). */
#define CBD_CONFIG_N_KEYS 50
extern const config_key cbd_config_keys[CBD_CONFIG_N_KEYS];

/* Sections named "resource NAME" are handled by policy.c. */
#define RESOURCE_SECTION "resource "
#define EVENT_SECTION "event "
#define WARM_SECTION "warm "
#define NAMESPACE_SECTION "namespace "

/* cbd_config_set_value parses value for key k into cfg; returns an error
 * text or NULL. */
const char *cbd_config_set_value(
    cbd_config *cfg, const config_key *k, const char *value);

/* cbd_config_defaults fills cfg with every default; -1 when out of
 * memory. */
int cbd_config_defaults(cbd_config *cfg);

/* cbd_config_env applies REDIS_HOST, REDIS_PORT and REDIS_PASSWORD. */
void cbd_config_env(cbd_config *cfg, cbd_errors *errs);

/* cbd_config_check_whole checks what no single line can: the sections
 * against each other, the listeners, the database settings. */
void cbd_config_check_whole(cbd_config *cfg, cbd_errors *errs);

#endif /* CBD_CONFIG_INT_H */

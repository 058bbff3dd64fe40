/* SPDX-License-Identifier: MIT */
/* The policy in effect: a refcounted snapshot of the configuration (its
 * settings and rules), held by whatever runs on it, swapped on reload. */
#ifndef CBD_POLICY_H
#define CBD_POLICY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

#include "rules.h"

struct cbd_config;

/* A finished run of one strategy. */
typedef struct cbd_warm_result {
	const cbd_warm *w;
	uint64_t        keys;      /* loaded and stored */
	uint64_t        not_found; /* the loader found no row */
	uint64_t        errors;    /* rows that failed */
	uint64_t        duration_ms;
	char            error[160]; /* the run's own failure, "" if none */
} cbd_warm_result;

/* A strategy's record since start (for metrics). It lives in the policy
 * (cbd_policy_warm_stats) and a reload carries it over by name. */
typedef struct cbd_warm_stats {
	uint64_t        runs;
	uint64_t        keys_total;
	uint64_t        errors_total;
	unsigned        running; /* runs going on now */
	cbd_warm_result last;    /* valid when runs > 0 */
} cbd_warm_stats;

/* What nng's threads check a request against before the loop sees it. */
typedef struct cbd_limits {
	size_t   max_message_size;      /* [broker], restart only */
	size_t   max_key_size;          /* [broker] */
	size_t   max_value_size;        /* [broker] */
	uint32_t max_batch_keys;        /* [broker] */
	uint64_t default_deadline_ms;   /* [broker] */
	uint64_t max_deadline_ms;       /* [broker] */
	uint64_t max_token_lifetime_ms; /* [auth] */
	uint64_t max_ttl_ms;            /* [policy] */
} cbd_limits;

/*
 * The configuration in effect, as one immutable object: SIGHUP builds a
 * new one and swaps host.policy (request.h); whatever started on the old
 * one keeps a hold on it and finishes on it.
 *
 *   SIGHUP ─► load + check the file ─► cbd_policy (gen N+1) ─► host.policy
 *                                                                 │ hold
 *   request (req_run_job) ─► req->pol ─► flight, warm run, ... ◄──┘
 *   answered / finished ─► rele ─► the last hold frees gen N
 *
 * Threads: refs, the statistics (load_us, warm_stats) and the holds are
 * the loop thread's only. nng's threads never see a cbd_policy: they read
 * the limits published by cbd_limits_publish. Everything else is
 * immutable once the policy is published.
 */
typedef struct cbd_policy {
	unsigned           refs;       /* holds (loop thread) */
	uint64_t           gen;        /* 1 at start, +1 per reload */
	struct cbd_config *cfg;        /* what is in effect (owned) */
	cbd_limits         limits;     /* from cfg */
	size_t            *stmt;       /* per resource: db pool statement */
	uint64_t          *load_us;    /* per resource: recent load time */
	cbd_warm_stats    *warm_stats; /* per strategy: its record */
} cbd_policy;

/*
 * cbd_policy_alloc makes a policy of cfg with one hold (the caller's).
 * It takes ownership of cfg (moved: the caller's copy is emptied) on
 * success; on failure (RESOURCE_EXHAUSTED) the caller still owns it. With
 * prev (the policy it replaces, or NULL) its generation follows prev's,
 * and the statistics of resources and strategies of the same name carry
 * over, so that Metrics stays cumulative. stmt[] is zero: the owner of
 * the database pool fills it in before publishing. Loop thread.
 */
CB_NODISCARD cb_status cbd_policy_alloc(
    cbd_policy **out, struct cbd_config *cfg, const cbd_policy *prev);

/* cbd_policy_hold adds a hold and returns pol. Loop thread. */
cbd_policy *cbd_policy_hold(cbd_policy *pol);

/* cbd_policy_rele drops a hold; the last one frees pol. NULL-safe. Loop
 * thread. */
void cbd_policy_rele(cbd_policy *pol);

/* cbd_policy_resource_index is r's position in pol (r is pol's). */
size_t cbd_policy_resource_index(const cbd_policy *pol, const cbd_resource *r);

/* cbd_policy_warm_stats finds the record of the strategy named name in
 * pol; NULL if pol has none of that name. Loop thread. */
cbd_warm_stats *cbd_policy_warm_stats(cbd_policy *pol, const char *name);

/*
 * The limits of the policy in effect, for nng's threads: the loop
 * publishes them (a sequence lock over atomics: a reader sees one
 * policy's limits whole, never half of two) and any thread reads them.
 */
typedef struct cbd_limits_pub {
	atomic_uint   seq; /* odd while being written */
	atomic_size_t max_message_size;
	atomic_size_t max_key_size;
	atomic_size_t max_value_size;
	atomic_uint   max_batch_keys;
	atomic_ullong default_deadline_ms;
	atomic_ullong max_deadline_ms;
	atomic_ullong max_token_lifetime_ms;
	atomic_ullong max_ttl_ms;
} cbd_limits_pub;

/* cbd_limits_publish makes lim the limits readers see. One writer: the
 * loop thread. */
void cbd_limits_publish(cbd_limits_pub *pub, const cbd_limits *lim);

/* cbd_limits_read copies the published limits into *lim. Never blocks
 * for long (a writer holds it for a few stores). Any thread. */
void cbd_limits_read(const cbd_limits_pub *pub, cbd_limits *lim);

#endif /* CBD_POLICY_H */

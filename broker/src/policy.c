/* SPDX-License-Identifier: MIT */
/* The policy in effect: a refcounted snapshot of the configuration, and
 * the limits published to nng's threads. */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"

cb_status
cbd_policy_alloc(cbd_policy **out, cbd_config *cfg, const cbd_policy *prev)
{
	cbd_policy *pol = calloc(1, sizeof(*pol));
	size_t      nr  = cfg->n_resources;
	size_t      nw  = cfg->n_warms;

	if (pol == NULL || (pol->cfg = malloc(sizeof(*pol->cfg))) == NULL ||
	    (pol->stmt = calloc(nr + 1, sizeof(*pol->stmt))) == NULL ||
	    (pol->load_us = calloc(nr + 1, sizeof(*pol->load_us))) == NULL ||
	    (pol->warm_stats = calloc(nw + 1, sizeof(*pol->warm_stats))) ==
	        NULL) {
		if (pol != NULL) {
			free(pol->cfg);
			free(pol->stmt);
			free(pol->load_us);
		}
		free(pol);
		return CB_RESOURCE_EXHAUSTED;
	}
	*pol->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	cfg                               = pol->cfg;
	pol->refs                         = 1;
	pol->gen                          = prev != NULL ? prev->gen + 1 : 1;
	pol->limits.max_message_size      = cfg->max_message_size;
	pol->limits.max_key_size          = cfg->max_key_size;
	pol->limits.max_value_size        = cfg->max_value_size;
	pol->limits.max_batch_keys        = cfg->max_batch_keys;
	pol->limits.default_deadline_ms   = cfg->default_deadline_ms;
	pol->limits.max_deadline_ms       = cfg->max_deadline_ms;
	pol->limits.max_token_lifetime_ms = cfg->auth.max_token_lifetime_ms;
	pol->limits.max_ttl_ms            = cfg->max_ttl_ms;
	for (size_t i = 0; prev != NULL && i < nr; i++) {
		const cbd_resource *r =
		    cbd_config_resource(prev->cfg, cfg->resources[i].name);
		if (r != NULL) {
			pol->load_us[i] =
			    prev->load_us[cbd_policy_resource_index(prev, r)];
		}
	}
	for (size_t i = 0; prev != NULL && i < nw; i++) {
		const cbd_warm *w =
		    cbd_config_warm(prev->cfg, cfg->warms[i].name);
		if (w != NULL) {
			/* The record, but not the strategy it points at. */
			pol->warm_stats[i] =
			    prev->warm_stats[w - prev->cfg->warms];
			pol->warm_stats[i].last.w = &cfg->warms[i];
		}
	}
	*out = pol;
	return CB_OK;
}

cbd_policy *
cbd_policy_hold(cbd_policy *pol)
{
	pol->refs++;
	return pol;
}

void
cbd_policy_rele(cbd_policy *pol)
{
	if (pol == NULL || --pol->refs > 0) {
		return;
	}
	cbd_config_fini(pol->cfg);
	free(pol->cfg);
	free(pol->stmt);
	free(pol->load_us);
	free(pol->warm_stats);
	free(pol);
}

size_t
cbd_policy_resource_index(const cbd_policy *pol, const cbd_resource *r)
{
	return (size_t) (r - pol->cfg->resources);
}

cbd_warm_stats *
cbd_policy_warm_stats(cbd_policy *pol, const char *name)
{
	const cbd_warm *w = cbd_config_warm(pol->cfg, name);

	return w != NULL ? &pol->warm_stats[w - pol->cfg->warms] : NULL;
}

/*
 * A sequence lock: the writer makes seq odd, stores, makes it even again;
 * a reader retries while seq was odd or moved under it. Every field is an
 * atomic, so a torn read is only ever retried, never a data race.
 */
void
cbd_limits_publish(cbd_limits_pub *pub, const cbd_limits *lim)
{
	unsigned s = atomic_load_explicit(&pub->seq, memory_order_relaxed);

	atomic_store_explicit(&pub->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&pub->max_message_size, lim->max_message_size,
	    memory_order_relaxed);
	atomic_store_explicit(
	    &pub->max_key_size, lim->max_key_size, memory_order_relaxed);
	atomic_store_explicit(
	    &pub->max_value_size, lim->max_value_size, memory_order_relaxed);
	atomic_store_explicit(
	    &pub->max_batch_keys, lim->max_batch_keys, memory_order_relaxed);
	atomic_store_explicit(&pub->default_deadline_ms,
	    lim->default_deadline_ms, memory_order_relaxed);
	atomic_store_explicit(
	    &pub->max_deadline_ms, lim->max_deadline_ms, memory_order_relaxed);
	atomic_store_explicit(&pub->max_token_lifetime_ms,
	    lim->max_token_lifetime_ms, memory_order_relaxed);
	atomic_store_explicit(
	    &pub->max_ttl_ms, lim->max_ttl_ms, memory_order_relaxed);
	atomic_store_explicit(&pub->seq, s + 2, memory_order_release);
}

void
cbd_limits_read(const cbd_limits_pub *pub, cbd_limits *lim)
{
	unsigned s1;
	unsigned s2;

	do {
		s1 = atomic_load_explicit(&pub->seq, memory_order_acquire);
		lim->max_message_size = atomic_load_explicit(
		    &pub->max_message_size, memory_order_relaxed);
		lim->max_key_size = atomic_load_explicit(
		    &pub->max_key_size, memory_order_relaxed);
		lim->max_value_size = atomic_load_explicit(
		    &pub->max_value_size, memory_order_relaxed);
		lim->max_batch_keys = atomic_load_explicit(
		    &pub->max_batch_keys, memory_order_relaxed);
		lim->default_deadline_ms = atomic_load_explicit(
		    &pub->default_deadline_ms, memory_order_relaxed);
		lim->max_deadline_ms = atomic_load_explicit(
		    &pub->max_deadline_ms, memory_order_relaxed);
		lim->max_token_lifetime_ms = atomic_load_explicit(
		    &pub->max_token_lifetime_ms, memory_order_relaxed);
		lim->max_ttl_ms = atomic_load_explicit(
		    &pub->max_ttl_ms, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&pub->seq, memory_order_relaxed);
	} while ((s1 & 1u) != 0 || s1 != s2);
}

/* SPDX-License-Identifier: MIT */
/* Read-through loads with single-flight and the stale-set guard. */
#include "loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "cmd.h"
#include "db_pool.h"
#include "keys.h"
#include "loop.h"
#include "redis_pool.h"
#include "request.h"
#include "stats.h"

/*
 *   Fetch miss ──► flight for key?  yes: wait on it (coalesced)
 *                      │ no
 *                      ▼
 *                 new flight: epoch of the namespace, one query ──► db
 *                      ...
 *   query done ──► epoch unchanged and Redis up? SET key value PX ttl
 *                  (or the negative marker PX negative_ttl)
 *              ──► every waiter answered with the same result
 *
 * The epoch of a namespace moves whenever an invalidation of it starts.
 * A load that began before cannot know whether it read the database
 * before or after the change that the invalidation announces, so it does
 * not store: the next Fetch loads again.
 *
 * A load nobody waits for is abandoned: when the last waiter leaves
 * before the query ended (its deadline answered it: flight_unwait),
 * the flight goes at once (the next Fetch of the key starts a new one)
 * and the pool drops its query, or cancels it on the server, so that it
 * holds no connection for the rest of its statement_timeout. A warm
 * row's Fetch is a waiter like a client's. A flight started with no
 * waiter (early refresh) is the cache's own: it runs to its end whoever
 * joins and leaves it.
 */
#define FLIGHT_BUCKETS 1024
#define EPOCH_SLOTS 256

struct cbd_flight {
	cbd_flight         *chain; /* bucket link */
	uint64_t            hash;
	char               *key; /* without key_prefix */
	cbd_policy         *pol; /* r's policy (held) */
	const cbd_resource *r;
	uint64_t            ttl_ms;   /* before jitter */
	uint64_t            epoch;    /* of r->ns when the load began */
	int                 degraded; /* Redis was down: do not store */
	cbd_req            *waiters;  /* linked by next */
	cbd_loader         *loader;
	uint64_t            t0_us;     /* when the query left */
	void               *stale;     /* expired value, served if the */
	size_t              stale_len; /* database fails (heap copy) */
	cb_status           code;      /* the load's outcome, once done */
	const char         *msg;       /* its message (static) */
	char               *value; /* what it loaded (heap; NULL: no row) */
	size_t              len;
	uint64_t            ttl;   /* what the store gave, 0: not stored */
	cbd_db_handle      *query; /* until flight_done; NULL after */
	cbd_load_done_fn   *done;  /* answers a waiter */
	int                 own;   /* early refresh: never abandoned */
};

typedef struct epoch_slot {
	char     ns[CBD_MAX_NAMESPACE + 1];
	uint64_t epoch;
} epoch_slot;

struct cbd_loader {
	cbd_db_pool    *db;    /* NULL: no database */
	cbd_redis_pool *redis; /* where loads are stored */
	cbd_stats      *stats; /* per-namespace counters */
	cbd_flight     *buckets[FLIGHT_BUCKETS];
	size_t          n_flights;
	epoch_slot      epochs[EPOCH_SLOTS];
	size_t          n_epochs;
	uint64_t        other_epoch; /* namespaces beyond the table share it */
};

/* epoch_of finds the epoch of ns, or with create makes its slot (loads
 * create one, so that invalidations of other namespaces do not touch it).
 * Namespaces beyond the table share other_epoch, which every
 * invalidation moves. */
static uint64_t *
epoch_of(cbd_loader *l, const char *ns, int create)
{
	for (size_t i = 0; i < l->n_epochs; i++) {
		if (strcmp(l->epochs[i].ns, ns) == 0) {
			return &l->epochs[i].epoch;
		}
	}
	if (create && l->n_epochs < EPOCH_SLOTS) {
		epoch_slot *e = &l->epochs[l->n_epochs++];
		snprintf(e->ns, sizeof(e->ns), "%s", ns);
		e->epoch = l->other_epoch;
		return &e->epoch;
	}
	return &l->other_epoch;
}

cb_status
cbd_loader_alloc(
    cbd_loader **out, cbd_db_pool *db, cbd_redis_pool *redis, cbd_stats *stats)
{
	cbd_loader *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	l->db    = db;
	l->redis = redis;
	l->stats = stats;
	*out     = l;
	return CB_OK;
}

void
cbd_loader_free(cbd_loader *l)
{
	free(l);
}

void
cbd_loader_invalidated(cbd_loader *l, const char *ns)
{
	uint64_t *e = epoch_of(l, ns, 1);

	(*e)++;
	if (e != &l->other_epoch) {
		/* A namespace not in the table reads other_epoch: move it
		 * too, so that the guard errs on the safe side. */
		l->other_epoch++;
	}
}

static void
flight_unlink(cbd_loader *l, cbd_flight *f)
{
	cbd_flight **pp = &l->buckets[f->hash % FLIGHT_BUCKETS];

	while (*pp != f) {
		pp = &(*pp)->chain;
	}
	*pp = f->chain;
	l->n_flights--;
}

static void
flight_free(cbd_flight *f)
{
	cbd_policy_rele(f->pol);
	free(f->value);
	free(f->stale);
	free(f->key);
	free(f);
}

/* flight_unwait is a waiter's park cleanup: it was answered by its
 * deadline (or the drain) before the load ended. */
static void
flight_unwait(cbd_req *req, void *arg)
{
	cbd_flight *f = arg;

	cbd_req_list_remove(&f->waiters, req);
	if (f->waiters == NULL && f->query != NULL && !f->own) {
		/* Nobody is left to answer: the query goes (see the top).
		 * A query running still stops in the database, not here. */
		cbd_loader *l = f->loader;
		cbd_db_abandon(l->db, f->query);
		cbd_stats_ns(l->stats, f->r->ns)->loads_cancelled++;
		flight_unlink(f->loader, f);
		flight_free(f);
	}
}

static void answer(cbd_req *req, cbd_flight *f, cb_status code,
    const char *msg, const char *value, size_t len, uint64_t ttl);

/* flight_finish answers every waiter (those that joined while the value
 * was being stored too) and frees the flight. */
static void
flight_finish(cbd_flight *f)
{
	cbd_req *w;

	flight_unlink(f->loader, f);
	while ((w = f->waiters) != NULL) {
		f->waiters = w->next;
		w->next    = NULL;
		cbd_req_unpark(w);
		answer(w, f, f->code, f->msg, f->value, f->len,
		    f->value != NULL ? f->ttl : 0);
	}
	flight_free(f);
}

static void
store_cb(void *arg, uint64_t tag, redisReply *r)
{
	cbd_flight *f = arg;

	(void) tag;
	/* A failed store is a later miss; the answer is the same. */
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		f->ttl = 0;
	}
	flight_finish(f);
}

/*
 * flight_store writes what was loaded, and the waiters are answered when
 * Redis has it: a caller that fetched and then reads the key finds it.
 * Returns -1 when nothing is stored (answer now).
 */
static int
flight_store(cbd_flight *f)
{
	const char     *prefix = f->pol->cfg->redis.key_prefix;
	size_t          nslen  = strlen(f->r->ns);
	const char     *value  = f->value;
	size_t          len    = f->len;
	cbd_redis_conn *c;
	cbd_cmd         cmd;
	uint64_t        pttl;
	int             rv;

	if (f->degraded || *epoch_of(f->loader, f->r->ns, 0) != f->epoch ||
	    (c = cbd_redis_pick_key(f->loader->redis, f->hash)) == NULL) {
		return -1;
	}
	if (value == NULL) {
		f->ttl = f->r->negative_ttl_ms;
		pttl   = f->ttl;
		value  = CBD_NEGATIVE_VALUE;
		len    = CBD_NEGATIVE_LEN;
	} else {
		f->ttl = cbd_rule_jitter(f->ttl_ms, cbd_random32());
		/* The stale window rides on the Redis TTL: Fetch reads the
		 * PTTL and counts its last stale_ms as expired-but-kept. */
		pttl = f->ttl + f->r->stale_ms;
	}
	if (f->ttl == 0 ||
	    cbd_cmd_init(&cmd, 5,
	        cbd_cmd_key_size(prefix, f->r->ns, f->key + nslen + 1) +
	            CBD_CMD_INT_SIZE) != 0) {
		f->ttl = 0;
		return -1;
	}
	cbd_cmd_str(&cmd, "SET");
	cbd_cmd_key(&cmd, prefix, f->r->ns, f->key + nslen + 1);
	cbd_cmd_arg(&cmd, value, len);
	cbd_cmd_str(&cmd, "PX");
	cbd_cmd_int(&cmd, (long long) pttl);
	rv = cbd_redis_send(c, store_cb, f, 0, cmd.argc, cmd.argv, cmd.lens);
	cbd_cmd_fini(&cmd);
	if (rv != 0) {
		f->ttl = 0;
		return -1;
	}
	return 0;
}

/* answer hands one waiter what the load gave. */
static void
answer(cbd_req *req, cbd_flight *f, cb_status code, const char *msg,
    const char *value, size_t len, uint64_t ttl)
{
	cbd_loaded res = { .code = code,
		.msg             = msg,
		.value           = value,
		.len             = len,
		.ttl_ms          = ttl,
		.x_cache         = f->degraded ? "degraded" : "miss" };

	if ((code == CB_UNAVAILABLE || code == CB_DEADLINE_EXCEEDED) &&
	    f->stale != NULL) {
		/* stale-if-error: an old answer beats none. */
		cbd_stats_ns(f->loader->stats, f->r->ns)->stale_serves++;
		res.code    = CB_OK;
		res.msg     = NULL;
		res.value   = f->stale;
		res.len     = f->stale_len;
		res.ttl_ms  = 0;
		res.stale   = 1;
		res.x_cache = "stale";
	}
	f->done(req, &res);
}

static void
flight_done(
    void *arg, cb_status code, const char *msg, const char *value, size_t len)
{
	cbd_flight   *f  = arg;
	cbd_loader   *l  = f->loader;
	cbd_ns_stats *ns = cbd_stats_ns(l->stats, f->r->ns);

	f->query = NULL; /* the pool is done with it */
	if (code == CB_OK) {
		/* A moving average (1/8 weight), for early refresh. */
		uint64_t *avg =
		    &f->pol->load_us[cbd_policy_resource_index(f->pol, f->r)];
		uint64_t took = cbd_now_us() - f->t0_us;
		*avg          = *avg == 0 ? took : *avg - *avg / 8 + took / 8;
	}
	if (code == CB_OK && value != NULL && len > f->r->max_value_size) {
		code = CB_RESOURCE_EXHAUSTED;
		msg  = "loaded value is larger than the resource's "
		       "max_value_size";
	}
	f->code = code;
	f->msg  = msg;
	if (code == CB_OK && value != NULL) {
		if ((f->value = malloc(len + 1)) == NULL) {
			f->code = CB_RESOURCE_EXHAUSTED;
			f->msg  = "broker out of memory";
		} else {
			memcpy(f->value, value, len);
			f->len = len;
		}
	}
	if (f->code != CB_OK) {
		ns->load_errors++;
	} else if (flight_store(f) == 0) {
		return; /* store_cb answers */
	}
	flight_finish(f);
}

/* refuse answers a load that could not start (req may be NULL). */
static void
refuse(cbd_req *req, const cbd_load *ld, cb_status code, const char *msg)
{
	cbd_loaded res = { .code = code, .msg = msg, .x_cache = "miss" };

	if (req != NULL) {
		ld->done(req, &res);
	}
}

void
cbd_loader_fetch(cbd_loader *l, cbd_req *req, const cbd_load *ld)
{
	const cbd_resource *r  = ld->r;
	uint64_t            h  = cbd_keys_hash(ld->key);
	cbd_ns_stats       *ns = cbd_stats_ns(l->stats, r->ns);
	cbd_flight         *f;
	cb_status           rv;

	for (f = l->buckets[h % FLIGHT_BUCKETS]; f != NULL; f = f->chain) {
		if (f->hash == h && f->pol == ld->pol &&
		    strcmp(f->key, ld->key) == 0) {
			break;
		}
	}
	if (f != NULL) {
		if (req == NULL) {
			return; /* a refresh is already running */
		}
		ns->coalesced++;
		f->done = ld->done;
		if (f->stale == NULL && ld->stale != NULL &&
		    (f->stale = malloc(ld->stale_len + 1)) != NULL) {
			memcpy(f->stale, ld->stale, ld->stale_len);
			f->stale_len = ld->stale_len;
		}
		req->next  = f->waiters;
		f->waiters = req;
		cbd_req_park(req, flight_unwait, f);
		return;
	}
	if (l->db == NULL) {
		refuse(req, ld, CB_UNAVAILABLE, "no database configured");
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->key = strdup(ld->key)) == NULL ||
	    (ld->stale != NULL &&
	        (f->stale = malloc(ld->stale_len + 1)) == NULL)) {
		if (f != NULL) {
			free(f->key);
		}
		free(f);
		refuse(req, ld, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	if (ld->stale != NULL) {
		memcpy(f->stale, ld->stale, ld->stale_len);
		f->stale_len = ld->stale_len;
	}
	f->hash     = h;
	f->pol      = cbd_policy_hold(ld->pol);
	f->r        = r;
	f->ttl_ms   = ld->ttl_ms;
	f->epoch    = *epoch_of(l, r->ns, 1);
	f->degraded = ld->degraded;
	f->loader   = l;
	f->t0_us    = cbd_now_us();
	f->own      = req == NULL;
	f->done     = ld->done;
	rv          = cbd_db_query(l->db,
	             f->pol->stmt[cbd_policy_resource_index(f->pol, r)],
	             f->pol->cfg->db.statement_timeout_ms, ld->values, r->n_params,
	             flight_done, f, &f->query);
	if (rv != CB_OK) {
		/* No connection at all: same as a failed load, stale included.
		 */
		f->waiters = req;
		if (req != NULL) {
			req->next = NULL;
			cbd_req_park(req, flight_unwait, f);
		}
		f->chain = l->buckets[h % FLIGHT_BUCKETS];
		l->buckets[h % FLIGHT_BUCKETS] = f;
		l->n_flights++;
		flight_done(f, rv,
		    rv == CB_UNAVAILABLE ? "database unavailable"
		                         : "database queue full",
		    NULL, 0);
		return;
	}
	ns->loads++;
	f->chain                       = l->buckets[h % FLIGHT_BUCKETS];
	l->buckets[h % FLIGHT_BUCKETS] = f;
	l->n_flights++;
	f->waiters = req;
	if (req != NULL) {
		req->next = NULL;
		cbd_req_park(req, flight_unwait, f);
	}
}

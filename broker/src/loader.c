/* SPDX-License-Identifier: MIT */
/* Read-through loads with single-flight and the stale-set guard. */
#include "loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cmd.h"
#include "db_pool.h"
#include "loop.h"
#include "redis_pool.h"
#include "request.h"
#include "server.h"
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
 */
#define FLIGHT_BUCKETS 1024
#define EPOCH_SLOTS 256

struct cbd_flight {
	cbd_flight         *chain; /* bucket link */
	uint64_t            hash;
	char               *key; /* without key_prefix */
	const cbd_resource *r;
	uint64_t            ttl_ms;   /* before jitter */
	uint64_t            epoch;    /* of r->ns when the load began */
	int                 degraded; /* Redis was down: do not store */
	cbd_req            *waiters;  /* linked by next */
	cbd_loader         *loader;
};

typedef struct epoch_slot {
	char     ns[CBD_MAX_NAMESPACE + 1];
	uint64_t epoch;
} epoch_slot;

struct cbd_loader {
	cbd_server *srv;
	cbd_flight *buckets[FLIGHT_BUCKETS];
	size_t      n_flights;
	epoch_slot  epochs[EPOCH_SLOTS];
	size_t      n_epochs;
	uint64_t    other_epoch; /* namespaces beyond the table share it */
};

static uint64_t
key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char) *s;
		h *= 1099511628211ull;
	}
	return h;
}

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
cbd_loader_alloc(cbd_loader **out, cbd_server *srv)
{
	cbd_loader *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	l->srv = srv;
	*out   = l;
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

size_t
cbd_loader_in_flight(const cbd_loader *l)
{
	return l->n_flights;
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

void
cbd_loader_unwait(cbd_req *req)
{
	cbd_flight *f = req->flight;
	cbd_req   **pp;

	if (f == NULL) {
		return;
	}
	for (pp = &f->waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == req) {
			*pp = req->next;
			break;
		}
	}
	req->next   = NULL;
	req->flight = NULL;
}

static void
store_cb(void *arg, uint64_t tag, redisReply *r)
{
	(void) arg;
	(void) tag;
	(void) r; /* best effort: a failed store is a later miss */
}

/* flight_store writes what was loaded; returns the TTL given, 0 if not
 * stored. */
static uint64_t
flight_store(cbd_flight *f, const char *value, size_t len)
{
	cbd_server     *srv    = f->loader->srv;
	const char     *prefix = srv->cfg.redis.key_prefix;
	size_t          nslen  = strlen(f->r->ns);
	cbd_redis_conn *c;
	cbd_cmd         cmd;
	uint64_t        ttl;
	uint32_t        rnd = 0;

	if (f->degraded || *epoch_of(f->loader, f->r->ns, 0) != f->epoch ||
	    (c = cbd_redis_pick(srv->redis)) == NULL) {
		return 0;
	}
	if (value == NULL) {
		ttl   = f->r->negative_ttl_ms;
		value = CBD_NEGATIVE_VALUE;
		len   = CBD_NEGATIVE_LEN;
	} else {
		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) !=
		    sizeof(rnd)) {
			rnd = (uint32_t) cbd_now_us();
		}
		ttl = cbd_policy_jitter(f->ttl_ms, rnd);
	}
	if (ttl == 0 ||
	    cbd_cmd_init(&cmd, 5,
	        cbd_cmd_key_size(prefix, f->r->ns, f->key + nslen + 1) +
	            CBD_CMD_INT_SIZE) != 0) {
		return 0;
	}
	cbd_cmd_str(&cmd, "SET");
	cbd_cmd_key(&cmd, prefix, f->r->ns, f->key + nslen + 1);
	cbd_cmd_arg(&cmd, value, len);
	cbd_cmd_str(&cmd, "PX");
	cbd_cmd_int(&cmd, (long long) ttl);
	if (cbd_redis_send(
	        c, store_cb, NULL, 0, cmd.argc, cmd.argv, cmd.lens) != 0) {
		ttl = 0;
	}
	cbd_cmd_fini(&cmd);
	return ttl;
}

/* answer builds one waiter's FetchResponse. */
static void
answer(cbd_req *req, cbd_flight *f, cb_status code, const char *msg,
    const char *value, size_t len, uint64_t ttl)
{
	Cachebroker__V1__FetchResponse *resp;

	req->x_cache = f->degraded ? "degraded" : "miss";
	if (code != CB_OK) {
		cbd_req_finish(req, code, msg, NULL);
		return;
	}
	if (value == NULL) {
		cbd_req_fail(req, CB_NOT_FOUND, "%s: not found", f->key);
		return;
	}
	if ((resp = malloc(sizeof(*resp))) == NULL) {
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	cachebroker__v1__fetch_response__init(resp);
	resp->key        = strdup(f->key);
	resp->value.data = malloc(len + 1);
	if (resp->key == NULL || resp->value.data == NULL) {
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	memcpy(resp->value.data, value, len);
	resp->value.len = len;
	resp->source    = CACHEBROKER__V1__FETCH_SOURCE__FETCH_SOURCE_LOADER;
	resp->ttl_ms    = (int64_t) ttl;
	cbd_req_finish(req, CB_OK, NULL, &resp->base);
}

static void
flight_done(
    void *arg, cb_status code, const char *msg, const char *value, size_t len)
{
	cbd_flight   *f   = arg;
	cbd_loader   *l   = f->loader;
	cbd_ns_stats *ns  = cbd_stats_ns(&l->srv->stats, f->r->ns);
	uint64_t      ttl = 0;
	cbd_req      *w;

	flight_unlink(l, f);
	if (code == CB_OK && value != NULL && len > f->r->max_value_size) {
		code = CB_RESOURCE_EXHAUSTED;
		msg  = "loaded value is larger than the resource's "
		       "max_value_size";
	}
	if (code != CB_OK) {
		ns->load_errors++;
	} else {
		ttl = flight_store(f, value, len);
	}
	while ((w = f->waiters) != NULL) {
		f->waiters = w->next;
		w->next    = NULL;
		w->flight  = NULL;
		answer(w, f, code, msg, value, len, value != NULL ? ttl : 0);
	}
	free(f->key);
	free(f);
}

void
cbd_loader_fetch(cbd_loader *l, cbd_req *req, const cbd_resource *r,
    const char *const values[CBD_MAX_PARAMS], const char *key, uint64_t ttl_ms,
    int degraded)
{
	cbd_server   *srv = l->srv;
	uint64_t      h   = key_hash(key);
	cbd_ns_stats *ns  = cbd_stats_ns(&srv->stats, r->ns);
	cbd_flight   *f;
	cb_status     rv;

	for (f = l->buckets[h % FLIGHT_BUCKETS]; f != NULL; f = f->chain) {
		if (f->hash == h && strcmp(f->key, key) == 0) {
			break;
		}
	}
	if (f != NULL) {
		ns->coalesced++;
		req->next   = f->waiters;
		f->waiters  = req;
		req->flight = f;
		return;
	}
	if (srv->db == NULL) {
		cbd_req_fail(req, CB_UNAVAILABLE, "no database configured");
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->key = strdup(key)) == NULL) {
		free(f);
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	f->hash     = h;
	f->r        = r;
	f->ttl_ms   = ttl_ms;
	f->epoch    = *epoch_of(l, r->ns, 0);
	f->degraded = degraded;
	f->loader   = l;
	rv = cbd_db_query(srv->db, (size_t) (r - srv->cfg.resources), values,
	    r->n_params, flight_done, f);
	if (rv != CB_OK) {
		char err[160];
		cbd_db_last_error(srv->db, err, sizeof(err));
		free(f->key);
		free(f);
		ns->load_errors++;
		req->x_cache = degraded ? "degraded" : "miss";
		cbd_req_fail(req, rv, "database unavailable%s",
		    rv == CB_UNAVAILABLE ? "" : " (queue full)");
		(void) err;
		return;
	}
	ns->loads++;
	f->chain                       = l->buckets[h % FLIGHT_BUCKETS];
	l->buckets[h % FLIGHT_BUCKETS] = f;
	l->n_flights++;
	req->next   = NULL;
	f->waiters  = req;
	req->flight = f;
}

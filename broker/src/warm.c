/* SPDX-License-Identifier: MIT */
/* Warming: running warm strategies, at start-up and on WarmService/Warm. */
#include "warm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "db_pool.h"
#include "journal.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "pb.h"
#include "redis_pool.h"
#include "request.h"
#include "router.h"

/*
 *   start ──► listing query (db pool, unprepared) ──► rows copied
 *         ──► up to concurrency internal Fetch{refresh} at a time
 *             each answer counts: OK keys, NOT_FOUND, else errors
 *         ──► last answer: result logged, recorded, done(arg, result)
 *
 * A Fetch with refresh goes through the loader like a client's: it joins
 * a load of the same key in flight, stores with the TTL rule (jitter
 * included) and respects invalidations that start meanwhile.
 */
typedef struct warm_run {
	struct warm_run  *next; /* the warmer's runs */
	cbd_warmer       *wm;
	cbd_policy       *pol; /* the policy w is from (held) */
	const cbd_warm   *w;
	cbd_warm_done_fn *done;
	void             *arg;
	char            **vals; /* n_rows x n_params, in $n order */
	size_t            n_rows;
	size_t            next_row; /* first row not yet submitted */
	size_t            inflight; /* Fetches not yet answered */
	uint64_t          t0_us;
	struct event     *defer; /* finishes a run that failed at once */
	cbd_warm_result   res;
} warm_run;

struct cbd_warmer {
	cbd_warm_deps deps;
	warm_run     *runs;
	int           started; /* start-up warming began */
	int           waiting_logged;
};

cb_status
cbd_warmer_alloc(cbd_warmer **out, const cbd_warm_deps *deps)
{
	cbd_warmer *wm = calloc(1, sizeof(*wm));

	if (wm == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	wm->deps = *deps;
	*out     = wm;
	return CB_OK;
}

int
cbd_warm_result_copy(
    Cachebroker__V1__WarmResult *out, const cbd_warm_result *res)
{
	out->keys        = res->keys;
	out->not_found   = res->not_found;
	out->errors      = res->errors;
	out->duration_ms = res->duration_ms;
	/* Out of memory: the field keeps what it had, "" at first. */
	return cbd_pb_str_set(&out->error, res->error);
}

/* n_params of the run's resource. */
static size_t
run_width(const warm_run *run)
{
	return run->pol->cfg->resources[run->w->res].n_params;
}

static void
run_free(warm_run *run)
{
	warm_run **pp = &run->wm->runs;

	while (*pp != run) {
		pp = &(*pp)->next;
	}
	*pp = run->next;
	for (size_t i = 0;
	     run->vals != NULL && i < run->n_rows * run_width(run); i++) {
		free(run->vals[i]);
	}
	free(run->vals);
	if (run->defer != NULL) {
		event_free(run->defer);
	}
	cbd_policy_rele(run->pol);
	free(run);
}

/* run_finish records, logs and reports the run, then frees it. The
 * record is the strategy's in the policy in effect now (a reload carried
 * it over by name), so that Metrics counts a run that straddled one. */
static void
run_finish(warm_run *run)
{
	cbd_warm_stats *st =
	    cbd_policy_warm_stats(run->wm->deps.host->policy, run->w->name);
	cbd_warm_result *res = &run->res;

	res->duration_ms = (cbd_now_us() - run->t0_us) / 1000;
	if (st != NULL) {
		st->runs++;
		if (st->running > 0) { /* 0: added anew by a reload */
			st->running--;
		}
		st->keys_total += res->keys;
		st->errors_total += res->errors;
		st->last = *res;
		/* Not run->w: its policy may go before this one. */
		st->last.w = cbd_config_warm(
		    run->wm->deps.host->policy->cfg, run->w->name);
	}
	if (res->error[0] != '\0') {
		cbd_log_warning("warm %s: failed after %llu ms: %s",
		    run->w->name, (unsigned long long) res->duration_ms,
		    res->error);
	} else {
		cbd_log_info("warm %s: %llu keys, %llu not found, %llu errors "
		             "in %llu ms",
		    run->w->name, (unsigned long long) res->keys,
		    (unsigned long long) res->not_found,
		    (unsigned long long) res->errors,
		    (unsigned long long) res->duration_ms);
	}
	run->done(run->arg, res);
	run_free(run);
}

static void run_pump(warm_run *run);

static void
fetch_done(void *arg, cb_status code, const char *message, const void *payload,
    size_t plen)
{
	warm_run                       *run = arg;
	Cachebroker__V1__FetchResponse *fr  = NULL;

	run->inflight--;
	if (code == CB_OK &&
	    (fr = cachebroker__v1__fetch_response__unpack(
	         NULL, plen, payload)) != NULL &&
	    fr->ttl_ms == 0) {
		/* Loaded but not stored: Redis failed the SET, or an
		 * invalidation ran meanwhile. Not a key warmed. */
		code    = CB_UNAVAILABLE;
		message = "loaded, but not stored (Redis failed, or the key "
		          "was invalidated meanwhile)";
	}
	if (fr != NULL) {
		cachebroker__v1__fetch_response__free_unpacked(fr, NULL);
	}
	if (code == CB_OK) {
		run->res.keys++;
	} else if (code == CB_NOT_FOUND) {
		run->res.not_found++;
	} else {
		if (run->res.errors++ == 0) {
			cbd_log_warning("warm %s: a row failed: %s: %s "
			                "(further failures are only counted)",
			    run->w->name, cb_status_str(code), message);
		}
	}
	run_pump(run);
}

/* run_submit sends row i as a Fetch with refresh. */
static void
run_submit(warm_run *run, size_t i)
{
	cbd_req_host       *host = run->wm->deps.host;
	const cbd_resource *r    = &run->pol->cfg->resources[run->w->res];
	Cachebroker__V1__FetchRequest in =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry  entries[CBD_MAX_PARAMS];
	Cachebroker__V1__FetchRequest__ParamsEntry *ptrs[CBD_MAX_PARAMS];
	char                                        why[160];
	cb_status                                   rv;

	for (size_t p = 0; p < r->n_params; p++) {
		cachebroker__v1__fetch_request__params_entry__init(
		    &entries[p]);
		entries[p].key   = r->params[p].name;
		entries[p].value = run->vals[i * r->n_params + p];
		ptrs[p]          = &entries[p];
	}
	in.resource = r->name;
	in.params   = ptrs;
	in.n_params = r->n_params;
	in.refresh  = 1;
	/* On the run's policy: the rows were listed for its resource. */
	rv = cbd_req_submit(host, run->pol, CBD_M_CACHE_FETCH, &in.base,
	    run->pol->cfg->db.statement_timeout_ms +
	        run->pol->cfg->redis.command_timeout_ms + 1000,
	    0, fetch_done, run, why, sizeof(why));
	if (rv == CB_OK) {
		run->inflight++;
		return;
	}
	if (run->res.errors++ == 0) {
		cbd_log_warning("warm %s: row %zu: %s (further failures are "
		                "only counted)",
		    run->w->name, i + 1, why);
	}
}

/* run_pump keeps concurrency Fetches going, and finishes the run after
 * the last answer. Stops early when the broker drains. */
static void
run_pump(warm_run *run)
{
	int draining = atomic_load(&run->wm->deps.host->draining);

	while (!draining && run->inflight < run->w->concurrency &&
	    run->next_row < run->n_rows) {
		run_submit(run, run->next_row++);
	}
	if (run->inflight == 0 && (draining || run->next_row == run->n_rows)) {
		run_finish(run);
	}
}

/* rows_take copies the listing's rows, columns matched to the resource's
 * parameters by name. A missing column fails the run. */
static int
rows_take(warm_run *run, const PGresult *res)
{
	const cbd_resource *r  = &run->pol->cfg->resources[run->w->res];
	size_t              np = r->n_params;
	int                 col[CBD_MAX_PARAMS];
	size_t              n = (size_t) PQntuples(res);

	for (size_t p = 0; p < np; p++) {
		if ((col[p] = PQfnumber(res, r->params[p].name)) < 0) {
			snprintf(run->res.error, sizeof(run->res.error),
			    "the rows have no column '%s' (resource %s needs "
			    "one per parameter)",
			    r->params[p].name, r->name);
			return -1;
		}
	}
	if (n > 0 && np > 0 &&
	    (run->vals = calloc(n * np, sizeof(char *))) == NULL) {
		snprintf(run->res.error, sizeof(run->res.error),
		    "out of memory for %zu rows", n);
		return -1;
	}
	run->n_rows = n;
	for (size_t i = 0; i < n; i++) {
		for (size_t p = 0; p < np; p++) {
			/* A NULL parameter is refused by the Fetch check:
			 * the empty string stands for it. */
			run->vals[i * np + p] =
			    strdup(PQgetvalue(res, (int) i, col[p]));
			if (run->vals[i * np + p] == NULL) {
				snprintf(run->res.error,
				    sizeof(run->res.error),
				    "out of memory for %zu rows", n);
				return -1;
			}
		}
	}
	return 0;
}

static void
rows_done(void *arg, cb_status code, const char *msg, const PGresult *res)
{
	warm_run *run = arg;

	if (code != CB_OK) {
		snprintf(run->res.error, sizeof(run->res.error),
		    "listing query: %s: %s", cb_status_str(code), msg);
		run_finish(run);
		return;
	}
	if (rows_take(run, res) != 0) {
		run_finish(run);
		return;
	}
	run_pump(run);
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	run_finish(arg);
}

void
cbd_warmer_start(cbd_warmer *wm, cbd_policy *pol, const cbd_warm *w,
    cbd_warm_done_fn *done, void *arg)
{
	cbd_warm_deps  *d   = &wm->deps;
	warm_run       *run = calloc(1, sizeof(*run));
	cb_status       rv  = CB_UNAVAILABLE;
	cbd_warm_stats *st;

	if (run == NULL ||
	    (run->defer = evtimer_new(d->host->base, defer_cb, run)) == NULL) {
		cbd_warm_result res;
		/* No memory even for the run: answer now, flatly. */
		memset(&res, 0, sizeof(res));
		res.w = w;
		snprintf(res.error, sizeof(res.error), "broker out of memory");
		free(run);
		done(arg, &res);
		return;
	}
	run->wm    = wm;
	run->pol   = cbd_policy_hold(pol);
	run->w     = w;
	run->done  = done;
	run->arg   = arg;
	run->res.w = w;
	run->t0_us = cbd_now_us();
	run->next  = wm->runs;
	wm->runs   = run;
	if ((st = cbd_policy_warm_stats(d->host->policy, w->name)) != NULL) {
		st->running++;
	}
	if (d->db == NULL) {
		snprintf(run->res.error, sizeof(run->res.error),
		    "no database configured");
	} else if (cbd_redis_ready_count(d->redis) == 0) {
		snprintf(run->res.error, sizeof(run->res.error),
		    "redis unavailable");
	} else if ((rv = cbd_db_rows(d->db, (size_t) (w - pol->cfg->warms),
	                w->sql, pol->cfg->db.statement_timeout_ms, rows_done,
	                run)) != CB_OK) {
		snprintf(run->res.error, sizeof(run->res.error),
		    "listing query: %s",
		    rv == CB_UNAVAILABLE ? "database unavailable"
		                         : "database queue full");
	}
	if (rv != CB_OK) {
		struct timeval now = { 0, 0 };
		evtimer_add(run->defer, &now);
	}
}

static void
startup_done(void *arg, const cbd_warm_result *res)
{
	(void) arg;
	(void) res; /* logged and recorded by run_finish */
}

void
cbd_warmer_cron(cbd_warmer *wm)
{
	cbd_warm_deps    *d   = &wm->deps;
	const cbd_config *cfg = d->host->policy->cfg;
	int               ready;

	if (wm->started) {
		return;
	}
	ready = d->db != NULL && cbd_db_ready_count(d->db) > 0 &&
	    cbd_redis_ready_count(d->redis) > 0 &&
	    cbd_journal_items(d->journal) == 0 &&
	    cbd_notify_settled(d->notify);
	if (!ready) {
		if (!wm->waiting_logged && cfg->n_warms > 0 &&
		    (cbd_now_us() - d->start_us) > 5000000) {
			cbd_log_info("start-up warming waits for the database "
			             "and Redis");
			wm->waiting_logged = 1;
		}
		return;
	}
	wm->started = 1;
	for (size_t i = 0; i < cfg->n_warms; i++) {
		if (cfg->warms[i].startup) {
			cbd_log_info("warm %s: start-up run begins",
			    cfg->warms[i].name);
			cbd_warmer_start(wm, d->host->policy, &cfg->warms[i],
			    startup_done, NULL);
		}
	}
}

void
cbd_warmer_free(cbd_warmer *wm)
{
	if (wm == NULL) {
		return;
	}
	while (wm->runs != NULL) {
		warm_run *run = wm->runs;
		/* run_finish unlinked the last run: wm->runs is the next.
		 * NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		if (run->res.error[0] == '\0') {
			snprintf(run->res.error, sizeof(run->res.error),
			    "broker shutting down");
		}
		run_finish(run);
	}
	free(wm);
}

/* SPDX-License-Identifier: MIT */
/* The server: owns everything, starts it, runs the loop, drains, stops. */
#include "server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <nng/protocol/reqrep0/req.h>

#include "db_pool.h"
#include "conns.h"
#include "l1.h"
#include "dedupe.h"
#include "dispatch.h"
#include "feed.h"
#include "http.h"
#include "ipcguard.h"
#include "journal.h"
#include "listener.h"
#include "loader.h"
#include "log.h"
#include "notify.h"
#include "outbox.h"
#include "redis_pool.h"
#include "request.h"
#include "sdnotify.h"
#include "tracking.h"
#include "warm.h"

/* Housekeeping period: stalled Redis connections are noticed within
 * command_timeout + this. */
#define CRON_MS 100

/* The STATUS= line for systemd: backends and load, as Health sees them. */
static void
server_status(cbd_server *srv, char *buf, size_t cap)
{
	char db[48];

	if (srv->env.db == NULL) {
		snprintf(db, sizeof(db), "no database");
	} else {
		snprintf(db, sizeof(db), "database %zu/%u ready",
		    cbd_db_ready_count(srv->env.db), srv->cfg.db.connections);
	}
	snprintf(buf, cap, "%s; redis %zu/%u ready; %s; %u in flight%s%s",
	    atomic_load(&srv->host.draining) ? "draining" : "serving",
	    cbd_redis_ready_count(srv->env.redis), srv->cfg.redis.connections,
	    db, atomic_load(&srv->host.in_flight),
	    srv->reload_note[0] != '\0' ? "; " : "", srv->reload_note);
}

/* Watchdog pings and STATUS= updates, from the cron: a loop that stalls
 * stops pinging, and systemd restarts it. */
static void
server_sdnotify(cbd_server *srv, uint64_t now)
{
	char status[256];

	cbd_sdnotify_cron(&srv->sd, now, (uint64_t) CRON_MS * 1000);
	if (cbd_sdnotify_status_due(&srv->sd, now)) {
		server_status(srv, status, sizeof(status));
		cbd_sdnotify_status(&srv->sd, now, status);
	}
}

static void
server_cron_cb(evutil_socket_t fd, short what, void *arg)
{
	cbd_server *srv = arg;
	uint64_t    now = cbd_now_us();
	unsigned    left;

	(void) fd;
	(void) what;
	cbd_redis_cron(srv->env.redis);
	if (srv->env.db != NULL) {
		cbd_db_cron(srv->env.db);
	}
	cbd_dedupe_expire(srv->env.dedupe, now);
	cbd_journal_cron(srv->env.journal);
	cbd_ipcguard_cron(srv->env.ipcguard, now);
	cbd_conns_cron(srv->ls.conns, now);
	server_sdnotify(srv, now);
	if (!atomic_load(&srv->host.draining)) {
		cbd_warmer_cron(srv->env.warmer);
	}
	if (!atomic_load(&srv->host.draining)) {
		return;
	}
	left = atomic_load(&srv->host.in_flight);
	if (left == 0) {
		cbd_log_info("drained, exiting");
		event_base_loopbreak(srv->base);
	} else if (now >= srv->drain_until_us) {
		cbd_log_warning(
		    "drain timeout: %u requests still in flight", left);
		event_base_loopbreak(srv->base);
	}
}

/* server_statements numbers pol's loader SQL in the database pool. */
static cb_status
server_statements(cbd_server *srv, cbd_policy *pol)
{
	for (size_t i = 0; srv->env.db != NULL && i < pol->cfg->n_resources;
	     i++) {
		const cbd_resource *r  = &pol->cfg->resources[i];
		cb_status           rv = cbd_db_statement(
		              srv->env.db, r->sql, r->n_params, &pol->stmt[i]);
		if (rv != CB_OK) {
			return rv;
		}
	}
	return CB_OK;
}

/* server_log_lines logs each line of text (cbd_errors) on its own. */
static void
server_log_lines(int level, const char *text)
{
	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		int         len =
                    end != NULL ? (int) (end - line) : (int) strlen(line);

		cbd_log(level, "reload: %.*s", len, line);
		line = end != NULL ? end + 1 : NULL;
	}
}

/*
 * server_zone makes zone the process' time zone, for by-date TTLs. Only
 * the loop reads local time (svc_fetch.c) or the environment (libpq,
 * sd_notify) while the broker runs, and it is the one calling this, so
 * setenv cannot race with a reader.
 */
static int
server_zone(const char *zone)
{
	const char *now = getenv("TZ");

	if (now != NULL && strcmp(now, zone) == 0) {
		return 0;
	}
	if (setenv("TZ", zone, 1) != 0) {
		return -1;
	}
	tzset();
	return 0;
}

/* server_publish puts pol in effect in place of the current policy. */
static void
server_publish(cbd_server *srv, cbd_policy *pol)
{
	cbd_policy *old = srv->host.policy;

	srv->host.policy = pol;
	cbd_limits_publish(&srv->limits, &pol->limits);
	cbd_log_set_level(pol->cfg->log_level);
	/* Whatever holds the old one finishes on it; the last frees it. */
	cbd_policy_rele(old);
}

/*
 * server_reload (SIGHUP) reads the configuration file again. Invalid, or
 * anything else failing: every error is logged and nothing changes.
 * Valid: what cannot change live keeps its running value (each such
 * change is logged), and a new policy goes in effect at once; requests,
 * loads and warm runs already going finish on the one they hold. Only
 * the file is read: no other I/O on the loop.
 */
static void
server_reload(cbd_server *srv)
{
	const char *path  = srv->cfg.path;
	cbd_config  next  = { 0 };
	cbd_errors  errs  = { 0 };
	cbd_errors  notes = { 0 };
	cbd_policy *pol   = NULL;
	char        status[256];

	cbd_log_info("SIGHUP: reloading %s", path);
	cbd_sdnotify_reloading(&srv->sd, "reloading the configuration");
	if (cbd_config_load(&next, path, &errs) == CB_OK) {
		cbd_config_pin(&next, &srv->cfg, &notes, &errs);
	}
	if (errs.count == 0 &&
	    cbd_policy_alloc(&pol, &next, srv->host.policy) != CB_OK) {
		cbd_errors_add(&errs, path, 0, "out of memory");
	}
	if (errs.count == 0 && server_statements(srv, pol) != CB_OK) {
		cbd_errors_add(&errs, path, 0,
		    "out of memory for the loaders' statements");
	}
	if (errs.count == 0 && server_zone(pol->cfg->time_zone) != 0) {
		cbd_errors_add(&errs, path, 0, "cannot set the time zone");
	}
	if (errs.count != 0) {
		server_log_lines(CBD_LOG_ERROR, errs.text);
		cbd_log_error("reload: %s: %d error%s; the configuration in "
		              "effect is unchanged (policy generation %llu)",
		    path, errs.count, errs.count == 1 ? "" : "s",
		    (unsigned long long) srv->host.policy->gen);
		snprintf(srv->reload_note, sizeof(srv->reload_note),
		    "reload rejected (%d error%s)", errs.count,
		    errs.count == 1 ? "" : "s");
		cbd_policy_rele(pol);
		cbd_config_fini(&next);
	} else {
		server_log_lines(CBD_LOG_WARNING, notes.text);
		server_publish(srv, pol);
		cbd_log_info("reload: %s: policy generation %llu in effect: "
		             "%zu resources, %zu event rules, %zu warm "
		             "strategies; %d setting%s kept until a restart",
		    path, (unsigned long long) pol->gen, pol->cfg->n_resources,
		    pol->cfg->n_events, pol->cfg->n_warms, notes.count,
		    notes.count == 1 ? "" : "s");
		snprintf(srv->reload_note, sizeof(srv->reload_note),
		    "reloaded (policy generation %llu)",
		    (unsigned long long) pol->gen);
	}
	cbd_errors_fini(&errs);
	cbd_errors_fini(&notes);
	server_status(srv, status, sizeof(status));
	cbd_sdnotify_ready(&srv->sd, status);
}

static void
server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	cbd_server *srv = arg;
	char        status[256];

	(void) what;
	if (sig == SIGHUP) {
		server_reload(srv);
		return;
	}
	if (atomic_load(&srv->host.draining)) {
		cbd_log_warning("second %s: exiting without waiting",
		    sig == SIGINT ? "SIGINT" : "SIGTERM");
		event_base_loopbreak(srv->base);
		return;
	}
	cbd_log_info("%s: draining %u requests in flight (at most %llu ms)",
	    sig == SIGINT ? "SIGINT" : "SIGTERM",
	    atomic_load(&srv->host.in_flight),
	    (unsigned long long) srv->host.policy->cfg->drain_timeout_ms);
	/* Listeners stay open: closing one closes its connections, and the
	 * replies of the requests in flight would be lost. New requests are
	 * refused with UNAVAILABLE instead (request.c). */
	atomic_store(&srv->host.draining, 1);
	srv->drain_until_us =
	    cbd_now_us() + srv->host.policy->cfg->drain_timeout_ms * 1000;
	server_status(srv, status, sizeof(status));
	cbd_sdnotify_stopping(&srv->sd, status);
}

static cb_status
server_events(cbd_server *srv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct timeval   tv     = { 0, CRON_MS * 1000L };

	srv->cron = event_new(srv->base, -1, EV_PERSIST, server_cron_cb, srv);
	if (srv->cron == NULL || event_add(srv->cron, &tv) != 0) {
		return CB_INTERNAL;
	}
	for (size_t i = 0; i < 3; i++) {
		srv->signals[i] =
		    evsignal_new(srv->base, sigs[i], server_signal_cb, srv);
		if (srv->signals[i] == NULL ||
		    event_add(srv->signals[i], NULL) != 0) {
			return CB_INTERNAL;
		}
	}
	return CB_OK;
}

/* The guard's probe for the request listeners: a req0 socket (rep0's
 * peer) that never sends. */
static int
server_probe_open(nng_socket *s)
{
	return nng_req0_open(s);
}

/* server_guard watches every IPC listener, the feed's included. */
static cb_status
server_guard(cbd_server *srv)
{
	cb_status rv;

	if ((rv = cbd_ipcguard_alloc(&srv->env.ipcguard)) != CB_OK) {
		return rv;
	}
	for (size_t i = 0; i < srv->ls.n_listeners; i++) {
		if ((rv = cbd_ipcguard_watch(srv->env.ipcguard, srv->ls.sock,
		         &srv->ls.listeners[i], srv->cfg.listen[i],
		         srv->cfg.ipc_mode, server_probe_open)) != CB_OK) {
			return rv;
		}
	}
	if ((rv = cbd_feed_guard(
	         srv->env.feed, srv->env.ipcguard, &srv->cfg)) != CB_OK) {
		return rv;
	}
	/* The watches no longer move: a connection refused for
	 * max_connections, which never reaches ADD_POST, proves its
	 * listener alive too. */
	cbd_conns_seen(srv->ls.conns, cbd_ipcguard_seen, srv->env.ipcguard);
	return CB_OK;
}

/* server_host fills what the requests share, before the first one. */
static void
server_host(cbd_server *srv)
{
	cbd_req_host *h = &srv->host;

	h->base         = srv->base;
	h->loop         = &srv->loop;
	h->outbox       = srv->outbox;
	h->stats        = &srv->stats;
	h->limits       = &srv->limits;
	h->dispatch     = cbd_dispatch;
	h->dispatch_arg = srv->env.dedupe;
	h->env          = &srv->env;
}

/* server_env completes what the methods use (the modules are made in
 * it), once the listener exists. */
static void
server_env(cbd_server *srv)
{
	cbd_env *e = &srv->env;

	e->host     = &srv->host;
	e->cfg      = &srv->cfg;
	e->conns    = srv->ls.conns;
	e->contexts = srv->ls.n_reqs;
	e->start_us = srv->start_us;
}

/* server_modules creates the modules, each with its collaborators. */
/* server_l1 makes the L1 and its tracking when l1_size is set and some
 * namespace has l1 = yes. */
static cb_status
server_l1(cbd_server *srv)
{
	const cbd_config *cfg = &srv->cfg;
	char            **prefixes;
	size_t            n  = 0;
	cb_status         rv = CB_OK;

	if (cfg->l1_size == 0) {
		return CB_OK;
	}
	if ((prefixes = calloc(cfg->n_namespaces + 1, sizeof(*prefixes))) ==
	    NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < cfg->n_namespaces && rv == CB_OK; i++) {
		const cbd_nsconf *ns = &cfg->namespaces[i];
		size_t            size =
		    strlen(cfg->redis.key_prefix) + strlen(ns->name) + 2;
		if (!ns->l1) {
			continue;
		}
		if ((prefixes[n] = malloc(size)) == NULL) {
			rv = CB_RESOURCE_EXHAUSTED;
			break;
		}
		snprintf(prefixes[n++], size, "%s%s:", cfg->redis.key_prefix,
		    ns->name);
	}
	if (rv == CB_OK && n == 0) {
		cbd_log_warning("l1_size is set, but no [namespace] has l1 = "
		                "yes: the broker runs without an L1");
	} else if (rv == CB_OK &&
	    (rv = cbd_l1_alloc(&srv->env.l1, cfg->l1_size)) == CB_OK &&
	    (rv = cbd_tracking_open(&srv->env.tracking, srv->base, &cfg->redis,
	         srv->env.l1, (const char *const *) prefixes, n,
	         cfg->l1_tracking == CBD_L1_TRACKING_DEFAULT ? srv->env.redis
	                                                     : NULL)) ==
	        CB_OK) {
		cbd_log_info("l1: %zu bytes for %zu namespace%s, off until "
		             "Redis tracks them",
		    cfg->l1_size, n, n == 1 ? "" : "s");
	}
	for (size_t i = 0; i < n; i++) {
		free(prefixes[i]);
	}
	free(prefixes);
	return rv;
}

static cb_status
server_modules(cbd_server *srv)
{
	cbd_config   *cfg = &srv->cfg;
	cbd_warm_deps wd;
	cb_status     rv;

	if ((rv = cbd_redis_pool_open(
	         &srv->env.redis, srv->base, &cfg->redis)) != CB_OK ||
	    (rv = cbd_journal_alloc(&srv->env.journal, &srv->host,
	         srv->env.redis, cfg->redis.journal_size)) != CB_OK ||
	    (cfg->db.notify_channel[0] != '\0' &&
	        (rv = cbd_notify_alloc(&srv->env.notify, &srv->host,
	             srv->env.journal)) != CB_OK) ||
	    (cfg->db.enabled &&
	        (rv = cbd_db_pool_open(&srv->env.db, srv->base, cfg,
	             cbd_notify_received, cbd_notify_listening,
	             srv->env.notify)) != CB_OK) ||
	    (rv = cbd_loader_alloc(&srv->env.loader, srv->env.db,
	         srv->env.redis, &srv->stats)) != CB_OK ||
	    (rv = server_l1(srv)) != CB_OK ||
	    (rv = server_statements(srv, srv->host.policy)) != CB_OK) {
		return rv;
	}
	wd.host     = &srv->host;
	wd.db       = srv->env.db;
	wd.redis    = srv->env.redis;
	wd.journal  = srv->env.journal;
	wd.notify   = srv->env.notify;
	wd.start_us = srv->start_us;
	if ((rv = cbd_warmer_alloc(&srv->env.warmer, &wd)) != CB_OK ||
	    (rv = cbd_listener_open(&srv->ls, cfg, &srv->host)) != CB_OK ||
	    (rv = cbd_feed_open(&srv->env.feed, cfg, srv->ls.tls)) != CB_OK ||
	    (rv = server_guard(srv)) != CB_OK ||
	    (rv = cbd_http_open(&srv->http, cfg->http, &srv->host,
	         srv->env.db != NULL)) != CB_OK) {
		return rv;
	}
	return CB_OK;
}

cb_status
cbd_server_open(cbd_server **out, cbd_config *cfg)
{
	cbd_server *srv;
	cbd_config  pcfg = { 0 };
	cb_status   rv;
	char        status[256];

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	srv->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	/* The policy gets the sections and its own copy of the settings;
	 * srv->cfg keeps the restart-only ones. */
	if (cbd_config_split(&srv->cfg, &pcfg) != 0 ||
	    cbd_policy_alloc(&srv->host.policy, &pcfg, NULL) != CB_OK) {
		cbd_config_fini(&pcfg);
		cbd_config_fini(&srv->cfg);
		free(srv);
		cbd_log_error("cannot start: out of memory");
		return CB_RESOURCE_EXHAUSTED;
	}
	cbd_limits_publish(&srv->limits, &srv->host.policy->limits);
	srv->start_us = cbd_now_us();
	cbd_stats_init(&srv->stats);
	atomic_init(&srv->host.draining, 0);
	atomic_init(&srv->host.closing, 0);
	atomic_init(&srv->host.in_flight, 0);
	cbd_sdnotify_init(&srv->sd);

	if ((srv->base = event_base_new()) == NULL) {
		rv = CB_INTERNAL;
		goto fail;
	}
	if ((rv = cbd_loop_init(&srv->loop, srv->base)) != CB_OK ||
	    (rv = cbd_outbox_alloc(&srv->outbox)) != CB_OK ||
	    (rv = server_events(srv)) != CB_OK ||
	    (rv = cbd_dedupe_alloc(&srv->env.dedupe, srv->cfg.dedupe_entries,
	         srv->cfg.dedupe_window_ms * 1000)) != CB_OK) {
		goto fail;
	}
	server_host(srv);
	if ((rv = server_modules(srv)) != CB_OK) {
		goto fail;
	}
	server_env(srv);
	cbd_listener_start(&srv->ls);
	cbd_log_info("cachebrokerd %s ready: %u contexts, redis %s:%d",
	    CBD_VERSION, srv->ls.n_reqs, srv->cfg.redis.host,
	    srv->cfg.redis.port);
	server_status(srv, status, sizeof(status));
	cbd_sdnotify_ready(&srv->sd, status);
	*out = srv;
	return CB_OK;
fail:
	cbd_log_error("cannot start: %s", cb_status_str(rv));
	cbd_server_close(srv);
	return rv;
}

int
cbd_server_run(cbd_server *srv)
{
	if (event_base_dispatch(srv->base) < 0) {
		cbd_log_error("event loop failed");
		return 1;
	}
	return 0;
}

void
cbd_server_close(cbd_server *srv)
{
	if (srv == NULL) {
		return;
	}
	/* Refuse what still arrives (a request still in the inbox is
	 * answered UNAVAILABLE, not run), then let the pool complete its
	 * pending commands (with errors: the replies still go out) before
	 * nng goes. */
	atomic_store(&srv->host.draining, 1);
	atomic_store(&srv->host.closing, 1);
	cbd_http_quiesce(srv->http);
	if (srv->loop.base != NULL) {
		cbd_loop_run_jobs(&srv->loop); /* the last scrapes too */
	}
	cbd_db_pool_close(srv->env.db);
	srv->env.db = NULL;
	cbd_redis_pool_close(srv->env.redis);
	srv->env.redis = NULL;
	cbd_tracking_close(srv->env.tracking); /* the L1 serves no more */
	srv->env.tracking = NULL;
	cbd_req_internal_cancel(&srv->host); /* their callbacks run now */
	cbd_warmer_free(srv->env.warmer);    /* may answer Warm calls */
	srv->env.warmer = NULL;
	cbd_http_close(srv->http); /* its scrapes were answered above */
	srv->http = NULL;
	/* The guard's pipe callbacks on the listening sockets end with
	 * those sockets: close them before freeing what they read. Replies
	 * queued for nng go first (they fail to send on a closed socket). */
	cbd_outbox_stop(srv->outbox);
	cbd_listener_close(&srv->ls);
	cbd_l1_free(srv->env.l1); /* nng's threads are done with it */
	srv->env.l1 = NULL;
	cbd_feed_close(srv->env.feed);
	srv->env.feed = NULL;
	cbd_ipcguard_free(srv->env.ipcguard);
	srv->env.ipcguard = NULL;
	cbd_req_internal_free(&srv->host);
	cbd_outbox_free(srv->outbox);
	cbd_journal_free(srv->env.journal);
	cbd_notify_free(srv->env.notify);
	cbd_loader_free(srv->env.loader);
	cbd_dedupe_free(srv->env.dedupe);
	cbd_policy_rele(srv->host.policy); /* every other hold is gone */
	for (size_t i = 0; i < 3; i++) {
		if (srv->signals[i] != NULL) {
			event_free(srv->signals[i]);
		}
	}
	if (srv->cron != NULL) {
		event_free(srv->cron);
	}
	cbd_loop_fini(&srv->loop);
	if (srv->base != NULL) {
		event_base_free(srv->base);
	}
	cbd_config_fini(&srv->cfg);
	free(srv);
}

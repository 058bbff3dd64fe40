/* SPDX-License-Identifier: MIT */
/* Keeping the L1 coherent: Redis' client-side caching invalidations. */
#include "tracking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "backoff.h"
#include "log.h"
#include "redis_pool.h"

#define CHANNEL "__redis__:invalidate"

typedef struct tconn {
	redisAsyncContext *ac;    /* NULL: not connected */
	int                ready; /* sub: subscribed; ctl: answered PING */
	const char        *name;  /* "sub" or "ctl", for the log */
} tconn;

struct cbd_tracking {
	struct event_base      *base;
	const cbd_redis_config *cfg;
	cbd_l1                 *l1;
	char                  **prefixes;
	size_t                  n;
	tconn                   sub;
	tconn                   ctl;
	long long               sub_id;
	int                     on;      /* CLIENT TRACKING answered OK */
	int                     closing; /* no reconnects */
	struct event           *retry;
	unsigned                attempts;
	uint64_t                messages;
	cbd_redis_pool         *pool;    /* default mode; NULL: BCAST */
	int                     waiting; /* for the pool's track answers */
};

static void connect_both(cbd_tracking *t);

/* conn_free discards c's context; its callbacks see ac->data NULL. Inside
 * a hiredis callback the free happens when it returns. */
static void
conn_free(tconn *c)
{
	redisAsyncContext *ac = c->ac;

	c->ac    = NULL;
	c->ready = 0;
	if (ac != NULL) {
		ac->data = NULL;
		redisAsyncFree(ac);
	}
}

/* lost: tracking is off. L1 is emptied and stays off; both connections go
 * and come back after the backoff. */
static void
lost(cbd_tracking *t, const char *why)
{
	if (t->on) {
		cbd_log_warning(
		    "l1: tracking lost (%s): L1 emptied, off until "
		    "tracking is back",
		    why);
	} else {
		cbd_log_debug("l1: tracking: %s", why);
	}
	t->on      = 0;
	t->waiting = 0;
	cbd_l1_set_coherent(t->l1, 0);
	conn_free(&t->sub);
	conn_free(&t->ctl);
	if (!t->closing) {
		cbd_backoff_arm(t->retry, t->cfg->reconnect_min_ms,
		    t->cfg->reconnect_max_ms, &t->attempts);
	}
}

/* failed: a reply that is missing (connection gone) or an error (logged)
 * loses tracking; 1 then. */
static int
failed(cbd_tracking *t, const redisReply *reply, const char *what)
{
	char why[200];

	if (reply != NULL && reply->type != REDIS_REPLY_ERROR) {
		return 0;
	}
	snprintf(why, sizeof(why), "%s: %s", what,
	    reply != NULL ? reply->str : "no reply");
	if (reply != NULL) {
		cbd_log_error("l1: %s", why); /* Redis refused it */
	}
	lost(t, why);
	return 1;
}

/* current says whether ac is still one of t's connections. */
static cbd_tracking *
current(const redisAsyncContext *ac)
{
	return ac->data;
}

/* tracked: tracking on (the pool's connections, default mode, or ctl). */
static void
tracked(cbd_tracking *t, const char *how)
{
	t->on       = 1;
	t->attempts = 0;
	cbd_l1_set_coherent(t->l1, 1);
	cbd_log_info("l1: tracking on (%s): L1 serves", how);
}

static void
track_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	cbd_tracking *t     = current(ac);
	redisReply   *reply = r;

	(void) privdata;
	if (t == NULL) {
		return;
	}
	if (failed(t, reply, "CLIENT TRACKING")) {
		return;
	}
	tracked(t, "BCAST, the namespaces' prefixes");
}

/* pool_tracked: every ready pool connection answered CLIENT TRACKING. */
static void
pool_tracked(void *arg, int ok)
{
	cbd_tracking *t = arg;

	if (!t->waiting) {
		return; /* lost since */
	}
	t->waiting = 0;
	if (!ok) {
		lost(t, "CLIENT TRACKING failed on a pool connection");
		return;
	}
	tracked(t, "default mode, the pool's connections");
}

/* pool_lost: a pool connection went, and with it the tracking of what
 * it read: nothing in L1 is safe to serve any longer. */
static void
pool_lost(void *arg)
{
	cbd_tracking *t = arg;

	if (t->on) {
		cbd_l1_clear(t->l1);
	}
}

/* maybe_track turns tracking on once sub is subscribed and ctl ready
 * (default mode: the pool's connections instead of ctl). */
static void
maybe_track(cbd_tracking *t)
{
	char         id[24];
	size_t       argc = 6 + 2 * t->n;
	const char **argv;
	size_t      *lens;

	if (t->pool != NULL && t->sub.ready) {
		t->waiting = 1;
		cbd_redis_pool_track(t->pool, t->sub_id, pool_tracked, t);
		return;
	}
	if (!t->sub.ready || !t->ctl.ready) {
		return;
	}
	argv = calloc(argc, sizeof(*argv));
	lens = calloc(argc, sizeof(*lens));
	if (argv == NULL || lens == NULL) {
		free(argv);
		free(lens);
		lost(t, "out of memory");
		return;
	}
	snprintf(id, sizeof(id), "%lld", t->sub_id);
	argv[0] = "CLIENT";
	argv[1] = "TRACKING";
	argv[2] = "on";
	argv[3] = "REDIRECT";
	argv[4] = id;
	argv[5] = "BCAST";
	for (size_t i = 0; i < t->n; i++) {
		argv[6 + 2 * i] = "PREFIX";
		argv[7 + 2 * i] = t->prefixes[i];
	}
	for (size_t i = 0; i < argc; i++) {
		lens[i] = strlen(argv[i]);
	}
	redisAsyncCommandArgv(
	    t->ctl.ac, track_cb, NULL, (int) argc, argv, lens);
	free(argv);
	free(lens);
}

/* invalidate applies one message: an array of keys, or nil (a flush). */
static void
invalidate(cbd_tracking *t, const redisReply *payload)
{
	t->messages++;
	if (payload->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < payload->elements; i++) {
			const redisReply *k = payload->element[i];
			if (k->type == REDIS_REPLY_STRING) {
				cbd_l1_invalidate(t->l1, k->str);
			}
		}
	} else if (payload->type == REDIS_REPLY_STRING) {
		cbd_l1_invalidate(t->l1, payload->str);
	} else {
		cbd_l1_clear(t->l1); /* FLUSHDB, FLUSHALL */
	}
}

/* sub_cb: SUBSCRIBE's confirmation, then every message. */
static void
sub_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	cbd_tracking *t     = current(ac);
	redisReply   *reply = r;
	const char   *kind;

	(void) privdata;
	if (t == NULL || reply == NULL) {
		return; /* dropped; the disconnect says why */
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING) {
		lost(t, "unexpected reply on the invalidation channel");
		return;
	}
	kind = reply->element[0]->str;
	if (strcmp(kind, "subscribe") == 0) {
		t->sub.ready = 1;
		maybe_track(t);
	} else if (strcmp(kind, "message") == 0) {
		invalidate(t, reply->element[2]);
	}
}

static void
sub_id_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	cbd_tracking *t     = current(ac);
	redisReply   *reply = r;

	(void) privdata;
	if (t == NULL) {
		return;
	}
	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
		lost(t, "CLIENT ID failed");
		return;
	}
	t->sub_id = reply->integer;
	redisAsyncCommand(ac, sub_cb, NULL, "SUBSCRIBE %s", CHANNEL);
}

/* step_cb checks AUTH on either connection, and ctl's PING. */
static void
step_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	cbd_tracking *t     = current(ac);
	redisReply   *reply = r;
	tconn        *c     = privdata;

	if (t == NULL) {
		return;
	}
	if (failed(t, reply, c->name)) {
		return;
	}
	if (c == &t->ctl && reply->type == REDIS_REPLY_STATUS &&
	    strcmp(reply->str, "PONG") == 0) {
		c->ready = 1;
		maybe_track(t);
	}
}

static void
on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *) cac;
	cbd_tracking      *t  = current(ac);
	tconn             *c;

	if (t == NULL) {
		return;
	}
	c = ac == t->sub.ac ? &t->sub : &t->ctl;
	if (status != REDIS_OK) {
		/* hiredis frees this context after the callback. */
		c->ac    = NULL;
		ac->data = NULL;
		lost(t, ac->errstr);
		return;
	}
	if (t->cfg->password[0] != '\0') {
		const char *argv[] = { "AUTH", t->cfg->password };
		size_t      lens[] = { 4, strlen(t->cfg->password) };
		redisAsyncCommandArgv(ac, step_cb, c, 2, argv, lens);
	}
	if (c == &t->sub) {
		redisAsyncCommand(ac, sub_id_cb, NULL, "CLIENT ID");
	} else {
		redisAsyncCommand(ac, step_cb, c, "PING");
	}
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	cbd_tracking *t = current(ac);
	tconn        *c;

	(void) status;
	if (t == NULL) {
		return;
	}
	c     = ac == t->sub.ac ? &t->sub : &t->ctl;
	c->ac = NULL; /* hiredis frees it */
	lost(t, ac->err != 0 ? ac->errstr : "connection closed");
}

static int
conn_start(cbd_tracking *t, tconn *c)
{
	redisAsyncContext *ac;

	if (t->cfg->host[0] == '/') {
		ac = redisAsyncConnectUnix(t->cfg->host);
	} else {
		ac = redisAsyncConnect(t->cfg->host, t->cfg->port);
	}
	if (ac == NULL || ac->err != 0) {
		if (ac != NULL) {
			redisAsyncFree(ac);
		}
		return -1;
	}
	ac->data = t;
	if (redisLibeventAttach(ac, t->base) != REDIS_OK) {
		ac->data = NULL;
		redisAsyncFree(ac);
		return -1;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	c->ac    = ac;
	c->ready = 0;
	return 0;
}

static void
connect_both(cbd_tracking *t)
{
	if (conn_start(t, &t->sub) != 0 ||
	    (t->pool == NULL && conn_start(t, &t->ctl) != 0)) {
		lost(t, "cannot connect");
	}
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	connect_both(arg);
}

cb_status
cbd_tracking_open(cbd_tracking **out, struct event_base *base,
    const cbd_redis_config *cfg, cbd_l1 *l1, const char *const *prefixes,
    size_t n, cbd_redis_pool *pool)
{
	cbd_tracking *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	t->base     = base;
	t->cfg      = cfg;
	t->l1       = l1;
	t->sub.name = "sub";
	t->ctl.name = "ctl";
	t->pool     = pool;
	if ((t->prefixes = calloc(n, sizeof(*t->prefixes))) == NULL ||
	    (t->retry = evtimer_new(base, retry_cb, t)) == NULL) {
		cbd_tracking_close(t);
		return CB_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < n; i++) {
		if ((t->prefixes[i] = strdup(prefixes[i])) == NULL) {
			cbd_tracking_close(t);
			return CB_RESOURCE_EXHAUSTED;
		}
		t->n++;
	}
	if (pool != NULL) {
		cbd_redis_pool_on_lost(pool, pool_lost, t);
	}
	connect_both(t);
	*out = t;
	return CB_OK;
}

void
cbd_tracking_close(cbd_tracking *t)
{
	if (t == NULL) {
		return;
	}
	t->closing = 1;
	t->on      = 0;
	cbd_l1_set_coherent(t->l1, 0);
	conn_free(&t->sub);
	conn_free(&t->ctl);
	if (t->retry != NULL) {
		event_free(t->retry);
	}
	for (size_t i = 0; i < t->n; i++) {
		free(t->prefixes[i]);
	}
	free(t->prefixes);
	free(t);
}

int
cbd_tracking_on(const cbd_tracking *t)
{
	return t != NULL && t->on;
}

uint64_t
cbd_tracking_messages(const cbd_tracking *t)
{
	return t != NULL ? t->messages : 0;
}

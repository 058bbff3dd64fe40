/* SPDX-License-Identifier: MIT */
/* The Redis pool: hiredis async connections on the backend loop. */
#include "redis_pool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include "backoff.h"
#include "log.h"
#include "loop.h"

/*
 * A connection slot lives as long as the pool; its hiredis context comes
 * and goes:
 *
 *   DEAD ──timer──► CONNECTING ──connected──► HANDSHAKE ──PONG──► READY
 *    ▲                  │                        │                  │
 *    └──────────────────┴── error, timeout, no progress, lost ──────┘
 *                           (backoff with jitter before the next try)
 *
 * A connection that errs or stalls is discarded, never reused: hiredis
 * matches replies to callbacks by order, and after a timeout we no longer
 * know which reply is whose. Discarding completes every pending command
 * with a NULL reply. epoch changes with every context so that a callback
 * can tell whether it belongs to the current one.
 */
enum conn_state { CONN_DEAD, CONN_CONNECTING, CONN_HANDSHAKE, CONN_READY };

struct cbd_redis_conn {
	cbd_redis_pool    *pool;     /* owner */
	redisAsyncContext *ac;       /* NULL unless CONNECTING..READY */
	enum conn_state    state;    /* see above */
	uint32_t           epoch;    /* bumped per context */
	unsigned           index;    /* slot number, for logs */
	unsigned           attempts; /* failed tries since last READY */
	uint64_t           since_us; /* state entered, or last progress */
	uint64_t           pending;  /* commands awaiting replies */
	struct event      *retry;    /* reconnect timer */
	long long          track_id; /* the handshake's REDIRECT id; 0: none */
};

struct cbd_redis_pool {
	const cbd_redis_config *cfg;   /* not owned */
	struct event_base      *base;  /* not owned */
	cbd_redis_conn         *conns; /* cfg->connections slots */
	size_t                  n;
	size_t                  rr;         /* round-robin cursor */
	int                     closing;    /* no reconnects */
	char                    error[160]; /* latest connection error */
	long long               track_id;   /* REDIRECT id; 0: no tracking */
	uint32_t                track_gen;  /* bumped per track call */
	unsigned                track_wait; /* its answers still due */
	int                     track_ok;   /* none of them failed */
	cbd_redis_track_fn     *track_done;
	void                   *track_arg;
	void (*lost_fn)(void *arg); /* a ready connection was lost */
	void *lost_arg;
};

/* One command in flight: what to call back and on which context. */
typedef struct rcall {
	cbd_redis_fn   *fn;
	void           *arg;
	uint64_t        tag;
	cbd_redis_conn *conn;
	uint32_t        epoch;
} rcall;

static void conn_connect(cbd_redis_conn *c);

static void pool_set_error(cbd_redis_pool *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
pool_set_error(cbd_redis_pool *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
}

static void
conn_schedule(cbd_redis_conn *c)
{
	if (!c->pool->closing) {
		cbd_backoff_arm(c->retry, c->pool->cfg->reconnect_min_ms,
		    c->pool->cfg->reconnect_max_ms, &c->attempts);
	}
}

/* conn_lost records that the context is gone (hiredis frees it) and
 * schedules a new one. */
static void
conn_lost(cbd_redis_conn *c)
{
	int was_ready = c->state == CONN_READY;

	c->ac      = NULL;
	c->state   = CONN_DEAD;
	c->pending = 0;
	if (was_ready && !c->pool->closing) {
		cbd_log_warning(
		    "redis: connection %u lost: %s", c->index, c->pool->error);
		if (c->pool->lost_fn != NULL) {
			c->pool->lost_fn(c->pool->lost_arg);
		}
	}
	conn_schedule(c);
}

/* conn_drop discards the context on our initiative. Pending commands
 * complete with NULL replies, synchronously or (inside a hiredis
 * callback) right after it returns. */
static void
conn_drop(cbd_redis_conn *c, const char *why)
{
	redisAsyncContext *ac = c->ac;

	if (ac == NULL) {
		return;
	}
	pool_set_error(c->pool, "%s", why);
	ac->data = NULL; /* its disconnect callback is ours to ignore */
	c->epoch++;
	conn_lost(c);
	redisAsyncFree(ac);
}

static void
conn_on_disconnect(const redisAsyncContext *ac, int status)
{
	cbd_redis_conn *c = ac->data;

	(void) status;
	if (c == NULL) {
		return; /* dropped by conn_drop */
	}
	pool_set_error(
	    c->pool, "%s", ac->err != 0 ? ac->errstr : "connection closed");
	c->epoch++;
	conn_lost(c);
}

/* CLIENT TRACKING on REDIRECT <id>, as an argv. */
typedef struct track_cmd {
	char        id[24];
	const char *argv[5];
	size_t      lens[5];
} track_cmd;

static void
track_cmd_init(track_cmd *t, long long id)
{
	static const char *const words[4] = { "CLIENT", "TRACKING", "on",
		"REDIRECT" };

	snprintf(t->id, sizeof(t->id), "%lld", id);
	for (int i = 0; i < 4; i++) {
		t->argv[i] = words[i];
	}
	t->argv[4] = t->id;
	for (int i = 0; i < 5; i++) {
		t->lens[i] = strlen(t->argv[i]);
	}
}

/* conn_send_tracking sends CLIENT TRACKING on REDIRECT <the pool's id>
 * during c's handshake (fn: conn_on_handshake). */
static void
conn_send_tracking(cbd_redis_conn *c, redisCallbackFn *fn)
{
	track_cmd t;

	track_cmd_init(&t, c->pool->track_id);
	c->track_id = c->pool->track_id;
	redisAsyncCommandArgv(c->ac, fn, c, 5, t.argv, t.lens);
	c->pending++;
}

static void
conn_on_handshake(redisAsyncContext *ac, void *r, void *privdata)
{
	cbd_redis_conn *c     = privdata;
	redisReply     *reply = r;
	int             last;

	if (ac->data == NULL || c->state != CONN_HANDSHAKE) {
		return; /* the context was dropped meanwhile */
	}
	c->pending--;
	c->since_us = cbd_now_us();
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		char why[200];
		snprintf(why, sizeof(why), "handshake failed: %s",
		    reply != NULL ? reply->str : "no reply");
		cbd_log_error("redis: connection %u: %s", c->index, why);
		conn_drop(c, why);
		return;
	}
	last = c->pending == 0;
	if (last && c->track_id != c->pool->track_id) {
		/* The REDIRECT id changed during the handshake. */
		conn_send_tracking(c, conn_on_handshake);
		return;
	}
	if (last) {
		c->state          = CONN_READY;
		c->attempts       = 0;
		c->pool->error[0] = '\0';
		cbd_log_info("redis: connection %u ready (%s:%d db %d)",
		    c->index, c->pool->cfg->host, c->pool->cfg->port,
		    c->pool->cfg->db);
	}
}

static void
conn_on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext      *ac = (redisAsyncContext *) cac;
	cbd_redis_conn         *c  = ac->data;
	const cbd_redis_config *cfg;
	char                    db[16];

	if (c == NULL) {
		return;
	}
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		pool_set_error(c->pool, "connect: %s", ac->errstr);
		cbd_log_debug(
		    "redis: connection %u: %s", c->index, c->pool->error);
		conn_lost(c);
		return;
	}
	cfg         = c->pool->cfg;
	c->state    = CONN_HANDSHAKE;
	c->since_us = cbd_now_us();
	/* AUTH, SELECT and PING go out together; the connection is ready
	 * when all have answered. Freeing a context is not allowed inside
	 * this callback, so failures are handled in conn_on_handshake. */
	if (cfg->password[0] != '\0') {
		const char *argv[] = { "AUTH", cfg->password };
		size_t      lens[] = { 4, strlen(cfg->password) };
		redisAsyncCommandArgv(ac, conn_on_handshake, c, 2, argv, lens);
		c->pending++;
	}
	if (cfg->db != 0) {
		snprintf(db, sizeof(db), "%d", cfg->db);
		const char *argv[] = { "SELECT", db };
		size_t      lens[] = { 6, strlen(db) };
		redisAsyncCommandArgv(ac, conn_on_handshake, c, 2, argv, lens);
		c->pending++;
	}
	if (c->pool->track_id != 0) {
		conn_send_tracking(c, conn_on_handshake);
	}
	redisAsyncCommand(ac, conn_on_handshake, c, "PING");
	c->pending++;
}

static void
conn_connect(cbd_redis_conn *c)
{
	const cbd_redis_config *cfg = c->pool->cfg;
	redisAsyncContext      *ac;

	if (cfg->host[0] == '/') {
		ac = redisAsyncConnectUnix(cfg->host);
	} else {
		ac = redisAsyncConnect(cfg->host, cfg->port);
	}
	if (ac == NULL) {
		pool_set_error(c->pool, "%s", "connect: out of memory");
		conn_schedule(c);
		return;
	}
	if (ac->err != 0) {
		pool_set_error(c->pool, "connect: %s", ac->errstr);
		redisAsyncFree(ac);
		conn_schedule(c);
		return;
	}
	ac->data = c;
	if (redisLibeventAttach(ac, c->pool->base) != REDIS_OK) {
		pool_set_error(c->pool, "%s", "cannot attach to the loop");
		ac->data = NULL;
		redisAsyncFree(ac);
		conn_schedule(c);
		return;
	}
	redisAsyncSetConnectCallback(ac, conn_on_connect);
	redisAsyncSetDisconnectCallback(ac, conn_on_disconnect);
	c->ac = ac;
	c->epoch++;
	c->track_id = 0;
	c->state    = CONN_CONNECTING;
	c->since_us = cbd_now_us();
	c->pending  = 0;
}

static void
conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	conn_connect(arg);
}

cb_status
cbd_redis_pool_open(
    cbd_redis_pool **out, struct event_base *base, const cbd_redis_config *cfg)
{
	cbd_redis_pool *p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->conns = calloc(cfg->connections, sizeof(*p->conns))) == NULL) {
		free(p);
		return CB_RESOURCE_EXHAUSTED;
	}
	p->cfg  = cfg;
	p->base = base;
	p->n    = cfg->connections;
	for (size_t i = 0; i < p->n; i++) {
		cbd_redis_conn *c = &p->conns[i];
		c->pool           = p;
		c->index          = (unsigned) i;
		if ((c->retry = evtimer_new(base, conn_retry_cb, c)) == NULL) {
			cbd_redis_pool_close(p);
			return CB_RESOURCE_EXHAUSTED;
		}
	}
	for (size_t i = 0; i < p->n; i++) {
		conn_connect(&p->conns[i]);
	}
	*out = p;
	return CB_OK;
}

void
cbd_redis_pool_close(cbd_redis_pool *p)
{
	if (p == NULL) {
		return;
	}
	p->closing = 1;
	for (size_t i = 0; i < p->n; i++) {
		cbd_redis_conn *c = &p->conns[i];
		conn_drop(c, "broker shutting down");
		if (c->retry != NULL) {
			event_free(c->retry);
		}
	}
	free(p->conns);
	free(p);
}

/* track_ack: a ready connection's answer to CLIENT TRACKING. */
static void
track_ack(void *arg, uint64_t tag, redisReply *r)
{
	cbd_redis_pool *p = arg;

	if ((uint32_t) tag != p->track_gen || p->track_wait == 0) {
		return; /* a call since replaced this one */
	}
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		p->track_ok = 0;
	}
	if (--p->track_wait == 0 && p->track_done != NULL) {
		p->track_done(p->track_arg, p->track_ok);
	}
}

void
cbd_redis_pool_track(
    cbd_redis_pool *p, long long id, cbd_redis_track_fn *done, void *arg)
{
	track_cmd t;

	track_cmd_init(&t, id);
	p->track_id   = id;
	p->track_done = done;
	p->track_arg  = arg;
	p->track_wait = 0;
	p->track_ok   = 1;
	p->track_gen++;
	for (size_t i = 0; i < p->n; i++) {
		cbd_redis_conn *c = &p->conns[i];
		if (c->state != CONN_READY) {
			continue; /* its handshake does it */
		}
		c->track_id = id;
		if (cbd_redis_send(c, track_ack, p, p->track_gen, 5, t.argv,
		        t.lens) == 0) {
			p->track_wait++;
		} else {
			p->track_ok = 0;
		}
	}
	if (p->track_wait == 0) {
		done(arg, p->track_ok);
	}
}

void
cbd_redis_pool_on_lost(cbd_redis_pool *p, void (*fn)(void *arg), void *arg)
{
	p->lost_fn  = fn;
	p->lost_arg = arg;
}

cbd_redis_conn *
cbd_redis_pick(cbd_redis_pool *p)
{
	for (size_t i = 0; i < p->n; i++) {
		cbd_redis_conn *c = &p->conns[(p->rr + i) % p->n];
		if (c->state == CONN_READY) {
			p->rr = (p->rr + i + 1) % p->n;
			return c;
		}
	}
	return NULL;
}

static void
conn_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	rcall *call = privdata;

	(void) ac;
	if (call->epoch == call->conn->epoch && call->conn->pending > 0) {
		call->conn->pending--;
		call->conn->since_us = cbd_now_us();
	}
	call->fn(call->arg, call->tag, r);
	free(call);
}

cbd_redis_conn *
cbd_redis_pick_key(cbd_redis_pool *p, uint64_t hash)
{
	cbd_redis_conn *c = &p->conns[hash % p->n];

	return c->state == CONN_READY ? c : cbd_redis_pick(p);
}

int
cbd_redis_send(cbd_redis_conn *c, cbd_redis_fn *fn, void *arg, uint64_t tag,
    int argc, const char **argv, const size_t *argvlen)
{
	rcall *call;

	if (c == NULL || c->state != CONN_READY ||
	    (call = malloc(sizeof(*call))) == NULL) {
		return -1;
	}
	call->fn    = fn;
	call->arg   = arg;
	call->tag   = tag;
	call->conn  = c;
	call->epoch = c->epoch;
	if (redisAsyncCommandArgv(
	        c->ac, conn_on_reply, call, argc, argv, argvlen) != REDIS_OK) {
		free(call);
		return -1;
	}
	if (c->pending++ == 0) {
		c->since_us = cbd_now_us(); /* the stall clock starts now */
	}
	return 0;
}

void
cbd_redis_cron(cbd_redis_pool *p)
{
	const cbd_redis_config *cfg = p->cfg;
	uint64_t                now = cbd_now_us();
	char                    why[96];

	for (size_t i = 0; i < p->n; i++) {
		cbd_redis_conn *c       = &p->conns[i];
		uint64_t        idle_ms = (now - c->since_us) / 1000;

		switch (c->state) {
		case CONN_CONNECTING:
		case CONN_HANDSHAKE:
			if (idle_ms >= cfg->connect_timeout_ms) {
				snprintf(why, sizeof(why),
				    "connect timed out after %llu ms",
				    (unsigned long long) idle_ms);
				cbd_log_debug(
				    "redis: connection %u: %s", c->index, why);
				conn_drop(c, why);
			}
			break;
		case CONN_READY:
			if (c->pending > 0 &&
			    idle_ms >= cfg->command_timeout_ms) {
				snprintf(why, sizeof(why),
				    "no reply for %llu ms",
				    (unsigned long long) idle_ms);
				cbd_log_warning("redis: connection %u: %s, "
				                "discarding it",
				    c->index, why);
				conn_drop(c, why);
			}
			break;
		default:
			break;
		}
	}
}

size_t
cbd_redis_ready_count(const cbd_redis_pool *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++) {
		n += p->conns[i].state == CONN_READY;
	}
	return n;
}

void
cbd_redis_last_error(const cbd_redis_pool *p, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", p->error);
}

static int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

cb_status
cbd_redis_reply_status(const redisReply *reply, char *msg, size_t msglen)
{
	static const char *const unavailable[] = { "LOADING", "BUSY",
		"MASTERDOWN", "READONLY", "NOAUTH", "WRONGPASS", "TRYAGAIN",
		"CLUSTERDOWN", "NOREPLICAS" };

	if (reply == NULL) {
		snprintf(msg, msglen, "redis connection lost");
		return CB_UNAVAILABLE;
	}
	if (reply->type != REDIS_REPLY_ERROR) {
		return CB_OK;
	}
	snprintf(msg, msglen, "redis: %s", reply->str);
	if (starts_with(reply->str, "WRONGTYPE") ||
	    strstr(reply->str, "not an integer") != NULL) {
		return CB_FAILED_PRECONDITION;
	}
	if (strstr(reply->str, "overflow") != NULL) {
		return CB_OUT_OF_RANGE;
	}
	if (starts_with(reply->str, "OOM")) {
		return CB_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < sizeof(unavailable) / sizeof(unavailable[0]);
	     i++) {
		if (starts_with(reply->str, unavailable[i])) {
			return CB_UNAVAILABLE;
		}
	}
	return CB_INTERNAL;
}

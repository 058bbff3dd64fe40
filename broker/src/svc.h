/* SPDX-License-Identifier: MIT */
/* Shared machinery of the service handlers: replies, errors, sends. */
#ifndef CBD_SVC_H
#define CBD_SVC_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/cachebroker.h>

#include "cmd.h"
#include "redis_pool.h"

#include "request.h"

typedef struct cbd_db_pool cbd_db_pool;
typedef struct cbd_loader  cbd_loader;
typedef struct cbd_journal cbd_journal;
typedef struct cbd_notify  cbd_notify;
typedef struct cbd_warmer  cbd_warmer;
typedef struct cbd_dedupe  cbd_dedupe;
typedef struct cbd_config  cbd_config;
struct cbd_feed;
struct cbd_ipcguard;
struct cbd_l1;
struct cbd_tracking;

/*
 * What the methods use, beside their request: the server's collaborators,
 * filled by the server before the first request (server.c) and reached
 * from a request through its host (cbd_svc_env). The handlers are the
 * only code that sees them all; every other module gets the few it needs
 * when it is created. Loop thread, except where marked.
 */
typedef struct cbd_env {
	cbd_req_host        *host;     /* the request core: drain, stats */
	const cbd_config    *cfg;      /* as started: pool sizes */
	cbd_redis_pool      *redis;    /* the cache */
	cbd_db_pool         *db;       /* NULL: no database */
	cbd_loader          *loader;   /* loads in flight */
	cbd_journal         *journal;  /* failed invalidations */
	cbd_notify          *notify;   /* NULL: no channel */
	cbd_warmer          *warmer;   /* warm runs */
	struct cbd_feed     *feed;     /* NULL: no feed */
	struct cbd_ipcguard *ipcguard; /* IPC listener probes */
	struct cbd_conns    *conns;    /* per-connection bounds */
	cbd_dedupe          *dedupe;   /* request_id table */
	struct cbd_l1       *l1;       /* NULL: none; any thread */
	struct cbd_tracking *tracking; /* keeps l1 coherent */
	uint32_t             contexts; /* nng contexts */
	uint64_t             start_us; /* monotonic start time */
} cbd_env;

/* cbd_svc_env is what req's methods use. */
static inline cbd_env *
cbd_svc_env(const cbd_req *req)
{
	return req->host->env;
}

/* CBD_CHECK returns from a check function on the first failure. */
#define CBD_CHECK(expr)                 \
	do {                            \
		cb_status rv_ = (expr); \
		if (rv_ != CB_OK) {     \
			return rv_;     \
		}                       \
	} while (0)

struct cbd_limits;

/*
 * cbd_svc_check_ttl refuses a TTL (field names it in the message) longer
 * than the limits' max_ttl with INVALID_ARGUMENT, rather than cutting it:
 * the caller meant something else (2^62 ms is no TTL), Redis fails past
 * about 2^63 ms, and a cut blacklist entry would let a token back in.
 * Zero and negative values are the caller's to judge. Pure; any thread.
 */
CB_NODISCARD cb_status cbd_svc_check_ttl(const struct cbd_limits *lim,
    const char *field, int64_t ttl_ms, char *why, size_t whylen);

/*
 * cbd_svc_reply is the first thing a Redis completion does: it returns
 * the request the reply belongs to, or NULL when the request was answered
 * since (the reply is late: drop it). It counts the reply off
 * req->op.pending and records the first error in req->op; *ok says whether
 * this reply can be used. Loop thread.
 */
cbd_req *cbd_svc_reply(void *arg, uint64_t tag, redisReply *r, int *ok);

/* cbd_svc_done finishes the request once op.pending is 0: with op.code
 * and op.msg if something failed, else CB_OK and op.resp. */
void cbd_svc_done(cbd_req *req);

/* cbd_svc_conn picks a ready Redis connection, or answers UNAVAILABLE at
 * once (with the pool's last error) and returns NULL. */
cbd_redis_conn *cbd_svc_conn(cbd_req *req);

/* cbd_svc_send sends a built command tagged sub, counting it in
 * op.pending, and frees cmd. On failure the request is answered (or will
 * be, by the replies still due) and -1 is returned: stop there. */
int cbd_svc_send(cbd_req *req, cbd_redis_conn *c, cbd_redis_fn *fn,
    uint32_t sub, cbd_cmd *cmd);

/* cbd_svc_alloc makes op.resp a fresh message of type desc; NULL after
 * answering RESOURCE_EXHAUSTED. */
void *cbd_svc_alloc(cbd_req *req, const ProtobufCMessageDescriptor *desc);

/* cbd_svc_cmd is cbd_cmd_init answering RESOURCE_EXHAUSTED on failure. */
int cbd_svc_cmd(cbd_req *req, cbd_cmd *cmd, int nargs, size_t arena);

/*
 * cbd_svc_params reads a request's map<string,string> params (n entries,
 * any map entry type: key and value are its two fields) into names[] and
 * vals[], pointers into the entries. More than CBD_MAX_PARAMS gives
 * INVALID_ARGUMENT. Pure; any thread.
 */
CB_NODISCARD cb_status cbd_svc_params(void *const *entries, size_t n,
    const char **names, const char **vals, char *why, size_t whylen);

/* cbd_svc_unknown writes "unknown WHAT 'NAME'" into why, the name cut to
 * 64 bytes and control characters replaced; returns INVALID_ARGUMENT. */
cb_status cbd_svc_unknown(
    const char *what, const char *name, char *why, size_t whylen);

/* cbd_svc_blocked answers UNAVAILABLE and returns 1 when ns must not be
 * read from the cache now: the journal has invalidations of it to apply
 * (Redis was away). 0 otherwise. Loop thread. */
int cbd_svc_blocked(cbd_req *req, const char *ns);

/* cbd_svc_fail_oom records out-of-memory as the op's error. */
void cbd_svc_fail_oom(cbd_req *req);

#endif /* CBD_SVC_H */

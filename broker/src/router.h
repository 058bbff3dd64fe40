/* SPDX-License-Identifier: MIT */
/* The method table: full names, request types, checks and handlers. */
#ifndef CBD_ROUTER_H
#define CBD_ROUTER_H

#include <stddef.h>

#include <cachebroker/cachebroker.h>

#include "config.h"
#include "policy.h"

typedef struct cbd_req cbd_req;

/*
 * Every method, once: X(ID, service, method, request descriptor, mutating,
 * check, run, front). check runs on nng's thread and validates the decoded
 * request against the limits (pure, no I/O); run starts the work on the
 * backend loop and must end, now or later, in cbd_req_finish. front (NULL:
 * none) may answer a checked request on nng's thread, without the loop,
 * from what it holds in memory (the L1); it returns 1 if it answered
 * (cbd_req_answer_front), 0 to let run do the work.
 */
#define CBD_METHODS(X)                                                        \
	X(CACHE_GET, "CacheService", "Get",                                   \
	    cachebroker__v1__get_request__descriptor, 0, cbd_cache_get_check, \
	    cbd_cache_get_run, cbd_cache_get_front)                           \
	X(CACHE_GET_MANY, "CacheService", "GetMany",                          \
	    cachebroker__v1__get_many_request__descriptor, 0,                 \
	    cbd_cache_get_many_check, cbd_cache_get_many_run,                 \
	    cbd_cache_get_many_front)                                         \
	X(CACHE_SET, "CacheService", "Set",                                   \
	    cachebroker__v1__set_request__descriptor, 1, cbd_cache_set_check, \
	    cbd_cache_set_run, NULL)                                          \
	X(CACHE_SET_MANY, "CacheService", "SetMany",                          \
	    cachebroker__v1__set_many_request__descriptor, 1,                 \
	    cbd_cache_set_many_check, cbd_cache_set_many_run, NULL)           \
	X(CACHE_DELETE, "CacheService", "Delete",                             \
	    cachebroker__v1__delete_request__descriptor, 1,                   \
	    cbd_cache_delete_check, cbd_cache_delete_run, NULL)               \
	X(CACHE_INVALIDATE_PATTERN, "CacheService", "InvalidatePattern",      \
	    cachebroker__v1__invalidate_pattern_request__descriptor, 1,       \
	    cbd_cache_invalidate_pattern_check,                               \
	    cbd_cache_invalidate_pattern_run, NULL)                           \
	X(CACHE_INCREMENT, "CacheService", "Increment",                       \
	    cachebroker__v1__increment_request__descriptor, 1,                \
	    cbd_cache_increment_check, cbd_cache_increment_run, NULL)         \
	X(CACHE_EXPIRE, "CacheService", "Expire",                             \
	    cachebroker__v1__expire_request__descriptor, 1,                   \
	    cbd_cache_expire_check, cbd_cache_expire_run, NULL)               \
	X(CACHE_FETCH, "CacheService", "Fetch",                               \
	    cachebroker__v1__fetch_request__descriptor, 0,                    \
	    cbd_cache_fetch_check, cbd_cache_fetch_run, NULL)                 \
	X(EVENT_PUBLISH, "EventService", "Publish",                           \
	    cachebroker__v1__publish_request__descriptor, 1,                  \
	    cbd_event_publish_check, cbd_event_publish_run, NULL)             \
	X(WARM_WARM, "WarmService", "Warm",                                   \
	    cachebroker__v1__warm_request__descriptor, 0, cbd_warm_check,     \
	    cbd_warm_run, NULL)                                               \
	X(AUTH_REVOKE_TOKEN, "AuthService", "RevokeToken",                    \
	    cachebroker__v1__revoke_token_request__descriptor, 1,             \
	    cbd_auth_revoke_token_check, cbd_auth_revoke_token_run, NULL)     \
	X(AUTH_REVOKE_USER_TOKENS, "AuthService", "RevokeUserTokens",         \
	    cachebroker__v1__revoke_user_tokens_request__descriptor, 1,       \
	    cbd_auth_revoke_user_check, cbd_auth_revoke_user_run, NULL)       \
	X(AUTH_IS_TOKEN_REVOKED, "AuthService", "IsTokenRevoked",             \
	    cachebroker__v1__is_token_revoked_request__descriptor, 0,         \
	    cbd_auth_is_revoked_check, cbd_auth_is_revoked_run, NULL)         \
	X(AUTH_PUT_SESSION, "AuthService", "PutSession",                      \
	    cachebroker__v1__put_session_request__descriptor, 1,              \
	    cbd_auth_put_session_check, cbd_auth_put_session_run, NULL)       \
	X(AUTH_GET_SESSION, "AuthService", "GetSession",                      \
	    cachebroker__v1__get_session_request__descriptor, 0,              \
	    cbd_auth_get_session_check, cbd_auth_get_session_run, NULL)       \
	X(AUTH_DELETE_SESSION, "AuthService", "DeleteSession",                \
	    cachebroker__v1__delete_session_request__descriptor, 1,           \
	    cbd_auth_delete_session_check, cbd_auth_delete_session_run, NULL) \
	X(AUTH_TOUCH_SESSION, "AuthService", "TouchSession",                  \
	    cachebroker__v1__touch_session_request__descriptor, 1,            \
	    cbd_auth_touch_session_check, cbd_auth_touch_session_run, NULL)   \
	X(AUTH_CHECK_RATE_LIMIT, "AuthService", "CheckRateLimit",             \
	    cachebroker__v1__check_rate_limit_request__descriptor, 1,         \
	    cbd_auth_rate_limit_check, cbd_auth_rate_limit_run, NULL)         \
	X(ADMIN_HEALTH, "AdminService", "Health",                             \
	    cachebroker__v1__health_request__descriptor, 0, cbd_admin_check,  \
	    cbd_admin_health_run, NULL)                                       \
	X(ADMIN_METRICS, "AdminService", "Metrics",                           \
	    cachebroker__v1__metrics_request__descriptor, 0, cbd_admin_check, \
	    cbd_admin_metrics_run, NULL)                                      \
	X(ADMIN_RESET_STATS, "AdminService", "ResetStats",                    \
	    cachebroker__v1__reset_stats_request__descriptor, 1,              \
	    cbd_admin_check, cbd_admin_reset_stats_run, NULL)

/* Method ids; CBD_METHOD_UNKNOWN counts calls that named no method. */
enum cbd_method_id {
#define CBD_METHOD_ENUM(id, svc, meth, desc, mut, check, run, front) \
	CBD_M_##id,
	CBD_METHODS(CBD_METHOD_ENUM)
#undef CBD_METHOD_ENUM
	    CBD_METHOD_UNKNOWN,
	CBD_METHOD_COUNT = CBD_METHOD_UNKNOWN
};

/*
 * A check sees the limits in effect and cfg, the configuration of the
 * request's policy, or NULL on nng's thread: nng's threads never see a
 * policy (policy.h), so what depends on one (resources, events,
 * strategies) is left to run, which checks it against the request's own
 * policy on the loop.
 */
typedef cb_status cbd_check_fn(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen);
typedef void      cbd_run_fn(cbd_req *req);
typedef int       cbd_front_fn(cbd_req *req);

typedef struct cbd_method {
	int                               id;       /* enum cbd_method_id */
	const char                       *name;     /* full wire name */
	const ProtobufCMessageDescriptor *in;       /* request type */
	int                               mutating; /* request_id dedupe */
	cbd_check_fn                     *check;    /* nng thread */
	cbd_run_fn                       *run;      /* loop thread */
	cbd_front_fn                     *front;    /* nng thread; or NULL */
} cbd_method;

#define CBD_METHOD_DECL(id, svc, meth, desc, mut, check, run, front) \
	cbd_check_fn check;                                          \
	cbd_run_fn   run;
CBD_METHODS(CBD_METHOD_DECL)
#undef CBD_METHOD_DECL
cbd_front_fn cbd_cache_get_front;
cbd_front_fn cbd_cache_get_many_front;

/* The table, indexed by id. */
extern const cbd_method cbd_methods[CBD_METHOD_COUNT];

/* cbd_router_lookup finds a method by its full name; NULL if unknown. */
const cbd_method *cbd_router_lookup(const char *name);

/*
 * cbd_router_decode turns the bytes of a request into its envelope, method
 * and decoded payload, and runs the method's check: everything that is
 * done to a request before it reaches the loop. On success the caller owns
 * *env and *in. On failure returns the code to answer with and a reason in
 * why; *env and *in are untouched, *method is set if the method was known
 * (for the stats). cfg as for cbd_check_fn. Pure; any thread. Also the
 * fuzzing entry point.
 */
CB_NODISCARD cb_status cbd_router_decode(const cbd_limits *lim,
    const cbd_config *cfg, const void *buf, size_t len,
    Cachebroker__V1__Request **env, const cbd_method **method,
    ProtobufCMessage **in, char *why, size_t whylen);

/* cbd_router_name gives the name of a method id, "unknown" for
 * CBD_METHOD_UNKNOWN. */
const char *cbd_router_name(int id);

#endif /* CBD_ROUTER_H */

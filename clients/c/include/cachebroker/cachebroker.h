/* SPDX-License-Identifier: MIT */
/* libcachebroker: the C client of cachebrokerd (one call per RPC). */
#ifndef CACHEBROKER_CACHEBROKER_H
#define CACHEBROKER_CACHEBROKER_H

#include <stddef.h>
#include <stdint.h>

#include <cachebroker/v1/admin.pb-c.h>
#include <cachebroker/v1/cache.pb-c.h>
#include <cachebroker/v1/envelope.pb-c.h>
#include <cachebroker/v1/event.pb-c.h>
#include <cachebroker/v1/warm.pb-c.h>
#include <cachebroker/v1/feed.pb-c.h>
#include <cachebroker/v1/auth.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CB_NODISCARD __attribute__((warn_unused_result))
#else
#define CB_NODISCARD
#endif

/*
 * cb_status is a call's outcome, numbered exactly like gRPC's codes, which
 * are also the codes on the wire (Response.status.code).
 */
typedef enum cb_status {
	CB_OK                  = 0,
	CB_CANCELLED           = 1,
	CB_UNKNOWN             = 2,
	CB_INVALID_ARGUMENT    = 3,
	CB_DEADLINE_EXCEEDED   = 4,
	CB_NOT_FOUND           = 5,
	CB_ALREADY_EXISTS      = 6,
	CB_PERMISSION_DENIED   = 7,
	CB_RESOURCE_EXHAUSTED  = 8,
	CB_FAILED_PRECONDITION = 9,
	CB_ABORTED             = 10,
	CB_OUT_OF_RANGE        = 11,
	CB_UNIMPLEMENTED       = 12,
	CB_INTERNAL            = 13,
	CB_UNAVAILABLE         = 14,
	CB_DATA_LOSS           = 15,
	CB_UNAUTHENTICATED     = 16,
} cb_status;

#define CB_STATUS_MAX 16

/*
 * cb_status_str returns the gRPC name of a code ("INVALID_ARGUMENT"), or
 * "UNKNOWN" for a number outside 0..16. The string is static.
 */
const char *cb_status_str(int code);

/* cb_version returns the library's version, "0.1.0". The string is
 * static. Thread: any. */
const char *cb_version(void);

/* The default broker URL, used when neither an argument nor
 * CACHEBROKER_URL names one. */
#define CB_DEFAULT_URL "ipc:///run/cachebroker/cachebroker.sock"

/* Full method names, as they travel in Request.method. */
#define CB_METHOD_PREFIX "/cachebroker.v1."

typedef struct cb_client cb_client;

/* Options for cb_client_open; a NULL pointer or a zero field means the
 * default. A reply over max_reply_size makes nng drop the connection, so
 * such a call ends in DEADLINE_EXCEEDED rather than with a partial one. */
typedef struct cb_client_opts {
	uint32_t timeout_ms;       /* per-call deadline; default 5000 */
	size_t   max_message_size; /* largest request sent; default 1 MiB */
	size_t   max_reply_size;   /* largest reply accepted; default 64 MiB */
} cb_client_opts;

/*
 * TLS for a tls+tcp:// URL (ignored for the others). The broker's
 * certificate must chain to a CA of ca_file and name server_name; there
 * is no way to skip that check. cert_file and key_file are the client's
 * own certificate, for a broker that asks for one (tls_client_auth); one
 * without the other is INVALID_ARGUMENT. Files are PEM. A field left
 * NULL (every field, when the struct is passed as NULL) comes from its
 * variable: CACHEBROKER_TLS_CA, _CERT, _KEY, _KEY_PASSWORD, _SERVER_NAME.
 */
typedef struct cb_tls_opts {
	const char *ca_file;      /* CAs the broker's certificate chains to */
	const char *cert_file;    /* client certificate (NULL: none) */
	const char *key_file;     /* its private key */
	const char *key_password; /* NULL: the key is not encrypted */
	const char *server_name;  /* NULL: the URL's host */
} cb_tls_opts;

/* Per-call options; NULL means the client's defaults. */
typedef struct cb_callopts {
	uint32_t    timeout_ms; /* 0: the client's timeout */
	const char *request_id; /* NULL: a fresh random id for every call */
} cb_callopts;

/* What a call learned besides its response message. */
typedef struct cb_result {
	cb_status code;         /* same as the call's return value */
	char      message[256]; /* the broker's or the client's explanation */
	char      x_cache[16];  /* metadata "x-cache" if the reply had it */
} cb_result;

/*
 * cb_client_open connects to a broker at url (NULL: $CACHEBROKER_URL, else
 * CB_DEFAULT_URL). Connection is lazy, as with nng: a broker that is not
 * up yet is not an error here, calls fail with UNAVAILABLE or
 * DEADLINE_EXCEEDED within their deadline. On success *out owns the
 * client; free it with cb_client_close. Thread: any.
 */
CB_NODISCARD cb_status cb_client_open(
    cb_client **out, const char *url, const cb_client_opts *opts);

/*
 * cb_client_open_tls is cb_client_open with TLS settings for a tls+tcp://
 * URL (NULL: from the environment, as cb_client_open does).
 * INVALID_ARGUMENT when a TLS URL has no CA, or a file cannot be read or
 * used. Thread: any.
 */
CB_NODISCARD cb_status cb_client_open_tls(cb_client **out, const char *url,
    const cb_client_opts *opts, const cb_tls_opts *tls);

/* cb_client_close closes the socket and frees the client. NULL-safe. Calls
 * still running on other threads fail with CANCELLED. */
void cb_client_close(cb_client *c);

/*
 * cb_client_call performs one RPC: it packs req into a Request envelope for
 * method (a full name, "/cachebroker.v1.CacheService/Get"), waits at most
 * the call's deadline, and on OK unpacks the payload as resp_desc into
 * *resp, which the caller then owns (free with cb_message_free). On
 * failure *resp is left untouched and res (if not NULL) says why.
 * Thread-safe: many threads may call at once on one client, each call
 * uses its own nng context. Blocks the calling thread.
 */
CB_NODISCARD cb_status cb_client_call(cb_client *c, const char *method,
    const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
    ProtobufCMessage **resp, const cb_callopts *opts, cb_result *res);

/* cb_message_free frees a response returned by any call. NULL-safe. */
void cb_message_free(void *msg);

/*
 * One typed call per RPC, generated from this table:
 * X(function suffix, service, method, request type, response type,
 * response descriptor). Each is
 *   cb_status cb_<suffix>(cb_client *c, const REQ *req, RESP **resp,
 *       const cb_callopts *opts, cb_result *res);
 * with cb_client_call's contract.
 */
#define CB_CLIENT_METHODS(X)                                                 \
	X(cache_get, "CacheService", "Get", Cachebroker__V1__GetRequest,     \
	    Cachebroker__V1__GetResponse, cachebroker__v1__get_response)     \
	X(cache_get_many, "CacheService", "GetMany",                         \
	    Cachebroker__V1__GetManyRequest,                                 \
	    Cachebroker__V1__GetManyResponse,                                \
	    cachebroker__v1__get_many_response)                              \
	X(cache_set, "CacheService", "Set", Cachebroker__V1__SetRequest,     \
	    Cachebroker__V1__SetResponse, cachebroker__v1__set_response)     \
	X(cache_set_many, "CacheService", "SetMany",                         \
	    Cachebroker__V1__SetManyRequest,                                 \
	    Cachebroker__V1__SetManyResponse,                                \
	    cachebroker__v1__set_many_response)                              \
	X(cache_delete, "CacheService", "Delete",                            \
	    Cachebroker__V1__DeleteRequest, Cachebroker__V1__DeleteResponse, \
	    cachebroker__v1__delete_response)                                \
	X(cache_invalidate_pattern, "CacheService", "InvalidatePattern",     \
	    Cachebroker__V1__InvalidatePatternRequest,                       \
	    Cachebroker__V1__InvalidatePatternResponse,                      \
	    cachebroker__v1__invalidate_pattern_response)                    \
	X(cache_increment, "CacheService", "Increment",                      \
	    Cachebroker__V1__IncrementRequest,                               \
	    Cachebroker__V1__IncrementResponse,                              \
	    cachebroker__v1__increment_response)                             \
	X(cache_expire, "CacheService", "Expire",                            \
	    Cachebroker__V1__ExpireRequest, Cachebroker__V1__ExpireResponse, \
	    cachebroker__v1__expire_response)                                \
	X(cache_fetch, "CacheService", "Fetch",                              \
	    Cachebroker__V1__FetchRequest, Cachebroker__V1__FetchResponse,   \
	    cachebroker__v1__fetch_response)                                 \
	X(event_publish, "EventService", "Publish",                          \
	    Cachebroker__V1__PublishRequest,                                 \
	    Cachebroker__V1__PublishResponse,                                \
	    cachebroker__v1__publish_response)                               \
	X(warm_warm, "WarmService", "Warm", Cachebroker__V1__WarmRequest,    \
	    Cachebroker__V1__WarmResponse, cachebroker__v1__warm_response)   \
	X(auth_revoke_token, "AuthService", "RevokeToken",                   \
	    Cachebroker__V1__RevokeTokenRequest,                             \
	    Cachebroker__V1__RevokeTokenResponse,                            \
	    cachebroker__v1__revoke_token_response)                          \
	X(auth_revoke_user_tokens, "AuthService", "RevokeUserTokens",        \
	    Cachebroker__V1__RevokeUserTokensRequest,                        \
	    Cachebroker__V1__RevokeUserTokensResponse,                       \
	    cachebroker__v1__revoke_user_tokens_response)                    \
	X(auth_is_token_revoked, "AuthService", "IsTokenRevoked",            \
	    Cachebroker__V1__IsTokenRevokedRequest,                          \
	    Cachebroker__V1__IsTokenRevokedResponse,                         \
	    cachebroker__v1__is_token_revoked_response)                      \
	X(auth_put_session, "AuthService", "PutSession",                     \
	    Cachebroker__V1__PutSessionRequest,                              \
	    Cachebroker__V1__PutSessionResponse,                             \
	    cachebroker__v1__put_session_response)                           \
	X(auth_get_session, "AuthService", "GetSession",                     \
	    Cachebroker__V1__GetSessionRequest,                              \
	    Cachebroker__V1__GetSessionResponse,                             \
	    cachebroker__v1__get_session_response)                           \
	X(auth_delete_session, "AuthService", "DeleteSession",               \
	    Cachebroker__V1__DeleteSessionRequest,                           \
	    Cachebroker__V1__DeleteSessionResponse,                          \
	    cachebroker__v1__delete_session_response)                        \
	X(auth_touch_session, "AuthService", "TouchSession",                 \
	    Cachebroker__V1__TouchSessionRequest,                            \
	    Cachebroker__V1__TouchSessionResponse,                           \
	    cachebroker__v1__touch_session_response)                         \
	X(auth_check_rate_limit, "AuthService", "CheckRateLimit",            \
	    Cachebroker__V1__CheckRateLimitRequest,                          \
	    Cachebroker__V1__CheckRateLimitResponse,                         \
	    cachebroker__v1__check_rate_limit_response)                      \
	X(admin_health, "AdminService", "Health",                            \
	    Cachebroker__V1__HealthRequest, Cachebroker__V1__HealthResponse, \
	    cachebroker__v1__health_response)                                \
	X(admin_metrics, "AdminService", "Metrics",                          \
	    Cachebroker__V1__MetricsRequest,                                 \
	    Cachebroker__V1__MetricsResponse,                                \
	    cachebroker__v1__metrics_response)                               \
	X(admin_reset_stats, "AdminService", "ResetStats",                   \
	    Cachebroker__V1__ResetStatsRequest,                              \
	    Cachebroker__V1__ResetStatsResponse,                             \
	    cachebroker__v1__reset_stats_response)

/* NOLINTBEGIN(bugprone-macro-parentheses): REQ and RESP are types */
#define CB_DECLARE_CALL(suffix, svc, meth, REQ, RESP, rdesc)             \
	CB_NODISCARD cb_status cb_##suffix(cb_client *c, const REQ *req, \
	    RESP **resp, const cb_callopts *opts, cb_result *res);
/* NOLINTEND(bugprone-macro-parentheses) */
CB_CLIENT_METHODS(CB_DECLARE_CALL)
#undef CB_DECLARE_CALL

/*
 * The invalidation feed: the broker publishes every invalidation it has
 * applied (Delete, InvalidatePattern, EventService/Publish; one message
 * per namespace) on a pub0 socket, its [broker] feed URL. A subscriber
 * that keeps its own copies of cached values drops what a message names.
 * Delivery is best effort, as with any nng pub/sub: messages published
 * while a subscriber is not connected, or while it lags far behind, are
 * lost, so in-process copies should still expire on their own.
 */

/* The default feed URL, used when neither an argument nor
 * CACHEBROKER_FEED_URL names one. */
#define CB_DEFAULT_FEED_URL "ipc:///run/cachebroker/feed.sock"

typedef struct cb_feed cb_feed;

/*
 * cb_feed_open subscribes to the feed at url (NULL: $CACHEBROKER_FEED_URL,
 * else CB_DEFAULT_FEED_URL) for the n namespaces (n == 0: all of them).
 * Like cb_client_open it never waits for the broker: the dial goes on in
 * the background, and messages published before it connects are not
 * seen. Returns INVALID_ARGUMENT for a URL nng cannot use or an empty
 * namespace. On success *out owns the subscription: cb_feed_close.
 * Thread: any.
 */
CB_NODISCARD cb_status cb_feed_open(
    cb_feed **out, const char *url, const char *const *namespaces, size_t n);

/* cb_feed_open_tls is cb_feed_open with TLS settings for a tls+tcp:// feed
 * (NULL: from the environment, as cb_feed_open does). */
CB_NODISCARD cb_status cb_feed_open_tls(cb_feed **out, const char *url,
    const char *const *namespaces, size_t n, const cb_tls_opts *tls);

/*
 * cb_feed_recv waits up to timeout_ms (negative: forever, 0: only what has
 * arrived) for the next message. On CB_OK *out is the invalidation, which
 * the caller owns (cb_message_free). Otherwise *out is left untouched:
 * DEADLINE_EXCEEDED, nothing came in time; INVALID_ARGUMENT, a message
 * arrived that is not a well-formed feed message (no NUL after the
 * namespace, an Invalidation that does not decode, or one whose namespace
 * differs from its topic): it is dropped, and the next call goes on with
 * the next message; UNAVAILABLE, the socket failed (it was closed). Blocks
 * the calling thread; one thread at a time per feed.
 */
CB_NODISCARD cb_status cb_feed_recv(
    cb_feed *f, Cachebroker__V1__Invalidation **out, int timeout_ms);

/* cb_feed_close closes the subscription and frees f. NULL-safe. Not while
 * another thread is in cb_feed_recv on f. */
void cb_feed_close(cb_feed *f);

#ifdef __cplusplus
}
#endif

#endif /* CACHEBROKER_CACHEBROKER_H */

/* SPDX-License-Identifier: MIT */
/* AuthService: token revocation, sessions and rate limiting in Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "keys.h"
#include "log.h"
#include "redis_pool.h"
#include "script.h"
#include "request.h"
#include "svc.h"

/*
 * Keys, all in the "auth" namespace, all written with a TTL:
 *
 *   auth:blacklist:{token_id}       "1", until the token expires
 *   auth:revoked-before:{user_id}   unix s; tokens issued before are
 *                                   revoked; kept max_token_lifetime
 *   auth:session:{user_id}          opaque data, session_ttl
 *   auth:rate-limit:{subject}       GCRA's theoretical arrival time (ms)
 *
 * The rate limit and the watermark are Lua scripts (script.c: EVALSHA
 * once Redis has them; a NOSCRIPT answer, after SCRIPT FLUSH or a
 * restarted Redis, sends the call again whole with EVAL).
 */
#define AUTH_NS "auth"
#define AUTH_MAX_ID 256
#define AUTH_TAIL (AUTH_MAX_ID + 32)

/*
 * GCRA (the generic cell rate algorithm): each request of cost c moves
 * the theoretical arrival time (TAT) c * T later, T = window / limit; a
 * request is allowed if the new TAT is at most one window ahead of now.
 * So at most `limit` requests fit in any window, with no burst at window
 * edges. Time comes from Redis (TIME), so brokers on several hosts agree.
 * All in whole microseconds (exact in Lua's doubles; T rounded down, so
 * limit * T never exceeds the window). Returns {allowed, remaining,
 * retry_after_ms, reset_after_ms}.
 */
static cbd_script rate_script =
    CBD_SCRIPT("local t = redis.call('TIME') "
               "local now = t[1] * 1000000 + t[2] "
               "local limit = tonumber(ARGV[1]) "
               "local window = tonumber(ARGV[2]) * 1000 "
               "local cost = tonumber(ARGV[3]) "
               "local step = math.max(1, math.floor(window / limit)) "
               "local tat = tonumber(redis.call('GET', KEYS[1])) "
               "if tat == nil or tat < now then tat = now end "
               "local new = tat + cost * step "
               "if new - window > now then "
               "  return {0, math.floor((window - (tat - now)) / step), "
               "    math.ceil((new - window - now) / 1000), "
               "    math.ceil((tat - now) / 1000)} "
               "end "
               "local ms = math.ceil((new - now) / 1000) "
               "redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', "
               "  string.format('%.0f', ms)) "
               "return {1, math.floor((window - (new - now)) / step), 0, ms}");

/* The watermark only moves forward: a later "log out everywhere" keeps
 * its own, longer, TTL. Returns the TTL of the watermark kept. */
static cbd_script mark_script =
    CBD_SCRIPT("local cur = tonumber(redis.call('GET', KEYS[1])) "
               "if cur ~= nil and cur >= tonumber(ARGV[1]) then "
               "  return redis.call('PTTL', KEYS[1]) end "
               "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
               "return tonumber(ARGV[2])");

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
prefix(const cbd_req *req)
{
	return cbd_req_config(req)->redis.key_prefix;
}

/* check_id: ids become part of keys, so the key rules apply. */
static cb_status
check_id(const char *what, const char *id, char *why, size_t whylen)
{
	char kwhy[96];

	if (cbd_keys_check_key(id, AUTH_MAX_ID, kwhy, sizeof(kwhy)) != CB_OK) {
		snprintf(why, whylen, "%s: %s", what, kwhy);
		return CB_INVALID_ARGUMENT;
	}
	return CB_OK;
}

/* auth_tail writes "kind:id" (the key without "auth:"). */
static const char *
auth_tail(char *buf, const char *kind, const char *id)
{
	snprintf(buf, AUTH_TAIL, "%s:%s", kind, id);
	return buf;
}

/* When Redis cannot be asked: the connection was lost before the reply
 * (NULL), or Redis says it cannot answer now (loading, busy, read-only,
 * auth). Then the Redis-down policies apply. */
static int
redis_down(const redisReply *r)
{
	char msg[8];

	return cbd_redis_reply_status(r, msg, sizeof(msg)) == CB_UNAVAILABLE;
}

/* ---- scripts (script.c) ---- */

/*
 * script_send sends "EVALSHA sha 1 key args..." (or EVAL with the source
 * when the sha is not known yet, or whole is set), tagged sub. The first
 * time, it also asks Redis for the sha (SCRIPT LOAD, on c: in order, so
 * the EVAL after it finds it loaded anyway). -1 once answered.
 */
static int
script_send(cbd_req *req, cbd_redis_conn *c, cbd_script *s, int whole,
    const char *kind, const char *id, const char *const *args, int nargs,
    cbd_redis_fn *fn, uint32_t sub)
{
	char    tail[AUTH_TAIL];
	cbd_cmd cmd;

	auth_tail(tail, kind, id);
	if (cbd_svc_cmd(req, &cmd, CBD_SCRIPT_NARGS + 2 + nargs,
	        cbd_cmd_key_size(prefix(req), AUTH_NS, tail)) != 0) {
		return -1;
	}
	cbd_script_begin(s, c, whole, &cmd);
	cbd_cmd_str(&cmd, "1");
	cbd_cmd_key(&cmd, prefix(req), AUTH_NS, tail);
	for (int i = 0; i < nargs; i++) {
		cbd_cmd_str(&cmd, args[i]);
	}
	return cbd_svc_send(req, c, fn, sub, &cmd);
}

/* Clocks of the callers may be this far ahead of the broker's. */
#define AUTH_MAX_SKEW_MS 300000

/* ---- RevokeToken ---- */

cb_status
cbd_auth_revoke_token_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__RevokeTokenRequest *r = (const void *) in;

	(void) cfg;
	CBD_CHECK(check_id("token_id", r->token_id, why, whylen));
	/* In seconds, before any product: no overflow whatever it is. */
	if (r->expires_at <= 0 ||
	    r->expires_at > now_ms() / 1000 +
	            (int64_t) (lim->max_token_lifetime_ms + AUTH_MAX_SKEW_MS) /
	                1000) {
		snprintf(why, whylen,
		    "expires_at must be a Unix time within max_token_lifetime "
		    "of now");
		return CB_INVALID_ARGUMENT;
	}
	/* The blacklist entry's TTL. Refused rather than cut to max_ttl:
	 * a shorter entry would let the revoked token back in before it
	 * expires. (Only the clock skew allowed above can get here: the
	 * configuration keeps max_token_lifetime within max_ttl.) */
	return cbd_svc_check_ttl(lim, "the TTL of expires_at",
	    r->expires_at * 1000 - now_ms(), why, whylen);
}

static void
revoke_token_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_svc_reply(arg, tag, r, &ok);

	if (req != NULL) {
		cbd_svc_done(req);
	}
}

void
cbd_auth_revoke_token_run(cbd_req *req)
{
	const Cachebroker__V1__RevokeTokenRequest *in = (const void *) req->in;
	Cachebroker__V1__RevokeTokenResponse      *resp;
	int64_t         ttl = in->expires_at * 1000 - now_ms();
	cbd_redis_conn *c;
	cbd_cmd         cmd;
	char            tail[AUTH_TAIL];

	if ((resp = cbd_svc_alloc(
	         req, &cachebroker__v1__revoke_token_response__descriptor)) ==
	    NULL) {
		return;
	}
	if (ttl <= 0) {
		/* Expired: it cannot be used anyway; nothing to keep. */
		cbd_svc_done(req);
		return;
	}
	resp->ttl_ms = ttl;
	auth_tail(tail, "blacklist", in->token_id);
	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_cmd(req, &cmd, 5,
	        cbd_cmd_key_size(prefix(req), AUTH_NS, tail) +
	            CBD_CMD_INT_SIZE) != 0) {
		return;
	}
	cbd_cmd_str(&cmd, "SET");
	cbd_cmd_key(&cmd, prefix(req), AUTH_NS, tail);
	cbd_cmd_str(&cmd, "1");
	cbd_cmd_str(&cmd, "PX");
	cbd_cmd_int(&cmd, ttl);
	(void) cbd_svc_send(req, c, revoke_token_cb, 0, &cmd);
}

/* ---- RevokeUserTokens ---- */

cb_status
cbd_auth_revoke_user_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__RevokeUserTokensRequest *r = (const void *) in;
	int64_t                                         now = now_ms();

	(void) cfg;
	CBD_CHECK(check_id("user_id", r->user_id, why, whylen));
	if (r->issued_before <= 0 ||
	    r->issued_before > (now + AUTH_MAX_SKEW_MS) / 1000) {
		snprintf(why, whylen,
		    "issued_before must be a Unix time, not in the future");
		return CB_INVALID_ARGUMENT;
	}
	if (r->issued_before * 1000 + (int64_t) lim->max_token_lifetime_ms <=
	    now) {
		snprintf(why, whylen,
		    "every token issued before then has expired already "
		    "(max_token_lifetime)");
		return CB_INVALID_ARGUMENT;
	}
	return CB_OK;
}

static void
revoke_user_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_req_current(arg, tag);

	if (req != NULL && cbd_script_noscript(r)) {
		req->op.pending--;
		cbd_auth_revoke_user_run(req); /* whole, below */
		return;
	}
	if ((req = cbd_svc_reply(arg, tag, r, &ok)) == NULL) {
		return;
	}
	if (ok) {
		Cachebroker__V1__RevokeUserTokensResponse *resp =
		    (void *) req->op.resp;
		resp->ok = 1;
		/* The TTL of the watermark kept (a later one may stay). */
		if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
			resp->ttl_ms = r->integer;
		}
	}
	cbd_svc_done(req);
}

void
cbd_auth_revoke_user_run(cbd_req *req)
{
	const Cachebroker__V1__RevokeUserTokensRequest *in =
	    (const void *) req->in;
	Cachebroker__V1__RevokeUserTokensResponse *resp =
	    (void *) req->op.resp;
	cbd_redis_conn *c;
	char            mark[24];
	char            ttl[24];
	const char     *args[2] = { mark, ttl };
	int64_t         ms;

	/* A second pass (NOSCRIPT) keeps the response it built. */
	if (resp == NULL &&
	    (resp = cbd_svc_alloc(req,
	         &cachebroker__v1__revoke_user_tokens_response__descriptor)) ==
	        NULL) {
		return;
	}
	ms = in->issued_before * 1000 +
	    (int64_t) cbd_req_config(req)->auth.max_token_lifetime_ms -
	    now_ms();
	if (ms <= 0) {
		ms = 1;
	}
	resp->ttl_ms = ms;
	snprintf(mark, sizeof(mark), "%lld", (long long) in->issued_before);
	snprintf(ttl, sizeof(ttl), "%lld", (long long) ms);
	if ((c = cbd_svc_conn(req)) == NULL) {
		return;
	}
	(void) script_send(req, c, &mark_script, req->op.count++ > 0,
	    "revoked-before", in->user_id, args, 2, revoke_user_cb, 0);
}

/* ---- IsTokenRevoked: one MGET of both keys ---- */

cb_status
cbd_auth_is_revoked_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__IsTokenRevokedRequest *r = (const void *) in;

	(void) lim;
	(void) cfg;
	CBD_CHECK(check_id("token_id", r->token_id, why, whylen));
	return check_id("user_id", r->user_id, why, whylen);
}

/* unknown_revocation answers by revocation_when_down: fail-closed is
 * UNAVAILABLE; fail-open is "not revoked", by UNKNOWN. */
static void
unknown_revocation(cbd_req *req)
{
	Cachebroker__V1__IsTokenRevokedResponse *resp = (void *) req->op.resp;

	if (!cbd_req_config(req)->auth.revocation_fail_open) {
		cbd_req_fail(req, CB_UNAVAILABLE,
		    "redis unavailable: cannot tell whether the token is "
		    "revoked (revocation_when_down = fail-closed)");
		return;
	}
	req->x_cache   = "degraded";
	req->op.code   = CB_OK;
	req->op.msg[0] = '\0';
	resp->revoked  = 0;
	resp->by       = CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_UNKNOWN;
	cbd_svc_done(req);
}

static void
is_revoked_cb(void *arg, uint64_t tag, redisReply *r)
{
	int                                           ok;
	cbd_req                                      *req;
	const Cachebroker__V1__IsTokenRevokedRequest *in;
	Cachebroker__V1__IsTokenRevokedResponse      *resp;

	if ((req = cbd_svc_reply(arg, tag, r, &ok)) == NULL) {
		return;
	}
	if (redis_down(r)) {
		unknown_revocation(req);
		return;
	}
	in   = (const void *) req->in;
	resp = (void *) req->op.resp;
	if (ok && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
		const redisReply *mark = r->element[1];
		resp->by = CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_NONE;
		if (r->element[0]->type == REDIS_REPLY_STRING) {
			resp->by =
			    CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_TOKEN;
		} else if (mark->type == REDIS_REPLY_STRING &&
		    in->issued_at < strtoll(mark->str, NULL, 10)) {
			resp->by =
			    CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_USER;
		}
		resp->revoked =
		    resp->by != CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_NONE;
	}
	cbd_svc_done(req);
}

void
cbd_auth_is_revoked_run(cbd_req *req)
{
	const Cachebroker__V1__IsTokenRevokedRequest *in =
	    (const void *) req->in;
	cbd_redis_conn *c;
	cbd_cmd         cmd;
	char            token[AUTH_TAIL];
	char            user[AUTH_TAIL];

	if (cbd_svc_alloc(req,
	        &cachebroker__v1__is_token_revoked_response__descriptor) ==
	    NULL) {
		return;
	}
	if ((c = cbd_redis_pick(cbd_svc_env(req)->redis)) == NULL) {
		unknown_revocation(req);
		return;
	}
	auth_tail(token, "blacklist", in->token_id);
	auth_tail(user, "revoked-before", in->user_id);
	if (cbd_svc_cmd(req, &cmd, 3,
	        cbd_cmd_key_size(prefix(req), AUTH_NS, token) +
	            cbd_cmd_key_size(prefix(req), AUTH_NS, user)) != 0) {
		return;
	}
	cbd_cmd_str(&cmd, "MGET");
	cbd_cmd_key(&cmd, prefix(req), AUTH_NS, token);
	cbd_cmd_key(&cmd, prefix(req), AUTH_NS, user);
	(void) cbd_svc_send(req, c, is_revoked_cb, 0, &cmd);
}

/* ---- Sessions ---- */

static cb_status
check_session(const cbd_limits *lim, const char *user_id, int64_t ttl_ms,
    char *why, size_t whylen)
{
	CBD_CHECK(check_id("user_id", user_id, why, whylen));
	if (ttl_ms < 0) {
		snprintf(
		    why, whylen, "ttl_ms must be 0 (the default) or positive");
		return CB_INVALID_ARGUMENT;
	}
	return cbd_svc_check_ttl(lim, "ttl_ms", ttl_ms, why, whylen);
}

static int64_t
session_ttl(const cbd_req *req, int64_t asked)
{
	return asked > 0 ? asked
	                 : (int64_t) cbd_req_config(req)->auth.session_ttl_ms;
}

cb_status
cbd_auth_put_session_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__PutSessionRequest *r = (const void *) in;

	(void) cfg;
	if (r->data.len > lim->max_value_size) {
		snprintf(why, whylen, "data is %zu bytes, the limit is %zu",
		    r->data.len, lim->max_value_size);
		return CB_RESOURCE_EXHAUSTED;
	}
	return check_session(lim, r->user_id, r->ttl_ms, why, whylen);
}

cb_status
cbd_auth_get_session_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__GetSessionRequest *r = (const void *) in;

	(void) cfg;
	return check_session(lim, r->user_id, 0, why, whylen);
}

cb_status
cbd_auth_delete_session_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__DeleteSessionRequest *r = (const void *) in;

	(void) cfg;
	return check_session(lim, r->user_id, 0, why, whylen);
}

cb_status
cbd_auth_touch_session_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__TouchSessionRequest *r = (const void *) in;

	(void) cfg;
	return check_session(lim, r->user_id, r->ttl_ms, why, whylen);
}

/* session_cb handles the replies of every session call: tag 0 the main
 * command, tag 1 a PTTL. */
static void
session_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_svc_reply(arg, tag, r, &ok);
	int      id;

	if (req == NULL) {
		return;
	}
	id = req->method->id;
	if (ok && id == CBD_M_AUTH_GET_SESSION) {
		Cachebroker__V1__GetSessionResponse *resp =
		    (void *) req->op.resp;
		if ((uint32_t) tag == 0 && r->type == REDIS_REPLY_STRING) {
			if ((resp->data.data = malloc(r->len + 1)) == NULL) {
				cbd_svc_fail_oom(req);
			} else {
				memcpy(resp->data.data, r->str, r->len);
				resp->data.len = r->len;
				resp->found    = 1;
			}
		} else if ((uint32_t) tag == 1 &&
		    r->type == REDIS_REPLY_INTEGER) {
			resp->ttl_ms = r->integer > 0 ? r->integer : 0;
		}
	} else if (ok && id == CBD_M_AUTH_DELETE_SESSION) {
		((Cachebroker__V1__DeleteSessionResponse *) (void *)
		        req->op.resp)
		    ->found = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
	} else if (ok && id == CBD_M_AUTH_TOUCH_SESSION) {
		Cachebroker__V1__TouchSessionResponse *resp =
		    (void *) req->op.resp;
		resp->found = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
		if (!resp->found) {
			resp->ttl_ms = 0;
		}
	}
	if (id == CBD_M_AUTH_GET_SESSION && req->op.pending == 0 &&
	    !((Cachebroker__V1__GetSessionResponse *) (void *) req->op.resp)
	         ->found) {
		((Cachebroker__V1__GetSessionResponse *) (void *) req->op.resp)
		    ->ttl_ms = 0;
	}
	cbd_svc_done(req);
}

/* session_send sends "VERB auth:session:{user} [extra...]", tagged sub. */
static int
session_send(cbd_req *req, cbd_redis_conn *c, const char *verb,
    const char *user, const char *const *extra, const size_t *lens, int n,
    uint32_t sub)
{
	char    tail[AUTH_TAIL];
	cbd_cmd cmd;

	auth_tail(tail, "session", user);
	if (cbd_svc_cmd(req, &cmd, 2 + n,
	        cbd_cmd_key_size(prefix(req), AUTH_NS, tail)) != 0) {
		return -1;
	}
	cbd_cmd_str(&cmd, verb);
	cbd_cmd_key(&cmd, prefix(req), AUTH_NS, tail);
	for (int i = 0; i < n; i++) {
		cbd_cmd_arg(&cmd, extra[i], lens[i]);
	}
	return cbd_svc_send(req, c, session_cb, sub, &cmd);
}

void
cbd_auth_put_session_run(cbd_req *req)
{
	const Cachebroker__V1__PutSessionRequest *in = (const void *) req->in;
	Cachebroker__V1__PutSessionResponse      *resp;
	cbd_redis_conn                           *c;
	char                                      ttl[24];
	const char *extra[3] = { (const char *) in->data.data, "PX", ttl };
	size_t      lens[3];

	if ((c = cbd_svc_conn(req)) == NULL ||
	    (resp = cbd_svc_alloc(
	         req, &cachebroker__v1__put_session_response__descriptor)) ==
	        NULL) {
		return;
	}
	resp->ttl_ms = session_ttl(req, in->ttl_ms);
	snprintf(ttl, sizeof(ttl), "%lld", (long long) resp->ttl_ms);
	lens[0]  = in->data.len;
	lens[1]  = 2;
	lens[2]  = strlen(ttl);
	extra[0] = in->data.data != NULL ? (const char *) in->data.data : "";
	(void) session_send(req, c, "SET", in->user_id, extra, lens, 3, 0);
}

void
cbd_auth_get_session_run(cbd_req *req)
{
	const Cachebroker__V1__GetSessionRequest *in = (const void *) req->in;
	cbd_redis_conn                           *c;

	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_alloc(req,
	        &cachebroker__v1__get_session_response__descriptor) == NULL ||
	    session_send(req, c, "GET", in->user_id, NULL, NULL, 0, 0) != 0) {
		return;
	}
	(void) session_send(req, c, "PTTL", in->user_id, NULL, NULL, 0, 1);
}

void
cbd_auth_delete_session_run(cbd_req *req)
{
	const Cachebroker__V1__DeleteSessionRequest *in =
	    (const void *) req->in;
	cbd_redis_conn *c;

	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_alloc(
	        req, &cachebroker__v1__delete_session_response__descriptor) ==
	        NULL) {
		return;
	}
	(void) session_send(req, c, "UNLINK", in->user_id, NULL, NULL, 0, 0);
}

void
cbd_auth_touch_session_run(cbd_req *req)
{
	const Cachebroker__V1__TouchSessionRequest *in =
	    (const void *) req->in;
	Cachebroker__V1__TouchSessionResponse *resp;
	cbd_redis_conn                        *c;
	char                                   ttl[24];
	const char                            *extra[1] = { ttl };
	size_t                                 lens[1];

	if ((c = cbd_svc_conn(req)) == NULL ||
	    (resp = cbd_svc_alloc(
	         req, &cachebroker__v1__touch_session_response__descriptor)) ==
	        NULL) {
		return;
	}
	resp->ttl_ms = session_ttl(req, in->ttl_ms);
	snprintf(ttl, sizeof(ttl), "%lld", (long long) resp->ttl_ms);
	lens[0] = strlen(ttl);
	(void) session_send(req, c, "PEXPIRE", in->user_id, extra, lens, 1, 0);
}

/* ---- CheckRateLimit ---- */

cb_status
cbd_auth_rate_limit_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__CheckRateLimitRequest *r = (const void *) in;

	(void) cfg;
	CBD_CHECK(check_id("subject", r->subject, why, whylen));
	if (r->limit == 0) {
		snprintf(why, whylen, "limit must be at least 1");
		return CB_INVALID_ARGUMENT;
	}
	/* The window is the key's TTL at most. */
	if (r->window_ms < 0) {
		snprintf(why, whylen,
		    "window_ms must be 0 (the default) or positive");
		return CB_INVALID_ARGUMENT;
	}
	CBD_CHECK(
	    cbd_svc_check_ttl(lim, "window_ms", r->window_ms, why, whylen));
	if (r->cost < 0 || r->cost > (int64_t) r->limit) {
		snprintf(why, whylen,
		    "cost must be 0 (meaning 1) to limit (%u)", r->limit);
		return CB_INVALID_ARGUMENT;
	}
	return CB_OK;
}

/* rate_without_redis answers by rate_limit_when_down. */
static void
rate_without_redis(cbd_req *req)
{
	Cachebroker__V1__CheckRateLimitResponse *resp = (void *) req->op.resp;
	int open = cbd_req_config(req)->auth.rate_limit_fail_open;

	req->x_cache                = "degraded";
	req->op.code                = CB_OK;
	req->op.msg[0]              = '\0';
	resp->decided_without_redis = 1;
	resp->allowed               = open;
	/* Not counted: remaining and reset_after are unknown (0). */
	resp->remaining = 0;
	/* Fail-closed: try again in a second, when Redis may be back. */
	resp->retry_after_ms = open ? 0 : 1000;
	resp->reset_after_ms = 0;
	cbd_svc_done(req);
}

static void rate_send(cbd_req *req, int whole);

static void
rate_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_req_current(arg, tag);
	Cachebroker__V1__CheckRateLimitResponse *resp;

	if (req != NULL && cbd_script_noscript(r)) {
		req->op.pending--;
		rate_send(req, 1);
		return;
	}
	if ((req = cbd_svc_reply(arg, tag, r, &ok)) == NULL) {
		return;
	}
	if (redis_down(r)) {
		rate_without_redis(req);
		return;
	}
	resp = (void *) req->op.resp;
	if (ok && r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER &&
	    r->element[1]->type == REDIS_REPLY_INTEGER &&
	    r->element[2]->type == REDIS_REPLY_INTEGER &&
	    r->element[3]->type == REDIS_REPLY_INTEGER) {
		resp->allowed        = r->element[0]->integer == 1;
		resp->remaining      = r->element[1]->integer;
		resp->retry_after_ms = r->element[2]->integer;
		resp->reset_after_ms = r->element[3]->integer;
	} else if (ok) {
		req->op.code = CB_INTERNAL;
		snprintf(req->op.msg, sizeof(req->op.msg),
		    "unexpected rate limit reply");
	}
	cbd_svc_done(req);
}

static void
rate_send(cbd_req *req, int whole)
{
	const Cachebroker__V1__CheckRateLimitRequest *in =
	    (const void *) req->in;
	cbd_redis_conn *c = cbd_redis_pick(cbd_svc_env(req)->redis);
	char            limit[24];
	char            window[24];
	char            cost[24];
	const char     *args[3] = { limit, window, cost };

	if (c == NULL) {
		rate_without_redis(req);
		return;
	}
	snprintf(limit, sizeof(limit), "%u", in->limit);
	snprintf(window, sizeof(window), "%lld",
	    (long long) (in->window_ms > 0 ? in->window_ms
	                                   : (int64_t) cbd_req_config(req)
	                                         ->auth.rate_limit_window_ms));
	snprintf(cost, sizeof(cost), "%lld",
	    (long long) (in->cost > 0 ? in->cost : 1));
	(void) script_send(req, c, &rate_script, whole, "rate-limit",
	    in->subject, args, 3, rate_cb, 0);
}

void
cbd_auth_rate_limit_run(cbd_req *req)
{
	if (cbd_svc_alloc(req,
	        &cachebroker__v1__check_rate_limit_response__descriptor) ==
	    NULL) {
		return;
	}
	rate_send(req, 0);
}

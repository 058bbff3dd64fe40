/* SPDX-License-Identifier: MIT */
/* AuthService through the real socket, broker and Redis: revocation,
 * sessions, rate limits, scripts, crashes, Redis-down policies, the CLI. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "it.h"

#define BY_NONE CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_NONE
#define BY_TOKEN CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_TOKEN
#define BY_USER CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_USER
#define BY_UNKNOWN CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_UNKNOWN

#define DAY_MS 86400000LL

/* The broker's budget to notice that Redis went away. */
#define NOTICE_MS 3000

/* The wall clock, which the broker's revocation TTLs count from. */
static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_s(void)
{
	return wall_ms() / 1000;
}

static void
assert_near(const char *what, long long got, long long want, long long by)
{
	ck_assert_msg(got >= want - by && got <= want + by,
	    "%s = %lld, want %lld +- %lld", what, got, want, by);
}

/* assert_prefix asserts that out starts with prefix. */
static void
assert_prefix(const char *out, const char *prefix)
{
	ck_assert_msg(strncmp(out, prefix, strlen(prefix)) == 0,
	    "'%s' does not start with '%s'", out, prefix);
}

/* ---- calls ---- */

static cb_status
revoke_token(
    const char *token, int64_t expires_at, int64_t *ttl_ms, cb_result *res)
{
	Cachebroker__V1__RevokeTokenRequest req =
	    CACHEBROKER__V1__REVOKE_TOKEN_REQUEST__INIT;
	Cachebroker__V1__RevokeTokenResponse *resp = NULL;
	cb_status                             st;

	req.token_id   = (char *) token;
	req.expires_at = expires_at;
	st = cb_auth_revoke_token(it_env->client, &req, &resp, NULL, res);
	if (st == CB_OK && ttl_ms != NULL) {
		*ttl_ms = resp->ttl_ms;
	}
	cb_message_free(resp);
	return st;
}

static cb_status
revoke_user(
    const char *user, int64_t issued_before, int64_t *ttl_ms, cb_result *res)
{
	Cachebroker__V1__RevokeUserTokensRequest req =
	    CACHEBROKER__V1__REVOKE_USER_TOKENS_REQUEST__INIT;
	Cachebroker__V1__RevokeUserTokensResponse *resp = NULL;
	cb_status                                  st;

	req.user_id       = (char *) user;
	req.issued_before = issued_before;
	st =
	    cb_auth_revoke_user_tokens(it_env->client, &req, &resp, NULL, res);
	if (st == CB_OK) {
		ck_assert_msg(resp->ok, "RevokeUserTokens: OK but not ok");
		if (ttl_ms != NULL) {
			*ttl_ms = resp->ttl_ms;
		}
	}
	cb_message_free(resp);
	return st;
}

/* is_revoked returns the call's status; on OK *by is why (BY_NONE: not
 * revoked), and revoked must agree with it. */
static cb_status
is_revoked(const char *token, const char *user, int64_t issued_at,
    uint32_t timeout_ms, Cachebroker__V1__RevokedBy *by, cb_result *res)
{
	Cachebroker__V1__IsTokenRevokedRequest req =
	    CACHEBROKER__V1__IS_TOKEN_REVOKED_REQUEST__INIT;
	Cachebroker__V1__IsTokenRevokedResponse *resp = NULL;
	cb_callopts co = { .timeout_ms = timeout_ms };
	cb_status   st;

	req.token_id  = (char *) token;
	req.user_id   = (char *) user;
	req.issued_at = issued_at;
	st = cb_auth_is_token_revoked(it_env->client, &req, &resp, &co, res);
	if (st == CB_OK) {
		*by = resp->by;
		ck_assert_msg(resp->revoked ==
		        (resp->by == BY_TOKEN || resp->by == BY_USER),
		    "revoked = %d, by = %d", resp->revoked, resp->by);
	}
	cb_message_free(resp);
	return st;
}

/* revoked_by asserts IsTokenRevoked answers OK and returns its by. */
static Cachebroker__V1__RevokedBy
revoked_by(const char *token, const char *user, int64_t issued_at)
{
	Cachebroker__V1__RevokedBy by = 0;
	cb_result                  res;

	IT_ASSERT_CODE(
	    is_revoked(token, user, issued_at, 0, &by, &res), CB_OK, &res);
	return by;
}

static cb_status
put_session(const char *user, const void *data, size_t len, int64_t ttl_ms,
    int64_t *ttl_out, cb_result *res)
{
	Cachebroker__V1__PutSessionRequest req =
	    CACHEBROKER__V1__PUT_SESSION_REQUEST__INIT;
	Cachebroker__V1__PutSessionResponse *resp = NULL;
	cb_status                            st;

	req.user_id   = (char *) user;
	req.data.data = (uint8_t *) data;
	req.data.len  = len;
	req.ttl_ms    = ttl_ms;
	st = cb_auth_put_session(it_env->client, &req, &resp, NULL, res);
	if (st == CB_OK && ttl_out != NULL) {
		*ttl_out = resp->ttl_ms;
	}
	cb_message_free(resp);
	return st;
}

/* get_session asserts OK; the caller frees the response. */
static Cachebroker__V1__GetSessionResponse *
get_session(const char *user)
{
	Cachebroker__V1__GetSessionRequest req =
	    CACHEBROKER__V1__GET_SESSION_REQUEST__INIT;
	Cachebroker__V1__GetSessionResponse *resp = NULL;
	cb_result                            res;

	req.user_id = (char *) user;
	IT_ASSERT_CODE(
	    cb_auth_get_session(it_env->client, &req, &resp, NULL, &res),
	    CB_OK, &res);
	return resp;
}

static bool
session_found(const char *user)
{
	Cachebroker__V1__GetSessionResponse *g     = get_session(user);
	bool                                 found = g->found;

	cb_message_free(g);
	return found;
}

static cb_status
delete_session(const char *user, bool *found, cb_result *res)
{
	Cachebroker__V1__DeleteSessionRequest req =
	    CACHEBROKER__V1__DELETE_SESSION_REQUEST__INIT;
	Cachebroker__V1__DeleteSessionResponse *resp = NULL;
	cb_status                               st;

	req.user_id = (char *) user;
	st = cb_auth_delete_session(it_env->client, &req, &resp, NULL, res);
	if (st == CB_OK) {
		*found = resp->found;
	}
	cb_message_free(resp);
	return st;
}

static cb_status
touch_session(const char *user, int64_t ttl_ms, bool *found, int64_t *ttl_out,
    cb_result *res)
{
	Cachebroker__V1__TouchSessionRequest req =
	    CACHEBROKER__V1__TOUCH_SESSION_REQUEST__INIT;
	Cachebroker__V1__TouchSessionResponse *resp = NULL;
	cb_status                              st;

	req.user_id = (char *) user;
	req.ttl_ms  = ttl_ms;
	st = cb_auth_touch_session(it_env->client, &req, &resp, NULL, res);
	if (st == CB_OK) {
		*found   = resp->found;
		*ttl_out = resp->ttl_ms;
	}
	cb_message_free(resp);
	return st;
}

/* One CheckRateLimit and its answer. */
typedef struct rate {
	const char *subject;
	uint32_t    limit;
	int64_t     window_ms;
	int64_t     cost;
	uint32_t    timeout_ms; /* 0: the client's */
	cb_status   st;
	cb_result   res;
	bool        allowed;
	int64_t     remaining;
	int64_t     retry_after_ms;
	int64_t     reset_after_ms;
	bool        without_redis; /* decided_without_redis */
} rate;

#define RATE(s, l, w, c)                                                    \
	(rate)                                                              \
	{                                                                   \
		.subject = (s), .limit = (l), .window_ms = (w), .cost = (c) \
	}

/* rate_check makes the call; no Check assertions (any thread). */
static cb_status
rate_check(rate *r)
{
	Cachebroker__V1__CheckRateLimitRequest req =
	    CACHEBROKER__V1__CHECK_RATE_LIMIT_REQUEST__INIT;
	Cachebroker__V1__CheckRateLimitResponse *resp = NULL;
	cb_callopts co = { .timeout_ms = r->timeout_ms };

	req.subject   = (char *) r->subject;
	req.limit     = r->limit;
	req.window_ms = r->window_ms;
	req.cost      = r->cost;
	r->st         = cb_auth_check_rate_limit(
	            it_env->client, &req, &resp, &co, &r->res);
	if (r->st == CB_OK) {
		r->allowed        = resp->allowed;
		r->remaining      = resp->remaining;
		r->retry_after_ms = resp->retry_after_ms;
		r->reset_after_ms = resp->reset_after_ms;
		r->without_redis  = resp->decided_without_redis;
	}
	cb_message_free(resp);
	return r->st;
}

/* rate_ok makes the call, asserts OK, and returns the answer. */
static rate
rate_ok(const char *subject, uint32_t limit, int64_t window_ms, int64_t cost)
{
	rate r = RATE(subject, limit, window_ms, cost);

	IT_ASSERT_CODE(rate_check(&r), CB_OK, &r.res);
	ck_assert_msg(!r.without_redis, "decided without Redis");
	return r;
}

/* ---- revocation ---- */

CBH_TEST(test_revoke_token_ttl)
{
	int64_t   exp = wall_s() + 600;
	int64_t   before, ttl = -1;
	cb_result res;
	char     *v;

	before = exp * 1000 - wall_ms();
	IT_ASSERT_CODE(revoke_token("tok-a", exp, &ttl, &res), CB_OK, &res);
	/* The entry lives exactly as long as the token could be used. */
	ck_assert_msg(ttl <= before && ttl > before - 1000,
	    "ttl_ms %lld, remaining lifetime %lld", (long long) ttl,
	    (long long) before);
	assert_near("PTTL auth:blacklist:tok-a",
	    it_pttl("auth:blacklist:tok-a"), exp * 1000 - wall_ms(), 1000);
	v = it_redis_get("auth:blacklist:tok-a", NULL);
	ck_assert_ptr_nonnull(v);
	free(v);

	/* A token that has expired needs no entry. */
	ttl = -1;
	IT_ASSERT_CODE(
	    revoke_token("tok-old", wall_s() - 1, &ttl, &res), CB_OK, &res);
	ck_assert_int_eq(ttl, 0);
	ck_assert(!it_exists("auth:blacklist:tok-old"));
	ck_assert_int_eq(it_redis_int("DBSIZE"), 1);

	ck_assert_int_eq(revoked_by("tok-a", "u-1", wall_s() - 60), BY_TOKEN);
	ck_assert_int_eq(revoked_by("tok-b", "u-1", wall_s() - 60), BY_NONE);
	ck_assert_int_eq(revoked_by("tok-old", "u-1", wall_s() - 60), BY_NONE);
}

CBH_TEST(test_revoke_user_watermark)
{
	int64_t   ib  = wall_s() - 10;
	int64_t   ttl = -1, want;
	cb_result res;
	char     *v;

	want = (ib * 1000 + DAY_MS) - wall_ms();
	IT_ASSERT_CODE(revoke_user("u-1", ib, &ttl, &res), CB_OK, &res);
	/* Kept until the last token it can revoke has expired. */
	assert_near("ttl_ms", ttl, want, 1000);
	assert_near("PTTL auth:revoked-before:u-1",
	    it_pttl("auth:revoked-before:u-1"),
	    (ib * 1000 + DAY_MS) - wall_ms(), 1000);

	ck_assert_int_eq(revoked_by("t1", "u-1", ib - 1), BY_USER);
	ck_assert_int_eq(revoked_by("t1", "u-1", ib - 3600), BY_USER);
	ck_assert_int_eq(revoked_by("t2", "u-1", ib), BY_NONE);
	ck_assert_int_eq(revoked_by("t3", "u-1", ib + 5), BY_NONE);
	ck_assert_int_eq(revoked_by("t1", "u-2", ib - 1), BY_NONE);

	/* An earlier watermark does not move it back, nor shorten it. */
	IT_ASSERT_CODE(revoke_user("u-1", ib - 100, NULL, &res), CB_OK, &res);
	v = it_redis_get("auth:revoked-before:u-1", NULL);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(strtoll(v, NULL, 10), ib);
	free(v);
	assert_near("PTTL after an earlier call",
	    it_pttl("auth:revoked-before:u-1"),
	    (ib * 1000 + DAY_MS) - wall_ms(), 1000);
	ck_assert_int_eq(revoked_by("t1", "u-1", ib - 1), BY_USER);
	ck_assert_int_eq(revoked_by("t1", "u-1", ib - 50), BY_USER);

	/* A later one moves it forward. */
	IT_ASSERT_CODE(revoke_user("u-1", ib + 5, NULL, &res), CB_OK, &res);
	ck_assert_int_eq(revoked_by("t3", "u-1", ib + 4), BY_USER);
	ck_assert_int_eq(revoked_by("t3", "u-1", ib + 5), BY_NONE);
	assert_near("PTTL after a later call",
	    it_pttl("auth:revoked-before:u-1"),
	    ((ib + 5) * 1000 + DAY_MS) - wall_ms(), 1000);

	/* A token both blacklisted and older than the watermark. */
	IT_ASSERT_CODE(
	    revoke_token("t1", wall_s() + 60, NULL, &res), CB_OK, &res);
	ck_assert_int_eq(revoked_by("t1", "u-1", ib - 1), BY_TOKEN);

	/* A watermark that could revoke nothing still valid, or one in the
	 * future, is refused. */
	IT_ASSERT_CODE(
	    revoke_user("u-3", wall_s() - DAY_MS / 1000 - 10, NULL, &res),
	    CB_INVALID_ARGUMENT, &res);
	ck_assert_uint_gt(strlen(res.message), 0);
	IT_ASSERT_CODE(revoke_user("u-3", wall_s() + 3600, NULL, &res),
	    CB_INVALID_ARGUMENT, &res);
	IT_ASSERT_CODE(
	    revoke_user("u-3", 0, NULL, &res), CB_INVALID_ARGUMENT, &res);
	ck_assert(!it_exists("auth:revoked-before:u-3"));
}

/* ---- sessions ---- */

CBH_TEST(test_sessions)
{
	static const uint8_t data[] = { 'a', 0, 'b', 0xff, '\n', 'c' };
	Cachebroker__V1__GetSessionResponse *g;
	int64_t                              ttl = -1;
	bool                                 found;
	cb_result                            res;

	g = get_session("u-1");
	ck_assert(!g->found);
	ck_assert_uint_eq(g->data.len, 0);
	ck_assert_int_eq(g->ttl_ms, 0);
	cb_message_free(g);

	/* Default TTL: 24h. Data: bytes as they are. */
	IT_ASSERT_CODE(put_session("u-1", data, sizeof(data), 0, &ttl, &res),
	    CB_OK, &res);
	ck_assert_int_eq(ttl, DAY_MS);
	it_assert_ttl_near("auth:session:u-1", DAY_MS);
	g = get_session("u-1");
	ck_assert(g->found);
	ck_assert_uint_eq(g->data.len, sizeof(data));
	ck_assert_mem_eq(g->data.data, data, sizeof(data));
	ck_assert_msg(
	    g->ttl_ms > DAY_MS - IT_TTL_SLACK_MS && g->ttl_ms <= DAY_MS,
	    "ttl_ms %lld", (long long) g->ttl_ms);
	cb_message_free(g);

	/* Touch: a new TTL, or the default again. */
	IT_ASSERT_CODE(
	    touch_session("u-1", 60000, &found, &ttl, &res), CB_OK, &res);
	ck_assert(found);
	ck_assert_int_eq(ttl, 60000);
	it_assert_ttl_near("auth:session:u-1", 60000);
	IT_ASSERT_CODE(
	    touch_session("u-1", 0, &found, &ttl, &res), CB_OK, &res);
	ck_assert(found);
	ck_assert_int_eq(ttl, DAY_MS);
	it_assert_ttl_near("auth:session:u-1", DAY_MS);

	/* Overwrite with a TTL of its own. */
	IT_ASSERT_CODE(
	    put_session("u-1", "x", 1, 120000, &ttl, &res), CB_OK, &res);
	ck_assert_int_eq(ttl, 120000);
	it_assert_ttl_near("auth:session:u-1", 120000);

	/* Delete (logout). */
	IT_ASSERT_CODE(delete_session("u-1", &found, &res), CB_OK, &res);
	ck_assert(found);
	ck_assert(!it_exists("auth:session:u-1"));
	IT_ASSERT_CODE(delete_session("u-1", &found, &res), CB_OK, &res);
	ck_assert(!found);
	ck_assert(!session_found("u-1"));
	/* Touching no session creates none. */
	IT_ASSERT_CODE(
	    touch_session("u-1", 60000, &found, &ttl, &res), CB_OK, &res);
	ck_assert(!found);
	ck_assert_int_eq(ttl, 0);
	ck_assert_int_eq(it_redis_int("DBSIZE"), 0);

	/* An empty session is a session. */
	IT_ASSERT_CODE(put_session("u-2", "", 0, 0, NULL, &res), CB_OK, &res);
	ck_assert(session_found("u-2"));
}

CBH_TEST(test_session_expires_and_slides)
{
	int64_t   t0, ttl;
	bool      found;
	cb_result res;

	/* A short TTL really expires. */
	IT_ASSERT_CODE(
	    put_session("short", "s", 1, 300, NULL, &res), CB_OK, &res);
	ck_assert(session_found("short"));
	cbh_sleep_ms(450);
	ck_assert(!session_found("short"));

	/* Touch slides it: alive past its first TTL, gone after the last. */
	t0 = cbh_now_ms();
	IT_ASSERT_CODE(
	    put_session("slide", "s", 1, 1000, NULL, &res), CB_OK, &res);
	cbh_sleep_ms(600);
	IT_ASSERT_CODE(
	    touch_session("slide", 1000, &found, &ttl, &res), CB_OK, &res);
	ck_assert(found);
	cbh_sleep_ms(600);
	ck_assert_msg(cbh_now_ms() - t0 > 1000, "the test was too quick");
	ck_assert_msg(session_found("slide"),
	    "the session expired %lld ms after its put, although touched",
	    (long long) (cbh_now_ms() - t0));
	cbh_sleep_ms(700);
	ck_assert(!session_found("slide"));
}

/* ---- rate limits ---- */

#define CALLERS 64

typedef struct caller {
	pthread_t          tid;
	pthread_barrier_t *go;
	rate               r;
} caller;

static void *
caller_run(void *arg)
{
	caller *c = arg;

	pthread_barrier_wait(c->go);
	rate_check(&c->r);
	return NULL;
}

/*
 * burst runs CALLERS concurrent CheckRateLimit calls of subject, released
 * together, asserts that exactly limit of them were allowed, and checks
 * every answer.
 */
static void
burst(const char *subject, uint32_t limit, int64_t window_ms)
{
	static caller     cs[CALLERS];
	pthread_barrier_t go;
	int64_t           step          = (window_ms + limit - 1) / limit;
	int               allowed       = 0;
	int               seen[CALLERS] = { 0 };

	ck_assert_int_eq(pthread_barrier_init(&go, NULL, CALLERS), 0);
	for (int i = 0; i < CALLERS; i++) {
		cs[i].go = &go;
		cs[i].r  = RATE(subject, limit, window_ms, 1);
		ck_assert_int_eq(
		    pthread_create(&cs[i].tid, NULL, caller_run, &cs[i]), 0);
	}
	for (int i = 0; i < CALLERS; i++) {
		ck_assert_int_eq(pthread_join(cs[i].tid, NULL), 0);
	}
	pthread_barrier_destroy(&go);
	for (int i = 0; i < CALLERS; i++) {
		IT_ASSERT_CODE(cs[i].r.st, CB_OK, &cs[i].r.res);
		ck_assert(!cs[i].r.without_redis);
		allowed += cs[i].r.allowed;
	}
	ck_assert_msg(allowed == (int) limit,
	    "%d of %d concurrent callers allowed, limit %u per %lld ms",
	    allowed, CALLERS, limit, (long long) window_ms);
	for (int i = 0; i < CALLERS; i++) {
		const rate *r = &cs[i].r;

		if (r->allowed) {
			/* Each allowed call took one slot: remaining counts
			 * down from limit - 1 to 0, each value once. */
			ck_assert_int_eq(r->retry_after_ms, 0);
			ck_assert_msg(r->remaining >= 0 &&
			        r->remaining < (int64_t) limit &&
			        seen[r->remaining]++ == 0,
			    "remaining %lld twice or out of range",
			    (long long) r->remaining);
			ck_assert_msg(r->reset_after_ms > 0 &&
			        r->reset_after_ms <= window_ms,
			    "reset_after_ms %lld",
			    (long long) r->reset_after_ms);
		} else {
			ck_assert_int_eq(r->remaining, 0);
			ck_assert_msg(
			    r->retry_after_ms > 0 && r->retry_after_ms <= step,
			    "retry_after_ms %lld, step %lld",
			    (long long) r->retry_after_ms, (long long) step);
			ck_assert_msg(r->reset_after_ms > window_ms - step &&
			        r->reset_after_ms <= window_ms,
			    "reset_after_ms %lld",
			    (long long) r->reset_after_ms);
		}
	}
}

CBH_TEST(test_rate_limit_concurrent)
{
	rate    r;
	int64_t t0;

	/* 10 per 4 s: one slot every 400 ms, a burst of 10. */
	burst("login:alice", 10, 4000);
	it_assert_ttl_near("auth:rate-limit:login:alice", 4000);

	/* Denied now; allowed once retry_after has passed, and only once. */
	r = rate_ok("login:alice", 10, 4000, 1);
	ck_assert(!r.allowed);
	t0 = cbh_now_ms();
	cbh_sleep_ms((int) r.retry_after_ms + 50);
	r = rate_ok("login:alice", 10, 4000, 1);
	ck_assert_msg(r.allowed, "denied %lld ms after a retry_after of %lld",
	    (long long) (cbh_now_ms() - t0), (long long) r.retry_after_ms);
	ck_assert_int_eq(r.remaining, 0);
	r = rate_ok("login:alice", 10, 4000, 1);
	ck_assert(!r.allowed);
	ck_assert_int_gt(r.retry_after_ms, 0);

	/* Another subject has its own allowance. */
	r = rate_ok("login:bob", 10, 4000, 1);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.remaining, 9);
}

/* A window that does not divide by the limit (2000 / 3 ms a slot) counts
 * remaining exactly, and allows the whole limit at once. */
CBH_TEST(test_rate_limit_uneven_remaining)
{
	rate r = rate_ok("uneven:1", 3, 2000, 1);

	ck_assert(r.allowed);
	ck_assert_int_eq(r.remaining, 2);
	r = rate_ok("uneven:1", 3, 2000, 1);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.remaining, 1);
}

CBH_TEST(test_rate_limit_uneven_burst)
{
	burst("uneven:2", 3, 2000);
}

CBH_TEST(test_rate_limit_cost)
{
	rate r;

	/* 5 per 10 s: one slot every 2 s. */
	r = rate_ok("c:1", 5, 10000, 3);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.remaining, 2);
	assert_near("reset_after_ms", r.reset_after_ms, 6000, 100);
	r = rate_ok("c:1", 5, 10000, 3);
	ck_assert(!r.allowed);
	ck_assert_int_eq(r.remaining, 2);
	assert_near("retry_after_ms", r.retry_after_ms, 2000, 100);
	assert_near("reset_after_ms", r.reset_after_ms, 6000, 100);
	r = rate_ok("c:1", 5, 10000, 2);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.remaining, 0);
	assert_near("reset_after_ms", r.reset_after_ms, 10000, 100);
	r = rate_ok("c:1", 5, 10000, 1);
	ck_assert(!r.allowed);

	/* cost 0 is 1; the whole limit at once is allowed. */
	r = rate_ok("c:2", 2, 10000, 0);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.remaining, 1);
	r = rate_ok("c:3", 4, 10000, 4);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.remaining, 0);

	/* window 0: [auth] rate_limit_window, 15 minutes. */
	r = rate_ok("c:4", 3, 0, 1);
	ck_assert(r.allowed);
	assert_near("reset_after_ms", r.reset_after_ms, 300000, 100);
	it_assert_ttl_near("auth:rate-limit:c:4", 300000);
}

CBH_TEST(test_scripts_survive_flush)
{
	int64_t   ib = wall_s() - 100;
	cb_result res;
	rate      r;
	char     *v;

	it_redis_ok("CONFIG RESETSTAT");
	/* The first calls load the scripts; then they go by sha. */
	ck_assert_int_eq(rate_ok("f:1", 5, 60000, 1).remaining, 4);
	ck_assert_int_eq(rate_ok("f:1", 5, 60000, 1).remaining, 3);
	IT_ASSERT_CODE(revoke_user("u-f", ib, NULL, &res), CB_OK, &res);
	IT_ASSERT_CODE(revoke_user("u-f", ib + 1, NULL, &res), CB_OK, &res);
	ck_assert_int_ge(
	    it_info_stat("commandstats", "cmdstat_evalsha", "calls"), 2);
	ck_assert_int_eq(
	    it_info_stat("errorstats", "errorstat_NOSCRIPT", "count"), 0);

	it_redis_ok("SCRIPT FLUSH");
	r = rate_ok("f:1", 5, 60000, 1);
	ck_assert(r.allowed);
	ck_assert_int_eq(r.remaining, 2);
	IT_ASSERT_CODE(revoke_user("u-f", ib + 2, NULL, &res), CB_OK, &res);
	/* They met NOSCRIPT, and sent the scripts again. */
	ck_assert_int_ge(
	    it_info_stat("errorstats", "errorstat_NOSCRIPT", "count"), 1);
	v = it_redis_get("auth:revoked-before:u-f", NULL);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(strtoll(v, NULL, 10), ib + 2);
	free(v);

	/* And again, each script first after its own flush. */
	it_redis_ok("SCRIPT FLUSH");
	IT_ASSERT_CODE(revoke_user("u-f", ib, NULL, &res), CB_OK, &res);
	ck_assert_int_eq(revoked_by("t", "u-f", ib + 1), BY_USER);
	it_redis_ok("SCRIPT FLUSH");
	ck_assert_int_eq(rate_ok("f:1", 5, 60000, 1).remaining, 1);
	ck_assert_int_eq(rate_ok("f:1", 5, 60000, 1).remaining, 0);
	ck_assert(!rate_ok("f:1", 5, 60000, 1).allowed);
}

/* ---- crashes ---- */

static const cbh_redis_opts durable = {
	.config = "appendonly yes\nappendfsync always\n",
};

static void
setup_durable(void)
{
	cbh_env_opts eo = { .redis = &durable };

	it_env = NULL;
	ck_assert_msg(cbh_env_start(&it_env, &eo) == 0,
	    "could not start Redis and the broker (see above)");
}

#define LOADERS 16

/* A thread that keeps calling CheckRateLimit on its own subjects. */
typedef struct loader {
	pthread_t    tid;
	int          id;
	atomic_bool *stop;
	atomic_int  *ok; /* answers counted in Redis, all loaders */
} loader;

static void *
loader_run(void *arg)
{
	loader *l = arg;
	char    subject[32];

	for (int n = 0; !atomic_load(l->stop); n++) {
		rate r = RATE(subject, 1000, 60000, 1 + n % 3);

		/* Half on one subject that runs seconds ahead; half spread
		 * over many, each slot 6 s long, so that they outlive the
		 * restart. */
		if (n % 2 == 0) {
			snprintf(subject, sizeof(subject), "load:hot");
		} else {
			snprintf(subject, sizeof(subject), "load:%d:%d", l->id,
			    n % 8);
			r.limit = 10;
		}
		r.timeout_ms = 300;
		if (rate_check(&r) == CB_OK && !r.without_redis) {
			atomic_fetch_add(l->ok, 1);
		}
	}
	return NULL;
}

/* no_ttl_keys counts the keys matching pattern that have no TTL. */
static long long
no_ttl_keys(const char *pattern)
{
	return it_redis_int("EVAL %s 0 %s",
	    "local n = 0 "
	    "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
	    "  if redis.call('PTTL', k) == -1 then n = n + 1 end "
	    "end "
	    "return n",
	    pattern);
}

CBH_TEST(test_kill_mid_load)
{
	static loader ls[LOADERS];
	atomic_bool   stop = false;
	atomic_int    ok   = 0;
	int64_t       t0;
	long long     keys;
	rate          r;

	if (!it_need_own_redis()) {
		return;
	}
	for (int i = 0; i < LOADERS; i++) {
		ls[i] = (loader) { .id = i, .stop = &stop, .ok = &ok };
		ck_assert_int_eq(
		    pthread_create(&ls[i].tid, NULL, loader_run, &ls[i]), 0);
	}
	t0 = cbh_now_ms();
	while (atomic_load(&ok) < 300 && cbh_now_ms() - t0 < 10000) {
		cbh_sleep_ms(10);
	}
	/* Both die with calls in flight. */
	ck_assert_int_eq(cbh_broker_signal(it_env->broker, SIGKILL), 0);
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGKILL), 0);
	atomic_store(&stop, true);
	for (int i = 0; i < LOADERS; i++) {
		ck_assert_int_eq(pthread_join(ls[i].tid, NULL), 0);
	}
	ck_assert_int_ge(atomic_load(&ok), 300);

	/* Redis comes back with what it had written (AOF, fsync always). */
	ck_assert_int_eq(cbh_redis_restart(it_env->redis), 0);
	it_redis_reconnect();
	keys = it_count_keys("auth:rate-limit:*");
	ck_assert_int_gt(keys, 0);
	ck_assert_int_eq(no_ttl_keys("auth:rate-limit:*"), 0);

	/* A new broker carries on with them. */
	cb_client_close(it_env->client);
	it_env->client = NULL;
	cbh_broker_free(it_env->broker);
	it_env->broker = NULL;
	ck_assert_int_eq(
	    cbh_broker_start(&it_env->broker, it_env->redis, NULL), 0);
	ck_assert_int_eq(cb_client_open(&it_env->client,
	                     cbh_broker_url(it_env->broker), NULL),
	    CB_OK);
	ck_assert_int_eq(cbh_env_wait_serving(it_env, 10000), 0);
	/* Its count survived: hot is seconds ahead of now. */
	r = rate_ok("load:hot", 1000, 60000, 1);
	ck_assert_msg(
	    r.remaining < 990, "remaining %lld", (long long) r.remaining);
	ck_assert_int_eq(no_ttl_keys("auth:rate-limit:*"), 0);
	cbh_log("%d calls before the kill, %lld keys after", atomic_load(&ok),
	    keys);
}

/* ---- Redis down ---- */

/* stop_redis stops Redis and waits until the broker has noticed. */
static void
stop_redis(void)
{
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, SIGKILL), 0);
	ck_assert_msg(it_wait_redis_connected(false, NOTICE_MS),
	    "Health still says Redis is connected %d ms after it stopped",
	    NOTICE_MS);
}

CBH_TEST(test_redis_down_defaults)
{
	Cachebroker__V1__RevokedBy by = 0;
	cb_result                  res;
	cb_status                  st;
	int64_t                    t0, el;
	rate                       r = RATE("down:1", 5, 60000, 1);
	char                       out[512];

	if (!it_need_own_redis()) {
		return;
	}
	IT_ASSERT_CODE(
	    revoke_token("tok-d", wall_s() + 600, NULL, &res), CB_OK, &res);
	stop_redis();

	/* fail-closed: the auth service hears it cannot know, at once. */
	t0 = cbh_now_ms();
	st = is_revoked("tok-d", "u", wall_s(), 3000, &by, &res);
	el = cbh_now_ms() - t0;
	IT_ASSERT_CODE(st, CB_UNAVAILABLE, &res);
	ck_assert_uint_gt(strlen(res.message), 0);
	ck_assert_msg(el < 1000, "UNAVAILABLE after %lld ms", (long long) el);

	/* fail-open: allowed, and said so. */
	r.timeout_ms = 3000;
	t0           = cbh_now_ms();
	IT_ASSERT_CODE(rate_check(&r), CB_OK, &r.res);
	el = cbh_now_ms() - t0;
	ck_assert(r.allowed);
	ck_assert(r.without_redis);
	ck_assert_str_eq(r.res.x_cache, "degraded");
	ck_assert_msg(el < 1000, "answered after %lld ms", (long long) el);

	/* The CLI: cannot tell is a failure (3), not "not revoked" (1). */
	ck_assert_int_eq(
	    it_cli("is-revoked tok-d u 1 2>/dev/null", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(it_cli("ratelimit down:1 5 1m", out, sizeof(out)), 0);
	assert_prefix(out, "allowed remaining=0 "); /* not counted */
	ck_assert_msg(
	    strstr(out, " (decided without redis)\n") != NULL, "%s", out);
}

static void
setup_policies_swapped(void)
{
	it_setup_config("[auth]\n"
	                "revocation_when_down = fail-open\n"
	                "rate_limit_when_down = fail-closed\n");
}

typedef struct revoked_call {
	pthread_t                  tid;
	cb_status                  st;
	cb_result                  res;
	Cachebroker__V1__RevokedBy by;
	int64_t                    elapsed;
} revoked_call;

static void *
revoked_call_run(void *arg)
{
	revoked_call *c  = arg;
	int64_t       t0 = cbh_now_ms();

	c->st      = is_revoked("tok-p", "u", 1, 5000, &c->by, &c->res);
	c->elapsed = cbh_now_ms() - t0;
	return NULL;
}

CBH_TEST(test_redis_down_policies_swapped)
{
	Cachebroker__V1__RevokedBy by = 0;
	revoked_call               c  = { 0 };
	cb_result                  res;
	int64_t                    t0, el;
	rate                       r = RATE("down:2", 5, 60000, 1);
	char                       out[512];

	if (!it_need_own_redis()) {
		return;
	}
	/* Redis dies while the check waits on it: the policy answers. */
	it_redis_ok("CLIENT PAUSE 10000 ALL");
	ck_assert_int_eq(
	    pthread_create(&c.tid, NULL, revoked_call_run, &c), 0);
	cbh_sleep_ms(300);
	stop_redis();
	ck_assert_int_eq(pthread_join(c.tid, NULL), 0);
	IT_ASSERT_CODE(c.st, CB_OK, &c.res);
	ck_assert_int_eq(c.by, BY_UNKNOWN);
	ck_assert_str_eq(c.res.x_cache, "degraded");
	ck_assert_msg(
	    c.elapsed < 2000, "answered after %lld ms", (long long) c.elapsed);

	/* With no connection at all. */
	t0 = cbh_now_ms();
	IT_ASSERT_CODE(
	    is_revoked("tok-p", "u", 1, 3000, &by, &res), CB_OK, &res);
	el = cbh_now_ms() - t0;
	ck_assert_int_eq(by, BY_UNKNOWN);
	ck_assert_str_eq(res.x_cache, "degraded");
	ck_assert_msg(el < 1000, "answered after %lld ms", (long long) el);

	/* fail-closed rate limit: denied, try again later. */
	IT_ASSERT_CODE(rate_check(&r), CB_OK, &r.res);
	ck_assert(!r.allowed);
	ck_assert(r.without_redis);
	ck_assert_int_gt(r.retry_after_ms, 0);

	ck_assert_int_eq(it_cli("is-revoked tok-p u 1", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "not revoked (unknown: redis down)\n");
	ck_assert_int_eq(it_cli("ratelimit down:3 5 1m", out, sizeof(out)), 1);
	assert_prefix(out, "denied retry_after=");
	ck_assert_msg(
	    strstr(out, " (decided without redis)\n") != NULL, "%s", out);
}

/* ---- configuration ---- */

static void
setup_configured(void)
{
	it_setup_config("[auth]\n"
	                "max_token_lifetime = 1h\n"
	                "session_ttl = 90s\n"
	                "rate_limit_window = 10s\n");
}

CBH_TEST(test_configured_lifetimes)
{
	int64_t   ib  = wall_s() - 10;
	int64_t   ttl = -1;
	cb_result res;
	rate      r;

	IT_ASSERT_CODE(revoke_user("u-1", ib, &ttl, &res), CB_OK, &res);
	assert_near("ttl_ms", ttl, ib * 1000 + 3600000 - wall_ms(), 1000);
	assert_near("PTTL", it_pttl("auth:revoked-before:u-1"),
	    ib * 1000 + 3600000 - wall_ms(), 1000);
	/* Tokens of two hours ago have expired under a 1h lifetime. */
	IT_ASSERT_CODE(revoke_user("u-2", wall_s() - 7200, NULL, &res),
	    CB_INVALID_ARGUMENT, &res);

	IT_ASSERT_CODE(put_session("u-1", "s", 1, 0, &ttl, &res), CB_OK, &res);
	ck_assert_int_eq(ttl, 90000);
	it_assert_ttl_near("auth:session:u-1", 90000);

	r = rate_ok("ip:1", 2, 0, 1);
	assert_near("reset_after_ms", r.reset_after_ms, 5000, 100);
	it_assert_ttl_near("auth:rate-limit:ip:1", 5000);
}

/* ---- bad input ---- */

/* expect_invalid asserts INVALID_ARGUMENT with a message. */
static void
expect_invalid(cb_status st, const cb_result *res, const char *what, size_t i)
{
	ck_assert_msg(st == CB_INVALID_ARGUMENT, "%s (case %zu): got %s (%s)",
	    what, i, cb_status_str(st), res->message);
	ck_assert_msg(
	    res->message[0] != '\0', "%s (case %zu): no message", what, i);
}

CBH_TEST(test_validation)
{
	char        long_id[258];
	char        max_id[257];
	int64_t     later = wall_s() + 600, earlier = wall_s() - 10;
	int64_t     ttl;
	bool        found;
	cb_result   res;
	rate        r;
	const char *bad[] = { "", long_id, "a b", "a*", "tab\t", "q?" };
	Cachebroker__V1__RevokedBy by;
	size_t                     i;

	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	memset(max_id, 'y', sizeof(max_id) - 1);
	max_id[sizeof(max_id) - 1] = '\0';

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *id = bad[i];

		expect_invalid(revoke_token(id, later, NULL, &res), &res,
		    "RevokeToken", i);
		expect_invalid(revoke_user(id, earlier, NULL, &res), &res,
		    "RevokeUserTokens", i);
		expect_invalid(is_revoked(id, "u", 1, 0, &by, &res), &res,
		    "IsTokenRevoked token_id", i);
		expect_invalid(is_revoked("t", id, 1, 0, &by, &res), &res,
		    "IsTokenRevoked user_id", i);
		expect_invalid(put_session(id, "d", 1, 0, NULL, &res), &res,
		    "PutSession", i);
		expect_invalid(delete_session(id, &found, &res), &res,
		    "DeleteSession", i);
		expect_invalid(touch_session(id, 0, &found, &ttl, &res), &res,
		    "TouchSession", i);
		r = RATE(id, 5, 1000, 1);
		expect_invalid(rate_check(&r), &r.res, "CheckRateLimit", i);
	}
	expect_invalid(
	    revoke_token("t", 0, NULL, &res), &res, "expires_at 0", 0);
	expect_invalid(
	    revoke_token("t", -5, NULL, &res), &res, "expires_at -5", 0);
	expect_invalid(
	    put_session("u", "d", 1, -1, NULL, &res), &res, "put ttl -1", 0);
	expect_invalid(touch_session("u", -1, &found, &ttl, &res), &res,
	    "touch ttl -1", 0);
	r = RATE("s", 0, 1000, 1);
	expect_invalid(rate_check(&r), &r.res, "limit 0", 0);
	r = RATE("s", 5, 1000, -1);
	expect_invalid(rate_check(&r), &r.res, "cost -1", 0);
	r = RATE("s", 5, 1000, 6);
	expect_invalid(rate_check(&r), &r.res, "cost > limit", 0);
	r = RATE("s", 5, -1, 1);
	expect_invalid(rate_check(&r), &r.res, "window -1", 0);
	/* Nothing was written. */
	ck_assert_int_eq(it_redis_int("DBSIZE"), 0);

	/* 256 bytes is allowed. */
	IT_ASSERT_CODE(revoke_token(max_id, later, NULL, &res), CB_OK, &res);
	ck_assert_int_eq(revoked_by(max_id, max_id, 1), BY_TOKEN);
	IT_ASSERT_CODE(
	    put_session(max_id, "d", 1, 0, NULL, &res), CB_OK, &res);
	ck_assert(rate_ok(max_id, 5, 1000, 5).allowed);
}

/* Times and TTLs past what milliseconds in an int64 (or Redis) hold are
 * refused, or honoured: never a token left usable, never INTERNAL. */
CBH_TEST(test_out_of_range)
{
	int64_t                    far = INT64_MAX / 10;
	Cachebroker__V1__RevokedBy by  = 0;
	bool                       found;
	int64_t                    ttl;
	cb_result                  res;
	cb_status                  st;

	st = revoke_token("far", far, NULL, &res);
	if (st == CB_OK) {
		IT_ASSERT_CODE(
		    is_revoked("far", "u", 1, 0, &by, &res), CB_OK, &res);
		ck_assert_msg(by == BY_TOKEN,
		    "RevokeToken(expires_at %lld) answered OK, but the token "
		    "is not revoked",
		    (long long) far);
	} else {
		expect_invalid(st, &res, "RevokeToken far", 0);
	}
	expect_invalid(revoke_user("u-far", far, NULL, &res), &res,
	    "RevokeUserTokens far", 0);
	expect_invalid(put_session("u", "d", 1, INT64_MAX, NULL, &res), &res,
	    "PutSession ttl_ms INT64_MAX", 0);
	expect_invalid(touch_session("u", INT64_MAX, &found, &ttl, &res), &res,
	    "TouchSession ttl_ms INT64_MAX", 0);
	ck_assert(rate_ok("after", 5, 1000, 1).allowed);
}

/* ---- the CLI ---- */

CBH_TEST(test_cli_revocation)
{
	char    args[256];
	char    out[512];
	int64_t now = wall_s();

	snprintf(args, sizeof(args), "revoke-token tok-1 %lld",
	    (long long) now + 600);
	ck_assert_int_eq(it_cli(args, out, sizeof(out)), 0);
	assert_near("printed ttl_ms", strtoll(out, NULL, 10), 600000, 2000);
	ck_assert(it_exists("auth:blacklist:tok-1"));

	ck_assert_int_eq(
	    it_cli("is-revoked tok-1 u-1 1", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "revoked (token)\n");
	ck_assert_int_eq(
	    it_cli("is-revoked tok-2 u-1 1", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "not revoked\n");

	snprintf(args, sizeof(args), "--json revoke-user u-1 %lld",
	    (long long) now);
	ck_assert_int_eq(it_cli(args, out, sizeof(out)), 0);
	assert_prefix(out, "{\"ttl_ms\":");
	snprintf(args, sizeof(args), "is-revoked tok-2 u-1 %lld",
	    (long long) now - 1);
	ck_assert_int_eq(it_cli(args, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "revoked (user)\n");
	snprintf(args, sizeof(args), "--json is-revoked tok-2 u-1 %lld",
	    (long long) now);
	ck_assert_int_eq(it_cli(args, out, sizeof(out)), 1);
	ck_assert_str_eq(out, "{\"revoked\":false,\"by\":\"none\"}\n");

	/* Usage errors exit 2; the broker's refusals exit 3. */
	ck_assert_int_eq(
	    it_cli("revoke-token tok-3 soon 2>/dev/null", out, sizeof(out)),
	    2);
	ck_assert_int_eq(
	    it_cli("is-revoked tok-3 u-1 2>/dev/null", out, sizeof(out)), 2);
	ck_assert_int_eq(
	    it_cli("is-revoked 'tok*' u-1 1 2>/dev/null", out, sizeof(out)),
	    3);
	ck_assert_int_eq(
	    it_cli("revoke-user u-1 1 2>/dev/null", out, sizeof(out)), 3);
}

CBH_TEST(test_cli_sessions)
{
	char out[512];

	ck_assert_int_eq(it_cli("session get u-1", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(it_cli("session put u-1 '{\"cart\":3}' --ttl 1h", out,
	                     sizeof(out)),
	    0);
	ck_assert_str_eq(out, "");
	it_assert_ttl_near("auth:session:u-1", 3600000);
	ck_assert_int_eq(it_cli("session get u-1", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "{\"cart\":3}\n");
	ck_assert_int_eq(
	    it_cli("--json session get u-1", out, sizeof(out)), 0);
	assert_prefix(
	    out, "{\"found\":true,\"data\":\"{\\\"cart\\\":3}\",\"ttl_ms\":");

	ck_assert_int_eq(it_cli("session touch u-1", out, sizeof(out)), 0);
	it_assert_ttl_near("auth:session:u-1", DAY_MS);
	ck_assert_int_eq(it_cli("session del u-1", out, sizeof(out)), 0);
	ck_assert(!it_exists("auth:session:u-1"));
	ck_assert_int_eq(it_cli("session del u-1", out, sizeof(out)), 1);
	ck_assert_int_eq(
	    it_cli("--json session touch u-1", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "{\"found\":false}\n");

	ck_assert_int_eq(it_cli("session 2>/dev/null", out, sizeof(out)), 2);
	ck_assert_int_eq(
	    it_cli("session list u-1 2>/dev/null", out, sizeof(out)), 2);
	ck_assert_int_eq(
	    it_cli("session get u-1 --nx 2>/dev/null", out, sizeof(out)), 2);
}

CBH_TEST(test_cli_ratelimit)
{
	char out[512];

	ck_assert_int_eq(it_cli("ratelimit ip:1 2 1m", out, sizeof(out)), 0);
	assert_prefix(out, "allowed remaining=1 reset_after=");
	ck_assert_int_eq(it_cli("ratelimit ip:1 2 1m", out, sizeof(out)), 0);
	assert_prefix(out, "allowed remaining=0 reset_after=");
	ck_assert_int_eq(it_cli("ratelimit ip:1 2 1m", out, sizeof(out)), 1);
	assert_prefix(out, "denied retry_after=");
	ck_assert_msg(
	    strstr(out, " remaining=0 reset_after=") != NULL, "%s", out);
	ck_assert_int_eq(
	    it_cli("--json ratelimit ip:1 2 1m", out, sizeof(out)), 1);
	assert_prefix(out, "{\"allowed\":false,\"remaining\":0,");
	ck_assert_msg(
	    strstr(out, "\"decided_without_redis\":false}\n") != NULL, "%s",
	    out);

	ck_assert_int_eq(
	    it_cli("ratelimit ip:2 5 1m --cost 3", out, sizeof(out)), 0);
	assert_prefix(out, "allowed remaining=2 ");

	ck_assert_int_eq(
	    it_cli("ratelimit ip:3 0 1m 2>/dev/null", out, sizeof(out)), 2);
	ck_assert_int_eq(
	    it_cli("ratelimit ip:3 2 soon 2>/dev/null", out, sizeof(out)), 2);
	ck_assert_int_eq(it_cli("ratelimit ip:3 2 1m --cost 0 2>/dev/null",
	                     out, sizeof(out)),
	    2);
	ck_assert_int_eq(it_cli("ratelimit ip:3 2 1m --cost 3 2>/dev/null",
	                     out, sizeof(out)),
	    3);
	ck_assert(!it_exists("auth:rate-limit:ip:3"));
}

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc;

	tc = it_tcase("auth");
	tcase_add_test(tc, test_revoke_token_ttl);
	tcase_add_test(tc, test_revoke_user_watermark);
	tcase_add_test(tc, test_sessions);
	tcase_add_test(tc, test_session_expires_and_slides);
	tcase_add_test(tc, test_rate_limit_concurrent);
	tcase_add_test(tc, test_rate_limit_uneven_remaining);
	tcase_add_test(tc, test_rate_limit_uneven_burst);
	tcase_add_test(tc, test_rate_limit_cost);
	tcase_add_test(tc, test_scripts_survive_flush);
	tcase_add_test(tc, test_redis_down_defaults);
	tcase_add_test(tc, test_validation);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_cli_revocation);
	tcase_add_test(tc, test_cli_sessions);
	tcase_add_test(tc, test_cli_ratelimit);
	suite_add_tcase(s, tc);

	tc = it_tcase_with("durable", setup_durable);
	tcase_add_test(tc, test_kill_mid_load);
	suite_add_tcase(s, tc);

	tc = it_tcase_with("swapped_policies", setup_policies_swapped);
	tcase_add_test(tc, test_redis_down_policies_swapped);
	suite_add_tcase(s, tc);

	tc = it_tcase_with("configured", setup_configured);
	tcase_add_test(tc, test_configured_lifetimes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(auth_suite());
}

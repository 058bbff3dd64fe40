/* SPDX-License-Identifier: MIT */
/* The requests of a load run: key, message, check of the answer, preset. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cachebroker/cachebroker.h>

#include "bench.h"

/*
 * Request i of a run (0 <= i < keys; with keys 1, the --key itself):
 *
 *   get        Get       ns, "KEY:i"                  (preset: SetMany)
 *   revoked    IsTokenRevoked  token_id 32 hex digits of i, user_id
 *              "u{i % users}", issued_at an hour before the run
 *   ratelimit  CheckRateLimit  subject "KEY:10.a.b.c" (i's bytes), limit,
 *              window_ms, cost 1
 *   getmany    GetMany   ns, "KEY:j" for the BENCH_MANY j from i on
 *              (modulo keys)                        (preset: SetMany)
 *
 * The preset revokes token i when i % every == 0, and every token of
 * user u (a watermark a minute before the preset) when u % every == 1,
 * so that the two sets do not overlap: with 100,000 tokens, 10,000 users
 * and every = 100, 2% of the tokens are revoked, half of them each way.
 */

/* SetMany entries a call (the broker's default max_batch_keys). */
#define CALL_BATCH 1000

/* Tokens were issued this long before the run; a watermark is this long
 * before the preset, so it revokes them. */
#define CALL_TOKEN_AGE_S 3600
#define CALL_MARK_AGE_S 60

/* How long a revoked token has left. */
#define CALL_TOKEN_LEFT_S 86400

const bench_kind bench_kinds[] = {
	/* In the order of bench_mode. */
	{ "echo", "/cachebroker.v1.CacheService/Get",
	    &cachebroker__v1__get_response__descriptor, "found" },
	{ "get", "/cachebroker.v1.CacheService/Get",
	    &cachebroker__v1__get_response__descriptor, "found" },
	{ "revoked", "/cachebroker.v1.AuthService/IsTokenRevoked",
	    &cachebroker__v1__is_token_revoked_response__descriptor,
	    "revoked" },
	{ "ratelimit", "/cachebroker.v1.AuthService/CheckRateLimit",
	    &cachebroker__v1__check_rate_limit_response__descriptor,
	    "allowed" },
	{ "getmany", "/cachebroker.v1.CacheService/GetMany",
	    &cachebroker__v1__get_many_response__descriptor, "found" },
};

uint32_t
bench_call_pick(const bench_load_opts *o, int idx, uint64_t seq)
{
	uint64_t x = ((uint64_t) idx << 40) | seq;

	if (o->zipf_seq != NULL) {
		/* Each worker its own stretch of the one sequence. */
		return (o->zipf_seq[(seq + (uint64_t) idx * 1000003u) %
		            o->zipf_n] -
		    1);
	}
	return (
	    o->keys <= 1 ? 0 : (uint32_t) (bench_splitmix64(&x) % o->keys));
}

/* call_token writes token i's id and its user's; says whether the preset
 * revoked it. */
static bool
call_token(const bench_load_opts *o, uint32_t i, char *id, char *user)
{
	uint64_t x = i;
	uint32_t u = i % (o->users > 0 ? o->users : 1);
	uint64_t a = bench_splitmix64(&x);

	(void) snprintf(id, BENCH_ID_MAX, "%016" PRIx64 "%016" PRIx64, a,
	    bench_splitmix64(&x));
	(void) snprintf(user, BENCH_ID_MAX, "u%" PRIu32, u);
	return (o->every > 0 && (i % o->every == 0 || u % o->every == 1));
}

void
bench_call_init(bench_call *c, const bench_load_opts *o, uint32_t i)
{
	switch (o->mode) {
	case BENCH_MODE_REVOKED:
		cachebroker__v1__is_token_revoked_request__init(
		    &c->req.revoked);
		c->expect                = call_token(o, i, c->id, c->user);
		c->req.revoked.token_id  = c->id;
		c->req.revoked.user_id   = c->user;
		c->req.revoked.issued_at = o->now_s - CALL_TOKEN_AGE_S;
		return;
	case BENCH_MODE_RATELIMIT:
		cachebroker__v1__check_rate_limit_request__init(&c->req.rate);
		if (o->keys <= 1) {
			(void) snprintf(c->id, sizeof(c->id), "%s", o->key);
		} else {
			(void) snprintf(c->id, sizeof(c->id), "%s:10.%u.%u.%u",
			    o->key, (i >> 16) & 255, (i >> 8) & 255, i & 255);
		}
		c->req.rate.subject   = c->id;
		c->req.rate.limit     = o->limit;
		c->req.rate.window_ms = o->window_ms;
		c->req.rate.cost      = 1;
		return;
	case BENCH_MODE_GETMANY:
		cachebroker__v1__get_many_request__init(&c->req.many);
		for (uint32_t j = 0; j < BENCH_MANY; j++) {
			(void) snprintf(c->many_ids[j], sizeof(c->many_ids[j]),
			    "%s:%" PRIu32, o->key,
			    (i + j) % (o->keys > 0 ? o->keys : 1));
			c->many_keys[j] = c->many_ids[j];
		}
		(void) snprintf(c->id, sizeof(c->id), "%s", c->many_ids[0]);
		c->req.many.namespace_ = (char *) o->ns;
		c->req.many.keys       = c->many_keys;
		c->req.many.n_keys     = BENCH_MANY;
		return;
	default:
		cachebroker__v1__get_request__init(&c->req.get);
		if (o->keys <= 1) {
			(void) snprintf(c->id, sizeof(c->id), "%s", o->key);
		} else {
			(void) snprintf(
			    c->id, sizeof(c->id), "%s:%" PRIu32, o->key, i);
		}
		c->req.get.namespace_ = (char *) o->ns;
		c->req.get.key        = c->id;
		return;
	}
}

int
bench_call_check(const bench_load_opts *o, const bench_call *c,
    const ProtobufCMessage *resp, bool *yes, char *err, size_t errlen)
{
	const Cachebroker__V1__GetResponse            *get;
	const Cachebroker__V1__IsTokenRevokedResponse *rev;
	const Cachebroker__V1__CheckRateLimitResponse *rate;
	const Cachebroker__V1__GetManyResponse        *many;

	if (resp == NULL) {
		(void) snprintf(err, errlen, "no answer message");
		return (-1);
	}
	switch (o->mode) {
	case BENCH_MODE_REVOKED:
		rev = (const void *) resp;
		if ((bool) rev->revoked != c->expect) {
			(void) snprintf(err, errlen,
			    "token %s of %s: revoked %d (by %d), expected %d",
			    c->id, c->user, (int) rev->revoked, (int) rev->by,
			    (int) c->expect);
			return (-1);
		}
		*yes = rev->revoked;
		return (0);
	case BENCH_MODE_RATELIMIT:
		rate = (const void *) resp;
		if (rate->decided_without_redis) {
			(void) snprintf(
			    err, errlen, "%s: decided without Redis", c->id);
			return (-1);
		}
		if (rate->remaining < 0 || rate->remaining > o->limit ||
		    (!rate->allowed && rate->retry_after_ms <= 0)) {
			(void) snprintf(err, errlen,
			    "%s: allowed %d, remaining %" PRId64
			    ", retry after %" PRId64 " ms",
			    c->id, (int) rate->allowed, rate->remaining,
			    rate->retry_after_ms);
			return (-1);
		}
		*yes = rate->allowed;
		return (0);
	case BENCH_MODE_GETMANY:
		many = (const void *) resp;
		if (many->n_entries != BENCH_MANY) {
			(void) snprintf(err, errlen, "%zu entries, not %d",
			    many->n_entries, BENCH_MANY);
			return (-1);
		}
		for (size_t j = 0; j < many->n_entries; j++) {
			const Cachebroker__V1__GetManyEntry *e =
			    many->entries[j];
			if (!e->found || e->value.len != o->value_size ||
			    strcmp(e->key, c->many_ids[j]) != 0) {
				(void) snprintf(err, errlen,
				    "%s: found %d, %zu bytes", c->many_ids[j],
				    (int) e->found, e->value.len);
				return (-1);
			}
		}
		*yes = true;
		return (0);
	default:
		get = (const void *) resp;
		if (!get->found) {
			(void) snprintf(
			    err, errlen, "miss: %s is not set", c->id);
			return (-1);
		}
		if (get->value.len != o->value_size) {
			(void) snprintf(err, errlen,
			    "%s: value of %zu bytes, not %zu", c->id,
			    get->value.len, o->value_size);
			return (-1);
		}
		*yes = true;
		return (0);
	}
}

int
bench_call_run(cb_client *client, const bench_load_opts *o,
    const bench_call *c, bool *yes, char *err, size_t errlen)
{
	ProtobufCMessage *resp = NULL;
	cb_result         res;
	cb_status         rc;
	int               rv;

	memset(&res, 0, sizeof(res));
	rc = cb_client_call(client, bench_kinds[o->mode].method, &c->req.base,
	    bench_kinds[o->mode].resp, &resp, NULL, &res);
	if (rc != CB_OK) {
		(void) snprintf(err, errlen, "%s: %s: %s", c->id,
		    cb_status_str((int) rc), res.message);
		return (-1);
	}
	rv = bench_call_check(o, c, resp, yes, err, errlen);
	cb_message_free(resp);
	return (rv);
}

/* preset_one stores the one key of o (Set). */
static int
preset_one(cb_client *c, const bench_load_opts *o, char *err, size_t errlen)
{
	Cachebroker__V1__SetRequest   set = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__SetResponse *resp = NULL;
	cb_result                     res;
	uint8_t                      *val;
	cb_status                     rc;

	if ((val = malloc(o->value_size + 1)) == NULL) {
		(void) snprintf(err, errlen, "out of memory");
		return (-1);
	}
	for (size_t i = 0; i < o->value_size; i++) {
		val[i] = (uint8_t) ('a' + i % 26);
	}
	memset(&res, 0, sizeof(res));
	set.namespace_ = (char *) o->ns;
	set.key        = (char *) o->key;
	set.value.data = val;
	set.value.len  = o->value_size;
	set.condition  = CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS;
	rc             = cb_cache_set(c, &set, &resp, NULL, &res);
	free(val);
	if (rc != CB_OK || !resp->stored) {
		(void) snprintf(err, errlen, "Set %s/%s: %s: %s", o->ns,
		    o->key, cb_status_str((int) rc),
		    rc == CB_OK ? "not stored" : res.message);
		cb_message_free(resp);
		return (-1);
	}
	cb_message_free(resp);
	return (0);
}

/* preset_get stores the keys, then reads the first and the last back
 * with a load run's own call and check. */
static int
preset_get(cb_client *c, const bench_load_opts *o, char *err, size_t errlen)
{
	bench_call call;
	char       prefix[BENCH_ID_MAX];
	bool       yes;
	int        rv;

	(void) snprintf(prefix, sizeof(prefix), "%s:", o->key);
	if (o->keys <= 1) {
		rv = preset_one(c, o, err, errlen);
	} else {
		rv = bench_set_many(c, o->ns, prefix, 0, o->keys,
		    o->value_size, 0, CALL_BATCH, err, errlen);
	}
	if (rv != 0) {
		return (-1);
	}
	bench_call_init(&call, o, 0);
	if (bench_call_run(c, o, &call, &yes, err, errlen) != 0) {
		return (-1);
	}
	bench_call_init(&call, o, o->keys > 1 ? o->keys - 1 : 0);
	if (bench_call_run(c, o, &call, &yes, err, errlen) != 0) {
		return (-1);
	}
	printf("preset %s/%s: %" PRIu32 " keys of %zu bytes\n", o->ns, o->key,
	    o->keys > 1 ? o->keys : 1, o->value_size);
	return (0);
}

/* preset_revoked revokes the tokens and users of the comment at the top. */
static int
preset_revoked(
    cb_client *c, const bench_load_opts *o, char *err, size_t errlen)
{
	Cachebroker__V1__RevokeTokenRequest tok =
	    CACHEBROKER__V1__REVOKE_TOKEN_REQUEST__INIT;
	Cachebroker__V1__RevokeUserTokensRequest usr =
	    CACHEBROKER__V1__REVOKE_USER_TOKENS_REQUEST__INIT;
	Cachebroker__V1__RevokeTokenResponse      *tresp;
	Cachebroker__V1__RevokeUserTokensResponse *uresp;
	cb_result                                  res;
	cb_status                                  rc;
	char                                       id[BENCH_ID_MAX];
	char                                       user[BENCH_ID_MAX];
	uint32_t                                   ntok = 0;
	uint32_t                                   nusr = 0;

	memset(&res, 0, sizeof(res));
	for (uint32_t i = 0; o->every > 0 && i < o->keys; i += o->every) {
		(void) call_token(o, i, id, user);
		tok.token_id   = id;
		tok.expires_at = o->now_s + CALL_TOKEN_LEFT_S;
		if ((rc = cb_auth_revoke_token(c, &tok, &tresp, NULL, &res)) !=
		    CB_OK) {
			goto fail;
		}
		cb_message_free(tresp);
		ntok++;
	}
	for (uint32_t u = 1; o->every > 0 && u < o->users; u += o->every) {
		(void) snprintf(user, sizeof(user), "u%" PRIu32, u);
		usr.user_id       = user;
		usr.issued_before = o->now_s - CALL_MARK_AGE_S;
		if ((rc = cb_auth_revoke_user_tokens(
		         c, &usr, &uresp, NULL, &res)) != CB_OK) {
			goto fail;
		}
		cb_message_free(uresp);
		nusr++;
	}
	printf("preset: %" PRIu32 " of %" PRIu32 " tokens revoked, and every "
	       "token of %" PRIu32 " of %" PRIu32 " users\n",
	    ntok, o->keys, nusr, o->users);
	return (0);
fail:
	(void) snprintf(err, errlen, "revoking: %s: %s",
	    cb_status_str((int) rc), res.message);
	return (-1);
}

int
bench_preset(const bench_load_opts *o)
{
	cb_client *c;
	char       err[512];
	int        rv = 0;

	if (o->mode == BENCH_MODE_ECHO || o->mode == BENCH_MODE_RATELIMIT) {
		return (0); /* nothing to store */
	}
	if (bench_client_open(&c, o->url, o->timeout_ms) != 0) {
		return (1);
	}
	if (o->mode == BENCH_MODE_GET || o->mode == BENCH_MODE_GETMANY) {
		rv = preset_get(c, o, err, sizeof(err));
	} else {
		rv = preset_revoked(c, o, err, sizeof(err));
	}
	if (rv != 0) {
		fprintf(stderr, "cb_bench: preset: %s\n", err);
	}
	cb_client_close(c);
	return (rv != 0 ? 1 : 0);
}

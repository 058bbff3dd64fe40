/* SPDX-License-Identifier: MIT */
/* CacheService: Get, GetMany, Set, SetMany, Delete, InvalidatePattern,
 * Increment, Expire over the Redis pool. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "invalidate.h"
#include "keys.h"
#include "loader.h"
#include "pb.h"
#include "redis_pool.h"
#include "script.h"
#include "request.h"
#include "svc.h"
#include "svc_l1.h"
#include "stats.h"

/*
 * Every handler follows one shape: check (nng thread) validates the
 * decoded request; run (loop thread) sends its Redis commands with
 * op.pending set to how many replies it waits for; each reply goes
 * through cbd_svc_reply, which drops late ones and records the first error;
 * the last reply finishes the request through cbd_svc_done.
 */

/* is_negative: the loader's "not found" marker reads as a missing key. */
static int
is_negative(const redisReply *r)
{
	return r->len == CBD_NEGATIVE_LEN &&
	    memcmp(r->str, CBD_NEGATIVE_VALUE, CBD_NEGATIVE_LEN) == 0;
}

static const char *
prefix(const cbd_req *req)
{
	return cbd_req_config(req)->redis.key_prefix;
}

/* Shared checks. */

static cb_status
check_ns_key(const cbd_limits *lim, const char *ns, const char *key, char *why,
    size_t whylen)
{
	CBD_CHECK(cbd_keys_check_namespace(ns, why, whylen));
	return cbd_keys_check_key(key, lim->max_key_size, why, whylen);
}

static cb_status
check_keys(const cbd_limits *lim, const char *ns, size_t n, char **keys,
    char *why, size_t whylen)
{
	CBD_CHECK(cbd_keys_check_namespace(ns, why, whylen));
	if (n == 0) {
		snprintf(why, whylen, "no keys given");
		return CB_INVALID_ARGUMENT;
	}
	if (n > lim->max_batch_keys) {
		snprintf(why, whylen, "%zu keys, the limit is %" PRIu32, n,
		    lim->max_batch_keys);
		return CB_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < n; i++) {
		CBD_CHECK(cbd_keys_check_key(
		    keys[i], lim->max_key_size, why, whylen));
	}
	return CB_OK;
}

static cb_status
check_value(const cbd_limits *lim, size_t len, int64_t ttl_ms, char *why,
    size_t whylen)
{
	if (len > lim->max_value_size) {
		snprintf(why, whylen, "value is %zu bytes, the limit is %zu",
		    len, lim->max_value_size);
		return CB_RESOURCE_EXHAUSTED;
	}
	if (ttl_ms < 0) {
		snprintf(why, whylen, "ttl_ms must not be negative");
		return CB_INVALID_ARGUMENT;
	}
	return cbd_svc_check_ttl(lim, "ttl_ms", ttl_ms, why, whylen);
}

/* keys_arena is the room n keys of ns take in a command. */
static size_t
keys_arena(const cbd_req *req, const char *ns, size_t n, char **keys)
{
	size_t arena = 0;

	for (size_t i = 0; i < n; i++) {
		arena += cbd_cmd_key_size(prefix(req), ns, keys[i]);
	}
	return arena;
}

/* keys_send sends "VERB key..." for the keys of one namespace (MGET)
 * after making op.resp a resp_desc; -1 once answered. */
static int
keys_send(cbd_req *req, const char *verb, const char *ns, size_t n,
    char **keys, const ProtobufCMessageDescriptor *resp_desc, cbd_redis_fn *fn)
{
	cbd_redis_conn *c;
	cbd_cmd         cmd;

	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_alloc(req, resp_desc) == NULL ||
	    cbd_svc_cmd(
	        req, &cmd, (int) n + 1, keys_arena(req, ns, n, keys)) != 0) {
		return -1;
	}
	cbd_cmd_str(&cmd, verb);
	for (size_t i = 0; i < n; i++) {
		cbd_cmd_key(&cmd, prefix(req), ns, keys[i]);
	}
	return cbd_svc_send(req, c, fn, 0, &cmd);
}

/* Get: GET and PTTL, pipelined on one connection. */

cb_status
cbd_cache_get_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__GetRequest *r = (const void *) in;

	(void) cfg;
	return check_ns_key(lim, r->namespace_, r->key, why, whylen);
}

static void
get_cb(void *arg, uint64_t tag, redisReply *r)
{
	int                           ok;
	cbd_req                      *req = cbd_svc_reply(arg, tag, r, &ok);
	Cachebroker__V1__GetResponse *resp;

	if (req == NULL) {
		return;
	}
	resp = (void *) req->op.resp;
	if (ok && (uint32_t) tag == 0 && r->type == REDIS_REPLY_STRING &&
	    !is_negative(r)) {
		if ((resp->value.data = malloc(r->len + 1)) == NULL) {
			cbd_svc_fail_oom(req);
		} else {
			memcpy(resp->value.data, r->str, r->len);
			resp->value.len = r->len;
			resp->found     = 1;
		}
	} else if (ok && (uint32_t) tag == 1 &&
	    r->type == REDIS_REPLY_INTEGER) {
		resp->ttl_ms = r->integer;
	}
	if (req->op.pending == 0 && req->op.code == CB_OK) {
		const Cachebroker__V1__GetRequest *in = (const void *) req->in;
		cbd_ns_stats                      *ns =
		    cbd_stats_ns(req->host->stats, in->namespace_);
		if (resp->found) {
			/* ttl_ms is PTTL's: -1 none, -2 gone meanwhile (not
			 * stored). */
			cbd_svc_l1_fill(req, in->namespace_, 0, in->key,
			    resp->value.data, resp->value.len, resp->ttl_ms);
		}
		if (resp->found) {
			ns->hits++;
			req->x_cache = "hit";
			/* -2: expired between GET and PTTL; say "no time". */
			if (resp->ttl_ms < -1) {
				resp->ttl_ms = 0;
			}
		} else {
			ns->misses++;
			req->x_cache = "miss";
			resp->ttl_ms = 0;
		}
	}
	cbd_svc_done(req);
}

void
cbd_cache_get_run(cbd_req *req)
{
	const Cachebroker__V1__GetRequest *in = (const void *) req->in;
	cbd_redis_conn                    *c;
	cbd_cmd                            cmd;
	size_t ks = cbd_cmd_key_size(prefix(req), in->namespace_, in->key);

	if (cbd_svc_blocked(req, in->namespace_) ||
	    (c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_alloc(req, &cachebroker__v1__get_response__descriptor) ==
	        NULL) {
		return;
	}
	if (cbd_svc_cmd(req, &cmd, 2, ks) != 0) {
		return;
	}
	cbd_svc_l1_tokens(req, in->namespace_, 1, &in->key);
	cbd_cmd_str(&cmd, "GET");
	cbd_cmd_key(&cmd, prefix(req), in->namespace_, in->key);
	if (cbd_svc_send(req, c, get_cb, 0, &cmd) != 0 ||
	    cbd_svc_cmd(req, &cmd, 2, ks) != 0) {
		return;
	}
	cbd_cmd_str(&cmd, "PTTL");
	cbd_cmd_key(&cmd, prefix(req), in->namespace_, in->key);
	(void) cbd_svc_send(req, c, get_cb, 1, &cmd);
}

/* GetMany: one MGET. */

cb_status
cbd_cache_get_many_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__GetManyRequest *r = (const void *) in;

	(void) cfg;
	return check_keys(lim, r->namespace_, r->n_keys, r->keys, why, whylen);
}

static int
get_many_fill(cbd_req *req, redisReply *r)
{
	const Cachebroker__V1__GetManyRequest *in   = (const void *) req->in;
	Cachebroker__V1__GetManyResponse      *resp = (void *) req->op.resp;
	cbd_ns_stats *ns = cbd_stats_ns(req->host->stats, in->namespace_);

	if (r->type != REDIS_REPLY_ARRAY || r->elements != in->n_keys) {
		return -1;
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
	resp->entries = calloc(in->n_keys, sizeof(*resp->entries));
	if (resp->entries == NULL) {
		return -1;
	}
	for (size_t i = 0; i < in->n_keys; i++) {
		Cachebroker__V1__GetManyEntry *e = malloc(sizeof(*e));
		redisReply                    *v = r->element[i];
		if (e == NULL) {
			return -1;
		}
		cachebroker__v1__get_many_entry__init(e);
		resp->entries[resp->n_entries++] = e;
		if (cbd_pb_str_set(&e->key, in->keys[i]) != 0) {
			return -1;
		}
		if (v->type == REDIS_REPLY_STRING && !is_negative(v)) {
			if ((e->value.data = malloc(v->len + 1)) == NULL) {
				return -1;
			}
			memcpy(e->value.data, v->str, v->len);
			e->value.len = v->len;
			e->found     = 1;
			ns->hits++;
		} else {
			ns->misses++;
		}
	}
	return 0;
}

/* get_many_ttl fills the L1 with key i of a GetMany, from the MGET
 * reply (in the response already: same connection, in order) and its
 * PTTL reply r. */
static void
get_many_ttl(cbd_req *req, size_t i, const redisReply *r)
{
	const Cachebroker__V1__GetManyRequest *in   = (const void *) req->in;
	Cachebroker__V1__GetManyResponse      *resp = (void *) req->op.resp;
	const Cachebroker__V1__GetManyEntry   *e;

	if (r->type != REDIS_REPLY_INTEGER || i >= resp->n_entries) {
		return;
	}
	e = resp->entries[i];
	if (e->found) {
		cbd_svc_l1_fill(req, in->namespace_, i, in->keys[i],
		    e->value.data, e->value.len, r->integer);
	}
}

/* get_many_cb: the MGET (sub 0), then, with an L1, each key's PTTL (sub
 * 1 + i). */
static void
get_many_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_svc_reply(arg, tag, r, &ok);

	if (req == NULL) {
		return;
	}
	if (ok && (uint32_t) tag == 0 && get_many_fill(req, r) != 0) {
		req->op.code = CB_INTERNAL;
		snprintf(req->op.msg, sizeof(req->op.msg),
		    "unexpected MGET reply or out of memory");
	} else if (ok && (uint32_t) tag > 0) {
		get_many_ttl(req, (uint32_t) tag - 1, r);
	}
	cbd_svc_done(req);
}

void
cbd_cache_get_many_run(cbd_req *req)
{
	const Cachebroker__V1__GetManyRequest *in = (const void *) req->in;
	cbd_redis_conn                        *c;
	cbd_cmd                                cmd;

	if (cbd_svc_blocked(req, in->namespace_)) {
		return;
	}
	cbd_svc_l1_tokens(req, in->namespace_, in->n_keys, in->keys);
	if (req->op.l1_tokens == NULL) {
		(void) keys_send(req, "MGET", in->namespace_, in->n_keys,
		    in->keys, &cachebroker__v1__get_many_response__descriptor,
		    get_many_cb);
		return;
	}
	/* For the L1: each key's PTTL too, on the same connection, so that
	 * an entry never outlives its key in Redis. */
	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_alloc(req,
	        &cachebroker__v1__get_many_response__descriptor) == NULL ||
	    cbd_svc_cmd(req, &cmd, (int) in->n_keys + 1,
	        keys_arena(req, in->namespace_, in->n_keys, in->keys)) != 0) {
		return;
	}
	cbd_cmd_str(&cmd, "MGET");
	for (size_t i = 0; i < in->n_keys; i++) {
		cbd_cmd_key(&cmd, prefix(req), in->namespace_, in->keys[i]);
	}
	if (cbd_svc_send(req, c, get_many_cb, 0, &cmd) != 0) {
		return;
	}
	for (size_t i = 0; i < in->n_keys; i++) {
		if (cbd_svc_cmd(req, &cmd, 2,
		        cbd_cmd_key_size(
		            prefix(req), in->namespace_, in->keys[i])) != 0) {
			return;
		}
		cbd_cmd_str(&cmd, "PTTL");
		cbd_cmd_key(&cmd, prefix(req), in->namespace_, in->keys[i]);
		if (cbd_svc_send(
		        req, c, get_many_cb, (uint32_t) i + 1, &cmd) != 0) {
			return;
		}
	}
}

/* Set and SetMany: SET key value [PX ttl] [NX|XX]. */

cb_status
cbd_cache_set_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__SetRequest *r = (const void *) in;

	(void) cfg;
	CBD_CHECK(check_ns_key(lim, r->namespace_, r->key, why, whylen));
	CBD_CHECK(check_value(lim, r->value.len, r->ttl_ms, why, whylen));
	if (r->condition <
	        CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_UNSPECIFIED ||
	    r->condition >
	        CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_IF_PRESENT) {
		snprintf(
		    why, whylen, "unknown condition %d", (int) r->condition);
		return CB_INVALID_ARGUMENT;
	}
	return CB_OK;
}

/* set_cmd builds one SET; cond is 0, "NX" or "XX". */
static int
set_cmd(cbd_req *req, cbd_cmd *cmd, const char *ns, const char *key,
    const ProtobufCBinaryData *value, int64_t ttl_ms, const char *cond)
{
	if (cbd_svc_cmd(req, cmd, 6,
	        cbd_cmd_key_size(prefix(req), ns, key) + CBD_CMD_INT_SIZE) !=
	    0) {
		return -1;
	}
	cbd_cmd_str(cmd, "SET");
	cbd_cmd_key(cmd, prefix(req), ns, key);
	cbd_cmd_arg(cmd, (const char *) value->data, value->len);
	if (ttl_ms > 0) {
		cbd_cmd_str(cmd, "PX");
		cbd_cmd_int(cmd, ttl_ms);
	}
	if (cond != NULL) {
		cbd_cmd_str(cmd, cond);
	}
	return 0;
}

/* set_drop drops the keys a Set or SetMany wrote (or tried to) from the
 * L1, before the answer. */
static void
set_drop(cbd_req *req)
{
	if (req->method->id == CBD_M_CACHE_SET) {
		const Cachebroker__V1__SetRequest *in = (const void *) req->in;
		cbd_svc_l1_drop(req, in->namespace_, in->key);
		return;
	}
	const Cachebroker__V1__SetManyRequest *in = (const void *) req->in;
	for (size_t i = 0; i < in->n_entries; i++) {
		cbd_svc_l1_drop(req, in->namespace_, in->entries[i]->key);
	}
}

static void
set_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_svc_reply(arg, tag, r, &ok);

	if (req == NULL) {
		return;
	}
	/* OK when written; nil when NX/XX said no. */
	if (ok && r->type == REDIS_REPLY_STATUS) {
		req->op.count++;
	}
	if (req->op.pending == 0) {
		set_drop(req);
	}
	if (req->op.pending == 0 && req->op.code == CB_OK) {
		if (req->method->id == CBD_M_CACHE_SET) {
			((Cachebroker__V1__SetResponse *) (void *)
			        req->op.resp)
			    ->stored = req->op.count > 0;
		} else {
			((Cachebroker__V1__SetManyResponse *) (void *)
			        req->op.resp)
			    ->stored = (uint32_t) req->op.count;
		}
	}
	cbd_svc_done(req);
}

void
cbd_cache_set_run(cbd_req *req)
{
	const Cachebroker__V1__SetRequest *in   = (const void *) req->in;
	const char                        *cond = NULL;
	cbd_redis_conn                    *c;
	cbd_cmd                            cmd;

	if (in->condition ==
	    CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_IF_ABSENT) {
		cond = "NX";
	} else if (in->condition ==
	    CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_IF_PRESENT) {
		cond = "XX";
	}
	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_alloc(req, &cachebroker__v1__set_response__descriptor) ==
	        NULL ||
	    set_cmd(req, &cmd, in->namespace_, in->key, &in->value, in->ttl_ms,
	        cond) != 0) {
		return;
	}
	(void) cbd_svc_send(req, c, set_cb, 0, &cmd);
}

cb_status
cbd_cache_set_many_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__SetManyRequest *r = (const void *) in;

	(void) cfg;
	CBD_CHECK(cbd_keys_check_namespace(r->namespace_, why, whylen));
	if (r->n_entries == 0) {
		snprintf(why, whylen, "no entries given");
		return CB_INVALID_ARGUMENT;
	}
	if (r->n_entries > lim->max_batch_keys) {
		snprintf(why, whylen, "%zu entries, the limit is %" PRIu32,
		    r->n_entries, lim->max_batch_keys);
		return CB_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < r->n_entries; i++) {
		const Cachebroker__V1__SetManyEntry *e = r->entries[i];
		CBD_CHECK(cbd_keys_check_key(
		    e->key, lim->max_key_size, why, whylen));
		CBD_CHECK(
		    check_value(lim, e->value.len, e->ttl_ms, why, whylen));
	}
	return CB_OK;
}

void
cbd_cache_set_many_run(cbd_req *req)
{
	const Cachebroker__V1__SetManyRequest *in = (const void *) req->in;
	cbd_redis_conn                        *c;
	cbd_cmd                                cmd;

	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_alloc(req,
	        &cachebroker__v1__set_many_response__descriptor) == NULL) {
		return;
	}
	/* One SET per entry, all queued before the loop writes: one round
	 * trip for the batch. */
	for (size_t i = 0; i < in->n_entries; i++) {
		const Cachebroker__V1__SetManyEntry *e = in->entries[i];
		if (set_cmd(req, &cmd, in->namespace_, e->key, &e->value,
		        e->ttl_ms, NULL) != 0 ||
		    cbd_svc_send(req, c, set_cb, (uint32_t) i, &cmd) != 0) {
			return;
		}
	}
}

/* Delete: one UNLINK (frees memory off Redis' main thread). */

cb_status
cbd_cache_delete_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__DeleteRequest *r = (const void *) in;

	(void) cfg;
	return check_keys(lim, r->namespace_, r->n_keys, r->keys, why, whylen);
}

/* Delete and InvalidatePattern run a sweep (invalidate.c). */
static void
deleted_done(cbd_req *req)
{
	if (req->method->id == CBD_M_CACHE_DELETE) {
		((Cachebroker__V1__DeleteResponse *) (void *) req->op.resp)
		    ->deleted = (uint32_t) req->op.count;
	} else {
		((Cachebroker__V1__InvalidatePatternResponse *) (void *)
		        req->op.resp)
		    ->deleted = req->op.count;
	}
	cbd_svc_done(req);
}

void
cbd_cache_delete_run(cbd_req *req)
{
	const Cachebroker__V1__DeleteRequest *in = (const void *) req->in;
	cbd_sweep                            *s  = cbd_sweep_alloc();

	for (size_t i = 0; s != NULL && i < in->n_keys; i++) {
		if (cbd_sweep_key(
		        s, prefix(req), in->namespace_, in->keys[i]) != 0) {
			cbd_sweep_free(s);
			s = NULL;
		}
	}
	if (s == NULL) {
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	if (cbd_svc_alloc(
	        req, &cachebroker__v1__delete_response__descriptor) == NULL) {
		cbd_sweep_free(s);
		return;
	}
	cbd_sweep_run(req, s, deleted_done);
}

/*
 * InvalidatePattern: SCAN cursor MATCH "<prefix><ns>:<pattern>" COUNT n,
 * then UNLINK what it found, until the cursor is back at 0. Each step is
 * one short command, so Redis is never blocked for long (unlike KEYS).
 * Keys are checked again against the literal "<prefix><ns>:" before they
 * are unlinked: whatever the glob, nothing outside the namespace goes.
 * A request whose deadline passes stops scanning (it was answered
 * DEADLINE_EXCEEDED, so the caller knows the job is not confirmed).
 */

cb_status
cbd_cache_invalidate_pattern_check(const cbd_limits *lim,
    const cbd_config *cfg, const ProtobufCMessage *in, char *why,
    size_t whylen)
{
	const Cachebroker__V1__InvalidatePatternRequest *r = (const void *) in;

	(void) cfg;
	CBD_CHECK(cbd_keys_check_namespace(r->namespace_, why, whylen));
	return cbd_keys_check_pattern(
	    r->pattern, lim->max_key_size, why, whylen);
}

void
cbd_cache_invalidate_pattern_run(cbd_req *req)
{
	const Cachebroker__V1__InvalidatePatternRequest *in =
	    (const void *) req->in;
	cbd_sweep *s = cbd_sweep_alloc();

	if (s == NULL ||
	    cbd_sweep_pattern(s, prefix(req), in->namespace_, in->pattern) !=
	        0) {
		cbd_sweep_free(s);
		cbd_req_fail(
		    req, CB_RESOURCE_EXHAUSTED, "broker out of memory");
		return;
	}
	if (cbd_svc_alloc(req,
	        &cachebroker__v1__invalidate_pattern_response__descriptor) ==
	    NULL) {
		cbd_sweep_free(s);
		return;
	}
	cbd_sweep_run(req, s, deleted_done);
}

/*
 * Increment: INCRBY and, for a counter without a TTL, PEXPIRE, in one
 * script so that a counter never exists without the TTL it was asked to
 * have (a crash between two commands would leave one forever). The sum
 * comes back as the stored string: Lua's numbers are doubles, exact only
 * up to 2^53, and a 64-bit counter must not be rounded on its way back.
 */
static cbd_script increment_script = CBD_SCRIPT(
    "redis.call('INCRBY', KEYS[1], ARGV[1]) "
    "if tonumber(ARGV[2]) > 0 and redis.call('PTTL', KEYS[1]) == -1 then "
    "redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return redis.call('GET', KEYS[1])");

static void increment_send(cbd_req *req, int whole);

cb_status
cbd_cache_increment_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__IncrementRequest *r = (const void *) in;

	(void) cfg;
	CBD_CHECK(check_ns_key(lim, r->namespace_, r->key, why, whylen));
	if (r->ttl_ms < 0) {
		snprintf(why, whylen, "ttl_ms must not be negative");
		return CB_INVALID_ARGUMENT;
	}
	return cbd_svc_check_ttl(lim, "ttl_ms", r->ttl_ms, why, whylen);
}

static void
increment_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_req_current(arg, tag);

	if (req != NULL && cbd_script_noscript(r)) {
		/* Redis forgot the script: once more, whole. */
		req->op.pending--;
		increment_send(req, 1);
		return;
	}
	if ((req = cbd_svc_reply(arg, tag, r, &ok)) == NULL) {
		return;
	}
	if (ok && r->type == REDIS_REPLY_STRING) {
		char     *end;
		long long v;
		errno = 0;
		v     = strtoll(r->str, &end, 10);
		if ((errno != 0 || end == r->str || *end != '\0') &&
		    req->op.code == CB_OK) {
			req->op.code = CB_INTERNAL;
			snprintf(req->op.msg, sizeof(req->op.msg),
			    "Redis answered a counter that is not a number");
		}
		((Cachebroker__V1__IncrementResponse *) (void *) req->op.resp)
		    ->value = v;
	}
	{
		const Cachebroker__V1__IncrementRequest *in =
		    (const void *) req->in;
		cbd_svc_l1_drop(req, in->namespace_, in->key);
	}
	cbd_svc_done(req);
}

/* increment_send sends the script (whole: as EVAL, after a NOSCRIPT). */
static void
increment_send(cbd_req *req, int whole)
{
	const Cachebroker__V1__IncrementRequest *in = (const void *) req->in;
	cbd_redis_conn                          *c;
	cbd_cmd                                  cmd;

	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_cmd(req, &cmd, CBD_SCRIPT_NARGS + 4,
	        cbd_cmd_key_size(prefix(req), in->namespace_, in->key) +
	            2 * (size_t) CBD_CMD_INT_SIZE) != 0) {
		return;
	}
	cbd_script_begin(&increment_script, c, whole, &cmd);
	cbd_cmd_str(&cmd, "1");
	cbd_cmd_key(&cmd, prefix(req), in->namespace_, in->key);
	cbd_cmd_int(&cmd, in->delta);
	cbd_cmd_int(&cmd, in->ttl_ms);
	(void) cbd_svc_send(req, c, increment_cb, 0, &cmd);
}

void
cbd_cache_increment_run(cbd_req *req)
{
	if (cbd_svc_alloc(req,
	        &cachebroker__v1__increment_response__descriptor) == NULL) {
		return;
	}
	increment_send(req, 0);
}

/* Expire: PEXPIRE, or for ttl_ms -1 PERSIST with EXISTS (PERSIST alone
 * cannot tell a missing key from one without a TTL). */

cb_status
cbd_cache_expire_check(const cbd_limits *lim, const cbd_config *cfg,
    const ProtobufCMessage *in, char *why, size_t whylen)
{
	const Cachebroker__V1__ExpireRequest *r = (const void *) in;

	(void) cfg;
	CBD_CHECK(check_ns_key(lim, r->namespace_, r->key, why, whylen));
	if (r->ttl_ms != -1 && r->ttl_ms <= 0) {
		snprintf(why, whylen,
		    "ttl_ms must be positive, or -1 to remove the expiry");
		return CB_INVALID_ARGUMENT;
	}
	return cbd_svc_check_ttl(lim, "ttl_ms", r->ttl_ms, why, whylen);
}

static void
expire_cb(void *arg, uint64_t tag, redisReply *r)
{
	int      ok;
	cbd_req *req = cbd_svc_reply(arg, tag, r, &ok);

	if (req == NULL) {
		return;
	}
	/* sub 0 is PEXPIRE or EXISTS, whose 1 means "the key is there";
	 * PERSIST's own answer (sub 1) is not needed. */
	if (ok && (uint32_t) tag == 0 && r->type == REDIS_REPLY_INTEGER) {
		((Cachebroker__V1__ExpireResponse *) (void *) req->op.resp)
		    ->updated = r->integer == 1;
	}
	if (req->op.pending == 0) {
		const Cachebroker__V1__ExpireRequest *in =
		    (const void *) req->in;
		cbd_svc_l1_drop(req, in->namespace_, in->key);
	}
	cbd_svc_done(req);
}

void
cbd_cache_expire_run(cbd_req *req)
{
	const Cachebroker__V1__ExpireRequest *in = (const void *) req->in;
	cbd_redis_conn                       *c;
	cbd_cmd                               cmd;
	size_t ks = cbd_cmd_key_size(prefix(req), in->namespace_, in->key);

	if ((c = cbd_svc_conn(req)) == NULL ||
	    cbd_svc_alloc(
	        req, &cachebroker__v1__expire_response__descriptor) == NULL ||
	    cbd_svc_cmd(req, &cmd, 3, ks + CBD_CMD_INT_SIZE) != 0) {
		return;
	}
	if (in->ttl_ms > 0) {
		cbd_cmd_str(&cmd, "PEXPIRE");
		cbd_cmd_key(&cmd, prefix(req), in->namespace_, in->key);
		cbd_cmd_int(&cmd, in->ttl_ms);
		(void) cbd_svc_send(req, c, expire_cb, 0, &cmd);
		return;
	}
	cbd_cmd_str(&cmd, "EXISTS");
	cbd_cmd_key(&cmd, prefix(req), in->namespace_, in->key);
	if (cbd_svc_send(req, c, expire_cb, 0, &cmd) != 0 ||
	    cbd_svc_cmd(req, &cmd, 2, ks) != 0) {
		return;
	}
	cbd_cmd_str(&cmd, "PERSIST");
	cbd_cmd_key(&cmd, prefix(req), in->namespace_, in->key);
	(void) cbd_svc_send(req, c, expire_cb, 1, &cmd);
}

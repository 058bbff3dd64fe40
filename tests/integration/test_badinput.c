/* SPDX-License-Identifier: MIT */
/* Hostile input: bad envelopes, payloads, names and sizes get clear codes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "it.h"

/* The limits the harness's config sets (cbh_config_base). */
#define MAX_MESSAGE (1024L * 1024)
#define MAX_KEY 512
#define MAX_VALUE (512L * 1024)
#define MAX_BATCH 1000

#define ALWAYS CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS
#define HEALTH_SERVING CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING

#define SENTINEL_NS "guard"
#define SENTINEL_KEY "sentinel"
#define SENTINEL_VALUE "still here"

static void
setup(void)
{
	it_setup();
	it_set_str(SENTINEL_NS, SENTINEL_KEY, SENTINEL_VALUE);
}

/* The broker is up and serving: Health answers SERVING. */
static void
alive(const char *after)
{
	Cachebroker__V1__HealthRequest req =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__HealthResponse *h = NULL;
	cb_result                        res;
	cb_status                        st;

	ck_assert_msg(cbh_broker_alive(it_env->broker),
	    "the broker died after %s", after);
	st = cb_admin_health(it_env->client, &req, &h, NULL, &res);
	ck_assert_msg(st == CB_OK, "Health after %s: %s (%s)", after,
	    cb_status_str(st), res.message);
	ck_assert_msg(h->status == HEALTH_SERVING,
	    "Health after %s: status %d", after, h->status);
	cb_message_free(h);
}

/* Nothing stored was lost: the sentinel reads back through the broker
 * and straight from Redis. */
static void
intact(void)
{
	char *raw;

	alive("the test");
	it_get_str(SENTINEL_NS, SENTINEL_KEY, SENTINEL_VALUE);
	raw = it_redis_get(SENTINEL_NS ":" SENTINEL_KEY, NULL);
	ck_assert_ptr_nonnull(raw);
	ck_assert_str_eq(raw, SENTINEL_VALUE);
	free(raw);
}

/* Sends raw bytes and returns the Response's code (asserting there is
 * one). */
static int
raw_code(const void *buf, size_t len)
{
	nng_socket                 s;
	Cachebroker__V1__Response *resp = NULL;
	int                        code;

	ck_assert_int_eq(
	    cbh_raw_open(&s, cbh_broker_url(it_env->broker), 10000), 0);
	ck_assert_msg(cbh_raw_call(s, buf, len, &resp) == 0,
	    "no Response to %zu raw bytes", len);
	nng_close(s);
	code = resp->status != NULL ? resp->status->code : 0;
	cachebroker__v1__response__free_unpacked(resp, NULL);
	return (code);
}

/* Packs an envelope for method with msg and returns its code. */
static int
envelope_code(const char *method, const ProtobufCMessage *msg)
{
	uint8_t *buf;
	size_t   len;
	int      code;

	ck_assert_int_eq(cbh_raw_pack(method, msg, 5000, NULL, &buf, &len), 0);
	code = raw_code(buf, len);
	free(buf);
	return (code);
}

/* A method's request as payload bytes of our own making. */
static int
payload_code(const char *method, const void *payload, size_t len)
{
	Cachebroker__V1__Request env = CACHEBROKER__V1__REQUEST__INIT;
	uint8_t                 *buf;
	size_t                   n;
	int                      code;

	env.method       = (char *) method;
	env.payload.data = (uint8_t *) payload;
	env.payload.len  = len;
	env.deadline_ms  = 5000;
	n                = cachebroker__v1__request__get_packed_size(&env);
	buf              = malloc(n);
	ck_assert_ptr_nonnull(buf);
	cachebroker__v1__request__pack(&env, buf);
	code = raw_code(buf, n);
	free(buf);
	return (code);
}

#define ASSERT_RAW_CODE(got, want, what)                              \
	ck_assert_msg((got) == (want), "%s: got %s, want %s", (what), \
	    cb_status_str(got), cb_status_str(want))

/* ---------------------------------------------------------------- */

CBH_TEST(test_undecodable_envelope)
{
	static const struct {
		const char   *what;
		const uint8_t bytes[8];
		size_t        len;
	} cases[] = {
		{ "unterminated varint tag", { 0xff, 0xff, 0xff, 0xff }, 4 },
		{ "truncated method string", { 0x0a, 0x10, 'a' }, 3 },
		{ "wire type 7", { 0x0f, 0x01 }, 2 },
		{ "payload longer than the message",
		    { 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f }, 6 },
		{ "field number 0", { 0x02, 0x00 }, 2 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int code = raw_code(cases[i].bytes, cases[i].len);
		ASSERT_RAW_CODE(code, CB_INVALID_ARGUMENT, cases[i].what);
		alive(cases[i].what);
	}
	intact();
}

CBH_TEST(test_empty_envelope)
{
	/* Zero bytes decode as a Request without a method. */
	int code = raw_code("", 0);

	ck_assert_msg(code == CB_UNIMPLEMENTED || code == CB_INVALID_ARGUMENT,
	    "empty envelope: got %s", cb_status_str(code));
	intact();
}

CBH_TEST(test_unknown_method)
{
	static const char *const methods[] = {
		"/cachebroker.v1.CacheService/Nope",
		"/cachebroker.v1.NoService/Get",
		"/foo.Bar/Baz",
		"CacheService/Get",
		"/cachebroker.v1.CacheService/Get/",
		"/cachebroker.v1.CacheService/get",
		"/cachebroker.v1.CacheService/Get\n",
	};
	Cachebroker__V1__GetRequest req = CACHEBROKER__V1__GET_REQUEST__INIT;
	ProtobufCMessage           *out = NULL;
	cb_result                   res;
	int                         code;

	req.namespace_ = "users";
	req.key        = "k";
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		code = envelope_code(methods[i], &req.base);
		ASSERT_RAW_CODE(code, CB_UNIMPLEMENTED, methods[i]);
		alive(methods[i]);
	}
	/* Through the client library too. */
	code = cb_client_call(it_env->client,
	    IT_METHOD("AdminService/Shutdown"), &req.base,
	    &cachebroker__v1__get_response__descriptor, &out, NULL, &res);
	IT_ASSERT_CODE(code, CB_UNIMPLEMENTED, &res);
	ck_assert_ptr_null(out);
	/* An empty method name is no method either. */
	code = envelope_code("", &req.base);
	ck_assert_msg(code == CB_UNIMPLEMENTED || code == CB_INVALID_ARGUMENT,
	    "empty method: got %s", cb_status_str(code));
	intact();
}

CBH_TEST(test_bad_payload)
{
	static const uint8_t        garbage[]   = { 0xff, 0xff, 0xff };
	static const uint8_t        wiretype7[] = { 0x0f, 0x00 };
	static const uint8_t        truncated[] = { 0x0a, 0x20, 'u', 's' };
	Cachebroker__V1__SetRequest set = CACHEBROKER__V1__SET_REQUEST__INIT;
	uint8_t                     buf[256];
	size_t                      n;
	int                         code;

	code = payload_code(
	    IT_METHOD("CacheService/Get"), garbage, sizeof(garbage));
	ASSERT_RAW_CODE(code, CB_INVALID_ARGUMENT, "Get with garbage");
	alive("Get with garbage");
	code = payload_code(
	    IT_METHOD("CacheService/Set"), wiretype7, sizeof(wiretype7));
	ASSERT_RAW_CODE(code, CB_INVALID_ARGUMENT, "Set with wire type 7");
	code = payload_code(
	    IT_METHOD("CacheService/GetMany"), truncated, sizeof(truncated));
	ASSERT_RAW_CODE(code, CB_INVALID_ARGUMENT, "GetMany truncated");
	alive("GetMany truncated");

	/* Another method's message: SetRequest.value (bytes, field 3) where
	 * IncrementRequest has delta (varint, field 3). */
	set.namespace_ = "tasks";
	set.key        = "c";
	set.value.data = (uint8_t *) "12";
	set.value.len  = 2;
	n              = cachebroker__v1__set_request__pack(&set, buf);
	code = payload_code(IT_METHOD("CacheService/Increment"), buf, n);
	ASSERT_RAW_CODE(code, CB_INVALID_ARGUMENT, "Increment with a Set");
	ck_assert(!it_exists("tasks:c"));
	alive("Increment with a Set");
	intact();
}

CBH_TEST(test_bad_namespace)
{
	static const char *const bad[] = { "", "Users", "1abc", "_x", "-x",
		"us ers", "users:x", "us*", "users\n", "a.b", "\xc3\xbc",
		"users/x" };
	bool                     stored;
	Cachebroker__V1__GetResponse *resp = NULL;
	cb_status                     st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = it_get(bad[i], "k", &resp);
		ck_assert_msg(st == CB_INVALID_ARGUMENT,
		    "Get in namespace \"%s\": %s", bad[i], cb_status_str(st));
		st = it_set(bad[i], "k", "v", 1, 0, ALWAYS, &stored);
		ck_assert_msg(st == CB_INVALID_ARGUMENT,
		    "Set in namespace \"%s\": %s", bad[i], cb_status_str(st));
		alive(bad[i]);
	}
	/* Nothing was written anywhere. */
	ck_assert_int_eq(it_redis_int("DBSIZE"), 1);

	/* The rule's edges that are fine. */
	it_set_str("a", "k", "v");
	it_set_str("a-b_c9", "k", "v");
	ck_assert(it_exists("a-b_c9:k"));
	intact();
}

/* Each key-taking method must refuse key with want. */
static void
assert_key_refused(const char *key, cb_status want)
{
	cb_result                     res;
	cb_status                     st;
	char                          what[64];
	bool                          stored;
	char                         *keys[2] = { "good", (char *) key };
	Cachebroker__V1__GetResponse *resp    = NULL;

	snprintf(what, sizeof(what), "key of %zu bytes", strlen(key));
	st = it_get("users", key, &resp);
	ck_assert_msg(st == want, "Get %s: %s", what, cb_status_str(st));
	st = it_set("users", key, "v", 1, 0, ALWAYS, &stored);
	ck_assert_msg(st == want, "Set %s: %s", what, cb_status_str(st));
	{
		Cachebroker__V1__IncrementRequest req =
		    CACHEBROKER__V1__INCREMENT_REQUEST__INIT;
		Cachebroker__V1__IncrementResponse *r = NULL;
		req.namespace_                        = "users";
		req.key                               = (char *) key;
		req.delta                             = 1;
		st = cb_cache_increment(it_env->client, &req, &r, NULL, &res);
		ck_assert_msg(
		    st == want, "Increment %s: %s", what, cb_status_str(st));
	}
	{
		Cachebroker__V1__ExpireRequest req =
		    CACHEBROKER__V1__EXPIRE_REQUEST__INIT;
		Cachebroker__V1__ExpireResponse *r = NULL;
		req.namespace_                     = "users";
		req.key                            = (char *) key;
		req.ttl_ms                         = 1000;
		st = cb_cache_expire(it_env->client, &req, &r, NULL, &res);
		ck_assert_msg(
		    st == want, "Expire %s: %s", what, cb_status_str(st));
	}
	{
		Cachebroker__V1__GetManyRequest req =
		    CACHEBROKER__V1__GET_MANY_REQUEST__INIT;
		Cachebroker__V1__GetManyResponse *r = NULL;
		req.namespace_                      = "users";
		req.keys                            = keys;
		req.n_keys                          = 2;
		st = cb_cache_get_many(it_env->client, &req, &r, NULL, &res);
		ck_assert_msg(
		    st == want, "GetMany %s: %s", what, cb_status_str(st));
	}
	{
		Cachebroker__V1__DeleteRequest req =
		    CACHEBROKER__V1__DELETE_REQUEST__INIT;
		Cachebroker__V1__DeleteResponse *r = NULL;
		req.namespace_                     = "users";
		req.keys                           = keys;
		req.n_keys                         = 2;
		st = cb_cache_delete(it_env->client, &req, &r, NULL, &res);
		ck_assert_msg(
		    st == want, "Delete %s: %s", what, cb_status_str(st));
	}
	{
		/* A batch with one bad entry writes nothing. */
		Cachebroker__V1__SetManyRequest req =
		    CACHEBROKER__V1__SET_MANY_REQUEST__INIT;
		Cachebroker__V1__SetManyResponse *r = NULL;
		Cachebroker__V1__SetManyEntry     e[2];
		Cachebroker__V1__SetManyEntry    *ep[2] = { &e[0], &e[1] };
		cachebroker__v1__set_many_entry__init(&e[0]);
		cachebroker__v1__set_many_entry__init(&e[1]);
		e[0].key        = "good";
		e[0].value.data = (uint8_t *) "v";
		e[0].value.len  = 1;
		e[1].key        = (char *) key;
		e[1].value.data = (uint8_t *) "v";
		e[1].value.len  = 1;
		req.namespace_  = "users";
		req.entries     = ep;
		req.n_entries   = 2;
		st = cb_cache_set_many(it_env->client, &req, &r, NULL, &res);
		ck_assert_msg(
		    st == want, "SetMany %s: %s", what, cb_status_str(st));
		ck_assert(!it_exists("users:good"));
	}
	alive(what);
}

CBH_TEST(test_bad_keys)
{
	static const char *const bad[] = { "", "a\nb", "a\rb", "\x01", "a\x7f",
		"a\tb", "\x1b[0m", "a*b", "*", "a?b", "a[b", "a]b", "a\\b",
		"[a-z]" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_key_refused(bad[i], CB_INVALID_ARGUMENT);
	}
	ck_assert_int_eq(it_redis_int("DBSIZE"), 1);
	/* Colons, dots, dashes, spaces inside and UTF-8 are fine. */
	it_set_str("users", "profile:42:x.y-z", "v");
	it_set_str("users", "caf\xc3\xa9", "v");
	it_get_str("users", "caf\xc3\xa9", "v");
	ck_assert(it_exists("users:caf\xc3\xa9"));
	intact();
}

CBH_TEST(test_key_size)
{
	char key[MAX_KEY + 2];

	memset(key, 'k', sizeof(key));
	key[MAX_KEY] = '\0';
	it_set_str("users", key, "at the limit");
	it_get_str("users", key, "at the limit");

	key[MAX_KEY]     = 'k';
	key[MAX_KEY + 1] = '\0';
	assert_key_refused(key, CB_RESOURCE_EXHAUSTED);
	intact();
}

CBH_TEST(test_value_size)
{
	uint8_t  *v      = malloc(MAX_VALUE + 1);
	bool      stored = false;
	cb_status st;

	ck_assert_ptr_nonnull(v);
	memset(v, 'v', MAX_VALUE + 1);
	st = it_set("users", "big", v, MAX_VALUE, 0, ALWAYS, &stored);
	ck_assert_msg(
	    st == CB_OK, "value of max_value_size: %s", cb_status_str(st));
	ck_assert(stored);
	ck_assert_int_eq(it_redis_int("STRLEN users:big"), MAX_VALUE);

	st = it_set("users", "bigger", v, MAX_VALUE + 1, 0, ALWAYS, &stored);
	ck_assert_msg(st == CB_RESOURCE_EXHAUSTED,
	    "value of max_value_size + 1: %s", cb_status_str(st));
	ck_assert(!it_exists("users:bigger"));
	alive("a big value");

	{
		Cachebroker__V1__SetManyRequest req =
		    CACHEBROKER__V1__SET_MANY_REQUEST__INIT;
		Cachebroker__V1__SetManyResponse *r = NULL;
		Cachebroker__V1__SetManyEntry     e[2];
		Cachebroker__V1__SetManyEntry    *ep[2] = { &e[0], &e[1] };
		cb_result                         res;
		cachebroker__v1__set_many_entry__init(&e[0]);
		cachebroker__v1__set_many_entry__init(&e[1]);
		e[0].key        = "small";
		e[0].value.data = v;
		e[0].value.len  = 10;
		e[1].key        = "bigger";
		e[1].value.data = v;
		e[1].value.len  = MAX_VALUE + 1;
		req.namespace_  = "users";
		req.entries     = ep;
		req.n_entries   = 2;
		st = cb_cache_set_many(it_env->client, &req, &r, NULL, &res);
		IT_ASSERT_CODE(st, CB_RESOURCE_EXHAUSTED, &res);
		ck_assert(!it_exists("users:small"));
		ck_assert(!it_exists("users:bigger"));
	}
	free(v);
	intact();
}

CBH_TEST(test_batch_size)
{
	char    **keys = calloc(MAX_BATCH + 1, sizeof(*keys));
	cb_result res;
	cb_status st;

	ck_assert_ptr_nonnull(keys);
	for (int i = 0; i <= MAX_BATCH; i++) {
		ck_assert_int_ge(asprintf(&keys[i], "k%d", i), 0);
	}
	{
		Cachebroker__V1__GetManyRequest req =
		    CACHEBROKER__V1__GET_MANY_REQUEST__INIT;
		Cachebroker__V1__GetManyResponse *r = NULL;
		req.namespace_                      = "users";
		req.keys                            = keys;
		req.n_keys                          = MAX_BATCH;
		st = cb_cache_get_many(it_env->client, &req, &r, NULL, &res);
		IT_ASSERT_CODE(st, CB_OK, &res);
		ck_assert_uint_eq(r->n_entries, MAX_BATCH);
		cb_message_free(r);
		req.n_keys = MAX_BATCH + 1;
		st = cb_cache_get_many(it_env->client, &req, &r, NULL, &res);
		IT_ASSERT_CODE(st, CB_RESOURCE_EXHAUSTED, &res);
	}
	{
		Cachebroker__V1__DeleteRequest req =
		    CACHEBROKER__V1__DELETE_REQUEST__INIT;
		Cachebroker__V1__DeleteResponse *r = NULL;
		it_redis_ok("SET users:k0 v");
		req.namespace_ = "users";
		req.keys       = keys;
		req.n_keys     = MAX_BATCH + 1;
		st = cb_cache_delete(it_env->client, &req, &r, NULL, &res);
		IT_ASSERT_CODE(st, CB_RESOURCE_EXHAUSTED, &res);
		ck_assert(it_exists("users:k0"));
	}
	{
		Cachebroker__V1__SetManyRequest req =
		    CACHEBROKER__V1__SET_MANY_REQUEST__INIT;
		Cachebroker__V1__SetManyResponse *r = NULL;
		Cachebroker__V1__SetManyEntry    *e;
		Cachebroker__V1__SetManyEntry   **ep;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
		ep = calloc(MAX_BATCH + 1, sizeof(*ep));
		e  = calloc(MAX_BATCH + 1, sizeof(*e));
		ck_assert(e != NULL && ep != NULL);
		for (int i = 0; i <= MAX_BATCH; i++) {
			cachebroker__v1__set_many_entry__init(&e[i]);
			e[i].key        = keys[i];
			e[i].value.data = (uint8_t *) "v";
			e[i].value.len  = 1;
			ep[i]           = &e[i];
		}
		req.namespace_ = "users";
		req.entries    = ep;
		req.n_entries  = MAX_BATCH + 1;
		st = cb_cache_set_many(it_env->client, &req, &r, NULL, &res);
		IT_ASSERT_CODE(st, CB_RESOURCE_EXHAUSTED, &res);
		ck_assert_int_eq(it_redis_int("DBSIZE"), 2);
		req.n_entries = MAX_BATCH;
		st = cb_cache_set_many(it_env->client, &req, &r, NULL, &res);
		IT_ASSERT_CODE(st, CB_OK, &res);
		ck_assert_uint_eq(r->stored, MAX_BATCH);
		cb_message_free(r);
		ck_assert_int_eq(it_redis_int("DBSIZE"), MAX_BATCH + 1);
		free(e);
		free(ep);
	}
	for (int i = 0; i <= MAX_BATCH; i++) {
		free(keys[i]);
	}
	free(keys);
	intact();
}

/* An envelope over max_message_size (but under twice that, which the
 * transport may drop unanswered) gets RESOURCE_EXHAUSTED. */
CBH_TEST(test_oversized_raw)
{
	static const size_t sizes[] = {
		MAX_MESSAGE + 64,
		MAX_MESSAGE + MAX_MESSAGE / 2,
		2 * MAX_MESSAGE - 4096,
	};
	Cachebroker__V1__SetRequest set = CACHEBROKER__V1__SET_REQUEST__INIT;
	uint8_t                    *v   = malloc(2 * MAX_MESSAGE);

	ck_assert_ptr_nonnull(v);
	memset(v, 'x', 2 * MAX_MESSAGE);
	set.namespace_ = "users";
	set.key        = "huge";
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *buf;
		size_t   len;
		int      code;
		char     what[64];

		set.value.data = v;
		set.value.len  = sizes[i];
		ck_assert_int_eq(cbh_raw_pack(IT_METHOD("CacheService/Set"),
		                     &set.base, 5000, NULL, &buf, &len),
		    0);
		ck_assert_uint_gt(len, MAX_MESSAGE);
		ck_assert_uint_lt(len, 2 * MAX_MESSAGE);
		snprintf(what, sizeof(what), "a request of %zu bytes", len);
		code = raw_code(buf, len);
		ASSERT_RAW_CODE(code, CB_RESOURCE_EXHAUSTED, what);
		free(buf);
		ck_assert(!it_exists("users:huge"));
		alive(what);
	}
	free(v);
	intact();
}

/* The client library refuses an oversized request itself, at once: here
 * nothing even listens at its URL. */
CBH_TEST(test_client_refuses_oversized)
{
	cb_client_opts                co = { .timeout_ms = 3000 };
	cb_client                    *c;
	char                         *url;
	uint8_t                      *v   = malloc(MAX_MESSAGE + 1);
	Cachebroker__V1__SetRequest   req = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__SetResponse *resp = NULL;
	cb_result                     res;
	cb_status                     st;
	int64_t                       t0;

	ck_assert_ptr_nonnull(v);
	memset(v, 'x', MAX_MESSAGE + 1);
	req.namespace_ = "users";
	req.key        = "huge";
	req.value.data = v;
	req.value.len  = MAX_MESSAGE + 1;

	ck_assert_int_ge(asprintf(&url, "ipc://%s/nobody.sock",
	                     cbh_broker_dir(it_env->broker)),
	    0);
	ck_assert_int_eq(cb_client_open(&c, url, &co), CB_OK);
	t0 = cbh_now_ms();
	st = cb_cache_set(c, &req, &resp, NULL, &res);
	IT_ASSERT_CODE(st, CB_RESOURCE_EXHAUSTED, &res);
	ck_assert_int_lt(cbh_now_ms() - t0, 500);
	cb_client_close(c);
	free(url);

	/* And to the real broker: refused, not stored. */
	t0 = cbh_now_ms();
	st = cb_cache_set(it_env->client, &req, &resp, NULL, &res);
	IT_ASSERT_CODE(st, CB_RESOURCE_EXHAUSTED, &res);
	ck_assert_int_lt(cbh_now_ms() - t0, 500);
	ck_assert(!it_exists("users:huge"));
	free(v);
	intact();
}

CBH_TEST(test_bad_pattern)
{
	static const char *const bad[] = { "", "a\nb*", "\x01*", "*\x7f",
		"a\rb", "\x1b*" };
	Cachebroker__V1__InvalidatePatternRequest req =
	    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
	Cachebroker__V1__InvalidatePatternResponse *resp = NULL;
	cb_result                                   res;
	cb_status                                   st;

	it_redis_ok("SET users:a 1");
	req.namespace_ = "users";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req.pattern = (char *) bad[i];
		st          = cb_cache_invalidate_pattern(
		             it_env->client, &req, &resp, NULL, &res);
		ck_assert_msg(st == CB_INVALID_ARGUMENT,
		    "pattern #%zu: %s (%s)", i, cb_status_str(st),
		    res.message);
		alive("a bad pattern");
	}
	/* A bad namespace cannot widen a pattern to everything. */
	req.namespace_ = "";
	req.pattern    = "*";
	st             = cb_cache_invalidate_pattern(
	                it_env->client, &req, &resp, NULL, &res);
	IT_ASSERT_CODE(st, CB_INVALID_ARGUMENT, &res);
	req.namespace_ = "*";
	st             = cb_cache_invalidate_pattern(
	                it_env->client, &req, &resp, NULL, &res);
	IT_ASSERT_CODE(st, CB_INVALID_ARGUMENT, &res);
	ck_assert(it_exists("users:a"));
	intact();
}

CBH_TEST(test_huge_deadline)
{
	Cachebroker__V1__GetRequest req = CACHEBROKER__V1__GET_REQUEST__INIT;
	uint8_t                    *buf;
	size_t                      len;
	nng_socket                  s;
	Cachebroker__V1__Response  *resp = NULL;

	/* A deadline past max_deadline is capped, not an error. */
	req.namespace_ = SENTINEL_NS;
	req.key        = SENTINEL_KEY;
	ck_assert_int_eq(cbh_raw_pack(IT_METHOD("CacheService/Get"), &req.base,
	                     UINT32_MAX, "huge-deadline", &buf, &len),
	    0);
	ck_assert_int_eq(
	    cbh_raw_open(&s, cbh_broker_url(it_env->broker), 10000), 0);
	ck_assert_int_eq(cbh_raw_call(s, buf, len, &resp), 0);
	ck_assert_ptr_nonnull(resp->status);
	ASSERT_RAW_CODE(resp->status->code, CB_OK, "deadline_ms UINT32_MAX");
	cachebroker__v1__response__free_unpacked(resp, NULL);
	nng_close(s);
	free(buf);
	intact();
}

/* ---- fuzz-ish: every envelope gets a Response ---- */

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 2685821657736338717ULL);
}

typedef struct seed {
	uint8_t *buf;
	size_t   len;
} seed;

static void
seed_add(seed *s, size_t *n, const char *method, const ProtobufCMessage *m)
{
	char id[32];

	snprintf(id, sizeof(id), "fuzz-seed-%zu", *n);
	ck_assert_int_eq(
	    cbh_raw_pack(method, m, 2000, id, &s[*n].buf, &s[*n].len), 0);
	(*n)++;
}

static size_t
make_seeds(seed *s)
{
	size_t                      n      = 0;
	char                       *keys[] = { "a", "b:c", "d" };
	Cachebroker__V1__GetRequest get = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__SetRequest set = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__GetManyRequest gm =
	    CACHEBROKER__V1__GET_MANY_REQUEST__INIT;
	Cachebroker__V1__DeleteRequest del =
	    CACHEBROKER__V1__DELETE_REQUEST__INIT;
	Cachebroker__V1__IncrementRequest inc =
	    CACHEBROKER__V1__INCREMENT_REQUEST__INIT;
	Cachebroker__V1__ExpireRequest exp =
	    CACHEBROKER__V1__EXPIRE_REQUEST__INIT;
	Cachebroker__V1__InvalidatePatternRequest inv =
	    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
	Cachebroker__V1__SetManyRequest sm =
	    CACHEBROKER__V1__SET_MANY_REQUEST__INIT;
	Cachebroker__V1__SetManyEntry e =
	    CACHEBROKER__V1__SET_MANY_ENTRY__INIT;
	Cachebroker__V1__SetManyEntry *ep[] = { &e };
	Cachebroker__V1__HealthRequest h =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__MetricsRequest m =
	    CACHEBROKER__V1__METRICS_REQUEST__INIT;

	get.namespace_ = set.namespace_ = gm.namespace_ = del.namespace_ =
	    inc.namespace_ = exp.namespace_ = inv.namespace_ = sm.namespace_ =
	        "fuzz";
	get.key = set.key = inc.key = exp.key = "a";
	set.value.data = (uint8_t *) "value\0with\0nuls";
	set.value.len  = 15;
	set.ttl_ms     = 60000;
	set.condition =
	    CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_IF_ABSENT;
	gm.keys = del.keys = keys;
	gm.n_keys = del.n_keys = 3;
	inc.delta              = -3;
	inc.ttl_ms             = 1000;
	exp.ttl_ms             = 5000;
	inv.pattern            = "b:*";
	e.key                  = "d";
	e.value.data           = (uint8_t *) "x";
	e.value.len            = 1;
	sm.entries             = ep;
	sm.n_entries           = 1;
	seed_add(s, &n, IT_METHOD("CacheService/Get"), &get.base);
	seed_add(s, &n, IT_METHOD("CacheService/Set"), &set.base);
	seed_add(s, &n, IT_METHOD("CacheService/GetMany"), &gm.base);
	seed_add(s, &n, IT_METHOD("CacheService/Delete"), &del.base);
	seed_add(s, &n, IT_METHOD("CacheService/Increment"), &inc.base);
	seed_add(s, &n, IT_METHOD("CacheService/Expire"), &exp.base);
	seed_add(
	    s, &n, IT_METHOD("CacheService/InvalidatePattern"), &inv.base);
	seed_add(s, &n, IT_METHOD("CacheService/SetMany"), &sm.base);
	seed_add(s, &n, IT_METHOD("AdminService/Health"), &h.base);
	seed_add(s, &n, IT_METHOD("AdminService/Metrics"), &m.base);
	return (n);
}

/* mutate returns a heap buffer: a seed changed in one of a few ways. */
static uint8_t *
mutate(const seed *seeds, size_t nseeds, size_t *len)
{
	const seed *s   = &seeds[rng() % nseeds];
	size_t      cap = s->len * 2 + 512;
	uint8_t    *b   = malloc(cap);
	size_t      n   = s->len;
	unsigned    how = (unsigned) (rng() % 100);

	ck_assert_ptr_nonnull(b);
	memcpy(b, s->buf, s->len);
	if (how < 15) {
		/* Random bytes. */
		n = rng() % 300;
		for (size_t i = 0; i < n; i++) {
			b[i] = (uint8_t) rng();
		}
	} else if (how < 55) {
		/* Flip a few bytes. */
		for (unsigned k = 1 + (unsigned) (rng() % 4); k > 0; k--) {
			b[rng() % n] = (uint8_t) rng();
		}
	} else if (how < 70) {
		/* Truncate. */
		n = rng() % n;
	} else if (how < 85) {
		/* Insert random bytes. */
		size_t at = rng() % (n + 1);
		size_t k  = 1 + rng() % 16;
		memmove(b + at + k, b + at, n - at);
		for (size_t i = 0; i < k; i++) {
			b[at + i] = (uint8_t) rng();
		}
		n += k;
	} else {
		/* Another seed appended: fields twice, or trailing junk. */
		const seed *t = &seeds[rng() % nseeds];
		if (n + t->len <= cap) {
			memcpy(b + n, t->buf, t->len);
			n += t->len;
		}
	}
	*len = n;
	return (b);
}

CBH_TEST(test_fuzz_envelopes)
{
	enum { ROUNDS = 3000 };
	seed        seeds[16];
	size_t      nseeds;
	nng_socket  s;
	const char *env                      = getenv("CBH_FUZZ_SEED");
	unsigned    codes[CB_STATUS_MAX + 2] = { 0 };
	int64_t     t0                       = cbh_now_ms();

	rng_state = env != NULL ? strtoull(env, NULL, 0) : 0x5eedcafef00dULL;
	if (rng_state == 0) {
		rng_state = 1;
	}
	cbh_log("fuzz seed 0x%llx (set CBH_FUZZ_SEED to repeat)",
	    (unsigned long long) rng_state);
	nseeds = make_seeds(seeds);
	ck_assert_int_eq(
	    cbh_raw_open(&s, cbh_broker_url(it_env->broker), 10000), 0);
	for (int i = 0; i < ROUNDS; i++) {
		Cachebroker__V1__Response *resp = NULL;
		size_t                     len;
		uint8_t                   *b = mutate(seeds, nseeds, &len);
		int                        code;

		ck_assert_msg(cbh_raw_call(s, b, len, &resp) == 0,
		    "round %d (%zu bytes): no Response", i, len);
		code = resp->status != NULL ? resp->status->code : 0;
		codes[code >= 0 && code <= CB_STATUS_MAX
		        ? code
		        : CB_STATUS_MAX + 1]++;
		cachebroker__v1__response__free_unpacked(resp, NULL);
		free(b);
		if (i % 500 == 499) {
			alive("fuzzing");
		}
	}
	nng_close(s);
	for (size_t i = 0; i < nseeds; i++) {
		free(seeds[i].buf);
	}
	for (int c = 0; c <= CB_STATUS_MAX + 1; c++) {
		if (codes[c] > 0) {
			cbh_log("fuzz: %u x %s", codes[c],
			    c <= CB_STATUS_MAX ? cb_status_str(c) : "(bad)");
		}
	}
	cbh_log("fuzz: %d envelopes in %lld ms", ROUNDS,
	    (long long) (cbh_now_ms() - t0));
	/* Codes on the wire are gRPC's, nothing else. */
	ck_assert_uint_eq(codes[CB_STATUS_MAX + 1], 0);
	/* The mix must have exercised both paths. */
	ck_assert_uint_gt(codes[CB_OK], 0);
	ck_assert_uint_gt(codes[CB_INVALID_ARGUMENT], 0);
	intact();
}

/* fresh_health opens a new client on url and calls Health once. */
static cb_status
fresh_health(const char *url, uint32_t timeout_ms, cb_result *res)
{
	cb_client                     *c;
	cb_client_opts                 co = { .timeout_ms = timeout_ms };
	Cachebroker__V1__HealthRequest req =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__HealthResponse *h = NULL;
	cb_status                        st;

	ck_assert_int_eq(cb_client_open(&c, url, &co), CB_OK);
	st = cb_admin_health(c, &req, &h, NULL, res);
	cb_message_free(h);
	cb_client_close(c);
	return st;
}

/*
 * Peers that connect to the IPC socket and leave before the SP handshake
 * (a port scanner, a client killed at start) must not lock later clients
 * out. nng 1.5 sometimes stops the listener then (its issue #1518): new
 * clients complete the handshake but are never served. The broker
 * notices within seconds and creates the listener again.
 */
CBH_TEST(test_ipc_hangups_during_handshake)
{
	const char                       *url = cbh_broker_url(it_env->broker);
	Cachebroker__V1__MetricsResponse *m;
	cb_result                         res;
	cb_status                         st     = CB_OK;
	int                               rounds = 0;
	int64_t                           until;

	/* (nng also leaks what the lost listener held, inside libnng: the
	 * harness runs every broker with that leak suppressed.) */
	ck_assert(strncmp(url, "ipc://", 6) == 0);
	/* Until a new client is not served: the listener is lost. */
	while (st == CB_OK && rounds++ < 100) {
		it_ipc_hangups(url + 6, 20);
		st = fresh_health(url, 300, &res);
	}
	if (st == CB_OK) {
		fprintf(stderr,
		    "%d hang-ups did not stop the IPC listener "
		    "(an nng with #1518 fixed?)\n",
		    rounds * 20);
	}
	/* Within the guard's period and timeout (2 s each), new clients
	 * are served again. */
	until = cbh_now_ms() + 10000;
	do {
		st = fresh_health(url, 1000, &res);
	} while (st != CB_OK && cbh_now_ms() < until);
	IT_ASSERT_CODE(st, CB_OK, &res);
	m = it_metrics();
	if (rounds <= 100) {
		ck_assert_uint_ge(m->listener_restarts, 1);
	}
	cb_message_free(m);
}

/* A client of a broker that is not there: UNAVAILABLE with a message
 * that says so, within the call's deadline, over IPC and TCP. */
CBH_TEST(test_client_dead_broker)
{
	char        tcp[64];
	int         port;
	const char *urls[2];

	ck_assert_int_eq(cbh_free_port(&port), 0);
	snprintf(tcp, sizeof(tcp), "tcp://127.0.0.1:%d", port);
	urls[0] = "ipc:///nonexistent-dir/cachebroker.sock";
	urls[1] = tcp;
	for (int i = 0; i < 2; i++) {
		cb_result res;
		cb_status st;
		int64_t   t0 = cbh_now_ms();
		int64_t   el;

		st = fresh_health(urls[i], 500, &res);
		el = cbh_now_ms() - t0;
		IT_ASSERT_CODE(st, CB_UNAVAILABLE, &res);
		ck_assert_msg(
		    res.message[0] != '\0', "%s: no message", urls[i]);
		ck_assert_msg(el >= 400 && el < 1500,
		    "%s: UNAVAILABLE after %lld ms (deadline 500)", urls[i],
		    (long long) el);
	}
}

/* ---- NUL bytes and bad UTF-8 in every string that enters ---- */

/* An event rule whose key a cut-short parameter would hit. */
static const char strings_policy[] = "[event users.updated]\n"
                                     "param = user_id int\n"
                                     "invalidate = users:profile:{user_id}\n";

#define PROFILE_KEY "users:profile:42"
#define PROFILE_VALUE "original"
#define SESSION_KEY "auth:session:42"
#define SESSION_VALUE "session of 42"

static void
strings_setup(void)
{
	it_setup_config(strings_policy);
	it_set_str(SENTINEL_NS, SENTINEL_KEY, SENTINEL_VALUE);
	it_redis_ok("SET " PROFILE_KEY " " PROFILE_VALUE);
	it_redis_ok("SET %s %s PX 3600000", SESSION_KEY, SESSION_VALUE);
}

/*
 * tilde_code packs an envelope of method with msg, request_id id and, if
 * mdk is not NULL, the metadata mdk = mdv; turns the one '~' in its
 * bytes into sub (lengths on the wire stay right); sends it raw and
 * returns the code, with the message in out.
 */
static int
tilde_code(const char *method, const ProtobufCMessage *msg, const char *id,
    const char *mdk, const char *mdv, char sub, char *out, size_t cap)
{
	Cachebroker__V1__Request env = CACHEBROKER__V1__REQUEST__INIT;
	Cachebroker__V1__Request__MetadataEntry md =
	    CACHEBROKER__V1__REQUEST__METADATA_ENTRY__INIT;
	Cachebroker__V1__Request__MetadataEntry *mdp[1] = { &md };
	Cachebroker__V1__Response               *resp   = NULL;
	uint8_t                                  pbuf[512];
	uint8_t                                 *buf;
	uint8_t                                 *tilde = NULL;
	size_t                                   n;
	nng_socket                               s;
	int                                      code;

	env.method      = (char *) method;
	env.request_id  = (char *) id;
	env.deadline_ms = 5000;
	if (msg != NULL) {
		ck_assert_uint_le(
		    protobuf_c_message_get_packed_size(msg), sizeof(pbuf));
		env.payload.len  = protobuf_c_message_pack(msg, pbuf);
		env.payload.data = pbuf;
	}
	if (mdk != NULL) {
		md.key         = (char *) mdk;
		md.value       = (char *) mdv;
		env.metadata   = mdp;
		env.n_metadata = 1;
	}
	n   = cachebroker__v1__request__get_packed_size(&env);
	buf = malloc(n);
	ck_assert_ptr_nonnull(buf);
	cachebroker__v1__request__pack(&env, buf);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '~') {
			ck_assert_msg(tilde == NULL, "two '~' in %s", method);
			tilde = &buf[i];
		}
	}
	ck_assert_msg(tilde != NULL, "no '~' in %s", method);
	*tilde = (uint8_t) sub;
	ck_assert_int_eq(
	    cbh_raw_open(&s, cbh_broker_url(it_env->broker), 10000), 0);
	ck_assert_msg(cbh_raw_call(s, buf, n, &resp) == 0, "no Response");
	nng_close(s);
	free(buf);
	code = resp->status != NULL ? resp->status->code : 0;
	snprintf(out, cap, "%s",
	    resp->status != NULL && resp->status->message != NULL
	        ? resp->status->message
	        : "");
	cachebroker__v1__response__free_unpacked(resp, NULL);
	return code;
}

/* One string field class: a request with a '~' where the bad byte goes. */
typedef struct tilde_case {
	const char             *what;
	const char             *method; /* "CacheService/Get" */
	const ProtobufCMessage *msg;
	const char             *id;  /* request_id */
	const char             *mdk; /* metadata */
	const char             *mdv;
	const char             *field; /* in the message, or NULL */
} tilde_case;

/* fails_add appends to the failure text buf (cap bytes). */
static void __attribute__((format(printf, 3, 4)))
fails_add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t  n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, cap - n, fmt, ap);
	va_end(ap);
}

/* get_count is how many Gets Metrics has counted. */
static uint64_t
get_count(void)
{
	Cachebroker__V1__MetricsResponse *m = it_metrics();
	uint64_t                          n = 0;

	for (size_t i = 0; i < m->n_methods; i++) {
		if (strcmp(m->methods[i]->method,
		        IT_METHOD("CacheService/Get")) == 0) {
			n = m->methods[i]->count;
		}
	}
	cb_message_free(m);
	return n;
}

/*
 * Every string that enters, cut short by a NUL (protobuf-c keeps what is
 * before it) or not UTF-8, gets INVALID_ARGUMENT, and nothing is written:
 * "profile:42\0x" must not touch users:profile:42, "42\0x" not the
 * session of 42, ".../ResetStats\0" must not reset the statistics.
 */
CBH_TEST(test_nul_and_bad_utf8)
{
	static const char           subs[]  = { '\0', (char) 0xff };
	char                       *keys[]  = { "a", "profile:42~x" };
	char                       *strat[] = { "nightly~" };
	Cachebroker__V1__GetRequest get   = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__GetRequest getns = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__GetRequest plain = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__SetRequest set   = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__GetManyRequest gm =
	    CACHEBROKER__V1__GET_MANY_REQUEST__INIT;
	Cachebroker__V1__DeleteRequest del =
	    CACHEBROKER__V1__DELETE_REQUEST__INIT;
	Cachebroker__V1__SetManyEntry e =
	    CACHEBROKER__V1__SET_MANY_ENTRY__INIT;
	Cachebroker__V1__SetManyEntry  *ep[1] = { &e };
	Cachebroker__V1__SetManyRequest sm =
	    CACHEBROKER__V1__SET_MANY_REQUEST__INIT;
	Cachebroker__V1__InvalidatePatternRequest pat =
	    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
	Cachebroker__V1__IncrementRequest inc =
	    CACHEBROKER__V1__INCREMENT_REQUEST__INIT;
	Cachebroker__V1__ExpireRequest exp =
	    CACHEBROKER__V1__EXPIRE_REQUEST__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry fpk =
	    CACHEBROKER__V1__FETCH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry fpv =
	    CACHEBROKER__V1__FETCH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry *fpkp[1] = { &fpk };
	Cachebroker__V1__FetchRequest__ParamsEntry *fpvp[1] = { &fpv };
	Cachebroker__V1__FetchRequest               fk =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest fv =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest fr =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__PublishRequest__ParamsEntry ppk =
	    CACHEBROKER__V1__PUBLISH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__PublishRequest__ParamsEntry ppv =
	    CACHEBROKER__V1__PUBLISH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__PublishRequest__ParamsEntry ppok =
	    CACHEBROKER__V1__PUBLISH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__PublishRequest__ParamsEntry *ppkp[1]  = { &ppk };
	Cachebroker__V1__PublishRequest__ParamsEntry *ppvp[1]  = { &ppv };
	Cachebroker__V1__PublishRequest__ParamsEntry *ppokp[1] = { &ppok };
	Cachebroker__V1__PublishRequest               pk =
	    CACHEBROKER__V1__PUBLISH_REQUEST__INIT;
	Cachebroker__V1__PublishRequest pv =
	    CACHEBROKER__V1__PUBLISH_REQUEST__INIT;
	Cachebroker__V1__PublishRequest pe =
	    CACHEBROKER__V1__PUBLISH_REQUEST__INIT;
	Cachebroker__V1__WarmRequest warm =
	    CACHEBROKER__V1__WARM_REQUEST__INIT;
	Cachebroker__V1__RevokeTokenRequest rt =
	    CACHEBROKER__V1__REVOKE_TOKEN_REQUEST__INIT;
	Cachebroker__V1__RevokeUserTokensRequest ru =
	    CACHEBROKER__V1__REVOKE_USER_TOKENS_REQUEST__INIT;
	Cachebroker__V1__IsTokenRevokedRequest itt =
	    CACHEBROKER__V1__IS_TOKEN_REVOKED_REQUEST__INIT;
	Cachebroker__V1__IsTokenRevokedRequest itu =
	    CACHEBROKER__V1__IS_TOKEN_REVOKED_REQUEST__INIT;
	Cachebroker__V1__PutSessionRequest ps =
	    CACHEBROKER__V1__PUT_SESSION_REQUEST__INIT;
	Cachebroker__V1__GetSessionRequest gs =
	    CACHEBROKER__V1__GET_SESSION_REQUEST__INIT;
	Cachebroker__V1__DeleteSessionRequest ds =
	    CACHEBROKER__V1__DELETE_SESSION_REQUEST__INIT;
	Cachebroker__V1__TouchSessionRequest ts =
	    CACHEBROKER__V1__TOUCH_SESSION_REQUEST__INIT;
	Cachebroker__V1__CheckRateLimitRequest rl =
	    CACHEBROKER__V1__CHECK_RATE_LIMIT_REQUEST__INIT;
	Cachebroker__V1__ResetStatsRequest reset =
	    CACHEBROKER__V1__RESET_STATS_REQUEST__INIT;
	Cachebroker__V1__HealthRequest health =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	long long dbsize;
	uint64_t  gets;
	char     *v;
	char      fails[8192] = "";
	int       failed      = 0;
	int64_t   now         = (int64_t) time(NULL);

	get.namespace_   = "users";
	get.key          = "profile:42~x";
	getns.namespace_ = "users~";
	getns.key        = "profile:42";
	plain.namespace_ = "users";
	plain.key        = "profile:42";
	set.namespace_   = "users";
	set.key          = "profile:42~x";
	set.value.data   = (uint8_t *) "overwritten";
	set.value.len    = 11;
	gm.namespace_ = del.namespace_ = "users";
	gm.keys = del.keys = keys;
	gm.n_keys = del.n_keys = 2;
	e.key                  = "profile:42~x";
	e.value.data           = (uint8_t *) "overwritten";
	e.value.len            = 11;
	sm.namespace_          = "users";
	sm.entries             = ep;
	sm.n_entries           = 1;
	pat.namespace_         = "users";
	pat.pattern            = "profile:42~";
	inc.namespace_         = "users";
	inc.key                = "profile:42~x";
	inc.delta              = 1;
	exp.namespace_         = "users";
	exp.key                = "profile:42~x";
	exp.ttl_ms             = 1000;
	fpk.key                = "user_id~";
	fpk.value              = "42";
	fpv.key                = "user_id";
	fpv.value              = "42~junk";
	fk.resource = fv.resource = "users.profile";
	fk.params                 = fpkp;
	fv.params                 = fpvp;
	fk.n_params = fv.n_params = 1;
	fr.resource               = "users.profile~";
	ppk.key                   = "user_id~";
	ppk.value                 = "42";
	ppv.key                   = "user_id";
	ppv.value                 = "42~x";
	ppok.key                  = "user_id";
	ppok.value                = "42";
	pk.event = pv.event = "users.updated";
	pk.params           = ppkp;
	pv.params           = ppvp;
	pk.n_params = pv.n_params = 1;
	pe.event                  = "users.updated~";
	pe.params                 = ppokp;
	pe.n_params               = 1;
	warm.strategies           = strat;
	warm.n_strategies         = 1;
	rt.token_id               = "42~x";
	rt.expires_at             = now + 600;
	ru.user_id                = "42~x";
	ru.issued_before          = now;
	itt.token_id              = "42~x";
	itt.user_id               = "42";
	itt.issued_at             = now;
	itu.token_id              = "42";
	itu.user_id               = "42~x";
	itu.issued_at             = now;
	ps.user_id                = "42~x";
	ps.data.data              = (uint8_t *) "overwritten";
	ps.data.len               = 11;
	gs.user_id = ds.user_id = ts.user_id = "42~x";
	ts.ttl_ms                            = 1000;
	rl.subject                           = "42~x";
	rl.limit                             = 10;

	const tilde_case cases[] = {
		{ "Get key", "CacheService/Get", &get.base, "", NULL, NULL,
		    "key" },
		{ "Get namespace", "CacheService/Get", &getns.base, "", NULL,
		    NULL, "namespace" },
		{ "Set key", "CacheService/Set", &set.base, "", NULL, NULL,
		    "key" },
		{ "GetMany keys[]", "CacheService/GetMany", &gm.base, "", NULL,
		    NULL, "keys" },
		{ "Delete keys[]", "CacheService/Delete", &del.base, "", NULL,
		    NULL, "keys" },
		{ "SetMany entries[].key", "CacheService/SetMany", &sm.base,
		    "", NULL, NULL, "entries.key" },
		{ "InvalidatePattern pattern",
		    "CacheService/InvalidatePattern", &pat.base, "", NULL,
		    NULL, "pattern" },
		{ "Increment key", "CacheService/Increment", &inc.base, "",
		    NULL, NULL, "key" },
		{ "Expire key", "CacheService/Expire", &exp.base, "", NULL,
		    NULL, "key" },
		{ "Fetch resource", "CacheService/Fetch", &fr.base, "", NULL,
		    NULL, "resource" },
		{ "Fetch params key", "CacheService/Fetch", &fk.base, "", NULL,
		    NULL, "params.key" },
		{ "Fetch params value", "CacheService/Fetch", &fv.base, "",
		    NULL, NULL, "params.value" },
		{ "Publish event", "EventService/Publish", &pe.base, "", NULL,
		    NULL, "event" },
		{ "Publish params key", "EventService/Publish", &pk.base, "",
		    NULL, NULL, "params.key" },
		{ "Publish params value", "EventService/Publish", &pv.base, "",
		    NULL, NULL, "params.value" },
		{ "Warm strategies[]", "WarmService/Warm", &warm.base, "",
		    NULL, NULL, "strategies" },
		{ "RevokeToken token_id", "AuthService/RevokeToken", &rt.base,
		    "", NULL, NULL, "token_id" },
		{ "RevokeUserTokens user_id", "AuthService/RevokeUserTokens",
		    &ru.base, "", NULL, NULL, "user_id" },
		{ "IsTokenRevoked token_id", "AuthService/IsTokenRevoked",
		    &itt.base, "", NULL, NULL, "token_id" },
		{ "IsTokenRevoked user_id", "AuthService/IsTokenRevoked",
		    &itu.base, "", NULL, NULL, "user_id" },
		{ "PutSession user_id", "AuthService/PutSession", &ps.base, "",
		    NULL, NULL, "user_id" },
		{ "GetSession user_id", "AuthService/GetSession", &gs.base, "",
		    NULL, NULL, "user_id" },
		{ "DeleteSession user_id", "AuthService/DeleteSession",
		    &ds.base, "", NULL, NULL, "user_id" },
		{ "TouchSession user_id", "AuthService/TouchSession", &ts.base,
		    "", NULL, NULL, "user_id" },
		{ "CheckRateLimit subject", "AuthService/CheckRateLimit",
		    &rl.base, "", NULL, NULL, "subject" },
		{ "method name", "AdminService/ResetStats~", &reset.base, "",
		    NULL, NULL, NULL },
		{ "request_id", "CacheService/Get", &plain.base, "rid~1", NULL,
		    NULL, NULL },
		{ "metadata key", "AdminService/Health", &health.base, "",
		    "authorization~", "x", NULL },
		{ "metadata value", "AdminService/Health", &health.base, "",
		    "authorization", "bearer ~", NULL },
	};

	it_get_str("users", "profile:42", PROFILE_VALUE);
	gets   = get_count();
	dbsize = it_redis_int("DBSIZE");
	ck_assert_uint_ge(gets, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const tilde_case *c = &cases[i];
		for (size_t k = 0; k < sizeof(subs); k++) {
			char method[128];
			char msg[256];
			char want[64] = "";
			int  code;
			snprintf(method, sizeof(method), "%s%s",
			    CB_METHOD_PREFIX, c->method);
			code = tilde_code(method, c->msg, c->id, c->mdk,
			    c->mdv, subs[k], msg, sizeof(msg));
			if (c->field != NULL) {
				snprintf(want, sizeof(want),
				    "payload field %s: ", c->field);
			}
			/* Every case is tried, then all failures told. */
			if (code != CB_INVALID_ARGUMENT ||
			    strstr(msg, want) == NULL) {
				failed++;
				fails_add(fails, sizeof(fails),
				    "%s with %s: got %s '%s'; ", c->what,
				    k == 0 ? "a NUL" : "byte 0xff",
				    cb_status_str(code), msg);
			}
			if (strstr(c->method, "ResetStats") != NULL &&
			    get_count() < gets) {
				failed++;
				fails_add(fails, sizeof(fails),
				    "the statistics were reset; ");
			}
		}
	}
	/* Nothing was written, overwritten, deleted or reset. */
	v = it_redis_get(PROFILE_KEY, NULL);
	if (v == NULL || strcmp(v, PROFILE_VALUE) != 0 ||
	    it_pttl(PROFILE_KEY) != -1) {
		failed++;
		fails_add(fails, sizeof(fails),
		    PROFILE_KEY " is '%s', PTTL %lld; ",
		    v != NULL ? v : "(gone)", it_pttl(PROFILE_KEY));
	}
	free(v);
	v = it_redis_get(SESSION_KEY, NULL);
	if (v == NULL || strcmp(v, SESSION_VALUE) != 0 ||
	    it_pttl(SESSION_KEY) < 3600000 - IT_TTL_SLACK_MS) {
		failed++;
		fails_add(fails, sizeof(fails),
		    SESSION_KEY " is '%s', PTTL %lld; ",
		    v != NULL ? v : "(gone)", it_pttl(SESSION_KEY));
	}
	free(v);
	if (it_redis_int("DBSIZE") != dbsize) {
		failed++;
		fails_add(fails, sizeof(fails), "DBSIZE %lld, was %lld; ",
		    it_redis_int("DBSIZE"), dbsize);
	}
	ck_assert_msg(failed == 0, "%d failures: %s", failed, fails);
	intact();
}

/* The CLI can pass bytes that are not UTF-8 (not a NUL: argv ends at
 * one): it gets the broker's INVALID_ARGUMENT. */
CBH_TEST(test_cli_bad_utf8)
{
	char      out[256];
	long long dbsize = it_redis_int("DBSIZE");

	ck_assert_int_ne(
	    it_cli("set users profile:42\xff x", out, sizeof(out)), 0);
	ck_assert_int_ne(
	    it_cli("get users profile:42\xc0\xaf", out, sizeof(out)), 0);
	ck_assert_int_eq(it_redis_int("DBSIZE"), dbsize);
	intact();
}

static Suite *
badinput_suite(void)
{
	Suite *s  = suite_create("badinput");
	TCase *tc = tcase_create("badinput");

	tcase_add_checked_fixture(tc, setup, it_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_undecodable_envelope);
	tcase_add_test(tc, test_empty_envelope);
	tcase_add_test(tc, test_unknown_method);
	tcase_add_test(tc, test_bad_payload);
	tcase_add_test(tc, test_bad_namespace);
	tcase_add_test(tc, test_bad_keys);
	tcase_add_test(tc, test_key_size);
	tcase_add_test(tc, test_value_size);
	tcase_add_test(tc, test_batch_size);
	tcase_add_test(tc, test_oversized_raw);
	tcase_add_test(tc, test_client_refuses_oversized);
	tcase_add_test(tc, test_bad_pattern);
	tcase_add_test(tc, test_huge_deadline);
	tcase_add_test(tc, test_fuzz_envelopes);
	tcase_add_test(tc, test_ipc_hangups_during_handshake);
	tcase_add_test(tc, test_client_dead_broker);
	suite_add_tcase(s, tc);

	tc = tcase_create("strings");
	tcase_add_checked_fixture(tc, strings_setup, it_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_nul_and_bad_utf8);
	tcase_add_test(tc, test_cli_bad_utf8);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(badinput_suite()));
}

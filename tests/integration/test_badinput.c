/* SPDX-License-Identifier: MIT */
/* Hostile input: bad envelopes, payloads, names and sizes get clear codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* hangups connects to the IPC socket at path n times, leaving each time
 * before the SP handshake. */
static void
hangups(const char *path, int n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(
		    connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
		close(fd);
	}
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
		hangups(url + 6, 20);
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
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(badinput_suite()));
}

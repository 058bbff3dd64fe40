/* SPDX-License-Identifier: MIT */
/* Writes the seed corpus of fuzz_request: one valid request per method
 * plus a few near misses. Run it to regenerate tests/fuzz/corpus/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cachebroker/cachebroker.h>

/* write_env_sub writes an envelope of method with payload to dir/name;
 * each '~' in its bytes becomes sub (NUL or bytes that are no UTF-8, which
 * protobuf-c would not pack from a C string; lengths stay right). */
static int
write_env_sub(const char *dir, const char *name, const char *method,
    const ProtobufCMessage *payload, char sub)
{
	Cachebroker__V1__Request env  = CACHEBROKER__V1__REQUEST__INIT;
	uint8_t                 *pbuf = NULL;
	uint8_t                 *ebuf;
	size_t                   n;
	char                     path[4096];
	FILE                    *f;

	env.method      = (char *) method;
	env.request_id  = "0123456789abcdef0123456789abcdef";
	env.deadline_ms = 500;
	if (payload != NULL) {
		n    = protobuf_c_message_get_packed_size(payload);
		pbuf = malloc(n + 1);
		protobuf_c_message_pack(payload, pbuf);
		env.payload.data = pbuf;
		env.payload.len  = n;
	}
	n    = cachebroker__v1__request__get_packed_size(&env);
	ebuf = malloc(n + 1);
	cachebroker__v1__request__pack(&env, ebuf);
	for (size_t i = 0; i < n; i++) {
		if (ebuf[i] == '~') {
			ebuf[i] = (uint8_t) sub;
		}
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		perror(path);
		return -1;
	}
	fwrite(ebuf, 1, n, f);
	fclose(f);
	free(pbuf);
	free(ebuf);
	return 0;
}

static int
write_env(const char *dir, const char *name, const char *method,
    const ProtobufCMessage *payload)
{
	return write_env_sub(dir, name, method, payload, '~');
}

#define M(x) CB_METHOD_PREFIX x

int
main(int argc, char **argv)
{
	Cachebroker__V1__GetRequest get = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__SetRequest set = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__GetManyRequest mget =
	    CACHEBROKER__V1__GET_MANY_REQUEST__INIT;
	Cachebroker__V1__SetManyRequest mset =
	    CACHEBROKER__V1__SET_MANY_REQUEST__INIT;
	Cachebroker__V1__SetManyEntry e1 =
	    CACHEBROKER__V1__SET_MANY_ENTRY__INIT;
	Cachebroker__V1__SetManyEntry            *ents[] = { &e1 };
	Cachebroker__V1__InvalidatePatternRequest inv =
	    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
	Cachebroker__V1__IncrementRequest incr =
	    CACHEBROKER__V1__INCREMENT_REQUEST__INIT;
	Cachebroker__V1__ExpireRequest exp =
	    CACHEBROKER__V1__EXPIRE_REQUEST__INIT;
	Cachebroker__V1__HealthRequest health =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest fetch =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry fpe =
	    CACHEBROKER__V1__FETCH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry *fpes[] = { &fpe };
	char       *keys[] = { "profile:1", "profile:2" };
	const char *dir    = argc > 1 ? argv[1] : ".";
	int         rv     = 0;

	get.namespace_ = "users";
	get.key        = "profile:42";
	set.namespace_ = "users";
	set.key        = "profile:42";
	set.value.data = (uint8_t *) "{\"id\":42}";
	set.value.len  = 9;
	set.ttl_ms     = 60000;
	set.condition =
	    CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_IF_ABSENT;
	mget.namespace_ = "users";
	mget.n_keys     = 2;
	mget.keys       = keys;
	e1.key          = "profile:1";
	e1.value.data   = (uint8_t *) "v";
	e1.value.len    = 1;
	mset.namespace_ = "users";
	mset.n_entries  = 1;
	mset.entries    = ents;
	inv.namespace_  = "users";
	inv.pattern     = "profile:[0-9]*";
	incr.namespace_ = "auth";
	incr.key        = "rate-limit:10.0.0.1";
	incr.delta      = -3;
	incr.ttl_ms     = 900000;
	exp.namespace_  = "users";
	exp.key         = "profile:42";
	exp.ttl_ms      = -1;

	rv |= write_env(dir, "get", M("CacheService/Get"), &get.base);
	rv |= write_env(dir, "set", M("CacheService/Set"), &set.base);
	rv |=
	    write_env(dir, "get_many", M("CacheService/GetMany"), &mget.base);
	rv |=
	    write_env(dir, "set_many", M("CacheService/SetMany"), &mset.base);
	rv |= write_env(
	    dir, "invalidate", M("CacheService/InvalidatePattern"), &inv.base);
	rv |= write_env(
	    dir, "increment", M("CacheService/Increment"), &incr.base);
	rv |= write_env(dir, "expire", M("CacheService/Expire"), &exp.base);
	rv |= write_env(dir, "health", M("AdminService/Health"), &health.base);
	rv |= write_env(
	    dir, "unknown_method", M("CacheService/Nope"), &get.base);
	/* A Set payload under Get's name. */
	rv |=
	    write_env(dir, "wrong_payload", M("CacheService/Get"), &set.base);
	get.namespace_ = "Users";
	get.key        = "a*b";
	rv |= write_env(dir, "bad_key", M("CacheService/Get"), &get.base);
	/* Strings cut by a NUL or not UTF-8: the key, a map's value, the
	 * method's name. */
	get.namespace_ = "users";
	get.key        = "profile:42~x";
	rv |= write_env_sub(
	    dir, "nul_key", M("CacheService/Get"), &get.base, '\0');
	rv |= write_env_sub(dir, "overlong_key", M("CacheService/Get"),
	    &get.base, (char) 0xc0);
	fetch.resource = "users.profile";
	fpe.key        = "user_id";
	fpe.value      = "42~junk";
	fetch.params   = fpes;
	fetch.n_params = 1;
	rv |= write_env_sub(
	    dir, "nul_param", M("CacheService/Fetch"), &fetch.base, '\0');
	rv |= write_env_sub(dir, "bad_utf8_param", M("CacheService/Fetch"),
	    &fetch.base, (char) 0xff);
	rv |= write_env_sub(
	    dir, "nul_method", M("AdminService/ResetStats~"), NULL, '\0');
	return rv == 0 ? 0 : 1;
}

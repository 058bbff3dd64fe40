/* SPDX-License-Identifier: MIT */
/* The C client's conformance runner: vectors.json against a live broker. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <json-c/json.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <cachebroker/cachebroker.h>

#include "pbjson.h"

/*
 * usage: cb_conformance VECTORS.json
 *
 * Runs every case of the file (format: tests/conformance/README.md) on one
 * client of $CACHEBROKER_URL, as cbh-run starts it:
 *
 *   step ─► "request": JSON ─pbjson─► message ─► cb_<method>() ─┐
 *        └► "payload_base64": bytes ─► envelope ─► raw req0 ────┤
 *                                                               ▼
 *   expect ◄─ match ◄─ proto3 JSON (defaults in) ◄─pbjson─ response
 *
 * The typed calls come from CB_CLIENT_METHODS, so a method added to the
 * client is callable here without a change; the request's type is the
 * input of that method in the generated service descriptor. The run
 * fails if a method of the table is never called by the vectors: a
 * method without a vector is a method three clients may disagree on.
 */

#define LANG "c"
#define DEFAULT_DEADLINE_MS 5000u
#define SHOW_MAX 400 /* bytes of the actual response shown on a mismatch */
#define WHY_MAX 1024

typedef cb_status (*typed_call)(cb_client *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp, const cb_callopts *o, cb_result *res);

/* One client method. */
typedef struct method {
	const char                       *call; /* "CacheService/Get" */
	typed_call                        fn;   /* cb_cache_get, untyped */
	const ProtobufCMessageDescriptor *resp; /* from the client's table */
	const ProtobufCMessageDescriptor *req;  /* from the service */
	bool                              used; /* some step names it */
} method;

/* call_<suffix>: the typed call cb_<suffix> behind one signature. */
/* NOLINTBEGIN(bugprone-macro-parentheses): REQ and RESP are types */
#define TYPED_CALL(suffix, svc, meth, REQ, RESP, rdesc)                  \
	static cb_status call_##suffix(cb_client *c,                     \
	    const ProtobufCMessage *req, ProtobufCMessage **resp,        \
	    const cb_callopts *o, cb_result *res)                        \
	{                                                                \
		RESP     *out = NULL;                                    \
		cb_status st  = cb_##suffix(                             \
		     c, (const REQ *) (const void *) req, &out, o, res); \
		if (st == CB_OK) {                                       \
			*resp = &out->base;                              \
		}                                                        \
		return (st);                                             \
	}
/* NOLINTEND(bugprone-macro-parentheses) */
CB_CLIENT_METHODS(TYPED_CALL)
#undef TYPED_CALL

static method methods[] = {
#define METHOD_ROW(suffix, svc, meth, REQ, RESP, rdesc) \
	{ svc "/" meth, call_##suffix, &rdesc##__descriptor, NULL, false },
	CB_CLIENT_METHODS(METHOD_ROW)
#undef METHOD_ROW
};

#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

static const ProtobufCServiceDescriptor *const services[] = {
	&cachebroker__v1__cache_service__descriptor,
	&cachebroker__v1__warm_service__descriptor,
	&cachebroker__v1__event_service__descriptor,
	&cachebroker__v1__auth_service__descriptor,
	&cachebroker__v1__admin_service__descriptor,
};

#define N_SERVICES (sizeof(services) / sizeof(services[0]))

/* What one call came back with. */
typedef struct outcome {
	cb_status    code;         /* the reply's status, or the client's */
	char         message[256]; /* its message */
	char         x_cache[16];  /* metadata x-cache, "" when absent */
	json_object *response;     /* OK: the response as JSON, else NULL */
} outcome;

/* The runner's state: one client, one raw socket, for the whole run. */
typedef struct runner {
	cb_client  *client;   /* typed calls */
	nng_socket  raw;      /* payload_base64 calls */
	bool        raw_open; /* raw is open: on the first such call */
	const char *url;      /* $CACHEBROKER_URL */
} runner;

static method *
method_find(const char *call)
{
	for (size_t i = 0; i < N_METHODS; i++) {
		if (strcmp(methods[i].call, call) == 0) {
			return (&methods[i]);
		}
	}
	return (NULL);
}

/*
 * methods_init finds each method's request type in the service
 * descriptors and checks that the table and the services agree both
 * ways: a method of a service that the client cannot call is as much a
 * conformance failure as a wrong vector.
 */
static int
methods_init(void)
{
	int rv = 0;

	for (size_t i = 0; i < N_METHODS; i++) {
		method                          *m     = &methods[i];
		const char                      *slash = strchr(m->call, '/');
		const ProtobufCMethodDescriptor *md    = NULL;

		for (size_t s = 0; s < N_SERVICES && md == NULL; s++) {
			if (strncmp(services[s]->short_name, m->call,
			        (size_t) (slash - m->call)) == 0 &&
			    services[s]->short_name[slash - m->call] == '\0') {
				md =
				    protobuf_c_service_descriptor_get_method_by_name(
				        services[s], slash + 1);
			}
		}
		if (md == NULL || md->output != m->resp) {
			fprintf(stderr,
			    "conformance: %s: no such method in the services, "
			    "or another response type\n",
			    m->call);
			rv = -1;
			continue;
		}
		m->req = md->input;
	}
	for (size_t s = 0; s < N_SERVICES; s++) {
		for (unsigned j = 0; j < services[s]->n_methods; j++) {
			char call[128];
			snprintf(call, sizeof(call), "%s/%s",
			    services[s]->short_name,
			    services[s]->methods[j].name);
			if (method_find(call) == NULL) {
				fprintf(stderr,
				    "conformance: %s has no typed call in "
				    "CB_CLIENT_METHODS\n",
				    call);
				rv = -1;
			}
		}
	}
	return (rv);
}

static void
outcome_fini(outcome *o)
{
	json_object_put(o->response);
	o->response = NULL;
}

/* ---- calls ---------------------------------------------------------- */

static void
typed_run(runner *r, method *m, json_object *request, uint32_t deadline_ms,
    const char *request_id, outcome *out, char *why, size_t whylen, bool *ok)
{
	ProtobufCMessage *req  = NULL;
	ProtobufCMessage *resp = NULL;
	cb_callopts       o    = { .timeout_ms = deadline_ms,
		         .request_id           = request_id };
	cb_result         res;
	char              err[WHY_MAX / 2];

	if (pbjson_to_message(m->req, request, &req, err, sizeof(err)) != 0) {
		snprintf(why, whylen, "request: %s", err);
		*ok = false;
		return;
	}
	memset(&res, 0, sizeof(res));
	out->code = m->fn(r->client, req, &resp, &o, &res);
	snprintf(out->message, sizeof(out->message), "%s", res.message);
	snprintf(out->x_cache, sizeof(out->x_cache), "%s", res.x_cache);
	if (out->code == CB_OK) {
		out->response = pbjson_from_message(resp);
		cb_message_free(resp);
		if (out->response == NULL) {
			snprintf(why, whylen, "out of memory");
			*ok = false;
		}
	}
	protobuf_c_message_free_unpacked(req, NULL);
}

static int
raw_open(runner *r)
{
	int rv;

	if (r->raw_open) {
		return (0);
	}
	if ((rv = nng_req0_open(&r->raw)) != 0) {
		fprintf(stderr, "conformance: nng_req0_open: %s\n",
		    nng_strerror(rv));
		return (-1);
	}
	/* No resend within a call, as the client library does. */
	if ((rv = nng_socket_set_ms(r->raw, NNG_OPT_REQ_RESENDTIME,
	         NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(r->raw, NNG_OPT_RECVMAXSZ, 0)) != 0 ||
	    (rv = nng_dial(r->raw, r->url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		fprintf(stderr, "conformance: raw socket to %s: %s\n", r->url,
		    nng_strerror(rv));
		nng_close(r->raw);
		return (-1);
	}
	r->raw_open = true;
	return (0);
}

static void
fresh_request_id(char out[33])
{
	uint8_t b[16];

	static uint64_t seq;

	if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b)) {
		/* Uniqueness within the run is all a request id needs. */
		uint64_t t = (uint64_t) time(NULL);
		seq++;
		memcpy(b, &t, sizeof(t));
		memcpy(b + 8, &seq, sizeof(seq));
	}
	for (size_t i = 0; i < 16; i++) {
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	}
}

/*
 * raw_run sends payload as the envelope of call, as a client's generic
 * call would: for unknown methods and payloads no typed call can make.
 */
static void
raw_run(runner *r, const char *call, method *m, const char *payload_b64,
    uint32_t deadline_ms, const char *request_id, outcome *out, char *why,
    size_t whylen, bool *ok)
{
	Cachebroker__V1__Request   env = CACHEBROKER__V1__REQUEST__INIT;
	Cachebroker__V1__Response *reply;
	char                       name[256];
	char                       id[33];
	uint8_t                   *payload = NULL;
	size_t                     plen;
	nng_msg                   *msg = NULL;
	int                        rv;

	if (pbjson_base64_decode(payload_b64, &payload, &plen) != 0) {
		snprintf(why, whylen, "payload_base64 is not base64");
		*ok = false;
		return;
	}
	if (raw_open(r) != 0) {
		snprintf(why, whylen, "cannot open a raw socket");
		*ok = false;
		goto done;
	}
	snprintf(name, sizeof(name), "%s%s", CB_METHOD_PREFIX, call);
	if (request_id == NULL) {
		fresh_request_id(id);
		request_id = id;
	}
	env.method       = name;
	env.payload.data = payload;
	env.payload.len  = plen;
	env.deadline_ms  = deadline_ms;
	env.request_id   = (char *) request_id;
	if ((rv = nng_msg_alloc(&msg,
	         cachebroker__v1__request__get_packed_size(&env))) != 0) {
		snprintf(why, whylen, "nng_msg_alloc: %s", nng_strerror(rv));
		*ok = false;
		goto done;
	}
	(void) cachebroker__v1__request__pack(&env, nng_msg_body(msg));
	if ((rv = nng_socket_set_ms(r->raw, NNG_OPT_SENDTIMEO,
	         (nng_duration) deadline_ms)) != 0 ||
	    (rv = nng_socket_set_ms(r->raw, NNG_OPT_RECVTIMEO,
	         (nng_duration) deadline_ms)) != 0 ||
	    (rv = nng_sendmsg(r->raw, msg, 0)) != 0) {
		nng_msg_free(msg);
		out->code = CB_UNAVAILABLE;
		snprintf(out->message, sizeof(out->message), "send: %s",
		    nng_strerror(rv));
		goto done;
	}
	if ((rv = nng_recvmsg(r->raw, &msg, 0)) != 0) {
		out->code = rv == NNG_ETIMEDOUT ? CB_DEADLINE_EXCEEDED
		                                : CB_UNAVAILABLE;
		snprintf(out->message, sizeof(out->message), "recv: %s",
		    nng_strerror(rv));
		goto done;
	}
	reply = cachebroker__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	if (reply == NULL) {
		snprintf(why, whylen, "the reply is not a Response");
		*ok = false;
		goto done;
	}
	out->code =
	    reply->status != NULL ? (cb_status) reply->status->code : CB_OK;
	snprintf(out->message, sizeof(out->message), "%s",
	    reply->status != NULL ? reply->status->message : "");
	for (size_t i = 0; i < reply->n_metadata; i++) {
		if (strcmp(reply->metadata[i]->key, "x-cache") == 0) {
			snprintf(out->x_cache, sizeof(out->x_cache), "%s",
			    reply->metadata[i]->value);
		}
	}
	if (out->code == CB_OK && m != NULL) {
		ProtobufCMessage *resp = protobuf_c_message_unpack(
		    m->resp, NULL, reply->payload.len, reply->payload.data);
		if (resp == NULL) {
			snprintf(why, whylen,
			    "the reply's payload is not a %s", m->resp->name);
			*ok = false;
		} else {
			out->response = pbjson_from_message(resp);
			protobuf_c_message_free_unpacked(resp, NULL);
		}
	}
	cachebroker__v1__response__free_unpacked(reply, NULL);
done:
	free(payload);
}

/* ---- matching ------------------------------------------------------- */

/* number_of reads a JSON number, or a string holding a decimal number
 * (how proto3 JSON writes 64-bit integers). long double holds any
 * int64 and uint64 exactly. */
static bool
number_of(json_object *v, long double *out)
{
	const char *s;
	char       *end;

	switch (json_object_get_type(v)) {
	case json_type_int:
		if (json_object_get_int64(v) == INT64_MAX) {
			*out = (long double) json_object_get_uint64(v);
		} else {
			*out = (long double) json_object_get_int64(v);
		}
		return (true);
	case json_type_double:
		*out = (long double) json_object_get_double(v);
		return (true);
	case json_type_string:
		s = json_object_get_string(v);
		if (!((s[0] >= '0' && s[0] <= '9') ||
		        (s[0] == '-' && s[1] >= '0' && s[1] <= '9'))) {
			return (false);
		}
		errno = 0;
		*out  = strtold(s, &end);
		return (errno == 0 && *end == '\0');
	default:
		return (false);
	}
}

static const char *
show(json_object *v)
{
	return (v == NULL ? "null"
	                  : json_object_to_json_string_ext(v,
	                        JSON_C_TO_STRING_PLAIN |
	                            JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* is_range says whether want is {"$range": [lo, hi]}, and reads it. */
static bool
is_range(json_object *want, long double *lo, long double *hi)
{
	json_object *r;

	return (json_object_is_type(want, json_type_object) &&
	    json_object_object_length(want) == 1 &&
	    json_object_object_get_ex(want, "$range", &r) &&
	    json_object_is_type(r, json_type_array) &&
	    json_object_array_length(r) == 2 &&
	    json_object_get_type(json_object_array_get_idx(r, 0)) !=
	        json_type_string &&
	    json_object_get_type(json_object_array_get_idx(r, 1)) !=
	        json_type_string &&
	    number_of(json_object_array_get_idx(r, 0), lo) &&
	    number_of(json_object_array_get_idx(r, 1), hi));
}

/*
 * match says whether got matches want (README.md, "Matching a
 * response"); if not, why names the first difference by its path.
 */
static bool
match(json_object *want, json_object *got, const char *path, char *why,
    size_t whylen)
{
	long double lo;
	long double hi;
	long double w;
	long double g;
	char        sub[512];

	if (want == NULL) {
		if (got != NULL) {
			snprintf(why, whylen, "%.100s: got %.180s, want null",
			    path, show(got));
			return (false);
		}
		return (true);
	}
	if (got == NULL) {
		snprintf(why, whylen, "%.100s: got null, want %.180s", path,
		    show(want));
		return (false);
	}
	if (is_range(want, &lo, &hi)) {
		if (!number_of(got, &g) || g < lo || g > hi) {
			snprintf(why, whylen,
			    "%.100s: got %.180s, want %.180s", path, show(got),
			    show(want));
			return (false);
		}
		return (true);
	}
	switch (json_object_get_type(want)) {
	case json_type_object:
		if (!json_object_is_type(got, json_type_object)) {
			break;
		}
		json_object_object_foreach(want, key, wv)
		{
			json_object *gv;
			snprintf(sub, sizeof(sub), "%s.%s", path, key);
			if (!json_object_object_get_ex(got, key, &gv)) {
				snprintf(why, whylen, "%.100s: missing", sub);
				return (false);
			}
			if (!match(wv, gv, sub, why, whylen)) {
				return (false);
			}
		}
		return (true);
	case json_type_array:
		if (!json_object_is_type(got, json_type_array) ||
		    json_object_array_length(got) !=
		        json_object_array_length(want)) {
			break;
		}
		for (size_t i = 0; i < json_object_array_length(want); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (!match(json_object_array_get_idx(want, i),
			        json_object_array_get_idx(got, i), sub, why,
			        whylen)) {
				return (false);
			}
		}
		return (true);
	case json_type_int:
	case json_type_double:
		if (number_of(want, &w) && number_of(got, &g) && w == g) {
			return (true);
		}
		break;
	case json_type_string:
		if (json_object_is_type(got, json_type_string) &&
		    strcmp(json_object_get_string(want),
		        json_object_get_string(got)) == 0) {
			return (true);
		}
		break;
	case json_type_boolean:
		if (json_object_is_type(got, json_type_boolean) &&
		    json_object_get_boolean(want) ==
		        json_object_get_boolean(got)) {
			return (true);
		}
		break;
	default:
		break;
	}
	snprintf(why, whylen, "%.100s: got %.180s, want %.180s", path,
	    show(got), show(want));
	return (false);
}

/* ---- steps and cases ------------------------------------------------ */

static bool
only_keys(json_object *obj, const char *const *allowed, const char *what,
    char *why, size_t whylen)
{
	json_object_object_foreach(obj, key, val)
	{
		bool known = false;
		(void) val;
		for (const char *const *a = allowed; *a != NULL; a++) {
			known = known || strcmp(*a, key) == 0;
		}
		if (!known) {
			snprintf(
			    why, whylen, "unknown %s key '%s'", what, key);
			return (false);
		}
	}
	return (true);
}

/* get_uint reads an optional non-negative integer member. */
static bool
get_uint(
    json_object *obj, const char *key, uint32_t *out, char *why, size_t whylen)
{
	json_object *v;
	int64_t      n;

	if (!json_object_object_get_ex(obj, key, &v)) {
		return (true);
	}
	if (!json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < 0 || n > UINT32_MAX) {
		snprintf(why, whylen, "%s is not a non-negative integer", key);
		return (false);
	}
	*out = (uint32_t) n;
	return (true);
}

static const char *
get_string(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		return (NULL);
	}
	return (json_object_get_string(v));
}

/*
 * step_check compares an outcome with the step's expectation. The
 * response is shown on a mismatch: it is what one needs to fix either
 * the broker or the vector.
 */
static bool
step_check(json_object *expect, const outcome *o, char *why, size_t whylen)
{
	static const char *const keys[] = { "code", "message_contains",
		"response", "x_cache", NULL };
	const char              *code   = get_string(expect, "code");
	const char  *substr = get_string(expect, "message_contains");
	const char  *xc     = get_string(expect, "x_cache");
	json_object *resp;
	char         diff[WHY_MAX / 2];

	if (!only_keys(expect, keys, "expect", why, whylen)) {
		return (false);
	}
	if (code == NULL) {
		snprintf(why, whylen, "expect has no code");
		return (false);
	}
	if (strcmp(code, cb_status_str((int) o->code)) != 0) {
		snprintf(why, whylen, "got %s (%s), want %s",
		    cb_status_str((int) o->code), o->message, code);
		return (false);
	}
	if (substr != NULL && strstr(o->message, substr) == NULL) {
		snprintf(why, whylen, "message \"%s\" does not contain \"%s\"",
		    o->message, substr);
		return (false);
	}
	if (xc != NULL && strcmp(xc, o->x_cache) != 0) {
		snprintf(why, whylen, "x-cache \"%s\", want \"%s\"",
		    o->x_cache, xc);
		return (false);
	}
	if (json_object_object_get_ex(expect, "response", &resp)) {
		if (o->code != CB_OK || o->response == NULL) {
			snprintf(why, whylen,
			    "a response is expected only with code OK and "
			    "a known method");
			return (false);
		}
		if (!match(
		        resp, o->response, "response", diff, sizeof(diff))) {
			snprintf(why, whylen, "%s (response: %.*s)", diff,
			    SHOW_MAX, show(o->response));
			return (false);
		}
	}
	return (true);
}

static bool
step_run(runner *r, json_object *step, char *why, size_t whylen)
{
	static const char *const keys[]   = { "call", "request",
		  "payload_base64", "deadline_ms", "request_id", "sleep_ms",
		  "expect", NULL };
	const char              *call     = get_string(step, "call");
	const char              *raw      = get_string(step, "payload_base64");
	const char              *rid      = get_string(step, "request_id");
	uint32_t                 deadline = 0;
	uint32_t                 sleep_ms = 0;
	json_object             *request  = NULL;
	json_object             *expect;
	method                  *m;
	outcome                  o;
	bool                     ok = true;

	if (!json_object_is_type(step, json_type_object) ||
	    !only_keys(step, keys, "step", why, whylen)) {
		if (!json_object_is_type(step, json_type_object)) {
			snprintf(why, whylen, "a step must be an object");
		}
		return (false);
	}
	json_object_object_get_ex(step, "request", &request);
	if (call == NULL ||
	    !json_object_object_get_ex(step, "expect", &expect) ||
	    !json_object_is_type(expect, json_type_object) ||
	    (raw != NULL && request != NULL)) {
		snprintf(why, whylen,
		    "a step needs call, expect, and at most one of request "
		    "and payload_base64");
		return (false);
	}
	if (!get_uint(step, "deadline_ms", &deadline, why, whylen) ||
	    !get_uint(step, "sleep_ms", &sleep_ms, why, whylen)) {
		return (false);
	}
	if (deadline == 0) {
		deadline = DEFAULT_DEADLINE_MS;
	}
	if (sleep_ms > 0) {
		struct timespec ts = { .tv_sec = sleep_ms / 1000,
			.tv_nsec = (long) (sleep_ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
	}
	m = method_find(call);
	memset(&o, 0, sizeof(o));
	if (raw != NULL) {
		raw_run(r, call, m, raw, deadline, rid, &o, why, whylen, &ok);
	} else if (m == NULL) {
		snprintf(why, whylen, "no typed call for %s", call);
		return (false);
	} else {
		typed_run(r, m, request, deadline, rid, &o, why, whylen, &ok);
	}
	ok = ok && step_check(expect, &o, why, whylen);
	outcome_fini(&o);
	return (ok);
}

/*
 * uncovered counts (and names on stderr) the methods that no step of the
 * file calls, reached or not.
 */
static size_t
uncovered(json_object *cases)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(cases); i++) {
		json_object *steps;
		if (!json_object_object_get_ex(
		        json_object_array_get_idx(cases, i), "steps",
		        &steps) ||
		    !json_object_is_type(steps, json_type_array)) {
			continue;
		}
		for (size_t j = 0; j < json_object_array_length(steps); j++) {
			const char *call = get_string(
			    json_object_array_get_idx(steps, j), "call");
			method *m = call != NULL ? method_find(call) : NULL;
			if (m != NULL) {
				m->used = true;
			}
		}
	}
	for (size_t i = 0; i < N_METHODS; i++) {
		if (!methods[i].used) {
			fprintf(stderr, "conformance: no step calls %s\n",
			    methods[i].call);
			n++;
		}
	}
	return (n);
}

/*
 * case_run runs one case's steps up to the first that fails, and prints
 * its line. It returns whether the case passed; *steps counts the steps
 * run.
 */
static bool
case_run(runner *r, json_object *c, size_t *steps_run)
{
	static const char *const keys[] = { "name", "steps", NULL };
	json_object             *steps;
	const char              *name = NULL;
	char                     why[WHY_MAX];

	why[0] = '\0';
	if (json_object_is_type(c, json_type_object)) {
		name = get_string(c, "name");
	}
	if (name == NULL || !json_object_object_get_ex(c, "steps", &steps) ||
	    !json_object_is_type(steps, json_type_array) ||
	    !only_keys(c, keys, "case", why, sizeof(why))) {
		printf("FAIL %s: step 0: %s\n",
		    name != NULL ? name : "(unnamed)",
		    why[0] != '\0' ? why : "a case needs name and steps");
		return (false);
	}
	/* The steps after a failed one build on it: they are not run. */
	for (size_t j = 0; j < json_object_array_length(steps); j++) {
		(*steps_run)++;
		if (!step_run(r, json_object_array_get_idx(steps, j), why,
		        sizeof(why))) {
			printf("FAIL %s: step %zu: %s\n", name, j + 1, why);
			return (false);
		}
	}
	printf("ok %s\n", name);
	return (true);
}

int
main(int argc, char **argv)
{
	json_object *doc;
	json_object *cases;
	runner       r;
	size_t       n_steps = 0;
	size_t       n_failed;

	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTORS.json\n", argv[0]);
		return (2);
	}
	if (methods_init() != 0) {
		return (1);
	}
	if ((doc = json_object_from_file(argv[1])) == NULL ||
	    !json_object_object_get_ex(doc, "cases", &cases) ||
	    !json_object_is_type(cases, json_type_array)) {
		fprintf(stderr, "conformance: %s: %s\n", argv[1],
		    doc == NULL ? json_util_get_last_err()
		                : "no \"cases\" list");
		json_object_put(doc);
		return (1);
	}
	memset(&r, 0, sizeof(r));
	r.url = getenv("CACHEBROKER_URL");
	if (r.url == NULL || *r.url == '\0' ||
	    cb_client_open(&r.client, r.url, NULL) != CB_OK) {
		fprintf(stderr,
		    "conformance: no client of CACHEBROKER_URL "
		    "(%s)\n",
		    r.url != NULL ? r.url : "not set");
		json_object_put(doc);
		return (1);
	}

	/* A method no vector calls is one the clients may disagree on:
	 * counted as a failure, so that the summary and the exit status
	 * agree. */
	n_failed = uncovered(cases);
	for (size_t i = 0; i < json_object_array_length(cases); i++) {
		if (!case_run(
		        &r, json_object_array_get_idx(cases, i), &n_steps)) {
			n_failed++;
		}
		fflush(stdout);
	}
	printf("conformance (" LANG "): %zu cases, %zu steps, %zu failed\n",
	    json_object_array_length(cases), n_steps, n_failed);

	cb_client_close(r.client);
	if (r.raw_open) {
		nng_close(r.raw);
	}
	json_object_put(doc);
	return (n_failed == 0 ? 0 : 1);
}

/* SPDX-License-Identifier: MIT */
/* The method table: full names, request types, checks and handlers. */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "wire.h"

const cbd_method cbd_methods[CBD_METHOD_COUNT] = {
#define CBD_METHOD_ROW(id, svc, meth, desc, mut, check, run, front)          \
	[CBD_M_##id] = { CBD_M_##id, CB_METHOD_PREFIX svc "/" meth, &(desc), \
		mut, check, run, front },
	CBD_METHODS(CBD_METHOD_ROW)
#undef CBD_METHOD_ROW
};

const cbd_method *
cbd_router_lookup(const char *name)
{
	/* Twenty names: a linear scan is as fast as a hash here. */
	for (int i = 0; i < CBD_METHOD_COUNT; i++) {
		if (strcmp(cbd_methods[i].name, name) == 0) {
			return &cbd_methods[i];
		}
	}
	return NULL;
}

const char *
cbd_router_name(int id)
{
	if (id < 0 || id >= CBD_METHOD_COUNT) {
		return "unknown";
	}
	return cbd_methods[id].name;
}

cb_status
cbd_router_decode(const cbd_limits *lim, const cbd_config *cfg,
    const void *buf, size_t len, Cachebroker__V1__Request **envp,
    const cbd_method **method, ProtobufCMessage **inp, char *why,
    size_t whylen)
{
	Cachebroker__V1__Request *env = NULL;
	const cbd_method         *m;
	ProtobufCMessage         *in = NULL;
	char                      name[80];
	cb_status                 rv;

	if (len > lim->max_message_size) {
		snprintf(why, whylen, "request is %zu bytes, the limit is %zu",
		    len, lim->max_message_size);
		return CB_RESOURCE_EXHAUSTED;
	}
	if ((rv = cbd_envelope_decode(buf, len, &env, why, whylen)) != CB_OK) {
		return rv;
	}
	if ((m = cbd_router_lookup(env->method)) == NULL) {
		cbd_envelope_method_printable(name, sizeof(name), env->method);
		snprintf(why, whylen, "unknown method '%s'", name);
		rv = CB_UNIMPLEMENTED;
		goto fail;
	}
	*method = m;
	in      = protobuf_c_message_unpack(
	         m->in, NULL, env->payload.len, env->payload.data);
	if (in == NULL) {
		snprintf(
		    why, whylen, "payload is not a %s message", m->in->name);
		rv = CB_INVALID_ARGUMENT;
		goto fail;
	}
	/* Every string of the payload, before any check reads one. */
	if ((rv = cbd_wire_check(m->in, env->payload.data, env->payload.len,
	         "payload", why, whylen)) != CB_OK) {
		goto fail;
	}
	if ((rv = m->check(lim, cfg, in, why, whylen)) != CB_OK) {
		goto fail;
	}
	*envp = env;
	*inp  = in;
	return CB_OK;
fail:
	if (in != NULL) {
		protobuf_c_message_free_unpacked(in, NULL);
	}
	cbd_envelope_free(env);
	return rv;
}

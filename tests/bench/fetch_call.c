/* SPDX-License-Identifier: MIT */
/* One Fetch through libcachebroker: request, call, check of the answer. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cachebroker/cachebroker.h>

#include "fetch.h"

void
fb_request_init(Cachebroker__V1__FetchRequest *req, fb_params *p,
    const fb_opts *o, int64_t value)
{
	cachebroker__v1__fetch_request__init(req);
	cachebroker__v1__fetch_request__params_entry__init(&p->entry);
	(void) snprintf(p->num, sizeof(p->num), "%" PRId64, value);
	p->entry.key   = (char *) o->param;
	p->entry.value = p->num;
	p->list[0]     = &p->entry;
	req->resource  = (char *) o->resource;
	req->n_params  = 1;
	req->params    = p->list;
}

int
fb_check(const Cachebroker__V1__FetchResponse *resp, int *source, char *err,
    size_t errlen)
{
	if (resp == NULL) {
		(void) snprintf(err, errlen, "no FetchResponse");
		return (-1);
	}
	*source = (int) resp->source;
	/* Both resources answer JSON text: an object or an array. */
	if (resp->value.len < 2 ||
	    (resp->value.data[0] != '{' && resp->value.data[0] != '[')) {
		(void) snprintf(err, errlen,
		    "%s: value of %zu bytes is not JSON text", resp->key,
		    resp->value.len);
		return (-1);
	}
	return (0);
}

int
fb_fetch(cb_client *c, const fb_opts *o, int64_t value, int *source,
    size_t *len, char *err, size_t errlen)
{
	Cachebroker__V1__FetchRequest   req;
	Cachebroker__V1__FetchResponse *resp = NULL;
	fb_params                       p;
	cb_result                       res;
	cb_status                       rc;
	int                             rv;

	memset(&res, 0, sizeof(res));
	fb_request_init(&req, &p, o, value);
	rc = cb_cache_fetch(c, &req, &resp, NULL, &res);
	if (rc != CB_OK) {
		(void) snprintf(err, errlen, "%s %s=%s: %s: %s", o->resource,
		    o->param, p.num, cb_status_str((int) rc), res.message);
		return (-1);
	}
	rv   = fb_check(resp, source, err, errlen);
	*len = resp->value.len;
	cb_message_free(resp);
	return (rv);
}

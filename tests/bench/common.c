/* SPDX-License-Identifier: MIT */
/* Helpers of every benchmark program: option numbers, the client, keys. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cachebroker/cachebroker.h>

#include "bench.h"

double
bench_parse_num(const char *what, const char *s, double min, double max)
{
	char  *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "%s: bad %s: %s\n",
		    program_invocation_short_name, what, s);
		exit(1);
	}
	return (v);
}

int
bench_client_open(cb_client **out, const char *url, uint32_t timeout_ms)
{
	Cachebroker__V1__HealthRequest hreq =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__HealthResponse *hresp = NULL;
	cb_client_opts                   copts;
	cb_client                       *c;
	cb_result                        res;
	cb_status                        rc;

	memset(&copts, 0, sizeof(copts));
	memset(&res, 0, sizeof(res));
	copts.timeout_ms = timeout_ms;
	if ((rc = cb_client_open(&c, url, &copts)) != CB_OK) {
		fprintf(stderr, "%s: cb_client_open %s: %s\n",
		    program_invocation_short_name, url,
		    cb_status_str((int) rc));
		return (-1);
	}
	if ((rc = cb_admin_health(c, &hreq, &hresp, NULL, &res)) != CB_OK) {
		fprintf(stderr, "%s: Health %s: %s: %s\n",
		    program_invocation_short_name, url,
		    cb_status_str((int) rc), res.message);
		cb_client_close(c);
		return (-1);
	}
	cb_message_free(hresp);
	*out = c;
	return (0);
}

int
bench_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	char       *end;
	long        p;

	if (colon == NULL || colon == s || (size_t) (colon - s) >= hostlen) {
		return (-1);
	}
	p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || p <= 0 || p > 65535) {
		return (-1);
	}
	memcpy(host, s, (size_t) (colon - s));
	host[colon - s] = '\0';
	*port           = (int) p;
	return (0);
}

uint64_t
bench_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31));
}

int
bench_set_many(cb_client *c, const char *ns, const char *prefix, int64_t first,
    int64_t n, size_t value_size, int64_t ttl_ms, uint32_t batch, char *err,
    size_t errlen)
{
	Cachebroker__V1__SetManyRequest req =
	    CACHEBROKER__V1__SET_MANY_REQUEST__INIT;
	Cachebroker__V1__SetManyEntry  *e;
	Cachebroker__V1__SetManyEntry **ep;
	char(*keys)[BENCH_ID_MAX];
	uint8_t *val;
	int      rv = -1;

	e    = calloc(batch, sizeof(*e));
	keys = calloc(batch, sizeof(*keys));
	val  = malloc(value_size + 1);
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointer array */
	ep = calloc(batch, sizeof(*ep));
	if (e == NULL || ep == NULL || keys == NULL || val == NULL) {
		(void) snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < value_size; i++) {
		val[i] = (uint8_t) ('a' + i % 26);
	}
	req.namespace_ = (char *) ns;
	req.entries    = ep;
	for (int64_t i = 0; i < n; i += batch) {
		Cachebroker__V1__SetManyResponse *resp = NULL;
		cb_result                         res;
		int64_t m = n - i < (int64_t) batch ? n - i : (int64_t) batch;
		cb_status st;

		for (int64_t j = 0; j < m; j++) {
			cachebroker__v1__set_many_entry__init(&e[j]);
			(void) snprintf(keys[j], sizeof(keys[j]), "%s%" PRId64,
			    prefix, first + i + j);
			e[j].key        = keys[j];
			e[j].value.data = val;
			e[j].value.len  = value_size;
			e[j].ttl_ms     = ttl_ms;
			ep[j]           = &e[j];
		}
		req.n_entries = (size_t) m;
		memset(&res, 0, sizeof(res));
		st = cb_cache_set_many(c, &req, &resp, NULL, &res);
		if (st != CB_OK || resp->stored != (uint32_t) m) {
			(void) snprintf(err, errlen, "SetMany %s: %s: %s", ns,
			    cb_status_str((int) st),
			    st == CB_OK ? "not every entry stored"
			                : res.message);
			cb_message_free(resp);
			goto out;
		}
		cb_message_free(resp);
	}
	rv = 0;
out:
	free(e);
	free(ep);
	free(keys);
	free(val);
	return (rv);
}

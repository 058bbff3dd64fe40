/* SPDX-License-Identifier: MIT */
/* Helpers of every benchmark program: option numbers, the client. */
#include <errno.h>
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

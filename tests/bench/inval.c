/* SPDX-License-Identifier: MIT */
/* cb_inval_bench: the warming and invalidation benchmark's load generator. */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cachebroker/cachebroker.h>

#include "bench.h"
#include "inval.h"

/*
 *   cb_inval_bench warm    --url URL --strategy NAME [--expect N]
 *   cb_inval_bench lag     --url URL --redis HOST:PORT --pg CONNINFO
 *       --sql UPDATE --resource R --param P --key-prefix PREFIX
 *       --first N --keys N
 *   cb_inval_bench pattern --url URL --redis HOST:PORT --namespace NS
 *       --keep NS --keys N [--value-size N] [--batch N] [--idle S]
 *       [--ping-gap-us N]
 *   common: [--timeout MS] [--label NAME] [--pid NAME=PID]...
 *
 * Each prints one line of name=value pairs and exits 0 when every step
 * succeeded, 2 when some failed (the first failure on stderr), 1 when the
 * run could not start.
 */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: cb_inval_bench warm --url URL --strategy NAME "
	    "[--expect N]\n"
	    "       cb_inval_bench lag --url URL --redis HOST:PORT "
	    "--pg CONNINFO --sql UPDATE\n"
	    "           --resource R --param P --key-prefix PREFIX "
	    "--first N --keys N\n"
	    "       cb_inval_bench pattern --url URL --redis HOST:PORT "
	    "--namespace NS --keep NS\n"
	    "           --keys N [--value-size N] [--batch N] [--idle S] "
	    "[--ping-gap-us N]\n"
	    "  common: [--timeout MS] [--label NAME] [--pid NAME=PID]...\n");
}

enum {
	OPT_URL = 256,
	OPT_LABEL,
	OPT_TIMEOUT,
	OPT_STRATEGY,
	OPT_EXPECT,
	OPT_REDIS,
	OPT_PG,
	OPT_SQL,
	OPT_RESOURCE,
	OPT_PARAM,
	OPT_KEY_PREFIX,
	OPT_FIRST,
	OPT_KEYS,
	OPT_NS,
	OPT_KEEP,
	OPT_VALUE_SIZE,
	OPT_BATCH,
	OPT_IDLE,
	OPT_PING_GAP,
	OPT_PID,
};

static const struct option long_opts[] = {
	{ "url", required_argument, NULL, OPT_URL },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "strategy", required_argument, NULL, OPT_STRATEGY },
	{ "expect", required_argument, NULL, OPT_EXPECT },
	{ "redis", required_argument, NULL, OPT_REDIS },
	{ "pg", required_argument, NULL, OPT_PG },
	{ "sql", required_argument, NULL, OPT_SQL },
	{ "resource", required_argument, NULL, OPT_RESOURCE },
	{ "param", required_argument, NULL, OPT_PARAM },
	{ "key-prefix", required_argument, NULL, OPT_KEY_PREFIX },
	{ "first", required_argument, NULL, OPT_FIRST },
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "namespace", required_argument, NULL, OPT_NS },
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "value-size", required_argument, NULL, OPT_VALUE_SIZE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "idle", required_argument, NULL, OPT_IDLE },
	{ "ping-gap-us", required_argument, NULL, OPT_PING_GAP },
	{ "pid", required_argument, NULL, OPT_PID },
	{ NULL, 0, NULL, 0 },
};

/* parse_opt sets the field of o that option c names to arg; it returns
 * -1 for an option it does not know. */
static int
parse_opt(ib_opts *o, int c, char *arg)
{
	char *eq;

	switch (c) {
	case OPT_URL:
		o->url = arg;
		return (0);
	case OPT_LABEL:
		o->label = arg;
		return (0);
	case OPT_TIMEOUT:
		o->timeout_ms =
		    (uint32_t) bench_parse_num("timeout", arg, 1, 3600000);
		return (0);
	case OPT_STRATEGY:
		o->strategy = arg;
		return (0);
	case OPT_EXPECT:
		o->expect = (int64_t) bench_parse_num("expect", arg, 0, 1e9);
		return (0);
	case OPT_REDIS:
		o->redis = arg;
		return (0);
	case OPT_PG:
		o->pg = arg;
		return (0);
	case OPT_SQL:
		o->sql = arg;
		return (0);
	case OPT_RESOURCE:
		o->resource = arg;
		return (0);
	case OPT_PARAM:
		o->param = arg;
		return (0);
	case OPT_KEY_PREFIX:
		o->key_prefix = arg;
		return (0);
	case OPT_FIRST:
		o->first = (int64_t) bench_parse_num("first", arg, 0, 1e15);
		return (0);
	case OPT_KEYS:
		o->keys = (int64_t) bench_parse_num("keys", arg, 1, 1e8);
		return (0);
	case OPT_NS:
		o->ns = arg;
		return (0);
	case OPT_KEEP:
		o->keep = arg;
		return (0);
	case OPT_VALUE_SIZE:
		o->value_size =
		    (size_t) bench_parse_num("value size", arg, 1, 1 << 20);
		return (0);
	case OPT_BATCH:
		o->batch = (uint32_t) bench_parse_num("batch", arg, 1, 1e6);
		return (0);
	case OPT_IDLE:
		o->idle_s = bench_parse_num("idle", arg, 0.1, 600);
		return (0);
	case OPT_PING_GAP:
		o->ping_gap_us =
		    (uint32_t) bench_parse_num("ping gap", arg, 0, 999999);
		return (0);
	case OPT_PID:
		eq = strchr(arg, '=');
		if (eq == NULL || eq == arg || o->npids == IB_MAX_PIDS) {
			fprintf(
			    stderr, "cb_inval_bench: bad --pid: %s\n", arg);
			exit(1);
		}
		*eq                    = '\0';
		o->pid_names[o->npids] = arg;
		o->pids[o->npids++] =
		    (pid_t) bench_parse_num("pid", eq + 1, 1, 1 << 22);
		return (0);
	default:
		return (-1);
	}
}

/* parse_opts fills o from argv (after the command); exits on a bad one. */
static void
parse_opts(int argc, char **argv, ib_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->label       = "inval";
	o->timeout_ms  = 600000;
	o->value_size  = 100;
	o->batch       = 1000;
	o->idle_s      = 2;
	o->ping_gap_us = 100;
	optind         = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (parse_opt(o, c, optarg) != 0) {
			usage();
			exit(1);
		}
	}
	if (optind != argc || o->url == NULL) {
		usage();
		exit(1);
	}
}

int
ib_redis_open(const char *hostport, redisContext **out)
{
	struct timeval tv = { 10, 0 };
	redisContext  *rc;
	char           host[256];
	int            port;

	if (bench_parse_hostport(hostport, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "cb_inval_bench: bad --redis: %s\n", hostport);
		return (-1);
	}
	rc = redisConnectWithTimeout(host, port, tv);
	if (rc == NULL || rc->err != 0) {
		fprintf(stderr, "cb_inval_bench: redis %s: %s\n", hostport,
		    rc != NULL ? rc->errstr : "out of memory");
		if (rc != NULL) {
			redisFree(rc);
		}
		return (-1);
	}
	(void) redisSetTimeout(rc, tv);
	*out = rc;
	return (0);
}

redisReply *
ib_redis_cmd(redisContext *rc, char *err, size_t errlen, const char *fmt, ...)
{
	redisReply *r;
	va_list     ap;

	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (r == NULL) {
		(void) snprintf(err, errlen, "%s: %s", fmt, rc->errstr);
		return (NULL);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		(void) snprintf(err, errlen, "%s: %s", fmt, r->str);
		freeReplyObject(r);
		return (NULL);
	}
	return (r);
}

/* --- warm ------------------------------------------------------------ */

/*
 * cmd_warm: one WarmService/Warm of o->strategy. It must answer one
 * result without an error of its own, without failed rows and, with
 * --expect, with that many keys. The broker's duration_ms is its own
 * clock around the strategy (listing query included); wall_us is this
 * call's, from send to answer.
 */
static int
cmd_warm(const ib_opts *o)
{
	Cachebroker__V1__WarmRequest req = CACHEBROKER__V1__WARM_REQUEST__INIT;
	Cachebroker__V1__WarmResponse *resp = NULL;
	Cachebroker__V1__WarmResult   *r    = NULL;
	cb_callopts                    co   = { .timeout_ms = o->timeout_ms };
	char                          *names[] = { (char *) o->strategy };
	char                           why[IB_ERR_MAX] = "";
	cb_client                     *c;
	cb_result                      res;
	cb_status                      rc;
	uint64_t                       t0;
	double                         wall_s;

	if (o->strategy == NULL) {
		fprintf(stderr, "cb_inval_bench: --strategy is required\n");
		return (1);
	}
	if (bench_client_open(&c, o->url, o->timeout_ms) != 0) {
		return (1);
	}
	memset(&res, 0, sizeof(res));
	req.strategies   = names;
	req.n_strategies = 1;
	t0               = bench_now_ns();
	rc               = cb_warm_warm(c, &req, &resp, &co, &res);
	wall_s           = (double) (bench_now_ns() - t0) / 1e9;
	if (rc != CB_OK) {
		(void) snprintf(why, sizeof(why), "Warm %s: %s: %s",
		    o->strategy, cb_status_str((int) rc), res.message);
	} else if (resp->n_results != 1) {
		(void) snprintf(why, sizeof(why), "Warm %s: %zu results",
		    o->strategy, resp->n_results);
	} else {
		r = resp->results[0];
		if (r->error[0] != '\0' || r->errors > 0) {
			(void) snprintf(why, sizeof(why),
			    "Warm %s: %" PRIu64 " rows failed: %s",
			    o->strategy, r->errors, r->error);
		} else if (o->expect > 0 && r->keys != (uint64_t) o->expect) {
			(void) snprintf(why, sizeof(why),
			    "Warm %s: %" PRIu64 " keys, not %" PRId64,
			    o->strategy, r->keys, o->expect);
		}
	}
	printf("row=%s strategy=%s errors=%d wall_us=%.1f", o->label,
	    o->strategy, why[0] != '\0', wall_s * 1e6);
	if (r != NULL) {
		printf(" keys=%" PRIu64 " not_found=%" PRIu64
		       " row_errors=%" PRIu64 " duration_ms=%" PRIu64
		       " keys_per_s=%.1f",
		    r->keys, r->not_found, r->errors, r->duration_ms,
		    (double) r->keys / wall_s);
	}
	printf("\n");
	(void) fflush(stdout);
	cb_message_free(resp);
	cb_client_close(c);
	if (why[0] != '\0') {
		fprintf(
		    stderr, "cb_inval_bench: *** %s: %s ***\n", o->label, why);
		return (2);
	}
	return (0);
}

/* require exits with the usage when a needed option is missing. */
static void
require(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "cb_inval_bench: %s is required\n", what);
		usage();
		exit(1);
	}
}

static int
cmd_lag(const ib_opts *o)
{
	require(o->redis != NULL && o->pg != NULL && o->sql != NULL,
	    "--redis, --pg and --sql");
	require(o->resource != NULL && o->param != NULL &&
	        o->key_prefix != NULL && o->keys > 0,
	    "--resource, --param, --key-prefix and --keys");
	return (ib_lag_run(o));
}

static int
cmd_pattern(const ib_opts *o)
{
	require(o->redis != NULL && o->ns != NULL && o->keep != NULL &&
	        o->keys > 0,
	    "--redis, --namespace, --keep and --keys");
	return (ib_pattern_run(o));
}

static const struct {
	const char *name;
	int (*run)(const ib_opts *o);
} commands[] = {
	{ "warm", cmd_warm },
	{ "lag", cmd_lag },
	{ "pattern", cmd_pattern },
};

int
main(int argc, char **argv)
{
	ib_opts o;

	for (size_t i = 0;
	     argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			parse_opts(argc - 1, argv + 1, &o);
			return (commands[i].run(&o));
		}
	}
	usage();
	return (1);
}

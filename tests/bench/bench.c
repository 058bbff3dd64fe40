/* SPDX-License-Identifier: MIT */
/* cb_bench: echo server, load generator and helpers of tests/bench/run.sh. */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cachebroker/cachebroker.h>

#include "bench.h"

/*
 *   cb_bench echo-server URL CONTEXTS
 *   cb_bench load --url URL --mode echo|get [--engine threads|aio]
 *       [--concurrency C] [--duration S] [--warmup S] [--value-size N]
 *       [--namespace NS] [--key KEY] [--timeout MS] [--pid NAME=PID]...
 *   cb_bench preset --url URL [--namespace NS] [--key KEY] [--value-size N]
 *   cb_bench wait-ready --url URL [--timeout MS]
 *   cb_bench free-port
 *
 * load prints one line of name=value pairs; see bench_load_run.
 */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: cb_bench echo-server URL CONTEXTS\n"
	    "       cb_bench load --url URL --mode echo|get "
	    "[--engine threads|aio]\n"
	    "           [--concurrency C] [--duration S] [--warmup S] "
	    "[--value-size N]\n"
	    "           [--namespace NS] [--key KEY] [--timeout MS] "
	    "[--pid NAME=PID]...\n"
	    "       cb_bench preset --url URL [--namespace NS] [--key KEY] "
	    "[--value-size N]\n"
	    "       cb_bench wait-ready --url URL [--timeout MS]\n"
	    "       cb_bench free-port\n");
}

enum {
	OPT_URL = 256,
	OPT_MODE,
	OPT_ENGINE,
	OPT_CONC,
	OPT_DURATION,
	OPT_WARMUP,
	OPT_VALUE_SIZE,
	OPT_NS,
	OPT_KEY,
	OPT_TIMEOUT,
	OPT_PID,
};

static const struct option long_opts[] = {
	{ "url", required_argument, NULL, OPT_URL },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "concurrency", required_argument, NULL, OPT_CONC },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "value-size", required_argument, NULL, OPT_VALUE_SIZE },
	{ "namespace", required_argument, NULL, OPT_NS },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "pid", required_argument, NULL, OPT_PID },
	{ NULL, 0, NULL, 0 },
};

/* parse_opts fills o from argv (after the command); exits on a bad one. */
static void
parse_opts(int argc, char **argv, bench_load_opts *o)
{
	char *eq;
	int   c;

	memset(o, 0, sizeof(*o));
	o->mode        = BENCH_MODE_ECHO;
	o->engine      = BENCH_ENGINE_THREADS;
	o->concurrency = 1;
	o->duration_s  = 5;
	o->warmup_s    = 1;
	o->value_size  = 100;
	o->ns          = "bench";
	o->key         = "hit";
	o->timeout_ms  = 5000;
	optind         = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "echo") == 0) {
				o->mode = BENCH_MODE_ECHO;
			} else if (strcmp(optarg, "get") == 0) {
				o->mode = BENCH_MODE_GET;
			} else {
				fprintf(stderr, "cb_bench: bad mode: %s\n",
				    optarg);
				exit(1);
			}
			break;
		case OPT_ENGINE:
			if (strcmp(optarg, "threads") == 0) {
				o->engine = BENCH_ENGINE_THREADS;
			} else if (strcmp(optarg, "aio") == 0) {
				o->engine = BENCH_ENGINE_AIO;
			} else {
				fprintf(stderr, "cb_bench: bad engine: %s\n",
				    optarg);
				exit(1);
			}
			break;
		case OPT_CONC:
			o->concurrency = (int) bench_parse_num(
			    "concurrency", optarg, 1, 4096);
			break;
		case OPT_DURATION:
			o->duration_s =
			    bench_parse_num("duration", optarg, 0.1, 3600);
			break;
		case OPT_WARMUP:
			o->warmup_s =
			    bench_parse_num("warmup", optarg, 0, 3600);
			break;
		case OPT_VALUE_SIZE:
			o->value_size = (size_t) bench_parse_num(
			    "value size", optarg, 0, 1 << 20);
			break;
		case OPT_NS:
			o->ns = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_TIMEOUT:
			o->timeout_ms = (uint32_t) bench_parse_num(
			    "timeout", optarg, 1, 600000);
			break;
		case OPT_PID:
			eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg ||
			    o->npids == BENCH_MAX_PIDS) {
				fprintf(stderr, "cb_bench: bad --pid: %s\n",
				    optarg);
				exit(1);
			}
			*eq                    = '\0';
			o->pid_names[o->npids] = optarg;
			o->pids[o->npids++] =
			    (pid_t) bench_parse_num("pid", eq + 1, 1, 1 << 22);
			break;
		default:
			usage();
			exit(1);
		}
	}
	if (optind != argc || o->url == NULL) {
		usage();
		exit(1);
	}
}

/* cmd_preset stores the benchmark's key through the broker and reads it
 * back, so that every Get of the run is a hit. */
static int
cmd_preset(const bench_load_opts *o)
{
	Cachebroker__V1__SetRequest   set = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__GetRequest   get = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__SetResponse *sres = NULL;
	Cachebroker__V1__GetResponse *gres = NULL;
	cb_client_opts                copts;
	cb_client                    *c = NULL;
	cb_result                     res;
	uint8_t                      *val = NULL;
	cb_status                     rc;
	int                           code = 1;

	memset(&copts, 0, sizeof(copts));
	memset(&res, 0, sizeof(res));
	copts.timeout_ms = o->timeout_ms;
	if ((val = malloc(o->value_size + 1)) == NULL) {
		fprintf(stderr, "cb_bench: out of memory\n");
		return (1);
	}
	for (size_t i = 0; i < o->value_size; i++) {
		val[i] = (uint8_t) ('a' + i % 26);
	}
	if ((rc = cb_client_open(&c, o->url, &copts)) != CB_OK) {
		fprintf(stderr, "cb_bench: cb_client_open %s: %s\n", o->url,
		    cb_status_str((int) rc));
		goto out;
	}
	set.namespace_ = (char *) o->ns;
	set.key        = (char *) o->key;
	set.value.data = val;
	set.value.len  = o->value_size;
	set.ttl_ms     = 0;
	set.condition  = CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS;
	if ((rc = cb_cache_set(c, &set, &sres, NULL, &res)) != CB_OK) {
		fprintf(stderr, "cb_bench: Set %s/%s: %s: %s\n", o->ns, o->key,
		    cb_status_str((int) rc), res.message);
		goto out;
	}
	if (!sres->stored) {
		fprintf(stderr, "cb_bench: Set %s/%s: not stored\n", o->ns,
		    o->key);
		goto out;
	}
	get.namespace_ = (char *) o->ns;
	get.key        = (char *) o->key;
	if ((rc = cb_cache_get(c, &get, &gres, NULL, &res)) != CB_OK) {
		fprintf(stderr, "cb_bench: Get %s/%s: %s: %s\n", o->ns, o->key,
		    cb_status_str((int) rc), res.message);
		goto out;
	}
	if (!gres->found || gres->value.len != o->value_size ||
	    memcmp(gres->value.data, val, o->value_size) != 0) {
		fprintf(stderr,
		    "cb_bench: Get %s/%s does not return the "
		    "value just set\n",
		    o->ns, o->key);
		goto out;
	}
	printf("preset %s/%s: %zu bytes\n", o->ns, o->key, o->value_size);
	code = 0;
out:
	cb_message_free(sres);
	cb_message_free(gres);
	cb_client_close(c);
	free(val);
	return (code);
}

/* cmd_wait_ready polls AdminService/Health until the broker answers OK or
 * timeout_s passes (--timeout is in ms, as for load). */
static int
cmd_wait_ready(const char *url, double timeout_s)
{
	Cachebroker__V1__HealthRequest req =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__HealthResponse *resp = NULL;
	cb_client_opts                   copts;
	cb_callopts                      call;
	cb_client                       *c = NULL;
	cb_result                        res;
	cb_status                        rc;
	uint64_t                         until;
	struct timespec                  pause = { 0, 100000000L }; /* 0.1 s */

	memset(&copts, 0, sizeof(copts));
	memset(&call, 0, sizeof(call));
	memset(&res, 0, sizeof(res));
	call.timeout_ms = 500;
	until           = bench_now_ns() + (uint64_t) (timeout_s * 1e9);
	if ((rc = cb_client_open(&c, url, &copts)) != CB_OK) {
		fprintf(stderr, "cb_bench: cb_client_open %s: %s\n", url,
		    cb_status_str((int) rc));
		return (1);
	}
	for (;;) {
		rc = cb_admin_health(c, &req, &resp, &call, &res);
		if (rc == CB_OK) {
			printf("ready: status %d, redis %s\n",
			    (int) resp->status,
			    resp->redis != NULL && resp->redis->connected
			        ? "connected"
			        : "not connected");
			cb_message_free(resp);
			cb_client_close(c);
			return (0);
		}
		if (bench_now_ns() >= until) {
			break;
		}
		(void) nanosleep(&pause, NULL);
	}
	fprintf(stderr, "cb_bench: %s not ready after %.0f s: %s: %s\n", url,
	    timeout_s, cb_status_str((int) rc), res.message);
	cb_client_close(c);
	return (1);
}

/* cmd_free_port prints a TCP port free on 127.0.0.1 right now. */
static int
cmd_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t          len = sizeof(sa);
	int                fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		perror("cb_bench: socket");
		return (1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *) &sa, &len) != 0) {
		perror("cb_bench: bind");
		(void) close(fd);
		return (1);
	}
	printf("%d\n", (int) ntohs(sa.sin_port));
	(void) close(fd);
	return (0);
}

int
main(int argc, char **argv)
{
	bench_load_opts o;
	const char     *cmd;

	if (argc < 2) {
		usage();
		return (1);
	}
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "echo-server") == 0) {
		if (argc != 3) {
			usage();
			return (1);
		}
		return (bench_echo_serve(argv[1],
		    (int) bench_parse_num("contexts", argv[2], 1, 65536)));
	}
	if (strcmp(cmd, "free-port") == 0) {
		return (cmd_free_port());
	}
	if (strcmp(cmd, "load") == 0) {
		parse_opts(argc, argv, &o);
		return (bench_load_run(&o));
	}
	if (strcmp(cmd, "preset") == 0) {
		parse_opts(argc, argv, &o);
		return (cmd_preset(&o));
	}
	if (strcmp(cmd, "wait-ready") == 0) {
		parse_opts(argc, argv, &o);
		return (cmd_wait_ready(o.url, o.timeout_ms / 1000.0));
	}
	usage();
	return (1);
}

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
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench.h"

/*
 *   cb_bench echo-server URL CONTEXTS
 *   cb_bench raw-echo-server URL
 *   cb_bench load --url URL --mode echo|get|revoked|ratelimit|getmany
 *       [--engine threads|aio] [--concurrency C] [--duration S]
 *       [--warmup S] [--value-size N] [--namespace NS] [--key KEY]
 *       [--keys N] [--zipf S] [--users N] [--revoked-every N] [--limit N]
 *       [--window MS] [--timeout MS] [--pid NAME=PID]...
 *   cb_bench preset --url URL [--mode get|revoked|getmany] [--namespace NS]
 *       [--key KEY] [--keys N] [--users N] [--revoked-every N]
 *       [--value-size N]
 *   cb_bench wait-ready --url URL [--timeout MS]
 *   cb_bench idle URL CLIENTS SECONDS
 *   cb_bench free-port
 *
 * load prints one line of name=value pairs; see bench_load_run.
 */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: cb_bench echo-server URL CONTEXTS\n"
	    "       cb_bench raw-echo-server URL\n"
	    "       cb_bench load --url URL "
	    "--mode echo|get|revoked|ratelimit|getmany\n"
	    "           [--engine threads|aio] [--concurrency C] "
	    "[--duration S]\n"
	    "           [--warmup S] [--value-size N] [--namespace NS] "
	    "[--key KEY]\n"
	    "           [--keys N] [--zipf S] [--users N] [--revoked-every N] "
	    "[--limit N]\n"
	    "           [--window MS] [--timeout MS] [--pid NAME=PID]...\n"
	    "       cb_bench preset --url URL [--mode get|revoked|getmany] "
	    "[--namespace NS]\n"
	    "           [--key KEY] [--keys N] [--users N] "
	    "[--revoked-every N]\n"
	    "           [--value-size N]\n"
	    "       cb_bench wait-ready --url URL [--timeout MS]\n"
	    "       cb_bench idle URL CLIENTS SECONDS\n"
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
	OPT_KEYS,
	OPT_ZIPF,
	OPT_USERS,
	OPT_REVOKED_EVERY,
	OPT_LIMIT,
	OPT_WINDOW,
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
	{ "keys", required_argument, NULL, OPT_KEYS },
	{ "zipf", required_argument, NULL, OPT_ZIPF },
	{ "users", required_argument, NULL, OPT_USERS },
	{ "revoked-every", required_argument, NULL, OPT_REVOKED_EVERY },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "pid", required_argument, NULL, OPT_PID },
	{ NULL, 0, NULL, 0 },
};

/* parse_mode reads --mode; exits on a bad one. */
static bench_mode
parse_mode(const char *s)
{
	for (int m = BENCH_MODE_ECHO; m <= BENCH_MODE_GETMANY; m++) {
		if (strcmp(s, bench_kinds[m].name) == 0) {
			return ((bench_mode) m);
		}
	}
	fprintf(stderr, "cb_bench: bad mode: %s\n", s);
	exit(1);
}

/* parse_opts fills o from argv (after the command), mode unless --mode
 * says otherwise; exits on a bad one. */
static void
parse_opts(int argc, char **argv, bench_load_opts *o, bench_mode mode)
{
	char *eq;
	int   c;

	memset(o, 0, sizeof(*o));
	o->mode        = mode;
	o->engine      = BENCH_ENGINE_THREADS;
	o->concurrency = 1;
	o->duration_s  = 5;
	o->warmup_s    = 1;
	o->value_size  = 100;
	o->ns          = "bench";
	o->key         = "hit";
	o->keys        = 1;
	o->users       = 1;
	o->every       = 100;
	o->limit       = 1000;
	o->timeout_ms  = 5000;
	o->now_s       = (int64_t) time(NULL);
	optind         = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_MODE:
			o->mode = parse_mode(optarg);
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
		case OPT_KEYS:
			o->keys = (uint32_t) bench_parse_num(
			    "keys", optarg, 1, 1 << 24);
			break;
		case OPT_ZIPF:
			o->zipf = bench_parse_num("zipf", optarg, 0, 10);
			break;
		case OPT_USERS:
			o->users = (uint32_t) bench_parse_num(
			    "users", optarg, 1, 1 << 24);
			break;
		case OPT_REVOKED_EVERY:
			o->every = (uint32_t) bench_parse_num(
			    "revoked-every", optarg, 0, 1 << 24);
			break;
		case OPT_LIMIT:
			o->limit = (uint32_t) bench_parse_num(
			    "limit", optarg, 1, 4294967295.0);
			break;
		case OPT_WINDOW:
			o->window_ms = (int64_t) bench_parse_num(
			    "window", optarg, 0, 366 * 86400000.0);
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
	if (o->zipf > 0) {
		int64_t distinct;
		o->zipf_n = BENCH_ZIPF_N;
		if (o->keys < 2 ||
		    bench_zipf_alloc(&o->zipf_seq, (int64_t) o->zipf_n,
		        o->keys, o->zipf, 1, &distinct) != 0) {
			fprintf(stderr,
			    "cb_bench: --zipf needs --keys 2 or more "
			    "(and memory)\n");
			exit(1);
		}
	}
	if (o->mode == BENCH_MODE_GETMANY && o->keys < BENCH_MANY) {
		fprintf(stderr, "cb_bench: getmany needs --keys %d or more\n",
		    BENCH_MANY);
		exit(1);
	}
}

/*
 * cmd_idle opens n req0 sockets, each connected to url (one connection
 * each), says "idle: N connected" and holds them for seconds: the idle
 * clients of a memory measurement. Returns a process exit code.
 */
static int
cmd_idle(const char *url, int n, double seconds)
{
	nng_socket     *s = calloc((size_t) n, sizeof(*s));
	int             rv;
	int             up = 0;
	struct timespec t  = { (time_t) seconds,
		 (long) ((seconds - (double) (time_t) seconds) * 1e9) };

	if (s == NULL) {
		return (1);
	}
	for (; up < n; up++) {
		if ((rv = nng_req0_open(&s[up])) != 0 ||
		    (rv = nng_dial(s[up], url, NULL, 0)) != 0) {
			fprintf(stderr, "cb_bench: idle: client %d: %s\n", up,
			    nng_strerror(rv));
			break;
		}
	}
	if (up == n) {
		printf("idle: %d connected\n", n);
		fflush(stdout);
		nanosleep(&t, NULL);
	}
	for (int i = 0; i < up; i++) {
		nng_close(s[i]);
	}
	free(s);
	return (up == n ? 0 : 1);
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
	if (strcmp(cmd, "raw-echo-server") == 0) {
		if (argc != 2) {
			usage();
			return (1);
		}
		return (bench_raw_echo_serve(argv[1]));
	}
	if (strcmp(cmd, "free-port") == 0) {
		return (cmd_free_port());
	}
	if (strcmp(cmd, "load") == 0) {
		parse_opts(argc, argv, &o, BENCH_MODE_ECHO);
		return (bench_load_run(&o));
	}
	if (strcmp(cmd, "preset") == 0) {
		parse_opts(argc, argv, &o, BENCH_MODE_GET);
		return (bench_preset(&o));
	}
	if (strcmp(cmd, "idle") == 0) {
		if (argc != 4) {
			usage();
			return (1);
		}
		return (cmd_idle(argv[1],
		    (int) bench_parse_num("clients", argv[2], 1, 100000),
		    bench_parse_num("seconds", argv[3], 0, 86400)));
	}
	if (strcmp(cmd, "wait-ready") == 0) {
		parse_opts(argc, argv, &o, BENCH_MODE_ECHO);
		return (cmd_wait_ready(o.url, o.timeout_ms / 1000.0));
	}
	usage();
	return (1);
}

/* SPDX-License-Identifier: MIT */
/* cachebrokerd: command line and exit codes. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "server.h"

/* sysexits.h numbers, which systemd units can test for. */
#define EXIT_USAGE 64
#define EXIT_CONFIG 78

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cachebrokerd [-c FILE] [-t] [-l URL]... [--version]\n"
	    "  -c, --config FILE  configuration (default %s)\n"
	    "  -t, --test         check the configuration and exit "
	    "(0 good, 78 bad)\n"
	    "  -l, --listen URL   listen on URL instead of the configured "
	    "listeners (repeatable)\n"
	    "  -V, --version      print the version and exit\n"
	    "Environment: REDIS_HOST, REDIS_PORT, REDIS_PASSWORD override "
	    "the [redis] section.\n",
	    CBD_DEFAULT_CONFIG);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "listen", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CBD_DEFAULT_CONFIG;
	char       *listen[CBD_MAX_LISTENERS];
	size_t      n_listen = 0;
	int         test     = 0;
	int         c;
	int         code;
	cbd_config  cfg  = { 0 }; /* a failed load leaves it untouched */
	cbd_errors  errs = { 0 };
	cbd_server *srv;

	while ((c = getopt_long(argc, argv, "c:tl:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'l':
			if (n_listen == CBD_MAX_LISTENERS) {
				fprintf(stderr,
				    "cachebrokerd: at most %d -l\n",
				    CBD_MAX_LISTENERS);
				return EXIT_USAGE;
			}
			listen[n_listen++] = optarg;
			break;
		case 'V':
			printf("cachebrokerd %s\n", CBD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cbd_config_load(&cfg, path, &errs) != CB_OK ||
	    (n_listen > 0 &&
	        cbd_config_set_listeners(&cfg, listen, n_listen, &errs) !=
	            CB_OK) ||
	    cbd_config_check_tls(&cfg, &errs) != CB_OK ||
	    cbd_listener_tls_check(&cfg, &errs) != 0) {
		fputs(errs.text != NULL ? errs.text : "", stderr);
		fprintf(stderr, "cachebrokerd: %s: %d error%s\n", path,
		    errs.count, errs.count == 1 ? "" : "s");
		cbd_errors_fini(&errs);
		cbd_config_fini(&cfg);
		return EXIT_CONFIG;
	}
	if (test) {
		printf("cachebrokerd: %s: configuration is valid\n", path);
		cbd_config_fini(&cfg);
		return 0;
	}
	cbd_log_set_level(cfg.log_level);
	/* by-date TTLs compute "today" with localtime_r: the zone is set
	 * once, before any thread starts. */
	if (setenv("TZ", cfg.time_zone, 1) != 0) {
		cbd_config_fini(&cfg);
		return 1;
	}
	tzset();
	signal(SIGPIPE, SIG_IGN);
	if (cbd_server_open(&srv, &cfg) != CB_OK) {
		cbd_config_fini(&cfg);
		return 1;
	}
	code = cbd_server_run(srv);
	cbd_server_close(srv);
	return code;
}

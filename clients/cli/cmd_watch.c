/* SPDX-License-Identifier: MIT */
/* watch: print the broker's invalidation feed, one line per message. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* How often a waiting watch looks whether a signal asked it to stop. */
#define WATCH_POLL_MS 200

static volatile sig_atomic_t watch_stopped;

static void
watch_signal(int sig)
{
	(void) sig;
	watch_stopped = 1;
}

/* print_list writes " name=a,b,c", or nothing for an empty list. */
static void
print_list(const char *name, char *const *items, size_t n)
{
	if (n == 0) {
		return;
	}
	printf(" %s=", name);
	for (size_t i = 0; i < n; i++) {
		printf("%s%s", i > 0 ? "," : "", items[i]);
	}
}

static void
json_list(struct cli_json *j, const char *name, char *const *items, size_t n)
{
	cli_json_key(j, name);
	cli_json_begin_array(j);
	for (size_t i = 0; i < n; i++) {
		cli_json_string(j, items[i]);
	}
	cli_json_end_array(j);
}

/* print_invalidation writes one line: text, or a JSON object. */
static void
print_invalidation(
    const struct cli *cli, const Cachebroker__V1__Invalidation *inv)
{
	struct cli_json j;

	if (cli->json) {
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "namespace");
		cli_json_string(&j, inv->namespace_);
		json_list(&j, "keys", inv->keys, inv->n_keys);
		json_list(&j, "patterns", inv->patterns, inv->n_patterns);
		cli_json_key(&j, "keys_removed");
		cli_json_uint(&j, inv->keys_removed);
		cli_json_key(&j, "seq");
		cli_json_uint(&j, inv->seq);
		cli_json_key(&j, "broker_start_ms");
		cli_json_uint(&j, inv->broker_start_ms);
		cli_json_end(&j);
	} else {
		fputs(inv->namespace_, stdout);
		print_list("keys", inv->keys, inv->n_keys);
		print_list("patterns", inv->patterns, inv->n_patterns);
		printf(" removed=%" PRIu64 "\n", inv->keys_removed);
	}
	/* A line as soon as it happens, also into a pipe. */
	(void) fflush(stdout);
}

int
cli_cmd_watch(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__Invalidation *inv;
	struct sigaction               sa;
	cb_feed                       *f    = NULL;
	uint64_t                       seen = 0;
	const char                    *url;
	char                           msg[512];
	cb_status                      st;
	int                            rc = CLI_EXIT_OK;

	for (int i = 0; i < argc; i++) {
		if (argv[i][0] == '\0') {
			return cli_usage_error(
			    cli->synopsis, "empty namespace");
		}
	}
	/* No SA_RESTART: the flag is polled between short waits. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_signal;
	sigemptyset(&sa.sa_mask);
	(void) sigaction(SIGINT, &sa, NULL);
	(void) sigaction(SIGTERM, &sa, NULL);

	st = cb_feed_open_tls(&f, cli->feed_url, (const char *const *) argv,
	    (size_t) argc, &cli->tls);
	if (st != CB_OK) {
		url = cli->feed_url != NULL ? cli->feed_url
		                            : getenv("CACHEBROKER_FEED_URL");
		if (url == NULL || *url == '\0') {
			url = CB_DEFAULT_FEED_URL;
		}
		(void) snprintf(
		    msg, sizeof(msg), "cannot use feed URL '%s'", url);
		return cli_fail(st, msg);
	}
	while (!watch_stopped &&
	    !((cli->given & CLI_OPT_COUNT) && seen >= cli->count)) {
		st = cb_feed_recv(f, &inv, WATCH_POLL_MS);
		if (st == CB_DEADLINE_EXCEEDED) {
			continue;
		}
		if (st == CB_INVALID_ARGUMENT) {
			fputs(
			    "cachebroker: skipped a malformed feed message\n",
			    stderr);
			continue;
		}
		if (st != CB_OK) {
			rc = cli_fail(st, "the feed's socket failed");
			break;
		}
		print_invalidation(cli, inv);
		cb_message_free(inv);
		seen++;
	}
	cb_feed_close(f);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/* cachebroker: argv parsing, the command table and dispatch, exit codes. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef CB_VERSION_STRING
#define CB_VERSION_STRING "0.0.0"
#endif

#define ARGS_MANY (-1) /* no upper bound on a command's arguments */

struct command {
	const char *name;     /* as typed: one word, or two ("session get") */
	const char *synopsis; /* for --help and usage errors */
	int         min_args; /* arguments after the name */
	int         max_args; /* or ARGS_MANY */
	unsigned    opts;     /* CLI_OPT_* it accepts */
	cli_run_fn  run;      /* returns the exit code */
	const char *summary;  /* one line for --help */
};

static const struct command commands[] = {
	{ "get", "get NS KEY", 2, 2, 0, cli_cmd_get, "print a value" },
	{ "set", "set NS KEY VALUE [--ttl T] [--nx|--xx]", 3, 3,
	    CLI_OPT_TTL | CLI_OPT_NX | CLI_OPT_XX, cli_cmd_set,
	    "store a value" },
	{ "del", "del NS KEY...", 2, ARGS_MANY, 0, cli_cmd_del,
	    "delete keys; print how many existed" },
	{ "mget", "mget NS KEY...", 2, ARGS_MANY, 0, cli_cmd_mget,
	    "print values, one line per key" },
	{ "incr", "incr NS KEY [DELTA] [--ttl T]", 2, 3, CLI_OPT_TTL,
	    cli_cmd_incr, "add DELTA (default 1); print the sum" },
	{ "expire", "expire NS KEY TTL", 3, 3, 0, cli_cmd_expire,
	    "set a TTL (-1 or persist: none)" },
	{ "invalidate", "invalidate NS PATTERN", 2, 2, 0, cli_cmd_invalidate,
	    "delete matching keys; print how many" },
	{ "fetch", "fetch RESOURCE NAME=VALUE... [--refresh]", 1, ARGS_MANY,
	    CLI_OPT_REFRESH, cli_cmd_fetch, "read through the cache" },
	{ "publish", "publish EVENT NAME=VALUE...", 1, ARGS_MANY, 0,
	    cli_cmd_publish, "apply an event's rules; print keys removed" },
	{ "warm", "warm [STRATEGY...]", 0, ARGS_MANY, 0, cli_cmd_warm,
	    "run warm strategies (default: all); print a table" },
	{ "health", "health", 0, 0, 0, cli_cmd_health,
	    "print the broker's health" },
	{ "metrics", "metrics", 0, 0, 0, cli_cmd_metrics,
	    "print the broker's counters" },
	{ "reset-stats", "reset-stats", 0, 0, 0, cli_cmd_reset_stats,
	    "zero the hit, miss and method counters" },
	{ "watch", "watch [NS...] [--feed URL] [--count N]", 0, ARGS_MANY,
	    CLI_OPT_FEED | CLI_OPT_COUNT, cli_cmd_watch,
	    "print invalidations as they happen" },
	{ "revoke-token", "revoke-token TOKEN EXPIRES_AT", 2, 2, 0,
	    cli_cmd_revoke_token, "revoke a token until it expires" },
	{ "revoke-user", "revoke-user USER ISSUED_BEFORE", 2, 2, 0,
	    cli_cmd_revoke_user, "revoke a user's tokens issued before" },
	{ "is-revoked", "is-revoked TOKEN USER ISSUED_AT", 3, 3, 0,
	    cli_cmd_is_revoked, "exit 0 if revoked, 1 if not" },
	{ "session get", "session get USER", 1, 1, 0, cli_cmd_session_get,
	    "print a user's session data" },
	{ "session put", "session put USER DATA [--ttl T]", 2, 2, CLI_OPT_TTL,
	    cli_cmd_session_put, "store it (default TTL 24h)" },
	{ "session del", "session del USER", 1, 1, 0, cli_cmd_session_del,
	    "delete it (logout)" },
	{ "session touch", "session touch USER [--ttl T]", 1, 1, CLI_OPT_TTL,
	    cli_cmd_session_touch, "extend its TTL" },
	{ "ratelimit", "ratelimit SUBJECT LIMIT WINDOW [--cost N]", 3, 3,
	    CLI_OPT_COST, cli_cmd_ratelimit, "exit 0 allowed, 1 denied" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

enum opt_id {
	O_URL,
	O_JSON,
	O_NO_NEWLINE,
	O_TIMEOUT,
	O_TTL,
	O_NX,
	O_XX,
	O_REFRESH,
	O_FEED,
	O_COUNT,
	O_COST,
	O_HELP,
	O_VERSION,
	O_TLS_CA,
	O_TLS_CERT,
	O_TLS_KEY,
	O_TLS_SERVER_NAME
};

struct option {
	const char *name;   /* long name, after "--" */
	char        letter; /* short name after "-", or 0 */
	bool        arg;    /* takes a value */
	enum opt_id id;
};

static const struct option options[] = {
	{ "url", 'u', true, O_URL },
	{ "json", 0, false, O_JSON },
	{ "no-newline", 0, false, O_NO_NEWLINE },
	{ "timeout", 0, true, O_TIMEOUT },
	{ "ttl", 0, true, O_TTL },
	{ "nx", 0, false, O_NX },
	{ "xx", 0, false, O_XX },
	{ "refresh", 0, false, O_REFRESH },
	{ "feed", 0, true, O_FEED },
	{ "count", 0, true, O_COUNT },
	{ "cost", 0, true, O_COST },
	{ "help", 'h', false, O_HELP },
	{ "version", 0, false, O_VERSION },
	{ "tls-ca", 0, true, O_TLS_CA },
	{ "tls-cert", 0, true, O_TLS_CERT },
	{ "tls-key", 0, true, O_TLS_KEY },
	{ "tls-server-name", 0, true, O_TLS_SERVER_NAME },
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static const char help_text[] =
    "\n"
    "Options (anywhere on the line; '--' ends them):\n"
    "  -u, --url URL     broker URL; default $CACHEBROKER_URL, else\n"
    "                    " CB_DEFAULT_URL "\n"
    "      --json        print one JSON object per command\n"
    "      --no-newline  get, fetch, session get: print the value's bytes\n"
    "                    only, without the newline that ends it\n"
    "      --timeout T   deadline of the call (default 5s)\n"
    "      --ttl T       time to live for set and incr (default: none),\n"
    "                    session put and touch (default: the broker's, 24h)\n"
    "      --nx, --xx    set only if the key is absent / present\n"
    "      --refresh     fetch: load even on a hit, and store\n"
    "      --feed URL    watch: the broker's feed; default\n"
    "                    $CACHEBROKER_FEED_URL, else\n"
    "                    " CB_DEFAULT_FEED_URL "\n"
    "      --count N     watch: exit after N invalidations\n"
    "      --cost N      ratelimit: what this request counts (default 1)\n"
    "      --tls-ca FILE   tls+tcp:// URLs: the CAs (PEM) the broker's\n"
    "                      certificate must chain to; required for TLS;\n"
    "                      default $CACHEBROKER_TLS_CA\n"
    "      --tls-cert FILE, --tls-key FILE\n"
    "                      the client's certificate and key (PEM), for a\n"
    "                      broker that asks for one; default\n"
    "                      $CACHEBROKER_TLS_CERT, $CACHEBROKER_TLS_KEY\n"
    "      --tls-server-name NAME\n"
    "                      the name the broker's certificate must carry;\n"
    "                      default $CACHEBROKER_TLS_SERVER_NAME, else the\n"
    "                      URL's host\n"
    "  -h, --help        print this help\n"
    "      --version     print the version\n"
    "\n"
    "Durations: 500ms, 10s, 30m, 2h, 1d, sums like 1h30m, or a bare\n"
    "integer of milliseconds.\n"
    "\n"
    "Output: get and fetch print the value's bytes as they are, then a\n"
    "newline, on a terminal or not, like redis-cli (--no-newline: the\n"
    "bytes only). mget prints one line per key, in order: the value, or\n"
    "an empty line for a missing key (use --json to tell a missing key\n"
    "from an empty value, or for values with newlines). del and\n"
    "invalidate print the number of keys deleted, incr the new value;\n"
    "set, expire and reset-stats print nothing. With --json, a\n"
    "command that gets an answer prints one object on one line, e.g.\n"
    "{\"found\":true,\"value\":\"...\",\"ttl_ms\":1234}; a value that is not\n"
    "UTF-8 comes as \"value_base64\" instead.\n"
    "\n"
    "warm prints a table: per strategy the keys stored, rows not found,\n"
    "errors, milliseconds and the strategy's own error; it waits up to\n"
    "60s unless --timeout says otherwise, and exits 3 if any row or\n"
    "strategy failed.\n"
    "\n"
    "Auth: EXPIRES_AT, ISSUED_BEFORE and ISSUED_AT are Unix times in\n"
    "seconds. revoke-token and revoke-user print how long (ms) the broker\n"
    "keeps the entry. is-revoked prints 'revoked (token)', 'revoked\n"
    "(user)', 'not revoked', or 'not revoked (unknown: redis down)' when\n"
    "the broker answers fail-open without Redis. session get prints the\n"
    "data as get prints a value; put, del and touch print nothing.\n"
    "ratelimit prints 'allowed remaining=N reset_after=MS' or 'denied\n"
    "retry_after=MS remaining=N reset_after=MS', plus '(decided without\n"
    "redis)' when Redis could not be asked.\n"
    "\n"
    "watch prints one line per invalidation of the namespaces NS (all\n"
    "without any), 'NS keys=K1,K2 patterns=P1 removed=N' (empty parts\n"
    "left out), or with --json one object per line; it runs until\n"
    "SIGINT or SIGTERM, or until --count invalidations, and exits 0.\n"
    "\n"
    "Exit status: 0 ok; 1 not found (get or expire of a missing key, a\n"
    "set that --nx/--xx prevented, session get, del or touch without a\n"
    "session), not revoked (is-revoked: 0 means revoked) or denied\n"
    "(ratelimit); 2 usage error; 3 any other failure, reported as\n"
    "'cachebroker: STATUS: message' on stderr (health: also when the\n"
    "broker is NOT_SERVING; is-revoked: the broker cannot tell).\n"
    "\n"
    "A negative number (incr's DELTA, expire's -1) is an argument, not an\n"
    "option; put other arguments that start with '-' after '--'.\n";

static void
print_help(void)
{
	size_t i;

	printf("usage: cachebroker [-u URL] [--json] [--timeout MS] COMMAND "
	       "[ARGS...]\n\nCommands:\n");
	for (i = 0; i < NCOMMANDS; i++) {
		printf(
		    "  %-38s %s\n", commands[i].synopsis, commands[i].summary);
	}
	fputs(help_text, stdout);
}

/* group_len is the length of a two-word name's first word, else 0. */
static size_t
group_len(const char *name)
{
	const char *sp = strchr(name, ' ');

	return sp != NULL ? (size_t) (sp - name) : 0;
}

/*
 * command_find looks up the command that pos (npos operands) starts with:
 * one word, or two for a group such as "session get". *words says how
 * many it took. Returns NULL after a usage message.
 */
static const struct command *
command_find(char **pos, int npos, int *words)
{
	size_t i, g;
	bool   group = false;

	for (i = 0; i < NCOMMANDS; i++) {
		const char *name = commands[i].name;

		if ((g = group_len(name)) == 0) {
			if (strcmp(name, pos[0]) == 0) {
				*words = 1;
				return &commands[i];
			}
			continue;
		}
		if (strncmp(name, pos[0], g) != 0 || pos[0][g] != '\0') {
			continue;
		}
		group = true;
		if (npos > 1 && strcmp(name + g + 1, pos[1]) == 0) {
			*words = 2;
			return &commands[i];
		}
	}
	if (!group) {
		cli_usage_error(NULL, "unknown command '%s'", pos[0]);
	} else if (npos < 2) {
		cli_usage_error(
		    NULL, "'%s' needs a subcommand (see --help)", pos[0]);
	} else {
		cli_usage_error(
		    NULL, "unknown command '%s %s'", pos[0], pos[1]);
	}
	return NULL;
}

/*
 * option_find matches one argv word against the table: "--name",
 * "--name=value", "-x" or "-xVALUE". *inline_val is set when the value is
 * part of the word.
 */
static const struct option *
option_find(const char *word, const char **inline_val)
{
	size_t      i, n;
	const char *eq;

	*inline_val = NULL;
	if (word[1] == '-') {
		word += 2;
		eq = strchr(word, '=');
		n  = eq != NULL ? (size_t) (eq - word) : strlen(word);
		for (i = 0; i < NOPTIONS; i++) {
			if (strlen(options[i].name) == n &&
			    strncmp(options[i].name, word, n) == 0) {
				*inline_val = eq != NULL ? eq + 1 : NULL;
				return &options[i];
			}
		}
		return NULL;
	}
	for (i = 0; i < NOPTIONS; i++) {
		if (options[i].letter != 0 && options[i].letter == word[1]) {
			*inline_val = word[2] != '\0' ? word + 2 : NULL;
			return &options[i];
		}
	}
	return NULL;
}

/* is_option: "-5" and "-1" are numbers and "-" is an operand, so that
 * "incr ns k -5" and "expire ns k -1" work without "--". */
static bool
is_option(const char *word)
{
	return word[0] == '-' && word[1] != '\0' &&
	    !(word[1] >= '0' && word[1] <= '9');
}

static int
option_apply(struct cli *cli, const struct option *o, const char *val,
    bool *help, bool *version)
{
	int64_t ms;

	switch (o->id) {
	case O_URL:
		if (val == NULL || *val == '\0') {
			return cli_usage_error(NULL, "empty --url");
		}
		cli->url = val;
		break;
	case O_JSON:
		cli->json = true;
		break;
	case O_NO_NEWLINE:
		cli->no_newline = true;
		break;
	case O_TIMEOUT:
		/* nng keeps durations in int32 milliseconds; 12 days is
		 * more than any call should wait. */
		if (!cli_duration_parse(val, &ms) || ms <= 0 ||
		    ms > INT32_MAX / 2) {
			return cli_usage_error(NULL,
			    "invalid --timeout '%s': expected a positive "
			    "duration (500ms, 10s) or milliseconds",
			    val);
		}
		cli->timeout_ms = (uint32_t) ms;
		break;
	case O_TTL:
		if (!cli_duration_parse(val, &ms)) {
			return cli_usage_error(NULL,
			    "invalid --ttl '%s': expected a duration "
			    "(500ms, 10s, 30m, 2h, 1d)",
			    val);
		}
		cli->ttl_ms = ms;
		cli->given |= CLI_OPT_TTL;
		break;
	case O_NX:
		cli->given |= CLI_OPT_NX;
		break;
	case O_XX:
		cli->given |= CLI_OPT_XX;
		break;
	case O_REFRESH:
		cli->given |= CLI_OPT_REFRESH;
		break;
	case O_FEED:
		if (val == NULL || *val == '\0') {
			return cli_usage_error(NULL, "empty --feed");
		}
		cli->feed_url = val;
		cli->given |= CLI_OPT_FEED;
		break;
	case O_COUNT:
		if (!cli_count_parse(val, &cli->count)) {
			return cli_usage_error(NULL,
			    "invalid --count '%s': expected a positive whole "
			    "number",
			    val);
		}
		cli->given |= CLI_OPT_COUNT;
		break;
	case O_COST:
		if (!cli_count_parse(val, &cli->cost) ||
		    cli->cost > INT64_MAX) {
			return cli_usage_error(NULL,
			    "invalid --cost '%s': expected a positive whole "
			    "number",
			    val);
		}
		cli->given |= CLI_OPT_COST;
		break;
	case O_HELP:
		*help = true;
		break;
	case O_TLS_CA:
	case O_TLS_CERT:
	case O_TLS_KEY:
	case O_TLS_SERVER_NAME:
		if (val == NULL || *val == '\0') {
			return cli_usage_error(NULL, "empty --%s", o->name);
		}
		*(o->id == O_TLS_CA           ? &cli->tls.ca_file
		        : o->id == O_TLS_CERT ? &cli->tls.cert_file
		        : o->id == O_TLS_KEY  ? &cli->tls.key_file
		                              : &cli->tls.server_name) = val;
		break;
	case O_VERSION:
		*version = true;
		break;
	}
	return CLI_EXIT_OK;
}

/*
 * parse_args splits argv into options, applied to cli, and operands,
 * collected in order into pos (argc entries). Returns CLI_EXIT_OK or the
 * exit code of a usage error, already reported.
 */
static int
parse_args(int argc, char **argv, struct cli *cli, char **pos, int *npos,
    bool *help, bool *version)
{
	const struct option *o;
	const char          *val;
	bool                 operands_only = false;
	int                  i, rc;

	*npos = 0;
	for (i = 1; i < argc; i++) {
		if (operands_only || !is_option(argv[i])) {
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			operands_only = true;
			continue;
		}
		if ((o = option_find(argv[i], &val)) == NULL) {
			return cli_usage_error(
			    NULL, "unknown option '%s'", argv[i]);
		}
		if (o->arg && val == NULL) {
			if (i + 1 >= argc) {
				return cli_usage_error(NULL,
				    "option '%s' needs a value", argv[i]);
			}
			val = argv[++i];
		} else if (!o->arg && val != NULL) {
			return cli_usage_error(
			    NULL, "option '--%s' takes no value", o->name);
		}
		rc = option_apply(cli, o, val, help, version);
		if (rc != CLI_EXIT_OK) {
			return rc;
		}
	}
	return CLI_EXIT_OK;
}

/* check_command validates what the table knows: options and arity. */
static int
check_command(const struct cli *cli, const struct command *cmd, int nargs)
{
	static const struct {
		unsigned    bit;
		const char *name;
	} names[] = {
		{ CLI_OPT_TTL, "--ttl" },
		{ CLI_OPT_NX, "--nx" },
		{ CLI_OPT_XX, "--xx" },
		{ CLI_OPT_REFRESH, "--refresh" },
		{ CLI_OPT_FEED, "--feed" },
		{ CLI_OPT_COUNT, "--count" },
		{ CLI_OPT_COST, "--cost" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((cli->given & names[i].bit) &&
		    !(cmd->opts & names[i].bit)) {
			return cli_usage_error(cmd->synopsis,
			    "%s does not apply to '%s'", names[i].name,
			    cmd->name);
		}
	}
	if ((cli->given & CLI_OPT_NX) && (cli->given & CLI_OPT_XX)) {
		return cli_usage_error(
		    cmd->synopsis, "--nx and --xx exclude each other");
	}
	if (nargs < cmd->min_args) {
		return cli_usage_error(cmd->synopsis,
		    "'%s' needs %d argument%s", cmd->name, cmd->min_args,
		    cmd->min_args == 1 ? "" : "s");
	}
	if (cmd->max_args != ARGS_MANY && nargs > cmd->max_args) {
		return cli_usage_error(
		    cmd->synopsis, "too many arguments for '%s'", cmd->name);
	}
	return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct cli            cli  = { 0 };
	cb_client_opts        opts = { 0 };
	const struct command *cmd;
	char                **pos     = NULL;
	bool                  help    = false;
	bool                  version = false;
	const char           *url;
	const char           *ca;
	char                  msg[512];
	cb_status             st;
	int                   npos, words, rc;

	if ((pos = calloc((size_t) argc + 1, sizeof(*pos))) == NULL) {
		rc = cli_fail(CB_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	rc = parse_args(argc, argv, &cli, pos, &npos, &help, &version);
	if (rc != CLI_EXIT_OK) {
		goto out;
	}
	if (help) {
		print_help();
		goto out;
	}
	if (version) {
		printf("cachebroker %s (libcachebroker %s)\n",
		    CB_VERSION_STRING, cb_version());
		goto out;
	}
	if (npos == 0) {
		rc = cli_usage_error(NULL, "no command given");
		goto out;
	}
	if ((cmd = command_find(pos, npos, &words)) == NULL) {
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if ((rc = check_command(&cli, cmd, npos - words)) != CLI_EXIT_OK) {
		goto out;
	}
	cli.synopsis    = cmd->synopsis;
	opts.timeout_ms = cli.timeout_ms;
	/* watch subscribes to the feed itself: it makes no calls. */
	if (!(cmd->opts & CLI_OPT_FEED) &&
	    (st = cb_client_open_tls(&cli.client, cli.url, &opts, &cli.tls)) !=
	        CB_OK) {
		url = cli.url != NULL ? cli.url : getenv("CACHEBROKER_URL");
		if (url == NULL || *url == '\0') {
			url = CB_DEFAULT_URL;
		}
		ca = getenv("CACHEBROKER_TLS_CA");
		if (strncmp(url, "tls+tcp://", 10) == 0 &&
		    cli.tls.ca_file == NULL && (ca == NULL || *ca == '\0')) {
			(void) snprintf(msg, sizeof(msg),
			    "%s needs the CAs to check the broker's "
			    "certificate with: --tls-ca FILE or "
			    "CACHEBROKER_TLS_CA",
			    url);
		} else {
			(void) snprintf(msg, sizeof(msg),
			    "cannot use broker URL '%s'%s", url,
			    strncmp(url, "tls+tcp://", 10) == 0
			        ? " (or its TLS files)"
			        : "");
		}
		rc = cli_fail(st, msg);
		goto out;
	}
	rc = cmd->run(&cli, npos - words, pos + words);

out:
	cb_client_close(cli.client);
	free(pos);
	return cli_finish(rc);
}

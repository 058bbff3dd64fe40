/* SPDX-License-Identifier: MIT */
/* The cachebroker command-line client: shared types and functions. */
#ifndef CB_CLI_H
#define CB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cachebroker/cachebroker.h>

/* Exit codes, as documented in --help. */
enum {
	CLI_EXIT_OK        = 0, /* the command did what was asked */
	CLI_EXIT_NOT_FOUND = 1, /* not found/stored, not revoked, denied */
	CLI_EXIT_USAGE     = 2, /* bad command line */
	CLI_EXIT_FAILURE   = 3, /* any other failure; status on stderr */
};

/* Command options, as bits: each command says which it accepts. */
enum {
	CLI_OPT_TTL     = 1u << 0, /* --ttl T */
	CLI_OPT_NX      = 1u << 1, /* --nx */
	CLI_OPT_XX      = 1u << 2, /* --xx */
	CLI_OPT_REFRESH = 1u << 3, /* --refresh */
	CLI_OPT_FEED    = 1u << 4, /* --feed URL: talks to the feed, not -u */
	CLI_OPT_COUNT   = 1u << 5, /* --count N */
	CLI_OPT_COST    = 1u << 6, /* --cost N */
};

/* What the command line asked for, and the client to do it with. */
struct cli {
	cb_client  *client;     /* open while a command runs */
	const char *url;        /* -u; NULL: $CACHEBROKER_URL or default */
	bool        json;       /* --json */
	bool        no_newline; /* --no-newline */
	uint32_t    timeout_ms; /* --timeout; 0: the library's default */
	int64_t     ttl_ms;     /* --ttl, when CLI_OPT_TTL is in given */
	unsigned    given;      /* CLI_OPT_* bits seen on the command line */
	const char *synopsis;   /* the running command's, for usage errors */
	const char *feed_url;   /* --feed; NULL: the library's default */
	uint64_t    count;      /* --count, when CLI_OPT_COUNT is in given */
	uint64_t    cost;       /* --cost, when CLI_OPT_COST is in given */
	cb_tls_opts tls;        /* --tls-* (the library fills the rest from
	                         * CACHEBROKER_TLS_*) */
};

/* A command handler gets the arguments after the command's name, their
 * count already checked against the command table, and returns the exit
 * code. */
typedef int (*cli_run_fn)(struct cli *cli, int argc, char **argv);

int cli_cmd_get(struct cli *cli, int argc, char **argv);
int cli_cmd_set(struct cli *cli, int argc, char **argv);
int cli_cmd_del(struct cli *cli, int argc, char **argv);
int cli_cmd_mget(struct cli *cli, int argc, char **argv);
int cli_cmd_incr(struct cli *cli, int argc, char **argv);
int cli_cmd_fetch(struct cli *cli, int argc, char **argv);
int cli_cmd_publish(struct cli *cli, int argc, char **argv);
int cli_cmd_warm(struct cli *cli, int argc, char **argv);
int cli_cmd_expire(struct cli *cli, int argc, char **argv);
int cli_cmd_invalidate(struct cli *cli, int argc, char **argv);
int cli_cmd_health(struct cli *cli, int argc, char **argv);
int cli_cmd_metrics(struct cli *cli, int argc, char **argv);
int cli_cmd_reset_stats(struct cli *cli, int argc, char **argv);
int cli_cmd_watch(struct cli *cli, int argc, char **argv);
int cli_cmd_revoke_token(struct cli *cli, int argc, char **argv);
int cli_cmd_revoke_user(struct cli *cli, int argc, char **argv);
int cli_cmd_is_revoked(struct cli *cli, int argc, char **argv);
int cli_cmd_session_get(struct cli *cli, int argc, char **argv);
int cli_cmd_session_put(struct cli *cli, int argc, char **argv);
int cli_cmd_session_del(struct cli *cli, int argc, char **argv);
int cli_cmd_session_touch(struct cli *cli, int argc, char **argv);
int cli_cmd_ratelimit(struct cli *cli, int argc, char **argv);

struct cli_json;

/* cmd_warm.c: one WarmResult as a JSON object (warm and metrics). */
void cli_json_warm_result(
    struct cli_json *j, const Cachebroker__V1__WarmResult *r);

/* duration.c */

/*
 * cli_duration_parse reads "500ms", "10s", "30m", "2h", "1d", a sum of
 * those ("1h30m"), or a bare integer of milliseconds into *ms. Returns
 * false, leaving *ms alone, for anything else or past INT64_MAX ms.
 */
bool cli_duration_parse(const char *s, int64_t *ms);

/* cli_duration_format writes seconds as "3d 4h 5m 6s" into buf. */
void cli_duration_format(char *buf, size_t size, uint64_t seconds);

/* number.c */

/* cli_int64_parse reads a decimal integer, sign allowed, into *out.
 * Returns false, leaving *out alone, for anything else. */
bool cli_int64_parse(const char *s, int64_t *out);

/* cli_count_parse reads a positive whole number (no sign, no leading 0)
 * into *out. Returns false, leaving *out alone, for anything else. */
bool cli_count_parse(const char *s, uint64_t *out);

/* output.c */

/* cli_usage_error prints "cachebroker: <message>" and the short usage to
 * stderr, and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *synopsis, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * cli_fail reports a failed call on stderr as
 * "cachebroker: STATUS_NAME: message" and returns its exit code:
 * CLI_EXIT_NOT_FOUND for NOT_FOUND, CLI_EXIT_FAILURE otherwise.
 */
int cli_fail(cb_status st, const char *message);

/*
 * cli_write_value writes a value's bytes to stdout as they are, then a
 * newline, terminal or not (as redis-cli does: a value is a line, and the
 * prompt is not glued to it); with --no-newline the bytes only.
 */
void cli_write_value(const struct cli *cli, const uint8_t *data, size_t len);

/* cli_print_number prints "N\n", or {"name":N} with --json. */
void cli_print_number(const struct cli *cli, const char *name, int64_t n);

/* cli_print_flag prints nothing (the exit code tells), or {"name":b}
 * with --json. */
void cli_print_flag(const struct cli *cli, const char *name, bool b);

/*
 * cli_print_found prints the answer of a lookup: the value's bytes as
 * they are and a newline (cli_write_value; nothing when not found or
 * value is NULL), or
 * with --json {"found":b,"<name>":...,"ttl_ms":N} and x_cache, the value
 * and ttl_ms only when found. Returns CLI_EXIT_OK when found, else
 * CLI_EXIT_NOT_FOUND.
 */
int cli_print_found(const struct cli *cli, bool found, const char *name,
    const ProtobufCBinaryData *value, int64_t ttl_ms, const cb_result *res);

/* cli_json_x_cache writes "x_cache":"..." into an object when the reply
 * had x-cache metadata (hit, miss, stale, degraded). */
void cli_json_x_cache(struct cli_json *j, const cb_result *res);

/* cli_finish flushes stdout; a write error turns rc into a failure. */
int cli_finish(int rc);

/* json.c: a streaming writer of one compact JSON object per line. */

#define CLI_JSON_DEPTH 8

struct cli_json {
	FILE    *f;                    /* where the text goes */
	unsigned depth;                /* open objects and arrays */
	bool     more[CLI_JSON_DEPTH]; /* a member was written at depth */
	bool     after_key;            /* the next value follows a key */
};

void cli_json_init(struct cli_json *j, FILE *f);
void cli_json_begin_object(struct cli_json *j);
void cli_json_end_object(struct cli_json *j);
void cli_json_begin_array(struct cli_json *j);
void cli_json_end_array(struct cli_json *j);
void cli_json_key(struct cli_json *j, const char *key);
void cli_json_string(struct cli_json *j, const char *s);
void cli_json_bool(struct cli_json *j, bool v);
void cli_json_int(struct cli_json *j, int64_t v);
void cli_json_uint(struct cli_json *j, uint64_t v);
void cli_json_double(struct cli_json *j, double v);

/*
 * cli_json_value writes a value member: "value":"text" when the bytes are
 * valid UTF-8, else "value_base64":"...". name replaces "value".
 */
void cli_json_value(
    struct cli_json *j, const char *name, const uint8_t *data, size_t len);

/* cli_json_end ends the top-level object with a newline. */
void cli_json_end(struct cli_json *j);

#endif /* CB_CLI_H */

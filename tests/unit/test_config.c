/* SPDX-License-Identifier: MIT */
/* Unit tests of config.c: values, defaults, errors with file:line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "test_main.h"

static cbd_config cfg;
static cbd_errors errs;

static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(&errs, 0, sizeof(errs));
	unsetenv("REDIS_HOST");
	unsetenv("REDIS_PORT");
	unsetenv("REDIS_PASSWORD");
}

static void
teardown(void)
{
	cbd_config_fini(&cfg);
	cbd_errors_fini(&errs);
}

static cb_status
load(const char *text)
{
	return cbd_config_load_string(&cfg, "t.conf", text, &errs);
}

/* A reload's file against the running one: restart-only settings get
 * their running values back, each change is noted once, the rest stays. */
START_TEST(test_pin)
{
	cbd_config next  = { 0 };
	cbd_errors notes = { 0 };
	cbd_errors perrs = { 0 };
	char      *cli[] = { "tcp://127.0.0.1:7001" };

	ck_assert_int_eq(load("[broker]\nlisten = ipc:///tmp/a.sock\n"
	                      "contexts = 64\nmax_key_size = 300\n"
	                      "[redis]\nkey_prefix = app:\n"),
	    CB_OK);
	ck_assert_int_eq(cbd_config_load_string(&next, "t.conf",
	                     "[broker]\nlisten = ipc:///tmp/b.sock\n"
	                     "contexts = 64\nmax_key_size = 100\n"
	                     "log_level = debug\n[redis]\nkey_prefix = x:\n"
	                     "port = 7000\n[auth]\nsession_ttl = 1h\n",
	                     &perrs),
	    CB_OK);
	cbd_config_pin(&next, &cfg, &notes, &perrs);
	ck_assert_int_eq(perrs.count, 0);
	ck_assert_int_eq(notes.count, 3);
	ck_assert_ptr_nonnull(
	    strstr(notes.text, "[broker] listen: changed; restart to apply"));
	ck_assert_ptr_nonnull(strstr(
	    notes.text, "[redis] key_prefix: changed; restart to apply"));
	ck_assert_ptr_nonnull(
	    strstr(notes.text, "[redis] port: changed; restart to apply"));
	ck_assert_uint_eq(next.n_listen, 1);
	ck_assert_str_eq(next.listen[0], "ipc:///tmp/a.sock");
	ck_assert_str_eq(next.redis.key_prefix, "app:");
	ck_assert_int_eq(next.redis.port, 6379);
	/* Live settings keep the new file's values. */
	ck_assert_uint_eq(next.max_key_size, 100);
	ck_assert_int_eq(next.log_level, CBD_LOG_DEBUG);
	ck_assert_uint_eq(next.auth.session_ttl_ms, 3600000);
	cbd_config_fini(&next);
	cbd_errors_fini(&notes);

	/* Listeners from -l: the file's are no change. */
	ck_assert_int_eq(cbd_config_set_listeners(&cfg, cli, 1, &errs), CB_OK);
	ck_assert_int_eq(cbd_config_load_string(&next, "t.conf",
	                     "[broker]\nlisten = ipc:///tmp/c.sock\n"
	                     "contexts = 64\nmax_key_size = 300\n"
	                     "[redis]\nkey_prefix = app:\n",
	                     &perrs),
	    CB_OK);
	cbd_config_pin(&next, &cfg, &notes, &perrs);
	ck_assert_int_eq(notes.count, 0);
	ck_assert_str_eq(next.listen[0], "tcp://127.0.0.1:7001");
	cbd_config_fini(&next);

	/* What the running values make invalid is an error. */
	ck_assert_int_eq(cbd_config_load_string(&next, "t.conf",
	                     "[broker]\nmax_message_size = 4m\n"
	                     "max_value_size = 3m\n",
	                     &perrs),
	    CB_OK);
	cbd_config_pin(&next, &cfg, &notes, &perrs);
	ck_assert_int_eq(perrs.count, 1);
	ck_assert_ptr_nonnull(
	    strstr(perrs.text, "max_message_size in effect"));
	cbd_config_fini(&next);
	cbd_errors_fini(&notes);
	cbd_errors_fini(&perrs);
}
END_TEST

/* split: the sections move, every setting is copied. */
START_TEST(test_split)
{
	cbd_config out = { 0 };

	ck_assert_int_eq(load("[broker]\nfeed = ipc:///tmp/f.sock\n"
	                      "[database]\n"
	                      "[resource users.p]\nkey = users:p:{id}\n"
	                      "param = id int\nsql = SELECT $1::text\n"
	                      "ttl = 1m\n"),
	    CB_OK);
	ck_assert_int_eq(cbd_config_split(&cfg, &out), 0);
	ck_assert_uint_eq(cfg.n_resources, 0);
	ck_assert_ptr_null(cfg.resources);
	ck_assert_uint_eq(out.n_resources, 1);
	ck_assert_str_eq(out.resources[0].name, "users.p");
	ck_assert_str_eq(out.feed, "ipc:///tmp/f.sock");
	ck_assert_str_eq(cfg.feed, "ipc:///tmp/f.sock");
	ck_assert_ptr_ne(out.feed, cfg.feed);
	ck_assert_ptr_ne(out.listen[0], cfg.listen[0]);
	ck_assert_str_eq(out.path, cfg.path);
	ck_assert_int_eq(out.db.enabled, 1);
	cbd_config_fini(&out);
}
END_TEST

/* [namespace NAME]: the L1's opt-in, its errors at their lines, kept by
 * the settings side of a split (nng's threads read them there). */
START_TEST(test_namespaces)
{
	cbd_config out = { 0 };

	ck_assert_int_eq(load("[broker]\n"            /* 1 */
	                      "l1_tracking = maybe\n" /* 2 */
	                      "[namespace users]\n"   /* 3 */
	                      "l1 = maybe\n"          /* 4 */
	                      "l1_max_ttl = 10\n"     /* 5: no unit */
	                      "colour = blue\n"       /* 6 */
	                      "[namespace users]\n"   /* 7: twice */
	                      "[namespace a:b]\n"),   /* 8: bad name */
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(errs.count, 6);
	ck_assert_ptr_nonnull(strstr(errs.text,
	    "t.conf:2: l1_tracking = 'maybe': not bcast or default"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:4: l1 = 'maybe'"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:5: l1_max_ttl"));
	ck_assert_ptr_nonnull(
	    strstr(errs.text, "t.conf:6: unknown key 'colour'"));
	ck_assert_ptr_nonnull(
	    strstr(errs.text, "t.conf:7: namespace 'users'"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:8: "));
	cbd_errors_fini(&errs);
	memset(&errs, 0, sizeof(errs));

	ck_assert_int_eq(load("[broker]\nl1_size = 8m\nl1_max_ttl = 20s\n"
	                      "l1_tracking = default\n"
	                      "[namespace users]\nl1 = yes\n"
	                      "[namespace tasks]\nl1 = yes\nl1_max_ttl = 5s\n"
	                      "[namespace reports]\nl1 = no\n"),
	    CB_OK);
	ck_assert_uint_eq(cfg.l1_size, 8u << 20);
	ck_assert_int_eq(cfg.l1_tracking, CBD_L1_TRACKING_DEFAULT);
	ck_assert_uint_eq(cbd_config_l1_ttl_ms(&cfg, "users"), 20000);
	ck_assert_uint_eq(cbd_config_l1_ttl_ms(&cfg, "tasks"), 5000);
	ck_assert_uint_eq(cbd_config_l1_ttl_ms(&cfg, "reports"), 0);
	ck_assert_uint_eq(cbd_config_l1_ttl_ms(&cfg, "auth"), 0);
	ck_assert_int_eq(cbd_config_split(&cfg, &out), 0);
	ck_assert_uint_eq(cfg.n_namespaces, 3);
	ck_assert_uint_eq(out.n_namespaces, 0);
	cbd_config_fini(&out);
	/* A reload that changes them says so; they stay as started. */
	{
		cbd_config next  = { 0 };
		cbd_errors notes = { 0 };
		ck_assert_int_eq(
		    cbd_config_load_string(&next, "t.conf",
		        "[broker]\nl1_size = 8m\nl1_max_ttl = 20s\n"
		        "l1_tracking = default\n"
		        "[namespace users]\nl1 = no\n"
		        "[namespace tasks]\nl1 = yes\nl1_max_ttl = 5s\n"
		        "[namespace reports]\nl1 = no\n",
		        &errs),
		    CB_OK);
		cbd_config_pin(&next, &cfg, &notes, &errs);
		ck_assert_int_eq(notes.count, 1);
		ck_assert_ptr_nonnull(strstr(notes.text,
		    "[namespace] sections: changed; restart to apply"));
		cbd_config_fini(&next);
		cbd_errors_fini(&notes);
	}
	/* Without l1_size, no namespace has an L1. */
	cfg.l1_size = 0;
	ck_assert_uint_eq(cbd_config_l1_ttl_ms(&cfg, "users"), 0);
}
END_TEST

START_TEST(test_defaults)
{
	ck_assert_int_eq(load(""), CB_OK);
	ck_assert_uint_eq(cfg.n_listen, 1);
	ck_assert_str_eq(cfg.listen[0], CB_DEFAULT_URL);
	ck_assert_str_eq(cfg.redis.host, "127.0.0.1");
	ck_assert_int_eq(cfg.redis.port, 6379);
	ck_assert_uint_eq(cfg.default_deadline_ms, 5000);
	ck_assert_uint_eq(cfg.max_message_size, 1u << 20);
	ck_assert_int_eq(cfg.ipc_mode, 0660);
	ck_assert_int_eq(errs.count, 0);
}
END_TEST

START_TEST(test_auth_section)
{
	ck_assert_int_eq(load(""), CB_OK);
	ck_assert_uint_eq(cfg.auth.max_token_lifetime_ms, 86400000);
	ck_assert_uint_eq(cfg.auth.session_ttl_ms, 86400000);
	ck_assert_uint_eq(cfg.auth.rate_limit_window_ms, 900000);
	ck_assert_int_eq(cfg.auth.revocation_fail_open, 0);
	ck_assert_int_eq(cfg.auth.rate_limit_fail_open, 1);
	cbd_config_fini(&cfg);
	ck_assert_int_eq(load("[auth]\n"
	                      "max_token_lifetime = 1h\n"
	                      "session_ttl = 30m\n"
	                      "rate_limit_window = 1m\n"
	                      "revocation_when_down = fail-open\n"
	                      "rate_limit_when_down = fail-closed\n"),
	    CB_OK);
	ck_assert_uint_eq(cfg.auth.max_token_lifetime_ms, 3600000);
	ck_assert_uint_eq(cfg.auth.session_ttl_ms, 1800000);
	ck_assert_uint_eq(cfg.auth.rate_limit_window_ms, 60000);
	ck_assert_int_eq(cfg.auth.revocation_fail_open, 1);
	ck_assert_int_eq(cfg.auth.rate_limit_fail_open, 0);
	cbd_config_fini(&cfg);
	ck_assert_int_eq(load("[auth]\n"
	                      "revocation_when_down = maybe\n" /* 2 */
	                      "session_ttl = 10ms\n"),         /* 3 */
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(errs.text,
	    "t.conf:2: revocation_when_down = 'maybe': not fail-open or "
	    "fail-closed"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:3: session_ttl"));
}
END_TEST

START_TEST(test_values)
{
	ck_assert_int_eq(load("[broker]\n"
	                      "listen = ipc:///tmp/a.sock\n"
	                      "listen = tcp://127.0.0.1:7000 ; second\n"
	                      "ipc_mode = 0600\n"
	                      "contexts = 32\n"
	                      "max_message_size = 2m\n"
	                      "default_deadline = 250ms\n"
	                      "log_level = debug\n"
	                      "\n# comment\n"
	                      "[redis]\n"
	                      "  host = 10.0.0.1\n"
	                      "port = 6380\n"
	                      "password = a b;c\n"
	                      "command_timeout = 3s\n"
	                      "key_prefix = app:\n"),
	    CB_OK);
	ck_assert_uint_eq(cfg.n_listen, 2);
	ck_assert_str_eq(cfg.listen[1], "tcp://127.0.0.1:7000");
	ck_assert_int_eq(cfg.ipc_mode, 0600);
	ck_assert_uint_eq(cfg.contexts, 32);
	ck_assert_uint_eq(cfg.max_message_size, 2u << 20);
	ck_assert_uint_eq(cfg.default_deadline_ms, 250);
	ck_assert_int_eq(cfg.log_level, CBD_LOG_DEBUG);
	ck_assert_str_eq(cfg.redis.host, "10.0.0.1");
	ck_assert_int_eq(cfg.redis.port, 6380);
	ck_assert_str_eq(cfg.redis.password, "a b;c");
	ck_assert_uint_eq(cfg.redis.command_timeout_ms, 3000);
	ck_assert_str_eq(cfg.redis.key_prefix, "app:");
}
END_TEST

START_TEST(test_every_error_has_its_line)
{
	char long_line[400];

	memset(long_line, 'a', sizeof(long_line));
	memcpy(long_line, "host = ", 7);
	long_line[sizeof(long_line) - 2] = '\n';
	long_line[sizeof(long_line) - 1] = '\0';

	char text[1024];
	snprintf(text, sizeof(text),
	    "[broker]\n"             /* 1 */
	    "contexts = many\n"      /* 2 */
	    "colour = blue\n"        /* 3 */
	    "[storage]\n"            /* 4 */
	    "x = 1\n"                /* 5 */
	    "[redis]\n"              /* 6 */
	    "connect_timeout = 10\n" /* 7: no unit */
	    "%s"                     /* 8: too long */
	    "just words\n"           /* 9 */
	    "port = 1\n"             /* 10 */
	    "port = 2\n",            /* 11: twice */
	    long_line);
	ck_assert_int_eq(load(text), CB_INVALID_ARGUMENT);
	ck_assert_int_eq(errs.count, 7);
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:2: contexts"));
	ck_assert_ptr_nonnull(
	    strstr(errs.text, "t.conf:3: unknown key 'colour'"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:4: unknown section"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:7: connect_timeout"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:8: line is"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:9: expected"));
	ck_assert_ptr_nonnull(
	    strstr(errs.text, "t.conf:11: 'port' is set twice"));
	/* Nothing half-loaded is left behind. */
	ck_assert_ptr_null(cfg.redis.host);
}
END_TEST

/* The line syntax: continuations of sql, comments, the length limit. */
START_TEST(test_line_syntax)
{
	char line198[256];
	char line199[256];

	memset(line198, 'b', sizeof(line198));
	memcpy(line198, "key_prefix = ", 13);
	line198[198] = '\0';
	memcpy(line199, line198, sizeof(line198));
	line199[198] = 'b';
	line199[199] = '\0';

	char text[1024];
	snprintf(text, sizeof(text),
	    "[redis]\n%s\n[database]\n[resource users.p]\n"
	    "key = users:p:{id}\n"
	    "param = id int\n"
	    "sql = SELECT row_to_json(u) ; first part\n"
	    "  FROM users u   ; a comment on a continuation\n"
	    "\tWHERE id = $1::bigint\n"
	    "ttl = 1h30m\n",
	    line198);
	ck_assert_int_eq(load(text), CB_OK);
	ck_assert_uint_eq(strlen(cfg.redis.key_prefix), 198 - 13);
	ck_assert_uint_eq(cfg.n_resources, 1);
	ck_assert_str_eq(cfg.resources[0].sql,
	    "SELECT row_to_json(u) FROM users u WHERE id = $1::bigint");
	ck_assert_uint_eq(cfg.resources[0].ttl.ms, 5400000);
	cbd_config_fini(&cfg);
	cbd_errors_fini(&errs);

	snprintf(text, sizeof(text),
	    "[redis]\n%s\n"         /* 2: one character too many */
	    "key_prefix ; = x\n"    /* 3: a comment before the '=' */
	    "host=h ;\n"            /* 4: fine, empty comment */
	    "[broker] ; comment\n", /* 5: nothing after a header */
	    line199);
	ck_assert_int_eq(load(text), CB_INVALID_ARGUMENT);
	ck_assert_int_eq(errs.count, 3);
	ck_assert_ptr_nonnull(strstr(errs.text,
	    "t.conf:2: line is 199 characters long, the limit is 198"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:3: expected"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:5: malformed"));
}
END_TEST

/* [policy] max_ttl: a year by default; no TTL the file sets may exceed
 * it, wherever in the file it is set, each refusal with its line. */
START_TEST(test_max_ttl)
{
	ck_assert_int_eq(load(""), CB_OK);
	ck_assert_uint_eq(cfg.max_ttl_ms, 366 * 86400000ull);
	cbd_config_fini(&cfg);
	ck_assert_int_eq(load("[policy]\nmax_ttl = 30d\n"), CB_OK);
	ck_assert_uint_eq(cfg.max_ttl_ms, 30 * 86400000ull);
	cbd_config_fini(&cfg);
	/* Exactly max_ttl is fine. */
	ck_assert_int_eq(load("[auth]\nsession_ttl = 2h\n"
	                      "max_token_lifetime = 2h\n"
	                      "[database]\n"
	                      "[resource users.a]\nkey = users:a:{id}\n"
	                      "param = id int\nsql = SELECT $1::text\n"
	                      "ttl = 2h\nnegative_ttl = 2h\n"
	                      "stale_if_error = 2h\n"
	                      "[policy]\nmax_ttl = 2h\n"),
	    CB_OK);
	cbd_config_fini(&cfg);
	ck_assert_int_eq(load("[auth]\n"                   /* 1 */
	                      "session_ttl = 2h\n"         /* 2 */
	                      "rate_limit_window = 61m\n"  /* 3 */
	                      "max_token_lifetime = 90m\n" /* 4 */
	                      "[database]\n"               /* 5 */
	                      "[resource users.a]\n"       /* 6 */
	                      "key = users:a:{id}\n"       /* 7 */
	                      "param = id int\n"           /* 8 */
	                      "sql = SELECT $1::text\n"    /* 9 */
	                      "ttl = 2h\n"                 /* 10 */
	                      "negative_ttl = 61m\n"       /* 11 */
	                      "stale_if_error = 3h\n"      /* 12 */
	                      "[resource users.b]\n"       /* 13 */
	                      "key = users:b:{d}\n"        /* 14 */
	                      "param = d date\n"           /* 15 */
	                      "sql = SELECT $1::text\n"    /* 16 */
	                      "ttl = by-date {d} past 1h today 1m future "
	                      "90m\n"                           /* 17 */
	                      "[resource users.c]\n"            /* 18 */
	                      "key = users:c:{p}\n"             /* 19 */
	                      "param = p text\n"                /* 20 */
	                      "sql = SELECT $1::text\n"         /* 21 */
	                      "ttl = by-period {p} a 1m b 1d\n" /* 22 */
	                      "[resource users.d]\n"            /* 23 */
	                      "key = users:d:{p}\n"             /* 24 */
	                      "param = p text\n"                /* 25 */
	                      "sql = SELECT $1::text\n"         /* 26 */
	                      "ttl = 1h\n"                      /* 27 */
	                      "[policy]\n"                      /* 28 */
	                      "max_ttl = 1h\n"),                /* 29 */
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(errs.count, 8);
	ck_assert_ptr_nonnull(strstr(errs.text,
	    "t.conf:2: [auth] session_ttl (7200000 ms) is longer than "
	    "[policy] max_ttl (3600000 ms)"));
	ck_assert_ptr_nonnull(
	    strstr(errs.text, "t.conf:3: [auth] rate_limit_window"));
	ck_assert_ptr_nonnull(
	    strstr(errs.text, "t.conf:4: [auth] max_token_lifetime"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:10: ttl (7200000"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:11: negative_ttl"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:12: stale_if_error"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:17: ttl (5400000"));
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:22: ttl (86400000"));
	cbd_errors_fini(&errs);
	/* A default over it is named at max_ttl's line. */
	ck_assert_int_eq(
	    load("[policy]\nmax_ttl = 1h\n"), CB_INVALID_ARGUMENT);
	ck_assert_int_eq(errs.count, 2);
	ck_assert_ptr_nonnull(strstr(errs.text,
	    "t.conf:2: [auth] session_ttl (86400000 ms, its default) is "
	    "longer than [policy] max_ttl (3600000 ms)\n"));
	ck_assert_ptr_nonnull(strstr(errs.text,
	    "t.conf:2: [auth] max_token_lifetime (86400000 ms, its "
	    "default)"));
	cbd_errors_fini(&errs);
	/* Its own range: a second to a century. */
	ck_assert_int_eq(
	    load("[policy]\nmax_ttl = 999ms\n"), CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(errs.text, "t.conf:2: max_ttl"));
	ck_assert_int_eq(
	    load("[policy]\nmax_ttl = 36526d\n"), CB_INVALID_ARGUMENT);
	ck_assert_int_eq(load("[policy]\nmax_ttl = 36525d\n"), CB_OK);
	ck_assert_uint_eq(cfg.max_ttl_ms, 36525 * 86400000ull);
}
END_TEST

START_TEST(test_relations)
{
	ck_assert_int_eq(load("[broker]\ndefault_deadline = 2m\n"
	                      "max_deadline = 1m\n"
	                      "[redis]\nkey_prefix = a*\n"),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(errs.count, 2);
	ck_assert_ptr_nonnull(strstr(errs.text, "max_deadline"));
	ck_assert_ptr_nonnull(strstr(errs.text, "key_prefix"));
}
END_TEST

START_TEST(test_listen_urls)
{
	ck_assert_int_eq(load("[broker]\nlisten = http://x\n"
	                      "listen = tcp://nohost\nlisten = ipc://\n"),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(errs.count, 3);
}
END_TEST

START_TEST(test_feed_url)
{
	ck_assert_int_eq(load(""), CB_OK);
	ck_assert_str_eq(cfg.feed, "");
	cbd_config_fini(&cfg);
	ck_assert_int_eq(load("[broker]\nfeed = ipc:///run/f.sock\n"), CB_OK);
	ck_assert_str_eq(cfg.feed, "ipc:///run/f.sock");
	cbd_config_fini(&cfg);
	ck_assert_int_eq(load("[broker]\nfeed =\n"), CB_OK);
	ck_assert_str_eq(cfg.feed, "");
	cbd_config_fini(&cfg);
	/* Bad URLs, like a listener's, with their line; not a listener. */
	ck_assert_int_eq(load("[broker]\nlisten = tcp://127.0.0.1:7000\n"
	                      "feed = http://x\n"),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(errs.count, 1);
	ck_assert_ptr_nonnull(
	    strstr(errs.text, "t.conf:3: feed = 'http://x'"));
	cbd_errors_fini(&errs);
	ck_assert_int_eq(load("[broker]\nlisten = tcp://127.0.0.1:7000\n"
	                      "feed = tcp://127.0.0.1:7000\n"),
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(errs.text, "also a listener"));
}
END_TEST

START_TEST(test_environment)
{
	setenv("REDIS_HOST", "redis.example", 1);
	setenv("REDIS_PORT", "7001", 1);
	setenv("REDIS_PASSWORD", "s3cret", 1);
	ck_assert_int_eq(load("[redis]\nhost = a\nport = 1\n"), CB_OK);
	ck_assert_str_eq(cfg.redis.host, "redis.example");
	ck_assert_int_eq(cfg.redis.port, 7001);
	ck_assert_str_eq(cfg.redis.password, "s3cret");
	cbd_config_fini(&cfg);
	setenv("REDIS_PORT", "seventy", 1);
	ck_assert_int_eq(load(""), CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(errs.text, "REDIS_PORT"));
}
END_TEST

START_TEST(test_secret_not_echoed)
{
	/* A bad string value is never repeated in the message. */
	ck_assert_int_eq(load("[redis]\npassword = hunter2\npassword = x\n"),
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_null(strstr(errs.text, "hunter2"));
}
END_TEST

START_TEST(test_set_listeners)
{
	char *urls[] = { "ipc:///tmp/x.sock", "tcp://127.0.0.1:1" };
	char *bad[]  = { "udp://x" };

	ck_assert_int_eq(load("[broker]\nlisten = ipc:///a\n"), CB_OK);
	ck_assert_int_eq(
	    cbd_config_set_listeners(&cfg, urls, 2, &errs), CB_OK);
	ck_assert_uint_eq(cfg.n_listen, 2);
	ck_assert_str_eq(cfg.listen[0], "ipc:///tmp/x.sock");
	ck_assert_int_eq(cbd_config_set_listeners(&cfg, bad, 1, &errs),
	    CB_INVALID_ARGUMENT);
	ck_assert_uint_eq(cfg.n_listen, 2);
}
END_TEST

START_TEST(test_missing_file)
{
	ck_assert_int_eq(
	    cbd_config_load(&cfg, "/nonexistent/x.conf", &errs), CB_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(errs.text, "/nonexistent/x.conf"));
}
END_TEST

START_TEST(test_durations_and_sizes)
{
	uint64_t ms = 7;
	size_t   sz = 7;

	ck_assert_int_eq(cbd_parse_duration_ms("30m", &ms), 0);
	ck_assert_uint_eq(ms, 1800000);
	ck_assert_int_eq(cbd_parse_duration_ms("24h", &ms), 0);
	ck_assert_uint_eq(ms, 86400000);
	ck_assert_int_eq(cbd_parse_duration_ms("1d", &ms), 0);
	ck_assert_uint_eq(ms, 86400000);
	ck_assert_int_eq(cbd_parse_duration_ms("0", &ms), 0);
	ck_assert_uint_eq(ms, 0);
	/* One grammar with the command line: sums of terms. */
	ck_assert_int_eq(cbd_parse_duration_ms("1h30m", &ms), 0);
	ck_assert_uint_eq(ms, 5400000);
	ck_assert_int_eq(cbd_parse_duration_ms("1d500ms", &ms), 0);
	ck_assert_uint_eq(ms, 86400500);
	ck_assert_int_eq(cbd_parse_duration_ms("1h30", &ms), -1);
	ck_assert_int_eq(cbd_parse_duration_ms("30m1h", &ms), 0);
	ck_assert_uint_eq(ms, 5400000);
	ck_assert_int_eq(
	    cbd_duration_parse("1500", CBD_DURATION_BARE_MS, &ms), 0);
	ck_assert_uint_eq(ms, 1500);
	ck_assert_int_eq(
	    cbd_duration_parse("1s500", CBD_DURATION_BARE_MS, &ms), -1);
	ms = 7;
	ck_assert_int_eq(cbd_parse_duration_ms("15", &ms), -1);
	ck_assert_int_eq(cbd_parse_duration_ms("-1s", &ms), -1);
	ck_assert_int_eq(cbd_parse_duration_ms("1w", &ms), -1);
	ck_assert_int_eq(cbd_parse_duration_ms("", &ms), -1);
	ck_assert_int_eq(
	    cbd_parse_duration_ms("99999999999999999999s", &ms), -1);
	ck_assert_uint_eq(ms, 7);
	ck_assert_int_eq(cbd_parse_size("512k", &sz), 0);
	ck_assert_uint_eq(sz, 524288);
	ck_assert_int_eq(cbd_parse_size("1MB", &sz), 0);
	ck_assert_uint_eq(sz, 1048576);
	ck_assert_int_eq(cbd_parse_size("100", &sz), 0);
	ck_assert_uint_eq(sz, 100);
	ck_assert_int_eq(cbd_parse_size("1t", &sz), -1);
	ck_assert_int_eq(cbd_parse_size("k", &sz), -1);
}
END_TEST

START_TEST(test_shipped_config)
{
	/* The default config, the operator's manual, must itself load. */
	ck_assert_int_eq(
	    cbd_config_load(&cfg, CBT_SHIPPED_CONFIG, &errs), CB_OK);
	ck_assert_int_eq(errs.count, 0);
	ck_assert_str_eq(cfg.listen[0], CB_DEFAULT_URL);
}
END_TEST

/* The events examples/workflow/schema.sql's triggers send. */
static const char *const notified[] = { "users.created", "users.updated",
	"users.deleted", "technicians.changed", "schedules.changed",
	"orders.changed", "tasks.changed", "tasks.unassigned_changed",
	"reports.refreshed", "workflow.bulk_changed" };

START_TEST(test_workflow_config)
{
	/* The demo's policy: every resource must pass the whole check. */
	ck_assert_msg(
	    cbd_config_load(&cfg, CBT_WORKFLOW_CONFIG, &errs) == CB_OK, "%s",
	    errs.text != NULL ? errs.text : "");
	ck_assert_uint_ge(cfg.n_resources, 15);
	ck_assert_ptr_nonnull(cbd_config_resource(&cfg, "users.profile"));
	ck_assert_ptr_nonnull(
	    cbd_config_resource(&cfg, "schedules.technician_date"));
	ck_assert_ptr_nonnull(cbd_config_resource(&cfg, "reports.dashboard"));
	/* Every event schema.sql's triggers send has its rule, and no rule
	 * is left that no write sends. */
	ck_assert_str_eq(cfg.db.notify_channel, "cachebroker");
	for (size_t i = 0; i < sizeof(notified) / sizeof(notified[0]); i++) {
		ck_assert_msg(cbd_config_event(&cfg, notified[i]) != NULL,
		    "no [event %s]", notified[i]);
	}
	ck_assert_uint_eq(
	    cfg.n_events, sizeof(notified) / sizeof(notified[0]));
	/* DESIGN.md's start-up warming. */
	ck_assert_uint_eq(cfg.n_warms, 10);
	for (size_t i = 0; i < cfg.n_warms; i++) {
		ck_assert_msg(cfg.warms[i].startup, "%s", cfg.warms[i].name);
	}
	ck_assert_ptr_nonnull(cbd_config_warm(&cfg, "users.active_profiles"));
	ck_assert_ptr_nonnull(cbd_config_warm(&cfg, "schedules.next_days"));
	ck_assert_ptr_nonnull(cbd_config_warm(&cfg, "reports.performance"));
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s  = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_every_error_has_its_line);
	tcase_add_test(tc, test_line_syntax);
	tcase_add_test(tc, test_relations);
	tcase_add_test(tc, test_max_ttl);
	tcase_add_test(tc, test_listen_urls);
	tcase_add_test(tc, test_feed_url);
	tcase_add_test(tc, test_environment);
	tcase_add_test(tc, test_secret_not_echoed);
	tcase_add_test(tc, test_set_listeners);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_durations_and_sizes);
	tcase_add_test(tc, test_shipped_config);
	tcase_add_test(tc, test_workflow_config);
	tcase_add_test(tc, test_auth_section);
	tcase_add_test(tc, test_pin);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_namespaces);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(config_suite)

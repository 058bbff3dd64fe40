/* SPDX-License-Identifier: MIT */
/* Unit tests of rules.c and policy.c: resources, parameters, keys, TTL
 * rules (by date, by period, jitter), events, warm strategies, the
 * snapshot. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "policy.h"
#include "test_main.h"
#include "warm.h"

static cbd_config cfg;
static cbd_errors errs;

static const char policy[] =
    "[database]\n"
    "[resource schedules.day]\n"
    "key = schedules:technician:{id}:date:{date}\n"
    "param = id int\n"
    "param = date date\n"
    "sql = SELECT x FROM s WHERE t = $1\n"
    "  AND d = $2::date\n"
    "ttl = by-date {date} past 24h today 30m future 2h\n"
    "[resource reports.perf]\n"
    "key = reports:performance:{tech}:{period}\n"
    "param = tech int\n"
    "param = period text\n"
    "sql = SELECT r($1, $2)\n"
    "ttl = by-period {period} realtime 5m daily 1h historical 24h\n"
    "[resource users.all]\n"
    "key = users:all-users\n"
    "sql = SELECT json_agg(u)::text FROM users u\n"
    "ttl = 5m\n"
    "negative_ttl = 10s\n"
    "stale_if_error = 1m\n"
    "early_refresh = 1.5\n";

static void
setup(void)
{
	memset(&errs, 0, sizeof(errs));
	ck_assert_msg(
	    cbd_config_load_string(&cfg, "p.conf", policy, &errs) == CB_OK,
	    "%s", errs.text != NULL ? errs.text : "");
}

static void
teardown(void)
{
	cbd_config_fini(&cfg);
	cbd_errors_fini(&errs);
}

START_TEST(test_parsed)
{
	const cbd_resource *r = cbd_config_resource(&cfg, "schedules.day");

	ck_assert_uint_eq(cfg.n_resources, 3);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->ns, "schedules");
	ck_assert_uint_eq(r->n_params, 2);
	ck_assert_int_eq(r->params[1].type, CBD_PARAM_DATE);
	/* The indented line continued the SQL. */
	ck_assert_str_eq(
	    r->sql, "SELECT x FROM s WHERE t = $1 AND d = $2::date");
	ck_assert_int_eq(r->ttl.kind, CBD_TTL_BY_DATE);
	r = cbd_config_resource(&cfg, "users.all");
	ck_assert_uint_eq(r->ttl.ms, 300000);
	ck_assert_uint_eq(r->negative_ttl_ms, 10000);
	ck_assert_uint_eq(r->stale_ms, 60000);
	ck_assert(r->early_beta == 1.5);
	ck_assert_ptr_null(cbd_config_resource(&cfg, "users.none"));
}
END_TEST

static cb_status
bind(const char *res, const char *n1, const char *v1, const char *n2,
    const char *v2, char *key, char *why)
{
	const char *names[] = { n1, n2 };
	const char *vals[]  = { v1, v2 };
	const char *values[CBD_MAX_PARAMS];

	return cbd_resource_bind(cbd_config_resource(&cfg, res),
	    n1 == NULL       ? 0
	        : n2 == NULL ? 1
	                     : 2,
	    names, vals, values, key, 256, why, 128);
}

START_TEST(test_bind)
{
	char key[256];
	char why[128];

	ck_assert_int_eq(
	    bind("schedules.day", "date", "2026-11-26", "id", "7", key, why),
	    CB_OK);
	ck_assert_str_eq(key, "schedules:technician:7:date:2026-11-26");
	ck_assert_int_eq(
	    bind("users.all", NULL, NULL, NULL, NULL, key, why), CB_OK);
	ck_assert_str_eq(key, "users:all-users");
	/* Missing, unknown, mistyped and key-unsafe values. */
	ck_assert_int_eq(
	    bind("schedules.day", "id", "7", NULL, NULL, key, why),
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(why, "needs parameter 'date'"));
	ck_assert_int_eq(
	    bind("schedules.day", "id", "7", "day", "x", key, why),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(bind("schedules.day", "id", "seven", "date",
	                     "2026-11-26", key, why),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    bind("schedules.day", "id", "7", "date", "26.11.2026", key, why),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    bind("schedules.day", "id", "7", "date", "2026-13-01", key, why),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    bind("reports.perf", "tech", "1", "period", "a b", key, why),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(
	    bind("reports.perf", "tech", "1", "period", "da*", key, why),
	    CB_INVALID_ARGUMENT);
}
END_TEST

static uint64_t
ttl_for(const char *res, const char *v0, const char *v1, int today)
{
	const char *values[CBD_MAX_PARAMS] = { v0, v1 };
	uint64_t    ms                     = 0;
	char        why[128];

	ck_assert_int_eq(cbd_resource_ttl_ms(cbd_config_resource(&cfg, res),
	                     values, today, &ms, why, sizeof(why)),
	    CB_OK);
	return ms;
}

START_TEST(test_ttl_by_date)
{
	/* Around midnight, "today" is whatever date the zone says: the
	 * rule compares dates only. */
	ck_assert_uint_eq(
	    ttl_for("schedules.day", "1", "2026-11-25", 20261126), 86400000);
	ck_assert_uint_eq(
	    ttl_for("schedules.day", "1", "2026-11-26", 20261126), 1800000);
	ck_assert_uint_eq(
	    ttl_for("schedules.day", "1", "2026-11-27", 20261126), 7200000);
	/* The same date the next day is in the past. */
	ck_assert_uint_eq(
	    ttl_for("schedules.day", "1", "2026-11-26", 20261127), 86400000);
	/* Across a year. */
	ck_assert_uint_eq(
	    ttl_for("schedules.day", "1", "2027-01-01", 20261231), 7200000);
	ck_assert_uint_eq(
	    ttl_for("schedules.day", "1", "2026-12-31", 20270101), 86400000);
}
END_TEST

START_TEST(test_ttl_by_period)
{
	const char *values[CBD_MAX_PARAMS] = { "1", "weekly" };
	uint64_t    ms                     = 7;
	char        why[128];

	ck_assert_uint_eq(ttl_for("reports.perf", "1", "realtime", 0), 300000);
	ck_assert_uint_eq(ttl_for("reports.perf", "1", "daily", 0), 3600000);
	ck_assert_uint_eq(
	    ttl_for("reports.perf", "1", "historical", 0), 86400000);
	ck_assert_int_eq(
	    cbd_resource_ttl_ms(cbd_config_resource(&cfg, "reports.perf"),
	        values, 0, &ms, why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(why, "weekly"));
}
END_TEST

START_TEST(test_jitter)
{
	uint64_t lo = UINT64_MAX;
	uint64_t hi = 0;

	for (uint32_t r = 0; r < 100000; r += 7) {
		uint64_t v = cbd_rule_jitter(1000000, r * 2654435761u);
		lo         = v < lo ? v : lo;
		hi         = v > hi ? v : hi;
	}
	ck_assert_uint_ge(lo, 900000);
	ck_assert_uint_le(hi, 1100000);
	/* It spreads: not all the same. */
	ck_assert_uint_gt(hi - lo, 150000);
	ck_assert_uint_eq(cbd_rule_jitter(3, 12345), 3);
}
END_TEST

START_TEST(test_invalid_resources)
{
	cbd_config c;
	cbd_errors e = { 0 };

	ck_assert_int_eq(cbd_config_load_string(&c, "bad.conf",
	                     "[database]\n"                    /* 1 */
	                     "[resource users.profile]\n"      /* 2 */
	                     "key = users:profile:{user_id}\n" /* 3 */
	                     "param = user_id int\n"           /* 4 */
	                     "sql = SELECT 1\n"                /* 5 */
	                     "ttl = 1h\n"                      /* 6 */
	                     "[resource users.profile]\n"      /* 7 */
	                     "[resource users.x]\n"            /* 8 */
	                     "key = users:x:{a}\n"             /* 9 */
	                     "param = b int\n"                 /* 10 */
	                     "sql = SELECT $1, $2\n"           /* 11 */
	                     "ttl = by-week {b} x 1h\n"        /* 12 */
	                     "[resource tasks.y]\n"            /* 13 */
	                     "key = users:y\n"                 /* 14 */
	                     "sql = SELECT 1\n"                /* 15 */
	                     "ttl = 5m\n"                      /* 16 */
	                     "[resource tasks.z]\n"            /* 17 */
	                     "key = tasks:z\n",                /* 18 */
	                     &e),
	    CB_INVALID_ARGUMENT);
	/* The SQL does not take the template's parameter. */
	ck_assert_ptr_nonnull(strstr(e.text, "bad.conf:5: sql does not use"));
	ck_assert_ptr_nonnull(strstr(
	    e.text, "bad.conf:7: resource 'users.profile' is declared twice"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:12: ttl: unknown ttl rule"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:9: key names a parameter"));
	ck_assert_ptr_nonnull(strstr(e.text, "bad.conf:11: sql uses $2"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:14: key 'users:y' must start"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:17: resource 'tasks.z' needs"));
	cbd_errors_fini(&e);

	/* Resources without a database are refused. */
	ck_assert_int_eq(cbd_config_load_string(&c, "nodb.conf",
	                     "[resource a.b]\nkey = a:b\nsql = SELECT 1\n"
	                     "ttl = 1m\n",
	                     &e),
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(e.text, "[database]"));
	cbd_errors_fini(&e);
}
END_TEST

START_TEST(test_events)
{
	cbd_config       c;
	cbd_errors       e = { 0 };
	const cbd_event *ev;

	ck_assert_msg(cbd_config_load_string(&c, "ev.conf",
	                  "[event users.updated]\n"
	                  "param = user_id int\n"
	                  "invalidate = users:profile:{user_id}\n"
	                  "invalidate = users:technician:{user_id}:*\n",
	                  &e) == CB_OK,
	    "%s", e.text != NULL ? e.text : "");
	ev = cbd_config_event(&c, "users.updated");
	ck_assert_ptr_nonnull(ev);
	ck_assert_uint_eq(ev->n_targets, 2);
	ck_assert_ptr_null(cbd_config_event(&c, "users.created"));
	cbd_config_fini(&c);

	ck_assert_int_eq(cbd_config_load_string(&c, "bad.conf",
	                     "[event a.b]\n"   /* 1: invalidates nothing */
	                     "param = x int\n" /* 2 */
	                     "[event c.d]\n"   /* 3 */
	                     "invalidate = nocolon\n"      /* 4 */
	                     "[event e.f]\n"               /* 5 */
	                     "invalidate = users:{nope}\n" /* 6 */
	                     "[event g.h]\n"               /* 7 */
	                     "param = y int\n"             /* 8 */
	                     "invalidate = users:all\n"    /* 9: y unused */
	                     "[event g.h]\n"               /* 10: twice */
	                     "[event i.j]\n"               /* 11 */
	                     "colour = red\n",             /* 12 */
	                     &e),
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:1: event 'a.b' invalidates nothing"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:4: invalidate 'nocolon'"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:6: invalidate 'users:{nope}' names"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:7: event 'g.h': parameter 'y'"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:10: event 'g.h' is declared twice"));
	ck_assert_ptr_nonnull(strstr(
	    e.text, "bad.conf:12: unknown key 'colour' in [event i.j]"));
	cbd_errors_fini(&e);
}
END_TEST

START_TEST(test_warm_and_notify)
{
	cbd_config      c;
	cbd_errors      e = { 0 };
	const cbd_warm *w;
	const char     *base = "[database]\n"
	                       "notify_channel = app_events\n"
	                       "[resource users.profile]\n"
	                       "key = users:profile:{user_id}\n"
	                       "param = user_id int\n"
	                       "sql = SELECT p($1)\n"
	                       "ttl = 1h\n";
	char            text[1024];

	snprintf(text, sizeof(text),
	    "%s[warm users.active]\nresource = users.profile\n"
	    "sql = SELECT id AS user_id\n  FROM users WHERE active\n"
	    "concurrency = 4\n[warm later]\nresource = users.profile\n"
	    "sql = SELECT 1 AS user_id\nstartup = no\n",
	    base);
	ck_assert_msg(cbd_config_load_string(&c, "w.conf", text, &e) == CB_OK,
	    "%s", e.text != NULL ? e.text : "");
	ck_assert_str_eq(c.db.notify_channel, "app_events");
	ck_assert_uint_eq(c.n_warms, 2);
	w = cbd_config_warm(&c, "users.active");
	ck_assert_ptr_nonnull(w);
	ck_assert_uint_eq(w->res, 0);
	ck_assert_str_eq(
	    w->sql, "SELECT id AS user_id FROM users WHERE active");
	ck_assert_int_eq(w->startup, 1);
	ck_assert_uint_eq(w->concurrency, 4);
	w = cbd_config_warm(&c, "later");
	ck_assert_int_eq(w->startup, 0);
	ck_assert_uint_eq(w->concurrency, 2);
	cbd_config_fini(&c);

	ck_assert_int_eq(cbd_config_load_string(&c, "bad.conf",
	                     "[database]\n"                /* 1 */
	                     "notify_channel = Bad-Name\n" /* 2 */
	                     "[warm a]\n"                  /* 3: no sql */
	                     "resource = users.nope\n"     /* 4 */
	                     "[warm b]\n"                  /* 5 */
	                     "startup = maybe\n"           /* 6 */
	                     "concurrency = 0\n"           /* 7 */
	                     "colour = red\n"              /* 8 */
	                     "[warm b]\n",                 /* 9: twice */
	                     &e),
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(e.text, "notify_channel 'Bad-Name'"));
	ck_assert_ptr_nonnull(strstr(
	    e.text, "bad.conf:3: warm strategy 'a' needs resource and sql"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:5: warm strategy 'b' needs resource"));
	ck_assert_ptr_nonnull(strstr(e.text, "bad.conf:6: startup: not yes"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:7: concurrency: not a number"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:8: unknown key 'colour' in [warm b]"));
	ck_assert_ptr_nonnull(
	    strstr(e.text, "bad.conf:9: warm strategy 'b' is declared twice"));
	cbd_errors_fini(&e);

	ck_assert_int_eq(cbd_config_load_string(&c, "res.conf",
	                     "[database]\n[warm a]\n"
	                     "resource = users.nope\n" /* 3 */
	                     "sql = SELECT 1\n",
	                     &e),
	    CB_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(
	    e.text, "res.conf:3: resource 'users.nope' is not declared"));
	cbd_errors_fini(&e);
}
END_TEST

/* The snapshot: holds, generations, statistics carried over by name,
 * limits read whole. */
START_TEST(test_snapshot)
{
	cbd_config        a = { 0 }, b = { 0 };
	cbd_errors        e = { 0 };
	cbd_policy       *p1;
	cbd_policy       *p2;
	cbd_limits_pub    pub = { 0 };
	cbd_limits        lim;
	cbd_warm_stats   *st;
	static const char base[] =
	    "[database]\n"
	    "[resource users.a]\nkey = users:a:{id}\nparam = id int\n"
	    "sql = SELECT $1::text\nttl = 1m\n"
	    "[resource users.b]\nkey = users:b:{id}\nparam = id int\n"
	    "sql = SELECT $1::text\nttl = 1m\n"
	    "[warm w1]\nresource = users.a\nsql = SELECT 1 AS id\n";

	ck_assert_int_eq(cbd_config_load_string(&a, "a", base, &e), CB_OK);
	ck_assert_int_eq(cbd_config_load_string(&b, "b",
	                     "[broker]\nmax_key_size = 99\n"
	                     "[policy]\nmax_ttl = 7d\n"
	                     "[database]\n"
	                     "[resource users.b]\nkey = users:b:{id}\n"
	                     "param = id int\nsql = SELECT $1::text\n"
	                     "ttl = 2m\n"
	                     "[warm w1]\nresource = users.b\n"
	                     "sql = SELECT 1 AS id\n",
	                     &e),
	    CB_OK);
	ck_assert_int_eq(cbd_policy_alloc(&p1, &a, NULL), CB_OK);
	ck_assert_ptr_null(a.resources); /* moved */
	ck_assert_uint_eq(p1->gen, 1);
	p1->load_us[1] = 1234; /* users.b */
	st             = cbd_policy_warm_stats(p1, "w1");
	ck_assert_ptr_nonnull(st);
	st->runs = 3;
	ck_assert_ptr_null(cbd_policy_warm_stats(p1, "w2"));
	ck_assert_int_eq(cbd_policy_alloc(&p2, &b, p1), CB_OK);
	ck_assert_uint_eq(p2->gen, 2);
	ck_assert_uint_eq(p2->load_us[0], 1234); /* users.b, now first */
	ck_assert_uint_eq(cbd_policy_warm_stats(p2, "w1")->runs, 3);
	ck_assert_uint_eq(p2->limits.max_key_size, 99);

	/* A hold keeps the old one whole after its owner let go. */
	ck_assert_ptr_eq(cbd_policy_hold(p1), p1);
	cbd_policy_rele(p1);
	ck_assert_str_eq(p1->cfg->resources[0].name, "users.a");
	cbd_policy_rele(p1);

	cbd_limits_publish(&pub, &p2->limits);
	cbd_limits_read(&pub, &lim);
	ck_assert_uint_eq(lim.max_key_size, 99);
	ck_assert_uint_eq(lim.max_message_size, p2->limits.max_message_size);
	ck_assert_uint_eq(lim.default_deadline_ms, 5000);
	ck_assert_uint_eq(lim.max_ttl_ms, 7 * 86400000ull);
	ck_assert_uint_eq(atomic_load(&pub.seq) % 2, 0);
	cbd_policy_rele(p2);
	cbd_policy_rele(NULL);
	cbd_errors_fini(&e);
}
END_TEST

static Suite *
policy_suite(void)
{
	Suite *s  = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parsed);
	tcase_add_test(tc, test_bind);
	tcase_add_test(tc, test_ttl_by_date);
	tcase_add_test(tc, test_ttl_by_period);
	tcase_add_test(tc, test_jitter);
	tcase_add_test(tc, test_invalid_resources);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_warm_and_notify);
	tcase_add_test(tc, test_snapshot);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(policy_suite)

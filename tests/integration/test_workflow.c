/* SPDX-License-Identifier: MIT */
/* The workflow demo end to end: examples/workflow's schema (with its
 * triggers), data and policy on real PostgreSQL and Redis. Every event
 * rule is reached by a write through psql; warming fills the cache. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "it.h"

#define WF_GONE_MS 5000   /* a write's keys are gone within this */
#define WF_SETTLE_MS 300  /* then the other keys must still be there */
#define WF_WARM_MS 60000  /* start-up warming finishes within this */
#define WF_PSQL_MS 120000 /* one psql run (the load takes seconds) */
#define WF_MAX 12         /* fetches, keys per case */

/*
 * One PostgreSQL for the suite, loaded once (initdb and data.sql take
 * seconds); each test has its own Redis and broker. The suite's writes
 * change the data a little: each test reads what it needs from the
 * database as it is.
 */
static char *dir;       /* psql's output */
static char *wf_db;     /* conninfo of the database "workflow" */
static char *conf_text; /* examples/workflow/cachebroker.conf */
static char *conf_cold; /* made fit for the harness, no warming */
static char *conf_warm; /* the same with start-up warming */
static char  psql_bin[600];
static char  pgport_env[32];

/* Values the cases name as {name}, read from the loaded data, in order
 * (a query may name the values above it). */
typedef struct wf_token {
	const char *name;
	const char *sql;
	char        value[32];
} wf_token;

static wf_token tokens[] = {
	{ "today", "SELECT current_date", "" },
	{ "d3", "SELECT current_date + 3", "" },
	{ "tech",
	    "SELECT min(id) FROM workflow.users "
	    "WHERE role = 'technician' AND active",
	    "" },
	{ "tech2",
	    "SELECT min(id) FROM workflow.users "
	    "WHERE role = 'technician' AND active AND id > {tech}",
	    "" },
	{ "user",
	    "SELECT min(id) FROM workflow.users "
	    "WHERE role = 'dispatcher' AND active",
	    "" },
	/* an order with a task of {tech}, and that task */
	{ "order",
	    "SELECT min(order_id) FROM workflow.tasks "
	    "WHERE technician_id = {tech}",
	    "" },
	{ "task",
	    "SELECT min(id) FROM workflow.tasks "
	    "WHERE order_id = {order} AND technician_id = {tech}",
	    "" },
	/* a customer of another order, and that customer's first order */
	{ "customer",
	    "SELECT min(customer_id) FROM workflow.orders "
	    "WHERE customer_id <> "
	    "(SELECT customer_id FROM workflow.orders WHERE id = {order})",
	    "" },
	{ "corder",
	    "SELECT min(id) FROM workflow.orders "
	    "WHERE customer_id = {customer}",
	    "" },
	/* an order with a pending task (no technician) */
	{ "porder",
	    "SELECT min(order_id) FROM workflow.tasks "
	    "WHERE status = 'pending' "
	    "AND order_id NOT IN ({order}, {corder})",
	    "" },
};

#define N_TOKENS (sizeof(tokens) / sizeof(tokens[0]))

/*
 * One event rule of the workflow config, reached by a write: the keys
 * are cached (fetch), the write goes through psql, its triggers notify,
 * and the broker must remove gone and leave kept.
 */
typedef struct wf_case {
	const char *event;         /* the [event] rule the write reaches */
	const char *before;        /* SQL run before the broker starts */
	const char *write;         /* SQL, through psql */
	const char *fetch[WF_MAX]; /* "RESOURCE NAME=VALUE..." */
	const char *gone[WF_MAX];  /* keys the write must remove */
	const char *kept[WF_MAX];  /* keys it must leave */
} wf_case;

static const wf_case cases[] = {
	{
	    .event = "users.created",
	    .write =
	        "INSERT INTO workflow.users (id, email, first_name, "
	        "last_name, role) VALUES (20001, 'new.20001@example.com', "
	        "'New', 'Customer', 'customer')",
	    /* 20001 first: "not found" is cached (negative_ttl) */
	    .fetch = { "users.profile user_id=20001", "users.all_users",
	        "users.all_technicians", "reports.dashboard",
	        "users.profile user_id={user}", "tasks.recent" },
	    .gone  = { "users:profile:20001", "users:all-users",
	         "users:all-technicians", "reports:dashboard" },
	    .kept  = { "users:profile:{user}", "tasks:recent" },
	},
	{
	    /* A customer: tasks.order shows the customer's phone. */
	    .event = "users.updated",
	    .write = "UPDATE workflow.users SET phone = '+1-555-0100000' "
	             "WHERE id = {customer}",
	    .fetch = { "users.profile user_id={customer}", "users.all_users",
	        "users.all_technicians", "reports.dashboard",
	        "tasks.order order_id={corder}",
	        "users.profile user_id={user}", "tasks.order order_id={order}",
	        "schedules.today" },
	    .gone  = { "users:profile:{customer}", "users:all-users",
	         "users:all-technicians", "reports:dashboard",
	         "tasks:order:{corder}" },
	    .kept  = { "users:profile:{user}", "tasks:order:{order}",
	         "schedules:today" },
	},
	{
	    .event = "users.deleted",
	    .before =
	        "INSERT INTO workflow.users (id, email, first_name, "
	        "last_name, role) VALUES (20002, 'gone.20002@example.com', "
	        "'Short', 'Lived', 'customer')",
	    .write = "DELETE FROM workflow.users WHERE id = 20002",
	    .fetch = { "users.profile user_id=20002", "users.all_users",
	        "reports.dashboard", "users.profile user_id={user}" },
	    .gone  = { "users:profile:20002", "users:all-users",
	         "reports:dashboard" },
	    .kept  = { "users:profile:{user}" },
	},
	{
	    .event = "technicians.changed",
	    .write = "UPDATE workflow.users SET region = 'hills' "
	             "WHERE id = {tech}",
	    .fetch = { "users.technician_schedule id={tech}",
	        "schedules.technician_date id={tech} date={today}",
	        "schedules.today", "tasks.technician_active id={tech}",
	        "reports.performance technician_id={tech} period=daily",
	        "users.profile user_id={tech}",
	        "users.technician_schedule id={tech2}",
	        "schedules.technician_date id={tech2} date={today}",
	        "tasks.technician_active id={tech2}",
	        "reports.performance technician_id={tech2} period=daily" },
	    .gone  = { "users:technician:{tech}:schedule",
	         "schedules:technician:{tech}:date:{today}", "schedules:today",
	         "tasks:technician:{tech}:active",
	         "reports:performance:{tech}:daily", "users:profile:{tech}" },
	    .kept  = { "users:technician:{tech2}:schedule",
	         "schedules:technician:{tech2}:date:{today}",
	         "tasks:technician:{tech2}:active",
	         "reports:performance:{tech2}:daily" },
	},
	{
	    /* The technician takes leave in three days. */
	    .event = "schedules.changed",
	    .write = "UPDATE workflow.schedule_days SET status = 'leave', "
	             "shift_start = NULL, shift_end = NULL "
	             "WHERE technician_id = {tech} AND day = current_date + 3",
	    .fetch = { "schedules.technician_date id={tech} date={d3}",
	        "users.technician_schedule id={tech}", "schedules.today",
	        "schedules.week start_date={today}", "reports.dashboard",
	        "schedules.technician_date id={tech} date={today}",
	        "schedules.technician_date id={tech2} date={d3}",
	        "users.technician_schedule id={tech2}",
	        "users.profile user_id={tech}" },
	    .gone  = { "schedules:technician:{tech}:date:{d3}",
	         "users:technician:{tech}:schedule", "schedules:today",
	         "schedules:week:{today}", "reports:dashboard" },
	    .kept  = { "schedules:technician:{tech}:date:{today}",
	         "schedules:technician:{tech2}:date:{d3}",
	         "users:technician:{tech2}:schedule", "users:profile:{tech}" },
	},
	{
	    .event = "orders.changed",
	    .write = "UPDATE workflow.orders SET priority = 'urgent' "
	             "WHERE id = {corder}",
	    .fetch = { "tasks.order order_id={corder}", "reports.dashboard",
	        "tasks.order order_id={order}", "tasks.recent" },
	    .gone  = { "tasks:order:{corder}", "reports:dashboard" },
	    .kept  = { "tasks:order:{order}", "tasks:recent" },
	},
	{
	    .event = "tasks.changed",
	    .write =
	        "UPDATE workflow.tasks SET title = title || ' (checked)', "
	        "updated_at = now() WHERE id = {task}",
	    .fetch = { "tasks.order order_id={order}",
	        "tasks.technician_active id={tech}",
	        "tasks.status status=assigned", "tasks.recent",
	        "tasks.completed date={today}", "reports.dashboard",
	        "reports.performance technician_id={tech} period=realtime",
	        "schedules.technician_date id={tech} date={today}",
	        "reports.analytics type=status period=realtime",
	        "tasks.technician_active id={tech2}",
	        "reports.performance technician_id={tech} period=daily",
	        "reports.analytics type=status period=daily" },
	    .gone  = { "tasks:order:{order}", "tasks:technician:{tech}:active",
	         "tasks:status:assigned", "tasks:recent",
	         "tasks:completed:{today}", "reports:dashboard",
	         "reports:performance:{tech}:realtime",
	         "schedules:technician:{tech}:date:{today}",
	         "reports:analytics:status:realtime" },
	    .kept  = { "tasks:technician:{tech2}:active",
	         "reports:performance:{tech}:daily",
	         "reports:analytics:status:daily" },
	},
	{
	    .event = "tasks.unassigned_changed",
	    .write =
	        "INSERT INTO workflow.tasks (order_id, kind, title, "
	        "status, estimated_minutes, created_at, updated_at) "
	        "VALUES ({porder}, 'repair', 'Repair: boiler', 'pending', "
	        "90, now(), now())",
	    .fetch = { "tasks.order order_id={porder}",
	        "tasks.status status=pending", "tasks.recent",
	        "reports.dashboard",
	        "reports.analytics type=status period=daily",
	        "tasks.technician_active id={tech}",
	        "reports.performance technician_id={tech} period=realtime",
	        "tasks.order order_id={order}",
	        "reports.analytics type=durations period=daily" },
	    .gone  = { "tasks:order:{porder}", "tasks:status:pending",
	         "tasks:recent", "reports:dashboard",
	         "reports:analytics:status:daily" },
	    .kept  = { "tasks:technician:{tech}:active",
	         "reports:performance:{tech}:realtime", "tasks:order:{order}",
	         "reports:analytics:durations:daily" },
	},
	{
	    /* The nightly job; the event trigger sees it. */
	    .event = "reports.refreshed",
	    .write = "REFRESH MATERIALIZED VIEW CONCURRENTLY "
	             "workflow.technician_daily_stats",
	    /* The first is one string, split for the line length.
	     * NOLINTNEXTLINE(bugprone-suspicious-missing-comma) */
	    .fetch = { "reports.performance technician_id={tech} "
	               "period=historical",
	        "reports.analytics type=completion period=daily",
	        "reports.dashboard", "users.profile user_id={tech}",
	        "tasks.recent", "schedules.today" },
	    .gone  = { "reports:performance:{tech}:historical",
	         "reports:analytics:completion:daily", "reports:dashboard" },
	    .kept  = { "users:profile:{tech}", "tasks:recent",
	         "schedules:today" },
	},
	{
	    /* 200 users in one statement: more than 100 events. */
	    .event = "workflow.bulk_changed",
	    .write = "UPDATE workflow.users SET updated_at = now() "
	             "WHERE id <= 200",
	    .fetch = { "users.profile user_id={customer}", "schedules.today",
	        "tasks.recent", "reports.dashboard" },
	    .gone  = { "users:profile:{customer}", "schedules:today",
	         "tasks:recent", "reports:dashboard" },
	    .kept  = { NULL },
	},
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* expand copies tpl to out with every {name} replaced by its token. */
static void
expand(const char *tpl, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *c = tpl; *c != '\0'; c++) {
		const char *end = *c == '{' ? strchr(c, '}') : NULL;
		const char *v   = NULL;

		for (size_t i = 0; end != NULL && i < N_TOKENS; i++) {
			if (strlen(tokens[i].name) == (size_t) (end - c - 1) &&
			    strncmp(c + 1, tokens[i].name, end - c - 1) == 0) {
				v = tokens[i].value;
			}
		}
		if (v != NULL) {
			ck_assert_msg(v[0] != '\0', "%s: token not set", tpl);
			ck_assert_uint_lt(n + strlen(v), cap);
			memcpy(out + n, v, strlen(v));
			n += strlen(v);
			c = end;
			continue;
		}
		ck_assert_uint_lt(n + 1, cap);
		out[n++] = *c;
	}
	out[n] = '\0';
}

/* wf_value runs a query on the workflow database and copies its first
 * value into out. */
static void
wf_value(const char *sql, char *out, size_t cap)
{
	PGconn   *c = PQconnectdb(wf_db);
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK &&
	        PQntuples(r) == 1 && !PQgetisnull(r, 0, 0),
	    "%s: %s", sql, PQresultErrorMessage(r));
	snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
}

static long long
wf_count(const char *sql)
{
	char v[32];

	wf_value(sql, v, sizeof(v));
	return strtoll(v, NULL, 10);
}

/* psql runs the real psql on the workflow database with args (after the
 * connection), as the demo's users do; it must succeed. */
static void
psql(const char *const *args)
{
	const char *argv[16] = { psql_bin, "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-d", wf_db };
	size_t      n        = 7;
	char        log[600];
	char        st[64];
	cbh_spawn   sp;
	pid_t       pid;
	int         status;

	for (size_t i = 0; args[i] != NULL; i++) {
		ck_assert_uint_lt(n + 1, sizeof(argv) / sizeof(argv[0]));
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/psql.log", dir);
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.out  = log;
	sp.err  = log;
	ck_assert_int_eq(cbh_proc_spawn(&pid, &sp), 0);
	if (cbh_proc_wait(pid, WF_PSQL_MS, &status) != 0) {
		if (cbh_proc_stop(pid, SIGKILL, 5000, &status) != 0) {
			/* killed and reaped all the same */
		}
		cbh_file_print("psql", log);
		ck_abort_msg("psql did not finish in %d ms", WF_PSQL_MS);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cbh_file_print("psql", log);
		ck_abort_msg("psql %s: %s", argv[n - 1],
		    cbh_status_str(status, st, sizeof(st)));
	}
}

static void
psql_sql(const char *sql)
{
	char        text[1024];
	const char *args[] = { "-c", text, NULL };

	expand(sql, text, sizeof(text));
	psql(args);
}

/* repo_path: this file is tests/integration/test_workflow.c of the
 * repository (CMake compiles a source by its absolute path). */
static void
repo_path(const char *rel, char *out, size_t cap)
{
	const char *me   = __FILE__;
	const char *tail = strstr(me, "tests/integration/test_workflow.c");

	ck_assert_msg(me[0] == '/' && tail != NULL,
	    "cannot find the repository from %s", me);
	snprintf(out, cap, "%.*s%s", (int) (tail - me), me, rel);
}

/*
 * harness_config makes the workflow config fit the harness's merge: the
 * comments above its first section go (the merge wants every line in a
 * section), and its listen and Redis host and port give way to the
 * harness's (the merge would put the demo's in their place). Warm
 * strategies run at start-up only if warm. The database is the demo's
 * conninfo, which names no host or port: PGHOST and PGPORT in the
 * broker's environment point it at the suite's PostgreSQL.
 */
static char *
harness_config(bool warm)
{
	char       *out       = malloc(2 * strlen(conf_text) + 1);
	size_t      n         = 0;
	char        sect[128] = "";
	const char *p         = conf_text;

	ck_assert_ptr_nonnull(out);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t) (nl - p) + 1 : strlen(p);
		char   key[64] = "";

		if (p[0] == '[') {
			snprintf(sect, sizeof(sect), "%.*s",
			    (int) strcspn(p + 1, "]\n"), p + 1);
		} else if (p[0] != ' ' && p[0] != '\t' && p[0] != ';' &&
		    p[0] != '#' && memchr(p, '=', len) != NULL) {
			snprintf(key, sizeof(key), "%.*s",
			    (int) strcspn(p, " \t="), p);
		}
		if (sect[0] == '\0' ||
		    (strcmp(sect, "broker") == 0 &&
		        strcmp(key, "listen") == 0) ||
		    (strcmp(sect, "redis") == 0 &&
		        (strcmp(key, "host") == 0 ||
		            strcmp(key, "port") == 0))) {
			/* the harness's */
		} else if (!warm && strncmp(sect, "warm ", 5) == 0 &&
		    strcmp(key, "startup") == 0) {
			n += (size_t) sprintf(out + n, "startup = no\n");
		} else {
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
	}
	out[n] = '\0';
	return out;
}

static void
suite_setup(void)
{
	char        schema[600];
	char        data[600];
	char        conf[600];
	const char *load[] = { "-1", "-f", schema, "-f", data, NULL };
	FILE       *f;
	int64_t     t0;

	it_pg_start("CREATE DATABASE workflow");
	if (it_pg == NULL) {
		return;
	}
	ck_assert_int_eq(cbh_tmpdir_create(&dir, "workflow"), 0);
	snprintf(psql_bin, sizeof(psql_bin), "psql");
	if ((f = popen("pg_config --bindir 2>/dev/null", "r")) != NULL) {
		char bindir[512] = "";
		if (fgets(bindir, sizeof(bindir), f) != NULL) {
			bindir[strcspn(bindir, "\n")] = '\0';
			snprintf(
			    psql_bin, sizeof(psql_bin), "%s/psql", bindir);
		}
		(void) pclose(f);
	}
	ck_assert_msg(access(psql_bin, X_OK) == 0, "no psql at %s", psql_bin);
	repo_path("examples/workflow/schema.sql", schema, sizeof(schema));
	repo_path("examples/workflow/data.sql", data, sizeof(data));
	repo_path("examples/workflow/cachebroker.conf", conf, sizeof(conf));
	ck_assert_int_eq(cbh_file_read(conf, &conf_text, NULL), 0);
	conf_cold = harness_config(false);
	conf_warm = harness_config(true);

	ck_assert_int_ge(
	    asprintf(&wf_db, "%s dbname=workflow", cbh_pg_conninfo(it_pg)), 0);
	snprintf(
	    pgport_env, sizeof(pgport_env), "PGPORT=%d", cbh_pg_port(it_pg));
	t0 = cbh_now_ms();
	psql(load);
	cbh_log("workflow demo loaded in %lld ms (schema.sql, data.sql)",
	    (long long) (cbh_now_ms() - t0));
	for (size_t i = 0; i < N_TOKENS; i++) {
		char sql[512];
		expand(tokens[i].sql, sql, sizeof(sql));
		wf_value(sql, tokens[i].value, sizeof(tokens[i].value));
	}
}

static void
suite_teardown(void)
{
	it_pg_stop();
	if (dir != NULL && cbh_tmpdir_remove(dir) != 0) {
		/* reported */
	}
	free(dir);
	free(wf_db);
	free(conf_text);
	free(conf_cold);
	free(conf_warm);
	dir = wf_db = conf_text = conf_cold = conf_warm = NULL;
}

/* start runs Redis and the broker with the workflow config and waits
 * until the LISTEN connection's first flush is applied. */
static void
start(const char *config)
{
	const char *const env[] = { "PGHOST=127.0.0.1", pgport_env, NULL };
	cbh_broker_opts   bo    = { .config = config, .env = env };
	cbh_env_opts      eo    = { .broker = &bo, .timeout_ms = 20000 };

	it_env = NULL;
	ck_assert_msg(cbh_env_start(&it_env, &eo) == 0,
	    "could not start Redis and the broker (see above)");
	it_wait_listening();
}

/* fetch reads "RESOURCE NAME=VALUE..." through the broker: the value, or
 * "not found" (negative_ttl), is cached. */
static void
fetch(const char *spec)
{
	char                          buf[512];
	char                         *words[1 + WF_MAX] = { NULL };
	char                         *save              = NULL;
	size_t                        n                 = 0;
	Cachebroker__V1__FetchRequest req =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry  e[WF_MAX];
	Cachebroker__V1__FetchRequest__ParamsEntry *ep[WF_MAX];
	Cachebroker__V1__FetchResponse             *resp = NULL;
	cb_result                                   res;
	cb_status                                   st;

	expand(spec, buf, sizeof(buf));
	for (char *w = strtok_r(buf, " ", &save); w != NULL;
	     w       = strtok_r(NULL, " ", &save)) {
		ck_assert_uint_lt(n, 1 + WF_MAX);
		words[n++] = w;
	}
	ck_assert_msg(n > 0, "empty fetch");
	req.resource = words[0];
	for (size_t i = 1; i < n; i++) {
		char *eq = strchr(words[i], '=');
		ck_assert_ptr_nonnull(eq);
		*eq = '\0';
		cachebroker__v1__fetch_request__params_entry__init(&e[i - 1]);
		e[i - 1].key   = words[i];
		e[i - 1].value = eq + 1;
		ep[i - 1]      = &e[i - 1];
	}
	req.n_params = n - 1;
	req.params   = ep;
	st           = cb_cache_fetch(it_env->client, &req, &resp, NULL, &res);
	ck_assert_msg(st == CB_OK || st == CB_NOT_FOUND, "fetch %s: %s (%s)",
	    spec, cb_status_str(st), res.message);
	cb_message_free(resp);
}

/* key_exists says whether the key of template tpl is in Redis. */
static bool
key_exists(const char *tpl)
{
	char key[256];

	expand(tpl, key, sizeof(key));
	return it_exists(key);
}

/* assert_key fails unless the key of template tpl is in Redis (want) or
 * is not; why says what the failure means. */
static void
assert_key(const wf_case *c, const char *tpl, bool want, const char *why)
{
	char key[256];

	expand(tpl, key, sizeof(key));
	ck_assert_msg(it_exists(key) == want, "%s: %s %s", c->event, key, why);
}

/*
 * For each event rule: cache its keys and unrelated ones, write through
 * psql, and see the write's own keys go while the others stay (and a
 * key outside the demo's namespaces, which even a bulk change leaves).
 */
static void
event_case(const wf_case *c)
{
	int64_t                           t0;
	bool                              left;
	Cachebroker__V1__MetricsResponse *m;

	if (!it_need_pg()) {
		return;
	}
	if (c->before != NULL) {
		psql_sql(c->before);
	}
	start(conf_cold);
	it_set_str("auth", "session:7", "kept");
	for (size_t i = 0; i < WF_MAX && c->fetch[i] != NULL; i++) {
		fetch(c->fetch[i]);
	}
	for (size_t i = 0; i < WF_MAX && c->gone[i] != NULL; i++) {
		assert_key(c, c->gone[i], true, "was not cached");
	}
	for (size_t i = 0; i < WF_MAX && c->kept[i] != NULL; i++) {
		assert_key(c, c->kept[i], true, "was not cached");
	}

	psql_sql(c->write);
	t0 = cbh_now_ms();
	do {
		left = false;
		for (size_t i = 0; i < WF_MAX && c->gone[i] != NULL; i++) {
			left = left || key_exists(c->gone[i]);
		}
		if (left) {
			cbh_sleep_ms(20);
		}
	} while (left && cbh_now_ms() - t0 < WF_GONE_MS);
	for (size_t i = 0; i < WF_MAX && c->gone[i] != NULL; i++) {
		assert_key(
		    c, c->gone[i], false, "was not invalidated in time");
	}
	cbh_sleep_ms(WF_SETTLE_MS);
	for (size_t i = 0; i < WF_MAX && c->kept[i] != NULL; i++) {
		assert_key(c, c->kept[i], true, "was invalidated");
	}
	it_get_str("auth", "session:7", "kept");
	m = it_metrics();
	ck_assert_uint_ge(m->notifications, 1);
	ck_assert_uint_eq(m->notification_errors, 0);
	cb_message_free(m);
}

START_TEST(test_event_rule)
{
	cbh_test_begin(cases[_i].event);
	event_case(&cases[_i]);
	cbh_test_end();
}
END_TEST

/* names lists the NAMEs of the config's "[KIND NAME]" sections. */
static size_t
names(const char *kind, char out[][64], size_t max)
{
	size_t      n = 0;
	size_t      k = strlen(kind);
	const char *p = conf_text;

	while ((p = strchr(p, '[')) != NULL) {
		if ((p == conf_text || p[-1] == '\n') &&
		    strncmp(p + 1, kind, k) == 0 && p[1 + k] == ' ') {
			ck_assert_uint_lt(n, max);
			snprintf(out[n++], 64, "%.*s",
			    (int) strcspn(p + 2 + k, "]"), p + 2 + k);
		}
		p++;
	}
	return n;
}

/* Every [event] rule of the workflow config has its case above. */
CBH_TEST(test_every_rule_has_a_case)
{
	char   events[64][64];
	size_t n;

	if (!it_need_pg()) {
		return;
	}
	n = names("event", events, 64);
	ck_assert_uint_eq(n, N_CASES);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < N_CASES; j++) {
			found =
			    found || strcmp(cases[j].event, events[i]) == 0;
		}
		ck_assert_msg(
		    found, "no test writes for [event %s]", events[i]);
	}
}

/*
 * Start-up warming stores what DESIGN.md lists (every active user's
 * profile, every active technician's next 8 days, their reports, the
 * lists, the dashboard); "cachebroker warm" runs it all again and prints
 * its table without errors.
 */
CBH_TEST(test_startup_warming)
{
	char                              warms[32][64];
	size_t                            n;
	Cachebroker__V1__MetricsResponse *m = NULL;
	char                              out[8192];
	char                              pat[128];
	long long                         active, techs;
	int64_t                           t0;

	if (!it_need_pg()) {
		return;
	}
	n = names("warm", warms, 32);
	ck_assert_uint_ge(n, 8);
	t0 = cbh_now_ms();
	start(conf_warm);
	for (;;) {
		size_t finished = 0;
		m               = it_metrics();
		for (size_t i = 0; i < m->n_warm; i++) {
			finished += m->warm[i]->runs > 0;
		}
		if (m->n_warm == n && finished == n) {
			break;
		}
		cb_message_free(m);
		ck_assert_msg(cbh_now_ms() - t0 < WF_WARM_MS,
		    "start-up warming did not finish in %d ms", WF_WARM_MS);
		cbh_sleep_ms(100);
	}
	cbh_log("start-up warming: %lld ms after start",
	    (long long) (cbh_now_ms() - t0));
	for (size_t i = 0; i < m->n_warm; i++) {
		ck_assert_msg(m->warm[i]->last->errors == 0 &&
		        m->warm[i]->last->error[0] == '\0',
		    "%s: %llu errors, '%s'", m->warm[i]->strategy,
		    (unsigned long long) m->warm[i]->last->errors,
		    m->warm[i]->last->error);
	}
	cb_message_free(m);

	active = wf_count("SELECT count(*) FROM workflow.users WHERE active");
	techs  = wf_count("SELECT count(*) FROM workflow.users "
	                   "WHERE role = 'technician' AND active");
	ck_assert_int_gt(techs, 0);
	ck_assert_int_eq(it_count_keys("users:profile:*"), active);
	expand("schedules:technician:*:date:{today}", pat, sizeof(pat));
	ck_assert_int_eq(it_count_keys(pat), techs);
	ck_assert_int_eq(it_count_keys("schedules:technician:*"), 8 * techs);
	ck_assert_int_eq(it_count_keys("users:technician:*:schedule"), techs);
	ck_assert_int_eq(it_count_keys("reports:performance:*"), 3 * techs);
	ck_assert_int_eq(it_count_keys("reports:analytics:*"), 12);
	ck_assert(it_exists("users:all-users"));
	ck_assert(it_exists("users:all-technicians"));
	ck_assert(it_exists("schedules:today"));
	ck_assert(key_exists("schedules:week:{today}"));
	ck_assert(it_exists("reports:dashboard"));

	/* Again, through the CLI: exit 0 means no strategy and no row
	 * failed. */
	ck_assert_int_eq(it_cli("warm", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "STRATEGY") != NULL, "%s", out);
	for (size_t i = 0; i < n; i++) {
		char              *line = strstr(out, warms[i]);
		unsigned long long keys, not_found, errors;
		ck_assert_msg(line != NULL, "no %s in\n%s", warms[i], out);
		ck_assert_int_eq(
		    sscanf(line + strlen(warms[i]), "%llu %llu %llu", &keys,
		        &not_found, &errors),
		    3);
		ck_assert_msg(
		    keys > 0 && not_found == 0 && errors == 0, "%s", out);
		if (strcmp(warms[i], "users.active_profiles") == 0) {
			ck_assert_int_eq((long long) keys, active);
		}
	}
	ck_assert_int_eq(it_count_keys("users:profile:*"), active);
}

static Suite *
workflow_suite(void)
{
	Suite *s  = suite_create("workflow");
	TCase *tc = tcase_create("workflow");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, NULL, it_teardown);
	tcase_add_test(tc, test_every_rule_has_a_case);
	tcase_add_loop_test(tc, test_event_rule, 0, (int) N_CASES);
	tcase_add_test(tc, test_startup_warming);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(workflow_suite());
}

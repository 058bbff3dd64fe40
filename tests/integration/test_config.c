/* SPDX-License-Identifier: MIT */
/* The config file, -t, -l, several listeners and the REDIS_* overrides. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "it.h"

#ifndef CB_TEST_VERSION
#error "CB_TEST_VERSION must be the project's version"
#endif

#define SERVING CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING
#define DEGRADED CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_DEGRADED

/* The example of the design, every key set. */
static const char good_config[] =
    "; every key, as documented\n"
    "[broker]\n"
    "listen = ipc:///tmp/cachebroker-test-never-bound/broker.sock\n"
    "listen = tcp://127.0.0.1:1\n"
    "ipc_mode = 0660\n"
    "contexts = 64\n"
    "max_message_size = 1m        ; larger requests: RESOURCE_EXHAUSTED\n"
    "max_key_size = 512\n"
    "max_value_size = 512k\n"
    "max_batch_keys = 1000\n"
    "default_deadline = 5s\n"
    "max_deadline = 60s\n"
    "dedupe_window = 60s\n"
    "drain_timeout = 10s\n"
    "log_level = info\n"
    "\n"
    "[redis]\n"
    "host = 127.0.0.1\n"
    "port = 6379\n"
    "password =\n"
    "db = 0\n"
    "connections = 2\n"
    "connect_timeout = 1s\n"
    "command_timeout = 2s\n"
    "reconnect_min = 100ms\n"
    "reconnect_max = 5s\n"
    "key_prefix =\n"
    "scan_count = 1000\n";

static char *tmp;   /* a directory of this test's own */
static char *cfile; /* tmp/test.conf */

static void
setup(void)
{
	it_env = NULL;
	ck_assert_int_eq(cbh_tmpdir_create(&tmp, "conf"), 0);
	ck_assert_int_ge(asprintf(&cfile, "%s/test.conf", tmp), 0);
}

static void
teardown(void)
{
	cbh_env *e = it_env;

	it_env = NULL;
	ck_assert_int_eq(cbh_tmpdir_remove(tmp), 0);
	free(tmp);
	free(cfile);
	ck_assert_msg(cbh_env_stop(e) == 0,
	    "the broker did not exit cleanly on SIGTERM (see above)");
}

/* Writes text as the config and runs "cachebrokerd -t -c FILE". */
static int
check_config(const char *text, char **err)
{
	const char *args[] = { "-t", "-c", cfile, NULL };
	int         code   = -1;

	ck_assert_int_eq(cbh_file_write(cfile, text), 0);
	ck_assert_msg(cbh_daemon_run(args, NULL, 10000, &code, NULL, err) == 0,
	    "cachebrokerd -t did not run to its end (see above)");
	return (code);
}

/* Asserts err names cfile:line. */
static void
assert_names_line(const char *err, int line, const char *config)
{
	char want[512];

	snprintf(want, sizeof(want), "%s:%d:", cfile, line);
	ck_assert_msg(strstr(err, want) != NULL,
	    "stderr does not name %s\nconfig:\n%s\nstderr:\n%s", want, config,
	    err);
}

/* ---------------------------------------------------------------- */

CBH_TEST(test_check_good)
{
	char *err  = NULL;
	int   code = check_config(good_config, &err);

	ck_assert_msg(
	    code == 0, "-t on a good config: exit %d\n%s", code, err);
	free(err);
}

CBH_TEST(test_check_good_units)
{
	static const char text[] = "[broker]\n"
	                           "default_deadline = 1500ms\n"
	                           "max_deadline = 2m\n"
	                           "dedupe_window = 1d\n"
	                           "drain_timeout = 30s\n"
	                           "max_message_size = 2m\n"
	                           "max_value_size = 100000\n"
	                           "max_key_size = 1k\n"
	                           "log_level = debug\n"
	                           "[redis]\n"
	                           "reconnect_max = 1h\n"
	                           "command_timeout = 250ms\n"
	                           "key_prefix = app:\n";
	char             *err    = NULL;
	int               code;

	code = check_config(text, &err);
	ck_assert_msg(code == 0, "exit %d\n%s\n%s", code, text, err);
	free(err);
	/* An empty file is a config of defaults. */
	code = check_config("", &err);
	ck_assert_msg(code == 0, "empty config: exit %d\n%s", code, err);
	free(err);
	/* Comments and blank lines only. */
	code =
	    check_config("; nothing\n# at all\n\n[broker]\n[redis]\n", &err);
	ck_assert_msg(code == 0, "comments only: exit %d\n%s", code, err);
	free(err);
}

CBH_TEST(test_check_all_errors)
{
	char  text[1024];
	char  long_value[251];
	char *err = NULL;
	int   code;

	memset(long_value, 'a', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	snprintf(text, sizeof(text),
	    "[broker]\n"                   /* 1 */
	    "listen = ipc:///tmp/x.sock\n" /* 2 */
	    "no_such_key = 1\n"            /* 3: unknown key */
	    "default_deadline = 5\n"       /* 4: no unit */
	    "contexts = abc\n"             /* 5: not a number */
	    "\n"                           /* 6 */
	    "[nope]\n"                     /* 7: unknown section */
	    "foo = 1\n"                    /* 8 */
	    "\n"                           /* 9 */
	    "[redis]\n"                    /* 10 */
	    "key_prefix = %s\n"            /* 11: over 200 characters */
	    "port = 6379\n",               /* 12 */
	    long_value);
	code = check_config(text, &err);
	ck_assert_msg(
	    code == CBH_EXIT_CONFIG, "exit %d, want 78\n%s", code, err);
	assert_names_line(err, 3, text);
	assert_names_line(err, 4, text);
	assert_names_line(err, 5, text);
	assert_names_line(err, 11, text);
	{
		/* The section may be blamed at its header or its key. */
		char l7[512], l8[512];
		snprintf(l7, sizeof(l7), "%s:7:", cfile);
		snprintf(l8, sizeof(l8), "%s:8:", cfile);
		ck_assert_msg(strstr(err, l7) != NULL || strstr(err, l8),
		    "stderr names neither %s nor %s\n%s", l7, l8, err);
	}
	/* A good line is not blamed. */
	{
		char l12[512];
		snprintf(l12, sizeof(l12), "%s:12:", cfile);
		ck_assert_msg(strstr(err, l12) == NULL,
		    "a good line is blamed:\n%s", err);
	}
	free(err);
}

CBH_TEST(test_check_each_error)
{
	static const struct {
		const char *text;
		int         line;
	} cases[] = {
		{ "[broker]\ncontexts = abc\n", 2 },
		{ "[broker]\ncontexts = 12abc\n", 2 },
		{ "[broker]\ncontexts = -4\n", 2 },
		{ "[broker]\ndefault_deadline = 5\n", 2 },
		{ "[broker]\ndefault_deadline = 5 parsecs\n", 2 },
		{ "[broker]\ndefault_deadline = s\n", 2 },
		{ "[broker]\ndrain_timeout = -1s\n", 2 },
		{ "[broker]\nmax_value_size = 12q\n", 2 },
		{ "[broker]\nmax_message_size = m\n", 2 },
		{ "[broker]\nlog_level = loud\n", 2 },
		{ "[broker]\nipc_mode = 0999\n", 2 },
		{ "[broker]\nbogus = 1\n", 2 },
		{ "[broker]\njunk line without equals\n", 2 },
		{ "[redis]\nport = 70000\n", 2 },
		{ "[redis]\nport = 0\n", 2 },
		{ "[redis]\nport =\n", 2 },
		{ "[redis]\ndb = -1\n", 2 },
		{ "[redis]\nconnect_timeout = 10\n", 2 },
		{ "[redis]\nscan_count = many\n", 2 },
		{ "[redis]\nhost = 127.0.0.1\nportt = 1\n", 3 },
		{ "\n\n[broker]\ncontexts = x\n", 4 },
		{ "; comment\n[broker]\n# another\ncontexts = x\n", 4 },
		{ "[broker]\nlog_level = info\n[redis]\n[broker]\nbad = 1\n",
		    5 },
	};
	char *err;
	int   code;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err  = NULL;
		code = check_config(cases[i].text, &err);
		ck_assert_msg(code == CBH_EXIT_CONFIG,
		    "config #%zu: exit %d, want 78\n%s\nstderr:\n%s", i, code,
		    cases[i].text, err);
		assert_names_line(err, cases[i].line, cases[i].text);
		free(err);
	}
}

CBH_TEST(test_check_long_line)
{
	char  text[600];
	char  pad[231];
	char *err = NULL;
	int   code;

	/* Even a harmless line (a comment after a good value) over 200
	 * characters is refused: it would be cut silently otherwise. */
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(text, sizeof(text), "[broker]\nlog_level = info ; %s\n", pad);
	code = check_config(text, &err);
	ck_assert_msg(
	    code == CBH_EXIT_CONFIG, "exit %d, want 78\n%s", code, err);
	assert_names_line(err, 2, text);
	free(err);
}

CBH_TEST(test_check_missing_file)
{
	const char *args[] = { "-t", "-c", "/nonexistent/cachebroker.conf",
		NULL };
	char       *err    = NULL;
	int         code   = 0;

	ck_assert_int_eq(
	    cbh_daemon_run(args, NULL, 10000, &code, NULL, &err), 0);
	ck_assert_int_ne(code, 0);
	ck_assert_msg(strstr(err, "/nonexistent/cachebroker.conf") != NULL,
	    "stderr does not name the file:\n%s", err);
	free(err);
}

CBH_TEST(test_version)
{
	const char *args[] = { "--version", NULL };
	char       *out    = NULL;
	char       *err    = NULL;
	int         code   = -1;

	ck_assert_int_eq(
	    cbh_daemon_run(args, NULL, 10000, &code, &out, &err), 0);
	ck_assert_int_eq(code, 0);
	ck_assert_msg(strstr(out, CB_TEST_VERSION) != NULL ||
	        strstr(err, CB_TEST_VERSION) != NULL,
	    "--version does not print %s:\n%s%s", CB_TEST_VERSION, out, err);
	free(out);
	free(err);
}

/* ---- running brokers ---- */

static void
start_env(const cbh_broker_opts *bo, const cbh_redis_opts *ro)
{
	cbh_env_opts eo = { .broker = bo, .redis = ro };

	ck_assert_msg(cbh_env_start(&it_env, &eo) == 0,
	    "could not start Redis and the broker (see above)");
}

static Cachebroker__V1__HealthResponse *
health_at(const char *url)
{
	Cachebroker__V1__HealthRequest req =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__HealthResponse *h  = NULL;
	cb_client_opts                   co = { .timeout_ms = 3000 };
	cb_client                       *c;
	cb_result                        res;
	cb_status                        st;

	ck_assert_int_eq(cb_client_open(&c, url, &co), CB_OK);
	st = cb_admin_health(c, &req, &h, NULL, &res);
	ck_assert_msg(st == CB_OK, "Health at %s: %s (%s)", url,
	    cb_status_str(st), res.message);
	cb_client_close(c);
	return (h);
}

CBH_TEST(test_listen_override)
{
	char           *url;
	char           *cfg_sock;
	const char     *args[3];
	cbh_broker_opts bo = { .args = args };
	struct stat     st;

	ck_assert_int_ge(asprintf(&url, "ipc://%s/override.sock", tmp), 0);
	args[0] = "-l";
	args[1] = url;
	args[2] = NULL;
	start_env(&bo, NULL);
	ck_assert_str_eq(cbh_broker_url(it_env->broker), url);
	cb_message_free(health_at(url));
	it_set_str("users", "via-l", "1");
	/* The config's listener was replaced, not added to. */
	ck_assert_int_ge(asprintf(&cfg_sock, "%s/broker.sock",
	                     cbh_broker_dir(it_env->broker)),
	    0);
	ck_assert_msg(stat(cfg_sock, &st) != 0,
	    "%s exists although -l replaces the config's listeners", cfg_sock);
	free(cfg_sock);
	free(url);
}

CBH_TEST(test_several_listeners)
{
	char                            *a, *b, *conf;
	int                              port;
	cbh_broker_opts                  bo;
	Cachebroker__V1__HealthResponse *h;

	ck_assert_int_eq(cbh_free_port(&port), 0);
	ck_assert_int_ge(asprintf(&a, "ipc://%s/a.sock", tmp), 0);
	ck_assert_int_ge(asprintf(&b, "tcp://127.0.0.1:%d", port), 0);
	ck_assert_int_ge(
	    asprintf(&conf, "[broker]\nlisten = %s\nlisten = %s\n", a, b), 0);
	memset(&bo, 0, sizeof(bo));
	bo.config = conf;
	start_env(&bo, NULL);
	h = health_at(a);
	ck_assert_int_eq(h->status, SERVING);
	cb_message_free(h);
	h = health_at(b);
	ck_assert_int_eq(h->status, SERVING);
	cb_message_free(h);
	free(a);
	free(b);
	free(conf);
}

CBH_TEST(test_ipc_mode)
{
	char           *sock;
	struct stat     st;
	cbh_broker_opts bo = { .config = "[broker]\nipc_mode = 0600\n" };

	/* The harness's config says 0660. */
	start_env(NULL, NULL);
	ck_assert_int_ge(
	    asprintf(&sock, "%s/broker.sock", cbh_broker_dir(it_env->broker)),
	    0);
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_msg((st.st_mode & 0777) == 0660, "mode %o, want 660",
	    (unsigned) (st.st_mode & 0777));
	free(sock);

	ck_assert_int_eq(cbh_env_restart_broker(it_env, &bo), 0);
	ck_assert_int_ge(
	    asprintf(&sock, "%s/broker.sock", cbh_broker_dir(it_env->broker)),
	    0);
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_msg((st.st_mode & 0777) == 0600, "mode %o, want 600",
	    (unsigned) (st.st_mode & 0777));
	free(sock);
}

CBH_TEST(test_env_overrides)
{
	char           *conf;
	char            env_port[32];
	const char     *env[] = { env_port, "REDIS_HOST=127.0.0.1", NULL };
	int             closed;
	cbh_broker_opts bo;
	Cachebroker__V1__HealthResponse *h;

	/* Start with the real Redis, then point the config elsewhere and
	 * let the environment point it back. */
	start_env(NULL, NULL);
	ck_assert_int_eq(cbh_free_port(&closed), 0);
	ck_assert_int_ge(
	    asprintf(&conf, "[redis]\nhost = 127.0.0.2\nport = %d\n", closed),
	    0);
	snprintf(env_port, sizeof(env_port), "REDIS_PORT=%d",
	    cbh_redis_port(it_env->redis));
	memset(&bo, 0, sizeof(bo));
	bo.config = conf;
	bo.env    = env;
	ck_assert_int_eq(cbh_env_restart_broker(it_env, &bo), 0);
	ck_assert_msg(cbh_env_wait_serving(it_env, 10000) == 0,
	    "REDIS_HOST/REDIS_PORT did not override the config");
	h = it_health();
	ck_assert(h->status == SERVING && h->redis->connected);
	cb_message_free(h);
	it_set_str("users", "env", "1");
	ck_assert(it_exists("users:env"));

	/* Without them, the config's (closed) address: degraded. */
	bo.env = NULL;
	ck_assert_int_eq(cbh_env_restart_broker(it_env, &bo), 0);
	h = it_health();
	ck_assert_int_eq(h->status, DEGRADED);
	ck_assert(!h->redis->connected);
	cb_message_free(h);
	free(conf);
}

CBH_TEST(test_env_password)
{
	cbh_redis_opts  ro    = { .password = "pw-from-env" };
	const char     *env[] = { "REDIS_PASSWORD=pw-from-env", NULL };
	cbh_broker_opts bo;
	Cachebroker__V1__HealthResponse *h;

	if (getenv("CB_TEST_REDIS") != NULL) {
		cbh_skip("needs a Redis with a password of its own");
		return;
	}
	/* The harness writes the password into the config: works. */
	start_env(NULL, &ro);
	h = it_health();
	ck_assert(h->redis->connected);
	cb_message_free(h);

	/* A wrong one in the config, the right one from the environment. */
	memset(&bo, 0, sizeof(bo));
	bo.config = "[redis]\npassword = wrong\n";
	bo.env    = env;
	ck_assert_int_eq(cbh_env_restart_broker(it_env, &bo), 0);
	ck_assert_msg(cbh_env_wait_serving(it_env, 10000) == 0,
	    "REDIS_PASSWORD did not override the config");
	h = it_health();
	ck_assert(h->status == SERVING && h->redis->connected);
	cb_message_free(h);
	it_set_str("users", "pw", "1");

	/* The wrong one alone: degraded, and the reason is given. */
	bo.env = NULL;
	ck_assert_int_eq(cbh_env_restart_broker(it_env, &bo), 0);
	h = it_health();
	ck_assert_int_eq(h->status, DEGRADED);
	ck_assert(!h->redis->connected);
	ck_assert_uint_gt(strlen(h->redis->error), 0);
	/* The password itself never shows. */
	ck_assert_ptr_null(strstr(h->redis->error, "wrong"));
	cb_message_free(h);
}

CBH_TEST(test_start_without_redis)
{
	Cachebroker__V1__HealthResponse *h;
	int64_t                          t0;

	if (getenv("CB_TEST_REDIS") != NULL) {
		cbh_skip("stops Redis, and CB_TEST_REDIS names a server the "
		         "tests must not stop");
		return;
	}
	/* Redis is down when the broker starts: it starts degraded, then
	 * connects when Redis comes up. */
	start_env(NULL, NULL);
	ck_assert_int_eq(cbh_redis_stop(it_env->redis, 0), 0);
	ck_assert_int_eq(cbh_env_restart_broker(it_env, NULL), 0);
	h = it_health();
	ck_assert_int_eq(h->status, DEGRADED);
	cb_message_free(h);
	ck_assert_int_eq(cbh_redis_restart(it_env->redis), 0);
	t0 = cbh_now_ms();
	for (;;) {
		bool ok;
		h  = it_health();
		ok = h->redis->connected;
		cb_message_free(h);
		if (ok) {
			break;
		}
		ck_assert_msg(cbh_now_ms() - t0 < 10000,
		    "no connection to Redis 10 s after it came up");
		cbh_sleep_ms(50);
	}
	redisFree(it_env->rc);
	it_env->rc = NULL;
	ck_assert_int_eq(cbh_redis_connect(it_env->redis, 0, &it_env->rc), 0);
	it_set_str("users", "late", "1");
	ck_assert(it_exists("users:late"));
}

CBH_TEST(test_version_in_health)
{
	Cachebroker__V1__HealthResponse *h;

	start_env(NULL, NULL);
	h = it_health();
	ck_assert_msg(strstr(h->version, CB_TEST_VERSION) != NULL,
	    "Health version \"%s\" is not %s", h->version, CB_TEST_VERSION);
	cb_message_free(h);
}

static Suite *
config_suite(void)
{
	Suite *s  = suite_create("config");
	TCase *tc = tcase_create("check");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_check_good);
	tcase_add_test(tc, test_check_good_units);
	tcase_add_test(tc, test_check_all_errors);
	tcase_add_test(tc, test_check_each_error);
	tcase_add_test(tc, test_check_long_line);
	tcase_add_test(tc, test_check_missing_file);
	tcase_add_test(tc, test_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("run");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_listen_override);
	tcase_add_test(tc, test_several_listeners);
	tcase_add_test(tc, test_ipc_mode);
	tcase_add_test(tc, test_env_overrides);
	tcase_add_test(tc, test_env_password);
	tcase_add_test(tc, test_start_without_redis);
	tcase_add_test(tc, test_version_in_health);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(config_suite()));
}

/* SPDX-License-Identifier: MIT */
/* One test's servers (cbh_env) and the glue to Check's runner. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "internal.h"

#define SERVING CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING
#define MAX_TRACKED 16
#define ENV_SERVING_MS 10000 /* broker answering to broker SERVING */

static char  test_name[128];       /* the running CBH_TEST */
static bool  test_completed;       /* its body returned */
static char *tracked[MAX_TRACKED]; /* live server directories */

void
cbh_dir_track(const char *dir, bool add)
{
	for (int i = 0; i < MAX_TRACKED; i++) {
		if (add && tracked[i] == NULL) {
			tracked[i] = strdup(dir);
			return;
		}
		if (!add && tracked[i] != NULL &&
		    strcmp(tracked[i], dir) == 0) {
			free(tracked[i]);
			tracked[i] = NULL;
			return;
		}
	}
}

void
cbh_test_begin(const char *name)
{
	snprintf(test_name, sizeof(test_name), "%s", name);
	test_completed = false;
	for (int i = 0; i < MAX_TRACKED; i++) {
		char *path;
		if (tracked[i] == NULL ||
		    asprintf(&path, "%s/TEST", tracked[i]) < 0) {
			continue;
		}
		if (cbh_file_write(path, name) != 0) {
			/* reported; go on */
		}
		free(path);
	}
}

void
cbh_test_end(void)
{
	test_completed = true;
}

bool
cbh_test_completed(void)
{
	return (test_completed);
}

const char *
cbh_test_name(void)
{
	return (test_name);
}

void
cbh_skip(const char *fmt, ...)
{
	va_list ap;
	char    buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "SKIP %s: %s\n", test_name, buf);
	fflush(stderr);
}

static int
env_open_client(cbh_env *e, uint32_t timeout_ms)
{
	cb_client_opts co = { .timeout_ms = timeout_ms };

	if (cb_client_open(&e->client, cbh_broker_url(e->broker), &co) !=
	    CB_OK) {
		cbh_log(
		    "cannot open a client for %s", cbh_broker_url(e->broker));
		e->client = NULL;
		return (-1);
	}
	return (0);
}

/*
 * env_wait_connected waits until the client's connection is up: any
 * answer to Health will do. nng 1.5.2 leaks the dialer and the new pipe
 * (about 3 KB) when a socket is closed while its non-blocking dial is
 * still connecting, which a test that restarts the broker and ends at
 * once would do; LeakSanitizer then fails the test.
 */
static int
env_wait_connected(cbh_env *e, int timeout_ms)
{
	int64_t   end = cbh_now_ms() + timeout_ms;
	cb_result res;

	memset(&res, 0, sizeof(res));
	for (;;) {
		Cachebroker__V1__HealthRequest req =
		    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
		Cachebroker__V1__HealthResponse *h = NULL;

		if (cb_admin_health(e->client, &req, &h, NULL, &res) ==
		    CB_OK) {
			cb_message_free(h);
			return (0);
		}
		if (cbh_now_ms() >= end) {
			cbh_log("no answer from the restarted broker: %s: %s",
			    cb_status_str(res.code), res.message);
			return (-1);
		}
		cbh_sleep_ms(20);
	}
}

int
cbh_env_start(cbh_env **out, const cbh_env_opts *opts)
{
	static const cbh_env_opts none = { 0 };
	cbh_env                  *e;

	if (opts == NULL) {
		opts = &none;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		cbh_log("out of memory");
		return (-1);
	}
	if (cbh_redis_start(&e->redis, opts->redis) != 0 ||
	    cbh_broker_start(&e->broker, e->redis, opts->broker) != 0 ||
	    env_open_client(
	        e, opts->timeout_ms != 0 ? opts->timeout_ms : 5000) != 0 ||
	    cbh_redis_connect(e->redis, 0, &e->rc) != 0 ||
	    cbh_env_wait_serving(e, ENV_SERVING_MS) != 0) {
		if (e->rc != NULL) {
			redisFree(e->rc);
		}
		cb_client_close(e->client);
		cbh_broker_free(e->broker);
		cbh_redis_free(e->redis);
		free(e);
		return (-1);
	}
	*out = e;
	return (0);
}

int
cbh_env_wait_serving(cbh_env *e, int timeout_ms)
{
	int64_t   end = cbh_now_ms() + timeout_ms;
	cb_result res;
	char      last[300] = "no answer";

	memset(&res, 0, sizeof(res));
	for (;;) {
		Cachebroker__V1__HealthRequest req =
		    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
		Cachebroker__V1__HealthResponse *h = NULL;

		if (cb_admin_health(e->client, &req, &h, NULL, &res) ==
		    CB_OK) {
			bool ok = h->status == SERVING;
			snprintf(last, sizeof(last),
			    "status %d, redis connected %d (%s)",
			    (int) h->status,
			    h->redis != NULL && h->redis->connected,
			    h->redis != NULL ? h->redis->error : "no redis");
			cb_message_free(h);
			if (ok) {
				return (0);
			}
		} else {
			snprintf(last, sizeof(last), "%s: %s",
			    cb_status_str(res.code), res.message);
		}
		if (cbh_now_ms() >= end) {
			break;
		}
		cbh_sleep_ms(20);
	}
	cbh_log("the broker did not say SERVING within %d ms; last: %s",
	    timeout_ms, last);
	cbh_broker_print_log(e->broker);
	return (-1);
}

int
cbh_env_restart_broker(cbh_env *e, const cbh_broker_opts *opts)
{
	int rv = 0;

	cb_client_close(e->client);
	e->client = NULL;
	if (cbh_broker_stop(e->broker) != 0) {
		rv = -1;
	}
	cbh_broker_free(e->broker);
	e->broker = NULL;
	if (cbh_broker_start(&e->broker, e->redis, opts) != 0) {
		e->broker = NULL;
		return (-1);
	}
	if (env_open_client(e, 5000) != 0 ||
	    env_wait_connected(e, 5000) != 0) {
		return (-1);
	}
	return (rv);
}

int
cbh_env_stop(cbh_env *e)
{
	int rv = 0;

	if (e == NULL) {
		return (0);
	}
	if (!test_completed) {
		cbh_log("test %s did not complete; the servers' logs follow",
		    test_name);
		if (e->broker != NULL) {
			cbh_broker_print_log(e->broker);
		}
		if (e->redis != NULL) {
			cbh_redis_print_log(e->redis);
		}
	}
	cb_client_close(e->client);
	if (e->rc != NULL) {
		redisFree(e->rc);
	}
	if (e->broker != NULL && cbh_broker_stop(e->broker) != 0) {
		rv = -1;
	}
	cbh_broker_free(e->broker);
	cbh_redis_free(e->redis);
	free(e);
	return (rv);
}

/*
 * print_leftovers prints the logs in every directory left under run (by
 * a test that exited at its first failed assertion, in CK_FORK mode) and
 * returns how many there were.
 */
static int
print_leftovers(const char *run)
{
	DIR           *d;
	struct dirent *de;
	int            n = 0;

	if ((d = opendir(run)) == NULL) {
		return (0);
	}
	while ((de = readdir(d)) != NULL) {
		char *sub;
		char *test = NULL;
		DIR  *sd;

		if (de->d_name[0] == '.' || de->d_type != DT_DIR ||
		    asprintf(&sub, "%s/%s", run, de->d_name) < 0) {
			continue;
		}
		n++;
		{
			char *tp;
			if (asprintf(&tp, "%s/TEST", sub) >= 0) {
				struct stat st;
				if (stat(tp, &st) == 0 &&
				    cbh_file_read(tp, &test, NULL) != 0) {
					test = NULL;
				}
				free(tp);
			}
		}
		cbh_log("%s was left behind by test %s", sub,
		    test != NULL ? test : "(unknown)");
		if ((sd = opendir(sub)) != NULL) {
			struct dirent *le;
			while ((le = readdir(sd)) != NULL) {
				size_t len = strlen(le->d_name);
				char  *lp;
				if (len < 5 ||
				    strcmp(le->d_name + len - 4, ".log") !=
				        0 ||
				    asprintf(&lp, "%s/%s", sub, le->d_name) <
				        0) {
					continue;
				}
				cbh_file_print(le->d_name, lp);
				free(lp);
			}
			closedir(sd);
		}
		free(test);
		free(sub);
	}
	closedir(d);
	return (n);
}

int
cbh_run_suite(Suite *s)
{
	SRunner *sr;
	char    *run;
	int      failed;
	int      left;

	if (cbh_tmpdir_create(&run, "cbtest") != 0) {
		return (EXIT_FAILURE);
	}
	/* Not a server's directory: its tests' directories go inside. */
	cbh_dir_track(run, false);
	setenv("CBH_RUN_DIR", run, 1);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	left = print_leftovers(run);
	if (left > 0 && failed == 0) {
		cbh_log("%d server directories were left behind although "
		        "every test passed",
		    left);
	}
	if (cbh_tmpdir_remove(run) != 0) {
		left++;
	}
	unsetenv("CBH_RUN_DIR");
	free(run);
	return (failed == 0 && left == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}

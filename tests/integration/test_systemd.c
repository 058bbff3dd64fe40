/* SPDX-License-Identifier: MIT */
/* systemd's notifications: READY, STATUS, WATCHDOG cadence, RELOADING,
 * STOPPING. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "it.h"

/* WATCHDOG_USEC for the broker: it pings at half of it. */
#define WATCHDOG_USEC 400000
#define PING_MS (WATCHDOG_USEC / 2000)

#define MAX_MSGS 512

/* Check's default of 4 s is too short to start Redis and the broker. */
#define TEST_TIMEOUT_S 120

/*
 * A stand-in for the service manager: an AF_UNIX datagram socket given to
 * the broker as NOTIFY_SOCKET, and a thread that receives every datagram
 * at once (the kernel queues only a few: a blocked sd_notify would stall
 * the broker's loop) and records it with its arrival time.
 */
typedef struct sd_msg {
	int64_t at_ms;     /* cbh_now_ms() on arrival */
	char    text[512]; /* the datagram, NUL-terminated */
} sd_msg;

static struct {
	char           *dir; /* temporary directory holding the socket */
	char            path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
	int             fd;  /* bound datagram socket; -1: none */
	pthread_t       tid; /* the receiving thread */
	bool            running;
	atomic_bool     stop; /* tells the thread to end */
	pthread_mutex_t mtx;  /* protects msgs and n */
	sd_msg          msgs[MAX_MSGS];
	size_t          n;
} mgr = { .fd = -1, .mtx = PTHREAD_MUTEX_INITIALIZER };

static void *
mgr_thread(void *arg)
{
	struct pollfd pfd = { .fd = mgr.fd, .events = POLLIN };
	char          buf[sizeof(mgr.msgs[0].text)];
	ssize_t       len;

	(void) arg;
	while (!atomic_load(&mgr.stop)) {
		if (poll(&pfd, 1, 50) <= 0) {
			continue;
		}
		if ((len = recv(mgr.fd, buf, sizeof(buf) - 1, 0)) < 0) {
			continue;
		}
		buf[len] = '\0';
		pthread_mutex_lock(&mgr.mtx);
		if (mgr.n < MAX_MSGS) {
			mgr.msgs[mgr.n].at_ms = cbh_now_ms();
			memcpy(mgr.msgs[mgr.n].text, buf, (size_t) len + 1);
			mgr.n++;
		}
		pthread_mutex_unlock(&mgr.mtx);
	}
	return (NULL);
}

static void
mgr_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int                n;

	ck_assert_int_eq(cbh_tmpdir_create(&mgr.dir, "systemd"), 0);
	n = snprintf(mgr.path, sizeof(mgr.path), "%s/notify", mgr.dir);
	ck_assert_msg(n > 0 && (size_t) n < sizeof(mgr.path),
	    "socket path too long: %s/notify", mgr.dir);
	memcpy(sa.sun_path, mgr.path, (size_t) n + 1);
	mgr.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(mgr.fd >= 0, "socket: %s", strerror(errno));
	ck_assert_msg(bind(mgr.fd, (struct sockaddr *) &sa, sizeof(sa)) == 0,
	    "bind %s: %s", mgr.path, strerror(errno));
	mgr.n = 0;
	atomic_store(&mgr.stop, false);
	ck_assert_int_eq(pthread_create(&mgr.tid, NULL, mgr_thread, NULL), 0);
	mgr.running = true;
}

static void
mgr_close(void)
{
	if (mgr.running) {
		atomic_store(&mgr.stop, true);
		pthread_join(mgr.tid, NULL);
		mgr.running = false;
	}
	if (mgr.fd >= 0) {
		close(mgr.fd);
		mgr.fd = -1;
	}
	if (mgr.dir != NULL) {
		if (cbh_tmpdir_remove(mgr.dir) != 0) {
			cbh_log("could not remove %s", mgr.dir);
		}
		free(mgr.dir);
		mgr.dir = NULL;
	}
}

/* Whether text has a line that starts with prefix and contains sub
 * (NULL: anything) after it. */
static bool
msg_has(const char *text, const char *prefix, const char *sub)
{
	size_t plen = strlen(prefix);

	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t      len =
                    end != NULL ? (size_t) (end - line) : strlen(line);
		char copy[sizeof(mgr.msgs[0].text)];

		memcpy(copy, line, len);
		copy[len] = '\0';
		if (strncmp(copy, prefix, plen) == 0 &&
		    (sub == NULL || strstr(copy + plen, sub) != NULL)) {
			return (true);
		}
		line = end != NULL ? end + 1 : NULL;
	}
	return (false);
}

/*
 * mgr_wait waits up to limit_ms for a message at index >= from with a line
 * as msg_has says, and returns its index, or -1.
 */
static long
mgr_wait(size_t from, const char *prefix, const char *sub, int limit_ms)
{
	int64_t t0 = cbh_now_ms();

	for (;;) {
		pthread_mutex_lock(&mgr.mtx);
		for (size_t i = from; i < mgr.n; i++) {
			if (msg_has(mgr.msgs[i].text, prefix, sub)) {
				pthread_mutex_unlock(&mgr.mtx);
				return ((long) i);
			}
		}
		pthread_mutex_unlock(&mgr.mtx);
		if (cbh_now_ms() - t0 >= limit_ms) {
			return (-1);
		}
		cbh_sleep_ms(20);
	}
}

static void
mgr_print(void)
{
	pthread_mutex_lock(&mgr.mtx);
	for (size_t i = 0; i < mgr.n; i++) {
		cbh_log("notify %lld: %s", (long long) mgr.msgs[i].at_ms,
		    mgr.msgs[i].text);
	}
	pthread_mutex_unlock(&mgr.mtx);
}

/*
 * Starts the manager's socket, then Redis and the broker with NOTIFY_SOCKET
 * and, when watchdog_usec is not NULL, WATCHDOG_USEC.
 */
static void
setup_with(const char *watchdog_usec)
{
	char            sock[sizeof(mgr.path) + 16];
	char            wd[48];
	const char     *env[] = { sock, wd, NULL };
	cbh_broker_opts bo    = { .env = env };
	cbh_env_opts    eo    = { .broker = &bo };

	mgr_open();
	snprintf(sock, sizeof(sock), "NOTIFY_SOCKET=%s", mgr.path);
	if (watchdog_usec != NULL) {
		snprintf(wd, sizeof(wd), "WATCHDOG_USEC=%s", watchdog_usec);
	} else {
		env[1] = NULL;
	}
	it_env = NULL;
	ck_assert_msg(cbh_env_start(&it_env, &eo) == 0,
	    "could not start Redis and the broker (see above)");
}

static void
setup_watchdog(void)
{
	char usec[24];

	snprintf(usec, sizeof(usec), "%d", WATCHDOG_USEC);
	setup_with(usec);
}

static void
setup_no_watchdog(void)
{
	setup_with(NULL);
}

/* Stops the broker while the manager still listens (STOPPING=1 arrives
 * then), then the manager. */
static void
teardown(void)
{
	cbh_env *e = it_env;
	int      rv;

	it_env = NULL;
	if (!cbh_test_completed()) {
		mgr_print();
	}
	rv = cbh_env_stop(e);
	mgr_close();
	ck_assert_msg(
	    rv == 0, "the broker did not exit cleanly on SIGTERM (see above)");
}

/* ---------------------------------------------------------------- */

CBH_TEST(test_ready_status_watchdog_stopping)
{
	long    ready;
	long    stopping;
	size_t  pings = 0;
	int64_t t0;
	int64_t prev    = 0;
	int64_t gap_max = 0;
	int64_t gap_min = INT64_MAX;

	/* The harness waited until Health said SERVING: READY=1 came
	 * before, with a STATUS= naming Redis. */
	ready = mgr_wait(0, "READY=1", NULL, 1000);
	ck_assert_msg(ready >= 0, "no READY=1");
	ck_assert_msg(mgr_wait(0, "STATUS=", "redis", 1000) >= 0,
	    "no STATUS= mentions redis");
	/* Redis is up (the harness's config has 2 connections): an update,
	 * at most one a second, says so. */
	ck_assert_msg(
	    mgr_wait(0, "STATUS=serving; redis 2/2 ready", NULL, 3000) >= 0,
	    "no STATUS= with Redis' connections ready");

	/* WATCHDOG=1 every PING_MS (half of WATCHDOG_USEC). */
	t0 = cbh_now_ms();
	cbh_sleep_ms(1500);
	pthread_mutex_lock(&mgr.mtx);
	for (size_t i = 0; i < mgr.n; i++) {
		if (mgr.msgs[i].at_ms < t0 ||
		    !msg_has(mgr.msgs[i].text, "WATCHDOG=1", NULL)) {
			continue;
		}
		if (pings++ > 0) {
			int64_t gap = mgr.msgs[i].at_ms - prev;

			gap_max = gap > gap_max ? gap : gap_max;
			gap_min = gap < gap_min ? gap : gap_min;
		}
		prev = mgr.msgs[i].at_ms;
	}
	pthread_mutex_unlock(&mgr.mtx);
	ck_assert_msg(pings >= 4, "%zu WATCHDOG=1 in 1.5 s (every %d ms?)",
	    pings, PING_MS);
	ck_assert_msg(gap_max < (int64_t) 2 * PING_MS,
	    "WATCHDOG=1 %lld ms apart (every %d ms?)", (long long) gap_max,
	    PING_MS);
	/* At half the period, not at every cron tick (100 ms). */
	ck_assert_msg(gap_min >= PING_MS / 2, "WATCHDOG=1 only %lld ms apart",
	    (long long) gap_min);

	ck_assert_int_eq(cbh_broker_signal(it_env->broker, SIGTERM), 0);
	stopping = mgr_wait((size_t) ready, "STOPPING=1", NULL, 5000);
	ck_assert_msg(stopping > ready, "no STOPPING=1 after SIGTERM");
	ck_assert_int_eq(cbh_broker_wait(it_env->broker, 20000), 0);
}

CBH_TEST(test_no_watchdog_without_usec)
{
	ck_assert_msg(mgr_wait(0, "READY=1", NULL, 1000) >= 0, "no READY=1");
	cbh_sleep_ms(600);
	ck_assert_msg(mgr_wait(0, "WATCHDOG=1", NULL, 0) < 0,
	    "WATCHDOG=1 without WATCHDOG_USEC");
	/* The teardown's SIGTERM: STOPPING=1 and exit 0 still. */
}

/* reload_notify rewrites the broker's file with extra merged in, sends
 * SIGHUP and asserts RELOADING=1 (with MONOTONIC_USEC=) and then READY=1
 * with a STATUS= that contains status. */
static void
reload_notify(const char *extra, const char *status)
{
	const char *path   = cbh_broker_config(it_env->broker);
	char       *text   = NULL;
	char       *merged = NULL;
	size_t      from;
	long        reloading;
	long        ready;

	ck_assert_int_eq(cbh_file_read(path, &text, NULL), 0);
	ck_assert_int_eq(cbh_config_merge(&merged, text, extra), 0);
	ck_assert_int_eq(cbh_file_write(path, merged), 0);
	free(text);
	free(merged);
	pthread_mutex_lock(&mgr.mtx);
	from = mgr.n;
	pthread_mutex_unlock(&mgr.mtx);
	ck_assert_int_eq(cbh_broker_signal(it_env->broker, SIGHUP), 0);
	reloading = mgr_wait(from, "RELOADING=1", NULL, 5000);
	ck_assert_msg(reloading >= 0, "no RELOADING=1 after SIGHUP");
	pthread_mutex_lock(&mgr.mtx);
	ck_assert_msg(
	    msg_has(mgr.msgs[reloading].text, "MONOTONIC_USEC=", NULL),
	    "RELOADING=1 without MONOTONIC_USEC=: %s",
	    mgr.msgs[reloading].text);
	pthread_mutex_unlock(&mgr.mtx);
	ready = mgr_wait((size_t) reloading + 1, "READY=1", NULL, 5000);
	ck_assert_msg(ready > reloading, "no READY=1 after RELOADING=1");
	pthread_mutex_lock(&mgr.mtx);
	ck_assert_msg(msg_has(mgr.msgs[ready].text, "STATUS=", status),
	    "READY=1 without a STATUS= saying '%s': %s", status,
	    mgr.msgs[ready].text);
	pthread_mutex_unlock(&mgr.mtx);
}

/* SIGHUP: RELOADING=1, then READY=1 whether the file was taken or not,
 * with STATUS= saying which. */
CBH_TEST(test_reload_reloading_ready)
{
	ck_assert_msg(mgr_wait(0, "READY=1", NULL, 1000) >= 0, "no READY=1");
	reload_notify("[event users.updated]\n"
	              "param = user_id int\n"
	              "invalidate = users:profile:{user_id}\n",
	    "reloaded (policy generation 2)");
	reload_notify(
	    "[broker]\nno_such_key = 1\n", "reload rejected (1 error)");
	/* Still serving, on generation 2. */
	ck_assert_int_eq(cbh_env_wait_serving(it_env, 2000), 0);
}

static Suite *
systemd_suite(void)
{
	Suite *s  = suite_create("systemd");
	TCase *wd = tcase_create("watchdog");
	TCase *nw = tcase_create("no_watchdog");

	tcase_add_checked_fixture(wd, setup_watchdog, teardown);
	tcase_set_timeout(wd, TEST_TIMEOUT_S);
	tcase_add_test(wd, test_ready_status_watchdog_stopping);
	suite_add_tcase(s, wd);
	tcase_add_checked_fixture(nw, setup_no_watchdog, teardown);
	tcase_set_timeout(nw, TEST_TIMEOUT_S);
	tcase_add_test(nw, test_no_watchdog_without_usec);
	tcase_add_test(nw, test_reload_reloading_ready);
	suite_add_tcase(s, nw);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(systemd_suite()));
}

/* SPDX-License-Identifier: MIT */
/* Tests of the harness itself: ports, directories, config merging, servers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"

static bool
dir_exists(const char *path)
{
	struct stat st;

	return (stat(path, &st) == 0 && S_ISDIR(st.st_mode));
}

/* Whether something accepts TCP connections on 127.0.0.1:port. */
static bool
port_open(int port)
{
	struct sockaddr_in sa;
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	bool               ok;

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port        = htons((uint16_t) port);
	ok = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
	close(fd);
	return (ok);
}

static redisReply *
cmd(redisContext *c, const char *fmt, ...)
{
	va_list     ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(r != NULL, "%s: %s", fmt, c->errstr);
	return (r);
}

CBH_TEST(test_free_port)
{
	int port;

	ck_assert_int_eq(cbh_free_port(&port), 0);
	ck_assert_int_gt(port, 0);
	ck_assert_int_lt(port, 65536);
	ck_assert(!port_open(port));
}

CBH_TEST(test_tmpdir)
{
	char *dir;
	char *file;

	ck_assert_int_eq(cbh_tmpdir_create(&dir, "t"), 0);
	ck_assert(dir_exists(dir));
	ck_assert_int_ge(asprintf(&file, "%s/a.txt", dir), 0);
	ck_assert_int_eq(cbh_file_write(file, "hello\n"), 0);
	{
		char  *text;
		size_t len;
		ck_assert_int_eq(cbh_file_read(file, &text, &len), 0);
		ck_assert_str_eq(text, "hello\n");
		ck_assert_uint_eq(len, 6);
		free(text);
	}
	free(file);
	ck_assert_int_ge(asprintf(&file, "%s/sub", dir), 0);
	ck_assert_int_eq(mkdir(file, 0700), 0);
	free(file);
	ck_assert_int_eq(cbh_tmpdir_remove(dir), 0);
	ck_assert(!dir_exists(dir));
	free(dir);
}

CBH_TEST(test_config_merge)
{
	const char *base = "; c\n[broker]\nlisten = a\nlisten = b\n"
	                   "contexts = 4\n\n[redis]\nport = 1\n";
	char       *out;

	/* A key replaces every line of that key in its own section only. */
	ck_assert_int_eq(cbh_config_merge(&out, base,
	                     "[broker]\nlisten = c\nmax_key_size = 9\n"
	                     "[redis]\nport = 2\n[extra]\nx = 1\n"),
	    0);
	ck_assert_str_eq(out,
	    "; c\n[broker]\ncontexts = 4\n\nlisten = c\nmax_key_size = 9\n"
	    "[redis]\nport = 2\n[extra]\nx = 1\n");
	free(out);

	/* Nothing to merge: the base, unchanged. */
	ck_assert_int_eq(cbh_config_merge(&out, base, NULL), 0);
	ck_assert_str_eq(out, base);
	free(out);

	/* Lines outside a section cannot be placed. */
	ck_assert_int_eq(cbh_config_merge(&out, base, "x = 1\n"), -1);
}

CBH_TEST(test_config_base)
{
	char *out;

	ck_assert_int_eq(
	    cbh_config_base(&out, "ipc:///x/y.sock", "127.0.0.1", 6380, "pw"),
	    0);
	ck_assert_ptr_nonnull(strstr(out, "\nlisten = ipc:///x/y.sock\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nport = 6380\n"));
	ck_assert_ptr_nonnull(strstr(out, "\npassword = pw\n"));
	free(out);
}

CBH_TEST(test_redis_lifecycle)
{
	cbh_redis    *r;
	redisContext *c;
	redisReply   *rep;
	char         *dir;
	int           port;

	ck_assert_int_eq(cbh_redis_start(&r, NULL), 0);
	if (cbh_redis_external(r)) {
		cbh_redis_free(r);
		cbh_skip("CB_TEST_REDIS is set: the harness starts no Redis");
		return;
	}
	port = cbh_redis_port(r);
	ck_assert(cbh_redis_running(r));
	ck_assert(port_open(port));
	dir = strdup(cbh_redis_dir(r));
	ck_assert(dir_exists(dir));

	ck_assert_int_eq(cbh_redis_connect(r, 0, &c), 0);
	rep = cmd(c, "SET k v");
	ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
	freeReplyObject(rep);
	redisFree(c);

	/* Stopped: nothing listens; restarted: same port, empty (no
	 * persistence). */
	ck_assert_int_eq(cbh_redis_stop(r, 0), 0);
	ck_assert(!cbh_redis_running(r));
	ck_assert(!port_open(port));
	ck_assert_int_eq(cbh_redis_stop(r, 0), -1);
	ck_assert_int_eq(cbh_redis_restart(r), 0);
	ck_assert_int_eq(cbh_redis_port(r), port);
	ck_assert_int_eq(cbh_redis_restart(r), -1);
	ck_assert_int_eq(cbh_redis_connect(r, 0, &c), 0);
	rep = cmd(c, "EXISTS k");
	ck_assert_int_eq(rep->integer, 0);
	freeReplyObject(rep);
	redisFree(c);

	/* SIGKILL is a stop too. */
	ck_assert_int_eq(cbh_redis_stop(r, SIGKILL), 0);
	ck_assert(!port_open(port));
	ck_assert_int_eq(cbh_redis_restart(r), 0);

	cbh_redis_free(r);
	ck_assert(!port_open(port));
	ck_assert(!dir_exists(dir));
	free(dir);
}

CBH_TEST(test_redis_password)
{
	cbh_redis_opts ro = { .password = "s3cret" };
	cbh_redis     *r;
	redisContext  *c;
	redisReply    *rep;
	struct timeval tv = { 2, 0 };

	if (getenv("CB_TEST_REDIS") != NULL) {
		cbh_skip("CB_TEST_REDIS is set: the harness starts no Redis");
		return;
	}
	ck_assert_int_eq(cbh_redis_start(&r, &ro), 0);
	/* Without AUTH, commands are refused. */
	c = redisConnectWithTimeout("127.0.0.1", cbh_redis_port(r), tv);
	ck_assert(c != NULL && !c->err);
	rep = cmd(c, "GET x");
	ck_assert_int_eq(rep->type, REDIS_REPLY_ERROR);
	freeReplyObject(rep);
	redisFree(c);
	/* The harness's connection authenticates. */
	ck_assert_int_eq(cbh_redis_connect(r, 2, &c), 0);
	rep = cmd(c, "PING");
	ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
	freeReplyObject(rep);
	redisFree(c);
	cbh_redis_free(r);
}

/*
 * A test process that dies without cleaning up takes its servers with it:
 * a child starts Redis, reports the port and exits at once.
 */
CBH_TEST(test_redis_dies_with_test)
{
	int   fds[2];
	pid_t pid;
	int   port = 0;
	int   status;
	char  dir[256] = "";

	if (getenv("CB_TEST_REDIS") != NULL) {
		cbh_skip("CB_TEST_REDIS is set: the harness starts no Redis");
		return;
	}
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		cbh_redis *r;
		close(fds[0]);
		if (cbh_redis_start(&r, NULL) != 0) {
			_exit(1);
		}
		port = cbh_redis_port(r);
		snprintf(dir, sizeof(dir), "%s", cbh_redis_dir(r));
		if (write(fds[1], &port, sizeof(port)) != sizeof(port) ||
		    write(fds[1], dir, sizeof(dir)) != sizeof(dir)) {
			_exit(1);
		}
		_exit(0); /* no cleanup: as if the test crashed */
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &port, sizeof(port)), sizeof(port));
	ck_assert_int_eq(read(fds[0], dir, sizeof(dir)), sizeof(dir));
	close(fds[0]);
	ck_assert_int_eq(cbh_proc_wait(pid, 10000, &status), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int64_t end = cbh_now_ms() + 5000;
	     port_open(port) && cbh_now_ms() < end;) {
		cbh_sleep_ms(10);
	}
	ck_assert_msg(!port_open(port),
	    "redis-server on port %d outlived its test process", port);
	ck_assert(dir_exists(dir));
	ck_assert_int_eq(cbh_tmpdir_remove(dir), 0);
}

CBH_TEST(test_proc_stop_escalates)
{
	const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; exec sleep 30",
		NULL };
	cbh_spawn   sp     = { .argv = argv };
	pid_t       pid;
	int         status = 0;
	int64_t     t0;
	char        buf[64];

	ck_assert_int_eq(cbh_proc_spawn(&pid, &sp), 0);
	cbh_sleep_ms(100); /* let the shell install its trap */
	t0 = cbh_now_ms();
	ck_assert_int_eq(cbh_proc_stop(pid, SIGTERM, 300, &status), -1);
	ck_assert_int_ge(cbh_now_ms() - t0, 300);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_str_eq(
	    cbh_status_str(status, buf, sizeof(buf)), "signal 9 (Killed)");
}

CBH_TEST(test_proc_env)
{
	const char *argv[]  = { "/bin/sh", "-c",
		 "test \"$CBH_A\" = 1 && test -z \"${CBH_B+x}\"", NULL };
	const char *env[]   = { "CBH_A=1", NULL };
	const char *unset[] = { "CBH_B", NULL };
	cbh_spawn   sp      = { .argv = argv, .env = env, .unset = unset };
	pid_t       pid;
	int         status;

	setenv("CBH_A", "0", 1);
	setenv("CBH_B", "2", 1);
	ck_assert_int_eq(cbh_proc_spawn(&pid, &sp), 0);
	ck_assert_int_eq(cbh_proc_wait(pid, 5000, &status), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	unsetenv("CBH_A");
	unsetenv("CBH_B");
}

CBH_TEST(test_pg_lifecycle)
{
	cbh_pg *p;
	int     port;

	if (!cbh_pg_available()) {
		cbh_skip("PostgreSQL is not installed");
		return;
	}
	ck_assert_int_eq(cbh_pg_start(&p), 0);
	port = cbh_pg_port(p);
	ck_assert(port_open(port));
	ck_assert_ptr_nonnull(strstr(cbh_pg_conninfo(p), "host=127.0.0.1"));
	ck_assert_int_eq(cbh_pg_stop(p), 0);
	ck_assert(!port_open(port));
	ck_assert_int_eq(cbh_pg_restart(p), 0);
	ck_assert(port_open(port));
	cbh_pg_free(p);
	ck_assert(!port_open(port));
}

static Suite *
harness_suite(void)
{
	Suite *s  = suite_create("harness");
	TCase *tc = tcase_create("harness");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_free_port);
	tcase_add_test(tc, test_tmpdir);
	tcase_add_test(tc, test_config_merge);
	tcase_add_test(tc, test_config_base);
	tcase_add_test(tc, test_redis_lifecycle);
	tcase_add_test(tc, test_redis_password);
	tcase_add_test(tc, test_redis_dies_with_test);
	tcase_add_test(tc, test_proc_stop_escalates);
	tcase_add_test(tc, test_proc_env);
	tcase_add_test(tc, test_pg_lifecycle);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(harness_suite()));
}

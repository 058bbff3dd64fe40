/* SPDX-License-Identifier: MIT */
/* cachebrokerd for tests: config in a temporary directory, run as a child. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

#ifndef CBH_DAEMON_PATH
#error "CBH_DAEMON_PATH must name the cachebrokerd binary"
#endif

#define BROKER_STOP_MS 30000  /* SIGTERM to exit: drain_timeout + slack */
#define BROKER_HEALTH_MS 1000 /* one readiness probe */

struct cbh_broker {
	char *dir;    /* our temporary directory */
	char *conf;   /* dir/broker.conf */
	char *log;    /* dir/broker.log: the daemon's stdout and stderr */
	char *url;    /* the first listener */
	pid_t pid;    /* the daemon; 0 once reaped */
	int   status; /* its wait status once reaped */
	bool  reaped; /* status is valid */
};

/* Variables the daemon reads that the test's environment must not
 * leak into it. */
static const char *const daemon_unset[] = {
	"REDIS_HOST",
	"REDIS_PORT",
	"REDIS_PASSWORD",
	"CACHEBROKER_URL",
	"NOTIFY_SOCKET",
	"WATCHDOG_USEC",
	"WATCHDOG_PID",
	"LISTEN_FDS",
	"LISTEN_PID",
	NULL,
};

const char *
cbh_daemon_path(void)
{
	const char *env = getenv("CBH_DAEMON");

	return (env != NULL && *env != '\0' ? env : CBH_DAEMON_PATH);
}

/*
 * first_listener finds the URL the tests talk to: the first "-l URL" of
 * args, else the first "listen =" line of the config's [broker] section.
 */
static char *
first_listener(const char *conf, const char *const *args)
{
	const char *p         = conf;
	bool        in_broker = false;

	for (const char *const *a = args; a != NULL && *a != NULL; a++) {
		if (strcmp(*a, "-l") == 0 && a[1] != NULL) {
			return (strdup(a[1]));
		}
	}
	while (p != NULL && *p != '\0') {
		const char *nl  = strchr(p, '\n');
		size_t      len = nl != NULL ? (size_t) (nl - p) : strlen(p);
		char        key[16];
		char        val[512];

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		if (len > 0 && *p == '[') {
			in_broker = strncmp(p, "[broker]", 8) == 0;
		} else if (in_broker &&
		    sscanf(p, "%15[a-z_] = %511[^ \t\n;#]", key, val) == 2 &&
		    strcmp(key, "listen") == 0) {
			return (strdup(val));
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	return (NULL);
}

static void
broker_reaped(cbh_broker *b, int status)
{
	b->pid    = 0;
	b->status = status;
	b->reaped = true;
}

bool
cbh_broker_alive(cbh_broker *b)
{
	int status;

	if (b->pid <= 0) {
		return (false);
	}
	if (cbh_proc_exited(b->pid, &status)) {
		broker_reaped(b, status);
		return (false);
	}
	return (true);
}

int
cbh_broker_wait_ready(cbh_broker *b, int timeout_ms)
{
	cb_client     *c;
	cb_client_opts co  = { .timeout_ms = BROKER_HEALTH_MS };
	int64_t        end = cbh_now_ms() + timeout_ms;
	cb_result      res;
	char           st[64];

	memset(&res, 0, sizeof(res));
	if (cb_client_open(&c, b->url, &co) != CB_OK) {
		cbh_log("cannot open a client for %s", b->url);
		return (-1);
	}
	for (;;) {
		Cachebroker__V1__HealthRequest req =
		    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
		Cachebroker__V1__HealthResponse *resp = NULL;

		if (cb_admin_health(c, &req, &resp, NULL, &res) == CB_OK) {
			cb_message_free(resp);
			cb_client_close(c);
			return (0);
		}
		if (!cbh_broker_alive(b)) {
			cbh_log("cachebrokerd exited while starting (%s)",
			    cbh_status_str(b->status, st, sizeof(st)));
			break;
		}
		if (cbh_now_ms() >= end) {
			cbh_log(
			    "cachebrokerd on %s: no Health answer in %d ms "
			    "(last: %s: %s)",
			    b->url, timeout_ms, cb_status_str(res.code),
			    res.message);
			break;
		}
		cbh_sleep_ms(20);
	}
	cb_client_close(c);
	cbh_broker_print_log(b);
	return (-1);
}

/*
 * nng 1.5 keeps the state of an IPC listener it lost (its issue #1518)
 * after the broker closes and re-creates it (ipcguard.c): a few KiB,
 * allocated inside libnng, that LeakSanitizer reports at exit. Any client
 * that leaves during the handshake can cause it (the CLI in the auth
 * suite did), so every daemon gets a suppression of leaks whose stack
 * passes through libnng, unless the caller or the environment sets
 * LSAN_OPTIONS itself. (It also hides a leak of the broker's own made
 * on one of nng's callback threads; the fuzz corpus replays the decode
 * path without nng under ASan.) daemon_env builds the environment:
 * extra, then that variable (its text in lsan).
 */
static int
daemon_env(cbh_broker *b, const char *const *extra, const char **env,
    size_t cap, char *lsan, size_t lsan_cap)
{
	char   supp[512];
	size_t n   = 0;
	bool   set = getenv("LSAN_OPTIONS") != NULL;

	for (; extra != NULL && *extra != NULL; extra++) {
		if (n + 2 > cap) {
			cbh_log("too many daemon environment variables");
			return (-1);
		}
		set      = set || strncmp(*extra, "LSAN_OPTIONS=", 13) == 0;
		env[n++] = *extra;
	}
	if (!set) {
		snprintf(supp, sizeof(supp), "%s/lsan.supp", b->dir);
		if (cbh_file_write(supp, "leak:libnng.so\n") != 0) {
			return (-1);
		}
		snprintf(lsan, lsan_cap, "LSAN_OPTIONS=suppressions=%s", supp);
		env[n++] = lsan;
	}
	env[n] = NULL;
	return (0);
}

int
cbh_broker_start(
    cbh_broker **out, const cbh_redis *r, const cbh_broker_opts *opts)
{
	const char                  *env[34];
	char                         lsan[600];
	static const cbh_broker_opts none = { 0 };
	cbh_broker                  *b;
	char                        *url  = NULL;
	char                        *base = NULL;
	char                        *text = NULL;
	int         port = 1; /* no Redis: a port nobody listens on */
	const char *argv[64];
	size_t      argc = 0;
	cbh_spawn   sp;

	if (opts == NULL) {
		opts = &none;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		cbh_log("out of memory");
		return (-1);
	}
	if (cbh_tmpdir_create(&b->dir, "broker") != 0) {
		goto fail;
	}
	if (asprintf(&b->conf, "%s/broker.conf", b->dir) < 0 ||
	    asprintf(&b->log, "%s/broker.log", b->dir) < 0 ||
	    asprintf(&url, "ipc://%s/broker.sock", b->dir) < 0) {
		b->conf = b->log = url = NULL;
		cbh_log("out of memory");
		goto fail;
	}
	if (r != NULL) {
		port = cbh_redis_port(r);
	}
	if (cbh_config_base(&base, url,
	        r != NULL ? cbh_redis_host(r) : "127.0.0.1", port,
	        r != NULL ? cbh_redis_password(r) : "") != 0 ||
	    cbh_config_merge(&text, base, opts->config) != 0 ||
	    cbh_file_write(b->conf, text) != 0) {
		goto fail;
	}
	if ((b->url = first_listener(text, opts->args)) == NULL) {
		cbh_log("the config has no listener:\n%s", text);
		goto fail;
	}
	argv[argc++] = cbh_daemon_path();
	argv[argc++] = "-c";
	argv[argc++] = b->conf;
	for (const char *const *a = opts->args; a != NULL && *a != NULL; a++) {
		if (argc + 2 > sizeof(argv) / sizeof(argv[0])) {
			cbh_log("too many daemon arguments");
			goto fail;
		}
		argv[argc++] = *a;
	}
	argv[argc] = NULL;
	if (daemon_env(b, opts->env, env, sizeof(env) / sizeof(env[0]), lsan,
	        sizeof(lsan)) != 0) {
		goto fail;
	}
	memset(&sp, 0, sizeof(sp));
	sp.argv  = argv;
	sp.env   = env;
	sp.unset = daemon_unset;
	sp.out   = b->log;
	sp.err   = b->log;
	sp.cwd   = b->dir;
	if (cbh_proc_spawn(&b->pid, &sp) != 0) {
		goto fail;
	}
	if (!opts->no_wait &&
	    cbh_broker_wait_ready(b, CBH_BROKER_READY_MS) != 0) {
		cbh_log("config was %s:\n%s", b->conf, text);
		goto fail;
	}
	free(url);
	free(base);
	free(text);
	*out = b;
	return (0);

fail:
	free(url);
	free(base);
	free(text);
	cbh_broker_free(b);
	return (-1);
}

int
cbh_broker_stop(cbh_broker *b)
{
	char st[64];
	int  status;

	if (b->pid > 0 && !b->reaped) {
		if (cbh_proc_stop(b->pid, SIGTERM, BROKER_STOP_MS, &status) !=
		    0) {
			broker_reaped(b, status);
			cbh_log("cachebrokerd did not exit within %d ms of "
			        "SIGTERM",
			    BROKER_STOP_MS);
			cbh_broker_print_log(b);
			return (-1);
		}
		broker_reaped(b, status);
	}
	if (!b->reaped) {
		cbh_log("cachebrokerd was never started");
		return (-1);
	}
	if (!WIFEXITED(b->status) || WEXITSTATUS(b->status) != 0) {
		cbh_log("cachebrokerd ended with %s, want exit 0",
		    cbh_status_str(b->status, st, sizeof(st)));
		cbh_broker_print_log(b);
		return (-1);
	}
	return (0);
}

int
cbh_broker_wait(cbh_broker *b, int timeout_ms)
{
	int status;

	if (b->pid > 0 && !b->reaped) {
		if (cbh_proc_wait(b->pid, timeout_ms, &status) != 0) {
			cbh_log("cachebrokerd still running after %d ms",
			    timeout_ms);
			return (-1);
		}
		broker_reaped(b, status);
	}
	/* Reaped: report how it ended, as cbh_broker_stop does. */
	return (cbh_broker_stop(b));
}

void
cbh_broker_free(cbh_broker *b)
{
	int status;

	if (b == NULL) {
		return;
	}
	if (b->pid > 0) {
		if (cbh_proc_stop(b->pid, SIGKILL, 5000, &status) != 0) {
			cbh_log("cachebrokerd %d could not be reaped",
			    (int) b->pid);
		}
		broker_reaped(b, status);
	}
	if (cbh_tmpdir_remove(b->dir) != 0) {
		/* reported; go on */
	}
	free(b->dir);
	free(b->conf);
	free(b->log);
	free(b->url);
	free(b);
}

int
cbh_broker_signal(cbh_broker *b, int sig)
{
	if (b->pid <= 0) {
		cbh_log("cachebrokerd is not running");
		return (-1);
	}
	if (kill(b->pid, sig) != 0) {
		cbh_log("kill cachebrokerd: %s", strerror(errno));
		return (-1);
	}
	return (0);
}

const char *
cbh_broker_url(const cbh_broker *b)
{
	return (b->url);
}

const char *
cbh_broker_dir(const cbh_broker *b)
{
	return (b->dir);
}

const char *
cbh_broker_config(const cbh_broker *b)
{
	return (b->conf);
}

const char *
cbh_broker_log(const cbh_broker *b)
{
	return (b->log);
}

pid_t
cbh_broker_pid(const cbh_broker *b)
{
	return (b->pid);
}

void
cbh_broker_print_log(const cbh_broker *b)
{
	cbh_file_print("cachebrokerd log", b->log);
}

int
cbh_daemon_run(const char *const *args, const char *const *env, int timeout_ms,
    int *code, char **out, char **err)
{
	const char *argv[64];
	size_t      argc  = 0;
	char       *dir   = NULL;
	char       *outp  = NULL;
	char       *errp  = NULL;
	char       *otext = NULL;
	char       *etext = NULL;
	cbh_spawn   sp;
	pid_t       pid;
	int         status;
	int         rv = -1;
	char        st[64];

	argv[argc++] = cbh_daemon_path();
	for (const char *const *a = args; a != NULL && *a != NULL; a++) {
		if (argc + 2 > sizeof(argv) / sizeof(argv[0])) {
			cbh_log("too many daemon arguments");
			return (-1);
		}
		argv[argc++] = *a;
	}
	argv[argc] = NULL;
	if (cbh_tmpdir_create(&dir, "run") != 0) {
		return (-1);
	}
	if (asprintf(&outp, "%s/stdout", dir) < 0 ||
	    asprintf(&errp, "%s/stderr", dir) < 0) {
		outp = errp = NULL;
		cbh_log("out of memory");
		goto done;
	}
	memset(&sp, 0, sizeof(sp));
	sp.argv  = argv;
	sp.env   = env;
	sp.unset = daemon_unset;
	sp.out   = outp;
	sp.err   = errp;
	if (cbh_proc_spawn(&pid, &sp) != 0) {
		goto done;
	}
	if (cbh_proc_wait(pid, timeout_ms, &status) != 0) {
		cbh_log("cachebrokerd %s ... still running after %d ms",
		    args != NULL && args[0] != NULL ? args[0] : "",
		    timeout_ms);
		if (cbh_proc_stop(pid, SIGKILL, 5000, &status) != 0) {
			cbh_log("and could not be reaped");
		}
		cbh_file_print("cachebrokerd stderr", errp);
		goto done;
	}
	if (!WIFEXITED(status)) {
		cbh_log("cachebrokerd ended with %s",
		    cbh_status_str(status, st, sizeof(st)));
		cbh_file_print("cachebrokerd stderr", errp);
		goto done;
	}
	if (cbh_file_read(outp, &otext, NULL) != 0 ||
	    cbh_file_read(errp, &etext, NULL) != 0) {
		goto done;
	}
	*code = WEXITSTATUS(status);
	if (out != NULL) {
		*out  = otext;
		otext = NULL;
	}
	if (err != NULL) {
		*err  = etext;
		etext = NULL;
	}
	rv = 0;
done:
	free(otext);
	free(etext);
	free(outp);
	free(errp);
	if (cbh_tmpdir_remove(dir) != 0) {
		rv = -1;
	}
	free(dir);
	return (rv);
}

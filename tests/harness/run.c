/* SPDX-License-Identifier: MIT */
/* cbh-run: runs one command against a fresh Redis, PostgreSQL and broker. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "harness.h"

/*
 * cbh-run [--pg SCHEMA.sql] [--config EXTRA.conf] [--tls] [--] CMD [ARG...]
 *
 * Test suites in other languages (the Python and TypeScript clients) get
 * the same servers as the C tests through this program, instead of
 * re-implementing the harness:
 *
 *   cbh-run ─► redis-server, [PostgreSQL + SCHEMA.sql], cachebrokerd
 *      │        (ipc://RUN/broker.sock and tcp://127.0.0.1:N, SERVING;
 *      │        with --tls also tls+tcp://127.0.0.1:M, its certificate
 *      │        for "localhost" from a CA made with openssl for the run,
 *      │        client certificates required)
 *      ├─► CMD (stdio inherited, CACHEBROKER_URL & co. in its environment;
 *      │        with --tls, CACHEBROKER_TLS_URL, _CA, _CERT, _KEY,
 *      │        CACHEBROKER_TLS_SERVER_NAME=localhost, and CBH_TLS_DIR
 *      │        with stranger.pem/.key from another CA)
 *      └─► SIGTERM to the broker (must exit 0), stop the servers, rm -rf
 *
 * Exit status: CMD's (128+N when it died of signal N); 1 when CMD
 * succeeded but the broker did not exit 0, or the servers did not start;
 * 77 with --pg where PostgreSQL is not installed (ctest's skip code);
 * 64 for a usage error.
 */

#define EXIT_SKIP 77
#define EXIT_USAGE 64
#define SERVING_MS 20000 /* broker started to Health saying SERVING */
#define BROKER_TRIES 3   /* another process may take the TCP port */
#define LOG_TAIL_LINES 50
#define PG_PLACEHOLDER "@PG_CONNINFO@"

/* What the servers and the command are; owned by main. */
typedef struct run {
	const char  *schema;     /* --pg file, or NULL */
	const char  *extra_path; /* --config file, or NULL */
	char *const *cmd;        /* CMD and its arguments */
	char        *extra;      /* the --config text, placeholder replaced */
	char        *dir;        /* our directory: the servers' go inside */
	char        *ipc_url;    /* ipc://dir/broker.sock */
	char        *tcp_url;    /* tcp://127.0.0.1:port */
	bool         tls;        /* --tls */
	char        *tls_url;    /* tls+tcp://127.0.0.1:port, with --tls */
	cbh_redis   *redis;      /* always */
	cbh_pg      *pg;         /* with --pg */
	cbh_broker  *broker;     /* on both listeners */
} run;

/* The command, for the signal handler; 0 while none runs. */
static volatile pid_t cmd_pid;
/* A signal asked us to stop; start-up gives up at its next step. */
static volatile sig_atomic_t stop_sig;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: cbh-run [--pg SCHEMA.sql] [--config EXTRA.conf] [--tls] "
	    "[--] CMD [ARG...]\n");
}

/*
 * on_signal passes a signal on to the command. A signal the terminal
 * generated (Ctrl-C: si_code SI_KERNEL) has reached the command already,
 * being in our process group; one sent with kill (si_code <= 0) has not.
 */
static void
on_signal(int sig, siginfo_t *si, void *ctx)
{
	(void) ctx;
	stop_sig = sig;
	if (cmd_pid > 0 && si != NULL && si->si_code <= 0) {
		kill(cmd_pid, sig);
	}
}

static void
signals_init(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags     = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
	}
	/* A closed stdout of the command's reader must not kill us before
	 * the servers are stopped. */
	signal(SIGPIPE, SIG_IGN);
}

static bool
stopping(void)
{
	if (stop_sig != 0) {
		cbh_log("signal %d: stopping", (int) stop_sig);
		return (true);
	}
	return (false);
}

/* replace_all returns text with every from replaced by to, on the heap. */
static char *
replace_all(const char *text, const char *from, const char *to)
{
	size_t      flen = strlen(from);
	size_t      tlen = strlen(to);
	size_t      n    = 0;
	const char *p;
	char       *out;
	char       *o;

	for (p = text; (p = strstr(p, from)) != NULL; p += flen) {
		n++;
	}
	if ((out = malloc(strlen(text) + n * tlen + 1)) == NULL) {
		return (NULL);
	}
	o = out;
	for (p = text;;) {
		const char *hit = strstr(p, from);
		size_t      len = hit != NULL ? (size_t) (hit - p) : strlen(p);
		memcpy(o, p, len);
		o += len;
		if (hit == NULL) {
			break;
		}
		memcpy(o, to, tlen);
		o += tlen;
		p = hit + flen;
	}
	*o = '\0';
	return (out);
}

/* pg_load runs the schema file on the new database, in one transaction
 * so that a broken schema leaves no half-made tables. */
static int
pg_load(run *r)
{
	char     *sql = NULL;
	PGconn   *c;
	PGresult *res;
	int       rv = -1;

	if (cbh_file_read(r->schema, &sql, NULL) != 0) {
		return (-1);
	}
	c = PQconnectdb(cbh_pg_conninfo(r->pg));
	if (PQstatus(c) != CONNECTION_OK) {
		cbh_log("connect to PostgreSQL: %s", PQerrorMessage(c));
		goto done;
	}
	res = PQexec(c, "BEGIN");
	PQclear(res);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		cbh_log("%s: %s", r->schema, PQresultErrorMessage(res));
		PQclear(res);
		goto done;
	}
	PQclear(res);
	res = PQexec(c, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		cbh_log(
		    "%s: COMMIT: %s", r->schema, PQresultErrorMessage(res));
		PQclear(res);
		goto done;
	}
	PQclear(res);
	rv = 0;
done:
	PQfinish(c);
	free(sql);
	return (rv);
}

/* read_extra reads --config and fills in the database's conninfo. */
static int
read_extra(run *r)
{
	char *text;

	if (r->extra_path == NULL) {
		return (0);
	}
	if (cbh_file_read(r->extra_path, &text, NULL) != 0) {
		return (-1);
	}
	if (strstr(text, PG_PLACEHOLDER) != NULL && r->pg == NULL) {
		cbh_log("%s uses %s: run with --pg", r->extra_path,
		    PG_PLACEHOLDER);
		free(text);
		return (-1);
	}
	r->extra = replace_all(
	    text, PG_PLACEHOLDER, r->pg != NULL ? cbh_pg_conninfo(r->pg) : "");
	free(text);
	if (r->extra == NULL) {
		cbh_log("out of memory");
		return (-1);
	}
	return (0);
}

/*
 * wait_serving polls Health until the broker has both of its backends:
 * a test that starts before the database pool connects would see its
 * first Fetch fail.
 */
static int
wait_serving(run *r)
{
	cb_client     *c;
	cb_client_opts co  = { .timeout_ms = 1000 };
	int64_t        end = cbh_now_ms() + SERVING_MS;
	char           last[300];

	snprintf(last, sizeof(last), "no answer");
	if (cb_client_open(&c, r->ipc_url, &co) != CB_OK) {
		cbh_log("cannot open a client for %s", r->ipc_url);
		return (-1);
	}
	while (!stopping()) {
		Cachebroker__V1__HealthRequest req =
		    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
		Cachebroker__V1__HealthResponse *h = NULL;
		cb_result                        res;

		if (cb_admin_health(c, &req, &h, NULL, &res) == CB_OK) {
			bool ok = h->status ==
			    CACHEBROKER__V1__SERVING_STATUS__SERVING_STATUS_SERVING;
			snprintf(last, sizeof(last),
			    "status %d; redis: %s; database: %s",
			    (int) h->status,
			    h->redis != NULL && h->redis->connected
			        ? "connected"
			        : (h->redis != NULL ? h->redis->error : "?"),
			    h->database != NULL && h->database->connected
			        ? "connected"
			        : (h->database != NULL ? h->database->error
			                               : "?"));
			cb_message_free(h);
			if (ok) {
				cb_client_close(c);
				return (0);
			}
		} else {
			snprintf(last, sizeof(last), "%s: %s",
			    cb_status_str(res.code), res.message);
		}
		if (cbh_now_ms() >= end || !cbh_broker_alive(r->broker)) {
			cbh_log("the broker did not say SERVING within %d ms; "
			        "last: %s",
			    SERVING_MS, last);
			cbh_broker_print_log(r->broker);
			break;
		}
		cbh_sleep_ms(20);
	}
	cb_client_close(c);
	return (-1);
}

/*
 * tls_setup (--tls) makes RUN/tls with cbh_tls_certs' certificates. The
 * broker gets server.pem and its key, and requires client certificates
 * from ca.pem (tls_client_auth = required).
 */
static int
tls_setup(run *r)
{
	char  dir[4200];
	char *extra = NULL;

	snprintf(dir, sizeof(dir), "%s/tls", r->dir);
	if (mkdir(dir, 0700) != 0) {
		cbh_log("--tls: mkdir %s: %s", dir, strerror(errno));
		return (-1);
	}
	if (cbh_tls_certs(dir) != 0) {
		return (-1);
	}
	if (asprintf(&extra,
	        "%s\n[broker]\ntls_cert = %s/server.pem\n"
	        "tls_key = %s/server.key\ntls_ca = %s/ca.pem\n"
	        "tls_client_auth = required\n",
	        r->extra != NULL ? r->extra : "", dir, dir, dir) < 0) {
		cbh_log("out of memory");
		return (-1);
	}
	free(r->extra);
	r->extra = extra;
	return (0);
}

static int
broker_start(run *r)
{
	for (int i = 0; i < BROKER_TRIES && !stopping(); i++) {
		int         port, tls_port = 0;
		const char *args[7];

		if (cbh_free_port(&port) != 0 ||
		    (r->tls && cbh_free_port(&tls_port) != 0)) {
			return (-1);
		}
		free(r->tcp_url);
		free(r->tls_url);
		r->tls_url = NULL;
		if (asprintf(&r->tcp_url, "tcp://127.0.0.1:%d", port) < 0 ||
		    (r->tls &&
		        asprintf(&r->tls_url, "tls+tcp://127.0.0.1:%d",
		            tls_port) < 0)) {
			r->tcp_url = r->tls_url = NULL;
			cbh_log("out of memory");
			return (-1);
		}
		/* -l replaces the config's listeners; the first is the one
		 * the harness probes. */
		args[0] = "-l";
		args[1] = r->ipc_url;
		args[2] = "-l";
		args[3] = r->tcp_url;
		args[4] = r->tls ? "-l" : NULL;
		args[5] = r->tls_url;
		args[6] = NULL;
		{
			cbh_broker_opts bo = { .config = r->extra,
				.args                  = args };
			if (cbh_broker_start(&r->broker, r->redis, &bo) == 0) {
				return (0);
			}
		}
		r->broker = NULL;
		cbh_log("cachebrokerd did not start with %s (try %d of %d)",
		    r->tcp_url, i + 1, BROKER_TRIES);
	}
	return (-1);
}

/* servers_start starts everything the command needs, in dependency
 * order; on failure what did start is left for servers_stop. */
static int
servers_start(run *r)
{
	char *outer = NULL;
	int   rv    = 0;

	if (cbh_tmpdir_create(&r->dir, "cbh-run") != 0) {
		r->dir = NULL;
		return (-1);
	}
	/* The servers' own directories go inside ours: one rm -rf. The
	 * command gets the caller's CBH_RUN_DIR back. */
	if ((outer = getenv("CBH_RUN_DIR")) != NULL &&
	    (outer = strdup(outer)) == NULL) {
		cbh_log("out of memory");
		return (-1);
	}
	setenv("CBH_RUN_DIR", r->dir, 1);
	if (asprintf(&r->ipc_url, "ipc://%s/broker.sock", r->dir) < 0) {
		r->ipc_url = NULL;
		cbh_log("out of memory");
		rv = -1;
	} else if (stopping() || cbh_redis_start(&r->redis, NULL) != 0) {
		r->redis = NULL;
		rv       = -1;
	} else if (r->schema != NULL &&
	    (stopping() || cbh_pg_start(&r->pg) != 0)) {
		r->pg = NULL;
		rv    = -1;
	} else if ((r->schema != NULL && pg_load(r) != 0) || stopping() ||
	    read_extra(r) != 0 || (r->tls && tls_setup(r) != 0) ||
	    broker_start(r) != 0 || wait_serving(r) != 0) {
		rv = -1;
	}
	if (outer != NULL) {
		setenv("CBH_RUN_DIR", outer, 1);
	} else {
		unsetenv("CBH_RUN_DIR");
	}
	free(outer);
	return (rv);
}

/* servers_stop stops the broker (false if it did not exit 0), then the
 * databases, and removes our directory. */
static bool
servers_stop(run *r)
{
	bool clean = true;

	if (r->broker != NULL && cbh_broker_stop(r->broker) != 0) {
		clean = false;
	}
	cbh_broker_free(r->broker);
	r->broker = NULL;
	cbh_pg_free(r->pg);
	r->pg = NULL;
	cbh_redis_free(r->redis);
	r->redis = NULL;
	if (r->dir != NULL && cbh_tmpdir_remove(r->dir) != 0) {
		clean = false;
	}
	return (clean);
}

static int
export_env(const run *r)
{
	char buf[64];
	int  rv = 0;

	snprintf(buf, sizeof(buf), "%s:%d", cbh_redis_host(r->redis),
	    cbh_redis_port(r->redis));
	rv |= setenv("CACHEBROKER_URL", r->ipc_url, 1);
	rv |= setenv("CACHEBROKER_TCP_URL", r->tcp_url, 1);
	if (r->tls) {
		char ca[4200];
		snprintf(ca, sizeof(ca), "%s/tls/ca.pem", r->dir);
		rv |= setenv("CACHEBROKER_TLS_URL", r->tls_url, 1);
		rv |= setenv("CACHEBROKER_TLS_CA", ca, 1);
		rv |= setenv("CACHEBROKER_TLS_SERVER_NAME", "localhost", 1);
		snprintf(ca, sizeof(ca), "%s/tls/client.pem", r->dir);
		rv |= setenv("CACHEBROKER_TLS_CERT", ca, 1);
		snprintf(ca, sizeof(ca), "%s/tls/client.key", r->dir);
		rv |= setenv("CACHEBROKER_TLS_KEY", ca, 1);
		/* stranger.pem and .key: a client certificate from a CA the
		 * broker does not know. */
		snprintf(ca, sizeof(ca), "%s/tls", r->dir);
		rv |= setenv("CBH_TLS_DIR", ca, 1);
	}
	rv |= setenv("CBH_REDIS", buf, 1);
	if (r->pg != NULL) {
		rv |= setenv("CBH_PG_CONNINFO", cbh_pg_conninfo(r->pg), 1);
	} else {
		unsetenv("CBH_PG_CONNINFO");
	}
	snprintf(buf, sizeof(buf), "%d", (int) cbh_broker_pid(r->broker));
	rv |= setenv("CBH_BROKER_PID", buf, 1);
	rv |= setenv("CBH_BROKER_LOG", cbh_broker_log(r->broker), 1);
	if (rv != 0) {
		cbh_log("setenv: %s", strerror(errno));
		return (-1);
	}
	return (0);
}

/*
 * run_cmd runs the command with our stdio and waits for it; it returns
 * our exit status for it: its code, or 128+N for signal N.
 */
static int
run_cmd(const run *r)
{
	pid_t pid;
	int   status;
	char  st[64];

	fflush(NULL);
	if ((pid = fork()) < 0) {
		cbh_log("fork: %s", strerror(errno));
		return (1);
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		execvp(r->cmd[0], r->cmd);
		fprintf(
		    stderr, "cbh-run: %s: %s\n", r->cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	cmd_pid = pid;
	/* A signal that came while we were starting the servers. */
	if (stop_sig != 0) {
		kill(pid, (int) stop_sig);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			cbh_log("waitpid: %s", strerror(errno));
			cmd_pid = 0;
			return (1);
		}
	}
	cmd_pid = 0;
	if (WIFEXITED(status)) {
		return (WEXITSTATUS(status));
	}
	cbh_log("%s ended with %s", r->cmd[0],
	    cbh_status_str(status, st, sizeof(st)));
	return (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1);
}

/* print_tail copies the last lines of a file to stderr. */
static void
print_tail(const char *title, const char *path, int lines)
{
	char       *text;
	size_t      len;
	const char *p;
	int         n = 0;

	if (cbh_file_read(path, &text, &len) != 0) {
		return;
	}
	p = text + len;
	if (p > text && p[-1] == '\n') {
		p--;
	}
	while (p > text) {
		if (p[-1] == '\n' && ++n == lines) {
			break;
		}
		p--;
	}
	fprintf(stderr, "======== %s (last %d lines): %s ========\n%s", title,
	    lines, path, p);
	if (len > 0 && text[len - 1] != '\n') {
		fputc('\n', stderr);
	}
	fprintf(stderr, "======== end of %s ========\n", title);
	free(text);
}

int
main(int argc, char **argv)
{
	run  r;
	int  i;
	int  code;
	bool clean;

	memset(&r, 0, sizeof(r));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc) {
			r.schema = argv[++i];
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			r.extra_path = argv[++i];
		} else if (strcmp(argv[i], "--tls") == 0) {
			r.tls = true;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage();
			return (0);
		} else if (argv[i][0] == '-') {
			usage();
			return (EXIT_USAGE);
		} else {
			break;
		}
	}
	if (i >= argc) {
		usage();
		return (EXIT_USAGE);
	}
	r.cmd = &argv[i];
	if (r.schema != NULL && !cbh_pg_available()) {
		fprintf(stderr,
		    "cbh-run: PostgreSQL is not installed (pg_config --bindir "
		    "with initdb and pg_ctl, user postgres): skipped\n");
		return (EXIT_SKIP);
	}
	signals_init();

	if (servers_start(&r) != 0) {
		servers_stop(&r);
		code = stop_sig != 0 ? 128 + (int) stop_sig : 1;
		goto out;
	}
	code = export_env(&r) == 0 ? run_cmd(&r) : 1;
	if (code != 0 && cbh_broker_alive(r.broker)) {
		print_tail("cachebrokerd log", cbh_broker_log(r.broker),
		    LOG_TAIL_LINES);
	}
	clean = servers_stop(&r);
	if (code == 0 && !clean) {
		cbh_log("%s succeeded, but the broker or the cleanup failed",
		    r.cmd[0]);
		code = 1;
	}
out:
	free(r.extra);
	free(r.ipc_url);
	free(r.tcp_url);
	free(r.tls_url);
	free(r.dir);
	return (code);
}

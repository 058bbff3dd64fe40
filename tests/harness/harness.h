/* SPDX-License-Identifier: MIT */
/* cbharness: real redis-server and cachebrokerd processes for the tests. */
#ifndef CBH_HARNESS_H
#define CBH_HARNESS_H

/*
 * The harness starts real servers for one test at a time, each in a fresh
 * temporary directory on a free loopback port, and stops them again:
 *
 *   test process ──fork/exec──► redis-server  (127.0.0.1:N, dir/redis.conf)
 *        │       ──fork/exec──► cachebrokerd  (ipc://dir/broker.sock)
 *        └── cb_client (libcachebroker) and a sync hiredis connection
 *
 * Conventions, for every function below:
 * - A fallible function returns 0 on success and -1 on failure, after
 *   printing why on stderr (prefixed "harness:"); its out-parameters are
 *   left untouched on failure.
 * - Children get PR_SET_PDEATHSIG(SIGKILL): they never outlive the test
 *   process. Every child that is stopped is also reaped.
 * - Nothing is thread-safe: call from the thread that runs the test.
 * - Temporary directories go under $CBH_RUN_DIR (set by cbh_run_suite),
 *   else $TMPDIR, else /tmp, and are removed when their owner is freed.
 *
 * Environment variables read:
 *   CB_TEST_REDIS=host:port  use that Redis instead of starting one; tests
 *                            that must stop Redis are skipped. Its data is
 *                            flushed (FLUSHALL): point it at a scratch server.
 *   CBH_DAEMON=path          run this cachebrokerd instead of the built one.
 *   CBH_REDIS_SERVER=path    run this redis-server (default: from $PATH).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>
#include <hiredis/hiredis.h>
#include <nng/nng.h>

#include <cachebroker/cachebroker.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CBH_NODISCARD __attribute__((warn_unused_result))
#define CBH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CBH_NODISCARD
#define CBH_PRINTF(f, a)
#endif

/* ------------------------------------------------------------------ */
/* Time, messages, files                                               */
/* ------------------------------------------------------------------ */

/* cbh_now_ms returns CLOCK_MONOTONIC in milliseconds. */
int64_t cbh_now_ms(void);

/* cbh_sleep_ms sleeps ms milliseconds (restarting after signals). */
void cbh_sleep_ms(int ms);

/* cbh_log prints "harness: <message>\n" on stderr. */
void cbh_log(const char *fmt, ...) CBH_PRINTF(1, 2);

/*
 * cbh_tmpdir_create makes a fresh directory "<base>/<tag>-XXXXXX" (see the
 * conventions above for base). On success *path is a heap string the
 * caller frees; remove the directory with cbh_tmpdir_remove.
 */
CBH_NODISCARD int cbh_tmpdir_create(char **path, const char *tag);

/* cbh_tmpdir_remove removes path and everything under it (rm -rf). */
CBH_NODISCARD int cbh_tmpdir_remove(const char *path);

/*
 * cbh_tls_certs makes, with openssl, in dir (which exists): a CA (ca.pem,
 * ca.key); the broker's certificate for "localhost" signed by it
 * (server.pem, server.key); a client certificate signed by it
 * (client.pem, client.key); a second, unrelated CA (other.pem) and a
 * client certificate it signed (stranger.pem, stranger.key). P-256 keys,
 * valid two days. openssl's output goes to dir/openssl.log.
 */
CBH_NODISCARD int cbh_tls_certs(const char *dir);

/* cbh_file_write creates or truncates path and writes text to it. */
CBH_NODISCARD int cbh_file_write(const char *path, const char *text);

/*
 * cbh_file_read reads a whole file. On success *text is a heap buffer,
 * NUL-terminated, that the caller frees; *len (if not NULL) its length.
 */
CBH_NODISCARD int cbh_file_read(const char *path, char **text, size_t *len);

/* cbh_file_print copies a file to stderr between two banner lines naming
 * title and path; a missing file is reported, not an error. */
void cbh_file_print(const char *title, const char *path);

/* ------------------------------------------------------------------ */
/* Processes and ports                                                 */
/* ------------------------------------------------------------------ */

/* How to run a child; NULL fields mean "inherit" or "none". */
typedef struct cbh_spawn {
	const char *const *argv;  /* argv[0] is the executable's path */
	const char *const *env;   /* "NAME=VALUE" to set, NULL-terminated */
	const char *const *unset; /* names to remove from the environment */
	const char *out; /* file for stdout (appended), else /dev/null */
	const char *err; /* file for stderr (appended), else /dev/null */
	const char *cwd; /* working directory, else inherited */
} cbh_spawn;

/*
 * cbh_proc_spawn forks and execs sp->argv[0] with stdin from /dev/null. The
 * child dies with SIGKILL when the calling thread exits. On success *pid
 * is the child, which the caller must reap (cbh_proc_wait or _stop).
 * An exec failure shows as exit status 127 of the child.
 */
CBH_NODISCARD int cbh_proc_spawn(pid_t *pid, const cbh_spawn *sp);

/*
 * cbh_proc_wait waits up to timeout_ms (negative: forever) for pid to exit
 * and reaps it; *status is the raw wait status. It fails (leaving the
 * child running) on timeout.
 */
CBH_NODISCARD int cbh_proc_wait(pid_t pid, int timeout_ms, int *status);

/* cbh_proc_exited reaps pid if it has exited, without blocking; it
 * returns true then and sets *status (if not NULL). */
bool cbh_proc_exited(pid_t pid, int *status);

/*
 * cbh_proc_stop sends sig, waits up to timeout_ms for the exit, then sends
 * SIGKILL and reaps. *status is the wait status. It fails if SIGKILL was
 * needed; the child is reaped either way.
 */
CBH_NODISCARD int cbh_proc_stop(
    pid_t pid, int sig, int timeout_ms, int *status);

/* cbh_status_str describes a wait status ("exit 0", "signal 6 (Aborted)")
 * into buf and returns buf. */
const char *cbh_status_str(int status, char *buf, size_t size);

/*
 * cbh_free_port finds a TCP port on 127.0.0.1 that nobody listens on by
 * binding port 0 and closing the socket again. Another process may take
 * it before the caller does: callers retry on a bind failure.
 */
CBH_NODISCARD int cbh_free_port(int *port);

/* ------------------------------------------------------------------ */
/* redis-server                                                        */
/* ------------------------------------------------------------------ */

typedef struct cbh_redis cbh_redis;

typedef struct cbh_redis_opts {
	const char *password; /* requirepass; NULL or "": none */
	const char *config;   /* extra redis.conf lines; NULL: none */
} cbh_redis_opts;

/*
 * cbh_redis_start starts redis-server (bind 127.0.0.1, a free port, no
 * persistence, its log and data in a fresh directory) and waits until
 * PING answers, up to 10 s; or, when CB_TEST_REDIS is set, checks that
 * server answers and flushes it (opts are then ignored). On success *out
 * owns the server; free it with cbh_redis_free.
 */
CBH_NODISCARD int cbh_redis_start(cbh_redis **out, const cbh_redis_opts *opts);

/* cbh_redis_free stops the server if the harness started it, reaps it
 * and removes its directory. NULL-safe. */
void cbh_redis_free(cbh_redis *r);

/* cbh_redis_external says whether r is a server from CB_TEST_REDIS, which
 * the harness must not stop. */
bool cbh_redis_external(const cbh_redis *r);

const char *cbh_redis_host(const cbh_redis *r);
int         cbh_redis_port(const cbh_redis *r);
/* The requirepass password, or "" for none. */
const char *cbh_redis_password(const cbh_redis *r);
/* The server's directory (redis.conf, redis.log), NULL when external. */
const char *cbh_redis_dir(const cbh_redis *r);
/* Whether the harness's server process is running (true when external). */
bool cbh_redis_running(const cbh_redis *r);

/* cbh_redis_stop sends SIGTERM (sig 0) or sig and reaps the server. It
 * fails for an external server. */
CBH_NODISCARD int cbh_redis_stop(cbh_redis *r, int sig);

/* cbh_redis_signal sends sig to the server and returns at once: SIGSTOP
 * freezes it (connections stay open, nothing answers), SIGCONT thaws it.
 * It fails for an external server. cbh_redis_free thaws a frozen one. */
CBH_NODISCARD int cbh_redis_signal(cbh_redis *r, int sig);

/* cbh_redis_restart starts a stopped server again on the same port with
 * the same configuration, and waits until PING answers. */
CBH_NODISCARD int cbh_redis_restart(cbh_redis *r);

/*
 * cbh_redis_connect opens a synchronous hiredis connection to the server
 * (authenticated, database db selected, 5 s I/O timeout). On success *out
 * is owned by the caller: redisFree.
 */
CBH_NODISCARD int cbh_redis_connect(
    const cbh_redis *r, int db, redisContext **out);

/* cbh_redis_print_log copies the server's log to stderr. */
void cbh_redis_print_log(const cbh_redis *r);

/* ------------------------------------------------------------------ */
/* cachebrokerd                                                        */
/* ------------------------------------------------------------------ */

typedef struct cbh_broker cbh_broker;

typedef struct cbh_broker_opts {
	/*
	 * INI text merged into the generated config: every key given here
	 * replaces all lines of that key in its section (several "listen"
	 * lines stay several), and new keys and sections are appended.
	 */
	const char        *config;
	const char *const *args; /* extra arguments ("-l", URL), NULL-ended */
	const char *const *env;  /* "NAME=VALUE" for the daemon, NULL-ended */
	bool               no_wait; /* return once started, without Health */
} cbh_broker_opts;

/* The daemon's exit code for a bad configuration (EX_CONFIG). */
#define CBH_EXIT_CONFIG 78

/* How long cbh_broker_start waits for Health to answer. */
#define CBH_BROKER_READY_MS 10000

/*
 * cbh_broker_start writes a config file into a fresh directory and runs
 * "cachebrokerd -c FILE" on ipc://DIR/broker.sock (its stderr and stdout in
 * DIR/broker.log), connected to r (NULL: a closed port, for tests that do
 * not need Redis). Unless opts->no_wait, it waits up to
 * CBH_BROKER_READY_MS for AdminService/Health to answer (with any
 * status) on the first listener. REDIS_HOST, REDIS_PORT, REDIS_PASSWORD,
 * CACHEBROKER_URL and NOTIFY_SOCKET are removed from the daemon's
 * environment unless opts->env sets them. On success *out owns the daemon.
 */
CBH_NODISCARD int cbh_broker_start(
    cbh_broker **out, const cbh_redis *r, const cbh_broker_opts *opts);

/*
 * cbh_broker_stop sends SIGTERM and waits up to 30 s. It succeeds only if
 * the daemon exited with status 0; otherwise it prints why and the log.
 * The daemon is reaped (SIGKILL if need be) either way. Stopping a
 * stopped daemon reports how it ended again.
 */
CBH_NODISCARD int cbh_broker_stop(cbh_broker *b);

/*
 * cbh_broker_wait waits up to timeout_ms for the daemon to exit by itself
 * (after a signal the test sent) without signalling it. It succeeds only
 * if the daemon exited with status 0 in time; on timeout it is left
 * running.
 */
CBH_NODISCARD int cbh_broker_wait(cbh_broker *b, int timeout_ms);

/* cbh_broker_free kills the daemon if it still runs, reaps it and removes
 * its directory. NULL-safe. */
void cbh_broker_free(cbh_broker *b);

/* cbh_broker_wait_ready polls Health on the first listener until it
 * answers, the daemon exits, or timeout_ms passes. */
CBH_NODISCARD int cbh_broker_wait_ready(cbh_broker *b, int timeout_ms);

/* cbh_broker_alive says whether the daemon is still running (it reaps
 * it otherwise). */
bool cbh_broker_alive(cbh_broker *b);

/* cbh_broker_signal sends sig to the daemon. */
CBH_NODISCARD int cbh_broker_signal(cbh_broker *b, int sig);

const char *cbh_broker_url(const cbh_broker *b);    /* first listener */
const char *cbh_broker_dir(const cbh_broker *b);    /* its directory */
const char *cbh_broker_config(const cbh_broker *b); /* config file path */
const char *cbh_broker_log(const cbh_broker *b);    /* log file path */
pid_t       cbh_broker_pid(const cbh_broker *b);

/* cbh_broker_print_log copies the daemon's log to stderr. */
void cbh_broker_print_log(const cbh_broker *b);

/* cbh_daemon_path is the cachebrokerd that the harness runs. */
const char *cbh_daemon_path(void);

/*
 * cbh_daemon_run runs cachebrokerd with args (NULL-terminated, without
 * argv[0]) and env to its end, at most timeout_ms. On success *code is its
 * exit code and *out, *err (each optional) its stdout and stderr as heap
 * strings the caller frees. It fails when the daemon hangs (it is then
 * killed) or dies of a signal.
 */
CBH_NODISCARD int cbh_daemon_run(const char *const *args,
    const char *const *env, int timeout_ms, int *code, char **out, char **err);

/*
 * cbh_config_base returns the config the harness writes for a broker
 * listening on url and talking to Redis at host:port, as a heap string.
 */
CBH_NODISCARD int cbh_config_base(char **out, const char *url,
    const char *host, int port, const char *password);

/* cbh_config_merge merges extra into base as cbh_broker_opts.config says;
 * *out is a heap string. */
CBH_NODISCARD int cbh_config_merge(
    char **out, const char *base, const char *extra);

/* ------------------------------------------------------------------ */
/* PostgreSQL (for the loaders; not used by the tests yet)             */
/* ------------------------------------------------------------------ */

typedef struct cbh_pg cbh_pg;

/*
 * cbh_pg_available says whether a PostgreSQL server can be started here:
 * `pg_config --bindir` names a directory with initdb and pg_ctl, and the
 * "postgres" user exists (the server runs as that user, through
 * "runuser -u postgres --", when the tests run as root).
 */
bool cbh_pg_available(void);

/*
 * cbh_pg_start runs initdb into a fresh directory and starts the server
 * with pg_ctl on 127.0.0.1 and a free port (its socket in the directory),
 * trust authentication for user "postgres", and waits until it accepts
 * connections. On success *out owns the server; free it with cbh_pg_free.
 */
CBH_NODISCARD int cbh_pg_start(cbh_pg **out);

/* cbh_pg_stop stops the server (pg_ctl stop -m fast). */
CBH_NODISCARD int cbh_pg_stop(cbh_pg *p);

/* cbh_pg_restart starts a stopped server again on the same port. */
CBH_NODISCARD int cbh_pg_restart(cbh_pg *p);

/* cbh_pg_free stops the server if it runs and removes its directory. */
void cbh_pg_free(cbh_pg *p);

/* A libpq conninfo string for the server ("host=127.0.0.1 port=N
 * user=postgres dbname=postgres"). */
const char *cbh_pg_conninfo(const cbh_pg *p);
int         cbh_pg_port(const cbh_pg *p);

/* ------------------------------------------------------------------ */
/* Raw nng requests (for malformed and oversized envelopes)            */
/* ------------------------------------------------------------------ */

/*
 * cbh_raw_open opens a req0 socket dialled (in the background) to url,
 * with send and receive timeouts of timeout_ms and no limit on the size
 * of replies. The caller closes it with nng_close.
 */
CBH_NODISCARD int cbh_raw_open(nng_socket *s, const char *url, int timeout_ms);

/*
 * cbh_raw_call sends len bytes as one request and waits for the reply,
 * which must decode as a cachebroker.v1.Response. On success *resp is
 * owned by the caller (cachebroker__v1__response__free_unpacked).
 */
CBH_NODISCARD int cbh_raw_call(nng_socket s, const void *buf, size_t len,
    Cachebroker__V1__Response **resp);

/*
 * cbh_raw_pack serializes an envelope for method with msg (NULL: empty
 * payload) as its payload. *buf is a heap buffer the caller frees.
 */
CBH_NODISCARD int cbh_raw_pack(const char *method, const ProtobufCMessage *msg,
    uint32_t deadline_ms, const char *request_id, uint8_t **buf, size_t *len);

/* ------------------------------------------------------------------ */
/* One test's servers, and the Check glue                              */
/* ------------------------------------------------------------------ */

/* What a test gets from cbh_env_start. */
typedef struct cbh_env {
	cbh_redis    *redis;  /* the Redis server */
	cbh_broker   *broker; /* the daemon, connected to redis */
	cb_client    *client; /* a client of broker's first listener */
	redisContext *rc;     /* a sync connection to redis, db 0 */
} cbh_env;

typedef struct cbh_env_opts {
	const cbh_redis_opts  *redis;      /* NULL: defaults */
	const cbh_broker_opts *broker;     /* NULL: defaults */
	uint32_t               timeout_ms; /* the client's; 0: 5000 */
} cbh_env_opts;

/*
 * cbh_env_start starts Redis, then the broker, then opens the client and
 * the hiredis connection, and waits (cbh_env_wait_serving) until the
 * broker says SERVING: connected to Redis. On success *out owns all
 * four: cbh_env_stop.
 */
CBH_NODISCARD int cbh_env_start(cbh_env **out, const cbh_env_opts *opts);

/*
 * cbh_env_stop closes the client and the Redis connection, stops the
 * broker (which must exit with status 0), then Redis, and frees e. It
 * fails if the broker did not exit cleanly. When the running test did not
 * reach its end (see CBH_TEST) it first prints the servers' logs.
 * NULL-safe.
 */
CBH_NODISCARD int cbh_env_stop(cbh_env *e);

/* cbh_env_wait_serving polls Health until it answers SERVING, at most
 * timeout_ms; it fails (printing the last answer) otherwise. */
CBH_NODISCARD int cbh_env_wait_serving(cbh_env *e, int timeout_ms);

/* cbh_env_restart_broker stops e's broker (which must exit 0) and starts
 * a new one with opts, reopening the client. It does not wait for
 * SERVING: the new config may be meant to fail to connect. */
CBH_NODISCARD int cbh_env_restart_broker(
    cbh_env *e, const cbh_broker_opts *opts);

/*
 * CBH_TEST(name) { body } defines a Check test whose body is marked as
 * having run to its end, so that a failed test's teardown (which still
 * runs in CK_FORK=no mode) prints the servers' logs.
 */
#define CBH_TEST(name)                 \
	static void name##_body(void); \
	START_TEST(name)               \
	{                              \
		cbh_test_begin(#name); \
		name##_body();         \
		cbh_test_end();        \
	}                              \
	END_TEST                       \
	static void name##_body(void)

void cbh_test_begin(const char *name);
void cbh_test_end(void);
/* Whether the current test ran its body to the end. */
bool cbh_test_completed(void);
/* The running test's name ("" outside CBH_TEST). */
const char *cbh_test_name(void);

/* cbh_skip prints "SKIP <test>: <why>" on stderr; the test then returns. */
void cbh_skip(const char *fmt, ...) CBH_PRINTF(1, 2);

/*
 * cbh_run_suite runs s with a fresh $CBH_RUN_DIR for the servers'
 * directories, prints the logs that failed tests left behind (a test
 * that failed in CK_FORK mode exits at once, leaving its directories),
 * removes the run directory and returns the process exit status.
 */
int cbh_run_suite(Suite *s);

#ifdef __cplusplus
}
#endif

#endif /* CBH_HARNESS_H */

/* SPDX-License-Identifier: MIT */
/* Helpers shared by the integration suites: fixtures, calls, Redis checks. */
#ifndef CB_IT_H
#define CB_IT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>

#include "harness.h"

/*
 * The running test's servers. it_setup starts them with the harness's
 * default config, it_setup_config(text) with text merged into it;
 * it_teardown stops them and fails the test unless the broker exited 0.
 */
extern cbh_env *it_env;

void it_setup(void);
void it_teardown(void);
void it_setup_config(const char *config);

/* it_tcase creates a test case with it_setup/it_teardown around each test
 * and a generous timeout (Check's default of 4 s is too short). */
TCase *it_tcase(const char *name);

/* it_tcase_with is it_tcase with setup (which starts it_env) instead of
 * it_setup. */
TCase *it_tcase_with(const char *name, void (*setup)(void));

/* ---- Redis, through the test's own hiredis connection ---- */

/* it_redis runs a command and returns its reply, which must not be an
 * error; the caller frees it (freeReplyObject). */
redisReply *it_redis(const char *fmt, ...);

/* it_redis_int runs a command whose reply must be an integer. */
long long it_redis_int(const char *fmt, ...);

/* it_redis_ok runs a command whose reply must be a status (OK). */
void it_redis_ok(const char *fmt, ...);

/*
 * it_redis_get returns a heap copy of the string at key (NUL-terminated,
 * *len without it) or NULL when the key does not exist.
 */
char *it_redis_get(const char *key, size_t *len);

/* PTTL of key: -2 missing, -1 no expiry. */
long long it_pttl(const char *key);

/* How far a TTL may have run down between a write and its check (slow
 * machines, sanitizers). */
#define IT_TTL_SLACK_MS 5000

/* it_assert_ttl_near asserts that key has a TTL of ttl_ms, or up to
 * IT_TTL_SLACK_MS less. */
void it_assert_ttl_near(const char *key, long long ttl_ms);
bool it_exists(const char *key);

/* it_log_count counts the lines of the broker's log that contain sub. */
int it_log_count(const char *sub);

/* it_ipc_hangups connects to the IPC socket at path n times, leaving each
 * time before the SP handshake: what makes nng 1.5 lose the listener
 * (its issue #1518). */
void it_ipc_hangups(const char *path, int n);

/* it_info_stat reads field of "name:a=N,b=M" in Redis' INFO section
 * (commandstats, errorstats); 0 when the line is not there. */
long long it_info_stat(
    const char *section, const char *name, const char *field);

/* it_count_keys counts the keys matching a glob pattern (KEYS, in one
 * EVAL: for tests, on small databases). */
long long it_count_keys(const char *pattern);

/* ---- The broker, through the client library ---- */

/* The full method name for "CacheService/Get". */
#define IT_METHOD(svc_meth) CB_METHOD_PREFIX svc_meth

/* it_set stores value with it_env's client; *stored (optional) says
 * whether it was written. Returns the call's status. */
cb_status it_set(const char *ns, const char *key, const void *value,
    size_t len, int64_t ttl_ms, Cachebroker__V1__SetCondition cond,
    bool *stored);

/* it_set_str stores a string without expiry and asserts it was stored. */
void it_set_str(const char *ns, const char *key, const char *value);

/* it_get reads a key; on OK *resp is owned by the caller. */
cb_status it_get(
    const char *ns, const char *key, Cachebroker__V1__GetResponse **resp);

/* it_get_str asserts the key is found and holds value. */
void it_get_str(const char *ns, const char *key, const char *value);

/* it_health asserts Health answers OK and returns it (cb_message_free). */
Cachebroker__V1__HealthResponse *it_health(void);

/* it_metrics asserts Metrics answers OK and returns it. */
Cachebroker__V1__MetricsResponse *it_metrics(void);

/* it_wait_redis_connected polls Health until its redis.connected is
 * want, at most limit_ms; returns whether it got there. */
bool it_wait_redis_connected(bool want, int limit_ms);

/* it_need_own_redis says whether the test may stop Redis (the harness
 * started it), and otherwise reports the test as skipped. */
bool it_need_own_redis(void);

/* it_wait_listening waits, at most 5 s, until the broker's LISTEN
 * connection (notify_channel) listens and the flush it made when it began
 * is applied (the journal is empty). */
void it_wait_listening(void);

/* it_delete calls CacheService/Delete of n keys of ns; on OK *deleted
 * (optional) is how many existed. opts may be NULL. */
cb_status it_delete(const char *ns, char **keys, size_t n, uint32_t *deleted,
    const cb_callopts *opts, cb_result *res);

/* it_publish calls EventService/Publish of event with one parameter (none
 * when name is NULL); on OK *count (optional) is keys_invalidated. */
cb_status it_publish(const char *event, const char *name, const char *value,
    uint64_t *count, cb_result *res);

/* IT_ASSERT_CODE fails unless got == want, printing both names and the
 * call's message. */
#define IT_ASSERT_CODE(got, want, res)                                \
	do {                                                          \
		cb_status got_ = (got);                               \
		ck_assert_msg(got_ == (want), "got %s (%s), want %s", \
		    cb_status_str(got_), (res)->message,              \
		    cb_status_str(want));                             \
	} while (0)

/* ---- PostgreSQL, through libpq ---- */

/* it_pg_sql runs sql (any number of statements) on pg, which must
 * succeed. */
void it_pg_sql(const cbh_pg *pg, const char *sql);

/* it_pg_long runs a query and returns its first value as a number. */
long it_pg_long(const cbh_pg *pg, const char *sql);

/* it_redis_reconnect replaces it_env's Redis connection (after Redis was
 * restarted). */
void it_redis_reconnect(void);

/*
 * A suite's own PostgreSQL for its loaders (one per suite: initdb costs
 * seconds). it_pg_start, from an unchecked fixture, starts it and runs
 * schema on it, unless PostgreSQL cannot run here (it_pg stays NULL);
 * it_pg_stop frees it. it_setup_pg, from a checked fixture, starts Redis
 * and the broker with policy and it_pg's conninfo as [database] conninfo
 * (without it_pg, with the default config). it_need_pg, in a test, says
 * whether it_pg is there, and otherwise reports the test as skipped.
 */
extern cbh_pg *it_pg;

void it_pg_start(const char *schema);
void it_pg_stop(void);
void it_setup_pg(const char *policy);
bool it_need_pg(void);

/* ---- The command-line client ---- */

/*
 * it_cli runs the cachebroker CLI against it_env's broker with args (a
 * command line after "cachebroker", split on spaces) and returns its exit
 * code; its stdout goes into out (cap bytes, NUL-terminated).
 */
int it_cli(const char *args, char *out, size_t cap);

/* it_cli_path is the cachebroker CLI the tests run. */
const char *it_cli_path(void);

/* ---- The HTTP endpoints ([broker] http) ---- */

/*
 * it_http_get sends "GET path" to 127.0.0.1:port and reads the whole
 * answer (the server closes after it: Connection: close). Returns the
 * status code, and the body as a heap string in *body (caller frees).
 */
int it_http_get(int port, const char *path, char **body);

/* it_prom_sample finds "name{labels} value" (series with its labels, if
 * any) in a scrape and returns the value; -1 when the series is absent. */
double it_prom_sample(const char *text, const char *series);

#endif /* CB_IT_H */

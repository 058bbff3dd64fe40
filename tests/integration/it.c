/* SPDX-License-Identifier: MIT */
/* Helpers shared by the integration suites: fixtures, calls, Redis checks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "it.h"

/* Seconds one test may take (Check, CK_FORK mode). */
#define IT_TEST_TIMEOUT_S 120

/* How long it_http_get waits for a whole answer: a bound, not a
 * measure (a scrape during a Redis stall takes a command_timeout). */
#define IT_HTTP_TIMEOUT_MS 15000

cbh_env *it_env;

void
it_setup(void)
{
	it_setup_config(NULL);
}

void
it_setup_config(const char *config)
{
	cbh_broker_opts bo = { .config = config };
	cbh_env_opts    eo = { .broker = &bo };

	it_env = NULL;
	ck_assert_msg(cbh_env_start(&it_env, &eo) == 0,
	    "could not start Redis and the broker (see above)");
}

void
it_teardown(void)
{
	cbh_env *e = it_env;

	it_env = NULL;
	ck_assert_msg(cbh_env_stop(e) == 0,
	    "the broker did not exit cleanly on SIGTERM (see above)");
}

TCase *
it_tcase(const char *name)
{
	return (it_tcase_with(name, it_setup));
}

TCase *
it_tcase_with(const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, it_teardown);
	tcase_set_timeout(tc, IT_TEST_TIMEOUT_S);
	return (tc);
}

static redisReply *
it_vredis(const char *fmt, va_list ap)
{
	redisReply *r = redisvCommand(it_env->rc, fmt, ap);

	ck_assert_msg(r != NULL, "Redis %s: %s", fmt, it_env->rc->errstr);
	ck_assert_msg(
	    r->type != REDIS_REPLY_ERROR, "Redis %s: %s", fmt, r->str);
	return (r);
}

redisReply *
it_redis(const char *fmt, ...)
{
	va_list     ap;
	redisReply *r;

	va_start(ap, fmt);
	r = it_vredis(fmt, ap);
	va_end(ap);
	return (r);
}

long long
it_redis_int(const char *fmt, ...)
{
	va_list     ap;
	redisReply *r;
	long long   v;

	va_start(ap, fmt);
	r = it_vredis(fmt, ap);
	va_end(ap);
	ck_assert_msg(r->type == REDIS_REPLY_INTEGER,
	    "Redis %s: reply type %d, want an integer", fmt, r->type);
	v = r->integer;
	freeReplyObject(r);
	return (v);
}

void
it_redis_ok(const char *fmt, ...)
{
	va_list     ap;
	redisReply *r;

	va_start(ap, fmt);
	r = it_vredis(fmt, ap);
	va_end(ap);
	ck_assert_msg(r->type == REDIS_REPLY_STATUS,
	    "Redis %s: reply type %d, want a status", fmt, r->type);
	freeReplyObject(r);
}

char *
it_redis_get(const char *key, size_t *len)
{
	redisReply *r = it_redis("GET %s", key);
	char       *out;

	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return (NULL);
	}
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	out = malloc(r->len + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, r->str, r->len);
	out[r->len] = '\0';
	if (len != NULL) {
		*len = r->len;
	}
	freeReplyObject(r);
	return (out);
}

long long
it_pttl(const char *key)
{
	return (it_redis_int("PTTL %s", key));
}

void
it_assert_ttl_near(const char *key, long long ttl_ms)
{
	long long pttl = it_pttl(key);

	ck_assert_msg(
	    pttl > 0 && pttl > ttl_ms - IT_TTL_SLACK_MS && pttl <= ttl_ms,
	    "PTTL %s = %lld, want about %lld", key, pttl, ttl_ms);
}

bool
it_exists(const char *key)
{
	return (it_redis_int("EXISTS %s", key) == 1);
}

/* it_info_stat reads field N of "name:a=N,b=M" in an INFO section; 0 when
 * the line is not there. */
long long
it_info_stat(const char *section, const char *name, const char *field)
{
	redisReply *r = it_redis("INFO %s", section);
	char        want[128];
	const char *p, *end;
	long long   v = 0;

	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	snprintf(want, sizeof(want), "\n%s:", name);
	if ((p = strstr(r->str, want)) != NULL) {
		p += strlen(want);
		end = strchr(p, '\r');
		while (p != NULL && (end == NULL || p < end)) {
			if (strncmp(p, field, strlen(field)) == 0 &&
			    p[strlen(field)] == '=') {
				v = strtoll(p + strlen(field) + 1, NULL, 10);
				break;
			}
			if ((p = strchr(p, ',')) != NULL) {
				p++;
			}
		}
	}
	freeReplyObject(r);
	return v;
}

long long
it_count_keys(const char *pattern)
{
	return (it_redis_int(
	    "EVAL %s 0 %s", "return #redis.call('KEYS', ARGV[1])", pattern));
}

cb_status
it_set(const char *ns, const char *key, const void *value, size_t len,
    int64_t ttl_ms, Cachebroker__V1__SetCondition cond, bool *stored)
{
	Cachebroker__V1__SetRequest   req = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__SetResponse *resp = NULL;
	cb_result                     res;
	cb_status                     st;

	req.namespace_ = (char *) ns;
	req.key        = (char *) key;
	req.value.data = (uint8_t *) value;
	req.value.len  = len;
	req.ttl_ms     = ttl_ms;
	req.condition  = cond;
	st             = cb_cache_set(it_env->client, &req, &resp, NULL, &res);
	if (st == CB_OK) {
		if (stored != NULL) {
			*stored = resp->stored;
		}
		cb_message_free(resp);
	}
	return (st);
}

void
it_set_str(const char *ns, const char *key, const char *value)
{
	bool      stored = false;
	cb_status st;

	st = it_set(ns, key, value, strlen(value), 0,
	    CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS, &stored);
	ck_assert_msg(
	    st == CB_OK, "Set %s/%s: %s", ns, key, cb_status_str(st));
	ck_assert_msg(stored, "Set %s/%s: not stored", ns, key);
}

cb_status
it_get(const char *ns, const char *key, Cachebroker__V1__GetResponse **resp)
{
	Cachebroker__V1__GetRequest req = CACHEBROKER__V1__GET_REQUEST__INIT;
	cb_result                   res;

	req.namespace_ = (char *) ns;
	req.key        = (char *) key;
	return (cb_cache_get(it_env->client, &req, resp, NULL, &res));
}

void
it_get_str(const char *ns, const char *key, const char *value)
{
	Cachebroker__V1__GetResponse *resp = NULL;
	cb_status                     st   = it_get(ns, key, &resp);

	ck_assert_msg(
	    st == CB_OK, "Get %s/%s: %s", ns, key, cb_status_str(st));
	ck_assert_msg(resp->found, "Get %s/%s: not found", ns, key);
	ck_assert_uint_eq(resp->value.len, strlen(value));
	ck_assert_mem_eq(resp->value.data, value, strlen(value));
	cb_message_free(resp);
}

Cachebroker__V1__HealthResponse *
it_health(void)
{
	Cachebroker__V1__HealthRequest req =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__HealthResponse *resp = NULL;
	cb_result                        res;
	cb_status                        st;

	st = cb_admin_health(it_env->client, &req, &resp, NULL, &res);
	IT_ASSERT_CODE(st, CB_OK, &res);
	return (resp);
}

Cachebroker__V1__MetricsResponse *
it_metrics(void)
{
	Cachebroker__V1__MetricsRequest req =
	    CACHEBROKER__V1__METRICS_REQUEST__INIT;
	Cachebroker__V1__MetricsResponse *resp = NULL;
	cb_result                         res;
	cb_status                         st;

	st = cb_admin_metrics(it_env->client, &req, &resp, NULL, &res);
	IT_ASSERT_CODE(st, CB_OK, &res);
	return (resp);
}

bool
it_wait_redis_connected(bool want, int limit_ms)
{
	int64_t end = cbh_now_ms() + limit_ms;

	for (;;) {
		Cachebroker__V1__HealthResponse *h = it_health();
		bool got = h->redis != NULL && h->redis->connected;
		cb_message_free(h);
		if (got == want) {
			return (true);
		}
		if (cbh_now_ms() > end) {
			return (false);
		}
		cbh_sleep_ms(50);
	}
}

bool
it_need_own_redis(void)
{
	if (cbh_redis_external(it_env->redis)) {
		cbh_skip("stops Redis, and CB_TEST_REDIS names a server the "
		         "tests must not stop");
		return (false);
	}
	return (true);
}

void
it_wait_listening(void)
{
	for (int i = 0; i < 250; i++) {
		Cachebroker__V1__MetricsResponse *m = it_metrics();
		bool ok = m->notify_listening && m->journal_items == 0;
		cb_message_free(m);
		if (ok) {
			return;
		}
		cbh_sleep_ms(20);
	}
	ck_abort_msg("the broker did not listen (notify_channel) within 5 s");
}

cb_status
it_publish(const char *event, const char *name, const char *value,
    uint64_t *count, cb_result *res)
{
	Cachebroker__V1__PublishRequest req =
	    CACHEBROKER__V1__PUBLISH_REQUEST__INIT;
	Cachebroker__V1__PublishRequest__ParamsEntry e =
	    CACHEBROKER__V1__PUBLISH_REQUEST__PARAMS_ENTRY__INIT;
	Cachebroker__V1__PublishRequest__ParamsEntry *ep[1] = { &e };
	Cachebroker__V1__PublishResponse             *resp  = NULL;
	cb_status                                     st;

	req.event    = (char *) event;
	e.key        = (char *) name;
	e.value      = (char *) value;
	req.n_params = name != NULL ? 1 : 0;
	req.params   = ep;
	st = cb_event_publish(it_env->client, &req, &resp, NULL, res);
	if (st == CB_OK && count != NULL) {
		*count = resp->keys_invalidated;
	}
	cb_message_free(resp);
	return st;
}

const char *
it_cli_path(void)
{
	return CB_TEST_CLI;
}

int
it_cli(const char *args, char *out, size_t cap)
{
	char   cmd[2048];
	FILE  *f;
	size_t n;
	int    st;

	snprintf(cmd, sizeof(cmd), "%s -u '%s' %s", CB_TEST_CLI,
	    cbh_broker_url(it_env->broker), args);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	n      = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	st     = pclose(f);
	ck_assert_msg(WIFEXITED(st), "%s: did not exit", cmd);
	return WEXITSTATUS(st);
}

void
it_pg_sql(const cbh_pg *pg, const char *sql)
{
	PGconn   *c = PQconnectdb(cbh_pg_conninfo(pg));
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	        PQresultStatus(r) == PGRES_TUPLES_OK,
	    "%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

long
it_pg_long(const cbh_pg *pg, const char *sql)
{
	PGconn   *c = PQconnectdb(cbh_pg_conninfo(pg));
	PGresult *r = PQexec(c, sql);
	long      v;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	return v;
}

void
it_redis_reconnect(void)
{
	redisFree(it_env->rc);
	it_env->rc = NULL;
	ck_assert_int_eq(cbh_redis_connect(it_env->redis, 0, &it_env->rc), 0);
}

cbh_pg *it_pg;

void
it_pg_start(const char *schema)
{
	if (!cbh_pg_available()) {
		return;
	}
	ck_assert_int_eq(cbh_pg_start(&it_pg), 0);
	it_pg_sql(it_pg, schema);
}

void
it_pg_stop(void)
{
	cbh_pg_free(it_pg);
	it_pg = NULL;
}

void
it_setup_pg(const char *policy)
{
	char  db[512];
	char *conf = NULL;

	if (it_pg == NULL) {
		it_setup();
		return;
	}
	snprintf(db, sizeof(db), "[database]\nconninfo = %s\n",
	    cbh_pg_conninfo(it_pg));
	ck_assert_int_eq(cbh_config_merge(&conf, policy, db), 0);
	it_setup_config(conf);
	free(conf);
}

bool
it_need_pg(void)
{
	if (it_pg == NULL) {
		cbh_skip("PostgreSQL (initdb, pg_ctl, user postgres) is not "
		         "installed");
		return (false);
	}
	return (true);
}

cb_status
it_delete(const char *ns, char **keys, size_t n, uint32_t *deleted,
    const cb_callopts *opts, cb_result *res)
{
	Cachebroker__V1__DeleteRequest req =
	    CACHEBROKER__V1__DELETE_REQUEST__INIT;
	Cachebroker__V1__DeleteResponse *resp = NULL;
	cb_status                        st;

	req.namespace_ = (char *) ns;
	req.keys       = keys;
	req.n_keys     = n;
	st = cb_cache_delete(it_env->client, &req, &resp, opts, res);
	if (st == CB_OK && deleted != NULL) {
		*deleted = resp->deleted;
	}
	cb_message_free(resp);
	return (st);
}

void
it_ipc_hangups(const char *path, int n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(
		    connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
		close(fd);
	}
}

int
it_log_count(const char *sub)
{
	char *text  = NULL;
	int   count = 0;

	if (cbh_file_read(cbh_broker_log(it_env->broker), &text, NULL) != 0) {
		return 0;
	}
	for (char *l = text; l != NULL && *l != '\0';) {
		char *end = strchr(l, '\n');
		if (end != NULL) {
			*end = '\0';
		}
		count += strstr(l, sub) != NULL;
		l = end != NULL ? end + 1 : NULL;
	}
	free(text);
	return count;
}

int
it_http_get(int port, const char *path, char **body)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char               req[256];
	char              *buf = NULL;
	size_t             len = 0;
	int                fd;
	int                status = -1;
	int64_t            until  = cbh_now_ms() + IT_HTTP_TIMEOUT_MS;
	char              *eoh;

	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd                 = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0,
	    "connect to the HTTP port %d", port);
	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	    path);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t) strlen(req));
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char          chunk[4096];
		ssize_t       n;
		int           left = (int) (until - cbh_now_ms());

		ck_assert_msg(left > 0 && poll(&pfd, 1, left) == 1,
		    "GET %s: no complete answer in %d ms", path,
		    IT_HTTP_TIMEOUT_MS);
		if ((n = read(fd, chunk, sizeof(chunk))) <= 0) {
			break;
		}
		ck_assert_ptr_nonnull(
		    buf = realloc(buf, len + (size_t) n + 1));
		memcpy(buf + len, chunk, (size_t) n);
		len += (size_t) n;
		buf[len] = '\0';
	}
	close(fd);
	ck_assert_msg(buf != NULL && sscanf(buf, "HTTP/1.1 %d", &status) == 1,
	    "GET %s: not an HTTP answer", path);
	ck_assert_ptr_nonnull(eoh = strstr(buf, "\r\n\r\n"));
	*body = strdup(eoh + 4);
	free(buf);
	return status;
}

double
it_prom_sample(const char *text, const char *series)
{
	size_t      n = strlen(series);
	const char *p = text;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ') {
			return strtod(p + n + 1, NULL);
		}
		p += n;
	}
	return -1;
}

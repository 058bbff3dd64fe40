/* SPDX-License-Identifier: MIT */
/* What one connection may hold: clients that never read their replies. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "it.h"

#define NS "conns"
#define BIG_LEN ((size_t) 256 * 1024) /* replies that fill buffers */
#define FLOOD 200                     /* requests the non-reader pipelines */

/* The harness runs 16 contexts; a connection may hold half of them. */
static void
setup_deadline(void)
{
	it_setup_config("[broker]\n"
	                "max_connection_requests = 8\n"
	                "max_connection_reply_bytes = 0\n");
}

static void
setup_bytes(void)
{
	it_setup_config("[broker]\n"
	                "max_connection_requests = 8\n"
	                "max_connection_reply_bytes = 1m\n");
}

/* write_some writes what of len bytes fd takes without blocking. */
static void
write_some(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return; /* a broker that stopped reading */
		}
		ck_assert_msg(n > 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t) n;
	}
}

/*
 * raw_flood connects to the IPC socket at path as an SP req0 peer by hand
 * (what nng's own req0 would not do: it reads every reply), pipelines n
 * Gets of NS/big with deadline_ms, and returns the socket without reading
 * a byte of it.
 */
static int
raw_flood(const char *path, int n, uint32_t deadline_ms)
{
	static const uint8_t hello[8]   = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	struct sockaddr_un   sa         = { .sun_family = AF_UNIX };
	Cachebroker__V1__GetRequest get = CACHEBROKER__V1__GET_REQUEST__INIT;
	uint8_t                    *env;
	uint8_t                    *all;
	size_t                      len;
	size_t                      step;
	int                         fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	write_some(fd, hello, sizeof(hello));
	get.namespace_ = NS;
	get.key        = "big";
	ck_assert_int_eq(cbh_raw_pack(IT_METHOD("CacheService/Get"), &get.base,
	                     deadline_ms, NULL, &env, &len),
	    0);
	step = 13 + len;
	all  = malloc(step * (size_t) n);
	ck_assert_ptr_nonnull(all);
	for (int i = 0; i < n; i++) {
		/* IPC frame: type 1, 64-bit length; body: request id. */
		uint8_t *head = all + step * (size_t) i;
		uint64_t blen = len + 4;
		uint32_t id   = htonl(0x80000000u | (uint32_t) (i + 1));

		head[0] = 1;
		for (int b = 0; b < 8; b++) {
			head[1 + b] = (uint8_t) (blen >> (56 - 8 * b));
		}
		memcpy(head + 9, &id, 4);
		memcpy(head + 13, env, len);
	}
	/* As much as the connection takes: an unfixed broker stops
	 * reading once every context is pinned. */
	write_some(fd, all, step * (size_t) n);
	free(all);
	free(env);
	return fd;
}

/* gets_answered makes calls fresh Gets of NS/small with a 1 s deadline
 * and asserts every one is answered OK in time. */
static void
gets_answered(int calls)
{
	const char                   *url = cbh_broker_url(it_env->broker);
	cb_client                    *c;
	cb_client_opts                co  = { .timeout_ms = 1000 };
	Cachebroker__V1__GetRequest   req = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__GetResponse *resp;
	cb_result                     res;

	ck_assert_int_eq(cb_client_open(&c, url, &co), CB_OK);
	req.namespace_ = NS;
	req.key        = "small";
	for (int i = 0; i < calls; i++) {
		cb_status st = cb_cache_get(c, &req, &resp, NULL, &res);
		IT_ASSERT_CODE(st, CB_OK, &res);
		ck_assert(resp->found);
		cb_message_free(resp);
	}
	cb_client_close(c);
}

/* wait_closed polls Metrics until want connections were closed (at most
 * limit_ms), then returns them. */
static Cachebroker__V1__MetricsResponse *
wait_closed(uint64_t want, int limit_ms)
{
	int64_t                           until = cbh_now_ms() + limit_ms;
	Cachebroker__V1__MetricsResponse *m;

	for (;;) {
		m = it_metrics();
		/* Only the Metrics call itself is in flight once the
		 * non-reader's connection is gone. */
		if ((m->connections_closed >= want && m->in_flight == 1) ||
		    cbh_now_ms() > until) {
			return m;
		}
		cb_message_free(m);
		usleep(100 * 1000);
	}
}

/* saw_eof reads fd (the broker's replies) until the broker closes it. */
static int
saw_eof(int fd)
{
	struct timeval tv = { .tv_sec = 10 };
	static uint8_t buf[65536];
	ssize_t        n;

	ck_assert_int_eq(
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0) { }
	return n == 0;
}

static void
store_values(void)
{
	char *big = malloc(BIG_LEN);

	ck_assert_ptr_nonnull(big);
	memset(big, 'v', BIG_LEN);
	ck_assert_int_eq(
	    it_set(NS, "big", big, BIG_LEN, 0,
	        CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS, NULL),
	    CB_OK);
	free(big);
	it_set_str(NS, "small", "s");
}

/*
 * A client pipelines requests over one connection and never reads: it may
 * hold max_connection_requests contexts, the rest serve everyone else,
 * and when its first reply has waited its whole deadline the broker drops
 * it and closes the connection, which frees every context it held.
 */
CBH_TEST(test_non_reader_deadline)
{
	const char                       *url = cbh_broker_url(it_env->broker);
	Cachebroker__V1__MetricsResponse *m;
	int                               fd;

	ck_assert(strncmp(url, "ipc://", 6) == 0);
	store_values();
	fd = raw_flood(url + 6, FLOOD, 1500);
	/* Give the flood time to take whatever it can. */
	usleep(300 * 1000);
	gets_answered(5);
	m = wait_closed(1, 15000);
	ck_assert_uint_ge(m->requests_rejected, 1);
	ck_assert_uint_ge(m->replies_dropped, 1);
	ck_assert_uint_eq(m->connections_closed, 1);
	ck_assert_uint_eq(m->in_flight, 1);
	cb_message_free(m);
	ck_assert_msg(saw_eof(fd), "the broker did not close the connection");
	close(fd);
	gets_answered(2);
	ck_assert_int_ge(it_log_count("closing connection"), 1);
}

/* Unread replies past max_connection_reply_bytes close the connection at
 * once, long before the requests' (60 s) deadlines. */
CBH_TEST(test_non_reader_bytes)
{
	const char                       *url = cbh_broker_url(it_env->broker);
	Cachebroker__V1__MetricsResponse *m;
	int                               fd;

	store_values();
	fd = raw_flood(url + 6, FLOOD, 60000);
	usleep(300 * 1000);
	gets_answered(5);
	m = wait_closed(1, 10000);
	ck_assert_uint_eq(m->connections_closed, 1);
	ck_assert_uint_eq(m->in_flight, 1);
	cb_message_free(m);
	ck_assert_msg(saw_eof(fd), "the broker did not close the connection");
	close(fd);
}

static void
setup_bytes_rounds(void)
{
	it_setup_config("[broker]\n"
	                "max_connection_requests = 8\n"
	                "max_connection_reply_bytes = 1m\n"
	                "max_connections = 4\n");
}

/* fd_count counts the broker's open descriptors. */
static int
fd_count(void)
{
	char           path[64];
	DIR           *d;
	struct dirent *e;
	int            n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd",
	    (int) cbh_broker_pid(it_env->broker));
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n;
}

/* restarts is the guard's count of re-created listeners. */
static uint64_t
restarts(void)
{
	Cachebroker__V1__MetricsResponse *m = it_metrics();
	uint64_t                          n = m->listener_restarts;

	cb_message_free(m);
	return n;
}

#define RESTARTS 3

/*
 * Each re-creation of a lost IPC listener must not leave descriptors
 * behind (nng 1.5 abandons the old listening socket and the connections
 * that waited on it): after a few forced re-creations and the guard's
 * grace time, the broker has as many as before.
 */
CBH_TEST(test_ipcguard_no_fd_leak)
{
	const char *url = cbh_broker_url(it_env->broker);
	uint64_t    done;
	int         before;
	int         after;
	int64_t     until;

	ck_assert(strncmp(url, "ipc://", 6) == 0);
	it_set_str(NS, "small", "s");
	gets_answered(1);
	before = fd_count();
	done   = restarts();
	for (int r = 0; r < RESTARTS; r++) {
		int rounds = 0;

		/* Hang-ups until the listener is lost, then the guard's
		 * period and timeout (2 s each) to re-create it. */
		until = cbh_now_ms() + 60000;
		while (restarts() == done && cbh_now_ms() < until) {
			if (rounds++ < 100) {
				it_ipc_hangups(url + 6, 20);
			}
			usleep(200 * 1000);
		}
		ck_assert_msg(restarts() > done,
		    "no listener re-created after %d rounds of hang-ups",
		    rounds);
		done = restarts();
	}
	/* The guard closes what nng left after CBD_IPCGUARD_ORPHAN_MS. */
	until = cbh_now_ms() + 30000;
	do {
		usleep(500 * 1000);
		gets_answered(1);
		after = fd_count();
	} while (after > before + 2 && cbh_now_ms() < until);
	ck_assert_msg(after <= before + 2,
	    "%d descriptors before %d listener re-creations, %d after", before,
	    RESTARTS, after);
}

static void
setup_maxconn(void)
{
	it_setup_config("[broker]\nmax_connections = 2\n");
}

/* health_of calls Health on a fresh client with a 1 s deadline; the
 * client stays open (*c) to hold its connection. */
static cb_status
health_of(cb_client **c)
{
	const char                    *url = cbh_broker_url(it_env->broker);
	cb_client_opts                 co  = { .timeout_ms = 1000 };
	Cachebroker__V1__HealthRequest req =
	    CACHEBROKER__V1__HEALTH_REQUEST__INIT;
	Cachebroker__V1__HealthResponse *h = NULL;
	cb_result                        res;
	cb_status                        st;

	ck_assert_int_eq(cb_client_open(c, url, &co), CB_OK);
	st = cb_admin_health(*c, &req, &h, NULL, &res);
	cb_message_free(h);
	return st;
}

/* served_within polls Health on fresh clients until one is served (at
 * most limit_ms). */
static cb_status
served_within(int limit_ms)
{
	int64_t    until = cbh_now_ms() + limit_ms;
	cb_client *c;
	cb_status  st;

	do {
		st = health_of(&c);
		cb_client_close(c);
	} while (st != CB_OK && cbh_now_ms() < until);
	return st;
}

#define ROUNDS 8

/*
 * Round after round, a connection closed for its unread replies is gone
 * for good. nng 1.5 loses a connection closed while it continues a reply
 * it wrote in part: its reaper then waits for it forever, and no
 * connection closed later is ever released (nor can the socket close).
 * The broker so closes a non-reader only once it has taken nothing for a
 * while. With max_connections = 4 (the harness's client, the non-reader,
 * the probe, and one for the probe before it, which nng may release a
 * moment late), connections never released refuse a round soon.
 */
CBH_TEST(test_non_reader_bytes_rounds)
{
	const char                       *url = cbh_broker_url(it_env->broker);
	Cachebroker__V1__MetricsResponse *m;
	int                               fd;

	store_values();
	for (int i = 1; i <= ROUNDS; i++) {
		fd = raw_flood(url + 6, FLOOD, 60000);
		m  = wait_closed((uint64_t) i, 10000);
		ck_assert_uint_eq(m->connections_closed, (uint64_t) i);
		cb_message_free(m);
		ck_assert_msg(saw_eof(fd), "round %d: not closed", i);
		close(fd);
		ck_assert_msg(served_within(10000) == CB_OK,
		    "round %d: the closed connections were not released", i);
	}
}

#define EXTRA 4

/*
 * A listener serves at most max_connections connections: past it, a new
 * one is closed right after its handshake (and counted), and once others
 * leave, new ones are served again.
 */
CBH_TEST(test_max_connections)
{
	cb_client                        *cs[EXTRA];
	Cachebroker__V1__MetricsResponse *m;
	int                               served = 0;

	/* The test's own client holds one of the two. */
	for (int i = 0; i < EXTRA; i++) {
		served += health_of(&cs[i]) == CB_OK;
	}
	ck_assert_msg(served < EXTRA,
	    "all %d extra clients served with max_connections = 2", EXTRA);
	m = it_metrics();
	ck_assert_uint_ge(m->connections_refused, 1);
	cb_message_free(m);
	for (int i = 0; i < EXTRA; i++) {
		cb_client_close(cs[i]);
	}
	/* Their connections are gone: a new client is served again. */
	ck_assert_int_eq(served_within(10000), CB_OK);
}

static Suite *
conns_suite(void)
{
	Suite *s  = suite_create("conns");
	TCase *tc = it_tcase_with("deadline", setup_deadline);

	tcase_add_test(tc, test_non_reader_deadline);
	suite_add_tcase(s, tc);
	tc = it_tcase_with("bytes", setup_bytes);
	tcase_add_test(tc, test_non_reader_bytes);
	suite_add_tcase(s, tc);
	tc = it_tcase_with("bytes_rounds", setup_bytes_rounds);
	tcase_add_test(tc, test_non_reader_bytes_rounds);
	suite_add_tcase(s, tc);
	tc = it_tcase_with("maxconn", setup_maxconn);
	tcase_add_test(tc, test_max_connections);
	suite_add_tcase(s, tc);
	tc = it_tcase("ipcguard");
	tcase_add_test(tc, test_ipcguard_no_fd_leak);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (cbh_run_suite(conns_suite()));
}

/* SPDX-License-Identifier: MIT */
/* tls+tcp:// listeners: server certificates, client certificates, bad
 * files, and the clients' TLS settings (C library, environment, CLI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "it.h"

/* How long a call to a broker that cannot be trusted may wait. */
#define DEADLINE_MS 1000

static char *tls_dir;      /* certificates and the IPC socket */
static char  tls_url[128]; /* tls+tcp://127.0.0.1:PORT */

/* path writes the path of name in tls_dir into buf. */
static const char *
path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tls_dir, name);
	return buf;
}

/* make_certs writes cbh_tls_certs' certificates into tls_dir, and a key
 * file that is not one (garbage.key). */
static void
make_certs(void)
{
	char garbage[600];

	ck_assert_int_eq(cbh_tls_certs(tls_dir), 0);
	ck_assert_int_eq(
	    cbh_file_write(
	        path(garbage, sizeof(garbage), "garbage.key"), "not a key\n"),
	    0);
}

/* start runs the broker on an IPC socket (the harness's first listener)
 * and on tls_url; auth, if not NULL, is its tls_client_auth. */
static void
start(const char *auth)
{
	char config[4096];
	char cert[600], key[600], ca[600];
	char extra[1024] = "";
	int  port;

	ck_assert_int_eq(cbh_tmpdir_create(&tls_dir, "tls"), 0);
	make_certs();
	ck_assert_int_eq(cbh_free_port(&port), 0);
	snprintf(tls_url, sizeof(tls_url), "tls+tcp://127.0.0.1:%d", port);
	if (auth != NULL) {
		snprintf(extra, sizeof(extra),
		    "tls_ca = %s\ntls_client_auth = %s\n",
		    path(ca, sizeof(ca), "ca.pem"), auth);
	}
	snprintf(config, sizeof(config),
	    "[broker]\n"
	    "listen = ipc://%s/broker.sock\n"
	    "listen = %s\n"
	    "tls_cert = %s\n"
	    "tls_key = %s\n"
	    "%s",
	    tls_dir, tls_url, path(cert, sizeof(cert), "server.pem"),
	    path(key, sizeof(key), "server.key"), extra);
	it_setup_config(config);
}

static void
setup_server_only(void)
{
	start(NULL);
}

static void
setup_mutual(void)
{
	start("required");
}

static void
teardown(void)
{
	int rv;

	it_teardown();
	rv = cbh_tmpdir_remove(tls_dir);
	free(tls_dir);
	tls_dir = NULL;
	ck_assert_int_eq(rv, 0);
}

/* tls_files holds the paths a cb_tls_opts points into. */
typedef struct tls_files {
	char ca[600], cert[600], key[600];
} tls_files;

/* opts fills t with ca (a file in tls_dir, or NULL), the client
 * certificate when with_cert, and server name "localhost". */
static cb_tls_opts
opts(tls_files *f, const char *ca, bool with_cert)
{
	cb_tls_opts t = { .server_name = "localhost" };

	if (ca != NULL) {
		t.ca_file = path(f->ca, sizeof(f->ca), ca);
	}
	if (with_cert) {
		t.cert_file = path(f->cert, sizeof(f->cert), "client.pem");
		t.key_file  = path(f->key, sizeof(f->key), "client.key");
	}
	return t;
}

/* roundtrip sets and gets a key through c; returns the Set's status (and
 * asserts the Get when the Set went through). */
static cb_status
roundtrip(cb_client *c, cb_result *res)
{
	Cachebroker__V1__SetRequest   set = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__GetRequest   get = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__SetResponse *sr  = NULL;
	Cachebroker__V1__GetResponse *gr  = NULL;
	cb_status                     st;

	set.namespace_ = "tls";
	set.key        = "greeting";
	set.value.data = (uint8_t *) "hello";
	set.value.len  = 5;
	if ((st = cb_cache_set(c, &set, &sr, NULL, res)) != CB_OK) {
		return st;
	}
	cb_message_free(sr);
	get.namespace_ = "tls";
	get.key        = "greeting";
	IT_ASSERT_CODE(cb_cache_get(c, &get, &gr, NULL, res), CB_OK, res);
	ck_assert(gr->found);
	ck_assert_uint_eq(gr->value.len, 5);
	ck_assert_int_eq(memcmp(gr->value.data, "hello", 5), 0);
	cb_message_free(gr);
	return CB_OK;
}

/* open_client opens a client of tls_url with t and DEADLINE_MS. */
static cb_client *
open_client(const cb_tls_opts *t)
{
	cb_client_opts co = { .timeout_ms = DEADLINE_MS };
	cb_client     *c  = NULL;

	ck_assert_int_eq(cb_client_open_tls(&c, tls_url, &co, t), CB_OK);
	return c;
}

/* expect_refused asserts that a call through t fails with UNAVAILABLE
 * within its deadline (a TLS handshake that fails is no connection). */
static void
expect_refused(const cb_tls_opts *t)
{
	cb_client *c = open_client(t);
	cb_result  res;
	int64_t    t0 = cbh_now_ms(), el;

	ck_assert_int_eq(roundtrip(c, &res), CB_UNAVAILABLE);
	el = cbh_now_ms() - t0;
	ck_assert_msg(
	    el < DEADLINE_MS + 500, "failed after %lld ms", (long long) el);
	cb_client_close(c);
}

/* The broker's certificate checked against the CA: calls go through. */
CBH_TEST(test_server_certificate)
{
	tls_files   f;
	cb_tls_opts t = opts(&f, "ca.pem", false);
	cb_client  *c = open_client(&t);
	cb_result   res;

	IT_ASSERT_CODE(roundtrip(c, &res), CB_OK, &res);
	cb_client_close(c);
}

/* A broker whose certificate does not chain to the client's CA, or does
 * not carry the name the client expects, is not talked to. */
CBH_TEST(test_untrusted_broker)
{
	tls_files   f;
	cb_tls_opts t = opts(&f, "other.pem", false);

	expect_refused(&t);
	t             = opts(&f, "ca.pem", false);
	t.server_name = "broker.example";
	expect_refused(&t);
}

/* TLS without a CA to check the broker with is refused at open. */
CBH_TEST(test_client_needs_ca)
{
	cb_client  *c = NULL;
	tls_files   f;
	cb_tls_opts t = opts(&f, NULL, false);

	ck_assert_int_eq(
	    cb_client_open_tls(&c, tls_url, NULL, &t), CB_INVALID_ARGUMENT);
	ck_assert_ptr_null(c);
	t           = opts(&f, "ca.pem", false);
	t.cert_file = "/nonexistent/client.pem";
	t.key_file  = "/nonexistent/client.key";
	ck_assert_int_eq(
	    cb_client_open_tls(&c, tls_url, NULL, &t), CB_INVALID_ARGUMENT);
	/* A key without its certificate. */
	t           = opts(&f, "ca.pem", true);
	t.cert_file = NULL;
	ck_assert_int_eq(
	    cb_client_open_tls(&c, tls_url, NULL, &t), CB_INVALID_ARGUMENT);
}

/* tls_client_auth = required: no certificate, or one from a CA the
 * broker does not know, no service; the CA's client certificate is
 * served. */
CBH_TEST(test_client_certificate_required)
{
	tls_files   f;
	cb_tls_opts t = opts(&f, "ca.pem", false);
	cb_client  *c;
	cb_result   res;
	char        cert[600], key[600];

	/* The served one first: with nng 1.5, handshakes that fail can
	 * leave a TLS listener not serving (docs/configuration.md). */
	t = opts(&f, "ca.pem", true);
	c = open_client(&t);
	IT_ASSERT_CODE(roundtrip(c, &res), CB_OK, &res);
	cb_client_close(c);
	t = opts(&f, "ca.pem", false);
	expect_refused(&t);
	t.cert_file = path(cert, sizeof(cert), "stranger.pem");
	t.key_file  = path(key, sizeof(key), "stranger.key");
	expect_refused(&t);
}

/* The CLI: the CACHEBROKER_TLS_* variables, and the --tls-* options. */
CBH_TEST(test_cli)
{
	char   cmd[4096], out[512], ca[600], cert[600], key[600];
	FILE  *p;
	size_t n;
	int    st;

	path(ca, sizeof(ca), "ca.pem");
	path(cert, sizeof(cert), "client.pem");
	path(key, sizeof(key), "client.key");
	snprintf(cmd, sizeof(cmd),
	    "CACHEBROKER_TLS_CA='%s' CACHEBROKER_TLS_SERVER_NAME=localhost "
	    "CACHEBROKER_TLS_CERT='%s' CACHEBROKER_TLS_KEY='%s' "
	    "%s -u '%s' set tls cli yes && "
	    "%s -u '%s' --tls-ca '%s' --tls-server-name localhost "
	    "--tls-cert '%s' --tls-key '%s' get tls cli",
	    ca, cert, key, it_cli_path(), tls_url, it_cli_path(), tls_url, ca,
	    cert, key);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	n      = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	st     = pclose(p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: exit %d",
	    cmd, WEXITSTATUS(st));
	ck_assert_str_eq(out, "yes\n");
	/* Without a CA the CLI says what is missing. */
	snprintf(cmd, sizeof(cmd), "%s -u '%s' health 2>&1", it_cli_path(),
	    tls_url);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	n      = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	st     = pclose(p);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0);
	ck_assert_msg(strstr(out, "--tls-ca") != NULL, "%s", out);
}

/* check_config runs cachebrokerd -t on text and expects 78 with want in
 * its errors. */
static void
check_config(const char *text, const char *want)
{
	char        conf[600];
	const char *args[] = { "-t", "-c", conf, NULL };
	char       *out = NULL, *err = NULL;
	int         code;

	path(conf, sizeof(conf), "check.conf");
	ck_assert_int_eq(cbh_file_write(conf, text), 0);
	ck_assert_int_eq(
	    cbh_daemon_run(args, NULL, 10000, &code, &out, &err), 0);
	ck_assert_msg(code == CBH_EXIT_CONFIG, "exit %d: %s", code, err);
	ck_assert_msg(strstr(err, want) != NULL, "no '%s' in: %s", want, err);
	free(out);
	free(err);
}

/* What -t (and so the start) says about TLS settings that cannot work. */
CBH_TEST(test_bad_settings)
{
	char text[4096], cert[600], key[600], garbage[600];

	path(cert, sizeof(cert), "server.pem");
	path(key, sizeof(key), "server.key");
	path(garbage, sizeof(garbage), "garbage.key");
	check_config("[broker]\nlisten = tls+tcp://127.0.0.1:1\n",
	    "tls+tcp://127.0.0.1:1 needs tls_cert and tls_key");
	snprintf(text, sizeof(text),
	    "[broker]\nlisten = tls+tcp://127.0.0.1:1\ntls_cert = %s\n"
	    "tls_key = %s\n",
	    cert, garbage);
	check_config(text, "with tls_key");
	snprintf(text, sizeof(text),
	    "[broker]\nlisten = tls+tcp://127.0.0.1:1\ntls_cert = %s\n"
	    "tls_key = %s\ntls_client_auth = required\n",
	    cert, key);
	check_config(text, "tls_client_auth = required needs tls_ca");
	snprintf(text, sizeof(text),
	    "[broker]\nlisten = tls+tcp://127.0.0.1:1\ntls_cert = %s\n"
	    "tls_key = %s/nonexistent.key\n",
	    cert, tls_dir);
	check_config(text, "tls_key: cannot read");
	/* Past the 1 MiB a PEM file may have: refused whole. */
	{
		size_t big_len = ((size_t) 1 << 20) + 4096;
		char  *big     = malloc(big_len + 1);
		char   big_path[600];

		ck_assert_ptr_nonnull(big);
		memset(big, 'A', big_len);
		big[big_len] = '\0';
		ck_assert_int_eq(
		    cbh_file_write(
		        path(big_path, sizeof(big_path), "big.pem"), big),
		    0);
		free(big);
		snprintf(text, sizeof(text),
		    "[broker]\nlisten = tls+tcp://127.0.0.1:1\n"
		    "tls_cert = %s\ntls_key = %s\n",
		    big_path, key);
		check_config(text, "tls_cert: cannot read");
	}
	check_config("[broker]\ntls_client_auth = sometimes\n",
	    "check.conf:2: tls_client_auth = 'sometimes'");
	check_config("[broker]\ntls_client_auth = optional\n",
	    "optional is not offered");
}

static Suite *
tls_suite(void)
{
	Suite *s  = suite_create("tls");
	TCase *tc = tcase_create("server_only");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup_server_only, teardown);
	tcase_add_test(tc, test_server_certificate);
	tcase_add_test(tc, test_untrusted_broker);
	tcase_add_test(tc, test_client_needs_ca);
	tcase_add_test(tc, test_bad_settings);
	suite_add_tcase(s, tc);

	tc = tcase_create("mutual");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup_mutual, teardown);
	tcase_add_test(tc, test_client_certificate_required);
	tcase_add_test(tc, test_cli);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(tls_suite());
}

/* SPDX-License-Identifier: MIT */
/* The cachebroker CLI's output: values end with a newline, bytes intact. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "it.h"

/* cli_bytes runs the CLI like it_cli, but keeps every byte of its stdout
 * (NULs included): *len is how many. Returns the exit code. */
static int
cli_bytes(const char *args, char *out, size_t cap, size_t *len)
{
	char  cmd[2048];
	FILE *f;
	int   st;

	snprintf(cmd, sizeof(cmd), "%s -u '%s' %s", it_cli_path(),
	    cbh_broker_url(it_env->broker), args);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	*len = fread(out, 1, cap, f);
	st   = pclose(f);
	ck_assert_msg(WIFEXITED(st), "%s: did not exit", cmd);
	return WEXITSTATUS(st);
}

/* ASSERT_BYTES asserts that out[0..len) is want[0..want_len). */
#define ASSERT_BYTES(what, out, len, want, want_len)                      \
	ck_assert_msg((len) == (want_len) && memcmp(out, want, len) == 0, \
	    "%s: %zu bytes, want %zu: \"%.*s\"", what, (size_t) (len),    \
	    (size_t) (want_len), (int) (len), out)

CBH_TEST(test_get_ends_with_newline)
{
	char   out[256];
	size_t n = 0;

	/* Like redis-cli: the value, then a newline, on a pipe too (stdout
	 * is not a terminal here). */
	ck_assert_int_eq(it_cli("set users k hello", out, sizeof(out)), 0);
	ck_assert_int_eq(it_cli("get users k", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "hello\n");
	/* An empty value is an empty line; a missing key prints nothing
	 * and exits 1. */
	it_set_str("users", "empty", "");
	ck_assert_int_eq(
	    cli_bytes("get users empty", out, sizeof(out), &n), 0);
	ASSERT_BYTES("empty value", out, n, "\n", 1);
	ck_assert_int_eq(
	    cli_bytes("get users nosuch", out, sizeof(out), &n), 1);
	ASSERT_BYTES("missing key", out, n, "", 0);
}
END_TEST

CBH_TEST(test_binary_values_intact)
{
	static const char value[] = "a\0b\xff\xfe\r\nlast\n";
	const size_t      vlen    = sizeof(value) - 1;
	static const char json[]  = "{\"found\":true,"
	                            "\"value_base64\":\"YQBi//4NCmxhc3QK\","
	                            "\"ttl_ms\":-1";
	char              want[64];
	char              out[256];
	size_t            n = 0;

	ck_assert_int_eq(
	    it_set("users", "bin", value, vlen, 0,
	        CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS, NULL),
	    CB_OK);
	/* The bytes as they are (NUL, non-UTF-8, its own newlines), then
	 * one newline. */
	memcpy(want, value, vlen);
	want[vlen] = '\n';
	ck_assert_int_eq(cli_bytes("get users bin", out, sizeof(out), &n), 0);
	ASSERT_BYTES("get", out, n, want, vlen + 1);
	/* --no-newline: exactly the value's bytes. */
	ck_assert_int_eq(
	    cli_bytes("--no-newline get users bin", out, sizeof(out), &n), 0);
	ASSERT_BYTES("get --no-newline", out, n, value, vlen);
	/* --json: one line, the bytes in base64. */
	ck_assert_int_eq(it_cli("--json get users bin", out, sizeof(out)), 0);
	ck_assert_msg(strncmp(out, json, strlen(json)) == 0 &&
	        strchr(out, '\n') == out + strlen(out) - 1,
	    "%s", out);
}
END_TEST

CBH_TEST(test_every_printed_value_is_a_line)
{
	/* Each command that prints a value or a number ends its output with
	 * exactly one newline, with and without --json. */
	static const struct {
		const char *args;
		const char *want;
	} cases[] = {
		{ "get users a", "1\n" },
		{ "--json get users a", NULL },
		{ "incr users n 5", "5\n" },
		{ "--json incr users n", "{\"value\":6}\n" },
		{ "mget users a nosuch b", "1\n\nxy\n" },
		{ "--json mget users a", NULL },
		{ "del users b nosuch", "1\n" },
		{ "--json del users b", "{\"deleted\":0}\n" },
		{ "invalidate users 'zz*'", "0\n" },
		{ "session put u-1 data", "" },
		{ "session get u-1", "data\n" },
		{ "--json session get u-1", NULL },
		{ "--no-newline session get u-1", "data" },
	};
	char out[512];

	it_set_str("users", "a", "1");
	it_set_str("users", "b", "xy");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;

		ck_assert_msg(it_cli(cases[i].args, out, sizeof(out)) == 0,
		    "%s: exit status", cases[i].args);
		len = strlen(out);
		if (cases[i].want != NULL) {
			ck_assert_msg(strcmp(out, cases[i].want) == 0,
			    "%s: printed \"%s\", want \"%s\"", cases[i].args,
			    out, cases[i].want);
			continue;
		}
		ck_assert_msg(len > 1 && out[0] == '{' &&
		        strchr(out, '\n') == out + len - 1,
		    "%s: not one JSON line: \"%s\"", cases[i].args, out);
	}
}
END_TEST

static Suite *
cli_suite(void)
{
	Suite *s  = suite_create("cli");
	TCase *tc = it_tcase("cli");

	tcase_add_test(tc, test_get_ends_with_newline);
	tcase_add_test(tc, test_binary_values_intact);
	tcase_add_test(tc, test_every_printed_value_is_a_line);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return cbh_run_suite(cli_suite());
}

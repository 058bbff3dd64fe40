/* SPDX-License-Identifier: MIT */
/* Unit tests of cmd.c: argv building, inline and heap storage, keys and
 * integers composed in the arena, values pointed to. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "test_main.h"

/* arg_is: argument i of c is exactly text. */
static void
arg_is(const cbd_cmd *c, int i, const char *text)
{
	ck_assert_int_lt(i, c->argc);
	ck_assert_uint_eq(c->lens[i], strlen(text));
	ck_assert_mem_eq(c->argv[i], text, strlen(text));
}

START_TEST(test_inline_command)
{
	cbd_cmd     c;
	const char *value = "hello";

	ck_assert_int_eq(
	    cbd_cmd_init(&c, 5,
	        cbd_cmd_key_size("app:", "users", "p:1") + CBD_CMD_INT_SIZE),
	    0);
	/* Small commands stay in the struct: nothing allocated. */
	ck_assert_ptr_eq(c.argv, c.argv_i);
	ck_assert_ptr_eq(c.arena, c.arena_i);
	cbd_cmd_str(&c, "SET");
	cbd_cmd_key(&c, "app:", "users", "p:1");
	cbd_cmd_arg(&c, value, 3); /* a prefix of a longer buffer */
	cbd_cmd_str(&c, "PX");
	cbd_cmd_int(&c, -1234567890123LL);
	ck_assert_int_eq(c.argc, 5);
	arg_is(&c, 0, "SET");
	arg_is(&c, 1, "app:users:p:1");
	arg_is(&c, 2, "hel");
	arg_is(&c, 4, "-1234567890123");
	/* Values are pointed to, never copied. */
	ck_assert_ptr_eq(c.argv[2], value);
	cbd_cmd_fini(&c);
}
END_TEST

START_TEST(test_binary_value)
{
	cbd_cmd    c;
	const char bin[4] = { 'a', '\0', 'b', '\0' };

	ck_assert_int_eq(cbd_cmd_init(&c, 2, 0), 0);
	cbd_cmd_str(&c, "SET");
	cbd_cmd_arg(&c, bin, sizeof(bin));
	ck_assert_uint_eq(c.lens[1], 4);
	ck_assert_mem_eq(c.argv[1], bin, 4);
	cbd_cmd_fini(&c);
}
END_TEST

START_TEST(test_large_command)
{
	enum { N = 300 };
	cbd_cmd c;
	char    key[16];
	size_t  arena = 0;

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		arena += cbd_cmd_key_size("", "ns", key);
	}
	arena += CBD_CMD_INT_SIZE;
	ck_assert_uint_gt(arena, CBD_CMD_INLINE_ARENA);
	ck_assert_int_eq(cbd_cmd_init(&c, N + 2, arena), 0);
	/* Past the inline room, argv, lens and the arena are the heap's. */
	ck_assert_ptr_ne(c.argv, c.argv_i);
	ck_assert_ptr_ne(c.lens, c.lens_i);
	ck_assert_ptr_ne(c.arena, c.arena_i);
	cbd_cmd_str(&c, "UNLINK");
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cbd_cmd_key(&c, "", "ns", key);
	}
	cbd_cmd_int(&c, LLONG_MIN);
	ck_assert_int_eq(c.argc, N + 2);
	arg_is(&c, 1, "ns:k0");
	arg_is(&c, N, "ns:k299");
	arg_is(&c, N + 1, "-9223372036854775808");
	/* Composed keys stay where they were written: the arena never
	 * moves under the argv that points into it. */
	ck_assert_ptr_eq(c.argv[1], c.arena);
	ck_assert_uint_le(c.used, c.size);
	cbd_cmd_fini(&c);
	/* fini leaves the command on its inline storage: a second fini is
	 * harmless. */
	ck_assert_ptr_eq(c.argv, c.argv_i);
	cbd_cmd_fini(&c);
}
END_TEST

START_TEST(test_key_size)
{
	/* prefix + ns + ':' + key + NUL. */
	ck_assert_uint_eq(cbd_cmd_key_size("", "a", "b"), 4);
	ck_assert_uint_eq(cbd_cmd_key_size("app:", "users", "p:1"),
	    strlen("app:users:p:1") + 1);
}
END_TEST

static Suite *
cmd_suite(void)
{
	Suite *s  = suite_create("cmd");
	TCase *tc = tcase_create("cmd");

	tcase_add_test(tc, test_inline_command);
	tcase_add_test(tc, test_binary_value);
	tcase_add_test(tc, test_large_command);
	tcase_add_test(tc, test_key_size);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(cmd_suite)

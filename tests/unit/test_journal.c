/* SPDX-License-Identifier: MIT */
/* Unit tests of journal.c's records: blocks, counts, bounds, flushes.
 * Replays need Redis: integration_outage covers them. */
#include <check.h>

#include "journal.h"
#include "test_main.h"

/* A journal without a host or a pool: its records only (no cron). */
static cbd_journal *
journal(size_t max)
{
	cbd_journal *j = NULL;

	ck_assert_int_eq(cbd_journal_alloc(&j, NULL, NULL, max), CB_OK);
	ck_assert_ptr_nonnull(j);
	return j;
}

START_TEST(test_blocks_its_namespace_only)
{
	cbd_journal *j = journal(16);

	ck_assert_int_eq(cbd_journal_blocks(j, "users"), 0);
	cbd_journal_add(j, "users", "profile:1", 0);
	ck_assert_int_eq(cbd_journal_blocks(j, "users"), 1);
	ck_assert_int_eq(cbd_journal_blocks(j, "user"), 0);
	ck_assert_int_eq(cbd_journal_blocks(j, "schedule"), 0);
	ck_assert_uint_eq(cbd_journal_items(j), 1);
	ck_assert_uint_eq(cbd_journal_namespaces(j), 1);
	cbd_journal_plan(j, "schedule", "week:*", 1);
	ck_assert_int_eq(cbd_journal_blocks(j, "schedule"), 1);
	ck_assert_uint_eq(cbd_journal_items(j), 2);
	ck_assert_uint_eq(cbd_journal_namespaces(j), 2);
	cbd_journal_free(j);
}
END_TEST

START_TEST(test_same_pattern_once)
{
	cbd_journal *j = journal(16);

	cbd_journal_add(j, "users", "profile:*", 1);
	cbd_journal_add(j, "users", "profile:*", 1);
	ck_assert_uint_eq(cbd_journal_items(j), 1);
	/* The same text as a key is another record. */
	cbd_journal_add(j, "users", "profile:*", 0);
	ck_assert_uint_eq(cbd_journal_items(j), 2);
	cbd_journal_free(j);
}
END_TEST

START_TEST(test_full_becomes_flush)
{
	cbd_journal *j = journal(3);

	cbd_journal_add(j, "users", "a", 0);
	cbd_journal_add(j, "users", "b", 0);
	cbd_journal_add(j, "tasks", "c", 0);
	ck_assert_uint_eq(cbd_journal_items(j), 3);
	/* Full: users' two records become one "flush users". */
	cbd_journal_add(j, "users", "d", 0);
	ck_assert_uint_eq(cbd_journal_items(j), 2);
	ck_assert_int_eq(cbd_journal_blocks(j, "users"), 1);
	/* A flushed namespace takes nothing more: the flush covers it. */
	cbd_journal_add(j, "users", "e", 0);
	cbd_journal_add(j, "users", "f:*", 1);
	ck_assert_uint_eq(cbd_journal_items(j), 2);
	ck_assert_uint_eq(cbd_journal_namespaces(j), 2);
	cbd_journal_free(j);
}
END_TEST

START_TEST(test_flush_replaces_records)
{
	cbd_journal *j = journal(16);

	cbd_journal_add(j, "reports", "a", 0);
	cbd_journal_add(j, "reports", "b:*", 1);
	ck_assert_uint_eq(cbd_journal_items(j), 2);
	cbd_journal_flush(j, "reports");
	ck_assert_uint_eq(cbd_journal_items(j), 1);
	cbd_journal_flush(j, "reports");
	ck_assert_uint_eq(cbd_journal_items(j), 1);
	/* A flush of a namespace with nothing recorded blocks it too. */
	cbd_journal_flush(j, "auth");
	ck_assert_int_eq(cbd_journal_blocks(j, "auth"), 1);
	ck_assert_uint_eq(cbd_journal_items(j), 2);
	cbd_journal_free(j);
}
END_TEST

static Suite *
journal_suite(void)
{
	Suite *s  = suite_create("journal");
	TCase *tc = tcase_create("journal");

	tcase_add_test(tc, test_blocks_its_namespace_only);
	tcase_add_test(tc, test_same_pattern_once);
	tcase_add_test(tc, test_full_becomes_flush);
	tcase_add_test(tc, test_flush_replaces_records);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(journal_suite)

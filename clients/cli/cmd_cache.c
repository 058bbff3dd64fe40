/* SPDX-License-Identifier: MIT */
/* The cache commands: get, set, del, mget, incr, expire, invalidate,
 * fetch, publish. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int
cli_cmd_get(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__GetRequest   req = CACHEBROKER__V1__GET_REQUEST__INIT;
	Cachebroker__V1__GetResponse *resp = NULL;
	cb_result                     res;
	cb_status                     st;
	int                           rc;

	(void) argc;
	req.namespace_ = argv[0];
	req.key        = argv[1];

	st = cb_cache_get(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	rc = cli_print_found(
	    cli, resp->found, "value", &resp->value, resp->ttl_ms, &res);

out:
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_set(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__SetRequest   req = CACHEBROKER__V1__SET_REQUEST__INIT;
	Cachebroker__V1__SetResponse *resp = NULL;
	cb_result                     res;
	cb_status                     st;
	int                           rc;

	(void) argc;
	req.namespace_ = argv[0];
	req.key        = argv[1];
	req.value.data = (uint8_t *) argv[2];
	req.value.len  = strlen(argv[2]);
	req.ttl_ms     = (cli->given & CLI_OPT_TTL) ? cli->ttl_ms : 0;
	req.condition  = CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_ALWAYS;
	if (cli->given & CLI_OPT_NX) {
		req.condition =
		    CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_IF_ABSENT;
	} else if (cli->given & CLI_OPT_XX) {
		req.condition =
		    CACHEBROKER__V1__SET_CONDITION__SET_CONDITION_IF_PRESENT;
	}
	st = cb_cache_set(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	cli_print_flag(cli, "stored", resp->stored);
	rc = resp->stored ? CLI_EXIT_OK : CLI_EXIT_NOT_FOUND;

out:
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_del(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__DeleteRequest req =
	    CACHEBROKER__V1__DELETE_REQUEST__INIT;
	Cachebroker__V1__DeleteResponse *resp = NULL;
	cb_result                        res;
	cb_status                        st;
	int                              rc;

	req.namespace_ = argv[0];
	req.keys       = argv + 1;
	req.n_keys     = (size_t) argc - 1;

	st = cb_cache_delete(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	cli_print_number(cli, "deleted", resp->deleted);
	rc = CLI_EXIT_OK;

out:
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_mget(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__GetManyRequest req =
	    CACHEBROKER__V1__GET_MANY_REQUEST__INIT;
	Cachebroker__V1__GetManyResponse *resp = NULL;
	struct cli_json                   j;
	cb_result                         res;
	cb_status                         st;
	size_t                            i;
	int                               rc;

	req.namespace_ = argv[0];
	req.keys       = argv + 1;
	req.n_keys     = (size_t) argc - 1;

	st = cb_cache_get_many(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	rc = CLI_EXIT_OK;
	if (!cli->json) {
		/* One line per key, in request order; a missing key is an
		 * empty line (--help says so; --json tells them apart). */
		for (i = 0; i < resp->n_entries; i++) {
			const Cachebroker__V1__GetManyEntry *e =
			    resp->entries[i];

			if (e->found && e->value.len > 0) {
				fwrite(e->value.data, 1, e->value.len, stdout);
			}
			putchar('\n');
		}
		goto out;
	}
	cli_json_init(&j, stdout);
	cli_json_begin_object(&j);
	cli_json_key(&j, "entries");
	cli_json_begin_array(&j);
	for (i = 0; i < resp->n_entries; i++) {
		const Cachebroker__V1__GetManyEntry *e = resp->entries[i];

		cli_json_begin_object(&j);
		cli_json_key(&j, "key");
		cli_json_string(&j, e->key);
		cli_json_key(&j, "found");
		cli_json_bool(&j, e->found);
		if (e->found) {
			cli_json_value(
			    &j, "value", e->value.data, e->value.len);
		}
		cli_json_end_object(&j);
	}
	cli_json_end_array(&j);
	cli_json_x_cache(&j, &res);
	cli_json_end(&j);

out:
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_incr(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__IncrementRequest req =
	    CACHEBROKER__V1__INCREMENT_REQUEST__INIT;
	Cachebroker__V1__IncrementResponse *resp = NULL;
	cb_result                           res;
	cb_status                           st;
	int                                 rc;

	req.namespace_ = argv[0];
	req.key        = argv[1];
	req.delta      = 1;
	req.ttl_ms     = (cli->given & CLI_OPT_TTL) ? cli->ttl_ms : 0;
	if (argc > 2 && !cli_int64_parse(argv[2], &req.delta)) {
		rc = cli_usage_error(cli->synopsis,
		    "invalid DELTA '%s': expected an integer", argv[2]);
		goto out;
	}
	st = cb_cache_increment(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	cli_print_number(cli, "value", resp->value);
	rc = CLI_EXIT_OK;

out:
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_expire(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__ExpireRequest req =
	    CACHEBROKER__V1__EXPIRE_REQUEST__INIT;
	Cachebroker__V1__ExpireResponse *resp = NULL;
	cb_result                        res;
	cb_status                        st;
	int                              rc;

	(void) argc;
	req.namespace_ = argv[0];
	req.key        = argv[1];
	if (strcmp(argv[2], "-1") == 0 || strcmp(argv[2], "persist") == 0) {
		req.ttl_ms = -1;
	} else if (!cli_duration_parse(argv[2], &req.ttl_ms) ||
	    req.ttl_ms == 0) {
		rc = cli_usage_error(cli->synopsis,
		    "invalid TTL '%s': expected a positive duration "
		    "(500ms, 10s, 30m, 2h, 1d), or -1 or persist",
		    argv[2]);
		goto out;
	}
	st = cb_cache_expire(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	cli_print_flag(cli, "updated", resp->updated);
	rc = resp->updated ? CLI_EXIT_OK : CLI_EXIT_NOT_FOUND;

out:
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_invalidate(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__InvalidatePatternRequest req =
	    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
	Cachebroker__V1__InvalidatePatternResponse *resp = NULL;
	cb_result                                   res;
	cb_status                                   st;
	int                                         rc;

	(void) argc;
	req.namespace_ = argv[0];
	req.pattern    = argv[1];
	st = cb_cache_invalidate_pattern(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	cli_print_number(cli, "deleted", (int64_t) resp->deleted);
	rc = CLI_EXIT_OK;

out:
	cb_message_free(resp);
	return rc;
}

/* parse_params splits NAME=VALUE arguments in place into names and
 * values (at most 16). Returns -1 after a usage message. */
static int
parse_params(int n, char **args, char **names, char **values)
{
	if (n > 16) {
		cli_usage_error(NULL, "at most 16 parameters");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char *eq = strchr(args[i], '=');
		if (eq == NULL || eq == args[i]) {
			cli_usage_error(
			    NULL, "parameter '%s' is not NAME=VALUE", args[i]);
			return -1;
		}
		*eq       = '\0';
		names[i]  = args[i];
		values[i] = eq + 1;
	}
	return 0;
}

int
cli_cmd_fetch(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__FetchRequest req =
	    CACHEBROKER__V1__FETCH_REQUEST__INIT;
	Cachebroker__V1__FetchRequest__ParamsEntry  entries[16];
	Cachebroker__V1__FetchRequest__ParamsEntry *params[16];
	Cachebroker__V1__FetchResponse             *resp = NULL;
	char                                       *names[16];
	char                                       *values[16];
	static const char *const sources[] = { "unspecified", "cache",
		"loader", "stale" };
	struct cli_json          j;
	cb_result                res;
	cb_status                st;
	int                      rc;

	if (parse_params(argc - 1, argv + 1, names, values) != 0) {
		return CLI_EXIT_USAGE;
	}
	for (int i = 0; i < argc - 1; i++) {
		cachebroker__v1__fetch_request__params_entry__init(
		    &entries[i]);
		entries[i].key   = names[i];
		entries[i].value = values[i];
		params[i]        = &entries[i];
	}
	req.resource = argv[0];
	req.n_params = (size_t) argc - 1;
	req.params   = params;
	req.refresh  = (cli->given & CLI_OPT_REFRESH) != 0;

	st = cb_cache_fetch(cli->client, &req, &resp, NULL, &res);
	if (st == CB_NOT_FOUND) {
		rc = CLI_EXIT_NOT_FOUND;
		if (cli->json) {
			cli_json_init(&j, stdout);
			cli_json_begin_object(&j);
			cli_json_key(&j, "found");
			cli_json_bool(&j, false);
			cli_json_x_cache(&j, &res);
			cli_json_end(&j);
		}
		goto out;
	}
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	rc = CLI_EXIT_OK;
	if (cli->json) {
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "found");
		cli_json_bool(&j, true);
		cli_json_key(&j, "key");
		cli_json_string(&j, resp->key);
		cli_json_key(&j, "source");
		cli_json_string(&j,
		    resp->source >= 0 && resp->source <= 3
		        ? sources[resp->source]
		        : "unknown");
		cli_json_value(&j, "value", resp->value.data, resp->value.len);
		cli_json_key(&j, "ttl_ms");
		cli_json_int(&j, resp->ttl_ms);
		cli_json_x_cache(&j, &res);
		cli_json_end(&j);
	} else {
		cli_write_value(cli, resp->value.data, resp->value.len);
	}

out:
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_publish(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__PublishRequest req =
	    CACHEBROKER__V1__PUBLISH_REQUEST__INIT;
	Cachebroker__V1__PublishRequest__ParamsEntry  entries[16];
	Cachebroker__V1__PublishRequest__ParamsEntry *params[16];
	Cachebroker__V1__PublishResponse             *resp = NULL;
	char                                         *names[16];
	char                                         *values[16];
	struct cli_json                               j;
	cb_result                                     res;
	cb_status                                     st;
	int                                           rc = CLI_EXIT_OK;

	if (parse_params(argc - 1, argv + 1, names, values) != 0) {
		return CLI_EXIT_USAGE;
	}
	for (int i = 0; i < argc - 1; i++) {
		cachebroker__v1__publish_request__params_entry__init(
		    &entries[i]);
		entries[i].key   = names[i];
		entries[i].value = values[i];
		params[i]        = &entries[i];
	}
	req.event    = argv[0];
	req.n_params = (size_t) argc - 1;
	req.params   = params;
	st           = cb_event_publish(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		rc = cli_fail(st, res.message);
		goto out;
	}
	if (cli->json) {
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "keys_invalidated");
		cli_json_uint(&j, resp->keys_invalidated);
		cli_json_end(&j);
	} else {
		printf("%" PRIu64 "\n", resp->keys_invalidated);
	}

out:
	cb_message_free(resp);
	return rc;
}

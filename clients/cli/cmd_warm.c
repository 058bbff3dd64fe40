/* SPDX-License-Identifier: MIT */
/* cachebroker warm: run warm strategies and print their results. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"

/* Warming thousands of keys takes longer than a lookup: unless --timeout
 * says otherwise, wait up to the broker's default max_deadline. */
#define WARM_TIMEOUT_MS 60000

void
cli_json_warm_result(struct cli_json *j, const Cachebroker__V1__WarmResult *r)
{
	cli_json_begin_object(j);
	cli_json_key(j, "strategy");
	cli_json_string(j, r->strategy);
	cli_json_key(j, "keys");
	cli_json_uint(j, r->keys);
	cli_json_key(j, "not_found");
	cli_json_uint(j, r->not_found);
	cli_json_key(j, "errors");
	cli_json_uint(j, r->errors);
	cli_json_key(j, "duration_ms");
	cli_json_uint(j, r->duration_ms);
	cli_json_key(j, "error");
	cli_json_string(j, r->error);
	cli_json_end_object(j);
}

int
cli_cmd_warm(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__WarmRequest req = CACHEBROKER__V1__WARM_REQUEST__INIT;
	Cachebroker__V1__WarmResponse *resp = NULL;
	cb_callopts                    opts = { 0 };
	struct cli_json                j;
	cb_result                      res;
	cb_status                      st;
	int                            rc = CLI_EXIT_OK;

	req.strategies   = argv;
	req.n_strategies = (size_t) argc;
	opts.timeout_ms =
	    cli->timeout_ms != 0 ? cli->timeout_ms : WARM_TIMEOUT_MS;
	if ((st = cb_warm_warm(cli->client, &req, &resp, &opts, &res)) !=
	    CB_OK) {
		return cli_fail(st, res.message);
	}
	if (cli->json) {
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "results");
		cli_json_begin_array(&j);
	} else {
		printf("%-28s %8s %9s %7s %9s  %s\n", "STRATEGY", "KEYS",
		    "NOT_FOUND", "ERRORS", "MS", "ERROR");
	}
	for (size_t i = 0; i < resp->n_results; i++) {
		const Cachebroker__V1__WarmResult *r = resp->results[i];
		if (r->errors > 0 || r->error[0] != '\0') {
			rc = CLI_EXIT_FAILURE;
		}
		if (!cli->json) {
			printf("%-28s %8" PRIu64 " %9" PRIu64 " %7" PRIu64
			       " %9" PRIu64 "  %s\n",
			    r->strategy, r->keys, r->not_found, r->errors,
			    r->duration_ms, r->error);
			continue;
		}
		cli_json_warm_result(&j, r);
	}
	if (cli->json) {
		cli_json_end_array(&j);
		cli_json_end(&j);
	}
	if (rc != CLI_EXIT_OK) {
		fprintf(stderr,
		    "cachebroker: warming had errors (see the "
		    "table and the broker's log)\n");
	}
	cb_message_free(resp);
	return rc;
}

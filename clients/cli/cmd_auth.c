/* SPDX-License-Identifier: MIT */
/* The AuthService commands: revoke-token, revoke-user, is-revoked,
 * session get|put|del|touch, ratelimit. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

/* unix_time_arg reads a Unix time in seconds (EXPIRES_AT, ISSUED_AT...);
 * false after a usage message. */
static bool
unix_time_arg(
    const struct cli *cli, const char *name, const char *s, int64_t *out)
{
	if (!cli_int64_parse(s, out)) {
		cli_usage_error(cli->synopsis,
		    "invalid %s '%s': expected a Unix time in seconds", name,
		    s);
		return false;
	}
	return true;
}

int
cli_cmd_revoke_token(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__RevokeTokenRequest req =
	    CACHEBROKER__V1__REVOKE_TOKEN_REQUEST__INIT;
	Cachebroker__V1__RevokeTokenResponse *resp = NULL;
	cb_result                             res;
	cb_status                             st;

	(void) argc;
	req.token_id = argv[0];
	if (!unix_time_arg(cli, "EXPIRES_AT", argv[1], &req.expires_at)) {
		return CLI_EXIT_USAGE;
	}
	st = cb_auth_revoke_token(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		return cli_fail(st, res.message);
	}
	cli_print_number(cli, "ttl_ms", resp->ttl_ms);
	cb_message_free(resp);
	return CLI_EXIT_OK;
}

int
cli_cmd_revoke_user(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__RevokeUserTokensRequest req =
	    CACHEBROKER__V1__REVOKE_USER_TOKENS_REQUEST__INIT;
	Cachebroker__V1__RevokeUserTokensResponse *resp = NULL;
	cb_result                                  res;
	cb_status                                  st;

	(void) argc;
	req.user_id = argv[0];
	if (!unix_time_arg(
	        cli, "ISSUED_BEFORE", argv[1], &req.issued_before)) {
		return CLI_EXIT_USAGE;
	}
	st = cb_auth_revoke_user_tokens(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		return cli_fail(st, res.message);
	}
	cli_print_number(cli, "ttl_ms", resp->ttl_ms);
	cb_message_free(resp);
	return CLI_EXIT_OK;
}

/* revoked_by names a RevokedBy value for --json ("token", "user"...). */
static const char *
revoked_by(Cachebroker__V1__RevokedBy by)
{
	switch (by) {
	case CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_NONE:
		return "none";
	case CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_TOKEN:
		return "token";
	case CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_USER:
		return "user";
	case CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_UNKNOWN:
		return "unknown";
	default:
		return "unspecified";
	}
}

/*
 * is-revoked is a question, answered like grep -q or systemctl is-active
 * answer theirs: exit 0 when the token is revoked, 1 when it is not, 3
 * when the broker cannot tell (revocation_when_down = fail-closed). A
 * fail-open broker's "not revoked, Redis down" exits 1, as it answered.
 */
int
cli_cmd_is_revoked(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__IsTokenRevokedRequest req =
	    CACHEBROKER__V1__IS_TOKEN_REVOKED_REQUEST__INIT;
	Cachebroker__V1__IsTokenRevokedResponse *resp = NULL;
	struct cli_json                          j;
	cb_result                                res;
	cb_status                                st;
	int                                      rc;

	(void) argc;
	req.token_id = argv[0];
	req.user_id  = argv[1];
	if (!unix_time_arg(cli, "ISSUED_AT", argv[2], &req.issued_at)) {
		return CLI_EXIT_USAGE;
	}
	st = cb_auth_is_token_revoked(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		return cli_fail(st, res.message);
	}
	rc = resp->revoked ? CLI_EXIT_OK : CLI_EXIT_NOT_FOUND;
	if (cli->json) {
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "revoked");
		cli_json_bool(&j, resp->revoked);
		cli_json_key(&j, "by");
		cli_json_string(&j, revoked_by(resp->by));
		cli_json_x_cache(&j, &res);
		cli_json_end(&j);
	} else if (resp->revoked) {
		printf("revoked (%s)\n", revoked_by(resp->by));
	} else if (resp->by ==
	    CACHEBROKER__V1__REVOKED_BY__REVOKED_BY_UNKNOWN) {
		printf("not revoked (unknown: redis down)\n");
	} else {
		printf("not revoked\n");
	}
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_session_get(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__GetSessionRequest req =
	    CACHEBROKER__V1__GET_SESSION_REQUEST__INIT;
	Cachebroker__V1__GetSessionResponse *resp = NULL;
	cb_result                            res;
	cb_status                            st;
	int                                  rc;

	(void) argc;
	req.user_id = argv[0];
	st = cb_auth_get_session(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		return cli_fail(st, res.message);
	}
	rc = cli_print_found(
	    cli, resp->found, "data", &resp->data, resp->ttl_ms, &res);
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_session_put(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__PutSessionRequest req =
	    CACHEBROKER__V1__PUT_SESSION_REQUEST__INIT;
	Cachebroker__V1__PutSessionResponse *resp = NULL;
	struct cli_json                      j;
	cb_result                            res;
	cb_status                            st;

	(void) argc;
	req.user_id   = argv[0];
	req.data.data = (uint8_t *) argv[1];
	req.data.len  = strlen(argv[1]);
	req.ttl_ms    = (cli->given & CLI_OPT_TTL) ? cli->ttl_ms : 0;
	st = cb_auth_put_session(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		return cli_fail(st, res.message);
	}
	/* Like set: quiet, unless asked for JSON. */
	if (cli->json) {
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "ttl_ms");
		cli_json_int(&j, resp->ttl_ms);
		cli_json_end(&j);
	}
	cb_message_free(resp);
	return CLI_EXIT_OK;
}

int
cli_cmd_session_del(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__DeleteSessionRequest req =
	    CACHEBROKER__V1__DELETE_SESSION_REQUEST__INIT;
	Cachebroker__V1__DeleteSessionResponse *resp = NULL;
	cb_result                               res;
	cb_status                               st;
	int                                     rc;

	(void) argc;
	req.user_id = argv[0];
	st = cb_auth_delete_session(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		return cli_fail(st, res.message);
	}
	cli_print_flag(cli, "found", resp->found);
	rc = resp->found ? CLI_EXIT_OK : CLI_EXIT_NOT_FOUND;
	cb_message_free(resp);
	return rc;
}

int
cli_cmd_session_touch(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__TouchSessionRequest req =
	    CACHEBROKER__V1__TOUCH_SESSION_REQUEST__INIT;
	Cachebroker__V1__TouchSessionResponse *resp = NULL;
	cb_result                              res;
	cb_status                              st;
	int                                    rc;

	(void) argc;
	req.user_id = argv[0];
	req.ttl_ms  = (cli->given & CLI_OPT_TTL) ? cli->ttl_ms : 0;
	st = cb_auth_touch_session(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		return cli_fail(st, res.message);
	}
	rc = cli_print_found(cli, resp->found, NULL, NULL, resp->ttl_ms, &res);
	cb_message_free(resp);
	return rc;
}

/* ratelimit exits 0 when the request may go on, 1 when it is denied. */
int
cli_cmd_ratelimit(struct cli *cli, int argc, char **argv)
{
	Cachebroker__V1__CheckRateLimitRequest req =
	    CACHEBROKER__V1__CHECK_RATE_LIMIT_REQUEST__INIT;
	Cachebroker__V1__CheckRateLimitResponse *resp = NULL;
	struct cli_json                          j;
	cb_result                                res;
	cb_status                                st;
	uint64_t                                 limit;
	int                                      rc;

	(void) argc;
	req.subject = argv[0];
	if (!cli_count_parse(argv[1], &limit) || limit > UINT32_MAX) {
		return cli_usage_error(cli->synopsis,
		    "invalid LIMIT '%s': expected a whole number from 1 to "
		    "%" PRIu32,
		    argv[1], UINT32_MAX);
	}
	req.limit = (uint32_t) limit;
	if (!cli_duration_parse(argv[2], &req.window_ms) ||
	    req.window_ms == 0) {
		return cli_usage_error(cli->synopsis,
		    "invalid WINDOW '%s': expected a positive duration "
		    "(500ms, 10s, 15m, 1h)",
		    argv[2]);
	}
	req.cost = (cli->given & CLI_OPT_COST) ? (int64_t) cli->cost : 1;
	st = cb_auth_check_rate_limit(cli->client, &req, &resp, NULL, &res);
	if (st != CB_OK) {
		return cli_fail(st, res.message);
	}
	rc = resp->allowed ? CLI_EXIT_OK : CLI_EXIT_NOT_FOUND;
	if (cli->json) {
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "allowed");
		cli_json_bool(&j, resp->allowed);
		cli_json_key(&j, "remaining");
		cli_json_int(&j, resp->remaining);
		cli_json_key(&j, "retry_after_ms");
		cli_json_int(&j, resp->retry_after_ms);
		cli_json_key(&j, "reset_after_ms");
		cli_json_int(&j, resp->reset_after_ms);
		cli_json_key(&j, "decided_without_redis");
		cli_json_bool(&j, resp->decided_without_redis);
		cli_json_x_cache(&j, &res);
		cli_json_end(&j);
	} else {
		if (resp->allowed) {
			printf("allowed");
		} else {
			printf("denied retry_after=%" PRId64,
			    resp->retry_after_ms);
		}
		printf(" remaining=%" PRId64 " reset_after=%" PRId64 "%s\n",
		    resp->remaining, resp->reset_after_ms,
		    resp->decided_without_redis ? " (decided without redis)"
		                                : "");
	}
	cb_message_free(resp);
	return rc;
}

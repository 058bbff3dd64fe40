/* SPDX-License-Identifier: MIT */
/* Output of the CLI: values, numbers, flags, errors, exit codes. */
#include <stdarg.h>

#include "cli.h"

int
cli_usage_error(const char *synopsis, const char *fmt, ...)
{
	va_list ap;

	fputs("cachebroker: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (synopsis != NULL) {
		fprintf(stderr, "usage: cachebroker [OPTIONS] %s\n", synopsis);
	} else {
		fputs("usage: cachebroker [-u URL] [--json] [--timeout MS] "
		      "COMMAND [ARGS...]\n",
		    stderr);
	}
	fputs("Try 'cachebroker --help' for more information.\n", stderr);
	return CLI_EXIT_USAGE;
}

int
cli_fail(cb_status st, const char *message)
{
	if (message != NULL && *message != '\0') {
		fprintf(stderr, "cachebroker: %s: %s\n",
		    cb_status_str((int) st), message);
	} else {
		fprintf(stderr, "cachebroker: %s\n", cb_status_str((int) st));
	}
	return st == CB_NOT_FOUND ? CLI_EXIT_NOT_FOUND : CLI_EXIT_FAILURE;
}

void
cli_write_value(const struct cli *cli, const uint8_t *data, size_t len)
{
	if (len > 0) {
		fwrite(data, 1, len, stdout);
	}
	if (!cli->no_newline) {
		putchar('\n');
	}
}

int
cli_finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("cachebroker: stdout");
		return CLI_EXIT_FAILURE;
	}
	return rc;
}

void
cli_json_x_cache(struct cli_json *j, const cb_result *res)
{
	if (res->x_cache[0] != '\0') {
		cli_json_key(j, "x_cache");
		cli_json_string(j, res->x_cache);
	}
}

void
cli_print_number(const struct cli *cli, const char *name, int64_t n)
{
	struct cli_json j;

	if (!cli->json) {
		printf("%lld\n", (long long) n);
		return;
	}
	cli_json_init(&j, stdout);
	cli_json_begin_object(&j);
	cli_json_key(&j, name);
	cli_json_int(&j, n);
	cli_json_end(&j);
}

void
cli_print_flag(const struct cli *cli, const char *name, bool b)
{
	struct cli_json j;

	if (!cli->json) {
		return;
	}
	cli_json_init(&j, stdout);
	cli_json_begin_object(&j);
	cli_json_key(&j, name);
	cli_json_bool(&j, b);
	cli_json_end(&j);
}

int
cli_print_found(const struct cli *cli, bool found, const char *name,
    const ProtobufCBinaryData *value, int64_t ttl_ms, const cb_result *res)
{
	struct cli_json j;

	if (cli->json) {
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "found");
		cli_json_bool(&j, found);
		if (found && value != NULL) {
			cli_json_value(&j, name, value->data, value->len);
		}
		if (found) {
			cli_json_key(&j, "ttl_ms");
			cli_json_int(&j, ttl_ms);
		}
		cli_json_x_cache(&j, res);
		cli_json_end(&j);
	} else if (found && value != NULL) {
		cli_write_value(cli, value->data, value->len);
	}
	return found ? CLI_EXIT_OK : CLI_EXIT_NOT_FOUND;
}

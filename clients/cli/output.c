/* SPDX-License-Identifier: MIT */
/* Text output of the CLI: values, usage errors, failed calls, exit codes. */
#include <stdarg.h>
#include <unistd.h>

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
cli_write_value(const uint8_t *data, size_t len)
{
	if (len > 0) {
		fwrite(data, 1, len, stdout);
	}
	if (isatty(STDOUT_FILENO)) {
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

/* SPDX-License-Identifier: MIT */
/* Harness basics: the clock, messages, files and temporary directories. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

/* Longest base directory we accept: the broker's socket path
 * "<base>/<tag>-XXXXXX/broker.sock" must fit in sun_path (108 bytes). */
#define TMPBASE_MAX 64

int64_t
cbh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
cbh_sleep_ms(int ms)
{
	struct timespec ts;

	if (ms <= 0) {
		return;
	}
	ts.tv_sec  = ms / 1000;
	ts.tv_nsec = (long) (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

void
cbh_log(const char *fmt, ...)
{
	va_list ap;
	char    buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One write, so that lines of concurrent processes do not mix. */
	fprintf(stderr, "harness: %s\n", buf);
	fflush(stderr);
}

static const char *
tmpdir_base(void)
{
	const char *base;

	base = getenv("CBH_RUN_DIR");
	if (base != NULL && *base != '\0' && strlen(base) <= TMPBASE_MAX) {
		return (base);
	}
	base = getenv("TMPDIR");
	if (base != NULL && *base != '\0' && strlen(base) <= TMPBASE_MAX) {
		return (base);
	}
	return ("/tmp");
}

int
cbh_tmpdir_create(char **path, const char *tag)
{
	char *p;

	if (asprintf(&p, "%s/%s-XXXXXX", tmpdir_base(), tag) < 0) {
		cbh_log("out of memory");
		return (-1);
	}
	if (mkdtemp(p) == NULL) {
		cbh_log("mkdtemp %s: %s", p, strerror(errno));
		free(p);
		return (-1);
	}
	cbh_dir_track(p, true);
	*path = p;
	return (0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 &&
	    errno != ENOENT) {
		cbh_log("remove %s: %s", path, strerror(errno));
		return (-1);
	}
	return (0);
}

int
cbh_tmpdir_remove(const char *path)
{
	if (path == NULL) {
		return (0);
	}
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
	    errno != ENOENT) {
		cbh_log("cannot remove %s", path);
		return (-1);
	}
	cbh_dir_track(path, false);
	return (0);
}

int
cbh_file_write(const char *path, const char *text)
{
	FILE  *f;
	size_t len = strlen(text);

	if ((f = fopen(path, "w")) == NULL) {
		cbh_log("open %s: %s", path, strerror(errno));
		return (-1);
	}
	if (fwrite(text, 1, len, f) != len) {
		cbh_log("write %s: %s", path, strerror(errno));
		fclose(f);
		return (-1);
	}
	if (fclose(f) != 0) {
		cbh_log("close %s: %s", path, strerror(errno));
		return (-1);
	}
	return (0);
}

int
cbh_file_read(const char *path, char **text, size_t *len)
{
	FILE  *f;
	char  *buf  = NULL;
	size_t size = 0;
	size_t n    = 0;
	size_t got;

	if ((f = fopen(path, "r")) == NULL) {
		cbh_log("open %s: %s", path, strerror(errno));
		return (-1);
	}
	for (;;) {
		if (size - n < 4096) {
			char *nb = realloc(buf, size * 2 + 4096);
			if (nb == NULL) {
				cbh_log("out of memory reading %s", path);
				goto fail;
			}
			buf  = nb;
			size = size * 2 + 4096;
		}
		got = fread(buf + n, 1, size - n - 1, f);
		n += got;
		if (got == 0) {
			break;
		}
	}
	if (ferror(f)) {
		cbh_log("read %s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*text  = buf;
	if (len != NULL) {
		*len = n;
	}
	return (0);

fail:
	fclose(f);
	free(buf);
	return (-1);
}

void
cbh_file_print(const char *title, const char *path)
{
	FILE  *f;
	char   buf[4096];
	size_t n;

	fprintf(stderr, "======== %s: %s ========\n", title, path);
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "(cannot open: %s)\n", strerror(errno));
	} else {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			fwrite(buf, 1, n, stderr);
		}
		fclose(f);
	}
	fprintf(stderr, "======== end of %s ========\n", title);
	fflush(stderr);
}

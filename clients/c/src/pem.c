/* SPDX-License-Identifier: MIT */
/* PEM files for TLS: read whole, secrets wiped. */
#include "pem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cbc_pem_read(const char *path, char **out)
{
	FILE  *fp = fopen(path, "r");
	char  *buf;
	size_t n;
	int    err;

	if (fp == NULL) {
		return -1;
	}
	if ((buf = malloc(CBC_PEM_MAX + 1)) == NULL) {
		(void) fclose(fp);
		errno = ENOMEM;
		return -1;
	}
	/* No stdio buffer: it would keep an unwiped copy of a key. */
	(void) setvbuf(fp, NULL, _IONBF, 0);
	n = fread(buf, 1, CBC_PEM_MAX + 1, fp);
	if (ferror(fp) || n > CBC_PEM_MAX) {
		err = ferror(fp) ? EIO : EFBIG;
		/* Not NUL-terminated: wipe what may have been read. */
		explicit_bzero(buf, CBC_PEM_MAX + 1);
		free(buf);
		(void) fclose(fp);
		errno = err;
		return -1;
	}
	(void) fclose(fp);
	buf[n] = '\0';
	*out   = buf;
	return 0;
}

void
cbc_pem_free(char *pem)
{
	if (pem != NULL) {
		explicit_bzero(pem, strlen(pem));
		free(pem);
	}
}

/* SPDX-License-Identifier: MIT */
/* PEM files for TLS: read whole, secrets wiped. Compiled into both
 * libcachebroker and cachebrokerd (like status.c). */
#ifndef CBC_PEM_H
#define CBC_PEM_H

/* Not part of the library's dynamic symbols. */
#if defined(__GNUC__)
#define CBC_PEM_HIDDEN __attribute__((visibility("hidden")))
#else
#define CBC_PEM_HIDDEN
#endif

/* The largest PEM file read: a certificate chain or a key is a few KiB. */
#define CBC_PEM_MAX ((size_t) 1 << 20)

/* cbc_pem_read reads path into a NUL-terminated heap string (*out). -1
 * with errno set when it cannot (EFBIG past CBC_PEM_MAX). */
CBC_PEM_HIDDEN int cbc_pem_read(const char *path, char **out);

/* cbc_pem_free wipes pem (it may hold a private key), then frees it.
 * NULL-safe. */
CBC_PEM_HIDDEN void cbc_pem_free(char *pem);

#endif

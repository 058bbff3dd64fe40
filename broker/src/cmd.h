/* SPDX-License-Identifier: MIT */
/* Building a Redis command's argv: keys composed in one arena, values
 * pointed to where they already are. */
#ifndef CBD_CMD_H
#define CBD_CMD_H

#include <stddef.h>

#define CBD_CMD_INLINE_ARGS 8
#define CBD_CMD_INLINE_ARENA 1024

typedef struct cbd_cmd {
	int          argc;  /* arguments so far */
	int          cap;   /* room for this many */
	const char **argv;  /* argv_i or heap */
	size_t      *lens;  /* lens_i or heap */
	char        *arena; /* arena_i or heap: composed keys */
	size_t       used;  /* arena bytes used */
	size_t       size;  /* arena bytes available */
	const char  *argv_i[CBD_CMD_INLINE_ARGS];
	size_t       lens_i[CBD_CMD_INLINE_ARGS];
	char         arena_i[CBD_CMD_INLINE_ARENA];
} cbd_cmd;

/* cbd_cmd_init prepares room for nargs arguments and arena bytes of
 * composed keys (caller's storage). Returns -1 when out of memory. */
int cbd_cmd_init(cbd_cmd *c, int nargs, size_t arena);

/* cbd_cmd_fini frees what init allocated. */
void cbd_cmd_fini(cbd_cmd *c);

/* cbd_cmd_arg appends s (n bytes), not copied: it must outlive the send. */
void cbd_cmd_arg(cbd_cmd *c, const char *s, size_t n);

/* cbd_cmd_str appends a NUL-terminated string, not copied. */
void cbd_cmd_str(cbd_cmd *c, const char *s);

/* cbd_cmd_key appends prefix + ns + ':' + key, composed in the arena. */
void cbd_cmd_key(
    cbd_cmd *c, const char *prefix, const char *ns, const char *key);

/* cbd_cmd_int appends a decimal integer, formatted in the arena. */
void cbd_cmd_int(cbd_cmd *c, long long v);

/* cbd_cmd_key_size is the arena room cbd_cmd_key needs. */
size_t cbd_cmd_key_size(const char *prefix, const char *ns, const char *key);

/* Arena room cbd_cmd_int needs. */
#define CBD_CMD_INT_SIZE 24

#endif /* CBD_CMD_H */

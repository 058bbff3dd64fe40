/* SPDX-License-Identifier: MIT */
/* Building a Redis command's argv. */
#include "cmd.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

int
cbd_cmd_init(cbd_cmd *c, int nargs, size_t arena)
{
	c->argc  = 0;
	c->cap   = nargs;
	c->used  = 0;
	c->size  = arena;
	c->argv  = c->argv_i;
	c->lens  = c->lens_i;
	c->arena = c->arena_i;
	if (nargs > CBD_CMD_INLINE_ARGS) {
		c->argv = malloc(sizeof(*c->argv) * (size_t) nargs);
		c->lens = malloc(sizeof(*c->lens) * (size_t) nargs);
	}
	if (arena > CBD_CMD_INLINE_ARENA) {
		c->arena = malloc(arena);
	}
	if (c->argv == NULL || c->lens == NULL || c->arena == NULL) {
		cbd_cmd_fini(c);
		return -1;
	}
	return 0;
}

void
cbd_cmd_fini(cbd_cmd *c)
{
	if (c->argv != c->argv_i) {
		free(c->argv);
	}
	if (c->lens != c->lens_i) {
		free(c->lens);
	}
	if (c->arena != c->arena_i) {
		free(c->arena);
	}
	c->argv  = c->argv_i;
	c->lens  = c->lens_i;
	c->arena = c->arena_i;
}

void
cbd_cmd_arg(cbd_cmd *c, const char *s, size_t n)
{
	assert(c->argc < c->cap);
	c->argv[c->argc] = s;
	c->lens[c->argc] = n;
	c->argc++;
}

void
cbd_cmd_str(cbd_cmd *c, const char *s)
{
	cbd_cmd_arg(c, s, strlen(s));
}

size_t
cbd_cmd_key_size(const char *prefix, const char *ns, const char *key)
{
	return strlen(prefix) + strlen(ns) + strlen(key) + 2;
}

void
cbd_cmd_key(cbd_cmd *c, const char *prefix, const char *ns, const char *key)
{
	char  *dst = c->arena + c->used;
	size_t n   = cbd_keys_join(dst, c->size - c->used, prefix, ns, key);

	assert(n > 0);
	c->used += n + 1;
	cbd_cmd_arg(c, dst, n);
}

void
cbd_cmd_int(cbd_cmd *c, long long v)
{
	char *dst = c->arena + c->used;
	int   n;

	assert(c->size - c->used >= CBD_CMD_INT_SIZE);
	n = snprintf(dst, CBD_CMD_INT_SIZE, "%lld", v);
	c->used += (size_t) n + 1;
	cbd_cmd_arg(c, dst, (size_t) n);
}

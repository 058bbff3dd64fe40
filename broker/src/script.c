/* SPDX-License-Identifier: MIT */
/* Lua scripts sent as EVALSHA once Redis knows them. */
#include "script.h"

#include <string.h>

static void
script_loaded(void *arg, uint64_t tag, redisReply *r)
{
	cbd_script *s = arg;

	(void) tag;
	s->loading = 0;
	if (r != NULL && r->type == REDIS_REPLY_STRING && r->len == 40) {
		memcpy(s->sha, r->str, 40);
		s->sha[40] = '\0';
	}
}

void
cbd_script_begin(cbd_script *s, cbd_redis_conn *c, int whole, cbd_cmd *cmd)
{
	const char *load[3] = { "SCRIPT", "LOAD", s->src };
	size_t      lens[3] = { 6, 4, strlen(s->src) };
	int         sha     = s->sha[0] != '\0' && !whole;

	if (s->sha[0] == '\0' && !s->loading &&
	    cbd_redis_send(c, script_loaded, s, 0, 3, load, lens) == 0) {
		s->loading = 1;
	}
	cbd_cmd_str(cmd, sha ? "EVALSHA" : "EVAL");
	cbd_cmd_str(cmd, sha ? s->sha : s->src);
}

int
cbd_script_noscript(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0;
}

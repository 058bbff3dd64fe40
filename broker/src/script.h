/* SPDX-License-Identifier: MIT */
/* Lua scripts sent as EVALSHA once Redis knows them. */
#ifndef CBD_SCRIPT_H
#define CBD_SCRIPT_H

#include <hiredis/hiredis.h>

#include "cmd.h"
#include "redis_pool.h"

/*
 * A script and what Redis calls it, once known: static storage, one per
 * script, loop thread. The first time a script is needed, SCRIPT LOAD is
 * sent ahead of the call on the same connection, and the call goes as
 * EVAL (in order: it finds the script loaded anyway); once SCRIPT LOAD
 * answered, calls are EVALSHA with the 40-character digest. Redis forgets
 * scripts on SCRIPT FLUSH or a restart: an EVALSHA then fails with
 * NOSCRIPT (cbd_script_noscript), and the caller sends the call again
 * whole (EVAL), which loads the script again.
 */
typedef struct cbd_script {
	const char *src;     /* the Lua source */
	char        sha[41]; /* "" until SCRIPT LOAD answered */
	int         loading; /* a SCRIPT LOAD is on its way */
} cbd_script;

/* CBD_SCRIPT initialises a cbd_script of source text src. */
#define CBD_SCRIPT(text)      \
	{                     \
		.src = (text) \
	}

/* cbd_script_nargs is the argv slots cbd_script_begin takes. */
#define CBD_SCRIPT_NARGS 2

/*
 * cbd_script_begin adds "EVALSHA sha" to cmd (or "EVAL source" while the
 * digest is not known, or when whole is set: after a NOSCRIPT), asking
 * Redis for the digest on c the first time. The caller adds numkeys, the
 * keys and the arguments, and sends cmd on c.
 */
void cbd_script_begin(
    cbd_script *s, cbd_redis_conn *c, int whole, cbd_cmd *cmd);

/* cbd_script_noscript says whether r is Redis' NOSCRIPT error: the
 * script must be sent whole. */
int cbd_script_noscript(const redisReply *r);

#endif /* CBD_SCRIPT_H */

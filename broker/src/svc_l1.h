/* SPDX-License-Identifier: MIT */
/* The L1 as the methods see it (l1.h is the table itself). */
#ifndef CBD_SVC_L1_H
#define CBD_SVC_L1_H

#include <stddef.h>
#include <stdint.h>

#include "l1.h"
#include "svc.h"

/* CBD_SVC_L1_KEY: a stack buffer that holds most L1 keys. */
#define CBD_SVC_L1_KEY 256

/*
 * cbd_svc_l1_key is ns/key's Redis key (the running key_prefix, ns, ':',
 * key) in buf (CBD_SVC_L1_KEY bytes), or on the heap when longer: free it
 * when it is not buf. NULL if out of memory. Any thread.
 */
char *cbd_svc_l1_key(
    const cbd_req *req, const char *ns, const char *key, char *buf);

/*
 * cbd_svc_l1_tokens takes the L1 fill tokens of n keys of ns before the
 * command that reads them leaves (into req->op.l1_tokens), when the L1
 * keeps ns; nothing otherwise (and on no memory: no fill then).
 */
void cbd_svc_l1_tokens(
    cbd_req *req, const char *ns, size_t n, char *const *keys);

/* cbd_svc_l1_fill stores key i of ns (value, len), read with the token
 * cbd_svc_l1_tokens took, PTTL redis_ttl_ms (-1: none), in the L1. */
void cbd_svc_l1_fill(cbd_req *req, const char *ns, size_t i, const char *key,
    const void *value, size_t len, int64_t redis_ttl_ms);

/* cbd_svc_l1_get copies ns/key's value from the L1 into *hit and
 * returns 1 when the L1 keeps ns and holds the key; 0 otherwise. Any
 * thread. */
int cbd_svc_l1_get(
    cbd_req *req, const char *ns, const char *key, cbd_l1_hit *hit);

/* cbd_svc_l1_drop drops ns/key from the L1 (when there is one) and
 * cancels its fills in flight: what a write does when Redis has applied
 * it, before its answer. */
void cbd_svc_l1_drop(cbd_req *req, const char *ns, const char *key);

#endif /* CBD_SVC_L1_H */

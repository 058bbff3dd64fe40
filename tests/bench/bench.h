/* SPDX-License-Identifier: MIT */
/* cb_bench: what its modules (echo, load, envelope, proc) share. */
#ifndef CB_BENCH_BENCH_H
#define CB_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cachebroker/cachebroker.h>
#include <nng/nng.h>

/* Length of the request ids the benchmark puts in its envelopes; the same
 * as libcachebroker's (16 random bytes in hex). */
#define BENCH_REQUEST_ID_LEN 32

/* What one load run sends. */
typedef enum bench_mode {
	BENCH_MODE_ECHO,      /* raw nng req (Get bytes) to an echo server */
	BENCH_MODE_GET,       /* CacheService/Get of keys known to be set */
	BENCH_MODE_REVOKED,   /* AuthService/IsTokenRevoked of tokens */
	BENCH_MODE_RATELIMIT, /* AuthService/CheckRateLimit of subjects */
	BENCH_MODE_GETMANY,   /* CacheService/GetMany of BENCH_MANY keys */
} bench_mode;

/* Keys of one GetMany (getmany mode); the run's keys must be at least
 * this many. */
#define BENCH_MANY 10

/* Length of a --zipf run's precomputed rank sequence. */
#define BENCH_ZIPF_N ((size_t) 1 << 20)

/*
 * How the load generator keeps its requests in flight. Both modes use the
 * same engine in one run, so their figures compare.
 *
 *   THREADS  concurrency threads, each one blocking call after another
 *            (the only way libcachebroker can be driven: its calls block)
 *   AIO      concurrency nng contexts, each an aio state machine run by
 *            nng's own threads; the broker modes send envelopes packed
 *            here instead of going through libcachebroker
 */
typedef enum bench_engine {
	BENCH_ENGINE_THREADS,
	BENCH_ENGINE_AIO,
} bench_engine;

#define BENCH_MAX_PIDS 8

/* Options of one load run (cb_bench load). */
typedef struct bench_load_opts {
	const char  *url;         /* broker or echo server */
	bench_mode   mode;        /* echo, get, revoked or ratelimit */
	bench_engine engine;      /* threads or aio */
	int          concurrency; /* requests in flight */
	double       duration_s;  /* measured window */
	double       warmup_s;    /* run before the window, not measured */
	size_t       value_size;  /* expected length of the value (get) */
	const char  *ns;          /* namespace of the key (get) */
	const char  *key;         /* the key, or the keys' prefix */
	uint32_t     keys;        /* 1: key; else keys 0 .. keys-1 (call.c) */
	double       zipf;        /* > 0: keys by Zipf(zipf) rank, not even */
	uint32_t    *zipf_seq;    /* its ranks (1 .. keys), zipf_n of them */
	size_t       zipf_n;
	uint32_t     users;      /* revoked: token i is user i % users's */
	uint32_t     every;      /* revoked: every Nth token, user revoked */
	uint32_t     limit;      /* ratelimit: requests per window */
	int64_t      window_ms;  /* ratelimit: 0, the broker's default */
	int64_t      now_s;      /* Unix time at start: tokens' iat */
	uint32_t     timeout_ms; /* per request */
	int          npids;      /* other processes whose CPU to report */
	pid_t        pids[BENCH_MAX_PIDS];      /* their ids */
	const char  *pid_names[BENCH_MAX_PIDS]; /* their names in the output */
} bench_load_opts;

/*
 * bench_load_run performs one load run and prints its one result line on
 * stdout. Returns 0 when every request succeeded, 2 when some failed
 * (after saying so on stderr), 1 when the run could not be set up.
 * Blocks for warmup_s + duration_s and a little more.
 */
int bench_load_run(const bench_load_opts *o);

/*
 * bench_echo_serve listens on url with a rep0 socket and ncontexts
 * contexts, each sending back what it receives, until SIGTERM or SIGINT.
 * Returns a process exit code. Blocks.
 */
int bench_echo_serve(const char *url, int ncontexts);

/*
 * bench_raw_echo_serve listens on url with a raw rep0 socket that one
 * thread drives through NNG_OPT_RECVFD, echoing every request, until
 * SIGTERM or SIGINT. Returns the process exit status.
 */
int bench_raw_echo_serve(const char *url);

/*
 * bench_call is one request of a load run: a Get, an IsTokenRevoked or a
 * CheckRateLimit (the echo mode sends a Get's bytes), with the storage
 * its strings point into and what its answer must say. call.c.
 */
#define BENCH_ID_MAX 288

typedef struct bench_call {
	union {
		ProtobufCMessage                       base;
		Cachebroker__V1__GetRequest            get;
		Cachebroker__V1__IsTokenRevokedRequest revoked;
		Cachebroker__V1__CheckRateLimitRequest rate;
		Cachebroker__V1__GetManyRequest        many;
	} req;
	char  id[BENCH_ID_MAX];         /* key, token id or subject */
	char  many_ids[BENCH_MANY][64]; /* getmany: the keys */
	char *many_keys[BENCH_MANY];    /* pointers to them */
	char  user[BENCH_ID_MAX];       /* revoked: the token's user */
	bool  expect; /* revoked: whether the token is revoked */
} bench_call;

/* What each mode sends and what its answers say, indexed by bench_mode. */
typedef struct bench_kind {
	const char                       *name;    /* --mode: "get", ... */
	const char                       *method;  /* full method name */
	const ProtobufCMessageDescriptor *resp;    /* its answer */
	const char                       *outcome; /* what *yes counts */
} bench_kind;

extern const bench_kind bench_kinds[];

/* bench_call_pick returns the index (0 .. keys-1) of request seq of
 * worker idx: uniform over the keys, the same on every run. */
uint32_t bench_call_pick(const bench_load_opts *o, int idx, uint64_t seq);

/* bench_call_init fills c (caller's storage) with the request of index i
 * of o->mode (Get for the echo mode). */
void bench_call_init(bench_call *c, const bench_load_opts *o, uint32_t i);

/*
 * bench_call_check checks resp, the answer of c (NULL: none): 0 and *yes
 * (found, revoked, allowed: bench_kinds[].outcome), or -1 and why in err
 * (errlen bytes). A revocation answer must be the one the preset made; a rate
 * limit answer must have come from Redis.
 */
int bench_call_check(const bench_load_opts *o, const bench_call *c,
    const ProtobufCMessage *resp, bool *yes, char *err, size_t errlen);

/*
 * bench_call_run makes the call c through libcachebroker (blocking) and
 * checks its answer as bench_call_check does.
 */
int bench_call_run(cb_client *client, const bench_load_opts *o,
    const bench_call *c, bool *yes, char *err, size_t errlen);

/* bench_preset stores what o's runs read: o->keys values for get, the
 * revocations for revoked (nothing for ratelimit). Prints one line;
 * returns 0, or 1 after saying why. Blocks. */
int bench_preset(const bench_load_opts *o);

/* Used by every benchmark program (common.c, envelope.c, proc.c,
 * hist.c): */

/*
 * bench_envelope_pack packs a Request envelope for method carrying
 * payload into a new nng message (*out, owned by the caller on success),
 * with the deadline libcachebroker sends by default. The 32-character
 * request id is seq and tag in hex: a run keeps seq unique and tag fixed
 * (mutating calls need ids never seen before: the broker replays them).
 * Returns 0 or an nng error.
 */
int bench_envelope_pack(nng_msg **out, const char *method,
    const ProtobufCMessage *payload, uint64_t seq, uint64_t tag);

/*
 * bench_envelope_unpack decodes a reply (body of len bytes): an OK
 * Response whose payload is a desc message. 0 and *out (the caller frees
 * it: protobuf_c_message_free_unpacked), or -1 and why in err.
 */
int bench_envelope_unpack(const void *body, size_t len,
    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out, char *err,
    size_t errlen);

/* bench_splitmix64 advances *x and returns its next output (splitmix64):
 * seeds, and keys picked uniformly. */
uint64_t bench_splitmix64(uint64_t *x);

/*
 * bench_set_many stores ns:PREFIX{first} .. ns:PREFIX{first + n - 1},
 * value_size bytes each (the letters a-z over and over), TTL ttl_ms (0:
 * none), with SetMany, batch entries a call. 0, or -1 and why in err.
 * Blocks.
 */
int bench_set_many(cb_client *c, const char *ns, const char *prefix,
    int64_t first, int64_t n, size_t value_size, int64_t ttl_ms,
    uint32_t batch, char *err, size_t errlen);

/* bench_parse_num reads a number in [min, max] from s, the value of the
 * option what; otherwise it says so on stderr and exits 1. */
double bench_parse_num(
    const char *what, const char *s, double min, double max);

/*
 * bench_client_open opens libcachebroker on url (timeout_ms per call) and
 * makes one Health call, so that the connection is up before anything is
 * timed. 0 and *out (the caller closes it), or -1 after saying why on
 * stderr. Blocks.
 */
int bench_client_open(cb_client **out, const char *url, uint32_t timeout_ms);

/* bench_parse_hostport splits "HOST:PORT" into host (hostlen bytes) and
 * *port; 0, or -1 when s is not that. */
int bench_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* bench_now_ns returns CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* bench_proc_cpu_us returns the CPU time (user + system) that process pid
 * has used so far in microseconds, or -1 if it cannot be read. pid 0 means
 * this process. */
int64_t bench_proc_cpu_us(pid_t pid);

/* bench_proc_csw returns how many context switches (voluntary and not)
 * the live threads of process pid have made so far, or -1 if it cannot
 * be read. pid 0 means this process. Threads that have exited are not
 * counted, so sample a process whose threads live for the whole run. */
int64_t bench_proc_csw(pid_t pid);

/*
 * bench_zipf_alloc precomputes the sequence of n requests over keys 1..k
 * with P(key = r) proportional to 1 / r^s: a cumulative table of the k
 * probabilities, then, per request, a uniform number from xoshiro256**
 * seeded from seed, looked up by binary search. On success *out is a
 * heap array of n keys the caller frees, *distinct (not NULL) how many
 * different keys it holds. Returns 0, or -1 out of memory.
 */
int bench_zipf_alloc(uint32_t **out, int64_t n, int64_t k, double s,
    uint64_t seed, int64_t *distinct);

#endif /* CB_BENCH_BENCH_H */

/* SPDX-License-Identifier: MIT */
/* Pattern invalidation at scale, timed against a PING loop on Redis. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cachebroker/cachebroker.h>

#include "bench.h"
#include "hist.h"
#include "inval.h"

/*
 *   fill    SetMany NS:k:1..N and KEEP:k:1..N through the broker
 *           (--batch entries a call); both counted in Redis (SCAN)
 *   idle    the PING loop alone for --idle s; LATENCY LATEST of it
 *   run     the PING loop while one InvalidatePattern(NS, "*") runs (the
 *           broker's SCAN MATCH + UNLINK steps); LATENCY LATEST of it,
 *           and Redis' own time in the SCANs and UNLINKs (commandstats)
 *   check   NS:* is empty, KEEP:* still holds N keys, deleted == N
 *
 * The PING loop is a thread with its own connection, one PING at a time
 * with --ping-gap-us between them (so that it does not take a core from
 * Redis and the broker; a stall of Redis still delays the PING sent
 * during it). Each round trip goes into a histogram: its maximum is the
 * longest Redis was unavailable to a client, as a client sees it. Redis'
 * own latency monitor (threshold 1 ms for the run) says which of its
 * events took longer, from inside.
 */

#define PAT_TTL_MS 3600000

/* A PING loop on its own connection, run by its own thread. */
typedef struct ping_loop {
	redisContext *rc;     /* only this loop uses it */
	uint32_t      gap_us; /* pause after each PING */
	pthread_t     thread;
	atomic_bool   stop;            /* set by the main thread */
	bench_hist    hist;            /* round trips, ns */
	char          err[IB_ERR_MAX]; /* "" while every PING is answered */
} ping_loop;

/* Redis' LATENCY LATEST, summed up. */
typedef struct lat_sum {
	long long max_ms;      /* the worst event's maximum */
	char      events[512]; /* "name:samples:max_ms,..." or "none" */
} lat_sum;

static void *
ping_thread(void *arg)
{
	ping_loop      *p   = arg;
	struct timespec gap = { 0, (long) p->gap_us * 1000L };

	while (!atomic_load(&p->stop)) {
		uint64_t    t0 = bench_now_ns();
		redisReply *r  = redisCommand(p->rc, "PING");
		uint64_t    t1 = bench_now_ns();

		if (r == NULL || r->type != REDIS_REPLY_STATUS) {
			(void) snprintf(p->err, sizeof(p->err), "PING: %s",
			    r == NULL ? p->rc->errstr : "unexpected reply");
			freeReplyObject(r);
			return (NULL);
		}
		freeReplyObject(r);
		bench_hist_add(&p->hist, t1 - t0);
		if (p->gap_us > 0) {
			(void) nanosleep(&gap, NULL);
		}
	}
	return (NULL);
}

static int
ping_start(ping_loop *p)
{
	int rv;

	bench_hist_init(&p->hist);
	atomic_store(&p->stop, false);
	if ((rv = pthread_create(&p->thread, NULL, ping_thread, p)) != 0) {
		fprintf(stderr, "cb_inval_bench: pthread_create: %s\n",
		    strerror(rv));
		return (-1);
	}
	return (0);
}

static void
ping_stop(ping_loop *p)
{
	atomic_store(&p->stop, true);
	(void) pthread_join(p->thread, NULL);
}

/* sleep_s sleeps s seconds. */
static void
sleep_s(double s)
{
	struct timespec ts = { (time_t) s,
		(long) ((s - (double) (time_t) s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}

/* print_pings prints count, p50, p99 and max of h as PREFIX_NAME=. */
static void
print_pings(const char *prefix, const bench_hist *h)
{
	printf(" %s_count=%" PRIu64 " %s_p50_us=%.1f %s_p99_us=%.1f"
	       " %s_max_us=%.1f",
	    prefix, h->count, prefix,
	    (double) bench_hist_percentile(h, 50) / 1e3, prefix,
	    (double) bench_hist_percentile(h, 99) / 1e3, prefix,
	    (double) h->max_ns / 1e3);
}

/* latency_read sums up LATENCY LATEST, with the number of samples each
 * event has in LATENCY HISTORY. 0, or -1 and err. */
static int
latency_read(redisContext *rc, lat_sum *s, char *err, size_t errlen)
{
	redisReply *r    = ib_redis_cmd(rc, err, errlen, "LATENCY LATEST");
	size_t      used = 0;

	if (r == NULL) {
		return (-1);
	}
	s->max_ms = 0;
	(void) snprintf(s->events, sizeof(s->events), "none");
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements;
	     i++) {
		redisReply *e = r->element[i];
		redisReply *h;
		size_t      samples = 0;

		/* event name, unix time, latest ms, all-time max ms */
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 ||
		    e->element[0]->type != REDIS_REPLY_STRING) {
			continue;
		}
		h = ib_redis_cmd(
		    rc, err, errlen, "LATENCY HISTORY %s", e->element[0]->str);
		if (h != NULL && h->type == REDIS_REPLY_ARRAY) {
			samples = h->elements;
		}
		freeReplyObject(h);
		if (e->element[3]->integer > s->max_ms) {
			s->max_ms = e->element[3]->integer;
		}
		used += (size_t) snprintf(s->events + used,
		    used < sizeof(s->events) ? sizeof(s->events) - used : 0,
		    "%s%s:%zu:%lld", used > 0 ? "," : "", e->element[0]->str,
		    samples, e->element[3]->integer);
	}
	freeReplyObject(r);
	return (0);
}

/* count_keys counts the keys of namespace ns (SCAN MATCH "ns:*"); -1 and
 * err when Redis failed. */
static int64_t
count_keys(redisContext *rc, const char *ns, char *err, size_t errlen)
{
	char    cursor[32] = "0";
	int64_t n          = 0;

	do {
		redisReply *r = ib_redis_cmd(rc, err, errlen,
		    "SCAN %s MATCH %s:* COUNT 10000", cursor, ns);

		if (r == NULL) {
			return (-1);
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			(void) snprintf(err, errlen, "SCAN: unexpected reply");
			freeReplyObject(r);
			return (-1);
		}
		(void) snprintf(
		    cursor, sizeof(cursor), "%s", r->element[0]->str);
		n += (int64_t) r->element[1]->elements;
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return (n);
}

/* One command's line of INFO commandstats. */
typedef struct cmd_sum {
	long long calls; /* how many ran */
	long long usec;  /* the time Redis spent in them */
} cmd_sum;

/* cmdstat reads the calls and time of command name from INFO
 * commandstats (zero when it has not run); 0, or -1 and err. */
static int
cmdstat(
    redisContext *rc, const char *name, cmd_sum *c, char *err, size_t errlen)
{
	redisReply *r = ib_redis_cmd(rc, err, errlen, "INFO commandstats");
	char        field[64];
	const char *at;

	if (r == NULL) {
		return (-1);
	}
	c->calls = 0;
	c->usec  = 0;
	/* "cmdstat_scan:calls=12,usec=3456,usec_per_call=288.00,..." */
	(void) snprintf(field, sizeof(field), "cmdstat_%s:", name);
	if (r->type == REDIS_REPLY_STRING &&
	    (at = strstr(r->str, field)) != NULL) {
		(void) sscanf(at + strlen(field), "calls=%lld,usec=%lld",
		    &c->calls, &c->usec);
	}
	freeReplyObject(r);
	return (0);
}

/* The run's state; the figures it prints. */
typedef struct pat_run {
	const ib_opts *o;
	cb_client     *client;
	redisContext  *data;     /* fill checks, LATENCY, CONFIG */
	ping_loop      idle;     /* the PING loop alone */
	ping_loop      run;      /* ... during the invalidation */
	char           thr[32];  /* latency-monitor-threshold before */
	lat_sum        lat_idle; /* LATENCY LATEST of the idle phase */
	lat_sum        lat_run;  /* ... of the invalidation */
	double         fill_s;   /* both namespaces */
	double         wall_s;   /* the InvalidatePattern call */
	uint64_t       deleted;  /* its answer */
	int64_t        left;     /* NS keys after it */
	int64_t        kept;     /* KEEP keys after it */
	int64_t        cpu_us[IB_MAX_PIDS]; /* of o->pids during it */
	cmd_sum        scan;                /* Redis' SCANs during it */
	cmd_sum        unlink;              /* ... and UNLINKs */
	char           err[IB_ERR_MAX];     /* the first failure */
} pat_run;

/* pat_set_threshold runs CONFIG SET latency-monitor-threshold v; 0 or -1. */
static int
pat_set_threshold(pat_run *p, const char *v)
{
	redisReply *r = ib_redis_cmd(p->data, p->err, sizeof(p->err),
	    "CONFIG SET latency-monitor-threshold %s", v);

	freeReplyObject(r);
	return (r != NULL ? 0 : -1);
}

/* pat_measure runs the phases; 0, or -1 and p->err. */
static int
pat_measure(pat_run *p)
{
	const ib_opts                            *o = p->o;
	Cachebroker__V1__InvalidatePatternRequest req =
	    CACHEBROKER__V1__INVALIDATE_PATTERN_REQUEST__INIT;
	Cachebroker__V1__InvalidatePatternResponse *resp = NULL;
	cb_callopts co = { .timeout_ms = o->timeout_ms };
	cb_result   res;
	cb_status   st;
	redisReply *r;
	int64_t     n;
	uint64_t    t0;
	int64_t     cpu0[IB_MAX_PIDS];

	t0 = bench_now_ns();
	if (bench_set_many(p->client, o->ns, "k:", 1, o->keys, o->value_size,
	        PAT_TTL_MS, o->batch, p->err, sizeof(p->err)) != 0 ||
	    bench_set_many(p->client, o->keep, "k:", 1, o->keys, o->value_size,
	        PAT_TTL_MS, o->batch, p->err, sizeof(p->err)) != 0) {
		return (-1);
	}
	p->fill_s = (double) (bench_now_ns() - t0) / 1e9;
	if ((n = count_keys(p->data, o->ns, p->err, sizeof(p->err))) !=
	        o->keys ||
	    count_keys(p->data, o->keep, p->err, sizeof(p->err)) != o->keys) {
		if (n >= 0) {
			(void) snprintf(p->err, sizeof(p->err),
			    "after SetMany, %s or %s does not hold %" PRId64
			    " keys",
			    o->ns, o->keep, o->keys);
		}
		return (-1);
	}

	/* Idle: the same loop, nothing else running. */
	r = ib_redis_cmd(p->data, p->err, sizeof(p->err),
	    "CONFIG GET latency-monitor-threshold");
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		freeReplyObject(r);
		return (-1);
	}
	(void) snprintf(p->thr, sizeof(p->thr), "%s", r->element[1]->str);
	freeReplyObject(r);
	if (pat_set_threshold(p, "1") != 0 ||
	    (r = ib_redis_cmd(
	         p->data, p->err, sizeof(p->err), "LATENCY RESET")) == NULL) {
		return (-1);
	}
	freeReplyObject(r);
	if (ping_start(&p->idle) != 0) {
		return (-1);
	}
	sleep_s(o->idle_s);
	ping_stop(&p->idle);
	if (latency_read(p->data, &p->lat_idle, p->err, sizeof(p->err)) != 0 ||
	    (r = ib_redis_cmd(
	         p->data, p->err, sizeof(p->err), "LATENCY RESET")) == NULL) {
		return (-1);
	}
	freeReplyObject(r);

	/* The invalidation, with the loop running; Redis' command statistics
	 * from zero, to tell its SCANs and UNLINKs. */
	if ((r = ib_redis_cmd(p->data, p->err, sizeof(p->err),
	         "CONFIG RESETSTAT")) == NULL) {
		return (-1);
	}
	freeReplyObject(r);
	for (int i = 0; i < o->npids; i++) {
		cpu0[i] = bench_proc_cpu_us(o->pids[i]);
	}
	if (ping_start(&p->run) != 0) {
		return (-1);
	}
	memset(&res, 0, sizeof(res));
	req.namespace_ = (char *) o->ns;
	req.pattern    = "*";
	t0             = bench_now_ns();
	st = cb_cache_invalidate_pattern(p->client, &req, &resp, &co, &res);
	p->wall_s = (double) (bench_now_ns() - t0) / 1e9;
	ping_stop(&p->run);
	for (int i = 0; i < o->npids; i++) {
		int64_t c1   = bench_proc_cpu_us(o->pids[i]);
		p->cpu_us[i] = cpu0[i] >= 0 && c1 >= 0 ? c1 - cpu0[i] : -1;
	}
	if (st != CB_OK) {
		(void) snprintf(p->err, sizeof(p->err),
		    "InvalidatePattern %s *: %s: %s", o->ns,
		    cb_status_str((int) st), res.message);
		return (-1);
	}
	p->deleted = resp->deleted;
	cb_message_free(resp);
	if (latency_read(p->data, &p->lat_run, p->err, sizeof(p->err)) != 0 ||
	    cmdstat(p->data, "scan", &p->scan, p->err, sizeof(p->err)) != 0 ||
	    cmdstat(p->data, "unlink", &p->unlink, p->err, sizeof(p->err)) !=
	        0 ||
	    (p->left = count_keys(p->data, o->ns, p->err, sizeof(p->err))) <
	        0 ||
	    (p->kept = count_keys(p->data, o->keep, p->err, sizeof(p->err))) <
	        0) {
		return (-1);
	}
	if (p->deleted != (uint64_t) o->keys || p->left != 0 ||
	    p->kept != o->keys) {
		(void) snprintf(p->err, sizeof(p->err),
		    "deleted %" PRIu64 ", %" PRId64
		    " keys of %s left, %" PRId64 " of %s kept (want %" PRId64
		    ", 0, %" PRId64 ")",
		    p->deleted, p->left, o->ns, p->kept, o->keep, o->keys,
		    o->keys);
		return (-1);
	}
	return (0);
}

int
ib_pattern_run(const ib_opts *o)
{
	pat_run  run = { .o = o, .left = -1, .kept = -1 };
	pat_run *p   = &run; /* two histograms: 70 KB of stack */
	int      rv;
	int      code = 1;

	p->idle.gap_us = o->ping_gap_us;
	p->run.gap_us  = o->ping_gap_us;
	if (bench_client_open(&p->client, o->url, o->timeout_ms) != 0 ||
	    ib_redis_open(o->redis, &p->data) != 0 ||
	    ib_redis_open(o->redis, &p->idle.rc) != 0) {
		goto out;
	}
	p->run.rc = p->idle.rc; /* one phase after the other */
	rv        = pat_measure(p);
	if (rv == 0 && (p->idle.err[0] != '\0' || p->run.err[0] != '\0')) {
		memcpy(p->err,
		    p->idle.err[0] != '\0' ? p->idle.err : p->run.err,
		    sizeof(p->err));
		rv = -1;
	}
	if (p->thr[0] != '\0') {
		char keep[IB_ERR_MAX];

		memcpy(keep, p->err, sizeof(keep));
		(void) pat_set_threshold(p, p->thr);
		memcpy(p->err, keep, sizeof(keep));
	}
	printf("row=%s keys=%" PRId64 " errors=%d deleted=%" PRIu64
	       " wall_us=%.1f keys_per_s=%.1f fill_s=%.3f left=%" PRId64
	       " kept=%" PRId64,
	    o->label, o->keys, rv != 0, p->deleted, p->wall_s * 1e6,
	    p->wall_s > 0 ? (double) p->deleted / p->wall_s : 0.0, p->fill_s,
	    p->left, p->kept);
	print_pings("ping_idle", &p->idle.hist);
	print_pings("ping", &p->run.hist);
	printf(" lat_idle_max_ms=%lld lat_idle_events=%s lat_max_ms=%lld "
	       "lat_events=%s",
	    p->lat_idle.max_ms,
	    p->lat_idle.events[0] ? p->lat_idle.events : "-",
	    p->lat_run.max_ms, p->lat_run.events[0] ? p->lat_run.events : "-");
	printf(
	    " scan_calls=%lld scan_ms=%.1f unlink_calls=%lld unlink_ms=%.1f",
	    p->scan.calls, (double) p->scan.usec / 1e3, p->unlink.calls,
	    (double) p->unlink.usec / 1e3);
	for (int i = 0; i < o->npids; i++) {
		printf(" cpu_ms_%s=%.1f", o->pid_names[i],
		    (double) p->cpu_us[i] / 1e3);
	}
	printf("\n");
	(void) fflush(stdout);
	code = 0;
	if (rv != 0) {
		fprintf(stderr, "cb_inval_bench: *** %s: %s ***\n", o->label,
		    p->err);
		code = 2;
	}
out:
	if (p->data != NULL) {
		redisFree(p->data);
	}
	if (p->idle.rc != NULL) {
		redisFree(p->idle.rc);
	}
	cb_client_close(p->client);
	return (code);
}

/* SPDX-License-Identifier: MIT */
/* Keeps IPC listeners accepting: probes them and re-creates a dead one. */
#include "ipcguard.h"

#include <dirent.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"

/* The header's periods in microseconds, as the cron compares them. */
#define PERIOD_US ((uint64_t) CBD_IPCGUARD_PERIOD_MS * 1000)
#define TIMEOUT_US ((uint64_t) CBD_IPCGUARD_TIMEOUT_MS * 1000)

/*
 *   cron (loop thread)                    nng thread
 *   ------------------                    ----------
 *   idle, period over: nng_dial(probe) ─► SP handshake with our listener;
 *                                         the owner socket adds the pipe:
 *                                         ADD_POST from that listener →
 *                                         alive = 1
 *   alive: close the dialer; idle
 *   TIMEOUT_MS without alive: close the dialer, close the listener,
 *   create it again on the same URL; idle
 */

typedef struct watch {
	nng_socket    owner;    /* the listener's socket */
	nng_listener *lp;       /* the caller's listener slot */
	char         *url;      /* ipc://... */
	int           ipc_mode; /* for the re-created socket file */
	nng_socket    probe;    /* peer-protocol socket dialling url */
	nng_dialer    dialer;   /* the probe's dial in progress */
	int           dialing;  /* a probe is out */
	uint64_t      due_us;   /* next probe; or its deadline, dialing */
	atomic_uint   lid;      /* *lp's id, for the nng thread */
	atomic_int    alive;    /* a pipe came in through *lp */
	atomic_int    probe_up; /* the probe's own handshake is done */
	uint64_t      dial_us;  /* when the probe's dial started */
} watch;

/*
 * A descriptor of a closed listener that nng 1.5 may never close. Why:
 * once a listener lost its accept (#1518), connections that finish the
 * handshake wait on its endpoint for an accept that never comes; closing
 * the listener shuts their sockets and its listening socket down, but
 * only frees them when the endpoint's last connection is freed, and a
 * waiting one never is (it has no operation pending to fail). So the
 * listening socket and each waiting connection stay open for good: 2-3
 * descriptors per restart. Every other connection of the endpoint is
 * freed at once when it closes; so a descriptor that still refers to
 * the same socket ORPHAN_US after the close is one nng abandoned, and
 * nng will never touch it again (it was shut down and removed from its
 * poller at the close): the guard closes it.
 */
typedef struct orphan {
	int      fd;  /* the descriptor, as seen before the close */
	dev_t    dev; /* and its socket's identity */
	ino_t    ino;
	uint64_t due_us; /* when to look again */
} orphan;

#define ORPHAN_US ((uint64_t) CBD_IPCGUARD_ORPHAN_MS * 1000)

struct cbd_ipcguard {
	watch   *w;         /* the watched listeners */
	size_t   n;         /* how many */
	uint64_t restarts;  /* listeners re-created */
	orphan  *orphans;   /* descriptors to look at again */
	size_t   n_orphans; /* how many */
	uint64_t reclaimed; /* descriptors closed for nng */
};

cb_status
cbd_ipcguard_alloc(cbd_ipcguard **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	return CB_OK;
}

/* probe_added runs on an nng thread when the probe's own handshake is
 * done: only then may its dialer be closed, since a peer that leaves
 * mid-handshake is what makes nng lose a listener. */
static void
probe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	watch *w = arg;

	(void) p;
	(void) ev;
	atomic_store(&w->probe_up, 1);
}

/*
 * pipe_added runs on an nng thread when an owner socket added a pipe.
 * The probe's side of the handshake is no proof: a broken listener still
 * completes handshakes, it just never hands the pipes to its socket. The
 * owner's notification is. Any client's pipe through the listener counts.
 */
static void
pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void) ev;
	cbd_ipcguard_seen(arg, nng_pipe_listener(p).id);
}

void
cbd_ipcguard_seen(void *arg, uint32_t lid)
{
	cbd_ipcguard *g = arg;

	for (size_t i = 0; i < g->n; i++) {
		if (atomic_load(&g->w[i].lid) == lid) {
			atomic_store(&g->w[i].alive, 1);
		}
	}
}

cb_status
cbd_ipcguard_watch(cbd_ipcguard *g, nng_socket owner, nng_listener *lp,
    const char *url, int ipc_mode, cbd_ipcguard_open_fn *open_peer)
{
	watch *grown;
	watch *w;
	int    rv;

	if (strncmp(url, "ipc://", 6) != 0) {
		return CB_OK;
	}
	/* Watches are few (one per IPC listener); the array may move until
	 * the loop runs, so the pipe callbacks are set by the first cron. */
	if ((grown = realloc(g->w, (g->n + 1) * sizeof(*g->w))) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	g->w = grown;
	w    = &g->w[g->n];
	memset(w, 0, sizeof(*w));
	w->owner    = owner;
	w->lp       = lp;
	w->ipc_mode = ipc_mode;
	atomic_init(&w->alive, 0);
	atomic_init(&w->probe_up, 0);
	atomic_init(&w->lid, lp->id);
	if ((w->url = strdup(url)) == NULL) {
		return CB_RESOURCE_EXHAUSTED;
	}
	if ((rv = open_peer(&w->probe)) != 0) {
		cbd_log_error(
		    "ipcguard: cannot open a probe socket for %s: %s", url,
		    nng_strerror(rv));
		free(w->url);
		return CB_INTERNAL;
	}
	g->n++;
	return CB_OK;
}

/*
 * orphans_note records every socket of this process bound to path (the
 * lost listener's socket and its connections), before it is closed.
 * Main thread.
 */
static void
orphans_note(cbd_ipcguard *g, const char *path, uint64_t now_us)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct sockaddr_un sa  = { 0 };
		socklen_t          len = sizeof(sa);
		struct stat        st;
		orphan            *grown;
		char              *end;
		long               fd = strtol(e->d_name, &end, 10);

		if (*end != '\0' || e->d_name[0] == '\0' || fd == dirfd(d) ||
		    fstat((int) fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
		    getsockname((int) fd, (struct sockaddr *) &sa, &len) !=
		        0 ||
		    sa.sun_family != AF_UNIX ||
		    len <= offsetof(struct sockaddr_un, sun_path) ||
		    strncmp(sa.sun_path, path, sizeof(sa.sun_path)) != 0) {
			continue;
		}
		grown = realloc(
		    g->orphans, (g->n_orphans + 1) * sizeof(*g->orphans));
		if (grown == NULL) {
			break;
		}
		g->orphans                 = grown;
		g->orphans[g->n_orphans++] = (orphan) { .fd = (int) fd,
			.dev                                = st.st_dev,
			.ino                                = st.st_ino,
			.due_us = now_us + ORPHAN_US };
	}
	closedir(d);
}

/* orphans_reap closes the noted descriptors still open on their socket
 * once their time is up. */
static void
orphans_reap(cbd_ipcguard *g, uint64_t now_us)
{
	size_t kept   = 0;
	size_t closed = 0;

	for (size_t i = 0; i < g->n_orphans; i++) {
		orphan     *o = &g->orphans[i];
		struct stat st;

		if (now_us < o->due_us) {
			g->orphans[kept++] = *o;
			continue;
		}
		/* Closed by nng meanwhile, maybe reused: not ours. */
		if (fstat(o->fd, &st) == 0 && st.st_dev == o->dev &&
		    st.st_ino == o->ino) {
			(void) close(o->fd);
			closed++;
		}
	}
	g->n_orphans = kept;
	if (closed > 0) {
		g->reclaimed += closed;
		cbd_log_info("ipcguard: closed %zu descriptors nng left open "
		             "for a lost IPC listener",
		    closed);
	}
}

/* restart closes the dead listener and creates it again. */
static void
restart(cbd_ipcguard *g, watch *w, uint64_t now_us)
{
	cbd_log_warning("ipcguard: %s accepts no connections (nng 1.5 loses "
	                "an IPC listener when a peer leaves during the "
	                "handshake); re-creating it",
	    w->url);
	orphans_note(g, w->url + 6, now_us);
	(void) nng_listener_close(*w->lp);
	if (cbd_listener_listen(w->owner, w->url, w->ipc_mode, NULL, w->lp) !=
	    CB_OK) {
		/* Logged there; the next probe tries again. */
		return;
	}
	atomic_store(&w->lid, w->lp->id);
	g->restarts++;
}

void
cbd_ipcguard_cron(cbd_ipcguard *g, uint64_t now_us)
{
	if (g == NULL) {
		return;
	}
	orphans_reap(g, now_us);
	for (size_t i = 0; i < g->n; i++) {
		watch *w = &g->w[i];

		if (w->due_us == 0) {
			/* First run: the watches no longer move. One
			 * callback per socket (a later one replaces it),
			 * and every owner gets the same. */
			(void) nng_pipe_notify(
			    w->owner, NNG_PIPE_EV_ADD_POST, pipe_added, g);
			(void) nng_pipe_notify(
			    w->probe, NNG_PIPE_EV_ADD_POST, probe_added, w);
			w->due_us = now_us + PERIOD_US;
			continue;
		}
		if (!w->dialing) {
			if (now_us < w->due_us) {
				continue;
			}
			atomic_store(&w->alive, 0);
			atomic_store(&w->probe_up, 0);
			w->dial_us = now_us;
			if (nng_dial(w->probe, w->url, &w->dialer,
			        NNG_FLAG_NONBLOCK) != 0) {
				w->due_us = now_us + PERIOD_US;
				continue;
			}
			w->dialing = 1;
			w->due_us  = now_us + TIMEOUT_US;
			continue;
		}
		if (atomic_load(&w->alive)) {
			/* Another client's pipe may prove the listener alive
			 * first: the probe's own handshake must still end
			 * before its dialer closes (a cap, in case it never
			 * does). */
			if (!atomic_load(&w->probe_up) &&
			    now_us - w->dial_us < 5 * TIMEOUT_US) {
				continue;
			}
			(void) nng_dialer_close(w->dialer);
			w->dialing = 0;
			w->due_us  = now_us + PERIOD_US;
		} else if (now_us >= w->due_us) {
			(void) nng_dialer_close(w->dialer);
			w->dialing = 0;
			restart(g, w, now_us);
			w->due_us = now_us + PERIOD_US;
		}
	}
}

uint64_t
cbd_ipcguard_restarts(const cbd_ipcguard *g)
{
	return g != NULL ? g->restarts : 0;
}

void
cbd_ipcguard_free(cbd_ipcguard *g)
{
	if (g == NULL) {
		return;
	}
	for (size_t i = 0; i < g->n; i++) {
		(void) nng_close(g->w[i].probe);
		free(g->w[i].url);
	}
	free(g->w);
	free(g->orphans);
	free(g);
}

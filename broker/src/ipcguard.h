/* SPDX-License-Identifier: MIT */
/* Keeps IPC listeners accepting: probes them and re-creates a dead one. */
#ifndef CBD_IPCGUARD_H
#define CBD_IPCGUARD_H

#include <stdint.h>

#include <nng/nng.h>

#include <cachebroker/cachebroker.h>

/*
 * Why: in nng 1.5 (the version Debian 12 ships), a peer that closes an IPC
 * connection before the SP handshake is done makes the listener stop
 * accepting for good (nng issue #1518, fixed in 1.6): every later client
 * of that socket file times out, while the connections already made keep
 * working. Any client that connects and exits at once can trigger it.
 *
 * The guard dials each IPC listener from inside the broker every
 * CBD_IPCGUARD_PERIOD_MS with a socket of the peer protocol. A handshake
 * that completes proves the listener alive; one that does not within
 * CBD_IPCGUARD_TIMEOUT_MS gets the listener closed and created again on
 * the same URL (its established connections go with it; their clients
 * redial). Each such restart is logged as a warning and counted.
 */
#define CBD_IPCGUARD_PERIOD_MS 2000
#define CBD_IPCGUARD_TIMEOUT_MS 2000

/*
 * nng 1.5 leaves a lost listener's listening socket and the connections
 * waiting on it open after the close (see orphan in ipcguard.c): the
 * guard closes those still open this long after the listener closed.
 */
#define CBD_IPCGUARD_ORPHAN_MS 10000

typedef struct cbd_ipcguard cbd_ipcguard;

/* The protocol of the probe's socket: the peer of the listener's. */
typedef int cbd_ipcguard_open_fn(nng_socket *probe);

/* cbd_ipcguard_alloc creates an empty guard. Main thread. */
CB_NODISCARD cb_status cbd_ipcguard_alloc(cbd_ipcguard **out);

/*
 * cbd_ipcguard_watch adds the listener *lp of owner on url (ignored unless
 * url is ipc://) to the guard; the guard replaces *lp when it re-creates
 * the listener (with ipc_mode), so *lp must live as long as the guard.
 * open_peer opens the probe's socket. Main thread, before the loop runs.
 */
CB_NODISCARD cb_status cbd_ipcguard_watch(cbd_ipcguard *g, nng_socket owner,
    nng_listener *lp, const char *url, int ipc_mode,
    cbd_ipcguard_open_fn *open_peer);

/* cbd_ipcguard_cron starts and checks probes. Loop thread (cron). */
void cbd_ipcguard_cron(cbd_ipcguard *g, uint64_t now_us);

/* cbd_ipcguard_seen says that listener lid handed a connection to its
 * socket (even one then refused): it is alive. g is a cbd_ipcguard. nng's
 * thread; any time after the last cbd_ipcguard_watch. */
void cbd_ipcguard_seen(void *g, uint32_t lid);

/* cbd_ipcguard_restarts counts listeners re-created so far. */
uint64_t cbd_ipcguard_restarts(const cbd_ipcguard *g);

/* cbd_ipcguard_free closes the probes; call it before the owners' sockets
 * close. NULL-safe. Main thread. */
void cbd_ipcguard_free(cbd_ipcguard *g);

#endif /* CBD_IPCGUARD_H */

/* SPDX-License-Identifier: MIT */
/* systemd's notification protocol: READY, RELOADING, STATUS, WATCHDOG,
 * STOPPING. */
#ifndef CBD_SDNOTIFY_H
#define CBD_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/*
 * What the service manager is told, through libsystemd's sd_notify (one
 * datagram to $NOTIFY_SOCKET). Without NOTIFY_SOCKET every function is a
 * no-op. All run on the loop thread. A failed send is logged once and
 * otherwise ignored.
 */
typedef struct cbd_sdnotify {
	bool     enabled;        /* NOTIFY_SOCKET is set */
	uint64_t watchdog_us;    /* half of WATCHDOG_USEC; 0: no watchdog */
	uint64_t last_ping_us;   /* when WATCHDOG=1 was last sent */
	uint64_t last_status_us; /* when STATUS= was last sent */
	char     status[192];    /* the STATUS= text last sent */
	bool     failed;         /* a send failed (logged once) */
} cbd_sdnotify;

/* cbd_sdnotify_init reads NOTIFY_SOCKET and WATCHDOG_USEC (and
 * WATCHDOG_PID) into sd, the caller's storage. Main thread, at start. */
void cbd_sdnotify_init(cbd_sdnotify *sd);

/* cbd_sdnotify_ready sends READY=1 with status as STATUS=. */
void cbd_sdnotify_ready(cbd_sdnotify *sd, const char *status);

/* cbd_sdnotify_reloading sends RELOADING=1 with MONOTONIC_USEC= (which
 * systemd 253 and later want with it) and status as STATUS=. READY=1
 * (cbd_sdnotify_ready) says the reload is over. */
void cbd_sdnotify_reloading(cbd_sdnotify *sd, const char *status);

/* cbd_sdnotify_stopping sends STOPPING=1 with status as STATUS=. */
void cbd_sdnotify_stopping(cbd_sdnotify *sd, const char *status);

/*
 * cbd_sdnotify_cron sends WATCHDOG=1 when half the watchdog period is
 * (about to be) over. cron_us is the caller's period: a ping is sent at
 * the tick nearest its due time rather than a whole tick late.
 */
void cbd_sdnotify_cron(cbd_sdnotify *sd, uint64_t now_us, uint64_t cron_us);

/* cbd_sdnotify_status_due says whether a STATUS= update may go out (one
 * per second at most), so that callers format it only then. */
bool cbd_sdnotify_status_due(const cbd_sdnotify *sd, uint64_t now_us);

/* cbd_sdnotify_status sends STATUS=status if it differs from the last one
 * sent. Borrows status. */
void cbd_sdnotify_status(
    cbd_sdnotify *sd, uint64_t now_us, const char *status);

#endif /* CBD_SDNOTIFY_H */

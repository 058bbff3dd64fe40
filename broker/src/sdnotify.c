/* SPDX-License-Identifier: MIT */
/* systemd's notification protocol: READY, RELOADING, STATUS, WATCHDOG,
 * STOPPING. */
#include "sdnotify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "loop.h"

/* At most one STATUS= per this long: the cron would otherwise send one
 * every 100 ms while the in-flight count moves. */
#define STATUS_EVERY_US 1000000u

static void
sdnotify_send(cbd_sdnotify *sd, const char *text)
{
	int rv = sd_notify(0, text);

	if (rv < 0 && !sd->failed) {
		/* Logged once: a vanished manager would otherwise flood the
		 * log from the watchdog. */
		sd->failed = true;
		cbd_log_warning("sd_notify: %s", strerror(-rv));
	}
}

/* Sends "<state>\nSTATUS=<status>" and remembers status as the last. */
static void
sdnotify_state(cbd_sdnotify *sd, const char *state, const char *status)
{
	char text[sizeof(sd->status) + 64];

	if (!sd->enabled) {
		return;
	}
	snprintf(text, sizeof(text), "%s\nSTATUS=%s", state, status);
	snprintf(sd->status, sizeof(sd->status), "%s", status);
	sd->last_status_us = cbd_now_us();
	sdnotify_send(sd, text);
}

void
cbd_sdnotify_init(cbd_sdnotify *sd)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	uint64_t    usec = 0;

	memset(sd, 0, sizeof(*sd));
	sd->enabled = sock != NULL && sock[0] != '\0';
	if (!sd->enabled) {
		return;
	}
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is
	 * this process. systemd's advice: ping at half the period. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		sd->watchdog_us  = usec / 2;
		sd->last_ping_us = cbd_now_us();
	}
}

void
cbd_sdnotify_ready(cbd_sdnotify *sd, const char *status)
{
	sdnotify_state(sd, "READY=1", status);
}

void
cbd_sdnotify_reloading(cbd_sdnotify *sd, const char *status)
{
	char state[64];

	/* The same clock as systemd's: CLOCK_MONOTONIC. */
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long) cbd_now_us());
	sdnotify_state(sd, state, status);
}

void
cbd_sdnotify_stopping(cbd_sdnotify *sd, const char *status)
{
	sdnotify_state(sd, "STOPPING=1", status);
}

void
cbd_sdnotify_cron(cbd_sdnotify *sd, uint64_t now_us, uint64_t cron_us)
{
	if (!sd->enabled || sd->watchdog_us == 0) {
		return;
	}
	/* Due within half a tick: send now, or the next tick is late. */
	if (now_us + cron_us / 2 >= sd->last_ping_us + sd->watchdog_us) {
		sd->last_ping_us = now_us;
		sdnotify_send(sd, "WATCHDOG=1");
	}
}

bool
cbd_sdnotify_status_due(const cbd_sdnotify *sd, uint64_t now_us)
{
	return (sd->enabled && now_us - sd->last_status_us >= STATUS_EVERY_US);
}

void
cbd_sdnotify_status(cbd_sdnotify *sd, uint64_t now_us, const char *status)
{
	char text[sizeof(sd->status) + 8];

	if (!sd->enabled) {
		return;
	}
	/* Checked once a second whether it changed or not: a change shows
	 * within a second, and the caller formats once a second. */
	sd->last_status_us = now_us;
	if (strncmp(status, sd->status, sizeof(sd->status) - 1) == 0) {
		return;
	}
	snprintf(sd->status, sizeof(sd->status), "%s", status);
	snprintf(text, sizeof(text), "STATUS=%s", sd->status);
	sdnotify_send(sd, text);
}

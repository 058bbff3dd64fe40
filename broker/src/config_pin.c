/* SPDX-License-Identifier: MIT */
/* Reload pinning: what a running broker cannot take on keeps its running
 * value; the split of a configuration into settings and sections. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "str.h"

/* Settings a running broker cannot take on: its sockets, its tables and
 * its backend connections are made from them once, at start. */
static const char *const restart_only[] = {
	"broker listen",
	"broker ipc_mode",
	"broker feed",
	"broker http",
	"broker tls_cert",
	"broker tls_key",
	"broker tls_key_password",
	"broker tls_ca",
	"broker tls_client_auth",
	"broker contexts",
	"broker max_message_size",
	"broker max_connections",
	"broker max_connection_requests",
	"broker max_connection_reply_bytes",
	"broker dedupe_window",
	"broker dedupe_entries",
	"broker l1_size",
	"broker l1_max_ttl",
	"broker l1_tracking",
	"redis *",
	"database conninfo",
	"database connections",
	"database connect_timeout",
	"database notify_channel",
};

static int
is_restart_only(const config_key *k)
{
	size_t sl = strlen(k->section);

	for (size_t i = 0; i < sizeof(restart_only) / sizeof(*restart_only);
	     i++) {
		const char *r = restart_only[i];
		if (strncmp(r, k->section, sl) == 0 && r[sl] == ' ' &&
		    (strcmp(r + sl + 1, "*") == 0 ||
		        strcmp(r + sl + 1, k->name) == 0)) {
			return 1;
		}
	}
	return 0;
}

/* pin_listeners gives next running's listeners; 1 if they differed. */
static int
pin_listeners(cbd_config *next, const cbd_config *running, int *oom)
{
	cbd_errors errs   = { 0 };
	int        differ = next->n_listen != running->n_listen;

	for (size_t i = 0; !differ && i < next->n_listen; i++) {
		differ = strcmp(next->listen[i], running->listen[i]) != 0;
	}
	/* The running URLs were checked: only memory can fail here. */
	if (differ &&
	    cbd_config_set_listeners(
	        next, running->listen, running->n_listen, &errs) != CB_OK) {
		*oom = 1;
	}
	cbd_errors_fini(&errs);
	next->listen_cli = running->listen_cli;
	/* The -l list replaces the file's: a change there is no change. */
	return differ && !running->listen_cli;
}

/* pin_value gives next running's value of k; 1 if they differed. */
static int
pin_value(
    cbd_config *next, const cbd_config *running, const config_key *k, int *oom)
{
	char       *to   = (char *) next + k->off;
	const char *from = (const char *) running + k->off;
	size_t      size = 0;

	switch (k->type) {
	case K_LISTEN:
		return pin_listeners(next, running, oom);
	case K_STR:
	case K_URL:
	case K_HTTP:
		if (strcmp(*(char **) (void *) to,
		        *(char *const *) (const void *) from) == 0) {
			return 0;
		}
		if (cbd_strset((char **) (void *) to,
		        *(char *const *) (const void *) from) != 0) {
			*oom = 1;
		}
		return 1;
	case K_UINT32:
		size = sizeof(uint32_t);
		break;
	case K_INT:
	case K_MODE:
	case K_LOGLEVEL:
	case K_FAILOPEN:
	case K_TLSAUTH:
	case K_TRACKING:
		size = sizeof(int);
		break;
	case K_DURATION:
		size = sizeof(uint64_t);
		break;
	case K_SIZE:
		size = sizeof(size_t);
		break;
	}
	if (memcmp(to, from, size) == 0) {
		return 0;
	}
	memcpy(to, from, size);
	return 1;
}

/* namespaces_differ says whether a and b set their namespaces apart. */
static int
namespaces_differ(const cbd_config *a, const cbd_config *b)
{
	if (a->n_namespaces != b->n_namespaces) {
		return 1;
	}
	for (size_t i = 0; i < a->n_namespaces; i++) {
		const cbd_nsconf *x = &a->namespaces[i];
		const cbd_nsconf *y = cbd_config_namespace(b, x->name);
		if (y == NULL || x->l1 != y->l1 ||
		    x->l1_max_ttl_ms != y->l1_max_ttl_ms) {
			return 1;
		}
	}
	return 0;
}

void
cbd_config_pin(cbd_config *next, const cbd_config *running, cbd_errors *notes,
    cbd_errors *errs)
{
	const char *f   = next->path;
	int         oom = 0;

	for (size_t i = 0; i < CBD_CONFIG_N_KEYS; i++) {
		const config_key *k = &cbd_config_keys[i];
		if (is_restart_only(k) && pin_value(next, running, k, &oom)) {
			cbd_errors_add(notes, f, 0,
			    "[%s] %s: changed; restart to apply", k->section,
			    k->name);
		}
	}
	if (namespaces_differ(next, running)) {
		cbd_errors_add(notes, f, 0,
		    "[namespace] sections: changed; restart to apply");
	}
	if (next->db.enabled != running->db.enabled) {
		cbd_errors_add(notes, f, 0, "[database]: %s; restart to apply",
		    next->db.enabled ? "added" : "removed");
		next->db.enabled = running->db.enabled;
	}
	if (oom) {
		cbd_errors_add(errs, f, 0, "out of memory");
	}
	/* What config_check saw with the file's values, again with the
	 * running ones. */
	if (next->max_value_size + next->max_key_size >
	    next->max_message_size) {
		cbd_errors_add(errs, f, 0,
		    "max_value_size plus max_key_size exceed max_message_size "
		    "in effect (%zu; it changes only with a restart)",
		    next->max_message_size);
	}
	if (next->n_resources > 0 && !next->db.enabled) {
		cbd_errors_add(errs, f, next->resources[0].line,
		    "resources need a [database] section, and the broker "
		    "runs without one (it is added only with a restart)");
	}
}

int
cbd_config_split(cbd_config *cfg, cbd_config *out)
{
	cbd_config c = *cfg;
	int        failed;

	/* Strings first, with nothing shared: a failure frees only them. */
	c.resources   = NULL;
	c.n_resources = 0;
	c.events      = NULL;
	c.n_events    = 0;
	c.warms       = NULL;
	c.n_warms     = 0;
	c.n_listen    = 0;
	/* The namespaces stay with the settings: the L1 reads them on
	 * nng's threads, for the server's life. */
	c.namespaces   = NULL;
	c.n_namespaces = 0;
	failed         = (c.path = strdup(cfg->path)) == NULL;
	for (size_t i = 0; !failed && i < cfg->n_listen; i++) {
		failed = (c.listen[i] = strdup(cfg->listen[i])) == NULL;
		c.n_listen += !failed;
	}
	for (size_t i = 0; i < CBD_CONFIG_N_KEYS; i++) {
		const config_key *k = &cbd_config_keys[i];
		char            **slot;
		if (k->type != K_STR && k->type != K_URL &&
		    k->type != K_HTTP) {
			continue;
		}
		slot  = (char **) (void *) ((char *) &c + k->off);
		*slot = failed ? NULL : strdup(*slot);
		failed |= *slot == NULL;
	}
	if (failed) {
		cbd_config_fini(&c);
		return -1;
	}
	c.resources      = cfg->resources;
	c.n_resources    = cfg->n_resources;
	c.events         = cfg->events;
	c.n_events       = cfg->n_events;
	c.warms          = cfg->warms;
	c.n_warms        = cfg->n_warms;
	cfg->resources   = NULL;
	cfg->n_resources = 0;
	cfg->events      = NULL;
	cfg->n_events    = 0;
	cfg->warms       = NULL;
	cfg->n_warms     = 0;
	*out             = c;
	return 0;
}

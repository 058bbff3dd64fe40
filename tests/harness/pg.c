/* SPDX-License-Identifier: MIT */
/* PostgreSQL for tests: initdb and pg_ctl into a temporary directory. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

#define PG_CMD_MS 60000 /* initdb, pg_ctl start (it waits itself) */
#define PG_USER "postgres"

struct cbh_pg {
	char  bindir[512]; /* from pg_config --bindir */
	char *dir;         /* our temporary directory (socket, logs) */
	char *data;        /* dir/data: the cluster */
	char *log;         /* dir/tools.log: initdb's and pg_ctl's output */
	char *srvlog;      /* dir/server.log: the server's own (pg_ctl -l) */
	int   port;        /* on 127.0.0.1 */
	bool  running;     /* pg_ctl start succeeded, no stop yet */
	char  conninfo[256];
};

static bool
pg_bindir(char *out, size_t size)
{
	FILE  *p;
	size_t n;

	if ((p = popen("pg_config --bindir 2>/dev/null", "r")) == NULL) {
		return (false);
	}
	n = fread(out, 1, size - 1, p);
	if (pclose(p) != 0 || n == 0) {
		return (false);
	}
	out[n]                  = '\0';
	out[strcspn(out, "\n")] = '\0';
	return (true);
}

static bool
pg_has_tools(const char *bindir)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/initdb", bindir);
	if (access(path, X_OK) != 0) {
		return (false);
	}
	snprintf(path, sizeof(path), "%s/pg_ctl", bindir);
	return (access(path, X_OK) == 0);
}

bool
cbh_pg_available(void)
{
	char bindir[512];

	if (!pg_bindir(bindir, sizeof(bindir)) || !pg_has_tools(bindir)) {
		return (false);
	}
	return (geteuid() != 0 || getpwnam(PG_USER) != NULL);
}

/*
 * pg_run runs one of PostgreSQL's tools to its end, as the postgres user
 * when we are root (PostgreSQL refuses to run as root), its output
 * appended to p->log. args are after the tool's name.
 */
static int
pg_run(cbh_pg *p, const char *tool, const char *const *args)
{
	const char *argv[32];
	size_t      argc = 0;
	char        path[600];
	char        st[64];
	cbh_spawn   sp;
	pid_t       pid;
	int         status;

	snprintf(path, sizeof(path), "%s/%s", p->bindir, tool);
	if (geteuid() == 0) {
		argv[argc++] = "/usr/sbin/runuser";
		argv[argc++] = "-u";
		argv[argc++] = PG_USER;
		argv[argc++] = "--";
	}
	argv[argc++] = path;
	for (; *args != NULL && argc + 1 < sizeof(argv) / sizeof(argv[0]);
	     args++) {
		argv[argc++] = *args;
	}
	argv[argc] = NULL;
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.out  = p->log;
	sp.err  = p->log;
	sp.cwd  = p->dir;
	if (cbh_proc_spawn(&pid, &sp) != 0) {
		return (-1);
	}
	if (cbh_proc_wait(pid, PG_CMD_MS, &status) != 0) {
		cbh_log("%s did not finish in %d ms", tool, PG_CMD_MS);
		if (cbh_proc_stop(pid, SIGKILL, 5000, &status) != 0) {
			cbh_log("%s could not be reaped", tool);
		}
		cbh_file_print("PostgreSQL tools' log", p->log);
		return (-1);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cbh_log("%s failed: %s", tool,
		    cbh_status_str(status, st, sizeof(st)));
		cbh_file_print("PostgreSQL tools' log", p->log);
		if (p->srvlog != NULL && access(p->srvlog, R_OK) == 0) {
			cbh_file_print("PostgreSQL server log", p->srvlog);
		}
		return (-1);
	}
	return (0);
}

static int
pg_ctl_start(cbh_pg *p)
{
	char        opts[512];
	const char *args[] = { "-D", p->data, "-l", p->srvlog, "-o", opts,
		"-w", "-t", "60", "start", NULL };

	snprintf(opts, sizeof(opts),
	    "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
	    "-c full_page_writes=off",
	    p->port, p->dir);
	if (pg_run(p, "pg_ctl", args) != 0) {
		return (-1);
	}
	p->running = true;
	return (0);
}

/*
 * open_path lets other users traverse dir (a temporary directory of the
 * tests, mode 0700 from mkdtemp) when it is an ancestor of path.
 */
static int
open_path(const char *dir, const char *path)
{
	struct stat st;
	size_t      n;

	if (dir == NULL || (n = strlen(dir)) == 0 ||
	    strncmp(dir, path, n) != 0 || path[n] != '/') {
		return (0);
	}
	if (stat(dir, &st) != 0) {
		return (-1);
	}
	if (st.st_uid != geteuid() || (st.st_mode & S_IXOTH) != 0) {
		return (0);
	}
	return (chmod(dir, (st.st_mode & 07777) | S_IXOTH));
}

int
cbh_pg_start(cbh_pg **out)
{
	cbh_pg        *p;
	struct passwd *pw = NULL;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		cbh_log("out of memory");
		return (-1);
	}
	if (!pg_bindir(p->bindir, sizeof(p->bindir)) ||
	    !pg_has_tools(p->bindir)) {
		cbh_log("PostgreSQL is not installed (pg_config --bindir)");
		goto fail;
	}
	if (geteuid() == 0 && (pw = getpwnam(PG_USER)) == NULL) {
		cbh_log("there is no user %s to run PostgreSQL as", PG_USER);
		goto fail;
	}
	if (cbh_tmpdir_create(&p->dir, "pg") != 0) {
		goto fail;
	}
	if (asprintf(&p->data, "%s/data", p->dir) < 0 ||
	    asprintf(&p->log, "%s/tools.log", p->dir) < 0 ||
	    asprintf(&p->srvlog, "%s/server.log", p->dir) < 0) {
		p->data = p->log = p->srvlog = NULL;
		cbh_log("out of memory");
		goto fail;
	}
	/* The postgres user must reach its directory through ours. */
	if (pw != NULL &&
	    (open_path(getenv("CBH_RUN_DIR"), p->dir) != 0 ||
	        open_path(getenv("TMPDIR"), p->dir) != 0 ||
	        chown(p->dir, pw->pw_uid, pw->pw_gid) != 0)) {
		cbh_log("cannot hand %s to %s: %s", p->dir, PG_USER,
		    strerror(errno));
		goto fail;
	}
	{
		const char *args[] = { "-D", p->data, "-U", PG_USER, "-A",
			"trust", "-E", "UTF8", "--no-sync", NULL };
		if (pg_run(p, "initdb", args) != 0) {
			goto fail;
		}
	}
	for (int i = 0; i < 5 && !p->running; i++) {
		if (cbh_free_port(&p->port) != 0) {
			goto fail;
		}
		if (pg_ctl_start(p) != 0) {
			cbh_log(
			    "PostgreSQL did not start on port %d", p->port);
		}
	}
	if (!p->running) {
		goto fail;
	}
	snprintf(p->conninfo, sizeof(p->conninfo),
	    "host=127.0.0.1 port=%d user=%s dbname=postgres", p->port,
	    PG_USER);
	*out = p;
	return (0);
fail:
	cbh_pg_free(p);
	return (-1);
}

int
cbh_pg_stop(cbh_pg *p)
{
	const char *args[] = { "-D", p->data, "-m", "fast", "-w", "-t", "60",
		"stop", NULL };

	if (!p->running) {
		cbh_log("PostgreSQL on port %d is not running", p->port);
		return (-1);
	}
	if (pg_run(p, "pg_ctl", args) != 0) {
		return (-1);
	}
	p->running = false;
	return (0);
}

int
cbh_pg_restart(cbh_pg *p)
{
	if (p->running) {
		cbh_log("PostgreSQL on port %d is still running", p->port);
		return (-1);
	}
	return (pg_ctl_start(p));
}

void
cbh_pg_free(cbh_pg *p)
{
	if (p == NULL) {
		return;
	}
	if (p->running && cbh_pg_stop(p) != 0) {
		const char *args[] = { "-D", p->data, "-m", "immediate",
			"stop", NULL };
		if (pg_run(p, "pg_ctl", args) != 0) {
			cbh_log("PostgreSQL in %s may still run", p->data);
		}
	}
	if (cbh_tmpdir_remove(p->dir) != 0) {
		/* reported; go on */
	}
	free(p->dir);
	free(p->data);
	free(p->log);
	free(p->srvlog);
	free(p);
}

const char *
cbh_pg_conninfo(const cbh_pg *p)
{
	return (p->conninfo);
}

int
cbh_pg_port(const cbh_pg *p)
{
	return (p->port);
}

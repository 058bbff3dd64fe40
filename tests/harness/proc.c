/* SPDX-License-Identifier: MIT */
/* Child processes (fork/exec, reaping, stopping) and free loopback ports. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

/* Polling interval while waiting for a child. */
#define WAIT_STEP_MS 5

static bool
name_matches(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return (strncmp(entry, name, n) == 0 && entry[n] == '=');
}

/*
 * env_build returns a heap array: the parent's environment without the
 * names in unset and without the names that set overrides, then set.
 * The strings themselves are borrowed.
 */
static char **
env_build(const char *const *set, const char *const *unset)
{
	size_t n = 0;
	size_t k = 0;
	char **out;

	for (char **e = environ; *e != NULL; e++) {
		n++;
	}
	for (const char *const *s = set; s != NULL && *s != NULL; s++) {
		n++;
	}
	if ((out = calloc(n + 1, sizeof(*out))) == NULL) {
		return (NULL);
	}
	for (char **e = environ; *e != NULL; e++) {
		bool drop = false;
		for (const char *const *u = unset; u != NULL && *u != NULL;
		     u++) {
			drop = drop || name_matches(*e, *u);
		}
		for (const char *const *s = set; s != NULL && *s != NULL;
		     s++) {
			const char *eq  = strchr(*s, '=');
			size_t      len = eq != NULL ? (size_t) (eq - *s) : 0;
			drop            = drop ||
			    (len > 0 && strncmp(*e, *s, len) == 0 &&
			        (*e)[len] == '=');
		}
		if (!drop) {
			out[k++] = *e;
		}
	}
	for (const char *const *s = set; s != NULL && *s != NULL; s++) {
		out[k++] = (char *) *s;
	}
	out[k] = NULL;
	return (out);
}

/*
 * child_exec runs in the forked child: only async-signal-safe calls here,
 * since the parent may have other threads (nng's) that held locks.
 */
static void
child_exec(const cbh_spawn *sp, char **envp, pid_t parent)
{
	int fd;

	/* Die with the parent: no server outlives a crashed test. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
		_exit(126);
	}
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	{
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	if ((fd = open("/dev/null", O_RDONLY)) < 0 || dup2(fd, 0) < 0) {
		_exit(126);
	}
	fd = sp->out != NULL
	    ? open(sp->out, O_WRONLY | O_CREAT | O_APPEND, 0644)
	    : open("/dev/null", O_WRONLY);
	if (fd < 0 || dup2(fd, 1) < 0) {
		_exit(126);
	}
	fd = sp->err != NULL
	    ? open(sp->err, O_WRONLY | O_CREAT | O_APPEND, 0644)
	    : open("/dev/null", O_WRONLY);
	if (fd < 0 || dup2(fd, 2) < 0) {
		_exit(126);
	}
	/* Sockets and pipes of the test process stay with it. */
	for (fd = 3; fd < 1024; fd++) {
		close(fd);
	}
	if (sp->cwd != NULL && chdir(sp->cwd) != 0) {
		_exit(126);
	}
	execve(sp->argv[0], (char *const *) sp->argv, envp);
	_exit(127);
}

int
cbh_proc_spawn(pid_t *pid, const cbh_spawn *sp)
{
	char **envp;
	pid_t  parent = getpid();
	pid_t  child;

	if (access(sp->argv[0], X_OK) != 0) {
		cbh_log("cannot run %s: %s", sp->argv[0], strerror(errno));
		return (-1);
	}
	if ((envp = env_build(sp->env, sp->unset)) == NULL) {
		cbh_log("out of memory");
		return (-1);
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		cbh_log("fork: %s", strerror(errno));
		free(envp);
		return (-1);
	}
	if (child == 0) {
		child_exec(sp, envp, parent);
	}
	free(envp);
	*pid = child;
	return (0);
}

bool
cbh_proc_exited(pid_t pid, int *status)
{
	int   st;
	pid_t got;

	do {
		got = waitpid(pid, &st, WNOHANG);
	} while (got < 0 && errno == EINTR);
	if (got == pid) {
		if (status != NULL) {
			*status = st;
		}
		return (true);
	}
	return (false);
}

int
cbh_proc_wait(pid_t pid, int timeout_ms, int *status)
{
	int64_t end = cbh_now_ms() + timeout_ms;
	int     st;

	if (timeout_ms < 0) {
		pid_t got;
		do {
			got = waitpid(pid, &st, 0);
		} while (got < 0 && errno == EINTR);
		if (got != pid) {
			cbh_log("waitpid %d: %s", (int) pid, strerror(errno));
			return (-1);
		}
		*status = st;
		return (0);
	}
	for (;;) {
		if (cbh_proc_exited(pid, &st)) {
			*status = st;
			return (0);
		}
		if (cbh_now_ms() >= end) {
			return (-1);
		}
		cbh_sleep_ms(WAIT_STEP_MS);
	}
}

int
cbh_proc_stop(pid_t pid, int sig, int timeout_ms, int *status)
{
	int st;

	if (kill(pid, sig) != 0 && errno != ESRCH) {
		cbh_log("kill %d: %s", (int) pid, strerror(errno));
	}
	if (cbh_proc_wait(pid, timeout_ms, &st) == 0) {
		*status = st;
		return (0);
	}
	cbh_log("process %d ignored signal %d for %d ms: killing it",
	    (int) pid, sig, timeout_ms);
	kill(pid, SIGKILL);
	if (cbh_proc_wait(pid, -1, &st) == 0) {
		*status = st;
	}
	return (-1);
}

const char *
cbh_status_str(int status, char *buf, size_t size)
{
	if (WIFEXITED(status)) {
		snprintf(buf, size, "exit %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		snprintf(buf, size, "signal %d (%s)%s", WTERMSIG(status),
		    strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	} else {
		snprintf(buf, size, "wait status 0x%x", status);
	}
	return (buf);
}

int
cbh_free_port(int *port)
{
	struct sockaddr_in sa;
	socklen_t          len = sizeof(sa);
	int                fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		cbh_log("socket: %s", strerror(errno));
		return (-1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port        = 0;
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *) &sa, &len) != 0) {
		cbh_log("bind 127.0.0.1:0: %s", strerror(errno));
		close(fd);
		return (-1);
	}
	close(fd);
	*port = ntohs(sa.sin_port);
	return (0);
}

/* SPDX-License-Identifier: MIT */
/* Clocks of the benchmark: wall time, CPU time and context switches. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec);
}

int64_t
bench_proc_cpu_us(pid_t pid)
{
	char               path[64];
	char               line[1024];
	FILE              *f;
	const char        *p;
	unsigned long long utime;
	unsigned long long stime;
	long               tck;

	if (pid == 0) {
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) != 0) {
			return (-1);
		}
		return ((int64_t) ru.ru_utime.tv_sec * 1000000 +
		    ru.ru_utime.tv_usec +
		    (int64_t) ru.ru_stime.tv_sec * 1000000 +
		    ru.ru_stime.tv_usec);
	}
	(void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (-1);
	}
	p = fgets(line, sizeof(line), f);
	(void) fclose(f);
	/* The command name may hold spaces and parentheses: skip past its
	 * last ')'. Then come state (field 3) ... utime (14), stime (15). */
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 1,
	        " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	        &utime, &stime) != 2) {
		return (-1);
	}
	if ((tck = sysconf(_SC_CLK_TCK)) <= 0) {
		return (-1);
	}
	return ((int64_t) ((utime + stime) * 1000000ull /
	    (unsigned long long) tck));
}

/* task_csw adds the context switches in one /proc/.../status file. */
static int64_t
task_csw(const char *path)
{
	char               line[256];
	FILE              *f;
	unsigned long long n;
	int64_t            sum = 0;

	if ((f = fopen(path, "r")) == NULL) {
		return (0); /* the thread is gone */
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &n) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &n) ==
		        1) {
			sum += (int64_t) n;
		}
	}
	(void) fclose(f);
	return (sum);
}

int64_t
bench_proc_csw(pid_t pid)
{
	char           dir[64];
	char           path[64 + 1 + 256 + 8]; /* dir, d_name, "/status" */
	DIR           *d;
	struct dirent *e;
	int64_t        sum = 0;

	/* Per thread: the process' own status counts its main thread only. */
	if (pid == 0) {
		(void) snprintf(dir, sizeof(dir), "/proc/self/task");
	} else {
		(void) snprintf(dir, sizeof(dir), "/proc/%d/task", (int) pid);
	}
	if ((d = opendir(dir)) == NULL) {
		return (-1);
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		(void) snprintf(
		    path, sizeof(path), "%s/%s/status", dir, e->d_name);
		sum += task_csw(path);
	}
	(void) closedir(d);
	return (sum);
}

/*
 * runstat: run a command several times; print its median wall time and the
 * peak resident memory of it and everything it started.
 *
 *   runstat [-n REPS] -- COMMAND [ARGS...]
 *
 * Output, one line on stdout: "median_s=1.234 min_s=1.200 max_s=1.300
 * peak_rss_mb=812 reps=3". The command's stdout goes to /dev/null; its stderr
 * is kept. Exit status:
 * that of the first failing run, else 0. Used by the bench scripts so benchmarks need
 * neither GNU time nor bc.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int reps = 3, i = 1;
	for (; i < argc && strcmp(argv[i], "--"); i++) /* options before "--" */
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			reps = atoi(argv[++i]);
	if (i >= argc - 1 || reps < 1) {
		fprintf(stderr, "usage: runstat [-n REPS] -- COMMAND [ARGS...]\n");
		return 2;
	}
	char **cmd = argv + i + 1;
	double *t = calloc((size_t)reps, sizeof *t);
	long peak = 0;
	for (int r = 0; r < reps; r++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		pid_t pid = fork();
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);
			if (fd >= 0)
				dup2(fd, 1);
			execvp(cmd[0], cmd);
			perror(cmd[0]);
			_exit(127);
		}
		int st;
		struct rusage ru;
		if (wait4(pid, &st, 0, &ru) < 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		t[r] = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
		if (ru.ru_maxrss > peak)
			peak = ru.ru_maxrss;
		struct rusage rc;
		getrusage(RUSAGE_CHILDREN, &rc); /* includes grandchildren of a pipeline */
		if (rc.ru_maxrss > peak)
			peak = rc.ru_maxrss;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "runstat: command failed (status %d)\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		}
	}
	qsort(t, (size_t)reps, sizeof *t, cmp);
	printf("median_s=%.3f min_s=%.3f max_s=%.3f peak_rss_mb=%ld reps=%d\n", t[reps / 2], t[0], t[reps - 1],
	       peak / 1024, reps);
	return 0;
}

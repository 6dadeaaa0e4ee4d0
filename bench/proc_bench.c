/*
 * The whole life of one command, as a user's shell would start it but
 * without the shell: posix_spawn, then waitpid.  A figure taken around
 * a command in bash carries bash's own fork as well, which depends on
 * bash and not on the command.
 *
 *	proc_bench RUNS PROGRAM [ARG ...]
 *
 * Runs PROGRAM RUNS times, its output to /dev/null, and prints the
 * median microseconds; exits 1 if any run failed.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

extern char	**environ;

static long long
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int
cmp(const void *a, const void *b)
{
	long long	 x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	posix_spawn_file_actions_t	 fa;
	long long			*t, t0;
	const char			*e;
	pid_t				 pid;
	int				 runs, i, status;

	if (argc < 3)
		errx(2, "usage: proc_bench RUNS PROGRAM [ARG ...]");
	runs = (int)strtol(argv[1], NULL, 10);
	if (runs < 1 || runs > 100000)
		errx(2, "RUNS %s: expected 1 to 100000", argv[1]);
	if ((t = calloc(runs, sizeof(*t))) == NULL)
		err(1, NULL);
	if ((e = getenv("PROC_BENCH_STDIN")) == NULL)
		e = "/dev/null";
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, e, O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (i = 0; i < runs; i++) {
		t0 = now_us();
		if (posix_spawn(&pid, argv[2], &fa, NULL, argv + 2,
		    environ) != 0)
			err(1, "posix_spawn %s", argv[2]);
		if (waitpid(pid, &status, 0) == -1)
			err(1, "waitpid");
		t[i] = now_us() - t0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			errx(1, "%s exited with status %d", argv[2],
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	qsort(t, runs, sizeof(*t), cmp);
	printf("%lld\n", runs % 2 ? t[runs / 2] :
	    (t[runs / 2 - 1] + t[runs / 2]) / 2);
	posix_spawn_file_actions_destroy(&fa);
	free(t);
	return 0;
}

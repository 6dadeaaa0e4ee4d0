/*
 * layer-drive: apply OCI layers to an ext4 image with
 * bangerd/pull/layer.c, for regress/pull/layer.sh.  Like the pull
 * worker, it hands the module open fds, never a path, and leaves each
 * layer's fd at its end first (the module must pread from offset 0,
 * whatever the fd's offset).  On success it prints, for each layer,
 *
 *	layer N entries E files F dirs D symlinks S hardlinks H devices V
 *	    whiteouts W bytes B progress CALLS LAST
 *
 * (one line; LAST: the bytes read the last progress call reported) and
 * exits 0; on failure "layer-drive: layer N: reason" and exit 1.
 *
 * usage: layer-drive [-ms] [-b bytes] [-e entries] [-f bytes] image
 *	      layer ...
 *
 *	-b, -e, -f	the limits: bytes of files in a layer, entries in
 *			a layer, bytes in one file (default none)
 *	-m		hand over each layer in a memfd, as a copy
 *	-s		sandbox first: a seccomp allow-list of
 *			layer_syscalls and what the drive itself needs to
 *			report (write, exit), entered after the fds are
 *			open and before the file system is
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pull/layer.h"

#define LAYERS_MAX	64

struct prog {
	uint64_t	calls;
	uint64_t	last;
	int		backwards;
};

static void	usage(void) __attribute__((__noreturn__));
static uint64_t	number(const char *, const char *);
static int	memfd_copy(int, const char *);
static void	progress(void *, uint64_t);
static void	sandbox(void);

/* What the drive needs besides the module: its report and exit. */
static const char *const drive_syscalls[] = {
	"write", "exit", "exit_group", "rt_sigreturn",
#if defined(__SANITIZE_ADDRESS__)
	/* The sanitizers' runtime, at report and exit time. */
	"sigaltstack", "prctl", "sched_yield", "mprotect", "getrlimit",
	"prlimit64", "readlink", "openat", "getppid", "tgkill", "kill",
	"pipe2", "wait4", "clone", "clone3", "ptrace", "getpid", "gettid",
	"read", "rt_sigaction", "rt_sigprocmask", "futex", "sched_getaffinity",
#endif
	NULL
};

static void
usage(void)
{
	fprintf(stderr, "usage: layer-drive [-ms] [-b bytes] [-e entries] "
	    "[-f bytes] image layer ...\n");
	exit(64);
}

static uint64_t
number(const char *what, const char *s)
{
	const char	*errstr;
	long long	 n;

	n = strtonum(s, 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		errx(64, "%s %s: %s", what, s, errstr);
	return ((uint64_t)n);
}

/* A memfd holding a copy of fd's bytes (fd is closed). */
static int
memfd_copy(int fd, const char *name)
{
	char	buf[65536];
	ssize_t	n;
	int	mfd;

	if ((mfd = memfd_create("layer", MFD_CLOEXEC)) == -1)
		err(1, "memfd_create");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(mfd, buf, n) != n)
			err(1, "%s: copy", name);
	if (n == -1)
		err(1, "%s", name);
	close(fd);
	return (mfd);
}

static void
progress(void *arg, uint64_t bytes)
{
	struct prog	*p = arg;

	if (bytes < p->last)
		p->backwards = 1;
	p->calls++;
	p->last = bytes;
}

static void
sandbox(void)
{
	scmp_filter_ctx	 ctx;
	int		 i, nr;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		errx(1, "seccomp_init failed");
	for (i = 0; layer_syscalls[i] != NULL; i++) {
		/* Not on this architecture (time on arm64): not needed. */
		if ((nr = seccomp_syscall_resolve_name(layer_syscalls[i])) ==
		    __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0)
			errx(1, "seccomp_rule_add %s", layer_syscalls[i]);
	}
	for (i = 0; drive_syscalls[i] != NULL; i++) {
		if ((nr = seccomp_syscall_resolve_name(drive_syscalls[i])) ==
		    __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0)
			errx(1, "seccomp_rule_add %s", drive_syscalls[i]);
	}
	if (seccomp_load(ctx) != 0)
		errx(1, "seccomp_load failed");
	seccomp_release(ctx);
}

int
main(int argc, char *argv[])
{
	struct layer_limits	 lim;
	struct layer_stats	 ls;
	struct prog		 p;
	ext2_filsys		 fs;
	char			 errbuf[LAYER_ERR_MAX];
	off_t			 end[LAYERS_MAX];
	int			 fds[LAYERS_MAX];
	int			 ch, fd, i, n, mem = 0, sec = 0, ret = 0;

	memset(&lim, 0, sizeof(lim));
	while ((ch = getopt(argc, argv, "b:e:f:ms")) != -1) {
		switch (ch) {
		case 'b':
			lim.ll_bytes_max = number("bytes", optarg);
			break;
		case 'e':
			lim.ll_entries = number("entries", optarg);
			break;
		case 'f':
			lim.ll_file_max = number("file bytes", optarg);
			break;
		case 'm':
			mem = 1;
			break;
		case 's':
			sec = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc - 1 > LAYERS_MAX)
		usage();
	n = argc - 1;

	if (layer_preinit() == -1)
		err(1, "layer_preinit (no C.UTF-8 locale?)");
	if ((fd = open(argv[0], O_RDWR | O_CLOEXEC)) == -1)
		err(1, "%s", argv[0]);
	for (i = 0; i < n; i++) {
		if ((fds[i] = open(argv[i + 1], O_RDONLY | O_CLOEXEC)) == -1)
			err(1, "%s", argv[i + 1]);
		if (mem)
			fds[i] = memfd_copy(fds[i], argv[i + 1]);
		/* A read() from here would find nothing. */
		if ((end[i] = lseek(fds[i], 0, SEEK_END)) == -1)
			err(1, "%s", argv[i + 1]);
	}

	if (sec)
		sandbox();
	if (layerfs_open(fd, &fs, errbuf, sizeof(errbuf)) == -1) {
		fprintf(stderr, "layer-drive: %s\n", errbuf);
		exit(1);
	}
	for (i = 0; i < n; i++) {
		memset(&p, 0, sizeof(p));
		if (layer_apply(fs, fds[i], &lim, &ls, progress, &p, errbuf,
		    sizeof(errbuf)) == -1) {
			fprintf(stderr, "layer-drive: layer %d: %s\n", i + 1,
			    errbuf);
			ret = 1;
			break;
		}
		if (p.backwards)
			errx(1, "layer %d: progress went backwards", i + 1);
		if (lseek(fds[i], 0, SEEK_CUR) != end[i])
			errx(1, "layer %d: the fd's offset moved", i + 1);
		printf("layer %d entries %llu files %llu dirs %llu symlinks "
		    "%llu hardlinks %llu devices %llu whiteouts %llu bytes "
		    "%llu progress %llu %llu\n", i + 1,
		    (unsigned long long)ls.ls_entries,
		    (unsigned long long)ls.ls_files,
		    (unsigned long long)ls.ls_dirs,
		    (unsigned long long)ls.ls_symlinks,
		    (unsigned long long)ls.ls_hardlinks,
		    (unsigned long long)ls.ls_devices,
		    (unsigned long long)ls.ls_whiteouts,
		    (unsigned long long)ls.ls_bytes,
		    (unsigned long long)p.calls, (unsigned long long)p.last);
	}
	/* After a refusal too: what was done is written, fs freed. */
	if (layerfs_close(fs, errbuf, sizeof(errbuf)) == -1) {
		fprintf(stderr, "layer-drive: %s\n", errbuf);
		ret = 1;
	}
	for (i = 0; i < n; i++)
		close(fds[i]);
	close(fd);
	return (ret);
}

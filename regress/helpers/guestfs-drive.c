/*
 * guestfs-drive: provision a guest disk image with bangerd/vm/guestfs.c,
 * for regress/vm/guestfs.sh.  Like the daemon, it hands the module
 * an open fd, never a path.  On success it prints
 *
 *	hostkey ssh-ed25519 AAAA... root@NAME	(with host keys)
 *	fingerprint SHA256:...			(with host keys)
 *	written N removed N mkdirs N
 *
 * and exits 0; on failure "guestfs-drive: reason" and exit 1.
 *
 * usage: guestfs-drive [-KRS] [-F fd] image hostname domain addr/prefix
 *	      gateway dns mac keyfile
 *
 *	-F fd	use fd, already open (e.g. 5<>disk), instead of opening
 *		image (then "-"); fd must be all digits
 *	-K	no host keys
 *	-R	open image read-only (which the module must refuse)
 *	-S	sandbox first: a seccomp allow-list of guestfs_syscalls and
 *		what the drive itself needs to report (write, exit)
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm/guestfs.h"

static void	usage(void) __attribute__((__noreturn__));
static char	*read_keys(const char *);
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
	fprintf(stderr, "usage: guestfs-drive [-KRS] [-F fd] image hostname "
	    "domain addr/prefix gateway dns mac keyfile\n");
	exit(64);
}

static char *
read_keys(const char *path)
{
	char	*buf;
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	if ((buf = malloc(GUESTFS_KEYS_MAX + 2)) == NULL)
		err(1, NULL);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "%s", path);
	while (len < GUESTFS_KEYS_MAX + 1 &&
	    (n = read(fd, buf + len, GUESTFS_KEYS_MAX + 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return (buf);
}

static void
sandbox(void)
{
	scmp_filter_ctx	 ctx;
	int		 i, nr;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		errx(1, "seccomp_init failed");
	for (i = 0; guestfs_syscalls[i] != NULL; i++) {
		/* Not on this architecture (time on arm64): not needed. */
		if ((nr = seccomp_syscall_resolve_name(guestfs_syscalls[i])) ==
		    __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0)
			errx(1, "seccomp_rule_add %s", guestfs_syscalls[i]);
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
	struct guest_spec	 gs;
	struct guest_result	 res;
	char			 errbuf[GUESTFS_ERR_MAX], *slash, *keys;
	const char		*fdarg = NULL, *errstr;
	int			 ch, fd, hostkeys = 1, rdonly = 0, sec = 0;

	while ((ch = getopt(argc, argv, "F:KRS")) != -1) {
		switch (ch) {
		case 'F':
			fdarg = optarg;
			break;
		case 'K':
			hostkeys = 0;
			break;
		case 'R':
			rdonly = 1;
			break;
		case 'S':
			sec = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 8)
		usage();

	memset(&gs, 0, sizeof(gs));
	gs.gs_hostname = argv[1];
	gs.gs_domain = argv[2];
	if ((slash = strchr(argv[3], '/')) == NULL)
		errx(64, "%s: not ADDR/PREFIX", argv[3]);
	*slash++ = '\0';
	if (inet_pton(AF_INET, argv[3], &gs.gs_addr) != 1)
		errx(64, "%s: not an IPv4 address", argv[3]);
	gs.gs_prefix = strtonum(slash, 0, 32, &errstr);
	if (errstr != NULL)
		errx(64, "prefix %s: %s", slash, errstr);
	if (inet_pton(AF_INET, argv[4], &gs.gs_gateway) != 1)
		errx(64, "%s: not an IPv4 address", argv[4]);
	if (inet_pton(AF_INET, argv[5], &gs.gs_dns) != 1)
		errx(64, "%s: not an IPv4 address", argv[5]);
	gs.gs_mac = argv[6];
	gs.gs_authkeys = keys = read_keys(argv[7]);
	gs.gs_hostkeys = hostkeys;

	if (fdarg != NULL) {
		/* Digits only: never atoi's silent fd 0. */
		if (fdarg[strspn(fdarg, "0123456789")] != '\0' ||
		    *fdarg == '\0')
			errx(1, "fd %s: not a number", fdarg);
		fd = strtonum(fdarg, 0, INT_MAX, &errstr);
		if (errstr != NULL)
			errx(1, "fd %s: %s", fdarg, errstr);
	} else if ((fd = open(argv[0], (rdonly ? O_RDONLY : O_RDWR) |
	    O_CLOEXEC)) == -1)
		err(1, "%s", argv[0]);

	if (sec)
		sandbox();
	if (guestfs_provision(fd, &gs, &res, errbuf, sizeof(errbuf)) == -1) {
		fprintf(stderr, "guestfs-drive: %s\n", errbuf);
		exit(1);
	}
	if (res.gr_hostkey[0] != '\0')
		printf("hostkey %s\nfingerprint %s\n", res.gr_hostkey,
		    res.gr_fingerprint);
	printf("written %d removed %d mkdirs %d\n", res.gr_written,
	    res.gr_removed, res.gr_mkdirs);
	if (fdarg != NULL)
		printf("fd %d %s\n", fd, fcntl(fd, F_GETFD) == -1 ?
		    "closed" : "kept");
	else
		close(fd);
	free(keys);
	return (0);
}

/*
 * storage-drive: call one of the storage functions (bangerd/parent/
 * loop.c, snap.c, storage.c), for regress/parent/storage.sh.
 * Messages go to stderr with debug on; a failure exits 1 after
 * "storage-drive: CMD: strerror".
 *
 * usage:
 *	storage-drive attach FILE ro|rw [MARK]	prints /dev/loopN
 *	storage-drive mark DEV			prints the device's mark
 *	storage-drive detach DEV
 *	storage-drive backing DEV		prints PATH, st_dev, st_ino
 *	storage-drive reflink SRC DST		DST is created (0600) if missing
 *	storage-drive copy SRC DST		(sparse copy) the same
 *	storage-drive grow FILE SIZE
 *	storage-drive create STATEDIR VMID IMAGE auto|reflink|copy|dm SIZE
 *						prints the backend used
 *	storage-drive cow STATEDIR VMID SIZE
 *	storage-drive remove STATEDIR VMID
 *	storage-drive open STATEDIR VMID	prints what the fd opens,
 *						its access mode and "cloexec"
 *	storage-drive has-dm			exits 0 if so, 2 if not
 *	storage-drive cow-bytes SIZE		prints snap_cow_bytes(SIZE)
 *	storage-drive snap-create VMID ORIGIN COW SIZE
 *	storage-drive snap-remove VMID
 *	storage-drive fsck-filter CMD [ARG...]	CMD under the e2fsck child's
 *						seccomp filter (no_new_privs)
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "parent/storage.h"

static void	usage(void) __attribute__((__noreturn__));
static uint64_t	num(const char *);
static int	open_src(const char *);
static int	open_dst(const char *);
static int	backend(const char *);

static void
usage(void)
{
	fprintf(stderr, "usage: storage-drive command [arg ...]\n");
	exit(64);
}

static uint64_t
num(const char *s)
{
	char		*end;
	uintmax_t	 v;

	errno = 0;
	v = strtoumax(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		errx(64, "bad number %s", s);
	return v;
}

static int
open_src(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "%s", path);
	return fd;
}

static int
open_dst(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		err(1, "%s", path);
	return fd;
}

static int
backend(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return STORAGE_AUTO;
	if (strcmp(s, "reflink") == 0)
		return STORAGE_REFLINK;
	if (strcmp(s, "copy") == 0)
		return STORAGE_COPY;
	if (strcmp(s, "dm") == 0)
		return STORAGE_DM;
	errx(64, "bad backend %s", s);
}

int
main(int argc, char *argv[])
{
	char		 dev[LOOP_DEV_MAX], path[PATH_MAX], link[64];
	const char	*cmd, *used;
	dev_t		 bdev;
	ino_t		 ino;
	ssize_t		 n;
	int		 rv, fd, fd2, fl, fdfl;

	log_init(1, LOG_DAEMON);
	log_setverbose(1);
	if (argc < 2)
		usage();
	cmd = argv[1];
	argc -= 2;
	argv += 2;

	if (strcmp(cmd, "attach") == 0 && (argc == 2 || argc == 3)) {
		if (strcmp(argv[1], "ro") == 0)
			fd = open_src(argv[0]);
		else if (strcmp(argv[1], "rw") == 0)
			fd = open_dst(argv[0]);
		else
			usage();
		if ((rv = loop_attach(fd, argv[1][1] == 'o',
		    argc == 3 ? argv[2] : NULL, dev, sizeof(dev))) == 0)
			printf("%s\n", dev);
		close(fd);
	} else if (strcmp(cmd, "mark") == 0 && argc == 1) {
		if ((rv = loop_mark(argv[0], path, sizeof(path))) == 0)
			printf("%s\n", path);
	} else if (strcmp(cmd, "detach") == 0 && argc == 1)
		rv = loop_detach(argv[0]);
	else if (strcmp(cmd, "backing") == 0 && argc == 1) {
		if ((rv = loop_backing(argv[0], path, sizeof(path), &bdev,
		    &ino)) == 0)
			printf("%s\n%ju\n%ju\n", path, (uintmax_t)bdev,
			    (uintmax_t)ino);
	} else if ((strcmp(cmd, "reflink") == 0 || strcmp(cmd, "copy") == 0) &&
	    argc == 2) {
		fd = open_src(argv[0]);
		fd2 = open_dst(argv[1]);
		if (cmd[0] == 'r')
			rv = disk_reflink(fd, fd2);
		else
			rv = disk_sparse_copy(fd, fd2);
		if (rv == -1 && cmd[0] == 'r' && errno == EOPNOTSUPP)
			errx(3, "%s: no reflink", cmd);
		close(fd);
		close(fd2);
	} else if (strcmp(cmd, "grow") == 0 && argc == 2) {
		if ((fd = open(argv[0], O_RDWR | O_CLOEXEC)) == -1)
			err(1, "%s", argv[0]);
		rv = disk_grow(fd, num(argv[1]));
		close(fd);
	} else if (strcmp(cmd, "create") == 0 && argc == 5) {
		fd = open_src(argv[2]);
		if ((rv = disk_create(argv[0], argv[1], fd, backend(argv[3]),
		    num(argv[4]), 1, &used)) == 0)
			printf("%s\n", used);
		else if (errno == EOPNOTSUPP)
			errx(3, "%s: no reflink", cmd);
		close(fd);
	} else if (strcmp(cmd, "cow") == 0 && argc == 3) {
		if ((rv = disk_cow_create(argv[0], argv[1], num(argv[2]),
		    &fd)) == 0)
			close(fd);
	} else if (strcmp(cmd, "remove") == 0 && argc == 2)
		rv = disk_remove(argv[0], argv[1]);
	else if (strcmp(cmd, "open") == 0 && argc == 2) {
		if ((rv = disk_open(argv[0], argv[1], &fd)) == 0) {
			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			if ((n = readlink(link, path, sizeof(path) - 1)) == -1)
				err(1, "%s", link);
			path[n] = '\0';
			if ((fl = fcntl(fd, F_GETFL)) == -1 ||
			    (fdfl = fcntl(fd, F_GETFD)) == -1)
				err(1, "fcntl");
			printf("%s\n%s\n%s\n", path,
			    (fl & O_ACCMODE) == O_RDWR ? "rdwr" : "not-rdwr",
			    (fdfl & FD_CLOEXEC) ? "cloexec" : "inherit");
			close(fd);
		}
	} else if (strcmp(cmd, "fsck-filter") == 0 && argc >= 1) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    fsck_filter() == -1)
			err(1, "fsck-filter");
		execvp(argv[0], argv);
		err(1, "%s", argv[0]);
	} else if (strcmp(cmd, "has-dm") == 0 && argc == 0) {
		rv = storage_has_dm();
		printf("%s\n", rv ? "yes" : "no");
		return rv ? 0 : 2;
	} else if (strcmp(cmd, "cow-bytes") == 0 && argc == 1) {
		printf("%ju\n", (uintmax_t)snap_cow_bytes(num(argv[0])));
		rv = 0;
	} else if (strcmp(cmd, "snap-create") == 0 && argc == 4)
		rv = snap_create(argv[0], argv[1], argv[2], num(argv[3]));
	else if (strcmp(cmd, "snap-remove") == 0 && argc == 1)
		rv = snap_remove(argv[0]);
	else
		usage();

	if (rv == -1) {
		warn("%s", cmd);
		return 1;
	}
	return 0;
}

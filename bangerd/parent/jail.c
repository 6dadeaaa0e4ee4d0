/*
 * Each VM's Firecracker runs in a jail of the layout Firecracker's own
 * jailer builds (see jail.h), as the VM's own uid and gid, in its own
 * mount, pid and ipc namespaces and cgroup, with a pty as its console.
 *
 * Every path is opened one component at a time with O_NOFOLLOW from a
 * directory opened the same way, and acted on through the descriptor:
 * a symlink anywhere is refused, and nothing can be swapped between a
 * check and the act.  Every function re-validates what it is given.
 *
 * The child between clone3() and exec calls only system calls: no
 * allocation, no stdio, no logging.  It reports a failure as a step
 * number and errno on a close-on-exec pipe; end of file there means
 * the exec happened.
 */
#include <sys/types.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <linux/magic.h>
#include <linux/sched.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "jail.h"
#include "log.h"
#include "validate.h"

#define WALK_SECURE	0x01	/* root-owned, not writable by others */
#define WALK_QUIET	0x02	/* ENOENT is not worth a message */

#define API_SOCK_NAME	"firecracker.socket"
#define JAILER_PIDFILE	"firecracker.pid"
#define SPAWN_ARGV_MAX	40
#define RMTREE_DEPTH	32
#define UMOUNT_ROUNDS	16
#define CG_RMDIR_TRIES	100	/* 10 ms apart */
#define PROCFD_LEN	32
#define MIB		(1 << 20)
/* Room below STATE for jail/firecracker/VMID/root/run/firecracker.socket. */
#define JAIL_PATH_ROOM	128

/* The child's steps, for the parent's message when one fails. */
enum spawn_step {
	ST_SETSID,
	ST_STDIO,
	ST_CLOSE,
	ST_RLIMIT,
	ST_MOUNT_PRIVATE,
	ST_BIND_ROOT,
	ST_CHDIR_ROOT,
	ST_PIVOT,
	ST_DETACH_OLD,
	ST_CAPS,
	ST_SETGROUPS,
	ST_SETGID,
	ST_SETUID,
	ST_NNP,
	ST_EXEC,
	ST_MAX
};

static const char *const spawn_steps[ST_MAX] = {
	[ST_SETSID] = "setsid",
	[ST_STDIO] = "console on stdin/out/err",
	[ST_CLOSE] = "closing fds",
	[ST_RLIMIT] = "setrlimit",
	[ST_MOUNT_PRIVATE] = "making mounts private",
	[ST_BIND_ROOT] = "bind-mounting the jail root",
	[ST_CHDIR_ROOT] = "chdir to the jail root",
	[ST_PIVOT] = "pivot_root",
	[ST_DETACH_OLD] = "detaching the old root",
	[ST_CAPS] = "dropping capabilities",
	[ST_SETGROUPS] = "setgroups",
	[ST_SETGID] = "setresgid",
	[ST_SETUID] = "setresuid",
	[ST_NNP] = "no_new_privs",
	[ST_EXEC] = "exec",
};

struct spawn_report {
	int	sr_step;
	int	sr_errno;
};

/* Everything the child needs, computed by the parent. */
struct spawn_args {
	int		 sa_exefd;
	int		 sa_slave;
	int		 sa_errfd;
	int		 sa_jailer;
	uid_t		 sa_uid;
	gid_t		 sa_gid;
	rlim_t		 sa_nofile;
	rlim_t		 sa_fsize;
	char		 sa_root[PATH_MAX];
	char		*sa_argv[SPAWN_ARGV_MAX];
	char		*sa_envp[1];
};

/* The jailer's arguments that are not constants. */
struct jailer_strs {
	char	jst_uid[16];
	char	jst_gid[16];
	char	jst_base[PATH_MAX];
	char	jst_cpu[64];
	char	jst_mem[64];
	char	jst_pids[64];
	char	jst_nofile[64];
	char	jst_fsize[64];
};

static const char *const cg_controllers[] = { "cpu", "memory", "pids" };
#define CG_NCTRL	(sizeof(cg_controllers) / sizeof(cg_controllers[0]))

static int	path_clean(const char *, const char **);
static int	path_split(const char *, char *, const char **,
		    const char **);
static int	pathf(char *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static int	statedir_check(const char *, const char **);
static int	statedir_arg(const char *, const char *);
static int	vm_ctx(const char *, const char *, char *, size_t);
static int	string_in(const char *, size_t);
static void	procfd_path(char *, size_t, int);
static int	fd_chmod(int, mode_t);
static int	fd_own(int, uid_t, gid_t, mode_t);
static int	is_mount_root(int);
static int	dir_secure(const char *, const char *, int);
static int	open_dir_at(const char *, int, const char *, const char *,
		    int);
static int	walk_dir(const char *, const char *, int);
static int	open_file(const char *, const char *, struct stat *);
static int	read_at(int, const char *, char *, size_t);
static int	write_at(int, const char *, const char *);
static int	read_path(const char *, char *, size_t);
static int	word_in(const char *, const char *);
static int	spec_check(const struct jail_spec *, char *, size_t);
static int	jail_base(const char *, const char *, int);
static int	jail_subdir(const char *, int, const char *, const char *,
		    mode_t, uid_t, gid_t);
static int	entry_clear(const char *, int, const char *, const char *);
static int	jail_mknod(const char *, int, const char *, const char *,
		    mode_t, dev_t, uid_t, gid_t);
static int	jail_place(const char *, int, const char *, const char *,
		    int, const struct stat *, int);
static int	jail_disk(const char *, const struct jail_spec *, int,
		    const char *);
static int	jailer_clear(const char *, int, const char *);
static int	cgroup_root(const char *, const char *, int);
static int	cgroup_enable(const char *, int, const char *, int *, int);
static int	cgroup_setup(const char *, const struct jail_spec *, int, int *,
		    int *);
static int	pty_open(const char *, int *, int *);
static int	fd_above_stdio(int *);
static void	spawn_fail(const struct spawn_args *, int)
		    __attribute__((__noreturn__));
static void	spawn_child(const struct spawn_args *)
		    __attribute__((__noreturn__));
static int	mnt_depth_cmp(const void *, const void *);
static int	mounts_below(const char *, char ***, size_t *);
static void	mounts_free(char **, size_t);
static int	unmount_at(const char *, int, const char *, const char *);
static int	rm_tree(const char *, int, char *, size_t, const char *, int);

/* Absolute, no empty, "." or ".." component, no trailing '/'. */
static int
path_clean(const char *p, const char **why)
{
	const char	*c, *e;
	size_t		 len;

	if (p == NULL || (len = strnlen(p, PATH_MAX)) == 0) {
		*why = "empty path";
		return -1;
	}
	if (len == PATH_MAX) {
		*why = "path too long";
		return -1;
	}
	if (p[0] != '/') {
		*why = "path not absolute";
		return -1;
	}
	if (len == 1)
		return 0;
	for (c = p + 1; ; c = e + 1) {
		if ((e = strchr(c, '/')) == NULL)
			e = p + len;
		if (e == c) {
			*why = "path has an empty component";
			return -1;
		}
		if ((e - c == 1 && c[0] == '.') ||
		    (e - c == 2 && c[0] == '.' && c[1] == '.')) {
			*why = "path has a \".\" or \"..\" component";
			return -1;
		}
		if (e - c > NAME_MAX) {
			*why = "path has a component too long";
			return -1;
		}
		if (*e == '\0')
			break;
	}
	return 0;
}

/* A clean path to a file: its directory into dir, *basep its name. */
static int
path_split(const char *path, char *dir, const char **basep, const char **why)
{
	const char	*base;

	if (path_clean(path, why) == -1)
		return -1;
	if (path[1] == '\0') {
		*why = "not a file";
		return -1;
	}
	base = strrchr(path, '/') + 1;
	if (base - path == 1)
		(void)strlcpy(dir, "/", PATH_MAX);
	else {
		memcpy(dir, path, base - path - 1);
		dir[base - path - 1] = '\0';
	}
	*basep = base;
	return 0;
}

/* snprintf into a PATH_MAX buffer; -1 (ENAMETOOLONG) if cut short. */
static int
pathf(char *buf, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A state dir (or cgroup root): clean, not "/", with room below. */
static int
statedir_check(const char *p, const char **why)
{
	if (path_clean(p, why) == -1)
		return -1;
	if (p[1] == '\0') {
		*why = "is /";
		return -1;
	}
	if (strlen(p) > PATH_MAX - JAIL_PATH_ROOM) {
		*why = "too long";
		return -1;
	}
	return 0;
}

/* statedir passed to an operation on a VM: refused (EINVAL) if not one. */
static int
statedir_arg(const char *ctx, const char *statedir)
{
	const char	*why;

	if (statedir == NULL || statedir_check(statedir, &why) == -1) {
		log_warnx("%s: state dir: %s", ctx, statedir == NULL ?
		    "null" : why);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* A VM id passed to op: ctx is "vm VMID", or -1 (EINVAL) if not one. */
static int
vm_ctx(const char *op, const char *vmid, char *ctx, size_t ctxlen)
{
	const char	*why;

	if (vmid == NULL || valid_vm_id(vmid, strnlen(vmid, VM_ID_LEN + 1),
	    &why) == -1) {
		log_warnx("%s: vm id: %s", op, vmid == NULL ? "null" : why);
		errno = EINVAL;
		return -1;
	}
	(void)snprintf(ctx, ctxlen, "vm %s", vmid);
	return 0;
}

/*
 * The VMs' group p below the cgroup root: relative ("banger",
 * "system.slice/bangerd.service/vms"), clean, with room below.
 */
static int
cgparent_check(const char *cgroot, const char *p, const char **why)
{
	char	 abs[PATH_MAX];

	if (p == NULL || p[0] == '\0') {
		*why = "no VM group";
		return -1;
	}
	if (p[0] == '/') {
		*why = "VM group not relative to the cgroup root";
		return -1;
	}
	if (pathf(abs, "%s/%s", cgroot, p) == -1 ||
	    strlen(abs) > PATH_MAX - JAIL_PATH_ROOM) {
		*why = "VM group too long";
		return -1;
	}
	return path_clean(abs, why);
}

/* s is NUL-terminated within size bytes. */
static int
string_in(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void
procfd_path(char *buf, size_t len, int fd)
{
	(void)snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* fchmod(2) refuses O_PATH descriptors; /proc/self/fd names the inode. */
static int
fd_chmod(int fd, mode_t mode)
{
	char	 p[PROCFD_LEN];

	procfd_path(p, sizeof(p), fd);
	return chmod(p, mode);
}

/* Owner and mode of what fd (O_PATH is fine) refers to, if they differ. */
static int
fd_own(int fd, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1)
		return -1;
	if ((st.st_uid != uid || st.st_gid != gid) &&
	    fchownat(fd, "", uid, gid, AT_EMPTY_PATH) == -1)
		return -1;
	if ((st.st_mode & 07777) != mode && fd_chmod(fd, mode) == -1)
		return -1;
	return 0;
}

static int
is_mount_root(int fd)
{
	struct statx	 stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE,
	    &stx) == -1)
		return -1;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/*
 * A directory no one but root can change: owned by root and writable
 * by no one else, unless sticky (like /tmp): there only an entry's
 * owner may rename or remove it, and each next component is checked
 * to be root's.
 */
static int
dir_secure(const char *ctx, const char *shown, int fd)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		log_warn("%s: %s", ctx, shown);
		return -1;
	}
	if (st.st_uid != 0) {
		log_warnx("%s: %s: not owned by root", ctx, shown);
		errno = EPERM;
		return -1;
	}
	if ((st.st_mode & S_ISVTX) == 0 && (st.st_mode & S_IWGRP)) {
		log_warnx("%s: %s: writable by its group", ctx, shown);
		errno = EPERM;
		return -1;
	}
	if ((st.st_mode & S_ISVTX) == 0 && (st.st_mode & S_IWOTH)) {
		log_warnx("%s: %s: writable by others", ctx, shown);
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * Open directory name below dirfd (O_PATH), refusing a symlink.  shown
 * is its full path, for messages.
 */
static int
open_dir_at(const char *ctx, int dirfd, const char *shown, const char *name,
    int flags)
{
	struct stat	 st;
	int		 fd, saved_errno;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY |
	    O_CLOEXEC);
	if (fd == -1) {
		saved_errno = errno;
		if ((saved_errno == ENOTDIR || saved_errno == ELOOP) &&
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISLNK(st.st_mode)) {
				log_warnx("%s: %s: is a symlink", ctx, shown);
				errno = ELOOP;
			} else {
				log_warnx("%s: %s: not a directory", ctx,
				    shown);
				errno = ENOTDIR;
			}
			return -1;
		}
		if (saved_errno != ENOENT || (flags & WALK_QUIET) == 0) {
			errno = saved_errno;
			log_warn("%s: %s", ctx, shown);
		}
		errno = saved_errno;
		return -1;
	}
	if ((flags & WALK_SECURE) && dir_secure(ctx, shown, fd) == -1) {
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
		return -1;
	}
	return fd;
}

/* Open directory path (O_PATH) from "/", one component at a time. */
static int
walk_dir(const char *ctx, const char *path, int flags)
{
	char		 buf[PATH_MAX], name[NAME_MAX + 1];
	const char	*why;
	char		*c, *e;
	int		 fd, nfd, last;

	if (path_clean(path, &why) == -1) {
		log_warnx("%s: %s: %s", ctx, path == NULL ? "(null)" : path,
		    why);
		errno = EINVAL;
		return -1;
	}
	if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("%s: /", ctx);
		return -1;
	}
	if ((flags & WALK_SECURE) && dir_secure(ctx, "/", fd) == -1)
		goto fail;
	if (path[1] == '\0')
		return fd;
	(void)strlcpy(buf, path, sizeof(buf));
	for (c = buf + 1, last = 0; !last; c = e + 1) {
		if ((e = strchr(c, '/')) == NULL) {
			e = c + strlen(c);
			last = 1;
		}
		memcpy(name, c, e - c);
		name[e - c] = '\0';
		*e = '\0';
		nfd = open_dir_at(ctx, fd, buf, name, flags);
		if (!last)
			*e = '/';
		if (nfd == -1)
			goto fail;
		close(fd);
		fd = nfd;
	}
	return fd;
fail:
	nfd = errno;
	close(fd);
	errno = nfd;
	return -1;
}

/*
 * Open a file (O_PATH) refusing a symlink at any component, and stat
 * it.  The directories need not be root's: for kernels and disks.
 */
static int
open_file(const char *ctx, const char *path, struct stat *st)
{
	char		 dir[PATH_MAX];
	const char	*why, *base;
	int		 dfd, fd, saved_errno;

	if (path_split(path, dir, &base, &why) == -1) {
		log_warnx("%s: %s: %s", ctx, path == NULL ? "(null)" : path,
		    why);
		errno = EINVAL;
		return -1;
	}
	if ((dfd = walk_dir(ctx, dir, 0)) == -1)
		return -1;
	fd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	saved_errno = errno;
	close(dfd);
	if (fd == -1) {
		errno = saved_errno;
		log_warn("%s: %s", ctx, path);
		return -1;
	}
	if (fstat(fd, st) == -1) {
		log_warn("%s: %s", ctx, path);
		goto fail;
	}
	if (S_ISLNK(st->st_mode)) {
		log_warnx("%s: %s: is a symlink", ctx, path);
		errno = ELOOP;
		goto fail;
	}
	return fd;
fail:
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return -1;
}

/* Read a small file below dirfd whole, NUL-terminated. */
static int
read_at(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t	 n;
	size_t	 total = 0;
	int	 fd, saved_errno;

	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1)
		return -1;
	while (total < size - 1) {
		if ((n = read(fd, buf + total, size - 1 - total)) == -1) {
			if (errno == EINTR)
				continue;
			saved_errno = errno;
			close(fd);
			errno = saved_errno;
			return -1;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return 0;
}

static int
write_at(int dirfd, const char *name, const char *s)
{
	ssize_t	 n;
	size_t	 len = strlen(s);
	int	 fd, saved_errno;

	if ((fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1)
		return -1;
	while ((n = write(fd, s, len)) == -1 && errno == EINTR)
		;
	saved_errno = errno;
	close(fd);
	if (n == -1) {
		errno = saved_errno;
		return -1;
	}
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static int
read_path(const char *path, char *buf, size_t size)
{
	return read_at(AT_FDCWD, path, buf, size);
}

/* word is one of the space-separated words in list. */
static int
word_in(const char *list, const char *word)
{
	size_t	 wlen = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\n')
			p++;
		if (strncmp(p, word, wlen) == 0 && (p[wlen] == ' ' ||
		    p[wlen] == '\n' || p[wlen] == '\0'))
			return 1;
		while (*p != '\0' && *p != ' ' && *p != '\n')
			p++;
	}
	return 0;
}

/* The spec as a whole; ctx gets "vm VMID" for messages. */
static int
spec_check(const struct jail_spec *js, char *ctx, size_t ctxlen)
{
	const char	*why, *base;
	size_t		 dlen;

	if (js == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!string_in(js->js_vmid, sizeof(js->js_vmid)) ||
	    valid_vm_id(js->js_vmid, strlen(js->js_vmid), &why) == -1) {
		log_warnx("jail: vm id: %s", string_in(js->js_vmid,
		    sizeof(js->js_vmid)) ? why : "unterminated");
		errno = EINVAL;
		return -1;
	}
	(void)snprintf(ctx, ctxlen, "vm %s", js->js_vmid);
	if (!string_in(js->js_statedir, sizeof(js->js_statedir)) ||
	    !string_in(js->js_kernel, sizeof(js->js_kernel)) ||
	    !string_in(js->js_initrd, sizeof(js->js_initrd)) ||
	    !string_in(js->js_disk, sizeof(js->js_disk)) ||
	    !string_in(js->js_jailer, sizeof(js->js_jailer)) ||
	    !string_in(js->js_firecracker, sizeof(js->js_firecracker)) ||
	    !string_in(js->js_cgroot, sizeof(js->js_cgroot)) ||
	    !string_in(js->js_cgparent, sizeof(js->js_cgparent)) ||
	    !string_in(js->js_cgmark, sizeof(js->js_cgmark))) {
		log_warnx("%s: unterminated path in spec", ctx);
		goto bad;
	}
	if (statedir_check(js->js_statedir, &why) == -1) {
		log_warnx("%s: state dir %s: %s", ctx, js->js_statedir, why);
		goto bad;
	}
	if (js->js_uid_min == 0 || js->js_uid_min > js->js_uid_max) {
		log_warnx("%s: bad vm uid range %u-%u", ctx,
		    (unsigned)js->js_uid_min, (unsigned)js->js_uid_max);
		goto bad;
	}
	if (js->js_uid < js->js_uid_min || js->js_uid > js->js_uid_max ||
	    js->js_gid < js->js_uid_min || js->js_gid > js->js_uid_max) {
		log_warnx("%s: uid %u gid %u not in the vm range %u-%u", ctx,
		    (unsigned)js->js_uid, (unsigned)js->js_gid,
		    (unsigned)js->js_uid_min, (unsigned)js->js_uid_max);
		goto bad;
	}
	if (js->js_cpus < 1 || js->js_cpus > JAIL_CPUS_MAX) {
		log_warnx("%s: %d vcpus, not 1-%d", ctx, js->js_cpus,
		    JAIL_CPUS_MAX);
		goto bad;
	}
	if (js->js_memory < 1 || js->js_memory > JAIL_MEMORY_MAX) {
		log_warnx("%s: %llu MiB of memory, not 1-%d", ctx,
		    (unsigned long long)js->js_memory, JAIL_MEMORY_MAX);
		goto bad;
	}
	if (js->js_nofile > 1048576) {
		log_warnx("%s: nofile %llu too large", ctx,
		    (unsigned long long)js->js_nofile);
		goto bad;
	}
	if (js->js_flags & ~(JAIL_F_DISK_RO | JAIL_F_CGROUP_PARTIAL)) {
		log_warnx("%s: unknown flags %#x", ctx, js->js_flags);
		goto bad;
	}
	if (path_clean(js->js_kernel, &why) == -1) {
		log_warnx("%s: kernel %s: %s", ctx, js->js_kernel, why);
		goto bad;
	}
	if (js->js_initrd[0] != '\0' &&
	    path_clean(js->js_initrd, &why) == -1) {
		log_warnx("%s: initrd %s: %s", ctx, js->js_initrd, why);
		goto bad;
	}
	dlen = strlen(js->js_disk);
	if (valid_dm_path(js->js_disk, dlen, NULL) == -1 &&
	    valid_loop_path(js->js_disk, dlen, NULL) == -1 &&
	    valid_path_under(js->js_statedir, js->js_disk, 0, &why) == -1) {
		log_warnx("%s: disk %s: not a banger dm device, a loop "
		    "device or a file under the state dir (%s)", ctx,
		    js->js_disk, why);
		goto bad;
	}
	if (js->js_cgroot[0] != '\0' &&
	    statedir_check(js->js_cgroot, &why) == -1) {
		log_warnx("%s: cgroup root %s: %s", ctx, js->js_cgroot, why);
		goto bad;
	}
	if (js->js_cgroot[0] != '\0' &&
	    cgparent_check(js->js_cgroot, js->js_cgparent, &why) == -1) {
		log_warnx("%s: cgroup %s: %s", ctx, js->js_cgparent, why);
		goto bad;
	}
	if (js->js_jailer[0] != '\0') {
		if (path_clean(js->js_jailer, &why) == -1) {
			log_warnx("%s: jailer %s: %s", ctx, js->js_jailer,
			    why);
			goto bad;
		}
		if (path_clean(js->js_firecracker, &why) == -1) {
			log_warnx("%s: firecracker %s: %s", ctx,
			    js->js_firecracker, why);
			goto bad;
		}
		/* The jailer names the jail after the binary. */
		base = strrchr(js->js_firecracker, '/') + 1;
		if (strcmp(base, JAIL_EXEC_NAME) != 0) {
			log_warnx("%s: firecracker %s: the jailer needs it "
			    "named \"%s\"", ctx, js->js_firecracker,
			    JAIL_EXEC_NAME);
			goto bad;
		}
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * STATE/jail/firecracker, created root 0711 if create is set.  STATE
 * and every directory above it must be root's alone.
 */
static int
jail_base(const char *ctx, const char *statedir, int create)
{
	char	 shown[PATH_MAX];
	int	 sfd, jfd, ffd;

	if ((sfd = walk_dir(ctx, statedir, WALK_SECURE)) == -1)
		return -1;
	(void)pathf(shown, "%s/%s", statedir, JAIL_DIR);
	if (create)
		jfd = jail_subdir(ctx, sfd, shown, JAIL_DIR, 0711, 0, 0);
	else
		jfd = open_dir_at(ctx, sfd, shown, JAIL_DIR,
		    WALK_SECURE | WALK_QUIET);
	close(sfd);
	if (jfd == -1)
		return -1;
	(void)pathf(shown, "%s/%s/%s", statedir, JAIL_DIR,
	    JAIL_EXEC_NAME);
	if (create)
		ffd = jail_subdir(ctx, jfd, shown, JAIL_EXEC_NAME, 0711, 0, 0);
	else
		ffd = open_dir_at(ctx, jfd, shown, JAIL_EXEC_NAME,
		    WALK_SECURE | WALK_QUIET);
	close(jfd);
	return ffd;
}

/* Directory name below dirfd, made if missing, with this owner and mode. */
static int
jail_subdir(const char *ctx, int dirfd, const char *shown, const char *name,
    mode_t mode, uid_t uid, gid_t gid)
{
	int	 fd, saved_errno;

	if (mkdirat(dirfd, name, mode) == -1 && errno != EEXIST) {
		log_warn("%s: mkdir %s", ctx, shown);
		return -1;
	}
	if ((fd = open_dir_at(ctx, dirfd, shown, name, 0)) == -1)
		return -1;
	if (fd_own(fd, uid, gid, mode) == -1) {
		saved_errno = errno;
		log_warn("%s: %s: chown/chmod", ctx, shown);
		close(fd);
		errno = saved_errno;
		return -1;
	}
	return fd;
}

/*
 * Remove entry name below dirfd, whatever it is but a directory: first
 * whatever is mounted on it, then the name.  Missing is fine.
 */
static int
entry_clear(const char *ctx, int dirfd, const char *dirshown,
    const char *name)
{
	char		 p[PROCFD_LEN];
	struct stat	 st;
	int		 fd, i, mnt;

	for (i = 0; i < UMOUNT_ROUNDS; i++) {
		fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1 && errno == ENOENT)
			return 0;
		if (fd == -1) {
			log_warn("%s: %s/%s", ctx, dirshown, name);
			return -1;
		}
		if ((mnt = is_mount_root(fd)) == 0) {
			close(fd);
			break;
		}
		procfd_path(p, sizeof(p), fd);
		if (mnt == -1 || umount2(p, MNT_DETACH) == -1) {
			log_warn("%s: unmount %s/%s", ctx, dirshown, name);
			close(fd);
			return -1;
		}
		close(fd);
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s: %s/%s", ctx, dirshown, name);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		log_warnx("%s: %s/%s: is a directory", ctx, dirshown, name);
		errno = EISDIR;
		return -1;
	}
	if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT) {
		log_warn("%s: unlink %s/%s", ctx, dirshown, name);
		return -1;
	}
	return 0;
}

/* A device node of this type and number, owner and mode; fixed if not. */
static int
jail_mknod(const char *ctx, int dirfd, const char *dirshown, const char *name,
    mode_t type, dev_t dev, uid_t uid, gid_t gid)
{
	struct stat	 st;
	mode_t		 perm = 0600;
	int		 fd, saved_errno;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    ((st.st_mode & S_IFMT) != type || st.st_rdev != dev) &&
	    entry_clear(ctx, dirfd, dirshown, name) == -1)
		return -1;
	if (mknodat(dirfd, name, type | perm, dev) == -1 && errno != EEXIST) {
		log_warn("%s: mknod %s/%s", ctx, dirshown, name);
		return -1;
	}
	if ((fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1) {
		log_warn("%s: %s/%s", ctx, dirshown, name);
		return -1;
	}
	if (fstat(fd, &st) == -1 || (st.st_mode & S_IFMT) != type ||
	    st.st_rdev != dev) {
		log_warnx("%s: %s/%s: changed under us", ctx, dirshown, name);
		close(fd);
		errno = EAGAIN;
		return -1;
	}
	if (fd_own(fd, uid, gid, perm) == -1) {
		saved_errno = errno;
		log_warn("%s: %s/%s: chown/chmod", ctx, dirshown, name);
		close(fd);
		errno = saved_errno;
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Put the file srcfd refers to at name below dirfd: hard-linked if on
 * the same file system, else bind-mounted (nosuid, nodev, noexec, and
 * read-only if ro).  Already there (same inode) is fine.
 */
static int
jail_place(const char *ctx, int dirfd, const char *dirshown, const char *name,
    int srcfd, const struct stat *src, int ro)
{
	struct mount_attr	 attr;
	struct stat		 st;
	int			 fd, tree = -1, saved_errno;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (st.st_dev == src->st_dev && st.st_ino == src->st_ino)
			return 0;
		if (entry_clear(ctx, dirfd, dirshown, name) == -1)
			return -1;
	}
	if (linkat(srcfd, "", dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EXDEV) {
		log_warn("%s: link %s/%s", ctx, dirshown, name);
		return -1;
	}

	if ((fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0400)) == -1) {
		log_warn("%s: create %s/%s", ctx, dirshown, name);
		return -1;
	}
	close(fd);
	if ((tree = open_tree(srcfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
	    AT_EMPTY_PATH)) == -1) {
		log_warn("%s: open_tree for %s/%s", ctx, dirshown, name);
		goto fail;
	}
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
	    MOUNT_ATTR_NOEXEC | (ro ? MOUNT_ATTR_RDONLY : 0);
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) ==
	    -1) {
		log_warn("%s: mount_setattr for %s/%s", ctx, dirshown, name);
		goto fail;
	}
	if (move_mount(tree, "", dirfd, name, MOVE_MOUNT_F_EMPTY_PATH) == -1) {
		log_warn("%s: bind mount %s/%s", ctx, dirshown, name);
		goto fail;
	}
	close(tree);
	return 0;
fail:
	saved_errno = errno;
	if (tree != -1)
		close(tree);
	(void)unlinkat(dirfd, name, 0);
	errno = saved_errno;
	return -1;
}

/*
 * The VM's disk as rootfs in the jail: a block device (its dm device
 * or a loop device on a file under STATE) as a node of the same
 * number, a file under STATE linked or bind-mounted.  Either is the
 * VM's own: owned by its uid and gid.
 */
static int
jail_disk(const char *ctx, const struct jail_spec *js, int rootfd,
    const char *rootshown)
{
	char		 name[NAME_MAX + 1], sys[PATH_MAX], buf[PATH_MAX];
	const char	*disk = js->js_disk, *why, *p;
	struct stat	 st;
	size_t		 len = strlen(disk);
	int		 dfd, fd, ro = js->js_flags & JAIL_F_DISK_RO, rv;
	int		 saved_errno;

	if (valid_dm_path(disk, len, NULL) == 0) {
		p = disk + strlen(DM_DIR);
		(void)snprintf(name, sizeof(name), "%s%s", DM_PREFIX,
		    js->js_vmid);
		if (strcmp(p, name) != 0) {
			log_warnx("%s: disk %s: not this vm's device", ctx,
			    disk);
			errno = EPERM;
			return -1;
		}
		if ((dfd = walk_dir(ctx, "/dev/mapper", 0)) == -1)
			return -1;
		/* udev makes /dev/mapper names symlinks; sysfs says whose. */
		rv = fstatat(dfd, p, &st, 0);
		close(dfd);
		if (rv == -1) {
			log_warn("%s: disk %s", ctx, disk);
			return -1;
		}
		(void)snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/dm/name",
		    major(st.st_rdev), minor(st.st_rdev));
		if (!S_ISBLK(st.st_mode) || read_path(sys, buf,
		    sizeof(buf)) == -1 || (buf[strcspn(buf, "\n")] = '\0',
		    strcmp(buf, name) != 0)) {
			log_warnx("%s: disk %s: not device-mapper's %s", ctx,
			    disk, name);
			errno = EPERM;
			return -1;
		}
	} else if (valid_loop_path(disk, len, NULL) == 0) {
		if ((dfd = walk_dir(ctx, "/dev", 0)) == -1)
			return -1;
		rv = fstatat(dfd, disk + strlen("/dev/"), &st,
		    AT_SYMLINK_NOFOLLOW);
		close(dfd);
		if (rv == -1) {
			log_warn("%s: disk %s", ctx, disk);
			return -1;
		}
		if (!S_ISBLK(st.st_mode)) {
			log_warnx("%s: disk %s: not a block device", ctx,
			    disk);
			errno = EPERM;
			return -1;
		}
		(void)snprintf(sys, sizeof(sys),
		    "/sys/dev/block/%u:%u/loop/backing_file",
		    major(st.st_rdev), minor(st.st_rdev));
		if (read_path(sys, buf, sizeof(buf)) == -1) {
			log_warnx("%s: disk %s: not an attached loop device",
			    ctx, disk);
			errno = EPERM;
			return -1;
		}
		buf[strcspn(buf, "\n")] = '\0';
		if (valid_path_under(js->js_statedir, buf, 0, &why) == -1) {
			log_warnx("%s: disk %s: backing file %s: %s", ctx,
			    disk, buf, why);
			errno = EPERM;
			return -1;
		}
	} else {
		if ((fd = open_file(ctx, disk, &st)) == -1)
			return -1;
		if (!S_ISREG(st.st_mode)) {
			log_warnx("%s: disk %s: not a regular file", ctx,
			    disk);
			close(fd);
			errno = EPERM;
			return -1;
		}
		rv = jail_place(ctx, rootfd, rootshown, JAIL_DISK, fd, &st, ro);
		if (rv == 0 && (rv = fd_own(fd, js->js_uid, js->js_gid,
		    ro ? 0400 : 0600)) == -1)
			log_warn("%s: disk %s: chown/chmod", ctx, disk);
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
		return rv;
	}
	if (jail_mknod(ctx, rootfd, rootshown, JAIL_DISK, S_IFBLK, st.st_rdev,
	    js->js_uid, js->js_gid) == -1)
		return -1;
	if (ro && (fd = openat(rootfd, JAIL_DISK, O_PATH | O_NOFOLLOW |
	    O_CLOEXEC)) != -1) {
		rv = fd_chmod(fd, 0400);
		close(fd);
		if (rv == -1) {
			log_warn("%s: %s/%s: chmod", ctx, rootshown, JAIL_DISK);
			return -1;
		}
	}
	return 0;
}

int
fc_exec_check(const char *path, int *fdp)
{
	const char	*ctx = "exec check", *why, *base;
	char		 dir[PATH_MAX];
	struct stat	 st;
	int		 dfd, fd, saved_errno;

	if (fdp == NULL || path_split(path, dir, &base, &why) == -1) {
		log_warnx("%s: %s: %s", ctx, path == NULL ? "(null)" : path,
		    fdp == NULL ? "no fd pointer" : why);
		errno = EINVAL;
		return -1;
	}
	if ((dfd = walk_dir(ctx, dir, WALK_SECURE)) == -1)
		return -1;
	fd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	saved_errno = errno;
	close(dfd);
	if (fd == -1) {
		errno = saved_errno;
		log_warn("%s: %s", ctx, path);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s: %s", ctx, path);
		goto fail;
	}
	why = NULL;
	if (S_ISLNK(st.st_mode))
		why = "is a symlink";
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != 0)
		why = "not owned by root";
	else if (st.st_mode & S_IWGRP)
		why = "writable by its group";
	else if (st.st_mode & S_IWOTH)
		why = "writable by others";
	else if (st.st_mode & (S_ISUID | S_ISGID))
		why = "set-user-id or set-group-id";
	else if ((st.st_mode & 0111) == 0)
		why = "not executable";
	if (why != NULL) {
		log_warnx("%s: %s: %s", ctx, path, why);
		errno = S_ISLNK(st.st_mode) ? ELOOP : EPERM;
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return -1;
}

int
jail_prepare(const struct jail_spec *js)
{
	char		 ctx[32], vshown[PATH_MAX], rshown[PATH_MAX];
	char		 shown[PATH_MAX];
	struct stat	 st;
	int		 ffd = -1, vfd = -1, rfd = -1, dfd = -1, nfd = -1;
	int		 runfd = -1, kfd = -1, saved_errno;

	if (spec_check(js, ctx, sizeof(ctx)) == -1)
		return -1;
	(void)pathf(vshown, "%s/%s/%s/%s",
	    js->js_statedir, JAIL_DIR, JAIL_EXEC_NAME, js->js_vmid);
	(void)pathf(rshown, "%s/%s", vshown, JAIL_ROOT);

	if ((ffd = jail_base(ctx, js->js_statedir, 1)) == -1)
		goto fail;
	if ((vfd = jail_subdir(ctx, ffd, vshown, js->js_vmid, 0711, 0,
	    0)) == -1)
		goto fail;
	if ((rfd = jail_subdir(ctx, vfd, rshown, JAIL_ROOT, 0711, 0, 0)) == -1)
		goto fail;
	(void)pathf(shown, "%s/dev", rshown);
	if ((dfd = jail_subdir(ctx, rfd, shown, "dev", 0711, 0, 0)) == -1)
		goto fail;
	(void)pathf(shown, "%s/dev/net", rshown);
	if ((nfd = jail_subdir(ctx, dfd, shown, "net", 0711, 0, 0)) == -1)
		goto fail;
	(void)pathf(shown, "%s/run", rshown);
	if ((runfd = jail_subdir(ctx, rfd, shown, "run", 0711, js->js_uid,
	    js->js_gid)) == -1)
		goto fail;

	/* The jailer makes the nodes itself, and fails if they exist. */
	if (js->js_jailer[0] == '\0') {
		(void)pathf(shown, "%s/dev", rshown);
		if (jail_mknod(ctx, dfd, shown, "kvm", S_IFCHR,
		    makedev(10, 232), js->js_uid, js->js_gid) == -1 ||
		    jail_mknod(ctx, dfd, shown, "urandom", S_IFCHR,
		    makedev(1, 9), js->js_uid, js->js_gid) == -1)
			goto fail;
		(void)pathf(shown, "%s/dev/net", rshown);
		if (jail_mknod(ctx, nfd, shown, "tun", S_IFCHR,
		    makedev(10, 200), js->js_uid, js->js_gid) == -1)
			goto fail;
	}

	if ((kfd = open_file(ctx, js->js_kernel, &st)) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || (st.st_mode & S_IROTH) == 0) {
		log_warnx("%s: kernel %s: %s", ctx, js->js_kernel,
		    !S_ISREG(st.st_mode) ? "not a regular file" :
		    "not readable by others (firecracker runs as the vm)");
		errno = EPERM;
		goto fail;
	}
	if (jail_place(ctx, rfd, rshown, JAIL_KERNEL, kfd, &st, 1) == -1)
		goto fail;
	close(kfd);
	kfd = -1;
	if (js->js_initrd[0] != '\0') {
		if ((kfd = open_file(ctx, js->js_initrd, &st)) == -1)
			goto fail;
		if (!S_ISREG(st.st_mode) || (st.st_mode & S_IROTH) == 0) {
			log_warnx("%s: initrd %s: %s", ctx, js->js_initrd,
			    !S_ISREG(st.st_mode) ? "not a regular file" :
			    "not readable by others (firecracker runs as "
			    "the vm)");
			errno = EPERM;
			goto fail;
		}
		if (jail_place(ctx, rfd, rshown, JAIL_INITRD, kfd, &st, 1) ==
		    -1)
			goto fail;
		close(kfd);
		kfd = -1;
	} else if (entry_clear(ctx, rfd, rshown, JAIL_INITRD) == -1)
		goto fail;

	if (jail_disk(ctx, js, rfd, rshown) == -1)
		goto fail;

	close(runfd);
	close(nfd);
	close(dfd);
	close(rfd);
	close(vfd);
	close(ffd);
	log_debug("%s: jail %s ready", ctx, rshown);
	return 0;
fail:
	saved_errno = errno;
	if (kfd != -1)
		close(kfd);
	if (runfd != -1)
		close(runfd);
	if (nfd != -1)
		close(nfd);
	if (dfd != -1)
		close(dfd);
	if (rfd != -1)
		close(rfd);
	if (vfd != -1)
		close(vfd);
	if (ffd != -1)
		close(ffd);
	errno = saved_errno;
	return -1;
}

/*
 * What a jailer run left in the jail root and the next one would fail
 * on: the nodes it makes, its pid file, its copy of Firecracker.
 */
static int
jailer_clear(const char *ctx, int rfd, const char *rshown)
{
	static const char *const top[] = { JAILER_PIDFILE, JAIL_EXEC_NAME };
	static const char *const dev[] = { "kvm", "urandom", "userfaultfd" };
	char	 shown[PATH_MAX];
	size_t	 i;
	int	 dfd, nfd, rv = 0;

	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		if (entry_clear(ctx, rfd, rshown, top[i]) == -1)
			return -1;
	(void)pathf(shown, "%s/dev", rshown);
	if ((dfd = open_dir_at(ctx, rfd, shown, "dev", WALK_QUIET)) == -1)
		return errno == ENOENT ? 0 : -1;
	for (i = 0; i < sizeof(dev) / sizeof(dev[0]) && rv == 0; i++)
		rv = entry_clear(ctx, dfd, shown, dev[i]);
	(void)pathf(shown, "%s/dev/net", rshown);
	if (rv == 0 && (nfd = open_dir_at(ctx, dfd, shown, "net",
	    WALK_QUIET)) != -1) {
		rv = entry_clear(ctx, nfd, shown, "tun");
		close(nfd);
	} else if (rv == 0 && errno != ENOENT)
		rv = -1;
	close(dfd);
	return rv;
}

/* A directory of the cgroup2 hierarchy, opened; anything else is refused. */
static int
cgroup_root(const char *ctx, const char *cgroot, int flags)
{
	struct statfs	 sfs;
	int		 fd;

	if ((fd = walk_dir(ctx, cgroot, WALK_SECURE | flags)) == -1)
		return -1;
	if (fstatfs(fd, &sfs) == -1) {
		log_warn("%s: cgroup root %s", ctx, cgroot);
		close(fd);
		return -1;
	}
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		log_warnx("%s: cgroup root %s: not a cgroup2 mount "
		    "(cgroup v1 or a hybrid layout?)", ctx, cgroot);
		close(fd);
		errno = ENOTSUP;
		return -1;
	}
	return fd;
}

/*
 * Enable the wanted controllers for dirfd's children.  With partial, a
 * controller that cannot be enabled is dropped from want, and said.
 */
static int
cgroup_enable(const char *ctx, int dirfd, const char *shown, int *want,
    int partial)
{
	char	 buf[512], op[32];
	size_t	 i;

	if (read_at(dirfd, "cgroup.subtree_control", buf, sizeof(buf)) ==
	    -1) {
		log_warn("%s: %s/cgroup.subtree_control", ctx, shown);
		return -1;
	}
	for (i = 0; i < CG_NCTRL; i++) {
		if (!want[i] || word_in(buf, cg_controllers[i]))
			continue;
		(void)snprintf(op, sizeof(op), "+%s", cg_controllers[i]);
		if (write_at(dirfd, "cgroup.subtree_control", op) == -1) {
			if (partial) {
				log_warn("%s: %s/cgroup.subtree_control: %s: "
				    "no %s limit", ctx, shown, op,
				    cg_controllers[i]);
				want[i] = 0;
				continue;
			}
			log_warn("%s: %s/cgroup.subtree_control: %s", ctx,
			    shown, op);
			return -1;
		}
	}
	return 0;
}

/*
 * CGROOT/PARENT/VMID (PARENT is js_cgparent: "banger", or GROUP/vms in
 * a delegated GROUP), opened for CLONE_INTO_CGROUP (the child starts in
 * it: no moment outside).  Controllers are taken from the level above
 * PARENT and enabled there and in PARENT, banger's own levels, never
 * higher.  A controller missing fails the spawn, unless
 * JAIL_F_CGROUP_PARTIAL.  want says which controllers are on; limits
 * says whether to write the VM's limits here (the jailer writes its own).
 */
static int
cgroup_setup(const char *ctx, const struct jail_spec *js, int limits,
    int *want, int *cgfdp)
{
	char		 shown[PATH_MAX], bshown[PATH_MAX], top[PATH_MAX];
	char		 buf[512], val[64];
	const char	*base;
	char		*slash;
	int		 rfd, bfd = -1, vfd = -1, saved_errno;
	int		 created = 0, partial;
	size_t		 i;

	partial = (js->js_flags & JAIL_F_CGROUP_PARTIAL) != 0;
	(void)pathf(bshown, "%s/%s", js->js_cgroot, js->js_cgparent);
	(void)strlcpy(top, bshown, sizeof(top));
	slash = strrchr(top, '/');
	*slash = '\0';
	base = bshown + (slash - top) + 1;
	if ((rfd = cgroup_root(ctx, top, 0)) == -1)
		return -1;
	if (read_at(rfd, "cgroup.controllers", buf, sizeof(buf)) == -1) {
		log_warn("%s: %s/cgroup.controllers", ctx, top);
		goto fail;
	}
	for (i = 0; i < CG_NCTRL; i++) {
		if ((want[i] = word_in(buf, cg_controllers[i])))
			continue;
		if (partial) {
			log_warnx("%s: cgroup2 at %s has no %s controller: "
			    "no %s limit", ctx, top, cg_controllers[i],
			    cg_controllers[i]);
			continue;
		}
		log_warnx("%s: cgroup2 at %s has no %s controller "
		    "(bound to a cgroup v1 hierarchy?)", ctx, top,
		    cg_controllers[i]);
		errno = ENOTSUP;
		goto fail;
	}
	if (cgroup_enable(ctx, rfd, top, want, partial) == -1)
		goto fail;
	if ((bfd = jail_subdir(ctx, rfd, bshown, base, 0755, 0, 0)) == -1)
		goto fail;
	if (cgroup_enable(ctx, bfd, bshown, want, partial) == -1)
		goto fail;

	(void)pathf(shown, "%s/%s", bshown, js->js_vmid);
	if (mkdirat(bfd, js->js_vmid, 0755) == 0)
		created = 1;
	else if (errno != EEXIST) {
		log_warn("%s: mkdir %s", ctx, shown);
		goto fail;
	}
	if ((vfd = open_dir_at(ctx, bfd, shown, js->js_vmid, WALK_SECURE)) ==
	    -1)
		goto fail;
	close(vfd);
	/* CLONE_INTO_CGROUP wants a real directory fd, not O_PATH. */
	if ((vfd = openat(bfd, js->js_vmid, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("%s: %s", ctx, shown);
		goto fail;
	}
	/* Whose it is, for the sweep of a bangerd sharing the parent. */
	if (js->js_cgmark[0] != '\0' && fsetxattr(vfd, "trusted.banger",
	    js->js_cgmark, strlen(js->js_cgmark), 0) == -1)
		log_debug("%s: %s: trusted.banger: %s", ctx, shown,
		    strerror(errno));
	if (!created) {
		if (read_at(vfd, "cgroup.procs", buf, sizeof(buf)) == -1) {
			log_warn("%s: %s/cgroup.procs", ctx, shown);
			goto fail;
		}
		if (buf[0] != '\0') {
			log_warnx("%s: cgroup %s still has processes", ctx,
			    shown);
			errno = EBUSY;
			goto fail;
		}
	}
	for (i = 0; limits && i < CG_NCTRL; i++) {
		if (!want[i])
			continue;
		if (strcmp(cg_controllers[i], "cpu") == 0)
			(void)snprintf(val, sizeof(val), "%d 100000",
			    js->js_cpus * 100000);
		else if (strcmp(cg_controllers[i], "memory") == 0)
			(void)snprintf(val, sizeof(val), "%llu",
			    (unsigned long long)(js->js_memory +
			    JAIL_MEM_EXTRA) << 20);
		else
			(void)snprintf(val, sizeof(val), "%d",
			    JAIL_PIDS_BASE + js->js_cpus);
		(void)snprintf(buf, sizeof(buf), "%s.max", cg_controllers[i]);
		if (write_at(vfd, buf, val) == -1) {
			log_warn("%s: %s/%s: %s", ctx, shown, buf, val);
			goto fail;
		}
	}
	close(bfd);
	close(rfd);
	*cgfdp = vfd;
	return 0;
fail:
	saved_errno = errno;
	if (vfd != -1)
		close(vfd);
	if (created)
		(void)unlinkat(bfd, js->js_vmid, AT_REMOVEDIR);
	if (bfd != -1)
		close(bfd);
	close(rfd);
	errno = saved_errno;
	return -1;
}

/* A pty in raw mode: the master for the caller, the slave for the child. */
static int
pty_open(const char *ctx, int *masterp, int *slavep)
{
	struct termios	 tio;
	char		 name[64];
	int		 m, s = -1, saved_errno;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		log_warn("%s: posix_openpt", ctx);
		return -1;
	}
	if (grantpt(m) == -1 || unlockpt(m) == -1 ||
	    ptsname_r(m, name, sizeof(name)) != 0) {
		log_warn("%s: pty", ctx);
		goto fail;
	}
	if ((s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		log_warn("%s: %s", ctx, name);
		goto fail;
	}
	if (tcgetattr(s, &tio) == -1) {
		log_warn("%s: tcgetattr %s", ctx, name);
		goto fail;
	}
	cfmakeraw(&tio);
	if (tcsetattr(s, TCSANOW, &tio) == -1) {
		log_warn("%s: tcsetattr %s", ctx, name);
		goto fail;
	}
	*masterp = m;
	*slavep = s;
	return 0;
fail:
	saved_errno = errno;
	if (s != -1)
		close(s);
	close(m);
	errno = saved_errno;
	return -1;
}

/* Move *fdp above 0-2 (close-on-exec), where the child's dup2s go. */
static int
fd_above_stdio(int *fdp)
{
	int	 fd;

	if (*fdp > 2)
		return 0;
	if ((fd = fcntl(*fdp, F_DUPFD_CLOEXEC, 3)) == -1)
		return -1;
	close(*fdp);
	*fdp = fd;
	return 0;
}

/* In the child: report the failed step, end. */
static void
spawn_fail(const struct spawn_args *sa, int step)
{
	struct spawn_report	 sr;

	sr.sr_step = step;
	sr.sr_errno = errno;
	(void)!write(sa->sa_errfd, &sr, sizeof(sr));
	_exit(127);
}

/*
 * The child, pid 1 of its own pid namespace, in its own mount and ipc
 * namespaces and already in its cgroup.  System calls only from here
 * on (the raw ones where glibc would act for other threads).
 */
static void
spawn_child(const struct spawn_args *sa)
{
	struct sigaction	 act;
	struct rlimit		 rl;
	sigset_t		 set;
	int			 i;

	if (setsid() == -1)
		spawn_fail(sa, ST_SETSID);
	for (i = 0; i < 3; i++)
		if (dup2(sa->sa_slave, i) == -1)
			spawn_fail(sa, ST_STDIO);
	/* All but 0-2 close at exec, the binary and error pipe included. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
		spawn_fail(sa, ST_CLOSE);

	/* Ignored signals and the mask survive exec; reset both. */
	memset(&act, 0, sizeof(act));
	act.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			(void)sigaction(i, &act, NULL);
	sigemptyset(&set);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
	(void)umask(077);

	rl.rlim_cur = rl.rlim_max = sa->sa_nofile;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		spawn_fail(sa, ST_RLIMIT);
	rl.rlim_cur = rl.rlim_max = sa->sa_fsize;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		spawn_fail(sa, ST_RLIMIT);
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		spawn_fail(sa, ST_RLIMIT);

	if (!sa->sa_jailer) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
			spawn_fail(sa, ST_MOUNT_PRIVATE);
		/* pivot_root wants a mount point; bring the mounts in it. */
		if (mount(sa->sa_root, sa->sa_root, NULL, MS_BIND | MS_REC,
		    NULL) == -1)
			spawn_fail(sa, ST_BIND_ROOT);
		if (chdir(sa->sa_root) == -1)
			spawn_fail(sa, ST_CHDIR_ROOT);
		if (syscall(SYS_pivot_root, ".", ".") == -1)
			spawn_fail(sa, ST_PIVOT);
		/* The old root is stacked on "."; detach it. */
		if (umount2(".", MNT_DETACH) == -1)
			spawn_fail(sa, ST_DETACH_OLD);
		if (chdir("/") == -1)
			spawn_fail(sa, ST_CHDIR_ROOT);

		for (i = 0; prctl(PR_CAPBSET_READ, i, 0, 0, 0) >= 0; i++)
			if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) == -1)
				spawn_fail(sa, ST_CAPS);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0,
		    0) == -1)
			spawn_fail(sa, ST_CAPS);
		if (syscall(SYS_setgroups, 0, NULL) == -1)
			spawn_fail(sa, ST_SETGROUPS);
		if (syscall(SYS_setresgid, sa->sa_gid, sa->sa_gid,
		    sa->sa_gid) == -1)
			spawn_fail(sa, ST_SETGID);
		if (syscall(SYS_setresuid, sa->sa_uid, sa->sa_uid,
		    sa->sa_uid) == -1)
			spawn_fail(sa, ST_SETUID);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		spawn_fail(sa, ST_NNP);
	syscall(SYS_execveat, sa->sa_exefd, "", sa->sa_argv, sa->sa_envp,
	    AT_EMPTY_PATH);
	spawn_fail(sa, ST_EXEC);
}

/*
 * Start Firecracker in its jail: *reportfd gets the read end of the
 * child's report pipe, readable once the child has executed Firecracker
 * (end of file) or failed before it; fc_spawn_done() reads it.  The
 * parent's event loop waits for it, not a blocking read: the child's
 * mounts, pivot_root and exec take milliseconds, other VMs' requests
 * are served meanwhile.
 */
int
fc_spawn_start(const struct jail_spec *js, int exefd, struct fc_proc *fp,
    int *reportfd)
{
	struct clone_args	 ca;
	struct spawn_args	 sa;
	struct jailer_strs	 jstr;
	struct stat		 st;
	char			 ctx[32], shown[PATH_MAX];
	const char		*why = NULL;
	int			 ffd = -1, vfd = -1, rfd = -1, runfd = -1;
	int			 cgfd = -1, master = -1, slave = -1, exe = -1;
	int			 ep[2] = { -1, -1 }, pidfd = -1, argc = 0;
	int			 saved_errno, fcfd;
	int			 want[CG_NCTRL] = { 0 };
	size_t			 i;
	long			 pid;

	*reportfd = -1;

	if (spec_check(js, ctx, sizeof(ctx)) == -1)
		return -1;
	if (fp == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	memset(fp, 0, sizeof(*fp));
	fp->fp_pidfd = fp->fp_ptyfd = -1;

	/* The descriptor from fc_exec_check(), checked again. */
	if (fstat(exefd, &st) == -1) {
		log_warn("%s: executable fd", ctx);
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != 0)
		why = "not owned by root";
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		why = "writable by group or others";
	if (why != NULL) {
		log_warnx("%s: executable fd: %s", ctx, why);
		errno = EPERM;
		return -1;
	}
	if (js->js_jailer[0] != '\0') {
		/* The jailer copies it by path: check it all the same. */
		if (fc_exec_check(js->js_firecracker, &fcfd) == -1)
			return -1;
		close(fcfd);
	}

	/* The jail, as jail_prepare() left it. */
	(void)pathf(shown, "%s/%s/%s/%s", js->js_statedir,
	    JAIL_DIR, JAIL_EXEC_NAME, js->js_vmid);
	if ((ffd = jail_base(ctx, js->js_statedir, 0)) == -1 ||
	    (vfd = open_dir_at(ctx, ffd, shown, js->js_vmid,
	    WALK_SECURE)) == -1)
		goto fail;
	(void)strlcat(shown, "/" JAIL_ROOT, sizeof(shown));
	if ((rfd = open_dir_at(ctx, vfd, shown, JAIL_ROOT,
	    js->js_jailer[0] == '\0' ? WALK_SECURE : 0)) == -1)
		goto fail;
	(void)strlcpy(sa.sa_root, shown, sizeof(sa.sa_root));
	(void)strlcat(shown, "/run", sizeof(shown));
	if ((runfd = open_dir_at(ctx, rfd, shown, "run", 0)) == -1 ||
	    entry_clear(ctx, runfd, shown, API_SOCK_NAME) == -1)
		goto fail;
	if (js->js_jailer[0] != '\0' &&
	    jailer_clear(ctx, rfd, sa.sa_root) == -1)
		goto fail;

	/* Firecracker writes no file but the disk, and never grows it. */
	sa.sa_fsize = RLIM_INFINITY;
	if (fstatat(rfd, JAIL_DISK, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size > 0)
		sa.sa_fsize = (st.st_size + MIB - 1) & ~(off_t)(MIB - 1);
	sa.sa_nofile = js->js_nofile != 0 ? js->js_nofile : JAIL_NOFILE;
	sa.sa_uid = js->js_uid;
	sa.sa_gid = js->js_gid;
	sa.sa_jailer = js->js_jailer[0] != '\0';

	if (js->js_cgroot[0] == '\0')
		log_debug("%s: no cgroup root: no cgroup limits", ctx);
	else if (cgroup_setup(ctx, js, !sa.sa_jailer, want, &cgfd) == -1)
		goto fail;
	if (pty_open(ctx, &master, &slave) == -1)
		goto fail;
	if (pipe2(ep, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", ctx);
		goto fail;
	}
	/* The child's dup2() onto 0-2 must not clobber what it still needs. */
	if ((exe = fcntl(exefd, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    fd_above_stdio(&slave) == -1 || fd_above_stdio(&ep[1]) == -1) {
		log_warn("%s: dup", ctx);
		goto fail;
	}
	sa.sa_exefd = exe;
	sa.sa_slave = slave;
	sa.sa_errfd = ep[1];

	if (!sa.sa_jailer) {
		sa.sa_argv[argc++] = (char *)JAIL_ARGV0;
		sa.sa_argv[argc++] = (char *)"--api-sock";
		sa.sa_argv[argc++] = (char *)JAIL_API_SOCK;
		sa.sa_argv[argc++] = (char *)"--id";
		sa.sa_argv[argc++] = (char *)js->js_vmid;
	} else {
		/*
		 * No --new-pid-ns: the jailer would fork Firecracker and
		 * exit, orphaning it.  Our clone3 gives the new pid
		 * namespace, and the jailer execs Firecracker in place,
		 * so pid, pidfd and start time stay Firecracker's.
		 */
		(void)snprintf(jstr.jst_uid, sizeof(jstr.jst_uid), "%u",
		    (unsigned)js->js_uid);
		(void)snprintf(jstr.jst_gid, sizeof(jstr.jst_gid), "%u",
		    (unsigned)js->js_gid);
		(void)pathf(jstr.jst_base, "%s/%s",
		    js->js_statedir, JAIL_DIR);
		(void)snprintf(jstr.jst_cpu, sizeof(jstr.jst_cpu),
		    "cpu.max=%d 100000", js->js_cpus * 100000);
		(void)snprintf(jstr.jst_mem, sizeof(jstr.jst_mem),
		    "memory.max=%llu", (unsigned long long)(js->js_memory +
		    JAIL_MEM_EXTRA) << 20);
		(void)snprintf(jstr.jst_pids, sizeof(jstr.jst_pids),
		    "pids.max=%d", JAIL_PIDS_BASE + js->js_cpus);
		(void)snprintf(jstr.jst_nofile, sizeof(jstr.jst_nofile),
		    "no-file=%llu", (unsigned long long)sa.sa_nofile);
		(void)snprintf(jstr.jst_fsize, sizeof(jstr.jst_fsize),
		    "fsize=%llu", (unsigned long long)sa.sa_fsize);
		sa.sa_argv[argc++] = (char *)"jailer";
		sa.sa_argv[argc++] = (char *)"--id";
		sa.sa_argv[argc++] = (char *)js->js_vmid;
		sa.sa_argv[argc++] = (char *)"--exec-file";
		sa.sa_argv[argc++] = (char *)js->js_firecracker;
		sa.sa_argv[argc++] = (char *)"--uid";
		sa.sa_argv[argc++] = jstr.jst_uid;
		sa.sa_argv[argc++] = (char *)"--gid";
		sa.sa_argv[argc++] = jstr.jst_gid;
		sa.sa_argv[argc++] = (char *)"--chroot-base-dir";
		sa.sa_argv[argc++] = jstr.jst_base;
		sa.sa_argv[argc++] = (char *)"--cgroup-version";
		sa.sa_argv[argc++] = (char *)"2";
		/*
		 * The jailer makes MOUNT/PARENT/VMID, which we already
		 * made and clone it into, and writes the limits of the
		 * controllers that are on (it fails on any other).
		 */
		if (js->js_cgroot[0] != '\0') {
			sa.sa_argv[argc++] = (char *)"--parent-cgroup";
			sa.sa_argv[argc++] = (char *)js->js_cgparent;
			for (i = 0; i < CG_NCTRL; i++) {
				if (!want[i])
					continue;
				sa.sa_argv[argc++] = (char *)"--cgroup";
				sa.sa_argv[argc++] = i == 0 ? jstr.jst_cpu :
				    i == 1 ? jstr.jst_mem : jstr.jst_pids;
			}
		}
		sa.sa_argv[argc++] = (char *)"--resource-limit";
		sa.sa_argv[argc++] = jstr.jst_nofile;
		if (sa.sa_fsize != RLIM_INFINITY) {
			sa.sa_argv[argc++] = (char *)"--resource-limit";
			sa.sa_argv[argc++] = jstr.jst_fsize;
		}
		sa.sa_argv[argc++] = (char *)"--";
		sa.sa_argv[argc++] = (char *)"--api-sock";
		sa.sa_argv[argc++] = (char *)JAIL_API_SOCK;
	}
	sa.sa_argv[argc] = NULL;
	sa.sa_envp[0] = NULL;

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PIDFD | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	if (cgfd != -1) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = cgfd;
	}
	if ((pid = syscall(SYS_clone3, &ca, sizeof(ca))) == -1) {
		log_warn("%s: clone3", ctx);
		goto fail;
	}
	if (pid == 0)
		spawn_child(&sa);

	/* The child has its own copies of what it still needs. */
	close(slave);
	close(ep[1]);
	fp->fp_pid = pid;
	fp->fp_pidfd = pidfd;
	fp->fp_ptyfd = master;
	(void)strlcpy(fp->fp_vmid, js->js_vmid, sizeof(fp->fp_vmid));
	*reportfd = ep[0];
	close(exe);
	if (cgfd != -1)
		close(cgfd);
	close(runfd);
	close(rfd);
	close(vfd);
	close(ffd);
	log_debug("%s: spawned pid %ld%s", ctx, pid,
	    sa.sa_jailer ? " (jailer)" : "");
	return 0;
fail:
	saved_errno = errno;
	if (pidfd != -1)
		close(pidfd);
	if (ep[0] != -1)
		close(ep[0]);
	if (ep[1] != -1)
		close(ep[1]);
	if (exe != -1)
		close(exe);
	if (slave != -1)
		close(slave);
	if (master != -1)
		close(master);
	if (cgfd != -1) {
		close(cgfd);
		(void)fc_cgroup_remove(js->js_cgroot, js->js_cgparent,
		    js->js_vmid);
	}
	if (runfd != -1)
		close(runfd);
	if (rfd != -1)
		close(rfd);
	if (vfd != -1)
		close(vfd);
	if (ffd != -1)
		close(ffd);
	errno = saved_errno;
	return -1;
}

/*
 * The child's report, once reportfd is readable (or to wait for it):
 * 0 if it executed Firecracker, whose start time fp now holds; -1 with
 * errno if it failed before, the child reaped and fp closed.  Closes
 * reportfd either way.
 */
int
fc_spawn_done(struct fc_proc *fp, int reportfd)
{
	struct spawn_report	 sr;
	siginfo_t		 si;
	char			 ctx[32];
	ssize_t			 n;
	int			 saved_errno, status;

	(void)snprintf(ctx, sizeof(ctx), "vm %s", fp->fp_vmid);
	while ((n = read(reportfd, &sr, sizeof(sr))) == -1 && errno == EINTR)
		;
	close(reportfd);
	if (n != 0) {
		if (n == (ssize_t)sizeof(sr) && sr.sr_step >= 0 &&
		    sr.sr_step < ST_MAX) {
			errno = sr.sr_errno;
			log_warn("%s: spawn: %s", ctx,
			    spawn_steps[sr.sr_step]);
		} else
			log_warnx("%s: spawn: child failed before exec", ctx);
		saved_errno = n == (ssize_t)sizeof(sr) ? sr.sr_errno : EIO;
		while (waitid(P_PIDFD, fp->fp_pidfd, &si, WEXITED) == -1 &&
		    errno == EINTR)
			;
		fc_close(fp);
		fp->fp_pid = 0;
		errno = saved_errno;
		return -1;
	}
	if (proc_starttime(fp->fp_pid, &fp->fp_starttime) == -1) {
		/* Only if it died and was reaped behind our back. */
		log_warn("%s: pid %ld start time", ctx, (long)fp->fp_pid);
		saved_errno = errno;
		(void)pidfd_send_signal(fp->fp_pidfd, SIGKILL, NULL, 0);
		(void)fc_wait(fp, -1, &status);
		fc_close(fp);
		fp->fp_pid = 0;
		errno = saved_errno;
		return -1;
	}
	log_info("%s: firecracker started, pid %ld", ctx, (long)fp->fp_pid);
	return 0;
}

/* fc_spawn_start(), and its report waited for. */
int
fc_spawn(const struct jail_spec *js, int exefd, struct fc_proc *fp)
{
	int	 reportfd;

	if (fc_spawn_start(js, exefd, fp, &reportfd) == -1)
		return -1;
	return fc_spawn_done(fp, reportfd);
}

/*
 * Through the pidfd only.  Firecracker is pid 1 of its namespace: a
 * signal it has no handler for is dropped, even from here, but for
 * SIGKILL (and SIGSTOP); see fc_stop().
 */
int
fc_signal(struct fc_proc *fp, int sig)
{
	if (fp == NULL || fp->fp_pidfd < 0) {
		errno = EBADF;
		return -1;
	}
	switch (sig) {
	case SIGTERM:
	case SIGKILL:
	case SIGINT:
	case SIGHUP:
	case SIGCONT:
		break;
	default:
		log_warnx("vm %s: signal %d not allowed", fp->fp_vmid, sig);
		errno = EINVAL;
		return -1;
	}
	if (pidfd_send_signal(fp->fp_pidfd, sig, NULL, 0) == -1) {
		if (errno == ESRCH && (sig == SIGKILL || sig == SIGTERM))
			return 0;
		log_warn("vm %s: signal %d to pid %ld", fp->fp_vmid, sig,
		    (long)fp->fp_pid);
		return -1;
	}
	return 0;
}

/*
 * Wait up to timeout ms (-1: no limit) for the process to end, and reap
 * it.  *statusp gets a wait(2) status, or -1 if it was not our child
 * (adopted) or was reaped elsewhere.  -1 with ETIMEDOUT if still running.
 */
int
fc_wait(struct fc_proc *fp, int timeout, int *statusp)
{
	struct pollfd	 pfd;
	siginfo_t	 si;
	int		 n;

	if (fp == NULL || fp->fp_pidfd < 0) {
		errno = EBADF;
		return -1;
	}
	pfd.fd = fp->fp_pidfd;
	pfd.events = POLLIN;
	while ((n = poll(&pfd, 1, timeout)) == -1 && errno == EINTR)
		;
	if (n == -1) {
		log_warn("vm %s: poll pidfd", fp->fp_vmid);
		return -1;
	}
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, fp->fp_pidfd, &si, WEXITED | WNOHANG) == -1) {
		if (errno != ECHILD) {
			log_warn("vm %s: waitid", fp->fp_vmid);
			return -1;
		}
		si.si_pid = 0;
	}
	if (statusp != NULL) {
		if (si.si_pid == 0)
			*statusp = -1;
		else if (si.si_code == CLD_EXITED)
			*statusp = (si.si_status & 0xff) << 8;
		else
			*statusp = si.si_status & 0x7f;
	}
	return 0;
}

/* SIGTERM, and SIGKILL if it is still there after grace ms. */
int
fc_stop(struct fc_proc *fp, int grace, int *statusp)
{
	if (fc_signal(fp, SIGTERM) == -1)
		return -1;
	if (fc_wait(fp, grace, statusp) == 0)
		return 0;
	if (errno != ETIMEDOUT)
		return -1;
	log_warnx("vm %s: pid %ld still running %d ms after SIGTERM; killing "
	    "it", fp->fp_vmid, (long)fp->fp_pid, grace);
	if (fc_signal(fp, SIGKILL) == -1)
		return -1;
	return fc_wait(fp, -1, statusp);
}

void
fc_close(struct fc_proc *fp)
{
	if (fp == NULL)
		return;
	if (fp->fp_pidfd != -1)
		close(fp->fp_pidfd);
	if (fp->fp_ptyfd != -1)
		close(fp->fp_ptyfd);
	fp->fp_pidfd = fp->fp_ptyfd = -1;
}

/*
 * A Firecracker started before a restart: pid must still be it (argv
 * and start time as recorded), then is pinned by a pidfd, then checked
 * once more so a pid reused in between is not taken.
 */
int
fc_adopt(const char *exe, const char *vmid, pid_t pid,
    unsigned long long starttime, int *pidfdp)
{
	unsigned long long	 now;
	const char		*why;
	int			 fd;

	if (vmid == NULL || valid_vm_id(vmid, strnlen(vmid, VM_ID_LEN + 1),
	    &why) == -1) {
		log_warnx("adopt: vm id: %s", vmid == NULL ? "null" : why);
		errno = EINVAL;
		return -1;
	}
	if (pidfdp == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (valid_fc_process(pid, exe, vmid, starttime, &why) == -1) {
		log_warnx("vm %s: pid %ld is not its firecracker: %s", vmid,
		    (long)pid, why);
		errno = strcmp(why, "no such process") == 0 ? ESRCH : EPERM;
		return -1;
	}
	if ((fd = pidfd_open(pid, 0)) == -1) {
		log_warn("vm %s: pidfd_open %ld", vmid, (long)pid);
		return -1;
	}
	if (proc_starttime(pid, &now) == -1 || now != starttime) {
		log_warnx("vm %s: pid %ld changed while adopted", vmid,
		    (long)pid);
		close(fd);
		errno = ESRCH;
		return -1;
	}
	*pidfdp = fd;
	log_debug("vm %s: adopted firecracker pid %ld", vmid, (long)pid);
	return 0;
}

/*
 * Let the vm worker (group gid) connect to the API socket: group gid,
 * mode 0660, and root/ and run/ searchable by the group if others may
 * not (the jailer makes them 0700).  Only the socket inode opened
 * without following anything is touched.
 */
int
fc_socket_grant(const char *statedir, const char *vmid, gid_t gid)
{
	char		 ctx[32], shown[PATH_MAX], p[PROCFD_LEN];
	const char	*why;
	struct stat	 st;
	int		 ffd = -1, vfd = -1, rfd = -1, runfd = -1, sfd = -1;
	int		 saved_errno;

	if (vm_ctx("socket grant", vmid, ctx, sizeof(ctx)) == -1)
		return -1;
	if (gid == (gid_t)-1 || gid == 0) {
		log_warnx("%s: socket grant: bad gid %u", ctx, (unsigned)gid);
		errno = EINVAL;
		return -1;
	}
	if (statedir_arg(ctx, statedir) == -1)
		return -1;
	(void)pathf(shown, "%s/%s/%s/%s", statedir,
	    JAIL_DIR, JAIL_EXEC_NAME, vmid);
	if ((ffd = jail_base(ctx, statedir, 0)) == -1 ||
	    (vfd = open_dir_at(ctx, ffd, shown, vmid, WALK_SECURE)) == -1)
		goto fail;
	(void)strlcat(shown, "/" JAIL_ROOT, sizeof(shown));
	if ((rfd = open_dir_at(ctx, vfd, shown, JAIL_ROOT, 0)) == -1)
		goto fail;
	if (fstat(rfd, &st) == -1 || ((st.st_mode & S_IXOTH) == 0 &&
	    (fchownat(rfd, "", -1, gid, AT_EMPTY_PATH) == -1 ||
	    fd_chmod(rfd, (st.st_mode & 07777) | S_IXGRP) == -1))) {
		log_warn("%s: %s", ctx, shown);
		goto fail;
	}
	(void)strlcat(shown, "/run", sizeof(shown));
	if ((runfd = open_dir_at(ctx, rfd, shown, "run", 0)) == -1)
		goto fail;
	if (fstat(runfd, &st) == -1 || ((st.st_mode & S_IXOTH) == 0 &&
	    (fchownat(runfd, "", -1, gid, AT_EMPTY_PATH) == -1 ||
	    fd_chmod(runfd, (st.st_mode & 07777) | S_IXGRP) == -1))) {
		log_warn("%s: %s", ctx, shown);
		goto fail;
	}
	(void)strlcat(shown, "/" API_SOCK_NAME, sizeof(shown));
	if ((sfd = openat(runfd, API_SOCK_NAME, O_PATH | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(sfd, &st) == -1) {
		log_warn("%s: %s", ctx, shown);
		goto fail;
	}
	why = NULL;
	if (S_ISLNK(st.st_mode))
		why = "is a symlink";
	else if (!S_ISSOCK(st.st_mode))
		why = "not a socket";
	else if (st.st_nlink != 1)
		why = "has other links";
	if (why != NULL) {
		log_warnx("%s: %s: %s", ctx, shown, why);
		errno = S_ISLNK(st.st_mode) ? ELOOP : EPERM;
		goto fail;
	}
	procfd_path(p, sizeof(p), sfd);
	if (fchownat(sfd, "", -1, gid, AT_EMPTY_PATH) == -1 ||
	    chmod(p, 0660) == -1) {
		log_warn("%s: %s: chown/chmod", ctx, shown);
		goto fail;
	}
	close(sfd);
	close(runfd);
	close(rfd);
	close(vfd);
	close(ffd);
	return 0;
fail:
	saved_errno = errno;
	if (sfd != -1)
		close(sfd);
	if (runfd != -1)
		close(runfd);
	if (rfd != -1)
		close(rfd);
	if (vfd != -1)
		close(vfd);
	if (ffd != -1)
		close(ffd);
	errno = saved_errno;
	return -1;
}

/*
 * Firecracker's log and metrics FIFOs in the jail's run/, before it
 * starts: owned by the VM's uid (Firecracker opens them read-write) and
 * by gid (the vm worker, which reads them), mode 0640.  FIFOs rather
 * than files: the jail goes when the VM stops, and Firecracker, which
 * runs as the VM, could otherwise fill the state file system or keep
 * writing where banger cannot cap it; the vm worker copies what it
 * reads into STATE/vms/ID/, capped.  Whatever had a name is replaced.
 */
int
jail_fifos(const char *statedir, const char *vmid, uid_t uid, gid_t gid)
{
	static const char *const names[] = { JAIL_LOG_NAME,
	    JAIL_METRICS_NAME };
	char		 ctx[32], shown[PATH_MAX];
	struct stat	 st;
	size_t		 i;
	int		 ffd = -1, vfd = -1, rfd = -1, runfd = -1, fd = -1;
	int		 saved_errno;

	if (vm_ctx("fifos", vmid, ctx, sizeof(ctx)) == -1)
		return -1;
	if (uid == 0 || uid == (uid_t)-1 || gid == 0 || gid == (gid_t)-1) {
		log_warnx("%s: fifos: bad owner %u:%u", ctx, (unsigned)uid,
		    (unsigned)gid);
		errno = EINVAL;
		return -1;
	}
	if (statedir_arg(ctx, statedir) == -1)
		return -1;
	(void)pathf(shown, "%s/%s/%s/%s", statedir,
	    JAIL_DIR, JAIL_EXEC_NAME, vmid);
	if ((ffd = jail_base(ctx, statedir, 0)) == -1 ||
	    (vfd = open_dir_at(ctx, ffd, shown, vmid, WALK_SECURE)) == -1)
		goto fail;
	(void)strlcat(shown, "/" JAIL_ROOT, sizeof(shown));
	if ((rfd = open_dir_at(ctx, vfd, shown, JAIL_ROOT,
	    WALK_SECURE)) == -1)
		goto fail;
	(void)strlcat(shown, "/run", sizeof(shown));
	if ((runfd = open_dir_at(ctx, rfd, shown, "run", 0)) == -1)
		goto fail;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (entry_clear(ctx, runfd, shown, names[i]) == -1)
			goto fail;
		if (mkfifoat(runfd, names[i], 0600) == -1) {
			log_warn("%s: mkfifo %s/%s", ctx, shown, names[i]);
			goto fail;
		}
		if ((fd = openat(runfd, names[i], O_PATH | O_NOFOLLOW |
		    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
			log_warn("%s: %s/%s", ctx, shown, names[i]);
			goto fail;
		}
		if (!S_ISFIFO(st.st_mode) || st.st_nlink != 1) {
			log_warnx("%s: %s/%s: changed under us", ctx, shown,
			    names[i]);
			errno = EAGAIN;
			goto fail;
		}
		if (fd_own(fd, uid, gid, 0640) == -1) {
			log_warn("%s: %s/%s: chown/chmod", ctx, shown,
			    names[i]);
			goto fail;
		}
		close(fd);
		fd = -1;
	}
	close(runfd);
	close(rfd);
	close(vfd);
	close(ffd);
	return 0;
fail:
	saved_errno = errno;
	if (fd != -1)
		close(fd);
	if (runfd != -1)
		close(runfd);
	if (rfd != -1)
		close(rfd);
	if (vfd != -1)
		close(vfd);
	if (ffd != -1)
		close(ffd);
	errno = saved_errno;
	return -1;
}

/* CGROOT/PARENT/VMID, once its processes are gone; missing is fine. */
int
fc_cgroup_remove(const char *cgroot, const char *cgparent, const char *vmid)
{
	char		 ctx[32], shown[PATH_MAX];
	const char	*why;
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	int		 rfd, bfd, i, rv, saved_errno;

	if (vm_ctx("cgroup remove", vmid, ctx, sizeof(ctx)) == -1)
		return -1;
	if (cgroot == NULL || cgroot[0] == '\0')
		return 0;
	if (statedir_check(cgroot, &why) == -1) {
		log_warnx("%s: cgroup root %s: %s", ctx, cgroot, why);
		errno = EINVAL;
		return -1;
	}
	if (cgparent_check(cgroot, cgparent, &why) == -1) {
		log_warnx("%s: cgroup %s: %s", ctx, cgparent == NULL ?
		    "null" : cgparent, why);
		errno = EINVAL;
		return -1;
	}
	if ((rfd = cgroup_root(ctx, cgroot, 0)) == -1)
		return -1;
	close(rfd);
	(void)pathf(shown, "%s/%s", cgroot, cgparent);
	if ((bfd = cgroup_root(ctx, shown, WALK_QUIET)) == -1)
		return errno == ENOENT ? 0 : -1;
	/* An exited task may linger in its cgroup for a moment. */
	for (i = 0; i < CG_RMDIR_TRIES; i++) {
		if ((rv = unlinkat(bfd, vmid, AT_REMOVEDIR)) == 0 ||
		    errno != EBUSY)
			break;
		nanosleep(&ts, NULL);
	}
	saved_errno = errno;
	close(bfd);
	if (rv == -1 && saved_errno != ENOENT) {
		errno = saved_errno;
		log_warn("%s: rmdir %s/%s", ctx, shown, vmid);
		return -1;
	}
	return 0;
}

static int
mnt_depth_cmp(const void *a, const void *b)
{
	const char	*sa = *(const char *const *)a;
	const char	*sb = *(const char *const *)b;
	int		 da = 0, db = 0;

	for (; *sa != '\0'; sa++)
		da += *sa == '/';
	for (; *sb != '\0'; sb++)
		db += *sb == '/';
	return db - da;
}

/* Mount points at or below top, deepest first. */
static int
mounts_below(const char *top, char ***listp, size_t *np)
{
	FILE		*fp;
	char		*line = NULL, *p, *e, **list = NULL, **nl;
	size_t		 cap = 0, n = 0, lcap = 0, tlen = strlen(top);
	int		 f, saved_errno;

	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	while (getline(&line, &cap, fp) != -1) {
		for (p = line, f = 1; f < 5 && p != NULL; f++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || (e = strchr(p, ' ')) == NULL)
			continue;
		*e = '\0';
		mountinfo_unescape(p);
		if (strncmp(p, top, tlen) != 0 ||
		    (p[tlen] != '\0' && p[tlen] != '/'))
			continue;
		if (n == lcap) {
			lcap = lcap == 0 ? 8 : lcap * 2;
			if ((nl = reallocarray(list, lcap,
			    sizeof(*list))) == NULL)
				goto fail;
			list = nl;
		}
		if ((list[n] = strdup(p)) == NULL)
			goto fail;
		n++;
	}
	if (ferror(fp))
		goto fail;
	free(line);
	fclose(fp);
	if (n > 0)
		qsort(list, n, sizeof(*list), mnt_depth_cmp);
	*listp = list;
	*np = n;
	return 0;
fail:
	saved_errno = errno;
	mounts_free(list, n);
	free(line);
	fclose(fp);
	errno = saved_errno;
	return -1;
}

static void
mounts_free(char **list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/*
 * Detach the mount at mp, reached from statefd one component at a time
 * without following a symlink, through its descriptor.
 */
static int
unmount_at(const char *ctx, int statefd, const char *statedir,
    const char *mp)
{
	char		 rel[PATH_MAX], p[PROCFD_LEN];
	char		*c, *e;
	struct stat	 st;
	int		 fd, nfd, last, mnt, saved_errno;

	(void)strlcpy(rel, mp + strlen(statedir) + 1, sizeof(rel));
	if ((fd = dup(statefd)) == -1)
		return -1;
	for (c = rel, last = 0; !last; c = e + 1) {
		if ((e = strchr(c, '/')) == NULL) {
			e = c + strlen(c);
			last = 1;
		}
		*e = '\0';
		nfd = openat(fd, c, O_PATH | O_NOFOLLOW | O_CLOEXEC |
		    (last ? 0 : O_DIRECTORY));
		saved_errno = errno;
		close(fd);
		if (nfd == -1 && saved_errno == ENOENT)
			return 0;	/* hidden by a mount above it */
		if (nfd == -1 && saved_errno == ENOTDIR) {
			log_warnx("%s: %s: %s is a symlink or not a "
			    "directory: not unmounted", ctx, mp, c);
			errno = ELOOP;
			return -1;
		}
		if (nfd == -1) {
			errno = saved_errno;
			log_warn("%s: %s", ctx, mp);
			return -1;
		}
		fd = nfd;
	}
	if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
		log_warnx("%s: %s: is a symlink: not unmounted", ctx, mp);
		close(fd);
		errno = ELOOP;
		return -1;
	}
	if ((mnt = is_mount_root(fd)) != 1) {
		saved_errno = errno;
		close(fd);
		if (mnt == 0)
			return 0;	/* went with a parent's detach */
		errno = saved_errno;
		log_warn("%s: %s", ctx, mp);
		return -1;
	}
	procfd_path(p, sizeof(p), fd);
	if (umount2(p, MNT_DETACH) == -1 && errno != EINVAL) {
		saved_errno = errno;
		log_warn("%s: unmount %s", ctx, mp);
		close(fd);
		errno = saved_errno;
		return -1;
	}
	close(fd);
	log_debug("%s: unmounted %s", ctx, mp);
	return 0;
}

/*
 * Remove name below parentfd and all it holds.  Symlinks are removed,
 * not followed; a directory is entered only through O_NOFOLLOW and
 * never if something is mounted on it.  path holds the shown path up
 * to parentfd.
 */
static int
rm_tree(const char *ctx, int parentfd, char *path, size_t plen,
    const char *name, int depth)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	size_t		 len;
	int		 fd, rv = 0, saved_errno;

	len = strlcat(path, "/", PATH_MAX);
	len = strlcat(path, name, PATH_MAX);
	if (len >= PATH_MAX || depth > RMTREE_DEPTH) {
		log_warnx("%s: %s: too deep", ctx, path);
		path[plen] = '\0';
		errno = ELOOP;
		return -1;
	}
	if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		rv = errno == ENOENT ? 0 : -1;
		if (rv == -1)
			log_warn("%s: %s", ctx, path);
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parentfd, name, 0) == -1 && errno != ENOENT) {
			log_warn("%s: unlink %s", ctx, path);
			rv = -1;
		}
		goto done;
	}
	if ((fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("%s: %s", ctx, path);
		rv = -1;
		goto done;
	}
	if (is_mount_root(fd) != 0) {
		log_warnx("%s: %s: still mounted, not entered", ctx, path);
		close(fd);
		errno = EBUSY;
		rv = -1;
		goto done;
	}
	if ((d = fdopendir(fd)) == NULL) {
		log_warn("%s: %s", ctx, path);
		close(fd);
		rv = -1;
		goto done;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (rm_tree(ctx, dirfd(d), path, len, de->d_name,
		    depth + 1) == -1)
			rv = -1;
	}
	closedir(d);
	if (rv == 0 && unlinkat(parentfd, name, AT_REMOVEDIR) == -1 &&
	    errno != ENOENT) {
		log_warn("%s: rmdir %s", ctx, path);
		rv = -1;
	}
done:
	saved_errno = errno;
	path[plen] = '\0';
	errno = saved_errno;
	return rv;
}

/*
 * Unmount whatever is mounted in the jail, deepest first, then remove
 * STATE/jail/firecracker/VMID.  Firecracker must be gone.  Missing is
 * success; a symlink on the way is refused.
 */
int
jail_cleanup(const char *statedir, const char *vmid)
{
	char		 ctx[32], top[PATH_MAX], path[PATH_MAX], **list;
	struct stat	 st;
	size_t		 n, i;
	int		 sfd, ffd, round, rv = 0, saved_errno;

	if (vm_ctx("jail cleanup", vmid, ctx, sizeof(ctx)) == -1)
		return -1;
	if (statedir_arg(ctx, statedir) == -1)
		return -1;
	if ((sfd = walk_dir(ctx, statedir, WALK_SECURE | WALK_QUIET)) == -1)
		return errno == ENOENT ? 0 : -1;
	(void)pathf(top, "%s/%s/%s/%s", statedir, JAIL_DIR,
	    JAIL_EXEC_NAME, vmid);

	for (round = 0; round < UMOUNT_ROUNDS; round++) {
		if (mounts_below(top, &list, &n) == -1) {
			log_warn("%s: /proc/self/mountinfo", ctx);
			goto fail;
		}
		for (i = 0; i < n && rv == 0; i++)
			rv = unmount_at(ctx, sfd, statedir, list[i]);
		mounts_free(list, n);
		if (rv == -1)
			goto fail;
		if (n == 0)
			break;
	}
	if (round == UMOUNT_ROUNDS) {
		log_warnx("%s: %s: mounts keep coming back", ctx, top);
		errno = EBUSY;
		goto fail;
	}

	if ((ffd = jail_base(ctx, statedir, 0)) == -1) {
		saved_errno = errno;
		close(sfd);
		errno = saved_errno;
		return errno == ENOENT ? 0 : -1;
	}
	close(sfd);
	(void)pathf(path, "%s/%s/%s", statedir, JAIL_DIR,
	    JAIL_EXEC_NAME);
	if (fstatat(ffd, vmid, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISDIR(st.st_mode)) {
		log_warnx("%s: %s: %s, not removed", ctx, top,
		    S_ISLNK(st.st_mode) ? "is a symlink" : "not a directory");
		close(ffd);
		errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
		return -1;
	}
	rv = rm_tree(ctx, ffd, path, strlen(path), vmid, 0);
	saved_errno = errno;
	close(ffd);
	errno = saved_errno;
	if (rv == 0)
		log_debug("%s: jail %s removed", ctx, top);
	return rv;
fail:
	saved_errno = errno;
	close(sfd);
	errno = saved_errno;
	return -1;
}

/*
 * The jail's paths, checked and walked.  Every path is opened one
 * component at a time with O_NOFOLLOW from a directory opened the same
 * way, and acted on through the descriptor: a symlink anywhere is
 * refused, and nothing can be swapped between a check and the act.
 * Used by jail.c, jailspawn.c and jailclean.c alike.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jail.h"
#include "log.h"
#include "validate.h"

/* Room below STATE for jail/firecracker/VMID/root/run/firecracker.socket. */
#define JAIL_PATH_ROOM	128

static int	dir_secure(const char *, const char *, int);

/* Absolute, no empty, "." or ".." component, no trailing '/'. */
int
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
int
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
int
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
int
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
int
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
int
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
int
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
int
string_in(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

void
procfd_path(char *buf, size_t len, int fd)
{
	(void)snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* fchmod(2) refuses O_PATH descriptors; /proc/self/fd names the inode. */
int
fd_chmod(int fd, mode_t mode)
{
	char	 p[PROCFD_LEN];

	procfd_path(p, sizeof(p), fd);
	return chmod(p, mode);
}

/* Owner and mode of what fd (O_PATH is fine) refers to, if they differ. */
int
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

int
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
int
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

/*
 * A directory walked once and held (the state directory, bangerd.c):
 * a walk of it, or of a path below it, starts from its descriptor,
 * not from "/" again.  It was held only if every directory down to it
 * passed dir_secure(), which only root could have undone since.
 */
static struct {
	char	 path[PATH_MAX];
	size_t	 len;
	int	 fd;
} held = { "", 0, -1 };

/*
 * Hold directory path for the walks to come, if it and every directory
 * above it are root's alone (else the walks go on from "/", and say
 * what is wrong, each time).
 */
int
walk_hold(const char *ctx, const char *path)
{
	int	 fd;

	if (strlen(path) >= sizeof(held.path) ||
	    (fd = walk_dir(ctx, path, WALK_SECURE)) == -1)
		return -1;
	if (held.fd != -1)
		close(held.fd);
	held.fd = fd;
	held.len = strlcpy(held.path, path, sizeof(held.path));
	return 0;
}

/*
 * Open directory path (O_PATH) from "/", one component at a time; from
 * the held directory, if path is it or below it.
 */
int
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
	(void)strlcpy(buf, path, sizeof(buf));
	if (held.fd != -1 && held.len > 1 &&
	    strncmp(path, held.path, held.len) == 0 &&
	    (path[held.len] == '\0' || path[held.len] == '/')) {
		if ((fd = fcntl(held.fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			log_warn("%s: %s", ctx, held.path);
			return -1;
		}
		if (path[held.len] == '\0')
			return fd;
		c = buf + held.len + 1;
	} else {
		if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
			log_warn("%s: /", ctx);
			return -1;
		}
		if ((flags & WALK_SECURE) && dir_secure(ctx, "/", fd) == -1)
			goto fail;
		if (path[1] == '\0')
			return fd;
		c = buf + 1;
	}
	for (last = 0; !last; c = e + 1) {
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
int
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
int
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

int
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

int
read_path(const char *path, char *buf, size_t size)
{
	return read_at(AT_FDCWD, path, buf, size);
}

/*
 * The jail each VM's Firecracker runs in, built: the spec and the
 * binary checked, the directories and device nodes made, the kernel,
 * initrd and disk placed, a jailer's leftovers cleared, run/ readied.
 * jailspawn.c starts Firecracker in it, fcproc.c handles the process,
 * jailclean.c removes the jail, jailpath.c walks paths for all of them.
 *
 * Each VM's Firecracker runs in a jail of the layout Firecracker's own
 * jailer builds (see jail.h), as the VM's own uid and gid, in its own
 * mount, pid and ipc namespaces and cgroup, with a pty as its console.
 */
#include <sys/types.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jail.h"
#include "log.h"
#include "validate.h"

#define JAILER_PIDFILE	"firecracker.pid"

static int	jail_mknod(const char *, int, const char *, const char *,
		    mode_t, dev_t, uid_t, gid_t);
static int	jail_place(const char *, int, const char *, const char *,
		    int, const struct stat *, int);
static int	jail_disk(const char *, const struct jail_spec *, int,
		    const char *);
static int	jail_identity(const char *, const struct jail_spec *, int,
		    const char *);

/* The spec as a whole; ctx gets "vm VMID" for messages. */
int
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
	    !string_in(js->js_identity, sizeof(js->js_identity)) ||
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
int
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
int
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
int
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

/*
 * The identity drive: the vm worker's text (priv.c checked it), padded
 * with NULs to IDENTITY_DRIVE_SIZE, a new file of the VM's own, 0400
 * (Firecracker opens a read-only drive O_RDONLY).
 */
static int
jail_identity(const char *ctx, const struct jail_spec *js, int rootfd,
    const char *rootshown)
{
	char		 buf[IDENTITY_DRIVE_SIZE];
	size_t		 len = strnlen(js->js_identity, sizeof(js->js_identity));
	int		 fd, saved_errno;

	if (entry_clear(ctx, rootfd, rootshown, JAIL_IDENTITY) == -1)
		return -1;
	if (len == 0)
		return 0;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, js->js_identity, len);
	if ((fd = openat(rootfd, JAIL_IDENTITY, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0400)) == -1) {
		log_warn("%s: create %s/%s", ctx, rootshown, JAIL_IDENTITY);
		return -1;
	}
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
	    fchown(fd, js->js_uid, js->js_gid) == -1) {
		saved_errno = errno;
		log_warn("%s: write %s/%s", ctx, rootshown, JAIL_IDENTITY);
		close(fd);
		(void)unlinkat(rootfd, JAIL_IDENTITY, 0);
		errno = saved_errno;
		return -1;
	}
	close(fd);
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

	if (jail_disk(ctx, js, rfd, rshown) == -1 ||
	    jail_identity(ctx, js, rfd, rshown) == -1)
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
int
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

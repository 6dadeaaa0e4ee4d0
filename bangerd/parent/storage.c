/*
 * Storage for VM root disks, done by the root parent.
 *
 * Device-mapper backend: the image is attached read-only to a loop
 * device, the VM's snapshot store (STATE/disks/VMID.cow) read-write to
 * another, and "fc-rootfs-VMID" is a persistent dm snapshot of the one
 * over the other.  A disk larger than the image snapshots
 * "fc-rootfs-VMID-base" instead: the image followed by zeroes.
 *
 * Elsewhere: STATE/disks/VMID.ext4 is a reflink (FICLONE) of the image
 * where the file system makes them, else a sparse copy, grown to the
 * disk size.
 *
 * Loop devices are attached without LO_FLAGS_AUTOCLEAR: autoclear
 * detaches a device on its last close, and loop_attach() hands back a
 * path, not an open fd, for device-mapper or Firecracker to open later,
 * so the device must stay attached with nothing holding it.  The
 * parent detaches them itself (loop_detach) and finds them again after
 * a restart by their backing file (loop_backing).  The kernel does set
 * autoclear when loop_detach() meets a device still open elsewhere:
 * LOOP_CLR_FD then succeeds and the device goes on its last close.
 *
 * libdevmapper runs without udev: dm_udev_set_sync_support(0) and no
 * cookies, so it never waits on a udev semaphore (a daemon must not
 * hang on udev, nor leak SysV semaphores when it dies), and it makes
 * and removes /dev/mapper nodes itself (dm_task_update_nodes() after
 * each change).  Where udev with the dm rules does run, it may replace
 * a node with a symlink; disk_open() opens the node with O_NOFOLLOW,
 * falls back to the kernel's own /dev/dm-MINOR, and either way checks
 * the device number against the kernel's answer.  libdevmapper's
 * messages go to log.h.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/major.h>

#include <errno.h>
#include <fcntl.h>
#include <libdevmapper.h>
#include <seccomp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "storage.h"
#include "validate.h"

#define LOOP_CONTROL		"/dev/loop-control"
#define LOOP_ATTACH_TRIES	64	/* free devices taken under us */
#define SECTOR			512ULL
#define CHUNK_BYTES		(SNAP_CHUNK_SECTORS * SECTOR)
#define SNAP_EXC_BYTES		16	/* one on-disk exception */
#define DM_NAME_MAX		64	/* fc-rootfs-VMID-base and NUL */
#define DM_UUID_MAX		(sizeof(DM_UUID_PREFIX) + DM_NAME_MAX)
#define DM_PARAMS_MAX		128
#define DM_DEV_PREFIX		"/dev/dm-"
#define DISK_NAME_MAX		(VM_ID_LEN + sizeof(DISK_NEW_SUFFIX))
#define COPY_BUF		(1024 * 1024)
#define ZERO_BLOCK		4096
#define SHOW_MAX		64	/* of a refused string, in a message */

struct dm_tgt {
	uint64_t	 start;		/* sectors */
	uint64_t	 len;
	const char	*type;
	char		 params[DM_PARAMS_MAX];
};

static const char *show(const char *, char *, size_t);
static const char *fd_name(int, char *, size_t);
static int	loop_number(const char *, unsigned int *);
static int	loop_open(const char *, int);
static dev_t	loop_decode_dev(uint64_t);
static void	dm_log(int, const char *, int, int, const char *, ...)
		    __attribute__((__format__ (printf, 5, 6)));
static void	dm_setup(void);
static int	valid_dm_base_name(const char *, size_t, const char **);
static int	dm_names(const char *, char *, size_t, char *, size_t);
static int	dm_get(const char *, struct dm_info *, int *);
static int	dm_make(const char *, int, const struct dm_tgt *, size_t,
		    struct dm_info *);
static int	dm_remove(const char *);
static int	dm_table_is(const char *, const struct dm_tgt *);
static int	dm_open(const char *, const struct dm_info *);
static int	blk_info(int, const char *, dev_t *, uint64_t *, int *);
static int	disk_names(const char *, const char *, const char *, char *,
		    size_t);
static int	disks_dir_open(const char *, const char *, int);
static int	disk_file_check(int, const char *, const char *);
static int	unlink_quiet(int, const char *, const char *);
static ssize_t	pread_full(int, char *, size_t, off_t);
static int	pwrite_all(int, const char *, size_t, off_t);
static int	write_data(int, const char *, size_t, off_t);

/*
 * A string fit for a message: at most SHOW_MAX bytes, anything but
 * printable ASCII as '?'.
 */
static const char *
show(const char *s, char *buf, size_t len)
{
	size_t	 i;

	if (s == NULL)
		return "(null)";
	for (i = 0; i + 1 < len && i < SHOW_MAX && s[i] != '\0'; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* What an fd names, for messages: its /proc/self/fd link, or "fd N". */
static const char *
fd_name(int fd, char *buf, size_t len)
{
	char	 link[64];
	ssize_t	 n;
	int	 saved_errno = errno;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, buf, len - 1)) <= 0)
		snprintf(buf, len, "fd %d", fd);
	else
		buf[n] = '\0';
	errno = saved_errno;
	return buf;
}

/* Validate dev as /dev/loopN and return N. */
static int
loop_number(const char *dev, unsigned int *np)
{
	const char	*why;
	char		 buf[SHOW_MAX + 1];

	if (dev == NULL || valid_loop_path(dev, strnlen(dev, LOOP_DEV_MAX),
	    &why) == -1) {
		log_warnx("loop device %s: refused: %s",
		    show(dev, buf, sizeof(buf)), dev == NULL ? "null" : why);
		errno = EINVAL;
		return -1;
	}
	*np = (unsigned int)strtoul(dev + sizeof(LOOP_PREFIX) - 1, NULL, 10);
	return 0;
}

/*
 * Open /dev/loopN, never through a symlink, and make sure it is loop
 * device N.  Fails with errno from open (ENOENT: no such node) or
 * EINVAL/ENODEV, which it logs.
 */
static int
loop_open(const char *dev, int flags)
{
	struct stat	 st;
	unsigned int	 n;
	int		 fd;

	if (loop_number(dev, &n) == -1)
		return -1;
	if ((fd = open(dev, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		log_warn("loop device %s: fstat", dev);
		close(fd);
		return -1;
	}
	if (!S_ISBLK(st.st_mode) || major(st.st_rdev) != LOOP_MAJOR ||
	    minor(st.st_rdev) != n) {
		log_warnx("loop device %s: not block device %d:%u", dev,
		    LOOP_MAJOR, n);
		close(fd);
		errno = ENODEV;
		return -1;
	}
	return fd;
}

/* lo_device is the kernel's huge_encode_dev() of the backing st_dev. */
static dev_t
loop_decode_dev(uint64_t d)
{
	return makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
}

/*
 * Attach the regular file open on fd to a free loop device, read-only
 * if asked (fd must then be open for writing otherwise: the kernel
 * would quietly make the device read-only), and return its path in
 * dev.  No partition scan and no autoclear (see the top of the file).
 * mark, if not NULL, becomes the device's lo_file_name (LOOP_MARK_MAX
 * bytes at most): the device carries it from the moment it is
 * attached, so whoever made it can find it again (loop_mark) before
 * any record names the device, whatever file backs it.
 */
int
loop_attach(int fd, int readonly, const char *mark, char *dev, size_t devlen)
{
	struct loop_config	 lc;
	struct loop_info64	 li;
	struct stat		 st;
	char			 path[LOOP_DEV_MAX], name[PATH_MAX];
	int			 ctl = -1, lfd = -1, n, tries, fl, bound = 0;

	if (dev == NULL || devlen < LOOP_DEV_MAX) {
		log_warnx("loop attach: no room for the device name");
		errno = EINVAL;
		return -1;
	}
	if (mark != NULL && strlen(mark) >= LOOP_MARK_MAX) {
		log_warnx("loop attach: mark \"%s\" is too long", mark);
		errno = EINVAL;
		return -1;
	}
	dev[0] = '\0';
	if (fd < 0 || fstat(fd, &st) == -1 || (fl = fcntl(fd, F_GETFL)) == -1) {
		log_warnx("loop attach: fd %d is not open", fd);
		errno = EBADF;
		return -1;
	}
	fd_name(fd, name, sizeof(name));
	if (!S_ISREG(st.st_mode)) {
		log_warnx("loop attach: %s is not a regular file", name);
		errno = EINVAL;
		return -1;
	}
	if (!readonly && (fl & O_ACCMODE) != O_RDWR) {
		log_warnx("loop attach: %s is not open read-write", name);
		errno = EBADF;
		return -1;
	}
	if ((ctl = open(LOOP_CONTROL, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		log_warn("loop attach: %s: %s", name, LOOP_CONTROL);
		return -1;
	}

	for (tries = 0; tries < LOOP_ATTACH_TRIES && !bound; tries++) {
		if ((n = ioctl(ctl, LOOP_CTL_GET_FREE)) == -1) {
			log_warn("loop attach: %s: no free loop device", name);
			goto fail;
		}
		(void)snprintf(path, sizeof(path), LOOP_PREFIX "%d", n);
		/* The device's open mode decides read-only for LOOP_SET_FD. */
		if ((lfd = loop_open(path, readonly ? O_RDONLY : O_RDWR)) ==
		    -1) {
			/* Removed (LOOP_CTL_REMOVE) since we were told. */
			if (errno == ENOENT || errno == ENXIO)
				continue;
			log_warn("loop attach: %s: %s", name, path);
			goto fail;
		}

		memset(&lc, 0, sizeof(lc));
		lc.fd = fd;
		lc.info.lo_flags = readonly ? LO_FLAGS_READ_ONLY : 0;
		if (mark != NULL)
			strlcpy((char *)lc.info.lo_file_name, mark,
			    sizeof(lc.info.lo_file_name));
		if (ioctl(lfd, LOOP_CONFIGURE, &lc) == 0) {
			bound = 1;
			break;
		}
		if (errno == EINVAL || errno == ENOTTY) {
			/* Before Linux 5.8: two steps. */
			if (ioctl(lfd, LOOP_SET_FD, fd) == 0) {
				memset(&li, 0, sizeof(li));
				if (mark != NULL)
					strlcpy((char *)li.lo_file_name, mark,
					    sizeof(li.lo_file_name));
				if (ioctl(lfd, LOOP_SET_STATUS64, &li) == -1) {
					log_warn("loop attach: %s: %s: set "
					    "status", name, path);
					(void)ioctl(lfd, LOOP_CLR_FD, 0);
					goto fail;
				}
				bound = 1;
				break;
			}
		}
		if (errno != EBUSY && errno != ENXIO) {
			log_warn("loop attach: %s: %s", name, path);
			goto fail;
		}
		/* Another process took the device first: ask again. */
		log_debug("loop attach: %s: %s taken, retrying", name, path);
		close(lfd);
		lfd = -1;
	}
	if (!bound) {
		log_warnx("loop attach: %s: free loop devices taken %d times "
		    "over", name, LOOP_ATTACH_TRIES);
		errno = EBUSY;
		goto fail;
	}

	/* Check what the kernel made of it. */
	if (ioctl(lfd, LOOP_GET_STATUS64, &li) == -1) {
		log_warn("loop attach: %s: %s: get status", name, path);
		goto undo;
	}
	if (li.lo_inode != st.st_ino || loop_decode_dev(li.lo_device) !=
	    st.st_dev) {
		log_warnx("loop attach: %s: %s is backed by another file",
		    name, path);
		errno = EIO;
		goto undo;
	}
	if (!readonly && (li.lo_flags & LO_FLAGS_READ_ONLY)) {
		log_warnx("loop attach: %s: %s came out read-only", name, path);
		errno = EROFS;
		goto undo;
	}
	if (readonly && !(li.lo_flags & LO_FLAGS_READ_ONLY)) {
		log_warnx("loop attach: %s: %s came out writable", name, path);
		errno = EIO;
		goto undo;
	}
	close(lfd);
	close(ctl);
	strlcpy(dev, path, devlen);
	log_debug("loop device %s: attached %s%s", path, name,
	    readonly ? " read-only" : "");
	return 0;

 undo:
	fl = errno;
	(void)ioctl(lfd, LOOP_CLR_FD, 0);
	errno = fl;
 fail:
	fl = errno;
	if (lfd != -1)
		close(lfd);
	close(ctl);
	errno = fl;
	return -1;
}

/*
 * Detach a loop device.  One not attached, or with no node, is
 * success.  One still open elsewhere (device-mapper, Firecracker) is
 * marked autoclear by the kernel and goes on its last close.
 */
int
loop_detach(const char *dev)
{
	struct loop_info64	 li;
	int			 fd, saved_errno;

	if ((fd = loop_open(dev, O_RDONLY)) == -1) {
		if (errno == ENOENT) {
			log_debug("loop device %s: no node, not attached", dev);
			return 0;
		}
		if (errno != EINVAL && errno != ENODEV)
			log_warn("loop device %s: open", dev);
		return -1;
	}
	if (ioctl(fd, LOOP_CLR_FD, 0) == -1) {
		saved_errno = errno;
		close(fd);
		if (saved_errno == ENXIO) {
			log_debug("loop device %s: not attached", dev);
			return 0;
		}
		errno = saved_errno;
		log_warn("loop device %s: detach", dev);
		return -1;
	}
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == 0 &&
	    (li.lo_flags & LO_FLAGS_AUTOCLEAR))
		log_info("loop device %s: busy, detaches on its last close",
		    dev);
	else
		log_debug("loop device %s: detached", dev);
	close(fd);
	return 0;
}

/*
 * The mark an attached loop device carries (loop_attach), "" if none,
 * in mark.  Fails with ENXIO if the device is not attached.
 */
int
loop_mark(const char *dev, char *mark, size_t len)
{
	struct loop_info64	 li;
	unsigned int		 n;
	int			 fd, saved_errno;

	if (loop_number(dev, &n) == -1)
		return -1;
	if ((fd = loop_open(dev, O_RDONLY)) == -1) {
		if (errno == ENOENT)
			errno = ENXIO;
		return -1;
	}
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == -1) {
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
		return -1;
	}
	close(fd);
	li.lo_file_name[sizeof(li.lo_file_name) - 1] = '\0';
	strlcpy(mark, (const char *)li.lo_file_name, len);
	return 0;
}

/*
 * The file behind an attached loop device: its path as the kernel
 * shows it in /sys/block/loopN/loop/backing_file (" (deleted)" and
 * all), and its st_dev and st_ino.  path, devp and inop may be NULL.
 * Fails with ENXIO if the device is not attached.
 */
int
loop_backing(const char *dev, char *path, size_t len, dev_t *devp,
    ino_t *inop)
{
	struct loop_info64	 a, b;
	char			 sys[PATH_MAX], buf[PATH_MAX + 2];
	unsigned int		 n;
	ssize_t			 r;
	int			 fd, sfd, saved_errno;

	if (loop_number(dev, &n) == -1)
		return -1;
	if ((fd = loop_open(dev, O_RDONLY)) == -1) {
		if (errno == ENOENT) {
			errno = ENXIO;
			return -1;
		}
		if (errno != EINVAL && errno != ENODEV)
			log_warn("loop device %s: open", dev);
		return -1;
	}
	if (ioctl(fd, LOOP_GET_STATUS64, &a) == -1) {
		saved_errno = errno;
		if (saved_errno != ENXIO)
			log_warn("loop device %s: get status", dev);
		close(fd);
		errno = saved_errno;
		return -1;
	}
	if (path != NULL) {
		(void)snprintf(sys, sizeof(sys),
		    "/sys/block/loop%u/loop/backing_file", n);
		if ((sfd = open(sys, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
		    -1) {
			saved_errno = errno == ENOENT ? ENXIO : errno;
			close(fd);
			errno = saved_errno;
			return -1;
		}
		r = read(sfd, buf, sizeof(buf) - 1);
		saved_errno = errno;
		close(sfd);
		if (r <= 0) {
			close(fd);
			errno = r == 0 ? ENXIO : saved_errno;
			if (r == -1)
				log_warn("loop device %s: %s", dev, sys);
			return -1;
		}
		buf[r] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		/* Still the same file? */
		if (ioctl(fd, LOOP_GET_STATUS64, &b) == -1 ||
		    a.lo_inode != b.lo_inode || a.lo_device != b.lo_device) {
			close(fd);
			log_warnx("loop device %s: changed while read", dev);
			errno = EAGAIN;
			return -1;
		}
		if (strlcpy(path, buf, len) >= len) {
			close(fd);
			log_warnx("loop device %s: backing file name too long",
			    dev);
			errno = ENAMETOOLONG;
			return -1;
		}
	}
	close(fd);
	if (devp != NULL)
		*devp = loop_decode_dev(a.lo_device);
	if (inop != NULL)
		*inop = a.lo_inode;
	return 0;
}

/*
 * Device-mapper.
 */

static void
dm_log(int level, const char *file, int line, int dm_errno_or_class,
    const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* _LOG_ERR is 3, _LOG_WARN 4; higher bits are libdm's flags. */
	if ((level & 7) <= 4)
		log_warnx("devmapper: %s", buf);
	else
		log_debug("devmapper: %s", buf);
}

static void
dm_setup(void)
{
	static int	 done;

	if (done)
		return;
	dm_log_with_errno_init(dm_log);
	dm_udev_set_sync_support(0);
	done = 1;
}

/*
 * "fc-rootfs-VMID-base", the linear+zero device under a snapshot larger
 * than its image: valid_dm_name() with the suffix.
 */
static int
valid_dm_base_name(const char *s, size_t len, const char **why)
{
	size_t	 slen = sizeof(DM_BASE_SUFFIX) - 1;

	if (s == NULL || len <= slen ||
	    memcmp(s + len - slen, DM_BASE_SUFFIX, slen) != 0) {
		if (why != NULL)
			*why = "not fc-rootfs-*-base";
		return -1;
	}
	return valid_dm_name(s, len - slen, why);
}

/* The snapshot's name and its base's, each validated. */
static int
dm_names(const char *vmid, char *snap, size_t snaplen, char *base,
    size_t baselen)
{
	const char	*why;
	char		 buf[SHOW_MAX + 1];

	if (vmid == NULL || valid_vm_id(vmid, strnlen(vmid, VM_ID_LEN + 1),
	    &why) == -1) {
		log_warnx("snapshot of vm %s: refused: %s",
		    show(vmid, buf, sizeof(buf)), vmid == NULL ? "null" : why);
		errno = EINVAL;
		return -1;
	}
	if (snprintf(snap, snaplen, DM_PREFIX "%s", vmid) >= (int)snaplen ||
	    snprintf(base, baselen, DM_PREFIX "%s" DM_BASE_SUFFIX, vmid) >=
	    (int)baselen ||
	    valid_dm_name(snap, strlen(snap), &why) == -1 ||
	    valid_dm_base_name(base, strlen(base), &why) == -1) {
		log_warnx("snapshot of vm %s: bad device name", vmid);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Look name up: info->exists says whether it does; *ours whether its
 * uuid is the one banger gives it.
 */
static int
dm_get(const char *name, struct dm_info *info, int *ours)
{
	struct dm_task	*dmt;
	const char	*uuid;
	char		 want[DM_UUID_MAX];
	int		 err;

	memset(info, 0, sizeof(*info));
	*ours = 0;
	if ((dmt = dm_task_create(DM_DEVICE_INFO)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (!dm_task_set_name(dmt, name) || !dm_task_run(dmt) ||
	    !dm_task_get_info(dmt, info)) {
		err = dm_task_get_errno(dmt);
		dm_task_destroy(dmt);
		errno = err ? err : EIO;
		log_warn("device-mapper %s: info", name);
		return -1;
	}
	if (info->exists) {
		(void)snprintf(want, sizeof(want), DM_UUID_PREFIX "%s", name);
		uuid = dm_task_get_uuid(dmt);
		*ours = uuid != NULL && strcmp(uuid, want) == 0;
	}
	dm_task_destroy(dmt);
	return 0;
}

/* Create name with table t, resumed; its info in *info. */
static int
dm_make(const char *name, int ro, const struct dm_tgt *t, size_t nt,
    struct dm_info *info)
{
	struct dm_task	*dmt;
	char		 uuid[DM_UUID_MAX];
	size_t		 i;
	int		 err;

	(void)snprintf(uuid, sizeof(uuid), DM_UUID_PREFIX "%s", name);
	if ((dmt = dm_task_create(DM_DEVICE_CREATE)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (!dm_task_set_name(dmt, name) || !dm_task_set_uuid(dmt, uuid) ||
	    (ro && !dm_task_set_ro(dmt)))
		goto fail;
	for (i = 0; i < nt; i++)
		if (!dm_task_add_target(dmt, t[i].start, t[i].len, t[i].type,
		    t[i].params))
			goto fail;
	if (!dm_task_run(dmt) || !dm_task_get_info(dmt, info) ||
	    !info->exists)
		goto fail;
	dm_task_destroy(dmt);
	dm_task_update_nodes();
	return 0;

 fail:
	err = dm_task_get_errno(dmt);
	dm_task_destroy(dmt);
	dm_task_update_nodes();
	errno = err ? err : EIO;
	log_warn("device-mapper %s: create", name);
	return -1;
}

/* Remove name if it exists and is banger's. */
static int
dm_remove(const char *name)
{
	struct dm_task	*dmt;
	struct dm_info	 info;
	int		 ours, err;

	if (dm_get(name, &info, &ours) == -1)
		return -1;
	if (!info.exists)
		return 0;
	if (!ours) {
		log_warnx("device-mapper %s: not banger's (uuid), not removed",
		    name);
		errno = EPERM;
		return -1;
	}
	if ((dmt = dm_task_create(DM_DEVICE_REMOVE)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* Retry a while on EBUSY: udev's probes hold devices briefly. */
	if (!dm_task_set_name(dmt, name) || !dm_task_retry_remove(dmt) ||
	    !dm_task_run(dmt)) {
		err = dm_task_get_errno(dmt);
		dm_task_destroy(dmt);
		dm_task_update_nodes();
		if (err == ENXIO)
			return 0;
		errno = err ? err : EIO;
		log_warn("device-mapper %s: remove", name);
		return -1;
	}
	dm_task_destroy(dmt);
	dm_task_update_nodes();
	log_debug("device-mapper %s: removed", name);
	return 0;
}

/* Whether name's live table is exactly the one target t. */
static int
dm_table_is(const char *name, const struct dm_tgt *t)
{
	struct dm_task	*dmt;
	void		*next = NULL;
	uint64_t	 start, len;
	char		*type, *params;
	int		 n = 0, match = 0;

	if ((dmt = dm_task_create(DM_DEVICE_TABLE)) == NULL)
		return 0;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt)) {
		do {
			next = dm_get_next_target(dmt, next, &start, &len,
			    &type, &params);
			if (type == NULL)
				break;
			n++;
			match = start == t->start && len == t->len &&
			    strcmp(type, t->type) == 0 &&
			    strcmp(params != NULL ? params : "",
			    t->params) == 0;
		} while (next != NULL);
	}
	dm_task_destroy(dmt);
	return n == 1 && match;
}

/*
 * Open a dm device read-write: its /dev/mapper node, else the kernel's
 * /dev/dm-MINOR, checked against the device number.
 */
static int
dm_open(const char *name, const struct dm_info *info)
{
	struct stat	 st;
	const char	*why;
	char		 path[PATH_MAX];
	int		 fd, flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;

	(void)snprintf(path, sizeof(path), DM_DIR "%s", name);
	if (valid_dm_path(path, strlen(path), &why) == -1) {
		log_warnx("device-mapper %s: refused: %s", path, why);
		errno = EINVAL;
		return -1;
	}
	if ((fd = open(path, flags)) == -1 &&
	    (errno == ENOENT || errno == ELOOP)) {
		(void)snprintf(path, sizeof(path), DM_DEV_PREFIX "%u",
		    info->minor);
		fd = open(path, flags);
	}
	if (fd == -1) {
		log_warn("device-mapper %s: open %s", name, path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISBLK(st.st_mode) ||
	    st.st_rdev != makedev(info->major, info->minor)) {
		log_warnx("device-mapper %s: %s is not device %u:%u", name,
		    path, info->major, info->minor);
		close(fd);
		errno = ENODEV;
		return -1;
	}
	return fd;
}

/* A loop device's number, size in bytes and read-only flag. */
static int
blk_info(int fd, const char *dev, dev_t *rdev, uint64_t *size, int *ro)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1 || ioctl(fd, BLKGETSIZE64, size) == -1 ||
	    ioctl(fd, BLKROGET, ro) == -1) {
		log_warn("loop device %s", dev);
		return -1;
	}
	*rdev = st.st_rdev;
	return 0;
}

/*
 * Whether the kernel has device-mapper: /proc/misc lists it, or its
 * control node opens.  libdevmapper is only called where it does, so
 * that it never tries to make the node or load the module itself.
 */
int
storage_has_dm(void)
{
	char	 line[128], name[64];
	FILE	*fp;
	int	 fd, num, found = 0;

	if ((fp = fopen("/proc/misc", "re")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			if (sscanf(line, "%d %63s", &num, name) == 2 &&
			    strcmp(name, "device-mapper") == 0)
				found = 1;
		fclose(fp);
	}
	if (found)
		return 1;
	if ((fd = open(DM_DIR "control", O_RDWR | O_CLOEXEC | O_NOFOLLOW)) !=
	    -1) {
		close(fd);
		return 1;
	}
	return 0;
}

/*
 * The size a persistent snapshot store needs so that every chunk of a
 * size-byte disk can be written: a header chunk, then areas of one
 * metadata chunk (256 16-byte exceptions) and the 256 chunks it maps.
 * 0 for a size too large.
 */
uint64_t
snap_cow_bytes(uint64_t size)
{
	uint64_t	 data, meta, per = CHUNK_BYTES / SNAP_EXC_BYTES;

	if (size > (UINT64_MAX >> 2))
		return 0;
	data = (size + CHUNK_BYTES - 1) / CHUNK_BYTES;
	meta = (data + per - 1) / per;
	if (meta == 0)
		meta = 1;
	return (1 + meta + data) * CHUNK_BYTES;
}

/*
 * "fc-rootfs-VMID": a persistent snapshot (chunks of 8 sectors) of the
 * image's read-only loop device origin_dev, its exceptions stored on
 * the read-write loop device cow_dev.
 *
 * size_bytes is 0 (the image's size) or at least the image's size, in
 * whole sectors.  Larger, "fc-rootfs-VMID-base" (read-only) is first
 * made of the image (linear) and zeroes (zero target) for the sectors
 * beyond, and the snapshot is of that; the guest then grows its file
 * system into them.
 *
 * A snapshot already there with this very table is success; any other
 * is EEXIST.  A failed step removes whatever was made.
 */
int
snap_create(const char *vmid, const char *origin_dev, const char *cow_dev,
    uint64_t size_bytes)
{
	struct dm_info	 info, binfo;
	struct dm_tgt	 t[2], st;
	char		 snap[DM_NAME_MAX], base[DM_NAME_MAX];
	dev_t		 odev, cdev;
	uint64_t	 osize, csize, total, need;
	unsigned int	 n;
	int		 ofd = -1, cfd = -1, oro, cro, ours, bours, extend;
	int		 saved_errno;

	if (dm_names(vmid, snap, sizeof(snap), base, sizeof(base)) == -1 ||
	    loop_number(origin_dev, &n) == -1 || loop_number(cow_dev, &n) == -1)
		return -1;
	if (strcmp(origin_dev, cow_dev) == 0) {
		log_warnx("snapshot %s: origin and store are both %s", snap,
		    origin_dev);
		errno = EINVAL;
		return -1;
	}
	if (size_bytes % SECTOR != 0) {
		log_warnx("snapshot %s: size %ju is not whole sectors", snap,
		    (uintmax_t)size_bytes);
		errno = EINVAL;
		return -1;
	}
	if (!storage_has_dm()) {
		log_warnx("snapshot %s: kernel has no device-mapper", snap);
		errno = ENODEV;
		return -1;
	}
	dm_setup();

	if ((ofd = loop_open(origin_dev, O_RDONLY)) == -1 ||
	    (cfd = loop_open(cow_dev, O_RDONLY)) == -1) {
		saved_errno = errno;
		if (errno != EINVAL && errno != ENODEV)
			log_warn("snapshot %s: open %s", snap,
			    ofd == -1 ? origin_dev : cow_dev);
		goto fail_fds;
	}
	if (blk_info(ofd, origin_dev, &odev, &osize, &oro) == -1 ||
	    blk_info(cfd, cow_dev, &cdev, &csize, &cro) == -1) {
		saved_errno = errno;
		goto fail_fds;
	}
	close(ofd);
	close(cfd);
	ofd = cfd = -1;

	if (osize == 0 || csize == 0) {
		log_warnx("snapshot %s: %s is not attached", snap,
		    osize == 0 ? origin_dev : cow_dev);
		errno = ENXIO;
		return -1;
	}
	if (!oro) {
		log_warnx("snapshot %s: origin %s is not read-only", snap,
		    origin_dev);
		errno = EPERM;
		return -1;
	}
	if (cro) {
		log_warnx("snapshot %s: store %s is read-only", snap, cow_dev);
		errno = EROFS;
		return -1;
	}
	osize -= osize % SECTOR;
	total = size_bytes == 0 ? osize : size_bytes;
	if (total < osize) {
		log_warnx("snapshot %s: size %ju bytes is smaller than the "
		    "image's %ju bytes", snap, (uintmax_t)total,
		    (uintmax_t)osize);
		errno = EINVAL;
		return -1;
	}
	need = snap_cow_bytes(total);
	if (need == 0 || csize < need) {
		log_warnx("snapshot %s: store %s has %ju bytes, a %ju-byte "
		    "disk needs %ju", snap, cow_dev, (uintmax_t)csize,
		    (uintmax_t)total, (uintmax_t)need);
		errno = ENOSPC;
		return -1;
	}
	extend = total > osize;

	/* The snapshot's table, once its origin is known. */
	memset(&st, 0, sizeof(st));
	st.start = 0;
	st.len = total / SECTOR;
	st.type = "snapshot";

	if (dm_get(snap, &info, &ours) == -1)
		return -1;
	if (info.exists) {
		if (!ours) {
			log_warnx("snapshot %s: exists and is not banger's",
			    snap);
			errno = EEXIST;
			return -1;
		}
		if (extend) {
			if (dm_get(base, &binfo, &bours) == -1)
				return -1;
			if (!binfo.exists || !bours)
				goto other;
			(void)snprintf(st.params, sizeof(st.params),
			    "%u:%u %u:%u P %d", binfo.major, binfo.minor,
			    major(cdev), minor(cdev), SNAP_CHUNK_SECTORS);
		} else
			(void)snprintf(st.params, sizeof(st.params),
			    "%u:%u %u:%u P %d", major(odev), minor(odev),
			    major(cdev), minor(cdev), SNAP_CHUNK_SECTORS);
		if (!dm_table_is(snap, &st))
			goto other;
		log_debug("snapshot %s: already there", snap);
		return 0;
	}

	/* A base left by an earlier failure goes first. */
	if (dm_remove(base) == -1)
		return -1;
	if (extend) {
		memset(t, 0, sizeof(t));
		t[0].start = 0;
		t[0].len = osize / SECTOR;
		t[0].type = "linear";
		(void)snprintf(t[0].params, sizeof(t[0].params), "%u:%u 0",
		    major(odev), minor(odev));
		t[1].start = osize / SECTOR;
		t[1].len = (total - osize) / SECTOR;
		t[1].type = "zero";
		if (dm_make(base, 1, t, 2, &binfo) == -1)
			goto fail;
		(void)snprintf(st.params, sizeof(st.params), "%u:%u %u:%u P %d",
		    binfo.major, binfo.minor, major(cdev), minor(cdev),
		    SNAP_CHUNK_SECTORS);
	} else
		(void)snprintf(st.params, sizeof(st.params), "%u:%u %u:%u P %d",
		    major(odev), minor(odev), major(cdev), minor(cdev),
		    SNAP_CHUNK_SECTORS);
	if (dm_make(snap, 0, &st, 1, &info) == -1)
		goto fail;
	log_info("snapshot %s: %ju bytes over %s%s, store %s", snap,
	    (uintmax_t)total, origin_dev, extend ? " and zeroes" : "",
	    cow_dev);
	return 0;

 other:
	log_warnx("snapshot %s: exists with another table", snap);
	errno = EEXIST;
	return -1;
 fail:
	saved_errno = errno;
	(void)dm_remove(snap);
	(void)dm_remove(base);
	errno = saved_errno;
	return -1;
 fail_fds:
	if (ofd != -1)
		close(ofd);
	if (cfd != -1)
		close(cfd);
	errno = saved_errno;
	return -1;
}

/*
 * Remove "fc-rootfs-VMID" and its base if there.  Nothing there is
 * success, and so is a kernel without device-mapper (nothing can be).
 */
int
snap_remove(const char *vmid)
{
	char	 snap[DM_NAME_MAX], base[DM_NAME_MAX];

	if (dm_names(vmid, snap, sizeof(snap), base, sizeof(base)) == -1)
		return -1;
	if (!storage_has_dm()) {
		log_debug("snapshot %s: kernel has no device-mapper, "
		    "nothing to remove", snap);
		return 0;
	}
	dm_setup();
	if (dm_remove(snap) == -1 || dm_remove(base) == -1)
		return -1;
	log_debug("snapshot %s: gone", snap);
	return 0;
}

/*
 * Disk files.
 */

/*
 * Validate statedir and vmid and build the name of the VM's file with
 * suffix in STATE/disks: STATE/disks is checked with valid_path_under()
 * (it may not be there yet), and the name is a valid VM id and a fixed
 * suffix, one component.
 */
static int
disk_names(const char *statedir, const char *vmid, const char *suffix,
    char *name, size_t len)
{
	char		 path[PATH_MAX], buf[SHOW_MAX + 1];
	const char	*why;

	if (vmid == NULL || valid_vm_id(vmid, strnlen(vmid, VM_ID_LEN + 1),
	    &why) == -1) {
		log_warnx("disk of vm %s: refused: %s",
		    show(vmid, buf, sizeof(buf)), vmid == NULL ? "null" : why);
		errno = EINVAL;
		return -1;
	}
	if (statedir == NULL || snprintf(name, len, "%s%s", vmid, suffix) >=
	    (int)len || snprintf(path, sizeof(path), "%s/" DISKS_DIR,
	    statedir) >= (int)sizeof(path) ||
	    valid_path_under(statedir, path, 0, &why) == -1) {
		log_warnx("disk %s: refused: %s", vmid, statedir == NULL ?
		    "no state directory" : why);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Open STATE/disks (making it if create), never through a symlink,
 * and make it ours and 0700.  Fails with ENOENT if it is not there and
 * create is not set.
 */
static int
disks_dir_open(const char *statedir, const char *vmid, int create)
{
	struct stat	 st;
	int		 sfd, dfd, saved_errno;

	if ((sfd = open(statedir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("disk %s: %s", vmid, statedir);
		return -1;
	}
	if (create && mkdirat(sfd, DISKS_DIR, 0700) == -1 && errno != EEXIST) {
		log_warn("disk %s: mkdir %s/" DISKS_DIR, vmid, statedir);
		goto fail;
	}
	if ((dfd = openat(sfd, DISKS_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("disk %s: %s/" DISKS_DIR, vmid, statedir);
		goto fail;
	}
	close(sfd);
	if (fstat(dfd, &st) == -1) {
		log_warn("disk %s: %s/" DISKS_DIR, vmid, statedir);
		goto fail_dfd;
	}
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(dfd, geteuid(), getegid()) == -1) {
		log_warn("disk %s: chown %s/" DISKS_DIR, vmid, statedir);
		goto fail_dfd;
	}
	if ((st.st_mode & 07777) != 0700 && fchmod(dfd, 0700) == -1) {
		log_warn("disk %s: chmod %s/" DISKS_DIR, vmid, statedir);
		goto fail_dfd;
	}
	return dfd;

 fail_dfd:
	sfd = dfd;
 fail:
	saved_errno = errno;
	close(sfd);
	errno = saved_errno;
	return -1;
}

/* A disk file must be a regular file, ours, single-linked and 0600. */
static int
disk_file_check(int fd, const char *vmid, const char *name)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		log_warn("disk %s: %s", vmid, name);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1) {
		log_warnx("disk %s: " DISKS_DIR "/%s is not a private regular "
		    "file", vmid, name);
		errno = EPERM;
		return -1;
	}
	if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) == -1) {
		log_warn("disk %s: chmod %s", vmid, name);
		return -1;
	}
	return 0;
}

static int
unlink_quiet(int dfd, const char *vmid, const char *name)
{
	if (unlinkat(dfd, name, 0) == -1 && errno != ENOENT) {
		log_warn("disk %s: unlink " DISKS_DIR "/%s", vmid, name);
		return -1;
	}
	return 0;
}

/*
 * Make dstfd's content a reflink of srcfd's (FICLONE).  A file system
 * that makes none (EOPNOTSUPP, EXDEV across file systems, EINVAL, and
 * ENOTTY where the ioctl is unknown) is "no reflink": errno EOPNOTSUPP,
 * logged only in debug, so that callers may fall back.
 */
int
disk_reflink(int srcfd, int dstfd)
{
	struct stat	 ss, ds;
	char		 sn[PATH_MAX], dn[PATH_MAX];

	if (srcfd < 0 || dstfd < 0 || fstat(srcfd, &ss) == -1 ||
	    fstat(dstfd, &ds) == -1) {
		log_warnx("disk reflink: fd %d or %d is not open", srcfd,
		    dstfd);
		errno = EBADF;
		return -1;
	}
	fd_name(srcfd, sn, sizeof(sn));
	fd_name(dstfd, dn, sizeof(dn));
	if (!S_ISREG(ss.st_mode) || !S_ISREG(ds.st_mode) ||
	    (ss.st_dev == ds.st_dev && ss.st_ino == ds.st_ino)) {
		log_warnx("disk reflink: %s to %s: not two regular files", sn,
		    dn);
		errno = EINVAL;
		return -1;
	}
	if (ioctl(dstfd, FICLONE, srcfd) == -1) {
		if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL ||
		    errno == ENOTTY || errno == ENOSYS) {
			log_debug("disk reflink: %s to %s: no reflink: %s", sn,
			    dn, strerror(errno));
			errno = EOPNOTSUPP;
			return -1;
		}
		log_warn("disk reflink: %s to %s", sn, dn);
		return -1;
	}
	log_debug("disk reflink: %s to %s", sn, dn);
	return 0;
}

static ssize_t
pread_full(int fd, char *buf, size_t len, off_t off)
{
	size_t	 done = 0;
	ssize_t	 n;

	while (done < len) {
		if ((n = pread(fd, buf + done, len - done, off + done)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static int
pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = pwrite(fd, buf, len, off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* Write buf at off, leaving holes where whole blocks are zero. */
static int
write_data(int fd, const char *buf, size_t len, off_t off)
{
	static const char	 zero[ZERO_BLOCK];
	size_t			 i = 0, j, b;

	while (i < len) {
		b = len - i < ZERO_BLOCK ? len - i : ZERO_BLOCK;
		if (memcmp(buf + i, zero, b) == 0) {
			i += b;
			continue;
		}
		for (j = i + b; j < len; j += b) {
			b = len - j < ZERO_BLOCK ? len - j : ZERO_BLOCK;
			if (memcmp(buf + j, zero, b) == 0)
				break;
		}
		if (pwrite_all(fd, buf + i, j - i, off + i) == -1)
			return -1;
		i = j;
	}
	return 0;
}

int
disk_sparse_copy(int srcfd, int dstfd)
{
	return disk_sparse_copy_cb(srcfd, dstfd, NULL, NULL);
}

/*
 * Copy srcfd's content to dstfd, which ends at the source's size:
 * only the source's data extents (SEEK_DATA/SEEK_HOLE) are read, and
 * whole zero blocks within them are not written either, so holes stay
 * holes.  cb, if not NULL, hears of the progress.  Moves srcfd's
 * offset.
 */
int
disk_sparse_copy_cb(int srcfd, int dstfd, disk_progress_fn cb, void *arg)
{
	struct stat	 ss, ds;
	char		 sn[PATH_MAX], dn[PATH_MAX], *buf = NULL;
	off_t		 size, off, data, hole, pos;
	ssize_t		 n;
	size_t		 want;
	int		 saved_errno;

	if (srcfd < 0 || dstfd < 0 || fstat(srcfd, &ss) == -1 ||
	    fstat(dstfd, &ds) == -1) {
		log_warnx("disk copy: fd %d or %d is not open", srcfd, dstfd);
		errno = EBADF;
		return -1;
	}
	fd_name(srcfd, sn, sizeof(sn));
	fd_name(dstfd, dn, sizeof(dn));
	if (!S_ISREG(ss.st_mode) || !S_ISREG(ds.st_mode) ||
	    (ss.st_dev == ds.st_dev && ss.st_ino == ds.st_ino)) {
		log_warnx("disk copy: %s to %s: not two regular files", sn, dn);
		errno = EINVAL;
		return -1;
	}
	if ((buf = malloc(COPY_BUF)) == NULL) {
		log_warn("disk copy: %s to %s", sn, dn);
		return -1;
	}
	size = ss.st_size;
	/* What the destination held would show through its new holes. */
	if (ftruncate(dstfd, 0) == -1 || ftruncate(dstfd, size) == -1) {
		log_warn("disk copy: %s to %s: truncate", sn, dn);
		goto fail;
	}
	for (off = 0; off < size; off = hole) {
		if ((data = lseek(srcfd, off, SEEK_DATA)) == -1) {
			if (errno == ENXIO)	/* a hole to the end */
				break;
			log_warn("disk copy: %s: seek data", sn);
			goto fail;
		}
		if (data >= size)
			break;
		if ((hole = lseek(srcfd, data, SEEK_HOLE)) == -1) {
			log_warn("disk copy: %s: seek hole", sn);
			goto fail;
		}
		if (hole > size)
			hole = size;
		for (pos = data; pos < hole; pos += n) {
			want = hole - pos < COPY_BUF ? hole - pos : COPY_BUF;
			if ((n = pread_full(srcfd, buf, want, pos)) == -1) {
				log_warn("disk copy: %s: read", sn);
				goto fail;
			}
			if (n == 0) {
				log_warnx("disk copy: %s: shrank while copied",
				    sn);
				errno = EIO;
				goto fail;
			}
			if (write_data(dstfd, buf, n, pos) == -1) {
				log_warn("disk copy: %s: write", dn);
				goto fail;
			}
			if (cb != NULL && cb(pos + n, size, arg) == -1) {
				log_warnx("disk copy: %s to %s: cancelled", sn,
				    dn);
				errno = ECANCELED;
				goto fail;
			}
		}
	}
	if (cb != NULL && cb(size, size, arg) == -1) {
		errno = ECANCELED;
		goto fail;
	}
	free(buf);
	log_debug("disk copy: %s to %s, %jd bytes", sn, dn, (intmax_t)size);
	return 0;

 fail:
	saved_errno = errno;
	free(buf);
	errno = saved_errno;
	return -1;
}

/*
 * Grow the disk file on fd to size bytes, whole sectors; never shrink.
 * Its size already is success.
 */
int
disk_grow(int fd, uint64_t size)
{
	struct stat	 st;
	char		 name[PATH_MAX];

	if (fd < 0 || fstat(fd, &st) == -1) {
		log_warnx("disk grow: fd %d is not open", fd);
		errno = EBADF;
		return -1;
	}
	fd_name(fd, name, sizeof(name));
	if (!S_ISREG(st.st_mode)) {
		log_warnx("disk grow: %s is not a regular file", name);
		errno = EINVAL;
		return -1;
	}
	if (size < (uint64_t)st.st_size) {
		log_warnx("disk grow: %s: will not shrink it from %jd to %ju "
		    "bytes", name, (intmax_t)st.st_size, (uintmax_t)size);
		errno = EINVAL;
		return -1;
	}
	if (size == (uint64_t)st.st_size)
		return 0;
	if (size % SECTOR != 0 || size > (uint64_t)INT64_MAX) {
		log_warnx("disk grow: %s: %ju bytes is not whole sectors",
		    name, (uintmax_t)size);
		errno = EINVAL;
		return -1;
	}
	if (ftruncate(fd, (off_t)size) == -1) {
		log_warn("disk grow: %s: from %jd to %ju bytes", name,
		    (intmax_t)st.st_size, (uintmax_t)size);
		return -1;
	}
	log_debug("disk grow: %s: from %jd to %ju bytes", name,
	    (intmax_t)st.st_size, (uintmax_t)size);
	return 0;
}

/*
 * Make STATE/disks/VMID.ext4 from the image open on srcfd, size bytes
 * (0: the image's size; never less), with backend STORAGE_REFLINK
 * (fails with EOPNOTSUPP where the file system makes no reflinks),
 * STORAGE_COPY (sparse copy) or STORAGE_AUTO (reflink, else copy).
 * *usedp (if not NULL) says "reflink", "copy", or "existing" when the
 * disk was already there (it is never overwritten).
 *
 * The disk is made as VMID.ext4.new (O_CREAT|O_EXCL|O_NOFOLLOW, 0600,
 * in the directory opened with O_NOFOLLOW), synced, and renamed into
 * place, so a VMID.ext4 is always whole; any failure removes the new
 * file.
 */
int
disk_create(const char *statedir, const char *vmid, int srcfd, int backend,
    uint64_t size, const char **usedp)
{
	struct stat	 ss;
	char		 name[DISK_NAME_MAX], tmp[DISK_NAME_MAX];
	char		 sn[PATH_MAX];
	const char	*used = NULL;
	int		 dfd, fd = -1, saved_errno;

	if (usedp != NULL)
		*usedp = NULL;
	if (disk_names(statedir, vmid, DISK_SUFFIX, name, sizeof(name)) ==
	    -1 || disk_names(statedir, vmid, DISK_NEW_SUFFIX, tmp,
	    sizeof(tmp)) == -1)
		return -1;
	if (backend != STORAGE_AUTO && backend != STORAGE_REFLINK &&
	    backend != STORAGE_COPY) {
		log_warnx("disk %s: storage backend %d makes no disk file",
		    vmid, backend);
		errno = EINVAL;
		return -1;
	}
	if (srcfd < 0 || fstat(srcfd, &ss) == -1) {
		log_warnx("disk %s: image fd %d is not open", vmid, srcfd);
		errno = EBADF;
		return -1;
	}
	fd_name(srcfd, sn, sizeof(sn));
	if (!S_ISREG(ss.st_mode)) {
		log_warnx("disk %s: image %s is not a regular file", vmid, sn);
		errno = EINVAL;
		return -1;
	}
	if (size == 0)
		size = ss.st_size;
	if (size < (uint64_t)ss.st_size) {
		log_warnx("disk %s: size %ju bytes is smaller than image %s's "
		    "%jd bytes", vmid, (uintmax_t)size, sn,
		    (intmax_t)ss.st_size);
		errno = EINVAL;
		return -1;
	}
	if (size != (uint64_t)ss.st_size && size % SECTOR != 0) {
		log_warnx("disk %s: size %ju bytes is not whole sectors", vmid,
		    (uintmax_t)size);
		errno = EINVAL;
		return -1;
	}
	if ((dfd = disks_dir_open(statedir, vmid, 1)) == -1)
		return -1;

	/* Already made: never overwritten.  (O_NONBLOCK: not on a FIFO.) */
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK)) != -1) {
		if (disk_file_check(fd, vmid, name) == -1)
			goto fail;
		close(fd);
		close(dfd);
		log_debug("disk %s: already there", vmid);
		if (usedp != NULL)
			*usedp = "existing";
		return 0;
	}
	if (errno != ENOENT) {
		log_warn("disk %s: " DISKS_DIR "/%s", vmid, name);
		goto fail;
	}

	/* A leftover of a crash is ours to remove. */
	if (unlink_quiet(dfd, vmid, tmp) == -1)
		goto fail;
	if ((fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, 0600)) == -1) {
		log_warn("disk %s: create " DISKS_DIR "/%s", vmid, tmp);
		goto fail;
	}
	if (fchmod(fd, 0600) == -1) {
		log_warn("disk %s: chmod %s", vmid, tmp);
		goto fail_tmp;
	}

	if (backend != STORAGE_COPY) {
		if (disk_reflink(srcfd, fd) == 0)
			used = "reflink";
		else if (errno != EOPNOTSUPP)
			goto fail_tmp;
		else if (backend == STORAGE_REFLINK) {
			log_warnx("disk %s: storage reflink: no reflink from "
			    "%s to %s/" DISKS_DIR, vmid, sn, statedir);
			errno = EOPNOTSUPP;
			goto fail_tmp;
		} else
			log_debug("disk %s: no reflink, copying", vmid);
	}
	if (used == NULL) {
		if (disk_sparse_copy(srcfd, fd) == -1)
			goto fail_tmp;
		used = "copy";
	}
	if (disk_grow(fd, size) == -1)
		goto fail_tmp;
	if (fsync(fd) == -1) {
		log_warn("disk %s: fsync %s", vmid, tmp);
		goto fail_tmp;
	}
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == -1) {
		log_warn("disk %s: rename %s to %s", vmid, tmp, name);
		goto fail_tmp;
	}
	(void)fsync(dfd);
	close(fd);
	close(dfd);
	log_info("disk %s: %ju bytes from %s by %s", vmid, (uintmax_t)size,
	    sn, used);
	if (usedp != NULL)
		*usedp = used;
	return 0;

 fail_tmp:
	saved_errno = errno;
	(void)unlink_quiet(dfd, vmid, tmp);
	errno = saved_errno;
 fail:
	saved_errno = errno;
	if (fd != -1)
		close(fd);
	close(dfd);
	errno = saved_errno;
	return -1;
}

/*
 * The device-mapper backend's snapshot store, STATE/disks/VMID.cow,
 * sparse and large enough (snap_cow_bytes) for a size-byte disk; its
 * fd, open read-write, in *fdp for loop_attach().  One already there is
 * kept (it holds the VM's writes; a persistent snapshot picks them up
 * again) and grown if too small.
 */
int
disk_cow_create(const char *statedir, const char *vmid, uint64_t size,
    int *fdp)
{
	struct stat	 st;
	char		 name[DISK_NAME_MAX];
	uint64_t	 need;
	int		 dfd, fd, made = 0, saved_errno;

	if (fdp == NULL) {
		errno = EINVAL;
		return -1;
	}
	*fdp = -1;
	if (disk_names(statedir, vmid, DISK_COW_SUFFIX, name, sizeof(name)) ==
	    -1)
		return -1;
	if ((need = snap_cow_bytes(size)) == 0 || need > (uint64_t)INT64_MAX) {
		log_warnx("disk %s: size %ju bytes too large", vmid,
		    (uintmax_t)size);
		errno = EINVAL;
		return -1;
	}
	if ((dfd = disks_dir_open(statedir, vmid, 1)) == -1)
		return -1;
	if ((fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, 0600)) != -1)
		made = 1;
	else if (errno == EEXIST)
		fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC |
		    O_NOCTTY);
	if (fd == -1) {
		log_warn("disk %s: " DISKS_DIR "/%s", vmid, name);
		goto fail;
	}
	if (disk_file_check(fd, vmid, name) == -1 || fstat(fd, &st) == -1)
		goto fail;
	if ((uint64_t)st.st_size < need && ftruncate(fd, (off_t)need) == -1) {
		log_warn("disk %s: grow %s to %ju bytes", vmid, name,
		    (uintmax_t)need);
		goto fail;
	}
	close(dfd);
	log_debug("disk %s: store %s, %ju bytes", vmid, made ? "made" :
	    "kept", (uintmax_t)((uint64_t)st.st_size < need ? need :
	    (uint64_t)st.st_size));
	*fdp = fd;
	return 0;

 fail:
	saved_errno = errno;
	if (fd != -1)
		close(fd);
	if (made)
		(void)unlink_quiet(dfd, vmid, name);
	close(dfd);
	errno = saved_errno;
	return -1;
}

/* Remove the VM's disk, its store and any half-made disk. */
int
disk_remove(const char *statedir, const char *vmid)
{
	char	 name[DISK_NAME_MAX], tmp[DISK_NAME_MAX], cow[DISK_NAME_MAX];
	int	 dfd, rv = 0;

	if (disk_names(statedir, vmid, DISK_SUFFIX, name, sizeof(name)) ==
	    -1 || disk_names(statedir, vmid, DISK_NEW_SUFFIX, tmp,
	    sizeof(tmp)) == -1 || disk_names(statedir, vmid, DISK_COW_SUFFIX,
	    cow, sizeof(cow)) == -1)
		return -1;
	if ((dfd = disks_dir_open(statedir, vmid, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (unlink_quiet(dfd, vmid, name) == -1 ||
	    unlink_quiet(dfd, vmid, tmp) == -1 ||
	    unlink_quiet(dfd, vmid, cow) == -1)
		rv = -1;
	close(dfd);
	if (rv == 0)
		log_debug("disk %s: removed", vmid);
	return rv;
}

/*
 * Open the VM's root disk read-write for its unprivileged child: the
 * snapshot "fc-rootfs-VMID" if there is one, else STATE/disks/VMID.ext4.
 */
int
disk_open(const char *statedir, const char *vmid, int *fdp)
{
	struct dm_info	 info;
	char		 name[DISK_NAME_MAX], snap[DM_NAME_MAX];
	char		 base[DM_NAME_MAX];
	int		 dfd, fd, ours, saved_errno;

	if (fdp == NULL) {
		errno = EINVAL;
		return -1;
	}
	*fdp = -1;
	if (disk_names(statedir, vmid, DISK_SUFFIX, name, sizeof(name)) ==
	    -1 || dm_names(vmid, snap, sizeof(snap), base, sizeof(base)) == -1)
		return -1;
	if (storage_has_dm()) {
		dm_setup();
		if (dm_get(snap, &info, &ours) == -1)
			return -1;
		if (info.exists) {
			if (!ours) {
				log_warnx("disk %s: %s is not banger's", vmid,
				    snap);
				errno = EPERM;
				return -1;
			}
			if ((fd = dm_open(snap, &info)) == -1)
				return -1;
			*fdp = fd;
			return 0;
		}
	}
	if ((dfd = disks_dir_open(statedir, vmid, 0)) == -1) {
		if (errno == ENOENT)
			log_warnx("disk %s: none", vmid);
		return -1;
	}
	if ((fd = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY)) == -1) {
		saved_errno = errno;
		if (errno == ENOENT)
			log_warnx("disk %s: none", vmid);
		else
			log_warn("disk %s: open " DISKS_DIR "/%s", vmid, name);
		close(dfd);
		errno = saved_errno;
		return -1;
	}
	close(dfd);
	if (disk_file_check(fd, vmid, name) == -1) {
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
		return -1;
	}
	*fdp = fd;
	return 0;
}

/*
 * The e2fsck child's filter, loaded after no_new_privs and just before
 * it executes e2fsck on a guest's disk.  e2fsck parses what the guest
 * wrote, so a file system crafted to exploit it must find no way out of
 * that process: no socket, no new process or thread, no namespace or
 * mount, no tracing, keys, BPF, perf, io_uring or userfaultfd (each
 * fails with EPERM).  A deny-list, not an allow-list: e2fsck and its
 * loader are not ours to enumerate, and an allowance missed would fail
 * every boot.  execve itself stays allowed (the filter is loaded before
 * e2fsck is executed), but anything run from there runs under this same
 * filter, with no_new_privs and the VM's uid.
 */
static const char *const fsck_denied[] = {
	"socket", "socketpair", "connect", "bind", "listen", "accept",
	"accept4", "sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg",
	"recvmmsg", "fork", "vfork", "clone", "clone3", "execveat",
	"ptrace", "process_vm_readv", "process_vm_writev", "kill",
	"pidfd_open", "pidfd_getfd", "pidfd_send_signal", "setns",
	"unshare", "mount", "umount2", "pivot_root", "chroot", "open_tree",
	"move_mount", "fsopen", "fsmount", "fsconfig", "fspick", "keyctl",
	"add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"memfd_create", "mknod", "mknodat", "personality", "uselib",
	"name_to_handle_at", "open_by_handle_at",
};

int
fsck_filter(void)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	int		 nr, rv = -1;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		return -1;
	for (i = 0; i < sizeof(fsck_denied) / sizeof(fsck_denied[0]); i++) {
		if ((nr = seccomp_syscall_resolve_name(fsck_denied[i])) ==
		    __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0)
			goto out;
	}
	if (seccomp_load(ctx) < 0)
		goto out;
	rv = 0;
 out:
	seccomp_release(ctx);
	return rv;
}

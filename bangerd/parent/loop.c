/*
 * Loop devices for VM root disks: a file attached to a free device
 * (read-only or not, marked), detached, and found again by its mark
 * or backing file.  snap.c builds device-mapper snapshots on them;
 * storage.c holds the disk files.
 *
 * Loop devices are attached without LO_FLAGS_AUTOCLEAR: autoclear
 * detaches a device on its last close, and loop_attach() hands back a
 * path, not an open fd, for device-mapper or Firecracker to open later,
 * so the device must stay attached with nothing holding it.  The
 * parent detaches them itself (loop_detach) and finds them again after
 * a restart by their backing file (loop_backing).  The kernel does set
 * autoclear when loop_detach() meets a device still open elsewhere:
 * LOOP_CLR_FD then succeeds and the device goes on its last close.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <linux/loop.h>
#include <linux/major.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "storage.h"
#include "validate.h"

#define LOOP_CONTROL		"/dev/loop-control"
#define LOOP_ATTACH_TRIES	64	/* free devices taken under us */

static dev_t	loop_decode_dev(uint64_t);

/* Validate dev as /dev/loopN and return N. */
int
loop_number(const char *dev, unsigned int *np)
{
	const char	*why;
	char		 buf[SHOW_MAX + 1];

	if (dev == NULL || valid_loop_path(dev, strnlen(dev, LOOP_DEV_MAX),
	    &why) == -1) {
		log_warnx("loop device %s: refused: %s",
		    storage_show(dev, buf, sizeof(buf)),
		    dev == NULL ? "null" : why);
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
int
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

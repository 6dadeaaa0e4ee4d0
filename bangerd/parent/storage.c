/*
 * VM root disks as files: STATE/disks/VMID.ext4, a reflink (FICLONE) of
 * the image where the file system makes them, else a sparse copy, grown
 * to the disk size; the snapshot store file; a VM's disk opened for its
 * child; the e2fsck child's filter.  Loop devices are loop.c's, the
 * device-mapper snapshots snap.c's.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <libdevmapper.h>
#include <seccomp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "storage.h"
#include "validate.h"

#define DISK_NAME_MAX		(VM_ID_LEN + sizeof(DISK_NEW_SUFFIX))
#define COPY_BUF		(1024 * 1024)
#define ZERO_BLOCK		4096

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
const char *
storage_show(const char *s, char *buf, size_t len)
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
const char *
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
		    storage_show(vmid, buf, sizeof(buf)),
		    vmid == NULL ? "null" : why);
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
 * holes.  A block device source (a device-mapper disk) has no extents
 * to ask for: all of it is read, and its zero blocks left as holes.
 * cb, if not NULL, hears of the progress.  Moves srcfd's offset.
 */
int
disk_sparse_copy_cb(int srcfd, int dstfd, disk_progress_fn cb, void *arg)
{
	struct stat	 ss, ds;
	char		 sn[PATH_MAX], dn[PATH_MAX], *buf = NULL;
	off_t		 size, off, data, hole = 0, pos;
	uint64_t	 bsize;
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
	if ((!S_ISREG(ss.st_mode) && !S_ISBLK(ss.st_mode)) ||
	    !S_ISREG(ds.st_mode) ||
	    (ss.st_dev == ds.st_dev && ss.st_ino == ds.st_ino)) {
		log_warnx("disk copy: %s to %s: not a regular file or block "
		    "device to a regular file", sn, dn);
		errno = EINVAL;
		return -1;
	}
	size = ss.st_size;
	if (S_ISBLK(ss.st_mode)) {
		if (ioctl(srcfd, BLKGETSIZE64, &bsize) == -1) {
			log_warn("disk copy: %s: its size", sn);
			return -1;
		}
		size = bsize;
	}
	if ((buf = malloc(COPY_BUF)) == NULL) {
		log_warn("disk copy: %s to %s", sn, dn);
		return -1;
	}
	/* What the destination held would show through its new holes. */
	if (ftruncate(dstfd, 0) == -1 || ftruncate(dstfd, size) == -1) {
		log_warn("disk copy: %s to %s: truncate", sn, dn);
		goto fail;
	}
	for (off = 0; off < size; off = hole) {
		if (S_ISBLK(ss.st_mode)) {
			data = off;
			hole = size;
		} else if ((data = lseek(srcfd, off, SEEK_DATA)) == -1) {
			if (errno == ENXIO)	/* a hole to the end */
				break;
			log_warn("disk copy: %s: seek data", sn);
			goto fail;
		}
		if (data >= size)
			break;
		if (!S_ISBLK(ss.st_mode) &&
		    (hole = lseek(srcfd, data, SEEK_HOLE)) == -1) {
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
 * in the directory opened with O_NOFOLLOW), synced (if sync), and
 * renamed into place, so a VMID.ext4 is always whole; any failure
 * removes the new file.  Without sync, whole only until a power cut:
 * the caller syncs it (disks_sync) before anything says it is made.
 */
int
disk_create(const char *statedir, const char *vmid, int srcfd, int backend,
    uint64_t size, int sync, const char **usedp)
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
	if (sync && fsync(fd) == -1) {
		log_warn("disk %s: fsync %s", vmid, tmp);
		goto fail_tmp;
	}
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == -1) {
		log_warn("disk %s: rename %s to %s", vmid, tmp, name);
		goto fail_tmp;
	}
	if (sync)
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
 * The disks of n VMs made by disk_create() without sync, synced, then
 * STATE/disks once (their renames).  errs[i]: 0, or why vmids[i]'s
 * disk is not synced (logged); an entry already failed (errs[i] set)
 * is left.  Returns 0, or -1 if any failed.
 */
int
disks_sync(const char *statedir, const char *const *vmids, int *errs,
    size_t n)
{
	char	 name[DISK_NAME_MAX];
	size_t	 i, synced = 0;
	int	 dfd, fd, rv = 0, err;

	if ((dfd = disks_dir_open(statedir, n > 0 ? vmids[0] : "-", 0)) ==
	    -1) {
		err = errno ? errno : EIO;
		for (i = 0; i < n; i++)
			if (errs[i] == 0)
				errs[i] = err;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (errs[i] != 0)
			continue;
		fd = -1;
		if (disk_names(statedir, vmids[i], DISK_SUFFIX, name,
		    sizeof(name)) == -1 || (fd = openat(dfd, name, O_RDONLY |
		    O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
		    fsync(fd) == -1) {
			errs[i] = errno ? errno : EIO;
			log_warn("disk %s: fsync", vmids[i]);
			rv = -1;
		} else
			synced++;
		if (fd != -1)
			close(fd);
	}
	if (synced > 0 && fsync(dfd) == -1) {
		err = errno ? errno : EIO;
		log_warn("fsync %s/" DISKS_DIR, statedir);
		for (i = 0; i < n; i++)
			if (errs[i] == 0)
				errs[i] = err;
		rv = -1;
	}
	close(dfd);
	return rv;
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

/*
 * Device-mapper snapshots for VM root disks, through libdevmapper: the
 * VM's snapshot of its image made and removed, and the helpers
 * disk_open() (storage.c) uses to find and open one.  The loop devices
 * under them are loop.c's.
 *
 * Device-mapper backend: the image is attached read-only to a loop
 * device, the VM's snapshot store (STATE/disks/VMID.cow) read-write to
 * another, and "fc-rootfs-VMID" is a persistent dm snapshot of the one
 * over the other.  A disk larger than the image snapshots
 * "fc-rootfs-VMID-base" instead: the image followed by zeroes.
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

#include <errno.h>
#include <fcntl.h>
#include <libdevmapper.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "storage.h"
#include "validate.h"

#define CHUNK_BYTES		(SNAP_CHUNK_SECTORS * SECTOR)
#define SNAP_EXC_BYTES		16	/* one on-disk exception */
#define DM_UUID_MAX		(sizeof(DM_UUID_PREFIX) + DM_NAME_MAX)
#define DM_PARAMS_MAX		128
#define DM_DEV_PREFIX		"/dev/dm-"

struct dm_tgt {
	uint64_t	 start;		/* sectors */
	uint64_t	 len;
	const char	*type;
	char		 params[DM_PARAMS_MAX];
};

static void	dm_log(int, const char *, int, int, const char *, ...)
		    __attribute__((__format__ (printf, 5, 6)));
static int	valid_dm_base_name(const char *, size_t, const char **);
static int	dm_make(const char *, int, const struct dm_tgt *, size_t,
		    struct dm_info *);
static int	dm_remove(const char *);
static int	dm_table_is(const char *, const struct dm_tgt *);
static int	blk_info(int, const char *, dev_t *, uint64_t *, int *);

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

void
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
int
dm_names(const char *vmid, char *snap, size_t snaplen, char *base,
    size_t baselen)
{
	const char	*why;
	char		 buf[SHOW_MAX + 1];

	if (vmid == NULL || valid_vm_id(vmid, strnlen(vmid, VM_ID_LEN + 1),
	    &why) == -1) {
		log_warnx("snapshot of vm %s: refused: %s",
		    storage_show(vmid, buf, sizeof(buf)),
		    vmid == NULL ? "null" : why);
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
int
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
int
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

/*
 * The parent's storage operations for VM root disks: loop devices,
 * device-mapper snapshots, and (where the kernel has no device-mapper)
 * reflinked or sparse-copied disk files: loop.c, snap.c and storage.c.
 *
 * Every function returns 0 on success and -1 with errno set on
 * failure, logs through log.h naming the object it acted on, checks
 * its inputs again with validate.h, and is idempotent: doing it twice
 * succeeds, and undoing what is already gone succeeds.
 *
 * Layout under the state directory (STATE, root-owned 0755, is the vm
 * worker's chroot):
 *
 *	STATE/disks/		root, 0700: nothing a worker may reach
 *	STATE/disks/VMID.ext4	the VM's disk file (reflink, copy), 0600
 *	STATE/disks/VMID.cow	the VM's snapshot store (dm), 0600
 *
 * STATE/vms belongs to the vm worker, so the parent keeps the disks it
 * creates as root out of it.  A VM's child gets its disk as an open fd
 * (disk_open), never by a path it could swap.
 */
#ifndef BANGERD_STORAGE_H
#define BANGERD_STORAGE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "config.h"	/* STORAGE_*, disk_create()'s backends */

#define DISKS_DIR		"disks"		/* under the state directory */
#define DISK_SUFFIX		".ext4"
#define DISK_COW_SUFFIX		".cow"
#define DISK_NEW_SUFFIX		".ext4.new"	/* being made by disk_create */
#define DM_BASE_SUFFIX		"-base"		/* fc-rootfs-VMID-base */
#define DM_UUID_PREFIX		"BANGER-"	/* marks banger's dm devices */
#define SNAP_CHUNK_SECTORS	8		/* 4 KiB exception chunks */
#define LOOP_DEV_MAX		sizeof("/dev/loop1048575")
#define LOOP_MARK_MAX		64	/* lo_file_name, its NUL included */
#define SECTOR			512ULL
#define DM_NAME_MAX		64	/* fc-rootfs-VMID-base and NUL */
#define SHOW_MAX		64	/* of a refused string, in a message */

struct dm_info;				/* libdevmapper.h */


/*
 * Called by disk_sparse_copy_cb() after each chunk with the bytes of
 * the source scanned so far and its size; returning -1 cancels the
 * copy (ECANCELED).
 */
typedef int	(*disk_progress_fn)(uint64_t, uint64_t, void *);

/* loop.c */
int		loop_number(const char *, unsigned int *);
int		loop_open(const char *, int);
int		loop_attach(int, int, const char *, char *, size_t);
int		loop_detach(const char *);
int		loop_mark(const char *, char *, size_t);
int		loop_backing(const char *, char *, size_t, dev_t *, ino_t *);

/* snap.c */
void		dm_setup(void);
int		dm_names(const char *, char *, size_t, char *, size_t);
int		dm_get(const char *, struct dm_info *, int *);
int		dm_open(const char *, const struct dm_info *);
int		storage_has_dm(void);
uint64_t	snap_cow_bytes(uint64_t);
int		snap_create(const char *, const char *, const char *,
		    uint64_t);
int		snap_remove(const char *);

/* storage.c */
const char	*storage_show(const char *, char *, size_t);
const char	*fd_name(int, char *, size_t);
int		disk_reflink(int, int);
int		disk_sparse_copy(int, int);
int		disk_sparse_copy_cb(int, int, disk_progress_fn, void *);
int		disk_grow(int, uint64_t);
int		disk_create(const char *, const char *, int, int, uint64_t,
		    int, const char **);
int		disks_sync(const char *, const char *const *, int *, size_t);
int		disk_cow_create(const char *, const char *, uint64_t, int *);
int		disk_remove(const char *, const char *);
int		disk_open(const char *, const char *, int *);
int		fsck_filter(void);

#endif /* BANGERD_STORAGE_H */

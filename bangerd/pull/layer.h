/*
 * OCI layers written straight into an ext4 file system through
 * libext2fs: nothing is mounted, no path on the host is opened, and
 * nothing in a layer is trusted.  The pull worker, unprivileged,
 * chrooted and under seccomp (layer_syscalls lists what this needs),
 * holds the new file system's fd and the layers' fds and calls
 *
 *	layer_preinit()			once, before the sandbox
 *	layerfs_open(fd, &fs, ...)
 *	layer_apply(fs, layerfd, ...)	for each layer, lowest first
 *	layerfs_close(fs, ...)
 *
 * A layer is a tar stream (ustar, pax or GNU; uncompressed, gzip or
 * zstd, told by its first bytes) applied as the OCI image spec's
 * layer.md says ("Applying changesets"):
 *
 *  - Names lose a leading "./" (and runs of "./" and "/" after it);
 *    "." names the root directory, whose mode, owner and times the
 *    entry sets.  An absolute name, a ".." component, an empty
 *    component but for a trailing slash, a name over 4095 bytes or a
 *    component over 255 are refused, in entries and hard link targets.
 *  - Missing parent directories are made 0755 root:root.  A symbolic
 *    link in a parent component is followed inside the image (its
 *    root is the image's root: nothing leads out); the last component
 *    never is: an entry replaces whatever has its name.
 *  - A directory keeps its children when one is there (mode, owner,
 *    times and extended attributes are the entry's); anything else
 *    first removes what is there, a directory with all it holds.
 *  - Regular files (sparse ones with their holes, blocks of zeros
 *    left as holes too), hard links (to a non-directory already in
 *    the image), symbolic links (their target stored as it is),
 *    character and block devices and FIFOs; sockets are skipped and
 *    any other type refused.  Modes keep setuid, setgid and sticky;
 *    times are the entry's mtime (atime, ctime and crtime alike).
 *  - Extended attributes in the user., trusted. and security. name
 *    spaces are written; others (system., POSIX ACLs) are skipped.
 *  - ".wh.NAME" removes NAME unless this layer made it;
 *    ".wh..wh..opq" removes from its directory everything this layer
 *    did not write (going down into the directories it did); other
 *    ".wh..wh." names are skipped.  No whiteout is written.
 *  - The root's lost+found belongs to the file system: whiteouts
 *    leave it, an entry that would make it a non-directory is refused.
 *
 * Everything returns 0, or -1 with one line in err (LAYER_ERR_MAX is a
 * good size) naming the entry and what is wrong with it.  A refused or
 * failed layer leaves the file system half written: it is for e2fsck
 * or the bin, and layerfs_close() still frees it.  Not thread-safe.
 */
#ifndef BANGERD_LAYER_H
#define BANGERD_LAYER_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

#include <ext2fs/ext2fs.h>

#define LAYER_ERR_MAX	512

/* Each 0 means no limit. */
struct layer_limits {
	uint64_t	ll_entries;	/* most entries in one layer */
	uint64_t	ll_file_max;	/* largest single file, bytes */
	uint64_t	ll_bytes_max;	/* most file bytes in one layer */
};

/* One layer's: entries read, and what they made. */
struct layer_stats {
	uint64_t	ls_entries;
	uint64_t	ls_files;
	uint64_t	ls_dirs;
	uint64_t	ls_symlinks;
	uint64_t	ls_hardlinks;
	uint64_t	ls_devices;	/* character, block, FIFO */
	uint64_t	ls_whiteouts;	/* both kinds */
	uint64_t	ls_bytes;	/* file data, uncompressed */
};

/* layer.c */
extern const char *const layer_syscalls[];

/* preinit.c: the C.UTF-8 character type, made by layer_preinit(). */
extern locale_t	 layer_locale;

/*
 * Before the sandbox: the UTF-8 character type the names in pax
 * headers are read with, and glibc's conversion tables it needs
 * (files it reads now, not later).  -1 (errno set) without a C.UTF-8
 * locale; then layer_apply() refuses to run.
 */
int	 layer_preinit(void);

/*
 * fd: open read-write on a regular file or block device holding a
 * clean ext2/3/4 file system; the caller keeps fd (libext2fs works on
 * a dup of it).
 */
int	 layerfs_open(int, ext2_filsys *, char *, size_t);

/*
 * Apply the layer read from fd with pread() from offset 0 (fd's offset
 * is neither used nor moved; a memfd will do).  progress, if not NULL,
 * is called with the bytes of fd read so far, every MiB and at the end.
 * *stats is the layer's, also after a refusal.
 */
int	 layer_apply(ext2_filsys, int, const struct layer_limits *,
	    struct layer_stats *, void (*)(void *, uint64_t), void *, char *,
	    size_t);

/* layer_apply() of the len bytes at off in fd (a member of a tar). */
int	 layer_apply_at(ext2_filsys, int, uint64_t, uint64_t,
	    const struct layer_limits *, struct layer_stats *,
	    void (*)(void *, uint64_t), void *, char *, size_t);

/* Write everything out and free fs (which is freed on failure too). */
int	 layerfs_close(ext2_filsys, char *, size_t);

#endif /* BANGERD_LAYER_H */

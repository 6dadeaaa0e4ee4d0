/*
 * OCI layers into ext4 through libext2fs (see layer.h).
 *
 * libarchive reads a layer through a callback that preads the fd at
 * offsets of its own and tells gzip and zstd from their first bytes;
 * each entry is checked (its name, type, owner, size and the limits)
 * and then written through libext2fs.  Every lookup starts at the
 * image's root: a parent component that is a symbolic link is resolved
 * by ext2fs_follow_link() with EXT2_ROOT_INO as the root, where ".." of
 * the root is the root, so no name in a layer leads out of the image,
 * and this process holds no path out of it anyway.
 *
 * Removing (for a whiteout, or for an entry replacing something)
 * unlinks every name of the tree depth first, and frees an inode, its
 * blocks and its extended attribute block when its last name goes,
 * keeping the parents' link counts and the group counters right: e2fsck
 * -fn finds the result clean.
 *
 * The whiteout rules must tell what this layer wrote from what lower
 * layers did: a set of (directory inode, name) pairs, one for each
 * entry written and each directory made on the way.  A pair left by a
 * removal can only name a directory inode that this layer reuses for a
 * directory of its own, whose children are all its own: no harm.
 *
 * libarchive converts the names in pax headers from UTF-8 to the
 * current locale's character set, with iconv, and it reads the names of
 * regular files back as wide characters: in the C locale a name that is
 * not ASCII would be lost, and either would make glibc open its gconv
 * files, which the sandbox forbids.  So layer_apply() runs in a C.UTF-8
 * character type (UTF-8 to UTF-8 needs no iconv), which layer_preinit()
 * made, conversion tables and all, before the sandbox.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <archive.h>
#include <archive_entry.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "layer.h"
#include "layerint.h"

#define READ_SIZE	(128 * 1024)	/* a pread of the layer */
#define PROGRESS_STEP	(1024 * 1024)	/* progress() every MiB read */
#define WH_PREFIX	".wh."
#define WH_META		".wh..wh."
#define WH_OPAQUE	".wh..wh..opq"

/*
 * What a process that only applies layers needs from the kernel, for a
 * seccomp allow-list (names for seccomp_syscall_resolve_name()), as
 * measured with strace -f on regress/helpers/layer-drive (plain, gzip
 * and zstd layers, pax names in UTF-8, sparse files, attribute blocks,
 * trees removed; ext4 with and without extents; Debian 12: libext2fs
 * 1.47.0, libarchive 3.6.2, glibc 2.36).  No path is ever opened.
 *
 *	pread64		the layers, at offsets of our own; the disk
 *	fcntl		F_GETFL, F_DUPFD_CLOEXEC, F_GETFD (layerfs_open)
 *	newfstatat, fstat
 *			fstat(): layerfs_open, libext2fs's open and its
 *			zeroout (newfstatat since glibc 2.33)
 *	pwrite64, lseek, write, fsync, close
 *			the disk: blocks with pwrite, the superblock's
 *			changed bytes with lseek+write, fsync and close
 *	fallocate	FALLOC_FL_ZERO_RANGE (or PUNCH_HOLE): libext2fs
 *			zeroes each metadata block it allocates (extent
 *			tree, indirect, attribute blocks); its ftruncate
 *			first only when that block is past the file's end,
 *			which a made file system's never is
 *	ioctl		BLKDISCARDZEROES (libext2fs's open; ENOTTY on a file)
 *	getuid, geteuid, getgid, getegid, prctl (PR_GET_DUMPABLE)
 *			libext2fs's safe_getenv()
 *	brk, mmap, munmap, mremap, madvise
 *			memory (zstd's window, glibc's big blocks)
 *	clock_gettime, gettimeofday, time	time(), where not vDSO
 */
const char *const layer_syscalls[] = {
	"pread64", "fcntl", "newfstatat", "fstat", "pwrite64", "lseek",
	"write", "fsync", "close", "fallocate", "ioctl", "getuid",
	"geteuid", "getgid", "getegid", "prctl", "brk", "mmap", "munmap",
	"mremap", "madvise", "clock_gettime", "gettimeofday", "time", NULL
};


struct reader {
	int		 fd;
	off_t		 base;		/* the layer's first byte in fd */
	uint64_t	 end;		/* and the offset past its last */
	off_t		 off;
	uint64_t	 last;		/* progress() called at */
	void		(*progress)(void *, uint64_t);
	void		*arg;
	char		 buf[READ_SIZE];
};

/* A name this layer wrote: dir's entry name. */
struct mark {
	struct mark	*next;
	ext2_ino_t	 dir;
	size_t		 len;
	char		 name[];
};


static int	fail(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	check_fd(int, char *, size_t);
static la_ssize_t reader_read(struct archive *, void *, const void **);
static uint32_t	mark_hash(ext2_ino_t, const char *, size_t);
static void	marks_free(struct lctx *);
static int	clean_name(struct lctx *, const char *, const char *, char *);
static int	put_file(struct lctx *, struct archive_entry *, ext2_ino_t,
		    const char *);
static int	put_symlink(struct lctx *, struct archive_entry *, ext2_ino_t,
		    const char *);
static int	put_node(struct lctx *, struct archive_entry *, ext2_ino_t,
		    const char *, unsigned int);
static int	put_dir(struct lctx *, struct archive_entry *, ext2_ino_t,
		    const char *);
static int	put_hardlink(struct lctx *, const char *, ext2_ino_t,
		    const char *);
static int	whiteout(struct lctx *, ext2_ino_t, const char *);
static int	apply_entry(struct lctx *, struct archive_entry *);

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

/* "layer entry "NAME": why" */
int
lx_efail(struct lctx *l, const char *fmt, ...)
{
	va_list	ap;
	char	why[LAYER_ERR_MAX];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return (fail(l->err, l->errlen, "layer entry \"%s\": %s", l->shown,
	    why));
}

/* "layer entry "NAME": what: libext2fs's message" */
int
lx_fsfail(struct lctx *l, errcode_t rv, const char *fmt, ...)
{
	va_list	ap;
	char	what[LAYER_ERR_MAX];

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return (lx_efail(l, "%s: %s", what, error_message(rv)));
}

/*
 * A name from the layer for a message: its first SHOW_MAX bytes, quotes,
 * backslashes, control characters and non-ASCII bytes escaped (the
 * message may end up in JSON, which wants UTF-8, and on a terminal).
 */
void
lx_show(const char *s, char *out)
{
	size_t	i, o = 0;

	for (i = 0; s[i] != '\0' && i < SHOW_MAX; i++) {
		unsigned char	c = s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = c;
		} else if (c < 0x20 || c >= 0x7f)
			o += snprintf(out + o, SHOW_SIZE - o, "\\%03o", c);
		else
			out[o++] = c;
	}
	if (s[i] != '\0') {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* The fd must be open for reading and writing, on a file or a disk. */
static int
check_fd(int fd, char *err, size_t errlen)
{
	struct stat	st;
	int		fl;

	if (fd < 0)
		return (fail(err, errlen, "fd %d: not a file descriptor", fd));
	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return (fail(err, errlen, "fd %d: %s", fd, strerror(errno)));
	if ((fl & O_ACCMODE) != O_RDWR)
		return (fail(err, errlen, "fd %d: not open for reading and "
		    "writing", fd));
	if (fstat(fd, &st) == -1)
		return (fail(err, errlen, "fd %d: %s", fd, strerror(errno)));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return (fail(err, errlen, "fd %d: not a regular file or a "
		    "block device", fd));
	return (0);
}

/*
 * Open the file system on a dup of fd: libext2fs owns (and closes) the
 * dup whether the open succeeds or not.  It must be clean, with nothing
 * this file does not know how to keep right.
 */
int
layerfs_open(int fd, ext2_filsys *fsp, char *err, size_t errlen)
{
	struct ext2_super_block	*sb;
	ext2_filsys		 fs;
	char			 name[16];
	errcode_t		 rv;
	int			 dfd;
	const char		*why = NULL;

	*fsp = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	initialize_ext2_error_table();
	if (check_fd(fd, err, errlen) == -1)
		return (-1);
	if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return (fail(err, errlen, "fd %d: dup: %s", fd,
		    strerror(errno)));
	snprintf(name, sizeof(name), "%d", dfd);
	rv = ext2fs_open2(name, NULL, EXT2_FLAG_RW | EXT2_FLAG_64BITS |
	    EXT2_FLAG_SKIP_MMP, 0, 0, unixfd_io_manager, &fs);
	if (rv != 0) {
		/* Closed by libext2fs, unless it failed before its I/O. */
		if (fcntl(dfd, F_GETFD) != -1)
			close(dfd);
		if (rv == EXT2_ET_BAD_MAGIC)
			return (fail(err, errlen, "fd %d: not an ext2/3/4 "
			    "file system (bad magic number)", fd));
		return (fail(err, errlen, "fd %d: cannot open the file "
		    "system: %s", fd, error_message(rv)));
	}
	sb = fs->super;
	if (ext2fs_has_feature_journal_needs_recovery(sb))
		why = "its journal needs recovery: run e2fsck";
	else if ((sb->s_state & EXT2_ERROR_FS) ||
	    !(sb->s_state & EXT2_VALID_FS))
		why = "it is not clean: run e2fsck";
	else if (ext2fs_has_feature_mmp(sb))
		why = "multiple-mount protection is not supported";
	else if (ext2fs_has_feature_casefold(sb))
		/* Its names would not be the bytes looked up here. */
		why = "case-insensitive names are not supported";
	else if (ext2fs_has_feature_ea_inode(sb))
		/* Freeing an inode would leave its attribute inodes. */
		why = "extended attributes in inodes (ea_inode) are not "
		    "supported";
	else if (!ext2fs_has_feature_xattr(sb))
		why = "it has no extended attributes (ext_attr)";
	if (why != NULL) {
		ext2fs_free(fs);
		return (fail(err, errlen, "fd %d: the file system: %s", fd,
		    why));
	}
	if ((rv = ext2fs_read_bitmaps(fs)) != 0) {
		ext2fs_free(fs);
		return (fail(err, errlen, "fd %d: read the bitmaps: %s", fd,
		    error_message(rv)));
	}
	*fsp = fs;
	return (0);
}

int
layerfs_close(ext2_filsys fs, char *err, size_t errlen)
{
	errcode_t	rv;

	if (fs == NULL)
		return (0);
	/* Every superblock and group descriptor copy: a new image. */
	if ((rv = ext2fs_close2(fs, 0)) != 0) {
		/* A failed flush leaves fs (and the dup). */
		ext2fs_free(fs);
		return (fail(err, errlen, "write the file system: %s",
		    error_message(rv)));
	}
	return (0);
}

/* libarchive's input: the next READ_SIZE bytes at our own offset. */
static la_ssize_t
reader_read(struct archive *a, void *arg, const void **buf)
{
	struct reader	*rd = arg;
	size_t		 want = sizeof(rd->buf);
	ssize_t		 n;

	if ((uint64_t)rd->off >= rd->end)
		return (0);
	if (rd->end - (uint64_t)rd->off < want)
		want = rd->end - (uint64_t)rd->off;
	do
		n = pread(rd->fd, rd->buf, want, rd->off);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		archive_set_error(a, errno, "read the layer: %s",
		    strerror(errno));
		return (-1);
	}
	rd->off += n;
	if (rd->progress != NULL &&
	    (uint64_t)(rd->off - rd->base) - rd->last >= PROGRESS_STEP) {
		rd->last = rd->off - rd->base;
		rd->progress(rd->arg, rd->last);
	}
	*buf = rd->buf;
	return (n);
}

/* FNV-1a of the directory and the name. */
static uint32_t
mark_hash(ext2_ino_t dir, const char *name, size_t len)
{
	uint32_t	h = 2166136261U;
	size_t		i;

	for (i = 0; i < sizeof(dir); i++) {
		h ^= (dir >> (i * 8)) & 0xff;
		h *= 16777619U;
	}
	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619U;
	}
	return (h);
}

int
lx_marked(struct lctx *l, ext2_ino_t dir, const char *name)
{
	struct mark	*m;
	size_t		 len = strlen(name);

	if (l->nbuckets == 0)
		return (0);
	m = l->marks[mark_hash(dir, name, len) & (l->nbuckets - 1)];
	for (; m != NULL; m = m->next)
		if (m->dir == dir && m->len == len &&
		    memcmp(m->name, name, len) == 0)
			return (1);
	return (0);
}

/* dir's entry name is this layer's. */
int
lx_mark(struct lctx *l, ext2_ino_t dir, const char *name)
{
	struct mark	**nb, *m, *next;
	size_t		  len = strlen(name), n, i;
	uint32_t	  h;

	if (lx_marked(l, dir, name))
		return (0);
	if (l->nmarks >= l->nbuckets) {
		/* Grow: twice the buckets, rehashed. */
		n = l->nbuckets == 0 ? 1024 : l->nbuckets * 2;
		if ((nb = calloc(n, sizeof(*nb))) == NULL)
			return (lx_efail(l, "%s", strerror(errno)));
		for (i = 0; i < l->nbuckets; i++)
			for (m = l->marks[i]; m != NULL; m = next) {
				next = m->next;
				h = mark_hash(m->dir, m->name, m->len);
				m->next = nb[h & (n - 1)];
				nb[h & (n - 1)] = m;
			}
		free(l->marks);
		l->marks = nb;
		l->nbuckets = n;
	}
	if ((m = malloc(sizeof(*m) + len)) == NULL)
		return (lx_efail(l, "%s", strerror(errno)));
	m->dir = dir;
	m->len = len;
	memcpy(m->name, name, len);
	h = mark_hash(dir, name, len);
	m->next = l->marks[h & (l->nbuckets - 1)];
	l->marks[h & (l->nbuckets - 1)] = m;
	l->nmarks++;
	return (0);
}

static void
marks_free(struct lctx *l)
{
	struct mark	*m, *next;
	size_t		 i;

	for (i = 0; i < l->nbuckets; i++)
		for (m = l->marks[i]; m != NULL; m = next) {
			next = m->next;
			free(m);
		}
	free(l->marks);
	l->marks = NULL;
	l->nbuckets = l->nmarks = 0;
}

/*
 * raw as the image sees it, in out (TAR_PATH_MAX + 1 bytes): "a/b/c",
 * or "" for the root.  what prefixes the messages ("" for the entry's
 * own name).  "." components go; ".." and empty ones are refused.
 */
static int
clean_name(struct lctx *l, const char *raw, const char *what, char *out)
{
	const char	*p;
	size_t		 n, o = 0;

	/* NULL: libarchive could not read it (bad UTF-8 in a pax header). */
	if (raw == NULL || raw[0] == '\0')
		return (lx_efail(l, "%sno name, or one that is not UTF-8", what));
	if (strnlen(raw, TAR_PATH_MAX + 1) > TAR_PATH_MAX)
		return (lx_efail(l, "%sa name longer than %d bytes is refused",
		    what, TAR_PATH_MAX));
	if (raw[0] == '/')
		return (lx_efail(l, "%san absolute name is refused", what));
	p = raw;
	while (p[0] == '.' && p[1] == '/') {
		p += 2;
		while (*p == '/')
			p++;
	}
	while (*p != '\0') {
		n = strcspn(p, "/");
		if (n == 0)
			return (lx_efail(l, "%san empty path component is "
			    "refused", what));
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return (lx_efail(l, "%sa path with \"..\" is refused",
			    what));
		if (n > NAME_MAX_EXT2)
			return (lx_efail(l, "%sa path component longer than %d "
			    "bytes is refused", what, NAME_MAX_EXT2));
		if (n != 1 || p[0] != '.') {
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		/* One trailing slash, as a directory's name has. */
		if (*p == '/' && *++p == '\0')
			break;
	}
	out[o] = '\0';
	return (0);
}

/*
 * A regular file: a new inode (an empty extent tree where the file
 * system has extents: mke2fs -d's way), its data, its name.  Never
 * inline data: a file's size is not known to fit until it is read.
 */
static int
put_file(struct lctx *l, struct archive_entry *e, ext2_ino_t dir,
    const char *name)
{
	const struct layer_limits	*lim = l->lim;
	struct ext2_inode		 in;
	ext2_filsys			 fs = l->fs;
	ext2_extent_handle_t		 eh;
	ext2_ino_t			 ino;
	errcode_t			 rv;
	int64_t				 size;

	size = archive_entry_size(e);
	if (!archive_entry_size_is_set(e) || size < 0)
		return (lx_efail(l, "no size"));
	if (lim->ll_file_max != 0 && (uint64_t)size > lim->ll_file_max)
		return (lx_efail(l, "%lld bytes, more than the %llu a file may "
		    "have", (long long)size,
		    (unsigned long long)lim->ll_file_max));
	if (lt_new_inode(l, dir, LINUX_S_IFREG | l->at.mode, &ino) == -1)
		return (-1);
	memset(&in, 0, sizeof(in));
	in.i_mode = LINUX_S_IFREG | l->at.mode;
	in.i_links_count = 1;
	if ((rv = ext2fs_inode_size_set(fs, &in, size)) != 0)
		return (lx_fsfail(l, rv, "size %lld", (long long)size));
	if (ext2fs_has_feature_extents(fs->super)) {
		/* An empty extent tree in i_block; sets EXTENTS_FL. */
		if ((rv = ext2fs_extent_open2(fs, ino, &in, &eh)) != 0)
			return (lx_fsfail(l, rv, "extents"));
		ext2fs_extent_free(eh);
	}
	if ((rv = ext2fs_write_new_inode(fs, ino, &in)) != 0)
		return (lx_fsfail(l, rv, "write inode %u", ino));
	if (lt_put_data(l, ino, size) == -1)
		return (-1);
	if (lt_add_link(l, dir, name, ino, EXT2_FT_REG_FILE) == -1 ||
	    lt_set_xattrs(l, ino, e, 0) == -1 || lt_set_attrs(l, ino, &l->at, 1) == -1)
		return (-1);
	l->st->ls_files++;
	return (0);
}

/* Its target as it is: it is only ever resolved inside the image. */
static int
put_symlink(struct lctx *l, struct archive_entry *e, ext2_ino_t dir,
    const char *name)
{
	const char	*target = archive_entry_symlink(e);
	ext2_ino_t	 ino;
	errcode_t	 rv;
	size_t		 len;

	if (target == NULL || target[0] == '\0')
		return (lx_efail(l, "a symbolic link to nothing"));
	len = strnlen(target, TAR_PATH_MAX + 1);
	if (len > TAR_PATH_MAX || len >= l->fs->blocksize)
		return (lx_efail(l, "a symbolic link target longer than %u bytes",
		    (unsigned int)(l->fs->blocksize - 1 < TAR_PATH_MAX ?
		    l->fs->blocksize - 1 : TAR_PATH_MAX)));
	rv = ext2fs_new_inode(l->fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino);
	if (rv != 0)
		return (lx_fsfail(l, rv, "new inode"));
	/* Counts the inode (and its block, if any) as used. */
	if ((rv = ext2fs_symlink(l->fs, dir, ino, NULL, target)) != 0)
		return (lx_fsfail(l, rv, "symbolic link"));
	if (lt_add_link(l, dir, name, ino, EXT2_FT_SYMLINK) == -1 ||
	    lt_set_xattrs(l, ino, e, 0) == -1 || lt_set_attrs(l, ino, &l->at, 0) == -1)
		return (-1);
	l->st->ls_symlinks++;
	return (0);
}

/*
 * A device or a FIFO; rdev as e2fsprogs' create_inode.c writes it: the
 * old encoding in i_block[0] when major and minor fit in a byte, the
 * new one in i_block[1] otherwise.
 */
static int
put_node(struct lctx *l, struct archive_entry *e, ext2_ino_t dir,
    const char *name, unsigned int type)
{
	struct ext2_inode	in;
	ext2_ino_t		ino;
	errcode_t		rv;
	unsigned long		maj = 0, min = 0;

	if (type != LINUX_S_IFIFO) {
		maj = archive_entry_rdevmajor(e);
		min = archive_entry_rdevminor(e);
		if (maj > 0xfff || min > 0xfffff)
			return (lx_efail(l, "device %lu:%lu is out of range",
			    maj, min));
	}
	if (lt_new_inode(l, dir, type | l->at.mode, &ino) == -1)
		return (-1);
	memset(&in, 0, sizeof(in));
	in.i_mode = type | l->at.mode;
	in.i_links_count = 1;
	if (type != LINUX_S_IFIFO) {
		if (maj < 256 && min < 256)
			in.i_block[0] = maj * 256 + min;
		else
			in.i_block[1] = (min & 0xff) | (maj << 8) |
			    ((min & ~0xffUL) << 12);
	}
	if ((rv = ext2fs_write_new_inode(l->fs, ino, &in)) != 0)
		return (lx_fsfail(l, rv, "write inode %u", ino));
	if (lt_add_link(l, dir, name, ino, lt_ftype(type)) == -1 ||
	    lt_set_xattrs(l, ino, e, 0) == -1 || lt_set_attrs(l, ino, &l->at, 1) == -1)
		return (-1);
	l->st->ls_devices++;
	return (0);
}

/* A directory there is kept, its children with it; anything else goes. */
static int
put_dir(struct lctx *l, struct archive_entry *e, ext2_ino_t dir,
    const char *name)
{
	struct ext2_inode	in;
	ext2_ino_t		ino;
	int			r, keep;

	if ((r = lt_lookup(l, dir, name, &ino, &in)) == -1)
		return (-1);
	keep = r == 0 && LINUX_S_ISDIR(in.i_mode);
	if (r == 0 && !keep && lt_remove_name(l, dir, name, ino, 0) == -1)
		return (-1);
	if (!keep && lt_make_dir(l, dir, name, &ino) == -1)
		return (-1);
	if (lt_set_xattrs(l, ino, e, keep) == -1 ||
	    lt_set_attrs(l, ino, &l->at, 1) == -1)
		return (-1);
	l->st->ls_dirs++;
	return (0);
}

/*
 * dir/name, a new name of the inode at raw (a non-directory already in
 * the image).  The target is looked up again after what was at name
 * went: that may have been (or held) its only name.
 */
static int
put_hardlink(struct lctx *l, const char *raw, ext2_ino_t dir,
    const char *name)
{
	struct ext2_inode	 in;
	char			 tpath[TAR_PATH_MAX + 1], tshown[SHOW_SIZE];
	char			 what[SHOW_SIZE + 32], *tbase;
	ext2_ino_t		 tdir, tino, ino;
	errcode_t		 rv;
	size_t			 tlen;
	int			 r, pass;

	lx_show(raw, tshown);
	snprintf(what, sizeof(what), "hard link target \"%s\": ", tshown);
	if (clean_name(l, raw, what, tpath) == -1)
		return (-1);
	if (tpath[0] == '\0')
		return (lx_efail(l, "%sthe root directory", what));
	if ((tbase = strrchr(tpath, '/')) != NULL) {
		tlen = tbase - tpath;
		tbase++;
	} else {
		tlen = 0;
		tbase = tpath;
	}
	for (pass = 0; pass < 2; pass++) {
		if ((r = lt_resolve(l, tpath, tlen, 0, &tdir)) == 0)
			r = lt_lookup(l, tdir, tbase, &tino, &in);
		if (r == -1)
			return (-1);
		if (r == 1)
			return (lx_efail(l, "%snot in the image%s", what,
			    pass ? " once the entry's name was cleared" : ""));
		if (LINUX_S_ISDIR(in.i_mode))
			return (lx_efail(l, "%sa directory", what));
		if (pass == 1)
			break;
		if ((r = lt_lookup(l, dir, name, &ino, &in)) == -1)
			return (-1);
		if (r == 0 && ino == tino)
			goto done;		/* already that inode */
		if (r == 0 && lt_remove_name(l, dir, name, ino, 0) == -1)
			return (-1);
	}
	if (in.i_links_count >= EXT2_LINK_MAX)
		return (lx_efail(l, "%s%u links already", what,
		    in.i_links_count));
	if (lt_add_link(l, dir, name, tino, lt_ftype(in.i_mode)) == -1)
		return (-1);
	in.i_links_count++;
	if ((rv = ext2fs_write_inode(l->fs, tino, &in)) != 0)
		return (lx_fsfail(l, rv, "write inode %u", tino));
 done:
	l->st->ls_hardlinks++;
	return (0);
}

/*
 * ".wh..wh..opq" in dir, or ".wh.NAME": NAME goes unless this layer
 * wrote it (a whiteout only hides what is below).
 */
static int
whiteout(struct lctx *l, ext2_ino_t dir, const char *base)
{
	struct ext2_inode	 in;
	const char		*name = base + strlen(WH_PREFIX);
	ext2_ino_t		 ino;
	int			 r;

	l->st->ls_whiteouts++;
	if (strcmp(base, WH_OPAQUE) == 0)
		return (lt_opaque(l, dir, 0));
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return (lx_efail(l, "a whiteout of \"%s\" is refused", name));
	if (dir == EXT2_ROOT_INO && strcmp(name, LOST_FOUND) == 0)
		return (0);
	if (lx_marked(l, dir, name))
		return (0);
	if ((r = lt_lookup(l, dir, name, &ino, &in)) != 0)
		return (r == 1 ? 0 : -1);
	return (lt_remove_name(l, dir, name, ino, 0));
}

static int
apply_entry(struct lctx *l, struct archive_entry *e)
{
	struct ext2_inode	 in;
	char			 path[TAR_PATH_MAX + 1], *base;
	const char		*raw = archive_entry_pathname(e), *link;
	ext2_ino_t		 dir, ino;
	la_int64_t		 uid, gid;
	unsigned int		 type;
	size_t			 plen;
	int			 r;

	lx_show(raw != NULL ? raw : "", l->shown);
	if (clean_name(l, raw, "", path) == -1)
		return (-1);
	if ((base = strrchr(path, '/')) != NULL) {
		plen = base - path;
		base++;
	} else {
		plen = 0;
		base = path;
	}
	link = archive_entry_hardlink(e);
	type = archive_entry_filetype(e);

	uid = archive_entry_uid(e);
	gid = archive_entry_gid(e);
	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return (lx_efail(l, "owner %lld:%lld is out of range",
		    (long long)uid, (long long)gid));
	l->at.uid = uid;
	l->at.gid = gid;
	l->at.mode = archive_entry_perm(e) & 07777;
	l->at.sec = l->at.nsec = 0;
	if (archive_entry_mtime_is_set(e)) {
		l->at.sec = archive_entry_mtime(e);
		l->at.nsec = archive_entry_mtime_nsec(e);
		if (l->at.nsec < 0 || l->at.nsec > 999999999)
			l->at.nsec = 0;
	}

	/* Whiteouts: nothing is made for them, parents included. */
	if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0) {
		if (strcmp(base, WH_OPAQUE) != 0 &&
		    strncmp(base, WH_META, strlen(WH_META)) == 0)
			return (0);	/* aufs' own: nothing to apply */
		if ((r = lt_resolve(l, path, plen, 0, &dir)) != 0)
			return (r == 1 ? 0 : -1);
		return (whiteout(l, dir, base));
	}

	if (path[0] == '\0') {
		/* ".": the root's own mode, owner, times. */
		if (link != NULL || type != AE_IFDIR)
			return (lx_efail(l, "the root is a directory"));
		if (lt_set_xattrs(l, EXT2_ROOT_INO, e, 1) == -1 ||
		    lt_set_attrs(l, EXT2_ROOT_INO, &l->at, 1) == -1)
			return (-1);
		l->st->ls_dirs++;
		return (0);
	}
	if (type == AE_IFSOCK && link == NULL)
		return (0);		/* bound by a process, not unpacked */
	if (link == NULL && type != AE_IFREG && type != AE_IFDIR &&
	    type != AE_IFLNK && type != AE_IFCHR && type != AE_IFBLK &&
	    type != AE_IFIFO)
		return (lx_efail(l, "file type 0%o is not taken", type));
	if (plen == 0 && strcmp(base, LOST_FOUND) == 0 &&
	    (link != NULL || type != AE_IFDIR))
		return (lx_efail(l, "the file system's lost+found stays a "
		    "directory"));

	if (lt_resolve(l, path, plen, 1, &dir) == -1)
		return (-1);
	if (link != NULL)
		r = put_hardlink(l, link, dir, base);
	else if (type == AE_IFDIR)
		r = put_dir(l, e, dir, base);
	else {
		/* Anything at the name goes, a directory with its tree. */
		if ((r = lt_lookup(l, dir, base, &ino, &in)) == -1)
			return (-1);
		if (r == 0 && lt_remove_name(l, dir, base, ino, 0) == -1)
			return (-1);
		switch (type) {
		case AE_IFREG:
			r = put_file(l, e, dir, base);
			break;
		case AE_IFLNK:
			r = put_symlink(l, e, dir, base);
			break;
		case AE_IFCHR:
			r = put_node(l, e, dir, base, LINUX_S_IFCHR);
			break;
		case AE_IFBLK:
			r = put_node(l, e, dir, base, LINUX_S_IFBLK);
			break;
		default:
			r = put_node(l, e, dir, base, LINUX_S_IFIFO);
			break;
		}
	}
	if (r == -1)
		return (-1);
	return (lx_mark(l, dir, base));
}

int
layer_apply(ext2_filsys fs, int fd, const struct layer_limits *lim,
    struct layer_stats *st, void (*progress)(void *, uint64_t), void *arg,
    char *err, size_t errlen)
{
	return (layer_apply_at(fs, fd, 0, UINT64_MAX, lim, st, progress, arg,
	    err, errlen));
}

/* layer_apply() of the len bytes at off in fd: a member of an archive. */
int
layer_apply_at(ext2_filsys fs, int fd, uint64_t off, uint64_t len,
    const struct layer_limits *lim, struct layer_stats *st,
    void (*progress)(void *, uint64_t), void *arg, char *err, size_t errlen)
{
	struct lctx		 l;
	struct reader		*rd = NULL;
	struct archive		*a = NULL;
	struct archive_entry	*e;
	locale_t		 old = (locale_t)0;
	const char		*why;
	int			 r, ret = -1;

	memset(st, 0, sizeof(*st));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (layer_locale == (locale_t)0)
		return (fail(err, errlen, "layer_preinit() has not run, or "
		    "found no C.UTF-8 locale: the names in pax headers "
		    "cannot be read"));
	memset(&l, 0, sizeof(l));
	l.fs = fs;
	l.lim = lim;
	l.st = st;
	l.err = err;
	l.errlen = errlen;

	if ((rd = malloc(sizeof(*rd))) == NULL)
		return (fail(err, errlen, "%s", strerror(errno)));
	rd->fd = fd;
	rd->base = rd->off = (off_t)off;
	rd->end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
	rd->last = 0;
	rd->progress = progress;
	rd->arg = arg;
	if ((a = archive_read_new()) == NULL) {
		fail(err, errlen, "%s", strerror(ENOMEM));
		goto out;
	}
	l.a = a;
	/* ARCHIVE_WARN: it would run gzip or zstd, which it cannot here. */
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK) {
		fail(err, errlen, "libarchive cannot decompress gzip and "
		    "zstd by itself");
		goto out;
	}
	if (archive_read_support_format_tar(a) != ARCHIVE_OK) {
		fail(err, errlen, "libarchive: %s", archive_error_string(a));
		goto out;
	}
	old = uselocale(layer_locale);
	/* It reads the first bytes: what they are, and the first header. */
	if (archive_read_open(a, rd, NULL, reader_read, NULL) != ARCHIVE_OK) {
		why = archive_error_string(a);
		fail(err, errlen, "the layer is not a tar stream (plain, gzip "
		    "or zstd): %s", why != NULL ? why : "unknown error");
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			why = archive_error_string(a);
			if (why == NULL)
				why = "unknown error";
			if (st->ls_entries == 0)
				fail(err, errlen, "the layer is not a tar "
				    "stream (plain, gzip or zstd): %s", why);
			else
				fail(err, errlen, "after layer entry \"%s\": "
				    "%s", l.shown, why);
			goto out;
		}
		st->ls_entries++;
		if (lim->ll_entries != 0 && st->ls_entries > lim->ll_entries) {
			lx_show(archive_entry_pathname(e) != NULL ?
			    archive_entry_pathname(e) : "", l.shown);
			lx_efail(&l, "more than %llu entries in the layer",
			    (unsigned long long)lim->ll_entries);
			goto out;
		}
		if (apply_entry(&l, e) == -1)
			goto out;
	}
	if (progress != NULL)
		progress(arg, rd->off);
	ret = 0;
 out:
	if (old != (locale_t)0)
		uselocale(old);
	if (a != NULL)
		archive_read_free(a);
	marks_free(&l);
	free(rd);
	return (ret);
}

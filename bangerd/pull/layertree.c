/*
 * The image's tree through libext2fs, for layer.c (see there and
 * layer.h): names looked up and resolved inside the image, directories
 * made, links added and removed (a whole tree, its inodes, blocks and
 * attribute blocks freed with its last name), owners, modes, times and
 * extended attributes set, and a file's data written.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "layer.h"
#include "layerint.h"

static void	set_time(__u32 *, __u32 *, int64_t, long);
static int	xattr_taken(const char *);
static int	xattr_name_proc(char *, char *, size_t, void *);
static int	kids_proc(ext2_ino_t, int, struct ext2_dir_entry *, int, int,
		    char *, void *);
static int	list_dir(struct lctx *, ext2_ino_t, struct kids *);
static int	free_inode(struct lctx *, ext2_ino_t,
		    struct ext2_inode_large *, int);
static int	write_chunk(struct lctx *, ext2_file_t, const char *, size_t,
		    uint64_t, uint64_t *);

int
lt_ftype(unsigned int mode)
{
	switch (mode & LINUX_S_IFMT) {
	case LINUX_S_IFREG:
		return (EXT2_FT_REG_FILE);
	case LINUX_S_IFDIR:
		return (EXT2_FT_DIR);
	case LINUX_S_IFLNK:
		return (EXT2_FT_SYMLINK);
	case LINUX_S_IFCHR:
		return (EXT2_FT_CHRDEV);
	case LINUX_S_IFBLK:
		return (EXT2_FT_BLKDEV);
	case LINUX_S_IFIFO:
		return (EXT2_FT_FIFO);
	case LINUX_S_IFSOCK:
		return (EXT2_FT_SOCK);
	}
	return (EXT2_FT_UNKNOWN);
}

/*
 * Look name up in dir; 1 if it is missing, 0 and its inode if found.
 * A reserved or out-of-range inode is refused.
 */
int
lt_lookup(struct lctx *l, ext2_ino_t dir, const char *name, ext2_ino_t *ino,
    struct ext2_inode *in)
{
	errcode_t	rv;

	rv = ext2fs_lookup(l->fs, dir, name, strlen(name), NULL, ino);
	if (rv == EXT2_ET_FILE_NOT_FOUND)
		return (1);
	if (rv != 0)
		return (lx_fsfail(l, rv, "look up \"%s\"", name));
	if (*ino == 0 || *ino > l->fs->super->s_inodes_count ||
	    (*ino != EXT2_ROOT_INO && *ino < EXT2_FIRST_INODE(l->fs->super)))
		return (lx_efail(l, "\"%s\" is reserved inode %u in the image",
		    name, *ino));
	if ((rv = ext2fs_read_inode(l->fs, *ino, in)) != 0)
		return (lx_fsfail(l, rv, "read inode %u", *ino));
	return (0);
}

/*
 * The directory path[0..len) names, from the root, following symbolic
 * links inside the image.  With create, missing directories are made
 * 0755 root:root with the entry's time; without, 1 if one is missing.
 */
int
lt_resolve(struct lctx *l, const char *path, size_t len, int create,
    ext2_ino_t *dirp)
{
	struct attrs		 at;
	struct ext2_inode	 in;
	char			 comp[NAME_MAX_EXT2 + 1];
	ext2_ino_t		 cur = EXT2_ROOT_INO, ino;
	errcode_t		 rv;
	size_t			 i, n;
	int			 r;

	if (l->cino != 0 && len == l->clen &&
	    memcmp(path, l->cpath, len) == 0) {
		*dirp = l->cino;
		return (0);
	}
	for (i = 0; i < len; i += n + 1) {
		for (n = 0; i + n < len && path[i + n] != '/'; n++)
			;
		memcpy(comp, path + i, n);	/* clean_name(): n <= 255 */
		comp[n] = '\0';
		if ((r = lt_lookup(l, cur, comp, &ino, &in)) == -1)
			return (-1);
		if (r == 1) {
			if (!create)
				return (1);
			if (lt_make_dir(l, cur, comp, &ino) == -1)
				return (-1);
			at = l->at;
			at.mode = 0755;
			at.uid = at.gid = 0;
			if (lt_set_attrs(l, ino, &at, 1) == -1)
				return (-1);
			cur = ino;
			continue;
		}
		if (LINUX_S_ISLNK(in.i_mode)) {
			rv = ext2fs_follow_link(l->fs, EXT2_ROOT_INO, cur, ino,
			    &ino);
			if (rv == EXT2_ET_FILE_NOT_FOUND && !create)
				return (1);
			if (rv == EXT2_ET_FILE_NOT_FOUND)
				return (lx_efail(l, "\"%.*s\" is a symbolic link "
				    "to nothing in the image", (int)(i + n),
				    path));
			if (rv != 0)
				return (lx_fsfail(l, rv, "follow the symbolic "
				    "link \"%.*s\"", (int)(i + n), path));
			if ((ino < EXT2_FIRST_INODE(l->fs->super) &&
			    ino != EXT2_ROOT_INO) ||
			    ino > l->fs->super->s_inodes_count)
				return (lx_efail(l, "\"%.*s\" leads to reserved "
				    "inode %u", (int)(i + n), path, ino));
			if ((rv = ext2fs_read_inode(l->fs, ino, &in)) != 0)
				return (lx_fsfail(l, rv, "read inode %u", ino));
		}
		if (!LINUX_S_ISDIR(in.i_mode))
			return (lx_efail(l, "\"%.*s\" is not a directory in the "
			    "image", (int)(i + n), path));
		if (in.i_flags & (EXT4_ENCRYPT_FL | EXT4_CASEFOLD_FL))
			return (lx_efail(l, "\"%.*s\" is encrypted or "
			    "case-insensitive", (int)(i + n), path));
		cur = ino;
	}
	memcpy(l->cpath, path, len);
	l->clen = len;
	l->cino = cur;
	*dirp = cur;
	return (0);
}

/* Link name in dir, growing dir when it is full. */
int
lt_add_link(struct lctx *l, ext2_ino_t dir, const char *name, ext2_ino_t ino,
    int ft)
{
	errcode_t	rv;

	rv = ext2fs_link(l->fs, dir, name, ino, ft);
	if (rv == EXT2_ET_DIR_NO_SPACE) {
		if ((rv = ext2fs_expand_dir(l->fs, dir)) == 0)
			rv = ext2fs_link(l->fs, dir, name, ino, ft);
	}
	if (rv != 0)
		return (lx_fsfail(l, rv, "link \"%s\"", name));
	return (0);
}

/*
 * A new directory dir/name, marked as this layer's.  Its parent's link
 * count as the kernel keeps it: 1 once it would pass EXT2_LINK_MAX
 * (dir_nlink), and then 1 for good.
 */
int
lt_make_dir(struct lctx *l, ext2_ino_t dir, const char *name, ext2_ino_t *inop)
{
	struct ext2_inode	in;
	ext2_filsys		fs = l->fs;
	ext2_ino_t		ino;
	errcode_t		rv;
	__u16			before;

	if ((rv = ext2fs_read_inode(fs, dir, &in)) != 0)
		return (lx_fsfail(l, rv, "read inode %u", dir));
	before = in.i_links_count;
	if (before >= EXT2_LINK_MAX - 1 &&
	    !ext2fs_has_feature_dir_nlink(fs->super))
		return (lx_efail(l, "too many subdirectories beside \"%s\"",
		    name));
	rv = ext2fs_new_inode(fs, dir, LINUX_S_IFDIR | 0755, NULL, &ino);
	if (rv != 0)
		return (lx_fsfail(l, rv, "new inode for \"%s\"", name));
	rv = ext2fs_mkdir(fs, dir, ino, name);
	if (rv == EXT2_ET_DIR_NO_SPACE) {
		/* mkdir gave the inode back. */
		if ((rv = ext2fs_expand_dir(fs, dir)) == 0)
			rv = ext2fs_mkdir(fs, dir, ino, name);
	}
	if (rv != 0)
		return (lx_fsfail(l, rv, "make the directory \"%s\"", name));
	if (before == 1 || before >= EXT2_LINK_MAX - 1) {
		if ((rv = ext2fs_read_inode(fs, dir, &in)) != 0)
			return (lx_fsfail(l, rv, "read inode %u", dir));
		in.i_links_count = 1;
		if ((rv = ext2fs_write_inode(fs, dir, &in)) != 0)
			return (lx_fsfail(l, rv, "write inode %u", dir));
	}
	*inop = ino;
	return (lx_mark(l, dir, name));
}

/*
 * sec and nsec in an inode's 32-bit field and, when the inode has room
 * (extra not NULL), its extra field: nanoseconds and 2 epoch bits.
 */
static void
set_time(__u32 *field, __u32 *extra, int64_t sec, long nsec)
{
	int64_t	lo = INT32_MIN, hi = INT32_MAX;

	if (extra != NULL)
		hi += (int64_t)EXT4_EPOCH_MASK << 32;
	if (sec < lo)
		sec = lo;
	if (sec > hi)
		sec = hi;
	*field = (__u32)sec;
	if (extra != NULL)
		*extra = ((__u32)nsec << EXT4_EPOCH_BITS) |
		    (((sec - (int32_t)(__u32)sec) >> 32) & EXT4_EPOCH_MASK);
}

/* Owner and times (and with setmode the 07777 bits) from at. */
int
lt_set_attrs(struct lctx *l, ext2_ino_t ino, const struct attrs *at,
    int setmode)
{
	struct ext2_inode_large	in;
	errcode_t		rv;
	size_t			isz;

	memset(&in, 0, sizeof(in));
	rv = ext2fs_read_inode_full(l->fs, ino, (struct ext2_inode *)&in,
	    sizeof(in));
	if (rv != 0)
		return (lx_fsfail(l, rv, "read inode %u", ino));
	if (setmode)
		in.i_mode = (in.i_mode & LINUX_S_IFMT) | (at->mode & 07777);
	in.i_uid = at->uid & 0xffff;
	ext2fs_set_i_uid_high(in, at->uid >> 16);
	in.i_gid = at->gid & 0xffff;
	ext2fs_set_i_gid_high(in, at->gid >> 16);
	isz = EXT2_GOOD_OLD_INODE_SIZE;
	if (EXT2_INODE_SIZE(l->fs->super) > EXT2_GOOD_OLD_INODE_SIZE)
		isz += in.i_extra_isize;
	set_time(&in.i_mtime, inode_includes(isz, i_mtime_extra) ?
	    &in.i_mtime_extra : NULL, at->sec, at->nsec);
	set_time(&in.i_atime, inode_includes(isz, i_atime_extra) ?
	    &in.i_atime_extra : NULL, at->sec, at->nsec);
	set_time(&in.i_ctime, inode_includes(isz, i_ctime_extra) ?
	    &in.i_ctime_extra : NULL, at->sec, at->nsec);
	if (inode_includes(isz, i_crtime))
		set_time(&in.i_crtime, inode_includes(isz, i_crtime_extra) ?
		    &in.i_crtime_extra : NULL, at->sec, at->nsec);
	rv = ext2fs_write_inode_full(l->fs, ino, (struct ext2_inode *)&in,
	    sizeof(in));
	if (rv != 0)
		return (lx_fsfail(l, rv, "write inode %u", ino));
	return (0);
}

/* The name spaces taken from a layer: no system.* (ACLs, inline data). */
static int
xattr_taken(const char *name)
{
	return (strncmp(name, "user.", 5) == 0 ||
	    strncmp(name, "trusted.", 8) == 0 ||
	    strncmp(name, "security.", 9) == 0);
}

struct xnames {
	char	**v;
	size_t	  n, cap;
	int	  nomem;
};

static int
xattr_name_proc(char *name, char *value, size_t len, void *arg)
{
	struct xnames	*x = arg;
	char		**nv;

	if (!xattr_taken(name))
		return (0);
	if (x->n == x->cap) {
		x->cap = x->cap == 0 ? 8 : x->cap * 2;
		if ((nv = reallocarray(x->v, x->cap, sizeof(*nv))) == NULL) {
			x->nomem = 1;
			return (XATTR_ABORT);
		}
		x->v = nv;
	}
	if ((x->v[x->n] = strdup(name)) == NULL) {
		x->nomem = 1;
		return (XATTR_ABORT);
	}
	x->n++;
	return (0);
}

/*
 * The entry's extended attributes on ino; with replace (a directory
 * kept), the ones ino had in the same name spaces go first.
 */
int
lt_set_xattrs(struct lctx *l, ext2_ino_t ino, struct archive_entry *e,
    int replace)
{
	struct ext2_xattr_handle	*h = NULL;
	struct xnames			 x;
	const char			*name;
	const void			*val;
	errcode_t			 rv;
	size_t				 len, i;
	int				 n, ret = -1;

	memset(&x, 0, sizeof(x));
	n = archive_entry_xattr_reset(e);
	if (n == 0 && !replace)
		return (0);
	if ((rv = ext2fs_xattrs_open(l->fs, ino, &h)) != 0 ||
	    (rv = ext2fs_xattrs_read(h)) != 0) {
		lx_fsfail(l, rv, "read the extended attributes");
		goto out;
	}
	if (replace) {
		rv = ext2fs_xattrs_iterate(h, xattr_name_proc, &x);
		if (rv != 0 || x.nomem) {
			if (x.nomem)
				lx_efail(l, "%s", strerror(ENOMEM));
			else
				lx_fsfail(l, rv, "read the extended attributes");
			goto out;
		}
		for (i = 0; i < x.n; i++)
			if ((rv = ext2fs_xattr_remove(h, x.v[i])) != 0) {
				lx_fsfail(l, rv, "remove the extended attribute "
				    "\"%s\"", x.v[i]);
				goto out;
			}
	}
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK) {
		if (name == NULL || !xattr_taken(name))
			continue;
		if (strlen(name) > NAME_MAX_EXT2) {
			lx_efail(l, "an extended attribute name longer than %d "
			    "bytes", NAME_MAX_EXT2);
			goto out;
		}
		if ((rv = ext2fs_xattr_set(h, name, val, len)) != 0) {
			char	shown[SHOW_SIZE];

			lx_show(name, shown);
			lx_fsfail(l, rv, "extended attribute \"%s\" (%zu bytes)",
			    shown, len);
			goto out;
		}
	}
	ret = 0;
 out:
	if (h != NULL && (rv = ext2fs_xattrs_close(&h)) != 0 && ret == 0)
		ret = lx_fsfail(l, rv, "write the extended attributes");
	for (i = 0; i < x.n; i++)
		free(x.v[i]);
	free(x.v);
	return (ret);
}

static int
kids_proc(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
    int blocksize, char *buf, void *arg)
{
	struct kids	*k = arg;
	struct kid	*nv;
	size_t		 len = ext2fs_dirent_name_len(de);

	/* (An inline directory's ".." comes as any other entry.) */
	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE ||
	    de->inode == 0 || (len == 1 && de->name[0] == '.') ||
	    (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
		return (0);
	if (k->n == k->cap) {
		k->cap = k->cap == 0 ? 16 : k->cap * 2;
		if ((nv = reallocarray(k->v, k->cap, sizeof(*nv))) == NULL) {
			k->nomem = 1;
			return (DIRENT_ABORT);
		}
		k->v = nv;
	}
	k->v[k->n].ino = de->inode;
	memcpy(k->v[k->n].name, de->name, len);
	k->v[k->n].name[len] = '\0';
	k->n++;
	return (0);
}

/* dir's entries but "." and "..", in k (to free). */
static int
list_dir(struct lctx *l, ext2_ino_t dir, struct kids *k)
{
	errcode_t	rv;

	memset(k, 0, sizeof(*k));
	rv = ext2fs_dir_iterate2(l->fs, dir, 0, NULL, kids_proc, k);
	if (rv != 0 || k->nomem) {
		free(k->v);
		k->v = NULL;
		if (k->nomem)
			return (lx_efail(l, "%s", strerror(ENOMEM)));
		return (lx_fsfail(l, rv, "read directory inode %u", dir));
	}
	return (0);
}

/* ino lost its last name: its blocks, attribute block and itself go. */
static int
free_inode(struct lctx *l, ext2_ino_t ino, struct ext2_inode_large *in,
    int isdir)
{
	ext2_filsys	fs = l->fs;
	errcode_t	rv;

	in->i_links_count = 0;
	in->i_dtime = fs->now ? fs->now : time(NULL);
	if (ext2fs_inode_has_valid_blocks2(fs, (struct ext2_inode *)in) &&
	    (rv = ext2fs_punch(fs, ino, (struct ext2_inode *)in, NULL, 0,
	    ~0ULL)) != 0)
		return (lx_fsfail(l, rv, "free the blocks of inode %u", ino));
	if ((rv = ext2fs_free_ext_attr(fs, ino, in)) != 0)
		return (lx_fsfail(l, rv, "free the attributes of inode %u", ino));
	rv = ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)in,
	    sizeof(*in));
	if (rv != 0)
		return (lx_fsfail(l, rv, "write inode %u", ino));
	ext2fs_inode_alloc_stats2(fs, ino, -1, isdir);
	return (0);
}

/*
 * Remove dir's entry name (inode ino) and, for a directory, all it
 * holds, depth first; depth: how deep this is in what is removed.
 */
int
lt_remove_name(struct lctx *l, ext2_ino_t dir, const char *name,
    ext2_ino_t ino, int depth)
{
	struct ext2_inode_large	 in;
	struct ext2_inode	 din;
	struct kids		 k;
	errcode_t		 rv;
	size_t			 i;
	int			 isdir;

	l->cino = 0;		/* the names the cache went by may go */
	if (ino < EXT2_FIRST_INODE(l->fs->super) || ino == EXT2_ROOT_INO)
		return (lx_efail(l, "\"%s\" is reserved inode %u", name, ino));
	memset(&in, 0, sizeof(in));
	rv = ext2fs_read_inode_full(l->fs, ino, (struct ext2_inode *)&in,
	    sizeof(in));
	if (rv != 0)
		return (lx_fsfail(l, rv, "read inode %u", ino));
	if ((isdir = LINUX_S_ISDIR(in.i_mode))) {
		if (depth >= DEPTH_MAX)
			return (lx_efail(l, "a tree more than %d directories "
			    "deep to remove", DEPTH_MAX));
		if (list_dir(l, ino, &k) == -1)
			return (-1);
		for (i = 0; i < k.n; i++)
			if (lt_remove_name(l, ino, k.v[i].name, k.v[i].ino,
			    depth + 1) == -1) {
				free(k.v);
				return (-1);
			}
		free(k.v);
		/* Its subdirectories changed its link count. */
		rv = ext2fs_read_inode_full(l->fs, ino,
		    (struct ext2_inode *)&in, sizeof(in));
		if (rv != 0)
			return (lx_fsfail(l, rv, "read inode %u", ino));
	}
	if ((rv = ext2fs_unlink(l->fs, dir, name, ino, 0)) != 0)
		return (lx_fsfail(l, rv, "remove \"%s\"", name));
	if (isdir) {
		/* Its ".." no longer counts in dir (as ext4_dec_count). */
		if ((rv = ext2fs_read_inode(l->fs, dir, &din)) != 0)
			return (lx_fsfail(l, rv, "read inode %u", dir));
		if (din.i_links_count > 2) {
			din.i_links_count--;
			if ((rv = ext2fs_write_inode(l->fs, dir, &din)) != 0)
				return (lx_fsfail(l, rv, "write inode %u", dir));
		}
	} else if (in.i_links_count > 1) {
		in.i_links_count--;
		rv = ext2fs_write_inode_full(l->fs, ino,
		    (struct ext2_inode *)&in, sizeof(in));
		if (rv != 0)
			return (lx_fsfail(l, rv, "write inode %u", ino));
		return (0);
	}
	return (free_inode(l, ino, &in, isdir));
}

/*
 * An opaque directory: what this layer did not write goes; in the
 * directories it did write, the same, all the way down.
 */
int
lt_opaque(struct lctx *l, ext2_ino_t dir, int depth)
{
	struct ext2_inode	in;
	struct kids		k;
	errcode_t		rv;
	size_t			i;
	int			ret = -1;

	if (depth >= DEPTH_MAX)
		return (lx_efail(l, "a tree more than %d directories deep to "
		    "make opaque", DEPTH_MAX));
	if (list_dir(l, dir, &k) == -1)
		return (-1);
	for (i = 0; i < k.n; i++) {
		if (dir == EXT2_ROOT_INO && strcmp(k.v[i].name,
		    LOST_FOUND) == 0)
			continue;
		if (!lx_marked(l, dir, k.v[i].name)) {
			if (lt_remove_name(l, dir, k.v[i].name, k.v[i].ino,
			    depth) == -1)
				goto out;
			continue;
		}
		if ((rv = ext2fs_read_inode(l->fs, k.v[i].ino, &in)) != 0) {
			lx_fsfail(l, rv, "read inode %u", k.v[i].ino);
			goto out;
		}
		if (LINUX_S_ISDIR(in.i_mode) &&
		    lt_opaque(l, k.v[i].ino, depth + 1) == -1)
			goto out;
	}
	ret = 0;
 out:
	free(k.v);
	return (ret);
}

/*
 * len bytes of the file at off: a whole block of zeros is left a hole
 * (as mke2fs -d does); *pos is where the file's position is.
 */
static int
write_chunk(struct lctx *l, ext2_file_t f, const char *buf, size_t len,
    uint64_t off, uint64_t *pos)
{
	unsigned int	 bs = l->fs->blocksize, n, w;
	errcode_t	 rv;

	while (len > 0) {
		n = bs - off % bs;
		if (n > len)
			n = len;
		if (n == bs && buf[0] == '\0' &&
		    memcmp(buf, buf + 1, n - 1) == 0)
			goto next;
		if (*pos != off &&
		    (rv = ext2fs_file_llseek(f, off, EXT2_SEEK_SET, NULL)) != 0)
			return (lx_fsfail(l, rv, "seek to %llu",
			    (unsigned long long)off));
		if ((rv = ext2fs_file_write(f, buf, n, &w)) != 0)
			return (lx_fsfail(l, rv, "write at %llu",
			    (unsigned long long)off));
		if (w != n)
			return (lx_fsfail(l, EXT2_ET_SHORT_WRITE, "write at %llu",
			    (unsigned long long)off));
		*pos = off + n;
 next:
		buf += n;
		off += n;
		len -= n;
	}
	return (0);
}

/* The entry's data into ino, size bytes long (holes where none came). */
int
lt_put_data(struct lctx *l, ext2_ino_t ino, uint64_t size)
{
	const struct layer_limits	*lim = l->lim;
	ext2_file_t			 f;
	const void			*buf;
	la_int64_t			 off;
	errcode_t			 rv;
	uint64_t			 pos = 0;
	size_t				 len;
	int				 r, ret = -1;

	if ((rv = ext2fs_file_open(l->fs, ino, EXT2_FILE_WRITE, &f)) != 0)
		return (lx_fsfail(l, rv, "open inode %u", ino));
	for (;;) {
		r = archive_read_data_block(l->a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) {
			lx_efail(l, "%s", archive_error_string(l->a) != NULL ?
			    archive_error_string(l->a) : "cannot read its data");
			goto out;
		}
		if (off < 0 || (uint64_t)off > size || len > size - off) {
			lx_efail(l, "data beyond its size of %llu bytes",
			    (unsigned long long)size);
			goto out;
		}
		if (lim->ll_bytes_max != 0 &&
		    len > lim->ll_bytes_max - l->st->ls_bytes) {
			lx_efail(l, "the layer holds more than %llu bytes of "
			    "files", (unsigned long long)lim->ll_bytes_max);
			goto out;
		}
		l->st->ls_bytes += len;
		if (write_chunk(l, f, buf, len, off, &pos) == -1)
			goto out;
	}
	ret = 0;
 out:
	if ((rv = ext2fs_file_close(f)) != 0 && ret == 0)
		ret = lx_fsfail(l, rv, "write inode %u", ino);
	return (ret);
}

/* A free inode near dir, counted as used. */
int
lt_new_inode(struct lctx *l, ext2_ino_t dir, unsigned int mode,
    ext2_ino_t *ino)
{
	errcode_t	rv;

	if ((rv = ext2fs_new_inode(l->fs, dir, mode, NULL, ino)) != 0)
		return (lx_fsfail(l, rv, "new inode"));
	ext2fs_inode_alloc_stats2(l->fs, *ino, +1, 0);
	return (0);
}


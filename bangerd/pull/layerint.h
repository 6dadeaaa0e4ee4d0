/*
 * What layer.c and layertree.c share: an entry's context and the
 * functions each calls in the other.  Not for the rest of the room.
 */
#ifndef LAYERINT_H
#define LAYERINT_H

#define TAR_PATH_MAX	4095		/* a name, without NUL */
#define NAME_MAX_EXT2	255		/* a directory entry's name */
#define DEPTH_MAX	2048		/* directories deep, to remove */
#define SHOW_MAX	80		/* bytes of a name in a message */
#define SHOW_SIZE	(SHOW_MAX * 4 + 4)
#define LOST_FOUND	"lost+found"

struct mark;

/* A directory's entries, to remove or look at after the iteration. */
struct kid {
	ext2_ino_t	 ino;
	char		 name[NAME_MAX_EXT2 + 1];
};

struct kids {
	struct kid	*v;
	size_t		 n, cap;
	int		 nomem;
};

/* Mode bits, owner and times, for lt_set_attrs(). */
struct attrs {
	unsigned int	 mode;		/* 07777 */
	uint32_t	 uid, gid;
	int64_t		 sec;
	long		 nsec;
};

struct lctx {
	ext2_filsys			 fs;
	struct archive			*a;
	const struct layer_limits	*lim;
	struct layer_stats		*st;
	char				*err;
	size_t				 errlen;
	char				 shown[SHOW_SIZE];  /* the entry */
	struct attrs			 at;		/* the entry's */
	struct mark			**marks;
	size_t				 nbuckets, nmarks;
	/* The parent directory last resolved; cino 0: none. */
	char				 cpath[TAR_PATH_MAX + 1];
	size_t				 clen;
	ext2_ino_t			 cino;
};

/* layer.c */
int	 lx_efail(struct lctx *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
int	 lx_fsfail(struct lctx *, errcode_t, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	 lx_show(const char *, char *);
int	 lx_mark(struct lctx *, ext2_ino_t, const char *);
int	 lx_marked(struct lctx *, ext2_ino_t, const char *);

/* layertree.c */
int	 lt_ftype(unsigned int);
int	 lt_lookup(struct lctx *, ext2_ino_t, const char *, ext2_ino_t *,
	    struct ext2_inode *);
int	 lt_resolve(struct lctx *, const char *, size_t, int,
	    ext2_ino_t *);
int	 lt_add_link(struct lctx *, ext2_ino_t, const char *, ext2_ino_t,
	    int);
int	 lt_make_dir(struct lctx *, ext2_ino_t, const char *,
	    ext2_ino_t *);
int	 lt_set_attrs(struct lctx *, ext2_ino_t, const struct attrs *,
	    int);
int	 lt_set_xattrs(struct lctx *, ext2_ino_t, struct archive_entry *,
	    int);
int	 lt_remove_name(struct lctx *, ext2_ino_t, const char *,
	    ext2_ino_t, int);
int	 lt_opaque(struct lctx *, ext2_ino_t, int);
int	 lt_put_data(struct lctx *, ext2_ino_t, uint64_t);
int	 lt_new_inode(struct lctx *, ext2_ino_t, unsigned int,
	    ext2_ino_t *);

#endif /* LAYERINT_H */

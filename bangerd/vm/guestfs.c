/*
 * Guest provisioning through libext2fs (see guestfs.h).
 *
 * guestfs_provision() works in three steps, so that refusing the spec,
 * the fd, the file system or a path in the guest writes nothing:
 *
 *  1. check the spec and the fd, and make every file's content (and
 *     the host key) in memory;
 *  2. open the file system and look up, without changing anything,
 *     every directory and file it will touch, refusing a symlink or a
 *     non-directory on the way, a directory where a file goes, and a
 *     file system that is not clean;
 *  3. create the missing directories, remove the old host keys, and
 *     replace each file: unlink the old name (freeing its inode and
 *     blocks when no other name holds it), make a new inode, write it,
 *     and link it in.
 *
 * libext2fs opens the disk through the unixfd I/O manager, whose device
 * name is the fd's number in decimal; it parses that with atoi() (so a
 * bad name would silently mean fd 0), closes the fd on ext2fs_close()
 * and on a failed ext2fs_open2(), and never checks the fd's access mode
 * (an O_RDONLY fd "works" until the close fails with EBADF).  Hence the
 * checks and the dup below.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <sodium.h>

#include "guestfs.h"
#include "sshkey.h"
#include "validate.h"

#define SMALL_MAX	1024		/* hostname, hosts, network files */
#define NAME_MAX_EXT2	255		/* a directory entry's name */
#define BANNER		"# Written by banger before the VM's first boot.\n"
#define HOSTKEY		"ssh_host_ed25519_key"
#define MAX_OLDKEYS	64		/* old host key files to remove */

/*
 * What a process that only provisions needs from the kernel, for a
 * seccomp allow-list (names for seccomp_syscall_resolve_name()), as
 * measured with strace on Debian 12 (libext2fs 1.47.0, libsodium
 * 1.0.18).  No path is ever opened.
 *
 *	fcntl		F_GETFL, F_DUPFD_CLOEXEC, F_GETFD (check_fd, fs_open)
 *	newfstatat	fstat(): check_fd, libext2fs's open, stdio
 *	pread64, pwrite64, lseek, write, fsync, close
 *			the disk: blocks with pread/pwrite, the superblock's
 *			changed bytes with lseek+write, fsync and close
 *	sync_file_range	a batch's disks, their writeback started before
 *			each is synced (provision.c)
 *	ioctl		BLKDISCARDZEROES (libext2fs's open; ENOTTY on a file)
 *	getuid, geteuid, getgid, getegid, prctl (PR_GET_DUMPABLE)
 *			libext2fs's safe_getenv()
 *	getrandom	libsodium: keys and checkint
 *	brk, mmap, munmap, mremap, madvise	memory
 *	clock_gettime, gettimeofday, time	time(), where not vDSO
 */
const char *const guestfs_syscalls[] = {
	"fcntl", "newfstatat", "fstat", "pread64", "pwrite64", "lseek",
	"write", "fsync", "sync_file_range", "close", "ioctl", "getuid",
	"geteuid", "getgid", "getegid", "prctl", "getrandom", "brk", "mmap",
	"munmap", "mremap", "madvise", "clock_gettime", "gettimeofday",
	"time", NULL
};

/* The directories guestfs touches, parents first. */
static const struct gdir {
	const char	*path;
	int		 mode;		/* when it is created */
	int		 fix;		/* mode and owner forced if it exists */
	int		 hostkeys;	/* only when making host keys */
} gdirs[] = {
	{ "/etc",			0755, 0, 0 },
	{ "/etc/systemd",		0755, 0, 0 },
	{ "/etc/systemd/network",	0755, 0, 0 },
	{ "/etc/network",		0755, 0, 0 },
	{ "/etc/network/interfaces.d",	0755, 0, 0 },
	{ "/etc/ssh",			0755, 0, 1 },
	{ "/root",			0700, 0, 0 },
	{ "/root/.ssh",			0700, 1, 0 },
};
#define NDIRS	(sizeof(gdirs) / sizeof(gdirs[0]))

enum {
	D_ETC, D_SYSTEMD, D_NETWORKD, D_NETWORK, D_IFUPDOWN, D_SSH,
	D_ROOT, D_DOTSSH
};

/* Old host keys: every name that starts with one of these goes. */
static const char *const oldkeys[] = {
	"ssh_host_rsa_key", "ssh_host_ecdsa_key", "ssh_host_dsa_key",
	"ssh_host_ed25519_key", NULL
};

/* The public key types authorized_keys may hold. */
static const char *const keytypes[] = {
	"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
	NULL
};

struct gfile {
	int		 dir;		/* gdirs[] index */
	const char	*name;
	int		 mode;
	const char	*data;
	size_t		 len;
};

struct oldkey {
	char		 name[NAME_MAX_EXT2 + 1];
	ext2_ino_t	 ino;
};

struct gctx {
	ext2_filsys		 fs;
	time_t			 now;
	char			*err;
	size_t			 errlen;
	int			 hostkeys;
	ext2_ino_t		 dino[NDIRS];	/* 0: missing */
	ext2_ino_t		 dirty[NDIRS + 1]; /* entries changed */
	int			 ndirty;
	struct oldkey		 old[MAX_OLDKEYS];
	int			 nold;
	int			 scan_err;
	struct guest_result	*res;
};

static int	fail(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	fsfail(struct gctx *, errcode_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static int	same_subnet(struct in_addr, struct in_addr, int);
static int	check_keyline(const char *, size_t, int, char *, size_t);
static int	check_fd(int, char *, size_t);
static int	fs_open(int, ext2_filsys *, char *, size_t);
static int	fs_clean(struct gctx *);
static void	inode_times(struct gctx *, struct ext2_inode *);
static int	lookup(struct gctx *, ext2_ino_t, const char *, const char *,
		    ext2_ino_t *, struct ext2_inode *);
static int	resolve(struct gctx *, int, int);
static int	check_target(struct gctx *, int, const char *);
static int	scan_proc(ext2_ino_t, int, struct ext2_dir_entry *, int, int,
		    char *, void *);
static int	scan_oldkeys(struct gctx *);
static int	fix_dir(struct gctx *, int);
static void	mark_dirty(struct gctx *, ext2_ino_t);
static int	touch_dirs(struct gctx *);
static int	link_entry(struct gctx *, int, const char *, ext2_ino_t, int);
static int	drop_entry(struct gctx *, int, const char *, ext2_ino_t);
static int	put_file(struct gctx *, const struct gfile *);

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

/* "what: libext2fs's message" */
static int
fsfail(struct gctx *g, errcode_t rv, const char *fmt, ...)
{
	va_list	ap;
	char	what[256];

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return (fail(g->err, g->errlen, "%s: %s", what, error_message(rv)));
}

static int
same_subnet(struct in_addr a, struct in_addr b, int prefix)
{
	uint32_t	mask;

	mask = prefix == 0 ? 0 : 0xffffffffU << (32 - prefix);
	return ((ntohl(a.s_addr) & mask) == (ntohl(b.s_addr) & mask));
}

/*
 * One authorized_keys line, len bytes without its newline: a key type,
 * spaces, the key's base64 (whose first string must be that type),
 * and optionally spaces and a comment.  No control character, no
 * options.
 */
static int
check_keyline(const char *s, size_t len, int lineno, char *err,
    size_t errlen)
{
	unsigned char	*blob;
	const char	*b64;
	size_t		 i, tlen, blen, bin, n;
	uint32_t	 slen;
	int		 k;

	if (len > GUESTFS_KEYLINE_MAX)
		return (fail(err, errlen, "authorized key line %d: longer "
		    "than %d bytes", lineno, GUESTFS_KEYLINE_MAX));
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return (fail(err, errlen, "authorized key line %d: "
			    "control character 0x%02x", lineno,
			    (unsigned char)s[i]));
	for (tlen = 0; tlen < len && s[tlen] != ' '; tlen++)
		;
	for (k = 0; keytypes[k] != NULL; k++)
		if (strlen(keytypes[k]) == tlen &&
		    memcmp(keytypes[k], s, tlen) == 0)
			break;
	if (keytypes[k] == NULL)
		return (fail(err, errlen, "authorized key line %d: not a "
		    "known key type (options are not taken)", lineno));
	for (i = tlen; i < len && s[i] == ' '; i++)
		;
	b64 = s + i;
	for (blen = 0; i + blen < len && s[i + blen] != ' '; blen++)
		;
	if (blen == 0 || blen % 4 != 0)
		return (fail(err, errlen, "authorized key line %d: no "
		    "base64 key after the type", lineno));
	if ((blob = malloc(blen)) == NULL)
		return (fail(err, errlen, "authorized keys: %s",
		    strerror(errno)));
	if (sodium_base642bin(blob, blen, b64, blen, NULL, &bin, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(blob);
		return (fail(err, errlen, "authorized key line %d: bad "
		    "base64", lineno));
	}
	n = 0;
	if (bin >= 4) {
		slen = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
		    (uint32_t)blob[2] << 8 | blob[3];
		if (slen == tlen && bin - 4 > slen &&
		    memcmp(blob + 4, s, tlen) == 0)
			n = bin;
	}
	free(blob);
	if (n == 0)
		return (fail(err, errlen, "authorized key line %d: the key "
		    "is not a %.*s key", lineno, (int)tlen, s));
	if (k == 0 && n != 51)
		return (fail(err, errlen, "authorized key line %d: not a "
		    "32-byte ssh-ed25519 key", lineno));
	return (0);
}

/*
 * authorized_keys text: one or more key lines, each ending with a
 * newline but perhaps the last; empty lines are passed over.
 */
int
guestfs_check_authkeys(const char *text, char *err, size_t errlen)
{
	const char	*p, *nl;
	size_t		 len, n;
	int		 lineno = 0, keys = 0;

	if (text == NULL)
		return (fail(err, errlen, "no authorized keys"));
	len = strnlen(text, GUESTFS_KEYS_MAX + 1);
	if (len > GUESTFS_KEYS_MAX)
		return (fail(err, errlen, "authorized keys: more than %d "
		    "bytes", GUESTFS_KEYS_MAX));
	for (p = text; p < text + len; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', text + len - p)) == NULL)
			nl = text + len;
		n = nl - p;
		if (n == 0)
			continue;
		if (check_keyline(p, n, lineno, err, errlen) == -1)
			return (-1);
		keys++;
	}
	if (keys == 0)
		return (fail(err, errlen, "no authorized keys"));
	return (0);
}

int
guestfs_check_spec(const struct guest_spec *gs, char *err, size_t errlen)
{
	const char	*why;
	char		 a[INET_ADDRSTRLEN];

	if (gs->gs_hostname == NULL || valid_name(gs->gs_hostname,
	    strnlen(gs->gs_hostname, VALID_NAME_MAX + 1), &why) == -1)
		return (fail(err, errlen, "hostname: %s",
		    gs->gs_hostname == NULL ? "none" : why));
	if (gs->gs_domain == NULL || valid_domain(gs->gs_domain, &why) == -1)
		return (fail(err, errlen, "domain: %s",
		    gs->gs_domain == NULL ? "none" : why));
	if (strlen(gs->gs_hostname) + 1 + strlen(gs->gs_domain) >
	    GUESTFS_DOMAIN_MAX)
		return (fail(err, errlen, "hostname.domain: longer than %d",
		    GUESTFS_DOMAIN_MAX));
	if (valid_bridge_addr(gs->gs_addr, gs->gs_prefix, &why) == -1)
		return (fail(err, errlen, "address %s/%d: %s",
		    inet_ntop(AF_INET, &gs->gs_addr, a, sizeof(a)),
		    gs->gs_prefix, why));
	if (valid_bridge_addr(gs->gs_gateway, gs->gs_prefix, &why) == -1)
		return (fail(err, errlen, "gateway %s: %s",
		    inet_ntop(AF_INET, &gs->gs_gateway, a, sizeof(a)), why));
	if (!same_subnet(gs->gs_addr, gs->gs_gateway, gs->gs_prefix) ||
	    gs->gs_addr.s_addr == gs->gs_gateway.s_addr)
		return (fail(err, errlen, "gateway %s: not another address "
		    "in the VM's subnet",
		    inet_ntop(AF_INET, &gs->gs_gateway, a, sizeof(a))));
	if (valid_bridge_addr(gs->gs_dns, 32, &why) == -1)
		return (fail(err, errlen, "DNS server %s: %s",
		    inet_ntop(AF_INET, &gs->gs_dns, a, sizeof(a)), why));
	if (gs->gs_mac == NULL || valid_mac(gs->gs_mac,
	    strnlen(gs->gs_mac, 18), &why) == -1)
		return (fail(err, errlen, "MAC address: %s",
		    gs->gs_mac == NULL ? "none" : why));
	/* NULL: no authorized_keys written (no key was given). */
	if (gs->gs_authkeys == NULL)
		return (0);
	return (guestfs_check_authkeys(gs->gs_authkeys, err, errlen));
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
 * dup whether the open succeeds or not.
 */
static int
fs_open(int fd, ext2_filsys *fsp, char *err, size_t errlen)
{
	char		name[16];
	errcode_t	rv;
	int		dfd;

	if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return (fail(err, errlen, "fd %d: dup: %s", fd,
		    strerror(errno)));
	snprintf(name, sizeof(name), "%d", dfd);
	rv = ext2fs_open2(name, NULL, EXT2_FLAG_RW | EXT2_FLAG_64BITS |
	    EXT2_FLAG_SKIP_MMP, 0, 0, unixfd_io_manager, fsp);
	if (rv != 0) {
		/* Closed by libext2fs, unless it failed before its I/O. */
		if (fcntl(dfd, F_GETFD) != -1)
			close(dfd);
		*fsp = NULL;
		if (rv == EXT2_ET_BAD_MAGIC)
			return (fail(err, errlen, "fd %d: not an ext2/3/4 "
			    "file system (bad magic number)", fd));
		return (fail(err, errlen, "fd %d: cannot open the file "
		    "system: %s", fd, error_message(rv)));
	}
	return (0);
}

/* e2fsck -p has checked it, nothing replays a journal, no MMP. */
static int
fs_clean(struct gctx *g)
{
	struct ext2_super_block	*sb = g->fs->super;

	if (ext2fs_has_feature_journal_needs_recovery(sb))
		return (fail(g->err, g->errlen, "the file system's journal "
		    "needs recovery: run e2fsck"));
	if ((sb->s_state & EXT2_ERROR_FS) || !(sb->s_state & EXT2_VALID_FS))
		return (fail(g->err, g->errlen, "the file system is not "
		    "clean: run e2fsck"));
	if (ext2fs_has_feature_mmp(sb))
		return (fail(g->err, g->errlen, "the file system uses "
		    "multiple-mount protection: not supported"));
	return (0);
}

static void
inode_times(struct gctx *g, struct ext2_inode *in)
{
	in->i_ctime = in->i_mtime = (__u32)g->now;
}

/*
 * Look name up in dir (path, for messages); 1 if it is missing, 0 and
 * its inode if found.  A reserved or out-of-range inode is refused.
 */
static int
lookup(struct gctx *g, ext2_ino_t dir, const char *path, const char *name,
    ext2_ino_t *ino, struct ext2_inode *in)
{
	errcode_t	rv;

	rv = ext2fs_lookup(g->fs, dir, name, strlen(name), NULL, ino);
	if (rv == EXT2_ET_FILE_NOT_FOUND)
		return (1);
	if (rv != 0)
		return (fsfail(g, rv, "%s/%s: lookup", path, name));
	if (*ino == 0 || *ino > g->fs->super->s_inodes_count ||
	    (*ino != EXT2_ROOT_INO && *ino < EXT2_FIRST_INODE(g->fs->super)))
		return (fail(g->err, g->errlen, "%s/%s: reserved inode %u "
		    "in the guest", path, name, *ino));
	if ((rv = ext2fs_read_inode(g->fs, *ino, in)) != 0)
		return (fsfail(g, rv, "%s/%s: read inode", path, name));
	return (0);
}

/*
 * Find gdirs[i] one component at a time from the root, never following
 * a symlink.  Without create, a missing directory leaves dino[i] 0;
 * with it, the missing last component is made.
 */
static int
resolve(struct gctx *g, int i, int create)
{
	char			 path[64], sofar[64], *p, *comp;
	struct ext2_inode	 in;
	ext2_ino_t		 cur = EXT2_ROOT_INO, ino;
	errcode_t		 rv;
	int			 r;

	g->dino[i] = 0;
	strlcpy(path, gdirs[i].path, sizeof(path));
	sofar[0] = '\0';
	p = path + 1;
	while ((comp = strsep(&p, "/")) != NULL) {
		r = lookup(g, cur, sofar, comp, &ino, &in);
		if (r == -1)
			return (-1);
		if (r == 1) {
			if (!create)
				return (0);
			if (p != NULL)		/* parents come first */
				return (fail(g->err, g->errlen, "%s/%s: "
				    "missing", sofar, comp));
			rv = ext2fs_mkdir(g->fs, cur, 0, comp);
			if (rv == EXT2_ET_DIR_NO_SPACE) {
				if ((rv = ext2fs_expand_dir(g->fs, cur)) == 0)
					rv = ext2fs_mkdir(g->fs, cur, 0,
					    comp);
			}
			if (rv != 0)
				return (fsfail(g, rv, "%s: mkdir",
				    gdirs[i].path));
			if (lookup(g, cur, sofar, comp, &ino, &in) != 0)
				return (fail(g->err, g->errlen, "%s: made "
				    "but not found", gdirs[i].path));
			in.i_mode = LINUX_S_IFDIR | gdirs[i].mode;
			in.i_uid = in.i_gid = 0;
			ext2fs_set_i_uid_high(in, 0);
			ext2fs_set_i_gid_high(in, 0);
			inode_times(g, &in);
			if ((rv = ext2fs_write_inode(g->fs, ino, &in)) != 0)
				return (fsfail(g, rv, "%s: write inode",
				    gdirs[i].path));
			mark_dirty(g, cur);
			g->res->gr_mkdirs++;
		} else if (LINUX_S_ISLNK(in.i_mode))
			return (fail(g->err, g->errlen, "%s/%s is a symbolic "
			    "link in the guest: refused", sofar, comp));
		else if (!LINUX_S_ISDIR(in.i_mode))
			return (fail(g->err, g->errlen, "%s/%s is not a "
			    "directory in the guest: refused", sofar, comp));
		else if (in.i_flags & (EXT4_ENCRYPT_FL | EXT4_CASEFOLD_FL))
			/* Its names are not the bytes looked up here. */
			return (fail(g->err, g->errlen, "%s/%s is encrypted "
			    "or case-insensitive: not supported", sofar,
			    comp));
		cur = ino;
		strlcat(sofar, "/", sizeof(sofar));
		strlcat(sofar, comp, sizeof(sofar));
	}
	g->dino[i] = cur;
	return (0);
}

/* A file to be replaced may be anything but a directory. */
static int
check_target(struct gctx *g, int d, const char *name)
{
	struct ext2_inode	in;
	ext2_ino_t		ino;
	int			r;

	if (g->dino[d] == 0)
		return (0);
	if ((r = lookup(g, g->dino[d], gdirs[d].path, name, &ino, &in)) != 0)
		return (r == 1 ? 0 : -1);
	if (LINUX_S_ISDIR(in.i_mode))
		return (fail(g->err, g->errlen, "%s/%s is a directory in the "
		    "guest: refused", gdirs[d].path, name));
	return (0);
}

static int
scan_proc(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
    int blocksize, char *buf, void *arg)
{
	struct gctx	*g = arg;
	size_t		 len = ext2fs_dirent_name_len(de);
	int		 k;

	if (de->inode == 0)
		return (0);
	for (k = 0; oldkeys[k] != NULL; k++)
		if (len >= strlen(oldkeys[k]) &&
		    memcmp(de->name, oldkeys[k], strlen(oldkeys[k])) == 0)
			break;
	if (oldkeys[k] == NULL)
		return (0);
	if (g->nold == MAX_OLDKEYS) {
		g->scan_err = 1;
		return (DIRENT_ABORT);
	}
	memcpy(g->old[g->nold].name, de->name, len);
	g->old[g->nold].name[len] = '\0';
	g->old[g->nold].ino = de->inode;
	g->nold++;
	return (0);
}

/* The host key files in /etc/ssh, none of them a directory. */
static int
scan_oldkeys(struct gctx *g)
{
	errcode_t	rv;
	int		i;

	g->nold = 0;
	if (g->dino[D_SSH] == 0)
		return (0);
	rv = ext2fs_dir_iterate2(g->fs, g->dino[D_SSH], 0, NULL, scan_proc,
	    g);
	if (rv != 0)
		return (fsfail(g, rv, "/etc/ssh: read"));
	if (g->scan_err)
		return (fail(g->err, g->errlen, "/etc/ssh: more than %d host "
		    "key files", MAX_OLDKEYS));
	for (i = 0; i < g->nold; i++)
		if (check_target(g, D_SSH, g->old[i].name) == -1)
			return (-1);
	return (0);
}

/* /root/.ssh: root's, 0700, whatever the image had. */
static int
fix_dir(struct gctx *g, int d)
{
	struct ext2_inode	in;
	errcode_t		rv;

	if ((rv = ext2fs_read_inode(g->fs, g->dino[d], &in)) != 0)
		return (fsfail(g, rv, "%s: read inode", gdirs[d].path));
	if ((in.i_mode & 07777) == gdirs[d].mode && inode_uid(in) == 0 &&
	    inode_gid(in) == 0)
		return (0);
	in.i_mode = LINUX_S_IFDIR | gdirs[d].mode;
	in.i_uid = in.i_gid = 0;
	ext2fs_set_i_uid_high(in, 0);
	ext2fs_set_i_gid_high(in, 0);
	in.i_ctime = (__u32)g->now;
	if ((rv = ext2fs_write_inode(g->fs, g->dino[d], &in)) != 0)
		return (fsfail(g, rv, "%s: write inode", gdirs[d].path));
	return (0);
}

/* A directory whose entries changed, for touch_dirs(). */
static void
mark_dirty(struct gctx *g, ext2_ino_t ino)
{
	int	i;

	for (i = 0; i < g->ndirty; i++)
		if (g->dirty[i] == ino)
			return;
	if (g->ndirty < (int)(sizeof(g->dirty) / sizeof(g->dirty[0])))
		g->dirty[g->ndirty++] = ino;
}

/* Their mtime and ctime: now. */
static int
touch_dirs(struct gctx *g)
{
	struct ext2_inode	in;
	errcode_t		rv;
	int			i;

	for (i = 0; i < g->ndirty; i++) {
		if ((rv = ext2fs_read_inode(g->fs, g->dirty[i], &in)) != 0)
			return (fsfail(g, rv, "directory inode %u",
			    g->dirty[i]));
		inode_times(g, &in);
		if ((rv = ext2fs_write_inode(g->fs, g->dirty[i], &in)) != 0)
			return (fsfail(g, rv, "directory inode %u",
			    g->dirty[i]));
	}
	return (0);
}

static int
link_entry(struct gctx *g, int d, const char *name, ext2_ino_t ino, int ft)
{
	errcode_t	rv;

	rv = ext2fs_link(g->fs, g->dino[d], name, ino, ft);
	if (rv == EXT2_ET_DIR_NO_SPACE) {
		if ((rv = ext2fs_expand_dir(g->fs, g->dino[d])) == 0)
			rv = ext2fs_link(g->fs, g->dino[d], name, ino, ft);
	}
	if (rv != 0)
		return (fsfail(g, rv, "%s/%s: link", gdirs[d].path, name));
	mark_dirty(g, g->dino[d]);
	return (0);
}

/*
 * Unlink name (inode ino) from gdirs[d]; free the inode, its blocks
 * and its extended attribute block when that was its last link.
 */
static int
drop_entry(struct gctx *g, int d, const char *name, ext2_ino_t ino)
{
	struct ext2_inode	 in;
	ext2_filsys		 fs = g->fs;
	const char		*path = gdirs[d].path;
	errcode_t		 rv;
	blk64_t			 ea;
	__u32			 refs;

	if ((rv = ext2fs_read_inode(fs, ino, &in)) != 0)
		return (fsfail(g, rv, "%s/%s: read inode", path, name));
	if (LINUX_S_ISDIR(in.i_mode))
		return (fail(g->err, g->errlen, "%s/%s is a directory in the "
		    "guest: refused", path, name));
	if ((rv = ext2fs_unlink(fs, g->dino[d], name, ino, 0)) != 0)
		return (fsfail(g, rv, "%s/%s: unlink", path, name));
	mark_dirty(g, g->dino[d]);
	if (in.i_links_count > 1) {
		in.i_links_count--;
		in.i_ctime = (__u32)g->now;
		if ((rv = ext2fs_write_inode(fs, ino, &in)) != 0)
			return (fsfail(g, rv, "%s/%s: write inode", path,
			    name));
		return (0);
	}
	in.i_links_count = 0;
	in.i_dtime = (__u32)g->now;
	if (ext2fs_inode_has_valid_blocks2(fs, &in) &&
	    (rv = ext2fs_punch(fs, ino, &in, NULL, 0, ~0ULL)) != 0)
		return (fsfail(g, rv, "%s/%s: free blocks", path, name));
	if ((ea = ext2fs_file_acl_block(fs, &in)) != 0) {
		rv = ext2fs_adjust_ea_refcount3(fs, ea, NULL, -1, &refs, ino);
		if (rv != 0)
			return (fsfail(g, rv, "%s/%s: free attributes", path,
			    name));
		if (refs == 0)
			ext2fs_block_alloc_stats2(fs, ea, -1);
		ext2fs_file_acl_block_set(fs, &in, 0);
	}
	if ((rv = ext2fs_write_inode(fs, ino, &in)) != 0)
		return (fsfail(g, rv, "%s/%s: write inode", path, name));
	ext2fs_inode_alloc_stats2(fs, ino, -1, 0);
	return (0);
}

/* Replace gdirs[f->dir]/f->name with a new root-owned file. */
static int
put_file(struct gctx *g, const struct gfile *f)
{
	struct ext2_inode	 in;
	ext2_filsys		 fs = g->fs;
	ext2_extent_handle_t	 eh;
	ext2_file_t		 file;
	ext2_ino_t		 dir = g->dino[f->dir], ino;
	const char		*path = gdirs[f->dir].path;
	errcode_t		 rv, rv2;
	unsigned int		 n;
	int			 r;

	if ((r = lookup(g, dir, path, f->name, &ino, &in)) == -1)
		return (-1);
	if (r == 0 && drop_entry(g, f->dir, f->name, ino) == -1)
		return (-1);

	rv = ext2fs_new_inode(fs, dir, LINUX_S_IFREG | f->mode, NULL, &ino);
	if (rv != 0)
		return (fsfail(g, rv, "%s/%s: new inode", path, f->name));
	ext2fs_inode_alloc_stats2(fs, ino, +1, 0);

	memset(&in, 0, sizeof(in));
	in.i_mode = LINUX_S_IFREG | f->mode;
	in.i_links_count = 1;
	in.i_atime = in.i_ctime = in.i_mtime = (__u32)g->now;
	if ((rv = ext2fs_inode_size_set(fs, &in, f->len)) != 0)
		return (fsfail(g, rv, "%s/%s: size", path, f->name));
	if (ext2fs_has_feature_inline_data(fs->super))
		in.i_flags |= EXT4_INLINE_DATA_FL;
	else if (ext2fs_has_feature_extents(fs->super)) {
		/* An empty extent tree in i_block; sets EXTENTS_FL. */
		if ((rv = ext2fs_extent_open2(fs, ino, &in, &eh)) != 0)
			return (fsfail(g, rv, "%s/%s: extents", path,
			    f->name));
		ext2fs_extent_free(eh);
	}
	if ((rv = ext2fs_write_new_inode(fs, ino, &in)) != 0)
		return (fsfail(g, rv, "%s/%s: write inode", path, f->name));
	if ((in.i_flags & EXT4_INLINE_DATA_FL) &&
	    (rv = ext2fs_inline_data_init(fs, ino)) != 0)
		return (fsfail(g, rv, "%s/%s: inline data", path, f->name));

	if ((rv = ext2fs_file_open(fs, ino, EXT2_FILE_WRITE, &file)) != 0)
		return (fsfail(g, rv, "%s/%s: open", path, f->name));
	n = 0;
	rv = f->len == 0 ? 0 : ext2fs_file_write(file, f->data, f->len, &n);
	rv2 = ext2fs_file_close(file);
	if (rv == 0 && n != f->len)
		rv = EXT2_ET_SHORT_WRITE;
	if (rv != 0 || (rv = rv2) != 0)
		return (fsfail(g, rv, "%s/%s: write", path, f->name));

	if (link_entry(g, f->dir, f->name, ino, EXT2_FT_REG_FILE) == -1)
		return (-1);
	g->res->gr_written++;
	return (0);
}

int
guestfs_provision(int fd, const struct guest_spec *gs,
    struct guest_result *res, char *err, size_t errlen)
{
	struct gctx		 g;
	struct sshkey_ed25519	 key;
	struct gfile		 files[8];
	char			 hostname[VALID_NAME_MAX + 2];
	char			 hosts[SMALL_MAX], resolv[SMALL_MAX];
	char			 networkd[SMALL_MAX], ifupdown[SMALL_MAX];
	char			 addr[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
	char			 dns[INET_ADDRSTRLEN];
	char			 comment[SSHKEY_COMMENT_MAX];
	char			 priv[SSHKEY_PRIV_MAX], pub[SSHKEY_PUB_MAX + 1];
	char			*keys = NULL;
	const char		*h = gs->gs_hostname, *dom = gs->gs_domain;
	size_t			 klen, nfiles = 0, i;
	errcode_t		 rv;
	int			 d, k, ret = -1, opened = 0, changed = 0;

	memset(res, 0, sizeof(*res));
	memset(&g, 0, sizeof(g));
	memset(&key, 0, sizeof(key));
	priv[0] = '\0';
	g.err = err;
	g.errlen = errlen;
	g.res = res;
	g.hostkeys = gs->gs_hostkeys;
	g.now = time(NULL);
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	initialize_ext2_error_table();	/* error_message()'s texts */

	/* 1. The spec, the fd, and the files' contents. */
	if (guestfs_check_spec(gs, err, errlen) == -1)
		return (-1);
	if (check_fd(fd, err, errlen) == -1)
		return (-1);
	if (sodium_init() == -1)
		return (fail(err, errlen, "libsodium: cannot start"));
	inet_ntop(AF_INET, &gs->gs_addr, addr, sizeof(addr));
	inet_ntop(AF_INET, &gs->gs_gateway, gw, sizeof(gw));
	inet_ntop(AF_INET, &gs->gs_dns, dns, sizeof(dns));

	snprintf(hostname, sizeof(hostname), "%s\n", h);
	snprintf(hosts, sizeof(hosts), BANNER
	    "127.0.0.1\tlocalhost\n"
	    "127.0.1.1\t%s.%s\t%s\n"
	    "::1\t\tlocalhost ip6-localhost ip6-loopback\n"
	    "ff02::1\t\tip6-allnodes\n"
	    "ff02::2\t\tip6-allrouters\n", h, dom, h);
	snprintf(resolv, sizeof(resolv), BANNER
	    "nameserver %s\n"
	    "search %s\n", dns, dom);
	snprintf(networkd, sizeof(networkd), BANNER
	    "[Match]\n"
	    "MACAddress=%s\n"
	    "\n"
	    "[Network]\n"
	    "Address=%s/%d\n"
	    "Gateway=%s\n"
	    "DNS=%s\n"
	    "Domains=%s\n", gs->gs_mac, addr, gs->gs_prefix, gw, dns, dom);
	snprintf(ifupdown, sizeof(ifupdown), BANNER
	    "# ifupdown cannot match an interface by its MAC address, so this\n"
	    "# names eth0: the VM's only interface (%s) under Firecracker.\n"
	    "auto eth0\n"
	    "iface eth0 inet static\n"
	    "\taddress %s/%d\n"
	    "\tgateway %s\n"
	    "\tdns-nameservers %s\n"
	    "\tdns-search %s\n", gs->gs_mac, addr, gs->gs_prefix, gw, dns,
	    dom);

	/* authorized_keys: the lines as given, each ending with '\n'. */
	klen = gs->gs_authkeys != NULL ? strlen(gs->gs_authkeys) : 0;
	if ((keys = malloc(klen + 2)) == NULL)
		return (fail(err, errlen, "authorized keys: %s",
		    strerror(errno)));
	memcpy(keys, gs->gs_authkeys != NULL ? gs->gs_authkeys : "", klen + 1);
	if (klen > 0 && keys[klen - 1] != '\n') {
		keys[klen++] = '\n';
		keys[klen] = '\0';
	}

#define ADD(d_, n_, m_, s_, l_) do {					\
	files[nfiles].dir = (d_);					\
	files[nfiles].name = (n_);					\
	files[nfiles].mode = (m_);					\
	files[nfiles].data = (s_);					\
	files[nfiles].len = (l_);					\
	nfiles++;							\
} while (0)
	ADD(D_ETC, "hostname", 0644, hostname, strlen(hostname));
	ADD(D_ETC, "hosts", 0644, hosts, strlen(hosts));
	ADD(D_ETC, "resolv.conf", 0644, resolv, strlen(resolv));
	ADD(D_NETWORKD, "10-banger.network", 0644, networkd,
	    strlen(networkd));
	ADD(D_IFUPDOWN, "banger", 0644, ifupdown, strlen(ifupdown));
	if (gs->gs_authkeys != NULL)
		ADD(D_DOTSSH, "authorized_keys", 0600, keys, klen);
	if (g.hostkeys) {
		snprintf(comment, sizeof(comment), "root@%s", h);
		if (sshkey_ed25519_generate(&key) == -1 ||
		    sshkey_ed25519_private(&key, comment, priv,
		    sizeof(priv)) == -1 ||
		    sshkey_ed25519_public(&key, comment, res->gr_hostkey,
		    sizeof(res->gr_hostkey)) == -1 ||
		    sshkey_ed25519_fingerprint(&key, res->gr_fingerprint,
		    sizeof(res->gr_fingerprint)) == -1) {
			fail(err, errlen, "host key: %s", strerror(errno));
			goto out;
		}
		snprintf(pub, sizeof(pub), "%s\n", res->gr_hostkey);
		ADD(D_SSH, HOSTKEY, 0600, priv, strlen(priv));
		ADD(D_SSH, HOSTKEY ".pub", 0644, pub, strlen(pub));
	}
#undef ADD

	/* 2. Look, change nothing. */
	if (fs_open(fd, &g.fs, err, errlen) == -1)
		goto out;
	opened = 1;
	g.fs->now = g.now;
	if (fs_clean(&g) == -1)
		goto out;
	if ((rv = ext2fs_read_bitmaps(g.fs)) != 0) {
		fsfail(&g, rv, "read bitmaps");
		goto out;
	}
	for (d = 0; d < (int)NDIRS; d++) {
		if (gdirs[d].hostkeys && !g.hostkeys)
			continue;
		if (resolve(&g, d, 0) == -1)
			goto out;
	}
	for (i = 0; i < nfiles; i++)
		if (check_target(&g, files[i].dir, files[i].name) == -1)
			goto out;
	if (g.hostkeys && scan_oldkeys(&g) == -1)
		goto out;

	/* 3. Write. */
	changed = 1;
	for (d = 0; d < (int)NDIRS; d++) {
		if (gdirs[d].hostkeys && !g.hostkeys)
			continue;
		if (g.dino[d] == 0 && resolve(&g, d, 1) == -1)
			goto out;
		if (gdirs[d].fix && fix_dir(&g, d) == -1)
			goto out;
	}
	for (k = 0; k < g.nold; k++) {
		if (drop_entry(&g, D_SSH, g.old[k].name, g.old[k].ino) == -1)
			goto out;
		/* The new key replaces its namesake; count the others. */
		if (strcmp(g.old[k].name, HOSTKEY) != 0 &&
		    strcmp(g.old[k].name, HOSTKEY ".pub") != 0)
			res->gr_removed++;
	}
	for (i = 0; i < nfiles; i++)
		if (put_file(&g, &files[i]) == -1)
			goto out;
	if (touch_dirs(&g) == -1)
		goto out;
	ret = 0;
 out:
	if (opened) {
		if (changed) {
			/* Even after a failure: bitmaps match what was done. */
			g.fs->flags |= EXT2_FLAG_MASTER_SB_ONLY;
			/*
			 * One sync, once all is written: libext2fs's own
			 * order (the blocks synced, then the superblock)
			 * does not matter for a disk that no record says
			 * is made until the child has reported.
			 */
			if ((rv = ext2fs_close2(g.fs,
			    EXT2_FLAG_FLUSH_NO_SYNC)) != 0) {
				/* A failed flush leaves fs (and the dup). */
				ext2fs_free(g.fs);
				if (ret == 0)
					ret = fsfail(&g, rv, "fd %d: write "
					    "the file system", fd);
			} else if (!gs->gs_nosync && fsync(fd) == -1 &&
			    ret == 0)
				ret = fail(err, errlen, "fd %d: fsync: %s", fd,
				    strerror(errno));
		} else
			ext2fs_free(g.fs);
	}
	sshkey_ed25519_clear(&key);
	sodium_memzero(priv, sizeof(priv));
	free(keys);
	if (ret == -1) {
		res->gr_hostkey[0] = '\0';
		res->gr_fingerprint[0] = '\0';
	}
	return (ret);
}

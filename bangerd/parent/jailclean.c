/*
 * A jail removed once its Firecracker is gone: whatever is mounted in
 * it detached, deepest first, then STATE/jail/firecracker/VMID removed
 * without following a symlink or entering a mount.  jail.c builds the
 * jail; the VM's cgroup goes in jailspawn.c (fc_cgroup_remove).
 */
#include <sys/types.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "jail.h"
#include "log.h"

#define RMTREE_DEPTH	32

static int	mnt_depth_cmp(const void *, const void *);
static int	mounts_below(const char *, char ***, size_t *);
static void	mounts_free(char **, size_t);
static int	unmount_at(const char *, int, const char *, const char *);
static int	rm_tree(const char *, int, char *, size_t, const char *, int);

static int
mnt_depth_cmp(const void *a, const void *b)
{
	const char	*sa = *(const char *const *)a;
	const char	*sb = *(const char *const *)b;
	int		 da = 0, db = 0;

	for (; *sa != '\0'; sa++)
		da += *sa == '/';
	for (; *sb != '\0'; sb++)
		db += *sb == '/';
	return db - da;
}

/* Mount points at or below top, deepest first. */
static int
mounts_below(const char *top, char ***listp, size_t *np)
{
	FILE		*fp;
	char		*line = NULL, *p, *e, **list = NULL, **nl;
	size_t		 cap = 0, n = 0, lcap = 0, tlen = strlen(top);
	int		 f, saved_errno;

	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	while (getline(&line, &cap, fp) != -1) {
		for (p = line, f = 1; f < 5 && p != NULL; f++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || (e = strchr(p, ' ')) == NULL)
			continue;
		*e = '\0';
		mountinfo_unescape(p);
		if (strncmp(p, top, tlen) != 0 ||
		    (p[tlen] != '\0' && p[tlen] != '/'))
			continue;
		if (n == lcap) {
			lcap = lcap == 0 ? 8 : lcap * 2;
			if ((nl = reallocarray(list, lcap,
			    sizeof(*list))) == NULL)
				goto fail;
			list = nl;
		}
		if ((list[n] = strdup(p)) == NULL)
			goto fail;
		n++;
	}
	if (ferror(fp))
		goto fail;
	free(line);
	fclose(fp);
	if (n > 0)
		qsort(list, n, sizeof(*list), mnt_depth_cmp);
	*listp = list;
	*np = n;
	return 0;
fail:
	saved_errno = errno;
	mounts_free(list, n);
	free(line);
	fclose(fp);
	errno = saved_errno;
	return -1;
}

static void
mounts_free(char **list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/*
 * Detach the mount at mp, reached from statefd one component at a time
 * without following a symlink, through its descriptor.
 */
static int
unmount_at(const char *ctx, int statefd, const char *statedir,
    const char *mp)
{
	char		 rel[PATH_MAX], p[PROCFD_LEN];
	char		*c, *e;
	struct stat	 st;
	int		 fd, nfd, last, mnt, saved_errno;

	(void)strlcpy(rel, mp + strlen(statedir) + 1, sizeof(rel));
	if ((fd = dup(statefd)) == -1)
		return -1;
	for (c = rel, last = 0; !last; c = e + 1) {
		if ((e = strchr(c, '/')) == NULL) {
			e = c + strlen(c);
			last = 1;
		}
		*e = '\0';
		nfd = openat(fd, c, O_PATH | O_NOFOLLOW | O_CLOEXEC |
		    (last ? 0 : O_DIRECTORY));
		saved_errno = errno;
		close(fd);
		if (nfd == -1 && saved_errno == ENOENT)
			return 0;	/* hidden by a mount above it */
		if (nfd == -1 && saved_errno == ENOTDIR) {
			log_warnx("%s: %s: %s is a symlink or not a "
			    "directory: not unmounted", ctx, mp, c);
			errno = ELOOP;
			return -1;
		}
		if (nfd == -1) {
			errno = saved_errno;
			log_warn("%s: %s", ctx, mp);
			return -1;
		}
		fd = nfd;
	}
	if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
		log_warnx("%s: %s: is a symlink: not unmounted", ctx, mp);
		close(fd);
		errno = ELOOP;
		return -1;
	}
	if ((mnt = is_mount_root(fd)) != 1) {
		saved_errno = errno;
		close(fd);
		if (mnt == 0)
			return 0;	/* went with a parent's detach */
		errno = saved_errno;
		log_warn("%s: %s", ctx, mp);
		return -1;
	}
	procfd_path(p, sizeof(p), fd);
	if (umount2(p, MNT_DETACH) == -1 && errno != EINVAL) {
		saved_errno = errno;
		log_warn("%s: unmount %s", ctx, mp);
		close(fd);
		errno = saved_errno;
		return -1;
	}
	close(fd);
	log_debug("%s: unmounted %s", ctx, mp);
	return 0;
}

/*
 * Remove name below parentfd and all it holds.  Symlinks are removed,
 * not followed; a directory is entered only through O_NOFOLLOW and
 * never if something is mounted on it.  path holds the shown path up
 * to parentfd.
 */
static int
rm_tree(const char *ctx, int parentfd, char *path, size_t plen,
    const char *name, int depth)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	size_t		 len;
	int		 fd, rv = 0, saved_errno;

	len = strlcat(path, "/", PATH_MAX);
	len = strlcat(path, name, PATH_MAX);
	if (len >= PATH_MAX || depth > RMTREE_DEPTH) {
		log_warnx("%s: %s: too deep", ctx, path);
		path[plen] = '\0';
		errno = ELOOP;
		return -1;
	}
	if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		rv = errno == ENOENT ? 0 : -1;
		if (rv == -1)
			log_warn("%s: %s", ctx, path);
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parentfd, name, 0) == -1 && errno != ENOENT) {
			log_warn("%s: unlink %s", ctx, path);
			rv = -1;
		}
		goto done;
	}
	if ((fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("%s: %s", ctx, path);
		rv = -1;
		goto done;
	}
	if (is_mount_root(fd) != 0) {
		log_warnx("%s: %s: still mounted, not entered", ctx, path);
		close(fd);
		errno = EBUSY;
		rv = -1;
		goto done;
	}
	if ((d = fdopendir(fd)) == NULL) {
		log_warn("%s: %s", ctx, path);
		close(fd);
		rv = -1;
		goto done;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (rm_tree(ctx, dirfd(d), path, len, de->d_name,
		    depth + 1) == -1)
			rv = -1;
	}
	closedir(d);
	if (rv == 0 && unlinkat(parentfd, name, AT_REMOVEDIR) == -1 &&
	    errno != ENOENT) {
		log_warn("%s: rmdir %s", ctx, path);
		rv = -1;
	}
done:
	saved_errno = errno;
	path[plen] = '\0';
	errno = saved_errno;
	return rv;
}

/*
 * Unmount whatever is mounted in the jail, deepest first, then remove
 * STATE/jail/firecracker/VMID.  Firecracker must be gone.  Missing is
 * success; a symlink on the way is refused.
 */
int
jail_cleanup(const char *statedir, const char *vmid)
{
	char		 ctx[32], top[PATH_MAX], path[PATH_MAX], **list;
	struct stat	 st;
	size_t		 n, i;
	int		 sfd, ffd, round, rv = 0, saved_errno;

	if (vm_ctx("jail cleanup", vmid, ctx, sizeof(ctx)) == -1)
		return -1;
	if (statedir_arg(ctx, statedir) == -1)
		return -1;
	if ((sfd = walk_dir(ctx, statedir, WALK_SECURE | WALK_QUIET)) == -1)
		return errno == ENOENT ? 0 : -1;
	(void)pathf(top, "%s/%s/%s/%s", statedir, JAIL_DIR,
	    JAIL_EXEC_NAME, vmid);

	for (round = 0; round < UMOUNT_ROUNDS; round++) {
		if (mounts_below(top, &list, &n) == -1) {
			log_warn("%s: /proc/self/mountinfo", ctx);
			goto fail;
		}
		for (i = 0; i < n && rv == 0; i++)
			rv = unmount_at(ctx, sfd, statedir, list[i]);
		mounts_free(list, n);
		if (rv == -1)
			goto fail;
		if (n == 0)
			break;
	}
	if (round == UMOUNT_ROUNDS) {
		log_warnx("%s: %s: mounts keep coming back", ctx, top);
		errno = EBUSY;
		goto fail;
	}

	if ((ffd = jail_base(ctx, statedir, 0)) == -1) {
		saved_errno = errno;
		close(sfd);
		errno = saved_errno;
		return errno == ENOENT ? 0 : -1;
	}
	close(sfd);
	(void)pathf(path, "%s/%s/%s", statedir, JAIL_DIR,
	    JAIL_EXEC_NAME);
	if (fstatat(ffd, vmid, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISDIR(st.st_mode)) {
		log_warnx("%s: %s: %s, not removed", ctx, top,
		    S_ISLNK(st.st_mode) ? "is a symlink" : "not a directory");
		close(ffd);
		errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
		return -1;
	}
	rv = rm_tree(ctx, ffd, path, strlen(path), vmid, 0);
	saved_errno = errno;
	close(ffd);
	errno = saved_errno;
	if (rv == 0)
		log_debug("%s: jail %s removed", ctx, top);
	return rv;
fail:
	saved_errno = errno;
	close(sfd);
	errno = saved_errno;
	return -1;
}

/*
 * Remove name below parentfd and everything in it, never through a
 * symlink or into a mount; shown is parentfd's path, for messages.
 * Missing is success.
 */
int
tree_remove(const char *ctx, int parentfd, const char *shown,
    const char *name)
{
	char	 path[PATH_MAX];

	if (strlcpy(path, shown, sizeof(path)) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return rm_tree(ctx, parentfd, path, strlen(path), name, 0);
}

/*
 * Installing a verified update, in the parent: the release's tarball
 * (scripts/publish-release.sh: a ustar archive with bangerd, bangerctl,
 * the workers' programs bangerd-vm, bangerd-net, bangerd-update and
 * bangerd-pull, and
 * man/ at its top, uncompressed so that no decompressor runs as root)
 * is unpacked into a new directory beside the running bangerd, the
 * six programs are swapped into place with renameat2(2)
 * RENAME_EXCHANGE, the ones they replace are kept as NAME.prev for a
 * rollback, and the highest version ever installed
 * is recorded in STATE/priv/highest-version.  Until the swap is done
 * nothing installed changes; a failure at any step undoes the steps
 * before it and removes the new directory.
 *
 * The installed programs are the running bangerd's own file (from
 * /proc/self/exe at start) and the others in the same directory.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "log.h"
#include "untar.h"
#include "manifest.h"	/* shared: the parent checks again */

#define HIGHEST_FILE	"priv/highest-version"

static char	 inst_exe[PATH_MAX];	/* the running bangerd */
static char	 inst_dir[PATH_MAX];	/* its directory */

static const char *const inst_progs[] = {
	"bangerd", "bangerctl", "bangerd-vm", "bangerd-net", "bangerd-update",
	"bangerd-pull"
};
#define NPROGS	6

/* At start: where the running bangerd was executed from. */
int
install_init(void)
{
	ssize_t	 n;
	char	 tmp[PATH_MAX];

	if ((n = readlink("/proc/self/exe", inst_exe, sizeof(inst_exe) - 1)) ==
	    -1)
		return -1;
	inst_exe[n] = '\0';
	strlcpy(tmp, inst_exe, sizeof(tmp));
	strlcpy(inst_dir, dirname(tmp), sizeof(inst_dir));
	return 0;
}

const char *
install_exe(void)
{
	return inst_exe;
}

const char *
install_dir(void)
{
	return inst_dir;
}

/* Read the highest version ever installed; "" if none is recorded. */
int
install_highest(char *buf, size_t len)
{
	char	 path[PATH_MAX], line[UPD_VERSION_MAX + 2];
	FILE	*fp;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", env->bd_conf->cf_statedir,
	    HIGHEST_FILE);
	if ((fp = fopen(path, "re")) == NULL)
		return errno == ENOENT ? 0 : -1;
	if (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (upd_version_valid(line))
			strlcpy(buf, line, len);
		else
			log_warnx("%s: \"%s\" is not a version; ignored",
			    path, line);
	}
	fclose(fp);
	return 0;
}

/* Written to a temporary file, synced, renamed, the directory synced. */
static int
highest_write(const char *version, char *msg, size_t len)
{
	char	 path[PATH_MAX], tmp[PATH_MAX], dir[PATH_MAX];
	int	 fd, dfd;

	snprintf(path, sizeof(path), "%s/%s", env->bd_conf->cf_statedir,
	    HIGHEST_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(dir, sizeof(dir), "%s/priv", env->bd_conf->cf_statedir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return msgf(msg, len, "%s: %s", tmp, strerror(errno));
	if (dprintf(fd, "%s\n", version) < 0 || fsync(fd) == -1) {
		msgf(msg, len, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		msgf(msg, len, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* An executable for this machine: a regular, non-empty ELF file. */
static int
prog_check(int dfd, const char *name, char *msg, size_t len)
{
	unsigned char	 magic[4];
	struct stat	 st;
	int		 fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return msgf(msg, len, "%s: %s", name, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    read(fd, magic, 4) != 4 || memcmp(magic, "\177ELF", 4) != 0) {
		close(fd);
		return msgf(msg, len, "%s is not an executable", name);
	}
	close(fd);
	return 0;
}

static void
tmpdir_remove(int dfd, const char *tmp)
{
	int	 i;

	for (i = 0; i < NPROGS; i++)
		(void)unlinkat(dfd, inst_progs[i], 0);
	if (rmdir(tmp) == -1 && errno != ENOENT)
		log_warn("%s", tmp);
}

/* Every installed program exists, as a regular file. */
static int
installed_check(int dirfd, char *msg, size_t len)
{
	struct stat	 st;
	int		 i;

	for (i = 0; i < NPROGS; i++)
		if (fstatat(dirfd, inst_progs[i], &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			return msgf(msg, len, "%s/%s is not a regular file: "
			    "bangerd updates itself and the programs beside "
			    "it", inst_dir, inst_progs[i]);
	return 0;
}

/*
 * Install the verified artifact on fd as release version.  On success
 * the new programs are in place; the caller re-executes.  On failure
 * nothing installed has changed and msg says why.
 */
int
install_apply(int fd, const char *version, char *msg, size_t len)
{
	char	 tmp[PATH_MAX];
	int	 dirfd = -1, tfd = -1, swapped = 0, i, rv = -1;

	tmp[0] = '\0';
	if ((dirfd = open(inst_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return msgf(msg, len, "%s: %s", inst_dir, strerror(errno));
	if (installed_check(dirfd, msg, len) == -1)
		goto out;
	if (snprintf(tmp, sizeof(tmp), "%s/.bangerd-update.XXXXXX",
	    inst_dir) >= (int)sizeof(tmp) || mkdtemp(tmp) == NULL) {
		msgf(msg, len, "cannot make a directory in %s: %s", inst_dir,
		    strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	if ((tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		msgf(msg, len, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (untar_programs(fd, tfd, inst_progs, NPROGS, msg, len) == -1)
		goto out;
	for (i = 0; i < NPROGS; i++)
		if (prog_check(tfd, inst_progs[i], msg, len) == -1)
			goto out;

	/* Swap each new program with the installed one. */
	for (swapped = 0; swapped < NPROGS; swapped++)
		if (renameat2(tfd, inst_progs[swapped], dirfd,
		    inst_progs[swapped], RENAME_EXCHANGE) == -1) {
			msgf(msg, len, "%s/%s: %s", inst_dir,
			    inst_progs[swapped], strerror(errno));
			goto undo;
		}
	if (highest_write(version, msg, len) == -1)
		goto undo;
	(void)fsync(dirfd);

	/* What the new ones replaced is the previous version now. */
	for (i = 0; i < NPROGS; i++) {
		char	 prev[64];

		snprintf(prev, sizeof(prev), "%s.prev", inst_progs[i]);
		if (renameat(tfd, inst_progs[i], dirfd, prev) == -1)
			log_warn("%s/%s", inst_dir, prev);
	}
	(void)fsync(dirfd);
	log_info("installed bangerd %s in %s", version, inst_dir);
	rv = 0;
	goto out;
 undo:
	while (--swapped >= 0)
		if (renameat2(tfd, inst_progs[swapped], dirfd,
		    inst_progs[swapped], RENAME_EXCHANGE) == -1)
			log_warn("%s/%s: cannot put the installed one back",
			    inst_dir, inst_progs[swapped]);
 out:
	if (tfd != -1) {
		tmpdir_remove(tfd, tmp);
		close(tfd);
	} else if (tmp[0] != '\0')
		(void)rmdir(tmp);
	close(dirfd);
	return rv;
}

/*
 * Swap the previous programs back in (and so keep the current ones as
 * the previous); the recorded highest version stays as it is.
 */
int
install_rollback(char *msg, size_t len)
{
	struct stat	 st;
	char		 prev[NPROGS][64];
	int		 dirfd, i, rv = -1;

	if ((dirfd = open(inst_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return msgf(msg, len, "%s: %s", inst_dir, strerror(errno));
	if (installed_check(dirfd, msg, len) == -1)
		goto out;
	for (i = 0; i < NPROGS; i++) {
		snprintf(prev[i], sizeof(prev[i]), "%s.prev", inst_progs[i]);
		if (fstatat(dirfd, prev[i], &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode)) {
			msgf(msg, len, "no previous version to roll back to "
			    "(%s/%s: %s)", inst_dir, prev[i], errno ?
			    strerror(errno) : "not a regular file");
			goto out;
		}
		if (prog_check(dirfd, prev[i], msg, len) == -1)
			goto out;
	}
	for (i = 0; i < NPROGS; i++)
		if (renameat2(dirfd, prev[i], dirfd, inst_progs[i],
		    RENAME_EXCHANGE) == -1) {
			msgf(msg, len, "%s/%s: %s", inst_dir, inst_progs[i],
			    strerror(errno));
			while (--i >= 0)
				(void)renameat2(dirfd, prev[i], dirfd,
				    inst_progs[i], RENAME_EXCHANGE);
			goto out;
		}
	(void)fsync(dirfd);
	log_info("rolled back to the previous programs in %s", inst_dir);
	rv = 0;
 out:
	close(dirfd);
	return rv;
}

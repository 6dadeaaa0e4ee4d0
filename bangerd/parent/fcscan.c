/*
 * One read of /proc for the processes that may be VMs' Firecrackers, at
 * start: the restore (vmrestore.c) adopts or kills the recorded ones,
 * the sweep (sweep.c) kills what no record names.
 */
#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "jail.h"
#include "log.h"
#include "validate.h"

#define KILL_WAIT_MS	5000

/*
 * The processes that may be a VM's Firecracker, read once from /proc:
 * those whose root is not the host's (a jail's, after pivot_root) and
 * those whose argv is a Firecracker's with --id ID.
 */
struct fcproc {
	pid_t			 fp_pid;
	unsigned long long	 fp_start;
	dev_t			 fp_rdev;
	ino_t			 fp_rino;
	char			 fp_id[VM_ID_LEN + 1];	/* "" if none */
	int			 fp_gone;
};

struct fcscan {
	struct fcproc	*fs_procs;
	size_t		 fs_n;
	/* fs_procs in order of root (dev, ino), and of --id */
	struct fcproc	**fs_byroot;
	struct fcproc	**fs_byid;
};

static int
byroot_cmp(const void *a, const void *b)
{
	const struct fcproc	*x = *(struct fcproc *const *)a;
	const struct fcproc	*y = *(struct fcproc *const *)b;

	if (x->fp_rdev != y->fp_rdev)
		return x->fp_rdev < y->fp_rdev ? -1 : 1;
	if (x->fp_rino != y->fp_rino)
		return x->fp_rino < y->fp_rino ? -1 : 1;
	return 0;
}

static int
byid_cmp(const void *a, const void *b)
{
	return strcmp((*(struct fcproc *const *)a)->fp_id,
	    (*(struct fcproc *const *)b)->fp_id);
}

/* The --id of a Firecracker's (or the jailer's) argv, if one. */
static int
cmdline_fc_id(pid_t pid, char *id, size_t idlen)
{
	char		 path[64], buf[4096], *arg, *end, *base;
	ssize_t		 n;
	int		 fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	end = buf + n;
	base = strrchr(buf, '/') != NULL ? strrchr(buf, '/') + 1 : buf;
	if (strcmp(base, JAIL_ARGV0) != 0)
		return -1;
	for (arg = buf + strlen(buf) + 1; arg < end; arg += strlen(arg) + 1)
		if (strcmp(arg, "--id") == 0 && arg + strlen(arg) + 1 < end) {
			arg += strlen(arg) + 1;
			if (valid_vm_id(arg, strlen(arg), NULL) == -1)
				return -1;
			strlcpy(id, arg, idlen);
			return 0;
		}
	return -1;
}

struct fcscan *
fcscan_new(void)
{
	struct fcscan	*fs;
	struct fcproc	*fp;
	struct dirent	*de;
	struct stat	 st, rootst;
	char		 path[64], id[VM_ID_LEN + 1];
	unsigned long long start;
	DIR		*d;
	pid_t		 pid;
	size_t		 i;
	char		*end;
	int		 jailed;

	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		fatal(NULL);
	if (stat("/", &rootst) == -1)
		fatal("stat /");
	if ((d = opendir("/proc")) == NULL) {
		log_warn("%s: /proc", __func__);
		return fs;
	}
	while ((de = readdir(d)) != NULL) {
		errno = 0;
		pid = strtol(de->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || pid <= 1 ||
		    pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root/", (int)pid);
		if (stat(path, &st) == -1)
			continue;
		jailed = st.st_dev != rootst.st_dev ||
		    st.st_ino != rootst.st_ino;
		id[0] = '\0';
		if (!jailed && cmdline_fc_id(pid, id, sizeof(id)) == -1)
			continue;
		if (proc_starttime(pid, &start) == -1)
			continue;
		if ((fp = reallocarray(fs->fs_procs, fs->fs_n + 1,
		    sizeof(*fp))) == NULL)
			fatal(NULL);
		fs->fs_procs = fp;
		fp = &fs->fs_procs[fs->fs_n++];
		memset(fp, 0, sizeof(*fp));
		fp->fp_pid = pid;
		fp->fp_start = start;
		fp->fp_rdev = st.st_dev;
		fp->fp_rino = st.st_ino;
		if (id[0] == '\0')
			(void)cmdline_fc_id(pid, id, sizeof(id));
		strlcpy(fp->fp_id, id, sizeof(fp->fp_id));
	}
	closedir(d);
	/* Each VM's processes found by a search, not a pass over all. */
	if ((fs->fs_byroot = calloc(fs->fs_n + 1,
	    sizeof(*fs->fs_byroot))) == NULL ||
	    (fs->fs_byid = calloc(fs->fs_n + 1, sizeof(*fs->fs_byid))) == NULL)
		fatal(NULL);
	for (i = 0; i < fs->fs_n; i++)
		fs->fs_byroot[i] = fs->fs_byid[i] = &fs->fs_procs[i];
	qsort(fs->fs_byroot, fs->fs_n, sizeof(*fs->fs_byroot), byroot_cmp);
	qsort(fs->fs_byid, fs->fs_n, sizeof(*fs->fs_byid), byid_cmp);
	return fs;
}

/*
 * A live process, other than keep, that is id's Firecracker: its root
 * is id's jail root, or (jail or not, with jailonly 0) its argv names
 * id.  Its pid, or 0.
 */
/* The first of idx[n] cmp does not put before key, or idx + n. */
static struct fcproc **
fcscan_lower(struct fcproc **idx, size_t n, struct fcproc *key,
    int (*cmp)(const void *, const void *))
{
	struct fcproc	**lo = idx, **hi = idx + n, **mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cmp(mid, &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

pid_t
fcscan_match(struct fcscan *fs, const char *id, pid_t keep, int jailonly)
{
	char		 path[PATH_MAX];
	struct stat	 jst;
	struct fcproc	 key, **fpp, **end;

	if (fs->fs_n == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s/%s/%s/%s",
	    env->bd_conf->cf_statedir, JAIL_DIR, JAIL_EXEC_NAME, id,
	    JAIL_ROOT);
	memset(&key, 0, sizeof(key));
	if (lstat(path, &jst) == 0 && S_ISDIR(jst.st_mode)) {
		key.fp_rdev = jst.st_dev;
		key.fp_rino = jst.st_ino;
		end = fs->fs_byroot + fs->fs_n;
		for (fpp = fcscan_lower(fs->fs_byroot, fs->fs_n, &key,
		    byroot_cmp); fpp < end && byroot_cmp(fpp,
		    &(struct fcproc *){ &key }) == 0; fpp++)
			if (!(*fpp)->fp_gone && (*fpp)->fp_pid != keep)
				return (*fpp)->fp_pid;
	}
	if (jailonly)
		return 0;
	strlcpy(key.fp_id, id, sizeof(key.fp_id));
	end = fs->fs_byid + fs->fs_n;
	for (fpp = fcscan_lower(fs->fs_byid, fs->fs_n, &key, byid_cmp);
	    fpp < end && byid_cmp(fpp, &(struct fcproc *){ &key }) == 0; fpp++)
		if (!(*fpp)->fp_gone && (*fpp)->fp_pid != keep)
			return (*fpp)->fp_pid;
	return 0;
}

pid_t
fcscan_find(struct fcscan *fs, const char *id, pid_t keep)
{
	return fcscan_match(fs, id, keep, 0);
}

/*
 * SIGKILL to a process of the scan, if it is still the one scanned
 * (same start time), and wait for it to end.
 */
int
fcscan_kill(struct fcscan *fs, pid_t pid)
{
	struct fcproc		*fp = NULL;
	struct pollfd		 pfd;
	unsigned long long	 start;
	size_t			 i;
	int			 fd, rv = 0;

	for (i = 0; i < fs->fs_n; i++)
		if (fs->fs_procs[i].fp_pid == pid)
			fp = &fs->fs_procs[i];
	if (fp == NULL) {
		errno = ESRCH;
		return -1;
	}
	fp->fp_gone = 1;
	if ((fd = pidfd_open(pid, 0)) == -1)
		return errno == ESRCH ? 0 : -1;
	if (proc_starttime(pid, &start) == -1 || start != fp->fp_start) {
		close(fd);
		return 0;
	}
	if (pidfd_send_signal(fd, SIGKILL, NULL, 0) == -1 && errno != ESRCH)
		rv = -1;
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (rv == 0 && poll(&pfd, 1, KILL_WAIT_MS) != 1) {
		errno = ETIMEDOUT;
		rv = -1;
	}
	close(fd);
	/* Ours after a re-exec: reaped here, or it stays a zombie. */
	(void)waitpid(pid, NULL, WNOHANG);
	return rv;
}

void
fcscan_free(struct fcscan *fs)
{
	if (fs == NULL)
		return;
	free(fs->fs_byroot);
	free(fs->fs_byid);
	free(fs->fs_procs);
	free(fs);
}

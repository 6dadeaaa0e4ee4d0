/*
 * At start, after vmop_restore(): remove what a crash left of VMs the
 * parent has no record of.
 *
 * A VM's objects are named for its id: STATE/disks/ID.ext4, ID.cow and
 * ID.ext4.new, loop devices backed by those files or marked "banger ID
 * DEV:INO" (lo_file_name; DEV:INO is this state directory's, see
 * pvm_loop_mark), the snapshot fc-rootfs-ID, the tap fc-tap-ID (marked
 * with banger's link alias), the jail STATE/jail/firecracker/ID and its
 * Firecracker (a process whose root is the jail), and the cgroup:
 * GROUP/vms/ID where bangerd's cgroup is delegated to it (the tree
 * below is banger's alone), else MOUNT/banger/ID if it carries the
 * extended attribute trusted.banger naming this state directory (every
 * bangerd on the host shares MOUNT/banger).  An id found in any of
 * them is an orphan when STATE/priv holds no record for it: then
 * everything of it goes, its process first, in vm rm's order, each
 * removal logged.  Anything of an id with a record is left to the
 * record (vmop_restore); so is a link without banger's mark, a loop
 * device neither marked nor backed by STATE/disks, an unmarked cgroup,
 * and an id whose Firecracker runs outside its jail (it names the id,
 * but is not in a jail of ours).  Running it twice finds nothing the
 * second time.
 */
#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

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
#include "netops.h"
#include "storage.h"
#include "validate.h"

#define PRIV_DIR	"priv"
#define SYS_BLOCK	"/sys/block"
#define DELETED		" (deleted)"	/* the kernel's, after unlink */
#define CG_MARK		"trusted.banger"	/* jailspawn.c sets it */
#define KILL_WAIT_MS	5000

/* What was found of one id. */
#define SW_DISK		0x01
#define SW_LOOP		0x02
#define SW_TAP		0x04
#define SW_JAIL		0x08
#define SW_CGROUP	0x10

struct sweep_id {
	char	si_id[VM_ID_LEN + 1];
	int	si_found;		/* SW_* */
};

/* What was found, one entry a find; sorted and merged by id at the end. */
struct sweep {
	struct sweep_id	*sw_ids;
	size_t		 sw_n;
	size_t		 sw_cap;
};

static const char *const disk_suffixes[] = {
	DISK_SUFFIX, DISK_COW_SUFFIX, DISK_NEW_SUFFIX
};

static void
sweep_add(struct sweep *sw, const char *id, int what)
{
	struct sweep_id	*si;
	size_t		 cap;

	if (sw->sw_n == sw->sw_cap) {
		cap = sw->sw_cap ? sw->sw_cap * 2 : 256;
		if ((si = reallocarray(sw->sw_ids, cap, sizeof(*si))) == NULL)
			fatal(NULL);
		sw->sw_ids = si;
		sw->sw_cap = cap;
	}
	si = &sw->sw_ids[sw->sw_n++];
	memset(si, 0, sizeof(*si));
	strlcpy(si->si_id, id, sizeof(si->si_id));
	si->si_found = what;
}

static int
sweep_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sweep_id *)a)->si_id,
	    ((const struct sweep_id *)b)->si_id);
}

/* One entry an id, with all that was found of it. */
static void
sweep_merge(struct sweep *sw)
{
	size_t	 i, n = 0;

	if (sw->sw_n == 0)
		return;
	qsort(sw->sw_ids, sw->sw_n, sizeof(*sw->sw_ids), sweep_id_cmp);
	for (i = 0; i < sw->sw_n; i++) {
		if (n > 0 && strcmp(sw->sw_ids[n - 1].si_id,
		    sw->sw_ids[i].si_id) == 0)
			sw->sw_ids[n - 1].si_found |= sw->sw_ids[i].si_found;
		else
			sw->sw_ids[n++] = sw->sw_ids[i];
	}
	sw->sw_n = n;
}

/*
 * The VM id a name in STATE/disks stands for: ID followed by one of the
 * suffixes storage.c uses, nothing else.  The id goes into id.
 */
static int
disk_name_id(const char *name, char *id, size_t idlen)
{
	size_t	 i;

	if (strlen(name) <= VM_ID_LEN ||
	    valid_vm_id(name, VM_ID_LEN, NULL) == -1)
		return -1;
	for (i = 0; i < sizeof(disk_suffixes) / sizeof(disk_suffixes[0]); i++)
		if (strcmp(name + VM_ID_LEN, disk_suffixes[i]) == 0) {
			if (idlen < VM_ID_LEN + 1)
				return -1;
			memcpy(id, name, VM_ID_LEN);
			id[VM_ID_LEN] = '\0';
			return 0;
		}
	return -1;
}

/* Whether the parent has a record of id, in memory or on disk. */
static int
has_record(const char *id)
{
	char	 path[PATH_MAX];

	if (pvm_find(id) != NULL)
		return 1;
	if (snprintf(path, sizeof(path), "%s/%s/%s",
	    env->bd_conf->cf_statedir, PRIV_DIR, id) >= (int)sizeof(path))
		return 1;	/* cannot tell: keep */
	return access(path, F_OK) == 0 || errno != ENOENT;
}

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

static pid_t
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

/* Ids with a file in STATE/disks. */
static void
scan_disks(struct sweep *sw)
{
	char		 dir[PATH_MAX], id[VM_ID_LEN + 1];
	struct dirent	*de;
	DIR		*d;

	snprintf(dir, sizeof(dir), "%s/%s", env->bd_conf->cf_statedir,
	    DISKS_DIR);
	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			log_warn("sweep: %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (disk_name_id(de->d_name, id, sizeof(id)) == 0)
			sweep_add(sw, id, SW_DISK);
	closedir(d);
}

/*
 * The file in STATE/disks behind loop device dev, if that is where it
 * is: its name in name and its id in id.  A file unlinked since it was
 * attached counts (the kernel shows it " (deleted)"); one still there
 * must be the very file the device holds.
 */
static int
loop_disk(const char *dev, char *id, size_t idlen, char *name,
    size_t namelen)
{
	char		 back[PATH_MAX], prefix[PATH_MAX];
	const char	*rest;
	struct stat	 st;
	size_t		 plen, rlen, dlen = sizeof(DELETED) - 1;
	dev_t		 bdev;
	ino_t		 bino;
	int		 deleted = 0;

	if (loop_backing(dev, back, sizeof(back), &bdev, &bino) == -1)
		return -1;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/%s/",
	    env->bd_conf->cf_statedir, DISKS_DIR);
	if (plen >= sizeof(prefix) || strncmp(back, prefix, plen) != 0)
		return -1;
	rest = back + plen;
	rlen = strlen(rest);
	if (rlen > dlen && strcmp(rest + rlen - dlen, DELETED) == 0) {
		deleted = 1;
		rlen -= dlen;
	}
	if (rlen >= namelen)
		return -1;
	memcpy(name, rest, rlen);
	name[rlen] = '\0';
	if (strchr(name, '/') != NULL ||
	    disk_name_id(name, id, idlen) == -1)
		return -1;
	if (!deleted && (snprintf(back, sizeof(back), "%s%s", prefix,
	    name) >= (int)sizeof(back) || lstat(back, &st) == -1 ||
	    st.st_dev != bdev || st.st_ino != bino)) {
		log_warnx("sweep: loop device %s: its file %s%s is not the one "
		    "it holds; left alone", dev, prefix, name);
		return -1;
	}
	return 0;
}

/*
 * Call cb on each attached loop device marked as one of this state
 * directory's VMs' (pvm_loop_mark), or backed by a file in STATE/disks,
 * with the device, the file's name (or its mark) and its VM id.
 */
static void
loop_foreach(void (*cb)(const char *, const char *, const char *, void *),
    void *arg)
{
	char		 dev[LOOP_DEV_MAX], id[VM_ID_LEN + 1], name[NAME_MAX];
	char		 attr[PATH_MAX], mark[LOOP_MARK_MAX], want[LOOP_MARK_MAX];
	struct dirent	*de;
	DIR		*d;
	char		*end;
	unsigned long	 n;

	if ((d = opendir(SYS_BLOCK)) == NULL) {
		log_warn("sweep: %s", SYS_BLOCK);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		errno = 0;
		n = strtoul(de->d_name + 4, &end, 10);
		if (de->d_name[4] == '\0' || *end != '\0' || errno != 0 ||
		    n > LOOP_NUM_MAX)
			continue;
		/* Only attached devices have a backing file. */
		snprintf(attr, sizeof(attr), SYS_BLOCK "/%s/loop/backing_file",
		    de->d_name);
		if (access(attr, F_OK) == -1)
			continue;
		snprintf(dev, sizeof(dev), LOOP_PREFIX "%lu", n);
		/* "banger ID DEV:INO": ours if it ends with our DEV:INO. */
		if (loop_mark(dev, mark, sizeof(mark)) == 0 &&
		    strncmp(mark, "banger ", 7) == 0 &&
		    strlen(mark) > 7 + VM_ID_LEN &&
		    valid_vm_id(mark + 7, VM_ID_LEN, NULL) == 0) {
			memcpy(id, mark + 7, VM_ID_LEN);
			id[VM_ID_LEN] = '\0';
			pvm_loop_mark(id, want, sizeof(want));
			if (strcmp(mark, want) == 0) {
				cb(dev, mark, id, arg);
				continue;
			}
		}
		if (loop_disk(dev, id, sizeof(id), name, sizeof(name)) == 0)
			cb(dev, name, id, arg);
	}
	closedir(d);
}

static void
scan_loop_cb(const char *dev, const char *name, const char *id, void *arg)
{
	sweep_add(arg, id, SW_LOOP);
}

static void
scan_tap_cb(const char *tap, int ours, void *arg)
{
	const char	*id = tap + sizeof(TAP_PREFIX) - 1;

	if (ours)
		sweep_add(arg, id, SW_TAP);
	else if (!has_record(id))
		log_info("sweep: tap %s has no record but not banger's mark "
		    "(alias \"%s\"); left alone", tap, NETOPS_ALIAS);
}

/* Ids with a directory in STATE/jail/firecracker. */
static void
scan_jails(struct sweep *sw)
{
	char		 dir[PATH_MAX];
	struct dirent	*de;
	DIR		*d;

	snprintf(dir, sizeof(dir), "%s/%s/%s", env->bd_conf->cf_statedir,
	    JAIL_DIR, JAIL_EXEC_NAME);
	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			log_warn("sweep: %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (valid_vm_id(de->d_name, strlen(de->d_name), NULL) == 0)
			sweep_add(sw, de->d_name, SW_JAIL);
	closedir(d);
}

/*
 * Ids with a cgroup of ours: in GROUP/vms when delegated, else in
 * MOUNT/banger marked with this state directory (jailspawn.c sets the
 * mark).
 */
static void
scan_cgroups(struct sweep *sw)
{
	const struct cgroup_tree *ct = &env->bd_cgroup;
	const char	*sd = env->bd_conf->cf_statedir;
	char		 dir[PATH_MAX * 2], mark[PATH_MAX];
	struct dirent	*de;
	ssize_t		 n;
	DIR		*d;
	int		 fd;

	if (ct->ct_mode == CGT_NONE)
		return;
	snprintf(dir, sizeof(dir), "%s/%s", ct->ct_mount, ct->ct_parent);
	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			log_warn("sweep: %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR ||
		    valid_vm_id(de->d_name, strlen(de->d_name), NULL) == -1)
			continue;
		if (ct->ct_mode != CGT_DELEGATED) {
			if ((fd = openat(dirfd(d), de->d_name, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
				continue;
			n = fgetxattr(fd, CG_MARK, mark, sizeof(mark) - 1);
			close(fd);
			if (n <= 0)
				continue;
			mark[n] = '\0';
			if (strcmp(mark, sd) != 0)
				continue;
		}
		sweep_add(sw, de->d_name, SW_CGROUP);
	}
	closedir(d);
}

struct loop_detach_arg {
	const char	*lda_id;
	const char	*lda_why;
	int		 lda_rv;
};

static void
detach_cb(const char *dev, const char *name, const char *id, void *arg)
{
	struct loop_detach_arg	*lda = arg;

	if (strcmp(id, lda->lda_id) != 0)
		return;
	if (loop_detach(dev) == -1) {
		lda->lda_rv = -1;
		return;
	}
	if (strncmp(name, "banger ", 7) == 0)
		log_info("sweep: detached loop device %s (marked \"%s\", %s)",
		    dev, name, lda->lda_why);
	else
		log_info("sweep: detached orphan loop device %s (backed by "
		    "%s/%s/%s, %s)", dev, env->bd_conf->cf_statedir, DISKS_DIR,
		    name, lda->lda_why);
}

/*
 * Detach every loop device of id's: marked with its mark, or backed by
 * one of its files in STATE/disks; why says why in the log.  Also for
 * the removal of a VM whose record may not name them all yet (its
 * creation was cut short).
 */
int
sweep_vm_loops(const char *id, const char *why)
{
	struct loop_detach_arg	 lda;

	lda.lda_id = id;
	lda.lda_why = why;
	lda.lda_rv = 0;
	loop_foreach(detach_cb, &lda);
	return lda.lda_rv;
}

/* Remove id's files in STATE/disks, naming each. */
static int
sweep_disk_files(const char *id)
{
	const char	*sd = env->bd_conf->cf_statedir;
	char		 path[PATH_MAX];
	struct stat	 st;
	size_t		 i;
	int		 there[3];

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s%s", sd, DISKS_DIR, id,
		    disk_suffixes[i]);
		there[i] = lstat(path, &st) == 0;
	}
	if (disk_remove(sd, id) == -1)
		return -1;
	for (i = 0; i < 3; i++)
		if (there[i])
			log_info("sweep: removed orphan disk %s/%s/%s%s (no "
			    "record)", sd, DISKS_DIR, id, disk_suffixes[i]);
	return 0;
}

/* Everything of one orphan id, in vm rm's order. */
static void
sweep_one(const struct sweep_id *si)
{
	const char	*sd = env->bd_conf->cf_statedir, *id = si->si_id;
	char		 tap[IFNAMSIZ];

	snprintf(tap, sizeof(tap), "%s%s", TAP_PREFIX, id);
	if (si->si_found & SW_TAP) {
		if (net_tap_delete(tap) == -1)
			log_warn("sweep: orphan tap %s", tap);
		else
			log_info("sweep: removed orphan tap %s (no record)",
			    tap);
	}
	if (si->si_found & SW_JAIL) {
		if (jail_cleanup(sd, id) == -1)
			log_warn("sweep: orphan jail %s/%s/%s/%s", sd,
			    JAIL_DIR, JAIL_EXEC_NAME, id);
		else
			log_info("sweep: removed orphan jail %s/%s/%s/%s (no "
			    "record)", sd, JAIL_DIR, JAIL_EXEC_NAME, id);
	}
	if (si->si_found & SW_CGROUP) {
		const struct cgroup_tree *ct = &env->bd_cgroup;

		if (fc_cgroup_remove(ct->ct_mount, ct->ct_parent, id) == -1)
			log_warn("sweep: orphan cgroup %s/%s/%s", ct->ct_mount,
			    ct->ct_parent, id);
		else
			log_info("sweep: removed orphan cgroup %s/%s/%s (no "
			    "record)", ct->ct_mount, ct->ct_parent, id);
	}
	if (si->si_found & (SW_DISK | SW_LOOP)) {
		/* The snapshot holds the loop devices: it goes first. */
		if (storage_has_dm()) {
			if (snap_remove(id) == -1)
				log_warn("sweep: orphan snapshot %s%s",
				    DM_PREFIX, id);
			else
				log_info("sweep: removed any orphan "
				    "device-mapper snapshot %s%s (no record)",
				    DM_PREFIX, id);
		}
		if (sweep_vm_loops(id, "no record") == -1)
			log_warnx("sweep: vm %s: a loop device is left", id);
		if (sweep_disk_files(id) == -1)
			log_warn("sweep: orphan disk of vm %s", id);
	}
}

/* Temporary records a crash left in STATE/priv (pvm_save's ID.tmp). */
static void
sweep_priv_tmp(void)
{
	char		 dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent	*de;
	DIR		*d;
	size_t		 len;

	snprintf(dir, sizeof(dir), "%s/%s", env->bd_conf->cf_statedir,
	    PRIV_DIR);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len != VM_ID_LEN + 4 ||
		    valid_vm_id(de->d_name, VM_ID_LEN, NULL) == -1 ||
		    strcmp(de->d_name + VM_ID_LEN, ".tmp") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlinkat(dirfd(d), de->d_name, 0) == -1)
			log_warn("sweep: %s", path);
		else
			log_info("sweep: removed %s, an unfinished record",
			    path);
	}
	closedir(d);
}

/*
 * fs: the scan of the processes vmop_restore() made (it started none),
 * freed here.
 */
void
vmop_sweep(struct fcscan *fs)
{
	struct sweep	 sw;
	const char	*id;
	size_t		 i;
	pid_t		 pid;

	memset(&sw, 0, sizeof(sw));
	sweep_priv_tmp();
	scan_disks(&sw);
	loop_foreach(scan_loop_cb, &sw);
	if (net_tap_list(scan_tap_cb, &sw) == -1)
		log_warn("sweep: cannot list the taps");
	scan_jails(&sw);
	scan_cgroups(&sw);
	sweep_merge(&sw);
	for (i = 0; i < sw.sw_n; i++) {
		id = sw.sw_ids[i].si_id;
		if (has_record(id))
			continue;
		/* In our jail and named by no record: nothing justifies it. */
		while ((pid = fcscan_match(fs, id, 0, 1)) > 0) {
			if (fcscan_kill(fs, pid) == -1)
				log_warn("sweep: vm %s: kill its firecracker "
				    "(pid %d)", id, (int)pid);
			else
				log_info("sweep: killed orphan firecracker "
				    "pid %d of vm %s (no record)", (int)pid,
				    id);
		}
		if ((pid = fcscan_match(fs, id, 0, 0)) > 0) {
			log_warnx("sweep: vm %s has no record but a "
			    "firecracker (pid %d) outside its jail names it; "
			    "its jail, disk, tap and cgroup are left", id,
			    (int)pid);
			continue;
		}
		sweep_one(&sw.sw_ids[i]);
	}
	fcscan_free(fs);
	free(sw.sw_ids);
}

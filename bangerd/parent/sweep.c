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

/*
 * What a crash left in STATE/priv: temporary records (vmrecord.c's
 * ID.tmp and ID.run.tmp), and run-time records (ID.run) of VMs with no
 * record.
 */
static void
sweep_priv_tmp(void)
{
	char		 dir[PATH_MAX], path[PATH_MAX * 2], id[VM_ID_LEN + 1];
	struct dirent	*de;
	const char	*sfx, *what;
	DIR		*d;

	snprintf(dir, sizeof(dir), "%s/%s", env->bd_conf->cf_statedir,
	    PRIV_DIR);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) <= VM_ID_LEN ||
		    valid_vm_id(de->d_name, VM_ID_LEN, NULL) == -1)
			continue;
		sfx = de->d_name + VM_ID_LEN;
		strlcpy(id, de->d_name, sizeof(id));
		if (strcmp(sfx, ".tmp") == 0 ||
		    strcmp(sfx, RUN_SUFFIX ".tmp") == 0)
			what = "an unfinished record";
		else if (strcmp(sfx, RUN_SUFFIX) == 0 && pvm_find(id) == NULL)
			what = "the run-time record of no VM";
		else
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlinkat(dirfd(d), de->d_name, 0) == -1)
			log_warn("sweep: %s", path);
		else
			log_info("sweep: removed %s, %s", path, what);
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
	/* Spare taps an earlier run left (a crash; a re-execution). */
	(void)net_spares_clear();
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
	snaps_sweep();
}

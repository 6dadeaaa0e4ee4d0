/*
 * At start, after vmop_restore(): remove what a crash left of VMs the
 * parent has no record of.
 *
 * A VM's objects are named for its id: STATE/disks/ID.ext4, ID.cow and
 * ID.ext4.new, loop devices backed by those files, the snapshot
 * fc-rootfs-ID, the tap fc-tap-ID (marked with banger's link alias) and
 * the jail STATE/jail/firecracker/ID, and, where bangerd's cgroup is
 * delegated to it (so the tree below is banger's alone), the cgroup
 * GROUP/vms/ID.  An id found in any of them is an
 * orphan when STATE/priv holds no record for it and no Firecracker runs
 * for it (its root is the jail, or its argv is a Firecracker's with
 * --id ID): then everything of it goes, in vm rm's order, each removal
 * logged.  Anything of an id with a record, or with a live Firecracker,
 * is left as it is; so is a link without banger's mark and a loop
 * device backed by anything outside STATE/disks, and MOUNT/banger/ID
 * when not delegated (every bangerd on the host shares MOUNT/banger, so
 * an id there may be another's).  Running it twice
 * finds nothing the second time.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bangerd.h"
#include "jail.h"
#include "log.h"
#include "netops.h"
#include "storage.h"
#include "validate.h"

#define PRIV_DIR	"priv"
#define SYS_BLOCK	"/sys/block"
#define DELETED		" (deleted)"	/* the kernel's, after unlink */

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

struct sweep {
	struct sweep_id	*sw_ids;
	size_t		 sw_n;
};

static const char *const disk_suffixes[] = {
	DISK_SUFFIX, DISK_COW_SUFFIX, DISK_NEW_SUFFIX
};

static void
sweep_add(struct sweep *sw, const char *id, int what)
{
	struct sweep_id	*si;
	size_t		 i;

	for (i = 0; i < sw->sw_n; i++)
		if (strcmp(sw->sw_ids[i].si_id, id) == 0) {
			sw->sw_ids[i].si_found |= what;
			return;
		}
	if ((si = reallocarray(sw->sw_ids, sw->sw_n + 1, sizeof(*si))) ==
	    NULL)
		fatal(NULL);
	sw->sw_ids = si;
	si = &sw->sw_ids[sw->sw_n++];
	memset(si, 0, sizeof(*si));
	strlcpy(si->si_id, id, sizeof(si->si_id));
	si->si_found = what;
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
 * A process that is id's Firecracker: its root is id's jail root, or
 * its argv is a Firecracker's with --id ID.  Its pid, or 0 if none.
 */
static pid_t
fc_alive(const char *id)
{
	const char		*sd = env->bd_conf->cf_statedir;
	char			 path[PATH_MAX];
	struct stat		 jst, st;
	struct dirent		*de;
	unsigned long long	 start;
	DIR			*d;
	pid_t			 pid, found = 0;
	int			 havejail;
	char			*end;

	snprintf(path, sizeof(path), "%s/%s/%s/%s/%s", sd, JAIL_DIR,
	    JAIL_EXEC_NAME, id, JAIL_ROOT);
	havejail = lstat(path, &jst) == 0 && S_ISDIR(jst.st_mode);
	if ((d = opendir("/proc")) == NULL) {
		log_warn("sweep: /proc");
		return -1;	/* cannot tell: keep */
	}
	while (found == 0 && (de = readdir(d)) != NULL) {
		errno = 0;
		pid = strtol(de->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root/", (int)pid);
		if (havejail && stat(path, &st) == 0 &&
		    st.st_dev == jst.st_dev && st.st_ino == jst.st_ino)
			found = pid;
		else if (proc_starttime(pid, &start) == 0 &&
		    valid_fc_process(pid, JAILER_ARGV0, id, start, NULL) == 0)
			found = pid;
	}
	closedir(d);
	return found;
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
 * Call cb on each attached loop device backed by a file in STATE/disks,
 * with the device, the file's name and its VM id.
 */
static void
loop_foreach(void (*cb)(const char *, const char *, const char *, void *),
    void *arg)
{
	char		 dev[LOOP_DEV_MAX], id[VM_ID_LEN + 1], name[NAME_MAX];
	char		 attr[PATH_MAX];
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

/* Delegated only: ids with a cgroup in GROUP/vms. */
static void
scan_cgroups(struct sweep *sw)
{
	const struct cgroup_tree *ct = &env->bd_cgroup;
	char		 dir[PATH_MAX * 2];
	struct dirent	*de;
	DIR		*d;

	if (ct->ct_mode != CGT_DELEGATED)
		return;
	snprintf(dir, sizeof(dir), "%s/%s", ct->ct_mount, ct->ct_parent);
	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			log_warn("sweep: %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_DIR &&
		    valid_vm_id(de->d_name, strlen(de->d_name), NULL) == 0)
			sweep_add(sw, de->d_name, SW_CGROUP);
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
	log_info("sweep: detached orphan loop device %s (backed by %s/%s/%s, "
	    "%s)", dev, env->bd_conf->cf_statedir, DISKS_DIR, name,
	    lda->lda_why);
}

/*
 * Detach every loop device backed by one of id's files in STATE/disks;
 * why says why in the log.  Also for restore's undoing of a VM whose
 * creation was cut short (its record may not name them all yet).
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

void
vmop_sweep(void)
{
	struct sweep	 sw;
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
	for (i = 0; i < sw.sw_n; i++) {
		if (has_record(sw.sw_ids[i].si_id))
			continue;
		if ((pid = fc_alive(sw.sw_ids[i].si_id)) != 0) {
			if (pid > 0)
				log_warnx("sweep: vm %s has no record but its "
				    "firecracker (pid %d) runs; its jail, "
				    "disk, tap and cgroup are left", sw.sw_ids[i].si_id,
				    (int)pid);
			continue;
		}
		sweep_one(&sw.sw_ids[i]);
	}
	free(sw.sw_ids);
}

/*
 * The parent's side of each VM: its own record of what it made for the
 * VM (uid, address, tap, disk, loop devices, Firecracker process), and
 * the root operations the vm worker may ask for, each legal only in
 * certain states.  The worker names a VM by its id and an image by its
 * name; every device, path, interface, address and process comes from
 * this record and the configuration, and each is validated again by
 * the module that acts on it.
 *
 * Records live in STATE/priv (root, 0700), one file per VM, written
 * atomically; the parent reads only files it wrote itself.  A record
 * is written, and synced, before anything it owns exists, and its
 * state says what may exist (VMOP_* in proto.h):
 *
 *	CREATING	address lease, disk files, loop devices (marked
 *			with the VM's id), snapshot, tap; all undone at
 *			start
 *	CREATED		address, disk, tap; no process, jail or cgroup
 *	STARTING	and a jail, a cgroup, a Firecracker process found
 *			by its jail or its --id; killed and removed at
 *			start
 *	RUNNING		and the process of the recorded pid and start
 *			time, re-adopted at start
 *	DESTROYING	whatever is left of it; finished at start
 *
 * vmop_restore() drives the host back to the records at every start;
 * the sweep (sweep.c) removes what no record names.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "parent.h"
#include "jail.h"
#include "log.h"
#include "reaper.h"
#include "netops.h"
#include "storage.h"
#include "validate.h"

#define PRIV_DIR	"priv"
#define IMAGES_DIR	"images"

static struct pvms	 pvms = TAILQ_HEAD_INITIALIZER(pvms);
static size_t		 pvm_count;	/* records in pvms */

/*
 * The records by id, and by uid (then id, as two records may name one
 * uid after vm-uids changed): thousands of VMs, and a lookup for every
 * request and every object the sweep finds.
 */
static int
pvm_id_cmp(struct pvm *a, struct pvm *b)
{
	return strcmp(a->pv_id, b->pv_id);
}

static int
pvm_uid_cmp(struct pvm *a, struct pvm *b)
{
	if (a->pv_uid != b->pv_uid)
		return a->pv_uid < b->pv_uid ? -1 : 1;
	return strcmp(a->pv_id, b->pv_id);
}

RB_HEAD(pvm_ids, pvm);
RB_HEAD(pvm_uids, pvm);
RB_PROTOTYPE(pvm_ids, pvm, pv_byid, pvm_id_cmp)
RB_PROTOTYPE(pvm_uids, pvm, pv_byuid, pvm_uid_cmp)
RB_GENERATE(pvm_ids, pvm, pv_byid, pvm_id_cmp)
RB_GENERATE(pvm_uids, pvm, pv_byuid, pvm_uid_cmp)
static struct pvm_ids	 pvm_byid = RB_INITIALIZER(&pvm_byid);
static struct pvm_uids	 pvm_byuid = RB_INITIALIZER(&pvm_byuid);
/* Every uid from uid_from up to uid_next is held (pvm_uid_alloc). */
static uid_t		 uid_from, uid_next;

static void	 pvm_exit_cb(int, short, void *);
static int	 pvm_save(struct pvm *);

struct pvm *
pvm_find(const char *id)
{
	struct pvm	 key;

	if (strlcpy(key.pv_id, id, sizeof(key.pv_id)) >= sizeof(key.pv_id))
		return NULL;
	return RB_FIND(pvm_ids, &pvm_byid, &key);
}

struct pvms *
pvm_list(void)
{
	return &pvms;
}

_Static_assert(BANGER_BOOTARGS_MAX == PROTO_BOOTARGS_MAX,
    "configured and imported boot args travel in the same fields");

/*
 * STATE/images/NAME/boot-args: one line, the whole of it as
 * valid_bootargs() takes it, or the image cannot be used (EILSEQ, err
 * says why): cut short or passed on as it is, the guest would boot with
 * other arguments than the image's, or not at all.
 */
static int
image_bootargs_read(const char *name, const char *path, char *buf,
    size_t size, char *err, size_t errlen)
{
	FILE		*fp;
	char		*line = NULL;
	size_t		 cap = 0, len, off;
	ssize_t		 n;
	const char	*why;
	int		 extra;

	buf[0] = '\0';
	if ((fp = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "image %s: %s: %s", name, path,
		    strerror(errno));
		errno = EILSEQ;
		return -1;
	}
	n = getline(&line, &cap, fp);
	extra = n != -1 && fgetc(fp) != EOF;
	fclose(fp);
	if (n == -1) {
		free(line);
		return 0;
	}
	len = n;
	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (extra)
		snprintf(err, errlen, "image %s: %s: more than one line",
		    name, path);
	else if (len >= size)
		snprintf(err, errlen, "image %s: %s: %zu bytes, more than "
		    "the %zu boot args may have", name, path, len, size - 1);
	else if (valid_bootargs(line, len, &off, &why) == -1)
		snprintf(err, errlen, "image %s: %s: byte 0x%02x at offset "
		    "%zu is %s; Firecracker takes only 0x20 to 0x7e", name,
		    path, (unsigned char)line[off], off, why);
	else {
		memcpy(buf, line, len + 1);
		free(line);
		return 0;
	}
	free(line);
	errno = EILSEQ;
	return -1;
}

/*
 * An image by name: declared in the configuration, or imported into
 * STATE/images/NAME (vmlinux, rootfs.ext4, optional initrd, boot-args).
 * -1 with errno ENOENT if there is none; EILSEQ if its boot-args cannot
 * be used (its files are filled in, err says why).
 */
int
image_resolve(const char *name, struct image_files *img, char *err,
    size_t errlen)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct conf_image	*ci;
	char			 path[PATH_MAX];
	const char		*why;

	memset(img, 0, sizeof(*img));
	if (valid_name(name, strlen(name), &why) == -1) {
		snprintf(err, errlen, "image %s not found", name);
		errno = EINVAL;
		return -1;
	}
	TAILQ_FOREACH(ci, &conf->cf_images, img_entry) {
		if (strcmp(ci->img_name, name) != 0)
			continue;
		strlcpy(img->kernel, ci->img_kernel, sizeof(img->kernel));
		strlcpy(img->initrd, ci->img_initrd, sizeof(img->initrd));
		strlcpy(img->rootfs, ci->img_rootfs, sizeof(img->rootfs));
		strlcpy(img->bootargs, ci->img_bootargs,
		    sizeof(img->bootargs));
		return 0;
	}
	if (snprintf(path, sizeof(path), "%s/%s/%s", conf->cf_statedir,
	    IMAGES_DIR, name) >= (int)sizeof(path) ||
	    access(path, F_OK) == -1) {
		snprintf(err, errlen, "image %s not found", name);
		errno = ENOENT;
		return -1;
	}
	/* Message truncation is fine elsewhere; a truncated path is not. */
	if (snprintf(img->kernel, sizeof(img->kernel), "%s/vmlinux",
	    path) >= (int)sizeof(img->kernel) ||
	    snprintf(img->rootfs, sizeof(img->rootfs), "%s/rootfs.ext4",
	    path) >= (int)sizeof(img->rootfs) ||
	    snprintf(img->initrd, sizeof(img->initrd), "%s/initrd",
	    path) >= (int)sizeof(img->initrd) ||
	    strlcat(path, "/boot-args", sizeof(path)) >= sizeof(path)) {
		snprintf(err, errlen, "image %s: path too long", name);
		errno = ENAMETOOLONG;
		return -1;
	}
	if (access(img->initrd, F_OK) == -1)
		img->initrd[0] = '\0';
	return image_bootargs_read(name, path, img->bootargs,
	    sizeof(img->bootargs), err, errlen);
}

/*
 * The lowest uid of the configured range that no record holds: the
 * held ones in order from the lowest not known to be held, which moves
 * up as uids are taken and down as they are freed (pvm_free), so that
 * one creation after another costs a step or two, not a pass over all.
 */
static int
pvm_uid_alloc(uid_t *uidp)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct pvm		 key, *pv;
	uid_t			 uid;

	if (uid_from != conf->cf_vm_uid_min || uid_next < uid_from) {
		uid_from = conf->cf_vm_uid_min;
		uid_next = uid_from;
	}
	uid = uid_next;
	key.pv_uid = uid;
	key.pv_id[0] = '\0';
	for (pv = RB_NFIND(pvm_uids, &pvm_byuid, &key);
	    pv != NULL && pv->pv_uid <= uid && uid <= conf->cf_vm_uid_max;
	    pv = RB_NEXT(pvm_uids, &pvm_byuid, pv))
		if (pv->pv_uid == uid)
			uid++;
	uid_next = uid;
	if (uid > conf->cf_vm_uid_max) {
		errno = ENOSPC;
		return -1;
	}
	*uidp = uid;
	return 0;
}

static int
priv_path(const char *id, const char *suffix, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%s/%s%s", env->bd_conf->cf_statedir,
	    PRIV_DIR, id, suffix) >= (int)len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A VM's disk path, "" before it has one. */
static const char *
pvm_disk(const struct pvm *pv)
{
	return pv->pv_disk != NULL ? pv->pv_disk : "";
}

/* Its disk path, held for as long as it is (not PATH_MAX per VM). */
static void
pvm_disk_setf(struct pvm *pv, const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	free(pv->pv_disk);
	pv->pv_disk = p[0] != '\0' ? p : NULL;
	if (pv->pv_disk == NULL)
		free(p);
}

/*
 * The record, one write: temp file, fsync, rename.  Once this returns,
 * the state it names survives a crash of the daemon, and the file is
 * never found empty or torn, only older.  With dirsync the rename is
 * synced too (the directory): the state survives a power cut.  That is
 * wanted for the states a power cut must not undo: a new record
 * (creating), created (the client is told) and destroying (resources
 * go next).  Starting and running need not: no VM survives a power
 * cut, and at the next start a record that still says created, or says
 * starting or running with no such process, ends as created (jail and
 * cgroup removed: pvm_restore_one).  pvm_save_all() saves many so, as
 * one group commit.
 */
static int
pvm_record_text(struct pvm *pv, char *buf, size_t size)
{
	size_t	 i;
	int	 n;

	n = snprintf(buf, size, "id %s\nname %s\nimage %s\n"
	    "owner %u\nuid %u\nstate %d\ntap %s\nbackend %s\ndisk %s\n"
	    "disk_size %" PRIu64 "\nloop_origin %s\nloop_cow %s\npid %d\n"
	    "starttime %llu\naddr %u\ncpus %u\nmemory %" PRIu64 "\n"
	    "ended %d\nexit_time %lld\nexit_status %d\n",
	    pv->pv_id, pv->pv_name, pv->pv_image, (unsigned)pv->pv_owner,
	    (unsigned)pv->pv_uid, pv->pv_state, pv->pv_tap, pv->pv_backend,
	    pvm_disk(pv), pv->pv_disk_size, pv->pv_loop_origin,
	    pv->pv_loop_cow, (int)pv->pv_proc.fp_pid,
	    pv->pv_proc.fp_starttime, (unsigned)pv->pv_addr.s_addr,
	    pv->pv_cpus, pv->pv_memory, pv->pv_ended,
	    (long long)pv->pv_exit_time, pv->pv_exit_status);
	for (i = 0; i < pv->pv_npublish && n > 0 && (size_t)n < size; i++)
		n += snprintf(buf + n, size - n, "publish %u %u %u %u\n",
		    pv->pv_publish[i].pp_proto,
		    (unsigned)pv->pv_publish[i].pp_host_addr,
		    pv->pv_publish[i].pp_host_port,
		    pv->pv_publish[i].pp_guest_port);
	if (n < 0 || (size_t)n >= size) {
		log_warnx("vm %s: its record does not fit %zu bytes",
		    pv->pv_id, size);
		errno = EOVERFLOW;
		return -1;
	}
	return n;
}

/*
 * The record into ID.tmp: synced (sync), or with its writeback only
 * started, for pvm_save_all to sync with the others.
 */
static int
pvm_write_tmp(struct pvm *pv, int sync)
{
	char	 tmp[PATH_MAX], buf[4096];
	int	 fd, len, saved;

	if (priv_path(pv->pv_id, ".tmp", tmp, sizeof(tmp)) == -1 ||
	    (len = pvm_record_text(pv, buf, sizeof(buf))) == -1)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("vm %s: %s", pv->pv_id, tmp);
		return -1;
	}
	if (write(fd, buf, len) != len || (sync ? fsync(fd) :
	    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		log_warn("vm %s: write %s", pv->pv_id, tmp);
		return -1;
	}
	close(fd);
	return 0;
}

/* ID.tmp becomes the record. */
static int
pvm_rename_tmp(struct pvm *pv)
{
	char	 path[PATH_MAX], tmp[PATH_MAX];

	if (priv_path(pv->pv_id, "", path, sizeof(path)) == -1 ||
	    priv_path(pv->pv_id, ".tmp", tmp, sizeof(tmp)) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		log_warn("vm %s: rename %s", pv->pv_id, tmp);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* STATE/priv synced: the renames and unlinks in it survive a power cut. */
static int
priv_dir_sync(void)
{
	char	 dir[PATH_MAX];
	int	 dfd, saved;

	snprintf(dir, sizeof(dir), "%s/%s", env->bd_conf->cf_statedir,
	    PRIV_DIR);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		saved = errno;
		if (dfd != -1)
			close(dfd);
		errno = saved;
		log_warn("fsync %s", dir);
		return -1;
	}
	close(dfd);
	return 0;
}

static int
pvm_save_sync(struct pvm *pv, int dirsync)
{
	if (pvm_write_tmp(pv, 1) == -1 || pvm_rename_tmp(pv) == -1)
		return -1;
	if (dirsync && priv_dir_sync() == -1) {
		log_warnx("vm %s: its record's rename is not synced",
		    pv->pv_id);
		return -1;
	}
	return 0;
}

/*
 * pvm_save_sync(pv, 1) for each of n records, with about one sync's
 * cost for them all: every file is written and its writeback started,
 * then each is synced (most of it done by then) and renamed, then the
 * directory is synced once.  errs[i]: 0, or the errno of pvs[i]'s
 * failure (logged).
 */
static void
pvm_save_all(struct pvm **pvs, int *errs, size_t n)
{
	char	 tmp[PATH_MAX];
	size_t	 i, renamed = 0;
	int	 fd, err;

	for (i = 0; i < n; i++)
		errs[i] = pvm_write_tmp(pvs[i], 0) == -1 ? errno : 0;
	for (i = 0; i < n; i++) {
		if (errs[i] != 0)
			continue;
		fd = -1;
		if (priv_path(pvs[i]->pv_id, ".tmp", tmp, sizeof(tmp)) == -1 ||
		    (fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
		    -1 || fsync(fd) == -1) {
			errs[i] = errno ? errno : EIO;
			log_warn("vm %s: sync %s", pvs[i]->pv_id, tmp);
			if (fd != -1)
				close(fd);
			unlink(tmp);
			continue;
		}
		close(fd);
		if (pvm_rename_tmp(pvs[i]) == -1)
			errs[i] = errno ? errno : EIO;
		else
			renamed++;
	}
	if (renamed > 0 && priv_dir_sync() == -1) {
		err = errno ? errno : EIO;
		for (i = 0; i < n; i++)
			if (errs[i] == 0)
				errs[i] = err;
	}
}

/* A record that outlives a power cut only as far as the last sync. */
static int
pvm_save(struct pvm *pv)
{
	return pvm_save_sync(pv, 0);
}

/* A state change, recorded: -1 if it could not be (then logged). */
static int
pvm_set_state(struct pvm *pv, int state)
{
	int	 was = pv->pv_state;

	pv->pv_state = state;
	return pvm_save_sync(pv, state == VMOP_DESTROYING ||
	    (state == VMOP_CREATED && was == VMOP_CREATING));
}

/*
 * The disk belongs to root while the VM is not running: e2fsck's child
 * and the jail give it to the VM's uid only for as long as they need.
 */
static void
pvm_disk_reclaim(struct pvm *pv)
{
	if (pv->pv_disk != NULL && fchownat(AT_FDCWD, pv->pv_disk, 0, 0,
	    AT_SYMLINK_NOFOLLOW) == -1 && errno != ENOENT)
		log_warn("vm %s: chown %s", pv->pv_id, pv->pv_disk);
}

static void
pvm_unlink(struct pvm *pv)
{
	char	 path[PATH_MAX];

	if (priv_path(pv->pv_id, "", path, sizeof(path)) == 0 &&
	    unlink(path) == -1 && errno != ENOENT)
		log_warn("vm %s: unlink %s", pv->pv_id, path);
}

static void
pvm_unsave(struct pvm *pv)
{
	pvm_unlink(pv);
	(void)priv_dir_sync();
}

/*
 * Work the event loop does once the messages and events at hand are
 * dealt with, for all of them together (group commit): removals whose
 * records are saved in one sync (vmop_destroy), and removed records
 * whose directory is synced once before their replies go.
 */
static void
batch_later(struct event *ev, void (*cb)(int, short, void *))
{
	struct timeval	 now = { 0, 0 };

	if (!evtimer_initialized(ev))
		evtimer_set(ev, cb, NULL);
	if (!evtimer_pending(ev, NULL))
		evtimer_add(ev, &now);
}

struct unsaved {
	TAILQ_ENTRY(unsaved)	 us_entry;
	uint32_t		 us_peerid;
	struct vmop_result	 us_vr;
};
static TAILQ_HEAD(, unsaved) unsaved_q = TAILQ_HEAD_INITIALIZER(unsaved_q);
static struct event	 unsaved_ev;
static int		 unsaved_n;	/* unlinks not synced yet */

static void	 vmop_reply(struct worker *, uint32_t, struct vmop_result *,
		    int);

static void
unsaved_run(int fd, short event, void *arg)
{
	struct worker	*w = &env->bd_workers[PROC_VM];
	struct unsaved	*us;

	if (unsaved_n == 0)
		return;
	unsaved_n = 0;
	(void)priv_dir_sync();
	while ((us = TAILQ_FIRST(&unsaved_q)) != NULL) {
		TAILQ_REMOVE(&unsaved_q, us, us_entry);
		vmop_reply(w, us->us_peerid, &us->us_vr, -1);
		free(us);
	}
}

/*
 * pvm_unsave(), and then the reply vr (if any) to the vm worker, with
 * the sync of the directory shared with the other removals at hand.
 */
static void
pvm_unsave_reply(struct pvm *pv, uint32_t peerid, struct vmop_result *vr)
{
	struct unsaved	*us;

	pvm_unlink(pv);
	unsaved_n++;
	if (vr != NULL) {
		if ((us = calloc(1, sizeof(*us))) == NULL)
			fatal(NULL);
		us->us_peerid = peerid;
		us->us_vr = *vr;
		TAILQ_INSERT_TAIL(&unsaved_q, us, us_entry);
	}
	batch_later(&unsaved_ev, unsaved_run);
}

static void
pvm_insert(struct pvm *pv)
{
	if (RB_INSERT(pvm_ids, &pvm_byid, pv) != NULL)
		fatalx("vm %s: two records of it", pv->pv_id);
	RB_INSERT(pvm_uids, &pvm_byuid, pv);
	TAILQ_INSERT_TAIL(&pvms, pv, pv_entry);
	pvm_count++;
}

static void
pvm_free(struct pvm *pv)
{
	RB_REMOVE(pvm_ids, &pvm_byid, pv);
	RB_REMOVE(pvm_uids, &pvm_byuid, pv);
	if (pv->pv_uid >= uid_from && pv->pv_uid < uid_next)
		uid_next = pv->pv_uid;
	TAILQ_REMOVE(&pvms, pv, pv_entry);
	pvm_count--;
	free(pv->pv_disk);
	free(pv);
}

/*
 * The mark each loop device of the VM carries from the moment it is
 * attached (loop.c loop_attach): "banger ID DEV:INO", DEV:INO being
 * the state directory's, so that two bangerds never take each other's.
 */
void
pvm_loop_mark(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "banger %s %llx:%llx", id,
	    (unsigned long long)env->bd_statedev,
	    (unsigned long long)env->bd_stateino);
}

/* Undo whatever exists of the VM's disk; idempotent. */
static int
pvm_disk_remove(struct pvm *pv)
{
	const char	*sd = env->bd_conf->cf_statedir;
	int		 rv = 0;

	if ((strcmp(pv->pv_backend, "dm") == 0 || storage_has_dm()) &&
	    snap_remove(pv->pv_id) == -1)
		rv = -1;
	if (pv->pv_loop_cow[0] != '\0') {
		if (loop_detach(pv->pv_loop_cow) == -1)
			rv = -1;
		else
			pv->pv_loop_cow[0] = '\0';
	}
	if (pv->pv_loop_origin[0] != '\0') {
		if (loop_detach(pv->pv_loop_origin) == -1)
			rv = -1;
		else
			pv->pv_loop_origin[0] = '\0';
	}
	/* Any the record does not name yet: found by their mark. */
	if (sweep_vm_loops(pv->pv_id, "its disk goes") == -1)
		rv = -1;
	if (disk_remove(sd, pv->pv_id) == -1)
		rv = -1;
	return rv;
}

static int
pvm_disk_create(struct pvm *pv, const struct image_files *img,
    uint64_t size, int flags, char *msg, size_t msglen)
{
	const char	*sd = env->bd_conf->cf_statedir, *used = NULL;
	char		 mark[LOOP_MARK_MAX];
	struct stat	 st;
	int		 fd, cowfd = -1, dm;

	if ((fd = open(img->rootfs, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(msg, msglen, "image %s: %s: %s", pv->pv_image,
		    img->rootfs, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "image %s: %s is not a regular file",
		    pv->pv_image, img->rootfs);
		close(fd);
		return -1;
	}
	if (flags & VC_F_DISK_AT_LEAST && size < (uint64_t)st.st_size)
		size = 0;
	if (size != 0 && size < (uint64_t)st.st_size) {
		snprintf(msg, msglen, "disk size %" PRIu64 " is smaller than "
		    "image %s (%lld bytes)", size, pv->pv_image,
		    (long long)st.st_size);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	pv->pv_disk_size = size ? size : (uint64_t)st.st_size;
	dm = strcmp(env->bd_storage, "dm") == 0;

	if (dm) {
		strlcpy(pv->pv_backend, "dm", sizeof(pv->pv_backend));
		/*
		 * Each loop device carries the VM's mark from its first
		 * moment (the origin is backed by the image, outside
		 * STATE/disks); the record names it once attached.
		 */
		pvm_loop_mark(pv->pv_id, mark, sizeof(mark));
		if (pvm_save(pv) == -1 ||
		    loop_attach(fd, 1, mark, pv->pv_loop_origin,
		    sizeof(pv->pv_loop_origin)) == -1 ||
		    pvm_save(pv) == -1 ||
		    disk_cow_create(sd, pv->pv_id, pv->pv_disk_size,
		    &cowfd) == -1 ||
		    loop_attach(cowfd, 0, mark, pv->pv_loop_cow,
		    sizeof(pv->pv_loop_cow)) == -1 ||
		    pvm_save(pv) == -1 ||
		    snap_create(pv->pv_id, pv->pv_loop_origin, pv->pv_loop_cow,
		    pv->pv_disk_size) == -1) {
			snprintf(msg, msglen, "vm %s: device-mapper snapshot: "
			    "%s", pv->pv_id, strerror(errno));
			goto fail;
		}
		pvm_disk_setf(pv, "%s%s%s", DM_DIR, DM_PREFIX, pv->pv_id);
	} else {
		if (disk_create(sd, pv->pv_id, fd, env->bd_conf->cf_storage ==
		    STORAGE_REFLINK ? STORAGE_REFLINK :
		    strcmp(env->bd_storage, "copy") == 0 ? STORAGE_COPY :
		    STORAGE_AUTO, pv->pv_disk_size, &used) == -1) {
			snprintf(msg, msglen, "vm %s: disk: %s", pv->pv_id,
			    strerror(errno));
			goto fail;
		}
		strlcpy(pv->pv_backend, used != NULL &&
		    strcmp(used, "existing") != 0 ? used : env->bd_storage,
		    sizeof(pv->pv_backend));
		pvm_disk_setf(pv, "%s/%s/%s%s", sd, DISKS_DIR, pv->pv_id,
		    DISK_SUFFIX);
	}
	if (cowfd != -1)
		close(cowfd);
	close(fd);
	return 0;
fail:
	if (cowfd != -1)
		close(cowfd);
	close(fd);
	pvm_disk_remove(pv);
	return -1;
}

static void
pvm_result_init(struct pvm *pv, uint32_t op, struct vmop_result *vr)
{
	struct bangerd_config	*conf = env->bd_conf;

	memset(vr, 0, sizeof(*vr));
	strlcpy(vr->vr_id, pv->pv_id, sizeof(vr->vr_id));
	vr->vr_op = op;
	vr->vr_state = pv->pv_state;
	vr->vr_pid = pv->pv_proc.fp_pid;
	vr->vr_uid = pv->pv_uid;
	strlcpy(vr->vr_tap, pv->pv_tap, sizeof(vr->vr_tap));
	strlcpy(vr->vr_image, pv->pv_image, sizeof(vr->vr_image));
	strlcpy(vr->vr_backend, pv->pv_backend, sizeof(vr->vr_backend));
	vr->vr_disk_size = pv->pv_disk_size;
	snprintf(vr->vr_socket, sizeof(vr->vr_socket), "/%s/%s/%s/%s%s",
	    JAIL_DIR, JAIL_EXEC_NAME, pv->pv_id, JAIL_ROOT, JAIL_API_SOCK);
	snprintf(vr->vr_kernel, sizeof(vr->vr_kernel), "/%s", JAIL_KERNEL);
	snprintf(vr->vr_disk, sizeof(vr->vr_disk), "/%s", JAIL_DISK);
	strlcpy(vr->vr_name, pv->pv_name, sizeof(vr->vr_name));
	vr->vr_owner = pv->pv_owner;
	vr->vr_cpus = pv->pv_cpus;
	vr->vr_memory = pv->pv_memory;
	if (pv->pv_addr.s_addr != 0) {
		vr->vr_addr = pv->pv_addr.s_addr;
		vr->vr_prefix = conf->cf_bridge_prefix;
		vr->vr_gateway = conf->cf_bridge_addr.s_addr;
		mac_from_addr(pv->pv_addr, vr->vr_mac);
		strlcpy(vr->vr_domain, conf->cf_domain,
		    sizeof(vr->vr_domain));
	}
	if (pv->pv_ended) {
		vr->vr_flags |= VR_F_ENDED;
		vr->vr_exit_time = pv->pv_exit_time;
		vr->vr_exit_status = pv->pv_exit_status;
	}
}

static void
vmop_reply(struct worker *w, uint32_t peerid, struct vmop_result *vr,
    int fd)
{
	if (w->w_iev == NULL || w->w_state != WORKER_RUNNING) {
		if (fd != -1)
			close(fd);
		return;
	}
	imsg_compose_event(w->w_iev, IMSG_VMOP_RESULT, peerid, 0, fd, vr,
	    sizeof(*vr));
}

static void
vmop_error(struct worker *w, uint32_t peerid, const char *id, uint32_t op,
    int error, const char *msg)
{
	struct vmop_result	 vr;

	memset(&vr, 0, sizeof(vr));
	strlcpy(vr.vr_id, id, sizeof(vr.vr_id));
	vr.vr_op = op;
	vr.vr_error = error ? error : EIO;
	strlcpy(vr.vr_msg, msg, sizeof(vr.vr_msg));
	log_warnx("vm %s: %s", id, msg);
	vmop_reply(w, peerid, &vr, -1);
}

/* The net worker, if it runs: where a VM's address and name go. */
static struct imsgev *
net_iev(void)
{
	struct worker	*net = &env->bd_workers[PROC_NET];

	if (net->w_iev == NULL || net->w_state != WORKER_RUNNING)
		return NULL;
	return net->w_iev;
}

/* Tell the net worker a VM's name and address (0: pick one), or that
 * it is gone.  Without a net worker, its next start learns them all. */
static void
pvm_net_send(struct pvm *pv, uint32_t type)
{
	struct imsgev	*iev;
	struct net_vm	 nv;

	if ((iev = net_iev()) == NULL)
		return;
	memset(&nv, 0, sizeof(nv));
	strlcpy(nv.nv_id, pv->pv_id, sizeof(nv.nv_id));
	strlcpy(nv.nv_name, pv->pv_name, sizeof(nv.nv_name));
	nv.nv_addr = pv->pv_addr.s_addr;
	imsg_compose_event(iev, type, 0, 0, -1, &nv, sizeof(nv));
}

/*
 * Everything of a VM whose record is CREATING or DESTROYING, or that
 * the vm worker asked to destroy: its process must be gone already.
 * The tap, jail, cgroup, disk, loop devices and lease go, then the
 * record.  Idempotent; -1 (logged, record kept) if something stays.
 */
static int	pvm_teardown_local(struct pvm *, char *, size_t);
static void	pvm_reaped(void *, int, const char *);

static int
pvm_teardown(struct pvm *pv, char *msg, size_t len)
{
	char		 tap[IFNAMSIZ];

	snprintf(tap, sizeof(tap), "%s%s", TAP_PREFIX, pv->pv_id);
	/* EPERM: not banger's mark, so never this VM's (create refuses it). */
	if (net_tap_delete(tap) == -1 && errno != EPERM) {
		snprintf(msg, len, "tap %s: %s", tap, strerror(errno));
		return -1;
	}
	if (pvm_teardown_local(pv, msg, len) == -1)
		return -1;
	if (pv->pv_addr.s_addr != 0)
		pvm_net_send(pv, IMSG_NET_RELEASE);
	pvm_unsave(pv);
	return 0;
}

/* What to do once a VM's tap has gone (pvm_teardown_begin). */
enum {
	REAP_NONE,
	REAP_DESTROY,		/* the vm worker's destroy: reply */
	REAP_CREATE_FAIL,	/* a failed creation: its error was sent */
};

/*
 * pvm_teardown(), with the tap deleted by the reaper's thread: the rest
 * goes now, the lease and the record once the tap is gone (pvm_reaped).
 * The VM is busy meanwhile: no request about it is taken.
 */
static int
pvm_teardown_begin(struct pvm *pv, int reaping, char *msg, size_t len)
{
	char	 tap[IFNAMSIZ];

	if (pvm_teardown_local(pv, msg, len) == -1)
		return -1;
	snprintf(tap, sizeof(tap), "%s%s", TAP_PREFIX, pv->pv_id);
	pv->pv_busy = 1;
	pv->pv_reaping = reaping;
	reaper_tap_delete(tap, pvm_reaped, pv);
	return 0;
}

static void
pvm_reaped(void *arg, int error, const char *why)
{
	struct pvm		*pv = arg;
	struct worker		*w = &env->bd_workers[PROC_VM];
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];
	int			 reaping = pv->pv_reaping;

	pv->pv_busy = 0;
	pv->pv_reaping = REAP_NONE;
	if (error != 0) {
		snprintf(msg, sizeof(msg), "cleanup: tap %s%s: %s",
		    TAP_PREFIX, pv->pv_id, why);
		if (reaping == REAP_DESTROY)
			vmop_error(w, pv->pv_peerid, pv->pv_id,
			    IMSG_VMOP_DESTROY, error, msg);
		else {
			/* The record stays CREATING: the next start undoes it. */
			log_warnx("vm %s: its failed creation is not undone "
			    "(%s); the next start of bangerd tries again",
			    pv->pv_id, msg);
			pv->pv_pending = 0;
		}
		return;
	}
	if (pv->pv_addr.s_addr != 0)
		pvm_net_send(pv, IMSG_NET_RELEASE);
	if (reaping == REAP_DESTROY) {
		log_info("vm %s: destroyed", pv->pv_id);
		pvm_result_init(pv, IMSG_VMOP_DESTROY, &vr);
		vr.vr_state = 0;
		pvm_unsave_reply(pv, pv->pv_peerid, &vr);
	} else
		pvm_unsave_reply(pv, 0, NULL);
	pvm_free(pv);
}

/* A VM's jail, cgroup, disk and loop devices go. */
static int
pvm_teardown_local(struct pvm *pv, char *msg, size_t len)
{
	const char	*sd = env->bd_conf->cf_statedir;

	if (jail_cleanup(sd, pv->pv_id) == -1) {
		snprintf(msg, len, "jail: %s", strerror(errno));
		return -1;
	}
	if (env->bd_cgroup.ct_mode != CGT_NONE &&
	    fc_cgroup_remove(env->bd_cgroup.ct_mount,
	    env->bd_cgroup.ct_parent, pv->pv_id) == -1) {
		snprintf(msg, len, "cgroup: %s", strerror(errno));
		return -1;
	}
	if (pvm_disk_remove(pv) == -1) {
		snprintf(msg, len, "disk: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Creation, in two turns.  The record first, "creating", naming who
 * the VM is and its uid; then the net worker is asked for an address;
 * its answer (vmop_net_addr) is recorded before the disk and tap are
 * made.  Whatever a crash leaves of it is named by the record, which
 * vmop_restore() undoes.
 */
int
vmop_create(struct worker *w, uint32_t peerid, const struct vmop_create *vc)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct image_files	 img;
	struct pvm		*pv;
	char			 msg[PROTO_MSG_MAX];

	if (image_resolve(vc->vc_image, &img, msg, sizeof(msg)) == -1) {
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, errno, msg);
		return 0;
	}
	if (net_iev() == NULL) {
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, EAGAIN,
		    "the net worker is restarting; try again");
		return 0;
	}
	if (pvm_count >= (size_t)conf->cf_max_vms) {
		snprintf(msg, sizeof(msg), "bangerd holds %zu VMs, its "
		    "max-vms", pvm_count);
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, ENOSPC, msg);
		return 0;
	}
	if ((pv = calloc(1, sizeof(*pv))) == NULL)
		fatal(NULL);
	strlcpy(pv->pv_id, vc->vc_id, sizeof(pv->pv_id));
	strlcpy(pv->pv_name, vc->vc_name, sizeof(pv->pv_name));
	strlcpy(pv->pv_image, vc->vc_image, sizeof(pv->pv_image));
	strlcpy(pv->pv_proc.fp_vmid, pv->pv_id, sizeof(pv->pv_proc.fp_vmid));
	pv->pv_owner = vc->vc_owner;
	pv->pv_proc.fp_pidfd = -1;
	pv->pv_proc.fp_ptyfd = -1;
	pv->pv_exit_status = -1;
	if (pvm_uid_alloc(&pv->pv_uid) == -1) {
		snprintf(msg, sizeof(msg), "no free uid in vm-uids %u to %u",
		    conf->cf_vm_uid_min, conf->cf_vm_uid_max);
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, ENOSPC, msg);
		free(pv);
		return 0;
	}
	snprintf(pv->pv_tap, sizeof(pv->pv_tap), "%s%s", TAP_PREFIX,
	    pv->pv_id);
	pv->pv_state = VMOP_CREATING;
	if (pvm_save_sync(pv, 1) == -1) {
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, errno,
		    "cannot write its record");
		pvm_unsave(pv);
		free(pv);
		return 0;
	}
	pv->pv_pending = 1;
	pv->pv_peerid = peerid;
	pv->pv_want_size = vc->vc_disk_size;
	pv->pv_want_flags = vc->vc_flags;
	pvm_insert(pv);
	pvm_net_send(pv, IMSG_NET_ALLOC);
	return 0;
}

/* A creation that cannot go on: undone, and its requester told. */
static void
pvm_create_fail(struct pvm *pv, int error, const char *msg)
{
	struct worker	*w = &env->bd_workers[PROC_VM];
	char		 why[PROTO_MSG_MAX];

	/*
	 * Once only: a violation by the net worker fails the creation it
	 * answered, and the net worker's end fails every creation still
	 * waiting on it, this one among them.
	 */
	if (pv->pv_reaping != REAP_NONE)
		return;
	pv->pv_pending = 0;
	vmop_error(w, pv->pv_peerid, pv->pv_id, IMSG_VMOP_CREATE, error, msg);
	if (pvm_teardown_begin(pv, REAP_CREATE_FAIL, why,
	    sizeof(why)) == -1) {
		/* The record stays CREATING: the next start undoes it. */
		log_warnx("vm %s: its failed creation is not undone (%s); "
		    "the next start of bangerd tries again", pv->pv_id, why);
		pv->pv_pending = 0;
	}
}

/* The net worker's answer: the address, checked, then disk and tap. */
int
vmop_net_addr(struct worker *net, const struct net_addr *na)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct worker		*w = &env->bd_workers[PROC_VM];
	struct image_files	 img;
	struct vmop_result	 vr;
	struct pvm		*pv, *other;
	struct net_vm		 nv;
	char			 msg[PROTO_MSG_MAX];
	uint32_t		 mask, a, b;

	if ((pv = pvm_find(na->na_id)) == NULL) {
		/* Its creation was given up (the vm worker went). */
		log_debug("vm %s: address for a creation given up; released",
		    na->na_id);
		memset(&nv, 0, sizeof(nv));
		strlcpy(nv.nv_id, na->na_id, sizeof(nv.nv_id));
		imsg_compose_event(net->w_iev, IMSG_NET_RELEASE, 0, 0, -1, &nv,
		    sizeof(nv));
		return 0;
	}
	if (pv->pv_state != VMOP_CREATING || !pv->pv_pending) {
		parent_worker_violation(net, "vm %s: an address it was not "
		    "asked for", pv->pv_id);
		return -1;
	}
	if (na->na_error) {
		pvm_create_fail(pv, na->na_error, na->na_msg);
		return 0;
	}
	mask = conf->cf_bridge_prefix ? 0xffffffffU <<
	    (32 - conf->cf_bridge_prefix) : 0;
	a = ntohl(na->na_addr);
	b = ntohl(conf->cf_bridge_addr.s_addr);
	if ((a & mask) != (b & mask) || a == b || (a & ~mask) == 0 ||
	    (a & ~mask) == ~mask) {
		parent_worker_violation(net, "vm %s: address %s outside the "
		    "bridge's subnet", pv->pv_id,
		    inet_ntoa(*(const struct in_addr *)&na->na_addr));
		pvm_create_fail(pv, EAGAIN, "the net worker gave a bad "
		    "address; try again");
		return -1;
	}
	/* Each address is one VM's: the records say whose. */
	TAILQ_FOREACH(other, &pvms, pv_entry)
		if (other != pv && other->pv_addr.s_addr == na->na_addr) {
			parent_worker_violation(net, "vm %s: address %s is "
			    "vm %s's", pv->pv_id, inet_ntoa(*(const struct
			    in_addr *)&na->na_addr), other->pv_id);
			pvm_create_fail(pv, EAGAIN, "the net worker gave "
			    "another VM's address; try again");
			return -1;
		}
	pv->pv_pending = 0;
	pv->pv_addr.s_addr = na->na_addr;
	if (pvm_save(pv) == -1) {
		pvm_create_fail(pv, EIO, "cannot write its record");
		return 0;
	}
	if (image_resolve(pv->pv_image, &img, msg, sizeof(msg)) == -1) {
		pvm_create_fail(pv, errno, msg);
		return 0;
	}
	if (pvm_disk_create(pv, &img, pv->pv_want_size, pv->pv_want_flags,
	    msg, sizeof(msg)) == -1) {
		pvm_create_fail(pv, errno, msg);
		return 0;
	}
	if (net_tap_create(pv->pv_tap, conf->cf_bridge, pv->pv_uid,
	    pv->pv_uid) == -1) {
		snprintf(msg, sizeof(msg), "tap %s on %s: %s", pv->pv_tap,
		    conf->cf_bridge, strerror(errno));
		pvm_create_fail(pv, errno, msg);
		return 0;
	}
	if (pvm_set_state(pv, VMOP_CREATED) == -1) {
		pv->pv_state = VMOP_CREATING;
		pvm_create_fail(pv, EIO, "cannot write its record");
		return 0;
	}
	log_info("vm %s: created for uid %u from image %s: uid %u, address %s, "
	    "tap %s, %s disk %s", pv->pv_id, (unsigned)pv->pv_owner,
	    pv->pv_image, (unsigned)pv->pv_uid, inet_ntoa(pv->pv_addr),
	    pv->pv_tap, pv->pv_backend, pvm_disk(pv));
	pvm_result_init(pv, IMSG_VMOP_CREATE, &vr);
	strlcpy(vr.vr_bootargs, img.bootargs, sizeof(vr.vr_bootargs));
	if (img.initrd[0] != '\0')
		snprintf(vr.vr_initrd, sizeof(vr.vr_initrd), "/%s",
		    JAIL_INITRD);
	vmop_reply(w, pv->pv_peerid, &vr, -1);
	return 0;
}

/*
 * A (re)started net worker: it learns every VM's name and address from
 * the records, then that there are no others (its table drops them).
 */
void
vmop_net_sync(struct worker *net)
{
	struct pvm	*pv;

	TAILQ_FOREACH(pv, &pvms, pv_entry)
		if (pv->pv_addr.s_addr != 0 &&
		    pv->pv_state != VMOP_DESTROYING)
			pvm_net_send(pv, IMSG_NET_ALLOC);
	imsg_compose_event(net->w_iev, IMSG_NET_SYNC_END, 0, 0, -1, NULL, 0);
}

/* The net worker ended: creations waiting for its answer fail. */
void
vmop_net_gone(void)
{
	struct pvm	*pv, *tpv;

	TAILQ_FOREACH_SAFE(pv, &pvms, pv_entry, tpv)
		if (pv->pv_state == VMOP_CREATING && pv->pv_pending)
			pvm_create_fail(pv, EAGAIN, "the net worker ended; "
			    "try again");
}

/*
 * The vm worker ended: what it was waiting for is given up.  Creations
 * are undone (no one will provision them), and e2fsck children killed
 * (fsck_done then gives the disk back).
 */
static void	 fsck_cancel_all(void);

void
vmop_vm_gone(void)
{
	struct pvm	*pv, *tpv;

	TAILQ_FOREACH_SAFE(pv, &pvms, pv_entry, tpv)
		if (pv->pv_state == VMOP_CREATING && pv->pv_pending) {
			log_info("vm %s: the vm worker ended while it was "
			    "being created; undoing it", pv->pv_id);
			pvm_create_fail(pv, EIO, "the vm worker ended");
		}
	fsck_cancel_all();
	/* Settled before the next vm worker hears of them. */
	vmop_settle();
}

/*
 * What a failed or interrupted start leaves goes: jail, cgroup, the
 * disk given back to root.  The process must be gone.
 */
static void
pvm_unjail(struct pvm *pv)
{
	const char	*sd = env->bd_conf->cf_statedir;

	if (jail_cleanup(sd, pv->pv_id) == -1)
		log_warn("vm %s: jail cleanup", pv->pv_id);
	if (env->bd_cgroup.ct_mode != CGT_NONE &&
	    fc_cgroup_remove(env->bd_cgroup.ct_mount, env->bd_cgroup.ct_parent,
	    pv->pv_id) == -1)
		log_warn("vm %s: cgroup removal", pv->pv_id);
	pvm_disk_reclaim(pv);
}

/*
 * A start whose Firecracker is being spawned: the child's report is
 * waited for in the event loop (vmop_spawned), then the start goes on.
 */
struct pvm_spawn {
	struct event	 ps_ev;
	int		 ps_fd;
	struct worker	*ps_w;
	uint32_t	 ps_peerid;
	int		 ps_initrd;
	char		 ps_bootargs[PROTO_BOOTARGS_MAX];
};

static void	vmop_spawned(int, short, void *);
static void	vmop_start_fail(struct worker *, uint32_t, struct pvm *,
		    int, const char *);

int
vmop_start(struct worker *w, uint32_t peerid, struct pvm *pv,
    const struct vmop_start *vs)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct image_files	 img;
	struct jail_spec	 js;
	struct pvm_spawn	*ps;
	char			 msg[PROTO_MSG_MAX];
	int			 exefd = -1, reportfd;

	if (image_resolve(pv->pv_image, &img, msg, sizeof(msg)) == -1) {
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_START, errno, msg);
		return 0;
	}
	memset(&js, 0, sizeof(js));
	strlcpy(js.js_statedir, conf->cf_statedir, sizeof(js.js_statedir));
	strlcpy(js.js_vmid, pv->pv_id, sizeof(js.js_vmid));
	js.js_uid = js.js_gid = pv->pv_uid;
	js.js_uid_min = conf->cf_vm_uid_min;
	js.js_uid_max = conf->cf_vm_uid_max;
	strlcpy(js.js_kernel, img.kernel, sizeof(js.js_kernel));
	strlcpy(js.js_initrd, img.initrd, sizeof(js.js_initrd));
	strlcpy(js.js_disk, pvm_disk(pv), sizeof(js.js_disk));
	strlcpy(js.js_jailer, conf->cf_jailer, sizeof(js.js_jailer));
	strlcpy(js.js_firecracker, conf->cf_firecracker,
	    sizeof(js.js_firecracker));
	if (env->bd_cgroup.ct_mode != CGT_NONE) {
		strlcpy(js.js_cgroot, env->bd_cgroup.ct_mount,
		    sizeof(js.js_cgroot));
		strlcpy(js.js_cgparent, env->bd_cgroup.ct_parent,
		    sizeof(js.js_cgparent));
	}
	js.js_cpus = vs->vs_cpus;
	js.js_memory = vs->vs_memory;
	js.js_flags = JAIL_F_CGROUP_PARTIAL;
	strlcpy(js.js_cgmark, conf->cf_statedir, sizeof(js.js_cgmark));

	if (fc_exec_check(conf->cf_jailer[0] ? conf->cf_jailer :
	    conf->cf_firecracker, &exefd) == -1) {
		snprintf(msg, sizeof(msg), "%s cannot be trusted to run: %s",
		    conf->cf_jailer[0] ? conf->cf_jailer :
		    conf->cf_firecracker, strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_START, errno, msg);
		return 0;
	}
	/*
	 * "starting" first: from here a jail, a cgroup and a process may
	 * exist, and a start after a crash looks for them (by the jail
	 * and the --id) before it trusts any of them.
	 */
	pv->pv_cpus = vs->vs_cpus;
	pv->pv_memory = vs->vs_memory;
	pv->pv_npublish = vs->vs_npublish;
	memcpy(pv->pv_publish, vs->vs_publish, sizeof(pv->pv_publish));
	pv->pv_ended = 0;
	if (pvm_set_state(pv, VMOP_STARTING) == -1) {
		snprintf(msg, sizeof(msg), "cannot write its record");
		goto fail;
	}
	if (jail_prepare(&js) == -1 || jail_fifos(conf->cf_statedir,
	    pv->pv_id, pv->pv_uid, env->bd_gid) == -1) {
		snprintf(msg, sizeof(msg), "jail: %s", strerror(errno));
		goto fail;
	}
	if (fc_spawn_start(&js, exefd, &pv->pv_proc, &reportfd) == -1) {
		snprintf(msg, sizeof(msg), "firecracker: %s", strerror(errno));
		goto fail;
	}
	close(exefd);
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		fatal(NULL);
	ps->ps_fd = reportfd;
	ps->ps_w = w;
	ps->ps_peerid = peerid;
	ps->ps_initrd = img.initrd[0] != '\0';
	strlcpy(ps->ps_bootargs, img.bootargs, sizeof(ps->ps_bootargs));
	pv->pv_spawn = ps;
	event_set(&ps->ps_ev, reportfd, EV_READ, vmop_spawned, pv);
	event_add(&ps->ps_ev, NULL);
	return 0;
fail:
	if (exefd != -1)
		close(exefd);
	vmop_start_fail(w, peerid, pv, errno, msg);
	return 0;
}

/* What a failed start leaves goes; the vm worker is told why. */
static void
vmop_start_fail(struct worker *w, uint32_t peerid, struct pvm *pv,
    int error, const char *msg)
{
	pv->pv_proc.fp_pid = 0;
	pv->pv_proc.fp_starttime = 0;
	pv->pv_npublish = 0;
	pvm_unjail(pv);
	if (pvm_set_state(pv, VMOP_CREATED) == -1)
		log_warnx("vm %s: its record still says starting; the next "
		    "start of bangerd checks it", pv->pv_id);
	vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_START, error, msg);
}

/* The child executed Firecracker, or failed to: the start goes on. */
static void
vmop_spawned(int fd, short event, void *arg)
{
	struct pvm		*pv = arg;
	struct pvm_spawn	*ps = pv->pv_spawn;
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];
	int			 ptyfd, status, error;

	pv->pv_spawn = NULL;
	event_del(&ps->ps_ev);
	if (fc_spawn_done(&pv->pv_proc, ps->ps_fd) == -1) {
		error = errno;
		snprintf(msg, sizeof(msg), "firecracker: %s", strerror(error));
		vmop_start_fail(ps->ps_w, ps->ps_peerid, pv, error, msg);
		free(ps);
		return;
	}
	if (pvm_set_state(pv, VMOP_RUNNING) == -1) {
		snprintf(msg, sizeof(msg), "cannot write its record");
		goto kill;
	}
	/* Its ports, or no start: the ruleset stays whole for the others. */
	if (pv->pv_npublish > 0 && priv_nat_rebuild(msg, sizeof(msg)) == -1)
		goto kill;
	event_set(&pv->pv_exit_ev, pv->pv_proc.fp_pidfd, EV_READ,
	    pvm_exit_cb, pv);
	event_add(&pv->pv_exit_ev, NULL);
	log_info("vm %s: firecracker started, pid %d, uid %u", pv->pv_id,
	    (int)pv->pv_proc.fp_pid, (unsigned)pv->pv_uid);

	pvm_result_init(pv, IMSG_VMOP_START, &vr);
	strlcpy(vr.vr_bootargs, ps->ps_bootargs, sizeof(vr.vr_bootargs));
	if (ps->ps_initrd)
		snprintf(vr.vr_initrd, sizeof(vr.vr_initrd), "/%s",
		    JAIL_INITRD);
	/*
	 * The console's master goes to the vm worker, which alone reads
	 * it (root never parses guest output).  We keep a copy only so a
	 * restarted vm worker can have it again (vmop_announce): the
	 * console outlives the worker, and the pty is closed with the VM.
	 */
	ptyfd = -1;
	if (pv->pv_proc.fp_ptyfd != -1 && (ptyfd = fcntl(pv->pv_proc.fp_ptyfd,
	    F_DUPFD_CLOEXEC, 0)) == -1)
		log_warn("vm %s: console", pv->pv_id);
	vmop_reply(ps->ps_w, ps->ps_peerid, &vr, ptyfd);
	free(ps);
	return;
kill:
	error = errno;
	(void)fc_stop(&pv->pv_proc, 0, &status);
	fc_close(&pv->pv_proc);
	vmop_start_fail(ps->ps_w, ps->ps_peerid, pv, error, msg);
	free(ps);
}

/* A spawn under way, finished now (its report waited for). */
void
vmop_spawn_finish(struct pvm *pv)
{
	if (pv->pv_spawn != NULL)
		vmop_spawned(pv->pv_spawn->ps_fd, EV_READ, pv);
}

/* Every spawn under way, finished now. */
void
vmop_spawns_finish(void)
{
	struct pvm	*pv, *tpv;

	TAILQ_FOREACH_SAFE(pv, &pvms, pv_entry, tpv)
		vmop_spawn_finish(pv);
}

/* Firecracker ended: reap it, clean its jail, tell the vm worker. */
static void
pvm_exit_cb(int fd, short event, void *arg)
{
	struct pvm		*pv = arg;
	struct vmop_exited	 ve;
	struct worker		*w = &env->bd_workers[PROC_VM];
	int			 status = -1;

	if (fc_wait(&pv->pv_proc, 0, &status) == -1 && errno == ETIMEDOUT) {
		event_add(&pv->pv_exit_ev, NULL);
		return;
	}
	log_info("vm %s: firecracker (pid %d) ended, status %d", pv->pv_id,
	    (int)pv->pv_proc.fp_pid, status);
	pvm_stopped(pv, status);
	memset(&ve, 0, sizeof(ve));
	strlcpy(ve.ve_id, pv->pv_id, sizeof(ve.ve_id));
	ve.ve_status = status;
	if (w->w_iev != NULL && w->w_state == WORKER_RUNNING)
		imsg_compose_event(w->w_iev, IMSG_VMOP_EXITED, 0, 0, -1, &ve,
		    sizeof(ve));
}

/* The process is gone (status: its wait status, -1 unknown). */
void
pvm_stopped(struct pvm *pv, int status)
{
	if (event_initialized(&pv->pv_exit_ev))
		event_del(&pv->pv_exit_ev);
	fc_close(&pv->pv_proc);
	pv->pv_proc.fp_pid = 0;
	pv->pv_proc.fp_starttime = 0;
	pvm_unjail(pv);
	pv->pv_ended = 1;
	pv->pv_exit_time = time(NULL);
	pv->pv_exit_status = status;
	pv->pv_state = VMOP_CREATED;
	if (pv->pv_npublish > 0) {
		char	 msg[PROTO_MSG_MAX];

		pv->pv_npublish = 0;
		if (priv_nat_rebuild(msg, sizeof(msg)) == -1)
			log_warnx("vm %s: published ports: %s", pv->pv_id,
			    msg);
	}
	(void)pvm_save(pv);
}

int
vmop_socket(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];

	if (pv->pv_state != VMOP_RUNNING) {
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SOCKET, ESRCH,
		    "api socket: its firecracker is not running");
		return 0;
	}
	if (fc_socket_grant(env->bd_conf->cf_statedir, pv->pv_id,
	    env->bd_gid) == -1) {
		/* Not there yet is normal just after start: the worker retries. */
		if (errno != ENOENT) {
			snprintf(msg, sizeof(msg), "api socket: %s",
			    strerror(errno));
			vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SOCKET,
			    errno, msg);
			return 0;
		}
		memset(&vr, 0, sizeof(vr));
		strlcpy(vr.vr_id, pv->pv_id, sizeof(vr.vr_id));
		vr.vr_op = IMSG_VMOP_SOCKET;
		vr.vr_error = ENOENT;
		strlcpy(vr.vr_msg, "api socket not there yet",
		    sizeof(vr.vr_msg));
		vmop_reply(w, peerid, &vr, -1);
		return 0;
	}
	pvm_result_init(pv, IMSG_VMOP_SOCKET, &vr);
	vmop_reply(w, peerid, &vr, -1);
	return 0;
}

int
vmop_signal(struct worker *w, uint32_t peerid, struct pvm *pv, int sig)
{
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];

	/* A VM that already stopped needs no signal (the exit may race). */
	if (pv->pv_state == VMOP_RUNNING &&
	    fc_signal(&pv->pv_proc, sig) == -1) {
		snprintf(msg, sizeof(msg), "signal %d: %s", sig,
		    strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SIGNAL, errno, msg);
		return 0;
	}
	log_info("vm %s: signal %d", pv->pv_id, sig);
	pvm_result_init(pv, IMSG_VMOP_SIGNAL, &vr);
	vmop_reply(w, peerid, &vr, -1);
	return 0;
}

int
vmop_disk(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];
	int			 fd;

	if (disk_open(env->bd_conf->cf_statedir, pv->pv_id, &fd) == -1) {
		snprintf(msg, sizeof(msg), "disk: %s", strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_DISK, errno, msg);
		return 0;
	}
	pvm_result_init(pv, IMSG_VMOP_DISK, &vr);
	vmop_reply(w, peerid, &vr, fd);
	return 0;
}

/*
 * A removal: "destroying" recorded (and synced) first, then the VM's
 * objects go (pvm_teardown_begin), the reply once its tap is gone.  The
 * removals asked for together (a prune) are recorded together, in one
 * group commit (vmop_destroys_run); meanwhile the VM is busy.
 */
static TAILQ_HEAD(, pvm)	 destroy_q = TAILQ_HEAD_INITIALIZER(destroy_q);
static struct event		 destroy_ev;

static void
vmop_destroys_run(int fd, short event, void *arg)
{
	struct worker	*w = &env->bd_workers[PROC_VM];
	struct pvm	**all, **save, *pv;
	char		 msg[PROTO_MSG_MAX], why[PROTO_MSG_MAX];
	size_t		 n = 0, m = 0, i, j;
	int		*errs, *was;

	TAILQ_FOREACH(pv, &destroy_q, pv_batch)
		n++;
	if (n == 0)
		return;
	if ((all = calloc(n, sizeof(*all))) == NULL ||
	    (save = calloc(n, sizeof(*save))) == NULL ||
	    (errs = calloc(n, sizeof(*errs))) == NULL ||
	    (was = calloc(n, sizeof(*was))) == NULL)
		fatal(NULL);
	for (i = 0; (pv = TAILQ_FIRST(&destroy_q)) != NULL; i++) {
		TAILQ_REMOVE(&destroy_q, pv, pv_batch);
		all[i] = pv;
		/* A removal cut short is finished: its record says so. */
		if (pv->pv_state == VMOP_DESTROYING)
			continue;
		was[m] = pv->pv_state;
		pv->pv_state = VMOP_DESTROYING;
		save[m++] = pv;
	}
	pvm_save_all(save, errs, m);
	for (i = 0, j = 0; i < n; i++) {
		pv = all[i];
		pv->pv_busy = 0;
		if (j < m && save[j] == pv && errs[j] != 0) {
			pv->pv_state = was[j++];
			vmop_error(w, pv->pv_peerid, pv->pv_id,
			    IMSG_VMOP_DESTROY, EIO, "cannot write its record");
			continue;
		}
		if (j < m && save[j] == pv)
			j++;
		if (pvm_teardown_begin(pv, REAP_DESTROY, why,
		    sizeof(why)) == -1) {
			snprintf(msg, sizeof(msg), "cleanup: %s", why);
			vmop_error(w, pv->pv_peerid, pv->pv_id,
			    IMSG_VMOP_DESTROY, errno, msg);
		}
		/* The reply comes when the tap is gone (pvm_reaped). */
	}
	free(all);
	free(save);
	free(errs);
	free(was);
}

int
vmop_destroy(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	pv->pv_peerid = peerid;
	pv->pv_busy = 1;
	TAILQ_INSERT_TAIL(&destroy_q, pv, pv_batch);
	batch_later(&destroy_ev, vmop_destroys_run);
	return 0;
}

/*
 * Everything under way finished now, for a vm worker that ended or a
 * bangerd that stops: spawns, removals waiting to be recorded, taps
 * waiting to go, and the records they leave to remove.
 */
void
vmop_settle(void)
{
	vmop_spawns_finish();
	if (evtimer_initialized(&destroy_ev))
		evtimer_del(&destroy_ev);
	vmop_destroys_run(-1, EV_TIMEOUT, NULL);
	reaper_drain();
	if (evtimer_initialized(&unsaved_ev))
		evtimer_del(&unsaved_ev);
	unsaved_run(-1, EV_TIMEOUT, NULL);
}

/*
 * Tell a (re)started vm worker about every VM the parent holds; it
 * reconciles its records with these at IMSG_VMOP_KNOWN_END.  Queued
 * only: the event loop writes them as the worker reads.
 */
void
vmop_announce(struct worker *w)
{
	struct vmop_result	 vr;
	struct pvm		*pv;
	int			 fd;

	TAILQ_FOREACH(pv, &pvms, pv_entry) {
		pvm_result_init(pv, IMSG_VMOP_KNOWN, &vr);
		/* A running VM's console, again (see vmop_start). */
		fd = -1;
		if (pv->pv_state == VMOP_RUNNING && pv->pv_proc.fp_ptyfd != -1 &&
		    (fd = fcntl(pv->pv_proc.fp_ptyfd, F_DUPFD_CLOEXEC, 0)) == -1)
			log_warn("vm %s: console", pv->pv_id);
		if (imsg_compose_event(w->w_iev, IMSG_VMOP_KNOWN, 0, 0, fd, &vr,
		    sizeof(vr)) == -1 && fd != -1)
			close(fd);
	}
	imsg_compose_event(w->w_iev, IMSG_VMOP_KNOWN_END, 0, 0, -1, NULL, 0);
}

/* The VM defaults from the configuration, for the vm worker. */
void
vm_defaults_send(struct worker *w)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct vm_defaults	 vd;

	if (w->w_iev == NULL || w->w_state != WORKER_RUNNING)
		return;
	memset(&vd, 0, sizeof(vd));
	vd.vd_cpus = conf->cf_def_cpus;
	vd.vd_max_vms = conf->cf_max_vms;
	vd.vd_memory = conf->cf_def_memory;
	vd.vd_disk = conf->cf_def_disk;
	imsg_compose_event(w->w_iev, IMSG_VM_DEFAULTS, 0, 0, -1, &vd,
	    sizeof(vd));
}

static int
record_field(FILE *fp, struct pvm *pv)
{
	char		 line[PATH_MAX + 64], *val;

	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((val = strchr(line, ' ')) == NULL) {
			/* An empty value: "tap " is "tap" here. */
			if (line[0] == '\0')
				return -1;
			val = line + strlen(line);
		} else
			*val++ = '\0';
		if (strcmp(line, "id") == 0)
			strlcpy(pv->pv_id, val, sizeof(pv->pv_id));
		else if (strcmp(line, "name") == 0)
			strlcpy(pv->pv_name, val, sizeof(pv->pv_name));
		else if (strcmp(line, "image") == 0)
			strlcpy(pv->pv_image, val, sizeof(pv->pv_image));
		else if (strcmp(line, "owner") == 0)
			pv->pv_owner = strtoul(val, NULL, 10);
		else if (strcmp(line, "uid") == 0)
			pv->pv_uid = strtoul(val, NULL, 10);
		else if (strcmp(line, "state") == 0)
			pv->pv_state = atoi(val);
		else if (strcmp(line, "tap") == 0)
			strlcpy(pv->pv_tap, val, sizeof(pv->pv_tap));
		else if (strcmp(line, "backend") == 0)
			strlcpy(pv->pv_backend, val, sizeof(pv->pv_backend));
		else if (strcmp(line, "disk") == 0)
			pvm_disk_setf(pv, "%s", val);
		else if (strcmp(line, "disk_size") == 0)
			pv->pv_disk_size = strtoull(val, NULL, 10);
		else if (strcmp(line, "loop_origin") == 0)
			strlcpy(pv->pv_loop_origin, val,
			    sizeof(pv->pv_loop_origin));
		else if (strcmp(line, "loop_cow") == 0)
			strlcpy(pv->pv_loop_cow, val, sizeof(pv->pv_loop_cow));
		else if (strcmp(line, "pid") == 0)
			pv->pv_proc.fp_pid = atoi(val);
		else if (strcmp(line, "starttime") == 0)
			pv->pv_proc.fp_starttime = strtoull(val, NULL, 10);
		else if (strcmp(line, "addr") == 0)
			pv->pv_addr.s_addr = strtoul(val, NULL, 10);
		else if (strcmp(line, "cpus") == 0)
			pv->pv_cpus = strtoul(val, NULL, 10);
		else if (strcmp(line, "memory") == 0)
			pv->pv_memory = strtoull(val, NULL, 10);
		else if (strcmp(line, "ended") == 0)
			pv->pv_ended = atoi(val) != 0;
		else if (strcmp(line, "exit_time") == 0)
			pv->pv_exit_time = strtoll(val, NULL, 10);
		else if (strcmp(line, "exit_status") == 0)
			pv->pv_exit_status = atoi(val);
		else if (strcmp(line, "publish") == 0 &&
		    pv->pv_npublish < PROTO_PUBLISH_MAX) {
			struct proto_publish	*pp =
			    &pv->pv_publish[pv->pv_npublish];
			unsigned		 pr, ha, hp, gp;

			if (sscanf(val, "%u %u %u %u", &pr, &ha, &hp,
			    &gp) != 4)
				return -1;
			pp->pp_proto = pr;
			pp->pp_host_addr = ha;
			pp->pp_host_port = hp;
			pp->pp_guest_port = gp;
			pv->pv_npublish++;
		}
	}
	return 0;
}

/*
 * Before re-executing after an update: each running VM's console master
 * stays open across the exec, named in buf as "ID:FD,...", for
 * vmop_restore to take back.  What does not fit is closed with the exec.
 */
void
vmop_consoles_keep(char *buf, size_t len)
{
	struct pvm	*pv;
	char		 one[PROTO_VMID_MAX + 16];
	int		 flags;

	buf[0] = '\0';
	TAILQ_FOREACH(pv, &pvms, pv_entry) {
		if (pv->pv_state != VMOP_RUNNING || pv->pv_proc.fp_ptyfd == -1)
			continue;
		snprintf(one, sizeof(one), "%s%s:%d", buf[0] ? "," : "",
		    pv->pv_id, pv->pv_proc.fp_ptyfd);
		if (strlcat(buf, one, len) >= len) {
			buf[strlen(buf) - strlen(one)] = '\0';
			log_warnx("vm %s: console not kept across the re-exec",
			    pv->pv_id);
			continue;
		}
		if ((flags = fcntl(pv->pv_proc.fp_ptyfd, F_GETFD)) == -1 ||
		    fcntl(pv->pv_proc.fp_ptyfd, F_SETFD, flags & ~FD_CLOEXEC) ==
		    -1)
			log_warn("vm %s: console", pv->pv_id);
	}
}

/*
 * After a re-exec: the consoles the bangerd before us kept ("ID:FD,...",
 * see vmop_consoles_keep).  An fd is taken only if it is a pty master
 * and names a VM re-adopted as running; every other one listed is
 * closed.  Nothing else about the string is trusted.
 */
static void
consoles_adopt(const char *list)
{
	struct stat	 st;
	struct pvm	*pv;
	char		*dup, *p, *tok, *colon, *end;
	const char	*why;
	long		 fd;

	if (list == NULL || (dup = strdup(list)) == NULL)
		return;
	for (p = dup; (tok = strsep(&p, ",")) != NULL; ) {
		if ((colon = strchr(tok, ':')) == NULL)
			continue;
		*colon++ = '\0';
		errno = 0;
		fd = strtol(colon, &end, 10);
		if (errno != 0 || *end != '\0' || fd <= STDERR_FILENO ||
		    fd > 65535 || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
			continue;
		pv = valid_vm_id(tok, strlen(tok), &why) == 0 ?
		    pvm_find(tok) : NULL;
		if (pv == NULL || pv->pv_state != VMOP_RUNNING ||
		    pv->pv_proc.fp_pidfd == -1 || pv->pv_proc.fp_ptyfd != -1 ||
		    fstat(fd, &st) == -1 || !S_ISCHR(st.st_mode) ||
		    major(st.st_rdev) != 5 || minor(st.st_rdev) != 2) {
			log_warnx("console fd %ld for vm %s not taken", fd,
			    tok);
			close(fd);
			continue;
		}
		pv->pv_proc.fp_ptyfd = fd;
		log_info("vm %s: console kept across the re-exec", pv->pv_id);
	}
	free(dup);
}

/* Read one record of STATE/priv; NULL (logged) if it is not whole. */
static struct pvm *
pvm_load(const char *dir, const char *id)
{
	char		 path[PATH_MAX * 2];
	struct pvm	*pv;
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	if ((fp = fopen(path, "re")) == NULL) {
		log_warn("vm %s: %s", id, path);
		return NULL;
	}
	if ((pv = calloc(1, sizeof(*pv))) == NULL)
		fatal(NULL);
	pv->pv_proc.fp_pidfd = -1;
	pv->pv_proc.fp_ptyfd = -1;
	pv->pv_exit_status = -1;
	if (record_field(fp, pv) == -1 || strcmp(pv->pv_id, id) != 0 ||
	    pv->pv_state < VMOP_CREATED || pv->pv_state > VMOP_DESTROYING) {
		log_warnx("vm %s: unreadable record %s, ignored", id, path);
		fclose(fp);
		free(pv->pv_disk);
		free(pv);
		return NULL;
	}
	fclose(fp);
	strlcpy(pv->pv_proc.fp_vmid, pv->pv_id, sizeof(pv->pv_proc.fp_vmid));
	return pv;
}

/*
 * A Firecracker of this VM that its record does not account for (its
 * root is the VM's jail, or its argv names the VM's id), and whatever
 * else runs in the jail: killed.
 */
static void
pvm_kill_unrecorded(struct fcscan *fs, struct pvm *pv)
{
	pid_t	 pid;

	while ((pid = fcscan_find(fs, pv->pv_id, 0)) > 0) {
		log_warnx("vm %s: firecracker pid %d runs though its record "
		    "(%s) does not account for it; killing it", pv->pv_id,
		    (int)pid, pvm_state_name(pv->pv_state));
		if (fcscan_kill(fs, pid) == -1)
			log_warn("vm %s: kill pid %d", pv->pv_id, (int)pid);
	}
}

/*
 * One record at start, driven to what its state allows (see the top of
 * the file).  Returns 0 if the record stays, -1 if it went.
 */
static int
pvm_restore_one(struct fcscan *fs, struct pvm *pv)
{
	char	 why[PROTO_MSG_MAX];

	switch (pv->pv_state) {
	case VMOP_CREATING:
	case VMOP_DESTROYING:
		pvm_kill_unrecorded(fs, pv);
		log_info("vm %s: its %s was interrupted; %s it", pv->pv_id,
		    pv->pv_state == VMOP_CREATING ? "creation" : "removal",
		    pv->pv_state == VMOP_CREATING ? "undoing" : "finishing");
		if (pvm_teardown(pv, why, sizeof(why)) == -1) {
			log_warnx("vm %s: not all of it could be removed "
			    "(%s); its record stays for the next start",
			    pv->pv_id, why);
			return 0;
		}
		log_info("vm %s: removed (tap, disk, address and record)",
		    pv->pv_id);
		return -1;
	case VMOP_STARTING:
		/* Nothing of it was told to boot: its process goes. */
		pvm_kill_unrecorded(fs, pv);
		pvm_unjail(pv);
		pv->pv_proc.fp_pid = 0;
		pv->pv_proc.fp_starttime = 0;
		pv->pv_npublish = 0;
		pv->pv_ended = 0;
		log_info("vm %s: its start was interrupted; stopped", pv->pv_id);
		(void)pvm_set_state(pv, VMOP_CREATED);
		return 0;
	case VMOP_RUNNING:
		/*
		 * argv[0] is "firecracker" in our jail and "/firecracker"
		 * in the jailer's: this matches both.
		 */
		if (fc_adopt(JAILER_ARGV0, pv->pv_id, pv->pv_proc.fp_pid,
		    pv->pv_proc.fp_starttime, &pv->pv_proc.fp_pidfd) == 0) {
			/* Others in its jail are its own (a VMM's helpers). */
			event_set(&pv->pv_exit_ev, pv->pv_proc.fp_pidfd,
			    EV_READ, pvm_exit_cb, pv);
			event_add(&pv->pv_exit_ev, NULL);
			log_info("vm %s: re-adopted firecracker pid %d",
			    pv->pv_id, (int)pv->pv_proc.fp_pid);
			return 0;
		}
		log_info("vm %s: firecracker pid %d ended while bangerd was "
		    "not running", pv->pv_id, (int)pv->pv_proc.fp_pid);
		pvm_kill_unrecorded(fs, pv);
		pvm_stopped(pv, -1);
		return 0;
	default:
		pvm_kill_unrecorded(fs, pv);
		pvm_unjail(pv);
		return 0;
	}
}

/*
 * At start: read our records back and drive the host to them: adopt
 * each Firecracker that is still the process we started (same argv and
 * start time), finish or undo what a crash cut short, and note the VMs
 * whose Firecracker ended meanwhile.  After a re-exec, take back the
 * consoles the previous bangerd kept open.  Returns the scan of the
 * processes it made, for the sweep (vmop_sweep) to use and free: one
 * pass over /proc for both.
 */
struct fcscan *
vmop_restore(const char *consoles)
{
	const char	*sd = env->bd_conf->cf_statedir, *why;
	char		 dir[PATH_MAX];
	struct dirent	*de;
	struct fcscan	*fs;
	struct pvm	*pv, *tpv;
	DIR		*d;
	size_t		 n = 0;

	snprintf(dir, sizeof(dir), "%s/%s", sd, PRIV_DIR);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
	if ((d = opendir(dir)) == NULL)
		fatal("%s", dir);
	while ((de = readdir(d)) != NULL) {
		if (valid_vm_id(de->d_name, strlen(de->d_name), &why) == -1)
			continue;
		if ((pv = pvm_load(dir, de->d_name)) == NULL)
			continue;
		pvm_insert(pv);
		n++;
	}
	closedir(d);
	fs = fcscan_new();
	TAILQ_FOREACH_SAFE(pv, &pvms, pv_entry, tpv)
		if (pvm_restore_one(fs, pv) == -1)
			pvm_free(pv);
	consoles_adopt(consoles);
	log_info("%zu VM records read", n);
	return fs;
}

/*
 * Recorded VMs' taps that are missing (a reboot) are made again, and
 * any not as its creation left it is put right (net_taps_ensure: one
 * look at all the links, not one round of requests a tap).
 */
void
vmop_taps_ensure(void)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct pvm		*pv, **pvs;
	const char		**taps;
	uid_t			*uids;
	int			*errs;
	size_t			 n = 0, i;

	if ((pvs = calloc(pvm_count + 1, sizeof(*pvs))) == NULL ||
	    (taps = calloc(pvm_count + 1, sizeof(*taps))) == NULL ||
	    (uids = calloc(pvm_count + 1, sizeof(*uids))) == NULL ||
	    (errs = calloc(pvm_count + 1, sizeof(*errs))) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(pv, &pvms, pv_entry) {
		if (pv->pv_state != VMOP_CREATED &&
		    pv->pv_state != VMOP_RUNNING)
			continue;
		pvs[n] = pv;
		taps[n] = pv->pv_tap;
		uids[n++] = pv->pv_uid;
	}
	(void)net_taps_ensure(conf->cf_bridge, taps, uids, errs, n);
	for (i = 0; i < n; i++)
		if (errs[i] != 0)
			log_warnx("vm %s: tap %s: %s", pvs[i]->pv_id, taps[i],
			    strerror(errs[i]));
	free(pvs);
	free(taps);
	free(uids);
	free(errs);
}

const char *
pvm_state_name(int state)
{
	switch (state) {
	case VMOP_CREATING:
		return "creating";
	case VMOP_CREATED:
		return "created";
	case VMOP_STARTING:
		return "starting";
	case VMOP_RUNNING:
		return "running";
	case VMOP_DESTROYING:
		return "destroying";
	}
	return "unknown";
}

/*
 * e2fsck -p on a VM's root disk, before it boots.  The parent opens the
 * disk and hands it to a child that runs e2fsck as the VM's own uid and
 * gid, with no privileges, so root never parses the guest's file system.
 * The child dies with the parent (PR_SET_PDEATHSIG), and is killed when
 * the vm worker that asked goes: nothing checks a disk no one waits for.
 */
#define E2FSCK		"/sbin/e2fsck"
#define FSCK_OUT_MAX	(PROTO_MSG_MAX - 64)

struct fsck_job {
	TAILQ_ENTRY(fsck_job) fj_entry;
	struct pvm	*fj_pv;
	struct worker	*fj_w;
	uint32_t	 fj_peerid;
	pid_t		 fj_pid;
	int		 fj_pidfd;
	int		 fj_outfd;
	int		 fj_cancelled;
	char		 fj_out[FSCK_OUT_MAX];
	size_t		 fj_outlen;
	struct event	 fj_ev;
};
static TAILQ_HEAD(, fsck_job) fsck_jobs = TAILQ_HEAD_INITIALIZER(fsck_jobs);

static void
fsck_done(int fd, short event, void *arg)
{
	struct fsck_job		*fj = arg;
	struct vmop_result	 vr;
	ssize_t			 n;
	int			 status = 0;

	/* Drain what it said, then reap it. */
	while (fj->fj_outlen < sizeof(fj->fj_out) - 1 &&
	    (n = read(fj->fj_outfd, fj->fj_out + fj->fj_outlen,
	    sizeof(fj->fj_out) - 1 - fj->fj_outlen)) > 0)
		fj->fj_outlen += n;
	fj->fj_out[fj->fj_outlen] = '\0';
	if (waitpid(fj->fj_pid, &status, 0) == -1)
		status = -1;
	TAILQ_REMOVE(&fsck_jobs, fj, fj_entry);
	close(fj->fj_pidfd);
	close(fj->fj_outfd);
	pvm_disk_reclaim(fj->fj_pv);
	fj->fj_pv->pv_busy = 0;
	if (fj->fj_cancelled) {
		log_info("vm %s: e2fsck -p stopped: no one waits for it",
		    fj->fj_pv->pv_id);
		free(fj);
		return;
	}

	pvm_result_init(fj->fj_pv, IMSG_VMOP_FSCK, &vr);
	/* e2fsck: 0 clean, 1 errors corrected; 4 and up are failures. */
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) >= 2) {
		vr.vr_error = EIO;
		snprintf(vr.vr_msg, sizeof(vr.vr_msg), "e2fsck -p failed "
		    "(%s %d): %s", WIFEXITED(status) ? "status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    WTERMSIG(status), fj->fj_out);
		log_warnx("vm %s: %s", fj->fj_pv->pv_id, vr.vr_msg);
	} else {
		snprintf(vr.vr_msg, sizeof(vr.vr_msg), "e2fsck -p: %s",
		    WEXITSTATUS(status) == 1 ? "errors corrected" : "clean");
		log_info("vm %s: %s", fj->fj_pv->pv_id, vr.vr_msg);
	}
	vmop_reply(fj->fj_w, fj->fj_peerid, &vr, -1);
	free(fj);
}

static void
fsck_cancel_all(void)
{
	struct fsck_job	*fj;

	TAILQ_FOREACH(fj, &fsck_jobs, fj_entry) {
		fj->fj_cancelled = 1;
		if (pidfd_send_signal(fj->fj_pidfd, SIGKILL, NULL, 0) == -1 &&
		    errno != ESRCH)
			log_warn("vm %s: kill e2fsck", fj->fj_pv->pv_id);
	}
}

int
vmop_fsck(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	struct fsck_job	*fj;
	char		 msg[PROTO_MSG_MAX];
	int		 disk, p[2];
	pid_t		 pid, ppid = getpid();
	gid_t		 gid = pv->pv_uid;

	if (disk_open(env->bd_conf->cf_statedir, pv->pv_id, &disk) == -1) {
		snprintf(msg, sizeof(msg), "disk: %s", strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_FSCK, errno, msg);
		return 0;
	}
	/* e2fsck opens /dev/fd/3 again: the VM's uid must own the disk. */
	if (fchown(disk, pv->pv_uid, gid) == -1 ||
	    pipe2(p, O_CLOEXEC) == -1) {
		snprintf(msg, sizeof(msg), "disk: %s", strerror(errno));
		close(disk);
		pvm_disk_reclaim(pv);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_FSCK, errno, msg);
		return 0;
	}
	switch (pid = fork()) {
	case -1:
		snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
		close(disk);
		close(p[0]);
		close(p[1]);
		pvm_disk_reclaim(pv);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_FSCK, errno, msg);
		return 0;
	case 0:
		if (dup2(disk, 3) == -1 || dup2(p[1], 1) == -1 ||
		    dup2(p[1], 2) == -1)
			_exit(8);
		closefrom(4);
		if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
		    setresuid(pv->pv_uid, pv->pv_uid, pv->pv_uid) == -1 ||
		    /* Not to outlive us (we give its disk back to root);
		     * set after the uid changes, which clear it. */
		    prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != ppid ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
		    fsck_filter() == -1)
			_exit(8);
		execle(E2FSCK, "e2fsck", "-p", "/dev/fd/3", (char *)NULL,
		    (char *[]){ "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL });
		_exit(8);
	}
	close(disk);
	close(p[1]);
	if ((fj = calloc(1, sizeof(*fj))) == NULL)
		fatal(NULL);
	fj->fj_pv = pv;
	fj->fj_w = w;
	fj->fj_peerid = peerid;
	fj->fj_pid = pid;
	fj->fj_outfd = p[0];
	if ((fj->fj_pidfd = pidfd_open(pid, 0)) == -1)
		fatal("pidfd_open");
	pv->pv_busy = 1;
	TAILQ_INSERT_TAIL(&fsck_jobs, fj, fj_entry);
	event_set(&fj->fj_ev, fj->fj_pidfd, EV_READ, fsck_done, fj);
	event_add(&fj->fj_ev, NULL);
	return 0;
}

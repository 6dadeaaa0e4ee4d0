/*
 * Snapshots of VMs, the parent's side: the records, the files, and the
 * checks on what a VMM wrote.  The vm worker drives the VMM through a
 * snapshot (vm/snapshot.c); each step here is one of its requests.
 *
 * Layout:
 *
 *	STATE/snapshots/		root, 0700: no worker, no VM reaches it
 *	STATE/snapshots/VMID/NAME/	root, 0700
 *	    vmstate			the VMM's state, root:VM 0440
 *	    memory			the guest's memory, root:VM 0440
 *	    disk			the root disk, root 0600
 *
 * Records first.  A snapshot is in its VM's record (STATE/priv/VMID)
 * before anything of it exists, "creating" (PSNAP_CREATING), and is
 * "ready" only once its three files are synced; a removal records
 * "removing" before the files go.  At start a snapshot found creating
 * or removing is dropped from the record, and the sweep removes what no
 * ready snapshot names (snaps_sweep).
 *
 * BEGIN (the VM paused by the vm worker): the record, then the disk
 * copied in a child (a reflink, else a sparse copy), so the event loop
 * never waits on a copy; the VM is busy meanwhile.  END: Firecracker has
 * written SNAP_JAIL_STATE and SNAP_JAIL_MEM inside its jail as the VM's
 * uid.  Each is renamed out of the jail's run/ (opened without following
 * a symlink) into the snapshot's directory, then opened there with
 * O_NOFOLLOW and taken only if it is a regular file of the VM's uid with
 * one link and no larger than it may be (the memory file the VM's memory
 * and at most 16 MiB more: Firecracker's is the memory exactly, the
 * qemu stand-in's a migration stream); then it is made root's, group
 * the VM's own gid, 0440: its VMM may read it at a restore (vm restore
 * links both into its jail), no other VM's may, and none may change it.
 * The parent never reads what they hold.
 *
 * RESTORE (vmsnaprest.c; the VM stopped): the snapshot's disk copied
 * over the VM's in a child of snap_job_start()'s (DISK.new, then
 * renamed over it); then a start with VS_F_RESTORE links the
 * snapshot's two files into the new jail (snap_jail_link) for PUT
 * /snapshot/load.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parent.h"
#include "log.h"
#include "storage.h"
#include "validate.h"
#include "vmsnap.h"

struct snap_job {
	struct pvm	*sj_pv;
	uint32_t	 sj_op;		/* SNAP_BEGIN: copy out; RESTORE: in */
	char		 sj_name[BANGER_NAME_MAX];
	uint32_t	 sj_peerid;
	pid_t		 sj_pid;
	int		 sj_pipe;
	struct event	 sj_ev;
	struct snap_res	 sj_res;
	int		 sj_have_res;
};

struct psnap *
psnap_find(struct pvm *pv, const char *name)
{
	size_t	 i;

	for (i = 0; i < pv->pv_nsnaps; i++)
		if (strcmp(pv->pv_snaps[i].ps_name, name) == 0)
			return &pv->pv_snaps[i];
	return NULL;
}

/* Whether a snapshot of pv is being taken. */
int
psnap_creating(struct pvm *pv)
{
	size_t	 i;

	for (i = 0; i < pv->pv_nsnaps; i++)
		if (pv->pv_snaps[i].ps_state == PSNAP_CREATING)
			return 1;
	return 0;
}

/* A snapshot added to pv's record (in memory: the caller saves it). */
int
psnap_add(struct pvm *pv, const char *name, int state)
{
	struct psnap	*ps;

	if (pv->pv_nsnaps >= PROTO_SNAP_MAX) {
		errno = ENOSPC;
		return -1;
	}
	if ((ps = reallocarray(pv->pv_snaps, pv->pv_nsnaps + 1,
	    sizeof(*ps))) == NULL)
		fatal(NULL);
	pv->pv_snaps = ps;
	ps += pv->pv_nsnaps++;
	memset(ps, 0, sizeof(*ps));
	strlcpy(ps->ps_name, name, sizeof(ps->ps_name));
	ps->ps_state = state;
	strlcpy(ps->ps_how, "-", sizeof(ps->ps_how));
	return 0;
}

void
psnap_drop(struct pvm *pv, const char *name)
{
	struct psnap	*ps;
	size_t		 i;

	if ((ps = psnap_find(pv, name)) == NULL)
		return;
	i = ps - pv->pv_snaps;
	memmove(ps, ps + 1, (pv->pv_nsnaps - i - 1) * sizeof(*ps));
	if (--pv->pv_nsnaps == 0) {
		free(pv->pv_snaps);
		pv->pv_snaps = NULL;
	}
}

const char *
psnap_state_name(int state)
{
	switch (state) {
	case PSNAP_CREATING:
		return "creating";
	case PSNAP_READY:
		return "ready";
	case PSNAP_REMOVING:
		return "removing";
	}
	return "unknown";
}

/*
 * Open STATE/snapshots (making it if create), never through a symlink,
 * and make it root's and 0700; then, with id, STATE/snapshots/ID the
 * same way.  Fails with ENOENT if it is not there and create is not
 * set.
 */
int
snaps_dir_open(const char *id, int create)
{
	const char	*sd = env->bd_conf->cf_statedir;
	const char	*names[2] = { SNAPS_DIR, id };
	struct stat	 st;
	int		 fd, nfd, i, saved_errno;

	if ((fd = open(sd, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("snapshots: %s", sd);
		return -1;
	}
	for (i = 0; i < 2 && names[i] != NULL; i++) {
		if (create && mkdirat(fd, names[i], 0700) == -1 &&
		    errno != EEXIST) {
			log_warn("snapshots: mkdir %s", names[i]);
			goto fail;
		}
		if ((nfd = openat(fd, names[i], O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1) {
			if (errno != ENOENT)
				log_warn("snapshots: %s", names[i]);
			goto fail;
		}
		close(fd);
		fd = nfd;
		if (fstat(fd, &st) == -1 ||
		    ((st.st_uid != 0 || st.st_gid != 0) &&
		    fchown(fd, 0, 0) == -1) ||
		    ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) == -1)) {
			log_warn("snapshots: %s", names[i]);
			goto fail;
		}
	}
	return fd;
fail:
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return -1;
}

/*
 * STATE/snapshots/ID/NAME (a snapshot) or, with id NULL,
 * STATE/snapshots/NAME (a VM's), and what is in it, removed; missing is
 * fine.
 */
int
snaps_tree_remove(const char *id, const char *name)
{
	char	 shown[PATH_MAX];
	int	 fd, rv;

	if ((fd = snaps_dir_open(id, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	snprintf(shown, sizeof(shown), "%s/%s%s%s", env->bd_conf->cf_statedir,
	    SNAPS_DIR, id != NULL ? "/" : "", id != NULL ? id : "");
	rv = tree_remove("snapshot", fd, shown, name);
	if (rv == 0)
		(void)fsync(fd);
	close(fd);
	return rv;
}

static int	jail_run_open(struct pvm *);

/*
 * What the VMM wrote in its jail for a snapshot, removed (a VMM that
 * writes them after this leaves them until the next snapshot, or until
 * its jail goes).
 */
static void
jail_snap_files_remove(struct pvm *pv)
{
	int	 rfd;

	if ((rfd = jail_run_open(pv)) == -1)
		return;
	(void)unlinkat(rfd, SNAP_JAIL_STATE + sizeof("/run"), 0);
	(void)unlinkat(rfd, SNAP_JAIL_MEM + sizeof("/run"), 0);
	close(rfd);
}

/*
 * A snapshot being taken, given up: its files, then its entry in the
 * record (a crash between the two leaves "creating", dropped at start).
 */
static void
psnap_give_up(struct pvm *pv, const char *name)
{
	jail_snap_files_remove(pv);
	if (snaps_tree_remove(pv->pv_id, name) == -1) {
		log_warn("vm %s: snapshot %s: its files stay until the next "
		    "start", pv->pv_id, name);
		return;
	}
	psnap_drop(pv, name);
	(void)pvm_save_sync(pv);
}

/*
 * The VM's jail root: STATE/jail/firecracker/ID root's all the way (a
 * symlink nowhere), then root/, which Firecracker's jailer gives the
 * VM's uid (so only O_NOFOLLOW, not root's ownership, is asked of it
 * and what is below it).
 */
int
jail_root_open(struct pvm *pv)
{
	char	 dir[PATH_MAX], shown[PATH_MAX];
	int	 vfd, fd;

	snprintf(dir, sizeof(dir), "%s/%s/%s/%s", env->bd_conf->cf_statedir,
	    JAIL_DIR, JAIL_EXEC_NAME, pv->pv_id);
	snprintf(shown, sizeof(shown), "%s/%s", dir, JAIL_ROOT);
	if ((vfd = walk_dir("snapshot", dir, WALK_SECURE | WALK_QUIET)) == -1)
		return -1;
	fd = open_dir_at("snapshot", vfd, shown, JAIL_ROOT, WALK_QUIET);
	close(vfd);
	return fd;
}

/* The VM's jail's run/, where its VMM writes the snapshot. */
static int
jail_run_open(struct pvm *pv)
{
	char	 shown[PATH_MAX];
	int	 rfd, fd;

	snprintf(shown, sizeof(shown), "%s/%s/%s/%s/%s/run",
	    env->bd_conf->cf_statedir, JAIL_DIR, JAIL_EXEC_NAME, pv->pv_id,
	    JAIL_ROOT);
	if ((rfd = jail_root_open(pv)) == -1)
		return -1;
	fd = open_dir_at("snapshot", rfd, shown, "run", WALK_QUIET);
	close(rfd);
	return fd;
}

/*
 * The VM's disk, to copy: its device-mapper snapshot, or its file in
 * STATE/disks, which a VM that has run owns (a regular file of root or
 * of the VM's uid, opened without following a symlink; its one other
 * link is the jail's rootfs, in a directory of root's).
 */
int
snap_disk_open(struct pvm *pv, int *fdp)
{
	struct stat	 st;
	int		 fd;

	if (strcmp(pv->pv_backend, "dm") == 0)
		return disk_open(env->bd_conf->cf_statedir, pv->pv_id, fdp);
	if ((fd = open(pvm_disk(pv), O_RDONLY | O_NOFOLLOW | O_NOCTTY |
	    O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink > 2 || (st.st_uid != 0 && st.st_uid != pv->pv_uid)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	*fdp = fd;
	return 0;
}

/* disk_sparse_copy_cb()'s: a report every SNAP_PROGRESS_STEP. */
static int
snap_copy_progress(uint64_t done, uint64_t total, void *arg)
{
	struct snap_copy	*sc = arg;
	struct snap_res		 sr;

	if (done - sc->sc_last < SNAP_PROGRESS_STEP && done != total)
		return 0;
	sc->sc_last = done;
	memset(&sr, 0, sizeof(sr));
	sr.sr_bytes = done;
	sr.sr_total = total;
	(void)write(sc->sc_out, &sr, sizeof(sr));
	return 0;
}

/*
 * A disk child's start: its title, its end with the parent's, the
 * parent's signals undone, and its report (sr, to be sent at its end)
 * and progress (sc) on out.
 */
void
snap_child_begin(int out, struct snap_res *sr, struct snap_copy *sc,
    const char *fmt, ...)
{
	char	 title[128];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(title, sizeof(title), fmt, ap);
	va_end(ap);
	setproctitle("%s", title);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	parent_signals_child();
	memset(sr, 0, sizeof(*sr));
	sr->sr_done = 1;
	strlcpy(sr->sr_how, "reflink", sizeof(sr->sr_how));
	sc->sc_out = out;
	sc->sc_last = 0;
}

/*
 * dst made a copy of src: a reflink if src is a regular file and the
 * file system makes one, else a sparse copy that reports its progress
 * (with sc; the parent's own copies, without, report none); sr_how is
 * set to "copy" if it was one.  -1 (errno) if neither.
 */
int
snap_copy(int src, int dst, struct snap_res *sr, struct snap_copy *sc)
{
	struct stat	 st;

	if (fstat(src, &st) == 0 && S_ISREG(st.st_mode) &&
	    disk_reflink(src, dst) == 0)
		return 0;
	strlcpy(sr->sr_how, "copy", sizeof(sr->sr_how));
	return disk_sparse_copy_cb(src, dst, sc != NULL ? snap_copy_progress :
	    NULL, sc);
}

static __attribute__((__noreturn__)) void
snap_disk_child(int out, struct pvm *pv, const char *name, int dirfd)
{
	struct snap_copy sc;
	struct snap_res	 sr;
	int		 src = -1, dst = -1;

	snap_child_begin(out, &sr, &sc, "snapshot %s of vm %s: disk", name,
	    pv->pv_id);
	if (snap_disk_open(pv, &src) == -1) {
		snprintf(sr.sr_msg, sizeof(sr.sr_msg), "its disk %s: %s",
		    pvm_disk(pv), strerror(errno));
		goto fail;
	}
	if ((dst = openat(dirfd, SNAP_F_DISK, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		snprintf(sr.sr_msg, sizeof(sr.sr_msg), "%s: %s", SNAP_F_DISK,
		    strerror(errno));
		goto fail;
	}
	if (snap_copy(src, dst, &sr, &sc) == -1) {
		snprintf(sr.sr_msg, sizeof(sr.sr_msg), "copying its disk: %s",
		    strerror(errno));
		goto fail;
	}
	if (fsync(dst) == -1) {
		snprintf(sr.sr_msg, sizeof(sr.sr_msg), "%s: fsync: %s",
		    SNAP_F_DISK, strerror(errno));
		goto fail;
	}
	(void)write(out, &sr, sizeof(sr));
	_exit(0);
fail:
	sr.sr_error = errno ? errno : EIO;
	(void)write(out, &sr, sizeof(sr));
	_exit(1);
}

static void
snap_job_free(struct pvm *pv)
{
	struct snap_job	*sj = pv->pv_snapjob;
	int		 status;

	if (sj == NULL)
		return;
	event_del(&sj->sj_ev);
	close(sj->sj_pipe);
	while (waitpid(sj->sj_pid, &status, 0) == -1 && errno == EINTR)
		;
	pv->pv_snapjob = NULL;
	pv->pv_busy = 0;
	free(sj);
}

/* The disk copy's end: BEGIN (or RESTORE) answered. */
static void
snap_job_read(int fd, short event, void *arg)
{
	struct snap_job		*sj = arg;
	struct pvm		*pv = sj->sj_pv;
	struct worker		*w = &env->bd_workers[PROC_VM];
	struct vmop_result	 vr;
	struct vmop_progress	 vp;
	struct snap_res		 res;
	struct psnap		*ps;
	struct stat		 st;
	uint32_t		 op;
	char			 name[BANGER_NAME_MAX], msg[PROTO_MSG_MAX];
	uint32_t		 peerid = sj->sj_peerid;
	ssize_t			 n;
	int			 sfd;

	if ((n = read(fd, &res, sizeof(res))) == (ssize_t)sizeof(res)) {
		if (!res.sr_done) {
			/* How far: for the client, through the vm worker. */
			memset(&vp, 0, sizeof(vp));
			strlcpy(vp.vp_id, pv->pv_id, sizeof(vp.vp_id));
			vp.vp_done = res.sr_bytes;
			vp.vp_total = res.sr_total;
			if (w->w_iev != NULL && w->w_state == WORKER_RUNNING)
				imsg_compose_event(w->w_iev,
				    IMSG_VMOP_PROGRESS, 0, 0, -1, &vp,
				    sizeof(vp));
			return;
		}
		res.sr_msg[sizeof(res.sr_msg) - 1] = '\0';
		res.sr_how[sizeof(res.sr_how) - 1] = '\0';
		sj->sj_res = res;
		sj->sj_have_res = 1;
		return;
	}
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	strlcpy(name, sj->sj_name, sizeof(name));
	if (!sj->sj_have_res) {
		sj->sj_res.sr_error = EIO;
		strlcpy(sj->sj_res.sr_msg, "the disk copy ended without a "
		    "result", sizeof(sj->sj_res.sr_msg));
	}
	/* The job goes: what is left of it is ours. */
	res = sj->sj_res;
	op = sj->sj_op;
	snap_job_free(pv);
	if (op == IMSG_VMOP_RESTORE) {
		if (res.sr_error != 0) {
			vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_RESTORE,
			    res.sr_error, res.sr_msg);
			return;
		}
		log_info("vm %s: its disk put back from snapshot %s (%s)",
		    pv->pv_id, name, res.sr_how);
		pvm_result_init(pv, IMSG_VMOP_RESTORE, &vr);
		vmop_reply(w, peerid, &vr, -1);
		return;
	}
	if ((ps = psnap_find(pv, name)) == NULL || res.sr_error != 0) {
		snprintf(msg, sizeof(msg), "%s", res.sr_error != 0 ?
		    res.sr_msg : "it is no longer recorded");
		psnap_give_up(pv, name);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SNAP_BEGIN,
		    res.sr_error ? res.sr_error : EIO, msg);
		return;
	}
	strlcpy(ps->ps_how, res.sr_how, sizeof(ps->ps_how));
	if ((sfd = snap_dir_open(pv, name)) != -1) {
		if (fstatat(sfd, SNAP_F_DISK, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			ps->ps_disk = st.st_size;
			ps->ps_disk_alloc = st.st_blocks * 512ULL;
		}
		close(sfd);
	}
	log_debug("vm %s: snapshot %s: disk by %s", pv->pv_id, name,
	    ps->ps_how);
	pvm_result_init(pv, IMSG_VMOP_SNAP_BEGIN, &vr);
	vmop_reply(w, peerid, &vr, -1);
}

/*
 * A child for the disk: the snapshot's copy of it (SNAP_BEGIN) or the
 * VM's put back (RESTORE); fd is the snapshot's directory.  The VM is
 * busy until it ends (snap_job_read).  -1 with msg if none started.
 */
int
snap_job_start(struct pvm *pv, uint32_t peerid, const char *name,
    uint32_t op, int fd, char *msg, size_t len)
{
	struct snap_job	*sj;
	int		 p[2], saved;
	pid_t		 pid;

	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(msg, len, "pipe: %s", strerror(errno));
		return -1;
	}
	switch (pid = fork()) {
	case -1:
		saved = errno;
		snprintf(msg, len, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		errno = saved;
		return -1;
	case 0:
		close(p[0]);
		if (op == IMSG_VMOP_RESTORE)
			restore_disk_child(p[1], pv, name, fd);
		snap_disk_child(p[1], pv, name, fd);
	}
	close(p[1]);
	if ((sj = calloc(1, sizeof(*sj))) == NULL)
		fatal(NULL);
	sj->sj_pv = pv;
	sj->sj_op = op;
	strlcpy(sj->sj_name, name, sizeof(sj->sj_name));
	sj->sj_peerid = peerid;
	sj->sj_pid = pid;
	sj->sj_pipe = p[0];
	pv->pv_snapjob = sj;
	pv->pv_busy = 1;
	event_set(&sj->sj_ev, sj->sj_pipe, EV_READ | EV_PERSIST,
	    snap_job_read, sj);
	event_add(&sj->sj_ev, NULL);
	return 0;
}

/* A VM's snapshot directory NAME, opened; -1 (errno) if not. */
int
snap_dir_open(struct pvm *pv, const char *name)
{
	int	 dfd, sfd;

	if ((dfd = snaps_dir_open(pv->pv_id, 0)) == -1)
		return -1;
	sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	close(dfd);
	return sfd;
}

/* Room in STATE for a snapshot of pv: 0, or -1 with msg. */
static int
snap_space(struct pvm *pv, char *msg, size_t len)
{
	struct statvfs	 sv;
	struct stat	 st;
	uint64_t	 need, avail, disk;

	if (statvfs(env->bd_conf->cf_statedir, &sv) == -1) {
		snprintf(msg, len, "%s: %s", env->bd_conf->cf_statedir,
		    strerror(errno));
		return -1;
	}
	/*
	 * A reflink shares the disk's blocks: it costs what later changes.
	 * A sparse copy of a disk file costs its blocks; of a device, all.
	 */
	if (strcmp(pv->pv_backend, "reflink") == 0)
		disk = 0;
	else if (strcmp(pv->pv_backend, "dm") != 0 &&
	    stat(pvm_disk(pv), &st) == 0)
		disk = (uint64_t)st.st_blocks * 512;
	else
		disk = pv->pv_disk_size;
	need = pv->pv_memory * MIB + disk + SNAP_SPACE_SLACK;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (avail < need) {
		snprintf(msg, len, "not enough space: a snapshot needs about "
		    "%" PRIu64 " MiB (%" PRIu64 " MiB of memory, %" PRIu64
		    " MiB of disk, %llu MiB to spare), and %s has %" PRIu64
		    " MiB free", need / MIB, pv->pv_memory, disk / MIB,
		    SNAP_SPACE_SLACK / MIB, env->bd_conf->cf_statedir,
		    avail / MIB);
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

/*
 * BEGIN: the snapshot recorded "creating", its directory made, and its
 * disk copied by a child; the answer comes at the copy's end.  priv.c
 * has checked that the VM runs, is not busy and takes no other
 * snapshot, and the name.
 */
int
vmop_snap_begin(struct worker *w, uint32_t peerid, struct pvm *pv,
    const char *name)
{
	struct psnap	*ps;
	char		 msg[PROTO_MSG_MAX], shown[PATH_MAX];
	int		 dfd = -1, sfd = -1, error;

	if (psnap_find(pv, name) != NULL) {
		snprintf(msg, sizeof(msg), "vm %s already has a snapshot %s",
		    pv->pv_name, name);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SNAP_BEGIN, EEXIST,
		    msg);
		return 0;
	}
	if (pv->pv_nsnaps >= PROTO_SNAP_MAX) {
		snprintf(msg, sizeof(msg), "vm %s has %zu snapshots, the most "
		    "a VM may have: remove one (bangerctl vm snapshot rm)",
		    pv->pv_name, pv->pv_nsnaps);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SNAP_BEGIN, ENOSPC,
		    msg);
		return 0;
	}
	if (snap_space(pv, msg, sizeof(msg)) == -1) {
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SNAP_BEGIN, errno,
		    msg);
		return 0;
	}
	(void)psnap_add(pv, name, PSNAP_CREATING);
	ps = psnap_find(pv, name);
	ps->ps_created = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &ps->ps_t0);
	if (pvm_save_sync(pv) == -1) {
		psnap_drop(pv, name);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SNAP_BEGIN, EIO,
		    "cannot write its record");
		return 0;
	}
	error = EIO;
	/* What an earlier attempt may have left, here and in the jail. */
	snprintf(shown, sizeof(shown), "%s/%s/%s", env->bd_conf->cf_statedir,
	    SNAPS_DIR, pv->pv_id);
	if ((dfd = snaps_dir_open(pv->pv_id, 1)) == -1 ||
	    tree_remove("snapshot", dfd, shown, name) == -1 ||
	    mkdirat(dfd, name, 0700) == -1 ||
	    (sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		error = errno ? errno : EIO;
		snprintf(msg, sizeof(msg), "%s/%s: %s", shown, name,
		    strerror(error));
		goto fail;
	}
	jail_snap_files_remove(pv);
	if (snap_job_start(pv, peerid, name, IMSG_VMOP_SNAP_BEGIN, sfd, msg,
	    sizeof(msg)) == -1) {
		error = errno;
		goto fail;
	}
	close(sfd);
	close(dfd);
	log_info("vm %s: snapshot %s: begun", pv->pv_id, name);
	return 0;
fail:
	if (sfd != -1)
		close(sfd);
	if (dfd != -1)
		close(dfd);
	psnap_give_up(pv, name);
	vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SNAP_BEGIN, error, msg);
	return 0;
}

/*
 * One of the VMM's files, renamed from the jail's run/ into the
 * snapshot's directory and taken there if it is what it must be.
 * Its size in *sizep.  -1 with msg if not (then it is removed).
 */
static int
snap_take(struct pvm *pv, int runfd, const char *from, int sfd,
    const char *to, uint64_t min, uint64_t max, uint64_t *sizep, char *msg,
    size_t len)
{
	struct stat	 st;
	int		 fd;

	if (renameat(runfd, from, sfd, to) == -1) {
		if (errno == ENOENT)
			snprintf(msg, len, "firecracker wrote no /run/%s",
			    from);
		else
			snprintf(msg, len, "/run/%s: %s", from,
			    strerror(errno));
		return -1;
	}
	if ((fd = openat(sfd, to, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC)) == -1) {
		snprintf(msg, len, "/run/%s: %s", from, errno == ELOOP ?
		    "a symlink" : strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(msg, len, "/run/%s: %s", from, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != pv->pv_uid ||
	    st.st_nlink != 1) {
		snprintf(msg, len, "/run/%s is not a regular file of the "
		    "VM's uid %u with one link", from, (unsigned)pv->pv_uid);
		goto fail;
	}
	if ((uint64_t)st.st_size < min || (uint64_t)st.st_size > max) {
		snprintf(msg, len, "/run/%s is %jd bytes; %" PRIu64 " to %"
		    PRIu64 " expected", from, (intmax_t)st.st_size, min, max);
		goto fail;
	}
	if (fchown(fd, 0, pv->pv_uid) == -1 || fchmod(fd, 0440) == -1 ||
	    fsync(fd) == -1) {
		snprintf(msg, len, "/run/%s: %s", from, strerror(errno));
		goto fail;
	}
	close(fd);
	*sizep = st.st_size;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	(void)unlinkat(sfd, to, 0);
	errno = EPERM;
	return -1;
}

/*
 * END: the VMM's files taken out of its jail and checked, and the
 * snapshot recorded "ready"; or, with SN_F_FAILED, given up.  priv.c
 * has checked that the snapshot is being created and its disk copied.
 */
int
vmop_snap_end(struct worker *w, uint32_t peerid, struct pvm *pv,
    const char *name, uint32_t flags)
{
	struct vmop_result	 vr;
	struct psnap		*ps = psnap_find(pv, name);
	struct timespec		 now;
	char			 msg[PROTO_MSG_MAX];
	uint64_t		 mem;
	int			 dfd = -1, sfd = -1, runfd = -1;

	if (flags & SN_F_FAILED) {
		log_info("vm %s: snapshot %s: given up", pv->pv_id, name);
		psnap_give_up(pv, name);
		pvm_result_init(pv, IMSG_VMOP_SNAP_END, &vr);
		vmop_reply(w, peerid, &vr, -1);
		return 0;
	}
	if (pv->pv_state != VMOP_RUNNING) {
		snprintf(msg, sizeof(msg), "vm %s stopped while its snapshot "
		    "was taken", pv->pv_name);
		goto fail;
	}
	mem = pv->pv_memory * MIB;
	if ((runfd = jail_run_open(pv)) == -1 ||
	    (dfd = snaps_dir_open(pv->pv_id, 0)) == -1 ||
	    (sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(msg, sizeof(msg), "its jail or snapshot directory: "
		    "%s", strerror(errno));
		goto fail;
	}
	if (snap_take(pv, runfd, SNAP_JAIL_STATE + sizeof("/run"), sfd,
	    SNAP_F_STATE, 1, SNAP_VMSTATE_MAX, &ps->ps_vmstate, msg,
	    sizeof(msg)) == -1 ||
	    snap_take(pv, runfd, SNAP_JAIL_MEM + sizeof("/run"), sfd,
	    SNAP_F_MEM, 1, mem + SNAP_VMSTATE_MAX, &ps->ps_memory, msg,
	    sizeof(msg)) == -1)
		goto fail;
	if (fsync(sfd) == -1 || fsync(dfd) == -1) {
		snprintf(msg, sizeof(msg), "fsync: %s", strerror(errno));
		goto fail;
	}
	close(runfd);
	close(sfd);
	close(dfd);
	clock_gettime(CLOCK_MONOTONIC, &now);
	ps->ps_ms = (now.tv_sec - ps->ps_t0.tv_sec) * 1000 +
	    (now.tv_nsec - ps->ps_t0.tv_nsec) / 1000000;
	ps->ps_state = PSNAP_READY;
	if (pvm_save_sync(pv) == -1) {
		ps->ps_state = PSNAP_CREATING;
		strlcpy(msg, "cannot write its record", sizeof(msg));
		runfd = sfd = dfd = -1;
		goto fail;
	}
	log_info("vm %s: snapshot %s taken: %" PRIu64 " MiB of memory, disk "
	    "by %s, in %" PRIu64 " ms", pv->pv_id, name, ps->ps_memory / MIB,
	    ps->ps_how, ps->ps_ms);
	pvm_result_init(pv, IMSG_VMOP_SNAP_END, &vr);
	snprintf(vr.vr_msg, sizeof(vr.vr_msg), "vm %s: snapshot %s taken "
	    "(%" PRIu64 " MiB of memory, its disk by %s)", pv->pv_name, name,
	    pv->pv_memory, ps->ps_how);
	vmop_reply(w, peerid, &vr, -1);
	return 0;
fail:
	if (runfd != -1)
		close(runfd);
	if (sfd != -1)
		close(sfd);
	if (dfd != -1)
		close(dfd);
	psnap_give_up(pv, name);
	vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SNAP_END, EIO, msg);
	return 0;
}

static void
psnap_info(struct pvm *pv, const struct psnap *ps, struct snap_info *si)
{
	memset(si, 0, sizeof(*si));
	strlcpy(si->si_vm, pv->pv_name, sizeof(si->si_vm));
	strlcpy(si->si_snap, ps->ps_name, sizeof(si->si_snap));
	strlcpy(si->si_state, psnap_state_name(ps->ps_state),
	    sizeof(si->si_state));
	strlcpy(si->si_disk_how, ps->ps_how, sizeof(si->si_disk_how));
	si->si_created = ps->ps_created;
	si->si_memory = ps->ps_memory;
	si->si_vmstate = ps->ps_vmstate;
	si->si_disk = ps->ps_disk;
	si->si_disk_alloc = ps->ps_disk_alloc;
	si->si_ms = ps->ps_ms;
}

/* A VM's snapshots for a client (peerid), then the end. */
int
snapop_ls(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	struct snap_info	 si;
	size_t			 i;

	for (i = 0; i < pv->pv_nsnaps; i++) {
		psnap_info(pv, &pv->pv_snaps[i], &si);
		imsg_compose_event(w->w_iev, IMSG_SNAP_INFO, peerid, 0, -1,
		    &si, sizeof(si));
	}
	imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0, "%s", "");
	return 0;
}

/* A snapshot removed for a client: "removing" recorded, files, entry. */
int
snapop_rm(struct worker *w, uint32_t peerid, struct pvm *pv,
    const char *name)
{
	struct psnap	*ps;

	if ((ps = psnap_find(pv, name)) == NULL) {
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, ENOENT,
		    "vm %s has no snapshot %s", pv->pv_name, name);
		return 0;
	}
	if (ps->ps_state == PSNAP_CREATING || pv->pv_busy) {
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, EBUSY,
		    "snapshot %s of vm %s is %s; try again", name,
		    pv->pv_name, ps->ps_state == PSNAP_CREATING ?
		    "being taken" : "in use (its VM is busy)");
		return 0;
	}
	ps->ps_state = PSNAP_REMOVING;
	if (pvm_save_sync(pv) == -1) {
		ps->ps_state = PSNAP_READY;
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, EIO,
		    "vm %s: snapshot %s: cannot write its record",
		    pv->pv_name, name);
		return 0;
	}
	if (snaps_tree_remove(pv->pv_id, name) == -1) {
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, EIO,
		    "vm %s: snapshot %s: its files could not all be removed "
		    "(%s); the next start of bangerd finishes it", pv->pv_name,
		    name, strerror(errno));
		return 0;
	}
	psnap_drop(pv, name);
	(void)pvm_save_sync(pv);
	log_info("vm %s: snapshot %s removed", pv->pv_id, name);
	imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0,
	    "vm %s: snapshot %s removed", pv->pv_name, name);
	return 0;
}

/*
 * At start, for a record that stays: a snapshot cut short (creating or
 * removing) is dropped, and so is one whose files are not all there;
 * the sweep then removes what is left of them.  So does the
 * disk a restore was putting back.
 */
void
pvm_snaps_restore(struct pvm *pv)
{
	static const char *const files[] = { SNAP_F_STATE, SNAP_F_MEM,
	    SNAP_F_DISK };
	struct psnap	*ps;
	struct stat	 st;
	char		 name[BANGER_NAME_MAX];
	size_t		 i, f;
	int		 dfd, changed = 0, missing;

	restore_tmp_remove(pv);
	dfd = snaps_dir_open(pv->pv_id, 0);
	for (i = 0; i < pv->pv_nsnaps; ) {
		ps = &pv->pv_snaps[i];
		strlcpy(name, ps->ps_name, sizeof(name));
		missing = 0;
		for (f = 0; f < 3 && ps->ps_state == PSNAP_READY; f++) {
			char	 path[PATH_MAX];

			snprintf(path, sizeof(path), "%s/%s", name, files[f]);
			if (dfd == -1 || fstatat(dfd, path, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
				missing = 1;
		}
		if (ps->ps_state == PSNAP_READY && !missing) {
			i++;
			continue;
		}
		if (ps->ps_state == PSNAP_READY)
			log_warnx("vm %s: snapshot %s: its files are not all "
			    "there; dropped", pv->pv_id, name);
		else
			log_info("vm %s: snapshot %s: its %s was interrupted; "
			    "%s it", pv->pv_id, name, ps->ps_state ==
			    PSNAP_CREATING ? "creation" : "removal",
			    ps->ps_state == PSNAP_CREATING ? "undoing" :
			    "finishing");
		if (ps->ps_state == PSNAP_CREATING)
			jail_snap_files_remove(pv);
		psnap_drop(pv, name);
		changed = 1;
	}
	if (dfd != -1)
		close(dfd);
	if (changed)
		(void)pvm_save_sync(pv);
}

/* All of a VM's snapshots removed (its removal). */
int
pvm_snaps_remove(struct pvm *pv)
{
	return snaps_tree_remove(NULL, pv->pv_id);
}

/*
 * The vm worker ended: no one will finish the snapshots being taken,
 * nor start the VMs being restored.  Their disk copies are killed, and
 * the snapshots given up.
 */
void
snaps_worker_gone(void)
{
	struct pvm	*pv;
	char		 name[BANGER_NAME_MAX];
	size_t		 i;

	TAILQ_FOREACH(pv, &pvms, pv_entry) {
		if (pv->pv_snapjob != NULL) {
			(void)kill(pv->pv_snapjob->sj_pid, SIGKILL);
			snap_job_free(pv);
			restore_tmp_remove(pv);
		}
		for (i = 0; i < pv->pv_nsnaps; ) {
			if (pv->pv_snaps[i].ps_state != PSNAP_CREATING) {
				i++;
				continue;
			}
			strlcpy(name, pv->pv_snaps[i].ps_name, sizeof(name));
			log_info("vm %s: snapshot %s: the vm worker ended; "
			    "given up", pv->pv_id, name);
			psnap_give_up(pv, name);
			if (psnap_find(pv, name) != NULL)
				i++;
		}
	}
}

/*
 * At start, after the records: whatever STATE/snapshots holds that no
 * snapshot of a record names goes.
 */
void
snaps_sweep(void)
{
	struct dirent	*de, *se;
	struct pvm	*pv;
	const char	*why;
	char		 shown[PATH_MAX], vshown[PATH_MAX];
	DIR		*d, *vd;
	int		 fd, vfd;

	if ((fd = snaps_dir_open(NULL, 0)) == -1)
		return;
	snprintf(shown, sizeof(shown), "%s/%s", env->bd_conf->cf_statedir,
	    SNAPS_DIR);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		pv = valid_vm_id(de->d_name, strlen(de->d_name), &why) == 0 ?
		    pvm_find(de->d_name) : NULL;
		if (pv == NULL) {
			log_info("sweep: %s/%s: no such VM; removed", shown,
			    de->d_name);
			(void)tree_remove("sweep", dirfd(d), shown,
			    de->d_name);
			continue;
		}
		if ((vfd = openat(dirfd(d), de->d_name, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
		    (vd = fdopendir(vfd)) == NULL) {
			log_warn("sweep: %s/%s", shown, de->d_name);
			if (vfd != -1)
				close(vfd);
			continue;
		}
		snprintf(vshown, sizeof(vshown), "%s/%s", shown, de->d_name);
		while ((se = readdir(vd)) != NULL) {
			if (strcmp(se->d_name, ".") == 0 ||
			    strcmp(se->d_name, "..") == 0 ||
			    psnap_find(pv, se->d_name) != NULL)
				continue;
			log_info("sweep: %s/%s: no such snapshot; removed",
			    vshown, se->d_name);
			(void)tree_remove("sweep", dirfd(vd), vshown,
			    se->d_name);
		}
		closedir(vd);
	}
	closedir(d);
}

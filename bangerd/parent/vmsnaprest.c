/*
 * vm restore, the parent's side (vmsnap.c has the snapshots): a stopped
 * VM's disk put back from its snapshot by a child, the snapshot's state
 * and memory linked into the jail of the start that follows, and what a
 * restore cut short leaves removed at start.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "log.h"
#include "storage.h"
#include "vmsnap.h"

/*
 * The snapshot's disk copied over the VM's: DISK.new beside it, the
 * disk's owner and mode, synced, renamed over it.  dirfd: the
 * snapshot's directory.
 */
__attribute__((__noreturn__)) void
restore_disk_child(int out, struct pvm *pv, const char *name, int dirfd)
{
	struct snap_copy sc;
	struct snap_res	 sr;
	struct stat	 st;
	char		 tmp[PATH_MAX];
	int		 src = -1, dst = -1, cur = -1;

	snap_child_begin(out, &sr, &sc, "restore of vm %s from snapshot %s: "
	    "disk", pv->pv_id, name);
	snprintf(tmp, sizeof(tmp), "%s.new", pvm_disk(pv));
	if ((src = openat(dirfd, SNAP_F_DISK, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(src, &st) == -1 ||
	    !S_ISREG(st.st_mode)) {
		snprintf(sr.sr_msg, sizeof(sr.sr_msg), "snapshot %s: its "
		    "disk: %s", name, strerror(errno ? errno : EINVAL));
		goto fail;
	}
	if (snap_disk_open(pv, &cur) == -1 || fstat(cur, &st) == -1) {
		snprintf(sr.sr_msg, sizeof(sr.sr_msg), "its disk %s: %s",
		    pvm_disk(pv), strerror(errno));
		goto fail;
	}
	(void)unlink(tmp);
	if ((dst = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		snprintf(sr.sr_msg, sizeof(sr.sr_msg), "%s: %s", tmp,
		    strerror(errno));
		goto fail;
	}
	if (snap_copy(src, dst, &sr, &sc) == -1) {
		snprintf(sr.sr_msg, sizeof(sr.sr_msg), "copying the snapshot's "
		    "disk: %s", strerror(errno));
		goto fail;
	}
	if (fchown(dst, st.st_uid, st.st_gid) == -1 ||
	    fchmod(dst, st.st_mode & 07777) == -1 || fsync(dst) == -1 ||
	    rename(tmp, pvm_disk(pv)) == -1) {
		snprintf(sr.sr_msg, sizeof(sr.sr_msg), "%s: %s", tmp,
		    strerror(errno));
		goto fail;
	}
	(void)write(out, &sr, sizeof(sr));
	_exit(0);
fail:
	sr.sr_error = errno ? errno : EIO;
	if (dst != -1)
		(void)unlink(tmp);
	(void)write(out, &sr, sizeof(sr));
	_exit(1);
}

/*
 * RESTORE: a stopped VM's disk put back from its snapshot name (by a
 * child); the start with VS_F_RESTORE that follows loads its memory.
 * priv.c has checked that the VM is created and not busy.  With check
 * (SN_F_CHECK, a VM in any state), only whether it could be: before a
 * running VM is killed for it.
 */
int
vmop_snap_restore(struct worker *w, uint32_t peerid, struct pvm *pv,
    const char *name, int check)
{
	struct vmop_result	 vr;
	struct psnap	*ps = psnap_find(pv, name);
	char		 msg[PROTO_MSG_MAX];
	int		 sfd, error = EIO;

	if (ps == NULL || ps->ps_state != PSNAP_READY) {
		snprintf(msg, sizeof(msg), ps == NULL ? "vm %s has no "
		    "snapshot %s" : "snapshot %s of vm %s is %s", ps == NULL ?
		    pv->pv_name : name, ps == NULL ? name : pv->pv_name,
		    ps == NULL ? "" : psnap_state_name(ps->ps_state));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_RESTORE,
		    ps == NULL ? ENOENT : EBUSY, msg);
		return 0;
	}
	if (strcmp(pv->pv_backend, "dm") == 0) {
		snprintf(msg, sizeof(msg), "vm %s: its disk is a "
		    "device-mapper snapshot; a restore puts back file disks "
		    "(reflink or copy storage) only", pv->pv_name);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_RESTORE,
		    EOPNOTSUPP, msg);
		return 0;
	}
	if (check) {
		pvm_result_init(pv, IMSG_VMOP_RESTORE, &vr);
		vmop_reply(w, peerid, &vr, -1);
		return 0;
	}
	if ((sfd = snap_dir_open(pv, name)) == -1) {
		error = errno;
		snprintf(msg, sizeof(msg), "snapshot %s: %s", name,
		    strerror(errno));
	} else if (snap_job_start(pv, peerid, name, IMSG_VMOP_RESTORE, sfd,
	    msg, sizeof(msg)) == -1)
		error = errno;
	else {
		close(sfd);
		log_info("vm %s: restore from snapshot %s: begun", pv->pv_id,
		    name);
		return 0;
	}
	if (sfd != -1)
		close(sfd);
	vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_RESTORE, error, msg);
	return 0;
}

/*
 * A start with VS_F_RESTORE, its jail made: the snapshot's state and
 * memory linked into the jail's root (a directory of root's), where
 * the VMM reads them (by its gid: they are root:VM 0440).
 */
int
snap_jail_link(struct pvm *pv, const char *name, char *msg, size_t len)
{
	int	 rfd, sfd;

	if ((sfd = snap_dir_open(pv, name)) == -1) {
		snprintf(msg, len, "snapshot %s: %s", name, strerror(errno));
		return -1;
	}
	if ((rfd = jail_root_open(pv)) == -1) {
		snprintf(msg, len, "jail: %s", strerror(errno));
		close(sfd);
		return -1;
	}
	if (linkat(sfd, SNAP_F_STATE, rfd, RESTORE_JAIL_STATE + 1, 0) == -1 ||
	    linkat(sfd, SNAP_F_MEM, rfd, RESTORE_JAIL_MEM + 1, 0) == -1) {
		snprintf(msg, len, "snapshot %s into the jail: %s", name,
		    strerror(errno));
		close(rfd);
		close(sfd);
		return -1;
	}
	close(rfd);
	close(sfd);
	return 0;
}

/* What a restore cut short leaves of the disk it was putting back. */
void
restore_tmp_remove(struct pvm *pv)
{
	char	 tmp[PATH_MAX];

	if (pv->pv_disk == NULL || strcmp(pv->pv_backend, "dm") == 0 ||
	    pv->pv_state == VMOP_CREATING)
		return;
	snprintf(tmp, sizeof(tmp), "%s.new", pvm_disk(pv));
	if (unlink(tmp) == 0)
		log_info("vm %s: a restore of its disk was cut short; %s "
		    "removed", pv->pv_id, tmp);
}

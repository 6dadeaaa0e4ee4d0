/*
 * Clones, the parent's side: a VM made from another VM's snapshot.
 *
 * A clone is a VM like any other (its own uid, address, tap, DNS name
 * and disk), made in the same two turns as one from an image
 * (vmops.c), but for two things:
 *
 *	its disk is a copy of the snapshot's disk (a reflink, else a
 *	sparse copy), not of an image's root file system;
 *
 *	it gets its own copy of the snapshot, under the snapshot's name
 *	(STATE/snapshots/CLONEID/SNAP: vmstate and memory root:CLONE
 *	0440, disk root 0600), from which its first start restores.
 *	The origin's files are group the origin's gid, which the clone's
 *	VMM does not have; and the clone does not depend on them: the
 *	origin and its snapshot may go as soon as the clone is made.
 *
 * Records first, as everywhere: the clone's record is "creating" until
 * both exist, and a creating VM's record owns everything under
 * STATE/snapshots/ID; a crash at any point leaves a record that the
 * start undoes (vmop_restore: its disk, tap and snapshots removed).
 * The copy enters the record "ready" in the one synced write that
 * makes the VM "created", after its files and directories are synced.
 *
 * Only the origin's owner (or root) may clone it: the snapshot holds
 * the guest's memory.  The vm worker says who the clone is for; this
 * checks it against the origin's owner in the parent's own record.
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
#include "vmsnap.h"

/* Whose snapshot, and which: checked at CREATE and again before use. */
struct pvm_from {
	char	pf_id[PROTO_VMID_MAX];
	char	pf_snap[BANGER_NAME_MAX];
};

/* The origin and its ready snapshot for a clone; NULL with msg if not. */
static struct pvm *
clone_origin(const char *id, const char *snap, uid_t owner,
    struct psnap **psp, char *msg, size_t len)
{
	struct pvm	*o;
	struct psnap	*ps;

	if ((o = pvm_find(id)) == NULL || o->pv_state == VMOP_CREATING ||
	    o->pv_state == VMOP_DESTROYING) {
		snprintf(msg, len, "vm %s is gone", id);
		errno = ENOENT;
		return NULL;
	}
	if (owner != 0 && owner != o->pv_owner) {
		snprintf(msg, len, "vm %s is not yours to clone", o->pv_name);
		errno = EPERM;
		return NULL;
	}
	if ((ps = psnap_find(o, snap)) == NULL ||
	    ps->ps_state != PSNAP_READY) {
		snprintf(msg, len, "vm %s has no snapshot %s%s", o->pv_name,
		    snap, ps != NULL ? " ready" : "");
		errno = ENOENT;
		return NULL;
	}
	*psp = ps;
	return o;
}

/* CREATE of a clone: the origin checked now, remembered for later. */
int
pvm_clone_begin(struct pvm *pv, const struct vmop_create *vc, char *msg,
    size_t len)
{
	struct psnap	*ps;
	struct pvm	*o;

	if ((o = clone_origin(vc->vc_from_id, vc->vc_from_snap,
	    vc->vc_owner, &ps, msg, len)) == NULL)
		return -1;
	/* The image only gives its kernel and initrd to later boots. */
	if (strcmp(o->pv_image, vc->vc_image) != 0) {
		snprintf(msg, len, "vm %s was made from image %s, not %s",
		    o->pv_name, o->pv_image, vc->vc_image);
		errno = EINVAL;
		return -1;
	}
	if ((pv->pv_from = calloc(1, sizeof(*pv->pv_from))) == NULL)
		fatal(NULL);
	strlcpy(pv->pv_from->pf_id, o->pv_id, sizeof(pv->pv_from->pf_id));
	strlcpy(pv->pv_from->pf_snap, vc->vc_from_snap,
	    sizeof(pv->pv_from->pf_snap));
	return 0;
}

void
pvm_clone_end(struct pvm *pv)
{
	free(pv->pv_from);
	pv->pv_from = NULL;
}

/*
 * The snapshot's disk, opened for the clone's copy: a regular file the
 * parent made, never through a symlink.  -1 with msg if not.
 */
int
pvm_clone_disk_open(struct pvm *pv, char *msg, size_t len)
{
	struct psnap	*ps;
	struct pvm	*o;
	struct stat	 st;
	int		 sfd, fd;

	if ((o = clone_origin(pv->pv_from->pf_id, pv->pv_from->pf_snap,
	    pv->pv_owner, &ps, msg, len)) == NULL)
		return -1;
	if ((sfd = snap_dir_open(o, ps->ps_name)) == -1) {
		snprintf(msg, len, "snapshot %s of vm %s: %s", ps->ps_name,
		    o->pv_name, strerror(errno));
		return -1;
	}
	fd = openat(sfd, SNAP_F_DISK, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(sfd);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(msg, len, "snapshot %s of vm %s: its disk: %s",
		    ps->ps_name, o->pv_name, fd == -1 ? strerror(errno) :
		    "not a regular file");
		if (fd != -1)
			close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/*
 * One file of the origin's snapshot, copied into the clone's (as a disk
 * child copies one: snap_copy); *how becomes "copy" once one is.
 */
static int
clone_file(int sfd, int dfd, const char *name, gid_t gid, mode_t mode,
    const char **how, char *msg, size_t len)
{
	struct snap_res	 sr;
	int		 in, out, rv;

	if ((in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1) {
		snprintf(msg, len, "the snapshot's %s: %s", name,
		    strerror(errno));
		return -1;
	}
	if ((out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		snprintf(msg, len, "the clone's %s: %s", name,
		    strerror(errno));
		close(in);
		return -1;
	}
	memset(&sr, 0, sizeof(sr));
	if ((rv = snap_copy(in, out, &sr, NULL)) == 0 &&
	    strcmp(sr.sr_how, "copy") == 0)
		*how = "copy";
	if (rv == -1 || fchown(out, 0, gid) == -1 ||
	    fchmod(out, mode) == -1 || fsync(out) == -1) {
		snprintf(msg, len, "the clone's %s: %s", name,
		    strerror(errno));
		rv = -1;
	}
	close(in);
	close(out);
	return rv;
}

/*
 * After the clone's disk and tap: its own copy of the snapshot, its
 * files and directories synced, then added to the record "ready" in
 * memory: the caller's save of the VM as created writes both.  0, or
 * -1 with msg and nothing of it left.
 */
int
pvm_clone_snapshot(struct pvm *pv, char *msg, size_t len)
{
	struct psnap	*ps, *mine;
	struct pvm	*o;
	const char	*how = "reflink", *name = pv->pv_from->pf_snap;
	int		 sfd = -1, dfd = -1, nfd = -1, rv = -1;

	if ((o = clone_origin(pv->pv_from->pf_id, name, pv->pv_owner, &ps,
	    msg, len)) == NULL)
		return -1;
	if ((sfd = snap_dir_open(o, name)) == -1 ||
	    (dfd = snaps_dir_open(pv->pv_id, 1)) == -1 ||
	    mkdirat(dfd, name, 0700) == -1 ||
	    (nfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(msg, len, "snapshot %s: %s", name, strerror(errno));
		goto out;
	}
	if (clone_file(sfd, nfd, SNAP_F_STATE, pv->pv_uid, 0440, &how, msg,
	    len) == -1 || clone_file(sfd, nfd, SNAP_F_MEM, pv->pv_uid, 0440,
	    &how, msg, len) == -1 || clone_file(sfd, nfd, SNAP_F_DISK, 0,
	    0600, &how, msg, len) == -1)
		goto out;
	if (fsync(nfd) == -1 || fsync(dfd) == -1) {
		snprintf(msg, len, "snapshot %s: fsync: %s", name,
		    strerror(errno));
		goto out;
	}
	if (psnap_add(pv, name, PSNAP_READY) == -1) {
		snprintf(msg, len, "snapshot %s: %s", name, strerror(errno));
		goto out;
	}
	mine = psnap_find(pv, name);
	mine->ps_created = ps->ps_created;
	mine->ps_memory = ps->ps_memory;
	mine->ps_vmstate = ps->ps_vmstate;
	mine->ps_disk = ps->ps_disk;
	mine->ps_disk_alloc = strcmp(how, "reflink") == 0 ? 0 :
	    ps->ps_disk_alloc;
	strlcpy(mine->ps_how, how, sizeof(mine->ps_how));
	log_info("vm %s: snapshot %s of vm %s copied for its clone (%s)",
	    pv->pv_id, name, o->pv_id, how);
	rv = 0;
out:
	if (rv == -1 && dfd != -1) {
		if (nfd != -1)
			close(nfd);
		nfd = -1;
		(void)snaps_tree_remove(pv->pv_id, name);
	}
	if (nfd != -1)
		close(nfd);
	if (dfd != -1)
		close(dfd);
	if (sfd != -1)
		close(sfd);
	return rv;
}

/*
 * The vm worker's snapshot requests, checked before vmsnap.c acts on
 * them: each legal only in some of the VM's and the snapshot's states,
 * anything else a protocol violation (priv.c's rules).
 */
#include <sys/types.h>

#include <string.h>

#include "parent.h"
#include "log.h"
#include "validate.h"

/*
 * A snapshot's step (what) on a VM that must be in state, not busy and
 * taking no other snapshot: 0, or -1 after the violation.
 */
static int
snap_vm_free(struct worker *w, struct pvm *pv, int state, const char *what)
{
	if (pv->pv_state == state && !pv->pv_busy && !psnap_creating(pv))
		return 0;
	parent_worker_violation(w, "%s of vm %s, which is %s", what,
	    pv->pv_id, pv->pv_busy ? "busy" : psnap_creating(pv) ?
	    "taking a snapshot" : pvm_state_name(pv->pv_state));
	return -1;
}

/*
 * Snapshots: BEGIN of a running VM that is not busy and takes no other
 * snapshot; END of the snapshot it began, once its disk is copied; ls
 * and rm (answered to the client, peerid) of any VM the parent has.
 * A snapshot's name is a valid name, and "" only for ls.
 */
int
priv_snap(struct worker *w, struct imsg *imsg)
{
	struct vmop_snap	 sn;
	struct psnap		*ps;
	struct pvm		*pv;
	const char		*why;
	size_t			 len;
	uint32_t		 type = imsg_get_type(imsg);

	if (read_request(w, imsg, &sn, sizeof(sn)) == -1 ||
	    vmid_check(w, sn.sn_id, sizeof(sn.sn_id), 0, &pv) == -1)
		return -1;
	if (wire_string(sn.sn_snap, sizeof(sn.sn_snap), &len) == -1 ||
	    (type == IMSG_SNAPOP_LS ? len != 0 :
	    valid_name(sn.sn_snap, len, &why) == -1)) {
		parent_worker_violation(w, "vm %s: bad snapshot name",
		    pv->pv_id);
		return -1;
	}
	if (sn.sn_pad != 0 || (sn.sn_flags != 0 &&
	    (type != IMSG_VMOP_SNAP_END || sn.sn_flags != SN_F_FAILED) &&
	    (type != IMSG_VMOP_RESTORE || sn.sn_flags != SN_F_CHECK))) {
		parent_worker_violation(w, "vm %s: snapshot flags %#x",
		    pv->pv_id, sn.sn_flags);
		return -1;
	}
	switch (type) {
	case IMSG_VMOP_SNAP_BEGIN:
		if (snap_vm_free(w, pv, VMOP_RUNNING, "snapshot") == -1)
			return -1;
		return vmop_snap_begin(w, imsg_get_id(imsg), pv, sn.sn_snap);
	case IMSG_VMOP_SNAP_END:
		if ((ps = psnap_find(pv, sn.sn_snap)) == NULL ||
		    ps->ps_state != PSNAP_CREATING || pv->pv_snapjob != NULL) {
			parent_worker_violation(w, "end of snapshot %s of vm "
			    "%s, which is %s", sn.sn_snap, pv->pv_id,
			    ps != NULL && ps->ps_state == PSNAP_CREATING ?
			    "still copying its disk" : "not being taken");
			return -1;
		}
		return vmop_snap_end(w, imsg_get_id(imsg), pv, sn.sn_snap,
		    sn.sn_flags);
	case IMSG_VMOP_RESTORE:
		if (sn.sn_flags == SN_F_CHECK)
			return vmop_snap_restore(w, imsg_get_id(imsg), pv,
			    sn.sn_snap, 1);
		if (snap_vm_free(w, pv, VMOP_CREATED, "restore") == -1)
			return -1;
		return vmop_snap_restore(w, imsg_get_id(imsg), pv,
		    sn.sn_snap, 0);
	case IMSG_SNAPOP_LS:
		return snapop_ls(w, imsg_get_id(imsg), pv);
	case IMSG_SNAPOP_RM:
		return snapop_rm(w, imsg_get_id(imsg), pv, sn.sn_snap);
	}
	return -1;
}

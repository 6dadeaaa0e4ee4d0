/*
 * Snapshots, as the vm worker takes them: vm snapshot NAME [SNAP] and
 * its ls and rm.  The parent holds the snapshots (records, files,
 * checks: parent/vmsnap.c); the worker drives the VMM through them.
 *
 * A snapshot of a running VM, one step at a time, the VM's client
 * waiting for the end:
 *
 *	PAUSE	PATCH /vm Paused (skipped for a VM already paused)
 *	BEGIN	the parent records the snapshot "creating" and copies the
 *		disk (reflink, else a sparse copy) while the VM is paused
 *	CREATE	PUT /snapshot/create: Firecracker writes its state and the
 *		guest's memory inside its jail
 *	END	the parent moves both out of the jail, checks them and
 *		records the snapshot "ready"
 *	RESUME	PATCH /vm Resumed, if it was running
 *
 * A step that fails ends the snapshot with the parent told (END with
 * SN_F_FAILED: nothing of it is kept) and the VM resumed.  A VM that
 * stops meanwhile ends it likewise.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmint.h"
#include "fcapi.h"
#include "log.h"
#include "validate.h"

enum {
	SNAP_STEP_NONE,
	SNAP_STEP_PAUSE,
	SNAP_STEP_BEGIN,
	SNAP_STEP_CREATE,
	SNAP_STEP_END,
	SNAP_STEP_RESUME,
};

static void	snap_begin(struct vm *);
static void	snap_end(struct vm *, int);
static void	snap_finish(struct vm *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	vm_ctl_restore(uint32_t, struct vm *, const char *);

static void
snap_send(struct vm *v, uint32_t type, uint32_t peerid, const char *snap,
    uint32_t flags)
{
	struct vmop_snap	 sn;

	memset(&sn, 0, sizeof(sn));
	strlcpy(sn.sn_id, v->v_id, sizeof(sn.sn_id));
	strlcpy(sn.sn_snap, snap, sizeof(sn.sn_snap));
	sn.sn_flags = flags;
	if (peerid == 0)
		vmop_send(type, &sn, sizeof(sn));
	else
		vmop_send_to(type, peerid, &sn, sizeof(sn));
}

static long
snap_ms(const struct vm *v)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - v->v_snap_t0.tv_sec) * 1000 +
	    (now.tv_nsec - v->v_snap_t0.tv_nsec) / 1000000;
}

static void
snap_clear(struct vm *v)
{
	free(v->v_snap);
	free(v->v_snap_msg);
	v->v_snap = NULL;
	v->v_snap_msg = NULL;
	v->v_snap_step = SNAP_STEP_NONE;
	v->v_snap_error = 0;
}

/*
 * The end, told to the client if it is still waiting (none is once the
 * VM stopped: vm_snap_exited; and no other takes the VM meanwhile).
 */
static void
snap_reply(struct vm *v)
{
	int	 error = v->v_snap_error;
	char	*msg = v->v_snap_msg;

	v->v_snap_msg = NULL;
	snap_clear(v);
	if (v->v_client != 0)
		vm_op_done(v, error, "%s", msg != NULL ? msg : "");
	free(msg);
}

static void
snap_resumed(void *arg, int st, json_t *resp, const char *err, int errnum)
{
	struct vm	*v = arg;
	int		 taken;

	v->v_api = NULL;
	if (v->v_snap_step != SNAP_STEP_RESUME)
		return;
	if (st < 200 || st > 299) {
		taken = v->v_snap_error == 0;
		if (taken)
			v->v_snap_error = EIO;
		vm_strf(&v->v_snap_msg, "vm %s: snapshot %s %s, but the VM "
		    "could not be resumed: %s (bangerctl vm resume %s)",
		    v->v_name, v->v_snap, taken ? "taken" : "not taken", err,
		    v->v_name);
		snap_reply(v);
		return;
	}
	strlcpy(v->v_vmm_state, "Running", sizeof(v->v_vmm_state));
	v->v_snap_paused = 0;
	vm_set_state(v, VM_RUNNING);
	log_info("vm %s: resumed after its snapshot %s, paused %ld ms",
	    v->v_name, v->v_snap, snap_ms(v));
	snap_reply(v);
}

/* The VM resumed if it was running, then the client told. */
static void
snap_finish(struct vm *v, int error, const char *fmt, ...)
{
	char	 err[PROTO_MSG_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	free(v->v_snap_msg);
	v->v_snap_msg = NULL;
	if (vasprintf(&v->v_snap_msg, fmt, ap) == -1)
		fatal(NULL);
	va_end(ap);
	v->v_snap_error = error;
	if (error != 0)
		log_warnx("%s", v->v_snap_msg);
	if (!v->v_snap_paused || v->v_state != VM_PAUSED) {
		snap_reply(v);
		return;
	}
	v->v_snap_step = SNAP_STEP_RESUME;
	if (vm_api(v, "PATCH", "/vm", json_pack("{s:s}", "state", "Resumed"),
	    snap_resumed, err, sizeof(err)) == -1)
		snap_resumed(v, -1, NULL, err, EIO);
}

static void
snap_paused(void *arg, int st, json_t *resp, const char *err, int errnum)
{
	struct vm	*v = arg;

	v->v_api = NULL;
	if (v->v_snap_step != SNAP_STEP_PAUSE)
		return;
	if (st < 200 || st > 299) {
		snap_finish(v, EIO, "vm %s: snapshot %s: pausing it: %s",
		    v->v_name, v->v_snap, err);
		return;
	}
	strlcpy(v->v_vmm_state, "Paused", sizeof(v->v_vmm_state));
	/* Recorded with the state: a crash from here on resumes it. */
	v->v_snap_paused = 1;
	vm_set_state(v, VM_PAUSED);
	snap_begin(v);
}

static void
snap_begin(struct vm *v)
{
	v->v_snap_step = SNAP_STEP_BEGIN;
	snap_send(v, IMSG_VMOP_SNAP_BEGIN, 0, v->v_snap, 0);
}

static void
snap_created(void *arg, int st, json_t *resp, const char *err, int errnum)
{
	struct vm	*v = arg;

	v->v_api = NULL;
	if (v->v_snap_step != SNAP_STEP_CREATE)
		return;
	if (st < 200 || st > 299) {
		/* Told once the parent has removed what it began. */
		vm_strf(&v->v_snap_msg, "vm %s: snapshot %s: firecracker: "
		    "%s", v->v_name, v->v_snap, err);
		snap_end(v, SN_F_FAILED);
		return;
	}
	snap_end(v, 0);
}

static void
snap_end(struct vm *v, int flags)
{
	v->v_snap_step = SNAP_STEP_END;
	v->v_snap_error = flags ? EIO : 0;
	snap_send(v, IMSG_VMOP_SNAP_END, 0, v->v_snap, flags);
}

/* The parent's answer to BEGIN or END. */
void
vm_snap_result(struct vm *v, const struct vmop_result *vr)
{
	char	 err[PROTO_MSG_MAX];
	char	*msg;

	if (v->v_snap == NULL)
		return;
	if (vr->vr_op == IMSG_VMOP_SNAP_BEGIN &&
	    v->v_snap_step == SNAP_STEP_BEGIN) {
		if (vr->vr_error) {
			snap_finish(v, vr->vr_error, "vm %s: snapshot %s: %s",
			    v->v_name, v->v_snap, vr->vr_msg);
			return;
		}
		/* The VM stopped meanwhile: the parent lets it go. */
		if (v->v_state != VM_PAUSED) {
			snap_end(v, SN_F_FAILED);
			return;
		}
		v->v_snap_step = SNAP_STEP_CREATE;
		if (vm_api(v, "PUT", "/snapshot/create", json_pack(
		    "{s:s, s:s, s:s}", "snapshot_type", "Full",
		    "snapshot_path", SNAP_JAIL_STATE, "mem_file_path",
		    SNAP_JAIL_MEM), snap_created, err, sizeof(err)) == -1)
			snap_created(v, -1, NULL, err, EIO);
		return;
	}
	if (vr->vr_op != IMSG_VMOP_SNAP_END || v->v_snap_step != SNAP_STEP_END)
		return;
	if (v->v_snap_error != 0) {
		/* The failure that sent END; the parent removed it all. */
		msg = v->v_snap_msg;
		v->v_snap_msg = NULL;
		snap_finish(v, EIO, "%s", msg != NULL ? msg :
		    "snapshot not taken");
		free(msg);
		return;
	}
	if (vr->vr_error) {
		snap_finish(v, vr->vr_error, "vm %s: snapshot %s: %s",
		    v->v_name, v->v_snap, vr->vr_msg);
		return;
	}
	snap_finish(v, 0, "%s", vr->vr_msg);
}

/*
 * Its VMM ended while a snapshot was taken: the client is told now; a
 * snapshot the parent holds "creating" is given up.
 */
void
vm_snap_exited(struct vm *v)
{
	uint32_t	 client = v->v_client;
	char		*snap = v->v_snap;

	if (snap == NULL)
		return;
	/* Whatever comes of it now is no client's to hear. */
	v->v_client = 0;
	if (client != 0 && v->v_snap_step == SNAP_STEP_RESUME &&
	    v->v_snap_error == 0)
		control_reply(client, 0, "vm %s: snapshot %s taken; the VM "
		    "stopped before it was resumed", v->v_name, snap);
	else if (client != 0)
		control_reply(client, EIO, "vm %s stopped while its "
		    "snapshot %s was taken; nothing of it is kept",
		    v->v_name, snap);
	switch (v->v_snap_step) {
	case SNAP_STEP_BEGIN:
		/* Its answer comes: END then gives the snapshot up. */
		return;
	case SNAP_STEP_CREATE:
		vm_strf(&v->v_snap_msg, "stopped");
		snap_end(v, SN_F_FAILED);
		return;
	case SNAP_STEP_END:
		v->v_snap_error = EIO;
		return;
	}
	snap_clear(v);
}

static void
snap_recovered(void *arg, int st, json_t *resp, const char *err, int errnum)
{
	struct vm	*v = arg;

	v->v_api = NULL;
	if (v->v_state != VM_PAUSED || !v->v_snap_paused)
		return;
	if (st < 200 || st > 299) {
		log_warnx("vm %s: paused for a snapshot that was cut short, "
		    "and it could not be resumed: %s", v->v_name, err);
		return;
	}
	log_info("vm %s: resumed (paused for a snapshot that was cut short)",
	    v->v_name);
	strlcpy(v->v_vmm_state, "Running", sizeof(v->v_vmm_state));
	v->v_snap_paused = 0;
	vm_set_state(v, VM_RUNNING);
}

/*
 * After a restart: a VM that a snapshot paused and that bangerd or the
 * vm worker left paused when it ended (the parent gave the snapshot up)
 * runs again, as its owner left it.
 */
void
vm_snap_recover(struct vm *v)
{
	char	 err[PROTO_MSG_MAX];

	if (!v->v_snap_paused || v->v_snap != NULL)
		return;
	if (v->v_state != VM_PAUSED) {
		v->v_snap_paused = 0;
		return;
	}
	if (vm_api(v, "PATCH", "/vm", json_pack("{s:s}", "state", "Resumed"),
	    snap_recovered, err, sizeof(err)) == -1)
		snap_recovered(v, -1, NULL, err, EIO);
}

/*
 * vm restore NAME SNAP: the VM rolled back to its snapshot.  A running
 * VM is killed first (what it holds now is what a roll back throws
 * away); then the parent puts the snapshot's disk back, and a start
 * loads its memory and state (PUT /snapshot/load) instead of booting.
 * No e2fsck: the disk is the one the snapshot's memory has mounted.
 */
void
vm_restore_begin(struct vm *v)
{
	snap_send(v, IMSG_VMOP_RESTORE, 0, v->v_restore, 0);
}

void
vm_restore_result(struct vm *v, const struct vmop_result *vr)
{
	if (v->v_restore == NULL)
		return;
	if (vr->vr_error) {
		vm_op_done(v, vr->vr_error, "vm %s: %s", v->v_name,
		    vr->vr_msg);
		return;
	}
	if (!v->v_restore_checked) {
		/* It can be: a running VM is killed for it first. */
		v->v_restore_checked = 1;
		if (v->v_state == VM_RUNNING || v->v_state == VM_PAUSED) {
			v->v_next = NEXT_RESTORE;
			vm_set_state(v, VM_STOPPING);
			vmop_signal_send(v, SIGKILL);
			return;
		}
		if (v->v_state != VM_CREATED && v->v_state != VM_STOPPED &&
		    v->v_state != VM_ERROR) {
			vm_op_done(v, EBUSY, "vm %s is %s; try again",
			    v->v_name, state_name(v->v_state));
			return;
		}
		vm_restore_begin(v);
		return;
	}
	v->v_fresh = 0;
	vm_set_state(v, VM_STARTING);
	vm_start_boot(v);
}

static void
vm_ctl_restore(uint32_t client, struct vm *v, const char *snap)
{
	if (v->v_client != 0 || v->v_snap != NULL ||
	    v->v_state == VM_STARTING || v->v_state == VM_STOPPING ||
	    v->v_state == VM_REMOVING) {
		control_reply(client, EBUSY, "vm %s is busy (%s); try again",
		    v->v_name, state_name(v->v_state));
		return;
	}
	if (!vm_startable(client, v))
		return;
	v->v_client = client;
	vm_strset(&v->v_restore, snap, PROTO_VMNAME_MAX);
	v->v_restore_checked = 0;
	log_info("vm %s: restore from snapshot %s asked for", v->v_name,
	    snap);
	/* First whether the parent has it, before anything is killed. */
	snap_send(v, IMSG_VMOP_RESTORE, 0, v->v_restore, SN_F_CHECK);
}

/* How far the disk copy of a snapshot or a restore is, for its client. */
void
vm_snap_progress(struct imsg *imsg)
{
	struct vmop_progress	 vp;
	struct image_progress	 ip;
	struct vm		*v;
	size_t			 len;

	if (imsg_read_exact(imsg, &vp, sizeof(vp)) == -1 ||
	    wire_string(vp.vp_id, sizeof(vp.vp_id), &len) == -1)
		fatalx("%s: bad progress from the parent", __func__);
	if ((v = vm_by_id(vp.vp_id)) == NULL || v->v_client == 0 ||
	    (v->v_snap == NULL && v->v_restore == NULL))
		return;
	memset(&ip, 0, sizeof(ip));
	ip.ip_done = vp.vp_done;
	ip.ip_total = vp.vp_total;
	control_send(v->v_client, IMSG_CTL_SNAP_PROGRESS, &ip, sizeof(ip));
}

/* bangerctl's vm snapshot, vm snapshot ls and vm snapshot rm. */
void
vm_ctl_snap(uint32_t client, uid_t uid, const struct ctl_snap *cs)
{
	struct ctl_snap	 c = *cs;
	struct vm	*v;
	const char	*why;
	char		 err[PROTO_MSG_MAX];
	size_t		 len, slen;

	if (wire_string(c.cs_vm, sizeof(c.cs_vm), &len) == -1 ||
	    wire_string(c.cs_snap, sizeof(c.cs_snap), &slen) == -1 ||
	    c.cs_flags != 0 || c.cs_action < CTL_SNAP_CREATE ||
	    c.cs_action > CTL_SNAP_RESTORE) {
		control_reply(client, EINVAL, "bad request");
		return;
	}
	if ((v = vm_by_name(c.cs_vm)) == NULL || !vm_visible(v, uid) ||
	    v->v_state == VM_CREATING) {
		control_reply(client, ENOENT, "no VM named %s", c.cs_vm);
		return;
	}
	if (c.cs_action == CTL_SNAP_LS) {
		snap_send(v, IMSG_SNAPOP_LS, client, "", 0);
		return;
	}
	if (c.cs_action != CTL_SNAP_CREATE && slen == 0) {
		control_reply(client, EINVAL, "no snapshot named");
		return;
	}
	if (c.cs_action == CTL_SNAP_CREATE && slen == 0) {
		/* A name of the moment: 20261206-091502-123. */
		valid_name_now(c.cs_snap, sizeof(c.cs_snap));
		slen = strlen(c.cs_snap);
	}
	if (valid_name(c.cs_snap, slen, &why) == -1) {
		control_reply(client, EINVAL, "bad snapshot name \"%s\": %s "
		    "(1 to %d of a-z, 0-9 and '-', not first)", c.cs_snap,
		    why, VALID_NAME_MAX);
		return;
	}
	if (c.cs_action == CTL_SNAP_RM) {
		snap_send(v, IMSG_SNAPOP_RM, client, c.cs_snap, 0);
		return;
	}
	if (c.cs_action == CTL_SNAP_RESTORE) {
		vm_ctl_restore(client, v, c.cs_snap);
		return;
	}
	if (v->v_client != 0 || v->v_snap != NULL) {
		control_reply(client, EBUSY, "vm %s is busy (%s); try again",
		    v->v_name, state_name(v->v_state));
		return;
	}
	if (v->v_state != VM_RUNNING && v->v_state != VM_PAUSED) {
		control_reply(client, EINVAL, "vm %s is %s: only a running or "
		    "paused VM can be snapshotted", v->v_name,
		    state_name(v->v_state));
		return;
	}
	v->v_client = client;
	vm_strset(&v->v_snap, c.cs_snap, sizeof(c.cs_snap));
	clock_gettime(CLOCK_MONOTONIC, &v->v_snap_t0);
	log_info("vm %s: snapshot %s asked for by uid %u", v->v_name,
	    v->v_snap, (unsigned)uid);
	if (v->v_state == VM_PAUSED) {
		snap_begin(v);
		return;
	}
	v->v_snap_step = SNAP_STEP_PAUSE;
	if (vm_api(v, "PATCH", "/vm", json_pack("{s:s}", "state", "Paused"),
	    snap_paused, err, sizeof(err)) == -1)
		snap_paused(v, -1, NULL, err, EIO);
}

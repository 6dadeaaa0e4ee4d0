/*
 * The vm worker: its start, and what the parent tells it: the results
 * of the requests made of it, a Firecracker's end, and after a start
 * the VMs it holds, which our records are brought to agree with.  The
 * records are registry.c's, the state machine state.c's, the boot
 * boot.c's, the console console.c's, a new disk provision.c's.
 *
 * Every root operation on a VM is a request to the parent naming the
 * VM's id (IMSG_VMOP_*); the parent answers with IMSG_VMOP_RESULT and
 * tells us when a Firecracker ends (IMSG_VMOP_EXITED).  Each VM has at
 * most one operation in flight, and the client that asked for it waits
 * for its end.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmint.h"
#include "fcapi.h"
#include "log.h"
#include "validate.h"

#define SOCKET_WAIT_MS		5000		/* for the API socket file */
/*
 * The boot arguments of an image that has none.  The i8042 options are
 * Firecracker's own defaults: they spare the guest's kernel probing the
 * keyboard controller (SendCtrlAltDel's way in) for what Firecracker
 * does not emulate.
 */
#define DEFAULT_BOOTARGS	"console=ttyS0 reboot=k panic=1 pci=off " \
	"i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

/* The control socket, served once our records agree with the parent's. */
static int		 ctl_fd = -1;
static int		 reconciled;

static void
vm_from_result(struct vm *v, const struct vmop_result *vr)
{
	v->v_uid = vr->vr_uid;
	v->v_pid = vr->vr_pid;
	strlcpy(v->v_tap, vr->vr_tap, sizeof(v->v_tap));
	strlcpy(v->v_backend, vr->vr_backend, sizeof(v->v_backend));
	v->v_disk_size = vr->vr_disk_size;
	vm_strset(&v->v_socket, vr->vr_socket, sizeof(vr->vr_socket));
	vm_strset(&v->v_kernel, vr->vr_kernel, sizeof(vr->vr_kernel));
	vm_strset(&v->v_initrd, vr->vr_initrd, sizeof(vr->vr_initrd));
	vm_strset(&v->v_diskpath, vr->vr_disk, sizeof(vr->vr_disk));
	if (vr->vr_bootargs[0] != '\0' || v->v_bootargs == NULL)
		vm_strset(&v->v_bootargs, vr->vr_bootargs[0] ?
		    vr->vr_bootargs : DEFAULT_BOOTARGS, PROTO_BOOTARGS_MAX);
	/* Its address, name and MAC are the parent's to give. */
	if (vr->vr_addr != 0) {
		v->v_addr.s_addr = vr->vr_addr;
		v->v_prefix = vr->vr_prefix;
		v->v_gateway.s_addr = vr->vr_gateway;
		strlcpy(v->v_mac, vr->vr_mac, sizeof(v->v_mac));
		vm_strset(&v->v_domain, vr->vr_domain, sizeof(vr->vr_domain));
	}
}

static void
vm_result(struct imsg *imsg)
{
	struct vmop_result	 vr;
	struct vm		*v;
	char			 err[PROTO_MSG_MAX];
	size_t			 len;
	int			 fd;

	if (imsg_read_exact(imsg, &vr, sizeof(vr)) == -1 ||
	    wire_string(vr.vr_id, sizeof(vr.vr_id), &len) == -1 ||
	    wire_string(vr.vr_msg, sizeof(vr.vr_msg), &len) == -1)
		fatalx("%s: malformed result from the parent", __func__);
	fd = imsg_get_fd(imsg);
	if ((v = vm_by_id(vr.vr_id)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}

	switch (vr.vr_op) {
	case IMSG_VMOP_CREATE:
		if (vr.vr_error) {
			/* The parent undid its part: nothing is left of it. */
			vm_op_done(v, vr.vr_error, "vm %s: %s", v->v_name,
			    vr.vr_msg);
			vm_unsave(v);
			vm_free(v);
			return;
		}
		vm_from_result(v, &vr);
		v->v_known = 1;
		if (v->v_clone_snap != NULL) {
			/* A clone's disk is its snapshot's, as it was. */
			if (fd != -1)
				close(fd);
			if (vm_clone_created(v, err, sizeof(err)) == -1) {
				vm_strset(&v->v_error, err, PROTO_MSG_MAX);
				vm_create_undo(v);
			} else
				vm_created(v);
			break;
		}
		if (v->v_newdisk & NEWDISK_EARLY) {
			/* Its disk came ahead: the later of the two ends it. */
			if (fd != -1)
				close(fd);
			v->v_newdisk |= NEWDISK_REPLIED;
			if (v->v_newdisk & NEWDISK_FAILED)
				vm_create_undo(v);
			else if (v->v_newdisk & NEWDISK_WRITTEN)
				vm_created(v);
			break;
		}
		/*
		 * Its files go into the disk, whose fd came with the reply,
		 * before anything boots it.
		 */
		if (fd == -1 || vm_provision(v, fd, err, sizeof(err)) == -1) {
			vm_strset(&v->v_error, fd == -1 ? "the parent's reply "
			    "came without its disk" : err, PROTO_MSG_MAX);
			if (fd != -1)
				close(fd);
			vm_create_undo(v);
			break;
		}
		/* The child has its own; it reports when it is done. */
		close(fd);
		break;
	case IMSG_VMOP_DISK:
		/*
		 * A new file disk, ahead of CREATE's reply: its files go in
		 * while the parent makes the tap.
		 */
		if (fd == -1 || v->v_state != VM_CREATING || v->v_newdisk ||
		    v->v_clone_snap != NULL || v->v_prov != NULL) {
			log_warnx("vm %s: a disk it does not wait for", v->v_name);
			if (fd != -1)
				close(fd);
			break;
		}
		vm_from_result(v, &vr);
		v->v_newdisk = NEWDISK_EARLY;
		if (vm_provision(v, fd, err, sizeof(err)) == -1) {
			vm_strset(&v->v_error, err, PROTO_MSG_MAX);
			v->v_newdisk |= NEWDISK_FAILED;
		}
		close(fd);
		break;
	case IMSG_VMOP_START:
		if (vr.vr_error) {
			vm_strset(&v->v_error, vr.vr_msg, PROTO_MSG_MAX);
			vm_set_state(v, VM_ERROR);
			vm_op_done(v, vr.vr_error, "vm %s: %s", v->v_name,
			    vr.vr_msg);
			return;
		}
		vm_from_result(v, &vr);
		if (fd != -1)
			vm_console_open(v, fd);
		vm_console_mark(v, "starting (firecracker pid %d)", v->v_pid);
		v->v_tries = 0;
		deadline_in(&v->v_deadline, SOCKET_WAIT_MS);
		vmop_id_send(IMSG_VMOP_SOCKET, v);
		break;
	case IMSG_VMOP_FSCK:
		if (v->v_state != VM_STARTING)
			break;
		if (vr.vr_error) {
			vm_strset(&v->v_error, vr.vr_msg, PROTO_MSG_MAX);
			vm_set_state(v, VM_ERROR);
			vm_op_done(v, vr.vr_error, "vm %s: %s", v->v_name,
			    vr.vr_msg);
			break;
		}
		vm_start_boot(v);
		break;
	case IMSG_VMOP_SOCKET:
		if (v->v_state != VM_STARTING)
			break;
		if (vr.vr_error == ENOENT &&
		    !deadline_passed(&v->v_deadline)) {
			vm_retry(v, vm_socket_retry, 25);
			break;
		}
		if (vr.vr_error) {
			vm_strset(&v->v_error, "firecracker's API socket did "
			    "not appear", PROTO_MSG_MAX);
			vm_set_state(v, VM_ERROR);
			vmop_signal_send(v, SIGKILL);
			vm_op_done(v, EIO, "vm %s: %s", v->v_name,
			    S(v->v_error));
			break;
		}
		vm_boot_begin(v);
		break;
	case IMSG_VMOP_SIGNAL:
		if (vr.vr_error)
			vm_op_done(v, vr.vr_error, "vm %s: %s", v->v_name,
			    vr.vr_msg);
		/* Otherwise the end comes with IMSG_VMOP_EXITED. */
		break;
	case IMSG_VMOP_DESTROY:
		if (vr.vr_error) {
			vm_strset(&v->v_error, vr.vr_msg, PROTO_MSG_MAX);
			v->v_state = VM_STOPPED;
			vm_set_state(v, VM_ERROR);
			vm_op_done(v, vr.vr_error, "vm %s: %s", v->v_name,
			    vr.vr_msg);
			prune_done(v, 0);
			return;
		}
		if (v->v_create_failed) {
			if (v->v_client != 0)
				vm_op_done(v, EIO, "vm %s: provisioning its "
				    "disk: %s", v->v_name, S(v->v_error));
			else
				log_info("vm %s: %s", v->v_name, S(v->v_error));
			vm_unsave(v);
			vm_free(v);
			break;
		}
		log_info("vm %s: removed", v->v_name);
		vm_op_done(v, 0, "vm %s removed", v->v_name);
		prune_done(v, 1);
		vm_unsave(v);
		vm_free(v);
		break;
	case IMSG_VMOP_SNAP_BEGIN:
	case IMSG_VMOP_SNAP_END:
		if (fd != -1)
			close(fd);
		vm_snap_result(v, &vr);
		break;
	case IMSG_VMOP_RESTORE:
		if (fd != -1)
			close(fd);
		vm_restore_result(v, &vr);
		break;
	default:
		if (fd != -1)
			close(fd);
		break;
	}
}

static void
vm_exited(struct imsg *imsg)
{
	struct vmop_exited	 ve;
	struct vm		*v;
	char			 why[PROTO_MSG_MAX + 32];
	size_t			 len;
	int			 was = 0;

	if (imsg_read_exact(imsg, &ve, sizeof(ve)) == -1 ||
	    wire_string(ve.ve_id, sizeof(ve.ve_id), &len) == -1)
		fatalx("%s: malformed exit from the parent", __func__);
	if ((v = vm_by_id(ve.ve_id)) == NULL)
		return;
	if (evtimer_initialized(&v->v_timer))
		evtimer_del(&v->v_timer);
	/* Nothing answers a request to a VMM that is gone. */
	vm_boot_end(v);
	v->v_pid = 0;
	was = v->v_state;
	if (was == VM_RUNNING || was == VM_PAUSED) {
		if (ve.ve_status == -1 || ve.ve_status == 0)
			vm_strf(&v->v_error, "the guest shut down");
		else
			vm_strf(&v->v_error, "firecracker ended (wait status "
			    "%d)", ve.ve_status);
		snprintf(why, sizeof(why), "stopped: %s", S(v->v_error));
	} else if (was == VM_STOPPING) {
		/* It ended by itself as the kill went out: not killed. */
		if (ve.ve_status != -1 && WIFEXITED(ve.ve_status))
			vm_strset(&v->v_killed, "", PROTO_MSG_MAX);
		if (v->v_killed != NULL)
			snprintf(why, sizeof(why), "stopped (on request: %s; "
			    "killed)", S(v->v_killed));
		else
			snprintf(why, sizeof(why), "stopped (on request)");
	} else
		snprintf(why, sizeof(why), "ended while starting");
	vm_console_close(v, why);
	vm_fcout_close(v);
	v->v_vmm_state[0] = '\0';
	/* A console session ends with its VM; vm logs -f follows on. */
	vm_viewers_end(v, 0, 0, "vm %s %s", v->v_name, why);
	v->v_snap_paused = 0;
	if (was == VM_STARTING || was == VM_ERROR)
		vm_set_state(v, VM_ERROR);
	else
		vm_set_state(v, VM_STOPPED);
	log_info("vm %s: stopped", v->v_name);
	vm_snap_exited(v);

	switch (v->v_next) {
	case NEXT_START:
		v->v_next = NEXT_NONE;
		vm_start_begin(v);
		return;
	case NEXT_DESTROY:
		v->v_next = NEXT_NONE;
		vm_destroy_begin(v);
		return;
	case NEXT_RESTORE:
		v->v_next = NEXT_NONE;
		vm_restore_begin(v);
		return;
	}
	if (was == VM_STOPPING && v->v_killed != NULL)
		vm_op_done(v, RES_KILLED, "%s; killed", vm_killed_why(v, why,
		    sizeof(why)));
	else if (was == VM_STOPPING || v->v_client != 0)
		vm_op_done(v, 0, "vm %s stopped", v->v_name);
}

/*
 * After our start, the parent tells us every VM it holds (vm_known),
 * then that it told us all (vm_reconcile).  Until then no client is
 * served: our records are brought to agree with the parent's first.
 */
struct vm_known {
	TAILQ_ENTRY(vm_known)	 vk_entry;
	struct vmop_result	 vk_vr;
	int			 vk_ptyfd;
};
static TAILQ_HEAD(, vm_known) known = TAILQ_HEAD_INITIALIZER(known);

static void
vm_known(struct imsg *imsg)
{
	struct vm_known		*vk;
	size_t			 len;

	if ((vk = calloc(1, sizeof(*vk))) == NULL)
		fatal(NULL);
	if (imsg_read_exact(imsg, &vk->vk_vr, sizeof(vk->vk_vr)) == -1 ||
	    wire_string(vk->vk_vr.vr_id, sizeof(vk->vk_vr.vr_id), &len) == -1 ||
	    wire_string(vk->vk_vr.vr_name, sizeof(vk->vk_vr.vr_name),
	    &len) == -1 ||
	    wire_string(vk->vk_vr.vr_image, sizeof(vk->vk_vr.vr_image),
	    &len) == -1)
		fatalx("%s: malformed vm from the parent", __func__);
	vk->vk_ptyfd = imsg_get_fd(imsg);
	TAILQ_INSERT_TAIL(&known, vk, vk_entry);
}

/* When its Firecracker ended, for a VM's error. */
static void
vm_ended_why(struct vm *v, const struct vmop_result *vr, const char *what)
{
	char		 ts[32];
	struct tm	 tm;
	time_t		 t;

	if (vr != NULL && (vr->vr_flags & VR_F_ENDED)) {
		t = vr->vr_exit_time;
		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (vr->vr_exit_status == -1)
			vm_strf(&v->v_error, "%s; found "
			    "ended at %s, while bangerd was not running",
			    what, ts);
		else
			vm_strf(&v->v_error, "%s; ended "
			    "at %s (wait status %d) while the vm worker was "
			    "restarting", what, ts, vr->vr_exit_status);
	} else
		vm_strset(&v->v_error, what, PROTO_MSG_MAX);
}

/* A VM the parent holds but we have no record of: ours again. */
static struct vm *
vm_rebuild(const struct vmop_result *vr)
{
	const char	*why;
	struct vm	*v;

	v = vm_new();
	strlcpy(v->v_id, vr->vr_id, sizeof(v->v_id));
	if (valid_name(vr->vr_name, strlen(vr->vr_name), &why) == -1 ||
	    vm_by_name(vr->vr_name) != NULL)
		snprintf(v->v_name, sizeof(v->v_name), "recovered-%s",
		    vr->vr_id);
	else
		strlcpy(v->v_name, vr->vr_name, sizeof(v->v_name));
	strlcpy(v->v_image, vr->vr_image, sizeof(v->v_image));
	v->v_owner = vr->vr_owner;
	v->v_cpus = vr->vr_cpus ? vr->vr_cpus : defaults.vd_cpus;
	v->v_memory = vr->vr_memory ? vr->vr_memory : defaults.vd_memory;
	v->v_disk = vr->vr_disk_size;
	v->v_created = time(NULL);
	v->v_state = vr->vr_state == VMOP_RUNNING ? VM_RUNNING : VM_STOPPED;
	vm_strset(&v->v_error, "its record was lost; rebuilt from bangerd's",
	    PROTO_MSG_MAX);
	vm_mac(v);
	vm_link(v);
	(void)vm_save(v);
	log_warnx("vm %s: no record of it, but the parent holds it: record "
	    "rebuilt as %s", vr->vr_id, v->v_name);
	return v;
}

/* Ask the parent to remove what it has of v, for no client. */
static void
vm_undo(struct vm *v, const char *why)
{
	log_info("vm %s: %s; removing what is left of it", v->v_name, why);
	vm_strset(&v->v_error, why, PROTO_MSG_MAX);
	v->v_create_failed = 1;
	vm_destroy_begin(v);
}

/* One VM: our record v against the parent's vr (NULL: it has none). */
static void
vm_reconcile_one(struct vm *v, const struct vmop_result *vr, int ptyfd)
{
	struct fc_instance	 fi;
	char			 err[PROTO_MSG_MAX], why[PROTO_MSG_MAX + 16];
	int			 running;

	if (vr == NULL) {
		v->v_known = 0;
		switch (v->v_state) {
		case VM_CREATING:
		case VM_REMOVING:
			/* The parent undid or finished its part. */
			log_info("vm %s: its %s was cut short; nothing of it "
			    "is left", v->v_name, v->v_state == VM_CREATING ?
			    "creation" : "removal");
			vm_unsave(v);
			vm_free(v);
			return;
		default:
			vm_strset(&v->v_error, "its disk and tap are gone "
			    "(bangerd has no record of them); remove it with "
			    "vm rm", PROTO_MSG_MAX);
			v->v_state = VM_STOPPED;
			vm_set_state(v, VM_ERROR);
			return;
		}
	}
	v->v_known = 1;
	vm_from_result(v, vr);
	running = vr->vr_state == VMOP_RUNNING;
	switch (v->v_state) {
	case VM_CREATING:
		/* Its files were not (all) written; no one waits for it. */
		vm_undo(v, "its creation was cut short (bangerd or its vm "
		    "worker stopped)");
		return;
	case VM_REMOVING:
		vm_undo(v, "its removal was cut short");
		return;
	}
	if (vr->vr_state != VMOP_RUNNING && vr->vr_state != VMOP_CREATED) {
		/* Half made or half removed in the parent: remove it. */
		vm_undo(v, "bangerd's record of it was cut short");
		return;
	}
	if (!running) {
		switch (v->v_state) {
		case VM_RUNNING:
		case VM_PAUSED:
		case VM_STOPPING:
			vm_ended_why(v, vr, "firecracker ended");
			v->v_vmm_state[0] = '\0';
			snprintf(why, sizeof(why), "stopped: %s",
			    S(v->v_error));
			vm_console_close(v, why);
			vm_set_state(v, VM_STOPPED);
			break;
		case VM_STARTING:
			vm_strset(&v->v_error, "its start was cut short "
			    "(bangerd or its vm worker stopped); start it "
			    "again", PROTO_MSG_MAX);
			vm_set_state(v, VM_ERROR);
			break;
		}
		return;
	}
	switch (v->v_state) {
	case VM_STARTING:
		/* Running only if Firecracker took InstanceStart. */
		if (fcapi_instance(S(v->v_socket), &fi, err,
		    sizeof(err)) == 0 &&
		    (strcmp(fi.fi_state, "Running") == 0 ||
		    strcmp(fi.fi_state, "Paused") == 0)) {
			strlcpy(v->v_vmm_version, fi.fi_version,
			    sizeof(v->v_vmm_version));
			strlcpy(v->v_vmm_state, fi.fi_state,
			    sizeof(v->v_vmm_state));
			if (v->v_started == 0)
				v->v_started = time(NULL);
			vm_set_state(v, strcmp(fi.fi_state, "Paused") == 0 ?
			    VM_PAUSED : VM_RUNNING);
			break;
		}
		/* FALLTHROUGH */
	case VM_CREATED:
	case VM_STOPPED:
	case VM_ERROR:
		/* A Firecracker no boot of ours was recorded for. */
		vm_strset(&v->v_error, v->v_state == VM_STARTING ? "its start "
		    "was cut short (bangerd or its vm worker stopped); start "
		    "it again" : "a firecracker ran that no start recorded; "
		    "it was killed", PROTO_MSG_MAX);
		log_info("vm %s: %s", v->v_name, S(v->v_error));
		vm_set_state(v, VM_ERROR);
		vmop_signal_send(v, SIGKILL);
		break;
	case VM_STOPPING:
		/* The stop was cut short: the VM still runs. */
		vm_set_state(v, VM_RUNNING);
		break;
	}
	if (v->v_state == VM_RUNNING || v->v_state == VM_PAUSED) {
		/* The parent kept the console's master for us. */
		if (ptyfd != -1 && v->v_ptyfd == -1) {
			vm_console_open(v, ptyfd);
			vm_console_mark(v, "console reconnected after the vm "
			    "worker restarted");
			ptyfd = -1;
		}
		/* Firecracker kept writing into them meanwhile. */
		if (v->v_fclogfd == -1 &&
		    vm_fcout_open(v, err, sizeof(err)) == -1)
			log_info("vm %s: %s", v->v_name, err);
		vm_snap_recover(v);
	}
	if (ptyfd != -1)
		close(ptyfd);
}

/*
 * The parent told us every VM it holds: each of our records is brought
 * to the truth (vm_reconcile_one), a VM it holds that we have no record
 * of is ours again, and only then are clients served.
 */
static void
vm_reconcile(void)
{
	struct vm_known	*vk;
	struct vm	*v, *tv;
	int		 ptyfd;

	TAILQ_FOREACH(v, &vms, v_entry)
		v->v_known = -1;	/* not yet seen */
	while ((vk = TAILQ_FIRST(&known)) != NULL) {
		TAILQ_REMOVE(&known, vk, vk_entry);
		ptyfd = vk->vk_ptyfd;
		if ((v = vm_by_id(vk->vk_vr.vr_id)) == NULL) {
			if (vk->vk_vr.vr_state == VMOP_CREATED ||
			    vk->vk_vr.vr_state == VMOP_RUNNING)
				v = vm_rebuild(&vk->vk_vr);
			else {
				/* Half made: it goes. */
				v = vm_new();
				strlcpy(v->v_id, vk->vk_vr.vr_id,
				    sizeof(v->v_id));
				strlcpy(v->v_name, vk->vk_vr.vr_id,
				    sizeof(v->v_name));
				v->v_state = VM_REMOVING;
				vm_link(v);
			}
		}
		vm_reconcile_one(v, &vk->vk_vr, ptyfd);
		free(vk);
	}
	TAILQ_FOREACH_SAFE(v, &vms, v_entry, tv)
		if (v->v_known == -1)
			vm_reconcile_one(v, NULL, -1);
	if (!reconciled) {
		reconciled = 1;
		if (ctl_fd != -1)
			control_listen(ctl_fd);
		ctl_fd = -1;
	}
}

/*
 * The VMs made from an image, of every user: the names of those uid may
 * see, space-separated, in names; the number of them all in *np.
 * Returns how many there are.
 */
int
vm_image_users(const char *image, uid_t uid, char *names, size_t len,
    uint32_t *np)
{
	struct vm	*v;
	uint32_t	 n = 0, shown = 0;

	names[0] = '\0';
	TAILQ_FOREACH(v, &vms, v_entry) {
		if (strcmp(v->v_image, image) != 0)
			continue;
		n++;
		if (!vm_visible(v, uid))
			continue;
		if (shown++ > 0)
			strlcat(names, " ", len);
		strlcat(names, v->v_name, len);
	}
	*np = n;
	return n;
}

/* An image's details for a client: we add the VMs made from it. */
static void
vm_image_info(struct imsg *imsg)
{
	struct image_info	 im;
	uint32_t		 client = imsg_get_id(imsg), n, shown = 0;
	uid_t			 uid;
	struct vm		*v;
	size_t			 len;

	if (imsg_read_exact(imsg, &im, sizeof(im)) == -1 ||
	    wire_string(im.im_name, sizeof(im.im_name), &len) == -1)
		fatalx("%s: bad image info", __func__);
	if (control_uid(client, &uid) == -1)
		return;
	vm_image_users(im.im_name, uid, im.im_vms, sizeof(im.im_vms), &n);
	TAILQ_FOREACH(v, &vms, v_entry)
		if (strcmp(v->v_image, im.im_name) == 0 && vm_visible(v, uid))
			shown++;
	/* The parent's count includes VMs our records may not have yet. */
	if (im.im_nvms < n)
		im.im_nvms = n;
	im.im_nhidden = im.im_nvms - shown;
	control_send(client, IMSG_CTL_IMAGE_INFO, &im, sizeof(im));
}

static int
vm_dispatch_parent(struct imsgev *iev, struct imsg *imsg)
{
	int	 fd;

	switch (imsg_get_type(imsg)) {
	case IMSG_CTL_SOCKET:
		if ((fd = imsg_get_fd(imsg)) == -1)
			fatalx("%s: control socket without an fd", __func__);
		if (reconciled)
			control_listen(fd);
		else {
			if (ctl_fd != -1)
				close(ctl_fd);
			ctl_fd = fd;
		}
		return 0;
	case IMSG_VM_DEFAULTS:
		if (imsg_read_exact(imsg, &defaults, sizeof(defaults)) == -1)
			fatalx("%s: bad defaults", __func__);
		return 0;
	case IMSG_VMOP_RESULT:
		vm_result(imsg);
		return 0;
	case IMSG_VMOP_EXITED:
		vm_exited(imsg);
		return 0;
	case IMSG_VMOP_KNOWN:
		vm_known(imsg);
		return 0;
	case IMSG_VMOP_KNOWN_END:
		vm_reconcile();
		return 0;
	case IMSG_IMGOP_INFO:
		vm_image_info(imsg);
		return 0;
	case IMSG_VMOP_PROGRESS:
		vm_snap_progress(imsg);
		return 0;
	case IMSG_IMGOP_PROGRESS: {
		struct image_progress	 ip;

		if (imsg_read_exact(imsg, &ip, sizeof(ip)) == -1)
			fatalx("%s: bad image progress", __func__);
		control_send(imsg_get_id(imsg), IMSG_CTL_IMAGE_PROGRESS, &ip,
		    sizeof(ip));
		return 0;
	}
	case IMSG_SNAP_INFO:
	case IMSG_STATUS_DAEMON:
	case IMSG_STATUS_WORKER:
	case IMSG_STATUS_END:
	case IMSG_RESULT:
	case IMSG_UPDATE_INFO:
	case IMSG_UPDATE_PROGRESS:
		control_relay(imsg_get_id(imsg), imsg_get_type(imsg), imsg);
		return 0;
	}
	return -1;
}

/* Clients' requests, as the control server hands them on. */
static const struct control_ops vm_control_ops = {
	.co_create = vm_ctl_create,
	.co_action = vm_ctl_action,
	.co_ls = vm_ctl_ls,
	.co_logs = vm_ctl_logs,
	.co_console = vm_ctl_console,
	.co_input = vm_console_input,
	.co_gone = vm_client_gone,
	.co_image_users = vm_image_users,
	.co_snap = vm_ctl_snap,
};

void
vm_worker(struct imsgev *iev, const struct worker_init *wi)
{
	/* The event loop writes to the parent: nothing waits on it here. */
	vmop_channel(iev);
	worker_set_handler(vm_dispatch_parent);
	iev->handler = worker_dispatch_parent;
	iev->data = iev;
	bridge_addr.s_addr = wi->wi_bridge_addr;
	bridge_prefix = wi->wi_bridge_prefix;
	vm_load();
	control_init(iev, wi, &vm_control_ops);
	/* From now on synced records are saved in group commits. */
	vm_save_grouped();
	imsg_event_add(iev);
	event_dispatch();
	exit(0);
}

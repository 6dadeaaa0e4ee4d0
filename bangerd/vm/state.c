/*
 * The VMs' state machine as clients drive it: the control requests
 * (create, start, stop, kill, restart, rm, prune, pause, resume, wait,
 * show, ls), a VM's change of state, and the end of the operation in
 * flight.  The steps over Firecracker's API are boot.c's; the parent's
 * answers come in through vm.c.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

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

#include "vmint.h"
#include "guestfs.h"
#include "log.h"
#include "validate.h"

#define DEFAULT_IMAGE		"default"
#define VM_CPUS_MAX		32
#define VM_MEM_MIN		128		/* MiB */
#define VM_MEM_MAX		(1024 * 1024)

struct prune {
	TAILQ_ENTRY(prune)	 p_entry;
	uint32_t		 p_client;
	int			 p_pending;
	int			 p_done;
	int			 p_failed;
};

static TAILQ_HEAD(, prune) prunes = TAILQ_HEAD_INITIALIZER(prunes);

static void	 vm_create_send(struct vm *, const char *);

void
vm_set_state(struct vm *v, int state)
{
	struct vm_waiter	*vw, *tvw;

	if (v->v_state == state)
		return;
	log_debug("vm %s: %s -> %s", v->v_name, state_name(v->v_state),
	    state_name(state));
	v->v_state = state;
	if (state != VM_ERROR && state != VM_STOPPED)
		vm_strset(&v->v_error, "", PROTO_MSG_MAX);
	(void)vm_save(v);
	TAILQ_FOREACH_SAFE(vw, &v->v_waiters, vw_entry, tvw) {
		if (vw->vw_state != state)
			continue;
		TAILQ_REMOVE(&v->v_waiters, vw, vw_entry);
		evtimer_del(&vw->vw_timer);
		control_reply(vw->vw_client, 0, "vm %s is %s", v->v_name,
		    state_name(state));
		free(vw);
	}
}

/* The operation in flight ended: tell the client that asked, if any. */
void
vm_op_done(struct vm *v, int error, const char *fmt, ...)
{
	char	 msg[PROTO_MSG_MAX];
	va_list	 ap;
	uint32_t client = v->v_client;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->v_client = 0;
	v->v_next = NEXT_NONE;
	vm_strset(&v->v_restore, "", PROTO_MSG_MAX);
	v->v_restart = RESTART_NONE;
	v->v_stop_force = 0;
	vm_strset(&v->v_killed, "", PROTO_MSG_MAX);
	/* RES_KILLED: the kill was logged as it was decided. */
	if (error > 0)
		log_warnx("vm %s: %s", v->v_name, msg);
	if (client != 0)
		control_reply(client, error, "%s", msg);
}

void
vm_destroy_begin(struct vm *v)
{
	vm_set_state(v, VM_REMOVING);
	vmop_id_send(IMSG_VMOP_DESTROY, v);
}

void
prune_done(struct vm *v, int ok)
{
	struct prune	*p;

	TAILQ_FOREACH(p, &prunes, p_entry)
		if (p->p_client == v->v_prune)
			break;
	if (p == NULL)
		return;
	if (ok)
		p->p_done++;
	else
		p->p_failed++;
	if (--p->p_pending > 0)
		return;
	if (p->p_failed)
		control_reply(p->p_client, EIO, "removed %d VMs; %d could not "
		    "be removed", p->p_done, p->p_failed);
	else
		control_reply(p->p_client, 0, "removed %d VM%s", p->p_done,
		    p->p_done == 1 ? "" : "s");
	TAILQ_REMOVE(&prunes, p, p_entry);
	free(p);
}

static void
vm_new_id(char *id, size_t len)
{
	do {
		snprintf(id, len, "%08x", arc4random());
	} while (vm_by_id(id) != NULL);
}

/*
 * A host port is published by one VM only (any address overlaps every
 * other address); the refusal names the VM that has it.
 */
static int
publish_conflict(uint32_t client, uid_t uid, const struct ctl_vm_create *cc)
{
	const struct proto_publish *a, *b;
	struct in_addr	 ha;
	struct vm	*v;
	const char	*why;
	uint32_t	 i, j;
	size_t		 k;

	if (cc->cc_npublish > PROTO_PUBLISH_MAX) {
		control_reply(client, EINVAL, "at most %d published ports",
		    PROTO_PUBLISH_MAX);
		return -1;
	}
	for (i = 0; i < cc->cc_npublish; i++) {
		a = &cc->cc_publish[i];
		if ((a->pp_proto != IPPROTO_TCP && a->pp_proto != IPPROTO_UDP) ||
		    a->pp_host_port == 0 || a->pp_guest_port == 0) {
			control_reply(client, EINVAL, "bad published port");
			return -1;
		}
		ha.s_addr = a->pp_host_addr;
		if (valid_publish_host(ha, &why) == -1) {
			control_reply(client, EINVAL, "--publish: host address "
			    "%s: %s; NAT cannot forward from it (leave the "
			    "address out to publish on every address of the "
			    "host)", inet_ntoa(ha), why);
			return -1;
		}
		if (ha.s_addr != INADDR_ANY && bridge_prefix > 0 &&
		    ((ntohl(ha.s_addr) ^ ntohl(bridge_addr.s_addr)) >>
		    (32 - bridge_prefix)) == 0) {
			control_reply(client, EINVAL, "--publish: host address "
			    "%s is in the VMs' own subnet (%s/%d)",
			    inet_ntoa(ha), inet_ntoa(bridge_addr),
			    bridge_prefix);
			return -1;
		}
		/* The host's own services live below 1024: root's to give. */
		if (uid != 0 && a->pp_host_port < 1024) {
			control_reply(client, EPERM, "host port %u: only root "
			    "may publish ports below 1024", a->pp_host_port);
			return -1;
		}
		for (j = 0; j < i; j++) {
			b = &cc->cc_publish[j];
			if (a->pp_proto == b->pp_proto &&
			    a->pp_host_port == b->pp_host_port) {
				control_reply(client, EEXIST, "host port %u/%s "
				    "is published twice", a->pp_host_port,
				    a->pp_proto == IPPROTO_TCP ? "tcp" : "udp");
				return -1;
			}
		}
		TAILQ_FOREACH(v, &vms, v_entry)
			for (k = 0; k < v->v_npublish; k++) {
				b = &v->v_publish[k];
				if (a->pp_proto != b->pp_proto ||
				    a->pp_host_port != b->pp_host_port ||
				    (a->pp_host_addr != 0 &&
				    b->pp_host_addr != 0 &&
				    a->pp_host_addr != b->pp_host_addr))
					continue;
				control_reply(client, EEXIST, "host port %u/%s "
				    "is already published by VM %s",
				    a->pp_host_port, a->pp_proto ==
				    IPPROTO_TCP ? "tcp" : "udp", v->v_name);
				return -1;
			}
	}
	return 0;
}

void
vm_ctl_create(uint32_t client, uid_t uid, const struct ctl_vm_create *cc)
{
	const char	*why, *image;
	struct vm	*v;
	char		 kerr[GUESTFS_ERR_MAX], from_id[PROTO_VMID_MAX] = "";
	size_t		 len;

	if (wire_string(cc->cc_name, sizeof(cc->cc_name), &len) == -1 ||
	    wire_string(cc->cc_image, sizeof(cc->cc_image), &len) == -1) {
		control_reply(client, EINVAL, "bad request");
		return;
	}
	if (valid_name(cc->cc_name, strlen(cc->cc_name), &why) == -1) {
		control_reply(client, EINVAL, "invalid VM name \"%s\": %s; "
		    "names are 1 to 63 of a-z, 0-9 and '-', starting with a "
		    "letter or digit", cc->cc_name, why);
		return;
	}
	image = cc->cc_image[0] ? cc->cc_image : DEFAULT_IMAGE;
	if (valid_name(image, strlen(image), &why) == -1) {
		control_reply(client, EINVAL, "invalid image name \"%s\": %s",
		    image, why);
		return;
	}
	if (vm_by_name(cc->cc_name) != NULL) {
		control_reply(client, EEXIST, "a VM named %s already exists",
		    cc->cc_name);
		return;
	}
	if (nvms >= defaults.vd_max_vms) {
		control_reply(client, ENOSPC, "vm %s: bangerd holds %zu VMs, "
		    "its max-vms; remove one, or raise max-vms in "
		    "bangerd.conf(5)", cc->cc_name, nvms);
		return;
	}
	if (publish_conflict(client, uid, cc) == -1)
		return;
	if (wire_string(cc->cc_authkeys, sizeof(cc->cc_authkeys), &len) == -1) {
		control_reply(client, EINVAL, "bad request");
		return;
	}
	if (wire_string(cc->cc_sshkey, sizeof(cc->cc_sshkey), &len) == -1 ||
	    (len > 0 && cc->cc_sshkey[0] != '/')) {
		control_reply(client, EINVAL, "bad request");
		return;
	}
	len = strlen(cc->cc_authkeys);
	if (len > 0 && guestfs_check_authkeys(cc->cc_authkeys, kerr,
	    sizeof(kerr)) == -1) {
		control_reply(client, EINVAL, "--ssh-key: %s", kerr);
		return;
	}
	if (cc->cc_cpus > VM_CPUS_MAX) {
		control_reply(client, EINVAL, "%u cpus: a VM has 1 to %d",
		    cc->cc_cpus, VM_CPUS_MAX);
		return;
	}
	if (cc->cc_memory != 0 && (cc->cc_memory < VM_MEM_MIN ||
	    cc->cc_memory > VM_MEM_MAX)) {
		control_reply(client, EINVAL, "memory %" PRIu64 " MiB: a VM "
		    "has %d MiB to %d MiB", cc->cc_memory, VM_MEM_MIN,
		    VM_MEM_MAX);
		return;
	}
	if (cc->cc_disk % 512 != 0 || cc->cc_disk > (16ULL << 40)) {
		control_reply(client, EINVAL, "disk size %" PRIu64 " bytes: "
		    "a whole number of 512-byte sectors up to 16 TiB",
		    cc->cc_disk);
		return;
	}

	v = vm_new();
	vm_new_id(v->v_id, sizeof(v->v_id));
	strlcpy(v->v_name, cc->cc_name, sizeof(v->v_name));
	strlcpy(v->v_image, image, sizeof(v->v_image));
	v->v_owner = uid;
	v->v_cpus = cc->cc_cpus ? cc->cc_cpus : defaults.vd_cpus;
	v->v_memory = cc->cc_memory ? cc->cc_memory : defaults.vd_memory;
	v->v_disk = cc->cc_disk ? cc->cc_disk : defaults.vd_disk;
	v->v_created = time(NULL);
	v->v_state = VM_CREATING;
	v->v_client = client;
	v->v_next = (cc->cc_flags & CTL_VM_F_START) ? NEXT_START : NEXT_NONE;
	vm_publish_set(v, cc->cc_publish, cc->cc_npublish);
	if ((v->v_authkeys = strdup(cc->cc_authkeys)) == NULL)
		fatal(NULL);
	vm_strset(&v->v_sshkey, cc->cc_sshkey, sizeof(cc->cc_sshkey));
	vm_mac(v);
	v->v_disk_asked = cc->cc_disk;
	if (cc->cc_from_vm[0] != '\0' &&
	    vm_clone_prepare(client, uid, cc, v, from_id,
	    sizeof(from_id)) == -1)
		goto fail;
	/* Recorded before anything of it exists anywhere. */
	if (vm_save(v) == -1) {
		control_reply(client, EIO, "vm %s: cannot write its record",
		    v->v_name);
		vm_unsave(v);
		goto fail;
	}
	vm_link(v);
	vm_create_send(v, from_id);
	return;
fail:
	freezero(v->v_authkeys, strlen(v->v_authkeys));
	free(v->v_publish);
	free(v->v_sshkey);
	free(v->v_clone_of);
	free(v->v_clone_snap);
	free(v);
}

/*
 * The parent makes its address, disk and tap (a clone's from the
 * snapshot of VM from_id); we provision it then.
 */
static void
vm_create_send(struct vm *v, const char *from_id)
{
	struct vmop_create vc;

	memset(&vc, 0, sizeof(vc));
	strlcpy(vc.vc_id, v->v_id, sizeof(vc.vc_id));
	strlcpy(vc.vc_name, v->v_name, sizeof(vc.vc_name));
	strlcpy(vc.vc_image, v->v_image, sizeof(vc.vc_image));
	/* Asked for: exactly that; the default: at least the image's. */
	vc.vc_disk_size = v->v_disk_asked ? v->v_disk_asked : v->v_disk;
	vc.vc_flags = v->v_disk_asked ? 0 : VC_F_DISK_AT_LEAST;
	if (v->v_clone_snap != NULL) {
		/* a clone: the snapshot's disk, as large as it is */
		strlcpy(vc.vc_from_id, from_id, sizeof(vc.vc_from_id));
		strlcpy(vc.vc_from_snap, v->v_clone_snap,
		    sizeof(vc.vc_from_snap));
		vc.vc_disk_size = 0;
		vc.vc_flags = VC_F_DISK_AT_LEAST;
	}
	vc.vc_owner = v->v_owner;
	vmop_send(IMSG_VMOP_CREATE, &vc, sizeof(vc));
}

static void
vm_wait_timeout(int fd, short event, void *arg)
{
	struct vm_waiter	*vw = arg;
	struct vm		*v = vw->vw_vm;

	TAILQ_REMOVE(&v->v_waiters, vw, vw_entry);
	control_reply(vw->vw_client, ETIMEDOUT, "vm %s: still %s, not %s, "
	    "after the timeout", v->v_name, state_name(v->v_state),
	    state_name(vw->vw_state));
	free(vw);
}

/* A VM's end in this worker: what it holds goes, then its record's memory. */
void
vm_free(struct vm *v)
{
	struct vm_waiter	*vw;

	vm_boot_end(v);
	/* Its disk child ends, or dies writing to the closed pipe. */
	if (v->v_prov != NULL)
		(void)vm_provision_end(v);
	vm_console_close(v, NULL);
	vm_fcout_close(v);
	vm_viewers_end(v, 1, 0, "vm %s was removed", v->v_name);
	if (evtimer_initialized(&v->v_timer))
		evtimer_del(&v->v_timer);
	while ((vw = TAILQ_FIRST(&v->v_waiters)) != NULL) {
		TAILQ_REMOVE(&v->v_waiters, vw, vw_entry);
		evtimer_del(&vw->vw_timer);
		control_reply(vw->vw_client, ENOENT, "vm %s was removed",
		    v->v_name);
		free(vw);
	}
	vm_unlink(v);
	free(v->v_publish);
	free(v->v_inbuf);
	free(v->v_mbuf);
	free(v->v_socket);
	free(v->v_kernel);
	free(v->v_initrd);
	free(v->v_diskpath);
	free(v->v_bootargs);
	free(v->v_hostkey);
	free(v->v_sshkey);
	free(v->v_domain);
	free(v->v_error);
	free(v->v_killed);
	free(v->v_snap);
	free(v->v_snap_msg);
	free(v->v_restore);
	free(v->v_clone_of);
	free(v->v_clone_snap);
	freezero(v->v_clone_key, v->v_clone_key ? strlen(v->v_clone_key) : 0);
	freezero(v->v_authkeys, v->v_authkeys ? strlen(v->v_authkeys) : 0);
	free(v);
}

/*
 * Each VM pruned is saved as removing and its removal asked of the
 * parent; the records join this turn's group commit, and the requests
 * leave only once it is synced (imsg_hold): all share its syncs.
 */
static void
vm_ctl_prune(uint32_t client, uid_t uid)
{
	struct prune	*p;
	struct vm	*v, *tv;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal(NULL);
	p->p_client = client;
	TAILQ_INSERT_TAIL(&prunes, p, p_entry);
	TAILQ_FOREACH_SAFE(v, &vms, v_entry, tv) {
		if (!vm_visible(v, uid) || v->v_client != 0 ||
		    v->v_snap != NULL ||
		    (v->v_state != VM_STOPPED && v->v_state != VM_CREATED &&
		    v->v_state != VM_ERROR))
			continue;
		p->p_pending++;
		v->v_prune = client;
		if (!v->v_known) {
			/* Nothing of it is left on the host. */
			vm_unsave(v);
			vm_free(v);
			p->p_pending--;
			p->p_done++;
			continue;
		}
		vm_destroy_begin(v);
	}
	if (p->p_pending == 0) {
		control_reply(client, 0, "removed %d VM%s", p->p_done,
		    p->p_done == 1 ? "" : "s");
		TAILQ_REMOVE(&prunes, p, p_entry);
		free(p);
	}
}

/* Whether the parent has v, so that it can start; else the client is told. */
int
vm_startable(uint32_t client, const struct vm *v)
{
	if (v->v_known)
		return 1;
	control_reply(client, EIO, "vm %s cannot start: %s", v->v_name,
	    S(v->v_error));
	return 0;
}

void
vm_ctl_action(uint32_t client, uid_t uid, const struct ctl_vm *cv)
{
	struct vm_info		 vi;
	struct vm_waiter	*vw;
	struct timeval		 tv;
	struct vm		*v;
	char			 err[PROTO_MSG_MAX];
	size_t			 len;
	int			 want, running, force;

	if (wire_string(cv->cv_name, sizeof(cv->cv_name), &len) == -1 ||
	    wire_string(cv->cv_state, sizeof(cv->cv_state), &len) == -1) {
		control_reply(client, EINVAL, "bad request");
		return;
	}
	if (cv->cv_action == CTL_VM_PRUNE) {
		vm_ctl_prune(client, uid);
		return;
	}
	if ((v = vm_by_name(cv->cv_name)) == NULL || !vm_visible(v, uid)) {
		control_reply(client, ENOENT, "no VM named %s", cv->cv_name);
		return;
	}
	if (cv->cv_action == CTL_VM_SHOW) {
		vm_info(v, &vi);
		control_info(client, &vi);
		control_reply(client, 0, "%s", "");
		return;
	}
	if (cv->cv_action == CTL_VM_WAIT) {
		if ((want = state_by_name(cv->cv_state[0] ? cv->cv_state :
		    "running")) == -1) {
			control_reply(client, EINVAL, "unknown state \"%s\": "
			    "one of created, starting, running, paused, "
			    "stopping, stopped, error", cv->cv_state);
			return;
		}
		if (v->v_state == want) {
			control_reply(client, 0, "vm %s is %s", v->v_name,
			    state_name(want));
			return;
		}
		if ((vw = calloc(1, sizeof(*vw))) == NULL)
			fatal(NULL);
		vw->vw_client = client;
		vw->vw_state = want;
		vw->vw_vm = v;
		TAILQ_INSERT_TAIL(&v->v_waiters, vw, vw_entry);
		evtimer_set(&vw->vw_timer, vm_wait_timeout, vw);
		tv.tv_sec = cv->cv_timeout > 0 ? cv->cv_timeout : 60;
		tv.tv_usec = 0;
		evtimer_add(&vw->vw_timer, &tv);
		return;
	}
	force = (cv->cv_flags & CTL_VM_F_FORCE) != 0;
	/*
	 * A start waiting on its VMM's answers can be cut short by a kill
	 * or rm -f: its client is told, and the kill goes ahead.
	 */
	if (v->v_client != 0 && v->v_state == VM_STARTING && v->v_pid > 0 &&
	    (cv->cv_action == CTL_VM_KILL ||
	    (cv->cv_action == CTL_VM_RM && force))) {
		if (evtimer_initialized(&v->v_timer))
			evtimer_del(&v->v_timer);
		vm_boot_end(v);
		vm_op_done(v, EINTR, "vm %s: the start was cut short by vm %s",
		    v->v_name, cv->cv_action == CTL_VM_KILL ? "kill" :
		    "rm -f");
	}
	/* A snapshot its VM's stop cut short still ends with the parent. */
	if (v->v_client != 0 || v->v_snap != NULL ||
	    v->v_state == VM_CREATING || v->v_state == VM_REMOVING) {
		control_reply(client, EBUSY, "vm %s is busy (%s); try again",
		    v->v_name, v->v_snap != NULL ? "a snapshot" :
		    state_name(v->v_state));
		return;
	}
	running = v->v_state == VM_RUNNING || v->v_state == VM_PAUSED ||
	    v->v_state == VM_STOPPING;

	switch (cv->cv_action) {
	case CTL_VM_START:
		if (v->v_state == VM_PAUSED) {
			control_reply(client, EALREADY, "vm %s is paused: "
			    "resume it (bangerctl vm resume %s)", v->v_name,
			    v->v_name);
			return;
		}
		if (running || v->v_state == VM_STARTING) {
			control_reply(client, EALREADY, "vm %s is already %s",
			    v->v_name, state_name(v->v_state));
			return;
		}
		if (!vm_startable(client, v))
			return;
		v->v_client = client;
		vm_start_begin(v);
		return;
	case CTL_VM_STOP:
	case CTL_VM_KILL:
		if (!running && v->v_state != VM_STARTING) {
			control_reply(client, EALREADY, "vm %s is not running "
			    "(%s)", v->v_name, state_name(v->v_state));
			return;
		}
		if (cv->cv_action == CTL_VM_KILL) {
			v->v_client = client;
			vm_set_state(v, VM_STOPPING);
			vmop_signal_send(v, SIGKILL);
			return;
		}
		force = force || v->v_state == VM_STARTING;
		v->v_client = client;
		vm_stop_begin(v, force, cv->cv_timeout);
		return;
	case CTL_VM_RESTART:
		if (!vm_startable(client, v))
			return;
		if (!running) {
			v->v_client = client;
			v->v_restart = RESTART_START;
			v->v_restart_was = v->v_state;
			vm_start_begin(v);
			return;
		}
		v->v_client = client;
		v->v_restart = RESTART_STOP;
		v->v_next = NEXT_START;
		vm_stop_begin(v, force, cv->cv_timeout);
		return;
	case CTL_VM_RM:
		if (running || v->v_state == VM_STARTING) {
			if (!force) {
				control_reply(client, EBUSY, "vm %s is %s; stop "
				    "it first, or rm -f", v->v_name,
				    state_name(v->v_state));
				return;
			}
			v->v_client = client;
			v->v_next = NEXT_DESTROY;
			vm_set_state(v, VM_STOPPING);
			vmop_signal_send(v, SIGKILL);
			return;
		}
		v->v_client = client;
		if (!v->v_known) {
			vm_unsave(v);
			vm_op_done(v, 0, "vm %s removed", v->v_name);
			vm_free(v);
			return;
		}
		vm_destroy_begin(v);
		return;
	case CTL_VM_PAUSE:
	case CTL_VM_RESUME:
		want = cv->cv_action == CTL_VM_PAUSE ? VM_RUNNING : VM_PAUSED;
		if (v->v_state != want) {
			if (v->v_state == (want == VM_RUNNING ? VM_PAUSED :
			    VM_RUNNING))
				control_reply(client, EALREADY, "vm %s is "
				    "already %s", v->v_name,
				    state_name(v->v_state));
			else
				control_reply(client, EALREADY, "vm %s is %s, "
				    "not %s", v->v_name,
				    state_name(v->v_state), state_name(want));
			return;
		}
		v->v_client = client;
		if (vm_api(v, "PATCH", "/vm", json_pack("{s:s}", "state",
		    want == VM_RUNNING ? "Paused" : "Resumed"), vm_paused,
		    err, sizeof(err)) == -1)
			vm_paused(v, -1, NULL, err, EIO);
		return;
	}
	control_reply(client, EINVAL, "unknown action %d", cv->cv_action);
}

void
vm_ctl_ls(uint32_t client, uid_t uid)
{
	struct ctl_info	 ci;
	struct vm_info	 vi;
	struct vm	*v;

	control_info_start(&ci, client);
	TAILQ_FOREACH(v, &vms, v_entry) {
		if (!vm_visible(v, uid) || v->v_state == VM_CREATING)
			continue;
		vm_info(v, &vi);
		control_info_add(&ci, &vi);
	}
	control_info_end(&ci);
	control_reply(client, 0, "%s", "");
}

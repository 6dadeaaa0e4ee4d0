/*
 * The parent's answers to its workers.  Each worker may send only the
 * messages listed for it here, each exactly the size of its struct, with
 * every string field terminated; anything else is a protocol violation
 * and the caller kills the worker.  The parent derives whatever it acts
 * on from its own configuration and records, never from the message.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <ifaddrs.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "log.h"
#include "netops.h"
#include "manifest.h"	/* shared: the parent checks again */
#include "validate.h"

#define VMOP_DISK_MAX	(16ULL << 40)	/* 16 TiB */
#define VMOP_MEM_MIN	128		/* MiB */
#define VMOP_MEM_MAX	(1024 * 1024)	/* MiB */
#define VMOP_CPUS_MAX	32

/*
 * The client's credentials and command name a request carries: the
 * command must be the one that request serves (want).
 */
static int
audit_check(struct worker *w, const struct ctl_audit *ca, const char *want)
{
	size_t	 len;

	if (wire_string(ca->ca_cmd, sizeof(ca->ca_cmd), &len) == -1) {
		parent_worker_violation(w, "unterminated command name");
		return -1;
	}
	if (strcmp(ca->ca_cmd, want) == 0)
		return 0;
	parent_worker_violation(w, "command \"%s\" for a %s request",
	    ca->ca_cmd, want);
	return -1;
}

int
read_request(struct worker *w, struct imsg *imsg, void *data, size_t len)
{
	int	 fd;

	if (imsg_read_exact(imsg, data, len) == -1) {
		parent_worker_violation(w, "message type %u of %zu bytes, "
		    "expected %zu", imsg_get_type(imsg), imsg_get_len(imsg),
		    len);
		return -1;
	}
	if ((fd = imsg_get_fd(imsg)) != -1) {
		close(fd);
		parent_worker_violation(w, "unexpected fd with message type %u",
		    imsg_get_type(imsg));
		return -1;
	}
	return 0;
}

void
priv_status(struct worker *vm, uint32_t peerid)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct status_daemon	 sd;
	struct status_worker	 sw;
	struct worker		*w;
	int			 i;

	memset(&sd, 0, sizeof(sd));
	strlcpy(sd.sd_version, BANGER_VERSION, sizeof(sd.sd_version));
	sd.sd_pid = getpid();
	sd.sd_verbose = log_getverbose();
	sd.sd_started = env->bd_started;
	sd.sd_now = time(NULL);
	strlcpy(sd.sd_config, env->bd_conffile, sizeof(sd.sd_config));
	strlcpy(sd.sd_statedir, conf->cf_statedir, sizeof(sd.sd_statedir));
	strlcpy(sd.sd_socket, conf->cf_socket, sizeof(sd.sd_socket));
	strlcpy(sd.sd_sockgroup, conf->cf_sockgroup, sizeof(sd.sd_sockgroup));
	strlcpy(sd.sd_bridge, conf->cf_bridge, sizeof(sd.sd_bridge));
	inet_ntop(AF_INET, &conf->cf_bridge_addr, sd.sd_bridge_addr,
	    sizeof(sd.sd_bridge_addr));
	sd.sd_bridge_prefix = conf->cf_bridge_prefix;
	strlcpy(sd.sd_egress, conf->cf_egress, sizeof(sd.sd_egress));
	strlcpy(sd.sd_domain, conf->cf_domain, sizeof(sd.sd_domain));
	strlcpy(sd.sd_firecracker, conf->cf_firecracker,
	    sizeof(sd.sd_firecracker));
	strlcpy(sd.sd_jailer, conf->cf_jailer, sizeof(sd.sd_jailer));
	strlcpy(sd.sd_storage, env->bd_storage, sizeof(sd.sd_storage));
	strlcpy(sd.sd_update_url, conf->cf_update_url,
	    sizeof(sd.sd_update_url));
	sd.sd_nat = env->bd_nat;
	sd.sd_resolver = env->bd_resolver;
	sd.sd_vm_uid_min = conf->cf_vm_uid_min;
	sd.sd_vm_uid_max = conf->cf_vm_uid_max;
	sd.sd_def_cpus = conf->cf_def_cpus;
	sd.sd_def_memory = conf->cf_def_memory;
	sd.sd_def_disk = conf->cf_def_disk;
	{
		struct conf_image	*img;

		TAILQ_FOREACH(img, &conf->cf_images, img_entry)
			sd.sd_nimages++;
	}
	strlcpy(sd.sd_cgroup_mode, cgroup_mode_name(env->bd_cgroup.ct_mode),
	    sizeof(sd.sd_cgroup_mode));
	if (env->bd_cgroup.ct_mode != CGT_NONE)
		snprintf(sd.sd_cgroup, sizeof(sd.sd_cgroup), "%s/%s",
		    env->bd_cgroup.ct_mount, env->bd_cgroup.ct_parent);
	strlcpy(sd.sd_cgroup_why, env->bd_cgroup.ct_why,
	    sizeof(sd.sd_cgroup_why));
	imsg_compose_event(vm->w_iev, IMSG_STATUS_DAEMON, peerid, 0, -1, &sd,
	    sizeof(sd));

	for (i = 0; i < PROC_MAX; i++) {
		w = &env->bd_workers[i];
		memset(&sw, 0, sizeof(sw));
		strlcpy(sw.sw_role, w->w_name, sizeof(sw.sw_role));
		sw.sw_pid = w->w_pid;
		sw.sw_uid = env->bd_uid;
		sw.sw_gid = env->bd_gid;
		sw.sw_state = w->w_state;
		sw.sw_restarts = w->w_restarts;
		sw.sw_started = w->w_started;
		(void)worker_root(w->w_role, conf, sw.sw_chroot,
		    sizeof(sw.sw_chroot));
		imsg_compose_event(vm->w_iev, IMSG_STATUS_WORKER, peerid, 0,
		    -1, &sw, sizeof(sw));
	}
	imsg_compose_event(vm->w_iev, IMSG_STATUS_END, peerid, 0, -1, NULL, 0);
}

/*
 * A VM id in a request: terminated, of the right shape, and known (or,
 * for create, unknown) to the parent.  Anything else is a violation.
 */
int
vmid_check(struct worker *w, const char *field, size_t size, int create,
    struct pvm **pvp)
{
	const char	*why;
	size_t		 len;

	if (wire_string(field, size, &len) == -1) {
		parent_worker_violation(w, "unterminated vm id");
		return -1;
	}
	if (valid_vm_id(field, len, &why) == -1) {
		parent_worker_violation(w, "bad vm id \"%s\": %s", field, why);
		return -1;
	}
	*pvp = pvm_find(field);
	if (create && *pvp != NULL) {
		parent_worker_violation(w, "vm %s already exists", field);
		return -1;
	}
	if (!create && *pvp == NULL) {
		parent_worker_violation(w, "unknown vm %s", field);
		return -1;
	}
	/*
	 * A request about a VM whose Firecracker is being spawned waits
	 * for the spawn's end: it then finds the VM running (or not), as
	 * when the start was one step.
	 */
	if (*pvp != NULL && (*pvp)->pv_spawn != NULL)
		vmop_spawn_finish(*pvp);
	return 0;
}

/* Whether addr is an address of one of the host's interfaces. */
static int
host_local_addr(struct in_addr addr)
{
	struct ifaddrs	*ifa, *i;
	int		 found = 0;

	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i != NULL && !found; i = i->ifa_next)
		if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
		    addr.s_addr)
			found = 1;
	freeifaddrs(ifa);
	return found;
}

/*
 * A starting VM's published ports, against the parent's own record
 * (its owner) and the other running VMs.  What the vm worker refuses
 * at create (a bad protocol or port, a host address NAT cannot forward
 * from or in the VMs' own subnet, a port below 1024 for a VM not
 * root's, a port twice) is a violation here; what may have changed
 * since (the host's addresses, other VMs' ports) fails the start with
 * its reason in msg.  Returns 0, 1 (refused, msg says why) or -1
 * (violation, the worker is killed).
 */
static int
publish_check(struct worker *w, struct pvm *pv, const struct vmop_start *vs,
    char *msg, size_t len)
{
	struct bangerd_config	*conf = env->bd_conf;
	const struct proto_publish *a, *b;
	struct in_addr		 ha;
	struct pvm		*other;
	const char		*why;
	uint32_t		 mask, i, j;
	size_t			 k;

	if (vs->vs_npublish > PROTO_PUBLISH_MAX) {
		parent_worker_violation(w, "vm %s: %u published ports",
		    pv->pv_id, vs->vs_npublish);
		return -1;
	}
	mask = conf->cf_bridge_prefix ? htonl(0xffffffffU <<
	    (32 - conf->cf_bridge_prefix)) : 0;
	for (i = 0; i < vs->vs_npublish; i++) {
		a = &vs->vs_publish[i];
		ha.s_addr = a->pp_host_addr;
		why = NULL;
		if ((a->pp_proto != IPPROTO_TCP &&
		    a->pp_proto != IPPROTO_UDP) || a->pp_host_port == 0 ||
		    a->pp_guest_port == 0)
			why = "bad protocol or port";
		else if (valid_publish_host(ha, &why) == -1)
			;
		else if (ha.s_addr != INADDR_ANY && (ha.s_addr & mask) ==
		    (conf->cf_bridge_addr.s_addr & mask))
			why = "host address in the VMs' subnet";
		else if (pv->pv_owner != 0 && a->pp_host_port < 1024)
			why = "port below 1024 for a VM not root's";
		for (j = 0; why == NULL && j < i; j++) {
			b = &vs->vs_publish[j];
			if (a->pp_proto == b->pp_proto &&
			    a->pp_host_port == b->pp_host_port)
				why = "host port published twice";
		}
		if (why != NULL) {
			parent_worker_violation(w, "vm %s (uid %u): published "
			    "port %u (%s %u): %s", pv->pv_id,
			    (unsigned)pv->pv_owner, i, a->pp_proto ==
			    IPPROTO_UDP ? "udp" : "tcp", a->pp_host_port, why);
			return -1;
		}
		if (ha.s_addr != INADDR_ANY && host_local_addr(ha) != 1) {
			snprintf(msg, len, "published port %u/%s: %s is not an "
			    "address of this host", a->pp_host_port,
			    a->pp_proto == IPPROTO_UDP ? "udp" : "tcp",
			    inet_ntoa(ha));
			return 1;
		}
		/* Any address overlaps every other address. */
		TAILQ_FOREACH(other, pvm_list(), pv_entry) {
			if (other == pv || other->pv_state != VMOP_RUNNING)
				continue;
			for (k = 0; k < other->pv_npublish; k++) {
				b = &other->pv_publish[k];
				if (a->pp_proto != b->pp_proto ||
				    a->pp_host_port != b->pp_host_port ||
				    (a->pp_host_addr != INADDR_ANY &&
				    b->pp_host_addr != INADDR_ANY &&
				    a->pp_host_addr != b->pp_host_addr))
					continue;
				snprintf(msg, len, "host port %u/%s is "
				    "published by running VM %s",
				    a->pp_host_port, a->pp_proto ==
				    IPPROTO_UDP ? "udp" : "tcp",
				    other->pv_name);
				return 1;
			}
		}
	}
	return 0;
}

/*
 * A VM's identity drive as the vm worker gives it: IDENTITY_MAGIC, then
 * lines of printable ASCII, NUL-terminated and NUL-padded.  What the
 * lines say is the guest's business (a compromised vm worker could say
 * anything in them, as it could in the disk it provisions).
 */
static int
identity_check(const char *s, size_t size)
{
	size_t	 len, i;

	if (wire_string(s, size, &len) == -1 ||
	    strncmp(s, IDENTITY_MAGIC, sizeof(IDENTITY_MAGIC) - 1) != 0 ||
	    s[len - 1] != '\n')
		return -1;
	for (i = 0; i < len; i++)
		if (s[i] != '\n' && (s[i] < 0x20 || s[i] > 0x7e))
			return -1;
	return 0;
}

/* The root operations on VMs, each legal only in some of a VM's states. */
static int
priv_vmop(struct worker *w, struct imsg *imsg)
{
	struct vmop_create	 vc;
	struct vmop_start	 vs;
	struct vmop_signal	 vg;
	struct vmop_id		 vi;
	struct vmop_result	 vr;
	struct pvm		*pv;
	const char		*why;
	char			 msg[PROTO_MSG_MAX];
	size_t			 len, slen;
	uint32_t		 peerid = imsg_get_id(imsg);

	switch (imsg_get_type(imsg)) {
	case IMSG_VMOP_CREATE:
		if (read_request(w, imsg, &vc, sizeof(vc)) == -1 ||
		    vmid_check(w, vc.vc_id, sizeof(vc.vc_id), 1, &pv) == -1)
			return -1;
		if (wire_string(vc.vc_image, sizeof(vc.vc_image), &len) == -1 ||
		    valid_name(vc.vc_image, len, &why) == -1) {
			parent_worker_violation(w, "bad image name");
			return -1;
		}
		if (wire_string(vc.vc_name, sizeof(vc.vc_name), &len) == -1 ||
		    valid_name(vc.vc_name, len, &why) == -1) {
			parent_worker_violation(w, "bad vm name");
			return -1;
		}
		if (vc.vc_disk_size > VMOP_DISK_MAX ||
		    vc.vc_disk_size % 512 != 0 ||
		    (vc.vc_flags & ~VC_F_DISK_AT_LEAST) != 0) {
			parent_worker_violation(w, "disk size %llu",
			    (unsigned long long)vc.vc_disk_size);
			return -1;
		}
		/* A clone: of an existing VM's id, a snapshot's name. */
		if (wire_string(vc.vc_from_id, sizeof(vc.vc_from_id),
		    &len) == -1 || (len != 0 && valid_vm_id(vc.vc_from_id,
		    len, &why) == -1) || wire_string(vc.vc_from_snap,
		    sizeof(vc.vc_from_snap), &slen) == -1 ||
		    (len == 0 ? slen != 0 : valid_name(vc.vc_from_snap,
		    slen, &why) == -1)) {
			parent_worker_violation(w, "vm %s: a clone of \"%.*s\" "
			    "snapshot \"%.*s\"", vc.vc_id, PROTO_VMID_MAX,
			    vc.vc_from_id, PROTO_VMNAME_MAX, vc.vc_from_snap);
			return -1;
		}
		return vmop_create(w, peerid, &vc);
	case IMSG_VMOP_START:
		if (read_request(w, imsg, &vs, sizeof(vs)) == -1 ||
		    vmid_check(w, vs.vs_id, sizeof(vs.vs_id), 0, &pv) == -1)
			return -1;
		if (pv->pv_state != VMOP_CREATED || pv->pv_busy) {
			parent_worker_violation(w, "start of vm %s, which is "
			    "%s", pv->pv_id, pv->pv_busy ? "being checked" :
			    pvm_state_name(pv->pv_state));
			return -1;
		}
		if (wire_string(vs.vs_snap, sizeof(vs.vs_snap), &len) == -1 ||
		    (vs.vs_flags & ~VS_F_RESTORE) != 0 ||
		    ((vs.vs_flags & VS_F_RESTORE) ?
		    valid_name(vs.vs_snap, len, &why) == -1 : len != 0)) {
			parent_worker_violation(w, "vm %s: start flags %#x, "
			    "snapshot \"%s\"", pv->pv_id, vs.vs_flags,
			    vs.vs_snap);
			return -1;
		}
		if (identity_check(vs.vs_identity,
		    sizeof(vs.vs_identity)) == -1) {
			parent_worker_violation(w, "vm %s: an identity that is "
			    "not \"%.*s\" and lines of printable ASCII",
			    pv->pv_id, (int)sizeof(IDENTITY_MAGIC) - 2,
			    IDENTITY_MAGIC);
			return -1;
		}
		if (vs.vs_cpus < 1 || vs.vs_cpus > VMOP_CPUS_MAX ||
		    vs.vs_memory < VMOP_MEM_MIN ||
		    vs.vs_memory > VMOP_MEM_MAX) {
			parent_worker_violation(w, "vm %s: %u cpus, %llu MiB",
			    pv->pv_id, vs.vs_cpus,
			    (unsigned long long)vs.vs_memory);
			return -1;
		}
		switch (publish_check(w, pv, &vs, msg, sizeof(msg))) {
		case -1:
			return -1;
		case 1:
			memset(&vr, 0, sizeof(vr));
			strlcpy(vr.vr_id, pv->pv_id, sizeof(vr.vr_id));
			vr.vr_op = IMSG_VMOP_START;
			vr.vr_error = EADDRINUSE;
			strlcpy(vr.vr_msg, msg, sizeof(vr.vr_msg));
			log_warnx("vm %s: start refused: %s", pv->pv_id, msg);
			imsg_compose_event(w->w_iev, IMSG_VMOP_RESULT, peerid,
			    0, -1, &vr, sizeof(vr));
			return 0;
		}
		return vmop_start(w, peerid, pv, &vs);
	case IMSG_VMOP_SIGNAL:
		if (read_request(w, imsg, &vg, sizeof(vg)) == -1 ||
		    vmid_check(w, vg.vg_id, sizeof(vg.vg_id), 0, &pv) == -1)
			return -1;
		if (vg.vg_signal != SIGTERM && vg.vg_signal != SIGKILL) {
			parent_worker_violation(w, "vm %s: signal %d",
			    pv->pv_id, vg.vg_signal);
			return -1;
		}
		return vmop_signal(w, peerid, pv, vg.vg_signal);
	case IMSG_VMOP_SOCKET:
	case IMSG_VMOP_DESTROY:
	case IMSG_VMOP_FSCK:
		if (read_request(w, imsg, &vi, sizeof(vi)) == -1 ||
		    vmid_check(w, vi.vo_id, sizeof(vi.vo_id), 0, &pv) == -1)
			return -1;
		if (imsg_get_type(imsg) == IMSG_VMOP_SOCKET)
			return vmop_socket(w, peerid, pv);
		/* A creation cut short, or a removal, may be finished. */
		if (imsg_get_type(imsg) == IMSG_VMOP_DESTROY && !pv->pv_busy &&
		    !pv->pv_pending && (pv->pv_state == VMOP_CREATING ||
		    pv->pv_state == VMOP_DESTROYING))
			return vmop_destroy(w, peerid, pv);
		if (pv->pv_state != VMOP_CREATED || pv->pv_busy) {
			parent_worker_violation(w, "%s of vm %s, which is "
			    "%s", imsg_get_type(imsg) == IMSG_VMOP_FSCK ?
			    "fsck" : "destroy", pv->pv_id,
			    pv->pv_busy ? "being checked" :
			    pvm_state_name(pv->pv_state));
			return -1;
		}
		if (imsg_get_type(imsg) == IMSG_VMOP_FSCK)
			return vmop_fsck(w, peerid, pv);
		return vmop_destroy(w, peerid, pv);
	}
	return -1;
}

/*
 * The image store: a file of the next import (with its fd), the import,
 * and ls, show and rm.  Names must be valid names, strings terminated;
 * the files of one import come from one client, each kind once (an OCI
 * layout's files each by its own valid name, at most OCI_FILES_MAX), and
 * an import needs a rootfs or, with IMAGE_F_OCI, a layout and a size
 * within bounds, and a kernel (or an image to take it from).
 */
static int
priv_image(struct worker *w, struct imsg *imsg)
{
	struct imgop_file	 f;
	struct imgop_import	 ii;
	struct imgop_query	 iq;
	const char		*why;
	size_t			 len;
	uint32_t		 peerid = imsg_get_id(imsg);
	int			 fd;

	switch (imsg_get_type(imsg)) {
	case IMSG_IMGOP_FILE:
		if (imsg_read_exact(imsg, &f, sizeof(f)) == -1) {
			parent_worker_violation(w, "image file of %zu bytes",
			    imsg_get_len(imsg));
			return -1;
		}
		if ((fd = imsg_get_fd(imsg)) == -1) {
			parent_worker_violation(w, "image file without an fd");
			return -1;
		}
		if ((f.if_kind >= IMAGE_NFILES && f.if_kind != IMAGE_OCI) ||
		    wire_string(f.if_path, sizeof(f.if_path), &len) == -1 ||
		    (f.if_kind == IMAGE_OCI &&
		    valid_oci_name(f.if_path, len, &why) == -1)) {
			close(fd);
			parent_worker_violation(w, "bad image file");
			return -1;
		}
		if (imgop_file(peerid, &f, fd, &why) == -1) {
			close(fd);
			parent_worker_violation(w, "%s", why);
			return -1;
		}
		return 0;
	case IMSG_IMGOP_IMPORT:
		if (read_request(w, imsg, &ii, sizeof(ii)) == -1 ||
		    audit_check(w, &ii.ii_audit, "image") == -1)
			return -1;
		if (wire_string(ii.ii_req.ci_name, sizeof(ii.ii_req.ci_name),
		    &len) == -1 || valid_name(ii.ii_req.ci_name, len,
		    &why) == -1 ||
		    wire_string(ii.ii_req.ci_kernel_from,
		    sizeof(ii.ii_req.ci_kernel_from), &len) == -1 ||
		    (len > 0 && valid_name(ii.ii_req.ci_kernel_from, len,
		    &why) == -1) ||
		    wire_string(ii.ii_req.ci_bootargs,
		    sizeof(ii.ii_req.ci_bootargs), &len) == -1 ||
		    (ii.ii_req.ci_flags & ~IMAGE_F_ALL) != 0) {
			parent_worker_violation(w, "bad image import");
			return -1;
		}
		if (ii.ii_audit.ca_uid != 0) {
			parent_worker_violation(w, "image import for uid %u",
			    ii.ii_audit.ca_uid);
			return -1;
		}
		/* Written to the store, they must be what Firecracker takes. */
		if (valid_bootargs(ii.ii_req.ci_bootargs,
		    strlen(ii.ii_req.ci_bootargs), NULL, &why) == -1) {
			parent_worker_violation(w, "image import with boot "
			    "args %s", why);
			return -1;
		}
		if (imgop_import_check(peerid, &ii.ii_req, &why) == -1) {
			parent_worker_violation(w, "%s", why);
			return -1;
		}
		return imgop_import(w, peerid, &ii);
	case IMSG_IMGOP_QUERY:
		if (read_request(w, imsg, &iq, sizeof(iq)) == -1 ||
		    audit_check(w, &iq.iq_audit, "image") == -1)
			return -1;
		if (wire_string(iq.iq_req.cm_name, sizeof(iq.iq_req.cm_name),
		    &len) == -1 ||
		    (iq.iq_req.cm_action == CTL_IMAGE_LS ? len != 0 :
		    valid_name(iq.iq_req.cm_name, len, &why) == -1)) {
			parent_worker_violation(w, "bad image name");
			return -1;
		}
		if (iq.iq_req.cm_action == CTL_IMAGE_RM &&
		    iq.iq_audit.ca_uid != 0) {
			parent_worker_violation(w, "image rm for uid %u",
			    iq.iq_audit.ca_uid);
			return -1;
		}
		if (iq.iq_req.cm_action != CTL_IMAGE_LS &&
		    iq.iq_req.cm_action != CTL_IMAGE_SHOW &&
		    iq.iq_req.cm_action != CTL_IMAGE_RM) {
			parent_worker_violation(w, "image action %d",
			    iq.iq_req.cm_action);
			return -1;
		}
		return imgop_query(w, peerid, &iq);
	case IMSG_IMGOP_CANCEL:
		if (read_request(w, imsg, NULL, 0) == -1)
			return -1;
		imgop_cancel(w, peerid);
		return 0;
	}
	return -1;
}
static int	 priv_update_req(struct worker *, struct imsg *);

int
priv_dispatch_vm(struct worker *w, struct imsg *imsg)
{
	struct ctl_audit	 ca;
	struct verbose_req	 vr;
	char			 errbuf[PROTO_MSG_MAX];
	uint32_t		 peerid = imsg_get_id(imsg);

	switch (imsg_get_type(imsg)) {
	case IMSG_VMOP_CREATE:
	case IMSG_VMOP_START:
	case IMSG_VMOP_SIGNAL:
	case IMSG_VMOP_SOCKET:
	case IMSG_VMOP_DESTROY:
	case IMSG_VMOP_FSCK:
		return priv_vmop(w, imsg);
	case IMSG_VMOP_SNAP_BEGIN:
	case IMSG_VMOP_SNAP_END:
	case IMSG_SNAPOP_LS:
	case IMSG_SNAPOP_RM:
	case IMSG_VMOP_RESTORE:
		return priv_snap(w, imsg);
	case IMSG_IMGOP_FILE:
	case IMSG_IMGOP_IMPORT:
	case IMSG_IMGOP_QUERY:
	case IMSG_IMGOP_CANCEL:
		return priv_image(w, imsg);
	case IMSG_STATUS_REQ:
		if (read_request(w, imsg, &ca, sizeof(ca)) == -1 ||
		    audit_check(w, &ca, "status") == -1)
			return -1;
		priv_status(w, peerid);
		return 0;
	case IMSG_VERBOSE_REQ:
		if (read_request(w, imsg, &vr, sizeof(vr)) == -1 ||
		    audit_check(w, &vr.vr_audit, "log") == -1)
			return -1;
		if (vr.vr_verbose != 0 && vr.vr_verbose != 1) {
			parent_worker_violation(w, "verbosity %d",
			    vr.vr_verbose);
			return -1;
		}
		log_info("uid %u: log %s", vr.vr_audit.ca_uid,
		    vr.vr_verbose ? "verbose" : "brief");
		parent_set_verbose(vr.vr_verbose);
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0,
		    "logging %s", vr.vr_verbose ? "verbose" : "brief");
		return 0;
	case IMSG_UPDATE_REQ:
		return priv_update_req(w, imsg);
	case IMSG_RELOAD_REQ:
		if (read_request(w, imsg, &ca, sizeof(ca)) == -1 ||
		    audit_check(w, &ca, "reload") == -1)
			return -1;
		log_info("uid %u: reload", ca.ca_uid);
		if (parent_reload(errbuf, sizeof(errbuf)) == -1) {
			log_warnx("reload failed, configuration unchanged: %s",
			    errbuf);
			imsg_send_result(w->w_iev, IMSG_RESULT, peerid, EINVAL,
			    "reload failed, configuration unchanged: %s",
			    errbuf);
		} else
			imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0,
			    "configuration reloaded from %s",
			    env->bd_conffile);
		return 0;
	}
	return -1;
}

/*
 * The DNS responder's sockets, on the bridge's address, port 53: bound
 * here (the net worker may not bind a privileged port) and handed over.
 * The UDP socket gets a 4 MiB receive buffer, more than the default
 * net.core.rmem_max allows (hence SO_RCVBUFFORCE, which needs
 * CAP_NET_ADMIN): with the default 208 KiB an unpaced burst of 10000
 * queries lost up to a third of them, with 4 MiB none.  DNS works
 * without it, so a failure is only logged.
 */
static int
priv_dns_sockets(int *udp, int *tcp, char *msg, size_t len)
{
	struct sockaddr_in	 sin;
	int			 one = 1, rcvbuf = 4 << 20;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(53);
	sin.sin_addr = env->bd_conf->cf_bridge_addr;
	*udp = *tcp = -1;
	if ((*udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 ||
	    bind(*udp, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (*tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(*tcp, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    bind(*tcp, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(*tcp, 64) == -1) {
		snprintf(msg, len, "%s:53: %s",
		    inet_ntoa(env->bd_conf->cf_bridge_addr), strerror(errno));
		if (*udp != -1)
			close(*udp);
		if (*tcp != -1)
			close(*tcp);
		return -1;
	}
	if (setsockopt(*udp, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
	    sizeof(rcvbuf)) == -1)
		log_warn("dns: udp receive buffer of %d bytes", rcvbuf);
	return 0;
}

/*
 * The net worker's answer to a creation: an address it was asked for,
 * in the bridge's subnet, that no other record holds.  An answer about
 * a creation given up is vmop_net_addr()'s to release.
 */
static int
net_addr_check(struct worker *net, const struct net_addr *na)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct pvm		*pv, *other;
	uint32_t		 mask, a, b;

	if ((pv = pvm_find(na->na_id)) == NULL)
		return 0;
	if (pv->pv_state != VMOP_CREATING || !pv->pv_pending) {
		parent_worker_violation(net, "vm %s: an address it was not "
		    "asked for", pv->pv_id);
		return -1;
	}
	if (na->na_error)
		return 0;
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
	if ((other = pvm_addr_other(pv, *(const struct in_addr *)
	    &na->na_addr)) != NULL) {
		parent_worker_violation(net, "vm %s: address %s is vm %s's",
		    pv->pv_id, inet_ntoa(*(const struct in_addr *)
		    &na->na_addr), other->pv_id);
		pvm_create_fail(pv, EAGAIN, "the net worker gave another "
		    "VM's address; try again");
		return -1;
	}
	return 0;
}

int
priv_dispatch_net(struct worker *w, struct imsg *imsg)
{
	struct net_addr	 na;
	const char	*why;
	char		 msg[PROTO_MSG_MAX];
	size_t		 len;
	int		 udp, tcp;

	switch (imsg_get_type(imsg)) {
	case IMSG_NETOP_SETUP:
		if (read_request(w, imsg, NULL, 0) == -1)
			return -1;
		if (hostnet_setup(msg, sizeof(msg)) == -1) {
			log_warnx("network setup: %s", msg);
			imsg_send_result(w->w_iev, IMSG_NETOP_SETUP_DONE, 0,
			    EIO, "%s", msg);
			return 0;
		}
		log_info("network: %s", msg);
		if (priv_dns_sockets(&udp, &tcp, msg, sizeof(msg)) == -1)
			log_warnx("dns: %s; VM names will not resolve", msg);
		else {
			imsg_compose_event(w->w_iev, IMSG_NETOP_DNS_UDP, 0, 0,
			    udp, NULL, 0);
			imsg_compose_event(w->w_iev, IMSG_NETOP_DNS_TCP, 0, 0,
			    tcp, NULL, 0);
		}
		imsg_send_result(w->w_iev, IMSG_NETOP_SETUP_DONE, 0, 0,
		    "%s", msg);
		return 0;
	case IMSG_NET_ADDR:
		if (read_request(w, imsg, &na, sizeof(na)) == -1)
			return -1;
		if (wire_string(na.na_id, sizeof(na.na_id), &len) == -1 ||
		    valid_vm_id(na.na_id, len, &why) == -1 ||
		    wire_string(na.na_msg, sizeof(na.na_msg), &len) == -1) {
			parent_worker_violation(w, "malformed address");
			return -1;
		}
		if (net_addr_check(w, &na) == -1)
			return -1;
		return vmop_net_addr(w, &na);
	}
	return -1;
}

/*
 * Self-update.  One request at a time: the vm worker asks for a client
 * (root, checked there and here), the parent resolves the URL's host
 * and asks the update worker, which fetches and verifies.  The parent
 * then verifies again what the worker hands it (the manifest's bytes,
 * the sealed artifact) before it installs anything.
 */
static struct {
	int			 active;
	uint32_t		 id;		/* to the update worker */
	uint32_t		 client;	/* on the vm worker */
	int			 action;	/* CTL_UPDATE_* */
	int			 checked;	/* rel is the parent's own */
	struct upd_release	 rel;
	char			 installed[UPD_VERSION_MAX];
} upd;
static uint32_t		 upd_nextid;
/*
 * The update worker runs only for a request: started by it (its fetch
 * waits in upd_fetch until the worker is ready), and stopped when
 * UPDATE_IDLE_S seconds have passed without another.
 */
#define UPDATE_IDLE_S	30
static struct upd_fetch_req	 upd_fetch;
static int			 upd_fetch_pending;
static struct event		 upd_idle_ev;

static void
upd_idle(int fd, short event, void *arg)
{
	if (!upd.active)
		parent_worker_retire(&env->bd_workers[PROC_UPDATE]);
}

static void
upd_idle_arm(void)
{
	struct timeval	 tv = { UPDATE_IDLE_S, 0 };

	if (env->bd_workers[PROC_UPDATE].w_pid == 0)
		return;
	if (!evtimer_initialized(&upd_idle_ev))
		evtimer_set(&upd_idle_ev, upd_idle, NULL);
	evtimer_add(&upd_idle_ev, &tv);
}

static void
upd_reply(int error, const char *fmt, ...)
    __attribute__((__format__ (printf, 2, 3)));

/* End the request with a result to its client. */
static void
upd_reply(int error, const char *fmt, ...)
{
	struct worker	*vm = &env->bd_workers[PROC_VM];
	char		 msg[PROTO_MSG_MAX];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (error)
		log_warnx("update: %s", msg);
	if (vm->w_iev != NULL)
		imsg_send_result(vm->w_iev, IMSG_RESULT, upd.client, error,
		    "%s", msg);
	upd.active = 0;
	upd_fetch_pending = 0;
	upd_idle_arm();
}

static void
upd_info_send(int available, const char *msg)
{
	struct worker		*vm = &env->bd_workers[PROC_VM];
	struct update_info	 ui;
	int			 i;

	memset(&ui, 0, sizeof(ui));
	ui.ui_available = available;
	strlcpy(ui.ui_running, BANGER_VERSION, sizeof(ui.ui_running));
	strlcpy(ui.ui_installed, upd.installed, sizeof(ui.ui_installed));
	if (available) {
		strlcpy(ui.ui_version, upd.rel.ur_version,
		    sizeof(ui.ui_version));
		strlcpy(ui.ui_arch, upd.rel.ur_arch, sizeof(ui.ui_arch));
		strlcpy(ui.ui_url, upd.rel.ur_url, sizeof(ui.ui_url));
		for (i = 0; i < 32; i++)
			snprintf(ui.ui_sha256 + 2 * i, 3, "%02x",
			    upd.rel.ur_sha256[i]);
		ui.ui_length = upd.rel.ur_length;
		ui.ui_released = upd.rel.ur_released;
		ui.ui_expires = upd.rel.ur_expires;
	}
	strlcpy(ui.ui_msg, msg, sizeof(ui.ui_msg));
	if (vm->w_iev != NULL)
		imsg_compose_event(vm->w_iev, IMSG_UPDATE_INFO, upd.client, 0,
		    -1, &ui, sizeof(ui));
}

static int
priv_update_req(struct worker *w, struct imsg *imsg)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct worker		*uw = &env->bd_workers[PROC_UPDATE];
	struct signify_pubkey	 key;
	struct update_req	 ur;
	struct upd_fetch_req	 uq;
	char			 err[UPD_ERR_MAX];
	uint32_t		 peerid = imsg_get_id(imsg);

	if (read_request(w, imsg, &ur, sizeof(ur)) == -1 ||
	    audit_check(w, &ur.ur_audit, "update") == -1)
		return -1;
	if (ur.ur_action != CTL_UPDATE_CHECK &&
	    ur.ur_action != CTL_UPDATE_APPLY &&
	    ur.ur_action != CTL_UPDATE_ROLLBACK) {
		parent_worker_violation(w, "update action %d", ur.ur_action);
		return -1;
	}
	/* The vm worker lets only root ask; so does the parent. */
	if (ur.ur_audit.ca_uid != 0) {
		parent_worker_violation(w, "update for uid %u",
		    ur.ur_audit.ca_uid);
		return -1;
	}
	log_info("uid %u (pid %d): update %s", ur.ur_audit.ca_uid,
	    ur.ur_audit.ca_pid, ur.ur_action == CTL_UPDATE_CHECK ? "check" :
	    ur.ur_action == CTL_UPDATE_APPLY ? "apply" : "rollback");
	if (upd.active) {
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, EBUSY,
		    "update: another update request is in progress");
		return 0;
	}
	memset(&upd, 0, sizeof(upd));
	upd.active = 1;
	upd.client = peerid;
	upd.action = ur.ur_action;

	if (ur.ur_action == CTL_UPDATE_ROLLBACK) {
		if (install_rollback(err, sizeof(err)) == -1) {
			upd_reply(EIO, "rollback refused: %s; nothing changed",
			    err);
			return 0;
		}
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0,
		    "rolled back to the previous bangerd; restarting");
		parent_reexec_schedule();
		return 0;
	}
	if (install_highest(upd.installed, sizeof(upd.installed)) == -1) {
		upd_reply(EIO, "update: cannot read the highest installed "
		    "version: %s", strerror(errno));
		return 0;
	}
	if (conf->cf_update_url[0] == '\0') {
		upd_reply(EINVAL, "update: no update url is configured "
		    "(bangerd.conf(5): update url \"https://...\")");
		return 0;
	}
	/* No traffic at all for a bangerd that could verify nothing. */
	if (upd_builtin_pubkey(&key, err, sizeof(err)) != UPD_OK) {
		upd_reply(EINVAL, "update: %s", err);
		return 0;
	}
	if (signify_pubkey_is_placeholder(&key)) {
		upd_reply(EPERM, "update refused: this bangerd was built with "
		    "the placeholder release key (make RELEASE_PUBKEY=file.pub "
		    "builds in a real one); it cannot verify updates");
		return 0;
	}
	memset(&uq, 0, sizeof(uq));
	if (upd_resolve(conf->cf_update_url, uq.uq_resolve,
	    sizeof(uq.uq_resolve), err, sizeof(err)) != UPD_OK) {
		upd_reply(EHOSTUNREACH, "update: %s", err);
		return 0;
	}
	if (evtimer_initialized(&upd_idle_ev))
		evtimer_del(&upd_idle_ev);
	if (uw->w_state == WORKER_IDLE && parent_worker_wake(uw) == -1) {
		upd_reply(EAGAIN, "update: cannot start the update worker: %s",
		    strerror(errno));
		return 0;
	}
	if (uw->w_iev == NULL) {
		upd_reply(EAGAIN, "update: the update worker is stopping; "
		    "try again");
		return 0;
	}
	uq.uq_action = ur.ur_action;
	uq.uq_allow_http = conf->cf_update_allow_http;
	uq.uq_now = time(NULL);
	strlcpy(uq.uq_url, conf->cf_update_url, sizeof(uq.uq_url));
	strlcpy(uq.uq_running, BANGER_VERSION, sizeof(uq.uq_running));
	strlcpy(uq.uq_installed, upd.installed, sizeof(uq.uq_installed));
	if (++upd_nextid == 0)
		upd_nextid = 1;
	upd.id = upd_nextid;
	if (uw->w_state == WORKER_RUNNING)
		imsg_compose_event(uw->w_iev, IMSG_UPD_FETCH, upd.id, 0, -1,
		    &uq, sizeof(uq));
	else {
		/* Sent when it is ready (priv_update_ready). */
		upd_fetch = uq;
		upd_fetch_pending = 1;
	}
	return 0;
}

/* The update worker is ready: the fetch it was started for, if any. */
void
priv_update_ready(struct worker *uw)
{
	if (upd.active && upd_fetch_pending)
		imsg_compose_event(uw->w_iev, IMSG_UPD_FETCH, upd.id, 0, -1,
		    &upd_fetch, sizeof(upd_fetch));
	else
		upd_idle_arm();
	upd_fetch_pending = 0;
}

/* The update worker died with a request in hand. */
void
priv_update_worker_gone(void)
{
	if (upd.active && upd.action != CTL_UPDATE_ROLLBACK && upd.id != 0)
		upd_reply(EIO, "update: the update worker ended; nothing "
		    "was installed");
}

static const char *
upd_action_refused(void)
{
	return upd.action == CTL_UPDATE_APPLY ? "update refused" :
	    "update check";
}

/*
 * The worker's checked manifest: the parent reads the bytes it fetched
 * from the sealed memfd and runs the whole check again with its own
 * key, clock and versions.  The worker's answer must be the same.
 */
static int
upd_checked(struct worker *w, struct imsg *imsg, int fd)
{
	struct signify_pubkey	 key;
	struct upd_checked	 uc;
	struct upd_want		 want;
	struct stat		 st;
	char			 err[UPD_ERR_MAX], *buf = NULL;
	size_t			 len, total;
	int			 rc, rv = -1;

	if (imsg_read_exact(imsg, &uc, sizeof(uc)) == -1 ||
	    wire_string(uc.uc_version, sizeof(uc.uc_version), &len) == -1 ||
	    wire_string(uc.uc_arch, sizeof(uc.uc_arch), &len) == -1 ||
	    wire_string(uc.uc_url, sizeof(uc.uc_url), &len) == -1 ||
	    uc.uc_manifest_len == 0 || uc.uc_manifest_len > UPD_MANIFEST_MAX ||
	    uc.uc_sig_len == 0 || uc.uc_sig_len > UPD_SIG_MAX) {
		parent_worker_violation(w, "malformed checked manifest");
		goto out;
	}
	total = uc.uc_manifest_len + uc.uc_sig_len;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != total) {
		parent_worker_violation(w, "manifest fd of the wrong size");
		goto out;
	}
	if ((buf = malloc(total)) == NULL)
		fatal("%s", __func__);
	if (pread(fd, buf, total, 0) != (ssize_t)total) {
		parent_worker_violation(w, "unreadable manifest fd");
		goto out;
	}
	memset(&want, 0, sizeof(want));
	want.uw_running = BANGER_VERSION;
	want.uw_installed = upd.installed[0] != '\0' ? upd.installed : NULL;
	want.uw_now = time(NULL);
	if ((rc = upd_builtin_pubkey(&key, err, sizeof(err))) != UPD_OK ||
	    (rc = upd_manifest_check(&key, buf, uc.uc_manifest_len,
	    buf + uc.uc_manifest_len, uc.uc_sig_len, &want, &upd.rel, err,
	    sizeof(err))) != UPD_OK) {
		/* A clock tick past an expiry, or a worker not to trust. */
		log_warnx("update: the parent's check refuses what the "
		    "update worker accepted: %s", err);
		upd_reply(EPERM, "%s: %s", upd_action_refused(), err);
		rv = 0;
		goto out;
	}
	if (strcmp(upd.rel.ur_version, uc.uc_version) != 0 ||
	    strcmp(upd.rel.ur_url, uc.uc_url) != 0 ||
	    upd.rel.ur_length != uc.uc_length ||
	    memcmp(upd.rel.ur_sha256, uc.uc_sha256, 32) != 0) {
		upd_reply(EPERM, "%s: the update worker named another "
		    "release than its manifest", upd_action_refused());
		parent_worker_violation(w, "release differs from its manifest");
		goto out;
	}
	upd.checked = 1;
	if (upd.action == CTL_UPDATE_CHECK) {
		upd_info_send(1, "");
		upd_reply(0, "update available: bangerd %s (running %s)",
		    upd.rel.ur_version, BANGER_VERSION);
	} else
		upd_info_send(1, "fetching");
	rv = 0;
 out:
	free(buf);
	return rv;
}

int
priv_dispatch_update(struct worker *w, struct imsg *imsg)
{
	struct worker		*vm = &env->bd_workers[PROC_VM];
	struct update_progress	 up;
	struct upd_failed	 uf;
	char			 err[UPD_ERR_MAX];
	size_t			 len;
	int			 fd, rc, rv = -1;

	fd = imsg_get_fd(imsg);
	switch (imsg_get_type(imsg)) {
	case IMSG_UPD_CHECKED:
	case IMSG_UPD_PROGRESS:
	case IMSG_UPD_ARTIFACT:
	case IMSG_UPD_FAILED:
		break;
	default:
		goto out;	/* the caller says: unexpected message type */
	}
	if (!upd.active || upd.id == 0 || imsg_get_id(imsg) != upd.id) {
		parent_worker_violation(w, "update message type %u for no "
		    "request", imsg_get_type(imsg));
		goto out;
	}
	switch (imsg_get_type(imsg)) {
	case IMSG_UPD_CHECKED:
		if (fd == -1 || upd.checked) {
			parent_worker_violation(w, "checked manifest out of "
			    "turn or without an fd");
			goto out;
		}
		rv = upd_checked(w, imsg, fd);
		break;
	case IMSG_UPD_PROGRESS:
		if (fd != -1 || !upd.checked ||
		    upd.action != CTL_UPDATE_APPLY ||
		    imsg_read_exact(imsg, &up, sizeof(up)) == -1 ||
		    up.up_total != upd.rel.ur_length ||
		    up.up_done > up.up_total) {
			parent_worker_violation(w, "bad progress");
			goto out;
		}
		if (vm->w_iev != NULL)
			imsg_compose_event(vm->w_iev, IMSG_UPDATE_PROGRESS,
			    upd.client, 0, -1, &up, sizeof(up));
		rv = 0;
		break;
	case IMSG_UPD_ARTIFACT:
		if (fd == -1 || !upd.checked ||
		    upd.action != CTL_UPDATE_APPLY ||
		    imsg_get_len(imsg) != 0) {
			parent_worker_violation(w, "artifact out of turn or "
			    "without an fd");
			goto out;
		}
		rv = 0;
		/*
		 * Sealed, so the worker cannot change it after this; both
		 * read it with pread, as the worker may still move its offset.
		 */
		if ((rc = upd_verify_fd(fd, &upd.rel, 1, err, sizeof(err))) !=
		    UPD_OK) {
			upd_reply(EPERM, "update refused: %s (nothing "
			    "installed)", err);
			break;
		}
		if (install_apply(fd, upd.rel.ur_version, err,
		    sizeof(err)) == -1) {
			upd_reply(EIO, "update failed: %s (nothing installed)",
			    err);
			break;
		}
		if (vm->w_iev != NULL)
			imsg_send_result(vm->w_iev, IMSG_RESULT, upd.client, 0,
			    "installed bangerd %s; restarting",
			    upd.rel.ur_version);
		parent_reexec_schedule();
		break;
	case IMSG_UPD_FAILED:
		if (fd != -1 ||
		    imsg_read_exact(imsg, &uf, sizeof(uf)) == -1 ||
		    wire_string(uf.uf_msg, sizeof(uf.uf_msg), &len) == -1 ||
		    uf.uf_code <= UPD_OK || uf.uf_code >= UPD_NERRORS) {
			parent_worker_violation(w, "malformed failure");
			goto out;
		}
		rv = 0;
		if (upd.action == CTL_UPDATE_CHECK &&
		    (uf.uf_code == UPD_EUPTODATE ||
		    uf.uf_code == UPD_EROLLBACK)) {
			upd_info_send(0, uf.uf_msg);
			upd_reply(0, "up to date: %s", uf.uf_msg);
			break;
		}
		upd_reply(EPERM, "%s: %s%s", upd_action_refused(), uf.uf_msg,
		    upd.action == CTL_UPDATE_APPLY ? " (nothing installed)" :
		    "");
		break;
	default:
		break;
	}
 out:
	if (fd != -1)
		close(fd);
	return rv;
}

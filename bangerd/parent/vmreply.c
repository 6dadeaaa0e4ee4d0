/*
 * The parent's answers to the vm worker about a VM: the result of a
 * request (IMSG_VMOP_RESULT), made from the parent's record, or an
 * error naming the VM.  Every vm*.c answers through these.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "log.h"
#include "validate.h"

void
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

void
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

void
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

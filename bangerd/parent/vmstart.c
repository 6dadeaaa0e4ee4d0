/*
 * A VM's start, the parent's side: its jail prepared, its Firecracker
 * spawned and waited for in the event loop, the vm worker told; then
 * the end of that Firecracker (reaped through its pidfd), and what a
 * failed start or an ended VM leaves removed.  The other requests are
 * in vmops.c.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parent.h"
#include "jail.h"
#include "log.h"

/*
 * What a failed or interrupted start leaves goes: jail, cgroup, the
 * disk given back to root.  The process must be gone.
 */
void
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
	struct psnap		*snap;
	char			 msg[PROTO_MSG_MAX];
	int			 exefd = -1, reportfd;

	if (image_resolve(pv->pv_image, &img, msg, sizeof(msg)) == -1) {
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_START, errno, msg);
		return 0;
	}
	if ((vs->vs_flags & VS_F_RESTORE) &&
	    ((snap = psnap_find(pv, vs->vs_snap)) == NULL ||
	    snap->ps_state != PSNAP_READY)) {
		snprintf(msg, sizeof(msg), "vm %s has no snapshot %s to "
		    "restore", pv->pv_name, vs->vs_snap);
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_START, ENOENT, msg);
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
	strlcpy(js.js_identity, vs->vs_identity, sizeof(js.js_identity));
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
	pvm_publish_set(pv, vs->vs_publish, vs->vs_npublish);
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
	if ((vs->vs_flags & VS_F_RESTORE) &&
	    snap_jail_link(pv, vs->vs_snap, msg, sizeof(msg)) == -1)
		goto fail;
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
	pvm_publish_set(pv, NULL, 0);
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
	if (pv->pv_npublish > 0 && hostnet_nat(msg, sizeof(msg)) == -1)
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
void
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

		pvm_publish_set(pv, NULL, 0);
		if (hostnet_nat(msg, sizeof(msg)) == -1)
			log_warnx("vm %s: published ports: %s", pv->pv_id,
			    msg);
	}
	(void)pvm_save(pv);
}

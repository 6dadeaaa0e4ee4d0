/*
 * The parent's side of each VM: the root operations the vm worker may
 * ask for, each legal only in certain states, and their replies.  Its
 * records are kept in vmrecord.c and restored at start in vmrestore.c;
 * a start and its Firecracker's end are in vmstart.c; the disk, its
 * image and e2fsck in vmdisk.c.
 *
 * The parent keeps its own record of what it made for each VM (uid,
 * address, tap, disk, loop devices, Firecracker process).  The worker
 * names a VM by its id and an image by its name; every device, path,
 * interface, address and process comes from this record and the
 * configuration, and each is validated again by the module that acts
 * on it.
 *
 * Records live in STATE/priv (root, 0700), one file per VM, written
 * atomically; the parent reads only files it wrote itself.  A record
 * is written, and synced, before anything it owns exists, and its
 * state says what may exist (VMOP_* in proto.h):
 *
 *	CREATING	address lease, disk files, loop devices (marked
 *			with the VM's id), snapshot, tap; all undone at
 *			start
 *	CREATED		address, disk, tap; no process, jail or cgroup
 *	STARTING	and a jail, a cgroup, a Firecracker process found
 *			by its jail or its --id; killed and removed at
 *			start
 *	RUNNING		and the process of the recorded pid and start
 *			time, re-adopted at start
 *	DESTROYING	whatever is left of it; finished at start
 *
 * vmop_restore() (vmrestore.c) drives the host back to the records at
 * every start; the sweep (sweep.c) removes what no record names.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "parent.h"
#include "jail.h"
#include "log.h"
#include "reaper.h"
#include "netops.h"
#include "storage.h"
#include "validate.h"

/*
 * Work the event loop does once the messages and events at hand are
 * dealt with, for all of them together (group commit): removals whose
 * records are saved in one sync (vmop_destroy).
 */
static void
batch_later(struct event *ev, void (*cb)(int, short, void *))
{
	struct timeval	 now = { 0, 0 };

	if (!evtimer_initialized(ev))
		evtimer_set(ev, cb, NULL);
	if (!evtimer_pending(ev, NULL))
		evtimer_add(ev, &now);
}

/*
 * pvm_unsave(), and then the reply vr (if any) to the vm worker: the
 * record's removal is in the journal before the vm worker hears of it.
 */
static void
pvm_unsave_reply(struct pvm *pv, uint32_t peerid, struct vmop_result *vr)
{
	pvm_unsave(pv);
	if (vr != NULL)
		vmop_reply(&env->bd_workers[PROC_VM], peerid, vr, -1);
}

/* The net worker, if it runs: where a VM's address and name go. */
static struct imsgev *
net_iev(void)
{
	struct worker	*net = &env->bd_workers[PROC_NET];

	if (net->w_iev == NULL || net->w_state != WORKER_RUNNING)
		return NULL;
	return net->w_iev;
}

/* Tell the net worker a VM's name and address (0: pick one), or that
 * it is gone.  Without a net worker, its next start learns them all. */
static void
pvm_net_send(struct pvm *pv, uint32_t type)
{
	struct imsgev	*iev;
	struct net_vm	 nv;

	if ((iev = net_iev()) == NULL)
		return;
	memset(&nv, 0, sizeof(nv));
	strlcpy(nv.nv_id, pv->pv_id, sizeof(nv.nv_id));
	strlcpy(nv.nv_name, pv->pv_name, sizeof(nv.nv_name));
	nv.nv_addr = pv->pv_addr.s_addr;
	imsg_compose_event(iev, type, 0, 0, -1, &nv, sizeof(nv));
}

/*
 * Everything of a VM whose record is CREATING or DESTROYING, or that
 * the vm worker asked to destroy: its process must be gone already.
 * The tap, jail, cgroup, disk, loop devices and lease go, then the
 * record.  Idempotent; -1 (logged, record kept) if something stays.
 */
static int	pvm_teardown_local(struct pvm *, char *, size_t);
static void	pvm_reaped(void *, int, const char *);

int
pvm_teardown(struct pvm *pv, char *msg, size_t len)
{
	char		 tap[IFNAMSIZ];

	snprintf(tap, sizeof(tap), "%s%s", TAP_PREFIX, pv->pv_id);
	/* EPERM: not banger's mark, so never this VM's (create refuses it). */
	if (net_tap_delete(tap) == -1 && errno != EPERM) {
		snprintf(msg, len, "tap %s: %s", tap, strerror(errno));
		return -1;
	}
	if (pvm_teardown_local(pv, msg, len) == -1)
		return -1;
	if (pv->pv_addr.s_addr != 0)
		pvm_net_send(pv, IMSG_NET_RELEASE);
	pvm_unsave(pv);
	return 0;
}

/* What to do once a VM's tap has gone (pvm_teardown_begin). */
enum {
	REAP_NONE,
	REAP_DESTROY,		/* the vm worker's destroy: reply */
	REAP_CREATE_FAIL,	/* a failed creation: its error was sent */
};

/*
 * pvm_teardown(), with the tap deleted by the reaper's thread: the rest
 * goes now, the lease and the record once the tap is gone (pvm_reaped).
 * The VM is busy meanwhile: no request about it is taken.
 */
static int
pvm_teardown_begin(struct pvm *pv, int reaping, char *msg, size_t len)
{
	char	 tap[IFNAMSIZ];

	if (pvm_teardown_local(pv, msg, len) == -1)
		return -1;
	snprintf(tap, sizeof(tap), "%s%s", TAP_PREFIX, pv->pv_id);
	pv->pv_busy = 1;
	pv->pv_reaping = reaping;
	reaper_tap_delete(tap, pvm_reaped, pv);
	return 0;
}

static void
pvm_reaped(void *arg, int error, const char *why)
{
	struct pvm		*pv = arg;
	struct worker		*w = &env->bd_workers[PROC_VM];
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];
	int			 reaping = pv->pv_reaping;

	pv->pv_busy = 0;
	pv->pv_reaping = REAP_NONE;
	if (error != 0) {
		snprintf(msg, sizeof(msg), "cleanup: tap %s%s: %s",
		    TAP_PREFIX, pv->pv_id, why);
		if (reaping == REAP_DESTROY)
			vmop_error(w, pv->pv_peerid, pv->pv_id,
			    IMSG_VMOP_DESTROY, error, msg);
		else {
			/* The record stays CREATING: the next start undoes it. */
			log_warnx("vm %s: its failed creation is not undone "
			    "(%s); the next start of bangerd tries again",
			    pv->pv_id, msg);
			pv->pv_pending = 0;
		}
		return;
	}
	if (pv->pv_addr.s_addr != 0)
		pvm_net_send(pv, IMSG_NET_RELEASE);
	if (reaping == REAP_DESTROY) {
		log_info("vm %s: destroyed", pv->pv_id);
		pvm_result_init(pv, IMSG_VMOP_DESTROY, &vr);
		vr.vr_state = 0;
		pvm_unsave_reply(pv, pv->pv_peerid, &vr);
	} else
		pvm_unsave_reply(pv, 0, NULL);
	pvm_free(pv);
}

/* A VM's jail, cgroup, disk and loop devices go. */
static int
pvm_teardown_local(struct pvm *pv, char *msg, size_t len)
{
	const char	*sd = env->bd_conf->cf_statedir;

	if (jail_cleanup(sd, pv->pv_id) == -1) {
		snprintf(msg, len, "jail: %s", strerror(errno));
		return -1;
	}
	if (env->bd_cgroup.ct_mode != CGT_NONE &&
	    fc_cgroup_remove(env->bd_cgroup.ct_mount,
	    env->bd_cgroup.ct_parent, pv->pv_id) == -1) {
		snprintf(msg, len, "cgroup: %s", strerror(errno));
		return -1;
	}
	if (pvm_disk_remove(pv) == -1) {
		snprintf(msg, len, "disk: %s", strerror(errno));
		return -1;
	}
	if (pvm_snaps_remove(pv) == -1) {
		snprintf(msg, len, "snapshots: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void	create_commit(struct pvm *, const struct vmop_result *);
static int	create_disk_early(const struct pvm *);
static int	create_disk_send(struct pvm *, char *, size_t);

/*
 * Creation, in two turns.  The record first, "creating", naming who
 * the VM is and its uid; then the net worker is asked for an address,
 * and its answer (vmop_net_addr) has the disk and tap made, and the VM
 * recorded created with its address.  Whatever a crash of the daemon
 * leaves of it is named by the record, which vmop_restore() undoes;
 * what a power cut leaves, the sweep.
 */
int
vmop_create(struct worker *w, uint32_t peerid, const struct vmop_create *vc)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct image_files	 img;
	struct pvm		*pv;
	char			 msg[PROTO_MSG_MAX];

	if (image_resolve(vc->vc_image, &img, msg, sizeof(msg)) == -1) {
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, errno, msg);
		return 0;
	}
	if (net_iev() == NULL) {
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, EAGAIN,
		    "the net worker is restarting; try again");
		return 0;
	}
	if (pvm_count >= (size_t)conf->cf_max_vms) {
		snprintf(msg, sizeof(msg), "bangerd holds %zu VMs, its "
		    "max-vms", pvm_count);
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, ENOSPC, msg);
		return 0;
	}
	if ((pv = calloc(1, sizeof(*pv))) == NULL)
		fatal(NULL);
	strlcpy(pv->pv_id, vc->vc_id, sizeof(pv->pv_id));
	strlcpy(pv->pv_name, vc->vc_name, sizeof(pv->pv_name));
	strlcpy(pv->pv_image, vc->vc_image, sizeof(pv->pv_image));
	strlcpy(pv->pv_proc.fp_vmid, pv->pv_id, sizeof(pv->pv_proc.fp_vmid));
	pv->pv_owner = vc->vc_owner;
	pv->pv_proc.fp_pidfd = -1;
	pv->pv_proc.fp_ptyfd = -1;
	pv->pv_exit_status = -1;
	if (pvm_uid_alloc(&pv->pv_uid) == -1) {
		snprintf(msg, sizeof(msg), "no free uid in vm-uids %u to %u",
		    conf->cf_vm_uid_min, conf->cf_vm_uid_max);
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, ENOSPC, msg);
		free(pv);
		return 0;
	}
	snprintf(pv->pv_tap, sizeof(pv->pv_tap), "%s%s", TAP_PREFIX,
	    pv->pv_id);
	pv->pv_state = VMOP_CREATING;
	if (vc->vc_from_id[0] != '\0' &&
	    pvm_clone_begin(pv, vc, msg, sizeof(msg)) == -1) {
		vmop_error(w, peerid, vc->vc_id, IMSG_VMOP_CREATE, errno, msg);
		free(pv);
		return 0;
	}
	pv->pv_peerid = peerid;
	pv->pv_want_size = vc->vc_disk_size;
	pv->pv_want_flags = vc->vc_flags;
	pvm_insert(pv);
	/*
	 * Its first record, written but not synced (pvm_save_unsynced),
	 * before anything of it is made: the address is asked for at
	 * once.  A power cut may take that record; then it takes the
	 * creation with it: what the creation made is named by the VM's
	 * id and swept at the next start (sweep.c), and the vm worker,
	 * whose own record of it was synced before it asked, finds that
	 * no creation of it is left.  Its last record is synced
	 * (creates_run), and syncs the first with it.
	 */
	if (pvm_save_unsynced(pv) == -1) {
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_CREATE,
		    errno ? errno : EIO, "cannot write its record");
		pvm_unsave(pv);
		pvm_free(pv);
		return 0;
	}
	pv->pv_pending = 1;
	pvm_net_send(pv, IMSG_NET_ALLOC);
	return 0;
}

/*
 * A creation's last record ("created") is saved in one group commit
 * with the others at hand (pvm_save_all): concurrent creations share
 * the syncs, as removals do (vmop_destroys_run).  Meanwhile the VM is
 * busy: no request about it is taken.  The reply, cc_vr, goes once the
 * record says created.
 */
struct create_commit {
	TAILQ_ENTRY(create_commit) cc_entry;
	struct pvm		*cc_pv;
	struct vmop_result	 cc_vr;
};
static TAILQ_HEAD(, create_commit) create_q =
    TAILQ_HEAD_INITIALIZER(create_q);
static struct event		 create_ev;

static void	creates_run(int, short, void *);

static void
create_commit(struct pvm *pv, const struct vmop_result *vr)
{
	struct create_commit	*cc;

	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		fatal(NULL);
	cc->cc_pv = pv;
	cc->cc_vr = *vr;
	pv->pv_busy = 1;
	TAILQ_INSERT_TAIL(&create_q, cc, cc_entry);
	batch_later(&create_ev, creates_run);
}

/*
 * A creation's last record written: the VM is created, and the vm
 * worker told (img: the reply's boot arguments and initrd).
 */
static void
create_last_done(struct pvm *pv, int error, const char *why,
    const struct vmop_result *img)
{
	struct worker		*w = &env->bd_workers[PROC_VM];
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];
	int			 fd = -1;

	if (error != 0) {
		pv->pv_state = VMOP_CREATING;
		snprintf(msg, sizeof(msg), "%s: %s", why, strerror(error));
		pvm_create_fail(pv, EIO, msg);
		return;
	}
	/*
	 * A new disk goes to the vm worker with this reply, to write the
	 * guest's files into, unless it went ahead (create_disk_send); a
	 * clone's is its snapshot's, as it was.
	 */
	if (pv->pv_from == NULL && !create_disk_early(pv) &&
	    disk_open(env->bd_conf->cf_statedir, pv->pv_id, &fd) == -1) {
		snprintf(msg, sizeof(msg), "disk: %s", strerror(errno));
		pvm_create_fail(pv, errno, msg);
		return;
	}
	pvm_clone_end(pv);
	log_info("vm %s: created for uid %u from image %s: uid %u, address %s, "
	    "tap %s, %s disk %s", pv->pv_id, (unsigned)pv->pv_owner,
	    pv->pv_image, (unsigned)pv->pv_uid, inet_ntoa(pv->pv_addr),
	    pv->pv_tap, pv->pv_backend, pvm_disk(pv));
	pvm_result_init(pv, IMSG_VMOP_CREATE, &vr);
	memcpy(vr.vr_bootargs, img->vr_bootargs, sizeof(vr.vr_bootargs));
	memcpy(vr.vr_initrd, img->vr_initrd, sizeof(vr.vr_initrd));
	vmop_reply(w, pv->pv_peerid, &vr, fd);
}

/* Whether its new disk goes ahead of CREATE's reply (below): a file's. */
static int
create_disk_early(const struct pvm *pv)
{
	return pv->pv_from == NULL && pvm_disk_file(pv);
}

/*
 * A new file disk goes to the vm worker as soon as it is made, before
 * the tap and before the creation is recorded: the disk child writes
 * the guest's files while the parent makes the tap and syncs, and the
 * vm worker records the VM created only once it has both the disk
 * child's report and CREATE's reply (which then comes without a disk).
 * This is the only time the vm worker is handed a VM's disk.  If the
 * creation fails after it, the reply says so and the disk is removed
 * as ever: the child writes into a file no one will open again.  A
 * device-mapper disk waits for the reply: a child holding it open
 * would keep its removal from undoing a failed creation.  The message
 * is written at once, not at the next turn of the loop, or it would
 * wait for the tap.
 */
static int
create_disk_send(struct pvm *pv, char *msg, size_t len)
{
	struct worker		*w = &env->bd_workers[PROC_VM];
	struct vmop_result	 vr;
	int			 fd;

	if (disk_open(env->bd_conf->cf_statedir, pv->pv_id, &fd) == -1) {
		snprintf(msg, len, "disk: %s", strerror(errno));
		return -1;
	}
	pvm_result_init(pv, IMSG_VMOP_DISK, &vr);
	vmop_reply(w, pv->pv_peerid, &vr, fd);
	if (w->w_iev != NULL)
		imsg_event_write(w->w_iev);
	return 0;
}

/*
 * The disks of the creations about to be recorded created, synced
 * together (disk_create() left them unsynced): each disk, then
 * STATE/disks once.  errs[i] says why all[i]'s is not.
 */
static void
creates_disks_sync(struct create_commit **all, int *errs, size_t n)
{
	const char	**ids;
	int		 *derrs;
	size_t		  i, m = 0;

	if ((ids = calloc(n, sizeof(*ids))) == NULL ||
	    (derrs = calloc(n, sizeof(*derrs))) == NULL)
		fatal(NULL);
	for (i = 0; i < n; i++)
		if (pvm_disk_file(all[i]->cc_pv))
			ids[m++] = all[i]->cc_pv->pv_id;
	if (m > 0)
		(void)disks_sync(env->bd_conf->cf_statedir, ids, derrs, m);
	for (i = 0, m = 0; i < n; i++)
		if (pvm_disk_file(all[i]->cc_pv))
			errs[i] = derrs[m++];
	free(ids);
	free(derrs);
}

static void
creates_run(int fd, short event, void *arg)
{
	struct create_commit	*cc, **all;
	struct pvm		**pvs;
	const char		*why;
	size_t			 n = 0, i, m;
	int			*errs, *serrs;

	TAILQ_FOREACH(cc, &create_q, cc_entry)
		n++;
	if (n == 0)
		return;
	if ((all = calloc(n, sizeof(*all))) == NULL ||
	    (pvs = calloc(n, sizeof(*pvs))) == NULL ||
	    (errs = calloc(n, sizeof(*errs))) == NULL ||
	    (serrs = calloc(n, sizeof(*serrs))) == NULL)
		fatal(NULL);
	for (i = 0; (cc = TAILQ_FIRST(&create_q)) != NULL; i++) {
		TAILQ_REMOVE(&create_q, cc, cc_entry);
		all[i] = cc;
	}
	/* A disk is synced before its VM is recorded created. */
	creates_disks_sync(all, errs, n);
	for (i = 0, m = 0; i < n; i++) {
		if (errs[i] != 0)
			continue;
		pvs[m++] = all[i]->cc_pv;
		/* one synced write: the VM created, a clone's snapshot ready */
		all[i]->cc_pv->pv_state = VMOP_CREATED;
	}
	pvm_save_all(pvs, serrs, m);
	for (i = 0, m = 0; i < n; i++) {
		cc = all[i];
		why = "cannot sync its disk";
		if (errs[i] == 0) {
			errs[i] = serrs[m++];
			why = "cannot write its record";
		}
		cc->cc_pv->pv_busy = 0;
		create_last_done(cc->cc_pv, errs[i], why, &cc->cc_vr);
		free(cc);
	}
	free(all);
	free(pvs);
	free(errs);
	free(serrs);
}

/*
 * For a vm worker that ended or a bangerd that stops: the creations
 * made whole are recorded created.
 */
static void
creates_settle(void)
{
	if (evtimer_initialized(&create_ev))
		evtimer_del(&create_ev);
	creates_run(-1, EV_TIMEOUT, NULL);
}

/* A creation that cannot go on: undone, and its requester told. */
void
pvm_create_fail(struct pvm *pv, int error, const char *msg)
{
	struct worker	*w = &env->bd_workers[PROC_VM];
	char		 why[PROTO_MSG_MAX];

	/*
	 * Once only: a violation by the net worker fails the creation it
	 * answered, and the net worker's end fails every creation still
	 * waiting on it, this one among them.
	 */
	if (pv->pv_reaping != REAP_NONE)
		return;
	pv->pv_pending = 0;
	vmop_error(w, pv->pv_peerid, pv->pv_id, IMSG_VMOP_CREATE, error, msg);
	if (pvm_teardown_begin(pv, REAP_CREATE_FAIL, why,
	    sizeof(why)) == -1) {
		/* The record stays CREATING: the next start undoes it. */
		log_warnx("vm %s: its failed creation is not undone (%s); "
		    "the next start of bangerd tries again", pv->pv_id, why);
		pv->pv_pending = 0;
	}
}

/* The net worker's answer: the address, checked, then disk and tap. */
int
vmop_net_addr(struct worker *net, const struct net_addr *na)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct image_files	 img;
	struct vmop_result	 vr;
	struct pvm		*pv;
	struct net_vm		 nv;
	char			 msg[PROTO_MSG_MAX];
	int			 srcfd;

	if ((pv = pvm_find(na->na_id)) == NULL) {
		/* Its creation was given up (the vm worker went). */
		log_debug("vm %s: address for a creation given up; released",
		    na->na_id);
		memset(&nv, 0, sizeof(nv));
		strlcpy(nv.nv_id, na->na_id, sizeof(nv.nv_id));
		imsg_compose_event(net->w_iev, IMSG_NET_RELEASE, 0, 0, -1, &nv,
		    sizeof(nv));
		return 0;
	}
	/* priv.c checked it was asked for, and is a free one of the subnet. */
	if (na->na_error) {
		pvm_create_fail(pv, na->na_error, na->na_msg);
		return 0;
	}
	pv->pv_pending = 0;
	/*
	 * Recorded with the VM's last record ("created"), not now: a
	 * record cut short at "creating" is undone at start whatever it
	 * names, its tap and disk being named by its id, and a restarted
	 * net worker drops every address the records do not name
	 * (vmop_net_sync).  The device-mapper backend records it with its
	 * loop devices (pvm_disk_create).
	 */
	pvm_addr_set(pv, (struct in_addr){ .s_addr = na->na_addr });
	if (image_resolve(pv->pv_image, &img, msg, sizeof(msg)) == -1) {
		pvm_create_fail(pv, errno, msg);
		return 0;
	}
	srcfd = -1;
	if (pv->pv_from != NULL &&
	    (srcfd = pvm_clone_disk_open(pv, msg, sizeof(msg))) == -1) {
		pvm_create_fail(pv, errno, msg);
		return 0;
	}
	if (pvm_disk_create(pv, &img, srcfd, pv->pv_want_size,
	    pv->pv_want_flags, msg, sizeof(msg)) == -1) {
		pvm_create_fail(pv, errno, msg);
		return 0;
	}
	if (create_disk_early(pv) &&
	    create_disk_send(pv, msg, sizeof(msg)) == -1) {
		pvm_create_fail(pv, errno, msg);
		return 0;
	}
	if (net_tap_create(pv->pv_tap, conf->cf_bridge, pv->pv_uid,
	    pv->pv_uid) == -1) {
		snprintf(msg, sizeof(msg), "tap %s on %s: %s", pv->pv_tap,
		    conf->cf_bridge, strerror(errno));
		pvm_create_fail(pv, errno, msg);
		return 0;
	}
	if (pv->pv_from != NULL &&
	    pvm_clone_snapshot(pv, msg, sizeof(msg)) == -1) {
		pvm_create_fail(pv, errno, msg);
		return 0;
	}
	/* What the reply takes from the image; the rest once recorded. */
	memset(&vr, 0, sizeof(vr));
	strlcpy(vr.vr_bootargs, img.bootargs, sizeof(vr.vr_bootargs));
	if (img.initrd[0] != '\0')
		snprintf(vr.vr_initrd, sizeof(vr.vr_initrd), "/%s",
		    JAIL_INITRD);
	create_commit(pv, &vr);
	return 0;
}

/*
 * A (re)started net worker: it learns every VM's name and address from
 * the records, then that there are no others (its table drops them).
 */
void
vmop_net_sync(struct worker *net)
{
	struct pvm	*pv;

	TAILQ_FOREACH(pv, &pvms, pv_entry)
		if (pv->pv_addr.s_addr != 0 &&
		    pv->pv_state != VMOP_DESTROYING)
			pvm_net_send(pv, IMSG_NET_ALLOC);
	imsg_compose_event(net->w_iev, IMSG_NET_SYNC_END, 0, 0, -1, NULL, 0);
}

/* The net worker ended: creations waiting for its answer fail. */
void
vmop_net_gone(void)
{
	struct pvm	*pv, *tpv;

	TAILQ_FOREACH_SAFE(pv, &pvms, pv_entry, tpv)
		if (pv->pv_state == VMOP_CREATING && pv->pv_pending)
			pvm_create_fail(pv, EAGAIN, "the net worker ended; "
			    "try again");
}

/*
 * The vm worker ended: what it was waiting for is given up.  Creations
 * are undone (no one will provision them), and e2fsck children killed
 * (fsck_done then gives the disk back).
 */
void
vmop_vm_gone(void)
{
	struct pvm	*pv, *tpv;

	TAILQ_FOREACH_SAFE(pv, &pvms, pv_entry, tpv)
		if (pv->pv_state == VMOP_CREATING && pv->pv_pending) {
			log_info("vm %s: the vm worker ended while it was "
			    "being created; undoing it", pv->pv_id);
			pvm_create_fail(pv, EIO, "the vm worker ended");
		}
	fsck_cancel_all();
	snaps_worker_gone();
	/* Settled before the next vm worker hears of them. */
	vmop_settle();
}

int
vmop_socket(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];

	if (pv->pv_state != VMOP_RUNNING) {
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SOCKET, ESRCH,
		    "api socket: its firecracker is not running");
		return 0;
	}
	if (fc_socket_grant(env->bd_conf->cf_statedir, pv->pv_id,
	    env->bd_gid) == -1) {
		/* Not there yet is normal just after start: the worker retries. */
		if (errno != ENOENT) {
			snprintf(msg, sizeof(msg), "api socket: %s",
			    strerror(errno));
			vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SOCKET,
			    errno, msg);
			return 0;
		}
		memset(&vr, 0, sizeof(vr));
		strlcpy(vr.vr_id, pv->pv_id, sizeof(vr.vr_id));
		vr.vr_op = IMSG_VMOP_SOCKET;
		vr.vr_error = ENOENT;
		strlcpy(vr.vr_msg, "api socket not there yet",
		    sizeof(vr.vr_msg));
		vmop_reply(w, peerid, &vr, -1);
		return 0;
	}
	pvm_result_init(pv, IMSG_VMOP_SOCKET, &vr);
	vmop_reply(w, peerid, &vr, -1);
	return 0;
}

int
vmop_signal(struct worker *w, uint32_t peerid, struct pvm *pv, int sig)
{
	struct vmop_result	 vr;
	char			 msg[PROTO_MSG_MAX];

	/* A VM that already stopped needs no signal (the exit may race). */
	if (pv->pv_state == VMOP_RUNNING &&
	    fc_signal(&pv->pv_proc, sig) == -1) {
		snprintf(msg, sizeof(msg), "signal %d: %s", sig,
		    strerror(errno));
		vmop_error(w, peerid, pv->pv_id, IMSG_VMOP_SIGNAL, errno, msg);
		return 0;
	}
	log_info("vm %s: signal %d", pv->pv_id, sig);
	pvm_result_init(pv, IMSG_VMOP_SIGNAL, &vr);
	vmop_reply(w, peerid, &vr, -1);
	return 0;
}

/*
 * A removal: "destroying" recorded (and synced) first, then the VM's
 * objects go (pvm_teardown_begin), the reply once its tap is gone.  The
 * removals asked for together (a prune) are recorded together, in one
 * group commit (vmop_destroys_run); meanwhile the VM is busy.
 */
static TAILQ_HEAD(, pvm)	 destroy_q = TAILQ_HEAD_INITIALIZER(destroy_q);
static struct event		 destroy_ev;

static void
vmop_destroys_run(int fd, short event, void *arg)
{
	struct worker	*w = &env->bd_workers[PROC_VM];
	struct pvm	**all, **save, *pv;
	char		 msg[PROTO_MSG_MAX], why[PROTO_MSG_MAX];
	size_t		 n = 0, m = 0, i, j;
	int		*errs, *was;

	TAILQ_FOREACH(pv, &destroy_q, pv_batch)
		n++;
	if (n == 0)
		return;
	if ((all = calloc(n, sizeof(*all))) == NULL ||
	    (save = calloc(n, sizeof(*save))) == NULL ||
	    (errs = calloc(n, sizeof(*errs))) == NULL ||
	    (was = calloc(n, sizeof(*was))) == NULL)
		fatal(NULL);
	for (i = 0; (pv = TAILQ_FIRST(&destroy_q)) != NULL; i++) {
		TAILQ_REMOVE(&destroy_q, pv, pv_batch);
		all[i] = pv;
		/* A removal cut short is finished: its record says so. */
		if (pv->pv_state == VMOP_DESTROYING)
			continue;
		was[m] = pv->pv_state;
		pv->pv_state = VMOP_DESTROYING;
		save[m++] = pv;
	}
	pvm_save_all(save, errs, m);
	for (i = 0, j = 0; i < n; i++) {
		pv = all[i];
		pv->pv_busy = 0;
		if (j < m && save[j] == pv && errs[j] != 0) {
			pv->pv_state = was[j++];
			vmop_error(w, pv->pv_peerid, pv->pv_id,
			    IMSG_VMOP_DESTROY, EIO, "cannot write its record");
			continue;
		}
		if (j < m && save[j] == pv)
			j++;
		if (pvm_teardown_begin(pv, REAP_DESTROY, why,
		    sizeof(why)) == -1) {
			snprintf(msg, sizeof(msg), "cleanup: %s", why);
			vmop_error(w, pv->pv_peerid, pv->pv_id,
			    IMSG_VMOP_DESTROY, errno, msg);
		}
		/* The reply comes when the tap is gone (pvm_reaped). */
	}
	free(all);
	free(save);
	free(errs);
	free(was);
}

int
vmop_destroy(struct worker *w, uint32_t peerid, struct pvm *pv)
{
	pv->pv_peerid = peerid;
	pv->pv_busy = 1;
	TAILQ_INSERT_TAIL(&destroy_q, pv, pv_batch);
	batch_later(&destroy_ev, vmop_destroys_run);
	return 0;
}

/*
 * Everything under way finished now, for a vm worker that ended or a
 * bangerd that stops: spawns, removals waiting to be recorded, and taps
 * waiting to go.
 */
void
vmop_settle(void)
{
	vmop_spawns_finish();
	creates_settle();
	if (evtimer_initialized(&destroy_ev))
		evtimer_del(&destroy_ev);
	vmop_destroys_run(-1, EV_TIMEOUT, NULL);
	reaper_drain();
}

/*
 * Tell a (re)started vm worker about every VM the parent holds; it
 * reconciles its records with these at IMSG_VMOP_KNOWN_END.  Queued
 * only: the event loop writes them as the worker reads.
 */
void
vmop_announce(struct worker *w)
{
	struct vmop_result	 vr;
	struct pvm		*pv;
	int			 fd;

	TAILQ_FOREACH(pv, &pvms, pv_entry) {
		pvm_result_init(pv, IMSG_VMOP_KNOWN, &vr);
		/* A running VM's console, again (see vmop_start). */
		fd = -1;
		if (pv->pv_state == VMOP_RUNNING && pv->pv_proc.fp_ptyfd != -1 &&
		    (fd = fcntl(pv->pv_proc.fp_ptyfd, F_DUPFD_CLOEXEC, 0)) == -1)
			log_warn("vm %s: console", pv->pv_id);
		if (imsg_compose_event(w->w_iev, IMSG_VMOP_KNOWN, 0, 0, fd, &vr,
		    sizeof(vr)) == -1 && fd != -1)
			close(fd);
	}
	imsg_compose_event(w->w_iev, IMSG_VMOP_KNOWN_END, 0, 0, -1, NULL, 0);
}

/* The VM defaults from the configuration, for the vm worker. */
void
vm_defaults_send(struct worker *w)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct vm_defaults	 vd;

	if (w->w_iev == NULL || w->w_state != WORKER_RUNNING)
		return;
	memset(&vd, 0, sizeof(vd));
	vd.vd_cpus = conf->cf_def_cpus;
	vd.vd_max_vms = conf->cf_max_vms;
	vd.vd_memory = conf->cf_def_memory;
	vd.vd_disk = conf->cf_def_disk;
	imsg_compose_event(w->w_iev, IMSG_VM_DEFAULTS, 0, 0, -1, &vd,
	    sizeof(vd));
}

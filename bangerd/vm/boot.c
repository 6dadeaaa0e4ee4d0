/*
 * A VM's start, stop, pause and resume over Firecracker's API: e2fsck
 * and the parent's start first, then the configuration requests and
 * InstanceStart, one request in flight at a time and each answered in
 * the event loop; a stop's Ctrl-Alt-Del and the kill after it.  The
 * API's HTTP client is fcapi.c.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmint.h"
#include "fcjail.h"
#include "fcapi.h"
#include "log.h"
#include "validate.h"

#define INSTANCE_WAIT_MS	1000		/* "Not started" that long */
/*
 * Firecracker makes its API socket before it listens on it: refused
 * connections are retried, 1 ms apart at first and at most 25 ms, for
 * CONNECT_TIMEOUT seconds.
 */
#define CONNECT_TIMEOUT		5
#define STOP_TIMEOUT		10		/* s, SendCtrlAltDel to kill */
/*
 * The kernel command line vm_boot() sends: the image's boot args, then
 * " ip=ADDR::GATEWAY:MASK:NAME:eth0:off" (three dotted quads, a VM name).
 * Firecracker appends " root=/dev/vda rw" and, on x86_64, one
 * " virtio_mmio.device=4K@0x...:IRQ" for each device (two here), and
 * refuses a line that does not fit its CMDLINE_MAX_SIZE, 2048 bytes with
 * the NUL: the longest boot args an image may have leave room for all.
 */
#define BOOT_IP_MAX		(sizeof(" ip=:::::eth0:off") - 1 + \
				3 * (INET_ADDRSTRLEN - 1) + VALID_NAME_MAX)
#define BOOT_CMDLINE_MAX	(PROTO_BOOTARGS_MAX + BOOT_IP_MAX)
#define FC_CMDLINE_MAX		2048
#define FC_CMDLINE_ADDED	128
_Static_assert(BOOT_CMDLINE_MAX + FC_CMDLINE_ADDED <= FC_CMDLINE_MAX,
    "an image's boot args and the address may not fit Firecracker's "
    "command line");

static void	 vm_started(struct vm *);

/*
 * Starting: e2fsck -p on the disk first (the parent runs it), then boot;
 * a disk no guest has booted since provisioning wrote it (and closed its
 * file system clean) needs no check.
 */
void
vm_start_begin(struct vm *v)
{
	int	 fresh = v->v_fresh;

	/*
	 * A first start is recorded synced, in the state the VM is in
	 * before it: starting itself is a run-time state (registry.c),
	 * which a power cut must not leave as the VM's last word.
	 */
	if (v->v_clone_snap != NULL) {
		/* A clone's first start restores its copy of the snapshot. */
		v->v_fresh = 0;
		v->v_sync = 1;
		(void)vm_save(v);
		vm_strset(&v->v_restore, v->v_clone_snap, PROTO_VMNAME_MAX);
		vm_set_state(v, VM_STARTING);
		vm_start_boot(v);
		return;
	}
	if (fresh) {
		v->v_fresh = 0;
		v->v_sync = 1;
		(void)vm_save(v);
	}
	vm_set_state(v, VM_STARTING);
	if (fresh)
		vm_start_boot(v);
	else
		vmop_id_send(IMSG_VMOP_FSCK, v);
}

void
vm_start_boot(struct vm *v)
{
	struct vmop_start	 vs;

	memset(&vs, 0, sizeof(vs));
	strlcpy(vs.vs_id, v->v_id, sizeof(vs.vs_id));
	vs.vs_cpus = v->v_cpus;
	vs.vs_memory = v->v_memory;
	vs.vs_npublish = v->v_npublish;
	if (v->v_npublish > 0)
		memcpy(vs.vs_publish, v->v_publish,
		    v->v_npublish * sizeof(*v->v_publish));
	if (v->v_restore != NULL) {
		vs.vs_flags |= VS_F_RESTORE;
		strlcpy(vs.vs_snap, v->v_restore, sizeof(vs.vs_snap));
	}
	if (vm_identity(v, vs.vs_identity, sizeof(vs.vs_identity)) == -1)
		fatalx("vm %s: its identity does not fit", v->v_id);
	/*
	 * A first start's record (vm_start_begin) is synced while the
	 * parent builds the jail and spawns Firecracker: what must be
	 * durable first is the record, before the guest runs, not before
	 * the spawn.  vm_boot_begin() commits it before any request to
	 * Firecracker if it is still queued.
	 */
	vmop_send_ahead(IMSG_VMOP_START, &vs, sizeof(vs));
	explicit_bzero(vs.vs_identity, sizeof(vs.vs_identity));
}

/*
 * The boot's steps after the configuration requests: InstanceStart,
 * GET / until Firecracker says Running, GET /vm/config to verify.
 */
enum {
	BOOT_ACTION = FCAPI_CONFIG_MAX,
	BOOT_INSTANCE,
	BOOT_VERIFY,
};

static void	vm_boot_step(struct vm *);

/* A request on v's API socket, the one in flight for v (any other goes). */
int
vm_api(struct vm *v, const char *method, const char *path, json_t *body,
    fcapi_cb cb, char *err, size_t errlen)
{
	fcapi_cancel(v->v_api);
	v->v_api = fcapi_start(S(v->v_socket), method, path, body, cb, v, err,
	    errlen);
	return v->v_api == NULL ? -1 : 0;
}

/*
 * Try again soon: 1 ms, then twice as long each time up to cap_ms, for
 * what comes in a few milliseconds on an idle host and later on a busy
 * one (a socket to appear, a VMM to listen, a guest to start).
 */
void
vm_retry(struct vm *v, void (*cb)(int, short, void *), int cap_ms)
{
	struct timeval	 tv;
	long		 ms;

	ms = v->v_tries < 16 ? 1L << v->v_tries : cap_ms;
	if (ms > cap_ms)
		ms = cap_ms;
	v->v_tries++;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = ms % 1000 * 1000;
	evtimer_set(&v->v_timer, cb, v);
	evtimer_add(&v->v_timer, &tv);
}

/* now + ms, on the monotonic clock. */
void
deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += ms % 1000 * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
deadline_passed(const struct timespec *ts)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return !timespeccmp(&now, ts, <);
}

/*
 * A boot under way: its kernel command line, and the configuration
 * requests, made once (a refused first request is sent again).
 */
struct vm_boot {
	char		 vb_cmdline[BOOT_CMDLINE_MAX];
	const char	*vb_paths[FCAPI_CONFIG_MAX];
	json_t		*vb_bodies[FCAPI_CONFIG_MAX];
	size_t		 vb_n;
	/*
	 * A lone start's configuration after the logger goes at once
	 * (vm_boot_config): each request in vb_reqs until it is answered,
	 * vb_inflight of them.
	 */
	struct vm_bootreq {
		struct vm	*br_vm;
		size_t		 br_step;
	}		 vb_br[FCAPI_CONFIG_MAX];
	struct fcapi_req *vb_reqs[FCAPI_CONFIG_MAX];
	size_t		 vb_inflight;
};

void
vm_boot_end(struct vm *v)
{
	size_t	 i;

	fcapi_cancel(v->v_api);
	v->v_api = NULL;
	vm_fcout_hold(v, 0);
	if (v->v_boot == NULL)
		return;
	for (i = 0; i < v->v_boot->vb_n; i++) {
		fcapi_cancel(v->v_boot->vb_reqs[i]);
		json_decref(v->v_boot->vb_bodies[i]);
	}
	free(v->v_boot);
	v->v_boot = NULL;
}

/* A start that failed: the VM in error, its Firecracker killed. */
static void
vm_boot_fail(struct vm *v, const char *what, const char *err)
{
	vm_boot_end(v);
	vm_strset(&v->v_error, err, PROTO_MSG_MAX);
	vm_set_state(v, VM_ERROR);
	vmop_signal_send(v, SIGKILL);
	vm_op_done(v, EIO, "vm %s: %s%s", v->v_name, what, err);
}

static void
vm_boot_retry(int fd, short event, void *arg)
{
	struct vm	*v = arg;

	if (v->v_state == VM_STARTING)
		vm_boot_step(v);
}

/* What Firecracker is told; pointers into v. */
static void
vm_boot_fb(struct vm *v, struct fc_boot *fb)
{
	memset(fb, 0, sizeof(*fb));
	fb->fb_cpus = v->v_cpus;
	fb->fb_memory = v->v_memory;
	fb->fb_kernel = S(v->v_kernel);
	fb->fb_initrd = S(v->v_initrd);
	fb->fb_bootargs = v->v_boot->vb_cmdline;
	fb->fb_disk = S(v->v_diskpath);
	fb->fb_tap = v->v_tap;
	fb->fb_mac = v->v_mac;
	fb->fb_log = JAIL_LOG;
	fb->fb_metrics = JAIL_METRICS;
	fb->fb_identity = "/" JAIL_IDENTITY;
	/*
	 * A clone's snapshots may name its origin's tap (the one it was
	 * made from does): a clone's restore puts eth0 on its own.
	 */
	fb->fb_tap_override = v->v_clone_of != NULL && v->v_restore != NULL;
}

/*
 * The API socket is there: open our ends of its FIFOs, make the kernel
 * command line, then configure Firecracker over its API and boot the
 * guest, then check that it runs (GET /) and runs what was sent (GET
 * /vm/config): one request at a time but for the configuration after
 * the logger (vm_boot_config), each answered in the event loop.
 */
void
vm_boot_begin(struct vm *v)
{
	struct fc_boot	 fb;
	char		 err[PROTO_MSG_MAX];
	int		 n;

	/*
	 * A first start's record, sent to the parent ahead of its commit
	 * (vm_start_boot), durable before the guest can run.
	 */
	if (v->v_queued)
		vm_commit_now();
	/* Our read ends first: Firecracker opens its ends at PUT. */
	if (vm_fcout_open(v, err, sizeof(err)) == -1) {
		vm_boot_fail(v, "", err);
		return;
	}
	vm_boot_end(v);
	if ((v->v_boot = calloc(1, sizeof(*v->v_boot))) == NULL)
		fatal(NULL);
	vm_fcout_hold(v, 1);
	/* The address on the command line, for guests that take it there. */
	if (v->v_addr.s_addr != 0) {
		char	 a[16], g[16], m[16];
		struct in_addr mask;

		mask.s_addr = v->v_prefix ? htonl(0xffffffffU <<
		    (32 - v->v_prefix)) : 0;
		inet_ntop(AF_INET, &v->v_addr, a, sizeof(a));
		inet_ntop(AF_INET, &v->v_gateway, g, sizeof(g));
		inet_ntop(AF_INET, &mask, m, sizeof(m));
		n = snprintf(v->v_boot->vb_cmdline, BOOT_CMDLINE_MAX,
		    "%s ip=%s::%s:%s:"
		    "%s:eth0:off", S(v->v_bootargs), a, g, m, v->v_name);
	} else
		n = snprintf(v->v_boot->vb_cmdline, BOOT_CMDLINE_MAX, "%s",
		    S(v->v_bootargs));
	/* Cut short, the guest would boot with other arguments. */
	if (n < 0 || (size_t)n >= BOOT_CMDLINE_MAX) {
		snprintf(err, sizeof(err), "its kernel command line of %d "
		    "bytes is longer than the %zu it may have", n,
		    BOOT_CMDLINE_MAX - 1);
		vm_boot_fail(v, "", err);
		return;
	}
	vm_boot_fb(v, &fb);
	if (v->v_restore != NULL)
		v->v_boot->vb_n = fcapi_restore_reqs(&fb, RESTORE_JAIL_STATE,
		    RESTORE_JAIL_MEM, v->v_boot->vb_paths,
		    v->v_boot->vb_bodies);
	else
		v->v_boot->vb_n = fcapi_config_reqs(&fb, v->v_boot->vb_paths,
		    v->v_boot->vb_bodies);
	deadline_in(&v->v_deadline, CONNECT_TIMEOUT * 1000L);
	v->v_tries = 0;
	v->v_bootstep = 0;
	vm_boot_step(v);
}

/*
 * One of the configuration requests sent together answered: the boot
 * goes on (InstanceStart) once all are, and fails at the first refused
 * (the others are cancelled).
 */
static void
vm_boot_config_done(void *arg, int st, json_t *resp, const char *err,
    int errnum)
{
	struct vm_bootreq	*br = arg;
	struct vm		*v = br->br_vm;
	struct vm_boot		*vb = v->v_boot;

	vb->vb_reqs[br->br_step] = NULL;
	vb->vb_inflight--;
	vm_fcout_drain(v);
	if (v->v_state != VM_STARTING)
		return;
	if (st < 200 || st > 299) {
		vm_boot_fail(v, "firecracker refused: ", err);
		return;
	}
	if (vb->vb_inflight > 0)
		return;
	v->v_bootstep = BOOT_ACTION;
	vm_boot_step(v);
}

/*
 * The metrics, machine, boot source, drives and network at once: the
 * first on the kept-alive connection, each of the others on one of its
 * own.  Firecracker takes them in whatever order they come (before
 * InstanceStart, none depends on another), and answers each without
 * waiting for us to send the next.  The logger went first, so that it
 * logs these.
 */
static void
vm_boot_config(struct vm *v)
{
	struct vm_boot	*vb = v->v_boot;
	char		 err[PROTO_MSG_MAX];
	size_t		 i;

	for (i = v->v_bootstep; i < vb->vb_n; i++) {
		vb->vb_br[i].br_vm = v;
		vb->vb_br[i].br_step = i;
		/* The first on the kept-alive connection, the rest apart. */
		if ((vb->vb_reqs[i] = fcapi_start_conn(S(v->v_socket), "PUT",
		    vb->vb_paths[i], json_incref(vb->vb_bodies[i]),
		    i > (size_t)v->v_bootstep, vm_boot_config_done,
		    &vb->vb_br[i], err, sizeof(err))) == NULL) {
			vm_boot_fail(v, "firecracker refused: ", err);
			return;
		}
		vb->vb_inflight++;
	}
}

static void
vm_boot_done(void *arg, int st, json_t *resp, const char *err, int errnum)
{
	struct vm		*v = arg;
	struct fc_instance	 fi;
	struct fc_boot		 fb;
	char			 msg[PROTO_MSG_MAX];
	int			 first;

	v->v_api = NULL;
	vm_fcout_drain(v);
	if (v->v_state != VM_STARTING)
		return;
	if (v->v_bootstep < BOOT_INSTANCE && (st < 200 || st > 299)) {
		/* Until v_deadline, a first request may find no listener. */
		if (v->v_bootstep == 0 && st == -1 &&
		    errnum == ECONNREFUSED) {
			if (!deadline_passed(&v->v_deadline)) {
				vm_retry(v, vm_boot_retry, 25);
				return;
			}
			snprintf(msg, sizeof(msg), "firecracker did not "
			    "accept connections on its API socket within %d "
			    "s (%s)", CONNECT_TIMEOUT, err);
			vm_boot_fail(v, "", msg);
			return;
		}
		vm_boot_fail(v, "firecracker refused: ", err);
		return;
	}
	if (st < 200 || st > 299) {
		vm_boot_fail(v, "", err);
		return;
	}
	switch (v->v_bootstep) {
	case BOOT_ACTION:
		deadline_in(&v->v_deadline, INSTANCE_WAIT_MS);
		v->v_tries = 0;
		break;
	case BOOT_INSTANCE:
		if (fcapi_instance_parse(resp, &fi, msg, sizeof(msg)) == -1) {
			vm_boot_fail(v, "", msg);
			return;
		}
		strlcpy(v->v_vmm_version, fi.fi_version,
		    sizeof(v->v_vmm_version));
		strlcpy(v->v_vmm_state, fi.fi_state, sizeof(v->v_vmm_state));
		if (strcmp(fi.fi_state, "Running") == 0 &&
		    v->v_restore != NULL) {
			/* Its configuration is the snapshot's. */
			vm_boot_end(v);
			v->v_started = time(NULL);
			log_info("vm %s: running, restored from snapshot %s "
			    "(firecracker %s, pid %d)", v->v_name,
			    v->v_restore, v->v_vmm_version, v->v_pid);
			/* A clone's first start: from now on, a VM. */
			if ((first = v->v_clone_snap != NULL)) {
				vm_strset(&v->v_clone_snap, "", 1);
				v->v_sync = 1;
			}
			vm_set_state(v, VM_RUNNING);
			if (first)
				vm_op_done(v, 0, "vm %s started (a clone of %s)",
				    v->v_name, S(v->v_clone_of));
			else
				vm_op_done(v, 0, "vm %s restored from snapshot "
				    "%s", v->v_name, v->v_restore);
			return;
		}
		if (strcmp(fi.fi_state, "Running") == 0)
			break;
		if (strcmp(fi.fi_state, "Not started") != 0 ||
		    deadline_passed(&v->v_deadline)) {
			snprintf(msg, sizeof(msg), "firecracker's state is "
			    "\"%s\" after InstanceStart, not \"Running\"",
			    fi.fi_state);
			vm_boot_fail(v, "", msg);
			return;
		}
		vm_retry(v, vm_boot_retry, 50);
		return;
	case BOOT_VERIFY:
		vm_boot_fb(v, &fb);
		if (fcapi_config_check(resp, &fb, msg, sizeof(msg)) == -1) {
			vm_boot_fail(v, "", msg);
			return;
		}
		vm_boot_end(v);
		v->v_started = time(NULL);
		vm_set_state(v, VM_RUNNING);
		log_info("vm %s: running (firecracker %s, pid %d)", v->v_name,
		    v->v_vmm_version, v->v_pid);
		vm_started(v);
		return;
	}
	v->v_bootstep++;
	vm_boot_step(v);
}

/* The boot's next request. */
static void
vm_boot_step(struct vm *v)
{
	struct vm_boot	*vb = v->v_boot;
	json_t		*body = NULL;
	const char	*method = "PUT", *path = NULL, *what = "";
	char		 err[PROTO_MSG_MAX];
	int		 step = v->v_bootstep;

	/* A restore's last request, PUT /snapshot/load, started it. */
	if (step >= (int)vb->vb_n && step < BOOT_ACTION)
		step = v->v_bootstep = v->v_restore != NULL ? BOOT_INSTANCE :
		    BOOT_ACTION;
	/*
	 * What follows the logger at a boot: at once, if no other request
	 * is in flight (a lone start, waited for).  With others in flight,
	 * the VMs' starts already overlap, and a boot's requests go one at
	 * a time: each in flight holds a libcurl handle and, apart, a
	 * connection, and at hundreds of starts their memory would stay
	 * in the worker's heap among what the VMs hold.
	 */
	if (v->v_restore == NULL && step < (int)vb->vb_n &&
	    strcmp(vb->vb_paths[step], "/logger") != 0 &&
	    fcapi_idle()) {
		vm_boot_config(v);
		return;
	}
	if (step < (int)vb->vb_n) {
		path = vb->vb_paths[step];
		/* fcapi_start() takes a reference; ours is for a retry. */
		body = json_incref(vb->vb_bodies[step]);
	}
	switch (step) {
	case BOOT_ACTION:
		path = "/actions";
		body = json_pack("{s:s}", "action_type", "InstanceStart");
		what = "firecracker refused: ";
		break;
	case BOOT_INSTANCE:
		method = "GET";
		path = "/";
		break;
	case BOOT_VERIFY:
		method = "GET";
		path = "/vm/config";
		break;
	default:
		what = "firecracker refused: ";
		break;
	}
	if (vm_api(v, method, path, body, vm_boot_done, err,
	    sizeof(err)) == -1)
		vm_boot_fail(v, what, err);
}

/* "vm NAME did not shut down ...", "vm NAME: firecracker refused ...". */
const char *
vm_killed_why(const struct vm *v, char *buf, size_t len)
{
	snprintf(buf, len, "vm %s%s%s", v->v_name, v->v_killed_cad ? ": " :
	    " ", S(v->v_killed));
	return buf;
}

/* Running: the client is told what its start, or restart, did. */
static void
vm_started(struct vm *v)
{
	char	 why[PROTO_MSG_MAX];

	switch (v->v_restart) {
	case RESTART_START:
		vm_op_done(v, 0, "vm %s was not running (%s); started",
		    v->v_name, state_name(v->v_restart_was));
		break;
	case RESTART_STOP:
		if (v->v_killed != NULL)
			vm_op_done(v, RES_KILLED, "%s; killed and started "
			    "again", vm_killed_why(v, why, sizeof(why)));
		else if (v->v_stop_force)
			vm_op_done(v, 0, "vm %s killed and started again",
			    v->v_name);
		else
			vm_op_done(v, 0, "vm %s restarted", v->v_name);
		break;
	default:
		vm_op_done(v, 0, "vm %s started", v->v_name);
		break;
	}
}

void
vm_socket_retry(int fd, short event, void *arg)
{
	struct vm	*v = arg;

	vmop_id_send(IMSG_VMOP_SOCKET, v);
}

static void
vm_stop_timeout(int fd, short event, void *arg)
{
	struct vm	*v = arg;

	if (v->v_state != VM_STOPPING)
		return;
	log_info("vm %s: no shutdown within %d s of SendCtrlAltDel; killing "
	    "it", v->v_name, v->v_stop_timeout);
	v->v_killed_cad = 0;
	vm_strf(&v->v_killed, "did not shut down within "
	    "%d s", v->v_stop_timeout);
	vmop_signal_send(v, SIGKILL);
}

static void	vm_stop_cad(struct vm *);

/*
 * A paused guest cannot act on Ctrl-Alt-Del: a stop resumes it first.
 * If it cannot be resumed the stop is refused (it is left paused).
 */
static void
vm_stop_resumed(void *arg, int st, json_t *resp, const char *err,
    int errnum)
{
	struct vm	*v = arg;

	v->v_api = NULL;
	if (v->v_state != VM_PAUSED)
		return;
	if (st < 200 || st > 299) {
		log_warnx("vm %s: resume, to shut it down: %s", v->v_name, err);
		vm_op_done(v, EIO, "vm %s is paused and could not be resumed "
		    "to shut it down (%s): resume it first (bangerctl vm "
		    "resume %s), or stop -f to kill it", v->v_name, err,
		    v->v_name);
		return;
	}
	strlcpy(v->v_vmm_state, "Running", sizeof(v->v_vmm_state));
	log_info("vm %s: resumed, to shut it down", v->v_name);
	vm_set_state(v, VM_STOPPING);
	vm_stop_cad(v);
}

/*
 * Stop: Ctrl-Alt-Del, and SIGKILL if the VM has not ended after the
 * timeout; SIGKILL at once if forced, or if Firecracker does not send
 * Ctrl-Alt-Del (it refuses it on aarch64).  A kill that was not asked
 * for is kept in v_killed: the client is told of it.  A paused VM is
 * resumed first (unless forced).
 */
void
vm_stop_begin(struct vm *v, int force, int timeout)
{
	char	 err[PROTO_MSG_MAX];

	v->v_stop_force = force;
	v->v_stop_timeout = timeout > 0 ? timeout : STOP_TIMEOUT;
	vm_strset(&v->v_killed, "", PROTO_MSG_MAX);
	if (!force && v->v_state == VM_PAUSED) {
		if (vm_api(v, "PATCH", "/vm", json_pack("{s:s}", "state",
		    "Resumed"), vm_stop_resumed, err, sizeof(err)) == -1)
			vm_stop_resumed(v, -1, NULL, err, EIO);
		return;
	}
	vm_set_state(v, VM_STOPPING);
	if (force) {
		vmop_signal_send(v, SIGKILL);
		return;
	}
	vm_stop_cad(v);
}

static void
vm_stop_sent(void *arg, int st, json_t *resp, const char *err, int errnum)
{
	struct vm	*v = arg;
	struct timeval	 tv;
	char		 msg[PROTO_MSG_MAX];

	v->v_api = NULL;
	if (v->v_state != VM_STOPPING)
		return;
	if (st < 200 || st > 299) {
		if (err[0] == '\0')
			snprintf(msg, sizeof(msg), "HTTP %d", st);
		else
			strlcpy(msg, err, sizeof(msg));
		v->v_killed_cad = 1;
		vm_strf(&v->v_killed, st == -1 ?
		    "Ctrl-Alt-Del could not be sent (%s)" :
		    "firecracker refused Ctrl-Alt-Del (%s)", msg);
		log_info("vm %s: %s; killing it", v->v_name, S(v->v_killed));
		vmop_signal_send(v, SIGKILL);
		return;
	}
	tv.tv_sec = v->v_stop_timeout;
	tv.tv_usec = 0;
	evtimer_set(&v->v_timer, vm_stop_timeout, v);
	evtimer_add(&v->v_timer, &tv);
}

static void
vm_stop_cad(struct vm *v)
{
	char	 err[PROTO_MSG_MAX];

	if (vm_api(v, "PUT", "/actions", json_pack("{s:s}", "action_type",
	    "SendCtrlAltDel"), vm_stop_sent, err, sizeof(err)) == -1)
		vm_stop_sent(v, -1, NULL, err, EIO);
}

/* PATCH /vm answered, for vm pause or resume. */
void
vm_paused(void *arg, int st, json_t *resp, const char *err, int errnum)
{
	struct vm	*v = arg;
	int		 pause = v->v_state == VM_RUNNING;

	v->v_api = NULL;
	if (v->v_state != VM_RUNNING && v->v_state != VM_PAUSED)
		return;
	if (st < 200 || st > 299) {
		vm_op_done(v, EIO, "vm %s: %s", v->v_name, err);
		return;
	}
	strlcpy(v->v_vmm_state, pause ? "Paused" : "Running",
	    sizeof(v->v_vmm_state));
	v->v_snap_paused = 0;	/* its owner's now, not a snapshot's */
	vm_set_state(v, pause ? VM_PAUSED : VM_RUNNING);
	vm_op_done(v, 0, "vm %s %s", v->v_name, pause ? "paused" : "resumed");
}

/*
 * The vm worker: the control socket's server, the VM registry and state
 * machine, and the Firecracker API client.  It runs as _banger chrooted
 * in the state directory; its records are in /vms/ID/vm.json there.
 *
 * Every root operation on a VM is a request to the parent naming the
 * VM's id (IMSG_VMOP_*); the parent answers with IMSG_VMOP_RESULT and
 * tells us when a Firecracker ends (IMSG_VMOP_EXITED).  Each VM has at
 * most one operation in flight, and the client that asked for it waits
 * for its end.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/tree.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vm.h"
#include "fcjail.h"
#include "fcapi.h"
#include "guestfs.h"
#include "log.h"
#include "validate.h"

#define VMS_DIR			"/vms"
#define VM_RECORD		"vm.json"
#define VM_CONSOLE		"console.log"
#define VM_CONSOLE_OLD		"console.log.0"
#define CONSOLE_MAX		(1 << 20)	/* then it becomes .0 */
#define VM_FCLOG		"firecracker.log"
#define VM_FCLOG_OLD		"firecracker.log.0"
#define FCLOG_MAX		(1 << 20)	/* then it becomes .0 */
#define VM_METRICS		"metrics.json"
#define METRICS_LINE_MAX	(256 * 1024)	/* one flush; longer is dropped */
#define INSTANCE_WAIT_MS	1000		/* "Not started" that long */
/*
 * Typed, not yet taken by the pty: past CONSOLE_IN_HIGH we stop reading
 * the client until the guest has read it down to CONSOLE_IN_LOW; the
 * messages already read may take it to CONSOLE_IN_MAX, beyond which
 * input is dropped.
 */
#define CONSOLE_IN_HIGH		(64 * 1024)
#define CONSOLE_IN_LOW		(16 * 1024)
#define CONSOLE_IN_MAX		(256 * 1024)
#define SOCKET_WAIT_MS		5000		/* for the API socket file */
/*
 * Firecracker makes its API socket before it listens on it: refused
 * connections are retried, 1 ms apart at first and at most 25 ms, for
 * CONNECT_TIMEOUT seconds.
 */
#define CONNECT_TIMEOUT		5
#define STOP_TIMEOUT		10		/* s, SendCtrlAltDel to kill */
#define DEFAULT_IMAGE		"default"
/*
 * The boot arguments of an image that has none.  The i8042 options are
 * Firecracker's own defaults: they spare the guest's kernel probing the
 * keyboard controller (SendCtrlAltDel's way in) for what Firecracker
 * does not emulate.
 */
#define DEFAULT_BOOTARGS	"console=ttyS0 reboot=k panic=1 pci=off " \
	"i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
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
#define VM_CPUS_MAX		32
#define VM_MEM_MIN		128		/* MiB */
#define VM_MEM_MAX		(1024 * 1024)

enum vm_state {
	VM_CREATING,
	VM_CREATED,
	VM_STARTING,
	VM_RUNNING,
	VM_PAUSED,
	VM_STOPPING,
	VM_STOPPED,
	VM_ERROR,
	VM_REMOVING,
};

static const char *const vm_state_names[] = {
	[VM_CREATING] = "creating",
	[VM_CREATED] = "created",
	[VM_STARTING] = "starting",
	[VM_RUNNING] = "running",
	[VM_PAUSED] = "paused",
	[VM_STOPPING] = "stopping",
	[VM_STOPPED] = "stopped",
	[VM_ERROR] = "error",
	[VM_REMOVING] = "removing",
};

/* What to do once the operation in flight ends. */
enum vm_next {
	NEXT_NONE,
	NEXT_START,		/* create --start, restart */
	NEXT_DESTROY,		/* rm -f of a running VM */
};

/* A restart under way, for what its client is told at the end. */
enum vm_restart {
	RESTART_NONE,
	RESTART_STOP,		/* of a running VM: stop, then start */
	RESTART_START,		/* of a VM that was not running: start */
};

struct vm_waiter {
	TAILQ_ENTRY(vm_waiter)	 vw_entry;
	uint32_t		 vw_client;
	int			 vw_state;
	struct event		 vw_timer;
	struct vm		*vw_vm;
};

/* A client that sees a VM's console: vm logs -f, or vm console. */
struct vm_viewer {
	TAILQ_ENTRY(vm_viewer)	 vv_entry;
	uint32_t		 vv_client;
	int			 vv_attached;	/* vm console: may type */
};

struct vm {
	TAILQ_ENTRY(vm)		 v_entry;
	/* vm_names and vm_ids, kept in step with vms by vm_link */
	RB_ENTRY(vm)		 v_name_node;
	RB_ENTRY(vm)		 v_id_node;
	uint64_t		 v_seq;		/* of vm_link: ties in them */
	char			 v_id[VM_ID_LEN + 1];
	char			 v_name[VALID_NAME_MAX + 1];
	char			 v_image[VALID_NAME_MAX + 1];
	uid_t			 v_owner;
	uint32_t		 v_cpus;
	uint64_t		 v_memory;	/* MiB */
	uint64_t		 v_disk;	/* bytes asked for, 0 = image's */
	uint64_t		 v_disk_asked;	/* as given to create */
	int			 v_state;
	char			*v_error;
	time_t			 v_created;
	time_t			 v_started;
	int			 v_known;	/* the parent has it */

	/* from the parent */
	uint32_t		 v_uid;
	int32_t			 v_pid;
	char			 v_tap[PROTO_IFNAME_MAX];
	char			 v_backend[PROTO_NAME_MAX];
	uint64_t		 v_disk_size;
	/* Strings: allocated, NULL when empty (read them through S()). */
	char			*v_socket;
	char			*v_kernel;
	char			*v_initrd;
	char			*v_diskpath;
	char			*v_bootargs;
	char			 v_mac[24];
	size_t			 v_npublish;
	struct proto_publish	 v_publish[PROTO_PUBLISH_MAX];
	char			*v_authkeys;	/* for provisioning, once */
	char			*v_hostkey;
	char			*v_sshkey;	/* --ssh-key */
	int			 v_create_failed;
	/*
	 * v_fresh: no guest has booted the disk since it was provisioned
	 * (so it needs no e2fsck); v_sync: the next save is synced.
	 */
	int			 v_fresh;
	int			 v_sync;
	struct vm_prov		*v_prov;	/* provisioning under way */
	struct in_addr		 v_addr;	/* from the net worker */
	int			 v_prefix;
	struct in_addr		 v_gateway;
	char			*v_domain;

	/* runtime */
	uint32_t		 v_client;	/* waiting for the op, or 0 */
	uint32_t		 v_prune;	/* prune batch it belongs to */
	int			 v_next;	/* NEXT_* */
	int			 v_restart;	/* RESTART_* */
	int			 v_restart_was;	/* RESTART_START: its state */
	int			 v_stop_force;	/* the stop killed at once */
	int			 v_stop_timeout; /* s, Ctrl-Alt-Del to kill */
	/*
	 * Why the stop killed it unasked ("" if it did not), and whether
	 * that was because Ctrl-Alt-Del was not sent (else: not acted on).
	 */
	int			 v_killed_cad;
	char			*v_killed;
	int			 v_ptyfd;
	int			 v_logfd;
	int			 v_log_nl;	/* the log ends a line */
	struct event		 v_pty_ev;
	struct event		 v_pty_wev;	/* typed input to write */
	char			*v_inbuf;
	size_t			 v_inlen;
	size_t			 v_insize;
	int			 v_inpaused;	/* the writer is not read */
	uint32_t		 v_writer;	/* attached client, or 0 */
	TAILQ_HEAD(, vm_viewer)	 v_viewers;
	struct event		 v_timer;	/* socket polling, stop */
	/* Firecracker's log and metrics FIFOs (read ends) */
	int			 v_fclogfd;
	struct event		 v_fclog_ev;
	int			 v_metricsfd;
	struct event		 v_metrics_ev;
	char			*v_mbuf;	/* a metrics line so far */
	size_t			 v_mlen;
	int			 v_mskip;	/* dropping an overlong line */
	char			 v_vmm_version[32];	/* GET /, at start */
	char			 v_vmm_state[16];
	int			 v_tries;	/* retries so far */
	struct timespec		 v_deadline;	/* then they stop */
	struct fcapi_req	*v_api;		/* the API request in flight */
	int			 v_bootstep;	/* the boot's request */
	struct vm_boot		*v_boot;	/* while it boots */
	TAILQ_HEAD(, vm_waiter)	 v_waiters;
};

struct prune {
	TAILQ_ENTRY(prune)	 p_entry;
	uint32_t		 p_client;
	int			 p_pending;
	int			 p_done;
	int			 p_failed;
};

static TAILQ_HEAD(, vm)	 vms = TAILQ_HEAD_INITIALIZER(vms);
/*
 * The same VMs by name and by id, so that finding one costs the same
 * among thousands as among a few.  Records read from disk may repeat a
 * name: the tie goes to the first linked, the one a walk of vms meets
 * first.
 */
RB_HEAD(vm_names, vm);
RB_HEAD(vm_ids, vm);
static struct vm_names	 vm_names = RB_INITIALIZER(&vm_names);
static struct vm_ids	 vm_ids = RB_INITIALIZER(&vm_ids);
static uint64_t		 vm_seq;
static int		 vm_name_cmp(struct vm *, struct vm *);
static int		 vm_id_cmp(struct vm *, struct vm *);
RB_PROTOTYPE(vm_names, vm, v_name_node, vm_name_cmp)
RB_PROTOTYPE(vm_ids, vm, v_id_node, vm_id_cmp)
static TAILQ_HEAD(, prune) prunes = TAILQ_HEAD_INITIALIZER(prunes);
static struct imsgev	*parent_iev;
static struct vm_defaults defaults = { 1, BANGER_MAX_VMS, 512, 4ULL << 30 };
static size_t		 nvms;		/* VMs in vms */
static struct in_addr	 bridge_addr;	/* the VMs' subnet */
static int		 bridge_prefix;
/* The control socket, served once our records agree with the parent's. */
static int		 ctl_fd = -1;
static int		 reconciled;

static void	 vm_set_state(struct vm *, int);

static void	 vm_strf(char **, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));

/* A string of struct vm's, "" if it has none. */
#define S(x)	((x) != NULL ? (x) : "")

/*
 * Set one of a VM's strings: a copy of src, at most max - 1 bytes (as
 * the array it replaces held), NULL if empty.  A VM holds thousands of
 * bytes less than with arrays of the longest each may be.
 */
static void
vm_strset(char **dst, const char *src, size_t max)
{
	size_t	 len = strnlen(src, max - 1);

	if (*dst != NULL && strlen(*dst) == len &&
	    memcmp(*dst, src, len) == 0)
		return;
	free(*dst);
	*dst = NULL;
	if (len == 0)
		return;
	if ((*dst = strndup(src, len)) == NULL)
		fatal(NULL);
}

/* vm_strset() of a message, formatted (at most PROTO_MSG_MAX - 1). */
static void
vm_strf(char **dst, const char *fmt, ...)
{
	char	 buf[PROTO_MSG_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	vm_strset(dst, buf, sizeof(buf));
}
static int	 vm_save(struct vm *);
static int	 prune_save_add(struct vm *);
static struct vm **prune_saves;		/* vm_save() defers to a prune */
static void	 vm_start_begin(struct vm *);
static void	 vm_start_boot(struct vm *);
static void	 vm_started(struct vm *);
static void	 vm_destroy_begin(struct vm *);
static void	 vm_op_done(struct vm *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
static void	 vm_console_close(struct vm *, const char *);
static void	 vm_console_mark(struct vm *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	 vm_viewers_end(struct vm *, int, int, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
static void	 vm_free(struct vm *);
static void	 vm_boot_end(struct vm *);
static int	 vm_provision_end(struct vm *);
static void	 vm_fcout_close(struct vm *);
static void	 vm_create_send(struct vm *);

static const char *
state_name(int s)
{
	if (s < 0 || s > VM_REMOVING)
		return "unknown";
	return vm_state_names[s];
}

static int
state_by_name(const char *name)
{
	int	 i;

	for (i = 0; i <= VM_REMOVING; i++)
		if (strcmp(vm_state_names[i], name) == 0)
			return i;
	return -1;
}

static int
vm_seq_cmp(const struct vm *a, const struct vm *b)
{
	if (a->v_seq != b->v_seq)
		return a->v_seq < b->v_seq ? -1 : 1;
	return 0;
}

static int
vm_name_cmp(struct vm *a, struct vm *b)
{
	int	 c;

	if ((c = strcmp(a->v_name, b->v_name)) != 0)
		return c;
	return vm_seq_cmp(a, b);
}

static int
vm_id_cmp(struct vm *a, struct vm *b)
{
	int	 c;

	if ((c = strcmp(a->v_id, b->v_id)) != 0)
		return c;
	return vm_seq_cmp(a, b);
}

RB_GENERATE(vm_names, vm, v_name_node, vm_name_cmp)
RB_GENERATE(vm_ids, vm, v_id_node, vm_id_cmp)

/* Add v to vms and to the trees; its name and id are set, and stay. */
static void
vm_link(struct vm *v)
{
	v->v_seq = vm_seq++;
	TAILQ_INSERT_TAIL(&vms, v, v_entry);
	if (RB_INSERT(vm_names, &vm_names, v) != NULL ||
	    RB_INSERT(vm_ids, &vm_ids, v) != NULL)
		fatalx("%s: vm %s linked twice", __func__, v->v_id);
	nvms++;
}

static void
vm_unlink(struct vm *v)
{
	TAILQ_REMOVE(&vms, v, v_entry);
	RB_REMOVE(vm_names, &vm_names, v);
	RB_REMOVE(vm_ids, &vm_ids, v);
	nvms--;
}

/* The first linked of the VMs with id, or NULL. */
static struct vm *
vm_by_id(const char *id)
{
	struct vm	*v, *found = NULL;
	int		 c;

	for (v = RB_ROOT(&vm_ids); v != NULL; ) {
		if ((c = strcmp(id, v->v_id)) <= 0) {
			if (c == 0)
				found = v;
			v = RB_LEFT(v, v_id_node);
		} else
			v = RB_RIGHT(v, v_id_node);
	}
	return found;
}

/* The first linked of the VMs named name, or NULL. */
static struct vm *
vm_by_name(const char *name)
{
	struct vm	*v, *found = NULL;
	int		 c;

	for (v = RB_ROOT(&vm_names); v != NULL; ) {
		if ((c = strcmp(name, v->v_name)) <= 0) {
			if (c == 0)
				found = v;
			v = RB_LEFT(v, v_name_node);
		} else
			v = RB_RIGHT(v, v_name_node);
	}
	return found;
}

/* Root sees every VM, anyone else only their own. */
static int
vm_visible(const struct vm *v, uid_t uid)
{
	return uid == 0 || v->v_owner == uid;
}

static void
vm_mac(struct vm *v)
{
	snprintf(v->v_mac, sizeof(v->v_mac), "02:fc:%.2s:%.2s:%.2s:%.2s",
	    v->v_id, v->v_id + 2, v->v_id + 4, v->v_id + 6);
}

static void
vm_info(const struct vm *v, struct vm_info *vi)
{
	memset(vi, 0, sizeof(*vi));
	strlcpy(vi->vi_id, v->v_id, sizeof(vi->vi_id));
	strlcpy(vi->vi_name, v->v_name, sizeof(vi->vi_name));
	strlcpy(vi->vi_image, v->v_image, sizeof(vi->vi_image));
	strlcpy(vi->vi_state, state_name(v->v_state), sizeof(vi->vi_state));
	strlcpy(vi->vi_error, S(v->v_error), sizeof(vi->vi_error));
	vi->vi_owner = v->v_owner;
	vi->vi_uid = v->v_uid;
	vi->vi_cpus = v->v_cpus;
	vi->vi_pid = v->v_pid;
	vi->vi_memory = v->v_memory;
	vi->vi_disk = v->v_disk_size ? v->v_disk_size : v->v_disk;
	strlcpy(vi->vi_tap, v->v_tap, sizeof(vi->vi_tap));
	strlcpy(vi->vi_mac, v->v_mac, sizeof(vi->vi_mac));
	if (v->v_addr.s_addr != 0) {
		inet_ntop(AF_INET, &v->v_addr, vi->vi_addr,
		    sizeof(vi->vi_addr));
		snprintf(vi->vi_fqdn, sizeof(vi->vi_fqdn), "%s.%s", v->v_name,
		    S(v->v_domain));
	}
	strlcpy(vi->vi_backend, v->v_backend, sizeof(vi->vi_backend));
	vi->vi_created = v->v_created;
	vi->vi_started = v->v_started;
	strlcpy(vi->vi_hostkey, S(v->v_hostkey), sizeof(vi->vi_hostkey));
	strlcpy(vi->vi_sshkey, S(v->v_sshkey), sizeof(vi->vi_sshkey));
	strlcpy(vi->vi_vmm_version, v->v_vmm_version,
	    sizeof(vi->vi_vmm_version));
	if (v->v_state == VM_RUNNING || v->v_state == VM_PAUSED)
		strlcpy(vi->vi_vmm_state, v->v_vmm_state,
		    sizeof(vi->vi_vmm_state));
	vi->vi_npublish = v->v_npublish;
	memcpy(vi->vi_publish, v->v_publish, sizeof(vi->vi_publish));
}

/*
 * Records: /vms/ID/vm.json, written whole to a temporary file and
 * renamed over the last: a crash of the daemon leaves the old record or
 * the new, never part of one.  Every state is recorded, and before the
 * request that leads to it goes to the parent: a VM being created or
 * removed has a record from its first moment to its last, so after a
 * crash it is finished or undone (vm_reconcile), never lost or left
 * behind.
 *
 * Against a power cut: the file is synced before it is renamed, so a
 * record is never found empty or torn, only older.  The rename itself
 * is synced (the directory, and /vms for a new VM) before anything acts
 * on it for the states that must outlive a power cut: creating, created
 * and removing, and the first start of a VM (it records that a guest
 * has booted the disk, so e2fsck checks it from then on).  The run-time
 * states (starting, running, paused, stopping, stopped, error) are not:
 * no VM survives a power cut, and at the next start every VM whose
 * Firecracker is gone is stopped, whichever of these its record held.
 */
static int
vm_save(struct vm *v)
{
	char	 dir[64], path[128], tmp[128], *buf;
	json_t	*j;
	size_t	 len, off;
	ssize_t	 n;
	int	 fd, dfd, sync, made = 0;

	sync = v->v_state == VM_CREATING || v->v_state == VM_CREATED ||
	    v->v_state == VM_REMOVING || v->v_sync;
	snprintf(dir, sizeof(dir), "%s/%s", VMS_DIR, v->v_id);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_RECORD);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, VM_RECORD);
	if (mkdir(dir, 0700) == 0)
		made = 1;
	else if (errno != EEXIST) {
		log_warn("vm %s: mkdir %s", v->v_name, dir);
		return -1;
	}
	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:I, s:I}",
	    "id", v->v_id, "name", v->v_name, "image", v->v_image,
	    "owner", (json_int_t)v->v_owner, "cpus", (json_int_t)v->v_cpus,
	    "memory_mib", (json_int_t)v->v_memory,
	    "disk_bytes", (json_int_t)v->v_disk,
	    "state", state_name(v->v_state),
	    "created", (json_int_t)v->v_created,
	    "started", (json_int_t)v->v_started);
	if (j == NULL)
		return -1;
	if (v->v_error != NULL)
		json_object_set_new(j, "error", json_string(v->v_error));
	if (v->v_hostkey != NULL)
		json_object_set_new(j, "host_key", json_string(v->v_hostkey));
	if (v->v_sshkey != NULL)
		json_object_set_new(j, "ssh_key", json_string(v->v_sshkey));
	if (v->v_vmm_version[0] != '\0')
		json_object_set_new(j, "vmm_version",
		    json_string(v->v_vmm_version));
	if (v->v_vmm_state[0] != '\0')
		json_object_set_new(j, "vmm_state", json_string(v->v_vmm_state));
	if (v->v_fresh)
		json_object_set_new(j, "fresh", json_true());
	if (v->v_npublish > 0) {
		json_t	*arr = json_array();
		size_t	 i;

		for (i = 0; i < v->v_npublish; i++)
			json_array_append_new(arr, json_pack("[i, I, i, i]",
			    v->v_publish[i].pp_proto,
			    (json_int_t)v->v_publish[i].pp_host_addr,
			    v->v_publish[i].pp_host_port,
			    v->v_publish[i].pp_guest_port));
		json_object_set_new(j, "publish", arr);
	}
	/* One write of the whole record, not one per token. */
	buf = json_dumps(j, JSON_INDENT(1));
	json_decref(j);
	if (buf == NULL)
		return -1;
	len = strlen(buf);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("vm %s: %s", v->v_name, tmp);
		free(buf);
		return -1;
	}
	for (off = 0; off < len; off += n)
		if ((n = write(fd, buf + off, len - off)) <= 0)
			break;
	free(buf);
	if (off < len || (prune_saves != NULL ? sync_file_range(fd, 0, 0,
	    SYNC_FILE_RANGE_WRITE) : fsync(fd)) == -1) {
		log_warn("vm %s: write %s", v->v_name, tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (prune_saves != NULL)
		return prune_save_add(v);
	if (rename(tmp, path) == -1) {
		log_warn("vm %s: rename", v->v_name);
		unlink(tmp);
		return -1;
	}
	if (!sync)
		return 0;
	v->v_sync = 0;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		log_warn("vm %s: fsync %s", v->v_name, dir);
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	close(dfd);
	if (made && ((dfd = open(VMS_DIR, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || fsync(dfd) == -1)) {
		log_warn("vm %s: fsync %s", v->v_name, VMS_DIR);
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	if (made)
		close(dfd);
	return 0;
}

static void
vm_unsave(struct vm *v)
{
	char	 dir[64], path[128];

	snprintf(dir, sizeof(dir), "%s/%s", VMS_DIR, v->v_id);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_RECORD);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_CONSOLE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_CONSOLE_OLD);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_FCLOG);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_FCLOG_OLD);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, VM_METRICS);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.%s.tmp", dir, VM_RECORD);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.%s.tmp", dir, VM_METRICS);
	unlink(path);
	if (rmdir(dir) == -1 && errno != ENOENT)
		log_warn("vm %s: rmdir %s", v->v_name, dir);
}

static struct vm *
vm_new(void)
{
	struct vm	*v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		fatal(NULL);
	v->v_ptyfd = -1;
	v->v_logfd = -1;
	v->v_fclogfd = -1;
	v->v_metricsfd = -1;
	TAILQ_INIT(&v->v_waiters);
	TAILQ_INIT(&v->v_viewers);
	return v;
}

static void
vm_load_one(const char *id)
{
	char		 path[128];
	json_error_t	 jerr;
	json_t		*j;
	const char	*name, *image, *state, *error = NULL, *hostkey = NULL;
	const char	*sshkey = NULL, *vmm;
	json_int_t	 owner, cpus, mem, disk, created, started;
	struct vm	*v;
	int		 s;

	snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR, id, VM_RECORD);
	if ((j = json_load_file(path, 0, &jerr)) == NULL) {
		log_warnx("%s: %s", path, jerr.text);
		return;
	}
	if (json_unpack_ex(j, &jerr, 0, "{s:s, s:s, s:I, s:I, s:I, s:I, "
	    "s:s, s?s, s:I, s:I}", "name", &name, "image", &image,
	    "owner", &owner, "cpus", &cpus, "memory_mib", &mem,
	    "disk_bytes", &disk, "state", &state, "error", &error,
	    "created", &created, "started", &started) == -1 ||
	    (s = state_by_name(state)) == -1) {
		log_warnx("%s: unreadable record, ignored", path);
		json_decref(j);
		return;
	}
	v = vm_new();
	strlcpy(v->v_id, id, sizeof(v->v_id));
	strlcpy(v->v_name, name, sizeof(v->v_name));
	strlcpy(v->v_image, image, sizeof(v->v_image));
	v->v_owner = owner;
	v->v_cpus = cpus;
	v->v_memory = mem;
	v->v_disk = disk;
	v->v_state = s;
	if (error != NULL)
		vm_strset(&v->v_error, error, PROTO_MSG_MAX);
	if (json_unpack(j, "{s:s}", "host_key", &hostkey) == 0)
		vm_strset(&v->v_hostkey, hostkey, PROTO_HOSTKEY_MAX);
	if (json_unpack(j, "{s:s}", "ssh_key", &sshkey) == 0 &&
	    sshkey[0] == '/')
		vm_strset(&v->v_sshkey, sshkey, PROTO_PATH_MAX);
	if (json_unpack(j, "{s:s}", "vmm_version", &vmm) == 0)
		strlcpy(v->v_vmm_version, vmm, sizeof(v->v_vmm_version));
	if (json_unpack(j, "{s:s}", "vmm_state", &vmm) == 0)
		strlcpy(v->v_vmm_state, vmm, sizeof(v->v_vmm_state));
	v->v_fresh = json_is_true(json_object_get(j, "fresh"));
	v->v_created = created;
	v->v_started = started;
	vm_mac(v);
	{
		json_t		*arr, *e;
		size_t		 i;
		int		 pr, hp, gp;
		json_int_t	 ha;

		if ((arr = json_object_get(j, "publish")) != NULL)
			json_array_foreach(arr, i, e) {
				if (v->v_npublish >= PROTO_PUBLISH_MAX ||
				    json_unpack(e, "[i, I, i, i]", &pr, &ha,
				    &hp, &gp) == -1)
					break;
				v->v_publish[v->v_npublish].pp_proto = pr;
				v->v_publish[v->v_npublish].pp_host_addr = ha;
				v->v_publish[v->v_npublish].pp_host_port = hp;
				v->v_publish[v->v_npublish].pp_guest_port = gp;
				v->v_npublish++;
			}
	}
	json_decref(j);
	vm_link(v);
}

/*
 * What a crash may leave in /vms/ID besides a record: the temporary
 * files of a record or metrics write, and, for an id with no record
 * (a VM removed up to its directory), the directory and its logs.
 */
static void
vm_dir_clean(const char *id)
{
	static const char *const names[] = { VM_CONSOLE, VM_CONSOLE_OLD,
	    VM_FCLOG, VM_FCLOG_OLD, VM_METRICS, "." VM_RECORD ".tmp",
	    "." VM_METRICS ".tmp" };
	struct stat	 st;
	char		 path[128];
	size_t		 i;
	int		 record;

	snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR, id, VM_RECORD);
	record = lstat(path, &st) == 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (record && names[i][0] != '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", VMS_DIR, id,
		    names[i]);
		if (unlink(path) == 0)
			log_info("vm %s: removed %s, left by a crash", id,
			    path);
	}
	if (!record) {
		snprintf(path, sizeof(path), "%s/%s", VMS_DIR, id);
		if (rmdir(path) == 0)
			log_info("vm %s: removed %s, which had no record", id,
			    path);
		else if (errno != ENOENT)
			log_warn("vm %s: rmdir %s", id, path);
	}
}

static void
vm_load(void)
{
	struct dirent	*de;
	DIR		*d;
	const char	*why;

	if ((d = opendir(VMS_DIR)) == NULL) {
		log_warn("%s", VMS_DIR);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (valid_vm_id(de->d_name, strlen(de->d_name), &why) == 0) {
			vm_dir_clean(de->d_name);
			vm_load_one(de->d_name);
		}
	closedir(d);
}

static void
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
	freezero(v->v_authkeys, v->v_authkeys ? strlen(v->v_authkeys) : 0);
	free(v);
}

static void
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
static void
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
	v->v_restart = RESTART_NONE;
	v->v_stop_force = 0;
	vm_strset(&v->v_killed, "", PROTO_MSG_MAX);
	/* RES_KILLED: the kill was logged as it was decided. */
	if (error > 0)
		log_warnx("vm %s: %s", v->v_name, msg);
	if (client != 0)
		control_reply(client, error, "%s", msg);
}

static int
vmop_send(uint32_t type, const void *data, size_t len)
{
	return imsg_compose_event(parent_iev, type, 0, 0, -1, data, len);
}

static void
vmop_id_send(uint32_t type, struct vm *v)
{
	struct vmop_id	 vi;

	memset(&vi, 0, sizeof(vi));
	strlcpy(vi.vo_id, v->v_id, sizeof(vi.vo_id));
	vmop_send(type, &vi, sizeof(vi));
}

static void
vmop_signal_send(struct vm *v, int sig)
{
	struct vmop_signal	 vg;

	memset(&vg, 0, sizeof(vg));
	strlcpy(vg.vg_id, v->v_id, sizeof(vg.vg_id));
	vg.vg_signal = sig;
	vmop_send(IMSG_VMOP_SIGNAL, &vg, sizeof(vg));
}

/*
 * The console.  What the pty says goes to console.log and to every
 * client that follows it (vm logs -f) or is attached (vm console); what
 * the attached client types goes to the pty.  The log is kept across
 * boots, each boot and stop marked by a line of ours ("[banger] ..."),
 * and capped: past CONSOLE_MAX it becomes console.log.0 (replacing the
 * one before) and a new console.log starts.
 */
static void
vm_console_path(const struct vm *v, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/%s", VMS_DIR, v->v_id, name);
}

static void
vm_log_open(struct vm *v)
{
	char	 path[128], last;
	off_t	 off;

	if (v->v_logfd != -1)
		return;
	vm_console_path(v, VM_CONSOLE, path, sizeof(path));
	if ((v->v_logfd = open(path, O_RDWR | O_CREAT | O_APPEND |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		log_warn("vm %s: %s", v->v_name, path);
		return;
	}
	/* Our marks start a line of their own. */
	v->v_log_nl = 1;
	if ((off = lseek(v->v_logfd, 0, SEEK_END)) > 0 &&
	    pread(v->v_logfd, &last, 1, off - 1) == 1)
		v->v_log_nl = last == '\n';
}

static void
vm_log_rotate(struct vm *v)
{
	char	 path[128], old[128];

	vm_console_path(v, VM_CONSOLE, path, sizeof(path));
	vm_console_path(v, VM_CONSOLE_OLD, old, sizeof(old));
	if (rename(path, old) == -1) {
		log_warn("vm %s: rename %s", v->v_name, path);
		if (ftruncate(v->v_logfd, 0) == -1)
			log_warn("vm %s: console log", v->v_name);
		return;
	}
	close(v->v_logfd);
	v->v_logfd = -1;
	vm_log_open(v);
}

static void
vm_viewer_remove(struct vm *v, struct vm_viewer *vv)
{
	if (vv->vv_attached && v->v_writer == vv->vv_client) {
		if (v->v_inpaused)
			control_pause(v->v_writer, 0);
		v->v_inpaused = 0;
		v->v_writer = 0;
		v->v_inlen = 0;
		log_info("vm %s: console detached (client %u)", v->v_name,
		    vv->vv_client);
	}
	TAILQ_REMOVE(&v->v_viewers, vv, vv_entry);
	free(vv);
}

/* Console output: into the log, and to each client that sees it. */
static void
vm_console_emit(struct vm *v, const char *buf, size_t n)
{
	struct vm_viewer	*vv, *tvv;
	size_t			 off, chunk;

	if (n == 0)
		return;
	if (v->v_logfd != -1) {
		if (lseek(v->v_logfd, 0, SEEK_END) >= CONSOLE_MAX)
			vm_log_rotate(v);
		if (v->v_logfd != -1 && write(v->v_logfd, buf, n) == -1)
			log_warn("vm %s: console log", v->v_name);
		v->v_log_nl = buf[n - 1] == '\n';
	}
	TAILQ_FOREACH_SAFE(vv, &v->v_viewers, vv_entry, tvv)
		for (off = 0; off < n; off += chunk) {
			chunk = n - off < PROTO_CONSOLE_CHUNK ? n - off :
			    PROTO_CONSOLE_CHUNK;
			if (control_data(vv->vv_client, IMSG_CTL_CONSOLE_OUT,
			    buf + off, chunk) == -1) {
				vm_viewer_remove(v, vv);
				break;
			}
		}
}

/* A line of ours in the console's stream: "[banger] vm NAME ...". */
static void
vm_console_mark(struct vm *v, const char *fmt, ...)
{
	char		 line[PROTO_MSG_MAX + 128], what[PROTO_MSG_MAX], ts[32];
	time_t		 now = time(NULL);
	struct tm	 tm;
	va_list		 ap;
	int		 n;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	vm_log_open(v);
	n = snprintf(line, sizeof(line), "%s[banger] %s vm %s %s\n",
	    v->v_log_nl ? "" : "\n", ts, v->v_name, what);
	if (n > 0)
		vm_console_emit(v, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

/* End the session of attached clients (all: followers too) with a result. */
static void
vm_viewers_end(struct vm *v, int all, int error, const char *fmt, ...)
{
	struct vm_viewer	*vv, *tvv;
	char			 msg[PROTO_MSG_MAX];
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	TAILQ_FOREACH_SAFE(vv, &v->v_viewers, vv_entry, tvv) {
		if (!all && !vv->vv_attached)
			continue;
		control_reply(vv->vv_client, error, "%s", msg);
		vm_viewer_remove(v, vv);
	}
}

static void
vm_console_read(int fd, short event, void *arg)
{
	struct vm	*v = arg;
	char		 buf[PROTO_CONSOLE_CHUNK];
	ssize_t		 n;

	if ((n = read(fd, buf, sizeof(buf))) <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		vm_console_close(v, NULL);
		return;
	}
	vm_console_emit(v, buf, n);
}

/* What the attached client typed, as far as the pty takes it now. */
static void
vm_console_flush(int fd, short event, void *arg)
{
	struct vm	*v = arg;
	ssize_t		 n;

	if (v->v_ptyfd == -1 || v->v_inlen == 0)
		return;
	if ((n = write(v->v_ptyfd, v->v_inbuf, v->v_inlen)) == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			log_warn("vm %s: console input", v->v_name);
			n = v->v_inlen;
		} else
			n = 0;
	}
	memmove(v->v_inbuf, v->v_inbuf + n, v->v_inlen - n);
	v->v_inlen -= n;
	if (v->v_inlen > 0)
		event_add(&v->v_pty_wev, NULL);
	if (v->v_inpaused && v->v_inlen <= CONSOLE_IN_LOW) {
		v->v_inpaused = 0;
		control_pause(v->v_writer, 0);
	}
}

static void
vm_console_open(struct vm *v, int ptyfd)
{
	vm_console_close(v, NULL);
	v->v_ptyfd = ptyfd;
	fcntl(ptyfd, F_SETFL, fcntl(ptyfd, F_GETFL) | O_NONBLOCK);
	vm_log_open(v);
	event_set(&v->v_pty_ev, ptyfd, EV_READ | EV_PERSIST, vm_console_read,
	    v);
	event_add(&v->v_pty_ev, NULL);
	event_set(&v->v_pty_wev, ptyfd, EV_WRITE, vm_console_flush, v);
}

/* The pty is done with; why, if given, is marked in the log. */
static void
vm_console_close(struct vm *v, const char *why)
{
	if (v->v_ptyfd != -1) {
		/* What the console said last is still in the pty. */
		while (v->v_ptyfd != -1) {
			char	 buf[PROTO_CONSOLE_CHUNK];
			ssize_t	 n;

			if ((n = read(v->v_ptyfd, buf, sizeof(buf))) <= 0)
				break;
			vm_console_emit(v, buf, n);
		}
		event_del(&v->v_pty_ev);
		event_del(&v->v_pty_wev);
		close(v->v_ptyfd);
		v->v_ptyfd = -1;
		v->v_inlen = 0;
		if (v->v_inpaused) {
			v->v_inpaused = 0;
			control_pause(v->v_writer, 0);
		}
	}
	if (why != NULL)
		vm_console_mark(v, "%s", why);
	if (v->v_logfd != -1) {
		close(v->v_logfd);
		v->v_logfd = -1;
	}
}

/*
 * Firecracker's own log and metrics.  The parent made two FIFOs in the
 * jail's run/ (jail_fifos()); we open their read ends before Firecracker
 * is told of them and keep what comes through where it outlives the
 * jail, which goes when the VM stops: the log is appended to
 * VMS_DIR/ID/firecracker.log (past FCLOG_MAX it becomes .0), and each
 * metrics flush (one JSON object a line) replaces VMS_DIR/ID/metrics.json
 * atomically.  Firecracker opens them read-write and non-blocking: if we
 * fall behind it drops lines rather than blocking.
 */
static int
vm_fifo_open(const struct vm *v, const char *inside, char *err,
    size_t errlen)
{
	char		 path[PROTO_PATH_MAX + 64];
	size_t		 n = strlen(S(v->v_socket)), sl = strlen(JAIL_API_SOCK);
	struct stat	 st;
	int		 fd;

	/* v_socket is the jail root in our root, then JAIL_API_SOCK. */
	if (n < sl || strcmp(v->v_socket + n - sl, JAIL_API_SOCK) != 0) {
		snprintf(err, errlen, "no jail for firecracker's %s", inside);
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "%.*s%s", (int)(n - sl), S(v->v_socket),
	    inside);
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "firecracker's %s: %s", inside,
		    strerror(errno));
		return -1;
	}
	/* run/ is the VM's: take nothing but a FIFO from it. */
	if (fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		snprintf(err, errlen, "firecracker's %s: not a FIFO", inside);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/*
 * Firecracker logs little once a VM runs: the file is opened for each
 * write, not held, which leaves a running VM four descriptors here.
 */
static void
vm_fclog_write(struct vm *v, const char *buf, size_t n)
{
	char		 path[128], old[128];
	struct stat	 st;
	int		 fd, trunc = 0;

	vm_console_path(v, VM_FCLOG, path, sizeof(path));
	if (lstat(path, &st) == 0 && st.st_size >= FCLOG_MAX) {
		vm_console_path(v, VM_FCLOG_OLD, old, sizeof(old));
		if (rename(path, old) == -1) {
			log_warn("vm %s: rename %s", v->v_name, path);
			trunc = O_TRUNC;
		}
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC | trunc, 0600)) == -1) {
		log_warn("vm %s: %s", v->v_name, path);
		return;
	}
	if (write(fd, buf, n) == -1)
		log_warn("vm %s: %s", v->v_name, path);
	close(fd);
}

/* One metrics flush: if it is a JSON object, it replaces metrics.json. */
static void
vm_metrics_save(struct vm *v, const char *line, size_t len)
{
	char		 path[128], tmp[128];
	json_error_t	 jerr;
	json_t		*j;
	int		 fd, ok;

	j = json_loadb(line, len, 0, &jerr);
	ok = j != NULL && json_is_object(j);
	json_decref(j);
	if (!ok) {
		log_debug("vm %s: metrics: not a JSON object, ignored",
		    v->v_name);
		return;
	}
	vm_console_path(v, VM_METRICS, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s/%s/.%s.tmp", VMS_DIR, v->v_id,
	    VM_METRICS);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("vm %s: %s", v->v_name, tmp);
		return;
	}
	if (write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) == -1) {
		log_warn("vm %s: write %s", v->v_name, tmp);
		close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		log_warn("vm %s: rename %s", v->v_name, tmp);
		unlink(tmp);
	}
}

static void
vm_metrics_feed(struct vm *v, const char *buf, size_t n)
{
	const char	*nl;
	size_t		 chunk;
	char		*nb;

	while (n > 0) {
		nl = memchr(buf, '\n', n);
		chunk = nl != NULL ? (size_t)(nl - buf) : n;
		if (!v->v_mskip && v->v_mlen + chunk > METRICS_LINE_MAX) {
			log_warnx("vm %s: a metrics line longer than %d "
			    "bytes, dropped", v->v_name, METRICS_LINE_MAX);
			v->v_mskip = 1;
		}
		if (!v->v_mskip && chunk > 0) {
			if ((nb = realloc(v->v_mbuf, v->v_mlen + chunk)) ==
			    NULL)
				fatal(NULL);
			v->v_mbuf = nb;
			memcpy(v->v_mbuf + v->v_mlen, buf, chunk);
			v->v_mlen += chunk;
		}
		if (nl == NULL)
			return;
		if (!v->v_mskip && v->v_mlen > 0)
			vm_metrics_save(v, v->v_mbuf, v->v_mlen);
		/* A line a minute: not worth its kilobytes in between. */
		free(v->v_mbuf);
		v->v_mbuf = NULL;
		v->v_mlen = 0;
		v->v_mskip = 0;
		buf = nl + 1;
		n -= chunk + 1;
	}
}

/* One read of a FIFO: >0 taken, 0 at its end, -1 nothing now or error. */
static ssize_t
vm_fifo_pull(struct vm *v, int metrics)
{
	char	 buf[8192];
	ssize_t	 n;

	if ((n = read(metrics ? v->v_metricsfd : v->v_fclogfd, buf,
	    sizeof(buf))) <= 0)
		return n;
	if (metrics)
		vm_metrics_feed(v, buf, n);
	else
		vm_fclog_write(v, buf, n);
	return n;
}

/* Take what is left in a FIFO, then close it. */
static void
vm_fifo_end(struct vm *v, int metrics)
{
	int	*fdp = metrics ? &v->v_metricsfd : &v->v_fclogfd;

	if (*fdp == -1)
		return;
	while (vm_fifo_pull(v, metrics) > 0)
		;
	event_del(metrics ? &v->v_metrics_ev : &v->v_fclog_ev);
	close(*fdp);
	*fdp = -1;
}

static void
vm_fifo_read(struct vm *v, int metrics)
{
	ssize_t	 n;

	n = vm_fifo_pull(v, metrics);
	/* 0: Firecracker, the only writer, closed it (it ended). */
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		vm_fifo_end(v, metrics);
}

static void
vm_fclog_ready(int fd, short event, void *arg)
{
	vm_fifo_read(arg, 0);
}

static void
vm_metrics_ready(int fd, short event, void *arg)
{
	vm_fifo_read(arg, 1);
}

static int
vm_fcout_open(struct vm *v, char *err, size_t errlen)
{
	vm_fcout_close(v);
	if ((v->v_fclogfd = vm_fifo_open(v, JAIL_LOG, err, errlen)) == -1)
		return -1;
	if ((v->v_metricsfd = vm_fifo_open(v, JAIL_METRICS, err,
	    errlen)) == -1) {
		close(v->v_fclogfd);
		v->v_fclogfd = -1;
		return -1;
	}
	event_set(&v->v_fclog_ev, v->v_fclogfd, EV_READ | EV_PERSIST,
	    vm_fclog_ready, v);
	event_add(&v->v_fclog_ev, NULL);
	event_set(&v->v_metrics_ev, v->v_metricsfd, EV_READ | EV_PERSIST,
	    vm_metrics_ready, v);
	event_add(&v->v_metrics_ev, NULL);
	return 0;
}

/* Firecracker ended (or we let go): keep what it wrote last. */
static void
vm_fcout_close(struct vm *v)
{
	vm_fifo_end(v, 0);
	vm_fifo_end(v, 1);
	v->v_mlen = 0;
	v->v_mskip = 0;
}

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

/*
 * Starting: e2fsck -p on the disk first (the parent runs it), then boot;
 * a disk no guest has booted since provisioning wrote it (and closed its
 * file system clean) needs no check.
 */
static void
vm_start_begin(struct vm *v)
{
	int	 fresh = v->v_fresh;

	if (fresh) {
		v->v_fresh = 0;
		v->v_sync = 1;
	}
	vm_set_state(v, VM_STARTING);
	if (fresh)
		vm_start_boot(v);
	else
		vmop_id_send(IMSG_VMOP_FSCK, v);
}

static void
vm_start_boot(struct vm *v)
{
	struct vmop_start	 vs;

	memset(&vs, 0, sizeof(vs));
	strlcpy(vs.vs_id, v->v_id, sizeof(vs.vs_id));
	vs.vs_cpus = v->v_cpus;
	vs.vs_memory = v->v_memory;
	vs.vs_npublish = v->v_npublish;
	memcpy(vs.vs_publish, v->v_publish, sizeof(vs.vs_publish));
	vmop_send(IMSG_VMOP_START, &vs, sizeof(vs));
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
static int
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
static void
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
static void
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

static int
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
};

static void
vm_boot_end(struct vm *v)
{
	size_t	 i;

	fcapi_cancel(v->v_api);
	v->v_api = NULL;
	if (v->v_boot == NULL)
		return;
	for (i = 0; i < v->v_boot->vb_n; i++)
		json_decref(v->v_boot->vb_bodies[i]);
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
}

/*
 * The API socket is there: open our ends of its FIFOs, make the kernel
 * command line, then configure Firecracker over its API and boot the
 * guest, then check that it runs (GET /) and runs what was sent (GET
 * /vm/config): one request at a time, each answered in the event loop.
 */
static void
vm_boot_begin(struct vm *v)
{
	struct fc_boot	 fb;
	char		 err[PROTO_MSG_MAX];
	int		 n;

	/* Our read ends first: Firecracker opens its ends at PUT. */
	if (vm_fcout_open(v, err, sizeof(err)) == -1) {
		vm_boot_fail(v, "", err);
		return;
	}
	vm_boot_end(v);
	if ((v->v_boot = calloc(1, sizeof(*v->v_boot))) == NULL)
		fatal(NULL);
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
	v->v_boot->vb_n = fcapi_config_reqs(&fb, v->v_boot->vb_paths,
	    v->v_boot->vb_bodies);
	deadline_in(&v->v_deadline, CONNECT_TIMEOUT * 1000L);
	v->v_tries = 0;
	v->v_bootstep = 0;
	vm_boot_step(v);
}

static void
vm_boot_done(void *arg, int st, json_t *resp, const char *err, int errnum)
{
	struct vm		*v = arg;
	struct fc_instance	 fi;
	struct fc_boot		 fb;
	char			 msg[PROTO_MSG_MAX];

	v->v_api = NULL;
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

	if (step >= (int)vb->vb_n && step < BOOT_ACTION)
		step = v->v_bootstep = BOOT_ACTION;
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
static const char *
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

static void
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
static void
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

static void
vm_destroy_begin(struct vm *v)
{
	vm_set_state(v, VM_REMOVING);
	vmop_id_send(IMSG_VMOP_DESTROY, v);
}

static void
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

/* A provisioning child's report, read as it comes. */
struct vm_prov {
	struct {
		struct guest_result	 gr;
		char			 cerr[GUESTFS_ERR_MAX];
	}			 pr_msg;
	size_t			 pr_len;
	int			 pr_fd;
	pid_t			 pr_pid;
	struct event		 pr_ev;
};

static void	vm_created(struct vm *);
static void	vm_create_undo(struct vm *);

/* The child is done, or gone: reaped, its pipe closed. */
static int
vm_provision_end(struct vm *v)
{
	struct vm_prov	*pr = v->v_prov;
	int		 status = -1;

	event_del(&pr->pr_ev);
	close(pr->pr_fd);
	while (waitpid(pr->pr_pid, &status, 0) == -1 && errno == EINTR)
		;
	v->v_prov = NULL;
	free(pr);
	return status;
}

static void
vm_provision_read(int fd, short event, void *arg)
{
	struct vm		*v = arg;
	struct vm_prov		*pr = v->v_prov;
	struct guest_result	*gr = &pr->pr_msg.gr;
	ssize_t			 n;
	int			 status;

	n = read(fd, (char *)&pr->pr_msg + pr->pr_len,
	    sizeof(pr->pr_msg) - pr->pr_len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		pr->pr_len += n;
		if (pr->pr_len < sizeof(pr->pr_msg))
			return;
	}
	if (pr->pr_len < sizeof(pr->pr_msg)) {
		status = vm_provision_end(v);
		vm_strf(&v->v_error, "the disk child died "
		    "(wait status %d)", status);
		vm_create_undo(v);
		return;
	}
	pr->pr_msg.cerr[sizeof(pr->pr_msg.cerr) - 1] = '\0';
	if (gr->gr_written == -1) {
		vm_strset(&v->v_error, pr->pr_msg.cerr, PROTO_MSG_MAX);
		vm_provision_end(v);
		vm_create_undo(v);
		return;
	}
	gr->gr_hostkey[sizeof(gr->gr_hostkey) - 1] = '\0';
	vm_strset(&v->v_hostkey, gr->gr_hostkey, sizeof(gr->gr_hostkey));
	log_info("vm %s: provisioned: %d files, host key %s", v->v_name,
	    gr->gr_written, gr->gr_fingerprint[0] ? gr->gr_fingerprint : "-");
	vm_provision_end(v);
	vm_created(v);
}

/*
 * Write the guest's files into its disk: a child of ours, under a
 * seccomp filter that allows only what libext2fs needs on the disk fd,
 * does it with libext2fs (guestfs.c) and reports back on a pipe, read
 * in the event loop (vm_provision_read): the worker serves everyone
 * else meanwhile.
 */
static int
vm_provision(struct vm *v, int disk, char *err, size_t errlen)
{
	struct guest_spec	 gs;
	struct guest_result	 gr;
	struct vm_prov		*pr;
	scmp_filter_ctx		 ctx;
	char			 cerr[GUESTFS_ERR_MAX];
	size_t			 i;
	int			 p[2], sc;
	pid_t			 pid, self;

	memset(&gs, 0, sizeof(gs));
	gs.gs_hostname = v->v_name;
	gs.gs_domain = S(v->v_domain);
	gs.gs_addr = v->v_addr;
	gs.gs_prefix = v->v_prefix;
	gs.gs_gateway = v->v_gateway;
	gs.gs_dns = v->v_gateway;
	gs.gs_mac = v->v_mac;
	gs.gs_authkeys = v->v_authkeys != NULL && v->v_authkeys[0] != '\0' ?
	    v->v_authkeys : NULL;
	gs.gs_hostkeys = 1;
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	self = getpid();
	switch (pid = fork()) {
	case -1:
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	case 0:
		close(p[0]);
		/* It writes a disk no one waits for once we are gone. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != self)
			_exit(1);
		memset(&gr, 0, sizeof(gr));
		memset(cerr, 0, sizeof(cerr));
		if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
			_exit(1);
		for (i = 0; guestfs_syscalls[i] != NULL; i++)
			if ((sc = seccomp_syscall_resolve_name(
			    guestfs_syscalls[i])) != __NR_SCMP_ERROR)
				seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 0);
		seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
		seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0);
		if (seccomp_load(ctx) < 0)
			_exit(1);
		if (guestfs_provision(disk, &gs, &gr, cerr, sizeof(cerr)) == -1)
			gr.gr_written = -1;
		if (write(p[1], &gr, sizeof(gr)) != sizeof(gr) ||
		    write(p[1], cerr, sizeof(cerr)) != sizeof(cerr))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if ((pr = calloc(1, sizeof(*pr))) == NULL)
		fatal(NULL);
	pr->pr_fd = p[0];
	pr->pr_pid = pid;
	v->v_prov = pr;
	event_set(&pr->pr_ev, p[0], EV_READ | EV_PERSIST, vm_provision_read, v);
	event_add(&pr->pr_ev, NULL);
	return 0;
}

/* Nothing is left of a VM that could not be made. */
static void
vm_create_undo(struct vm *v)
{
	v->v_create_failed = 1;
	v->v_state = VM_REMOVING;
	vmop_id_send(IMSG_VMOP_DESTROY, v);
}

/* Provisioned: the VM is created (and started, if that was asked). */
static void
vm_created(struct vm *v)
{
	freezero(v->v_authkeys, strlen(v->v_authkeys));
	v->v_authkeys = NULL;
	v->v_fresh = 1;
	vm_set_state(v, VM_CREATED);
	log_info("vm %s: created (id %s, image %s, %s disk)",
	    v->v_name, v->v_id, v->v_image, v->v_backend);
	if (v->v_next == NEXT_START) {
		v->v_next = NEXT_NONE;
		vm_start_begin(v);
	} else
		vm_op_done(v, 0, "vm %s created (id %s)", v->v_name,
		    v->v_id);
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
		/* Its files go into the disk before anything boots it. */
		vmop_id_send(IMSG_VMOP_DISK, v);
		break;
	case IMSG_VMOP_DISK:
		if (v->v_state != VM_CREATING) {
			if (fd != -1)
				close(fd);
			break;
		}
		if (vr.vr_error || fd == -1 ||
		    vm_provision(v, fd, err, sizeof(err)) == -1) {
			if (!vr.vr_error && fd != -1)
				vm_strset(&v->v_error, err, PROTO_MSG_MAX);
			if (vr.vr_error)
				vm_strset(&v->v_error, vr.vr_msg,
				    PROTO_MSG_MAX);
			if (fd != -1)
				close(fd);
			vm_create_undo(v);
			break;
		}
		/* The child has its own; it reports when it is done. */
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
	if (was == VM_STARTING || was == VM_ERROR)
		vm_set_state(v, VM_ERROR);
	else
		vm_set_state(v, VM_STOPPED);
	log_info("vm %s: stopped", v->v_name);

	switch (v->v_next) {
	case NEXT_START:
		v->v_next = NEXT_NONE;
		vm_start_begin(v);
		return;
	case NEXT_DESTROY:
		v->v_next = NEXT_NONE;
		vm_destroy_begin(v);
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
	case IMSG_IMGOP_PROGRESS: {
		struct image_progress	 ip;

		if (imsg_read_exact(imsg, &ip, sizeof(ip)) == -1)
			fatalx("%s: bad image progress", __func__);
		control_send(imsg_get_id(imsg), IMSG_CTL_IMAGE_PROGRESS, &ip,
		    sizeof(ip));
		return 0;
	}
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
	char		 kerr[GUESTFS_ERR_MAX];
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
	v->v_npublish = cc->cc_npublish;
	memcpy(v->v_publish, cc->cc_publish, sizeof(v->v_publish));
	if ((v->v_authkeys = strdup(cc->cc_authkeys)) == NULL)
		fatal(NULL);
	vm_strset(&v->v_sshkey, cc->cc_sshkey, sizeof(cc->cc_sshkey));
	vm_mac(v);
	v->v_disk_asked = cc->cc_disk;
	/* Recorded before anything of it exists anywhere. */
	if (vm_save(v) == -1) {
		control_reply(client, EIO, "vm %s: cannot write its record",
		    v->v_name);
		vm_unsave(v);
		freezero(v->v_authkeys, strlen(v->v_authkeys));
		free(v);
		return;
	}
	vm_link(v);
	vm_create_send(v);
}

/* The parent makes its address, disk and tap; we provision it then. */
static void
vm_create_send(struct vm *v)
{
	struct vmop_create vc;

	memset(&vc, 0, sizeof(vc));
	strlcpy(vc.vc_id, v->v_id, sizeof(vc.vc_id));
	strlcpy(vc.vc_name, v->v_name, sizeof(vc.vc_name));
	strlcpy(vc.vc_image, v->v_image, sizeof(vc.vc_image));
	/* Asked for: exactly that; the default: at least the image's. */
	vc.vc_disk_size = v->v_disk_asked ? v->v_disk_asked : v->v_disk;
	vc.vc_flags = v->v_disk_asked ? 0 : VC_F_DISK_AT_LEAST;
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

/*
 * A prune's "removing" records, all saved before any removal is asked
 * of the parent, as one group commit: vm_save() writes each to its
 * temporary file and starts its writeback (prune_save_add), then
 * prune_commit() syncs and renames each and syncs their directories.
 * Each record ends as vm_save() alone leaves it, for about the cost of
 * one sync instead of two a VM.
 */
static size_t		 prune_nsaves, prune_capsaves;

static int
prune_save_add(struct vm *v)
{
	struct vm	**nv;
	size_t		 cap;

	if (prune_nsaves == prune_capsaves) {
		cap = prune_capsaves ? prune_capsaves * 2 : 64;
		if ((nv = reallocarray(prune_saves, cap, sizeof(*nv))) == NULL)
			fatal(NULL);
		prune_saves = nv;
		prune_capsaves = cap;
	}
	prune_saves[prune_nsaves++] = v;
	return 0;
}

static void
prune_commit(void)
{
	char	 dir[64], path[128], tmp[128];
	size_t	 i;
	int	 fd;

	for (i = 0; i < prune_nsaves; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", VMS_DIR,
		    prune_saves[i]->v_id);
		snprintf(path, sizeof(path), "%s/%s", dir, VM_RECORD);
		snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, VM_RECORD);
		if ((fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
		    fsync(fd) == -1) {
			log_warn("vm %s: write %s", prune_saves[i]->v_name,
			    tmp);
			if (fd != -1)
				close(fd);
			unlink(tmp);
			prune_saves[i] = NULL;
			continue;
		}
		close(fd);
		if (rename(tmp, path) == -1) {
			log_warn("vm %s: rename", prune_saves[i]->v_name);
			unlink(tmp);
			prune_saves[i] = NULL;
		}
	}
	for (i = 0; i < prune_nsaves; i++) {
		if (prune_saves[i] == NULL)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", VMS_DIR,
		    prune_saves[i]->v_id);
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
		    -1 || fsync(fd) == -1)
			log_warn("vm %s: fsync %s", prune_saves[i]->v_name,
			    dir);
		else
			prune_saves[i]->v_sync = 0;
		if (fd != -1)
			close(fd);
	}
	/* A directory vm_save() had to make again, in /vms. */
	if ((fd = open(VMS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		log_warn("fsync %s", VMS_DIR);
	if (fd != -1)
		close(fd);
}

static void
vm_ctl_prune(uint32_t client, uid_t uid)
{
	struct prune	*p;
	struct vm	*v, *tv, **gone = NULL;
	size_t		 ngone = 0, i;

	prune_capsaves = nvms + 1;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (gone = calloc(nvms + 1, sizeof(*gone))) == NULL ||
	    (prune_saves = calloc(prune_capsaves,
	    sizeof(*prune_saves))) == NULL)
		fatal(NULL);
	p->p_client = client;
	TAILQ_INSERT_TAIL(&prunes, p, p_entry);
	TAILQ_FOREACH_SAFE(v, &vms, v_entry, tv) {
		if (!vm_visible(v, uid) || v->v_client != 0 ||
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
		/* vm_destroy_begin(), its request sent once all are saved. */
		vm_set_state(v, VM_REMOVING);
		gone[ngone++] = v;
	}
	prune_commit();
	free(prune_saves);
	prune_saves = NULL;
	prune_nsaves = prune_capsaves = 0;
	for (i = 0; i < ngone; i++)
		vmop_id_send(IMSG_VMOP_DESTROY, gone[i]);
	free(gone);
	if (p->p_pending == 0) {
		control_reply(client, 0, "removed %d VM%s", p->p_done,
		    p->p_done == 1 ? "" : "s");
		TAILQ_REMOVE(&prunes, p, p_entry);
		free(p);
	}
}

/* PATCH /vm answered, for vm pause or resume. */
static void
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
	vm_set_state(v, pause ? VM_PAUSED : VM_RUNNING);
	vm_op_done(v, 0, "vm %s %s", v->v_name, pause ? "paused" : "resumed");
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
	if (v->v_client != 0 || v->v_state == VM_CREATING ||
	    v->v_state == VM_REMOVING) {
		control_reply(client, EBUSY, "vm %s is busy (%s); try again",
		    v->v_name, state_name(v->v_state));
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
		if (!v->v_known) {
			control_reply(client, EIO, "vm %s cannot start: %s",
			    v->v_name, S(v->v_error));
			return;
		}
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
		if (!v->v_known) {
			control_reply(client, EIO, "vm %s cannot start: %s",
			    v->v_name, S(v->v_error));
			return;
		}
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

/* A client follows or holds at most one console at a time. */
static int
vm_client_busy(uint32_t client)
{
	struct vm		*v;
	struct vm_viewer	*vv;

	TAILQ_FOREACH(v, &vms, v_entry)
		TAILQ_FOREACH(vv, &v->v_viewers, vv_entry)
			if (vv->vv_client == client)
				return 1;
	return 0;
}

static struct vm *
vm_ctl_console_vm(uint32_t client, uid_t uid, const struct ctl_console *cs)
{
	struct vm	*v;
	size_t		 len;

	if (wire_string(cs->cs_name, sizeof(cs->cs_name), &len) == -1 ||
	    (cs->cs_flags & ~CTL_CONSOLE_F_FOLLOW) != 0) {
		control_reply(client, EINVAL, "bad request");
		return NULL;
	}
	if ((v = vm_by_name(cs->cs_name)) == NULL || !vm_visible(v, uid)) {
		control_reply(client, ENOENT, "no VM named %s", cs->cs_name);
		return NULL;
	}
	if (vm_client_busy(client)) {
		control_reply(client, EBUSY, "one console or log per "
		    "connection");
		return NULL;
	}
	return v;
}

static void
vm_viewer_add(struct vm *v, uint32_t client, int attached)
{
	struct vm_viewer	*vv;

	if ((vv = calloc(1, sizeof(*vv))) == NULL)
		fatal(NULL);
	vv->vv_client = client;
	vv->vv_attached = attached;
	TAILQ_INSERT_TAIL(&v->v_viewers, vv, vv_entry);
}

/*
 * vm logs: the client gets read-only descriptors on the log files and
 * reads them itself, so a megabyte of history is never copied through
 * this process, and the file's size now, so that it stops exactly where
 * what it is sent next (with -f) begins: nothing twice, nothing missed,
 * even if the log is rotated meanwhile (its descriptor keeps the file).
 */
void
vm_ctl_logs(uint32_t client, uid_t uid, const struct ctl_console *cs)
{
	static const char *const names[] = { VM_CONSOLE_OLD, VM_CONSOLE };
	struct ctl_logfd lf;
	struct stat	 st;
	struct vm	*v;
	char		 path[128];
	size_t		 i;
	int		 fd;

	if ((v = vm_ctl_console_vm(client, uid, cs)) == NULL)
		return;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		vm_console_path(v, names[i], path, sizeof(path));
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
			if (errno != ENOENT)
				log_warn("vm %s: %s", v->v_name, path);
			continue;
		}
		if (fstat(fd, &st) == -1 || st.st_size == 0) {
			close(fd);
			continue;
		}
		memset(&lf, 0, sizeof(lf));
		lf.lf_size = st.st_size;
		if (control_fd(client, IMSG_CTL_VM_LOGFD, fd, &lf,
		    sizeof(lf)) == -1)
			return;
	}
	if (cs->cs_flags & CTL_CONSOLE_F_FOLLOW)
		vm_viewer_add(v, client, 0);
	else
		control_reply(client, 0, "%s", "");
}

/*
 * vm console: one client at a time may type; a second is refused and
 * told who holds it (vm logs -f shows the output to any number).
 */
void
vm_ctl_console(uint32_t client, uid_t uid, const struct ctl_console *cs)
{
	struct ucred	 cr;
	struct vm	*v;

	if ((v = vm_ctl_console_vm(client, uid, cs)) == NULL)
		return;
	if (cs->cs_flags != 0) {
		control_reply(client, EINVAL, "bad request");
		return;
	}
	if (v->v_state != VM_RUNNING && v->v_state != VM_PAUSED) {
		control_reply(client, ENOTCONN, "vm %s is not running (%s): "
		    "start it first; \"bangerctl vm logs %s\" shows what its "
		    "console said", v->v_name, state_name(v->v_state),
		    v->v_name);
		return;
	}
	if (v->v_ptyfd == -1) {
		control_reply(client, ENOTCONN, "vm %s: its console is not "
		    "connected (bangerd restarted since the VM started); it "
		    "is again from the VM's next start", v->v_name);
		return;
	}
	if (v->v_writer != 0) {
		if (control_cred(v->v_writer, &cr) == 0)
			control_reply(client, EBUSY, "vm %s: its console is in "
			    "use by uid %u (pid %d); one client at a time: "
			    "that one must detach first (~.)", v->v_name,
			    (unsigned)cr.uid, (int)cr.pid);
		else
			control_reply(client, EBUSY, "vm %s: its console is "
			    "in use", v->v_name);
		return;
	}
	vm_viewer_add(v, client, 1);
	v->v_writer = client;
	if (control_cred(client, &cr) == 0)
		log_info("vm %s: console attached by uid %u (pid %d)",
		    v->v_name, (unsigned)cr.uid, (int)cr.pid);
	(void)control_data(client, IMSG_CTL_CONSOLE_READY, NULL, 0);
}

/* Typed by a client: for the console it holds, if it still does. */
void
vm_console_input(uint32_t client, const void *data, size_t len)
{
	struct vm	*v;
	size_t		 room;

	TAILQ_FOREACH(v, &vms, v_entry)
		if (v->v_writer == client)
			break;
	if (v == NULL || v->v_ptyfd == -1)
		return;
	room = CONSOLE_IN_MAX - v->v_inlen;
	if (len > room) {
		log_warnx("vm %s: console input: %zu bytes dropped (the "
		    "guest does not read)", v->v_name, len - room);
		len = room;
	}
	if (v->v_inlen + len > v->v_insize) {
		if ((v->v_inbuf = realloc(v->v_inbuf, v->v_inlen + len)) ==
		    NULL)
			fatal(NULL);
		v->v_insize = v->v_inlen + len;
	}
	memcpy(v->v_inbuf + v->v_inlen, data, len);
	v->v_inlen += len;
	vm_console_flush(v->v_ptyfd, EV_WRITE, v);
	if (v->v_inlen > CONSOLE_IN_HIGH && !v->v_inpaused) {
		v->v_inpaused = 1;
		control_pause(client, 1);
	}
}

/* A client hung up: whatever console it held or followed lets go. */
void
vm_client_gone(uint32_t client)
{
	struct vm		*v;
	struct vm_viewer	*vv, *tvv;

	TAILQ_FOREACH(v, &vms, v_entry)
		TAILQ_FOREACH_SAFE(vv, &v->v_viewers, vv_entry, tvv)
			if (vv->vv_client == client)
				vm_viewer_remove(v, vv);
}

void
vm_worker(struct imsgev *iev, const struct worker_init *wi)
{
	/* The event loop writes to the parent: nothing waits on it here. */
	parent_iev = iev;
	worker_set_handler(vm_dispatch_parent);
	iev->handler = worker_dispatch_parent;
	iev->data = iev;
	bridge_addr.s_addr = wi->wi_bridge_addr;
	bridge_prefix = wi->wi_bridge_prefix;
	vm_load();
	control_init(iev, wi);
	imsg_event_add(iev);
	event_dispatch();
	exit(0);
}

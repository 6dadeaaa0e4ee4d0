/*
 * The vm worker's insides, shared by its files: struct vm, the VM
 * registry that holds them, and the functions called from one file of
 * the worker to another, grouped by file.  vm.h is the worker's face to
 * the rest of bangerd.
 */
#ifndef VMINT_H
#define VMINT_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <netinet/in.h>

#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "vm.h"
#include "fcapi.h"
#include "validate.h"

/* A VM's directory and its files there. */
#define VMS_DIR			"/vms"
#define VM_RECORD		"vm.json"
#define VM_RUNREC		"vm.run"	/* its run-time record */
#define VM_CONSOLE		"console.log"
#define VM_CONSOLE_OLD		"console.log.0"
#define VM_FCLOG		"firecracker.log"
#define VM_FCLOG_OLD		"firecracker.log.0"
#define VM_METRICS		"metrics.json"

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

/* What to do once the operation in flight ends. */
enum vm_next {
	NEXT_NONE,
	NEXT_START,		/* create --start, restart */
	NEXT_DESTROY,		/* rm -f of a running VM */
	NEXT_RESTORE,		/* vm restore of a running VM */
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
	TAILQ_ENTRY(vm_viewer)	 vv_all;	/* every VM's, console.c */
	struct vm		*vv_vm;
	uint32_t		 vv_client;
	int			 vv_attached;	/* vm console: may type */
};

/*
 * A new file disk comes ahead of CREATE's reply (the parent makes the
 * tap meanwhile): its provisioning and the parent's part finish in
 * either order, and the VM is created once both have (v_newdisk).
 */
#define NEWDISK_EARLY	0x01	/* the disk came ahead of the reply */
#define NEWDISK_WRITTEN	0x02	/* its disk child reported it written */
#define NEWDISK_FAILED	0x04	/* provisioning failed: v_error says why */
#define NEWDISK_REPLIED	0x08	/* CREATE's reply came: the parent's part */

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
	struct proto_publish	*v_publish;	/* v_npublish of them, or NULL */
	char			*v_authkeys;	/* for provisioning, once */
	char			*v_hostkey;
	char			*v_sshkey;	/* --ssh-key */
	int			 v_create_failed;
	int			 v_newdisk;	/* NEWDISK_*, file disks */
	/*
	 * v_fresh: no guest has booted the disk since it was provisioned
	 * (so it needs no e2fsck); v_sync: the next save is synced;
	 * v_gen: how many synced saves its record has had; v_run: its
	 * run-time record (vm.run) is on disk.
	 */
	int			 v_fresh;
	int			 v_sync;
	uint64_t		 v_gen;
	int			 v_run;
	/*
	 * A synced save waiting for its group commit (registry.c):
	 * v_queued, in commit_q; v_jdirty: the journal holds a record its
	 * vm.json has, unsynced, until a checkpoint; v_run_gen: the gen
	 * its vm.run names.
	 */
	TAILQ_ENTRY(vm)		 v_commit;
	int			 v_queued;
	int			 v_jdirty;
	uint64_t		 v_run_gen;
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
	/*
	 * a snapshot being taken (snapshot.c): its name, step and times;
	 * v_snap_paused: a snapshot paused the VM, which it (or, after a
	 * restart, vm_snap_recover) resumes; recorded.
	 */
	char			*v_snap;
	int			 v_snap_step;	/* SNAP_STEP_* */
	int			 v_snap_error;	/* the step that failed, or 0 */
	int			 v_snap_paused;
	char			*v_restore;	/* vm restore: the snapshot */
	int			 v_restore_checked; /* the parent says it can */
	char			*v_snap_msg;	/* its result */
	struct timespec		 v_snap_t0;	/* paused since */
	/*
	 * A clone (clone.c): of which VM's snapshot ("VM/SNAP"); the
	 * snapshot of its own its first start restores (until that has
	 * run); its SSH host key's seed, given to the guest on the
	 * identity drive.  All recorded.
	 */
	char			*v_clone_of;
	char			*v_clone_snap;
	char			*v_clone_key;	/* 64 hex digits */
};

/* A string of struct vm's, "" if it has none. */
#define S(x)	((x) != NULL ? (x) : "")

/* registry.c */
/* Every VM, in the order vm_link() added them. */
TAILQ_HEAD(vm_list, vm);
extern struct vm_list	 vms;
extern size_t		 nvms;		/* VMs in vms */
void		 vm_strset(char **, const char *, size_t);
void		 vm_strf(char **, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
const char	*state_name(int);
int		 state_by_name(const char *);
void		 vm_link(struct vm *);
void		 vm_unlink(struct vm *);
struct vm	*vm_by_id(const char *);
struct vm	*vm_by_name(const char *);
int		 vm_visible(const struct vm *, uid_t);
void		 vm_mac(struct vm *);
void		 vm_publish_set(struct vm *, const struct proto_publish *,
		    size_t);
void		 vm_info(const struct vm *, struct vm_info *);
int		 vm_save(struct vm *);
void		 vm_unsave(struct vm *);
struct vm	*vm_new(void);
void		 vm_load(void);
void		 vm_save_grouped(void);
int		 vm_checkpoint(void);
void		 vm_commit_now(void);

/* state.c */
void		 vm_set_state(struct vm *, int);
void		 vm_op_done(struct vm *, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));
void		 vm_destroy_begin(struct vm *);
int		 vm_startable(uint32_t, const struct vm *);
void		 prune_done(struct vm *, int);
void		 vm_free(struct vm *);

/* boot.c */
void		 vm_start_begin(struct vm *);
void		 vm_start_boot(struct vm *);
int		 vm_api(struct vm *, const char *, const char *, json_t *,
		    fcapi_cb, char *, size_t);
void		 vm_retry(struct vm *, void (*)(int, short, void *), int);
void		 deadline_in(struct timespec *, long);
int		 deadline_passed(const struct timespec *);
void		 vm_boot_end(struct vm *);
void		 vm_boot_begin(struct vm *);
const char	*vm_killed_why(const struct vm *, char *, size_t);
void		 vm_socket_retry(int, short, void *);
void		 vm_stop_begin(struct vm *, int, int);
void		 vm_paused(void *, int, json_t *, const char *, int);

/* console.c */
void		 vm_console_mark(struct vm *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
void		 vm_viewers_end(struct vm *, int, int, const char *, ...)
		    __attribute__((__format__ (printf, 4, 5)));
void		 vm_console_open(struct vm *, int);
void		 vm_console_close(struct vm *, const char *);
int		 vm_fcout_open(struct vm *, char *, size_t);
void		 vm_fcout_close(struct vm *);
void		 vm_fcout_hold(struct vm *, int);
void		 vm_fcout_drain(struct vm *);

/* provision.c */
int		 vm_provision(struct vm *, int, char *, size_t);
void		 vm_created(struct vm *);
void		 vm_provision_done(struct vm *, int);
/* clone.c */
int		 vm_clone_prepare(uint32_t, uid_t, const struct ctl_vm_create *,
		    struct vm *, char *, size_t);
int		 vm_clone_created(struct vm *, char *, size_t);
int		 vm_identity(const struct vm *, char *, size_t);
int		 vm_provision_end(struct vm *);
void		 vm_create_undo(struct vm *);

/* snapshot.c */
void		 vm_ctl_snap(uint32_t, uid_t, const struct ctl_snap *);
void		 vm_snap_result(struct vm *, const struct vmop_result *);
void		 vm_snap_exited(struct vm *);
void		 vm_snap_recover(struct vm *);
void		 vm_snap_progress(struct imsg *);
void		 vm_restore_begin(struct vm *);
void		 vm_restore_result(struct vm *, const struct vmop_result *);

/* request.c */
/* From the parent: the defaults of a new VM, and the VMs' subnet. */
extern struct vm_defaults defaults;
extern struct in_addr	 bridge_addr;
extern int		 bridge_prefix;
void		 vmop_channel(struct imsgev *);
void		 vmop_release(void);
int		 vmop_send(uint32_t, const void *, size_t);
int		 vmop_send_ahead(uint32_t, const void *, size_t);
int		 vmop_send_to(uint32_t, uint32_t, const void *, size_t);
void		 vmop_id_send(uint32_t, struct vm *);
void		 vmop_signal_send(struct vm *, int);

#endif /* VMINT_H */

/*
 * bangerd's root parent: its workers, its records of VMs, and the
 * validated root operations.  Everything declared here runs as root.
 */
#ifndef PARENT_H
#define PARENT_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <event.h>
#include <stdint.h>
#include <time.h>

#include "proc.h"
#include "jail.h"
#include "cgroup.h"

/* The parent's view of one worker. */
struct worker {
	int		 w_role;		/* PROC_* */
	const char	*w_name;
	pid_t		 w_pid;			/* 0 while not running */
	int		 w_pidfd;
	int		 w_state;		/* WORKER_* */
	uint32_t	 w_restarts;
	time_t		 w_started;
	struct timespec	 w_started_mono;
	struct timeval	 w_backoff;		/* before the next restart */
	time_t		 w_deaths[6];		/* its last deaths, newest first */
	struct event	 w_restart_ev;
	struct imsgev	*w_iev;
	int		 w_retiring;		/* stopped for being idle */
	/* answers this worker's requests in its current state */
	int		(*w_dispatch)(struct worker *, struct imsg *);
};

struct bangerd {
	struct bangerd_config	*bd_conf;
	const char		*bd_conffile;
	int			 bd_debug;
	int			 bd_verbose;
	int			 bd_noaction;
	int			 bd_exefd[PROC_ROLES]; /* the workers' programs */
	time_t			 bd_started;
	uid_t			 bd_uid;	/* workers' user */
	gid_t			 bd_gid;
	gid_t			 bd_ctlgid;	/* control socket group */
	int			 bd_ctlfd;	/* listening control socket */
	char			 bd_pidfile[PATH_MAX];
	int			 bd_shutdown;
	struct worker		 bd_workers[PROC_MAX];
	const char		*bd_storage;	/* backend in use */
	int			 bd_nat;	/* our nftables table is set */
	int			 bd_resolver;	/* resolver routing is set */
	struct cgroup_tree	 bd_cgroup;	/* where VMs' cgroups go */
	dev_t			 bd_statedev;	/* the state directory's */
	ino_t			 bd_stateino;
};

/* An image's files on the host, from the config or the image store. */
struct image_files {
	char		 kernel[PATH_MAX];
	char		 initrd[PATH_MAX];	/* "" if none */
	char		 rootfs[PATH_MAX];
	char		 bootargs[BANGER_BOOTARGS_MAX];
};

/*
 * A snapshot of a VM, in the VM's record: what STATE/snapshots/VMID/NAME
 * may hold.  CREATING and REMOVING do not outlast the daemon: found at
 * start, the snapshot is given up (or its removal finished).
 */
#define PSNAP_CREATING	1
#define PSNAP_READY	2
#define PSNAP_REMOVING	3
struct psnap {
	char			 ps_name[VALID_NAME_MAX + 1];
	int			 ps_state;	/* PSNAP_* */
	int64_t			 ps_created;
	uint64_t		 ps_memory;	/* bytes of each file */
	uint64_t		 ps_vmstate;
	uint64_t		 ps_disk;
	uint64_t		 ps_disk_alloc;	/* of it on the host's disk */
	uint64_t		 ps_ms;		/* from BEGIN to END */
	char			 ps_how[8];	/* the disk's: reflink, copy */
	struct timespec		 ps_t0;		/* BEGIN, while creating */
};

/* The parent's record of one VM: what it made, and its process. */
struct pvm {
	TAILQ_ENTRY(pvm)	 pv_entry;
	RB_ENTRY(pvm)		 pv_byid;	/* pvm_find() */
	RB_ENTRY(pvm)		 pv_byuid;	/* the uids held */
	RB_ENTRY(pvm)		 pv_byaddr;	/* pvm_addr_other() */
	TAILQ_ENTRY(pvm)	 pv_batch;	/* a removal waiting to commit */
	char			 pv_id[VM_ID_LEN + 1];
	char			 pv_name[BANGER_NAME_MAX];	/* and DNS name */
	char			 pv_image[BANGER_NAME_MAX];
	uid_t			 pv_owner;	/* who asked for it */
	uid_t			 pv_uid;	/* its own uid and gid */
	int			 pv_state;	/* VMOP_* */
	/*
	 * pv_gen: how many synced saves its record has had (the run-time
	 * record names the one it follows); pv_run: ID.run is on disk.
	 */
	uint64_t		 pv_gen;
	int			 pv_run;
	int			 pv_jdirty;	/* the journal holds it */
	char			 pv_tap[IFNAMSIZ];
	char			 pv_backend[16];	/* dm, reflink, copy */
	char			*pv_disk;	/* its path, or NULL */
	uint64_t		 pv_disk_size;
	char			 pv_loop_origin[32];
	char			 pv_loop_cow[32];
	struct fc_proc		 pv_proc;
	struct event		 pv_exit_ev;
	struct pvm_spawn	*pv_spawn;	/* its spawn under way */
	int			 pv_busy;	/* its e2fsck runs, or its tap goes */
	int			 pv_reaping;	/* REAP_*: after the tap goes */
	struct in_addr		 pv_addr;	/* its lease, from creation */
	/* at its last start, and while running: its published ports */
	uint32_t		 pv_cpus;
	uint64_t		 pv_memory;	/* MiB */
	size_t			 pv_npublish;
	struct proto_publish	*pv_publish;	/* pv_npublish of them, or NULL */
	/* its Firecracker ended (since its last start): when, and how */
	int			 pv_ended;
	time_t			 pv_exit_time;
	int			 pv_exit_status;	/* wait status, -1 */
	/* CREATING, waiting for the net worker's address */
	int			 pv_pending;
	uint32_t		 pv_peerid;	/* the vm worker's request */
	uint64_t		 pv_want_size;
	uint32_t		 pv_want_flags;
	/* its snapshots (vmsnap.c), in the order they were taken */
	struct psnap		*pv_snaps;
	size_t			 pv_nsnaps;
	struct snap_job		*pv_snapjob;	/* its disk being copied */
	struct pvm_from		*pv_from;	/* CREATING a clone: of what */
};
TAILQ_HEAD(pvms, pvm);

extern struct bangerd	*env;

/* bangerd.c */
void	 parent_worker_violation(struct worker *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
int	 parent_worker_wake(struct worker *);
void	 worker_init_fill(int, struct worker_init *);
void	 parent_worker_retire(struct worker *);
int	 parent_reload(char *, size_t);
void	 parent_set_verbose(int);
void	 parent_reexec_schedule(void);

/* curlurl.c (bangerd only) */
/*
 * For the update worker, which has no resolver: look up url's host and make the resolve entry
 * ("host:port:addr,...", up to 4 addresses) for struct upd_fetch.
 */
int	 upd_resolve(const char *, char *, size_t, char *, size_t);

/* updresolve.c */
int	 upd_resolve_host(const char *, long, char *, size_t, char *, size_t);

/* install.c */
int	 install_init(void);
const char *install_exe(void);
const char *install_dir(void);
int	 install_highest(char *, size_t);
int	 install_apply(int, const char *, char *, size_t);
int	 install_rollback(char *, size_t);

/* vmops.c */
int	 vmop_create(struct worker *, uint32_t, const struct vmop_create *);
int	 vmop_net_addr(struct worker *, const struct net_addr *);
void	 vmop_net_sync(struct worker *);
void	 vmop_net_gone(void);
void	 vmop_vm_gone(void);
void	 vmop_settle(void);
int	 vmop_socket(struct worker *, uint32_t, struct pvm *);
int	 vmop_signal(struct worker *, uint32_t, struct pvm *, int);
int	 vmop_destroy(struct worker *, uint32_t, struct pvm *);
void	 vmop_announce(struct worker *);
void	 vm_defaults_send(struct worker *);
/* vmops.c: for priv.c and vmrestore.c */
void	 pvm_create_fail(struct pvm *, int, const char *);
int	 pvm_teardown(struct pvm *, char *, size_t);

/* vmreply.c */
void	 pvm_result_init(struct pvm *, uint32_t, struct vmop_result *);
void	 vmop_reply(struct worker *, uint32_t, struct vmop_result *, int);
void	 vmop_error(struct worker *, uint32_t, const char *, uint32_t, int,
	    const char *);

/* hostnet.c */
int	 hostnet_setup(char *, size_t);
int	 hostnet_nat(char *, size_t);
void	 hostnet_teardown(void);
void	 vmop_taps_ensure(void);

/* vmrecord.c */
struct pvm *pvm_find(const char *);
struct pvms *pvm_list(void);
const char *pvm_state_name(int);
/* vmrecord.c: the records and their files, for the other vm*.c */
#define RUN_SUFFIX	".run"		/* STATE/priv/ID.run: run-time record */
extern struct pvms pvms;	/* every record */
extern size_t	 pvm_count;	/* records in pvms */
int	 pvm_uid_alloc(uid_t *);
const char *pvm_disk(const struct pvm *);
int	 pvm_disk_file(const struct pvm *);
void	 pvm_disk_setf(struct pvm *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
int	 pvm_save_sync(struct pvm *);
int	 pvm_save_unsynced(struct pvm *);
void	 pvm_save_all(struct pvm **, int *, size_t);
int	 pvm_save(struct pvm *);
int	 pvm_set_state(struct pvm *, int);
const char *pvm_boot_id(void);
int	 priv_dir_sync(void);
void	 pvm_unlink(struct pvm *);
void	 pvm_unsave(struct pvm *);
void	 pvm_gone(struct pvm *);
struct journal *pvm_journal(void);
int	 pvm_checkpoint(void);
int	 pvm_record_put(const char *, const char *, size_t);
void	 pvm_insert(struct pvm *);
void	 pvm_addr_set(struct pvm *, struct in_addr);
struct pvm *pvm_addr_other(const struct pvm *, struct in_addr);
void	 pvm_free(struct pvm *);
void	 pvm_publish_set(struct pvm *, const struct proto_publish *, size_t);
void	 pvm_loop_mark(const char *, char *, size_t);

/* vmrestore.c */
struct fcscan;
struct fcscan *vmop_restore(const char *);
void	 vmop_consoles_keep(char *, size_t);

/* vmstart.c */
int	 vmop_start(struct worker *, uint32_t, struct pvm *,
	    const struct vmop_start *);
void	 vmop_spawn_finish(struct pvm *);
void	 vmop_spawns_finish(void);
void	 pvm_stopped(struct pvm *, int);
/* vmstart.c: for vmrestore.c */
void	 pvm_unjail(struct pvm *);
void	 pvm_exit_cb(int, short, void *);

/* vmdisk.c */
int	 image_resolve(const char *, struct image_files *, char *, size_t);
int	 vmop_fsck(struct worker *, uint32_t, struct pvm *);
/* vmdisk.c: for vmops.c and vmstart.c */
int	 pvm_disk_create(struct pvm *, const struct image_files *, int, uint64_t,
	    int, char *, size_t);
int	 pvm_disk_remove(struct pvm *);
void	 pvm_disk_reclaim(struct pvm *);
void	 fsck_cancel_all(void);

/* vmsnap.c */
int	 vmop_snap_begin(struct worker *, uint32_t, struct pvm *,
	    const char *);
int	 vmop_snap_end(struct worker *, uint32_t, struct pvm *, const char *,
	    uint32_t);
int	 vmop_snap_restore(struct worker *, uint32_t, struct pvm *,
	    const char *, int);
int	 snap_jail_link(struct pvm *, const char *, char *, size_t);
int	 snapop_ls(struct worker *, uint32_t, struct pvm *);
int	 snapop_rm(struct worker *, uint32_t, struct pvm *, const char *);
struct psnap *psnap_find(struct pvm *, const char *);
int	 psnap_creating(struct pvm *);
int	 psnap_add(struct pvm *, const char *, int);
void	 psnap_drop(struct pvm *, const char *);
void	 pvm_snaps_restore(struct pvm *);
/* vmclone.c */
struct vmop_create;
int	 pvm_clone_begin(struct pvm *, const struct vmop_create *, char *,
	    size_t);
void	 pvm_clone_end(struct pvm *);
int	 pvm_clone_disk_open(struct pvm *, char *, size_t);
int	 pvm_clone_snapshot(struct pvm *, char *, size_t);
int	 pvm_snaps_remove(struct pvm *);
void	 snaps_worker_gone(void);
void	 snaps_sweep(void);

/* sweep.c */
void	 vmop_sweep(struct fcscan *);
int	 sweep_vm_loops(const char *, const char *);

/* fcscan.c */
struct fcscan *fcscan_new(void);
pid_t	 fcscan_find(struct fcscan *, const char *, pid_t);
pid_t	 fcscan_match(struct fcscan *, const char *, pid_t, int);
int	 fcscan_kill(struct fcscan *, pid_t);
void	 fcscan_free(struct fcscan *);

/* image.c */
void	 image_store_clean(void);
void	 image_worker_gone(void);
int	 imgop_file(uint32_t, const struct imgop_file *, int, const char **);
int	 imgop_import_check(uint32_t, const struct ctl_image_import *,
	    const char **);
int	 imgop_import(struct worker *, uint32_t, const struct imgop_import *);
int	 imgop_query(struct worker *, uint32_t, const struct imgop_query *);
void	 imgop_cancel(struct worker *, uint32_t);

/* priv.c */
int	 priv_dispatch_vm(struct worker *, struct imsg *);
/* priv.c: for privsnap.c */
int	 read_request(struct worker *, struct imsg *, void *, size_t);
int	 vmid_check(struct worker *, const char *, size_t, int,
	    struct pvm **);

/* privsnap.c */
int	 priv_snap(struct worker *, struct imsg *);
int	 priv_dispatch_net(struct worker *, struct imsg *);
int	 priv_dispatch_update(struct worker *, struct imsg *);
void	 priv_status(struct worker *, uint32_t);
void	 priv_update_worker_gone(void);
void	 priv_update_ready(struct worker *);

/* signals.c */
void	 parent_signals(void (*)(int, short, void *));
void	 parent_signals_child(void);
const char *signal_name(int);

#endif /* PARENT_H */

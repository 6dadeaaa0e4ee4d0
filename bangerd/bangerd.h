/*
 * bangerd: the root parent and its unprivileged workers.
 */
#ifndef BANGERD_H
#define BANGERD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/resource.h>

#include <event.h>
#include <stdint.h>
#include <time.h>

#include "imsg.h"
#include "proto.h"
#include "config.h"
#include "jail.h"
#include "cgroup.h"

/* An imsg channel driven by libevent, as in OpenBSD's daemons. */
struct imsgev {
	struct imsgbuf	 ibuf;
	void		(*handler)(int, short, void *);
	struct event	 ev;
	short		 events;
	void		*data;
	int		 no_read;		/* flow control: not for now */
};

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
	/* answers this worker's requests in its current state */
	int		(*w_dispatch)(struct worker *, struct imsg *);
};

struct bangerd {
	struct bangerd_config	*bd_conf;
	const char		*bd_conffile;
	int			 bd_debug;
	int			 bd_verbose;
	int			 bd_noaction;
	int			 bd_exefd;	/* our own executable */
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

/* The parent's record of one VM: what it made, and its process. */
struct pvm {
	TAILQ_ENTRY(pvm)	 pv_entry;
	RB_ENTRY(pvm)		 pv_byid;	/* pvm_find() */
	RB_ENTRY(pvm)		 pv_byuid;	/* the uids held */
	TAILQ_ENTRY(pvm)	 pv_batch;	/* a removal waiting to commit */
	char			 pv_id[VM_ID_LEN + 1];
	char			 pv_name[BANGER_NAME_MAX];	/* and DNS name */
	char			 pv_image[BANGER_NAME_MAX];
	uid_t			 pv_owner;	/* who asked for it */
	uid_t			 pv_uid;	/* its own uid and gid */
	int			 pv_state;	/* VMOP_* */
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
	struct proto_publish	 pv_publish[PROTO_PUBLISH_MAX];
	/* its Firecracker ended (since its last start): when, and how */
	int			 pv_ended;
	time_t			 pv_exit_time;
	int			 pv_exit_status;	/* wait status, -1 */
	/* CREATING, waiting for the net worker's address */
	int			 pv_pending;
	uint32_t		 pv_peerid;	/* the vm worker's request */
	uint64_t		 pv_want_size;
	uint32_t		 pv_want_flags;
};
TAILQ_HEAD(pvms, pvm);

extern struct bangerd	*env;

/* bangerd.c */
void	 parent_worker_violation(struct worker *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
int	 parent_reload(char *, size_t);
void	 parent_set_verbose(int);
void	 parent_reexec_schedule(void);

/* install.c */
int	 install_init(void);
const char *install_exe(void);
int	 install_highest(char *, size_t);
int	 install_apply(int, const char *, char *, size_t);
int	 install_rollback(char *, size_t);

/* vmops.c */
struct fcscan;
struct pvm *pvm_find(const char *);
struct pvms *pvm_list(void);
const char *pvm_state_name(int);
void	 pvm_loop_mark(const char *, char *, size_t);
int	 image_resolve(const char *, struct image_files *, char *, size_t);
void	 pvm_stopped(struct pvm *, int);
int	 vmop_create(struct worker *, uint32_t, const struct vmop_create *);
int	 vmop_net_addr(struct worker *, const struct net_addr *);
void	 vmop_net_sync(struct worker *);
void	 vmop_net_gone(void);
void	 vmop_vm_gone(void);
void	 vmop_spawns_finish(void);
void	 vmop_settle(void);
void	 vmop_spawn_finish(struct pvm *);
void	 vmop_taps_ensure(void);
int	 vmop_start(struct worker *, uint32_t, struct pvm *,
	    const struct vmop_start *);
int	 vmop_socket(struct worker *, uint32_t, struct pvm *);
int	 vmop_signal(struct worker *, uint32_t, struct pvm *, int);
int	 vmop_disk(struct worker *, uint32_t, struct pvm *);
int	 vmop_destroy(struct worker *, uint32_t, struct pvm *);
int	 vmop_fsck(struct worker *, uint32_t, struct pvm *);
void	 vmop_announce(struct worker *);
void	 vm_defaults_send(struct worker *);
struct fcscan *vmop_restore(const char *);
void	 vmop_consoles_keep(char *, size_t);

/* sweep.c */
void	 vmop_sweep(struct fcscan *);
int	 sweep_vm_loops(const char *, const char *);
struct fcscan *fcscan_new(void);
pid_t	 fcscan_find(struct fcscan *, const char *, pid_t);
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
int	 priv_dispatch_net(struct worker *, struct imsg *);
int	 priv_dispatch_update(struct worker *, struct imsg *);
void	 priv_status(struct worker *, uint32_t);
int	 priv_net_setup(char *, size_t);
int	 priv_nat_rebuild(char *, size_t);
void	 priv_net_teardown(void);
void	 priv_update_worker_gone(void);

/* proc.c */
#define PROC_PARENT	(-1)		/* proc_nofile(): the parent's own */
const char *proc_name(int);
rlim_t	 proc_nofile(int, int);
int	 proc_role(const char *);
void	 proc_trim_start(void);
int	 worker_root(int, const struct bangerd_config *, char *, size_t);
pid_t	 proc_exec_worker(int, int, int, int, int *);
void	 imsg_event_add(struct imsgev *);
int	 imsg_compose_event(struct imsgev *, uint32_t, uint32_t, pid_t,
	    int, const void *, size_t);
int	 imsgev_init(struct imsgev *, int, void (*)(int, short, void *),
	    void *);
void	 imsgev_clear(struct imsgev *);
int	 imsg_read_exact(struct imsg *, void *, size_t);
int	 imsg_send_result(struct imsgev *, uint32_t, uint32_t, int,
	    const char *, ...) __attribute__((__format__ (printf, 5, 6)));
__attribute__((__noreturn__)) void worker_main(const char *);
void	 worker_dispatch_parent(int, short, void *);
void	 worker_set_handler(int (*)(struct imsgev *, struct imsg *));

/* control.c */
/* An IMSG_CTL_VM_INFO being filled: VMs packed, sent when it is full. */
struct ctl_info {
	uint32_t	 ci_client;
	size_t		 ci_len;
	unsigned char	 ci_buf[MAX_IMSGSIZE - IMSG_HEADER_SIZE];
};
size_t	 control_fds_max(void);
void	 control_init(struct imsgev *, const struct worker_init *);
void	 control_listen(int);
void	 control_relay(uint32_t, uint32_t, struct imsg *);
void	 control_reply(uint32_t, int, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
void	 control_info(uint32_t, const struct vm_info *);
void	 control_info_start(struct ctl_info *, uint32_t);
void	 control_info_add(struct ctl_info *, const struct vm_info *);
void	 control_info_end(struct ctl_info *);
void	 control_send(uint32_t, uint32_t, const void *, size_t);
int	 control_uid(uint32_t, uid_t *);
int	 control_alive(uint32_t);
int	 control_data(uint32_t, uint32_t, const void *, size_t);
int	 control_fd(uint32_t, uint32_t, int, const void *, size_t);
struct ucred;
int	 control_cred(uint32_t, struct ucred *);
void	 control_pause(uint32_t, int);

/* vm.c */
void	 vm_ctl_create(uint32_t, uid_t, const struct ctl_vm_create *);
void	 vm_ctl_action(uint32_t, uid_t, const struct ctl_vm *);
void	 vm_ctl_ls(uint32_t, uid_t);
int	 vm_image_users(const char *, uid_t, char *, size_t, uint32_t *);
void	 vm_ctl_logs(uint32_t, uid_t, const struct ctl_console *);
void	 vm_ctl_console(uint32_t, uid_t, const struct ctl_console *);
void	 vm_console_input(uint32_t, const void *, size_t);
void	 vm_client_gone(uint32_t);

/* sandbox.c */
/*
 * Descriptors: each process may hold NOFILE_BASE of its own, and per VM
 * (proc_nofile): the vm worker a running VM's console, its log, the
 * Firecracker log and metrics FIFOs, and two spare (a log written, a
 * metrics file replaced); the parent its pidfd, its console's copy and
 * an e2fsck child's.
 */
#define NOFILE_BASE		256
#define NOFILE_PER_VM_WORKER	6
#define NOFILE_PER_VM_PARENT	3
void	 sandbox_enter(int, const struct worker_init *);

/* signals.c */
void	 parent_signals(void (*)(int, short, void *));
void	 parent_signals_child(void);
const char *signal_name(int);

/* vm.c */
void	 vm_worker(struct imsgev *, const struct worker_init *);

/* net.c */
void	 net_preinit(void);
void	 net_worker(struct imsgev *, const struct worker_init *);

/* update.c */
void	 update_preinit(void);
void	 update_worker(struct imsgev *, const struct worker_init *);

#endif /* BANGERD_H */

/*
 * What every bangerd process links: the imsg channel on libevent, the
 * start of a worker (fork, re-exec, its first message, its sandbox) and
 * the per-role limits.  The parent runs this code as root, and so does
 * each worker until sandbox_enter() has dropped everything.
 */
#ifndef PROC_H
#define PROC_H

#include <sys/types.h>
#include <sys/resource.h>

#include <event.h>
#include <stdint.h>

#include "imsg.h"
#include "proto.h"
#include "config.h"

/* An imsg channel driven by libevent, as in OpenBSD's daemons. */
struct imsgev {
	struct imsgbuf	 ibuf;
	void		(*handler)(int, short, void *);
	struct event	 ev;
	short		 events;
	void		*data;
	int		 no_read;		/* flow control: not for now */
};

/*
 * A worker program (bangerd-vm, bangerd-net, bangerd-update: each
 * room's main.c): what it does as root before its sandbox (the room's
 * preinit.c; NULL for none), and its event loop, entered in the
 * sandbox.
 */
struct proc_role {
	int		  pr_role;		/* PROC_* */
	/* As root, before the sandbox; -1: the worker cannot run */
	int		(*pr_preinit)(const struct worker_init *);
	void		(*pr_main)(struct imsgev *, const struct worker_init *);
};

/* roles.c, the parent's: each worker's RLIMIT_NOFILE with max_vms VMs */
rlim_t	 proc_nofile(int, int);

/* proc.c */
#define PROC_PARENT	(-1)		/* proc_nofile(): the parent's own */
const char *proc_name(int);
const char *proc_program(int);
void	 proc_trim_start(void);
int	 worker_root(int, const struct bangerd_config *, char *, size_t);
pid_t	 proc_exec_worker(int, int, int, int, int *);
void	 imsg_event_add(struct imsgev *);
void	 imsg_event_write(struct imsgev *);
extern int imsg_hold;
int	 imsg_compose_event(struct imsgev *, uint32_t, uint32_t, pid_t,
	    int, const void *, size_t);
int	 imsgev_init(struct imsgev *, int, void (*)(int, short, void *),
	    void *);
void	 imsgev_clear(struct imsgev *);
int	 imsg_read_exact(struct imsg *, void *, size_t);
int	 imsg_send_result(struct imsgev *, uint32_t, uint32_t, int,
	    const char *, ...) __attribute__((__format__ (printf, 5, 6)));
void	 worker_dispatch_parent(int, short, void *);
void	 worker_set_handler(int (*)(struct imsgev *, struct imsg *));

__attribute__((__noreturn__)) void worker_start(int, char *[], char *[],
	    const struct proc_role *);

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
void	 sandbox_enter(int, rlim_t, const struct worker_init *);

#endif /* PROC_H */

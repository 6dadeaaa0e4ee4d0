/*
 * Every message banger's processes exchange, with its fixed-size payload
 * and who may send it.  Strings in payloads are fixed-size fields that
 * must hold a NUL and be zero-padded after it (wire_string() checks);
 * payload sizes are checked exactly on receipt.
 *
 * Two channels carry these:
 *   - the parent and each worker, over a socketpair (fd PROC_PARENT_FD
 *     in the worker);
 *   - bangerctl and the vm worker, over the control socket.
 */
#ifndef BANGER_PROTO_H
#define BANGER_PROTO_H

#include <sys/types.h>
#include <stdint.h>

#define BANGER_PROTO_VERSION	1
#define PROC_PARENT_FD		3	/* a worker's end of its channel */

#define PROTO_NAME_MAX		16	/* worker role names */
#define PROTO_VERSION_MAX	32
#define PROTO_PATH_MAX		256
#define PROTO_MSG_MAX		512	/* human-readable results */
#define PROTO_IFNAME_MAX	16
#define PROTO_DOMAIN_MAX	254

enum proto_type {
	IMSG_NONE = 0,

	/* parent -> worker */
	IMSG_WORKER_INIT,	/* struct worker_init, first message */
	IMSG_CTL_SOCKET,	/* fd: the control socket (vm worker) */
	IMSG_SET_VERBOSE,	/* struct set_verbose */

	/* worker -> parent */
	IMSG_WORKER_READY,	/* struct worker_ready, once sandboxed */
	IMSG_STATUS_REQ,	/* vm: struct ctl_audit, peerid = client */
	IMSG_VERBOSE_REQ,	/* vm: struct verbose_req, peerid = client */
	IMSG_RELOAD_REQ,	/* vm: struct ctl_audit, peerid = client */

	/* parent -> vm worker, answers (peerid = client) */
	IMSG_STATUS_DAEMON,	/* struct status_daemon */
	IMSG_STATUS_WORKER,	/* struct status_worker, one per worker */
	IMSG_STATUS_END,	/* no payload */
	IMSG_RESULT,		/* struct result */

	/* bangerctl -> vm worker */
	IMSG_CTL_STATUS = 100,	/* no payload: answered by IMSG_STATUS_* */
	IMSG_CTL_LOG_VERBOSE,	/* struct set_verbose */
	IMSG_CTL_RELOAD,	/* no payload */

	/* vm worker -> bangerctl */
	IMSG_CTL_RESULT,	/* struct result: ends a command */
};

/* Worker roles, in the order the parent starts them. */
#define PROC_VM		0
#define PROC_NET	1
#define PROC_UPDATE	2
#define PROC_MAX	3

struct worker_init {
	uint32_t	wi_proto;		/* BANGER_PROTO_VERSION */
	uint32_t	wi_uid;			/* drop to */
	uint32_t	wi_gid;
	uint32_t	wi_ctlgid;		/* control socket group */
	int32_t		wi_verbose;
	char		wi_role[PROTO_NAME_MAX];
	char		wi_chroot[PROTO_PATH_MAX];
	char		wi_ctlgroup[PROTO_NAME_MAX * 2 + 1];
};

struct worker_ready {
	uint32_t	wr_proto;
	char		wr_role[PROTO_NAME_MAX];
	char		wr_version[PROTO_VERSION_MAX];
};

struct set_verbose {
	int32_t		sv_verbose;		/* 0 brief, 1 verbose */
};

/*
 * Who asked: the vm worker forwards a client's command to the parent with
 * the client's credentials, as the kernel gave them (SO_PEERCRED), so the
 * parent's log says who requested each operation.
 */
struct ctl_audit {
	uint32_t	ca_uid;
	uint32_t	ca_gid;
	int32_t		ca_pid;
	char		ca_cmd[PROTO_NAME_MAX];	/* bangerctl command */
};

struct verbose_req {
	struct ctl_audit vr_audit;
	int32_t		vr_verbose;
};

struct result {
	int32_t		res_error;		/* 0 ok, else an errno */
	char		res_msg[PROTO_MSG_MAX];
};

#define WORKER_STARTING		0	/* forked, not yet sandboxed */
#define WORKER_RUNNING		1
#define WORKER_RESTARTING	2	/* dead, waiting out its backoff */

struct status_worker {
	char		sw_role[PROTO_NAME_MAX];
	int32_t		sw_pid;			/* 0 while restarting */
	uint32_t	sw_uid;
	uint32_t	sw_gid;
	int32_t		sw_state;		/* WORKER_* */
	uint32_t	sw_restarts;
	int64_t		sw_started;		/* unix time */
	char		sw_chroot[PROTO_PATH_MAX];
};

struct status_daemon {
	char		sd_version[PROTO_VERSION_MAX];
	int32_t		sd_pid;
	int32_t		sd_verbose;
	int64_t		sd_started;		/* unix time */
	int64_t		sd_now;
	char		sd_config[PROTO_PATH_MAX];
	char		sd_statedir[PROTO_PATH_MAX];
	char		sd_socket[PROTO_PATH_MAX];
	char		sd_sockgroup[PROTO_NAME_MAX * 2 + 1];
	char		sd_bridge[PROTO_IFNAME_MAX];
	char		sd_bridge_addr[16];	/* dotted quad */
	int32_t		sd_bridge_prefix;
	char		sd_egress[PROTO_IFNAME_MAX];
	char		sd_domain[PROTO_DOMAIN_MAX];
	char		sd_firecracker[PROTO_PATH_MAX];
	char		sd_jailer[PROTO_PATH_MAX];
	char		sd_storage[PROTO_NAME_MAX];	/* backend in use */
	char		sd_update_url[PROTO_PATH_MAX];
	uint32_t	sd_vm_uid_min;
	uint32_t	sd_vm_uid_max;
	int32_t		sd_def_cpus;
	uint64_t	sd_def_memory;		/* MiB */
	uint64_t	sd_def_disk;		/* bytes */
	uint32_t	sd_nimages;
};

#endif /* BANGER_PROTO_H */

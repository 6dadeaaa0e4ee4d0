/*
 * Every message banger's processes exchange, with its fixed-size payload
 * and who may send it.  Strings in payloads are fixed-size fields that
 * must hold a NUL and be zero-padded after it (wire_string() checks);
 * payload sizes are checked exactly on receipt.  Listings of VMs to
 * bangerctl are the exception: structs packed without their runs of
 * zeros (wire.h), each unpacked to exactly its size.
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

#define BANGER_PROTO_VERSION	3
#define PROC_PARENT_FD		3	/* a worker's end of its channel */

#define PROTO_NAME_MAX		16	/* worker role names */
#define PROTO_VERSION_MAX	32
#define PROTO_PATH_MAX		256
#define PROTO_MSG_MAX		512	/* human-readable results */
#define PROTO_IFNAME_MAX	16
#define PROTO_DOMAIN_MAX	254
#define PROTO_BOOTARGS_MAX	1024	/* an image's boot args, with NUL */

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

	/*
	 * vm worker -> parent: root operations on one VM, named by its id
	 * (peerid = the worker's request id).  Answered by IMSG_VMOP_RESULT.
	 */
	IMSG_VMOP_CREATE,	/* struct vmop_create: disk and tap */
	IMSG_VMOP_START,	/* struct vmop_start: jail and Firecracker */
	IMSG_VMOP_SOCKET,	/* struct vmop_id: API socket access */
	IMSG_VMOP_SIGNAL,	/* struct vmop_signal */
	/*
	 * Retired as a request, refused: a VM's disk fd.  The vm worker is
	 * handed a VM's disk only when it is new: a file disk in a result
	 * of this op, ahead of CREATE's reply; a device-mapper one with
	 * CREATE's reply.
	 */
	IMSG_VMOP_DISK,
	IMSG_VMOP_DESTROY,	/* struct vmop_id: remove what CREATE made */
	IMSG_VMOP_FSCK,		/* struct vmop_id: e2fsck -p, as the VM's uid */

	/* parent -> vm worker */
	IMSG_VMOP_RESULT,	/* struct vmop_result, maybe with an fd */
	IMSG_VMOP_EXITED,	/* struct vmop_exited: Firecracker ended */
	IMSG_VMOP_KNOWN,	/* struct vmop_result: a VM the parent has */
	IMSG_VMOP_KNOWN_END,	/* no payload: that was all of them */
	IMSG_VM_DEFAULTS,	/* struct vm_defaults, at start and reload */

	/* net worker -> parent */
	IMSG_NETOP_SETUP,	/* no payload: bridge, NAT, resolver routing */
	IMSG_NETOP_SETUP_DONE,	/* struct result (parent -> net) */
	IMSG_NETOP_DNS_UDP,	/* fd: UDP socket on BRIDGE:53 (parent -> net) */
	IMSG_NETOP_DNS_TCP,	/* fd: listening TCP socket on BRIDGE:53 */

	/*
	 * A VM's address and DNS name.  The parent owns them (its record
	 * of the VM names both); the net worker's table follows it.
	 * parent -> net worker:
	 */
	IMSG_NET_ALLOC,		/* struct net_vm: address for a VM, name it */
	IMSG_NET_RELEASE,	/* struct net_vm: the VM is gone */
	IMSG_NET_SYNC_END,	/* no payload: every VM not named since the
				   worker started is gone */
	IMSG_NET_ADDR,		/* struct net_addr: net worker -> parent */

	/*
	 * The image store: the vm worker passes a client's files on (one
	 * fd each), then the import; the parent copies them in a child.
	 */
	IMSG_IMGOP_FILE,	/* struct imgop_file, fd: vm -> parent */
	IMSG_IMGOP_IMPORT,	/* struct imgop_import: vm -> parent */
	IMSG_IMGOP_QUERY,	/* struct imgop_query: ls, show, rm */
	IMSG_IMGOP_PROGRESS,	/* struct image_progress: parent -> vm */
	IMSG_IMGOP_INFO,	/* struct image_info: parent -> vm */
	IMSG_IMGOP_CANCEL,	/* no payload: the client went (peerid) */

	/* bangerctl -> vm worker */
	IMSG_CTL_STATUS = 100,	/* no payload: answered by IMSG_STATUS_* */
	IMSG_CTL_LOG_VERBOSE,	/* struct set_verbose */
	IMSG_CTL_RELOAD,	/* no payload */

	IMSG_CTL_VM_CREATE,	/* struct ctl_vm_create */
	IMSG_CTL_VM,		/* struct ctl_vm: an action on VMs */
	IMSG_CTL_VM_LS,		/* no payload: IMSG_CTL_VM_INFO, many
				   VMs each */
	IMSG_CTL_VM_LOGS,	/* struct ctl_console: the console log */
	IMSG_CTL_VM_CONSOLE,	/* struct ctl_console: attach to it */
	IMSG_CTL_CONSOLE_IN,	/* 1..PROTO_CONSOLE_CHUNK bytes: typed */

	/* vm worker -> bangerctl */
	IMSG_CTL_RESULT,	/* struct result: ends a command */
	IMSG_CTL_VM_INFO,	/* struct vm_info, one or more, each
				   wire_zpack()ed (wire.h) */

	/* bangerctl -> vm worker: images */
	IMSG_CTL_IMAGE_FILE,	/* struct ctl_image_file, fd: a file */
	IMSG_CTL_IMAGE_IMPORT,	/* struct ctl_image_import: import them */
	IMSG_CTL_IMAGE,		/* struct ctl_image: ls, show, rm */

	/* vm worker -> bangerctl: images */
	IMSG_CTL_IMAGE_PROGRESS,	/* struct image_progress */
	IMSG_CTL_IMAGE_INFO,	/* struct image_info */
	/*
	 * Self-update.  bangerctl -> vm worker: IMSG_CTL_UPDATE; vm worker
	 * -> bangerctl: IMSG_CTL_UPDATE_INFO, IMSG_CTL_UPDATE_PROGRESS,
	 * then IMSG_CTL_RESULT.
	 */
	IMSG_CTL_UPDATE,	/* struct ctl_update */
	IMSG_CTL_UPDATE_INFO,	/* struct update_info */
	IMSG_CTL_UPDATE_PROGRESS, /* struct update_progress */

	/* vm worker -> parent (peerid = client), answered like the above */
	IMSG_UPDATE_REQ,	/* struct update_req */
	IMSG_UPDATE_INFO,	/* struct update_info (parent -> vm) */
	IMSG_UPDATE_PROGRESS,	/* struct update_progress (parent -> vm) */

	/* parent -> update worker (peerid = the request) */
	IMSG_UPD_FETCH,		/* struct upd_fetch_req */
	/* update worker -> parent */
	IMSG_UPD_CHECKED,	/* struct upd_checked, fd: manifest + sig */
	IMSG_UPD_PROGRESS,	/* struct update_progress */
	IMSG_UPD_ARTIFACT,	/* no payload, fd: the sealed artifact */
	IMSG_UPD_FAILED,	/* struct upd_failed */
	IMSG_CTL_VM_LOGFD,	/* struct ctl_logfd, fd: read-only log */
	IMSG_CTL_CONSOLE_OUT,	/* 1..PROTO_CONSOLE_CHUNK bytes: output */
	IMSG_CTL_CONSOLE_READY,	/* no payload: attached, the input is ours */
	/*
	 * Snapshots.  bangerctl -> vm worker: IMSG_CTL_VM_SNAP; answered by
	 * IMSG_CTL_SNAP_INFO (ls, and a snapshot taken) and IMSG_CTL_RESULT.
	 * vm worker -> parent: a snapshot taken in two steps, each answered
	 * by IMSG_VMOP_RESULT; ls and rm answered by IMSG_SNAP_INFO and
	 * IMSG_RESULT (peerid = the client).
	 */
	IMSG_CTL_VM_SNAP,	/* struct ctl_snap */
	IMSG_CTL_SNAP_INFO,	/* struct snap_info */
	IMSG_VMOP_SNAP_BEGIN,	/* struct vmop_snap: record, disk copied */
	IMSG_VMOP_SNAP_END,	/* struct vmop_snap: the VMM's files taken */
	IMSG_SNAPOP_LS,		/* struct vmop_snap (no name): a VM's */
	IMSG_SNAPOP_RM,		/* struct vmop_snap */
	IMSG_SNAP_INFO,		/* struct snap_info (parent -> vm) */
	IMSG_VMOP_RESTORE,	/* struct vmop_snap: its disk put back */
	IMSG_VMOP_PROGRESS,	/* struct vmop_progress: a disk copied so far */
	IMSG_CTL_SNAP_PROGRESS,	/* struct image_progress: likewise, to bangerctl */
	/*
	 * An image from an OCI layout.  The parent's import child -> pull
	 * worker: the new file system, the layout's files, then the start;
	 * the worker answers with progress and one IMSG_PULL_DONE.
	 */
	IMSG_PULL_FS,		/* struct pull_fs, fd: the ext4 file, rw */
	IMSG_PULL_BLOB,		/* struct pull_blob, fd: a layout's file */
	IMSG_PULL_START,	/* struct pull_start */
	IMSG_PULL_PROGRESS,	/* struct pull_progress */
	IMSG_PULL_DONE,		/* struct pull_done: the end */
	/*
	 * An image from a registry (image pull): instead of the layout's
	 * files, where to fetch it and a file to keep the blobs in.
	 */
	IMSG_PULL_REGISTRY,	/* struct pull_registry, fd: CA bundle or -1 */
	IMSG_PULL_SCRATCH,	/* fd: an unnamed file for the blobs, rw */
};

/* Worker roles, in the order the parent starts them. */
#define PROC_VM		0
#define PROC_NET	1
#define PROC_UPDATE	2
#define PROC_MAX	3		/* the parent's own workers */
/*
 * The pull worker: no worker of the parent's, but a program of the same
 * kind, started by an image import's child for that import alone.
 */
#define PROC_PULL	3
#define PROC_ROLES	4

struct worker_init {
	uint32_t	wi_proto;		/* BANGER_PROTO_VERSION */
	uint32_t	wi_uid;			/* drop to */
	uint32_t	wi_gid;
	uint32_t	wi_ctlgid;		/* control socket group */
	int32_t		wi_verbose;
	char		wi_role[PROTO_NAME_MAX];
	char		wi_chroot[PROTO_PATH_MAX];
	char		wi_ctlgroup[PROTO_NAME_MAX * 2 + 1];
	uint32_t	wi_bridge_addr;		/* network byte order */
	int32_t		wi_bridge_prefix;
	char		wi_domain[PROTO_DOMAIN_MAX];
	char		wi_pad[2];
	int32_t		wi_max_vms;		/* max-vms: limits follow */
	uint32_t	wi_nofile;		/* its RLIMIT_NOFILE */
	char		wi_version[PROTO_VERSION_MAX];	/* the parent's */
	uint32_t	wi_flags;		/* WI_F_* */
};
/* The pull worker of an image pull: its seccomp list lets it connect. */
#define WI_F_NET		0x01

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

/*
 * res_error of a vm stop or restart that got there only by killing a
 * guest that did not shut down (Firecracker refused Ctrl-Alt-Del, or the
 * guest did not act on it): not an errno; bangerctl exits 2.
 */
#define RES_KILLED		(-2)

#define PROTO_VMID_MAX		16	/* 8 hex digits, NUL-padded */
#define PROTO_AUTHKEYS_MAX	8192	/* authorized_keys text */
#define PROTO_HOSTKEY_MAX	384	/* "ssh-ed25519 AAAA... comment" */
#define PROTO_VMNAME_MAX	64
/*
 * A VM's identity drive: "banger-identity 1\n" and "KEY VALUE\n" lines
 * (printable ASCII), NUL-padded to IDENTITY_DRIVE_SIZE in the jail.
 */
#define PROTO_IDENTITY_MAX	2048
#define IDENTITY_DRIVE_SIZE	4096
#define IDENTITY_MAGIC		"banger-identity 1\n"

/* A published port: HOST[:PORT] on the host to PORT on the VM. */
#define PROTO_PUBLISH_MAX	16
struct proto_publish {
	uint8_t		pp_proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		pp_pad[3];
	uint32_t	pp_host_addr;		/* network order, 0 = any */
	uint16_t	pp_host_port;
	uint16_t	pp_guest_port;
};

struct vmop_id {
	char		vo_id[PROTO_VMID_MAX];
};

struct vmop_create {
	char		vc_id[PROTO_VMID_MAX];
	char		vc_name[PROTO_VMNAME_MAX];	/* its DNS name too */
	char		vc_image[PROTO_VMNAME_MAX];
	uint64_t	vc_disk_size;		/* bytes; 0 = the image's */
	uint32_t	vc_owner;		/* the user it is made for */
	uint32_t	vc_flags;		/* VC_F_* */
	char		vc_from_id[PROTO_VMID_MAX];	/* a clone: of VM's */
	char		vc_from_snap[PROTO_VMNAME_MAX];	/* snapshot; "" */
};
#define VC_F_DISK_AT_LEAST	0x01	/* a default: the image's if larger */

struct vmop_start {
	char		vs_id[PROTO_VMID_MAX];
	uint32_t	vs_cpus;
	uint32_t	vs_flags;		/* VS_F_* */
	uint64_t	vs_memory;		/* MiB */
	uint32_t	vs_npublish;
	struct proto_publish vs_publish[PROTO_PUBLISH_MAX];
	char		vs_snap[PROTO_VMNAME_MAX];	/* VS_F_RESTORE */
	char		vs_identity[PROTO_IDENTITY_MAX]; /* its identity drive */
};
#define VS_F_RESTORE	0x01	/* from snapshot vs_snap: its files linked in */

struct vmop_signal {
	char		vg_id[PROTO_VMID_MAX];
	int32_t		vg_signal;		/* SIGTERM or SIGKILL */
};

/*
 * The parent's states of a VM: what may exist of it on the host.  Only
 * CREATED and RUNNING outlast one turn of the parent's event loop (or,
 * for CREATING, the net worker's answer); a record found in another at
 * start was cut short by a crash and is finished or undone.
 */
#define VMOP_CREATED	1	/* address, disk and tap; no process */
#define VMOP_RUNNING	2	/* and its Firecracker (pid, start time) */
#define VMOP_CREATING	3	/* address, disk, tap being made */
#define VMOP_STARTING	4	/* a jail, cgroup and process may exist */
#define VMOP_DESTROYING	5	/* everything of it being removed */

/* vr_flags */
#define VR_F_ENDED	0x01	/* its Firecracker ended: vr_exit_* say when */

struct vmop_result {
	char		vr_id[PROTO_VMID_MAX];
	uint32_t	vr_op;			/* the request's type */
	int32_t		vr_error;		/* 0, or an errno */
	char		vr_msg[PROTO_MSG_MAX];
	int32_t		vr_state;		/* VMOP_* */
	int32_t		vr_pid;
	uint32_t	vr_uid;			/* the VM's own uid/gid */
	char		vr_tap[PROTO_IFNAME_MAX];
	char		vr_image[PROTO_VMNAME_MAX];
	char		vr_backend[PROTO_NAME_MAX];
	char		vr_kernel[PROTO_PATH_MAX];	/* inside the jail */
	char		vr_initrd[PROTO_PATH_MAX];	/* "" if none */
	char		vr_disk[PROTO_PATH_MAX];	/* inside the jail */
	char		vr_bootargs[PROTO_BOOTARGS_MAX]; /* the image's */
	char		vr_socket[PROTO_PATH_MAX];	/* in the worker's root */
	uint64_t	vr_disk_size;
	/* the parent's record: who and what the VM is, and its address */
	char		vr_name[PROTO_VMNAME_MAX];
	uint32_t	vr_owner;
	uint32_t	vr_cpus;		/* at its last start, or 0 */
	uint64_t	vr_memory;		/* MiB, likewise */
	uint32_t	vr_addr;		/* network order */
	int32_t		vr_prefix;
	uint32_t	vr_gateway;		/* the bridge */
	uint32_t	vr_flags;		/* VR_F_* */
	char		vr_mac[24];
	char		vr_domain[PROTO_DOMAIN_MAX];
	char		vr_pad[2];
	int64_t		vr_exit_time;		/* unix time, VR_F_ENDED */
	int32_t		vr_exit_status;		/* wait status, -1 unknown */
	int32_t		vr_pad2;
};

struct vm_defaults {
	uint32_t	vd_cpus;
	uint32_t	vd_max_vms;		/* max-vms */
	uint64_t	vd_memory;		/* MiB */
	uint64_t	vd_disk;		/* bytes */
};

struct net_vm {
	char		nv_id[PROTO_VMID_MAX];
	char		nv_name[PROTO_VMNAME_MAX];
	uint32_t	nv_addr;		/* network order; 0: choose one */
};

/* The net worker's answer to IMSG_NET_ALLOC (for nv_addr 0 only). */
struct net_addr {
	char		na_id[PROTO_VMID_MAX];
	int32_t		na_error;		/* 0, or an errno */
	char		na_msg[PROTO_MSG_MAX];
	uint32_t	na_addr;		/* network byte order */
};

struct vmop_exited {
	char		ve_id[PROTO_VMID_MAX];
	int32_t		ve_status;		/* wait status, -1 unknown */
};

/* bangerctl's VM commands */
struct ctl_vm_create {
	char		cc_name[PROTO_VMNAME_MAX];
	char		cc_image[PROTO_VMNAME_MAX];
	uint32_t	cc_cpus;		/* 0 = the default */
	uint32_t	cc_flags;		/* CTL_VM_F_* */
	uint64_t	cc_memory;		/* MiB, 0 = the default */
	uint64_t	cc_disk;		/* bytes, 0 = the default */
	uint32_t	cc_npublish;
	struct proto_publish cc_publish[PROTO_PUBLISH_MAX];
	char		cc_authkeys[PROTO_AUTHKEYS_MAX];	/* for root */
	char		cc_sshkey[PROTO_PATH_MAX];	/* --ssh-key, absolute */
	char		cc_from_vm[PROTO_VMNAME_MAX];	/* --from-snapshot */
	char		cc_from_snap[PROTO_VMNAME_MAX];	/* VM/SNAP, or "" */
};

#define CTL_VM_START	1
#define CTL_VM_STOP	2
#define CTL_VM_KILL	3
#define CTL_VM_RESTART	4
#define CTL_VM_RM	5
#define CTL_VM_SHOW	6
#define CTL_VM_PRUNE	7	/* no name: every stopped VM of the caller */
#define CTL_VM_PAUSE	8
#define CTL_VM_RESUME	9
#define CTL_VM_WAIT	10

#define CTL_VM_F_START	0x01	/* create: and start */
#define CTL_VM_F_FORCE	0x02	/* stop: kill at once; rm: even running */

struct ctl_vm {
	char		cv_name[PROTO_VMNAME_MAX];
	int32_t		cv_action;		/* CTL_VM_* */
	uint32_t	cv_flags;
	int32_t		cv_timeout;		/* seconds, 0 = the default */
	char		cv_state[PROTO_NAME_MAX];	/* wait: for this */
};

struct vm_info {
	char		vi_id[PROTO_VMID_MAX];
	char		vi_name[PROTO_VMNAME_MAX];
	char		vi_image[PROTO_VMNAME_MAX];
	char		vi_state[PROTO_NAME_MAX];
	char		vi_error[PROTO_MSG_MAX];
	uint32_t	vi_owner;
	uint32_t	vi_uid;			/* its Firecracker's */
	uint32_t	vi_cpus;
	int32_t		vi_pid;
	uint64_t	vi_memory;		/* MiB */
	uint64_t	vi_disk;		/* bytes */
	char		vi_tap[PROTO_IFNAME_MAX];
	char		vi_mac[24];
	char		vi_addr[16];		/* dotted quad, "" if none */
	char		vi_fqdn[PROTO_DOMAIN_MAX];
	char		vi_backend[PROTO_NAME_MAX];
	int64_t		vi_created;
	int64_t		vi_started;
	uint32_t	vi_npublish;
	struct proto_publish vi_publish[PROTO_PUBLISH_MAX];
	char		vi_hostkey[PROTO_HOSTKEY_MAX];	/* its SSH host key */
	char		vi_sshkey[PROTO_PATH_MAX];	/* --ssh-key, "" if none */
	char		vi_vmm_version[32];	/* Firecracker's GET /, at start */
	char		vi_vmm_state[16];	/* "" unless running or paused */
	char		vi_clone_of[2 * PROTO_VMNAME_MAX]; /* VM/SNAP, or "" */
};

#define WORKER_STARTING		0	/* forked, not yet sandboxed */
#define WORKER_RUNNING		1
#define WORKER_RESTARTING	2	/* dead, waiting out its backoff */
#define WORKER_IDLE		3	/* not running: started when needed */

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
	int32_t		sd_nat;			/* our nftables table is set */
	int32_t		sd_resolver;		/* resolver routing is set */
	uint32_t	sd_vm_uid_min;
	uint32_t	sd_vm_uid_max;
	int32_t		sd_def_cpus;
	uint64_t	sd_def_memory;		/* MiB */
	uint64_t	sd_def_disk;		/* bytes */
	uint32_t	sd_nimages;
	char		sd_cgroup_mode[PROTO_NAME_MAX];	/* delegated, mount, none */
	char		sd_cgroup[PROTO_PATH_MAX];	/* VMs' group, "" if none */
	char		sd_cgroup_why[PROTO_MSG_MAX];
};

/*
 * Images.  An import sends each file as an open fd, one message each
 * (kernel, optional initrd, rootfs), then the import itself; the path
 * travels only for messages.  The parent copies them into
 * STATE/images/NAME and reports the bytes copied as it goes.
 */
#define IMAGE_KERNEL	0
#define IMAGE_INITRD	1
#define IMAGE_ROOTFS	2
#define IMAGE_NFILES	3
/*
 * A file of an OCI image layout (--oci-layout): its path in the layout,
 * "index.json" or "blobs/sha256/HEX" (valid_oci_name()), or image
 * build's one "layer.tar"; at most OCI_FILES_MAX of them, instead of a
 * rootfs.
 */
#define IMAGE_OCI	3
#define OCI_FILES_MAX	128

struct ctl_image_file {
	uint32_t	cf_kind;		/* IMAGE_* */
	char		cf_path[PROTO_PATH_MAX];	/* as the user gave it */
};

#define IMAGE_F_BOOTARGS	0x01	/* boot args given (even empty) */
#define IMAGE_F_OCI		0x02	/* the rootfs from the OCI files */
#define IMAGE_F_PULL		0x04	/* the rootfs from ci_ref's registry */
#define IMAGE_F_ALL		0x07
#define PROTO_REF_MAX		512	/* an image reference, with NUL */
#define OCI_SIZE_MIN		(16ULL << 20)	/* --size */
#define OCI_SIZE_MAX		(1ULL << 40)
#define OCI_SIZE_DEFAULT	(2ULL << 30)

struct ctl_image_import {
	char		ci_name[PROTO_VMNAME_MAX];
	char		ci_kernel_from[PROTO_VMNAME_MAX];	/* "" if none */
	char		ci_bootargs[PROTO_BOOTARGS_MAX];
	uint32_t	ci_flags;		/* IMAGE_F_* */
	uint32_t	ci_pad;
	uint64_t	ci_size;		/* IMAGE_F_OCI: the file system */
	char		ci_ref[PROTO_REF_MAX];	/* IMAGE_F_PULL: imgref.h */
};

#define CTL_IMAGE_LS	1
#define CTL_IMAGE_SHOW	2
#define CTL_IMAGE_RM	3

struct ctl_image {
	char		cm_name[PROTO_VMNAME_MAX];	/* "" for ls */
	int32_t		cm_action;		/* CTL_IMAGE_* */
};

struct imgop_file {
	uint32_t	if_kind;		/* IMAGE_* */
	char		if_path[PROTO_PATH_MAX];
};

struct imgop_import {
	struct ctl_audit ii_audit;
	struct ctl_image_import ii_req;
};

struct imgop_query {
	struct ctl_audit iq_audit;
	struct ctl_image iq_req;
};

struct image_progress {
	uint64_t	ip_done;		/* bytes copied so far */
	uint64_t	ip_total;
};

#define IMAGE_SRC_STORE		1	/* imported into STATE/images */
#define IMAGE_SRC_CONFIG	2	/* declared in bangerd.conf */

struct image_info {
	char		im_name[PROTO_VMNAME_MAX];
	int32_t		im_source;		/* IMAGE_SRC_* */
	uint32_t	im_nvms;		/* VMs made from it, all users */
	char		im_kernel[PROTO_PATH_MAX];
	char		im_initrd[PROTO_PATH_MAX];	/* "" if none */
	char		im_rootfs[PROTO_PATH_MAX];
	char		im_bootargs[PROTO_BOOTARGS_MAX];
	int64_t		im_kernel_size;		/* -1: missing */
	int64_t		im_initrd_size;
	int64_t		im_rootfs_size;
	int64_t		im_rootfs_alloc;	/* bytes allocated on disk */
	int64_t		im_created;		/* unix time, 0 unknown */
	uint32_t	im_nhidden;		/* of im_nvms, other users' */
	char		im_vms[PROTO_MSG_MAX];	/* names, space-separated */
	char		im_origin[PROTO_REF_MAX];	/* a pull's reference */
	char		im_digest[80];		/* its manifest's, or "" */
};

/* Self-update (banger-manifest(5)). */
#define PROTO_URL_MAX		1024	/* = UPD_URL_MAX */

#define CTL_UPDATE_CHECK	1	/* what is available; nothing changes */
#define CTL_UPDATE_APPLY	2	/* fetch, verify, install, re-exec */
#define CTL_UPDATE_ROLLBACK	3	/* the previous binaries, re-exec */

struct ctl_update {
	int32_t		cu_action;		/* CTL_UPDATE_* */
};

struct update_req {
	struct ctl_audit ur_audit;
	int32_t		ur_action;		/* CTL_UPDATE_* */
};

struct update_info {
	int32_t		ui_available;		/* a newer release */
	int32_t		ui_pad;
	char		ui_running[PROTO_VERSION_MAX];
	char		ui_installed[PROTO_VERSION_MAX]; /* highest, or "" */
	char		ui_version[PROTO_VERSION_MAX];	/* "" if none */
	char		ui_arch[16];
	char		ui_url[PROTO_URL_MAX];		/* the artifact */
	char		ui_sha256[65];			/* hex */
	char		ui_pad2[7];
	uint64_t	ui_length;
	int64_t		ui_released;			/* unix time */
	int64_t		ui_expires;
	char		ui_msg[PROTO_MSG_MAX];
};

struct update_progress {
	uint64_t	up_done;		/* bytes */
	uint64_t	up_total;
};

struct upd_fetch_req {
	int32_t		uq_action;		/* CTL_UPDATE_CHECK or _APPLY */
	int32_t		uq_allow_http;
	int64_t		uq_now;			/* unix time */
	char		uq_url[PROTO_URL_MAX];	/* manifest.json */
	char		uq_resolve[512];	/* upd_resolve()'s entry */
	char		uq_running[PROTO_VERSION_MAX];
	char		uq_installed[PROTO_VERSION_MAX]; /* "" if none */
};

/* The worker's view of the chosen release; the parent checks it again. */
struct upd_checked {
	char		uc_version[PROTO_VERSION_MAX];
	char		uc_arch[16];
	char		uc_url[PROTO_URL_MAX];
	uint64_t	uc_length;
	uint8_t		uc_sha256[32];
	int64_t		uc_released;
	int64_t		uc_expires;
	uint64_t	uc_manifest_len;	/* the fd: manifest, then sig */
	uint64_t	uc_sig_len;
};

/* The pull worker's messages (pull/pull.c). */
struct pull_fs {
	uint64_t	pf_size;		/* the file's size, bytes */
};

struct pull_blob {
	char		pb_name[PROTO_PATH_MAX];	/* valid_oci_name() */
};

struct pull_start {
	char		ps_arch[16];		/* "amd64" or "arm64" */
	uint64_t	ps_entries_max;		/* each layer's */
	uint64_t	ps_file_max;
	uint64_t	ps_bytes_max;
};

/*
 * Where an image pull fetches from: the registry's API at pr_api
 * (host[:port], https unless pr_insecure), the repository and the tag
 * or digest; the hosts it may reach besides (a token service, a blob
 * store it is redirected to) and curl resolve entries for every name
 * among them, looked up by the parent; the credentials for pr_api, if
 * any, as "user:password"; mirrors to try before pr_api, each also
 * among the hosts.
 */
#define PULL_MIRRORS_MAX	4
#define PULL_HOSTS_MAX		13	/* the API's, its mirrors, 8 more */
#define PULL_RESOLVE_MAX	2048
struct pull_registry {
	char		pr_api[256];
	char		pr_repo[256];
	char		pr_ref[136];		/* a tag or sha256:HEX */
	char		pr_hosts[PULL_HOSTS_MAX][256];	/* pr_api's first */
	char		pr_resolve[PULL_RESOLVE_MAX];	/* entries, '\n' */
	char		pr_auth[512];		/* "" or "user:password" */
	char		pr_mirrors[PULL_MIRRORS_MAX][256];	/* tried first */
	uint32_t	pr_nmirrors;
	uint32_t	pr_pad;
	int32_t		pr_insecure;		/* plain http */
	uint32_t	pr_nhosts;
	uint64_t	pr_blobs_max;		/* the blobs' bytes, summed */
};

struct pull_progress {
	uint32_t	pp_layer;		/* 1..pp_nlayers */
	uint32_t	pp_nlayers;
	uint64_t	pp_done;		/* layer bytes read, all layers */
	uint64_t	pp_total;
};

struct pull_done {
	int32_t		pd_error;		/* 0, or an errno */
	uint32_t	pd_nlayers;
	uint64_t	pd_entries;
	uint64_t	pd_bytes;		/* file bytes written */
	char		pd_digest[80];		/* the manifest's, sha256:HEX */
	char		pd_msg[PROTO_MSG_MAX];
};

struct upd_failed {
	int32_t		uf_code;		/* UPD_E* */
	char		uf_msg[PROTO_MSG_MAX];
};

/*
 * vm logs and vm console.  The console's bytes travel as they are, in
 * messages of 1 to PROTO_CONSOLE_CHUNK bytes (the one variable-length
 * payload): IMSG_CTL_CONSOLE_OUT to every client that follows or is
 * attached, IMSG_CTL_CONSOLE_IN from the one attached client.
 */
#define PROTO_CONSOLE_CHUNK	4096

struct ctl_console {
	char		cs_name[PROTO_VMNAME_MAX];
	uint32_t	cs_flags;		/* CTL_CONSOLE_F_* */
};
#define CTL_CONSOLE_F_FOLLOW	0x01	/* logs: then what comes after */

/* A console log file: its first lf_size bytes are the history asked for. */
struct ctl_logfd {
	uint64_t	lf_size;
};

/*
 * Snapshots of a running VM: its memory, its VMM's state and its disk,
 * taken while it is paused.  Firecracker writes the first two inside
 * its jail (SNAP_JAIL_STATE, SNAP_JAIL_MEM, as seen from inside it).
 */
#define PROTO_SNAP_MAX		16	/* snapshots of one VM at most */
#define SNAP_JAIL_STATE		"/run/snapshot.vmstate"
#define SNAP_JAIL_MEM		"/run/snapshot.mem"
/* A snapshot a VM is restored from, linked into its jail. */
#define RESTORE_JAIL_STATE	"/snapshot.vmstate"
#define RESTORE_JAIL_MEM	"/snapshot.mem"

#define CTL_SNAP_CREATE		1
#define CTL_SNAP_LS		2
#define CTL_SNAP_RM		3
#define CTL_SNAP_RESTORE	4	/* vm restore NAME SNAP */

struct ctl_snap {
	char		cs_vm[PROTO_VMNAME_MAX];
	char		cs_snap[PROTO_VMNAME_MAX];	/* "" = a new name */
	int32_t		cs_action;		/* CTL_SNAP_* */
	uint32_t	cs_flags;
};

struct vmop_snap {
	char		sn_id[PROTO_VMID_MAX];
	char		sn_snap[PROTO_VMNAME_MAX];
	uint32_t	sn_flags;		/* SN_F_* */
	uint32_t	sn_pad;
};
#define SN_F_FAILED	0x01	/* END: the VMM wrote nothing to take */
#define SN_F_CHECK	0x02	/* RESTORE: only whether it could be */

/* How far a snapshot's (or a restore's) disk copy is (parent -> vm). */
struct vmop_progress {
	char		vp_id[PROTO_VMID_MAX];
	uint64_t	vp_done;		/* bytes */
	uint64_t	vp_total;
};

struct snap_info {
	char		si_vm[PROTO_VMNAME_MAX];
	char		si_snap[PROTO_VMNAME_MAX];
	char		si_state[PROTO_NAME_MAX];	/* ready, creating, ... */
	char		si_disk_how[PROTO_NAME_MAX];	/* reflink, copy */
	int64_t		si_created;		/* unix time */
	uint64_t	si_memory;		/* bytes of the memory file */
	uint64_t	si_vmstate;		/* bytes of the VMM's state */
	uint64_t	si_disk;		/* bytes of the disk */
	uint64_t	si_disk_alloc;		/* of them on the host's disk */
	uint64_t	si_ms;			/* taken: the VM paused so long */
};

#endif /* BANGER_PROTO_H */

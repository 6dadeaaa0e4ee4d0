/*
 * The jail each VM's Firecracker runs in, and the Firecracker process
 * itself: checking the binary, building the jail, spawning into it,
 * signalling, adopting after a restart and cleaning up.  The root
 * parent calls these; each re-validates what it is given.
 *
 * jail.c builds the jail, jailspawn.c starts Firecracker in it (and
 * makes and removes its cgroup), fcproc.c handles the running process,
 * jailclean.c removes the jail; jailpath.c holds the path checks and
 * the O_NOFOLLOW walk all of them use.
 *
 * Layout (Firecracker's jailer's, so either may run the VM):
 *
 *	STATE/jail/				root 0711
 *	STATE/jail/firecracker/			root 0711
 *	STATE/jail/firecracker/VMID/		root 0711
 *	STATE/jail/firecracker/VMID/root/	root 0711, the VM's "/"
 *	    dev/kvm dev/net/tun dev/urandom	the VM's uid:gid 0600
 *	    run/				the VM's uid:gid 0711
 *	    run/firecracker.socket		the API socket
 *	    run/firecracker.log			FIFOs: the VM's uid, group
 *	    run/firecracker.metrics		_banger, 0640 (jail_fifos)
 *	    vmlinux initrd rootfs		kernel, initrd, disk
 */
#ifndef BANGER_JAIL_H
#define BANGER_JAIL_H

#include <sys/types.h>
#include <sys/stat.h>

#include <limits.h>
#include <stdint.h>

#include "fcjail.h"
#include "validate.h"
#include "proto.h"

#define JAIL_DIR	"jail"
#define JAIL_EXEC_NAME	"firecracker"	/* the jailer's <exec_file_name> */
#define JAIL_ROOT	"root"
#define JAIL_KERNEL	"vmlinux"	/* names in the jail root */
#define JAIL_INITRD	"initrd"
#define JAIL_DISK	"rootfs"
#define JAIL_CG_PARENT	"banger"	/* CGROOT/banger/VMID undelegated */

#define JAIL_ARGV0	"firecracker"	/* argv[0] as banger runs it */
#define JAILER_ARGV0	"/firecracker"	/* as the jailer runs it */

#define JAIL_NOFILE	2048		/* RLIMIT_NOFILE, as the jailer's */
#define JAIL_MEM_EXTRA	64		/* memory.max: MiB above the guest's */
#define JAIL_PIDS_BASE	32		/* pids.max: this plus the vcpus */
#define JAIL_CPUS_MAX	32
#define JAIL_MEMORY_MAX	(1024 * 1024)	/* MiB */

/*
 * For the jail's own files: open_dir_at() and walk_dir() flags, and
 * names and limits more than one of them uses.
 */
#define WALK_SECURE	0x01	/* root-owned, not writable by others */
#define WALK_QUIET	0x02	/* ENOENT is not worth a message */

#define API_SOCK_NAME	"firecracker.socket"
#define UMOUNT_ROUNDS	16
#define PROCFD_LEN	32

/* js_flags */
#define JAIL_F_DISK_RO		0x01	/* the disk is read-only */
#define JAIL_F_CGROUP_PARTIAL	0x02	/* skip a limit with no controller */

struct jail_spec {
	char		js_statedir[PATH_MAX];
	char		js_vmid[VM_ID_LEN + 1];
	uid_t		js_uid;			/* the VM's own */
	gid_t		js_gid;
	uid_t		js_uid_min;		/* the configured range */
	uid_t		js_uid_max;
	char		js_kernel[PATH_MAX];
	char		js_initrd[PATH_MAX];	/* "" if none */
	char		js_disk[PATH_MAX];	/* STATE file, dm or loop */
	char		js_jailer[PATH_MAX];	/* "" = banger's own jail */
	char		js_firecracker[PATH_MAX]; /* jailer --exec-file */
	char		js_cgroot[PATH_MAX];	/* cgroup2 mount, "" = none */
	char		js_cgparent[PATH_MAX];	/* VMs' group, below js_cgroot */
	char		js_cgmark[PATH_MAX];	/* "" or trusted.banger's value */
	int		js_cpus;
	uint64_t	js_memory;		/* MiB */
	uint64_t	js_nofile;		/* 0 = JAIL_NOFILE */
	int		js_flags;		/* JAIL_F_* */
	char		js_identity[PROTO_IDENTITY_MAX]; /* "" = none */
};

struct fc_proc {
	pid_t			fp_pid;		/* in our pid namespace */
	int			fp_pidfd;
	unsigned long long	fp_starttime;	/* proc_starttime() */
	int			fp_ptyfd;	/* console master or -1 */
	char			fp_vmid[VM_ID_LEN + 1];
	void			*fp_spawnmem;	/* the spawning child's, until
						   fc_spawn_done() */
};

/* jail.c */
int	spec_check(const struct jail_spec *, char *, size_t);
int	jail_base(const char *, const char *, int);
int	jail_subdir(const char *, int, const char *, const char *, mode_t,
	    uid_t, gid_t);
int	entry_clear(const char *, int, const char *, const char *);
int	fc_exec_check(const char *, int *);
int	jail_prepare(const struct jail_spec *);
int	jailer_clear(const char *, int, const char *);
int	fc_socket_grant(const char *, const char *, gid_t);
int	jail_fifos(const char *, const char *, uid_t, gid_t);

/* jailpath.c */
int	path_clean(const char *, const char **);
int	path_split(const char *, char *, const char **, const char **);
int	pathf(char *, const char *, ...)
	    __attribute__((__format__ (printf, 2, 3)));
int	statedir_check(const char *, const char **);
int	statedir_arg(const char *, const char *);
int	vm_ctx(const char *, const char *, char *, size_t);
int	cgparent_check(const char *, const char *, const char **);
int	string_in(const char *, size_t);
void	procfd_path(char *, size_t, int);
int	fd_chmod(int, mode_t);
int	fd_own(int, uid_t, gid_t, mode_t);
int	is_mount_root(int);
int	open_dir_at(const char *, int, const char *, const char *, int);
int	walk_dir(const char *, const char *, int);
int	walk_hold(const char *, const char *);
int	open_file(const char *, const char *, struct stat *);
int	read_at(int, const char *, char *, size_t);
int	write_at(int, const char *, const char *);
int	read_path(const char *, char *, size_t);

/* jailspawn.c */
void	fc_spawn_init(void);
int	fc_spawn(const struct jail_spec *, int, struct fc_proc *);
int	fc_spawn_start(const struct jail_spec *, int, struct fc_proc *, int *);
int	fc_spawn_done(struct fc_proc *, int);
int	fc_cgroup_remove(const char *, const char *, const char *);

/* fcproc.c */
int	fc_signal(struct fc_proc *, int);
int	fc_wait(struct fc_proc *, int, int *);
int	fc_stop(struct fc_proc *, int, int *);
void	fc_close(struct fc_proc *);
int	fc_adopt(const char *, const char *, pid_t, unsigned long long,
	    int *);

/* jailclean.c */
int	jail_cleanup(const char *, const char *);
int	tree_remove(const char *, int, const char *, const char *);

#endif /* BANGER_JAIL_H */

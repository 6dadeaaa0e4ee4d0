/*
 * Firecracker started in the jail jail.c built: the VM's cgroup made
 * and limited (and removed, fc_cgroup_remove), a pty for its console,
 * clone3() into new mount, pid and ipc namespaces and the cgroup, and
 * the child's steps to the exec.  fcproc.c handles the process after.
 *
 * The child between clone3() and exec calls only system calls: no
 * allocation, no stdio, no logging.  It reports a failure as a step
 * number and errno on a close-on-exec pipe; end of file there means
 * the exec happened.
 *
 * On x86_64 the child shares the parent's memory (CLONE_VM) until its
 * exec, on a stack of its own, as posix_spawn's child does: a copy of
 * the parent's address space, then a copy-on-write fault and a TLB
 * flush on both CPUs for each page the parent writes before the exec,
 * cost more than all the child's own steps.  So the child calls the
 * kernel directly (spawn_sys: glibc's wrappers would set the parent's
 * errno), starts with every signal blocked (no handler of the parent's
 * can run in it), reads only its spawn_mem, which the parent leaves
 * alone and unmaps only once the child has executed or exited
 * (fc_spawn_done), and writes only its own stack.  Elsewhere the child
 * has a copy of the parent's memory, as before.
 *
 * Its descriptors likewise: a child with a copy of the parent's table
 * (two descriptors a VM: its pidfd and pty) would copy thousands of
 * entries at thousands of VMs, and close them all again at its exec.
 * So the child shares the parent's table (CLONE_FILES), and its first
 * step takes a table of its own with only the lowest descriptors in
 * it: close_range(CLOSE_RANGE_UNSHARE) copies those below the range.
 * The three it needs (pty, error pipe, binary) are put in three slots
 * the parent holds open from its start (fc_spawn_init), low in its
 * table, and the parent waits for that first step before it uses the
 * slots again.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <linux/magic.h>
#include <linux/sched.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "jail.h"
#include "log.h"
#include "validate.h"

#define SPAWN_ARGV_MAX	40
#define CG_RMDIR_TRIES	100	/* 10 ms apart */
#define MIB		(1 << 20)

/* The child's steps, for the parent's message when one fails. */
enum spawn_step {
	ST_SETSID,
	ST_STDIO,
	ST_CLOSE,
	ST_RLIMIT,
	ST_MOUNT_PRIVATE,
	ST_BIND_ROOT,
	ST_CHDIR_ROOT,
	ST_PIVOT,
	ST_DETACH_OLD,
	ST_CAPS,
	ST_SETGROUPS,
	ST_SETGID,
	ST_SETUID,
	ST_NNP,
	ST_EXEC,
	ST_MAX
};

static const char *const spawn_steps[ST_MAX] = {
	[ST_SETSID] = "setsid",
	[ST_STDIO] = "console on stdin/out/err",
	[ST_CLOSE] = "closing fds",
	[ST_RLIMIT] = "setrlimit",
	[ST_MOUNT_PRIVATE] = "making mounts private",
	[ST_BIND_ROOT] = "bind-mounting the jail root",
	[ST_CHDIR_ROOT] = "chdir to the jail root",
	[ST_PIVOT] = "pivot_root",
	[ST_DETACH_OLD] = "detaching the old root",
	[ST_CAPS] = "dropping capabilities",
	[ST_SETGROUPS] = "setgroups",
	[ST_SETGID] = "setresgid",
	[ST_SETUID] = "setresuid",
	[ST_NNP] = "no_new_privs",
	[ST_EXEC] = "exec",
};

struct spawn_report {
	int	sr_step;
	int	sr_errno;
};

/* Everything the child needs, computed by the parent. */
struct spawn_args {
	int		 sa_exefd;
	int		 sa_slave;
	int		 sa_errfd;
	/*
	 * sa_keep: the child shares the parent's table and keeps the
	 * descriptors below this one (0: a copy of the table of its own);
	 * sa_unshared: set by the child once it has its own table.
	 */
	int		 sa_keep;
	int		 sa_unshared;
	int		 sa_jailer;
	uid_t		 sa_uid;
	gid_t		 sa_gid;
	rlim_t		 sa_nofile;
	rlim_t		 sa_fsize;
	char		 sa_root[PATH_MAX];
	char		*sa_argv[SPAWN_ARGV_MAX];
	char		*sa_envp[1];
};

/* The jailer's arguments that are not constants. */
struct jailer_strs {
	char	jst_uid[16];
	char	jst_gid[16];
	char	jst_base[PATH_MAX];
	char	jst_cpu[64];
	char	jst_mem[64];
	char	jst_pids[64];
	char	jst_nofile[64];
	char	jst_fsize[64];
};

/*
 * The child's memory, one mapping: a guard page, its stack, then all
 * it reads, the strings its argv points to included.
 */
struct spawn_mem {
	struct spawn_args	sm_sa;
	struct jailer_strs	sm_jstr;
	char			sm_vmid[VM_ID_LEN + 1];
	char			sm_exec[PATH_MAX];
	char			sm_cgparent[PATH_MAX];
};
#define SPAWN_STACK	(64 * 1024)
#define SPAWN_GUARD	4096
#define SPAWN_MAPLEN	(SPAWN_GUARD + SPAWN_STACK + sizeof(struct spawn_mem))
/*
 * Mappings no child runs on any more, kept for the next spawns: a new
 * one would fault its pages in again (in memory the child shares with
 * the parent, so with a TLB flush on every CPU that runs it), and its
 * unmapping flush them all.
 */
#define SPAWN_KEEP	4
static char	*spawn_kept[SPAWN_KEEP];
static int	 spawn_nkept;

#if defined(__x86_64__)
#define SPAWN_SHARED_VM	1
/* A system call for the child: -errno on failure, errno untouched. */
static inline __attribute__((__always_inline__)) long
spawn_sys(long n, long a, long b, long c, long d, long e)
{
	register long	 r10 __asm__("r10") = d;
	register long	 r8 __asm__("r8") = e;
	long		 ret;

	__asm__ volatile ("syscall"
	    : "=a" (ret)
	    : "0" (n), "D" (a), "S" (b), "d" (c), "r" (r10), "r" (r8)
	    : "rcx", "r11", "memory");
	return ret;
}
#else
#define SPAWN_SHARED_VM	0
static long
spawn_sys(long n, long a, long b, long c, long d, long e)
{
	long	 ret;

	if ((ret = syscall(n, a, b, c, d, e)) == -1)
		return -errno;
	return ret;
}
#endif
#define SYS0(n)			spawn_sys((n), 0, 0, 0, 0, 0)
#define SYS1(n, a)		spawn_sys((n), (long)(a), 0, 0, 0, 0)
#define SYS2(n, a, b)		spawn_sys((n), (long)(a), (long)(b), 0, 0, 0)
#define SYS3(n, a, b, c)	spawn_sys((n), (long)(a), (long)(b), \
				    (long)(c), 0, 0)
#define SYS4(n, a, b, c, d)	spawn_sys((n), (long)(a), (long)(b), \
				    (long)(c), (long)(d), 0)
#define SYS5(n, a, b, c, d, e)	spawn_sys((n), (long)(a), (long)(b), \
				    (long)(c), (long)(d), (long)(e))

static const char *const cg_controllers[] = { "cpu", "memory", "pids" };
#define CG_NCTRL	(sizeof(cg_controllers) / sizeof(cg_controllers[0]))

static int	word_in(const char *, const char *);
static int	cgroup_root(const char *, const char *, int);
static int	cgroup_enable(const char *, int, const char *, int *, int);
static int	cgroup_setup(const char *, const struct jail_spec *, int, int *,
		    int *);
static int	pty_open(const char *, int *, int *);
static int	fd_above_stdio(int *);
static long	spawn_clone(struct clone_args *, struct spawn_args *);
static void	spawn_fail(const struct spawn_args *, int, long)
		    __attribute__((__noreturn__));
static void	spawn_child(struct spawn_args *)
		    __attribute__((__noreturn__));

/* word is one of the space-separated words in list. */
static int
word_in(const char *list, const char *word)
{
	size_t	 wlen = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\n')
			p++;
		if (strncmp(p, word, wlen) == 0 && (p[wlen] == ' ' ||
		    p[wlen] == '\n' || p[wlen] == '\0'))
			return 1;
		while (*p != '\0' && *p != ' ' && *p != '\n')
			p++;
	}
	return 0;
}

/* A directory of the cgroup2 hierarchy, opened; anything else is refused. */
static int
cgroup_root(const char *ctx, const char *cgroot, int flags)
{
	struct statfs	 sfs;
	int		 fd;

	if ((fd = walk_dir(ctx, cgroot, WALK_SECURE | flags)) == -1)
		return -1;
	if (fstatfs(fd, &sfs) == -1) {
		log_warn("%s: cgroup root %s", ctx, cgroot);
		close(fd);
		return -1;
	}
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		log_warnx("%s: cgroup root %s: not a cgroup2 mount "
		    "(cgroup v1 or a hybrid layout?)", ctx, cgroot);
		close(fd);
		errno = ENOTSUP;
		return -1;
	}
	return fd;
}

/*
 * Enable the wanted controllers for dirfd's children.  With partial, a
 * controller that cannot be enabled is dropped from want, and said.
 */
static int
cgroup_enable(const char *ctx, int dirfd, const char *shown, int *want,
    int partial)
{
	char	 buf[512], op[32];
	size_t	 i;

	if (read_at(dirfd, "cgroup.subtree_control", buf, sizeof(buf)) ==
	    -1) {
		log_warn("%s: %s/cgroup.subtree_control", ctx, shown);
		return -1;
	}
	for (i = 0; i < CG_NCTRL; i++) {
		if (!want[i] || word_in(buf, cg_controllers[i]))
			continue;
		(void)snprintf(op, sizeof(op), "+%s", cg_controllers[i]);
		if (write_at(dirfd, "cgroup.subtree_control", op) == -1) {
			if (partial) {
				log_warn("%s: %s/cgroup.subtree_control: %s: "
				    "no %s limit", ctx, shown, op,
				    cg_controllers[i]);
				want[i] = 0;
				continue;
			}
			log_warn("%s: %s/cgroup.subtree_control: %s", ctx,
			    shown, op);
			return -1;
		}
	}
	return 0;
}

/*
 * CGROOT/PARENT/VMID (PARENT is js_cgparent: "banger", or GROUP/vms in
 * a delegated GROUP), opened for CLONE_INTO_CGROUP (the child starts in
 * it: no moment outside).  Controllers are taken from the level above
 * PARENT and enabled there and in PARENT, banger's own levels, never
 * higher.  A controller missing fails the spawn, unless
 * JAIL_F_CGROUP_PARTIAL.  want says which controllers are on; limits
 * says whether to write the VM's limits here (the jailer writes its own).
 */
static int
cgroup_setup(const char *ctx, const struct jail_spec *js, int limits,
    int *want, int *cgfdp)
{
	char		 shown[PATH_MAX], bshown[PATH_MAX], top[PATH_MAX];
	char		 buf[512], val[64];
	const char	*base;
	char		*slash;
	int		 rfd, bfd = -1, vfd = -1, saved_errno;
	int		 created = 0, partial;
	size_t		 i;

	partial = (js->js_flags & JAIL_F_CGROUP_PARTIAL) != 0;
	(void)pathf(bshown, "%s/%s", js->js_cgroot, js->js_cgparent);
	(void)strlcpy(top, bshown, sizeof(top));
	slash = strrchr(top, '/');
	*slash = '\0';
	base = bshown + (slash - top) + 1;
	if ((rfd = cgroup_root(ctx, top, 0)) == -1)
		return -1;
	if (read_at(rfd, "cgroup.controllers", buf, sizeof(buf)) == -1) {
		log_warn("%s: %s/cgroup.controllers", ctx, top);
		goto fail;
	}
	for (i = 0; i < CG_NCTRL; i++) {
		if ((want[i] = word_in(buf, cg_controllers[i])))
			continue;
		if (partial) {
			log_warnx("%s: cgroup2 at %s has no %s controller: "
			    "no %s limit", ctx, top, cg_controllers[i],
			    cg_controllers[i]);
			continue;
		}
		log_warnx("%s: cgroup2 at %s has no %s controller "
		    "(bound to a cgroup v1 hierarchy?)", ctx, top,
		    cg_controllers[i]);
		errno = ENOTSUP;
		goto fail;
	}
	if (cgroup_enable(ctx, rfd, top, want, partial) == -1)
		goto fail;
	if ((bfd = jail_subdir(ctx, rfd, bshown, base, 0755, 0, 0)) == -1)
		goto fail;
	if (cgroup_enable(ctx, bfd, bshown, want, partial) == -1)
		goto fail;

	(void)pathf(shown, "%s/%s", bshown, js->js_vmid);
	if (mkdirat(bfd, js->js_vmid, 0755) == 0)
		created = 1;
	else if (errno != EEXIST) {
		log_warn("%s: mkdir %s", ctx, shown);
		goto fail;
	}
	if ((vfd = open_dir_at(ctx, bfd, shown, js->js_vmid, WALK_SECURE)) ==
	    -1)
		goto fail;
	close(vfd);
	/* CLONE_INTO_CGROUP wants a real directory fd, not O_PATH. */
	if ((vfd = openat(bfd, js->js_vmid, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		log_warn("%s: %s", ctx, shown);
		goto fail;
	}
	/* Whose it is, for the sweep of a bangerd sharing the parent. */
	if (js->js_cgmark[0] != '\0' && fsetxattr(vfd, "trusted.banger",
	    js->js_cgmark, strlen(js->js_cgmark), 0) == -1)
		log_debug("%s: %s: trusted.banger: %s", ctx, shown,
		    strerror(errno));
	if (!created) {
		if (read_at(vfd, "cgroup.procs", buf, sizeof(buf)) == -1) {
			log_warn("%s: %s/cgroup.procs", ctx, shown);
			goto fail;
		}
		if (buf[0] != '\0') {
			log_warnx("%s: cgroup %s still has processes", ctx,
			    shown);
			errno = EBUSY;
			goto fail;
		}
	}
	for (i = 0; limits && i < CG_NCTRL; i++) {
		if (!want[i])
			continue;
		if (strcmp(cg_controllers[i], "cpu") == 0)
			(void)snprintf(val, sizeof(val), "%d 100000",
			    js->js_cpus * 100000);
		else if (strcmp(cg_controllers[i], "memory") == 0)
			(void)snprintf(val, sizeof(val), "%llu",
			    (unsigned long long)(js->js_memory +
			    JAIL_MEM_EXTRA) << 20);
		else
			(void)snprintf(val, sizeof(val), "%d",
			    JAIL_PIDS_BASE + js->js_cpus);
		(void)snprintf(buf, sizeof(buf), "%s.max", cg_controllers[i]);
		if (write_at(vfd, buf, val) == -1) {
			log_warn("%s: %s/%s: %s", ctx, shown, buf, val);
			goto fail;
		}
	}
	close(bfd);
	close(rfd);
	*cgfdp = vfd;
	return 0;
fail:
	saved_errno = errno;
	if (vfd != -1)
		close(vfd);
	if (created)
		(void)unlinkat(bfd, js->js_vmid, AT_REMOVEDIR);
	if (bfd != -1)
		close(bfd);
	close(rfd);
	errno = saved_errno;
	return -1;
}

/* CGROOT/PARENT/VMID, once its processes are gone; missing is fine. */
int
fc_cgroup_remove(const char *cgroot, const char *cgparent, const char *vmid)
{
	char		 ctx[32], shown[PATH_MAX];
	const char	*why;
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	int		 rfd, bfd, i, rv, saved_errno;

	if (vm_ctx("cgroup remove", vmid, ctx, sizeof(ctx)) == -1)
		return -1;
	if (cgroot == NULL || cgroot[0] == '\0')
		return 0;
	if (statedir_check(cgroot, &why) == -1) {
		log_warnx("%s: cgroup root %s: %s", ctx, cgroot, why);
		errno = EINVAL;
		return -1;
	}
	if (cgparent_check(cgroot, cgparent, &why) == -1) {
		log_warnx("%s: cgroup %s: %s", ctx, cgparent == NULL ?
		    "null" : cgparent, why);
		errno = EINVAL;
		return -1;
	}
	if ((rfd = cgroup_root(ctx, cgroot, 0)) == -1)
		return -1;
	close(rfd);
	(void)pathf(shown, "%s/%s", cgroot, cgparent);
	if ((bfd = cgroup_root(ctx, shown, WALK_QUIET)) == -1)
		return errno == ENOENT ? 0 : -1;
	/* An exited task may linger in its cgroup for a moment. */
	for (i = 0; i < CG_RMDIR_TRIES; i++) {
		if ((rv = unlinkat(bfd, vmid, AT_REMOVEDIR)) == 0 ||
		    errno != EBUSY)
			break;
		nanosleep(&ts, NULL);
	}
	saved_errno = errno;
	close(bfd);
	if (rv == -1 && saved_errno != ENOENT) {
		errno = saved_errno;
		log_warn("%s: rmdir %s/%s", ctx, shown, vmid);
		return -1;
	}
	return 0;
}

/* A pty in raw mode: the master for the caller, the slave for the child. */
static int
pty_open(const char *ctx, int *masterp, int *slavep)
{
	struct termios	 tio;
	char		 name[64];
	int		 m, s = -1, saved_errno;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		log_warn("%s: posix_openpt", ctx);
		return -1;
	}
	if (grantpt(m) == -1 || unlockpt(m) == -1 ||
	    ptsname_r(m, name, sizeof(name)) != 0) {
		log_warn("%s: pty", ctx);
		goto fail;
	}
	if ((s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		log_warn("%s: %s", ctx, name);
		goto fail;
	}
	if (tcgetattr(s, &tio) == -1) {
		log_warn("%s: tcgetattr %s", ctx, name);
		goto fail;
	}
	cfmakeraw(&tio);
	if (tcsetattr(s, TCSANOW, &tio) == -1) {
		log_warn("%s: tcsetattr %s", ctx, name);
		goto fail;
	}
	*masterp = m;
	*slavep = s;
	return 0;
fail:
	saved_errno = errno;
	if (s != -1)
		close(s);
	close(m);
	errno = saved_errno;
	return -1;
}

/* Move *fdp above 0-2 (close-on-exec), where the child's dup2s go. */
static int
fd_above_stdio(int *fdp)
{
	int	 fd;

	if (*fdp > 2)
		return 0;
	if ((fd = fcntl(*fdp, F_DUPFD_CLOEXEC, 3)) == -1)
		return -1;
	close(*fdp);
	*fdp = fd;
	return 0;
}

/*
 * clone3(): the child calls spawn_child(sa) on the stack ca names and
 * never returns; the parent gets the pid, or -errno.  With CLONE_VM
 * the child cannot return through glibc's syscall(), whose frame is on
 * the parent's stack, so the call is made here.
 */
static long
spawn_clone(struct clone_args *ca, struct spawn_args *sa)
{
#if SPAWN_SHARED_VM
	register void	(*fn)(struct spawn_args *) __asm__("r12") = spawn_child;
	register struct spawn_args *arg __asm__("r13") = sa;
	long		 ret;

	__asm__ volatile (
	    "syscall\n\t"
	    "testq %%rax, %%rax\n\t"
	    "jnz 1f\n\t"
	    "xorl %%ebp, %%ebp\n\t"
	    "movq %%r13, %%rdi\n\t"
	    "andq $-16, %%rsp\n\t"
	    "callq *%%r12\n\t"
	    "ud2\n"
	    "1:"
	    : "=a" (ret)
	    : "0" ((long)SYS_clone3), "D" (ca), "S" (sizeof(*ca)),
	      "r" (fn), "r" (arg)
	    : "rcx", "r11", "memory");
	return ret;
#else
	long	 pid;

	if ((pid = syscall(SYS_clone3, ca, sizeof(*ca))) == -1)
		return -errno;
	if (pid == 0)
		spawn_child(sa);
	return pid;
#endif
}

/* In the child: report the failed step (r: -errno), end. */
__attribute__((__no_sanitize__("address", "undefined")))
static void
spawn_fail(const struct spawn_args *sa, int step, long r)
{
	struct spawn_report	 sr;

	sr.sr_step = step;
	sr.sr_errno = (int)-r;
	(void)SYS3(SYS_write, sa->sa_errfd, &sr, sizeof(sr));
	for (;;)
		(void)SYS1(SYS_exit_group, 127);
}

/*
 * The signals the child had from the parent, back to their defaults
 * (ignored ones survive exec), then unblocked: the parent blocked them
 * all around clone3().
 */
__attribute__((__no_sanitize__("address", "undefined")))
static void
spawn_signals(void)
{
#if SPAWN_SHARED_VM
	/* The kernel's struct sigaction on x86_64; SIG_DFL needs no more. */
	struct {
		unsigned long	handler;
		unsigned long	flags;
		unsigned long	restorer;
		unsigned long	mask;
	} act = { 0, 0, 0, 0 };
	unsigned long	 none = 0;
	int		 i;

	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			(void)SYS4(SYS_rt_sigaction, i, &act, NULL,
			    sizeof(act.mask));
	(void)SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL,
	    sizeof(none));
#else
	struct sigaction	 act;
	sigset_t		 set;
	int			 i;

	memset(&act, 0, sizeof(act));
	act.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			(void)sigaction(i, &act, NULL);
	sigemptyset(&set);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
#endif
}

/*
 * The child, pid 1 of its own pid namespace, in its own mount and ipc
 * namespaces and already in its cgroup.  System calls only from here
 * on, each through spawn_sys().
 */
__attribute__((__no_sanitize__("address", "undefined")))
static void
spawn_child(struct spawn_args *sa)
{
	struct rlimit	 rl;
	long		 r;
	int		 i;

	if (sa->sa_keep > 0) {
		/* A table of its own, with the slots (fc_spawn_init) in it. */
		r = SYS3(SYS_close_range, sa->sa_keep, ~0U,
		    CLOSE_RANGE_UNSHARE);
		__atomic_store_n(&sa->sa_unshared, 1, __ATOMIC_RELEASE);
		if (r < 0)
			spawn_fail(sa, ST_CLOSE, r);
	}
	if ((r = SYS0(SYS_setsid)) < 0)
		spawn_fail(sa, ST_SETSID, r);
	for (i = 0; i < 3; i++)
		if ((r = SYS3(SYS_dup3, sa->sa_slave, i, 0)) < 0)
			spawn_fail(sa, ST_STDIO, r);
	/* All but 0-2 close at exec, the binary and error pipe included. */
	if ((r = SYS3(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC)) < 0)
		spawn_fail(sa, ST_CLOSE, r);

	spawn_signals();
	(void)SYS1(SYS_umask, 077);

	rl.rlim_cur = rl.rlim_max = sa->sa_nofile;
	if ((r = SYS4(SYS_prlimit64, 0, RLIMIT_NOFILE, &rl, NULL)) < 0)
		spawn_fail(sa, ST_RLIMIT, r);
	rl.rlim_cur = rl.rlim_max = sa->sa_fsize;
	if ((r = SYS4(SYS_prlimit64, 0, RLIMIT_FSIZE, &rl, NULL)) < 0)
		spawn_fail(sa, ST_RLIMIT, r);
	rl.rlim_cur = rl.rlim_max = 0;
	if ((r = SYS4(SYS_prlimit64, 0, RLIMIT_CORE, &rl, NULL)) < 0)
		spawn_fail(sa, ST_RLIMIT, r);

	if (!sa->sa_jailer) {
		if ((r = SYS5(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE,
		    NULL)) < 0)
			spawn_fail(sa, ST_MOUNT_PRIVATE, r);
		/* pivot_root wants a mount point; bring the mounts in it. */
		if ((r = SYS5(SYS_mount, sa->sa_root, sa->sa_root, NULL,
		    MS_BIND | MS_REC, NULL)) < 0)
			spawn_fail(sa, ST_BIND_ROOT, r);
		if ((r = SYS1(SYS_chdir, sa->sa_root)) < 0)
			spawn_fail(sa, ST_CHDIR_ROOT, r);
		if ((r = SYS2(SYS_pivot_root, ".", ".")) < 0)
			spawn_fail(sa, ST_PIVOT, r);
		/* The old root is stacked on "."; detach it. */
		if ((r = SYS2(SYS_umount2, ".", MNT_DETACH)) < 0)
			spawn_fail(sa, ST_DETACH_OLD, r);
		if ((r = SYS1(SYS_chdir, "/")) < 0)
			spawn_fail(sa, ST_CHDIR_ROOT, r);

		/* Each capability the kernel knows, up to its EINVAL. */
		for (i = 0; (r = SYS2(SYS_prctl, PR_CAPBSET_DROP, i)) >= 0;
		    i++)
			;
		if (r != -EINVAL || i == 0)
			spawn_fail(sa, ST_CAPS, r < 0 ? r : -EINVAL);
		if ((r = SYS2(SYS_prctl, PR_CAP_AMBIENT,
		    PR_CAP_AMBIENT_CLEAR_ALL)) < 0)
			spawn_fail(sa, ST_CAPS, r);
		if ((r = SYS2(SYS_setgroups, 0, NULL)) < 0)
			spawn_fail(sa, ST_SETGROUPS, r);
		if ((r = SYS3(SYS_setresgid, sa->sa_gid, sa->sa_gid,
		    sa->sa_gid)) < 0)
			spawn_fail(sa, ST_SETGID, r);
		if ((r = SYS3(SYS_setresuid, sa->sa_uid, sa->sa_uid,
		    sa->sa_uid)) < 0)
			spawn_fail(sa, ST_SETUID, r);
	}
	if ((r = SYS2(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1)) < 0)
		spawn_fail(sa, ST_NNP, r);
	r = SYS5(SYS_execveat, sa->sa_exefd, "", sa->sa_argv, sa->sa_envp,
	    AT_EMPTY_PATH);
	spawn_fail(sa, ST_EXEC, r);
}

/*
 * The three slots of the child's descriptors (pty, error pipe, binary),
 * and /dev/null, which they hold between spawns.  Taken at the start,
 * while the table is short, so that they are low in it: the child
 * copies the descriptors below the highest of them (see the top).
 */
static int	 spawn_null = -1;
static int	 spawn_slot[3] = { -1, -1, -1 };

void
fc_spawn_init(void)
{
	int	 i;

	if (!SPAWN_SHARED_VM || spawn_null != -1)
		return;
	if ((spawn_null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("spawn: /dev/null");
		return;
	}
	for (i = 0; i < 3; i++)
		if ((spawn_slot[i] = fcntl(spawn_null, F_DUPFD_CLOEXEC, 3)) ==
		    -1) {
			log_warn("spawn: a descriptor slot");
			while (i-- > 0) {
				close(spawn_slot[i]);
				spawn_slot[i] = -1;
			}
			close(spawn_null);
			spawn_null = -1;
			return;
		}
}

/* The slots hold /dev/null again, and nothing of the last spawn. */
static void
spawn_slots_clear(void)
{
	int	 i;

	for (i = 0; i < 3; i++)
		if (dup3(spawn_null, spawn_slot[i], O_CLOEXEC) == -1)
			fatal("spawn: a descriptor slot");
}

/*
 * The child's descriptors into the slots; its sa_keep above them.  -1
 * if there are no slots (fc_spawn_init did not run, or cannot share
 * memory with the child): it gets a copy of the table.
 */
static int
spawn_slots_fill(struct spawn_args *sa)
{
	int	 fds[3] = { sa->sa_slave, sa->sa_errfd, sa->sa_exefd };
	int	 i, keep = 0;

	if (spawn_null == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		if (dup3(fds[i], spawn_slot[i], O_CLOEXEC) == -1) {
			spawn_slots_clear();
			return -1;
		}
		if (spawn_slot[i] + 1 > keep)
			keep = spawn_slot[i] + 1;
	}
	sa->sa_slave = spawn_slot[0];
	sa->sa_errfd = spawn_slot[1];
	sa->sa_exefd = spawn_slot[2];
	sa->sa_keep = keep;
	return 0;
}

/*
 * A child that shares the table: until its first step has given it a
 * table of its own (or it has ended), the slots are its.
 */
static void
spawn_slots_wait(struct spawn_args *sa, int pidfd)
{
	struct pollfd	 pfd = { .fd = pidfd, .events = POLLIN };

	while (!__atomic_load_n(&sa->sa_unshared, __ATOMIC_ACQUIRE)) {
		if (pidfd != -1 && poll(&pfd, 1, 0) > 0)
			break;
		sched_yield();
	}
}

/*
 * Start Firecracker in its jail: *reportfd gets the read end of the
 * child's report pipe, readable once the child has executed Firecracker
 * (end of file) or failed before it; fc_spawn_done() reads it.  The
 * parent's event loop waits for it, not a blocking read: the child's
 * mounts, pivot_root and exec take milliseconds, other VMs' requests
 * are served meanwhile.
 */
int
fc_spawn_start(const struct jail_spec *js, int exefd, struct fc_proc *fp,
    int *reportfd)
{
	struct clone_args	 ca;
	struct spawn_mem	*sm = NULL;
	struct spawn_args	*sa;
	struct jailer_strs	*jstr;
	struct stat		 st;
	sigset_t		 all, old;
	char			*map = MAP_FAILED;
	char			 ctx[32], shown[PATH_MAX];
	const char		*why = NULL;
	int			 ffd = -1, vfd = -1, rfd = -1, runfd = -1;
	int			 cgfd = -1, master = -1, slave = -1, exe = -1;
	int			 ep[2] = { -1, -1 }, pidfd = -1, argc = 0;
	int			 saved_errno, fcfd;
	int			 want[CG_NCTRL] = { 0 };
	size_t			 i;
	long			 pid;

	*reportfd = -1;

	if (spec_check(js, ctx, sizeof(ctx)) == -1)
		return -1;
	if (fp == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(fp, 0, sizeof(*fp));
	fp->fp_pidfd = fp->fp_ptyfd = -1;
	/* The child's stack below a guard page, then spawn_mem, zeroed. */
	if (spawn_nkept > 0)
		map = spawn_kept[--spawn_nkept];
	else if ((map = mmap(NULL, SPAWN_MAPLEN, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0)) == MAP_FAILED ||
	    mprotect(map, SPAWN_GUARD, PROT_NONE) == -1) {
		log_warn("%s: the child's stack", ctx);
		goto fail;
	}
	sm = (struct spawn_mem *)(map + SPAWN_GUARD + SPAWN_STACK);
	memset(sm, 0, sizeof(*sm));
	sa = &sm->sm_sa;
	jstr = &sm->sm_jstr;
	/* What argv points to, copied: js is the caller's to reuse. */
	if (strlcpy(sm->sm_vmid, js->js_vmid, sizeof(sm->sm_vmid)) >=
	    sizeof(sm->sm_vmid) || strlcpy(sm->sm_exec, js->js_firecracker,
	    sizeof(sm->sm_exec)) >= sizeof(sm->sm_exec) ||
	    strlcpy(sm->sm_cgparent, js->js_cgparent,
	    sizeof(sm->sm_cgparent)) >= sizeof(sm->sm_cgparent)) {
		log_warnx("%s: a name too long for the child", ctx);
		errno = ENAMETOOLONG;
		goto fail;
	}

	/* The descriptor from fc_exec_check(), checked again. */
	if (fstat(exefd, &st) == -1) {
		log_warn("%s: executable fd", ctx);
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != 0)
		why = "not owned by root";
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		why = "writable by group or others";
	if (why != NULL) {
		log_warnx("%s: executable fd: %s", ctx, why);
		errno = EPERM;
		return -1;
	}
	if (js->js_jailer[0] != '\0') {
		/* The jailer copies it by path: check it all the same. */
		if (fc_exec_check(js->js_firecracker, &fcfd) == -1)
			return -1;
		close(fcfd);
	}

	/* The jail, as jail_prepare() left it. */
	(void)pathf(shown, "%s/%s/%s/%s", js->js_statedir,
	    JAIL_DIR, JAIL_EXEC_NAME, js->js_vmid);
	if ((ffd = jail_base(ctx, js->js_statedir, 0)) == -1 ||
	    (vfd = open_dir_at(ctx, ffd, shown, js->js_vmid,
	    WALK_SECURE)) == -1)
		goto fail;
	(void)strlcat(shown, "/" JAIL_ROOT, sizeof(shown));
	if ((rfd = open_dir_at(ctx, vfd, shown, JAIL_ROOT,
	    js->js_jailer[0] == '\0' ? WALK_SECURE : 0)) == -1)
		goto fail;
	(void)strlcpy(sa->sa_root, shown, sizeof(sa->sa_root));
	(void)strlcat(shown, "/run", sizeof(shown));
	if ((runfd = open_dir_at(ctx, rfd, shown, "run", 0)) == -1 ||
	    entry_clear(ctx, runfd, shown, API_SOCK_NAME) == -1)
		goto fail;
	if (js->js_jailer[0] != '\0' &&
	    jailer_clear(ctx, rfd, sa->sa_root) == -1)
		goto fail;

	/* Firecracker writes no file but the disk, and never grows it. */
	sa->sa_fsize = RLIM_INFINITY;
	if (fstatat(rfd, JAIL_DISK, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size > 0)
		sa->sa_fsize = (st.st_size + MIB - 1) & ~(off_t)(MIB - 1);
	sa->sa_nofile = js->js_nofile != 0 ? js->js_nofile : JAIL_NOFILE;
	sa->sa_uid = js->js_uid;
	sa->sa_gid = js->js_gid;
	sa->sa_jailer = js->js_jailer[0] != '\0';

	if (js->js_cgroot[0] == '\0')
		log_debug("%s: no cgroup root: no cgroup limits", ctx);
	else if (cgroup_setup(ctx, js, !sa->sa_jailer, want, &cgfd) == -1)
		goto fail;
	if (pty_open(ctx, &master, &slave) == -1)
		goto fail;
	if (pipe2(ep, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", ctx);
		goto fail;
	}
	/* The child's dup2() onto 0-2 must not clobber what it still needs. */
	if ((exe = fcntl(exefd, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    fd_above_stdio(&slave) == -1 || fd_above_stdio(&ep[1]) == -1) {
		log_warn("%s: dup", ctx);
		goto fail;
	}
	sa->sa_exefd = exe;
	sa->sa_slave = slave;
	sa->sa_errfd = ep[1];
	sa->sa_keep = 0;
	(void)spawn_slots_fill(sa);

	if (!sa->sa_jailer) {
		sa->sa_argv[argc++] = (char *)JAIL_ARGV0;
		sa->sa_argv[argc++] = (char *)"--api-sock";
		sa->sa_argv[argc++] = (char *)JAIL_API_SOCK;
		sa->sa_argv[argc++] = (char *)"--id";
		sa->sa_argv[argc++] = sm->sm_vmid;
	} else {
		/*
		 * No --new-pid-ns: the jailer would fork Firecracker and
		 * exit, orphaning it.  Our clone3 gives the new pid
		 * namespace, and the jailer execs Firecracker in place,
		 * so pid, pidfd and start time stay Firecracker's.
		 */
		(void)snprintf(jstr->jst_uid, sizeof(jstr->jst_uid), "%u",
		    (unsigned)js->js_uid);
		(void)snprintf(jstr->jst_gid, sizeof(jstr->jst_gid), "%u",
		    (unsigned)js->js_gid);
		(void)pathf(jstr->jst_base, "%s/%s",
		    js->js_statedir, JAIL_DIR);
		(void)snprintf(jstr->jst_cpu, sizeof(jstr->jst_cpu),
		    "cpu.max=%d 100000", js->js_cpus * 100000);
		(void)snprintf(jstr->jst_mem, sizeof(jstr->jst_mem),
		    "memory.max=%llu", (unsigned long long)(js->js_memory +
		    JAIL_MEM_EXTRA) << 20);
		(void)snprintf(jstr->jst_pids, sizeof(jstr->jst_pids),
		    "pids.max=%d", JAIL_PIDS_BASE + js->js_cpus);
		(void)snprintf(jstr->jst_nofile, sizeof(jstr->jst_nofile),
		    "no-file=%llu", (unsigned long long)sa->sa_nofile);
		(void)snprintf(jstr->jst_fsize, sizeof(jstr->jst_fsize),
		    "fsize=%llu", (unsigned long long)sa->sa_fsize);
		sa->sa_argv[argc++] = (char *)"jailer";
		sa->sa_argv[argc++] = (char *)"--id";
		sa->sa_argv[argc++] = sm->sm_vmid;
		sa->sa_argv[argc++] = (char *)"--exec-file";
		sa->sa_argv[argc++] = sm->sm_exec;
		sa->sa_argv[argc++] = (char *)"--uid";
		sa->sa_argv[argc++] = jstr->jst_uid;
		sa->sa_argv[argc++] = (char *)"--gid";
		sa->sa_argv[argc++] = jstr->jst_gid;
		sa->sa_argv[argc++] = (char *)"--chroot-base-dir";
		sa->sa_argv[argc++] = jstr->jst_base;
		sa->sa_argv[argc++] = (char *)"--cgroup-version";
		sa->sa_argv[argc++] = (char *)"2";
		/*
		 * The jailer makes MOUNT/PARENT/VMID, which we already
		 * made and clone it into, and writes the limits of the
		 * controllers that are on (it fails on any other).
		 */
		if (js->js_cgroot[0] != '\0') {
			sa->sa_argv[argc++] = (char *)"--parent-cgroup";
			sa->sa_argv[argc++] = sm->sm_cgparent;
			for (i = 0; i < CG_NCTRL; i++) {
				if (!want[i])
					continue;
				sa->sa_argv[argc++] = (char *)"--cgroup";
				sa->sa_argv[argc++] = i == 0 ? jstr->jst_cpu :
				    i == 1 ? jstr->jst_mem : jstr->jst_pids;
			}
		}
		sa->sa_argv[argc++] = (char *)"--resource-limit";
		sa->sa_argv[argc++] = jstr->jst_nofile;
		if (sa->sa_fsize != RLIM_INFINITY) {
			sa->sa_argv[argc++] = (char *)"--resource-limit";
			sa->sa_argv[argc++] = jstr->jst_fsize;
		}
		sa->sa_argv[argc++] = (char *)"--";
		sa->sa_argv[argc++] = (char *)"--api-sock";
		sa->sa_argv[argc++] = (char *)JAIL_API_SOCK;
	}
	sa->sa_argv[argc] = NULL;
	sa->sa_envp[0] = NULL;

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PIDFD | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	if (SPAWN_SHARED_VM) {
		ca.flags |= CLONE_VM;
		ca.stack = (uint64_t)(uintptr_t)(map + SPAWN_GUARD);
		ca.stack_size = SPAWN_STACK;
	}
	if (sa->sa_keep > 0)
		ca.flags |= CLONE_FILES;
	if (cgfd != -1) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = cgfd;
	}
	/* The child starts with every signal blocked (spawn_signals). */
	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, &old) == -1) {
		log_warn("%s: sigprocmask", ctx);
		if (sa->sa_keep > 0)
			spawn_slots_clear();
		goto fail;
	}
	pid = spawn_clone(&ca, sa);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	if (sa->sa_keep > 0) {
		if (pid >= 0)
			spawn_slots_wait(sa, pidfd);
		spawn_slots_clear();
	}
	if (pid < 0) {
		errno = (int)-pid;
		log_warn("%s: clone3", ctx);
		goto fail;
	}

	/* The child has its own copies of what it still needs. */
	close(slave);
	close(ep[1]);
	fp->fp_pid = pid;
	fp->fp_pidfd = pidfd;
	fp->fp_ptyfd = master;
	fp->fp_spawnmem = map;
	(void)strlcpy(fp->fp_vmid, js->js_vmid, sizeof(fp->fp_vmid));
	*reportfd = ep[0];
	close(exe);
	if (cgfd != -1)
		close(cgfd);
	close(runfd);
	close(rfd);
	close(vfd);
	close(ffd);
	log_debug("%s: spawned pid %ld%s", ctx, pid,
	    sa->sa_jailer ? " (jailer)" : "");
	return 0;
fail:
	saved_errno = errno;
	if (map != MAP_FAILED)
		(void)munmap(map, SPAWN_MAPLEN);
	if (pidfd != -1)
		close(pidfd);
	if (ep[0] != -1)
		close(ep[0]);
	if (ep[1] != -1)
		close(ep[1]);
	if (exe != -1)
		close(exe);
	if (slave != -1)
		close(slave);
	if (master != -1)
		close(master);
	if (cgfd != -1) {
		close(cgfd);
		(void)fc_cgroup_remove(js->js_cgroot, js->js_cgparent,
		    js->js_vmid);
	}
	if (runfd != -1)
		close(runfd);
	if (rfd != -1)
		close(rfd);
	if (vfd != -1)
		close(vfd);
	if (ffd != -1)
		close(ffd);
	errno = saved_errno;
	return -1;
}

/*
 * The child's stack and spawn_mem, once it no longer runs on them:
 * kept for the next spawn, or unmapped.
 */
static void
spawn_unmap(struct fc_proc *fp)
{
	if (fp->fp_spawnmem != NULL) {
		if (spawn_nkept < SPAWN_KEEP)
			spawn_kept[spawn_nkept++] = fp->fp_spawnmem;
		else
			(void)munmap(fp->fp_spawnmem, SPAWN_MAPLEN);
	}
	fp->fp_spawnmem = NULL;
}

/*
 * The child's report, once reportfd is readable (or to wait for it):
 * 0 if it executed Firecracker, whose start time fp now holds; -1 with
 * errno if it failed before, the child reaped and fp closed.  Closes
 * reportfd either way.
 */
int
fc_spawn_done(struct fc_proc *fp, int reportfd)
{
	struct spawn_report	 sr;
	siginfo_t		 si;
	char			 ctx[32];
	ssize_t			 n;
	int			 saved_errno, status;

	(void)snprintf(ctx, sizeof(ctx), "vm %s", fp->fp_vmid);
	while ((n = read(reportfd, &sr, sizeof(sr))) == -1 && errno == EINTR)
		;
	close(reportfd);
	if (n != 0) {
		if (n == (ssize_t)sizeof(sr) && sr.sr_step >= 0 &&
		    sr.sr_step < ST_MAX) {
			errno = sr.sr_errno;
			log_warn("%s: spawn: %s", ctx,
			    spawn_steps[sr.sr_step]);
		} else
			log_warnx("%s: spawn: child failed before exec", ctx);
		saved_errno = n == (ssize_t)sizeof(sr) ? sr.sr_errno : EIO;
		while (waitid(P_PIDFD, fp->fp_pidfd, &si, WEXITED) == -1 &&
		    errno == EINTR)
			;
		spawn_unmap(fp);
		fc_close(fp);
		fp->fp_pid = 0;
		errno = saved_errno;
		return -1;
	}
	/*
	 * End of file: the child executed, or exited, and either way was
	 * done with the memory it shared with us before its descriptors
	 * closed (exec replaces the address space first; exit drops it
	 * before the files).
	 */
	spawn_unmap(fp);
	if (proc_starttime(fp->fp_pid, &fp->fp_starttime) == -1) {
		/* Only if it died and was reaped behind our back. */
		log_warn("%s: pid %ld start time", ctx, (long)fp->fp_pid);
		saved_errno = errno;
		(void)pidfd_send_signal(fp->fp_pidfd, SIGKILL, NULL, 0);
		(void)fc_wait(fp, -1, &status);
		fc_close(fp);
		fp->fp_pid = 0;
		errno = saved_errno;
		return -1;
	}
	log_info("%s: firecracker started, pid %ld", ctx, (long)fp->fp_pid);
	return 0;
}

/* fc_spawn_start(), and its report waited for. */
int
fc_spawn(const struct jail_spec *js, int exefd, struct fc_proc *fp)
{
	int	 reportfd;

	if (fc_spawn_start(js, exefd, fp, &reportfd) == -1)
		return -1;
	return fc_spawn_done(fp, reportfd);
}

/*
 * The worker sandbox: chroot, drop to the workers' user, clear every
 * capability (effective, permitted, inheritable, ambient and bounding),
 * no_new_privs, not dumpable, rlimits, and a seccomp allow-list as
 * narrow as the role's job.  Runs once, right after the worker starts.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <linux/fs.h>

#include <errno.h>
#include <grp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/capability.h>

#include "proc.h"
#include "log.h"

/* What every worker needs: its event loop, imsg, logging, memory. */
static const int seccomp_common[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(sendto),
	SCMP_SYS(close), SCMP_SYS(fcntl), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(getrandom), SCMP_SYS(futex),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
#if defined(__SANITIZE_ADDRESS__)
	/* The sanitizers' runtime, at report and exit time. */
	SCMP_SYS(sigaltstack), SCMP_SYS(prctl), SCMP_SYS(sched_yield),
	SCMP_SYS(mprotect), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	SCMP_SYS(readlink), SCMP_SYS(openat), SCMP_SYS(getppid),
	SCMP_SYS(tgkill), SCMP_SYS(kill), SCMP_SYS(pipe2), SCMP_SYS(wait4),
#endif
};

/*
 * vm: the control socket's clients, VM records under /vms, and the
 * Firecracker API over unix sockets (libcurl).
 */
static const int seccomp_vm[] = {
	SCMP_SYS(accept4), SCMP_SYS(getsockopt), SCMP_SYS(shutdown),
	SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(recvfrom),
	SCMP_SYS(socketpair), SCMP_SYS(pipe2), SCMP_SYS(eventfd2),
	SCMP_SYS(openat), SCMP_SYS(mkdir), SCMP_SYS(rename),
	SCMP_SYS(unlink), SCMP_SYS(rmdir), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(sync_file_range), SCMP_SYS(getdents64),
	SCMP_SYS(ftruncate),
	/*
	 * the per-VM disk child: fork, its own tighter filter, reaping, and
	 * what libext2fs does on the disk fd (ioctl: BLKDISCARDZEROES only,
	 * below)
	 */
	SCMP_SYS(clone), SCMP_SYS(set_robust_list), SCMP_SYS(wait4),
	SCMP_SYS(seccomp), SCMP_SYS(prctl), SCMP_SYS(close_range),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(geteuid),
	SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getppid),
};

/*
 * net: the DNS responder (UDP and TCP on sockets the parent bound, and
 * sockets of its own to the upstream resolvers) and the address table
 * in its root.
 */
static const int seccomp_net[] = {
	SCMP_SYS(recvfrom), SCMP_SYS(accept4), SCMP_SYS(socket),
	SCMP_SYS(connect), SCMP_SYS(openat), SCMP_SYS(rename),
	SCMP_SYS(renameat), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
};

/*
 * update: what a fetch needs (update/fetch.c's upd_seccomp_syscalls,
 * which regress/docs/drift.sh holds to this list through
 * banger-privileges(7)) and the memfds the manifest and the artifact
 * are handed over in.
 */
static const int seccomp_update[] = {
	SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(socketpair),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(recvfrom), SCMP_SYS(ftruncate), SCMP_SYS(memfd_create),
};

/*
 * pull: the layout's files read and the new file system written
 * through libext2fs on fds it was handed (pull/layer.c's layer_syscalls,
 * measured with strace, which regress/docs/drift.sh holds to these
 * lists; fallocate: libext2fs zeroes the metadata blocks it allocates;
 * ioctl: BLKDISCARDZEROES only, below), libext2fs's safe_getenv()
 * (the ids, prctl PR_GET_DUMPABLE), and its death signal set again
 * once its uid changed (prctl, getppid).
 */
static const int seccomp_pull[] = {
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(fsync),
	SCMP_SYS(fallocate), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(prctl), SCMP_SYS(getppid),
};

/*
 * pull, fetching from a registry (WI_F_NET, image pull only): what its
 * libcurl transfers need (pull/registry.c's registry_syscalls, measured
 * with strace and held to this list by regress/docs/drift.sh).
 */
static const int seccomp_pullnet[] = {
	SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(socketpair),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(recvfrom),
};

static int
seccomp_add(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	size_t	 i;

	int	 rc;

	for (i = 0; i < n; i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i],
		    0)) < 0 && rc != -EEXIST)
			return -1;
	return 0;
}

static void
sandbox_seccomp(int role, uint32_t flags)
{
	scmp_filter_ctx	 ctx;
	int		 rc;

	/* Default kill; libseccomp checks the architecture first. */
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("%s: seccomp_init", __func__);
	if (seccomp_add(ctx, seccomp_common,
	    sizeof(seccomp_common) / sizeof(seccomp_common[0])) == -1)
		fatalx("%s: seccomp_rule_add", __func__);
	switch (role) {
	case PROC_VM:
		if (seccomp_add(ctx, seccomp_vm,
		    sizeof(seccomp_vm) / sizeof(seccomp_vm[0])) == -1 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, BLKDISCARDZEROES)) < 0)
			fatalx("%s: seccomp_rule_add", __func__);
		/* A disk child's CPU limit, on itself (provision.c). */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    SCMP_SYS(prlimit64), 2, SCMP_A0(SCMP_CMP_EQ, 0),
		    SCMP_A1(SCMP_CMP_EQ, RLIMIT_CPU))) < 0 && rc != -EEXIST)
			fatalx("%s: seccomp_rule_add", __func__);
		break;
	case PROC_NET:
		if (seccomp_add(ctx, seccomp_net,
		    sizeof(seccomp_net) / sizeof(seccomp_net[0])) == -1)
			fatalx("%s: seccomp_rule_add", __func__);
		break;
	case PROC_UPDATE:
		if (seccomp_add(ctx, seccomp_update,
		    sizeof(seccomp_update) / sizeof(seccomp_update[0])) == -1)
			fatalx("%s: seccomp_rule_add", __func__);
		break;
	case PROC_PULL:
		if (seccomp_add(ctx, seccomp_pull,
		    sizeof(seccomp_pull) / sizeof(seccomp_pull[0])) == -1 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, BLKDISCARDZEROES)) < 0)
			fatalx("%s: seccomp_rule_add", __func__);
		if ((flags & WI_F_NET) && seccomp_add(ctx, seccomp_pullnet,
		    sizeof(seccomp_pullnet) / sizeof(seccomp_pullnet[0])) ==
		    -1)
			fatalx("%s: seccomp_rule_add", __func__);
		break;
	}
	if ((rc = seccomp_load(ctx)) < 0) {
		errno = -rc;
		fatal("%s: seccomp_load", __func__);
	}
	seccomp_release(ctx);
}

static void
sandbox_caps(void)
{
	cap_value_t	 c;
	int		 n;

	/* The bounding set can only shrink while we still hold CAP_SETPCAP. */
	n = cap_max_bits();
	for (c = 0; c < n; c++)
		if (CAP_IS_SUPPORTED(c) && cap_drop_bound(c) == -1)
			fatal("%s: cap_drop_bound %d", __func__, c);
	if (cap_reset_ambient() == -1)
		fatal("%s: cap_reset_ambient", __func__);
}

static void
sandbox_caps_verify(void)
{
	cap_t		 caps, none;
	cap_value_t	 c;
	int		 n;

	if ((none = cap_init()) == NULL)
		fatal("%s: cap_init", __func__);
	if (cap_set_proc(none) == -1)
		fatal("%s: cap_set_proc", __func__);
	if ((caps = cap_get_proc()) == NULL)
		fatal("%s: cap_get_proc", __func__);
	if (cap_compare(caps, none) != 0)
		fatalx("%s: capabilities left after dropping", __func__);
	cap_free(caps);
	cap_free(none);
	n = cap_max_bits();
	for (c = 0; c < n; c++)
		if (CAP_IS_SUPPORTED(c) && cap_get_bound(c) != 0)
			fatalx("%s: capability %d left in the bounding set",
			    __func__, c);
}

static void
sandbox_rlimits(int role, rlim_t want, int max_vms)
{
	struct rlimit	 rl;

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("%s: RLIMIT_CORE", __func__);
	/* Only the vm worker ever forks (its per-VM disk children). */
	if (role != PROC_VM && setrlimit(RLIMIT_NPROC, &rl) == -1)
		fatal("%s: RLIMIT_NPROC", __func__);
	/* No more than we were given: no capability raises it now. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("%s: RLIMIT_NOFILE", __func__);
	if (want > rl.rlim_max) {
		log_warnx("%s: RLIMIT_NOFILE %llu, %llu wanted for max-vms %d: "
		    "raise the limit (LimitNOFILE=)", __func__,
		    (unsigned long long)rl.rlim_max, (unsigned long long)want,
		    max_vms);
		want = rl.rlim_max;
	}
	rl.rlim_cur = rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("%s: RLIMIT_NOFILE", __func__);
}

void
sandbox_enter(int role, rlim_t nofile, const struct worker_init *wi)
{
	gid_t	 gid = wi->wi_gid;
	uid_t	 uid = wi->wi_uid;

	if (uid == 0 || gid == 0)
		fatalx("%s: refusing to run a worker as root", __func__);

	if (chroot(wi->wi_chroot) == -1)
		fatal("%s: chroot %s", __func__, wi->wi_chroot);
	if (chdir("/") == -1)
		fatal("%s: chdir /", __func__);

	sandbox_caps();

	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal("%s: cannot drop privileges", __func__);
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid)
		fatalx("%s: privileges not dropped", __func__);
	sandbox_caps_verify();

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", __func__);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("%s: PR_SET_DUMPABLE", __func__);
	sandbox_rlimits(role, nofile, wi->wi_max_vms);
	sandbox_seccomp(role, wi->wi_flags);
}

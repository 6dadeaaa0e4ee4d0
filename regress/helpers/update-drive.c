/*
 * update-drive: runs bangerd/update/fetch.c and shared/manifest.c as
 * the update worker and the parent would, for regress/update/update.sh.
 *
 *	update-drive [-HKpS] [-a arch] [-C connect_ms] [-c cafile]
 *	    [-i installed] [-k pubfile] [-o out] [-R resolve] [-r running]
 *	    [-T timeout_ms] [-t now] check|apply url
 *
 * check: fetch and verify the manifest, print the release it chose.
 * apply: that, then fetch the artifact into a memfd; the "parent" then
 * checks the manifest bytes and the memfd again itself and only then
 * writes the artifact to -o (the stand-in for installing it).
 *
 * -S runs the fetching in a child sandboxed like the update worker:
 * chroot into an empty directory and drop to nobody (when root),
 * no_new_privs, RLIMIT_NPROC 0, and a default-kill seccomp allow-list
 * of the workers' common calls plus upd_seccomp_syscalls.  The key, the
 * CA bundle and the memfd are made before it.
 *
 * -K prints the built-in key's base64 line and exits.  -H allows plain
 * http to loopback; -p prints "progress DONE/TOTAL" lines on stderr.
 * A refusal prints "update-drive: UPD_E...: message" and exits 1; a
 * sandboxed child killed by a signal exits 3.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "signify.h"
#include "update/fetch.h"

/* bangerd/shared/sandbox.c's seccomp_common. */
static const int common_calls[] = {
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
	SCMP_SYS(sigaltstack), SCMP_SYS(prctl), SCMP_SYS(sched_yield),
	SCMP_SYS(mprotect), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	SCMP_SYS(readlink), SCMP_SYS(openat), SCMP_SYS(getppid),
	SCMP_SYS(tgkill), SCMP_SYS(kill), SCMP_SYS(pipe2), SCMP_SYS(wait4),
#endif
};

struct opts {
	const char		*cmd;
	const char		*url;
	const char		*out;
	struct signify_pubkey	 key;
	struct upd_want		 want;
	struct upd_fetch	 fetch;
	int			 sandbox;
	int			 progress;
};

/* What the worker hands the parent. */
struct result {
	int			 rc;
	char			 err[UPD_ERR_MAX];
	struct upd_release	 rel;
	size_t			 mlen, slen;
	char			*m, *s;
};

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: update-drive [-HKpS] [-a arch] "
	    "[-C connect_ms] [-c cafile] [-i installed] [-k pubfile] "
	    "[-o out] [-R resolve] [-r running] [-T timeout_ms] [-t now] "
	    "check|apply url\n");
	exit(2);
}

static __attribute__((__noreturn__)) void
die(const char *what, const char *msg)
{
	fprintf(stderr, "update-drive: %s: %s\n", what, msg);
	exit(1);
}

static char *
readfile(const char *path, size_t max, size_t *lenp)
{
	char	*buf;
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die(path, strerror(errno));
	if ((buf = malloc(max + 1)) == NULL)
		die("malloc", strerror(errno));
	while ((n = read(fd, buf + len, max + 1 - len)) > 0)
		if ((len += (size_t)n) > max)
			die(path, "too large");
	if (n == -1)
		die(path, strerror(errno));
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return (buf);
}

static void
progress(uint64_t done, uint64_t total, void *arg)
{
	fprintf(stderr, "progress %llu/%llu\n", (unsigned long long)done,
	    (unsigned long long)total);
}

/* The update worker's part. */
static void
work(struct opts *o, int fd, struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->rc = upd_check(o->url, &o->fetch, &o->key, &o->want, &r->rel,
	    &r->m, &r->mlen, &r->s, &r->slen, r->err, sizeof(r->err));
	if (r->rc != UPD_OK || strcmp(o->cmd, "apply") != 0)
		return;
	r->rc = upd_fetch_artifact(&r->rel, &o->fetch, fd, r->err,
	    sizeof(r->err));
}

static void
sandbox(const char *root)
{
	scmp_filter_ctx	 ctx;
	struct rlimit	 rl;
	size_t		 i;

	if (root != NULL) {
		if (chroot(root) == -1 || chdir("/") == -1)
			die("chroot", strerror(errno));
		if (setgroups(0, NULL) == -1 ||
		    setresgid(65534, 65534, 65534) == -1 ||
		    setresuid(65534, 65534, 65534) == -1)
			die("setresuid", strerror(errno));
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		die("no_new_privs", strerror(errno));
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_NPROC, &rl) == -1)
		die("RLIMIT_NPROC", strerror(errno));
	rl.rlim_cur = rl.rlim_max = 256;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("RLIMIT_NOFILE", strerror(errno));
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		die("seccomp_init", "failed");
	for (i = 0; i < sizeof(common_calls) / sizeof(common_calls[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, common_calls[i], 0))
			die("seccomp_rule_add", "common");
	for (i = 0; i < upd_seccomp_nsyscalls; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    upd_seccomp_syscalls[i], 0))
			die("seccomp_rule_add", "update");
	if (seccomp_load(ctx) != 0)
		die("seccomp_load", "failed");
	seccomp_release(ctx);
}

static int
writeall(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

static int
readall(int fd, void *buf, size_t len)
{
	char	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if ((n = read(fd, p, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Run work() in a sandboxed child; the result comes back over a pipe. */
static void
work_sandboxed(struct opts *o, int fd, struct result *r)
{
	char	 root[] = "/tmp/update-drive.XXXXXX";
	int	 p[2], st;
	pid_t	 pid;

	if (geteuid() == 0 && mkdtemp(root) == NULL)
		die("mkdtemp", strerror(errno));
	if (pipe2(p, O_CLOEXEC) == -1)
		die("pipe", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) == -1)
		die("fork", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		sandbox(geteuid() == 0 ? root : NULL);
		work(o, fd, r);
		if (writeall(p[1], r, sizeof(*r)) == -1 ||
		    (r->mlen && writeall(p[1], r->m, r->mlen) == -1) ||
		    (r->slen && writeall(p[1], r->s, r->slen) == -1))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	memset(r, 0, sizeof(*r));
	if (readall(p[0], r, sizeof(*r)) == 0) {
		r->m = r->mlen ? malloc(r->mlen) : NULL;
		r->s = r->slen ? malloc(r->slen) : NULL;
		if ((r->mlen && (r->m == NULL ||
		    readall(p[0], r->m, r->mlen) == -1)) ||
		    (r->slen && (r->s == NULL ||
		    readall(p[0], r->s, r->slen) == -1)))
			r->rc = -1;
	} else
		r->rc = -1;
	close(p[0]);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			die("waitpid", strerror(errno));
	if (geteuid() == 0)
		(void)rmdir(root);
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "update-drive: the sandboxed worker was killed "
		    "by signal %d%s\n", WTERMSIG(st), WTERMSIG(st) == SIGSYS ?
		    " (SIGSYS: a system call outside the allow-list)" : "");
		exit(3);
	}
	if (r->rc == -1)
		die("worker", "no result");
}

/* The parent's part: trust nothing the worker says, check it again. */
static int
install(struct opts *o, int fd, struct result *r)
{
	struct upd_release	 rel;
	char			 err[UPD_ERR_MAX], buf[65536];
	ssize_t			 n;
	off_t			 off = 0;
	int			 rc, out;

	if ((rc = upd_manifest_check(&o->key, r->m, r->mlen, r->s, r->slen,
	    &o->want, &rel, err, sizeof(err))) != UPD_OK ||
	    memcmp(&rel, &r->rel, sizeof(rel)) != 0 ||
	    (rc = upd_verify_fd(fd, &rel, 1, err, sizeof(err))) != UPD_OK) {
		fprintf(stderr, "update-drive: parent: %s: %s\n",
		    upd_errname(rc), rc ? err : "the worker's release differs");
		return (-1);
	}
	if (o->out == NULL)
		return (0);
	if ((out = open(o->out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) == -1)
		die(o->out, strerror(errno));
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (writeall(out, buf, (size_t)n) == -1)
			die(o->out, strerror(errno));
		off += n;
	}
	if (n == -1 || close(out) == -1)
		die(o->out, strerror(errno));
	return (0);
}

int
main(int argc, char *argv[])
{
	struct opts	 o;
	struct result	 r;
	char		 err[UPD_ERR_MAX], *buf, *ca = NULL, hex[65];
	const char	*why;
	size_t		 len;
	int64_t		 now;
	int		 ch, fd, i, havekey = 0, rv = 0;

	memset(&o, 0, sizeof(o));
	o.want.uw_running = "0.1.0";
	o.want.uw_now = (int64_t)time(NULL);
	while ((ch = getopt(argc, argv, "a:C:c:HKi:k:o:pR:r:ST:t:")) != -1) {
		switch (ch) {
		case 'a':
			o.want.uw_arch = optarg;
			break;
		case 'C':
			o.fetch.uf_connect_timeout_ms = atol(optarg);
			break;
		case 'c':
			ca = readfile(optarg, 4 * 1024 * 1024, &len);
			o.fetch.uf_ca = ca;
			o.fetch.uf_calen = len;
			break;
		case 'H':
			o.fetch.uf_allow_http = 1;
			break;
		case 'K':
			printf("%s\n", upd_builtin_pubkey_b64());
			return (0);
		case 'i':
			o.want.uw_installed = optarg;
			break;
		case 'k':
			buf = readfile(optarg, SIGNIFY_FILE_MAX, &len);
			if (signify_parse_pubkey(buf, len, &o.key, &why) == -1)
				die(optarg, why);
			free(buf);
			havekey = 1;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'p':
			o.fetch.uf_progress = progress;
			break;
		case 'R':
			o.fetch.uf_resolve = optarg;
			break;
		case 'r':
			o.want.uw_running = optarg;
			break;
		case 'S':
			o.sandbox = 1;
			break;
		case 'T':
			o.fetch.uf_timeout_ms = atol(optarg);
			break;
		case 't':
			if (upd_time_parse(optarg, &now) == -1)
				die(optarg, "not a time like "
				    "2026-01-31T12:00:00Z");
			o.want.uw_now = now;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2 || (strcmp(argv[0], "check") != 0 &&
	    strcmp(argv[0], "apply") != 0))
		usage();
	o.cmd = argv[0];
	o.url = argv[1];

	/* Before any sandbox: libraries, key, and the artifact's memfd. */
	if (upd_global_init(err, sizeof(err)) != UPD_OK)
		die("init", err);
	if (!havekey && upd_builtin_pubkey(&o.key, err, sizeof(err)) != UPD_OK)
		die("built-in key", err);
	if ((fd = memfd_create("artifact",
	    MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		die("memfd_create", strerror(errno));

	if (o.sandbox)
		work_sandboxed(&o, fd, &r);
	else
		work(&o, fd, &r);
	if (r.rc != UPD_OK) {
		fprintf(stderr, "update-drive: %s: %s\n", upd_errname(r.rc),
		    r.err);
		rv = 1;
	} else if (strcmp(o.cmd, "check") == 0) {
		printf("update available: %s for %s, %llu bytes, %s\n",
		    r.rel.ur_version, r.rel.ur_arch,
		    (unsigned long long)r.rel.ur_length, r.rel.ur_url);
	} else if (install(&o, fd, &r) == -1) {
		rv = 1;
	} else {
		for (i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", r.rel.ur_sha256[i]);
		printf("verified %s for %s: %llu bytes, sha256 %s\n",
		    r.rel.ur_version, r.rel.ur_arch,
		    (unsigned long long)r.rel.ur_length, hex);
	}
	free(r.m);
	free(r.s);
	free(ca);
	close(fd);
	curl_global_cleanup();
	return (rv);
}

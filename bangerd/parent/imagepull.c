/*
 * An image's root file system made from an OCI image layout, in the
 * import's child (image.c), as root, without reading the layout: the
 * child makes an empty ext4 file system with mke2fs (fixed arguments,
 * on a file it just created), starts the pull worker (bangerd-pull) for
 * this import alone, and hands it the file system's fd and the layout's
 * files as the client opened them.  The worker, as _banger in an empty
 * chroot with no capability and a seccomp allow-list, parses and checks
 * the layout and writes the layers into the file system (pull/).  The
 * child then checks what it can cheaply: the worker is gone, the file
 * has its size, an ext4 superblock.  The contents are the image's, as
 * untrusted as the layers were: only a guest reads them.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parent.h"
#include "imagepull.h"
#include "log.h"
#include "untar.h"	/* msgf() */
#include "validate.h"
#include "wire.h"

#define MKE2FS_PATH	"/sbin/mke2fs"
#define PULL_STALL_MS	(300 * 1000)	/* the worker silent that long */
#define PULL_EXIT_MS	(10 * 1000)	/* its exit after its result */

/* Each layer's limits, given to the worker. */
#define PULL_ENTRIES_MAX	(4U << 20)
#define PULL_FILE_MAX		(64ULL << 30)

/* The Go/OCI name of this machine's architecture. */
static const char *
oci_arch(void)
{
#if defined(__aarch64__)
	return "arm64";
#else
	return "amd64";
#endif
}

/* mke2fs on path, an empty file of the file system's size. */
static int
run_mke2fs(const char *path, char *msg, size_t len)
{
	char	*argv[] = { "mke2fs", "-q", "-F", "-t", "ext4", "-i", "8192",
		    "-E", "nodiscard,root_owner=0:0", "-L", "rootfs", NULL,
		    NULL };
	char	*envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	int	 status, fd;
	pid_t	 pid;

	argv[11] = (char *)path;
	switch (pid = fork()) {
	case -1:
		return msgf(msg, len, "fork: %s", strerror(errno));
	case 0:
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			(void)dup2(fd, STDIN_FILENO);
			(void)dup2(fd, STDOUT_FILENO);
		}
		execve(MKE2FS_PATH, argv, envp);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return msgf(msg, len, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return msgf(msg, len, "%s on %s failed (status 0x%x)",
		    MKE2FS_PATH, path, (unsigned)status);
	return 0;
}

/* The worker's next message within ms, or -1 (msg says why). */
static int
pull_recv(struct imsgbuf *ib, struct imsg *imsg, int ms, char *msg,
    size_t len)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 r;

	/* imsgbuf_read() takes "nothing yet" for success: poll first. */
	for (;;) {
		if ((n = imsg_get(ib, imsg)) == -1)
			return msgf(msg, len, "the pull worker sent a "
			    "malformed message");
		if (n > 0)
			return 0;
		pfd.fd = ib->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if ((r = poll(&pfd, 1, ms)) == 0)
			return msgf(msg, len, "the pull worker said nothing "
			    "for %d s: stopped", ms / 1000);
		if (r == -1 && errno != EINTR)
			return msgf(msg, len, "poll: %s", strerror(errno));
		if (r == -1)
			continue;
		if ((n = imsgbuf_read(ib)) == 0)
			return msgf(msg, len, "the pull worker ended without "
			    "a result");
		if (n == -1)
			return msgf(msg, len, "the pull worker: %s",
			    strerror(errno));
	}
}

static int
pull_send(struct imsgbuf *ib, uint32_t type, int fd, const void *data,
    size_t dlen, char *msg, size_t len)
{
	if (imsg_compose(ib, type, 0, 0, fd, data, dlen) == -1 ||
	    imsgbuf_flush(ib) == -1)
		return msgf(msg, len, "to the pull worker: %s",
		    strerror(errno));
	return 0;
}

/* The worker's end, within ms, else killed. */
static void
pull_reap(pid_t pid, int ms, int *status)
{
	int	 waited = 0;
	pid_t	 r;

	for (;;) {
		if ((r = waitpid(pid, status, WNOHANG)) == pid ||
		    (r == -1 && errno != EINTR))
			return;
		if (waited >= ms) {
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) == -1 && errno == EINTR)
				;
			return;
		}
		usleep(10 * 1000);
		waited += 10;
	}
}

/*
 * The worker started, given fsfd and the layout's files, run to its
 * result.  Returns 0 with *pd its result (an error it reports is not
 * one here), -1 when the worker failed to give one.
 */
static int
pull_run(int fsfd, uint64_t size, const int *fds,
    char names[][PROTO_PATH_MAX], size_t n,
    void (*progress)(void *, uint64_t), void *arg, struct pull_done *pd,
    char *msg, size_t len)
{
	struct worker_init	 wi;
	struct worker_ready	 wr;
	struct pull_fs		 pf;
	struct pull_blob	 pb;
	struct pull_start	 ps;
	struct pull_progress	 pp;
	struct imsgbuf		 ib;
	struct imsg		 imsg;
	size_t			 i, slen;
	pid_t			 pid;
	int			 sfd, fd, status = 0, rv = -1, got = 0;

	if ((pid = proc_exec_worker(PROC_PULL, env->bd_exefd[PROC_PULL],
	    env->bd_debug, log_getverbose(), &sfd)) == -1)
		return msgf(msg, len, "the pull worker: fork: %s",
		    strerror(errno));
	if (imsgbuf_init(&ib, sfd) == -1) {
		kill(pid, SIGKILL);
		pull_reap(pid, 0, &status);
		close(sfd);
		return msgf(msg, len, "imsgbuf_init: %s", strerror(errno));
	}
	imsgbuf_allow_fdpass(&ib);
	worker_init_fill(PROC_PULL, &wi);
	if (pull_send(&ib, IMSG_WORKER_INIT, -1, &wi, sizeof(wi), msg,
	    len) == -1)
		goto out;

	if (pull_recv(&ib, &imsg, PULL_STALL_MS, msg, len) == -1)
		goto out;
	if (imsg_get_type(&imsg) != IMSG_WORKER_READY ||
	    imsg_read_exact(&imsg, &wr, sizeof(wr)) == -1 ||
	    wr.wr_proto != BANGER_PROTO_VERSION ||
	    wire_string(wr.wr_role, sizeof(wr.wr_role), &slen) == -1 ||
	    strcmp(wr.wr_role, proc_name(PROC_PULL)) != 0) {
		imsg_free(&imsg);
		msgf(msg, len, "the pull worker did not start as one");
		goto out;
	}
	imsg_free(&imsg);

	memset(&pf, 0, sizeof(pf));
	pf.pf_size = size;
	if ((fd = dup(fsfd)) == -1) {
		msgf(msg, len, "dup: %s", strerror(errno));
		goto out;
	}
	if (pull_send(&ib, IMSG_PULL_FS, fd, &pf, sizeof(pf), msg,
	    len) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		memset(&pb, 0, sizeof(pb));
		strlcpy(pb.pb_name, names[i], sizeof(pb.pb_name));
		if ((fd = dup(fds[i])) == -1) {
			msgf(msg, len, "dup: %s", strerror(errno));
			goto out;
		}
		if (pull_send(&ib, IMSG_PULL_BLOB, fd, &pb, sizeof(pb), msg,
		    len) == -1)
			goto out;
	}
	memset(&ps, 0, sizeof(ps));
	strlcpy(ps.ps_arch, oci_arch(), sizeof(ps.ps_arch));
	ps.ps_entries_max = PULL_ENTRIES_MAX;
	ps.ps_file_max = PULL_FILE_MAX;
	ps.ps_bytes_max = size;
	if (pull_send(&ib, IMSG_PULL_START, -1, &ps, sizeof(ps), msg,
	    len) == -1)
		goto out;

	/* Progress, then the result; nothing else. */
	while (!got) {
		if (pull_recv(&ib, &imsg, PULL_STALL_MS, msg, len) == -1)
			goto out;
		if ((fd = imsg_get_fd(&imsg)) != -1)
			close(fd);
		switch (imsg_get_type(&imsg)) {
		case IMSG_PULL_PROGRESS:
			if (fd != -1 || imsg_read_exact(&imsg, &pp,
			    sizeof(pp)) == -1)
				goto violation;
			progress(arg, pp.pp_done);
			break;
		case IMSG_PULL_DONE:
			if (fd != -1 || imsg_read_exact(&imsg, pd,
			    sizeof(*pd)) == -1 ||
			    wire_string(pd->pd_msg, sizeof(pd->pd_msg),
			    &slen) == -1 ||
			    wire_string(pd->pd_digest, sizeof(pd->pd_digest),
			    &slen) == -1)
				goto violation;
			got = 1;
			break;
		default:
			goto violation;
		}
		imsg_free(&imsg);
	}
	rv = 0;
	goto out;
violation:
	msgf(msg, len, "the pull worker sent message type %u of %zu bytes, "
	    "not in its protocol: stopped", imsg_get_type(&imsg),
	    imsg_get_len(&imsg));
	log_warnx("image: %s", msg);
	imsg_free(&imsg);
out:
	imsgbuf_clear(&ib);
	close(sfd);
	/* Its result sent, it exits; else it is ended here. */
	pull_reap(pid, rv == 0 ? PULL_EXIT_MS : 0, &status);
	if (rv == -1 && WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		msgf(msg, len, "the pull worker was killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	return rv;
}

int
image_oci_rootfs(int dfd, const char *tmp, const char *name, uint64_t size,
    const int *fds, char names[][PROTO_PATH_MAX], size_t n,
    void (*progress)(void *, uint64_t), void *arg, char *msg, size_t len)
{
	struct pull_done	 pd;
	struct stat		 st;
	unsigned char		 b[2];
	char			 path[PATH_MAX];
	int			 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", tmp, name) >=
	    sizeof(path))
		return msgf(msg, len, "%s/%s: too long", tmp, name);
	if ((fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1)
		return msgf(msg, len, "%s: %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)size) == -1) {
		msgf(msg, len, "--size %llu: %s", (unsigned long long)size,
		    strerror(errno));
		goto fail;
	}
	if (run_mke2fs(path, msg, len) == -1)
		goto fail;
	memset(&pd, 0, sizeof(pd));
	if (pull_run(fd, size, fds, names, n, progress, arg, &pd, msg,
	    len) == -1)
		goto fail;
	if (pd.pd_error != 0) {
		if (strstr(pd.pd_msg, "Could not allocate") != NULL)
			msgf(msg, len, "%s: the root file system of %llu MiB is "
			    "full: give a larger --size", pd.pd_msg,
			    (unsigned long long)(size >> 20));
		else
			msgf(msg, len, "%s", pd.pd_msg);
		goto fail;
	}
	/* The worker is gone: what it left must still be a file system. */
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size != size) {
		msgf(msg, len, "the pull worker left a root file system of "
		    "%lld bytes, not %llu", (long long)st.st_size,
		    (unsigned long long)size);
		goto fail;
	}
	if (pread(fd, b, 2, 1024 + 56) != 2 || b[0] != 0x53 || b[1] != 0xef) {
		msgf(msg, len, "the pull worker left no ext4 superblock");
		goto fail;
	}
	if (fsync(fd) == -1) {
		msgf(msg, len, "%s: fsync: %s", path, strerror(errno));
		goto fail;
	}
	close(fd);
	log_info("image: %s from %s: %s", path, pd.pd_digest, pd.pd_msg);
	return 0;
fail:
	close(fd);
	return -1;
}

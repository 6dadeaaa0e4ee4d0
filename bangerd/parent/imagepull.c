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
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "parent.h"
#include "imagepull.h"
#include "imgref.h"
#include "log.h"
#include "manifest.h"	/* upd_host_is_literal() */
#include "untar.h"	/* msgf() */
#include "validate.h"
#include "wire.h"

#define MKE2FS_PATH	"/sbin/mke2fs"
#define CA_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"
#define AUTH_FILE_MAX	(1 << 20)	/* registry-auth */
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

/* What the worker is handed: a layout's files, or where to pull from. */
struct pull_src {
	const int		 *ps_fds;
	char			(*ps_names)[PROTO_PATH_MAX];
	size_t			  ps_n;
	const struct pull_registry *ps_reg;	/* an image pull */
	int			  ps_cafd;	/* -1: none */
	int			  ps_scratch;
};

/* Docker's hosts besides its API: its token service and blob store. */
static const char *const docker_hosts[] = {
	"auth.docker.io", "production.cloudflare.docker.com", NULL
};

/* One host's resolve entry appended to pr_resolve, when it has a name. */
static int
pull_resolve_host(struct pull_registry *pr, const char *hp, char *msg,
    size_t len)
{
	char		 host[256], entry[512], err[256];
	const char	*colon;
	long		 port;

	strlcpy(host, hp, sizeof(host));
	port = pr->pr_insecure ? 80 : 443;
	if ((colon = strchr(hp, ':')) != NULL) {
		host[colon - hp] = '\0';
		port = strtol(colon + 1, NULL, 10);
	}
	if (upd_host_is_literal(host))
		return 0;
	if (strcasecmp(host, "localhost") == 0)
		snprintf(entry, sizeof(entry), "%s:%ld:127.0.0.1,[::1]", host,
		    port);
	else if (upd_resolve_host(host, port, entry, sizeof(entry), err,
	    sizeof(err)) != UPD_OK)
		return msgf(msg, len, "registry %s: %s", pr->pr_api, err);
	if (strlcat(pr->pr_resolve, entry, sizeof(pr->pr_resolve)) >=
	    sizeof(pr->pr_resolve) || strlcat(pr->pr_resolve, "\n",
	    sizeof(pr->pr_resolve)) >= sizeof(pr->pr_resolve))
		return msgf(msg, len, "registry %s: too many addresses",
		    pr->pr_api);
	return 0;
}

/* Whether an auths key of a credentials file names domain. */
static int
auth_key_is(const char *key, const char *domain)
{
	size_t	 n;

	if (strncmp(key, "https://", 8) == 0)
		key += 8;
	else if (strncmp(key, "http://", 7) == 0)
		key += 7;
	n = strcspn(key, "/");
	if (strlen(domain) == n && strncasecmp(key, domain, n) == 0)
		return 1;
	/* Docker's own names for Docker Hub */
	return strcmp(domain, IMGREF_DOCKER_HUB) == 0 &&
	    ((n == 15 && strncmp(key, "index.docker.io", n) == 0) ||
	    (n == 20 && strncmp(key, "registry-1.docker.io", n) == 0));
}

/*
 * The credentials for domain from the registry-auth file, Docker's
 * config.json format ({"auths": {"HOST": {"auth": base64(user:pass)}
 * or {"username", "password"}}}), as "user:password" in out; "" when
 * it has none.  The file must be root's and readable by root alone.
 */
static int
pull_auth(const char *file, const char *domain, char *out, size_t olen,
    char *msg, size_t len)
{
	struct stat	 st;
	json_error_t	 je;
	json_t		*j = NULL, *auths, *v;
	const char	*key, *b64, *user, *pass;
	unsigned char	 dec[512];
	size_t		 dlen, i;
	int		 fd, rv = -1;

	out[0] = '\0';
	if (file[0] == '\0')
		return 0;
	if ((fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return msgf(msg, len, "registry-auth %s: %s", file,
		    strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != 0 || (st.st_mode & 077) != 0 ||
	    st.st_size > AUTH_FILE_MAX) {
		msgf(msg, len, "registry-auth %s: must be a regular file of "
		    "root's that only root reads (chown root; chmod 600), "
		    "of at most 1 MiB; it is uid %u, mode %04o", file,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	j = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
	close(fd);
	if (j == NULL) {
		msgf(msg, len, "registry-auth %s: line %d: %s", file, je.line,
		    je.text);
		goto out;
	}
	auths = json_object_get(j, "auths");
	json_object_foreach(auths, key, v) {
		if (!auth_key_is(key, domain))
			continue;
		if ((b64 = json_string_value(json_object_get(v,
		    "auth"))) != NULL) {
			if (sodium_base642bin(dec, sizeof(dec) - 1, b64,
			    strlen(b64), NULL, &dlen, NULL,
			    sodium_base64_VARIANT_ORIGINAL) != 0) {
				msgf(msg, len, "registry-auth %s: %s: \"auth\" "
				    "is not base64 of user:password", file,
				    key);
				goto out;
			}
			dec[dlen] = '\0';
			if ((size_t)snprintf(out, olen, "%s", dec) >= olen)
				goto toolong;
		} else {
			user = json_string_value(json_object_get(v,
			    "username"));
			pass = json_string_value(json_object_get(v,
			    "password"));
			if (user == NULL || pass == NULL) {
				msgf(msg, len, "registry-auth %s: %s: neither "
				    "\"auth\" nor \"username\" and "
				    "\"password\"", file, key);
				goto out;
			}
			if ((size_t)snprintf(out, olen, "%s:%s", user, pass) >=
			    olen)
				goto toolong;
		}
		for (i = 0; out[i] != '\0'; i++)
			if ((unsigned char)out[i] < ' ' || out[i] == 0x7f) {
				msgf(msg, len, "registry-auth %s: %s: a control "
				    "character in the credentials", file, key);
				goto out;
			}
		if (strchr(out, ':') == NULL) {
			msgf(msg, len, "registry-auth %s: %s: \"auth\" is "
			    "not user:password", file, key);
			goto out;
		}
		break;
	}
	rv = 0;
	goto out;
toolong:
	msgf(msg, len, "registry-auth %s: %s: credentials longer than %zu "
	    "bytes", file, key, olen - 1);
out:
	explicit_bzero(dec, sizeof(dec));
	if (rv == -1)
		explicit_bzero(out, olen);
	json_decref(j);
	return rv;
}

/*
 * Where an image pull fetches from: ref's registry as bangerd.conf
 * describes it (or https with the system's CA bundle), the hosts it may
 * reach, their addresses, its credentials; *cafd the CA bundle.
 */
static int
pull_registry_fill(const struct image_ref *ref, uint64_t size,
    struct pull_registry *pr, int *cafd, char *msg, size_t len)
{
	const struct conf_registry *r = NULL, *c;
	const char	*cafile = CA_BUNDLE;
	size_t		 i;
	uint32_t	 h;

	memset(pr, 0, sizeof(*pr));
	*cafd = -1;
	TAILQ_FOREACH(c, &env->bd_conf->cf_registries, reg_entry)
		if (strcasecmp(c->reg_domain, ref->rf_domain) == 0)
			r = c;
	strlcpy(pr->pr_api, image_ref_api(ref), sizeof(pr->pr_api));
	strlcpy(pr->pr_repo, ref->rf_repo, sizeof(pr->pr_repo));
	strlcpy(pr->pr_ref, ref->rf_digest[0] != '\0' ? ref->rf_digest :
	    ref->rf_tag, sizeof(pr->pr_ref));
	strlcpy(pr->pr_hosts[pr->pr_nhosts++], pr->pr_api,
	    sizeof(pr->pr_hosts[0]));
	if (strcmp(ref->rf_domain, IMGREF_DOCKER_HUB) == 0)
		for (i = 0; docker_hosts[i] != NULL; i++)
			strlcpy(pr->pr_hosts[pr->pr_nhosts++], docker_hosts[i],
			    sizeof(pr->pr_hosts[0]));
	if (r != NULL) {
		pr->pr_insecure = r->reg_insecure;
		if (r->reg_cafile[0] != '\0')
			cafile = r->reg_cafile;
		for (i = 0; i < r->reg_nhosts &&
		    pr->pr_nhosts < PULL_HOSTS_MAX; i++)
			strlcpy(pr->pr_hosts[pr->pr_nhosts++], r->reg_hosts[i],
			    sizeof(pr->pr_hosts[0]));
		/* A mirror is asked first, and is a host the pull reaches. */
		for (i = 0; i < r->reg_nmirrors &&
		    pr->pr_nmirrors < PULL_MIRRORS_MAX &&
		    pr->pr_nhosts < PULL_HOSTS_MAX; i++) {
			strlcpy(pr->pr_mirrors[pr->pr_nmirrors++],
			    r->reg_mirrors[i], sizeof(pr->pr_mirrors[0]));
			strlcpy(pr->pr_hosts[pr->pr_nhosts++], r->reg_mirrors[i],
			    sizeof(pr->pr_hosts[0]));
		}
	}
	for (h = 0; h < pr->pr_nhosts; h++)
		if (pull_resolve_host(pr, pr->pr_hosts[h], msg, len) == -1)
			return -1;
	pr->pr_blobs_max = size;
	if (pull_auth(env->bd_conf->cf_registry_auth, ref->rf_domain,
	    pr->pr_auth, sizeof(pr->pr_auth), msg, len) == -1)
		return -1;
	if (!pr->pr_insecure &&
	    (*cafd = open(cafile, O_RDONLY | O_CLOEXEC)) == -1)
		return msgf(msg, len, "registry %s: the CA bundle %s: %s",
		    ref->rf_domain, cafile, strerror(errno));
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
 * The worker started, given fsfd and what src holds, run to its
 * result.  Returns 0 with *pd its result (an error it reports is not
 * one here), -1 when the worker failed to give one.
 */
static int
pull_run(int fsfd, uint64_t size, const struct pull_src *src,
    void (*progress)(void *, uint64_t, uint64_t), void *arg,
    struct pull_done *pd, char *msg, size_t len)
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
	if (src->ps_reg != NULL)
		wi.wi_flags |= WI_F_NET;
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
	if (src->ps_reg != NULL) {
		fd = -1;
		if (src->ps_cafd != -1 && (fd = dup(src->ps_cafd)) == -1) {
			msgf(msg, len, "dup: %s", strerror(errno));
			goto out;
		}
		if (pull_send(&ib, IMSG_PULL_REGISTRY, fd, src->ps_reg,
		    sizeof(*src->ps_reg), msg, len) == -1)
			goto out;
		if ((fd = dup(src->ps_scratch)) == -1) {
			msgf(msg, len, "dup: %s", strerror(errno));
			goto out;
		}
		if (pull_send(&ib, IMSG_PULL_SCRATCH, fd, NULL, 0, msg,
		    len) == -1)
			goto out;
	}
	for (i = 0; i < src->ps_n; i++) {
		memset(&pb, 0, sizeof(pb));
		strlcpy(pb.pb_name, src->ps_names[i], sizeof(pb.pb_name));
		if ((fd = dup(src->ps_fds[i])) == -1) {
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
			progress(arg, pp.pp_done, pp.pp_total);
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
    const struct image_ref *ref,
    void (*progress)(void *, uint64_t, uint64_t), void *arg, char *digest,
    char *msg, size_t len)
{
	struct pull_registry	 pr;
	struct pull_src		 src;
	struct pull_done	 pd;
	struct stat		 st;
	unsigned char		 b[2];
	char			 path[PATH_MAX];
	int			 fd, rv;

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
	memset(&src, 0, sizeof(src));
	src.ps_fds = fds;
	src.ps_names = names;
	src.ps_n = n;
	src.ps_cafd = src.ps_scratch = -1;
	if (ref != NULL) {
		/* An image pull: where from, and a file for the blobs. */
		if (pull_registry_fill(ref, size, &pr, &src.ps_cafd, msg,
		    len) == -1)
			goto fail;
		src.ps_reg = &pr;
		if ((src.ps_scratch = openat(dfd, ".", O_TMPFILE | O_RDWR |
		    O_CLOEXEC, 0600)) == -1) {
			msgf(msg, len, "%s: a file for the blobs: %s", tmp,
			    strerror(errno));
			goto fail;
		}
	}
	memset(&pd, 0, sizeof(pd));
	rv = pull_run(fd, size, &src, progress, arg, &pd, msg, len);
	explicit_bzero(&pr, sizeof(pr));
	if (src.ps_cafd != -1)
		close(src.ps_cafd);
	if (src.ps_scratch != -1)
		close(src.ps_scratch);	/* unnamed: its blocks go with it */
	if (rv == -1)
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
	strlcpy(digest, pd.pd_digest, 80);
	return 0;
fail:
	close(fd);
	return -1;
}

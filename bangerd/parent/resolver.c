/*
 * The parent's resolver routing (see netops.h): the VM domain's DNS
 * queries sent to the bridge's DNS server through systemd-resolved's
 * resolvectl, run without a shell.  The bridge it names is checked to
 * be banger's through netops.c.
 *
 * Resolver.  systemd-resolved counts as running when resolvectl is
 * found on PATH and "resolvectl status" exits 0.  resolvectl runs
 * without a shell, with a minimal environment, /dev/null for stdin and
 * stdout, its stderr captured for the log, and a time limit.
 */
#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>

/* linux/rtnetlink.h's (for prefix messages) is not validate.h's. */
#undef PREFIX_MAX

#include "log.h"
#include "netops.h"
#include "validate.h"

#define RESOLVECTL	"resolvectl"
#define RUN_PATH	"/usr/sbin:/usr/bin:/sbin:/bin"
#define RUN_TIMEOUT_MS	10000
#define RUN_ERR_MAX	512		/* stderr kept for the log */
#define DOMAIN_MAX	253

static int	 resolvectl_find(char *, size_t);
static int	 run_drain(int, char *, size_t, size_t *, int);
static int	 run_cmd(const char *, const char *, char *const [], int);
static int	 resolved_running(const char *, char *, size_t);

static int	 resolved_absent_logged;

/*
 * resolvectl's path: the first executable regular file of that name in
 * an absolute directory of PATH (RUN_PATH when PATH is unset).
 */
static int
resolvectl_find(char *buf, size_t size)
{
	const char	*path, *p, *end;
	struct stat	 st;
	size_t		 len;
	int		 n;

	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = RUN_PATH;
	for (p = path; *p != '\0'; p = *end == ':' ? end + 1 : end) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		len = end - p;
		if (len == 0 || *p != '/')
			continue;
		n = snprintf(buf, size, "%.*s/%s", (int)len, p, RESOLVECTL);
		if (n < 0 || (size_t)n >= size)
			continue;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return (0);
	}
	return (-1);
}

/*
 * Read what the pipe holds into err (the rest is dropped).  1 at its
 * end; also 1 once the child has exited and it is empty, in case a
 * child of the child still holds it.
 */
static int
run_drain(int fd, char *err, size_t size, size_t *elenp, int exited)
{
	char	 junk[256];
	ssize_t	 n;

	for (;;) {
		if (*elenp < size - 1)
			n = read(fd, err + *elenp, size - 1 - *elenp);
		else
			n = read(fd, junk, sizeof(junk));
		if (n > 0) {
			if (*elenp < size - 1)
				*elenp += n;
			continue;
		}
		if (n == 0)
			return (1);
		if (errno == EINTR)
			continue;
		return (exited);
	}
}

/*
 * Run PATH with ARGV: no shell, environment RUN_PATH and LC_ALL=C,
 * stdin and stdout /dev/null, no other fd, RUN_TIMEOUT_MS at most.
 * Returns its exit status (logging its stderr unless quiet and it
 * exited 0), or -1 if it could not run, was killed or timed out.
 */
static int
run_cmd(const char *what, const char *path, char *const argv[], int quiet)
{
	static char *const envp[] = { "PATH=" RUN_PATH, "LC_ALL=C", NULL };
	struct pollfd	 pfd[2];
	struct timespec	 start, now;
	struct sigaction sa;
	sigset_t	 none;
	char		 err[RUN_ERR_MAX];
	size_t		 elen = 0, i;
	pid_t		 pid;
	long		 left;
	int		 p[2], pidfd = -1, status, exited = 0, eof = 0;
	int		 nfd, efd, saved_errno;

	sigemptyset(&none);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("%s: pipe", what);
		return (-1);
	}
	switch (pid = fork()) {
	case -1:
		saved_errno = errno;
		close(p[0]);
		close(p[1]);
		errno = saved_errno;
		log_warn("%s: fork", what);
		return (-1);
	case 0:
		/* Async-signal-safe calls only from here on. */
		sigprocmask(SIG_SETMASK, &none, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		/* Its own process group, so that a timeout kills it all. */
		setpgid(0, 0);
		if ((nfd = open("/dev/null", O_RDWR)) == -1 ||
		    (nfd = fcntl(nfd, F_DUPFD, 10)) == -1 ||
		    (efd = fcntl(p[1], F_DUPFD, 10)) == -1 ||
		    fcntl(efd, F_SETFL, 0) == -1 ||
		    dup2(nfd, STDIN_FILENO) == -1 ||
		    dup2(nfd, STDOUT_FILENO) == -1 ||
		    dup2(efd, STDERR_FILENO) == -1)
			_exit(126);
		close_range(3, ~0U, 0);
		execve(path, argv, envp);
		_exit(127);
	}
	close(p[1]);
	if ((pidfd = pidfd_open(pid, 0)) == -1) {
		log_warn("%s: pidfd_open", what);
		kill(-pid, SIGKILL);
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!exited || !eof) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = RUN_TIMEOUT_MS - ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0) {
			log_warnx("%s: %s timed out after %d ms; killed", what,
			    path, RUN_TIMEOUT_MS);
			kill(-pid, SIGKILL);
			errno = ETIMEDOUT;
			goto fail;
		}
		pfd[0].fd = eof ? -1 : p[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = exited ? -1 : pidfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s: poll", what);
			kill(-pid, SIGKILL);
			goto fail;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP))
			exited = 1;
		if (!eof && (exited || (pfd[0].revents & (POLLIN | POLLHUP))))
			eof = run_drain(p[0], err, sizeof(err), &elen, exited);
	}
	close(pidfd);
	close(p[0]);
	if (waitpid(pid, &status, 0) == -1) {
		log_warn("%s: waitpid", what);
		return (-1);
	}
	err[elen] = '\0';
	err[strcspn(err, "\n")] = '\0';
	for (i = 0; i < elen && err[i] != '\0'; i++)
		if (err[i] < 0x20 || err[i] >= 0x7f)
			err[i] = '?';
	if (WIFSIGNALED(status)) {
		log_warnx("%s: %s killed by signal %d", what, path,
		    WTERMSIG(status));
		errno = EIO;
		return (-1);
	}
	status = WEXITSTATUS(status);
	if (status == 127 || status == 126)
		log_warnx("%s: cannot run %s (status %d)", what, path, status);
	else if (status != 0 && !quiet)
		log_warnx("%s: %s %s exited with status %d%s%s", what, path,
		    argv[1], status, err[0] != '\0' ? ": " : "", err);
	else if (err[0] != '\0')
		log_debug("%s: %s %s: %s", what, path, argv[1], err);
	return (status);

 fail:
	saved_errno = errno;
	if (pidfd != -1)
		close(pidfd);
	close(p[0]);
	waitpid(pid, NULL, 0);
	errno = saved_errno;
	return (-1);
}

/*
 * 1 if systemd-resolved runs (resolvectl on PATH, "resolvectl status"
 * exits 0), with resolvectl's path in buf; 0 if not, logged once until
 * it runs again; -1 if resolvectl could not be run.
 */
static int
resolved_running(const char *what, char *buf, size_t size)
{
	char *const	 argv[] = { RESOLVECTL, "status", NULL };
	int		 st;

	if (resolvectl_find(buf, size) == -1)
		st = 1;
	else if ((st = run_cmd(what, buf, argv, 1)) == -1)
		return (-1);
	if (st == 0) {
		resolved_absent_logged = 0;
		return (1);
	}
	if (!resolved_absent_logged) {
		log_info("systemd-resolved not running: VM names resolve only "
		    "through the bridge's DNS");
		resolved_absent_logged = 1;
	} else
		log_debug("%s: systemd-resolved not running", what);
	return (0);
}

int
resolver_route(const char *bridge, struct in_addr dns, const char *domain,
    int *active)
{
	struct nl_sock		*sk = NULL;
	struct rtnl_link	*br = NULL;
	char			 path[PATH_MAX], a[INET_ADDRSTRLEN];
	char			 what[64], routed[DOMAIN_MAX + 2];
	char			*argv[5];
	const char		*why;
	int			 r;

	if (active != NULL)
		*active = 0;
	if (netops_check_name("resolver", bridge, valid_bridge_name) == -1)
		return (-1);
	snprintf(what, sizeof(what), "resolver %s", bridge);
	inet_ntop(AF_INET, &dns, a, sizeof(a));
	if (valid_bridge_addr(dns, 32, &why) == -1) {
		log_warnx("%s: refused: dns server %s: %s", what, a, why);
		errno = EINVAL;
		return (-1);
	}
	if (valid_domain(domain, &why) == -1) {
		log_warnx("%s: refused: domain %s: %s", what,
		    netops_show(domain), why);
		errno = EINVAL;
		return (-1);
	}
	if (active == NULL) {
		log_warnx("%s: refused: nowhere to say if it is active", what);
		errno = EINVAL;
		return (-1);
	}
	if (nl_open("resolver", bridge, &sk) == -1)
		return (-1);
	r = bridge_ours(sk, what, bridge, &br);
	if (br != NULL)
		rtnl_link_put(br);
	nl_socket_free(sk);
	if (r == -1)
		return (-1);

	if ((r = resolved_running(what, path, sizeof(path))) != 1)
		return (r);
	snprintf(routed, sizeof(routed), "~%s", domain);
	argv[0] = RESOLVECTL;
	argv[1] = "dns";
	argv[2] = (char *)bridge;
	argv[3] = a;
	argv[4] = NULL;
	if ((r = run_cmd(what, path, argv, 0)) == -1)
		return (-1);
	if (r == 0) {
		argv[1] = "domain";
		argv[3] = routed;
		if ((r = run_cmd(what, path, argv, 0)) == -1)
			return (-1);
	}
	if (r != 0) {
		errno = EIO;
		return (-1);
	}
	*active = 1;
	log_info("%s: %s resolved through %s", what, domain, a);
	return (0);
}

int
resolver_clear(const char *bridge)
{
	struct nl_sock		*sk = NULL;
	struct rtnl_link	*br = NULL;
	char			 path[PATH_MAX], what[64];
	char *const		 argv[] = { RESOLVECTL, "revert",
				    (char *)bridge, NULL };
	int			 r;

	if (netops_check_name("resolver", bridge, valid_bridge_name) == -1)
		return (-1);
	snprintf(what, sizeof(what), "resolver %s", bridge);
	if (nl_open("resolver", bridge, &sk) == -1)
		return (-1);
	r = link_get(sk, "bridge", bridge, "bridge", &br);
	if (br != NULL)
		rtnl_link_put(br);
	nl_socket_free(sk);
	switch (r) {
	case LINK_OURS:
		break;
	case LINK_MISSING:
		/* resolved forgets a link that is gone. */
		log_debug("%s: bridge gone, nothing to revert", what);
		return (0);
	case LINK_FOREIGN:
		log_warnx("%s: refused: bridge %s is not banger's", what,
		    bridge);
		errno = EPERM;
		return (-1);
	default:
		return (-1);
	}
	if ((r = resolved_running(what, path, sizeof(path))) != 1)
		return (r);
	if ((r = run_cmd(what, path, argv, 0)) == -1)
		return (-1);
	if (r != 0) {
		errno = EIO;
		return (-1);
	}
	log_info("%s: reverted", what);
	return (0);
}

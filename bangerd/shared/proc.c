/*
 * Worker processes: the parent forks and executes each worker's own
 * program (bangerd-vm, bangerd-net, bangerd-update, each linked with
 * the libraries its room uses), with the worker's end of a socketpair
 * on PROC_PARENT_FD, as vmd does, so every worker starts with a fresh
 * address space.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "proc.h"
#include "log.h"
#include "validate.h"

static const char *const proc_names[PROC_ROLES] = {
	[PROC_VM] = "vm",
	[PROC_NET] = "net",
	[PROC_UPDATE] = "update",
	[PROC_PULL] = "pull",
};

static const char *const proc_programs[PROC_ROLES] = {
	[PROC_VM] = "bangerd-vm",
	[PROC_NET] = "bangerd-net",
	[PROC_UPDATE] = "bangerd-update",
	[PROC_PULL] = "bangerd-pull",
};

/* The worker's program, installed beside bangerd. */
const char *
proc_program(int role)
{
	if (role < 0 || role >= PROC_ROLES)
		return "unknown";
	return proc_programs[role];
}

const char *
proc_name(int role)
{
	if (role < 0 || role >= PROC_ROLES)
		return "unknown";
	return proc_names[role];
}

/*
 * A worker's root directory: the state directory itself for the vm
 * worker (it reaches VM records and API sockets there), STATE/ROLE for
 * the others.
 */
int
worker_root(int role, const struct bangerd_config *conf, char *buf,
    size_t len)
{
	int	 n;

	if (role == PROC_VM)
		n = snprintf(buf, len, "%s", conf->cf_statedir);
	else
		n = snprintf(buf, len, "%s/%s", conf->cf_statedir,
		    proc_name(role));
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

/*
 * Fork and execute the worker program for role (exefd: bangerd-ROLE,
 * opened at start).  Returns the child's pid and the parent's end of the
 * channel in *fdp.
 */
pid_t
proc_exec_worker(int role, int exefd, int debug, int verbose, int *fdp)
{
	extern char	**environ;
	char		*argv[8], *envp[8];
	int		 sp[2], argc = 0, envc = 0, i;
	pid_t		 pid;

	/*
	 * Neither end ever blocks: the parent and a worker that both have
	 * much to say (the VMs announced at a restart) each write what
	 * the socket takes and read meanwhile.
	 */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		return -1;

	switch (pid = fork()) {
	case -1:
		close(sp[0]);
		close(sp[1]);
		return -1;
	case 0:
		break;
	default:
		close(sp[1]);
		*fdp = sp[0];
		return pid;
	}

	/* child */
	if (sp[1] == PROC_PARENT_FD) {
		if (fcntl(sp[1], F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(sp[1], PROC_PARENT_FD) == -1)
		_exit(127);
	closefrom(PROC_PARENT_FD + 1 > exefd ? PROC_PARENT_FD + 1 : exefd + 1);
	for (i = PROC_PARENT_FD + 1; i < exefd; i++)
		close(i);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);

	argv[argc++] = (char *)proc_programs[role];
	argv[argc++] = (char *)"-P";
	argv[argc++] = (char *)proc_names[role];
	if (debug)
		argv[argc++] = (char *)"-d";
	if (verbose)
		argv[argc++] = (char *)"-v";
	argv[argc] = NULL;

	/*
	 * No inherited environment, but for the sanitizers' settings, and
	 * GnuTLS told not to start itself as it loads: libcurl loads it
	 * (for librtmp) into the workers that link libcurl, which use
	 * OpenSSL's TLS or none, and its start (p11-kit's modules among
	 * it) left 0.75 MiB in each of them.
	 */
	envp[envc++] = (char *)"GNUTLS_NO_IMPLICIT_INIT=1";
	for (i = 0; environ[i] != NULL && envc < 7; i++)
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13) == 0 ||
		    strncmp(environ[i], "UBSAN_OPTIONS=", 14) == 0 ||
		    strncmp(environ[i], "LSAN_OPTIONS=", 13) == 0)
			envp[envc++] = environ[i];
	envp[envc] = NULL;

	execveat(exefd, "", argv, envp, AT_EMPTY_PATH);
	_exit(127);
}

int
imsgev_init(struct imsgev *iev, int fd, void (*handler)(int, short, void *),
    void *data)
{
	memset(iev, 0, sizeof(*iev));
	if (imsgbuf_init(&iev->ibuf, fd) == -1)
		return -1;
	iev->handler = handler;
	iev->data = data;
	iev->events = 0;
	event_set(&iev->ev, fd, EV_READ, handler, data);
	return 0;
}

void
imsgev_clear(struct imsgev *iev)
{
	if (iev->events)
		event_del(&iev->ev);
	iev->events = 0;
	imsgbuf_clear(&iev->ibuf);
}

/*
 * Set while what a process has composed must not leave it yet (the vm
 * worker's records waiting for their group commit, registry.c): the
 * messages stay queued, and go once it is cleared and each channel's
 * events are added again.
 */
int	 imsg_hold;

void
imsg_event_add(struct imsgev *iev)
{
	short	 events;

	/* No event loop (a worker before it is ready): written then. */
	if (iev->handler == NULL)
		return;
	events = iev->no_read ? 0 : EV_READ;
	if (imsgbuf_queuelen(&iev->ibuf) > 0 && !imsg_hold)
		events |= EV_WRITE;
	/*
	 * Already waiting for just these: nothing to change, and nothing
	 * to tell the kernel (a burst of messages re-armed it for each).
	 */
	if (events != 0 && events == iev->events &&
	    event_pending(&iev->ev, EV_READ | EV_WRITE, NULL) == events &&
	    event_get_callback(&iev->ev) == iev->handler &&
	    event_get_callback_arg(&iev->ev) == iev->data)
		return;
	if (iev->events)
		event_del(&iev->ev);
	iev->events = events;
	if (iev->events == 0)
		return;
	event_set(&iev->ev, iev->ibuf.fd, iev->events, iev->handler,
	    iev->data);
	event_add(&iev->ev, NULL);
}

/*
 * What is queued written now, as much as the socket takes, whether the
 * loop holds it back (imsg_hold) or not; the rest, and a write error,
 * wait for the event loop.  For a message whose receiver should not
 * wait for this turn of the loop to end.
 */
void
imsg_event_write(struct imsgev *iev)
{
	(void)imsgbuf_write(&iev->ibuf);
	imsg_event_add(iev);
}

int
imsg_compose_event(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t datalen)
{
	int	 ret;

	if ((ret = imsg_compose(&iev->ibuf, type, peerid, pid, fd, data,
	    datalen)) != -1)
		imsg_event_add(iev);
	return ret;
}

/*
 * Copy a message's payload into a fixed-size struct, failing unless the
 * sizes match exactly.
 */
int
imsg_read_exact(struct imsg *imsg, void *data, size_t len)
{
	if (imsg_get_len(imsg) != len) {
		errno = EBADMSG;
		return -1;
	}
	if (len == 0)
		return 0;
	return imsg_get_data(imsg, data, len);
}

int
imsg_send_result(struct imsgev *iev, uint32_t type, uint32_t peerid,
    int error, const char *fmt, ...)
{
	struct result	 res;
	va_list		 ap;

	memset(&res, 0, sizeof(res));
	res.res_error = error;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(res.res_msg, sizeof(res.res_msg), fmt, ap);
		va_end(ap);
	}
	return imsg_compose_event(iev, type, peerid, 0, -1, &res,
	    sizeof(res));
}

/*
 * A worker program's main(): bangerd-ROLE -P ROLE [-d] [-v], as
 * proc_exec_worker() runs it, with the channel to the parent on
 * PROC_PARENT_FD.  Then its life: wait for the parent's worker_init,
 * enter the sandbox, report ready and hand over to the role's event
 * loop.  The role is the caller's (the room's main.c), so that nothing
 * here calls into a worker's room.
 */
void
worker_start(int argc, char *argv[], char *envp[], const struct proc_role *r)
{
	struct worker_init	 wi;
	struct worker_ready	 wr;
	struct imsgev		*iev;
	struct imsg		 imsg;
	struct stat		 st;
	ssize_t			 n;
	size_t			 len;
	const char		*rolename = proc_name(r->pr_role);
	int			 ch, debug = 0, verbose = 0;
	int			 role = r->pr_role;

	while ((ch = getopt(argc, argv, "dP:v")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'P':
			if (strcmp(optarg, rolename) != 0)
				errx(1, "-P %s: this program is the %s worker",
				    optarg, rolename);
			break;
		case 'v':
			verbose++;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	/* Started by hand, without bangerd's channel: say so, and stop. */
	if (fstat(PROC_PARENT_FD, &st) == -1 || !S_ISSOCK(st.st_mode))
		errx(1, "%s is the %s worker: bangerd starts it, with its "
		    "channel on descriptor %d", proc_program(role), rolename,
		    PROC_PARENT_FD);
	setproctitle_init(argc, argv, envp);
	log_init(debug, LOG_DAEMON);
	log_setverbose(verbose);
	log_procinit(rolename);
	/* "bangerd: vm", as the parent is "bangerd: parent" */
	setproctitle("-bangerd: %s", rolename);

	if ((iev = calloc(1, sizeof(*iev))) == NULL)
		fatal("%s", __func__);
	if (imsgbuf_init(&iev->ibuf, PROC_PARENT_FD) == -1)
		fatal("%s: imsgbuf_init", __func__);
	if (role == PROC_VM || role == PROC_NET || role == PROC_UPDATE ||
	    role == PROC_PULL)
		imsgbuf_allow_fdpass(&iev->ibuf);

	/* The first message is worker_init, read synchronously. */
	for (;;) {
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1)
			fatal("%s: imsg_get", __func__);
		if (n > 0)
			break;
		switch (imsgbuf_read(&iev->ibuf)) {
		case -1:
			if (errno == EAGAIN) {
				struct pollfd	 pfd = { PROC_PARENT_FD, POLLIN, 0 };

				(void)poll(&pfd, 1, -1);
				continue;
			}
			if (errno == EINTR)
				continue;
			fatal("%s: imsgbuf_read", __func__);
		case 0:
			fatalx("parent closed the channel before init");
		}
	}
	if (imsg_get_type(&imsg) != IMSG_WORKER_INIT ||
	    imsg_read_exact(&imsg, &wi, sizeof(wi)) == -1)
		fatalx("first message from parent is not worker_init");
	imsg_free(&imsg);
	if (wi.wi_proto != BANGER_PROTO_VERSION)
		fatalx("protocol version %u, expected %u", wi.wi_proto,
		    BANGER_PROTO_VERSION);
	/* A worker program of another release than its parent's: refuse. */
	if (wire_string(wi.wi_version, sizeof(wi.wi_version), &len) == -1 ||
	    strcmp(wi.wi_version, BANGER_VERSION) != 0)
		fatalx("%s is version %s, bangerd %.*s: install both from "
		    "one release", proc_program(role), BANGER_VERSION,
		    (int)sizeof(wi.wi_version), wi.wi_version);
	if (wire_string(wi.wi_role, sizeof(wi.wi_role), &len) == -1 ||
	    strcmp(wi.wi_role, rolename) != 0 ||
	    wire_string(wi.wi_chroot, sizeof(wi.wi_chroot), &len) == -1)
		fatalx("worker_init for the wrong role or malformed");
	if ((wi.wi_flags & ~WI_F_NET) != 0 ||
	    ((wi.wi_flags & WI_F_NET) && role != PROC_PULL))
		fatalx("worker_init with flags 0x%x for %s", wi.wi_flags,
		    rolename);
	log_setverbose(wi.wi_verbose);

	event_init();
	/* Libraries that read files at initialisation do it before chroot. */
	if (r->pr_preinit != NULL && r->pr_preinit(&wi) == -1)
		fatalx("%s worker: cannot start its libraries", rolename);
	sandbox_enter(role, wi.wi_nofile, &wi);

	memset(&wr, 0, sizeof(wr));
	wr.wr_proto = BANGER_PROTO_VERSION;
	strlcpy(wr.wr_role, rolename, sizeof(wr.wr_role));
	strlcpy(wr.wr_version, BANGER_VERSION, sizeof(wr.wr_version));
	if (imsg_compose(&iev->ibuf, IMSG_WORKER_READY, 0, 0, -1, &wr,
	    sizeof(wr)) == -1)
		fatal("%s: imsg_compose", __func__);

	log_debug("%s worker ready: uid %u, root %s", rolename,
	    (unsigned)getuid(), wi.wi_chroot);
	proc_trim_start();

	r->pr_main(iev, &wi);
	exit(0);
 usage:
	errx(1, "usage: %s -P %s [-dv] (bangerd starts it)",
	    proc_program(role), rolename);
}

/*
 * Memory freed after a burst of work (a thousand VMs created, a prune)
 * stays in the heap between what is still held, counted against the
 * process.  Every PROC_TRIM_SECS, if more than PROC_TRIM_MIN is free
 * in it, its free pages go back to the kernel (malloc_trim).
 */
#define PROC_TRIM_SECS	2
#define PROC_TRIM_MIN	(256 * 1024)

static struct event	 trim_ev;

static void
proc_trim(int fd, short event, void *arg)
{
	struct mallinfo2	 mi = mallinfo2();

	if (mi.fordblks > PROC_TRIM_MIN)
		(void)malloc_trim(0);
}

void
proc_trim_start(void)
{
	struct timeval	 tv = { PROC_TRIM_SECS, 0 };

	event_set(&trim_ev, -1, EV_PERSIST, proc_trim, NULL);
	event_add(&trim_ev, &tv);
}

static int	(*worker_handler)(struct imsgev *, struct imsg *);

void
worker_set_handler(int (*handler)(struct imsgev *, struct imsg *))
{
	worker_handler = handler;
}

/*
 * A worker's channel to the parent.  The parent is trusted, so a message
 * the worker does not understand is a bug: the worker ends and the parent
 * restarts it.  When the parent goes away, so does the worker.
 */
void
worker_dispatch_parent(int fd, short event, void *arg)
{
	struct imsgev		*iev = arg;
	struct imsgbuf		*ibuf = &iev->ibuf;
	struct set_verbose	 sv;
	struct imsg		 imsg;
	ssize_t			 n;

	if (event & EV_READ) {
		if ((n = imsgbuf_read(ibuf)) == -1 && errno != EAGAIN)
			fatal("%s: imsgbuf_read", __func__);
		if (n == 0)
			exit(0);
	}
	if ((event & EV_WRITE) && !imsg_hold) {
		if (imsgbuf_write(ibuf) == -1) {
			if (errno == EPIPE)
				exit(0);
			fatal("%s: imsgbuf_write", __func__);
		}
	}
	for (;;) {
		if ((n = imsg_get(ibuf, &imsg)) == -1)
			fatal("%s: imsg_get", __func__);
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_SET_VERBOSE:
			if (imsg_read_exact(&imsg, &sv, sizeof(sv)) == -1)
				fatalx("%s: bad set_verbose", __func__);
			log_setverbose(sv.sv_verbose);
			break;
		default:
			if (worker_handler == NULL ||
			    worker_handler(iev, &imsg) == -1)
				fatalx("%s: unexpected message type %u from "
				    "the parent", __func__,
				    imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
	imsg_event_add(iev);
}

/*
 * A VM's console and logs: what its pty says, into console.log and to
 * the clients that follow it (vm logs -f) or hold it (vm console), what
 * the holder types, back to the pty; and Firecracker's own log and
 * metrics, read from their FIFOs into the VM's directory.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmint.h"
#include "fcjail.h"
#include "log.h"

#define CONSOLE_MAX		(1 << 20)	/* then it becomes .0 */
#define FCLOG_MAX		(1 << 20)	/* then it becomes .0 */
#define METRICS_LINE_MAX	(256 * 1024)	/* one flush; longer is dropped */
/*
 * Typed, not yet taken by the pty: past CONSOLE_IN_HIGH we stop reading
 * the client until the guest has read it down to CONSOLE_IN_LOW; the
 * messages already read may take it to CONSOLE_IN_MAX, beyond which
 * input is dropped.
 */
#define CONSOLE_IN_HIGH		(64 * 1024)
#define CONSOLE_IN_LOW		(16 * 1024)
#define CONSOLE_IN_MAX		(256 * 1024)

/*
 * The console.  What the pty says goes to console.log and to every
 * client that follows it (vm logs -f) or is attached (vm console); what
 * the attached client types goes to the pty.  The log is kept across
 * boots, each boot and stop marked by a line of ours ("[banger] ..."),
 * and capped: past CONSOLE_MAX it becomes console.log.0 (replacing the
 * one before) and a new console.log starts.
 */
static void
vm_console_path(const struct vm *v, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s/%s", VMS_DIR, v->v_id, name);
}

static void
vm_log_open(struct vm *v)
{
	char	 path[128], last;
	off_t	 off;

	if (v->v_logfd != -1)
		return;
	vm_console_path(v, VM_CONSOLE, path, sizeof(path));
	if ((v->v_logfd = open(path, O_RDWR | O_CREAT | O_APPEND |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		log_warn("vm %s: %s", v->v_name, path);
		return;
	}
	/* Our marks start a line of their own. */
	v->v_log_nl = 1;
	if ((off = lseek(v->v_logfd, 0, SEEK_END)) > 0 &&
	    pread(v->v_logfd, &last, 1, off - 1) == 1)
		v->v_log_nl = last == '\n';
}

static void
vm_log_rotate(struct vm *v)
{
	char	 path[128], old[128];

	vm_console_path(v, VM_CONSOLE, path, sizeof(path));
	vm_console_path(v, VM_CONSOLE_OLD, old, sizeof(old));
	if (rename(path, old) == -1) {
		log_warn("vm %s: rename %s", v->v_name, path);
		if (ftruncate(v->v_logfd, 0) == -1)
			log_warn("vm %s: console log", v->v_name);
		return;
	}
	close(v->v_logfd);
	v->v_logfd = -1;
	vm_log_open(v);
}

/*
 * Every VM's viewers, in one list too: a client's hang-up, and the
 * one-console check, look among the viewers, not through every VM.
 */
static TAILQ_HEAD(, vm_viewer) viewers = TAILQ_HEAD_INITIALIZER(viewers);

static void
vm_viewer_remove(struct vm *v, struct vm_viewer *vv)
{
	if (vv->vv_attached && v->v_writer == vv->vv_client) {
		if (v->v_inpaused)
			control_pause(v->v_writer, 0);
		v->v_inpaused = 0;
		v->v_writer = 0;
		v->v_inlen = 0;
		log_info("vm %s: console detached (client %u)", v->v_name,
		    vv->vv_client);
	}
	TAILQ_REMOVE(&v->v_viewers, vv, vv_entry);
	TAILQ_REMOVE(&viewers, vv, vv_all);
	free(vv);
}

/* Console output: into the log, and to each client that sees it. */
static void
vm_console_emit(struct vm *v, const char *buf, size_t n)
{
	struct vm_viewer	*vv, *tvv;
	size_t			 off, chunk;

	if (n == 0)
		return;
	if (v->v_logfd != -1) {
		if (lseek(v->v_logfd, 0, SEEK_END) >= CONSOLE_MAX)
			vm_log_rotate(v);
		if (v->v_logfd != -1 && write(v->v_logfd, buf, n) == -1)
			log_warn("vm %s: console log", v->v_name);
		v->v_log_nl = buf[n - 1] == '\n';
	}
	TAILQ_FOREACH_SAFE(vv, &v->v_viewers, vv_entry, tvv)
		for (off = 0; off < n; off += chunk) {
			chunk = n - off < PROTO_CONSOLE_CHUNK ? n - off :
			    PROTO_CONSOLE_CHUNK;
			if (control_data(vv->vv_client, IMSG_CTL_CONSOLE_OUT,
			    buf + off, chunk) == -1) {
				vm_viewer_remove(v, vv);
				break;
			}
		}
}

/* A line of ours in the console's stream: "[banger] vm NAME ...". */
void
vm_console_mark(struct vm *v, const char *fmt, ...)
{
	char		 line[PROTO_MSG_MAX + 128], what[PROTO_MSG_MAX], ts[32];
	time_t		 now = time(NULL);
	struct tm	 tm;
	va_list		 ap;
	int		 n;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	vm_log_open(v);
	n = snprintf(line, sizeof(line), "%s[banger] %s vm %s %s\n",
	    v->v_log_nl ? "" : "\n", ts, v->v_name, what);
	if (n > 0)
		vm_console_emit(v, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

/* End the session of attached clients (all: followers too) with a result. */
void
vm_viewers_end(struct vm *v, int all, int error, const char *fmt, ...)
{
	struct vm_viewer	*vv, *tvv;
	char			 msg[PROTO_MSG_MAX];
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	TAILQ_FOREACH_SAFE(vv, &v->v_viewers, vv_entry, tvv) {
		if (!all && !vv->vv_attached)
			continue;
		control_reply(vv->vv_client, error, "%s", msg);
		vm_viewer_remove(v, vv);
	}
}

static void
vm_console_read(int fd, short event, void *arg)
{
	struct vm	*v = arg;
	char		 buf[PROTO_CONSOLE_CHUNK];
	ssize_t		 n;

	if ((n = read(fd, buf, sizeof(buf))) <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		vm_console_close(v, NULL);
		return;
	}
	vm_console_emit(v, buf, n);
}

/* What the attached client typed, as far as the pty takes it now. */
static void
vm_console_flush(int fd, short event, void *arg)
{
	struct vm	*v = arg;
	ssize_t		 n;

	if (v->v_ptyfd == -1 || v->v_inlen == 0)
		return;
	if ((n = write(v->v_ptyfd, v->v_inbuf, v->v_inlen)) == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			log_warn("vm %s: console input", v->v_name);
			n = v->v_inlen;
		} else
			n = 0;
	}
	memmove(v->v_inbuf, v->v_inbuf + n, v->v_inlen - n);
	v->v_inlen -= n;
	if (v->v_inlen > 0)
		event_add(&v->v_pty_wev, NULL);
	if (v->v_inpaused && v->v_inlen <= CONSOLE_IN_LOW) {
		v->v_inpaused = 0;
		control_pause(v->v_writer, 0);
	}
}

void
vm_console_open(struct vm *v, int ptyfd)
{
	vm_console_close(v, NULL);
	v->v_ptyfd = ptyfd;
	fcntl(ptyfd, F_SETFL, fcntl(ptyfd, F_GETFL) | O_NONBLOCK);
	vm_log_open(v);
	event_set(&v->v_pty_ev, ptyfd, EV_READ | EV_PERSIST, vm_console_read,
	    v);
	event_add(&v->v_pty_ev, NULL);
	event_set(&v->v_pty_wev, ptyfd, EV_WRITE, vm_console_flush, v);
}

/* The pty is done with; why, if given, is marked in the log. */
void
vm_console_close(struct vm *v, const char *why)
{
	if (v->v_ptyfd != -1) {
		/* What the console said last is still in the pty. */
		while (v->v_ptyfd != -1) {
			char	 buf[PROTO_CONSOLE_CHUNK];
			ssize_t	 n;

			if ((n = read(v->v_ptyfd, buf, sizeof(buf))) <= 0)
				break;
			vm_console_emit(v, buf, n);
		}
		event_del(&v->v_pty_ev);
		event_del(&v->v_pty_wev);
		close(v->v_ptyfd);
		v->v_ptyfd = -1;
		v->v_inlen = 0;
		if (v->v_inpaused) {
			v->v_inpaused = 0;
			control_pause(v->v_writer, 0);
		}
	}
	if (why != NULL)
		vm_console_mark(v, "%s", why);
	if (v->v_logfd != -1) {
		close(v->v_logfd);
		v->v_logfd = -1;
	}
}

/*
 * Firecracker's own log and metrics.  The parent made two FIFOs in the
 * jail's run/ (jail_fifos()); we open their read ends before Firecracker
 * is told of them and keep what comes through where it outlives the
 * jail, which goes when the VM stops: the log is appended to
 * VMS_DIR/ID/firecracker.log (past FCLOG_MAX it becomes .0), and each
 * metrics flush (one JSON object a line) replaces VMS_DIR/ID/metrics.json
 * atomically.  Firecracker opens them read-write and non-blocking: if we
 * fall behind it drops lines rather than blocking.
 */
static int
vm_fifo_open(const struct vm *v, const char *inside, char *err,
    size_t errlen)
{
	char		 path[PROTO_PATH_MAX + 64];
	size_t		 n = strlen(S(v->v_socket)), sl = strlen(JAIL_API_SOCK);
	struct stat	 st;
	int		 fd;

	/* v_socket is the jail root in our root, then JAIL_API_SOCK. */
	if (n < sl || strcmp(v->v_socket + n - sl, JAIL_API_SOCK) != 0) {
		snprintf(err, errlen, "no jail for firecracker's %s", inside);
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "%.*s%s", (int)(n - sl), S(v->v_socket),
	    inside);
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "firecracker's %s: %s", inside,
		    strerror(errno));
		return -1;
	}
	/* run/ is the VM's: take nothing but a FIFO from it. */
	if (fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		snprintf(err, errlen, "firecracker's %s: not a FIFO", inside);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/*
 * Firecracker logs little once a VM runs: the file is opened for each
 * write, not held, which leaves a running VM four descriptors here.
 */
static void
vm_fclog_write(struct vm *v, const char *buf, size_t n)
{
	char		 path[128], old[128];
	struct stat	 st;
	int		 fd, trunc = 0;

	vm_console_path(v, VM_FCLOG, path, sizeof(path));
	if (lstat(path, &st) == 0 && st.st_size >= FCLOG_MAX) {
		vm_console_path(v, VM_FCLOG_OLD, old, sizeof(old));
		if (rename(path, old) == -1) {
			log_warn("vm %s: rename %s", v->v_name, path);
			trunc = O_TRUNC;
		}
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC | trunc, 0600)) == -1) {
		log_warn("vm %s: %s", v->v_name, path);
		return;
	}
	if (write(fd, buf, n) == -1)
		log_warn("vm %s: %s", v->v_name, path);
	close(fd);
}

/* One metrics flush: if it is a JSON object, it replaces metrics.json. */
static void
vm_metrics_save(struct vm *v, const char *line, size_t len)
{
	char		 path[128], tmp[128];
	json_error_t	 jerr;
	json_t		*j;
	int		 fd, ok;

	j = json_loadb(line, len, 0, &jerr);
	ok = j != NULL && json_is_object(j);
	json_decref(j);
	if (!ok) {
		log_debug("vm %s: metrics: not a JSON object, ignored",
		    v->v_name);
		return;
	}
	vm_console_path(v, VM_METRICS, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s/%s/.%s.tmp", VMS_DIR, v->v_id,
	    VM_METRICS);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("vm %s: %s", v->v_name, tmp);
		return;
	}
	/*
	 * Not synced: metrics are no record, and a sync here, once a
	 * minute for every running VM, would hold the worker's loop.
	 */
	if (write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		log_warn("vm %s: write %s", v->v_name, tmp);
		close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		log_warn("vm %s: rename %s", v->v_name, tmp);
		unlink(tmp);
	}
}

static void
vm_metrics_feed(struct vm *v, const char *buf, size_t n)
{
	const char	*nl;
	size_t		 chunk;
	char		*nb;

	while (n > 0) {
		nl = memchr(buf, '\n', n);
		chunk = nl != NULL ? (size_t)(nl - buf) : n;
		if (!v->v_mskip && v->v_mlen + chunk > METRICS_LINE_MAX) {
			log_warnx("vm %s: a metrics line longer than %d "
			    "bytes, dropped", v->v_name, METRICS_LINE_MAX);
			v->v_mskip = 1;
		}
		if (!v->v_mskip && chunk > 0) {
			if ((nb = realloc(v->v_mbuf, v->v_mlen + chunk)) ==
			    NULL)
				fatal(NULL);
			v->v_mbuf = nb;
			memcpy(v->v_mbuf + v->v_mlen, buf, chunk);
			v->v_mlen += chunk;
		}
		if (nl == NULL)
			return;
		if (!v->v_mskip && v->v_mlen > 0)
			vm_metrics_save(v, v->v_mbuf, v->v_mlen);
		/* A line a minute: not worth its kilobytes in between. */
		free(v->v_mbuf);
		v->v_mbuf = NULL;
		v->v_mlen = 0;
		v->v_mskip = 0;
		buf = nl + 1;
		n -= chunk + 1;
	}
}

/* One read of a FIFO: >0 taken, 0 at its end, -1 nothing now or error. */
static ssize_t
vm_fifo_pull(struct vm *v, int metrics)
{
	char	 buf[8192];
	ssize_t	 n;

	if ((n = read(metrics ? v->v_metricsfd : v->v_fclogfd, buf,
	    sizeof(buf))) <= 0)
		return n;
	if (metrics)
		vm_metrics_feed(v, buf, n);
	else
		vm_fclog_write(v, buf, n);
	return n;
}

/* Take what is left in a FIFO, then close it. */
static void
vm_fifo_end(struct vm *v, int metrics)
{
	int	*fdp = metrics ? &v->v_metricsfd : &v->v_fclogfd;

	if (*fdp == -1)
		return;
	while (vm_fifo_pull(v, metrics) > 0)
		;
	event_del(metrics ? &v->v_metrics_ev : &v->v_fclog_ev);
	close(*fdp);
	*fdp = -1;
}

static void
vm_fifo_read(struct vm *v, int metrics)
{
	ssize_t	 n;

	n = vm_fifo_pull(v, metrics);
	/* 0: Firecracker, the only writer, closed it (it ended). */
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		vm_fifo_end(v, metrics);
}

/*
 * While the boot's requests run, Firecracker's log and metrics are read
 * after each answer (vm_fcout_drain), not as they come: Firecracker logs
 * each request just before it answers it, and a worker woken for the
 * line would be woken again for the answer, twice a request.  Held,
 * their events are off; let go, what is there is read and they are on
 * again (letting go of FIFOs not held reads what the events would, and
 * adds events already added: nothing).  At most a few lines a request
 * wait in the FIFO's 64 KiB.
 */
void
vm_fcout_hold(struct vm *v, int hold)
{
	if (hold) {
		if (v->v_fclogfd != -1)
			event_del(&v->v_fclog_ev);
		if (v->v_metricsfd != -1)
			event_del(&v->v_metrics_ev);
		return;
	}
	vm_fcout_drain(v);
	if (v->v_fclogfd != -1)
		event_add(&v->v_fclog_ev, NULL);
	if (v->v_metricsfd != -1)
		event_add(&v->v_metrics_ev, NULL);
}

/*
 * What the FIFOs hold now, taken.  An end of file is left to their
 * events: a FIFO Firecracker has not opened yet (it opens each at its
 * PUT) reads as one too.
 */
void
vm_fcout_drain(struct vm *v)
{
	ssize_t	 n;
	int	 m;

	for (m = 0; m <= 1; m++) {
		if ((m ? v->v_metricsfd : v->v_fclogfd) == -1)
			continue;
		while ((n = vm_fifo_pull(v, m)) > 0)
			;
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			vm_fifo_end(v, m);
	}
}

static void
vm_fclog_ready(int fd, short event, void *arg)
{
	vm_fifo_read(arg, 0);
}

static void
vm_metrics_ready(int fd, short event, void *arg)
{
	vm_fifo_read(arg, 1);
}

int
vm_fcout_open(struct vm *v, char *err, size_t errlen)
{
	vm_fcout_close(v);
	if ((v->v_fclogfd = vm_fifo_open(v, JAIL_LOG, err, errlen)) == -1)
		return -1;
	if ((v->v_metricsfd = vm_fifo_open(v, JAIL_METRICS, err,
	    errlen)) == -1) {
		close(v->v_fclogfd);
		v->v_fclogfd = -1;
		return -1;
	}
	event_set(&v->v_fclog_ev, v->v_fclogfd, EV_READ | EV_PERSIST,
	    vm_fclog_ready, v);
	event_add(&v->v_fclog_ev, NULL);
	event_set(&v->v_metrics_ev, v->v_metricsfd, EV_READ | EV_PERSIST,
	    vm_metrics_ready, v);
	event_add(&v->v_metrics_ev, NULL);
	return 0;
}

/* Firecracker ended (or we let go): keep what it wrote last. */
void
vm_fcout_close(struct vm *v)
{
	vm_fifo_end(v, 0);
	vm_fifo_end(v, 1);
	v->v_mlen = 0;
	v->v_mskip = 0;
}

/* A client follows or holds at most one console at a time. */
static int
vm_client_busy(uint32_t client)
{
	struct vm_viewer	*vv;

	TAILQ_FOREACH(vv, &viewers, vv_all)
		if (vv->vv_client == client)
			return 1;
	return 0;
}

static struct vm *
vm_ctl_console_vm(uint32_t client, uid_t uid, const struct ctl_console *cs)
{
	struct vm	*v;
	size_t		 len;

	if (wire_string(cs->cs_name, sizeof(cs->cs_name), &len) == -1 ||
	    (cs->cs_flags & ~CTL_CONSOLE_F_FOLLOW) != 0) {
		control_reply(client, EINVAL, "bad request");
		return NULL;
	}
	if ((v = vm_by_name(cs->cs_name)) == NULL || !vm_visible(v, uid)) {
		control_reply(client, ENOENT, "no VM named %s", cs->cs_name);
		return NULL;
	}
	if (vm_client_busy(client)) {
		control_reply(client, EBUSY, "one console or log per "
		    "connection");
		return NULL;
	}
	return v;
}

static void
vm_viewer_add(struct vm *v, uint32_t client, int attached)
{
	struct vm_viewer	*vv;

	if ((vv = calloc(1, sizeof(*vv))) == NULL)
		fatal(NULL);
	vv->vv_client = client;
	vv->vv_attached = attached;
	vv->vv_vm = v;
	TAILQ_INSERT_TAIL(&v->v_viewers, vv, vv_entry);
	TAILQ_INSERT_TAIL(&viewers, vv, vv_all);
}

/*
 * vm logs: the client gets read-only descriptors on the log files and
 * reads them itself, so a megabyte of history is never copied through
 * this process, and the file's size now, so that it stops exactly where
 * what it is sent next (with -f) begins: nothing twice, nothing missed,
 * even if the log is rotated meanwhile (its descriptor keeps the file).
 */
void
vm_ctl_logs(uint32_t client, uid_t uid, const struct ctl_console *cs)
{
	static const char *const names[] = { VM_CONSOLE_OLD, VM_CONSOLE };
	struct ctl_logfd lf;
	struct stat	 st;
	struct vm	*v;
	char		 path[128];
	size_t		 i;
	int		 fd;

	if ((v = vm_ctl_console_vm(client, uid, cs)) == NULL)
		return;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		vm_console_path(v, names[i], path, sizeof(path));
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
			if (errno != ENOENT)
				log_warn("vm %s: %s", v->v_name, path);
			continue;
		}
		if (fstat(fd, &st) == -1 || st.st_size == 0) {
			close(fd);
			continue;
		}
		memset(&lf, 0, sizeof(lf));
		lf.lf_size = st.st_size;
		if (control_fd(client, IMSG_CTL_VM_LOGFD, fd, &lf,
		    sizeof(lf)) == -1)
			return;
	}
	if (cs->cs_flags & CTL_CONSOLE_F_FOLLOW)
		vm_viewer_add(v, client, 0);
	else
		control_reply(client, 0, "%s", "");
}

/*
 * vm console: one client at a time may type; a second is refused and
 * told who holds it (vm logs -f shows the output to any number).
 */
void
vm_ctl_console(uint32_t client, uid_t uid, const struct ctl_console *cs)
{
	struct ucred	 cr;
	struct vm	*v;

	if ((v = vm_ctl_console_vm(client, uid, cs)) == NULL)
		return;
	if (cs->cs_flags != 0) {
		control_reply(client, EINVAL, "bad request");
		return;
	}
	if (v->v_state != VM_RUNNING && v->v_state != VM_PAUSED) {
		control_reply(client, ENOTCONN, "vm %s is not running (%s): "
		    "start it first; \"bangerctl vm logs %s\" shows what its "
		    "console said", v->v_name, state_name(v->v_state),
		    v->v_name);
		return;
	}
	if (v->v_ptyfd == -1) {
		control_reply(client, ENOTCONN, "vm %s: its console is not "
		    "connected (bangerd restarted since the VM started); it "
		    "is again from the VM's next start", v->v_name);
		return;
	}
	if (v->v_writer != 0) {
		if (control_cred(v->v_writer, &cr) == 0)
			control_reply(client, EBUSY, "vm %s: its console is in "
			    "use by uid %u (pid %d); one client at a time: "
			    "that one must detach first (~.)", v->v_name,
			    (unsigned)cr.uid, (int)cr.pid);
		else
			control_reply(client, EBUSY, "vm %s: its console is "
			    "in use", v->v_name);
		return;
	}
	vm_viewer_add(v, client, 1);
	v->v_writer = client;
	if (control_cred(client, &cr) == 0)
		log_info("vm %s: console attached by uid %u (pid %d)",
		    v->v_name, (unsigned)cr.uid, (int)cr.pid);
	(void)control_data(client, IMSG_CTL_CONSOLE_READY, NULL, 0);
}

/* Typed by a client: for the console it holds, if it still does. */
void
vm_console_input(uint32_t client, const void *data, size_t len)
{
	struct vm_viewer	*vv;
	struct vm		*v = NULL;
	size_t			 room;

	TAILQ_FOREACH(vv, &viewers, vv_all)
		if (vv->vv_attached && vv->vv_vm->v_writer == client) {
			v = vv->vv_vm;
			break;
		}
	if (v == NULL || v->v_ptyfd == -1)
		return;
	room = CONSOLE_IN_MAX - v->v_inlen;
	if (len > room) {
		log_warnx("vm %s: console input: %zu bytes dropped (the "
		    "guest does not read)", v->v_name, len - room);
		len = room;
	}
	if (v->v_inlen + len > v->v_insize) {
		if ((v->v_inbuf = realloc(v->v_inbuf, v->v_inlen + len)) ==
		    NULL)
			fatal(NULL);
		v->v_insize = v->v_inlen + len;
	}
	memcpy(v->v_inbuf + v->v_inlen, data, len);
	v->v_inlen += len;
	vm_console_flush(v->v_ptyfd, EV_WRITE, v);
	if (v->v_inlen > CONSOLE_IN_HIGH && !v->v_inpaused) {
		v->v_inpaused = 1;
		control_pause(client, 1);
	}
}

/* A client hung up: whatever console it held or followed lets go. */
void
vm_client_gone(uint32_t client)
{
	struct vm_viewer	*vv, *tvv;

	TAILQ_FOREACH_SAFE(vv, &viewers, vv_all, tvv)
		if (vv->vv_client == client)
			vm_viewer_remove(vv->vv_vm, vv);
}

/*
 * The control socket, served by the vm worker.  The parent opens and
 * binds it (mode 0660, root and the control group) and hands it over.
 * A client's uid and groups come from the kernel (SO_PEERCRED,
 * SO_PEERGROUPS), never from a message; a client that is neither root
 * nor in the control group is told so and disconnected.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bangerd.h"
#include "log.h"

#define CONTROL_MAX_CLIENTS	128
#define CONTROL_MAX_GROUPS	256
/*
 * Console output queued for a client that does not read it: past this
 * many messages (of up to PROTO_CONSOLE_CHUNK bytes) it is let go.
 */
#define CONTROL_MAX_QUEUED	1024

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	uint32_t		 id;
	struct ucred		 cred;
	int			 closing;	/* close once flushed */
	struct imsgev		 iev;
};

static TAILQ_HEAD(, ctl_conn) ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
static struct imsgev	*parent_iev;
static struct event	 ctl_ev, ctl_pause_ev;
static int		 ctl_fd = -1;
static int		 ctl_nclients;
static uint32_t		 ctl_nextid = 1;
static gid_t		 ctl_gid;
static char		 ctl_group[PROTO_NAME_MAX * 2 + 1];

static void	 control_accept(int, short, void *);
static void	 control_dispatch(int, short, void *);
static void	 control_close(struct ctl_conn *);

void
control_init(struct imsgev *iev, const struct worker_init *wi)
{
	parent_iev = iev;
	ctl_gid = wi->wi_ctlgid;
	strlcpy(ctl_group, wi->wi_ctlgroup, sizeof(ctl_group));
}

void
control_listen(int fd)
{
	if (ctl_fd != -1) {
		/* Only one control socket per worker life. */
		close(fd);
		return;
	}
	ctl_fd = fd;
	event_set(&ctl_ev, fd, EV_READ | EV_PERSIST, control_accept, NULL);
	event_add(&ctl_ev, NULL);
	evtimer_set(&ctl_pause_ev, control_accept, NULL);
	log_debug("listening on the control socket");
}

/* Root, the control group as primary group, or among the supplementary. */
static int
control_peer_allowed(int fd, const struct ucred *cred)
{
	gid_t		 groups[CONTROL_MAX_GROUPS];
	socklen_t	 len = sizeof(groups);
	size_t		 i;

	if (cred->uid == 0 || cred->gid == ctl_gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == ctl_gid)
			return 1;
	return 0;
}

static void
control_accept(int fd, short event, void *arg)
{
	struct ctl_conn	*c;
	struct timeval	 tv = { 1, 0 };
	socklen_t	 len;
	int		 cfd;

	event_add(&ctl_ev, NULL);
	if ((event & EV_TIMEOUT))
		return;

	if ((cfd = accept4(ctl_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1) {
		if (errno == ENFILE || errno == EMFILE) {
			/* Out of fds: stop accepting for a while. */
			event_del(&ctl_ev);
			evtimer_add(&ctl_pause_ev, &tv);
		} else if (errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("%s: accept4", __func__);
		return;
	}
	if (ctl_nclients >= CONTROL_MAX_CLIENTS) {
		log_warnx("%s: too many control clients", __func__);
		close(cfd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(cfd);
		return;
	}
	len = sizeof(c->cred);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(cfd);
		free(c);
		return;
	}
	c->id = ctl_nextid++;
	if (ctl_nextid == 0)
		ctl_nextid = 1;
	if (imsgev_init(&c->iev, cfd, control_dispatch, c) == -1) {
		log_warn("%s: imsgev_init", __func__);
		close(cfd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&ctl_conns, c, entry);
	ctl_nclients++;

	if (!control_peer_allowed(cfd, &c->cred)) {
		log_warnx("control: refused uid %u (pid %d): neither root nor "
		    "in group %s", (unsigned)c->cred.uid, (int)c->cred.pid,
		    ctl_group);
		imsg_send_result(&c->iev, IMSG_CTL_RESULT, 0, EACCES,
		    "permission denied: uid %u is neither root nor in group %s",
		    (unsigned)c->cred.uid, ctl_group);
		c->closing = 1;
		return;
	}
	log_debug("control: client %u, uid %u, pid %d", c->id,
	    (unsigned)c->cred.uid, (int)c->cred.pid);
	imsg_event_add(&c->iev);
}

static void
control_close(struct ctl_conn *c)
{
	/* A console it held, or a log it followed, lets go of it. */
	vm_client_gone(c->id);
	TAILQ_REMOVE(&ctl_conns, c, entry);
	imsgev_clear(&c->iev);
	close(c->iev.ibuf.fd);
	free(c);
	ctl_nclients--;
	/* A slot is free again. */
	if (evtimer_pending(&ctl_pause_ev, NULL)) {
		evtimer_del(&ctl_pause_ev);
		event_add(&ctl_ev, NULL);
	}
}

static struct ctl_conn *
control_find(uint32_t id)
{
	struct ctl_conn	*c;

	TAILQ_FOREACH(c, &ctl_conns, entry)
		if (c->id == id)
			return c;
	return NULL;
}

static void
control_audit(struct ctl_conn *c, struct ctl_audit *ca, const char *cmd)
{
	memset(ca, 0, sizeof(*ca));
	ca->ca_uid = c->cred.uid;
	ca->ca_gid = c->cred.gid;
	ca->ca_pid = c->cred.pid;
	strlcpy(ca->ca_cmd, cmd, sizeof(ca->ca_cmd));
}

/* Tell the client why, and hang up once it has read it. */
static void
control_refuse(struct ctl_conn *c, int error, const char *msg)
{
	imsg_send_result(&c->iev, IMSG_CTL_RESULT, 0, error, "%s", msg);
	c->closing = 1;
}

static int
control_request(struct ctl_conn *c, struct imsg *imsg)
{
	struct ctl_audit	 ca;
	struct verbose_req	 vr;
	struct set_verbose	 sv;

	switch (imsg_get_type(imsg)) {
	case IMSG_CTL_STATUS:
		if (imsg_get_len(imsg) != 0)
			return -1;
		control_audit(c, &ca, "status");
		imsg_compose_event(parent_iev, IMSG_STATUS_REQ, c->id, 0, -1,
		    &ca, sizeof(ca));
		return 0;
	case IMSG_CTL_LOG_VERBOSE:
		if (imsg_read_exact(imsg, &sv, sizeof(sv)) == -1 ||
		    (sv.sv_verbose != 0 && sv.sv_verbose != 1))
			return -1;
		if (c->cred.uid != 0) {
			control_refuse(c, EPERM,
			    "log: permission denied: only root may change "
			    "the daemon's logging");
			return 0;
		}
		memset(&vr, 0, sizeof(vr));
		control_audit(c, &vr.vr_audit, "log");
		vr.vr_verbose = sv.sv_verbose;
		imsg_compose_event(parent_iev, IMSG_VERBOSE_REQ, c->id, 0, -1,
		    &vr, sizeof(vr));
		return 0;
	case IMSG_CTL_VM_CREATE: {
		struct ctl_vm_create	 cc;

		if (imsg_read_exact(imsg, &cc, sizeof(cc)) == -1)
			return -1;
		vm_ctl_create(c->id, c->cred.uid, &cc);
		return 0;
	}
	case IMSG_CTL_VM: {
		struct ctl_vm		 cv;

		if (imsg_read_exact(imsg, &cv, sizeof(cv)) == -1)
			return -1;
		vm_ctl_action(c->id, c->cred.uid, &cv);
		return 0;
	}
	case IMSG_CTL_VM_LS:
		if (imsg_get_len(imsg) != 0)
			return -1;
		vm_ctl_ls(c->id, c->cred.uid);
		return 0;
	case IMSG_CTL_VM_LOGS:
	case IMSG_CTL_VM_CONSOLE: {
		struct ctl_console	 cs;

		if (imsg_read_exact(imsg, &cs, sizeof(cs)) == -1)
			return -1;
		if (imsg_get_type(imsg) == IMSG_CTL_VM_LOGS)
			vm_ctl_logs(c->id, c->cred.uid, &cs);
		else
			vm_ctl_console(c->id, c->cred.uid, &cs);
		return 0;
	}
	case IMSG_CTL_CONSOLE_IN: {
		char			 buf[PROTO_CONSOLE_CHUNK];
		size_t			 len = imsg_get_len(imsg);

		if (len == 0 || len > sizeof(buf) ||
		    imsg_get_data(imsg, buf, len) == -1)
			return -1;
		vm_console_input(c->id, buf, len);
		return 0;
	}
	case IMSG_CTL_RELOAD:
		if (imsg_get_len(imsg) != 0)
			return -1;
		if (c->cred.uid != 0) {
			control_refuse(c, EPERM,
			    "reload: permission denied: only root may reload "
			    "the configuration");
			return 0;
		}
		control_audit(c, &ca, "reload");
		imsg_compose_event(parent_iev, IMSG_RELOAD_REQ, c->id, 0, -1,
		    &ca, sizeof(ca));
		return 0;
	}
	return -1;
}

static void
control_dispatch(int fd, short event, void *arg)
{
	struct ctl_conn	*c = arg;
	struct imsgbuf	*ibuf = &c->iev.ibuf;
	struct imsg	 imsg;
	ssize_t		 n;

	if (event & EV_READ) {
		if (((n = imsgbuf_read(ibuf)) == -1 && errno != EAGAIN) ||
		    n == 0) {
			control_close(c);
			return;
		}
	}
	if (event & EV_WRITE) {
		if (imsgbuf_write(ibuf) == -1) {
			control_close(c);
			return;
		}
		if (c->closing && imsgbuf_queuelen(ibuf) == 0) {
			control_close(c);
			return;
		}
	}
	while (!c->closing) {
		if ((n = imsg_get(ibuf, &imsg)) == -1) {
			control_close(c);
			return;
		}
		if (n == 0)
			break;
		if (control_request(c, &imsg) == -1) {
			log_warnx("control: client %u (uid %u) sent a bad "
			    "request (type %u, %zu bytes)", c->id,
			    (unsigned)c->cred.uid, imsg_get_type(&imsg),
			    imsg_get_len(&imsg));
			control_refuse(c, EINVAL, "bad request: this bangerctl "
			    "does not match the daemon");
		}
		imsg_free(&imsg);
	}
	imsg_event_add(&c->iev);
}

/* Pass the parent's answer on to the client that asked, if still here. */
void
control_relay(uint32_t id, uint32_t type, struct imsg *imsg)
{
	struct ctl_conn	*c;

	if ((c = control_find(id)) == NULL)
		return;
	if (type == IMSG_RESULT)
		type = IMSG_CTL_RESULT;
	if (imsg_compose(&c->iev.ibuf, type, 0, 0, -1, imsg->data,
	    imsg_get_len(imsg)) == -1) {
		control_close(c);
		return;
	}
	imsg_event_add(&c->iev);
}

/* End a client's command with a result, if the client is still here. */
void
control_reply(uint32_t id, int error, const char *fmt, ...)
{
	struct ctl_conn	*c;
	struct result	 res;
	va_list		 ap;

	if ((c = control_find(id)) == NULL)
		return;
	memset(&res, 0, sizeof(res));
	res.res_error = error;
	va_start(ap, fmt);
	vsnprintf(res.res_msg, sizeof(res.res_msg), fmt, ap);
	va_end(ap);
	imsg_compose_event(&c->iev, IMSG_CTL_RESULT, 0, 0, -1, &res,
	    sizeof(res));
}

void
control_info(uint32_t id, const struct vm_info *vi)
{
	struct ctl_conn	*c;

	if ((c = control_find(id)) == NULL)
		return;
	imsg_compose_event(&c->iev, IMSG_CTL_VM_INFO, 0, 0, -1, vi,
	    sizeof(*vi));
}

/*
 * Console bytes for a client.  A client that lets its queue grow past
 * CONTROL_MAX_QUEUED is told so and let go; -1 then, or if it is gone.
 */
int
control_data(uint32_t id, uint32_t type, const void *data, size_t len)
{
	struct ctl_conn	*c;

	if ((c = control_find(id)) == NULL || c->closing)
		return -1;
	if (imsgbuf_queuelen(&c->iev.ibuf) > CONTROL_MAX_QUEUED) {
		log_warnx("control: client %u (uid %u) reads its console too "
		    "slowly; let go", c->id, (unsigned)c->cred.uid);
		control_refuse(c, ENOBUFS, "the console's output came faster "
		    "than it was read; disconnected");
		imsg_event_add(&c->iev);
		return -1;
	}
	if (imsg_compose_event(&c->iev, type, 0, 0, -1, data, len) == -1)
		return -1;
	return 0;
}

/* A log file's descriptor for a client; fd is ours to close either way. */
int
control_fd(uint32_t id, uint32_t type, int fd, const void *data, size_t len)
{
	struct ctl_conn	*c;

	if ((c = control_find(id)) == NULL || c->closing) {
		close(fd);
		return -1;
	}
	/*
	 * Descriptors go out only with sendmsg(2), which the imsgbuf uses
	 * once it passes them; one a client sends us after that is closed
	 * unread with its message (no request takes one).
	 */
	imsgbuf_allow_fdpass(&c->iev.ibuf);
	if (imsg_compose_event(&c->iev, type, 0, 0, fd, data, len) == -1) {
		close(fd);
		return -1;
	}
	return 0;
}

/* Stop reading a client's messages for now (its console input waits). */
void
control_pause(uint32_t id, int pause)
{
	struct ctl_conn	*c;

	if ((c = control_find(id)) == NULL || c->iev.no_read == pause)
		return;
	c->iev.no_read = pause;
	imsg_event_add(&c->iev);
}

/* Who a client is, as the kernel said at accept. */
int
control_cred(uint32_t id, struct ucred *cred)
{
	struct ctl_conn	*c;

	if ((c = control_find(id)) == NULL)
		return -1;
	*cred = c->cred;
	return 0;
}

int
control_alive(uint32_t id)
{
	return control_find(id) != NULL;
}

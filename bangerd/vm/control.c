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

#include "vm.h"
#include "imgref.h"
#include "log.h"
#include "validate.h"
#include "wire.h"

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
	/* image import: the files sent so far, for the parent */
	int			 imgfd[IMAGE_NFILES];
	int			 importing;	/* the parent copies for us */
	char			 imgpath[IMAGE_NFILES][PROTO_PATH_MAX];
	/* an OCI layout's files (one client's at a time: oci_holder) */
	struct ctl_oci		*oci;
	size_t			 noci;
	const char		*oci_refused;	/* why its import is refused */
};

struct ctl_oci {
	int			 fd;
	char			 name[PROTO_PATH_MAX];
};

static TAILQ_HEAD(, ctl_conn) ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
/*
 * The client whose OCI layout files are held: one at a time, so that
 * clients hold at most OCI_FILES_MAX of them (CONTROL_FDS_MAX).
 */
static struct ctl_conn	*oci_holder;
static struct imsgev	*parent_iev;
static const struct control_ops *ops;	/* what requests are handed to */
static struct event	 ctl_ev, ctl_pause_ev;
static int		 ctl_fd = -1;
static int		 ctl_nclients;
static uint32_t		 ctl_nextid = 1;
static gid_t		 ctl_gid;
static char		 ctl_group[PROTO_NAME_MAX * 2 + 1];

static void	 control_accept(int, short, void *);
static void	 control_dispatch(int, short, void *);
static void	 control_close(struct ctl_conn *);
static void	 control_turn_away(int, int, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

void
control_init(struct imsgev *iev, const struct worker_init *wi,
    const struct control_ops *o)
{
	ops = o;
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

/*
 * Room for another client of uid?  If not, why, in words for the client.
 */
static int
control_room(uid_t uid, char *why, size_t len)
{
	struct ctl_conn	*c;
	int		 mine = 0, users = 0;

	if (ctl_nclients >= CONTROL_MAX_CLIENTS) {
		snprintf(why, len, "too many connections: all %d the daemon "
		    "serves at once are in use; try again later",
		    CONTROL_MAX_CLIENTS);
		return -1;
	}
	if (uid == 0)
		return 0;
	TAILQ_FOREACH(c, &ctl_conns, entry) {
		if (c->cred.uid == uid)
			mine++;
		if (c->cred.uid != 0)
			users++;
	}
	if (mine >= CONTROL_MAX_PER_UID) {
		snprintf(why, len, "too many connections: uid %u has %d open "
		    "and may have at most %d; close one and try again",
		    (unsigned)uid, mine, CONTROL_MAX_PER_UID);
		return -1;
	}
	if (users >= CONTROL_MAX_CLIENTS - CONTROL_ROOT_SLOTS) {
		snprintf(why, len, "too many connections: all %d that users "
		    "other than root may have are in use; try again later",
		    CONTROL_MAX_CLIENTS - CONTROL_ROOT_SLOTS);
		return -1;
	}
	return 0;
}

/*
 * Refuse a connection before it takes a slot: the result is written at
 * once (a new socket has room for it), then the connection is closed.
 */
static void
control_turn_away(int fd, int error, const char *fmt, ...)
{
	struct imsgbuf	 ibuf;
	struct result	 res;
	va_list		 ap;

	memset(&res, 0, sizeof(res));
	res.res_error = error;
	va_start(ap, fmt);
	vsnprintf(res.res_msg, sizeof(res.res_msg), fmt, ap);
	va_end(ap);
	if (imsgbuf_init(&ibuf, fd) == 0) {
		if (imsg_compose(&ibuf, IMSG_CTL_RESULT, 0, 0, -1, &res,
		    sizeof(res)) == -1 || imsgbuf_write(&ibuf) == -1)
			log_debug("%s: %s", __func__, strerror(errno));
		imsgbuf_clear(&ibuf);
	}
	close(fd);
}

static void
control_accept(int fd, short event, void *arg)
{
	struct ctl_conn	*c;
	struct ucred	 cred;
	struct timeval	 tv = { 1, 0 };
	char		 why[PROTO_MSG_MAX];
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
	len = sizeof(cred);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(cfd);
		return;
	}
	if (!control_peer_allowed(cfd, &cred)) {
		log_warnx("control: refused uid %u (pid %d): neither root nor "
		    "in group %s", (unsigned)cred.uid, (int)cred.pid,
		    ctl_group);
		control_turn_away(cfd, EACCES, "permission denied: uid %u is "
		    "neither root nor in group %s", (unsigned)cred.uid,
		    ctl_group);
		return;
	}
	if (control_room(cred.uid, why, sizeof(why)) == -1) {
		log_warnx("control: refused uid %u (pid %d): %s",
		    (unsigned)cred.uid, (int)cred.pid, why);
		control_turn_away(cfd, EAGAIN, "%s", why);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(cfd);
		return;
	}
	c->cred = cred;
	c->id = ctl_nextid++;
	if (ctl_nextid == 0)
		ctl_nextid = 1;
	if (imsgev_init(&c->iev, cfd, control_dispatch, c) == -1) {
		log_warn("%s: imsgev_init", __func__);
		close(cfd);
		free(c);
		return;
	}
	/* image import sends its files as fds; anything else is refused. */
	imsgbuf_allow_fdpass(&c->iev.ibuf);
	c->imgfd[IMAGE_KERNEL] = c->imgfd[IMAGE_INITRD] =
	    c->imgfd[IMAGE_ROOTFS] = -1;
	TAILQ_INSERT_TAIL(&ctl_conns, c, entry);
	ctl_nclients++;

	log_debug("control: client %u, uid %u, pid %d", c->id,
	    (unsigned)c->cred.uid, (int)c->cred.pid);
	imsg_event_add(&c->iev);
}

static void
control_image_files_clear(struct ctl_conn *c)
{
	int	 i;

	size_t	 j;

	for (i = 0; i < IMAGE_NFILES; i++) {
		if (c->imgfd[i] != -1)
			close(c->imgfd[i]);
		c->imgfd[i] = -1;
	}
	for (j = 0; j < c->noci; j++)
		close(c->oci[j].fd);
	free(c->oci);
	c->oci = NULL;
	c->noci = 0;
	c->oci_refused = NULL;
	if (oci_holder == c)
		oci_holder = NULL;
}

static void
control_close(struct ctl_conn *c)
{
	control_image_files_clear(c);
	/* A client that leaves mid-import takes its import with it. */
	if (c->importing)
		imsg_compose_event(parent_iev, IMSG_IMGOP_CANCEL, c->id, 0, -1,
		    NULL, 0);
	/* A console it held, or a log it followed, lets go of it. */
	ops->co_gone(c->id);
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

/* Every client's messages held meanwhile (imsg_hold) go now. */
void
control_release(void)
{
	struct ctl_conn	*c;

	TAILQ_FOREACH(c, &ctl_conns, entry)
		imsg_event_add(&c->iev);
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

static void
control_bad_name(struct ctl_conn *c, const char *name, const char *why)
{
	char	 msg[PROTO_MSG_MAX];

	snprintf(msg, sizeof(msg), "invalid image name \"%s\": %s; names "
	    "are 1 to 63 of a-z, 0-9 and '-', starting with a letter or digit",
	    name, why);
	control_refuse(c, EINVAL, msg);
}

/*
 * The image store is shared by every user: only root imports into it
 * and removes from it.  Anyone in the group may list and show.
 */
/*
 * A file of an OCI layout (image import --oci-layout): held with its
 * name until the import.  One client's layout at a time; a refusal
 * here is told with the import that follows.
 */
static int
control_oci_file(struct ctl_conn *c, const struct ctl_image_file *cf,
    size_t len, int fd)
{
	const char	*why;
	size_t		 i;

	if (valid_oci_name(cf->cf_path, len, &why) == -1) {
		close(fd);
		return -1;
	}
	if (c->cred.uid != 0 || c->oci_refused != NULL) {
		close(fd);
		return 0;
	}
	if (oci_holder != NULL && oci_holder != c) {
		close(fd);
		c->oci_refused = "another OCI import is being sent; try again "
		    "when it is";
		return 0;
	}
	for (i = 0; i < c->noci; i++)
		if (strcmp(c->oci[i].name, cf->cf_path) == 0) {
			close(fd);
			c->oci_refused = "a layout file sent twice";
			return 0;
		}
	if (c->noci == OCI_FILES_MAX) {
		close(fd);
		c->oci_refused = "the layout has more files than the "
		    "128 taken (index.json and blobs/sha256/*)";
		return 0;
	}
	if (c->oci == NULL && (c->oci = calloc(OCI_FILES_MAX,
	    sizeof(*c->oci))) == NULL) {
		close(fd);
		c->oci_refused = "out of memory";
		return 0;
	}
	oci_holder = c;
	c->oci[c->noci].fd = fd;
	strlcpy(c->oci[c->noci].name, cf->cf_path, sizeof(c->oci[0].name));
	c->noci++;
	return 0;
}

/* An import's OCI side: a layout xor a rootfs, and a size in bounds. */
static int
control_oci_check(struct ctl_conn *c, const struct ctl_image_import *ci)
{
	struct image_ref	 ref;
	const char		*why;
	size_t			 len;
	char			 msg[PROTO_MSG_MAX];

	msg[0] = '\0';
	if (c->oci_refused != NULL)
		snprintf(msg, sizeof(msg), "image import --oci-layout: %s",
		    c->oci_refused);
	else if (ci->ci_flags & IMAGE_F_PULL) {
		if (wire_string(ci->ci_ref, sizeof(ci->ci_ref), &len) == -1 ||
		    image_ref_parse(ci->ci_ref, &ref, &why) == -1)
			snprintf(msg, sizeof(msg), "image pull %.*s: %s: give "
			    "[REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]",
			    (int)strnlen(ci->ci_ref, 200), ci->ci_ref,
			    wire_string(ci->ci_ref, sizeof(ci->ci_ref),
			    &len) == -1 ? "not terminated" : why);
		else if ((ci->ci_flags & IMAGE_F_OCI) ||
		    c->imgfd[IMAGE_ROOTFS] != -1 || c->noci > 0)
			snprintf(msg, sizeof(msg), "image pull: a registry's "
			    "image, not a root file system or layout too");
		else if (ci->ci_size < OCI_SIZE_MIN ||
		    ci->ci_size > OCI_SIZE_MAX || ci->ci_size % 4096 != 0)
			snprintf(msg, sizeof(msg), "image pull: --size %llu "
			    "bytes: give a multiple of 4096 from %llu (16M) to "
			    "%llu (1T)", (unsigned long long)ci->ci_size,
			    (unsigned long long)OCI_SIZE_MIN,
			    (unsigned long long)OCI_SIZE_MAX);
	} else if (ci->ci_ref[0] != '\0')
		snprintf(msg, sizeof(msg), "image import: a reference without "
		    "image pull");
	else if (!(ci->ci_flags & IMAGE_F_OCI)) {
		if (c->noci > 0 || ci->ci_size != 0)
			snprintf(msg, sizeof(msg), "image import: layout "
			    "files or a size without --oci-layout");
	} else if (c->imgfd[IMAGE_ROOTFS] != -1)
		snprintf(msg, sizeof(msg), "image import: --rootfs or "
		    "--oci-layout, not both");
	else if (c->noci == 0)
		snprintf(msg, sizeof(msg), "image import --oci-layout: no "
		    "layout files came");
	else if (ci->ci_size < OCI_SIZE_MIN || ci->ci_size > OCI_SIZE_MAX ||
	    ci->ci_size % 4096 != 0)
		snprintf(msg, sizeof(msg), "image import: --size %llu bytes: "
		    "give a multiple of 4096 from %llu (16M) to %llu (1T)",
		    (unsigned long long)ci->ci_size,
		    (unsigned long long)OCI_SIZE_MIN,
		    (unsigned long long)OCI_SIZE_MAX);
	if (msg[0] == '\0')
		return 0;
	control_image_files_clear(c);
	control_refuse(c, EINVAL, msg);
	return -1;
}

static int
control_image(struct ctl_conn *c, struct imsg *imsg)
{
	struct ctl_image_file	 cf;
	struct imgop_file	 f;
	struct imgop_import	 ii;
	struct imgop_query	 iq;
	const char		*why;
	char			 names[PROTO_MSG_MAX], msg[PROTO_MSG_MAX];
	size_t			 len, off;
	uint32_t		 n;
	int			 fd, i;

	switch (imsg_get_type(imsg)) {
	case IMSG_CTL_IMAGE_FILE:
		if (imsg_read_exact(imsg, &cf, sizeof(cf)) == -1 ||
		    (cf.cf_kind >= IMAGE_NFILES && cf.cf_kind != IMAGE_OCI) ||
		    wire_string(cf.cf_path, sizeof(cf.cf_path), &len) == -1 ||
		    (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		if (cf.cf_kind == IMAGE_OCI)
			return control_oci_file(c, &cf, len, fd);
		if (c->cred.uid != 0 || c->imgfd[cf.cf_kind] != -1) {
			/* Refused with the import that follows. */
			close(fd);
			if (c->cred.uid == 0)
				return -1;
			return 0;
		}
		c->imgfd[cf.cf_kind] = fd;
		strlcpy(c->imgpath[cf.cf_kind], cf.cf_path,
		    sizeof(c->imgpath[0]));
		return 0;
	case IMSG_CTL_IMAGE_IMPORT:
		memset(&ii, 0, sizeof(ii));
		if (imsg_read_exact(imsg, &ii.ii_req, sizeof(ii.ii_req)) == -1 ||
		    wire_string(ii.ii_req.ci_name, sizeof(ii.ii_req.ci_name),
		    &len) == -1 ||
		    wire_string(ii.ii_req.ci_kernel_from,
		    sizeof(ii.ii_req.ci_kernel_from), &len) == -1 ||
		    wire_string(ii.ii_req.ci_bootargs,
		    sizeof(ii.ii_req.ci_bootargs), &len) == -1 ||
		    (ii.ii_req.ci_flags & ~IMAGE_F_ALL) != 0)
			return -1;
		if (c->cred.uid != 0) {
			control_image_files_clear(c);
			control_refuse(c, EPERM, "image import: permission "
			    "denied: only root may import images (the image "
			    "store is shared by all users)");
			return 0;
		}
		if (valid_name(ii.ii_req.ci_name, strlen(ii.ii_req.ci_name),
		    &why) == -1) {
			control_image_files_clear(c);
			control_bad_name(c, ii.ii_req.ci_name, why);
			return 0;
		}
		if (valid_bootargs(ii.ii_req.ci_bootargs,
		    strlen(ii.ii_req.ci_bootargs), &off, &why) == -1) {
			control_image_files_clear(c);
			snprintf(msg, sizeof(msg), "image import: boot args: "
			    "byte 0x%02x at offset %zu is %s; Firecracker "
			    "takes only 0x20 to 0x7e",
			    (unsigned char)ii.ii_req.ci_bootargs[off], off,
			    why);
			control_refuse(c, EINVAL, msg);
			return 0;
		}
		if (ii.ii_req.ci_kernel_from[0] != '\0' &&
		    (valid_name(ii.ii_req.ci_kernel_from,
		    strlen(ii.ii_req.ci_kernel_from), &why) == -1 ||
		    c->imgfd[IMAGE_KERNEL] != -1)) {
			control_image_files_clear(c);
			control_refuse(c, EINVAL, "image import: a kernel, or "
			    "an image to take it from, not both");
			return 0;
		}
		if (control_oci_check(c, &ii.ii_req) == -1)
			return 0;
		if ((c->imgfd[IMAGE_ROOTFS] == -1 && c->noci == 0 &&
		    !(ii.ii_req.ci_flags & IMAGE_F_PULL)) ||
		    (c->imgfd[IMAGE_KERNEL] == -1 &&
		    ii.ii_req.ci_kernel_from[0] == '\0')) {
			control_image_files_clear(c);
			control_refuse(c, EINVAL, "image import: needs a root "
			    "file system and a kernel");
			return 0;
		}
		/* The files, then the import, back to back. */
		for (i = 0; i < IMAGE_NFILES; i++) {
			if (c->imgfd[i] == -1)
				continue;
			memset(&f, 0, sizeof(f));
			f.if_kind = i;
			strlcpy(f.if_path, c->imgpath[i], sizeof(f.if_path));
			imsg_compose_event(parent_iev, IMSG_IMGOP_FILE, c->id,
			    0, c->imgfd[i], &f, sizeof(f));
			c->imgfd[i] = -1;
		}
		for (n = 0; n < c->noci; n++) {
			memset(&f, 0, sizeof(f));
			f.if_kind = IMAGE_OCI;
			strlcpy(f.if_path, c->oci[n].name, sizeof(f.if_path));
			imsg_compose_event(parent_iev, IMSG_IMGOP_FILE, c->id,
			    0, c->oci[n].fd, &f, sizeof(f));
		}
		/* Sent: the fds are the parent's now. */
		c->noci = 0;
		control_image_files_clear(c);
		control_audit(c, &ii.ii_audit, "image");
		imsg_compose_event(parent_iev, IMSG_IMGOP_IMPORT, c->id, 0, -1,
		    &ii, sizeof(ii));
		c->importing = 1;
		return 0;
	case IMSG_CTL_IMAGE:
		memset(&iq, 0, sizeof(iq));
		if (imsg_read_exact(imsg, &iq.iq_req, sizeof(iq.iq_req)) == -1 ||
		    wire_string(iq.iq_req.cm_name, sizeof(iq.iq_req.cm_name),
		    &len) == -1)
			return -1;
		switch (iq.iq_req.cm_action) {
		case CTL_IMAGE_LS:
			if (len != 0)
				return -1;
			break;
		case CTL_IMAGE_RM:
			if (c->cred.uid != 0) {
				control_refuse(c, EPERM, "image rm: permission "
				    "denied: only root may remove images (the "
				    "image store is shared by all users)");
				return 0;
			}
			/* FALLTHROUGH */
		case CTL_IMAGE_SHOW:
			if (valid_name(iq.iq_req.cm_name, len, &why) == -1) {
				control_bad_name(c, iq.iq_req.cm_name, why);
				return 0;
			}
			break;
		default:
			return -1;
		}
		/* Our records name every VM, of every user, by name. */
		if (iq.iq_req.cm_action == CTL_IMAGE_RM &&
		    ops->co_image_users(iq.iq_req.cm_name, 0, names, sizeof(names),
		    &n) > 0) {
			imsg_send_result(&c->iev, IMSG_CTL_RESULT, 0, EBUSY,
			    "image %s is in use by VM%s %s; remove %s first",
			    iq.iq_req.cm_name, n == 1 ? "" : "s", names,
			    n == 1 ? "it" : "them");
			return 0;
		}
		control_audit(c, &iq.iq_audit, "image");
		imsg_compose_event(parent_iev, IMSG_IMGOP_QUERY, c->id, 0, -1,
		    &iq, sizeof(iq));
		return 0;
	}
	return -1;
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
		ops->co_create(c->id, c->cred.uid, &cc);
		return 0;
	}
	case IMSG_CTL_VM: {
		struct ctl_vm		 cv;

		if (imsg_read_exact(imsg, &cv, sizeof(cv)) == -1)
			return -1;
		ops->co_action(c->id, c->cred.uid, &cv);
		return 0;
	}
	case IMSG_CTL_VM_LS:
		if (imsg_get_len(imsg) != 0)
			return -1;
		ops->co_ls(c->id, c->cred.uid);
		return 0;
	case IMSG_CTL_VM_SNAP: {
		struct ctl_snap		 cs;

		if (imsg_read_exact(imsg, &cs, sizeof(cs)) == -1)
			return -1;
		ops->co_snap(c->id, c->cred.uid, &cs);
		return 0;
	}
	case IMSG_CTL_IMAGE_FILE:
	case IMSG_CTL_IMAGE_IMPORT:
	case IMSG_CTL_IMAGE:
		return control_image(c, imsg);
	case IMSG_CTL_UPDATE: {
		struct ctl_update	 cu;
		struct update_req	 ur;

		if (imsg_read_exact(imsg, &cu, sizeof(cu)) == -1 ||
		    (cu.cu_action != CTL_UPDATE_CHECK &&
		    cu.cu_action != CTL_UPDATE_APPLY &&
		    cu.cu_action != CTL_UPDATE_ROLLBACK))
			return -1;
		if (c->cred.uid != 0) {
			control_refuse(c, EPERM,
			    "update: permission denied: only root may check "
			    "for, install or roll back updates");
			return 0;
		}
		memset(&ur, 0, sizeof(ur));
		control_audit(c, &ur.ur_audit, "update");
		ur.ur_action = cu.cu_action;
		imsg_compose_event(parent_iev, IMSG_UPDATE_REQ, c->id, 0, -1,
		    &ur, sizeof(ur));
		return 0;
	}
	case IMSG_CTL_VM_LOGS:
	case IMSG_CTL_VM_CONSOLE: {
		struct ctl_console	 cs;

		if (imsg_read_exact(imsg, &cs, sizeof(cs)) == -1)
			return -1;
		if (imsg_get_type(imsg) == IMSG_CTL_VM_LOGS)
			ops->co_logs(c->id, c->cred.uid, &cs);
		else
			ops->co_console(c->id, c->cred.uid, &cs);
		return 0;
	}
	case IMSG_CTL_CONSOLE_IN: {
		char			 buf[PROTO_CONSOLE_CHUNK];
		size_t			 len = imsg_get_len(imsg);

		if (len == 0 || len > sizeof(buf) ||
		    imsg_get_data(imsg, buf, len) == -1)
			return -1;
		ops->co_input(c->id, buf, len);
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
	if ((event & EV_WRITE) && !imsg_hold) {
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
	else if (type == IMSG_UPDATE_INFO)
		type = IMSG_CTL_UPDATE_INFO;
	else if (type == IMSG_UPDATE_PROGRESS)
		type = IMSG_CTL_UPDATE_PROGRESS;
	else if (type == IMSG_SNAP_INFO)
		type = IMSG_CTL_SNAP_INFO;
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

/*
 * VMs' information for a client: packed (wire_zpack) as many to a
 * message as fit.  A listing of thousands of VMs is then a few hundred
 * kilobytes in a few dozen messages, not a message of 1936 bytes each.
 */
void
control_info_start(struct ctl_info *ci, uint32_t id)
{
	ci->ci_client = id;
	ci->ci_len = 0;
}

void
control_info_add(struct ctl_info *ci, const struct vm_info *vi)
{
	size_t	 n;

	if (sizeof(ci->ci_buf) - ci->ci_len < WIRE_ZPACK_MAX(sizeof(*vi)))
		control_info_end(ci);
	if ((n = wire_zpack(vi, sizeof(*vi), ci->ci_buf + ci->ci_len,
	    sizeof(ci->ci_buf) - ci->ci_len)) == 0)
		fatalx("%s: no room", __func__);
	ci->ci_len += n;
}

/*
 * Send what is packed, writing what the socket takes at once: a
 * listing goes out while the rest is packed, and is never queued
 * whole (the rest waits for the event loop, as a write error does).
 */
void
control_info_end(struct ctl_info *ci)
{
	struct ctl_conn	*c;

	if (ci->ci_len == 0)
		return;
	if ((c = control_find(ci->ci_client)) != NULL &&
	    imsg_compose(&c->iev.ibuf, IMSG_CTL_VM_INFO, 0, 0, -1,
	    ci->ci_buf, ci->ci_len) != -1) {
		if (!imsg_hold)
			(void)imsgbuf_write(&c->iev.ibuf);
		imsg_event_add(&c->iev);
	}
	ci->ci_len = 0;
}

/* One VM's information, in a message of its own. */
void
control_info(uint32_t id, const struct vm_info *vi)
{
	struct ctl_info	 ci;

	control_info_start(&ci, id);
	control_info_add(&ci, vi);
	control_info_end(&ci);
}

void
control_send(uint32_t id, uint32_t type, const void *data, size_t len)
{
	struct ctl_conn	*c;

	if ((c = control_find(id)) == NULL)
		return;
	imsg_compose_event(&c->iev, type, 0, 0, -1, data, len);
}

/* The uid of a client, as the kernel gave it. */
int
control_uid(uint32_t id, uid_t *uid)
{
	struct ctl_conn	*c;

	if ((c = control_find(id)) == NULL)
		return -1;
	*uid = c->cred.uid;
	return 0;
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
	 * Descriptors pass both ways on every connection (see
	 * control_accept): one a client sends with any message but
	 * IMSG_CTL_IMAGE_FILE is closed unread with its message.
	 */
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

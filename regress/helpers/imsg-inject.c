/*
 * imsg-inject: act as a compromised worker.  Takes a copy of a worker's
 * channel to the parent (pidfd_getfd, root only) and writes one
 * malformed or forged message on it, as the worker itself could.  Prints
 * the message's type, "NAME NUMBER" (the number alone for a type banger
 * does not have), so that a test can tell what it sent.
 *
 * usage: imsg-inject pid fd case [arguments]
 * cases: unknown-type, short, oversized, under-header, unterminated,
 *	  ready-again [ROLE], with-fd, bad-verbose;
 *	as the vm worker:
 *	  vmop-create ID IMAGE [NAME], vmop-signal ID SIG, vmop-disk ID,
 *	  vmop-destroy ID, vmop-socket ID, vmop-fsck ID,
 *	  vmop-start ID [tcp|udp:HOSTADDR:HOSTPORT:GUESTPORT ...]
 *	      [snap=SNAP] [flags=N], vmop-restore ID SNAP [FLAGS],
 *	  vmop-snap-begin ID SNAP, vmop-snap-end ID SNAP [FLAGS],
 *	  snapop-ls ID [SNAP], snapop-rm ID SNAP,
 *	  status-req CMD, reload-req CMD, verbose-req CMD LEVEL,
 *	  update-req UID ACTION, imgop-file KIND fd|no-fd [PATH],
 *	  imgop-import UID NAME [BOOTARGS], imgop-oci UID NAME SIZE,
 *	  imgop-pull UID NAME SIZE REF FLAGS (REF "unterminated": a
 *	  reference without its NUL),
 *	  imgop-query UID ACTION NAME,
 *	  imgop-cancel BYTES (of payload);
 *	as the net worker:
 *	  net-addr ID ADDR, netop-setup BYTES;
 *	as the update worker, for request REQ (a number, or "fetch": the id
 *	of the IMSG_UPD_FETCH waiting on the channel of a stopped worker):
 *	  upd-checked REQ fd|no-fd MANIFEST_LEN, upd-progress REQ DONE TOTAL,
 *	  upd-artifact REQ fd|no-fd, upd-failed REQ CODE
 */
#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "proto.h"

#ifndef IMSG_FD_MARK
#define IMSG_FD_MARK	0x80000000U
#endif

#define T(x)	{ x, #x }
static const struct {
	uint32_t	 type;
	const char	*name;
} type_names[] = {
	T(IMSG_WORKER_READY), T(IMSG_STATUS_REQ), T(IMSG_VERBOSE_REQ),
	T(IMSG_RELOAD_REQ), T(IMSG_VMOP_CREATE), T(IMSG_VMOP_START),
	T(IMSG_VMOP_SOCKET), T(IMSG_VMOP_SIGNAL), T(IMSG_VMOP_DISK),
	T(IMSG_VMOP_DESTROY), T(IMSG_VMOP_FSCK), T(IMSG_NETOP_SETUP),
	T(IMSG_NET_ADDR), T(IMSG_IMGOP_FILE), T(IMSG_IMGOP_IMPORT),
	T(IMSG_IMGOP_QUERY), T(IMSG_IMGOP_CANCEL), T(IMSG_UPDATE_REQ),
	T(IMSG_UPD_CHECKED), T(IMSG_UPD_PROGRESS), T(IMSG_UPD_ARTIFACT),
	T(IMSG_UPD_FAILED), T(IMSG_VMOP_SNAP_BEGIN), T(IMSG_VMOP_SNAP_END),
	T(IMSG_SNAPOP_LS), T(IMSG_SNAPOP_RM), T(IMSG_VMOP_RESTORE),
};
#undef T

static void
send_raw(int fd, uint32_t type, uint32_t peerid, uint32_t len,
    const void *data, size_t datalen, int passfd)
{
	struct imsg_hdr	 hdr;
	struct iovec	 iov[2];
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cmsg;
	size_t		 i;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.peerid = peerid;
	hdr.pid = getpid();
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = datalen;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = datalen ? 2 : 1;
	if (passfd != -1) {
		hdr.len |= IMSG_FD_MARK;
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = &cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &passfd, sizeof(int));
	}
	if (sendmsg(fd, &msg, 0) == -1)
		err(1, "sendmsg");
	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == type)
			break;
	if (i < sizeof(type_names) / sizeof(type_names[0]))
		printf("%s %u\n", type_names[i].name, type);
	else
		printf("%u %u\n", type, type);
}

/* A message of its struct's size, no fd. */
static void
send_struct(int fd, uint32_t type, const void *data, size_t len)
{
	send_raw(fd, type, 0, IMSG_HEADER_SIZE + len, data, len, -1);
}

/* A payload of n bytes where the type has none. */
static void
send_bytes(int fd, uint32_t type, const char *n)
{
	char	 buf[64];
	size_t	 len;

	len = strtoul(n, NULL, 10);
	if (len > sizeof(buf))
		errx(1, "at most %zu bytes", sizeof(buf));
	memset(buf, 'x', sizeof(buf));
	send_raw(fd, type, 0, IMSG_HEADER_SIZE + len, buf, len, -1);
}

static int
open_fd(const char *how)
{
	int	 fd;

	if (strcmp(how, "no-fd") == 0)
		return -1;
	if (strcmp(how, "fd") != 0)
		errx(1, "fd or no-fd, not %s", how);
	if ((fd = open("/dev/null", O_RDONLY)) == -1)
		err(1, "/dev/null");
	return fd;
}

/*
 * The id of a request: a number, or that of the IMSG_UPD_FETCH the
 * parent has sent to a stopped update worker (read without taking it).
 */
static uint32_t
request_id(int fd, const char *req)
{
	struct imsg_hdr	 hdr;
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 i;

	if (strcmp(req, "fetch") != 0)
		return strtoul(req, NULL, 10);
	for (i = 0; i < 100; i++) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == -1)
			err(1, "poll");
		if ((n = recv(fd, &hdr, sizeof(hdr), MSG_PEEK |
		    MSG_DONTWAIT)) == (ssize_t)sizeof(hdr))
			break;
		if (n == -1 && errno != EAGAIN)
			err(1, "recv");
	}
	if (i == 100)
		errx(1, "no message from the parent on the channel");
	if (hdr.type != IMSG_UPD_FETCH)
		errx(1, "message type %u waiting, not IMSG_UPD_FETCH",
		    hdr.type);
	return hdr.peerid;
}

/* What the update worker sends the parent, for request id. */
static void
send_upd(int fd, const char *op, int argc, char **argv)
{
	struct upd_checked	 uc;
	struct update_progress	 up;
	struct upd_failed	 uf;
	uint32_t		 id;
	int			 passfd;

	if (argc < 1)
		errx(1, "update message %s: wrong arguments", op);
	id = request_id(fd, argv[0]);
	if (strcmp(op, "checked") == 0 && argc == 3) {
		memset(&uc, 0, sizeof(uc));
		strlcpy(uc.uc_version, "99.0.0", sizeof(uc.uc_version));
		strlcpy(uc.uc_arch, "x86_64", sizeof(uc.uc_arch));
		strlcpy(uc.uc_url, "http://127.0.0.1/forged.tar",
		    sizeof(uc.uc_url));
		uc.uc_manifest_len = strtoull(argv[2], NULL, 10);
		uc.uc_sig_len = 64;
		passfd = open_fd(argv[1]);
		send_raw(fd, IMSG_UPD_CHECKED, id, IMSG_HEADER_SIZE +
		    sizeof(uc), &uc, sizeof(uc), passfd);
	} else if (strcmp(op, "progress") == 0 && argc == 3) {
		memset(&up, 0, sizeof(up));
		up.up_done = strtoull(argv[1], NULL, 10);
		up.up_total = strtoull(argv[2], NULL, 10);
		send_raw(fd, IMSG_UPD_PROGRESS, id, IMSG_HEADER_SIZE +
		    sizeof(up), &up, sizeof(up), -1);
	} else if (strcmp(op, "artifact") == 0 && argc == 2) {
		passfd = open_fd(argv[1]);
		send_raw(fd, IMSG_UPD_ARTIFACT, id, IMSG_HEADER_SIZE, NULL, 0,
		    passfd);
	} else if (strcmp(op, "failed") == 0 && argc == 2) {
		memset(&uf, 0, sizeof(uf));
		uf.uf_code = atoi(argv[1]);
		strlcpy(uf.uf_msg, "forged", sizeof(uf.uf_msg));
		send_raw(fd, IMSG_UPD_FAILED, id, IMSG_HEADER_SIZE +
		    sizeof(uf), &uf, sizeof(uf), -1);
	} else
		errx(1, "update message %s: wrong arguments", op);
}

/* The image store's requests as the vm worker would send them. */
static void
send_imgop(int fd, const char *op, int argc, char **argv)
{
	struct imgop_file	 f;
	struct imgop_import	 ii;
	struct imgop_query	 iq;
	int			 passfd;

	if (strcmp(op, "file") == 0 && (argc == 2 || argc == 3)) {
		memset(&f, 0, sizeof(f));
		f.if_kind = strtoul(argv[0], NULL, 10);
		strlcpy(f.if_path, argc == 3 ? argv[2] : "/dev/null",
		    sizeof(f.if_path));
		passfd = open_fd(argv[1]);
		send_raw(fd, IMSG_IMGOP_FILE, 0, IMSG_HEADER_SIZE + sizeof(f),
		    &f, sizeof(f), passfd);
	} else if (strcmp(op, "import") == 0 && (argc == 2 || argc == 3)) {
		memset(&ii, 0, sizeof(ii));
		ii.ii_audit.ca_uid = strtoul(argv[0], NULL, 10);
		ii.ii_audit.ca_gid = ii.ii_audit.ca_uid;
		strlcpy(ii.ii_audit.ca_cmd, "image",
		    sizeof(ii.ii_audit.ca_cmd));
		strncpy(ii.ii_req.ci_name, argv[1],
		    sizeof(ii.ii_req.ci_name) - 1);
		if (argc == 3) {
			strncpy(ii.ii_req.ci_bootargs, argv[2],
			    sizeof(ii.ii_req.ci_bootargs) - 1);
			ii.ii_req.ci_flags = IMAGE_F_BOOTARGS;
		}
		send_struct(fd, IMSG_IMGOP_IMPORT, &ii, sizeof(ii));
	} else if (strcmp(op, "oci") == 0 && argc == 3) {
		memset(&ii, 0, sizeof(ii));
		ii.ii_audit.ca_uid = strtoul(argv[0], NULL, 10);
		ii.ii_audit.ca_gid = ii.ii_audit.ca_uid;
		strlcpy(ii.ii_audit.ca_cmd, "image",
		    sizeof(ii.ii_audit.ca_cmd));
		strncpy(ii.ii_req.ci_name, argv[1],
		    sizeof(ii.ii_req.ci_name) - 1);
		strlcpy(ii.ii_req.ci_kernel_from, "default",
		    sizeof(ii.ii_req.ci_kernel_from));
		ii.ii_req.ci_flags = IMAGE_F_OCI;
		ii.ii_req.ci_size = strtoull(argv[2], NULL, 10);
		send_struct(fd, IMSG_IMGOP_IMPORT, &ii, sizeof(ii));
	} else if (strcmp(op, "pull") == 0 && argc == 5) {
		memset(&ii, 0, sizeof(ii));
		ii.ii_audit.ca_uid = strtoul(argv[0], NULL, 10);
		ii.ii_audit.ca_gid = ii.ii_audit.ca_uid;
		strlcpy(ii.ii_audit.ca_cmd, "image",
		    sizeof(ii.ii_audit.ca_cmd));
		strncpy(ii.ii_req.ci_name, argv[1],
		    sizeof(ii.ii_req.ci_name) - 1);
		strlcpy(ii.ii_req.ci_kernel_from, "default",
		    sizeof(ii.ii_req.ci_kernel_from));
		ii.ii_req.ci_size = strtoull(argv[2], NULL, 10);
		if (strcmp(argv[3], "unterminated") == 0)
			memset(ii.ii_req.ci_ref, 'a', sizeof(ii.ii_req.ci_ref));
		else
			strlcpy(ii.ii_req.ci_ref, argv[3],
			    sizeof(ii.ii_req.ci_ref));
		ii.ii_req.ci_flags = strtoul(argv[4], NULL, 0);
		send_struct(fd, IMSG_IMGOP_IMPORT, &ii, sizeof(ii));
	} else if (strcmp(op, "query") == 0 && argc == 3) {
		memset(&iq, 0, sizeof(iq));
		iq.iq_audit.ca_uid = strtoul(argv[0], NULL, 10);
		iq.iq_audit.ca_gid = iq.iq_audit.ca_uid;
		strlcpy(iq.iq_audit.ca_cmd, "image",
		    sizeof(iq.iq_audit.ca_cmd));
		iq.iq_req.cm_action = atoi(argv[1]);
		strncpy(iq.iq_req.cm_name, argv[2],
		    sizeof(iq.iq_req.cm_name) - 1);
		send_struct(fd, IMSG_IMGOP_QUERY, &iq, sizeof(iq));
	} else if (strcmp(op, "cancel") == 0 && argc == 1)
		send_bytes(fd, IMSG_IMGOP_CANCEL, argv[0]);
	else
		errx(1, "image operation %s: wrong arguments", op);
}

/* A VM operation as the vm worker would send it, with any id or name. */
static void
send_vmop(int fd, const char *op, int argc, char **argv)
{
	struct vmop_create	 vc;
	struct vmop_start	 vs;
	struct vmop_signal	 vg;
	struct vmop_id		 vi;
	struct vmop_snap	 sn;
	uint32_t		 type;
	int			 i;

	if (strcmp(op, "create") == 0 && argc >= 2 && argc <= 4) {
		char	*slash;

		memset(&vc, 0, sizeof(vc));
		strncpy(vc.vc_id, argv[0], sizeof(vc.vc_id) - 1);
		strncpy(vc.vc_image, argv[1], sizeof(vc.vc_image) - 1);
		strncpy(vc.vc_name, argc >= 3 ? argv[2] : "forged",
		    sizeof(vc.vc_name) - 1);
		/* a clone: from=ID:SNAP (either side may be empty) */
		if (argc == 4 && strncmp(argv[3], "from=", 5) == 0 &&
		    (slash = strchr(argv[3], ':')) != NULL) {
			size_t	 idlen = slash - argv[3] - 5;

			if (idlen >= sizeof(vc.vc_from_id))
				idlen = sizeof(vc.vc_from_id) - 1;
			memcpy(vc.vc_from_id, argv[3] + 5, idlen);
			strncpy(vc.vc_from_snap, slash + 1,
			    sizeof(vc.vc_from_snap) - 1);
		}
		send_struct(fd, IMSG_VMOP_CREATE, &vc, sizeof(vc));
	} else if (strcmp(op, "start") == 0 && argc >= 1 &&
	    argc <= 1 + PROTO_PUBLISH_MAX) {
		memset(&vs, 0, sizeof(vs));
		strncpy(vs.vs_id, argv[0], sizeof(vs.vs_id) - 1);
		/* an identity as the vm worker gives one, unless forged */
		strlcpy(vs.vs_identity, IDENTITY_MAGIC "name forged\n",
		    sizeof(vs.vs_identity));
		for (i = 1; i < argc; i++) {
			struct proto_publish	*pp = &vs.vs_publish[i - 1];
			char			 pr[8], ha[32];
			unsigned		 hp, gp;
			struct in_addr		 a;

			/* identity=nomagic|control|none */
			if (strncmp(argv[i], "identity=", 9) == 0) {
				memset(vs.vs_identity, 0,
				    sizeof(vs.vs_identity));
				if (strcmp(argv[i] + 9, "nomagic") == 0)
					strlcpy(vs.vs_identity, "name x\n",
					    sizeof(vs.vs_identity));
				else if (strcmp(argv[i] + 9, "control") == 0)
					strlcpy(vs.vs_identity, IDENTITY_MAGIC
					    "name \033[2J\n",
					    sizeof(vs.vs_identity));
				continue;
			}

			if (strncmp(argv[i], "snap=", 5) == 0) {
				vs.vs_flags |= VS_F_RESTORE;
				strncpy(vs.vs_snap, argv[i] + 5,
				    sizeof(vs.vs_snap) - 1);
				continue;
			}
			if (strncmp(argv[i], "flags=", 6) == 0) {
				vs.vs_flags = strtoul(argv[i] + 6, NULL, 0);
				continue;
			}
			if (sscanf(argv[i], "%7[a-z]:%31[0-9.]:%u:%u", pr, ha,
			    &hp, &gp) != 4 || inet_pton(AF_INET, ha, &a) != 1)
				errx(1, "bad published port %s", argv[i]);
			pp->pp_proto = strcmp(pr, "udp") == 0 ? IPPROTO_UDP :
			    IPPROTO_TCP;
			pp->pp_host_addr = a.s_addr;
			pp->pp_host_port = hp;
			pp->pp_guest_port = gp;
		}
		for (i = 1; i < argc && vs.vs_publish[i - 1].pp_host_port; i++)
			;
		vs.vs_npublish = i - 1;
		vs.vs_cpus = 1;
		vs.vs_memory = 128;
		send_struct(fd, IMSG_VMOP_START, &vs, sizeof(vs));
	} else if (strcmp(op, "signal") == 0 && argc == 2) {
		memset(&vg, 0, sizeof(vg));
		strncpy(vg.vg_id, argv[0], sizeof(vg.vg_id) - 1);
		vg.vg_signal = atoi(argv[1]);
		send_struct(fd, IMSG_VMOP_SIGNAL, &vg, sizeof(vg));
	} else if ((strncmp(op, "snap", 4) == 0 || strcmp(op, "restore") == 0) &&
	    argc >= 1 && argc <= 3) {
		memset(&sn, 0, sizeof(sn));
		strncpy(sn.sn_id, argv[0], sizeof(sn.sn_id) - 1);
		if (argc >= 2)
			strncpy(sn.sn_snap, argv[1], sizeof(sn.sn_snap) - 1);
		if (argc == 3)
			sn.sn_flags = strtoul(argv[2], NULL, 0);
		if (strcmp(op, "snap-begin") == 0)
			type = IMSG_VMOP_SNAP_BEGIN;
		else if (strcmp(op, "snap-end") == 0)
			type = IMSG_VMOP_SNAP_END;
		else if (strcmp(op, "snap-ls") == 0)
			type = IMSG_SNAPOP_LS;
		else if (strcmp(op, "snap-rm") == 0)
			type = IMSG_SNAPOP_RM;
		else if (strcmp(op, "restore") == 0)
			type = IMSG_VMOP_RESTORE;
		else
			errx(1, "unknown snapshot operation %s", op);
		send_struct(fd, type, &sn, sizeof(sn));
	} else if (argc == 1) {
		if (strcmp(op, "disk") == 0)
			type = IMSG_VMOP_DISK;
		else if (strcmp(op, "destroy") == 0)
			type = IMSG_VMOP_DESTROY;
		else if (strcmp(op, "socket") == 0)
			type = IMSG_VMOP_SOCKET;
		else if (strcmp(op, "fsck") == 0)
			type = IMSG_VMOP_FSCK;
		else
			errx(1, "unknown vm operation %s", op);
		memset(&vi, 0, sizeof(vi));
		strncpy(vi.vo_id, argv[0], sizeof(vi.vo_id) - 1);
		send_struct(fd, type, &vi, sizeof(vi));
	} else
		errx(1, "vm operation %s: wrong arguments", op);
}

int
main(int argc, char *argv[])
{
	struct ctl_audit	 ca;
	struct verbose_req	 vr;
	struct update_req	 ur;
	struct worker_ready	 wr;
	struct net_addr		 na;
	const char		*what;
	int			 pidfd, fd, nullfd;
	pid_t			 pid;

	if (argc < 4)
		errx(1, "usage: imsg-inject pid fd case [arguments]");
	pid = atoi(argv[1]);
	what = argv[3];
	if ((pidfd = pidfd_open(pid, 0)) == -1)
		err(1, "pidfd_open %d", pid);
	if ((fd = pidfd_getfd(pidfd, atoi(argv[2]), 0)) == -1)
		err(1, "pidfd_getfd");

	memset(&ca, 0, sizeof(ca));
	ca.ca_uid = 0;
	strlcpy(ca.ca_cmd, "status", sizeof(ca.ca_cmd));

	if (strcmp(what, "unknown-type") == 0)
		send_raw(fd, 9999, 0, IMSG_HEADER_SIZE, NULL, 0, -1);
	else if (strcmp(what, "short") == 0)
		send_raw(fd, IMSG_STATUS_REQ, 0, IMSG_HEADER_SIZE + 4, &ca, 4,
		    -1);
	else if (strcmp(what, "oversized") == 0)
		send_raw(fd, IMSG_STATUS_REQ, 0, 1 << 20, &ca, sizeof(ca), -1);
	else if (strcmp(what, "under-header") == 0)
		send_raw(fd, IMSG_STATUS_REQ, 0, 8, &ca, sizeof(ca), -1);
	else if (strcmp(what, "unterminated") == 0) {
		memset(ca.ca_cmd, 'A', sizeof(ca.ca_cmd));
		send_struct(fd, IMSG_STATUS_REQ, &ca, sizeof(ca));
	} else if (strcmp(what, "ready-again") == 0 && argc <= 5) {
		memset(&wr, 0, sizeof(wr));
		wr.wr_proto = BANGER_PROTO_VERSION;
		strlcpy(wr.wr_role, argc == 5 ? argv[4] : "update",
		    sizeof(wr.wr_role));
		send_struct(fd, IMSG_WORKER_READY, &wr, sizeof(wr));
	} else if (strcmp(what, "with-fd") == 0) {
		if ((nullfd = open("/dev/null", O_RDONLY)) == -1)
			err(1, "/dev/null");
		send_raw(fd, IMSG_STATUS_REQ, 0, IMSG_HEADER_SIZE + sizeof(ca),
		    &ca, sizeof(ca), nullfd);
	} else if (strcmp(what, "bad-verbose") == 0) {
		memset(&vr, 0, sizeof(vr));
		vr.vr_audit = ca;
		memset(vr.vr_audit.ca_cmd, 0, sizeof(vr.vr_audit.ca_cmd));
		strlcpy(vr.vr_audit.ca_cmd, "log", sizeof(vr.vr_audit.ca_cmd));
		vr.vr_verbose = 7;
		send_struct(fd, IMSG_VERBOSE_REQ, &vr, sizeof(vr));
	} else if ((strcmp(what, "status-req") == 0 ||
	    strcmp(what, "reload-req") == 0) && argc == 5) {
		memset(ca.ca_cmd, 0, sizeof(ca.ca_cmd));
		strncpy(ca.ca_cmd, argv[4], sizeof(ca.ca_cmd) - 1);
		send_struct(fd, what[0] == 's' ? IMSG_STATUS_REQ :
		    IMSG_RELOAD_REQ, &ca, sizeof(ca));
	} else if (strcmp(what, "verbose-req") == 0 && argc == 6) {
		memset(&vr, 0, sizeof(vr));
		strncpy(vr.vr_audit.ca_cmd, argv[4],
		    sizeof(vr.vr_audit.ca_cmd) - 1);
		vr.vr_verbose = atoi(argv[5]);
		send_struct(fd, IMSG_VERBOSE_REQ, &vr, sizeof(vr));
	} else if (strcmp(what, "update-req") == 0 && argc == 6) {
		memset(&ur, 0, sizeof(ur));
		ur.ur_audit.ca_uid = strtoul(argv[4], NULL, 10);
		ur.ur_audit.ca_gid = ur.ur_audit.ca_uid;
		strlcpy(ur.ur_audit.ca_cmd, "update",
		    sizeof(ur.ur_audit.ca_cmd));
		ur.ur_action = atoi(argv[5]);
		send_struct(fd, IMSG_UPDATE_REQ, &ur, sizeof(ur));
	} else if (strcmp(what, "net-addr") == 0 && argc == 6) {
		/* As the net worker answers: id addr */
		memset(&na, 0, sizeof(na));
		strncpy(na.na_id, argv[4], sizeof(na.na_id) - 1);
		if (inet_pton(AF_INET, argv[5], &na.na_addr) != 1)
			errx(1, "bad address");
		send_struct(fd, IMSG_NET_ADDR, &na, sizeof(na));
	} else if (strcmp(what, "netop-setup") == 0 && argc == 5)
		send_bytes(fd, IMSG_NETOP_SETUP, argv[4]);
	else if (strncmp(what, "vmop-", 5) == 0 && argc >= 5)
		send_vmop(fd, what + 5, argc - 4, argv + 4);
	else if (strncmp(what, "snapop-", 7) == 0 && argc >= 5) {
		char	 op[32];

		snprintf(op, sizeof(op), "snap-%s", what + 7);
		send_vmop(fd, op, argc - 4, argv + 4);
	}
	else if (strncmp(what, "imgop-", 6) == 0 && argc >= 5)
		send_imgop(fd, what + 6, argc - 4, argv + 4);
	else if (strncmp(what, "upd-", 4) == 0 && argc >= 5)
		send_upd(fd, what + 4, argc - 4, argv + 4);
	else
		errx(1, "unknown case %s", what);
	return 0;
}

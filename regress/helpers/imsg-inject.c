/*
 * imsg-inject: act as a compromised worker.  Takes a copy of a worker's
 * channel to the parent (pidfd_getfd, root only) and writes one
 * malformed message on it, as the worker itself could.
 *
 * usage: imsg-inject pid fd case [arguments]
 * cases: unknown-type, short, oversized, under-header, unterminated,
 *	  ready-again, with-fd, bad-verbose, and the VM operations:
 *	  vmop-create ID IMAGE [NAME], vmop-signal ID SIG, vmop-disk ID,
 *	  vmop-destroy ID, vmop-socket ID, vmop-fsck ID,
 *	  vmop-start ID [tcp|udp:HOSTADDR:HOSTPORT:GUESTPORT ...];
 *	  as the net worker: net-addr ID ADDR
 */
#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "proto.h"

#ifndef IMSG_FD_MARK
#define IMSG_FD_MARK	0x80000000U
#endif

static void
send_raw(int fd, uint32_t type, uint32_t len, const void *data,
    size_t datalen, int passfd)
{
	struct imsg_hdr	 hdr;
	struct iovec	 iov[2];
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cmsg;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
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
}

/* A VM operation as the vm worker would send it, with any id or name. */
static void
send_vmop(int fd, const char *op, int argc, char **argv)
{
	struct vmop_create	 vc;
	struct vmop_start	 vs;
	struct vmop_signal	 vg;
	struct vmop_id		 vi;
	uint32_t		 type;
	int			 i;

	if (strcmp(op, "create") == 0 && (argc == 2 || argc == 3)) {
		memset(&vc, 0, sizeof(vc));
		strncpy(vc.vc_id, argv[0], sizeof(vc.vc_id) - 1);
		strncpy(vc.vc_image, argv[1], sizeof(vc.vc_image) - 1);
		strncpy(vc.vc_name, argc == 3 ? argv[2] : "forged",
		    sizeof(vc.vc_name) - 1);
		send_raw(fd, IMSG_VMOP_CREATE, IMSG_HEADER_SIZE + sizeof(vc),
		    &vc, sizeof(vc), -1);
	} else if (strcmp(op, "start") == 0 && argc >= 1 &&
	    argc <= 1 + PROTO_PUBLISH_MAX) {
		memset(&vs, 0, sizeof(vs));
		strncpy(vs.vs_id, argv[0], sizeof(vs.vs_id) - 1);
		for (i = 1; i < argc; i++) {
			struct proto_publish	*pp = &vs.vs_publish[i - 1];
			char			 pr[8], ha[32];
			unsigned		 hp, gp;
			struct in_addr		 a;

			if (sscanf(argv[i], "%7[a-z]:%31[0-9.]:%u:%u", pr, ha,
			    &hp, &gp) != 4 || inet_pton(AF_INET, ha, &a) != 1)
				errx(1, "bad published port %s", argv[i]);
			pp->pp_proto = strcmp(pr, "udp") == 0 ? IPPROTO_UDP :
			    IPPROTO_TCP;
			pp->pp_host_addr = a.s_addr;
			pp->pp_host_port = hp;
			pp->pp_guest_port = gp;
		}
		vs.vs_npublish = argc - 1;
		vs.vs_cpus = 1;
		vs.vs_memory = 128;
		send_raw(fd, IMSG_VMOP_START, IMSG_HEADER_SIZE + sizeof(vs),
		    &vs, sizeof(vs), -1);
	} else if (strcmp(op, "signal") == 0 && argc == 2) {
		memset(&vg, 0, sizeof(vg));
		strncpy(vg.vg_id, argv[0], sizeof(vg.vg_id) - 1);
		vg.vg_signal = atoi(argv[1]);
		send_raw(fd, IMSG_VMOP_SIGNAL, IMSG_HEADER_SIZE + sizeof(vg),
		    &vg, sizeof(vg), -1);
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
		send_raw(fd, type, IMSG_HEADER_SIZE + sizeof(vi), &vi,
		    sizeof(vi), -1);
	} else
		errx(1, "vm operation %s: wrong arguments", op);
}

int
main(int argc, char *argv[])
{
	struct ctl_audit	 ca;
	struct verbose_req	 vr;
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
		send_raw(fd, 9999, IMSG_HEADER_SIZE, NULL, 0, -1);
	else if (strcmp(what, "short") == 0)
		send_raw(fd, IMSG_STATUS_REQ, IMSG_HEADER_SIZE + 4, &ca, 4, -1);
	else if (strcmp(what, "oversized") == 0)
		send_raw(fd, IMSG_STATUS_REQ, 1 << 20, &ca, sizeof(ca), -1);
	else if (strcmp(what, "under-header") == 0)
		send_raw(fd, IMSG_STATUS_REQ, 8, &ca, sizeof(ca), -1);
	else if (strcmp(what, "unterminated") == 0) {
		memset(ca.ca_cmd, 'A', sizeof(ca.ca_cmd));
		send_raw(fd, IMSG_STATUS_REQ, IMSG_HEADER_SIZE + sizeof(ca),
		    &ca, sizeof(ca), -1);
	} else if (strcmp(what, "ready-again") == 0) {
		memset(&wr, 0, sizeof(wr));
		wr.wr_proto = BANGER_PROTO_VERSION;
		strlcpy(wr.wr_role, "update", sizeof(wr.wr_role));
		send_raw(fd, IMSG_WORKER_READY, IMSG_HEADER_SIZE + sizeof(wr),
		    &wr, sizeof(wr), -1);
	} else if (strcmp(what, "with-fd") == 0) {
		if ((nullfd = open("/dev/null", O_RDONLY)) == -1)
			err(1, "/dev/null");
		send_raw(fd, IMSG_STATUS_REQ, IMSG_HEADER_SIZE + sizeof(ca),
		    &ca, sizeof(ca), nullfd);
	} else if (strcmp(what, "bad-verbose") == 0) {
		memset(&vr, 0, sizeof(vr));
		vr.vr_audit = ca;
		memset(vr.vr_audit.ca_cmd, 0, sizeof(vr.vr_audit.ca_cmd));
		strlcpy(vr.vr_audit.ca_cmd, "log", sizeof(vr.vr_audit.ca_cmd));
		vr.vr_verbose = 7;
		send_raw(fd, IMSG_VERBOSE_REQ, IMSG_HEADER_SIZE + sizeof(vr),
		    &vr, sizeof(vr), -1);
	} else if (strcmp(what, "net-addr") == 0 && argc == 6) {
		/* As the net worker answers: id addr */
		memset(&na, 0, sizeof(na));
		strncpy(na.na_id, argv[4], sizeof(na.na_id) - 1);
		if (inet_pton(AF_INET, argv[5], &na.na_addr) != 1)
			errx(1, "bad address");
		send_raw(fd, IMSG_NET_ADDR, IMSG_HEADER_SIZE + sizeof(na),
		    &na, sizeof(na), -1);
	} else if (strncmp(what, "vmop-", 5) == 0 && argc >= 5)
		send_vmop(fd, what + 5, argc - 4, argv + 4);
	else
		errx(1, "unknown case %s", what);
	return 0;
}

/*
 * A compromised pull worker, for regress/pull/oci.sh: installed as
 * bangerd-pull, it answers the import's child as a worker would, up to
 * its start, then does what the mode file says instead of unpacking:
 *
 *	grow		write past the file system's end, then report success
 *	nosuper		zero the ext4 superblock, then report success
 *	badtype		send a message type not in the protocol
 *	fdprogress	send progress with a descriptor
 *	unterminated	a result whose message is not NUL-terminated
 *	lie		report success, then keep writing for a while
 *
 * The mode is read from PULL_FORGE_MODE (a file path built in; the
 * environment is empty when bangerd starts a worker).
 */
#include <sys/types.h>
#include <sys/stat.h>

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

#define PULL_FORGE_MODE	"/tmp/banger-pull-forge.mode"

static struct imsgbuf	 ib;

static void
recv1(struct imsg *imsg)
{
	struct pollfd	 pfd = { 3, POLLIN, 0 };
	ssize_t		 n;

	for (;;) {
		if ((n = imsg_get(&ib, imsg)) == -1)
			err(1, "imsg_get");
		if (n > 0)
			return;
		(void)poll(&pfd, 1, -1);
		if ((n = imsgbuf_read(&ib)) == 0)
			errx(1, "closed");
		if (n == -1)
			err(1, "read");
	}
}

static void
send1(uint32_t type, int fd, const void *p, size_t len)
{
	if (imsg_compose(&ib, type, 0, 0, fd, p, len) == -1 ||
	    imsgbuf_flush(&ib) == -1)
		err(1, "send");
}

int
main(void)
{
	struct worker_ready	 wr;
	struct pull_done	 pd;
	struct pull_progress	 pp;
	struct imsg		 imsg;
	char			 mode[32] = "";
	unsigned char		 zero[1024];
	FILE			*f;
	int			 fsfd = -1, fd, i;

	if ((f = fopen(PULL_FORGE_MODE, "r")) != NULL) {
		if (fgets(mode, sizeof(mode), f) == NULL)
			mode[0] = '\0';
		mode[strcspn(mode, "\n")] = '\0';
		fclose(f);
	}
	if (imsgbuf_init(&ib, 3) == -1)
		err(1, "imsgbuf_init");
	imsgbuf_allow_fdpass(&ib);
	recv1(&imsg);			/* worker_init */
	imsg_free(&imsg);
	memset(&wr, 0, sizeof(wr));
	wr.wr_proto = BANGER_PROTO_VERSION;
	strlcpy(wr.wr_role, "pull", sizeof(wr.wr_role));
	strlcpy(wr.wr_version, BANGER_VERSION, sizeof(wr.wr_version));
	send1(IMSG_WORKER_READY, -1, &wr, sizeof(wr));
	for (;;) {
		recv1(&imsg);
		fd = imsg_get_fd(&imsg);
		if (imsg_get_type(&imsg) == IMSG_PULL_FS)
			fsfd = fd;
		else if (fd != -1)
			close(fd);
		if (imsg_get_type(&imsg) == IMSG_PULL_START)
			break;
		imsg_free(&imsg);
	}
	imsg_free(&imsg);

	memset(&pd, 0, sizeof(pd));
	strlcpy(pd.pd_msg, "all done", sizeof(pd.pd_msg));
	strlcpy(pd.pd_digest, "sha256:forged", sizeof(pd.pd_digest));
	memset(zero, 0, sizeof(zero));
	if (strcmp(mode, "grow") == 0) {
		if (pwrite(fsfd, "x", 1, (off_t)1 << 30) != 1)
			err(1, "pwrite");
	} else if (strcmp(mode, "nosuper") == 0) {
		if (pwrite(fsfd, zero, sizeof(zero), 1024) != sizeof(zero))
			err(1, "pwrite");
	} else if (strcmp(mode, "badtype") == 0) {
		send1(IMSG_VMOP_CREATE, -1, NULL, 0);
		pause();
	} else if (strcmp(mode, "fdprogress") == 0) {
		memset(&pp, 0, sizeof(pp));
		send1(IMSG_PULL_PROGRESS, dup(fsfd), &pp, sizeof(pp));
		pause();
	} else if (strcmp(mode, "unterminated") == 0) {
		memset(pd.pd_msg, 'A', sizeof(pd.pd_msg));
	} else if (strcmp(mode, "lie") == 0) {
		send1(IMSG_PULL_DONE, -1, &pd, sizeof(pd));
		/* Still writing after its result: the child must not wait. */
		for (i = 0; i < 600; i++) {
			(void)pwrite(fsfd, zero, sizeof(zero), 1024);
			usleep(100 * 1000);
		}
		return 0;
	}
	send1(IMSG_PULL_DONE, -1, &pd, sizeof(pd));
	return 0;
}

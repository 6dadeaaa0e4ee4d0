/*
 * ctl-import: a client of the control socket that is not bangerctl and
 * skips its checks.  Sends one image import request, with no files,
 * naming the image NAME with boot args ARGS as given (any bytes), and
 * prints the daemon's answer: "ERRNO MESSAGE".
 *
 * usage: ctl-import socket name args
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "proto.h"

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun;
	struct ctl_image_import	 ci;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct result		 res;
	ssize_t			 n;
	int			 fd;

	if (argc != 4)
		errx(2, "usage: ctl-import socket name args");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, argv[1], sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(1, "%s: too long", argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(1, "%s", argv[1]);
	if (imsgbuf_init(&ibuf, fd) == -1)
		err(1, "imsgbuf_init");

	memset(&ci, 0, sizeof(ci));
	strlcpy(ci.ci_name, argv[2], sizeof(ci.ci_name));
	if (strlcpy(ci.ci_bootargs, argv[3], sizeof(ci.ci_bootargs)) >=
	    sizeof(ci.ci_bootargs))
		errx(1, "args: too long");
	ci.ci_flags = IMAGE_F_BOOTARGS;
	if (imsg_compose(&ibuf, IMSG_CTL_IMAGE_IMPORT, 0, 0, -1, &ci,
	    sizeof(ci)) == -1 || imsgbuf_flush(&ibuf) == -1)
		err(1, "send");

	for (;;) {
		if ((n = imsg_get(&ibuf, &imsg)) == -1)
			err(1, "bad message");
		if (n > 0)
			break;
		switch (imsgbuf_read(&ibuf)) {
		case -1:
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err(1, "read");
		case 0:
			errx(1, "closed without an answer");
		}
	}
	if (imsg_get_type(&imsg) != IMSG_CTL_RESULT ||
	    imsg_get_data(&imsg, &res, sizeof(res)) == -1)
		errx(1, "unexpected answer (type %u)", imsg_get_type(&imsg));
	res.res_msg[sizeof(res.res_msg) - 1] = '\0';
	printf("%d %s\n", res.res_error, res.res_msg);
	imsg_free(&imsg);
	imsgbuf_clear(&ibuf);
	close(fd);
	return 0;
}

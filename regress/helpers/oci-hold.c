/*
 * oci-hold: a client of the control socket that sends OCI layout files
 * (each an fd of /dev/null) the way bangerctl does not, for
 * regress/pull/oci.sh.
 *
 *	oci-hold SOCK hold	one file, then wait until stdin closes
 *	oci-hold SOCK many	129 files, then an import: prints the answer
 *	oci-hold SOCK twice	one name twice, then an import
 *	oci-hold SOCK badname	a file named ../index.json: prints the
 *				refusal it gets, then the daemon closes
 *
 * An import's answer is printed as "ERRNO MESSAGE".
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "proto.h"

static struct imsgbuf	 ibuf;

static void
file(const char *name)
{
	struct ctl_image_file	 cf;
	int			 fd;

	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "/dev/null");
	memset(&cf, 0, sizeof(cf));
	cf.cf_kind = IMAGE_OCI;
	strlcpy(cf.cf_path, name, sizeof(cf.cf_path));
	if (imsg_compose(&ibuf, IMSG_CTL_IMAGE_FILE, 0, 0, fd, &cf,
	    sizeof(cf)) == -1 || imsgbuf_flush(&ibuf) == -1)
		err(1, "send");
}

static int
answer(int import)
{
	struct ctl_image_import	 ci;
	struct imsg		 imsg;
	struct result		 res;
	ssize_t			 n;

	memset(&ci, 0, sizeof(ci));
	strlcpy(ci.ci_name, "held", sizeof(ci.ci_name));
	strlcpy(ci.ci_kernel_from, "default", sizeof(ci.ci_kernel_from));
	ci.ci_flags = IMAGE_F_OCI;
	ci.ci_size = 16 << 20;
	if (import && (imsg_compose(&ibuf, IMSG_CTL_IMAGE_IMPORT, 0, 0, -1, &ci,
	    sizeof(ci)) == -1 || imsgbuf_flush(&ibuf) == -1)) {
		printf("closed\n");
		return 0;
	}
	for (;;) {
		if ((n = imsg_get(&ibuf, &imsg)) == -1)
			err(1, "bad message");
		if (n > 0) {
			if (imsg_get_type(&imsg) == IMSG_CTL_RESULT &&
			    imsg_get_data(&imsg, &res, sizeof(res)) == 0) {
				res.res_msg[sizeof(res.res_msg) - 1] = '\0';
				printf("%d %s\n", res.res_error, res.res_msg);
				return 0;
			}
			imsg_free(&imsg);
			continue;
		}
		if ((n = imsgbuf_read(&ibuf)) == -1 && errno != EAGAIN)
			err(1, "read");
		if (n == 0) {
			printf("closed\n");
			return 0;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun;
	char			 name[PROTO_PATH_MAX], c;
	int			 fd, i;

	if (argc != 3)
		errx(2, "usage: oci-hold socket hold|many|twice|badname");
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
	imsgbuf_allow_fdpass(&ibuf);

	if (strcmp(argv[2], "hold") == 0) {
		file("index.json");
		printf("holding\n");
		fflush(stdout);
		while (read(STDIN_FILENO, &c, 1) > 0)
			;
		return 0;
	}
	if (strcmp(argv[2], "many") == 0) {
		file("index.json");
		for (i = 0; i < OCI_FILES_MAX; i++) {
			snprintf(name, sizeof(name), "blobs/sha256/%064x", i);
			file(name);
		}
	} else if (strcmp(argv[2], "twice") == 0) {
		file("index.json");
		file("index.json");
	} else if (strcmp(argv[2], "badname") == 0) {
		/* Refused at once: no import is sent, the answer is read. */
		file("../index.json");
		return answer(0);
	} else
		errx(2, "unknown mode %s", argv[2]);
	return answer(1);
}

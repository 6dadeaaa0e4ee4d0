/*
 * VM lifecycles through bangerd's control socket, as a program that
 * links a client library would drive them: no process started per
 * step.  Each request opens its own connection, as bangerctl does.
 *
 *	life_bench SOCKET PREFIX COUNT [CLIENTS [IMAGE]]
 *	life_bench -c VM/SNAP SOCKET PREFIX COUNT [CLIENTS]
 *	life_bench -s SOCKET PREFIX COUNT [CLIENTS [IMAGE]]
 *
 * CLIENTS processes each run COUNT lifecycles (create, start, stop, rm)
 * of VMs PREFIX-C-I; one line per lifecycle on stdout, microseconds:
 * "create start stop rm total", then "wall USEC" for the whole run.
 * With -c, each makes COUNT clones of VM's snapshot SNAP instead, as
 * `vm create PREFIX-C-I --from-snapshot VM/SNAP --start` does, and
 * leaves them running; one line per clone: "create".  With -s, each
 * creates and starts COUNT VMs, as `vm create PREFIX-C-I --start`
 * does, and leaves them running; one line per VM: "create".
 * Exits 1 if any request failed (its message on stderr).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "proto.h"

static const char	*sockpath;
static char		 from_vm[PROTO_VMNAME_MAX];
static char		 from_snap[PROTO_VMNAME_MAX];
static int		 start_only;	/* -s */

static long long
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* One request, its answers up to the result; -1 if it failed. */
static int
request(uint32_t type, const void *data, size_t len)
{
	struct sockaddr_un	 sun;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct result		 res;
	ssize_t			 n;
	int			 fd, rv = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, sockpath, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(1, "%s", sockpath);
	if (imsgbuf_init(&ibuf, fd) == -1 ||
	    imsg_compose(&ibuf, type, 0, 0, -1, data, len) == -1 ||
	    imsgbuf_flush(&ibuf) == -1)
		err(1, "send");
	for (;;) {
		if ((n = imsg_get(&ibuf, &imsg)) == -1)
			err(1, "imsg_get");
		if (n == 0) {
			if (imsgbuf_read(&ibuf) <= 0)
				errx(1, "bangerd closed the connection");
			continue;
		}
		if (imsg_get_type(&imsg) != IMSG_CTL_RESULT) {
			imsg_free(&imsg);
			continue;
		}
		if (imsg_get_data(&imsg, &res, sizeof(res)) == -1)
			errx(1, "bad result");
		res.res_msg[sizeof(res.res_msg) - 1] = '\0';
		if (res.res_error != 0)
			warnx("%s", res.res_msg);
		else
			rv = 0;
		imsg_free(&imsg);
		break;
	}
	imsgbuf_clear(&ibuf);
	close(fd);
	return rv;
}

static int
vm_action(const char *name, int action)
{
	struct ctl_vm	 cv;

	memset(&cv, 0, sizeof(cv));
	strlcpy(cv.cv_name, name, sizeof(cv.cv_name));
	cv.cv_action = action;
	return request(IMSG_CTL_VM, &cv, sizeof(cv));
}

static int
client(const char *prefix, int c, int count, const char *image)
{
	struct ctl_vm_create	 cc;
	long long		 t[5];
	int			 i, bad = 0;

	for (i = 0; i < count; i++) {
		memset(&cc, 0, sizeof(cc));
		snprintf(cc.cc_name, sizeof(cc.cc_name), "%s-%d-%d", prefix,
		    c, i);
		if (image != NULL)
			strlcpy(cc.cc_image, image, sizeof(cc.cc_image));
		if (from_vm[0] != '\0') {
			strlcpy(cc.cc_from_vm, from_vm, sizeof(cc.cc_from_vm));
			strlcpy(cc.cc_from_snap, from_snap,
			    sizeof(cc.cc_from_snap));
			cc.cc_flags = CTL_VM_F_START;
		}
		if (start_only)
			cc.cc_flags = CTL_VM_F_START;
		t[0] = now_us();
		bad |= request(IMSG_CTL_VM_CREATE, &cc, sizeof(cc));
		t[1] = now_us();
		if (from_vm[0] != '\0' || start_only) {
			printf("%lld\n", t[1] - t[0]);
			continue;
		}
		bad |= vm_action(cc.cc_name, CTL_VM_START);
		t[2] = now_us();
		bad |= vm_action(cc.cc_name, CTL_VM_STOP);
		t[3] = now_us();
		bad |= vm_action(cc.cc_name, CTL_VM_RM);
		t[4] = now_us();
		printf("%lld %lld %lld %lld %lld\n", t[1] - t[0], t[2] - t[1],
		    t[3] - t[2], t[4] - t[3], t[4] - t[0]);
	}
	fflush(stdout);
	return bad ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	long long	 t0;
	const char	*slash;
	int		 count, clients = 1, c, st, bad = 0;

	if (argc > 1 && strcmp(argv[1], "-s") == 0) {
		start_only = 1;
		argv++;
		argc--;
	} else if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		if ((slash = strchr(argv[2], '/')) == NULL ||
		    slash == argv[2] || slash[1] == '\0' ||
		    (size_t)(slash - argv[2]) >= sizeof(from_vm) ||
		    strlcpy(from_snap, slash + 1, sizeof(from_snap)) >=
		    sizeof(from_snap))
			errx(2, "-c %s: VM/SNAP wanted", argv[2]);
		memcpy(from_vm, argv[2], slash - argv[2]);
		argv += 2;
		argc -= 2;
		if (argc > 5)
			errx(2, "-c takes no IMAGE: a clone's is its origin's");
	}
	if (argc < 4 || argc > 6)
		errx(2, "usage: life_bench SOCKET PREFIX COUNT [CLIENTS "
		    "[IMAGE]]\n       life_bench -c VM/SNAP SOCKET PREFIX "
		    "COUNT [CLIENTS]\n       life_bench -s SOCKET PREFIX COUNT "
		    "[CLIENTS [IMAGE]]");
	sockpath = argv[1];
	count = atoi(argv[3]);
	if (argc > 4)
		clients = atoi(argv[4]);
	if (count < 1 || clients < 1)
		errx(2, "COUNT and CLIENTS are at least 1");
	fflush(stdout);
	t0 = now_us();
	for (c = 0; c < clients; c++) {
		switch (fork()) {
		case -1:
			err(1, "fork");
		case 0:
			_exit(client(argv[2], c, count,
			    argc > 5 ? argv[5] : NULL));
		}
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	printf("wall %lld\n", now_us() - t0);
	return bad;
}

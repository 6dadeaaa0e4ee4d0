/*
 * imsg throughput over a socketpair, against raw write/read of the same
 * bytes: prints messages/s, MiB/s and the ratio imsg/raw per payload
 * size.  A writer child and a reader parent, blocking sockets.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
run_imsg(size_t size, int count)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	char		*buf;
	double		 t0;
	int		 sp[2], got = 0;
	ssize_t		 n;
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		err(1, "socketpair");
	if ((buf = calloc(1, size ? size : 1)) == NULL)
		err(1, NULL);
	t0 = now();
	if ((pid = fork()) == 0) {
		close(sp[0]);
		if (imsgbuf_init(&ibuf, sp[1]) == -1)
			err(1, "imsgbuf_init");
		for (int i = 0; i < count; i++) {
			if (imsg_compose(&ibuf, 1, 0, 0, -1, buf, size) == -1)
				err(1, "imsg_compose");
			if (imsgbuf_queuelen(&ibuf) > 64 &&
			    imsgbuf_flush(&ibuf) == -1)
				err(1, "imsgbuf_flush");
		}
		if (imsgbuf_flush(&ibuf) == -1)
			err(1, "imsgbuf_flush");
		imsgbuf_clear(&ibuf);
		_exit(0);
	}
	close(sp[1]);
	if (imsgbuf_init(&ibuf, sp[0]) == -1)
		err(1, "imsgbuf_init");
	while (got < count) {
		if ((n = imsgbuf_read(&ibuf)) == -1 && errno != EAGAIN)
			err(1, "imsgbuf_read");
		if (n == 0)
			errx(1, "eof after %d messages", got);
		while ((n = imsg_get(&ibuf, &imsg)) > 0) {
			got++;
			imsg_free(&imsg);
		}
		if (n == -1)
			err(1, "imsg_get");
	}
	t0 = now() - t0;
	waitpid(pid, NULL, 0);
	imsgbuf_clear(&ibuf);
	close(sp[0]);
	free(buf);
	return t0;
}

static double
run_raw(size_t size, int count)
{
	size_t	 len = size + 16, total = len * (size_t)count, done = 0;
	char	*buf, rbuf[65536];
	double	 t0;
	int	 sp[2];
	ssize_t	 n;
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		err(1, "socketpair");
	if ((buf = calloc(1, len)) == NULL)
		err(1, NULL);
	t0 = now();
	if ((pid = fork()) == 0) {
		close(sp[0]);
		for (int i = 0; i < count; i++)
			for (size_t off = 0; off < len; off += n)
				if ((n = write(sp[1], buf + off, len - off)) <= 0)
					err(1, "write");
		_exit(0);
	}
	close(sp[1]);
	while (done < total) {
		if ((n = read(sp[0], rbuf, sizeof(rbuf))) <= 0)
			err(1, "read");
		done += n;
	}
	t0 = now() - t0;
	waitpid(pid, NULL, 0);
	close(sp[0]);
	free(buf);
	return t0;
}

int
main(void)
{
	static const size_t sizes[] = { 0, 64, 512, 4096, 16000 };
	size_t	 i;
	int	 count;
	double	 ti, tr;

	printf("%-8s %12s %10s %12s %10s %8s\n", "payload", "imsg msg/s",
	    "imsg MiB/s", "raw msg/s", "raw MiB/s", "ratio");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		count = sizes[i] >= 4096 ? 100000 : 400000;
		ti = run_imsg(sizes[i], count);
		tr = run_raw(sizes[i], count);
		printf("%-8zu %12.0f %10.1f %12.0f %10.1f %8.2f\n", sizes[i],
		    count / ti, count * (sizes[i] + 16) / ti / 1048576.0,
		    count / tr, count * (sizes[i] + 16) / tr / 1048576.0,
		    ti / tr);
	}
	printf("raw: one write(2) per framed message, 64 KiB reads; imsg: flush\n"
	    "every 64 queued messages.  ratio = imsg time / raw time.\n");
	return 0;
}

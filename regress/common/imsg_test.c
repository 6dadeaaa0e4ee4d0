/*
 * Unit tests for common/imsg.c and common/imsg-buffer.c: framing,
 * descriptor passing, limits, error paths and nonblocking writes, over
 * AF_UNIX socketpairs.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "regress.h"

#define MAXPAYLOAD	(MAX_IMSGSIZE - IMSG_HEADER_SIZE)
#define FD_MARK		0x80000000U
#define CONTENT		"banger passes this file\n"

static char	tmpl[] = "/tmp/imsg_test.XXXXXX";
static int	tfd = -1;		/* a file with CONTENT in it */
static struct stat tst;

/* Open descriptors, counted in /proc/self/fd. */
static int
nfds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n - 1);		/* less the directory's own */
}

static int
isopen(int fd)
{
	return (fcntl(fd, F_GETFD) != -1);
}

static int
isclosed(int fd)
{
	return (fcntl(fd, F_GETFD) == -1 && errno == EBADF);
}

/* Does fd name the test file, with its content? */
static int
sametestfile(int fd)
{
	struct stat	 st;
	char		 buf[64];
	ssize_t		 n;

	if (fstat(fd, &st) == -1)
		return (0);
	if (st.st_dev != tst.st_dev || st.st_ino != tst.st_ino)
		return (0);
	n = pread(fd, buf, sizeof(buf), 0);
	return (n == (ssize_t)strlen(CONTENT) && memcmp(buf, CONTENT, n) == 0);
}

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		perror("socketpair");
		exit(1);
	}
}

/* write(2) all of it, or give up on the whole test program */
static void
xwrite(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len) {
		perror("write");
		exit(1);
	}
}

static void
nonblock(int fd)
{
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		perror("fcntl");
		exit(1);
	}
}

/* Two imsgbufs on the ends of a new socketpair. */
static void
setup(struct imsgbuf *a, struct imsgbuf *b, int sv[2])
{
	pair(sv);
	if (imsgbuf_init(a, sv[0]) == -1 || imsgbuf_init(b, sv[1]) == -1) {
		perror("imsgbuf_init");
		exit(1);
	}
}

static void
teardown(struct imsgbuf *a, struct imsgbuf *b, int sv[2])
{
	imsgbuf_clear(a);
	imsgbuf_clear(b);
	close(sv[0]);
	close(sv[1]);
}

/* A header as it travels, plus payload. */
static size_t
frame(unsigned char *out, uint32_t type, uint32_t len, uint32_t peerid,
    uint32_t pid, const void *data, size_t datalen)
{
	struct imsg_hdr	 hdr;

	hdr.type = type;
	hdr.len = len;
	hdr.peerid = peerid;
	hdr.pid = pid;
	memcpy(out, &hdr, sizeof(hdr));
	if (datalen > 0)
		memcpy(out + sizeof(hdr), data, datalen);
	return (sizeof(hdr) + datalen);
}

/* sendmsg len bytes with nfd descriptors (all fd) attached. */
static ssize_t
sendraw(int s, const void *data, size_t len, int fd, int nfd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 32)];
	} cmsgbuf;
	int		 i;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfd > 0) {
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfd);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfd);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		for (i = 0; i < nfd; i++)
			memcpy(CMSG_DATA(cmsg) + i * sizeof(int), &fd,
			    sizeof(int));
	}
	return (sendmsg(s, &msg, MSG_NOSIGNAL));
}

/* Read until a message is complete: imsg_get's answer, or -2. */
static ssize_t
getone(struct imsgbuf *ib, struct imsg *imsg)
{
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 1000; i++) {
		if ((n = imsg_get(ib, imsg)) != 0)
			return (n);
		if (imsgbuf_read(ib) != 1)
			return (-2);
	}
	return (-2);
}

static void
fill(unsigned char *p, size_t len, size_t seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 31 + seed * 7 + 1);
}

static void
test_init(void)
{
	struct imsgbuf	 a, b;
	int		 sv[2];

	setup(&a, &b, sv);
	T_CHECK("imsg: header is 16 bytes", IMSG_HEADER_SIZE == 16 &&
	    sizeof(struct imsg_hdr) == 16, "size %zu", IMSG_HEADER_SIZE);
	T_CHECK("imsg: init defaults", a.maxsize == MAX_IMSGSIZE &&
	    a.pid == getpid() && a.fd == sv[0] && imsgbuf_queuelen(&a) == 0,
	    "maxsize %u pid %d fd %d queuelen %u", a.maxsize, (int)a.pid,
	    a.fd, imsgbuf_queuelen(&a));
	teardown(&a, &b, sv);
}

static void
test_maxsize(void)
{
	const char	*name = "imsg: set_maxsize bounds and limits";
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 buf[128], f[256];
	int		 sv[2], r1, r2, r3, e2, e3, r4, r5, e5, r6, r7, e7;
	ssize_t		 g;

	setup(&a, &b, sv);
	memset(buf, 'x', sizeof(buf));
	r1 = imsgbuf_set_maxsize(&a, 64);
	r2 = imsgbuf_set_maxsize(&a, UINT32_MAX);
	e2 = errno;
	r3 = imsgbuf_set_maxsize(&a, FD_MARK - IMSG_HEADER_SIZE);
	e3 = errno;
	T_CHECK(name, r1 == 0 && a.maxsize == 64 + IMSG_HEADER_SIZE &&
	    r2 == -1 && e2 == ERANGE && r3 == -1 && e3 == EINVAL &&
	    a.maxsize == 80, "r %d %d/%d %d/%d maxsize %u", r1, r2, e2, r3,
	    e3, a.maxsize);

	r4 = imsg_compose(&a, 1, 0, 0, -1, buf, 64);
	r5 = imsg_compose(&a, 1, 0, 0, -1, buf, 65);
	e5 = errno;
	T_CHECK("imsg: compose honours maxsize", r4 == 1 && r5 == -1 &&
	    e5 == ERANGE && imsgbuf_queuelen(&a) == 1, "r %d %d/%d", r4, r5,
	    e5);

	/* the receiver's limit: 80 is fine, 81 is not */
	imsgbuf_set_maxsize(&b, 64);
	(void)imsgbuf_flush(&a);
	g = getone(&b, &imsg);
	T_CHECK("imsg: receive at maxsize", g == 80 &&
	    imsg_get_len(&imsg) == 64, "imsg_get %zd", g);
	if (g > 0)
		imsg_free(&imsg);
	r6 = (int)write(sv[0], f, frame(f, 1, 81, 0, 0, buf, 65));
	r7 = imsgbuf_read(&b);
	e7 = errno;
	T_CHECK("imsg: receive over a lowered maxsize refused", r6 == 81 &&
	    r7 == -1 && e7 == ERANGE, "write %d read %d errno %d", r6, r7,
	    e7);
	teardown(&a, &b, sv);
}

static void
test_roundtrip(void)
{
	const char	*name = "imsg: round trip every size 0..max";
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	*out;
	char		 why[200] = "";
	size_t		 sz;
	ssize_t		 n;
	pid_t		 pid;
	int		 sv[2], r, e;

	setup(&a, &b, sv);
	if ((out = malloc(MAXPAYLOAD + 1)) == NULL)
		exit(1);
	for (sz = 0; sz <= MAXPAYLOAD; sz++) {
		fill(out, sz, sz);
		pid = sz % 2 ? 4242 : 0;
		if (imsg_compose(&a, 1000 + sz, sz * 3, pid, -1, out,
		    sz) != 1) {
			snprintf(why, sizeof(why), "compose %zu: %s", sz,
			    strerror(errno));
			break;
		}
		if (imsgbuf_flush(&a) == -1) {
			snprintf(why, sizeof(why), "flush %zu: %s", sz,
			    strerror(errno));
			break;
		}
		if ((n = getone(&b, &imsg)) != (ssize_t)(sz + 16)) {
			snprintf(why, sizeof(why), "size %zu: imsg_get %zd",
			    sz, n);
			break;
		}
		if (imsg_get_type(&imsg) != 1000 + sz ||
		    imsg_get_id(&imsg) != sz * 3 ||
		    imsg_get_pid(&imsg) != (pid ? pid : getpid()) ||
		    imsg.hdr.len != sz + 16 || imsg_get_len(&imsg) != sz ||
		    (sz == 0) != (imsg.data == NULL) ||
		    (sz > 0 && memcmp(imsg.data, out, sz) != 0) ||
		    imsg_get_fd(&imsg) != -1) {
			snprintf(why, sizeof(why), "size %zu: type %u id %u "
			    "pid %d len %u differ", sz, imsg_get_type(&imsg),
			    imsg_get_id(&imsg), (int)imsg_get_pid(&imsg),
			    imsg.hdr.len);
			imsg_free(&imsg);
			break;
		}
		imsg_free(&imsg);
	}
	T_CHECK(name, why[0] == '\0' && sz == MAXPAYLOAD + 1, "%s", why);

	r = imsg_compose(&a, 1, 0, 0, -1, out, MAXPAYLOAD + 1);
	e = errno;
	T_CHECK("imsg: compose of max+1 is ERANGE", r == -1 && e == ERANGE &&
	    imsgbuf_queuelen(&a) == 0, "compose %d errno %d", r, e);
	free(out);
	teardown(&a, &b, sv);
}

static void
test_split(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 f[128], payload[40];
	char		 why[200] = "";
	size_t		 total, k;
	ssize_t		 n;
	int		 sv[2];

	setup(&a, &b, sv);
	fill(payload, sizeof(payload), 5);
	total = frame(f, 77, 16 + sizeof(payload), 5, 99, payload,
	    sizeof(payload));

	for (k = 1; k < total && why[0] == '\0'; k++) {
		if (write(sv[0], f, k) != (ssize_t)k ||
		    imsgbuf_read(&b) != 1) {
			snprintf(why, sizeof(why), "split %zu: first part", k);
			break;
		}
		if ((n = imsg_get(&b, &imsg)) != 0) {
			snprintf(why, sizeof(why), "split %zu: imsg_get %zd "
			    "before the message was complete", k, n);
			if (n > 0)
				imsg_free(&imsg);
			break;
		}
		if (write(sv[0], f + k, total - k) != (ssize_t)(total - k)) {
			snprintf(why, sizeof(why), "split %zu: write", k);
			break;
		}
		if ((n = getone(&b, &imsg)) != (ssize_t)total ||
		    imsg_get_type(&imsg) != 77 || imsg_get_id(&imsg) != 5 ||
		    imsg_get_pid(&imsg) != 99 ||
		    memcmp(imsg.data, payload, sizeof(payload)) != 0) {
			snprintf(why, sizeof(why), "split %zu: imsg_get %zd "
			    "or content wrong", k, n);
			if (n > 0)
				imsg_free(&imsg);
			break;
		}
		imsg_free(&imsg);
		if (imsg_get(&b, &imsg) != 0)
			snprintf(why, sizeof(why), "split %zu: extra message",
			    k);
	}
	T_CHECK("imsg: split reads at every byte boundary", why[0] == '\0',
	    "%s", why);

	/* one byte at a time: nothing until the last */
	for (k = 0; k < total && why[0] == '\0'; k++) {
		if (write(sv[0], f + k, 1) != 1 || imsgbuf_read(&b) != 1) {
			snprintf(why, sizeof(why), "byte %zu: io", k);
			break;
		}
		n = imsg_get(&b, &imsg);
		if (k + 1 < total && n != 0) {
			snprintf(why, sizeof(why), "byte %zu: imsg_get %zd",
			    k, n);
			if (n > 0)
				imsg_free(&imsg);
		} else if (k + 1 == total) {
			if (n != (ssize_t)total || memcmp(imsg.data, payload,
			    sizeof(payload)) != 0)
				snprintf(why, sizeof(why), "last byte: "
				    "imsg_get %zd", n);
			if (n > 0)
				imsg_free(&imsg);
		}
	}
	T_CHECK("imsg: one byte at a time", why[0] == '\0', "%s", why);
	teardown(&a, &b, sv);
}

static void
test_several(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 buf[3000], f[256];
	char		 why[200] = "";
	size_t		 sizes[] = { 10, 0, 2999, 1, 500 }, i, len;
	ssize_t		 n;
	int		 sv[2], r;

	setup(&a, &b, sv);
	for (i = 0; i < 5; i++) {
		fill(buf, sizes[i], i);
		imsg_compose(&a, i, 0, 0, -1, buf, sizes[i]);
	}
	imsgbuf_flush(&a);
	r = imsgbuf_read(&b);
	for (i = 0; i < 5 && why[0] == '\0'; i++) {
		fill(buf, sizes[i], i);
		n = imsg_get(&b, &imsg);
		if (n != (ssize_t)(sizes[i] + 16) ||
		    imsg_get_type(&imsg) != i ||
		    (sizes[i] && memcmp(imsg.data, buf, sizes[i]) != 0))
			snprintf(why, sizeof(why), "message %zu: imsg_get "
			    "%zd", i, n);
		if (n > 0)
			imsg_free(&imsg);
	}
	n = imsg_get(&b, &imsg);
	T_CHECK("imsg: several messages in one read", r == 1 &&
	    why[0] == '\0' && n == 0, "read %d, %s, then imsg_get %zd", r,
	    why, n);

	/* two whole messages and half a third */
	len = frame(f, 1, 20, 0, 0, "aaaa", 4);
	len += frame(f + len, 2, 20, 0, 0, "bbbb", 4);
	len += frame(f + len, 3, 20, 0, 0, "cccc", 4);
	xwrite(sv[0], f, len - 10);
	r = imsgbuf_read(&b);
	why[0] = '\0';
	for (i = 1; i <= 2; i++) {
		if ((n = imsg_get(&b, &imsg)) != 20 ||
		    imsg_get_type(&imsg) != i)
			snprintf(why, sizeof(why), "message %zu", i);
		if (n > 0)
			imsg_free(&imsg);
	}
	n = imsg_get(&b, &imsg);
	xwrite(sv[0], f + len - 10, 10);
	T_CHECK("imsg: whole messages and a partial one", r == 1 &&
	    why[0] == '\0' && n == 0 && getone(&b, &imsg) == 20 &&
	    imsg_get_type(&imsg) == 3 && memcmp(imsg.data, "cccc", 4) == 0,
	    "read %d %s partial %zd", r, why, n);
	imsg_free(&imsg);
	teardown(&a, &b, sv);
}

static void
test_fdpass(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 sv[2], sfd, rfd, rfd2, wasopen, sent, claimed;

	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&a);
	imsgbuf_allow_fdpass(&b);

	sfd = dup(tfd);
	imsg_compose(&a, 5, 6, 0, sfd, "x", 1);
	wasopen = isopen(sfd);
	imsgbuf_flush(&a);
	sent = isclosed(sfd);
	T_CHECK("imsg: sent fd closed by the library after sending",
	    wasopen && sent, "open before %d, closed after %d", wasopen,
	    sent);

	n = getone(&b, &imsg);
	rfd = n > 0 ? imsg_get_fd(&imsg) : -1;
	rfd2 = n > 0 ? imsg_get_fd(&imsg) : -1;
	T_CHECK("imsg: fd passing delivers the same file", n == 17 &&
	    rfd >= 0 && sametestfile(rfd) && imsg_get_type(&imsg) == 5,
	    "imsg_get %zd fd %d", n, rfd);
	T_CHECK("imsg: received fd has FD_CLOEXEC", rfd >= 0 &&
	    (fcntl(rfd, F_GETFD) & FD_CLOEXEC), "flags %d",
	    fcntl(rfd, F_GETFD));
	T_CHECK("imsg: imsg_get_fd gives the fd once", rfd2 == -1,
	    "second imsg_get_fd %d", rfd2);
	if (n > 0)
		imsg_free(&imsg);
	claimed = rfd >= 0 && isopen(rfd);
	T_CHECK("imsg: imsg_free leaves a claimed fd open", claimed,
	    "fd %d", rfd);
	if (rfd >= 0)
		close(rfd);

	/* an fd nobody claims is closed by imsg_free */
	imsg_compose(&a, 7, 0, 0, dup(tfd), NULL, 0);
	imsgbuf_flush(&a);
	n = getone(&b, &imsg);
	rfd = n > 0 ? imsg.buf->fd : -1;
	wasopen = rfd >= 0 && isopen(rfd);
	if (n > 0)
		imsg_free(&imsg);
	T_CHECK("imsg: unclaimed received fd closed by imsg_free",
	    n == 16 && wasopen && isclosed(rfd), "imsg_get %zd fd %d open %d",
	    n, rfd, wasopen);
	teardown(&a, &b, sv);
}

static void
test_fdpass_refused(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 sv[2], base, r, e, sfd, gone, after;

	/* receiver never called imsgbuf_allow_fdpass */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&a);
	imsg_compose(&a, 1, 0, 0, dup(tfd), "abc", 3);
	imsgbuf_flush(&a);
	base = nfds();
	r = imsgbuf_read(&b);
	e = errno;
	after = nfds();
	T_CHECK("imsg: fd refused without allow_fdpass, and closed",
	    r == -1 && e == EBADMSG && after == base,
	    "read %d errno %d fds %d -> %d", r, e, base, after);
	while (imsg_get(&b, &imsg) > 0)
		imsg_free(&imsg);
	teardown(&a, &b, sv);

	/* sender never called it: the fd stays home, and is closed */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&b);
	sfd = dup(tfd);
	imsg_compose(&a, 1, 0, 0, sfd, "abc", 3);
	imsgbuf_flush(&a);
	gone = isclosed(sfd);
	n = getone(&b, &imsg);
	r = n > 0 ? imsg_get_fd(&imsg) : -2;
	T_CHECK("imsg: sender without allow_fdpass drops the fd",
	    gone && n == 19 && r == -1, "closed %d imsg_get %zd fd %d", gone,
	    n, r);
	if (n > 0)
		imsg_free(&imsg);
	if (r >= 0)
		close(r);
	teardown(&a, &b, sv);
}

static void
test_fd_without_message(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 f[64];
	size_t		 len;
	ssize_t		 s, n;
	int		 sv[2], base, r, r2, after, fd;

	/* a whole message, not marked, with an fd: the fd is closed */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&b);
	len = frame(f, 3, 16, 0, 0, NULL, 0);
	s = sendraw(sv[0], f, len, tfd, 1);
	base = nfds();
	r = imsgbuf_read(&b);
	after = nfds();
	n = imsg_get(&b, &imsg);
	fd = n > 0 ? imsg_get_fd(&imsg) : -2;
	T_CHECK("imsg: fd with an unmarked message is closed",
	    s == 16 && r == 1 && after == base && n == 16 && fd == -1,
	    "send %zd read %d fds %d -> %d imsg_get %zd fd %d", s, r, base,
	    after, n, fd);
	if (n > 0)
		imsg_free(&imsg);
	teardown(&a, &b, sv);

	/* one byte with an fd, then the rest of an unmarked header */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&b);
	len = frame(f, 3, 16, 0, 0, NULL, 0);
	base = nfds();
	s = sendraw(sv[0], f, 1, tfd, 1);
	r = imsgbuf_read(&b);
	n = imsg_get(&b, &imsg);
	xwrite(sv[0], f + 1, len - 1);
	r2 = imsgbuf_read(&b);
	after = nfds();
	T_CHECK("imsg: fd with a short write is not leaked", s == 1 &&
	    r == 1 && n == 0 && r2 == 1 && after == base,
	    "send %zd read %d imsg_get %zd read %d fds %d -> %d", s, r, n,
	    r2, base, after);
	while (imsg_get(&b, &imsg) > 0)
		imsg_free(&imsg);
	teardown(&a, &b, sv);

	/* one byte with an fd, then EOF */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&b);
	base = nfds();
	s = sendraw(sv[0], f, 1, tfd, 1);
	close(sv[0]);
	r = imsgbuf_read(&b);
	r2 = imsgbuf_read(&b);
	n = imsg_get(&b, &imsg);
	imsgbuf_clear(&b);
	after = nfds();
	T_CHECK("imsg: fd with a short write then EOF is not leaked",
	    s == 1 && r == 1 && r2 == 0 && n == 0 && after == base - 1,
	    "send %zd read %d %d imsg_get %zd fds %d -> %d", s, r, r2, n,
	    base, after);
	imsgbuf_clear(&a);
	close(sv[1]);

	/* zero bytes with an fd: a stream socket sends nothing at all */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&b);
	nonblock(sv[1]);
	base = nfds();
	s = sendraw(sv[0], f, 0, tfd, 1);
	r = imsgbuf_read(&b);
	n = imsg_get(&b, &imsg);
	after = nfds();
	T_CHECK("imsg: fd with zero bytes is not leaked", s == 0 && r == 1 &&
	    n == 0 && after == base, "send %zd read %d imsg_get %zd "
	    "fds %d -> %d", s, r, n, base, after);
	teardown(&a, &b, sv);
}

static void
test_fd_split_header(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 f[64];
	size_t		 len;
	ssize_t		 n;
	int		 sv[2], r, fd = -1;

	/* the fd comes with the first 5 bytes of its (marked) message */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&b);
	len = frame(f, 8, 24 | FD_MARK, 0, 0, "12345678", 8);
	sendraw(sv[0], f, 5, tfd, 1);
	r = imsgbuf_read(&b);
	n = imsg_get(&b, &imsg);
	xwrite(sv[0], f + 5, len - 5);
	if (r == 1 && n == 0 && (n = getone(&b, &imsg)) == 24)
		fd = imsg_get_fd(&imsg);
	T_CHECK("imsg: fd arriving with a partial header reaches its message",
	    r == 1 && n == 24 && fd >= 0 && sametestfile(fd) &&
	    imsg.hdr.len == 24, "read %d imsg_get %zd fd %d", r, n, fd);
	if (n > 0)
		imsg_free(&imsg);
	if (fd >= 0)
		close(fd);
	teardown(&a, &b, sv);
}

static void
test_ctrunc(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 f[64];
	size_t		 len;
	ssize_t		 s;
	int		 sv[2], base, r, e, after;

	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&b);
	len = frame(f, 1, 16 | FD_MARK, 0, 0, NULL, 0);
	s = sendraw(sv[0], f, len, tfd, 32);
	base = nfds();
	r = imsgbuf_read(&b);
	e = errno;
	after = nfds();
	T_CHECK("imsg: truncated control data (MSG_CTRUNC) is an error",
	    s == 16 && r == -1 && e == EMSGSIZE && after == base,
	    "send %zd read %d errno %d fds %d -> %d", s, r, e, base, after);
	while (imsg_get(&b, &imsg) > 0)
		imsg_free(&imsg);
	teardown(&a, &b, sv);

	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&b);
	s = sendraw(sv[0], f, len, tfd, 2);
	base = nfds();
	r = imsgbuf_read(&b);
	e = errno;
	after = nfds();
	T_CHECK("imsg: two fds in one read is an error, both closed",
	    s == 16 && r == -1 && e == EBADMSG &&
	    after == base, "send %zd read %d errno %d fds %d -> %d", s, r, e,
	    base, after);
	while (imsg_get(&b, &imsg) > 0)
		imsg_free(&imsg);
	teardown(&a, &b, sv);
}

static void
test_bad_length(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg, imsg2;
	unsigned char	 f[64];
	size_t		 len;
	ssize_t		 n;
	int		 sv[2], r, e, r2, e2, i;
	uint32_t	 bad[] = { MAX_IMSGSIZE + 1, 0xffffffU, FD_MARK - 1 };
	uint32_t	 small[] = { 15, 0, 1, FD_MARK | 15, FD_MARK };
	char		 why[200] = "";

	for (i = 0; i < 3; i++) {
		setup(&a, &b, sv);
		len = frame(f, 1, bad[i], 0, 0, NULL, 0);
		xwrite(sv[0], f, len);
		r = imsgbuf_read(&b);
		e = errno;
		/* later reads keep failing, even on good data */
		len = frame(f, 1, 16, 0, 0, NULL, 0);
		xwrite(sv[0], f, len);
		r2 = imsgbuf_read(&b);
		e2 = errno;
		if (r != -1 || e != ERANGE || r2 != -1 || e2 != ERANGE)
			snprintf(why, sizeof(why), "len %#x: read %d errno %d, "
			    "then %d errno %d", bad[i], r, e, r2, e2);
		teardown(&a, &b, sv);
	}
	T_CHECK("imsg: length over maxsize is ERANGE, and sticks",
	    why[0] == '\0', "%s", why);

	/* a good message, then a bad header, in one read */
	setup(&a, &b, sv);
	len = frame(f, 6, 20, 0, 0, "good", 4);
	len += frame(f + len, 1, MAX_IMSGSIZE + 1, 0, 0, NULL, 0);
	xwrite(sv[0], f, len);
	r = imsgbuf_read(&b);
	e = errno;
	n = imsg_get(&b, &imsg);
	T_CHECK("imsg: messages before a bad header are still delivered",
	    r == -1 && e == ERANGE && n == 20 && imsg_get_type(&imsg) == 6 &&
	    memcmp(imsg.data, "good", 4) == 0 && imsg_get(&b, &imsg2) == 0,
	    "read %d errno %d imsg_get %zd", r, e, n);
	if (n > 0)
		imsg_free(&imsg);
	teardown(&a, &b, sv);

	for (i = 0; i < 5; i++) {
		setup(&a, &b, sv);
		len = frame(f, 1, small[i], 0, 0, NULL, 0);
		xwrite(sv[0], f, len);
		r = imsgbuf_read(&b);
		e = errno;
		if (r != -1 || e != ERANGE)
			snprintf(why, sizeof(why), "len %#x: read %d errno %d",
			    small[i], r, e);
		teardown(&a, &b, sv);
	}
	T_CHECK("imsg: length under the header size is ERANGE",
	    why[0] == '\0', "%s", why);
}

static void
test_eof(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	 f[128], payload[40];
	size_t		 len;
	ssize_t		 n1, n2;
	int		 sv[2], r1, r2;

	memset(payload, 'p', sizeof(payload));
	len = frame(f, 1, 16 + sizeof(payload), 0, 0, payload,
	    sizeof(payload));

	setup(&a, &b, sv);
	xwrite(sv[0], f, 10);
	close(sv[0]);
	r1 = imsgbuf_read(&b);
	n1 = imsg_get(&b, &imsg);
	r2 = imsgbuf_read(&b);
	n2 = imsg_get(&b, &imsg);
	T_CHECK("imsg: EOF in the header", r1 == 1 && n1 == 0 && r2 == 0 &&
	    n2 == 0, "read %d get %zd read %d get %zd", r1, n1, r2, n2);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[1]);

	setup(&a, &b, sv);
	xwrite(sv[0], f, len - 8);
	close(sv[0]);
	r1 = imsgbuf_read(&b);
	n1 = imsg_get(&b, &imsg);
	r2 = imsgbuf_read(&b);
	n2 = imsg_get(&b, &imsg);
	T_CHECK("imsg: EOF in the payload", r1 == 1 && n1 == 0 && r2 == 0 &&
	    n2 == 0, "read %d get %zd read %d get %zd", r1, n1, r2, n2);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[1]);
}

static void
test_create(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*wbuf, *big;
	unsigned char	*huge;
	ssize_t		 n;
	int		 sv[2], r1, r2, r3, r4, e4, e5;

	setup(&a, &b, sv);
	wbuf = imsg_create(&a, 9, 11, 0, 3);
	r1 = imsg_add(wbuf, "abc", 3);
	r2 = imsg_add(wbuf, "defg", 4);
	r3 = imsg_add(wbuf, NULL, 0);
	imsg_close(&a, wbuf);
	imsgbuf_flush(&a);
	n = getone(&b, &imsg);
	T_CHECK("imsg: imsg_create/add/close builds a message",
	    r1 == 3 && r2 == 4 && r3 == 0 && n == 23 &&
	    imsg_get_type(&imsg) == 9 && imsg_get_id(&imsg) == 11 &&
	    imsg_get_pid(&imsg) == getpid() && imsg_get_len(&imsg) == 7 &&
	    memcmp(imsg.data, "abcdefg", 7) == 0,
	    "add %d %d %d imsg_get %zd", r1, r2, r3, n);
	if (n > 0)
		imsg_free(&imsg);

	/* growing past maxsize fails, and frees the message */
	huge = calloc(1, MAX_IMSGSIZE);
	big = imsg_create(&a, 1, 0, 0, 0);
	r4 = imsg_add(big, huge, MAXPAYLOAD + 1);
	e4 = errno;
	wbuf = imsg_create(&a, 1, 0, 0, MAXPAYLOAD + 1);
	e5 = errno;
	T_CHECK("imsg: imsg_add and imsg_create past maxsize are ERANGE",
	    big != NULL && r4 == -1 && e4 == ERANGE && wbuf == NULL &&
	    e5 == ERANGE && imsgbuf_queuelen(&a) == 0,
	    "add %d errno %d create %p errno %d", r4, e4, (void *)wbuf, e5);
	free(huge);
	teardown(&a, &b, sv);
}

static void
test_composev(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct iovec	 iov[4];
	ssize_t		 n;
	int		 sv[2], r;

	setup(&a, &b, sv);
	iov[0].iov_base = "ab";
	iov[0].iov_len = 2;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = "cdef";
	iov[2].iov_len = 4;
	iov[3].iov_base = "g";
	iov[3].iov_len = 1;
	r = imsg_composev(&a, 21, 22, 23, -1, iov, 4);
	imsgbuf_flush(&a);
	n = getone(&b, &imsg);
	T_CHECK("imsg: imsg_composev joins the iovecs", r == 1 && n == 23 &&
	    imsg_get_type(&imsg) == 21 && imsg_get_id(&imsg) == 22 &&
	    imsg_get_pid(&imsg) == 23 && imsg_get_len(&imsg) == 7 &&
	    memcmp(imsg.data, "abcdefg", 7) == 0,
	    "composev %d imsg_get %zd", r, n);
	if (n > 0)
		imsg_free(&imsg);
	teardown(&a, &b, sv);
}

static void
test_compose_ibuf(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*buf, ib;
	uint32_t	 v32 = 0;
	uint16_t	 v16 = 0;
	char		 name[8] = "";
	ssize_t		 n;
	int		 sv[2], r, q, g1, g2, g3, e;

	setup(&a, &b, sv);
	buf = ibuf_dynamic(0, 100);
	ibuf_add_n32(buf, 0xdeadbeef);
	ibuf_add_n16(buf, 0x1234);
	ibuf_add_strbuf(buf, "vm0", sizeof(name));
	r = imsg_compose_ibuf(&a, 31, 32, 0, buf);
	q = imsgbuf_queuelen(&a);
	imsgbuf_flush(&a);
	n = getone(&b, &imsg);
	g1 = g2 = g3 = -1;
	if (n > 0 && imsg_get_ibuf(&imsg, &ib) == 0) {
		g1 = ibuf_get_n32(&ib, &v32);
		g2 = ibuf_get_n16(&ib, &v16);
		g3 = ibuf_get_strbuf(&ib, name, sizeof(name));
	}
	T_CHECK("imsg: imsg_compose_ibuf and imsg_get_ibuf", r == 1 &&
	    q == 2 && n == 16 + 14 && g1 == 0 && g2 == 0 && g3 == 0 &&
	    v32 == 0xdeadbeef && v16 == 0x1234 && strcmp(name, "vm0") == 0 &&
	    ibuf_size(&ib) == 0 && imsg_get_type(&imsg) == 31,
	    "r %d queuelen %d imsg_get %zd gets %d %d %d", r, q, n, g1, g2,
	    g3);
	if (n > 0)
		imsg_free(&imsg);

	buf = ibuf_dynamic(MAXPAYLOAD + 1, MAXPAYLOAD + 1);
	ibuf_add_zero(buf, MAXPAYLOAD + 1);
	r = imsg_compose_ibuf(&a, 1, 0, 0, buf);	/* frees buf */
	e = errno;
	T_CHECK("imsg: imsg_compose_ibuf past maxsize is ERANGE",
	    r == -1 && e == ERANGE && imsgbuf_queuelen(&a) == 0,
	    "r %d errno %d", r, e);
	teardown(&a, &b, sv);
}

static void
test_forward(void)
{
	struct imsgbuf	 a, b, c, d;
	struct imsg	 imsg, fwd;
	ssize_t		 n1, n2;
	int		 sv[2], sv2[2], r, ffd = -2, ofd = -1;

	setup(&a, &b, sv);
	setup(&c, &d, sv2);
	imsgbuf_allow_fdpass(&a);
	imsgbuf_allow_fdpass(&b);
	imsgbuf_allow_fdpass(&c);
	imsgbuf_allow_fdpass(&d);
	imsg_compose(&a, 41, 42, 43, dup(tfd), "forward me", 10);
	imsgbuf_flush(&a);
	n1 = getone(&b, &imsg);
	r = n1 > 0 ? imsg_forward(&c, &imsg) : -1;
	imsgbuf_flush(&c);
	n2 = getone(&d, &fwd);
	if (n2 > 0)
		ffd = imsg_get_fd(&fwd);
	if (n1 > 0)
		ofd = imsg_get_fd(&imsg);
	T_CHECK("imsg: imsg_forward copies header and payload, not the fd",
	    r == 1 && n2 == 26 && imsg_get_type(&fwd) == 41 &&
	    imsg_get_id(&fwd) == 42 && imsg_get_pid(&fwd) == 43 &&
	    memcmp(fwd.data, "forward me", 10) == 0 && ffd == -1 &&
	    ofd >= 0, "forward %d imsg_get %zd fd %d original fd %d", r, n2,
	    ffd, ofd);
	if (n1 > 0)
		imsg_free(&imsg);
	if (n2 > 0)
		imsg_free(&fwd);
	if (ofd >= 0)
		close(ofd);
	teardown(&a, &b, sv);
	teardown(&c, &d, sv2);
}

static void
test_queuelen(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*buf;
	uint32_t	 q0, q3, q5, q6;
	int		 sv[2], f, w, i, got = 0;

	setup(&a, &b, sv);
	q0 = imsgbuf_queuelen(&a);
	imsg_compose(&a, 1, 0, 0, -1, "a", 1);
	imsg_compose(&a, 2, 0, 0, -1, NULL, 0);
	imsg_compose(&a, 3, 0, 0, -1, "ccc", 3);
	q3 = imsgbuf_queuelen(&a);
	buf = ibuf_open(4);
	ibuf_add(buf, "dddd", 4);
	imsg_compose_ibuf(&a, 4, 0, 0, buf);
	q5 = imsgbuf_queuelen(&a);
	f = imsgbuf_flush(&a);
	q6 = imsgbuf_queuelen(&a);
	w = imsgbuf_write(&a);
	for (i = 1; i <= 4; i++) {
		if (getone(&b, &imsg) > 0) {
			if (imsg_get_type(&imsg) == (uint32_t)i)
				got++;
			imsg_free(&imsg);
		}
	}
	T_CHECK("imsg: imsgbuf_queuelen and imsgbuf_flush", q0 == 0 &&
	    q3 == 3 && q5 == 5 && f == 0 && q6 == 0 && w == 0 && got == 4,
	    "queuelen %u %u %u flush %d -> %u write %d got %d", q0, q3, q5,
	    f, q6, w, got);
	teardown(&a, &b, sv);
}

static void
test_get_data(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	 ib;
	unsigned char	 out[8] = "ABCDEFGH", in[16];
	char		 s[8];
	ssize_t		 n;
	int		 sv[2], r1, e1, r2, e2, r3, e3, r4, r5, e5, r6, e6;

	setup(&a, &b, sv);
	imsg_compose(&a, 1, 0, 0, -1, out, 8);
	imsg_compose(&a, 2, 0, 0, -1, NULL, 0);
	imsg_compose(&a, 3, 0, 0, -1, "hello\0\0", 8);
	imsg_compose(&a, 4, 0, 0, -1, "abcdefgh", 8);
	imsgbuf_flush(&a);

	n = getone(&b, &imsg);
	r1 = imsg_get_data(&imsg, in, 4);
	e1 = errno;
	r2 = imsg_get_data(&imsg, in, 16);
	e2 = errno;
	r3 = imsg_get_data(&imsg, in, 0);
	e3 = errno;
	memset(in, 0, sizeof(in));
	r4 = imsg_get_data(&imsg, in, 8);
	T_CHECK("imsg: imsg_get_data with a wrong length is EBADMSG",
	    n == 24 && r1 == -1 && e1 == EBADMSG && r2 == -1 &&
	    e2 == EBADMSG && r3 == -1 && e3 == EINVAL,
	    "imsg_get %zd: %d/%d %d/%d %d/%d", n, r1, e1, r2, e2, r3, e3);
	T_CHECK("imsg: imsg_get_data with the right length copies",
	    r4 == 0 && memcmp(in, out, 8) == 0 && imsg_get_len(&imsg) == 0,
	    "r %d len %zu", r4, imsg_get_len(&imsg));
	imsg_free(&imsg);

	n = getone(&b, &imsg);
	r5 = imsg_get_ibuf(&imsg, &ib);
	e5 = errno;
	r6 = imsg_get_data(&imsg, in, 4);
	e6 = errno;
	T_CHECK("imsg: empty payload: get_ibuf and get_data are EBADMSG",
	    n == 16 && imsg.data == NULL && r5 == -1 && e5 == EBADMSG &&
	    r6 == -1 && e6 == EBADMSG, "imsg_get %zd %d/%d %d/%d", n, r5, e5,
	    r6, e6);
	imsg_free(&imsg);

	n = getone(&b, &imsg);
	r1 = imsg_get_strbuf(&imsg, s, sizeof(s));
	imsg_free(&imsg);
	n = getone(&b, &imsg);
	r2 = imsg_get_strbuf(&imsg, (char *)in, 8);
	e2 = errno;
	T_CHECK("imsg: imsg_get_strbuf wants a NUL", r1 == 0 &&
	    strcmp(s, "hello") == 0 && r2 == -1 && e2 == EOVERFLOW,
	    "%d %d/%d", r1, r2, e2);
	imsg_free(&imsg);
	teardown(&a, &b, sv);
}

#define NBMSGS	300
#define NBSIZE(i)	(((size_t)(i) * 7919) % (MAXPAYLOAD + 1))

static void
test_nonblocking(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	*buf;
	char		 why[200] = "";
	uint32_t	 q1, q2;
	int		 sv[2], sz = 4096, i, w1, w2, got = 0, loops = 0;
	int		 w, r;

	setup(&a, &b, sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	nonblock(sv[0]);
	nonblock(sv[1]);
	buf = malloc(MAXPAYLOAD);
	for (i = 0; i < NBMSGS; i++) {
		fill(buf, NBSIZE(i), i);
		imsg_compose(&a, i, 0, 0, -1, buf, NBSIZE(i));
	}
	w1 = imsgbuf_write(&a);
	q1 = imsgbuf_queuelen(&a);
	w2 = imsgbuf_write(&a);		/* the socket is full: EAGAIN */
	q2 = imsgbuf_queuelen(&a);
	T_CHECK("imsg: write on a full nonblocking socket returns 0",
	    w1 == 0 && q1 > 0 && q1 < NBMSGS && w2 == 0 && q2 == q1,
	    "write %d queuelen %u, write %d queuelen %u", w1, q1, w2, q2);

	while (got < NBMSGS && loops++ < 100000 && why[0] == '\0') {
		if ((w = imsgbuf_write(&a)) != 0) {
			snprintf(why, sizeof(why), "write %d: %s", w,
			    strerror(errno));
			break;
		}
		if ((r = imsgbuf_read(&b)) != 1) {
			snprintf(why, sizeof(why), "read %d: %s", r,
			    strerror(errno));
			break;
		}
		while (imsg_get(&b, &imsg) > 0) {
			fill(buf, NBSIZE(got), got);
			if (imsg_get_type(&imsg) != (uint32_t)got ||
			    imsg_get_len(&imsg) != NBSIZE(got) ||
			    (NBSIZE(got) > 0 &&
			    memcmp(imsg.data, buf, NBSIZE(got)) != 0))
				snprintf(why, sizeof(why), "message %d wrong",
				    got);
			imsg_free(&imsg);
			got++;
		}
	}
	T_CHECK("imsg: nonblocking write queue drains under EAGAIN",
	    why[0] == '\0' && got == NBMSGS && imsgbuf_queuelen(&a) == 0,
	    "%s got %d of %d, queuelen %u", why, got, NBMSGS,
	    imsgbuf_queuelen(&a));
	free(buf);
	teardown(&a, &b, sv);
}

static void
test_fd_partial_write(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	*buf;
	uint32_t	 q;
	ssize_t		 n = 0;
	int		 sv[2], sz = 4096, sfd, w, closed, i, fd = -1, base;

	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&a);
	imsgbuf_allow_fdpass(&b);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	nonblock(sv[0]);
	buf = malloc(MAXPAYLOAD);
	fill(buf, MAXPAYLOAD, 3);
	sfd = dup(tfd);
	imsg_compose(&a, 1, 0, 0, sfd, buf, MAXPAYLOAD);
	w = imsgbuf_write(&a);
	q = imsgbuf_queuelen(&a);
	closed = isclosed(sfd);
	T_CHECK("imsg: fd closed once its message is partly written",
	    w == 0 && q == 1 && closed, "write %d queuelen %u closed %d", w,
	    q, closed);

	base = nfds();
	for (i = 0; i < 1000 && n == 0; i++) {
		if (imsgbuf_write(&a) == -1 || imsgbuf_read(&b) != 1)
			break;
		n = imsg_get(&b, &imsg);
	}
	if (n > 0)
		fd = imsg_get_fd(&imsg);
	T_CHECK("imsg: fd of a partly written message arrives once",
	    n == MAX_IMSGSIZE && fd >= 0 && sametestfile(fd) &&
	    memcmp(imsg.data, buf, MAXPAYLOAD) == 0 && nfds() == base + 1,
	    "imsg_get %zd fd %d fds %d -> %d", n, fd, base, nfds());
	if (n > 0)
		imsg_free(&imsg);
	if (fd >= 0)
		close(fd);
	free(buf);
	teardown(&a, &b, sv);
}

static void
test_flush_nonblocking(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	unsigned char	*buf;
	pid_t		 pid;
	int		 sv[2], sz = 4096, i, f, status = -1, ok;

	pair(sv);
	buf = malloc(MAXPAYLOAD);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		/* the reader, slower than the writer */
		close(sv[0]);
		imsgbuf_init(&b, sv[1]);
		ok = 1;
		for (i = 0; i < NBMSGS && ok; i++) {
			if (getone(&b, &imsg) != (ssize_t)NBSIZE(i) + 16) {
				ok = 0;
				break;
			}
			fill(buf, NBSIZE(i), i);
			if (imsg_get_type(&imsg) != (uint32_t)i ||
			    (NBSIZE(i) > 0 &&
			    memcmp(imsg.data, buf, NBSIZE(i)) != 0))
				ok = 0;
			imsg_free(&imsg);
			if (i % 8 == 0)
				usleep(1000);
		}
		imsgbuf_clear(&b);
		close(sv[1]);
		free(buf);
		close(tfd);
		_exit(ok ? 0 : 1);
	}
	close(sv[1]);
	imsgbuf_init(&a, sv[0]);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	nonblock(sv[0]);
	for (i = 0; i < NBMSGS; i++) {
		fill(buf, NBSIZE(i), i);
		imsg_compose(&a, i, 0, 0, -1, buf, NBSIZE(i));
	}
	f = imsgbuf_flush(&a);
	waitpid(pid, &status, 0);
	T_CHECK("imsg: imsgbuf_flush on a nonblocking socket sends all",
	    f == 0 && imsgbuf_queuelen(&a) == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "flush %d queuelen %u status %#x", f,
	    imsgbuf_queuelen(&a), status);
	imsgbuf_clear(&a);
	close(sv[0]);
	free(buf);
}

/*
 * Two peers that flush at once, as a daemon and its worker do when both
 * have much to say.  A fills the socket and waits in its flush; B reads
 * once (one buffer: the socket stays mostly full), then flushes as much
 * itself.  A could now write the rest of its queue, but Linux reports a
 * unix socket writable only once the peer drained most of it: a flush
 * that waits for POLLOUT after a partial write would wait for B, which
 * waits for A.  Each peer is a child; the test gives them 20 s.
 */
#define PEER_SIZE	8192

/*
 * How many PEER_SIZE messages one write puts into a socket with
 * SO_SNDBUF sz, as imsg writes them (one writev of them all).
 */
static int
peer_capacity(int sz)
{
	struct iovec	 iov[128];
	unsigned char	*buf;
	int		 sv[2], i;
	ssize_t		 n;

	pair(sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	nonblock(sv[0]);
	if ((buf = calloc(1, PEER_SIZE + IMSG_HEADER_SIZE)) == NULL)
		exit(1);
	for (i = 0; i < 128; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = PEER_SIZE + IMSG_HEADER_SIZE;
	}
	n = writev(sv[0], iov, 128);
	free(buf);
	close(sv[0]);
	close(sv[1]);
	return (n > 0 ? n / (PEER_SIZE + IMSG_HEADER_SIZE) : 0);
}

static int
flush_peer(int fd, int second, int nmsgs)
{
	struct imsgbuf	 ib;
	struct imsg	 imsg;
	struct pollfd	 pfd;
	unsigned char	*buf;
	int		 got = 0, i, sz = 131072;
	ssize_t		 n;

	if ((buf = malloc(PEER_SIZE)) == NULL)
		return (1);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	nonblock(fd);
	imsgbuf_init(&ib, fd);
	if (second) {
		/* The first peer fills the socket and waits. */
		usleep(200 * 1000);
		if (imsgbuf_read(&ib) == -1)
			return (2);
		while ((n = imsg_get(&ib, &imsg)) > 0) {
			got++;
			imsg_free(&imsg);
		}
	}
	for (i = 0; i < nmsgs; i++) {
		fill(buf, PEER_SIZE, i);
		imsg_compose(&ib, 1, i, 0, -1, buf, PEER_SIZE);
	}
	if (imsgbuf_flush(&ib) == -1)
		return (3);
	while (got < nmsgs) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 1000) == -1 ||
		    ((n = imsgbuf_read(&ib)) == -1 && errno != EAGAIN) ||
		    n == 0)
			return (4);
		while ((n = imsg_get(&ib, &imsg)) > 0) {
			got++;
			imsg_free(&imsg);
		}
	}
	imsgbuf_clear(&ib);
	free(buf);
	return (0);
}

static void
test_flush_two_peers(void)
{
	pid_t	 pid[2];
	int	 sv[2], status[2] = { -1, -1 }, i, waited, done, nmsgs;

	/* A little more than the socket takes: each flush waits once. */
	nmsgs = peer_capacity(131072) + 1;
	pair(sv);
	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == -1) {
			perror("fork");
			exit(1);
		}
		if (pid[i] == 0) {
			close(sv[1 - i]);
			close(tfd);
			_exit(flush_peer(sv[i], i, nmsgs));
		}
	}
	close(sv[0]);
	close(sv[1]);
	for (waited = 0, done = 0; waited < 2000 && done < 2; waited++) {
		for (i = 0, done = 0; i < 2; i++)
			if (status[i] != -1 ||
			    waitpid(pid[i], &status[i], WNOHANG) == pid[i])
				done++;
		if (done < 2)
			usleep(10000);
	}
	for (i = 0; i < 2; i++)
		if (status[i] == -1) {
			kill(pid[i], SIGKILL);
			waitpid(pid[i], NULL, 0);
		}
	T_CHECK("imsg: two peers flushing at once both finish",
	    done == 2 && WIFEXITED(status[0]) && WEXITSTATUS(status[0]) == 0 &&
	    WIFEXITED(status[1]) && WEXITSTATUS(status[1]) == 0,
	    "%s (%d messages each; status %#x, %#x)", done == 2 ?
	    "a peer failed" : "still flushing after 20 s", nmsgs, status[0],
	    status[1]);
}

static volatile sig_atomic_t nalarm;

static void
onalarm(int sig)
{
	nalarm++;
}

static void
test_eintr(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct sigaction sa, osa;
	struct itimerval it;
	pid_t		 pid;
	ssize_t		 n = -1;
	int		 sv[2], r, status;

	pair(sv);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		close(sv[1]);
		imsgbuf_init(&a, sv[0]);
		usleep(300 * 1000);
		imsg_compose(&a, 55, 0, 0, -1, "late", 4);
		r = imsgbuf_flush(&a);
		imsgbuf_clear(&a);
		close(sv[0]);
		close(tfd);
		_exit(r == 0 ? 0 : 1);
	}
	close(sv[0]);
	imsgbuf_init(&b, sv[1]);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onalarm;	/* no SA_RESTART: recvmsg sees EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &osa);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 50 * 1000;
	setitimer(ITIMER_REAL, &it, NULL);

	r = imsgbuf_read(&b);
	if (r == 1)
		n = getone(&b, &imsg);
	sigaction(SIGALRM, &osa, NULL);
	waitpid(pid, &status, 0);
	T_CHECK("imsg: imsgbuf_read retries after EINTR", nalarm == 1 &&
	    r == 1 && n == 20 && imsg_get_type(&imsg) == 55,
	    "alarms %d read %d imsg_get %zd", (int)nalarm, r, n);
	if (n > 0)
		imsg_free(&imsg);
	imsgbuf_clear(&b);
	close(sv[1]);
}

static void
test_misc_io(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	int		 sv[2], r, e, w, f, fe, sfd, r2, e2, wasopen;
	int		 base, after, status;
	pid_t		 pid;
	ssize_t		 n;

	/* nothing to read on a nonblocking socket */
	setup(&a, &b, sv);
	nonblock(sv[1]);
	r = imsgbuf_read(&b);
	n = imsg_get(&b, &imsg);
	T_CHECK("imsg: read with no data (EAGAIN) returns 1, no message",
	    r == 1 && n == 0, "read %d imsg_get %zd", r, n);
	teardown(&a, &b, sv);

	/* the peer is gone: EPIPE, and no SIGPIPE (in a child, to survive) */
	setup(&a, &b, sv);
	close(sv[1]);
	imsg_compose(&a, 1, 0, 0, -1, "x", 1);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		w = imsgbuf_write(&a);
		e = errno;
		f = imsgbuf_flush(&a);
		fe = errno;
		imsgbuf_clear(&a);
		imsgbuf_clear(&b);
		close(sv[0]);
		close(tfd);
		_exit(w == -1 && e == EPIPE && f == -1 && fe == EPIPE ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	T_CHECK("imsg: write to a closed peer is EPIPE, not SIGPIPE",
	    WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child %s %d", WIFSIGNALED(status) ? "killed by signal" :
	    "exited", WIFSIGNALED(status) ? WTERMSIG(status) :
	    WEXITSTATUS(status));
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);

	/* clear closes queued fds */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&a);
	sfd = dup(tfd);
	imsg_compose(&a, 1, 0, 0, sfd, NULL, 0);
	wasopen = isopen(sfd);
	imsgbuf_clear(&a);
	T_CHECK("imsg: imsgbuf_clear closes queued fds", wasopen &&
	    isclosed(sfd) && a.w == NULL && imsgbuf_queuelen(&a) == 0,
	    "open before %d", wasopen);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);

	/* clear closes fds of messages read but not taken */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&a);
	imsgbuf_allow_fdpass(&b);
	imsg_compose(&a, 1, 0, 0, dup(tfd), NULL, 0);
	imsgbuf_flush(&a);
	base = nfds();
	r = imsgbuf_read(&b);
	wasopen = nfds() == base + 1;
	imsgbuf_clear(&b);
	after = nfds();
	T_CHECK("imsg: imsgbuf_clear closes fds of unread messages",
	    r == 1 && wasopen && after == base, "read %d fds %d -> %d", r,
	    base, after);
	imsgbuf_clear(&a);
	close(sv[0]);
	close(sv[1]);

	/* a failed compose leaves the fd with the caller */
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&a);
	sfd = dup(tfd);
	r2 = imsg_compose(&a, 1, 0, 0, sfd, NULL, MAXPAYLOAD + 1);
	e2 = errno;
	T_CHECK("imsg: failed compose leaves the fd to the caller",
	    r2 == -1 && e2 == ERANGE && isopen(sfd), "compose %d errno %d",
	    r2, e2);
	close(sfd);
	teardown(&a, &b, sv);
}

static void
test_ibuf(void)
{
	struct ibuf	*buf, rb;
	unsigned char	 want[] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde,
			    1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t		 v8;
	uint16_t	 v16;
	uint32_t	 v32;
	uint64_t	 v64;
	size_t		 i;
	char		*s;
	int		 r1, e1, r2, e2, r3, e3, ok, fd;
	void		*p;

	buf = ibuf_dynamic(0, 64);
	ibuf_add_n8(buf, 0x12);
	ibuf_add_n16(buf, 0x3456);
	ibuf_add_n32(buf, 0x789abcde);
	ibuf_add_n64(buf, 0x0102030405060708ULL);
	r1 = ibuf_add_n16(buf, 0x10000);
	e1 = errno;
	T_CHECK("ibuf: ibuf_add_n* writes network byte order",
	    ibuf_size(buf) == sizeof(want) &&
	    memcmp(ibuf_data(buf), want, sizeof(want)) == 0 && r1 == -1 &&
	    e1 == EINVAL, "size %zu, n16 overflow %d/%d", ibuf_size(buf), r1,
	    e1);

	ibuf_from_ibuf(&rb, buf);
	ok = ibuf_get_n8(&rb, &v8) == 0 && v8 == 0x12 &&
	    ibuf_get_n16(&rb, &v16) == 0 && v16 == 0x3456 &&
	    ibuf_get_n32(&rb, &v32) == 0 && v32 == 0x789abcde &&
	    ibuf_get_n64(&rb, &v64) == 0 && v64 == 0x0102030405060708ULL;
	r2 = ibuf_get_n8(&rb, &v8);
	e2 = errno;
	T_CHECK("ibuf: ibuf_get_n* reads back, then EBADMSG at the end",
	    ok && r2 == -1 && e2 == EBADMSG && ibuf_size(&rb) == 0,
	    "ok %d r %d errno %d", ok, r2, e2);

	p = ibuf_seek(buf, 1, 2);
	r3 = ibuf_seek(buf, 14, 2) == NULL;
	e3 = errno;
	ok = p != NULL && memcmp(p, "\x34\x56", 2) == 0 && r3 &&
	    e3 == ERANGE && ibuf_set_n16(buf, 1, 0xabcd) == 0 &&
	    memcmp(ibuf_data(buf), "\x12\xab\xcd", 3) == 0 &&
	    ibuf_left(buf) == 64 - sizeof(want) &&
	    ibuf_truncate(buf, 3) == 0 && ibuf_size(buf) == 3;
	T_CHECK("ibuf: seek, set, left, truncate", ok, "seek %p %d/%d", p, r3,
	    e3);
	r1 = ibuf_add_zero(buf, 62);
	e1 = errno;
	T_CHECK("ibuf: a dynamic ibuf stops at its max", r1 == -1 &&
	    e1 == ERANGE && ibuf_add_zero(buf, 61) == 0 &&
	    ibuf_size(buf) == 64 && ibuf_left(buf) == 0, "add %d errno %d",
	    r1, e1);
	ibuf_free(buf);

	buf = ibuf_open(4);
	r1 = ibuf_add(buf, "abcd", 4);
	r2 = ibuf_add(buf, "e", 1);
	e2 = errno;
	T_CHECK("ibuf: ibuf_open is fixed size", r1 == 0 && r2 == -1 &&
	    e2 == ERANGE && ibuf_size(buf) == 4, "%d %d/%d", r1, r2, e2);
	ibuf_free(buf);

	T_CHECK("ibuf: ibuf_dynamic with max < len is EINVAL",
	    ibuf_dynamic(10, 5) == NULL && errno == EINVAL &&
	    ibuf_dynamic(0, 0) == NULL && errno == EINVAL, "no error");

	/* growth one byte at a time */
	buf = ibuf_dynamic(0, 100000);
	ok = 1;
	for (i = 0; i < 100000 && ok; i++) {
		v8 = i & 0xff;
		ok = ibuf_add(buf, &v8, 1) == 0;
	}
	for (i = 0; i < 100000 && ok; i++)
		ok = ((unsigned char *)ibuf_data(buf))[i] == (i & 0xff);
	T_CHECK("ibuf: grows byte by byte up to max", ok &&
	    ibuf_size(buf) == 100000 && ibuf_add(buf, "x", 1) == -1,
	    "size %zu", ibuf_size(buf));
	ibuf_free(buf);

	buf = ibuf_dynamic(0, 64);
	ibuf_add(buf, "hi\0there", 8);
	s = ibuf_get_string(buf, 3);
	ok = s != NULL && strcmp(s, "hi") == 0 && ibuf_skip(buf, 2) == 0 &&
	    ibuf_size(buf) == 3 && ibuf_skip(buf, 4) == -1 &&
	    errno == EBADMSG;
	T_CHECK("ibuf: get_string and skip", ok, "string %s", s ? s : "NULL");
	free(s);

	fd = dup(tfd);
	ibuf_fd_set(buf, fd);
	ok = ibuf_fd_avail(buf) && isopen(fd);
	ibuf_free(buf);
	T_CHECK("ibuf: ibuf_free closes the ibuf's fd", ok && isclosed(fd),
	    "fd %d", fd);
}

/*
 * Large messages: a payload read mostly straight into its message's
 * own buffer, messages larger than the read buffer, descriptors with
 * large payloads, and the reuse of buffers of messages written.
 */
#define BIG		16000
#define HUGE		(3 * IBUF_READ_SIZE + 1234)

/*
 * Write what a takes and read what b gets until n messages came, or
 * the sockets stall: the messages read, in out[].  Both nonblocking.
 */
static int
pump(struct imsgbuf *a, struct imsgbuf *b, struct imsg *out, int n)
{
	int	 got = 0, loops = 0, r;
	ssize_t	 g;

	while (got < n && loops++ < 100000) {
		if (imsgbuf_write(a) == -1)
			return (got);
		if ((r = imsgbuf_read(b)) != 1)
			return (got);
		while (got < n && (g = imsg_get(b, &out[got])) > 0)
			got++;
		if (g == -1)
			return (got);
	}
	return (got);
}

static void
test_large_split(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	 ib;
	unsigned char	*f, *payload, *copy;
	size_t		 len, len2, len3;
	ssize_t		 n1, n2, n3, n4;
	int		 sv[2], ok;

	setup(&a, &b, sv);
	f = malloc(3 * (BIG + 16));
	payload = malloc(BIG);
	copy = malloc(BIG);
	if (f == NULL || payload == NULL || copy == NULL)
		exit(1);
	fill(payload, BIG, 11);
	len = frame(f, 40, 16 + BIG, 1, 2, payload, BIG);
	len2 = frame(f + len, 41, 20, 0, 0, "tail", 4);
	len3 = frame(f + len + len2, 42, 16 + BIG, 0, 0, payload, BIG);

	/* the header and a little, then most, then the rest and more */
	xwrite(sv[0], f, 100);
	n1 = imsgbuf_read(&b) == 1 ? imsg_get(&b, &imsg) : -2;
	xwrite(sv[0], f + 100, 8000);
	n2 = imsgbuf_read(&b) == 1 ? imsg_get(&b, &imsg) : -2;
	xwrite(sv[0], f + 8100, len - 8100 + len2 + 50);
	n3 = imsgbuf_read(&b) == 1 ? imsg_get(&b, &imsg) : -2;
	ok = n3 == (ssize_t)len && imsg_get_type(&imsg) == 40 &&
	    imsg_get_id(&imsg) == 1 && imsg_get_pid(&imsg) == 2 &&
	    imsg_get_len(&imsg) == BIG &&
	    memcmp(imsg.data, payload, BIG) == 0;
	T_CHECK("imsg: large message split across three reads", n1 == 0 &&
	    n2 == 0 && ok, "imsg_get %zd %zd %zd ok %d", n1, n2, n3, ok);
	if (n3 > 0) {
		ok = imsg_get_ibuf(&imsg, &ib) == 0 &&
		    ibuf_size(&ib) == BIG &&
		    memcmp(ibuf_data(&ib), payload, BIG) == 0 &&
		    imsg_get_len(&imsg) == 0;
		T_CHECK("imsg: imsg_get_ibuf of a large message read in "
		    "parts", ok, "size %zu", ibuf_size(&ib));
		imsg_free(&imsg);
	}

	/* what came after the large message in the same read */
	n1 = imsg_get(&b, &imsg);
	ok = n1 == 20 && imsg_get_type(&imsg) == 41 &&
	    memcmp(imsg.data, "tail", 4) == 0;
	if (n1 > 0)
		imsg_free(&imsg);
	n2 = imsg_get(&b, &imsg);
	xwrite(sv[0], f + len + len2 + 50, len3 - 50);
	n3 = getone(&b, &imsg);
	ok = ok && n2 == 0 && n3 == (ssize_t)len3 &&
	    imsg_get_type(&imsg) == 42 &&
	    imsg_get_data(&imsg, copy, BIG) == 0 &&
	    memcmp(copy, payload, BIG) == 0;
	if (n3 > 0)
		imsg_free(&imsg);
	n4 = imsg_get(&b, &imsg);
	T_CHECK("imsg: messages after a large one, read with its rest",
	    ok && n4 == 0, "imsg_get %zd %zd %zd %zd", n1, n2, n3, n4);
	free(f);
	free(payload);
	free(copy);
	teardown(&a, &b, sv);
}

static void
test_larger_than_readbuf(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m[4];
	unsigned char	*p1, *p2;
	int		 sv[2], got, i, r1, r2, ok;

	setup(&a, &b, sv);
	nonblock(sv[0]);
	nonblock(sv[1]);
	p1 = malloc(HUGE);
	p2 = malloc(HUGE);
	if (p1 == NULL || p2 == NULL)
		exit(1);
	fill(p1, HUGE, 21);
	fill(p2, HUGE, 22);
	r1 = imsgbuf_set_maxsize(&a, HUGE);
	r2 = imsgbuf_set_maxsize(&b, HUGE);
	imsg_compose(&a, 1, 0, 0, -1, p1, HUGE);
	imsg_compose(&a, 2, 0, 0, -1, "x", 1);
	imsg_compose(&a, 3, 0, 0, -1, p2, HUGE - 1);
	imsg_compose(&a, 4, 0, 0, -1, NULL, 0);
	got = pump(&a, &b, m, 4);
	ok = r1 == 0 && r2 == 0 && got == 4 &&
	    imsg_get_type(&m[0]) == 1 && imsg_get_len(&m[0]) == HUGE &&
	    memcmp(m[0].data, p1, HUGE) == 0 &&
	    imsg_get_type(&m[1]) == 2 && imsg_get_len(&m[1]) == 1 &&
	    imsg_get_type(&m[2]) == 3 && imsg_get_len(&m[2]) == HUGE - 1 &&
	    memcmp(m[2].data, p2, HUGE - 1) == 0 &&
	    imsg_get_type(&m[3]) == 4 && imsg_get_len(&m[3]) == 0;
	T_CHECK("imsg: messages larger than the read buffer", ok,
	    "maxsize %d %d, got %d of 4", r1, r2, got);
	for (i = 0; i < got; i++)
		imsg_free(&m[i]);
	free(p1);
	free(p2);
	teardown(&a, &b, sv);
}

static void
test_fd_large(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 m[5];
	unsigned char	*p;
	char		 why[200] = "";
	size_t		 sizes[5] = { BIG, BIG, 10, HUGE, BIG };
	int		 withfd[5] = { 1, 0, 1, 1, 1 };
	int		 sv[2], got, i, fd, base;

	base = nfds();
	setup(&a, &b, sv);
	imsgbuf_allow_fdpass(&a);
	imsgbuf_allow_fdpass(&b);
	imsgbuf_set_maxsize(&a, HUGE);
	imsgbuf_set_maxsize(&b, HUGE);
	nonblock(sv[0]);
	nonblock(sv[1]);
	if ((p = malloc(HUGE)) == NULL)
		exit(1);
	for (i = 0; i < 5; i++) {
		fill(p, sizes[i], 30 + i);
		imsg_compose(&a, 50 + i, 0, 0, withfd[i] ? dup(tfd) : -1, p,
		    sizes[i]);
	}
	got = pump(&a, &b, m, 5);
	for (i = 0; i < got && why[0] == '\0'; i++) {
		fill(p, sizes[i], 30 + i);
		fd = imsg_get_fd(&m[i]);
		if (imsg_get_type(&m[i]) != (uint32_t)(50 + i) ||
		    imsg_get_len(&m[i]) != sizes[i] ||
		    memcmp(m[i].data, p, sizes[i]) != 0)
			snprintf(why, sizeof(why), "message %d: content", i);
		else if (withfd[i] && (fd < 0 || !sametestfile(fd)))
			snprintf(why, sizeof(why), "message %d: fd %d", i,
			    fd);
		else if (!withfd[i] && fd != -1)
			snprintf(why, sizeof(why), "message %d: unexpected "
			    "fd %d", i, fd);
		if (fd >= 0)
			close(fd);
	}
	T_CHECK("imsg: fds reach their large messages", got == 5 &&
	    why[0] == '\0', "got %d of 5: %s", got, why);
	for (i = 0; i < got; i++)
		imsg_free(&m[i]);
	free(p);
	teardown(&a, &b, sv);
	T_CHECK("imsg: no fd left behind by large messages", nfds() == base,
	    "fds %d -> %d", base, nfds());
}

#define BURST	80
#define REUSESIZE(round, i)	((round) == 0 ? MAXPAYLOAD :	\
	(size_t)(5000 + (i) * 7 * (round)))

static void
test_reuse(void)
{
	struct imsgbuf	 a, b;
	struct imsg	*m;
	struct ibuf	*wbuf;
	unsigned char	*p, *zero;
	char		 why[200] = "";
	size_t		 sz;
	int		 sv[2], got, i, j, n, round;

	setup(&a, &b, sv);
	nonblock(sv[0]);
	nonblock(sv[1]);
	m = calloc(BURST + 1, sizeof(*m));
	p = malloc(MAXPAYLOAD);
	zero = calloc(1, MAXPAYLOAD);
	if (m == NULL || p == NULL || zero == NULL)
		exit(1);

	/*
	 * Large, then smaller: no byte of an earlier message goes out.
	 * Halfway through the later bursts, room asked of imsg_create
	 * and not written: zeroes.
	 */
	for (round = 0; round < 3 && why[0] == '\0'; round++) {
		for (i = 0; i <= BURST; i++) {
			if (i == BURST / 2 && round == 0)
				continue;
			if (i == BURST / 2) {
				if ((wbuf = imsg_create(&a, 999, round, 0,
				    6000)) == NULL ||
				    ibuf_reserve(wbuf, 6000) == NULL) {
					snprintf(why, sizeof(why), "create: "
					    "%s", strerror(errno));
					break;
				}
				imsg_close(&a, wbuf);
				continue;
			}
			sz = REUSESIZE(round, i);
			fill(p, sz, round * 1000 + i);
			imsg_compose(&a, i, round, 0, -1, p, sz);
		}
		n = round == 0 ? BURST : BURST + 1;
		got = pump(&a, &b, m, n);
		for (i = 0, j = 0; i < got && why[0] == '\0'; i++, j++) {
			if (j == BURST / 2 && round == 0)
				j++;
			if (j == BURST / 2) {
				if (imsg_get_type(&m[i]) != 999 ||
				    imsg_get_len(&m[i]) != 6000 ||
				    memcmp(m[i].data, zero, 6000) != 0)
					snprintf(why, sizeof(why), "round %d: "
					    "imsg_create room not zero", round);
				continue;
			}
			sz = REUSESIZE(round, j);
			fill(p, sz, round * 1000 + j);
			if (imsg_get_type(&m[i]) != (uint32_t)j ||
			    imsg_get_id(&m[i]) != (uint32_t)round ||
			    imsg_get_len(&m[i]) != sz ||
			    memcmp(m[i].data, p, sz) != 0)
				snprintf(why, sizeof(why), "round %d message "
				    "%d: len %zu, want %zu", round, j,
				    imsg_get_len(&m[i]), sz);
		}
		if (got != n && why[0] == '\0')
			snprintf(why, sizeof(why), "round %d: got %d", round,
			    got);
		for (i = 0; i < got; i++)
			imsg_free(&m[i]);
	}
	T_CHECK("imsg: bursts of large then smaller messages arrive exact",
	    why[0] == '\0', "%s", why);
	free(m);
	free(p);
	free(zero);
	teardown(&a, &b, sv);
}

int
main(void)
{
	int	 base, after;

	signal(SIGPIPE, SIG_DFL);
	if ((tfd = mkstemp(tmpl)) == -1) {
		perror("mkstemp");
		return (1);
	}
	unlink(tmpl);
	if (write(tfd, CONTENT, strlen(CONTENT)) != (ssize_t)strlen(CONTENT) ||
	    fstat(tfd, &tst) == -1) {
		perror("test file");
		return (1);
	}
	base = nfds();

	test_init();
	test_maxsize();
	test_roundtrip();
	test_split();
	test_several();
	test_fdpass();
	test_fdpass_refused();
	test_fd_without_message();
	test_fd_split_header();
	test_ctrunc();
	test_bad_length();
	test_eof();
	test_create();
	test_composev();
	test_compose_ibuf();
	test_forward();
	test_queuelen();
	test_get_data();
	test_nonblocking();
	test_fd_partial_write();
	test_flush_nonblocking();
	test_flush_two_peers();
	test_eintr();
	test_misc_io();
	test_ibuf();
	test_large_split();
	test_larger_than_readbuf();
	test_fd_large();
	test_reuse();

	after = nfds();
	T_CHECK("imsg: no descriptor leaked by the tests", after == base,
	    "%d open at start, %d at end", base, after);
	close(tfd);
	return (t_done());
}

/*
 * imsg: framed messages over a local stream socket, with descriptor
 * passing.  The interface and the wire format are OpenBSD's (libutil,
 * imsg_add(3) and ibuf_add(3)); this is the project's own code for
 * Linux.  Three layers, from the bottom up, the first two in
 * imsg-buffer.c:
 *
 *	ibuf	a buffer with a read and a write position, an optional
 *		size limit and an optional file descriptor;
 *	msgbuf	a queue of ibufs to write, and the reader that cuts the
 *		incoming byte stream into whole messages, one ibuf each;
 *	imsg	the message header, built on the two.
 *
 * Descriptors: one at most rides with each sendmsg(2), attached to the
 * first byte of the message that carries it (IMSG_FD_MARK in its
 * header).  A queued descriptor belongs to the library and is closed
 * once sent, or when its message is freed unsent.  A received one
 * belongs to its message: imsg_get_fd() hands it to the caller,
 * imsg_free() closes it otherwise.  Descriptors are received only
 * after imsgbuf_allow_fdpass(); one arriving on any other buffer is
 * closed and the read fails.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

#define IMSG_ALLOW_FDPASS	0x01
#define IMSG_FD_MARK		0x80000000U

static struct ibuf *imsg_parse_hdr(struct ibuf *, void *, int *);
static struct ibuf *imsg_start(struct imsgbuf *, uint32_t, uint32_t, pid_t,
		    size_t, int);

int
imsgbuf_init(struct imsgbuf *imsgbuf, int fd)
{
	imsgbuf->w = msgbuf_new_reader(IMSG_HEADER_SIZE, imsg_parse_hdr,
	    imsgbuf);
	if (imsgbuf->w == NULL)
		return (-1);
	imsgbuf->pid = getpid();
	imsgbuf->maxsize = MAX_IMSGSIZE;
	imsgbuf->fd = fd;
	imsgbuf->flags = 0;
	return (0);
}

void
imsgbuf_allow_fdpass(struct imsgbuf *imsgbuf)
{
	imsgbuf->flags |= IMSG_ALLOW_FDPASS;
}

/* Limit the payload of messages sent and received to max bytes. */
int
imsgbuf_set_maxsize(struct imsgbuf *imsgbuf, uint32_t max)
{
	if (max > UINT32_MAX - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		return (-1);
	}
	max += IMSG_HEADER_SIZE;
	if (max & IMSG_FD_MARK) {
		errno = EINVAL;
		return (-1);
	}
	imsgbuf->maxsize = max;
	return (0);
}

int
imsgbuf_read(struct imsgbuf *imsgbuf)
{
	if (imsgbuf->w == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (imsgbuf->flags & IMSG_ALLOW_FDPASS)
		return (msgbuf_read(imsgbuf->fd, imsgbuf->w));
	return (ibuf_read(imsgbuf->fd, imsgbuf->w));
}

int
imsgbuf_write(struct imsgbuf *imsgbuf)
{
	if (imsgbuf->w == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (imsgbuf->flags & IMSG_ALLOW_FDPASS)
		return (msgbuf_write(imsgbuf->fd, imsgbuf->w));
	return (ibuf_write(imsgbuf->fd, imsgbuf->w));
}

/*
 * Write until the queue is empty.  After a write that made progress,
 * write again at once.  Only a socket that took nothing is waited on,
 * and then for a short while, not for POLLOUT alone: Linux reports a
 * unix socket writable only once the peer has drained most of it, so
 * a peer that read a little and then flushes itself would leave both
 * waiting for each other, though both could write.
 */
#define FLUSH_POLL_MS	20

int
imsgbuf_flush(struct imsgbuf *imsgbuf)
{
	struct pollfd	 pfd;
	size_t		 before;

	while (imsgbuf_queuelen(imsgbuf) > 0) {
		before = msgbuf_bytes(imsgbuf->w);
		if (imsgbuf_write(imsgbuf) == -1)
			return (-1);
		if (imsgbuf_queuelen(imsgbuf) == 0)
			break;
		if (msgbuf_bytes(imsgbuf->w) < before)
			continue;
		pfd.fd = imsgbuf->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, FLUSH_POLL_MS) == -1 && errno != EINTR)
			return (-1);
	}
	return (0);
}

/* Free the queues and what they hold; imsgbuf->fd stays open. */
void
imsgbuf_clear(struct imsgbuf *imsgbuf)
{
	msgbuf_free(imsgbuf->w);
	imsgbuf->w = NULL;
}

uint32_t
imsgbuf_queuelen(struct imsgbuf *imsgbuf)
{
	if (imsgbuf->w == NULL)
		return (0);
	return (msgbuf_queuelen(imsgbuf->w));
}

/* The next message: its size with the header, 0 if none, -1 on error. */
ssize_t
imsg_get(struct imsgbuf *imsgbuf, struct imsg *imsg)
{
	struct imsg	 m;
	struct ibuf	*buf;

	if (imsgbuf->w == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if ((buf = msgbuf_get(imsgbuf->w)) == NULL)
		return (0);
	if (ibuf_get(buf, &m.hdr, sizeof(m.hdr)) == -1) {
		ibuf_free(buf);
		return (-1);
	}
	m.hdr.len &= ~IMSG_FD_MARK;
	m.data = ibuf_size(buf) > 0 ? ibuf_data(buf) : NULL;
	m.buf = buf;
	*imsg = m;
	return (ibuf_size(buf) + IMSG_HEADER_SIZE);
}

/* Wrap the unread payload in ibuf, which points into imsg. */
int
imsg_get_ibuf(struct imsg *imsg, struct ibuf *ibuf)
{
	if (ibuf_size(imsg->buf) == 0) {
		errno = EBADMSG;
		return (-1);
	}
	return (ibuf_get_ibuf(imsg->buf, ibuf_size(imsg->buf), ibuf));
}

/* Copy the payload, which must be exactly len bytes. */
int
imsg_get_data(struct imsg *imsg, void *data, size_t len)
{
	if (len == 0) {
		errno = EINVAL;
		return (-1);
	}
	if (ibuf_size(imsg->buf) != len) {
		errno = EBADMSG;
		return (-1);
	}
	return (ibuf_get(imsg->buf, data, len));
}

/* Copy the next len bytes of the payload. */
int
imsg_get_buf(struct imsg *imsg, void *data, size_t len)
{
	return (ibuf_get(imsg->buf, data, len));
}

/* Copy a NUL terminated field of len bytes from the payload. */
int
imsg_get_strbuf(struct imsg *imsg, char *str, size_t len)
{
	return (ibuf_get_strbuf(imsg->buf, str, len));
}

int
imsg_get_fd(struct imsg *imsg)
{
	return (ibuf_fd_get(imsg->buf));
}

uint32_t
imsg_get_id(struct imsg *imsg)
{
	return (imsg->hdr.peerid);
}

/* The payload's size, less what was already read from it. */
size_t
imsg_get_len(struct imsg *imsg)
{
	return (ibuf_size(imsg->buf));
}

pid_t
imsg_get_pid(struct imsg *imsg)
{
	return (imsg->hdr.pid);
}

uint32_t
imsg_get_type(struct imsg *imsg)
{
	return (imsg->hdr.type);
}

/*
 * Queue a message.  fd, unless -1, goes with it and belongs to the
 * library once this returns 1; on failure the caller keeps it.
 */
int
imsg_compose(struct imsgbuf *imsgbuf, uint32_t type, uint32_t id, pid_t pid,
    int fd, const void *data, size_t datalen)
{
	struct ibuf	*wbuf;

	if ((wbuf = imsg_start(imsgbuf, type, id, pid, datalen, 1)) == NULL)
		return (-1);
	if (ibuf_add(wbuf, data, datalen) == -1)
		goto fail;
	ibuf_fd_set(wbuf, fd);
	imsg_close(imsgbuf, wbuf);
	return (1);

 fail:
	ibuf_free(wbuf);
	return (-1);
}

int
imsg_composev(struct imsgbuf *imsgbuf, uint32_t type, uint32_t id, pid_t pid,
    int fd, const struct iovec *iov, int iovcnt)
{
	struct ibuf	*wbuf;
	size_t		 datalen = 0;
	int		 i;

	if (iovcnt < 0) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - datalen) {
			errno = ERANGE;
			return (-1);
		}
		datalen += iov[i].iov_len;
	}

	if ((wbuf = imsg_start(imsgbuf, type, id, pid, datalen, 1)) == NULL)
		return (-1);
	for (i = 0; i < iovcnt; i++)
		if (ibuf_add(wbuf, iov[i].iov_base, iov[i].iov_len) == -1)
			goto fail;
	ibuf_fd_set(wbuf, fd);
	imsg_close(imsgbuf, wbuf);
	return (1);

 fail:
	ibuf_free(wbuf);
	return (-1);
}

/*
 * Queue a message whose payload is buf, without copying it.  buf
 * belongs to the library from the call on, failure included; it
 * cannot carry a descriptor.
 */
int
imsg_compose_ibuf(struct imsgbuf *imsgbuf, uint32_t type, uint32_t id,
    pid_t pid, struct ibuf *buf)
{
	struct ibuf	*hdrbuf = NULL;
	struct imsg_hdr	 hdr;

	if (imsgbuf->w == NULL) {
		errno = EINVAL;
		goto fail;
	}
	if (ibuf_size(buf) > imsgbuf->maxsize - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		goto fail;
	}

	hdr.type = type;
	hdr.len = ibuf_size(buf) + IMSG_HEADER_SIZE;
	hdr.peerid = id;
	if ((hdr.pid = pid) == 0)
		hdr.pid = imsgbuf->pid;

	if ((hdrbuf = ibuf_open(IMSG_HEADER_SIZE)) == NULL)
		goto fail;
	if (ibuf_add(hdrbuf, &hdr, sizeof(hdr)) == -1)
		goto fail;

	ibuf_fd_set(buf, -1);
	ibuf_close(imsgbuf->w, hdrbuf);
	ibuf_close(imsgbuf->w, buf);
	return (1);

 fail:
	ibuf_free(buf);
	ibuf_free(hdrbuf);
	return (-1);
}

/* Queue a copy of msg on imsgbuf; its descriptor is not forwarded. */
int
imsg_forward(struct imsgbuf *imsgbuf, struct imsg *msg)
{
	struct ibuf	*wbuf;
	size_t		 len;

	ibuf_rewind(msg->buf);
	if (ibuf_skip(msg->buf, sizeof(msg->hdr)) == -1)
		return (-1);
	len = ibuf_size(msg->buf);

	if ((wbuf = imsg_create(imsgbuf, msg->hdr.type, msg->hdr.peerid,
	    msg->hdr.pid, len)) == NULL)
		return (-1);
	if (ibuf_add_ibuf(wbuf, msg->buf) == -1) {
		ibuf_free(wbuf);
		return (-1);
	}
	imsg_close(imsgbuf, wbuf);
	return (1);
}

/*
 * Start a message: the header, then room for datalen bytes (a hint;
 * imsg_add grows it up to the buffer's maximum).
 */
struct ibuf *
imsg_create(struct imsgbuf *imsgbuf, uint32_t type, uint32_t id, pid_t pid,
    size_t datalen)
{
	return (imsg_start(imsgbuf, type, id, pid, datalen, 0));
}

/*
 * imsg_create, and with reuse a buffer kept from a message written may
 * serve: only for callers that fill all datalen bytes, since it is not
 * zeroed.
 */
static struct ibuf *
imsg_start(struct imsgbuf *imsgbuf, uint32_t type, uint32_t id, pid_t pid,
    size_t datalen, int reuse)
{
	struct ibuf	*wbuf = NULL;
	struct imsg_hdr	 hdr;

	if (imsgbuf->w == NULL) {
		errno = EINVAL;
		return (NULL);
	}
	if (datalen > imsgbuf->maxsize - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		return (NULL);
	}
	datalen += IMSG_HEADER_SIZE;

	hdr.type = type;
	hdr.len = 0;
	hdr.peerid = id;
	if ((hdr.pid = pid) == 0)
		hdr.pid = imsgbuf->pid;

	if (reuse)
		wbuf = msgbuf_spare(imsgbuf->w, datalen, imsgbuf->maxsize);
	if (wbuf == NULL &&
	    (wbuf = ibuf_dynamic(datalen, imsgbuf->maxsize)) == NULL)
		return (NULL);
	if (ibuf_add(wbuf, &hdr, sizeof(hdr)) == -1) {
		ibuf_free(wbuf);
		return (NULL);
	}
	return (wbuf);
}

/* Append to a message; on failure the message is freed. */
int
imsg_add(struct ibuf *msg, const void *data, size_t datalen)
{
	if (datalen > 0 && ibuf_add(msg, data, datalen) == -1) {
		ibuf_free(msg);
		return (-1);
	}
	return (datalen);
}

/* Finish a message: its length and fd mark, then the write queue. */
void
imsg_close(struct imsgbuf *imsgbuf, struct ibuf *msg)
{
	uint32_t	 len;

	if (msg == NULL)
		return;
	if (imsgbuf->w == NULL) {
		ibuf_free(msg);
		return;
	}
	len = ibuf_size(msg);
	if (ibuf_fd_avail(msg))
		len |= IMSG_FD_MARK;
	(void)ibuf_set_h32(msg, offsetof(struct imsg_hdr, len), len);
	ibuf_close(imsgbuf->w, msg);
}

/* Free a message read, closing a descriptor nobody claimed. */
void
imsg_free(struct imsg *imsg)
{
	ibuf_free(imsg->buf);
	imsg->buf = NULL;
	imsg->data = NULL;
}

/*
 * readhdr for the msgbuf: check the length, make the message's ibuf,
 * and give it the descriptor if the header says one came along.
 */
static struct ibuf *
imsg_parse_hdr(struct ibuf *buf, void *arg, int *fd)
{
	struct imsgbuf	*imsgbuf = arg;
	struct imsg_hdr	 hdr;
	struct ibuf	*b;
	uint32_t	 len;

	if (ibuf_get(buf, &hdr, sizeof(hdr)) == -1)
		return (NULL);
	len = hdr.len & ~IMSG_FD_MARK;
	if (len < IMSG_HEADER_SIZE || len > imsgbuf->maxsize) {
		errno = ERANGE;
		return (NULL);
	}
	if ((b = ibuf_open(len)) == NULL)
		return (NULL);
	if (hdr.len & IMSG_FD_MARK) {
		ibuf_fd_set(b, *fd);
		*fd = -1;
	}
	return (b);
}

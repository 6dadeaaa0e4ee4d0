/*
 * imsg's two lower layers (imsg.c describes all three): ibuf, a buffer
 * with a read and a write position, an optional size limit and an
 * optional descriptor; msgbuf, the queue of ibufs written to a socket
 * with their descriptors, the buffers kept for reuse, and the reader
 * that cuts the incoming byte stream into whole messages.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

/* ibuf->fd of a buffer that wraps memory the ibuf does not own */
#define IBUF_FD_MARK_ON_STACK	-2

struct msgbuf {
	TAILQ_HEAD(, ibuf)	 bufs;		/* to write */
	TAILQ_HEAD(, ibuf)	 rbufs;		/* whole messages read */
	TAILQ_HEAD(, ibuf)	 spare;		/* written, kept for reuse */
	uint32_t		 queued;	/* ibufs on bufs */
	size_t			 sparelen;	/* bytes on spare */
	unsigned char		*rbuf;		/* bytes read, not yet framed */
	size_t			 roff;		/* how many */
	size_t			 rhigh;		/* most ever: what to clear */
	size_t			 hdrsize;
	struct ibuf		*rpmsg;		/* message being filled */
	struct ibuf		*(*readhdr)(struct ibuf *, void *, int *);
	void			*rarg;
	int			 rfd;		/* fd whose header is partial */
	int			 rerrno;	/* framing error, sticky */
};

static int	 ibuf_grow(struct ibuf *, size_t);
static void	 msgbuf_drain(struct msgbuf *, size_t);
static void	 msgbuf_keep(struct msgbuf *, struct ibuf *);
static void	 msgbuf_free_spare(struct msgbuf *);
static int	 msgbuf_send(int, struct msgbuf *, int);
static int	 msgbuf_recv(int, struct msgbuf *, int);
static int	 msgbuf_frame(struct msgbuf *, int);
static void	 msgbuf_closefd(int *);

/*
 * ibuf
 */

struct ibuf *
ibuf_open(size_t len)
{
	struct ibuf	*buf;

	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		return (NULL);
	if (len > 0 && (buf->buf = calloc(len, 1)) == NULL) {
		free(buf);
		return (NULL);
	}
	buf->size = buf->max = len;
	buf->fd = -1;
	return (buf);
}

struct ibuf *
ibuf_dynamic(size_t len, size_t max)
{
	struct ibuf	*buf;

	if (max == 0 || max < len) {
		errno = EINVAL;
		return (NULL);
	}
	if ((buf = ibuf_open(len)) == NULL)
		return (NULL);
	buf->max = max;
	return (buf);
}

/* Make room for len more bytes at wpos, within max. */
static int
ibuf_grow(struct ibuf *buf, size_t len)
{
	unsigned char	*nb;
	size_t		 need, nsize;

	if (buf->fd == IBUF_FD_MARK_ON_STACK) {
		errno = EINVAL;
		return (-1);
	}
	if (len > SIZE_MAX - buf->wpos || buf->wpos + len > buf->max) {
		errno = ERANGE;
		return (-1);
	}
	need = buf->wpos + len;
	if (need <= buf->size)
		return (0);

	/* double, so that many small adds stay linear */
	nsize = buf->size > buf->max / 2 ? buf->max : buf->size * 2;
	if (nsize < need)
		nsize = need;
	if ((nb = recallocarray(buf->buf, buf->size, nsize, 1)) == NULL)
		return (-1);
	buf->buf = nb;
	buf->size = nsize;
	return (0);
}

void *
ibuf_reserve(struct ibuf *buf, size_t len)
{
	void	*b;

	if (ibuf_grow(buf, len) == -1)
		return (NULL);
	if (buf->buf == NULL) {
		/* nothing allocated and nothing asked for */
		errno = EINVAL;
		return (NULL);
	}
	b = buf->buf + buf->wpos;
	buf->wpos += len;
	return (b);
}

int
ibuf_add(struct ibuf *buf, const void *data, size_t len)
{
	void	*b;

	if (len == 0)
		return (0);
	if ((b = ibuf_reserve(buf, len)) == NULL)
		return (-1);
	memcpy(b, data, len);
	return (0);
}

int
ibuf_add_ibuf(struct ibuf *buf, const struct ibuf *from)
{
	return (ibuf_add(buf, ibuf_data(from), ibuf_size(from)));
}

int
ibuf_add_zero(struct ibuf *buf, size_t len)
{
	void	*b;

	if (len == 0)
		return (0);
	if ((b = ibuf_reserve(buf, len)) == NULL)
		return (-1);
	memset(b, 0, len);
	return (0);
}

int
ibuf_add_n8(struct ibuf *buf, uint64_t value)
{
	uint8_t	v;

	if (value > UINT8_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = value;
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_n16(struct ibuf *buf, uint64_t value)
{
	uint16_t	v;

	if (value > UINT16_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = htobe16(value);
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_n32(struct ibuf *buf, uint64_t value)
{
	uint32_t	v;

	if (value > UINT32_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = htobe32(value);
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_n64(struct ibuf *buf, uint64_t value)
{
	value = htobe64(value);
	return (ibuf_add(buf, &value, sizeof(value)));
}

int
ibuf_add_h16(struct ibuf *buf, uint64_t value)
{
	uint16_t	v;

	if (value > UINT16_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = value;
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_h32(struct ibuf *buf, uint64_t value)
{
	uint32_t	v;

	if (value > UINT32_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = value;
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_h64(struct ibuf *buf, uint64_t value)
{
	return (ibuf_add(buf, &value, sizeof(value)));
}

/* Add str in a field of exactly len bytes, NUL padded. */
int
ibuf_add_strbuf(struct ibuf *buf, const char *str, size_t len)
{
	size_t	 n;
	char	*b;

	n = strnlen(str, len);
	if (n >= len) {
		/* also covers len == 0 */
		errno = EOVERFLOW;
		return (-1);
	}
	if ((b = ibuf_reserve(buf, len)) == NULL)
		return (-1);
	memcpy(b, str, n);
	memset(b + n, 0, len - n);
	return (0);
}

/* Address len bytes at pos, counted from the read position. */
void *
ibuf_seek(struct ibuf *buf, size_t pos, size_t len)
{
	if (pos > ibuf_size(buf) || len > ibuf_size(buf) - pos) {
		errno = ERANGE;
		return (NULL);
	}
	if (buf->buf == NULL) {
		errno = ERANGE;
		return (NULL);
	}
	return (buf->buf + buf->rpos + pos);
}

int
ibuf_set(struct ibuf *buf, size_t pos, const void *data, size_t len)
{
	void	*b;

	if (len == 0) {
		if (pos > ibuf_size(buf)) {
			errno = ERANGE;
			return (-1);
		}
		return (0);
	}
	if ((b = ibuf_seek(buf, pos, len)) == NULL)
		return (-1);
	memcpy(b, data, len);
	return (0);
}

int
ibuf_set_n8(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint8_t	v;

	if (value > UINT8_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = value;
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_n16(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint16_t	v;

	if (value > UINT16_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = htobe16(value);
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_n32(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint32_t	v;

	if (value > UINT32_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = htobe32(value);
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_n64(struct ibuf *buf, size_t pos, uint64_t value)
{
	value = htobe64(value);
	return (ibuf_set(buf, pos, &value, sizeof(value)));
}

int
ibuf_set_h16(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint16_t	v;

	if (value > UINT16_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = value;
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_h32(struct ibuf *buf, size_t pos, uint64_t value)
{
	uint32_t	v;

	if (value > UINT32_MAX) {
		errno = EINVAL;
		return (-1);
	}
	v = value;
	return (ibuf_set(buf, pos, &v, sizeof(v)));
}

int
ibuf_set_h64(struct ibuf *buf, size_t pos, uint64_t value)
{
	return (ibuf_set(buf, pos, &value, sizeof(value)));
}

void *
ibuf_data(const struct ibuf *buf)
{
	if (buf->buf == NULL)
		return (NULL);
	return (buf->buf + buf->rpos);
}

size_t
ibuf_size(const struct ibuf *buf)
{
	return (buf->wpos - buf->rpos);
}

size_t
ibuf_left(const struct ibuf *buf)
{
	if (buf->fd == IBUF_FD_MARK_ON_STACK)
		return (0);
	return (buf->max - buf->wpos);
}

int
ibuf_truncate(struct ibuf *buf, size_t len)
{
	if (ibuf_size(buf) >= len) {
		buf->wpos = buf->rpos + len;
		return (0);
	}
	if (buf->fd == IBUF_FD_MARK_ON_STACK) {
		/* wrapped memory only shrinks */
		errno = ERANGE;
		return (-1);
	}
	return (ibuf_add_zero(buf, len - ibuf_size(buf)));
}

void
ibuf_rewind(struct ibuf *buf)
{
	buf->rpos = 0;
}

/* Queue buf for writing; msgbuf owns it from now on. */
void
ibuf_close(struct msgbuf *msgbuf, struct ibuf *buf)
{
	if (buf->fd == IBUF_FD_MARK_ON_STACK)
		abort();
	TAILQ_INSERT_TAIL(&msgbuf->bufs, buf, entry);
	msgbuf->queued++;
}

/* Wrap memory the caller owns for reading; the result is never freed. */
void
ibuf_from_buffer(struct ibuf *buf, void *data, size_t len)
{
	memset(buf, 0, sizeof(*buf));
	buf->buf = data;
	buf->size = buf->wpos = len;
	buf->fd = IBUF_FD_MARK_ON_STACK;
}

void
ibuf_from_ibuf(struct ibuf *buf, const struct ibuf *from)
{
	ibuf_from_buffer(buf, ibuf_data(from), ibuf_size(from));
}

int
ibuf_get(struct ibuf *buf, void *data, size_t len)
{
	if (ibuf_size(buf) < len) {
		errno = EBADMSG;
		return (-1);
	}
	if (len > 0)
		memcpy(data, ibuf_data(buf), len);
	buf->rpos += len;
	return (0);
}

int
ibuf_get_ibuf(struct ibuf *buf, size_t len, struct ibuf *new)
{
	if (ibuf_size(buf) < len) {
		errno = EBADMSG;
		return (-1);
	}
	ibuf_from_buffer(new, ibuf_data(buf), len);
	buf->rpos += len;
	return (0);
}

int
ibuf_get_n8(struct ibuf *buf, uint8_t *value)
{
	return (ibuf_get(buf, value, sizeof(*value)));
}

int
ibuf_get_n16(struct ibuf *buf, uint16_t *value)
{
	uint16_t	v;

	if (ibuf_get(buf, &v, sizeof(v)) == -1)
		return (-1);
	*value = be16toh(v);
	return (0);
}

int
ibuf_get_n32(struct ibuf *buf, uint32_t *value)
{
	uint32_t	v;

	if (ibuf_get(buf, &v, sizeof(v)) == -1)
		return (-1);
	*value = be32toh(v);
	return (0);
}

int
ibuf_get_n64(struct ibuf *buf, uint64_t *value)
{
	uint64_t	v;

	if (ibuf_get(buf, &v, sizeof(v)) == -1)
		return (-1);
	*value = be64toh(v);
	return (0);
}

int
ibuf_get_h16(struct ibuf *buf, uint16_t *value)
{
	return (ibuf_get(buf, value, sizeof(*value)));
}

int
ibuf_get_h32(struct ibuf *buf, uint32_t *value)
{
	return (ibuf_get(buf, value, sizeof(*value)));
}

int
ibuf_get_h64(struct ibuf *buf, uint64_t *value)
{
	return (ibuf_get(buf, value, sizeof(*value)));
}

/* A new string of the next len bytes, ending at the first NUL. */
char *
ibuf_get_string(struct ibuf *buf, size_t len)
{
	char	*str;

	if (ibuf_size(buf) < len) {
		errno = EBADMSG;
		return (NULL);
	}
	if (len == 0)
		str = strdup("");
	else
		str = strndup(ibuf_data(buf), len);
	if (str == NULL)
		return (NULL);
	buf->rpos += len;
	return (str);
}

/* Copy a field of exactly len bytes that must hold a NUL. */
int
ibuf_get_strbuf(struct ibuf *buf, char *str, size_t len)
{
	if (len == 0) {
		errno = EINVAL;
		return (-1);
	}
	if (ibuf_get(buf, str, len) == -1)
		return (-1);
	if (str[len - 1] != '\0') {
		str[len - 1] = '\0';
		errno = EOVERFLOW;
		return (-1);
	}
	return (0);
}

int
ibuf_skip(struct ibuf *buf, size_t len)
{
	if (ibuf_size(buf) < len) {
		errno = EBADMSG;
		return (-1);
	}
	buf->rpos += len;
	return (0);
}

/* Free buf, closing its descriptor; errno is kept. */
void
ibuf_free(struct ibuf *buf)
{
	int	 saved_errno;

	if (buf == NULL)
		return;
	if (buf->fd == IBUF_FD_MARK_ON_STACK)
		abort();
	saved_errno = errno;
	if (buf->fd >= 0)
		close(buf->fd);
	freezero(buf->buf, buf->size);
	free(buf);
	errno = saved_errno;
}

int
ibuf_fd_avail(struct ibuf *buf)
{
	return (buf->fd >= 0);
}

/* Take the descriptor: from now on the caller closes it. */
int
ibuf_fd_get(struct ibuf *buf)
{
	int	 fd;

	if (buf->fd < 0)
		return (-1);
	fd = buf->fd;
	buf->fd = -1;
	return (fd);
}

/* Give buf a descriptor (-1 for none), closing any it held. */
void
ibuf_fd_set(struct ibuf *buf, int fd)
{
	if (buf->fd == IBUF_FD_MARK_ON_STACK)
		abort();
	if (buf->fd >= 0)
		close(buf->fd);
	buf->fd = fd >= 0 ? fd : -1;
}

/*
 * msgbuf
 */

struct msgbuf *
msgbuf_new(void)
{
	struct msgbuf	*msgbuf;

	if ((msgbuf = calloc(1, sizeof(*msgbuf))) == NULL)
		return (NULL);
	TAILQ_INIT(&msgbuf->bufs);
	TAILQ_INIT(&msgbuf->rbufs);
	TAILQ_INIT(&msgbuf->spare);
	msgbuf->rfd = -1;
	return (msgbuf);
}

/*
 * A msgbuf that also reads.  readhdr is called with each complete
 * header of hdrsz bytes; it returns a new ibuf whose space (ibuf_left)
 * is the whole message, header included, or NULL and errno to refuse
 * the stream.  Its int * is the descriptor that arrived with the
 * header, if any: readhdr takes it by setting it to -1.
 */
struct msgbuf *
msgbuf_new_reader(size_t hdrsz,
    struct ibuf *(*readhdr)(struct ibuf *, void *, int *), void *arg)
{
	struct msgbuf	*msgbuf;

	if (hdrsz == 0 || hdrsz > IBUF_READ_SIZE / 2 || readhdr == NULL) {
		errno = EINVAL;
		return (NULL);
	}
	if ((msgbuf = msgbuf_new()) == NULL)
		return (NULL);
	if ((msgbuf->rbuf = malloc(IBUF_READ_SIZE)) == NULL) {
		free(msgbuf);
		return (NULL);
	}
	msgbuf->hdrsize = hdrsz;
	msgbuf->readhdr = readhdr;
	msgbuf->rarg = arg;
	return (msgbuf);
}

void
msgbuf_free(struct msgbuf *msgbuf)
{
	if (msgbuf == NULL)
		return;
	msgbuf_clear(msgbuf);
	/*
	 * Only what was ever read is cleared: zeroing all of rbuf would
	 * fault in (or copy, after a fork) pages no byte of ours reached,
	 * once for every connection of the control socket.
	 */
	freezero(msgbuf->rbuf, msgbuf->rhigh);
	free(msgbuf);
}

/* Drop everything queued and read, closing the descriptors held. */
void
msgbuf_clear(struct msgbuf *msgbuf)
{
	struct ibuf	*buf;

	while ((buf = TAILQ_FIRST(&msgbuf->bufs)) != NULL) {
		TAILQ_REMOVE(&msgbuf->bufs, buf, entry);
		ibuf_free(buf);
	}
	msgbuf->queued = 0;

	while ((buf = TAILQ_FIRST(&msgbuf->rbufs)) != NULL) {
		TAILQ_REMOVE(&msgbuf->rbufs, buf, entry);
		ibuf_free(buf);
	}
	ibuf_free(msgbuf->rpmsg);
	msgbuf->rpmsg = NULL;
	msgbuf->roff = 0;
	msgbuf_closefd(&msgbuf->rfd);
	msgbuf->rerrno = 0;
	msgbuf_free_spare(msgbuf);
}

uint32_t
msgbuf_queuelen(struct msgbuf *msgbuf)
{
	return (msgbuf->queued);
}

/* Bytes still queued for writing. */
size_t
msgbuf_bytes(struct msgbuf *msgbuf)
{
	struct ibuf	*buf;
	size_t		 n = 0;

	TAILQ_FOREACH(buf, &msgbuf->bufs, entry)
		n += ibuf_size(buf);
	return (n);
}

/* The next whole message read, or NULL. */
struct ibuf *
msgbuf_get(struct msgbuf *msgbuf)
{
	struct ibuf	*buf;

	if ((buf = TAILQ_FIRST(&msgbuf->rbufs)) != NULL)
		TAILQ_REMOVE(&msgbuf->rbufs, buf, entry);
	return (buf);
}

/* Write what the socket takes, descriptors dropped: 0, or -1. */
int
ibuf_write(int fd, struct msgbuf *msgbuf)
{
	return (msgbuf_send(fd, msgbuf, 0));
}

/* Write what the socket takes, passing descriptors: 0, or -1. */
int
msgbuf_write(int fd, struct msgbuf *msgbuf)
{
	return (msgbuf_send(fd, msgbuf, 1));
}

/*
 * One sendmsg of as much of the queue as fits in an iovec array.  A
 * buffer with a descriptor starts a sendmsg of its own, so that the
 * descriptor arrives with the first byte of its message; once any byte
 * went out the descriptor went with it, and is closed here.  A full
 * socket (EAGAIN, ENOBUFS) is not an error: the rest goes next time.
 */
static int
msgbuf_send(int fd, struct msgbuf *msgbuf, int fdpass)
{
	struct iovec	 iov[IOV_MAX];
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct ibuf	*buf, *buf0 = NULL;
	unsigned int	 i = 0;
	ssize_t		 n;
	int		 plain = 0;

	TAILQ_FOREACH(buf, &msgbuf->bufs, entry) {
		if (i >= IOV_MAX)
			break;
		if (fdpass && i > 0 && buf->fd >= 0)
			break;
		iov[i].iov_base = ibuf_data(buf);
		iov[i].iov_len = ibuf_size(buf);
		i++;
		if (fdpass && buf->fd >= 0)
			buf0 = buf;
	}
	if (i == 0)
		return (0);

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = i;
	if (buf0 != NULL) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &buf0->fd, sizeof(int));
	}

 again:
	/* MSG_NOSIGNAL: a vanished peer is EPIPE, not SIGPIPE */
	if (plain)
		n = writev(fd, iov, i);
	else
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EINTR)
			goto again;
		if (errno == ENOTSOCK && !plain && buf0 == NULL) {
			/* a pipe, say: no descriptors, no flags */
			plain = 1;
			goto again;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS)
			return (0);
		return (-1);
	}

	if (buf0 != NULL && n > 0)
		msgbuf_closefd(&buf0->fd);
	msgbuf_drain(msgbuf, n);
	return (0);
}

/* Forget the first n bytes written. */
static void
msgbuf_drain(struct msgbuf *msgbuf, size_t n)
{
	struct ibuf	*buf;

	while ((buf = TAILQ_FIRST(&msgbuf->bufs)) != NULL) {
		if (n < ibuf_size(buf)) {
			buf->rpos += n;
			return;
		}
		n -= ibuf_size(buf);
		TAILQ_REMOVE(&msgbuf->bufs, buf, entry);
		msgbuf->queued--;
		msgbuf_keep(msgbuf, buf);
	}
}

/*
 * Keep the memory of a large message written, for the next message
 * composed.  Freed instead, a burst of large messages is returned to
 * the kernel by malloc's trimming once the queue drains, and every
 * page is faulted in again by the next burst: that, not copying,
 * costs the most when large messages are sent.  What is kept is
 * bounded, and freed with the msgbuf.
 */
#define MSGBUF_SPARE_MIN	4096		/* smaller: malloc does well */
#define MSGBUF_SPARE_MAX	(1024 * 1024)	/* bytes kept at most */

static void
msgbuf_keep(struct msgbuf *msgbuf, struct ibuf *buf)
{
	if (buf->fd != -1 || buf->buf == NULL ||
	    buf->size < MSGBUF_SPARE_MIN ||
	    buf->size > MSGBUF_SPARE_MAX - msgbuf->sparelen) {
		ibuf_free(buf);
		return;
	}
	TAILQ_INSERT_TAIL(&msgbuf->spare, buf, entry);
	msgbuf->sparelen += buf->size;
}

/*
 * A kept buffer of at least len bytes, empty, with room up to max, or
 * NULL.  Its bytes are those of an earlier message to the same peer;
 * the caller overwrites all it sends.
 */
struct ibuf *
msgbuf_spare(struct msgbuf *msgbuf, size_t len, size_t max)
{
	struct ibuf	*buf;

	if (len < MSGBUF_SPARE_MIN)
		return (NULL);
	TAILQ_FOREACH(buf, &msgbuf->spare, entry)
		if (buf->size >= len && buf->size <= max)
			break;
	if (buf == NULL)
		return (NULL);
	TAILQ_REMOVE(&msgbuf->spare, buf, entry);
	msgbuf->sparelen -= buf->size;
	buf->rpos = buf->wpos = 0;
	buf->max = max;
	return (buf);
}

static void
msgbuf_free_spare(struct msgbuf *msgbuf)
{
	struct ibuf	*buf;

	while ((buf = TAILQ_FIRST(&msgbuf->spare)) != NULL) {
		TAILQ_REMOVE(&msgbuf->spare, buf, entry);
		ibuf_free(buf);
	}
	msgbuf->sparelen = 0;
}

/* Read, refusing descriptors: 1 read or nothing yet, 0 EOF, -1 error. */
int
ibuf_read(int fd, struct msgbuf *msgbuf)
{
	return (msgbuf_recv(fd, msgbuf, 0));
}

/* Read, taking one descriptor per read: as ibuf_read. */
int
msgbuf_read(int fd, struct msgbuf *msgbuf)
{
	return (msgbuf_recv(fd, msgbuf, 1));
}

/*
 * One recvmsg, then cut what arrived into messages.  Descriptors come
 * with MSG_CMSG_CLOEXEC.  Any that must not be kept (fd passing not
 * allowed, more than one, or a truncated control message, which is
 * how Linux says some were lost) are closed and the read fails, after
 * the bytes are framed so that the stream stays in step.  Other
 * control messages (SCM_CREDENTIALS) are ignored.
 */
static int
msgbuf_recv(int fd, struct msgbuf *msgbuf, int fdpass)
{
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	union {
		struct cmsghdr	hdr;
		/* room for credentials too, should SO_PASSCRED be on */
		char		buf[CMSG_SPACE(sizeof(struct ucred)) +
				    CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec	 iov[2];
	struct ibuf	*direct = NULL;
	ssize_t		 n;
	size_t		 i, nfds, left = 0;
	int		 f, rfd = -1, error = 0, iovcnt = 0;

	if (msgbuf->rbuf == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (msgbuf->rerrno != 0) {
		errno = msgbuf->rerrno;
		return (-1);
	}

	/*
	 * The rest of a message whose header came earlier is read into
	 * its own buffer, not copied there from rbuf: a large message is
	 * mostly such a rest.  Only what follows it goes to rbuf.
	 */
	if (msgbuf->rpmsg != NULL && msgbuf->roff == 0) {
		direct = msgbuf->rpmsg;
		left = ibuf_left(direct);
		if (ibuf_grow(direct, left) == -1)
			return (-1);
		iov[iovcnt].iov_base = direct->buf + direct->wpos;
		iov[iovcnt].iov_len = left;
		iovcnt++;
	}
	iov[iovcnt].iov_base = msgbuf->rbuf + msgbuf->roff;
	iov[iovcnt].iov_len = IBUF_READ_SIZE - msgbuf->roff;
	iovcnt++;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	msg.msg_iov = iov;
	msg.msg_iovlen = iovcnt;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

 again:
	if ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) == -1) {
		if (errno == EINTR)
			goto again;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (1);	/* nothing yet: try again later */
		return (-1);
	}

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&f, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(f));
			if (fdpass && rfd == -1 && error == 0) {
				rfd = f;
				continue;
			}
			close(f);
			error = EBADMSG;
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		error = EMSGSIZE;
	if (error != 0)
		msgbuf_closefd(&rfd);

	if (n == 0) {
		msgbuf_closefd(&rfd);
		if (error != 0) {
			errno = error;
			return (-1);
		}
		return (0);		/* EOF */
	}

	if (direct != NULL) {
		if ((size_t)n < left) {
			direct->wpos += n;
			n = 0;
		} else {
			direct->wpos += left;
			n -= left;
			TAILQ_INSERT_TAIL(&msgbuf->rbufs, direct, entry);
			msgbuf->rpmsg = NULL;
		}
	}
	msgbuf->roff += n;
	if (msgbuf->roff > msgbuf->rhigh)
		msgbuf->rhigh = msgbuf->roff;
	if (msgbuf_frame(msgbuf, rfd) == -1)
		return (-1);
	if (error != 0) {
		errno = error;
		return (-1);
	}
	return (1);
}

/*
 * Cut the bytes in rbuf into messages.  newfd arrived with the latest
 * bytes; it goes to the first header carrying the mark, after any fd
 * kept from an earlier read.  An fd nobody took is closed, except that
 * the newest is kept while a header is only partly here: the sender
 * attaches it to the first byte of its message, and a header cut by
 * the end of a read completes with the next one.
 */
static int
msgbuf_frame(struct msgbuf *msgbuf, int newfd)
{
	struct ibuf	 rbuf, hdr, chunk;
	size_t		 sz;
	int		 fds[2], *fdp;

	fds[0] = msgbuf->rfd;
	fds[1] = newfd;
	msgbuf->rfd = -1;

	ibuf_from_buffer(&rbuf, msgbuf->rbuf, msgbuf->roff);
	while (ibuf_size(&rbuf) > 0) {
		if (msgbuf->rpmsg == NULL) {
			if (ibuf_size(&rbuf) < msgbuf->hdrsize)
				break;
			ibuf_from_buffer(&hdr, ibuf_data(&rbuf),
			    msgbuf->hdrsize);
			fdp = fds[0] != -1 ? &fds[0] : &fds[1];
			msgbuf->rpmsg = msgbuf->readhdr(&hdr, msgbuf->rarg,
			    fdp);
			if (msgbuf->rpmsg == NULL)
				goto fail;
			if (ibuf_left(msgbuf->rpmsg) < msgbuf->hdrsize) {
				ibuf_free(msgbuf->rpmsg);
				msgbuf->rpmsg = NULL;
				errno = EINVAL;
				goto fail;
			}
		}

		sz = ibuf_left(msgbuf->rpmsg);
		if (sz > ibuf_size(&rbuf))
			sz = ibuf_size(&rbuf);
		if (ibuf_get_ibuf(&rbuf, sz, &chunk) == -1 ||
		    ibuf_add_ibuf(msgbuf->rpmsg, &chunk) == -1)
			goto fail;

		if (ibuf_left(msgbuf->rpmsg) == 0) {
			TAILQ_INSERT_TAIL(&msgbuf->rbufs, msgbuf->rpmsg,
			    entry);
			msgbuf->rpmsg = NULL;
		}
	}

	/* what is left is less than a header */
	sz = ibuf_size(&rbuf);
	if (sz > 0)
		memmove(msgbuf->rbuf, ibuf_data(&rbuf), sz);
	msgbuf->roff = sz;

	if (msgbuf->roff > 0) {
		if (fds[1] != -1) {
			msgbuf->rfd = fds[1];
			fds[1] = -1;
		} else {
			msgbuf->rfd = fds[0];
			fds[0] = -1;
		}
	}
	msgbuf_closefd(&fds[0]);
	msgbuf_closefd(&fds[1]);
	return (0);

 fail:
	/*
	 * The stream cannot be framed past this point: keep the error,
	 * so that every later read reports it instead of reading on.
	 */
	msgbuf->rerrno = errno != 0 ? errno : EBADMSG;
	msgbuf->roff = 0;
	msgbuf_closefd(&fds[0]);
	msgbuf_closefd(&fds[1]);
	errno = msgbuf->rerrno;
	return (-1);
}

static void
msgbuf_closefd(int *fd)
{
	int	 saved_errno;

	if (*fd < 0)
		return;
	saved_errno = errno;
	close(*fd);
	*fd = -1;
	errno = saved_errno;
}

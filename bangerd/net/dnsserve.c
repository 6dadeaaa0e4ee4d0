/*
 * The DNS responder on its sockets: dns_start() and dns_stop(), the
 * UDP queries, and the TCP clients (RFC 7766) with their limits and
 * deadlines (dns.c describes them).  Each query goes to dns_eval()
 * (dns.c); what is not ours to dns_forward() (dnsfwd.c).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <netinet/in.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "log.h"

struct dns_tcpmsg {
	TAILQ_ENTRY(dns_tcpmsg)	 tm_entry;
	size_t			 tm_len;	/* with the length prefix */
	size_t			 tm_off;
	uint8_t			 tm_data[];
};

static void	 dns_udp_read(int, short, void *);
static void	 dns_tcp_accept(int, short, void *);
static void	 dns_accept_resume(int, short, void *);
static void	 dns_accept_pause(struct dns_ctx *, int);
static void	 dns_slot_wake(int, short, void *);
static void	 dns_conn_read(int, short, void *);
static void	 dns_conn_write(int, short, void *);
static void	 dns_conn_timeout(int, short, void *);
static void	 dns_conn_arm(struct dns_conn *, int);
static size_t	 dns_conns_from(struct dns_ctx *,
		    const struct sockaddr_storage *);
static void	 dns_conn_process(struct dns_conn *);
static void	 dns_conn_enqueue(struct dns_conn *, const uint8_t *, size_t);
static void	 dns_conn_close(struct dns_conn *);

void
dns_timeval(struct timeval *tv, int ms)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/*
 * TCP clients' limits, from then on: idle_ms between queries, msg_ms to
 * send a whole query from its first byte, per_addr connections at once
 * from one address.  dns_new() sets DNS_TCP_IDLE_MS, DNS_TCP_MSG_MS and
 * DNS_TCP_PER_ADDR.
 */
int
dns_set_tcp_limits(struct dns_ctx *cx, int idle_ms, int msg_ms, int per_addr)
{
	if (idle_ms <= 0 || msg_ms <= 0 || per_addr <= 0 ||
	    per_addr > DNS_TCP_MAX) {
		errno = EINVAL;
		return (-1);
	}
	cx->cx_tcp_idle = idle_ms;
	cx->cx_tcp_msg = msg_ms;
	cx->cx_tcp_peraddr = per_addr;
	return (0);
}

/*
 * Serve on the given sockets (either may be -1): a bound UDP socket and
 * a listening TCP socket.  They stay the caller's: dns_stop() leaves
 * them open.  The caller runs the event loop.
 */
int
dns_start(struct dns_ctx *cx, int udpfd, int tcpfd)
{
	int	 fd, flags, i;

	if (cx->cx_started) {
		errno = EALREADY;
		return (-1);
	}
	for (i = 0; i < 2; i++) {
		if ((fd = i == 0 ? udpfd : tcpfd) == -1)
			continue;
		if ((flags = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
			return (-1);
	}
	cx->cx_udpfd = udpfd;
	cx->cx_tcpfd = tcpfd;
	if (udpfd != -1) {
		event_set(&cx->cx_udpev, udpfd, EV_READ | EV_PERSIST,
		    dns_udp_read, cx);
		event_add(&cx->cx_udpev, NULL);
	}
	evtimer_set(&cx->cx_acceptwait, dns_accept_resume, cx);
	evtimer_set(&cx->cx_slotev, dns_slot_wake, cx);
	if (tcpfd != -1) {
		event_set(&cx->cx_tcpev, tcpfd, EV_READ | EV_PERSIST,
		    dns_tcp_accept, cx);
		event_add(&cx->cx_tcpev, NULL);
		cx->cx_accepting = 1;
	}
	cx->cx_started = 1;
	return (0);
}

/* Stop serving: drop connections and forwarded queries. */
void
dns_stop(struct dns_ctx *cx)
{
	struct dns_pending	*p;
	struct dns_conn		*c;
	int			 i;

	if (!cx->cx_started)
		return;
	while ((c = TAILQ_FIRST(&cx->cx_conns)) != NULL)
		dns_conn_close(c);
	while ((p = RB_MIN(dns_pendings, &cx->cx_pending)) != NULL)
		dns_pending_free(p);
	for (i = 0; i < cx->cx_nup; i++)
		dns_upstream_close(&cx->cx_up[i]);
	if (cx->cx_udpfd != -1)
		event_del(&cx->cx_udpev);
	if (cx->cx_tcpfd != -1 && cx->cx_accepting)
		event_del(&cx->cx_tcpev);
	evtimer_del(&cx->cx_acceptwait);
	evtimer_del(&cx->cx_slotev);
	cx->cx_accepting = 0;
	cx->cx_udpfd = cx->cx_tcpfd = -1;
	cx->cx_started = 0;
}

static void
dns_udp_read(int fd, short ev, void *arg)
{
	struct dns_ctx		*cx = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	ssize_t			 n;
	size_t			 outlen, limit;
	int			 i, r;

	for (i = 0; i < DNS_UDP_BURST; i++) {
		sslen = sizeof(ss);
		if ((n = recvfrom(fd, cx->cx_in, sizeof(cx->cx_in), 0,
		    (struct sockaddr *)&ss, &sslen)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("%s: recvfrom", __func__);
			return;
		}
		outlen = sizeof(cx->cx_out);
		r = dns_eval(cx, cx->cx_in, n, 0, cx->cx_out, &outlen, &limit);
		if (r == DNS_REPLY)
			dns_deliver(cx, &ss, sslen, NULL, cx->cx_out, outlen);
		else if (r == DNS_FORWARD)
			dns_forward(cx, cx->cx_in, n, limit, &ss, sslen, NULL);
	}
}

void
dns_deliver(struct dns_ctx *cx, const struct sockaddr_storage *ss,
    socklen_t sslen, struct dns_conn *c, const uint8_t *msg, size_t len)
{
	if (c != NULL)
		dns_conn_enqueue(c, msg, len);
	else if (cx->cx_udpfd == -1 || sendto(cx->cx_udpfd, msg, len,
	    MSG_NOSIGNAL, (const struct sockaddr *)ss, sslen) == -1)
		cx->cx_st.ds_dropped++;
}

/*
 * A forwarding slot came free: the TCP clients that wait for one are
 * read again, from the event loop (the caller may be deep in one).
 */
static void
dns_slot_wake(int fd, short ev, void *arg)
{
	struct dns_ctx	*cx = arg;
	struct dns_conn	*c;
	TAILQ_HEAD(, dns_conn) waiting;

	TAILQ_INIT(&waiting);
	TAILQ_CONCAT(&waiting, &cx->cx_slotwait, dc_slotentry);
	while ((c = TAILQ_FIRST(&waiting)) != NULL) {
		TAILQ_REMOVE(&waiting, c, dc_slotentry);
		c->dc_slotwait = 0;
		if (cx->cx_npending < DNS_PENDING_MAX)
			dns_conn_check(c);
		else {
			TAILQ_INSERT_TAIL(&cx->cx_slotwait, c, dc_slotentry);
			c->dc_slotwait = 1;
		}
	}
}

static void
dns_accept_pause(struct dns_ctx *cx, int ms)
{
	struct timeval	 tv;

	if (cx->cx_accepting) {
		event_del(&cx->cx_tcpev);
		cx->cx_accepting = 0;
	}
	if (ms > 0) {
		dns_timeval(&tv, ms);
		evtimer_add(&cx->cx_acceptwait, &tv);
	}
}

static void
dns_accept_resume(int fd, short ev, void *arg)
{
	struct dns_ctx	*cx = arg;

	if (!cx->cx_accepting && cx->cx_tcpfd != -1 &&
	    cx->cx_nconns < DNS_TCP_MAX) {
		event_add(&cx->cx_tcpev, NULL);
		cx->cx_accepting = 1;
	}
}

static void
dns_tcp_accept(int fd, short ev, void *arg)
{
	struct dns_ctx		*cx = arg;
	struct dns_conn		*c;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 s;

	for (;;) {
		if (cx->cx_nconns >= DNS_TCP_MAX) {
			/* A connection closing lets us take more. */
			dns_accept_pause(cx, 0);
			return;
		}
		sslen = sizeof(ss);
		if ((s = accept4(fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("%s: accept4", __func__);
				dns_accept_pause(cx, 1000);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("%s: accept4", __func__);
			return;
		}
		/* Taken and closed: left queued, it would block the rest. */
		if (dns_conns_from(cx, &ss) >= (size_t)cx->cx_tcp_peraddr) {
			close(s);
			cx->cx_st.ds_tcp_refused++;
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(s);
			cx->cx_st.ds_dropped++;
			return;
		}
		c->dc_ctx = cx;
		c->dc_fd = s;
		memcpy(&c->dc_peer, &ss, sizeof(ss));
		TAILQ_INIT(&c->dc_outq);
		TAILQ_INSERT_TAIL(&cx->cx_conns, c, dc_entry);
		cx->cx_nconns++;
		event_set(&c->dc_rev, s, EV_READ | EV_PERSIST, dns_conn_read,
		    c);
		event_set(&c->dc_wev, s, EV_WRITE | EV_PERSIST,
		    dns_conn_write, c);
		evtimer_set(&c->dc_timer, dns_conn_timeout, c);
		event_add(&c->dc_rev, NULL);
		c->dc_reading = 1;
		dns_conn_arm(c, 0);
	}
}

/* How many connections the client at ss has open. */
static size_t
dns_conns_from(struct dns_ctx *cx, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*a4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*a6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in	*b4;
	const struct sockaddr_in6	*b6;
	struct dns_conn			*c;
	size_t				 n = 0;

	TAILQ_FOREACH(c, &cx->cx_conns, dc_entry) {
		if (c->dc_peer.ss_family != ss->ss_family)
			continue;
		b4 = (const struct sockaddr_in *)&c->dc_peer;
		b6 = (const struct sockaddr_in6 *)&c->dc_peer;
		if ((ss->ss_family == AF_INET &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr) ||
		    (ss->ss_family == AF_INET6 &&
		    IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr)))
			n++;
	}
	return (n);
}

/*
 * The connection's one timer, restarted only at a message's bounds,
 * never by single bytes: msg, the deadline of a query whose first byte
 * has come (cx_tcp_msg), else the idle limit (cx_tcp_idle) from the
 * last query taken or answer written.
 */
static void
dns_conn_arm(struct dns_conn *c, int msg)
{
	struct timeval	 tv;

	c->dc_msgclock = msg;
	dns_timeval(&tv, msg ? c->dc_ctx->cx_tcp_msg : c->dc_ctx->cx_tcp_idle);
	evtimer_add(&c->dc_timer, &tv);
}

static void
dns_conn_timeout(int fd, short ev, void *arg)
{
	struct dns_conn	*c = arg;

	/* Waiting for the upstreams, not for the client: wait on. */
	if (c->dc_slotwait || (!(c->dc_reading && c->dc_inlen > 0) &&
	    c->dc_queued == 0 && c->dc_pending > 0)) {
		dns_conn_arm(c, 0);
		return;
	}
	c->dc_ctx->cx_st.ds_tcp_timeout++;
	dns_conn_close(c);
}

static void
dns_conn_read(int fd, short ev, void *arg)
{
	struct dns_conn	*c = arg;
	ssize_t		 n;

	n = read(fd, c->dc_in + c->dc_inlen, sizeof(c->dc_in) - c->dc_inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		dns_conn_close(c);
		return;
	}
	if (n == 0) {
		c->dc_eof = 1;
		event_del(&c->dc_rev);
		c->dc_reading = 0;
	} else {
		c->dc_inlen += n;
		/* The first byte of a query starts its deadline. */
		if (!c->dc_msgclock)
			dns_conn_arm(c, 1);
	}
	dns_conn_check(c);
}

/* Answer the complete messages buffered, as far as the queue allows. */
static void
dns_conn_process(struct dns_conn *c)
{
	struct dns_ctx	*cx = c->dc_ctx;
	size_t		 off = 0, mlen, outlen, limit;
	int		 r, taken = 0;

	while (c->dc_queued + c->dc_pending < DNS_TCP_INFLIGHT &&
	    c->dc_inlen - off >= 2) {
		mlen = (c->dc_in[off] << 8) | c->dc_in[off + 1];
		if (c->dc_inlen - off < 2 + mlen)
			break;
		/*
		 * Every forwarding slot in use: a TCP client waits for one
		 * (read no more from it) instead of getting SERVFAIL.
		 */
		if (cx->cx_npending >= DNS_PENDING_MAX) {
			if (!c->dc_slotwait) {
				TAILQ_INSERT_TAIL(&cx->cx_slotwait, c,
				    dc_slotentry);
				c->dc_slotwait = 1;
			}
			break;
		}
		outlen = sizeof(cx->cx_out);
		r = dns_eval(cx, c->dc_in + off + 2, mlen, 1, cx->cx_out,
		    &outlen, &limit);
		if (r == DNS_REPLY)
			dns_conn_enqueue(c, cx->cx_out, outlen);
		else if (r == DNS_FORWARD)
			dns_forward(cx, c->dc_in + off + 2, mlen, limit, NULL,
			    0, c);
		if (r != DNS_DROP)
			taken = 1;
		off += 2 + mlen;
	}
	if (off > 0) {
		memmove(c->dc_in, c->dc_in + off, c->dc_inlen - off);
		c->dc_inlen -= off;
	}
	/* A message we drop restarts no clock: it buys no time. */
	if (taken)
		dns_conn_arm(c, c->dc_inlen > 0);
}

static void
dns_conn_enqueue(struct dns_conn *c, const uint8_t *msg, size_t len)
{
	struct dns_tcpmsg	*m;

	if ((m = malloc(sizeof(*m) + 2 + len)) == NULL) {
		c->dc_ctx->cx_st.ds_dropped++;
		return;
	}
	m->tm_data[0] = len >> 8;
	m->tm_data[1] = len & 0xff;
	memcpy(m->tm_data + 2, msg, len);
	m->tm_len = 2 + len;
	m->tm_off = 0;
	TAILQ_INSERT_TAIL(&c->dc_outq, m, tm_entry);
	c->dc_queued++;
	if (!c->dc_writing) {
		event_add(&c->dc_wev, NULL);
		c->dc_writing = 1;
	}
}

static void
dns_conn_write(int fd, short ev, void *arg)
{
	struct dns_conn		*c = arg;
	struct dns_tcpmsg	*m;
	ssize_t			 n;

	while ((m = TAILQ_FIRST(&c->dc_outq)) != NULL) {
		n = send(fd, m->tm_data + m->tm_off, m->tm_len - m->tm_off,
		    MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1) {
			dns_conn_close(c);
			return;
		}
		if ((m->tm_off += n) < m->tm_len)
			return;
		TAILQ_REMOVE(&c->dc_outq, m, tm_entry);
		free(m);
		c->dc_queued--;
		/* A whole answer read: the client may wait again. */
		if (!(c->dc_reading && c->dc_inlen > 0))
			dns_conn_arm(c, 0);
	}
	event_del(&c->dc_wev);
	c->dc_writing = 0;
	dns_conn_check(c);
}

/*
 * After any change: answer what is buffered, read again if there is
 * room, and close once the client is gone and everything is answered.
 */
void
dns_conn_check(struct dns_conn *c)
{
	dns_conn_process(c);
	if (c->dc_eof) {
		if (c->dc_queued == 0 && c->dc_pending == 0)
			dns_conn_close(c);
		return;
	}
	/* A full buffer holds a whole message: read again once it went. */
	if (c->dc_queued + c->dc_pending >= DNS_TCP_INFLIGHT ||
	    c->dc_slotwait || c->dc_inlen == sizeof(c->dc_in)) {
		if (c->dc_reading) {
			event_del(&c->dc_rev);
			c->dc_reading = 0;
		}
	} else if (!c->dc_reading) {
		event_add(&c->dc_rev, NULL);
		c->dc_reading = 1;
	}
}

static void
dns_conn_close(struct dns_conn *c)
{
	struct dns_ctx		*cx = c->dc_ctx;
	struct dns_pending	*p, *next;
	struct dns_tcpmsg	*m;

	for (p = RB_MIN(dns_pendings, &cx->cx_pending); p != NULL; p = next) {
		next = RB_NEXT(dns_pendings, &cx->cx_pending, p);
		if (p->dp_conn == c) {
			p->dp_conn = NULL;
			dns_pending_free(p);
		}
	}
	if (c->dc_slotwait)
		TAILQ_REMOVE(&cx->cx_slotwait, c, dc_slotentry);
	event_del(&c->dc_rev);
	event_del(&c->dc_wev);
	evtimer_del(&c->dc_timer);
	close(c->dc_fd);
	while ((m = TAILQ_FIRST(&c->dc_outq)) != NULL) {
		TAILQ_REMOVE(&c->dc_outq, m, tm_entry);
		free(m);
	}
	TAILQ_REMOVE(&cx->cx_conns, c, dc_entry);
	cx->cx_nconns--;
	free(c);
	if (!cx->cx_accepting && cx->cx_started &&
	    !evtimer_pending(&cx->cx_acceptwait, NULL))
		dns_accept_resume(-1, 0, cx);
}

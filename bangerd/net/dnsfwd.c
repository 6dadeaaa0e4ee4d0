/*
 * The DNS responder's forwarding: the upstream resolvers from
 * resolv.conf, and the queries not ours (dns.c says which) sent on to
 * them over UDP or TCP, each tried in turn, their answers relayed back
 * to the client (dnsserve.c delivers them) or SERVFAIL.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "log.h"

static int	 pending_cmp(struct dns_pending *, struct dns_pending *);

static int	 dns_pending_send(struct dns_pending *);
static int	 dns_pending_try(struct dns_pending *);
static void	 dns_pending_next(struct dns_pending *);
static void	 dns_pending_fail(struct dns_pending *);
static void	 dns_pending_done(struct dns_pending *, const uint8_t *,
		    size_t);
static void	 dns_pending_tcp_close(struct dns_pending *);
static void	 dns_pending_timeout(int, short, void *);
static void	 dns_pending_tcp_io(int, short, void *);
static int	 dns_upstream_open(struct dns_upstream *);
static void	 dns_upstream_read(int, short, void *);

RB_GENERATE(dns_pendings, dns_pending, dp_entry, pending_cmp)

static int
pending_cmp(struct dns_pending *a, struct dns_pending *b)
{
	return ((int)a->dp_id - (int)b->dp_id);
}

/*
 * The upstreams: the first DNS_UPSTREAM_MAX numeric nameserver lines of
 * a resolv.conf text (read by the worker before it chrooted), replacing
 * any set before.  Scoped IPv6 addresses, 0.0.0.0 and our own bridge
 * address (a loop) are skipped.  Returns how many there are now.
 */
int
dns_upstreams_from_resolvconf(struct dns_ctx *cx, const char *text)
{
	struct dns_upstream	 up[DNS_UPSTREAM_MAX];
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct in_addr		 a4;
	struct in6_addr		 a6;
	char			*copy, *p, *line, *tok, *addr;
	int			 i, n = 0;

	if (text == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if ((copy = strdup(text)) == NULL)
		return (-1);
	memset(up, 0, sizeof(up));
	for (p = copy; (line = strsep(&p, "\n")) != NULL &&
	    n < DNS_UPSTREAM_MAX; ) {
		line += strspn(line, " \t\r");
		if (*line == '#' || *line == ';')
			continue;
		tok = strsep(&line, " \t\r");
		if (tok == NULL || strcmp(tok, "nameserver") != 0 ||
		    line == NULL)
			continue;
		line += strspn(line, " \t\r");
		addr = strsep(&line, " \t\r#;");
		if (addr == NULL || *addr == '\0')
			continue;
		if (inet_pton(AF_INET, addr, &a4) == 1) {
			if (a4.s_addr == INADDR_ANY ||
			    a4.s_addr == cx->cx_bridge.s_addr)
				continue;
			sin = (struct sockaddr_in *)&up[n].du_ss;
			sin->sin_family = AF_INET;
			sin->sin_port = htons(53);
			sin->sin_addr = a4;
			up[n++].du_len = sizeof(*sin);
		} else if (inet_pton(AF_INET6, addr, &a6) == 1) {
			if (IN6_IS_ADDR_UNSPECIFIED(&a6) ||
			    IN6_IS_ADDR_LINKLOCAL(&a6))
				continue;	/* no scope to reach it by */
			sin6 = (struct sockaddr_in6 *)&up[n].du_ss;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(53);
			sin6->sin6_addr = a6;
			up[n++].du_len = sizeof(*sin6);
		}
	}
	free(copy);

	for (i = 0; i < cx->cx_nup; i++)
		dns_upstream_close(&cx->cx_up[i]);
	for (i = 0; i < DNS_UPSTREAM_MAX; i++) {
		cx->cx_up[i].du_ss = up[i].du_ss;
		cx->cx_up[i].du_len = up[i].du_len;
		cx->cx_up[i].du_fd = -1;
	}
	cx->cx_nup = n;
	return (n);
}

int
dns_upstream_count(const struct dns_ctx *cx)
{
	return (cx->cx_nup);
}

/* Send a client's query upstream, or SERVFAIL if we cannot. */
void
dns_forward(struct dns_ctx *cx, const uint8_t *q, size_t qlen, size_t limit,
    const struct sockaddr_storage *ss, socklen_t sslen, struct dns_conn *c)
{
	struct dns_pending	*p = NULL;
	size_t			 outlen;

	if (cx->cx_npending >= DNS_PENDING_MAX ||
	    (p = calloc(1, sizeof(*p))) == NULL ||
	    (p->dp_query = malloc(qlen)) == NULL) {
		free(p);
		cx->cx_st.ds_servfail++;
		outlen = sizeof(cx->cx_out);
		if (dns_error_reply(cx, q, qlen, LDNS_RCODE_SERVFAIL, limit,
		    cx->cx_out, &outlen) == DNS_REPLY)
			dns_deliver(cx, ss, sslen, c, cx->cx_out, outlen);
		return;
	}
	p->dp_ctx = cx;
	memcpy(p->dp_query, q, qlen);
	p->dp_qlen = qlen;
	p->dp_limit = limit;
	p->dp_tfd = -1;
	if (c != NULL) {
		p->dp_conn = c;
		c->dc_pending++;
	} else {
		memcpy(&p->dp_client, ss, sslen);
		p->dp_clientlen = sslen;
	}
	/* A fresh unpredictable ID, not one in flight. */
	do {
		p->dp_id = arc4random_uniform(65536);
	} while (RB_INSERT(dns_pendings, &cx->cx_pending, p) != NULL);
	cx->cx_npending++;
	evtimer_set(&p->dp_timeout, dns_pending_timeout, p);
	if (dns_pending_send(p) == -1)
		dns_pending_fail(p);
}

/* Try upstreams from dp_upstream on; 0 once one took the query. */
static int
dns_pending_send(struct dns_pending *p)
{
	struct dns_ctx	*cx = p->dp_ctx;
	struct timeval	 tv;

	for (; p->dp_upstream < cx->cx_nup; p->dp_upstream++) {
		if (dns_pending_try(p) == 0) {
			dns_timeval(&tv, DNS_FWD_TIMEOUT_MS);
			evtimer_add(&p->dp_timeout, &tv);
			return (0);
		}
	}
	return (-1);
}

static int
dns_pending_try(struct dns_pending *p)
{
	struct dns_ctx		*cx = p->dp_ctx;
	struct dns_upstream	*up = &cx->cx_up[p->dp_upstream];
	int			 fd;

	if (p->dp_conn == NULL) {
		if (dns_upstream_open(up) == -1)
			return (-1);
		memcpy(cx->cx_out, p->dp_query, p->dp_qlen);
		LDNS_ID_SET(cx->cx_out, p->dp_id);
		if (sendto(up->du_fd, cx->cx_out, p->dp_qlen, MSG_NOSIGNAL,
		    NULL, 0) == -1) {
			log_debug("%s: upstream %d: %s", __func__,
			    p->dp_upstream, strerror(errno));
			return (-1);
		}
		return (0);
	}

	/* A TCP client's query goes on over TCP, on a new connection. */
	if ((fd = socket(up->du_ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("%s: socket", __func__);
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&up->du_ss, up->du_len) == -1 &&
	    errno != EINPROGRESS) {
		log_debug("%s: upstream %d: connect: %s", __func__,
		    p->dp_upstream, strerror(errno));
		close(fd);
		return (-1);
	}
	if ((p->dp_tbuf = malloc(2 + p->dp_qlen)) == NULL) {
		close(fd);
		return (-1);
	}
	p->dp_tbuf[0] = p->dp_qlen >> 8;
	p->dp_tbuf[1] = p->dp_qlen & 0xff;
	memcpy(p->dp_tbuf + 2, p->dp_query, p->dp_qlen);
	LDNS_ID_SET(p->dp_tbuf + 2, p->dp_id);
	p->dp_tlen = 2 + p->dp_qlen;
	p->dp_toff = 0;
	p->dp_treading = 0;
	p->dp_tfd = fd;
	event_set(&p->dp_tev, fd, EV_WRITE | EV_PERSIST, dns_pending_tcp_io, p);
	event_add(&p->dp_tev, NULL);
	return (0);
}

static void
dns_pending_tcp_close(struct dns_pending *p)
{
	if (p->dp_tfd == -1)
		return;
	event_del(&p->dp_tev);
	close(p->dp_tfd);
	p->dp_tfd = -1;
	free(p->dp_tbuf);
	p->dp_tbuf = NULL;
}

/* This upstream failed: on to the next, or SERVFAIL. */
static void
dns_pending_next(struct dns_pending *p)
{
	evtimer_del(&p->dp_timeout);
	dns_pending_tcp_close(p);
	p->dp_upstream++;
	if (dns_pending_send(p) == -1)
		dns_pending_fail(p);
}

static void
dns_pending_fail(struct dns_pending *p)
{
	struct dns_ctx	*cx = p->dp_ctx;
	size_t		 outlen = sizeof(cx->cx_out);

	cx->cx_st.ds_servfail++;
	if (dns_error_reply(cx, p->dp_query, p->dp_qlen, LDNS_RCODE_SERVFAIL,
	    p->dp_limit, cx->cx_out, &outlen) == DNS_REPLY)
		dns_deliver(cx, &p->dp_client, p->dp_clientlen, p->dp_conn,
		    cx->cx_out, outlen);
	dns_pending_free(p);
}

static void
dns_pending_done(struct dns_pending *p, const uint8_t *msg, size_t len)
{
	struct dns_ctx	*cx = p->dp_ctx;

	cx->cx_st.ds_relayed++;
	dns_deliver(cx, &p->dp_client, p->dp_clientlen, p->dp_conn, msg, len);
	dns_pending_free(p);
}

void
dns_pending_free(struct dns_pending *p)
{
	struct dns_ctx	*cx = p->dp_ctx;
	struct timeval	 now = { 0, 0 };

	RB_REMOVE(dns_pendings, &cx->cx_pending, p);
	cx->cx_npending--;
	if (!TAILQ_EMPTY(&cx->cx_slotwait) && cx->cx_started &&
	    !evtimer_pending(&cx->cx_slotev, NULL))
		evtimer_add(&cx->cx_slotev, &now);
	evtimer_del(&p->dp_timeout);
	dns_pending_tcp_close(p);
	if (p->dp_conn != NULL)
		p->dp_conn->dc_pending--;
	free(p->dp_query);
	free(p);
}

static void
dns_pending_timeout(int fd, short ev, void *arg)
{
	struct dns_pending	*p = arg;
	struct dns_conn		*c = p->dp_conn;

	dns_pending_next(p);
	if (c != NULL)
		dns_conn_check(c);
}

static void
dns_pending_tcp_io(int fd, short ev, void *arg)
{
	struct dns_pending	*p = arg;
	struct dns_ctx		*cx = p->dp_ctx;
	struct dns_conn		*c = p->dp_conn;
	size_t			 outlen, mlen;
	ssize_t			 n;

	if (!p->dp_treading) {
		n = send(fd, p->dp_tbuf + p->dp_toff, p->dp_tlen - p->dp_toff,
		    MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1)
			goto next;
		if ((p->dp_toff += n) < p->dp_tlen)
			return;
		free(p->dp_tbuf);
		if ((p->dp_tbuf = malloc(2 + DNS_MSG_MAX)) == NULL)
			goto next;
		p->dp_tlen = 2;		/* the length first */
		p->dp_toff = 0;
		p->dp_treading = 1;
		event_del(&p->dp_tev);
		event_set(&p->dp_tev, fd, EV_READ | EV_PERSIST,
		    dns_pending_tcp_io, p);
		event_add(&p->dp_tev, NULL);
		return;
	}
	n = read(fd, p->dp_tbuf + p->dp_toff, p->dp_tlen - p->dp_toff);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		goto next;
	p->dp_toff += n;
	if (p->dp_tlen == 2 && p->dp_toff == 2) {
		mlen = (p->dp_tbuf[0] << 8) | p->dp_tbuf[1];
		if (mlen < LDNS_HEADER_SIZE)
			goto bad;
		p->dp_tlen = 2 + mlen;
	}
	if (p->dp_toff < p->dp_tlen)
		return;
	if (LDNS_ID_WIRE(p->dp_tbuf + 2) != p->dp_id)
		goto bad;
	outlen = sizeof(cx->cx_out);
	if (dns_relay_reply(cx, p->dp_query, p->dp_qlen, p->dp_tbuf + 2,
	    p->dp_tlen - 2, p->dp_limit, cx->cx_out, &outlen) == -1)
		goto bad;
	dns_pending_done(p, cx->cx_out, outlen);
	goto check;

 bad:
	cx->cx_st.ds_upstream_bad++;
 next:
	dns_pending_next(p);
 check:
	if (c != NULL)
		dns_conn_check(c);
}

static int
dns_upstream_open(struct dns_upstream *up)
{
	int	 fd;

	if (up->du_fd != -1)
		return (0);
	if ((fd = socket(up->du_ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		log_warn("%s: socket", __func__);
		return (-1);
	}
	/* Connected: the kernel drops datagrams from anyone else. */
	if (connect(fd, (struct sockaddr *)&up->du_ss, up->du_len) == -1) {
		log_warn("%s: connect", __func__);
		close(fd);
		return (-1);
	}
	up->du_fd = fd;
	event_set(&up->du_ev, fd, EV_READ | EV_PERSIST, dns_upstream_read, up);
	event_add(&up->du_ev, NULL);
	return (0);
}

void
dns_upstream_close(struct dns_upstream *up)
{
	if (up->du_fd == -1)
		return;
	event_del(&up->du_ev);
	close(up->du_fd);
	up->du_fd = -1;
}

static void
dns_upstream_read(int fd, short ev, void *arg)
{
	struct dns_upstream	*up = arg;
	struct dns_ctx		*cx = up->du_ctx;
	struct dns_pending	 key, *p;
	ssize_t			 n;
	size_t			 outlen;
	int			 i, idx = up - cx->cx_up;

	for (i = 0; i < DNS_UDP_BURST; i++) {
		if ((n = recvfrom(fd, cx->cx_in, sizeof(cx->cx_in), 0, NULL,
		    NULL)) == -1) {
			if (errno == ECONNREFUSED)	/* ICMP: time out */
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("%s: recvfrom", __func__);
			return;
		}
		if (n < LDNS_HEADER_SIZE) {
			cx->cx_st.ds_upstream_bad++;
			continue;
		}
		key.dp_id = LDNS_ID_WIRE(cx->cx_in);
		p = RB_FIND(dns_pendings, &cx->cx_pending, &key);
		/* Late answers from an upstream tried before count too. */
		if (p == NULL || p->dp_conn != NULL || p->dp_upstream < idx) {
			cx->cx_st.ds_upstream_bad++;
			continue;
		}
		outlen = sizeof(cx->cx_out);
		if (dns_relay_reply(cx, p->dp_query, p->dp_qlen, cx->cx_in, n,
		    p->dp_limit, cx->cx_out, &outlen) == -1) {
			cx->cx_st.ds_upstream_bad++;
			continue;
		}
		dns_pending_done(p, cx->cx_out, outlen);
	}
}

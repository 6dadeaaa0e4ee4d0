/*
 * The DNS responder of the net worker.
 *
 * Answers from its own table:
 *	NAME.DOMAIN	A: the VM's address (TTL DNS_TTL); AAAA and other
 *			types: NOERROR, no data; ANY: the A record
 *	DOMAIN		the zone's apex and the name of its name server
 *			(the responder): SOA (MNAME DOMAIN), NS DOMAIN
 *			(with its A as additional data), A the bridge's
 *			address; ANY: all three; other types: no data
 *	the reverse apex, the octet-aligned block holding the subnet (for a
 *			/29 that block's name only): SOA, NS DOMAIN, ANY
 *			both; other types: no data
 *	d.c.b.a.in-addr.arpa, the address in the bridge's subnet:
 *			PTR NAME.DOMAIN (DOMAIN for the bridge's own
 *			address), or NXDOMAIN
 *	anything else under DOMAIN, or under a reverse block inside the
 *			subnet: NXDOMAIN
 * Negative answers carry a synthesized SOA (owner the zone apex, TTL and
 * minimum DNS_NEG_TTL) in the authority section: RFC 2308 resolvers
 * then cache the miss for a few seconds only, rather than not at all
 * (a SOA-less NXDOMAIN, which sends every retry of a name not yet
 * created straight back here) or for the default of a forwarder, so a
 * VM's name appears within DNS_NEG_TTL of being set.  The serial counts
 * the table's changes.
 *
 * Everything else is forwarded as received, with a fresh random ID, to
 * the upstream resolvers (UDP queries over a connected UDP socket per
 * upstream, TCP queries over a new TCP connection), each tried for
 * DNS_FWD_TIMEOUT_MS in turn, then SERVFAIL.  An upstream's answer must
 * carry our ID and the client's question; it goes back with the
 * client's ID, cut down to a header and question with TC set when it
 * exceeds what the client can take over UDP.
 *
 * Malformed messages (short header, responses, names ldns refuses:
 * pointer loops, overlong names and labels, truncated sections) are
 * dropped; an opcode other than QUERY gets NOTIMP, QDCOUNT other than 1
 * FORMERR, more than one OPT record, an OPT not owned by the root or an
 * option whose length runs past its record FORMERR (RFC 6891 6.1.1 and
 * 7), an EDNS version other than 0 BADVERS.  These answers, like all of
 * ours, have RA set when there is an upstream to forward to and an OPT
 * record when the query had one.  All are counted in ds_malformed.
 *
 * TCP clients (RFC 7766) may pipeline DNS_TCP_INFLIGHT queries on a
 * connection, DNS_TCP_MAX connections at once, of which DNS_TCP_PER_ADDR
 * (cx_tcp_peraddr) from one address: more from it are taken and closed
 * at once, so a few addresses cannot hold every slot.  Deadlines run per
 * message, never restarted by a byte: a query must arrive whole within
 * DNS_TCP_MSG_MS (cx_tcp_msg) of its first byte, and a connection with
 * no query coming and nothing to read is closed DNS_TCP_IDLE_MS
 * (cx_tcp_idle) after its last query taken or answer written; a message
 * dropped as malformed restarts neither.  Waiting for an upstream is not
 * the client's time.  dns_set_tcp_limits() changes the three.
 *
 * System calls once started (for the net worker's seccomp allow-list),
 * beyond libevent's epoll and clock calls: recvfrom, sendto, read,
 * close, fcntl (F_GETFL/F_SETFL on the two listening sockets),
 * accept4, socket (AF_INET or AF_INET6, SOCK_DGRAM or SOCK_STREAM, with
 * SOCK_NONBLOCK|SOCK_CLOEXEC), connect, getrandom (query IDs).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "log.h"
#include "validate.h"

#define DNS_UDP_BURST		64	/* datagrams read per wakeup */
#define DNS_SOA_REFRESH		3600
#define DNS_SOA_RETRY		600
#define DNS_SOA_EXPIRE		86400

/* What dns_eval() decided. */
#define DNS_DROP		-1
#define DNS_REPLY		0
#define DNS_FORWARD		1

/* Where a name under in-addr.arpa falls. */
#define REV_NOTOURS		0	/* someone else's: forward */
#define REV_ADDR		1	/* an address in our subnet */
#define REV_BLOCK		2	/* a block inside our subnet: no data */
#define REV_NXDOMAIN		3	/* under a block of ours: no name */

struct dns_name {
	RB_ENTRY(dns_name)	 dn_byname;
	RB_ENTRY(dns_name)	 dn_byaddr;
	char			 dn_name[VALID_NAME_MAX + 1];
	uint32_t		 dn_addr;		/* host byte order */
};
RB_HEAD(dns_names, dns_name);
RB_HEAD(dns_addrs, dns_name);

struct dns_upstream {
	struct dns_ctx		*du_ctx;
	struct sockaddr_storage	 du_ss;
	socklen_t		 du_len;
	int			 du_fd;		/* connected UDP, or -1 */
	struct event		 du_ev;
};

struct dns_tcpmsg {
	TAILQ_ENTRY(dns_tcpmsg)	 tm_entry;
	size_t			 tm_len;	/* with the length prefix */
	size_t			 tm_off;
	uint8_t			 tm_data[];
};

/* A client's TCP connection. */
struct dns_conn {
	TAILQ_ENTRY(dns_conn)	 dc_entry;
	struct dns_ctx		*dc_ctx;
	int			 dc_fd;
	struct event		 dc_rev;
	struct event		 dc_wev;
	struct event		 dc_timer;
	int			 dc_msgclock;	/* dc_timer: a query's deadline,
						   not the idle limit */
	struct sockaddr_storage	 dc_peer;
	int			 dc_reading;	/* dc_rev is added */
	int			 dc_writing;	/* dc_wev is added */
	int			 dc_eof;
	size_t			 dc_queued;	/* answers not yet written */
	size_t			 dc_pending;	/* forwarded, not answered */
	/* waiting for a forwarding slot (all DNS_PENDING_MAX are in use) */
	int			 dc_slotwait;
	TAILQ_ENTRY(dns_conn)	 dc_slotentry;
	TAILQ_HEAD(, dns_tcpmsg) dc_outq;
	size_t			 dc_inlen;
	uint8_t			 dc_in[2 + DNS_MSG_MAX];
};

/* A forwarded query. */
struct dns_pending {
	RB_ENTRY(dns_pending)	 dp_entry;
	struct dns_ctx		*dp_ctx;
	uint16_t		 dp_id;		/* ours, to the upstream */
	uint8_t			*dp_query;	/* the client's, as received */
	size_t			 dp_qlen;
	size_t			 dp_limit;	/* what the client takes */
	int			 dp_upstream;	/* index being tried */
	struct sockaddr_storage	 dp_client;	/* UDP client */
	socklen_t		 dp_clientlen;
	struct dns_conn		*dp_conn;	/* TCP client, else NULL */
	struct event		 dp_timeout;
	/* forwarding over TCP */
	int			 dp_tfd;
	struct event		 dp_tev;
	int			 dp_treading;
	uint8_t			*dp_tbuf;
	size_t			 dp_tlen;	/* to send, or to read */
	size_t			 dp_toff;
};
RB_HEAD(dns_pendings, dns_pending);

/* An answer's records by section (any may be NULL): dns_build() takes them. */
struct dns_rrs {
	ldns_rr_list		*rr_an;
	ldns_rr_list		*rr_ns;
	ldns_rr_list		*rr_ad;
};

struct dns_ctx {
	ldns_rdf		*cx_domain;
	ldns_rdf		*cx_hostmaster;	/* SOA RNAME */
	ldns_rdf		*cx_inaddr;	/* in-addr.arpa. */
	ldns_rdf		*cx_revapex;	/* reverse SOA owner */
	char			 cx_domainstr[LDNS_MAX_DOMAINLEN + 1];
	uint32_t		 cx_net;	/* host byte order */
	uint32_t		 cx_mask;
	int			 cx_prefix;
	uint32_t		 cx_serial;
	struct dns_names	 cx_names;
	struct dns_addrs	 cx_addrs;
	struct dns_upstream	 cx_up[DNS_UPSTREAM_MAX];
	int			 cx_nup;
	struct in_addr		 cx_bridge;
	struct dns_stats	 cx_st;

	int			 cx_started;
	int			 cx_udpfd;
	int			 cx_tcpfd;
	struct event		 cx_udpev;
	struct event		 cx_tcpev;
	struct event		 cx_acceptwait;
	int			 cx_accepting;
	struct dns_pendings	 cx_pending;
	size_t			 cx_npending;
	/* TCP clients waiting for a forwarding slot, and their wake-up */
	TAILQ_HEAD(, dns_conn)	 cx_slotwait;
	struct event		 cx_slotev;
	TAILQ_HEAD(, dns_conn)	 cx_conns;
	size_t			 cx_nconns;
	int			 cx_tcp_idle;	/* ms */
	int			 cx_tcp_msg;	/* ms */
	int			 cx_tcp_peraddr;
	uint8_t			 cx_in[DNS_MSG_MAX];
	uint8_t			 cx_out[DNS_MSG_MAX];
};

static int	 name_cmp(struct dns_name *, struct dns_name *);
static int	 addr_cmp(struct dns_name *, struct dns_name *);
static int	 pending_cmp(struct dns_pending *, struct dns_pending *);
RB_PROTOTYPE(dns_names, dns_name, dn_byname, name_cmp)
RB_PROTOTYPE(dns_addrs, dns_name, dn_byaddr, addr_cmp)
RB_PROTOTYPE(dns_pendings, dns_pending, dp_entry, pending_cmp)

static int	 dns_eval(struct dns_ctx *, const uint8_t *, size_t, int,
		    uint8_t *, size_t *, size_t *);
static int	 dns_zone(struct dns_ctx *, const ldns_pkt *, const ldns_rr *,
		    const ldns_rdf *, int (*)(struct dns_ctx *,
		    const ldns_rr *, struct dns_rrs *), size_t, uint8_t *,
		    size_t *);
static int	 dns_local(struct dns_ctx *, const ldns_rr *, struct dns_rrs *);
static int	 dns_reverse(struct dns_ctx *, const ldns_rr *,
		    struct dns_rrs *);
static int	 dns_apex(struct dns_ctx *, const ldns_rdf *, const ldns_rdf *,
		    ldns_rr_type, struct dns_rrs *);
static int	 dns_rev_classify(const struct dns_ctx *, const ldns_rdf *,
		    uint32_t *, int *);
static int	 dns_build(struct dns_ctx *, const ldns_pkt *, int, int,
		    struct dns_rrs *, int, size_t, uint8_t *, size_t *);
static void	 dns_rrs_free(struct dns_rrs *);
static int	 dns_push(ldns_rr_list *, ldns_rr *);
static int	 dns_build_hdr(struct dns_ctx *, const uint8_t *,
		    const ldns_pkt *, int, uint8_t *, size_t *);
static int	 dns_opt_scan(const uint8_t *, size_t, int *, int *, int *);
static int	 dns_skip_name(const uint8_t *, size_t, size_t *);
static int	 dns_is_root(const uint8_t *, size_t, size_t);
static int	 dns_error_reply(struct dns_ctx *, const uint8_t *, size_t, int,
		    size_t, uint8_t *, size_t *);
static int	 dns_wire_out(ldns_pkt *, size_t, uint8_t *, size_t *);
static size_t	 dns_question_len(const uint8_t *, size_t);
static int	 dns_casecmp(const uint8_t *, const uint8_t *, size_t);
static size_t	 dns_udp_limit(const ldns_pkt *);
static ldns_rr	*dns_soa(struct dns_ctx *, const ldns_rdf *);
static ldns_rr	*dns_rr_one(const ldns_rdf *, ldns_rr_type, ldns_rdf *);
static ldns_rr	*dns_rr_a(const ldns_rdf *, uint32_t);
static ldns_rr	*dns_rr_ptr(struct dns_ctx *, const ldns_rdf *, const char *);
static ldns_rr	*dns_rr_ns(struct dns_ctx *, const ldns_rdf *);
static int	 dns_label(const ldns_rdf *, int, char *, size_t);
static struct dns_name *dns_byname(struct dns_ctx *, const char *);
static struct dns_name *dns_byaddr(struct dns_ctx *, uint32_t);

static void	 dns_udp_read(int, short, void *);
static void	 dns_tcp_accept(int, short, void *);
static void	 dns_accept_resume(int, short, void *);
static void	 dns_accept_pause(struct dns_ctx *, int);
static void	 dns_forward(struct dns_ctx *, const uint8_t *, size_t, size_t,
		    const struct sockaddr_storage *, socklen_t,
		    struct dns_conn *);
static int	 dns_pending_send(struct dns_pending *);
static int	 dns_pending_try(struct dns_pending *);
static void	 dns_pending_next(struct dns_pending *);
static void	 dns_pending_fail(struct dns_pending *);
static void	 dns_pending_done(struct dns_pending *, const uint8_t *,
		    size_t);
static void	 dns_pending_free(struct dns_pending *);
static void	 dns_pending_tcp_close(struct dns_pending *);
static void	 dns_pending_timeout(int, short, void *);
static void	 dns_slot_wake(int, short, void *);
static void	 dns_pending_tcp_io(int, short, void *);
static void	 dns_deliver(struct dns_ctx *, const struct sockaddr_storage *,
		    socklen_t, struct dns_conn *, const uint8_t *, size_t);
static int	 dns_upstream_open(struct dns_upstream *);
static void	 dns_upstream_close(struct dns_upstream *);
static void	 dns_upstream_read(int, short, void *);
static void	 dns_conn_read(int, short, void *);
static void	 dns_conn_write(int, short, void *);
static void	 dns_conn_timeout(int, short, void *);
static void	 dns_conn_arm(struct dns_conn *, int);
static size_t	 dns_conns_from(struct dns_ctx *,
		    const struct sockaddr_storage *);
static void	 dns_conn_process(struct dns_conn *);
static void	 dns_conn_enqueue(struct dns_conn *, const uint8_t *, size_t);
static void	 dns_conn_check(struct dns_conn *);
static void	 dns_conn_close(struct dns_conn *);
static void	 dns_timeval(struct timeval *, int);

RB_GENERATE(dns_names, dns_name, dn_byname, name_cmp)
RB_GENERATE(dns_addrs, dns_name, dn_byaddr, addr_cmp)
RB_GENERATE(dns_pendings, dns_pending, dp_entry, pending_cmp)

static int
name_cmp(struct dns_name *a, struct dns_name *b)
{
	return (strcmp(a->dn_name, b->dn_name));
}

static int
addr_cmp(struct dns_name *a, struct dns_name *b)
{
	if (a->dn_addr != b->dn_addr)
		return (a->dn_addr < b->dn_addr ? -1 : 1);
	return (strcmp(a->dn_name, b->dn_name));
}

static int
pending_cmp(struct dns_pending *a, struct dns_pending *b)
{
	return ((int)a->dp_id - (int)b->dp_id);
}

static void
dns_timeval(struct timeval *tv, int ms)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/*
 * domain: the VMs' domain ("vm.internal"); bridge and prefix: the
 * bridge's address and its subnet, whose reverse zone we answer.
 */
struct dns_ctx *
dns_new(const char *domain, struct in_addr bridge, int prefix)
{
	struct dns_ctx	*cx;
	char		 buf[LDNS_MAX_DOMAINLEN + 32];
	uint32_t	 net;
	size_t		 len;
	int		 i, octets;

	if (domain == NULL || valid_prefix_num(prefix, NULL) == -1) {
		errno = EINVAL;
		return (NULL);
	}
	len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > LDNS_MAX_DOMAINLEN - 2) {
		errno = EINVAL;
		return (NULL);
	}
	if ((cx = calloc(1, sizeof(*cx))) == NULL)
		return (NULL);
	RB_INIT(&cx->cx_names);
	RB_INIT(&cx->cx_addrs);
	RB_INIT(&cx->cx_pending);
	TAILQ_INIT(&cx->cx_slotwait);
	TAILQ_INIT(&cx->cx_conns);
	cx->cx_udpfd = cx->cx_tcpfd = -1;
	cx->cx_serial = 1;
	cx->cx_tcp_idle = DNS_TCP_IDLE_MS;
	cx->cx_tcp_msg = DNS_TCP_MSG_MS;
	cx->cx_tcp_peraddr = DNS_TCP_PER_ADDR;
	cx->cx_bridge = bridge;
	cx->cx_prefix = prefix;
	cx->cx_mask = prefix == 0 ? 0 : 0xffffffffU << (32 - prefix);
	cx->cx_net = net = ntohl(bridge.s_addr) & cx->cx_mask;
	for (i = 0; i < DNS_UPSTREAM_MAX; i++) {
		cx->cx_up[i].du_ctx = cx;
		cx->cx_up[i].du_fd = -1;
	}
	memcpy(cx->cx_domainstr, domain, len);
	cx->cx_domainstr[len] = '\0';
	for (i = 0; cx->cx_domainstr[i] != '\0'; i++)
		if (cx->cx_domainstr[i] >= 'A' && cx->cx_domainstr[i] <= 'Z')
			cx->cx_domainstr[i] += 'a' - 'A';

	if ((cx->cx_domain = ldns_dname_new_frm_str(cx->cx_domainstr)) ==
	    NULL)
		goto bad;
	snprintf(buf, sizeof(buf), "hostmaster.%s", cx->cx_domainstr);
	if ((cx->cx_hostmaster = ldns_dname_new_frm_str(buf)) == NULL)
		goto bad;
	if ((cx->cx_inaddr = ldns_dname_new_frm_str("in-addr.arpa.")) == NULL)
		goto bad;
	/* The reverse SOA: the octet-aligned block holding the subnet. */
	octets = prefix / 8;
	buf[0] = '\0';
	for (i = octets - 1; i >= 0; i--) {
		len = strlen(buf);
		snprintf(buf + len, sizeof(buf) - len, "%u.",
		    (net >> (24 - 8 * i)) & 0xff);
	}
	strlcat(buf, "in-addr.arpa.", sizeof(buf));
	if ((cx->cx_revapex = ldns_dname_new_frm_str(buf)) == NULL)
		goto bad;
	return (cx);

 bad:
	dns_free(cx);
	errno = EINVAL;
	return (NULL);
}

void
dns_free(struct dns_ctx *cx)
{
	struct dns_name	*n, *next;

	if (cx == NULL)
		return;
	dns_stop(cx);
	for (n = RB_MIN(dns_names, &cx->cx_names); n != NULL; n = next) {
		next = RB_NEXT(dns_names, &cx->cx_names, n);
		RB_REMOVE(dns_names, &cx->cx_names, n);
		RB_REMOVE(dns_addrs, &cx->cx_addrs, n);
		free(n);
	}
	ldns_rdf_deep_free(cx->cx_domain);
	ldns_rdf_deep_free(cx->cx_hostmaster);
	ldns_rdf_deep_free(cx->cx_inaddr);
	ldns_rdf_deep_free(cx->cx_revapex);
	free(cx);
}

const struct dns_stats *
dns_stats(const struct dns_ctx *cx)
{
	return (&cx->cx_st);
}

static struct dns_name *
dns_byname(struct dns_ctx *cx, const char *name)
{
	struct dns_name	 key;

	if (strlcpy(key.dn_name, name, sizeof(key.dn_name)) >=
	    sizeof(key.dn_name))
		return (NULL);
	return (RB_FIND(dns_names, &cx->cx_names, &key));
}

static struct dns_name *
dns_byaddr(struct dns_ctx *cx, uint32_t addr)
{
	struct dns_name	 key, *n;

	key.dn_addr = addr;
	key.dn_name[0] = '\0';
	n = RB_NFIND(dns_addrs, &cx->cx_addrs, &key);
	return (n != NULL && n->dn_addr == addr ? n : NULL);
}

/* Point NAME.DOMAIN at addr, replacing what it had. */
int
dns_set(struct dns_ctx *cx, const char *name, struct in_addr addr)
{
	struct dns_name	*n;

	if (name == NULL || valid_name(name, strnlen(name, VALID_NAME_MAX + 1),
	    NULL) == -1) {
		errno = EINVAL;
		return (-1);
	}
	if ((n = dns_byname(cx, name)) != NULL) {
		RB_REMOVE(dns_addrs, &cx->cx_addrs, n);
	} else {
		if ((n = calloc(1, sizeof(*n))) == NULL)
			return (-1);
		strlcpy(n->dn_name, name, sizeof(n->dn_name));
		RB_INSERT(dns_names, &cx->cx_names, n);
	}
	n->dn_addr = ntohl(addr.s_addr);
	RB_INSERT(dns_addrs, &cx->cx_addrs, n);
	cx->cx_serial++;
	return (0);
}

int
dns_unset(struct dns_ctx *cx, const char *name)
{
	struct dns_name	*n;

	if (name == NULL || (n = dns_byname(cx, name)) == NULL) {
		errno = ENOENT;
		return (-1);
	}
	RB_REMOVE(dns_names, &cx->cx_names, n);
	RB_REMOVE(dns_addrs, &cx->cx_addrs, n);
	free(n);
	cx->cx_serial++;
	return (0);
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
 * The pure part: what to do with one message from a client.  Returns
 * -1 to drop it, 0 with *forward 0 and the answer in out (*outlen is
 * its capacity on entry, its length on return), or 0 with *forward 1 to
 * forward the query upstream.  dns_answer() is the UDP path: answers
 * over the client's size (512 without EDNS) come back truncated with
 * TC set.  dns_answer_tcp() is the TCP path.
 */
int
dns_answer(struct dns_ctx *cx, const uint8_t *q, size_t qlen, uint8_t *out,
    size_t *outlen, int *forward)
{
	size_t	 limit;
	int	 r;

	r = dns_eval(cx, q, qlen, 0, out, outlen, &limit);
	*forward = r == DNS_FORWARD;
	return (r == DNS_DROP ? -1 : 0);
}

int
dns_answer_tcp(struct dns_ctx *cx, const uint8_t *q, size_t qlen,
    uint8_t *out, size_t *outlen, int *forward)
{
	size_t	 limit;
	int	 r;

	r = dns_eval(cx, q, qlen, 1, out, outlen, &limit);
	*forward = r == DNS_FORWARD;
	return (r == DNS_DROP ? -1 : 0);
}

/* What a client may receive over UDP: 512, or its EDNS size up to ours. */
static size_t
dns_udp_limit(const ldns_pkt *q)
{
	size_t	 size;

	if (!ldns_pkt_edns(q))
		return (DNS_UDP_MIN);
	size = ldns_pkt_edns_udp_size(q);
	if (size < DNS_UDP_MIN)
		return (DNS_UDP_MIN);
	return (size > DNS_EDNS_SIZE ? DNS_EDNS_SIZE : size);
}

static int
dns_eval(struct dns_ctx *cx, const uint8_t *q, size_t qlen, int tcp,
    uint8_t *out, size_t *outlen, size_t *limitp)
{
	ldns_pkt	*pkt = NULL;
	const ldns_rr	*qrr;
	const ldns_rdf	*qname;
	ldns_rr_class	 qclass;
	size_t		 limit;
	int		 r, nopt, ownerbad, optlenbad, optbad;

	cx->cx_st.ds_queries++;
	*limitp = tcp ? DNS_MSG_MAX : DNS_UDP_MIN;
	if (qlen < LDNS_HEADER_SIZE || LDNS_QR_WIRE(q)) {
		/* Never answer an answer: that is how loops start. */
		cx->cx_st.ds_malformed++;
		return (DNS_DROP);
	}
	if (ldns_wire2pkt(&pkt, q, qlen) != LDNS_STATUS_OK) {
		cx->cx_st.ds_malformed++;
		/* Other opcodes' messages need not parse as a query's. */
		if (LDNS_OPCODE_WIRE(q) != LDNS_PACKET_QUERY)
			return (dns_build_hdr(cx, q, NULL, LDNS_RCODE_NOTIMPL,
			    out, outlen));
		return (DNS_DROP);
	}
	optbad = dns_opt_scan(q, qlen, &nopt, &ownerbad, &optlenbad) == -1;
	/* ldns counts OPT records in a byte: 256 of them read as none. */
	if (nopt > 0 && !ldns_pkt_edns(pkt))
		ldns_pkt_set_edns_udp_size(pkt, DNS_UDP_MIN);
	limit = tcp ? DNS_MSG_MAX : dns_udp_limit(pkt);
	*limitp = limit;
	if (LDNS_OPCODE_WIRE(q) != LDNS_PACKET_QUERY) {
		cx->cx_st.ds_malformed++;
		r = dns_build_hdr(cx, q, pkt, LDNS_RCODE_NOTIMPL, out, outlen);
		goto done;
	}
	if (ldns_pkt_qdcount(pkt) != 1 ||
	    ldns_rr_list_rr_count(ldns_pkt_question(pkt)) != 1) {
		cx->cx_st.ds_malformed++;
		r = dns_build_hdr(cx, q, pkt, LDNS_RCODE_FORMERR, out, outlen);
		goto done;
	}
	/*
	 * RFC 6891 6.1.1 and 7: one OPT at most, owned by the root; its
	 * options are read only for the version we speak, so BADVERS comes
	 * before a bad option length.
	 */
	if (optbad || nopt > 1 || ownerbad || (ldns_pkt_edns(pkt) &&
	    ldns_pkt_edns_version(pkt) == 0 && optlenbad)) {
		cx->cx_st.ds_malformed++;
		r = dns_build(cx, pkt, LDNS_RCODE_FORMERR, 0, NULL, 0,
		    limit, out, outlen);
		goto done;
	}
	if (ldns_pkt_edns(pkt) && ldns_pkt_edns_version(pkt) != 0) {
		cx->cx_st.ds_malformed++;
		r = dns_build(cx, pkt, 16 /* BADVERS */, 0, NULL, 0,
		    limit, out, outlen);
		goto done;
	}
	qrr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	qname = ldns_rr_owner(qrr);
	qclass = ldns_rr_get_class(qrr);

	if (ldns_dname_compare(qname, cx->cx_domain) == 0 ||
	    ldns_dname_is_subdomain(qname, cx->cx_domain)) {
		if (qclass != LDNS_RR_CLASS_IN && qclass != LDNS_RR_CLASS_ANY)
			goto refused;
		r = dns_zone(cx, pkt, qrr, cx->cx_domain, dns_local, limit,
		    out, outlen);
		goto done;
	}
	if (dns_rev_classify(cx, qname, NULL, NULL) != REV_NOTOURS) {
		if (qclass != LDNS_RR_CLASS_IN && qclass != LDNS_RR_CLASS_ANY)
			goto refused;
		r = dns_zone(cx, pkt, qrr, cx->cx_revapex, dns_reverse,
		    limit, out, outlen);
		goto done;
	}
	if (qclass == LDNS_RR_CLASS_IN && cx->cx_nup > 0) {
		cx->cx_st.ds_forwarded++;
		r = DNS_FORWARD;
		goto done;
	}

 refused:
	/* Not ours, and no one to ask or not a class we pass on. */
	cx->cx_st.ds_refused++;
	r = dns_build(cx, pkt, LDNS_RCODE_REFUSED, 0, NULL, 0, limit, out,
	    outlen);
 done:
	ldns_pkt_free(pkt);
	return (r);
}

/*
 * An answer from our zone with apex APEX, zone transfers refused.
 * lookup gives the rcode and fills the sections, or -1 out of memory;
 * without an answer the zone's SOA goes in the authority section.
 */
static int
dns_zone(struct dns_ctx *cx, const ldns_pkt *q, const ldns_rr *qrr,
    const ldns_rdf *apex, int (*lookup)(struct dns_ctx *, const ldns_rr *,
    struct dns_rrs *), size_t limit, uint8_t *out, size_t *outlen)
{
	ldns_rr_type	 qtype = ldns_rr_get_type(qrr);
	struct dns_rrs	 rrs;
	int		 rcode;

	if (qtype == LDNS_RR_TYPE_AXFR || qtype == LDNS_RR_TYPE_IXFR) {
		cx->cx_st.ds_refused++;
		return (dns_build(cx, q, LDNS_RCODE_REFUSED, 1, NULL, 0, limit,
		    out, outlen));
	}
	rrs.rr_an = ldns_rr_list_new();
	rrs.rr_ns = ldns_rr_list_new();
	rrs.rr_ad = ldns_rr_list_new();
	if (rrs.rr_an == NULL || rrs.rr_ns == NULL || rrs.rr_ad == NULL ||
	    (rcode = lookup(cx, qrr, &rrs)) == -1 ||
	    (ldns_rr_list_rr_count(rrs.rr_an) == 0 &&
	    dns_push(rrs.rr_ns, dns_soa(cx, apex)) == -1)) {
		dns_rrs_free(&rrs);
		cx->cx_st.ds_dropped++;
		return (DNS_DROP);
	}
	cx->cx_st.ds_answered++;
	if (rcode == LDNS_RCODE_NXDOMAIN)
		cx->cx_st.ds_nxdomain++;
	return (dns_build(cx, q, rcode, 1, &rrs, 0, limit, out, outlen));
}

/*
 * At a zone's apex: the SOA, the NS naming the responder (DOMAIN, the
 * SOA's MNAME too) and, with the NS, the responder's address as
 * additional data; at DOMAIN also that address as its A record.
 */
static int
dns_apex(struct dns_ctx *cx, const ldns_rdf *qname, const ldns_rdf *apex,
    ldns_rr_type qtype, struct dns_rrs *rrs)
{
	uint32_t	 bridge = ntohl(cx->cx_bridge.s_addr);
	int		 any = qtype == LDNS_RR_TYPE_ANY;

	if ((any || qtype == LDNS_RR_TYPE_SOA) &&
	    dns_push(rrs->rr_an, dns_soa(cx, apex)) == -1)
		return (-1);
	if ((any || qtype == LDNS_RR_TYPE_NS) &&
	    dns_push(rrs->rr_an, dns_rr_ns(cx, qname)) == -1)
		return (-1);
	if (apex == cx->cx_domain && (any || qtype == LDNS_RR_TYPE_A) &&
	    dns_push(rrs->rr_an, dns_rr_a(qname, bridge)) == -1)
		return (-1);
	if (qtype == LDNS_RR_TYPE_NS &&
	    dns_push(rrs->rr_ad, dns_rr_a(cx->cx_domain, bridge)) == -1)
		return (-1);
	return (0);
}

/* NAME.DOMAIN, DOMAIN itself and anything else under it. */
static int
dns_local(struct dns_ctx *cx, const ldns_rr *qrr, struct dns_rrs *rrs)
{
	const ldns_rdf	*qname = ldns_rr_owner(qrr);
	ldns_rr_type	 qtype = ldns_rr_get_type(qrr);
	struct dns_name	*n;
	char		 label[VALID_NAME_MAX + 1];
	int		 nd, nq;

	nd = ldns_dname_label_count(cx->cx_domain);
	nq = ldns_dname_label_count(qname);
	if (nq == nd) {
		if (dns_apex(cx, qname, cx->cx_domain, qtype, rrs) == -1)
			return (-1);
	} else if (nq == nd + 1 &&
	    dns_label(qname, 0, label, sizeof(label)) == 0 &&
	    (n = dns_byname(cx, label)) != NULL) {
		if ((qtype == LDNS_RR_TYPE_A || qtype == LDNS_RR_TYPE_ANY) &&
		    dns_push(rrs->rr_an, dns_rr_a(qname, n->dn_addr)) == -1)
			return (-1);
	} else
		return (LDNS_RCODE_NXDOMAIN);
	return (LDNS_RCODE_NOERROR);
}

/*
 * Names under in-addr.arpa that dns_rev_classify() says are ours; the
 * bridge's address is the responder's, DOMAIN.
 */
static int
dns_reverse(struct dns_ctx *cx, const ldns_rr *qrr, struct dns_rrs *rrs)
{
	const ldns_rdf	*qname = ldns_rr_owner(qrr);
	ldns_rr_type	 qtype = ldns_rr_get_type(qrr);
	struct dns_name	*n = NULL;
	ldns_rr		*ptr;
	uint32_t	 addr = 0;
	int		 apex = 0;

	switch (dns_rev_classify(cx, qname, &addr, &apex)) {
	case REV_ADDR:
		if (addr != ntohl(cx->cx_bridge.s_addr) &&
		    (n = dns_byaddr(cx, addr)) == NULL)
			return (LDNS_RCODE_NXDOMAIN);
		if (qtype == LDNS_RR_TYPE_PTR || qtype == LDNS_RR_TYPE_ANY) {
			ptr = n == NULL ? dns_rr_one(qname, LDNS_RR_TYPE_PTR,
			    ldns_rdf_clone(cx->cx_domain)) :
			    dns_rr_ptr(cx, qname, n->dn_name);
			if (dns_push(rrs->rr_an, ptr) == -1)
				return (-1);
		}
		return (LDNS_RCODE_NOERROR);
	case REV_BLOCK:
		if (apex && dns_apex(cx, qname, cx->cx_revapex, qtype,
		    rrs) == -1)
			return (-1);
		return (LDNS_RCODE_NOERROR);
	default:
		return (LDNS_RCODE_NXDOMAIN);
	}
}

/*
 * Read the octets of a reverse name from the right.  With m octets
 * read, the name is ours if 8m covers our prefix and the block lies in
 * our subnet; a /29's reverse names are then only its eight addresses,
 * a /16's also the 256 blocks of a /24 (empty non-terminals: no data),
 * and whatever else lies under a block of ours does not exist.
 */
static int
dns_rev_classify(const struct dns_ctx *cx, const ldns_rdf *qname,
    uint32_t *addrp, int *apexp)
{
	uint32_t	 a = 0, v;
	uint8_t		*d;
	ldns_rdf	*l;
	int		 nl, i, j, m = 0, len, ok;

	if (!ldns_dname_is_subdomain(qname, cx->cx_inaddr))
		return (REV_NOTOURS);
	nl = ldns_dname_label_count(qname) - 2;	/* left of in-addr.arpa */
	for (i = nl - 1; i >= 0 && m < 4; i--) {
		if ((l = ldns_dname_label(qname, i)) == NULL)
			return (REV_NOTOURS);
		d = ldns_rdf_data(l);
		len = d[0];
		ok = len >= 1 && len <= 3 && !(len > 1 && d[1] == '0');
		for (v = 0, j = 1; ok && j <= len; j++) {
			if (d[j] < '0' || d[j] > '9')
				ok = 0;
			else
				v = v * 10 + (d[j] - '0');
		}
		ldns_rdf_deep_free(l);
		if (!ok || v > 255)
			break;
		a |= v << (24 - 8 * m);
		m++;
	}
	/*
	 * A subnet that is not octet-aligned (a /29): the block holding it
	 * is the apex of its SOA, so that name is ours too, but nothing
	 * else in the block outside the subnet.
	 */
	if (i < 0 && cx->cx_prefix % 8 != 0 && m == cx->cx_prefix / 8 &&
	    a == (cx->cx_net & (0xffffffffU << (32 - 8 * m)))) {
		if (apexp != NULL)
			*apexp = 1;
		return (REV_BLOCK);
	}
	if (8 * m < cx->cx_prefix || (a & cx->cx_mask) != cx->cx_net)
		return (REV_NOTOURS);
	if (i >= 0)
		return (REV_NXDOMAIN);
	if (m == 4) {
		if (addrp != NULL)
			*addrp = a;
		return (REV_ADDR);
	}
	if (apexp != NULL)
		*apexp = cx->cx_prefix % 8 == 0 && m == cx->cx_prefix / 8;
	return (REV_BLOCK);
}

/* Label idx of a name, lowercased, if it may be a VM name at all. */
static int
dns_label(const ldns_rdf *name, int idx, char *buf, size_t size)
{
	ldns_rdf	*l;
	uint8_t		*d;
	size_t		 len, i;
	int		 ret = 0;

	if ((l = ldns_dname_label(name, idx)) == NULL)
		return (-1);
	d = ldns_rdf_data(l);
	len = d[0];
	if (len == 0 || len >= size)
		ret = -1;
	for (i = 0; ret == 0 && i < len; i++) {
		buf[i] = d[i + 1];
		if (buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] += 'a' - 'A';
		if (buf[i] == '\0')
			ret = -1;
	}
	if (ret == 0)
		buf[len] = '\0';
	ldns_rdf_deep_free(l);
	return (ret);
}

static ldns_rr *
dns_soa(struct dns_ctx *cx, const ldns_rdf *apex)
{
	ldns_rr		*rr;
	ldns_rdf	*f[7];
	int		 i;

	if ((rr = ldns_rr_new()) == NULL)
		return (NULL);
	ldns_rr_set_owner(rr, ldns_rdf_clone(apex));
	ldns_rr_set_type(rr, LDNS_RR_TYPE_SOA);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, DNS_NEG_TTL);
	f[0] = ldns_rdf_clone(cx->cx_domain);
	f[1] = ldns_rdf_clone(cx->cx_hostmaster);
	f[2] = ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, cx->cx_serial);
	f[3] = ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, DNS_SOA_REFRESH);
	f[4] = ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, DNS_SOA_RETRY);
	f[5] = ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, DNS_SOA_EXPIRE);
	f[6] = ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, DNS_NEG_TTL);
	for (i = 0; i < 7; i++)
		if (f[i] == NULL || !ldns_rr_push_rdf(rr, f[i]))
			goto fail;
	if (ldns_rr_owner(rr) == NULL)
		goto fail;
	return (rr);

 fail:
	for (; i < 7; i++)
		ldns_rdf_deep_free(f[i]);
	ldns_rr_free(rr);
	return (NULL);
}

/* An IN record of OWNER, of type TYPE with rdata rd (consumed). */
static ldns_rr *
dns_rr_one(const ldns_rdf *owner, ldns_rr_type type, ldns_rdf *rd)
{
	ldns_rr		*rr;

	if (rd == NULL)
		return (NULL);
	if ((rr = ldns_rr_new()) == NULL) {
		ldns_rdf_deep_free(rd);
		return (NULL);
	}
	ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, DNS_TTL);
	if (ldns_rr_owner(rr) == NULL || !ldns_rr_push_rdf(rr, rd)) {
		ldns_rdf_deep_free(rd);
		ldns_rr_free(rr);
		return (NULL);
	}
	return (rr);
}

static ldns_rr *
dns_rr_a(const ldns_rdf *owner, uint32_t addr)
{
	uint32_t	 a = htonl(addr);

	return (dns_rr_one(owner, LDNS_RR_TYPE_A,
	    ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof(a), &a)));
}

static ldns_rr *
dns_rr_ptr(struct dns_ctx *cx, const ldns_rdf *owner, const char *name)
{
	char		 buf[LDNS_MAX_DOMAINLEN + VALID_NAME_MAX + 3];

	snprintf(buf, sizeof(buf), "%s.%s.", name, cx->cx_domainstr);
	return (dns_rr_one(owner, LDNS_RR_TYPE_PTR,
	    ldns_dname_new_frm_str(buf)));
}

/* The responder's name server record: DOMAIN. */
static ldns_rr *
dns_rr_ns(struct dns_ctx *cx, const ldns_rdf *owner)
{
	return (dns_rr_one(owner, LDNS_RR_TYPE_NS,
	    ldns_rdf_clone(cx->cx_domain)));
}

/* Add rr (NULL: out of memory) to l, or free it. */
static int
dns_push(ldns_rr_list *l, ldns_rr *rr)
{
	if (rr == NULL)
		return (-1);
	if (!ldns_rr_list_push_rr(l, rr)) {
		ldns_rr_free(rr);
		return (-1);
	}
	return (0);
}

static void
dns_rrs_free(struct dns_rrs *rrs)
{
	if (rrs == NULL)
		return;
	ldns_rr_list_deep_free(rrs->rr_an);
	ldns_rr_list_deep_free(rrs->rr_ns);
	ldns_rr_list_deep_free(rrs->rr_ad);
	rrs->rr_an = rrs->rr_ns = rrs->rr_ad = NULL;
}

/*
 * An answer to q: rcode (above 15: the extended EDNS rcode), the
 * question and the records of rrs (taken and freed; rrs may be NULL).
 * Over limit it is built again with the question only and TC set.
 */
static int
dns_build(struct dns_ctx *cx, const ldns_pkt *q, int rcode, int aa,
    struct dns_rrs *rrs, int tc, size_t limit, uint8_t *out,
    size_t *outlen)
{
	static const ldns_pkt_section	 secs[3] = { LDNS_SECTION_ANSWER,
	    LDNS_SECTION_AUTHORITY, LDNS_SECTION_ADDITIONAL };
	ldns_pkt	*r;
	const ldns_rr	*qrr;
	ldns_rr_list	*l;
	ldns_rr		*c;
	size_t		 i, j;
	int		 ret;

	if ((r = ldns_pkt_new()) == NULL)
		goto nomem;
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, 1);
	ldns_pkt_set_opcode(r, LDNS_PACKET_QUERY);
	ldns_pkt_set_aa(r, aa);
	ldns_pkt_set_tc(r, tc);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_cd(r, ldns_pkt_cd(q));
	ldns_pkt_set_ra(r, cx->cx_nup > 0);
	ldns_pkt_set_rcode(r, rcode & 0xf);
	if ((qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0)) != NULL &&
	    ldns_pkt_qdcount(q) == 1) {
		if ((c = ldns_rr_clone(qrr)) == NULL ||
		    !ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, c)) {
			ldns_rr_free(c);
			goto nomem;
		}
	}
	for (i = 0; rrs != NULL && i < 3; i++) {
		l = i == 0 ? rrs->rr_an : i == 1 ? rrs->rr_ns : rrs->rr_ad;
		for (j = 0; l != NULL && j < ldns_rr_list_rr_count(l); j++) {
			if ((c = ldns_rr_clone(ldns_rr_list_rr(l, j))) ==
			    NULL || !ldns_pkt_push_rr(r, secs[i], c)) {
				ldns_rr_free(c);
				goto nomem;
			}
		}
	}
	dns_rrs_free(rrs);
	if (ldns_pkt_edns(q)) {
		ldns_pkt_set_edns_udp_size(r, DNS_EDNS_SIZE);
		ldns_pkt_set_edns_extended_rcode(r, rcode >> 4);
		ldns_pkt_set_edns_do(r, ldns_pkt_edns_do(q));
	}
	ret = dns_wire_out(r, limit, out, outlen);
	ldns_pkt_free(r);
	if (ret == 1 && !tc) {
		cx->cx_st.ds_truncated++;
		return (dns_build(cx, q, rcode, aa, NULL, 1, limit, out,
		    outlen));
	}
	if (ret != 0) {
		cx->cx_st.ds_dropped++;
		return (DNS_DROP);
	}
	return (DNS_REPLY);

 nomem:
	dns_rrs_free(rrs);
	ldns_pkt_free(r);
	cx->cx_st.ds_dropped++;
	return (DNS_DROP);
}

/* 0: out holds the message; 1: it is over limit; -1: error. */
static int
dns_wire_out(ldns_pkt *r, size_t limit, uint8_t *out, size_t *outlen)
{
	uint8_t	*wire = NULL;
	size_t	 len;

	if (ldns_pkt2wire(&wire, r, &len) != LDNS_STATUS_OK) {
		free(wire);
		return (-1);
	}
	if (len > limit) {
		free(wire);
		return (1);
	}
	if (len > *outlen) {
		free(wire);
		return (-1);
	}
	memcpy(out, wire, len);
	*outlen = len;
	free(wire);
	return (0);
}

/*
 * A header-only answer, for what has no question we could repeat: RA as
 * in every answer, and an OPT if pkt, the query parsed, has one.
 */
static int
dns_build_hdr(struct dns_ctx *cx, const uint8_t *q, const ldns_pkt *pkt,
    int rcode, uint8_t *out, size_t *outlen)
{
	ldns_pkt	*r;
	int		 ret;

	if ((r = ldns_pkt_new()) == NULL)
		return (DNS_DROP);
	ldns_pkt_set_id(r, LDNS_ID_WIRE(q));
	ldns_pkt_set_qr(r, 1);
	ldns_pkt_set_opcode(r, LDNS_OPCODE_WIRE(q));
	ldns_pkt_set_rd(r, LDNS_RD_WIRE(q) != 0);
	ldns_pkt_set_cd(r, LDNS_CD_WIRE(q) != 0);
	ldns_pkt_set_ra(r, cx->cx_nup > 0);
	ldns_pkt_set_rcode(r, rcode);
	if (pkt != NULL && ldns_pkt_edns(pkt)) {
		ldns_pkt_set_edns_udp_size(r, DNS_EDNS_SIZE);
		ldns_pkt_set_edns_do(r, ldns_pkt_edns_do(pkt));
	}
	ret = dns_wire_out(r, DNS_MSG_MAX, out, outlen);
	ldns_pkt_free(r);
	return (ret == 0 ? DNS_REPLY : DNS_DROP);
}

/*
 * The OPT records of a message ldns parsed (RFC 6891 6.1.1): *nopt of
 * them in the additional section, *ownerbad if one is owned by other
 * than the root, *lenbad if an option's length runs past its record.
 * -1 if the sections do not add up (ldns should have refused it).
 */
static int
dns_opt_scan(const uint8_t *m, size_t len, int *nopt, int *ownerbad,
    int *lenbad)
{
	size_t		 off = LDNS_HEADER_SIZE, owner, rd, rdlen, o, olen;
	unsigned int	 i, n;

	*nopt = *ownerbad = *lenbad = 0;
	for (i = 0; i < LDNS_QDCOUNT(m); i++) {
		if (dns_skip_name(m, len, &off) == -1 || len - off < 4)
			return (-1);
		off += 4;
	}
	n = LDNS_ANCOUNT(m) + LDNS_NSCOUNT(m) + LDNS_ARCOUNT(m);
	for (i = 0; i < n; i++) {
		owner = off;
		if (dns_skip_name(m, len, &off) == -1 || len - off < 10)
			return (-1);
		rd = off + 10;
		rdlen = (m[off + 8] << 8) | m[off + 9];
		if (len - rd < rdlen)
			return (-1);
		if (i >= n - LDNS_ARCOUNT(m) &&
		    ((m[off] << 8) | m[off + 1]) == LDNS_RR_TYPE_OPT) {
			(*nopt)++;
			if (!dns_is_root(m, len, owner))
				*ownerbad = 1;
			for (o = 0; o < rdlen; o += 4 + olen) {
				if (rdlen - o < 4) {
					*lenbad = 1;
					break;
				}
				olen = (m[rd + o + 2] << 8) | m[rd + o + 3];
				if (rdlen - o - 4 < olen) {
					*lenbad = 1;
					break;
				}
			}
		}
		off = rd + rdlen;
	}
	return (0);
}

/* Step over the name at *off: labels up to the root, or a pointer. */
static int
dns_skip_name(const uint8_t *m, size_t len, size_t *off)
{
	while (*off < len) {
		if ((m[*off] & 0xc0) == 0xc0) {
			if (len - *off < 2)
				return (-1);
			*off += 2;
			return (0);
		}
		if ((m[*off] & 0xc0) != 0)
			return (-1);
		if (m[*off] == 0) {
			(*off)++;
			return (0);
		}
		*off += 1 + m[*off];
	}
	return (-1);
}

/* Whether the name at off is the root: a zero, or pointers to one. */
static int
dns_is_root(const uint8_t *m, size_t len, size_t off)
{
	int	 hops;

	for (hops = 0; hops < 16 && off < len; hops++) {
		if (m[off] == 0)
			return (1);
		if ((m[off] & 0xc0) != 0xc0 || len - off < 2)
			return (0);
		off = ((m[off] & 0x3f) << 8) | m[off + 1];
	}
	return (0);
}

/* An error answer (SERVFAIL) to a query we took earlier. */
static int
dns_error_reply(struct dns_ctx *cx, const uint8_t *q, size_t qlen, int rcode,
    size_t limit, uint8_t *out, size_t *outlen)
{
	ldns_pkt	*pkt = NULL;
	int		 r;

	if (qlen < LDNS_HEADER_SIZE)
		return (DNS_DROP);
	if (ldns_wire2pkt(&pkt, q, qlen) != LDNS_STATUS_OK)
		return (dns_build_hdr(cx, q, NULL, rcode, out, outlen));
	r = dns_build(cx, pkt, rcode, 0, NULL, 0, limit, out, outlen);
	ldns_pkt_free(pkt);
	return (r);
}

/* The length of an uncompressed question at offset 12, else 0. */
static size_t
dns_question_len(const uint8_t *m, size_t len)
{
	size_t	 off = LDNS_HEADER_SIZE;

	while (off < len && m[off] != 0) {
		if (m[off] > LDNS_MAX_LABELLEN)
			return (0);
		off += 1 + m[off];
	}
	off += 1 + 4;		/* the root label, type and class */
	return (off <= len ? off - LDNS_HEADER_SIZE : 0);
}

/* Compare wire bytes with ASCII letters folded (never length bytes). */
static int
dns_casecmp(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t	 x, y;
	size_t	 i;

	for (i = 0; i < len; i++) {
		x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i];
		y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i];
		if (x != y)
			return (-1);
	}
	return (0);
}

/*
 * An upstream's reply to a client's query (the ID was matched by the
 * caller): -1 unless it is a response with the query's question (or,
 * for an error, none); else out holds what the client gets: the reply
 * with the client's ID, or, over limit, its header and the question
 * with TC set.  Pure: the fuzz harness calls it too.
 */
int
dns_relay_reply(struct dns_ctx *cx, const uint8_t *query, size_t qlen,
    const uint8_t *reply, size_t rlen, size_t limit, uint8_t *out,
    size_t *outlen)
{
	ldns_pkt	*q = NULL, *a = NULL, *r = NULL;
	const ldns_rr	*qq, *aq;
	ldns_rr		*c;
	size_t		 ql;
	int		 ret = -1;

	if (qlen < LDNS_HEADER_SIZE || rlen < LDNS_HEADER_SIZE ||
	    !LDNS_QR_WIRE(reply))
		return (-1);
	if (ldns_wire2pkt(&q, query, qlen) != LDNS_STATUS_OK ||
	    ldns_wire2pkt(&a, reply, rlen) != LDNS_STATUS_OK)
		goto out;
	if (ldns_pkt_get_opcode(a) != ldns_pkt_get_opcode(q))
		goto out;
	qq = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	aq = ldns_rr_list_rr(ldns_pkt_question(a), 0);
	if (qq == NULL)
		goto out;
	if (ldns_pkt_qdcount(a) == 0) {
		if (ldns_pkt_get_rcode(a) == LDNS_RCODE_NOERROR ||
		    ldns_pkt_get_rcode(a) == LDNS_RCODE_NXDOMAIN)
			goto out;
	} else if (ldns_pkt_qdcount(a) != 1 || aq == NULL ||
	    ldns_dname_compare(ldns_rr_owner(qq), ldns_rr_owner(aq)) != 0 ||
	    ldns_rr_get_type(qq) != ldns_rr_get_type(aq) ||
	    ldns_rr_get_class(qq) != ldns_rr_get_class(aq))
		goto out;

	if (rlen <= limit) {
		if (rlen > *outlen)
			goto out;
		memcpy(out, reply, rlen);
		LDNS_ID_SET(out, ldns_pkt_id(q));
		/*
		 * The client's spelling of its question (a resolver using
		 * 0x20 checks it): same length, so pointers stay valid.
		 */
		if ((ql = dns_question_len(query, qlen)) > 0 &&
		    rlen >= LDNS_HEADER_SIZE + ql &&
		    dns_casecmp(query + LDNS_HEADER_SIZE,
		    reply + LDNS_HEADER_SIZE, ql) == 0)
			memcpy(out + LDNS_HEADER_SIZE, query + LDNS_HEADER_SIZE,
			    ql);
		*outlen = rlen;
		ret = 0;
		goto out;
	}

	/* Too big for the client: the header and question, TC set. */
	if ((r = ldns_pkt_new()) == NULL)
		goto out;
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, 1);
	ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
	ldns_pkt_set_aa(r, ldns_pkt_aa(a));
	ldns_pkt_set_tc(r, 1);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_ra(r, ldns_pkt_ra(a));
	ldns_pkt_set_cd(r, ldns_pkt_cd(q));
	ldns_pkt_set_rcode(r, ldns_pkt_get_rcode(a));
	if ((c = ldns_rr_clone(qq)) == NULL ||
	    !ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, c)) {
		ldns_rr_free(c);
		goto out;
	}
	if (ldns_pkt_edns(q)) {
		ldns_pkt_set_edns_udp_size(r, DNS_EDNS_SIZE);
		ldns_pkt_set_edns_do(r, ldns_pkt_edns_do(q));
	}
	if (dns_wire_out(r, limit, out, outlen) == 0) {
		cx->cx_st.ds_truncated++;
		ret = 0;
	}
 out:
	ldns_pkt_free(q);
	ldns_pkt_free(a);
	ldns_pkt_free(r);
	return (ret);
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

static void
dns_deliver(struct dns_ctx *cx, const struct sockaddr_storage *ss,
    socklen_t sslen, struct dns_conn *c, const uint8_t *msg, size_t len)
{
	if (c != NULL)
		dns_conn_enqueue(c, msg, len);
	else if (cx->cx_udpfd == -1 || sendto(cx->cx_udpfd, msg, len,
	    MSG_NOSIGNAL, (const struct sockaddr *)ss, sslen) == -1)
		cx->cx_st.ds_dropped++;
}

/* Send a client's query upstream, or SERVFAIL if we cannot. */
static void
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

static void
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
static void
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

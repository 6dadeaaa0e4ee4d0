/*
 * The net worker's DNS responder: answers NAME.DOMAIN for VMs and the
 * bridge subnet's reverse zone from a table the worker keeps current,
 * and forwards everything else to the host's resolvers.  Messages are
 * parsed and built with ldns; sockets are driven by the worker's
 * libevent loop (event_set/event_add on the global base).
 */
#ifndef BANGER_DNS_H
#define BANGER_DNS_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <netinet/in.h>
#include <event.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "validate.h"

#define DNS_TTL			30	/* A and PTR answers, seconds */
#define DNS_NEG_TTL		5	/* SOA minimum: negative caching */
#define DNS_UPSTREAM_MAX	3	/* nameserver lines used, as MAXNS */
#define DNS_FWD_TIMEOUT_MS	2000	/* per upstream, then the next */
#define DNS_PENDING_MAX		1024	/* forwarded queries in flight */
#define DNS_TCP_MAX		64	/* client connections at once */
#define DNS_TCP_PER_ADDR	8	/* of those, from one client address */
#define DNS_TCP_INFLIGHT	32	/* queries queued per connection */
#define DNS_TCP_IDLE_MS		10000	/* between queries, then closed */
#define DNS_TCP_MSG_MS		2000	/* one query, first byte to last */
#define DNS_UDP_MIN		512	/* without EDNS (RFC 1035) */
#define DNS_EDNS_SIZE		1232	/* our UDP limit (DNS flag day 2020) */
#define DNS_MSG_MAX		65535

/* What the responder has done since dns_new(). */
struct dns_stats {
	uint64_t	ds_queries;	/* messages received from clients */
	uint64_t	ds_answered;	/* answered from our own names */
	uint64_t	ds_nxdomain;	/* of those, NXDOMAIN */
	uint64_t	ds_forwarded;	/* sent upstream */
	uint64_t	ds_relayed;	/* upstream answers passed back */
	uint64_t	ds_servfail;	/* upstream failed or timed out */
	uint64_t	ds_refused;	/* other classes, zone transfers,
					   nothing to forward to */
	uint64_t	ds_malformed;	/* dropped, FORMERR or NOTIMP */
	uint64_t	ds_truncated;	/* UDP answers cut down, TC set */
	uint64_t	ds_dropped;	/* not answered: tables full, errors */
	uint64_t	ds_upstream_bad; /* upstream replies matching nothing */
	uint64_t	ds_tcp_refused;	/* connections over DNS_TCP_PER_ADDR */
	uint64_t	ds_tcp_timeout;	/* connections closed at a deadline */
};

/*
 * The responder's insides, shared by its files: dns.c (the answers),
 * dnstable.c (the context and its table of names), dnsfwd.c (forwarding
 * upstream) and dnsserve.c (the sockets).  In each file's list of
 * functions below, those the net worker and the tests call come first,
 * then the responder's own.
 */
#define DNS_UDP_BURST		64	/* datagrams read per wakeup */

/* What dns_eval() decided. */
#define DNS_DROP		-1
#define DNS_REPLY		0
#define DNS_FORWARD		1

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

RB_PROTOTYPE(dns_names, dns_name, dn_byname, name_cmp)
RB_PROTOTYPE(dns_addrs, dns_name, dn_byaddr, addr_cmp)
RB_PROTOTYPE(dns_pendings, dns_pending, dp_entry, pending_cmp)

/* dns.c */
int		 dns_answer(struct dns_ctx *, const uint8_t *, size_t,
		    uint8_t *, size_t *, int *);
int		 dns_answer_tcp(struct dns_ctx *, const uint8_t *, size_t,
		    uint8_t *, size_t *, int *);
int		 dns_relay_reply(struct dns_ctx *, const uint8_t *, size_t,
		    const uint8_t *, size_t, size_t, uint8_t *, size_t *);
int		 dns_eval(struct dns_ctx *, const uint8_t *, size_t, int,
		    uint8_t *, size_t *, size_t *);
int		 dns_error_reply(struct dns_ctx *, const uint8_t *, size_t, int,
		    size_t, uint8_t *, size_t *);

/* dnstable.c */
struct dns_ctx	*dns_new(const char *, struct in_addr, int);
void		 dns_free(struct dns_ctx *);
int		 dns_set(struct dns_ctx *, const char *, struct in_addr);
int		 dns_unset(struct dns_ctx *, const char *);
const struct dns_stats *dns_stats(const struct dns_ctx *);
struct dns_name	*dns_byname(struct dns_ctx *, const char *);
struct dns_name	*dns_byaddr(struct dns_ctx *, uint32_t);

/* dnsfwd.c */
int		 dns_upstreams_from_resolvconf(struct dns_ctx *, const char *);
int		 dns_upstream_count(const struct dns_ctx *);
void		 dns_forward(struct dns_ctx *, const uint8_t *, size_t, size_t,
		    const struct sockaddr_storage *, socklen_t,
		    struct dns_conn *);
void		 dns_pending_free(struct dns_pending *);
void		 dns_upstream_close(struct dns_upstream *);

/* dnsserve.c */
int		 dns_set_tcp_limits(struct dns_ctx *, int, int, int);
int		 dns_start(struct dns_ctx *, int, int);
void		 dns_stop(struct dns_ctx *);
void		 dns_deliver(struct dns_ctx *, const struct sockaddr_storage *,
		    socklen_t, struct dns_conn *, const uint8_t *, size_t);
void		 dns_conn_check(struct dns_conn *);
void		 dns_timeval(struct timeval *, int);

#endif /* BANGER_DNS_H */

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
#include <sys/socket.h>

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

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

struct dns_ctx;

/* dns.c */
struct dns_ctx	*dns_new(const char *, struct in_addr, int);
void		 dns_free(struct dns_ctx *);
int		 dns_set(struct dns_ctx *, const char *, struct in_addr);
int		 dns_unset(struct dns_ctx *, const char *);
int		 dns_upstreams_from_resolvconf(struct dns_ctx *, const char *);
int		 dns_upstream_count(const struct dns_ctx *);
int		 dns_set_tcp_limits(struct dns_ctx *, int, int, int);
int		 dns_answer(struct dns_ctx *, const uint8_t *, size_t,
		    uint8_t *, size_t *, int *);
int		 dns_answer_tcp(struct dns_ctx *, const uint8_t *, size_t,
		    uint8_t *, size_t *, int *);
int		 dns_relay_reply(struct dns_ctx *, const uint8_t *, size_t,
		    const uint8_t *, size_t, size_t, uint8_t *, size_t *);
int		 dns_start(struct dns_ctx *, int, int);
void		 dns_stop(struct dns_ctx *);
const struct dns_stats *dns_stats(const struct dns_ctx *);

#endif /* BANGER_DNS_H */

/*
 * The DNS responder's context and its table of names: dns_new() and
 * dns_free(), the names set and unset by the net worker, and their
 * lookups by name and by address for the answers (dns.c).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "validate.h"

static int	 name_cmp(struct dns_name *, struct dns_name *);
static int	 addr_cmp(struct dns_name *, struct dns_name *);

RB_GENERATE(dns_names, dns_name, dn_byname, name_cmp)
RB_GENERATE(dns_addrs, dns_name, dn_byaddr, addr_cmp)

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

struct dns_name *
dns_byname(struct dns_ctx *cx, const char *name)
{
	struct dns_name	 key;

	if (strlcpy(key.dn_name, name, sizeof(key.dn_name)) >=
	    sizeof(key.dn_name))
		return (NULL);
	return (RB_FIND(dns_names, &cx->cx_names, &key));
}

struct dns_name *
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

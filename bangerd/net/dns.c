/*
 * The DNS responder of the net worker: what it answers, and how, parsed
 * and built with ldns.  The context and its table of names are in
 * dnstable.c, forwarding to the upstream resolvers in dnsfwd.c, the
 * sockets (UDP, TCP clients) in dnsserve.c.
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

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "validate.h"

#define DNS_SOA_REFRESH		3600
#define DNS_SOA_RETRY		600
#define DNS_SOA_EXPIRE		86400

/* Where a name under in-addr.arpa falls. */
#define REV_NOTOURS		0	/* someone else's: forward */
#define REV_ADDR		1	/* an address in our subnet */
#define REV_BLOCK		2	/* a block inside our subnet: no data */
#define REV_NXDOMAIN		3	/* under a block of ours: no name */

/* An answer's records by section (any may be NULL): dns_build() takes them. */
struct dns_rrs {
	ldns_rr_list		*rr_an;
	ldns_rr_list		*rr_ns;
	ldns_rr_list		*rr_ad;
};

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

int
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
int
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

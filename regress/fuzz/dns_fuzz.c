/*
 * libFuzzer harness for the DNS responder's parsers (bangerd/net/dns.c):
 * each input is a client's message (UDP and TCP paths), an upstream's
 * reply to a fixed query, and a resolv.conf text.  Whatever comes back
 * must be a response that parses, with the query's ID, within the
 * client's size (over UDP 512 bytes without EDNS, else its advertised
 * size capped as dns.c caps it), and the responder's own answers have
 * RA set and an OPT exactly when the query had one; anything else
 * aborts.
 *
 *   clang -fsanitize=fuzzer,address -g -O1 -D_GNU_SOURCE -Icommon \
 *	-Ibangerd $(pkg-config --cflags libbsd-overlay ldns libevent_core) \
 *	regress/fuzz/dns_fuzz.c bangerd/net/dns.c bangerd/net/dnstable.c \
 *	bangerd/net/dnsfwd.c bangerd/net/dnsserve.c common/log.c \
 *	common/validate.c $(pkg-config --libs libbsd-overlay ldns \
 *	libevent_core) -o dns_fuzz
 *   ./dns_fuzz -max_total_time=60 regress/fuzz/corpus/dns
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "net/dns.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct dns_ctx	*cx, *cx_resolv;
static uint8_t		*fixedq;
static size_t		 fixedqlen;

static void
setup(void)
{
	struct in_addr	 a;
	ldns_pkt	*q = NULL;

	inet_pton(AF_INET, "172.16.0.1", &a);
	cx = dns_new("vm.internal", a, 24);
	cx_resolv = dns_new("vm.internal", a, 24);
	if (cx == NULL || cx_resolv == NULL)
		abort();
	inet_pton(AF_INET, "172.16.0.2", &a);
	dns_set(cx, "web", a);
	inet_pton(AF_INET, "172.16.0.3", &a);
	dns_set(cx, "db", a);
	dns_upstreams_from_resolvconf(cx, "nameserver 192.0.2.53\n");
	if (ldns_pkt_query_new_frm_str(&q, "www.example.com.",
	    LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_set_id(q, 0xbeef);
	if (ldns_pkt2wire(&fixedq, q, &fixedqlen) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(q);
}

/*
 * ours: the responder's own answer, not an upstream's relayed; it has RA
 * set (cx has an upstream) and an OPT exactly when the query had one.
 */
static void
check(const uint8_t *q, size_t qlen, const uint8_t *a, size_t alen,
    size_t limit, int ours)
{
	ldns_pkt	*p = NULL, *pq = NULL;
	int		 qedns = 0;

	if (alen > limit || alen < LDNS_HEADER_SIZE)
		abort();
	if (ldns_wire2pkt(&p, a, alen) != LDNS_STATUS_OK)
		abort();
	if (!ldns_pkt_qr(p) || LDNS_ID_WIRE(a) != LDNS_ID_WIRE(q))
		abort();
	if (ours) {
		if (ldns_wire2pkt(&pq, q, qlen) == LDNS_STATUS_OK)
			qedns = ldns_pkt_edns(pq);
		if (!ldns_pkt_ra(p) || qedns != ldns_pkt_edns(p))
			abort();
		ldns_pkt_free(pq);
	}
	ldns_pkt_free(p);
}

/*
 * What the client takes over UDP, as dns.c works it out: 512 without
 * EDNS (RFC 1035 4.2.1), else the advertised size, at least 512 and at
 * most DNS_EDNS_SIZE.
 */
static size_t
udp_limit(const uint8_t *q, size_t qlen)
{
	ldns_pkt	*p = NULL;
	size_t		 limit = DNS_UDP_MIN;

	if (ldns_wire2pkt(&p, q, qlen) == LDNS_STATUS_OK && ldns_pkt_edns(p)) {
		limit = ldns_pkt_edns_udp_size(p);
		if (limit < DNS_UDP_MIN)
			limit = DNS_UDP_MIN;
		if (limit > DNS_EDNS_SIZE)
			limit = DNS_EDNS_SIZE;
	}
	ldns_pkt_free(p);
	return (limit);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	 out[DNS_MSG_MAX];
	char		*text;
	size_t		 outlen;
	int		 fwd;

	if (cx == NULL)
		setup();

	outlen = sizeof(out);
	if (dns_answer(cx, data, size, out, &outlen, &fwd) == 0 && !fwd)
		check(data, size, out, outlen, udp_limit(data, size), 1);
	outlen = sizeof(out);
	if (dns_answer_tcp(cx, data, size, out, &outlen, &fwd) == 0 && !fwd)
		check(data, size, out, outlen, DNS_MSG_MAX, 1);

	outlen = sizeof(out);
	if (dns_relay_reply(cx, fixedq, fixedqlen, data, size, 512, out,
	    &outlen) == 0)
		check(fixedq, fixedqlen, out, outlen, 512, 0);

	if ((text = malloc(size + 1)) == NULL)
		return (0);
	memcpy(text, data, size);
	text[size] = '\0';
	if (dns_upstreams_from_resolvconf(cx_resolv, text) >
	    DNS_UPSTREAM_MAX)
		abort();
	free(text);
	return (0);
}

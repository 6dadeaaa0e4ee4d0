/*
 * dns-replay: every file of the DNS fuzz corpus through the responder's
 * pure paths, without libFuzzer, for make check (and under valgrind).
 *
 *   dns-replay [dir]	(default: $TOP/regress/fuzz/corpus/dns)
 *
 * The context is the fuzz harness's: domain vm.internal, bridge
 * 172.16.0.1/24, web at 172.16.0.2, db at 172.16.0.3, one upstream.
 * Each file goes through dns_answer() (UDP), dns_answer_tcp() and, as
 * an upstream's reply to "www.example.com A", dns_relay_reply().  What
 * every answer must be: a response that parses, with the query's ID
 * and its question byte for byte, within the client's UDP size, with RA
 * set (there is an upstream), and with an OPT record exactly when the
 * query had one (RFC 6891 6.1.1 and 7, errors included).  By name:
 *	malformed-*	counted as malformed; dropped, FORMERR or NOTIMP,
 *			and the rcode the table below says if it has one
 *	seed-*		not malformed; the answer the table below says
 *	reply-*		a query-path drop; relayed to the client
 *	anything else	(fixed crashers) only the invariants
 * and no query (QR clear) passes for an upstream's reply.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "net/dns.h"
#include "regress.h"

#define FWD	-1	/* forwarded, not answered */
#define BADVERS	16

/* What each seed gets. */
static const struct seed {
	const char	*file;
	int		 rcode;		/* LDNS_RCODE_*, BADVERS, or FWD */
	int		 an, ns;	/* section counts */
	const char	*answer;	/* first answer's rdata, or NULL */
} seeds[] = {
	{ "seed-a.bin", LDNS_RCODE_NOERROR, 1, 0, "172.16.0.2" },
	{ "seed-a-mixedcase.bin", LDNS_RCODE_NOERROR, 1, 0, "172.16.0.2" },
	{ "seed-aaaa.bin", LDNS_RCODE_NOERROR, 0, 1, NULL },
	{ "seed-any.bin", LDNS_RCODE_NOERROR, 1, 0, "172.16.0.2" },
	{ "seed-mx.bin", LDNS_RCODE_NOERROR, 0, 1, NULL },
	{ "seed-nxdomain.bin", LDNS_RCODE_NXDOMAIN, 0, 1, NULL },
	{ "seed-below-vm.bin", LDNS_RCODE_NXDOMAIN, 0, 1, NULL },
	/* The apex names the responder: NS and A (the bridge) at DOMAIN. */
	{ "seed-apex-a.bin", LDNS_RCODE_NOERROR, 1, 0, "172.16.0.1" },
	{ "seed-apex-soa.bin", LDNS_RCODE_NOERROR, 1, 0, "vm.internal." },
	{ "seed-apex-ns.bin", LDNS_RCODE_NOERROR, 1, 0, "vm.internal." },
	{ "seed-apex-any.bin", LDNS_RCODE_NOERROR, 3, 0, "vm.internal." },
	{ "seed-ptr.bin", LDNS_RCODE_NOERROR, 1, 0, "web.vm.internal." },
	{ "seed-ptr-nx.bin", LDNS_RCODE_NXDOMAIN, 0, 1, NULL },
	{ "seed-ptr-apex-soa.bin", LDNS_RCODE_NOERROR, 1, 0,
	    "vm.internal." },
	{ "seed-ptr-apex-ns.bin", LDNS_RCODE_NOERROR, 1, 0, "vm.internal." },
	{ "seed-ptr-bridge.bin", LDNS_RCODE_NOERROR, 1, 0, "vm.internal." },
	{ "seed-ptr-extra-label.bin", LDNS_RCODE_NXDOMAIN, 0, 1, NULL },
	{ "seed-ptr-leading-zero.bin", LDNS_RCODE_NXDOMAIN, 0, 1, NULL },
	{ "seed-ptr-other-net.bin", FWD, 0, 0, NULL },
	{ "seed-forward.bin", FWD, 0, 0, NULL },
	{ "seed-edns.bin", LDNS_RCODE_NOERROR, 1, 0, "172.16.0.2" },
	{ "seed-edns-do.bin", LDNS_RCODE_NOERROR, 1, 0, "172.16.0.2" },
	{ "seed-edns-cookie.bin", FWD, 0, 0, NULL },
	{ "seed-axfr.bin", LDNS_RCODE_REFUSED, 0, 0, NULL },
	{ "seed-chaos.bin", LDNS_RCODE_REFUSED, 0, 0, NULL },
	{ "seed-class-ch-local.bin", LDNS_RCODE_REFUSED, 0, 0, NULL },
	{ "seed-badvers.bin", BADVERS, 0, 0, NULL },
	{ "seed-tc-set.bin", LDNS_RCODE_NOERROR, 1, 0, "172.16.0.2" },
	{ "seed-edns-owner-pointer-root.bin", LDNS_RCODE_NOERROR, 1, 0,
	    "172.16.0.2" },
	/* RFC 6891 6.1.1 and 7: FORMERR, with an OPT */
	{ "malformed-opt-two.bin", LDNS_RCODE_FORMERR, 0, 0, NULL },
	{ "malformed-opt-owner.bin", LDNS_RCODE_FORMERR, 0, 0, NULL },
	{ "malformed-opt-owner-pointer.bin", LDNS_RCODE_FORMERR, 0, 0, NULL },
	{ "malformed-opt-option-len.bin", LDNS_RCODE_FORMERR, 0, 0, NULL },
	{ "malformed-opt-option-short.bin", LDNS_RCODE_FORMERR, 0, 0, NULL },
	{ "malformed-opt-option-trailing.bin", LDNS_RCODE_FORMERR, 0, 0,
	    NULL },
	{ "malformed-qdcount-0-edns.bin", LDNS_RCODE_FORMERR, 0, 0, NULL },
	{ "malformed-opcode-notify-edns.bin", LDNS_RCODE_NOTIMPL, 0, 0, NULL },
};

static struct dns_ctx	*cx;
static uint8_t		*fixedq;	/* www.example.com A, id 0xbeef */
static size_t		 fixedqlen;

static void
setup(void)
{
	struct in_addr	 a;
	ldns_pkt	*q = NULL;

	inet_pton(AF_INET, "172.16.0.1", &a);
	if ((cx = dns_new("vm.internal", a, 24)) == NULL) {
		perror("dns_new");
		exit(1);
	}
	inet_pton(AF_INET, "172.16.0.2", &a);
	dns_set(cx, "web", a);
	inet_pton(AF_INET, "172.16.0.3", &a);
	dns_set(cx, "db", a);
	dns_upstreams_from_resolvconf(cx, "nameserver 192.0.2.53\n");
	if (ldns_pkt_query_new_frm_str(&q, "www.example.com.",
	    LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK) {
		fprintf(stderr, "cannot build the fixed query\n");
		exit(1);
	}
	ldns_pkt_set_id(q, 0xbeef);
	if (ldns_pkt2wire(&fixedq, q, &fixedqlen) != LDNS_STATUS_OK) {
		fprintf(stderr, "cannot build the fixed query\n");
		exit(1);
	}
	ldns_pkt_free(q);
}

/* The question section's bytes: from 12 to the end of the qtype/class. */
static size_t
question_len(const uint8_t *m, size_t len)
{
	size_t	 off = LDNS_HEADER_SIZE;

	while (off < len && m[off] != 0) {
		if ((m[off] & 0xc0) != 0)
			return (0);	/* compressed: no plain copy */
		off += 1 + m[off];
	}
	off += 1 + 4;
	return (off <= len ? off - LDNS_HEADER_SIZE : 0);
}

/*
 * The invariants of any answer to q: NULL if it holds them, else why.
 * ours: built by the responder, not an upstream's relayed (whose RA and
 * OPT are the upstream's).  *pktp gets the parsed answer.
 */
static const char *
check_answer(const uint8_t *q, size_t qlen, const uint8_t *a, size_t alen,
    size_t limit, int ours, ldns_pkt **pktp)
{
	ldns_pkt	*pq = NULL;
	size_t		 ql;
	const char	*why = NULL;

	*pktp = NULL;
	if (alen > limit)
		return ("answer over the client's size");
	if (ldns_wire2pkt(pktp, a, alen) != LDNS_STATUS_OK)
		return ("answer does not parse");
	if (!ldns_pkt_qr(*pktp))
		return ("answer without QR");
	if (LDNS_ID_WIRE(a) != LDNS_ID_WIRE(q))
		return ("answer id differs");
	if (ours && !ldns_pkt_ra(*pktp))
		return ("RA clear, with an upstream to forward to");
	if (ldns_wire2pkt(&pq, q, qlen) != LDNS_STATUS_OK) {
		if (ours && ldns_pkt_edns(*pktp))
			return ("an OPT for a query that does not parse");
		return (NULL);
	}
	if (ours && ldns_pkt_edns(pq) && !ldns_pkt_edns(*pktp))
		why = "no OPT, the query had one";
	else if (ours && !ldns_pkt_edns(pq) && ldns_pkt_edns(*pktp))
		why = "an OPT, the query had none";
	else if (ldns_pkt_qdcount(pq) == 1 && ldns_pkt_qdcount(*pktp) == 1) {
		ql = question_len(q, qlen);
		if (ql != 0 && (alen < LDNS_HEADER_SIZE + ql ||
		    memcmp(q + LDNS_HEADER_SIZE, a + LDNS_HEADER_SIZE,
		    ql) != 0))
			why = "question not echoed byte for byte";
	}
	ldns_pkt_free(pq);
	return (why);
}

static size_t
udp_limit(const uint8_t *q, size_t qlen)
{
	ldns_pkt	*p = NULL;
	size_t		 limit = 512;

	if (ldns_wire2pkt(&p, q, qlen) == LDNS_STATUS_OK && ldns_pkt_edns(p))
		limit = ldns_pkt_edns_udp_size(p) < 512 ? 512 :
		    ldns_pkt_edns_udp_size(p) > DNS_EDNS_SIZE ? DNS_EDNS_SIZE :
		    ldns_pkt_edns_udp_size(p);
	ldns_pkt_free(p);
	return (limit);
}

static void
replay(const char *dir, const char *file)
{
	static uint8_t		 buf[DNS_MSG_MAX], out[DNS_MSG_MAX];
	const struct seed	*s = NULL;
	ldns_pkt		*pkt = NULL;
	ldns_rr			*rr;
	char			 path[PATH_MAX + 256], name[300], *str = NULL;
	const char		*why;
	size_t			 i, outlen, limit;
	ssize_t			 len;
	uint64_t		 malformed;
	int			 fd, r, fwd, rt, fwdt;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    sizeof(path)) {
		t_fail(file, "path too long");
		return;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (len = read(fd, buf, sizeof(buf))) == -1) {
		t_fail(file, "%s", strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	close(fd);
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		if (strcmp(seeds[i].file, file) == 0)
			s = &seeds[i];

	malformed = dns_stats(cx)->ds_malformed;
	outlen = sizeof(out);
	r = dns_answer(cx, buf, len, out, &outlen, &fwd);
	malformed = dns_stats(cx)->ds_malformed - malformed;
	limit = udp_limit(buf, len);
	why = NULL;
	if (r == 0 && !fwd)
		why = check_answer(buf, len, out, outlen, limit, 1, &pkt);

	/* TCP decides the same, and its answers hold the invariants. */
	outlen = sizeof(out);
	rt = dns_answer_tcp(cx, buf, len, out, &outlen, &fwdt);
	if (why == NULL && (rt != r || fwdt != fwd))
		why = "tcp decides differently from udp";
	if (why == NULL && rt == 0 && !fwdt) {
		ldns_pkt	*tp;

		why = check_answer(buf, len, out, outlen, DNS_MSG_MAX, 1,
		    &tp);
		ldns_pkt_free(tp);
	}
	snprintf(name, sizeof(name), "dns-replay: %s", file);

	if (strncmp(file, "malformed-", 10) == 0) {
		if (why == NULL && malformed != 1)
			why = "not counted as malformed";
		if (why == NULL && r == 0 && (fwd ||
		    (ldns_pkt_get_rcode(pkt) != LDNS_RCODE_FORMERR &&
		    ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOTIMPL)))
			why = "answered, not dropped or refused";
		if (why == NULL && s != NULL && (r != 0 || fwd ||
		    (int)ldns_pkt_get_rcode(pkt) != s->rcode ||
		    ldns_pkt_ancount(pkt) != s->an ||
		    ldns_pkt_nscount(pkt) != s->ns))
			why = "not the rcode and sections the table says";
		T_CHECK(name, why == NULL, "%s (rcode %d)", why,
		    pkt ? (int)ldns_pkt_get_rcode(pkt) : -1);
	} else if (strncmp(file, "seed-", 5) == 0) {
		if (s == NULL)
			why = "no expectation in dns-replay.c's table";
		else if (why == NULL && malformed != (s->rcode == BADVERS))
			why = "malformed count wrong";
		else if (why == NULL && r == -1)
			why = "dropped";
		else if (why == NULL && s->rcode == FWD && !fwd)
			why = "answered, not forwarded";
		else if (why == NULL && s->rcode != FWD) {
			if (fwd)
				why = "forwarded, not answered";
			else if (s->rcode == BADVERS ?
			    ldns_pkt_edns_extended_rcode(pkt) != 1 :
			    (int)ldns_pkt_get_rcode(pkt) != s->rcode)
				why = "wrong rcode";
			else if (ldns_pkt_ancount(pkt) != s->an ||
			    ldns_pkt_nscount(pkt) != s->ns)
				why = "wrong section counts";
			else if (s->answer != NULL) {
				rr = ldns_rr_list_rr(ldns_pkt_answer(pkt), 0);
				str = ldns_rdf2str(ldns_rr_rdf(rr, 0));
				if (str == NULL || strcmp(str, s->answer) != 0)
					why = "wrong answer data";
			}
		}
		T_CHECK(name, why == NULL, "%s (rcode %d, an %zu, '%s')", why,
		    pkt ? (int)ldns_pkt_get_rcode(pkt) : -1,
		    pkt ? (size_t)ldns_pkt_ancount(pkt) : 0,
		    str ? str : "");
		free(str);
	} else if (strncmp(file, "reply-", 6) == 0) {
		if (why == NULL && (r != -1 || malformed != 1))
			why = "a response taken as a query";
		T_CHECK(name, why == NULL, "%s", why);
	} else
		T_CHECK(name, why == NULL, "%s", why);
	ldns_pkt_free(pkt);
	pkt = NULL;

	/* As an upstream's reply to www.example.com A, for a 512 client. */
	outlen = sizeof(out);
	r = dns_relay_reply(cx, fixedq, fixedqlen, buf, len, 512, out, &outlen);
	why = NULL;
	if (r == 0) {
		why = check_answer(fixedq, fixedqlen, out, outlen, 512, 0,
		    &pkt);
		if (why == NULL && (len > 512) != (ldns_pkt_tc(pkt) != 0))
			why = "TC not set exactly when cut down";
	}
	snprintf(name, sizeof(name), "dns-replay: %s as an upstream reply",
	    file);
	if (strncmp(file, "reply-", 6) == 0)
		T_CHECK(name, r == 0 && why == NULL, "%s",
		    why ? why : "refused");
	else if (len >= LDNS_HEADER_SIZE && !LDNS_QR_WIRE(buf))
		T_CHECK(name, r == -1, "a query taken as a reply");
	else
		T_CHECK(name, why == NULL, "%s", why);
	ldns_pkt_free(pkt);
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return (strcmp((*a)->d_name, (*b)->d_name));
}

static int
not_dot(const struct dirent *d)
{
	return (d->d_name[0] != '.');
}

int
main(int argc, char *argv[])
{
	struct dirent	**ents;
	char		  dflt[PATH_MAX];
	const char	 *dir, *top;
	int		  n, i;

	if (argc > 1)
		dir = argv[1];
	else {
		top = getenv("TOP");
		snprintf(dflt, sizeof(dflt), "%s/regress/fuzz/corpus/dns",
		    top != NULL ? top : ".");
		dir = dflt;
	}
	if ((n = scandir(dir, &ents, not_dot, by_name)) == -1) {
		t_fail("dns-replay", "%s: %s", dir, strerror(errno));
		return (t_done());
	}
	setup();
	for (i = 0; i < n; i++) {
		replay(dir, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	T_CHECK("dns-replay: the corpus is not empty", n > 0, "%s: empty",
	    dir);
	dns_free(cx);
	free(fixedq);
	return (t_done());
}

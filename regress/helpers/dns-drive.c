/*
 * dns-drive: the net worker's DNS responder (bangerd/net/dns*.c) run on its
 * own, for regress/net/dns.sh, with the clients and the stand-in
 * upstream the test needs.
 *
 *   dns-drive serve -d domain -b bridge/prefix (-l addr[:port] |
 *	-U udpfd -T tcpfd) [-r resolv.conf] [-n name=addr ...] [-g count]
 *	[-I idle_ms -M msg_ms -P per_addr] [-R bytes] [-S]
 *	Serve with dns_start() on the given or bound sockets.  -g adds
 *	names vm0..vm<count-1> at the bridge network + 10 + i.  -I, -M
 *	and -P set the TCP limits (dns_set_tcp_limits(), all three or
 *	none).  -R sets the UDP socket's receive buffer (SO_RCVBUFFORCE),
 *	as the daemon's parent does.  -S loads a seccomp allow-list first
 *	(the workers' common list and the responder's calls, default kill)
 *	to prove the list is enough.  Prints "ready" once serving, a stats
 *	line on SIGUSR1 and at exit (SIGTERM).
 *
 *   dns-drive upstream -l addr[:port] [-D ms]
 *	A stand-in recursive resolver on UDP and TCP: A for any name is
 *	198.18.x.y from a hash of the name; a first label starting with
 *	"big" gets DRIVE_BIG A records, over UDP too, whatever the
 *	client's size (so the responder must truncate); "nx" NXDOMAIN;
 *	"drop" no answer at all.  -D holds every answer ms (default 0)
 *	before it is sent, a slow resolver; UP_CONNS TCP connections are
 *	served at once.  Prints "ready" and, on SIGUSR1, its query counts
 *	per transport.
 *
 *   dns-drive query -s addr[:port] [-B src] [-t [-c count]] [-e size]
 *	[-i id] name type
 *   dns-drive query -s addr[:port] [-B src] [-t] -f file
 *	One query over UDP (no EDNS unless -e) or TCP (-t), or the message
 *	in file as it is; prints "rcode=R flags=F an=N ns=N ar=N size=N
 *	opt=S" (S the answer's EDNS size, or "none") and the answer and
 *	authority records.  -B: from source address src.
 *	With -c, count queries written at once on one TCP connection;
 *	prints "pipelined sent=N answered=N" (each ID answered once).
 *
 *   dns-drive hold -s addr[:port] [-B src] -n conns [-i ms] [-b] [-z]
 *	[-w seconds]
 *	Open conns TCP connections at once and keep them busy for the
 *	given seconds (default 5): every ms (default 500) each sends a
 *	whole query for vm.internal A (with -z an empty message, just its
 *	length), or with -b the next single byte of one (a slow drip), and
 *	reads what comes back.  Prints "hold open=N
 *	closed=N answered=N first_close_ms=T last_close_ms=T": connections
 *	still open at the end, those the server closed (and when, after
 *	the start; -1 if none), whole answers read.
 *
 *   dns-drive idle -s addr[:port] [-w seconds]
 *	Open a TCP connection, send nothing; prints "closed after N s" when
 *	the server closes it, or "open after N s".
 *
 *   dns-drive burst -s addr[:port] -d domain -b bridge/prefix -n count
 *	[-g names] [-w window] [-f every]
 *	count queries, at most window in flight, for vm<i % names>.domain
 *	and, every f-th, h<i>.example.com (forwarded; the stand-in's
 *	address); each answer is checked.  Unanswered queries are resent
 *	after 1 s, up to 5 times.  Prints "burst sent=N ok=N wrong=N
 *	lost=N retries=N"; exits 0 only if every query got its answer.
 *
 *   dns-drive flood -s addr[:port] -n count [-d domain] [-g names]
 *	count queries for vm<i % names>.domain (default vm.internal, 100
 *	names) over UDP, as fast as they can be sent, not paced by the
 *	answers; answers are read meanwhile and for 2 s after.  Prints
 *	"flood sent=N answered=N lost=N loss=P%".
 *
 *   dns-drive pipeline -s addr[:port] -n conns -c count [-B src ...]
 *	[-p pid] [-w seconds]
 *	conns TCP connections at once (their source addresses the -B ones
 *	in turn, at most 16), each writing count queries in one go (IDs
 *	0..count-1) for p<conn>-<id>.example.com A, names to forward, and
 *	reading the answers until all came or the seconds (default 10)
 *	passed.  Prints "pipeline conns=N sent=N answered=N noerror=N
 *	servfail=N other=N wrong=N closed=N ms=T": answers by rcode,
 *	those not the stand-in upstream's for the name (or unparsable, or
 *	a second for an ID), connections the server closed before their
 *	last answer, and when the last answer came.  -p: the most
 *	descriptors process pid held meanwhile, counted in /proc/pid/fd
 *	between reads, adds " fds_before=N fds_peak=N".  Exits 0 only if
 *	every query had the right NOERROR answer.
 *
 *   dns-drive send -s addr[:port] file...
 *	Each file as one UDP datagram, 2 ms apart.  Prints "sent N".
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "net/dns.h"
#include "log.h"

#define DRIVE_BIG	100	/* A records in a "big" answer */
#define DRIVE_PORT	53
#define BURST_TIMEOUT	1000	/* ms before a query is resent */
#define BURST_TRIES	6

static volatile sig_atomic_t	 got_usr1, got_term;
static struct sockaddr_in	 src_addr;	/* -B: clients bind to it */
static int			 src_set;

static void	usage(void) __attribute__((__noreturn__));
static int	num_arg(int, long long, long long);
static void	parse_hostport(const char *, struct sockaddr_in *);
static void	parse_bridge(const char *, struct in_addr *, int *);
static void	parse_src(const char *);
static int	bind_sock(const struct sockaddr_in *, int);
static char	*read_text(const char *);
static uint32_t	name_hash(const char *);
static uint32_t	upstream_addr(const char *);
static int	cmd_serve(int, char **);
static int	cmd_upstream(int, char **);
static int	cmd_query(int, char **);
static int	cmd_burst(int, char **);
static int	cmd_send(int, char **);
static int	cmd_idle(int, char **);
static int	cmd_hold(int, char **);
static int	cmd_flood(int, char **);
static int	cmd_pipeline(int, char **);
static long	ms_since(const struct timespec *);
static int	query_pipelined(const struct sockaddr_in *, const uint8_t *,
		    size_t, int);

static void
usage(void)
{
	fprintf(stderr, "usage: dns-drive serve|upstream|query|burst|send|"
	    "idle|hold|flood|pipeline ...\n");
	exit(2);
}

/* The argument of option ch: a number from lo to hi, or exit 2. */
static int
num_arg(int ch, long long lo, long long hi)
{
	const char	*errstr;
	int		 n;

	n = strtonum(optarg, lo, hi, &errstr);
	if (errstr != NULL)
		errx(2, "-%c %s: %s", ch, optarg, errstr);
	return (n);
}

/* addr[:port], port 53 if none; a bad one exits 2. */
static void
parse_hostport(const char *s, struct sockaddr_in *sin)
{
	char		 buf[64], *colon;
	const char	*errstr = NULL;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(DRIVE_PORT);
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		errx(2, "bad address %s", s);
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon++ = '\0';
		sin->sin_port = htons(strtonum(colon, 1, 65535, &errstr));
	}
	if (errstr != NULL || inet_pton(AF_INET, buf, &sin->sin_addr) != 1)
		errx(2, "bad address %s", s);
}

static void
parse_bridge(const char *s, struct in_addr *addr, int *prefix)
{
	char		 buf[64], *slash;
	const char	*errstr;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf) ||
	    (slash = strchr(buf, '/')) == NULL)
		errx(2, "bridge: want address/prefix: %s", s);
	*slash++ = '\0';
	*prefix = strtonum(slash, 8, 32, &errstr);
	if (errstr != NULL || inet_pton(AF_INET, buf, addr) != 1)
		errx(2, "bad bridge %s", s);
}

/* -B: the source address of the client sockets, any port. */
static void
parse_src(const char *s)
{
	memset(&src_addr, 0, sizeof(src_addr));
	src_addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, s, &src_addr.sin_addr) != 1)
		errx(2, "bad source address %s", s);
	src_set = 1;
}

static int
bind_sock(const struct sockaddr_in *sin, int type)
{
	int	 fd, on = 1;

	if ((fd = socket(AF_INET, type | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1)
		err(1, "bind");
	if (type == SOCK_STREAM && listen(fd, 64) == -1)
		err(1, "listen");
	return (fd);
}

static char *
read_text(const char *path)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		err(1, "%s", path);
	if ((buf = calloc(1, 65536)) == NULL)
		err(1, NULL);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return (buf);
}

/* FNV-1a over the lowercased name, without a trailing dot. */
static uint32_t
name_hash(const char *name)
{
	uint32_t	 h = 2166136261U;
	size_t		 len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	while (len-- > 0) {
		h ^= (unsigned char)(*name >= 'A' && *name <= 'Z' ?
		    *name + 32 : *name);
		h *= 16777619U;
		name++;
	}
	return (h);
}

/* The stand-in upstream's address for a name: 198.18.0.0/16. */
static uint32_t
upstream_addr(const char *name)
{
	return (0xc6120000U | (name_hash(name) & 0xffff));
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

/* serve */

static struct dns_ctx	*serve_cx;

static void
print_stats(const char *what)
{
	const struct dns_stats	*st = dns_stats(serve_cx);

	printf("%s queries=%llu answered=%llu nxdomain=%llu forwarded=%llu "
	    "relayed=%llu servfail=%llu refused=%llu malformed=%llu "
	    "truncated=%llu dropped=%llu upstream_bad=%llu tcp_refused=%llu "
	    "tcp_timeout=%llu\n", what,
	    (unsigned long long)st->ds_queries,
	    (unsigned long long)st->ds_answered,
	    (unsigned long long)st->ds_nxdomain,
	    (unsigned long long)st->ds_forwarded,
	    (unsigned long long)st->ds_relayed,
	    (unsigned long long)st->ds_servfail,
	    (unsigned long long)st->ds_refused,
	    (unsigned long long)st->ds_malformed,
	    (unsigned long long)st->ds_truncated,
	    (unsigned long long)st->ds_dropped,
	    (unsigned long long)st->ds_upstream_bad,
	    (unsigned long long)st->ds_tcp_refused,
	    (unsigned long long)st->ds_tcp_timeout);
	fflush(stdout);
}

static void
serve_signal(int sig, short ev, void *arg)
{
	if (sig == SIGUSR1) {
		print_stats("stats");
		return;
	}
	event_loopexit(NULL);
}

/* What the net worker's seccomp list must allow for the responder. */
static void
serve_seccomp(void)
{
	static const int calls[] = {
		/* the workers' common list (bangerd/shared/sandbox.c) */
		SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv),
		SCMP_SYS(writev), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
		SCMP_SYS(sendto), SCMP_SYS(close), SCMP_SYS(fcntl),
		SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
		SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl),
		SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(poll),
		SCMP_SYS(ppoll), SCMP_SYS(clock_gettime),
		SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(nanosleep),
		SCMP_SYS(clock_nanosleep), SCMP_SYS(brk), SCMP_SYS(mmap),
		SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
		SCMP_SYS(getrandom), SCMP_SYS(futex), SCMP_SYS(getpid),
		SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(rt_sigreturn),
		SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(restart_syscall), SCMP_SYS(exit),
		SCMP_SYS(exit_group),
#if defined(__SANITIZE_ADDRESS__)
		SCMP_SYS(sigaltstack), SCMP_SYS(prctl), SCMP_SYS(sched_yield),
		SCMP_SYS(mprotect), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
		SCMP_SYS(readlink), SCMP_SYS(openat), SCMP_SYS(getppid),
		SCMP_SYS(tgkill), SCMP_SYS(kill), SCMP_SYS(pipe2),
		SCMP_SYS(wait4),
#endif
		/* the responder's own (bangerd/net/dns.c) */
		SCMP_SYS(recvfrom), SCMP_SYS(accept4), SCMP_SYS(socket),
		SCMP_SYS(connect),
	};
	scmp_filter_ctx	 ctx;
	size_t		 i;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		errx(1, "seccomp_init");
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) < 0)
			errx(1, "seccomp_rule_add");
	if (seccomp_load(ctx) < 0)
		errx(1, "seccomp_load");
	seccomp_release(ctx);
}

static int
cmd_serve(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct in_addr		 bridge, a;
	struct event		 ev_usr1, ev_term, ev_int;
	const char		*domain = NULL, *resolv = NULL;
	char			*text, *eq, name[64];
	int			 ch, prefix = 0, udpfd = -1, tcpfd = -1;
	int			 gen = 0, sandbox = 0, i, havebridge = 0;
	int			 nnames = 0, idle = 0, msg = 0, peraddr = 0;
	int			 rcvbuf = 0;
	char			*names[256];

	while ((ch = getopt(argc, argv, "b:d:g:I:l:M:n:P:R:r:ST:U:")) != -1) {
		switch (ch) {
		case 'R':
			rcvbuf = num_arg(ch, 1024, 1 << 30);
			break;
		case 'I':
			idle = num_arg(ch, 1, 600000);
			break;
		case 'M':
			msg = num_arg(ch, 1, 600000);
			break;
		case 'P':
			peraddr = num_arg(ch, 1, DNS_TCP_MAX);
			break;
		case 'b':
			parse_bridge(optarg, &bridge, &prefix);
			havebridge = 1;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'g':
			gen = num_arg(ch, 0, 60000);
			break;
		case 'l':
			parse_hostport(optarg, &sin);
			udpfd = bind_sock(&sin, SOCK_DGRAM);
			tcpfd = bind_sock(&sin, SOCK_STREAM);
			break;
		case 'n':
			if (nnames == 256)
				errx(2, "too many -n");
			names[nnames++] = optarg;
			break;
		case 'r':
			resolv = optarg;
			break;
		case 'S':
			sandbox = 1;
			break;
		case 'T':
			tcpfd = num_arg(ch, 0, 1024);
			break;
		case 'U':
			udpfd = num_arg(ch, 0, 1024);
			break;
		default:
			usage();
		}
	}
	if (domain == NULL || !havebridge || (udpfd == -1 && tcpfd == -1) ||
	    (idle || msg || peraddr) != (idle && msg && peraddr))
		usage();

	if ((serve_cx = dns_new(domain, bridge, prefix)) == NULL)
		err(1, "dns_new");
	if (idle && dns_set_tcp_limits(serve_cx, idle, msg, peraddr) == -1)
		err(1, "dns_set_tcp_limits");
	if (rcvbuf && (udpfd == -1 || setsockopt(udpfd, SOL_SOCKET,
	    SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) == -1))
		err(1, "SO_RCVBUFFORCE");
	for (i = 0; i < nnames; i++) {
		if ((eq = strchr(names[i], '=')) == NULL)
			errx(2, "-n %s: want name=address", names[i]);
		*eq++ = '\0';
		if (inet_pton(AF_INET, eq, &a) != 1 ||
		    dns_set(serve_cx, names[i], a) == -1)
			errx(2, "-n %s=%s refused", names[i], eq);
	}
	for (i = 0; i < gen; i++) {
		snprintf(name, sizeof(name), "vm%d", i);
		a.s_addr = htonl((ntohl(bridge.s_addr) &
		    (0xffffffffU << (32 - prefix))) + 10 + i);
		if (dns_set(serve_cx, name, a) == -1)
			err(1, "dns_set %s", name);
	}
	if (resolv != NULL) {
		text = read_text(resolv);
		if (dns_upstreams_from_resolvconf(serve_cx, text) == -1)
			err(1, "%s", resolv);
		free(text);
	}

	log_init(1, 0);
	log_setverbose(1);
	event_init();
	signal_set(&ev_usr1, SIGUSR1, serve_signal, NULL);
	signal_set(&ev_term, SIGTERM, serve_signal, NULL);
	signal_set(&ev_int, SIGINT, serve_signal, NULL);
	signal_add(&ev_usr1, NULL);
	signal_add(&ev_term, NULL);
	signal_add(&ev_int, NULL);
	if (sandbox)
		serve_seccomp();
	if (dns_start(serve_cx, udpfd, tcpfd) == -1)
		err(1, "dns_start");
	printf("ready upstreams=%d\n", dns_upstream_count(serve_cx));
	fflush(stdout);
	event_dispatch();

	print_stats("final");
	dns_free(serve_cx);
	signal_del(&ev_usr1);
	signal_del(&ev_term);
	signal_del(&ev_int);
	if (udpfd != -1)
		close(udpfd);
	if (tcpfd != -1)
		close(tcpfd);
	return (0);
}

/* upstream */

#define UP_CONNS	4096	/* TCP connections the stand-in holds */

struct up_conn {
	TAILQ_ENTRY(up_conn)	 uc_entry;
	int			 uc_fd;
	size_t			 uc_got;
	uint8_t			 uc_in[2 + DNS_MSG_MAX];
};

/* An answer held back for -D: due in order, the delay being fixed. */
struct up_ans {
	TAILQ_ENTRY(up_ans)	 ua_entry;
	struct up_conn		*ua_conn;	/* TCP, else NULL: UDP */
	struct sockaddr_storage	 ua_ss;
	socklen_t		 ua_sslen;
	struct timespec		 ua_due;
	size_t			 ua_len;
	uint8_t			 ua_data[];	/* TCP: after its length */
};

static TAILQ_HEAD(, up_conn)	 up_conns =
				    TAILQ_HEAD_INITIALIZER(up_conns);
static TAILQ_HEAD(, up_ans)	 up_answers =
				    TAILQ_HEAD_INITIALIZER(up_answers);
static int			 up_nconns, up_delay, up_udpfd = -1;
static unsigned long		 up_udp, up_tcp;

/* The stand-in's answer to q, or -1 for none. */
static int
upstream_answer(const uint8_t *q, size_t qlen, uint8_t **wire, size_t *wlen)
{
	ldns_pkt	*pkt = NULL, *r = NULL;
	ldns_rr		*qrr, *rr;
	ldns_rdf	*lab;
	char		*name = NULL, first[64];
	uint32_t	 a;
	uint8_t		*d;
	int		 i, n = 1, ret = -1;

	if (ldns_wire2pkt(&pkt, q, qlen) != LDNS_STATUS_OK ||
	    ldns_pkt_qr(pkt) || ldns_pkt_qdcount(pkt) != 1)
		goto out;
	qrr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	name = ldns_rdf2str(ldns_rr_owner(qrr));
	first[0] = '\0';
	if ((lab = ldns_dname_label(ldns_rr_owner(qrr), 0)) != NULL) {
		d = ldns_rdf_data(lab);
		snprintf(first, sizeof(first), "%.*s", d[0], (char *)d + 1);
		ldns_rdf_deep_free(lab);
	}
	if (strncasecmp(first, "drop", 4) == 0)
		goto out;
	r = ldns_pkt_new();
	ldns_pkt_set_id(r, ldns_pkt_id(pkt));
	ldns_pkt_set_qr(r, 1);
	ldns_pkt_set_rd(r, ldns_pkt_rd(pkt));
	ldns_pkt_set_ra(r, 1);
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(qrr));
	if (strncasecmp(first, "nx", 2) == 0)
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
	else if (ldns_rr_get_type(qrr) == LDNS_RR_TYPE_A) {
		if (strncasecmp(first, "big", 3) == 0)
			n = DRIVE_BIG;
		for (i = 0; i < n; i++) {
			rr = ldns_rr_new();
			ldns_rr_set_owner(rr, ldns_rdf_clone(
			    ldns_rr_owner(qrr)));
			ldns_rr_set_type(rr, LDNS_RR_TYPE_A);
			ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
			ldns_rr_set_ttl(rr, 60);
			a = n > 1 ? htonl(0xc6120100U + i) :
			    htonl(upstream_addr(name));
			ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(
			    LDNS_RDF_TYPE_A, 4, &a));
			ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
		}
	}
	if (ldns_pkt_edns(pkt))
		ldns_pkt_set_edns_udp_size(r, 4096);
	if (ldns_pkt2wire(wire, r, wlen) == LDNS_STATUS_OK)
		ret = 0;
 out:
	free(name);
	ldns_pkt_free(pkt);
	ldns_pkt_free(r);
	return (ret);
}

/* Hold the answer to q for the delay; the UDP client at ss, or c's. */
static void
upstream_queue(struct up_conn *c, const struct sockaddr_storage *ss,
    socklen_t sslen, const uint8_t *q, size_t qlen)
{
	struct up_ans	*a;
	uint8_t		*wire;
	size_t		 wlen, off = c != NULL ? 2 : 0;

	if (upstream_answer(q, qlen, &wire, &wlen) == -1)
		return;
	if ((a = calloc(1, sizeof(*a) + off + wlen)) == NULL)
		err(1, NULL);
	a->ua_conn = c;
	if (ss != NULL) {
		memcpy(&a->ua_ss, ss, sslen);
		a->ua_sslen = sslen;
	}
	if (c != NULL) {
		a->ua_data[0] = wlen >> 8;
		a->ua_data[1] = wlen & 0xff;
	}
	memcpy(a->ua_data + off, wire, wlen);
	a->ua_len = off + wlen;
	free(wire);
	clock_gettime(CLOCK_MONOTONIC, &a->ua_due);
	a->ua_due.tv_sec += up_delay / 1000;
	a->ua_due.tv_nsec += (up_delay % 1000) * 1000000L;
	if (a->ua_due.tv_nsec >= 1000000000L) {
		a->ua_due.tv_sec++;
		a->ua_due.tv_nsec -= 1000000000L;
	}
	TAILQ_INSERT_TAIL(&up_answers, a, ua_entry);
}

static void
upstream_close(struct up_conn *c)
{
	struct up_ans	*a, *next;

	for (a = TAILQ_FIRST(&up_answers); a != NULL; a = next) {
		next = TAILQ_NEXT(a, ua_entry);
		if (a->ua_conn == c) {
			TAILQ_REMOVE(&up_answers, a, ua_entry);
			free(a);
		}
	}
	close(c->uc_fd);
	TAILQ_REMOVE(&up_conns, c, uc_entry);
	up_nconns--;
	free(c);
}

/* The answers that are due; ms until the next one, or -1 if none. */
static int
upstream_flush(void)
{
	struct up_ans	*a;
	struct up_conn	*c;
	struct timespec	 now;
	long		 ms;
	int		 bad;

	while ((a = TAILQ_FIRST(&up_answers)) != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (a->ua_due.tv_sec - now.tv_sec) * 1000 +
		    (a->ua_due.tv_nsec - now.tv_nsec) / 1000000;
		if (ms > 0)
			return (ms);
		TAILQ_REMOVE(&up_answers, a, ua_entry);
		if ((c = a->ua_conn) == NULL) {
			sendto(up_udpfd, a->ua_data, a->ua_len, 0,
			    (struct sockaddr *)&a->ua_ss, a->ua_sslen);
			free(a);
			continue;
		}
		/* Small answers to a reader: a blocking write is fine. */
		bad = write(c->uc_fd, a->ua_data, a->ua_len) !=
		    (ssize_t)a->ua_len;
		free(a);
		if (bad)
			upstream_close(c);
	}
	return (-1);
}

/* Read what c sent; queue an answer to every whole query. */
static void
upstream_read(struct up_conn *c)
{
	size_t	 need;
	ssize_t	 n;

	n = read(c->uc_fd, c->uc_in + c->uc_got, sizeof(c->uc_in) - c->uc_got);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		upstream_close(c);
		return;
	}
	c->uc_got += n;
	while (c->uc_got >= 2 &&
	    c->uc_got >= (need = 2 + ((c->uc_in[0] << 8) | c->uc_in[1]))) {
		up_tcp++;
		upstream_queue(c, NULL, 0, c->uc_in + 2, need - 2);
		memmove(c->uc_in, c->uc_in + need, c->uc_got - need);
		c->uc_got -= need;
	}
}

static void
upstream_accept(int tcpfd)
{
	struct up_conn	*c;
	int		 s;

	while (up_nconns < UP_CONNS &&
	    (s = accept4(tcpfd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			err(1, NULL);
		c->uc_fd = s;
		TAILQ_INSERT_TAIL(&up_conns, c, uc_entry);
		up_nconns++;
	}
}

/* Room for every descriptor the hard limit allows. */
static void
nofile_raise(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
cmd_upstream(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct sockaddr_storage	 ss;
	struct pollfd		*pfd;
	struct up_conn		*c, *next;
	struct up_ans		*a;
	struct sigaction	 sa;
	socklen_t		 sslen;
	uint8_t			 buf[DNS_MSG_MAX];
	ssize_t			 n;
	int			 ch, tcpfd = -1, i, npfd, timeout;

	while ((ch = getopt(argc, argv, "D:l:")) != -1) {
		switch (ch) {
		case 'D':
			up_delay = num_arg(ch, 0, 60000);
			break;
		case 'l':
			parse_hostport(optarg, &sin);
			up_udpfd = bind_sock(&sin, SOCK_DGRAM);
			tcpfd = bind_sock(&sin, SOCK_STREAM);
			break;
		default:
			usage();
		}
	}
	if (up_udpfd == -1)
		usage();
	nofile_raise();
	/* Many forwarders' connections at once: a backlog to hold them. */
	if (listen(tcpfd, UP_CONNS) == -1 ||
	    fcntl(tcpfd, F_SETFL, O_NONBLOCK) == -1)
		err(1, "listen");
	if ((pfd = calloc(2 + UP_CONNS, sizeof(*pfd))) == NULL)
		err(1, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("ready\n");
	fflush(stdout);
	while (!got_term) {
		if (got_usr1) {
			got_usr1 = 0;
			printf("upstream udp=%lu tcp=%lu\n", up_udp, up_tcp);
			fflush(stdout);
		}
		timeout = upstream_flush();
		if (timeout == -1 || timeout > 1000)
			timeout = 1000;
		pfd[0].fd = up_udpfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = up_nconns < UP_CONNS ? tcpfd : -1;
		pfd[1].events = POLLIN;
		npfd = 2;
		TAILQ_FOREACH(c, &up_conns, uc_entry) {
			pfd[npfd].fd = c->uc_fd;
			pfd[npfd++].events = POLLIN;
		}
		if (poll(pfd, npfd, timeout) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		/* The list as pfd has it: accepted ones join only below. */
		for (i = 2, c = TAILQ_FIRST(&up_conns); c != NULL;
		    c = next, i++) {
			next = TAILQ_NEXT(c, uc_entry);
			if (pfd[i].revents != 0)
				upstream_read(c);
		}
		for (i = 0; (pfd[0].revents & POLLIN) && i < 64; i++) {
			sslen = sizeof(ss);
			if ((n = recvfrom(up_udpfd, buf, sizeof(buf),
			    MSG_DONTWAIT, (struct sockaddr *)&ss,
			    &sslen)) <= 0)
				break;
			up_udp++;
			upstream_queue(NULL, &ss, sslen, buf, n);
		}
		if (pfd[1].revents & POLLIN)
			upstream_accept(tcpfd);
	}
	printf("upstream udp=%lu tcp=%lu\n", up_udp, up_tcp);
	while ((c = TAILQ_FIRST(&up_conns)) != NULL)
		upstream_close(c);
	while ((a = TAILQ_FIRST(&up_answers)) != NULL) {
		TAILQ_REMOVE(&up_answers, a, ua_entry);
		free(a);
	}
	free(pfd);
	close(up_udpfd);
	close(tcpfd);
	return (0);
}

/* query */

static int
connect_to(const struct sockaddr_in *sin, int type)
{
	struct timeval	 tv = { 5, 0 };
	int		 fd;

	if ((fd = socket(AF_INET, type | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (src_set && bind(fd, (const struct sockaddr *)&src_addr,
	    sizeof(src_addr)) == -1)
		err(1, "bind %s", inet_ntoa(src_addr.sin_addr));
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1)
		err(1, "connect");
	return (fd);
}

static int
read_full(int fd, uint8_t *buf, size_t len)
{
	ssize_t	 n;
	size_t	 got;

	for (got = 0; got < len; got += n)
		if ((n = read(fd, buf + got, len - got)) <= 0)
			return (-1);
	return (0);
}

static int
cmd_query(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	ldns_pkt		*q = NULL, *r = NULL;
	ldns_rr_type		 type;
	ldns_rr_list		*an;
	uint8_t			*wire, buf[2 + DNS_MSG_MAX];
	size_t			 wlen, i;
	ssize_t			 n;
	char			*s, opt[16];
	const char		*file = NULL;
	int			 ch, tcp = 0, edns = 0, id = -1, fd, have = 0;
	int			 count = 0;
	uint16_t		 qid;

	while ((ch = getopt(argc, argv, "B:c:e:f:i:s:t")) != -1) {
		switch (ch) {
		case 'B':
			parse_src(optarg);
			break;
		case 'c':
			count = num_arg(ch, 1, 1000);
			break;
		case 'e':
			edns = num_arg(ch, 512, 65535);
			break;
		case 'f':
			file = optarg;
			break;
		case 'i':
			id = num_arg(ch, 0, 65535);
			break;
		case 's':
			parse_hostport(optarg, &sin);
			have = 1;
			break;
		case 't':
			tcp = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (file != NULL && argc == 0 && have && count == 0) {
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
			err(1, "%s", file);
		if ((n = read(fd, buf, sizeof(buf))) < LDNS_HEADER_SIZE)
			errx(1, "%s: no DNS header", file);
		close(fd);
		if ((wire = malloc(n)) == NULL)
			err(1, NULL);
		memcpy(wire, buf, n);
		wlen = n;
		qid = LDNS_ID_WIRE(wire);
		goto send;
	}
	if (argc != 2 || !have || file != NULL)
		usage();
	if ((type = ldns_get_rr_type_by_name(argv[1])) == 0)
		errx(2, "unknown type %s", argv[1]);
	if (ldns_pkt_query_new_frm_str(&q, argv[0], type, LDNS_RR_CLASS_IN,
	    LDNS_RD) != LDNS_STATUS_OK)
		errx(2, "bad name %s", argv[0]);
	ldns_pkt_set_id(q, id == -1 ? arc4random_uniform(65536) : (uint32_t)id);
	if (edns)
		ldns_pkt_set_edns_udp_size(q, edns);
	if (ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK)
		errx(1, "pkt2wire");
	qid = ldns_pkt_id(q);
	if (count > 0) {
		if (!tcp)
			errx(2, "-c needs -t");
		ch = query_pipelined(&sin, wire, wlen, count);
		free(wire);
		ldns_pkt_free(q);
		return (ch);
	}


 send:
	fd = connect_to(&sin, tcp ? SOCK_STREAM : SOCK_DGRAM);
	if (tcp) {
		buf[0] = wlen >> 8;
		buf[1] = wlen & 0xff;
		memcpy(buf + 2, wire, wlen);
		if (write(fd, buf, wlen + 2) != (ssize_t)wlen + 2)
			err(1, "write");
		if (read_full(fd, buf, 2) == -1)
			errx(1, "no answer");
		n = (buf[0] << 8) | buf[1];
		if (read_full(fd, buf, n) == -1)
			errx(1, "short answer");
	} else {
		if (write(fd, wire, wlen) != (ssize_t)wlen)
			err(1, "write");
		if ((n = read(fd, buf, sizeof(buf))) == -1)
			errx(1, "no answer");
	}
	close(fd);
	free(wire);
	if (ldns_wire2pkt(&r, buf, n) != LDNS_STATUS_OK)
		errx(1, "answer does not parse");
	if (ldns_pkt_id(r) != qid)
		errx(1, "answer id %u, query id %u", ldns_pkt_id(r), qid);
	s = ldns_pkt_rcode2str(ldns_pkt_get_rcode(r));
	if (ldns_pkt_edns(r))
		snprintf(opt, sizeof(opt), "%u", ldns_pkt_edns_udp_size(r));
	else
		strlcpy(opt, "none", sizeof(opt));
	printf("rcode=%s flags=%s%s%s%s%s an=%u ns=%u ar=%u size=%zd "
	    "opt=%s\n", s,
	    ldns_pkt_qr(r) ? "qr," : "", ldns_pkt_aa(r) ? "aa," : "",
	    ldns_pkt_tc(r) ? "tc," : "", ldns_pkt_rd(r) ? "rd," : "",
	    ldns_pkt_ra(r) ? "ra," : "", ldns_pkt_ancount(r),
	    ldns_pkt_nscount(r), ldns_pkt_arcount(r), n, opt);
	free(s);
	an = ldns_pkt_answer(r);
	for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
		s = ldns_rr2str(ldns_rr_list_rr(an, i));
		printf("%s", s);
		free(s);
	}
	an = ldns_pkt_authority(r);
	for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
		s = ldns_rr2str(ldns_rr_list_rr(an, i));
		printf("ns: %s", s);
		free(s);
	}
	ldns_pkt_free(q);
	ldns_pkt_free(r);
	return (0);
}

/* count copies of a query (IDs 0..count-1) in one write, on one connection */
static int
query_pipelined(const struct sockaddr_in *sin, const uint8_t *wire,
    size_t wlen, int count)
{
	uint8_t		*out, buf[DNS_MSG_MAX], seen[1000];
	size_t		 off = 0, n;
	int		 i, fd, answered = 0;

	if ((out = malloc(count * (2 + wlen))) == NULL)
		err(1, NULL);
	for (i = 0; i < count; i++) {
		out[off] = wlen >> 8;
		out[off + 1] = wlen & 0xff;
		memcpy(out + off + 2, wire, wlen);
		out[off + 2] = i >> 8;
		out[off + 3] = i & 0xff;
		off += 2 + wlen;
	}
	fd = connect_to(sin, SOCK_STREAM);
	if (write(fd, out, off) != (ssize_t)off)
		err(1, "write");
	free(out);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < count; i++) {
		if (read_full(fd, buf, 2) == -1)
			break;
		n = (buf[0] << 8) | buf[1];
		if (n < LDNS_HEADER_SIZE || read_full(fd, buf, n) == -1)
			break;
		n = LDNS_ID_WIRE(buf);
		if (n < (size_t)count && !seen[n]) {
			seen[n] = 1;
			answered++;
		}
	}
	close(fd);
	printf("pipelined sent=%d answered=%d\n", count, answered);
	return (answered == count ? 0 : 1);
}

static int
cmd_idle(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct pollfd		 pfd;
	struct timespec		 t0;
	uint8_t			 b;
	int			 ch, fd, have = 0, secs = 15;

	while ((ch = getopt(argc, argv, "s:w:")) != -1) {
		switch (ch) {
		case 's':
			parse_hostport(optarg, &sin);
			have = 1;
			break;
		case 'w':
			secs = num_arg(ch, 1, 600);
			break;
		default:
			usage();
		}
	}
	if (!have)
		usage();
	fd = connect_to(&sin, SOCK_STREAM);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, secs * 1000) == 1 && read(fd, &b, 1) <= 0)
		printf("closed after %ld s\n", (ms_since(&t0) + 500) / 1000);
	else
		printf("open after %d s\n", secs);
	close(fd);
	return (0);
}

/* hold */

struct hc {
	int		 fd;		/* -1 once closed */
	size_t		 sent;		/* bytes of the current query */
	size_t		 got;		/* bytes of the current answer */
	uint8_t		 in[2 + DNS_MSG_MAX];
	long		 closed_ms;
};

/* Read what there is; -1 once the server closed the connection. */
static int
hold_read(struct hc *h, int *answered)
{
	ssize_t	 n;
	size_t	 need;

	for (;;) {
		n = recv(h->fd, h->in + h->got, sizeof(h->in) - h->got,
		    MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return (0);
		if (n <= 0)
			return (-1);
		h->got += n;
		while (h->got >= 2 && h->got >= (need = 2 +
		    ((h->in[0] << 8) | h->in[1]))) {
			(*answered)++;
			memmove(h->in, h->in + need, h->got - need);
			h->got -= need;
		}
	}
}

static int
cmd_hold(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct timespec		 t0, ts;
	struct sigaction	 sa;
	struct hc		*h;
	ldns_pkt		*q = NULL;
	uint8_t			*wire, *msg;
	size_t			 wlen, mlen, chunk;
	long			 now, first = -1, last = -1;
	int			 ch, have = 0, conns = 0, every = 500, secs = 5;
	int			 drip = 0, i, open, closed = 0, answered = 0;
	int			 empty = 0;

	while ((ch = getopt(argc, argv, "B:bi:n:s:w:z")) != -1) {
		switch (ch) {
		case 'z':
			empty = 1;
			break;
		case 'B':
			parse_src(optarg);
			break;
		case 'b':
			drip = 1;
			break;
		case 'i':
			every = num_arg(ch, 1, 60000);
			break;
		case 'n':
			conns = num_arg(ch, 1, 1000);
			break;
		case 's':
			parse_hostport(optarg, &sin);
			have = 1;
			break;
		case 'w':
			secs = num_arg(ch, 1, 600);
			break;
		default:
			usage();
		}
	}
	if (!have || conns == 0)
		usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (ldns_pkt_query_new_frm_str(&q, "vm.internal.", LDNS_RR_TYPE_A,
	    LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK ||
	    ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK)
		errx(1, "cannot build the query");
	ldns_pkt_free(q);
	mlen = 2 + wlen;
	if ((msg = malloc(mlen)) == NULL ||
	    (h = calloc(conns, sizeof(*h))) == NULL)
		err(1, NULL);
	if (empty)
		wlen = 0;
	msg[0] = wlen >> 8;
	msg[1] = wlen & 0xff;
	memcpy(msg + 2, wire, wlen);
	mlen = 2 + wlen;
	free(wire);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < conns; i++) {
		h[i].fd = connect_to(&sin, SOCK_STREAM);
		h[i].closed_ms = -1;
	}
	ts.tv_sec = every / 1000;
	ts.tv_nsec = (every % 1000) * 1000000L;
	while ((now = ms_since(&t0)) < secs * 1000L) {
		for (i = 0; i < conns; i++) {
			if (h[i].fd == -1)
				continue;
			chunk = drip ? 1 : mlen - h[i].sent;
			if (hold_read(&h[i], &answered) == -1 ||
			    send(h[i].fd, msg + h[i].sent, chunk,
			    MSG_NOSIGNAL | MSG_DONTWAIT) == -1) {
				close(h[i].fd);
				h[i].fd = -1;
				h[i].closed_ms = now;
				if (first == -1)
					first = now;
				last = now;
				closed++;
				continue;
			}
			h[i].sent = (h[i].sent + chunk) % mlen;
		}
		nanosleep(&ts, NULL);
	}
	for (open = 0, i = 0; i < conns; i++) {
		if (h[i].fd == -1)
			continue;
		if (hold_read(&h[i], &answered) == -1) {
			closed++;
			last = ms_since(&t0);
			if (first == -1)
				first = last;
		} else
			open++;
		close(h[i].fd);
	}
	printf("hold open=%d closed=%d answered=%d first_close_ms=%ld "
	    "last_close_ms=%ld\n", open, closed, answered, first, last);
	free(h);
	free(msg);
	return (0);
}

/* burst */

struct bq {
	char		 name[128];
	uint32_t	 want;		/* host order */
	struct timespec	 sent;
	int		 tries;
	int		 state;		/* 0 unsent, 1 in flight, 2 done */
};

static long
ms_since(const struct timespec *t)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000);
}

static int
burst_send(int fd, struct bq *b, int idx)
{
	ldns_pkt	*q = NULL;
	uint8_t		*wire;
	size_t		 wlen;
	int		 ret = 0;

	if (ldns_pkt_query_new_frm_str(&q, b->name, LDNS_RR_TYPE_A,
	    LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
		errx(1, "query %s", b->name);
	ldns_pkt_set_id(q, idx);
	if (ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK)
		errx(1, "pkt2wire");
	if (send(fd, wire, wlen, 0) != (ssize_t)wlen)
		ret = -1;
	free(wire);
	ldns_pkt_free(q);
	clock_gettime(CLOCK_MONOTONIC, &b->sent);
	b->tries++;
	b->state = 1;
	return (ret);
}

/* 1 if the answer is the right one for b. */
static int
burst_check(const ldns_pkt *r, const struct bq *b, char *why, size_t len)
{
	ldns_rr		*rr;
	ldns_rdf	*want;
	uint32_t	 a;

	want = ldns_dname_new_frm_str(b->name);
	if (!ldns_pkt_qr(r) || ldns_pkt_get_rcode(r) != LDNS_RCODE_NOERROR ||
	    ldns_pkt_qdcount(r) != 1 || ldns_pkt_ancount(r) != 1) {
		snprintf(why, len, "rcode %d an %d", ldns_pkt_get_rcode(r),
		    ldns_pkt_ancount(r));
		goto bad;
	}
	if (ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(
	    ldns_pkt_question(r), 0)), want) != 0) {
		snprintf(why, len, "wrong question");
		goto bad;
	}
	rr = ldns_rr_list_rr(ldns_pkt_answer(r), 0);
	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_A ||
	    ldns_rr_rd_count(rr) != 1 ||
	    ldns_rdf_size(ldns_rr_rdf(rr, 0)) != 4) {
		snprintf(why, len, "not one A record");
		goto bad;
	}
	memcpy(&a, ldns_rdf_data(ldns_rr_rdf(rr, 0)), 4);
	if (ntohl(a) != b->want) {
		snprintf(why, len, "address %08x, want %08x", ntohl(a),
		    b->want);
		goto bad;
	}
	ldns_rdf_deep_free(want);
	return (1);
 bad:
	ldns_rdf_deep_free(want);
	return (0);
}

static int
cmd_burst(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct in_addr		 bridge;
	struct pollfd		 pfd;
	struct bq		*b;
	ldns_pkt		*r;
	const char		*domain = NULL;
	uint8_t			 buf[DNS_MSG_MAX];
	char			 why[128];
	uint32_t		 net;
	ssize_t			 n;
	int			 ch, count = 0, names = 100, window = 32;
	int			 every = 0, prefix = 0, have = 0;
	int			 havebridge = 0, i, next = 0, inflight = 0;
	int			 done = 0, fd, ok = 0, wrong = 0, lost = 0;
	int			 retries = 0, dups = 0;

	while ((ch = getopt(argc, argv, "b:d:f:g:n:s:w:")) != -1) {
		switch (ch) {
		case 'b':
			parse_bridge(optarg, &bridge, &prefix);
			havebridge = 1;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'f':
			every = num_arg(ch, 0, 1000);
			break;
		case 'g':
			names = num_arg(ch, 1, 60000);
			break;
		case 'n':
			count = num_arg(ch, 1, 65535);
			break;
		case 's':
			parse_hostport(optarg, &sin);
			have = 1;
			break;
		case 'w':
			window = num_arg(ch, 1, 4096);
			break;
		default:
			usage();
		}
	}
	if (!have || !havebridge || domain == NULL || count == 0)
		usage();
	if ((b = calloc(count, sizeof(*b))) == NULL)
		err(1, NULL);
	net = ntohl(bridge.s_addr) & (0xffffffffU << (32 - prefix));
	for (i = 0; i < count; i++) {
		if (every > 0 && i % every == every - 1) {
			snprintf(b[i].name, sizeof(b[i].name),
			    "h%d.example.com.", i);
			b[i].want = upstream_addr(b[i].name);
		} else {
			/* Odd ones in capitals: names are case-blind. */
			snprintf(b[i].name, sizeof(b[i].name), "%s%d.%s.",
			    i % 2 ? "VM" : "vm", i % names, domain);
			b[i].want = net + 10 + i % names;
		}
	}
	fd = connect_to(&sin, SOCK_DGRAM);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (done < count) {
		while (inflight < window && next < count) {
			burst_send(fd, &b[next], next);
			next++;
			inflight++;
		}
		if (poll(&pfd, 1, 50) == -1 && errno != EINTR)
			err(1, "poll");
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			r = NULL;
			if (ldns_wire2pkt(&r, buf, n) != LDNS_STATUS_OK) {
				wrong++;
				continue;
			}
			i = ldns_pkt_id(r);
			if (i >= count || b[i].state != 1) {
				dups++;		/* a resent query's twin */
				ldns_pkt_free(r);
				continue;
			}
			if (burst_check(r, &b[i], why, sizeof(why)))
				ok++;
			else {
				wrong++;
				if (wrong <= 5)
					fprintf(stderr, "burst: %s: %s\n",
					    b[i].name, why);
			}
			b[i].state = 2;
			inflight--;
			done++;
			ldns_pkt_free(r);
		}
		for (i = 0; i < next; i++) {
			if (b[i].state != 1 || ms_since(&b[i].sent) <
			    BURST_TIMEOUT)
				continue;
			if (b[i].tries >= BURST_TRIES) {
				fprintf(stderr, "burst: %s: no answer after "
				    "%d tries\n", b[i].name, b[i].tries);
				b[i].state = 2;
				lost++;
				inflight--;
				done++;
				continue;
			}
			burst_send(fd, &b[i], i);
			retries++;
		}
	}
	close(fd);
	printf("burst sent=%d ok=%d wrong=%d lost=%d retries=%d dups=%d\n",
	    count, ok, wrong, lost, retries, dups);
	free(b);
	return (wrong == 0 && lost == 0 && ok == count ? 0 : 1);
}

/* flood */

/* Read the answers there are; each ID counts once. */
static void
flood_read(int fd, uint8_t *seen, int count, int *answered)
{
	uint8_t	 buf[DNS_MSG_MAX];
	ssize_t	 n;
	int	 id;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >=
	    LDNS_HEADER_SIZE) {
		id = LDNS_ID_WIRE(buf);
		if (id < count && !seen[id]) {
			seen[id] = 1;
			(*answered)++;
		}
	}
}

static int
cmd_flood(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct pollfd		 pfd;
	struct timespec		 t0;
	ldns_pkt		*q = NULL;
	const char		*domain = "vm.internal";
	uint8_t			*wire, *seen;
	char			 name[300];
	size_t			 wlen;
	int			 ch, have = 0, count = 0, names = 100, fd, i;
	int			 answered = 0, big = 256 << 20;

	while ((ch = getopt(argc, argv, "d:g:n:s:")) != -1) {
		switch (ch) {
		case 'd':
			domain = optarg;
			break;
		case 'g':
			names = num_arg(ch, 1, 60000);
			break;
		case 'n':
			count = num_arg(ch, 1, 65535);
			break;
		case 's':
			parse_hostport(optarg, &sin);
			have = 1;
			break;
		default:
			usage();
		}
	}
	if (!have || count == 0)
		usage();
	if ((seen = calloc(count, 1)) == NULL)
		err(1, NULL);
	fd = connect_to(&sin, SOCK_DGRAM);
	/* Room for every answer here: losses are the server's only. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big,
	    sizeof(big)) == -1)
		err(1, "SO_RCVBUFFORCE");
	for (i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "vm%d.%s.", i % names, domain);
		if (ldns_pkt_query_new_frm_str(&q, name, LDNS_RR_TYPE_A,
		    LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
			errx(1, "query %s", name);
		ldns_pkt_set_id(q, i);
		if (ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK)
			errx(1, "pkt2wire");
		if (send(fd, wire, wlen, 0) != (ssize_t)wlen)
			err(1, "send");
		free(wire);
		ldns_pkt_free(q);
		flood_read(fd, seen, count, &answered);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (answered < count && ms_since(&t0) < 2000) {
		poll(&pfd, 1, 100);
		flood_read(fd, seen, count, &answered);
	}
	close(fd);
	printf("flood sent=%d answered=%d lost=%d loss=%.1f%%\n", count,
	    answered, count - answered, 100.0 * (count - answered) / count);
	free(seen);
	return (0);
}

/* pipeline */

struct pl {
	int		 fd;		/* -1 once done or closed */
	int		 connected;
	int		 answered;
	size_t		 got;
	uint8_t		*seen;		/* by query ID */
	uint8_t		 in[2 + DNS_MSG_MAX];
};

/* The descriptors process pid holds, or -1. */
static int
fd_count(pid_t pid)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

/* Query idx of connection conn: a name outside any domain of ours. */
static void
pipeline_name(char *buf, size_t len, int conn, int idx)
{
	snprintf(buf, len, "p%d-%d.example.com.", conn, idx);
}

/* conn's count queries, IDs 0..count-1, in one write. */
static int
pipeline_send(int fd, int conn, int count)
{
	ldns_pkt	*q;
	uint8_t		*out, *wire;
	char		 name[128];
	size_t		 off = 0, wlen;
	int		 i, ret;

	if ((out = malloc(count * (2 + 128 + LDNS_HEADER_SIZE + 4))) == NULL)
		err(1, NULL);
	for (i = 0; i < count; i++) {
		q = NULL;
		pipeline_name(name, sizeof(name), conn, i);
		if (ldns_pkt_query_new_frm_str(&q, name, LDNS_RR_TYPE_A,
		    LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
			errx(1, "query %s", name);
		ldns_pkt_set_id(q, i);
		if (ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK)
			errx(1, "pkt2wire");
		out[off] = wlen >> 8;
		out[off + 1] = wlen & 0xff;
		memcpy(out + off + 2, wire, wlen);
		off += 2 + wlen;
		free(wire);
		ldns_pkt_free(q);
	}
	ret = send(fd, out, off, MSG_NOSIGNAL) == (ssize_t)off ? 0 : -1;
	free(out);
	return (ret);
}

/* Count the answers read on p; -1 once the server closed it. */
static int
pipeline_read(struct pl *p, int conn, int count, int *rc, int *wrong)
{
	struct bq	 b;
	ldns_pkt	*r;
	char		 why[128];
	size_t		 need;
	ssize_t		 n;
	int		 id;

	for (;;) {
		n = recv(p->fd, p->in + p->got, sizeof(p->in) - p->got,
		    MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return (0);
		if (n <= 0)
			return (-1);
		p->got += n;
		while (p->got >= 2 && p->got >= (need = 2 +
		    ((p->in[0] << 8) | p->in[1]))) {
			r = NULL;
			if (need - 2 < LDNS_HEADER_SIZE ||
			    ldns_wire2pkt(&r, p->in + 2, need - 2) !=
			    LDNS_STATUS_OK ||
			    (id = ldns_pkt_id(r)) >= count || p->seen[id])
				(*wrong)++;
			else {
				p->seen[id] = 1;
				p->answered++;
				rc[ldns_pkt_get_rcode(r) & 0xf]++;
				memset(&b, 0, sizeof(b));
				pipeline_name(b.name, sizeof(b.name), conn,
				    id);
				b.want = upstream_addr(b.name);
				if (ldns_pkt_get_rcode(r) ==
				    LDNS_RCODE_NOERROR &&
				    !burst_check(r, &b, why, sizeof(why))) {
					(*wrong)++;
					if (*wrong <= 5)
						fprintf(stderr, "pipeline: "
						    "%s: %s\n", b.name, why);
				}
			}
			ldns_pkt_free(r);
			memmove(p->in, p->in + need, p->got - need);
			p->got -= need;
		}
	}
}

static int
cmd_pipeline(int argc, char **argv)
{
	struct sockaddr_in	 sin, src[16];
	struct pollfd		*pfd;
	struct timespec		 t0;
	struct pl		*p;
	socklen_t		 len;
	long			 last = 0;
	pid_t			 watch = 0;
	int			 ch, have = 0, conns = 0, count = 0, secs = 10;
	int			 nsrc = 0, i, open, closed = 0, answered = 0;
	int			 wrong = 0, rc[16], peak = -1, before = -1, n;
	int			 e, other;

	memset(rc, 0, sizeof(rc));
	while ((ch = getopt(argc, argv, "B:c:n:p:s:w:")) != -1) {
		switch (ch) {
		case 'B':
			if (nsrc == 16)
				errx(2, "too many -B");
			parse_src(optarg);
			src[nsrc++] = src_addr;
			break;
		case 'c':
			count = num_arg(ch, 1, 1000);
			break;
		case 'n':
			conns = num_arg(ch, 1, 1000);
			break;
		case 'p':
			watch = num_arg(ch, 1, INT_MAX);
			break;
		case 's':
			parse_hostport(optarg, &sin);
			have = 1;
			break;
		case 'w':
			secs = num_arg(ch, 1, 600);
			break;
		default:
			usage();
		}
	}
	if (!have || conns == 0 || count == 0)
		usage();
	nofile_raise();
	if ((p = calloc(conns, sizeof(*p))) == NULL ||
	    (pfd = calloc(conns, sizeof(*pfd))) == NULL)
		err(1, NULL);
	if (watch)
		before = peak = fd_count(watch);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < conns; i++) {
		if ((p[i].seen = calloc(count, 1)) == NULL)
			err(1, NULL);
		if ((p[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			err(1, "socket");
		if (nsrc > 0 && bind(p[i].fd, (struct sockaddr *)
		    &src[i % nsrc], sizeof(src[0])) == -1)
			err(1, "bind %s", inet_ntoa(src[i % nsrc].sin_addr));
		if (connect(p[i].fd, (struct sockaddr *)&sin,
		    sizeof(sin)) == -1 && errno != EINPROGRESS)
			err(1, "connect");
	}
	for (;;) {
		for (open = 0, i = 0; i < conns; i++) {
			pfd[i].fd = p[i].fd;
			pfd[i].events = p[i].connected ? POLLIN : POLLOUT;
			if (p[i].fd != -1)
				open++;
		}
		if (open == 0 || ms_since(&t0) >= secs * 1000L)
			break;
		if (poll(pfd, conns, 10) == -1 && errno != EINTR)
			err(1, "poll");
		if (watch && (n = fd_count(watch)) > peak)
			peak = n;
		for (i = 0; i < conns; i++) {
			if (p[i].fd == -1 || pfd[i].revents == 0)
				continue;
			if (!p[i].connected) {
				len = sizeof(e);
				if (getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR,
				    &e, &len) == -1 || e != 0 ||
				    pipeline_send(p[i].fd, i, count) == -1)
					goto closed;
				p[i].connected = 1;
				continue;
			}
			n = pipeline_read(&p[i], i, count, rc, &wrong);
			if (p[i].answered == count) {
				last = ms_since(&t0);
				close(p[i].fd);
				p[i].fd = -1;
				continue;
			}
			if (n == 0)
				continue;
 closed:
			close(p[i].fd);
			p[i].fd = -1;
			closed++;
		}
	}
	for (i = 0; i < conns; i++) {
		if (p[i].fd != -1)
			close(p[i].fd);
		answered += p[i].answered;
		free(p[i].seen);
	}
	for (other = 0, i = 0; i < 16; i++)
		if (i != LDNS_RCODE_NOERROR && i != LDNS_RCODE_SERVFAIL)
			other += rc[i];
	printf("pipeline conns=%d sent=%d answered=%d noerror=%d "
	    "servfail=%d other=%d wrong=%d closed=%d ms=%ld", conns,
	    conns * count, answered, rc[LDNS_RCODE_NOERROR],
	    rc[LDNS_RCODE_SERVFAIL], other, wrong, closed, last);
	if (watch)
		printf(" fds_before=%d fds_peak=%d", before, peak);
	printf("\n");
	free(p);
	free(pfd);
	return (answered == conns * count && wrong == 0 &&
	    rc[LDNS_RCODE_NOERROR] == answered ? 0 : 1);
}

/* send */

static int
cmd_send(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct timespec		 ts = { 0, 2000000 };
	uint8_t			 buf[DNS_MSG_MAX];
	ssize_t			 n;
	int			 ch, fd, in, i, have = 0, sent = 0;

	while ((ch = getopt(argc, argv, "s:")) != -1) {
		switch (ch) {
		case 's':
			parse_hostport(optarg, &sin);
			have = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (!have)
		usage();
	fd = connect_to(&sin, SOCK_DGRAM);
	for (i = 0; i < argc; i++) {
		if ((in = open(argv[i], O_RDONLY | O_CLOEXEC)) == -1)
			err(1, "%s", argv[i]);
		if ((n = read(in, buf, sizeof(buf))) == -1)
			err(1, "%s", argv[i]);
		close(in);
		if (send(fd, buf, n, 0) != n)
			err(1, "send %s", argv[i]);
		sent++;
		nanosleep(&ts, NULL);
	}
	close(fd);
	printf("sent %d\n", sent);
	return (0);
}

int
main(int argc, char *argv[])
{
	const char	*cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "serve") == 0)
		return (cmd_serve(argc, argv));
	if (strcmp(cmd, "upstream") == 0)
		return (cmd_upstream(argc, argv));
	if (strcmp(cmd, "query") == 0)
		return (cmd_query(argc, argv));
	if (strcmp(cmd, "burst") == 0)
		return (cmd_burst(argc, argv));
	if (strcmp(cmd, "send") == 0)
		return (cmd_send(argc, argv));
	if (strcmp(cmd, "idle") == 0)
		return (cmd_idle(argc, argv));
	if (strcmp(cmd, "hold") == 0)
		return (cmd_hold(argc, argv));
	if (strcmp(cmd, "flood") == 0)
		return (cmd_flood(argc, argv));
	if (strcmp(cmd, "pipeline") == 0)
		return (cmd_pipeline(argc, argv));
	usage();
}

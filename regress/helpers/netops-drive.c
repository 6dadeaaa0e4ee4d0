/*
 * netops-drive: call bangerd's network operations (bangerd/parent/netops.c,
 * tap.c, nat.c, resolver.c) from the command line, for
 * regress/parent/netops.sh.
 *
 *	netops-drive [-v] command args [command args ...]
 *
 *	bridge-ensure NAME ADDR PREFIX
 *	bridge-remove NAME
 *	tap-create TAP BRIDGE UID GID
 *	tap-delete TAP
 *	taps-delete COUNT TAP...	prints "TAP ok" or "TAP STRERROR" each
 *	taps-retire COUNT TAP...	the same, keeping spares while there
 *				is room (as bangerd's reaper does)
 *	spares-clear		deletes every spare tap of ours
 *	nat-apply BRIDGE ADDR/PREFIX EGRESS PUBLISH
 *		EGRESS "-" for none; PUBLISH "-" for none, or a comma
 *		separated list of PROTO:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT
 *		(PROTO tcp, udp or a number; HOSTADDR 0.0.0.0 for any)
 *	nat-clear
 *	nat-exists		prints "nat-exists 0" or "nat-exists 1"
 *	resolver-route BRIDGE DNS DOMAIN	prints "resolver-route active=N"
 *	resolver-clear BRIDGE
 *	sh COMMAND		runs COMMAND with sh -c, between two of ours
 *				in this process (as another program would)
 *
 * Commands run in order; the first that fails ends the program with
 * status 1 and "netops-drive: COMMAND: STRERROR" on stderr.  Bad usage
 * exits 2.  Log messages go to stderr; -v adds the debug ones.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "parent/netops.h"

#define PUBLISH_MAX	16

static __attribute__((__noreturn__)) void usage(const char *);
static long	number(const char *, long, long);
static struct in_addr addr(const char *);
static void	name(char *, size_t, const char *);
static size_t	publish_parse(char *, struct nat_publish *, size_t);

static __attribute__((__noreturn__)) void
usage(const char *why)
{
	fprintf(stderr, "netops-drive: %s\n"
	    "usage: netops-drive [-v] command args [command args ...]\n", why);
	exit(2);
}

static long
number(const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		usage("bad number");
	return (v);
}

static struct in_addr
addr(const char *s)
{
	struct in_addr	 a;

	if (inet_pton(AF_INET, s, &a) != 1)
		usage("bad address");
	return (a);
}

static void
name(char *dst, size_t size, const char *s)
{
	if (strlcpy(dst, s, size) >= size)
		usage("name too long");
}

static size_t
publish_parse(char *s, struct nat_publish *pub, size_t max)
{
	struct nat_publish	*p;
	char			*one, *f[5];
	size_t			 n = 0, i;

	if (strcmp(s, "-") == 0)
		return (0);
	while ((one = strsep(&s, ",")) != NULL) {
		if (n == max)
			usage("too many published ports");
		for (i = 0; i < 5; i++)
			if ((f[i] = strsep(&one, ":")) == NULL)
				usage("bad published port");
		if (one != NULL)
			usage("bad published port");
		p = &pub[n++];
		memset(p, 0, sizeof(*p));
		if (strcmp(f[0], "tcp") == 0)
			p->proto = IPPROTO_TCP;
		else if (strcmp(f[0], "udp") == 0)
			p->proto = IPPROTO_UDP;
		else
			p->proto = number(f[0], 0, 255);
		p->host_addr = addr(f[1]);
		p->host_port = number(f[2], 0, 65535);
		p->guest_addr = addr(f[3]);
		p->guest_port = number(f[4], 0, 65535);
	}
	return (n);
}

int
main(int argc, char *argv[])
{
	struct nat_publish	 pub[PUBLISH_MAX];
	struct nat_config	 nc;
	const char		*cmd;
	char			*slash;
	int			 ch, r, active, verbose = 0;

	while ((ch = getopt(argc, argv, "+v")) != -1) {
		switch (ch) {
		case 'v':
			verbose = 1;
			break;
		default:
			usage("unknown option");
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage("no command");

	log_init(1, LOG_DAEMON);
	log_procinit("netops");
	log_setverbose(verbose);

	while (argc > 0) {
		cmd = argv[0];
#define NEED(n)	do {							\
			if (argc < (n) + 1)				\
				usage("missing arguments");		\
		} while (0)
		if (strcmp(cmd, "bridge-ensure") == 0) {
			NEED(3);
			r = net_bridge_ensure(argv[1], addr(argv[2]),
			    number(argv[3], INT_MIN, INT_MAX));
			argc -= 4, argv += 4;
		} else if (strcmp(cmd, "bridge-remove") == 0) {
			NEED(1);
			r = net_bridge_remove(argv[1]);
			argc -= 2, argv += 2;
		} else if (strcmp(cmd, "tap-create") == 0) {
			NEED(4);
			r = net_tap_create(argv[1], argv[2],
			    (uid_t)number(argv[3], -1, UINT_MAX),
			    (gid_t)number(argv[4], -1, UINT_MAX));
			argc -= 5, argv += 5;
		} else if (strcmp(cmd, "tap-delete") == 0) {
			NEED(1);
			r = net_tap_delete(argv[1]);
			argc -= 2, argv += 2;
		} else if (strcmp(cmd, "taps-delete") == 0 ||
		    strcmp(cmd, "taps-retire") == 0) {
			int	*errs, i, n;

			NEED(1);
			n = number(argv[1], 0, INT_MAX);
			NEED(n + 1);
			if ((errs = calloc(n + 1, sizeof(*errs))) == NULL)
				return (1);
			r = (strcmp(cmd, "taps-delete") == 0 ?
			    net_taps_delete : net_taps_retire)(
			    (const char *const *)&argv[2], errs, n);
			for (i = 0; i < n; i++)
				printf("%s %s\n", argv[2 + i], errs[i] == 0 ?
				    "ok" : strerror(errs[i]));
			free(errs);
			argc -= n + 2, argv += n + 2;
		} else if (strcmp(cmd, "spares-clear") == 0) {
			r = net_spares_clear();
			argc -= 1, argv += 1;
		} else if (strcmp(cmd, "nat-apply") == 0) {
			NEED(4);
			memset(&nc, 0, sizeof(nc));
			name(nc.nc_bridge, sizeof(nc.nc_bridge), argv[1]);
			if ((slash = strchr(argv[2], '/')) == NULL)
				usage("bad ADDR/PREFIX");
			*slash++ = '\0';
			nc.nc_bridge_addr = addr(argv[2]);
			nc.nc_bridge_prefix = number(slash, INT_MIN, INT_MAX);
			if (strcmp(argv[3], "-") != 0)
				name(nc.nc_egress, sizeof(nc.nc_egress),
				    argv[3]);
			nc.nc_npublish = publish_parse(argv[4], pub,
			    PUBLISH_MAX);
			nc.nc_publish = nc.nc_npublish > 0 ? pub : NULL;
			r = nat_apply(&nc);
			argc -= 5, argv += 5;
		} else if (strcmp(cmd, "sh") == 0) {
			NEED(1);
			r = system(argv[1]) == 0 ? 0 : -1;
			if (r == -1)
				errno = ECHILD;
			argc -= 2, argv += 2;
		} else if (strcmp(cmd, "nat-clear") == 0) {
			r = nat_clear();
			argc -= 1, argv += 1;
		} else if (strcmp(cmd, "nat-exists") == 0) {
			if ((r = nat_table_exists()) != -1) {
				printf("nat-exists %d\n", r);
				r = 0;
			}
			argc -= 1, argv += 1;
		} else if (strcmp(cmd, "resolver-route") == 0) {
			NEED(3);
			active = -1;
			r = resolver_route(argv[1], addr(argv[2]), argv[3],
			    &active);
			if (r == 0)
				printf("resolver-route active=%d\n", active);
			argc -= 4, argv += 4;
		} else if (strcmp(cmd, "resolver-clear") == 0) {
			NEED(1);
			r = resolver_clear(argv[1]);
			argc -= 2, argv += 2;
		} else
			usage("unknown command");
#undef NEED
		fflush(stdout);
		if (r == -1) {
			fprintf(stderr, "netops-drive: %s: %s\n", cmd,
			    strerror(errno));
			return (1);
		}
	}
	return (0);
}

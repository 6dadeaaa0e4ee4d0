/*
 * The parent's NAT (see netops.h): banger's nftables table, its
 * masquerading, forwarding and published ports, through libnftables;
 * and the host's IPv4 forwarding it needs.  The bridge and taps are in
 * netops.c and tap.c.
 *
 * NAT.  banger's nftables rules live in table ip banger, which banger
 * alone owns.  nftables 1.0.6 has no "destroy" and duplicates rules
 * applied twice, so the table is replaced in one transaction: "add
 * table" (so that the delete cannot fail), "delete table", then the
 * whole table.  The ruleset text is built only from validated names
 * and from numbers and addresses formatted here.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "log.h"
#include "netops.h"
#include "validate.h"

#define IP_FORWARD	"/proc/sys/net/ipv4/ip_forward"

static int	 nat_check(const struct nat_config *);
static int	 nat_publish_check(const struct nat_config *, size_t);
static char	*nat_ruleset(const struct nat_config *);
static int	 nft_run(const char *, const char *, char **);
static int	 ip_forward_enable(void);

/* One published port, number i, against the configuration. */
static int
nat_publish_check(const struct nat_config *nc, size_t i)
{
	const struct nat_publish *p = &nc->nc_publish[i], *q;
	const char	*why = NULL, *hwhy;
	uint32_t	 mask, net, g;
	size_t		 j;

	mask = nc->nc_bridge_prefix == 0 ? 0 :
	    0xffffffffU << (32 - nc->nc_bridge_prefix);
	net = ntohl(nc->nc_bridge_addr.s_addr) & mask;
	g = ntohl(p->guest_addr.s_addr);
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		why = "protocol not tcp or udp";
	else if (p->host_port == 0 || p->guest_port == 0)
		why = "port 0";
	else if (p->host_addr.s_addr != INADDR_ANY &&
	    valid_bridge_addr(p->host_addr, 32, &hwhy) == -1)
		why = hwhy;
	else if ((g & mask) != net)
		why = "guest address outside the bridge's subnet";
	else if (g == ntohl(nc->nc_bridge_addr.s_addr))
		why = "guest address is the bridge's";
	else if (valid_bridge_addr(p->guest_addr, nc->nc_bridge_prefix,
	    &hwhy) == -1)
		why = hwhy;
	for (j = 0; why == NULL && j < i; j++) {
		q = &nc->nc_publish[j];
		if (q->proto == p->proto && q->host_port == p->host_port &&
		    (q->host_addr.s_addr == p->host_addr.s_addr ||
		    q->host_addr.s_addr == INADDR_ANY ||
		    p->host_addr.s_addr == INADDR_ANY))
			why = "host port published twice";
	}
	if (why != NULL) {
		log_warnx("nat: refused: published port %zu (%s port %u): %s",
		    i, p->proto == IPPROTO_TCP ? "tcp" :
		    p->proto == IPPROTO_UDP ? "udp" : "?", p->host_port, why);
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

static int
nat_check(const struct nat_config *nc)
{
	const char	*why;
	char		 a[INET_ADDRSTRLEN];
	size_t		 i;

	if (nc == NULL) {
		log_warnx("nat: refused: no configuration");
		errno = EINVAL;
		return (-1);
	}
	if (memchr(nc->nc_bridge, '\0', sizeof(nc->nc_bridge)) == NULL ||
	    memchr(nc->nc_egress, '\0', sizeof(nc->nc_egress)) == NULL) {
		log_warnx("nat: refused: unterminated interface name");
		errno = EINVAL;
		return (-1);
	}
	if (netops_check_name("nat: bridge", nc->nc_bridge,
	    valid_bridge_name) == -1)
		return (-1);
	if (valid_bridge_addr(nc->nc_bridge_addr, nc->nc_bridge_prefix,
	    &why) == -1) {
		inet_ntop(AF_INET, &nc->nc_bridge_addr, a, sizeof(a));
		log_warnx("nat: refused: bridge address %s/%d: %s", a,
		    nc->nc_bridge_prefix, why);
		errno = EINVAL;
		return (-1);
	}
	if (nc->nc_egress[0] != '\0') {
		if (netops_check_name("nat: egress", nc->nc_egress,
		    valid_ifname) == -1)
			return (-1);
		if (strcmp(nc->nc_egress, nc->nc_bridge) == 0) {
			log_warnx("nat: refused: egress %s is the bridge",
			    nc->nc_egress);
			errno = EINVAL;
			return (-1);
		}
	}
	if (nc->nc_npublish > NAT_PUBLISH_MAX ||
	    (nc->nc_npublish > 0 && nc->nc_publish == NULL)) {
		log_warnx("nat: refused: %zu published ports (at most %d)",
		    nc->nc_npublish, NAT_PUBLISH_MAX);
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < nc->nc_npublish; i++)
		if (nat_publish_check(nc, i) == -1)
			return (-1);
	return (0);
}

/*
 * The transaction that replaces table ip banger.  Returns a string to
 * free, or NULL.
 *
 * prerouting: published ports, DNAT to the guest.  A published port
 *   with no host address matches any local address (fib daddr type
 *   local), not traffic the host routes elsewhere.
 * postrouting: the bridge's subnet masqueraded out of the egress; and
 *   guests reaching a published port of the host (hairpin) appear to
 *   come from the bridge, so that the answer comes back through it.
 * forward (policy accept: others' traffic is not banger's business):
 *   bridge to egress, and back for established connections; published
 *   ports; and nothing else into the bridge from elsewhere.
 */
static char *
nat_ruleset(const struct nat_config *nc)
{
	const struct nat_publish *p;
	struct in_addr	 net;
	FILE		*f;
	char		*buf = NULL, ha[INET_ADDRSTRLEN], ga[INET_ADDRSTRLEN];
	char		 na[INET_ADDRSTRLEN];
	const char	*br = nc->nc_bridge, *eg = nc->nc_egress, *proto;
	size_t		 len, i;
	int		 prefix = nc->nc_bridge_prefix;

	net.s_addr = nc->nc_bridge_addr.s_addr &
	    htonl(0xffffffffU << (32 - prefix));
	inet_ntop(AF_INET, &net, na, sizeof(na));

	if ((f = open_memstream(&buf, &len)) == NULL) {
		log_warn("nat: open_memstream");
		return (NULL);
	}
	fprintf(f, "add table ip %s\n", NAT_TABLE);
	fprintf(f, "delete table ip %s\n", NAT_TABLE);
	fprintf(f, "table ip %s {\n", NAT_TABLE);

	fprintf(f, "\tchain prerouting {\n");
	fprintf(f, "\t\ttype nat hook prerouting priority dstnat; "
	    "policy accept;\n");
	for (i = 0; i < nc->nc_npublish; i++) {
		p = &nc->nc_publish[i];
		proto = p->proto == IPPROTO_TCP ? "tcp" : "udp";
		inet_ntop(AF_INET, &p->guest_addr, ga, sizeof(ga));
		if (p->host_addr.s_addr == INADDR_ANY)
			fprintf(f, "\t\tfib daddr type local");
		else {
			inet_ntop(AF_INET, &p->host_addr, ha, sizeof(ha));
			fprintf(f, "\t\tip daddr %s", ha);
		}
		fprintf(f, " %s dport %u dnat to %s:%u\n", proto,
		    p->host_port, ga, p->guest_port);
	}
	fprintf(f, "\t}\n");

	fprintf(f, "\tchain postrouting {\n");
	fprintf(f, "\t\ttype nat hook postrouting priority srcnat; "
	    "policy accept;\n");
	if (eg[0] != '\0')
		fprintf(f, "\t\tip saddr %s/%d oifname \"%s\" masquerade\n",
		    na, prefix, eg);
	if (nc->nc_npublish > 0)
		fprintf(f, "\t\tip saddr %s/%d oifname \"%s\" ct status dnat "
		    "masquerade\n", na, prefix, br);
	fprintf(f, "\t}\n");

	fprintf(f, "\tchain forward {\n");
	fprintf(f, "\t\ttype filter hook forward priority filter; "
	    "policy accept;\n");
	if (eg[0] != '\0') {
		fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" accept\n", br,
		    eg);
		fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" ct state "
		    "established,related accept\n", eg, br);
	}
	for (i = 0; i < nc->nc_npublish; i++) {
		p = &nc->nc_publish[i];
		proto = p->proto == IPPROTO_TCP ? "tcp" : "udp";
		inet_ntop(AF_INET, &p->guest_addr, ga, sizeof(ga));
		fprintf(f, "\t\toifname \"%s\" ip daddr %s %s dport %u "
		    "ct status dnat accept\n", br, ga, proto, p->guest_port);
	}
	fprintf(f, "\t\tiifname != \"%s\" oifname \"%s\" drop\n", br, br);
	fprintf(f, "\t}\n");
	fprintf(f, "}\n");

	if (ferror(f)) {
		log_warnx("nat: cannot build the ruleset");
		fclose(f);
		free(buf);
		errno = ENOMEM;
		return (NULL);
	}
	if (fclose(f) != 0) {
		log_warn("nat: cannot build the ruleset");
		free(buf);
		return (NULL);
	}
	return (buf);
}

/*
 * Run nftables commands as one transaction.  With outp, *outp gets a
 * copy of the output to free.  On failure the first line of nft's
 * error that says "Error" is logged.
 */
static int
nft_run(const char *cmds, const char *what, char **outp)
{
	struct nft_ctx	*ctx;
	const char	*err, *line, *nl;
	int		 ret = -1;

	if ((ctx = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL) {
		log_warnx("nat: %s: cannot make an nftables context", what);
		errno = ENOMEM;
		return (-1);
	}
	if (nft_ctx_buffer_output(ctx) != 0 ||
	    nft_ctx_buffer_error(ctx) != 0) {
		log_warnx("nat: %s: cannot buffer nftables output", what);
		errno = ENOMEM;
		goto fail;
	}
	if (nft_run_cmd_from_buffer(ctx, cmds) != 0) {
		err = nft_ctx_get_error_buffer(ctx);
		if (err == NULL)
			err = "";
		line = strstr(err, "Error");
		if (line == NULL)
			line = err;
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line);
		log_warnx("nat: %s: nftables: %.*s", what, (int)(nl - line),
		    line);
		log_debug("nat: %s: nftables said: %s", what, err);
		errno = EIO;
		goto fail;
	}
	if (outp != NULL) {
		line = nft_ctx_get_output_buffer(ctx);
		if ((*outp = strdup(line == NULL ? "" : line)) == NULL) {
			log_warn("nat: %s", what);
			goto fail;
		}
	}
	ret = 0;
 fail:
	nft_ctx_free(ctx);
	return (ret);
}

/* NAT needs the host to route: net.ipv4.ip_forward = 1. */
static int
ip_forward_enable(void)
{
	char	 c = '\0';
	int	 fd, saved_errno;

	if ((fd = open(IP_FORWARD, O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("nat: %s", IP_FORWARD);
		return (-1);
	}
	if (read(fd, &c, 1) != 1) {
		log_warn("nat: read %s", IP_FORWARD);
		goto fail;
	}
	if (c == '1') {
		close(fd);
		return (0);
	}
	if (lseek(fd, 0, SEEK_SET) == -1 || write(fd, "1\n", 2) != 2) {
		log_warn("nat: write %s", IP_FORWARD);
		goto fail;
	}
	close(fd);
	log_info("nat: enabled ipv4 forwarding (net.ipv4.ip_forward was %c)",
	    c);
	return (0);
 fail:
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return (-1);
}

int
nat_apply(const struct nat_config *nc)
{
	struct in_addr	 net;
	char		*rules, *line, *next;
	char		 a[INET_ADDRSTRLEN];
	int		 r;

	if (nat_check(nc) == -1)
		return (-1);
	if ((rules = nat_ruleset(nc)) == NULL)
		return (-1);
	r = nft_run(rules, "cannot apply table ip " NAT_TABLE, NULL);
	if (log_getverbose())
		for (line = rules; line != NULL && *line != '\0'; line = next) {
			if ((next = strchr(line, '\n')) != NULL)
				*next++ = '\0';
			log_debug("nat: %s", line);
		}
	free(rules);
	if (r == -1)
		return (-1);
	net.s_addr = nc->nc_bridge_addr.s_addr &
	    htonl(0xffffffffU << (32 - nc->nc_bridge_prefix));
	inet_ntop(AF_INET, &net, a, sizeof(a));
	if (nc->nc_egress[0] != '\0')
		log_info("nat: table ip %s: %s/%d masqueraded out of %s, "
		    "%zu published ports", NAT_TABLE, a, nc->nc_bridge_prefix,
		    nc->nc_egress, nc->nc_npublish);
	else
		log_info("nat: table ip %s: no egress, %zu published ports",
		    NAT_TABLE, nc->nc_npublish);
	return (ip_forward_enable());
}

int
nat_clear(void)
{
	int	 had;

	if ((had = nat_table_exists()) == -1)
		return (-1);
	if (nft_run("add table ip " NAT_TABLE "\ndelete table ip " NAT_TABLE
	    "\n", "cannot delete table ip " NAT_TABLE, NULL) == -1)
		return (-1);
	if (had)
		log_info("nat: table ip %s deleted", NAT_TABLE);
	else
		log_debug("nat: table ip %s already gone", NAT_TABLE);
	return (0);
}

int
nat_table_exists(void)
{
	char	*out, *line, *next;
	int	 found = 0;

	if (nft_run("list tables ip", "cannot list tables", &out) == -1)
		return (-1);
	for (line = out; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strcmp(line, "table ip " NAT_TABLE) == 0)
			found = 1;
	}
	free(out);
	return (found);
}

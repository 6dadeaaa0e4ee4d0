/*
 * The parent's network operations (see netops.h): banger's bridge and
 * taps through libnl-route-3, its nftables table through libnftables,
 * and the routing of the VM domain's DNS queries through resolvectl.
 *
 * Marking.  The kernel keeps no owner for a link, so banger names its
 * own with the link alias (IFLA_IFALIAS) "banger", set right after it
 * creates the link.  An existing link of the wanted name without the
 * mark, or of another kind, belongs to someone else and is refused.  A
 * tap is marked while banger still holds the /dev/net/tun fd that
 * created it and only then made persistent, so that a failure (or a
 * crash) in between leaves no unmarked tap behind.  A bridge cannot be
 * made that way: if marking fails, the bridge just created is deleted.
 *
 * Addresses.  A bridge banger may touch is one banger created, so
 * net_bridge_ensure() makes its IPv4 addresses exactly the configured
 * one; other IPv4 addresses (a former configuration) are removed.
 * IPv6 addresses are left alone.
 *
 * NAT.  banger's nftables rules live in table ip banger, which banger
 * alone owns.  nftables 1.0.6 has no "destroy" and duplicates rules
 * applied twice, so the table is replaced in one transaction: "add
 * table" (so that the delete cannot fail), "delete table", then the
 * whole table.  The ruleset text is built only from validated names
 * and from numbers and addresses formatted here.
 *
 * Resolver.  systemd-resolved counts as running when resolvectl is
 * found on PATH and "resolvectl status" exits 0.  resolvectl runs
 * without a shell, with a minimal environment, /dev/null for stdin and
 * stdout, its stderr captured for the log, and a time limit.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <linux/if_tun.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <nftables/libnftables.h>

/* linux/rtnetlink.h's (for prefix messages) is not validate.h's. */
#undef PREFIX_MAX

#include "log.h"
#include "netops.h"
#include "validate.h"

#define LINK_MISSING	0
#define LINK_OURS	1
#define LINK_FOREIGN	2

#define TUN_DEV		"/dev/net/tun"
#define TAP_FLAGS	(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
#define IP_FORWARD	"/proc/sys/net/ipv4/ip_forward"

#define RESOLVECTL	"resolvectl"
#define RUN_PATH	"/usr/sbin:/usr/bin:/sbin:/bin"
#define RUN_TIMEOUT_MS	10000
#define RUN_ERR_MAX	512		/* stderr kept for the log */
#define DOMAIN_MAX	253
#define SHOW_MAX	40

static const char *show(const char *);
static int	 nl_errno(int);
static int	 check_name(const char *, const char *,
		    int (*)(const char *, size_t, const char **));
static int	 nl_open(const char *, const char *, struct nl_sock **);
static int	 link_get(struct nl_sock *, const char *, const char *,
		    const char *, struct rtnl_link **);
static int	 link_change(struct nl_sock *, const char *, const char *,
		    struct rtnl_link *, struct rtnl_link *);
static int	 link_delete(struct nl_sock *, const char *, const char *,
		    struct rtnl_link *);
static int	 bridge_create(struct nl_sock *, const char *,
		    struct rtnl_link **);
static int	 bridge_addr_set(struct nl_sock *, const char *, int,
		    struct in_addr, int);
static int	 bridge_ours(struct nl_sock *, const char *, const char *,
		    struct rtnl_link **);
static int	 tap_open(const char *, uid_t, gid_t, int);
static int	 tap_sysfs(const char *, const char *, char *, size_t);
static int	 tap_sysfs_is(const char *, const char *, long long);
static int	 tap_matches(const char *, uid_t, gid_t);
static void	 ports_forget(void);
static int	 nat_check(const struct nat_config *);
static int	 nat_publish_check(const struct nat_config *, size_t);
static char	*nat_ruleset(const struct nat_config *);
static int	 nft_run(const char *, const char *, char **);
static int	 ip_forward_enable(void);
static int	 resolvectl_find(char *, size_t);
static int	 run_drain(int, char *, size_t, size_t *, int);
static int	 run_cmd(const char *, const char *, char *const [], int);
static int	 resolved_running(const char *, char *, size_t);

static int	 resolved_absent_logged;

/*
 * A name fit for the log, whatever bytes it holds: at most SHOW_MAX of
 * them, anything but printable ASCII shown as '?'.  Two buffers in
 * turn, for two names in one message.
 */
static const char *
show(const char *s)
{
	static char	 bufs[2][SHOW_MAX + 4];
	static int	 n;
	char		*buf;
	size_t		 i;

	if (s == NULL)
		return ("(null)");
	buf = bufs[n++ % 2];
	for (i = 0; s[i] != '\0' && i < SHOW_MAX; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0')
		strlcpy(&buf[i], "...", 4);
	else
		buf[i] = '\0';
	return (buf);
}

/* The errno closest to a libnl error code (given negative or not). */
static int
nl_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case NLE_NOMEM:
		return (ENOMEM);
	case NLE_EXIST:
		return (EEXIST);
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return (ENODEV);
	case NLE_PERM:
		return (EPERM);
	case NLE_NOACCESS:
		return (EACCES);
	case NLE_BUSY:
		return (EBUSY);
	case NLE_INVAL:
	case NLE_MISSING_ATTR:
		return (EINVAL);
	case NLE_RANGE:
		return (ERANGE);
	case NLE_OPNOTSUPP:
		return (EOPNOTSUPP);
	case NLE_NOADDR:
		return (EADDRNOTAVAIL);
	case NLE_AGAIN:
		return (EAGAIN);
	default:
		return (EIO);
	}
}

static int
check_name(const char *what, const char *name,
    int (*valid)(const char *, size_t, const char **))
{
	const char	*why = "null name";

	if (name == NULL || valid(name, strnlen(name, IFNAMSIZ), &why) == -1) {
		log_warnx("%s %s: refused: invalid name: %s", what, show(name),
		    why);
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

static int
nl_open(const char *what, const char *name, struct nl_sock **skp)
{
	struct nl_sock	*sk;
	int		 err;

	if ((sk = nl_socket_alloc()) == NULL) {
		log_warnx("%s %s: netlink socket: out of memory", what, name);
		errno = ENOMEM;
		return (-1);
	}
	if ((err = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		log_warnx("%s %s: netlink connect: %s", what, name,
		    nl_geterror(err));
		nl_socket_free(sk);
		errno = nl_errno(err);
		return (-1);
	}
	*skp = sk;
	return (0);
}

/*
 * Look up link NAME.  LINK_MISSING if there is none; LINK_OURS, with
 * *linkp set, if it is of the given kind (IFLA_INFO_KIND) and marked
 * ours; LINK_FOREIGN, logged, if not; -1 on error.
 */
static int
link_get(struct nl_sock *sk, const char *what, const char *name,
    const char *kind, struct rtnl_link **linkp)
{
	struct rtnl_link	*link = NULL;
	const char		*k, *alias;
	int			 err;

	*linkp = NULL;
	err = rtnl_link_get_kernel(sk, 0, name, &link);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return (LINK_MISSING);
	if (err < 0) {
		log_warnx("%s %s: cannot look it up: %s", what, name,
		    nl_geterror(err));
		errno = nl_errno(err);
		return (-1);
	}
	k = rtnl_link_get_type(link);
	alias = rtnl_link_get_ifalias(link);
	if (k == NULL || strcmp(k, kind) != 0) {
		log_warnx("%s %s: an interface of that name exists and is "
		    "not a %s (it is %s%s); not banger's, left alone", what,
		    name, what, k == NULL ? "of no kind" : "a ",
		    k == NULL ? "" : show(k));
		rtnl_link_put(link);
		return (LINK_FOREIGN);
	}
	if (alias == NULL || strcmp(alias, NETOPS_ALIAS) != 0) {
		log_warnx("%s %s: exists without banger's mark (alias \"%s\")"
		    "; not banger's, left alone", what, name, NETOPS_ALIAS);
		rtnl_link_put(link);
		return (LINK_FOREIGN);
	}
	*linkp = link;
	return (LINK_OURS);
}

static int
link_change(struct nl_sock *sk, const char *what, const char *name,
    struct rtnl_link *link, struct rtnl_link *change)
{
	int	 err;

	if ((err = rtnl_link_change(sk, link, change, 0)) < 0) {
		log_warnx("%s %s: cannot change it: %s", what, name,
		    nl_geterror(err));
		errno = nl_errno(err);
		return (-1);
	}
	return (0);
}

/* Delete a link; one already gone is no error. */
static int
link_delete(struct nl_sock *sk, const char *what, const char *name,
    struct rtnl_link *link)
{
	int	 err;

	ports_forget();
	err = rtnl_link_delete(sk, link);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return (0);
	if (err < 0) {
		log_warnx("%s %s: cannot delete it: %s", what, name,
		    nl_geterror(err));
		errno = nl_errno(err);
		return (-1);
	}
	log_info("%s %s: deleted", what, name);
	return (0);
}

/*
 * Create bridge NAME and mark it.  Its MAC address is set to the one
 * the kernel chose, so that it stays put as taps come and go.
 */
static int
bridge_create(struct nl_sock *sk, const char *name, struct rtnl_link **linkp)
{
	struct rtnl_link	*new = NULL, *link = NULL, *change = NULL;
	int			 err, saved_errno;

	if ((new = rtnl_link_bridge_alloc()) == NULL ||
	    (change = rtnl_link_alloc()) == NULL) {
		log_warnx("bridge %s: out of memory", name);
		errno = ENOMEM;
		goto fail;
	}
	rtnl_link_set_name(new, name);
	if ((err = rtnl_link_add(sk, new, NLM_F_CREATE | NLM_F_EXCL)) < 0) {
		log_warnx("bridge %s: cannot create it: %s", name,
		    nl_geterror(err));
		errno = nl_errno(err);
		goto fail;
	}
	if ((err = rtnl_link_get_kernel(sk, 0, name, &link)) < 0) {
		log_warnx("bridge %s: gone right after its creation: %s", name,
		    nl_geterror(err));
		errno = nl_errno(err);
		goto fail;
	}
	rtnl_link_set_ifalias(change, NETOPS_ALIAS);
	if (rtnl_link_get_addr(link) != NULL)
		rtnl_link_set_addr(change, rtnl_link_get_addr(link));
	if (link_change(sk, "bridge", name, link, change) == -1) {
		saved_errno = errno;
		link_delete(sk, "bridge", name, link);
		errno = saved_errno;
		goto fail;
	}
	log_info("bridge %s: created", name);
	rtnl_link_put(new);
	rtnl_link_put(change);
	*linkp = link;
	return (0);

 fail:
	saved_errno = errno;
	if (new != NULL)
		rtnl_link_put(new);
	if (change != NULL)
		rtnl_link_put(change);
	if (link != NULL)
		rtnl_link_put(link);
	errno = saved_errno;
	return (-1);
}

/* Make the bridge's IPv4 addresses exactly ADDR/PREFIX. */
static int
bridge_addr_set(struct nl_sock *sk, const char *name, int ifindex,
    struct in_addr addr, int prefix)
{
	struct nl_cache		*cache = NULL;
	struct nl_object	*obj;
	struct rtnl_addr	*ra, *want = NULL;
	struct nl_addr		*local = NULL, *brd = NULL, *l;
	struct in_addr		 b;
	char			 a[INET_ADDRSTRLEN], o[INET_ADDRSTRLEN];
	int			 err, have = 0, ret = -1, saved_errno;

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	if ((err = rtnl_addr_alloc_cache(sk, &cache)) < 0) {
		log_warnx("bridge %s: cannot list addresses: %s", name,
		    nl_geterror(err));
		errno = nl_errno(err);
		goto fail;
	}
	for (obj = nl_cache_get_first(cache); obj != NULL;
	    obj = nl_cache_get_next(obj)) {
		ra = (struct rtnl_addr *)obj;
		if (rtnl_addr_get_ifindex(ra) != ifindex ||
		    rtnl_addr_get_family(ra) != AF_INET)
			continue;
		l = rtnl_addr_get_local(ra);
		if (l != NULL && nl_addr_get_len(l) == sizeof(addr) &&
		    memcmp(nl_addr_get_binary_addr(l), &addr,
		    sizeof(addr)) == 0 &&
		    rtnl_addr_get_prefixlen(ra) == prefix) {
			have = 1;
			continue;
		}
		if (l != NULL && nl_addr_get_len(l) == sizeof(b)) {
			memcpy(&b, nl_addr_get_binary_addr(l), sizeof(b));
			inet_ntop(AF_INET, &b, o, sizeof(o));
		} else
			strlcpy(o, "?", sizeof(o));
		/* A secondary goes with its primary: already gone is fine. */
		err = rtnl_addr_delete(sk, ra, 0);
		if (err < 0 && err != -NLE_NOADDR &&
		    err != -NLE_OBJ_NOTFOUND) {
			log_warnx("bridge %s: cannot remove address %s/%d: %s",
			    name, o, rtnl_addr_get_prefixlen(ra),
			    nl_geterror(err));
			errno = nl_errno(err);
			goto fail;
		}
		log_info("bridge %s: removed address %s/%d", name, o,
		    rtnl_addr_get_prefixlen(ra));
	}

	/*
	 * Add (or refresh) ours even when it was there: removing another
	 * primary address may have taken it along as a secondary.
	 */
	if ((want = rtnl_addr_alloc()) == NULL ||
	    (local = nl_addr_build(AF_INET, &addr, sizeof(addr))) == NULL) {
		log_warnx("bridge %s: out of memory", name);
		errno = ENOMEM;
		goto fail;
	}
	nl_addr_set_prefixlen(local, prefix);
	rtnl_addr_set_ifindex(want, ifindex);
	rtnl_addr_set_family(want, AF_INET);
	if ((err = rtnl_addr_set_local(want, local)) < 0)
		goto nlfail;
	rtnl_addr_set_prefixlen(want, prefix);
	if (prefix <= 30) {
		b.s_addr = addr.s_addr | htonl(0xffffffffU >> prefix);
		if ((brd = nl_addr_build(AF_INET, &b, sizeof(b))) == NULL) {
			log_warnx("bridge %s: out of memory", name);
			errno = ENOMEM;
			goto fail;
		}
		if ((err = rtnl_addr_set_broadcast(want, brd)) < 0)
			goto nlfail;
	}
	if ((err = rtnl_addr_add(sk, want, NLM_F_REPLACE)) < 0)
		goto nlfail;
	if (!have)
		log_info("bridge %s: address %s/%d added", name, a, prefix);
	ret = 0;
	goto done;

 nlfail:
	log_warnx("bridge %s: cannot add address %s/%d: %s", name, a, prefix,
	    nl_geterror(err));
	errno = nl_errno(err);
 fail:
 done:
	saved_errno = errno;
	if (brd != NULL)
		nl_addr_put(brd);
	if (local != NULL)
		nl_addr_put(local);
	if (want != NULL)
		rtnl_addr_put(want);
	if (cache != NULL)
		nl_cache_free(cache);
	errno = saved_errno;
	return (ret);
}

/*
 * The bridge a tap or a resolver setting is for: it must exist and be
 * ours.  0 with *linkp set, or -1 (ENODEV: missing; EPERM: not ours).
 */
static int
bridge_ours(struct nl_sock *sk, const char *what, const char *name,
    struct rtnl_link **linkp)
{
	switch (link_get(sk, "bridge", name, "bridge", linkp)) {
	case LINK_OURS:
		return (0);
	case LINK_MISSING:
		log_warnx("%s: bridge %s does not exist", what, name);
		errno = ENODEV;
		return (-1);
	case LINK_FOREIGN:
		log_warnx("%s: refused: bridge %s is not banger's", what, name);
		errno = EPERM;
		return (-1);
	default:
		return (-1);
	}
}

int
net_bridge_ensure(const char *name, struct in_addr addr, int prefix)
{
	struct nl_sock		*sk = NULL;
	struct rtnl_link	*link = NULL, *change = NULL;
	const char		*why;
	char			 a[INET_ADDRSTRLEN];
	int			 ret = -1, saved_errno;

	if (check_name("bridge", name, valid_bridge_name) == -1)
		return (-1);
	if (valid_bridge_addr(addr, prefix, &why) == -1) {
		inet_ntop(AF_INET, &addr, a, sizeof(a));
		log_warnx("bridge %s: refused: address %s/%d: %s", name, a,
		    prefix, why);
		errno = EINVAL;
		return (-1);
	}
	if (nl_open("bridge", name, &sk) == -1)
		return (-1);
	switch (link_get(sk, "bridge", name, "bridge", &link)) {
	case LINK_OURS:
		break;
	case LINK_MISSING:
		if (bridge_create(sk, name, &link) == -1)
			goto fail;
		break;
	case LINK_FOREIGN:
		errno = EEXIST;
		goto fail;
	default:
		goto fail;
	}
	if (bridge_addr_set(sk, name, rtnl_link_get_ifindex(link), addr,
	    prefix) == -1)
		goto fail;
	if (!(rtnl_link_get_flags(link) & IFF_UP)) {
		if ((change = rtnl_link_alloc()) == NULL) {
			log_warnx("bridge %s: out of memory", name);
			errno = ENOMEM;
			goto fail;
		}
		rtnl_link_set_flags(change, IFF_UP);
		if (link_change(sk, "bridge", name, link, change) == -1)
			goto fail;
		log_debug("bridge %s: up", name);
	}
	ret = 0;
 fail:
	saved_errno = errno;
	if (change != NULL)
		rtnl_link_put(change);
	if (link != NULL)
		rtnl_link_put(link);
	nl_socket_free(sk);
	errno = saved_errno;
	return (ret);
}

/*
 * Delete a link of ours: the bridge or a tap.  Missing is success; a
 * link of that name without our mark is refused.
 */
static int
link_remove_ours(const char *what, const char *name,
    int (*valid)(const char *, size_t, const char **), const char *kind)
{
	struct nl_sock		*sk = NULL;
	struct rtnl_link	*link = NULL;
	int			 ret = -1, saved_errno;

	if (check_name(what, name, valid) == -1)
		return (-1);
	if (nl_open(what, name, &sk) == -1)
		return (-1);
	switch (link_get(sk, what, name, kind, &link)) {
	case LINK_OURS:
		if (link_delete(sk, what, name, link) == -1)
			goto fail;
		break;
	case LINK_MISSING:
		log_debug("%s %s: already gone", what, name);
		break;
	case LINK_FOREIGN:
		errno = EPERM;
		goto fail;
	default:
		goto fail;
	}
	ret = 0;
 fail:
	saved_errno = errno;
	if (link != NULL)
		rtnl_link_put(link);
	nl_socket_free(sk);
	errno = saved_errno;
	return (ret);
}

int
net_bridge_remove(const char *name)
{
	char	 leaf[IFNAMSIZ], up[IFNAMSIZ], down[IFNAMSIZ];
	int	 n, rv = 0;

	/* Its leaves, and their veth pairs (one end takes the other). */
	for (n = 1; n <= BRIDGE_LEAVES; n++) {
		if (snprintf(leaf, sizeof(leaf), "%s-%d", name, n) >=
		    (int)sizeof(leaf) || snprintf(up, sizeof(up), "%s-%du",
		    name, n) >= (int)sizeof(up) || snprintf(down, sizeof(down),
		    "%s-%dd", name, n) >= (int)sizeof(down))
			break;
		if (link_remove_ours("link", up, valid_bridge_name,
		    "veth") == -1 || link_remove_ours("link", down,
		    valid_bridge_name, "veth") == -1 ||
		    link_remove_ours("bridge", leaf, valid_bridge_name,
		    "bridge") == -1)
			rv = -1;
	}
	if (link_remove_ours("bridge", name, valid_bridge_name,
	    "bridge") == -1)
		rv = -1;
	return (rv);
}

/*
 * Attach to tap TAP through /dev/net/tun as Firecracker does, creating
 * it if excl (and failing if it exists then), and give it to uid:gid.
 * Returns the fd: the tap lives while it is open, or for good once
 * made persistent.
 */
static int
tap_open(const char *tap, uid_t uid, gid_t gid, int excl)
{
	struct ifreq	 ifr;
	int		 fd, saved_errno;

	if ((fd = open(TUN_DEV, O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("tap %s: %s", tap, TUN_DEV);
		return (-1);
	}
	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, tap, sizeof(ifr.ifr_name));
	ifr.ifr_flags = TAP_FLAGS | (excl ? IFF_TUN_EXCL : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) == -1) {
		log_warn("tap %s: TUNSETIFF", tap);
		goto fail;
	}
	if (strcmp(ifr.ifr_name, tap) != 0) {
		log_warnx("tap %s: TUNSETIFF attached to %s instead", tap,
		    show(ifr.ifr_name));
		errno = EIO;
		goto fail;
	}
	if (ioctl(fd, TUNSETOWNER, (unsigned long)uid) == -1) {
		log_warn("tap %s: TUNSETOWNER %lu", tap, (unsigned long)uid);
		goto fail;
	}
	if (ioctl(fd, TUNSETGROUP, (unsigned long)gid) == -1) {
		log_warn("tap %s: TUNSETGROUP %lu", tap, (unsigned long)gid);
		goto fail;
	}
	return (fd);
 fail:
	saved_errno = errno;
	close(fd);
	errno = saved_errno;
	return (-1);
}

/* Read /sys/class/net/TAP/ATTR, without its newline. */
static int
tap_sysfs(const char *tap, const char *attr, char *buf, size_t size)
{
	char	 path[PATH_MAX];
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", tap, attr);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return (0);
}

/* Whether /sys/class/net/TAP/ATTR is the decimal number want. */
static int
tap_sysfs_is(const char *tap, const char *attr, long long want)
{
	char		 buf[32], *end;
	long long	 v;

	if (tap_sysfs(tap, attr, buf, sizeof(buf)) == -1)
		return (0);
	errno = 0;
	v = strtoll(buf, &end, 10);
	return (errno == 0 && *end == '\0' && v == want);
}

/*
 * Whether an existing tap already has the owner, group and flags
 * net_tap_create() gives: then it need not be attached to (which fails
 * with EBUSY while Firecracker holds it).
 */
static int
tap_matches(const char *tap, uid_t uid, gid_t gid)
{
	char		 buf[32], *end;
	unsigned long	 flags, mask;

	mask = IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_PERSIST |
	    IFF_MULTI_QUEUE;
	if (!tap_sysfs_is(tap, "owner", (long long)uid) ||
	    !tap_sysfs_is(tap, "group", (long long)gid))
		return (0);
	if (tap_sysfs(tap, "tun_flags", buf, sizeof(buf)) == -1)
		return (0);
	errno = 0;
	flags = strtoul(buf, &end, 16);
	if (errno != 0 || *end != '\0' ||
	    (flags & mask) != (TAP_FLAGS | IFF_PERSIST))
		return (0);
	return (1);
}

/* Give link NAME banger's mark. */
static int
link_mark(struct nl_sock *sk, const char *name)
{
	struct rtnl_link	*link = NULL, *change = NULL;
	int			 err, ret = -1;

	if ((err = rtnl_link_get_kernel(sk, 0, name, &link)) < 0) {
		log_warnx("link %s: gone right after its creation: %s", name,
		    nl_geterror(err));
		errno = nl_errno(err);
		return (-1);
	}
	if ((change = rtnl_link_alloc()) == NULL)
		errno = ENOMEM;
	else {
		rtnl_link_set_ifalias(change, NETOPS_ALIAS);
		ret = link_change(sk, "link", name, link, change);
		rtnl_link_put(change);
	}
	rtnl_link_put(link);
	return (ret);
}

/*
 * A Linux bridge takes at most 1024 ports.  Past BRIDGE_PORTS taps on
 * the bridge, taps go on leaf bridges ROOT-1 to ROOT-BRIDGE_LEAVES, each
 * joined to the bridge by a veth pair (ROOT-Nu on the bridge, ROOT-Nd on
 * the leaf): one layer two network, so the VMs reach each other and the
 * host through the bridge as before, and NAT and DNS, which see all
 * their traffic arrive on the bridge, stay as they are.  The leaves and
 * the veth pairs carry banger's mark like the bridge, and stay like it.
 */

/* ROOT-N, ROOT-Nu, ROOT-Nd: names that fit, or -1 (EINVAL, logged). */
static int
leaf_names(const char *root, int n, char *leaf, char *up, char *down)
{
	if (snprintf(leaf, IFNAMSIZ, "%s-%d", root, n) >= IFNAMSIZ ||
	    snprintf(up, IFNAMSIZ, "%s-%du", root, n) >= IFNAMSIZ ||
	    snprintf(down, IFNAMSIZ, "%s-%dd", root, n) >= IFNAMSIZ ||
	    check_name("bridge", leaf, valid_bridge_name) == -1) {
		log_warnx("bridge %s: its leaf bridge %d does not fit a name "
		    "of %d characters", root, n, IFNAMSIZ - 1);
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

/* Put LINK (ours, named NAME) on bridge MASTER, with MTU mtu, and up. */
static int
link_attach(struct nl_sock *sk, const char *what, const char *name,
    struct rtnl_link *link, struct rtnl_link *master, unsigned int mtu)
{
	struct rtnl_link	*change;
	int			 ret;

	if ((change = rtnl_link_alloc()) == NULL) {
		log_warnx("%s %s: out of memory", what, name);
		errno = ENOMEM;
		return (-1);
	}
	rtnl_link_set_mtu(change, mtu);
	rtnl_link_set_master(change, rtnl_link_get_ifindex(master));
	rtnl_link_set_flags(change, IFF_UP);
	ret = link_change(sk, what, name, link, change);
	rtnl_link_put(change);
	return (ret);
}

/* Put link NAME (ours) on bridge MASTER, with its MTU, and up. */
static int
link_enslave(struct nl_sock *sk, const char *what, const char *name,
    struct rtnl_link *master)
{
	struct rtnl_link	*link = NULL;
	int			 err, ret;

	if ((err = rtnl_link_get_kernel(sk, 0, name, &link)) < 0) {
		log_warnx("%s %s: cannot look it up: %s", what, name,
		    nl_geterror(err));
		errno = nl_errno(err);
		return (-1);
	}
	ret = link_attach(sk, what, name, link, master,
	    rtnl_link_get_mtu(master));
	rtnl_link_put(link);
	return (ret);
}

/*
 * Leaf N of bridge ROOT, with its veth pair to ROOT: made and marked
 * where missing, each end on its bridge and up.  *leafp is the leaf.
 */
static int
leaf_ensure(struct nl_sock *sk, const char *root, struct rtnl_link *rootlink,
    int n, struct rtnl_link **leafp)
{
	struct rtnl_link	*leaf = NULL, *veth = NULL, *peer, *change = NULL;
	char			 lname[IFNAMSIZ], up[IFNAMSIZ], down[IFNAMSIZ];
	int			 err, saved_errno;

	*leafp = NULL;
	if (leaf_names(root, n, lname, up, down) == -1)
		return (-1);
	switch (link_get(sk, "bridge", lname, "bridge", &leaf)) {
	case LINK_OURS:
		break;
	case LINK_MISSING:
		if (bridge_create(sk, lname, &leaf) == -1)
			return (-1);
		break;
	case LINK_FOREIGN:
		errno = EEXIST;
		return (-1);
	default:
		return (-1);
	}
	switch (link_get(sk, "link", up, "veth", &veth)) {
	case LINK_OURS:
		break;
	case LINK_MISSING:
		/* The pair, then the mark on each end. */
		if ((veth = rtnl_link_veth_alloc()) == NULL) {
			errno = ENOMEM;
			goto fail;
		}
		rtnl_link_set_name(veth, up);
		peer = rtnl_link_veth_get_peer(veth);
		rtnl_link_set_name(peer, down);
		rtnl_link_put(peer);
		if ((err = rtnl_link_add(sk, veth, NLM_F_CREATE |
		    NLM_F_EXCL)) < 0) {
			log_warnx("link %s: cannot create it: %s", up,
			    nl_geterror(err));
			errno = nl_errno(err);
			goto fail;
		}
		rtnl_link_veth_release(veth);
		veth = NULL;
		if (link_mark(sk, up) == -1 || link_mark(sk, down) == -1)
			goto fail;
		log_info("bridge %s: leaf %s joined by %s and %s", root, lname,
		    up, down);
		break;
	case LINK_FOREIGN:
		errno = EEXIST;
		goto fail;
	default:
		goto fail;
	}
	if (link_enslave(sk, "link", up, rootlink) == -1 ||
	    link_enslave(sk, "link", down, leaf) == -1)
		goto fail;
	if (!(rtnl_link_get_flags(leaf) & IFF_UP)) {
		if ((change = rtnl_link_alloc()) == NULL) {
			errno = ENOMEM;
			goto fail;
		}
		rtnl_link_set_mtu(change, rtnl_link_get_mtu(rootlink));
		rtnl_link_set_flags(change, IFF_UP);
		if (link_change(sk, "bridge", lname, leaf, change) == -1)
			goto fail;
		rtnl_link_put(change);
	}
	if (veth != NULL)
		rtnl_link_put(veth);
	*leafp = leaf;
	return (0);
 fail:
	saved_errno = errno;
	if (change != NULL)
		rtnl_link_put(change);
	if (veth != NULL)
		rtnl_link_put(veth);
	if (leaf != NULL)
		rtnl_link_put(leaf);
	errno = saved_errno;
	return (-1);
}

/*
 * Whether link is banger's bridge ROOT (0) or one of its leaves
 * ROOT-N (N, 1 to BRIDGE_LEAVES): a bridge with our alias and such a
 * name.  -1 if it is neither.
 */
static long
bridge_leaf(struct rtnl_link *link, const char *root)
{
	const char	*n, *alias, *kind;
	char		*end;
	size_t		 rlen = strlen(root);
	long		 i;

	n = rtnl_link_get_name(link);
	alias = rtnl_link_get_ifalias(link);
	kind = rtnl_link_get_type(link);
	if (n == NULL || alias == NULL || kind == NULL ||
	    strcmp(alias, NETOPS_ALIAS) != 0 || strcmp(kind, "bridge") != 0)
		return (-1);
	if (strcmp(n, root) == 0)
		return (0);
	if (strncmp(n, root, rlen) != 0 || n[rlen] != '-' || n[rlen + 1] == '0')
		return (-1);
	errno = 0;
	i = strtol(n + rlen + 1, &end, 10);
	if (errno != 0 || *end != '\0' || i < 1 || i > BRIDGE_LEAVES)
		return (-1);
	return (i);
}

/*
 * Whether link index ifindex is ROOT itself or one of its leaves (by
 * name, and ours); 1 if so, with its name in name.
 */
static int
bridge_of_root(struct nl_sock *sk, const char *root, int ifindex,
    char *name)
{
	struct rtnl_link	*link = NULL;
	int			 ours;

	if (ifindex <= 0 || rtnl_link_get_kernel(sk, ifindex, NULL,
	    &link) < 0)
		return (0);
	ours = bridge_leaf(link, root) >= 0;
	if (ours)
		strlcpy(name, rtnl_link_get_name(link), IFNAMSIZ);
	rtnl_link_put(link);
	return (ours);
}

/*
 * The ports of the bridge and of its leaves, counted in one dump of the
 * links (by netlink, not /sys/class/net: sysfs shows the links of the
 * namespace it was mounted in, which need not be this one), and then
 * kept: a dump of thousands of links costs far more than
 * the rest of a tap's creation, and each creation would take one.  The
 * counts are those of the last dump plus the taps put on each since;
 * they are counted again when older than PORTS_TTL_MS, after any link
 * of ours was deleted (ports_gen, bumped from any thread), when a tap
 * could not be attached, and for another bridge.  A count can be off
 * only by ports others added meanwhile: a Linux bridge takes 1024,
 * BRIDGE_PORTS is 1000.
 */
#define PORTS_TTL_MS	1000

static struct {
	int		 valid;
	int		 root;			/* the bridge's ifindex */
	unsigned int	 gen;			/* ports_gen when counted */
	struct timespec	 taken;
	int		 index[BRIDGE_LEAVES + 1];	/* 0: no such leaf */
	int		 nports[BRIDGE_LEAVES + 1];	/* [0]: the bridge's */
} ports;
static unsigned int	 ports_gen;

static void
ports_forget(void)
{
	__atomic_add_fetch(&ports_gen, 1, __ATOMIC_RELAXED);
}

/* Count them again if need be; the leaves that exist are ensured then. */
static int
ports_count(struct nl_sock *sk, const char *root, struct rtnl_link *rootlink)
{
	struct nl_cache		*cache;
	struct nl_object	*o;
	struct rtnl_link	*link;
	struct timespec		 now;
	long			 leaf;
	unsigned int		 gen;
	int			 err, i, m;

	gen = __atomic_load_n(&ports_gen, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ports.valid && ports.root == rtnl_link_get_ifindex(rootlink) &&
	    ports.gen == gen &&
	    (now.tv_sec - ports.taken.tv_sec) * 1000 +
	    (now.tv_nsec - ports.taken.tv_nsec) / 1000000 < PORTS_TTL_MS)
		return (0);
	ports.valid = 0;
	if ((err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0) {
		log_warnx("bridge %s: cannot list links: %s", root,
		    nl_geterror(err));
		errno = nl_errno(err);
		return (-1);
	}
	memset(ports.index, 0, sizeof(ports.index));
	memset(ports.nports, 0, sizeof(ports.nports));
	ports.root = ports.index[0] = rtnl_link_get_ifindex(rootlink);
	/* The leaves, by name and mark. */
	for (o = nl_cache_get_first(cache); o != NULL;
	    o = nl_cache_get_next(o)) {
		link = (struct rtnl_link *)o;
		if ((leaf = bridge_leaf(link, root)) >= 1)
			ports.index[leaf] = rtnl_link_get_ifindex(link);
	}
	for (o = nl_cache_get_first(cache); o != NULL;
	    o = nl_cache_get_next(o)) {
		if ((m = rtnl_link_get_master((struct rtnl_link *)o)) <= 0)
			continue;
		for (i = 0; i <= BRIDGE_LEAVES; i++)
			if (ports.index[i] == m) {
				ports.nports[i]++;
				break;
			}
	}
	nl_cache_free(cache);
	/* What each create used to do to every leaf up to its own. */
	for (i = 1; i <= BRIDGE_LEAVES; i++) {
		if (ports.index[i] == 0)
			continue;
		if (leaf_ensure(sk, root, rootlink, i, &link) == -1)
			return (-1);
		ports.index[i] = rtnl_link_get_ifindex(link);
		rtnl_link_put(link);
	}
	ports.gen = gen;
	ports.taken = now;
	ports.valid = 1;
	return (0);
}

/*
 * The bridge a tap goes on: where it already is (ROOT or a leaf of
 * it), else ROOT while it has fewer than BRIDGE_PORTS ports, else the
 * first leaf with room, made if need be.  *slotp: which (0 for ROOT),
 * for net_tap_create to count the tap on it.
 */
static int
tap_bridge(struct nl_sock *sk, const char *root, struct rtnl_link *rootlink,
    struct rtnl_link *tap, struct rtnl_link **brp, char *brname, int *slotp)
{
	struct rtnl_link	*leaf;
	char			 up[IFNAMSIZ], down[IFNAMSIZ];
	int			 n;

	*brp = NULL;
	*slotp = -1;
	if (bridge_of_root(sk, root, rtnl_link_get_master(tap), brname)) {
		if (strcmp(brname, root) == 0) {
			nl_object_get((struct nl_object *)rootlink);
			*brp = rootlink;
			return (0);
		}
		return (rtnl_link_get_kernel(sk, 0, brname, brp) < 0 ? -1 : 0);
	}
	if (ports_count(sk, root, rootlink) == -1)
		return (-1);
	if (ports.nports[0] < BRIDGE_PORTS) {
		nl_object_get((struct nl_object *)rootlink);
		*brp = rootlink;
		strlcpy(brname, root, IFNAMSIZ);
		*slotp = 0;
		return (0);
	}
	for (n = 1; n <= BRIDGE_LEAVES; n++) {
		/* Full when counted: ensured then, not again for each tap. */
		if (ports.index[n] != 0 && ports.nports[n] >= BRIDGE_PORTS)
			continue;
		if (leaf_ensure(sk, root, rootlink, n, &leaf) == -1)
			return (-1);
		/* A leaf made now has no port but its veth end: 0, as ever. */
		if (ports.index[n] != rtnl_link_get_ifindex(leaf)) {
			ports.index[n] = rtnl_link_get_ifindex(leaf);
			ports.nports[n] = 0;
		}
		if (ports.nports[n] < BRIDGE_PORTS) {
			(void)leaf_names(root, n, brname, up, down);
			*brp = leaf;
			*slotp = n;
			return (0);
		}
		rtnl_link_put(leaf);
	}
	log_warnx("bridge %s: it and its %d leaves hold %d taps each: no "
	    "room for another", root, BRIDGE_LEAVES, BRIDGE_PORTS);
	errno = ENOSPC;
	return (-1);
}

int
net_tap_create(const char *tap, const char *bridge, uid_t uid, gid_t gid)
{
	struct nl_sock		*sk = NULL;
	struct rtnl_link	*br = NULL, *link = NULL, *change = NULL;
	struct rtnl_link	*on = NULL;
	char			 what[64], onname[IFNAMSIZ];
	int			 fd = -1, created = 0, ret = -1, saved_errno;
	int			 slot;

	if (check_name("tap", tap, valid_tap_name) == -1 ||
	    check_name("bridge", bridge, valid_bridge_name) == -1)
		return (-1);
	if (uid == 0 || uid == (uid_t)-1 || gid == 0 || gid == (gid_t)-1) {
		log_warnx("tap %s: refused: owner %lu:%lu is root or none",
		    tap, (unsigned long)uid, (unsigned long)gid);
		errno = EINVAL;
		return (-1);
	}
	if (nl_open("tap", tap, &sk) == -1)
		return (-1);
	snprintf(what, sizeof(what), "tap %s", tap);
	if (bridge_ours(sk, what, bridge, &br) == -1)
		goto fail;

	switch (link_get(sk, "tap", tap, "tun", &link)) {
	case LINK_OURS:
		if (tap_matches(tap, uid, gid))
			break;
		/* Ours, with another owner or flags: fix them. */
		if ((fd = tap_open(tap, uid, gid, 0)) == -1)
			goto fail;
		if (ioctl(fd, TUNSETPERSIST, 1UL) == -1) {
			log_warn("tap %s: TUNSETPERSIST", tap);
			goto fail;
		}
		close(fd);
		fd = -1;
		log_info("tap %s: owner %lu:%lu and flags set", tap,
		    (unsigned long)uid, (unsigned long)gid);
		break;
	case LINK_MISSING:
		/* It lives only while fd is open until it is marked. */
		if ((fd = tap_open(tap, uid, gid, 1)) == -1)
			goto fail;
		created = 1;
		if (rtnl_link_get_kernel(sk, 0, tap, &link) < 0 ||
		    (change = rtnl_link_alloc()) == NULL) {
			log_warnx("tap %s: cannot look it up after creating it",
			    tap);
			errno = EIO;
			goto fail;
		}
		rtnl_link_set_ifalias(change, NETOPS_ALIAS);
		if (link_change(sk, "tap", tap, link, change) == -1)
			goto fail;
		rtnl_link_put(change);
		change = NULL;
		if (ioctl(fd, TUNSETPERSIST, 1UL) == -1) {
			log_warn("tap %s: TUNSETPERSIST", tap);
			goto fail;
		}
		close(fd);
		fd = -1;
		log_info("tap %s: created for %lu:%lu", tap,
		    (unsigned long)uid, (unsigned long)gid);
		break;
	case LINK_FOREIGN:
		errno = EEXIST;
		goto fail;
	default:
		goto fail;
	}

	/* MTU of the bridge, on the bridge (or a leaf of it), up. */
	if (tap_bridge(sk, bridge, br, link, &on, onname, &slot) == -1)
		goto fail;
	if (link_attach(sk, "tap", tap, link, on, rtnl_link_get_mtu(br)) ==
	    -1) {
		ports.valid = 0;
		goto fail;
	}
	if (slot != -1)
		ports.nports[slot]++;
	log_debug("tap %s: mtu %u, on bridge %s, up", tap,
	    rtnl_link_get_mtu(br), onname);
	ret = 0;
 fail:
	saved_errno = errno;
	if (fd != -1) {
		/* Not persistent yet: closing the fd removes it. */
		if (created)
			ioctl(fd, TUNSETPERSIST, 0UL);
		close(fd);
	} else if (ret == -1 && created && link != NULL)
		link_delete(sk, "tap", tap, link);
	if (change != NULL)
		rtnl_link_put(change);
	if (link != NULL)
		rtnl_link_put(link);
	if (on != NULL)
		rtnl_link_put(on);
	if (br != NULL)
		rtnl_link_put(br);
	nl_socket_free(sk);
	errno = saved_errno;
	return (ret);
}

int
net_tap_delete(const char *tap)
{
	return (link_remove_ours("tap", tap, valid_tap_name, "tun"));
}

/*
 * Many taps at once.  The kernel spends RCU grace periods on each link
 * it unregisters (tens of milliseconds), but links deleted in one
 * request share them: each tap of ours (checked by link_get, as for
 * one) is moved into a link group no other link is in, by its index,
 * and the group is deleted in one request (the kernel deletes all of a
 * group or none).  A tap that could not join the group, or each if
 * that request fails, is deleted on its own.  errs[i] is 0 once
 * taps[i] is gone or was, EPERM if it is not banger's, else why it
 * could not be deleted.  Returns 0, or -1 if any could not.
 */
struct tap_req {
	const char		*td_name;
	struct rtnl_link	*td_link;	/* ours, as looked up */
	int			*td_err;
	int			 td_grouped;	/* moved into the group */
};

static int
tap_req_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct tap_req *)a)->td_name,
	    ((const struct tap_req *)b)->td_name));
}

/*
 * The requests for taps[0..n): errs[] cleared, a bad name's errs[i] set
 * to EINVAL (logged) and left out; *mp gets how many there are.  NULL
 * if out of memory.
 */
static struct tap_req *
tap_reqs(const char *const *taps, int *errs, size_t n, size_t *mp)
{
	struct tap_req	*td;
	size_t		 i, m = 0;

	for (i = 0; i < n; i++)
		errs[i] = 0;
	if ((td = calloc(n, sizeof(*td))) == NULL)
		return (NULL);
	for (i = 0; i < n; i++) {
		if (check_name("tap", taps[i], valid_tap_name) == -1) {
			errs[i] = EINVAL;
			continue;
		}
		td[m].td_name = taps[i];
		td[m].td_err = &errs[i];
		m++;
	}
	*mp = m;
	return (td);
}

/*
 * A link group no link is in, never 0 (every link's by default): one
 * not among the groups of the last dump of the links, taken again when
 * older than GROUPS_TTL_MS (a dump of thousands of links costs more
 * than deleting a few taps).  For one thread at a time (the reaper).
 */
#define GROUPS_TTL_MS	1000

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

static int
group_unused(struct nl_sock *sk, uint32_t *gp)
{
	static uint32_t		*used;
	static size_t		 nused;
	static struct timespec	 taken;
	struct nl_cache		*cache;
	struct nl_object	*o;
	struct timespec		 now;
	uint32_t		 g, *u;
	int			 err;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (used == NULL || (now.tv_sec - taken.tv_sec) * 1000 +
	    (now.tv_nsec - taken.tv_nsec) / 1000000 >= GROUPS_TTL_MS) {
		if ((err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0) {
			log_warnx("tap deletion: cannot list the links: %s",
			    nl_geterror(err));
			errno = nl_errno(err);
			return (-1);
		}
		if ((u = reallocarray(NULL, nl_cache_nitems(cache) + 1,
		    sizeof(*u))) == NULL) {
			nl_cache_free(cache);
			return (-1);
		}
		free(used);
		used = u;
		nused = 0;
		for (o = nl_cache_get_first(cache); o != NULL;
		    o = nl_cache_get_next(o))
			used[nused++] = rtnl_link_get_group(
			    (struct rtnl_link *)o);
		nl_cache_free(cache);
		qsort(used, nused, sizeof(*used), u32_cmp);
		taken = now;
	}
	do
		g = arc4random() | 0x80000000U;
	while (bsearch(&g, used, nused, sizeof(*used), u32_cmp) != NULL);
	*gp = g;
	return (0);
}

/* RTM_DELLINK of every link in group g. */
static int
group_delete(struct nl_sock *sk, uint32_t g)
{
	struct ifinfomsg	 ifi;
	struct nl_msg		*msg;
	int			 err;

	if ((msg = nlmsg_alloc_simple(RTM_DELLINK, 0)) == NULL)
		return (-NLE_NOMEM);
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_family = AF_UNSPEC;
	if ((err = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO)) < 0 ||
	    (err = nla_put_u32(msg, IFLA_GROUP, g)) < 0 ||
	    (err = nl_send_auto_complete(sk, msg)) < 0) {
		nlmsg_free(msg);
		return (err);
	}
	nlmsg_free(msg);
	return (nl_wait_for_ack(sk));
}

int
net_taps_delete(const char *const *taps, int *errs, size_t n)
{
	struct nl_sock		*sk = NULL;
	struct rtnl_link	*change = NULL;
	struct tap_req		*td = NULL;
	const char		*name;
	size_t			 i, m = 0, grouped = 0;
	uint32_t		 g;
	int			 err, ret = 0;

	if (n == 0)
		return (0);
	if ((td = tap_reqs(taps, errs, n, &m)) == NULL)
		goto fail_all;
	if (nl_open("tap", "deletion", &sk) == -1)
		goto fail_all;
	/* Each checked as link_remove_ours() does. */
	for (i = 0; i < m; i++) {
		switch (link_get(sk, "tap", td[i].td_name, "tun",
		    &td[i].td_link)) {
		case LINK_OURS:
		case LINK_MISSING:
			break;
		case LINK_FOREIGN:
			*td[i].td_err = EPERM;
			break;
		default:
			*td[i].td_err = errno ? errno : EIO;
			break;
		}
	}
	if ((change = rtnl_link_alloc()) == NULL) {
		errno = ENOMEM;
		goto fail_all;
	}
	if (group_unused(sk, &g) == -1)
		goto fail_all;
	rtnl_link_set_group(change, g);
	for (i = 0; i < m; i++) {
		if (td[i].td_link == NULL)
			continue;
		err = rtnl_link_change(sk, td[i].td_link, change, 0);
		if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) {
			/* Gone meanwhile. */
			rtnl_link_put(td[i].td_link);
			td[i].td_link = NULL;
		} else if (err >= 0) {
			td[i].td_grouped = 1;
			grouped++;
		}
	}
	if (grouped > 0) {
		ports_forget();
		/* The kernel deletes every link of the group, or none. */
		if ((err = group_delete(sk, g)) < 0) {
			log_debug("tap deletion: group %u: %s; one by one", g,
			    nl_geterror(err));
			grouped = 0;
		}
	}
	/* What the group request did not take goes one by one. */
	for (i = 0; i < m; i++) {
		if (td[i].td_link == NULL)
			continue;
		name = td[i].td_name;
		if (grouped > 0 && td[i].td_grouped)
			log_info("tap %s: deleted", name);
		else if (link_delete(sk, "tap", name, td[i].td_link) == -1)
			*td[i].td_err = errno ? errno : EIO;
	}
	for (i = 0; i < n; i++)
		if (errs[i] != 0)
			ret = -1;
	goto out;
 fail_all:
	err = errno ? errno : EIO;
	for (i = 0; i < n; i++)
		if (errs[i] == 0)
			errs[i] = err;
	ret = -1;
 out:
	if (change != NULL)
		rtnl_link_put(change);
	for (i = 0; td != NULL && i < m; i++)
		if (td[i].td_link != NULL)
			rtnl_link_put(td[i].td_link);
	if (sk != NULL)
		nl_socket_free(sk);
	free(td);
	if (ret == -1)
		errno = EIO;
	return (ret);
}

/*
 * net_tap_create() for many taps, each with its uid as owner and group,
 * at a start: one dump of the links says which already are as it would
 * leave them (banger's, on BRIDGE or a leaf of it, with BRIDGE's MTU,
 * up, and tap_matches), and only the others go through it.  errs[i] is
 * 0 or the errno of taps[i]'s failure (logged).  Returns 0, or -1 if
 * any failed.
 */
int
net_taps_ensure(const char *bridge, const char *const *taps,
    const uid_t *uids, int *errs, size_t n)
{
	struct nl_sock		*sk = NULL;
	struct nl_cache		*cache = NULL;
	struct nl_object	*o;
	struct rtnl_link	*br = NULL, *link;
	struct tap_req		*td = NULL, key, *hit;
	const char		*kind, *alias;
	char			 what[64];
	size_t			 i, m = 0, nours = 0;
	unsigned int		 mtu;
	int			*ours = NULL, err, ret = 0, ok;

	for (i = 0; i < n; i++)
		errs[i] = 0;
	if (n == 0)
		return (0);
	if (check_name("bridge", bridge, valid_bridge_name) == -1)
		goto fail_all;
	if ((td = tap_reqs(taps, errs, n, &m)) == NULL ||
	    (ours = calloc(BRIDGE_LEAVES + 1, sizeof(*ours))) == NULL)
		goto fail_all;
	qsort(td, m, sizeof(*td), tap_req_cmp);
	if (nl_open("tap", "check", &sk) == -1)
		goto fail_all;
	snprintf(what, sizeof(what), "taps on %s", bridge);
	if (bridge_ours(sk, what, bridge, &br) == -1)
		goto fail_all;
	if ((err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0) {
		log_warnx("tap check: cannot list the links: %s",
		    nl_geterror(err));
		errno = nl_errno(err);
		goto fail_all;
	}
	/* The bridge and its leaves, from the dump. */
	ours[nours++] = rtnl_link_get_ifindex(br);
	for (o = nl_cache_get_first(cache); o != NULL && nours <=
	    BRIDGE_LEAVES; o = nl_cache_get_next(o))
		if (bridge_leaf((struct rtnl_link *)o, bridge) >= 1)
			ours[nours++] = rtnl_link_get_ifindex(
			    (struct rtnl_link *)o);
	mtu = rtnl_link_get_mtu(br);
	for (o = nl_cache_get_first(cache); o != NULL;
	    o = nl_cache_get_next(o)) {
		link = (struct rtnl_link *)o;
		if ((key.td_name = rtnl_link_get_name(link)) == NULL ||
		    (hit = bsearch(&key, td, m, sizeof(*td),
		    tap_req_cmp)) == NULL)
			continue;
		kind = rtnl_link_get_type(link);
		alias = rtnl_link_get_ifalias(link);
		if (kind == NULL || strcmp(kind, "tun") != 0 ||
		    alias == NULL || strcmp(alias, NETOPS_ALIAS) != 0 ||
		    !(rtnl_link_get_flags(link) & IFF_UP) ||
		    rtnl_link_get_mtu(link) != mtu)
			continue;
		for (i = 0, ok = 0; i < nours && !ok; i++)
			ok = rtnl_link_get_master(link) == ours[i];
		if (ok)
			hit->td_link = link;
	}
	for (i = 0; i < m; i++) {
		/* td[i] is taps[j], errs[j] its error: uids[j] its uid. */
		const uid_t	*uid = &uids[td[i].td_err - errs];

		if (td[i].td_link != NULL &&
		    tap_matches(td[i].td_name, *uid, *uid))
			continue;
		if (net_tap_create(td[i].td_name, bridge, *uid, *uid) == -1)
			*td[i].td_err = errno ? errno : EIO;
	}
	for (i = 0; i < n; i++)
		if (errs[i] != 0)
			ret = -1;
	goto out;
 fail_all:
	err = errno ? errno : EIO;
	for (i = 0; i < n; i++)
		if (errs[i] == 0)
			errs[i] = err;
	ret = -1;
 out:
	if (cache != NULL)
		nl_cache_free(cache);
	if (br != NULL)
		rtnl_link_put(br);
	if (sk != NULL)
		nl_socket_free(sk);
	free(ours);
	free(td);
	if (ret == -1)
		errno = EIO;
	return (ret);
}

/*
 * Call cb with each tap named fc-tap-ID, and whether it is banger's
 * (kind tun, marked with our alias): a list for the start-up sweep,
 * which removes only those that are.  Nothing is changed here.
 */
int
net_tap_list(void (*cb)(const char *, int, void *), void *arg)
{
	struct nl_sock		*sk = NULL;
	struct nl_cache		*cache = NULL;
	struct nl_object	*obj;
	struct rtnl_link	*link;
	const char		*name, *kind, *alias;
	int			 err;

	if (nl_open("tap", "list", &sk) == -1)
		return (-1);
	if ((err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0) {
		log_warnx("tap list: cannot list the links: %s",
		    nl_geterror(err));
		nl_socket_free(sk);
		errno = nl_errno(err);
		return (-1);
	}
	for (obj = nl_cache_get_first(cache); obj != NULL;
	    obj = nl_cache_get_next(obj)) {
		link = (struct rtnl_link *)obj;
		if ((name = rtnl_link_get_name(link)) == NULL ||
		    valid_tap_name(name, strnlen(name, IFNAMSIZ), NULL) == -1)
			continue;
		kind = rtnl_link_get_type(link);
		alias = rtnl_link_get_ifalias(link);
		cb(name, kind != NULL && strcmp(kind, "tun") == 0 &&
		    alias != NULL && strcmp(alias, NETOPS_ALIAS) == 0, arg);
	}
	nl_cache_free(cache);
	nl_socket_free(sk);
	return (0);
}

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
	if (check_name("nat: bridge", nc->nc_bridge, valid_bridge_name) == -1)
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
		if (check_name("nat: egress", nc->nc_egress,
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

/*
 * resolvectl's path: the first executable regular file of that name in
 * an absolute directory of PATH (RUN_PATH when PATH is unset).
 */
static int
resolvectl_find(char *buf, size_t size)
{
	const char	*path, *p, *end;
	struct stat	 st;
	size_t		 len;
	int		 n;

	if ((path = getenv("PATH")) == NULL || *path == '\0')
		path = RUN_PATH;
	for (p = path; *p != '\0'; p = *end == ':' ? end + 1 : end) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		len = end - p;
		if (len == 0 || *p != '/')
			continue;
		n = snprintf(buf, size, "%.*s/%s", (int)len, p, RESOLVECTL);
		if (n < 0 || (size_t)n >= size)
			continue;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return (0);
	}
	return (-1);
}

/*
 * Read what the pipe holds into err (the rest is dropped).  1 at its
 * end; also 1 once the child has exited and it is empty, in case a
 * child of the child still holds it.
 */
static int
run_drain(int fd, char *err, size_t size, size_t *elenp, int exited)
{
	char	 junk[256];
	ssize_t	 n;

	for (;;) {
		if (*elenp < size - 1)
			n = read(fd, err + *elenp, size - 1 - *elenp);
		else
			n = read(fd, junk, sizeof(junk));
		if (n > 0) {
			if (*elenp < size - 1)
				*elenp += n;
			continue;
		}
		if (n == 0)
			return (1);
		if (errno == EINTR)
			continue;
		return (exited);
	}
}

/*
 * Run PATH with ARGV: no shell, environment RUN_PATH and LC_ALL=C,
 * stdin and stdout /dev/null, no other fd, RUN_TIMEOUT_MS at most.
 * Returns its exit status (logging its stderr unless quiet and it
 * exited 0), or -1 if it could not run, was killed or timed out.
 */
static int
run_cmd(const char *what, const char *path, char *const argv[], int quiet)
{
	static char *const envp[] = { "PATH=" RUN_PATH, "LC_ALL=C", NULL };
	struct pollfd	 pfd[2];
	struct timespec	 start, now;
	struct sigaction sa;
	sigset_t	 none;
	char		 err[RUN_ERR_MAX];
	size_t		 elen = 0, i;
	pid_t		 pid;
	long		 left;
	int		 p[2], pidfd = -1, status, exited = 0, eof = 0;
	int		 nfd, efd, saved_errno;

	sigemptyset(&none);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("%s: pipe", what);
		return (-1);
	}
	switch (pid = fork()) {
	case -1:
		saved_errno = errno;
		close(p[0]);
		close(p[1]);
		errno = saved_errno;
		log_warn("%s: fork", what);
		return (-1);
	case 0:
		/* Async-signal-safe calls only from here on. */
		sigprocmask(SIG_SETMASK, &none, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		/* Its own process group, so that a timeout kills it all. */
		setpgid(0, 0);
		if ((nfd = open("/dev/null", O_RDWR)) == -1 ||
		    (nfd = fcntl(nfd, F_DUPFD, 10)) == -1 ||
		    (efd = fcntl(p[1], F_DUPFD, 10)) == -1 ||
		    fcntl(efd, F_SETFL, 0) == -1 ||
		    dup2(nfd, STDIN_FILENO) == -1 ||
		    dup2(nfd, STDOUT_FILENO) == -1 ||
		    dup2(efd, STDERR_FILENO) == -1)
			_exit(126);
		close_range(3, ~0U, 0);
		execve(path, argv, envp);
		_exit(127);
	}
	close(p[1]);
	if ((pidfd = pidfd_open(pid, 0)) == -1) {
		log_warn("%s: pidfd_open", what);
		kill(-pid, SIGKILL);
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!exited || !eof) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = RUN_TIMEOUT_MS - ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0) {
			log_warnx("%s: %s timed out after %d ms; killed", what,
			    path, RUN_TIMEOUT_MS);
			kill(-pid, SIGKILL);
			errno = ETIMEDOUT;
			goto fail;
		}
		pfd[0].fd = eof ? -1 : p[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = exited ? -1 : pidfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("%s: poll", what);
			kill(-pid, SIGKILL);
			goto fail;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP))
			exited = 1;
		if (!eof && (exited || (pfd[0].revents & (POLLIN | POLLHUP))))
			eof = run_drain(p[0], err, sizeof(err), &elen, exited);
	}
	close(pidfd);
	close(p[0]);
	if (waitpid(pid, &status, 0) == -1) {
		log_warn("%s: waitpid", what);
		return (-1);
	}
	err[elen] = '\0';
	err[strcspn(err, "\n")] = '\0';
	for (i = 0; i < elen && err[i] != '\0'; i++)
		if (err[i] < 0x20 || err[i] >= 0x7f)
			err[i] = '?';
	if (WIFSIGNALED(status)) {
		log_warnx("%s: %s killed by signal %d", what, path,
		    WTERMSIG(status));
		errno = EIO;
		return (-1);
	}
	status = WEXITSTATUS(status);
	if (status == 127 || status == 126)
		log_warnx("%s: cannot run %s (status %d)", what, path, status);
	else if (status != 0 && !quiet)
		log_warnx("%s: %s %s exited with status %d%s%s", what, path,
		    argv[1], status, err[0] != '\0' ? ": " : "", err);
	else if (err[0] != '\0')
		log_debug("%s: %s %s: %s", what, path, argv[1], err);
	return (status);

 fail:
	saved_errno = errno;
	if (pidfd != -1)
		close(pidfd);
	close(p[0]);
	waitpid(pid, NULL, 0);
	errno = saved_errno;
	return (-1);
}

/*
 * 1 if systemd-resolved runs (resolvectl on PATH, "resolvectl status"
 * exits 0), with resolvectl's path in buf; 0 if not, logged once until
 * it runs again; -1 if resolvectl could not be run.
 */
static int
resolved_running(const char *what, char *buf, size_t size)
{
	char *const	 argv[] = { RESOLVECTL, "status", NULL };
	int		 st;

	if (resolvectl_find(buf, size) == -1)
		st = 1;
	else if ((st = run_cmd(what, buf, argv, 1)) == -1)
		return (-1);
	if (st == 0) {
		resolved_absent_logged = 0;
		return (1);
	}
	if (!resolved_absent_logged) {
		log_info("systemd-resolved not running: VM names resolve only "
		    "through the bridge's DNS");
		resolved_absent_logged = 1;
	} else
		log_debug("%s: systemd-resolved not running", what);
	return (0);
}

int
resolver_route(const char *bridge, struct in_addr dns, const char *domain,
    int *active)
{
	struct nl_sock		*sk = NULL;
	struct rtnl_link	*br = NULL;
	char			 path[PATH_MAX], a[INET_ADDRSTRLEN];
	char			 what[64], routed[DOMAIN_MAX + 2];
	char			*argv[5];
	const char		*why;
	int			 r;

	if (active != NULL)
		*active = 0;
	if (check_name("resolver", bridge, valid_bridge_name) == -1)
		return (-1);
	snprintf(what, sizeof(what), "resolver %s", bridge);
	inet_ntop(AF_INET, &dns, a, sizeof(a));
	if (valid_bridge_addr(dns, 32, &why) == -1) {
		log_warnx("%s: refused: dns server %s: %s", what, a, why);
		errno = EINVAL;
		return (-1);
	}
	if (valid_domain(domain, &why) == -1) {
		log_warnx("%s: refused: domain %s: %s", what, show(domain),
		    why);
		errno = EINVAL;
		return (-1);
	}
	if (active == NULL) {
		log_warnx("%s: refused: nowhere to say if it is active", what);
		errno = EINVAL;
		return (-1);
	}
	if (nl_open("resolver", bridge, &sk) == -1)
		return (-1);
	r = bridge_ours(sk, what, bridge, &br);
	if (br != NULL)
		rtnl_link_put(br);
	nl_socket_free(sk);
	if (r == -1)
		return (-1);

	if ((r = resolved_running(what, path, sizeof(path))) != 1)
		return (r);
	snprintf(routed, sizeof(routed), "~%s", domain);
	argv[0] = RESOLVECTL;
	argv[1] = "dns";
	argv[2] = (char *)bridge;
	argv[3] = a;
	argv[4] = NULL;
	if ((r = run_cmd(what, path, argv, 0)) == -1)
		return (-1);
	if (r == 0) {
		argv[1] = "domain";
		argv[3] = routed;
		if ((r = run_cmd(what, path, argv, 0)) == -1)
			return (-1);
	}
	if (r != 0) {
		errno = EIO;
		return (-1);
	}
	*active = 1;
	log_info("%s: %s resolved through %s", what, domain, a);
	return (0);
}

int
resolver_clear(const char *bridge)
{
	struct nl_sock		*sk = NULL;
	struct rtnl_link	*br = NULL;
	char			 path[PATH_MAX], what[64];
	char *const		 argv[] = { RESOLVECTL, "revert",
				    (char *)bridge, NULL };
	int			 r;

	if (check_name("resolver", bridge, valid_bridge_name) == -1)
		return (-1);
	snprintf(what, sizeof(what), "resolver %s", bridge);
	if (nl_open("resolver", bridge, &sk) == -1)
		return (-1);
	r = link_get(sk, "bridge", bridge, "bridge", &br);
	if (br != NULL)
		rtnl_link_put(br);
	nl_socket_free(sk);
	switch (r) {
	case LINK_OURS:
		break;
	case LINK_MISSING:
		/* resolved forgets a link that is gone. */
		log_debug("%s: bridge gone, nothing to revert", what);
		return (0);
	case LINK_FOREIGN:
		log_warnx("%s: refused: bridge %s is not banger's", what,
		    bridge);
		errno = EPERM;
		return (-1);
	default:
		return (-1);
	}
	if ((r = resolved_running(what, path, sizeof(path))) != 1)
		return (r);
	if ((r = run_cmd(what, path, argv, 0)) == -1)
		return (-1);
	if (r != 0) {
		errno = EIO;
		return (-1);
	}
	log_info("%s: reverted", what);
	return (0);
}

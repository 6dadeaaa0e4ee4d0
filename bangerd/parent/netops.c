/*
 * The parent's network operations (see netops.h): banger's bridge and
 * its leaf bridges through libnl-route-3, and the netlink helpers the
 * others share.  The taps are in tap.c, the nftables table in nat.c,
 * the routing of the VM domain's DNS queries in resolver.c.
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
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>

/* linux/rtnetlink.h's (for prefix messages) is not validate.h's. */
#undef PREFIX_MAX

#include "log.h"
#include "netops.h"
#include "validate.h"

#define SHOW_MAX	40

static int	 bridge_create(struct nl_sock *, const char *,
		    struct rtnl_link **);
static int	 bridge_addr_set(struct nl_sock *, const char *, int,
		    struct in_addr, int);

/*
 * A name fit for the log, whatever bytes it holds: at most SHOW_MAX of
 * them, anything but printable ASCII shown as '?'.  Two buffers in
 * turn, for two names in one message.
 */
const char *
netops_show(const char *s)
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
int
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

int
netops_check_name(const char *what, const char *name,
    int (*valid)(const char *, size_t, const char **))
{
	const char	*why = "null name";

	if (name == NULL || valid(name, strnlen(name, IFNAMSIZ), &why) == -1) {
		log_warnx("%s %s: refused: invalid name: %s", what,
		    netops_show(name), why);
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

int
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
int
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
		    k == NULL ? "" : netops_show(k));
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

int
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
int
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
int
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

	if (netops_check_name("bridge", name, valid_bridge_name) == -1)
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
int
link_remove_ours(const char *what, const char *name,
    int (*valid)(const char *, size_t, const char **), const char *kind)
{
	struct nl_sock		*sk = NULL;
	struct rtnl_link	*link = NULL;
	int			 ret = -1, saved_errno;

	if (netops_check_name(what, name, valid) == -1)
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
 * A Linux bridge takes at most 1023 ports.  Past BRIDGE_PORTS taps on
 * the bridge, taps go on leaf bridges ROOT-1 to ROOT-BRIDGE_LEAVES, each
 * joined to the bridge by a veth pair (ROOT-Nu on the bridge, ROOT-Nd on
 * the leaf): one layer two network, so the VMs reach each other and the
 * host through the bridge as before, and NAT and DNS, which see all
 * their traffic arrive on the bridge, stay as they are.  The leaves and
 * the veth pairs carry banger's mark like the bridge, and stay like it.
 */

/* ROOT-N, ROOT-Nu, ROOT-Nd: names that fit, or -1 (EINVAL, logged). */
int
leaf_names(const char *root, int n, char *leaf, char *up, char *down)
{
	if (snprintf(leaf, IFNAMSIZ, "%s-%d", root, n) >= IFNAMSIZ ||
	    snprintf(up, IFNAMSIZ, "%s-%du", root, n) >= IFNAMSIZ ||
	    snprintf(down, IFNAMSIZ, "%s-%dd", root, n) >= IFNAMSIZ ||
	    netops_check_name("bridge", leaf, valid_bridge_name) == -1) {
		log_warnx("bridge %s: its leaf bridge %d does not fit a name "
		    "of %d characters", root, n, IFNAMSIZ - 1);
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

/* Put LINK (ours, named NAME) on bridge MASTER, with MTU mtu, and up. */
int
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
int
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
long
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
int
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

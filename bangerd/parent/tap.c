/*
 * The parent's taps (see netops.h): each made and marked through
 * /dev/net/tun, put on banger's bridge or on a leaf bridge with room
 * (netops.c makes the leaves), deleted one by one or many at once,
 * and listed for the start-up sweep.
 */
#include <sys/types.h>
#include <sys/ioctl.h>

#include <net/if.h>
#include <netinet/in.h>

#include <linux/if_tun.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

/* linux/rtnetlink.h's (for prefix messages) is not validate.h's. */
#undef PREFIX_MAX

#include "log.h"
#include "netops.h"
#include "validate.h"

#define TUN_DEV		"/dev/net/tun"
#define TAP_FLAGS	(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

static int	 tap_open(const char *, uid_t, gid_t, int);
static int	 tap_sysfs(const char *, const char *, char *, size_t);
static int	 tap_sysfs_is(const char *, const char *, long long);
static int	 tap_matches(const char *, uid_t, gid_t);
static int	 taps_delete(const char *const *, int *, size_t,
		    int (*)(const char *, size_t, const char **), int);
static void	 spare_put_back(const char *);
static int	 taps_named(const char *, int (*)(const char *, size_t,
		    const char **), void (*)(const char *, int, void *), void *);

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
		    netops_show(ifr.ifr_name));
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
 * No IPv6 on TAP: a bridge port needs no address of the host's, and
 * with one (its link-local address, its routes) the kernel walks the
 * whole IPv6 routing table for every port that goes down or away, so
 * that removing n taps cost time in n squared (fib6_clean_all: a
 * prune of 4000 VMs took 12.2 s, and takes 4.95 s without).  Set
 * before the tap is up.  A host without IPv6 has no such file: nothing
 * to do.  A failure is logged, not fatal: the tap works, removing many
 * only costs more.
 */
static void
tap_no_ipv6(const char *tap)
{
	char	 path[PATH_MAX];
	int	 fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
	    tap);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("tap %s: %s", tap, path);
		return;
	}
	if (write(fd, "1\n", 2) != 2)
		log_warn("tap %s: write %s", tap, path);
	close(fd);
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

/*
 * Spare taps.  Deleting a tap costs the kernel RCU grace periods (15 to
 * 25 ms here), and making one a registration; so a removed VM's tap is
 * kept, while there are fewer than TAP_SPARES, as a spare for the next
 * creation (spare_keep, in the reaper's thread):
 *
 *  - set down, so that it can be renamed (it stays on its bridge, down
 *    and without carrier: no traffic reaches it);
 *  - given back to root through /dev/net/tun, which attaches only while
 *    no other file is attached (EBUSY), so no process of the VM's can
 *    still hold it; once root's, only root can attach;
 *  - renamed fc-spare-XXXXXX (six random hex digits; valid_tap_name
 *    takes no such name, so no VM's request can name a spare).
 *
 * A tap that cannot be made a spare is deleted.  A creation takes a
 * spare (spare_use, in the event loop), renames it to its tap and gives
 * it to its owner, as it does a tap of ours found under its name.
 * Spares are deleted when bangerd stops, and at its start (those a
 * crash left): net_spares_clear.  The list is the reaper's to add to
 * and the event loop's to take from, under spare_lock.
 */
#define TAP_SPARES	16
#define SPARE_PREFIX	"fc-spare-"
#define SPARE_DIGITS	6

static pthread_mutex_t	 spare_lock = PTHREAD_MUTEX_INITIALIZER;
static char		 spares[TAP_SPARES][IFNAMSIZ];
static size_t		 nspares;

static int
valid_spare_name(const char *s, size_t len, const char **why)
{
	size_t	 plen = sizeof(SPARE_PREFIX) - 1, i;

	if (len != plen + SPARE_DIGITS || strncmp(s, SPARE_PREFIX, plen) != 0) {
		if (why != NULL)
			*why = "not fc-spare- and six hex digits";
		return (-1);
	}
	for (i = plen; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f'))) {
			if (why != NULL)
				*why = "not fc-spare- and six hex digits";
			return (-1);
		}
	return (0);
}

/* Whether the list has room for one more: for the reaper, its only adder. */
static int
spare_room(void)
{
	int	 room;

	pthread_mutex_lock(&spare_lock);
	room = nspares < TAP_SPARES;
	pthread_mutex_unlock(&spare_lock);
	return (room);
}

/*
 * Keep TAP (ours: LINK) as a spare.  0 once it is one, listed; -1 if it
 * is to be deleted instead (why logged: deleting it is what would have
 * been done anyway).
 */
static int
spare_keep(struct nl_sock *sk, const char *tap, struct rtnl_link *link)
{
	struct rtnl_link	*change;
	char			 name[IFNAMSIZ];
	int			 fd, err, tries;

	if ((change = rtnl_link_alloc()) == NULL)
		return (-1);
	rtnl_link_unset_flags(change, IFF_UP);
	err = rtnl_link_change(sk, link, change, 0);
	rtnl_link_put(change);
	if (err < 0) {
		log_debug("tap %s: cannot set it down: %s", tap,
		    nl_geterror(err));
		return (-1);
	}
	/* Root's, if nothing else holds it (else EBUSY, logged). */
	if ((fd = tap_open(tap, 0, 0, 0)) == -1)
		return (-1);
	close(fd);
	for (tries = 0;; tries++) {
		snprintf(name, sizeof(name), "%s%06x", SPARE_PREFIX,
		    arc4random() & 0xffffff);
		if ((change = rtnl_link_alloc()) == NULL)
			return (-1);
		rtnl_link_set_name(change, name);
		err = rtnl_link_change(sk, link, change, 0);
		rtnl_link_put(change);
		if (err >= 0)
			break;
		/* Another spare has that name. */
		if (err != -NLE_EXIST || tries == 3) {
			log_debug("tap %s: cannot rename it %s: %s", tap,
			    name, nl_geterror(err));
			return (-1);
		}
	}
	pthread_mutex_lock(&spare_lock);
	if (nspares == TAP_SPARES) {
		/* Only the reaper adds: not reached.  Deleted then. */
		pthread_mutex_unlock(&spare_lock);
		return (-1);
	}
	strlcpy(spares[nspares++], name, sizeof(spares[0]));
	pthread_mutex_unlock(&spare_lock);
	log_info("tap %s: kept as spare %s", tap, name);
	return (0);
}

/*
 * A spare, renamed TAP (missing) and given to uid:gid, its link in
 * *linkp.  -1 if there is none to take.  The spare is attached to
 * before it is renamed, and the owner set through that file: the
 * attach fails (EBUSY) while any other file is attached, such as the
 * reaper's own, briefly, in a child forked while it kept the spare
 * (put back, for a later creation).  One that is gone, not ours, or
 * cannot be attached to or renamed otherwise is forgotten
 * (net_spares_clear finds it by name).
 */
static int
spare_use(struct nl_sock *sk, const char *tap, uid_t uid, gid_t gid,
    struct rtnl_link **linkp)
{
	struct rtnl_link	*link, *change;
	char			 name[IFNAMSIZ];
	size_t			 tries;
	int			 fd, err;

	*linkp = NULL;
	for (tries = 0; tries < TAP_SPARES; tries++) {
		pthread_mutex_lock(&spare_lock);
		if (nspares == 0) {
			pthread_mutex_unlock(&spare_lock);
			return (-1);
		}
		strlcpy(name, spares[--nspares], sizeof(name));
		pthread_mutex_unlock(&spare_lock);
		if (link_get(sk, "spare tap", name, "tun", &link) != LINK_OURS)
			continue;
		/* Attached, and given to uid:gid, before its rename. */
		if ((fd = tap_open(name, uid, gid, 0)) == -1) {
			if (errno == EBUSY)
				spare_put_back(name);
			rtnl_link_put(link);
			continue;
		}
		if ((change = rtnl_link_alloc()) == NULL) {
			close(fd);
			spare_put_back(name);
			rtnl_link_put(link);
			return (-1);
		}
		rtnl_link_set_name(change, tap);
		err = rtnl_link_change(sk, link, change, 0);
		rtnl_link_put(change);
		if (err < 0) {
			log_warnx("tap %s: cannot rename spare %s to it: %s",
			    tap, name, nl_geterror(err));
			/* Root's again, as a spare is. */
			(void)ioctl(fd, TUNSETOWNER, 0UL);
			(void)ioctl(fd, TUNSETGROUP, 0UL);
			close(fd);
			rtnl_link_put(link);
			continue;
		}
		close(fd);
		rtnl_link_set_name(link, tap);
		*linkp = link;
		log_info("tap %s: made of spare %s, for %lu:%lu", tap, name,
		    (unsigned long)uid, (unsigned long)gid);
		return (0);
	}
	return (-1);
}

/* A spare that could not be taken now: first in line, for later. */
static void
spare_put_back(const char *name)
{
	pthread_mutex_lock(&spare_lock);
	if (nspares < TAP_SPARES) {
		memmove(spares[1], spares[0], nspares * sizeof(spares[0]));
		strlcpy(spares[0], name, sizeof(spares[0]));
		nspares++;
	}
	pthread_mutex_unlock(&spare_lock);
}

/* The names of spares of ours, gathered by taps_named. */
struct spare_names {
	char		(*sn_names)[IFNAMSIZ];
	size_t		  sn_n, sn_cap;
	int		  sn_nomem;
};

static void
spare_named(const char *name, int ours, void *arg)
{
	struct spare_names	*sn = arg;
	void			*p;

	if (!ours || sn->sn_nomem)
		return;
	if (sn->sn_n == sn->sn_cap) {
		if ((p = reallocarray(sn->sn_names, sn->sn_cap * 2 + 16,
		    sizeof(*sn->sn_names))) == NULL) {
			sn->sn_nomem = 1;
			return;
		}
		sn->sn_names = p;
		sn->sn_cap = sn->sn_cap * 2 + 16;
	}
	strlcpy(sn->sn_names[sn->sn_n++], name, sizeof(sn->sn_names[0]));
}

/*
 * Delete every spare of ours among the links (fc-spare-*, kind tun,
 * banger's alias): those listed, any forgotten, and those of an earlier
 * run; the list is emptied.  Not while the reaper keeps taps: at start,
 * before any removal, and at stop, once it is drained.  Returns 0, or
 * -1 if any stays (logged).
 */
int
net_spares_clear(void)
{
	struct spare_names	 sn;
	const char		**list = NULL;
	int			*errs = NULL, ret = 0;
	size_t			 i;

	pthread_mutex_lock(&spare_lock);
	nspares = 0;
	pthread_mutex_unlock(&spare_lock);
	memset(&sn, 0, sizeof(sn));
	if (taps_named("spare taps", valid_spare_name, spare_named, &sn) == -1)
		return (-1);
	if (sn.sn_nomem)
		goto fail;
	if (sn.sn_n == 0)
		goto out;
	if ((list = calloc(sn.sn_n, sizeof(*list))) == NULL ||
	    (errs = calloc(sn.sn_n, sizeof(*errs))) == NULL)
		goto fail;
	for (i = 0; i < sn.sn_n; i++)
		list[i] = sn.sn_names[i];
	if ((ret = taps_delete(list, errs, sn.sn_n, valid_spare_name, 0)) == 0)
		log_info("spare taps: %zu deleted", sn.sn_n);
	goto out;
 fail:
	log_warnx("spare taps: out of memory");
	errno = ENOMEM;
	ret = -1;
 out:
	free(sn.sn_names);
	free(list);
	free(errs);
	return (ret);
}

/*
 * The ports of the bridge and of its leaves, counted in one dump of the
 * links (by netlink, not /sys/class/net: sysfs shows the links of the
 * namespace it was mounted in, which need not be this one), and then
 * kept: a dump of thousands of links costs far more than the rest of
 * a tap's creation (30 to 60 ms of CPU at 4000 links, most of it
 * libnl's objects), and each creation would take one.  The
 * counts are those of the last dump plus the taps put on each since;
 * they are counted again when older than PORTS_TTL_MS, after any link
 * of ours was deleted (ports_gen, bumped from any thread), and for
 * another bridge.  A count can be off only by ports others added
 * meanwhile (a Linux bridge takes 1023, BRIDGE_PORTS is 1000): a tap
 * the bridge would not take has them counted again, and is tried once
 * more where there is room (net_tap_create).
 */
#define PORTS_TTL_MS	60000

static struct {
	int		 valid;
	int		 fresh;			/* counted in this net_tap_create */
	int		 root;			/* the bridge's ifindex */
	unsigned int	 gen;			/* ports_gen when counted */
	struct timespec	 taken;
	int		 index[BRIDGE_LEAVES + 1];	/* 0: no such leaf */
	int		 nports[BRIDGE_LEAVES + 1];	/* [0]: the bridge's */
} ports;
static unsigned int	 ports_gen;

void
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
	ports.fresh = 1;
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
	int			 slot, tries, found;

	if (netops_check_name("tap", tap, valid_tap_name) == -1 ||
	    netops_check_name("bridge", bridge, valid_bridge_name) == -1)
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

	found = link_get(sk, "tap", tap, "tun", &link);
	if (found == LINK_MISSING && spare_use(sk, tap, uid, gid, &link) == 0)
		found = LINK_OURS;
	switch (found) {
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

	/* No IPv6; MTU of the bridge, on the bridge (or a leaf), up. */
	tap_no_ipv6(tap);
	ports.fresh = 0;
	for (tries = 0;; tries++) {
		if (tap_bridge(sk, bridge, br, link, &on, onname, &slot) == -1)
			goto fail;
		if (link_attach(sk, "tap", tap, link, on,
		    rtnl_link_get_mtu(br)) == 0)
			break;
		/* Counted before others took ports: counted again, once. */
		ports.valid = 0;
		if (tries > 0 || ports.fresh)
			goto fail;
		log_info("tap %s: bridge %s took no more; its ports are "
		    "counted again", tap, onname);
		rtnl_link_put(on);
		on = NULL;
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
tap_reqs(const char *const *taps, int *errs, size_t n, size_t *mp,
    int (*valid)(const char *, size_t, const char **))
{
	struct tap_req	*td;
	size_t		 i, m = 0;

	for (i = 0; i < n; i++)
		errs[i] = 0;
	if ((td = calloc(n, sizeof(*td))) == NULL)
		return (NULL);
	for (i = 0; i < n; i++) {
		if (netops_check_name("tap", taps[i], valid) == -1) {
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
 * than deleting a few taps).  The reaper's, and net_spares_clear's at
 * a start, while the reaper may undo a creation: under groups_lock.
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
	static pthread_mutex_t	 groups_lock = PTHREAD_MUTEX_INITIALIZER;
	struct nl_cache		*cache;
	struct nl_object	*o;
	struct timespec		 now;
	uint32_t		 g, *u;
	int			 err, ret = 0;

	pthread_mutex_lock(&groups_lock);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (used == NULL || (now.tv_sec - taken.tv_sec) * 1000 +
	    (now.tv_nsec - taken.tv_nsec) / 1000000 >= GROUPS_TTL_MS) {
		if ((err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0) {
			log_warnx("tap deletion: cannot list the links: %s",
			    nl_geterror(err));
			errno = nl_errno(err);
			ret = -1;
			goto out;
		}
		if ((u = reallocarray(NULL, nl_cache_nitems(cache) + 1,
		    sizeof(*u))) == NULL) {
			nl_cache_free(cache);
			ret = -1;
			goto out;
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
 out:
	pthread_mutex_unlock(&groups_lock);
	return (ret);
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
	return (taps_delete(taps, errs, n, valid_tap_name, 0));
}

/* net_taps_delete(), but those there is room for are kept as spares. */
int
net_taps_retire(const char *const *taps, int *errs, size_t n)
{
	return (taps_delete(taps, errs, n, valid_tap_name, 1));
}

static int
taps_delete(const char *const *taps, int *errs, size_t n,
    int (*valid)(const char *, size_t, const char **), int keep)
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
	if ((td = tap_reqs(taps, errs, n, &m, valid)) == NULL)
		goto fail_all;
	if (nl_open("tap", "deletion", &sk) == -1)
		goto fail_all;
	/* Each checked as link_remove_ours() does. */
	for (i = 0; i < m; i++) {
		switch (link_get(sk, "tap", td[i].td_name, "tun",
		    &td[i].td_link)) {
		case LINK_OURS:
			if (keep && spare_room() &&
			    spare_keep(sk, td[i].td_name, td[i].td_link) == 0) {
				rtnl_link_put(td[i].td_link);
				td[i].td_link = NULL;
			}
			break;
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
	if (netops_check_name("bridge", bridge, valid_bridge_name) == -1)
		goto fail_all;
	if ((td = tap_reqs(taps, errs, n, &m, valid_tap_name)) == NULL ||
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
		    tap_matches(td[i].td_name, *uid, *uid)) {
			/* As made (a tap of an older bangerd has IPv6). */
			tap_no_ipv6(td[i].td_name);
			continue;
		}
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
 * Call cb with each link whose name valid() takes, and whether it is
 * banger's tap (kind tun, marked with our alias), from one dump of the
 * links.  Nothing is changed here.
 */
static int
taps_named(const char *what, int (*valid)(const char *, size_t,
    const char **), void (*cb)(const char *, int, void *), void *arg)
{
	struct nl_sock		*sk = NULL;
	struct nl_cache		*cache = NULL;
	struct nl_object	*obj;
	struct rtnl_link	*link;
	const char		*name, *kind, *alias;
	int			 err;

	if (nl_open(what, "list", &sk) == -1)
		return (-1);
	if ((err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0) {
		log_warnx("%s: cannot list the links: %s", what,
		    nl_geterror(err));
		nl_socket_free(sk);
		errno = nl_errno(err);
		return (-1);
	}
	for (obj = nl_cache_get_first(cache); obj != NULL;
	    obj = nl_cache_get_next(obj)) {
		link = (struct rtnl_link *)obj;
		if ((name = rtnl_link_get_name(link)) == NULL ||
		    valid(name, strnlen(name, IFNAMSIZ), NULL) == -1)
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

/*
 * Call cb with each tap named fc-tap-ID, and whether it is banger's: a
 * list for the start-up sweep, which removes only those that are.
 */
int
net_tap_list(void (*cb)(const char *, int, void *), void *arg)
{
	return (taps_named("tap list", valid_tap_name, cb, arg));
}

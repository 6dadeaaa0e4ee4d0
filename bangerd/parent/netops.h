/*
 * The parent's network operations: banger's bridge and taps (rtnetlink
 * through libnl-route-3), its NAT table (libnftables) and the routing
 * of the VM domain's DNS queries (resolvectl).
 *
 * Each function checks its arguments again with validate.h, refuses
 * with a logged reason (errno EINVAL) when one is not valid, and is
 * idempotent: doing it twice succeeds, undoing what is already gone
 * succeeds.  Each returns 0 on success and -1 with errno set on
 * failure, after logging why.
 *
 * Only interfaces banger created are touched: banger marks each bridge
 * and tap it creates with the link alias NETOPS_ALIAS, and refuses an
 * existing interface of the same name that lacks the mark or is of
 * the wrong kind (errno EEXIST when asked to create or update it,
 * EPERM when asked to remove it).  Only the nftables table NAT_TABLE
 * of family ip is touched.
 */
#ifndef BANGER_NETOPS_H
#define BANGER_NETOPS_H

#include <sys/types.h>

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define NETOPS_ALIAS		"banger"	/* IFLA_IFALIAS of ours */
#define NAT_TABLE		"banger"	/* table ip banger */
#define NAT_PUBLISH_MAX		1024
/*
 * Taps on one bridge: Linux takes at most 1023 ports (port numbers 1
 * to 1023).  Past them taps go on leaf bridges BRIDGE-1 to
 * BRIDGE-BRIDGE_LEAVES (netops.c), so a bridge's name must leave room
 * for "-99u" (BRIDGE_NAME_MAX).
 */
#define BRIDGE_PORTS		1000
#define BRIDGE_LEAVES		99
#define BRIDGE_NAME_MAX		11

/* A published port: HOST_ADDR:HOST_PORT is forwarded to the guest. */
struct nat_publish {
	int		 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	struct in_addr	 host_addr;	/* INADDR_ANY: any local address */
	uint16_t	 host_port;	/* host byte order, 1..65535 */
	struct in_addr	 guest_addr;	/* in the bridge's subnet */
	uint16_t	 guest_port;	/* host byte order, 1..65535 */
};

struct nat_config {
	char			 nc_bridge[IFNAMSIZ];
	struct in_addr		 nc_bridge_addr;	/* the bridge's own */
	int			 nc_bridge_prefix;
	char			 nc_egress[IFNAMSIZ];	/* "": no masquerade */
	const struct nat_publish *nc_publish;
	size_t			 nc_npublish;
};

/* Whether link_get() found the link, and whose it is. */
#define LINK_MISSING		0
#define LINK_OURS		1
#define LINK_FOREIGN		2

struct nl_sock;
struct rtnl_link;

/* netops.c */
int	net_bridge_ensure(const char *, struct in_addr, int);
int	net_bridge_remove(const char *);
/* netops.c: helpers and leaf bridges for tap.c, nat.c, resolver.c only */
const char *netops_show(const char *);
int	nl_errno(int);
int	netops_check_name(const char *, const char *,
	    int (*)(const char *, size_t, const char **));
int	nl_open(const char *, const char *, struct nl_sock **);
int	link_get(struct nl_sock *, const char *, const char *, const char *,
	    struct rtnl_link **);
int	link_change(struct nl_sock *, const char *, const char *,
	    struct rtnl_link *, struct rtnl_link *);
int	link_delete(struct nl_sock *, const char *, const char *,
	    struct rtnl_link *);
int	link_remove_ours(const char *, const char *,
	    int (*)(const char *, size_t, const char **), const char *);
int	link_attach(struct nl_sock *, const char *, const char *,
	    struct rtnl_link *, struct rtnl_link *, unsigned int);
int	bridge_ours(struct nl_sock *, const char *, const char *,
	    struct rtnl_link **);
int	leaf_names(const char *, int, char *, char *, char *);
int	leaf_ensure(struct nl_sock *, const char *, struct rtnl_link *, int,
	    struct rtnl_link **);
long	bridge_leaf(struct rtnl_link *, const char *);
int	bridge_of_root(struct nl_sock *, const char *, int, char *);

/* tap.c */
int	net_tap_create(const char *, const char *, uid_t, gid_t);
int	net_tap_delete(const char *);
int	net_taps_delete(const char *const *, int *, size_t);
int	net_taps_retire(const char *const *, int *, size_t);
int	net_spares_clear(void);
int	net_taps_ensure(const char *, const char *const *, const uid_t *, int *,
	    size_t);
int	net_tap_list(void (*)(const char *, int, void *), void *);
/* tap.c: for netops.c's link_delete */
void	ports_forget(void);

/* nat.c */
int	nat_apply(const struct nat_config *);
int	nat_clear(void);
int	nat_table_exists(void);		/* 1, 0, or -1 on error */

/* resolver.c */
int	resolver_route(const char *, struct in_addr, const char *, int *);
int	resolver_clear(const char *);

#endif /* BANGER_NETOPS_H */

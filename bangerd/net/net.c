/*
 * The net worker: addresses and DNS names for VMs.  It runs as _banger
 * chrooted in STATE/net, where its address table lives.  It picks a
 * new VM's address when the parent asks; the parent records it, and
 * at each start of this worker names every VM it holds again, with
 * its address, then says that was all (IMSG_NET_SYNC_END): the table
 * follows the parent's records and drops any other lease.  It asks
 * the parent for every change to the host's network (first of all the
 * bridge, NAT and resolver routing the configuration describes), and
 * answers DNS queries on sockets the parent bound on the bridge.  The
 * table is never synced (ipam.c): a power cut can leave it older, empty
 * or torn; one torn is set aside as IPAM_TABLE_BAD, and the parent's
 * names make it again.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "ipam.h"
#include "log.h"
#include "net.h"
#include "validate.h"


struct net_name {
	RB_ENTRY(net_name)	 nn_entry;
	char			 nn_id[VM_ID_LEN + 1];
	char			 nn_name[VALID_NAME_MAX + 1];
};

static int
name_cmp(struct net_name *a, struct net_name *b)
{
	return strcmp(a->nn_id, b->nn_id);
}

/* By VM id: the parent names thousands of VMs at each start. */
RB_HEAD(net_names, net_name);
RB_PROTOTYPE(net_names, net_name, nn_entry, name_cmp)
RB_GENERATE(net_names, net_name, nn_entry, name_cmp)
static struct net_names	 names = RB_INITIALIZER(&names);
/*
 * Every change of the table is written with the others of the next
 * NET_FLUSH_MS (ipam_defer): each write is the whole table, thousands of
 * lines at thousands of VMs, so a write per creation, or per VM the
 * parent names at a start, would cost in the square of the VMs.
 */
#define NET_FLUSH_MS	250
static struct event	 flush_ev;
static void	 net_flush_later(void);
static struct ipam	*ipam;
static struct dns_ctx	*dns;
static struct in_addr	 bridge_addr;
static int		 bridge_prefix;
static char		 domain[PROTO_DOMAIN_MAX];
static int		 dns_udp = -1, dns_tcp = -1;

static struct net_name *
name_find(const char *id)
{
	struct net_name	 key;

	if (strlcpy(key.nn_id, id, sizeof(key.nn_id)) >= sizeof(key.nn_id))
		return NULL;
	return RB_FIND(net_names, &names, &key);
}

/*
 * A VM's name, and its address: the one the parent recorded
 * (nv_addr), or a new one, which the parent is told (and records).
 */
static void
net_alloc(struct imsgev *iev, const struct net_vm *nv)
{
	struct net_addr	 na;
	struct net_name	*nn;
	struct in_addr	 addr;

	memset(&na, 0, sizeof(na));
	strlcpy(na.na_id, nv->nv_id, sizeof(na.na_id));
	addr.s_addr = nv->nv_addr;
	if (nv->nv_addr != 0 ? ipam_assign(ipam, nv->nv_id, addr) == -1 :
	    ipam_alloc(ipam, nv->nv_id, &addr, NULL) == -1) {
		na.na_error = errno;
		strlcpy(na.na_msg, ipam_strerror(ipam), sizeof(na.na_msg));
		log_warnx("vm %s: %s", nv->nv_id, na.na_msg);
		if (nv->nv_addr != 0)
			return;
		goto reply;
	}
	net_flush_later();
	if ((nn = name_find(nv->nv_id)) == NULL) {
		if ((nn = calloc(1, sizeof(*nn))) == NULL)
			fatal(NULL);
		strlcpy(nn->nn_id, nv->nv_id, sizeof(nn->nn_id));
		RB_INSERT(net_names, &names, nn);
	} else if (strcmp(nn->nn_name, nv->nv_name) != 0)
		dns_unset(dns, nn->nn_name);
	strlcpy(nn->nn_name, nv->nv_name, sizeof(nn->nn_name));
	if (dns_set(dns, nn->nn_name, addr) == -1)
		log_warn("vm %s: dns name %s", nv->nv_id, nn->nn_name);
	log_debug("vm %s: %s.%s is %s", nv->nv_id, nv->nv_name, domain,
	    inet_ntoa(addr));
	if (nv->nv_addr != 0)
		return;
	na.na_addr = addr.s_addr;
reply:
	imsg_compose_event(iev, IMSG_NET_ADDR, 0, 0, -1, &na, sizeof(na));
}

/* The table keeps the leases of the VMs the parent named. */
static int
net_named(const char *id, void *arg)
{
	return name_find(id) != NULL;
}

static void
net_sync_end(void)
{
	int	 n;

	if ((n = ipam_prune(ipam, net_named, NULL)) == -1)
		log_warnx("addresses: %s", ipam_strerror(ipam));
	else if (n > 0)
		log_info("addresses: %d lease%s of VMs bangerd does not hold "
		    "released", n, n == 1 ? "" : "s");
	net_flush_later();
}

static void
net_flush(int fd, short event, void *arg)
{
	if (ipam_flush(ipam) == -1)
		log_warnx("addresses: %s", ipam_strerror(ipam));
}

/* The table's changes so far, and those until then, written soon. */
static void
net_flush_later(void)
{
	struct timeval	 tv = { 0, NET_FLUSH_MS * 1000 };

	if (!evtimer_initialized(&flush_ev))
		evtimer_set(&flush_ev, net_flush, NULL);
	if (!evtimer_pending(&flush_ev, NULL))
		evtimer_add(&flush_ev, &tv);
}

/*
 * A VM gone: its name and its address at once, in memory; the table
 * on disk drops it with the other changes (a prune brings thousands),
 * in one write, and after a crash the parent's sync drops it.
 */
static void
net_release(const struct net_vm *nv)
{
	struct net_name	*nn;

	if ((nn = name_find(nv->nv_id)) != NULL) {
		dns_unset(dns, nn->nn_name);
		RB_REMOVE(net_names, &names, nn);
		free(nn);
	}
	if (ipam_forget(ipam, nv->nv_id) == -1) {
		if (errno != ENOENT)
			log_warnx("vm %s: %s", nv->nv_id, ipam_strerror(ipam));
		return;
	}
	net_flush_later();
}

static int
net_dispatch_parent(struct imsgev *iev, struct imsg *imsg)
{
	struct result	 res;
	struct net_vm	 nv;
	size_t		 len;

	switch (imsg_get_type(imsg)) {
	case IMSG_NETOP_SETUP_DONE:
		if (imsg_read_exact(imsg, &res, sizeof(res)) == -1 ||
		    wire_string(res.res_msg, sizeof(res.res_msg), &len) == -1)
			fatalx("%s: bad setup result", __func__);
		if (res.res_error)
			log_warnx("network setup failed: %s", res.res_msg);
		else
			log_debug("network setup: %s", res.res_msg);
		return 0;
	case IMSG_NETOP_DNS_UDP:
	case IMSG_NETOP_DNS_TCP:
		if (imsg_get_type(imsg) == IMSG_NETOP_DNS_UDP)
			dns_udp = imsg_get_fd(imsg);
		else
			dns_tcp = imsg_get_fd(imsg);
		if (dns_udp != -1 && dns_tcp != -1) {
			if (dns_start(dns, dns_udp, dns_tcp) == -1)
				log_warn("dns: cannot start");
			else
				log_debug("dns: answering for %s on %s:53",
				    domain, inet_ntoa(bridge_addr));
		}
		return 0;
	case IMSG_NET_SYNC_END:
		if (imsg_read_exact(imsg, NULL, 0) == -1)
			fatalx("%s: bad sync end", __func__);
		net_sync_end();
		return 0;
	case IMSG_NET_ALLOC:
	case IMSG_NET_RELEASE:
		if (imsg_read_exact(imsg, &nv, sizeof(nv)) == -1 ||
		    wire_string(nv.nv_id, sizeof(nv.nv_id), &len) == -1 ||
		    wire_string(nv.nv_name, sizeof(nv.nv_name), &len) == -1)
			fatalx("%s: bad vm from the parent", __func__);
		if (imsg_get_type(imsg) == IMSG_NET_ALLOC)
			net_alloc(iev, &nv);
		else
			net_release(&nv);
		return 0;
	}
	return -1;
}

void
net_worker(struct imsgev *iev, const struct worker_init *wi)
{
	char	 err[IPAM_ERR_SIZE];
	int	 n;

	bridge_addr.s_addr = wi->wi_bridge_addr;
	bridge_prefix = wi->wi_bridge_prefix;
	strlcpy(domain, wi->wi_domain, sizeof(domain));
	if ((ipam = ipam_open(AT_FDCWD, bridge_addr, bridge_prefix,
	    bridge_addr, err, sizeof(err))) == NULL && errno == EBADMSG) {
		/*
		 * Torn (the table is not synced: a power cut) or not ours.
		 * The parent names every VM's address again, as for no table.
		 */
		if (renameat(AT_FDCWD, IPAM_TABLE, AT_FDCWD, IPAM_TABLE_BAD)
		    == -1)
			fatal("addresses: %s; rename it %s", err,
			    IPAM_TABLE_BAD);
		log_warnx("addresses: %s; set aside as %s: the parent names "
		    "every VM's address again", err, IPAM_TABLE_BAD);
		ipam = ipam_open(AT_FDCWD, bridge_addr, bridge_prefix,
		    bridge_addr, err, sizeof(err));
	}
	if (ipam == NULL)
		fatalx("addresses: %s", err);
	ipam_defer(ipam);
	if ((dns = dns_new(domain, bridge_addr, bridge_prefix)) == NULL)
		fatal("dns");
	if ((n = dns_upstreams_from_resolvconf(dns, net_resolvconf)) <= 0)
		log_warnx("dns: no upstream resolver in the host's %s: names "
		    "outside %s will not resolve", RESOLVCONF, domain);

	worker_set_handler(net_dispatch_parent);
	iev->handler = worker_dispatch_parent;
	iev->data = iev;
	imsg_compose_event(iev, IMSG_NETOP_SETUP, 0, 0, -1, NULL, 0);
	event_dispatch();
	exit(0);
}

/*
 * The host side of the VMs' network as the configuration and the
 * records want it: banger's bridge, its NAT table with the running
 * VMs' published ports, and resolver routing (the operations
 * themselves are netops.c, tap.c, nat.c and resolver.c).
 */
#include <sys/types.h>

#include <net/if.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parent.h"
#include "log.h"
#include "netops.h"

/*
 * The host side of the VMs' network, all from the configuration: the
 * bridge, NAT out of the egress interface, and resolver routing.
 */
int
hostnet_setup(char *msg, size_t len)
{
	struct bangerd_config	*conf = env->bd_conf;
	int			 active = 0;

	if (net_bridge_ensure(conf->cf_bridge, conf->cf_bridge_addr,
	    conf->cf_bridge_prefix) == -1) {
		snprintf(msg, len, "bridge %s: %s", conf->cf_bridge,
		    strerror(errno));
		return -1;
	}
	/* Recorded VMs' taps, if a reboot took them. */
	vmop_taps_ensure();
	/* Without its egress the VMs still get the bridge and DNS. */
	if (conf->cf_egress[0] != '\0' && if_nametoindex(conf->cf_egress) == 0)
		log_warnx("egress interface %s does not exist; NAT not set up",
		    conf->cf_egress);
	if (hostnet_nat(msg, len) == -1)
		return -1;
	if (resolver_route(conf->cf_bridge, conf->cf_bridge_addr,
	    conf->cf_domain, &active) == 0)
		env->bd_resolver = active;
	snprintf(msg, len, "bridge %s up%s%s", conf->cf_bridge,
	    env->bd_nat ? ", NAT out of " : "", env->bd_nat ?
	    conf->cf_egress : "");
	return 0;
}

/*
 * The whole nftables table, from the configuration and the running VMs'
 * published ports: masquerade out of the egress where it exists, DNAT
 * for each published port.  No egress and no ports: no table.
 */
int
hostnet_nat(char *msg, size_t len)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct nat_publish	*np = NULL;
	struct nat_config	 nc;
	struct pvm		*pv;
	size_t			 n = 0, i;
	int			 rv = 0;

	memset(&nc, 0, sizeof(nc));
	strlcpy(nc.nc_bridge, conf->cf_bridge, sizeof(nc.nc_bridge));
	nc.nc_bridge_addr = conf->cf_bridge_addr;
	nc.nc_bridge_prefix = conf->cf_bridge_prefix;
	if (conf->cf_egress[0] != '\0' && if_nametoindex(conf->cf_egress) != 0)
		strlcpy(nc.nc_egress, conf->cf_egress, sizeof(nc.nc_egress));
	TAILQ_FOREACH(pv, pvm_list(), pv_entry) {
		if (pv->pv_state != VMOP_RUNNING)
			continue;
		for (i = 0; i < pv->pv_npublish; i++) {
			if ((np = reallocarray(np, n + 1, sizeof(*np))) == NULL)
				fatal(NULL);
			memset(&np[n], 0, sizeof(np[n]));
			np[n].proto = pv->pv_publish[i].pp_proto;
			np[n].host_addr.s_addr = pv->pv_publish[i].pp_host_addr;
			np[n].host_port = pv->pv_publish[i].pp_host_port;
			np[n].guest_addr = pv->pv_addr;
			np[n].guest_port = pv->pv_publish[i].pp_guest_port;
			n++;
		}
	}
	nc.nc_publish = np;
	nc.nc_npublish = n;
	if (nc.nc_egress[0] == '\0' && n == 0) {
		if (env->bd_nat && nat_clear() == 0)
			env->bd_nat = 0;
	} else if (nat_apply(&nc) == -1) {
		snprintf(msg, len, "nat: %s", strerror(errno));
		rv = -1;
	} else
		env->bd_nat = 1;
	free(np);
	return rv;
}

/* At shutdown: NAT and resolver routing go; the bridge stays for VMs. */
void
hostnet_teardown(void)
{
	if (env->bd_nat && nat_clear() == 0)
		env->bd_nat = 0;
	if (env->bd_resolver && resolver_clear(env->bd_conf->cf_bridge) == 0)
		env->bd_resolver = 0;
}

/*
 * Recorded VMs' taps that are missing (a reboot) are made again, and
 * any not as its creation left it is put right (net_taps_ensure: one
 * look at all the links, not one round of requests a tap).
 */
void
vmop_taps_ensure(void)
{
	struct bangerd_config	*conf = env->bd_conf;
	struct pvm		*pv, **pvs;
	const char		**taps;
	uid_t			*uids;
	int			*errs;
	size_t			 n = 0, i;

	if ((pvs = calloc(pvm_count + 1, sizeof(*pvs))) == NULL ||
	    (taps = calloc(pvm_count + 1, sizeof(*taps))) == NULL ||
	    (uids = calloc(pvm_count + 1, sizeof(*uids))) == NULL ||
	    (errs = calloc(pvm_count + 1, sizeof(*errs))) == NULL)
		fatal(NULL);
	TAILQ_FOREACH(pv, &pvms, pv_entry) {
		if (pv->pv_state != VMOP_CREATED &&
		    pv->pv_state != VMOP_RUNNING)
			continue;
		pvs[n] = pv;
		taps[n] = pv->pv_tap;
		uids[n++] = pv->pv_uid;
	}
	(void)net_taps_ensure(conf->cf_bridge, taps, uids, errs, n);
	for (i = 0; i < n; i++)
		if (errs[i] != 0)
			log_warnx("vm %s: tap %s: %s", pvs[i]->pv_id, taps[i],
			    strerror(errs[i]));
	free(pvs);
	free(taps);
	free(uids);
	free(errs);
}

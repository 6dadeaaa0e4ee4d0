/*
 * The net worker: addresses and DNS names for VMs.  Runs as _banger,
 * chrooted, with no capability, after sandbox_enter().
 */
#ifndef NET_H
#define NET_H

#include "proc.h"

/* preinit.c */
#define RESOLVCONF		"/etc/resolv.conf"
#define NET_RESOLVCONF_MAX	8192
extern char	 net_resolvconf[NET_RESOLVCONF_MAX];
int	 net_preinit(const struct worker_init *);

/* net.c */
void	 net_worker(struct imsgev *, const struct worker_init *);

#endif /* NET_H */

/*
 * The net worker: addresses, MACs and DNS names for VMs.  It runs as
 * _banger in its own chroot (STATE/net) and asks the parent for every
 * change to the host's network.
 */
#include <sys/types.h>

#include <stdlib.h>

#include "bangerd.h"
#include "log.h"

void
net_worker(struct imsgev *iev, const struct worker_init *wi)
{
	iev->handler = worker_dispatch_parent;
	iev->data = iev;
	imsg_event_add(iev);
	event_dispatch();
	exit(0);
}

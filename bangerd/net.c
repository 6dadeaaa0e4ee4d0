/*
 * The net worker: addresses, MACs and DNS names for VMs.  It runs as
 * _banger in its own chroot (STATE/net) and asks the parent for every
 * change to the host's network: first of all the bridge, NAT and
 * resolver routing the configuration describes.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "bangerd.h"
#include "log.h"
#include "validate.h"

static int
net_dispatch_parent(struct imsgev *iev, struct imsg *imsg)
{
	struct result	 res;
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
	}
	return -1;
}

void
net_worker(struct imsgev *iev, const struct worker_init *wi)
{
	worker_set_handler(net_dispatch_parent);
	iev->handler = worker_dispatch_parent;
	iev->data = iev;
	imsg_compose_event(iev, IMSG_NETOP_SETUP, 0, 0, -1, NULL, 0);
	event_dispatch();
	exit(0);
}

/*
 * The vm worker: the control socket's server, and (from the lifecycle
 * work on) the VM registry and the Firecracker API client.  It runs as
 * _banger chrooted in the state directory.
 */
#include <sys/types.h>

#include <stdlib.h>

#include "bangerd.h"
#include "log.h"

static int
vm_dispatch_parent(struct imsgev *iev, struct imsg *imsg)
{
	int	 fd;

	switch (imsg_get_type(imsg)) {
	case IMSG_CTL_SOCKET:
		if ((fd = imsg_get_fd(imsg)) == -1)
			fatalx("%s: control socket without an fd", __func__);
		control_listen(fd);
		return 0;
	case IMSG_STATUS_DAEMON:
	case IMSG_STATUS_WORKER:
	case IMSG_STATUS_END:
	case IMSG_RESULT:
		control_relay(imsg_get_id(imsg), imsg_get_type(imsg), imsg);
		return 0;
	}
	return -1;
}

void
vm_worker(struct imsgev *iev, const struct worker_init *wi)
{
	control_init(iev, wi);
	worker_set_handler(vm_dispatch_parent);
	iev->handler = worker_dispatch_parent;
	iev->data = iev;
	imsg_event_add(iev);
	event_dispatch();
	exit(0);
}

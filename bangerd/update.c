/*
 * The update worker: fetches and verifies signed releases.  It runs as
 * _banger in its own chroot (STATE/update) and hands only a verified
 * artifact to the parent.
 */
#include <sys/types.h>

#include <stdlib.h>

#include "bangerd.h"
#include "log.h"

void
update_worker(struct imsgev *iev, const struct worker_init *wi)
{
	iev->handler = worker_dispatch_parent;
	iev->data = iev;
	imsg_event_add(iev);
	event_dispatch();
	exit(0);
}

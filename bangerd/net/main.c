/*
 * bangerd-net: the net worker's program.  bangerd executes it, as root,
 * with its channel on PROC_PARENT_FD; worker_start() reads the
 * parent's worker_init, runs preinit.c, enters the sandbox and calls
 * net_worker().  Linked with only the libraries this room uses.
 */
#include "proc.h"
#include "net.h"

static const struct proc_role role = {
	PROC_NET, net_preinit, net_worker
};

int
main(int argc, char *argv[], char *envp[])
{
	worker_start(argc, argv, envp, &role);
}

/*
 * bangerd-update: the update worker's program.  bangerd executes it,
 * as root, with its channel on PROC_PARENT_FD; worker_start() reads the
 * parent's worker_init, runs preinit.c, enters the sandbox and calls
 * update_worker().  Linked with only the libraries this room uses.
 */
#include "proc.h"
#include "update.h"

static const struct proc_role role = {
	PROC_UPDATE, update_preinit, update_worker
};

int
main(int argc, char *argv[], char *envp[])
{
	worker_start(argc, argv, envp, &role);
}

/*
 * bangerd-pull: the pull worker's program.  An image import's child of
 * the parent executes it, as root, with its channel on PROC_PARENT_FD;
 * worker_start() reads the worker_init, runs pull_preinit(), enters the
 * sandbox and calls pull_worker().  Linked with only the libraries this
 * room uses (libarchive and libext2fs among them).
 */
#include "proc.h"
#include "pull.h"

static const struct proc_role role = {
	PROC_PULL, pull_preinit, pull_worker
};

int
main(int argc, char *argv[], char *envp[])
{
	worker_start(argc, argv, envp, &role);
}

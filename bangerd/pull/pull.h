/*
 * The pull worker (bangerd-pull): an OCI image unpacked into a new ext4
 * file system.  It runs for one import, as _banger in an empty chroot
 * (STATE/pull) with no capability and a seccomp allow-list, and works
 * only on the descriptors it is handed: the file system, read-write,
 * and the layout's files, read-only.
 */
#ifndef PULL_H
#define PULL_H

#include "proc.h"

extern pid_t	 pull_parent;

int	 pull_preinit(const struct worker_init *);
void	 pull_worker(struct imsgev *, const struct worker_init *);

#endif /* PULL_H */

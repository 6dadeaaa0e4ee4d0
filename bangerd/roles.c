/*
 * The parent's table of the workers' limits: each worker's
 * RLIMIT_NOFILE with max_vms VMs, which the parent sends in its
 * worker_init and counts in its own.  The one file naming every room,
 * for their constants alone; the workers' code is in their own
 * programs (each room's main.c), which the parent executes.
 */
#include "proc.h"
#include "net/dns.h"
#include "vm/vm.h"

/* The vm worker's: its clients' (vm.h), and each VM's. */
static rlim_t
vm_nofile(int max_vms)
{
	return NOFILE_BASE + CONTROL_FDS_MAX +
	    (rlim_t)NOFILE_PER_VM_WORKER * max_vms;
}

/*
 * The net worker's follow from its DNS responder: a UDP socket per
 * forwarded query, and a TCP client's connection with its own to the
 * upstream.
 */
static rlim_t
net_nofile(int max_vms)
{
	return NOFILE_BASE + DNS_PENDING_MAX + 2 * DNS_TCP_MAX;
}

static rlim_t
update_nofile(int max_vms)
{
	return NOFILE_BASE;
}

/* The pull worker's: the layout's files of one import, and its own. */
static rlim_t
pull_nofile(int max_vms)
{
	return NOFILE_BASE + OCI_FILES_MAX;
}

static rlim_t (*const proc_nofiles[PROC_ROLES])(int) = {
	[PROC_VM] =	vm_nofile,
	[PROC_NET] =	net_nofile,
	[PROC_UPDATE] =	update_nofile,
	[PROC_PULL] =	pull_nofile,
};

/*
 * The descriptors a process needs with max_vms VMs: its RLIMIT_NOFILE
 * (a worker's, set in its sandbox) or, for the parent, the least it
 * should have.
 */
rlim_t
proc_nofile(int role, int max_vms)
{
	if (role == PROC_PARENT)
		return NOFILE_BASE + (rlim_t)NOFILE_PER_VM_PARENT * max_vms;
	return proc_nofiles[role](max_vms);
}

/*
 * The worker roles bangerd can be started as ("bangerd -P ROLE", by
 * proc_exec_worker()): what each does as root before its sandbox, and
 * its event loop.  The one file that names every room; shared/proc.c
 * reaches the workers only through this table.
 */
#include "proc.h"
#include "net/dns.h"
#include "net/net.h"
#include "update/update.h"
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

const struct proc_role proc_roles[PROC_MAX] = {
	[PROC_VM] =	{ PROC_VM, vm_preinit, vm_worker, vm_nofile },
	[PROC_NET] =	{ PROC_NET, net_preinit, net_worker, net_nofile },
	[PROC_UPDATE] =	{ PROC_UPDATE, update_preinit, update_worker,
			    update_nofile },
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
	return proc_roles[role].pr_nofile(max_vms);
}

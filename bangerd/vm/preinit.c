/*
 * What the vm worker does as root, before its sandbox: the provisioner
 * forked first, while the worker is smallest and has no libcurl
 * (provision.c), then libcurl loaded and started (curlload.c: the
 * Firecracker API client).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <unistd.h>

#include "log.h"
#include "vm.h"

int	 vm_prov_fd = -1;
pid_t	 vm_prov_pid = -1;

/*
 * The provisioner forked, with a socket to it (non-blocking at both
 * ends): it enters the sandbox the worker is about to, then serves
 * (vm_provisioner).  Without it the worker forks each disk child.
 */
static void
vm_provisioner_fork(const struct worker_init *wi)
{
	pid_t	 self = getpid();
	int	 sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0, sv) == -1) {
		log_warn("provisioner: socketpair");
		return;
	}
	switch (vm_prov_pid = fork()) {
	case -1:
		log_warn("provisioner: fork");
		close(sv[0]);
		close(sv[1]);
		return;
	case 0:
		close(sv[0]);
		sandbox_enter(PROC_VM, wi->wi_nofile, wi);
		vm_provisioner(sv[1], self);
	}
	close(sv[1]);
	vm_prov_fd = sv[0];
	log_debug("provisioner: pid %ld", (long)vm_prov_pid);
}

int
vm_preinit(const struct worker_init *wi)
{
	vm_provisioner_fork(wi);
	vm_curl_load();
	return 0;
}

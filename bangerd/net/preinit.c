/*
 * What the net worker does as root, before its sandbox: the host's
 * resolv.conf read (its upstream servers, for names outside the VM
 * domain), since the chroot has none.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

char	 net_resolvconf[NET_RESOLVCONF_MAX];

/* A missing one is logged: only names outside ours go unanswered. */
int
net_preinit(const struct worker_init *wi)
{
	ssize_t	 n;
	int	 fd;

	(void)wi;
	if ((fd = open(RESOLVCONF, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", RESOLVCONF);
		return 0;
	}
	if ((n = read(fd, net_resolvconf, sizeof(net_resolvconf) - 1)) > 0)
		net_resolvconf[n] = '\0';
	close(fd);
	return 0;
}

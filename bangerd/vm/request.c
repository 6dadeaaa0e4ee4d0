/*
 * The vm worker's requests to the parent about a VM, named by its id
 * (parent/priv.c checks and answers them; vm.c reads the answers), and
 * what the parent said for every VM: the defaults of a new one, and the
 * VMs' subnet.
 */
#include <sys/types.h>

#include <netinet/in.h>

#include <string.h>

#include "vm.h"
#include "vmint.h"

static struct imsgev	*parent_iev;
struct vm_defaults defaults = { 1, BANGER_MAX_VMS, 512, 4ULL << 30 };
struct in_addr	 bridge_addr;	/* the VMs' subnet */
int		 bridge_prefix;

void
vmop_channel(struct imsgev *iev)
{
	parent_iev = iev;
}

/* The messages to the parent held meanwhile (imsg_hold) go now. */
void
vmop_release(void)
{
	if (parent_iev != NULL)
		imsg_event_add(parent_iev);
}

int
vmop_send(uint32_t type, const void *data, size_t len)
{
	return imsg_compose_event(parent_iev, type, 0, 0, -1, data, len);
}

/*
 * A request that need not wait for the group commit (imsg_hold): it
 * goes at once if nothing held is queued before it, else in its turn.
 * The caller sees to it that nothing acts on its answer before the
 * commit (a start's: vm_boot_begin).
 */
int
vmop_send_ahead(uint32_t type, const void *data, size_t len)
{
	int	 empty = imsgbuf_queuelen(&parent_iev->ibuf) == 0;

	if (vmop_send(type, data, len) == -1)
		return -1;
	if (empty && imsg_hold)
		imsg_event_write(parent_iev);
	return 0;
}

/* A request answered to a client: peerid is its id (ls, rm). */
int
vmop_send_to(uint32_t type, uint32_t peerid, const void *data, size_t len)
{
	return imsg_compose_event(parent_iev, type, peerid, 0, -1, data, len);
}

void
vmop_id_send(uint32_t type, struct vm *v)
{
	struct vmop_id	 vi;

	memset(&vi, 0, sizeof(vi));
	strlcpy(vi.vo_id, v->v_id, sizeof(vi.vo_id));
	vmop_send(type, &vi, sizeof(vi));
}

void
vmop_signal_send(struct vm *v, int sig)
{
	struct vmop_signal	 vg;

	memset(&vg, 0, sizeof(vg));
	strlcpy(vg.vg_id, v->v_id, sizeof(vg.vg_id));
	vg.vg_signal = sig;
	vmop_send(IMSG_VMOP_SIGNAL, &vg, sizeof(vg));
}

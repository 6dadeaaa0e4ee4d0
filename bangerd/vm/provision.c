/*
 * A new VM's disk, provisioned: a child of the worker, under a seccomp
 * filter, writes the guest's files into it with guestfs.c and reports
 * on a pipe; on its report the VM is created (and started, if asked),
 * or what the parent made of it is removed.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmint.h"
#include "guestfs.h"
#include "log.h"

/* A provisioning child's report, read as it comes. */
struct vm_prov {
	struct {
		struct guest_result	 gr;
		char			 cerr[GUESTFS_ERR_MAX];
	}			 pr_msg;
	size_t			 pr_len;
	int			 pr_fd;
	pid_t			 pr_pid;
	struct event		 pr_ev;
};


/* The child is done, or gone: reaped, its pipe closed. */
int
vm_provision_end(struct vm *v)
{
	struct vm_prov	*pr = v->v_prov;
	int		 status = -1;

	event_del(&pr->pr_ev);
	close(pr->pr_fd);
	while (waitpid(pr->pr_pid, &status, 0) == -1 && errno == EINTR)
		;
	v->v_prov = NULL;
	free(pr);
	return status;
}

static void
vm_provision_read(int fd, short event, void *arg)
{
	struct vm		*v = arg;
	struct vm_prov		*pr = v->v_prov;
	struct guest_result	*gr = &pr->pr_msg.gr;
	ssize_t			 n;
	int			 status;

	n = read(fd, (char *)&pr->pr_msg + pr->pr_len,
	    sizeof(pr->pr_msg) - pr->pr_len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		pr->pr_len += n;
		if (pr->pr_len < sizeof(pr->pr_msg))
			return;
	}
	if (pr->pr_len < sizeof(pr->pr_msg)) {
		status = vm_provision_end(v);
		vm_strf(&v->v_error, "the disk child died "
		    "(wait status %d)", status);
		vm_create_undo(v);
		return;
	}
	pr->pr_msg.cerr[sizeof(pr->pr_msg.cerr) - 1] = '\0';
	if (gr->gr_written == -1) {
		vm_strset(&v->v_error, pr->pr_msg.cerr, PROTO_MSG_MAX);
		vm_provision_end(v);
		vm_create_undo(v);
		return;
	}
	gr->gr_hostkey[sizeof(gr->gr_hostkey) - 1] = '\0';
	vm_strset(&v->v_hostkey, gr->gr_hostkey, sizeof(gr->gr_hostkey));
	log_info("vm %s: provisioned: %d files, host key %s", v->v_name,
	    gr->gr_written, gr->gr_fingerprint[0] ? gr->gr_fingerprint : "-");
	vm_provision_end(v);
	vm_created(v);
}

/*
 * Write the guest's files into its disk: a child of ours, under a
 * seccomp filter that allows only what libext2fs needs on the disk fd,
 * does it with libext2fs (guestfs.c) and reports back on a pipe, read
 * in the event loop (vm_provision_read): the worker serves everyone
 * else meanwhile.
 */
int
vm_provision(struct vm *v, int disk, char *err, size_t errlen)
{
	struct guest_spec	 gs;
	struct guest_result	 gr;
	struct vm_prov		*pr;
	scmp_filter_ctx		 ctx;
	char			 cerr[GUESTFS_ERR_MAX];
	size_t			 i;
	int			 p[2], sc;
	pid_t			 pid, self;

	memset(&gs, 0, sizeof(gs));
	gs.gs_hostname = v->v_name;
	gs.gs_domain = S(v->v_domain);
	gs.gs_addr = v->v_addr;
	gs.gs_prefix = v->v_prefix;
	gs.gs_gateway = v->v_gateway;
	gs.gs_dns = v->v_gateway;
	gs.gs_mac = v->v_mac;
	gs.gs_authkeys = v->v_authkeys != NULL && v->v_authkeys[0] != '\0' ?
	    v->v_authkeys : NULL;
	gs.gs_hostkeys = 1;
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	self = getpid();
	switch (pid = fork()) {
	case -1:
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	case 0:
		close(p[0]);
		/* It writes a disk no one waits for once we are gone. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != self)
			_exit(1);
		memset(&gr, 0, sizeof(gr));
		memset(cerr, 0, sizeof(cerr));
		if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
			_exit(1);
		for (i = 0; guestfs_syscalls[i] != NULL; i++)
			if ((sc = seccomp_syscall_resolve_name(
			    guestfs_syscalls[i])) != __NR_SCMP_ERROR)
				seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 0);
		seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
		seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0);
		if (seccomp_load(ctx) < 0)
			_exit(1);
		if (guestfs_provision(disk, &gs, &gr, cerr, sizeof(cerr)) == -1)
			gr.gr_written = -1;
		if (write(p[1], &gr, sizeof(gr)) != sizeof(gr) ||
		    write(p[1], cerr, sizeof(cerr)) != sizeof(cerr))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if ((pr = calloc(1, sizeof(*pr))) == NULL)
		fatal(NULL);
	pr->pr_fd = p[0];
	pr->pr_pid = pid;
	v->v_prov = pr;
	event_set(&pr->pr_ev, p[0], EV_READ | EV_PERSIST, vm_provision_read, v);
	event_add(&pr->pr_ev, NULL);
	return 0;
}

/* Nothing is left of a VM that could not be made. */
void
vm_create_undo(struct vm *v)
{
	v->v_create_failed = 1;
	v->v_state = VM_REMOVING;
	vmop_id_send(IMSG_VMOP_DESTROY, v);
}

/*
 * Provisioned (or, a clone, given its host key): the VM is created (and
 * started, if that was asked).
 */
void
vm_created(struct vm *v)
{
	freezero(v->v_authkeys, strlen(v->v_authkeys));
	v->v_authkeys = NULL;
	v->v_fresh = 1;
	vm_set_state(v, VM_CREATED);
	log_info("vm %s: created (id %s, image %s, %s disk)",
	    v->v_name, v->v_id, v->v_image, v->v_backend);
	if (v->v_next == NEXT_START) {
		v->v_next = NEXT_NONE;
		vm_start_begin(v);
	} else
		vm_op_done(v, 0, "vm %s created (id %s)", v->v_name,
		    v->v_id);
}

/*
 * A new VM's disk, provisioned: a child, under a seccomp filter, writes
 * the guest's files into it with guestfs.c and reports on a pipe; on
 * its report the VM is created (and started, if asked), or what the
 * parent made of it is removed.
 *
 * The child is forked by the provisioner, a process the worker forks
 * once, as it starts, while its heap is small and before it loads
 * libcurl (curlload.c), and sends each disk to
 * (a request on a socket, the disk and the report pipe's write end
 * with it).  Forked from the worker itself, each child would copy the
 * worker's page tables, which grow with its VMs, and the worker would
 * take a copy-on-write fault, with a TLB flush on every CPU, for each
 * page it wrote while the child lived; the child's exit would unmap
 * it all again.  While no child runs the provisioner forks the next
 * one ahead (the standby), so a creation waits for no fork.  If the
 * provisioner is gone, or its socket full, the worker forks the child
 * itself, as before there was one.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmint.h"
#include "guestfs.h"
#include "log.h"

/* What the provisioner needs for one disk: guest_spec's strings in place. */
struct prov_req {
	char		pq_hostname[VALID_NAME_MAX + 1];
	char		pq_domain[PROTO_DOMAIN_MAX];
	char		pq_mac[24];
	struct in_addr	pq_addr;
	struct in_addr	pq_gateway;
	struct in_addr	pq_dns;
	int		pq_prefix;
	int		pq_hostkeys;
	int		pq_authkeys;	/* pq_keys holds them */
	/* Whose VM, of which image: disks alike may share a disk child. */
	uid_t		pq_owner;
	char		pq_image[VALID_NAME_MAX + 1];
	char		pq_keys[PROTO_AUTHKEYS_MAX];
};

/* Room for a request's two descriptors. */
union prov_cmsg {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(2 * sizeof(int))];
};

static void	 prov_child(int, int, const struct guest_spec *)
		    __attribute__((__noreturn__));
static void	 prov_lost(const char *);

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
	/* The provisioner's children are its own to reap. */
	while (pr->pr_pid > 0 && waitpid(pr->pr_pid, &status, 0) == -1 &&
	    errno == EINTR)
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
		if (status == -1)
			vm_strset(&v->v_error, "the disk child died before "
			    "its report", PROTO_MSG_MAX);
		else
			vm_strf(&v->v_error, "the disk child died "
			    "(wait status %d)", status);
		vm_provision_done(v, 0);
		return;
	}
	pr->pr_msg.cerr[sizeof(pr->pr_msg.cerr) - 1] = '\0';
	if (gr->gr_written == -1) {
		vm_strset(&v->v_error, pr->pr_msg.cerr, PROTO_MSG_MAX);
		vm_provision_end(v);
		vm_provision_done(v, 0);
		return;
	}
	gr->gr_hostkey[sizeof(gr->gr_hostkey) - 1] = '\0';
	vm_strset(&v->v_hostkey, gr->gr_hostkey, sizeof(gr->gr_hostkey));
	log_info("vm %s: provisioned: %d files, host key %s", v->v_name,
	    gr->gr_written, gr->gr_fingerprint[0] ? gr->gr_fingerprint : "-");
	vm_provision_end(v);
	vm_provision_done(v, 1);
}

/*
 * Its disk written (ok) or not: the VM is created, or undone, unless
 * its disk came ahead of CREATE's reply and that has not come yet: the
 * reply ends it then (vm.c).  Until the parent's part is done, nothing
 * is asked of it about the VM.
 */
void
vm_provision_done(struct vm *v, int ok)
{
	if ((v->v_newdisk & NEWDISK_EARLY) &&
	    !(v->v_newdisk & NEWDISK_REPLIED)) {
		v->v_newdisk |= ok ? NEWDISK_WRITTEN : NEWDISK_FAILED;
		return;
	}
	if (ok)
		vm_created(v);
	else
		vm_create_undo(v);
}

/*
 * The disk child's filter: what libext2fs needs on the disk fd, and
 * exit.  NULL if libseccomp cannot build it.
 */
static scmp_filter_ctx
prov_filter(void)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	int		 sc;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return NULL;
	for (i = 0; guestfs_syscalls[i] != NULL; i++)
		if ((sc = seccomp_syscall_resolve_name(
		    guestfs_syscalls[i])) != __NR_SCMP_ERROR)
			seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 0);
	seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
	seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0);
	return ctx;
}

/*
 * The filter compiled once, by the provisioner: each of its children
 * loads the program (prov_prog) instead of building and compiling it
 * again.  Empty if that failed: the children build their own.
 */
#define PROV_PROG_MAX	4096	/* instructions */
static struct sock_filter	 prov_insns[PROV_PROG_MAX];
static struct sock_fprog	 prov_prog;

static void
prov_compile(void)
{
	scmp_filter_ctx	 ctx;
	ssize_t		 n;
	size_t		 off = 0;
	int		 p[2];

	if ((ctx = prov_filter()) == NULL)
		return;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		seccomp_release(ctx);
		return;
	}
	/* The program is at most a page or two: the pipe holds it. */
	if (seccomp_export_bpf(ctx, p[1]) == 0) {
		while ((n = read(p[0], (char *)prov_insns + off,
		    sizeof(prov_insns) - off)) > 0)
			off += n;
		if (off > 0 && off < sizeof(prov_insns) &&
		    off % sizeof(prov_insns[0]) == 0) {
			prov_prog.len = off / sizeof(prov_insns[0]);
			prov_prog.filter = prov_insns;
		}
	}
	close(p[0]);
	close(p[1]);
	seccomp_release(ctx);
}

/*
 * CPU a disk child may spend on a disk, in seconds: a few milliseconds
 * are the norm; a file system that made libext2fs loop would hold up
 * the disks of its group waiting for the next child.  At the limit the
 * kernel ends the child (SIGXCPU, then SIGKILL), its pipes close, and
 * the worker undoes each VM it had not reported on.
 */
#define PROV_CPU_S	10

/*
 * A disk child's first steps, for n disks: its CPU limit, then its
 * tighter seccomp filter.
 */
static void
prov_child_filter(int n)
{
	struct rlimit		 rl;
	scmp_filter_ctx		 ctx;

	rl.rlim_cur = (rlim_t)PROV_CPU_S * n;
	rl.rlim_max = rl.rlim_cur + 1;
	if (setrlimit(RLIMIT_CPU, &rl) == -1)
		_exit(1);

	if (prov_prog.len > 0) {
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prov_prog,
		    0, 0) == -1)
			_exit(1);
	} else if ((ctx = prov_filter()) == NULL || seccomp_load(ctx) < 0)
		_exit(1);
}

/* A disk's outcome, until it is reported. */
struct prov_out {
	struct guest_result	 po_gr;
	char			 po_err[GUESTFS_ERR_MAX];
};

/* One disk's files written (synced unless gs says the caller does). */
static void
prov_write(int disk, const struct guest_spec *gs, struct prov_out *po)
{
	memset(po, 0, sizeof(*po));
	if (guestfs_provision(disk, gs, &po->po_gr, po->po_err,
	    sizeof(po->po_err)) == -1)
		po->po_gr.gr_written = -1;
}

/* The disk closed, then its report. */
static int
prov_report(int disk, int report, struct prov_out *po)
{
	int	 rv = 0;

	/* Nothing of the disk held once the report is read. */
	close(disk);
	if (write(report, &po->po_gr, sizeof(po->po_gr)) !=
	    sizeof(po->po_gr) ||
	    write(report, po->po_err, sizeof(po->po_err)) !=
	    sizeof(po->po_err))
		rv = -1;
	close(report);
	explicit_bzero(po, sizeof(*po));
	return rv;
}

/* One disk: the files written and synced, the disk closed, its report. */
static int
prov_one(int disk, int report, const struct guest_spec *gs)
{
	struct prov_out	 po;

	prov_write(disk, gs, &po);
	return prov_report(disk, report, &po);
}

/* The worker's own disk child, for one disk. */
static void
prov_child(int disk, int report, const struct guest_spec *gs)
{
	prov_child_filter(1);
	_exit(prov_one(disk, report, gs) == -1);
}

/* A request's message: pq, and the descriptors' room. */
static void
prov_msg(struct msghdr *msg, struct iovec *iov, struct prov_req *pq,
    union prov_cmsg *cbuf)
{
	memset(msg, 0, sizeof(*msg));
	memset(cbuf, 0, sizeof(*cbuf));
	iov->iov_base = pq;
	iov->iov_len = sizeof(*pq);
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = cbuf->buf;
	msg->msg_controllen = sizeof(cbuf->buf);
}

/*
 * The provisioner's requests, grouped by whose VM and which image
 * (prov_group): a group has at most one disk child at a time, and the
 * requests that come meanwhile wait for its next, which takes them all
 * (up to PROV_BATCH).  A disk child pays for its fork, its first
 * touches of memory and its exit once for the disks it takes, not once
 * each; and a burst of creations is provisioned at the pace of one
 * core, not all at once.  Two groups never share a child: a disk
 * whose file system took a child over reaches only disks of the same
 * image, for the same owner, which that image could already rewrite
 * from inside as they boot; another group's child, waiting or not, is
 * never held up by it.
 */
#define PROV_BATCH	16

struct prov_job {
	TAILQ_ENTRY(prov_job)	 j_entry;
	int			 j_disk;
	int			 j_report;
	struct prov_req		 j_pq;
};
TAILQ_HEAD(prov_jobs, prov_job);

struct prov_group {
	TAILQ_ENTRY(prov_group)	 g_entry;
	uid_t			 g_owner;
	char			 g_image[VALID_NAME_MAX + 1];
	pid_t			 g_pid;		/* its disk child, or 0 */
	int			 g_n;		/* the disks it took */
	struct prov_jobs	 g_jobs;	/* waiting for its next */
};
static TAILQ_HEAD(, prov_group)	 prov_groups =
    TAILQ_HEAD_INITIALIZER(prov_groups);

/* A job's spec: its request's strings, in place. */
static void
prov_spec(struct guest_spec *gs, const struct prov_req *pq)
{
	memset(gs, 0, sizeof(*gs));
	gs->gs_hostname = pq->pq_hostname;
	gs->gs_domain = pq->pq_domain;
	gs->gs_addr = pq->pq_addr;
	gs->gs_prefix = pq->pq_prefix;
	gs->gs_gateway = pq->pq_gateway;
	gs->gs_dns = pq->pq_dns;
	gs->gs_mac = pq->pq_mac;
	gs->gs_authkeys = pq->pq_authkeys ? pq->pq_keys : NULL;
	gs->gs_hostkeys = pq->pq_hostkeys;
}

/* A job done with here: its descriptors closed (a closed pipe tells
   the worker, if no child took it), its keys wiped. */
static void
prov_job_free(struct prov_job *j)
{
	close(j->j_disk);
	close(j->j_report);
	explicit_bzero(&j->j_pq, sizeof(j->j_pq));
	free(j);
}

/* A group with no child and nothing waiting is forgotten. */
static void
prov_group_idle(struct prov_group *g)
{
	if (g->g_pid == 0 && TAILQ_EMPTY(&g->g_jobs)) {
		TAILQ_REMOVE(&prov_groups, g, g_entry);
		free(g);
	}
}

static int
fd_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * In a disk child: every descriptor closed but 0-2, its own jobs' and
 * also (a standby's socket, or -1), and every other job's request
 * wiped from its copy of our memory.
 */
static void
prov_isolate(struct prov_jobs *mine, int also)
{
	struct prov_group	*g;
	struct prov_job		*j;
	int			 keep[2 * PROV_BATCH + 1], i = 0, n, lo = 3;

	TAILQ_FOREACH(j, mine, j_entry) {
		keep[i++] = j->j_disk;
		keep[i++] = j->j_report;
	}
	if (also != -1)
		keep[i++] = also;
	qsort(keep, i, sizeof(keep[0]), fd_cmp);
	for (n = 0; n < i; n++) {
		if (keep[n] > lo)
			(void)close_range(lo, keep[n] - 1, 0);
		if (keep[n] + 1 > lo)
			lo = keep[n] + 1;
	}
	(void)close_range(lo, ~0U, 0);
	TAILQ_FOREACH(g, &prov_groups, g_entry)
		TAILQ_FOREACH(j, &g->g_jobs, j_entry)
			explicit_bzero(&j->j_pq, sizeof(j->j_pq));
}

/*
 * A disk child's n disks (n <= PROV_BATCH).  One is written and synced
 * (guestfs.c).  Several are written in turn, each one's writeback
 * started once it is written, then each is synced and reported in
 * turn: the data goes to the device together, and a sync of the file
 * system's log covers the disks whose changes it holds, where one disk
 * at a time waited for its own writes and log.  No disk is reported
 * before it is synced.  -1 if a report could not be written.
 */
static int
prov_batch(struct prov_jobs *mine, int n)
{
	struct prov_out		 outs[PROV_BATCH];
	struct guest_spec	 gs;
	struct prov_job		*j;
	int			 i, rv = 0;

	if (n == 1) {
		j = TAILQ_FIRST(mine);
		prov_spec(&gs, &j->j_pq);
		return prov_one(j->j_disk, j->j_report, &gs);
	}
	i = 0;
	TAILQ_FOREACH(j, mine, j_entry) {
		prov_spec(&gs, &j->j_pq);
		gs.gs_nosync = 1;
		prov_write(j->j_disk, &gs, &outs[i]);
		(void)sync_file_range(j->j_disk, 0, 0, SYNC_FILE_RANGE_WRITE);
		i++;
	}
	i = 0;
	TAILQ_FOREACH(j, mine, j_entry) {
		if (fsync(j->j_disk) == -1 && outs[i].po_gr.gr_written != -1) {
			outs[i].po_gr.gr_written = -1;
			outs[i].po_gr.gr_hostkey[0] = '\0';
			outs[i].po_gr.gr_fingerprint[0] = '\0';
			snprintf(outs[i].po_err, sizeof(outs[i].po_err),
			    "fd %d: fsync: %s", j->j_disk, strerror(errno));
		}
		if (prov_report(j->j_disk, j->j_report, &outs[i]) == -1)
			rv = -1;
		i++;
	}
	return rv;
}

/*
 * The standby: a disk child forked while the provisioner has nothing
 * else to do (no disk child running), which waits on a socket of its
 * own for the jobs of the next group to need a child.  A creation
 * then pays neither the fork nor the child's first faults on its copy
 * of our memory, which on a host that traps page-table updates cost
 * it a millisecond or more.  It holds nothing but 0-2 and that socket
 * until its jobs come; then it is the group's child like any other.
 */
static pid_t	 sb_pid;	/* the standby, or 0 */
static int	 sb_soon;	/* a lone disk's child ended: fork it now */
static int	 sb_fd = -1;	/* our end of its socket */

static int	 prov_parse(struct prov_job *, struct msghdr *, ssize_t);

/* In the standby: its jobs, read until the provisioner closes its end. */
static int
prov_standby_read(int c, struct prov_jobs *mine)
{
	struct prov_job	*j;
	struct msghdr	 msg;
	struct iovec	 iov;
	union prov_cmsg	 cbuf;
	ssize_t		 n;
	int		 count = 0;

	for (;;) {
		if ((j = calloc(1, sizeof(*j))) == NULL)
			_exit(1);
		prov_msg(&msg, &iov, &j->j_pq, &cbuf);
		while ((n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC)) == -1 &&
		    errno == EINTR)
			;
		if (n == 0) {
			free(j);
			return count;
		}
		/* Anything but a whole job: the closed pipes tell the
		   worker. */
		if (n == -1 || count == PROV_BATCH ||
		    prov_parse(j, &msg, n) == -1)
			_exit(1);
		TAILQ_INSERT_TAIL(mine, j, j_entry);
		count++;
	}
}

/*
 * Whether a standby is wanted: there is none, and no disk child runs
 * or waits to.  It is forked at once when the child that ended had
 * taken one disk (creations one at a time: the fork overlaps the
 * worker's sync of the VM created), else once the provisioner has
 * been idle for PROV_STANDBY_MS: in a burst of creations the disks
 * come faster, and a standby forked between two of its children would
 * only split their batches, each paying a fork and an exit.
 */
#define PROV_STANDBY_MS	5

static int
prov_standby_wanted(void)
{
	struct prov_group	*g;

	if (sb_pid != 0)
		return 0;
	TAILQ_FOREACH(g, &prov_groups, g_entry)
		if (g->g_pid != 0 || !TAILQ_EMPTY(&g->g_jobs))
			return 0;
	return 1;
}

/* A standby forked (prov_standby_wanted says when). */
static void
prov_standby(int s, pid_t me)
{
	struct prov_jobs	 mine;
	sigset_t		 none;
	pid_t			 pid;
	int			 sp[2], n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		return;
	switch (pid = fork()) {
	case 0:
		close(s);
		close(sp[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != me)
			_exit(1);
		setproctitle("-bangerd: vm disk child");
		TAILQ_INIT(&mine);
		prov_isolate(&mine, sp[1]);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		if ((n = prov_standby_read(sp[1], &mine)) == 0)
			_exit(0);
		close(sp[1]);
		prov_child_filter(n);
		_exit(prov_batch(&mine, n) == -1);
	case -1:
		close(sp[0]);
		break;
	default:
		sb_pid = pid;
		sb_fd = sp[0];
	}
	close(sp[1]);
}

/*
 * The jobs in mine sent to the standby, which becomes g's child.  Any
 * it could not be sent (it died, or stopped reading) go back to the
 * head of g's queue, for g's next child once this one is reaped.
 */
static void
prov_standby_take(struct prov_group *g, struct prov_jobs *mine)
{
	struct prov_job	*j;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	union prov_cmsg	 cbuf;
	int		 fds[2], sent = 0;

	while ((j = TAILQ_FIRST(mine)) != NULL) {
		prov_msg(&msg, &iov, &j->j_pq, &cbuf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
		fds[0] = j->j_disk;
		fds[1] = j->j_report;
		memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
		if (sendmsg(sb_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) !=
		    (ssize_t)sizeof(j->j_pq))
			break;
		TAILQ_REMOVE(mine, j, j_entry);
		prov_job_free(j);
		sent++;
	}
	/* End of file: the standby starts on what it has, or ends. */
	close(sb_fd);
	sb_fd = -1;
	g->g_pid = sb_pid;
	g->g_n = sent;
	sb_pid = 0;
	while ((j = TAILQ_LAST(mine, prov_jobs)) != NULL) {
		TAILQ_REMOVE(mine, j, j_entry);
		TAILQ_INSERT_HEAD(&g->g_jobs, j, j_entry);
	}
}

/* The group's next disk child, for what waits, if it has none. */
static void
prov_run(struct prov_group *g, int s, pid_t me)
{
	struct prov_jobs	 mine;
	struct prov_job		*j;
	sigset_t		 none;
	pid_t			 pid;
	int			 n = 0;

	if (g->g_pid != 0 || TAILQ_EMPTY(&g->g_jobs))
		return;
	TAILQ_INIT(&mine);
	while (n < PROV_BATCH && (j = TAILQ_FIRST(&g->g_jobs)) != NULL) {
		TAILQ_REMOVE(&g->g_jobs, j, j_entry);
		TAILQ_INSERT_TAIL(&mine, j, j_entry);
		n++;
	}
	if (sb_pid != 0) {
		prov_standby_take(g, &mine);
		return;
	}
	switch (pid = fork()) {
	case 0:
		close(s);
		/* It writes disks no one waits for once we are gone. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != me)
			_exit(1);
		setproctitle("-bangerd: vm disk child");
		prov_isolate(&mine, -1);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		prov_child_filter(n);
		_exit(prov_batch(&mine, n) == -1);
	case -1:
		/* The closed pipes tell the worker. */
		break;
	default:
		g->g_pid = pid;
		g->g_n = n;
	}
	while ((j = TAILQ_FIRST(&mine)) != NULL) {
		TAILQ_REMOVE(&mine, j, j_entry);
		prov_job_free(j);
	}
}

/* Every group's next child, where one can start. */
static void
prov_run_all(int s, pid_t me)
{
	struct prov_group	*g, *tg;

	TAILQ_FOREACH_SAFE(g, &prov_groups, g_entry, tg) {
		prov_run(g, s, me);
		prov_group_idle(g);
	}
}

/* The provisioner's children that ended, reaped: their groups free. */
static void
prov_reap(void)
{
	struct prov_group	*g;
	pid_t			 pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		if (pid == sb_pid) {
			/* gone before it was given anything */
			close(sb_fd);
			sb_fd = -1;
			sb_pid = 0;
		}
		TAILQ_FOREACH(g, &prov_groups, g_entry)
			if (g->g_pid == pid) {
				g->g_pid = 0;
				sb_soon = g->g_n == 1;
				break;
			}
	}
}

/*
 * A job's request, n bytes of msg, checked: its disk and pipe in j, its
 * strings terminated.  -1, with whatever descriptors came closed and
 * the request wiped, if it is short or without its disk and pipe.
 */
static int
prov_parse(struct prov_job *j, struct msghdr *msg, ssize_t n)
{
	struct cmsghdr	*cmsg;
	int		 fds[2], i;

	fds[0] = fds[1] = -1;
	cmsg = CMSG_FIRSTHDR(msg);
	if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET &&
	    cmsg->cmsg_type == SCM_RIGHTS &&
	    cmsg->cmsg_len == CMSG_LEN(2 * sizeof(int)))
		memcpy(fds, CMSG_DATA(cmsg), sizeof(fds));
	else if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET &&
	    cmsg->cmsg_type == SCM_RIGHTS)
		/* Not two: close what came. */
		for (i = 0; (size_t)i < (cmsg->cmsg_len - CMSG_LEN(0)) /
		    sizeof(int); i++) {
			int	 f;

			memcpy(&f, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(f));
			close(f);
		}
	j->j_disk = fds[0];
	j->j_report = fds[1];
	if (n != (ssize_t)sizeof(j->j_pq) || fds[0] == -1 ||
	    (msg->msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (fds[0] != -1)
			close(fds[0]);
		if (fds[1] != -1)
			close(fds[1]);
		explicit_bzero(&j->j_pq, sizeof(j->j_pq));
		return -1;
	}
	j->j_pq.pq_hostname[sizeof(j->j_pq.pq_hostname) - 1] = '\0';
	j->j_pq.pq_domain[sizeof(j->j_pq.pq_domain) - 1] = '\0';
	j->j_pq.pq_mac[sizeof(j->j_pq.pq_mac) - 1] = '\0';
	j->j_pq.pq_image[sizeof(j->j_pq.pq_image) - 1] = '\0';
	j->j_pq.pq_keys[sizeof(j->j_pq.pq_keys) - 1] = '\0';
	return 0;
}

/*
 * One request read, if one is there, and queued in its group: 1; 0 if
 * none is.  A short request, or one without its disk and pipe, is
 * dropped (its pipe, if it came, says so).  Ends the provisioner at
 * end of file (the worker is gone) or on an error.
 */
static int
prov_recv(int s)
{
	struct prov_group	*g;
	struct prov_job		*j;
	struct msghdr		 msg;
	struct iovec		 iov;
	union prov_cmsg		 cbuf;
	ssize_t			 n;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		_exit(1);
	prov_msg(&msg, &iov, &j->j_pq, &cbuf);
	while ((n = recvmsg(s, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) ==
	    -1 && errno == EINTR)
		;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		free(j);
		return 0;
	}
	if (n == -1)
		_exit(1);
	if (n == 0)
		_exit(0);	/* the worker is gone */
	if (prov_parse(j, &msg, n) == -1) {
		free(j);
		return 1;
	}
	TAILQ_FOREACH(g, &prov_groups, g_entry)
		if (g->g_owner == j->j_pq.pq_owner &&
		    strcmp(g->g_image, j->j_pq.pq_image) == 0)
			break;
	if (g == NULL) {
		if ((g = calloc(1, sizeof(*g))) == NULL)
			_exit(1);
		g->g_owner = j->j_pq.pq_owner;
		(void)strlcpy(g->g_image, j->j_pq.pq_image,
		    sizeof(g->g_image));
		TAILQ_INIT(&g->g_jobs);
		TAILQ_INSERT_TAIL(&prov_groups, g, g_entry);
	}
	TAILQ_INSERT_TAIL(&g->g_jobs, j, j_entry);
	return 1;
}

static void
prov_sigchld(int sig)
{
	(void)sig;
}

/*
 * The provisioner, forked by vm_preinit() and in the worker's sandbox
 * already: it reads every request there is, starts each group's next
 * disk child where the group has none running, and waits.  It ends
 * when the worker does (end of file on its socket, or the death
 * signal).
 */
void
vm_provisioner(int s, pid_t worker)
{
	struct sigaction	 sa;
	struct pollfd		 pfd;
	sigset_t		 chld, none;
	struct timespec		 idle;
	pid_t			 me = getpid();
	int			 i, n, want;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != worker)
		_exit(1);
	setproctitle("-bangerd: vm provisioner");
	/* No handler of the worker's may run here (libevent's would tell
	   the worker's loop of our signals). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			(void)sigaction(i, &sa, NULL);
	sa.sa_handler = prov_sigchld;
	(void)sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	/* SIGCHLD only while waiting in ppoll: no reaping race. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &chld, NULL);
	/* Only the socket, and 0-2 (stderr for libraries' last words). */
	if (s > 3)
		(void)close_range(3, s - 1, 0);
	(void)close_range(s + 1, ~0U, 0);
	prov_compile();

	pfd.fd = s;
	pfd.events = POLLIN;
	idle.tv_sec = 0;
	idle.tv_nsec = PROV_STANDBY_MS * 1000000L;
	for (;;) {
		prov_reap();
		while (prov_recv(s))
			;
		prov_run_all(s, me);
		if ((want = prov_standby_wanted()) && sb_soon) {
			prov_standby(s, me);
			want = 0;
		}
		sb_soon = 0;
		if ((n = ppoll(&pfd, 1, want ? &idle : NULL, &none)) == -1 &&
		    errno != EINTR)
			_exit(1);
		if (n == 0 && want)
			prov_standby(s, me);
	}
}

/* The provisioner is gone (or refused): the worker forks from now on. */
static void
prov_lost(const char *why)
{
	int	 status;

	log_warnx("provisioner: %s; disk children are the worker's from "
	    "now on", why);
	/* At end of file on its socket it ends, if it has not. */
	close(vm_prov_fd);
	vm_prov_fd = -1;
	while (vm_prov_pid > 0 && waitpid(vm_prov_pid, &status, 0) == -1 &&
	    errno == EINTR)
		;
	vm_prov_pid = -1;
}

/* The request to the provisioner: 0 sent, -1 not (the worker forks). */
static int
prov_send(const struct vm *v, const struct guest_spec *gs, int disk,
    int report)
{
	static struct prov_req	 pq;
	struct msghdr		 msg;
	struct cmsghdr		*cmsg;
	struct iovec		 iov;
	union prov_cmsg		 cbuf;
	int			 fds[2] = { disk, report }, rv;

	if (vm_prov_fd == -1)
		return -1;
	memset(&pq, 0, sizeof(pq));
	if (strlcpy(pq.pq_hostname, gs->gs_hostname,
	    sizeof(pq.pq_hostname)) >= sizeof(pq.pq_hostname) ||
	    strlcpy(pq.pq_domain, gs->gs_domain, sizeof(pq.pq_domain)) >=
	    sizeof(pq.pq_domain) ||
	    strlcpy(pq.pq_mac, gs->gs_mac, sizeof(pq.pq_mac)) >=
	    sizeof(pq.pq_mac) || (gs->gs_authkeys != NULL &&
	    strlcpy(pq.pq_keys, gs->gs_authkeys, sizeof(pq.pq_keys)) >=
	    sizeof(pq.pq_keys)))
		return -1;	/* the worker's own child says what */
	pq.pq_owner = v->v_owner;
	if (strlcpy(pq.pq_image, v->v_image, sizeof(pq.pq_image)) >=
	    sizeof(pq.pq_image))
		return -1;
	pq.pq_authkeys = gs->gs_authkeys != NULL;
	pq.pq_addr = gs->gs_addr;
	pq.pq_gateway = gs->gs_gateway;
	pq.pq_dns = gs->gs_dns;
	pq.pq_prefix = gs->gs_prefix;
	pq.pq_hostkeys = gs->gs_hostkeys;

	prov_msg(&msg, &iov, &pq, &cbuf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	while ((rv = sendmsg(vm_prov_fd, &msg, MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	explicit_bzero(&pq.pq_keys, sizeof(pq.pq_keys));
	if (rv == (int)sizeof(pq))
		return 0;
	if (rv == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -1;	/* busy: this one is the worker's */
	prov_lost(rv == -1 ? strerror(errno) : "short send");
	return -1;
}

/*
 * Write the guest's files into its disk: a disk child, from the
 * provisioner or else forked here, does it with libext2fs (guestfs.c)
 * under a seccomp filter that allows only what libext2fs needs on the
 * disk fd, and reports back on a pipe, read in the event loop
 * (vm_provision_read): the worker serves everyone else meanwhile.
 */
int
vm_provision(struct vm *v, int disk, char *err, size_t errlen)
{
	struct guest_spec	 gs;
	struct vm_prov		*pr;
	int			 p[2];
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
	if (prov_send(v, &gs, disk, p[1]) == 0)
		pid = -1;
	else {
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
			prov_child(disk, p[1], &gs);
		}
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

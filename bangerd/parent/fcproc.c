/*
 * The running Firecracker, through its pidfd: signalled, waited for and
 * reaped, stopped, its descriptors closed, and adopted again after a
 * restart of bangerd.  jailspawn.c starts it.
 */
#include <sys/types.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "jail.h"
#include "log.h"
#include "validate.h"

/*
 * Through the pidfd only.  Firecracker is pid 1 of its namespace: a
 * signal it has no handler for is dropped, even from here, but for
 * SIGKILL (and SIGSTOP); see fc_stop().
 */
int
fc_signal(struct fc_proc *fp, int sig)
{
	if (fp == NULL || fp->fp_pidfd < 0) {
		errno = EBADF;
		return -1;
	}
	switch (sig) {
	case SIGTERM:
	case SIGKILL:
	case SIGINT:
	case SIGHUP:
	case SIGCONT:
		break;
	default:
		log_warnx("vm %s: signal %d not allowed", fp->fp_vmid, sig);
		errno = EINVAL;
		return -1;
	}
	if (pidfd_send_signal(fp->fp_pidfd, sig, NULL, 0) == -1) {
		if (errno == ESRCH && (sig == SIGKILL || sig == SIGTERM))
			return 0;
		log_warn("vm %s: signal %d to pid %ld", fp->fp_vmid, sig,
		    (long)fp->fp_pid);
		return -1;
	}
	return 0;
}

/*
 * Wait up to timeout ms (-1: no limit) for the process to end, and reap
 * it.  *statusp gets a wait(2) status, or -1 if it was not our child
 * (adopted) or was reaped elsewhere.  -1 with ETIMEDOUT if still running.
 */
int
fc_wait(struct fc_proc *fp, int timeout, int *statusp)
{
	struct pollfd	 pfd;
	siginfo_t	 si;
	int		 n;

	if (fp == NULL || fp->fp_pidfd < 0) {
		errno = EBADF;
		return -1;
	}
	pfd.fd = fp->fp_pidfd;
	pfd.events = POLLIN;
	while ((n = poll(&pfd, 1, timeout)) == -1 && errno == EINTR)
		;
	if (n == -1) {
		log_warn("vm %s: poll pidfd", fp->fp_vmid);
		return -1;
	}
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, fp->fp_pidfd, &si, WEXITED | WNOHANG) == -1) {
		if (errno != ECHILD) {
			log_warn("vm %s: waitid", fp->fp_vmid);
			return -1;
		}
		si.si_pid = 0;
	}
	if (statusp != NULL) {
		if (si.si_pid == 0)
			*statusp = -1;
		else if (si.si_code == CLD_EXITED)
			*statusp = (si.si_status & 0xff) << 8;
		else
			*statusp = si.si_status & 0x7f;
	}
	return 0;
}

/* SIGTERM, and SIGKILL if it is still there after grace ms. */
int
fc_stop(struct fc_proc *fp, int grace, int *statusp)
{
	if (fc_signal(fp, SIGTERM) == -1)
		return -1;
	if (fc_wait(fp, grace, statusp) == 0)
		return 0;
	if (errno != ETIMEDOUT)
		return -1;
	log_warnx("vm %s: pid %ld still running %d ms after SIGTERM; killing "
	    "it", fp->fp_vmid, (long)fp->fp_pid, grace);
	if (fc_signal(fp, SIGKILL) == -1)
		return -1;
	return fc_wait(fp, -1, statusp);
}

void
fc_close(struct fc_proc *fp)
{
	if (fp == NULL)
		return;
	if (fp->fp_pidfd != -1)
		close(fp->fp_pidfd);
	if (fp->fp_ptyfd != -1)
		close(fp->fp_ptyfd);
	fp->fp_pidfd = fp->fp_ptyfd = -1;
}

/*
 * A Firecracker started before a restart: pid must still be it (argv
 * and start time as recorded), then is pinned by a pidfd, then checked
 * once more so a pid reused in between is not taken.
 */
int
fc_adopt(const char *exe, const char *vmid, pid_t pid,
    unsigned long long starttime, int *pidfdp)
{
	unsigned long long	 now;
	const char		*why;
	int			 fd;

	if (vmid == NULL || valid_vm_id(vmid, strnlen(vmid, VM_ID_LEN + 1),
	    &why) == -1) {
		log_warnx("adopt: vm id: %s", vmid == NULL ? "null" : why);
		errno = EINVAL;
		return -1;
	}
	if (pidfdp == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (valid_fc_process(pid, exe, vmid, starttime, &why) == -1) {
		log_warnx("vm %s: pid %ld is not its firecracker: %s", vmid,
		    (long)pid, why);
		errno = strcmp(why, "no such process") == 0 ? ESRCH : EPERM;
		return -1;
	}
	if ((fd = pidfd_open(pid, 0)) == -1) {
		log_warn("vm %s: pidfd_open %ld", vmid, (long)pid);
		return -1;
	}
	if (proc_starttime(pid, &now) == -1 || now != starttime) {
		log_warnx("vm %s: pid %ld changed while adopted", vmid,
		    (long)pid);
		close(fd);
		errno = ESRCH;
		return -1;
	}
	*pidfdp = fd;
	log_debug("vm %s: adopted firecracker pid %ld", vmid, (long)pid);
	return 0;
}

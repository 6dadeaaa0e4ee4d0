/*
 * The parent's signals.  Every signal whose default action would end
 * the parent is caught, so that a stray kill never ends it without a
 * word: parent_sig() (bangerd.c) gives the few it acts on their meaning
 * and logs every other one as ignored.  SIGPIPE alone is ignored
 * outright: a peer that went away is an EPIPE where it happens.
 *
 * Not caught: SIGKILL and SIGSTOP, which cannot be; signals 32 and 33,
 * which the C library keeps for itself and will not let a program
 * catch; the stop signals, which stop rather than end; and the
 * synchronous faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
 * SIGTRAP, SIGSYS).  After a fault, or abort(3), the parent's state is
 * not to be trusted: nothing is recovered, and the default action ends
 * it for the service manager to record.
 */
#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "parent.h"
#include "log.h"

/* Caught besides the real-time signals, SIGRTMIN to SIGRTMAX. */
static const int parent_caught[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM,
	SIGSTKFLT, SIGCHLD, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO,
	SIGPWR,
};

static struct event	 sig_ev[NSIG];

static int
sig_caught(int sig)
{
	size_t	 i;

	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		return 1;
	for (i = 0; i < sizeof(parent_caught) / sizeof(parent_caught[0]); i++)
		if (parent_caught[i] == sig)
			return 1;
	return 0;
}

void
parent_signals(void (*cb)(int, short, void *))
{
	int	 sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (!sig_caught(sig))
			continue;
		signal_set(&sig_ev[sig], sig, cb, NULL);
		if (signal_add(&sig_ev[sig], NULL) == -1)
			fatalx("%s: cannot catch %s", __func__,
			    signal_name(sig));
	}
	signal(SIGPIPE, SIG_IGN);
}

/*
 * A child forked to carry on without exec (an image copy): the default
 * action for everything the parent catches, so that a signal meant for
 * the child neither reaches the parent's handlers nor is ignored.
 */
void
parent_signals_child(void)
{
	int	 sig;

	for (sig = 1; sig < NSIG; sig++)
		if (sig_caught(sig))
			(void)signal(sig, SIG_DFL);
}

/* "SIGUSR1", "SIGRTMIN+3", "SIGRTMAX-2", as kill -l names them. */
const char *
signal_name(int sig)
{
	static char	 buf[32];
	const char	*abbrev;

	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		if (sig == SIGRTMIN)
			return "SIGRTMIN";
		if (sig == SIGRTMAX)
			return "SIGRTMAX";
		if (sig - SIGRTMIN <= (SIGRTMAX - SIGRTMIN) / 2)
			snprintf(buf, sizeof(buf), "SIGRTMIN+%d",
			    sig - SIGRTMIN);
		else
			snprintf(buf, sizeof(buf), "SIGRTMAX-%d",
			    SIGRTMAX - sig);
		return buf;
	}
	if (sig == SIGIO)
		return "SIGIO";		/* the C library says SIGPOLL */
	if ((abbrev = sigabbrev_np(sig)) != NULL) {
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
		return buf;
	}
	snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

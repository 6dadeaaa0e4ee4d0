/*
 * jail-drive: call the jail's functions (bangerd/parent/jail.c,
 * jailspawn.c, fcproc.c, jailclean.c) one at a time, for
 * regress/parent/jail.sh.  Messages go to stderr; a failure exits 1
 * after "jail-drive: CMD: strerror".
 *
 * usage:
 *	jail-drive check PATH			fc_exec_check
 *	jail-drive exec PATH SYNC [ARG...]	check, wait until the file
 *						SYNC exists, exec the fd
 *	jail-drive prepare SPEC			jail_prepare
 *	jail-drive spawn SPEC -x EXE -o CONSOLE -p PIDFILE [-F N]
 *		fc_spawn (with N more descriptors open, as a parent with
 *		many VMs holds: -F), then: the console (pty master) is copied to
 *		CONSOLE, "PID STARTTIME" written to PIDFILE, and lines on
 *		stdin run: "term", "kill" (fc_signal), "stop" (fc_stop,
 *		1 s grace), "cgremove" (fc_cgroup_remove); EOF stops it.
 *		When it ends: "exited N" or "killed N" on stdout, then
 *		fc_signal(SIGKILL) again ("resignal ok": gone is fine).
 *	jail-drive adopt EXE VMID PID|self|parent START	fc_adopt
 *	jail-drive grant STATE VMID GID		fc_socket_grant
 *	jail-drive fifos STATE VMID UID GID	jail_fifos
 *	jail-drive cleanup STATE VMID		jail_cleanup
 *	jail-drive cgremove CGROOT VMID [PARENT]	fc_cgroup_remove
 *						(PARENT: banger)
 *
 * SPEC: -s STATE -i VMID -u UID -g GID [-U MIN:MAX] -k KERNEL
 *	 [-r INITRD] -d DISK [-R] [-j JAILER -f FIRECRACKER] [-c CGROOT]
 *	 [-G PARENT] [-P] [-C CPUS] [-m MIB] [-n NOFILE]
 *	 (-R read-only disk, -P JAIL_F_CGROUP_PARTIAL, -G the VMs' cgroup
 *	 below CGROOT, "banger" by default)
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "parent/jail.h"
#include "log.h"

static const char	*cmd;

static void __attribute__((__noreturn__))
usage(void)
{
	fprintf(stderr, "usage: jail-drive check|exec|prepare|spawn|adopt|"
	    "grant|cleanup|cgremove ...\n");
	exit(2);
}

static void __attribute__((__noreturn__))
die(void)
{
	fprintf(stderr, "jail-drive: %s: %s\n", cmd, strerror(errno));
	exit(1);
}

static unsigned long long
number(const char *s)
{
	char			*end;
	unsigned long long	 n;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		fprintf(stderr, "jail-drive: bad number %s\n", s);
		exit(2);
	}
	return n;
}

static void
copy(char *dst, size_t size, const char *src)
{
	if (strlcpy(dst, src, size) >= size) {
		fprintf(stderr, "jail-drive: too long: %s\n", src);
		exit(2);
	}
}

static int	extra_fds;	/* spawn -F */

/* SPEC options, and spawn's own; returns optind. */
static int
spec_parse(int argc, char **argv, struct jail_spec *js, const char **exep,
    const char **consolep, const char **pidfilep)
{
	char	*colon;
	int	 ch;

	memset(js, 0, sizeof(*js));
	js->js_uid_min = 300000;
	js->js_uid_max = 399999;
	js->js_cpus = 1;
	(void)strlcpy(js->js_cgparent, JAIL_CG_PARENT,
	    sizeof(js->js_cgparent));
	js->js_memory = 128;
	while ((ch = getopt(argc, argv, "C:c:d:F:f:G:g:i:j:k:m:n:o:Pp:Rr:s:U:u:x:"))
	    != -1) {
		switch (ch) {
		case 'F':
			extra_fds = number(optarg);
			break;
		case 'C':
			js->js_cpus = number(optarg);
			break;
		case 'c':
			copy(js->js_cgroot, sizeof(js->js_cgroot), optarg);
			break;
		case 'G':
			copy(js->js_cgparent, sizeof(js->js_cgparent),
			    optarg);
			break;
		case 'd':
			copy(js->js_disk, sizeof(js->js_disk), optarg);
			break;
		case 'f':
			copy(js->js_firecracker, sizeof(js->js_firecracker),
			    optarg);
			break;
		case 'g':
			js->js_gid = number(optarg);
			break;
		case 'i':
			copy(js->js_vmid, sizeof(js->js_vmid), optarg);
			break;
		case 'j':
			copy(js->js_jailer, sizeof(js->js_jailer), optarg);
			break;
		case 'k':
			copy(js->js_kernel, sizeof(js->js_kernel), optarg);
			break;
		case 'm':
			js->js_memory = number(optarg);
			break;
		case 'n':
			js->js_nofile = number(optarg);
			break;
		case 'o':
			*consolep = optarg;
			break;
		case 'P':
			js->js_flags |= JAIL_F_CGROUP_PARTIAL;
			break;
		case 'p':
			*pidfilep = optarg;
			break;
		case 'R':
			js->js_flags |= JAIL_F_DISK_RO;
			break;
		case 'r':
			copy(js->js_initrd, sizeof(js->js_initrd), optarg);
			break;
		case 's':
			copy(js->js_statedir, sizeof(js->js_statedir), optarg);
			break;
		case 'U':
			if ((colon = strchr(optarg, ':')) == NULL)
				usage();
			*colon = '\0';
			js->js_uid_min = number(optarg);
			js->js_uid_max = number(colon + 1);
			break;
		case 'u':
			js->js_uid = number(optarg);
			break;
		case 'x':
			*exep = optarg;
			break;
		default:
			usage();
		}
	}
	return optind;
}

static void
report_exit(int status)
{
	if (status == -1)
		printf("exited unknown\n");
	else if (WIFEXITED(status))
		printf("exited %d\n", WEXITSTATUS(status));
	else
		printf("killed %d\n", WTERMSIG(status));
	fflush(stdout);
}

/* Copy what the console has to fd; 0 when the pty is closed. */
static int
drain(int ptyfd, int out)
{
	char	 buf[4096];
	ssize_t	 n;

	for (;;) {
		n = read(ptyfd, buf, sizeof(buf));
		if (n > 0) {
			(void)!write(out, buf, n);
			continue;
		}
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n == -1 && errno == EINTR)
			continue;
		return 0;	/* EIO: every slave fd closed */
	}
}

static int
spawn_loop(struct fc_proc *fp, const struct jail_spec *js, int out)
{
	struct pollfd	 pfd[3];
	char		 line[64];
	ssize_t		 n;
	int		 status, ptyopen = 1;

	(void)fcntl(fp->fp_ptyfd, F_SETFL, O_NONBLOCK);
	for (;;) {
		pfd[0].fd = ptyopen ? fp->fp_ptyfd : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = fp->fp_pidfd;
		pfd[1].events = POLLIN;
		pfd[2].fd = STDIN_FILENO;
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[0].revents)
			ptyopen = drain(fp->fp_ptyfd, out);
		if (pfd[1].revents) {
			if (fc_wait(fp, 0, &status) == -1)
				return -1;
			if (ptyopen)
				(void)drain(fp->fp_ptyfd, out);
			report_exit(status);
			if (fc_signal(fp, SIGKILL) == 0)
				printf("resignal ok\n");
			return 0;
		}
		if (!pfd[2].revents)
			continue;
		if ((n = read(STDIN_FILENO, line, sizeof(line) - 1)) <= 0)
			(void)strlcpy(line, "stop", sizeof(line)); /* EOF */
		else {
			line[n] = '\0';
			line[strcspn(line, "\n")] = '\0';
		}
		if (strcmp(line, "term") == 0 || strcmp(line, "kill") == 0) {
			if (fc_signal(fp, line[0] == 't' ? SIGTERM :
			    SIGKILL) == -1)
				return -1;
			printf("signal %s ok\n", line);
		} else if (strcmp(line, "stop") == 0) {
			if (fc_stop(fp, 1000, &status) == -1)
				return -1;
			if (ptyopen)
				(void)drain(fp->fp_ptyfd, out);
			report_exit(status);
			return 0;
		} else if (strcmp(line, "cgremove") == 0) {
			if (fc_cgroup_remove(js->js_cgroot,
			    js->js_cgparent, js->js_vmid) == -1)
				printf("cgremove failed: %s\n",
				    strerror(errno));
			else
				printf("cgremove ok\n");
		} else
			printf("unknown command %s\n", line);
		fflush(stdout);
	}
}

int
main(int argc, char *argv[])
{
	struct jail_spec	 js;
	struct fc_proc		 fp;
	struct stat		 st;
	struct timespec		 ts = { 0, 20 * 1000 * 1000 };
	const char		*exe = NULL, *console = NULL, *pidfile = NULL;
	unsigned long long	 start;
	FILE			*f;
	pid_t			 pid;
	int			 fd, pidfd, out, i;

	log_init(1, LOG_DAEMON);
	log_setverbose(1);
	fc_spawn_init();
	if (argc < 2)
		usage();
	cmd = argv[1];
	argc--;
	argv++;

	if (strcmp(cmd, "check") == 0) {
		if (argc != 2)
			usage();
		if (fc_exec_check(argv[1], &fd) == -1)
			die();
		printf("ok\n");
		return 0;
	}
	if (strcmp(cmd, "exec") == 0) {
		if (argc < 3)
			usage();
		if (fc_exec_check(argv[1], &fd) == -1)
			die();
		printf("checked\n");
		fflush(stdout);
		while (stat(argv[2], &st) == -1)
			nanosleep(&ts, NULL);
		argv[2] = (char *)"exec-drive";
		execveat(fd, "", argv + 2, (char *[]){ NULL }, AT_EMPTY_PATH);
		die();
	}
	if (strcmp(cmd, "prepare") == 0) {
		if (spec_parse(argc, argv, &js, &exe, &console, &pidfile) !=
		    argc)
			usage();
		if (jail_prepare(&js) == -1)
			die();
		return 0;
	}
	if (strcmp(cmd, "spawn") == 0) {
		if (spec_parse(argc, argv, &js, &exe, &console, &pidfile) !=
		    argc || exe == NULL || console == NULL || pidfile == NULL)
			usage();
		if ((out = open(console, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644)) == -1)
			die();
		if (fc_exec_check(exe, &fd) == -1)
			die();
		for (i = 0; i < extra_fds; i++)
			if (fcntl(out, F_DUPFD_CLOEXEC, 0) == -1)
				die();
		if (fc_spawn(&js, fd, &fp) == -1)
			die();
		close(fd);
		if ((f = fopen(pidfile, "w")) == NULL)
			die();
		fprintf(f, "%ld %llu\n", (long)fp.fp_pid, fp.fp_starttime);
		fclose(f);
		printf("spawned %ld\n", (long)fp.fp_pid);
		fflush(stdout);
		i = spawn_loop(&fp, &js, out);
		fflush(stdout);
		fc_close(&fp);
		close(out);
		if (i == -1)
			die();
		return 0;
	}
	if (strcmp(cmd, "adopt") == 0) {
		if (argc != 5)
			usage();
		if (strcmp(argv[3], "self") == 0)
			pid = getpid();
		else if (strcmp(argv[3], "parent") == 0)
			pid = getppid();
		else
			pid = number(argv[3]);
		start = number(argv[4]);
		if (fc_adopt(argv[1], argv[2], pid, start, &pidfd) == -1)
			die();
		printf("adopted\n");
		close(pidfd);
		return 0;
	}
	if (strcmp(cmd, "grant") == 0) {
		if (argc != 4)
			usage();
		if (fc_socket_grant(argv[1], argv[2], number(argv[3])) == -1)
			die();
		return 0;
	}
	if (strcmp(cmd, "fifos") == 0) {
		if (argc != 5)
			usage();
		if (jail_fifos(argv[1], argv[2], number(argv[3]),
		    number(argv[4])) == -1)
			die();
		return 0;
	}
	if (strcmp(cmd, "cleanup") == 0) {
		if (argc != 3)
			usage();
		if (jail_cleanup(argv[1], argv[2]) == -1)
			die();
		return 0;
	}
	if (strcmp(cmd, "cgremove") == 0) {
		if (argc != 3 && argc != 4)
			usage();
		if (fc_cgroup_remove(argv[1], argc == 4 ? argv[3] :
		    JAIL_CG_PARENT, argv[2]) == -1)
			die();
		return 0;
	}
	usage();
}

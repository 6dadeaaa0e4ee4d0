/*
 * bangerctl vm ...: create, start, stop, kill, restart, rm, prune, wait,
 * pause and resume VMs, and ssh into them (ls and show, and net show:
 * vmls.c; logs and console: console.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bangerctl.h"
#include "validate.h"
#include "wire.h"

static int	 vm_create(int, char **);
static int	 vm_simple(int, char **);
static int	 vm_wait(int, char **);
static int	 vm_prune(int, char **);
static int	 vm_ssh(int, char **);

static const struct ctl_cmd vm_cmds[] = {
	{ "create", vm_create, "NAME [--image I] [--cpus N] [--memory SIZE] "
	    "[--disk SIZE] [--ssh-key FILE] "
	    "[--publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]] [--count N] "
	    "[--start] | NAME --from-snapshot VM/SNAP [--count N] "
	    "[--publish ...] [--start]",
	    "create a VM (and start it), or clones of a VM's snapshot; "
	    "--count N: NAME-1 to NAME-N" },
	{ "start", vm_simple, "NAME", "boot a VM" },
	{ "stop", vm_simple, "[-f] [--timeout S] NAME",
	    "shut a VM down (Ctrl-Alt-Del, then kill; -f: kill now)" },
	{ "kill", vm_simple, "NAME", "end a VM's Firecracker at once" },
	{ "restart", vm_simple, "[-f] [--timeout S] NAME",
	    "stop and start a VM (as stop does, then start)" },
	{ "rm", vm_simple, "[-f] NAME", "remove a stopped VM (-f: even running)" },
	{ "prune", vm_prune, "", "remove every stopped VM of yours (root: all)" },
	{ "ls", vm_ls, "[--json]", "list VMs" },
	{ "show", vm_show, "[--json] NAME", "show one VM" },
	{ "wait", vm_wait, "NAME [--state S] [--timeout S]",
	    "wait until a VM is in a state (default running)" },
	{ "pause", vm_simple, "NAME", "pause a running VM" },
	{ "resume", vm_simple, "NAME", "resume a paused VM" },
	{ "snapshot", vm_snapshot, "[--json] NAME [SNAP] | ls [--json] NAME "
	    "| rm [--json] NAME SNAP", "take a snapshot of a running VM "
	    "(memory, state and disk); list or remove its snapshots" },
	{ "restore", vm_restore, "NAME SNAP",
	    "roll a VM back to its snapshot (a running VM is killed first)" },
	{ "logs", vm_logs, "[-f] NAME",
	    "print a VM's console log (-f: and follow it)" },
	{ "console", vm_console, "NAME",
	    "attach to a VM's serial console (~. detaches)" },
	{ "ssh", vm_ssh, "NAME [-l USER] [-i IDENTITY] [--wait S] "
	    "[-- COMMAND ...]",
	    "log into a running VM (its pinned host key, its --ssh-key)" },
};
#define NVMCMDS	(sizeof(vm_cmds) / sizeof(vm_cmds[0]))

static const struct ctl_cmd *vm_current;

void
vm_usage_list(FILE *fp)
{
	size_t	 i;

	for (i = 0; i < NVMCMDS; i++)
		fprintf(fp, "  vm %-8s %s\n", vm_cmds[i].name,
		    vm_cmds[i].usage);
}

__attribute__((__noreturn__)) void
vm_usage(void)
{
	extern char	*__progname;

	fprintf(stderr, "usage: %s vm %s %s\n", __progname,
	    vm_current->name, vm_current->usage);
	exit(1);
}

int
cmd_vm(int argc, char **argv)
{
	size_t	 i;

	if (argc < 2) {
		fprintf(stderr, "usage: bangerctl vm command [arguments]\n");
		vm_usage_list(stderr);
		return 1;
	}
	for (i = 0; i < NVMCMDS; i++)
		if (strcmp(vm_cmds[i].name, argv[1]) == 0) {
			vm_current = &vm_cmds[i];
			optind = 0;
			return vm_cmds[i].run(argc - 1, argv + 1);
		}
	warnx("unknown command \"vm %s\"; \"bangerctl help\" lists them",
	    argv[1]);
	return 1;
}

/*
 * A size: a number with an optional K, M, G or T suffix (powers of
 * 1024); a plain number is MiB.  Returns bytes, or -1 with a message.
 */
int
parse_size(const char *what, const char *s, uint64_t *bytes)
{
	char		*end;
	unsigned long long n;
	uint64_t	 mul = 1ULL << 20;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		goto bad;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		goto bad;
	if (*end != '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			mul = 1ULL << 10;
			break;
		case 'M':
			mul = 1ULL << 20;
			break;
		case 'G':
			mul = 1ULL << 30;
			break;
		case 'T':
			mul = 1ULL << 40;
			break;
		default:
			goto bad;
		}
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end != '\0')
			goto bad;
	}
	if (n == 0 || n > UINT64_MAX / mul)
		goto bad;
	*bytes = n * mul;
	return 0;
bad:
	warnx("invalid %s size \"%s\": use a number with an optional K, M, G "
	    "or T suffix, such as 512M or 2G", what, s);
	return -1;
}

int
check_name(const char *name)
{
	const char	*why;

	if (valid_name(name, strlen(name), &why) == -1) {
		warnx("invalid VM name \"%s\": %s; names are 1 to 63 of a-z, "
		    "0-9 and '-', starting with a letter or digit", name, why);
		return -1;
	}
	return 0;
}

/* Send one request and print its result; returns the exit status. */
static int
request(uint32_t type, const void *data, size_t len)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	int		 rv;

	ctl_connect(&ibuf);
	ctl_send(&ibuf, type, data, len);
	for (;;) {
		ctl_recv(&ibuf, &imsg);
		if (imsg_get_type(&imsg) == IMSG_CTL_RESULT)
			break;
		imsg_free(&imsg);
	}
	rv = ctl_result(&imsg, 0);
	imsg_free(&imsg);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}

/* [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp] */
static int
parse_publish(const char *arg, struct proto_publish *pp)
{
	char		 buf[64], *proto, *f[3];
	const char	*errstr, *why;
	struct in_addr	 a;
	int		 n = 0;
	char		*p, *q;

	memset(pp, 0, sizeof(*pp));
	pp->pp_proto = IPPROTO_TCP;
	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf))
		goto bad;
	if ((proto = strchr(buf, '/')) != NULL) {
		*proto++ = '\0';
		if (strcmp(proto, "tcp") == 0)
			pp->pp_proto = IPPROTO_TCP;
		else if (strcmp(proto, "udp") == 0)
			pp->pp_proto = IPPROTO_UDP;
		else
			goto bad;
	}
	for (p = buf; (q = strsep(&p, ":")) != NULL; )
		if (n < 3)
			f[n++] = q;
		else
			goto bad;
	if (n == 3) {
		if (inet_pton(AF_INET, f[0], &a) != 1)
			goto bad;
		if (valid_publish_host(a, &why) == -1) {
			warnx("invalid --publish \"%s\": host address %s: %s; "
			    "NAT cannot forward from it (leave the address out "
			    "to publish on every address of the host)", arg,
			    f[0], why);
			return -1;
		}
		pp->pp_host_addr = a.s_addr;
		f[0] = f[1];
		f[1] = f[2];
	} else if (n != 2)
		goto bad;
	pp->pp_host_port = strtonum(f[0], 1, 65535, &errstr);
	if (errstr != NULL)
		goto bad;
	pp->pp_guest_port = strtonum(f[1], 1, 65535, &errstr);
	if (errstr != NULL)
		goto bad;
	return 0;
bad:
	warnx("invalid --publish \"%s\": use [HOSTIP:]HOSTPORT:GUESTPORT"
	    "[/tcp|/udp], such as 8080:80 or 192.0.2.10:2222:22/tcp", arg);
	return -1;
}

static int
vm_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "disk", required_argument, NULL, 'D' },
		{ "start", no_argument, NULL, 's' },
		{ "publish", required_argument, NULL, 'p' },
		{ "ssh-key", required_argument, NULL, 'k' },
		{ "from-snapshot", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_vm_create	 cc;
	char			 path[PATH_MAX], name[PROTO_VMNAME_MAX + 16];
	FILE			*fp;
	size_t			 n;
	const char		*errstr, *slash;
	uint64_t		 bytes;
	int			 ch, count = 0, i, rv;

	memset(&cc, 0, sizeof(cc));
	while ((ch = getopt_long(argc, argv, "i:c:m:D:sp:k:f:n:", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			/* VM/SNAP: the daemon says whether they exist */
			if ((slash = strchr(optarg, '/')) == NULL ||
			    (size_t)(slash - optarg) >= sizeof(cc.cc_from_vm) ||
			    strlcpy(cc.cc_from_snap, slash + 1,
			    sizeof(cc.cc_from_snap)) >= sizeof(cc.cc_from_snap)) {
				warnx("invalid --from-snapshot \"%s\": VM/SNAP, "
				    "a VM's name and one of its snapshots'",
				    optarg);
				return 1;
			}
			memcpy(cc.cc_from_vm, optarg, slash - optarg);
			if (check_name(cc.cc_from_vm) == -1 ||
			    check_name(cc.cc_from_snap) == -1)
				return 1;
			break;
		case 'n':
			count = strtonum(optarg, 1, 1000, &errstr);
			if (errstr != NULL) {
				warnx("invalid --count \"%s\": 1 to 1000",
				    optarg);
				return 1;
			}
			break;
		case 'k':
			/* Read as the caller: the daemon gets only the text. */
			if ((fp = fopen(optarg, "re")) == NULL)
				err(1, "--ssh-key %s", optarg);
			n = fread(cc.cc_authkeys, 1, sizeof(cc.cc_authkeys), fp);
			if (ferror(fp))
				err(1, "--ssh-key %s", optarg);
			fclose(fp);
			/* Kept so that vm ssh finds the private key beside. */
			if (realpath(optarg, path) == NULL)
				err(1, "--ssh-key %s", optarg);
			if (strlcpy(cc.cc_sshkey, path, sizeof(cc.cc_sshkey)) >=
			    sizeof(cc.cc_sshkey)) {
				warnx("--ssh-key %s: path longer than %zu bytes",
				    path, sizeof(cc.cc_sshkey) - 1);
				return 1;
			}
			if (n >= sizeof(cc.cc_authkeys) ||
			    memchr(cc.cc_authkeys, '\0', n) != NULL) {
				warnx("--ssh-key %s: not an OpenSSH public key "
				    "file of at most %zu bytes", optarg,
				    sizeof(cc.cc_authkeys) - 1);
				return 1;
			}
			break;
		case 'p':
			if (cc.cc_npublish == PROTO_PUBLISH_MAX) {
				warnx("at most %d --publish", PROTO_PUBLISH_MAX);
				return 1;
			}
			if (parse_publish(optarg,
			    &cc.cc_publish[cc.cc_npublish++]) == -1)
				return 1;
			break;
		case 'i':
			if (strlcpy(cc.cc_image, optarg, sizeof(cc.cc_image)) >=
			    sizeof(cc.cc_image) || check_name(optarg) == -1) {
				warnx("invalid image name \"%s\"", optarg);
				return 1;
			}
			break;
		case 'c':
			cc.cc_cpus = strtonum(optarg, 1, 32, &errstr);
			if (errstr != NULL) {
				warnx("invalid cpu count \"%s\": a VM has 1 to "
				    "32", optarg);
				return 1;
			}
			break;
		case 'm':
			if (parse_size("memory", optarg, &bytes) == -1)
				return 1;
			if (bytes % (1 << 20) != 0) {
				warnx("invalid memory size \"%s\": a whole "
				    "number of MiB", optarg);
				return 1;
			}
			cc.cc_memory = bytes >> 20;
			break;
		case 'D':
			if (parse_size("disk", optarg, &bytes) == -1)
				return 1;
			if (bytes % 512 != 0) {
				warnx("invalid disk size \"%s\": a whole "
				    "number of 512-byte sectors", optarg);
				return 1;
			}
			cc.cc_disk = bytes;
			break;
		case 's':
			cc.cc_flags |= CTL_VM_F_START;
			break;
		default:
			vm_usage();
		}
	}
	if (optind != argc - 1)
		vm_usage();
	if (check_name(argv[optind]) == -1)
		return 1;
	if (count == 0) {
		strlcpy(cc.cc_name, argv[optind], sizeof(cc.cc_name));
		return request(IMSG_CTL_VM_CREATE, &cc, sizeof(cc));
	}
	/*
	 * NAME-1 to NAME-N (VMs or clones), one after another on the same
	 * terms; the first failure ends it.  NAME-N, the longest, is
	 * checked before any is made.
	 */
	snprintf(name, sizeof(name), "%s-%d", argv[optind], count);
	if (strlen(name) >= sizeof(cc.cc_name) || valid_name(name,
	    strlen(name), &errstr) == -1) {
		warnx("invalid VM name \"%s\": NAME-%d must be a name too "
		    "(at most %zu characters)", name, count,
		    sizeof(cc.cc_name) - 1);
		return 1;
	}
	for (i = 1; i <= count; i++) {
		snprintf(cc.cc_name, sizeof(cc.cc_name), "%s-%d",
		    argv[optind], i);
		rv = request(IMSG_CTL_VM_CREATE, &cc, sizeof(cc));
		/* Each VM's line as it is made, even into a pipe. */
		(void)fflush(stdout);
		if (rv != 0)
			return rv;
	}
	return 0;
}

/* The VM named by the last argument: check it, send the request. */
static int
request_named(int argc, char **argv, struct ctl_vm *cv)
{
	if (optind != argc - 1)
		vm_usage();
	if (check_name(argv[optind]) == -1)
		return 1;
	strlcpy(cv->cv_name, argv[optind], sizeof(cv->cv_name));
	return request(IMSG_CTL_VM, cv, sizeof(*cv));
}

static int
parse_timeout(const char *arg, int max, int32_t *out)
{
	const char	*errstr;

	*out = strtonum(arg, 1, max, &errstr);
	if (errstr != NULL) {
		warnx("invalid timeout \"%s\": 1 to %d seconds", arg, max);
		return -1;
	}
	return 0;
}

static int
vm_action_code(const char *name)
{
	static const struct {
		const char	*name;
		int		 action;
	} actions[] = {
		{ "start", CTL_VM_START }, { "stop", CTL_VM_STOP },
		{ "kill", CTL_VM_KILL }, { "restart", CTL_VM_RESTART },
		{ "rm", CTL_VM_RM }, { "pause", CTL_VM_PAUSE },
		{ "resume", CTL_VM_RESUME },
	};
	size_t	 i;

	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].name, name) == 0)
			return actions[i].action;
	return -1;
}

static int
vm_simple(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_vm	 cv;
	int		 ch, force_ok, timeout_ok;

	memset(&cv, 0, sizeof(cv));
	cv.cv_action = vm_action_code(vm_current->name);
	force_ok = cv.cv_action == CTL_VM_STOP || cv.cv_action == CTL_VM_RM ||
	    cv.cv_action == CTL_VM_RESTART;
	timeout_ok = cv.cv_action == CTL_VM_STOP ||
	    cv.cv_action == CTL_VM_RESTART;
	while ((ch = getopt_long(argc, argv, "ft:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (!force_ok)
				vm_usage();
			cv.cv_flags |= CTL_VM_F_FORCE;
			break;
		case 't':
			if (!timeout_ok)
				vm_usage();
			if (parse_timeout(optarg, 3600, &cv.cv_timeout) == -1)
				return 1;
			break;
		default:
			vm_usage();
		}
	}
	return request_named(argc, argv, &cv);
}

static int
vm_prune(int argc, char **argv)
{
	struct ctl_vm	 cv;

	if (argc != 1)
		vm_usage();
	memset(&cv, 0, sizeof(cv));
	cv.cv_action = CTL_VM_PRUNE;
	return request(IMSG_CTL_VM, &cv, sizeof(cv));
}

static int
vm_wait(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_vm	 cv;
	int		 ch;

	memset(&cv, 0, sizeof(cv));
	cv.cv_action = CTL_VM_WAIT;
	while ((ch = getopt_long(argc, argv, "s:t:", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (strlcpy(cv.cv_state, optarg, sizeof(cv.cv_state)) >=
			    sizeof(cv.cv_state)) {
				warnx("unknown state \"%s\"", optarg);
				return 1;
			}
			break;
		case 't':
			if (parse_timeout(optarg, 86400, &cv.cv_timeout) == -1)
				return 1;
			break;
		default:
			vm_usage();
		}
	}
	return request_named(argc, argv, &cv);
}

/* vm ssh: the signal that ends us, and ssh, to which it is passed on. */
static volatile sig_atomic_t	 ssh_signal;
static volatile pid_t		 ssh_pid;

static void
ssh_forward(int sig)
{
	int	 saved = errno;

	ssh_signal = sig;
	if (ssh_pid > 0)
		(void)kill(ssh_pid, sig);
	errno = saved;
}

/* Why vm ssh cannot log into a VM in this state, and what would help. */
static __attribute__((__noreturn__)) void
ssh_not_running(const char *name, const char *state)
{
	if (strcmp(state, "paused") == 0)
		errx(1, "vm %s is paused, not running (bangerctl vm resume "
		    "%s)", name, name);
	if (strcmp(state, "starting") == 0)
		errx(1, "vm %s is starting, not running yet (bangerctl vm "
		    "wait %s)", name, name);
	if (strcmp(state, "stopping") == 0 ||
	    strcmp(state, "removing") == 0 || strcmp(state, "creating") == 0)
		errx(1, "vm %s is %s, not running", name, state);
	errx(1, "vm %s is %s, not running (bangerctl vm start %s)", name,
	    state, name);
}

/*
 * vm ssh --wait: until ADDR's port 22 takes a connection, or the
 * monotonic clock passes deadline (ms); 0 if it did.  Each attempt
 * waits at most 250 ms: an address not yet up (a clone's, before its
 * agent has taken it on) costs the kernel seconds of ARP and SYN
 * retries that ssh would sit through, where a new attempt a tenth of a
 * second later finds it.
 */
static int
ssh_port_wait(const char *addr, int64_t deadline)
{
	struct sockaddr_in	 sin;
	struct pollfd		 pfd;
	socklen_t		 len;
	int64_t			 left;
	int			 fd, err;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(22);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			return -1;
		err = 0;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			err = errno;
		if (err == EINPROGRESS) {
			left = deadline - now_ms();
			pfd.fd = fd;
			pfd.events = POLLOUT;
			err = ETIMEDOUT;
			len = sizeof(err);
			if (poll(&pfd, 1, left < 0 ? 0 : left < 250 ? left :
			    250) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR,
			    &err, &len) == -1)
				err = errno;
		}
		close(fd);
		if (err == 0)
			return 0;
		if ((left = deadline - now_ms()) <= 0) {
			errno = err;
			return -1;
		}
		poll(NULL, 0, left < 100 ? left : 100);
	}
}

/*
 * bangerctl vm ssh: ssh into a running VM at its address, checking its
 * host key against the one pinned at create (in a private known_hosts
 * file, so ssh never asks), with the private key beside the --ssh-key
 * it was created with unless -i names another.  With --wait, a VM
 * still starting is waited for, and then its port 22, first.  ssh's
 * exit status is ours, unless a signal ends us: see below.
 */
static int
vm_ssh(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };
#define NSIGS	(sizeof(sigs) / sizeof(sigs[0]))
	struct ctl_vm	 cv;
	struct vm_info	*vis = NULL, *vi;
	struct sigaction sa, osa[NSIGS];
	sigset_t	 block, omask;
	const char	*user = "root", *identity = NULL, *tmpdir, *name;
	char		 khosts[PATH_MAX], khopt[PATH_MAX + 32], priv[PATH_MAX];
	char		 ktype[64], kdata[PROTO_HOSTKEY_MAX];
	char		**av = NULL;
	size_t		 n, len, k;
	pid_t		 pid;
	int64_t		 deadline = 0;
	int32_t		 wait = 0;
	int		 ch, ac = 0, fd, rv, status, i;

	while ((ch = getopt_long(argc, argv, "l:i:w:", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			user = optarg;
			break;
		case 'i':
			identity = optarg;
			break;
		case 'w':
			if (parse_timeout(optarg, 86400, &wait) == -1)
				return 1;
			break;
		default:
			vm_usage();
		}
	}
	if (optind >= argc)
		vm_usage();
	name = argv[optind++];
	if (check_name(name) == -1)
		return 1;
	if (wait > 0)
		deadline = now_ms() + (int64_t)wait * 1000;
	memset(&cv, 0, sizeof(cv));
	cv.cv_action = CTL_VM_SHOW;
	strlcpy(cv.cv_name, name, sizeof(cv.cv_name));
	for (;;) {
		if ((rv = vm_collect(IMSG_CTL_VM, &cv, sizeof(cv), &vis,
		    &n)) != 0)
			return rv;
		if (n != 1)
			errx(1, "no information on %s from bangerd", name);
		vi = &vis[0];
		if (strcmp(vi->vi_state, "running") == 0)
			break;
		if (deadline == 0 || (strcmp(vi->vi_state, "starting") != 0 &&
		    strcmp(vi->vi_state, "creating") != 0))
			ssh_not_running(name, vi->vi_state);
		if (now_ms() >= deadline)
			errx(1, "vm %s is still %s after %d s", name,
			    vi->vi_state, wait);
		free(vis);
		vis = NULL;
		poll(NULL, 0, 100);
	}
	vi->vi_hostkey[sizeof(vi->vi_hostkey) - 1] = '\0';
	vi->vi_sshkey[sizeof(vi->vi_sshkey) - 1] = '\0';
	vi->vi_addr[sizeof(vi->vi_addr) - 1] = '\0';
	if (vi->vi_addr[0] == '\0')
		errx(1, "vm %s has no address", name);
	if (vi->vi_hostkey[0] == '\0')
		errx(1, "vm %s has no pinned host key: its host key cannot "
		    "be checked", name);
	if (sscanf(vi->vi_hostkey, "%63s %383s", ktype, kdata) != 2 ||
	    strcmp(ktype, "ssh-ed25519") != 0)
		errx(1, "vm %s: pinned host key \"%.40s\" is not an "
		    "ssh-ed25519 key", name, vi->vi_hostkey);
	if (deadline != 0 && ssh_port_wait(vi->vi_addr, deadline) == -1)
		errx(1, "vm %s: nothing took a connection on %s port 22 "
		    "within %d s (last: %s)", name, vi->vi_addr, wait,
		    strerror(errno));

	if (identity == NULL && (len = strlen(vi->vi_sshkey)) > 4 &&
	    strcmp(vi->vi_sshkey + len - 4, ".pub") == 0 &&
	    len - 4 < sizeof(priv)) {
		memcpy(priv, vi->vi_sshkey, len - 4);
		priv[len - 4] = '\0';
		if (access(priv, F_OK) == 0)
			identity = priv;
	}

	/* ssh takes the file in an -o value: no whitespace or quotes. */
	tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || tmpdir[0] != '/' ||
	    strpbrk(tmpdir, " \t\"'") != NULL)
		tmpdir = "/tmp";
	if ((size_t)snprintf(khosts, sizeof(khosts),
	    "%s/bangerctl-known_hosts.XXXXXX", tmpdir) >= sizeof(khosts))
		errx(1, "TMPDIR %s: too long", tmpdir);

	/*
	 * A signal that would end us (timeout(1), a hung-up terminal, ^C)
	 * is passed on to ssh, which is waited for, and the file removed:
	 * nothing is left connected to the guest.  Blocked until ssh's pid
	 * is known; a signal ignored when we started stays ignored.
	 */
	sigemptyset(&block);
	for (k = 0; k < NSIGS; k++)
		sigaddset(&block, sigs[k]);
	(void)sigprocmask(SIG_BLOCK, &block, &omask);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ssh_forward;
	sa.sa_mask = block;
	for (k = 0; k < NSIGS; k++) {
		(void)sigaction(sigs[k], NULL, &osa[k]);
		if (osa[k].sa_handler != SIG_IGN)
			(void)sigaction(sigs[k], &sa, NULL);
	}

	if ((fd = mkstemp(khosts)) == -1)
		err(1, "%s", khosts);
	if (fchmod(fd, 0600) == -1 ||
	    dprintf(fd, "%s %s %s\n", vi->vi_addr, ktype, kdata) < 0 ||
	    close(fd) == -1) {
		warn("%s", khosts);
		(void)unlink(khosts);
		return 1;
	}
	snprintf(khopt, sizeof(khopt), "UserKnownHostsFile=%s", khosts);

	if ((av = calloc(argc - optind + 24, sizeof(*av))) == NULL) {
		(void)unlink(khosts);
		err(1, NULL);
	}
	av[ac++] = "ssh";
	av[ac++] = "-o";
	av[ac++] = khopt;
	av[ac++] = "-o";
	av[ac++] = "GlobalKnownHostsFile=/dev/null";
	av[ac++] = "-o";
	av[ac++] = "StrictHostKeyChecking=yes";
	av[ac++] = "-o";
	av[ac++] = "HostKeyAlgorithms=ssh-ed25519";
	av[ac++] = "-o";
	av[ac++] = "UpdateHostKeys=no";
	av[ac++] = "-o";
	av[ac++] = "CheckHostIP=no";
	if (identity != NULL) {
		av[ac++] = "-i";
		av[ac++] = (char *)identity;
		av[ac++] = "-o";
		av[ac++] = "IdentitiesOnly=yes";
	}
	av[ac++] = "-l";
	av[ac++] = (char *)user;
	av[ac++] = "--";
	av[ac++] = vi->vi_addr;
	for (i = optind; i < argc; i++)
		av[ac++] = argv[i];
	av[ac] = NULL;

	switch (pid = fork()) {
	case -1:
		warn("fork");
		(void)unlink(khosts);
		free(av);
		free(vis);
		return 1;
	case 0:
		for (k = 0; k < NSIGS; k++)
			(void)sigaction(sigs[k], &osa[k], NULL);
		(void)sigprocmask(SIG_SETMASK, &omask, NULL);
		execvp(av[0], av);
		warn("%s", av[0]);
		_exit(127);
	}
	ssh_pid = pid;
	/* One that came meanwhile is delivered, and passed on, now. */
	(void)sigprocmask(SIG_SETMASK, &omask, NULL);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			warn("waitpid");
			status = -1;
			break;
		}
	(void)unlink(khosts);
	free(av);
	free(vis);
	if (ssh_signal != 0)
		return 128 + ssh_signal;
	if (status == -1)
		return 1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
#undef NSIGS
}

/*
 * bangerctl vm ...: create, start, stop, kill, restart, rm, prune, ls,
 * show, wait, pause and resume VMs (logs and console: console.c).
 */
#include <sys/types.h>
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
static int	 vm_ls(int, char **);
static int	 vm_show(int, char **);
static int	 vm_wait(int, char **);
static int	 vm_prune(int, char **);
static int	 vm_ssh(int, char **);

static const struct ctl_cmd vm_cmds[] = {
	{ "create", vm_create, "NAME [--image I] [--cpus N] [--memory SIZE] "
	    "[--disk SIZE] [--ssh-key FILE] "
	    "[--publish [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]] [--start]",
	    "create a VM (and start it)" },
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
	{ "logs", vm_logs, "[-f] NAME",
	    "print a VM's console log (-f: and follow it)" },
	{ "console", vm_console, "NAME",
	    "attach to a VM's serial console (~. detaches)" },
	{ "ssh", vm_ssh, "NAME [-l USER] [-i IDENTITY] [-- COMMAND ...]",
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

static const char *
fmt_publish(const struct proto_publish *pp, char *buf, size_t len)
{
	struct in_addr	 a;

	a.s_addr = pp->pp_host_addr;
	if (pp->pp_host_addr != 0)
		snprintf(buf, len, "%s:%u:%u/%s", inet_ntoa(a),
		    pp->pp_host_port, pp->pp_guest_port,
		    pp->pp_proto == IPPROTO_UDP ? "udp" : "tcp");
	else
		snprintf(buf, len, "%u:%u/%s", pp->pp_host_port,
		    pp->pp_guest_port, pp->pp_proto == IPPROTO_UDP ? "udp" :
		    "tcp");
	return buf;
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
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_vm_create	 cc;
	char			 path[PATH_MAX];
	FILE			*fp;
	size_t			 n;
	const char		*errstr;
	uint64_t		 bytes;
	int			 ch;

	memset(&cc, 0, sizeof(cc));
	while ((ch = getopt_long(argc, argv, "i:c:m:D:sp:k:", opts,
	    NULL)) != -1) {
		switch (ch) {
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
	strlcpy(cc.cc_name, argv[optind], sizeof(cc.cc_name));
	return request(IMSG_CTL_VM_CREATE, &cc, sizeof(cc));
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

static json_t *
publish_json(struct vm_info *vi)
{
	json_t		*arr;
	char		 b[64];
	uint32_t	 i;

	arr = json_array();
	for (i = 0; i < vi->vi_npublish && i < PROTO_PUBLISH_MAX; i++)
		json_array_append_new(arr, json_string(fmt_publish(
		    &vi->vi_publish[i], b, sizeof(b))));
	return arr;
}

static json_t *
info_json(struct vm_info *vi)
{
	json_t		*j;

	j = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:I, s:I, s:I, "
	    "s:I, s:s, s:s, s:s?, s:s?, s:s, s:I, s:o?}",
	    "name", vi->vi_name, "id", vi->vi_id, "image", vi->vi_image,
	    "state", vi->vi_state,
	    "error", vi->vi_error[0] ? vi->vi_error : NULL,
	    "owner", (json_int_t)vi->vi_owner,
	    "cpus", (json_int_t)vi->vi_cpus,
	    "memory_mib", (json_int_t)vi->vi_memory,
	    "disk_bytes", (json_int_t)vi->vi_disk,
	    "pid", (json_int_t)vi->vi_pid,
	    "tap", vi->vi_tap, "mac", vi->vi_mac,
	    "address", vi->vi_addr[0] ? vi->vi_addr : NULL,
	    "fqdn", vi->vi_fqdn[0] ? vi->vi_fqdn : NULL,
	    "disk_backend", vi->vi_backend,
	    "created", (json_int_t)vi->vi_created,
	    "started", vi->vi_started ? json_integer(vi->vi_started) : NULL);
	json_object_set_new(j, "uid", json_integer(vi->vi_uid));
	json_object_set_new(j, "publish", publish_json(vi));
	vi->vi_hostkey[sizeof(vi->vi_hostkey) - 1] = '\0';
	json_object_set_new(j, "host_key", vi->vi_hostkey[0] ?
	    json_string(vi->vi_hostkey) : json_null());
	vi->vi_sshkey[sizeof(vi->vi_sshkey) - 1] = '\0';
	json_object_set_new(j, "ssh_key", vi->vi_sshkey[0] ?
	    json_string(vi->vi_sshkey) : json_null());
	/* What Firecracker said of itself (GET /) when it started. */
	vi->vi_vmm_version[sizeof(vi->vi_vmm_version) - 1] = '\0';
	vi->vi_vmm_state[sizeof(vi->vi_vmm_state) - 1] = '\0';
	json_object_set_new(j, "vmm_version", vi->vi_vmm_state[0] &&
	    vi->vi_vmm_version[0] ? json_string(vi->vi_vmm_version) :
	    json_null());
	json_object_set_new(j, "vmm_state", vi->vi_vmm_state[0] ?
	    json_string(vi->vi_vmm_state) : json_null());
	return j;
}

/* Do the strings of vi that info_json gives hold only ASCII? */
static int
info_ascii(struct vm_info *vi)
{
	return jw_ascii(vi->vi_name, sizeof(vi->vi_name)) &&
	    jw_ascii(vi->vi_id, sizeof(vi->vi_id)) &&
	    jw_ascii(vi->vi_image, sizeof(vi->vi_image)) &&
	    jw_ascii(vi->vi_state, sizeof(vi->vi_state)) &&
	    jw_ascii(vi->vi_error, sizeof(vi->vi_error)) &&
	    jw_ascii(vi->vi_tap, sizeof(vi->vi_tap)) &&
	    jw_ascii(vi->vi_mac, sizeof(vi->vi_mac)) &&
	    jw_ascii(vi->vi_addr, sizeof(vi->vi_addr)) &&
	    jw_ascii(vi->vi_fqdn, sizeof(vi->vi_fqdn)) &&
	    jw_ascii(vi->vi_backend, sizeof(vi->vi_backend)) &&
	    jw_ascii(vi->vi_hostkey, sizeof(vi->vi_hostkey)) &&
	    jw_ascii(vi->vi_sshkey, sizeof(vi->vi_sshkey)) &&
	    jw_ascii(vi->vi_vmm_version, sizeof(vi->vi_vmm_version)) &&
	    jw_ascii(vi->vi_vmm_state, sizeof(vi->vi_vmm_state));
}

/* A string member, or null if the string is empty. */
static void
info_str(struct jw *jw, const char *key, const char *s, size_t max)
{
	jw_key(jw, key);
	if (s[0] != '\0')
		jw_str(jw, s, max);
	else
		jw_null(jw);
}

#define INFO_STR(jw, key, vi, f)					\
	do {								\
		jw_key((jw), (key));					\
		jw_str((jw), (vi)->f, sizeof((vi)->f));			\
	} while (0)
#define INFO_INT(jw, key, v)						\
	do {								\
		jw_key((jw), (key));					\
		jw_int((jw), (v));					\
	} while (0)

/*
 * What info_json gives, written as it goes: the same members in the
 * same order.  Only for info_ascii's VMs.
 */
static void
info_write(struct jw *jw, struct vm_info *vi)
{
	char		 b[64];
	uint32_t	 i;

	jw_open(jw, '{');
	INFO_STR(jw, "name", vi, vi_name);
	INFO_STR(jw, "id", vi, vi_id);
	INFO_STR(jw, "image", vi, vi_image);
	INFO_STR(jw, "state", vi, vi_state);
	info_str(jw, "error", vi->vi_error, sizeof(vi->vi_error));
	INFO_INT(jw, "owner", (json_int_t)vi->vi_owner);
	INFO_INT(jw, "cpus", (json_int_t)vi->vi_cpus);
	INFO_INT(jw, "memory_mib", (json_int_t)vi->vi_memory);
	INFO_INT(jw, "disk_bytes", (json_int_t)vi->vi_disk);
	INFO_INT(jw, "pid", (json_int_t)vi->vi_pid);
	INFO_STR(jw, "tap", vi, vi_tap);
	INFO_STR(jw, "mac", vi, vi_mac);
	info_str(jw, "address", vi->vi_addr, sizeof(vi->vi_addr));
	info_str(jw, "fqdn", vi->vi_fqdn, sizeof(vi->vi_fqdn));
	INFO_STR(jw, "disk_backend", vi, vi_backend);
	INFO_INT(jw, "created", (json_int_t)vi->vi_created);
	jw_key(jw, "started");
	if (vi->vi_started)
		jw_int(jw, vi->vi_started);
	else
		jw_null(jw);
	INFO_INT(jw, "uid", (json_int_t)vi->vi_uid);
	jw_key(jw, "publish");
	jw_open(jw, '[');
	for (i = 0; i < vi->vi_npublish && i < PROTO_PUBLISH_MAX; i++) {
		jw_next(jw);
		fmt_publish(&vi->vi_publish[i], b, sizeof(b));
		jw_str(jw, b, sizeof(b));
	}
	jw_close(jw, ']');
	info_str(jw, "host_key", vi->vi_hostkey, sizeof(vi->vi_hostkey));
	info_str(jw, "ssh_key", vi->vi_sshkey, sizeof(vi->vi_sshkey));
	jw_key(jw, "vmm_version");
	if (vi->vi_vmm_state[0] && vi->vi_vmm_version[0])
		jw_str(jw, vi->vi_vmm_version, sizeof(vi->vi_vmm_version));
	else
		jw_null(jw);
	info_str(jw, "vmm_state", vi->vi_vmm_state,
	    sizeof(vi->vi_vmm_state));
	jw_close(jw, '}');
}

/* Check a VM's information as it came from bangerd. */
static void
info_check(struct vm_info *vi)
{
	size_t	 len;

	if (wire_string(vi->vi_name, sizeof(vi->vi_name), &len) == -1 ||
	    wire_string(vi->vi_state, sizeof(vi->vi_state), &len) == -1 ||
	    wire_string(vi->vi_error, sizeof(vi->vi_error), &len) == -1 ||
	    wire_string(vi->vi_addr, sizeof(vi->vi_addr), &len) == -1 ||
	    wire_string(vi->vi_fqdn, sizeof(vi->vi_fqdn), &len) == -1)
		errx(1, "bad VM information from bangerd");
}

/*
 * The name of a VM's owner.  getpwuid reads the password database
 * afresh each time, and a listing names the same few owners over and
 * over: the first OWNER_CACHE owners are remembered.
 */
#define OWNER_CACHE	32

static const char *
owner_name(uid_t uid, char *buf, size_t len)
{
	static struct {
		uid_t	 uid;
		char	*name;
	}		 cache[OWNER_CACHE];
	static size_t	 ncache;
	struct passwd	*pw;
	const char	*name;
	size_t		 i;

	for (i = 0; i < ncache; i++)
		if (cache[i].uid == uid)
			return cache[i].name;
	if ((pw = getpwuid(uid)) != NULL)
		name = pw->pw_name;
	else {
		snprintf(buf, len, "%u", (unsigned)uid);
		name = buf;
	}
	if (ncache < OWNER_CACHE &&
	    (cache[ncache].name = strdup(name)) != NULL) {
		cache[ncache].uid = uid;
		return cache[ncache++].name;
	}
	return name;
}

/*
 * Ask bangerd, and hand each VM of its IMSG_CTL_VM_INFO answers (each
 * carries one or more, packed) to fn, until the result; returns the
 * exit status.  One VM at a time, in the same memory: a listing of
 * thousands touches no more memory than one of a few.
 */
static int
vm_each(uint32_t type, const void *data, size_t len,
    void (*fn)(struct vm_info *, void *), void *arg)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	struct ibuf	 payload;
	struct vm_info	 vi;
	size_t		 used;
	int		 rv;

	ctl_connect(&ibuf);
	ctl_send(&ibuf, type, data, len);
	for (;;) {
		ctl_recv(&ibuf, &imsg);
		if (imsg_get_type(&imsg) == IMSG_CTL_RESULT)
			break;
		if (imsg_get_type(&imsg) == IMSG_CTL_VM_INFO) {
			if (imsg_get_ibuf(&imsg, &payload) == -1)
				errx(1, "bad VM information from bangerd");
			while (ibuf_size(&payload) > 0) {
				if (wire_zunpack(ibuf_data(&payload),
				    ibuf_size(&payload), &vi, sizeof(vi),
				    &used) == -1 ||
				    ibuf_skip(&payload, used) == -1)
					errx(1, "bad VM information from "
					    "bangerd");
				info_check(&vi);
				fn(&vi, arg);
			}
		}
		imsg_free(&imsg);
	}
	rv = ctl_result(&imsg, 1);
	imsg_free(&imsg);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}

struct vm_array {
	struct vm_info	*va_vis;
	size_t		 va_n;
	size_t		 va_max;
};

static void
collect_one(struct vm_info *vi, void *arg)
{
	struct vm_array	*va = arg;
	struct vm_info	*nv;
	size_t		 max;

	if (va->va_n == va->va_max) {
		max = va->va_max ? va->va_max * 2 : 8;
		if ((nv = reallocarray(va->va_vis, max, sizeof(*nv))) == NULL)
			err(1, NULL);
		va->va_vis = nv;
		va->va_max = max;
	}
	va->va_vis[va->va_n++] = *vi;
}

/* The VMs of the answers, in an array. */
static int
collect(uint32_t type, const void *data, size_t len, struct vm_info **vis,
    size_t *nvis)
{
	struct vm_array	 va;
	int		 rv;

	memset(&va, 0, sizeof(va));
	rv = vm_each(type, data, len, collect_one, &va);
	*vis = va.va_vis;
	*nvis = va.va_n;
	return rv;
}

struct vm_ls {
	int		 json;
	size_t		 n;
	struct jw	 jw;		/* --json: the array */
};

static void
ls_header(void)
{
	printf("%-20s %-9s %-8s %-12s %4s %10s %10s %s\n", "NAME", "STATE",
	    "ID", "IMAGE", "CPUS", "MEMORY", "DISK", "OWNER");
}

/*
 * One VM of vm ls, printed as it arrives.  --json prints what
 * json_print would of the array of them all: info_write's objects,
 * or, for a VM with a string jansson must check, jansson's dump a
 * level deeper (JSON strings hold no newline).  A VM jansson refuses
 * is left out, as json_array_append_new leaves it out.
 */
static void
ls_one(struct vm_info *vi, void *arg)
{
	struct vm_ls	*ls = arg;
	json_t		*j;
	char		*text, *p, *nl;
	char		 b1[32], b2[32], b3[32];

	if (!ls->json) {
		if (ls->n++ == 0)
			ls_header();
		printf("%-20s %-9s %-8s %-12s %4u %10s %10s %s\n",
		    vi->vi_name, vi->vi_state, vi->vi_id, vi->vi_image,
		    vi->vi_cpus, fmt_size(vi->vi_memory << 20, b1, sizeof(b1)),
		    fmt_size(vi->vi_disk, b2, sizeof(b2)),
		    owner_name(vi->vi_owner, b3, sizeof(b3)));
		return;
	}

	if (info_ascii(vi)) {
		if (ls->n++ == 0)
			jw_open(&ls->jw, '[');
		jw_next(&ls->jw);
		info_write(&ls->jw, vi);
	} else {
		if ((j = info_json(vi)) == NULL)
			return;
		text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(j);
		if (text == NULL)
			return;
		if (ls->n++ == 0)
			jw_open(&ls->jw, '[');
		jw_next(&ls->jw);
		for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
			jw_raw(&ls->jw, p, nl - p);
			jw_raw(&ls->jw, "\n  ", 3);
		}
		jw_raw(&ls->jw, p, strlen(p));
		free(text);
	}
	if (ls->jw.jw_len >= 32768)
		jw_flush(&ls->jw);
}

static int
vm_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct vm_ls	 ls;
	int		 ch, rv;

	memset(&ls, 0, sizeof(ls));
	ls.jw.jw_fp = stdout;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			vm_usage();
		ls.json = 1;
	}
	if (optind != argc)
		vm_usage();
	rv = vm_each(IMSG_CTL_VM_LS, NULL, 0, ls_one, &ls);
	if (rv != 0 && ls.n == 0)
		return rv;
	/* what was printed is ended, even should an error follow */
	if (ls.json) {
		if (ls.n == 0)
			jw_open(&ls.jw, '[');
		jw_close(&ls.jw, ']');
		jw_free(&ls.jw);
		putchar('\n');
	} else if (ls.n == 0)
		ls_header();
	return rv;
}

static int
vm_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_vm	 cv;
	struct vm_info	*vis, *vi;
	size_t		 n;
	uint32_t	 i;
	char		 b1[64], b2[32], b3[32];
	int		 ch, json = 0, rv;

	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			vm_usage();
		json = 1;
	}
	if (optind != argc - 1)
		vm_usage();
	if (check_name(argv[optind]) == -1)
		return 1;
	memset(&cv, 0, sizeof(cv));
	cv.cv_action = CTL_VM_SHOW;
	strlcpy(cv.cv_name, argv[optind], sizeof(cv.cv_name));
	if ((rv = collect(IMSG_CTL_VM, &cv, sizeof(cv), &vis, &n)) != 0)
		return rv;
	if (n != 1)
		errx(1, "no information on %s from bangerd", cv.cv_name);
	vi = &vis[0];
	if (json)
		json_print(info_json(vi));
	else {
		printf("%-10s %s\n", "name", vi->vi_name);
		printf("%-10s %s\n", "id", vi->vi_id);
		printf("%-10s %s%s%s\n", "state", vi->vi_state,
		    vi->vi_error[0] ? ": " : "", vi->vi_error);
		printf("%-10s %s\n", "image", vi->vi_image);
		printf("%-10s %s\n", "owner", owner_name(vi->vi_owner, b3,
		    sizeof(b3)));
		printf("%-10s %u\n", "cpus", vi->vi_cpus);
		printf("%-10s %s\n", "memory", fmt_size(vi->vi_memory << 20,
		    b1, sizeof(b1)));
		printf("%-10s %s (%s)\n", "disk", fmt_size(vi->vi_disk, b2,
		    sizeof(b2)), vi->vi_backend[0] ? vi->vi_backend : "-");
		printf("%-10s %s, mac %s, tap %s\n", "address",
		    vi->vi_addr[0] ? vi->vi_addr : "-", vi->vi_mac,
		    vi->vi_tap[0] ? vi->vi_tap : "-");
		if (vi->vi_fqdn[0] != '\0')
			printf("%-10s %s\n", "dns name", vi->vi_fqdn);
		for (i = 0; i < vi->vi_npublish && i < PROTO_PUBLISH_MAX; i++)
			printf("%-10s %s\n", "publish", fmt_publish(
			    &vi->vi_publish[i], b1, sizeof(b1)));
		if (vi->vi_sshkey[0] != '\0')
			printf("%-10s %s\n", "ssh key", vi->vi_sshkey);
		if (vi->vi_pid > 0 && vi->vi_vmm_state[0] != '\0')
			printf("%-10s %s, %s, pid %d (uid %u)\n",
			    "firecracker", vi->vi_vmm_version,
			    vi->vi_vmm_state, vi->vi_pid, vi->vi_uid);
		else if (vi->vi_pid > 0)
			printf("%-10s %d (uid %u)\n", "firecracker",
			    vi->vi_pid, vi->vi_uid);
	}
	free(vis);
	return 0;
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
 * bangerctl vm ssh: ssh into a running VM at its address, checking its
 * host key against the one pinned at create (in a private known_hosts
 * file, so ssh never asks), with the private key beside the --ssh-key
 * it was created with unless -i names another.  ssh's exit status is
 * ours, unless a signal ends us: see below.
 */
static int
vm_ssh(int argc, char **argv)
{
	static const struct option opts[] = {
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
	int		 ch, ac = 0, fd, rv, status, i;

	while ((ch = getopt_long(argc, argv, "l:i:", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			user = optarg;
			break;
		case 'i':
			identity = optarg;
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
	memset(&cv, 0, sizeof(cv));
	cv.cv_action = CTL_VM_SHOW;
	strlcpy(cv.cv_name, name, sizeof(cv.cv_name));
	if ((rv = collect(IMSG_CTL_VM, &cv, sizeof(cv), &vis, &n)) != 0)
		return rv;
	if (n != 1)
		errx(1, "no information on %s from bangerd", name);
	vi = &vis[0];
	vi->vi_hostkey[sizeof(vi->vi_hostkey) - 1] = '\0';
	vi->vi_sshkey[sizeof(vi->vi_sshkey) - 1] = '\0';
	if (strcmp(vi->vi_state, "running") != 0)
		ssh_not_running(name, vi->vi_state);
	if (vi->vi_addr[0] == '\0')
		errx(1, "vm %s has no address", name);
	if (vi->vi_hostkey[0] == '\0')
		errx(1, "vm %s has no pinned host key: its host key cannot "
		    "be checked", name);
	if (sscanf(vi->vi_hostkey, "%63s %383s", ktype, kdata) != 2 ||
	    strcmp(ktype, "ssh-ed25519") != 0)
		errx(1, "vm %s: pinned host key \"%.40s\" is not an "
		    "ssh-ed25519 key", name, vi->vi_hostkey);

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

/*
 * bangerctl net show: the bridge, subnet, egress, DNS domain, resolver
 * routing and each VM's address, MAC and tap.
 */
int
cmd_net(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct status_daemon	 sd;
	struct vm_info		*vis;
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	struct in_addr		 net;
	json_t			*root, *arr;
	size_t			 n, i;
	char			 subnet[32];
	int			 ch, json = 0, got = 0, rv;

	if (argc < 2 || strcmp(argv[1], "show") != 0) {
		fprintf(stderr, "usage: bangerctl net show [--json]\n");
		return 1;
	}
	optind = 0;
	while ((ch = getopt_long(argc - 1, argv + 1, "j", opts, NULL)) != -1) {
		if (ch != 'j') {
			fprintf(stderr, "usage: bangerctl net show [--json]\n");
			return 1;
		}
		json = 1;
	}
	ctl_connect(&ibuf);
	ctl_send(&ibuf, IMSG_CTL_STATUS, NULL, 0);
	for (;;) {
		ctl_recv(&ibuf, &imsg);
		if (imsg_get_type(&imsg) == IMSG_STATUS_DAEMON &&
		    imsg_get_data(&imsg, &sd, sizeof(sd)) == 0)
			got = 1;
		if (imsg_get_type(&imsg) == IMSG_STATUS_END ||
		    imsg_get_type(&imsg) == IMSG_CTL_RESULT) {
			imsg_free(&imsg);
			break;
		}
		imsg_free(&imsg);
	}
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	if (!got)
		errx(1, "no status from bangerd");
	if ((rv = collect(IMSG_CTL_VM_LS, NULL, 0, &vis, &n)) != 0)
		return rv;

	inet_pton(AF_INET, sd.sd_bridge_addr, &net);
	net.s_addr &= sd.sd_bridge_prefix ? htonl(0xffffffffU <<
	    (32 - sd.sd_bridge_prefix)) : 0;
	snprintf(subnet, sizeof(subnet), "%s/%d", inet_ntoa(net),
	    sd.sd_bridge_prefix);
	if (json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_pack(
			    "{s:s, s:s?, s:s?, s:s, s:s, s:o}",
			    "name", vis[i].vi_name,
			    "address", vis[i].vi_addr[0] ? vis[i].vi_addr : NULL,
			    "fqdn", vis[i].vi_fqdn[0] ? vis[i].vi_fqdn : NULL,
			    "mac", vis[i].vi_mac, "tap", vis[i].vi_tap,
			    "publish", publish_json(&vis[i])));
		root = json_pack("{s:s, s:s, s:i, s:s, s:s?, s:b, s:s, s:b, "
		    "s:o}", "bridge", sd.sd_bridge,
		    "address", sd.sd_bridge_addr,
		    "prefix", sd.sd_bridge_prefix, "subnet", subnet,
		    "egress", sd.sd_egress[0] ? sd.sd_egress : NULL,
		    "nat", sd.sd_nat, "dns_domain", sd.sd_domain,
		    "resolver_routing", sd.sd_resolver, "vms", arr);
		json_print(root);
	} else {
		printf("%-12s %s %s/%d\n", "bridge", sd.sd_bridge,
		    sd.sd_bridge_addr, sd.sd_bridge_prefix);
		printf("%-12s %s\n", "subnet", subnet);
		printf("%-12s %s\n", "egress", sd.sd_egress[0] ?
		    sd.sd_egress : "none (VMs reach only the host and each "
		    "other)");
		printf("%-12s %s\n", "nat", sd.sd_nat ? "on" : "off");
		printf("%-12s %s (answered on %s:53)\n", "dns domain",
		    sd.sd_domain, sd.sd_bridge_addr);
		printf("%-12s %s\n", "resolver", sd.sd_resolver ?
		    "host queries for the domain go to the bridge "
		    "(systemd-resolved)" : "not routed (systemd-resolved "
		    "is not running)");
		printf("\n%-20s %-15s %-17s %-15s %s\n", "NAME", "ADDRESS",
		    "MAC", "TAP", "PUBLISHED");
		for (i = 0; i < n; i++) {
			char		 b[64];
			uint32_t	 k;

			printf("%-20s %-15s %-17s %-15s", vis[i].vi_name,
			    vis[i].vi_addr[0] ? vis[i].vi_addr : "-",
			    vis[i].vi_mac, vis[i].vi_tap[0] ? vis[i].vi_tap :
			    "-");
			for (k = 0; k < vis[i].vi_npublish &&
			    k < PROTO_PUBLISH_MAX; k++)
				printf(" %s", fmt_publish(&vis[i].vi_publish[k],
				    b, sizeof(b)));
			printf("%s\n", vis[i].vi_npublish ? "" : " -");
		}
	}
	free(vis);
	return 0;
}

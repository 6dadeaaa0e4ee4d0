/*
 * jailer-standin: test infrastructure.  A stand-in for Firecracker's
 * jailer (firecracker-microvm/firecracker docs/jailer.md), so that
 * bangerd's "jailer" path can run a real guest where Firecracker
 * cannot be installed.  It takes the jailer's command line and does
 * the jailer's steps, in its order:
 *
 *	validate the id and the exec file; close fds above 2; clear the
 *	environment; make CHROOT_BASE/EXEC_NAME/ID/root and copy the exec
 *	file into it; set the resource limits (no-file 2048 by default);
 *	make the cgroup (v2) PARENT/ID with the --cgroup values (each
 *	controller must be in the mount's cgroup.controllers; it is
 *	enabled in the subtree_control of every level from the mount
 *	down to PARENT) and join it; join --netns; unshare a mount
 *	namespace, make every mount private, bind the jail root on itself, pivot_root into it, detach
 *	and remove old_root, chroot("."); mknod /dev/net/tun, /dev/kvm,
 *	/dev/urandom (and /dev/userfaultfd where the host has it), owned
 *	by UID:GID, mode 0600; chown the jail root to UID:GID;
 *	--daemonize; --new-pid-ns (fork, the pid in EXEC_NAME.pid); drop
 *	to GID and UID (no supplementary groups); exec
 *	/EXEC_NAME --id ID --start-time-us N --start-time-cpu-us N
 *	--parent-cpu-time-us N followed by the arguments after "--".
 *
 * The one deviation: after binding the jail root and before pivot_root,
 * the host's /usr is bind-mounted read-only (nosuid, nodev) onto
 * ROOT/usr, and /bin, /lib and /lib64 are reproduced in the jail root
 * (a symlink where the host has one, as merged-/usr Debian does, else a
 * read-only bind mount).  Firecracker is static and needs none of it;
 * the qemu-mode Firecracker stand-in runs qemu-system-x86_64, which is
 * dynamic and reads its firmware from /usr/share/qemu.  The mounts live
 * only in the mount namespace made here and die with it; the mount
 * points and symlinks left in the jail root are ordinary entries that
 * the caller's jail cleanup removes with the rest.
 *
 * Errors go to stderr as "Jailer error: ..." and exit 1.
 */
#include <sys/types.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BASE	"/srv/jailer"
#define DEFAULT_NOFILE	2048
#define ID_MAX		64
#define MAX_CGROUPS	32
#define MAX_RLIMITS	8
#define MAX_EXTRA	64

/* The host trees qemu needs in the jail: the deviation (see above). */
static const char *const host_trees[] = { "usr", "bin", "lib", "lib64" };

struct opts {
	const char	*id;
	const char	*exec_file;
	const char	*base;
	const char	*netns;
	const char	*parent_cgroup;
	const char	*cgroup_version;
	const char	*cgroups[MAX_CGROUPS];
	int		 ncgroups;
	const char	*rlimits[MAX_RLIMITS];
	int		 nrlimits;
	int		 daemonize;
	int		 new_pid_ns;
	uid_t		 uid;
	gid_t		 gid;
	int		 uid_set, gid_set;
	char		*extra[MAX_EXTRA];
	int		 nextra;
};

static void	die(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2), __noreturn__));

static void
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("Jailer error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t
now_us(clockid_t clk)
{
	struct timespec	 ts;

	(void)clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static unsigned long
number(const char *name, const char *s)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || s[0] == '-')
		die("invalid %s: %s", name, s);
	return n;
}

static void
parse(int argc, char *argv[], struct opts *o)
{
	const char	*a, *v;
	int		 i;

	memset(o, 0, sizeof(*o));
	o->base = DEFAULT_BASE;
	o->cgroup_version = "1";
	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++) {
				if (o->nextra == MAX_EXTRA)
					die("too many arguments for the exec "
					    "file");
				o->extra[o->nextra++] = argv[i];
			}
			break;
		}
		if (strcmp(a, "--daemonize") == 0) {
			o->daemonize = 1;
			continue;
		}
		if (strcmp(a, "--new-pid-ns") == 0) {
			o->new_pid_ns = 1;
			continue;
		}
		if (i + 1 >= argc)
			die("argument %s requires a value", a);
		v = argv[++i];
		if (strcmp(a, "--id") == 0)
			o->id = v;
		else if (strcmp(a, "--exec-file") == 0)
			o->exec_file = v;
		else if (strcmp(a, "--uid") == 0) {
			o->uid = (uid_t)number("uid", v);
			o->uid_set = 1;
		} else if (strcmp(a, "--gid") == 0) {
			o->gid = (gid_t)number("gid", v);
			o->gid_set = 1;
		} else if (strcmp(a, "--chroot-base-dir") == 0)
			o->base = v;
		else if (strcmp(a, "--netns") == 0)
			o->netns = v;
		else if (strcmp(a, "--parent-cgroup") == 0)
			o->parent_cgroup = v;
		else if (strcmp(a, "--cgroup-version") == 0)
			o->cgroup_version = v;
		else if (strcmp(a, "--cgroup") == 0) {
			if (o->ncgroups == MAX_CGROUPS)
				die("too many --cgroup");
			o->cgroups[o->ncgroups++] = v;
		} else if (strcmp(a, "--resource-limit") == 0) {
			if (o->nrlimits == MAX_RLIMITS)
				die("too many --resource-limit");
			o->rlimits[o->nrlimits++] = v;
		} else
			die("unexpected argument: %s", a);
	}
	if (o->id == NULL || o->exec_file == NULL || !o->uid_set ||
	    !o->gid_set)
		die("--id, --exec-file, --uid and --gid are required");
}

static void
validate(const struct opts *o, const char **namep)
{
	struct stat	 st;
	const char	*p, *name;

	if (strlen(o->id) == 0 || strlen(o->id) > ID_MAX)
		die("invalid id: %s: 1 to %d characters", o->id, ID_MAX);
	for (p = o->id; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			die("invalid id: %s: alphanumerics and hyphens only",
			    o->id);
	if (o->exec_file[0] != '/' || stat(o->exec_file, &st) == -1 ||
	    !S_ISREG(st.st_mode))
		die("invalid exec file: %s: not an absolute path to a file",
		    o->exec_file);
	name = strrchr(o->exec_file, '/') + 1;
	if (strstr(name, "firecracker") == NULL)
		die("invalid exec file name: %s: it must include "
		    "\"firecracker\"", name);
	if (o->base[0] != '/')
		die("invalid chroot base dir: %s", o->base);
	if (strcmp(o->cgroup_version, "1") != 0 &&
	    strcmp(o->cgroup_version, "2") != 0)
		die("invalid cgroup version: %s", o->cgroup_version);
	if (o->ncgroups > 0 && strcmp(o->cgroup_version, "2") != 0)
		die("cgroup v1 is not supported by the stand-in");
	*namep = name;
}

static void
mkdirs(const char *path, mode_t mode)
{
	char	 buf[PATH_MAX], *p;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		die("path too long: %s", path);
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			die("mkdir %s: %s", buf, strerror(errno));
		if (path[p - buf] == '\0')
			break;
		*p = '/';
	}
}

static void
copy_exec(const char *from, const char *to)
{
	struct stat	 st;
	char		 buf[65536];
	ssize_t		 n;
	int		 in, out;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(in, &st) == -1)
		die("open %s: %s", from, strerror(errno));
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, st.st_mode & 07777)) == -1)
		die("copy to %s: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			die("copy to %s: %s", to, strerror(errno));
	if (n == -1 || fchmod(out, st.st_mode & 0777) == -1 ||
	    close(out) == -1)
		die("copy to %s: %s", to, strerror(errno));
	close(in);
}

static void
set_rlimits(const struct opts *o)
{
	struct rlimit	 rl;
	const char	*eq;
	int		 i, nofile_set = 0, res;

	for (i = 0; i < o->nrlimits; i++) {
		if ((eq = strchr(o->rlimits[i], '=')) == NULL)
			die("invalid resource limit: %s", o->rlimits[i]);
		if (strncmp(o->rlimits[i], "no-file=", 8) == 0) {
			res = RLIMIT_NOFILE;
			nofile_set = 1;
		} else if (strncmp(o->rlimits[i], "fsize=", 6) == 0)
			res = RLIMIT_FSIZE;
		else
			die("invalid resource limit: %s", o->rlimits[i]);
		rl.rlim_cur = rl.rlim_max = number("resource limit", eq + 1);
		if (setrlimit(res, &rl) == -1)
			die("setrlimit %s: %s", o->rlimits[i],
			    strerror(errno));
	}
	if (!nofile_set) {
		rl.rlim_cur = rl.rlim_max = DEFAULT_NOFILE;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			die("setrlimit no-file: %s", strerror(errno));
	}
}

static void
write_file(const char *path, const char *s)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1 ||
	    write(fd, s, strlen(s)) != (ssize_t)strlen(s) || close(fd) == -1)
		die("write %s to %s: %s", s, path, strerror(errno));
}

/* The cgroup2 mount, from /proc/mounts, as the jailer finds it. */
static void
cgroup2_mount(char *buf, size_t len)
{
	FILE	*fp;
	char	 line[1024], dev[256], dir[PATH_MAX], type[64];

	if ((fp = fopen("/proc/mounts", "re")) == NULL)
		die("/proc/mounts: %s", strerror(errno));
	buf[0] = '\0';
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 &&
		    strcmp(type, "cgroup2") == 0) {
			strlcpy(buf, dir, len);
			break;
		}
	fclose(fp);
	if (buf[0] == '\0')
		die("cgroup2 hierarchy not found in /proc/mounts");
}

/* name is a word of ROOT/cgroup.controllers. */
static int
controller_available(const char *root, const char *name)
{
	FILE	*fp;
	char	 path[PATH_MAX], w[64];
	int	 found = 0;

	(void)snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	while (!found && fscanf(fp, "%63s", w) == 1)
		found = strcmp(w, name) == 0;
	fclose(fp);
	return found;
}

/*
 * PARENT/ID under the cgroup2 mount: each controller named by a
 * --cgroup enabled in the subtree_control of every level above, the
 * values written, and this process moved in.
 */
static void
set_cgroups(const struct opts *o, const char *exec_name)
{
	char	 root[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], ctl[64];
	char	 rel[PATH_MAX], *p;
	int	 i;

	if (o->ncgroups == 0)
		return;
	cgroup2_mount(root, sizeof(root));
	(void)snprintf(rel, sizeof(rel), "%s/%s", o->parent_cgroup != NULL ?
	    o->parent_cgroup : exec_name, o->id);
	(void)snprintf(dir, sizeof(dir), "%s/%s", root, rel);
	mkdirs(dir, 0755);
	for (i = 0; i < o->ncgroups; i++) {
		const char *c = o->cgroups[i], *eq = strchr(c, '=');
		size_t	    clen = strcspn(c, ".");

		if (eq == NULL || clen == 0 || clen >= sizeof(ctl) ||
		    c + clen > eq || strchr(c, '/') != NULL)
			die("invalid cgroup: %s", c);
		(void)snprintf(ctl, sizeof(ctl), "+%.*s", (int)clen, c);
		/* As the jailer: the controller must be in the mount's. */
		if (!controller_available(root, ctl + 1))
			die("cgroup controller unavailable: %s", ctl + 1);
		/* Every level from the mount down to PARENT. */
		(void)snprintf(path, sizeof(path), "%s", root);
		p = rel;
		for (;;) {
			char	sub[PATH_MAX];

			(void)snprintf(sub, sizeof(sub),
			    "%s/cgroup.subtree_control", path);
			write_file(sub, ctl);
			if ((p = strchr(p, '/')) == NULL)
				break;
			(void)snprintf(path, sizeof(path), "%s/%.*s", root,
			    (int)(p - rel), rel);
			p++;
		}
		(void)snprintf(path, sizeof(path), "%s/%.*s", dir,
		    (int)(eq - c), c);
		write_file(path, eq + 1);
	}
	(void)snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	(void)snprintf(ctl, sizeof(ctl), "%ld", (long)getpid());
	write_file(path, ctl);
}

/* The deviation: what qemu needs from the host, read-only. */
static void
host_trees_in(const char *root)
{
	struct stat	 st;
	char		 host[PATH_MAX], jail[PATH_MAX], target[PATH_MAX];
	char		 have[PATH_MAX];
	ssize_t		 n;
	size_t		 i;

	for (i = 0; i < sizeof(host_trees) / sizeof(host_trees[0]); i++) {
		(void)snprintf(host, sizeof(host), "/%s", host_trees[i]);
		(void)snprintf(jail, sizeof(jail), "%s/%s", root,
		    host_trees[i]);
		if (lstat(host, &st) == -1) {
			if (errno == ENOENT)
				continue;
			die("lstat %s: %s", host, strerror(errno));
		}
		if (S_ISLNK(st.st_mode)) {
			if ((n = readlink(host, target, sizeof(target) - 1)) ==
			    -1)
				die("readlink %s: %s", host, strerror(errno));
			target[n] = '\0';
			if (symlink(target, jail) == 0)
				continue;
			if (errno != EEXIST || (n = readlink(jail, have,
			    sizeof(have) - 1)) == -1 ||
			    (have[n] = '\0', strcmp(have, target) != 0))
				die("symlink %s: %s", jail, strerror(errno));
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		if (mkdir(jail, 0755) == -1 && errno != EEXIST)
			die("mkdir %s: %s", jail, strerror(errno));
		if (mount(host, jail, NULL, MS_BIND | MS_REC, NULL) == -1)
			die("bind %s on %s: %s", host, jail, strerror(errno));
		if (mount(NULL, jail, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY |
		    MS_NOSUID | MS_NODEV, NULL) == -1)
			die("remount %s read-only: %s", jail,
			    strerror(errno));
	}
}

static void
jail_mknod(const char *path, dev_t dev, uid_t uid, gid_t gid)
{
	if (mknod(path, S_IFCHR | S_IRUSR | S_IWUSR, dev) == -1)
		die("mknod %s: %s", path, strerror(errno));
	if (chown(path, uid, gid) == -1)
		die("chown %s: %s", path, strerror(errno));
}

int
main(int argc, char *argv[])
{
	struct opts	 o;
	struct stat	 st;
	const char	*exec_name;
	char		 root[PATH_MAX], path[PATH_MAX], num[3][32];
	char		*av[MAX_EXTRA + 16];
	uint64_t	 start_us, start_cpu_us;
	dev_t		 uffd = 0;
	pid_t		 pid;
	int		 fd, i, ac = 0, have_uffd = 0, nullfd = -1;

	start_us = now_us(CLOCK_REALTIME);
	start_cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID);
	parse(argc, argv, &o);
	validate(&o, &exec_name);

	if (close_range(3, ~0U, 0) == -1)
		die("close_range: %s", strerror(errno));
	clearenv();

	(void)snprintf(root, sizeof(root), "%s/%s/%s/root", o.base, exec_name,
	    o.id);
	mkdirs(root, 0700);
	(void)snprintf(path, sizeof(path), "%s/%s", root, exec_name);
	copy_exec(o.exec_file, path);
	set_rlimits(&o);
	set_cgroups(&o, exec_name);
	if (o.netns != NULL) {
		if ((fd = open(o.netns, O_RDONLY | O_CLOEXEC)) == -1)
			die("open %s: %s", o.netns, strerror(errno));
		if (setns(fd, CLONE_NEWNET) == -1)
			die("setns %s: %s", o.netns, strerror(errno));
		close(fd);
	}
	if (o.daemonize && (nullfd = open("/dev/null", O_RDWR)) == -1)
		die("open /dev/null: %s", strerror(errno));
	if (stat("/dev/userfaultfd", &st) == 0 && S_ISCHR(st.st_mode)) {
		uffd = st.st_rdev;
		have_uffd = 1;
	}

	if (unshare(CLONE_NEWNS) == -1)
		die("unshare: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL) == -1)
		die("making / private: %s", strerror(errno));
	if (mount(root, root, NULL, MS_BIND, NULL) == -1)
		die("bind %s: %s", root, strerror(errno));
	host_trees_in(root);
	if (chdir(root) == -1)
		die("chdir %s: %s", root, strerror(errno));
	if (mkdir("old_root", 0700) == -1 && errno != EEXIST)
		die("mkdir old_root: %s", strerror(errno));
	if (syscall(SYS_pivot_root, ".", "old_root") == -1)
		die("pivot_root: %s", strerror(errno));
	if (umount2("old_root", MNT_DETACH) == -1)
		die("umount old_root: %s", strerror(errno));
	if (rmdir("old_root") == -1)
		die("rmdir old_root: %s", strerror(errno));
	if (chroot(".") == -1)
		die("chroot: %s", strerror(errno));

	mkdirs("/dev/net", 0755);
	jail_mknod("/dev/net/tun", makedev(10, 200), o.uid, o.gid);
	jail_mknod("/dev/kvm", makedev(10, 232), o.uid, o.gid);
	jail_mknod("/dev/urandom", makedev(1, 9), o.uid, o.gid);
	if (have_uffd)
		jail_mknod("/dev/userfaultfd", uffd, o.uid, o.gid);
	if (chown("/", o.uid, o.gid) == -1)
		die("chown /: %s", strerror(errno));

	if (o.daemonize) {
		if (setsid() == -1)
			die("setsid: %s", strerror(errno));
		for (i = 0; i < 3; i++)
			if (dup2(nullfd, i) == -1)
				die("dup2: %s", strerror(errno));
		close(nullfd);
	}
	if (o.new_pid_ns) {
		if (unshare(CLONE_NEWPID) == -1)
			die("unshare pid namespace: %s", strerror(errno));
		if ((pid = fork()) == -1)
			die("fork: %s", strerror(errno));
		if (pid != 0) {
			char	 pidfile[PATH_MAX], line[32];

			(void)snprintf(pidfile, sizeof(pidfile), "/%s.pid",
			    exec_name);
			if ((fd = open(pidfile, O_WRONLY | O_CREAT | O_EXCL |
			    O_CLOEXEC, 0644)) == -1)
				die("%s: %s", pidfile, strerror(errno));
			(void)snprintf(line, sizeof(line), "%ld", (long)pid);
			if (write(fd, line, strlen(line)) == -1)
				die("%s: %s", pidfile, strerror(errno));
			close(fd);
			exit(0);
		}
	}

	if (setgroups(0, NULL) == -1 || setresgid(o.gid, o.gid, o.gid) == -1 ||
	    setresuid(o.uid, o.uid, o.uid) == -1)
		die("dropping to %u:%u: %s", (unsigned)o.uid, (unsigned)o.gid,
		    strerror(errno));

	(void)snprintf(path, sizeof(path), "/%s", exec_name);
	(void)snprintf(num[0], sizeof(num[0]), "%llu",
	    (unsigned long long)start_us);
	(void)snprintf(num[1], sizeof(num[1]), "%llu",
	    (unsigned long long)(now_us(CLOCK_PROCESS_CPUTIME_ID) -
	    start_cpu_us));
	(void)snprintf(num[2], sizeof(num[2]), "%llu",
	    (unsigned long long)now_us(CLOCK_PROCESS_CPUTIME_ID));
	av[ac++] = path;
	av[ac++] = (char *)"--id";
	av[ac++] = (char *)o.id;
	av[ac++] = (char *)"--start-time-us";
	av[ac++] = num[0];
	av[ac++] = (char *)"--start-time-cpu-us";
	av[ac++] = num[1];
	av[ac++] = (char *)"--parent-cpu-time-us";
	av[ac++] = num[2];
	for (i = 0; i < o.nextra; i++)
		av[ac++] = o.extra[i];
	av[ac] = NULL;
	execv(path, av);
	die("exec %s: %s", path, strerror(errno));
}

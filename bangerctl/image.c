/*
 * bangerctl image ...: import, build, ls, show and rm.
 *
 * import opens the files as the user who runs bangerctl and sends them
 * to bangerd as open descriptors; bangerd copies them into its image
 * store.  build makes the ext4 root file system here first, in a
 * private temporary directory, with mke2fs -d (and tar for a tarball),
 * then imports it the same way.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bangerctl.h"
#include "imgref.h"
#include "validate.h"

#define TAR		"/bin/tar"

static int	 image_import(int, char **);
static int	 image_build(int, char **);
static int	 image_pull(int, char **);
static int	 image_ls(int, char **);
static int	 image_show(int, char **);
static int	 image_rm(int, char **);

static const struct ctl_cmd image_cmds[] = {
	{ "import", image_import, "NAME (--kernel FILE | --kernel-from IMAGE) "
	    "[--initrd FILE] (--rootfs FILE | (--oci-layout DIR | "
	    "--docker-archive FILE) [--size SIZE]) [--boot-args ARGS]",
	    "copy a kernel and root file system into the image store" },
	{ "pull", image_pull, "REF [--name NAME] (--kernel FILE | "
	    "--kernel-from IMAGE) [--initrd FILE] [--size SIZE] "
	    "[--boot-args ARGS]",
	    "fetch an image from a registry and import it (root only)" },
	{ "build", image_build, "NAME (--from-dir DIR | --from-tar TAR) "
	    "[--size SIZE] (--kernel FILE | --kernel-from IMAGE) "
	    "[--initrd FILE] [--boot-args ARGS]",
	    "make an ext4 root file system and import it (root only)" },
	{ "ls", image_ls, "[--json]", "list images" },
	{ "show", image_show, "[--json] NAME", "show one image" },
	{ "rm", image_rm, "NAME", "remove an imported image no VM uses" },
};
#define NIMAGECMDS	(sizeof(image_cmds) / sizeof(image_cmds[0]))

static const struct ctl_cmd *image_current;
static volatile sig_atomic_t interrupted;

void
image_usage_list(FILE *fp)
{
	size_t	 i;

	for (i = 0; i < NIMAGECMDS; i++)
		fprintf(fp, "  image %-8s %s\n", image_cmds[i].name,
		    image_cmds[i].usage);
}

static __attribute__((__noreturn__)) void
image_usage(void)
{
	extern char	*__progname;

	fprintf(stderr, "usage: %s image %s %s\n", __progname,
	    image_current->name, image_current->usage);
	exit(1);
}

int
cmd_image(int argc, char **argv)
{
	size_t	 i;

	if (argc < 2) {
		fprintf(stderr, "usage: bangerctl image command [arguments]\n");
		image_usage_list(stderr);
		return 1;
	}
	for (i = 0; i < NIMAGECMDS; i++)
		if (strcmp(image_cmds[i].name, argv[1]) == 0) {
			image_current = &image_cmds[i];
			optind = 0;
			return image_cmds[i].run(argc - 1, argv + 1);
		}
	warnx("unknown command \"image %s\"; \"bangerctl help\" lists them",
	    argv[1]);
	return 1;
}

static int
check_image_name(const char *what, const char *name)
{
	const char	*why;

	if (valid_name(name, strlen(name), &why) == -1) {
		warnx("invalid %s \"%s\": %s; names are 1 to 63 of a-z, 0-9 "
		    "and '-', starting with a letter or digit", what, name,
		    why);
		return -1;
	}
	return 0;
}

/* Open a file to send, as the user who runs us: a regular file. */
static int
open_file(const char *opt, const char *path)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		warn("%s %s", opt, path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		warnx("%s %s: not a regular file", opt, path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Send the files (each fd is closed once sent) and the import, then
 * follow its progress to the result.  Returns the exit status.
 */
/* An OCI layout's files, opened to send (--oci-layout). */
struct oci_files {
	int	 fd[OCI_FILES_MAX];
	char	 name[OCI_FILES_MAX][PROTO_PATH_MAX];
	size_t	 n;
};

static int
import_send(const struct ctl_image_import *ci, int fds[IMAGE_NFILES],
    const char *paths[IMAGE_NFILES], struct oci_files *of)
{
	size_t			 j;
	struct ctl_image_file	 cf;
	struct image_progress	 ip;
	char			 what[PROTO_VMNAME_MAX + 16];
	struct imsgbuf		 ibuf;
	struct imsg		 imsg;
	int			 i, rv, tty = isatty(STDERR_FILENO), drawn = 0;

	ctl_connect(&ibuf);
	imsgbuf_allow_fdpass(&ibuf);
	for (i = 0; i < IMAGE_NFILES; i++) {
		if (fds[i] == -1)
			continue;
		memset(&cf, 0, sizeof(cf));
		cf.cf_kind = i;
		strlcpy(cf.cf_path, paths[i], sizeof(cf.cf_path));
		if (imsg_compose(&ibuf, IMSG_CTL_IMAGE_FILE, 0, 0, fds[i], &cf,
		    sizeof(cf)) == -1)
			err(1, "imsg_compose");
		fds[i] = -1;
	}
	for (j = 0; of != NULL && j < of->n; j++) {
		memset(&cf, 0, sizeof(cf));
		cf.cf_kind = IMAGE_OCI;
		strlcpy(cf.cf_path, of->name[j], sizeof(cf.cf_path));
		if (imsg_compose(&ibuf, IMSG_CTL_IMAGE_FILE, 0, 0, of->fd[j],
		    &cf, sizeof(cf)) == -1)
			err(1, "imsg_compose");
		/* Sent as it is queued: no more than a few fds in flight. */
		if (imsgbuf_flush(&ibuf) == -1)
			err(1, "write to bangerd");
	}
	ctl_send(&ibuf, IMSG_CTL_IMAGE_IMPORT, ci, sizeof(*ci));
	for (;;) {
		ctl_recv(&ibuf, &imsg);
		if (imsg_get_type(&imsg) == IMSG_CTL_RESULT)
			break;
		if (imsg_get_type(&imsg) == IMSG_CTL_IMAGE_PROGRESS &&
		    imsg_get_data(&imsg, &ip, sizeof(ip)) == 0 && tty) {
			snprintf(what, sizeof(what), "%s %s",
			    (ci->ci_flags & IMAGE_F_PULL) ? "pulling" :
			    "importing", ci->ci_name);
			progress_bar(what, ip.ip_done, ip.ip_total);
			drawn = 1;
		}
		imsg_free(&imsg);
	}
	if (drawn)
		fputc('\n', stderr);
	rv = ctl_result(&imsg, 0);
	imsg_free(&imsg);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	return rv;
}

static void
close_all(int fds[IMAGE_NFILES])
{
	int	 i;

	for (i = 0; i < IMAGE_NFILES; i++)
		if (fds[i] != -1)
			close(fds[i]);
}

#define OPT_KERNEL	'k'
#define OPT_INITRD	'i'
#define OPT_ROOTFS	'r'
#define OPT_BOOTARGS	'b'
#define OPT_FROM	'f'
#define OPT_FROM_DIR	'd'
#define OPT_FROM_TAR	't'
#define OPT_SIZE	's'
#define OPT_OCI		'o'
#define OPT_ARCHIVE	'a'
#define OPT_NAME	'n'

/* The options import and build share, into ci and paths. */
static int
import_option(int ch, struct ctl_image_import *ci,
    const char *paths[IMAGE_NFILES])
{
	const char	*why;
	size_t		 off;

	switch (ch) {
	case OPT_KERNEL:
		paths[IMAGE_KERNEL] = optarg;
		return 0;
	case OPT_INITRD:
		paths[IMAGE_INITRD] = optarg;
		return 0;
	case OPT_BOOTARGS:
		if (strlcpy(ci->ci_bootargs, optarg,
		    sizeof(ci->ci_bootargs)) >= sizeof(ci->ci_bootargs)) {
			warnx("--boot-args: longer than %zu characters",
			    sizeof(ci->ci_bootargs) - 1);
			return -1;
		}
		if (valid_bootargs(optarg, strlen(optarg), &off, &why) == -1) {
			warnx("--boot-args: byte 0x%02x at offset %zu is %s; "
			    "Firecracker takes only 0x20 to 0x7e",
			    (unsigned char)optarg[off], off, why);
			return -1;
		}
		ci->ci_flags |= IMAGE_F_BOOTARGS;
		return 0;
	case OPT_FROM:
		if (check_image_name("--kernel-from image name", optarg) == -1)
			return -1;
		strlcpy(ci->ci_kernel_from, optarg,
		    sizeof(ci->ci_kernel_from));
		return 0;
	}
	image_usage();
}

/* Open the files named; the kernel's, or the image it comes from. */
static int
import_open(struct ctl_image_import *ci, const char *paths[IMAGE_NFILES],
    int fds[IMAGE_NFILES])
{
	static const char *const opts[IMAGE_NFILES] = {
		"--kernel", "--initrd", "--rootfs",
	};
	int	 i;

	if ((paths[IMAGE_KERNEL] == NULL) == (ci->ci_kernel_from[0] == '\0')) {
		warnx("image %s %s: give a kernel: --kernel FILE or "
		    "--kernel-from IMAGE (one of them)", image_current->name,
		    ci->ci_name);
		return -1;
	}
	for (i = 0; i < IMAGE_NFILES; i++) {
		if (paths[i] == NULL)
			continue;
		if (strlen(paths[i]) >= PROTO_PATH_MAX) {
			warnx("%s %s: path too long", opts[i], paths[i]);
			return -1;
		}
		if ((fds[i] = open_file(opts[i], paths[i])) == -1)
			return -1;
	}
	return 0;
}

static const struct option import_opts[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "rootfs", required_argument, NULL, OPT_ROOTFS },
	{ "boot-args", required_argument, NULL, OPT_BOOTARGS },
	{ "kernel-from", required_argument, NULL, OPT_FROM },
	{ "from-dir", required_argument, NULL, OPT_FROM_DIR },
	{ "from-tar", required_argument, NULL, OPT_FROM_TAR },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "oci-layout", required_argument, NULL, OPT_OCI },
	{ "docker-archive", required_argument, NULL, OPT_ARCHIVE },
	{ NULL, 0, NULL, 0 },
};

static void
oci_close(struct oci_files *of)
{
	size_t	 i;

	for (i = 0; i < of->n; i++)
		close(of->fd[i]);
	of->n = 0;
}

static int
oci_add(struct oci_files *of, const char *dir, const char *name)
{
	char	 path[PATH_MAX];

	if (of->n == OCI_FILES_MAX) {
		warnx("--oci-layout %s: more than %d files in index.json and "
		    "blobs/sha256", dir, OCI_FILES_MAX);
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		warnx("--oci-layout %s: path too long", dir);
		return -1;
	}
	if ((of->fd[of->n] = open_file("--oci-layout", path)) == -1)
		return -1;
	strlcpy(of->name[of->n], name, sizeof(of->name[0]));
	of->n++;
	return 0;
}

/*
 * An OCI image layout's files: index.json and every blob under
 * blobs/sha256, each opened as the user who runs us.  bangerd's pull
 * worker reads them; nothing here parses them.
 */
static int
oci_open(const char *dir, struct oci_files *of)
{
	struct dirent	*de;
	DIR		*d;
	char		 bdir[PATH_MAX], name[PROTO_PATH_MAX];
	const char	*why;

	of->n = 0;
	if (oci_add(of, dir, "index.json") == -1) {
		warnx("--oci-layout %s: an OCI image layout has index.json "
		    "(skopeo copy docker://REF oci:DIR writes one)", dir);
		return -1;
	}
	snprintf(bdir, sizeof(bdir), "%s/blobs/sha256", dir);
	if ((d = opendir(bdir)) == NULL) {
		warn("--oci-layout %s", bdir);
		oci_close(of);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "blobs/sha256/%s", de->d_name);
		if (valid_oci_name(name, strlen(name), &why) == -1) {
			warnx("--oci-layout %s/%s: %s; a blob's name is its "
			    "sha256 digest", bdir, de->d_name, why);
			goto fail;
		}
		if (oci_add(of, dir, name) == -1)
			goto fail;
	}
	closedir(d);
	return 0;
fail:
	closedir(d);
	oci_close(of);
	return -1;
}

static int
image_import(int argc, char **argv)
{
	static struct oci_files	 of;
	struct ctl_image_import	 ci;
	const char		*paths[IMAGE_NFILES] = { NULL, NULL, NULL };
	const char		*oci = NULL, *archive = NULL, *sizearg = NULL;
	uint64_t		 size = 0;
	int			 fds[IMAGE_NFILES] = { -1, -1, -1 }, ch;

	memset(&ci, 0, sizeof(ci));
	while ((ch = getopt_long(argc, argv, "", import_opts, NULL)) != -1) {
		if (ch == OPT_ROOTFS)
			paths[IMAGE_ROOTFS] = optarg;
		else if (ch == OPT_OCI)
			oci = optarg;
		else if (ch == OPT_ARCHIVE)
			archive = optarg;
		else if (ch == OPT_SIZE) {
			if (parse_size("--size", optarg, &size) == -1)
				return 1;
			sizearg = optarg;
		} else if (ch == OPT_FROM_DIR || ch == OPT_FROM_TAR)
			image_usage();
		else if (import_option(ch, &ci, paths) == -1)
			return 1;
	}
	if (optind != argc - 1)
		image_usage();
	if (check_image_name("image name", argv[optind]) == -1)
		return 1;
	strlcpy(ci.ci_name, argv[optind], sizeof(ci.ci_name));
	if ((paths[IMAGE_ROOTFS] != NULL) + (oci != NULL) + (archive != NULL) !=
	    1) {
		warnx("image import %s: give a root file system: --rootfs FILE, "
		    "--oci-layout DIR or --docker-archive FILE (one of them)",
		    ci.ci_name);
		return 1;
	}
	if (paths[IMAGE_ROOTFS] != NULL && size != 0) {
		warnx("image import %s: --size goes with --oci-layout or "
		    "--docker-archive (a --rootfs file keeps its own size)",
		    ci.ci_name);
		return 1;
	}
	if (oci != NULL || archive != NULL) {
		if (size == 0)
			size = OCI_SIZE_DEFAULT;
		if (size < OCI_SIZE_MIN || size > OCI_SIZE_MAX ||
		    size % 4096 != 0) {
			warnx("--size %s: give a multiple of 4K from 16M to 1T",
			    sizearg);
			return 1;
		}
		ci.ci_flags |= IMAGE_F_OCI;
		ci.ci_size = size;
	}
	if (import_open(&ci, paths, fds) == -1 ||
	    (oci != NULL && oci_open(oci, &of) == -1)) {
		close_all(fds);
		return 1;
	}
	if (archive != NULL) {
		/* The whole tar: the pull worker reads its members in place. */
		if ((of.fd[0] = open_file("--docker-archive", archive)) == -1) {
			close_all(fds);
			return 1;
		}
		strlcpy(of.name[0], "archive.tar", sizeof(of.name[0]));
		of.n = 1;
	}
	return import_send(&ci, fds, paths, paths[IMAGE_ROOTFS] == NULL ?
	    &of : NULL);
}

static const struct option pull_opts[] = {
	{ "name", required_argument, NULL, OPT_NAME },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "boot-args", required_argument, NULL, OPT_BOOTARGS },
	{ "kernel-from", required_argument, NULL, OPT_FROM },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ NULL, 0, NULL, 0 }
};

/*
 * An image's name from its reference: the repository's last part and
 * the tag (or the digest's first 12 digits), lowercase, '.' and '_'
 * as '-': "debian:12" is debian-12.
 */
static int
pull_name(const struct image_ref *ref, char *name, size_t len)
{
	const char	*base, *tag;
	char		 buf[IMGREF_REPO_MAX + IMGREF_TAG_MAX + 2];
	size_t		 i, n = 0;

	base = strrchr(ref->rf_repo, '/');
	base = base != NULL ? base + 1 : ref->rf_repo;
	tag = ref->rf_digest[0] != '\0' ? ref->rf_digest + 7 : ref->rf_tag;
	snprintf(buf, sizeof(buf), "%s-%.*s", base,
	    ref->rf_digest[0] != '\0' ? 12 : IMGREF_TAG_MAX, tag);
	for (i = 0; buf[i] != '\0' && n + 1 < len; i++) {
		if (isalnum((unsigned char)buf[i]))
			name[n++] = (char)tolower((unsigned char)buf[i]);
		else if (n > 0 && name[n - 1] != '-')
			name[n++] = '-';
	}
	while (n > 0 && name[n - 1] == '-')
		n--;
	name[n] = '\0';
	return n > 0 ? 0 : -1;
}

static int
image_pull(int argc, char **argv)
{
	struct ctl_image_import	 ci;
	struct image_ref	 ref;
	const char		*paths[IMAGE_NFILES] = { NULL, NULL, NULL };
	const char		*name = NULL, *sizearg = NULL, *why;
	uint64_t		 size = OCI_SIZE_DEFAULT;
	int			 fds[IMAGE_NFILES] = { -1, -1, -1 }, ch;

	memset(&ci, 0, sizeof(ci));
	while ((ch = getopt_long(argc, argv, "", pull_opts, NULL)) != -1) {
		if (ch == OPT_NAME)
			name = optarg;
		else if (ch == OPT_SIZE) {
			if (parse_size("--size", optarg, &size) == -1)
				return 1;
			sizearg = optarg;
		} else if (import_option(ch, &ci, paths) == -1)
			return 1;
	}
	if (optind != argc - 1)
		image_usage();
	if (image_ref_parse(argv[optind], &ref, &why) == -1) {
		warnx("image pull %s: %s; give [REGISTRY/]REPOSITORY[:TAG]"
		    "[@sha256:DIGEST], such as debian:12 or "
		    "registry.example:5000/team/app@sha256:...", argv[optind],
		    why);
		return 1;
	}
	strlcpy(ci.ci_ref, argv[optind], sizeof(ci.ci_ref));
	if (name == NULL) {
		if (pull_name(&ref, ci.ci_name, sizeof(ci.ci_name)) == -1 ||
		    check_image_name("image name", ci.ci_name) == -1) {
			warnx("image pull %s: give the image a name with "
			    "--name NAME", argv[optind]);
			return 1;
		}
	} else {
		if (check_image_name("--name", name) == -1)
			return 1;
		strlcpy(ci.ci_name, name, sizeof(ci.ci_name));
	}
	if (size < OCI_SIZE_MIN || size > OCI_SIZE_MAX || size % 4096 != 0) {
		warnx("--size %s: give a multiple of 4K from 16M to 1T",
		    sizearg);
		return 1;
	}
	ci.ci_flags |= IMAGE_F_PULL;
	ci.ci_size = size;
	if (import_open(&ci, paths, fds) == -1) {
		close_all(fds);
		return 1;
	}
	return import_send(&ci, fds, paths, NULL);
}

/*
 * build: the temporary directory and what runs in it.
 */
static char	 build_tmp[PATH_MAX];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path) == -1 ? -1 : 0;
	return unlink(path) == -1 ? -1 : 0;
}

static void
build_cleanup(void)
{
	if (build_tmp[0] == '\0')
		return;
	if (nftw(build_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1 &&
	    errno != ENOENT)
		warn("remove %s", build_tmp);
	build_tmp[0] = '\0';
}

static void
on_signal(int sig)
{
	interrupted = sig;
}

/* Run a program and wait for it; on a signal to us, stop it and go. */
static int
run(const char *what, char *const argv[])
{
	pid_t	 pid;
	int	 status;

	fflush(NULL);
	switch (pid = fork()) {
	case -1:
		warn("fork");
		return -1;
	case 0:
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execv(argv[0], argv);
		warn("%s", argv[0]);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			warn("waitpid");
			return -1;
		}
		if (interrupted)
			kill(pid, SIGTERM);
	}
	if (interrupted) {
		warnx("%s: interrupted", what);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			warnx("%s failed (exit status %d)", what,
			    WEXITSTATUS(status));
		else
			warnx("%s failed (signal %d)", what, WTERMSIG(status));
		return -1;
	}
	return 0;
}

static uint64_t	 walk_bytes, walk_inodes;

static int
walk_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	walk_inodes++;
	/* Whole 4 KiB blocks, as ext4 stores them. */
	if (flag == FTW_F || flag == FTW_SL || flag == FTW_D)
		walk_bytes += ((uint64_t)st->st_size + 4095) / 4096 * 4096;
	return 0;
}

static int
image_build(int argc, char **argv)
{
	struct ctl_image_import	 ci;
	struct sigaction	 sa;
	struct stat		 st;
	const char		*paths[IMAGE_NFILES] = { NULL, NULL, NULL };
	static struct oci_files	 of;
	const char		*dir = NULL, *tarball = NULL, *tmpdir;
	char			 tarpath[PATH_MAX + 16], label[PROTO_PATH_MAX];
	uint64_t		 size = 0, content;
	int			 fds[IMAGE_NFILES] = { -1, -1, -1 }, ch, fd;
	int			 tfd = -1, rv = 1;

	memset(&ci, 0, sizeof(ci));
	while ((ch = getopt_long(argc, argv, "", import_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_FROM_DIR:
			dir = optarg;
			break;
		case OPT_FROM_TAR:
			tarball = optarg;
			break;
		case OPT_SIZE:
			if (parse_size("--size", optarg, &size) == -1)
				return 1;
			break;
		case OPT_ROOTFS:
			image_usage();
		default:
			if (import_option(ch, &ci, paths) == -1)
				return 1;
		}
	}
	if (optind != argc - 1)
		image_usage();
	if (check_image_name("image name", argv[optind]) == -1)
		return 1;
	strlcpy(ci.ci_name, argv[optind], sizeof(ci.ci_name));
	if ((dir == NULL) == (tarball == NULL)) {
		warnx("image build %s: give what to build from: --from-dir DIR "
		    "or --from-tar TAR (one of them)", ci.ci_name);
		return 1;
	}
	if (geteuid() != 0) {
		warnx("image build: permission denied: only root may build "
		    "images (the image store is shared by all users)");
		return 1;
	}
	if (dir != NULL && stat(dir, &st) == -1) {
		warn("--from-dir %s", dir);
		return 1;
	}
	if (dir != NULL && !S_ISDIR(st.st_mode)) {
		warnx("--from-dir %s: not a directory", dir);
		return 1;
	}
	if (tarball != NULL && (fd = open_file("--from-tar", tarball)) == -1)
		return 1;
	if (tarball != NULL)
		close(fd);
	if (import_open(&ci, paths, fds) == -1)
		goto done;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: waits end early */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if ((tmpdir = getenv("TMPDIR")) == NULL || tmpdir[0] == '\0')
		tmpdir = "/tmp";
	if (snprintf(build_tmp, sizeof(build_tmp), "%s/bangerctl-build.XXXXXX",
	    tmpdir) >= (int)sizeof(build_tmp) || mkdtemp(build_tmp) == NULL) {
		warn("temporary directory in %s", tmpdir);
		build_tmp[0] = '\0';
		goto done;
	}
	/*
	 * What the pull worker unpacks: the tarball as it is, or one of
	 * the directory made here with tar (reading it, as root, is all
	 * that runs here); no tar is extracted and no mke2fs runs here.
	 */
	if (tarball != NULL) {
		if ((tfd = open_file("--from-tar", tarball)) == -1 ||
		    fstat(tfd, &st) == -1)
			goto done;
		content = (uint64_t)st.st_size;
	} else {
		walk_bytes = walk_inodes = 0;
		if (nftw(dir, walk_entry, 16, FTW_PHYS) == -1) {
			warn("%s", dir);
			goto done;
		}
		snprintf(tarpath, sizeof(tarpath), "%s/layer.tar", build_tmp);
		if (run("tar", (char *const[]){ TAR, "--numeric-owner",
		    "--xattrs", "--xattrs-include=*", "-C", (char *)dir,
		    "-cf", tarpath, ".", NULL }) == -1) {
			warnx("--from-dir %s: tar could not read it", dir);
			goto done;
		}
		if ((tfd = open(tarpath, O_RDONLY | O_CLOEXEC)) == -1) {
			warn("%s", tarpath);
			goto done;
		}
		content = walk_bytes;
		/* mke2fs -i 8192 in the daemon: an inode every 8 KiB. */
		if (walk_inodes * 8192 > content)
			content = walk_inodes * 8192;
	}
	/* The open fd is all the import needs: the directory goes now. */
	build_cleanup();
	if (interrupted) {
		warnx("image build %s: interrupted", ci.ci_name);
		goto done;
	}
	/* The content, a quarter more and 64 MiB, in whole MiB. */
	if (size == 0) {
		size = content + content / 4 + (64ULL << 20);
		size = (size + (1ULL << 20) - 1) & ~((1ULL << 20) - 1);
	}
	if (size < OCI_SIZE_MIN || size > OCI_SIZE_MAX || size % 4096 != 0) {
		warnx("--size %s: give a multiple of 4K from 16M to 1T",
		    fmt_size(size, label, sizeof(label)));
		goto done;
	}
	ci.ci_flags |= IMAGE_F_OCI;
	ci.ci_size = size;
	of.n = 1;
	of.fd[0] = tfd;
	tfd = -1;
	strlcpy(of.name[0], "layer.tar", sizeof(of.name[0]));
	rv = import_send(&ci, fds, paths, &of);
done:
	if (tfd != -1)
		close(tfd);
	close_all(fds);
	build_cleanup();
	return rv;
}

static json_t *
image_json(const struct image_info *im)
{
	json_t	*j, *vms;
	char	 buf[PROTO_MSG_MAX], *p, *w;

	vms = json_array();
	strlcpy(buf, im->im_vms, sizeof(buf));
	for (p = buf; (w = strsep(&p, " ")) != NULL;)
		if (*w != '\0')
			json_array_append_new(vms, json_string(w));
	j = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:I, s:o?, s:I, s:I, "
	    "s:o?, s:I, s:o, s:I, s:s?, s:s?}",
	    "name", im->im_name,
	    "source", im->im_source == IMAGE_SRC_CONFIG ? "bangerd.conf" :
		"imported",
	    "kernel", im->im_kernel,
	    "initrd", im->im_initrd[0] ? im->im_initrd : NULL,
	    "rootfs", im->im_rootfs,
	    "boot_args", im->im_bootargs,
	    "kernel_bytes", (json_int_t)im->im_kernel_size,
	    "initrd_bytes", im->im_initrd[0] ?
		json_integer(im->im_initrd_size) : NULL,
	    "rootfs_bytes", (json_int_t)im->im_rootfs_size,
	    "rootfs_allocated_bytes", (json_int_t)im->im_rootfs_alloc,
	    "created", im->im_created ? json_integer(im->im_created) : NULL,
	    "vm_count", (json_int_t)im->im_nvms,
	    "vms", vms,
	    "other_users_vms", (json_int_t)im->im_nhidden,
	    "pulled_from", im->im_origin[0] ? im->im_origin : NULL,
	    "manifest_digest", im->im_digest[0] ? im->im_digest : NULL);
	if (j == NULL)
		errx(1, "json_pack");
	return j;
}

/* Send a request, gather the images it lists; returns the exit status. */
static int
collect(const struct ctl_image *cm, struct image_info **imp, size_t *np)
{
	struct imsgbuf	 ibuf;
	struct imsg	 imsg;
	struct image_info *im = NULL;
	size_t		 n = 0, len;
	int		 rv;

	ctl_connect(&ibuf);
	ctl_send(&ibuf, IMSG_CTL_IMAGE, cm, sizeof(*cm));
	for (;;) {
		ctl_recv(&ibuf, &imsg);
		if (imsg_get_type(&imsg) == IMSG_CTL_RESULT)
			break;
		if (imsg_get_type(&imsg) != IMSG_CTL_IMAGE_INFO)
			errx(1, "unexpected answer from bangerd (type %u)",
			    imsg_get_type(&imsg));
		if ((im = reallocarray(im, n + 1, sizeof(*im))) == NULL)
			err(1, NULL);
		if (imsg_get_data(&imsg, &im[n], sizeof(*im)) == -1 ||
		    wire_string(im[n].im_name, sizeof(im[n].im_name),
		    &len) == -1 ||
		    wire_string(im[n].im_kernel, sizeof(im[n].im_kernel),
		    &len) == -1 ||
		    wire_string(im[n].im_initrd, sizeof(im[n].im_initrd),
		    &len) == -1 ||
		    wire_string(im[n].im_rootfs, sizeof(im[n].im_rootfs),
		    &len) == -1 ||
		    wire_string(im[n].im_bootargs, sizeof(im[n].im_bootargs),
		    &len) == -1 ||
		    wire_string(im[n].im_vms, sizeof(im[n].im_vms), &len) == -1 ||
		    wire_string(im[n].im_origin, sizeof(im[n].im_origin),
		    &len) == -1 ||
		    wire_string(im[n].im_digest, sizeof(im[n].im_digest),
		    &len) == -1)
			errx(1, "bad image information from bangerd");
		n++;
		imsg_free(&imsg);
	}
	rv = ctl_result(&imsg, 1);
	imsg_free(&imsg);
	imsgbuf_clear(&ibuf);
	close(ibuf.fd);
	if (rv != 0) {
		free(im);
		return rv;
	}
	*imp = im;
	*np = n;
	return 0;
}

static int
json_flag(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch, json = 0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'j')
			image_usage();
		json = 1;
	}
	return json;
}

static const char *
size_or_missing(int64_t size, char *buf, size_t len)
{
	if (size < 0)
		return "missing";
	return fmt_size(size, buf, len);
}

static int
image_ls(int argc, char **argv)
{
	struct ctl_image	 cm;
	struct image_info	*im;
	size_t			 n, i;
	json_t			*arr;
	char			 b1[32], b2[32];
	int			 json, rv;

	json = json_flag(argc, argv);
	if (optind != argc)
		image_usage();
	memset(&cm, 0, sizeof(cm));
	cm.cm_action = CTL_IMAGE_LS;
	if ((rv = collect(&cm, &im, &n)) != 0)
		return rv;
	if (json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, image_json(&im[i]));
		json_print(arr);
	} else {
		printf("%-20s %-12s %10s %10s %4s\n", "NAME", "SOURCE",
		    "KERNEL", "ROOTFS", "VMS");
		for (i = 0; i < n; i++)
			printf("%-20s %-12s %10s %10s %4u\n", im[i].im_name,
			    im[i].im_source == IMAGE_SRC_CONFIG ?
			    "bangerd.conf" : "imported",
			    size_or_missing(im[i].im_kernel_size, b1,
			    sizeof(b1)), size_or_missing(im[i].im_rootfs_size,
			    b2, sizeof(b2)), im[i].im_nvms);
	}
	free(im);
	return 0;
}

static int
image_show(int argc, char **argv)
{
	struct ctl_image	 cm;
	struct image_info	*im;
	size_t			 n;
	char			 b1[32], b2[32], tb[64];
	struct tm		*tm;
	time_t			 t;
	int			 json, rv;

	json = json_flag(argc, argv);
	if (optind != argc - 1)
		image_usage();
	if (check_image_name("image name", argv[optind]) == -1)
		return 1;
	memset(&cm, 0, sizeof(cm));
	cm.cm_action = CTL_IMAGE_SHOW;
	strlcpy(cm.cm_name, argv[optind], sizeof(cm.cm_name));
	if ((rv = collect(&cm, &im, &n)) != 0)
		return rv;
	if (n != 1)
		errx(1, "no information on image %s from bangerd", cm.cm_name);
	if (json)
		json_print(image_json(im));
	else {
		printf("%-10s %s\n", "name", im->im_name);
		printf("%-10s %s\n", "source", im->im_source ==
		    IMAGE_SRC_CONFIG ? "bangerd.conf" : "imported");
		printf("%-10s %s (%s)\n", "kernel", im->im_kernel,
		    size_or_missing(im->im_kernel_size, b1, sizeof(b1)));
		if (im->im_initrd[0] != '\0')
			printf("%-10s %s (%s)\n", "initrd", im->im_initrd,
			    size_or_missing(im->im_initrd_size, b1,
			    sizeof(b1)));
		else
			printf("%-10s %s\n", "initrd", "none");
		printf("%-10s %s (%s, %s on disk)\n", "rootfs", im->im_rootfs,
		    size_or_missing(im->im_rootfs_size, b1, sizeof(b1)),
		    size_or_missing(im->im_rootfs_alloc, b2, sizeof(b2)));
		printf("%-10s %s\n", "boot args", im->im_bootargs[0] ?
		    im->im_bootargs : "(none)");
		if (im->im_origin[0] != '\0')
			printf("%-10s %s\n", "pulled", im->im_origin);
		if (im->im_digest[0] != '\0')
			printf("%-10s %s\n", "manifest", im->im_digest);
		t = im->im_created;
		if (t != 0 && (tm = localtime(&t)) != NULL &&
		    strftime(tb, sizeof(tb), "%Y-%m-%d %H:%M:%S %Z", tm) > 0)
			printf("%-10s %s\n", "created", tb);
		else
			printf("%-10s %s\n", "created", "-");
		if (im->im_nvms == 0)
			printf("%-10s %s\n", "vms", "none");
		else if (im->im_nhidden == 0)
			printf("%-10s %s\n", "vms", im->im_vms);
		else
			printf("%-10s %s%s%u of other users\n", "vms",
			    im->im_vms, im->im_vms[0] ? ", and " : "",
			    im->im_nhidden);
	}
	free(im);
	return 0;
}

static int
image_rm(int argc, char **argv)
{
	struct ctl_image	 cm;

	if (argc != 2 || argv[1][0] == '-')
		image_usage();
	if (check_image_name("image name", argv[1]) == -1)
		return 1;
	memset(&cm, 0, sizeof(cm));
	cm.cm_action = CTL_IMAGE_RM;
	strlcpy(cm.cm_name, argv[1], sizeof(cm.cm_name));
	return ctl_request(IMSG_CTL_IMAGE, &cm, sizeof(cm));
}

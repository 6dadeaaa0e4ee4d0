/*
 * The image store, the parent's side: imports, listings and removal.
 *
 * An imported image is a directory STATE/images/NAME holding vmlinux,
 * rootfs.ext4, and optionally initrd and boot-args (image_resolve() in
 * vmdisk.c reads it).  bangerctl opens the files as its user and the vm
 * worker passes the fds on, one message each (IMSG_IMGOP_FILE), then
 * the import (IMSG_IMGOP_IMPORT).  The parent makes a temporary
 * directory STATE/images/.NAME.XXXXXX and a child of the parent checks
 * and copies the files into it (reflink where the file system makes
 * them, else a sparse copy), fsyncs, and renames it to NAME without
 * replacing anything; it reports the bytes copied on a pipe, which the
 * parent passes on to the client.  On any failure the temporary
 * directory goes, and one a dead parent left is removed at start.
 *
 * The parent is the authority on which VMs use an image: its records
 * name each VM's image, and an image in use is not removed.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/prctl.h>

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "imagepull.h"
#include "imgref.h"
#include "log.h"
#include "storage.h"
#include "validate.h"

#define IMAGES_DIR	"images"
#define PROGRESS_STEP	(64ULL << 20)	/* report every 64 MiB copied */

static const char *const image_file_names[IMAGE_NFILES] = {
	[IMAGE_KERNEL] = "vmlinux",
	[IMAGE_INITRD] = "initrd",
	[IMAGE_ROOTFS] = "rootfs.ext4",
};

static const char *const image_file_opts[IMAGE_NFILES] = {
	[IMAGE_KERNEL] = "--kernel",
	[IMAGE_INITRD] = "--initrd",
	[IMAGE_ROOTFS] = "--rootfs",
};

/* The files of the next import, as the vm worker sent them. */
static int		 pend_fd[IMAGE_NFILES] = { -1, -1, -1 };
static char		 pend_path[IMAGE_NFILES][PROTO_PATH_MAX];
static uint32_t		 pend_peer;
static int		 pend_any;
/* An OCI layout's files (--oci-layout), by their names in it. */
static int		 pend_oci_fd[OCI_FILES_MAX];
static char		 pend_oci_name[OCI_FILES_MAX][PROTO_PATH_MAX];
static size_t		 pend_noci;

/* What the copying child says on its pipe; each record is one write. */
struct img_report {
	int32_t		 ir_done;		/* 0 progress, 1 the end */
	int32_t		 ir_error;
	uint64_t	 ir_bytes;
	uint64_t	 ir_total;		/* 0: the job's */
	char		 ir_msg[PROTO_MSG_MAX];
};

struct img_job {
	TAILQ_ENTRY(img_job)	 ij_entry;
	char			 ij_name[BANGER_NAME_MAX];
	char			 ij_tmp[PATH_MAX];
	pid_t			 ij_pid;
	pid_t			 ij_wpid;	/* the vm worker that asked */
	uint32_t		 ij_peerid;
	uint64_t		 ij_total;
	int			 ij_pipe;
	struct event		 ij_ev;
	struct img_report	 ij_res;
	int			 ij_have_res;
	int			 ij_cancelled;
};

static TAILQ_HEAD(, img_job) img_jobs = TAILQ_HEAD_INITIALIZER(img_jobs);

struct img_copy {
	int		 ic_pipe;
	uint64_t	 ic_base;	/* bytes of the files before this one */
	uint64_t	 ic_last;	/* last reported */
	uint64_t	 ic_total;
	int		 ic_pull;	/* the total known as it goes */
};

static int
images_dir(char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%s", env->bd_conf->cf_statedir,
	    IMAGES_DIR) >= (int)len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static struct conf_image *
image_config(const char *name)
{
	struct conf_image	*ci;

	TAILQ_FOREACH(ci, &env->bd_conf->cf_images, img_entry)
		if (strcmp(ci->img_name, name) == 0)
			return ci;
	return NULL;
}

static int
image_stored(const char *name)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	if (images_dir(path, sizeof(path)) == -1 ||
	    strlcat(path, "/", sizeof(path)) >= sizeof(path) ||
	    strlcat(path, name, sizeof(path)) >= sizeof(path))
		return 0;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static struct img_job *
image_job_find(const char *name)
{
	struct img_job	*ij;

	TAILQ_FOREACH(ij, &img_jobs, ij_entry)
		if (strcmp(ij->ij_name, name) == 0)
			return ij;
	return NULL;
}

/*
 * Remove a directory of the store and the plain files in it (all an
 * image holds); anything else in it is left, and so is the directory.
 */
static int
image_dir_remove(const char *path)
{
	struct dirent	*de;
	DIR		*d;
	int		 dfd, rv = 0;

	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1) {
			log_warn("image: unlink %s/%s", path, de->d_name);
			rv = -1;
		}
	}
	closedir(d);
	if (rmdir(path) == -1) {
		log_warn("image: rmdir %s", path);
		rv = -1;
	}
	return rv;
}

/* At start: temporary directories of imports a dead parent left. */
void
image_store_clean(void)
{
	char		 dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent	*de;
	DIR		*d;

	if (images_dir(dir, sizeof(dir)) == -1 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		log_info("image: removing %s, left by an unfinished import",
		    path);
		(void)image_dir_remove(path);
	}
	closedir(d);
}

static void
pend_clear(void)
{
	int	 i;

	size_t	 j;

	for (i = 0; i < IMAGE_NFILES; i++) {
		if (pend_fd[i] != -1)
			close(pend_fd[i]);
		pend_fd[i] = -1;
		pend_path[i][0] = '\0';
	}
	for (j = 0; j < pend_noci; j++)
		close(pend_oci_fd[j]);
	pend_noci = 0;
	pend_any = 0;
	pend_peer = 0;
}

/* The vm worker is gone: the files it was passing on go too. */
void
image_worker_gone(void)
{
	pend_clear();
}

/*
 * One file of the next import.  Its kind must not be there already,
 * and the files of one import come from one client: anything else is
 * the caller's violation (returns -1 with *why set).
 */
int
imgop_file(uint32_t peerid, const struct imgop_file *f, int fd,
    const char **why)
{
	size_t	 i;

	if (pend_any && pend_peer != peerid) {
		*why = "file for a second import before the first";
		return -1;
	}
	if (f->if_kind == IMAGE_OCI) {
		for (i = 0; i < pend_noci; i++)
			if (strcmp(pend_oci_name[i], f->if_path) == 0) {
				*why = "the same layout file twice";
				return -1;
			}
		if (pend_noci == OCI_FILES_MAX) {
			*why = "more layout files than OCI_FILES_MAX";
			return -1;
		}
		pend_oci_fd[pend_noci] = fd;
		strlcpy(pend_oci_name[pend_noci], f->if_path,
		    sizeof(pend_oci_name[0]));
		pend_noci++;
		pend_peer = peerid;
		pend_any = 1;
		return 0;
	}
	if (pend_fd[f->if_kind] != -1) {
		*why = "the same file twice";
		return -1;
	}
	pend_fd[f->if_kind] = fd;
	strlcpy(pend_path[f->if_kind], f->if_path, sizeof(pend_path[0]));
	pend_peer = peerid;
	pend_any = 1;
	return 0;
}

/*
 * Whether the import now asked for has the files it needs: an image
 * pull, a valid reference and no root file system of any kind.
 */
int
imgop_import_check(uint32_t peerid, const struct ctl_image_import *ci,
    const char **why)
{
	struct image_ref	 ref;
	size_t			 len;

	if ((pend_any && pend_peer != peerid) ||
	    (!pend_any && !(ci->ci_flags & IMAGE_F_PULL))) {
		*why = "import without its files";
		return -1;
	}
	if (ci->ci_flags & IMAGE_F_PULL) {
		if ((ci->ci_flags & IMAGE_F_OCI) ||
		    pend_fd[IMAGE_ROOTFS] != -1 || pend_noci != 0) {
			*why = "an image pull with a rootfs or a layout";
			return -1;
		}
		if (wire_string(ci->ci_ref, sizeof(ci->ci_ref), &len) == -1 ||
		    image_ref_parse(ci->ci_ref, &ref, why) == -1) {
			*why = "an image pull with a bad reference";
			return -1;
		}
		if (ci->ci_size < OCI_SIZE_MIN || ci->ci_size > OCI_SIZE_MAX ||
		    ci->ci_size % 4096 != 0) {
			*why = "an image pull's size out of bounds";
			return -1;
		}
	} else if (ci->ci_ref[0] != '\0') {
		*why = "a reference without an image pull";
		return -1;
	} else if (ci->ci_flags & IMAGE_F_OCI) {
		if (pend_fd[IMAGE_ROOTFS] != -1 || pend_noci == 0) {
			*why = "an OCI import with a rootfs or without its "
			    "layout";
			return -1;
		}
		if (ci->ci_size < OCI_SIZE_MIN || ci->ci_size > OCI_SIZE_MAX ||
		    ci->ci_size % 4096 != 0) {
			*why = "an OCI import's size out of bounds";
			return -1;
		}
	} else if (pend_fd[IMAGE_ROOTFS] == -1 || pend_noci != 0 ||
	    ci->ci_size != 0) {
		*why = "import without a rootfs, or with a layout";
		return -1;
	}
	if ((pend_fd[IMAGE_KERNEL] == -1) == (ci->ci_kernel_from[0] == '\0')) {
		*why = "import needs a kernel or an image to take it from";
		return -1;
	}
	return 0;
}

static void
report(int fd, int done, int error, uint64_t bytes, const char *fmt, ...)
    __attribute__((__format__ (printf, 5, 6)));

static void
report(int fd, int done, int error, uint64_t bytes, const char *fmt, ...)
{
	struct img_report	 ir;
	va_list			 ap;

	memset(&ir, 0, sizeof(ir));
	ir.ir_done = done;
	ir.ir_error = error;
	ir.ir_bytes = bytes;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(ir.ir_msg, sizeof(ir.ir_msg), fmt, ap);
		va_end(ap);
	}
	/* Less than PIPE_BUF: one atomic write. */
	(void)write(fd, &ir, sizeof(ir));
}

/*
 * The pull worker's progress: the layers' bytes read so far; for an
 * image pull, fetched then unpacked, of a total it learns as it goes.
 */
static void
oci_progress(void *arg, uint64_t done, uint64_t total)
{
	struct img_copy		*ic = arg;
	struct img_report	 ir;
	uint64_t		 now = ic->ic_base + done;

	if (ic->ic_pull) {
		if (now - ic->ic_last < PROGRESS_STEP && done != total)
			return;
		memset(&ir, 0, sizeof(ir));
		ir.ir_bytes = now;
		ir.ir_total = ic->ic_base + total;
		(void)write(ic->ic_pipe, &ir, sizeof(ir));
		ic->ic_last = now;
		return;
	}
	if (now - ic->ic_last >= PROGRESS_STEP && now <= ic->ic_total) {
		report(ic->ic_pipe, 0, 0, now, NULL);
		ic->ic_last = now;
	}
}

static int
copy_progress(uint64_t done, uint64_t size, void *arg)
{
	struct img_copy	*ic = arg;
	uint64_t	 now = ic->ic_base + done;

	if (now - ic->ic_last >= PROGRESS_STEP) {
		report(ic->ic_pipe, 0, 0, now, NULL);
		ic->ic_last = now;
	}
	return 0;
}

/*
 * What a file must look like, cheaply: a kernel of the kind Firecracker
 * loads here (an ELF vmlinux on x86_64, an arm64 Image on aarch64; a
 * bzImage never), a root file system with the ext2/3/4 superblock
 * magic, an initrd not empty.  Sets msg to say what is wrong.
 */
static int
image_file_check(int kind, int fd, const char *path, char *msg, size_t len)
{
	unsigned char	 b[4];
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		snprintf(msg, len, "%s %s: %s", image_file_opts[kind], path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, len, "%s %s: not a regular file",
		    image_file_opts[kind], path);
		return -1;
	}
	switch (kind) {
	case IMAGE_KERNEL:
#if defined(__aarch64__)
		/* the arm64 Image header's magic, at 56 */
		if (pread(fd, b, 4, 56) == 4 && memcmp(b, "ARM\x64", 4) == 0)
			return 0;
		snprintf(msg, len, "%s %s: not a kernel: expected an arm64 "
		    "Image", image_file_opts[kind], path);
#else
		if (pread(fd, b, 4, 0) == 4 && memcmp(b, "\177ELF", 4) == 0)
			return 0;
		if (pread(fd, b, 4, 0x202) == 4 && memcmp(b, "HdrS", 4) == 0)
			snprintf(msg, len, "%s %s: a bzImage, which "
			    "Firecracker does not boot: give the ELF kernel "
			    "(vmlinux) in it", image_file_opts[kind], path);
		else
			snprintf(msg, len, "%s %s: not a kernel: expected an "
			    "ELF file (vmlinux)", image_file_opts[kind], path);
#endif
		return -1;
	case IMAGE_INITRD:
		if (st.st_size > 0)
			return 0;
		snprintf(msg, len, "%s %s: empty: expected an initrd",
		    image_file_opts[kind], path);
		return -1;
	case IMAGE_ROOTFS:
		/* s_magic, 0xEF53, at byte 56 of the superblock at 1024 */
		if (pread(fd, b, 2, 1024 + 56) == 2 && b[0] == 0x53 &&
		    b[1] == 0xef)
			return 0;
		snprintf(msg, len, "%s %s: not an ext2/3/4 file system (no "
		    "superblock magic): expected an ext4 root file system",
		    image_file_opts[kind], path);
		return -1;
	}
	snprintf(msg, len, "unknown file kind %d", kind);
	return -1;
}

/* A small file of the new image, name in dfd (tmp), written and synced. */
static int
image_text(int dfd, const char *tmp, const char *name, char *msg,
    size_t len, const char *fmt, ...)
    __attribute__((__format__ (printf, 6, 7)));

static int
image_text(int dfd, const char *tmp, const char *name, char *msg,
    size_t len, const char *fmt, ...)
{
	va_list	 ap;
	int	 fd, rv;

	if ((fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1) {
		snprintf(msg, len, "%s/%s: %s", tmp, name, strerror(errno));
		return -1;
	}
	va_start(ap, fmt);
	rv = vdprintf(fd, fmt, ap);
	va_end(ap);
	if (rv < 0 || fsync(fd) == -1) {
		snprintf(msg, len, "%s/%s: %s", tmp, name, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The child: check, copy, fsync, rename.  Never returns. */
static __attribute__((__noreturn__)) void
image_copy_child(int out, const char *name, const char *tmp,
    const int fds[IMAGE_NFILES], char paths[IMAGE_NFILES][PROTO_PATH_MAX],
    const char *bootargs, uint64_t total, uint64_t ocisize,
    const struct image_ref *ref)
{
	struct img_copy	 ic;
	struct stat	 st;
	char		 msg[PROTO_MSG_MAX], final[PATH_MAX], dir[PATH_MAX];
	char		 digest[80] = "", refbuf[PROTO_REF_MAX];
	int		 dfd = -1, ifd = -1, fd, i;

	setproctitle("image import %s", name);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	parent_signals_child();

	for (i = 0; i < IMAGE_NFILES; i++)
		if (fds[i] != -1 && image_file_check(i, fds[i], paths[i], msg,
		    sizeof(msg)) == -1)
			goto fail;
	if ((dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		snprintf(msg, sizeof(msg), "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	memset(&ic, 0, sizeof(ic));
	ic.ic_pipe = out;
	ic.ic_total = total;
	ic.ic_pull = ref != NULL;
	for (i = 0; i < IMAGE_NFILES; i++) {
		if (fds[i] == -1)
			continue;
		if ((fd = openat(dfd, image_file_names[i], O_RDWR | O_CREAT |
		    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) == -1) {
			snprintf(msg, sizeof(msg), "%s/%s: %s", tmp,
			    image_file_names[i], strerror(errno));
			goto fail;
		}
		if (fstat(fds[i], &st) == -1 ||
		    (disk_reflink(fds[i], fd) == -1 &&
		    disk_sparse_copy_cb(fds[i], fd, copy_progress,
		    &ic) == -1) || fsync(fd) == -1) {
			snprintf(msg, sizeof(msg), "%s %s: copy: %s",
			    image_file_opts[i], paths[i], strerror(errno));
			close(fd);
			goto fail;
		}
		close(fd);
		ic.ic_base += st.st_size;
	}
	if ((pend_noci > 0 || ref != NULL) && image_oci_rootfs(dfd, tmp,
	    image_file_names[IMAGE_ROOTFS], ocisize, pend_oci_fd,
	    pend_oci_name, pend_noci, ref, oci_progress, &ic, digest, msg,
	    sizeof(msg)) == -1)
		goto fail;
	/* Where a container image came from: its reference and digest. */
	if (strncmp(digest, "sha256:", 7) == 0 && (ref == NULL ||
	    image_ref_format(ref, refbuf, sizeof(refbuf)) == 0) &&
	    image_text(dfd, tmp, "origin", msg, sizeof(msg), "%s\n%s\n",
	    ref != NULL ? refbuf : "", digest) == -1)
		goto fail;
	if (ic.ic_last != total && ref == NULL)
		report(out, 0, 0, total, NULL);
	if (bootargs[0] != '\0' && image_text(dfd, tmp, "boot-args", msg,
	    sizeof(msg), "%s\n", bootargs) == -1)
		goto fail;
	if (fchmod(dfd, 0755) == -1 || fsync(dfd) == -1) {
		snprintf(msg, sizeof(msg), "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (images_dir(dir, sizeof(dir)) == -1 ||
	    snprintf(final, sizeof(final), "%s/%s", dir, name) >=
	    (int)sizeof(final)) {
		snprintf(msg, sizeof(msg), "image %s: path too long", name);
		goto fail;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == -1) {
		if (errno == EEXIST)
			snprintf(msg, sizeof(msg), "image %s already exists",
			    name);
		else
			snprintf(msg, sizeof(msg), "rename %s to %s: %s", tmp,
			    final, strerror(errno));
		goto fail;
	}
	if ((ifd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(ifd);
		close(ifd);
	}
	close(dfd);
	report(out, 1, 0, total, "image %s imported", name);
	_exit(0);
fail:
	if (dfd != -1)
		close(dfd);
	(void)image_dir_remove(tmp);
	report(out, 1, EINVAL, 0, "%s", msg);
	_exit(1);
}

static void
image_job_free(struct img_job *ij)
{
	TAILQ_REMOVE(&img_jobs, ij, ij_entry);
	free(ij);
}

/* The child's reports: progress passed on; at its end, the result. */
static void
image_job_read(int fd, short event, void *arg)
{
	struct img_job		*ij = arg;
	struct worker		*w = &env->bd_workers[PROC_VM];
	struct img_report	 ir;
	struct image_progress	 ip;
	ssize_t			 n;
	int			 status, here;

	here = w->w_iev != NULL && w->w_state == WORKER_RUNNING &&
	    w->w_pid == ij->ij_wpid;
	if ((n = read(fd, &ir, sizeof(ir))) == (ssize_t)sizeof(ir)) {
		ir.ir_msg[sizeof(ir.ir_msg) - 1] = '\0';
		if (ir.ir_done) {
			ij->ij_res = ir;
			ij->ij_have_res = 1;
		} else if (here) {
			memset(&ip, 0, sizeof(ip));
			ip.ip_done = ir.ir_bytes;
			ip.ip_total = ir.ir_total != 0 ? ir.ir_total :
			    ij->ij_total;
			imsg_compose_event(w->w_iev, IMSG_IMGOP_PROGRESS,
			    ij->ij_peerid, 0, -1, &ip, sizeof(ip));
		}
		return;
	}
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;

	/* The end of the pipe: the child is done. */
	event_del(&ij->ij_ev);
	close(ij->ij_pipe);
	while (waitpid(ij->ij_pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!ij->ij_have_res && ij->ij_cancelled && !image_stored(ij->ij_name)) {
		ij->ij_res.ir_error = ECANCELED;
		snprintf(ij->ij_res.ir_msg, sizeof(ij->ij_res.ir_msg),
		    "image %s: import cancelled", ij->ij_name);
	} else if (!ij->ij_have_res && ij->ij_cancelled) {
		/* Killed between its rename and its report: it is there. */
		ij->ij_res.ir_error = 0;
		snprintf(ij->ij_res.ir_msg, sizeof(ij->ij_res.ir_msg),
		    "image %s imported", ij->ij_name);
	} else if (!ij->ij_have_res) {
		ij->ij_res.ir_error = EIO;
		snprintf(ij->ij_res.ir_msg, sizeof(ij->ij_res.ir_msg),
		    "image %s: the import ended without a result",
		    ij->ij_name);
	}
	if (ij->ij_res.ir_error != 0) {
		/* The child removes it; if it died, we do. */
		(void)image_dir_remove(ij->ij_tmp);
		log_warnx("image %s: import failed: %s", ij->ij_name,
		    ij->ij_res.ir_msg);
	} else
		log_info("image %s: imported", ij->ij_name);
	if (here)
		imsg_send_result(w->w_iev, IMSG_RESULT, ij->ij_peerid,
		    ij->ij_res.ir_error, "%s", ij->ij_res.ir_msg);
	image_job_free(ij);
}

/*
 * The client that asked for an import went: end its child (ours, by
 * pid), whose directory then goes.  One that already finished is kept.
 */
void
imgop_cancel(struct worker *w, uint32_t peerid)
{
	struct img_job	*ij;

	TAILQ_FOREACH(ij, &img_jobs, ij_entry) {
		if (ij->ij_peerid != peerid || ij->ij_wpid != w->w_pid ||
		    ij->ij_have_res)
			continue;
		log_info("image %s: the client went; import cancelled",
		    ij->ij_name);
		ij->ij_cancelled = 1;
		kill(ij->ij_pid, SIGKILL);
	}
}

/* An import, its files already here: name checks, then the child. */
int
imgop_import(struct worker *w, uint32_t peerid, const struct imgop_import *ii)
{
	const struct ctl_image_import *ci = &ii->ii_req;
	struct image_files	 src;
	struct img_job		*ij = NULL;
	struct stat		 st;
	char			 dir[PATH_MAX], msg[PROTO_MSG_MAX];
	char			 bootargs[PROTO_BOOTARGS_MAX];
	struct image_ref	 ref;
	int			 fds[IMAGE_NFILES], p[2] = { -1, -1 }, i, error;
	size_t			 j;
	pid_t			 pid;

	memcpy(fds, pend_fd, sizeof(fds));
	strlcpy(bootargs, ci->ci_bootargs, sizeof(bootargs));
	log_info("uid %u: image import %s", ii->ii_audit.ca_uid, ci->ci_name);

	error = EEXIST;
	if (image_config(ci->ci_name) != NULL) {
		snprintf(msg, sizeof(msg), "image %s already exists: it is "
		    "declared in bangerd.conf", ci->ci_name);
		goto fail;
	}
	if (image_stored(ci->ci_name)) {
		snprintf(msg, sizeof(msg), "image %s already exists; remove it "
		    "first (bangerctl image rm %s)", ci->ci_name, ci->ci_name);
		goto fail;
	}
	if (image_job_find(ci->ci_name) != NULL) {
		snprintf(msg, sizeof(msg), "image %s is being imported",
		    ci->ci_name);
		goto fail;
	}
	if (ci->ci_kernel_from[0] != '\0') {
		error = ENOENT;
		/* Its boot args, if unusable, matter only if taken. */
		if (image_resolve(ci->ci_kernel_from, &src, msg,
		    sizeof(msg)) == -1 && (errno != EILSEQ ||
		    !(ci->ci_flags & IMAGE_F_BOOTARGS))) {
			if (errno == EILSEQ)
				error = EINVAL;
			else
				snprintf(msg, sizeof(msg), "--kernel-from %s: "
				    "no such image", ci->ci_kernel_from);
			goto fail;
		}
		if ((fds[IMAGE_KERNEL] = open(src.kernel, O_RDONLY |
		    O_CLOEXEC)) == -1) {
			snprintf(msg, sizeof(msg), "--kernel-from %s: %s: %s",
			    ci->ci_kernel_from, src.kernel, strerror(errno));
			goto fail;
		}
		strlcpy(pend_path[IMAGE_KERNEL], src.kernel,
		    sizeof(pend_path[0]));
		if (fds[IMAGE_INITRD] == -1 && src.initrd[0] != '\0') {
			if ((fds[IMAGE_INITRD] = open(src.initrd, O_RDONLY |
			    O_CLOEXEC)) == -1) {
				snprintf(msg, sizeof(msg), "--kernel-from %s: "
				    "%s: %s", ci->ci_kernel_from, src.initrd,
				    strerror(errno));
				goto fail;
			}
			strlcpy(pend_path[IMAGE_INITRD], src.initrd,
			    sizeof(pend_path[0]));
		}
		if (!(ci->ci_flags & IMAGE_F_BOOTARGS))
			strlcpy(bootargs, src.bootargs, sizeof(bootargs));
	}

	if ((ij = calloc(1, sizeof(*ij))) == NULL)
		fatal(NULL);
	strlcpy(ij->ij_name, ci->ci_name, sizeof(ij->ij_name));
	ij->ij_peerid = peerid;
	ij->ij_wpid = w->w_pid;
	for (i = 0; i < IMAGE_NFILES; i++)
		if (fds[i] != -1 && fstat(fds[i], &st) == 0)
			ij->ij_total += st.st_size;
	for (j = 0; j < pend_noci; j++)
		if (fstat(pend_oci_fd[j], &st) == 0)
			ij->ij_total += st.st_size;
	error = EIO;
	if (images_dir(dir, sizeof(dir)) == -1 ||
	    snprintf(ij->ij_tmp, sizeof(ij->ij_tmp), "%s/.%s.XXXXXX", dir,
	    ci->ci_name) >= (int)sizeof(ij->ij_tmp)) {
		snprintf(msg, sizeof(msg), "image %s: path too long",
		    ci->ci_name);
		goto fail;
	}
	if (mkdtemp(ij->ij_tmp) == NULL) {
		snprintf(msg, sizeof(msg), "%s: %s", ij->ij_tmp,
		    strerror(errno));
		goto fail;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(msg, sizeof(msg), "pipe: %s", strerror(errno));
		goto fail_tmp;
	}
	switch (pid = fork()) {
	case -1:
		snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
		goto fail_tmp;
	case 0:
		close(p[0]);
		if (ci->ci_flags & IMAGE_F_PULL) {
			/* imgop_import_check() took it */
			if (image_ref_parse(ci->ci_ref, &ref, NULL) == -1)
				_exit(1);
			image_copy_child(p[1], ci->ci_name, ij->ij_tmp, fds,
			    pend_path, bootargs, ij->ij_total, ci->ci_size,
			    &ref);
		}
		image_copy_child(p[1], ci->ci_name, ij->ij_tmp, fds, pend_path,
		    bootargs, ij->ij_total, ci->ci_size, NULL);
	}
	close(p[1]);
	for (i = 0; i < IMAGE_NFILES; i++)
		if (fds[i] != -1)
			close(fds[i]);
	for (i = 0; i < IMAGE_NFILES; i++)
		pend_fd[i] = -1;
	pend_clear();
	ij->ij_pid = pid;
	ij->ij_pipe = p[0];
	TAILQ_INSERT_TAIL(&img_jobs, ij, ij_entry);
	event_set(&ij->ij_ev, ij->ij_pipe, EV_READ | EV_PERSIST,
	    image_job_read, ij);
	event_add(&ij->ij_ev, NULL);
	return 0;

fail_tmp:
	if (p[0] != -1) {
		close(p[0]);
		close(p[1]);
	}
	(void)image_dir_remove(ij->ij_tmp);
fail:
	free(ij);
	/* pend_clear() closes what came with the request, we close ours. */
	for (i = 0; i < IMAGE_NFILES; i++)
		if (fds[i] != -1 && fds[i] != pend_fd[i])
			close(fds[i]);
	pend_clear();
	log_warnx("image %s: %s", ci->ci_name, msg);
	imsg_send_result(w->w_iev, IMSG_RESULT, peerid, error, "%s", msg);
	return 0;
}

static int64_t
file_size(const char *path, int64_t *alloc)
{
	struct stat	 st;

	if (path[0] == '\0' || stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return -1;
	if (alloc != NULL)
		*alloc = (int64_t)st.st_blocks * 512;
	return st.st_size;
}

/*
 * A container image's origin file: the reference it was pulled by
 * ("" for a layout) and the manifest's digest, each line checked.
 */
static void
image_origin(const char *dir, struct image_info *im)
{
	struct image_ref	 ref;
	char			 path[PATH_MAX], buf[PROTO_REF_MAX + 128];
	char			*nl, *digest;
	ssize_t			 n;
	size_t			 i;
	int			 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/origin", dir) >=
	    sizeof(path) || (fd = open(path, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) == NULL)
		return;
	*nl = '\0';
	digest = nl + 1;
	digest[strcspn(digest, "\n")] = '\0';
	if (strlen(digest) != 71 || strncmp(digest, "sha256:", 7) != 0)
		return;
	for (i = 7; i < 71; i++)
		if (!isxdigit((unsigned char)digest[i]) ||
		    isupper((unsigned char)digest[i]))
			return;
	if (buf[0] != '\0' && image_ref_parse(buf, &ref, NULL) == -1)
		return;
	strlcpy(im->im_origin, buf, sizeof(im->im_origin));
	strlcpy(im->im_digest, digest, sizeof(im->im_digest));
}

static void
image_info_fill(const char *name, int source, struct image_info *im)
{
	struct image_files	 img;
	struct pvm		*pv;
	struct stat		 st;
	char			 dir[PATH_MAX], msg[PROTO_MSG_MAX];

	memset(im, 0, sizeof(*im));
	strlcpy(im->im_name, name, sizeof(im->im_name));
	im->im_source = source;
	im->im_kernel_size = im->im_initrd_size = im->im_rootfs_size =
	    im->im_rootfs_alloc = -1;
	TAILQ_FOREACH(pv, pvm_list(), pv_entry)
		if (strcmp(pv->pv_image, name) == 0)
			im->im_nvms++;
	/* Unusable boot args (vm create says why) leave the rest to show. */
	if (image_resolve(name, &img, msg, sizeof(msg)) == -1 &&
	    errno != EILSEQ)
		return;
	strlcpy(im->im_kernel, img.kernel, sizeof(im->im_kernel));
	strlcpy(im->im_initrd, img.initrd, sizeof(im->im_initrd));
	strlcpy(im->im_rootfs, img.rootfs, sizeof(im->im_rootfs));
	strlcpy(im->im_bootargs, img.bootargs, sizeof(im->im_bootargs));
	im->im_kernel_size = file_size(img.kernel, NULL);
	im->im_initrd_size = file_size(img.initrd, NULL);
	im->im_rootfs_size = file_size(img.rootfs, &im->im_rootfs_alloc);
	/* An imported image was made when its directory got its name. */
	if (source == IMAGE_SRC_STORE && images_dir(dir, sizeof(dir)) == 0 &&
	    strlcat(dir, "/", sizeof(dir)) < sizeof(dir) &&
	    strlcat(dir, name, sizeof(dir)) < sizeof(dir) &&
	    stat(dir, &st) == 0) {
		im->im_created = st.st_mtime;
		image_origin(dir, im);
	}
}

static void
image_info_send(struct worker *w, uint32_t peerid, const char *name,
    int source)
{
	struct image_info	 im;

	image_info_fill(name, source, &im);
	imsg_compose_event(w->w_iev, IMSG_IMGOP_INFO, peerid, 0, -1, &im,
	    sizeof(im));
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every image: those of the configuration, then the store's, by name. */
static void
image_ls(struct worker *w, uint32_t peerid)
{
	struct conf_image	*ci;
	struct dirent		*de;
	const char		*why;
	char			 dir[PATH_MAX], **names = NULL;
	size_t			 n = 0, i;
	DIR			*d;

	TAILQ_FOREACH(ci, &env->bd_conf->cf_images, img_entry)
		image_info_send(w, peerid, ci->img_name, IMAGE_SRC_CONFIG);
	if (images_dir(dir, sizeof(dir)) == 0 && (d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (valid_name(de->d_name, strlen(de->d_name),
			    &why) == -1 || image_config(de->d_name) != NULL ||
			    !image_stored(de->d_name))
				continue;
			if ((names = reallocarray(names, n + 1,
			    sizeof(*names))) == NULL ||
			    (names[n] = strdup(de->d_name)) == NULL)
				fatal(NULL);
			n++;
		}
		closedir(d);
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		image_info_send(w, peerid, names[i], IMAGE_SRC_STORE);
		free(names[i]);
	}
	free(names);
	imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0, "%s", "");
}

static void
image_rm(struct worker *w, uint32_t peerid, const char *name, uid_t uid)
{
	struct pvm	*pv;
	char		 dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	char		 ids[PROTO_MSG_MAX] = "";
	int		 n = 0;

	if (image_config(name) != NULL) {
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, EPERM,
		    "image %s is declared in bangerd.conf: remove it there "
		    "and reload", name);
		return;
	}
	if (!image_stored(name)) {
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, ENOENT,
		    "no image %s (bangerctl image ls lists them)", name);
		return;
	}
	TAILQ_FOREACH(pv, pvm_list(), pv_entry) {
		if (strcmp(pv->pv_image, name) != 0)
			continue;
		if (n++ > 0)
			strlcat(ids, ", ", sizeof(ids));
		strlcat(ids, pv->pv_id, sizeof(ids));
	}
	if (n > 0) {
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, EBUSY,
		    "image %s is in use by %d VM%s (id %s); remove %s first",
		    name, n, n == 1 ? "" : "s", ids, n == 1 ? "it" : "them");
		return;
	}
	/* Out of sight at once, under a name the store does not list. */
	if (images_dir(dir, sizeof(dir)) == -1 ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.rm", dir, name) >=
	    (int)sizeof(tmp) ||
	    rename(path, tmp) == -1 || image_dir_remove(tmp) == -1) {
		log_warn("image %s: remove", name);
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, EIO,
		    "image %s: cannot remove it: %s", name, strerror(errno));
		return;
	}
	log_info("uid %u: image %s removed", (unsigned)uid, name);
	imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0, "image %s removed",
	    name);
}

int
imgop_query(struct worker *w, uint32_t peerid, const struct imgop_query *iq)
{
	const char	*name = iq->iq_req.cm_name;

	switch (iq->iq_req.cm_action) {
	case CTL_IMAGE_LS:
		image_ls(w, peerid);
		return 0;
	case CTL_IMAGE_SHOW:
		if (image_config(name) != NULL)
			image_info_send(w, peerid, name, IMAGE_SRC_CONFIG);
		else if (image_stored(name))
			image_info_send(w, peerid, name, IMAGE_SRC_STORE);
		else {
			imsg_send_result(w->w_iev, IMSG_RESULT, peerid, ENOENT,
			    "no image %s (bangerctl image ls lists them)",
			    name);
			return 0;
		}
		imsg_send_result(w->w_iev, IMSG_RESULT, peerid, 0, "%s", "");
		return 0;
	case CTL_IMAGE_RM:
		image_rm(w, peerid, name, iq->iq_audit.ca_uid);
		return 0;
	}
	return -1;
}

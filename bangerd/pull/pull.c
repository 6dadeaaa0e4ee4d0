/*
 * The pull worker's one job (pull.h).  Its messages, all from the
 * import child that started it (image.c): IMSG_PULL_FS with the new
 * file system's fd, up to OCI_FILES_MAX IMSG_PULL_BLOB, then
 * IMSG_PULL_START; or, for an image pull, IMSG_PULL_REGISTRY and
 * IMSG_PULL_SCRATCH instead of the layout's files, and it fetches the
 * blobs first (registry.c).  It resolves the image (oci.c), checks each layer's
 * digest and unpacks it (layer.c) in order, and answers with
 * IMSG_PULL_PROGRESS now and then and one IMSG_PULL_DONE.  Then it
 * exits: a worker of one import keeps nothing of it for the next.
 *
 * Anything it is sent that is not that sequence ends it.  The child
 * checks what it did (the file's size and superblock) and renames it
 * into the store; a worker that lies can only spoil its own import.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

#include "log.h"
#include "layer.h"
#include "oci.h"
#include "pull.h"
#include "validate.h"
#include "wire.h"

#define PROGRESS_STEP	(4ULL << 20)	/* a message every 4 MiB read */
#define PULL_CA_MAX	(4 << 20)	/* a CA bundle */
#define PULL_STALL_S	30L		/* a transfer without a byte */

struct pull_job {
	struct imsgbuf	*pj_ibuf;
	int		 pj_fsfd;
	int		 pj_scratch;		/* an image pull's blobs */
	int		 pj_cafd;
	int		 pj_registry;		/* pj_reg came */
	struct pull_registry pj_reg;
	uint64_t	 pj_fssize;
	struct oci_blob	 pj_blobs[OCI_FILES_MAX];
	size_t		 pj_nblobs;
	struct pull_start pj_start;
	struct pull_progress pj_prog;
	uint64_t	 pj_base;	/* the layers before this one */
	uint64_t	 pj_last;	/* last reported */
};

static int	pull_registry_check(struct pull_registry *);

static void
pull_send(struct pull_job *pj, uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(pj->pj_ibuf, type, 0, 0, -1, data, len) == -1 ||
	    imsgbuf_flush(pj->pj_ibuf) == -1)
		fatal("%s", __func__);
}

static __attribute__((__noreturn__)) void
pull_done(struct pull_job *pj, int error, const struct layer_stats *ls,
    const struct oci_image *img, const char *fmt, ...)
{
	struct pull_done	 pd;
	va_list			 ap;

	memset(&pd, 0, sizeof(pd));
	pd.pd_error = error;
	if (img != NULL) {
		pd.pd_nlayers = img->oi_nlayers;
		strlcpy(pd.pd_digest, img->oi_digest, sizeof(pd.pd_digest));
	}
	if (ls != NULL) {
		pd.pd_entries = ls->ls_entries;
		pd.pd_bytes = ls->ls_bytes;
	}
	va_start(ap, fmt);
	vsnprintf(pd.pd_msg, sizeof(pd.pd_msg), fmt, ap);
	va_end(ap);
	if (error != 0)
		log_warnx("pull: %s", pd.pd_msg);
	pull_send(pj, IMSG_PULL_DONE, &pd, sizeof(pd));
	exit(0);
}

/* The next message, waiting for it. */
static void
pull_recv(struct pull_job *pj, struct imsg *imsg)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	/* imsgbuf_read() takes "nothing yet" for success: poll first. */
	for (;;) {
		if ((n = imsg_get(pj->pj_ibuf, imsg)) == -1)
			fatal("%s: imsg_get", __func__);
		if (n > 0)
			return;
		pfd.fd = pj->pj_ibuf->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			fatal("%s: poll", __func__);
		if ((n = imsgbuf_read(pj->pj_ibuf)) == 0)
			fatalx("%s: the import's child went", __func__);
		if (n == -1)
			fatal("%s: imsgbuf_read", __func__);
	}
}

/* The sequence of the job's messages, each checked; ends at the start. */
static void
pull_receive(struct pull_job *pj)
{
	struct imsg	 imsg;
	struct pull_fs	 pf;
	struct pull_blob pb;
	struct stat	 st;
	const char	*why;
	size_t		 len, i;
	int		 fd;

	pj->pj_fsfd = pj->pj_scratch = pj->pj_cafd = -1;
	for (;;) {
		pull_recv(pj, &imsg);
		fd = imsg_get_fd(&imsg);
		switch (imsg_get_type(&imsg)) {
		case IMSG_PULL_FS:
			if (pj->pj_fsfd != -1 || fd == -1 ||
			    imsg_read_exact(&imsg, &pf, sizeof(pf)) == -1 ||
			    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
			    (uint64_t)st.st_size != pf.pf_size)
				fatalx("pull: a bad file system message");
			pj->pj_fsfd = fd;
			pj->pj_fssize = pf.pf_size;
			break;
		case IMSG_PULL_BLOB:
			if (fd == -1 || pj->pj_nblobs == OCI_FILES_MAX ||
			    pj->pj_registry ||
			    imsg_read_exact(&imsg, &pb, sizeof(pb)) == -1 ||
			    wire_string(pb.pb_name, sizeof(pb.pb_name),
			    &len) == -1 ||
			    valid_oci_name(pb.pb_name, len, &why) == -1 ||
			    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
				fatalx("pull: a bad layout file message");
			for (i = 0; i < pj->pj_nblobs; i++)
				if (strcmp(pj->pj_blobs[i].ob_name,
				    pb.pb_name) == 0)
					fatalx("pull: %s twice", pb.pb_name);
			strlcpy(pj->pj_blobs[i].ob_name, pb.pb_name,
			    sizeof(pj->pj_blobs[i].ob_name));
			pj->pj_blobs[i].ob_fd = fd;
			pj->pj_blobs[i].ob_size = (uint64_t)st.st_size;
			pj->pj_nblobs++;
			break;
		case IMSG_PULL_REGISTRY:
			if (pj->pj_registry || pj->pj_nblobs != 0 ||
			    imsg_read_exact(&imsg, &pj->pj_reg,
			    sizeof(pj->pj_reg)) == -1 ||
			    pull_registry_check(&pj->pj_reg) == -1 ||
			    (fd != -1 && (fstat(fd, &st) == -1 ||
			    !S_ISREG(st.st_mode))))
				fatalx("pull: a bad registry message");
			pj->pj_registry = 1;
			pj->pj_cafd = fd;
			break;
		case IMSG_PULL_SCRATCH:
			if (pj->pj_scratch != -1 || fd == -1 ||
			    imsg_get_len(&imsg) != 0 ||
			    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
				fatalx("pull: a bad scratch file message");
			pj->pj_scratch = fd;
			break;
		case IMSG_PULL_START:
			if (fd != -1 || pj->pj_fsfd == -1 ||
			    pj->pj_registry != (pj->pj_scratch != -1) ||
			    imsg_read_exact(&imsg, &pj->pj_start,
			    sizeof(pj->pj_start)) == -1 ||
			    wire_string(pj->pj_start.ps_arch,
			    sizeof(pj->pj_start.ps_arch), &len) == -1)
				fatalx("pull: a bad start message");
			imsg_free(&imsg);
			return;
		default:
			fatalx("pull: unexpected message type %u",
			    imsg_get_type(&imsg));
		}
		imsg_free(&imsg);
	}
}

/* A registry message's strings: terminated, the hosts counted. */
static int
pull_registry_check(struct pull_registry *pr)
{
	size_t	 len;
	uint32_t i;

	if (wire_string(pr->pr_api, sizeof(pr->pr_api), &len) == -1 ||
	    len == 0 ||
	    wire_string(pr->pr_repo, sizeof(pr->pr_repo), &len) == -1 ||
	    len == 0 ||
	    wire_string(pr->pr_ref, sizeof(pr->pr_ref), &len) == -1 ||
	    len == 0 ||
	    wire_string(pr->pr_resolve, sizeof(pr->pr_resolve), &len) == -1 ||
	    wire_string(pr->pr_auth, sizeof(pr->pr_auth), &len) == -1 ||
	    pr->pr_nhosts == 0 || pr->pr_nhosts > PULL_HOSTS_MAX)
		return -1;
	for (i = 0; i < pr->pr_nhosts; i++)
		if (wire_string(pr->pr_hosts[i], sizeof(pr->pr_hosts[i]),
		    &len) == -1 || len == 0)
			return -1;
	if (pr->pr_nmirrors > PULL_MIRRORS_MAX)
		return -1;
	for (i = 0; i < pr->pr_nmirrors; i++)
		if (wire_string(pr->pr_mirrors[i], sizeof(pr->pr_mirrors[i]),
		    &len) == -1 || len == 0)
			return -1;
	return strcmp(pr->pr_hosts[0], pr->pr_api) == 0 ? 0 : -1;
}

/* The CA bundle the child handed over, read whole. */
static char *
pull_ca(int fd, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	size_t		 off = 0;
	ssize_t		 n;

	*lenp = 0;
	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    st.st_size > PULL_CA_MAX)
		return NULL;
	if ((buf = malloc((size_t)st.st_size)) == NULL)
		fatal("%s", __func__);
	while (off < (size_t)st.st_size) {
		n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return NULL;
		}
		off += (size_t)n;
	}
	close(fd);
	*lenp = off;
	return buf;
}

/* registry_fetch()'s progress: the layers fetched, every step. */
static void
pull_fetch_progress(void *arg, uint64_t done, uint64_t total)
{
	struct pull_job	*pj = arg;

	if (done - pj->pj_last < PROGRESS_STEP && done != total)
		return;
	pj->pj_last = done;
	pj->pj_prog.pp_done = done;
	pj->pj_prog.pp_total = total * 2;	/* fetched, then unpacked */
	pull_send(pj, IMSG_PULL_PROGRESS, &pj->pj_prog,
	    sizeof(pj->pj_prog));
}

/* layer_apply()'s progress: every PROGRESS_STEP of the layers read. */
static void
pull_progress(void *arg, uint64_t read)
{
	struct pull_job	*pj = arg;
	uint64_t	 now = pj->pj_base + read;

	if (now - pj->pj_last < PROGRESS_STEP)
		return;
	pj->pj_last = now;
	pj->pj_prog.pp_done = now;
	pull_send(pj, IMSG_PULL_PROGRESS, &pj->pj_prog,
	    sizeof(pj->pj_prog));
}

void
pull_worker(struct imsgev *iev, const struct worker_init *wi)
{
	static struct pull_job	 job;
	static struct oci_image	 img;
	struct pull_job		*pj = &job;
	struct layer_limits	 lim;
	struct layer_stats	 ls, sum;
	struct oci_layer	*ol;
	struct oci_blob		*members = NULL;
	struct registry_fetch	 rf;
	ext2_filsys		 fs;
	char			*ca = NULL;
	uint64_t		 fetched = 0;
	char			 err[LAYER_ERR_MAX], what[128];
	size_t			 i, nmembers = 0;

	/*
	 * The death signal pull_preinit() set went with the change of
	 * uid (the kernel clears it then): set again, in the sandbox, so
	 * that a child that dies, or a parent killed with it, takes this
	 * worker along even while it waits on a registry.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		fatal("%s: PR_SET_PDEATHSIG", __func__);
	if (getppid() != pull_parent)
		fatalx("%s: the import's child went", __func__);
	pj->pj_ibuf = &iev->ibuf;
	if (imsgbuf_flush(pj->pj_ibuf) == -1)	/* worker_ready */
		fatal("%s: flush", __func__);
	pull_receive(pj);

	/* image build's tar: one layer, its own, with no layout. */
	if (pj->pj_nblobs == 1 &&
	    strcmp(pj->pj_blobs[0].ob_name, "layer.tar") == 0) {
		memset(&img, 0, sizeof(img));
		img.oi_nlayers = 1;
		img.oi_bytes = pj->pj_blobs[0].ob_size;
		img.oi_layers[0].ol_blob = &pj->pj_blobs[0];
		pj->pj_blobs[0].ob_verified = 1;
		strlcpy(img.oi_digest, "a tar", sizeof(img.oi_digest));
		strlcpy(img.oi_layers[0].ol_digest, "the tar",
		    sizeof(img.oi_layers[0].ol_digest));
	} else if (pj->pj_nblobs == 1 &&
	    strcmp(pj->pj_blobs[0].ob_name, "archive.tar") == 0) {
		/* A docker-archive: its members, read where they lie. */
		if ((members = calloc(ARCHIVE_MEMBERS_MAX,
		    sizeof(*members))) == NULL)
			fatal("%s", __func__);
		if (archive_resolve(pj->pj_blobs[0].ob_fd,
		    pj->pj_start.ps_arch, members, &nmembers, &img, err,
		    sizeof(err)) == -1)
			pull_done(pj, EINVAL, NULL, NULL, "%s", err);
	} else if (pj->pj_registry) {
		/* An image pull: the blobs fetched first, then as a layout. */
		memset(&rf, 0, sizeof(rf));
		rf.rf_reg = &pj->pj_reg;
		rf.rf_arch = pj->pj_start.ps_arch;
		rf.rf_ca = ca = pull_ca(pj->pj_cafd, &rf.rf_calen);
		rf.rf_scratch = pj->pj_scratch;
		rf.rf_stall_s = PULL_STALL_S;
		rf.rf_progress = pull_fetch_progress;
		rf.rf_arg = pj;
		if (registry_fetch(&rf, pj->pj_blobs, &pj->pj_nblobs, err,
		    sizeof(err)) == -1)
			pull_done(pj, EINVAL, NULL, NULL, "%s", err);
		free(ca);
		if (oci_resolve(pj->pj_blobs, pj->pj_nblobs,
		    pj->pj_start.ps_arch, &img, err, sizeof(err)) == -1)
			pull_done(pj, EINVAL, NULL, NULL, "%s", err);
		fetched = img.oi_bytes;
	} else if (oci_resolve(pj->pj_blobs, pj->pj_nblobs,
	    pj->pj_start.ps_arch, &img, err, sizeof(err)) == -1)
		pull_done(pj, EINVAL, NULL, NULL, "%s", err);
	log_info("pull: image %s, %zu layers, %llu bytes", img.oi_digest,
	    img.oi_nlayers, (unsigned long long)img.oi_bytes);

	memset(&lim, 0, sizeof(lim));
	lim.ll_entries = pj->pj_start.ps_entries_max;
	lim.ll_file_max = pj->pj_start.ps_file_max;
	lim.ll_bytes_max = pj->pj_start.ps_bytes_max;
	memset(&sum, 0, sizeof(sum));
	pj->pj_prog.pp_nlayers = img.oi_nlayers;
	pj->pj_prog.pp_total = img.oi_bytes + fetched;
	pj->pj_base = pj->pj_last = fetched;
	if (layerfs_open(pj->pj_fsfd, &fs, err, sizeof(err)) == -1)
		pull_done(pj, EINVAL, NULL, &img, "the new file system: %s",
		    err);
	for (i = 0; i < img.oi_nlayers; i++) {
		ol = &img.oi_layers[i];
		snprintf(what, sizeof(what), "layer %zu (%s)", i + 1,
		    ol->ol_digest);
		if (oci_blob_verify(ol->ol_blob, what, err,
		    sizeof(err)) == -1)
			pull_done(pj, EINVAL, &sum, &img, "%s", err);
		pj->pj_prog.pp_layer = i + 1;
		memset(&ls, 0, sizeof(ls));
		if (layer_apply_at(fs, ol->ol_blob->ob_fd, ol->ol_blob->ob_off,
		    ol->ol_blob->ob_size, &lim, &ls, pull_progress, pj, err,
		    sizeof(err)) == -1)
			pull_done(pj, EINVAL, &sum, &img, "layer %zu: %s",
			    i + 1, err);
		sum.ls_entries += ls.ls_entries;
		sum.ls_bytes += ls.ls_bytes;
		pj->pj_base += ol->ol_blob->ob_size;
	}
	if (layerfs_close(fs, err, sizeof(err)) == -1)
		pull_done(pj, EIO, &sum, &img, "the new file system: %s", err);
	/* The whole read: a progress bar ends full. */
	if (pj->pj_last != pj->pj_prog.pp_total) {
		pj->pj_prog.pp_done = pj->pj_prog.pp_total;
		pull_send(pj, IMSG_PULL_PROGRESS, &pj->pj_prog,
		    sizeof(pj->pj_prog));
	}
	pull_done(pj, 0, &sum, &img, "%zu layers, %llu entries, %llu bytes "
	    "of files", img.oi_nlayers, (unsigned long long)sum.ls_entries,
	    (unsigned long long)sum.ls_bytes);
}

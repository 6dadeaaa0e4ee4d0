/*
 * The update worker: fetches and verifies signed releases.  It runs as
 * _banger in its own chroot (STATE/update) and hands only a verified
 * artifact to the parent, in a sealed memfd.  The parent looks the
 * host up (upd_resolve) and checks everything again itself.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "update.h"
#include "fetch.h"
#include "validate.h"

static struct imsgev	*upd_parent;

static void
upd_send_failed(uint32_t id, int code, const char *msg)
{
	struct upd_failed	 uf;

	memset(&uf, 0, sizeof(uf));
	uf.uf_code = code;
	strlcpy(uf.uf_msg, msg, sizeof(uf.uf_msg));
	imsg_compose_event(upd_parent, IMSG_UPD_FAILED, id, 0, -1, &uf,
	    sizeof(uf));
}

/* Each whole percent of the artifact, straight to the parent. */
static void
upd_progress(uint64_t done, uint64_t total, void *arg)
{
	struct update_progress	 up;
	uint32_t		 id = *(uint32_t *)arg;

	memset(&up, 0, sizeof(up));
	up.up_done = done;
	up.up_total = total;
	if (imsg_compose(&upd_parent->ibuf, IMSG_UPD_PROGRESS, id, 0, -1, &up,
	    sizeof(up)) == -1 || imsgbuf_flush(&upd_parent->ibuf) == -1)
		fatal("%s", __func__);
}

/* A memfd holding buf, sealed against any change. */
static int
upd_memfd(const char *name, const void *a, size_t alen, const void *b,
    size_t blen)
{
	int	 fd;

	if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	if ((alen > 0 && write(fd, a, alen) != (ssize_t)alen) ||
	    (blen > 0 && write(fd, b, blen) != (ssize_t)blen) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
	    F_SEAL_SHRINK | F_SEAL_SEAL) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
upd_fetch(uint32_t id, const struct upd_fetch_req *uq)
{
	struct signify_pubkey	 key;
	struct upd_release	 rel;
	struct upd_fetch	 uf;
	struct upd_want		 want;
	struct upd_checked	 uc;
	char			 err[UPD_ERR_MAX];
	char			*m = NULL, *s = NULL;
	size_t			 mlen = 0, slen = 0;
	int			 rc, fd;

	memset(&uf, 0, sizeof(uf));
	uf.uf_ca = upd_ca;
	uf.uf_calen = upd_calen;
	uf.uf_allow_http = uq->uq_allow_http;
	uf.uf_resolve = uq->uq_resolve[0] != '\0' ? uq->uq_resolve : NULL;
	uf.uf_progress = upd_progress;
	uf.uf_progress_arg = &id;
	memset(&want, 0, sizeof(want));
	want.uw_running = uq->uq_running;
	want.uw_installed = uq->uq_installed[0] != '\0' ?
	    uq->uq_installed : NULL;
	want.uw_now = uq->uq_now;

	if ((rc = upd_builtin_pubkey(&key, err, sizeof(err))) != UPD_OK ||
	    (rc = upd_check(uq->uq_url, &uf, &key, &want, &rel, &m, &mlen,
	    &s, &slen, err, sizeof(err))) != UPD_OK) {
		log_debug("update: %s: %s", upd_errname(rc), err);
		upd_send_failed(id, rc, err);
		goto out;
	}
	if ((fd = upd_memfd("manifest", m, mlen, s, slen)) == -1) {
		upd_send_failed(id, UPD_EIO, "cannot keep the manifest in "
		    "memory");
		goto out;
	}
	memset(&uc, 0, sizeof(uc));
	strlcpy(uc.uc_version, rel.ur_version, sizeof(uc.uc_version));
	strlcpy(uc.uc_arch, rel.ur_arch, sizeof(uc.uc_arch));
	strlcpy(uc.uc_url, rel.ur_url, sizeof(uc.uc_url));
	uc.uc_length = rel.ur_length;
	memcpy(uc.uc_sha256, rel.ur_sha256, sizeof(uc.uc_sha256));
	uc.uc_released = rel.ur_released;
	uc.uc_expires = rel.ur_expires;
	uc.uc_manifest_len = mlen;
	uc.uc_sig_len = slen;
	imsg_compose_event(upd_parent, IMSG_UPD_CHECKED, id, 0, fd, &uc,
	    sizeof(uc));
	if (uq->uq_action != CTL_UPDATE_APPLY)
		goto out;

	/* The checked message goes before any progress. */
	if (imsgbuf_flush(&upd_parent->ibuf) == -1)
		fatal("%s: imsgbuf_flush", __func__);
	if ((fd = memfd_create("artifact", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1) {
		upd_send_failed(id, UPD_EIO, "cannot make a memfd for the "
		    "artifact");
		goto out;
	}
	if ((rc = upd_fetch_artifact(&rel, &uf, fd, err, sizeof(err))) !=
	    UPD_OK) {
		close(fd);
		log_debug("update: %s: %s", upd_errname(rc), err);
		upd_send_failed(id, rc, err);
		goto out;
	}
	imsg_compose_event(upd_parent, IMSG_UPD_ARTIFACT, id, 0, fd, NULL, 0);
 out:
	free(m);
	free(s);
}

static int
update_dispatch_parent(struct imsgev *iev, struct imsg *imsg)
{
	struct upd_fetch_req	 uq;
	size_t			 len;

	switch (imsg_get_type(imsg)) {
	case IMSG_UPD_FETCH:
		if (imsg_read_exact(imsg, &uq, sizeof(uq)) == -1 ||
		    wire_string(uq.uq_url, sizeof(uq.uq_url), &len) == -1 ||
		    wire_string(uq.uq_resolve, sizeof(uq.uq_resolve),
		    &len) == -1 ||
		    wire_string(uq.uq_running, sizeof(uq.uq_running),
		    &len) == -1 ||
		    wire_string(uq.uq_installed, sizeof(uq.uq_installed),
		    &len) == -1)
			fatalx("%s: malformed fetch request", __func__);
		upd_fetch(imsg_get_id(imsg), &uq);
		return 0;
	}
	return -1;
}

void
update_worker(struct imsgev *iev, const struct worker_init *wi)
{
	upd_parent = iev;
	worker_set_handler(update_dispatch_parent);
	iev->handler = worker_dispatch_parent;
	iev->data = iev;
	imsg_event_add(iev);
	event_dispatch();
	exit(0);
}

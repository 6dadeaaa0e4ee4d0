/*
 * A docker-archive, read in place in the pull worker: the uncompressed
 * tar `docker save` writes, and skopeo's docker-archive: transport.
 * Its members are found by walking the tar's headers (ustar, pax and
 * GNU long names) and used where they lie, as ranges of the one fd: no
 * member is copied out.  Docker 25 and later write an OCI layout into
 * the archive (index.json, blobs/sha256/), which oci_resolve() reads as
 * any layout; older ones and skopeo write manifest.json, naming the
 * config and each layer's tar by its path, whose SHA-256 must be the
 * config's diff_id for it.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "oci.h"
#include "validate.h"

#define TAR_BLOCK	512
#define MANIFEST_MAX	(1U << 20)

/* An octal field; -1 if it is not one (base-256 sizes are refused). */
static int64_t
octal(const unsigned char *p, size_t n)
{
	uint64_t	 v = 0;
	size_t		 i = 0;

	while (i < n && p[i] == ' ')
		i++;
	if (i == n || p[i] < '0' || p[i] > '7')
		return -1;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 4))
			return -1;
		v = (v << 3) | (uint64_t)(p[i] - '0');
	}
	if (i < n && p[i] != '\0' && p[i] != ' ')
		return -1;
	return (int64_t)v;
}

/* The header's checksum, as ustar defines it. */
static int
sum_ok(const unsigned char *h)
{
	uint64_t	 s = 0;
	int64_t		 want;
	size_t		 i;

	if ((want = octal(h + 148, 8)) == -1)
		return 0;
	for (i = 0; i < TAR_BLOCK; i++)
		s += (i >= 148 && i < 156) ? ' ' : h[i];
	return (int64_t)s == want;
}

/* "path=" of a pax extended header's records, into name. */
static int
pax_path(const char *rec, size_t len, char *name, size_t nlen)
{
	size_t	 off = 0, n, klen;
	char	*end;

	while (off < len) {
		n = strtoul(rec + off, &end, 10);
		if (end == rec + off || *end != ' ' || n == 0 ||
		    n > len - off)
			return -1;
		klen = (size_t)(end + 1 - (rec + off));
		if (n > klen + 5 && memcmp(end + 1, "path=", 5) == 0) {
			if (n - klen - 6 >= nlen)
				return -1;
			memcpy(name, end + 6, n - klen - 6);
			name[n - klen - 6] = '\0';
		}
		off += n;
	}
	return 0;
}

static int
read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t	 got = 0;
	ssize_t	 r;

	while (got < len) {
		r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/*
 * The archive's regular members, each a blob named by its path (a
 * leading "./" dropped), its data in place.
 */
static int
tar_index(int fd, struct oci_blob *m, size_t max, size_t *np, char *err,
    size_t len)
{
	unsigned char	 h[TAR_BLOCK];
	char		 name[PROTO_PATH_MAX], next[PROTO_PATH_MAX], *rec;
	uint64_t	 off = 0, size;
	int64_t		 sz;
	size_t		 n = 0, pl, nl;

	next[0] = '\0';
	for (;;) {
		if (read_at(fd, h, sizeof(h), off) == -1)
			return oci_fail(err, len, "--docker-archive: it ends "
			    "inside a header at byte %llu: a truncated tar?",
			    (unsigned long long)off);
		if (h[0] == '\0') {
			*np = n;
			return 0;
		}
		if (memcmp(h + 257, "ustar", 5) != 0 || !sum_ok(h))
			return oci_fail(err, len, "--docker-archive: no tar "
			    "header at byte %llu: give the uncompressed tar "
			    "docker save writes", (unsigned long long)off);
		if ((sz = octal(h + 124, 12)) == -1)
			return oci_fail(err, len, "--docker-archive: a "
			    "member's size at byte %llu is not octal",
			    (unsigned long long)off);
		size = (uint64_t)sz;
		if (h[156] == 'x' || h[156] == 'L') {
			if (size >= PROTO_PATH_MAX * 4 ||
			    (rec = malloc(size + 1)) == NULL)
				return oci_fail(err, len, "--docker-archive: "
				    "an extended header of %llu bytes",
				    (unsigned long long)size);
			if (read_at(fd, rec, size, off + TAR_BLOCK) == -1) {
				free(rec);
				return oci_fail(err, len, "--docker-archive: "
				    "truncated");
			}
			rec[size] = '\0';
			if (h[156] == 'L')
				strlcpy(next, rec, sizeof(next));
			else if (pax_path(rec, size, next, sizeof(next)) ==
			    -1) {
				free(rec);
				return oci_fail(err, len, "--docker-archive: a "
				    "bad pax header at byte %llu",
				    (unsigned long long)off);
			}
			free(rec);
		} else if (h[156] == '0' || h[156] == '\0') {
			if (next[0] != '\0')
				strlcpy(name, next, sizeof(name));
			else {
				pl = strnlen((char *)h + 345, 155);
				nl = strnlen((char *)h, 100);
				snprintf(name, sizeof(name), "%.*s%s%.*s",
				    (int)pl, (char *)h + 345, pl ? "/" : "",
				    (int)nl, (char *)h);
			}
			if (n == max)
				return oci_fail(err, len, "--docker-archive: "
				    "more than %zu files in it", max);
			strlcpy(m[n].ob_name, strncmp(name, "./", 2) == 0 ?
			    name + 2 : name, sizeof(m[n].ob_name));
			m[n].ob_off = off + TAR_BLOCK;
			m[n].ob_size = size;
			m[n].ob_fd = fd;
			m[n].ob_verified = 0;
			n++;
			next[0] = '\0';
		} else
			next[0] = '\0';
		if (size > UINT64_MAX - off - 2 * TAR_BLOCK)
			return oci_fail(err, len, "--docker-archive: a member "
			    "too large");
		off += TAR_BLOCK + (size + TAR_BLOCK - 1) / TAR_BLOCK *
		    TAR_BLOCK;
	}
}

static struct oci_blob *
member(struct oci_blob *m, size_t n, const char *name)
{
	size_t	 i;

	if (strncmp(name, "./", 2) == 0)
		name += 2;
	for (i = 0; i < n; i++)
		if (strcmp(m[i].ob_name, name) == 0)
			return &m[i];
	return NULL;
}

/* manifest.json's one image: its config and layers, each checked. */
static int
legacy(struct oci_blob *m, size_t n, const char *arch, struct oci_image *img,
    char *err, size_t len)
{
	struct oci_blob	*mb, *cb, *lb;
	json_t		*man = NULL, *cfg = NULL, *layers, *ids, *l;
	const char	*cpath, *lpath, *id;
	char		 hex[65], what[64];
	size_t		 i;
	int		 rv = -1;

	if ((mb = member(m, n, "manifest.json")) == NULL)
		return oci_fail(err, len, "--docker-archive: neither "
		    "index.json nor manifest.json in it: is it what docker "
		    "save writes?");
	/* An array, which oci_blob_json() does not take: parsed here. */
	{
		json_error_t	 je;
		char		*buf;

		if ((buf = oci_blob_read(mb, MANIFEST_MAX, "manifest.json",
		    err, len)) == NULL)
			return -1;
		man = json_loadb(buf, mb->ob_size, JSON_REJECT_DUPLICATES,
		    &je);
		free(buf);
		if (man == NULL)
			return oci_fail(err, len, "manifest.json: not JSON: %s "
			    "(line %d)", je.text, je.line);
	}
	if (!json_is_array(man) || json_array_size(man) != 1) {
		oci_fail(err, len, "manifest.json: %zu images: give an archive "
		    "of one (docker save of one image)", json_is_array(man) ?
		    json_array_size(man) : 0);
		goto out;
	}
	l = json_array_get(man, 0);
	cpath = json_string_value(json_object_get(l, "Config"));
	layers = json_object_get(l, "Layers");
	if (cpath == NULL || !json_is_array(layers) ||
	    json_array_size(layers) == 0 ||
	    json_array_size(layers) > OCI_FILES_MAX - 3) {
		oci_fail(err, len, "manifest.json: an image needs a Config and "
		    "1 to %d Layers", OCI_FILES_MAX - 3);
		goto out;
	}
	if ((cb = member(m, n, cpath)) == NULL) {
		oci_fail(err, len, "manifest.json: its Config %.200s is not in "
		    "the archive", cpath);
		goto out;
	}
	if ((cfg = oci_blob_json(cb, OCI_CONFIG_MAX, "the config", err,
	    len)) == NULL ||
	    oci_config_check(cfg, json_array_size(layers), arch, err,
	    len) == -1)
		goto out;
	ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	if (!json_is_array(ids)) {
		oci_fail(err, len, "the config has no rootfs.diff_ids to check "
		    "the layers by");
		goto out;
	}
	json_array_foreach(layers, i, l) {
		snprintf(what, sizeof(what), "layer %zu", i + 1);
		lpath = json_string_value(l);
		id = json_string_value(json_array_get(ids, i));
		if (lpath == NULL || (lb = member(m, n, lpath)) == NULL) {
			oci_fail(err, len, "%s: %.200s is not a file in the "
			    "archive", what, lpath ? lpath : "(not a string)");
			goto out;
		}
		if (oci_blob_sha256(lb, hex, what, err, len) == -1)
			goto out;
		if (id == NULL || strncmp(id, "sha256:", 7) != 0 ||
		    strcmp(id + 7, hex) != 0) {
			oci_fail(err, len, "%s: %.200s has sha256:%s, the "
			    "config's diff_id is %.80s", what, lpath, hex,
			    id ? id : "(none)");
			goto out;
		}
		lb->ob_verified = 1;
		img->oi_layers[i].ol_blob = lb;
		snprintf(img->oi_layers[i].ol_digest,
		    sizeof(img->oi_layers[i].ol_digest), "sha256:%s", hex);
		strlcpy(img->oi_layers[i].ol_media,
		    "application/vnd.docker.image.rootfs.diff.tar",
		    sizeof(img->oi_layers[i].ol_media));
		img->oi_bytes += lb->ob_size;
	}
	img->oi_nlayers = json_array_size(layers);
	snprintf(img->oi_digest, sizeof(img->oi_digest), "%.70s", cpath);
	rv = 0;
out:
	json_decref(cfg);
	json_decref(man);
	return rv;
}

/*
 * The image in the docker-archive on fd: its members into m (at most
 * ARCHIVE_MEMBERS_MAX), and the image resolved from them.
 */
int
archive_resolve(int fd, const char *arch, struct oci_blob *m, size_t *np,
    struct oci_image *img, char *err, size_t len)
{
	struct oci_blob	*lay;
	const char	*why;
	size_t		 i, n, k;

	memset(img, 0, sizeof(*img));
	if (tar_index(fd, m, ARCHIVE_MEMBERS_MAX, &n, err, len) == -1)
		return -1;
	*np = n;
	if (member(m, n, "index.json") == NULL)
		return legacy(m, n, arch, img, err, len);
	/* The layout in it: index.json and its blobs, the rest left. */
	if ((lay = calloc(OCI_FILES_MAX, sizeof(*lay))) == NULL)
		return oci_fail(err, len, "%s", strerror(errno));
	for (i = k = 0; i < n && k < OCI_FILES_MAX; i++)
		if (valid_oci_name(m[i].ob_name, strlen(m[i].ob_name),
		    &why) == 0 && strcmp(m[i].ob_name, "layer.tar") != 0 &&
		    strcmp(m[i].ob_name, "archive.tar") != 0)
			lay[k++] = m[i];
	if (oci_resolve(lay, k, arch, img, err, len) == -1) {
		free(lay);
		return -1;
	}
	/* The image's layers point into lay: move them to m's entries. */
	for (i = 0; i < img->oi_nlayers; i++)
		img->oi_layers[i].ol_blob = member(m, n,
		    img->oi_layers[i].ol_blob->ob_name);
	free(lay);
	return 0;
}

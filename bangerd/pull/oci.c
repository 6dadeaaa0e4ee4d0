/*
 * An OCI image layout, read in the pull worker (see oci.h).
 *
 * Nothing in the layout is trusted: index.json is read within a cap and
 * parsed with jansson (duplicate keys refused); every other file is
 * found by the digest a descriptor names, and used only once its size
 * is the descriptor's and its SHA-256 the digest.  An index may name
 * several manifests: the one for linux on this machine's architecture
 * is taken (one nested index, as a multi-platform image copied with
 * skopeo --all has, is followed).  Docker's schema 2 manifests and
 * manifest lists are read as their OCI counterparts.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "oci.h"
#include "validate.h"

/* The layers' media types layer.c unpacks (it tells the compression). */
static const char *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.nondistributable.v1.tar",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	NULL
};

/* err set from fmt; -1, for the callers' returns. */
int
oci_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

static struct oci_blob *
blob_find(struct oci_blob *blobs, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(blobs[i].ob_name, name) == 0)
			return &blobs[i];
	return NULL;
}

/*
 * The blob a descriptor's digest names: "sha256:" and 64 lowercase hex
 * digits, nothing else (OCI allows other algorithms; none is taken).
 */
static struct oci_blob *
blob_by_digest(struct oci_blob *blobs, size_t n, const char *digest,
    const char *what, char *err, size_t len)
{
	struct oci_blob	*b;
	char		 name[PROTO_PATH_MAX];
	const char	*why;

	if (strncmp(digest, "sha256:", 7) != 0) {
		oci_fail(err, len, "%s: digest \"%.80s\": only sha256 digests "
		    "are taken", what, digest);
		return NULL;
	}
	if ((size_t)snprintf(name, sizeof(name), "blobs/sha256/%s",
	    digest + 7) >= sizeof(name) ||
	    valid_oci_name(name, strlen(name), &why) == -1) {
		oci_fail(err, len, "%s: digest \"%.80s\" is not sha256: and 64 "
		    "lowercase hex digits", what, digest);
		return NULL;
	}
	if ((b = blob_find(blobs, n, name)) == NULL)
		oci_fail(err, len, "%s: the layout has no %s", what, name);
	return b;
}

/* The SHA-256 of the blob's bytes, in lowercase hex (65 bytes). */
int
oci_blob_sha256(struct oci_blob *b, char *hex, const char *what, char *err,
    size_t len)
{
	crypto_hash_sha256_state st;
	unsigned char	 buf[65536], sum[crypto_hash_sha256_BYTES];
	uint64_t	 off = 0;
	size_t		 want;
	ssize_t		 r;

	crypto_hash_sha256_init(&st);
	while (off < b->ob_size) {
		want = b->ob_size - off < sizeof(buf) ?
		    (size_t)(b->ob_size - off) : sizeof(buf);
		r = pread(b->ob_fd, buf, want, (off_t)(b->ob_off + off));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return oci_fail(err, len, "%s: %s: read: %s", what,
			    b->ob_name, strerror(errno));
		if (r == 0)
			return oci_fail(err, len, "%s: %s: shorter than its "
			    "%llu bytes", what, b->ob_name,
			    (unsigned long long)b->ob_size);
		crypto_hash_sha256_update(&st, buf, (size_t)r);
		off += (uint64_t)r;
	}
	crypto_hash_sha256_final(&st, sum);
	sodium_bin2hex(hex, crypto_hash_sha256_BYTES * 2 + 1, sum, sizeof(sum));
	return 0;
}

/* Whether the blob's bytes hash to digest ("sha256:HEX"); once only. */
int
oci_blob_verify(struct oci_blob *b, const char *what, char *err,
    size_t len)
{
	char	 hex[crypto_hash_sha256_BYTES * 2 + 1];

	if (b->ob_verified)
		return 0;
	if (oci_blob_sha256(b, hex, what, err, len) == -1)
		return -1;
	/* The name is the digest the descriptor gave (blob_by_digest). */
	if (strcmp(hex, b->ob_name + strlen("blobs/sha256/")) != 0)
		return oci_fail(err, len, "%s: %s has sha256:%s: its bytes are "
		    "not the ones its digest names", what, b->ob_name, hex);
	b->ob_verified = 1;
	return 0;
}

/* A small blob's bytes into a new buffer, within max, NUL-terminated. */
char *
oci_blob_read(struct oci_blob *b, size_t max, const char *what, char *err,
    size_t len)
{
	char	*buf;
	size_t	 off = 0;
	ssize_t	 r;

	if (b->ob_size > max) {
		oci_fail(err, len, "%s: %s is %llu bytes, more than the %zu "
		    "taken", what, b->ob_name,
		    (unsigned long long)b->ob_size, max);
		return NULL;
	}
	if ((buf = malloc(b->ob_size + 1)) == NULL) {
		oci_fail(err, len, "%s: %s", what, strerror(errno));
		return NULL;
	}
	while (off < b->ob_size) {
		r = pread(b->ob_fd, buf + off, b->ob_size - off,
		    (off_t)(b->ob_off + off));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			oci_fail(err, len, "%s: %s: read: %s", what, b->ob_name,
			    r == 0 ? "shorter than it was" : strerror(errno));
			free(buf);
			return NULL;
		}
		off += (size_t)r;
	}
	buf[off] = '\0';
	return buf;
}

json_t *
oci_blob_json(struct oci_blob *b, size_t max, const char *what, char *err,
    size_t len)
{
	json_error_t	 je;
	json_t		*j;
	char		*buf;

	if ((buf = oci_blob_read(b, max, what, err, len)) == NULL)
		return NULL;
	j = json_loadb(buf, b->ob_size, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (j == NULL)
		oci_fail(err, len, "%s: %s: not JSON: %s (line %d)", what,
		    b->ob_name, je.text, je.line);
	else if (!json_is_object(j)) {
		oci_fail(err, len, "%s: %s: not a JSON object", what, b->ob_name);
		json_decref(j);
		j = NULL;
	}
	return j;
}

static const char *
jstr(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * A descriptor: its media type, digest and size, checked against the
 * blob it names (size now, digest by the caller when it reads it).
 */
static struct oci_blob *
descriptor(json_t *d, struct oci_blob *blobs, size_t n, const char *what,
    const char **media, char *err, size_t len)
{
	struct oci_blob	*b;
	json_t		*size;
	const char	*digest;

	if (!json_is_object(d))
		return oci_fail(err, len, "%s: not a descriptor object", what),
		    NULL;
	*media = jstr(d, "mediaType");
	digest = jstr(d, "digest");
	size = json_object_get(d, "size");
	if (digest == NULL || !json_is_integer(size) ||
	    json_integer_value(size) < 0)
		return oci_fail(err, len, "%s: a descriptor needs a digest and a "
		    "size", what), NULL;
	if ((b = blob_by_digest(blobs, n, digest, what, err, len)) == NULL)
		return NULL;
	if ((uint64_t)json_integer_value(size) != b->ob_size)
		return oci_fail(err, len, "%s: %s is %llu bytes, its descriptor "
		    "says %lld", what, b->ob_name,
		    (unsigned long long)b->ob_size,
		    (long long)json_integer_value(size)), NULL;
	return b;
}

/* Whether a manifest descriptor's platform (if it has one) is ours. */
static int
platform_ours(json_t *d, const char *arch)
{
	json_t		*p = json_object_get(d, "platform");
	const char	*os, *a;

	if (p == NULL)
		return 1;
	os = jstr(p, "os");
	a = jstr(p, "architecture");
	return os != NULL && a != NULL && strcmp(os, "linux") == 0 &&
	    strcmp(a, arch) == 0;
}

/* From an index, the one manifest descriptor for linux/arch. */
json_t *
oci_index_pick(json_t *idx, const char *name, const char *arch, char *err,
    size_t len)
{
	json_t		*ms, *d, *pick = NULL;
	size_t		 i, ours = 0;

	ms = json_object_get(idx, "manifests");
	if (!json_is_array(ms) || json_array_size(ms) == 0)
		return oci_fail(err, len, "%s: no manifests", name), NULL;
	json_array_foreach(ms, i, d) {
		if (!json_is_object(d) || !platform_ours(d, arch))
			continue;
		ours++;
		if (pick == NULL)
			pick = d;
	}
	if (ours == 0)
		return oci_fail(err, len, "%s: no image for linux/%s among its "
		    "%zu", name, arch, json_array_size(ms)), NULL;
	if (ours > 1)
		return oci_fail(err, len, "%s: %zu images for linux/%s: give a "
		    "layout that holds one (skopeo copy docker://REF "
		    "oci:DIR)", name, ours, arch), NULL;
	return pick;
}

int
oci_layer_type_known(const char *t)
{
	size_t	 i;

	for (i = 0; layer_types[i] != NULL; i++)
		if (strcmp(t, layer_types[i]) == 0)
			return 1;
	return 0;
}

/* The config: for linux on this architecture, one diff_id a layer. */
int
oci_config_check(json_t *cfg, size_t nlayers, const char *arch, char *err,
    size_t len)
{
	const char	*os, *a;
	json_t		*rootfs, *ids;

	os = jstr(cfg, "os");
	a = jstr(cfg, "architecture");
	if ((os != NULL && strcmp(os, "linux") != 0) ||
	    (a != NULL && strcmp(a, arch) != 0))
		return oci_fail(err, len, "the image is for %.32s/%.32s; this "
		    "machine runs linux/%s", os ? os : "?", a ? a : "?",
		    arch);
	rootfs = json_object_get(cfg, "rootfs");
	ids = json_object_get(rootfs, "diff_ids");
	if (ids != NULL && (!json_is_array(ids) ||
	    json_array_size(ids) != nlayers))
		return oci_fail(err, len, "the image's config lists %zu layers, "
		    "its manifest %zu", json_is_array(ids) ?
		    json_array_size(ids) : 0, nlayers);
	return 0;
}

int
oci_resolve(struct oci_blob *blobs, size_t n, const char *arch,
    struct oci_image *img, char *err, size_t len)
{
	struct oci_blob	*idxb, *mb, *cb, *lb;
	json_t		*idx = NULL, *sub = NULL, *man = NULL, *cfg = NULL;
	json_t		*d, *layers, *l, *sv;
	const char	*media, *lmedia, *digest;
	char		 what[64];
	size_t		 i;
	int		 rv = -1;

	memset(img, 0, sizeof(*img));
	if ((idxb = blob_find(blobs, n, "index.json")) == NULL)
		return oci_fail(err, len, "the layout has no index.json: is it "
		    "an OCI image layout?");
	if ((idx = oci_blob_json(idxb, OCI_INDEX_MAX, "index.json", err,
	    len)) == NULL)
		return -1;
	sv = json_object_get(idx, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		oci_fail(err, len, "index.json: schemaVersion is not 2");
		goto out;
	}
	if ((d = oci_index_pick(idx, "index.json", arch, err, len)) == NULL ||
	    (mb = descriptor(d, blobs, n, "index.json", &media, err,
	    len)) == NULL)
		goto out;
	/* A nested index (an image list): once, not deeper. */
	if (media != NULL && (strcmp(media, MT_OCI_INDEX) == 0 ||
	    strcmp(media, MT_DOCKER_LIST) == 0)) {
		if (oci_blob_verify(mb, "the image index", err, len) == -1 ||
		    (sub = oci_blob_json(mb, OCI_INDEX_MAX, "the image index", err,
		    len)) == NULL ||
		    (d = oci_index_pick(sub, mb->ob_name, arch, err,
		    len)) == NULL ||
		    (mb = descriptor(d, blobs, n, mb->ob_name, &media, err,
		    len)) == NULL)
			goto out;
	}
	if (media != NULL && strcmp(media, MT_OCI_MANIFEST) != 0 &&
	    strcmp(media, MT_DOCKER_MANIFEST) != 0) {
		oci_fail(err, len, "the image's manifest has media type \"%.100s\": "
		    "neither an OCI manifest nor Docker's schema 2", media);
		goto out;
	}
	if (oci_blob_verify(mb, "the manifest", err, len) == -1 ||
	    (man = oci_blob_json(mb, OCI_MANIFEST_MAX, "the manifest", err,
	    len)) == NULL)
		goto out;
	snprintf(img->oi_digest, sizeof(img->oi_digest), "sha256:%s",
	    mb->ob_name + strlen("blobs/sha256/"));
	sv = json_object_get(man, "schemaVersion");
	media = jstr(man, "mediaType");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2 ||
	    (media != NULL && strcmp(media, MT_OCI_MANIFEST) != 0 &&
	    strcmp(media, MT_DOCKER_MANIFEST) != 0)) {
		oci_fail(err, len, "%s: not a schema 2 image manifest",
		    mb->ob_name);
		goto out;
	}
	layers = json_object_get(man, "layers");
	if (!json_is_array(layers) || json_array_size(layers) == 0) {
		oci_fail(err, len, "%s: the manifest has no layers", mb->ob_name);
		goto out;
	}
	if (json_array_size(layers) > OCI_FILES_MAX - 3) {
		oci_fail(err, len, "%s: %zu layers, more than the %d taken",
		    mb->ob_name, json_array_size(layers), OCI_FILES_MAX - 3);
		goto out;
	}
	if ((cb = descriptor(json_object_get(man, "config"), blobs, n,
	    "the manifest's config", &media, err, len)) == NULL ||
	    oci_blob_verify(cb, "the config", err, len) == -1 ||
	    (cfg = oci_blob_json(cb, OCI_CONFIG_MAX, "the config", err,
	    len)) == NULL ||
	    oci_config_check(cfg, json_array_size(layers), arch, err, len) == -1)
		goto out;
	json_array_foreach(layers, i, l) {
		snprintf(what, sizeof(what), "layer %zu", i + 1);
		if ((lb = descriptor(l, blobs, n, what, &lmedia, err,
		    len)) == NULL)
			goto out;
		if (lmedia == NULL || !oci_layer_type_known(lmedia)) {
			oci_fail(err, len, "%s: media type \"%.100s\" is not a "
			    "tar layer (plain, gzip or zstd)", what,
			    lmedia ? lmedia : "(none)");
			goto out;
		}
		if (lb->ob_size > OCI_LAYER_MAX) {
			oci_fail(err, len, "%s: %llu bytes, more than the %llu "
			    "taken", what, (unsigned long long)lb->ob_size,
			    (unsigned long long)OCI_LAYER_MAX);
			goto out;
		}
		digest = jstr(l, "digest");
		strlcpy(img->oi_layers[i].ol_digest, digest,
		    sizeof(img->oi_layers[i].ol_digest));
		strlcpy(img->oi_layers[i].ol_media, lmedia,
		    sizeof(img->oi_layers[i].ol_media));
		img->oi_layers[i].ol_blob = lb;
		img->oi_bytes += lb->ob_size;
	}
	img->oi_nlayers = json_array_size(layers);
	rv = 0;
out:
	json_decref(cfg);
	json_decref(man);
	json_decref(sub);
	json_decref(idx);
	return rv;
}

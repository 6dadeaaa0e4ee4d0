/*
 * An OCI image layout's files, as the pull worker was handed them, and
 * the image they hold: index.json to a manifest (through at most one
 * nested index), its config and its layers, each blob checked against
 * its descriptor's size and digest before it is used.
 */
#ifndef OCI_H
#define OCI_H

#include <stdint.h>

#include <jansson.h>

#include "proto.h"

#define OCI_INDEX_MAX		(4U << 20)	/* index.json, an index */
#define OCI_MANIFEST_MAX	(4U << 20)
#define OCI_CONFIG_MAX		(8U << 20)
#define OCI_LAYER_MAX		(64ULL << 30)	/* one compressed layer */
#define OCI_DIGEST_MAX		80		/* "sha256:" and 64 hex */

#define MT_OCI_INDEX	"application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST	"application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

struct oci_blob {
	char		 ob_name[PROTO_PATH_MAX];	/* valid_oci_name() */
	int		 ob_fd;
	uint64_t	 ob_off;		/* its first byte in ob_fd */
	uint64_t	 ob_size;
	int		 ob_verified;		/* its digest checked */
};

struct oci_layer {
	struct oci_blob	*ol_blob;
	char		 ol_digest[OCI_DIGEST_MAX];
	char		 ol_media[128];
};

struct oci_image {
	char		 oi_digest[OCI_DIGEST_MAX];	/* the manifest's */
	size_t		 oi_nlayers;
	struct oci_layer oi_layers[OCI_FILES_MAX];
	uint64_t	 oi_bytes;		/* the layers' sizes, summed */
};

int	oci_fail(char *, size_t, const char *, ...)
	    __attribute__((__format__ (printf, 3, 4)));
int	oci_resolve(struct oci_blob *, size_t, const char *,
	    struct oci_image *, char *, size_t);
int	oci_blob_verify(struct oci_blob *, const char *, char *, size_t);
char	*oci_blob_read(struct oci_blob *, size_t, const char *, char *,
	    size_t);
int	oci_blob_sha256(struct oci_blob *, char *, const char *, char *,
	    size_t);
json_t	*oci_blob_json(struct oci_blob *, size_t, const char *, char *,
	    size_t);
json_t	*oci_index_pick(json_t *, const char *, const char *, char *,
	    size_t);
int	oci_layer_type_known(const char *);
int	oci_config_check(json_t *, size_t, const char *, char *, size_t);

/* archive.c: a docker-archive (docker save, skopeo docker-archive:) */
#define ARCHIVE_MEMBERS_MAX	(OCI_FILES_MAX * 4)
int	archive_resolve(int, const char *, struct oci_blob *, size_t *,
	    struct oci_image *, char *, size_t);

/* registry.c: an image fetched from a registry into a scratch file */
struct pull_registry;
struct registry_fetch {
	const struct pull_registry *rf_reg;
	const char	*rf_arch;
	const char	*rf_ca;		/* PEM, or NULL */
	size_t		 rf_calen;
	int		 rf_scratch;	/* the blobs are written here */
	long		 rf_stall_s;	/* no byte for this long: stalled */
	void		(*rf_progress)(void *, uint64_t, uint64_t);
	void		*rf_arg;
};
int	registry_fetch(const struct registry_fetch *, struct oci_blob *,
	    size_t *, char *, size_t);
extern const int	registry_syscalls[];
extern const size_t	registry_nsyscalls;

#endif /* OCI_H */

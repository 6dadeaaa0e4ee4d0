/*
 * An image reference as `bangerctl image pull` takes it, with Docker's
 * rules: [REGISTRY/]REPOSITORY[:TAG][@sha256:HEX].  The first part is a
 * registry when it holds a '.' or a ':' or is "localhost"; otherwise
 * the registry is docker.io, where a one-part repository is under
 * "library/".  No tag and no digest means the tag "latest".
 */
#ifndef BANGER_IMGREF_H
#define BANGER_IMGREF_H

#define IMGREF_MAX		511	/* the whole reference, without NUL */
#define IMGREF_DOMAIN_MAX	255
#define IMGREF_REPO_MAX		255
#define IMGREF_TAG_MAX		128
#define IMGREF_DIGEST_LEN	71	/* "sha256:" and 64 hex */
#define IMGREF_DOCKER_HUB	"docker.io"
#define IMGREF_DOCKER_API	"registry-1.docker.io"

struct image_ref {
	char	rf_domain[IMGREF_DOMAIN_MAX + 1];	/* host[:port] */
	char	rf_repo[IMGREF_REPO_MAX + 1];
	char	rf_tag[IMGREF_TAG_MAX + 1];		/* "" with a digest */
	char	rf_digest[IMGREF_DIGEST_LEN + 1];	/* "" with a tag */
};

int		 image_ref_parse(const char *, struct image_ref *,
		    const char **);
const char	*image_ref_api(const struct image_ref *);
int		 image_ref_domain_ok(const char *);
int		 image_ref_format(const struct image_ref *, char *, size_t);

#endif /* BANGER_IMGREF_H */

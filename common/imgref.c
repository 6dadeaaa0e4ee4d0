/*
 * Image references (imgref.h), checked byte by byte as the OCI
 * distribution's reference grammar has them:
 *
 *	domain     host-part ('.' host-part)* [':' port]
 *	host-part  [a-zA-Z0-9] ([a-zA-Z0-9-]* [a-zA-Z0-9])?
 *	component  [a-z0-9]+ (separator [a-z0-9]+)*
 *	separator  '.' | '_' | '__' | '-'+
 *	tag        [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *	digest     sha256:[0-9a-f]{64}
 *
 * A reference with both a tag and a digest is taken by its digest.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "imgref.h"

static int
bad(const char **why, const char *s)
{
	if (why != NULL)
		*why = s;
	return -1;
}

static int
lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* s[0..len) a domain: host parts and an optional port. */
static int
domain_ok(const char *s, size_t len)
{
	size_t	 i, part = 0, port = 0;
	int	 in_port = 0;

	if (len == 0 || len > IMGREF_DOMAIN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (in_port) {
			if (!isdigit((unsigned char)s[i]) || ++port > 5)
				return 0;
			continue;
		}
		if (s[i] == '.' || s[i] == ':') {
			if (part == 0 || s[i - 1] == '-')
				return 0;
			part = 0;
			in_port = s[i] == ':';
			continue;
		}
		if (s[i] == '-') {
			if (part == 0)
				return 0;
		} else if (!isalnum((unsigned char)s[i]))
			return 0;
		part++;
	}
	return in_port ? port > 0 : part > 0 && s[len - 1] != '-';
}

/* s[0..len) one path component. */
static int
component_ok(const char *s, size_t len)
{
	size_t	 i = 0;

	for (;;) {
		if (i >= len || !lower_alnum(s[i]))
			return 0;
		while (i < len && lower_alnum(s[i]))
			i++;
		if (i == len)
			return 1;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_') {
			if (++i < len && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else
			return 0;
	}
}

static int
tag_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > IMGREF_TAG_MAX ||
	    !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

static int
digest_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len != IMGREF_DIGEST_LEN || strncmp(s, "sha256:", 7) != 0)
		return 0;
	for (i = 7; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' &&
		    s[i] <= 'f'))
			return 0;
	return 1;
}

int
image_ref_parse(const char *s, struct image_ref *r, const char **why)
{
	const char	*at, *slash, *name, *colon, *p, *end;
	size_t		 len, nlen, plen;

	memset(r, 0, sizeof(*r));
	if (s == NULL || (len = strlen(s)) == 0)
		return bad(why, "empty");
	if (len > IMGREF_MAX)
		return bad(why, "longer than 511 bytes");
	end = s + len;
	if ((at = strchr(s, '@')) != NULL) {
		if (!digest_ok(at + 1, (size_t)(end - at - 1)))
			return bad(why, "the digest after '@' is not "
			    "sha256: and 64 lowercase hex digits");
		memcpy(r->rf_digest, at + 1, IMGREF_DIGEST_LEN);
		end = at;
	}
	/* The domain: a first part with '.' or ':', or "localhost". */
	name = s;
	if ((slash = memchr(s, '/', (size_t)(end - s))) != NULL) {
		plen = (size_t)(slash - s);
		if (memchr(s, '.', plen) != NULL ||
		    memchr(s, ':', plen) != NULL ||
		    (plen == 9 && memcmp(s, "localhost", 9) == 0)) {
			if (!domain_ok(s, plen))
				return bad(why, "the registry is not a host "
				    "name or address with an optional :PORT");
			memcpy(r->rf_domain, s, plen);
			name = slash + 1;
		}
	}
	if (r->rf_domain[0] == '\0' || strcmp(r->rf_domain,
	    "index.docker.io") == 0)
		strlcpy(r->rf_domain, IMGREF_DOCKER_HUB,
		    sizeof(r->rf_domain));
	/* The tag: after the last ':' that has no '/' after it. */
	colon = NULL;
	for (p = name; p < end; p++)
		if (*p == ':')
			colon = p;
		else if (*p == '/')
			colon = NULL;
	if (colon != NULL) {
		if (!tag_ok(colon + 1, (size_t)(end - colon - 1)))
			return bad(why, "the tag is not 1 to 128 of "
			    "A-Z a-z 0-9 _ . - (not starting with . or -)");
		if (r->rf_digest[0] == '\0')
			memcpy(r->rf_tag, colon + 1, (size_t)(end - colon - 1));
		end = colon;
	}
	if (colon == NULL && r->rf_digest[0] == '\0')
		strlcpy(r->rf_tag, "latest", sizeof(r->rf_tag));
	/* The repository: components between '/'. */
	nlen = (size_t)(end - name);
	if (nlen == 0)
		return bad(why, "no repository");
	for (p = name;; p = slash + 1) {
		if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
			slash = end;
		if (!component_ok(p, (size_t)(slash - p)))
			return bad(why, "a repository part is not lowercase "
			    "letters and digits joined by '.', '_', '__' or "
			    "'-'");
		if (slash == end)
			break;
	}
	if (strcmp(r->rf_domain, IMGREF_DOCKER_HUB) == 0 &&
	    memchr(name, '/', nlen) == NULL) {
		if (nlen + 8 > IMGREF_REPO_MAX)
			return bad(why, "the repository is longer than 255 "
			    "bytes");
		memcpy(r->rf_repo, "library/", 8);
		memcpy(r->rf_repo + 8, name, nlen);
	} else {
		if (nlen > IMGREF_REPO_MAX)
			return bad(why, "the repository is longer than 255 "
			    "bytes");
		memcpy(r->rf_repo, name, nlen);
	}
	return 0;
}

/* A registry's domain as a reference or bangerd.conf names it. */
int
image_ref_domain_ok(const char *s)
{
	return s != NULL && domain_ok(s, strlen(s));
}

/* The host[:port] the registry's API is at. */
const char *
image_ref_api(const struct image_ref *r)
{
	if (strcmp(r->rf_domain, IMGREF_DOCKER_HUB) == 0)
		return IMGREF_DOCKER_API;
	return r->rf_domain;
}

/* The reference in full: DOMAIN/REPO:TAG or DOMAIN/REPO@DIGEST. */
int
image_ref_format(const struct image_ref *r, char *buf, size_t len)
{
	int	 n;

	if (r->rf_digest[0] != '\0')
		n = snprintf(buf, len, "%s/%s@%s", r->rf_domain, r->rf_repo,
		    r->rf_digest);
	else
		n = snprintf(buf, len, "%s/%s:%s", r->rf_domain, r->rf_repo,
		    r->rf_tag);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

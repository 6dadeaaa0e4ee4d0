/*
 * Unit tests for common/imgref.c: image references as image pull takes
 * them, with Docker's naming, and the ones refused.
 */
#include <stdio.h>
#include <string.h>

#include "imgref.h"
#include "regress.h"

struct good {
	const char	*ref;
	const char	*domain, *repo, *tag, *digest, *api;
};

#define D64	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct good good[] = {
	{ "debian", "docker.io", "library/debian", "latest", "",
	    "registry-1.docker.io" },
	{ "debian:12", "docker.io", "library/debian", "12", "",
	    "registry-1.docker.io" },
	{ "user/app:v1.2_x-y", "docker.io", "user/app", "v1.2_x-y", "",
	    "registry-1.docker.io" },
	{ "docker.io/library/alpine", "docker.io", "library/alpine",
	    "latest", "", "registry-1.docker.io" },
	{ "index.docker.io/alpine", "docker.io", "library/alpine", "latest",
	    "", "registry-1.docker.io" },
	{ "localhost/app", "localhost", "app", "latest", "", "localhost" },
	{ "localhost:5000/a/b/c:t", "localhost:5000", "a/b/c", "t", "",
	    "localhost:5000" },
	{ "127.0.0.1:5000/app", "127.0.0.1:5000", "app", "latest", "",
	    "127.0.0.1:5000" },
	{ "reg.example/team/app@sha256:" D64, "reg.example", "team/app", "",
	    "sha256:" D64, "reg.example" },
	{ "reg.example/app:v1@sha256:" D64, "reg.example", "app", "",
	    "sha256:" D64, "reg.example" },
	{ "Reg-1.Example:443/a.b__c--d_e", "Reg-1.Example:443",
	    "a.b__c--d_e", "latest", "", "Reg-1.Example:443" },
};

struct badref {
	const char	*ref;
	const char	*why;
};

static const struct badref badrefs[] = {
	{ "", "empty" },
	{ "Debian", "a repository part is not lowercase" },
	{ "debian:", "the tag is not" },
	{ "debian:-x", "the tag is not" },
	{ "debian:a/b", "the registry is not" },
	{ "a//b", "a repository part" },
	{ "a/", "a repository part" },
	{ "-a", "a repository part" },
	{ "a_-b", "a repository part" },
	{ "a___b", "a repository part" },
	{ "a..b", "a repository part" },
	{ "reg.example/", "no repository" },
	{ "reg.example:/a", "the registry is not" },
	{ "reg.example:123456/a", "the registry is not" },
	{ "-reg.example/a", "the registry is not" },
	{ "reg_x.example/a", "the registry is not" },
	{ "debian@sha256:abc", "the digest after '@'" },
	{ "debian@sha512:" D64, "the digest after '@'" },
	{ "debian@sha256:" D64 "0", "the digest after '@'" },
	{ "debian@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef"
	    "0123456789abcdef", "the digest after '@'" },
	{ "a b", "a repository part" },
};

int
main(void)
{
	struct image_ref	 r;
	const struct good	*g;
	const char		*why;
	char			 name[160], buf[IMGREF_MAX + 40], big[600];
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		g = &good[i];
		snprintf(name, sizeof(name), "imgref: %s", g->ref);
		why = NULL;
		if (image_ref_parse(g->ref, &r, &why) == -1) {
			t_fail(name, "refused: %s", why);
			continue;
		}
		if (strcmp(r.rf_domain, g->domain) != 0 ||
		    strcmp(r.rf_repo, g->repo) != 0 ||
		    strcmp(r.rf_tag, g->tag) != 0 ||
		    strcmp(r.rf_digest, g->digest) != 0 ||
		    strcmp(image_ref_api(&r), g->api) != 0)
			t_fail(name, "domain %s repo %s tag %s digest %s api %s",
			    r.rf_domain, r.rf_repo, r.rf_tag, r.rf_digest,
			    image_ref_api(&r));
		else
			t_pass(name);
	}
	for (i = 0; i < sizeof(badrefs) / sizeof(badrefs[0]); i++) {
		snprintf(name, sizeof(name), "imgref: \"%.60s\" refused",
		    badrefs[i].ref);
		why = NULL;
		if (image_ref_parse(badrefs[i].ref, &r, &why) == 0)
			t_fail(name, "taken: %s/%s:%s", r.rf_domain, r.rf_repo,
			    r.rf_tag);
		else if (why == NULL || strncmp(why, badrefs[i].why,
		    strlen(badrefs[i].why)) != 0)
			t_fail(name, "says \"%s\", not \"%s\"", why ? why :
			    "(nothing)", badrefs[i].why);
		else
			t_pass(name);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	T_CHECK("imgref: a reference of 599 bytes is refused",
	    image_ref_parse(big, &r, &why) == -1 && strstr(why, "511") != NULL,
	    "%s", why);
	big[300] = '\0';
	T_CHECK("imgref: a repository of 300 bytes is refused",
	    image_ref_parse(big, &r, &why) == -1 && strstr(why, "255") != NULL,
	    "%s", why);
	T_CHECK("imgref: NULL is refused", image_ref_parse(NULL, &r, &why) ==
	    -1, "taken");
	image_ref_parse("debian", &r, NULL);
	T_CHECK("imgref: format with a tag",
	    image_ref_format(&r, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "docker.io/library/debian:latest") == 0, "%s", buf);
	image_ref_parse("r.example/a@sha256:" D64, &r, NULL);
	T_CHECK("imgref: format with a digest",
	    image_ref_format(&r, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "r.example/a@sha256:" D64) == 0, "%s", buf);
	T_CHECK("imgref: format into too small a buffer",
	    image_ref_format(&r, buf, 10) == -1, "fit");
	T_CHECK("imgref: domain_ok takes host:port",
	    image_ref_domain_ok("a.b-c.example:8443") &&
	    !image_ref_domain_ok("a.b:") && !image_ref_domain_ok("a b") &&
	    !image_ref_domain_ok(NULL), "wrong");
	return t_done();
}

/*
 * An image fetched from a registry with the OCI distribution API, in
 * the pull worker (image pull).  The manifest is asked for by tag or
 * digest, an index or manifest list narrowed to linux on this
 * architecture, then the config and the layers fetched by digest.
 * Every blob lands in the scratch file the import's child handed over,
 * its size and SHA-256 checked as it streams; what is kept is a set of
 * struct oci_blob as a layout would give, with an index.json written
 * here that names the manifest fetched, so that oci_resolve() reads a
 * registry's image exactly as it reads a layout.
 *
 * Reaching out: only the hosts the parent listed (the registry's API
 * first, then those bangerd.conf gives it), by the addresses the
 * parent looked up (curl resolve entries; no name is looked up here),
 * over https with the CA bundle handed over, or plain http for a
 * registry configured insecure.  Redirects are followed by hand, at
 * most REG_REDIRECTS, each to a listed host; a token service's realm
 * must be one too.  Credentials go to the registry's API host and its
 * token service only, never to a host a redirect names.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <seccomp.h>
#include <sodium.h>

#include "log.h"
#include "oci.h"
#include "proto.h"
#include "validate.h"

#ifndef BANGER_VERSION
#define BANGER_VERSION	"unknown"
#endif

#define REG_USERAGENT	"bangerd-pull/" BANGER_VERSION
#define REG_REDIRECTS	5
#define REG_CONNECT_MS	15000L
#define REG_SMALL_MS	(120 * 1000L)	/* manifest, config, token */
#define REG_TOKEN_MAX	(64U << 10)	/* the token service's answer */
#define REG_ERRBODY_MAX	4096		/* an error page, kept */
#define REG_BEARER_MAX	8192
#define REG_URL_MAX	2048

static const char accept_manifests[] = "Accept: "
    MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", "
    MT_DOCKER_MANIFEST;

/*
 * What a fetch needs beyond the pull worker's other lists: measured
 * with strace -f on bangerd, the calls a pull worker made after its
 * filter was loaded, in two pulls: over https with a token service,
 * and over http with a redirect to another listed host (sandbox.c's
 * seccomp_pullnet; regress/docs/drift.sh compares them).
 */
const int registry_syscalls[] = {
	SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(socketpair),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(recvfrom),
};
const size_t registry_nsyscalls =
    sizeof(registry_syscalls) / sizeof(registry_syscalls[0]);

struct reg {
	const struct registry_fetch *rg_f;
	const struct pull_registry *rg_pr;
	const char		*rg_api;	/* pr_api, or a mirror */
	const char		*rg_scheme;	/* "https" or "http" */
	struct curl_slist	*rg_resolve;
	char			 rg_bearer[REG_BEARER_MAX]; /* "": none */
	int			 rg_basic;	/* pr_auth as Basic */
	struct oci_blob		*rg_blobs;
	size_t			 rg_nblobs;
	uint64_t		 rg_end;	/* the scratch file's end */
	uint64_t		 rg_done;	/* the layers fetched, bytes */
	uint64_t		 rg_total;
};

/* One response: where its body goes, and the headers kept. */
struct resp {
	struct reg	*r_reg;
	long		 r_status;
	/* the body: into r_buf (at most r_cap) or the scratch file */
	char		*r_buf;
	size_t		 r_cap;
	int		 r_tofile;
	uint64_t	 r_off;		/* in the scratch file */
	uint64_t	 r_want;	/* a blob's declared size */
	uint64_t	 r_got;
	crypto_hash_sha256_state r_sha;
	int		 r_toobig;
	int		 r_ioerr;
	int		 r_layer;	/* counts for progress */
	int		 r_token;	/* to a token service */
	/* an error page, kept to explain */
	char		 r_ebody[REG_ERRBODY_MAX + 1];
	size_t		 r_elen;
	char		 r_location[REG_URL_MAX];
	char		 r_challenge[1024];
	char		 r_type[256];
	char		 r_digest[OCI_DIGEST_MAX];
};

/* A header's value into dst, trimmed, if line is that header. */
static void
header_take(const char *line, size_t n, const char *name, char *dst,
    size_t dlen)
{
	size_t	 k = strlen(name), v;

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return;
	line += k + 1;
	n -= k + 1;
	while (n > 0 && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' ||
	    line[n - 1] == ' '))
		n--;
	v = n < dlen - 1 ? n : dlen - 1;
	memcpy(dst, line, v);
	dst[v] = '\0';
}

static size_t
resp_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct resp	*r = arg;
	size_t		 n = size * nmemb;

	const char	*sp;

	/* A status line: a new response (after a 100, say) begins. */
	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		r->r_location[0] = r->r_challenge[0] = '\0';
		r->r_type[0] = r->r_digest[0] = '\0';
		r->r_status = 0;
		if ((sp = memchr(ptr, ' ', n)) != NULL &&
		    (size_t)(sp - ptr) + 4 <= n)
			r->r_status = strtol(sp + 1, NULL, 10);
		return n;
	}
	header_take(ptr, n, "location", r->r_location,
	    sizeof(r->r_location));
	header_take(ptr, n, "www-authenticate", r->r_challenge,
	    sizeof(r->r_challenge));
	header_take(ptr, n, "content-type", r->r_type, sizeof(r->r_type));
	header_take(ptr, n, "docker-content-digest", r->r_digest,
	    sizeof(r->r_digest));
	return n;
}

static size_t
resp_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct resp	*r = arg;
	struct reg	*rg = r->r_reg;
	size_t		 n = size * nmemb, off, k;
	ssize_t		 w;

	if (r->r_status < 200 || r->r_status > 299) {
		k = REG_ERRBODY_MAX - r->r_elen;
		if (k > n)
			k = n;
		memcpy(r->r_ebody + r->r_elen, ptr, k);
		r->r_elen += k;
		r->r_ebody[r->r_elen] = '\0';
		return n;
	}
	if (n > (r->r_tofile ? r->r_want : r->r_cap) - r->r_got) {
		r->r_toobig = 1;
		return 0;
	}
	if (!r->r_tofile)
		memcpy(r->r_buf + r->r_got, ptr, n);
	else {
		for (off = 0; off < n; off += (size_t)w) {
			w = pwrite(rg->rg_f->rf_scratch, ptr + off, n - off,
			    (off_t)(r->r_off + r->r_got + off));
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0) {
				r->r_ioerr = w == -1 ? errno : EIO;
				return 0;
			}
		}
	}
	crypto_hash_sha256_update(&r->r_sha, (const unsigned char *)ptr, n);
	r->r_got += n;
	if (r->r_layer && rg->rg_f->rf_progress != NULL)
		rg->rg_f->rf_progress(rg->rg_f->rf_arg, rg->rg_done + r->r_got,
		    rg->rg_total);
	return n;
}

/* Whether host:port hp is listed, where a listing without a port has
 * the scheme's. */
static int
host_is(const struct reg *rg, const char *hp, const char *listed)
{
	char	 dflt[300];

	snprintf(dflt, sizeof(dflt), "%s:%s", listed,
	    strcmp(rg->rg_scheme, "https") == 0 ? "443" : "80");
	return strcasecmp(hp, listed) == 0 ||
	    (strchr(listed, ':') == NULL && strcasecmp(hp, dflt) == 0);
}

/*
 * Whether url may be fetched: its scheme the registry's, its host and
 * port among the listed ones.  Sets *api when it is the host the image
 * is asked of (the registry's API, or the mirror being tried).
 */
static int
url_allowed(struct reg *rg, CURLU *h, const char *url, int *api, char *err,
    size_t len)
{
	const struct pull_registry *pr = rg->rg_pr;
	char		*scheme = NULL, *host = NULL, *port = NULL;
	char		 hp[300];
	uint32_t	 i;
	int		 rv = -1;

	*api = 0;
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK) {
		oci_fail(err, len, "%.300s: not a URL with a host", url);
		goto out;
	}
	if (strcmp(scheme, rg->rg_scheme) != 0) {
		oci_fail(err, len, "%.300s: %s, where this registry is reached "
		    "over %s%s", url, scheme, rg->rg_scheme,
		    pr->pr_insecure ? "" : " (http only for a registry "
		    "configured insecure in bangerd.conf)");
		goto out;
	}
	snprintf(hp, sizeof(hp), "%s:%s", host, port);
	for (i = 0; i < pr->pr_nhosts; i++) {
		if (host_is(rg, hp, pr->pr_hosts[i])) {
			*api = host_is(rg, hp, rg->rg_api);
			rv = 0;
			goto out;
		}
	}
	oci_fail(err, len, "%.300s: host %s is not the registry's (%s); a "
	    "registry block in bangerd.conf may name it with \"host\"", url,
	    hp, pr->pr_api);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return rv;
}

/* The registry's own words from an error page, if it sent JSON ones. */
static void
reg_explain(const struct resp *r, char *buf, size_t len)
{
	json_t		*j, *e;
	const char	*code, *msg;

	buf[0] = '\0';
	if ((j = json_loadb(r->r_ebody, r->r_elen, 0, NULL)) == NULL)
		return;
	e = json_array_get(json_object_get(j, "errors"), 0);
	code = json_string_value(json_object_get(e, "code"));
	msg = json_string_value(json_object_get(e, "message"));
	if (code != NULL || msg != NULL)
		snprintf(buf, len, ": %.40s%s%.160s", code ? code : "",
		    code && msg ? " " : "", msg ? msg : "");
	json_decref(j);
}

static int	reg_token(struct reg *, const char *, char *, size_t);

/*
 * One GET of url into r, following redirects and answering one auth
 * challenge.  0 on a 2xx with the whole body; else -1, err saying why.
 */
static int
reg_get(struct reg *rg, const char *url0, const char *accept,
    struct resp *r, const char *what, char *err, size_t len)
{
	const struct registry_fetch *f = rg->rg_f;
	const struct pull_registry *pr = rg->rg_pr;
	struct curl_slist *hdrs = NULL;
	struct curl_blob blob;
	CURLU		*h = NULL;
	CURL		*c = NULL;
	CURLcode	 cc;
	char		 url[REG_URL_MAX], ebuf[CURL_ERROR_SIZE], why[256];
	char		*auth = NULL, *u = NULL;
	long		 oserr;
	int		 hops = 0, authed = 0, api, sendbasic, rv = -1;

	strlcpy(url, url0, sizeof(url));
	if ((h = curl_url()) == NULL)
		return oci_fail(err, len, "out of memory");
	for (;;) {
		if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK) {
			oci_fail(err, len, "%s: %.300s: not a URL", what, url);
			goto out;
		}
		if (url_allowed(rg, h, url, &api, err, len) == -1)
			goto out;
		curl_free(u);
		u = NULL;
		if (curl_url_get(h, CURLUPART_URL, &u, 0) != CURLUE_OK) {
			oci_fail(err, len, "out of memory");
			goto out;
		}
		/* The body starts again at each attempt. */
		r->r_status = 0;
		r->r_got = 0;
		r->r_toobig = r->r_ioerr = 0;
		r->r_elen = 0;
		r->r_ebody[0] = '\0';
		crypto_hash_sha256_init(&r->r_sha);
		/*
		 * Credentials: a token to the API's host; Basic to it when
		 * it asked, or to a token service first asked (a redirect
		 * from there gets none).
		 */
		sendbasic = pr->pr_auth[0] != '\0' &&
		    rg->rg_api == pr->pr_api && (r->r_token ?
		    hops == 0 : api && rg->rg_basic);

		curl_slist_free_all(hdrs);
		hdrs = NULL;
		free(auth);
		auth = NULL;
		if (accept != NULL &&
		    (hdrs = curl_slist_append(hdrs, accept)) == NULL)
			goto oom;
		if (api && !r->r_token && rg->rg_bearer[0] != '\0') {
			if (asprintf(&auth, "Authorization: Bearer %s",
			    rg->rg_bearer) == -1) {
				auth = NULL;
				goto oom;
			}
			if ((hdrs = curl_slist_append(hdrs, auth)) == NULL)
				goto oom;
		}
		if (c != NULL)
			curl_easy_cleanup(c);
		if ((c = curl_easy_init()) == NULL)
			goto oom;
		ebuf[0] = '\0';
		memset(&blob, 0, sizeof(blob));
		blob.data = (void *)(uintptr_t)f->rf_ca;
		blob.len = f->rf_calen;
		blob.flags = CURL_BLOB_COPY;
		if (curl_easy_setopt(c, CURLOPT_URL, u) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, rg->rg_scheme) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_USERAGENT, REG_USERAGENT) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
		    REG_CONNECT_MS) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->r_tofile ? 0L :
		    REG_SMALL_MS) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
		    f->rf_stall_s) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, resp_header) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_HEADERDATA, r) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, resp_body) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_WRITEDATA, r) != CURLE_OK ||
		    (hdrs != NULL &&
		    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) !=
		    CURLE_OK) ||
		    (rg->rg_resolve != NULL &&
		    curl_easy_setopt(c, CURLOPT_RESOLVE, rg->rg_resolve) !=
		    CURLE_OK) ||
		    (sendbasic &&
		    (curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_USERPWD, pr->pr_auth) !=
		    CURLE_OK)) ||
		    (strcmp(rg->rg_scheme, "https") == 0 &&
		    (curl_easy_setopt(c, CURLOPT_CAINFO, NULL) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) !=
		    CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) !=
		    CURLE_OK))) {
			oci_fail(err, len, "%s: cannot set up the transfer: %s",
			    what, ebuf[0] ? ebuf : "curl_easy_setopt failed");
			goto out;
		}
		cc = curl_easy_perform(c);
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE,
		    &r->r_status);
		oserr = 0;
		(void)curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
		if (r->r_toobig) {
			if (r->r_tofile)
				oci_fail(err, len, "%s: %.300s sent more "
				    "than its %llu bytes: stopped", what, u,
				    (unsigned long long)r->r_want);
			else
				oci_fail(err, len, "%s: %.300s is larger "
				    "than the %zu bytes taken: stopped", what,
				    u, r->r_cap);
			goto out;
		}
		if (r->r_ioerr) {
			oci_fail(err, len, "%s: the blobs' file: %s", what,
			    strerror(r->r_ioerr));
			goto out;
		}
		if (cc == CURLE_OPERATION_TIMEDOUT) {
			oci_fail(err, len, "%s: %.300s: stalled: %s", what, u,
			    ebuf[0] ? ebuf : curl_easy_strerror(cc));
			goto out;
		}
		if (cc == CURLE_COULDNT_CONNECT) {
			oci_fail(err, len, "%s: %.300s: cannot connect: %s",
			    what, u, oserr ? strerror((int)oserr) : ebuf);
			goto out;
		}
		if (cc != CURLE_OK) {
			oci_fail(err, len, "%s: %.300s: %s", what, u,
			    ebuf[0] ? ebuf : curl_easy_strerror(cc));
			goto out;
		}
		if (r->r_status >= 200 && r->r_status <= 299)
			break;
		if (r->r_status >= 300 && r->r_status <= 399 &&
		    r->r_location[0] != '\0') {
			if (++hops > REG_REDIRECTS) {
				oci_fail(err, len, "%s: more than %d redirects",
				    what, REG_REDIRECTS);
				goto out;
			}
			/* Relative to the URL that redirected. */
			if (curl_url_set(h, CURLUPART_URL, r->r_location, 0) !=
			    CURLUE_OK) {
				oci_fail(err, len, "%s: %.300s redirects to "
				    "\"%.300s\", not a URL", what, u,
				    r->r_location);
				goto out;
			}
			curl_free(u);
			u = NULL;
			if (curl_url_get(h, CURLUPART_URL, &u, 0) !=
			    CURLUE_OK)
				goto oom;
			strlcpy(url, u, sizeof(url));
			continue;
		}
		if (r->r_status == 401 && api && !authed && !r->r_token &&
		    strncasecmp(r->r_challenge, "bearer ", 7) == 0) {
			authed = 1;
			if (reg_token(rg, r->r_challenge, err, len) == -1)
				goto out;
			continue;
		}
		if (r->r_status == 401 && api && !authed && !r->r_token &&
		    strncasecmp(r->r_challenge, "basic", 5) == 0 &&
		    pr->pr_auth[0] != '\0' && rg->rg_api == pr->pr_api) {
			authed = rg->rg_basic = 1;
			continue;
		}
		reg_explain(r, why, sizeof(why));
		if (r->r_status == 401 || r->r_status == 403)
			oci_fail(err, len, "%s: %.300s: HTTP %ld%s: %s", what,
			    u, r->r_status, why, pr->pr_auth[0] != '\0' ?
			    "the credentials in registry-auth were refused" :
			    "the registry wants credentials: give them in "
			    "the registry-auth file (bangerd.conf(5))");
		else
			oci_fail(err, len, "%s: %.300s: HTTP %ld%s", what, u,
			    r->r_status, why);
		goto out;
	}
	rv = 0;
	goto out;
oom:
	oci_fail(err, len, "%s: out of memory", what);
out:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	free(auth);
	curl_free(u);
	curl_url_cleanup(h);
	return rv;
}

/* One parameter of a challenge: key="value" or key=token. */
static int
challenge_param(const char *ch, const char *key, char *val, size_t vlen)
{
	const char	*p = ch;
	size_t		 k = strlen(key), n;

	while ((p = strcasestr(p, key)) != NULL) {
		if ((p == ch || p[-1] == ' ' || p[-1] == ',') && p[k] == '=')
			break;
		p += k;
	}
	if (p == NULL)
		return -1;
	p += k + 1;
	n = 0;
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n + 1 < vlen)
				val[n++] = *p;
		}
	} else
		for (; *p != '\0' && *p != ',' && *p != ' '; p++)
			if (n + 1 < vlen)
				val[n++] = *p;
	val[n] = '\0';
	return 0;
}

/* A Bearer challenge answered: a token from its realm, kept in rg. */
static int
reg_token(struct reg *rg, const char *challenge, char *err, size_t len)
{
	const struct pull_registry *pr = rg->rg_pr;
	struct resp	*r;
	char		 realm[REG_URL_MAX], service[256], scope[512];
	char		 url[REG_URL_MAX * 2];
	char		*es = NULL, *esc = NULL, *buf = NULL;
	const char	*tok;
	json_t		*j = NULL;
	size_t		 i, tl;
	int		 rv = -1;

	if (challenge_param(challenge + 7, "realm", realm,
	    sizeof(realm)) == -1 || realm[0] == '\0')
		return oci_fail(err, len, "the registry asks for a token "
		    "without saying where from: \"%.200s\"", challenge);
	if (challenge_param(challenge + 7, "service", service,
	    sizeof(service)) == -1)
		service[0] = '\0';
	if (challenge_param(challenge + 7, "scope", scope,
	    sizeof(scope)) == -1 || scope[0] == '\0')
		snprintf(scope, sizeof(scope), "repository:%s:pull",
		    pr->pr_repo);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (buf = malloc(REG_TOKEN_MAX + 1)) == NULL ||
	    (es = curl_easy_escape(NULL, service, 0)) == NULL ||
	    (esc = curl_easy_escape(NULL, scope, 0)) == NULL) {
		oci_fail(err, len, "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", realm,
	    strchr(realm, '?') != NULL ? "&" : "?", es, esc);
	r->r_reg = rg;
	r->r_buf = buf;
	r->r_cap = REG_TOKEN_MAX;
	r->r_token = 1;
	rg->rg_bearer[0] = '\0';
	if (reg_get(rg, url, NULL, r, "the token", err, len) == -1)
		goto out;
	buf[r->r_got] = '\0';
	if ((j = json_loadb(buf, r->r_got, 0, NULL)) == NULL ||
	    ((tok = json_string_value(json_object_get(j, "token"))) == NULL &&
	    (tok = json_string_value(json_object_get(j,
	    "access_token"))) == NULL)) {
		oci_fail(err, len, "the token service at %.300s answered no "
		    "token", realm);
		goto out;
	}
	tl = strlen(tok);
	if (tl == 0 || tl >= sizeof(rg->rg_bearer)) {
		oci_fail(err, len, "the token service at %.300s answered a "
		    "token of %zu bytes", realm, tl);
		goto out;
	}
	for (i = 0; i < tl; i++)
		if (tok[i] <= ' ' || tok[i] > '~') {
			oci_fail(err, len, "the token service at %.300s "
			    "answered a token with byte 0x%02x", realm,
			    (unsigned char)tok[i]);
			goto out;
		}
	memcpy(rg->rg_bearer, tok, tl + 1);
	rv = 0;
out:
	json_decref(j);
	curl_free(es);
	curl_free(esc);
	free(buf);
	free(r);
	return rv;
}

/* A blob kept: its place in the scratch file, checked already. */
static int
reg_keep(struct reg *rg, const char *name, uint64_t off, uint64_t size,
    char *err, size_t len)
{
	struct oci_blob	*b;

	if (rg->rg_nblobs == OCI_FILES_MAX)
		return oci_fail(err, len, "more than %d blobs", OCI_FILES_MAX);
	b = &rg->rg_blobs[rg->rg_nblobs++];
	memset(b, 0, sizeof(*b));
	strlcpy(b->ob_name, name, sizeof(b->ob_name));
	b->ob_fd = rg->rg_f->rf_scratch;
	b->ob_off = off;
	b->ob_size = size;
	b->ob_verified = 1;
	return 0;
}

/* Bytes written at the scratch file's end and kept as blob name. */
static int
reg_keep_bytes(struct reg *rg, const char *name, const char *buf,
    size_t n, char *err, size_t len)
{
	size_t	 off;
	ssize_t	 w;

	for (off = 0; off < n; off += (size_t)w)
		if ((w = pwrite(rg->rg_f->rf_scratch, buf + off, n - off,
		    (off_t)(rg->rg_end + off))) <= 0) {
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			return oci_fail(err, len, "the blobs' file: %s",
			    w == -1 ? strerror(errno) : "short write");
		}
	if (reg_keep(rg, name, rg->rg_end, n, err, len) == -1)
		return -1;
	rg->rg_end += n;
	return 0;
}

static int
reg_kept(const struct reg *rg, const char *digest)
{
	size_t	 i;

	for (i = 0; i < rg->rg_nblobs; i++)
		if (strcmp(rg->rg_blobs[i].ob_name + 13, digest + 7) == 0)
			return 1;
	return 0;
}

/* "sha256:HEX" as the blob's name, or -1. */
static int
digest_name(const char *digest, char *name, size_t nlen, const char *what,
    char *err, size_t len)
{
	const char	*why;

	if (digest == NULL || strncmp(digest, "sha256:", 7) != 0 ||
	    (size_t)snprintf(name, nlen, "blobs/sha256/%s", digest + 7) >=
	    nlen || valid_oci_name(name, strlen(name), &why) == -1)
		return oci_fail(err, len, "%s: digest \"%.80s\" is not sha256: "
		    "and 64 lowercase hex digits", what,
		    digest ? digest : "(none)");
	return 0;
}

static void
sha_hex(crypto_hash_sha256_state *st, char hex[65])
{
	unsigned char	 sum[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_final(st, sum);
	sodium_bin2hex(hex, 65, sum, sizeof(sum));
}

/*
 * A manifest or index by reference (a tag, or a digest it must hash
 * to), kept under its digest; *jp its JSON, *mtp its media type.
 */
static int
reg_manifest(struct reg *rg, const char *ref, uint64_t want, json_t **jp,
    char *mt, size_t mtlen, char *digest, char *err, size_t len)
{
	const struct pull_registry *pr = rg->rg_pr;
	struct resp	*r;
	json_error_t	 je;
	char		 url[REG_URL_MAX], hex[65], name[PROTO_PATH_MAX];
	char		 what[320];
	const char	*m;
	int		 rv = -1;

	*jp = NULL;
	snprintf(what, sizeof(what), "the manifest of %s:%s", pr->pr_repo,
	    ref);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->r_buf = malloc(OCI_MANIFEST_MAX + 1)) == NULL) {
		free(r);
		return oci_fail(err, len, "out of memory");
	}
	r->r_reg = rg;
	r->r_cap = OCI_MANIFEST_MAX;
	snprintf(url, sizeof(url), "%s://%s/v2/%s/manifests/%s",
	    rg->rg_scheme, rg->rg_api, pr->pr_repo, ref);
	if (reg_get(rg, url, accept_manifests, r, what, err, len) == -1)
		goto out;
	sha_hex(&r->r_sha, hex);
	snprintf(digest, OCI_DIGEST_MAX, "sha256:%s", hex);
	if (strncmp(ref, "sha256:", 7) == 0 && strcmp(ref, digest) != 0) {
		oci_fail(err, len, "%s: the registry sent a manifest whose "
		    "digest is %s", what, digest);
		goto out;
	}
	if (r->r_digest[0] != '\0' && strcmp(r->r_digest, digest) != 0) {
		oci_fail(err, len, "%s: the registry says its digest is %.80s, "
		    "its bytes hash to %s", what, r->r_digest, digest);
		goto out;
	}
	if (want != 0 && r->r_got != want) {
		oci_fail(err, len, "%s: %llu bytes, its descriptor says %llu",
		    what, (unsigned long long)r->r_got,
		    (unsigned long long)want);
		goto out;
	}
	r->r_buf[r->r_got] = '\0';
	if ((*jp = json_loadb(r->r_buf, r->r_got, JSON_REJECT_DUPLICATES,
	    &je)) == NULL || !json_is_object(*jp)) {
		oci_fail(err, len, "%s: not a JSON object: %s", what,
		    *jp == NULL ? je.text : "another value");
		goto out;
	}
	/* Its media type: its own, else the one it was served as. */
	if ((m = json_string_value(json_object_get(*jp,
	    "mediaType"))) == NULL) {
		m = r->r_type;
		r->r_type[strcspn(r->r_type, "; ")] = '\0';
	}
	strlcpy(mt, m, mtlen);
	snprintf(name, sizeof(name), "blobs/sha256/%s", hex);
	if (!reg_kept(rg, digest) && reg_keep_bytes(rg, name, r->r_buf,
	    r->r_got, err, len) == -1)
		goto out;
	rv = 0;
out:
	if (rv == -1) {
		json_decref(*jp);
		*jp = NULL;
	}
	free(r->r_buf);
	free(r);
	return rv;
}

/* A blob by its descriptor, streamed to the scratch file and checked. */
static int
reg_blob(struct reg *rg, json_t *d, uint64_t max, int layer,
    const char *what, char *err, size_t len)
{
	const struct pull_registry *pr = rg->rg_pr;
	struct resp	*r;
	json_t		*size;
	const char	*digest;
	char		 url[REG_URL_MAX], name[PROTO_PATH_MAX], hex[65];
	uint64_t	 want;
	int		 rv = -1;

	digest = json_string_value(json_object_get(d, "digest"));
	size = json_object_get(d, "size");
	if (digest_name(digest, name, sizeof(name), what, err, len) == -1)
		return -1;
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return oci_fail(err, len, "%s: a descriptor needs a size",
		    what);
	want = (uint64_t)json_integer_value(size);
	if (want > max)
		return oci_fail(err, len, "%s: %llu bytes, more than the %llu "
		    "taken", what, (unsigned long long)want,
		    (unsigned long long)max);
	if (reg_kept(rg, digest))
		return 0;
	if (rg->rg_end + want > pr->pr_blobs_max)
		return oci_fail(err, len, "%s: the image's blobs come to more "
		    "than %llu bytes: give a larger --size", what,
		    (unsigned long long)pr->pr_blobs_max);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return oci_fail(err, len, "out of memory");
	r->r_reg = rg;
	r->r_tofile = 1;
	r->r_off = rg->rg_end;
	r->r_want = want;
	r->r_layer = layer;
	snprintf(url, sizeof(url), "%s://%s/v2/%s/blobs/%s", rg->rg_scheme,
	    rg->rg_api, pr->pr_repo, digest);
	if (reg_get(rg, url, NULL, r, what, err, len) == -1)
		goto out;
	if (r->r_got != want) {
		oci_fail(err, len, "%s: %llu bytes came, its descriptor says "
		    "%llu", what, (unsigned long long)r->r_got,
		    (unsigned long long)want);
		goto out;
	}
	sha_hex(&r->r_sha, hex);
	if (strcmp(hex, digest + 7) != 0) {
		oci_fail(err, len, "%s: its bytes hash to sha256:%s, not "
		    "%.80s: refused", what, hex, digest);
		goto out;
	}
	if (reg_keep(rg, name, rg->rg_end, want, err, len) == -1)
		goto out;
	rg->rg_end += want;
	if (layer)
		rg->rg_done += want;
	rv = 0;
out:
	free(r);
	return rv;
}

/* pr_resolve's lines as curl resolve entries. */
static int
reg_resolve(struct reg *rg, char *err, size_t len)
{
	char		 buf[PULL_RESOLVE_MAX], *line, *next;

	strlcpy(buf, rg->rg_pr->pr_resolve, sizeof(buf));
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0')
			continue;
		if ((rg->rg_resolve = curl_slist_append(rg->rg_resolve,
		    line)) == NULL)
			return oci_fail(err, len, "out of memory");
	}
	return 0;
}

/* The image from rg->rg_api: its blobs kept, index.json last. */
static int
reg_fetch_from(struct reg *rg, char *err, size_t len)
{
	const struct registry_fetch *f = rg->rg_f;
	const struct pull_registry *pr = rg->rg_pr;
	json_t		*top = NULL, *man = NULL, *idx = NULL;
	json_t		*d, *layers, *l;
	char		 mt[256], digest[OCI_DIGEST_MAX];
	char		 what[PROTO_PATH_MAX], *s = NULL;
	const char	*ref;
	size_t		 i;
	int		 rv = -1;

	/* The manifest named; an index's entry for linux/arch after it. */
	if (reg_manifest(rg, pr->pr_ref, 0, &top, mt, sizeof(mt), digest,
	    err, len) == -1)
		goto out;
	if ((idx = json_pack("{s:i, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
	    "manifests", "mediaType", mt, "digest", digest, "size",
	    (json_int_t)rg->rg_blobs[rg->rg_nblobs - 1].ob_size)) == NULL ||
	    (s = json_dumps(idx, JSON_COMPACT)) == NULL) {
		oci_fail(err, len, "out of memory");
		goto out;
	}
	man = top;
	top = NULL;
	if (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0) {
		if ((d = oci_index_pick(man, "the image index", f->rf_arch,
		    err, len)) == NULL)
			goto out;
		ref = json_string_value(json_object_get(d, "digest"));
		if (digest_name(ref, what, sizeof(what), "the image index",
		    err, len) == -1 ||
		    !json_is_integer(json_object_get(d, "size")))
			goto out;
		top = man;
		if (reg_manifest(rg, ref, (uint64_t)json_integer_value(
		    json_object_get(d, "size")), &man, mt, sizeof(mt),
		    digest, err, len) == -1)
			goto out;
	}
	if (strcmp(mt, MT_OCI_MANIFEST) != 0 &&
	    strcmp(mt, MT_DOCKER_MANIFEST) != 0) {
		oci_fail(err, len, "%s:%s: media type \"%.100s\": neither an "
		    "OCI manifest nor Docker's schema 2", pr->pr_repo,
		    pr->pr_ref, mt);
		goto out;
	}
	layers = json_object_get(man, "layers");
	if (!json_is_array(layers) || json_array_size(layers) == 0) {
		oci_fail(err, len, "%s:%s: the manifest has no layers",
		    pr->pr_repo, pr->pr_ref);
		goto out;
	}
	if (json_array_size(layers) > OCI_FILES_MAX - 4) {
		oci_fail(err, len, "%s:%s: %zu layers, more than the %d taken",
		    pr->pr_repo, pr->pr_ref, json_array_size(layers),
		    OCI_FILES_MAX - 4);
		goto out;
	}
	json_array_foreach(layers, i, l) {
		snprintf(what, sizeof(what), "layer %zu", i + 1);
		if (!json_is_object(l) || !json_is_integer(json_object_get(l,
		    "size")) || json_integer_value(json_object_get(l,
		    "size")) < 0 || !oci_layer_type_known(json_string_value(
		    json_object_get(l, "mediaType")) ?
		    json_string_value(json_object_get(l, "mediaType")) : "")) {
			oci_fail(err, len, "%s: not a tar layer's descriptor "
			    "(plain, gzip or zstd)", what);
			goto out;
		}
		rg->rg_total += (uint64_t)json_integer_value(
		    json_object_get(l, "size"));
	}
	if (reg_blob(rg, json_object_get(man, "config"), OCI_CONFIG_MAX, 0,
	    "the config", err, len) == -1)
		goto out;
	json_array_foreach(layers, i, l) {
		snprintf(what, sizeof(what), "layer %zu", i + 1);
		if (reg_blob(rg, l, OCI_LAYER_MAX, 1, what, err, len) == -1)
			goto out;
	}
	if (reg_keep_bytes(rg, "index.json", s, strlen(s), err, len) == -1)
		goto out;
	rv = 0;
out:
	free(s);
	json_decref(idx);
	json_decref(top);
	json_decref(man);
	return rv;
}

int
registry_fetch(const struct registry_fetch *f, struct oci_blob *blobs,
    size_t *nblobs, char *err, size_t len)
{
	const struct pull_registry *pr = f->rf_reg;
	struct reg	 rg;
	char		 merr[512];
	uint32_t	 m;
	int		 rv = -1;

	memset(&rg, 0, sizeof(rg));
	rg.rg_f = f;
	rg.rg_pr = pr;
	rg.rg_scheme = pr->pr_insecure ? "http" : "https";
	rg.rg_blobs = blobs;
	*nblobs = 0;
	if (!pr->pr_insecure && (f->rf_ca == NULL || f->rf_calen == 0))
		return oci_fail(err, len, "no CA bundle to check %s's "
		    "certificate with", pr->pr_api);
	if (reg_resolve(&rg, err, len) == -1)
		goto out;
	/*
	 * The mirrors first, each from the start; whatever one serves is
	 * checked as the registry's would be.  Then the registry.
	 */
	for (m = 0; m <= pr->pr_nmirrors && m <= PULL_MIRRORS_MAX; m++) {
		rg.rg_api = m < pr->pr_nmirrors ? pr->pr_mirrors[m] :
		    pr->pr_api;
		rg.rg_nblobs = 0;
		rg.rg_end = rg.rg_done = rg.rg_total = 0;
		rg.rg_bearer[0] = '\0';
		rg.rg_basic = 0;
		if (m < pr->pr_nmirrors) {
			if (reg_fetch_from(&rg, merr, sizeof(merr)) == 0)
				break;
			log_warnx("pull: mirror %s: %s; trying the next",
			    rg.rg_api, merr);
			continue;
		}
		if (reg_fetch_from(&rg, err, len) == -1)
			goto out;
	}
	*nblobs = rg.rg_nblobs;
	rv = 0;
out:
	curl_slist_free_all(rg.rg_resolve);
	return rv;
}

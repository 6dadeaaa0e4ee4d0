/*
 * The update worker's fetches (libcurl): the manifest and its
 * signature, then the artifact, streamed into a memfd with its length
 * and SHA-256 checked as it arrives.  What is fetched is checked by
 * shared/manifest.c.
 *
 * Fetching: https, or plain http to a loopback host when the caller
 * allows it.  Redirects are not followed (a 3xx is an error): a
 * redirect could lead to a host we would refuse or cannot resolve in
 * the sandbox.  Proxies from the environment are ignored.  Bodies are
 * not content-decoded: the bytes hashed are the bytes served.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <seccomp.h>
#include <sodium.h>

#include "fetch.h"

#ifndef BANGER_VERSION
#define BANGER_VERSION	"unknown"
#endif

#define UPD_USERAGENT		"bangerd-update/" BANGER_VERSION

/* One transfer in progress. */
struct xfer {
	CURL			*x_curl;
	const char		*x_what;	/* "manifest", "artifact" */
	const char		*x_url;
	uint64_t		 x_cap;		/* stop reading past this */
	int			 x_declared;	/* x_cap is a declared length */
	uint64_t		 x_got;
	int			 x_fd;		/* -1: into x_buf */
	char			*x_buf;
	size_t			 x_bufsize;
	crypto_hash_sha256_state x_sha;
	int			 x_err;		/* the callback's reason */
	int			 x_errno;
	long			 x_status;
	int			 x_pct;		/* last percent reported */
	const struct upd_fetch	*x_uf;
};

/*
 * What a fetch needs beyond the workers' common allow-list (measured
 * with strace -f on regress/helpers/update-drive, http and https, and
 * checked by running it under exactly this list; see update.sh).
 */
const int upd_seccomp_syscalls[] = {
	SCMP_SYS(socket), SCMP_SYS(connect), SCMP_SYS(socketpair),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(recvfrom), SCMP_SYS(ftruncate),
};
const size_t upd_seccomp_nsyscalls =
    sizeof(upd_seccomp_syscalls) / sizeof(upd_seccomp_syscalls[0]);

static int	fetch_plan(const char *, const struct upd_fetch *, CURLU **,
		    char **, int *, struct curl_slist **, char *, size_t);
static size_t	xfer_write(char *, size_t, size_t, void *);
static int	xfer_run(struct xfer *, const struct upd_fetch *, char *,
		    size_t);

static size_t
xfer_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	size_t		 n = size * nmemb, off, nbuf;
	ssize_t		 w;
	char		*nb;
	int		 pct;

	if (x->x_status == 0)
		(void)curl_easy_getinfo(x->x_curl, CURLINFO_RESPONSE_CODE,
		    &x->x_status);
	if (x->x_status != 200) {
		x->x_err = UPD_EHTTP;		/* an error page: not ours */
		return (0);
	}
	if (n > x->x_cap - x->x_got) {
		x->x_err = UPD_ETOOBIG;		/* stop: nothing past the cap */
		return (0);
	}
	if (x->x_fd == -1) {
		if (x->x_got + n + 1 > x->x_bufsize) {
			nbuf = x->x_bufsize ? x->x_bufsize : 16384;
			while (nbuf < x->x_got + n + 1)
				nbuf *= 2;
			if (nbuf > x->x_cap + 1)
				nbuf = x->x_cap + 1;
			if ((nb = realloc(x->x_buf, nbuf)) == NULL) {
				x->x_err = UPD_ENOMEM;
				return (0);
			}
			x->x_buf = nb;
			x->x_bufsize = nbuf;
		}
		memcpy(x->x_buf + x->x_got, ptr, n);
		x->x_buf[x->x_got + n] = '\0';
	} else {
		for (off = 0; off < n; off += (size_t)w) {
			w = write(x->x_fd, ptr + off, n - off);
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0) {
				x->x_err = UPD_EIO;
				x->x_errno = w == -1 ? errno : EIO;
				return (0);
			}
		}
		crypto_hash_sha256_update(&x->x_sha, (const uint8_t *)ptr, n);
	}
	x->x_got += n;
	if (x->x_uf->uf_progress != NULL && x->x_declared) {
		pct = (int)(x->x_got * 100 / x->x_cap);
		if (pct != x->x_pct) {
			x->x_pct = pct;
			x->x_uf->uf_progress(x->x_got, x->x_cap,
			    x->x_uf->uf_progress_arg);
		}
	}
	return (n);
}

/*
 * Everything a fetch of url with uf checks before it connects, so that
 * a check can refuse what a fetch would: the URL (url_parse), a CA
 * bundle for https, and an address for the host without the resolver:
 * an IP literal, localhost, or uf's resolve entry, which is for the
 * update url's host and port only.  On success the caller frees *hp
 * (curl_url_cleanup), *hostp (curl_free) and *resp (NULL, or
 * curl_slist_free_all).
 */
static int
fetch_plan(const char *url, const struct upd_fetch *uf, CURLU **hp,
    char **hostp, int *httpsp, struct curl_slist **resp, char *err,
    size_t errlen)
{
	struct curl_slist	*res = NULL;
	CURLU			*h = NULL;
	char			 loent[300], *host = NULL;
	long			 port;
	int			 rc;

	*resp = NULL;
	if ((rc = upd_url_parse(url, uf->uf_allow_http, &h, &host, &port, httpsp,
	    err, errlen)) != UPD_OK)
		return (rc);
	if (*httpsp && (uf->uf_ca == NULL || uf->uf_calen == 0)) {
		rc = upd_fail(err, errlen, UPD_EINVAL, "no CA bundle to check "
		    "%.256s's certificate with", host);
		goto out;
	}
	if (upd_host_is_literal(host)) {
		rc = UPD_OK;		/* nothing to look up */
	} else if (strcasecmp(host, "localhost") == 0) {
		/* Never let a name reach the resolver, even this one. */
		(void)snprintf(loent, sizeof(loent), "%s:%ld:127.0.0.1,[::1]",
		    host, port);
		if ((res = curl_slist_append(NULL, loent)) == NULL)
			rc = upd_fail(err, errlen, UPD_ENOMEM, "out of memory");
	} else if (uf->uf_resolve != NULL && *uf->uf_resolve != '\0') {
		if ((rc = upd_resolve_check(uf->uf_resolve, host, port, *httpsp,
		    err, errlen)) == UPD_OK &&
		    (res = curl_slist_append(NULL, uf->uf_resolve)) == NULL)
			rc = upd_fail(err, errlen, UPD_ENOMEM, "out of memory");
	} else if (!uf->uf_allow_resolver) {
		rc = upd_fail(err, errlen, UPD_ERESOLVE, "cannot look up %.256s "
		    "inside the sandbox: no address was given for it", host);
	} else
		rc = UPD_OK;
 out:
	if (rc != UPD_OK) {
		curl_slist_free_all(res);
		curl_free(host);
		curl_url_cleanup(h);
		return (rc);
	}
	*hp = h;
	*hostp = host;
	*resp = res;
	return (UPD_OK);
}

/* Set up, run and explain one transfer of x->x_url. */
static int
xfer_run(struct xfer *x, const struct upd_fetch *uf, char *err,
    size_t errlen)
{
	CURL			*c = NULL;
	CURLU			*h = NULL;
	CURLcode		 cc;
	struct curl_slist	*res = NULL;
	struct curl_blob	 blob;
	char			 ebuf[CURL_ERROR_SIZE];
	char			*host = NULL;
	const char		*what = x->x_what;
	long			 oserr = 0;
	curl_off_t		 clen = -1;
	int			 https, rc;

	if ((rc = fetch_plan(x->x_url, uf, &h, &host, &https, &res, err,
	    errlen)) != UPD_OK)
		return (rc);

	if ((c = curl_easy_init()) == NULL) {
		rc = upd_fail(err, errlen, UPD_ENOMEM, "curl_easy_init failed");
		goto out;
	}
	x->x_curl = c;
	ebuf[0] = '\0';
	memset(&blob, 0, sizeof(blob));
	blob.data = (void *)(uintptr_t)uf->uf_ca;
	blob.len = uf->uf_calen;
	blob.flags = CURL_BLOB_COPY;
	if (curl_easy_setopt(c, CURLOPT_CURLU, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
	    https ? "https" : "http") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
	    https ? "https" : "http") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, UPD_USERAGENT) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    uf->uf_connect_timeout_ms > 0 ? uf->uf_connect_timeout_ms :
	    (long)UPD_CONNECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, uf->uf_timeout_ms > 0 ?
	    uf->uf_timeout_ms : (long)UPD_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT,
	    uf->uf_low_speed_limit > 0 ? uf->uf_low_speed_limit :
	    (long)UPD_LOW_SPEED_LIMIT) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
	    uf->uf_low_speed_time > 0 ? uf->uf_low_speed_time :
	    (long)UPD_LOW_SPEED_TIME) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)x->x_cap) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, xfer_write) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, x) != CURLE_OK ||
	    (res != NULL &&
	    curl_easy_setopt(c, CURLOPT_RESOLVE, res) != CURLE_OK) ||
	    (https &&
	    (curl_easy_setopt(c, CURLOPT_CAINFO, NULL) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK))) {
		rc = upd_fail(err, errlen, UPD_EINVAL, "cannot set up the "
		    "transfer: %s", ebuf[0] ? ebuf : "curl_easy_setopt failed");
		goto out;
	}

	cc = curl_easy_perform(c);
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->x_status);
	(void)curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	(void)curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	if (ebuf[0] == '\0')
		(void)strlcpy(ebuf, curl_easy_strerror(cc), sizeof(ebuf));

	if (x->x_err == UPD_EHTTP ||
	    (cc == CURLE_OK && x->x_status != 200)) {
		rc = upd_fail(err, errlen, UPD_EHTTP, "cannot fetch the %s from "
		    "%.300s: the server answered HTTP %ld%s", what, x->x_url,
		    x->x_status, x->x_status >= 300 && x->x_status < 400 ?
		    " (redirects are not followed)" : "");
	} else if (x->x_err == UPD_ETOOBIG || cc == CURLE_FILESIZE_EXCEEDED) {
		if (x->x_declared)
			rc = upd_fail(err, errlen, UPD_ETOOBIG, "the %s at %.300s "
			    "is larger than its declared %llu bytes; stopped "
			    "reading", what, x->x_url,
			    (unsigned long long)x->x_cap);
		else
			rc = upd_fail(err, errlen, UPD_ETOOBIG, "the %s at %.300s "
			    "is larger than %llu bytes; stopped reading", what,
			    x->x_url, (unsigned long long)x->x_cap);
	} else if (x->x_err == UPD_EIO) {
		rc = upd_fail(err, errlen, UPD_EIO, "cannot write the %s: %s",
		    what, strerror(x->x_errno));
	} else if (x->x_err == UPD_ENOMEM) {
		rc = upd_fail(err, errlen, UPD_ENOMEM, "out of memory");
	} else if (cc == CURLE_OK) {
		rc = UPD_OK;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = upd_fail(err, errlen, UPD_ETIMEOUT, "cannot fetch the %s from "
		    "%.300s: timed out (%s)", what, x->x_url, ebuf);
	} else if (cc == CURLE_COULDNT_CONNECT && oserr == ECONNREFUSED) {
		rc = upd_fail(err, errlen, UPD_ECONNREFUSED, "cannot fetch the %s "
		    "from %.300s: connection refused", what, x->x_url);
	} else if (cc == CURLE_COULDNT_CONNECT) {
		rc = upd_fail(err, errlen, UPD_ECONNECT, "cannot fetch the %s from "
		    "%.300s: cannot connect (%s)", what, x->x_url, ebuf);
	} else if (cc == CURLE_PARTIAL_FILE) {
		if (clen >= 0)
			rc = upd_fail(err, errlen, UPD_ETRUNCATED, "cannot fetch "
			    "the %s from %.300s: truncated: the server closed "
			    "the connection after %llu of %lld bytes", what,
			    x->x_url, (unsigned long long)x->x_got,
			    (long long)clen);
		else
			rc = upd_fail(err, errlen, UPD_ETRUNCATED, "cannot fetch "
			    "the %s from %.300s: truncated (%s)", what,
			    x->x_url, ebuf);
	} else if (cc == CURLE_COULDNT_RESOLVE_HOST) {
		rc = upd_fail(err, errlen, UPD_ERESOLVE, "cannot fetch the %s from "
		    "%.300s: %s", what, x->x_url, ebuf);
	} else if (cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CERTPROBLEM ||
	    cc == CURLE_SSL_CIPHER || cc == CURLE_SSL_CACERT_BADFILE ||
	    cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_USE_SSL_FAILED) {
		rc = upd_fail(err, errlen, UPD_ETLS, "cannot fetch the %s from "
		    "%.300s: TLS: %s", what, x->x_url, ebuf);
	} else {
		rc = upd_fail(err, errlen, UPD_ENET, "cannot fetch the %s from "
		    "%.300s: %s", what, x->x_url, ebuf);
	}
 out:
	if (c != NULL)
		curl_easy_cleanup(c);
	x->x_curl = NULL;
	curl_slist_free_all(res);
	curl_url_cleanup(h);
	curl_free(host);
	return (rc);
}

static int
fetch_buf(const char *url, const struct upd_fetch *uf, size_t cap,
    const char *what, char **bufp, size_t *lenp, long *status, char *err,
    size_t errlen)
{
	struct xfer	 x;
	int		 rc;

	*bufp = NULL;
	*lenp = 0;
	memset(&x, 0, sizeof(x));
	x.x_what = what != NULL ? what : "file";
	x.x_url = url;
	x.x_cap = cap;
	x.x_fd = -1;
	x.x_uf = uf;
	x.x_pct = -1;
	rc = xfer_run(&x, uf, err, errlen);
	if (status != NULL)
		*status = x.x_status;
	if (rc != UPD_OK) {
		free(x.x_buf);
		return (rc);
	}
	if (x.x_buf == NULL && (x.x_buf = calloc(1, 1)) == NULL)
		return (upd_fail(err, errlen, UPD_ENOMEM, "out of memory"));
	*bufp = x.x_buf;
	*lenp = x.x_got;
	return (UPD_OK);
}

int
upd_fetch_buf(const char *url, const struct upd_fetch *uf, size_t cap,
    const char *what, char **bufp, size_t *lenp, char *err, size_t errlen)
{
	return (fetch_buf(url, uf, cap, what, bufp, lenp, NULL, err, errlen));
}

int
upd_check(const char *url, const struct upd_fetch *uf,
    const struct signify_pubkey *key, const struct upd_want *want,
    struct upd_release *rel, char **mp, size_t *mlenp, char **sp,
    size_t *slenp, char *err, size_t errlen)
{
	struct curl_slist	*res = NULL;
	CURLU			*h = NULL;
	char			 sigurl[UPD_URL_MAX], why[UPD_ERR_MAX];
	char			*m = NULL, *s = NULL, *host = NULL;
	size_t			 mlen = 0, slen = 0;
	long			 status = 0;
	int			 https, rc;

	if (mp != NULL)
		*mp = NULL;
	if (sp != NULL)
		*sp = NULL;
	if (key == NULL || uf == NULL || want == NULL || rel == NULL)
		return (upd_fail(err, errlen, UPD_EINVAL, "%s: bad arguments",
		    __func__));
	/* No traffic at all for a bangerd that could verify nothing. */
	if (signify_pubkey_is_placeholder(key))
		return (upd_fail(err, errlen, UPD_EPLACEHOLDER, PLACEHOLDER_MSG));
	if (url == NULL || (size_t)snprintf(sigurl, sizeof(sigurl), "%s.sig",
	    url) >= sizeof(sigurl))
		return (upd_fail(err, errlen, UPD_EURL, "URL longer than %d bytes",
		    UPD_URL_MAX - 5));
	if ((rc = upd_url_check(url, uf->uf_allow_http, err, errlen)) !=
	    UPD_OK)
		return (rc);
	if ((rc = fetch_buf(url, uf, UPD_MANIFEST_MAX, "manifest", &m,
	    &mlen, NULL, err, errlen)) != UPD_OK)
		goto out;
	rc = fetch_buf(sigurl, uf, UPD_SIG_MAX, "signature", &s, &slen,
	    &status, err, errlen);
	if (rc == UPD_EHTTP) {
		rc = upd_fail(err, errlen, UPD_ENOSIG, "the manifest has no "
		    "signature: %.300s answered HTTP %ld", sigurl,
		    status);
		goto out;
	}
	if (rc == UPD_ETOOBIG) {
		rc = upd_fail(err, errlen, UPD_ESIGFORMAT, "the manifest's "
		    "signature is malformed: larger than %d bytes",
		    UPD_SIG_MAX);
		goto out;
	}
	if (rc != UPD_OK)
		goto out;
	rc = upd_manifest_check(key, m, mlen, s, slen, want, rel, err,
	    errlen);
	/* Say now what the artifact's fetch would refuse before connecting. */
	if (rc == UPD_OK && (rc = fetch_plan(rel->ur_url, uf, &h, &host,
	    &https, &res, why, sizeof(why))) != UPD_OK)
		rc = upd_fail(err, errlen, rc, "the artifact of release %s cannot "
		    "be fetched: %s", rel->ur_version, why);
 out:
	curl_slist_free_all(res);
	curl_free(host);
	curl_url_cleanup(h);
	if (rc == UPD_OK && mp != NULL) {
		*mp = m;
		*mlenp = mlen;
		m = NULL;
	}
	if (rc == UPD_OK && sp != NULL) {
		*sp = s;
		*slenp = slen;
		s = NULL;
	}
	free(m);
	free(s);
	return (rc);
}

int
upd_fetch_artifact(const struct upd_release *rel, const struct upd_fetch *uf,
    int fd, char *err, size_t errlen)
{
	struct xfer	 x;
	struct stat	 st;
	uint8_t		 sum[SHA256_LEN];
	int		 rc, saved;

	if (rel == NULL || uf == NULL || rel->ur_length == 0 ||
	    rel->ur_length > UPD_ARTIFACT_MAX)
		return (upd_fail(err, errlen, UPD_EINVAL, "%s: bad arguments",
		    __func__));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return (upd_fail(err, errlen, UPD_EINVAL, "%s: fd %d is not a "
		    "regular file or memfd", __func__, fd));
	if (ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1)
		return (upd_fail(err, errlen, UPD_EIO, "cannot truncate the "
		    "artifact's file: %s", strerror(errno)));
	memset(&x, 0, sizeof(x));
	x.x_what = "artifact";
	x.x_url = rel->ur_url;
	x.x_cap = rel->ur_length;
	x.x_declared = 1;
	x.x_fd = fd;
	x.x_uf = uf;
	x.x_pct = 0;
	crypto_hash_sha256_init(&x.x_sha);
	if (uf->uf_progress != NULL)
		uf->uf_progress(0, rel->ur_length, uf->uf_progress_arg);
	if ((rc = xfer_run(&x, uf, err, errlen)) == UPD_OK) {
		crypto_hash_sha256_final(&x.x_sha, sum);
		rc = upd_artifact_final(rel, x.x_got, sum, err, errlen);
	}
	if (rc != UPD_OK) {
		saved = errno;
		(void)ftruncate(fd, 0);
		errno = saved;
		return (rc);
	}
	(void)lseek(fd, 0, SEEK_SET);
	/*
	 * A memfd made with MFD_ALLOW_SEALING is sealed, so that the parent
	 * knows the bytes it checks are the bytes it installs.
	 */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1 && errno != EINVAL &&
	    errno != EPERM) {
		saved = errno;
		(void)ftruncate(fd, 0);
		return (upd_fail(err, errlen, UPD_EIO, "cannot seal the "
		    "artifact's memfd: %s", strerror(saved)));
	}
	return (UPD_OK);
}

/*
 * libcurl's URL API in the parent, loaded at its first use.
 *
 * The parent parses one URL, the configured update URL, when an update
 * is asked for (upd_resolve), with the very parser the update worker's
 * fetch uses (upd_url_parse in shared/manifest.c).  Linked in, libcurl
 * would bring OpenSSL, GnuTLS, Kerberos, LDAP and more into the parent
 * for its whole life, about 2.5 MiB of its memory, for those six calls.
 * So the parent alone (the Makefile links this file into bangerd, and
 * keeps it out of the module archive the workers and tests link) has
 * these definitions of them, which load libcurl.so.4 with dlopen the
 * first time upd_curl_load() is called; it stays loaded.  They are not
 * exported: bangerd's dynamic symbol table has no curl_* at all
 * (regress/docs/layout.sh checks that, and that it needs no libcurl),
 * so libcurl's own calls bind to libcurl.
 */
#include <sys/types.h>

#include <dlfcn.h>
#include <stddef.h>
#include <strings.h>

#include <curl/curl.h>

#include "manifest.h"
#include "parent.h"

#define LIBCURL		"libcurl.so.4"

static struct {
	void		*dl;
	CURLU		*(*url)(void);
	void		 (*url_cleanup)(CURLU *);
	CURLUcode	 (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode	 (*url_set)(CURLU *, CURLUPart, const char *,
			    unsigned int);
	const char	*(*url_strerror)(CURLUcode);
	void		 (*free)(void *);
} lc;

static int
upd_curl_load(char *err, size_t errlen)
{
	void		*dl;
	const char	*e;

	if (lc.dl != NULL)
		return (UPD_OK);
	if ((dl = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		return (upd_fail(err, errlen, UPD_EINVAL, "cannot load %s: %s",
		    LIBCURL, e != NULL ? e : "dlopen failed"));
	}
	if ((*(void **)&lc.url = dlsym(dl, "curl_url")) == NULL ||
	    (*(void **)&lc.url_cleanup = dlsym(dl, "curl_url_cleanup")) ==
	    NULL ||
	    (*(void **)&lc.url_get = dlsym(dl, "curl_url_get")) == NULL ||
	    (*(void **)&lc.url_set = dlsym(dl, "curl_url_set")) == NULL ||
	    (*(void **)&lc.url_strerror = dlsym(dl, "curl_url_strerror")) ==
	    NULL ||
	    (*(void **)&lc.free = dlsym(dl, "curl_free")) == NULL) {
		e = dlerror();
		(void)dlclose(dl);
		return (upd_fail(err, errlen, UPD_EINVAL, "%s: %s", LIBCURL,
		    e != NULL ? e : "a URL function is missing"));
	}
	lc.dl = dl;
	return (UPD_OK);
}

/*
 * The update URL's host looked up (upd_resolve_host) as the entry the
 * update worker's fetch is given; nothing to look up for plain http to
 * loopback or an address literal.
 */
int
upd_resolve(const char *url, char *entry, size_t len, char *err,
    size_t errlen)
{
	CURLU		*h;
	char		*host;
	long		 port;
	int		 https, rc;

	if ((rc = upd_curl_load(err, errlen)) != UPD_OK ||
	    (rc = upd_url_parse(url, 1, &h, &host, &port, &https, err,
	    errlen)) != UPD_OK)
		return (rc);
	if (len > 0)
		entry[0] = '\0';
	if (!https || upd_host_is_literal(host) ||
	    strcasecmp(host, "localhost") == 0)
		rc = UPD_OK;		/* nothing to look up */
	else
		rc = upd_resolve_host(host, port, entry, len, err, errlen);
	curl_free(host);
	curl_url_cleanup(h);
	return (rc);
}

/* Before upd_curl_load(): no handle, nothing parsed, nothing to free. */
CURLU *
curl_url(void)
{
	return (lc.dl != NULL ? lc.url() : NULL);
}

void
curl_url_cleanup(CURLU *h)
{
	if (lc.dl != NULL)
		lc.url_cleanup(h);
}

CURLUcode
curl_url_get(CURLU *h, CURLUPart what, char **part, unsigned int flags)
{
	return (lc.dl != NULL ? lc.url_get(h, what, part, flags) :
	    CURLUE_BAD_HANDLE);
}

CURLUcode
curl_url_set(CURLU *h, CURLUPart what, const char *part, unsigned int flags)
{
	return (lc.dl != NULL ? lc.url_set(h, what, part, flags) :
	    CURLUE_BAD_HANDLE);
}

const char *
curl_url_strerror(CURLUcode uc)
{
	return (lc.dl != NULL ? lc.url_strerror(uc) : "libcurl not loaded");
}

void
curl_free(void *p)
{
	if (lc.dl != NULL)
		lc.free(p);
}

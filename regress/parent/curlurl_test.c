/*
 * curlurl.c, linked as bangerd links it (Makefile: with --as-needed and
 * no other libcurl call): libcurl is not mapped until the first update
 * URL is parsed, and then upd_resolve() answers as it did when the
 * parent linked libcurl.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "regress.h"
#include "shared/manifest.h"
#include "parent/parent.h"

#define EXPECT(name, rc, code, pat) do {				\
	T_CHECK(name, (rc) == (code) && strstr(err, (pat)) != NULL,	\
	    "got %s '%s', want %s containing '%s'", upd_errname(rc), err, \
	    upd_errname(code), (pat));					\
} while (0)

/* 1 if a mapping of this process is libcurl's. */
static int
libcurl_mapped(void)
{
	FILE	*f;
	char	 line[1024];
	int	 found = 0;

	if ((f = fopen("/proc/self/maps", "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "/libcurl") != NULL)
			found = 1;
	fclose(f);
	return (found);
}

int
main(void)
{
	char	 entry[UPD_RESOLVE_MAX], err[UPD_ERR_MAX];
	int	 rc;

	T_CHECK("curlurl: libcurl is not mapped before the first URL",
	    libcurl_mapped() == 0, "mapped: %d", libcurl_mapped());
	strlcpy(entry, "junk", sizeof(entry));
	rc = upd_resolve("https://127.0.0.1:8443/m.json", entry,
	    sizeof(entry), err, sizeof(err));
	T_CHECK("resolve: an address literal needs no entry",
	    rc == UPD_OK && entry[0] == '\0', "%s '%s' '%s'",
	    upd_errname(rc), entry, err);
	T_CHECK("curlurl: ... and libcurl is mapped once a URL is parsed",
	    libcurl_mapped() == 1, "mapped: %d", libcurl_mapped());
	rc = upd_resolve("https://localhost/m.json", entry, sizeof(entry),
	    err, sizeof(err));
	T_CHECK("resolve: localhost needs no entry",
	    rc == UPD_OK && entry[0] == '\0', "%s '%s'", upd_errname(rc),
	    entry);
	rc = upd_resolve("https://example.invalid/m.json", entry,
	    sizeof(entry), err, sizeof(err));
	EXPECT("resolve: a name that does not resolve fails", rc,
	    UPD_ERESOLVE, "cannot resolve example.invalid");
	rc = upd_resolve("ftp://x/", entry, sizeof(entry), err, sizeof(err));
	EXPECT("resolve: a refused URL is refused", rc, UPD_EURL,
	    "only https");
	rc = upd_resolve("https://user:pw@example.org/m.json", entry,
	    sizeof(entry), err, sizeof(err));
	EXPECT("resolve: credentials in the URL are refused", rc, UPD_EURL,
	    "no credentials");
	rc = upd_resolve("https://[::1/m.json", entry, sizeof(entry), err,
	    sizeof(err));
	EXPECT("resolve: a malformed URL is refused, with libcurl's reason",
	    rc, UPD_EURL, "malformed URL \"https://[::1/m.json\": ");
	rc = upd_resolve("http://127.0.0.1:8080/m.json", entry,
	    sizeof(entry), err, sizeof(err));
	T_CHECK("resolve: plain http to loopback needs no entry",
	    rc == UPD_OK && entry[0] == '\0', "%s '%s'", upd_errname(rc),
	    err);
	return (t_done());
}

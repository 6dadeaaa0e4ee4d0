/*
 * The parent's lookup of the update host, outside the sandbox (the
 * update worker has no resolver): the entry it hands the worker for
 * the fetch, "host:port:addr,...".  The URL is parsed and checked by
 * shared/manifest.c, as the worker's fetch checks it.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "manifest.h"
#include "parent.h"

#define UPD_RESOLVE_ADDRS	4

/*
 * host's addresses as a curl resolve entry for port, "host:port:addr,...",
 * at most UPD_RESOLVE_ADDRS of them.
 */
int
upd_resolve_host(const char *host, long port, char *entry, size_t len,
    char *err, size_t errlen)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 addr[INET6_ADDRSTRLEN];
	char		 one[INET6_ADDRSTRLEN + 3];
	char		 seen[UPD_RESOLVE_ADDRS][INET6_ADDRSTRLEN];
	int		 rc, n = 0, i, gai;

	if (len > 0)
		entry[0] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if ((gai = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		rc = upd_fail(err, errlen, UPD_ERESOLVE, "cannot resolve %.256s: "
		    "%s", host, gai_strerror(gai));
		goto out;
	}
	if ((size_t)snprintf(entry, len, "%s:%ld:", host, port) >= len) {
		rc = upd_fail(err, errlen, UPD_EINVAL, "resolve entry too long");
		goto out;
	}
	for (ai = res; ai != NULL && n < UPD_RESOLVE_ADDRS; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)
			    (void *)ai->ai_addr)->sin_addr, addr, sizeof(addr));
		else if (ai->ai_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
			    (void *)ai->ai_addr)->sin6_addr, addr,
			    sizeof(addr));
		else
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(seen[i], addr) == 0)
				break;
		if (i < n)
			continue;
		(void)strlcpy(seen[n++], addr, sizeof(seen[0]));
		(void)snprintf(one, sizeof(one), ai->ai_family == AF_INET6 ?
		    "%s[%s]" : "%s%s", n > 1 ? "," : "", addr);
		if (strlcat(entry, one, len) >= len) {
			rc = upd_fail(err, errlen, UPD_EINVAL,
			    "resolve entry too long");
			goto out;
		}
	}
	rc = n > 0 ? UPD_OK : upd_fail(err, errlen, UPD_ERESOLVE,
	    "cannot resolve %.256s: no address", host);
 out:
	if (rc != UPD_OK && len > 0)
		entry[0] = '\0';
	if (res != NULL)
		freeaddrinfo(res);
	return (rc);
}

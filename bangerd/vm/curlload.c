/*
 * libcurl in the vm worker, loaded by vm_curl_load() as the worker
 * starts, once it has forked its provisioner (preinit.c).
 *
 * Linked in, libcurl and the thirty libraries it brings (OpenSSL,
 * GnuTLS, Kerberos, LDAP, ...) would be mapped in the provisioner too,
 * which never calls them, and each disk child it forks would copy the
 * page tables of their written pages and unmap them all at its exit:
 * measured, a disk child cost 3.5 to 3.9 ms of CPU that way, 3.0 ms
 * without them.  So bangerd-vm is linked without libcurl: the Makefile
 * links this file into bangerd-vm alone (not into the module archive
 * the other programs and the tests link, where its definitions would
 * stand in for libcurl's), and these are the curl_* functions the
 * worker calls, each calling libcurl's own through a pointer that
 * vm_curl_load() looked up.  They are not exported (bangerd-vm's
 * dynamic symbol table has no curl_*: regress/docs/layout.sh), so
 * libcurl's calls to itself bind to libcurl.
 *
 * It runs as root, before the sandbox, like the rest of the worker's
 * start (scripts/tcb.sh counts it).
 */
#define CURL_DISABLE_TYPECHECK	/* plain prototypes, not the macros */

#include <sys/types.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "log.h"
#include "vm.h"

#define LIBCURL		"libcurl.so.4"

typedef void	(*anyfn)(void);

static struct {
	CURLcode	 (*global_init)(long);
	CURL		*(*easy_init)(void);
	void		 (*easy_cleanup)(CURL *);
	CURLcode	 (*easy_perform)(CURL *);
	const char	*(*easy_strerror)(CURLcode);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLM		*(*multi_init)(void);
	CURLMcode	 (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMsg		*(*multi_info_read)(CURLM *, int *);
	CURLMcode	 (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode	 (*multi_socket_action)(CURLM *, curl_socket_t, int,
			    int *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		 (*slist_free_all)(struct curl_slist *);
} lc;

static const struct {
	const char	*name;
	size_t		 off;
} lc_syms[] = {
	{ "curl_global_init", offsetof(__typeof__(lc), global_init) },
	{ "curl_easy_init", offsetof(__typeof__(lc), easy_init) },
	{ "curl_easy_cleanup", offsetof(__typeof__(lc), easy_cleanup) },
	{ "curl_easy_perform", offsetof(__typeof__(lc), easy_perform) },
	{ "curl_easy_strerror", offsetof(__typeof__(lc), easy_strerror) },
	{ "curl_easy_setopt", offsetof(__typeof__(lc), easy_setopt) },
	{ "curl_easy_getinfo", offsetof(__typeof__(lc), easy_getinfo) },
	{ "curl_multi_init", offsetof(__typeof__(lc), multi_init) },
	{ "curl_multi_add_handle", offsetof(__typeof__(lc), multi_add_handle) },
	{ "curl_multi_remove_handle",
	    offsetof(__typeof__(lc), multi_remove_handle) },
	{ "curl_multi_assign", offsetof(__typeof__(lc), multi_assign) },
	{ "curl_multi_info_read", offsetof(__typeof__(lc), multi_info_read) },
	{ "curl_multi_setopt", offsetof(__typeof__(lc), multi_setopt) },
	{ "curl_multi_socket_action",
	    offsetof(__typeof__(lc), multi_socket_action) },
	{ "curl_slist_append", offsetof(__typeof__(lc), slist_append) },
	{ "curl_slist_free_all", offsetof(__typeof__(lc), slist_free_all) },
};

/*
 * libcurl loaded and started.  The worker speaks plain HTTP on
 * Firecracker's Unix sockets and never TLS, but libcurl starts OpenSSL
 * all the same: its error strings, every cipher and digest named, its
 * configuration file read, 1.4 MiB of memory touched.  Started first
 * with all of that declined, OpenSSL ignores libcurl's asking for it
 * again (OPENSSL_init_ssl(3)).  Nothing of libcurl's own
 * (CURL_GLOBAL_NOTHING) reads files the chroot lacks.  Fatal if any of
 * it fails: the worker cannot drive a VM without it.
 */
void
vm_curl_load(void)
{
	int		 (*ossl_init)(uint64_t, const OPENSSL_INIT_SETTINGS *);
	const char	*e;
	void		*dl, *fn;
	size_t		 i;

	if ((dl = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		fatalx("cannot load %s: %s", LIBCURL,
		    e != NULL ? e : "dlopen failed");
	}
	for (i = 0; i < sizeof(lc_syms) / sizeof(lc_syms[0]); i++) {
		if ((fn = dlsym(dl, lc_syms[i].name)) == NULL)
			fatalx("%s: no %s", LIBCURL, lc_syms[i].name);
		*(void **)((char *)&lc + lc_syms[i].off) = fn;
	}
	/* libssl is libcurl's: dlsym looks in what the handle loaded. */
	if ((*(void **)&ossl_init = dlsym(dl, "OPENSSL_init_ssl")) == NULL)
		fatalx("%s: no OPENSSL_init_ssl in its libraries", LIBCURL);
	if (ossl_init(OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
	    OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS |
	    OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		fatalx("cannot initialise OpenSSL");
	if (lc.global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		fatalx("cannot initialise libcurl");
}

CURLcode
curl_global_init(long flags)
{
	return lc.global_init(flags);
}

CURL *
curl_easy_init(void)
{
	return lc.easy_init();
}

void
curl_easy_cleanup(CURL *c)
{
	lc.easy_cleanup(c);
}

CURLcode
curl_easy_perform(CURL *c)
{
	return lc.easy_perform(c);
}

const char *
curl_easy_strerror(CURLcode rc)
{
	return lc.easy_strerror(rc);
}

/*
 * An option's one argument, passed on as the type its number says
 * (CURLOPTTYPE_*), as libcurl reads it: a long, an object or function
 * pointer, or a curl_off_t.  curl_multi_setopt's options are numbered
 * alike.
 */
#define SETOPT(fn_, h_, o_, ap_)					\
	((o_) < CURLOPTTYPE_OBJECTPOINT ?				\
	    (fn_)((h_), (o_), va_arg((ap_), long)) :			\
	 (o_) < CURLOPTTYPE_FUNCTIONPOINT ?				\
	    (fn_)((h_), (o_), va_arg((ap_), void *)) :			\
	 (o_) < CURLOPTTYPE_OFF_T ?					\
	    (fn_)((h_), (o_), va_arg((ap_), anyfn)) :			\
	 (o_) < CURLOPTTYPE_BLOB ?					\
	    (fn_)((h_), (o_), va_arg((ap_), curl_off_t)) :		\
	    (fn_)((h_), (o_), va_arg((ap_), void *)))

CURLcode
curl_easy_setopt(CURL *c, CURLoption o, ...)
{
	va_list		 ap;
	CURLcode	 rc;

	va_start(ap, o);
	rc = SETOPT(lc.easy_setopt, c, o, ap);
	va_end(ap);
	return rc;
}

CURLMcode
curl_multi_setopt(CURLM *m, CURLMoption o, ...)
{
	va_list		 ap;
	CURLMcode	 rc;

	va_start(ap, o);
	rc = SETOPT(lc.multi_setopt, m, o, ap);
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes a pointer to where its value goes. */
CURLcode
curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	va_list		 ap;
	CURLcode	 rc;

	va_start(ap, info);
	rc = lc.easy_getinfo(c, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLM *
curl_multi_init(void)
{
	return lc.multi_init();
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *c)
{
	return lc.multi_add_handle(m, c);
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *c)
{
	return lc.multi_remove_handle(m, c);
}

CURLMcode
curl_multi_assign(CURLM *m, curl_socket_t s, void *p)
{
	return lc.multi_assign(m, s, p);
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
	return lc.multi_info_read(m, left);
}

CURLMcode
curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev, int *running)
{
	return lc.multi_socket_action(m, s, ev, running);
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	return lc.slist_append(l, s);
}

void
curl_slist_free_all(struct curl_slist *l)
{
	lc.slist_free_all(l);
}

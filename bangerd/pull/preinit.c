/*
 * What the pull worker does as root, before its sandbox: its death
 * signal (an import's child that dies takes its worker with it), and
 * the libraries that would read files on first use, which its empty
 * chroot has not: libsodium, jansson's hash seed, libext2fs's error
 * texts, the C.UTF-8 locale libarchive reads the names of pax
 * headers in (layer.c says why), and libcurl with OpenSSL's
 * configuration for an image pull.
 */
#include <sys/types.h>
#include <sys/prctl.h>

#include <locale.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <curl/curl.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <jansson.h>
#include <sodium.h>

#include "log.h"
#include "layer.h"
#include "pull.h"

locale_t	 layer_locale = (locale_t)0;
pid_t		 pull_parent;	/* the import's child */

int
layer_preinit(void)
{
	locale_t	loc, old;
	mbstate_t	ps;
	wchar_t		wc;

	initialize_ext2_error_table();	/* error_message()'s texts */
	if (layer_locale != (locale_t)0)
		return (0);
	if ((loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0)) ==
	    (locale_t)0)
		return (-1);
	/*
	 * glibc loads a locale's multibyte conversion, and its gconv
	 * configuration, on the first conversion: make it now.
	 */
	old = uselocale(loc);
	memset(&ps, 0, sizeof(ps));
	(void)mbrtowc(&wc, "\xc3\xa9", 2, &ps);
	uselocale(old);
	layer_locale = loc;
	return (0);
}

int
pull_preinit(const struct worker_init *wi)
{
	(void)wi;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    (pull_parent = getppid()) == 1)
		return -1;
	if (sodium_init() < 0)
		return -1;
	tzset();
	json_object_seed(0);
	/* OpenSSL reads its configuration here, for an image pull. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	if (layer_preinit() == -1) {
		log_warn("pull: the C.UTF-8 locale");
		return -1;
	}
	return 0;
}

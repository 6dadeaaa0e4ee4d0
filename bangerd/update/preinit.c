/*
 * What the update worker does as root, before its sandbox: the
 * libraries that read files when they start, started, and the CA
 * bundle read into memory, since the chroot has neither.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "log.h"
#include "fetch.h"
#include "update.h"

#define CA_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"
#define CA_MAX		(4 * 1024 * 1024)

char	*upd_ca;
size_t	 upd_calen;

int
upd_global_init(char *err, size_t errlen)
{
	CURLcode	 rc;

	if (sodium_init() < 0)
		return (upd_fail(err, errlen, UPD_EINVAL, "sodium_init failed"));
	/*
	 * Things that would otherwise open files on first use, after
	 * chroot: glibc reads /etc/localtime on the first gmtime_r, and
	 * jansson seeds its hash from /dev/urandom on the first object.
	 */
	tzset();
	json_object_seed(0);
	/* OpenSSL reads its configuration here: before chroot. */
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK)
		return (upd_fail(err, errlen, UPD_EINVAL, "curl_global_init: %s",
		    curl_easy_strerror(rc)));
	return (UPD_OK);
}

/*
 * Before the sandbox: libcurl, OpenSSL and libsodium initialised, and
 * the CA bundle read into memory (a missing one only means https
 * cannot be verified; http to loopback still works).
 */
int
update_preinit(const struct worker_init *wi)
{
	char		 err[UPD_ERR_MAX];
	struct stat	 st;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	(void)wi;

	if (upd_global_init(err, sizeof(err)) != UPD_OK)
		fatalx("update: %s", err);
	if ((fd = open(CA_BUNDLE, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("update: %s; https updates cannot be verified",
		    CA_BUNDLE);
		return 0;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > CA_MAX) {
		log_warnx("update: %s is not a CA bundle of at most %d bytes",
		    CA_BUNDLE, CA_MAX);
		close(fd);
		return 0;
	}
	if ((upd_ca = malloc(st.st_size)) == NULL)
		fatal("%s", __func__);
	while (off < (size_t)st.st_size) {
		if ((n = read(fd, upd_ca + off, st.st_size - off)) <= 0)
			break;
		off += n;
	}
	close(fd);
	upd_calen = off;
	return 0;
}

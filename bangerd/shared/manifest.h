/*
 * Self-update: the signed manifest, its release and the update URL,
 * checked alike by the update worker and by the parent (manifest.c).
 * See banger-manifest(5) for the format.  The worker's fetches are
 * update/fetch.h; the parent's lookup of the host, upd_resolve(), is
 * in parent/parent.h.
 *
 * Sandbox: nothing here opens a file or looks a name up; the update
 * worker's upd_global_init() (update/fetch.c) loads what would,
 * before its chroot.  upd_seccomp_syscalls lists what a fetch needs
 * beyond the workers' common allow-list.
 *
 * Every function returning int returns UPD_OK (0) or one of the UPD_E*
 * codes, with a human-readable message in err (errlen bytes, always
 * NUL-terminated) saying what was refused and why.
 */
#ifndef BANGER_MANIFEST_H
#define BANGER_MANIFEST_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <sodium.h>

#include "signify.h"

#define UPD_MANIFEST_MAX	(1024 * 1024)	/* manifest.json cap */
#define UPD_SIG_MAX		SIGNIFY_FILE_MAX /* manifest.json.sig cap */
#define UPD_ARTIFACT_MAX	(1024ULL * 1024 * 1024) /* declared length */
#define UPD_URL_MAX		1024
#define UPD_VERSION_MAX		32		/* = PROTO_VERSION_MAX */
#define UPD_ARCH_MAX		16
#define UPD_ERR_MAX		512		/* = PROTO_MSG_MAX */
#define UPD_RESOLVE_MAX		512
#define UPD_VERSION_PARTS	4


enum upd_error {
	UPD_OK = 0,
	UPD_EINVAL,		/* bad argument, unsupported architecture */
	UPD_ENOMEM,
	UPD_EPLACEHOLDER,	/* built with the placeholder release key */
	UPD_EURL,		/* URL refused: scheme, http off loopback */
	UPD_ERESOLVE,		/* host name with no address given */
	UPD_ECONNREFUSED,	/* connection refused */
	UPD_ECONNECT,		/* other connection failure */
	UPD_ETIMEOUT,		/* connect, total or low-speed timeout */
	UPD_ETRUNCATED,		/* server closed before Content-Length */
	UPD_ETLS,		/* TLS handshake or certificate */
	UPD_EHTTP,		/* a status other than 200 */
	UPD_ENET,		/* any other transfer error */
	UPD_ETOOBIG,		/* over the cap or the declared length */
	UPD_EIO,		/* writing the caller's fd */
	UPD_ENOSIG,		/* no manifest.json.sig */
	UPD_ESIGFORMAT,		/* malformed signature file */
	UPD_EKEYNUM,		/* signed by another key */
	UPD_EBADSIG,		/* signature does not verify */
	UPD_EMANIFEST,		/* malformed manifest (after verification) */
	UPD_EEXPIRED,		/* now > the chosen release's expires */
	UPD_EUPTODATE,		/* newest release not newer than running */
	UPD_EROLLBACK,		/* ... not newer than the highest installed */
	UPD_ENOARCH,		/* no artifact for our architecture */
	UPD_EWRONGARCH,		/* artifact named for another arch/version */
	UPD_ELENGTH,		/* artifact shorter than declared */
	UPD_ESHA256,		/* artifact's SHA-256 differs */
	UPD_NERRORS
};

/* The chosen release's artifact, as the signed manifest describes it. */
struct upd_release {
	char		ur_version[UPD_VERSION_MAX];
	char		ur_arch[UPD_ARCH_MAX];
	char		ur_url[UPD_URL_MAX];
	uint64_t	ur_length;
	uint8_t		ur_sha256[32];
	int64_t		ur_released;		/* unix time */
	int64_t		ur_expires;
};

/* What the caller may accept. */
struct upd_want {
	const char	*uw_arch;	/* "x86_64", "aarch64"; NULL: ours */
	const char	*uw_running;	/* BANGER_VERSION */
	const char	*uw_installed;	/* highest ever installed, or NULL */
	int64_t		 uw_now;	/* unix time */
};



/* "x86_64" or "aarch64": the architecture this bangerd was built for. */
const char *upd_arch(void);

/* The key built in by `make RELEASE_PUBKEY=file.pub` (or the placeholder). */
const char *upd_builtin_pubkey_b64(void);
int	 upd_builtin_pubkey(struct signify_pubkey *, char *, size_t);

/*
 * Versions: one to UPD_VERSION_PARTS dot-separated decimal numbers, each
 * 0 or without leading zeros, at most 9 digits ("1", "1.2", "1.2.3",
 * "1.2.3.4"); no pre-release or build suffixes.  Compared number by
 * number from the left, missing numbers counting as 0, so 1.2 == 1.2.0
 * and 1.10 > 1.9.  upd_version_cmp returns -1 on a malformed version,
 * else 0 with *cmp < 0, 0 or > 0.
 */
int	 upd_version_valid(const char *);
int	 upd_version_cmp(const char *, const char *, int *);

/* "YYYY-MM-DDTHH:MM:SSZ" only; -1 if not a valid UTC time. */
int	 upd_time_parse(const char *, int64_t *);
void	 upd_time_format(int64_t, char *, size_t);	/* 21 bytes */

/*
 * Verify the manifest's raw bytes against sig with key, then (only
 * then) parse it and choose the newest release for want, refusing as
 * banger-manifest(5) says.  Pure: no I/O.  The parent can run it again
 * on the bytes the worker fetched.
 */
int	 upd_manifest_check(const struct signify_pubkey *, const void *,
	    size_t, const void *, size_t, const struct upd_want *,
	    struct upd_release *, char *, size_t);

/*
 * Refuse a URL that is not https (or, with allow_http, http to
 * 127.0.0.0/8, localhost or [::1]), has credentials, or is malformed.
 */
int	 upd_url_check(const char *, int, char *, size_t);




/*
 * Check fd's content (read with pread from offset 0; fd's own offset,
 * which the sender may share and move, is not used) against the
 * release: the parent's own check of what the worker hands it.  With
 * sealed set, refuse an fd not sealed against writing, growing and
 * shrinking: the worker keeps its own descriptor and could otherwise
 * change the bytes after this check.
 */
int	 upd_verify_fd(int, const struct upd_release *, int, char *, size_t);


/* "UPD_ETIMEOUT", ... */
const char *upd_errname(int);

/*
 * Between manifest.c, update/fetch.c and parent/updresolve.c: the
 * message format, the URL's parse and checks, the artifact's final
 * check.
 */
#define SHA256_LEN		crypto_hash_sha256_BYTES
#define PLACEHOLDER_MSG		"this bangerd was built with the placeholder " \
				"release key; it cannot verify updates"
int	 upd_fail(char *, size_t, int, const char *, ...)
	    __attribute__((__format__ (printf, 4, 5)));
int	 upd_host_is_literal(const char *);
int	 upd_url_parse(const char *, int, CURLU **, char **, long *, int *,
	    char *, size_t);
int	 upd_resolve_check(const char *, const char *, long, int, char *,
	    size_t);
int	 upd_artifact_final(const struct upd_release *, uint64_t,
	    const uint8_t *, char *, size_t);

#endif /* BANGER_MANIFEST_H */

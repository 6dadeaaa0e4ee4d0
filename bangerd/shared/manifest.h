/*
 * Self-update, the update worker's part: fetch the signed manifest,
 * verify it, choose the release and fetch its artifact, each with a
 * clear refusal.  See banger-manifest(5) for the format.
 *
 * Sandbox: call upd_global_init() BEFORE chroot (it loads OpenSSL's
 * configuration and libsodium).  After it, nothing here opens a file:
 * the CA bundle is passed in memory, the artifact goes to an fd the
 * caller gives, and host names are never looked up (an IP literal,
 * "localhost", or a resolve entry made outside the sandbox by
 * upd_resolve()).  No thread is started; libcurl's threaded resolver is
 * never reached.  upd_seccomp_syscalls lists what a fetch needs beyond
 * the workers' common allow-list.
 *
 * Every function returning int returns UPD_OK (0) or one of the UPD_E*
 * codes, with a human-readable message in err (errlen bytes, always
 * NUL-terminated) saying what was refused and why.
 */
#ifndef BANGER_UPDCHECK_H
#define BANGER_UPDCHECK_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

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

/* Defaults for a zero field of struct upd_fetch. */
#define UPD_CONNECT_TIMEOUT_MS	15000
#define UPD_TIMEOUT_MS		(10 * 60 * 1000)
#define UPD_LOW_SPEED_LIMIT	1024		/* bytes/s ... */
#define UPD_LOW_SPEED_TIME	60		/* ... for this many s */

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

/* How to fetch.  Zero-initialise; zero fields take the defaults. */
struct upd_fetch {
	const void	*uf_ca;		/* PEM CA bundle, read before chroot */
	size_t		 uf_calen;
	int		 uf_allow_http;	/* plain http, loopback hosts only */
	const char	*uf_resolve;	/* "host:port:addr[,addr...]" */
	int		 uf_allow_resolver; /* let libcurl look names up:
					   never inside the sandbox */
	long		 uf_connect_timeout_ms;
	long		 uf_timeout_ms;	/* the whole transfer */
	long		 uf_low_speed_limit; /* bytes/s, below which ... */
	long		 uf_low_speed_time;  /* ... for this many s aborts */
	/* artifact progress: each whole percent, and at the end */
	void		(*uf_progress)(uint64_t, uint64_t, void *);
	void		*uf_progress_arg;
};

/* Call once, before chroot. */
int	 upd_global_init(char *, size_t);

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
 * Fetch manifest_url and manifest_url + ".sig" (caps UPD_MANIFEST_MAX
 * and UPD_SIG_MAX) and run upd_manifest_check on them.  If mp/sp are
 * not NULL they get the raw bytes (free() them), for the parent.
 */
int	 upd_check(const char *, const struct upd_fetch *,
	    const struct signify_pubkey *, const struct upd_want *,
	    struct upd_release *, char **, size_t *, char **, size_t *,
	    char *, size_t);

/* Fetch url into a buffer of at most cap bytes (free() *bufp). */
int	 upd_fetch_buf(const char *, const struct upd_fetch *, size_t,
	    const char *, char **, size_t *, char *, size_t);

/*
 * Fetch the release's artifact into fd (truncated first), checking its
 * length and SHA-256 while it streams and stopping at the declared
 * length.  On any error fd is truncated to 0: nothing of it is usable.
 * On success fd is at offset 0 and, if it is a memfd made with
 * MFD_ALLOW_SEALING, sealed against any change (F_SEAL_WRITE, _GROW,
 * _SHRINK, _SEAL).
 */
int	 upd_fetch_artifact(const struct upd_release *,
	    const struct upd_fetch *, int, char *, size_t);

/*
 * Check fd's content (read with pread from offset 0; fd's own offset,
 * which the sender may share and move, is not used) against the
 * release: the parent's own check of what the worker hands it.  With
 * sealed set, refuse an fd not sealed against writing, growing and
 * shrinking: the worker keeps its own descriptor and could otherwise
 * change the bytes after this check.
 */
int	 upd_verify_fd(int, const struct upd_release *, int, char *, size_t);

/*
 * Outside the sandbox: look up url's host and make the resolve entry
 * ("host:port:addr,...", up to 4 addresses) for struct upd_fetch.
 */
int	 upd_resolve(const char *, char *, size_t, char *, size_t);

/* "UPD_ETIMEOUT", ... */
const char *upd_errname(int);

/* The system calls a fetch makes beyond the workers' common list. */
extern const int	upd_seccomp_syscalls[];
extern const size_t	upd_seccomp_nsyscalls;

#endif /* BANGER_UPDCHECK_H */

/*
 * The update worker's fetches (fetch.c): the manifest, its signature
 * and the artifact, over https or http to loopback, with no file
 * opened and no name looked up once upd_global_init() has run.
 */
#ifndef BANGER_FETCH_H
#define BANGER_FETCH_H

#include "manifest.h"

/* Defaults for a zero field of struct upd_fetch. */
#define UPD_CONNECT_TIMEOUT_MS	15000
#define UPD_TIMEOUT_MS		(10 * 60 * 1000)
#define UPD_LOW_SPEED_LIMIT	1024		/* bytes/s ... */
#define UPD_LOW_SPEED_TIME	60		/* ... for this many s */

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

/* preinit.c: call once, before chroot. */
int	 upd_global_init(char *, size_t);

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

/* The system calls a fetch makes beyond the workers' common list. */
extern const int	upd_seccomp_syscalls[];
extern const size_t	upd_seccomp_nsyscalls;

#endif /* BANGER_FETCH_H */

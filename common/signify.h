/*
 * signify(1) keys and signatures, checked with libsodium.
 *
 * A signify public key file is two lines:
 *	untrusted comment: <text>
 *	<base64 of "Ed" || 8-byte key number || 32-byte Ed25519 key>
 * and a detached signature file the same, with "Ed" || key number ||
 * 64-byte Ed25519 signature.  The signature is plain Ed25519 over the
 * message's bytes.  The parsers are strict: exactly those two lines,
 * each ending in a newline, nothing after them, canonical base64.
 *
 * Everything here is pure (no files, no allocation): it runs in the
 * sandboxed update worker and in the parent alike.  Call sodium_init()
 * (or upd_global_init()) once before signify_verify().
 */
#ifndef BANGER_SIGNIFY_H
#define BANGER_SIGNIFY_H

#include <stddef.h>
#include <stdint.h>

#define SIGNIFY_KEYNUM_LEN	8
#define SIGNIFY_PUBKEY_LEN	32
#define SIGNIFY_SIG_LEN		64
#define SIGNIFY_COMMENT_HDR	"untrusted comment: "
#define SIGNIFY_COMMENT_MAX	1024	/* signify's own limit, NUL included */
#define SIGNIFY_PUB_B64_LEN	56	/* base64 of 2 + 8 + 32 bytes */
#define SIGNIFY_SIG_B64_LEN	100	/* base64 of 2 + 8 + 64 bytes */
#define SIGNIFY_FILE_MAX	2048	/* a larger .pub/.sig is refused */

/*
 * The key a build without RELEASE_PUBKEY carries: "Ed", key number 0,
 * an all-zero key.  signify_pubkey_is_placeholder() recognises it.
 */
#define SIGNIFY_PLACEHOLDER_B64 \
	"RWQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

struct signify_pubkey {
	uint8_t		sp_keynum[SIGNIFY_KEYNUM_LEN];
	uint8_t		sp_key[SIGNIFY_PUBKEY_LEN];
};

struct signify_sig {
	uint8_t		ss_keynum[SIGNIFY_KEYNUM_LEN];
	uint8_t		ss_sig[SIGNIFY_SIG_LEN];
};

/*
 * Each returns 0, or -1 with *why (if why is not NULL) set to a static
 * reason such as "bad base64" or "not an Ed25519 key (algorithm \"..\")".
 */
int	signify_parse_pubkey(const void *, size_t, struct signify_pubkey *,
	    const char **);
int	signify_parse_pubkey_b64(const char *, size_t,
	    struct signify_pubkey *, const char **);
int	signify_parse_sig(const void *, size_t, struct signify_sig *,
	    const char **);

/* 1 if the key is the placeholder (an all-zero key), else 0. */
int	signify_pubkey_is_placeholder(const struct signify_pubkey *);

/* 1 if the signature names the key's key number, else 0. */
int	signify_keynum_match(const struct signify_pubkey *,
	    const struct signify_sig *);

/*
 * 0 if sig is the key's Ed25519 signature over msg; -1 (with *why)
 * if the key numbers differ, the key is the placeholder, or the
 * signature does not verify.
 */
int	signify_verify(const struct signify_pubkey *,
	    const struct signify_sig *, const void *, size_t, const char **);

/* The key number as 16 lowercase hex digits and a NUL. */
#define SIGNIFY_KEYNUM_HEX	(SIGNIFY_KEYNUM_LEN * 2 + 1)
void	signify_keynum_hex(const uint8_t *, char *);

#endif /* BANGER_SIGNIFY_H */

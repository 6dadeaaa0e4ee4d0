/*
 * Ed25519 SSH keys made with libsodium and written in OpenSSH's own
 * formats: the private key as ssh-keygen writes it unencrypted
 * ("openssh-key-v1", cipher and kdf "none", base64 wrapped at 70
 * columns between the BEGIN and END OPENSSH PRIVATE KEY lines), the
 * public key as one "ssh-ed25519 AAAA... comment" line.
 *
 * Every function returns 0 on success and -1 with errno set on failure:
 * EINVAL for a bad comment, ENOSPC for a buffer too small, EIO if
 * libsodium cannot start.  Text is NUL-terminated; the private key
 * ends with a newline, the public key line does not.
 */
#ifndef BANGERD_SSHKEY_H
#define BANGERD_SSHKEY_H

#include <stddef.h>
#include <stdint.h>

#define SSHKEY_ED25519_PK	32	/* crypto_sign_PUBLICKEYBYTES */
#define SSHKEY_ED25519_SK	64	/* crypto_sign_SECRETKEYBYTES: seed+pk */
#define SSHKEY_ED25519_SEED	32
#define SSHKEY_TYPE		"ssh-ed25519"
#define SSHKEY_COMMENT_MAX	255	/* printable ASCII, without NUL */
/* "ssh-ed25519 " + base64 of the 51-byte blob + " " + comment + NUL */
#define SSHKEY_PUB_MAX		(12 + 68 + 1 + SSHKEY_COMMENT_MAX + 1)
#define SSHKEY_PRIV_MAX		1024	/* the longest comment needs 737 */
#define SSHKEY_FP_MAX		(sizeof("SHA256:") + 43) /* base64, unpadded */

struct sshkey_ed25519 {
	unsigned char	sk_pk[SSHKEY_ED25519_PK];
	unsigned char	sk_sk[SSHKEY_ED25519_SK];
};

/* sshkey.c */
int	sshkey_ed25519_generate(struct sshkey_ed25519 *);
int	sshkey_ed25519_from_seed(struct sshkey_ed25519 *,
	    const unsigned char *);
void	sshkey_ed25519_clear(struct sshkey_ed25519 *);
int	sshkey_ed25519_public(const struct sshkey_ed25519 *, const char *,
	    char *, size_t);
int	sshkey_ed25519_private(const struct sshkey_ed25519 *, const char *,
	    char *, size_t);
int	sshkey_ed25519_private_checkint(const struct sshkey_ed25519 *,
	    const char *, uint32_t, char *, size_t);
int	sshkey_ed25519_fingerprint(const struct sshkey_ed25519 *, char *,
	    size_t);
int	sshkey_valid_comment(const char *);

#endif /* BANGERD_SSHKEY_H */

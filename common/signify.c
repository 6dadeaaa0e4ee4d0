/*
 * signify(1) public keys and detached signatures, verified with
 * libsodium's Ed25519.  See signify.h for the formats.
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "signify.h"

#define PKALG		"Ed"
#define PKALG_LEN	2
#define CRLF_WHY	"CRLF line endings (each line must end in a " \
			"newline alone)"

static int	reject(const char **, const char *);
static int	b64_blob(const char *, size_t, size_t, void *, size_t,
		    const char **);
static int	two_lines(const char *, size_t, const char **, size_t *,
		    const char **);

static int
reject(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return (-1);
}

/*
 * Decode one base64 line of exactly b64len characters into exactly
 * outlen bytes that start with "Ed".
 */
static int
b64_blob(const char *b64, size_t len, size_t b64len, void *out,
    size_t outlen, const char **why)
{
	size_t	 binlen = 0;

	if (len != b64len)
		return (reject(why, "wrong length"));
	if (memchr(b64, '\0', len) != NULL)
		return (reject(why, "embedded NUL"));
	if (sodium_base642bin(out, outlen, b64, len, NULL, &binlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || binlen != outlen)
		return (reject(why, "bad base64"));
	if (memcmp(out, PKALG, PKALG_LEN) != 0)
		return (reject(why, "not an Ed25519 key or signature "
		    "(algorithm is not \"Ed\")"));
	return (0);
}

/*
 * Split a signify file into its base64 line: the first line must be the
 * untrusted comment, the second the base64, each ending in a newline,
 * and nothing may follow.
 */
static int
two_lines(const char *buf, size_t len, const char **b64, size_t *b64len,
    const char **why)
{
	const char	*nl, *end, *nl2;
	size_t		 hdr = sizeof(SIGNIFY_COMMENT_HDR) - 1;

	if (buf == NULL || len == 0)
		return (reject(why, "empty"));
	if (len > SIGNIFY_FILE_MAX)
		return (reject(why, "too long"));
	end = buf + len;
	if ((nl = memchr(buf, '\n', len)) == NULL)
		return (reject(why, "missing the comment line"));
	/* Else the base64 line is one character long: "wrong length". */
	if (nl > buf && nl[-1] == '\r')
		return (reject(why, CRLF_WHY));
	if ((size_t)(nl - buf) <= hdr ||
	    memcmp(buf, SIGNIFY_COMMENT_HDR, hdr) != 0)
		return (reject(why, "missing the comment line (it must "
		    "start with \"" SIGNIFY_COMMENT_HDR "\")"));
	if ((size_t)(nl - buf) - hdr >= SIGNIFY_COMMENT_MAX)
		return (reject(why, "comment too long"));
	if (memchr(buf, '\0', nl - buf) != NULL)
		return (reject(why, "embedded NUL"));
	nl++;
	if ((nl2 = memchr(nl, '\n', end - nl)) == NULL)
		return (reject(why, "missing the newline after the base64"));
	if (nl2 > nl && nl2[-1] == '\r')
		return (reject(why, CRLF_WHY));
	if (nl2 + 1 != end)
		return (reject(why, "trailing data after the base64 line"));
	*b64 = nl;
	*b64len = nl2 - nl;
	return (0);
}

int
signify_parse_pubkey_b64(const char *b64, size_t len,
    struct signify_pubkey *pk, const char **why)
{
	uint8_t	 blob[PKALG_LEN + SIGNIFY_KEYNUM_LEN + SIGNIFY_PUBKEY_LEN];

	if (b64 == NULL)
		return (reject(why, "empty"));
	if (b64_blob(b64, len, SIGNIFY_PUB_B64_LEN, blob, sizeof(blob),
	    why) == -1)
		return (-1);
	memcpy(pk->sp_keynum, blob + PKALG_LEN, SIGNIFY_KEYNUM_LEN);
	memcpy(pk->sp_key, blob + PKALG_LEN + SIGNIFY_KEYNUM_LEN,
	    SIGNIFY_PUBKEY_LEN);
	return (0);
}

int
signify_parse_pubkey(const void *buf, size_t len, struct signify_pubkey *pk,
    const char **why)
{
	const char	*b64;
	size_t		 b64len;

	if (two_lines(buf, len, &b64, &b64len, why) == -1)
		return (-1);
	return (signify_parse_pubkey_b64(b64, b64len, pk, why));
}

int
signify_parse_sig(const void *buf, size_t len, struct signify_sig *sig,
    const char **why)
{
	uint8_t		 blob[PKALG_LEN + SIGNIFY_KEYNUM_LEN + SIGNIFY_SIG_LEN];
	const char	*b64;
	size_t		 b64len;

	if (two_lines(buf, len, &b64, &b64len, why) == -1)
		return (-1);
	if (b64_blob(b64, b64len, SIGNIFY_SIG_B64_LEN, blob, sizeof(blob),
	    why) == -1)
		return (-1);
	memcpy(sig->ss_keynum, blob + PKALG_LEN, SIGNIFY_KEYNUM_LEN);
	memcpy(sig->ss_sig, blob + PKALG_LEN + SIGNIFY_KEYNUM_LEN,
	    SIGNIFY_SIG_LEN);
	return (0);
}

int
signify_pubkey_is_placeholder(const struct signify_pubkey *pk)
{
	uint8_t	 acc = 0;
	size_t	 i;

	/* An all-zero Ed25519 key can verify nothing, whatever its number. */
	for (i = 0; i < sizeof(pk->sp_key); i++)
		acc |= pk->sp_key[i];
	return (acc == 0);
}

int
signify_keynum_match(const struct signify_pubkey *pk,
    const struct signify_sig *sig)
{
	return (memcmp(pk->sp_keynum, sig->ss_keynum,
	    SIGNIFY_KEYNUM_LEN) == 0);
}

int
signify_verify(const struct signify_pubkey *pk, const struct signify_sig *sig,
    const void *msg, size_t len, const char **why)
{
	if (signify_pubkey_is_placeholder(pk))
		return (reject(why, "the key is the placeholder"));
	if (!signify_keynum_match(pk, sig))
		return (reject(why, "signed with another key"));
	if (crypto_sign_verify_detached(sig->ss_sig, msg, len,
	    pk->sp_key) != 0)
		return (reject(why, "signature verification failed"));
	return (0);
}

void
signify_keynum_hex(const uint8_t *keynum, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < SIGNIFY_KEYNUM_LEN; i++) {
		out[2 * i] = hex[keynum[i] >> 4];
		out[2 * i + 1] = hex[keynum[i] & 0xf];
	}
	out[2 * SIGNIFY_KEYNUM_LEN] = '\0';
}

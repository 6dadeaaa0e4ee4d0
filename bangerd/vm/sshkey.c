/*
 * Ed25519 SSH keys in OpenSSH's formats (see sshkey.h).
 *
 * The private key file is what OpenSSH's sshkey_private_to_blob2()
 * makes with cipher "none":
 *
 *	"openssh-key-v1\0"
 *	string	"none"			cipher
 *	string	"none"			kdf
 *	string	""			kdf options
 *	uint32	1			number of keys
 *	string	public key blob		string "ssh-ed25519", string pk
 *	string	private section:
 *		uint32	checkint, uint32 the same checkint
 *		string	"ssh-ed25519"
 *		string	pk (32 bytes)
 *		string	sk (64 bytes: seed and pk, libsodium's layout)
 *		string	comment
 *		bytes	1, 2, 3, ... up to a multiple of 8 (the block size)
 *
 * base64 encoded, a newline after every 70 characters and at the end.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "sshkey.h"

#define MARK_BEGIN	"-----BEGIN OPENSSH PRIVATE KEY-----\n"
#define MARK_END	"-----END OPENSSH PRIVATE KEY-----\n"
#define AUTH_MAGIC	"openssh-key-v1"	/* with its NUL */
#define B64_WRAP	70
#define PAD_BLOCK	8		/* cipher "none" */
#define PUBBLOB_LEN	(4 + sizeof(SSHKEY_TYPE) - 1 + 4 + SSHKEY_ED25519_PK)
#define BLOB_MAX	512		/* 490 with the longest comment */

/* A bounded byte buffer; an overflow sticks and fails the caller. */
struct wbuf {
	unsigned char	*b;
	size_t		 len;
	size_t		 size;
	int		 over;
};

static int	sodium_ready(void);
static void	put_bytes(struct wbuf *, const void *, size_t);
static void	put_u32(struct wbuf *, uint32_t);
static void	put_string(struct wbuf *, const void *, size_t);
static void	put_cstring(struct wbuf *, const char *);
static void	put_pubblob(struct wbuf *, const struct sshkey_ed25519 *);
static int	fmt_line(char *, size_t, const char *, ...)
		    __attribute__((__format__ (printf, 3, 4)));

static int
sodium_ready(void)
{
	if (sodium_init() == -1) {
		errno = EIO;
		return (-1);
	}
	return (0);
}

static void
put_bytes(struct wbuf *w, const void *p, size_t n)
{
	if (w->over || n > w->size - w->len) {
		w->over = 1;
		return;
	}
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void
put_u32(struct wbuf *w, uint32_t v)
{
	unsigned char	b[4];

	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
	put_bytes(w, b, sizeof(b));
}

static void
put_string(struct wbuf *w, const void *p, size_t n)
{
	put_u32(w, n);
	put_bytes(w, p, n);
}

static void
put_cstring(struct wbuf *w, const char *s)
{
	put_string(w, s, strlen(s));
}

static void
put_pubblob(struct wbuf *w, const struct sshkey_ed25519 *k)
{
	put_cstring(w, SSHKEY_TYPE);
	put_string(w, k->sk_pk, sizeof(k->sk_pk));
}

/* A line into buf whole, or ENOSPC and buf empty: never a cut-off one. */
static int
fmt_line(char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		errno = ENOSPC;
		return (-1);
	}
	return (0);
}

/* What ssh-keygen -C takes and sshd shows: printable ASCII, one line. */
int
sshkey_valid_comment(const char *c)
{
	size_t	i;

	if (c == NULL) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; c[i] != '\0'; i++)
		if (i >= SSHKEY_COMMENT_MAX || c[i] < 0x20 || c[i] > 0x7e) {
			errno = EINVAL;
			return (-1);
		}
	return (0);
}

int
sshkey_ed25519_generate(struct sshkey_ed25519 *k)
{
	if (sodium_ready() == -1)
		return (-1);
	if (crypto_sign_keypair(k->sk_pk, k->sk_sk) != 0) {
		sshkey_ed25519_clear(k);
		errno = EIO;
		return (-1);
	}
	return (0);
}

int
sshkey_ed25519_from_seed(struct sshkey_ed25519 *k, const unsigned char *seed)
{
	if (sodium_ready() == -1)
		return (-1);
	if (crypto_sign_seed_keypair(k->sk_pk, k->sk_sk, seed) != 0) {
		sshkey_ed25519_clear(k);
		errno = EIO;
		return (-1);
	}
	return (0);
}

void
sshkey_ed25519_clear(struct sshkey_ed25519 *k)
{
	sodium_memzero(k, sizeof(*k));
}

/* "ssh-ed25519 AAAA...[ comment]", without a newline. */
int
sshkey_ed25519_public(const struct sshkey_ed25519 *k, const char *comment,
    char *buf, size_t len)
{
	unsigned char	blob[PUBBLOB_LEN];
	char		b64[sodium_base64_ENCODED_LEN(PUBBLOB_LEN,
			    sodium_base64_VARIANT_ORIGINAL)];
	struct wbuf	w = { blob, 0, sizeof(blob), 0 };

	if (len > 0)
		buf[0] = '\0';
	if (sodium_ready() == -1)
		return (-1);
	if (comment != NULL && sshkey_valid_comment(comment) == -1)
		return (-1);
	put_pubblob(&w, k);
	if (w.over || w.len != sizeof(blob)) {
		errno = EINVAL;
		return (-1);
	}
	sodium_bin2base64(b64, sizeof(b64), blob, w.len,
	    sodium_base64_VARIANT_ORIGINAL);
	if (comment != NULL && *comment != '\0')
		return (fmt_line(buf, len, "%s %s %s", SSHKEY_TYPE, b64,
		    comment));
	return (fmt_line(buf, len, "%s %s", SSHKEY_TYPE, b64));
}

int
sshkey_ed25519_private(const struct sshkey_ed25519 *k, const char *comment,
    char *buf, size_t len)
{
	if (sodium_ready() == -1)
		return (-1);
	return (sshkey_ed25519_private_checkint(k, comment,
	    randombytes_random(), buf, len));
}

/*
 * The private key file with a given checkint (ssh-keygen picks a random
 * one; the tests give ssh-keygen's to compare the files byte for byte).
 */
int
sshkey_ed25519_private_checkint(const struct sshkey_ed25519 *k,
    const char *comment, uint32_t checkint, char *buf, size_t len)
{
	unsigned char	 blob[BLOB_MAX], priv[BLOB_MAX];
	char		 b64[sodium_base64_ENCODED_LEN(BLOB_MAX,
			    sodium_base64_VARIANT_ORIGINAL)];
	struct wbuf	 w = { blob, 0, sizeof(blob), 0 };
	struct wbuf	 p = { priv, 0, sizeof(priv), 0 };
	size_t		 b64len, i, need, o;
	unsigned char	 pad;
	int		 rv = -1;

	if (len > 0)
		buf[0] = '\0';
	if (sodium_ready() == -1)
		return (-1);
	if (comment == NULL)
		comment = "";
	if (sshkey_valid_comment(comment) == -1)
		return (-1);

	put_u32(&p, checkint);
	put_u32(&p, checkint);
	put_cstring(&p, SSHKEY_TYPE);
	put_string(&p, k->sk_pk, sizeof(k->sk_pk));
	put_string(&p, k->sk_sk, sizeof(k->sk_sk));
	put_cstring(&p, comment);
	for (pad = 1; !p.over && p.len % PAD_BLOCK != 0; pad++)
		put_bytes(&p, &pad, 1);

	put_bytes(&w, AUTH_MAGIC, sizeof(AUTH_MAGIC));
	put_cstring(&w, "none");
	put_cstring(&w, "none");
	put_cstring(&w, "");
	put_u32(&w, 1);
	put_u32(&w, PUBBLOB_LEN);
	put_pubblob(&w, k);
	put_string(&w, priv, p.len);
	if (w.over || p.over) {
		errno = EINVAL;
		goto out;
	}

	sodium_bin2base64(b64, sizeof(b64), blob, w.len,
	    sodium_base64_VARIANT_ORIGINAL);
	b64len = strlen(b64);
	need = sizeof(MARK_BEGIN) - 1 + b64len + b64len / B64_WRAP + 1 +
	    sizeof(MARK_END) - 1 + 1;
	if (len < need) {
		errno = ENOSPC;
		goto out;
	}
	o = 0;
	memcpy(buf + o, MARK_BEGIN, sizeof(MARK_BEGIN) - 1);
	o += sizeof(MARK_BEGIN) - 1;
	for (i = 0; i < b64len; i++) {
		buf[o++] = b64[i];
		if (i % B64_WRAP == B64_WRAP - 1)
			buf[o++] = '\n';
	}
	if (b64len % B64_WRAP != 0)
		buf[o++] = '\n';
	memcpy(buf + o, MARK_END, sizeof(MARK_END) - 1);
	o += sizeof(MARK_END) - 1;
	buf[o] = '\0';
	rv = 0;
 out:
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(blob, sizeof(blob));
	sodium_memzero(b64, sizeof(b64));
	if (rv == -1 && len > 0)
		buf[0] = '\0';
	return (rv);
}

/* "SHA256:..." as ssh-keygen -l shows it. */
int
sshkey_ed25519_fingerprint(const struct sshkey_ed25519 *k, char *buf,
    size_t len)
{
	unsigned char	blob[PUBBLOB_LEN], md[crypto_hash_sha256_BYTES];
	char		b64[sodium_base64_ENCODED_LEN(sizeof(md),
			    sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
	struct wbuf	w = { blob, 0, sizeof(blob), 0 };

	if (len > 0)
		buf[0] = '\0';
	if (sodium_ready() == -1)
		return (-1);
	put_pubblob(&w, k);
	if (w.over) {
		errno = EINVAL;
		return (-1);
	}
	crypto_hash_sha256(md, blob, w.len);
	sodium_bin2base64(b64, sizeof(b64), md, sizeof(md),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	return (fmt_line(buf, len, "SHA256:%s", b64));
}

/*
 * Unit tests for bangerd/vm/sshkey.c: the keys it writes are the ones
 * OpenSSH reads.  ssh-keygen -y on the private key prints the same
 * public key, ssh-keygen -l takes the public key and shows the same
 * fingerprint, a signature made with the secret key verifies with the
 * public key (libsodium, and ssh-keygen -Y), and a key ssh-keygen made
 * comes out of sshkey.c byte for byte the same given its seed and
 * checkint.  The checks that need ssh-keygen skip, saying so, without
 * it (Debian: openssh-client).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "regress.h"
#include "vm/sshkey.h"

#define COMMENT		"root@test-vm"
#define BLOB_MAX	2048

static char	tmpdir[] = "/tmp/banger-sshkey.XXXXXX";
static int	have_keygen;

static int	write_file(const char *, const char *, mode_t);
static char	*read_file(const char *);
static char	*run(const char *);
static size_t	decode_private(const char *, unsigned char *, size_t);
static int	decode_public(const char *, unsigned char *);
static uint32_t	get_u32(const unsigned char *);
static int	get_string(const unsigned char *, size_t, size_t *,
		    const unsigned char **, size_t *);
static void	test_formats(void);
static void	test_keygen_reads(void);
static void	test_signature(void);
static void	test_same_as_keygen(void);
static void	test_errors(void);
static void	cleanup(void);

static int
write_file(const char *path, const char *s, mode_t mode)
{
	int	fd;
	size_t	len = strlen(s);

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1)
		return (-1);
	if (write(fd, s, len) != (ssize_t)len) {
		close(fd);
		return (-1);
	}
	return (close(fd));
}

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static char *
read_file(const char *path)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	if ((buf = calloc(1, 65536)) == NULL) {
		fclose(f);
		return (NULL);
	}
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return (buf);
}

/* A shell command's output with stderr, or NULL if it failed. */
static char *
run(const char *cmd)
{
	FILE	*p;
	char	*buf, full[1024];
	size_t	 n;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	if ((p = popen(full, "r")) == NULL)
		return (NULL);
	if ((buf = calloc(1, 8192)) == NULL) {
		pclose(p);
		return (NULL);
	}
	n = fread(buf, 1, 8191, p);
	buf[n] = '\0';
	if (pclose(p) != 0) {
		fprintf(stderr, "%s: %s", cmd, buf);
		free(buf);
		return (NULL);
	}
	return (buf);
}

/* The bytes between the BEGIN and END lines; 0 if the shape is wrong. */
static size_t
decode_private(const char *text, unsigned char *bin, size_t size)
{
	const char	*b, *e;
	size_t		 len;

	if (strncmp(text, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36) != 0)
		return (0);
	b = text + 36;
	if ((e = strstr(b, "-----END OPENSSH PRIVATE KEY-----\n")) == NULL ||
	    e[34] != '\0')
		return (0);
	if (sodium_base642bin(bin, size, b, e - b, "\n", &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return (0);
	return (len);
}

/* The 32-byte key of an "ssh-ed25519 AAAA... comment" line. */
static int
decode_public(const char *line, unsigned char *pk)
{
	unsigned char	 blob[128];
	const char	*b, *e;
	size_t		 len;

	if (strncmp(line, "ssh-ed25519 ", 12) != 0)
		return (-1);
	b = line + 12;
	e = b + strcspn(b, " \n");
	if (sodium_base642bin(blob, sizeof(blob), b, e - b, NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || len != 51)
		return (-1);
	if (memcmp(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) != 0)
		return (-1);
	memcpy(pk, blob + 19, 32);
	return (0);
}

static uint32_t
get_u32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static int
get_string(const unsigned char *b, size_t len, size_t *off,
    const unsigned char **s, size_t *slen)
{
	uint32_t	n;

	if (len - *off < 4)
		return (-1);
	n = get_u32(b + *off);
	*off += 4;
	if (len - *off < n)
		return (-1);
	*s = b + *off;
	*slen = n;
	*off += n;
	return (0);
}

/* The shapes: lines, wrapping, markers, the decoded layout. */
static void
test_formats(void)
{
	struct sshkey_ed25519	 k;
	char			 priv[SSHKEY_PRIV_MAX], pub[SSHKEY_PUB_MAX];
	char			 fp[SSHKEY_FP_MAX];
	unsigned char		 bin[BLOB_MAX], pk[32];
	const unsigned char	*s;
	size_t			 len, off, slen, i, plen;
	const char		*line;
	int			 ok;

	T_CHECK("generate", sshkey_ed25519_generate(&k) == 0, "%s",
	    strerror(errno));
	T_CHECK("public line", sshkey_ed25519_public(&k, COMMENT, pub,
	    sizeof(pub)) == 0 && strncmp(pub, "ssh-ed25519 AAAAC3NzaC1lZDI1"
	    "NTE5AAAAI", 32) == 0 && strchr(pub, '\n') == NULL &&
	    strlen(pub) == 12 + 68 + 1 + strlen(COMMENT) &&
	    strcmp(pub + 12 + 68, " " COMMENT) == 0, "%s", pub);
	T_CHECK("public line holds the key", decode_public(pub, pk) == 0 &&
	    memcmp(pk, k.sk_pk, 32) == 0, "%s", pub);
	T_CHECK("public line without a comment",
	    sshkey_ed25519_public(&k, NULL, pub, sizeof(pub)) == 0 &&
	    strlen(pub) == 12 + 68, "'%s'", pub);
	T_CHECK("private key written", sshkey_ed25519_private(&k, COMMENT,
	    priv, sizeof(priv)) == 0, "%s", strerror(errno));

	/* Every base64 line 70 characters but the last, nothing longer. */
	ok = 1;
	line = strchr(priv, '\n') + 1;
	while (strncmp(line, "-----END", 8) != 0) {
		const char *nl = strchr(line, '\n');

		len = nl - line;
		if (len > 70 || len == 0 || (len < 70 &&
		    strncmp(nl + 1, "-----END", 8) != 0))
			ok = 0;
		line = nl + 1;
	}
	T_CHECK("private key wrapped at 70", ok, "%s", priv);

	len = decode_private(priv, bin, sizeof(bin));
	T_CHECK("private key markers and base64", len > 0, "%s", priv);
	off = 15;
	ok = len > 15 && memcmp(bin, "openssh-key-v1\0", 15) == 0;
	ok = ok && get_string(bin, len, &off, &s, &slen) == 0 &&
	    slen == 4 && memcmp(s, "none", 4) == 0;
	ok = ok && get_string(bin, len, &off, &s, &slen) == 0 &&
	    slen == 4 && memcmp(s, "none", 4) == 0;
	ok = ok && get_string(bin, len, &off, &s, &slen) == 0 && slen == 0;
	ok = ok && len - off >= 4 && get_u32(bin + off) == 1;
	off += 4;
	ok = ok && get_string(bin, len, &off, &s, &slen) == 0 &&
	    slen == 51 && memcmp(s + 19, k.sk_pk, 32) == 0;
	ok = ok && get_string(bin, len, &off, &s, &slen) == 0 &&
	    off == len && slen % 8 == 0;
	T_CHECK("private key layout", ok, "decoded %zu bytes", len);
	if (ok) {
		const unsigned char *p = s;

		plen = slen;
		off = 8;
		ok = get_u32(p) == get_u32(p + 4);
		ok = ok && get_string(p, plen, &off, &s, &slen) == 0 &&
		    slen == 11 && memcmp(s, "ssh-ed25519", 11) == 0;
		ok = ok && get_string(p, plen, &off, &s, &slen) == 0 &&
		    slen == 32 && memcmp(s, k.sk_pk, 32) == 0;
		ok = ok && get_string(p, plen, &off, &s, &slen) == 0 &&
		    slen == 64 && memcmp(s, k.sk_sk, 64) == 0;
		ok = ok && get_string(p, plen, &off, &s, &slen) == 0 &&
		    slen == strlen(COMMENT) && memcmp(s, COMMENT, slen) == 0;
		for (i = 0; ok && off + i < plen; i++)
			ok = p[off + i] == i + 1;
		T_CHECK("private section: checkints, key, comment, padding",
		    ok, "bad private section");
	}
	T_CHECK("fingerprint", sshkey_ed25519_fingerprint(&k, fp,
	    sizeof(fp)) == 0 && strncmp(fp, "SHA256:", 7) == 0 &&
	    strlen(fp) == 7 + 43, "%s", fp);
	sshkey_ed25519_clear(&k);
}

/* ssh-keygen -y and -l take what sshkey.c writes. */
static void
test_keygen_reads(void)
{
	struct sshkey_ed25519	 k;
	char			 priv[SSHKEY_PRIV_MAX], pub[SSHKEY_PUB_MAX + 1];
	char			 fp[SSHKEY_FP_MAX], cmd[512];
	char			 pubnl[sizeof(pub)];
	char			 path[256], ppath[256], *out;

	if (!have_keygen) {
		t_skip("ssh-keygen -y", "no ssh-keygen (openssh-client)");
		t_skip("ssh-keygen -l", "no ssh-keygen (openssh-client)");
		return;
	}
	if (sshkey_ed25519_generate(&k) == -1 ||
	    sshkey_ed25519_public(&k, COMMENT, pub, sizeof(pub)) == -1 ||
	    sshkey_ed25519_private(&k, COMMENT, priv, sizeof(priv)) == -1 ||
	    sshkey_ed25519_fingerprint(&k, fp, sizeof(fp)) == -1) {
		t_fail("ssh-keygen -y", "cannot make a key: %s",
		    strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/key", tmpdir);
	snprintf(ppath, sizeof(ppath), "%s/key.pub", tmpdir);
	snprintf(pubnl, sizeof(pubnl), "%s\n", pub);
	if (write_file(path, priv, 0600) == -1 ||
	    write_file(ppath, pubnl, 0644) == -1) {
		t_fail("ssh-keygen -y", "write: %s", strerror(errno));
		return;
	}

	snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f %s", path);
	out = run(cmd);
	T_CHECK("ssh-keygen -y prints the same public key",
	    out != NULL && strcmp(out, pubnl) == 0, "got '%s', want '%s'",
	    out ? out : "(failed)", pub);
	free(out);

	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -f %s", ppath);
	out = run(cmd);
	T_CHECK("ssh-keygen -l takes the public key", out != NULL &&
	    strncmp(out, "256 ", 4) == 0 && strstr(out, fp) != NULL &&
	    strstr(out, " " COMMENT " (ED25519)\n") != NULL, "got '%s'",
	    out ? out : "(failed)");
	free(out);

	/* And its fingerprint of the private key is the same. */
	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -f %s", path);
	out = run(cmd);
	T_CHECK("ssh-keygen -l takes the private key", out != NULL &&
	    strstr(out, fp) != NULL, "got '%s'", out ? out : "(failed)");
	free(out);
	sshkey_ed25519_clear(&k);
}

/* A signature by the secret key verifies with the public key. */
static void
test_signature(void)
{
	struct sshkey_ed25519	 k;
	char			 priv[SSHKEY_PRIV_MAX], pub[SSHKEY_PUB_MAX];
	char			 cmd[1024], path[256], msg[256], *out;
	unsigned char		 bin[BLOB_MAX], pk[32], sk[64];
	unsigned char		 sig[crypto_sign_BYTES];
	const unsigned char	*s;
	size_t			 len, off, slen;
	const char		 m[] = "banger host key check";
	char			 allowed[SSHKEY_PUB_MAX + 64];

	if (sshkey_ed25519_generate(&k) == -1 ||
	    sshkey_ed25519_public(&k, COMMENT, pub, sizeof(pub)) == -1 ||
	    sshkey_ed25519_private(&k, COMMENT, priv, sizeof(priv)) == -1) {
		t_fail("signature", "cannot make a key: %s", strerror(errno));
		return;
	}
	/* The secret key as read back from the file, not from memory. */
	len = decode_private(priv, bin, sizeof(bin));
	off = 15 + 8 + 8 + 4 + 4 + 4 + 51;
	if (len == 0 || get_string(bin, len, &off, &s, &slen) == -1 ||
	    slen < 8 + 15 + 36 + 68) {
		t_fail("signature", "cannot parse the private key");
		return;
	}
	memcpy(sk, s + 8 + 15 + 36 + 4, 64);
	T_CHECK("public key from the line", decode_public(pub, pk) == 0,
	    "%s", pub);
	crypto_sign_detached(sig, NULL, (const unsigned char *)m,
	    sizeof(m) - 1, sk);
	T_CHECK("signature verifies with the public key",
	    crypto_sign_verify_detached(sig, (const unsigned char *)m,
	    sizeof(m) - 1, pk) == 0, "verify failed");
	sig[0] ^= 1;
	T_CHECK("a changed signature does not verify",
	    crypto_sign_verify_detached(sig, (const unsigned char *)m,
	    sizeof(m) - 1, pk) != 0, "verified");
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(bin, sizeof(bin));

	if (!have_keygen) {
		t_skip("ssh-keygen -Y", "no ssh-keygen (openssh-client)");
		sshkey_ed25519_clear(&k);
		return;
	}
	snprintf(path, sizeof(path), "%s/sigkey", tmpdir);
	snprintf(msg, sizeof(msg), "%s/msg", tmpdir);
	snprintf(allowed, sizeof(allowed), "test@banger %s\n", pub);
	snprintf(cmd, sizeof(cmd), "%s/allowed", tmpdir);
	if (write_file(path, priv, 0600) == -1 ||
	    write_file(msg, m, 0644) == -1 ||
	    write_file(cmd, allowed, 0644) == -1) {
		t_fail("ssh-keygen -Y", "write: %s", strerror(errno));
		return;
	}
	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -Y sign -f %s -n banger %s",
	    path, msg);
	out = run(cmd);
	T_CHECK("ssh-keygen -Y sign with the private key", out != NULL,
	    "sign failed");
	free(out);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -Y verify -f %s/allowed "
	    "-I test@banger -n banger -s %s.sig < %s", tmpdir, msg, msg);
	out = run(cmd);
	T_CHECK("ssh-keygen -Y verify with the public key", out != NULL &&
	    strstr(out, "Good \"banger\" signature") != NULL, "got '%s'",
	    out ? out : "(failed)");
	free(out);
	sshkey_ed25519_clear(&k);
}

/*
 * ssh-keygen's own key, rebuilt from its seed, checkint and comment,
 * is the same file byte for byte, and so is its .pub.
 */
static void
test_same_as_keygen(void)
{
	struct sshkey_ed25519	 k;
	char			 cmd[512], path[256], ppath[256], name[128];
	char			 priv[SSHKEY_PRIV_MAX], pub[SSHKEY_PUB_MAX + 2];
	char			 comment[SSHKEY_COMMENT_MAX + 1];
	char			*ref, *refpub, *out;
	unsigned char		 bin[BLOB_MAX], seed[32];
	const unsigned char	*s, *p;
	size_t			 len, off, slen, plen;
	uint32_t		 checkint;
	const char		*comments[] = { "root@test-vm", "",
	    "a comment with spaces and = signs, 0123456789 ~!@#$%^&*()_+",
	    NULL };
	int			 i, ok;

	if (!have_keygen) {
		t_skip("same as ssh-keygen", "no ssh-keygen (openssh-client)");
		return;
	}
	for (i = 0; comments[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/ref%d", tmpdir, i);
		snprintf(ppath, sizeof(ppath), "%s/ref%d.pub", tmpdir, i);
		snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N '' "
		    "-C '%s' -f %s", comments[i], path);
		out = run(cmd);
		ref = read_file(path);
		refpub = read_file(ppath);
		ok = 0;
		len = ref != NULL ? decode_private(ref, bin, sizeof(bin)) : 0;
		off = 15 + 8 + 8 + 4 + 4 + 4 + 51;
		if (out != NULL && len != 0 &&
		    get_string(bin, len, &off, &p, &plen) == 0 &&
		    plen > 8 + 15 + 36 + 68 + 4) {
			checkint = get_u32(p);
			memcpy(seed, p + 8 + 15 + 36 + 4, 32);
			off = 8 + 15 + 36 + 68;
			if (get_string(p, plen, &off, &s, &slen) == 0 &&
			    slen < sizeof(comment)) {
				memcpy(comment, s, slen);
				comment[slen] = '\0';
				ok = 1;
			}
		}
		if (!ok) {
			t_fail("same as ssh-keygen", "cannot read %s", path);
			free(out);
			free(ref);
			free(refpub);
			continue;
		}
		snprintf(name, sizeof(name), "ssh-keygen's comment %d read "
		    "back", i);
		T_CHECK(name, strcmp(comment, comments[i]) == 0, "'%s'",
		    comment);
		ok = sshkey_ed25519_from_seed(&k, seed) == 0 &&
		    sshkey_ed25519_private_checkint(&k, comment, checkint,
		    priv, sizeof(priv)) == 0 &&
		    sshkey_ed25519_public(&k, comment, pub, sizeof(pub) - 2)
		    == 0;
		/* ssh-keygen leaves a space where an empty comment is. */
		strlcat(pub, *comment == '\0' ? " \n" : "\n", sizeof(pub));
		snprintf(name, sizeof(name), "private key %d byte for byte as "
		    "ssh-keygen writes it", i);
		T_CHECK(name, ok && strcmp(priv, ref) == 0,
		    "\n%s\nwant\n%s", priv, ref);
		snprintf(name, sizeof(name), "public key %d as ssh-keygen "
		    "writes it", i);
		T_CHECK(name, ok && refpub != NULL && strcmp(pub, refpub) == 0,
		    "'%s' want '%s'", pub, refpub ? refpub : "(none)");
		sodium_memzero(seed, sizeof(seed));
		sodium_memzero(bin, sizeof(bin));
		sshkey_ed25519_clear(&k);
		free(out);
		free(ref);
		free(refpub);
	}
}

static void
test_errors(void)
{
	struct sshkey_ed25519	 k, k2;
	char			 priv[SSHKEY_PRIV_MAX], pub[SSHKEY_PUB_MAX];
	char			 fp[SSHKEY_FP_MAX];
	char			 longc[SSHKEY_COMMENT_MAX + 2];
	unsigned char		 seed[32];
	int			 rv;

	if (sshkey_ed25519_generate(&k) == -1) {
		t_fail("errors", "generate: %s", strerror(errno));
		return;
	}
	errno = 0;
	rv = sshkey_ed25519_public(&k, "two\nlines", pub, sizeof(pub));
	T_CHECK("comment with a newline refused", rv == -1 &&
	    errno == EINVAL, "rv %d errno %d", rv, errno);
	errno = 0;
	rv = sshkey_ed25519_private(&k, "tab\there", priv, sizeof(priv));
	T_CHECK("comment with a tab refused", rv == -1 && errno == EINVAL &&
	    priv[0] == '\0', "rv %d errno %d", rv, errno);
	rv = sshkey_ed25519_private(&k, "del\x7f", priv, sizeof(priv));
	T_CHECK("comment with DEL refused", rv == -1, "rv %d", rv);
	rv = sshkey_ed25519_private(&k, "caf\xc3\xa9", priv, sizeof(priv));
	T_CHECK("comment with non-ASCII refused", rv == -1, "rv %d", rv);

	memset(longc, 'c', SSHKEY_COMMENT_MAX);
	longc[SSHKEY_COMMENT_MAX] = '\0';
	T_CHECK("longest comment fits", sshkey_ed25519_private(&k, longc,
	    priv, sizeof(priv)) == 0 && sshkey_ed25519_public(&k, longc,
	    pub, sizeof(pub)) == 0, "%s", strerror(errno));
	longc[SSHKEY_COMMENT_MAX] = 'c';
	longc[SSHKEY_COMMENT_MAX + 1] = '\0';
	errno = 0;
	rv = sshkey_ed25519_private(&k, longc, priv, sizeof(priv));
	T_CHECK("comment too long refused", rv == -1 && errno == EINVAL,
	    "rv %d errno %d", rv, errno);

	errno = 0;
	rv = sshkey_ed25519_private(&k, COMMENT, priv, 100);
	T_CHECK("small private buffer: ENOSPC", rv == -1 && errno == ENOSPC &&
	    priv[0] == '\0', "rv %d errno %d", rv, errno);
	errno = 0;
	rv = sshkey_ed25519_public(&k, COMMENT, pub, 80);
	T_CHECK("small public buffer: ENOSPC", rv == -1 && errno == ENOSPC &&
	    pub[0] == '\0', "rv %d errno %d", rv, errno);
	errno = 0;
	rv = sshkey_ed25519_fingerprint(&k, fp, 20);
	T_CHECK("small fingerprint buffer: ENOSPC", rv == -1 &&
	    errno == ENOSPC, "rv %d errno %d", rv, errno);

	if (sshkey_ed25519_generate(&k2) == -1) {
		t_fail("errors", "generate: %s", strerror(errno));
		return;
	}
	T_CHECK("two keys differ", memcmp(k.sk_pk, k2.sk_pk, 32) != 0 &&
	    memcmp(k.sk_sk, k2.sk_sk, 64) != 0, "the same key twice");
	memcpy(seed, k.sk_sk, 32);
	T_CHECK("seed gives the same key", sshkey_ed25519_from_seed(&k2,
	    seed) == 0 && memcmp(&k, &k2, sizeof(k)) == 0, "different key");
	sshkey_ed25519_clear(&k2);
	T_CHECK("clear zeroes the key", sodium_is_zero((unsigned char *)&k2,
	    sizeof(k2)), "not zero");
	sodium_memzero(seed, sizeof(seed));
	sshkey_ed25519_clear(&k);
}

static void
cleanup(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

int
main(void)
{
	if (sodium_init() == -1) {
		t_fail("sodium_init", "failed");
		return (t_done());
	}
	if (mkdtemp(tmpdir) == NULL) {
		t_fail("mkdtemp", "%s", strerror(errno));
		return (t_done());
	}
	have_keygen = system("command -v ssh-keygen >/dev/null 2>&1") == 0;

	test_formats();
	test_keygen_reads();
	test_signature();
	test_same_as_keygen();
	test_errors();
	cleanup();
	return (t_done());
}

/*
 * Unit tests for common/signify.c, bangerd/shared/manifest.c and
 * update/fetch.c without the network: signify key and signature files (well-formed and each way
 * malformed), interoperability with Debian's signify-openbsd, version
 * and time parsing, every manifest refusal, URL vetting, and the
 * parent's re-check of an artifact fd.  The fetches are tested against
 * real servers in regress/update/update.sh.
 *
 * Test keys are made with libsodium in signify's format (and, where
 * signify-openbsd is installed, by it).
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "regress.h"
#include "signify.h"
#include "update/fetch.h"

#define NOW		1780272000	/* 2026-06-01T00:00:00Z */
#define RELEASED	"2026-05-01T00:00:00Z"
#define EXPIRES		"2026-08-01T00:00:00Z"
#define PAST		"2026-05-15T00:00:00Z"
#define SHA_A		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NCASES(a)	(sizeof(a) / sizeof((a)[0]))

struct tkey {
	uint8_t		 keynum[SIGNIFY_KEYNUM_LEN];
	uint8_t		 pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t		 sk[crypto_sign_SECRETKEYBYTES];
	char		 pubfile[256];	/* the .pub's text */
	struct signify_pubkey spk;
};

static struct tkey	key1, key2;

static void
b64(const void *bin, size_t len, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, bin, len,
	    sodium_base64_VARIANT_ORIGINAL);
}

static void
tkey_make(struct tkey *k)
{
	uint8_t		 blob[2 + 8 + 32];
	char		 s[128];
	const char	*why;

	crypto_sign_keypair(k->pk, k->sk);
	randombytes_buf(k->keynum, sizeof(k->keynum));
	memcpy(blob, "Ed", 2);
	memcpy(blob + 2, k->keynum, 8);
	memcpy(blob + 10, k->pk, 32);
	b64(blob, sizeof(blob), s, sizeof(s));
	snprintf(k->pubfile, sizeof(k->pubfile),
	    "untrusted comment: test public key\n%s\n", s);
	if (signify_parse_pubkey(k->pubfile, strlen(k->pubfile), &k->spk,
	    &why) == -1) {
		fprintf(stderr, "tkey_make: %s\n", why);
		exit(1);
	}
}

/* A signify .sig file over msg by k, with keynum as given. */
static void
tsign(const struct tkey *k, const uint8_t *keynum, const void *msg,
    size_t len, char *out, size_t outlen)
{
	uint8_t	 blob[2 + 8 + 64];
	char	 s[160];

	memcpy(blob, "Ed", 2);
	memcpy(blob + 2, keynum != NULL ? keynum : k->keynum, 8);
	crypto_sign_detached(blob + 10, NULL, msg, len, k->sk);
	b64(blob, sizeof(blob), s, sizeof(s));
	snprintf(out, outlen, "untrusted comment: verify with test.pub\n%s\n",
	    s);
}

/* signify files */

struct parse_case {
	const char	*name;
	const char	*text;
	const char	*why;		/* NULL: must parse */
};

static void
test_signify_parse(void)
{
	struct signify_pubkey	 pk;
	struct signify_sig	 sig;
	const char		*why;
	char			 name[200], sigfile[300], buf[2400], b[128];
	char			 hex[SIGNIFY_KEYNUM_HEX];
	uint8_t			 blob[2 + 8 + 64];
	size_t			 i, len;
	const char		*goodpub = key1.pubfile;
	char			 goodb64[80], publine[128];

	/* The good key round-trips. */
	T_CHECK("signify: a libsodium-made .pub parses",
	    signify_parse_pubkey(goodpub, strlen(goodpub), &pk, &why) == 0 &&
	    memcmp(pk.sp_key, key1.pk, 32) == 0 &&
	    memcmp(pk.sp_keynum, key1.keynum, 8) == 0, "%s", why);
	memcpy(goodb64, strchr(goodpub, '\n') + 1, SIGNIFY_PUB_B64_LEN);
	goodb64[SIGNIFY_PUB_B64_LEN] = '\0';

	{
		/* Each malformed .pub, refused for its own reason. */
		char	 l55[160], l57[160], badch[160], badalg[160], crlf[160];
		char	 crlf2[160];
		char	 noend[160], trail[200], longc[1200], nul[160];
		char	 trusted[160], emptyc[160], onlyb64[160], pad[160];

		snprintf(l55, sizeof(l55), "untrusted comment: k\n%.55s\n",
		    goodb64);
		snprintf(l57, sizeof(l57), "untrusted comment: k\n%sA\n",
		    goodb64);
		snprintf(badch, sizeof(badch), "untrusted comment: k\n%s\n",
		    goodb64);
		badch[sizeof("untrusted comment: k\n") - 1 + 10] = '!';
		memcpy(blob, "EC", 2);
		memcpy(blob + 2, key1.keynum, 8);
		memcpy(blob + 10, key1.pk, 32);
		b64(blob, 42, b, sizeof(b));
		snprintf(badalg, sizeof(badalg), "untrusted comment: k\n%s\n",
		    b);
		snprintf(crlf, sizeof(crlf), "untrusted comment: k\r\n%s\r\n",
		    goodb64);
		snprintf(crlf2, sizeof(crlf2), "untrusted comment: k\n%s\r\n",
		    goodb64);
		snprintf(noend, sizeof(noend), "untrusted comment: k\n%s",
		    goodb64);
		snprintf(trail, sizeof(trail),
		    "untrusted comment: k\n%s\nmore\n", goodb64);
		memset(longc, 'c', sizeof(longc));
		len = snprintf(longc, sizeof(longc), "untrusted comment: ");
		memset(longc + len, 'c', 1024);
		snprintf(longc + len + 1024, sizeof(longc) - len - 1024,
		    "\n%s\n", goodb64);
		snprintf(nul, sizeof(nul), "untrusted comment: k\n%s\n",
		    goodb64);
		nul[sizeof("untrusted comment: k\n") - 1 + 5] = '\0';
		snprintf(trusted, sizeof(trusted), "trusted comment: k\n%s\n",
		    goodb64);
		snprintf(emptyc, sizeof(emptyc), "untrusted comment: \n%s\n",
		    goodb64);
		snprintf(onlyb64, sizeof(onlyb64), "%s\n", goodb64);
		/* 42 bytes need no padding: a '=' is out of place. */
		snprintf(pad, sizeof(pad), "untrusted comment: k\n%.55s=\n",
		    goodb64);

		struct parse_case cases[] = {
			{ "base64 one short (55)", l55, "wrong length" },
			{ "base64 one long (57)", l57, "wrong length" },
			{ "a character outside base64", badch, "bad base64" },
			{ "\"EC\" instead of \"Ed\"", badalg,
			    "not an Ed25519 key or signature (algorithm is "
			    "not \"Ed\")" },
			{ "CRLF line ends", crlf, "CRLF line endings (each "
			    "line must end in a newline alone)" },
			{ "CRLF on the base64 line only", crlf2, "CRLF line "
			    "endings (each line must end in a newline alone)" },
			{ "no newline after the base64", noend,
			    "missing the newline after the base64" },
			{ "a third line", trail,
			    "trailing data after the base64 line" },
			{ "a 1024-byte comment", longc, "comment too long" },
			{ "trusted comment:", trusted,
			    "missing the comment line (it must start with "
			    "\"untrusted comment: \")" },
			{ "an empty comment", emptyc,
			    "missing the comment line (it must start with "
			    "\"untrusted comment: \")" },
			{ "no comment line", onlyb64,
			    "missing the comment line (it must start with "
			    "\"untrusted comment: \")" },
			{ "the empty file", "", "empty" },
		};
		for (i = 0; i < NCASES(cases); i++) {
			snprintf(name, sizeof(name), "signify: .pub with %s "
			    "is refused", cases[i].name);
			why = NULL;
			T_CHECK(name, signify_parse_pubkey(cases[i].text,
			    strlen(cases[i].text), &pk, &why) == -1 &&
			    why != NULL && strcmp(why, cases[i].why) == 0,
			    "why '%s', want '%s'", why ? why : "(parsed)",
			    cases[i].why);
		}
		why = NULL;
		T_CHECK("signify: .pub with an embedded NUL is refused",
		    signify_parse_pubkey(nul, strlen(goodpub), &pk, &why) ==
		    -1 && why != NULL, "parsed");
		why = NULL;
		T_CHECK("signify: .pub with padding where none belongs is "
		    "refused", signify_parse_pubkey(pad, strlen(pad), &pk,
		    &why) == -1 && why != NULL &&
		    strcmp(why, "bad base64") == 0, "why '%s'",
		    why ? why : "(parsed)");
		memset(buf, 'x', sizeof(buf));
		why = NULL;
		T_CHECK("signify: a .pub over 2048 bytes is refused",
		    signify_parse_pubkey(buf, sizeof(buf), &pk, &why) == -1 &&
		    why != NULL && strcmp(why, "too long") == 0, "why '%s'",
		    why ? why : "(parsed)");
	}

	/* Signatures. */
	tsign(&key1, NULL, "hello", 5, sigfile, sizeof(sigfile));
	T_CHECK("signify: a libsodium-made .sig parses",
	    signify_parse_sig(sigfile, strlen(sigfile), &sig, &why) == 0 &&
	    memcmp(sig.ss_keynum, key1.keynum, 8) == 0, "%s", why);
	T_CHECK("signify: it verifies over its message",
	    signify_verify(&key1.spk, &sig, "hello", 5, &why) == 0, "%s", why);
	why = NULL;
	T_CHECK("signify: it does not verify over another message",
	    signify_verify(&key1.spk, &sig, "hellO", 5, &why) == -1 &&
	    why != NULL && strcmp(why, "signature verification failed") == 0,
	    "why '%s'", why ? why : "(verified)");
	why = NULL;
	T_CHECK("signify: another key's number is refused",
	    signify_verify(&key2.spk, &sig, "hello", 5, &why) == -1 &&
	    why != NULL && strcmp(why, "signed with another key") == 0,
	    "why '%s'", why ? why : "(verified)");
	/* Same key number, different key: the signature itself fails. */
	tsign(&key2, key1.keynum, "hello", 5, sigfile, sizeof(sigfile));
	why = NULL;
	T_CHECK("signify: the right key number on another key's signature "
	    "fails verification",
	    signify_parse_sig(sigfile, strlen(sigfile), &sig, NULL) == 0 &&
	    signify_verify(&key1.spk, &sig, "hello", 5, &why) == -1 &&
	    why != NULL && strcmp(why, "signature verification failed") == 0,
	    "why '%s'", why ? why : "(verified)");

	/* A .pub given where a .sig is expected, and vice versa. */
	why = NULL;
	T_CHECK("signify: a .pub is not a .sig (wrong length)",
	    signify_parse_sig(goodpub, strlen(goodpub), &sig, &why) == -1 &&
	    why != NULL && strcmp(why, "wrong length") == 0, "why '%s'",
	    why ? why : "(parsed)");
	tsign(&key1, NULL, "x", 1, sigfile, sizeof(sigfile));
	why = NULL;
	T_CHECK("signify: a .sig is not a .pub (wrong length)",
	    signify_parse_pubkey(sigfile, strlen(sigfile), &pk, &why) == -1 &&
	    why != NULL && strcmp(why, "wrong length") == 0, "why '%s'",
	    why ? why : "(parsed)");
	memcpy(blob, "Eb", 2);
	memset(blob + 2, 1, sizeof(blob) - 2);
	b64(blob, sizeof(blob), b, sizeof(b));
	snprintf(sigfile, sizeof(sigfile), "untrusted comment: s\n%s\n", b);
	why = NULL;
	T_CHECK("signify: a .sig with algorithm \"Eb\" is refused",
	    signify_parse_sig(sigfile, strlen(sigfile), &sig, &why) == -1 &&
	    why != NULL && strstr(why, "algorithm is not \"Ed\"") != NULL,
	    "why '%s'", why ? why : "(parsed)");
	/* 74 bytes: 100 characters, the last '='; drop or misplace it. */
	tsign(&key1, NULL, "x", 1, sigfile, sizeof(sigfile));
	len = strlen(sigfile);
	sigfile[len - 2] = 'A';
	why = NULL;
	T_CHECK("signify: a .sig without its padding is refused",
	    signify_parse_sig(sigfile, strlen(sigfile), &sig, &why) == -1 &&
	    why != NULL && strcmp(why, "bad base64") == 0, "why '%s'",
	    why ? why : "(parsed)");
	/* Non-canonical: spare bits set in the last data character. */
	tsign(&key1, NULL, "x", 1, sigfile, sizeof(sigfile));
	{
		static const char	 al[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/";
		const char		*p = strchr(al, sigfile[len - 3]);

		sigfile[len - 3] = al[((p - al) | 1) & 63];
		if (((p - al) & 1) == 0) {
			why = NULL;
			T_CHECK("signify: non-canonical base64 is refused",
			    signify_parse_sig(sigfile, strlen(sigfile), &sig,
			    &why) == -1 && why != NULL &&
			    strcmp(why, "bad base64") == 0, "why '%s'",
			    why ? why : "(parsed)");
		} else
			t_fail("signify: non-canonical base64 is refused",
			    "setup: spare bit already set");
	}

	/* The placeholder. */
	snprintf(publine, sizeof(publine), "untrusted comment: x\n%s\n",
	    SIGNIFY_PLACEHOLDER_B64);
	T_CHECK("signify: the placeholder key parses and is detected",
	    signify_parse_pubkey(publine, strlen(publine), &pk, &why) == 0 &&
	    signify_pubkey_is_placeholder(&pk), "not detected");
	signify_keynum_hex(pk.sp_keynum, hex);
	T_CHECK("signify: the placeholder's key number is 0",
	    strcmp(hex, "0000000000000000") == 0, "keynum %s", hex);
	memset(&pk, 0, sizeof(pk));
	pk.sp_keynum[3] = 7;
	T_CHECK("signify: a zero key with another number is the placeholder "
	    "too", signify_pubkey_is_placeholder(&pk), "not detected");
	T_CHECK("signify: a real key is not the placeholder",
	    !signify_pubkey_is_placeholder(&key1.spk), "detected");
	memset(&sig, 0, sizeof(sig));
	why = NULL;
	T_CHECK("signify: the placeholder verifies nothing",
	    signify_verify(&pk, &sig, "", 0, &why) == -1 && why != NULL &&
	    strcmp(why, "the key is the placeholder") == 0, "why '%s'",
	    why ? why : "(verified)");
	memset(blob, 0, sizeof(blob));
	blob[0] = 0x01;
	blob[7] = 0xef;
	signify_keynum_hex(blob, hex);
	T_CHECK("signify: key numbers print as 16 hex digits",
	    strcmp(hex, "00000000000000ef") != 0 &&
	    strcmp(hex, "01000000000000ef") == 0, "got %s", hex);
}

/* Run a command; 0 if it exited 0. */
static int
run(const char *fmt, ...)
{
	char	 cmd[2048];
	va_list	 ap;
	int	 st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1);
}

static ssize_t
slurp(const char *path, char *buf, size_t len)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, len);
	close(fd);
	return (n);
}

static void
test_signify_openbsd(void)
{
	char			 dir[] = "/tmp/update_test.XXXXXX";
	char			 pub[2048], sig[2048], msg[64];
	struct signify_pubkey	 pk;
	struct signify_sig	 s;
	const char		*why = NULL;
	ssize_t			 np, ns;
	int			 fd;

	if (run("command -v signify-openbsd >/dev/null 2>&1") == -1) {
		t_skip("signify: signify-openbsd's files verify", "no "
		    "signify-openbsd (apt-get install signify-openbsd)");
		return;
	}
	if (mkdtemp(dir) == NULL) {
		t_fail("signify: signify-openbsd's files verify", "mkdtemp");
		return;
	}
	snprintf(msg, sizeof(msg), "%s/msg", dir);
	if ((fd = open(msg, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, "banger\n", 7) != 7 || close(fd) == -1 ||
	    run("cd %s && signify-openbsd -G -n -c 'test key' -p k.pub "
	    "-s k.sec && signify-openbsd -S -s k.sec -m msg -x msg.sig",
	    dir) == -1) {
		t_fail("signify: signify-openbsd's files verify",
		    "signify-openbsd failed");
		goto out;
	}
	snprintf(msg, sizeof(msg), "%s/k.pub", dir);
	np = slurp(msg, pub, sizeof(pub));
	snprintf(msg, sizeof(msg), "%s/msg.sig", dir);
	ns = slurp(msg, sig, sizeof(sig));
	T_CHECK("signify: signify-openbsd's .pub and .sig parse",
	    np > 0 && ns > 0 &&
	    signify_parse_pubkey(pub, np, &pk, &why) == 0 &&
	    signify_parse_sig(sig, ns, &s, &why) == 0, "%s",
	    why ? why : "unreadable");
	T_CHECK("signify: signify-openbsd's signature verifies",
	    signify_verify(&pk, &s, "banger\n", 7, &why) == 0, "%s", why);
	T_CHECK("signify: ... and not over an altered message",
	    signify_verify(&pk, &s, "banger!", 7, &why) == -1, "verified");
 out:
	run("rm -rf %s", dir);
}

/* versions and times */

static void
test_versions(void)
{
	static const char *const good[] = { "0", "1", "0.1.0", "1.2.3",
	    "10.20.30.40", "999999999.0", "1.0" };
	static const char *const bad[] = { "", "v1.2.3", "1.2.3-rc1",
	    "1.2.3+build", "01.2.3", "1.02", "1..2", ".1", "1.", "1.2.3.4.5",
	    "1000000000", " 1.2", "1.2 ", "1,2", "-1", "1.2.x" };
	static const struct { const char *a, *b; int cmp; } cmps[] = {
		{ "1.2.3", "1.2.3", 0 }, { "1.2", "1.2.0", 0 },
		{ "1.2.0.0", "1.2", 0 }, { "1.10.0", "1.9.0", 1 },
		{ "1.9.9", "1.10", -1 }, { "2", "1.99.99", 1 },
		{ "0.1.0", "0.1.1", -1 }, { "1.2.3.1", "1.2.3", 1 },
	};
	char	 name[200];
	size_t	 i;
	int	 c = 99, ok = 1;

	for (i = 0; i < NCASES(good); i++)
		if (!upd_version_valid(good[i])) {
			t_fail("versions: well-formed versions are taken",
			    "refused %s", good[i]);
			ok = 0;
		}
	if (ok)
		t_pass("versions: well-formed versions are taken");
	for (i = 0; i < NCASES(bad); i++) {
		snprintf(name, sizeof(name), "versions: \"%s\" is refused",
		    bad[i]);
		T_CHECK(name, !upd_version_valid(bad[i]), "taken");
	}
	for (i = 0; i < NCASES(cmps); i++) {
		snprintf(name, sizeof(name), "versions: %s %s %s",
		    cmps[i].a, cmps[i].cmp < 0 ? "<" : cmps[i].cmp ? ">" :
		    "==", cmps[i].b);
		T_CHECK(name, upd_version_cmp(cmps[i].a, cmps[i].b, &c) == 0 &&
		    (c > 0) - (c < 0) == cmps[i].cmp, "cmp %d", c);
	}
	T_CHECK("versions: comparing a malformed version fails",
	    upd_version_cmp("1.2", "1.x", &c) == -1, "compared");
}

static void
test_times(void)
{
	static const char *const bad[] = { "2026-02-29T00:00:00Z",
	    "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
	    "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
	    "2026-01-01T00:00:60Z", "2026-01-01t00:00:00z",
	    "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00.5Z",
	    "2026-01-01 00:00:00Z", "26-01-01T00:00:00Z", "" };
	char	 name[200], buf[32];
	int64_t	 t = 0;
	size_t	 i;

	T_CHECK("times: 2026-06-01T00:00:00Z parses",
	    upd_time_parse("2026-06-01T00:00:00Z", &t) == 0 && t == NOW,
	    "t %lld", (long long)t);
	T_CHECK("times: a leap day parses",
	    upd_time_parse("2024-02-29T23:59:59Z", &t) == 0 &&
	    t == 1709251199, "t %lld", (long long)t);
	for (i = 0; i < NCASES(bad); i++) {
		snprintf(name, sizeof(name), "times: \"%s\" is refused",
		    bad[i]);
		T_CHECK(name, upd_time_parse(bad[i], &t) == -1, "taken");
	}
	upd_time_format(NOW, buf, sizeof(buf));
	T_CHECK("times: format is the inverse of parse",
	    strcmp(buf, "2026-06-01T00:00:00Z") == 0, "got %s", buf);
}

/* manifests */

struct man {
	char	*m;
	size_t	 mlen;
	char	 sig[300];
};

static char *
mprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		exit(1);
	va_end(ap);
	return (s);
}

/* A release object; arts is the artifacts object's content. */
static char *
release(const char *version, const char *released, const char *expires,
    const char *arts)
{
	return (mprintf("{\"version\":\"%s\",\"released\":\"%s\","
	    "\"expires\":\"%s\",\"artifacts\":{%s}}", version, released,
	    expires, arts));
}

/* The same, freeing arts. */
static char *
release_own(const char *version, const char *released, const char *expires,
    char *arts)
{
	char	*r = release(version, released, expires, arts);

	free(arts);
	return (r);
}

static char *
artifact(const char *arch, const char *version, const char *urlarch,
    long long len, const char *sha)
{
	return (mprintf("\"%s\":{\"url\":\"https://example.org/banger/"
	    "banger-%s-%s.tar\",\"length\":%lld,\"sha256\":\"%s\"}", arch,
	    version, urlarch, len, sha));
}

/* Check the manifest made of these release objects, signed by key1. */
static int
check_releases(const char *running, const char *installed,
    struct upd_release *rel, char *err, size_t errlen, ...)
{
	va_list			 ap;
	char			*body = NULL, *r, *t, sig[300];
	struct upd_want		 want;
	int			 rc;

	va_start(ap, errlen);
	while ((r = va_arg(ap, char *)) != NULL) {
		t = mprintf("%s%s%s", body ? body : "", body ? "," : "", r);
		free(body);
		free(r);
		body = t;
	}
	va_end(ap);
	t = mprintf("{\"releases\":[%s]}\n", body ? body : "");
	free(body);
	tsign(&key1, NULL, t, strlen(t), sig, sizeof(sig));
	memset(&want, 0, sizeof(want));
	want.uw_arch = "x86_64";
	want.uw_running = running;
	want.uw_installed = installed;
	want.uw_now = NOW;
	rc = upd_manifest_check(&key1.spk, t, strlen(t), sig, strlen(sig),
	    &want, rel, err, errlen);
	free(t);
	return (rc);
}

static char *
x86(const char *version)
{
	return (artifact("x86_64", version, "x86_64", 4096, SHA_A));
}

static char *
both(const char *version)
{
	char	*a = x86(version);
	char	*b = artifact("aarch64", version, "aarch64", 4000, SHA_A);
	char	*s = mprintf("%s,%s", a, b);

	free(a);
	free(b);
	return (s);
}

/* A release of version with one x86_64 artifact. */
static char *
rel1(const char *version)
{
	char	*a = x86(version);
	char	*r = release(version, RELEASED, EXPIRES, a);

	free(a);
	return (r);
}

/* s with each "\n" turned into "\r\n". */
static void
crlf_of(const char *s, char *out, size_t len)
{
	size_t	 n = 0;

	for (; *s != '\0' && n + 2 < len; s++) {
		if (*s == '\n')
			out[n++] = '\r';
		out[n++] = *s;
	}
	out[n] = '\0';
}

#define EXPECT(name, rc, code, pat) do {				\
	T_CHECK(name, (rc) == (code) && strstr(err, (pat)) != NULL,	\
	    "got %s '%s', want %s containing '%s'", upd_errname(rc), err, \
	    upd_errname(code), (pat));					\
} while (0)

static void
test_manifest_signature(void)
{
	static const char	 m[] = "{\"releases\":[]}\n";
	struct upd_release	 rel;
	struct upd_want		 want;
	struct signify_pubkey	 ph;
	char			 err[UPD_ERR_MAX], sig[300], hex[20], *big;
	char			 crlf[320];
	int			 rc;

	memset(&want, 0, sizeof(want));
	want.uw_arch = "x86_64";
	want.uw_running = "1.0.0";
	want.uw_now = NOW;
	tsign(&key1, NULL, m, sizeof(m) - 1, sig, sizeof(sig));

	memset(&ph, 0, sizeof(ph));
	rc = upd_manifest_check(&ph, m, sizeof(m) - 1, sig, strlen(sig),
	    &want, &rel, err, sizeof(err));
	EXPECT("manifest: the placeholder key refuses", rc, UPD_EPLACEHOLDER,
	    "this bangerd was built with the placeholder release key; it "
	    "cannot verify updates");

	rc = upd_manifest_check(&key1.spk, m, sizeof(m) - 1, NULL, 0, &want,
	    &rel, err, sizeof(err));
	EXPECT("manifest: a missing signature refuses", rc, UPD_ENOSIG,
	    "the manifest has no signature");

	rc = upd_manifest_check(&key1.spk, m, sizeof(m) - 1, "garbage\n", 8,
	    &want, &rel, err, sizeof(err));
	EXPECT("manifest: a malformed signature refuses", rc, UPD_ESIGFORMAT,
	    "the manifest's signature is malformed: missing the comment line");

	tsign(&key2, NULL, m, sizeof(m) - 1, sig, sizeof(sig));
	rc = upd_manifest_check(&key1.spk, m, sizeof(m) - 1, sig, strlen(sig),
	    &want, &rel, err, sizeof(err));
	signify_keynum_hex(key2.keynum, hex);
	EXPECT("manifest: another key's signature refuses (key number)", rc,
	    UPD_EKEYNUM, "the manifest is signed with key ");
	T_CHECK("manifest: ... naming both key numbers",
	    strstr(err, hex) != NULL, "'%s' lacks %s", err, hex);

	/* A .sig and a manifest converted to CRLF after signing. */
	tsign(&key1, NULL, m, sizeof(m) - 1, sig, sizeof(sig));
	crlf_of(sig, crlf, sizeof(crlf));
	rc = upd_manifest_check(&key1.spk, m, sizeof(m) - 1, crlf,
	    strlen(crlf), &want, &rel, err, sizeof(err));
	EXPECT("manifest: a CRLF signature is refused as CRLF", rc,
	    UPD_ESIGFORMAT, "the manifest's signature is malformed: CRLF "
	    "line endings (each line must end in a newline alone)");
	rc = upd_manifest_check(&key1.spk, "{\"releases\":[]}\r\n",
	    sizeof(m), sig, strlen(sig), &want, &rel, err, sizeof(err));
	EXPECT("manifest: a manifest turned CRLF after signing is refused, "
	    "saying so", rc, UPD_EBADSIG, "the manifest's signature does not "
	    "verify: the manifest has CRLF line endings; was it converted "
	    "after signing?");

	tsign(&key1, NULL, m, sizeof(m) - 1, sig, sizeof(sig));
	rc = upd_manifest_check(&key1.spk, "{\"releases\":[ ]}\n",
	    sizeof(m), sig, strlen(sig), &want, &rel, err, sizeof(err));
	EXPECT("manifest: one altered byte refuses", rc, UPD_EBADSIG,
	    "the manifest's signature does not verify");

	/* Verification comes first: unsigned garbage is not parsed. */
	rc = upd_manifest_check(&key1.spk, "not json", 8, sig, strlen(sig),
	    &want, &rel, err, sizeof(err));
	EXPECT("manifest: unsigned garbage fails verification, not parsing",
	    rc, UPD_EBADSIG, "does not verify");
	tsign(&key1, NULL, "not json", 8, sig, sizeof(sig));
	rc = upd_manifest_check(&key1.spk, "not json", 8, sig, strlen(sig),
	    &want, &rel, err, sizeof(err));
	EXPECT("manifest: signed garbage is refused as JSON", rc,
	    UPD_EMANIFEST, "the manifest is not valid JSON: line 1");

	if ((big = malloc(UPD_MANIFEST_MAX + 1)) == NULL)
		exit(1);
	memset(big, ' ', UPD_MANIFEST_MAX + 1);
	tsign(&key1, NULL, big, UPD_MANIFEST_MAX + 1, sig, sizeof(sig));
	rc = upd_manifest_check(&key1.spk, big, UPD_MANIFEST_MAX + 1, sig,
	    strlen(sig), &want, &rel, err, sizeof(err));
	EXPECT("manifest: over 1 MiB is refused", rc, UPD_ETOOBIG,
	    "the manifest is larger than 1048576 bytes");
	free(big);

	want.uw_arch = "sparc64";
	rc = upd_manifest_check(&key1.spk, m, sizeof(m) - 1, sig, strlen(sig),
	    &want, &rel, err, sizeof(err));
	EXPECT("manifest: an unsupported architecture is refused", rc,
	    UPD_EINVAL, "unsupported architecture \"sparc64\"");
	want.uw_arch = "x86_64";
	want.uw_running = "0.1.0-dev";
	rc = upd_manifest_check(&key1.spk, m, sizeof(m) - 1, sig, strlen(sig),
	    &want, &rel, err, sizeof(err));
	EXPECT("manifest: a malformed running version is refused", rc,
	    UPD_EINVAL, "the running version \"0.1.0-dev\"");
}

static void
test_manifest_choice(void)
{
	struct upd_release	 rel;
	char			 err[UPD_ERR_MAX], *a, *b;
	uint8_t			 sha[32];
	int			 rc;

	memset(sha, 0xaa, sizeof(sha));
	memset(&rel, 0, sizeof(rel));
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    rel1("1.1.0"),
	    release_own("1.2.0", RELEASED, EXPIRES, both("1.2.0")),
	    rel1("1.0.0"), NULL);
	T_CHECK("manifest: the newest release is chosen", rc == UPD_OK &&
	    strcmp(rel.ur_version, "1.2.0") == 0, "%s %s %s",
	    upd_errname(rc), err, rel.ur_version);
	T_CHECK("manifest: ... with its x86_64 artifact",
	    strcmp(rel.ur_arch, "x86_64") == 0 && rel.ur_length == 4096 &&
	    memcmp(rel.ur_sha256, sha, 32) == 0 &&
	    strcmp(rel.ur_url, "https://example.org/banger/"
	    "banger-1.2.0-x86_64.tar") == 0, "%s %llu %s", rel.ur_arch,
	    (unsigned long long)rel.ur_length, rel.ur_url);
	T_CHECK("manifest: ... and its times",
	    rel.ur_released == NOW - 31 * 86400 &&
	    rel.ur_expires == NOW + 61 * 86400, "%lld %lld",
	    (long long)rel.ur_released, (long long)rel.ur_expires);

	rc = check_releases("1.9.0", NULL, &rel, err, sizeof(err),
	    rel1("1.10.0"), rel1("1.9.1"), NULL);
	T_CHECK("manifest: 1.10.0 is newer than 1.9.1", rc == UPD_OK &&
	    strcmp(rel.ur_version, "1.10.0") == 0, "%s %s", upd_errname(rc),
	    err);

	rc = check_releases("1.2.0", NULL, &rel, err, sizeof(err),
	    rel1("1.2.0"), rel1("1.1.0"), NULL);
	EXPECT("manifest: the running version is not an update", rc,
	    UPD_EUPTODATE, "no newer release: the newest in the manifest is "
	    "1.2.0 and this bangerd is 1.2.0");
	rc = check_releases("1.3.0", NULL, &rel, err, sizeof(err),
	    rel1("1.2.0"), NULL);
	EXPECT("manifest: an older version is not an update", rc,
	    UPD_EUPTODATE, "the newest in the manifest is 1.2.0 and this "
	    "bangerd is 1.3.0");
	rc = check_releases("1.0.0", "1.2.0", &rel, err, sizeof(err),
	    rel1("1.2.0"), rel1("1.1.0"), NULL);
	EXPECT("manifest: a version installed before is refused (rollback)",
	    rc, UPD_EROLLBACK, "refusing release 1.2.0: version 1.2.0 has "
	    "been installed before");
	rc = check_releases("1.0.0", "1.3.0", &rel, err, sizeof(err),
	    rel1("1.2.0"), NULL);
	EXPECT("manifest: a version older than one installed is refused",
	    rc, UPD_EROLLBACK, "version 1.3.0 has been installed before");
	rc = check_releases("1.0.0", "1.1.9", &rel, err, sizeof(err),
	    rel1("1.2.0"), NULL);
	T_CHECK("manifest: newer than both running and installed is taken",
	    rc == UPD_OK, "%s %s", upd_errname(rc), err);

	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    rel1("1.2.0"), release_own("1.3.0", RELEASED, PAST, x86("1.3.0")),
	    NULL);
	EXPECT("manifest: an expired newest release refuses", rc,
	    UPD_EEXPIRED, "the manifest has expired: its newest release, "
	    "1.3.0, expired at 2026-05-15T00:00:00Z (now "
	    "2026-06-01T00:00:00Z)");
	rc = check_releases("1.3.0", NULL, &rel, err, sizeof(err),
	    release_own("1.3.0", RELEASED, PAST, x86("1.3.0")), NULL);
	EXPECT("manifest: expiry is checked before \"up to date\"", rc,
	    UPD_EEXPIRED, "the manifest has expired");

	a = artifact("aarch64", "1.2.0", "aarch64", 10, SHA_A);
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    release("1.2.0", RELEASED, EXPIRES, a), NULL);
	free(a);
	EXPECT("manifest: no artifact for our architecture refuses", rc,
	    UPD_ENOARCH, "release 1.2.0 has no artifact for x86_64 (only for "
	    "aarch64)");

	a = artifact("x86_64", "1.2.0", "aarch64", 10, SHA_A);
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    release("1.2.0", RELEASED, EXPIRES, a), NULL);
	free(a);
	EXPECT("manifest: another architecture's file refuses", rc,
	    UPD_EWRONGARCH, "the x86_64 artifact of release 1.2.0 is "
	    "\"banger-1.2.0-aarch64.tar\", not banger-1.2.0-x86_64.tar: "
	    "wrong architecture");
	a = artifact("x86_64", "1.1.0", "x86_64", 10, SHA_A);
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    release("1.2.0", RELEASED, EXPIRES, a), NULL);
	free(a);
	EXPECT("manifest: another version's file refuses", rc,
	    UPD_EWRONGARCH, "not banger-1.2.0-x86_64.tar");

	/* Malformed entries, each named by its place. */
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    rel1("1.2.0"), rel1("1.2.0"), NULL);
	EXPECT("manifest: a version listed twice refuses", rc, UPD_EMANIFEST,
	    "releases[1]: version 1.2.0 is listed twice");
	rc = check_releases("0.1.0", NULL, &rel, err, sizeof(err),
	    rel1("1.0"), rel1("1.1"), rel1("1.0.0"), NULL);
	EXPECT("manifest: 1.0 and 1.0.0 listed both refuses", rc,
	    UPD_EMANIFEST, "the manifest is malformed: releases[2]: version "
	    "1.0.0 is the same version as releases[0]'s 1.0 (a missing "
	    "number counts as 0): each version may be listed only once");
	rc = check_releases("0.1.0", NULL, &rel, err, sizeof(err),
	    rel1("2.0.0.0"), rel1("2"), NULL);
	EXPECT("manifest: 2 and 2.0.0.0 listed both refuses, the newest "
	    "too", rc, UPD_EMANIFEST, "releases[1]: version 2 is the same "
	    "version as releases[0]'s 2.0.0.0");
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    rel1("1.2.0"), rel1("1.3.0-rc1"), NULL);
	EXPECT("manifest: a malformed version refuses", rc, UPD_EMANIFEST,
	    "releases[1]: \"version\" is missing or not a version");
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    release_own("1.2.0", "2026-05-01", EXPIRES, x86("1.2.0")), NULL);
	EXPECT("manifest: a malformed time refuses", rc, UPD_EMANIFEST,
	    "releases[0]: \"released\" is not a UTC time");
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    release_own("1.2.0", EXPIRES, RELEASED, x86("1.2.0")), NULL);
	EXPECT("manifest: expires before released refuses", rc,
	    UPD_EMANIFEST, "\"expires\" is not after \"released\"");
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    release("1.2.0", RELEASED, EXPIRES, ""), NULL);
	EXPECT("manifest: no artifacts refuses", rc, UPD_EMANIFEST,
	    "\"artifacts\" is missing or empty");
	a = artifact("x86_64", "1.2.0", "x86_64", 0, SHA_A);
	b = artifact("aarch64", "1.2.0", "aarch64", 10, "abc");
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    release("1.2.0", RELEASED, EXPIRES, a), NULL);
	EXPECT("manifest: a zero length refuses", rc, UPD_EMANIFEST,
	    "artifacts.x86_64: \"length\" is not an integer from 1 to");
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    rel1("1.2.0"), release("1.1.0", RELEASED, EXPIRES, b), NULL);
	EXPECT("manifest: a bad sha256, even in another release and "
	    "architecture, refuses", rc, UPD_EMANIFEST,
	    "releases[1]: artifacts.aarch64: \"sha256\" is not 64 lowercase "
	    "hex digits");
	free(a);
	free(b);
	a = mprintf("\"x86_64\":{\"url\":\"ftp://example.org/"
	    "banger-1.2.0-x86_64.tar\",\"length\":1,\"sha256\":\"%s\"}",
	    SHA_A);
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    release("1.2.0", RELEASED, EXPIRES, a), NULL);
	free(a);
	EXPECT("manifest: an ftp URL refuses", rc, UPD_EMANIFEST,
	    "\"url\" is not an http or https URL");
	a = artifact("X86", "1.2.0", "x86_64", 10, SHA_A);
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err),
	    release("1.2.0", RELEASED, EXPIRES, a), NULL);
	free(a);
	EXPECT("manifest: an artifact name that is no architecture refuses",
	    rc, UPD_EMANIFEST, "artifact name \"X86\" is not an architecture");
	rc = check_releases("1.0.0", NULL, &rel, err, sizeof(err), NULL);
	EXPECT("manifest: no releases refuses", rc, UPD_EMANIFEST,
	    "the manifest lists no releases");
}

static void
test_manifest_shapes(void)
{
	static const struct { const char *m, *pat; } cases[] = {
		{ "[]", "it has no \"releases\" array" },
		{ "{\"releases\":{}}", "it has no \"releases\" array" },
		{ "{\"releases\":[1]}", "releases[0]: not an object" },
		{ "{\"releases\":[],\"releases\":[]}",
		    "the manifest is not valid JSON" },
		{ "{\"releases\":[{\"version\":\"1.2\\u0000\"}]}",
		    "the manifest is not valid JSON" },
	};
	struct upd_release	 rel;
	struct upd_want		 want;
	char			 err[UPD_ERR_MAX], sig[300], name[200];
	size_t			 i;
	int			 rc;

	memset(&want, 0, sizeof(want));
	want.uw_arch = "x86_64";
	want.uw_running = "1.0.0";
	want.uw_now = NOW;
	for (i = 0; i < NCASES(cases); i++) {
		tsign(&key1, NULL, cases[i].m, strlen(cases[i].m), sig,
		    sizeof(sig));
		rc = upd_manifest_check(&key1.spk, cases[i].m,
		    strlen(cases[i].m), sig, strlen(sig), &want, &rel, err,
		    sizeof(err));
		snprintf(name, sizeof(name), "manifest: %s is refused",
		    cases[i].m);
		EXPECT(name, rc, UPD_EMANIFEST, cases[i].pat);
	}
}

static void
test_urls(void)
{
	static const struct { const char *url; int http, rc;
	    const char *pat; } cases[] = {
		{ "https://example.org/m.json", 0, UPD_OK, "" },
		{ "http://127.0.0.1:8080/m.json", 0, UPD_EURL,
		    "refusing plain http (http://127.0.0.1:8080/m.json): only "
		    "https is allowed" },
		{ "http://127.0.0.1:8080/m.json", 1, UPD_OK, "" },
		{ "http://127.45.6.7/m.json", 1, UPD_OK, "" },
		{ "http://LocalHost:1/m.json", 1, UPD_OK, "" },
		{ "http://[::1]:8080/m.json", 1, UPD_OK, "" },
		{ "http://example.invalid/m.json", 1, UPD_EURL,
		    "refusing plain http to example.invalid: http is allowed "
		    "only to loopback hosts (127.0.0.0/8, localhost, [::1])" },
		{ "http://128.0.0.1/m.json", 1, UPD_EURL,
		    "refusing plain http to 128.0.0.1" },
		{ "http://[::2]/m.json", 1, UPD_EURL,
		    "refusing plain http to [::2]" },
		{ "http://127.0.0.1.nip.io/m.json", 1, UPD_EURL,
		    "refusing plain http to 127.0.0.1.nip.io" },
		{ "http://localhost.example.org/m.json", 1, UPD_EURL,
		    "refusing plain http to localhost.example.org" },
		{ "ftp://example.org/m.json", 1, UPD_EURL,
		    "only https (and http to loopback) URLs are fetched" },
		{ "file:///etc/passwd", 1, UPD_EURL,
		    "only https (and http to loopback) URLs are fetched" },
		{ "https://user:pw@example.org/m.json", 0, UPD_EURL,
		    "no credentials in update URLs" },
		{ "example.org/m.json", 0, UPD_EURL, "malformed URL" },
		{ "", 0, UPD_EURL, "no URL" },
	};
	char	 err[UPD_ERR_MAX], name[300], *lng;
	size_t	 i;
	int	 rc;

	for (i = 0; i < NCASES(cases); i++) {
		err[0] = '\0';
		rc = upd_url_check(cases[i].url, cases[i].http, err,
		    sizeof(err));
		snprintf(name, sizeof(name), "urls: %s%s is %s", cases[i].url,
		    cases[i].http ? " (http allowed)" : "",
		    cases[i].rc == UPD_OK ? "taken" : "refused");
		EXPECT(name, rc, cases[i].rc, cases[i].pat);
	}
	lng = mprintf("https://example.org/%01100d", 0);
	rc = upd_url_check(lng, 0, err, sizeof(err));
	EXPECT("urls: a URL over 1023 bytes is refused", rc, UPD_EURL,
	    "URL longer than 1023 bytes");
	free(lng);
}

/* The parent's check of an artifact handed over as an fd. */
static void
test_verify_fd(void)
{
	struct upd_release	 rel;
	uint8_t			 data[5000], flip;
	char			 err[UPD_ERR_MAX];
	int			 fd, rc;

	randombytes_buf(data, sizeof(data));
	memset(&rel, 0, sizeof(rel));
	strlcpy(rel.ur_url, "https://example.org/banger-1.2.0-x86_64.tar",
	    sizeof(rel.ur_url));
	rel.ur_length = sizeof(data);
	crypto_hash_sha256(rel.ur_sha256, data, sizeof(data));
	if ((fd = memfd_create("artifact", MFD_CLOEXEC)) == -1) {
		t_fail("verify_fd: setup", "memfd_create: %s",
		    strerror(errno));
		return;
	}
	if (write(fd, data, sizeof(data)) != (ssize_t)sizeof(data))
		exit(1);
	rc = upd_verify_fd(fd, &rel, 0, err, sizeof(err));
	T_CHECK("verify_fd: the right bytes verify", rc == UPD_OK, "%s %s",
	    upd_errname(rc), err);
	/* Not a fixed byte: the data is random, and 1 in 256 holds it. */
	flip = data[100] ^ 0xff;
	if (pwrite(fd, &flip, 1, 100) != 1)
		exit(1);
	rc = upd_verify_fd(fd, &rel, 0, err, sizeof(err));
	EXPECT("verify_fd: one changed byte fails SHA-256", rc, UPD_ESHA256,
	    "has SHA-256 ");
	if (ftruncate(fd, sizeof(data) - 1) == -1)
		exit(1);
	rc = upd_verify_fd(fd, &rel, 0, err, sizeof(err));
	EXPECT("verify_fd: one byte short fails the length", rc, UPD_ELENGTH,
	    "is 4999 bytes, the manifest says 5000");
	if (ftruncate(fd, sizeof(data) + 1) == -1)
		exit(1);
	rc = upd_verify_fd(fd, &rel, 0, err, sizeof(err));
	EXPECT("verify_fd: one byte long is refused", rc, UPD_ETOOBIG,
	    "is 5001 bytes, larger than its declared 5000");
	close(fd);

	/* Sealing: the parent can insist the sender cannot change it. */
	if ((fd = memfd_create("artifact", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1 ||
	    write(fd, data, sizeof(data)) != (ssize_t)sizeof(data))
		exit(1);
	rc = upd_verify_fd(fd, &rel, 1, err, sizeof(err));
	EXPECT("verify_fd: an unsealed memfd is refused when seals are "
	    "required", rc, UPD_EINVAL, "is not sealed against writing");
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE) == -1)
		exit(1);
	rc = upd_verify_fd(fd, &rel, 1, err, sizeof(err));
	T_CHECK("verify_fd: a sealed memfd with the right bytes verifies",
	    rc == UPD_OK, "%s %s", upd_errname(rc), err);
	T_CHECK("verify_fd: ... and cannot be written any more",
	    pwrite(fd, "x", 1, 0) == -1 && errno == EPERM, "written");
	close(fd);
}

static void
test_misc(void)
{
	struct signify_pubkey	 pk;
	char			 err[UPD_ERR_MAX];
	const char		*b = upd_builtin_pubkey_b64();
	int			 i, j, dup = 0, rc;

	rc = upd_builtin_pubkey(&pk, err, sizeof(err));
	T_CHECK("builtin: the built-in key parses", rc == UPD_OK, "%s", err);
	T_CHECK("builtin: it is the placeholder exactly when no "
	    "RELEASE_PUBKEY was given",
	    signify_pubkey_is_placeholder(&pk) ==
	    (strcmp(b, SIGNIFY_PLACEHOLDER_B64) == 0), "mismatch for %s", b);
	for (i = 0; i < UPD_NERRORS; i++)
		for (j = 0; j < i; j++)
			if (strcmp(upd_errname(i), upd_errname(j)) == 0)
				dup++;
	T_CHECK("errors: every code has its own name", dup == 0 &&
	    strcmp(upd_errname(UPD_ETIMEOUT), "UPD_ETIMEOUT") == 0,
	    "%d duplicates", dup);
	T_CHECK("arch: this build's architecture is known",
	    strcmp(upd_arch(), "x86_64") == 0 ||
	    strcmp(upd_arch(), "aarch64") == 0, "%s", upd_arch());
}

int
main(void)
{
	char	 err[UPD_ERR_MAX];

	if (upd_global_init(err, sizeof(err)) != UPD_OK) {
		t_fail("init", "%s", err);
		return (t_done());
	}
	tkey_make(&key1);
	tkey_make(&key2);
	test_signify_parse();
	test_signify_openbsd();
	test_versions();
	test_times();
	test_manifest_signature();
	test_manifest_choice();
	test_manifest_shapes();
	test_urls();
	test_verify_fd();
	test_misc();
	curl_global_cleanup();
	return (t_done());
}

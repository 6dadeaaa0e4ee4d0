/*
 * Clones, the vm worker's side, and every VM's identity drive.
 *
 * vm create NEW --from-snapshot VM/SNAP makes NEW a VM like any other
 * (its own id, uid, MAC, address, tap and DNS name), but the parent
 * copies VM's snapshot SNAP (disk, memory and state) for it instead of
 * an image's root file system, and NEW's first start restores that
 * copy, its network interface moved to NEW's own tap (PUT
 * /snapshot/load's network_overrides).  Nothing is provisioned: the
 * disk is the one the snapshot's memory has mounted.
 *
 * The guest learns who it now is from its identity drive: a small
 * read-only drive every VM has (the parent writes it into the jail at
 * each start from what vm_identity() says here).  A clone's says its
 * own name, MAC, address and SSH host key; a guest agent that polls the
 * drive (O_DIRECT, past its page cache) sees it change after the
 * restore and takes it on (README, "A clone's guest").  Each start's
 * drive also carries fresh random bytes for the guest's RNG, so that no
 * two restores of one memory image go on with the same RNG state.
 *
 * The host key is made here, at creation, and recorded by its seed:
 * bangerctl's vm ssh checks the guest against it, and every start of
 * the clone gives it again (a clone rolled back to its snapshot takes
 * it on again).
 */
#include <sys/types.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vmint.h"
#include "log.h"
#include "sshkey.h"

#define CLONE_SEED_HEX	(SSHKEY_ED25519_SEED * 2 + 1)

/* The clone's host key, from its recorded seed. */
static int
clone_key(const struct vm *v, struct sshkey_ed25519 *key)
{
	unsigned char	 seed[SSHKEY_ED25519_SEED];
	size_t		 n;
	int		 rv;

	if (v->v_clone_key == NULL || sodium_hex2bin(seed, sizeof(seed),
	    v->v_clone_key, strlen(v->v_clone_key), NULL, &n, NULL) != 0 ||
	    n != sizeof(seed)) {
		errno = EINVAL;
		return -1;
	}
	rv = sshkey_ed25519_from_seed(key, seed);
	sodium_memzero(seed, sizeof(seed));
	return rv;
}

/*
 * bangerctl's vm create --from-snapshot VM/SNAP: the origin checked
 * (its owner's, or root's, to clone), and the clone given its image,
 * cpus and memory; from_id gets the origin's id, for the parent (names
 * can be reused, ids cannot).  0, or -1 with the client told.
 */
int
vm_clone_prepare(uint32_t client, uid_t uid, const struct ctl_vm_create *cc,
    struct vm *v, char *from_id, size_t from_idlen)
{
	struct vm	*o;
	const char	*why;
	size_t		 len, slen;

	if (wire_string(cc->cc_from_vm, sizeof(cc->cc_from_vm), &len) == -1 ||
	    wire_string(cc->cc_from_snap, sizeof(cc->cc_from_snap),
	    &slen) == -1) {
		control_reply(client, EINVAL, "bad request");
		return -1;
	}
	if (valid_name(cc->cc_from_snap, slen, &why) == -1) {
		control_reply(client, EINVAL, "--from-snapshot %s/%s: invalid "
		    "snapshot name: %s", cc->cc_from_vm, cc->cc_from_snap,
		    why);
		return -1;
	}
	if ((o = vm_by_name(cc->cc_from_vm)) == NULL ||
	    !vm_visible(o, uid)) {
		control_reply(client, ENOENT, "--from-snapshot %s/%s: no VM "
		    "named %s", cc->cc_from_vm, cc->cc_from_snap,
		    cc->cc_from_vm);
		return -1;
	}
	if (cc->cc_cpus != 0 || cc->cc_memory != 0 || cc->cc_disk != 0 ||
	    cc->cc_image[0] != '\0' || cc->cc_authkeys[0] != '\0') {
		control_reply(client, EINVAL, "--from-snapshot: a clone has "
		    "its snapshot's image, cpus, memory, disk and keys; "
		    "--image, --cpus, --memory, --disk and --ssh-key do not "
		    "go with it");
		return -1;
	}
	strlcpy(v->v_image, o->v_image, sizeof(v->v_image));
	v->v_cpus = o->v_cpus;
	v->v_memory = o->v_memory;
	v->v_disk = o->v_disk;
	/* the guest's authorized keys are the origin's: so is vm ssh's key */
	if (o->v_sshkey != NULL)
		vm_strset(&v->v_sshkey, o->v_sshkey, PROTO_PATH_MAX);
	vm_strf(&v->v_clone_of, "%s/%s", o->v_name, cc->cc_from_snap);
	vm_strset(&v->v_clone_snap, cc->cc_from_snap, PROTO_VMNAME_MAX);
	strlcpy(from_id, o->v_id, from_idlen);
	return 0;
}

/* The parent made it: a host key, then created, never provisioned. */
int
vm_clone_created(struct vm *v, char *err, size_t errlen)
{
	unsigned char		 seed[SSHKEY_ED25519_SEED];
	char			 hex[CLONE_SEED_HEX], comment[80];
	char			 pub[SSHKEY_PUB_MAX];
	struct sshkey_ed25519	 key;

	randombytes_buf(seed, sizeof(seed));
	sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
	sodium_memzero(seed, sizeof(seed));
	vm_strset(&v->v_clone_key, hex, sizeof(hex));
	sodium_memzero(hex, sizeof(hex));
	snprintf(comment, sizeof(comment), "root@%s", v->v_name);
	if (clone_key(v, &key) == -1 ||
	    sshkey_ed25519_public(&key, comment, pub, sizeof(pub)) == -1) {
		snprintf(err, errlen, "host key: %s", strerror(errno));
		sshkey_ed25519_clear(&key);
		return -1;
	}
	sshkey_ed25519_clear(&key);
	vm_strset(&v->v_hostkey, pub, PROTO_HOSTKEY_MAX);
	return 0;
}

/*
 * The identity drive's text for this start (proto.h): who the guest
 * is, fresh random bytes, and a clone's host key.  0, or -1 if it does
 * not fit (it always does: the longest is about 1,100 bytes).
 */
int
vm_identity(const struct vm *v, char *buf, size_t len)
{
	struct sshkey_ed25519	 key;
	unsigned char		 rnd[32];
	char			 a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	char			 hex[sizeof(rnd) * 2 + 1], comment[80];
	char			 priv[SSHKEY_PRIV_MAX], pub[SSHKEY_PUB_MAX];
	char			*line, *next;
	size_t			 off;
	int			 n;

	inet_ntop(AF_INET, &v->v_addr, a, sizeof(a));
	inet_ntop(AF_INET, &v->v_gateway, g, sizeof(g));
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	n = snprintf(buf, len, IDENTITY_MAGIC
	    "name %s\n"
	    "domain %s\n"
	    "mac %s\n"
	    "address %s/%d\n"
	    "gateway %s\n"
	    "dns %s\n"
	    "seed %s\n", v->v_name, S(v->v_domain), v->v_mac, a, v->v_prefix,
	    g, g, hex);
	sodium_memzero(hex, sizeof(hex));
	if (n < 0 || (size_t)n >= len)
		return -1;
	off = n;
	if (v->v_clone_key == NULL)
		return 0;
	snprintf(comment, sizeof(comment), "root@%s", v->v_name);
	if (clone_key(v, &key) == -1 ||
	    sshkey_ed25519_private(&key, comment, priv, sizeof(priv)) == -1 ||
	    sshkey_ed25519_public(&key, comment, pub, sizeof(pub)) == -1) {
		sshkey_ed25519_clear(&key);
		return -1;
	}
	sshkey_ed25519_clear(&key);
	n = snprintf(buf + off, len - off, "hostkey-public %s\n", pub);
	if (n < 0 || (size_t)n >= len - off)
		goto toolong;
	off += n;
	/* the private key, a "hostkey LINE" for each of its lines */
	for (line = priv; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next != NULL ? next + 1 : line + strlen(line);
		n = snprintf(buf + off, len - off, "hostkey %.*s%s",
		    (int)(next - line), line, next[-1] == '\n' ? "" : "\n");
		if (n < 0 || (size_t)n >= len - off)
			goto toolong;
		off += n;
	}
	sodium_memzero(priv, sizeof(priv));
	return 0;
toolong:
	sodium_memzero(priv, sizeof(priv));
	explicit_bzero(buf, len);
	return -1;
}

#!/bin/bash
# guestfs.sh: guest provisioning (bangerd/vm/guestfs.c through
# $HELPERS/guestfs-drive) on small ext2/ext4 images made here with
# mkfs -d from a guest-like tree (an old hostname, systemd-resolved's
# resolv.conf symlink, debootstrap's shared host keys), checked with
# debugfs and e2fsck -fn: every file's content, mode and owner, the old
# host keys gone, the new host key as ssh-keygen reads it, a second
# run giving the same files, symlinks and bad input refused with the
# image unchanged, bad fds refused, the sandboxed run, and how little
# of a 1 GB image a run writes.
#
# Needs no root.  Skips only when e2fsprogs' tools are missing; the
# host key checks need ssh-keygen (openssh-client).  HELPERS unset:
# guestfs-drive is built here with cc.  GUESTFS_KEEP=1 keeps the
# temporary directory.

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=regress/lib/lib.sh
. "$TOP/regress/lib/lib.sh"

for tool in mkfs.ext4 mke2fs debugfs e2fsck dumpe2fs cmp timeout; do
	if ! command -v "$tool" >/dev/null 2>&1 &&
	    [ ! -x "/sbin/$tool" ] && [ ! -x "/usr/sbin/$tool" ]; then
		skip "guestfs" "no $tool (e2fsprogs, coreutils)"
		t_done
	fi
done
PATH=$PATH:/usr/sbin:/sbin
HAVE_KEYGEN=0
command -v ssh-keygen >/dev/null 2>&1 && HAVE_KEYGEN=1

T=$(mktemp -d /tmp/banger-guestfs.XXXXXX) || exit 1
# shellcheck disable=SC2317
cleanup() {
	if [ -n "${GUESTFS_KEEP:-}" ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

if [ -n "${HELPERS:-}" ]; then
	D=$HELPERS/guestfs-drive
else
	# Run by hand: the helper built as make check builds it.
	D=$TOP/obj/regress/helpers/guestfs-drive
	if ! make -s -C "$TOP" "obj/regress/helpers/guestfs-drive" \
	    >"$T/cc.log" 2>&1; then
		fail "guestfs" "$(tr '\n' ' ' <"$T/cc.log" | cut -c1-300)"
		t_done
	fi
fi
if [ ! -x "$D" ]; then
	fail "guestfs" "no $D"
	t_done
fi

HOST=testvm
DOM=vm.internal
ADDR=10.0.0.5
PFX=24
GW=10.0.0.1
DNS=10.0.0.1
MAC=02:fc:00:00:00:05
KEY1="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC7UAPxegBH0feZJWyuUpJSoz7CDmhh"
KEY1="${KEY1}oM5FEHEBWAkYI user@host"
KEY2="ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAA"
KEY2="${KEY2}ABBBBZkuhfYXhrOx6JtR3y7a6VN2i9W2TPuz7L3qSqEGrQWz/tFEIgx2eX4bUVEV"
KEY2="${KEY2}DhznE5O4OgYJ+tiYJBdkLrZq5U= ops@example"
KEYS=$T/keys
printf '%s\n%s\n' "$KEY1" "$KEY2" >"$KEYS"

# What each file must hold.
BANNER="# Written by banger before the VM's first boot."
E=$T/expect
mkdir "$E"
printf '%s\n' "$HOST" >"$E/hostname"
{
	echo "$BANNER"
	printf '127.0.0.1\tlocalhost\n'
	printf '127.0.1.1\t%s.%s\t%s\n' "$HOST" "$DOM" "$HOST"
	printf '::1\t\tlocalhost ip6-localhost ip6-loopback\n'
	printf 'ff02::1\t\tip6-allnodes\n'
	printf 'ff02::2\t\tip6-allrouters\n'
} >"$E/hosts"
{
	echo "$BANNER"
	echo "nameserver $DNS"
	echo "search $DOM"
} >"$E/resolv.conf"
{
	echo "$BANNER"
	echo "[Match]"
	echo "MACAddress=$MAC"
	echo
	echo "[Network]"
	echo "Address=$ADDR/$PFX"
	echo "Gateway=$GW"
	echo "DNS=$DNS"
	echo "Domains=$DOM"
} >"$E/networkd"
{
	echo "$BANNER"
	echo "# ifupdown cannot match an interface by its MAC address, so this"
	echo "# names eth0: the VM's only interface ($MAC) under Firecracker."
	echo "auto eth0"
	echo "iface eth0 inet static"
	printf '\taddress %s/%s\n' "$ADDR" "$PFX"
	printf '\tgateway %s\n' "$GW"
	printf '\tdns-nameservers %s\n' "$DNS"
	printf '\tdns-search %s\n' "$DOM"
} >"$E/ifupdown"
cp "$KEYS" "$E/authorized_keys"

# path expected-file mode
FILES="/etc/hostname:hostname:0644
/etc/hosts:hosts:0644
/etc/resolv.conf:resolv.conf:0644
/etc/systemd/network/10-banger.network:networkd:0644
/etc/network/interfaces.d/banger:ifupdown:0644
/root/.ssh/authorized_keys:authorized_keys:0600"

drive() { timeout 60 "$D" "$@"; }

# prov IMG [drive options]: provision IMG with the standard spec.
prov() {
	local img=$1
	shift
	drive "$@" "$img" "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "$MAC" \
	    "$KEYS"
}

dfs() { debugfs -R "$2" "$1" 2>/dev/null; }
# fcat IMG PATH: the file's content (debugfs 1.47.0 pads inline data).
fcat() { dfs "$1" "cat $2" | head -c "$(isize "$1" "$2")"; }

# attr IMG PATH: "type mode uid gid links" of PATH (not followed).
attr() {
	dfs "$1" "stat $2" | awk '
	    /Type:/ { for (i = 1; i < NF; i++) {
		if ($i == "Type:") t = $(i + 1)
		if ($i == "Mode:") m = $(i + 1) } }
	    /User:/ { for (i = 1; i < NF; i++) {
		if ($i == "User:") u = $(i + 1)
		if ($i == "Group:") g = $(i + 1) } }
	    /^Links:/ { l = $2 }
	    END { if (t != "") print t, m, u, g, l }'
}

# xtime IMG PATH FIELD: mtime or ctime in seconds.
xtime() {
	printf '%d' "$(dfs "$1" "stat $2" | awk -v f="$3:" \
	    '$1 == f { sub(/:.*/, "", $2); print $2 }')"
}

names() { dfs "$1" "ls $2" | tr -s ' \t\n' '\n' | grep -v '^$' |
    grep -v '^(' | grep -Ev '^[0-9]+$' | sort | tr '\n' ' '; }
free_counts() { dumpe2fs -h "$1" 2>/dev/null |
    awk '/^Free (blocks|inodes):/ { printf "%s ", $3 }'; }
# shellcheck disable=SC2317
fsck_clean() { e2fsck -fn "$1" >"$T/fsck.log" 2>&1; }
# sum [FILE]: FILE's (or stdin's) md5.
sum() {
	if [ $# -gt 0 ]; then
		md5sum <"$1"
	else
		md5sum
	fi | cut -d' ' -f1
}
isize() { dfs "$1" "stat $2" | awk '$1 == "User:" { print $NF }'; }

# mksrc DIR: a guest tree like one debootstrap makes.
mksrc() {
	local s=$1 t
	mkdir -p "$s/etc/ssh" "$s/root" "$s/tmp" "$s/run/systemd/resolve"
	echo old-name >"$s/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 old-name\n' >"$s/etc/hosts"
	echo "nameserver 127.0.0.53" >"$s/run/systemd/resolve/stub-resolv.conf"
	ln -s ../run/systemd/resolve/stub-resolv.conf "$s/etc/resolv.conf"
	for t in rsa ecdsa dsa ed25519; do
		echo "old $t key" >"$s/etc/ssh/ssh_host_${t}_key"
		echo "ssh-$t OLD root@debootstrap" >"$s/etc/ssh/ssh_host_${t}_key.pub"
		chmod 0600 "$s/etc/ssh/ssh_host_${t}_key"
	done
	echo "ssh-rsa-cert OLD" >"$s/etc/ssh/ssh_host_rsa_key-cert.pub"
	echo "PermitRootLogin prohibit-password" >"$s/etc/ssh/sshd_config"
	echo "root:x:0:0:root:/root:/bin/bash" >"$s/etc/passwd"
	chmod 0700 "$s/root"
	chmod 1777 "$s/tmp"
}

# mkimg IMG SRC [mkfs options]: a 64M image of SRC (ext4 unless the
# options name another type with -t).
mkimg() {
	local img=$1 src=$2 type=(-t ext4)
	shift 2
	case " $* " in *" -t "*) type=() ;; esac
	mke2fs -q -F "${type[@]}" -E root_owner=0:0 "$@" -d "$src" "$img" 64M \
	    >"$T/mkfs.log" 2>&1 ||
	    { echo "mkfs: $(cat "$T/mkfs.log")" >&2; return 1; }
}

# check_files NAME IMG: every file, its content, mode and owner.
check_files() {
	local n=$1 img=$2 line path exp mode
	while IFS=: read -r path exp mode; do
		expect_eq "$n: $path content" "$(fcat "$img" "$path" | sum)" \
		    "$(sum "$E/$exp")"
		expect_eq "$n: $path mode, owner, links" "$(attr "$img" "$path")" \
		    "regular $mode 0 0 1"
	done <<<"$FILES"
	expect_eq "$n: /root/.ssh" "$(attr "$img" /root/.ssh)" \
	    "directory 0700 0 0 2"
	expect_eq "$n: /etc/systemd/network" \
	    "$(attr "$img" /etc/systemd/network | cut -d' ' -f1-4)" \
	    "directory 0755 0 0"
	expect_eq "$n: /etc/network/interfaces.d" \
	    "$(attr "$img" /etc/network/interfaces.d | cut -d' ' -f1-4)" \
	    "directory 0755 0 0"
}

# check_hostkey NAME IMG OUT: the host key the drive reported (OUT) is
# the one in the image, the old ones are gone, the rest untouched.
check_hostkey() {
	local n=$1 img=$2 out=$3 line fp
	line=$(sed -n 's/^hostkey //p' "$out")
	fp=$(sed -n 's/^fingerprint //p' "$out")
	expect_match "$n: host key reported" "$line" \
	    "^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} root@$HOST\$"
	expect_eq "$n: host public key in the image" \
	    "$(fcat "$img" /etc/ssh/ssh_host_ed25519_key.pub)" "$line"
	expect_eq "$n: host private key mode" \
	    "$(attr "$img" /etc/ssh/ssh_host_ed25519_key)" "regular 0600 0 0 1"
	expect_eq "$n: host public key mode" \
	    "$(attr "$img" /etc/ssh/ssh_host_ed25519_key.pub)" \
	    "regular 0644 0 0 1"
	expect_eq "$n: old host keys gone, sshd_config kept" \
	    "$(names "$img" /etc/ssh)" \
	    ". .. ssh_host_ed25519_key ssh_host_ed25519_key.pub sshd_config "
	expect_eq "$n: sshd_config untouched" \
	    "$(fcat "$img" /etc/ssh/sshd_config)" \
	    "PermitRootLogin prohibit-password"
	expect_eq "$n: symlink target untouched" \
	    "$(fcat "$img" /run/systemd/resolve/stub-resolv.conf)" \
	    "nameserver 127.0.0.53"
	if [ "$HAVE_KEYGEN" -eq 0 ]; then
		skip "$n: ssh-keygen -y" "no ssh-keygen (openssh-client)"
		return
	fi
	rm -f "$T/hk" "$T/hk.pub"
	dfs "$img" "dump /etc/ssh/ssh_host_ed25519_key $T/hk" >/dev/null
	chmod 0600 "$T/hk" 2>/dev/null
	expect_eq "$n: ssh-keygen -y on the private key" \
	    "$(ssh-keygen -y -f "$T/hk" 2>&1)" "$line"
	printf '%s\n' "$line" >"$T/hk.pub"
	expect_match "$n: ssh-keygen -l, same fingerprint" \
	    "$(ssh-keygen -l -f "$T/hk.pub" 2>&1)" \
	    "^256 $(printf '%s' "$fp" | sed 's/[+/]/\\&/g') root@$HOST \\(ED25519\\)\$"
}

# snapshot IMG: every provisioned file's attributes and content.
snapshot() {
	local img=$1 path exp mode
	while IFS=: read -r path exp mode; do
		echo "$path $(attr "$img" "$path") $(fcat "$img" "$path" | md5sum)"
	done <<<"$FILES"
	names "$img" /etc/ssh
	attr "$img" /etc/ssh/ssh_host_ed25519_key
}

# variant NAME [mkfs options]: provision a fresh image twice, check all.
variant() {
	local n=$1 img=$T/$1.img t0 first second
	shift
	mksrc "$T/src-$n"
	if [ "$n" = htree ]; then
		# /etc indexed by e2fsck -D: htree links and unlinks.
		for i in $(seq 1 400); do
			echo "$i" >"$T/src-$n/etc/file-with-a-long-name-$i"
		done
	fi
	if [ "$n" = fulldir ]; then
		# /root's one block full to the last bytes (1 KiB blocks,
		# 12-byte checksum tail): adding .ssh must expand it.
		for i in $(seq 1 41); do
			: >"$T/src-$n/root/$(printf 'f%015d' "$i")"
		done
	fi
	if ! mkimg "$img" "$T/src-$n" "$@"; then
		fail "$n: mkfs" "cannot make the image ($*)"
		return
	fi
	if [ "$n" = htree ]; then
		e2fsck -fyD "$img" >/dev/null 2>&1
		expect_match "$n: /etc is indexed" \
		    "$(dfs "$img" "stat /etc" | head -1)" 'Flags: 0x[0-9a-f]*1[0-9a-f]{3}$'
	fi
	[ "$n" = fulldir ] && expect_eq "$n: /root one block" \
	    "$(isize "$img" /root)" 1024
	t0=$(date +%s)
	if prov "$img" >"$T/out" 2>"$T/err"; then
		pass "$n: provision"
	else
		fail "$n: provision" "$(cat "$T/err")"
		return
	fi
	expect_eq "$n: counts" "$(tail -1 "$T/out")" \
	    "written 8 removed 7 mkdirs 5"
	check_files "$n" "$img"
	check_hostkey "$n" "$img" "$T/out"
	expect_eq "$n: resolv.conf symlink replaced" \
	    "$(attr "$img" /etc/resolv.conf | cut -d' ' -f1)" regular
	check "$n: hostname mtime and ctime now" test \
	    "$(xtime "$img" /etc/hostname mtime)" -ge "$t0" -a \
	    "$(xtime "$img" /etc/hostname ctime)" -ge "$t0"
	check "$n: /etc mtime now" test "$(xtime "$img" /etc mtime)" -ge "$t0"
	check "$n: e2fsck -fn clean" fsck_clean "$img"
	[ "$n" = fulldir ] && expect_eq "$n: /root expanded" \
	    "$(isize "$img" /root)" 2048
	[ "$n" = htree ] && expect_eq "$n: the other /etc files kept" \
	    "$(names "$img" /etc | tr ' ' '\n' | grep -c '^file-with-a-long-name-')" 400

	first=$(snapshot "$img")
	counts=$(free_counts "$img")
	if prov "$img" >"$T/out2" 2>"$T/err"; then
		pass "$n: provision again"
	else
		fail "$n: provision again" "$(cat "$T/err")"
		return
	fi
	expect_eq "$n: counts again" "$(tail -1 "$T/out2")" \
	    "written 8 removed 0 mkdirs 0"
	second=$(snapshot "$img")
	expect_eq "$n: the same files again" "$second" "$first"
	expect_eq "$n: the same free blocks and inodes again" \
	    "$(free_counts "$img")" "$counts"
	check "$n: a new host key" test "$(sed -n 1p "$T/out")" != \
	    "$(sed -n 1p "$T/out2")"
	check_hostkey "$n: again" "$img" "$T/out2"
	check "$n: e2fsck -fn clean again" fsck_clean "$img"
}

variant ext4
variant ext4-4k -b 4096
variant noextents -O ^extent,^64bit
variant inline -O inline_data
variant ext2 -t ext2
variant htree -b 1024
variant fulldir -b 1024 -O metadata_csum

# Without host keys: /etc/ssh is not touched.
mksrc "$T/src-nokeys"
mkimg "$T/nokeys.img" "$T/src-nokeys"
if prov "$T/nokeys.img" -K >"$T/out" 2>"$T/err"; then
	pass "no host keys: provision"
	expect_eq "no host keys: nothing reported" "$(cat "$T/out")" \
	    "written 6 removed 0 mkdirs 5"
	want=". .. "
	for t in dsa ecdsa ed25519 rsa; do
		want="${want}ssh_host_${t}_key "
		[ $t = rsa ] && want="${want}ssh_host_${t}_key-cert.pub "
		want="${want}ssh_host_${t}_key.pub "
	done
	expect_eq "no host keys: /etc/ssh untouched" \
	    "$(names "$T/nokeys.img" /etc/ssh)" "${want}sshd_config "
	check_files "no host keys" "$T/nokeys.img"
	check "no host keys: e2fsck -fn clean" fsck_clean "$T/nokeys.img"
else
	fail "no host keys: provision" "$(cat "$T/err")"
fi

# A hard-linked /etc/hostname: the other name keeps the old content;
# an old host key that is a symlink (long enough to have a block) goes
# without its target changing; an /etc/hosts with an extended
# attribute block has it freed.
mksrc "$T/src-links"
ln "$T/src-links/etc/hostname" "$T/src-links/etc/hostname.keep"
rm "$T/src-links/etc/ssh/ssh_host_dsa_key"
ln -s /etc/../etc/../etc/../etc/../etc/../etc/../etc/../etc/../etc/passwd \
    "$T/src-links/etc/ssh/ssh_host_dsa_key"
mkimg "$T/links.img" "$T/src-links"
head -c 600 /dev/zero | tr '\0' x >"$T/ea.val"
debugfs -w -R "ea_set -f $T/ea.val /etc/hosts user.big" "$T/links.img" \
    >/dev/null 2>&1
check "xattr block: made" test "$(dfs "$T/links.img" "stat /etc/hosts" |
    awk '$1 == "File" && $2 == "ACL:" { print $3 }')" -gt 0
check "slow symlink: made" test "$(dfs "$T/links.img" \
    "stat /etc/ssh/ssh_host_dsa_key" | awk '$1 == "Links:" { print $4 }')" -gt 0
# (type, mode, links: mkfs -d gives the files their owner here)
tml() { attr "$1" "$2" | awk '{ print $1, $2, $5 }'; }
expect_eq "hard link: made" "$(tml "$T/links.img" /etc/hostname.keep)" \
    "regular 0644 2"
if prov "$T/links.img" >"$T/out" 2>"$T/err"; then
	pass "links: provision"
else
	fail "links: provision" "$(cat "$T/err")"
fi
expect_eq "hard link: the other name keeps its content" \
    "$(fcat "$T/links.img" /etc/hostname.keep)" "old-name"
expect_eq "hard link: one link left" \
    "$(tml "$T/links.img" /etc/hostname.keep)" "regular 0644 1"
expect_eq "hard link: hostname written" \
    "$(fcat "$T/links.img" /etc/hostname)" "$HOST"
expect_eq "symlinked old key: target untouched" \
    "$(fcat "$T/links.img" /etc/passwd)" "root:x:0:0:root:/root:/bin/bash"
expect_eq "symlinked old key: link gone" "$(names "$T/links.img" /etc/ssh)" \
    ". .. ssh_host_ed25519_key ssh_host_ed25519_key.pub sshd_config "
check "links: e2fsck -fn clean" fsck_clean "$T/links.img"

# refused NAME WANT-REGEX IMG [drive options]: provisioning fails with a
# message matching WANT and IMG is unchanged, byte for byte.
refused() {
	local n=$1 want=$2 img=$3 before rc
	shift 3
	before=$(sum "$img")
	prov "$img" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 1 ]; then
		expect_match "$n: refused" "$(cat "$T/err")" "$want"
	else
		fail "$n: refused" "exit $rc: $(cat "$T/out" "$T/err")"
	fi
	expect_eq "$n: image unchanged" "$(sum "$img")" "$before"
}

# A guest whose paths lead elsewhere.
mksrc "$T/src-etclink"
mv "$T/src-etclink/etc" "$T/src-etclink/realetc"
ln -s /tmp "$T/src-etclink/etc"
mkimg "$T/etclink.img" "$T/src-etclink"
refused "/etc -> /tmp" '/etc is a symbolic link in the guest' \
    "$T/etclink.img"
expect_eq "/etc -> /tmp: nothing in /tmp" "$(names "$T/etclink.img" /tmp)" \
    ". .. "

mksrc "$T/src-etcrel"
rm -rf "$T/src-etcrel/etc"
ln -s tmp "$T/src-etcrel/etc"
mkimg "$T/etcrel.img" "$T/src-etcrel"
refused "/etc -> tmp (relative)" '/etc is a symbolic link' "$T/etcrel.img"

mksrc "$T/src-dotssh"
ln -s ../tmp "$T/src-dotssh/root/.ssh"
mkimg "$T/dotssh.img" "$T/src-dotssh"
refused "/root/.ssh -> ../tmp" '/root/.ssh is a symbolic link in the guest' \
    "$T/dotssh.img"
refused "/root/.ssh -> ../tmp, no host keys" '/root/.ssh is a symbolic link' \
    "$T/dotssh.img" -K
expect_eq "/root/.ssh -> ../tmp: nothing in /tmp" \
    "$(names "$T/dotssh.img" /tmp)" ". .. "

mksrc "$T/src-rootlink"
rm -rf "$T/src-rootlink/root"
ln -s /tmp "$T/src-rootlink/root"
mkimg "$T/rootlink.img" "$T/src-rootlink"
refused "/root -> /tmp" '/root is a symbolic link' "$T/rootlink.img"

mksrc "$T/src-sshlink"
mv "$T/src-sshlink/etc/ssh" "$T/src-sshlink/ssh"
ln -s ../ssh "$T/src-sshlink/etc/ssh"
mkimg "$T/sshlink.img" "$T/src-sshlink"
refused "/etc/ssh -> ../ssh" '/etc/ssh is a symbolic link' "$T/sshlink.img"
if prov "$T/sshlink.img" -K >"$T/out" 2>"$T/err"; then
	pass "/etc/ssh -> ../ssh: fine without host keys"
else
	fail "/etc/ssh -> ../ssh: fine without host keys" "$(cat "$T/err")"
fi
expect_eq "/etc/ssh -> ../ssh: keys untouched" \
    "$(names "$T/sshlink.img" /ssh | wc -w)" 12

mksrc "$T/src-sdfile"
echo "not a directory" >"$T/src-sdfile/etc/systemd"
mkimg "$T/sdfile.img" "$T/src-sdfile"
refused "/etc/systemd a file" '/etc/systemd is not a directory' \
    "$T/sdfile.img"

mksrc "$T/src-hndir"
rm "$T/src-hndir/etc/hostname"
mkdir "$T/src-hndir/etc/hostname"
mkimg "$T/hndir.img" "$T/src-hndir"
refused "/etc/hostname a directory" '/etc/hostname is a directory' \
    "$T/hndir.img"

mksrc "$T/src-keydir"
mkdir "$T/src-keydir/etc/ssh/ssh_host_rsa_key.d"
mkimg "$T/keydir.img" "$T/src-keydir"
refused "a directory named like a host key" \
    '/etc/ssh/ssh_host_rsa_key.d is a directory' "$T/keydir.img"

# Bad authorized keys, bad specs: refused before the image is opened.
mksrc "$T/src-base"
mkimg "$T/base.img" "$T/src-base"
ED=${KEY1#ssh-ed25519 }
ED=${ED% user@host}
bad_keys() {
	local n=$1 want=$2
	printf '%b' "$3" >"$KEYS"
	refused "authorized keys: $n" "$want" "$T/base.img"
}
bad_keys "options" 'not a known key type' "from=\"10.0.0.1\" $KEY1\n"
bad_keys "CRLF" 'control character 0x0d' "$KEY1\r\n"
bad_keys "escape in the comment" 'control character 0x1b' \
    "ssh-ed25519 $ED bad\033[2J\n"
bad_keys "tab" 'control character 0x09' "ssh-ed25519\t$ED\n"
bad_keys "type mismatch" 'is not a ssh-rsa key' "ssh-rsa $ED x\n"
bad_keys "bad base64" 'bad base64' "ssh-ed25519 AAAA!!!!\n"
bad_keys "short key" 'not a 32-byte ssh-ed25519 key' \
    "ssh-ed25519 ${ED:0:64}\n"
bad_keys "no key" 'no base64 key' "ssh-ed25519\n"
bad_keys "unknown type" 'not a known key type' "ssh-dss $ED\n"
bad_keys "a comment line" 'not a known key type' "# keys\n$KEY1\n"
bad_keys "second line bad" 'line 2' "$KEY1\nnot a key\n"
bad_keys "empty" 'no authorized keys' ""
bad_keys "blank lines only" 'no authorized keys' "\n\n"
printf '%s\n\n%s' "$KEY1" "$KEY2" >"$KEYS"
cp "$T/base.img" "$T/base2.img"
if prov "$T/base2.img" >"$T/out" 2>"$T/err"; then
	pass "authorized keys: blank line and no final newline taken"
	printf '%s\n\n%s\n' "$KEY1" "$KEY2" >"$T/keys-want"
	expect_eq "authorized keys: written with a final newline" \
	    "$(fcat "$T/base2.img" /root/.ssh/authorized_keys | sum)" \
	    "$(sum "$T/keys-want")"
else
	fail "authorized keys: blank line and no final newline taken" \
	    "$(cat "$T/err")"
fi
printf '%s\n%s\n' "$KEY1" "$KEY2" >"$KEYS"

bad_spec() {
	local n=$1 want=$2 before rc
	shift 2
	before=$(sum "$T/base.img")
	drive "$T/base.img" "$@" "$KEYS" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 1 ]; then
		expect_match "spec: $n: refused" "$(cat "$T/err")" "$want"
	else
		fail "spec: $n: refused" "exit $rc: $(cat "$T/err")"
	fi
	expect_eq "spec: $n: image unchanged" "$(sum "$T/base.img")" "$before"
}
bad_spec "hostname" '^guestfs-drive: hostname: ' \
    Bad_Host "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "$MAC"
bad_spec "domain" '^guestfs-drive: domain: has an empty label' \
    "$HOST" "vm..internal" "$ADDR/$PFX" "$GW" "$DNS" "$MAC"
bad_spec "network address" 'address 10.0.0.0/24: network address' \
    "$HOST" "$DOM" "10.0.0.0/24" "$GW" "$DNS" "$MAC"
bad_spec "gateway elsewhere" 'gateway 10.0.1.1: not another address' \
    "$HOST" "$DOM" "$ADDR/$PFX" 10.0.1.1 "$DNS" "$MAC"
bad_spec "gateway is the VM" 'gateway 10.0.0.5: not another address' \
    "$HOST" "$DOM" "$ADDR/$PFX" "$ADDR" "$DNS" "$MAC"
bad_spec "DNS loopback" 'DNS server 127.0.0.53: loopback' \
    "$HOST" "$DOM" "$ADDR/$PFX" "$GW" 127.0.0.53 "$MAC"
bad_spec "MAC" 'MAC address: not 02:fc' \
    "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" 52:54:00:12:34:56
bad_spec "MAC with a newline" 'MAC address: ' \
    "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "02:fc:00:00:00:0
"

# Bad fds and bad file systems.
before=$(sum "$T/base.img")
drive -F abc - "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "$MAC" "$KEYS" \
    0<>"$T/base.img" >"$T/out" 2>"$T/err"
expect_match "fd not a number: refused" "$(cat "$T/err")" \
    'fd abc: not a number'
drive -F 5x - "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "$MAC" "$KEYS" \
    0<>"$T/base.img" 5<>"$T/base.img" >"$T/out" 2>"$T/err"
expect_match "fd 5x: refused" "$(cat "$T/err")" 'fd 5x: not a number'
expect_eq "fd not a number: fd 0 not used" "$(sum "$T/base.img")" "$before"

drive -F 9 - "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "$MAC" "$KEYS" \
    9<&- >"$T/out" 2>"$T/err"
expect_match "closed fd: refused" "$(cat "$T/err")" \
    '^guestfs-drive: fd 9: Bad file descriptor$'

refused "read-only open" 'fd [0-9]+: not open for reading and writing' \
    "$T/base.img" -R
drive -F 5 - "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "$MAC" "$KEYS" \
    5<"$T/base.img" >"$T/out" 2>"$T/err"
expect_match "read-only fd: refused" "$(cat "$T/err")" \
    'fd 5: not open for reading and writing'
expect_eq "read-only fd: image unchanged" "$(sum "$T/base.img")" "$before"

drive -F 5 - "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "$MAC" "$KEYS" \
    5<>/dev/null >"$T/out" 2>"$T/err"
expect_match "character device: refused" "$(cat "$T/err")" \
    'fd 5: not a regular file or a block device'

head -c 1048576 /dev/urandom >"$T/random.img"
refused "random bytes" 'fd [0-9]+: not an ext2/3/4 file system \(bad magic number\)$' \
    "$T/random.img"
: >"$T/empty.img"
refused "empty file" 'fd [0-9]+: cannot open the file system: .*short read' \
    "$T/empty.img"

cp "$T/base.img" "$T/dirty.img"
debugfs -w -R "feature needs_recovery" "$T/dirty.img" >/dev/null 2>&1
refused "journal needs recovery" 'journal needs recovery: run e2fsck' \
    "$T/dirty.img"
cp "$T/base.img" "$T/errors.img"
debugfs -w -R "ssv state 3" "$T/errors.img" >/dev/null 2>&1
refused "errors marked" 'not clean: run e2fsck' "$T/errors.img"

# The caller's fd: used, kept open.
cp "$T/base.img" "$T/fd.img"
if drive -F 5 - "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "$MAC" "$KEYS" \
    5<>"$T/fd.img" >"$T/out" 2>"$T/err"; then
	pass "fd 5: provision"
	expect_eq "fd 5: the caller's fd kept open" "$(tail -1 "$T/out")" \
	    "fd 5 kept"
	check_files "fd 5" "$T/fd.img"
	check "fd 5: e2fsck -fn clean" fsck_clean "$T/fd.img"
else
	fail "fd 5: provision" "$(cat "$T/err")"
fi

# Sandboxed: guestfs_syscalls and nothing else (no open, no path).
cp "$T/base.img" "$T/sandbox.img"
if ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" drive -S -F 5 - \
    "$HOST" "$DOM" "$ADDR/$PFX" "$GW" "$DNS" "$MAC" "$KEYS" \
    5<>"$T/sandbox.img" >"$T/out" 2>"$T/err"; then
	pass "seccomp allow-list: provision"
	check_files "seccomp" "$T/sandbox.img"
	check_hostkey "seccomp" "$T/sandbox.img" "$T/out"
	check "seccomp: e2fsck -fn clean" fsck_clean "$T/sandbox.img"
else
	fail "seccomp allow-list: provision" "exit $?: $(cat "$T/err")"
fi

# A 1 GB image: only the blocks that change are written.
mksrc "$T/src-big"
if mke2fs -q -F -t ext4 -d "$T/src-big" "$T/big.img" 1G >/dev/null 2>&1; then
	cp --sparse=always "$T/big.img" "$T/big0.img"
	alloc0=$(( $(stat -c %b "$T/big.img") * 512 ))
	if prov "$T/big.img" >"$T/out" 2>"$T/err"; then
		pass "1G: provision"
	else
		fail "1G: provision" "$(cat "$T/err")"
	fi
	alloc1=$(( $(stat -c %b "$T/big.img") * 512 ))
	changed=$(cmp -l "$T/big0.img" "$T/big.img" |
	    awk '{ b = int(($1 - 1) / 4096); if (!(b in s)) { s[b] = 1; n++ } }
	    END { print n + 0 }')
	if [ $((alloc1 - alloc0)) -le 65536 ]; then
		pass "1G: at most 64 KiB more allocated"
	else
		fail "1G: at most 64 KiB more allocated" \
		    "$((alloc1 - alloc0)) bytes more"
	fi
	if [ "$changed" -le 32 ]; then
		pass "1G: at most 32 4-KiB blocks changed"
	else
		fail "1G: at most 32 4-KiB blocks changed" "$changed changed"
	fi
	check "1G: e2fsck -fn clean" fsck_clean "$T/big.img"
	rm -f "$T/big0.img"
else
	fail "1G: mkfs" "cannot make a 1G image"
fi

t_done

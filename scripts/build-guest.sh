#!/bin/bash
# build-guest.sh [OUTDIR]: build the guest that the tests boot (under
# qemu, through the Firecracker stand-in), or rebuild what is missing
# or stale.  OUTDIR, by default /var/cache/banger-guest, is a cache kept
# across runs; it gets:
#	vmlinux		the ELF kernel of Debian's current cloud kernel
#			package (Firecracker and qemu -M microvm boot it;
#			qemu via its PVH note)
#	initrd.img	busybox, the virtio modules, regress/guest/init:
#			mounts root= and switch_roots into it
#	rootfs.ext4	1 GiB: Debian 12 minbase, systemd, sshd, networkd
#			(regress/guest/rootfs-setup.sh)
#	id_ed25519	the key root logs in with over SSH (and .pub)
#	stamp		versions, and the inputs each file was built from
#	cache/		the kernel package
#
# build-guest.sh --check [OUTDIR]: boot the three under qemu (TCG), wait
# for the login prompt, power the guest off; GUEST_CHECK_TIMEOUT
# seconds (default 120).
#
# Installs nothing: it needs, as root, apt-get, dpkg, lz4, file, readelf
# (binutils), busybox (busybox-static), cpio, gzip, debootstrap,
# mkfs.ext4 (e2fsprogs), and qemu-system-x86_64 for --check.  Progress on
# stderr.  Exits 0 when done, 1 on failure, 2 when a prerequisite is
# missing.  GUEST_MIRROR overrides the Debian mirror (by default the one
# apt uses here), GUEST_SUITE the suite (bookworm).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
GUEST=$TOP/regress/guest
AGENT=$TOP/guest
# bump to rebuild everything, whatever the stamp says
RECIPE=1
META=linux-image-cloud-amd64
SUITE=${GUEST_SUITE:-bookworm}
INCLUDE=openssh-server,iproute2,iputils-ping,systemd-sysv,udev,ifupdown,dbus,kmod
ROOTFS_SIZE=1G

SECONDS=0
log() { printf 'build-guest: [%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'build-guest: error: %s\n' "$*" >&2; exit 1; }
missing() { printf 'build-guest: missing: %s\n' "$*" >&2; exit 2; }
usage() {
	echo "usage: build-guest.sh [--check] [OUTDIR]" >&2
	exit 1
}

CHECK=
case ${1:-} in
--check) CHECK=1; shift ;;
-h | --help) usage ;;
-*) usage ;;
esac
[ $# -le 1 ] || usage
OUT=${1:-/var/cache/banger-guest}
case $OUT in
/*) ;;
*) OUT=$PWD/$OUT ;;
esac

need() {
	local c miss=
	for c; do
		command -v "$c" >/dev/null 2>&1 || miss="$miss $c"
	done
	[ -z "$miss" ] || missing "commands:$miss (see scripts/deps.sh)"
}

# --- the self-check ---------------------------------------------------

# check_boot: kernel, initrd and a throw-away copy of the disk under qemu
check_boot() {
	local f d pid t0 tl n
	need qemu-system-x86_64 mkfifo
	for f in vmlinux initrd.img rootfs.ext4; do
		[ -r "$OUT/$f" ] || die "$OUT/$f: missing (build it first)"
	done
	d=$(mktemp -d /tmp/build-guest-check.XXXXXX)
	# shellcheck disable=SC2064
	trap "check_cleanup '$d'" EXIT
	mkfifo "$d/mon.in" "$d/mon.out"
	cat "$d/mon.out" >"$d/monitor" 2>/dev/null &
	log "check: booting $OUT under qemu (TCG)"
	t0=$SECONDS
	qemu-system-x86_64 -M microvm,pit=on,pic=on,rtc=on -accel tcg \
	    -nodefaults -no-user-config -nographic -serial stdio \
	    -device i8042 -m 256 -smp 2 \
	    -kernel "$OUT/vmlinux" -initrd "$OUT/initrd.img" \
	    -append "console=ttyS0 reboot=k panic=1 pci=off tsc_early_khz=2000000 root=/dev/vda rw" \
	    -drive id=root,file="$OUT/rootfs.ext4",format=raw,if=none,snapshot=on \
	    -device virtio-blk-device,drive=root \
	    -no-reboot -monitor pipe:"$d/mon" \
	    </dev/null >"$d/console" 2>"$d/qemu.err" &
	pid=$!
	echo "$pid" >"$d/pid"
	n=$((${GUEST_CHECK_TIMEOUT:-120} * 10))
	while ! grep -q ' login: *$' "$d/console" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null || [ $n -le 0 ]; then
			tail -n 30 "$d/console" "$d/qemu.err" >&2
			die "check: no login prompt after $((SECONDS - t0))s"
		fi
		sleep 0.1
		n=$((n - 1))
	done
	tl=$((SECONDS - t0))
	log "check: login prompt after ${tl}s: $(grep -a 'kernel [0-9]' "$d/console" | head -1 | tr -d '\r')"
	echo system_powerdown >"$d/mon.in"
	n=300
	while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		tail -n 20 "$d/console" >&2
		die "check: the guest did not power off within 30s of system_powerdown"
	fi
	wait "$pid" || die "check: qemu exited with status $?"
	grep -q 'reboot: Power down' "$d/console" ||
	    die "check: qemu exited without the guest powering off"
	log "check: ok: login prompt after ${tl}s, powered off after $((SECONDS - t0 - tl))s more"
}

check_cleanup() {
	local d=$1 pid
	pid=$(cat "$d/pid" 2>/dev/null) || pid=
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$d"
}

if [ -n "$CHECK" ]; then
	check_boot
	exit 0
fi

# --- prerequisites ----------------------------------------------------

[ "$(id -u)" -eq 0 ] || missing "root (debootstrap, chroot, mknod)"
need apt-get apt-cache dpkg dpkg-deb dpkg-query lz4 file readelf busybox \
    cpio gzip debootstrap mkfs.ext4 chroot flock sha256sum grep
BUSYBOX=$(command -v busybox)
file -bL "$BUSYBOX" | grep -Eq 'statically linked|static-pie linked' ||
    missing "a static busybox ($BUSYBOX is not; install busybox-static)"

mkdir -p "$OUT" "$OUT/cache" || die "cannot create $OUT"
exec 9>"$OUT/.lock"
if ! flock -n 9; then
	log "waiting for another build-guest.sh on $OUT"
	flock 9
fi

W=$(mktemp -d "$OUT/.work.XXXXXX")
# a debootstrap cut short leaves /proc and /sys mounted in its tree
cleanup() {
	local m
	if [ -d "$W" ]; then
		awk -v w="$W/" 'index($2, w) == 1 { print $2 }' /proc/mounts |
		    sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
		rm -rf --one-file-system "$W"
	fi
}
trap cleanup EXIT

# --- the stamp ----------------------------------------------------------

STAMP=$OUT/stamp
stamp_get() {
	[ -r "$STAMP" ] || return 0
	awk -F= -v k="$1" '$1 == k { sub(/^[^=]*=/, ""); print; exit }' \
	    "$STAMP"
}
# stamp_set KEY=VALUE...: replace those keys, atomically
stamp_set() {
	local kv tmp=$STAMP.tmp
	{
		echo "# scripts/build-guest.sh: what $OUT holds; do not edit"
		if [ -r "$STAMP" ]; then
			grep -v '^#' "$STAMP" | while IFS= read -r line; do
				for kv; do
					[ "${line%%=*}" = "${kv%%=*}" ] &&
					    continue 2
				done
				printf '%s\n' "$line"
			done
		fi
		printf '%s\n' "$@"
	} >"$tmp"
	mv "$tmp" "$STAMP"
}
hash_of() {
	printf '%s\n' "$@" | sha256sum | cut -c1-16
}

# --- 1. the kernel ------------------------------------------------------

KPKG=$(apt-cache depends "$META" 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') ||
    true
KVER=
if [ -n "$KPKG" ]; then
	KVER=$(apt-cache show --no-all-versions "$KPKG" 2>/dev/null |
	    awk '$1 == "Version:" { print $2; exit }') || true
fi
if [ -z "$KPKG" ] || [ -z "$KVER" ]; then
	if [ -r "$OUT/vmlinux" ] && [ -n "$(stamp_get kernel_package)" ]; then
		log "warning: apt knows no $META (apt-get update?): keeping the cached $(stamp_get kernel_package)"
		KPKG=$(stamp_get kernel_package)
		KVER=$(stamp_get kernel_version)
	else
		die "apt knows no $META package: run apt-get update"
	fi
fi
KREL=${KPKG#linux-image-}
KKEY=$(hash_of "$RECIPE" "$KPKG=$KVER")

DEB=
# kernel_deb: the package file, downloaded once into cache/
kernel_deb() {
	local f
	[ -z "$DEB" ] || return 0
	f=$(find "$OUT/cache" -maxdepth 1 -name "${KPKG}_*.deb" | head -1)
	if [ -n "$f" ] && [ "$(dpkg-deb -f "$f" Version 2>/dev/null)" = "$KVER" ]; then
		DEB=$f
		return 0
	fi
	log "kernel: downloading $KPKG $KVER"
	(cd "$W" && apt-get -q -o APT::Sandbox::User=root download \
	    "$KPKG=$KVER" >"$W/download.log" 2>&1) || {
		cat "$W/download.log" >&2
		die "apt-get download $KPKG=$KVER failed"
	}
	f=$(find "$W" -maxdepth 1 -name "${KPKG}_*.deb" | head -1)
	[ -n "$f" ] || die "apt-get download left no ${KPKG}_*.deb"
	find "$OUT/cache" -maxdepth 1 -name 'linux-image-*.deb' -delete
	mv "$f" "$OUT/cache/"
	DEB=$OUT/cache/${f##*/}
}

KROOT=
# kernel_tree: the package unpacked; KMOD its lib/modules/KREL
kernel_tree() {
	[ -z "$KROOT" ] || return 0
	kernel_deb
	KROOT=$W/kernel
	dpkg -x "$DEB" "$KROOT" || die "dpkg -x $DEB failed"
	if [ -d "$KROOT/lib/modules/$KREL" ]; then
		KMOD=$KROOT/lib/modules/$KREL
		KBASE=$KROOT
	elif [ -d "$KROOT/usr/lib/modules/$KREL" ]; then
		KMOD=$KROOT/usr/lib/modules/$KREL
		KBASE=$KROOT/usr
	else
		die "$DEB: no lib/modules/$KREL"
	fi
	# Debian makes modules.dep in postinst; dpkg -x does not run it
	if [ ! -s "$KMOD/modules.dep" ]; then
		"$BUSYBOX" depmod -b "$KBASE" "$KREL" ||
		    die "depmod on $KMOD failed"
	fi
	[ -s "$KMOD/modules.dep" ] || die "no modules.dep for $KREL"
}

# check_vmlinux FILE: an x86-64 ELF kernel, whole, bootable via PVH
check_vmlinux() {
	local f=$1 shoff shnum shsz size
	file -b "$f" | grep -q '^ELF 64-bit LSB executable, x86-64' ||
	    { log "$f: not an x86-64 ELF executable: $(file -b "$f")"; return 1; }
	shoff=$(readelf -h "$f" | awk -F: '/Start of section headers/ { print $2+0 }')
	shnum=$(readelf -h "$f" | awk -F: '/Number of section headers/ { print $2+0 }')
	shsz=$(readelf -h "$f" | awk -F: '/Size of section headers/ { print $2+0 }')
	size=$(stat -c %s "$f")
	[ "$size" -ge $((shoff + shnum * shsz)) ] ||
	    { log "$f: truncated ($size bytes)"; return 1; }
	# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point qemu uses
	readelf -n "$f" | awk '$1 == "Xen" && /0x00000012|PHYS32/ { ok = 1 }
	    END { exit !ok }' ||
	    { log "$f: no PVH entry note (Xen note 0x12)"; return 1; }
	LC_ALL=C grep -aq "Linux version $KREL " "$f" ||
	    { log "$f: not Linux $KREL"; return 1; }
}

if [ -r "$OUT/vmlinux" ] && [ "$(stamp_get vmlinux_key)" = "$KKEY" ]; then
	log "kernel: vmlinux is $KPKG $KVER: cached"
else
	kernel_tree
	BZ=$KROOT/boot/vmlinuz-$KREL
	[ -r "$BZ" ] || die "$DEB: no boot/vmlinuz-$KREL"
	log "kernel: cutting the ELF vmlinux out of $(basename "$BZ")"
	# the bzImage's payload is LZ4 (legacy frame, magic 02 21 4c 18);
	# lz4 complains about what follows it, so judge by the result
	found=
	for off in $(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$BZ" |
	    cut -d: -f1 | head -4); do
		tail -c +$((off + 1)) "$BZ" | lz4 -dcq >"$W/vmlinux" 2>/dev/null ||
		    true
		if check_vmlinux "$W/vmlinux" 2>/dev/null; then
			found=$off
			break
		fi
	done
	[ -n "$found" ] || {
		check_vmlinux "$W/vmlinux" || true
		die "no LZ4-compressed ELF kernel in $BZ"
	}
	mv "$W/vmlinux" "$OUT/vmlinux"
	stamp_set "kernel_package=$KPKG" "kernel_version=$KVER" \
	    "kernel_release=$KREL" "vmlinux_key=$KKEY"
	log "kernel: vmlinux $KREL ($(du -h "$OUT/vmlinux" | cut -f1), LZ4 at offset $found, PVH note)"
fi

# --- 2. the initramfs -------------------------------------------------

BBVER=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) ||
    BBVER=$(sha256sum "$BUSYBOX" | cut -c1-16)
IKEY=$(hash_of "$RECIPE" "$KKEY" "$BBVER" "$(cat "$GUEST/init")" \
    "$(cat "$GUEST/modules")")

declare -A MPATH MDEPS BUILTIN SEEN
LOAD=()
# want NAME: NAME's dependencies (modules.dep), then NAME, onto LOAD
want() {
	local n=$1 d
	[ -z "${SEEN[$n]:-}" ] || return 0
	SEEN[$n]=1
	if [ -z "${MPATH[$n]:-}" ]; then
		[ -n "${BUILTIN[$n]:-}" ] || die "module $n: not in $KREL"
		log "initrd: $n is built in"
		return 0
	fi
	for d in ${MDEPS[$n]}; do
		d=${d##*/}
		d=${d%%.ko*}
		want "${d//-/_}"
	done
	LOAD+=("${MPATH[$n]}")
}

build_initrd() {
	local s=$W/initrd p n a line
	kernel_tree
	while IFS= read -r line; do
		p=${line%%:*}
		n=${p##*/}
		n=${n%%.ko*}
		n=${n//-/_}
		MPATH[$n]=$p
		MDEPS[$n]=${line#*:}
	done <"$KMOD/modules.dep"
	if [ -r "$KMOD/modules.builtin" ]; then
		while IFS= read -r p; do
			n=${p##*/}
			n=${n%%.ko*}
			BUILTIN[${n//-/_}]=1
		done <"$KMOD/modules.builtin"
	fi
	while IFS= read -r n; do
		n=${n%%#*}
		n=${n//[[:space:]]/}
		[ -z "$n" ] || want "${n//-/_}"
	done <"$GUEST/modules"

	mkdir -p "$s"/{bin,dev,etc,proc,sys,newroot,lib/modules/"$KREL"}
	cp "$BUSYBOX" "$s/bin/busybox"
	for a in $("$BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -s busybox "$s/bin/$a"
	done
	ln -s bin "$s/sbin"
	install -m 0755 "$GUEST/init" "$s/init"
	mknod -m 0600 "$s/dev/console" c 5 1
	mknod -m 0666 "$s/dev/null" c 1 3
	: >"$s/etc/modules.load"
	for p in "${LOAD[@]}"; do
		mkdir -p "$s/lib/modules/$KREL/${p%/*}"
		case $p in
		*.ko.xz)  xz -dc "$KMOD/$p" >"$s/lib/modules/$KREL/${p%.xz}" ;;
		*.ko.zst) zstd -qdc "$KMOD/$p" >"$s/lib/modules/$KREL/${p%.zst}" ;;
		*.ko.gz)  gzip -dc "$KMOD/$p" >"$s/lib/modules/$KREL/${p%.gz}" ;;
		*.ko)     cp "$KMOD/$p" "$s/lib/modules/$KREL/$p" ;;
		*)        die "module $p: unknown format" ;;
		esac || die "cannot unpack module $p"
		p=${p%.xz}
		p=${p%.zst}
		p=${p%.gz}
		echo "$p" >>"$s/etc/modules.load"
	done
	(cd "$s" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	    gzip -9n >"$W/initrd.img" || die "cpio | gzip failed"
	mv "$W/initrd.img" "$OUT/initrd.img"
	stamp_set "busybox_version=$BBVER" "initrd_modules=$(
	    sed 's,.*/,,; s,\.ko$,,' "$s/etc/modules.load" | tr '\n' ' ' |
	    sed 's/ $//')" "initrd_key=$IKEY"
	log "initrd: initrd.img ($(du -h "$OUT/initrd.img" | cut -f1), ${#LOAD[@]} modules)"
}

if [ -r "$OUT/initrd.img" ] && [ "$(stamp_get initrd_key)" = "$IKEY" ]; then
	log "initrd: initrd.img: cached"
else
	log "initrd: building (busybox $BBVER, regress/guest/init)"
	build_initrd
fi

# --- 3. the root file system ------------------------------------------

# mirror: the Debian archive apt uses here (deb822 .sources or one-line
# .list), so that debootstrap goes where this machine can go
mirror() {
	local f
	if [ -n "${GUEST_MIRROR:-}" ]; then
		echo "$GUEST_MIRROR"
		return
	fi
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v s="$SUITE" '
		function flush() {
			if (deb && suite && main && uri != "") { print uri; found = 1; exit }
			deb = suite = main = 0; uri = ""
		}
		/^[ \t]*$/ { flush(); next }
		/^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
		/^URIs:/ { uri = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) suite = 1 }
		/^Components:/ { for (i = 2; i <= NF; i++) if ($i == "main") main = 1 }
		END { if (!found) flush() }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	    awk -v s="$SUITE" '$1 == "deb" {
		i = 2
		if ($i ~ /^\[/) {
			while (i <= NF && $i !~ /\]$/)
				i++
			i++
		}
		if ($(i + 1) != s)
			next
		for (j = i + 2; j <= NF; j++)
			if ($j == "main") { print $i; exit }
	}'
}
MIRROR=$(mirror | head -1) || true
[ -n "$MIRROR" ] || die "no '$SUITE main' archive in apt's sources; set GUEST_MIRROR"
MIRROR=${MIRROR%/}

KEY=$OUT/id_ed25519
PUB=
[ -r "$KEY" ] && [ -r "$KEY.pub" ] && PUB=$(cat "$KEY.pub")
RKEY=$(hash_of "$RECIPE" "$KKEY" "$SUITE" "$MIRROR" "$INCLUDE" \
    "$ROOTFS_SIZE" "$PUB" "$(cat "$GUEST/rootfs-setup.sh" "$AGENT/banger-identity" \
		    "$AGENT/banger-identity.service")")

build_rootfs() {
	local dir=$W/root t
	kernel_tree
	log "rootfs: debootstrap $SUITE from $MIRROR (about 45 s)"
	t=$SECONDS
	if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" \
	    "$dir" "$MIRROR" >"$W/debootstrap.log" 2>&1; then
		tail -n 20 "$W/debootstrap.log" >&2
		tail -n 20 "$dir/debootstrap/debootstrap.log" 2>/dev/null >&2 ||
		    true
		die "debootstrap failed"
	fi
	log "rootfs: debootstrap took $((SECONDS - t))s"
	if [ -z "$PUB" ]; then
		log "rootfs: new SSH key $KEY"
		rm -f "$dir/root/banger-key" "$dir/root/banger-key.pub"
		chroot "$dir" ssh-keygen -q -t ed25519 -N '' \
		    -C banger-guest-test -f /root/banger-key ||
		    die "ssh-keygen failed"
		install -m 0600 "$dir/root/banger-key" "$KEY"
		install -m 0644 "$dir/root/banger-key.pub" "$KEY.pub"
		rm -f "$dir/root/banger-key" "$dir/root/banger-key.pub"
		PUB=$(cat "$KEY.pub")
		RKEY=$(hash_of "$RECIPE" "$KKEY" "$SUITE" "$MIRROR" "$INCLUDE" \
		    "$ROOTFS_SIZE" "$PUB" "$(cat "$GUEST/rootfs-setup.sh" "$AGENT/banger-identity" \
		    "$AGENT/banger-identity.service")")
	fi
	log "rootfs: configuring (regress/guest/rootfs-setup.sh)"
	sh "$GUEST/rootfs-setup.sh" "$dir" "$KREL" "$KMOD" "$KEY.pub" "$AGENT" ||
	    die "rootfs-setup.sh failed"
	log "rootfs: mkfs.ext4 -d ($(du -sh --one-file-system "$dir" | cut -f1))"
	rm -f "$W/rootfs.ext4"
	if ! truncate -s "$ROOTFS_SIZE" "$W/rootfs.ext4" ||
	    ! mkfs.ext4 -q -F -L banger-root -d "$dir" "$W/rootfs.ext4"; then
		die "mkfs.ext4 failed"
	fi
	mv "$W/rootfs.ext4" "$OUT/rootfs.ext4"
	stamp_set "rootfs_suite=$SUITE" "rootfs_mirror=$MIRROR" \
	    "rootfs_include=$INCLUDE" "rootfs_built=$(date -u +%FT%TZ)" \
	    "rootfs_key=$RKEY"
	log "rootfs: rootfs.ext4 ($ROOTFS_SIZE, $(du -h "$OUT/rootfs.ext4" | cut -f1) used)"
}

if [ -r "$OUT/rootfs.ext4" ] && [ -n "$PUB" ] &&
    [ "$(stamp_get rootfs_key)" = "$RKEY" ]; then
	log "rootfs: rootfs.ext4: cached"
else
	build_rootfs
fi

log "done: $OUT ($KREL)"

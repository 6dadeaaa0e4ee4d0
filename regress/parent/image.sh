# bangerctl image, end to end through bangerd: import, build, ls, show
# and rm as root, as a member of group banger who is not root, and with
# bad input; what the store holds afterwards, and that nothing is left.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "image" "needs root to start bangerd"
	t_done
fi

daemon_setup
trap daemon_cleanup EXIT
vm_daemon_start image

# Builds keep their temporary files here, to see that none are left.
export TMPDIR=$T/buildtmp
mkdir -p "$TMPDIR"

IMAGES=$STATE/images
# Temporary directories of imports, finished or not.
leftovers() {
	find "$IMAGES" -mindepth 1 -maxdepth 1 -name '.*' | tr '\n' ' '
	find "$TMPDIR" -mindepth 1 -maxdepth 1 | tr '\n' ' '
}

bad() {	# name want-regex command...
	fails_saying image "$@"
	expect_eq "image: $1 leaves nothing behind" "$(leftovers)" ""
}

# The files: an ELF kernel, a bzImage-shaped one, an initrd, an ext4
# root file system with a file in it (sparse), and things that are not.
F=$T/files
mkdir -p "$F"
chmod 0755 "$F"
mkvmlinux "$F/vmlinux"
{ head -c 514 /dev/zero; printf 'HdrS'; head -c 4096 /dev/zero; } \
    >"$F/bzImage"
head -c 4096 /dev/urandom >"$F/initrd"
: >"$F/empty"
head -c 8192 /dev/urandom >"$F/random"
truncate -s 64M "$F/rootfs.ext4"
mkfs.ext4 -q -F "$F/rootfs.ext4"
chmod 0644 "$F"/*

#
# import
#
out=$(ctl image import web --kernel "$F/vmlinux" --initrd "$F/initrd" \
    --rootfs "$F/rootfs.ext4" --boot-args "console=ttyS0 quiet" 2>&1)
expect_eq "image: import says so" "$out" "image web imported"
check "image: the imported kernel is the file given" \
    cmp "$F/vmlinux" "$IMAGES/web/vmlinux"
check "image: the imported initrd is the file given" \
    cmp "$F/initrd" "$IMAGES/web/initrd"
check "image: the imported rootfs is the file given" \
    cmp "$F/rootfs.ext4" "$IMAGES/web/rootfs.ext4"
expect_eq "image: the boot args are kept" "$(cat "$IMAGES/web/boot-args")" \
    "console=ttyS0 quiet"
alloc=$(( $(stat -c %b "$IMAGES/web/rootfs.ext4") * 512 ))
if [ "$alloc" -lt $((32 << 20)) ]; then
	pass "image: the rootfs copy stays sparse ($alloc bytes allocated)"
else
	fail "image: the rootfs copy stays sparse" "$alloc bytes allocated"
fi
expect_eq "image: the image is root's, readable by all" \
    "$(stat -c '%U %a' "$IMAGES/web" "$IMAGES/web/vmlinux" | tr '\n' ' ')" \
    "root 755 root 644 "
expect_eq "image: an import leaves no temporary directory" "$(leftovers)" ""

js=$(ctl image show --json web)
expect_eq "image: show --json gives its source, files and sizes" \
    "$(echo "$js" | jq -c '[.source, .kernel_bytes, .initrd_bytes,
	.rootfs_bytes, .boot_args, .vm_count, .vms]')" \
    "[\"imported\",$(stat -c %s "$F/vmlinux"),4096,$((64 << 20)),\"console=ttyS0 quiet\",0,[]]"
now=$(date +%s)
created=$(echo "$js" | jq .created)
if [ "$created" -le "$now" ] && [ "$created" -gt $((now - 300)) ]; then
	pass "image: show gives when it was imported"
else
	fail "image: show gives when it was imported" "$created (now $now)"
fi
expect_eq "image: ls --json lists the configured and the imported image" \
    "$(ctl image ls --json | jq -c '[.[] | [.name, .source]]')" \
    '[["default","bangerd.conf"],["web","imported"]]'
expect_match "image: ls prints a table" "$(ctl image ls | tr '\n' '|')" \
    "^NAME +SOURCE +KERNEL +ROOTFS +VMS\|default +bangerd.conf [^|]*\|web +imported [^|]* 64 MiB +0\|$"
expect_match "image: show prints the image" "$(ctl image show web | tr '\n' ' ')" \
    "source +imported.*initrd +$IMAGES/web/initrd \(4 KiB\).*boot args +console=ttyS0 quiet.*vms +none"

# A bzImage kernel, which Firecracker does not boot; and the kernel,
# initrd and boot args of another image.
bad "a bzImage kernel" \
    "^bangerctl: --kernel $F/bzImage: a bzImage, which Firecracker does not boot: give the ELF kernel \(vmlinux\) in it$" \
    ctl image import bz --kernel "$F/bzImage" --rootfs "$F/rootfs.ext4"
expect_eq "image: import --kernel-from takes another image's kernel" \
    "$(ctl image import web2 --kernel-from web --rootfs "$F/rootfs.ext4" 2>&1)" \
    "image web2 imported"
check "image: --kernel-from copies the kernel" \
    cmp "$F/vmlinux" "$IMAGES/web2/vmlinux"
check "image: --kernel-from copies the initrd" \
    cmp "$F/initrd" "$IMAGES/web2/initrd"
expect_eq "image: --kernel-from keeps the boot args" \
    "$(cat "$IMAGES/web2/boot-args")" "console=ttyS0 quiet"

# On a terminal, a progress bar; elsewhere, none.
out=$(script -qec "$BANGERCTL -s $SOCK image import tty --kernel $F/vmlinux --rootfs $F/rootfs.ext4" /dev/null | tr '\r' '\n')
expect_match "image: on a terminal, import draws a progress bar to 100%" \
    "$out" "importing tty \[#+\] 100% 64(\.[0-9])? MiB of 64(\.[0-9])? MiB"
out=$(ctl image import notty --kernel "$F/vmlinux" --rootfs "$F/rootfs.ext4" 2>&1)
expect_eq "image: not on a terminal, no progress bar" "$out" \
    "image notty imported"
ctl image rm tty >/dev/null
ctl image rm notty >/dev/null

#
# bad input
#
bad "a bad name" 'invalid image name "Bad_Name": .*a-z, 0-9' \
    ctl image import Bad_Name --kernel "$F/vmlinux" --rootfs "$F/rootfs.ext4"
bad "a missing kernel" "--kernel $T/nope: No such file or directory" \
    ctl image import x --kernel "$T/nope" --rootfs "$F/rootfs.ext4"
bad "a missing rootfs" "--rootfs $T/nope: No such file or directory" \
    ctl image import x --kernel "$F/vmlinux" --rootfs "$T/nope"
bad "no rootfs" "give a root file system: --rootfs FILE" \
    ctl image import x --kernel "$F/vmlinux"
bad "no kernel" "give a kernel: --kernel FILE or --kernel-from IMAGE" \
    ctl image import x --rootfs "$F/rootfs.ext4"
bad "a kernel that is not ELF" \
    "^bangerctl: --kernel $F/random: not a kernel: expected an ELF file \(vmlinux\)$" \
    ctl image import x --kernel "$F/random" --rootfs "$F/rootfs.ext4"
bad "a rootfs that is not ext4" \
    "^bangerctl: --rootfs $F/random: not an ext2/3/4 file system .*expected an ext4 root file system$" \
    ctl image import x --kernel "$F/vmlinux" --rootfs "$F/random"
bad "an empty initrd" "--initrd $F/empty: empty: expected an initrd" \
    ctl image import x --kernel "$F/vmlinux" --initrd "$F/empty" \
    --rootfs "$F/rootfs.ext4"
bad "a directory as rootfs" "--rootfs $F: not a regular file" \
    ctl image import x --kernel "$F/vmlinux" --rootfs "$F"
bad "--kernel-from an unknown image" "--kernel-from nope: no such image" \
    ctl image import x --kernel-from nope --rootfs "$F/rootfs.ext4"
bad "a name already imported" \
    "image web already exists; remove it first \(bangerctl image rm web\)" \
    ctl image import web --kernel "$F/vmlinux" --rootfs "$F/rootfs.ext4"
bad "the name of a configured image" \
    "image default already exists: it is declared in bangerd.conf" \
    ctl image import default --kernel "$F/vmlinux" --rootfs "$F/rootfs.ext4"
expect_eq "image: failed imports leave the store as it was" \
    "$(ls "$IMAGES" | tr '\n' ' ')" "web web2 "

#
# Boot args: all of them reach Firecracker; what it would refuse is
# refused where it is given, not when a VM starts.
#
long=$(awk 'BEGIN { s = "console=ttyS0 quiet"
	for (i = 1; length(s) < 1000; i++) s = s sprintf(" w%d=abcdefghij", i)
	print substr(s, 1, 999) "z" }')
expect_eq "image: import with 1000 bytes of boot args" \
    "$(ctl image import longargs --kernel "$F/vmlinux" \
	--rootfs "$F/rootfs.ext4" --boot-args "$long" 2>&1)" \
    "image longargs imported"
expect_eq "image: ... keeps them whole" "$(cat "$IMAGES/longargs/boot-args")" \
    "$long"
expect_eq "image: a VM from it starts" \
    "$(ctl vm create lv --image longargs --disk 128M --start 2>&1)" \
    "vm lv started"
expect_eq "image: its Firecracker gets the 1000 bytes whole, then ip=" \
    "$(jq -r 'select(.path == "/boot-source") | .body.boot_args' \
	"$STATE/jail/firecracker/$(vm_id lv)/root/run/fc-standin.requests" |
	sed 's/ ip=[0-9.]*::[0-9.]*:[0-9.]*:lv:eth0:off$//')" "$long"
ctl vm rm -f lv >/dev/null
ascii_msg="is not printable ASCII; Firecracker takes only 0x20 to 0x7e"
bad "boot args that are not ASCII" \
    "^bangerctl: --boot-args: byte 0xc3 at offset 9 $ascii_msg$" \
    ctl image import x --kernel "$F/vmlinux" --rootfs "$F/rootfs.ext4" \
    --boot-args "$(printf 'quiet caf\303\251')"
bad "boot args with a newline" \
    "^bangerctl: --boot-args: byte 0x0a at offset 5 $ascii_msg$" \
    ctl image import x --kernel "$F/vmlinux" --rootfs "$F/rootfs.ext4" \
    --boot-args "$(printf 'quiet\ninit=/bin/sh')"
bad "build with boot args that are not ASCII" \
    "^bangerctl: --boot-args: byte 0xff at offset 0 $ascii_msg$" \
    ctl image build x --from-dir "$F" --kernel "$F/vmlinux" \
    --boot-args "$(printf '\377')"
vmpid=$(worker_pid vm)
expect_eq "image: a client that is not bangerctl is refused the same" \
    "$("$HELPERS/ctl-import" "$SOCK" x "$(printf 'quiet caf\303\251')")" \
    "22 image import: boot args: byte 0xc3 at offset 9 $ascii_msg"
expect_eq "image: ... by the vm worker, which carries on" \
    "$(worker_pid vm)" "$vmpid"
# An image whose boot-args file is not what an import writes (an older
# bangerd's, or edited): no VM is made from it with other boot args.
ctl image import oldargs --kernel "$F/vmlinux" --rootfs "$F/rootfs.ext4" \
    >/dev/null
printf 'quiet caf\303\251\n' >"$IMAGES/oldargs/boot-args"
bad "create from an image whose stored boot args are not ASCII" \
    "vm ov: image oldargs: $IMAGES/oldargs/boot-args: byte 0xc3 at offset 9 $ascii_msg$" \
    ctl vm create ov --image oldargs
awk 'BEGIN { for (i = 0; i < 1500; i++) printf "x"; print "" }' \
    >"$IMAGES/oldargs/boot-args"
bad "create from an image whose stored boot args are too long" \
    "vm ov: image oldargs: $IMAGES/oldargs/boot-args: 1500 bytes, more than the 1023 boot args may have$" \
    ctl vm create ov --image oldargs
bad "--kernel-from an image whose boot args cannot be used, taking them" \
    "image oldargs: $IMAGES/oldargs/boot-args: 1500 bytes, more than" \
    ctl image import x --kernel-from oldargs --rootfs "$F/rootfs.ext4"
expect_eq "image: ... not taking them, with boot args of its own" \
    "$(ctl image import kf --kernel-from oldargs --rootfs "$F/rootfs.ext4" \
	--boot-args quiet 2>&1)" "image kf imported"
expect_eq "image: no VM was made from the unusable boot args" \
    "$(ctl vm ls --json | jq length)" 0
for i in longargs oldargs kf; do
	ctl image rm "$i" >/dev/null
done
bad "show of an unknown image" "no image nope \(bangerctl image ls lists them\)" \
    ctl image show nope
bad "rm of an unknown image" "no image nope \(bangerctl image ls lists them\)" \
    ctl image rm nope
bad "rm of a configured image" \
    "image default is declared in bangerd.conf: remove it there and reload" \
    ctl image rm default
bad "rm of a bad name" 'invalid image name "../web"' ctl image rm ../web

#
# Another user: may list and show, not import, build or remove.
#
expect_eq "image: a group member lists the images" \
    "$(user image ls --json | jq -r '.[].name' | tr '\n' ' ')" \
    "default web web2 "
expect_eq "image: a group member shows an image" \
    "$(user image show --json web | jq -r .source)" "imported"
bad "import as a group member who is not root" \
    "image import: permission denied: only root may import images \(the image store is shared by all users\)" \
    user image import x --kernel "$F/vmlinux" --rootfs "$F/rootfs.ext4"
bad "rm as a group member who is not root" \
    "image rm: permission denied: only root may remove images \(the image store is shared by all users\)" \
    user image rm web
bad "build as a group member who is not root" \
    "image build: permission denied: only root may build images" \
    env TMPDIR="$TMPDIR" setpriv --reuid=65534 --regid=65534 \
    --groups="$ctlgid" "$UBANGERCTL" -s "$SOCK" image build x \
    --from-dir "$F" --kernel "$F/vmlinux"
expect_eq "image: the refused user's image is not there" \
    "$(ls "$IMAGES" | tr '\n' ' ')" "web web2 "

#
# VMs from imported images, and rm while one uses it.
#
expect_eq "image: a VM from an imported image starts" \
    "$(ctl vm create v1 --image web --disk 128M --start 2>&1)" "vm v1 started"
id=$(vm_id v1)
req=$STATE/jail/firecracker/$id/root/run/fc-standin.requests
expect_eq "image: its Firecracker boots the image's kernel with its boot args" \
    "$(jq -r 'select(.path == "/boot-source") | .body.boot_args' "$req" |
	grep -o 'console=ttyS0 quiet' | head -1)" "console=ttyS0 quiet"
expect_eq "image: the VM is running" "$(ctl vm show --json v1 | jq -r .state)" \
    "running"
user vm create u1 --image web2 --disk 128M >/dev/null
bad "rm of an image a VM uses names the VM" \
    "^bangerctl: image web is in use by VM v1; remove it first$" \
    ctl image rm web
bad "rm of an image another user's VM uses names the VM" \
    "image web2 is in use by VM u1; remove it first" ctl image rm web2
check "image: an image in use stays" test -f "$IMAGES/web/rootfs.ext4"
expect_eq "image: show names the VMs made from it" \
    "$(ctl image show --json web | jq -c '[.vm_count, .vms]')" '[1,["v1"]]'
expect_eq "image: a user sees only the names of their own VMs" \
    "$(user image show --json web | jq -c '[.vm_count, .vms, .other_users_vms]')" \
    '[1,[],1]'
expect_match "image: show says how many VMs of others use it" \
    "$(user image show web)" "vms +1 of other users"
ctl vm rm -f v1 >/dev/null
user vm rm u1 >/dev/null
expect_eq "image: rm of an unused image" "$(ctl image rm web 2>&1)" \
    "image web removed"
expect_eq "image: rm removes its directory" \
    "$(ls "$IMAGES" | tr '\n' ' ')" "web2 "
expect_eq "image: rm leaves no temporary directory" "$(leftovers)" ""

#
# build
#
D=$T/tree
mkdir -p "$D/etc" "$D/root" "$D/usr/bin"
echo hello >"$D/etc/motd"
echo secret >"$D/root/key"
printf '#!/bin/sh\n' >"$D/usr/bin/tool"
ln -s ../etc/motd "$D/usr/motd-link"
chown 1234:5678 "$D/etc/motd"
chmod 0640 "$D/etc/motd"
chmod 0700 "$D/root"
chmod 0600 "$D/root/key"
chmod 4755 "$D/usr/bin/tool"
tar --numeric-owner -C "$D" -cf "$T/tree.tar" .
chown 4321:8765 "$D/root/key"	# the tar keeps root's

# stat of one file in an image's rootfs: "uid gid mode"
fsstat() {
	debugfs -R "stat $2" "$IMAGES/$1/rootfs.ext4" 2>/dev/null | awk '
	    /^Inode:/ { for (i = 1; i <= NF; i++) if ($i == "Mode:") m = $(i+1) }
	    /^User:/ { u = $2; g = $4 }
	    END { print u, g, m }'
}
fscat() { debugfs -R "cat $2" "$IMAGES/$1/rootfs.ext4" 2>/dev/null; }

expect_eq "image: build from a directory" \
    "$(ctl image build fromdir --from-dir "$D" --kernel "$F/vmlinux" \
	--boot-args "console=ttyS0" 2>&1)" "image fromdir imported"
expect_eq "image: build keeps a file's owner and mode" \
    "$(fsstat fromdir /etc/motd)" "1234 5678 0640"
expect_eq "image: build keeps another's" "$(fsstat fromdir /root/key)" \
    "4321 8765 0600"
expect_eq "image: build keeps a directory's mode" \
    "$(fsstat fromdir /root)" "0 0 0700"
expect_eq "image: build keeps a setuid mode" \
    "$(fsstat fromdir /usr/bin/tool)" "0 0 04755"
expect_eq "image: build keeps file contents" "$(fscat fromdir /etc/motd)" \
    "hello"
expect_match "image: build keeps symbolic links" \
    "$(debugfs -R 'stat /usr/motd-link' "$IMAGES/fromdir/rootfs.ext4" 2>/dev/null)" \
    'Fast link dest: "../etc/motd"'
check "image: the built rootfs is clean (e2fsck -fn)" \
    e2fsck -fn "$IMAGES/fromdir/rootfs.ext4"
expect_eq "image: build leaves no temporary files" "$(leftovers)" ""

expect_eq "image: build from a tarball" \
    "$(ctl image build fromtar --from-tar "$T/tree.tar" --kernel-from fromdir \
	--size 32M 2>&1)" "image fromtar imported"
expect_eq "image: build from a tarball keeps owners and modes" \
    "$(fsstat fromtar /etc/motd) / $(fsstat fromtar /root/key)" \
    "1234 5678 0640 / 0 0 0600"
expect_eq "image: --size gives the rootfs size" \
    "$(stat -c %s "$IMAGES/fromtar/rootfs.ext4")" $((32 << 20))
expect_eq "image: --kernel-from gives a build the kernel and boot args" \
    "$(ctl image show --json fromtar | jq -r .boot_args)" "console=ttyS0"
check "image: the rootfs built from a tarball is clean (e2fsck -fn)" \
    e2fsck -fn "$IMAGES/fromtar/rootfs.ext4"
expect_eq "image: build from a tarball leaves no temporary files" \
    "$(leftovers)" ""
expect_eq "image: a VM from a built image starts" \
    "$(ctl vm create v2 --image fromtar --start 2>&1)" "vm v2 started"
ctl vm rm -f v2 >/dev/null

head -c 20M /dev/urandom >"$D/big"
bad "build with a --size below 16 MiB" \
    "--size 1 MiB: give a multiple of 4K from 16M to 1T" \
    ctl image build small --from-dir "$D" --kernel "$F/vmlinux" --size 1M
bad "build with a --size the content does not fit" \
    'layer 1: layer entry "(\./)?big": .*Could not allocate block.*: the root file system of 16 MiB is full: give a larger --size' \
    ctl image build small --from-dir "$D" --kernel "$F/vmlinux" --size 16M
bad "build from a tarball that is not one" \
    "layer 1: the layer is not a tar stream \(plain, gzip or zstd\)" \
    ctl image build badtar --from-tar "$F/random" --kernel "$F/vmlinux"
bad "build from a missing directory" "--from-dir $T/nope: No such file or directory" \
    ctl image build x --from-dir "$T/nope" --kernel "$F/vmlinux"
bad "build from both a directory and a tarball" \
    "give what to build from: --from-dir DIR or --from-tar TAR \(one of them\)" \
    ctl image build x --from-dir "$D" --from-tar "$T/tree.tar" --kernel "$F/vmlinux"
bad "build with a bad --size" 'invalid --size size "lots"' \
    ctl image build x --from-dir "$D" --kernel "$F/vmlinux" --size lots
bad "build of a name in use" "image fromdir already exists" \
    ctl image build fromdir --from-dir "$D" --kernel "$F/vmlinux"

#
# A client that goes mid-import takes the import with it.
#
{ cat "$F/rootfs.ext4"; yes | head -c 1G; } >"$T/big.ext4"
"$BANGERCTL" -s "$SOCK" image import big --kernel "$F/vmlinux" \
    --rootfs "$T/big.ext4" >/dev/null 2>&1 &
cpid=$!
copying() { find "$IMAGES" -path "*/.big.*/rootfs.ext4" | grep -q .; }
if wait_for 20 copying; then
	kill -KILL "$cpid"
	wait "$cpid" 2>/dev/null
	no_leftovers() { [ -z "$(leftovers)" ]; }
	if wait_for 20 no_leftovers; then
		pass "image: an import whose client went leaves no temporary directory"
	else
		fail "image: an import whose client went leaves no temporary directory" \
		    "$(leftovers)"
	fi
	if [ -d "$IMAGES/big" ]; then
		skip "image: an import whose client went is not kept" \
		    "the copy ended before the client was killed"
	else
		pass "image: an import whose client went is not kept"
	fi
	ctl image rm big >/dev/null 2>&1
else
	wait "$cpid"
	fail "image: a big import starts copying" "no $IMAGES/.big.*/rootfs.ext4"
fi
rm -f "$T/big.ext4"

#
# A temporary directory an interrupted import left is removed at start.
#
mkdir "$IMAGES/.lost.Ab12Cd"
touch "$IMAGES/.lost.Ab12Cd/rootfs.ext4"
daemon_stop
if daemon_start; then
	expect_eq "image: bangerd removes what an unfinished import left" \
	    "$(leftovers)" ""
	expect_eq "image: imported images survive a restart" \
	    "$(ctl image ls --json | jq -r '.[].name' | tr '\n' ' ')" \
	    "default fromdir fromtar web2 "
else
	fail "image: bangerd restarts" "$(tail -5 "$DLOG")"
fi

t_done

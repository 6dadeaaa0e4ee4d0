# The parent's storage operations (bangerd/parent/loop.c, snap.c and
# storage.c) through $HELPERS/storage-drive: loop devices, reflinks on
# xfs, sparse copies on ext4 and tmpfs, disk files, and device-mapper
# snapshots where the kernel has device-mapper.  Runs in a private mount
# namespace; leaves no loop device, mount or file behind.
. "$TOP/regress/lib/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "storage" "needs root for loop devices, mounts and device-mapper"
	t_done
fi
D=${HELPERS:?HELPERS must name the helpers directory}/storage-drive
if [ ! -x "$D" ]; then
	fail "storage" "no $D"
	t_done
fi
if [ -z "${BANGER_STORAGE_NS:-}" ]; then
	if ! unshare -m --propagation private true 2>/dev/null; then
		skip "storage" \
		    "cannot make a private mount namespace (unshare -m)"
		t_done
	fi
	BANGER_STORAGE_NS=1 exec unshare -m --propagation private \
	    bash "$0" "$@"
fi
T=$(mktemp -d /tmp/banger-storage.XXXXXX)
ATTACHED=""		# loop devices this script attached, to detach
MB=1048576
VMID=$(printf '%04x%04x' $(( $$ & 0xffff )) $(( RANDOM & 0xffff )))

loops_ours() { losetup -l -n -O NAME,BACK-FILE 2>/dev/null | grep -F "$T/" ; }
loops_all() { losetup -l -n -O NAME,BACK-FILE 2>/dev/null | sort; }
mounts_ours() { grep -F " $T/" /proc/self/mountinfo; }
# dm_left: how many of this test's dm devices there are.
dm_left() {
	local f n=0
	for f in /dev/mapper/fc-rootfs-"$VMID"*; do
		[ -e "$f" ] && n=$((n + 1))
	done
	echo $n
}

cleanup() {
	local d m
	if [ -n "${DM:-}" ]; then
		"$D" snap-remove "$VMID" >/dev/null 2>&1
	fi
	for m in $(mounts_ours | awk '{ print $5 }' | sort -r); do
		umount "$m" 2>/dev/null
	done
	for d in $ATTACHED; do
		"$D" detach "$d" >/dev/null 2>&1
	done
	rm -rf "$T"
}
trap cleanup EXIT

LOOPS_BEFORE=$(loops_all)

# attach FILE ro|rw: attach, remember, and print the device.
attach() {
	local dev
	dev=$("$D" attach "$1" "$2" 2>>"$T/log") || return 1
	ATTACHED="$ATTACHED $dev"
	echo "$dev"
}

# detached DEV: the device has no backing file.
detached() { [ ! -e "/sys/block/${1#/dev/}/loop/backing_file" ]; }

# after NAME: nothing of ours left attached or mounted.
after() {
	expect_eq "$1: no loop device left" "$(loops_ours)" ""
	expect_eq "$1: no mount left" "$(mounts_ours)" ""
}

blocks() { stat -c %b "$1"; }
size() { stat -c %s "$1"; }

# random FILE OFFSET-MB COUNT-MB: random data into FILE.
random() {
	dd if=/dev/urandom of="$1" bs=$MB seek="$2" count="$3" conv=notrunc \
	    status=none
}

# -- loop devices -----------------------------------------------------

IMG=$T/loop.img
truncate -s 8M "$IMG"
random "$IMG" 0 1
if DEV=$(attach "$IMG" ro); then
	pass "loop: attach read-only"
	expect_match "loop: attach prints /dev/loopN" "$DEV" '^/dev/loop[0-9]+$'
	expect_eq "loop: read-only in /sys" \
	    "$(cat /sys/block/"${DEV#/dev/}"/ro)" 1
	expect_eq "loop: losetup shows ro=1 and the backing file" \
	    "$(losetup -l -n -O RO,BACK-FILE "$DEV" | tr -s ' ' |
	    sed 's/^ //')" \
	    "1 $IMG"
	expect_eq "loop: no autoclear on attach" \
	    "$(cat /sys/block/"${DEV#/dev/}"/loop/autoclear)" 0
	check "loop: reads the image" cmp -n $MB "$DEV" "$IMG"
	out=$(dd if=/dev/zero of="$DEV" bs=4096 count=1 conv=notrunc,fsync \
	    2>&1)
	expect_match "loop: write to a read-only device fails" "$out" \
	    'Operation not permitted|Read-only file system'
	check "loop: image unchanged" cmp -n $MB "$DEV" "$IMG"
	got=$("$D" backing "$DEV" 2>>"$T/log" | tr '\n' ' ')
	expect_eq "loop: backing file, st_dev, st_ino" "$got" \
	    "$IMG $(stat -c '%d %i' "$IMG") "
	check "loop: detach" "$D" detach "$DEV"
	if detached "$DEV"; then
		pass "loop: detached"
	else
		fail "loop: detached" "$DEV still has a backing file"
	fi
	check "loop: detach twice" "$D" detach "$DEV"
	out=$("$D" backing "$DEV" 2>&1)
	expect_match "loop: backing of a detached device is ENXIO" "$out" \
	    'No such device or address'
else
	fail "loop: attach read-only" "$(tail -3 "$T/log")"
fi

# A mark, in lo_file_name from the attach on: what loop_mark reads.
if DEV=$("$D" attach "$IMG" ro "banger 0bad00aa 801:1234" 2>>"$T/log"); then
	ATTACHED="$ATTACHED $DEV"
	expect_eq "loop: a device attached with a mark carries it" \
	    "$("$D" mark "$DEV" 2>>"$T/log")" "banger 0bad00aa 801:1234"
	"$D" detach "$DEV" 2>>"$T/log"
else
	fail "loop: attach with a mark" "$(tail -3 "$T/log")"
fi
expect_eq "loop: one without a mark has none" \
    "$(DEV=$(attach "$IMG" ro) && "$D" mark "$DEV"; "$D" detach "$DEV")" ""
out=$("$D" attach "$IMG" ro "$(printf 'x%.0s' $(seq 1 64))" 2>&1)
expect_match "loop: a mark longer than lo_file_name is refused" "$out" \
    'mark "x+" is too long'

if DEV=$(attach "$IMG" rw); then
	pass "loop: attach read-write"
	expect_eq "loop: read-write in /sys" \
	    "$(cat /sys/block/"${DEV#/dev/}"/ro)" 0
	random "$T/pattern" 0 1
	dd if="$T/pattern" of="$DEV" bs=$MB seek=2 conv=notrunc,fsync \
	    status=none
	check "loop: write through the device reaches the file" \
	    cmp -n $MB -i 0:$((2 * MB)) "$T/pattern" "$IMG"
	check "loop: detach read-write" "$D" detach "$DEV"
	check "loop: detach read-write twice" "$D" detach "$DEV"
else
	fail "loop: attach read-write" "$(tail -3 "$T/log")"
fi

for bad in /dev/sda1 /dev/loop-control ../ /dev/loop01 /dev/loop \
    /dev/loop0/../sda /dev/loop1048576 loop0 ""; do
	out=$("$D" detach "$bad" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q refused; then
		pass "loop: detach '$bad' refused"
	else
		fail "loop: detach '$bad' refused" "rc $rc: $out"
	fi
done
check "loop: detach of a device with no node succeeds" \
    "$D" detach /dev/loop1048575
FREE=$(losetup -f)
check "loop: detach of a free device succeeds" "$D" detach "$FREE"

# A device still open elsewhere detaches on its last close.
if DEV=$(attach "$IMG" ro); then
	exec 7<"$DEV"
	check "loop: detach of a busy device succeeds" "$D" detach "$DEV"
	expect_eq "loop: busy device marked autoclear" \
	    "$(cat /sys/block/"${DEV#/dev/}"/loop/autoclear 2>/dev/null)" 1
	if ! detached "$DEV"; then
		pass "loop: busy device still attached"
	else
		fail "loop: busy device still attached" "detached at once"
	fi
	exec 7<&-
	if wait_for 5 detached "$DEV"; then
		pass "loop: busy device detached on its last close"
	else
		fail "loop: busy device detached on its last close" \
		    "$(losetup -l "$DEV")"
	fi
else
	fail "loop: attach for autoclear" "$(tail -3 "$T/log")"
fi

# Racing attaches each get their own device.
for i in 1 2 3 4 5 6 7 8; do
	"$D" attach "$IMG" ro >"$T/race.$i" 2>>"$T/log" &
done
wait
RACE=$(cat "$T"/race.* | sort -u)
ATTACHED="$ATTACHED $RACE"
expect_eq "loop: 8 racing attaches, 8 devices" \
    "$(printf '%s\n' "$RACE" | grep -c '^/dev/loop')" 8
for d in $RACE; do
	"$D" detach "$d" 2>>"$T/log" || fail "loop: detach $d" "failed"
done
rm -f "$T"/race.*
after "loop"

# -- reflink on xfs ---------------------------------------------------

X=$T/xfs
mkdir "$X"
truncate -s 300M "$T/xfs.img"
if ! mkfs.xfs -q -m reflink=1 "$T/xfs.img" >"$T/log" 2>&1 ||
    ! mount -o loop "$T/xfs.img" "$X" 2>>"$T/log"; then
	fail "reflink: xfs mounts" "$(tail -3 "$T/log")"
else
	pass "reflink: xfs mounts"
	truncate -s 32M "$X/src"
	random "$X/src" 0 32
	sync -f "$X/src"
	SUM=$(sha256sum <"$X/src")
	used0=$(df --output=used -B1 "$X" | tail -1)
	check "reflink: FICLONE on xfs" "$D" reflink "$X/src" "$X/dst"
	sync -f "$X/dst"
	used1=$(df --output=used -B1 "$X" | tail -1)
	check "reflink: copy equals source" cmp "$X/src" "$X/dst"
	if [ $((used1 - used0)) -lt $((4 * MB)) ]; then
		pass "reflink: no new space used"
	else
		fail "reflink: no new space used" \
		    "$((used1 - used0)) bytes more used"
	fi
	expect_match "reflink: extents shared (filefrag)" \
	    "$(filefrag -v "$X/dst")" 'shared'
	dd if=/dev/zero of="$X/dst" bs=$MB count=1 conv=notrunc,fsync \
	    status=none
	expect_eq "reflink: writing the copy leaves the source" \
	    "$(sha256sum <"$X/src")" "$SUM"
	if ! cmp -s "$X/src" "$X/dst"; then
		pass "reflink: the copy changed"
	else
		fail "reflink: the copy changed" "still equal"
	fi

	S=$X/state
	mkdir -m 0755 "$S"
	got=$("$D" create "$S" "$VMID" "$X/src" reflink 0 2>>"$T/log")
	expect_eq "reflink: disk_create reflink on xfs" "$got" reflink
	DISK=$S/disks/$VMID.ext4
	check "reflink: disk equals image" cmp "$X/src" "$DISK"
	expect_eq "reflink: disk root-owned 0600" \
	    "$(stat -c '%u %a' "$DISK")" "0 600"
	expect_eq "reflink: disks dir root-owned 0700" \
	    "$(stat -c '%u %a' "$S/disks")" "0 700"
	expect_eq "reflink: disk_create twice keeps the disk" \
	    "$("$D" create "$S" "$VMID" "$X/src" reflink 0 2>>"$T/log")" \
	    existing
	got=$("$D" open "$S" "$VMID" 2>>"$T/log" | tr '\n' ' ')
	expect_eq "reflink: disk_open read-write, close-on-exec" "$got" \
	    "$DISK rdwr cloexec "
	check "reflink: disk_remove" "$D" remove "$S" "$VMID"
	check "reflink: disk_remove twice" "$D" remove "$S" "$VMID"
	expect_eq "reflink: nothing left" "$(ls -A "$S/disks")" ""
	got=$("$D" create "$S" "$VMID" "$X/src" auto $((64 * MB)) \
	    2>>"$T/log")
	expect_eq "reflink: auto reflinks on xfs" "$got" reflink
	expect_eq "reflink: grown to 64M" "$(size "$DISK")" $((64 * MB))
	check "reflink: grown disk starts with the image" \
	    cmp -n $((32 * MB)) "$X/src" "$DISK"
	check "reflink: remove grown disk" "$D" remove "$S" "$VMID"
	umount "$X"
fi
after "reflink"

# -- no reflink: ext4 and tmpfs; sparse copies ------------------------

E=$T/ext4
mkdir "$E"
truncate -s 128M "$T/ext4.img"
if ! mkfs.ext4 -q -F "$T/ext4.img" >"$T/log" 2>&1 ||
    ! mount -o loop "$T/ext4.img" "$E" 2>>"$T/log"; then
	fail "copy: ext4 mounts" "$(tail -3 "$T/log")"
fi
TM=$T/tmpfs
mkdir "$TM"
mount -t tmpfs -o size=128M,mode=0755 tmpfs "$TM" ||
    fail "copy: tmpfs mounts" "mount failed"

for fs in ext4 tmpfs; do
	[ $fs = ext4 ] && F=$E || F=$TM
	mountpoint -q "$F" || continue
	# A mostly-hole image: 1M at 0, 1M at 20M, 4K at its end, and a
	# written but all-zero 1M at 40M.
	truncate -s 64M "$F/src"
	random "$F/src" 0 1
	random "$F/src" 20 1
	dd if=/dev/urandom of="$F/src" bs=4096 seek=$((64 * 256 - 1)) \
	    count=1 conv=notrunc status=none
	dd if=/dev/zero of="$F/src" bs=$MB seek=40 count=1 conv=notrunc \
	    status=none
	sync -f "$F/src"

	out=$("$D" reflink "$F/src" "$F/dst" 2>&1)
	rc=$?
	if [ $rc -eq 3 ] && printf '%s' "$out" | grep -q 'no reflink'; then
		pass "copy: $fs: reflink fails with no reflink"
	else
		fail "copy: $fs: reflink fails with no reflink" "rc $rc: $out"
	fi
	printf 'stale' >"$F/dst"
	truncate -s 80M "$F/dst"
	random "$F/dst" 30 1
	check "copy: $fs: sparse copy" "$D" copy "$F/src" "$F/dst"
	check "copy: $fs: content equal" cmp "$F/src" "$F/dst"
	expect_eq "copy: $fs: size equal" "$(size "$F/dst")" \
	    "$(size "$F/src")"
	b=$(( $(blocks "$F/dst") * 512 ))
	if [ $b -le $((3 * MB)) ]; then
		pass "copy: $fs: holes kept ($b bytes on disk of 64M)"
	else
		fail "copy: $fs: holes kept" "$b bytes allocated"
	fi
	if [ "$(blocks "$F/dst")" -le "$(blocks "$F/src")" ]; then
		pass "copy: $fs: no more blocks than the source"
	else
		fail "copy: $fs: no more blocks than the source" \
		    "$(blocks "$F/dst") > $(blocks "$F/src")"
	fi
	# From a block device (a device-mapper disk's snapshot copies
	# one): all of it is read, zero blocks are not written.
	if BDEV=$(losetup -r -f --show "$F/src"); then
		check "copy: $fs: sparse copy from a block device" \
		    "$D" copy "$BDEV" "$F/dst2"
		check "copy: $fs: ...content equal" cmp "$F/src" "$F/dst2"
		b=$(( $(blocks "$F/dst2") * 512 ))
		if [ $b -le $((3 * MB)) ]; then
			pass "copy: $fs: ...zero blocks left holes ($b bytes on disk of 64M)"
		else
			fail "copy: $fs: ...zero blocks left holes" "$b bytes allocated"
		fi
		losetup -d "$BDEV"
		rm -f "$F/dst2"
	else
		fail "copy: $fs: a loop device on the source" "losetup"
	fi

	S=$F/state
	mkdir -m 0755 "$S"
	out=$("$D" create "$S" "$VMID" "$F/src" reflink 0 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q 'no reflink'; then
		pass "copy: $fs: disk_create reflink-only fails clearly"
	else
		fail "copy: $fs: disk_create reflink-only fails clearly" \
		    "rc $rc: $out"
	fi
	expect_eq "copy: $fs: failed create leaves nothing" \
	    "$(ls -A "$S/disks" 2>/dev/null)" ""
	got=$("$D" create "$S" "$VMID" "$F/src" auto 0 2>>"$T/log")
	expect_eq "copy: $fs: auto falls back to copy" "$got" copy
	check "copy: $fs: disk equals image" cmp "$F/src" \
	    "$S/disks/$VMID.ext4"
	got=$("$D" create "$S" "$VMID" "$F/src" copy 0 2>>"$T/log")
	expect_eq "copy: $fs: create twice" "$got" existing
	check "copy: $fs: disk_remove" "$D" remove "$S" "$VMID"
	got=$("$D" create "$S" "$VMID" "$F/src" copy 0 2>>"$T/log")
	expect_eq "copy: $fs: copy backend" "$got" copy
	check "copy: $fs: disk_remove again" "$D" remove "$S" "$VMID"
	expect_eq "copy: $fs: nothing left" "$(ls -A "$S/disks")" ""
	rm -rf "$F/src" "$F/dst" "$S"
done

# -- grow -------------------------------------------------------------

G=$T/grow
truncate -s 1M "$G"
random "$G" 0 1
cp "$G" "$T/grow.orig"
check "grow: 1M to 4M" "$D" grow "$G" $((4 * MB))
expect_eq "grow: size 4M" "$(size "$G")" $((4 * MB))
check "grow: content kept" cmp -n $MB "$G" "$T/grow.orig"
check "grow: to the same size" "$D" grow "$G" $((4 * MB))
out=$("$D" grow "$G" $((MB / 2)) 2>&1)
rc=$?
if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q "$((4 * MB)).*$((MB / 2))"
then
	pass "grow: shrink refused, naming both sizes"
else
	fail "grow: shrink refused, naming both sizes" "rc $rc: $out"
fi
expect_eq "grow: size unchanged after refusal" "$(size "$G")" $((4 * MB))
if ! "$D" grow "$G" $((4 * MB + 1)) 2>/dev/null; then
	pass "grow: part of a sector refused"
else
	fail "grow: part of a sector refused" "grew"
fi

# -- disk_create failures and refusals --------------------------------

SMALL=$T/small
mkdir "$SMALL"
if mount -t tmpfs -o size=2M,mode=0755 tmpfs "$SMALL"; then
	S=$SMALL/state
	mkdir -m 0755 "$S"
	IMG8=$T/img8
	truncate -s 8M "$IMG8"
	random "$IMG8" 0 8
	for b in copy auto; do
		out=$("$D" create "$S" "$VMID" "$IMG8" $b 0 2>&1)
		rc=$?
		if [ $rc -ne 0 ] && printf '%s' "$out" |
		    grep -q 'No space left'; then
			pass "create: $b: full file system fails"
		else
			fail "create: $b: full file system fails" "rc $rc: $out"
		fi
		expect_eq "create: $b: full file system leaves nothing" \
		    "$(ls -A "$S/disks")" ""
	done
	out=$("$D" open "$S" "$VMID" 2>&1)
	expect_match "create: disk_open of no disk fails" "$out" 'none'
	umount "$SMALL"
	rm -f "$IMG8"
else
	fail "create: small tmpfs mounts" "mount failed"
fi

S=$T/state
mkdir -m 0755 "$S"
truncate -s 4M "$T/img4"
random "$T/img4" 0 1
out=$("$D" create "$S" "$VMID" "$T/img4" copy $MB 2>&1)
expect_match "create: size under the image's refused, naming both" \
    "$out" "$MB bytes is smaller than .* $((4 * MB)) bytes"
for bad in 0123ABCD 0123abc 0123abcde ../../x "" 0123abc/; do
	out=$("$D" create "$S" "$bad" "$T/img4" copy 0 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q refused; then
		pass "create: vm id '$bad' refused"
	else
		fail "create: vm id '$bad' refused" "rc $rc: $out"
	fi
	out=$("$D" remove "$S" "$bad" 2>&1)
	expect_match "remove: vm id '$bad' refused" "$out" refused
done
ln -s "$S" "$T/statelink"
out=$("$D" create "$T/statelink" "$VMID" "$T/img4" copy 0 2>&1)
expect_match "create: state directory through a symlink refused" "$out" \
    'refused: base has a symlink'
mkdir -p "$T/other"
ln -s "$T/other" "$S/disks"
out=$("$D" create "$S" "$VMID" "$T/img4" copy 0 2>&1)
expect_match "create: disks dir as a symlink refused" "$out" \
    'refused: path has a symlink'
expect_eq "create: nothing written through the symlink" \
    "$(ls -A "$T/other")" ""
rm -f "$S/disks"
out=$("$D" create "$S" "$VMID" "$T/img4" dm 0 2>&1)
expect_match "create: dm backend makes no disk file" "$out" \
    'backend 1 makes no disk file'
check "remove: no disks dir is success" "$D" remove "$S" "$VMID"

# The dm backend's store: sparse, sized for the disk, kept.
check "cow: create" "$D" cow "$S" "$VMID" $((64 * MB))
COW=$S/disks/$VMID.cow
expect_eq "cow: sized by snap_cow_bytes" "$(size "$COW")" \
    "$("$D" cow-bytes $((64 * MB)))"
expect_eq "cow: sparse" "$(blocks "$COW")" 0
expect_eq "cow: root-owned 0600" "$(stat -c '%u %a' "$COW")" "0 600"
check "cow: twice" "$D" cow "$S" "$VMID" $((64 * MB))
check "cow: larger grows it" "$D" cow "$S" "$VMID" $((128 * MB))
expect_eq "cow: grown" "$(size "$COW")" \
    "$("$D" cow-bytes $((128 * MB)))"
check "cow: disk_remove removes it" "$D" remove "$S" "$VMID"
expect_eq "cow: nothing left" "$(ls -A "$S/disks")" ""
expect_eq "cow: bytes for 0" "$("$D" cow-bytes 0)" 8192
expect_eq "cow: bytes for 1M" "$("$D" cow-bytes $MB)" $(( 258 * 4096 ))
expect_eq "cow: bytes for 1M+1" "$("$D" cow-bytes $((MB + 1)))" \
    $(( 260 * 4096 ))
rm -rf "$S" "$T/img4" "$T/other" "$T/statelink"

# -- device-mapper ----------------------------------------------------

DMTESTS="create read-through write-to-store image-unchanged twice open
persistent remove remove-twice larger larger-zeroes larger-remove
refuse-rw-origin refuse-small-store partial-base"
if "$D" has-dm >/dev/null 2>&1; then
	DM=1
else
	for t in $DMTESTS; do
		skip "dm: $t" \
		    "kernel has no device-mapper (/proc/misc lists none)"
	done
fi

if [ -n "${DM:-}" ]; then
	S=$TM/dmstate
	mkdir -m 0755 "$S"
	MAP=/dev/mapper/fc-rootfs-$VMID
	truncate -s 16M "$T/dm.img"
	random "$T/dm.img" 0 16
	SUM=$(sha256sum <"$T/dm.img")
	ODEV=$(attach "$T/dm.img" ro)
	"$D" cow "$S" "$VMID" $((32 * MB)) 2>>"$T/log"
	CDEV=$(attach "$S/disks/$VMID.cow" rw)
	RWDEV=$(attach "$T/dm.img" rw)

	check "dm: create" "$D" snap-create "$VMID" "$ODEV" "$CDEV" 0
	check "dm: read-through" cmp "$MAP" "$T/dm.img"
	random "$T/dmpat" 0 1
	dd if="$T/dmpat" of="$MAP" bs=$MB seek=3 conv=notrunc,fsync \
	    oflag=direct status=none
	check "dm: write-to-store" cmp -n $MB -i $((3 * MB)):0 "$MAP" \
	    "$T/dmpat"
	expect_eq "dm: image-unchanged" "$(sha256sum <"$T/dm.img")" "$SUM"
	check "dm: twice" "$D" snap-create "$VMID" "$ODEV" "$CDEV" 0
	got=$("$D" open "$S" "$VMID" 2>>"$T/log" | tr '\n' ' ')
	expect_match "dm: open" "$got" \
	    "^(/dev/mapper/fc-rootfs-$VMID|/dev/dm-[0-9]+) rdwr cloexec $"
	"$D" snap-remove "$VMID" 2>>"$T/log"
	"$D" snap-create "$VMID" "$ODEV" "$CDEV" 0 2>>"$T/log"
	check "dm: persistent" cmp -n $MB -i $((3 * MB)):0 "$MAP" "$T/dmpat"
	check "dm: remove" "$D" snap-remove "$VMID"
	if [ ! -e "$MAP" ] && ! dmsetup info "fc-rootfs-$VMID" \
	    >/dev/null 2>&1; then
		pass "dm: remove-twice (device gone)"
	else
		fail "dm: remove-twice (device gone)" "$MAP still there"
	fi
	check "dm: remove-twice" "$D" snap-remove "$VMID"

	# A fresh store: the old one holds the writes above.
	{
		"$D" detach "$CDEV"
		"$D" remove "$S" "$VMID"
		"$D" cow "$S" "$VMID" $((32 * MB))
	} 2>>"$T/log"
	CDEV=$(attach "$S/disks/$VMID.cow" rw)
	check "dm: larger" "$D" snap-create "$VMID" "$ODEV" "$CDEV" \
	    $((32 * MB))
	expect_eq "dm: larger (size)" "$(blockdev --getsize64 "$MAP")" \
	    $((32 * MB))
	check "dm: larger-zeroes (image part)" cmp -n $((16 * MB)) "$MAP" \
	    "$T/dm.img"
	check "dm: larger-zeroes" cmp -n $((16 * MB)) -i $((16 * MB)):0 \
	    "$MAP" /dev/zero
	check "dm: larger-remove" "$D" snap-remove "$VMID"
	if [ ! -e "$MAP" ] && [ ! -e "$MAP-base" ]; then
		pass "dm: larger-remove (base gone too)"
	else
		fail "dm: larger-remove (base gone too)" "$(ls /dev/mapper)"
	fi

	out=$("$D" snap-create "$VMID" "$RWDEV" "$CDEV" 0 2>&1)
	expect_match "dm: refuse-rw-origin" "$out" 'is not read-only'
	out=$("$D" snap-create "$VMID" "$ODEV" "$CDEV" $((1024 * MB)) 2>&1)
	expect_match "dm: refuse-small-store" "$out" 'needs'
	expect_eq "dm: refusals leave nothing" "$(dm_left)" 0

	# What a create that failed after its base leaves behind.
	if command -v dmsetup >/dev/null 2>&1 &&
	    dmsetup create --noudevsync "fc-rootfs-$VMID-base" \
	    -u "BANGER-fc-rootfs-$VMID-base" --readonly \
	    --table "0 $((16 * MB / 512)) linear $ODEV 0" 2>>"$T/log"; then
		check "dm: partial-base (remove)" "$D" snap-remove "$VMID"
		dmsetup create --noudevsync "fc-rootfs-$VMID-base" \
		    -u "BANGER-fc-rootfs-$VMID-base" --readonly \
		    --table "0 $((16 * MB / 512)) linear $ODEV 0" 2>>"$T/log"
		check "dm: partial-base (create over it)" \
		    "$D" snap-create "$VMID" "$ODEV" "$CDEV" 0
		check "dm: partial-base" "$D" snap-remove "$VMID"
	else
		skip "dm: partial-base" "dmsetup cannot make a base by hand"
	fi
	expect_eq "dm: nothing left" "$(dm_left)" 0
	for d in $ODEV $CDEV $RWDEV; do
		"$D" detach "$d" 2>>"$T/log"
	done
	rm -rf "$S" "$T/dm.img" "$T/dmpat"
fi

# -- the e2fsck child's seccomp filter ---------------------------------

truncate -s 32M "$T/fsck.img"
mkfs.ext4 -q -F "$T/fsck.img"
expect_match "fsck filter: e2fsck -p runs under it" \
    "$("$D" fsck-filter /sbin/e2fsck -p "$T/fsck.img" 2>&1 |
    tr '\n' ' '; echo "rc=${PIPESTATUS[0]}")" ": clean, .* rc=0$"
expect_match "fsck filter: e2fsck -fn (every pass) runs under it" \
    "$("$D" fsck-filter /sbin/e2fsck -fn "$T/fsck.img" 2>&1 |
    tr '\n' ' '; echo "rc=${PIPESTATUS[0]}")" "Pass 5: .* rc=0$"
expect_match "fsck filter: it is a seccomp filter, with no_new_privs" \
    "$("$D" fsck-filter grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status |
    tr -s '\t\n' '  ')" "^NoNewPrivs: 1 Seccomp: 2 $"
expect_match "fsck filter: no socket" \
    "$("$D" fsck-filter /bin/bash -c 'exec 3<>/dev/udp/127.0.0.1/9' 2>&1)" \
    "Operation not permitted"
expect_match "fsck filter: no new process" \
    "$("$D" fsck-filter sh -c '/bin/true && echo forked' 2>&1)" \
    "^sh: 1: Cannot fork$"
expect_match "fsck filter: no namespace" \
    "$("$D" fsck-filter unshare -n true 2>&1)" "Operation not permitted"
rm -f "$T/fsck.img"

# -- the end ----------------------------------------------------------

for m in $(mounts_ours | awk '{ print $5 }' | sort -r); do
	umount "$m"
done
after "storage"
# Every device there before is still there: nothing of others' detached.
missing=$(printf '%s\n' "$LOOPS_BEFORE" | grep -vxF -f <(loops_all) |
    grep -v '^$')
expect_eq "storage: loop devices of others untouched" "$missing" ""
t_done

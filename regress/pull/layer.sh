#!/bin/bash
# layer.sh: OCI layers (bangerd/pull/layer.c through
# $HELPERS/layer-drive) written into fresh ext4 images made here with
# mke2fs; the layers made with python3's tarfile (GNU tar for sparse
# files, zstd(1) for zstd), plain, gzip and zstd.  Checked with debugfs
# and e2fsck -fn: files, directories, links, devices and extended
# attributes as the layers say, whiteouts and opaque directories, things
# replaced across layers, the space a removed tree held given back, the
# same on ext4 without extents, with inline data and with 1 KiB blocks,
# bad names and limits refused, the sandboxed run, and no leak under
# valgrind.
#
# Needs no root.  Skips only when e2fsprogs, python3, GNU tar or zstd
# are missing (scripts/deps.sh installs them).  HELPERS unset:
# layer-drive is built here.  LAYER_KEEP=1 keeps the temporary
# directory.

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=regress/lib/lib.sh
. "$TOP/regress/lib/lib.sh"

PATH=$PATH:/usr/sbin:/sbin
for tool in mke2fs debugfs e2fsck dumpe2fs python3 tar zstd gzip md5sum \
    timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		skip "layer" "no $tool (e2fsprogs, python3, tar, zstd)"
		t_done
	fi
done

T=$(mktemp -d /tmp/banger-layer.XXXXXX) || exit 1
# shellcheck disable=SC2317
cleanup() {
	if [ -n "${LAYER_KEEP:-}" ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

if [ -n "${HELPERS:-}" ]; then
	D=$HELPERS/layer-drive
else
	# Run by hand: the helper built as make check builds it.
	D=$TOP/obj/regress/helpers/layer-drive
	if ! make -s -C "$TOP" "obj/regress/helpers/layer-drive" \
	    >"$T/cc.log" 2>&1; then
		fail "layer" "$(tr '\n' ' ' <"$T/cc.log" | cut -c1-300)"
		t_done
	fi
fi
if [ ! -x "$D" ]; then
	fail "layer" "no $D"
	t_done
fi

# Under the sanitizers no leak check in a sandboxed run: LeakSanitizer
# stops the world with ptrace from a child, which seccomp kills, and then
# waits for it for good.
drive() {
	case " $* " in
	*" -s "*) ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	    timeout 300 "$D" "$@" ;;
	*)	timeout 300 "$D" "$@" ;;
	esac
}
dfs() { debugfs -R "$2" "$1" 2>/dev/null; }
# fcat IMG PATH: the file's content.
fcat() { dfs "$1" "cat $2"; }
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
ino() { dfs "$1" "stat $2" | awk '$1 == "Inode:" { print $2; exit }'; }
# xtime IMG PATH FIELD: "0xSECONDS:EXTRA" as debugfs shows it.
xtime() { dfs "$1" "stat $2" | awk -v f="$3:" '$1 == f { print $2; exit }'; }
# names IMG DIR: the entries, sorted, "." and ".." but no lost+found
# (debugfs shows the first entry of a block removed, with inode 0).
names() { dfs "$1" "ls -p $2" | awk -F/ 'NF > 6 && $2 != 0 &&
    $6 != "lost+found" { print $6 }' | sort | tr '\n' ' '; }
free_counts() { dumpe2fs -h "$1" 2>/dev/null |
    awk '/^Free (blocks|inodes):/ { printf "%s ", $3 }'; }
fsck_clean() { e2fsck -fn "$1" >"$T/fsck.log" 2>&1 ||
    { tail -n 5 "$T/fsck.log"; return 1; }; }
sum() { md5sum | cut -d' ' -f1; }
# mkimg IMG SIZE [mke2fs options]: ext4 unless the options say -t.
mkimg() {
	local img=$1 size=$2 type=(-t ext4)
	shift 2
	case " $* " in *" -t "*) type=() ;; esac
	mke2fs -q -F "${type[@]}" "$@" "$img" "$size" >"$T/mkfs.log" 2>&1
}

# mklayer OUT: the layer the python on stdin describes, with
#	f(name, data, mode, uid=, gid=, mtime=, x={xattrs})   a file
#	fp(name, path)   a file from disk        d(name, mode)  a directory
#	s(name, target)  a symlink               h(name, target) a hard link
#	c/b(name, major, minor)  devices         p(name)        a FIFO
# (mtime 1600000000 unless given); OUT's suffix: .tar, .tar.gz, .tar.zst.
cat >"$T/mk.py" <<'EOF'
import io, os, subprocess, sys, tarfile
out = sys.argv[1]
tmp = out[:-4] if out.endswith(".zst") else out
t = tarfile.open(tmp, "w:gz" if out.endswith(".gz") else "w",
    format=tarfile.PAX_FORMAT)
MT = 1600000000
def ti(name, type, mode, uid=0, gid=0, mtime=MT, x=None):
	i = tarfile.TarInfo(name)
	i.type, i.mode, i.uid, i.gid, i.mtime = type, mode, uid, gid, mtime
	i.uname = i.gname = ""
	if x:
		i.pax_headers = {"SCHILY.xattr." + k: v for k, v in x.items()}
	return i
def f(name, data=b"", mode=0o644, **kw):
	if isinstance(data, str):
		data = data.encode()
	i = ti(name, tarfile.REGTYPE, mode, **kw)
	i.size = len(data)
	t.addfile(i, io.BytesIO(data))
def fp(name, path, mode=0o644):
	i = ti(name, tarfile.REGTYPE, mode)
	i.size = os.path.getsize(path)
	with open(path, "rb") as src:
		t.addfile(i, src)
def d(name, mode=0o755, **kw):
	t.addfile(ti(name, tarfile.DIRTYPE, mode, **kw))
def s(name, target, **kw):
	i = ti(name, tarfile.SYMTYPE, 0o777, **kw)
	i.linkname = target
	t.addfile(i)
def h(name, target, **kw):
	i = ti(name, tarfile.LNKTYPE, 0o644, **kw)
	i.linkname = target
	t.addfile(i)
def dev(type, name, major, minor, mode=0o660, **kw):
	i = ti(name, type, mode, **kw)
	i.devmajor, i.devminor = major, minor
	t.addfile(i)
def c(name, major, minor, mode=0o666, **kw):
	dev(tarfile.CHRTYPE, name, major, minor, mode, **kw)
def b(name, major, minor, mode=0o660, **kw):
	dev(tarfile.BLKTYPE, name, major, minor, mode, **kw)
def p(name, mode=0o644, **kw):
	t.addfile(ti(name, tarfile.FIFOTYPE, mode, **kw))
exec(sys.stdin.read())
t.close()
if out != tmp:
	subprocess.run(["zstd", "-q", "-f", "--rm", tmp, "-o", out],
	    check=True)
EOF
mklayer() {
	python3 "$T/mk.py" "$1" >"$T/mk.log" 2>&1 ||
	    { echo "mklayer $1: $(cat "$T/mk.log")" >&2; return 1; }
}

# A capability (v2: cap_net_raw permitted and effective) and a value
# too big for the inode, bound for an attribute block.
CAP='\x01\x00\x00\x02\x00\x20\x00\x00'"$(printf '\\x00%.0s' $(seq 12))"
CAP_HEX="01 00 00 02 00 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
LONGNAME=$(printf 'n%.0s' $(seq 150))/$(printf 'm%.0s' $(seq 200))
LONGLINK=$(printf '../%.0s' $(seq 40))etc/passwd

# Layer 1: a small system, uncompressed.
mklayer "$T/l1.tar" <<EOF || fail "layer 1" "cannot make it"
d("./", 0o755)
d("etc/")
f("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
f("etc/shadow", "root:*:19000::::::\n", 0o640, gid=42)
d("home/user/", 0o700, uid=1000, gid=1000)
f("home/user/.profile", "PATH=/bin\n", 0o600, uid=1000, gid=1000)
d("tmp/", 0o1777)
f("usr/bin/prog", "#!/bin/sh\necho prog\n", 0o755)
f("usr/bin/su", "su", 0o4755)
f("usr/bin/wall", "wall", 0o2755, gid=5)
f("usr/bin/ping", "ping", 0o755, x={"user.comment": "hello",
    "security.capability": "$CAP"})
f("usr/bin/bigx", "bigx", x={"user.big": "v" * 700})
f("owner", "high ids", uid=100000, gid=200000)
f("nsec", "nsec", mtime=1600000000.25)
f("y2100", "y2100", mtime=4102444800)
s("bin", "usr/bin")
s("abs", "/etc/shadow")
s("rel", "../../../x")
s("longlink", "$LONGLINK")
d("dir1/")
f("dir1/a", "shared")
h("dir1/b", "dir1/a")
c("dev/null", 1, 3)
b("dev/sda", 8, 0)
c("dev/big", 300, 70000)
p("run/fifo", 0o600)
f("h\u00e9llo", "utf-8")
f("$LONGNAME", "long")
f("lower/keep", "keep")
f("lower/gone", "gone")
f("lower/tree/sub/x", "x" * 10000)
f("lower/tree/y", "y")
s("lower/tree/sl", "/nowhere")
f("opq/old1", "old")
f("opq/olddir/deep/f", "deep")
d("opq/keepdir/")
f("opq/keepdir/lowerchild", "lower")
f("f2d", "a file, then a directory")
f("d2f/child", "a directory, then a file")
EOF

# Layer 2, gzip: through a symlink, whiteouts, an opaque directory (its
# marker after a file of this layer, before another), replacements.
mklayer "$T/l2.tar.gz" <<'EOF' || fail "layer 2" "cannot make it"
f("bin/new", "new, through bin -> usr/bin")
f("lower/.wh.gone")
d("lower/tree/")
f("lower/samelayer", "this layer's")
f("lower/.wh.samelayer")
f("opq/new1", "new1")
d("opq/keepdir/")
f("opq/.wh..wh..opq")
f("opq/new2", "new2")
d("f2d/", 0o750)
f("f2d/inner", "inner")
f("d2f", "now a file")
h("hl2", "etc/passwd")
f(".wh.lower2")
f("lower/.wh..wh.plnk")
EOF
# (whiteout of lower/tree itself: a later layer)
mklayer "$T/l2b.tar" <<'EOF' || fail "layer 2b" "cannot make it"
f("lower/.wh.tree")
EOF

# Layer 3, zstd: 64 MiB.
head -c 67108864 /dev/urandom >"$T/big.bin"
mklayer "$T/l3.tar.zst" <<EOF || fail "layer 3" "cannot make it"
fp("big", "$T/big.bin")
EOF

# Layers 4 and 5: sparse files by GNU tar, old GNU and pax 1.0 formats.
mkdir "$T/sp"
truncate -s 48M "$T/sp/sparse"
printf 'begin' | dd of="$T/sp/sparse" conv=notrunc status=none
printf 'middle' | dd of="$T/sp/sparse" bs=1 seek=$((20 << 20)) \
    conv=notrunc status=none
printf 'end' | dd of="$T/sp/sparse" bs=1 seek=$(((48 << 20) - 3)) \
    conv=notrunc status=none
cp --sparse=always "$T/sp/sparse" "$T/sp/sparse2"
tar --sparse --format=gnu -C "$T/sp" -cf "$T/l4.tar" sparse
tar --sparse --format=posix -C "$T/sp" -cf "$T/l5.tar" sparse2

IMG=$T/a.img
mkimg "$IMG" 256M -b 4096 || fail "mke2fs" "$(cat "$T/mkfs.log")"
if drive "$IMG" "$T/l1.tar" "$T/l2.tar.gz" "$T/l2b.tar" "$T/l3.tar.zst" \
    "$T/l4.tar" "$T/l5.tar" >"$T/out" 2>"$T/err"; then
	pass "six layers applied"
else
	fail "six layers applied" "$(cat "$T/err")"
fi
check "e2fsck -fn clean" fsck_clean "$IMG"
expect_eq "layer 1 counted" "$(sed -n 1p "$T/out")" "layer 1 entries 39 \
files 23 dirs 6 symlinks 5 hardlinks 1 devices 4 whiteouts 0 bytes 10196 \
progress 1 $(stat -c %s "$T/l1.tar")"
expect_eq "layer 2 counted" "$(sed -n 2p "$T/out")" "layer 2 entries 15 \
files 6 dirs 3 symlinks 0 hardlinks 1 devices 0 whiteouts 4 bytes 62 \
progress 1 $(stat -c %s "$T/l2.tar.gz")"
l3=$(sed -n 4p "$T/out")
expect_match "zstd layer counted" "$l3" \
    "^layer 4 entries 1 files 1 .* bytes 67108864 progress [0-9]+ $(stat -c %s "$T/l3.tar.zst")\$"
check "zstd layer: progress every MiB" test "$(echo "$l3" | awk '{ print $(NF - 1) }')" -ge 64

# Files: content, mode, owner, time.
expect_eq "file content" "$(fcat "$IMG" /etc/passwd)" \
    "root:x:0:0:root:/root:/bin/bash"
expect_eq "file mode, owner, links" "$(attr "$IMG" /etc/shadow)" \
    "regular 0640 0 42 1"
expect_eq "file mtime" "$(xtime "$IMG" /etc/passwd mtime)" \
    "0x5f5e1000:00000000"
expect_eq "file atime and ctime = mtime" \
    "$(xtime "$IMG" /etc/passwd atime) $(xtime "$IMG" /etc/passwd ctime)" \
    "0x5f5e1000:00000000 0x5f5e1000:00000000"
expect_eq "mtime nanoseconds" "$(xtime "$IMG" /nsec mtime)" \
    "0x5f5e1000:3b9aca00"
expect_eq "mtime in 2100 (epoch bits)" "$(xtime "$IMG" /y2100 mtime)" \
    "0xf4865700:00000001"
expect_eq "uid and gid over 65535" "$(attr "$IMG" /owner)" \
    "regular 0644 100000 200000 1"
expect_eq "setuid kept" "$(attr "$IMG" /usr/bin/su)" "regular 04755 0 0 1"
expect_eq "setgid kept" "$(attr "$IMG" /usr/bin/wall)" "regular 02755 0 5 1"
expect_eq "executable" "$(attr "$IMG" /usr/bin/prog)" "regular 0755 0 0 1"
expect_eq "UTF-8 name from a pax header" "$(fcat "$IMG" /héllo)" "utf-8"
expect_eq "a 351-byte name" "$(fcat "$IMG" "/$LONGNAME")" "long"
dfs "$IMG" "dump /big $T/big.out" >/dev/null
expect_eq "64 MiB file content" "$(sum <"$T/big.out")" \
    "$(sum <"$T/big.bin")"
rm -f "$T/big.out"
for sp in sparse sparse2; do
	dfs "$IMG" "dump /$sp $T/sp.out" >/dev/null
	expect_eq "$sp file content" "$(sum <"$T/sp.out")" \
	    "$(sum <"$T/sp/sparse")"
	expect_eq "$sp file size" "$(stat -c %s "$T/sp.out")" $((48 << 20))
	# Three 4 KiB blocks of data (24 sectors), not 48 MiB.
	expect_eq "$sp file's holes kept" "$(dfs "$IMG" "stat /$sp" |
	    awk '$3 == "Blockcount:" { print $4 }')" 24
	rm -f "$T/sp.out"
done

# Directories.
expect_eq "directory mode and owner" "$(attr "$IMG" /home/user)" \
    "directory 0700 1000 1000 2"
expect_eq "sticky directory" "$(attr "$IMG" /tmp | cut -d' ' -f1-4)" \
    "directory 01777 0 0"
expect_eq "parent made implicitly: 0755 root" "$(attr "$IMG" /home)" \
    "directory 0755 0 0 3"
expect_eq "implicit parent's time: its entry's" \
    "$(xtime "$IMG" /usr/bin mtime)" "0x5f5e1000:00000000"
expect_eq "root entry: mtime" "$(xtime "$IMG" / mtime)" \
    "0x5f5e1000:00000000"

# Links.
expect_eq "hard link: the same inode" "$(ino "$IMG" /dir1/b)" \
    "$(ino "$IMG" /dir1/a)"
expect_eq "hard link: 2 links" "$(attr "$IMG" /dir1/b)" "regular 0644 0 0 2"
expect_eq "hard link to a lower layer's file" \
    "$(ino "$IMG" /hl2) $(attr "$IMG" /etc/passwd | cut -d' ' -f5)" \
    "$(ino "$IMG" /etc/passwd) 2"
expect_match "symlink to /etc/shadow stored as written" \
    "$(dfs "$IMG" "stat /abs")" 'Fast link dest: "/etc/shadow"'
expect_match "symlink to ../../../x stored as written" \
    "$(dfs "$IMG" "stat /rel")" 'Fast link dest: "\.\./\.\./\.\./x"'
expect_eq "slow symlink stored as written" "$(fcat "$IMG" /longlink)" \
    "$LONGLINK"
expect_eq "bin/new written through bin -> usr/bin" \
    "$(fcat "$IMG" /usr/bin/new)" "new, through bin -> usr/bin"
expect_eq "the symlink bin itself untouched" "$(attr "$IMG" /bin)" \
    "symlink 0777 0 0 1"

# Devices and FIFOs.
expect_eq "character device" "$(attr "$IMG" /dev/null)" \
    "character 0666 0 0 1"
expect_match "character device 1:3" "$(dfs "$IMG" "stat /dev/null")" \
    '^Device major/minor number: 01:03 '
expect_eq "block device" "$(attr "$IMG" /dev/sda)" "block 0660 0 0 1"
expect_match "block device 8:0" "$(dfs "$IMG" "stat /dev/sda")" \
    '^Device major/minor number: 08:00 '
expect_match "device 300:70000 (new encoding)" \
    "$(dfs "$IMG" "stat /dev/big")" 'New-style\) Device major/minor number: 300:70000'
expect_eq "FIFO" "$(attr "$IMG" /run/fifo)" "FIFO 0600 0 0 1"

# Extended attributes.
expect_eq "user.comment kept" \
    "$(dfs "$IMG" "ea_get -V /usr/bin/ping user.comment")" "hello"
expect_eq "security.capability kept" \
    "$(dfs "$IMG" "ea_get -x /usr/bin/ping security.capability" |
    sed 's/^security.capability ([0-9]*) = //')" "$CAP_HEX"
expect_eq "a 700-byte attribute, in a block" \
    "$(dfs "$IMG" "ea_get -V /usr/bin/bigx user.big" | tr -d '\n' | wc -c) \
$(dfs "$IMG" "stat /usr/bin/bigx" | awk '$1 == "File" { print ($3 > 0) }')" \
    "700 1"

# Whiteouts and opaque directories.
expect_eq "whiteout of a file" "$(names "$IMG" /lower)" ". .. keep samelayer "
expect_eq "whiteout of a directory tree" "$(dfs "$IMG" "stat /lower/tree" |
    head -1)" ""
expect_eq "whiteout of this layer's own file: kept" \
    "$(fcat "$IMG" /lower/samelayer)" "this layer's"
expect_eq "opaque: lower children gone, this layer's kept" \
    "$(names "$IMG" /opq)" ". .. keepdir new1 new2 "
expect_eq "opaque: lower children of this layer's directory gone" \
    "$(names "$IMG" /opq/keepdir)" ". .. "
expect_eq "whiteouts are not written" \
    "$(dfs "$IMG" "ls -p /" | grep -c '\.wh\.')" 0

# Replacements across layers.
expect_eq "a file replaced by a directory" "$(attr "$IMG" /f2d)" \
    "directory 0750 0 0 2"
expect_eq "... holding this layer's file" "$(fcat "$IMG" /f2d/inner)" \
    "inner"
expect_eq "a directory replaced by a file" \
    "$(attr "$IMG" /d2f) $(fcat "$IMG" /d2f)" "regular 0644 0 0 1 now a file"

# The space a tree held comes back.
FC=$T/fc.img
mkimg "$FC" 64M
mklayer "$T/fc1.tar" <<'EOF'
d("t/")
f("t/outside", "linked from the tree")
EOF
mklayer "$T/fc2.tar.gz" <<'EOF'
import os
for i in range(50):
	f("t/tree/d%d/f%d" % (i % 5, i), os.urandom(i * 3000))
f("t/tree/ea", "ea", x={"user.big": "v" * 700})
s("t/tree/slow", "../" * 30 + "x")
h("t/tree/hl", "t/outside")
c("t/tree/null", 1, 3)
f("t/file", os.urandom(200000))
EOF
mklayer "$T/fc3.tar" <<'EOF'
f("t/.wh.tree")
f("t/.wh.file")
EOF
drive "$FC" "$T/fc1.tar" >/dev/null 2>"$T/err" || fail "free counts: base" "$(cat "$T/err")"
c0=$(free_counts "$FC")
drive "$FC" "$T/fc2.tar.gz" >/dev/null 2>"$T/err" || fail "free counts: tree" "$(cat "$T/err")"
c1=$(free_counts "$FC")
check "free counts: the tree took space" test "$c1" != "$c0"
expect_eq "free counts: the tree's hard link counted" \
    "$(attr "$FC" /t/outside | cut -d' ' -f5)" 2
drive "$FC" "$T/fc3.tar" >/dev/null 2>"$T/err" || fail "free counts: whiteouts" "$(cat "$T/err")"
expect_eq "free counts: back where they were" "$(free_counts "$FC")" "$c0"
expect_eq "free counts: only the outside file left" "$(names "$FC" /t)" \
    ". .. outside "
expect_eq "free counts: its link count back to 1" \
    "$(attr "$FC" /t/outside | cut -d' ' -f5)" 1
check "free counts: e2fsck -fn clean" fsck_clean "$FC"

# Other ext2/3/4 shapes: the same layers, clean results.
variant() {
	local n=$1 img=$T/$1.img
	shift
	if ! mkimg "$img" 128M "$@"; then
		fail "$n: mke2fs" "$(cat "$T/mkfs.log")"
		return
	fi
	if drive "$img" "$T/l1.tar" "$T/l2.tar.gz" "$T/l2b.tar" "$T/l4.tar" \
	    >"$T/out" 2>"$T/err"; then
		pass "$n: four layers applied"
	else
		fail "$n: four layers applied" "$(cat "$T/err")"
		return
	fi
	check "$n: e2fsck -fn clean" fsck_clean "$img"
	expect_eq "$n: a file" "$(fcat "$img" /etc/passwd)" \
	    "root:x:0:0:root:/root:/bin/bash"
	expect_eq "$n: opaque directory" "$(names "$img" /opq)" \
	    ". .. keepdir new1 new2 "
	dfs "$img" "dump /sparse $T/sp.out" >/dev/null
	expect_eq "$n: sparse file" "$(sum <"$T/sp.out")" \
	    "$(sum <"$T/sp/sparse")"
	rm -f "$T/sp.out"
}
variant noextents -O ^extent,^64bit
variant inline -O inline_data
variant 1k -b 1024
variant ext3 -t ext3

# A directory grown past its first blocks, then emptied by an opaque
# marker, on 1 KiB blocks.
mklayer "$T/wide.tar" <<'EOF'
for i in range(600):
	f("w/file-with-a-rather-long-name-%04d" % i, str(i))
EOF
mklayer "$T/wide2.tar" <<'EOF'
f("w/.wh..wh..opq")
f("w/last", "last")
EOF
mkimg "$T/wide.img" 32M -b 1024
if drive "$T/wide.img" "$T/wide.tar" "$T/wide2.tar" >"$T/out" 2>"$T/err"
then
	pass "600 files in one directory, then opaque"
	expect_eq "600 files: opaque left one" "$(names "$T/wide.img" /w)" \
	    ". .. last "
	check "600 files: e2fsck -fn clean" fsck_clean "$T/wide.img"
else
	fail "600 files in one directory, then opaque" "$(cat "$T/err")"
fi

# Deep trees: 1999 directories made, then removed by one whiteout; one
# 2099 deep (through a symlink) is refused rather than removed.
mklayer "$T/deep1.tar" <<'EOF'
f("d/" * 1999 + "f", "deep")
EOF
mklayer "$T/deep2.tar" <<'EOF'
f(".wh.d")
EOF
mklayer "$T/deep3.tar" <<'EOF'
s("s", "d/" * 1998 + "d")
f("s/" + "e/" * 100 + "f", "deeper")
EOF
mkimg "$T/deep.img" 32M -b 4096
if drive "$T/deep.img" "$T/deep1.tar" "$T/deep2.tar" >"$T/out" 2>"$T/err"
then
	pass "1999 directories deep: made and removed"
	expect_eq "1999 deep: nothing left" "$(names "$T/deep.img" /)" ". .. "
	check "1999 deep: e2fsck -fn clean" fsck_clean "$T/deep.img"
else
	fail "1999 directories deep: made and removed" "$(cat "$T/err")"
fi
drive "$T/deep.img" "$T/deep1.tar" "$T/deep3.tar" "$T/deep2.tar" \
    >"$T/out" 2>"$T/err"
expect_eq "2099 deep: refused, exit 1" "$?" 1
expect_match "2099 deep: says why" "$(cat "$T/err")" \
    '^layer-drive: layer 3: layer entry "\.wh\.d": a tree more than 2048 directories deep to remove$'

# Refusals: exit 1 (no crash), a sentence naming the entry; those
# refused before anything of theirs was written leave a clean image.
mkimg "$T/base.img" 16M
mklayer "$T/base.tar" <<'EOF'
d("etc/")
f("etc/passwd", "root")
f("file", "a file")
s("dangling", "/no/such/dir")
EOF
drive "$T/base.img" "$T/base.tar" >/dev/null 2>&1 ||
    fail "refusals: base image" "cannot apply"

# refused_file NAME WANT CLEAN LAYER [drive options]
refused_file() {
	local n=$1 want=$2 clean=$3 layer=$4 rc
	shift 4
	cp "$T/base.img" "$T/bad.img"
	drive "$@" "$T/bad.img" "$layer" >"$T/out" 2>"$T/err"
	rc=$?
	expect_eq "refused: $n: exit 1" "$rc" 1
	expect_match "refused: $n: says why" "$(cat "$T/err")" "$want"
	[ "$clean" = 1 ] &&
	    check "refused: $n: e2fsck -fn clean" fsck_clean "$T/bad.img"
}
# refused NAME WANT CLEAN [drive options] <<python
refused() {
	local n=$1 want=$2 clean=$3
	shift 3
	if ! mklayer "$T/bad.tar"; then
		fail "refused: $n: layer" "cannot make it"
		return
	fi
	refused_file "$n" "$want" "$clean" "$T/bad.tar" "$@"
}
refused "../x" '^layer-drive: layer 1: layer entry "\.\./x": a path with "\.\." is refused$' 1 <<'EOF'
f("../x", "out")
EOF
refused "a/../../x" 'layer entry "a/\.\./\.\./x": a path with "\.\." is refused$' 1 <<'EOF'
f("a/../../x", "out")
EOF
refused "a/.. (a directory)" 'layer entry "etc/\.\./": a path with "\.\."' 1 <<'EOF'
d("etc/../")
EOF
refused "/abs" 'layer entry "/abs": an absolute name is refused$' 1 <<'EOF'
f("/abs", "out")
EOF
refused "hard link to ../x" 'layer entry "l": hard link target "\.\./x": a path with "\.\." is refused$' 1 <<'EOF'
h("l", "../x")
EOF
refused "hard link to /etc/passwd" 'hard link target "/etc/passwd": an absolute name' 1 <<'EOF'
h("l", "/etc/passwd")
EOF
refused "hard link to a missing target" 'layer entry "l": hard link target "nothere": not in the image$' 1 <<'EOF'
h("l", "nothere")
EOF
refused "hard link to a directory" 'layer entry "l": hard link target "etc": a directory$' 1 <<'EOF'
h("l", "etc")
EOF
refused "hard link to the root" 'hard link target "\./": the root directory' 1 <<'EOF'
h("l", "./")
EOF
refused "an empty component" 'layer entry "a//b": an empty path component' 1 <<'EOF'
f("a//b", "x")
EOF
refused "a 256-byte component" 'a path component longer than 255 bytes' 1 <<'EOF'
f("a/" + "x" * 256, "x")
EOF
refused "a 4096-byte name" 'a name longer than 4095 bytes' 1 <<'EOF'
f("a/" * 2047 + "xx", "x")
EOF
refused "a file as a parent" 'layer entry "file/x": "file" is not a directory in the image$' 1 <<'EOF'
f("file/x", "x")
EOF
refused "a dangling symlink as a parent" '"dangling" is a symbolic link to nothing in the image' 1 <<'EOF'
f("dangling/x", "x")
EOF
refused "lost+found as a file" 'lost\+found stays a directory' 1 <<'EOF'
f("lost+found", "x")
EOF
refused "more entries than -e 10" 'layer entry "f10": more than 10 entries in the layer$' 1 -e 10 <<'EOF'
for i in range(12):
	f("f%d" % i, "x")
EOF
refused "a file over -f" 'layer entry "big": 4097 bytes, more than the 4096 a file may have$' 1 -f 4096 <<'EOF'
f("small", "x" * 4096)
f("big", "x" * 4097)
EOF
refused "more bytes than -b" 'layer entry "c": the layer holds more than 10000 bytes of files$' 0 -b 10000 <<'EOF'
f("a", "x" * 4000)
f("b", "x" * 4000)
f("c", "x" * 4000)
EOF
head -c 8192 /dev/urandom >"$T/random.bin"
refused_file "not a tar" '^layer-drive: layer 1: the layer is not a tar stream \(plain, gzip or zstd\): Unrecognized archive format$' 1 "$T/random.bin"
mklayer "$T/trunc.tar.gz" <<'EOF'
import os
f("first", "x")
f("second", os.urandom(1 << 20))
EOF
head -c $(( $(stat -c %s "$T/trunc.tar.gz") / 2 )) "$T/trunc.tar.gz" \
    >"$T/half.tar.gz"
refused_file "a truncated gzip" 'layer entry "second": truncated gzip input' 0 "$T/half.tar.gz"
mklayer "$T/trunc.tar.zst" <<'EOF'
import os
f("first", "x")
f("second", os.urandom(1 << 20))
EOF
head -c $(( $(stat -c %s "$T/trunc.tar.zst") / 2 )) "$T/trunc.tar.zst" \
    >"$T/half.tar.zst"
refused_file "a truncated zstd" 'layer entry "second": Truncated zstd input' \
    0 "$T/half.tar.zst"
refused_file "a layer bigger than the image" \
    'layer entry "big": write at [0-9]+: Could not allocate block' 0 \
    "$T/l3.tar.zst"

# The sandboxed runs: layer_syscalls and nothing else.  Plain and gzip
# layers on memfds, with attribute blocks, a sparse file and trees
# removed; then zstd on ext4 without extents (indirect blocks).
SB=$T/sandbox.img
mkimg "$SB" 128M -b 4096
if drive -s -m "$SB" "$T/l1.tar" "$T/l2.tar.gz" "$T/l2b.tar" "$T/l4.tar" \
    "$T/fc1.tar" "$T/fc2.tar.gz" "$T/fc3.tar" >"$T/out" 2>"$T/err"; then
	pass "seccomp allow-list: seven layers (plain, gzip), memfds"
	check "seccomp: e2fsck -fn clean" fsck_clean "$SB"
	expect_eq "seccomp: UTF-8 name" "$(fcat "$SB" /héllo)" "utf-8"
	expect_eq "seccomp: opaque directory" "$(names "$SB" /opq)" \
	    ". .. keepdir new1 new2 "
	expect_eq "seccomp: tree removed" "$(names "$SB" /t)" ". .. outside "
	expect_eq "seccomp: capability" \
	    "$(dfs "$SB" "ea_get -x /usr/bin/ping security.capability" |
	    sed 's/^security.capability ([0-9]*) = //')" "$CAP_HEX"
else
	fail "seccomp allow-list: seven layers (plain, gzip), memfds" \
	    "exit $?: $(cat "$T/err")"
fi
mklayer "$T/z.tar.zst" <<'EOF'
import os
f("z/data", os.urandom(3 << 20))
f("z/names/\u00fcn\u00ef/c\u00f6d\u00e9", "zstd")
EOF
SB2=$T/sandbox2.img
mkimg "$SB2" 128M -O ^extent,^64bit
if drive -s "$SB2" "$T/l1.tar" "$T/l3.tar.zst" "$T/z.tar.zst" \
    >"$T/out" 2>"$T/err"; then
	pass "seccomp allow-list: zstd layers, no extents"
	expect_eq "seccomp: zstd layer's UTF-8 name" \
	    "$(fcat "$SB2" /z/names/ünï/cödé)" "zstd"
	dfs "$SB2" "dump /big $T/big.out" >/dev/null
	expect_eq "seccomp: 64 MiB in indirect blocks" "$(sum <"$T/big.out")" \
	    "$(sum <"$T/big.bin")"
	rm -f "$T/big.out"
	check "seccomp: no extents: e2fsck -fn clean" fsck_clean "$SB2"
else
	fail "seccomp allow-list: zstd layers, no extents" \
	    "exit $?: $(cat "$T/err")"
fi
refused "seccomp: a refusal" 'layer entry "x/\.\./\.\./y": a path with "\.\."' 1 -s <<'EOF'
f("ok", "ok")
f("x/../../y", "out")
EOF

# valgrind: no memory error, no leak, several layers and a refusal.
if command -v valgrind >/dev/null 2>&1 && [ "${SANITIZE:-}" != 1 ]; then
	VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
	mkimg "$T/vg.img" 64M
	$VG "$D" "$T/vg.img" "$T/l1.tar" "$T/l2.tar.gz" "$T/l2b.tar" \
	    "$T/l4.tar" "$T/fc1.tar" "$T/fc2.tar.gz" >"$T/out" 2>"$T/err"
	expect_eq "valgrind: six layers, no error or leak" "$? $(cat "$T/err")" "0 "
	mklayer "$T/vgbad.tar" <<'EOF'
d("a/")
f("a/x", "x")
h("a/l", "../x")
EOF
	$VG "$D" "$T/vg.img" "$T/vgbad.tar" >"$T/out" 2>"$T/err"
	expect_eq "valgrind: a refusal, no error or leak" \
	    "$? $(grep -v '^layer-drive: ' "$T/err")" "1 "
else
	skip "valgrind" "no valgrind, or a sanitizer build"
fi

t_done

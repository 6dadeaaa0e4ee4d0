# bangerctl image import --oci-layout and --docker-archive, end to end
# through bangerd: OCI
# image layouts written here (mkoci.py) unpacked by the pull worker into
# a new ext4 root file system; the result read back with debugfs and
# e2fsck; the worker's sandbox as the kernel shows it; bad layouts,
# kills and an interrupted client, each leaving nothing behind.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "oci" "needs root to start bangerd"
	t_done
fi
for c in debugfs e2fsck python3 zstd; do
	if ! command -v "$c" >/dev/null 2>&1; then
		fail "oci: $c is installed (scripts/deps.sh)" "missing"
		t_done
	fi
done

daemon_setup
trap daemon_cleanup EXIT
vm_daemon_start oci

IMAGES=$STATE/images
F=$T/files
mkdir -p "$F"
chmod 0755 "$F"
mkvmlinux "$F/vmlinux"

leftovers() {
	find "$IMAGES" -mindepth 1 -maxdepth 1 -name '.*' | tr '\n' ' '
	pull_pids
}
# This daemon's pull workers still running (daemon.sh).
pull_pids() { pull_workers | tr '\n' ' '; }
has_pull() { [ -n "$(pull_workers)" ]; }
no_pull() { [ -z "$(pull_workers)" ]; }

# layout NAME SPEC: an OCI layout $F/NAME from the JSON spec.
layout() {
	rm -rf "${F:?}/$1"
	printf '%s' "$2" >"$F/$1.json"
	python3 "$TOP/regress/pull/mkoci.py" "$F/$1" "$F/$1.json"
}

imp() {	# NAME LAYOUT [ARGS]: import, printing what bangerctl says
	local n=$1 l=$2
	shift 2
	ctl image import "$n" --kernel "$F/vmlinux" --oci-layout "$F/$l" "$@" 2>&1
}

bad() {	# NAME WANT LAYOUT [ARGS]
	local name=$1 want=$2
	shift 2
	fails_saying oci "$name" "$want" imp bad "$@"
	expect_eq "oci: $name leaves nothing behind" "$(leftovers)" ""
	if [ -e "$IMAGES/bad" ]; then
		fail "oci: $name makes no image" "$IMAGES/bad exists"
	fi
}

dfs() { debugfs -R "$1" "$2" 2>/dev/null; }
# stat FIELD of a path in an image, as debugfs prints it
istat() { dfs "stat $2" "$1"; }

#
# A layout of three layers: files of every kind, then changes.
#
layout multi '{"layers": [
 [{"name": "etc", "type": "dir", "mode": 493},
  {"name": "etc/hostname", "data": "oci-host\n", "mode": 420, "uid": 0},
  {"name": "usr/bin/tool", "data": "#!/bin/sh\necho tool\n", "mode": 2541,
   "uid": 0, "gid": 0},
  {"name": "home/u/notes", "data": "mine", "mode": 384, "uid": 1000,
   "gid": 1000, "mtime": 1600000000},
  {"name": "usr/bin/tool2", "type": "hardlink", "target": "usr/bin/tool"},
  {"name": "bin", "type": "symlink", "target": "usr/bin"},
  {"name": "evil", "type": "symlink", "target": "/../../etc/shadow"},
  {"name": "dev/null", "type": "char", "major": 1, "minor": 3, "mode": 438},
  {"name": "dev/sda", "type": "block", "major": 8, "minor": 0, "mode": 432},
  {"name": "run/fifo", "type": "fifo", "mode": 420},
  {"name": "capped", "data": "x", "xattrs": {"user.note": "hello"}},
  {"name": "old/a/b", "data": "lower"},
  {"name": "gone", "data": "to be whited out"},
  {"name": "opq/lower", "data": "lower"}],
 {"compress": "zstd", "entries": [
  {"name": "big", "size": 8388608},
  {"name": ".wh.gone", "data": ""},
  {"name": "old/.wh.a", "data": ""},
  {"name": "opq/upper", "data": "upper"},
  {"name": "opq/.wh..wh..opq", "data": ""},
  {"name": "bin/via-link", "data": "through the symlink"}]},
 {"compress": "none", "entries": [
  {"name": "etc/hostname", "data": "changed\n", "mode": 420}]}
]}'

out=$(imp multi multi --size 64M)
expect_eq "oci: import of a 3-layer layout says so" "$out" \
    "image multi imported"
R=$IMAGES/multi/rootfs.ext4
expect_eq "oci: the root file system has the size asked for" \
    "$(stat -c %s "$R" 2>/dev/null)" $((64 << 20))
check "oci: e2fsck finds the file system clean" e2fsck -fn "$R"
check "oci: the file system is the layers, entry by entry" \
    python3 "$TOP/regress/pull/fscompare.py" "$R" "$F/multi.json"
expect_eq "oci: a file's content is the last layer's" \
    "$(dfs 'cat /etc/hostname' "$R")" "changed"
expect_match "oci: a setuid file keeps mode 4755 and its owner" \
    "$(istat "$R" /usr/bin/tool | head -3 | tr '\n' ' ')" \
    "Mode: +04755.*User: +0 +Group: +0"
expect_match "oci: a user's file keeps its owner, mode and time" \
    "$(istat "$R" /home/u/notes | tr '\n' ' ')" \
    "Mode: +0600.*User: +1000 +Group: +1000.*mtime: 0x5f5e1000"
expect_match "oci: a hard link is the same inode, twice linked" \
    "$(istat "$R" /usr/bin/tool2 | tr '\n' ' ')" "Links: 2"
expect_eq "oci: a symlink out of the image is stored as written" \
    "$(dfs 'stat /evil' "$R" | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')" \
    "/../../etc/shadow"
expect_match "oci: a character device keeps its numbers" \
    "$(istat "$R" /dev/null | tr '\n' ' ')" \
    "Type: character special.*Device major/minor number: 01:03"
expect_match "oci: a block device keeps its numbers" \
    "$(istat "$R" /dev/sda | tr '\n' ' ')" \
    "Type: block special.*Device major/minor number: 08:00"
expect_match "oci: a FIFO is a FIFO" \
    "$(istat "$R" /run/fifo | tr '\n' ' ')" "Type: FIFO"
expect_match "oci: an xattr is kept" \
    "$(dfs 'ea_list /capped' "$R" | tr '\n' ' ')" 'user.note.*hello'
expect_eq "oci: an 8 MiB file of a zstd layer is whole" \
    "$(dfs 'cat /big' "$R" | wc -c)" 8388608
expect_match "oci: a whiteout removes a lower file" \
    "$(dfs 'stat /gone' "$R" 2>&1; debugfs -R 'stat /gone' "$R" 2>&1)" \
    "File not found"
expect_match "oci: a whiteout removes a lower directory" \
    "$(debugfs -R 'stat /old/a' "$R" 2>&1)" "File not found"
expect_eq "oci: an opaque directory keeps its own layer's file only" \
    "$(dfs 'ls /opq' "$R" | tr -s ' \n' '\n' | grep -v '^\(\.\|\.\.\|([0-9]*)\|[0-9]*\)$' | sort | tr '\n' ' ')" \
    "upper "
expect_eq "oci: a later layer writes through a lower layer's symlink" \
    "$(dfs 'cat /usr/bin/via-link' "$R")" "through the symlink"
expect_eq "oci: no whiteout file is written" \
    "$(dfs 'ls -l /opq' "$R" | grep -c '\.wh\.')" 0
expect_eq "oci: the import leaves nothing behind" "$(leftovers)" ""
expect_eq "oci: image show gives the manifest's digest, and no reference" \
    "$(ctl image show --json multi | jq -r '"\(.pulled_from) \(.manifest_digest)"')" \
    "null $(jq -r '.manifests[0].digest' "$F/multi/index.json")"
expect_match "oci: the daemon logs the manifest's digest" "$(cat "$DLOG")" \
    "from sha256:[0-9a-f]{64}: 3 layers"

# Docker's schema 2, a nested index, a plain-tar layer.
layout docker '{"docker": true, "layers": [[{"name": "d", "data": "docker"}]]}'
expect_eq "oci: a Docker schema 2 layout imports" \
    "$(imp docker docker --size 16M)" "image docker imported"
expect_eq "oci: ... with its file" \
    "$(dfs 'cat /d' "$IMAGES/docker/rootfs.ext4")" "docker"
layout nested '{"nested": true, "layers": [{"compress": "none", "entries": [{"name": "n", "data": "nested"}]}]}'
expect_eq "oci: a nested index is followed" \
    "$(imp nested nested --size 16M)" "image nested imported"
expect_eq "oci: ... to its image's file" \
    "$(dfs 'cat /n' "$IMAGES/nested/rootfs.ext4")" "nested"
expect_eq "oci: with no --size the file system is 2 GiB (sparse)" \
    "$(imp dflt nested && stat -c %s "$IMAGES/dflt/rootfs.ext4")" \
    "image dflt imported
$((2 << 30))"

# docker-archives: an OCI layout in a tar (docker save since 25) and the
# older form (manifest.json, each layer's tar by its path, checked by
# the config's diff_ids), both read in place.
tar -C "$F/multi" -cf "$F/multi.tar" .
arch() { ctl image import "$1" --kernel "$F/vmlinux" --docker-archive "$2" "${@:3}" 2>&1; }
expect_eq "oci: a docker-archive holding a layout imports" \
    "$(arch amulti "$F/multi.tar" --size 64M)" "image amulti imported"
expect_eq "oci: ... to the same files as the layout" \
    "$(dfs 'cat /etc/hostname' "$IMAGES/amulti/rootfs.ext4") $(dfs 'cat /usr/bin/via-link' "$IMAGES/amulti/rootfs.ext4")" \
    "changed through the symlink"
check "oci: ... and e2fsck finds it clean" e2fsck -fn "$IMAGES/amulti/rootfs.ext4"
ctl image rm amulti >/dev/null
layout legacy.tar '{"legacy": true, "layers": [[{"name": "etc/os", "data": "legacy\n"}, {"name": "etc/gone", "data": "x"}], [{"name": "etc/.wh.gone", "data": ""}, {"name": "b", "data": "second"}]]}'
expect_eq "oci: a docker-archive of docker save's older form imports" \
    "$(arch legacy "$F/legacy.tar" --size 16M)" "image legacy imported"
expect_eq "oci: ... with its layers in order" \
    "$(dfs 'cat /etc/os' "$IMAGES/legacy/rootfs.ext4")$(dfs 'cat /b' "$IMAGES/legacy/rootfs.ext4")$(debugfs -R 'stat /etc/gone' "$IMAGES/legacy/rootfs.ext4" 2>&1 | grep -c 'File not found')" \
    "legacysecond1"
ctl image rm legacy >/dev/null
abad() {	# NAME WANT ARCHIVE
	fails_saying oci "$1" "$2" arch bad "$3" --size 16M
	expect_eq "oci: $1 leaves nothing behind" "$(leftovers)" ""
}
layout lcorrupt.tar '{"legacy": true, "layers": [[{"name": "a", "data": "a"}], {"corrupt": true, "entries": [{"name": "b", "data": "b"}]}]}'
abad "a docker-archive layer that is not its diff_id" \
    "layer 2: 0+2/layer.tar has sha256:[0-9a-f]{64}, the config's diff_id is sha256:[0-9a-f]{64}" \
    "$F/lcorrupt.tar"
layout lomit.tar '{"legacy": true, "layers": [{"omit": true, "entries": [{"name": "a", "data": "a"}]}]}'
abad "a docker-archive without a layer it names" \
    "layer 1: 0+1/layer.tar is not a file in the archive" "$F/lomit.tar"
layout ltwo.tar '{"legacy": true, "images": 2, "layers": [[{"name": "a", "data": "a"}]]}'
abad "a docker-archive of two images" \
    "manifest.json: 2 images: give an archive of one" "$F/ltwo.tar"
gzip -c "$F/multi.tar" >"$F/multi.tar.gz"
abad "a compressed docker-archive" \
    "no tar header at byte 0: give the uncompressed tar docker save writes" \
    "$F/multi.tar.gz"
head -c 5000 "$F/multi.tar" >"$F/short.tar"
abad "a truncated docker-archive" "truncated|ends inside a header|no tar header" \
    "$F/short.tar"

# As a user of group banger: refused, as every import is.
expect_match "oci: a user who is not root may not import" \
    "$(user image import u --kernel "$F/vmlinux" --oci-layout "$F/docker" 2>&1)" \
    "only root may import images"

#
# Bad layouts and bad arguments: each refused, nothing left.
#
layout corrupt '{"layers": [[{"name": "a", "data": "a"}], {"corrupt": true, "entries": [{"name": "b", "data": "b"}]}]}'
bad "a layer whose bytes are not its digest's" \
    "layer 2 \(sha256:[0-9a-f]{64}\): blobs/sha256/[0-9a-f]{64} has sha256:[0-9a-f]{64}: its bytes are not the ones its digest names" \
    corrupt --size 16M
layout omit '{"layers": [{"omit": true, "entries": [{"name": "a", "data": "a"}]}]}'
bad "a layer the layout lacks" "layer 1: the layout has no blobs/sha256/[0-9a-f]{64}" \
    omit --size 16M
layout sizeoff '{"layers": [{"size_off": 1, "entries": [{"name": "a", "data": "a"}]}]}'
bad "a layer whose size is not its descriptor's" \
    "layer 1: blobs/sha256/[0-9a-f]{64} is [0-9]+ bytes, its descriptor says [0-9]+" \
    sizeoff --size 16M
layout dotdot '{"layers": [[{"name": "a/../../x", "data": "x"}]]}'
bad "a layer with .. in a name" 'layer 1: .*"a/\.\./\.\./x".*\.\.' dotdot --size 16M
layout abs '{"layers": [[{"name": "/abs", "data": "x"}]]}'
bad "a layer with an absolute name" 'layer 1: .*"/abs"' abs --size 16M
layout arm '{"arch": "arm64", "layers": [[{"name": "a", "data": "a"}]]}'
bad "an image for another architecture" "no image for linux/amd64 among its 1" \
    arm --size 16M
layout twice '{"twice": true, "layers": [[{"name": "a", "data": "a"}]]}'
bad "an index with two images for this machine" \
    "index.json: 2 images for linux/amd64: give a layout that holds one" \
    twice --size 16M
layout media '{"layers": [{"media": "application/vnd.example.foreign", "entries": [{"name": "a", "data": "a"}]}]}'
bad "a layer of a foreign media type" \
    'layer 1: media type "application/vnd.example.foreign" is not a tar layer' \
    media --size 16M
layout notjson '{"index": "{not json"}'
bad "an index.json that is not JSON" "index.json: index.json: not JSON" \
    notjson --size 16M
mkdir -p "$F/empty"
bad "a directory that is no layout" "--oci-layout $F/empty: an OCI image layout has index.json" \
    empty --size 16M
layout full '{"layers": [[{"name": "big", "size": 33554432}]]}'
bad "a layer larger than the file system" "layer 1: .*" full --size 16M
bad "a size that is not a multiple of 4K" \
    "--size 16385K: give a multiple of 4K from 16M to 1T" docker \
    --size 16385K
bad "a size below 16M" "--size 1M: give a multiple of 4K from 16M to 1T" \
    docker --size 1M
fails_saying oci "--rootfs and --oci-layout together" "one of them" \
    ctl image import x --kernel "$F/vmlinux" --rootfs "$F/vmlinux" \
    --oci-layout "$F/docker"
cp -r "$F/docker" "$F/stray"
: >"$F/stray/blobs/sha256/not-a-digest"
bad "a stray file among the blobs" \
    "not-a-digest: not a sha256 digest|not index.json or blobs/sha256/HEX" \
    stray --size 16M

# Layout files from clients that are not bangerctl: one client's at a
# time, at most 128, each name once, each name a layout's.
coproc HOLD { "$HELPERS/oci-hold" "$SOCK" hold; }
read -r held <&"${HOLD[0]}"
expect_eq "oci: a client holds layout files" "$held" "holding"
expect_match "oci: a second client's layout is refused while one is held" \
    "$(imp two docker --size 16M)" \
    "another OCI import is being sent; try again when it is"
exec {HOLD[1]}>&-
wait "$HOLD_PID"
wait_for 5 sh -c "[ \"\$($BANGERCTL -s $SOCK image import two --kernel $F/vmlinux --oci-layout $F/docker --size 16M 2>&1)\" = 'image two imported' ]"
expect_eq "oci: ... and taken once the holder went" \
    "$(ctl image ls --json | jq -r '.[] | select(.name == "two") | .name')" two
ctl image rm two >/dev/null
expect_match "oci: more than 128 layout files are refused" \
    "$("$HELPERS/oci-hold" "$SOCK" many)" \
    "^22 image import --oci-layout: the layout has more files than the 128 taken"
expect_match "oci: a layout file sent twice is refused" \
    "$("$HELPERS/oci-hold" "$SOCK" twice)" \
    "^22 image import --oci-layout: a layout file sent twice"
expect_eq "oci: a layout file named with a path is a bad request" \
    "$("$HELPERS/oci-hold" "$SOCK" badname)" \
    "22 bad request: this bangerctl does not match the daemon"
expect_eq "oci: ... and the daemon serves on" \
    "$(ctl image ls --json | jq length)" 5

#
# The worker's sandbox, and kills: a layout slow enough to catch the
# worker at work (256 MiB of zeros, written through libext2fs).
#
layout slow '{"layers": [[{"name": "z1", "size": 268435456}], [{"name": "z2", "size": 268435456}]]}'
imp slow slow --size 1G >"$T/slow.out" &
cpid=$!
if wait_for 20 has_pull; then
	wp=$(pull_workers | head -1)
	worker_sandbox_check "oci" pull "$wp"
	expect_eq "oci: the pull worker holds no path under the state directory but its fds" \
	    "$(ls -l /proc/"$wp"/fd 2>/dev/null | grep -c "$STATE/[^i]")" 0
else
	fail "oci: the pull worker runs during an import" "not seen"
fi
wait "$cpid"
expect_eq "oci: a 512 MiB import finishes" "$(cat "$T/slow.out")" \
    "image slow imported"
check "oci: ... and e2fsck finds it clean" e2fsck -fn "$IMAGES/slow/rootfs.ext4"
ctl image rm slow >/dev/null

imp slow slow --size 1G >"$T/slow.out" &
cpid=$!
if wait_for 20 has_pull; then
	kill -KILL "$(pull_workers | head -1)"
fi
wait "$cpid"; rc=$?
expect_eq "oci: a killed pull worker fails the import" "$rc" 1
expect_match "oci: ... saying so" "$(cat "$T/slow.out")" \
    "the pull worker ended without a result"
wait_for 5 sh -c "[ -z \"\$(find '$IMAGES' -mindepth 1 -maxdepth 1 -name '.*')\" ]"
expect_eq "oci: ... and leaves nothing behind" "$(leftovers)" ""

# (in a subshell of its own, which reports the kill to /dev/null; the
# ":" keeps it from executing bangerctl in its place)
( "$BANGERCTL" -s "$SOCK" image import gone --kernel "$F/vmlinux" \
    --oci-layout "$F/slow" --size 1G >/dev/null 2>&1; : ) 2>/dev/null &
cpid=$!
if wait_for 20 has_pull; then
	kill -KILL "$(pgrep -P "$cpid")"
fi
wait "$cpid" 2>/dev/null
wait_for 10 sh -c "[ -z \"\$(find '$IMAGES' -mindepth 1 -maxdepth 1 -name '.*')\" ]"
wait_for 10 no_pull
expect_eq "oci: a client that goes cancels the import, worker and all" \
    "$(leftovers)" ""
if [ -e "$IMAGES/gone" ]; then
	fail "oci: a cancelled import makes no image" "$IMAGES/gone exists"
else
	pass "oci: a cancelled import makes no image"
fi

# The daemon killed mid-import: its child and worker go with it, and
# the next start removes the temporary directory.
imp crash slow --size 1G >/dev/null 2>&1 &
cpid=$!
if wait_for 20 has_pull; then
	daemon_kill
fi
wait "$cpid" 2>/dev/null
wait_for 10 no_pull
expect_eq "oci: a parent killed mid-import takes its pull worker with it" \
    "$(pull_pids)" ""
daemon_start
expect_eq "oci: the next start removes what the import left" \
    "$(leftovers)" ""
expect_eq "oci: the images before the crash are all there" \
    "$(ctl image ls --json | jq -r '[.[].name] | join(" ")')" \
    "default dflt docker multi nested"

#
# A compromised pull worker (regress/helpers/pull-forge.c as
# bangerd-pull): whatever it says, the import's child checks what it
# left, takes nothing but its protocol, and waits for its end.
#
daemon_stop
install -m 0755 "$HELPERS/pull-forge" "$T/ubin/bangerd-pull"
BANGERD=$UBANGERD daemon_start
MODE=/tmp/banger-pull-forge.mode
forged() {	# MODE NAME WANT
	echo "$1" >"$MODE"
	fails_saying oci "a forged worker that $2" "$3" imp forged docker \
	    --size 16M
	expect_eq "oci: a forged worker that $2 leaves nothing behind" \
	    "$(leftovers)" ""
}
forged grow "grows the file system" \
    "the pull worker left a root file system of 1073741825 bytes, not 16777216"
forged nosuper "zeroes the superblock" "the pull worker left no ext4 superblock"
forged badtype "sends another worker's message" \
    "the pull worker sent message type [0-9]+ of 0 bytes, not in its protocol: stopped"
forged fdprogress "sends a descriptor" "not in its protocol: stopped"
forged unterminated "sends an unterminated string" "not in its protocol: stopped"
forged lie "writes on after its result" "the pull worker left no ext4 superblock"
rm -f "$MODE"

t_done

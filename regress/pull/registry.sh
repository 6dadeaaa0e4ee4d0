# bangerctl image pull, end to end through bangerd: images served by a
# registry inside the test's network namespace (regress/pull/fakereg.py,
# a registry that can misbehave on purpose, and Debian's docker-registry
# with images pushed by skopeo, regress/lib/registry.sh), fetched and
# unpacked by the pull worker, read back with debugfs; every refusal
# checked to leave nothing behind.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "registry" "needs root to start bangerd"
	t_done
fi
for c in debugfs e2fsck python3 zstd openssl curl docker-registry skopeo; do
	if ! command -v "$c" >/dev/null 2>&1; then
		fail "registry: $c is installed (scripts/deps.sh)" "missing"
		t_done
	fi
done

FAKE_PIDS=
cleanup() {
	local p
	for p in $FAKE_PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	reg_stop 2>/dev/null
	daemon_cleanup
}
daemon_setup
trap cleanup EXIT
. "$TOP/regress/lib/registry.sh"

F=$T/files
mkdir -p "$F"
chmod 0755 "$F"
mkvmlinux "$F/vmlinux"
IMAGES=$STATE/images

# The certificate of the https registries: 127.0.0.1 and 127.0.0.2.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$F/tls.key" -out "$F/tls.crt" -days 2 -subj /CN=fakereg \
    -addext "subjectAltName=IP:127.0.0.1,IP:127.0.0.2" >/dev/null 2>&1
cat >"$F/auth.json" <<'EOA'
{"auths": {"127.0.0.1:5003": {"auth": "dTpzZWNyZXQ="},
	   "https://127.0.0.1:5004/v1/": {"username": "u", "password": "secret"}}}
EOA
chmod 0600 "$F/auth.json"

# Names the parent looks up for the worker, which has no resolver:
# from a hosts file of the test's, and no DNS server to ask beyond it.
printf '127.0.0.1 localhost\n127.0.0.1 reg.test\n' >"$F/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$F/resolv.conf"
DAEMON_HOSTS=$F/hosts
DAEMON_RESOLV=$F/resolv.conf

# 5000: plain http; 5001: https with its CA; 5002: http whose blobs are
# on 127.0.0.2 as well; 5003: http with Basic credentials; 5004: https,
# a token service and credentials; 5005: docker-registry; 5011 with
# 5010 as its mirror.
vm_daemon_start registry "registry-auth \"$F/auth.json\"
registry \"127.0.0.1:5000\" { insecure }
registry \"127.0.0.1:5001\" { ca-file \"$F/tls.crt\" }
registry \"127.0.0.1:5002\" { insecure, host \"127.0.0.2:5002\" }
registry \"127.0.0.1:5003\" { insecure }
registry \"127.0.0.1:5004\" { ca-file \"$F/tls.crt\" }
registry \"127.0.0.1:5005\" { insecure }
registry \"127.0.0.1:5006\" { insecure }
registry \"127.0.0.1:5011\" { insecure, mirror \"127.0.0.1:5010\" }
registry \"reg.test:5012\" { insecure }
registry \"nx.test:5013\" { insecure }"

leftovers() {
	find "$IMAGES" -mindepth 1 -maxdepth 1 -name '.*' | tr '\n' ' '
	pull_workers | tr '\n' ' '
}

has_pull() { [ -n "$(pull_workers)" ]; }
no_pull() { [ -z "$(pull_workers)" ]; }

layout() {	# NAME SPEC: an OCI layout $F/NAME from the JSON spec
	rm -rf "${F:?}/$1"
	printf '%s' "$2" >"$F/$1.json"
	python3 "$TOP/regress/pull/mkoci.py" "$F/$1" "$F/$1.json"
}

# fake PORT ARGS: fakereg.py on 127.0.0.1:PORT in the namespace, until
# fake_stop.
fake() {
	local port=$1
	shift
	rm -f "$T/ready.$port"
	ip netns exec "$NS" python3 "$TOP/regress/pull/fakereg.py" \
	    --port "$port" --ready "$T/ready.$port" "$@" \
	    2>>"$T/fake.$port.log" &
	FAKE_PIDS="$FAKE_PIDS $!"
	wait_for 10 test -e "$T/ready.$port"
}
fake_stop() {
	local p
	for p in $FAKE_PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	FAKE_PIDS=
}

pull() {	# NAME REF [ARGS]
	local n=$1 r=$2
	shift 2
	ctl image pull "$r" --name "$n" --kernel "$F/vmlinux" "$@" 2>&1
}
bad() {		# NAME WANT REF [ARGS]
	local name=$1 want=$2
	shift 2
	fails_saying registry "$name" "$want" pull bad "$@"
	expect_eq "registry: $name leaves nothing behind" "$(leftovers)" ""
	if [ -e "$IMAGES/bad" ]; then
		fail "registry: $name makes no image" "$IMAGES/bad exists"
		ctl image rm bad >/dev/null 2>&1
	fi
}
dfs() { debugfs -R "$1" "$2" 2>/dev/null; }
istat() { dfs "stat $2" "$1"; }

layout multi '{"layers": [
 [{"name": "etc", "type": "dir", "mode": 493},
  {"name": "etc/hostname", "data": "reg-host\n", "mode": 420},
  {"name": "usr/bin/tool", "data": "#!/bin/sh\necho tool\n", "mode": 2541},
  {"name": "home/u/notes", "data": "mine", "mode": 384, "uid": 1000,
   "gid": 1000, "mtime": 1600000000},
  {"name": "usr/bin/tool2", "type": "hardlink", "target": "usr/bin/tool"},
  {"name": "bin", "type": "symlink", "target": "usr/bin"},
  {"name": "evil", "type": "symlink", "target": "/../../etc/shadow"},
  {"name": "dev/null", "type": "char", "major": 1, "minor": 3, "mode": 438},
  {"name": "capped", "data": "x", "xattrs": {"user.note": "hello"}},
  {"name": "gone", "data": "to be whited out"},
  {"name": "opq/lower", "data": "lower"}],
 {"compress": "zstd", "entries": [
  {"name": "big", "size": 67108864},
  {"name": ".wh.gone", "data": ""},
  {"name": "opq/upper", "data": "upper"},
  {"name": "opq/.wh..wh..opq", "data": ""},
  {"name": "bin/via-link", "data": "through the symlink"}]},
 {"compress": "none", "entries": [
  {"name": "etc/hostname", "data": "changed\n", "mode": 420}]}
]}'
layout small '{"layers": [[{"name": "s", "data": "small"}], [{"name": "t", "data": "two"}]]}'

# Every entry kind through a registry, as a layout import gives it.
check_multi() {	# WHAT IMAGE
	local R=$IMAGES/$2/rootfs.ext4
	check "registry: $1: e2fsck finds the file system clean" e2fsck -fn "$R"
	check "registry: $1: the file system is the layers, entry by entry" \
	    python3 "$TOP/regress/pull/fscompare.py" "$R" "$F/multi.json"
	expect_eq "registry: $1: a file's content is the last layer's" \
	    "$(dfs 'cat /etc/hostname' "$R")" "changed"
	expect_match "registry: $1: a setuid file keeps its mode" \
	    "$(istat "$R" /usr/bin/tool | head -3 | tr '\n' ' ')" "Mode: +04755"
	expect_match "registry: $1: a user's file keeps owner, mode, time" \
	    "$(istat "$R" /home/u/notes | tr '\n' ' ')" \
	    "Mode: +0600.*User: +1000 +Group: +1000.*mtime: 0x5f5e1000"
	expect_match "registry: $1: a hard link is one inode" \
	    "$(istat "$R" /usr/bin/tool2 | tr '\n' ' ')" "Links: 2"
	expect_eq "registry: $1: a symlink out of the image is stored as written" \
	    "$(dfs 'stat /evil' "$R" | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')" \
	    "/../../etc/shadow"
	expect_match "registry: $1: a device node keeps its numbers" \
	    "$(istat "$R" /dev/null | tr '\n' ' ')" \
	    "Type: character special.*Device major/minor number: 01:03"
	expect_match "registry: $1: an xattr is kept" \
	    "$(dfs 'ea_list /capped' "$R" | tr '\n' ' ')" 'user.note.*hello'
	expect_eq "registry: $1: a 64 MiB file is whole" \
	    "$(dfs 'cat /big' "$R" | wc -c)" 67108864
	expect_match "registry: $1: a whiteout removes a lower file" \
	    "$(debugfs -R 'stat /gone' "$R" 2>&1)" "File not found"
	expect_eq "registry: $1: an opaque directory keeps its own layer's file" \
	    "$(dfs 'ls /opq' "$R" | tr -s ' \n' '\n' | grep -v '^\(\.\|\.\.\|([0-9]*)\|[0-9]*\)$' | sort | tr '\n' ' ')" \
	    "upper "
	expect_eq "registry: $1: a later layer writes through a lower symlink" \
	    "$(dfs 'cat /usr/bin/via-link' "$R")" "through the symlink"
}

#
# Plain http, anonymous.
#
fake 5000 --repo app=$F/multi --repo team/small=$F/small
expect_eq "registry: image pull over http says so" \
    "$(pull multi 127.0.0.1:5000/app:latest --size 160M)" "image multi imported"
check_multi "http" multi
expect_eq "registry: the pull leaves nothing behind" "$(leftovers)" ""
expect_eq "registry: image show names the reference and the manifest's digest" \
    "$(ctl image show --json multi | jq -r '.pulled_from + " " + .manifest_digest')" \
    "127.0.0.1:5000/app:latest $(jq -r '.manifests[0].digest' "$F/multi/index.json")"
expect_match "registry: ... and so does its text" \
    "$(ctl image show multi | tr '\n' ' ')" \
    "pulled +127.0.0.1:5000/app:latest.*manifest +sha256:"
expect_match "registry: the daemon logs the manifest's digest" "$(cat "$DLOG")" \
    "from sha256:[0-9a-f]{64}: 3 layers"
expect_eq "registry: an image's name is its repository's and tag's by default" \
    "$(ctl image pull 127.0.0.1:5000/team/small --kernel-from multi 2>&1)" \
    "image small-latest imported"
expect_eq "registry: ... with both layers" \
    "$(dfs 'cat /s' "$IMAGES/small-latest/rootfs.ext4")$(dfs 'cat /t' "$IMAGES/small-latest/rootfs.ext4")" \
    "smalltwo"
ctl image rm small-latest >/dev/null
# On a terminal: a progress bar of the bytes fetched, then unpacked.
script -qec "$BANGERCTL -s $SOCK image pull 127.0.0.1:5000/app --name tty --kernel-from multi --size 160M" \
    /dev/null >"$T/tty.out" 2>&1
expect_match "registry: on a terminal, a progress bar names the pull" \
    "$(tr '\r' '\n' <"$T/tty.out")" "pulling tty.*100%"
expect_match "registry: ... and the result follows" "$(cat "$T/tty.out")" \
    "image tty imported"
ctl image rm tty >/dev/null
digest=$(jq -r '.manifests[0].digest' "$F/small/index.json")
expect_eq "registry: a pull by digest" \
    "$(pull bydigest "127.0.0.1:5000/team/small@$digest" --size 16M)" \
    "image bydigest imported"
ctl image rm bydigest >/dev/null
bad "an unknown tag" "manifests/nope: HTTP 404: MANIFEST_UNKNOWN" \
    127.0.0.1:5000/app:nope --size 16M
bad "an unknown repository" "HTTP 404: (NAME|MANIFEST)_UNKNOWN" \
    127.0.0.1:5000/other --size 16M
bad "a digest the registry has not" "HTTP 404" \
    "127.0.0.1:5000/app@sha256:$(printf '%064d' 0)" --size 16M
bad "a registry that is not listening" "cannot connect: Connection refused" \
    127.0.0.1:5009/app --size 16M
fails_saying registry "a reference that is not one" \
    "image pull 127.0.0.1:5000/App: a repository part is not lowercase" \
    pull bad 127.0.0.1:5000/App
expect_eq "registry: ... and sends nothing" "$(grep -c '/v2/App' "$T/fake.5000.log")" 0
fails_saying registry "a member of group banger" "only root may import images" \
    user image pull 127.0.0.1:5000/app --kernel-from multi
fake_stop
# 20 MiB that no compression makes smaller, in a layer of its own.
head -c 20971520 /dev/urandom >"$F/rnd"
tar -C "$F" -cf "$F/rnd.tar" rnd
layout rnd "{\"layers\": [{\"compress\": \"none\", \"tarfile\": \"$F/rnd.tar\"}]}"
fake 5000 --repo rnd=$F/rnd
bad "an image whose blobs are more than --size" \
    "layer 1: the image's blobs come to more than 16777216 bytes: give a larger --size" \
    127.0.0.1:5000/rnd --size 16M
expect_eq "registry: ... and it stopped before that layer" \
    "$(grep -c 'GET /v2/rnd/blobs/.* 200' "$T/fake.5000.log")" 1
fake_stop

# A multi-platform image: the index's entry for linux/amd64 is taken.
layout nested '{"nested": true, "layers": [{"compress": "none", "entries": [{"name": "n", "data": "nested"}]}]}'
layout docker '{"docker": true, "layers": [[{"name": "d", "data": "docker"}]]}'
layout dlist '{"docker": true, "nested": true, "others": ["arm64", "s390x"], "layers": [[{"name": "l", "data": "list"}]]}'
layout armonly '{"nested": true, "arch": "arm64", "others": ["s390x"], "layers": [[{"name": "a", "data": "arm"}]]}'
layout dotdot '{"layers": [[{"name": "ok", "data": "ok"}, {"name": "../../escape", "data": "x"}]]}'
layout abs '{"layers": [[{"name": "/etc/abs", "data": "x"}]]}'
fake 5000 --repo nested=$F/nested --repo docker=$F/docker \
    --repo dlist=$F/dlist --repo armonly=$F/armonly \
    --repo dotdot=$F/dotdot --repo abs=$F/abs
expect_eq "registry: an image index is narrowed to linux/amd64" \
    "$(pull nested 127.0.0.1:5000/nested --size 16M)" "image nested imported"
expect_eq "registry: ... and its image's file is there" \
    "$(dfs 'cat /n' "$IMAGES/nested/rootfs.ext4")" "nested"
expect_eq "registry: a Docker schema 2 image pulls" \
    "$(pull docker 127.0.0.1:5000/docker --size 16M)" "image docker imported"
expect_eq "registry: a Docker manifest list of three platforms: amd64's is taken" \
    "$(pull dlist 127.0.0.1:5000/dlist --size 16M)" "image dlist imported"
expect_eq "registry: ... with its file" \
    "$(dfs 'cat /l' "$IMAGES/dlist/rootfs.ext4")" "list"
expect_match "registry: ... and no other platform's manifest fetched" \
    "$(grep -c 'GET /v2/dlist/manifests/sha256' "$T/fake.5000.log")" "^1$"
bad "an index with no image for linux/amd64" \
    "the image index: no image for linux/amd64 among its 2" \
    127.0.0.1:5000/armonly --size 16M
bad "a layer with ../" "\.\." 127.0.0.1:5000/dotdot --size 16M
bad "a layer with an absolute path" "absolute" 127.0.0.1:5000/abs --size 16M
fake_stop

# A registry that lies or fails: each refused, nothing left.
fmode() {	# NAME WANT MODE
	fake 5000 --repo app=$F/small --mode "$3"
	bad "$1" "$2" 127.0.0.1:5000/app --size 16M
	fake_stop
}
fmode "a layer that is not its digest" \
    "layer 1: its bytes hash to sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}: refused" \
    corrupt-blob
fmode "a manifest that is not the digest the registry gives" \
    "the registry says its digest is sha256:[0-9a-f]{64}, its bytes hash to" \
    corrupt-manifest
fmode "a digest header that is not the manifest's" \
    "the registry says its digest is sha256:" wrong-digest-header
fmode "a manifest over the 4 MiB cap" \
    "larger than the 4194304 bytes taken: stopped" big-manifest
fmode "a layer longer than its descriptor" "sent more than its [0-9]+ bytes: stopped" \
    long-blob
fmode "a layer cut short" "layer 1: .*(transfer closed|bytes came)" short-blob
fmode "a registry's error" "HTTP 500" error-500
fmode "a redirect to another host" \
    "host 127.0.0.2:5000 is not the registry's \(127.0.0.1:5000\); a registry block in bangerd.conf may name it" \
    redirect-other
fake 5000 --repo app=$F/small --mode redirect-same
expect_eq "registry: a redirect on the same host is followed" \
    "$(pull same 127.0.0.1:5000/app --size 16M)" "image same imported"
fake_stop
# A host the registry's block lists; the token stays with the registry
# (that listener refuses a request that carries one).
fake 5002 --repo app=$F/small --mode redirect-other --token
expect_eq "registry: a redirect to a listed host is followed, without the token" \
    "$(pull other 127.0.0.1:5002/app --size 16M)" "image other imported"
expect_match "registry: ... and the blob came from there" \
    "$(cat "$T/fake.5002.log")" "GET http://127.0.0.2:5002/v2/app/blobs/sha256:[0-9a-f]+ 200"
fake_stop

# Credentials: Basic, and a token service asked with them, over https.
fake 5003 --repo app=$F/small --basic u:secret
expect_eq "registry: Basic credentials from registry-auth" \
    "$(pull basic 127.0.0.1:5003/app --size 16M)" "image basic imported"
fake_stop
fake 5006 --repo app=$F/small --basic u:other
bad "a registry that wants credentials there are none for" \
    "HTTP 401.*the registry wants credentials: give them in the registry-auth file" \
    127.0.0.1:5006/app --size 16M
fake_stop
fake 5004 --repo app=$F/multi --tls "$F/tls.crt" "$F/tls.key" --token --basic u:secret
expect_eq "registry: https with a token service and credentials" \
    "$(pull token 127.0.0.1:5004/app --size 160M)" "image token imported"
check_multi "https and a token" token
expect_match "registry: ... the token asked for with the repository's scope" \
    "$(cat "$T/fake.5004.log")" "GET /token\?service=fakereg&scope=repository%3Aapp%3Apull 200"
fake_stop
fake 5001 --repo app=$F/small --tls "$F/tls.crt" "$F/tls.key"
expect_eq "registry: https with the registry's ca-file" \
    "$(pull tls 127.0.0.1:5001/app --size 16M)" "image tls imported"
fake_stop
fake 5007 --repo app=$F/small --tls "$F/tls.crt" "$F/tls.key"
bad "a certificate the system's CA bundle does not vouch for" \
    "TLS|certificate|SSL" 127.0.0.1:5007/app --size 16M
fake_stop
fake 5001 --repo app=$F/small
bad "plain http where https is wanted" "127.0.0.1:5001" \
    127.0.0.1:5001/app --size 16M
fake_stop
chmod 0644 "$F/auth.json"
fake 5003 --repo app=$F/small --basic u:secret
bad "a registry-auth file others may read" \
    "registry-auth $F/auth.json: must be a regular file of root's that only root reads.*mode 0644" \
    127.0.0.1:5003/app --size 16M
fake_stop
chmod 0600 "$F/auth.json"

# A registry by name: the parent looks it up, the worker connects to
# the address it was given.
fake 5012 --repo app=$F/small
expect_eq "registry: a registry named, looked up by the parent" \
    "$(pull named reg.test:5012/app --size 16M)" "image named imported"
expect_eq "registry: ... which served it" \
    "$(grep -c 'GET /v2/app/manifests/latest 200' "$T/fake.5012.log")" 1
ctl image rm named >/dev/null
fake_stop
bad "a registry whose name does not resolve" \
    "registry nx.test:5013: cannot resolve nx.test" nx.test:5013/app --size 16M

# A mirror: asked first; a failure of its, then the registry.
fake 5010 --repo app=$F/small
expect_eq "registry: a mirror serves the image while the registry is down" \
    "$(pull mirrored 127.0.0.1:5011/app --size 16M)" "image mirrored imported"
expect_match "registry: ... from the mirror" "$(cat "$T/fake.5010.log")" \
    "GET /v2/app/blobs/sha256:[0-9a-f]+ 200"
ctl image rm mirrored >/dev/null
fake_stop
fake 5010 --repo app=$F/small --mode corrupt-blob
fake 5011 --repo app=$F/small
expect_eq "registry: a mirror that serves a bad layer: the registry's is taken" \
    "$(pull mirrored 127.0.0.1:5011/app --size 16M)" "image mirrored imported"
expect_match "registry: ... and the daemon says why the mirror was left" \
    "$(cat "$DLOG")" "mirror 127.0.0.1:5010: layer 1: its bytes hash to sha256:[0-9a-f]+, not"
expect_eq "registry: ... with the registry's bytes" \
    "$(dfs 'cat /s' "$IMAGES/mirrored/rootfs.ext4")" "small"
ctl image rm mirrored >/dev/null
fake_stop
bad "a mirror and a registry both down: the registry's error" \
    "http://127.0.0.1:5011/v2/app/manifests/latest: cannot connect: Connection refused" \
    127.0.0.1:5011/app --size 16M

#
# Debian's docker-registry, the images pushed by skopeo.
#
reg_start 5005 "$T/registry" >/dev/null
reg_push "$F/multi" app:v1 5005 >/dev/null
expect_eq "registry: a docker-registry's image pulls" \
    "$(pull dreg 127.0.0.1:5005/app:v1 --size 160M)" "image dreg imported"
check_multi "docker-registry" dreg
layer=$(jq -r '.layers[0].digest' "$F/multi/blobs/sha256/$(jq -r '.manifests[0].digest' "$F/multi/index.json" | cut -d: -f2)")
blob=$(reg_blob_path "$T/registry" "$layer")
printf 'X' | dd of="$blob" bs=1 seek=10 conv=notrunc status=none
bad "a docker-registry blob changed on its disk" \
    "layer 1: its bytes hash to sha256:[0-9a-f]{64}, not $layer: refused" \
    127.0.0.1:5005/app:v1 --size 160M
reg_stop

#
# The worker's sandbox and kills, on a registry that stalls a layer.
#
fake 5000 --repo app=$F/multi --mode stall-blob
pull stall 127.0.0.1:5000/app --size 160M >"$T/stall.out" 2>&1 &
cpid=$!
if wait_for 20 sh -c "grep -q 'GET /v2/app/blobs' '$T/fake.5000.log'" &&
    wait_for 10 has_pull; then
	wp=$(pull_workers | head -1)
	worker_sandbox_check "registry" pull "$wp"
	expect_eq "registry: the pull worker holds no path under the state directory" \
	    "$(ls -l /proc/"$wp"/fd 2>/dev/null | grep -c "$STATE/[^i]")" 0
fi
wait "$cpid"; rc=$?
expect_eq "registry: a stalled layer fails the pull" "$rc" 1
expect_match "registry: ... saying so" "$(cat "$T/stall.out")" \
    "layer 1: http://127.0.0.1:5000/v2/app/blobs/sha256:[0-9a-f]+: stalled"
expect_eq "registry: ... and leaves nothing behind" "$(leftovers)" ""

pull gone 127.0.0.1:5000/app --size 160M >/dev/null 2>&1 &
cpid=$!
wait_for 10 has_pull && sleep 0.5 && kill -KILL "$(pull_workers | head -1)"
wait "$cpid"; rc=$?
expect_eq "registry: a killed pull worker fails the pull" "$rc" 1
wait_for 5 sh -c "[ -z \"\$(find '$IMAGES' -mindepth 1 -maxdepth 1 -name '.*')\" ]"
expect_eq "registry: ... and leaves nothing behind" "$(leftovers)" ""

# (in a subshell of its own, which reports the kill to /dev/null; the
# ":" keeps it from executing bangerctl in its place)
( "$BANGERCTL" -s "$SOCK" image pull 127.0.0.1:5000/app --name gone \
    --kernel "$F/vmlinux" --size 160M >/dev/null 2>&1; : ) 2>/dev/null &
cpid=$!
wait_for 10 has_pull && sleep 0.5 && kill -KILL "$(pgrep -P "$cpid")"
wait "$cpid" 2>/dev/null
wait_for 10 sh -c "[ -z \"\$(find '$IMAGES' -mindepth 1 -maxdepth 1 -name '.*')\" ]"
wait_for 10 no_pull
expect_eq "registry: a client that goes cancels the pull, worker and all" \
    "$(leftovers)" ""

pull crash 127.0.0.1:5000/app --size 160M >/dev/null 2>&1 &
cpid=$!
wait_for 10 has_pull && sleep 0.5 && daemon_kill
wait "$cpid" 2>/dev/null
wait_for 10 no_pull
expect_eq "registry: a parent killed mid-pull takes its pull worker with it" \
    "$(pull_workers | tr '\n' ' ')" ""
daemon_start
expect_eq "registry: the next start removes what the pull left" "$(leftovers)" ""
expect_eq "registry: the images before the crash are all there" \
    "$(ctl image ls --json | jq -r '[.[].name] | join(" ")')" \
    "default basic dlist docker dreg multi nested other same tls token"
fake_stop
t_done

# bangerctl image pull, end to end through bangerd: images served by a
# registry inside the test's network namespace (regress/pull/fakereg.py,
# a registry that can misbehave on purpose, and Debian's docker-registry
# with images pushed by skopeo, reglib.sh), fetched and unpacked by the
# pull worker, read back with debugfs; every refusal checked to leave
# nothing behind.
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
. "$TOP/regress/pull/reglib.sh"

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

# 5000: plain http; 5001: https with its CA; 5002: http whose blobs are
# on 127.0.0.2 as well; 5003: http with Basic credentials; 5004: https,
# a token service and credentials; 5005: docker-registry.
vm_daemon_start registry "registry-auth \"$F/auth.json\"
registry \"127.0.0.1:5000\" { insecure }
registry \"127.0.0.1:5001\" { ca-file \"$F/tls.crt\" }
registry \"127.0.0.1:5002\" { insecure, host \"127.0.0.2:5002\" }
registry \"127.0.0.1:5003\" { insecure }
registry \"127.0.0.1:5004\" { ca-file \"$F/tls.crt\" }
registry \"127.0.0.1:5005\" { insecure }
registry \"127.0.0.1:5006\" { insecure }"

leftovers() {
	find "$IMAGES" -mindepth 1 -maxdepth 1 -name '.*' | tr '\n' ' '
	pull_workers | tr '\n' ' '
}

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
expect_match "registry: the daemon logs the manifest's digest" "$(cat "$DLOG")" \
    "from sha256:[0-9a-f]{64}: 3 layers"
t_done

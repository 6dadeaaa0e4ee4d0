# Self-update end to end, against real servers on 127.0.0.1: releases
# signed by signify-openbsd with keys made here, fetched and checked by
# update-drive (bangerd/update/fetch.c in a child sandboxed like the
# update worker: chroot and nobody when root, RLIMIT_NPROC 0, seccomp
# with the workers' list plus upd_seccomp_syscalls), then checked again by its
# "parent", which only then writes the artifact out ("installs" it).
# Every refusal must say why and install nothing.  Then the release key
# embedding and scripts/publish-release.sh.
. "$TOP/regress/lib/lib.sh"

DRIVE=$HELPERS/update-drive
for t in python3 signify-openbsd jq; do
	if ! command -v $t >/dev/null 2>&1; then
		skip "update" "needs $t (sh scripts/deps.sh installs it)"
		t_done
	fi
done
if [ ! -x "$DRIVE" ]; then
	fail "update: update-drive is built" "$DRIVE is missing"
	t_done
fi
# LeakSanitizer cannot run in the seccomp-confined child.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0"
unset MAKEFLAGS MAKELEVEL MFLAGS

T=$(mktemp -d /tmp/banger-update.XXXXXX)
chmod 0755 "$T"
SRVPIDS=
cleanup() {
	local p
	for p in $SRVPIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

case $(uname -m) in
x86_64)		ARCH=x86_64 OTHER=aarch64 ;;
aarch64)	ARCH=aarch64 OTHER=x86_64 ;;
*)		skip "update" "unsupported architecture $(uname -m)"; t_done ;;
esac
PLACEHOLDER=RWQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA

# The servers: srv NAME MODE [ARG...] starts one on a free port, kept
# in $T/NAME.port; each is killed by its PID at the end.
cat >"$T/srv.py" <<'EOF'
# srv.py PORTFILE MODE [ARG...], on 127.0.0.1 and a free port:
#   serve DIR [CERT KEY]  files from DIR (https with CERT and KEY)
#   stall                 accept connections and never answer
#   truncate FILE         Content-Length of FILE, half of it, then close
#   endless               200 without Content-Length, bytes forever
#   redirect URL          302 to URL
import functools, http.server, os, socket, ssl, sys

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass

def announce(port):
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])

mode, args = sys.argv[2], sys.argv[3:]
if mode == "stall":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    announce(s.getsockname()[1])
    held = []
    while True:
        held.append(s.accept()[0])

class H(Quiet):
    def do_GET(self):
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", args[0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif mode == "truncate":
            data = open(args[0], "rb").read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
        elif mode == "endless":
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
            self.close_connection = True
        else:
            Quiet.do_GET(self)

http.server.ThreadingHTTPServer.daemon_threads = True
if mode == "serve":
    handler = functools.partial(H, directory=args[0])
else:
    H.protocol_version = "HTTP/1.0"
    handler = H
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
if mode == "serve" and len(args) == 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args[1], args[2])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
announce(srv.server_address[1])
srv.serve_forever()
EOF

srv() {
	local name=$1
	shift
	python3 "$T/srv.py" "$T/$name.port" "$@" 2>"$T/$name.log" &
	SRVPIDS="$SRVPIDS $!"
	if ! wait_for 10 test -s "$T/$name.port"; then
		fail "update: the $name server starts" "no port after 10 s"
		t_done
	fi
}
port() { cat "$T/$1.port"; }

# A free port nobody listens on (for "connection refused").
closed_port() {
	python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# mkman FILE VERSION URL LENGTH SHA [EXPIRES [ARCH]]
mkman() {
	jq -n --arg v "$2" --arg url "$3" --argjson len "$4" --arg sha "$5" \
	    --arg exp "${6:-2099-01-01T00:00:00Z}" --arg a "${7:-$ARCH}" \
	    '{releases: [{version: $v, released: "2020-01-01T00:00:00Z",
	      expires: $exp, artifacts: {($a): {url: $url, length: $len,
	      sha256: $sha}}}]}' >"$1"
}
sign() { signify-openbsd -S -s "${2:-$T/k.sec}" -m "$1" -x "$1.sig"; }
keynum() { sed -n 2p "$1" | base64 -d | od -An -tx1 -j2 -N8 | tr -d ' \n'; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }

# dr ARG...: run the drive sandboxed with the test key, http to
# loopback allowed; sets DR_OUT, DR_ERR, DR_RC.
dr() {
	DR_OUT=$("$DRIVE" -S -H -k "$T/k.pub" "$@" 2>"$T/dr.err")
	DR_RC=$?
	DR_ERR=$(cat "$T/dr.err")
}

# refused NAME CODE MESSAGE-REGEX DRIVE-ARG...: apply must be refused
# with CODE and the message, and install nothing.
refused() {
	local name=$1 code=$2 pat=$3
	shift 3
	rm -f "$T/installed"
	dr -o "$T/installed" apply "$@"
	expect_match "update: $name: refused, saying why" "$DR_ERR" \
	    "^update-drive: $code: $pat"
	if [ "$DR_RC" -eq 1 ] && [ ! -e "$T/installed" ]; then
		pass "update: $name: nothing installed"
	else
		fail "update: $name: nothing installed" \
		    "rc $DR_RC, installed: $(ls "$T/installed" 2>&1)"
	fi
}

# Keys and the served tree.
(cd "$T" && signify-openbsd -G -n -c "banger test release key" \
    -p k.pub -s k.sec && signify-openbsd -G -n -c "another key" \
    -p k2.pub -s k2.sec) || { fail "update: signify-openbsd -G" "failed"; t_done; }
W=$T/www
mkdir -p "$W"
srv http serve "$W"
B=http://127.0.0.1:$(port http)
ART=banger-1.2.0-$ARCH.tar
head -c 200000 /dev/urandom >"$T/artifact"
ASHA=$(sha "$T/artifact")

# scenario DIR: a directory with the artifact, for one manifest.
scenario() {
	mkdir -p "$W/$1"
	cp "$T/artifact" "$W/$1/$ART"
}

# --- the good path
scenario good
mkman "$W/good/manifest.json" 1.2.0 "$B/good/$ART" 200000 "$ASHA"
sign "$W/good/manifest.json"
dr check "$B/good/manifest.json"
expect_eq "update: check names the release" "$DR_OUT" \
    "update available: 1.2.0 for $ARCH, 200000 bytes, $B/good/$ART"
rm -f "$T/installed"
dr -p -o "$T/installed" apply "$B/good/manifest.json"
expect_eq "update: apply verifies the release" "$DR_OUT" \
    "verified 1.2.0 for $ARCH: 200000 bytes, sha256 $ASHA"
check "update: the artifact's bytes are installed" cmp "$T/installed" \
    "$T/artifact"
expect_eq "update: progress starts at 0" \
    "$(grep '^progress' "$T/dr.err" | head -1)" "progress 0/200000"
expect_eq "update: progress ends at the total" \
    "$(grep '^progress' "$T/dr.err" | tail -1)" "progress 200000/200000"
n=$(grep -c '^progress' "$T/dr.err")
if [ "$n" -ge 2 ] && [ "$n" -le 102 ]; then
	pass "update: progress is reported at most once a percent ($n)"
else
	fail "update: progress is reported at most once a percent" "$n lines"
fi
dr -o "$T/installed2" apply "http://localhost:$(port http)/good/manifest.json"
expect_eq "update: http://localhost works too (no resolver needed)" \
    "$DR_RC" 0

# --- the signature
scenario tampered
cp "$W/good/manifest.json" "$W/tampered/"
sign "$W/tampered/manifest.json"
printf ' ' >>"$W/tampered/manifest.json"	# still JSON, not what was signed
refused "a manifest altered after signing" UPD_EBADSIG \
    "the manifest's signature does not verify: it was altered after signing" \
    "$B/tampered/manifest.json"

scenario nosig
cp "$W/good/manifest.json" "$W/nosig/"
refused "a manifest without signature" UPD_ENOSIG \
    "the manifest has no signature: $B/nosig/manifest\.json\.sig answered HTTP 404" \
    "$B/nosig/manifest.json"

scenario badsig
cp "$W/good/manifest.json" "$W/good/manifest.json.sig" "$W/badsig/"
sed -i '2s/^\(....\)./\1!/' "$W/badsig/manifest.json.sig"
refused "a malformed signature" UPD_ESIGFORMAT \
    "the manifest's signature is malformed: bad base64" \
    "$B/badsig/manifest.json"

scenario crlfsig
cp "$W/good/manifest.json" "$W/good/manifest.json.sig" "$W/crlfsig/"
sed -i 's/$/\r/' "$W/crlfsig/manifest.json.sig"
refused "a signature with CRLF line endings" UPD_ESIGFORMAT \
    "the manifest's signature is malformed: CRLF line endings \(each line must end in a newline alone\)$" \
    "$B/crlfsig/manifest.json"

scenario crlfman
jq . "$W/good/manifest.json" >"$W/crlfman/manifest.json"
sign "$W/crlfman/manifest.json"
sed -i 's/$/\r/' "$W/crlfman/manifest.json"
refused "a manifest turned CRLF after signing" UPD_EBADSIG \
    "the manifest's signature does not verify: the manifest has CRLF line endings; was it converted after signing\?" \
    "$B/crlfman/manifest.json"

scenario otherkey
cp "$W/good/manifest.json" "$W/otherkey/"
sign "$W/otherkey/manifest.json" "$T/k2.sec"
refused "a manifest signed by another key" UPD_EKEYNUM \
    "the manifest is signed with key $(keynum "$T/k2.pub"), not with this bangerd's release key $(keynum "$T/k.pub")" \
    "$B/otherkey/manifest.json"

# --- the release chosen
scenario expired
mkman "$W/expired/manifest.json" 1.2.0 "$B/expired/$ART" 200000 "$ASHA" \
    2020-01-02T00:00:00Z
sign "$W/expired/manifest.json"
refused "an expired manifest" UPD_EEXPIRED \
    "the manifest has expired: its newest release, 1\.2\.0, expired at 2020-01-02T00:00:00Z \(now [-0-9T:]+Z\); the publisher must sign it again" \
    "$B/expired/manifest.json"
refused "a manifest past its expiry (clock ahead)" UPD_EEXPIRED \
    "the manifest has expired: .*\(now 2100-01-01T00:00:00Z\)" \
    -t 2100-01-01T00:00:00Z "$B/good/manifest.json"
refused "the running version" UPD_EUPTODATE \
    "no newer release: the newest in the manifest is 1\.2\.0 and this bangerd is 1\.2\.0" \
    -r 1.2.0 "$B/good/manifest.json"
refused "an older version than the running one" UPD_EUPTODATE \
    "no newer release: the newest in the manifest is 1\.2\.0 and this bangerd is 1\.10$" \
    -r 1.10 "$B/good/manifest.json"
refused "a version installed before" UPD_EROLLBACK \
    "refusing release 1\.2\.0: version 1\.2\.0 has been installed before" \
    -i 1.2.0 "$B/good/manifest.json"
refused "a version older than one installed" UPD_EROLLBACK \
    "refusing release 1\.2\.0: version 1\.3 has been installed before \(an old manifest replayed\?\)$" \
    -i 1.3 "$B/good/manifest.json"
refused "no artifact for this architecture" UPD_ENOARCH \
    "release 1\.2\.0 has no artifact for $OTHER \(only for $ARCH\)" \
    -a "$OTHER" "$B/good/manifest.json"
scenario wrongarch
cp "$T/artifact" "$W/wrongarch/banger-1.2.0-$OTHER.tar"
mkman "$W/wrongarch/manifest.json" 1.2.0 \
    "$B/wrongarch/banger-1.2.0-$OTHER.tar" 200000 "$ASHA"
sign "$W/wrongarch/manifest.json"
refused "another architecture's artifact" UPD_EWRONGARCH \
    "the $ARCH artifact of release 1\.2\.0 is \"banger-1\.2\.0-$OTHER\.tar\", not banger-1\.2\.0-$ARCH\.tar: wrong architecture" \
    "$B/wrongarch/manifest.json"

# --- the artifact
scenario short
mkman "$W/short/manifest.json" 1.2.0 "$B/short/$ART" 200010 "$ASHA"
sign "$W/short/manifest.json"
refused "an artifact shorter than declared" UPD_ELENGTH \
    "the artifact at $B/short/$ART is 200000 bytes, the manifest says 200010" \
    "$B/short/manifest.json"
scenario long
mkman "$W/long/manifest.json" 1.2.0 "$B/long/$ART" 199990 "$ASHA"
sign "$W/long/manifest.json"
refused "an artifact longer than declared" UPD_ETOOBIG \
    "the artifact at $B/long/$ART is larger than its declared 199990 bytes; stopped reading" \
    "$B/long/manifest.json"
scenario sha
head -c 200000 /dev/zero >"$T/zeros"
mkman "$W/sha/manifest.json" 1.2.0 "$B/sha/$ART" 200000 "$(sha "$T/zeros")"
sign "$W/sha/manifest.json"
refused "an artifact with another SHA-256" UPD_ESHA256 \
    "the artifact at $B/sha/$ART has SHA-256 $ASHA, the manifest says $(sha "$T/zeros")" \
    "$B/sha/manifest.json"

srv endless endless
E=http://127.0.0.1:$(port endless)
mkdir -p "$W/endless"
mkman "$W/endless/manifest.json" 1.2.0 "$E/$ART" 1000 "$ASHA"
sign "$W/endless/manifest.json"
start=$(date +%s)
refused "an endless artifact" UPD_ETOOBIG \
    "the artifact at $E/$ART is larger than its declared 1000 bytes; stopped reading" \
    "$B/endless/manifest.json"
refused "an endless manifest" UPD_ETOOBIG \
    "the manifest at $E/manifest\.json is larger than 1048576 bytes; stopped reading" \
    "$E/manifest.json"
if [ $(($(date +%s) - start)) -lt 10 ]; then
	pass "update: reading stops at the cap, not at the server's end"
else
	fail "update: reading stops at the cap" "took $(($(date +%s) - start)) s"
fi
mkdir -p "$W/big"
head -c 1048577 /dev/zero | tr '\0' ' ' >"$W/big/manifest.json"
sign "$W/big/manifest.json"
refused "a manifest over 1 MiB" UPD_ETOOBIG \
    "the manifest at $B/big/manifest\.json is larger than 1048576 bytes; stopped reading" \
    "$B/big/manifest.json"

# --- the network
srv stall stall
start=$(date +%s%N)
refused "a server that never answers" UPD_ETIMEOUT \
    "cannot fetch the manifest from http://127\.0\.0\.1:$(port stall)/manifest\.json: timed out \(Operation timed out after" \
    -T 1000 "http://127.0.0.1:$(port stall)/manifest.json"
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ]; then
	pass "update: the total timeout is kept (${ms} ms for 1000)"
else
	fail "update: the total timeout is kept" "${ms} ms for 1000"
fi
cp_=$(closed_port)
refused "a closed port" UPD_ECONNREFUSED \
    "cannot fetch the manifest from http://127\.0\.0\.1:$cp_/manifest\.json: connection refused$" \
    "http://127.0.0.1:$cp_/manifest.json"
srv trunc truncate "$T/artifact"
mkdir -p "$W/trunc"
mkman "$W/trunc/manifest.json" 1.2.0 \
    "http://127.0.0.1:$(port trunc)/$ART" 200000 "$ASHA"
sign "$W/trunc/manifest.json"
refused "a truncated download" UPD_ETRUNCATED \
    "cannot fetch the artifact from http://127\.0\.0\.1:$(port trunc)/$ART: truncated: the server closed the connection after 100000 of 200000 bytes" \
    "$B/trunc/manifest.json"
srv redir redirect "$B/good/manifest.json"
refused "a redirect" UPD_EHTTP \
    "cannot fetch the manifest from http://127\.0\.0\.1:$(port redir)/manifest\.json: the server answered HTTP 302 \(redirects are not followed\)" \
    "http://127.0.0.1:$(port redir)/manifest.json"
rm -f "$T/installed"
DR_OUT=$("$DRIVE" -S -k "$T/k.pub" -o "$T/installed" apply \
    "$B/good/manifest.json" 2>&1)
expect_eq "update: plain http is refused unless allowed" "$DR_OUT" \
    "update-drive: UPD_EURL: refusing plain http ($B/good/manifest.json): only https is allowed"
check "update: ... and nothing is installed" test ! -e "$T/installed"
DR_OUT=$("$DRIVE" -S -H -k "$T/k.pub" -o "$T/installed" apply \
    http://example.invalid/manifest.json 2>&1)
expect_match "update: http to a non-loopback host is refused" "$DR_OUT" \
    "^update-drive: UPD_EURL: refusing plain http to example\.invalid: http is allowed only to loopback hosts \(127\.0\.0\.0/8, localhost, \[::1\]\)$"
mkdir -p "$W/offhost"
mkman "$W/offhost/manifest.json" 1.2.0 \
    "http://example.invalid/$ART" 200000 "$ASHA"
sign "$W/offhost/manifest.json"
refused "an artifact at http://example.invalid" UPD_EURL \
    "the artifact of release 1\.2\.0 cannot be fetched: refusing plain http to example\.invalid: http is allowed only to loopback hosts" \
    "$B/offhost/manifest.json"
# check refuses what apply would: the same checks of the artifact's URL
dr check "$B/offhost/manifest.json"
expect_match "update: check refuses an artifact URL apply would refuse" \
    "$DR_ERR" "^update-drive: UPD_EURL: the artifact of release 1\.2\.0 cannot be fetched: refusing plain http to example\.invalid"
expect_eq "update: ... and says no update is available" "$DR_RC:$DR_OUT" 1:
mkdir -p "$W/othername"
mkman "$W/othername/manifest.json" 1.2.0 "https://other.test/$ART" 200000 \
    "$ASHA"
sign "$W/othername/manifest.json"
dr check "$B/othername/manifest.json"
expect_match "update: check refuses an artifact on a host with no address" \
    "$DR_ERR" "^update-drive: UPD_EINVAL: the artifact of release 1\.2\.0 cannot be fetched: no CA bundle to check other\.test's certificate with$"
# a CA bundle is only read when a connection is made: none is here
echo "no certificates" >"$T/ca-unused.pem"
dr -c "$T/ca-unused.pem" check "$B/othername/manifest.json"
expect_match "update: ... or, with a CA bundle, that it cannot look up" \
    "$DR_ERR" "^update-drive: UPD_ERESOLVE: the artifact of release 1\.2\.0 cannot be fetched: cannot look up other\.test inside the sandbox: no address was given for it$"
dr -c "$T/ca-unused.pem" -R "banger.test:443:127.0.0.1" check \
    "$B/othername/manifest.json"
expect_match "update: ... or that only the update url's host was looked up" \
    "$DR_ERR" "^update-drive: UPD_ERESOLVE: the artifact of release 1\.2\.0 cannot be fetched: cannot look up other\.test port 443 inside the sandbox: addresses were given only for banger\.test port 443, the update url's$"
if command -v strace >/dev/null 2>&1; then
	strace -f -qq -e trace=socket,connect -o "$T/strace" "$DRIVE" -S -H \
	    -k "$T/k.pub" check http://example.invalid/manifest.json \
	    >/dev/null 2>&1
	expect_eq "update: ... without a socket or connection attempt" \
	    "$(grep -E '(socket|connect)\(' "$T/strace")" ""
else
	skip "update: ... without a connection attempt" "no strace"
fi

# --- https, with a CA bundle read before the sandbox
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/tls.key" -out "$T/tls.crt" -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/other.key" -out "$T/other.crt" -days 2 -subj /CN=localhost \
    >/dev/null 2>&1; then
	srv https serve "$W" "$T/tls.crt" "$T/tls.key"
	S=https://localhost:$(port https)
	scenario tls
	mkman "$W/tls/manifest.json" 1.2.0 "$S/tls/$ART" 200000 "$ASHA"
	sign "$W/tls/manifest.json"
	rm -f "$T/installed"
	dr -c "$T/tls.crt" -o "$T/installed" apply "$S/tls/manifest.json"
	expect_eq "update: https with the right CA verifies" "$DR_OUT" \
	    "verified 1.2.0 for $ARCH: 200000 bytes, sha256 $ASHA"
	check "update: ... and installs the artifact" cmp "$T/installed" \
	    "$T/artifact"
	refused "https with another CA" UPD_ETLS \
	    "cannot fetch the manifest from $S/tls/manifest\.json: TLS: SSL certificate problem" \
	    -c "$T/other.crt" "$S/tls/manifest.json"
	refused "https to a name the certificate does not have" UPD_ETLS \
	    "cannot fetch the manifest from https://banger\.test:[0-9]+/tls/manifest\.json: TLS: SSL: no alternative certificate subject name matches target host name 'banger\.test'" \
	    -c "$T/tls.crt" -R "banger.test:$(port https):127.0.0.1" \
	    "https://banger.test:$(port https)/tls/manifest.json"
	refused "an https host name without an address" UPD_ERESOLVE \
	    "cannot look up banger\.test inside the sandbox: no address was given for it" \
	    -c "$T/tls.crt" "https://banger.test:$(port https)/tls/manifest.json"
	refused "https without a CA bundle" UPD_EINVAL \
	    "no CA bundle to check localhost's certificate with" \
	    "$S/tls/manifest.json"
else
	skip "update: https" "no openssl to make a certificate"
fi

# --- the built-in key
if [ "$("$DRIVE" -K)" = "$PLACEHOLDER" ]; then
	rm -f "$T/installed"
	DR_OUT=$("$DRIVE" -S -H -o "$T/installed" apply \
	    "$B/good/manifest.json" 2>&1)
	expect_eq "update: a placeholder-key build refuses" "$DR_OUT" \
	    "update-drive: UPD_EPLACEHOLDER: this bangerd was built with the placeholder release key; it cannot verify updates"
	if command -v strace >/dev/null 2>&1; then
		strace -f -qq -e trace=socket,connect -o "$T/strace" "$DRIVE" \
		    -S -H check "$B/good/manifest.json" >/dev/null 2>&1
		expect_eq "update: ... before any connection" \
		    "$(grep -E '(socket|connect)\(' "$T/strace")" ""
	fi
else
	skip "update: a placeholder-key build refuses" \
	    "this tree was built with RELEASE_PUBKEY"
fi

out=$(sh "$TOP/scripts/embed-pubkey.sh")
expect_match "embed: no key gives the placeholder" "$out" \
    "^#define BANGER_RELEASE_PUBKEY_B64 \"$PLACEHOLDER\"$"
out=$(sh "$TOP/scripts/embed-pubkey.sh" "$T/k.pub")
expect_match "embed: a key gives its base64 line" "$out" \
    "^#define BANGER_RELEASE_PUBKEY_B64 \"$(sed -n 2p "$T/k.pub" | sed 's/[+/]/\\&/g')\"$"
out=$(sh "$TOP/scripts/embed-pubkey.sh" "$W/good/manifest.json.sig" 2>&1)
expect_match "embed: a signature is not a key" "$out" \
    "embed-pubkey.sh: .*manifest.json.sig: not a signify Ed25519 public key \(bad base64 line\)"
sed 's/$/\r/' "$T/k.pub" >"$T/crlf.pub"
out=$(sh "$TOP/scripts/embed-pubkey.sh" "$T/crlf.pub" 2>&1)
expect_match "embed: a key with CRLF line endings is refused as such" \
    "$out" "embed-pubkey.sh: .*crlf.pub: not a signify public key \(CRLF line endings; each line must end in a newline alone\)$"
out=$(sh "$TOP/scripts/embed-pubkey.sh" "$T/nonexistent.pub" 2>&1)
expect_match "embed: a missing file fails" "$out" "no such readable file"

# Build the drive with the key built in, and with the placeholder, as
# `make RELEASE_PUBKEY=...` builds bangerd.
PKGS="libbsd-overlay libsodium libcurl jansson libseccomp"
# shellcheck disable=SC2086  # $PKGS is a list
if command -v "${CC:-cc}" >/dev/null 2>&1 &&
    pkg-config --exists $PKGS 2>/dev/null; then
	for v in key ph; do
		mkdir -p "$T/inc-$v"
		if [ $v = key ]; then
			sh "$TOP/scripts/embed-pubkey.sh" "$T/k.pub"
		else
			sh "$TOP/scripts/embed-pubkey.sh"
		fi >"$T/inc-$v/pubkey.h"
		# shellcheck disable=SC2046,SC2086
		${CC:-cc} -std=gnu11 -D_GNU_SOURCE -I"$T/inc-$v" \
		    -I"$TOP/common" -I"$TOP/bangerd/shared" -I"$TOP/bangerd" \
		    $(pkg-config --cflags $PKGS) -o "$T/drive-$v" \
		    "$TOP/regress/helpers/update-drive.c" \
		    "$TOP/bangerd/shared/manifest.c" \
		    "$TOP/bangerd/update/fetch.c" \
		    "$TOP/bangerd/update/preinit.c" "$TOP/common/signify.c" \
		    "$TOP/common/log.c" \
		    $(pkg-config --libs $PKGS) 2>"$T/cc.err" ||
		    fail "embed: the drive builds ($v)" "$(head -c 300 "$T/cc.err")"
	done
	expect_eq "embed: the built-in key is the one given" \
	    "$("$T/drive-key" -K)" "$(sed -n 2p "$T/k.pub")"
	check "embed: ... and is in the binary verbatim" \
	    grep -qaF -- "$(sed -n 2p "$T/k.pub")" "$T/drive-key"
	rm -f "$T/installed"
	out=$("$T/drive-key" -S -H -o "$T/installed" apply \
	    "$B/good/manifest.json" 2>&1)
	expect_eq "embed: a build with the key verifies a release" "$out" \
	    "verified 1.2.0 for $ARCH: 200000 bytes, sha256 $ASHA"
	out=$("$T/drive-ph" -S -H -o "$T/installed2" apply \
	    "$B/good/manifest.json" 2>&1)
	expect_eq "embed: a build with the placeholder refuses" "$out" \
	    "update-drive: UPD_EPLACEHOLDER: this bangerd was built with the placeholder release key; it cannot verify updates"
else
	skip "embed: builds with and without a key" "no cc or pkg-config"
fi

# --- memory errors in the fetch paths (valgrind, unsandboxed)
if [ -n "${VALGRIND:-}" ] && [ "${SANITIZE:-}" != 1 ]; then
	VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99"
	rm -f "$T/installed"
	$VG "$DRIVE" -H -k "$T/k.pub" -o "$T/installed" apply \
	    "$B/good/manifest.json" >/dev/null 2>"$T/vg.err"
	expect_eq "update: apply is clean under valgrind" "$?" 0
	$VG "$DRIVE" -H -k "$T/k.pub" apply "$B/sha/manifest.json" \
	    >/dev/null 2>"$T/vg.err"
	expect_eq "update: a refused apply is clean under valgrind" "$?" 1
	$VG "$DRIVE" -H -T 500 -k "$T/k.pub" check \
	    "http://127.0.0.1:$(port stall)/m" >/dev/null 2>"$T/vg.err"
	expect_eq "update: a timeout is clean under valgrind" "$?" 1
fi

# --- scripts/publish-release.sh
PUB=$TOP/scripts/publish-release.sh
MKV=$(sed -n 's/^VERSION[	 ]*=[	 ]*//p' "$TOP/Makefile")
KEYLINE=$(sed -n 2p "$T/k.pub")
# Stand-ins for built binaries, carrying a key line (or not).
fakeobj() {
	rm -rf "$T/fake"
	mkdir -p "$T/fake"
	printf '#!/bin/sh\n# %s\n' "$1" >"$T/fake/bangerd"
	for p in bangerctl bangerd-vm bangerd-net bangerd-update bangerd-pull; do
		printf '#!/bin/sh\n' >"$T/fake/$p"
		chmod 0755 "$T/fake/$p"
	done
	chmod 0755 "$T/fake/bangerd"
}
RD=$W/pub
publish() {
	OBJDIR=$T/fake RELEASE_DIR=$RD RELEASE_BASEURL=$B/pub \
	    sh "$PUB" -n -k "$T/k.sec" "$@" 2>&1
}

fakeobj "$PLACEHOLDER"
out=$(publish "$MKV"); rc=$?
expect_match "publish: a bangerd with the placeholder key is refused" \
    "$out" "carries the placeholder release key: it could never verify an update"
expect_eq "publish: ... (exit 1)" "$rc" 1
printf 'untrusted comment: placeholder\n%s\n' "$PLACEHOLDER" >"$T/ph.pub"
out=$(publish -p "$T/ph.pub" "$MKV")
expect_match "publish: the placeholder public key is refused" "$out" \
    "ph\.pub is the placeholder key: it cannot sign releases"
fakeobj "some other key"
out=$(publish "$MKV")
expect_match "publish: a bangerd without the key is refused" "$out" \
    "fake/bangerd does not carry the key in .*k\.pub"
fakeobj "$KEYLINE"
out=$(publish 9.9.9)
expect_match "publish: a version other than the Makefile's is refused" \
    "$out" "version 9\.9\.9 is not the Makefile's VERSION \($MKV\)"
out=$(publish 1.02)
expect_match "publish: a malformed version is refused" "$out" \
    "bad version '1\.02'"
out=$(OBJDIR=$T/fake RELEASE_DIR=$RD RELEASE_BASEURL=http://example.org \
    sh "$PUB" -n -k "$T/k.sec" "$MKV" 2>&1)
expect_match "publish: an http base URL off loopback is refused" "$out" \
    "must be https \(http only to loopback\)"
out=$(publish -k "$T/k2.sec" -p "$T/k.pub" "$MKV")
expect_match "publish: a secret key not matching the public key fails" \
    "$out" "the signature does not verify with .*k\.pub: .*k2\.sec and .*k\.pub are not a pair"
check "publish: ... and publishes nothing" test ! -e "$RD/manifest.json"

# An older release, signed, already there: it must be kept.
mkdir -p "$RD"
jq -n '{releases: [{version: "0.0.1", released: "2020-01-01T00:00:00Z",
    expires: "2020-04-01T00:00:00Z", artifacts: {x86_64: {url:
    "https://example.org/banger-0.0.1-x86_64.tar", length: 1,
    sha256: "'"$(printf x | sha256sum | cut -d' ' -f1)"'"}}}]}' \
    >"$RD/manifest.json"
sign "$RD/manifest.json"
old=$(jq -c '.releases[0]' "$RD/manifest.json")
mkdir -p "$T/up"
out=$(UPLOAD_CMD='echo "$2" >>'"$T/up/order"'; cp "$1" '"$T/up/"'"$2"' \
    publish "$MKV"); rc=$?
expect_eq "publish: a release is published (exit 0)" "$rc" 0
expect_match "publish: it says what it published" "$out" \
    "release $MKV for $ARCH: banger-$MKV-$ARCH\.tar \([0-9]+ bytes, sha256 [0-9a-f]{64}\), expires"
check "publish: the manifest verifies with signify-openbsd" \
    signify-openbsd -V -q -p "$T/k.pub" -m "$RD/manifest.json" \
    -x "$RD/manifest.json.sig"
A=$RD/banger-$MKV-$ARCH.tar
expect_eq "publish: the release lists the artifact's URL, length and sha256" \
    "$(jq -c --arg v "$MKV" '.releases[] | select(.version == $v) |
    .artifacts | to_entries[0] | [.key, .value.url, .value.length,
    .value.sha256]' "$RD/manifest.json")" \
    "[\"$ARCH\",\"$B/pub/banger-$MKV-$ARCH.tar\",$(size "$A"),\"$(sha "$A")\"]"
expect_eq "publish: the older release is kept as it was" \
    "$(jq -c '.releases[] | select(.version == "0.0.1")' "$RD/manifest.json")" \
    "$old"
expect_eq "publish: expires is 90 days after released" \
    "$(jq -r --arg v "$MKV" '.releases[] | select(.version == $v) |
    ((.expires | fromdate) - (.released | fromdate)) / 86400' \
    "$RD/manifest.json")" 90
expect_eq "publish: the tarball holds the programs and man pages" \
    "$(tar -tf "$A" | sort | tr '\n' ' ')" \
    "$(cd "$TOP" && { printf '%s\n' bangerd bangerctl bangerd-vm bangerd-net \
    bangerd-update bangerd-pull man/; ls man/*.[1-9]; } | sort | tr '\n' ' ')"
expect_eq "publish: UPLOAD_CMD gets the artifact, then the manifest, then the signature" \
    "$(tr '\n' ' ' <"$T/up/order")" \
    "banger-$MKV-$ARCH.tar manifest.json manifest.json.sig "
check "publish: ... the files themselves" cmp "$T/up/manifest.json.sig" \
    "$RD/manifest.json.sig"
rm -f "$T/installed"
dr -H -r 0.0.0 -o "$T/installed" apply "$B/pub/manifest.json"
expect_eq "publish: bangerd's checks accept the published release" \
    "$DR_OUT" "verified $MKV for $ARCH: $(size "$A") bytes, sha256 $(sha "$A")"

out=$(publish "$MKV")
expect_match "publish: the same release again is refused" "$out" \
    "already has release $MKV for $ARCH \(-f replaces it\)"
out=$(publish -f -d 7 "$MKV"); rc=$?
expect_eq "publish: -f replaces it" "$rc" 0
expect_eq "publish: ... once" \
    "$(jq --arg v "$MKV" '[.releases[] | select(.version == $v)] | length' \
    "$RD/manifest.json")" 1
expect_eq "publish: -d 7 expires 7 days after released" \
    "$(jq -r --arg v "$MKV" '.releases[] | select(.version == $v) |
    ((.expires | fromdate) - (.released | fromdate)) / 86400' \
    "$RD/manifest.json")" 7
expect_match "publish: without UPLOAD_CMD or RCLONE_REMOTE it says where the files are" \
    "$out" "not uploaded \(set UPLOAD_CMD or RCLONE_REMOTE\); serve these at $B/pub/:"

mkdir -p "$T/bin"
printf '#!/bin/sh\necho "rclone $*" >>%s\n' "$T/rclone.log" >"$T/bin/rclone"
chmod 0755 "$T/bin/rclone"
out=$(PATH=$T/bin:$PATH RCLONE_REMOTE=remote:bucket/banger/ publish -f "$MKV")
expect_eq "publish: with RCLONE_REMOTE it copies the three files there" \
    "$(sed "s|$RD/||g" "$T/rclone.log" | tr '\n' ';')" \
    "rclone copyto banger-$MKV-$ARCH.tar remote:bucket/banger/banger-$MKV-$ARCH.tar;rclone copyto manifest.json remote:bucket/banger/manifest.json;rclone copyto manifest.json.sig remote:bucket/banger/manifest.json.sig;"
expect_match "publish: ... and says so" "$out" \
    "uploaded to remote:bucket/banger/$"

cp "$RD/manifest.json" "$T/saved.json"
printf ' ' >>"$RD/manifest.json"
out=$(publish -f "$MKV")
expect_match "publish: an existing manifest that does not verify is refused" \
    "$out" "manifest\.json does not verify with .*k\.pub: refusing to sign over it"
jq --arg v "$MKV" 'del(.releases[] | select(.version == $v)) |
    .releases += [{version: "99.0.0", released: "2020-01-01T00:00:00Z",
    expires: "2099-01-01T00:00:00Z", artifacts: {x86_64: {url:
    "https://example.org/banger-99.0.0-x86_64.tar", length: 1,
    sha256: "'"$(printf x | sha256sum | cut -d' ' -f1)"'"}}}]' \
    "$T/saved.json" >"$RD/manifest.json"
sign "$RD/manifest.json"
out=$(publish "$MKV")
expect_match "publish: a manifest with a newer release is refused" "$out" \
    "already has a newer release, 99\.0\.0"

# The real thing: make with RELEASE_PUBKEY, once the Makefile embeds it.
if grep -q embed-pubkey.sh "$TOP/Makefile"; then
	rm -rf "$RD"
	out=$(OBJDIR=$T/obj RELEASE_DIR=$RD RELEASE_BASEURL=$B/pub \
	    sh "$PUB" -k "$T/k.sec" "$MKV" 2>&1); rc=$?
	expect_eq "publish: builds and publishes with the key built in" \
	    "$rc" 0
	check "publish: the built bangerd carries the key" \
	    grep -qaF -- "$KEYLINE" "$T/obj/bangerd"
	mkdir -p "$T/x"
	tar -C "$T/x" -xf "$RD/banger-$MKV-$ARCH.tar"
	check "publish: the bangerd in the tarball carries it too" \
	    grep -qaF -- "$KEYLINE" "$T/x/bangerd"
	if grep -qaF -- "$PLACEHOLDER" "$T/x/bangerd"; then
		fail "publish: ... and not the placeholder" "found"
	else
		pass "publish: ... and not the placeholder"
	fi
	dr -H -r 0.0.0 check "$B/pub/manifest.json"
	expect_match "publish: the built release checks out" "$DR_OUT" \
	    "^update available: $MKV for $ARCH"
else
	skip "publish: a real build with the key" \
	    "the Makefile does not run scripts/embed-pubkey.sh yet"
fi

t_done

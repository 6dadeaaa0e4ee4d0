#!/bin/sh
# publish-release.sh [-fn] [-d days] [-k key.sec] [-o dir] [-p key.pub]
#     [-u base-url] VERSION
#
# Build banger with the release key built in, pack bangerd, bangerctl,
# the workers' programs and the man pages into banger-VERSION-ARCH.tar (ustar, uncompressed),
# add the release to manifest.json (keeping the older ones), sign the manifest with
# signify-openbsd, check the signature against the key the built
# bangerd carries, and upload.  See banger-manifest(5).
#
#	-d days		the release expires this many days from now (90)
#	-f		replace VERSION's artifact for this architecture if
#			the manifest has it, or publish below a newer release
#	-k key.sec	the signify secret key ($RELEASE_SECKEY)
#	-n		do not build: use $OBJDIR's binaries as they are
#	-o dir		where manifest.json is kept and the files are
#			written ($RELEASE_DIR, default ./release)
#	-p key.pub	the public key ($RELEASE_PUBKEY, default: key.sec's
#			name with .pub)
#	-u base-url	where the files will be served ($RELEASE_BASEURL):
#			https, or http to a loopback host (for tests)
#
# Upload: with UPLOAD_CMD set, it is run by sh once per file, the file's
# path in $1 and its name in $2 (artifact, then manifest.json, then
# manifest.json.sig), e.g. UPLOAD_CMD='scp "$1" www:/srv/banger/"$2"'.
# Otherwise with RCLONE_REMOTE set, `rclone copyto FILE $RCLONE_REMOTE/NAME`.
# Otherwise the files are left in the output directory and listed.
#
# Refused: a VERSION that is not the Makefile's, the placeholder key, a
# built bangerd that does not carry key.pub, an existing manifest.json
# whose signature does not verify with key.pub, and a signature that
# does not verify with key.pub after signing.
set -eu

prog=publish-release.sh
PLACEHOLDER=RWQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
TOP=$(cd "$(dirname "$0")/.." && pwd)

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	echo "usage: $prog [-fn] [-d days] [-k key.sec] [-o dir] [-p key.pub]" \
	    "[-u base-url] VERSION" >&2
	exit 2
}

abspath() {
	case $1 in
	/*)	printf '%s\n' "$1" ;;
	*)	printf '%s/%s\n' "$(pwd)" "$1" ;;
	esac
}

force=0
build=1
days=90
seckey=${RELEASE_SECKEY:-}
pubkey=${RELEASE_PUBKEY:-}
outdir=${RELEASE_DIR:-release}
baseurl=${RELEASE_BASEURL:-}
while getopts d:fk:no:p:u: opt; do
	case $opt in
	d)	days=$OPTARG ;;
	f)	force=1 ;;
	k)	seckey=$OPTARG ;;
	n)	build=0 ;;
	o)	outdir=$OPTARG ;;
	p)	pubkey=$OPTARG ;;
	u)	baseurl=$OPTARG ;;
	*)	usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
version=$1

# The version: the grammar bangerd compares (banger-manifest(5)), and
# the one the binaries are built with.
printf '%s\n' "$version" |
    grep -Eq '^(0|[1-9][0-9]{0,8})(\.(0|[1-9][0-9]{0,8})){0,3}$' ||
    die "bad version '$version': one to four dot-separated numbers, no" \
	"leading zeros (1.2.3)"
mkversion=$(sed -n 's/^VERSION[	 ]*=[	 ]*//p' "$TOP/Makefile")
[ "$version" = "$mkversion" ] ||
    die "version $version is not the Makefile's VERSION ($mkversion):" \
	"bump VERSION first, or bangerd would report the wrong version"
case $days in
''|*[!0-9]*) die "-d: '$days' is not a number of days" ;;
esac
if [ "$days" -lt 1 ] || [ "$days" -gt 3650 ]; then
	die "-d: $days days: must be from 1 to 3650"
fi

for t in jq signify-openbsd tar sha256sum; do
	command -v "$t" >/dev/null 2>&1 ||
	    die "$t is missing (sh scripts/deps.sh installs it)"
done

# Keys.
[ -n "$seckey" ] || die "no secret key: give -k key.sec or RELEASE_SECKEY"
[ -n "$pubkey" ] || pubkey=${seckey%.sec}.pub
seckey=$(abspath "$seckey")
pubkey=$(abspath "$pubkey")
[ -r "$seckey" ] || die "$seckey: cannot read the secret key"
[ -r "$pubkey" ] || die "$pubkey: cannot read the public key"
sh "$TOP/scripts/embed-pubkey.sh" "$pubkey" >/dev/null ||
    die "$pubkey: not a signify public key"
keyline=$(sed -n 2p "$pubkey")
[ "$keyline" != "$PLACEHOLDER" ] ||
    die "$pubkey is the placeholder key: it cannot sign releases"

# Where the files go.
[ -n "$baseurl" ] ||
    die "no base URL: give -u https://host/path or RELEASE_BASEURL"
baseurl=${baseurl%/}
case $baseurl in
https://?*) ;;
http://127.*|http://localhost|http://localhost[:/]*|http://\[::1\]*) ;;
*)	die "base URL '$baseurl': must be https (http only to loopback)" ;;
esac
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# Build, with the key built in.
objdir=${OBJDIR:-obj}
case $objdir in
/*)	obj=$objdir ;;
*)	obj=$TOP/$objdir ;;
esac
if [ "$build" -eq 1 ]; then
	echo "$prog: building with RELEASE_PUBKEY=$pubkey"
	${MAKE:-make} -C "$TOP" OBJDIR="$obj" RELEASE_PUBKEY="$pubkey" >&2 ||
	    die "the build failed"
fi
PROGS="bangerd bangerctl bangerd-vm bangerd-net bangerd-update bangerd-pull"
for b in $PROGS; do
	[ -x "$obj/$b" ] || die "$obj/$b: not built"
done

# The key the built bangerd carries must be key.pub's, and not the
# placeholder: the base64 line is in the binary verbatim.
if [ -f "$obj/build/pubkey.h" ]; then
	hkey=$(sed -n 's/^#define BANGER_RELEASE_PUBKEY_B64 "\(.*\)"$/\1/p' \
	    "$obj/build/pubkey.h")
	[ "$hkey" != "$PLACEHOLDER" ] ||
	    die "$obj/build/pubkey.h holds the placeholder key: build with" \
		"make RELEASE_PUBKEY=$pubkey"
	[ "$hkey" = "$keyline" ] ||
	    die "$obj/build/pubkey.h holds another key than $pubkey"
fi
if grep -qaF -- "$PLACEHOLDER" "$obj/bangerd"; then
	die "$obj/bangerd carries the placeholder release key: it could" \
	    "never verify an update; build with make RELEASE_PUBKEY=$pubkey"
fi
grep -qaF -- "$keyline" "$obj/bangerd" ||
    die "$obj/bangerd does not carry the key in $pubkey: build with" \
	"make RELEASE_PUBKEY=$pubkey"

case $(uname -m) in
x86_64|amd64)	arch=x86_64 ;;
aarch64|arm64)	arch=aarch64 ;;
*)		die "unsupported architecture $(uname -m)" ;;
esac

stage=$(mktemp -d "${TMPDIR:-/tmp}/publish-release.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM

# The existing manifest, if any, must be ours before we sign over it.
manifest=$outdir/manifest.json
if [ -f "$manifest" ]; then
	if [ -f "$manifest.sig" ]; then
		signify-openbsd -V -q -p "$pubkey" -m "$manifest" \
		    -x "$manifest.sig" 2>/dev/null ||
		    die "$manifest does not verify with $pubkey: refusing" \
			"to sign over it"
	elif [ "$force" -eq 0 ]; then
		die "$manifest has no signature ($manifest.sig): refusing to" \
		    "sign over it (-f to do so anyway)"
	fi
	jq -e '.releases | type == "array"' "$manifest" >/dev/null 2>&1 ||
	    die "$manifest is not a manifest (no releases array)"
	cp "$manifest" "$stage/old.json"
else
	echo '{"releases":[]}' >"$stage/old.json"
fi

# jq: versions as four numbers, compared as arrays.
JQV='def v: split(".") | map(tonumber) | (. + [0,0,0,0])[:4];'
if jq -e --arg v "$version" --arg a "$arch" \
    '.releases[] | select(.version == $v) | .artifacts | has($a)' \
    "$stage/old.json" >/dev/null 2>&1 && [ "$force" -eq 0 ]; then
	die "the manifest already has release $version for $arch" \
	    "(-f replaces it)"
fi
newest=$(jq -r "$JQV"' [.releases[].version] | max_by(v) // empty' \
    "$stage/old.json")
if [ -n "$newest" ] && [ "$force" -eq 0 ] &&
    jq -en --arg a "$newest" --arg b "$version" "$JQV"' ($a|v) > ($b|v)' \
    >/dev/null; then
	die "the manifest already has a newer release, $newest (-f to" \
	    "publish $version anyway)"
fi

# The artifact: flat, owned by root, reproducible for a given time.
name=banger-$version-$arch.tar
now=$(date -u +%s)
released=$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)
expires=$(date -u -d "@$((now + days * 86400))" +%Y-%m-%dT%H:%M:%SZ)
mkdir -p "$stage/root/man"
for b in $PROGS; do
	install -m 0755 "$obj/$b" "$stage/root/"
done
for m in "$TOP"/man/*.[1-9]; do
	install -m 0644 "$m" "$stage/root/man/"
done
(cd "$stage/root" && tar --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@${SOURCE_DATE_EPOCH:-$now}" --format=ustar \
    -cf - $PROGS man) >"$stage/$name"
length=$(wc -c <"$stage/$name" | tr -d ' ')
sha=$(sha256sum "$stage/$name" | cut -d' ' -f1)

jq --arg v "$version" --arg a "$arch" --arg url "$baseurl/$name" \
    --argjson len "$length" --arg sha "$sha" --arg rel "$released" \
    --arg exp "$expires" "$JQV"'
    .releases |= (
	((map(select(.version == $v)) | .[0]) // {version: $v, artifacts: {}})
	    as $old
	| map(select(.version != $v))
	+ [$old + {released: $rel, expires: $exp,
	    artifacts: ($old.artifacts + {($a): {url: $url, length: $len,
	    sha256: $sha}})}]
	| sort_by(.version | v) | reverse)' \
    "$stage/old.json" >"$stage/manifest.json"

signify-openbsd -S -s "$seckey" -m "$stage/manifest.json" \
    -x "$stage/manifest.json.sig" || die "signing failed"
signify-openbsd -V -q -p "$pubkey" -m "$stage/manifest.json" \
    -x "$stage/manifest.json.sig" ||
    die "the signature does not verify with $pubkey: $seckey and" \
	"$pubkey are not a pair"

# Artifact first, so the manifest never names a file not there.
mv "$stage/$name" "$outdir/$name"
mv "$stage/manifest.json" "$outdir/manifest.json"
mv "$stage/manifest.json.sig" "$outdir/manifest.json.sig"
echo "$prog: release $version for $arch: $name ($length bytes," \
    "sha256 $sha), expires $expires"

set -- "$outdir/$name" "$outdir/manifest.json" "$outdir/manifest.json.sig"
if [ -n "${UPLOAD_CMD:-}" ]; then
	for f in "$@"; do
		sh -c "$UPLOAD_CMD" upload "$f" "$(basename "$f")" ||
		    die "upload of $f failed (UPLOAD_CMD)"
	done
	echo "$prog: uploaded with UPLOAD_CMD"
elif [ -n "${RCLONE_REMOTE:-}" ]; then
	command -v rclone >/dev/null 2>&1 || die "rclone is missing"
	for f in "$@"; do
		rclone copyto "$f" "${RCLONE_REMOTE%/}/$(basename "$f")" ||
		    die "rclone copyto $f failed"
	done
	echo "$prog: uploaded to $RCLONE_REMOTE"
else
	echo "$prog: not uploaded (set UPLOAD_CMD or RCLONE_REMOTE);" \
	    "serve these at $baseurl/:"
	for f in "$@"; do
		echo "	$f"
	done
fi

# A local image registry for tests: Debian's docker-registry (the
# distribution registry 2.8, /usr/bin/docker-registry) run inside the
# test's network namespace, with images pushed to it by skopeo.
#
# Sourced by a test that defines `in_ns` (runs a command inside the
# test's network namespace, as `ip netns exec "$NS"` does) and a scratch
# directory $T.  Everything listens on 127.0.0.1 inside that namespace
# only, and nothing is written outside the directories the caller names:
# skopeo runs in a mount namespace of its own where /var/lib and
# /etc/containers are empty tmpfs mounts, so it neither reads the host's
# containers configuration nor leaves its blob cache behind.
#
# Needs the docker-registry, skopeo, curl, openssl and util-linux
# (unshare) packages.
#
#   reg_start PORT DIR [TLSCERT TLSKEY]   start a registry storing in DIR
#   reg_stop                              stop it
#   reg_push LAYOUT REPO:TAG PORT [ARGS]  push an OCI image layout
#   reg_push_archive FILE REPO:TAG PORT [ARGS]  push a docker-archive
#   reg_copy SRC REPO:TAG PORT [ARGS]     push any skopeo source
#   reg_fetch REPO:TAG PORT LAYOUT        copy an image out, to a layout
#   reg_curl PORT PATH [CURL ARGS]        ask the registry, as a client
#   reg_blob_path DIR DIGEST              where DIR keeps a blob's bytes
#   reg_mkcert DIR                        a self-signed cert for 127.0.0.1
#
# State kept between calls: REG_PID (the registry's process), REG_JOB
# (the background job that runs it), REG_DIR, REG_PORT, REG_SCHEME (http
# or https) and REG_CA (the certificate that clients trust; empty for
# http).  One registry at a time.

REG_BIN=${REG_BIN:-/usr/bin/docker-registry}
REG_PID=
REG_JOB=
REG_CA=
REG_SCHEME=http

# _reg_yq TEXT: TEXT as a single-quoted YAML scalar.
_reg_yq() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

# reg_curl PORT PATH [CURL ARGS]: curl, inside the namespace, the URL
# PATH (starting with /v2/) of the registry on 127.0.0.1:PORT, over
# https trusting $REG_CA when reg_start was given a certificate.  Fails
# on an HTTP error (curl -f); add -i or -D- to see the headers.  The
# registry sends an OCI manifest or index only to a request whose Accept
# header names its media type (404 MANIFEST_UNKNOWN otherwise), as
# stored, with that Content-Type and its Docker-Content-Digest.
reg_curl() {
	local port=$1 path=$2
	shift 2
	if [ "$REG_SCHEME" = https ]; then
		in_ns curl -sSf --cacert "$REG_CA" "$@" \
		    "https://127.0.0.1:$port$path"
	else
		in_ns curl -sSf "$@" "http://127.0.0.1:$port$path"
	fi
}

# reg_start PORT DIR [TLSCERT TLSKEY]: start a registry inside the
# namespace on 127.0.0.1:PORT, storing on the file system under DIR
# (created if need be; DIR/docker/registry/v2/... holds the data).  No
# authentication, deletes allowed, no cache, no health checks, no upload
# purging, warnings and errors only.  Its configuration is DIR/config.yml
# and what it prints goes to DIR/registry.log.  With TLSCERT and TLSKEY
# (PEM files, e.g. from reg_mkcert) it serves https, and clients here
# trust TLSCERT.  Returns once GET /v2/ answers; fails, printing the log
# and leaving nothing running, if that takes more than 20 seconds or the
# registry exits, and at once if something already listens on PORT.
# Sets REG_PID.
reg_start() {
	local port=$1 dir=$2 cert=${3:-} key=${4:-} i pid
	if [ -n "$REG_PID" ]; then
		echo "reg_start: a registry is already running ($REG_PID)" >&2
		return 1
	fi
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	REG_DIR=$dir REG_PORT=$port REG_SCHEME=http REG_CA=
	if [ -n "$cert" ]; then
		cert=$(realpath "$cert") && key=$(realpath "$key") || return 1
		REG_SCHEME=https REG_CA=$cert
	fi
	{
		printf 'version: 0.1\n'
		printf 'log:\n  level: warn\n  accesslog:\n    disabled: true\n'
		printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' \
		    "$(_reg_yq "$dir")"
		printf '  delete:\n    enabled: true\n'
		printf '  redirect:\n    disable: true\n'
		printf '  maintenance:\n    uploadpurging:\n      enabled: false\n'
		printf 'http:\n  addr: 127.0.0.1:%s\n  secret: regress\n' "$port"
		printf '  draintimeout: 1s\n'
		if [ -n "$cert" ]; then
			printf '  tls:\n    certificate: %s\n    key: %s\n' \
			    "$(_reg_yq "$cert")" "$(_reg_yq "$key")"
		fi
		printf 'health:\n  storagedriver:\n    enabled: false\n'
	} >"$dir/config.yml" || return 1
	# Something already answering on the port would pass for the new
	# registry: refuse.  curl exits 7 when nothing listens.
	i=0
	reg_curl "$port" /v2/ -m 2 -o /dev/null 2>/dev/null || i=$?
	if [ "$i" -ne 7 ]; then
		echo "reg_start: 127.0.0.1:$port is taken" >&2
		return 1
	fi
	rm -f "$dir/registry.pid"
	# The shell writes its own PID and then becomes the registry, so
	# REG_PID is the registry's PID however in_ns runs it (a shell
	# function run in the background is a subshell of its own).
	# REGISTRY_* variables would override the configuration: drop them.
	in_ns sh -c 'echo $$ >"$1" || exit 1
		unset $(env | sed -n "s/^\(REGISTRY_[A-Za-z0-9_]*\)=.*/\1/p")
		shift
		exec "$@"' sh "$dir/registry.pid" "$REG_BIN" serve \
	    "$dir/config.yml" </dev/null >"$dir/registry.log" 2>&1 &
	REG_JOB=$!
	for i in $(seq 400); do
		if [ -z "$REG_PID" ] && [ -s "$dir/registry.pid" ]; then
			REG_PID=$(cat "$dir/registry.pid")
		fi
		pid=${REG_PID:-$REG_JOB}
		if ! kill -0 "$pid" 2>/dev/null || _reg_zombie "$pid"; then
			break
		fi
		if [ -n "$REG_PID" ] &&
		    reg_curl "$port" /v2/ -m 2 -o /dev/null 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "reg_start: no registry on 127.0.0.1:$port; its log:" >&2
	cat "$dir/registry.log" >&2
	reg_stop
	return 1
}

# _reg_zombie PID: whether PID has exited but not yet been waited for.
_reg_zombie() {
	[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# reg_stop: stop the registry that reg_start started (SIGTERM to
# REG_PID, on which it closes its connections within a second and exits
# 0; SIGKILL if it is still there after 5 s) and wait for it.  Touches
# no other process; does nothing when none is running.
reg_stop() {
	local i
	if [ -n "$REG_PID" ]; then
		kill -TERM "$REG_PID" 2>/dev/null || :
		for i in $(seq 50); do
			if ! kill -0 "$REG_PID" 2>/dev/null ||
			    _reg_zombie "$REG_PID"; then
				break
			fi
			sleep 0.1
		done
		if kill -0 "$REG_PID" 2>/dev/null && ! _reg_zombie "$REG_PID"
		then
			kill -KILL "$REG_PID" 2>/dev/null || :
		fi
	elif [ -n "$REG_JOB" ]; then
		# Started, but gone before it wrote its PID.
		kill -TERM "$REG_JOB" 2>/dev/null || :
	fi
	if [ -n "$REG_JOB" ]; then
		wait "$REG_JOB" 2>/dev/null || :
	fi
	REG_PID='' REG_JOB=''
	return 0
}

# reg_copy SRC REPO:TAG PORT [ARGS]: skopeo copy SRC (any skopeo
# source, e.g. oci:DIR, docker-archive:FILE, dir:DIR) to the registry on
# 127.0.0.1:PORT as REPO:TAG, inside the namespace.  skopeo runs in a
# mount namespace of its own with empty tmpfs mounts on /var/lib (root's
# skopeo keeps its blob cache in /var/lib/containers/cache) and on
# /etc/containers (policy, registries.conf), HOME inside that tmpfs and
# no credentials, so no host configuration applies and nothing stays
# behind.  Over https it checks the registry's certificate against
# $REG_CA; over http it runs with --dest-tls-verify=false (skopeo then
# tries https without checking, and falls back to http).  ARGS go to
# skopeo copy (--all, --format oci, --preserve-digests, ...).  A source
# under /var/lib or /etc/containers would be hidden by those mounts:
# refused.  Prints only errors.
# What skopeo runs in: a mount namespace where /var/lib and
# /etc/containers are empty tmpfs mounts, HOME among them.
_REG_SKOPEO_ROOM='
		mount -t tmpfs -o mode=0755 reg-skopeo /var/lib || exit 1
		if [ -d /etc/containers ]; then
			mount -t tmpfs -o mode=0755 reg-skopeo /etc/containers ||
			    exit 1
		fi
		mkdir /var/lib/home /var/lib/tmp /var/lib/certs || exit 1
		export HOME=/var/lib/home
		unset XDG_CONFIG_HOME XDG_RUNTIME_DIR XDG_DATA_HOME'

# reg_fetch REPO:TAG PORT LAYOUT: copy an image from the plain-http
# registry on 127.0.0.1:PORT to the OCI image layout directory LAYOUT,
# as a user of skopeo would fetch one.
reg_fetch() {
	local path
	path=$(realpath -m "$3")
	case $path in
	/var/lib|/var/lib/*|/etc/containers|/etc/containers/*)
		echo "reg_fetch: $path would be hidden from skopeo" >&2
		return 1 ;;
	esac
	in_ns unshare -m --propagation private sh -c "$_REG_SKOPEO_ROOM"'
		exec skopeo --insecure-policy --tmpdir /var/lib/tmp copy -q \
		    --src-no-creds --src-tls-verify=false "$@"' \
	    sh "docker://127.0.0.1:$2/$1" "oci:$path"
}

reg_copy() {
	local src=$1 ref=$2 port=$3 path ca=
	shift 3
	path=$(realpath -m "${src#*:}")
	case $path in
	/var/lib|/var/lib/*|/etc/containers|/etc/containers/*)
		echo "reg_copy: $path would be hidden from skopeo" >&2
		return 1 ;;
	esac
	if [ "$REG_SCHEME" = https ]; then
		ca=$(cat "$REG_CA") || return 1
	fi
	in_ns unshare -m --propagation private sh -c "$_REG_SKOPEO_ROOM"'
		verify=false
		if [ -n "$1" ]; then
			printf "%s\n" "$1" >/var/lib/certs/ca.crt || exit 1
			verify=true
		fi
		shift
		exec skopeo --insecure-policy --tmpdir /var/lib/tmp copy -q \
		    --dest-no-creds --dest-cert-dir /var/lib/certs \
		    --dest-tls-verify=$verify "$@"' \
	    sh "$ca" "$@" "${src%%:*}:$path" "docker://127.0.0.1:$port/$ref"
}

# reg_push LAYOUT REPO:TAG PORT [ARGS]: push the OCI image layout
# directory LAYOUT to the registry on 127.0.0.1:PORT as REPO:TAG, as it
# is: the same manifest, config and layer bytes, so the same digests,
# whatever the layers' compression or media types (--preserve-digests:
# skopeo then neither compresses layers nor converts the manifest, and
# ignores --format; without it an uncompressed layer is gzipped into a
# new manifest, unless the registry already has that layer).  The
# layout's index.json must name one image, or one image index, of which
# skopeo pushes the linux/amd64 image (all of it, index included, with
# --all).  skopeo checks every blob against its digest while reading,
# so a layout with a corrupt blob cannot be pushed: corrupt the
# registry's copy instead (reg_blob_path).  ARGS go to skopeo copy.
reg_push() {
	local layout=$1 ref=$2 port=$3
	shift 3
	reg_copy "oci:$layout" "$ref" "$port" --preserve-digests "$@"
}

# reg_push_archive FILE REPO:TAG PORT [ARGS]: push the docker-archive
# FILE (an uncompressed tar as docker save writes it, one image; skopeo
# cannot read a gzipped one) to the registry on 127.0.0.1:PORT as
# REPO:TAG.  The registry gets a Docker schema 2 manifest (an OCI one
# with --format oci) and gzip-compressed layers, so its digests are not
# the archive's.  ARGS go to skopeo copy.
reg_push_archive() {
	local file=$1 ref=$2 port=$3
	shift 3
	reg_copy "docker-archive:$file" "$ref" "$port" "$@"
}

# reg_blob_path DIR DIGEST: the file in which a registry storing under
# DIR keeps the bytes of blob DIGEST (sha256:HEX).  The registry serves
# that file as it is, without checking it against its digest, so a test
# can corrupt or truncate it to make a client see a bad blob.
reg_blob_path() {
	local hex=${2#sha256:}
	printf '%s/docker/registry/v2/blobs/sha256/%s/%s/data\n' \
	    "$1" "$(printf '%s' "$hex" | cut -c1-2)" "$hex"
}

# reg_mkcert DIR: write DIR/reg.crt and DIR/reg.key, a self-signed
# certificate (P-256, valid for 2 days) for the IP address 127.0.0.1,
# for reg_start's TLSCERT and TLSKEY.
reg_mkcert() {
	mkdir -p "$1" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 2 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 \
	    -keyout "$1/reg.key" -out "$1/reg.crt" 2>/dev/null
}

#!/bin/sh
# Install what banger needs to build, run and test on Debian 12, and
# create its users: _banger (the workers run as it) and the group banger
# (members may use bangerctl).  Run as root; safe to run again.
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: must run as root" >&2
	exit 1
fi

PKGS="make gcc libc6-dev pkg-config bison
	libbsd-dev libevent-dev libnl-3-dev libnl-route-3-dev libdevmapper-dev
	libcap-dev libsodium-dev libcurl4-openssl-dev libssl-dev libjansson-dev
	libext2fs-dev libnftables-dev libseccomp-dev libldns-dev libarchive-dev
	mandoc signify-openbsd iproute2 nftables e2fsprogs xfsprogs
	ldnsutils jq curl python3 valgrind util-linux procps
	systemd shellcheck openssh-client attr
	qemu-system-x86 busybox-static lz4 debootstrap cpio file binutils zstd
	openssl docker-registry skopeo strace"

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# docker-registry's package would start a registry on the host: the
	# tests run their own, in their network namespaces.
	policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		policy=1
	fi
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $missing
	[ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
fi

getent group banger >/dev/null || groupadd --system banger
getent passwd _banger >/dev/null ||
    useradd --system --user-group --no-create-home \
	--home-dir /nonexistent --shell /usr/sbin/nologin \
	--comment "banger workers" _banger
echo "deps.sh: packages installed; user _banger and group banger present"

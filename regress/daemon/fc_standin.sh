#!/bin/bash
# fc_standin.sh: the Firecracker stand-in (regress/helpers/fc-standin.c)
# answers Firecracker's API as Firecracker does: status codes, fault
# messages, state rules, command line, console, exit.
#
# Binaries: $HELPERS/fc-standin-idle and $HELPERS/fc-standin-qemu, or,
# with HELPERS unset, built here with cc.  As Firecracker does, the
# stand-in opens a tap at PUT /network-interfaces: as root, the stand-ins
# run in a network namespace made here, with the taps they are given
# (and one runs as nobody, as a jailed Firecracker does); without root
# the checks of taps are skipped.  The real-qemu checks run when
# /usr/bin/qemu-system-x86_64 exists and, as root, boot the guest that
# scripts/build-guest.sh builds (cached in FC_STANDIN_GUEST, default
# /var/cache/banger-guest), its NIC on a tap in a network namespace of
# their own.  FC_STANDIN_KEEP=1 keeps the temporary directory for a look
# afterwards.

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=regress/lib/lib.sh
. "$TOP/regress/lib/lib.sh"

T=$(mktemp -d /tmp/fc_standin.XXXXXX) || exit 1
PIDS=()
NETNS=
RUN=()
# shellcheck disable=SC2317
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -z "$NETNS" ] || ip netns del "$NETNS" 2>/dev/null
	if [ -n "$FC_STANDIN_KEEP" ]; then
		echo "fc_standin: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

VERSION_RE='[0-9]+\.[0-9]+\.[0-9]+'
PREBOOT='The requested operation is not supported before starting the microVM.'
POSTBOOT='The requested operation is not supported after starting the microVM.'
NOKERNEL='Start microvm error: Cannot start microvm without kernel configuration.'
VCPUS='Machine config error: The number of vCPUs must be greater than 0, less than 32 and must be 1 or an even number if SMT is enabled.'
SERDE='An error occurred when deserializing the json body of a request:'

# --- the binaries -----------------------------------------------------

if [ -n "$HELPERS" ]; then
	IDLE=$HELPERS/fc-standin-idle
	QEMU=$HELPERS/fc-standin-qemu
else
	mkdir "$T/bin"
	IDLE=$T/bin/fc-standin-idle
	QEMU=$T/bin/fc-standin-qemu
	FLAGS="-std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow
	    -Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter
	    -g $(pkg-config --cflags libbsd-overlay jansson)"
	LIBS=$(pkg-config --libs libbsd-overlay jansson)
	SRC=$TOP/regress/helpers/fc-standin.c
	# shellcheck disable=SC2086
	if ! ${CC:-cc} $FLAGS -o "$IDLE" "$SRC" $LIBS >"$T/cc.log" 2>&1 ||
	    ! ${CC:-cc} $FLAGS -DSTANDIN_MODE_QEMU -o "$QEMU" "$SRC" $LIBS \
	    >>"$T/cc.log" 2>&1; then
		fail build "$(tr '\n' ' ' <"$T/cc.log" | cut -c1-300)"
		t_done
	fi
fi
for b in "$IDLE" "$QEMU"; do
	if [ ! -x "$b" ]; then
		fail binaries "$b is not built"
		t_done
	fi
done
pass binaries
if ! command -v curl >/dev/null; then
	fail curl "curl is not installed"
	t_done
fi

# The stand-ins' network namespace, and the taps in it: tap-a0 and
# tap-q0 root's, tap-n0 nobody's (TUNSETIFF as root makes a tap that is
# not there, so never in the host's namespace).  $T/tun is a
# /dev/net/tun of nobody's, for the stand-in that runs as nobody.
if [ "$(id -u)" -eq 0 ]; then
	NETNS=fcst-net-$$
	chmod 0711 "$T"
	mkdir "$T/nobody"
	chown 65534:65534 "$T/nobody"
	if ! ip netns add "$NETNS" 2>"$T/netns.err" ||
	    ! ip -n "$NETNS" tuntap add dev tap-a0 mode tap \
	    2>>"$T/netns.err" ||
	    ! ip -n "$NETNS" tuntap add dev tap-q0 mode tap \
	    2>>"$T/netns.err" ||
	    ! ip -n "$NETNS" tuntap add dev tap-n0 mode tap user 65534 \
	    2>>"$T/netns.err" ||
	    ! mknod -m 0600 "$T/tun" c 10 200 2>>"$T/netns.err" ||
	    ! chown 65534:65534 "$T/tun" 2>>"$T/netns.err"; then
		fail netns "$(tr '\n' ' ' <"$T/netns.err")"
		t_done
	fi
	RUN=(ip netns exec "$NETNS")
	pass netns
else
	skip taps "needs root (a network namespace and taps)"
fi

# --- helpers ----------------------------------------------------------

# api SOCK METHOD PATH [BODY]: CODE and OUT get the status and body.
api() {
	local sock=$1 m=$2 p=$3
	if [ $# -ge 4 ]; then
		CODE=$(curl -sS --unix-socket "$sock" -o "$T/resp" \
		    -w '%{http_code}' -X "$m" \
		    -H 'Content-Type: application/json' \
		    --data-binary "$4" "http://localhost$p" 2>"$T/curl.err")
	else
		CODE=$(curl -sS --unix-socket "$sock" -o "$T/resp" \
		    -w '%{http_code}' -X "$m" "http://localhost$p" \
		    2>"$T/curl.err")
	fi
	OUT=$(cat "$T/resp" 2>/dev/null)
}

# expect NAME SOCK METHOD PATH BODY CODE [RESPONSE]: one request, and
# its status and (if given) whole response body.
expect() {
	local name=$1 sock=$2 m=$3 p=$4 body=$5 code=$6
	if [ -n "$body" ]; then
		api "$sock" "$m" "$p" "$body"
	else
		api "$sock" "$m" "$p"
	fi
	if [ $# -ge 7 ]; then
		expect_eq "$name" "$CODE $OUT" "$code $7"
	else
		expect_eq "$name" "$CODE" "$code"
	fi
}

# fault MESSAGE: the body Firecracker sends with a 400.
fault() {
	printf '{"fault_message":"%s"}' "$1"
}

# expect_has NAME TEXT SUBSTRING
expect_has() {
	case $2 in
	*"$3"*)	pass "$1" ;;
	*)	fail "$1" "'$(printf '%s' "$2" | cut -c1-300)' lacks '$3'" ;;
	esac
}

# start NAME BINARY SOCK [ARGS...]: PID gets the stand-in's pid (in the
# taps' namespace when there is one).
start() {
	local name=$1 bin=$2 sock=$3
	shift 3
	"${RUN[@]}" "$bin" --api-sock "$sock" "$@" >"$T/$name.out" \
	    2>"$T/$name.err" &
	PID=$!
	PIDS+=("$PID")
	wait_for 5 test -S "$sock"
}

# start_nobody NAME BINARY SOCK [ARGS...]: as start, but as nobody with
# no capabilities, as the jailer runs Firecracker, and with $T/tun for
# its /dev/net/tun (the host's is root's).
start_nobody() {
	local name=$1 bin=$2 sock=$3
	shift 3
	# shellcheck disable=SC2016
	"${RUN[@]}" unshare -m --propagation private sh -c \
	    'mount --bind "$0" /dev/net/tun && exec setpriv --reuid=65534 \
	    --regid=65534 --clear-groups "$@"' "$T/tun" \
	    "$bin" --api-sock "$sock" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	PID=$!
	PIDS+=("$PID")
	wait_for 5 test -S "$sock"
}

# le64 FILE OFFSET VALUE: write VALUE there, 8 bytes little-endian.
le64() {
	perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!\n";
	    seek($f, $ARGV[1], 0); print $f pack("Q<", $ARGV[2]);' "$@"
}

# mkimage FILE: an arm64 Image as the loader reads it: image_size 0
# (text_offset 0x80000), "ARM\x64" at 56.
mkimage() {
	perl -e 'open(my $f, ">", $ARGV[0]) or die "$ARGV[0]: $!\n";
	    print $f pack("a56 a4 x4", "", "ARM\x64") . "\0" x 4032;' "$1"
}

# forget PID: reaped, so never to be signalled again.
forget() {
	local p keep=()
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# wait_exit PID SECONDS: RC gets its status, "timeout" if it lingered.
wait_exit() {
	local pid=$1 n=$(($2 * 10))
	while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		forget "$pid"
		RC=timeout
		return 1
	fi
	wait "$pid"
	RC=$?
	forget "$pid"
}

# raw SOCK MODE: HTTP below curl (pipelining, Expect, limits), in perl.
cat >"$T/raw.pl" <<'EOF'
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;

my ($path, $mode) = @ARGV;

sub conn {
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path);
	die "connect $path: $!\n" unless $s;
	return $s;
}

# Complete responses in $buf: their status codes.
sub codes {
	my ($buf) = @_;
	my @c;
	while ($buf =~ /\AHTTP\/1\.1 (\d{3})[^\r]*\r\n(.*?)\r\n\r\n/s) {
		my ($code, $head) = ($1, $2);
		my $hlen = length($&);
		my $clen = $head =~ /Content-Length: (\d+)/i ? $1 : 0;
		last if length($buf) < $hlen + $clen;
		push @c, $code;
		$buf = substr($buf, $hlen + $clen);
	}
	return @c;
}

# Read until $n responses have come, or EOF, or 5 seconds.
sub responses {
	my ($s, $n) = @_;
	my ($buf, $sel, $end) = ('', IO::Select->new($s), time + 5);
	while (codes($buf) < $n && time < $end) {
		last unless $sel->can_read(1);
		my $r = sysread($s, $buf, 65536, length $buf);
		last unless $r;
	}
	return $buf;
}

sub eof_after {
	my ($s) = @_;
	my ($sel, $b) = (IO::Select->new($s), '');
	return 'open' unless $sel->can_read(3);
	return sysread($s, $b, 1) ? 'open' : 'closed';
}

my $get = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
if ($mode eq 'pipeline') {
	my ($a, $b) = (conn(), conn());
	syswrite($b, $get);
	syswrite($a, $get . "GET /version HTTP/1.1\r\n\r\n" .
	    "GET /machine-config HTTP/1.1\r\n\r\n");
	my @b = codes(responses($b, 1));
	my @a = codes(responses($a, 3));
	print "a=@a b=@b\n";
} elsif ($mode eq 'split') {
	my $s = conn();
	syswrite($s, "GET /ver");
	select(undef, undef, undef, 0.2);
	syswrite($s, "sion HTTP/1.1\r\nAccept: */*\r\n");
	select(undef, undef, undef, 0.2);
	syswrite($s, "\r\n");
	my $r = responses($s, 1);
	my @c = codes($r);
	$r =~ s/.*\r\n\r\n//s;
	print "@c $r\n";
} elsif ($mode eq 'expect') {
	my $s = conn();
	my $body = '{"k":"v"}';
	syswrite($s, "PUT /mmds HTTP/1.1\r\nContent-Type: application/json" .
	    "\r\nExpect: 100-continue\r\nContent-Length: " . length($body) .
	    "\r\n\r\n");
	my @c = codes(responses($s, 1));
	syswrite($s, $body);
	my $r = responses($s, 1);
	push @c, codes($r);
	print "@c\n";
} elsif ($mode eq 'longline') {
	my $s = conn();
	syswrite($s, "GET /" . ("x" x 1100) . " HTTP/1.1\r\n\r\n");
	my $r = responses($s, 1);
	my @c = codes($r);
	my $e = $r =~ /Invalid request\./ ? 'msg' : 'nomsg';
	print "@c $e " . eof_after($s) . "\n";
} elsif ($mode eq 'toolarge') {
	my $s = conn();
	syswrite($s, "PUT /mmds HTTP/1.1\r\nContent-Length: 60000\r\n\r\n");
	my $r = responses($s, 1);
	$r =~ s/.*?\r\n\r\n//s;
	print "$r\n";
} elsif ($mode eq 'full') {
	my @held = map { conn() } 1 .. 10;
	select(undef, undef, undef, 0.3);
	my $s = conn();
	my @c = codes(responses($s, 1));
	close $_ for @held;
	print "@c\n";
} elsif ($mode eq 'method') {
	my $s = conn();
	syswrite($s, "DELETE / HTTP/1.1\r\n\r\n");
	my $r = responses($s, 1);
	my @c = codes($r);
	my $e = $r =~ /Invalid HTTP Method: Unsupported HTTP method\./ ?
	    'msg' : 'nomsg';
	print "@c $e\n";
}
EOF
raw() {
	perl "$T/raw.pl" "$1" "$2" 2>&1
}

mkvmlinux "$T/vmlinux"
touch "$T/initrd"
truncate -s 1M "$T/rootfs.ext4" "$T/data.ext4"
: >"$T/fc.log"
: >"$T/metrics.json"

# --- command line -----------------------------------------------------

OUT=$("$IDLE" --version 2>&1)
expect_match cli_version "$OUT" "^Firecracker v$VERSION_RE"

"$IDLE" --api-sock "$T/x.sock" --bogus-option >"$T/cli.out" 2>&1
RC=$?
expect_eq cli_unknown_option_status "$RC" 153
expect_has cli_unknown_option_message "$(cat "$T/cli.out")" \
    "Found argument 'bogus-option' which wasn't expected, or isn't valid in this context."

"$IDLE" --api-sock >"$T/cli.out" 2>&1
RC=$?
expect_eq cli_missing_value_status "$RC" 153
expect_has cli_missing_value_message "$(cat "$T/cli.out")" \
    "The argument 'api-sock' requires a value, but none was supplied."

"$IDLE" --id vm1 --id vm2 >"$T/cli.out" 2>&1
expect_has cli_duplicate_option "$? $(cat "$T/cli.out")" \
    "The argument 'id' was provided more than once."

"$IDLE" --api-sock "$T/x.sock" stray >"$T/cli.out" 2>&1
expect_has cli_positional "$? $(cat "$T/cli.out")" \
    "Found argument 'stray' which wasn't expected"

"$IDLE" --api-sock "$T/x.sock" --no-seccomp --seccomp-filter /x \
    >"$T/cli.out" 2>&1
expect_eq cli_seccomp_exclusive "$?" 153

"$IDLE" --api-sock "$T/x.sock" --config-file /x >"$T/cli.out" 2>&1
expect_has cli_config_file_unsupported "$? $(cat "$T/cli.out")" \
    "--config-file is not supported"
expect_eq cli_no_socket_left "$(test -e "$T/x.sock" && echo yes)" ""

# --- instance A: the whole life of a VM --------------------------------

A=$T/a.sock
if ! start a "$IDLE" "$A" --id vm-a --standin-log "$T/a.req" \
    --log-path "$T/fc.log" --level Info --start-time-us 1 \
    --start-time-cpu-us 2 --parent-cpu-time-us 3 --no-seccomp \
    --boot-timer --show-level --show-log-origin; then
	fail a_start "$(cat "$T/a.err")"
	t_done
fi
pass a_start

api "$A" GET /
expect_match get_root_before_start "$CODE $OUT" \
    "^200 \{\"id\":\"vm-a\",\"state\":\"Not started\",\"vmm_version\":\"$VERSION_RE\",\"app_name\":\"Firecracker\"\}$"
api "$A" GET /version
expect_match get_version "$CODE $OUT" \
    "^200 \{\"firecracker_version\":\"$VERSION_RE\"\}$"
expect get_machine_config_default "$A" GET /machine-config "" 200 \
    '{"vcpu_count":1,"mem_size_mib":128,"smt":false,"track_dirty_pages":false,"huge_pages":"None"}'

# bodies Firecracker refuses, with its words
expect bad_unknown_field "$A" PUT /machine-config \
    '{"vcpu_count":2,"mem_size_mib":256,"foo":1}' 400 \
    "$(fault "$SERDE unknown field \`foo\`, expected one of \`vcpu_count\`, \`mem_size_mib\`, \`smt\`, \`cpu_template\`, \`track_dirty_pages\`, \`huge_pages\` at line 1 column 40.")"
expect bad_missing_field "$A" PUT /machine-config '{"vcpu_count":2}' 400 \
    "$(fault "$SERDE missing field \`mem_size_mib\` at line 1 column 16.")"
expect bad_vcpu_count_0 "$A" PUT /machine-config \
    '{"vcpu_count":0,"mem_size_mib":256}' 400 "$(fault "$VCPUS")"
expect bad_vcpu_count_33 "$A" PUT /machine-config \
    '{"vcpu_count":33,"mem_size_mib":256}' 400 "$(fault "$VCPUS")"
expect bad_vcpu_count_odd_smt "$A" PUT /machine-config \
    '{"vcpu_count":3,"mem_size_mib":256,"smt":true}' 400 "$(fault "$VCPUS")"
expect bad_vcpu_count_256 "$A" PUT /machine-config \
    '{"vcpu_count":256,"mem_size_mib":256}' 400 \
    "$(fault "$SERDE invalid value: integer \`256\`, expected u8 at line 1 column 17.")"
expect bad_vcpu_count_type "$A" PUT /machine-config \
    '{"vcpu_count":"2","mem_size_mib":256}' 400 \
    "$(fault "$SERDE invalid type: string \\\"2\\\", expected u8 at line 1 column 17.")"
expect bad_mem_size_0 "$A" PUT /machine-config \
    '{"vcpu_count":1,"mem_size_mib":0}' 400 \
    "$(fault 'Machine config error: The memory size (MiB) is either 0, or not a multiple of the configured page size.')"
expect bad_json_eof "$A" PUT /machine-config '{"vcpu_count": 2,' 400 \
    "$(fault "$SERDE EOF while parsing a value at line 1 column 17.")"
expect bad_json_key "$A" PUT /machine-config '{bad}' 400 \
    "$(fault "$SERDE key must be a string at line 1 column 2.")"
expect bad_json_trailing "$A" PUT /machine-config \
    '{"vcpu_count":2,"mem_size_mib":256} x' 400 \
    "$(fault "$SERDE trailing characters at line 1 column 37.")"
expect bad_json_multiline "$A" PUT /machine-config \
    "$(printf '{\n  "vcpu_count": 2\n}')" 400 \
    "$(fault "$SERDE missing field \`mem_size_mib\` at line 3 column 1.")"
expect bad_empty_put "$A" PUT /machine-config "" 400 \
    "$(fault 'Empty PUT request.')"
expect bad_action_type "$A" PUT /actions '{"action_type":"Reboot"}' 400 \
    "$(fault "$SERDE unknown variant \`Reboot\`, expected one of \`FlushMetrics\`, \`InstanceStart\`, \`SendCtrlAltDel\` at line 1 column 23.")"
expect bad_boot_source_kernel "$A" PUT /boot-source \
    '{"kernel_image_path":"/nonexistent/vmlinux"}' 400 \
    "$(fault 'Boot source error: The kernel file cannot be opened: No such file or directory (os error 2)')"
expect start_after_bad_boot_source "$A" PUT /actions \
    '{"action_type":"InstanceStart"}' 400 "$(fault "$NOKERNEL")"
expect bad_drive_id_mismatch "$A" PUT /drives/rootfs \
    "{\"drive_id\":\"other\",\"path_on_host\":\"$T/rootfs.ext4\",\"is_root_device\":true,\"is_read_only\":false}" \
    400 "$(fault 'The id from the path does not match the id from the body!')"
expect bad_drive_path "$A" PUT /drives/rootfs \
    '{"drive_id":"rootfs","path_on_host":"/nonexistent/disk.img","is_root_device":true,"is_read_only":false}' \
    400 "$(fault 'Drive config error: Unable to create the virtio block device: Virtio backend error: Error manipulating the backing file: No such file or directory (os error 2) /nonexistent/disk.img')"
expect bad_drive_empty_id "$A" PUT /drives/ '{"drive_id":""}' 400 \
    "$(fault 'The ID cannot be empty.')"
expect bad_drive_id_chars "$A" PUT /drives/a-b '{"drive_id":"a-b"}' 400 \
    "$(fault 'API Resource IDs can only contain alphanumeric characters and underscores.')"
expect bad_net_id_mismatch "$A" PUT /network-interfaces/eth0 \
    '{"iface_id":"eth1","host_dev_name":"tap0"}' 400 \
    "$(fault 'The id from the path [eth0] does not match the id from the body [eth1]!')"
expect bad_pause_preboot "$A" PATCH /vm '{"state":"Paused"}' 400 \
    "$(fault "$PREBOOT")"
expect bad_ctrl_alt_del_preboot "$A" PUT /actions \
    '{"action_type":"SendCtrlAltDel"}' 400 "$(fault "$PREBOOT")"
expect bad_vm_state "$A" PATCH /vm '{"state":"Stopped"}' 400 \
    "$(fault "$SERDE unknown variant \`Stopped\`, expected \`Paused\` or \`Resumed\` at line 1 column 18.")"
expect unknown_path "$A" GET /foo "" 400 \
    "$(fault 'Invalid request method and/or path: GET foo.')"
expect unknown_path_method "$A" PUT /version '{}' 400 \
    "$(fault 'Invalid request method and/or path: PUT version.')"
expect get_with_body "$A" GET / '{}' 400 \
    "$(fault 'GET request cannot have a body.')"
expect_eq unknown_http_method "$(raw "$A" method)" "400 msg"
expect_eq payload_too_large "$(raw "$A" toolarge)" \
    '{ "error": "Request payload with size 60000 is larger than the limit of 51200 allowed by server.
All previous unanswered requests will be dropped." }'
expect_eq request_line_too_long "$(raw "$A" longline)" "400 msg closed"

# each pre-boot resource, accepted
expect put_machine_config "$A" PUT /machine-config \
    '{"vcpu_count":2,"mem_size_mib":256}' 204 ""
expect patch_machine_config "$A" PATCH /machine-config \
    '{"mem_size_mib":512}' 204 ""
expect patch_machine_config_empty "$A" PATCH /machine-config '{}' 400 \
    "$(fault 'Empty PATCH request.')"
expect put_boot_source "$A" PUT /boot-source \
    "{\"kernel_image_path\":\"$T/vmlinux\",\"initrd_path\":\"$T/initrd\",\"boot_args\":\"console=ttyS0 reboot=k panic=1\"}" \
    204 ""
expect put_drive_root "$A" PUT /drives/rootfs \
    "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$T/rootfs.ext4\",\"is_root_device\":true,\"is_read_only\":false}" \
    204 ""
expect put_drive_data "$A" PUT /drives/data \
    "{\"drive_id\":\"data\",\"path_on_host\":\"$T/data.ext4\",\"is_root_device\":false,\"is_read_only\":true,\"cache_type\":\"Writeback\"}" \
    204 ""
expect bad_second_root "$A" PUT /drives/data \
    "{\"drive_id\":\"data\",\"path_on_host\":\"$T/data.ext4\",\"is_root_device\":true,\"is_read_only\":true}" \
    400 "$(fault 'Drive config error: A root block device already exists!')"
if [ -n "$NETNS" ]; then
	expect put_network_interface "$A" PUT /network-interfaces/eth0 \
	    '{"iface_id":"eth0","host_dev_name":"tap-a0","guest_mac":"06:00:AC:10:00:02"}' \
	    204 ""
	# held open, with Firecracker's flags (IFF_TAP, IFF_NO_PI,
	# IFF_VNET_HDR; IFF_PERSIST from ip tuntap)
	expect_eq put_network_interface_opens_tap "$(find "/proc/$PID/fd" \
	    -lname /dev/net/tun | wc -l) $("${RUN[@]}" \
	    cat /sys/class/net/tap-a0/tun_flags)" "1 0x5802"
	expect bad_net_mac_in_use "$A" PUT /network-interfaces/eth1 \
	    '{"iface_id":"eth1","host_dev_name":"tap-a1","guest_mac":"06:00:ac:10:00:02"}' \
	    400 "$(fault 'Network config error: The MAC address is already in use: 06:00:ac:10:00:02')"
fi
expect put_logger "$A" PUT /logger \
    "{\"log_path\":\"$T/fc.log\",\"level\":\"Debug\",\"show_level\":true}" \
    204 ""
expect put_metrics "$A" PUT /metrics "{\"metrics_path\":\"$T/metrics.json\"}" \
    204 ""
expect put_vsock "$A" PUT /vsock \
    "{\"guest_cid\":3,\"uds_path\":\"$T/vsock.sock\"}" 204 ""
expect put_entropy "$A" PUT /entropy '{}' 204 ""
expect put_mmds "$A" PUT /mmds '{"latest":{"meta-data":{"id":"a"}}}' 204 ""
expect patch_mmds "$A" PATCH /mmds '{"latest":{"user-data":"x"}}' 204 ""
expect get_mmds "$A" GET /mmds "" 200 \
    '{"latest":{"meta-data":{"id":"a"},"user-data":"x"}}'
expect_eq expect_100_continue "$(raw "$A" expect)" "100 204"

# the HTTP server: keep-alive, pipelining, several clients, split reads
OUT=$(curl -sS --unix-socket "$A" -o /dev/null -o /dev/null -o /dev/null \
    -w '%{http_code}:%{num_connects} ' http://localhost/ \
    http://localhost/version http://localhost/machine-config 2>&1)
expect_eq http_keepalive "$OUT" "200:1 200:0 200:0 "
expect_eq http_pipelining "$(raw "$A" pipeline)" "a=200 200 200 b=200"
expect_match http_split_request "$(raw "$A" split)" \
    "^200 \{\"firecracker_version\":\"$VERSION_RE\"\}$"
expect_eq http_connection_limit "$(raw "$A" full)" "503"

# start
expect instance_start "$A" PUT /actions '{"action_type":"InstanceStart"}' \
    204 ""
if wait_for 5 grep -q "fc-standin login:" "$T/a.out"; then
	pass console_banner
else
	fail console_banner "no login prompt: $(head -c 300 "$T/a.out")"
fi
expect_has console_cmdline "$(cat "$T/a.out")" \
    "Command line: console=ttyS0 reboot=k panic=1 root=/dev/vda rw"
expect_match console_linux "$(head -1 "$T/a.out")" '^\[ *[0-9]+\.[0-9]{6}\] Linux version'
# api_server_adapter.rs starts the periodic metrics with a flush
expect_eq metrics_at_instance_start \
    "$(grep -c '"utc_timestamp_ms"' "$T/metrics.json")" 1
expect instance_start_again "$A" PUT /actions \
    '{"action_type":"InstanceStart"}' 400 "$(fault "$POSTBOOT")"
api "$A" GET /
expect_match state_running "$CODE $OUT" '^200 .*"state":"Running"'

# pre-boot-only resources, refused after start
expect postboot_machine_config "$A" PUT /machine-config \
    '{"vcpu_count":1,"mem_size_mib":128}' 400 "$(fault "$POSTBOOT")"
expect postboot_patch_machine_config "$A" PATCH /machine-config \
    '{"vcpu_count":1}' 400 "$(fault "$POSTBOOT")"
expect postboot_boot_source "$A" PUT /boot-source \
    "{\"kernel_image_path\":\"$T/vmlinux\"}" 400 "$(fault "$POSTBOOT")"
expect postboot_drive "$A" PUT /drives/rootfs \
    "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$T/rootfs.ext4\",\"is_root_device\":true,\"is_read_only\":false}" \
    400 "$(fault "$POSTBOOT")"
expect postboot_network_interface "$A" PUT /network-interfaces/eth0 \
    '{"iface_id":"eth0","host_dev_name":"tap-a0"}' 400 "$(fault "$POSTBOOT")"
expect postboot_logger "$A" PUT /logger '{"level":"Info"}' 400 \
    "$(fault "$POSTBOOT")"
expect postboot_metrics "$A" PUT /metrics \
    "{\"metrics_path\":\"$T/metrics.json\"}" 400 "$(fault "$POSTBOOT")"
expect postboot_patch_drive "$A" PATCH /drives/data \
    "{\"drive_id\":\"data\",\"path_on_host\":\"$T/data.ext4\"}" 204 ""
if [ -n "$NETNS" ]; then
	expect postboot_patch_net "$A" PATCH /network-interfaces/eth0 \
	    '{"iface_id":"eth0"}' 204 ""
fi
expect postboot_flush_metrics "$A" PUT /actions \
    '{"action_type":"FlushMetrics"}' 204 ""
expect_match metrics_written "$(cat "$T/metrics.json")" '"utc_timestamp_ms":[0-9]+'
expect_eq metrics_flush_appends \
    "$(grep -c '"utc_timestamp_ms"' "$T/metrics.json")" 2

# pause and resume
expect pause "$A" PATCH /vm '{"state":"Paused"}' 204 ""
api "$A" GET /
expect_match state_paused "$CODE $OUT" '^200 .*"state":"Paused"'
expect resume "$A" PATCH /vm '{"state":"Resumed"}' 204 ""
api "$A" GET /
expect_match state_resumed "$CODE $OUT" '^200 .*"state":"Running"'

# the full configuration, field by field
api "$A" GET /vm/config
expect_eq vm_config_status "$CODE" 200
CFG=$OUT
expect_has vm_config_machine "$CFG" \
    '"machine-config":{"vcpu_count":2,"mem_size_mib":512,"smt":false,"track_dirty_pages":false,"huge_pages":"None"}'
expect_has vm_config_boot_source "$CFG" \
    "\"boot-source\":{\"kernel_image_path\":\"$T/vmlinux\",\"initrd_path\":\"$T/initrd\",\"boot_args\":\"console=ttyS0 reboot=k panic=1\"}"
expect_has vm_config_drive_root "$CFG" \
    "\"drives\":[{\"drive_id\":\"rootfs\",\"partuuid\":null,\"is_root_device\":true,\"cache_type\":\"Unsafe\",\"is_read_only\":false,\"path_on_host\":\"$T/rootfs.ext4\",\"rate_limiter\":null,\"io_engine\":\"Sync\",\"socket\":null},"
expect_has vm_config_drive_data "$CFG" \
    "{\"drive_id\":\"data\",\"partuuid\":null,\"is_root_device\":false,\"cache_type\":\"Writeback\",\"is_read_only\":true,\"path_on_host\":\"$T/data.ext4\",\"rate_limiter\":null,\"io_engine\":\"Sync\",\"socket\":null}]"
if [ -n "$NETNS" ]; then
	expect_has vm_config_network "$CFG" \
	    '"network-interfaces":[{"iface_id":"eth0","host_dev_name":"tap-a0","guest_mac":"06:00:ac:10:00:02","rx_rate_limiter":null,"tx_rate_limiter":null}]'
fi
expect_has vm_config_vsock "$CFG" \
    "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"$T/vsock.sock\"}"
expect_match vm_config_keys "$CFG" \
    '^\{"balloon":null,"drives":.*,"boot-source":.*,"cpu-config":null,"logger":null,"machine-config":.*,"metrics":null,"mmds-config":null,"network-interfaces":.*,"vsock":.*,"entropy":\{"rate_limiter":null\}\}$'

# the request log
expect_eq reqlog_put "$(grep -Fxc \
    '{"method":"PUT","path":"/machine-config","body":{"vcpu_count":2,"mem_size_mib":256},"status":204}' \
    "$T/a.req")" 1
expect_eq reqlog_get "$(grep -Fxc \
    '{"method":"GET","path":"/foo","body":null,"status":400}' "$T/a.req")" 1
expect_eq reqlog_start "$(grep -Fxc \
    '{"method":"PUT","path":"/actions","body":{"action_type":"InstanceStart"},"status":400}' \
    "$T/a.req") $(grep -Fxc \
    '{"method":"PUT","path":"/actions","body":{"action_type":"InstanceStart"},"status":204}' \
    "$T/a.req")" "2 1"
expect_eq reqlog_bad_json "$(grep -Fxc \
    '{"method":"PUT","path":"/machine-config","body":null,"status":400}' \
    "$T/a.req")" 4
expect_eq reqlog_well_formed "$(grep -Ec \
    '^\{"method":("[A-Z]+"|null),"path":("[^"]*"|null),"body":.*,"status":[0-9]{3}\}$' \
    "$T/a.req")" "$(wc -l <"$T/a.req")"

# Firecracker's own log, from --log-path and PUT /logger
expect_has fc_log_start "$(cat "$T/fc.log")" "Running Firecracker v"
expect_has fc_log_request "$(cat "$T/fc.log")" \
    'The API server received a Put request on "/machine-config" with body'
expect_match fc_log_format "$(head -1 "$T/fc.log")" \
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9} \[vm-a:main:INFO:'

# Ctrl+Alt+Del: the guest reboots, the VMM exits 0
expect ctrl_alt_del "$A" PUT /actions '{"action_type":"SendCtrlAltDel"}' \
    204 ""
wait_exit "$PID" 5
expect_eq ctrl_alt_del_exit "$RC" 0
# Vmm::stop() writes the metrics once more
expect_eq metrics_at_exit \
    "$(grep -c '"utc_timestamp_ms"' "$T/metrics.json")" 3
expect_eq ctrl_alt_del_socket_removed "$(test -e "$A" && echo yes)" ""
expect_has ctrl_alt_del_console "$(tail -1 "$T/a.out")" \
    "reboot: Restarting system"

# --- kernels: InstanceStart loads the kernel, as linux-loader does ------

KERN='Start microvm error: Cannot load kernel due to invalid memory configuration or invalid kernel image: Kernel Loader: '
ELFERR="${KERN}failed to load ELF kernel image: Kernel Loader:"
K=$T/k.sock
start k "$IDLE" "$K" --id vm-k
head -c 8192 /dev/urandom >"$T/random"
: >"$T/empty"
cp "$T/vmlinux" "$T/lowentry"
le64 "$T/lowentry" 24 4096		# e_entry below 1 MiB
cp "$T/vmlinux" "$T/highload"
le64 "$T/highload" 88 $((1 << 30))	# p_paddr at 1 GiB
# kernel FILE NAME MESSAGE: PUT /boot-source takes it, InstanceStart
# refuses it, and the VM stays unstarted.
kernel() {
	api "$K" PUT /boot-source "{\"kernel_image_path\":\"$1\"}"
	expect_eq "$2_put" "$CODE" 204
	expect "$2" "$K" PUT /actions '{"action_type":"InstanceStart"}' \
	    400 "$(fault "$3")"
}
kernel "$T/random" kernel_not_elf "$ELFERR Invalid Elf magic number"
kernel "$T/empty" kernel_empty "$ELFERR Unable to read elf header"
kernel "$T/lowentry" kernel_entry_below_1m "$ELFERR Invalid entry address"
kernel "$T/highload" kernel_beyond_memory \
    "$ELFERR Unable to read kernel image"
api "$K" GET /
expect_match kernel_refused_not_started "$CODE $OUT" '"state":"Not started"'
api "$K" PATCH /machine-config '{"mem_size_mib":2048}'
expect kernel_fits_more_memory "$K" PUT /actions \
    '{"action_type":"InstanceStart"}' 204 ""
kill -TERM "$PID"
wait_exit "$PID" 5

# --- bodies: the structs without deny_unknown_fields ---------------------

M=$T/m.sock
start m "$IDLE" "$M" --id vm-m
: >"$T/m-metrics.json"
expect metrics_unknown_field "$M" PUT /metrics \
    "{\"metrics_path\":\"$T/m-metrics.json\",\"extra\":{\"a\":[1,2]}}" 204 ""
expect bucket_unknown_field "$M" PUT /drives/data \
    "{\"drive_id\":\"data\",\"path_on_host\":\"$T/data.ext4\",\"is_root_device\":false,\"rate_limiter\":{\"bandwidth\":{\"size\":1,\"refill_time\":1,\"extra\":true}}}" \
    204 ""
expect rate_limiter_unknown_field "$M" PUT /drives/data \
    "{\"drive_id\":\"data\",\"path_on_host\":\"$T/data.ext4\",\"is_root_device\":false,\"rate_limiter\":{\"extra\":1}}" \
    400 "$(fault "$SERDE unknown field \`extra\`, expected \`bandwidth\` or \`ops\` at line 1 column $((${#T} + 93)).")"
expect metrics_unknown_field_bad_json "$M" PUT /metrics \
    "{\"metrics_path\":\"$T/m-metrics.json\",\"extra\":[1,}" 400 \
    "$(fault "$SERDE expected value at line 1 column $((${#T} + 46)).")"
kill -TERM "$PID"
wait_exit "$PID" 5

# --- Ctrl+Alt+Del to a paused VM: it waits in the i8042 ------------------

P=$T/p.sock
start p "$IDLE" "$P" --id vm-p
api "$P" PUT /boot-source "{\"kernel_image_path\":\"$T/vmlinux\"}"
api "$P" PUT /actions '{"action_type":"InstanceStart"}'
api "$P" PATCH /vm '{"state":"Paused"}'
for i in 1 2 3 4; do
	expect "paused_ctrl_alt_del_$i" "$P" PUT /actions \
	    '{"action_type":"SendCtrlAltDel"}' 204 ""
done
# 16 bytes of buffer, 4 per Ctrl+Alt+Del
expect paused_ctrl_alt_del_buffer_full "$P" PUT /actions \
    '{"action_type":"SendCtrlAltDel"}' 400 \
    "$(fault 'Internal VMM error: I8042 error: i8042 internal buffer full.')"
sleep 1
api "$P" GET /
expect_match paused_ctrl_alt_del_nothing_yet \
    "$CODE $OUT $(grep -c 'reboot:' "$T/p.out")" '^200 .*"state":"Paused".* 0$'
expect paused_ctrl_alt_del_resume "$P" PATCH /vm '{"state":"Resumed"}' 204 ""
wait_exit "$PID" 5
expect_eq paused_ctrl_alt_del_read_on_resume \
    "$RC $(tail -1 "$T/p.out" | grep -o 'reboot: Restarting system')" \
    "0 reboot: Restarting system"

# --- snapshots: create from a paused VM, load into a fresh stand-in ------

SNAP_RUN='Create snapshot error: Cannot save the microVM state: Operation not allowed: save/restore unavailable while running'
SNAP_DIFF='The requested operation is not supported: Diff snapshots are not allowed on uVMs with dirty page tracking disabled.'
LOAD_NOTNOW='Load snapshot error: Loading a microVM snapshot not allowed after configuring boot-specific resources.'
LOAD_ERR='Load snapshot error: Failed to restore from snapshot:'
LOAD_FORMAT="$LOAD_ERR Failed to get snapshot state from file: Failed to load snapshot state from file:"
# crc64 FILE: the crc64 crate's CRC64 of FILE but its last 8 bytes.
crc64() {
	perl -e 'local $/; open(my $f, "<", $ARGV[0]) or die "$!\n";
	    my $d = <$f>; $d = substr($d, 0, length($d) - 8); my $c = 0;
	    for my $b (unpack("C*", $d)) { $c ^= $b; for (1 .. 8) {
	    $c = $c & 1 ? ($c >> 1) ^ 0x95ac9329ac4bc9b5 : $c >> 1; } }
	    printf("%u\n", $c);' "$1"
}
# load_fails NAME BODY MESSAGE: a fresh stand-in refuses the load with
# MESSAGE and, as Firecracker after a failed restore, exits 1.
load_fails() {
	start "$1" "$IDLE" "$T/$1.sock" --id vm-l
	expect "$1" "$T/$1.sock" PUT /snapshot/load "$2" 400 "$(fault "$3")"
	wait_exit "$PID" 5
	expect_eq "$1_exit" "$RC" 1
}

mkdir "$T/sd"
cd "$T/sd" || exit 1
start s "$IDLE" "$T/s.sock" --id vm-s
cd "$TOP" || exit 1
S=$T/s.sock
SNAPBODY='{"snapshot_path":"vm.snap","mem_file_path":"vm.mem"}'
expect snapshot_create_preboot "$S" PUT /snapshot/create "$SNAPBODY" 400 \
    "$(fault "$PREBOOT")"
expect snapshot_no_operation "$S" PUT /snapshot '{}' 400 \
    "$(fault 'Missing snapshot operation type.')"
expect snapshot_bad_operation "$S" PUT /snapshot/save '{}' 400 \
    "$(fault 'Invalid request method and/or path: PUT /snapshot/save.')"
expect snapshot_create_missing_field "$S" PUT /snapshot/create \
    '{"snapshot_path":"vm.snap"}' 400 \
    "$(fault "$SERDE missing field \`mem_file_path\` at line 1 column 27.")"
expect snapshot_create_unknown_field "$S" PUT /snapshot/create \
    '{"snapshot_path":"a","mem_file_path":"b","version":"1.0.0"}' 400 \
    "$(fault "$SERDE unknown field \`version\`, expected one of \`snapshot_type\`, \`snapshot_path\`, \`mem_file_path\` at line 1 column 50.")"
expect snapshot_create_bad_type "$S" PUT /snapshot/create \
    '{"snapshot_type":"Incremental","snapshot_path":"a","mem_file_path":"b"}' \
    400 "$(fault "$SERDE unknown variant \`Incremental\`, expected \`Diff\` or \`Full\` at line 1 column 30.")"
api "$S" PUT /machine-config '{"vcpu_count":2,"mem_size_mib":256,"smt":true}'
api "$S" PUT /boot-source \
    "{\"kernel_image_path\":\"$T/vmlinux\",\"boot_args\":\"console=ttyS0 reboot=k panic=1\"}"
api "$S" PUT /drives/rootfs \
    "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$T/rootfs.ext4\",\"is_root_device\":true,\"is_read_only\":false}"
api "$S" PUT /drives/data \
    "{\"drive_id\":\"data\",\"path_on_host\":\"$T/data.ext4\",\"is_root_device\":false,\"is_read_only\":true,\"rate_limiter\":{\"ops\":{\"size\":100,\"refill_time\":1000}}}"
if [ -n "$NETNS" ]; then
	api "$S" PUT /network-interfaces/eth0 \
	    '{"iface_id":"eth0","host_dev_name":"tap-a0","guest_mac":"06:00:AC:10:00:05"}'
fi
api "$S" PUT /vsock "{\"guest_cid\":5,\"uds_path\":\"$T/s-vsock.sock\"}"
expect snapshot_load_after_config "$S" PUT /snapshot/load \
    '{"snapshot_path":"vm.snap","mem_backend":{"backend_path":"vm.mem","backend_type":"File"}}' \
    400 "$(fault "$LOAD_NOTNOW")"
api "$S" PUT /actions '{"action_type":"InstanceStart"}'
expect snapshot_create_running "$S" PUT /snapshot/create "$SNAPBODY" 400 \
    "$(fault "$SNAP_RUN")"
expect_eq snapshot_create_running_no_files \
    "$(ls "$T/sd" | grep -c '^vm\.')" 0
api "$S" PATCH /vm '{"state":"Paused"}'
expect snapshot_create_diff_untracked "$S" PUT /snapshot/create \
    '{"snapshot_type":"Diff","snapshot_path":"vm.snap","mem_file_path":"vm.mem"}' \
    400 "$(fault "$SNAP_DIFF")"
expect snapshot_create "$S" PUT /snapshot/create "$SNAPBODY" 204 ""
expect_eq snapshot_create_state_file "$(head -1 "$T/sd/vm.snap")" \
    "fc-standin snapshot 1"
expect_eq snapshot_create_mem_file \
    "$(stat -c '%s %b' "$T/sd/vm.mem")" "268435456 0"
expect_eq snapshot_create_crc "$(crc64 "$T/sd/vm.snap")" \
    "$(perl -e 'open(my $f, "<", $ARGV[0]) or die; seek($f, -8, 2);
    read($f, my $b, 8); printf("%u\n", unpack("Q<", $b));' "$T/sd/vm.snap")"
expect snapshot_load_postboot "$S" PUT /snapshot/load \
    '{"snapshot_path":"vm.snap","mem_file_path":"vm.mem"}' 400 \
    "$(fault "$POSTBOOT")"
api "$S" GET /vm/config
CFG_S=$OUT
expect snapshot_create_then_resume "$S" PATCH /vm '{"state":"Resumed"}' \
    204 ""
kill -TERM "$PID"
wait_exit "$PID" 5

# bodies PUT /snapshot/load refuses
L=$T/l.sock
start l "$IDLE" "$L" --id vm-l
expect snapshot_load_both "$L" PUT /snapshot/load \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_file_path\":\"$T/sd/vm.mem\",\"mem_backend\":{\"backend_path\":\"$T/sd/vm.mem\",\"backend_type\":\"File\"}}" \
    400 "$(fault "$SERDE too many fields: either \`mem_backend\` or \`mem_file_path\` exclusively is required.")"
expect snapshot_load_neither "$L" PUT /snapshot/load \
    "{\"snapshot_path\":\"$T/sd/vm.snap\"}" 400 \
    "$(fault "$SERDE missing field: either \`mem_backend\` or \`mem_file_path\` is required.")"
expect snapshot_load_override_no_dev "$L" PUT /snapshot/load \
    '{"snapshot_path":"a","mem_file_path":"b","network_overrides":[{"iface_id":"eth0"}]}' 400 \
    "$(fault "$SERDE missing field \`host_dev_name\` at line 1 column 81.")"
expect snapshot_load_override_not_list "$L" PUT /snapshot/load \
    '{"snapshot_path":"a","mem_file_path":"b","network_overrides":{}}' 400 \
    "$(fault "$SERDE invalid type: map, expected a sequence at line 1 column 61.")"
expect snapshot_load_backend_unknown_field "$L" PUT /snapshot/load \
    '{"snapshot_path":"a","mem_backend":{"backend_path":"b","backend_type":"File","x":1}}' \
    400 "$(fault "$SERDE unknown field \`x\`, expected \`backend_path\` or \`backend_type\` at line 1 column 80.")"
expect snapshot_load_uffd "$L" PUT /snapshot/load \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_backend\":{\"backend_path\":\"$T/uffd.sock\",\"backend_type\":\"Uffd\"}}" \
    400 "$(fault 'fc-standin: Uffd memory backends are not emulated; use \"backend_type\": \"File\".')"
api "$L" GET /
expect_match snapshot_load_refusals_leave_it "$CODE $OUT" \
    '^200 .*"state":"Not started"'
kill -TERM "$PID"
wait_exit "$PID" 5

# a failed restore: the answer, then exit 1
truncate -s 128M "$T/small.mem"
load_fails snapshot_load_mem_too_small \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_backend\":{\"backend_path\":\"$T/small.mem\",\"backend_type\":\"File\"}}" \
    "$LOAD_ERR Failed to load guest memory: Error creating guest memory from file: Failed to restore guest memory: Cannot create mmap region: The specified file offset and length is greater then file length"
load_fails snapshot_load_mem_missing \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_backend\":{\"backend_path\":\"$T/none.mem\",\"backend_type\":\"File\"}}" \
    "$LOAD_ERR Failed to load guest memory: Error creating guest memory from file: Failed to load guest memory: No such file or directory (os error 2)"
load_fails snapshot_load_state_missing \
    "{\"snapshot_path\":\"$T/none.snap\",\"mem_file_path\":\"$T/sd/vm.mem\"}" \
    "$LOAD_ERR Failed to get snapshot state from file: Failed to open snapshot file: No such file or directory (os error 2)"
printf 'this is not a snapshot\n' >"$T/not.snap"
load_fails snapshot_load_not_a_snapshot \
    "{\"snapshot_path\":\"$T/not.snap\",\"mem_file_path\":\"$T/sd/vm.mem\"}" \
    "$LOAD_FORMAT CRC64 validation failed: $(crc64 "$T/not.snap")"
printf 'abc' >"$T/short.snap"
load_fails snapshot_load_shorter_than_crc \
    "{\"snapshot_path\":\"$T/short.snap\",\"mem_file_path\":\"$T/sd/vm.mem\"}" \
    "$LOAD_FORMAT Snapshot file is smaller than CRC length."
# the CRC64 is right (the crc64 crate's own example), the magic is not
perl -e 'print chr(123) x 16, pack("Q<", 0x29D5357216326566)' \
    >"$T/magic.snap"
load_fails snapshot_load_bad_magic \
    "{\"snapshot_path\":\"$T/magic.snap\",\"mem_file_path\":\"$T/sd/vm.mem\"}" \
    "$LOAD_FORMAT Magic value does not match arch: 8897841259083430779"

# the round trip: a fresh stand-in becomes the paused VM, then resumes
R=$T/r.sock
start r "$IDLE" "$R" --id vm-r
api "$R" PUT /logger "{\"log_path\":\"$T/r.log\"}"
expect snapshot_load "$R" PUT /snapshot/load \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_backend\":{\"backend_path\":\"$T/sd/vm.mem\",\"backend_type\":\"File\"}}" \
    204 ""
api "$R" GET /
expect_match snapshot_load_paused "$CODE $OUT" \
    '^200 \{"id":"vm-r","state":"Paused",'
api "$R" GET /vm/config
expect_eq snapshot_load_vm_config "$CODE $OUT" "200 $CFG_S"
if [ -n "$NETNS" ]; then
	expect_has snapshot_load_network "$OUT" \
	    '"network-interfaces":[{"iface_id":"eth0","host_dev_name":"tap-a0","guest_mac":"06:00:ac:10:00:05",'
	expect_eq snapshot_load_opens_tap "$(find "/proc/$PID/fd" \
	    -lname /dev/net/tun | wc -l)" 1
fi
expect snapshot_load_again "$R" PUT /snapshot/load \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_file_path\":\"$T/sd/vm.mem\"}" \
    400 "$(fault "$POSTBOOT")"
expect snapshot_load_then_start "$R" PUT /actions \
    '{"action_type":"InstanceStart"}' 400 "$(fault "$POSTBOOT")"
expect snapshot_load_resume "$R" PATCH /vm '{"state":"Resumed"}' 204 ""
api "$R" GET /
expect_match snapshot_load_running "$CODE $OUT" '^200 .*"state":"Running"'
kill -TERM "$PID"
wait_exit "$PID" 5

# network_overrides (1.12): an interface of the snapshot on another
# tap; one the snapshot does not have fails the load
if [ -n "$NETNS" ]; then
	R3=$T/r3.sock
	start r3 "$IDLE" "$R3" --id vm-r3
	expect snapshot_load_override "$R3" PUT /snapshot/load \
	    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_backend\":{\"backend_path\":\"$T/sd/vm.mem\",\"backend_type\":\"File\"},\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap-q0\",\"x\":1}]}" \
	    204 ""
	api "$R3" GET /vm/config
	expect_has snapshot_load_override_config "$OUT" \
	    '"network-interfaces":[{"iface_id":"eth0","host_dev_name":"tap-q0","guest_mac":"06:00:ac:10:00:05",'
	expect_eq snapshot_load_override_opens_tap "$(find "/proc/$PID/fd" \
	    -lname /dev/net/tun | wc -l) $("${RUN[@]}" \
	    cat /sys/class/net/tap-q0/tun_flags)" "1 0x5802"
	kill -TERM "$PID"
	wait_exit "$PID" 5
fi
load_fails snapshot_load_override_unknown \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_file_path\":\"$T/sd/vm.mem\",\"network_overrides\":[{\"iface_id\":\"eth9\",\"host_dev_name\":\"tap-q0\"}]}" \
    "$LOAD_ERR Failed to get snapshot state from file: Unknown Network Device."

# resume_vm, the deprecated mem_file_path, and dirty page tracking
R2=$T/r2.sock
start r2 "$IDLE" "$R2" --id vm-r2
HDR=$(curl -sS -i --unix-socket "$R2" -X PUT \
    -H 'Content-Type: application/json' --data-binary \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_file_path\":\"$T/sd/vm.mem\",\"resume_vm\":true,\"enable_diff_snapshots\":true}" \
    http://localhost/snapshot/load | tr -d '\r')
expect_eq snapshot_load_deprecated "$(head -1 <<<"$HDR") $(grep -c \
    '^Deprecation: true$' <<<"$HDR")" "HTTP/1.1 204  1"
api "$R2" GET /
expect_match snapshot_load_resume_vm "$CODE $OUT" '^200 .*"state":"Running"'
api "$R2" GET /machine-config
expect_eq snapshot_load_diff_tracking "$CODE $OUT" \
    '200 {"vcpu_count":2,"mem_size_mib":256,"smt":true,"track_dirty_pages":true,"huge_pages":"None"}'
api "$R2" PATCH /vm '{"state":"Paused"}'
expect snapshot_create_diff "$R2" PUT /snapshot/create \
    "{\"snapshot_type\":\"Diff\",\"snapshot_path\":\"$T/r2.snap\",\"mem_file_path\":\"$T/sd/vm.mem\"}" \
    204 ""
kill -TERM "$PID"
wait_exit "$PID" 5

# --- aarch64: an arm64 Image, and no SendCtrlAltDel ----------------------

CADARM='SendCtrlAltDel does not supported on aarch64.'
mkimage "$T/Image"
R64=$T/arm.sock
start arm "$IDLE" "$R64" --standin-arch aarch64
expect aarch64_ctrl_alt_del_preboot "$R64" PUT /actions \
    '{"action_type":"SendCtrlAltDel"}' 400 "$(fault "$CADARM")"
api "$R64" PUT /boot-source "{\"kernel_image_path\":\"$T/vmlinux\"}"
expect aarch64_elf_kernel "$R64" PUT /actions \
    '{"action_type":"InstanceStart"}' 400 \
    "$(fault "${KERN}failed to load PE kernel image: PE Kernel Loader: invalid Image magic number")"
api "$R64" PUT /boot-source "{\"kernel_image_path\":\"$T/Image\"}"
expect aarch64_image_kernel "$R64" PUT /actions \
    '{"action_type":"InstanceStart"}' 204 ""
expect aarch64_ctrl_alt_del "$R64" PUT /actions \
    '{"action_type":"SendCtrlAltDel"}' 400 "$(fault "$CADARM")"
sleep 0.5
api "$R64" GET /
expect_match aarch64_ctrl_alt_del_still_running "$CODE $OUT" \
    '^200 .*"state":"Running"'
kill -TERM "$PID"
wait_exit "$PID" 5
FC_STANDIN_ARCH=aarch64 start arm2 "$IDLE" "$T/arm2.sock"
expect aarch64_from_env "$T/arm2.sock" PUT /actions \
    '{"action_type":"SendCtrlAltDel"}' 400 "$(fault "$CADARM")"
kill -TERM "$PID"
wait_exit "$PID" 5
# a jailed stand-in gets its options from ./fc-standin.args
mkdir "$T/jail3"
echo "--standin-arch aarch64" >"$T/jail3/fc-standin.args"
(cd "$T/jail3" && exec "${RUN[@]}" "$IDLE" --api-sock "$T/arm3.sock" \
    >"$T/arm3.out" 2>&1) &
PID=$!
PIDS+=("$PID")
wait_for 5 test -S "$T/arm3.sock"
expect aarch64_from_args_file "$T/arm3.sock" PUT /actions \
    '{"action_type":"SendCtrlAltDel"}' 400 "$(fault "$CADARM")"
kill -TERM "$PID"
wait_exit "$PID" 5
"$QEMU" --api-sock "$T/arm4.sock" --standin-arch aarch64 >"$T/arm4.out" 2>&1
expect_eq aarch64_not_in_qemu_mode "$? $(cat "$T/arm4.out")" \
    "1 fc-standin: --standin-arch aarch64: qemu mode runs x86_64 guests only"

# --- a socket made before it is listened on -------------------------------

L=$T/l.sock
start l "$IDLE" "$L" --standin-listen-delay 3000
curl -sS --unix-socket "$L" -o /dev/null http://localhost/ 2>"$T/l.curl"
expect_match listen_delay_refused \
    "$? $(test -S "$L" && echo socket) $(cat "$T/l.curl")" \
    "^7 socket curl: \(7\) .*Couldn't connect to server$"
if wait_for 10 curl -sf --unix-socket "$L" http://localhost/; then
	pass listen_delay_then_listens
else
	fail listen_delay_then_listens "no answer in 10 s"
fi
kill -TERM "$PID"
wait_exit "$PID" 5

# --- taps, as a jailed Firecracker meets them: as nobody ---------------------

if [ -n "$NETNS" ]; then
	NETERR='Network config error: Could not create the network device: Open tap device failed:'
	N=$T/nobody/n.sock
	start_nobody n "$IDLE" "$N" --id vm-n
	expect tap_of_its_own "$N" PUT /network-interfaces/eth0 \
	    '{"iface_id":"eth0","host_dev_name":"tap-n0"}' 204 ""
	expect tap_missing "$N" PUT /network-interfaces/eth1 \
	    '{"iface_id":"eth1","host_dev_name":"tap-n9"}' 400 \
	    "$(fault "$NETERR Error while creating ifreq structure: Operation not permitted (os error 1). Invalid TUN/TAP Backend provided by tap-n9. Check our documentation on setting up the network devices.")"
	expect tap_name_of_16 "$N" PUT /network-interfaces/eth1 \
	    '{"iface_id":"eth1","host_dev_name":"tap-0123456789ab"}' 400 \
	    "$(fault "$NETERR Invalid interface name")"
	expect tap_in_use "$N" PUT /network-interfaces/eth1 \
	    '{"iface_id":"eth1","host_dev_name":"tap-n0"}' 400 \
	    "$(fault "$NETERR Error while creating ifreq structure: Device or resource busy (os error 16). Invalid TUN/TAP Backend provided by tap-n0. Check our documentation on setting up the network devices.")"
	# NetBuilder drops the interface it updates before opening the tap
	api "$N" PUT /network-interfaces/eth0 \
	    '{"iface_id":"eth0","host_dev_name":"tap-n9"}'
	api "$N" GET /vm/config
	expect_has tap_failed_update_drops_old "$CODE $OUT" \
	    '"network-interfaces":[]'
	expect tap_free_again "$N" PUT /network-interfaces/eth0 \
	    '{"iface_id":"eth0","host_dev_name":"tap-n0"}' 204 ""
	kill -TERM "$PID"
	wait_exit "$PID" 5
fi

# --- instance B: no boot source; the socket in use ----------------------

B=$T/b.sock
start b "$IDLE" "$B"
expect start_without_boot_source "$B" PUT /actions \
    '{"action_type":"InstanceStart"}' 400 "$(fault "$NOKERNEL")"
api "$B" GET /
expect_match default_instance_id "$CODE $OUT" \
    '^200 \{"id":"anonymous-instance","state":"Not started"'
"$IDLE" --api-sock "$B" >"$T/busy.out" 2>&1
RC=$?
expect_eq api_sock_in_use_status "$RC" 1
expect_has api_sock_in_use_message "$(cat "$T/busy.out")" \
    "Failed to open the API socket at: $B. Check that it is not already used."
api "$B" GET /
expect_eq api_sock_in_use_first_unharmed "$CODE" 200
: >"$T/stale.sock"
"$IDLE" --api-sock "$T/stale.sock" >"$T/stale.out" 2>&1
expect_eq api_sock_stale_file "$? $(test -f "$T/stale.sock" && echo kept)" \
    "1 kept"

kill -TERM "$PID"
wait_exit "$PID" 5
expect_eq sigterm_exit "$RC" 0
expect_eq sigterm_socket_removed "$(test -e "$B" && echo yes)" ""

C=$T/c.sock
start c "$IDLE" "$C"
kill -INT "$PID"
wait_exit "$PID" 5
expect_eq sigint_exit "$RC" 0

# --- the request log without our option: env, and a file in the cwd ---

D=$T/d.sock
FC_STANDIN_LOG=$T/env.req start d "$IDLE" "$D"
api "$D" GET /
kill -TERM "$PID"
wait_exit "$PID" 5
expect_eq reqlog_env "$(cat "$T/env.req" 2>/dev/null)" \
    '{"method":"GET","path":"/","body":null,"status":200}'

mkdir "$T/jail"
echo "$T/jail/req.log" >"$T/jail/fc-standin.log-path"
(cd "$T/jail" && exec "$IDLE" --api-sock "$T/e.sock" --id jailed \
    >"$T/e.out" 2>&1) &
PID=$!
PIDS+=("$PID")
wait_for 5 test -S "$T/e.sock"
api "$T/e.sock" PUT /machine-config '{"vcpu_count":1,"mem_size_mib":64}'
kill -TERM "$PID"
wait_exit "$PID" 5
expect_eq reqlog_cwd_file "$(cat "$T/jail/req.log" 2>/dev/null)" \
    '{"method":"PUT","path":"/machine-config","body":{"vcpu_count":1,"mem_size_mib":64},"status":204}'

# --- log and metrics FIFOs nobody reads yet: opened read-write, as
# Firecracker does, so the PUT succeeds and the lines wait in the FIFO ---

mkfifo "$T/log.fifo" "$T/metrics.fifo"
F=$T/f.sock
start f "$IDLE" "$F" --id vm-f
expect fifo_logger_without_reader "$F" PUT /logger \
    "{\"log_path\":\"$T/log.fifo\",\"level\":\"Info\"}" 204 ""
expect fifo_metrics_without_reader "$F" PUT /metrics \
    "{\"metrics_path\":\"$T/metrics.fifo\"}" 204 ""
expect_match fifo_log_line_kept "$(timeout 5 head -1 "$T/log.fifo")" \
    '\[vm-f:fc_api\] Running Firecracker v'
expect fifo_missing_logger "$F" PUT /logger \
    "{\"log_path\":\"$T/nosuch.fifo\"}" 400 \
    "$(fault 'Logger error: Failed to open target file: No such file or directory (os error 2)')"
kill -TERM "$PID"
wait_exit "$PID" 5

# --- ./fc-standin.responses: canned answers, for tests of bangerd -----

mkdir "$T/jail2"
printf '%s\n' 'PUT /logger 400 {"fault_message":"canned fault"}' \
    'GET / 200 {"state":"Not started"}' 'PUT /metrics 204' \
    'PUT /actions:SendCtrlAltDel 400 {"fault_message":"canned refusal"}' \
    'PATCH /vm:Resumed 400 {"fault_message":"canned resume"}' \
    >"$T/jail2/fc-standin.responses"
(cd "$T/jail2" && exec "$IDLE" --api-sock "$T/g.sock" --id canned \
    >"$T/g.out" 2>&1) &
PID=$!
PIDS+=("$PID")
wait_for 5 test -S "$T/g.sock"
expect canned_fault "$T/g.sock" PUT /logger '{"level":"Info"}' 400 \
    '{"fault_message":"canned fault"}'
expect canned_200 "$T/g.sock" GET / "" 200 '{"state":"Not started"}'
expect canned_204_not_acted_on "$T/g.sock" PUT /metrics \
    "{\"metrics_path\":\"$T/nosuch\"}" 204 ""
expect uncanned_as_usual "$T/g.sock" PUT /machine-config \
    '{"vcpu_count":1,"mem_size_mib":64}' 204 ""
expect canned_one_action "$T/g.sock" PUT /actions \
    '{"action_type":"SendCtrlAltDel"}' 400 '{"fault_message":"canned refusal"}'
expect canned_not_other_actions "$T/g.sock" PUT /actions \
    '{"action_type":"FlushMetrics"}' 400 "$(fault "$PREBOOT")"
expect canned_one_state "$T/g.sock" PATCH /vm '{"state":"Resumed"}' 400 \
    '{"fault_message":"canned resume"}'
expect canned_not_other_states "$T/g.sock" PATCH /vm '{"state":"Paused"}' \
    400 "$(fault "$PREBOOT")"
kill -TERM "$PID"
wait_exit "$PID" 5

# --- qemu mode, with a qemu that records its argv ------------------------

cat >"$T/fakeqemu" <<'EOF'
#!/bin/sh
printf '%s\n' "$@" >"$FAKE_ARGV.tmp"
mv "$FAKE_ARGV.tmp" "$FAKE_ARGV"
[ -n "$FAKE_EXIT" ] && exit "$FAKE_EXIT"
exec sleep 1000
EOF
chmod +x "$T/fakeqemu"
cp "$T/rootfs.ext4" "$T/root,fs.img"

Q=$T/q.sock
FAKE_ARGV=$T/argv FC_STANDIN_QEMU=$T/fakeqemu start q "$QEMU" "$Q" --id vm-q
api "$Q" PUT /machine-config '{"vcpu_count":2,"mem_size_mib":256}'
api "$Q" PUT /boot-source \
    "{\"kernel_image_path\":\"$T/vmlinux\",\"initrd_path\":\"$T/initrd\",\"boot_args\":\"console=ttyS0\"}"
api "$Q" PUT /drives/rootfs \
    "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$T/root,fs.img\",\"is_root_device\":true,\"is_read_only\":true}"
# the tap opened at PUT is qemu's by inheritance, as fd N
NETARGS=
if [ -n "$NETNS" ]; then
	api "$Q" PUT /network-interfaces/eth0 \
	    '{"iface_id":"eth0","host_dev_name":"tap-q0","guest_mac":"06:00:ac:10:00:09"}'
	NETARGS="
-netdev
tap,id=n0,fd=N
-device
virtio-net-device,netdev=n0,mac=06:00:ac:10:00:09"
fi
expect qemu_instance_start "$Q" PUT /actions \
    '{"action_type":"InstanceStart"}' 204 ""
wait_for 5 test -f "$T/argv"
WANT="-M
microvm,pit=on,pic=on,rtc=on
-accel
tcg
-nodefaults
-no-user-config
-nographic
-serial
stdio
-device
i8042
-m
256
-smp
2
-kernel
$T/vmlinux
-initrd
$T/initrd
-append
console=ttyS0 root=/dev/vda ro
-drive
id=blk_rootfs,file=$T/root,,fs.img,format=raw,if=none,readonly=on,cache=unsafe
-device
virtio-blk-device,drive=blk_rootfs$NETARGS
-no-reboot
-qmp
unix:$Q.qmp,server=on,wait=off"
expect_eq qemu_argv "$(sed 's/^\(tap,id=n0,fd=\)[0-9][0-9]*$/\1N/' \
    "$T/argv" 2>/dev/null)" "$WANT"
if [ -n "$NETNS" ]; then
	QPID=$(pgrep -P "$PID")
	N=$(sed -n 's/^tap,id=n0,fd=\([0-9][0-9]*\)$/\1/p' "$T/argv")
	expect_eq qemu_tap_fd "$(readlink "/proc/$QPID/fd/$N")" /dev/net/tun
fi
api "$Q" GET /
expect_match qemu_state_running "$CODE $OUT" '^200 .*"state":"Running"'
expect qemu_instance_start_again "$Q" PUT /actions \
    '{"action_type":"InstanceStart"}' 400 "$(fault "$POSTBOOT")"
# Ctrl+Alt+Del is a keypress and no more: the fake has no QMP to take
# it, so it is refused, and the VMM runs on
expect qemu_ctrl_alt_del "$Q" PUT /actions \
    '{"action_type":"SendCtrlAltDel"}' 400 \
    "$(fault "Internal VMM error: fc-standin: cannot connect to QMP at $Q.qmp")"
sleep 2
expect_eq qemu_ctrl_alt_del_no_exit \
    "$(kill -0 "$PID" 2>/dev/null && echo running)" running
kill -TERM "$PID"
wait_exit "$PID" 15
# "qemu" died of the SIGTERM passed on: 128 + 15
expect_eq qemu_sigterm_status "$RC" 143
expect_eq qemu_socket_removed "$(test -e "$Q" && echo yes)" ""

# qemu's exit status is ours
rm -f "$T/argv"
FAKE_ARGV=$T/argv FAKE_EXIT=3 FC_STANDIN_QEMU=$T/fakeqemu \
    start q2 "$QEMU" "$T/q2.sock"
api "$T/q2.sock" PUT /boot-source "{\"kernel_image_path\":\"$T/vmlinux\"}"
expect qemu_exit_start "$T/q2.sock" PUT /actions \
    '{"action_type":"InstanceStart"}' 204 ""
wait_exit "$PID" 5
expect_eq qemu_exit_status "$RC" 3

# SIGTERM reaches qemu, and we exit with its status (a real qemu exits
# 0 on SIGTERM; the fake dies of it)
rm -f "$T/argv"
FAKE_ARGV=$T/argv FC_STANDIN_QEMU=$T/fakeqemu start q3 "$QEMU" "$T/q3.sock"
api "$T/q3.sock" PUT /boot-source "{\"kernel_image_path\":\"$T/vmlinux\"}"
api "$T/q3.sock" PUT /actions '{"action_type":"InstanceStart"}'
wait_for 5 test -f "$T/argv"
kill -TERM "$PID"
wait_exit "$PID" 5
expect_eq qemu_sigterm_exit "$RC" 143

# a qemu that cannot run: InstanceStart fails, the VM stays unstarted
FC_STANDIN_QEMU=/nonexistent/qemu start q4 "$QEMU" "$T/q4.sock"
api "$T/q4.sock" PUT /boot-source "{\"kernel_image_path\":\"$T/vmlinux\"}"
expect qemu_exec_failure "$T/q4.sock" PUT /actions \
    '{"action_type":"InstanceStart"}' 400 \
    "$(fault 'Start microvm error: Internal error while starting microVM: cannot execute /nonexistent/qemu: No such file or directory (os error 2)')"
api "$T/q4.sock" GET /
expect_match qemu_exec_failure_state "$CODE $OUT" '"state":"Not started"'
kill -TERM "$PID"
wait_exit "$PID" 5

# snapshots: the idle mode's checks and faults, but the memory file must
# be qemu's migration stream, which a fresh qemu reads with -S and
# -incoming fd:N; this "qemu" never answers on QMP: a failed restore
start q5 "$QEMU" "$T/q5.sock"
expect qemu_snapshot_create_preboot "$T/q5.sock" PUT /snapshot/create \
    '{"snapshot_path":"a","mem_file_path":"b"}' 400 "$(fault "$PREBOOT")"
expect qemu_snapshot_load_not_qemu "$T/q5.sock" PUT /snapshot/load \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_file_path\":\"$T/sd/vm.mem\"}" \
    400 "$(fault "fc-standin: $T/sd/vm.mem is not a qemu migration stream; the qemu stand-in restores only its own")"
wait_exit "$PID" 5
expect_eq qemu_snapshot_load_not_qemu_exit "$RC" 1
printf 'QEVM\0\0\0\3' >"$T/qevm.mem"
rm -f "$T/argv"
FAKE_ARGV=$T/argv FC_STANDIN_QEMU=$T/fakeqemu start q6 "$QEMU" "$T/q6.sock"
expect qemu_snapshot_load_no_qmp "$T/q6.sock" PUT /snapshot/load \
    "{\"snapshot_path\":\"$T/sd/vm.snap\",\"mem_file_path\":\"$T/qevm.mem\"}" \
    400 "$(fault "$LOAD_ERR Failed to load guest memory: fc-standin: qemu: cannot connect to QMP at $T/q6.sock.qmp")"
expect_eq qemu_snapshot_load_incoming "$(tail -3 "$T/argv" 2>&1 |
    sed 's/^fd:[0-9][0-9]*$/fd:N/' | tr '\n' ' ')" "-S -incoming fd:N "
wait_exit "$PID" 5
expect_eq qemu_snapshot_load_no_qmp_exit "$RC" 1

# --- qemu mode, with qemu: a real guest ---------------------------------
#
# The guest scripts/build-guest.sh builds and caches (FC_STANDIN_GUEST,
# default /var/cache/banger-guest; built here when missing or stale):
# its vmlinux, initrd and a copy of its rootfs, booted through the
# stand-in with a NIC on a tap in a network namespace made here.  Needs
# root; touches no interface outside that namespace.

GUEST=${FC_STANDIN_GUEST:-/var/cache/banger-guest}
NS=
# shellcheck disable=SC2317
qemu_boot_cleanup() {
	cleanup
	[ -z "$NS" ] || ip netns del "$NS" 2>/dev/null
}

# within SECONDS CMD...: retry CMD until it succeeds or SECONDS of wall
# time pass (wait_for counts tries, and a try here can take seconds).
within() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# qemu_snapshot: a marker in the guest's memory (/run is a tmpfs), a
# snapshot of the paused guest, the stand-in and its qemu killed, and a
# fresh stand-in that loads the snapshot from the same disk and carries
# on: the marker is there, the uptime goes on, no second boot.  R, PID
# and ROUT then name the restored one.  Needs qemu_boot's ssh_opts.
qemu_snapshot() {
	local up0 out cfg qpid snap
	up0=$(ip netns exec "$NS" ssh "${ssh_opts[@]}" -i "$key" "root@$ip" \
	    "echo fcst-marker-$$ >/run/fcst-marker && cut -d. -f1 /proc/uptime" \
	    2>&1)
	if ! [ "$up0" -ge 0 ] 2>/dev/null; then
		fail qemu_snapshot_marker_set "ssh: $up0"
		return 1
	fi
	expect qemu_snapshot_pause "$R" PATCH /vm '{"state":"Paused"}' 204 ""
	api "$R" GET /vm/config
	cfg=$OUT
	snap="{\"snapshot_path\":\"$T/q.snap\",\"mem_file_path\":\"$T/q.mem\"}"
	expect qemu_snapshot_create "$R" PUT /snapshot/create "$snap" 204 ""
	expect_eq qemu_snapshot_files "$(head -1 "$T/q.snap") $(head -c 4 \
	    "$T/q.mem")" "fc-standin snapshot 1 QEVM"
	api "$R" GET /
	expect_match qemu_snapshot_still_paused "$CODE $OUT" \
	    '"state":"Paused"'

	# the first stand-in and its qemu go, by PID; the disk stays
	qpid=$(pgrep -P "$PID" | head -1)
	kill -KILL "$PID" $qpid 2>/dev/null
	wait "$PID" 2>/dev/null
	forget "$PID"
	within 5 test ! -e "/proc/$qpid"

	R=$T/s.sock
	ROUT=$T/s.out
	ip netns exec "$NS" "$QEMU" \
	    --api-sock "$R" --id vm-s >"$ROUT" 2>"$T/s.err" &
	PID=$!
	PIDS+=("$PID")
	wait_for 5 test -S "$R"
	expect qemu_snapshot_load "$R" PUT /snapshot/load \
	    "{\"snapshot_path\":\"$T/q.snap\",\"mem_backend\":{\"backend_path\":\"$T/q.mem\",\"backend_type\":\"File\"},\"resume_vm\":true}" \
	    204 ""
	qpid=$(pgrep -P "$PID" | head -1)
	[ -z "$qpid" ] || PIDS+=("$qpid")
	if [ "$CODE" != 204 ]; then
		fail qemu_snapshot_restored "$OUT $(head -c 300 "$T/s.err")"
		return 1
	fi
	api "$R" GET /
	expect_match qemu_snapshot_load_running "$CODE $OUT" \
	    '^200 \{"id":"vm-s","state":"Running",'
	api "$R" GET /vm/config
	expect_eq qemu_snapshot_load_vm_config "$CODE $OUT" "200 $cfg"
	within 15 ip netns exec "$NS" ssh "${ssh_opts[@]}" -i "$key" \
	    "root@$ip" true
	out=$(ip netns exec "$NS" ssh "${ssh_opts[@]}" -i "$key" "root@$ip" \
	    'cat /run/fcst-marker && cut -d. -f1 /proc/uptime' 2>&1)
	expect_eq qemu_snapshot_marker "$(head -1 <<<"$out")" "fcst-marker-$$"
	if [ "$(tail -1 <<<"$out")" -ge "$up0" ] 2>/dev/null; then
		pass qemu_snapshot_uptime_goes_on \
		    "(${up0}s before, $(tail -1 <<<"$out")s after)"
	else
		fail qemu_snapshot_uptime_goes_on \
		    "${up0}s before, after: $out"
	fi
	expect_eq qemu_snapshot_no_boot "$(grep -c 'Linux version' "$ROUT")" 0
}

# qemu_boot: boot, log in over SSH, pause, snapshot and restore into a
# fresh stand-in, Ctrl+Alt+Del; then a guest that reboots by itself.
qemu_boot() {
	local krel ip=172.31.254.2 args key qpid t0 dt ssh_opts
	krel=$(sed -n 's/^kernel_release=//p' "$GUEST/stamp")
	if [ -z "$krel" ]; then
		fail qemu_boot_guest "$GUEST/stamp names no kernel_release"
		return
	fi

	NS=fcst-$$
	trap qemu_boot_cleanup EXIT
	if ! ip netns add "$NS" 2>"$T/netns.err" ||
	    ! ip -n "$NS" link set lo up 2>>"$T/netns.err" ||
	    ! ip -n "$NS" tuntap add dev tap0 mode tap 2>>"$T/netns.err" ||
	    ! ip -n "$NS" addr add 172.31.254.1/30 dev tap0 \
	    2>>"$T/netns.err" ||
	    ! ip -n "$NS" link set tap0 up 2>>"$T/netns.err"; then
		fail qemu_boot_netns "$(tr '\n' ' ' <"$T/netns.err")"
		return
	fi
	pass qemu_boot_netns
	# the guest writes to its disk: a copy, never the cached image
	if ! cp --sparse=always "$GUEST/rootfs.ext4" "$T/guest.ext4"; then
		fail qemu_boot_disk "cannot copy $GUEST/rootfs.ext4"
		return
	fi

	R=$T/r.sock
	ROUT=$T/r.out
	ip netns exec "$NS" "$QEMU" \
	    --api-sock "$R" --id vm-r >"$T/r.out" 2>"$T/r.err" &
	PID=$!
	PIDS+=("$PID")
	if ! wait_for 5 test -S "$R"; then
		fail qemu_boot_standin "no API socket: $(head -c 300 "$T/r.err")"
		return
	fi
	# Under TCG on a busy host the guest can fail to calibrate its TSC
	# against the PIT and hang; tell it the rate instead.
	args="console=ttyS0 reboot=k panic=1 pci=off tsc_early_khz=2000000"
	expect qemu_boot_machine_config "$R" PUT /machine-config \
	    '{"vcpu_count":2,"mem_size_mib":256}' 204 ""
	expect qemu_boot_source "$R" PUT /boot-source \
	    "{\"kernel_image_path\":\"$GUEST/vmlinux\",\"initrd_path\":\"$GUEST/initrd.img\",\"boot_args\":\"$args ip=$ip::172.31.254.1:255.255.255.252::eth0:off\"}" \
	    204 ""
	expect qemu_boot_drive "$R" PUT /drives/rootfs \
	    "{\"drive_id\":\"rootfs\",\"path_on_host\":\"$T/guest.ext4\",\"is_root_device\":true,\"is_read_only\":false}" \
	    204 ""
	expect qemu_boot_network_interface "$R" PUT /network-interfaces/eth0 \
	    '{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"06:00:ac:1f:fe:02"}' \
	    204 ""
	t0=$SECONDS
	expect qemu_boot_start "$R" PUT /actions \
	    '{"action_type":"InstanceStart"}' 204 ""
	if wait_for 50 grep -q 'banger login:' "$T/r.out"; then
		dt=$((SECONDS - t0))
		pass qemu_boot_login "(${dt}s from InstanceStart)"
	else
		fail qemu_boot_login "no login prompt in 50s: $(tail -c 300 "$T/r.out" | tr -d '\r' | tr '\n' ' ') $(head -c 200 "$T/r.err")"
		return
	fi
	expect_has qemu_boot_cmdline "$(cat "$T/r.out")" \
	    "Command line: $args ip=$ip::"
	expect_match qemu_boot_kernel "$(cat "$T/r.out")" \
	    "Linux version $krel "
	# agetty's \r in /etc/issue: uname -r, from the guest's userland
	expect_has qemu_boot_uname_console "$(cat "$T/r.out")" \
	    "banger guest: Debian GNU/Linux 12, kernel $krel, ttyS0"

	# the NIC: the guest answers on the tap, and lets root in by key
	if within 10 ip netns exec "$NS" busybox ping -c 1 -W 1 "$ip"; then
		pass qemu_boot_ping
	else
		fail qemu_boot_ping "$ip does not answer in $NS"
	fi
	if ! command -v ssh >/dev/null; then
		skip qemu_boot_ssh "ssh is not installed (openssh-client)"
	else
		key=$GUEST/id_ed25519
		ssh_opts=(-o BatchMode=yes -o ConnectTimeout=5
		    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
		    -o LogLevel=ERROR)
		within 10 ip netns exec "$NS" ssh "${ssh_opts[@]}" \
		    -i "$key" "root@$ip" true
		expect_eq qemu_boot_ssh "$(ip netns exec "$NS" ssh \
		    "${ssh_opts[@]}" -i "$key" "root@$ip" uname -r 2>&1)" \
		    "$krel"
		expect_has qemu_boot_ssh_key_only "$(ip netns exec "$NS" ssh \
		    "${ssh_opts[@]}" -o PreferredAuthentications=password \
		    "root@$ip" true 2>&1)" "Permission denied (publickey)"
	fi

	expect qemu_pause "$R" PATCH /vm '{"state":"Paused"}' 204 ""
	api "$R" GET /
	expect_match qemu_paused "$CODE $OUT" '"state":"Paused"'
	expect qemu_resume "$R" PATCH /vm '{"state":"Resumed"}' 204 ""

	if ! command -v ssh >/dev/null; then
		skip qemu_snapshot "ssh is not installed (openssh-client)"
	elif ! qemu_snapshot; then
		return
	fi

	# Ctrl+Alt+Del to the paused guest waits in the i8042 (qemu drops
	# keys while stopped: the stand-in keeps them); once resumed, the
	# guest reboots (reboot=k), and qemu and the stand-in exit 0
	qpid=$(pgrep -P "$PID" | head -1)
	expect qemu_pause_again "$R" PATCH /vm '{"state":"Paused"}' 204 ""
	expect qemu_boot_ctrl_alt_del "$R" PUT /actions \
	    '{"action_type":"SendCtrlAltDel"}' 204 ""
	sleep 3
	expect_eq qemu_boot_ctrl_alt_del_waits \
	    "$(kill -0 "$PID" 2>/dev/null && echo running) $(grep -c \
	    'reboot:' "$ROUT")" "running 0"
	t0=$SECONDS
	expect qemu_resume_reads_it "$R" PATCH /vm '{"state":"Resumed"}' \
	    204 ""
	wait_exit "$PID" 90
	dt=$((SECONDS - t0))
	forget "$qpid"
	expect_eq qemu_boot_exit "$RC" 0
	if grep -q 'reboot: Restarting system' "$ROUT"; then
		pass qemu_boot_guest_reboot "(${dt}s)"
	else
		fail qemu_boot_guest_reboot "the guest did not reboot: $(tail -c 300 "$ROUT" | tr -d '\r' | tr '\n' ' ')"
	fi
	expect_eq qemu_boot_qemu_gone \
	    "$([ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null && echo alive)" ""
	expect_eq qemu_boot_sockets_removed \
	    "$(ls "$R" "$R.qmp" 2>/dev/null)" ""

	# a guest that reboots ends the VMM: no root disk, so the initramfs
	# gives up and reboots
	R=$T/r2.sock
	start r2 "$QEMU" "$R"
	api "$R" PUT /boot-source \
	    "{\"kernel_image_path\":\"$GUEST/vmlinux\",\"initrd_path\":\"$GUEST/initrd.img\",\"boot_args\":\"$args\"}"
	expect qemu_reboot_start "$R" PUT /actions \
	    '{"action_type":"InstanceStart"}' 204 ""
	wait_exit "$PID" 30
	expect_eq qemu_guest_reboot_exit "$RC $(grep -c \
	    -e 'initramfs: no root= on the kernel command line' \
	    -e 'reboot: Restarting system' "$T/r2.out")" "0 2"
}

if [ ! -x /usr/bin/qemu-system-x86_64 ]; then
	skip qemu_boot "/usr/bin/qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
elif [ "$(id -u)" -ne 0 ]; then
	skip qemu_boot "needs root (a network namespace, a tap, the guest build)"
else
	unset FC_STANDIN_QEMU
	"$TOP/scripts/build-guest.sh" "$GUEST" 2>"$T/build-guest.log"
	case $? in
	0)	pass qemu_boot_guest
		qemu_boot ;;
	2)	skip qemu_boot "scripts/build-guest.sh: $(tail -n 1 "$T/build-guest.log")" ;;
	*)	fail qemu_boot_guest "scripts/build-guest.sh $GUEST: $(tail -n 3 "$T/build-guest.log" | tr '\n' ' ')" ;;
	esac
fi

t_done

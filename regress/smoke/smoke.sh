# The release check (make smoke JOBS=N): the guest scenarios end to end,
# N VMs at a time, on one daemon, ending with a table of each step's
# result and time.  Each VM: created with a published port and started;
# ssh by name; the peer VM found by name and pinged; egress through NAT
# to an "upstream" namespace; its published port reached from there;
# pause and resume; stop and start; vm restart; rm, leaving nothing.
#
# Real Firecracker, its jailer and /dev/kvm where they are here (or
# SMOKE_FIRECRACKER and SMOKE_JAILER name them); else the stand-ins (the
# Firecracker API in front of qemu's emulator), and it says which.
# SMOKE_JOBS (4) VMs run at once; SMOKE_VMS (SMOKE_JOBS) in all.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

GUEST=${FC_STANDIN_GUEST:-/var/cache/banger-guest}
JOBS=${SMOKE_JOBS:-4}
VMS=${SMOKE_VMS:-$JOBS}
STEPS="create ssh dns egress publish pause stop restart rm"

case $JOBS$VMS in
*[!0-9]*|0*)
	fail "smoke: JOBS=$JOBS, VMS=$VMS" "both must be numbers from 1"
	t_done ;;
esac
if [ "$(id -u)" -ne 0 ]; then
	skip "smoke" "needs root to start bangerd"
	t_done
fi
for c in ssh jq python3; do
	if ! command -v "$c" >/dev/null; then
		skip "smoke" "$c is not installed (sh scripts/deps.sh)"
		t_done
	fi
done
need_guest "smoke"

daemon_setup 'bridge "br-fc" {
	address 10.81.0.1/24
	egress "up0"
}'
UP=banger-smoke-up-$$
smoke_cleanup() {
	[ -n "${UPL:-}" ] && kill "$UPL" 2>/dev/null && wait "$UPL" 2>/dev/null
	daemon_cleanup
	ip netns delete "$UP" 2>/dev/null
}
trap smoke_cleanup EXIT

mkdir -p "$T/bin" "$T/res"
chmod 0755 "$T/bin"
FC=${SMOKE_FIRECRACKER:-$(command -v firecracker 2>/dev/null)}
JAILER=${SMOKE_JAILER:-$(command -v jailer 2>/dev/null)}
if [ -n "$FC" ] && [ -n "$JAILER" ] && [ -c /dev/kvm ]; then
	install -m 0755 "$FC" "$T/bin/firecracker"
	install -m 0755 "$JAILER" "$T/bin/jailer"
	echo "smoke: Firecracker $("$FC" --version 2>/dev/null | head -1)" \
	    "and its jailer, on /dev/kvm"
	# bangerd's default boot arguments, Firecracker's own
	BOOTARGS=
else
	if [ ! -x /usr/bin/qemu-system-x86_64 ]; then
		skip "smoke" "no Firecracker and KVM here, and no qemu-system-x86_64 for the stand-ins (sh scripts/deps.sh)"
		t_done
	fi
	install -m 0755 "$HELPERS/fc-standin-qemu" "$T/bin/firecracker"
	install -m 0755 "$HELPERS/jailer-standin" "$T/bin/jailer"
	echo "smoke: no Firecracker and KVM here: the stand-ins run the" \
	    "guests (Firecracker's API in front of qemu's emulator, TCG)"
	BOOTARGS=$GUEST_QEMU_BOOTARGS
fi
guest_conf "$BOOTARGS"

upstream_ns "$UP" 10.82.0.1/24
ip -n "$UP" link set lo up
ip -n "$UP" addr add 10.82.0.2/24 dev up1
ip -n "$UP" link set up1 up
seen_from "$UP" 10.82.0.2
UPL=$!

if ! daemon_start; then
	fail "smoke: daemon starts" "$(tail -5 "$DLOG")"
	t_done
fi

VSSH_TIMEOUT=60		# vssh's (daemon.sh)
# ssh_up VM SECONDS: whether vm ssh gets into VM within SECONDS.
ssh_up() {
	local n=$2
	while [ "$n" -gt 0 ]; do
		[ "$(vssh "$1" -- hostname 2>/dev/null)" = "$1" ] && return 0
		sleep 2
		n=$((n - 2))
	done
	return 1
}
state_of() { ctl vm show --json "$1" 2>/dev/null | jq -r .state; }
banner() { ip netns exec "$UP" timeout 5 bash -c \
    "exec 3<>/dev/tcp/10.82.0.1/$1 && head -c 8 <&3" 2>/dev/null; }

before=$(vm_taps | wc -l)

# The peer every VM looks up and pings.
t0=$SECONDS
out=$(ctl vm create peer --image guest --memory 384M \
    --ssh-key "$T/key/id.pub" --start 2>&1)
expect_match "smoke: the peer VM starts" "$out" "vm peer started"
peer=$(ctl vm show --json peer | jq -r .address)
if ssh_up peer 240; then
	pass "smoke: the peer answers vm ssh ($((SECONDS - t0)) s)"
else
	fail "smoke: the peer answers vm ssh" \
	    "$(tail -c 300 "$STATE/vms/$(vm_id peer)/console.log" | tr -d '\r' | tr '\n' ' ')"
fi

# scenario I: the steps for VM sI, each a line "STEP ok|FAIL SECONDS WHY"
# in $T/res/I, stopping at the first that fails.
scenario() {
	local i=$1 vm=s$1 port=$((2300 + $1)) res=$T/res/$1 t out why id
	step() {
		local name=$1 st=ok
		shift
		t=$SECONDS
		why=$("$@" 2>&1) || st=FAIL
		printf '%s %s %d %s\n' "$name" "$st" "$((SECONDS - t))" \
		    "$(printf '%s' "$why" | tr '\n' ' ' | cut -c1-300)" >>"$res"
		[ "$st" = ok ]
	}
	s_create() {
		out=$(ctl vm create "$vm" --image guest --memory 384M \
		    --ssh-key "$T/key/id.pub" --publish "$port:22" --start 2>&1)
		case $out in
		"vm $vm started") ;;
		*)	echo "$out"; return 1 ;;
		esac
	}
	s_ssh() {
		ssh_up "$vm" 240 || {
			echo "no vm ssh in 240 s: $(tail -c 200 \
			    "$STATE/vms/$(vm_id "$vm")/console.log" | tr -d '\r')"
			return 1
		}
	}
	s_dns() {
		out=$(vssh "$vm" -- 'getent hosts peer && ping -c 1 -W 5 peer' 2>&1)
		case $out in
		"$peer "*"1 received"*) ;;
		*)	echo "getent hosts peer, ping peer: $out"; return 1 ;;
		esac
	}
	s_egress() {
		out=$(vssh "$vm" -- 'exec 3<>/dev/tcp/10.82.0.2/9000; cat <&3' 2>&1)
		[ "$out" = "seen from 10.82.0.1" ] || {
			echo "upstream answered: $out"
			return 1
		}
	}
	s_publish() {
		out=$(banner "$port")
		[ "$out" = "SSH-2.0-" ] || {
			echo "port $port from upstream: '$out'"
			return 1
		}
	}
	s_pause() {
		out=$(ctl vm pause "$vm" 2>&1)
		[ "$out" = "vm $vm paused" ] && [ "$(state_of "$vm")" = paused ] ||
		    { echo "pause: $out, $(state_of "$vm")"; return 1; }
		out=$(ctl vm resume "$vm" 2>&1)
		[ "$out" = "vm $vm resumed" ] ||
		    { echo "resume: $out"; return 1; }
		ssh_up "$vm" 60 || { echo "no vm ssh after resume"; return 1; }
	}
	s_stop() {
		out=$(ctl vm stop --timeout 90 "$vm" 2>&1)
		[ "$out" = "vm $vm stopped" ] || { echo "stop: $out"; return 1; }
		out=$(ctl vm start "$vm" 2>&1)
		[ "$out" = "vm $vm started" ] || { echo "start: $out"; return 1; }
		ssh_up "$vm" 240 || { echo "no vm ssh after start"; return 1; }
	}
	s_restart() {
		out=$(ctl vm restart --timeout 90 "$vm" 2>&1)
		[ "$out" = "vm $vm restarted" ] ||
		    { echo "restart: $out"; return 1; }
		ssh_up "$vm" 240 || { echo "no vm ssh after restart"; return 1; }
	}
	s_rm() {
		id=$(vm_id "$vm")
		out=$(ctl vm rm -f "$vm" 2>&1)
		[ "$out" = "vm $vm removed" ] || { echo "rm: $out"; return 1; }
		out=$(in_ns ip -br link show "fc-tap-$id" 2>/dev/null
		    find "$STATE" -name "$id*" 2>/dev/null)
		[ -z "$out" ] || { echo "left: $out"; return 1; }
	}
	: >"$res"
	step create s_create && step ssh s_ssh && step dns s_dns &&
	    step egress s_egress && step publish s_publish &&
	    step pause s_pause && step stop s_stop &&
	    step restart s_restart
	step rm s_rm
}

echo "smoke: $VMS VMs, $JOBS at a time"
T0=$SECONDS
running=0
for i in $(seq 1 "$VMS"); do
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	scenario "$i" &
	running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
	wait -n
	running=$((running - 1))
done
TALL=$((SECONDS - T0))

# The table, then a PASS or FAIL for each step of each VM.
{
	printf '%-6s' vm
	for s in $STEPS; do printf ' %-9s' "$s"; done
	printf '\n'
	for i in $(seq 1 "$VMS"); do
		printf '%-6s' "s$i"
		for s in $STEPS; do
			printf ' %-9s' "$(awk -v s="$s" '$1 == s {
			    print ($2 == "ok" ? $3 "s" : "FAIL") }' \
			    "$T/res/$i")"
		done
		printf '\n'
	done
} | sed 's/^/smoke: /'
echo "smoke: $VMS VMs in ${TALL}s"
for i in $(seq 1 "$VMS"); do
	for s in $STEPS; do
		line=$(awk -v s="$s" '$1 == s' "$T/res/$i")
		case $line in
		"$s ok "*)	pass "smoke: s$i: $s" ;;
		"$s FAIL "*)	fail "smoke: s$i: $s" "${line#"$s FAIL "}" ;;
		*)		fail "smoke: s$i: $s" "not reached" ;;
		esac
	done
done

out=$(ctl vm rm -f peer 2>&1)
expect_eq "smoke: the peer is removed" "$out" "vm peer removed"
expect_eq "smoke: no VM is left" "$(ctl vm ls --json | jq length)" 0
expect_eq "smoke: no tap is left" \
    "$(vm_taps | wc -l)" "$before"
expect_eq "smoke: nothing of any VM is left in the state directory" \
    "$(find "$STATE/disks" "$STATE/priv" "$STATE/vms" \
    "$STATE/jail/firecracker" -mindepth 1 -maxdepth 1 \
    ! -path "$STATE/vms/.journal" ! -path "$STATE/priv/.journal" \
    2>/dev/null)" ""
expect_eq "smoke: no Firecracker of this daemon is left" \
    "$(our_firecrackers)" ""
t_done

# make demo (scripts/demo.sh) as a new user runs it: the guest's uname,
# the second VM found and pinged by name, vm ls, and nothing left; and
# a demo stopped half way leaves nothing either.
. "$TOP/regress/lib/lib.sh"

GUEST=${FC_STANDIN_GUEST:-/var/cache/banger-guest}

if [ "$(id -u)" -ne 0 ]; then
	skip "demo" "needs root to start bangerd"
	t_done
fi
if [ ! -x /usr/bin/qemu-system-x86_64 ]; then
	skip "demo" "/usr/bin/qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
	t_done
fi
need_guest "demo"
KREL=$(sed -n 's/^kernel_release=//p' "$GUEST/stamp")

# What a demo may leave: its directory, namespace, daemon and VMs.
traces() {
	{
		ls -d /tmp/banger-demo.* 2>/dev/null
		ip netns list | awk '$1 ~ /^banger-demo-/ { print $1 }'
		pgrep -f -- "$OBJDIR/bangerd -d -f /tmp/banger-demo\."
		for p in $(pgrep -f -- '--api-sock /run/firecracker.socket'); do
			grep -q ' /tmp/banger-demo\.\| /banger-demo\.' \
			    "/proc/$p/mountinfo" 2>/dev/null && echo "$p"
		done
	} | sort | tr '\n' ' '
}
before=$(traces)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

DEMO_STANDIN=1 OBJDIR=$OBJDIR timeout 600 bash "$TOP/scripts/demo.sh" \
    >"$OUT" 2>&1
expect_eq "demo: exits 0" "$?" 0
out=$(cat "$OUT")
expect_match "demo: says the stand-ins run the guests" "$out" \
    "demo: \[ *[0-9]+s\] no Firecracker and KVM here: the stand-ins run the guests"
expect_match "demo: each step shows its time" "$out" \
    "demo: \[ *[0-9]+s\] vm one and vm two created and started"
expect_match "demo: shows the guest's uname -a" "$out" \
    "    one\\\$ Linux one $KREL "
expect_match "demo: ... its addresses" "$out" \
    "    one\\\$ eth0 +UP +10\.213\.0\.[0-9]+/24"
expect_match "demo: ... the second VM found by name" "$out" \
    "    one\\\$ 10\.213\.0\.[0-9]+ +two\.vm\.internal"
expect_match "demo: ... and pinged by name" "$out" \
    "    one\\\$ 1 packets transmitted, 1 received"
expect_match "demo: shows vm ls with both" "$out" \
    "    (one|two) +running .*
    (one|two) +running "
expect_match "demo: says nothing is left" "$out" \
    "nothing is left: 0 VM processes, 0 taps, 0 files of VMs or images, 0 namespaces"
expect_eq "demo: and leaves nothing" "$(traces)" "$before"

# Stopped as its VMs boot (SIGTERM; a background job ignores SIGINT): it
# removes what it made all the same.
DEMO_STANDIN=1 OBJDIR=$OBJDIR bash "$TOP/scripts/demo.sh" \
    >"$OUT" 2>&1 &
pid=$!
wait_for 120 grep -q 'created and started' "$OUT"
kill -TERM "$pid"
wait "$pid"
expect_eq "demo: interrupted, exits 130" "$?" 130
for _ in $(seq 30); do
	[ "$(traces)" = "$before" ] && break
	sleep 1
done
expect_eq "demo: interrupted, leaves nothing" "$(traces)" "$before"
t_done

# bangerctl vm ssh against the idle Firecracker stand-in, with an ssh
# that records how it was run: the options (pinned host key, no prompt,
# the VM's key), the private known_hosts file (its line, its mode, gone
# afterwards), the exit status, and the refusals.  The real login is in
# e2e.sh, which needs qemu.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "vmssh" "needs root to start bangerd"
	t_done
fi

daemon_setup
trap daemon_cleanup EXIT
# "slow": a VMM that answers each API call 700 ms late, so that a start
# is seen starting.
vm_daemon_start vmssh "image \"slow\" {
	kernel \"$T/img/vmlinux\"
	rootfs \"$T/img/rootfs.ext4\"
	boot-args \"console=ttyS0 reboot=k panic=1 fc_standin.api_delay_ms=700\"
}"

# The recording ssh, first in PATH.
mkdir -p "$T/fakebin" "$T/rec" "$T/tmp" "$T/key"
cat >"$T/fakebin/ssh" <<'EOS'
#!/bin/sh
printf '%s\n' "$@" >"$REC/argv"
for a; do
	case $a in
	UserKnownHostsFile=*)
		f=${a#UserKnownHostsFile=}
		echo "$f" >"$REC/path"
		stat -c %a "$f" >"$REC/mode"
		cp "$f" "$REC/known_hosts" ;;
	esac
done
# FAKE_SSH_SLEEP: a session that lasts, until a signal ends it.
if [ -n "${FAKE_SSH_SLEEP:-}" ]; then
	for s in TERM INT HUP; do
		trap "echo $s >\"\$REC/signal\"; kill \$! 2>/dev/null; exit 255" $s
	done
	sleep "$FAKE_SSH_SLEEP" &
	echo $$ >"$REC/pid"
	wait $!
fi
exit "${FAKE_SSH_EXIT:-0}"
EOS
chmod 0755 "$T/fakebin/ssh"
vssh() { env PATH="$T/fakebin:$PATH" REC="$T/rec" TMPDIR="$T/tmp" \
    "$BANGERCTL" -s "$SOCK" vm ssh "$@"; }
ssh-keygen -q -t ed25519 -N '' -C vmssh -f "$T/key/id" >/dev/null

ctl vm create v1 --ssh-key "$T/key/id.pub" >/dev/null
out=$(vssh v1 -- true 2>&1); rc=$?
expect_eq "vmssh: a VM that is not running is refused (exit 1)" "$rc" 1
expect_eq "vmssh: ... saying so" "$out" \
    "bangerctl: vm v1 is created, not running (bangerctl vm start v1)"
expect_eq "vmssh: ... and ssh is not run" "$(ls "$T/rec")" ""

ctl vm start v1 >/dev/null
js=$(ctl vm show --json v1)
addr=$(echo "$js" | jq -r .address)
hostkey=$(echo "$js" | jq -r .host_key | cut -d' ' -f1-2)
expect_eq "vmssh: vm show gives the --ssh-key file" \
    "$(echo "$js" | jq -r .ssh_key)" "$T/key/id.pub"
expect_match "vmssh: ... and its pinned ed25519 host key" "$hostkey" \
    "^ssh-ed25519 AAAA"

out=$(vssh v1 -- echo 'a b' 2>&1); rc=$?
expect_eq "vmssh: vm ssh runs ssh and exits with its status" "$rc" 0
kh=$(cat "$T/rec/path")
want="-o
UserKnownHostsFile=$kh
-o
GlobalKnownHostsFile=/dev/null
-o
StrictHostKeyChecking=yes
-o
HostKeyAlgorithms=ssh-ed25519
-o
UpdateHostKeys=no
-o
CheckHostIP=no
-i
$T/key/id
-o
IdentitiesOnly=yes
-l
root
--
$addr
echo
a b"
expect_eq "vmssh: ssh gets the pinned known_hosts, strict checking, the VM's private key, root, the address and the command" \
    "$(cat "$T/rec/argv")" "$want"
expect_match "vmssh: the known_hosts file is a temporary file in TMPDIR" \
    "$kh" "^$T/tmp/bangerctl-known_hosts\.......$"
expect_eq "vmssh: it holds only the VM's address and host key" \
    "$(cat "$T/rec/known_hosts")" "$addr $hostkey"
expect_eq "vmssh: it is private (0600)" "$(cat "$T/rec/mode")" 600
expect_eq "vmssh: it is removed when ssh ends" "$(ls -A "$T/tmp")" ""

FAKE_SSH_EXIT=5 vssh v1 >/dev/null 2>&1
expect_eq "vmssh: ssh's exit status is vm ssh's" "$?" 5

# A signal to vm ssh (timeout(1), a closed terminal, kill) ends its ssh
# too, and removes the known_hosts file: nothing is left connected to
# the guest.  timeout in a session of its own signals only bangerctl.
sigtest() {	# SIG how
	local sig=$1 bp sp rc
	rm -f "$T/rec/"*
	if [ "$2" = timeout ]; then
		env PATH="$T/fakebin:$PATH" REC="$T/rec" TMPDIR="$T/tmp" \
		    FAKE_SSH_SLEEP=30 timeout --preserve-status -s "$sig" 2 \
		    setsid -w "$BANGERCTL" -s "$SOCK" vm ssh v1 -- sleep 30 \
		    >/dev/null 2>&1 &
	else
		# (env: a background job of a script ignores SIGINT)
		env --default-signal=INT PATH="$T/fakebin:$PATH" \
		    REC="$T/rec" TMPDIR="$T/tmp" FAKE_SSH_SLEEP=30 \
		    "$BANGERCTL" -s "$SOCK" vm ssh v1 -- sleep 30 \
		    >/dev/null 2>&1 &
	fi
	bp=$!
	wait_for 10 test -s "$T/rec/pid"
	sp=$(cat "$T/rec/pid" 2>/dev/null)
	[ "$2" = timeout ] || kill -"$sig" "$bp"
	wait "$bp"
	rc=$?
	expect_eq "vmssh: SIG$sig to vm ssh ($2): it exits 128+signal" \
	    "$rc" $((128 + $(kill -l "$sig")))
	expect_eq "vmssh: ... having passed the signal on to ssh" \
	    "$(cat "$T/rec/signal" 2>&1)" "$sig"
	if [ -n "$sp" ] && ! kill -0 "$sp" 2>/dev/null; then
		pass "vmssh: ... and waited for ssh to end"
	else
		fail "vmssh: ... and waited for ssh to end" "ssh (${sp:-no pid}) is left"
		[ -n "$sp" ] && kill -KILL "$sp" 2>/dev/null
	fi
	expect_eq "vmssh: ... and removed the known_hosts file" \
	    "$(ls -A "$T/tmp")" ""
}
sigtest TERM timeout
sigtest TERM kill
sigtest INT kill
sigtest HUP kill

ctl vm pause v1 >/dev/null
out=$(vssh v1 -- true 2>&1); rc=$?
expect_eq "vmssh: a paused VM is refused (exit 1)" "$rc" 1
expect_eq "vmssh: ... with the command that resumes it" "$out" \
    "bangerctl: vm v1 is paused, not running (bangerctl vm resume v1)"
ctl vm resume v1 >/dev/null

ssh-keygen -q -t ed25519 -N '' -f "$T/key/other" >/dev/null
vssh v1 -l admin -i "$T/key/other" >/dev/null 2>&1
expect_eq "vmssh: -i and -l override the key and the user" \
    "$(sed -n '13,18p' "$T/rec/argv" | tr '\n' ' ')" \
    "-i $T/key/other -o IdentitiesOnly=yes -l admin "

mv "$T/key/id" "$T/key/id.moved"
vssh v1 >/dev/null 2>&1
expect_eq "vmssh: without the private key beside the .pub, ssh picks its own" \
    "$(grep -c -e '^-i$' -e IdentitiesOnly "$T/rec/argv")" 0

# --wait S: the VM's port 22 is waited for.  The idle stand-in has no
# guest, so the address is put on the bridge in the daemon's namespace
# and a listener there is its sshd, or nothing answers it at all.
nsssh() { in_ns env PATH="$T/fakebin:$PATH" REC="$T/rec" TMPDIR="$T/tmp" \
    "$BANGERCTL" -s "$SOCK" vm ssh "$@"; }
mv "$T/key/id.moved" "$T/key/id"
out=$(nsssh v1 --wait 0 2>&1); rc=$?
expect_eq "vmssh: --wait 0 is refused, with the range" "$rc $out" \
    '1 bangerctl: invalid timeout "0": 1 to 86400 seconds'
rm -f "$T/rec/"*
t0=${EPOCHREALTIME/./}
out=$(nsssh v1 --wait 2 -- true 2>&1); rc=$?
el=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
expect_eq "vmssh: --wait 2, no answer from the address: exit 1" "$rc" 1
expect_eq "vmssh: ... saying what was waited for, how long, and the last error" \
    "$out" "bangerctl: vm v1: nothing took a connection on $addr port 22 within 2 s (last: Connection timed out)"
if [ "$el" -ge 1900 ] && [ "$el" -lt 3500 ]; then
	pass "vmssh: ... after the 2 s asked for (${el} ms), not the kernel's ARP and SYN retries"
else
	fail "vmssh: ... after the 2 s asked for" "${el} ms"
fi
expect_eq "vmssh: ... and ssh is not run" "$(ls "$T/rec")" ""
in_ns ip addr add "$addr/32" dev br-fc
out=$(nsssh v1 --wait 1 -- true 2>&1); rc=$?
expect_eq "vmssh: --wait, the address up but port 22 closed: refused, named" \
    "$rc $out" "1 bangerctl: vm v1: nothing took a connection on $addr port 22 within 1 s (last: Connection refused)"
# sshd comes up a second after vm ssh --wait begins
in_ns python3 -c '
import socket, sys, time
time.sleep(1)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 22)); s.listen(8); s.settimeout(20)
c, a = s.accept(); c.close()
open(sys.argv[2], "w").write("probed\n")
time.sleep(20)' "$addr" "$T/probed" &
lp=$!
out=$(nsssh v1 --wait 10 -- echo up 2>&1); rc=$?
expect_eq "vmssh: --wait 10, sshd listening a second later: ssh runs, its status" \
    "$rc" 0
expect_eq "vmssh: ... once port 22 has taken a connection" \
    "$(cat "$T/probed" 2>&1)" "probed"
expect_eq "vmssh: ... with the address and the command" \
    "$(tail -n 3 "$T/rec/argv" | tr '\n' ' ')" "$addr echo up "
kill "$lp" 2>/dev/null; wait "$lp" 2>/dev/null
in_ns ip addr del "$addr/32" dev br-fc
ctl vm stop -f v1 >/dev/null
out=$(nsssh v1 --wait 5 -- true 2>&1); rc=$?
expect_eq "vmssh: --wait does not wait for a VM that is not starting" \
    "$rc $out" "1 bangerctl: vm v1 is stopped, not running (bangerctl vm start v1)"
ctl vm start v1 >/dev/null
# a VM still starting is waited for, then its port
ctl vm create s1 --image slow --ssh-key "$T/key/id.pub" >/dev/null
saddr=$(ctl vm show --json s1 | jq -r .address)
ctl vm start s1 >/dev/null 2>&1 &
sp=$!
wait_for 10 sh -c "$BANGERCTL -s $SOCK vm show --json s1 | grep -q '\"state\": *\"starting\"'"
out=$(nsssh s1 -- true 2>&1); rc=$?
expect_eq "vmssh: without --wait, a VM still starting is refused" "$rc $out" \
    "1 bangerctl: vm s1 is starting, not running yet (bangerctl vm wait s1)"
in_ns ip addr add "$saddr/32" dev br-fc
in_ns python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 22)); s.listen(8); s.settimeout(60)
c, a = s.accept(); c.close(); time.sleep(60)' "$saddr" &
lp=$!
rm -f "$T/rec/"*
out=$(nsssh s1 --wait 60 -- true 2>&1); rc=$?
st=$(ctl vm show --json s1 | jq -r .state)
expect_eq "vmssh: --wait, a VM still starting: ssh runs once it is running" \
    "$rc $st $(tail -n 2 "$T/rec/argv" 2>&1 | tr '\n' ' ')" "0 running $saddr true "
wait "$sp"
kill "$lp" 2>/dev/null; wait "$lp" 2>/dev/null
in_ns ip addr del "$saddr/32" dev br-fc
ctl vm rm -f s1 >/dev/null
mv "$T/key/id" "$T/key/id.moved"

out=$(user vm ssh v1 2>&1); rc=$?
expect_eq "vmssh: another user's vm ssh fails" "$rc" 1
expect_eq "vmssh: ... told there is no such VM" "$out" \
    "bangerctl: no VM named v1"
out=$(vssh nosuch 2>&1); rc=$?
expect_eq "vmssh: an unknown VM is refused (exit 1)" "$rc" 1
expect_eq "vmssh: ... naming it" "$out" "bangerctl: no VM named nosuch"
out=$(vssh 'Bad_Name' 2>&1)
expect_match "vmssh: a bad name is refused, naming it" "$out" \
    'invalid VM name "Bad_Name"'
out=$(vssh 2>&1); rc=$?
expect_eq "vmssh: no name prints the usage (exit 1)" "$rc $out" \
    "1 usage: bangerctl vm ssh NAME [-l USER] [-i IDENTITY] [--wait S] [-- COMMAND ...]"

daemon_stop
daemon_start
expect_eq "vmssh: the --ssh-key file is kept across a daemon restart" \
    "$(ctl vm show --json v1 | jq -r .ssh_key)" "$T/key/id.pub"

ctl vm rm -f v1 >/dev/null
expect_eq "vmssh: nothing is left in TMPDIR" "$(ls -A "$T/tmp")" ""
t_done

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
vm_daemon_start vmssh

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
    "1 usage: bangerctl vm ssh NAME [-l USER] [-i IDENTITY] [-- COMMAND ...]"

daemon_stop
daemon_start
expect_eq "vmssh: the --ssh-key file is kept across a daemon restart" \
    "$(ctl vm show --json v1 | jq -r .ssh_key)" "$T/key/id.pub"

ctl vm rm -f v1 >/dev/null
expect_eq "vmssh: nothing is left in TMPDIR" "$(ls -A "$T/tmp")" ""
t_done

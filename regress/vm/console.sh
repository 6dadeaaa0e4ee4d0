# bangerctl vm logs and vm console, end to end through bangerd with the
# idle Firecracker stand-in (whose console answers each line with
# "echo: LINE"): what the log keeps, following it, typing into the
# console, one writer at a time, who may, and the console surviving a
# restart of the vm worker.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "console" "needs root to start bangerd"
	t_done
fi

BGPIDS=()
cleanup() {
	local p
	exec 3>&- 2>/dev/null
	for p in "${BGPIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	daemon_cleanup
}
daemon_setup
trap cleanup EXIT
vm_env
printf '%s\n' "$VM_CONF" >>"$CONF"
if ! daemon_start; then
	fail "console: daemon starts" "$(tail -5 "$DLOG")"
	t_done
fi
ctlgid=$(getent group banger | cut -d: -f3)
user() { setpriv --reuid=65534 --regid=65534 --groups="$ctlgid" \
    "$UBANGERCTL" -s "$SOCK" "$@"; }

# bad NAME WANT-REGEX CMD...: exits 1 and says why.
bad() { fails_saying console "$@" </dev/null; }

ctl vm create web --start >/dev/null
id=$(vm_id web)
logs_has() { ctl vm logs web | grep -q -- "$1"; }

# vm logs
if wait_for 10 logs_has "fc-standin login:"; then
	pass "console: vm logs shows the guest's boot banner"
else
	fail "console: vm logs shows the guest's boot banner" \
	    "$(ctl vm logs web 2>&1 | tail -3)"
fi
out=$(ctl vm logs web)
expect_match "console: the log starts with banger's line for the boot" \
    "$(printf '%s\n' "$out" | head -1)" \
    "^\[banger\] [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z vm web starting \(firecracker pid [0-9]+\)$"
expect_match "console: then the guest's kernel" \
    "$(printf '%s\n' "$out" | sed -n 2p)" "Linux version 6.1.0-fc-standin"
expect_eq "console: vm logs prints the log file as it is" \
    "$(ctl vm logs web | md5sum)" "$(md5sum <"$STATE/vms/$id/console.log")"
bad "vm logs of an unknown VM" "^bangerctl: no VM named nosuch$" \
    ctl vm logs nosuch
bad "vm logs of another user's VM" "^bangerctl: no VM named web$" \
    user vm logs web
bad "vm logs -f of another user's VM" "^bangerctl: no VM named web$" \
    user vm logs -f web
bad "vm logs with a bad name" "invalid VM name \"Bad_Name\"" \
    ctl vm logs Bad_Name
bad "vm console of an unknown VM" "^bangerctl: no VM named nosuch$" \
    ctl vm console nosuch
bad "vm console of another user's VM" "^bangerctl: no VM named web$" \
    user vm console web

# vm logs -f: the history once, then what comes later.
"$BANGERCTL" -s "$SOCK" vm logs -f web >"$T/follow.out" 2>"$T/follow.err" &
FPID=$!
BGPIDS+=("$FPID")
wait_for 5 grep -q "fc-standin login:" "$T/follow.out"

# vm console, input piped: the answer comes back, then EOF detaches.
out=$(printf 'hello\r' | ctl vm console web 2>"$T/c.err"); rc=$?
expect_eq "console: vm console with piped input exits 0 at EOF" "$rc" 0
expect_match "console: typed input reaches the guest and its answer comes back" \
    "$out" "echo: hello"
expect_eq "console: the banner on attach, the word on detach (stderr)" \
    "$(cat "$T/c.err")" "Connected to web's console; ~. to detach
Detached from web's console"
if wait_for 5 grep -q "echo: hello" "$T/follow.out"; then
	pass "console: vm logs -f sees output that comes later"
else
	fail "console: vm logs -f sees output that comes later" \
	    "$(tail -c 200 "$T/follow.out")"
fi
expect_eq "console: vm logs -f gives the history once" \
    "$(grep -c "fc-standin login:" "$T/follow.out")" 1
expect_match "console: the console's output is kept in the log" \
    "$(ctl vm logs web)" "echo: hello"

# ~. at the start of a line detaches; what follows is not sent.
out=$(printf 'one\r~.\rtwo\r' | ctl vm console web 2>/dev/null); rc=$?
expect_eq "console: ~. detaches with status 0" "$rc" 0
expect_match "console: what came before ~. was sent" "$out" "echo: one"
case $out in
*"echo: two"*)	fail "console: nothing after ~. is sent" "$out" ;;
*)		pass "console: nothing after ~. is sent" ;;
esac
out=$(printf 'a~.b\r~~x\r' | ctl vm console web 2>/dev/null)
expect_match "console: ~. inside a line is sent as it is" "$out" \
    "echo: a~\.b"
expect_match "console: ~~ at the start of a line sends one ~" "$out" \
    "echo: ~x"

# One writer at a time: a second attach is refused, naming the holder.
mkfifo "$T/in"
"$BANGERCTL" -s "$SOCK" vm console web <"$T/in" >"$T/hold.out" \
    2>"$T/hold.err" &
HPID=$!
BGPIDS+=("$HPID")
exec 3>"$T/in"
wait_for 5 grep -q Connected "$T/hold.err"
bad "a second vm console while one is attached" \
    "^bangerctl: vm web: its console is in use by uid 0 \(pid $HPID\); one client at a time" \
    ctl vm console web
printf 'from the holder\r' >&3
if wait_for 5 grep -q "echo: from the holder" "$T/hold.out"; then
	pass "console: the attached client still types after a refusal"
else
	fail "console: the attached client still types after a refusal" \
	    "$(cat "$T/hold.out")"
fi
exec 3>&-
wait "$HPID"
expect_eq "console: the holder detaches at EOF" "$?" 0
out=$(printf 'again\r' | ctl vm console web 2>&1)
expect_match "console: once it detached, another may attach" "$out" \
    "echo: again"

# A terminal: raw while attached, restored after, ~. detaches at once.
if command -v script >/dev/null; then
	{ sleep 1; printf 'tty line\r'; sleep 1; printf '~.'; } |
	    script -qfec "$BANGERCTL -s $SOCK vm console web" /dev/null \
	    >"$T/tty.out" 2>&1
	expect_eq "console: on a terminal, ~. detaches with status 0" "$?" 0
	expect_match "console: on a terminal, typed lines reach the guest" \
	    "$(cat "$T/tty.out")" "echo: tty line"
	expect_match "console: on a terminal, it says it detached" \
	    "$(cat "$T/tty.out")" "Detached from web's console"
	# Raw while attached; restored by a bangerctl killed while raw.
	cat >"$T/tty.sh" <<EOF
stty -g >$T/tty.before
$BANGERCTL -s $SOCK vm console web </dev/tty >/dev/null 2>&1 &
p=\$!
sleep 1
stty -a >$T/tty.raw
kill -TERM \$p
wait \$p
stty -g >$T/tty.after
EOF
	sleep 4 | script -qfec "sh $T/tty.sh" /dev/null >/dev/null 2>&1
	expect_match "console: the terminal is raw while attached" \
	    "$(cat "$T/tty.raw" 2>/dev/null)" "-icanon.*-echo |-echo .*-icanon"
	if [ -s "$T/tty.before" ] &&
	    [ "$(cat "$T/tty.before")" = "$(cat "$T/tty.after" 2>/dev/null)" ]; then
		pass "console: the terminal is restored when bangerctl is killed"
	else
		fail "console: the terminal is restored when bangerctl is killed" \
		    "before $(cat "$T/tty.before" 2>/dev/null), after $(cat "$T/tty.after" 2>/dev/null)"
	fi
else
	skip "console: terminal mode" "script(1) is not installed"
fi

# The console survives a restart of the vm worker: the parent hands the
# pty over again.
vpid=$(worker_pid vm)
new_vm_worker() {
	local p
	p=$(worker_pid vm)
	[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$vpid" ]
}
kill -KILL "$vpid"
wait_for 15 new_vm_worker && wait_for 10 daemon_workers_running
out=$(printf 'after restart\r' | ctl vm console web 2>&1)
expect_match "console: the console works after the vm worker restarted" \
    "$out" "echo: after restart"
if wait_for 5 logs_has "echo: after restart"; then
	pass "console: the log keeps growing after the vm worker restarted"
else
	fail "console: the log keeps growing after the vm worker restarted" \
	    "$(ctl vm logs web | tail -3)"
fi
expect_match "console: the log says the console was reconnected" \
    "$(ctl vm logs web)" "vm web console reconnected after the vm worker restarted"
# The worker's end went with it; a new follower sees the history once.
"$BANGERCTL" -s "$SOCK" vm logs -f web >"$T/follow.out" 2>"$T/follow.err" &
FPID=$!
BGPIDS+=("$FPID")
wait_for 5 grep -q "echo: after restart" "$T/follow.out"

# The VM stops: an attached console ends, says why, and exits 0.
out=$(printf 'poweroff\r' | ctl vm console web 2>"$T/c.err"); rc=$?
expect_eq "console: when the VM stops, vm console exits 0" "$rc" 0
expect_match "console: ...and says why" "$(cat "$T/c.err")" \
    "^vm web stopped: the guest shut down$"
bad "vm console of a stopped VM" \
    "^bangerctl: vm web is not running \(stopped\): start it first; \"bangerctl vm logs web\" shows what its console said$" \
    ctl vm console web
expect_match "console: the log says the VM stopped, and why" \
    "$(ctl vm logs web | tail -1)" \
    "^\[banger\] .* vm web stopped: the guest shut down$"
kill -0 "$FPID" 2>/dev/null
expect_eq "console: vm logs -f follows on while the VM is stopped" "$?" 0

# Kept across boots: a line of ours per boot, the guest's banner again.
ctl vm start web >/dev/null
banners() { [ "$(grep -c 'fc-standin login:' "${2:-/dev/stdin}")" = "$1" ]; }
logs_banners() { ctl vm logs web | banners "$1"; }
if wait_for 10 logs_banners 2; then
	pass "console: the log is kept across boots"
else
	fail "console: the log is kept across boots" \
	    "$(ctl vm logs web | grep -c 'fc-standin login:') banners"
fi
expect_eq "console: one starting line per boot" \
    "$(ctl vm logs web | grep -c '^\[banger\] .* vm web starting')" 2
if wait_for 5 banners 2 "$T/follow.out"; then
	pass "console: vm logs -f sees the next boot"
else
	fail "console: vm logs -f sees the next boot" \
	    "$(tail -c 300 "$T/follow.out")"
fi

# Past 1 MiB the log becomes console.log.0 and a new one starts (each
# line typed comes back twice: 136 bytes).
yes 'a line of console output to fill the log, sixty-three bytes long' |
    head -n 11000 | tr '\n' '\r' | ctl vm console web >/dev/null 2>&1
s0=$(stat -c %s "$STATE/vms/$id/console.log.0" 2>/dev/null || echo 0)
s1=$(stat -c %s "$STATE/vms/$id/console.log" 2>/dev/null || echo 0)
if [ "$s0" -ge 1048576 ] && [ "$s0" -lt $((1048576 + 4096 + 256)) ] &&
    [ "$s1" -gt 0 ] && [ "$s1" -lt 1048576 ]; then
	pass "console: past 1 MiB the log is rotated to console.log.0"
else
	fail "console: past 1 MiB the log is rotated to console.log.0" \
	    "console.log.0 $s0 bytes, console.log $s1 bytes"
fi
expect_eq "console: vm logs prints console.log.0 then console.log" \
    "$(ctl vm logs web | md5sum)" \
    "$(cat "$STATE/vms/$id/console.log.0" "$STATE/vms/$id/console.log" | md5sum)"
expect_eq "console: no typed line was lost on the way (vm logs)" \
    "$(ctl vm logs web | grep -c '^echo: a line of console output')" 11000
expect_eq "console: no typed line was lost on the way (vm logs -f)" \
    "$(grep -c '^echo: a line of console output' "$T/follow.out")" 11000

# Removed: vm logs -f ends, says so, and exits 0; nothing is left.
ctl vm rm -f web >/dev/null
wait "$FPID"
expect_eq "console: vm logs -f exits 0 when the VM is removed" "$?" 0
expect_eq "console: ...and says so" "$(cat "$T/follow.err")" \
    "vm web was removed"
expect_eq "console: the removed VM's logs are gone" \
    "$(ls "$STATE/vms/$id" 2>&1 | grep -c console)" 0

t_done

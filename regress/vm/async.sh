# One VM's slow VMM holds up no other: with the idle stand-in answering
# every API request of one VM 3 s late (fc_standin.api_delay_ms in its
# boot args), other VMs start, stop, pause, resume and are listed while
# it is still starting; a slow start can be killed or removed mid-way,
# and a slow stop or pause ends as it would have.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "async" "needs root to start bangerd"
	t_done
fi

daemon_setup
trap daemon_cleanup EXIT
vm_daemon_start async "image \"slow\" {
	kernel \"$T/img/vmlinux\"
	rootfs \"$T/img/rootfs.ext4\"
	boot-args \"console=ttyS0 reboot=k panic=1 fc_standin.api_delay_ms=3000\"
}"

state() { ctl vm show --json "$1" | jq -r .state; }
# The slow VM is starting and its VMM is up (the API requests are next).
slow_vmm_up() {
	[ "$(ctl vm show --json slow | jq -r '"\(.state) \(.pid > 0)"')" = \
	    "starting true" ]
}

ctl vm create slow --image slow >/dev/null
ctl vm create fast >/dev/null
ctl vm create other >/dev/null
ctl vm start other >/dev/null

# The slow VM's start: its nine requests take at least 27 s.
ctl vm start slow >"$T/slow.out" 2>&1 &
sp=$!
wait_for 30 slow_vmm_up
expect_eq "async: the slow VM is starting" "$(state slow)" "starting"
# ... its boot's requests one at a time, on its kept-alive connection:
# another VM's request is in flight (a lone start sends its
# configuration at once, vm.sh).
fid=$(vm_id fast)
if command -v strace >/dev/null 2>&1; then
	strace -qq -e trace=connect -p "$(worker_pid vm)" -o "$T/fast.trace" &
	st=$!
	wait_for 10 sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$(worker_pid vm)/status"
fi
out=$(ctl vm start fast 2>&1)
expect_match "async: another VM starts meanwhile" "$out" "^vm fast started$"
if [ -n "${st:-}" ]; then
	kill "$st"; wait "$st" 2>/dev/null; st=
	expect_eq "async: ... its requests one at a time, on one connection" \
	    "$(grep -c "/$fid/root/run/firecracker\.socket" "$T/fast.trace")" 1
fi
expect_eq "async: ...while the slow one is still starting" \
    "$(state slow)" "starting"
expect_match "async: another VM pauses meanwhile" \
    "$(ctl vm pause other 2>&1)" "^vm other paused$"
expect_match "async: ...and resumes" \
    "$(ctl vm resume other 2>&1)" "^vm other resumed$"
expect_match "async: another VM stops meanwhile" \
    "$(ctl vm stop fast 2>&1)" "^vm fast stopped$"
expect_eq "async: vm ls answers meanwhile, with all three" \
    "$(ctl vm ls --json | jq -r '.[].name' | sort | tr '\n' ' ')" \
    "fast other slow "
expect_eq "async: ...and the slow VM is still starting" \
    "$(state slow)" "starting"

# Killed mid-start: its request in flight is dropped, the start fails.
expect_match "async: a VM can be killed while its VMM is slow to answer" \
    "$(ctl vm kill slow 2>&1)" "^vm slow stopped$"
wait $sp
expect_match "async: the slow start's client is told it was cut short" \
    "$(cat "$T/slow.out")" "vm slow: the start was cut short by vm kill"
expect_match "async: the killed VM is not running" "$(state slow)" \
    "^(stopped|error)$"
expect_eq "async: no firecracker of the killed VM is left" \
    "$(ctl vm show --json slow | jq -r .pid)" "0"

# Removed mid-start, with rm -f.
ctl vm start slow >"$T/slow.out" 2>&1 &
sp=$!
wait_for 30 slow_vmm_up
expect_match "async: rm -f removes a VM while its VMM is slow to answer" \
    "$(ctl vm rm -f slow 2>&1)" "^vm slow removed$"
wait $sp
expect_match "async: ...and its start's client is told so" \
    "$(cat "$T/slow.out")" "vm slow: the start was cut short by vm rm -f"
expect_eq "async: the removed VM is gone" \
    "$(ctl vm ls --json | jq -r '.[].name' | sort | tr '\n' ' ')" \
    "fast other "

# The other VMs still answer and go.
expect_match "async: the other VM stops" "$(ctl vm stop other 2>&1)" \
    "^vm other stopped$"
ctl vm rm fast >/dev/null
ctl vm rm other >/dev/null
expect_eq "async: nothing of any VM is left" "$(host_traces)" ""
t_done

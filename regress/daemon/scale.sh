# Many VMs at once (SCALE_VMS, 1000 by default; make scale N=4000 for
# the long form), with the idle stand-in: all are created and started,
# every descriptor limit holds, and bangerd restarted (stopped, or
# SIGKILLed) and its vm worker killed adopt every one of them again,
# the same processes; then they all go and nothing is left.  The times
# are printed; bench/ holds the figures to compare.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "scale" "needs root to start bangerd"
	t_done
fi
N=${SCALE_VMS:-1000}
J=${SCALE_JOBS:-4}
ptymax=$(cat /proc/sys/kernel/pty/max)
if [ "$N" -gt $((ptymax - 64)) ]; then
	skip "scale" "$N VMs need as many ptys; kernel.pty.max is $ptymax"
	t_done
fi

# Root may raise its own limit where it has CAP_SYS_RESOURCE.
ulimit -n 65536 2>/dev/null

# A /20 holds 4093 VMs; larger runs take a /16.
prefix=20
[ "$N" -gt 4000 ] && prefix=16
daemon_setup "bridge \"br-fc\" {
	address 10.79.0.1/$prefix
}
max-vms $((N + 16))"
trap daemon_cleanup EXIT
vm_env
# A small image: each VM's copy of it is its metadata only.
truncate -s 8M "$T/img/small.ext4"
mkfs.ext4 -q -F "$T/img/small.ext4"
chmod 0644 "$T/img/small.ext4"
printf '%s\n' "$VM_CONF" | sed "s,$T/img/rootfs.ext4,$T/img/small.ext4," \
    >>"$CONF"
if ! daemon_start; then
	fail "scale: daemon starts" "$(tail -5 "$DLOG")"
	t_done
fi

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# on_all ERRFILE ARGS...: bangerctl ARGS for each VM s0 to s(N-1) ("@"
# in ARGS is its number), by J clients at once; errors to ERRFILE.
on_all() {
	local err=$1 pids= j
	shift
	for j in $(seq 0 $((J - 1))); do
		(
			i=$j
			while [ "$i" -lt "$N" ]; do
				ctl "${@//@/$i}" >/dev/null 2>>"$T/$err"
				i=$((i + J))
			done
		) &
		pids="$pids $!"
	done
	wait $pids
}

# JOBS clients, each creating and starting its share.
t0=$(now_ms)
on_all create.err vm create s@ --start
t1=$(now_ms)
echo "scale: $N VMs created and started in $(((t1 - t0) / 1000)) s by $J clients"
js=$(ctl vm ls --json)
expect_eq "scale: all $N are running" \
    "$(echo "$js" | jq '[.[] | select(.state == "running")] | length')" "$N"
[ -s "$T/create.err" ] && fail "scale: no create failed" \
    "$(sort "$T/create.err" | uniq -c | sort -rn | head -3 | tr '\n' ' ')"
before=$(echo "$js" | jq -r '.[] | "\(.name) \(.pid)"' | sort)
expect_eq "scale: one firecracker each" "$(our_firecrackers | wc -l)" "$N"

# The vm worker's descriptors, against its limit.
vmw=$(worker_pid vm)
fds=$(ls "/proc/$vmw/fd" | wc -l)
lim=$(awk '/Max open files/ {print $4}' "/proc/$vmw/limits")
echo "scale: the vm worker holds $fds descriptors of $lim"
# 256, the clients' 512 and an OCI import's 128 layout files, and 6 per
# VM of max-vms, or what bangerd was started with if less.
want=$((896 + 6 * (N + 16)))
hard=$(ulimit -Hn)
[ "$hard" != unlimited ] && [ "$want" -gt "$hard" ] && want=$hard
expect_eq "scale: the vm worker's limit follows max-vms" "$lim" "$want"
check "scale: its descriptors fit in it" test "$fds" -lt "$lim"

# adopted LABEL: every VM running again, with the same process.
adopted() {
	local js
	js=$(ctl vm ls --json 2>/dev/null) || return 1
	[ "$(echo "$js" | jq -r '.[] | "\(.name) \(.pid)"' | sort)" = \
	    "$before" ] &&
	    [ "$(echo "$js" | jq '[.[] | select(.state == "running")] |
	    length')" = "$N" ]
}
restart_case() {
	local what=$1 t0 t1
	t0=$(now_ms)
	if ! daemon_start; then
		fail "scale: $what: daemon starts" "$(tail -5 "$DLOG")"
		t_done
	fi
	if wait_for 120 adopted; then
		t1=$(now_ms)
		pass "scale: $what: all $N VMs adopted, the same processes"
		echo "scale: $what: $N VMs adopted $((t1 - t0)) ms after start"
	else
		fail "scale: $what: all $N VMs adopted" \
		    "$(ctl vm ls --json | jq -r '.[] | .state' | sort |
		    uniq -c | tr '\n' ' ')"
	fi
}

daemon_stop
restart_case "a restart"
daemon_kill
restart_case "a restart after SIGKILL"

t0=$(now_ms)
kill -KILL "$(worker_pid vm)"
if wait_for 60 adopted; then
	t1=$(now_ms)
	pass "scale: a vm worker killed: all $N VMs adopted again"
	echo "scale: the vm worker reconciled $N VMs in $((t1 - t0)) ms"
else
	fail "scale: a vm worker killed: all $N VMs adopted again" \
	    "$(tail -3 "$DLOG")"
fi

t0=$(now_ms)
on_all rm.err vm rm -f s@
t1=$(now_ms)
echo "scale: $N VMs removed in $(((t1 - t0) / 1000)) s"
[ -s "$T/rm.err" ] && fail "scale: no removal failed" \
    "$(sort "$T/rm.err" | uniq -c | sort -rn | head -3 | tr '\n' ' ')"
expect_eq "scale: nothing of any VM is left" "$(host_traces)" ""
t_done

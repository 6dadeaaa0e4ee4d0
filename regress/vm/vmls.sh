# vm ls, vm ls --json and vm show with more VMs than one answer of the
# daemon holds: every VM listed once, in the same order in the table and
# in --json, --json byte for byte what vm show --json prints of each,
# owners named (the password database read once an owner, not once a
# VM), the listing packed on the socket; and VMs found by name and id
# after removals, re-creations and a restart.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "vmls" "needs root to start bangerd"
	t_done
fi

daemon_setup
trap daemon_cleanup EXIT
vm_daemon_start vmls

N=70		# more than one IMSG_CTL_VM_INFO holds, packed

# A member of group banger with no VM, who sees none.
other() { setpriv --reuid=65533 --regid=65533 --groups="$ctlgid" \
    "$UBANGERCTL" -s "$SOCK" "$@"; }

HEADER=$(printf '%-20s %-9s %-8s %-12s %4s %10s %10s %s' NAME STATE ID \
    IMAGE CPUS MEMORY DISK OWNER)
expect_eq "vmls: with no VM, the table is its header" "$(ctl vm ls)" \
    "$HEADER"
expect_eq "vmls: with no VM, --json is an empty array" "$(ctl vm ls --json)" \
    "[]"

ssh-keygen -q -t ed25519 -N '' -C tester@host -f "$T/key"
pids=
for c in 0 1 2 3; do
	( i=$c; while [ "$i" -lt "$N" ]; do
		ctl vm create "$(printf 'v%02d' "$i")" >/dev/null ||
		    echo "v$i: create failed" >&2
		i=$((i + 4))
	done ) &
	pids="$pids $!"
done
wait $pids
ctl vm create pub --publish 8080:80 --publish 5353:53/udp \
    --ssh-key "$T/key.pub" --start >/dev/null
ctl vm start v05 >/dev/null
user vm create mine >/dev/null
N=$((N + 2))

js=$(ctl vm ls --json)
names=$(echo "$js" | jq -r '.[].name')
expect_eq "vmls: --json lists every VM once" \
    "$(echo "$names" | sort | tr '\n' ' ')" \
    "mine pub $(seq -f 'v%02g' 0 69 | tr '\n' ' ')"
table=$(ctl vm ls)
expect_eq "vmls: the table has its header, then a row a VM" \
    "$(echo "$table" | head -1)|$(echo "$table" | wc -l)" "$HEADER|$((N + 1))"
expect_eq "vmls: the table lists them in --json's order" \
    "$(echo "$table" | tail -n +2 | awk '{print $1}')" "$names"

# What vm show --json prints of each, a level deeper, as one array.
want="["
sep=
for n in $names; do
	want="$want$sep
$(ctl vm show --json "$n" | sed 's/^/  /')"
	sep=","
done
want="$want
]"
if [ "$js" = "$want" ]; then
	pass "vmls: --json is vm show --json of each VM, byte for byte"
else
	fail "vmls: --json is vm show --json of each VM, byte for byte" \
	    "$(diff <(echo "$want") <(echo "$js") | head -5 | tr '\n' ' ')"
fi
expect_eq "vmls: a running VM's Firecracker fields are listed" \
    "$(echo "$js" | jq -r '.[] | select(.name == "pub") |
    "\(.state) \(.pid > 0) \(.vmm_state) \(.publish | join(","))"')" \
    "running true Running 8080:80/tcp,5353:53/udp"

nobody=$(getent passwd 65534 | cut -d: -f1)
expect_eq "vmls: the owner column names each VM's owner" \
    "$(echo "$table" | awk 'NR > 1 { print $1, $NF }' |
    awk '$1 == "mine" || $1 == "v00" || $1 == "pub"' | sort | tr '\n' ' ')" \
    "mine $nobody pub root v00 root "
expect_eq "vmls: another user sees only theirs" \
    "$(user vm ls | tail -n +2 | awk '{print $1}')" "mine"
expect_eq "vmls: a user with no VM sees the header only" "$(other vm ls)" \
    "$HEADER"
expect_eq "vmls: ... and an empty array" "$(other vm ls --json)" "[]"

if command -v strace >/dev/null; then
	strace -f -qq -e trace=open,openat -o "$T/open" \
	    "$BANGERCTL" -s "$SOCK" vm ls >/dev/null
	n=$(grep -c '/etc/passwd' "$T/open")
	if [ "$n" -ge 1 ] && [ "$n" -le 2 ]; then
		pass "vmls: the password database is read once an owner"
	else
		fail "vmls: the password database is read once an owner" \
		    "read $n times for 2 owners and $N VMs"
	fi
	strace -qq -e trace=recvmsg -o "$T/recv" \
	    "$BANGERCTL" -s "$SOCK" vm ls --json >/dev/null
	bytes=$(awk -F'= ' '{ s += $NF } END { print s + 0 }' "$T/recv")
	if [ "$bytes" -gt 0 ] && [ "$bytes" -lt $((N * 600)) ]; then
		pass "vmls: the listing comes packed (under 600 bytes a VM)"
	else
		fail "vmls: the listing comes packed (under 600 bytes a VM)" \
		    "$bytes bytes for $N VMs"
	fi
else
	skip "vmls: the password database is read once an owner" \
	    "needs strace"
	skip "vmls: the listing comes packed (under 600 bytes a VM)" \
	    "needs strace"
fi

# Found by name and by id after removals and re-creations.
old=$(vm_id v03)
ctl vm rm v03 >/dev/null
ctl vm rm v07 >/dev/null
ctl vm create v03 >/dev/null
new=$(vm_id v03)
expect_eq "vmls: a re-created VM is found by name, with its new id" \
    "$([ -n "$new" ] && [ "$new" != "$old" ] && echo yes)" "yes"
expect_match "vmls: a removed VM is not found" "$(ctl vm show v07 2>&1)" \
    "no VM named v07"
showall() {
	local n bad=
	for n in $(ctl vm ls --json | jq -r '.[].name'); do
		[ "$(ctl vm show --json "$n" | jq -r .name)" = "$n" ] ||
		    bad="$bad $n"
	done
	echo "${bad:-none}"
}
expect_eq "vmls: vm show finds every VM by its name" "$(showall)" "none"
expect_eq "vmls: ... and a VM's operation finds it by id" \
    "$(ctl vm stop v05)" "vm v05 stopped"

before=$(ctl vm ls --json | jq -r '.[].name' | sort)
daemon_stop
daemon_start
expect_eq "vmls: after a restart the same VMs are listed" \
    "$(ctl vm ls --json | jq -r '.[].name' | sort)" "$before"
expect_eq "vmls: ... vm show finds every VM by its name" "$(showall)" "none"
expect_eq "vmls: ... and the adopted VM stops by id" "$(ctl vm stop pub)" \
    "vm pub stopped"

user vm rm mine >/dev/null
ctl vm prune >/dev/null
expect_eq "vmls: no VM is left" "$(ctl vm ls --json)" "[]"
expect_eq "vmls: nothing of any VM is left on the host" "$(host_traces)" ""

t_done

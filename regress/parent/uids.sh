# Each VM's own uid: the lowest of vm-uids no VM holds, whatever order
# VMs come and go in, across a restart of bangerd, and after a reload
# that moves the range under VMs that keep their uids.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "uids" "needs root to start bangerd"
	t_done
fi

daemon_setup "vm-uids 300000 to 300009"
trap daemon_cleanup EXIT
vm_daemon_start uids

# uidof NAME: the VM's own uid, as vm show --json gives it.
uidof() { ctl vm show --json "$1" | jq -r .uid; }
# uids NAME...: theirs, in that order, space-separated.
uids() {
	local n out=
	for n in "$@"; do
		out="$out $(uidof "$n")"
	done
	echo $out
}
mk() { ctl vm create "$1" >/dev/null || fail "uids: create $1" "refused"; }

for n in a b c d; do mk $n; done
expect_eq "uids: one after another, from the first" "$(uids a b c d)" \
    "300000 300001 300002 300003"
ctl vm rm b >/dev/null
ctl vm rm a >/dev/null
mk e
mk f
mk g
expect_eq "uids: the lowest free first, then past the others" \
    "$(uids e f g)" "300000 300001 300004"
ctl vm rm c >/dev/null
daemon_stop
if ! daemon_start; then
	fail "uids: daemon starts again" "$(tail -5 "$DLOG")"
	t_done
fi
mk h
mk i
expect_eq "uids: after a restart, from its records" "$(uids h i)" \
    "300002 300005"

# The range moves: VMs keep their uids, new ones come from the new range
# and skip those held in it.
sed -i 's/^vm-uids .*/vm-uids 300003 to 300012/' "$CONF"
expect_match "uids: the reload takes the new range" "$(ctl reload)" \
    "configuration reloaded"
mk j
mk k
expect_eq "uids: after a reload, the new range's lowest free" \
    "$(uids j k)" "300006 300007"
expect_eq "uids: the others keep theirs" "$(uids d e f g h i)" \
    "300003 300000 300001 300004 300002 300005"
ctl vm rm d >/dev/null
mk l
expect_eq "uids: one freed in the new range is taken again" \
    "$(uidof l)" 300003
for n in e f g h i j k l; do ctl vm rm "$n" >/dev/null; done
expect_eq "uids: nothing of any VM is left" "$(host_traces)" ""
t_done

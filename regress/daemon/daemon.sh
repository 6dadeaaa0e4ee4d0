# bangerd's process model as a user sees it: workers sandboxed, the
# control socket guarded, status, log, reload, restarts and shutdown.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "daemon" "needs root to start bangerd"
	t_done
fi

daemon_setup
trap daemon_cleanup EXIT
if ! daemon_start; then
	fail "daemon: starts with three running workers" "$(tail -5 "$DLOG")"
	t_done
fi
pass "daemon: starts with three running workers"

# The net worker asked for the bridge; the parent made it, in our namespace.
wait_for 5 in_ns ip link show br-fc
expect_eq "daemon: the bridge has its configured address" \
    "$(in_ns ip -j addr show br-fc | jq -r '.[0].addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)"')" \
    "172.16.0.1/24"
expect_eq "daemon: the bridge is marked as banger's" \
    "$(in_ns ip -j -d link show br-fc | jq -r '.[0].ifalias')" "banger"
expect_match "daemon: the bridge is up" \
    "$(in_ns ip -j link show br-fc | jq -r '.[0].flags | join(",")')" "UP"
expect_match "daemon: network setup is logged" "$(cat "$DLOG")" \
    "network: bridge br-fc up"

uid=$(id -u _banger)
gid=$(id -g _banger)
ctlgid=$(getent group banger | cut -d: -f3)

for role in vm net; do
	worker_sandbox_check daemon "$role"
done
# The update worker runs only while an update is asked for: this bangerd
# (the placeholder key, no update url) never starts it.
# regress/update/update_daemon.sh checks its sandbox, started.
expect_eq "daemon: the update worker is idle, not started" \
    "$(ctl status --json | jq -r '.workers[] | select(.role == "update") | "\(.state) \(.pid)"')" "idle 0"

# The control socket.
expect_eq "daemon: control socket is mode 0660 root:banger" \
    "$(stat -c '%a %U %G' "$SOCK")" "660 root banger"

out=$(ctl status)
expect_match "daemon: status shows the version and pid" "$out" \
    "^bangerd [0-9.]+, pid $DPID, up "
for role in vm net; do
	expect_match "daemon: status shows the $role worker running" "$out" \
	    "^$role +$(worker_pid $role) +$uid +running "
done
expect_match "daemon: status shows the update worker idle" "$out" \
    "^update +0 +$uid +idle +0 +- "
expect_match "daemon: status shows the bridge" "$out" \
    "bridge +br-fc 172\.16\.0\.1/24, NAT egress none"
expect_match "daemon: status shows the storage backend" "$out" \
    "storage +(dm|reflink|copy)"
js=$(ctl status --json)
expect_eq "daemon: status --json is JSON with the state dir" \
    "$(printf '%s' "$js" | jq -r .state_dir)" "$STATE"

# A user outside the group: refused by the socket's mode ...
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$UBANGERCTL" -s "$SOCK" status 2>&1); rc=$?
expect_eq "daemon: non-member is refused (exit 1)" "$rc" 1
expect_match "daemon: non-member is told why" "$out" \
    "permission denied: you must be root or in group banger"
# ... and by the daemon itself, even where the mode would let it in.
chmod 0666 "$SOCK"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$UBANGERCTL" -s "$SOCK" status 2>&1); rc=$?
chmod 0660 "$SOCK"
expect_eq "daemon: non-member refused by peer credentials (exit 1)" "$rc" 1
expect_match "daemon: refusal names the uid and group" "$out" \
    "permission denied: uid 65534 is neither root nor in group banger"
expect_match "daemon: refusal is logged" "$(cat "$DLOG")" \
    "refused uid 65534"

# A member of the group (as a supplementary group) may read status ...
out=$(setpriv --reuid=65534 --regid=65534 --groups="$ctlgid" \
    "$UBANGERCTL" -s "$SOCK" status 2>&1); rc=$?
expect_eq "daemon: group member may run status" "$rc" 0
expect_match "daemon: group member sees the workers" "$out" "net +[0-9]+"
# ... but not reload the configuration.
out=$(setpriv --reuid=65534 --regid=65534 --groups="$ctlgid" \
    "$UBANGERCTL" -s "$SOCK" reload 2>&1); rc=$?
expect_eq "daemon: group member may not reload (exit 1)" "$rc" 1
expect_match "daemon: group member told reload is root's" "$out" \
    "only root may reload"

# log verbose | brief
expect_eq "daemon: log verbose" "$(ctl log verbose)" "logging verbose"
expect_eq "daemon: status shows verbose logging" \
    "$(ctl status --json | jq -r .logging)" "verbose"
expect_eq "daemon: log brief" "$(ctl log brief)" "logging brief"
out=$(ctl log loud 2>&1); rc=$?
expect_eq "daemon: log with a bad level fails" "$rc" 1
expect_match "daemon: log names the bad level" "$out" \
    '"loud" is not a level; use verbose or brief'

# reload: a good file takes effect, a bad one changes nothing.
echo 'domain "test.internal"' >>"$CONF"
expect_match "daemon: reload reports success" "$(ctl reload)" \
    "configuration reloaded"
expect_eq "daemon: reload applied the new domain" \
    "$(ctl status --json | jq -r .dns_domain)" "test.internal"
echo 'bridge "eth0" { address 10.0.0.1/24 }' >>"$CONF"
out=$(ctl reload 2>&1); rc=$?
expect_eq "daemon: reload of a bad file fails (exit 1)" "$rc" 1
expect_match "daemon: reload failure names file and line" "$out" \
    "reload failed, configuration unchanged: $CONF:5: "
expect_eq "daemon: bad reload left the configuration alone" \
    "$(ctl status --json | jq -r .dns_domain)" "test.internal"
sed -i '$d' "$CONF"
sed -i 's/test.internal/hup.internal/' "$CONF"
kill -HUP "$DPID"
wait_for 5 sh -c "[ \"\$($BANGERCTL -s $SOCK status --json | jq -r .dns_domain)\" = hup.internal ]"
expect_eq "daemon: SIGHUP reloads the configuration" \
    "$(ctl status --json | jq -r .dns_domain)" "hup.internal"

# A worker killed with SIGKILL comes back; the parent stays.
for role in vm net; do
	old=$(worker_pid $role)
	kill -KILL "$old"
	if wait_for 10 sh -c "p=\$($BANGERCTL -s $SOCK status --json 2>/dev/null | jq -r '.workers[] | select(.role == \"$role\" and .state == \"running\") | .pid'); [ -n \"\$p\" ] && [ \"\$p\" != $old ]"; then
		pass "daemon: killed $role worker is restarted"
	else
		fail "daemon: killed $role worker is restarted" \
		    "$(tail -3 "$DLOG")"
	fi
	expect_eq "daemon: parent survives the $role worker's death" \
	    "$(ctl status --json | jq .pid)" "$DPID"
done
expect_eq "daemon: status counts the vm worker's restart" \
    "$(ctl status --json | jq '.workers[] | select(.role=="vm") | .restarts')" 1
expect_match "daemon: the death is logged with its signal" "$(cat "$DLOG")" \
    "vm worker \(pid [0-9]+\) killed by signal 9"

# Not running: one clear line, exit 1.
out=$("$BANGERCTL" -s "$T/none.sock" status 2>&1); rc=$?
expect_eq "daemon: bangerctl without a daemon exits 1" "$rc" 1
expect_eq "daemon: bangerctl without a daemon says so" "$out" \
    "bangerctl: bangerd is not running (no daemon on $T/none.sock)"

# A second daemon on the same socket is refused.
out=$("$BANGERD" -d -f "$CONF" 2>&1); rc=$?
expect_eq "daemon: a second bangerd refuses to start" "$rc" 1
expect_match "daemon: the second bangerd says why" "$out" \
    "bangerd is already running"

# SIGTERM: clean shutdown, nothing left.
pids="$DPID $(worker_pid vm) $(worker_pid net)"
kill -TERM "$DPID"
wait "$DPID"; rc=$?
DPID=
expect_eq "daemon: SIGTERM ends bangerd with status 0" "$rc" 0
left=
for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
expect_eq "daemon: no process is left after shutdown" "$left" ""
if [ -e "$SOCK" ]; then
	fail "daemon: socket removed at shutdown" "$SOCK still exists"
else
	pass "daemon: socket removed at shutdown"
fi

t_done

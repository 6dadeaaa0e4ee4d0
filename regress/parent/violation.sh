# A compromised worker: malformed messages on a worker's channel get
# that worker killed (and logged) and restarted; the parent lives on.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "violation" "needs root to start bangerd and take a worker's fd"
	t_done
fi
INJECT=$HELPERS/imsg-inject

daemon_setup
trap daemon_cleanup EXIT
if ! daemon_start; then
	fail "violation: daemon starts" "$(tail -5 "$DLOG")"
	t_done
fi

# inject ROLE CASE LOG-REGEX: {type} in LOG-REGEX is the number of the
# type imsg-inject sent.
inject() {
	local role=$1 what=$2 want=$3 old new sent
	old=$(worker_pid "$role")
	if ! sent=$("$INJECT" "$old" 3 "$what"); then
		fail "violation: $role: $what" "imsg-inject failed"
		return
	fi
	want=${want//\{type\}/${sent#* }}
	if ! wait_for 10 sh -c "! kill -0 $old 2>/dev/null"; then
		fail "violation: $role worker killed after $what" \
		    "pid $old still alive"
		return
	fi
	pass "violation: $role worker killed after $what"
	expect_match "violation: $role: $what is logged" "$(cat "$DLOG")" \
	    "$role worker \(pid $old\): protocol violation: $want"
	if wait_for 10 daemon_workers_running; then
		new=$(worker_pid "$role")
		if [ "$new" != "$old" ]; then
			pass "violation: $role worker restarted after $what"
		else
			fail "violation: $role worker restarted after $what" \
			    "same pid $old"
		fi
	else
		fail "violation: $role worker restarted after $what" \
		    "$(tail -3 "$DLOG")"
	fi
	if kill -0 "$DPID" 2>/dev/null; then
		pass "violation: parent alive after $role: $what"
	else
		fail "violation: parent alive after $role: $what" "parent died"
	fi
}

inject vm short "message type {type} of 4 bytes, expected 28"
inject vm unterminated "unterminated command name"
inject vm oversized "malformed message"
inject net unknown-type "unexpected message type 9999"
inject net under-header "malformed message"
# The update worker's: regress/update/update_daemon.sh, whose bangerd
# can start it.
inject vm bad-verbose "verbosity 7"

# After all that, the control socket still works through the new vm worker.
expect_match "violation: status works after the restarts" "$(ctl status)" \
    "vm +[0-9]+ +[0-9]+ +running"

t_done

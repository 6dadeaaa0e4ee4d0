# What the parent does with each signal it can be sent (bangerd(8),
# SIGNALS): it acts on the few that mean something to it, logs every
# other one as ignored and carries on, and ends only with a line that
# says why.  A worker ends of a stray signal; the parent logs that and
# starts it again.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "signals" "needs root to start bangerd"
	t_done
fi

daemon_setup
trap daemon_cleanup EXIT

start() {
	if ! daemon_start; then
		fail "signals: daemon starts" "$(tail -5 "$DLOG")"
		t_done
	fi
}

# The parent answers status with its own pid: still the same process.
same_parent() {
	kill -0 "$DPID" 2>/dev/null &&
	    [ "$(ctl status --json 2>/dev/null | jq .pid)" = "$DPID" ]
}

logged() { grep -qF -- "$1" "$DLOG"; }

# restarted ROLE OLDPID: the role's worker runs again, as another process.
restarted() {
	local p
	p=$(ctl status --json 2>/dev/null | jq -r ".workers[] |
	    select(.role == \"$1\" and .state == \"running\") | .pid")
	[ -n "$p" ] && [ "$p" != "$2" ]
}

# ignored SIGNAL NAME: logged as ignored; the parent carries on.
ignored() {
	kill -s "$1" "$DPID"
	if wait_for 5 logged "received $2, ignored"; then
		pass "signals: $2 is logged as ignored"
	else
		fail "signals: $2 is logged as ignored" \
		    "$(tail -3 "$DLOG" | tr '\n' ' ')"
	fi
	if same_parent; then
		pass "signals: the parent carries on after $2"
	else
		fail "signals: the parent carries on after $2" \
		    "$(tail -3 "$DLOG" | tr '\n' ' ')"
		start
	fi
}

start
vmpid=$(worker_pid vm)

for s in USR1 USR2 ALRM VTALRM PROF IO PWR STKFLT XFSZ; do
	ignored "$s" "SIG$s"
done

# Every real-time signal, named as kill -l names them.
rtmin=$(kill -l RTMIN)
rtmax=$(kill -l RTMAX)
for n in $(seq "$rtmin" "$rtmax"); do
	if [ "$n" = "$rtmin" ]; then s=RTMIN
	elif [ "$n" = "$rtmax" ]; then s=RTMAX
	elif [ $((n - rtmin)) -le $(((rtmax - rtmin) / 2)) ]; then
		s=RTMIN+$((n - rtmin))
	else
		s=RTMAX-$((rtmax - n))
	fi
	ignored "$s" "SIG$s"
done

# Ignored by their nature, or reaped for nothing: no line, no change.
for s in PIPE CHLD CONT URG WINCH; do
	kill -s "$s" "$DPID"
	sleep 0.2
	if same_parent; then
		pass "signals: SIG$s changes nothing"
	else
		fail "signals: SIG$s changes nothing" \
		    "$(tail -3 "$DLOG" | tr '\n' ' ')"
		start
	fi
done
expect_eq "signals: the vm worker lived through them all" \
    "$(worker_pid vm)" "$vmpid"

# SIGHUP reloads.
kill -s HUP "$DPID"
if wait_for 5 logged "configuration reloaded from $CONF"; then
	pass "signals: SIGHUP reloads the configuration"
else
	fail "signals: SIGHUP reloads the configuration" \
	    "$(tail -3 "$DLOG" | tr '\n' ' ')"
fi
expect_match "signals: SIGHUP is logged" "$(cat "$DLOG")" \
    "received SIGHUP, reloading $CONF"
check "signals: the parent carries on after SIGHUP" same_parent

# A worker ends of a stray signal; the parent says so and restarts it.
# (The update worker runs only for an update, which this bangerd, with
# the placeholder key, never starts: regress/update/update_daemon.sh.)
for role in vm net; do
	old=$(worker_pid "$role")
	kill -s USR1 "$old"
	if wait_for 10 restarted "$role" "$old"; then
		pass "signals: a $role worker ended by SIGUSR1 is restarted"
	else
		fail "signals: a $role worker ended by SIGUSR1 is restarted" \
		    "$(tail -3 "$DLOG" | tr '\n' ' ')"
	fi
	expect_match "signals: the $role worker's end is logged" \
	    "$(cat "$DLOG")" \
	    "$role worker \(pid $old\) killed by signal $(kill -l USR1) "
	check "signals: the parent carries on after its $role worker's end" \
	    same_parent
done

# The ones that end it: a line that says so, a clean shutdown, status 0.
for s in TERM INT QUIT XCPU; do
	pid=$DPID
	kill -s "$s" "$DPID"
	wait "$DPID"; rc=$?
	DPID=
	expect_eq "signals: SIG$s ends bangerd with status 0" "$rc" 0
	expect_match "signals: SIG$s is logged" "$(cat "$DLOG")" \
	    "received SIG$s, shutting down"
	expect_match "signals: SIG$s shuts down cleanly" "$(cat "$DLOG")" \
	    "bangerd stopped"
	if [ -e "$SOCK" ]; then
		fail "signals: SIG$s removes the socket" "$SOCK still exists"
	else
		pass "signals: SIG$s removes the socket"
	fi
	[ "$s" != XCPU ] && start
done

t_done

# Start and stop a bangerd on a private state directory and socket, for
# root tests.  Source after lib.sh.  Sets: T (temp dir), CONF, SOCK,
# STATE, DLOG (daemon's stderr), DPID.

: "${BANGERD:?BANGERD must name the bangerd binary}"
: "${BANGERCTL:?BANGERCTL must name the bangerctl binary}"

# Sanitizer builds: no leak check in the sandboxed workers (LeakSanitizer
# needs ptrace, which seccomp forbids).
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0"

# bangerd makes its bridge when it starts: it always runs in a network
# namespace of the test's own ($NS), never in the host's.
daemon_setup() {
	T=$(mktemp -d /tmp/banger-regress.XXXXXX)
	chmod 0755 "$T"
	NS=banger-rt-$$-$RANDOM
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	STATE=$T/state
	SOCK=$T/run/bangerd.sock
	CONF=$T/bangerd.conf
	DLOG=$T/bangerd.log
	cat >"$CONF" <<EOC
state-dir "$STATE"
socket "$SOCK"
${1:-}
EOC
}

# Run a command in the test's network namespace.
in_ns() { ip netns exec "$NS" "$@"; }

daemon_start() {
	ip netns exec "$NS" "$BANGERD" -d -f "$CONF" "$@" >"$DLOG" 2>&1 &
	DPID=$!
	wait_for 10 daemon_workers_running
}

ctl() { "$BANGERCTL" -s "$SOCK" "$@"; }

# All three workers report running.
daemon_workers_running() {
	[ "$(ctl status --json 2>/dev/null |
	    jq '[.workers[] | select(.state == "running" and .pid > 0)] | length')" = 3 ]
}

worker_pid() {
	ctl status --json | jq -r ".workers[] | select(.role == \"$1\") | .pid"
}

daemon_stop() {
	if [ -n "${DPID:-}" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID"
		wait "$DPID" 2>/dev/null
	fi
	DPID=
}

daemon_cleanup() {
	daemon_stop
	[ -n "${NS:-}" ] && ip netns delete "$NS" 2>/dev/null
	[ -n "${T:-}" ] && rm -rf "$T"
}

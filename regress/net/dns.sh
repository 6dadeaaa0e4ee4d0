#!/bin/bash
# dns.sh: the net worker's DNS responder (bangerd/net/dns*.c), run on its own
# by regress/helpers/dns-drive under the seccomp allow-list the worker
# will have, and asked by a real client (drill) and by dns-drive's own
# clients.
#
# Root only.  Three network namespaces made here and deleted at the end
# (banger-dt-PID-srv, -cli, -up), joined by veth pairs created inside
# them: the responder on 172.16.0.1 in srv, clients on 172.16.0.2 in
# cli, a stand-in upstream resolver on 10.53.0.2 in up.  The host's
# interfaces are never touched and no packet leaves the namespaces.
#
# Binary: $HELPERS/dns-drive, or, with HELPERS unset, built here with
# cc.  DNS_KEEP=1 keeps the temporary directory.

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/regress/lib/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip dns "needs root"
	t_done
fi
for c in ip drill; do
	if ! command -v "$c" >/dev/null; then
		skip dns "$c is not installed"
		t_done
	fi
done

T=$(mktemp -d /tmp/banger-dns.XXXXXX) || exit 1
NS_S=banger-dt-$$-srv
NS_C=banger-dt-$$-cli
NS_U=banger-dt-$$-up
SRV=172.16.0.1
UP=10.53.0.2
DOMAIN=vm.internal
CORPUS=$TOP/regress/fuzz/corpus/dns
SPID=
SPID2=
UPID=
IPID=

# Sanitizer builds: no leak check under seccomp (LeakSanitizer needs
# ptrace).
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0"

stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

del_netns() {
	local ns
	for ns in "$NS_S" "$NS_C" "$NS_U"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
	done
}

cleanup() {
	stop_pid "$IPID"
	stop_pid "$SPID"
	stop_pid "$SPID2"
	stop_pid "$UPID"
	del_netns
	if [ -n "$DNS_KEEP" ]; then
		echo "dns: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# --- the binary -------------------------------------------------------

if [ -n "$HELPERS" ]; then
	DRIVE=$HELPERS/dns-drive
else
	# Run by hand: the helper built as make check builds it.
	DRIVE=$TOP/obj/regress/helpers/dns-drive
	if ! make -s -C "$TOP" "obj/regress/helpers/dns-drive" \
	    >"$T/cc.log" 2>&1; then
		fail "dns: build dns-drive" "$(tr '\n' ' ' <"$T/cc.log" | cut -c1-300)"
		t_done
	fi
fi
if [ ! -x "$DRIVE" ]; then
	fail "dns: binary" "$DRIVE is not built"
	t_done
fi

# --- the namespaces ---------------------------------------------------

S() { ip netns exec "$NS_S" "$@"; }
C() { ip netns exec "$NS_C" "$@"; }
U() { ip netns exec "$NS_U" "$@"; }

for ns in "$NS_S" "$NS_C" "$NS_U"; do
	if ! ip netns add "$ns" || ! ip netns exec "$ns" ip link set lo up
	then
		fail "dns: namespaces" "cannot make namespace $ns"
		t_done
	fi
done
if ! { ip -n "$NS_S" link add dt-c0 type veth peer name dt-c1 \
	netns "$NS_C" &&
    ip -n "$NS_S" link add dt-u0 type veth peer name dt-u1 \
	netns "$NS_U" &&
    S ip addr add $SRV/24 dev dt-c0 && S ip link set dt-c0 up &&
    S ip addr add 10.53.0.1/24 dev dt-u0 && S ip link set dt-u0 up &&
    C ip addr add 172.16.0.2/24 dev dt-c1 && C ip link set dt-c1 up &&
    C ip addr add 172.16.0.3/24 dev dt-c1 &&
    C ip addr add 172.16.0.4/24 dev dt-c1 &&
    U ip addr add $UP/24 dev dt-u1 && U ip link set dt-u1 up; }; then
	fail "dns: namespaces" "cannot link the namespaces"
	t_done
fi
pass "dns: namespaces and veth links made"

# --- start ------------------------------------------------------------

cat >"$T/resolv.conf" <<EOF
# the host's resolvers, as the worker reads them before chroot
search example.net
nameserver $UP
options edns0
EOF

# Started without the S/C/U wrappers, so that $! is dns-drive itself.
ip netns exec "$NS_U" "$DRIVE" upstream -l $UP >"$T/up.log" 2>&1 &
UPID=$!
ip netns exec "$NS_S" "$DRIVE" serve -S -l $SRV -d $DOMAIN -b $SRV/24 \
    -r "$T/resolv.conf" -n web=172.16.0.2 -n db=172.16.0.3 -g 100 \
    >"$T/serve.log" 2>&1 &
SPID=$!
if wait_for 10 grep -q '^ready' "$T/serve.log" &&
    wait_for 10 grep -q '^ready' "$T/up.log"; then
	pass "dns: responder and stand-in upstream start"
else
	fail "dns: responder and stand-in upstream start" \
	    "$(cat "$T/serve.log" "$T/up.log" | tr '\n' ' ' | cut -c1-300)"
	t_done
fi
expect_eq "dns: one upstream from resolv.conf" \
    "$(head -1 "$T/serve.log")" "ready upstreams=1"

# An idle TCP connection, watched while the rest runs.
ip netns exec "$NS_C" "$DRIVE" idle -s $SRV -w 25 >"$T/idle.log" 2>&1 &
IPID=$!

# stats: the responder's counters (SIGUSR1 prints them).
NSTATS=0
stats() {
	NSTATS=$((NSTATS + 1))
	kill -USR1 "$SPID"
	wait_for 5 sh -c "[ \$(grep -c '^stats ' '$T/serve.log') -ge $NSTATS ]"
	grep '^stats ' "$T/serve.log" | tail -1
}
# stat LINE NAME: one counter's value.
stat() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

q() { C "$DRIVE" query -s $SRV "$@" 2>&1; }
W='[[:space:]]+'		# between the fields of drill's records
d() { C drill "$@" 2>&1; }

# --- answers from the table, with drill ---------------------------------

out=$(d @$SRV web.$DOMAIN A)
expect_match "dns: A for NAME.DOMAIN" "$out" \
    "web\.vm\.internal\.${W}30${W}IN${W}A${W}172\.16\.0\.2"
expect_match "dns: A is authoritative" "$out" "flags: qr aa rd"
out=$(d @$SRV WEB.Vm.Internal A)
expect_match "dns: names are case-blind, the question echoed" "$out" \
    "WEB\.Vm\.Internal\.${W}30${W}IN${W}A${W}172\.16\.0\.2"
out=$(d @$SRV vm42.$DOMAIN A)
expect_match "dns: A for a generated name" "$out" \
    "vm42\.vm\.internal\.${W}30${W}IN${W}A${W}172\.16\.0\.52"

out=$(d @$SRV web.$DOMAIN AAAA)
expect_match "dns: AAAA is NOERROR" "$out" "rcode: NOERROR"
expect_match "dns: AAAA has no data" "$out" "ANSWER: 0,"
expect_match "dns: AAAA carries the SOA" "$out" \
    "vm\.internal\.${W}5${W}IN${W}SOA"

out=$(d @$SRV nosuch.$DOMAIN A)
expect_match "dns: unknown name is NXDOMAIN" "$out" "rcode: NXDOMAIN"
expect_match "dns: NXDOMAIN carries the SOA (negative TTL 5)" "$out" \
    "vm\.internal\.${W}5${W}IN${W}SOA${W}vm\.internal\. \
hostmaster\.vm\.internal\. [0-9]+ 3600 600 86400 5"
out=$(d @$SRV a.web.$DOMAIN A)
expect_match "dns: below a VM name is NXDOMAIN" "$out" "rcode: NXDOMAIN"

# The zones' name server is DOMAIN itself, at the bridge's address: the
# SOA's MNAME, the NS at both apexes, its A and its PTR all agree.
out=$(d @$SRV $DOMAIN A)
expect_match "dns: apex A is the bridge's address" "$out" \
    "^vm\.internal\.${W}30${W}IN${W}A${W}172\.16\.0\.1$"
expect_match "dns: apex A is authoritative" "$out" "flags: qr aa rd"
out=$(d @$SRV $DOMAIN SOA)
expect_match "dns: apex SOA, MNAME the name server" "$out" \
    "^vm\.internal\.${W}5${W}IN${W}SOA${W}vm\.internal\. hostmaster\."
out=$(d @$SRV $DOMAIN NS)
expect_match "dns: apex NS names the responder" "$out" \
    "^vm\.internal\.${W}30${W}IN${W}NS${W}vm\.internal\.$"
expect_match "dns: apex NS is authoritative" "$out" "flags: qr aa rd"
expect_match "dns: apex NS comes with the name server's address" \
    "$(printf '%s\n' "$out" | sed -n '/ADDITIONAL SECTION/,$p')" \
    "^vm\.internal\.${W}30${W}IN${W}A${W}172\.16\.0\.1$"
out=$(d @$SRV $DOMAIN ANY)
expect_match "dns: apex ANY: SOA, NS and A" "$out" "ANSWER: 3,"
out=$(d @$SRV 0.16.172.in-addr.arpa NS)
expect_match "dns: reverse apex NS names the responder" "$out" \
    "^0\.16\.172\.in-addr\.arpa\.${W}30${W}IN${W}NS${W}vm\.internal\.$"
expect_match "dns: reverse apex NS is authoritative" "$out" "flags: qr aa rd"
out=$(d @$SRV 0.16.172.in-addr.arpa SOA)
expect_match "dns: reverse apex SOA, MNAME the name server" "$out" \
    "^0\.16\.172\.in-addr\.arpa\.${W}5${W}IN${W}SOA${W}vm\.internal\. "
out=$(d @$SRV -x 172.16.0.1)
expect_match "dns: the bridge's address is the name server's" "$out" \
    "1\.0\.16\.172\.in-addr\.arpa\.${W}30${W}IN${W}PTR${W}vm\.internal\.$"

out=$(d @$SRV -x 172.16.0.2)
expect_match "dns: PTR for a VM's address" "$out" \
    "2\.0\.16\.172\.in-addr\.arpa\.${W}30${W}IN${W}PTR${W}web\.vm\.internal\."
out=$(d @$SRV 12.0.16.172.in-addr.arpa PTR)
expect_match "dns: PTR for a generated name" "$out" \
    "PTR${W}vm2\.vm\.internal\."
out=$(d @$SRV -x 172.16.0.250)
expect_match "dns: PTR for a free address is NXDOMAIN" "$out" \
    "rcode: NXDOMAIN"
expect_match "dns: reverse NXDOMAIN carries the reverse SOA" "$out" \
    "0\.16\.172\.in-addr\.arpa\.${W}5${W}IN${W}SOA"

# --- a /29: its reverse apex is the octet block that holds it -------------

# A second responder, on port 5353, for the bridge 172.16.0.1/29, with
# short TCP limits: 1.5 s idle, 1 s for a whole query, 4 connections
# from one address.
ip netns exec "$NS_S" "$DRIVE" serve -S -l $SRV:5353 -d $DOMAIN \
    -b $SRV/29 -r "$T/resolv.conf" -n web=172.16.0.2 -I 1500 -M 1000 -P 4 \
    >"$T/serve2.log" 2>&1 &
SPID2=$!
if wait_for 10 grep -q '^ready' "$T/serve2.log"; then
	pass "dns: a responder for a /29 starts"
else
	fail "dns: a responder for a /29 starts" \
	    "$(tr '\n' ' ' <"$T/serve2.log" | cut -c1-300)"
fi
out=$(d -p 5353 @$SRV -x 172.16.0.5)
expect_match "dns: /29: a free address is NXDOMAIN" "$out" "rcode: NXDOMAIN"
expect_match "dns: /29: ... with the SOA of 0.16.172.in-addr.arpa" "$out" \
    "^0\.16\.172\.in-addr\.arpa\.${W}5${W}IN${W}SOA"
out=$(d -p 5353 @$SRV 0.16.172.in-addr.arpa SOA)
expect_match "dns: /29: that SOA is answered, not forwarded" "$out" \
    "flags: qr aa rd"
expect_match "dns: /29: ... and is the same SOA" "$out" \
    "^0\.16\.172\.in-addr\.arpa\.${W}5${W}IN${W}SOA${W}vm\.internal\. "
out=$(d -p 5353 @$SRV 0.16.172.in-addr.arpa NS)
expect_match "dns: /29: the reverse apex NS names the responder" "$out" \
    "^0\.16\.172\.in-addr\.arpa\.${W}30${W}IN${W}NS${W}vm\.internal\.$"
out=$(d -p 5353 @$SRV -x 172.16.0.9)
expect_match "dns: /29: an address outside it is forwarded" "$out" \
    "flags: qr rd ra ;"

# --- forwarding ---------------------------------------------------------

direct=$(S drill @$UP www.example.com A 2>&1 | grep -E '^www\.example\.com\.')
out=$(d @$SRV www.example.com A)
expect_match "dns: outside the domain: upstream's answer" "$out" \
    "www\.example\.com\.${W}60${W}IN${W}A${W}198\.18\."
expect_eq "dns: forwarded answer is the upstream's own" \
    "$(printf '%s\n' "$out" | grep -E '^www\.example\.com\.')" "$direct"
expect_match "dns: forwarded answer is not authoritative" "$out" \
    "flags: qr rd ra ;"
out=$(q -i 4242 www.example.com A)
expect_match "dns: forwarded answer has the client's own id" "$out" \
    "^rcode=NOERROR flags=qr,rd,ra, an=1"
out=$(d @$SRV nxthing.example.com A)
expect_match "dns: upstream NXDOMAIN relayed" "$out" "rcode: NXDOMAIN"
out=$(d @$SRV -x 172.17.0.9)
expect_match "dns: reverse outside the subnet forwarded" "$out" \
    "rcode: NOERROR"
t0=$(date +%s)
out=$(q drop.example.com A)
t1=$(date +%s)
expect_match "dns: silent upstream gives SERVFAIL" "$out" "^rcode=SERVFAIL"
if [ $((t1 - t0)) -ge 1 ] && [ $((t1 - t0)) -le 4 ]; then
	pass "dns: SERVFAIL after the upstream timeout"
else
	fail "dns: SERVFAIL after the upstream timeout" "took $((t1 - t0)) s"
fi

# --- TCP ------------------------------------------------------------------

out=$(d -t @$SRV web.$DOMAIN A)
expect_match "dns: A over TCP" "$out" \
    "web\.vm\.internal\.${W}30${W}IN${W}A${W}172\.16\.0\.2"
# upstream_tcp: how many TCP queries the stand-in upstream has had.
upstream_tcp() {
	local n
	n=$(grep -c '^upstream' "$T/up.log")
	kill -USR1 "$UPID"
	wait_for 5 sh -c "[ \$(grep -c '^upstream' '$T/up.log') -gt $n ]"
	grep '^upstream' "$T/up.log" | tail -1 | sed 's/.*tcp=//'
}
U_TCP0=$(upstream_tcp)
out=$(d -t @$SRV tcp1.example.com A)
expect_match "dns: forwarded over TCP" "$out" \
    "tcp1\.example\.com\.${W}60${W}IN${W}A${W}198\.18\."
U_TCP1=$(upstream_tcp)
expect_eq "dns: a TCP query goes upstream over TCP" \
    "$((U_TCP1 - U_TCP0))" "1"
out=$(q -t -c 50 web.$DOMAIN A)
expect_eq "dns: 50 queries pipelined on one TCP connection" "$out" \
    "pipelined sent=50 answered=50"
out=$(q -t -c 20 pipe.example.com A)
expect_eq "dns: 20 forwarded queries pipelined on one connection" "$out" \
    "pipelined sent=20 answered=20"

# --- TCP limits (the second responder) --------------------------------------

# 64 connections from one address, each sending a whole query every
# 300 ms (so never idle), for 8 s: only 4 stay; a query from another
# address is answered meanwhile.  Alongside, from a third address, a
# query dripped a byte every 100 ms, and empty messages dripped so.
C "$DRIVE" hold -s $SRV:5353 -n 64 -i 300 -w 8 >"$T/hold.log" 2>&1 &
HPID1=$!
C "$DRIVE" hold -s $SRV:5353 -B 172.16.0.4 -n 1 -b -i 100 -w 6 \
    >"$T/drip.log" 2>&1 &
HPID2=$!
C "$DRIVE" hold -s $SRV:5353 -B 172.16.0.4 -n 1 -b -z -i 100 -w 6 \
    >"$T/dripz.log" 2>&1 &
HPID3=$!
sleep 1
out=$(C "$DRIVE" query -s $SRV:5353 -B 172.16.0.3 -t web.$DOMAIN A 2>&1)
expect_match "dns: TCP: one address cannot keep another out" "$out" \
    "^rcode=NOERROR flags=qr,aa,rd,ra, an=1"
wait "$HPID1" "$HPID2" "$HPID3"
out=$(cat "$T/hold.log")
expect_match "dns: TCP: 4 connections per address, the other 60 closed" \
    "$out" "^hold open=4 closed=60 "
expect_match "dns: TCP: ... and the 4 had their answers" "$out" \
    "answered=[1-9][0-9]* "
out=$(cat "$T/drip.log")
if [[ $out =~ ^hold\ open=0\ closed=1\ .*first_close_ms=([0-9]+) ]] &&
    [ "${BASH_REMATCH[1]}" -ge 800 ] && [ "${BASH_REMATCH[1]}" -le 2500 ]
then
	pass "dns: TCP: a query dripped a byte at a time is cut off at 1 s"
else
	fail "dns: TCP: a query dripped a byte at a time is cut off at 1 s" \
	    "$out"
fi
out=$(cat "$T/dripz.log")
if [[ $out =~ ^hold\ open=0\ closed=1\ .*first_close_ms=([0-9]+) ]] &&
    [ "${BASH_REMATCH[1]}" -ge 800 ] && [ "${BASH_REMATCH[1]}" -le 2500 ]
then
	pass "dns: TCP: empty messages dripped do not restart the clock"
else
	fail "dns: TCP: empty messages dripped do not restart the clock" \
	    "$out"
fi
kill -USR1 "$SPID2"
wait_for 5 grep -q '^stats ' "$T/serve2.log"
out=$(grep '^stats ' "$T/serve2.log" | tail -1)
expect_match "dns: TCP: the refused and cut-off connections are counted" \
    "$out" "tcp_refused=60 tcp_timeout=2$"

# --- truncation and the fallback to TCP ----------------------------------

out=$(q big.example.com A)
expect_match "dns: large answer over UDP (512) truncated" "$out" \
    "^rcode=NOERROR flags=qr,tc,rd,ra, an=0"
out=$(q -e 1232 big.example.com A)
expect_match "dns: large answer over UDP (EDNS 1232) truncated" "$out" \
    "^rcode=NOERROR flags=qr,tc,rd,ra, an=0 ns=0 "
out=$(d @$SRV big.example.com A)
expect_match "dns: drill sees TC over UDP" "$out" "flags: qr tc rd ra"
out=$(q -t big.example.com A)
expect_match "dns: the same answer whole over TCP" "$out" \
    "^rcode=NOERROR flags=qr,rd,ra, an=100"
out=$(d -t @$SRV big.example.com A)
expect_eq "dns: drill gets all 100 records over TCP" "$(printf '%s\n' "$out" |
    grep -cE "^big\.example\.com\.${W}60${W}IN${W}A")" "100"

# --- errors: RA and the OPT record as in every answer ------------------------

# qf FILE: the corpus file FILE as a query over UDP.
qf() { q -f "$CORPUS/$1"; }
out=$(qf seed-edns.bin)
expect_match "dns: an EDNS answer has RA and an OPT" "$out" \
    "^rcode=NOERROR flags=qr,aa,rd,ra, an=1 .* opt=1232$"
out=$(qf malformed-qdcount-0-edns.bin)
expect_match "dns: FORMERR (no question) keeps RA and the OPT" "$out" \
    "^rcode=FORMERR flags=qr,rd,ra, an=0 ns=0 ar=0 .* opt=1232$"
out=$(qf malformed-qdcount-0.bin)
expect_match "dns: FORMERR without EDNS has RA and no OPT" "$out" \
    "^rcode=FORMERR flags=qr,rd,ra, .* opt=none$"
out=$(qf malformed-opcode-notify-edns.bin)
expect_match "dns: NOTIMP keeps RA and the OPT" "$out" \
    "^rcode=NOTIMPL flags=qr,ra, an=0 ns=0 ar=0 .* opt=1232$"
out=$(qf malformed-opcode-notify.bin)
expect_match "dns: NOTIMP without EDNS has RA and no OPT" "$out" \
    "^rcode=NOTIMPL flags=qr,ra, .* opt=none$"
# RFC 6891 6.1.1 and 7: FORMERR, with an OPT in the answer.
for f in opt-two opt-owner opt-option-len opt-option-short; do
	out=$(qf malformed-$f.bin)
	expect_match "dns: FORMERR with an OPT for $f" "$out" \
	    "^rcode=FORMERR flags=qr,rd,ra, an=0 ns=0 ar=0 .* opt=1232$"
done
out=$(q -t -f "$CORPUS/malformed-opt-two.bin")
expect_match "dns: FORMERR with an OPT for opt-two over TCP" "$out" \
    "^rcode=FORMERR flags=qr,rd,ra, an=0 ns=0 ar=0 .* opt=1232$"

# --- a burst ---------------------------------------------------------------

before=$(stats)
out=$(C "$DRIVE" burst -s $SRV -d $DOMAIN -b $SRV/24 -n 10000 -g 100 \
    -w 32 -f 4 2>&1)
rc=$?
after=$(stats)
expect_match "dns: burst of 10000, every answer right, none lost" "$out" \
    "^burst sent=10000 ok=10000 wrong=0 lost=0 "
expect_eq "dns: burst client exits 0" "$rc" "0"
echo "# $out"
sent=$(( $(stat "$after" queries) - $(stat "$before" queries) ))
if [ "$sent" -ge 10000 ]; then
	pass "dns: responder saw the whole burst"
else
	fail "dns: responder saw the whole burst" "$sent queries"
fi
expect_eq "dns: burst forwarded a quarter" \
    "$(( $(stat "$after" relayed) - $(stat "$before" relayed) ))" "2500"
expect_eq "dns: nothing dropped in the burst" \
    "$(( $(stat "$after" dropped) - $(stat "$before" dropped) ))" "0"

# --- the malformed corpus --------------------------------------------------

before=$(stats)
n=$(ls "$CORPUS"/malformed-* | wc -l)
out=$(C "$DRIVE" send -s $SRV "$CORPUS"/malformed-* 2>&1)
expect_eq "dns: malformed corpus sent" "$out" "sent $n"
# The datagrams are in flight a moment: look again for up to 2 s.
for i in 1 2 3 4 5 6 7 8 9 10; do
	after=$(stats)
	[ "$(( $(stat "$after" malformed) - $(stat "$before" malformed) ))" \
	    -ge "$n" ] && break
	sleep 0.2
done
expect_eq "dns: malformed counter rose by the $n sent" \
    "$(( $(stat "$after" malformed) - $(stat "$before" malformed) ))" "$n"
if kill -0 "$SPID" 2>/dev/null; then
	pass "dns: responder alive after the malformed corpus"
else
	fail "dns: responder alive after the malformed corpus" \
	    "$(tail -3 "$T/serve.log" | tr '\n' ' ')"
fi
out=$(d @$SRV db.$DOMAIN A)
expect_match "dns: answers again after the malformed corpus" "$out" \
    "db\.vm\.internal\.${W}30${W}IN${W}A${W}172\.16\.0\.3"

# --- the end ------------------------------------------------------------------

wait "$IPID" 2>/dev/null
IPID=
out=$(cat "$T/idle.log")
if [[ $out =~ ^closed\ after\ ([0-9]+)\ s ]] &&
    [ "${BASH_REMATCH[1]}" -ge 9 ] && [ "${BASH_REMATCH[1]}" -le 12 ]; then
	pass "dns: an idle TCP connection is closed after 10 s"
else
	fail "dns: an idle TCP connection is closed after 10 s" "$out"
fi

kill -TERM "$SPID"
wait "$SPID"
rc=$?
SPID=
expect_eq "dns: responder exits 0 on SIGTERM, seccomp never tripped" \
    "$rc" "0"
expect_match "dns: final counters printed" "$(cat "$T/serve.log")" \
    "^final queries=[0-9]+ "
if grep -Eq 'Sanitizer|runtime error:' "$T/serve.log"; then
	fail "dns: no sanitizer report" "$(grep -E 'Sanitizer|runtime error' \
	    "$T/serve.log" | head -2 | tr '\n' ' ')"
else
	pass "dns: no sanitizer report"
fi
stop_pid "$UPID"
UPID=
del_netns
expect_eq "dns: no namespace left" \
    "$(ip netns list | grep -c "banger-dt-$$-")" "0"

t_done

# Shell helpers for regress tests.  Each check prints one line that
# regress/run.sh counts: "PASS name", "FAIL name: why", "SKIP name: why".
# A test script sources this file and ends with `t_done`.

T_FAILED=0

pass() { echo "PASS $*"; }
fail() { echo "FAIL $1: ${2:-failed}"; T_FAILED=1; }
skip() { echo "SKIP $1: $2"; }

# check NAME CMD...: PASS if CMD exits 0, FAIL (with its output) if not.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)"
	fi
}

# expect_eq NAME GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$2', want '$3'"
	fi
}

# expect_match NAME TEXT REGEX
expect_match() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then
		pass "$1"
	else
		fail "$1" "'$(printf '%s' "$2" | tr '\n' ' ' | cut -c1-300)' does not match /$3/"
	fi
}

# fails_saying PREFIX NAME WANT CMD...: CMD exits 1 ("PREFIX: NAME
# fails") and what it prints matches the regex WANT ("... says why").
fails_saying() {
	local prefix=$1 name=$2 want=$3 out rc
	shift 3
	out=$("$@" 2>&1); rc=$?
	expect_eq "$prefix: $name fails" "$rc" 1
	expect_match "$prefix: $name says why" "$out" "$want"
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds, for at
# most SECONDS of wall-clock time (however long each try takes).
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# mkvmlinux FILE: a kernel as Firecracker's loader wants one on x86_64,
# the smallest there is: an ELF64 file whose one PT_LOAD segment (4 KiB
# of hlt) and entry point are at 16 MiB.  Only the stand-in boots it.
mkvmlinux() {
	python3 - "$1" <<'EOF'
import struct, sys
base, text = 0x1000000, b"\xf4" * 4096
ehdr = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHIQQQIHHHHHH",
    2, 62, 1, base, 64, 0, 0, 64, 56, 1, 64, 0, 0)
phdr = struct.pack("<IIQQQQQQ", 1, 5, 4096, base, base, len(text),
    len(text), 4096)
with open(sys.argv[1], "wb") as f:
	f.write((ehdr + phdr).ljust(4096, b"\0") + text)
EOF
}

t_done() { exit $T_FAILED; }

# need_guest NAME: the test guest in $GUEST (scripts/build-guest.sh),
# built if missing or stale; where it cannot be, NAME is skipped (a
# prerequisite is missing: exit 2) or fails, and the test ends.
need_guest() {
	local log
	log=$(mktemp)
	"$TOP/scripts/build-guest.sh" "$GUEST" 2>"$log"
	case $? in
	0)	rm -f "$log"
		return 0 ;;
	2)	skip "$1" "scripts/build-guest.sh: $(tail -n 1 "$log")" ;;
	*)	fail "$1: the guest is built" "$(tail -n 3 "$log" | tr '\n' ' ')" ;;
	esac
	rm -f "$log"
	t_done
}
